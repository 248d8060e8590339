//! Controllers of kube-controller-manager, one component each.
//!
//! - [`deployment`]: the Deployment controller (`pkg/controller/deployment/`): rollouts,
//!   proportional scaling, progress deadlines, revision history, rollback.
//! - [`replicaset`]: the ReplicaSet and ReplicationController controller
//!   (`pkg/controller/replicaset/replica_set.go`), with [`rank`] its deletion ranking.
//! - [`workqueue`]: the deduplicating, delaying, rate-limited work queue every controller
//!   drives its syncs with.
//! - [`pods`]: pod helpers shared by the workload controllers (active, ready, available,
//!   controller references, creation from a template in slow-start batches).

pub mod deployment;
pub mod pods;
pub mod rank;
pub mod replicaset;
pub mod workqueue;

pub use deployment::DeploymentController;
pub use replicaset::ReplicaSetController;
