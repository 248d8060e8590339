//! GpuShare: the Filter of the FGD paper's `Open-Gpu-Share` plugin: a pod that asks for GPU
//! fits a node whose model it accepts and that has enough devices with enough free milli-GPU.
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator`
//! `pkg/simulator/plugin/open_gpu_share.go` (`Filter`) and
//! `pkg/type/open-gpu-share/cache/gpunodeinfo.go` (`AllocateGpuId`). Its Reserve (device
//! choice) is [`crate::scheduler::framework::Plugin::select_gpus`] of the score plugin.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, Plugin, Points, Status};

pub struct GpuShare;

/// Reason when the node has no GPU, or not of a model the pod accepts.
pub const ERR_MODEL: &str = "node(s) didn't have a matching GPU model";
/// Reason when the devices lack free milli-GPU.
pub const ERR_INSUFFICIENT: &str = "Insufficient alibabacloud.com/gpu-milli";

impl Plugin for GpuShare {
    fn name(&self) -> &'static str {
        "GpuShare"
    }
    fn points(&self) -> Points {
        Points::FILTER
    }
    fn filter(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> Status {
        let Some(req) = &cx.info.gpu else {
            return Status::success();
        };
        match &node.gpus {
            Some(g) if req.accepts_model(&g.model) => {
                if g.fits(req) {
                    Status::success()
                } else {
                    Status::unschedulable(ERR_INSUFFICIENT)
                }
            }
            _ => Status::unresolvable(ERR_MODEL),
        }
    }
}
