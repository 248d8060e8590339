//! NodeResourcesFit (`framework/plugins/noderesources/fit.go`, `least_allocated.go`,
//! `most_allocated.go`, `requested_to_capacity_ratio.go`).
//!
//! - Filter: "Too many pods" when the node's pod count would exceed `allocatable.pods`; then
//!   "Insufficient <resource>" for each resource whose actual request exceeds what is left.
//!   As upstream ≥1.34, the status is UnschedulableAndUnresolvable when the request exceeds
//!   the node's whole allocatable (preemption cannot help), Unschedulable otherwise.
//! - Score by `scoringStrategy`: LeastAllocated (default), MostAllocated or
//!   RequestedToCapacityRatio, integer arithmetic as upstream.

use serde::Deserialize;

use crate::api::resources::{CPU, EPHEMERAL_STORAGE, MEMORY};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    Code, CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Reason, Reasons, Status,
};

use super::resource_allocation::{ResourceSpec, allocation, default_resources};

/// `Insufficient <resource>`, without allocating for the built-in resources.
fn insufficient(name: &str) -> Reason {
    match name {
        CPU => Reason::Borrowed("Insufficient cpu"),
        MEMORY => Reason::Borrowed("Insufficient memory"),
        EPHEMERAL_STORAGE => Reason::Borrowed("Insufficient ephemeral-storage"),
        _ => Reason::Owned(format!("Insufficient {name}")),
    }
}

/// `NodeResourcesFitArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FitArgs {
    pub scoring_strategy: Option<ScoringStrategy>,
    pub ignored_resources: Vec<String>,
    pub ignored_resource_groups: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoringStrategy {
    #[serde(rename = "type", default)]
    pub type_: StrategyType,
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub requested_to_capacity_ratio: Option<RtcrArgs>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum StrategyType {
    #[default]
    LeastAllocated,
    MostAllocated,
    RequestedToCapacityRatio,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RtcrArgs {
    pub shape: Vec<ShapePoint>,
}

/// A utilization (0..100) → score (0..10) point.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct ShapePoint {
    pub utilization: i64,
    pub score: i64,
}

pub struct NodeResourcesFit {
    strategy: StrategyType,
    resources: Vec<ResourceSpec>,
    /// Shape scaled to 0..100 scores.
    shape: Vec<(i64, i64)>,
    ignored: Vec<String>,
    ignored_groups: Vec<String>,
}

impl NodeResourcesFit {
    pub fn new(args: FitArgs) -> Result<Self, String> {
        let strategy = args.scoring_strategy.unwrap_or(ScoringStrategy {
            type_: StrategyType::LeastAllocated,
            resources: default_resources(),
            requested_to_capacity_ratio: None,
        });
        let mut resources: Vec<ResourceSpec> = strategy
            .resources
            .into_iter()
            .map(ResourceSpec::resolved)
            .collect();
        for r in &mut resources {
            if r.weight == 0 {
                r.weight = 1;
            }
            if !(1..=100).contains(&r.weight) {
                return Err(format!(
                    "resource {:?} weight {} must be in 1..100",
                    r.name, r.weight
                ));
            }
        }
        let shape = match strategy.type_ {
            StrategyType::RequestedToCapacityRatio => {
                let args = strategy
                    .requested_to_capacity_ratio
                    .ok_or("RequestedToCapacityRatio needs requestedToCapacityRatio.shape")?;
                if args.shape.is_empty() {
                    return Err("requestedToCapacityRatio.shape must not be empty".into());
                }
                let mut last = -1;
                for p in &args.shape {
                    if !(0..=100).contains(&p.utilization)
                        || !(0..=10).contains(&p.score)
                        || p.utilization <= last
                    {
                        return Err(
                            "shape points need increasing utilization in 0..100 and score in 0..10"
                                .into(),
                        );
                    }
                    last = p.utilization;
                }
                args.shape
                    .iter()
                    .map(|p| (p.utilization, p.score * MAX_NODE_SCORE / 10))
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(NodeResourcesFit {
            strategy: strategy.type_,
            resources,
            shape,
            ignored: args.ignored_resources,
            ignored_groups: args.ignored_resource_groups,
        })
    }

    fn ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|r| r == name)
            || name
                .split_once('/')
                .is_some_and(|(group, _)| self.ignored_groups.iter().any(|g| g == group))
    }
}

/// `helper.BuildBrokenLinearFunction`: piecewise linear over the shape, integer arithmetic.
pub fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s;
            }
            let (u0, s0) = shape[i - 1];
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape.last().map(|&(_, s)| s).unwrap_or(0)
}

impl Plugin for NodeResourcesFit {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
    fn points(&self) -> Points {
        Points::ALL
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        let mut reasons = Reasons::None;
        let mut unresolvable = false;
        if node.pods.len() as i64 + 1 > node.allocatable.pods {
            reasons.push("Too many pods");
        }
        let req = &cx.info.requests;
        let none_requested = req.milli_cpu == 0
            && req.memory == 0
            && req.ephemeral_storage == 0
            && req.scalar.values().all(|v| *v == 0);
        if !none_requested {
            let mut check = |name: &str, want: i64, alloc: i64, used: i64| {
                if want > 0 && want > alloc - used {
                    reasons.push(insufficient(name));
                    if want > alloc {
                        unresolvable = true;
                    }
                }
            };
            let (a, u) = (&node.allocatable, &node.requested);
            check(CPU, req.milli_cpu, a.milli_cpu, u.milli_cpu);
            check(MEMORY, req.memory, a.memory, u.memory);
            check(
                EPHEMERAL_STORAGE,
                req.ephemeral_storage,
                a.ephemeral_storage,
                u.ephemeral_storage,
            );
            for (name, want) in &req.scalar {
                if self.ignored(name) {
                    continue;
                }
                let alloc = a.scalar.get(name).copied().unwrap_or(0);
                let used = u.scalar.get(name).copied().unwrap_or(0);
                check(name, *want, alloc, used);
            }
        }
        if reasons.is_empty() {
            return Status::success();
        }
        Status {
            code: if unresolvable {
                Code::UnschedulableAndUnresolvable
            } else {
                Code::Unschedulable
            },
            reasons,
            plugin: "",
        }
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        let least = self.strategy == StrategyType::LeastAllocated;
        match self.strategy {
            StrategyType::LeastAllocated | StrategyType::MostAllocated => {
                let (mut sum, mut weights) = (0i64, 0i64);
                allocation(&self.resources, cx.info, node, false, |w, cap, req| {
                    let s = if least {
                        if req > cap {
                            0
                        } else {
                            (cap - req) * MAX_NODE_SCORE / cap
                        }
                    } else {
                        req.min(cap) * MAX_NODE_SCORE / cap
                    };
                    sum += s * w;
                    weights += w;
                });
                if weights == 0 { 0 } else { sum / weights }
            }
            StrategyType::RequestedToCapacityRatio => {
                let (mut sum, mut weights) = (0i64, 0i64);
                allocation(&self.resources, cx.info, node, false, |w, cap, req| {
                    let s = if cap == 0 || req > cap {
                        broken_linear(&self.shape, MAX_NODE_SCORE)
                    } else {
                        broken_linear(&self.shape, req * MAX_NODE_SCORE / cap)
                    };
                    if s > 0 {
                        sum += s * w;
                        weights += w;
                    }
                });
                if weights == 0 {
                    0
                } else {
                    (sum as f64 / weights as f64).round() as i64
                }
            }
        }
    }
}
