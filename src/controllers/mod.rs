//! Controllers of kube-controller-manager, one component each.
//!
//! - [`deployment`]: the Deployment controller (`pkg/controller/deployment/`): rollouts,
//!   proportional scaling, progress deadlines, revision history, rollback.
//! - [`replicaset`]: the ReplicaSet and ReplicationController controller
//!   (`pkg/controller/replicaset/replica_set.go`), with [`rank`] its deletion ranking.
//! - [`nodelifecycle`]: node health (Ready → Unknown), node-condition taints, zone
//!   disruption states and rate-limited NoExecute tainting
//!   (`pkg/controller/nodelifecycle/node_lifecycle_controller.go`).
//! - [`taint_eviction`]: deletes pods that do not tolerate their node's NoExecute taints
//!   (`pkg/controller/tainteviction/taint_eviction.go`).
//! - [`podgc`]: the pod garbage collector (`pkg/controller/podgc/gc_controller.go`).
//! - [`daemonset`]: the DaemonSet controller (`pkg/controller/daemon/`).
//! - [`statefulset`]: the StatefulSet controller (`pkg/controller/statefulset/`).
//! - [`history`]: revision hashes of pod templates (`pkg/controller/history/`).
//! - [`job`]: the Job controller (`pkg/controller/job/job_controller.go`), with
//!   [`ttl_after_finished`] deleting finished Jobs after `ttlSecondsAfterFinished`.
//! - [`cronjob`]: the CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`).
//! - [`disruption`]: the disruption controller (`pkg/controller/disruption/disruption.go`):
//!   PodDisruptionBudget status.
//! - [`drain`]: `kubectl drain` (cordon, then evictions retried every 5 s), a component
//!   started on demand by `Cluster::drain`.
//! - [`endpointslice`]: the EndpointSlice controller (`pkg/controller/endpointslice/`).
//! - [`workqueue`]: the deduplicating, delaying, rate-limited work queue every controller
//!   drives its syncs with.
//! - [`pods`]: pod helpers shared by the workload controllers (active, ready, available,
//!   controller references, creation from a template in slow-start batches).

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod drain;
pub mod endpointslice;
pub mod history;
pub mod job;
pub mod nodelifecycle;
pub mod pod_index;
pub mod podgc;
pub mod pods;
pub mod rank;
pub mod replicaset;
pub mod statefulset;
pub mod taint_eviction;
pub mod ttl_after_finished;
pub mod workqueue;

pub use cronjob::CronJobController;
pub use daemonset::DaemonSetController;
pub use deployment::DeploymentController;
pub use disruption::DisruptionController;
pub use endpointslice::EndpointSliceController;
pub use job::JobController;
pub use nodelifecycle::NodeLifecycleController;
pub use podgc::PodGcController;
pub use replicaset::ReplicaSetController;
pub use statefulset::StatefulSetController;
pub use taint_eviction::TaintEvictionController;
pub use ttl_after_finished::TtlAfterFinishedController;

use crate::sim::SimDuration;

/// kube-controller-manager settings the controllers read (scenario `spec.controllers`), with
/// upstream's flag defaults (≥ v1.32).
#[derive(Clone, Debug, PartialEq)]
pub struct ControllersConfig {
    /// `--node-monitor-period`: 5 s.
    pub node_monitor_period: SimDuration,
    /// `--node-monitor-grace-period`: 50 s (40 s up to v1.31).
    pub node_monitor_grace_period: SimDuration,
    /// `--node-startup-grace-period`: 60 s.
    pub node_startup_grace_period: SimDuration,
    /// `--node-eviction-rate`: 0.1 nodes per second (NoExecute taints per zone).
    pub node_eviction_rate: f32,
    /// `--secondary-node-eviction-rate`: 0.01.
    pub secondary_node_eviction_rate: f32,
    /// `--large-cluster-size-threshold`: 50.
    pub large_cluster_size_threshold: i32,
    /// `--unhealthy-zone-threshold`: 0.55.
    pub unhealthy_zone_threshold: f32,
    /// `--terminated-pod-gc-threshold`: 12500 (0 or less turns that part of pod GC off).
    pub terminated_pod_gc_threshold: i64,
}

impl Default for ControllersConfig {
    fn default() -> Self {
        ControllersConfig {
            node_monitor_period: SimDuration::from_secs(5),
            node_monitor_grace_period: SimDuration::from_secs(50),
            node_startup_grace_period: SimDuration::from_secs(60),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            large_cluster_size_threshold: 50,
            unhealthy_zone_threshold: 0.55,
            terminated_pod_gc_threshold: 12_500,
        }
    }
}
