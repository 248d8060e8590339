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
    /// `name` classified once ([`ResourceSpec::resolved`]), so the per-node loop compares no
    /// strings.
    #[serde(skip)]
    pub kind: ResourceKind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResourceKind {
    Cpu,
    Memory,
    EphemeralStorage,
    #[default]
    Scalar,
}

impl ResourceSpec {
    pub fn new(name: &str, weight: i64) -> ResourceSpec {
        ResourceSpec {
            name: name.to_string(),
            weight,
            kind: ResourceKind::Scalar,
        }
        .resolved()
    }

    /// Classifies `name`; plugins call this on every configured spec.
    pub fn resolved(mut self) -> ResourceSpec {
        self.kind = match self.name.as_str() {
            CPU => ResourceKind::Cpu,
            MEMORY => ResourceKind::Memory,
            EPHEMERAL_STORAGE => ResourceKind::EphemeralStorage,
            _ => ResourceKind::Scalar,
        };
        self
    }
}

pub fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec::new(CPU, 1), ResourceSpec::new(MEMORY, 1)]
}

fn get(r: &Resources, spec: &ResourceSpec) -> i64 {
    match spec.kind {
        ResourceKind::Cpu => r.milli_cpu,
        ResourceKind::Memory => r.memory,
        ResourceKind::EphemeralStorage => r.ephemeral_storage,
        ResourceKind::Scalar => r.scalar.get(&spec.name).copied().unwrap_or(0),
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
        let cpu_or_memory = matches!(spec.kind, ResourceKind::Cpu | ResourceKind::Memory);
        let pod_req = if use_requested || !cpu_or_memory {
            get(&pod.requests, spec)
        } else {
            get(&pod.non_zero, spec)
        };
        if spec.kind == ResourceKind::Scalar && pod_req == 0 {
            continue;
        }
        let alloc = get(&node.allocatable, spec);
        if alloc == 0 {
            continue;
        }
        let node_req = if !use_requested && cpu_or_memory {
            get(&node.non_zero_requested, spec)
        } else {
            get(&node.requested, spec)
        };
        f(spec.weight, alloc, node_req + pod_req);
    }
}
