//! The StatefulSet controller (component `statefulset-controller`), after
//! `pkg/controller/statefulset/stateful_set.go`, `stateful_set_control.go`,
//! `stateful_set_utils.go` and `stateful_pod_control.go`.
//!
//! - Watches StatefulSets and Pods; events enqueue the set concerned; a zero-delay timer
//!   drains the [`WorkQueue`], one sync per key. There are no expectations upstream: pod
//!   names are fixed, so a duplicate create fails with AlreadyExists and is retried.
//! - Identity: pod `<set>-<ordinal>` for ordinals `[start, start + replicas)` (`start` =
//!   `spec.ordinals.start`, default 0); hostname = pod name, subdomain = `serviceName`;
//!   labels `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
//!   `controller-revision-hash` (the revision name `<set>-<hash>`); one volume per
//!   `volumeClaimTemplates` entry, claim `<claim>-<set>-<ordinal>`. The replacement of
//!   `web-2` is `web-2` with the same claim.
//! - A sync (`updateStatefulSet`): claims the pods whose name makes them members; splits them
//!   into replicas (ordinal in range) and condemned (descending ordinal); then
//!   1. replicas in ordinal order: a Failed or Succeeded pod is deleted (recreated at a later
//!      sync) and the pass stops; a missing pod is created (at the current revision below the
//!      partition, else at the update revision) and, in OrderedReady, the pass stops; in
//!      OrderedReady the pass also stops at a pod that is terminating, not Running and Ready,
//!      or not available (`minReadySeconds`). A pod whose identity labels or volumes drifted
//!      is patched back. Parallel processes every replica in slow-start batches 1, 2, 4, …
//!      and never stops for readiness;
//!   2. condemned, highest ordinal first: OrderedReady waits for a terminating one, blocks at
//!      one that is not Running+Ready+Available unless it is the first unavailable pod, and
//!      deletes one pod per sync; Parallel deletes them all;
//!   3. RollingUpdate: from the highest ordinal down to `partition`, the first pod not at the
//!      update revision is deleted (one per sync; it comes back at the update revision), and
//!      the pass waits at any unavailable pod. OnDelete updates nothing.
//! - Status: replicas, readyReplicas (Running and Ready), availableReplicas, currentReplicas
//!   and updatedReplicas (by revision label), currentRevision/updateRevision,
//!   observedGeneration; when every pod is updated and ready, currentRevision becomes the
//!   update revision (`completeRollingUpdate`). A ready pod that is not yet available
//!   requeues the set for when it will be.
//!
//! Simplifications (also in docs/semantics.md): no ControllerRevision objects — revision
//! names come from a hash of the template ([`super::history`]) and the controller keeps the
//! templates of the current and update revisions in memory (a scenario that starts with a
//! `status.currentRevision` the controller never saw treats it as the update revision);
//! storage is not modelled (no PersistentVolumeClaims are created; claim names are only put
//! in the pods' volumes, and the claim retention policy is not modelled); the
//! `MaxUnavailableStatefulSet` feature gate is off (one pod at a time, as by default); no
//! periodic resync; status updates are not retried.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::OwnerReference;
use crate::api::objects::pod::{PersistentVolumeClaimVolumeSource, Pod, PodPhase, Volume};
use crate::api::objects::workloads::{
    PodManagementPolicy, StatefulSet, StatefulSetStatus, UpdateStrategyType,
};
use crate::api::objects::{Kind, Object, ObjectKey, PodTemplateSpec};
use crate::api::selector::{Selector, selector_from_option};
use crate::api::{ApiError, DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::SimDuration;

use super::history::{CONTROLLER_REVISION_HASH_LABEL, template_hash};
use super::pods::{
    availability, claim_pods, controller_ref, is_ready, pod_from_template, slow_start_batch,
};
use super::workqueue::WorkQueue;

/// Upstream `apps.StatefulSetPodNameLabel`.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Upstream `apps.PodIndexLabel`.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The most replica slots one sync considers (a bound on a sync's work; far above any
/// cluster's pod count).
pub const MAX_REPLICAS: usize = 1_000_000;

const WATCH_SETS: usize = 0;
const WATCH_PODS: usize = 1;

/// Upstream `getParentNameAndOrdinal`: `(parent, ordinal)` from `<parent>-<digits>`.
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i32>().ok().map(|o| (parent, o))
}

