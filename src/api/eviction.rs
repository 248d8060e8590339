//! The Eviction API: the API server's `pods/eviction` subresource, after
//! `pkg/registry/core/pod/storage/eviction.go` (2025 master).
//!
//! An eviction is a delete that respects PodDisruptionBudgets:
//! 1. A pod that is Succeeded, Failed or **Pending**, or already being deleted, is deleted
//!    without looking at budgets (`canIgnorePDB`).
//! 2. The PodDisruptionBudgets of the pod's namespace whose selector matches its labels are
//!    found: more than one is a 500; none means the pod is deleted.
//! 3. A pod that is not Ready is deleted without touching the budget when the budget's
//!    `unhealthyPodEvictionPolicy` is `AlwaysAllow`, or when `currentHealthy >=
//!    desiredHealthy && desiredHealthy > 0` (`IfHealthyBudget`, the default); otherwise it
//!    goes through the budget like a Ready pod.
//! 4. `checkAndDecrement`: a status that has not observed the budget's generation is a 429;
//!    a negative `disruptionsAllowed` is a 403, as is a `disruptedPods` map above 2,000
//!    entries; `disruptionsAllowed == 0` is a 429 "Cannot evict pod as it would violate the
//!    pod's disruption budget."; otherwise `disruptionsAllowed` is decremented (the
//!    `DisruptionAllowed` condition turns False when it reaches 0), `disruptedPods[pod]` is
//!    set to now and the status written.
//! 5. The pod gets the condition `DisruptionTarget` (reason `EvictionByEvictionAPI`) and is
//!    deleted with the eviction's delete options (graceful by default).
//!
//! Simplified: the API server's conflict retries (20 × 500 ms) are not needed, since a call
//! reads and writes the store in one step; dry runs and the pod resourceVersion
//! precondition upstream adds for unhealthy pods are not modelled.

use std::sync::Arc;

use crate::api::meta::{Condition, ConditionStatus, Time};
use crate::api::objects::policy::{PodDisruptionBudget, UnhealthyPodEvictionPolicy};
use crate::api::objects::{Kind, Object, ObjectKey, PodPhase};
use crate::api::selector::selector_from_option;
use crate::api::{ApiError, DeleteOptions, DeleteOutcome, Store};

/// Upstream `MaxDisruptedPodSize`: the most entries a budget's `disruptedPods` may hold
/// before evictions are refused.
pub const MAX_DISRUPTED_POD_SIZE: usize = 2000;

/// The message of the 429 answered when a budget allows no disruption.
pub const VIOLATES_BUDGET: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";

/// The `DisruptionAllowed` condition type of a budget's status and its reasons
/// (`pkg/apis/policy/types.go`).
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
pub const SUFFICIENT_PODS: &str = "SufficientPods";
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
pub const SYNC_FAILED: &str = "SyncFailed";

/// Options of an eviction (the Eviction object's `deleteOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvictOptions {
    /// `None`: the pod's own grace period.
    pub grace_period_seconds: Option<i64>,
}

/// Evicts the pod `key` at the store's current time (see the module doc). `Ok` is the
/// outcome of the pod's deletion.
pub fn evict(
    store: &mut Store,
    key: &ObjectKey,
    opts: &EvictOptions,
) -> Result<DeleteOutcome, ApiError> {
    let Some(Object::Pod(pod)) = store.get(key).map(|o| (**o).clone()) else {
        return Err(ApiError::NotFound { key: key.clone() });
    };
    let ignore_budgets = matches!(
        pod.status.phase,
        PodPhase::Succeeded | PodPhase::Failed | PodPhase::Pending
    ) || pod.metadata.deletion_timestamp.is_some();
    if !ignore_budgets {
        let pdbs: Vec<Arc<Object>> = store
            .list_namespaced(Kind::PodDisruptionBudget, &key.namespace)
            .filter(|o| match &***o {
                Object::PodDisruptionBudget(b) => selector_from_option(b.spec.selector.as_ref())
                    .is_ok_and(|s| s.matches(&pod.metadata.labels)),
                _ => false,
            })
            .cloned()
            .collect();
        if pdbs.len() > 1 {
            return Err(ApiError::InternalError {
                message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
            });
        }
        if let Some(obj) = pdbs.first()
            && let Object::PodDisruptionBudget(pdb) = &**obj
        {
            let ready = pod
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True);
            let skip = !ready
                && (pdb.spec.unhealthy_pod_eviction_policy
                    == Some(UnhealthyPodEvictionPolicy::AlwaysAllow)
                    || (pdb.status.current_healthy >= pdb.status.desired_healthy
                        && pdb.status.desired_healthy > 0));
            if !skip {
                let next = check_and_decrement(pdb, &key.name, Time(store.now()))?;
                store.update(Object::PodDisruptionBudget(next))?;
            }
        }
    }
    add_disruption_target(store, key)?;
    store.delete(
        key,
        &DeleteOptions {
            grace_period_seconds: opts.grace_period_seconds,
            ..DeleteOptions::default()
        },
    )
}

