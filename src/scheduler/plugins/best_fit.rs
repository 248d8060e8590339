//! BestFit: prefers the node whose free CPU and GPU the pod leaves smallest; GPU shares go
//! to the tightest device (`-gpusel best`).
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator`
//! `pkg/simulator/plugin/best_fit_score.go` (`getBestFitScore`) and `plugin_utils.go`
//! (`NormalizeScore`):
//! - raw score `int(100 × (1 − ½(free CPU − CPU)/128 CPU − ½(free GPU − GPU)/8 GPU))`;
//! - NormalizeScore rescales min..max to 0..100 (all equal: 0).
//!
//! Upstream returns an error status (failing the cycle) when the pod exceeds the node's
//! free CPU by its non-zero request; kubesim scores such a node 0 instead.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points};
use crate::scheduler::gpu::{self, MAX_SPEC_CPU, MAX_SPEC_GPU};

pub struct BestFit;

/// The raw BestFit score.
pub fn best_fit_score(cpu_left: i64, gpu_left: i64, cpu: i64, gpu_total: i64) -> i64 {
    if cpu_left < cpu || gpu_left < gpu_total {
        return 0;
    }
    let s = (cpu_left - cpu) as f64 / MAX_SPEC_CPU as f64 * 0.5
        + (gpu_left - gpu_total) as f64 / MAX_SPEC_GPU as f64 * 0.5;
    ((1.0 - s) * MAX_NODE_SCORE as f64) as i64
}

/// The simulator's min-max `NormalizeScore`.
pub fn min_max_normalize(scores: &mut [i64]) {
    let (Some(&lo), Some(&hi)) = (scores.iter().min(), scores.iter().max()) else {
        return;
    };
    for s in scores.iter_mut() {
        *s = if hi == lo {
            0
        } else {
            (*s - lo) * MAX_NODE_SCORE / (hi - lo)
        };
    }
}

impl Plugin for BestFit {
    fn name(&self) -> &'static str {
        "BestFit"
    }
    fn points(&self) -> Points {
        Points::new(false, false, false, true)
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        let (cpu_left, left, _) = gpu::node_free(node);
        let gpu_total = cx.info.gpu.as_ref().map_or(0, |g| g.total_milli());
        best_fit_score(
            cpu_left,
            left.iter().sum(),
            cx.info.non_zero.milli_cpu,
            gpu_total,
        )
    }
    fn normalize(&self, _: &CycleContext<'_>, _: &CycleState, scores: &mut [i64]) {
        min_max_normalize(scores);
    }
    fn has_normalize(&self) -> bool {
        true
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
