//! The Deployment controller's arithmetic and bookkeeping, after
//! `pkg/controller/deployment/util/deployment_util.go` and `pkg/controller/controller_utils.go`:
//! fenceposts (maxSurge/maxUnavailable), the new ReplicaSet's next size, proportions for
//! proportional scaling, the revision and replica annotations, the pod-template-hash, the
//! Progressing/Available conditions and the complete/progressing/timed-out predicates.
//!
//! Everything here is a pure function of its arguments, so the `deployment.*` reference rows
//! test it directly.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::api::meta::{Condition, ConditionStatus, IntOrString, Time};
use crate::api::objects::PodTemplateSpec;
use crate::api::objects::workloads::{
    Deployment, DeploymentStatus, DeploymentStrategyType, ReplicaSet,
};
use crate::sim::{SimDuration, SimTime};

/// `deployment.kubernetes.io/revision`: the revision of a ReplicaSet (and of its Deployment).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet had before a rollback made it new again.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled by it.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas + maxSurge when the ReplicaSet was last scaled by it.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// apps/v1 `DefaultDeploymentUniqueLabelKey`.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// Upstream `maxRevHistoryLengthInChars`.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;
/// Annotations never copied from a Deployment to its ReplicaSets (upstream `annotationsToSkip`).
pub const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

/// Condition types and reasons (upstream `deployment_util.go`).
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub const NEW_RS_REASON: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
pub const RS_UPDATED_REASON: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
pub const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";
pub const PAUSED_REASON: &str = "DeploymentPaused";
pub const RESUMED_REASON: &str = "DeploymentResumed";

/// `spec.replicas` of a Deployment (1 when unset, as defaulting leaves it).
pub fn d_replicas(d: &Deployment) -> i32 {
    d.spec.replicas.unwrap_or(1)
}

/// `spec.replicas` of a ReplicaSet (1 when unset).
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

/// `spec.replicas + maxSurge`, the most replicas a rollout may have (saturating: bad input
/// never overflows).
pub fn max_replicas(d: &Deployment) -> i32 {
    d_replicas(d).saturating_add(max_surge(d))
}

/// A saturating sum of replica counts.
pub fn sum(values: impl IntoIterator<Item = i32>) -> i32 {
    values.into_iter().fold(0i32, i32::saturating_add)
}

fn is_rolling_update(d: &Deployment) -> bool {
    d.spec.strategy.type_ == DeploymentStrategyType::RollingUpdate
}

/// `ResolveFenceposts`: maxSurge rounded up and maxUnavailable rounded down against
/// `desired`; unset counts as 0; both 0 gives maxUnavailable 1.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let zero = IntOrString::Int(0);
    let surge = max_surge.unwrap_or(&zero).scaled_value(desired, true)?;
    let mut unavailable = max_unavailable
        .unwrap_or(&zero)
        .scaled_value(desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d.spec.strategy.rolling_update.as_ref();
    // Validation rejects values that do not resolve; treat them as 0 like upstream does.
    resolve_fenceposts(
        ru.and_then(|r| r.max_surge.as_ref()),
        ru.and_then(|r| r.max_unavailable.as_ref()),
        d_replicas(d),
    )
    .unwrap_or((0, 0))
}

/// `MaxUnavailable`: 0 unless RollingUpdate with replicas > 0; at most the replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || d_replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(d_replicas(d))
}

/// `MaxSurge`: 0 unless RollingUpdate.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// `NewRSNewReplicas`: the new ReplicaSet's next size. RollingUpdate: grow by what the
/// surge allows over the sum of `spec.replicas` of `all` (which should include `new_rs`),
/// never past the Deployment's replicas. Recreate: the Deployment's replicas.
pub fn new_rs_new_replicas(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: &ReplicaSet,
) -> Result<i32, String> {
    match d.spec.strategy.type_ {
        DeploymentStrategyType::RollingUpdate => {
            let surge = d
                .spec
                .strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.max_surge.as_ref())
                .map_or(Ok(0), |s| s.scaled_value(d_replicas(d), true))?;
            let current = sum(all.iter().map(|rs| rs_replicas(rs)));
            let max_total = d_replicas(d).saturating_add(surge);
            if current >= max_total {
                return Ok(rs_replicas(new_rs));
            }
            let up = (max_total - current).min(d_replicas(d).saturating_sub(rs_replicas(new_rs)));
            Ok(rs_replicas(new_rs).saturating_add(up))
        }
        DeploymentStrategyType::Recreate => Ok(d_replicas(d)),
    }
}

