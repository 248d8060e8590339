//! NodePorts (`framework/plugins/nodeports`): a pod's host ports must be free on the node.
//! Same protocol and port conflict when the host IPs are equal or either is 0.0.0.0.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, Plugin, Points, Status};

pub struct NodePorts;

impl Plugin for NodePorts {
    /// Reads only the pod and the node.
    fn node_local(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "NodePorts"
    }
    fn points(&self) -> Points {
        Points::new(true, true, false, false)
    }
    fn pre_filter(&self, cx: &CycleContext<'_>, _: &mut CycleState) -> Status {
        if cx.info.host_ports.is_empty() {
            return Status::skip();
        }
        Status::success()
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        let conflict = cx.info.host_ports.iter().any(|want| {
            node.used_ports.iter().any(|used| {
                used.protocol == want.protocol
                    && used.port == want.port
                    && (used.ip == want.ip || used.ip.is_empty() || want.ip.is_empty())
            })
        });
        if conflict {
            Status::unschedulable("node(s) didn't have free ports for the requested pod ports")
        } else {
            Status::success()
        }
    }
}
