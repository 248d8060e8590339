//! The FGD paper's GPU fragmentation measure and its "typical pods" distribution.
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator` `pkg/utils/frag.go`
//! (`GetTypicalPods`, `GetNodePodFrag`, `NodeGpuShareFragAmount`,
//! `NodeGpuShareFragAmountScore`) and `pkg/type/resource.go` (`NodeResource.Sub`).
//!
//! - The typical pods are the pod shapes (CPU, milli-GPU per GPU, GPU count, allowed models)
//!   of the workload, most frequent first, taken until they cover 95% of the pods
//!   (`podPopularityThreshold` 95, step 1, CPU-only pods included, no GPU weighting: the
//!   paper's defaults), their frequencies renormalized to sum to 1.
//! - A node's fragmentation for one typical pod is the free GPU the pod could not use there:
//!   all of it when the pod does not fit (lacks CPU or GPU, wrong model) *and also when the
//!   pod asks for no GPU*; when it fits, the free milli-GPU of the devices too small for it.
//!   The node's fragmentation is the frequency-weighted sum (everything but the "Q3
//!   satisfied" share), in milli-GPU.
//! - Fragmentation depends only on the node's free CPU, the multiset of free milli-GPU per
//!   device and the model, so [`FragMemo`] remembers it by that key.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::{GpuRequest, MILLI, can_host};

/// One pod shape (`PodResource`).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct PodShape {
    /// Non-zero CPU request (milli-CPU).
    pub milli_cpu: i64,
    /// Milli-GPU per GPU (0 for CPU-only pods).
    pub milli_gpu: i64,
    /// Number of GPUs (0 for CPU-only pods).
    pub gpu_count: u32,
    /// Allowed GPU models joined by `|`; empty means any.
    #[serde(default)]
    pub models: String,
}

impl PodShape {
    /// The shape of a pod with `milli_cpu` (non-zero) and GPU request `gpu`.
    pub fn of(milli_cpu: i64, gpu: Option<&GpuRequest>) -> PodShape {
        match gpu {
            Some(g) => PodShape {
                milli_cpu,
                milli_gpu: g.milli,
                gpu_count: g.count,
                models: g.models.join("|"),
            },
            None => PodShape {
                milli_cpu,
                milli_gpu: 0,
                gpu_count: 0,
                models: String::new(),
            },
        }
    }

    fn accepts_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.split('|').any(|m| !m.is_empty() && m == model)
    }
}

/// A typical pod: a shape and its frequency (0..=1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypicalPod {
    #[serde(flatten)]
    pub shape: PodShape,
    pub frequency: f64,
}

/// Popularity threshold in percent of pods (`podPopularityThreshold`, the paper's 95).
pub const POPULARITY_THRESHOLD_PCT: u32 = 95;

/// `GetTypicalPods` with the paper's configuration: count shapes, sort by count descending
/// (ties: the larger shape first, as `sort.Reverse` of `TargetPodList.Less`), keep the most
/// frequent until they cover [`POPULARITY_THRESHOLD_PCT`] of the pods, renormalize.
pub fn typical_pods(shapes: &[PodShape]) -> Vec<TypicalPod> {
    let mut counts: BTreeMap<&PodShape, u64> = BTreeMap::new();
    for s in shapes {
        *counts.entry(s).or_insert(0) += 1;
    }
    let total = shapes.len() as f64;
    if total == 0.0 {
        return Vec::new();
    }
    let mut list: Vec<(&PodShape, u64)> = counts.into_iter().collect();
    // Descending by count, then descending by (cpu, milli-GPU, count, models).
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(a.0)));
    let expected = f64::from(POPULARITY_THRESHOLD_PCT) * total / 100.0;
    let mut cum = 0.0;
    let mut kept = 0;
    while cum < expected && kept < list.len() {
        cum += list[kept].1 as f64;
        kept += 1;
    }
    list.truncate(kept);
    list.into_iter()
        .map(|(s, n)| TypicalPod {
            shape: s.clone(),
            frequency: n as f64 / cum,
        })
        .collect()
}

/// `NodeGpuShareFragAmountScore`: the node's fragmented milli-GPU under `typical`.
pub fn node_frag(cpu_left: i64, gpu_left: &[i64], model: &str, typical: &[TypicalPod]) -> f64 {
    let total: i64 = gpu_left.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let mut frag = 0.0;
    for t in typical {
        let p = t.frequency;
        let s = &t.shape;
        let cpu_ok = cpu_left >= s.milli_cpu;
        // CPU-only pods (XL/XR), pods barred by model (NoAccess), and pods that lack CPU or
        // GPU (Q1, Q2, Q4): every free GPU counts as fragment for this pod.
        let satisfied = s.milli_gpu > 0
            && s.accepts_model(model)
            && cpu_ok
            && can_host(gpu_left, s.milli_gpu, s.gpu_count);
        if satisfied {
            // Q3: only the devices too small for the pod are fragment.
            let small: i64 = gpu_left.iter().filter(|&&l| l < s.milli_gpu).sum();
            frag += p * small as f64;
        } else {
            frag += p * total as f64;
        }
    }
    frag
}

/// `NodeResource.Sub`: the node after placing a pod on the tightest devices that fit
/// (ascending free milli-GPU, stable), `None` if it does not fit.
pub fn sub_tightest(gpu_left: &[i64], milli: i64, count: u32) -> Option<Vec<i64>> {
    let mut out = gpu_left.to_vec();
    if count == 0 {
        return Some(out);
    }
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&d| out[d]);
    let mut need = count;
    for d in order {
        if out[d] >= milli {
            out[d] -= milli;
            need -= 1;
            if need == 0 {
                return Some(out);
            }
        }
    }
    None
}

/// `sigmoid`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// FGD's score for a fragmentation decrease `before - after` (milli-GPU):
/// `int(sigmoid(Δ/1000) × 100)`.
pub fn fgd_score(before: f64, after: f64) -> i64 {
    (sigmoid((before - after) / MILLI as f64) * 100.0) as i64
}

/// Devices in a memo key (nodes with more devices are computed directly).
const MEMO_DEVICES: usize = 8;
/// Most remembered node states; the memo is cleared when it fills (bounded memory).
const MEMO_MAX: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    cpu_left: i64,
    model: u32,
    len: u8,
    left: [u16; MEMO_DEVICES],
}

impl std::hash::Hash for Key {
    /// Four words instead of one call per field and per byte: the memo is the replay's
    /// hottest path.
    fn hash<H: Hasher>(&self, h: &mut H) {
        let mut packed = [0u64; 2];
        for (i, &l) in self.left.iter().enumerate() {
            packed[i / 4] |= u64::from(l) << (16 * (i % 4));
        }
        h.write_u64(self.cpu_left as u64);
        h.write_u64(u64::from(self.model) << 8 | u64::from(self.len));
        h.write_u64(packed[0]);
        h.write_u64(packed[1]);
    }
}

/// FxHash's multiply-rotate mix: the memo is hit millions of times per replay and its keys
/// are not attacker-controlled, so SipHash's cost buys nothing. Never iterated.
#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Remembers [`node_frag`] by node state for one typical-pod distribution.
#[derive(Default)]
pub struct FragMemo {
    typical: Vec<TypicalPod>,
    models: Vec<String>,
    /// Whether any typical pod names a model (else the model does not matter).
    model_matters: bool,
    map: HashMap<Key, f64, BuildHasherDefault<FastHasher>>,
}

impl FragMemo {
    pub fn new(typical: Vec<TypicalPod>) -> FragMemo {
        let model_matters = typical.iter().any(|t| !t.shape.models.is_empty());
        FragMemo {
            typical,
            model_matters,
            ..FragMemo::default()
        }
    }

    pub fn typical(&self) -> &[TypicalPod] {
        &self.typical
    }

    /// [`node_frag`], remembered.
    pub fn frag(&mut self, cpu_left: i64, gpu_left: &[i64], model: &str) -> f64 {
        if gpu_left.len() > MEMO_DEVICES || gpu_left.iter().any(|&l| !(0..=MILLI).contains(&l)) {
            return node_frag(cpu_left, gpu_left, model, &self.typical);
        }
        let model_id = if self.model_matters {
            match self.models.iter().position(|m| m == model) {
                Some(i) => i as u32,
                None => {
                    self.models.push(model.to_string());
                    (self.models.len() - 1) as u32
                }
            }
        } else {
            0
        };
        let mut left = [0u16; MEMO_DEVICES];
        for (slot, &l) in left.iter_mut().zip(gpu_left) {
            *slot = l as u16;
        }
        left[..gpu_left.len()].sort_unstable();
        let key = Key {
            cpu_left,
            model: model_id,
            len: gpu_left.len() as u8,
            left,
        };
        if let Some(&v) = self.map.get(&key) {
            return v;
        }
        let v = node_frag(cpu_left, gpu_left, model, &self.typical);
        if self.map.len() >= MEMO_MAX {
            self.map.clear();
        }
        self.map.insert(key, v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cpu: i64, milli: i64, count: u32) -> PodShape {
        PodShape {
            milli_cpu: cpu,
            milli_gpu: milli,
            gpu_count: count,
            models: String::new(),
        }
    }

    #[test]
    fn typical_pods_keep_the_most_frequent_shapes_up_to_95_percent() {
        let mut shapes = vec![shape(1000, 500, 1); 90];
        shapes.extend(vec![shape(2000, 1000, 1); 6]);
        shapes.extend(vec![shape(4000, 0, 0); 4]);
        let t = typical_pods(&shapes);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].shape, shape(1000, 500, 1));
        assert!((t[0].frequency - 90.0 / 96.0).abs() < 1e-12);
        assert!((t[1].frequency - 6.0 / 96.0).abs() < 1e-12);
    }

    #[test]
    fn frag_counts_small_devices_for_fitting_pods_and_all_gpus_otherwise() {
        let typical = vec![TypicalPod {
            shape: shape(1000, 500, 1),
            frequency: 1.0,
        }];
        // Device 1 (300 free) is too small for the 500-milli pod.
        assert_eq!(node_frag(8000, &[1000, 300], "", &typical), 300.0);
        // No CPU left: all 1,300 free milli-GPU are fragment.
        assert_eq!(node_frag(0, &[1000, 300], "", &typical), 1300.0);
        // A CPU-only typical pod counts every free GPU as fragment.
        let cpu = vec![TypicalPod {
            shape: shape(1000, 0, 0),
            frequency: 1.0,
        }];
        assert_eq!(node_frag(8000, &[1000, 300], "", &cpu), 1300.0);
    }

    #[test]
    fn sub_takes_the_tightest_fitting_devices() {
        assert_eq!(
            sub_tightest(&[1000, 300, 600], 250, 1),
            Some(vec![1000, 50, 600])
        );
        assert_eq!(
            sub_tightest(&[1000, 300, 1000], 1000, 2),
            Some(vec![0, 300, 0])
        );
        assert_eq!(sub_tightest(&[1000, 300], 1000, 2), None);
    }
}