/// Upstream `getPersistentVolumeClaimName`.
pub fn claim_name(claim: &str, set: &str, ordinal: i32) -> String {
    format!("{claim}-{set}-{ordinal}")
}

/// Upstream `isRunningAndReady`.
fn running_and_ready(p: &Pod) -> bool {
    p.status.phase == PodPhase::Running && is_ready(p)
}

/// Upstream `isRunningAndAvailable`.
fn running_and_available(p: &Pod, min_ready_seconds: i32, now: crate::sim::SimTime) -> bool {
    p.status.phase == PodPhase::Running && availability(p, min_ready_seconds, now) == Ok(true)
}

fn terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

/// Upstream `isUnavailable`: not healthy (Running, Ready, not terminating) or not available.
fn unavailable(p: &Pod, min_ready_seconds: i32, now: crate::sim::SimTime) -> bool {
    !running_and_ready(p) || terminating(p) || availability(p, min_ready_seconds, now) != Ok(true)
}

fn revision_of(p: &Pod) -> &str {
    p.metadata
        .labels
        .get(CONTROLLER_REVISION_HASH_LABEL)
        .map_or("", String::as_str)
}

/// The revision name of `set`'s current template (`<set>-<hash>`). An unset collision count
/// counts as 0, as upstream's `getStatefulSetRevisions` does (so the name does not change
/// when the first status write sets it).
pub fn revision_name(set: &StatefulSet) -> String {
    format!(
        "{}-{}",
        set.metadata.name,
        template_hash(
            &set.spec.template,
            Some(set.status.collision_count.unwrap_or(0))
        )
    )
}

/// Upstream `updateIdentity` + `updateStorage` on `pod`.
fn set_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    pod.metadata
        .labels
        .insert(POD_NAME_LABEL.into(), pod.metadata.name.clone());
    pod.metadata
        .labels
        .insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    let claims: Vec<Volume> = set
        .spec
        .volume_claim_templates
        .iter()
        .map(|c| Volume {
            name: c.metadata.name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&c.metadata.name, &set.metadata.name, ordinal),
                read_only: false,
            }),
            other: BTreeMap::new(),
        })
        .collect();
    let names: BTreeSet<&str> = claims.iter().map(|v| v.name.as_str()).collect();
    let rest: Vec<Volume> = pod
        .spec
        .volumes
        .iter()
        .filter(|v| !names.contains(v.name.as_str()))
        .cloned()
        .collect();
    pod.spec.volumes = claims.into_iter().chain(rest).collect();
}

/// Upstream `identityMatches && storageMatches`.
fn identity_matches(set: &StatefulSet, pod: &Pod, ordinal: i32) -> bool {
    let mut fixed = pod.clone();
    set_identity(set, &mut fixed, ordinal);
    fixed.metadata.labels == pod.metadata.labels && fixed.spec.volumes == pod.spec.volumes
}

/// Upstream `newStatefulSetPod`: the pod of `ordinal` from `template`, at `revision`.
pub fn stateful_pod(
    set: &StatefulSet,
    template: &PodTemplateSpec,
    revision: &str,
    ordinal: i32,
    owner: OwnerReference,
) -> Pod {
    let name = format!("{}-{ordinal}", set.metadata.name);
    let mut pod = pod_from_template(template, &set.metadata.namespace, &name, "", owner);
    set_identity(set, &mut pod, ordinal);
    pod.spec.hostname = name;
    pod.spec.subdomain = set.spec.service_name.clone();
    pod.metadata
        .labels
        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), revision.to_string());
    pod
}

fn as_set(o: &Object) -> Option<&StatefulSet> {
    match o {
        Object::StatefulSet(s) => Some(s),
        _ => None,
    }
}

fn as_pod(o: &Object) -> Option<&Pod> {
    match o {
        Object::Pod(p) => Some(p),
        _ => None,
    }
}

fn selector_of(set: &StatefulSet) -> Selector {
    selector_from_option(set.spec.selector.as_ref()).unwrap_or_else(|_| Selector::nothing())
}

/// One replica slot: the pod, or the pod to create.
enum Slot {
    Pod(Arc<Object>),
    Missing { ordinal: i32, revision: String },
}

