//! Controllers of kube-controller-manager, one component each.
//!
//! - [`replicaset`]: the ReplicaSet and ReplicationController controller
//!   (`pkg/controller/replicaset/replica_set.go`).

pub mod rank;
pub mod replicaset;

pub use replicaset::ReplicaSetController;
