//! Controllers of kube-controller-manager, one component each.
//!
//! - [`replicaset`]: the ReplicaSet and ReplicationController controller
//!   (`pkg/controller/replicaset/replica_set.go`), with [`rank`] its deletion ranking.
//! - [`daemonset`]: the DaemonSet controller (`pkg/controller/daemon/`).
//! - [`statefulset`]: the StatefulSet controller (`pkg/controller/statefulset/`).
//! - [`history`]: revision hashes of pod templates (`pkg/controller/history/`).
//! - [`workqueue`]: the deduplicating, delaying, rate-limited work queue every controller
//!   drives its syncs with.
//! - [`pods`]: pod helpers shared by the workload controllers (active, ready, available,
//!   controller references, creation from a template in slow-start batches).

pub mod daemonset;
pub mod history;
pub mod pods;
pub mod rank;
pub mod replicaset;
pub mod statefulset;
pub mod workqueue;

pub use daemonset::DaemonSetController;
pub use replicaset::ReplicaSetController;
pub use statefulset::StatefulSetController;