/// What one step of a sync asks for.
#[derive(PartialEq, Eq)]
enum Step {
    Continue,
    Exit,
}

/// The component.
#[derive(Default)]
pub struct StatefulSetController {
    sets: BTreeMap<ObjectKey, Arc<Object>>,
    pods: super::pod_index::PodIndex,
    queue: WorkQueue<ObjectKey>,
    /// Templates by revision name, per set (in place of ControllerRevisions).
    history: BTreeMap<ObjectKey, BTreeMap<String, PodTemplateSpec>>,
}

/// The state of one sync.
struct Sync<'a> {
    set: &'a StatefulSet,
    set_ref: String,
    owner: OwnerReference,
    current_rev: String,
    update_rev: String,
    current_template: &'a PodTemplateSpec,
    monotonic: bool,
    errors: usize,
}

impl Sync<'_> {
    fn event(&self, ctx: &mut Context<'_>, verb: &str, pod: &str, err: Option<&ApiError>) {
        let now = ctx.now();
        let (type_, reason, message) = match err {
            None => (
                EventType::Normal,
                format!("Successful{verb}"),
                format!(
                    "{} Pod {pod} in StatefulSet {} successful",
                    verb.to_lowercase(),
                    self.set.metadata.name
                ),
            ),
            Some(e) => (
                EventType::Warning,
                format!("Failed{verb}"),
                format!(
                    "{} Pod {pod} in StatefulSet {} failed error: {e}",
                    verb.to_lowercase(),
                    self.set.metadata.name
                ),
            ),
        };
        ctx.record(EventRecord::new(
            now,
            type_,
            &reason,
            self.set_ref.clone(),
            message,
        ));
    }

    fn delete(&mut self, ctx: &mut Context<'_>, pod: &Pod) -> Result<(), ApiError> {
        let key = ObjectKey::new(
            Kind::Pod,
            pod.metadata.namespace.clone(),
            pod.metadata.name.clone(),
        );
        let opts = DeleteOptions {
            precondition_uid: Some(pod.metadata.uid.clone()),
            ..DeleteOptions::default()
        };
        match ctx.delete(&key, &opts) {
            Ok(_) => {
                self.event(ctx, "Delete", &pod.metadata.name, None);
                Ok(())
            }
            Err(e) => {
                self.event(ctx, "Delete", &pod.metadata.name, Some(&e));
                self.errors += 1;
                Err(e)
            }
        }
    }

    /// Upstream `processReplica`.
    fn process_replica(&mut self, ctx: &mut Context<'_>, slot: &Slot) -> Result<Step, ApiError> {
        let now = ctx.now();
        let obj = match slot {
            Slot::Missing { ordinal, revision } => {
                let template = if *revision == self.current_rev {
                    self.current_template
                } else {
                    &self.set.spec.template
                };
                let pod = stateful_pod(self.set, template, revision, *ordinal, self.owner.clone());
                let name = pod.metadata.name.clone();
                match ctx.create(Object::Pod(pod)) {
                    Ok(_) => self.event(ctx, "Create", &name, None),
                    Err(e) => {
                        self.event(ctx, "Create", &name, Some(&e));
                        self.errors += 1;
                        return Err(e);
                    }
                }
                return Ok(if self.monotonic {
                    Step::Exit
                } else {
                    Step::Continue
                });
            }
            Slot::Pod(o) => o,
        };
        let Some(pod) = as_pod(obj) else {
            return Ok(Step::Continue);
        };
        if pod.status.phase.is_terminal() {
            if !terminating(pod) {
                self.delete(ctx, pod)?;
            }
            return Ok(Step::Exit);
        }
        let min_ready = self.set.spec.min_ready_seconds;
        if self.monotonic
            && (terminating(pod)
                || !running_and_ready(pod)
                || !running_and_available(pod, min_ready, now))
        {
            return Ok(Step::Exit);
        }
        let ordinal = parent_and_ordinal(&pod.metadata.name).map_or(-1, |(_, o)| o);
        if !identity_matches(self.set, pod, ordinal) {
            let key = ObjectKey::new(
                Kind::Pod,
                pod.metadata.namespace.clone(),
                pod.metadata.name.clone(),
            );
            let set = self.set;
            if let Err(e) = ctx.patch(&key, |o| {
                let Object::Pod(p) = o else { return false };
                set_identity(set, p, ordinal);
                true
            }) {
                self.event(ctx, "Update", &pod.metadata.name, Some(&e));
                self.errors += 1;
                return Err(e);
            }
        }
        Ok(Step::Continue)
    }

    /// Upstream `processCondemned`.
    fn process_condemned(
        &mut self,
        ctx: &mut Context<'_>,
        pod: &Pod,
        first_unavailable: Option<&str>,
    ) -> Result<Step, ApiError> {
        let now = ctx.now();
        if terminating(pod) {
            return Ok(if self.monotonic {
                Step::Exit
            } else {
                Step::Continue
            });
        }
        let is_first = first_unavailable == Some(pod.metadata.name.as_str());
        let min_ready = self.set.spec.min_ready_seconds;
        if self.monotonic
            && !is_first
            && (!running_and_ready(pod) || !running_and_available(pod, min_ready, now))
        {
            return Ok(Step::Exit);
        }
        self.delete(ctx, pod)?;
        Ok(Step::Exit)
    }
}

