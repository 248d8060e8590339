//! Rollout status and the progress deadline, after `pkg/controller/deployment/progress.go`.
//!
//! - Complete (every replica updated and available): Progressing=True
//!   `NewReplicaSetAvailable`, after which progress is no longer estimated.
//! - Progress (more updated, ready or available replicas, or fewer old ones than the current
//!   status shows): Progressing=True `ReplicaSetUpdated`, its `lastUpdateTime` moved to now.
//! - No progress for `progressDeadlineSeconds` after that `lastUpdateTime` (strictly more):
//!   Progressing=False `ProgressDeadlineExceeded`.
//! - A status write that changes nothing is skipped, and then a rollout in progress is
//!   requeued for `lastUpdateTime + progressDeadlineSeconds + 1 s` (upstream adds the second
//!   against clock skew), so the timeout is seen at the first sync after the deadline.

use crate::api::meta::ConditionStatus;
use crate::api::objects::workloads::{Deployment, DeploymentStatus, ReplicaSet};
use crate::api::objects::{Kind, ObjectKey};
use crate::runtime::Context;
use crate::sim::{SimDuration, SimTime};

use super::sync::{Split, calculate_status};
use super::util;
use super::{DeploymentController, SyncResult};

impl DeploymentController {
    /// Upstream `syncRolloutStatus`.
    pub(crate) fn sync_rollout_status(
        &mut self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &[ReplicaSet],
        (new, old): Split,
    ) -> SyncResult {
        let now = ctx.now();
        let new_name = new.map(|i| sets[i].metadata.name.clone());
        let status = rollout_status(d, calculate_status(d, sets, new, &old, now), new_name, now);
        if status == d.status {
            self.requeue_stuck(ctx, d, &status);
            return Ok(());
        }
        d.status = status;
        Self::write_deployment(ctx, d)
    }

    /// Upstream `requeueStuckDeployment`.
    fn requeue_stuck(&mut self, ctx: &mut Context<'_>, d: &Deployment, status: &DeploymentStatus) {
        let Some(cond) = util::get_condition(&d.status, util::PROGRESSING) else {
            return;
        };
        if !util::has_progress_deadline(d)
            || util::deployment_complete(d, status)
            || cond.reason == util::TIMED_OUT_REASON
        {
            return;
        }
        let key = ObjectKey::new(
            Kind::Deployment,
            d.metadata.namespace.clone(),
            d.metadata.name.clone(),
        );
        let deadline = cond
            .last_update_time
            .map_or(SimTime::ZERO, |t| t.0)
            .saturating_add(util::progress_deadline(d));
        let now = ctx.now();
        let after = deadline.saturating_since(now);
        if deadline <= now || after < SimDuration::from_secs(1) {
            self.queue.add_rate_limited(key, ctx);
        } else {
            self.queue
                .add_after(key, after.saturating_add(SimDuration::from_secs(1)), ctx);
        }
    }
}

/// The Progressing condition `syncRolloutStatus` derives from the computed status `s` (and the
/// ReplicaFailure condition removed: kubesim's ReplicaSets report none).
pub fn rollout_status(
    d: &Deployment,
    mut s: DeploymentStatus,
    new_rs: Option<String>,
    now: SimTime,
) -> DeploymentStatus {
    if !util::has_progress_deadline(d) {
        util::remove_condition(&mut s, util::PROGRESSING);
    }
    let current = util::get_condition(&d.status, util::PROGRESSING);
    let complete_before = s.replicas == s.updated_replicas
        && current.is_some_and(|c| c.reason == util::NEW_RS_AVAILABLE_REASON);
    if util::has_progress_deadline(d) && !complete_before {
        let subject = match &new_rs {
            Some(name) => format!("ReplicaSet {name:?}"),
            None => format!("Deployment {:?}", d.metadata.name),
        };
        if util::deployment_complete(d, &s) {
            let c = util::new_condition(
                util::PROGRESSING,
                ConditionStatus::True,
                util::NEW_RS_AVAILABLE_REASON,
                format!("{subject} has successfully progressed."),
                now,
            );
            util::set_condition(&mut s, c);
        } else if util::deployment_progressing(d, &s) {
            let mut c = util::new_condition(
                util::PROGRESSING,
                ConditionStatus::True,
                util::RS_UPDATED_REASON,
                format!("{subject} is progressing."),
                now,
            );
            // Same reason, new lastUpdateTime: set by hand, as SetDeploymentCondition would
            // skip it.
            if let Some(cur) = current {
                if cur.status == ConditionStatus::True {
                    c.last_transition_time = cur.last_transition_time;
                }
                util::remove_condition(&mut s, util::PROGRESSING);
            }
            util::set_condition(&mut s, c);
        } else if util::deployment_timed_out(d, &s, now) {
            let c = util::new_condition(
                util::PROGRESSING,
                ConditionStatus::False,
                util::TIMED_OUT_REASON,
                format!("{subject} has timed out progressing."),
                now,
            );
            util::set_condition(&mut s, c);
        }
    }
    util::remove_condition(&mut s, util::REPLICA_FAILURE);
    s
}
