//! The order in which a ReplicaSet picks pods to delete when scaling down:
//! `ActivePodsWithRanks.Less` in `pkg/controller/controller_utils.go` (with the gates
//! PodDeletionCost and LogarithmicScaleDown on, as in current upstream).

use std::cmp::Ordering;

use crate::api::meta::ConditionStatus;
use crate::api::objects::pod::{Pod, PodPhase};
use crate::sim::SimTime;

/// The annotation `controller.kubernetes.io/pod-deletion-cost`.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// What the ranking looks at in one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankedPod {
    pub assigned: bool,
    pub phase: PodPhase,
    pub ready: bool,
    /// The Ready condition's lastTransitionTime (`None`: unset).
    pub ready_since: Option<SimTime>,
    /// The pod-deletion-cost annotation (0 when absent or unparsable).
    pub deletion_cost: i32,
    /// Number of active related pods on the same node.
    pub rank: i32,
    /// The highest container restartCount.
    pub restarts: i32,
    /// `None`: unset creationTimestamp.
    pub created: Option<SimTime>,
    pub uid: String,
}

impl RankedPod {
    pub fn of(pod: &Pod, rank: i32) -> RankedPod {
        let ready_cond = pod.status.conditions.iter().find(|c| c.type_ == "Ready");
        let ready = ready_cond.is_some_and(|c| c.status == ConditionStatus::True);
        RankedPod {
            assigned: !pod.spec.node_name.is_empty(),
            phase: pod.status.phase,
            ready,
            ready_since: ready_cond.and_then(|c| c.last_transition_time.map(|t| t.0)),
            deletion_cost: pod
                .metadata
                .annotations
                .get(POD_DELETION_COST)
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(0),
            rank,
            restarts: pod
                .status
                .container_statuses
                .iter()
                .map(|c| c.restart_count)
                .max()
                .unwrap_or(0),
            created: Some(pod.metadata.creation_timestamp.0),
            uid: pod.metadata.uid.clone(),
        }
    }
}

fn phase_order(p: PodPhase) -> u8 {
    match p {
        PodPhase::Pending => 0,
        PodPhase::Unknown => 1,
        PodPhase::Running => 2,
        _ => 3,
    }
}

/// `floor(log2(now − t))` in nanoseconds (upstream `podutil` log-scale comparison); a time
/// at or after `now` is bucket 0.
fn log2_bucket(now: SimTime, t: SimTime) -> u32 {
    let d = now.as_nanos().saturating_sub(t.as_nanos());
    if d == 0 { 0 } else { 63 - d.leading_zeros() }
}

/// Upstream `afterOrZero` under logarithmic scale-down: an unset time first, then the more
/// recent (smaller bucket), equal buckets decided by UID. `Some(true)`: i before j.
fn time_less(
    now: SimTime,
    ti: Option<SimTime>,
    tj: Option<SimTime>,
    ui: &str,
    uj: &str,
) -> Option<bool> {
    match (ti, tj) {
        (None, None) => None,
        (None, Some(_)) => Some(true),
        (Some(_), None) => Some(false),
        (Some(a), Some(b)) => {
            let (ba, bb) = (log2_bucket(now, a), log2_bucket(now, b));
            if ba != bb {
                Some(ba < bb)
            } else if ui != uj {
                Some(ui < uj)
            } else {
                None
            }
        }
    }
}

/// `ActivePodsWithRanks.Less(i, j)`: true when `i` is preferred for deletion over `j`.
pub fn less(now: SimTime, i: &RankedPod, j: &RankedPod) -> bool {
    // 1. Unassigned < assigned.
    if i.assigned != j.assigned {
        return !i.assigned;
    }
    // 2. Pending < Unknown < Running.
    if phase_order(i.phase) != phase_order(j.phase) {
        return phase_order(i.phase) < phase_order(j.phase);
    }
    // 3. Not ready < ready.
    if i.ready != j.ready {
        return !i.ready;
    }
    // 4. Lower deletion cost < higher.
    if i.deletion_cost != j.deletion_cost {
        return i.deletion_cost < j.deletion_cost;
    }
    // 5. Doubled up (higher rank) < lower rank.
    if i.rank != j.rank {
        return i.rank > j.rank;
    }
    // 6. Both ready: ready for less time < longer.
    if i.ready
        && j.ready
        && let Some(b) = time_less(now, i.ready_since, j.ready_since, &i.uid, &j.uid)
    {
        return b;
    }
    // 7. More restarts < fewer.
    if i.restarts != j.restarts {
        return i.restarts > j.restarts;
    }
    // 8. Newer < older.
    if let Some(b) = time_less(now, i.created, j.created, &i.uid, &j.uid) {
        return b;
    }
    false
}

/// Sorts pods so the first are deleted first (a stable sort on [`less`]).
pub fn sort_for_deletion(now: SimTime, pods: &mut [(RankedPod, crate::api::ObjectKey)]) {
    pods.sort_by(|a, b| {
        if less(now, &a.0, &b.0) {
            Ordering::Less
        } else if less(now, &b.0, &a.0) {
            Ordering::Greater
        } else {
            a.1.cmp(&b.1)
        }
    });
}
