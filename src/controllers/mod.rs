//! Controllers of kube-controller-manager, one component each.
//!
//! - [`replicaset`]: the ReplicaSet and ReplicationController controller
//!   (`pkg/controller/replicaset/replica_set.go`), with [`rank`] its deletion ranking.
//! - [`job`]: the Job controller (`pkg/controller/job/job_controller.go`), with
//!   [`ttl_after_finished`] deleting finished Jobs after `ttlSecondsAfterFinished`.
//! - [`cronjob`]: the CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`).
//! - [`workqueue`]: the deduplicating, delaying, rate-limited work queue every controller
//!   drives its syncs with.
//! - [`pods`]: pod helpers shared by the workload controllers (active, ready, available,
//!   controller references, creation from a template in slow-start batches).

pub mod cronjob;
pub mod job;
pub mod pods;
pub mod rank;
pub mod replicaset;
pub mod ttl_after_finished;
pub mod workqueue;

pub use cronjob::CronJobController;
pub use job::JobController;
pub use replicaset::ReplicaSetController;
pub use ttl_after_finished::TtlAfterFinishedController;
