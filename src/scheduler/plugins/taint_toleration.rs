//! TaintToleration (`framework/plugins/tainttoleration`).
//!
//! - Filter: any untolerated NoSchedule/NoExecute taint rejects the node
//!   (UnschedulableAndUnresolvable).
//! - Score: the number of the node's PreferNoSchedule taints not tolerated by the pod's
//!   tolerations with effect PreferNoSchedule or empty; normalized reversed, so fewer is better.

use crate::api::objects::pod::{TaintEffect, Toleration};
use crate::api::scheduling::{first_untolerated, tolerated};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status, default_normalize,
};

pub struct TaintToleration;

const NAME: &str = "TaintToleration";

struct PreferTolerations(Vec<Toleration>);

impl Plugin for TaintToleration {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        NAME
    }
    fn points(&self) -> Points {
        Points::new(false, true, true, true)
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        if node.taints.is_empty() {
            return Status::success();
        }
        match first_untolerated(
            &node.taints,
            &cx.pod.spec.tolerations,
            &[TaintEffect::NoSchedule, TaintEffect::NoExecute],
        ) {
            None => Status::success(),
            Some(t) => {
                let value = if t.value.is_empty() {
                    String::new()
                } else {
                    format!(": {}", t.value)
                };
                Status::unresolvable(format!(
                    "node(s) had untolerated taint {{{}{}}}",
                    t.key, value
                ))
            }
        }
    }
    fn pre_score(&self, cx: &CycleContext<'_>, state: &mut CycleState, _: &[&NodeInfo]) -> Status {
        let tols = cx
            .pod
            .spec
            .tolerations
            .iter()
            .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
            .cloned()
            .collect();
        state.write(NAME, PreferTolerations(tols));
        Status::success()
    }
    fn score(&self, _: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> i64 {
        let tols = state
            .read::<PreferTolerations>(NAME)
            .map(|t| t.0.as_slice())
            .unwrap_or(&[]);
        node.taints
            .iter()
            .filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(tols, t))
            .count() as i64
    }
    fn normalize(&self, _: &CycleContext<'_>, _: &CycleState, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, true, scores);
    }
    fn has_normalize(&self) -> bool {
        true
    }
}
