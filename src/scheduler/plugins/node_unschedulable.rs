//! NodeUnschedulable (`framework/plugins/nodeunschedulable`): a cordoned node
//! (`spec.unschedulable`) admits only pods tolerating `node.kubernetes.io/unschedulable:NoSchedule`.

use crate::api::objects::node::Taint;
use crate::api::objects::pod::TaintEffect;
use crate::api::scheduling::tolerated;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, Plugin, Points, Status};

pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }
    fn points(&self) -> Points {
        Points::FILTER
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
            time_added: None,
        };
        if tolerated(&cx.pod.spec.tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable("node(s) were unschedulable")
        }
    }
}
