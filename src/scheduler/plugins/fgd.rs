//! FGD (fragmentation gradient descent): places a pod where it increases the node's GPU
//! fragmentation least, and a GPU share on the device that does.
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator` `pkg/simulator/plugin/fgd_score.go`
//! (`calculateGpuShareFragExtendScore`, `allocateGpuIdBasedOnFGDScore`), the measure in
//! [`crate::scheduler::gpu::frag`].
//!
//! - A share: for each device that fits it, the node's fragmentation after placing it
//!   there; the score is `int(sigmoid((before − after)/1000) × 100)`, best device wins
//!   (first index among equals), and that device is the one reserved.
//! - Whole GPUs or no GPU: the node after `NodeResource.Sub` (tightest devices); reserved
//!   on the first fully free devices.
//! - The typical pods come from the args (`typicalPods: [{milliCpu, milliGpu, gpuCount,
//!   models, frequency}]`, computed from the workload by
//!   [`crate::scheduler::gpu::frag::typical_pods`]); with none, every node scores 50.

use std::cell::RefCell;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleContext, CycleState, Plugin, Points};
use crate::scheduler::gpu::frag::{FragMemo, TypicalPod, fgd_score, sub_tightest};
use crate::scheduler::gpu::{self, MAX_GPUS_PER_NODE};

/// FGD's args.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FgdArgs {
    #[serde(default)]
    pub typical_pods: Vec<TypicalPod>,
    /// Accepted for the paper's configuration (`share`); ignored.
    pub dim_ext_method: Option<String>,
    /// Accepted for the paper's configuration (`max`); ignored.
    pub norm_method: Option<String>,
}

pub struct Fgd {
    memo: RefCell<FragMemo>,
}

impl Fgd {
    pub fn new(args: FgdArgs) -> Result<Fgd, String> {
        if let Some(t) = args
            .typical_pods
            .iter()
            .find(|t| !(0.0..=1.0).contains(&t.frequency))
        {
            return Err(format!(
                "FGD args: typicalPods: frequency {} not in [0, 1]",
                t.frequency
            ));
        }
        Ok(Fgd {
            memo: RefCell::new(FragMemo::new(args.typical_pods)),
        })
    }

    /// The score and the devices for the pod on `node`; `None` if it does not fit.
    fn evaluate(&self, cx: &CycleContext<'_>, node: &NodeInfo) -> (i64, Option<Vec<usize>>) {
        let (cpu_left, left, model) = gpu::node_free(node);
        let cpu = cx.info.non_zero.milli_cpu;
        let mut memo = self.memo.borrow_mut();
        let before = memo.frag(cpu_left, left, model);
        match &cx.info.gpu {
            Some(req) if req.is_share() => {
                let mut buf = [0i64; MAX_GPUS_PER_NODE];
                let n = left.len();
                buf[..n].copy_from_slice(left);
                let mut best: Option<(i64, usize)> = None;
                for d in 0..n {
                    // Devices with the same free milli-GPU give the same node state, and
                    // the first of them wins ties: evaluate each value once.
                    if left[d] < req.milli || left[..d].contains(&left[d]) {
                        continue;
                    }
                    buf[d] -= req.milli;
                    let after = memo.frag(cpu_left - cpu, &buf[..n], model);
                    buf[d] += req.milli;
                    let s = fgd_score(before, after);
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, d));
                    }
                }
                match best {
                    Some((s, d)) => (s, Some(vec![d])),
                    None => (0, None),
                }
            }
            req => {
                let (milli, count) = req.as_ref().map_or((0, 0), |r| (r.milli, r.count));
                let after_left = sub_tightest(left, milli, count).unwrap_or_else(|| left.to_vec());
                let after = memo.frag(cpu_left - cpu, &after_left, model);
                let devices = req
                    .as_ref()
                    .and_then(|r| gpu::exclusive_devices(left, r.count));
                (fgd_score(before, after), devices)
            }
        }
    }
}

impl Plugin for Fgd {
    fn name(&self) -> &'static str {
        "FGD"
    }
    fn points(&self) -> Points {
        Points::new(false, false, false, true)
    }
    fn score(&self, cx: &CycleContext<'_>, _: &CycleState, node: &NodeInfo) -> i64 {
        self.evaluate(cx, node).0
    }
    fn select_gpus(
        &self,
        cx: &CycleContext<'_>,
        node: &NodeInfo,
        _: &mut crate::sim::RngStream,
    ) -> Option<Vec<usize>> {
        cx.info.gpu.as_ref()?;
        self.evaluate(cx, node).1
    }
}