/// Upstream `runForAll`: in order, stopping at the first `Exit` or error (monotonic); else
/// every item in slow-start batches, stopping after a batch with an error. `true` = stop.
fn run_for_all<T>(
    items: &[T],
    monotonic: bool,
    mut f: impl FnMut(&T) -> Result<Step, ApiError>,
) -> bool {
    if monotonic {
        for it in items {
            match f(it) {
                Ok(Step::Continue) => {}
                _ => return true,
            }
        }
        false
    } else {
        let done = slow_start_batch(items.len(), |i| f(&items[i]).map(|_| ()));
        done < items.len()
    }
}

impl StatefulSetController {
    pub fn new() -> Self {
        Self::default()
    }

    fn owner_of(&self, pod: &Pod) -> Option<ObjectKey> {
        super::pods::owner_key(&self.sets, pod, Kind::StatefulSet)
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Some(pod) = as_pod(&event.object) else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        if event.type_ == WatchEventType::Deleted {
            self.pods.remove(&key);
        } else {
            self.pods.insert(key, event.object.clone());
        }
        if let Some(old) = event.old.as_deref().and_then(as_pod)
            && old.metadata.controller_ref() != pod.metadata.controller_ref()
            && let Some(prev) = self.owner_of(old)
        {
            self.queue.add(prev, ctx);
        }
        match self.owner_of(pod) {
            Some(o) => self.queue.add(o, ctx),
            None if event.type_ != WatchEventType::Deleted => {
                let matching = super::pods::owners_selecting(&self.sets, pod, |o, p| {
                    as_set(o).is_some_and(|s| selector_of(s).matches(&p.metadata.labels))
                });
                for k in matching {
                    self.queue.add(k, ctx);
                }
            }
            None => {}
        }
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(obj) = self.sets.get(key).cloned() else {
            self.history.remove(key);
            return;
        };
        let Some(set) = as_set(&obj) else { return };
        let now = ctx.now();
        let owner = controller_ref("apps/v1", "StatefulSet", &obj);
        let selector = selector_of(set);
        let name = set.metadata.name.clone();
        let candidates = self.pods.claim_candidates(&key.namespace, &owner.uid);
        let deleting = set.metadata.deletion_timestamp.is_some();
        let owned = claim_pods(ctx, candidates, &selector, &owner, deleting, |p| {
            parent_and_ordinal(&p.metadata.name).is_some_and(|(parent, _)| parent == name)
        });

        // Revisions (getStatefulSetRevisions, with the history kept in memory).
        let update_rev = revision_name(set);
        let history = self.history.entry(key.clone()).or_default();
        history.insert(update_rev.clone(), set.spec.template.clone());
        let current_rev = if history.contains_key(&set.status.current_revision) {
            set.status.current_revision.clone()
        } else {
            update_rev.clone()
        };
        let current_template = history
            .get(&current_rev)
            .cloned()
            .unwrap_or_else(|| set.spec.template.clone());

        // Replicas and condemned.
        let start = set.spec.ordinals.as_ref().map_or(0, |o| o.start.max(0));
        let count = (set.spec.replicas.unwrap_or(1).max(0) as usize).min(MAX_REPLICAS);
        let end = i64::from(start) + count as i64;
        let mut slots: Vec<Option<Arc<Object>>> = vec![None; count];
        let mut condemned: Vec<(i32, Arc<Object>)> = Vec::new();
        for o in &owned {
            let Some(p) = as_pod(o) else { continue };
            let Some((_, ord)) = parent_and_ordinal(&p.metadata.name) else {
                continue;
            };
            if i64::from(ord) >= i64::from(start) && i64::from(ord) < end {
                slots[(ord - start) as usize] = Some(o.clone());
            } else {
                condemned.push((ord, o.clone()));
            }
        }
        condemned.sort_by_key(|c| std::cmp::Reverse(c.0));
        let partition = match set.spec.update_strategy.type_ {
            UpdateStrategyType::RollingUpdate => Some(
                set.spec
                    .update_strategy
                    .rolling_update
                    .as_ref()
                    .and_then(|r| r.partition)
                    .unwrap_or(0),
            ),
            UpdateStrategyType::OnDelete => None,
        };
        let replicas: Vec<Slot> = slots
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Some(o) => Slot::Pod(o),
                None => {
                    let ordinal = start.saturating_add(i as i32);
                    // newVersionedStatefulSetPod: below the partition, the current revision.
                    let below = partition
                        .is_some_and(|p| i64::from(ordinal) < i64::from(start) + i64::from(p));
                    Slot::Missing {
                        ordinal,
                        revision: if below {
                            current_rev.clone()
                        } else {
                            update_rev.clone()
                        },
                    }
                }
            })
            .collect();
        let min_ready = set.spec.min_ready_seconds;
        let first_unavailable: Option<String> = replicas
            .iter()
            .find_map(|s| match s {
                Slot::Missing { ordinal, .. } => Some(format!("{}-{ordinal}", set.metadata.name)),
                Slot::Pod(o) => as_pod(o)
                    .filter(|p| unavailable(p, min_ready, now))
                    .map(|p| p.metadata.name.clone()),
            })
            .or_else(|| {
                condemned.iter().rev().find_map(|(_, o)| {
                    as_pod(o)
                        .filter(|p| unavailable(p, min_ready, now))
                        .map(|p| p.metadata.name.clone())
                })
            });

        let mut sync = Sync {
            set,
            set_ref: format!("StatefulSet/{}/{}", key.namespace, key.name),
            owner,
            current_rev: current_rev.clone(),
            update_rev: update_rev.clone(),
            current_template: &current_template,
            monotonic: set.spec.pod_management_policy != PodManagementPolicy::Parallel,
            errors: 0,
        };
        let mut deleted_for_update = false;
        if !deleting {
            let monotonic = sync.monotonic;
            let stop = run_for_all(&replicas, monotonic, |s| sync.process_replica(ctx, s))
                || run_for_all(&condemned, monotonic, |(_, o)| match as_pod(o) {
                    Some(p) => sync.process_condemned(ctx, p, first_unavailable.as_deref()),
                    None => Ok(Step::Continue),
                });
            if !stop && let Some(p) = partition {
                // Rolling update: highest ordinal first, down to the partition.
                let floor = p.max(0) as usize;
                for s in replicas.iter().skip(floor).rev() {
                    let (rev, pod) = match s {
                        Slot::Pod(o) => match as_pod(o) {
                            Some(p) => (revision_of(p).to_string(), Some(p)),
                            None => continue,
                        },
                        Slot::Missing { revision, .. } => (revision.clone(), None),
                    };
                    if rev != sync.update_rev && !pod.is_some_and(terminating) {
                        if let Some(pod) = pod {
                            let r = sync.delete(ctx, pod);
                            deleted_for_update = r.is_ok();
                        }
                        break;
                    }
                    if pod.is_none_or(|p| unavailable(p, min_ready, now)) {
                        break;
                    }
                }
            }
        }
        let errors = sync.errors;

        // Status (computeReplicaStatus over the pods this sync started from).
        let mut status = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            current_revision: current_rev.clone(),
            update_revision: update_rev.clone(),
            collision_count: Some(set.status.collision_count.unwrap_or(0)),
            ..StatefulSetStatus::default()
        };
        let mut next_check: Option<SimDuration> = None;
        for o in &owned {
            let Some(p) = as_pod(o) else { continue };
            status.replicas += 1;
            if running_and_ready(p) {
                status.ready_replicas += 1;
                match availability(p, min_ready, now) {
                    Ok(true) => status.available_replicas += 1,
                    Ok(false) => {}
                    Err(wait) => {
                        next_check = Some(next_check.map_or(wait, |w: SimDuration| w.min(wait)))
                    }
                }
            }
            if !terminating(p) {
                let rev = revision_of(p);
                if rev == current_rev {
                    status.current_replicas += 1;
                }
                if rev == update_rev {
                    status.updated_replicas += 1;
                }
            }
        }
        if deleted_for_update {
            status.current_replicas -= 1;
        }
        // completeRollingUpdate.
        if set.spec.update_strategy.type_ == UpdateStrategyType::RollingUpdate
            && status.updated_replicas == status.replicas
            && status.ready_replicas == status.replicas
        {
            status.current_replicas = status.updated_replicas;
            status.current_revision = status.update_revision.clone();
        }
        // Keep only the templates still referenced (bounded by the pods of the set).
        let mut keep: BTreeSet<String> = owned
            .iter()
            .filter_map(|o| as_pod(o).map(|p| revision_of(p).to_string()))
            .collect();
        keep.insert(status.current_revision.clone());
        keep.insert(update_rev);
        if let Some(h) = self.history.get_mut(key) {
            h.retain(|k, _| keep.contains(k));
        }
        if let Some(delay) = next_check {
            self.queue.add_after(key.clone(), delay, ctx);
        }
        if errors > 0 {
            self.queue.add_rate_limited(key.clone(), ctx);
        } else {
            self.queue.forget(key);
        }
        let _ = ctx.patch(key, |o| {
            let Object::StatefulSet(s) = o else {
                return false;
            };
            if s.status == status {
                return false;
            }
            s.status = status;
            true
        });
    }
}

