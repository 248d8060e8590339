//! GpuPacking: prefers partly used GPUs, then free GPUs on partly used nodes, then free
//! nodes; GPU shares go to the tightest device (`-gpusel best`).
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator`
//! `pkg/simulator/plugin/gpu_packing_score.go` (`getPackingScore`):
//! - node entirely free: `max(33 − free GPUs, free GPUs)`;
//! - otherwise take devices fitting the pod, least free first: if some are fully free,
//!   `max(50 − fully free devices used, 33)`;
//! - else `max(100 − Σ (free milli-GPU × 100 / 1000) / 10, 50)` over the devices used;
//! - 0 for a pod that asks for no GPU.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points};
use crate::scheduler::gpu::{self, GpuRequest, MILLI};

pub struct GpuPacking;

/// `getPackingScore` for `req` on devices with free milli-GPU `left`.
pub fn packing_score(left: &[i64], req: &GpuRequest) -> i64 {
    let fully_free = left.iter().filter(|&&l| l == MILLI).count() as i64;
    if fully_free == left.len() as i64 {
        return (MAX_NODE_SCORE / 3 - fully_free).max(fully_free);
    }
    let mut order: Vec<usize> = (0..left.len()).collect();
    order.sort_by_key(|&d| left[d]);
    let mut need = req.count;
    let mut used = Vec::new();
    let mut free_used = 0i64;
    for d in order {
        if need == 0 {
            break;
        }
        if req.milli <= left[d] {
            need -= 1;
            used.push(d);
            if left[d] == MILLI {
                free_used += 1;
            }
        }
    }
    if need != 0 {
        return 0;
    }
    if free_used > 0 {
        return (MAX_NODE_SCORE / 2 - free_used).max(MAX_NODE_SCORE / 3);
    }
    let ratio: i64 = used.iter().map(|&d| left[d] * 100 / MILLI).sum();
    (MAX_NODE_SCORE - ratio / 10).max(MAX_NODE_SCORE / 2)
}

impl Plugin for GpuPacking {
    fn name(&self) -> &'static str {
        "GpuPacking"
    }
    fn points(&self) -> Points {
        Points::new(false, false, false, true)
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        match (&cx.info.gpu, &node.gpus) {
            (Some(req), Some(g)) => packing_score(&g.left, req),
            _ => 0,
        }
    }
    fn select_gpus(
        &self,
        cx: &CycleContext<'_>,
        node: &NodeInfo,
        _: &mut crate::sim::RngStream,
    ) -> Option<Vec<usize>> {
        let (_, left, _) = gpu::node_free(node);
        gpu::select_best(left, cx.info.gpu.as_ref()?)
    }
}
