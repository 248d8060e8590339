//! The disruption controller (one component named `disruption-controller`): the status of
//! PodDisruptionBudgets, after `pkg/controller/disruption/disruption.go` (2025 master) and
//! `pkg/apis/policy/v1/helper` (`UpdateDisruptionAllowedCondition`).
//!
//! A sync of one budget (`trySync`):
//! 1. The budget's pods: every pod of its namespace its selector matches (terminal and
//!    terminating ones included); none is a Normal `NoPods` "No matching pods found".
//! 2. `expectedPods` and `desiredHealthy` (`getExpectedPodCount`): `minAvailable` as an
//!    integer ⇒ desired = that value, expected = number of pods; `minAvailable` as a
//!    percentage or `maxUnavailable` ⇒ expected = sum of the scales of the pods'
//!    controllers (`getExpectedScale`: ReplicationController, Deployment through its
//!    ReplicaSet, ReplicaSet, StatefulSet; each counted once), desired = ceil(% · expected)
//!    or expected − maxUnavailable (int, or ceil(% · expected)), at least 0. Pods without a
//!    controller are "unmanaged" (a Warning `UnmanagedPods`); a controller that is none of
//!    those kinds, or missing, fails the sync ("found no controllers for pod").
//! 3. `disruptedPods` (`buildDisruptedPodMap`): entries of pods that are not yet
//!    terminating and were evicted less than `DeletionTimeout` = 2 min ago are kept (an
//!    older one gets a Warning `NotDeleted` on the pod); the budget is re-synced when the
//!    next one expires.
//! 4. `currentHealthy` (`countHealthyPods`): pods that are Ready, not terminating and not
//!    in `disruptedPods`.
//! 5. `disruptionsAllowed = currentHealthy − desiredHealthy`, 0 when negative or when
//!    `expectedPods` is 0; `observedGeneration`; the `DisruptionAllowed` condition (True
//!    `SufficientPods` / False `InsufficientPods`). Written only when something changed,
//!    with the resourceVersion the controller saw (a conflict requeues the budget).
//!
//! A failed sync (`failSafe`) sets `disruptionsAllowed` to 0 and the condition False,
//! reason `SyncFailed`, the error as message (with a Warning
//! `CalculateExpectedPodCountFailed` first when counting failed).
//!
//! Simplified: controllers (for their scales) are read live from the store rather than from
//! informer caches; a pod event requeues every budget selecting the pod (upstream: the first
//! one, with a `MultiplePodDisruptionBudgets` warning kubesim does not record); stale
//! `DisruptionTarget` conditions on pods that were never deleted are not
//! cleaned up (upstream's `syncStalePodDisruption`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::eviction::{
    DISRUPTION_ALLOWED, INSUFFICIENT_PODS, SUFFICIENT_PODS, SYNC_FAILED, set_condition,
    update_disruption_allowed_condition,
};
use crate::api::meta::{ConditionStatus, IntOrString, Time, find_condition};
use crate::api::objects::pod::Pod;
use crate::api::objects::policy::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::selector::{format_label_selector, selector_from_option};
use crate::api::{ApiError, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{SimDuration, SimTime};

use super::pods::is_ready;
use super::workqueue::WorkQueue;

/// Upstream `DeletionTimeout`: how long an evicted pod counts as being deleted.
pub const DELETION_TIMEOUT: SimDuration = SimDuration::from_secs(120);

const WATCH_PDBS: usize = 0;
const WATCH_PODS: usize = 1;

/// The component.
#[derive(Default)]
pub struct DisruptionController {
    pdbs: BTreeMap<ObjectKey, Arc<Object>>,
    pods: super::pod_index::PodIndex,
    queue: WorkQueue<ObjectKey>,
}

/// What [`expected_pod_count`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedCount {
    pub expected: i32,
    pub desired_healthy: i32,
    pub unmanaged: Vec<String>,
}

