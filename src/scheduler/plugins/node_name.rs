//! NodeName (`framework/plugins/nodename`): a pod that names a node fits only that node.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, Plugin, Points, Status};

pub struct NodeName;

impl Plugin for NodeName {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "NodeName"
    }
    fn points(&self) -> Points {
        Points::FILTER
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        let want = &cx.pod.spec.node_name;
        if want.is_empty() || *want == node.name {
            Status::success()
        } else {
            Status::unresolvable("node(s) didn't match the requested node name")
        }
    }
}
