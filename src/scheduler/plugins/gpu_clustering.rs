//! GpuClustering: puts GPU pods of the same kind (share, 1-GPU, 2-GPU, ...) together and
//! prefers fuller nodes; GPU shares go to the tightest device (`-gpusel best`).
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator`
//! `pkg/simulator/plugin/gpu_clustering_score.go`. Score bands, each plus
//! `25 × (8,000 − free milli-GPU) / 8,000` (integer arithmetic):
//! - 75..100: every GPU pod on the node is of the pod's kind;
//! - 50..75: the node has pods of the pod's kind and of others;
//! - 25..50: the node has no GPU pod;
//! - 0..25: the node has only other kinds;
//! - 0 for a pod that asks for no GPU.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points};
use crate::scheduler::gpu::{self, MAX_SPEC_GPU};

pub struct GpuClustering;

impl Plugin for GpuClustering {
    fn name(&self) -> &'static str {
        "GpuClustering"
    }
    fn points(&self) -> Points {
        Points::new(false, false, false, true)
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        let Some(req) = &cx.info.gpu else {
            return 0;
        };
        let Some(g) = &node.gpus else {
            return 0;
        };
        let fill = MAX_NODE_SCORE / 4 * (MAX_SPEC_GPU - g.total_left()) / MAX_SPEC_GPU;
        let same = g.affinity.get(&req.affinity_tag()).copied().unwrap_or(0) > 0;
        let band = match (same, g.affinity.len()) {
            (true, 1) => 3,
            (true, _) => 2,
            (false, 0) => 1,
            (false, _) => 0,
        };
        fill + MAX_NODE_SCORE * band / 4
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