/// Upstream `getExpectedPodCount`. `scale_of(pod)` resolves a pod's controller to
/// `(controller uid, scale)`, `Ok(None)` for a pod without a controller, `Err` when its
/// controller cannot be found (see [`DisruptionController`]'s finders).
pub fn expected_pod_count(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    mut scale_of: impl FnMut(&Pod) -> Result<Option<(String, i32)>, String>,
) -> Result<ExpectedCount, String> {
    let mut expected_scale = |pods: &[&Pod]| -> Result<(i32, Vec<String>), String> {
        let mut scales: BTreeMap<String, i32> = BTreeMap::new();
        let mut unmanaged = Vec::new();
        for p in pods {
            match scale_of(p)? {
                None => unmanaged.push(p.metadata.name.clone()),
                Some((uid, scale)) => {
                    scales.insert(uid, scale);
                }
            }
        }
        let total = scales.values().fold(0i32, |a, s| a.saturating_add(*s));
        Ok((total, unmanaged))
    };
    let mut out = ExpectedCount::default();
    if let Some(max_unavailable) = &pdb.spec.max_unavailable {
        let (expected, unmanaged) = expected_scale(pods)?;
        let max = max_unavailable.scaled_value(expected, true)?;
        out.expected = expected;
        out.unmanaged = unmanaged;
        out.desired_healthy = expected.saturating_sub(max).max(0);
    } else if let Some(min_available) = &pdb.spec.min_available {
        match min_available {
            IntOrString::Int(n) => {
                out.desired_healthy = *n;
                out.expected = i32::try_from(pods.len()).unwrap_or(i32::MAX);
            }
            IntOrString::String(_) => {
                let (expected, unmanaged) = expected_scale(pods)?;
                out.expected = expected;
                out.unmanaged = unmanaged;
                out.desired_healthy = min_available.scaled_value(expected, true)?;
            }
        }
    }
    Ok(out)
}

/// Upstream `buildDisruptedPodMap`: the entries still pending (pod not terminating,
/// evicted at most [`DELETION_TIMEOUT`] ago), the earliest time one of them expires, and the
/// pods whose entry expired without their deletion.
pub fn build_disrupted_pod_map(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    now: SimTime,
) -> (BTreeMap<String, Time>, Option<SimTime>, Vec<String>) {
    let mut result = BTreeMap::new();
    let mut recheck: Option<SimTime> = None;
    let mut not_deleted = Vec::new();
    for p in pods {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(at) = pdb.status.disrupted_pods.get(&p.metadata.name) else {
            continue;
        };
        let expected_deletion = at.0.saturating_add(DELETION_TIMEOUT);
        if expected_deletion < now {
            not_deleted.push(p.metadata.name.clone());
        } else {
            recheck = Some(recheck.map_or(expected_deletion, |r| r.min(expected_deletion)));
            result.insert(p.metadata.name.clone(), *at);
        }
    }
    (result, recheck, not_deleted)
}

/// Upstream `countHealthyPods`.
pub fn count_healthy_pods(pods: &[&Pod], disrupted: &BTreeMap<String, Time>, now: SimTime) -> i32 {
    let n = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            disrupted
                .get(&p.metadata.name)
                .is_none_or(|at| at.0.saturating_add(DELETION_TIMEOUT) <= now)
        })
        .filter(|p| is_ready(p))
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Upstream `pdbhelper.ConditionsAreUpToDate`.
fn conditions_up_to_date(pdb: &PodDisruptionBudget) -> bool {
    let Some(c) = find_condition(&pdb.status.conditions, DISRUPTION_ALLOWED) else {
        return false;
    };
    if pdb.status.observed_generation != pdb.metadata.generation {
        return false;
    }
    if pdb.status.disruptions_allowed > 0 {
        c.status == ConditionStatus::True && c.reason == SUFFICIENT_PODS
    } else {
        c.status == ConditionStatus::False && c.reason == INSUFFICIENT_PODS
    }
}

impl DisruptionController {
    pub fn new() -> Self {
        Self::default()
    }

