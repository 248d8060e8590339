//! NodeAffinity (`framework/plugins/nodeaffinity`).
//!
//! - Filter: `spec.nodeSelector` and the required node affinity (UnschedulableAndUnresolvable).
//! - Score: sum of the weights of matching preferred terms, normalized by the maximum;
//!   PreScore skips the plugin when the pod has no preferred terms.

use crate::api::objects::pod::PreferredSchedulingTerm;
use crate::api::scheduling::{required_node_affinity_matches, term_matches};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status, default_normalize,
};

pub struct NodeAffinity;

fn preferred<'a>(cx: &'a CycleContext<'_>) -> &'a [PreferredSchedulingTerm] {
    cx.pod
        .spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .map(|na| {
            na.preferred_during_scheduling_ignored_during_execution
                .as_slice()
        })
        .unwrap_or(&[])
}

impl Plugin for NodeAffinity {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
    /// Skip when the pod has neither a node selector nor required node affinity.
    fn pre_filter(&self, cx: &CycleContext<'_>, _: &mut CycleState) -> Status {
        let required = crate::api::scheduling::required_node_selector(cx.pod);
        if required.is_none() && cx.pod.spec.node_selector.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
    fn points(&self) -> Points {
        Points::ALL
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        if required_node_affinity_matches(cx.pod, node.node()) {
            Status::success()
        } else {
            Status::unresolvable("node(s) didn't match Pod's node affinity/selector")
        }
    }
    fn pre_score(&self, cx: &CycleContext<'_>, _: &mut CycleState, _: &[&NodeInfo]) -> Status {
        if preferred(cx).is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        preferred(cx)
            .iter()
            .filter(|t| t.weight != 0 && term_matches(&t.preference, node.node()))
            .map(|t| i64::from(t.weight))
            .sum()
    }
    fn normalize(&self, _: &CycleContext<'_>, _: &CycleState, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, false, scores);
    }
    fn has_normalize(&self) -> bool {
        true
    }
}