/// The revision of a ReplicaSet: its annotation, 0 when absent, `Err` when not a number.
pub fn revision(rs: &ReplicaSet) -> Result<i64, String> {
    match rs.metadata.annotations.get(REVISION_ANNOTATION) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| format!("invalid revision {v:?}")),
    }
}

/// `MaxRevision`: the highest parseable revision (0 for none).
pub fn max_revision<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    sets.into_iter()
        .filter_map(|rs| revision(rs).ok())
        .max()
        .unwrap_or(0)
        .max(0)
}

/// `ReplicaSetsByCreationTimestamp`: older first, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// `ReplicaSetsByRevision`: lower revision first; equal or unparseable revisions by creation.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match (revision(a), revision(b)) {
        (Ok(x), Ok(y)) if x != y => x.cmp(&y),
        _ => by_creation(a, b),
    }
}

/// `ReplicaSetsBySizeOlder`: larger first; equal sizes older first.
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// `ReplicaSetsBySizeNewer`: larger first; equal sizes newer first.
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// `EqualIgnoreHash`: the two templates are equal once the pod-template-hash label is
/// removed from both.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        t.metadata.labels.remove(POD_TEMPLATE_HASH_LABEL);
        t
    };
    strip(a) == strip(b)
}

/// The pod-template-hash of `template` (upstream `controller.ComputeHash`): FNV-32a of the
/// template, then the collision count's 4 bytes (little-endian, padded to 8 as upstream
/// writes them) when set, rendered in decimal and passed through `SafeEncodeString`.
///
/// Upstream hashes the template as printed by `go-spew` (`DeepHashObject`); kubesim hashes
/// its canonical JSON (maps are ordered), so the values differ from a real cluster's but are
/// just as deterministic and change with every template change.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h = Fnv32a::new();
    // Serialising a plain data struct cannot fail; an empty input still hashes.
    h.write(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(c) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(c as u32).to_le_bytes());
        h.write(&bytes);
    }
    safe_encode_string(&h.sum().to_string())
}

/// `rand.SafeEncodeString`: each byte mapped onto an alphabet without vowels or look-alikes.
pub fn safe_encode_string(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.chars()
        .map(|c| ALPHANUMS[(c as usize) % ALPHANUMS.len()] as char)
        .collect()
}

struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Fnv32a(0x811c_9dc5)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
    fn sum(&self) -> u32 {
        self.0
    }
}

/// `SetReplicasAnnotations`: true when either annotation changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = &mut rs.metadata.annotations;
    let mut changed = false;
    for (k, v) in [
        (DESIRED_REPLICAS_ANNOTATION, desired.to_string()),
        (MAX_REPLICAS_ANNOTATION, max.to_string()),
    ] {
        if a.get(k) != Some(&v) {
            a.insert(k.to_string(), v);
            changed = true;
        }
    }
    changed
}

/// `ReplicasAnnotationsNeedUpdate`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let a = &rs.metadata.annotations;
    a.get(DESIRED_REPLICAS_ANNOTATION) != Some(&desired.to_string())
        || a.get(MAX_REPLICAS_ANNOTATION) != Some(&max.to_string())
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.get(key)?.parse().ok()
}

/// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations (but the skipped ones),
/// raises the revision to `new_revision` (keeping the previous one in the revision history,
/// which is what a rollback looks like), and, for a ReplicaSet about to be created, sets the
/// replica annotations. True when anything changed.
pub fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_annotations(&d.metadata.annotations, &mut rs.metadata.annotations);
    let old = rs.metadata.annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision = match &old {
        None => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) if v.is_empty() => 0,
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        rs.metadata
            .annotations
            .insert(REVISION_ANNOTATION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = rs
                .metadata
                .annotations
                .get(REVISION_HISTORY_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            let next = if history.is_empty() {
                Some(old)
            } else {
                let parts: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REVISION_HISTORY_CHARS && start < parts.len() {
                    total -= parts[start].len() + 1;
                    start += 1;
                }
                (total <= MAX_REVISION_HISTORY_CHARS).then(|| {
                    let mut kept: Vec<&str> = parts[start..].to_vec();
                    kept.push(&old);
                    kept.join(",")
                })
            };
            if let Some(next) = next {
                rs.metadata
                    .annotations
                    .insert(REVISION_HISTORY_ANNOTATION.into(), next);
            }
        }
    }
    if !exists && set_replicas_annotations(rs, d_replicas(d), max_replicas(d)) {
        changed = true;
    }
    changed
}

/// `copyDeploymentAnnotationsToReplicaSet`.
fn copy_annotations(from: &BTreeMap<String, String>, to: &mut BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for (k, v) in from {
        if ANNOTATIONS_TO_SKIP.contains(&k.as_str()) || to.get(k) == Some(v) {
            continue;
        }
        to.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// `SetDeploymentRevision`: true when the Deployment's revision annotation changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    if d.metadata
        .annotations
        .get(REVISION_ANNOTATION)
        .map(String::as_str)
        == Some(revision)
    {
        return false;
    }
    d.metadata
        .annotations
        .insert(REVISION_ANNOTATION.into(), revision.to_string());
    true
}

/// `IsSaturated`: the new ReplicaSet has all the Deployment's replicas, available.
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(desired) = annotation_i32(rs, DESIRED_REPLICAS_ANNOTATION) else {
        return false;
    };
    rs_replicas(rs) == d_replicas(d)
        && desired == d_replicas(d)
        && rs.status.available_replicas == d_replicas(d)
}

/// `GetReplicaSetProportion`: how many replicas `rs` gains (or loses, negative) when the
/// Deployment has `to_add` replicas to distribute and `added` are already distributed.
pub fn replica_set_proportion(d: &Deployment, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(d, rs);
    let allowed = to_add.saturating_sub(added);
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`: `round(rs.spec × (replicas + maxSurge) / max-replicas
/// annotation) − rs.spec` (the annotation falling back to `status.replicas`; all of it when
/// scaling to 0).
fn replica_set_fraction(d: &Deployment, rs: &ReplicaSet) -> i32 {
    if d_replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let max_now = i64::from(d_replicas(d)) + i64::from(max_surge(d));
    let before = match annotation_i32(rs, MAX_REPLICAS_ANNOTATION) {
        Some(v) if v != 0 => i64::from(v),
        _ => i64::from(d.status.replicas),
    };
    if before == 0 {
        // Upstream would divide by zero here; nothing sensible to add.
        return 0;
    }
    let base = i128::from(rs_replicas(rs));
    let (max_now, before) = (i128::from(max_now), i128::from(before));
    // math.Round: halves away from zero, on exact integers (i128: no overflow).
    let num = base * max_now;
    let rounded = (2 * num + before).div_euclid(2 * before);
    (rounded - base).clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// `NewDeploymentCondition` at `now`.
pub fn new_condition(
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: String,
    now: SimTime,
) -> Condition {
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message,
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
        ..Condition::default()
    }
}

/// `GetDeploymentCondition`.
pub fn get_condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// `SetDeploymentCondition`: no change when status and reason are the same; the transition
/// time is kept when only the reason changes; the condition moves to the end of the list.
pub fn set_condition(status: &mut DeploymentStatus, mut c: Condition) {
    if let Some(cur) = get_condition(status, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time;
        }
    }
    remove_condition(status, &c.type_.clone());
    status.conditions.push(c);
}

/// `RemoveDeploymentCondition`.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

/// `HasProgressDeadline`: set and not MaxInt32.
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .progress_deadline_seconds
        .is_some_and(|s| s != i32::MAX)
}

/// `HasRevisionHistoryLimit`: set and not MaxInt32.
pub fn has_revision_history_limit(d: &Deployment) -> bool {
    d.spec.revision_history_limit.is_some_and(|s| s != i32::MAX)
}

/// `DeploymentComplete`: every replica updated and available, and the generation observed.
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let n = d_replicas(d);
    s.updated_replicas == n
        && s.replicas == n
        && s.available_replicas == n
        && s.observed_generation >= d.metadata.generation
}

