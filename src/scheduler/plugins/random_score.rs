//! Random: the FGD paper's baseline that places a pod on a feasible node drawn uniformly,
//! and a GPU share on a fitting device drawn uniformly (`-gpusel random`).
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator`
//! `pkg/simulator/plugin/random_score.go` and `open_gpu_share.go`
//! (`allocateGpuIdBasedOnRandomFit`): PreScore draws one feasible node, which scores 100,
//! every other node 0.
//!
//! Plugins have no access to the scheduler's random stream, so the plugin owns a ChaCha8
//! stream keyed by its args' `seed` (default 0): a run stays reproducible from the
//! configuration alone.

use std::cell::RefCell;

use rand::RngExt;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status,
};
use crate::scheduler::gpu;
use crate::sim::{RngFactory, RngStream};

/// Random's args.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RandomArgs {
    /// Seed of the plugin's stream.
    #[serde(default)]
    pub seed: u64,
}

pub struct RandomScore {
    rng: RefCell<RngStream>,
}

const STATE_KEY: &str = "PreScore-Random";

impl RandomScore {
    pub fn new(args: RandomArgs) -> RandomScore {
        RandomScore {
            rng: RefCell::new(RngFactory::new(args.seed).stream("plugin/Random")),
        }
    }
}

impl Plugin for RandomScore {
    fn name(&self) -> &'static str {
        "Random"
    }
    fn points(&self) -> Points {
        Points::new(false, false, true, true)
    }
    fn pre_score(
        &self,
        _: &CycleContext<'_>,
        state: &mut CycleState,
        nodes: &[&NodeInfo],
    ) -> Status {
        if !nodes.is_empty() {
            let i = self.rng.borrow_mut().random_range(0..nodes.len());
            state.write(STATE_KEY, nodes[i].name.clone());
        }
        Status::success()
    }
    fn score(&self, _: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> i64 {
        match state.read::<String>(STATE_KEY) {
            Some(n) if *n == node.name => MAX_NODE_SCORE,
            _ => 0,
        }
    }
    fn select_gpus(
        &self,
        cx: &CycleContext<'_>,
        node: &NodeInfo,
        rng: &mut crate::sim::RngStream,
    ) -> Option<Vec<usize>> {
        let (_, left, _) = gpu::node_free(node);
        gpu::select_random(left, cx.info.gpu.as_ref()?, rng)
    }
}
