//! DotProduct: Tetris-style alignment of the pod's demand with the node's free resources,
//! the FGD paper's `-DotProd -dimext merge -norm max`; GPU shares go to the tightest device
//! (`-gpusel best`, which the paper's scripts keep for `merge`).
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator`
//! `pkg/simulator/plugin/dot_product_score.go`, `pkg/utils/utils.go`
//! (`GenerateSchedulingMatchGroups`), `pkg/type/resource.go` (`ToVirtualNodeResourceList`).
//!
//! - Node vector: (free CPU / 128 CPU, free milli-GPU over all devices / 8,000); pod vector:
//!   (CPU / 128 CPU, total milli-GPU / 8,000). No vector when the node lacks the CPU.
//! - Score: `int(100 × (1 − dot / 2))`: the smaller the product, the higher the score.
//!
//! Only `dimExtMethod: merge` and `normMethod: max` (the paper's configuration) are
//! implemented; other values are rejected.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points};
use crate::scheduler::gpu::{self, MAX_SPEC_CPU, MAX_SPEC_GPU};

/// DotProduct's args (`GpuPluginCfg`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DotProductArgs {
    pub dim_ext_method: Option<String>,
    pub norm_method: Option<String>,
}

pub struct DotProduct;

impl DotProduct {
    pub fn new(args: DotProductArgs) -> Result<DotProduct, String> {
        if args.dim_ext_method.as_deref().is_some_and(|m| m != "merge") {
            return Err("DotProduct args: dimExtMethod: only \"merge\" is supported".into());
        }
        if args.norm_method.as_deref().is_some_and(|m| m != "max") {
            return Err("DotProduct args: normMethod: only \"max\" is supported".into());
        }
        Ok(DotProduct)
    }
}

/// The score of a pod (`cpu`, `gpu_total` milli) on a node with `cpu_left` and `gpu_left`.
pub fn dot_product_score(cpu_left: i64, gpu_left: i64, cpu: i64, gpu_total: i64) -> i64 {
    if cpu_left < cpu {
        return 0;
    }
    let (cs, gs) = (MAX_SPEC_CPU as f64, MAX_SPEC_GPU as f64);
    let dot = (cpu_left as f64 / cs) * (cpu as f64 / cs)
        + (gpu_left as f64 / gs) * (gpu_total as f64 / gs);
    let score = 1.0 - dot / 2.0;
    (MAX_NODE_SCORE as f64 * score) as i64
}

impl Plugin for DotProduct {
    fn name(&self) -> &'static str {
        "DotProduct"
    }
    fn points(&self) -> Points {
        Points::new(false, false, false, true)
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        let (cpu_left, left, _) = gpu::node_free(node);
        let gpu_total = cx.info.gpu.as_ref().map_or(0, |g| g.total_milli());
        dot_product_score(
            cpu_left,
            left.iter().sum(),
            cx.info.non_zero.milli_cpu,
            gpu_total,
        )
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
