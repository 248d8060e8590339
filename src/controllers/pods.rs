//! Pod helpers every workload controller shares, after `pkg/controller/controller_utils.go`
//! and `pkg/api/v1/pod/util.go`: which pods count as active, ready and available, the
//! controller reference a controller stamps on its pods, pod creation from a template in
//! slow-start batches, expectations, and claiming (adoption and release) of pods.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::ApiError;
use crate::api::meta::{ConditionStatus, OwnerReference};
use crate::api::objects::pod::Pod;
use crate::api::objects::{Kind, Object, ObjectKey, PodTemplateSpec};
use crate::api::selector::Selector;
use crate::runtime::{Context, EventRecord, EventType};
use crate::sim::{SimDuration, SimTime};

/// Upstream `SlowStartInitialBatchSize`.
pub const SLOW_START_INITIAL_BATCH: usize = 1;

/// `FilterActivePods`: not terminal and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !pod.status.phase.is_terminal() && pod.metadata.deletion_timestamp.is_none()
}

/// `Some(since)` when the pod's Ready condition is True (`since` = its last transition,
/// `None` when the condition has no time), `None` when it is not Ready.
pub fn ready_since(pod: &Pod) -> Option<Option<SimTime>> {
    pod.status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
        .map(|c| c.last_transition_time.map(|t| t.0))
}

/// `IsPodReady`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Availability (`podutil.IsPodAvailable`): Ready for at least `min_ready_seconds`.
/// `Err(wait)` when the pod is Ready but not yet available: it becomes available after
/// `wait`. `Ok(false)` when it is not Ready.
pub fn availability(pod: &Pod, min_ready_seconds: i32, now: SimTime) -> Result<bool, SimDuration> {
    let Some(since) = ready_since(pod) else {
        return Ok(false);
    };
    let min_ready = SimDuration::from_secs(min_ready_seconds.max(0) as u64);
    if min_ready.is_zero() {
        return Ok(true);
    }
    let ready_for = now.saturating_since(since.unwrap_or(SimTime::ZERO));
    if ready_for >= min_ready {
        Ok(true)
    } else {
        Err(SimDuration::from_nanos(
            min_ready.as_nanos() - ready_for.as_nanos(),
        ))
    }
}

/// The controller reference a controller puts on the objects it owns.
pub fn controller_ref(api_version: &str, kind: &str, owner: &Object) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.meta().name.clone(),
        uid: owner.meta().uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A pod from `template` in `namespace`, owned by `owner`: named `name` if non-empty, else
/// generated from `generate_name` (upstream `GetPodFromTemplate`).
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    name: &str,
    generate_name: &str,
    owner: OwnerReference,
) -> Pod {
    let mut meta = template.metadata.clone();
    meta.name = name.to_string();
    meta.generate_name = if name.is_empty() {
        generate_name.to_string()
    } else {
        String::new()
    };
    meta.namespace = namespace.to_string();
    meta.owner_references = vec![owner];
    meta.finalizers.clear();
    meta.deletion_timestamp = None;
    Pod {
        metadata: meta,
        spec: template.spec.clone(),
        status: Default::default(),
    }
}

/// Upstream `slowStartBatch`: calls `create` for `count` items in batches of 1, 2, 4, …,
/// stopping after the first batch with a failure. Returns how many succeeded; `create`
/// gets the item's index in `0..count`.
pub fn slow_start_batch(
    count: usize,
    mut create: impl FnMut(usize) -> Result<(), ApiError>,
) -> usize {
    let mut done = 0usize;
    let mut succeeded = 0usize;
    let mut batch = count.min(SLOW_START_INITIAL_BATCH);
    while batch > 0 {
        let mut failed = false;
        for i in done..done + batch {
            match create(i) {
                Ok(()) => succeeded += 1,
                Err(_) => failed = true,
            }
        }
        done += batch;
        if failed {
            break;
        }
        batch = (count - done).min(2 * batch);
    }
    succeeded
}

/// Creates `pod`, recording `SuccessfulCreate` or `FailedCreate` on `owner_ref`
/// (`"Kind/namespace/name"`) as upstream's pod control does.
pub fn create_pod(
    ctx: &mut Context<'_>,
    pod: Pod,
    owner_ref: &str,
) -> Result<Arc<Object>, ApiError> {
    let now = ctx.now();
    match ctx.create(Object::Pod(pod)) {
        Ok(p) => {
            ctx.record(EventRecord::new(
                now,
                EventType::Normal,
                "SuccessfulCreate",
                owner_ref.to_string(),
                format!("Created pod: {}", p.meta().name),
            ));
            Ok(p)
        }
        Err(e) => {
            ctx.record(EventRecord::new(
                now,
                EventType::Warning,
                "FailedCreate",
                owner_ref.to_string(),
                format!("Error creating: {e}"),
            ));
            Err(e)
        }
    }
}