impl Component for StatefulSetController {
    fn name(&self) -> String {
        "statefulset-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::StatefulSet]),
            WatchFilter::kinds(&[Kind::Pod]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_SETS => {
                let key = ObjectKey::of(&event.object);
                if event.type_ == WatchEventType::Deleted {
                    self.sets.remove(&key);
                    self.history.remove(&key);
                } else {
                    // Remember the template under its revision before it can change again.
                    if let Some(s) = as_set(&event.object) {
                        self.history
                            .entry(key.clone())
                            .or_default()
                            .insert(revision_name(s), s.spec.template.clone());
                    }
                    self.sets.insert(key.clone(), event.object.clone());
                    self.queue.add(key, ctx);
                }
            }
            WATCH_PODS => self.on_pod(event, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        for key in self.queue.on_timer(token, ctx).unwrap_or_default() {
            self.sync(&key, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::objects::workloads::PersistentVolumeClaimTemplate;

    #[test]
    fn ordinals_parse_as_upstream() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-1a"), None);
        assert_eq!(parent_and_ordinal("web"), None);
    }

    #[test]
    fn stateful_pods_carry_their_identity_and_claims() {
        let mut set = StatefulSet::default();
        set.metadata.name = "web".into();
        set.metadata.namespace = "default".into();
        set.spec.service_name = "nginx".into();
        let mut claim = PersistentVolumeClaimTemplate::default();
        claim.metadata.name = "www".into();
        set.spec.volume_claim_templates.push(claim);
        let owner = controller_ref("apps/v1", "StatefulSet", &Object::StatefulSet(set.clone()));
        let p = stateful_pod(&set, &set.spec.template, "web-abc", 2, owner);
        assert_eq!(p.metadata.name, "web-2");
        assert_eq!(p.spec.hostname, "web-2");
        assert_eq!(p.spec.subdomain, "nginx");
        assert_eq!(p.metadata.labels[POD_NAME_LABEL], "web-2");
        assert_eq!(p.metadata.labels[POD_INDEX_LABEL], "2");
        assert_eq!(p.metadata.labels[CONTROLLER_REVISION_HASH_LABEL], "web-abc");
        assert_eq!(
            p.spec.volumes[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "www-web-2"
        );
        assert!(identity_matches(&set, &p, 2));
        assert!(!identity_matches(&set, &p, 3));
    }
}