/// `DeploymentProgressing`: more updated, fewer old, more ready or more available replicas
/// than the Deployment's current status shows.
pub fn deployment_progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let old = &d.status;
    let old_old = i64::from(old.replicas) - i64::from(old.updated_replicas);
    let new_old = i64::from(s.replicas) - i64::from(s.updated_replicas);
    s.updated_replicas > old.updated_replicas
        || new_old < old_old
        || s.ready_replicas > old.ready_replicas
        || s.available_replicas > old.available_replicas
}

/// `DeploymentTimedOut`: the Progressing condition's last update plus the deadline is
/// strictly before `now` (never after a completed rollout; always once timed out).
pub fn deployment_timed_out(d: &Deployment, s: &DeploymentStatus, now: SimTime) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get_condition(s, PROGRESSING) else {
        return false;
    };
    if c.reason == NEW_RS_AVAILABLE_REASON {
        return false;
    }
    if c.reason == TIMED_OUT_REASON {
        return true;
    }
    let from = c.last_update_time.map_or(SimTime::ZERO, |t| t.0);
    let deadline = progress_deadline(d);
    from.saturating_add(deadline) < now
}

/// `progressDeadlineSeconds` as a duration (0 when unset).
pub fn progress_deadline(d: &Deployment) -> SimDuration {
    SimDuration::from_secs(d.spec.progress_deadline_seconds.unwrap_or(0).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_encode_maps_digits_onto_the_upstream_alphabet() {
        // '0' is 48: 48 % 27 = 21 -> '4'; '9' is 57: 57 % 27 = 3 -> 'f'.
        assert_eq!(safe_encode_string("09"), "4f");
    }

    #[test]
    fn fnv32a_matches_the_reference_values() {
        let mut h = Fnv32a::new();
        assert_eq!(h.sum(), 0x811c_9dc5);
        h.write(b"a");
        assert_eq!(h.sum(), 0xe40c_292c);
    }

    #[test]
    fn the_hash_changes_with_the_template_and_the_collision_count() {
        let mut t = PodTemplateSpec::default();
        let a = compute_hash(&t, None);
        assert_eq!(a, compute_hash(&t, None));
        assert_ne!(a, compute_hash(&t, Some(1)));
        t.metadata.labels.insert("app".into(), "web".into());
        assert_ne!(a, compute_hash(&t, None));
    }

    #[test]
    fn extreme_counts_do_not_overflow() {
        let mut d = Deployment::default();
        d.spec.replicas = Some(i32::MAX);
        d.spec.strategy.rolling_update = Some(crate::api::objects::workloads::RollingUpdate {
            max_surge: Some(IntOrString::String("100%".into())),
            max_unavailable: Some(IntOrString::Int(0)),
        });
        assert_eq!(max_replicas(&d), i32::MAX);
        let mut rs = ReplicaSet::default();
        rs.spec.replicas = Some(i32::MAX);
        rs.metadata
            .annotations
            .insert(MAX_REPLICAS_ANNOTATION.into(), "1".into());
        assert_eq!(replica_set_proportion(&d, &rs, i32::MAX, 0), i32::MAX);
        let big = [&rs, &rs];
        assert_eq!(new_rs_new_replicas(&d, &big, &rs), Ok(i32::MAX));
        assert_eq!(sum([i32::MAX, i32::MAX]), i32::MAX);
    }

    #[test]
    fn proportions_round_half_away_from_zero() {
        let mut d = Deployment::default();
        d.spec.replicas = Some(15);
        d.spec.strategy.rolling_update = Some(Default::default());
        let mut rs = ReplicaSet::default();
        rs.spec.replicas = Some(5);
        rs.metadata
            .annotations
            .insert(MAX_REPLICAS_ANNOTATION.into(), "10".into());
        // 5 * 15 / 10 = 7.5 -> 8: +3.
        assert_eq!(replica_set_fraction(&d, &rs), 3);
        assert_eq!(replica_set_proportion(&d, &rs, 5, 0), 3);
        assert_eq!(replica_set_proportion(&d, &rs, 2, 0), 2);
    }
}