/// The key of a pod object.
pub fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey::new(
        crate::api::objects::Kind::Pod,
        pod.metadata.namespace.clone(),
        pod.metadata.name.clone(),
    )
}

/// Outstanding creates and deletes of one controller key (upstream
/// `UIDTrackingControllerExpectations`): creates are counted, deletes tracked by pod UID.
/// Satisfied when everything issued has been observed through the watch, or after
/// [`EXPECTATIONS_TIMEOUT`].
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    pub add: i64,
    pub del: BTreeSet<String>,
    pub set_at: SimTime,
}

/// Upstream `ExpectationsTimeout`.
pub const EXPECTATIONS_TIMEOUT: SimDuration = SimDuration::from_secs(300);

impl Expectations {
    pub fn satisfied(&self, now: SimTime) -> bool {
        (self.add <= 0 && self.del.is_empty())
            || now.saturating_since(self.set_at) > EXPECTATIONS_TIMEOUT
    }
}

/// Upstream `ClaimPods` (`PodControllerRefManager`): of `candidates` (pods in the owner's
/// namespace), returns those the owner keeps. Owned pods whose labels still match (and that
/// pass `filter`) are kept; owned pods that no longer match are released (their
/// ownerReference removed); matching orphans are adopted unless the owner or the pod is being
/// deleted. Pods owned by another controller are left alone.
pub fn claim_pods(
    ctx: &mut Context<'_>,
    candidates: Vec<(ObjectKey, Arc<Object>)>,
    selector: &Selector,
    owner: &OwnerReference,
    owner_deleting: bool,
    filter: impl Fn(&Pod) -> bool,
) -> Vec<Arc<Object>> {
    let mut owned = Vec::new();
    for (pk, obj) in candidates {
        let Object::Pod(pod) = &*obj else { continue };
        let matches = selector.matches(&pod.metadata.labels) && filter(pod);
        match pod.metadata.controller_ref() {
            Some(r) if r.uid == owner.uid => {
                if matches {
                    owned.push(obj.clone());
                } else if pod.metadata.deletion_timestamp.is_none() {
                    let uid = owner.uid.clone();
                    let _ = ctx.patch(&pk, |o| {
                        let m = o.meta_mut();
                        let before = m.owner_references.len();
                        m.owner_references.retain(|r| r.uid != uid);
                        m.owner_references.len() != before
                    });
                }
            }
            Some(_) => {}
            None => {
                if matches && !owner_deleting && pod.metadata.deletion_timestamp.is_none() {
                    let oref = owner.clone();
                    if let Ok(Some(adopted)) = ctx.patch(&pk, |o| {
                        let m = o.meta_mut();
                        if m.controller_ref().is_some() {
                            return false;
                        }
                        m.owner_references.push(oref);
                        true
                    }) {
                        owned.push(adopted);
                    }
                }
            }
        }
    }
    owned
}

/// The key of `pod`'s controller when it is a `kind` object in `owners` (a controller's
/// cache) with the controllerRef's uid (upstream `resolveControllerRef`).
pub fn owner_key(
    owners: &BTreeMap<ObjectKey, Arc<Object>>,
    pod: &Pod,
    kind: Kind,
) -> Option<ObjectKey> {
    let r = pod.metadata.controller_ref()?;
    if r.kind != kind.as_str() {
        return None;
    }
    let key = ObjectKey::new(kind, pod.metadata.namespace.clone(), r.name.clone());
    (owners.get(&key)?.meta().uid == r.uid).then_some(key)
}

/// The owners in `owners` (a controller's cache) of `pod`'s namespace for which `selects`
/// holds: the controllers an orphan pod's event concerns (upstream `getPodXs`).
pub fn owners_selecting(
    owners: &BTreeMap<ObjectKey, Arc<Object>>,
    pod: &Pod,
    selects: impl Fn(&Object, &Pod) -> bool,
) -> Vec<ObjectKey> {
    owners
        .iter()
        .filter(|(k, o)| k.namespace == pod.metadata.namespace && selects(o, pod))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_batches_are_1_2_4_and_stop_after_a_failed_batch() {
        let mut calls = Vec::new();
        let n = slow_start_batch(10, |i| {
            calls.push(i);
            Ok(())
        });
        assert_eq!(n, 10);
        assert_eq!(calls, (0..10).collect::<Vec<_>>());
        // Fail item 1 (in the second batch, {1, 2}): batch {3..7} is never tried.
        let mut tried = Vec::new();
        let n = slow_start_batch(10, |i| {
            tried.push(i);
            if i == 1 {
                Err(ApiError::NotFound {
                    key: ObjectKey::new(crate::api::objects::Kind::Pod, "d", "x"),
                })
            } else {
                Ok(())
            }
        });
        assert_eq!(tried, vec![0, 1, 2]);
        assert_eq!(n, 2);
    }
}
