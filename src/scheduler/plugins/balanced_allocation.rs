//! NodeResourcesBalancedAllocation (`framework/plugins/noderesources/balanced_allocation.go`):
//! `100 × (1 − std)` of the requested fractions (actual requests, capped at 1), truncated.
//! PreScore skips best-effort pods (every configured request 0), as upstream ≥1.33.

use serde::Deserialize;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status,
};

use super::resource_allocation::{ResourceSpec, allocation, default_resources};

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalancedArgs {
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedArgs {
    fn default() -> Self {
        BalancedArgs {
            resources: default_resources(),
        }
    }
}

pub struct BalancedAllocation {
    resources: Vec<ResourceSpec>,
}

impl BalancedAllocation {
    pub fn new(args: BalancedArgs) -> Self {
        BalancedAllocation {
            resources: args
                .resources
                .into_iter()
                .map(ResourceSpec::resolved)
                .collect(),
        }
    }
}

impl Plugin for BalancedAllocation {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }
    fn points(&self) -> Points {
        Points::new(false, false, true, true)
    }
    fn pre_score(&self, cx: &CycleContext<'_>, _: &mut CycleState, _: &[&NodeInfo]) -> Status {
        let r = &cx.info.requests;
        let any = self.resources.iter().any(|spec| match spec.name.as_str() {
            "cpu" => r.milli_cpu != 0,
            "memory" => r.memory != 0,
            "ephemeral-storage" => r.ephemeral_storage != 0,
            name => r.scalar.get(name).is_some_and(|v| *v != 0),
        });
        if any {
            Status::success()
        } else {
            Status::skip()
        }
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        // Up to 8 fractions on the stack; more resources are rare and go to the heap.
        let mut small = [0f64; 8];
        let mut more: Vec<f64> = Vec::new();
        let mut n = 0;
        allocation(&self.resources, cx.info, node, true, |_, cap, req| {
            let f = (req as f64 / cap as f64).min(1.0);
            if n < small.len() {
                small[n] = f;
            } else {
                more.push(f);
            }
            n += 1;
        });
        let joined: Vec<f64>;
        let fractions: &[f64] = if n <= small.len() {
            &small[..n]
        } else {
            joined = small.iter().copied().chain(more).collect();
            &joined
        };
        let std = match fractions.len() {
            2 => (fractions[0] - fractions[1]).abs() / 2.0,
            n if n > 2 => {
                let mean = fractions.iter().sum::<f64>() / n as f64;
                (fractions
                    .iter()
                    .map(|f| (f - mean) * (f - mean))
                    .sum::<f64>()
                    / n as f64)
                    .sqrt()
            }
            _ => 0.0,
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}
