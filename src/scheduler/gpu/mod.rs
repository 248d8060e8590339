//! GPU devices as the FGD paper's cluster has them: per-node GPU model and per-device
//! free milli-GPU, and pods that ask for whole GPUs or a milli-share of one GPU.
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator` (Weng et al., ATC'23),
//! `pkg/type/open-gpu-share/utils/{const,pod,node}.go`, `pkg/type/resource.go`
//! (`NodeResource`, `PodResource`, `AllocateExclusiveGpuId`) and
//! `pkg/simulator/plugin/open_gpu_share.go` (Filter, Reserve, the `best`/`random` GPU
//! selection rules).
//!
//! - A node has GPUs when it carries allocatable `alibabacloud.com/gpu-count` > 0; every
//!   device holds 1,000 milli-GPU; its model is the label `alibabacloud.com/gpu-card-model`.
//! - A pod asks for GPUs through annotations: `alibabacloud.com/gpu-milli` (per GPU,
//!   clamped to 0..=1000), `alibabacloud.com/gpu-count` (default 1 when milli > 0) and
//!   optionally `alibabacloud.com/gpu-card-model` (`|`-separated allowed models). A pod
//!   with `gpu-milli` ≤ 0 uses no GPU (upstream's filter passes it).
//! - Which devices a pod sits on is recorded per pod ([`NodeGpus::pods`]); a pod that
//!   carries `alibabacloud.com/gpu-index` (`0-3-5`, as open-gpu-share's Reserve writes it)
//!   is put on those devices, otherwise on the tightest-fitting ones (upstream's default
//!   `best` rule).
//!
//! Simplification: the paper's simulator also keeps the device assignment in a node
//! annotation (`scheduler-simon/gpu-share`); kubesim keeps it only in the scheduler cache.

pub mod frag;
pub mod replay;
pub mod trace;

use std::collections::BTreeMap;

use rand::RngExt;

use crate::api::objects::ObjectKey;
use crate::api::objects::node::Node;
use crate::api::objects::pod::Pod;
use crate::api::quantity::Quantity;

/// Pod annotation: milli-GPU per requested GPU (1..=1000).
pub const ANNO_GPU_MILLI: &str = "alibabacloud.com/gpu-milli";
/// Pod annotation and node allocatable: number of GPUs.
pub const ANNO_GPU_COUNT: &str = "alibabacloud.com/gpu-count";
/// Node label and pod annotation: GPU model (pods: `|`-separated allowed models).
pub const GPU_MODEL: &str = "alibabacloud.com/gpu-card-model";
/// Pod annotation: the devices a pod is assigned to, joined by `-`.
pub const ANNO_GPU_INDEX: &str = "alibabacloud.com/gpu-index";
/// Milli-GPU in one device (`MILLI`).
pub const MILLI: i64 = 1000;
/// Largest node CPU in the trace (`MaxSpecCpu`, milli-CPU), used to normalize scores.
pub const MAX_SPEC_CPU: i64 = 128_000;
/// Largest node GPU in the trace (`MaxSpecGpu`, 8 GPUs in milli-GPU).
pub const MAX_SPEC_GPU: i64 = 8_000;
/// Most devices per node that kubesim accepts (bounds per-node loops and memo keys).
pub const MAX_GPUS_PER_NODE: usize = 64;

/// What a pod asks of GPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuRequest {
    /// Number of GPUs (≥ 1).
    pub count: u32,
    /// Milli-GPU per GPU (1..=1000); 1000 means whole GPUs.
    pub milli: i64,
    /// Allowed models; empty means any.
    pub models: Vec<String>,
    /// Devices the pod is pinned to (`gpu-index`), empty when not assigned yet.
    pub devices: Vec<usize>,
}

impl GpuRequest {
    /// The GPU request of `pod`, `None` when it asks for no GPU.
    pub fn from_pod(pod: &Pod) -> Option<GpuRequest> {
        let a = &pod.metadata.annotations;
        let milli = a
            .get(ANNO_GPU_MILLI)
            .and_then(|v| v.parse::<Quantity>().ok())
            .map(|q| q.value())
            .unwrap_or(0)
            .min(MILLI);
        if milli <= 0 {
            return None;
        }
        let count = a
            .get(ANNO_GPU_COUNT)
            .and_then(|v| v.parse::<Quantity>().ok())
            .map(|q| q.value())
            .unwrap_or(1)
            .clamp(1, MAX_GPUS_PER_NODE as i64) as u32;
        let models = a
            .get(GPU_MODEL)
            .map(|s| {
                s.split('|')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let devices = a
            .get(ANNO_GPU_INDEX)
            .map(|s| parse_devices(s))
            .unwrap_or_default();
        Some(GpuRequest {
            count,
            milli,
            models,
            devices,
        })
    }

    /// Total milli-GPU (`TotalMilliGpu`).
    pub fn total_milli(&self) -> i64 {
        self.milli * i64::from(self.count)
    }

    /// A share of one GPU (`IsGpuShare`).
    pub fn is_share(&self) -> bool {
        self.count == 1 && self.milli < MILLI
    }

    /// Whether a node of `model` may host the pod (`IsNodeAccessibleToPodByType`).
    pub fn accepts_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// GpuClustering's affinity tag: `share-gpu` or `<n>-gpu`
    /// (`GetGpuAffinityFromPodAnnotation`).
    pub fn affinity_tag(&self) -> String {
        if self.is_share() {
            "share-gpu".to_string()
        } else {
            format!("{}-gpu", self.count)
        }
    }
}

/// Parses `0-3-5` into device indexes; anything malformed gives an empty list.
pub fn parse_devices(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.split('-') {
        match part.trim().parse::<usize>() {
            Ok(i) if i < MAX_GPUS_PER_NODE && !out.contains(&i) => out.push(i),
            _ => return Vec::new(),
        }
    }
    out
}

/// Formats device indexes as `gpu-index` does (`0-3-5`).
pub fn format_devices(devices: &[usize]) -> String {
    devices
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// The GPUs of one node and who sits on them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeGpus {
    /// GPU model (label), possibly empty.
    pub model: String,
    /// Free milli-GPU per device, by device index.
    pub left: Vec<i64>,
    /// Each GPU pod on the node: its devices and its per-device milli-GPU.
    pub pods: Vec<(ObjectKey, Vec<usize>, i64)>,
    /// GPU pods on the node by affinity tag (GpuClustering's `GpuAffinity`).
    pub affinity: BTreeMap<String, u32>,
}

impl NodeGpus {
    /// The node's GPUs, `None` for a node without `alibabacloud.com/gpu-count`.
    pub fn from_node(node: &Node) -> Option<NodeGpus> {
        let count = node
            .status
            .allocatable
            .get(ANNO_GPU_COUNT)
            .or_else(|| node.status.capacity.get(ANNO_GPU_COUNT))
            .map(|q| q.value())
            .unwrap_or(0)
            .clamp(0, MAX_GPUS_PER_NODE as i64) as usize;
        if count == 0 {
            return None;
        }
        Some(NodeGpus {
            model: node
                .metadata
                .labels
                .get(GPU_MODEL)
                .cloned()
                .unwrap_or_default(),
            left: vec![MILLI; count],
            pods: Vec::new(),
            affinity: BTreeMap::new(),
        })
    }

    /// Number of devices.
    pub fn count(&self) -> usize {
        self.left.len()
    }

    /// Free milli-GPU over all devices (`GetTotalMilliGpuLeft`).
    pub fn total_left(&self) -> i64 {
        self.left.iter().sum()
    }

    /// Devices entirely free (`GetFullyFreeGpuNum`).
    pub fn fully_free(&self) -> usize {
        self.left.iter().filter(|&&l| l == MILLI).count()
    }

    /// Whether the pod fits on some set of devices (model, then `count` devices with at
    /// least `milli` free each; `CanNodeHostPodOnGpuMemory`).
    pub fn fits(&self, req: &GpuRequest) -> bool {
        req.accepts_model(&self.model) && can_host(&self.left, req.milli, req.count)
    }

    /// Puts the pod on `devices` when they are valid and fit, else on the tightest-fitting
    /// devices ([`select_best`]). Returns the devices used (empty if it did not fit: the
    /// caller's filters let an over-committed pod through, which is not tracked further).
    pub fn add(&mut self, key: &ObjectKey, req: &GpuRequest) -> Vec<usize> {
        let pinned = req.devices.len() == req.count as usize
            && req
                .devices
                .iter()
                .all(|&d| d < self.left.len() && self.left[d] >= req.milli);
        let devices = if pinned {
            req.devices.clone()
        } else {
            select_best(&self.left, req).unwrap_or_default()
        };
        for &d in &devices {
            self.left[d] -= req.milli;
        }
        if !devices.is_empty() {
            self.pods.push((key.clone(), devices.clone(), req.milli));
            *self.affinity.entry(req.affinity_tag()).or_insert(0) += 1;
        }
        devices
    }

    /// Frees the devices of the pod with `key`.
    pub fn remove(&mut self, key: &ObjectKey, req: &GpuRequest) {
        let Some(i) = self.pods.iter().position(|(k, _, _)| k == key) else {
            return;
        };
        let (_, devices, milli) = self.pods.remove(i);
        for d in devices {
            self.left[d] = (self.left[d] + milli).min(MILLI);
        }
        let tag = req.affinity_tag();
        if let Some(n) = self.affinity.get_mut(&tag) {
            *n -= 1;
            if *n == 0 {
                self.affinity.remove(&tag);
            }
        }
    }
}

/// A node's free CPU (`allocatable − requested`, milli-CPU), free milli-GPU per device and
/// GPU model, as the paper's `NodeResource` (empty device list for a node without GPUs).
pub fn node_free(node: &crate::scheduler::cache::NodeInfo) -> (i64, &[i64], &str) {
    let cpu_left = node.allocatable.milli_cpu - node.requested.milli_cpu;
    match &node.gpus {
        Some(g) => (cpu_left, &g.left, &g.model),
        None => (cpu_left, &[], ""),
    }
}

/// Reserve: the devices for the pod on `node`, chosen by the profile's highest-weight score
/// plugin (the paper's scripts make it Open-Gpu-Share's `gpuSelMethod`), else by
/// [`select_best`]. `None` for a pod without GPU request or when nothing fits.
pub fn reserve_devices(
    profile: &crate::scheduler::config::Profile,
    cx: &crate::scheduler::framework::CycleContext<'_>,
    node: &crate::scheduler::cache::NodeInfo,
    rng: &mut crate::sim::RngStream,
) -> Option<Vec<usize>> {
    let req = cx.info.gpu.as_ref()?;
    let mut top: Option<(usize, i64)> = None;
    for &(i, w) in &profile.score {
        if top.is_none_or(|(_, tw)| w > tw) {
            top = Some((i, w));
        }
    }
    top.and_then(|(i, _)| profile.plugins[i].select_gpus(cx, node, rng))
        .or_else(|| select_best(node_free(node).1, req))
}

/// The pod with `alibabacloud.com/gpu-index` set to `devices` (what open-gpu-share's Reserve
/// patches onto the pod), so the cache and the bound object agree.
pub fn pinned(
    info: &crate::scheduler::cache::PodInfo,
    devices: &[usize],
) -> Option<crate::scheduler::cache::PodInfo> {
    let mut obj = (*info.pod).clone();
    if let crate::api::objects::Object::Pod(p) = &mut obj {
        p.metadata
            .annotations
            .insert(ANNO_GPU_INDEX.to_string(), format_devices(devices));
    }
    crate::scheduler::cache::PodInfo::new(std::sync::Arc::new(obj))
}

/// Whether `count` devices have at least `milli` free each.
pub fn can_host(left: &[i64], milli: i64, count: u32) -> bool {
    left.iter().filter(|&&l| l >= milli).count() >= count as usize
}

/// `AllocateExclusiveGpuId`: the first `count` fully free devices by index.
pub fn exclusive_devices(left: &[i64], count: u32) -> Option<Vec<usize>> {
    let ids: Vec<usize> = (0..left.len())
        .filter(|&d| left[d] == MILLI)
        .take(count as usize)
        .collect();
    (ids.len() == count as usize).then_some(ids)
}

/// The `best` rule (`allocateGpuIdBasedOnBestFit`): a share goes to the device with the
/// least free milli-GPU that still fits it (lowest index among equals); whole GPUs go to
/// the first fully free devices.
pub fn select_best(left: &[i64], req: &GpuRequest) -> Option<Vec<usize>> {
    if req.milli < MILLI {
        let mut best: Option<usize> = None;
        for (d, &l) in left.iter().enumerate() {
            if l >= req.milli && best.is_none_or(|b| l < left[b]) {
                best = Some(d);
            }
        }
        best.map(|d| vec![d])
    } else {
        exclusive_devices(left, req.count)
    }
}

/// The `random` rule (`allocateGpuIdBasedOnRandomFit`): a share goes to a device drawn
/// uniformly among those that fit it; whole GPUs go to the first fully free devices.
pub fn select_random(
    left: &[i64],
    req: &GpuRequest,
    rng: &mut crate::sim::RngStream,
) -> Option<Vec<usize>> {
    if req.milli < MILLI {
        let fit: Vec<usize> = (0..left.len()).filter(|&d| left[d] >= req.milli).collect();
        if fit.is_empty() {
            return None;
        }
        Some(vec![fit[rng.random_range(0..fit.len())]])
    } else {
        exclusive_devices(left, req.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(count: u32, milli: i64) -> GpuRequest {
        GpuRequest {
            count,
            milli,
            models: Vec::new(),
            devices: Vec::new(),
        }
    }

    #[test]
    fn best_rule_picks_the_tightest_device_and_first_free_whole_gpus() {
        let left = [1000, 300, 500, 1000];
        assert_eq!(select_best(&left, &req(1, 250)), Some(vec![1]));
        assert_eq!(select_best(&left, &req(1, 400)), Some(vec![2]));
        assert_eq!(select_best(&left, &req(2, 1000)), Some(vec![0, 3]));
        assert_eq!(select_best(&left, &req(3, 1000)), None);
    }

    #[test]
    fn pinned_devices_are_used_and_released() {
        let mut n = NodeGpus {
            left: vec![MILLI; 4],
            ..NodeGpus::default()
        };
        let key = ObjectKey::new(crate::api::objects::Kind::Pod, "d", "p");
        let mut r = req(1, 600);
        r.devices = vec![2];
        assert_eq!(n.add(&key, &r), vec![2]);
        assert_eq!(n.left, vec![1000, 1000, 400, 1000]);
        assert_eq!(n.affinity.get("share-gpu"), Some(&1));
        n.remove(&key, &r);
        assert_eq!(n.left, vec![MILLI; 4]);
        assert!(n.affinity.is_empty());
    }

    #[test]
    fn device_lists_parse_and_reject_garbage() {
        assert_eq!(parse_devices("0-3-5"), vec![0, 3, 5]);
        assert_eq!(parse_devices("1-x"), Vec::<usize>::new());
        assert_eq!(format_devices(&[0, 3]), "0-3");
    }
}
