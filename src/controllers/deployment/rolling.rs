//! The two rollout strategies, after `pkg/controller/deployment/rolling.go` and
//! `recreate.go`.
//!
//! RollingUpdate, each sync: scale the new ReplicaSet up as far as maxSurge allows (and stop
//! there if it grew); else scale old ReplicaSets down as far as maxUnavailable allows,
//! unhealthy replicas first; once complete, clean up old revisions.
//!
//! Recreate: scale every old ReplicaSet to 0, wait until none of their pods is running, then
//! create the new ReplicaSet at full size.

use crate::api::Object;
use crate::api::objects::PodPhase;
use crate::api::objects::workloads::{Deployment, ReplicaSet};
use crate::runtime::Context;

use super::util::{self, d_replicas, rs_replicas};
use super::{DeploymentController, SyncError, SyncResult};

impl DeploymentController {
    /// Upstream `rolloutRolling`.
    pub(crate) fn rollout_rolling(
        &mut self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
    ) -> SyncResult {
        let (new, old) = self.get_all_and_sync_revision(ctx, d, sets, true)?;
        let Some(n) = new else {
            return Err(SyncError("no new ReplicaSet".into()));
        };
        if Self::reconcile_new_replica_set(ctx, d, sets, n, &old)? {
            return self.sync_rollout_status(ctx, d, sets, (new, old));
        }
        if Self::reconcile_old_replica_sets(ctx, d, sets, n, &old)? {
            return self.sync_rollout_status(ctx, d, sets, (new, old));
        }
        if util::deployment_complete(d, &d.status) {
            Self::cleanup_deployment(ctx, d, sets, &old)?;
        }
        self.sync_rollout_status(ctx, d, sets, (new, old))
    }

    /// Upstream `reconcileNewReplicaSet`: true when the new ReplicaSet was scaled.
    fn reconcile_new_replica_set(
        ctx: &mut Context<'_>,
        d: &Deployment,
        sets: &mut [ReplicaSet],
        n: usize,
        old: &[usize],
    ) -> SyncResult<bool> {
        let replicas = d_replicas(d);
        let current = rs_replicas(&sets[n]);
        if current == replicas {
            return Ok(false);
        }
        if current > replicas {
            return Self::scale_and_record(ctx, d, sets, n, replicas);
        }
        let all: Vec<&ReplicaSet> = old.iter().chain([n].iter()).map(|i| &sets[*i]).collect();
        let next = util::new_rs_new_replicas(d, &all, &sets[n]).map_err(SyncError)?;
        Self::scale_and_record(ctx, d, sets, n, next)
    }

    /// Upstream `reconcileOldReplicaSets`: how far the old ReplicaSets may shrink without
    /// going under replicas − maxUnavailable (counting the new set's unavailable replicas);
    /// true when any was scaled down.
    fn reconcile_old_replica_sets(
        ctx: &mut Context<'_>,
        d: &Deployment,
        sets: &mut [ReplicaSet],
        n: usize,
        old: &[usize],
    ) -> SyncResult<bool> {
        // Only active old sets take part.
        let mut active: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| rs_replicas(&sets[*i]) > 0)
            .collect();
        // In i64: counts from a bad spec or a stale status must not overflow.
        let old_pods: i64 = active
            .iter()
            .map(|i| i64::from(rs_replicas(&sets[*i])))
            .sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods = old_pods + i64::from(rs_replicas(&sets[n]));
        let min_available = i64::from(d_replicas(d)) - i64::from(util::max_unavailable(d));
        let new_unavailable =
            i64::from(rs_replicas(&sets[n])) - i64::from(sets[n].status.available_replicas);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        active.sort_by(|a, b| util::by_creation(&sets[*a], &sets[*b]));
        // cleanupUnhealthyReplicas: old replicas that are not available go first.
        let mut cleaned: i64 = 0;
        for &i in &active {
            if cleaned >= max_scaled_down {
                break;
            }
            let spec = i64::from(rs_replicas(&sets[i]));
            let available = i64::from(sets[i].status.available_replicas);
            if spec == 0 || spec == available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(spec - available);
            let next = spec - down;
            if next > spec {
                return Err(SyncError(format!(
                    "when cleaning up unhealthy replicas, got invalid request to scale down {} {spec} -> {next}",
                    sets[i].metadata.name
                )));
            }
            Self::scale_and_record(ctx, d, sets, i, next.clamp(0, i64::from(i32::MAX)) as i32)?;
            cleaned += down;
        }
        // scaleDownOldReplicaSetsForRollingUpdate: available replicas above the minimum.
        let available: i64 = active
            .iter()
            .chain([n].iter())
            .map(|i| i64::from(sets[*i].status.available_replicas))
            .sum();
        let mut scaled: i64 = 0;
        if available > min_available {
            let total = available - min_available;
            for &i in &active {
                if scaled >= total {
                    break;
                }
                let spec = i64::from(rs_replicas(&sets[i]));
                if spec <= 0 {
                    continue;
                }
                let down = spec.min(total - scaled);
                Self::scale_and_record(ctx, d, sets, i, (spec - down) as i32)?;
                scaled += down;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    /// Upstream `rolloutRecreate`.
    pub(crate) fn rollout_recreate(
        &mut self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
    ) -> SyncResult {
        // Do not create the new ReplicaSet before the old ones are down.
        let (mut new, mut old) = self.get_all_and_sync_revision(ctx, d, sets, false)?;
        let mut scaled_down = false;
        for &i in &old {
            if rs_replicas(&sets[i]) > 0 && Self::scale_and_record(ctx, d, sets, i, 0)? {
                scaled_down = true;
            }
        }
        if scaled_down || self.old_pods_running(d, sets, (new, &old)) {
            return self.sync_rollout_status(ctx, d, sets, (new, old));
        }
        if new.is_none() {
            (new, old) = self.get_all_and_sync_revision(ctx, d, sets, true)?;
        }
        if let Some(n) = new {
            Self::scale_and_record(ctx, d, sets, n, d_replicas(d))?;
        }
        if util::deployment_complete(d, &d.status) {
            Self::cleanup_deployment(ctx, d, sets, &old)?;
        }
        self.sync_rollout_status(ctx, d, sets, (new, old))
    }

    /// Upstream `oldPodsRunning`: an old ReplicaSet still counts replicas, or one of its pods
    /// (terminating ones included) is not Succeeded or Failed.
    fn old_pods_running(
        &self,
        d: &Deployment,
        sets: &[ReplicaSet],
        (new, old): (Option<usize>, &[usize]),
    ) -> bool {
        if old.iter().any(|i| sets[*i].status.replicas > 0) {
            return true;
        }
        let new_uid = new.map(|i| sets[i].metadata.uid.as_str());
        self.pod_map(d, sets).iter().any(|(uid, pods)| {
            Some(uid.as_str()) != new_uid
                && pods.iter().any(|p| match &**p {
                    Object::Pod(p) => {
                        !matches!(p.status.phase, PodPhase::Failed | PodPhase::Succeeded)
                    }
                    _ => false,
                })
        })
    }
}