/// Upstream `checkAndDecrement`: the budget's next status, or why the eviction is refused.
pub fn check_and_decrement(
    pdb: &PodDisruptionBudget,
    pod_name: &str,
    now: Time,
) -> Result<PodDisruptionBudget, ApiError> {
    let name = &pdb.metadata.name;
    if pdb.status.observed_generation < pdb.metadata.generation {
        return Err(ApiError::TooManyRequests {
            message: VIOLATES_BUDGET.into(),
            cause: format!("The disruption budget {name} is still being processed by the server."),
        });
    }
    if pdb.status.disruptions_allowed < 0 {
        return Err(ApiError::Forbidden {
            message: format!(
                "poddisruptionbudgets.policy \"{name}\" is forbidden: pdb disruptions allowed is negative"
            ),
        });
    }
    if pdb.status.disrupted_pods.len() > MAX_DISRUPTED_POD_SIZE {
        return Err(ApiError::Forbidden {
            message: format!(
                "poddisruptionbudgets.policy \"{name}\" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller"
            ),
        });
    }
    if pdb.status.disruptions_allowed == 0 {
        return Err(ApiError::TooManyRequests {
            message: VIOLATES_BUDGET.into(),
            cause: format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                pdb.status.desired_healthy, pdb.status.current_healthy
            ),
        });
    }
    let mut next = pdb.clone();
    next.status.disruptions_allowed -= 1;
    if next.status.disruptions_allowed == 0 {
        update_disruption_allowed_condition(&mut next, now);
    }
    next.status.disrupted_pods.insert(pod_name.to_string(), now);
    Ok(next)
}

/// Upstream `pdbhelper.UpdateDisruptionAllowedCondition`: `DisruptionAllowed` True
/// (`SufficientPods`) while disruptions are allowed, else False (`InsufficientPods`). The
/// transition time changes only with the status (`meta.SetStatusCondition`).
pub fn update_disruption_allowed_condition(pdb: &mut PodDisruptionBudget, now: Time) {
    let (status, reason) = if pdb.status.disruptions_allowed > 0 {
        (ConditionStatus::True, SUFFICIENT_PODS)
    } else {
        (ConditionStatus::False, INSUFFICIENT_PODS)
    };
    set_condition(&mut pdb.status.conditions, status, reason, "", now);
}

/// `meta.SetStatusCondition` for the `DisruptionAllowed` condition.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: Time,
) {
    match conditions
        .iter_mut()
        .find(|c| c.type_ == DISRUPTION_ALLOWED)
    {
        Some(c) => {
            if c.status != status {
                c.status = status;
                c.last_transition_time = Some(now);
            }
            c.reason = reason.into();
            c.message = message.into();
        }
        None => conditions.push(Condition {
            type_: DISRUPTION_ALLOWED.into(),
            status,
            reason: reason.into(),
            message: message.into(),
            last_transition_time: Some(now),
            ..Condition::default()
        }),
    }
}

/// Upstream `addConditionAndDeletePod`'s status update: `DisruptionTarget` True, reason
/// `EvictionByEvictionAPI`, message "Eviction API: evicting" (unchanged if already there).
fn add_disruption_target(store: &mut Store, key: &ObjectKey) -> Result<(), ApiError> {
    let Some(Object::Pod(mut pod)) = store.get(key).map(|o| (**o).clone()) else {
        return Err(ApiError::NotFound { key: key.clone() });
    };
    let cond = Condition {
        type_: "DisruptionTarget".into(),
        status: ConditionStatus::True,
        reason: "EvictionByEvictionAPI".into(),
        message: "Eviction API: evicting".into(),
        last_transition_time: Some(Time(store.now())),
        ..Condition::default()
    };
    match pod
        .status
        .conditions
        .iter_mut()
        .find(|c| c.type_ == cond.type_)
    {
        Some(c) if c.status == cond.status && c.reason == cond.reason => return Ok(()),
        Some(c) => *c = cond,
        None => pod.status.conditions.push(cond),
    }
    store.update(Object::Pod(pod)).map(|_| ())
}