    fn budgets_for(&self, pod: &Pod) -> Vec<ObjectKey> {
        let ns = &pod.metadata.namespace;
        self.pdbs
            .range(ObjectKey::new(Kind::PodDisruptionBudget, ns.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == Kind::PodDisruptionBudget && &k.namespace == ns)
            .filter(|(_, o)| match &***o {
                Object::PodDisruptionBudget(b) => selector_from_option(b.spec.selector.as_ref())
                    .is_ok_and(|s| s.matches(&pod.metadata.labels)),
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        let mut budgets: BTreeSet<ObjectKey> = BTreeSet::new();
        if let Object::Pod(p) = &*event.object {
            budgets.extend(self.budgets_for(p));
        }
        if let Some(Object::Pod(old)) = event.old.as_deref() {
            budgets.extend(self.budgets_for(old));
        }
        if event.type_ == WatchEventType::Deleted {
            self.pods.remove(&key);
        } else {
            self.pods.insert(key, event.object.clone());
        }
        for b in budgets {
            self.queue.add(b, ctx);
        }
    }

    /// The finders of `getExpectedScale`, in upstream's order: ReplicationController,
    /// Deployment (through the pod's ReplicaSet), ReplicaSet (not owned by a Deployment),
    /// StatefulSet.
    fn scale_of(pod: &Pod, ctx: &Context<'_>) -> Result<Option<(String, i32)>, String> {
        let Some(r) = pod.metadata.controller_ref() else {
            return Ok(None);
        };
        let ns = pod.metadata.namespace.clone();
        let get = |kind: Kind, name: &str, uid: &str| {
            ctx.get(&ObjectKey::new(kind, ns.clone(), name.to_string()))
                .filter(|o| o.meta().uid == uid)
        };
        let found = match r.kind.as_str() {
            "ReplicationController" => {
                match get(Kind::ReplicationController, &r.name, &r.uid).as_deref() {
                    Some(Object::ReplicationController(rc)) => {
                        Some((rc.metadata.uid.clone(), rc.spec.replicas.unwrap_or(1)))
                    }
                    _ => None,
                }
            }
            "ReplicaSet" => match get(Kind::ReplicaSet, &r.name, &r.uid).as_deref() {
                Some(Object::ReplicaSet(rs)) => match rs.metadata.controller_ref() {
                    Some(d) if d.kind == "Deployment" => {
                        match get(Kind::Deployment, &d.name, &d.uid).as_deref() {
                            Some(Object::Deployment(dep)) => {
                                Some((dep.metadata.uid.clone(), dep.spec.replicas.unwrap_or(1)))
                            }
                            _ => None,
                        }
                    }
                    _ => Some((rs.metadata.uid.clone(), rs.spec.replicas.unwrap_or(1))),
                },
                _ => None,
            },
            "StatefulSet" => match get(Kind::StatefulSet, &r.name, &r.uid).as_deref() {
                Some(Object::StatefulSet(ss)) => {
                    Some((ss.metadata.uid.clone(), ss.spec.replicas.unwrap_or(1)))
                }
                _ => None,
            },
            _ => None,
        };
        match found {
            Some(f) => Ok(Some(f)),
            None => Err(format!(
                "found no controllers for pod {:?}",
                pod.metadata.name
            )),
        }
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(obj) = self.pdbs.get(key).cloned() else {
            return;
        };
        let Object::PodDisruptionBudget(pdb) = &*obj else {
            return;
        };
        let now = ctx.now();
        let pdb_ref = format!("PodDisruptionBudget/{}/{}", key.namespace, key.name);
        let result = self.try_sync(pdb, &pdb_ref, ctx);
        let result = match result {
            Err(ApiError::Conflict { .. }) => {
                self.queue.add_rate_limited(key.clone(), ctx);
                return;
            }
            Err(e) => {
                // failSafe.
                let mut next = pdb.clone();
                next.status.disruptions_allowed = 0;
                set_condition(
                    &mut next.status.conditions,
                    ConditionStatus::False,
                    SYNC_FAILED,
                    &e.to_string(),
                    Time(now),
                );
                if next.status == pdb.status {
                    Ok(None)
                } else {
                    ctx.update(Object::PodDisruptionBudget(next)).map(|_| None)
                }
            }
            ok => ok,
        };
        match result {
            Ok(recheck) => {
                self.queue.forget(key);
                if let Some(at) = recheck {
                    let delay = at.saturating_since(now).max(SimDuration::from_nanos(1));
                    self.queue.add_after(key.clone(), delay, ctx);
                }
            }
            Err(_) => self.queue.add_rate_limited(key.clone(), ctx),
        }
    }

    /// Upstream `trySync`: `Ok(recheck time)`, or the error that makes the sync fail.
    fn try_sync(
        &mut self,
        pdb: &PodDisruptionBudget,
        pdb_ref: &str,
        ctx: &mut Context<'_>,
    ) -> Result<Option<SimTime>, ApiError> {
        let now = ctx.now();
        let fail = |message: String| ApiError::InternalError { message };
        let selector = selector_from_option(pdb.spec.selector.as_ref()).map_err(|e| {
            let message = format!("Failed to get pods: {e}");
            fail(message)
        });
        let selector = match selector {
            Ok(s) => s,
            Err(e) => {
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    "NoPods",
                    pdb_ref.to_string(),
                    e.to_string(),
                ));
                return Err(e);
            }
        };
        let objs = self.pods.selecting(&pdb.metadata.namespace, &selector);
        let pods: Vec<&Pod> = objs
            .iter()
            .filter_map(|(_, o)| match &**o {
                Object::Pod(p) => Some(p),
                _ => None,
            })
            .collect();
        if pods.is_empty() {
            ctx.record(EventRecord::new(
                now,
                EventType::Normal,
                "NoPods",
                pdb_ref.to_string(),
                "No matching pods found".into(),
            ));
        }
        let count = {
            let ctx_ref: &Context<'_> = ctx;
            expected_pod_count(pdb, &pods, |p| Self::scale_of(p, ctx_ref))
        };
        let count = match count {
            Ok(c) => c,
            Err(e) => {
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    "CalculateExpectedPodCountFailed",
                    pdb_ref.to_string(),
                    format!("Failed to calculate the number of expected pods: {e}"),
                ));
                return Err(fail(e));
            }
        };
        if !count.unmanaged.is_empty() {
            ctx.record(EventRecord::new(
                now,
                EventType::Warning,
                "UnmanagedPods",
                pdb_ref.to_string(),
                format!(
                    "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                    format_label_selector(pdb.spec.selector.as_ref())
                ),
            ));
        }
        let (disrupted, recheck, not_deleted) = build_disrupted_pod_map(pdb, &pods, now);
        for name in not_deleted {
            ctx.record(EventRecord::new(
                now,
                EventType::Warning,
                "NotDeleted",
                format!("Pod/{}/{name}", pdb.metadata.namespace),
                format!(
                    "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                    pdb.metadata.namespace, pdb.metadata.name
                ),
            ));
        }
        let current_healthy = count_healthy_pods(&pods, &disrupted, now);
        // updatePdbStatus.
        let mut allowed = current_healthy.saturating_sub(count.desired_healthy);
        if count.expected <= 0 || allowed <= 0 {
            allowed = 0;
        }
        let s = &pdb.status;
        if s.current_healthy == current_healthy
            && s.desired_healthy == count.desired_healthy
            && s.expected_pods == count.expected
            && s.disruptions_allowed == allowed
            && s.disrupted_pods == disrupted
            && s.observed_generation == pdb.metadata.generation
            && conditions_up_to_date(pdb)
        {
            return Ok(recheck);
        }
        let mut next = pdb.clone();
        next.status = PodDisruptionBudgetStatus {
            observed_generation: pdb.metadata.generation,
            disrupted_pods: disrupted,
            disruptions_allowed: allowed,
            current_healthy,
            desired_healthy: count.desired_healthy,
            expected_pods: count.expected,
            conditions: pdb.status.conditions.clone(),
        };
        update_disruption_allowed_condition(&mut next, Time(now));
        ctx.update(Object::PodDisruptionBudget(next))?;
        Ok(recheck)
    }
}

impl Component for DisruptionController {
    fn name(&self) -> String {
        "disruption-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::PodDisruptionBudget]),
            WatchFilter::kinds(&[Kind::Pod]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_PDBS => {
                let key = ObjectKey::of(&event.object);
                if event.type_ == WatchEventType::Deleted {
                    self.pdbs.remove(&key);
                } else {
                    self.pdbs.insert(key.clone(), event.object.clone());
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
