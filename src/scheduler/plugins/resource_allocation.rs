//! The per-resource `(allocatable, requested)` pairs the resource scorers share
//! (`framework/plugins/noderesources/resource_allocation.go`).
//!
//! - `use_requested = false` (NodeResourcesFit scoring): cpu and memory use the node's
//!   non-zero requested sum plus the pod's non-zero request; other resources the actual sums.
//! - `use_requested = true` (BalancedAllocation): actual requests throughout.
//! - A scalar (extended) resource the pod does not request is skipped, and so is any resource
//!   the node has no allocatable of.

use serde::Deserialize;

use crate::api::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, Resources};
use crate::scheduler::cache::{NodeInfo, PodInfo};

/// A resource and its weight in a scoring strategy.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    pub name: String,
    #[serde(default)]
    pub weight: i64,
}

pub fn default_resources() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec {
            name: CPU.into(),
            weight: 1,
        },
        ResourceSpec {
            name: MEMORY.into(),
            weight: 1,
        },
    ]
}

fn get(r: &Resources, name: &str) -> i64 {
    match name {
        CPU => r.milli_cpu,
        MEMORY => r.memory,
        EPHEMERAL_STORAGE => r.ephemeral_storage,
        _ => r.scalar.get(name).copied().unwrap_or(0),
    }
}

/// Calls `f(weight, allocatable, requested)` for each resource that counts (no allocation:
/// this runs for every node of every cycle).
pub fn allocation(
    specs: &[ResourceSpec],
    pod: &PodInfo,
    node: &NodeInfo,
    use_requested: bool,
    mut f: impl FnMut(i64, i64, i64),
) {
    for spec in specs {
        let name = spec.name.as_str();
        let is_scalar = !matches!(name, CPU | MEMORY | EPHEMERAL_STORAGE);
        let pod_req = if use_requested || is_scalar || name == EPHEMERAL_STORAGE {
            get(&pod.requests, name)
        } else {
            get(&pod.non_zero, name)
        };
        if is_scalar && pod_req == 0 {
            continue;
        }
        let alloc = get(&node.allocatable, name);
        if alloc == 0 {
            continue;
        }
        let node_req = if !use_requested && matches!(name, CPU | MEMORY) {
            get(&node.non_zero_requested, name)
        } else {
            get(&node.requested, name)
        };
        f(spec.weight, alloc, node_req + pod_req);
    }
}
