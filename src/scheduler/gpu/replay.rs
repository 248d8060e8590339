//! The FGD paper's experiment: replay a pod list onto the GPU cluster under one policy and
//! record the GPU allocation as the workload arrives.
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator` `pkg/simulator/core.go`
//! (`SortClusterPods`), `simulator.go` (`TunePodsByNodeTotalResource`, `tuneUpPods`,
//! `tuneDownPods`), `experiments/analysis/merge_alloc_discrete.py`,
//! `scripts/generate_config_and_run.py` and `experiments/run_scripts/generate_run_scripts.py`.
//!
//! Protocol, one run per (policy, seed):
//! 1. Pods in name order, shuffled (ChaCha8 stream `fgd-replay` of the seed; upstream uses
//!    Go's `math/rand`, so the orders differ: the comparison is statistical).
//! 2. Top-up to 130% of the cluster's milli-GPU: draw pods of the original list uniformly and
//!    append copies (`<name>-tuned-<i>`) until the next one would pass the target (the stop
//!    test adds the candidate's per-GPU milli-GPU, the running sum its total, as upstream);
//!    a list above the target loses uniformly drawn pods instead.
//! 3. Pods arrive one at a time and never finish. Each goes through one scheduling cycle of
//!    a profile with `NodeResourcesFit` and `GpuShare` as filters and the policy as the only
//!    score plugin (weight 1000), over all nodes (`percentageOfNodesToScore: 100`); a pod
//!    that fits nowhere is dropped. Ties go to the smallest node name, as in the paper's
//!    simulator (whose vendored `selectHost` does that instead of kube-scheduler's uniform
//!    draw; [`TieBreak::Random`] gives kube-scheduler's rule). The winner's devices come
//!    from the policy's `select_gpus`.
//! 4. At each whole percent k = 0..=130 of arrived GPU request (the first pod whose arrival
//!    reaches k% of capacity), the allocated milli-GPU and the cluster's fragmentation
//!    (typical pods of the original list) are recorded; the last percent, which the top-up
//!    misses by less than one pod, gets the final state.
//!
//! This drives [`crate::scheduler::cycle`] directly on a [`Snapshot`]: no API store, no
//! kubelet, no watch latency, no binding; the plugins and cycle code are the scheduler's.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::RngExt;
use rand::seq::SliceRandom;

use crate::api::objects::Object;
use crate::api::objects::node::Node;
use crate::api::objects::pod::Pod;
use crate::scheduler::cache::{NodeInfo, PodInfo, Snapshot};
use crate::scheduler::config::{KubeSchedulerConfiguration, Profile, SchedulerConfig};
use crate::scheduler::cycle;
use crate::scheduler::framework::{CycleContext, CycleState, MAX_NODE_SCORE};
use crate::scheduler::gpu::frag::{FragMemo, PodShape, TypicalPod, typical_pods};
use crate::scheduler::gpu::trace::TracePod;
use crate::scheduler::gpu::{self, GpuRequest, NodeGpus};
use crate::sim::RngFactory;

/// The paper's six policies, in its order.
pub const POLICIES: &[&str] = &[
    "Random",
    "DotProduct",
    "GpuClustering",
    "GpuPacking",
    "BestFit",
    "FGD",
];

/// The paper's workload inflation (`workloadTuningConfig.ratio`).
pub const TUNE_RATIO: f64 = 1.3;
/// Last sampled percent of arrived GPU request.
pub const MAX_ARRIVED_PCT: u32 = 130;

/// A trace ready to replay: nodes and pods as objects, plus what the protocol needs.
pub struct Trace {
    pub nodes: Vec<Arc<Object>>,
    /// Pods in file order (the top-up draws from this list).
    pub pods: Vec<TracePod>,
    pods_obj: Vec<Pod>,
    /// Each pod's shape: rows equal but for the name share one (the fast path's cache key).
    shape_of: Vec<usize>,
    num_shapes: usize,
    /// Total milli-GPU of the cluster.
    pub capacity_milli: i64,
    /// The typical pods of the pod list (FGD's distribution and the fragmentation metric).
    pub typical: Vec<TypicalPod>,
}

impl Trace {
    pub fn new(nodes: Vec<Node>, pods: Vec<TracePod>) -> Result<Trace, String> {
        let capacity_milli = nodes
            .iter()
            .filter_map(NodeGpus::from_node)
            .map(|g| g.count() as i64 * gpu::MILLI)
            .sum::<i64>();
        if capacity_milli <= 0 {
            return Err("the node list has no GPU".into());
        }
        if pods.is_empty() {
            return Err("the pod list is empty".into());
        }
        // Rows equal but for the name are one shape: its Pod object and PodShape are built
        // once (through `TracePod::to_pod`) and copied with the row's name.
        let mut ids: BTreeMap<(i64, i64, i64, i64, &str), usize> = BTreeMap::new();
        let mut shape_of = Vec::with_capacity(pods.len());
        let mut templates: Vec<(Pod, PodShape)> = Vec::new();
        for p in &pods {
            let key = (
                p.milli_cpu,
                p.memory_mib,
                p.num_gpu,
                p.gpu_milli,
                p.gpu_spec.as_str(),
            );
            let next = ids.len();
            let id = *ids.entry(key).or_insert(next);
            if id == templates.len() {
                let pod = p.to_pod()?;
                let cpu = crate::api::resources::pod_non_zero_requests(&pod.spec).milli_cpu;
                let shape = PodShape::of(cpu, GpuRequest::from_pod(&pod).as_ref());
                templates.push((pod, shape));
            }
            shape_of.push(id);
        }
        let pods_obj: Vec<Pod> = pods
            .iter()
            .zip(&shape_of)
            .map(|(p, &id)| {
                let mut pod = templates[id].0.clone();
                pod.metadata.name.clone_from(&p.name);
                pod
            })
            .collect();
        let shapes: Vec<PodShape> = shape_of.iter().map(|&id| templates[id].1.clone()).collect();
        let num_shapes = ids.len();
        Ok(Trace {
            shape_of,
            num_shapes,
            nodes: nodes
                .into_iter()
                .map(|n| Arc::new(Object::Node(n)))
                .collect(),
            typical: typical_pods(&shapes),
            pods,
            pods_obj,
            capacity_milli,
        })
    }

    /// The scheduler configuration of the replay for `policy` (a KubeSchedulerConfiguration
    /// any scenario could hold).
    pub fn scheduler_config(&self, policy: &str, seed: u64) -> serde_json::Value {
        let mut plugin_config = Vec::new();
        if policy == "Random" {
            plugin_config.push(serde_json::json!({"name": "Random", "args": {"seed": seed}}));
        }
        if policy == "FGD" {
            plugin_config.push(serde_json::json!({
                "name": "FGD",
                "args": {"typicalPods": self.typical, "dimExtMethod": "share", "normMethod": "max"},
            }));
        }
        if policy == "DotProduct" {
            plugin_config.push(serde_json::json!({
                "name": "DotProduct",
                "args": {"dimExtMethod": "merge", "normMethod": "max"},
            }));
        }
        serde_json::json!({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "percentageOfNodesToScore": 100,
            "profiles": [{
                "schedulerName": "fgd-replay",
                "plugins": {
                    "multiPoint": {"disabled": [{"name": "*"}]},
                    "filter": {"enabled": [{"name": "NodeResourcesFit"}, {"name": "GpuShare"}]},
                    "preFilter": {"enabled": [{"name": "NodeResourcesFit"}]},
                    "preScore": {"enabled": [{"name": policy}]},
                    "score": {"enabled": [{"name": policy, "weight": 1000}]},
                },
                "pluginConfig": plugin_config,
            }],
        })
    }

    /// Arrival order for `seed`: indexes into [`Trace::pods`] with the tuned copy number
    /// (`None` for an original pod).
    pub fn arrivals(&self, rng: &mut crate::sim::RngStream) -> Vec<(usize, Option<usize>)> {
        let mut order: Vec<usize> = (0..self.pods.len()).collect();
        order.sort_by(|&a, &b| self.pods[a].name.cmp(&self.pods[b].name));
        order.shuffle(rng);
        let mut list: Vec<(usize, Option<usize>)> = order.into_iter().map(|i| (i, None)).collect();
        let target = TUNE_RATIO * self.capacity_milli as f64;
        let mut total: i64 = self.pods.iter().map(TracePod::total_milli).sum();
        let n = self.pods.len();
        if (total as f64) < target {
            // Bounded: every accepted copy adds ≥ 0; stop after as many copies as fit in
            // the target even for 1-milli pods.
            for copy in 0..(target as usize + n) {
                let idx = rng.random_range(0..n);
                let p = &self.pods[idx];
                if (total + p.gpu_milli) as f64 > target {
                    break;
                }
                total += p.total_milli();
                list.push((idx, Some(copy)));
            }
        } else {
            while (total as f64) > target && !list.is_empty() {
                let k = rng.random_range(0..list.len());
                let (idx, _) = list.remove(k);
                total -= self.pods[idx].total_milli();
            }
        }
        list
    }
}

/// One point of an allocation curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Arrived GPU request, percent of capacity.
    pub arrived_pct: u32,
    /// Allocated milli-GPU.
    pub allocated_milli: i64,
    /// Fragmented milli-GPU of the cluster (sum of the nodes' fragmentation).
    pub frag_milli: f64,
    /// Pods that arrived so far, and those that could not be placed.
    pub arrived_pods: usize,
    pub failed_pods: usize,
}

/// One replay's result.
#[derive(Clone, Debug)]
pub struct Curve {
    pub policy: String,
    pub seed: u64,
    pub capacity_milli: i64,
    pub samples: Vec<Sample>,
}

impl Curve {
    /// Unallocated GPU at `pct` arrived, in percent of capacity (the paper's metric).
    pub fn unallocated_pct_at(&self, pct: u32) -> Option<f64> {
        let s = self.samples.iter().find(|s| s.arrived_pct == pct)?;
        Some(100.0 - 100.0 * s.allocated_milli as f64 / self.capacity_milli as f64)
    }
}

fn build_profile(trace: &Trace, policy: &str, seed: u64) -> Result<Profile, String> {
    let cfg: KubeSchedulerConfiguration =
        serde_json::from_value(trace.scheduler_config(policy, seed))
            .map_err(|e| format!("scheduler configuration: {e}"))?;
    let mut sc = SchedulerConfig::from_config(&cfg)?;
    if sc.profiles.len() != 1 {
        return Err("expected one profile".into());
    }
    Ok(sc.profiles.remove(0))
}

/// How host selection breaks ties between nodes with the highest score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TieBreak {
    /// The smallest node name, as the paper's simulator (its vendored `selectHost` was
    /// changed "for reproducibility").
    #[default]
    Name,
    /// Uniformly at random, as kube-scheduler (and kubesim's scheduler) does.
    Random,
}

/// The node with the highest total, the smallest name among equals (`rank`: each node's
/// place in name order, by slot).
fn select_host_by_name(totals: &[i64], nodes: &[&NodeInfo], rank: &[usize]) -> Option<usize> {
    let max = *totals.iter().max()?;
    let key = |i: usize| rank.get(nodes[i].slot).copied().unwrap_or(usize::MAX);
    (0..totals.len())
        .filter(|&i| totals[i] == max)
        .min_by(|&a, &b| {
            key(a)
                .cmp(&key(b))
                .then_with(|| nodes[a].name.cmp(&nodes[b].name))
        })
}

/// Each node's place in name order, by slot.
fn name_ranks(snapshot: &Snapshot) -> Vec<usize> {
    let mut by_name: Vec<&NodeInfo> = snapshot.nodes().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rank = vec![usize::MAX; snapshot.nodes().map(|n| n.slot + 1).max().unwrap_or(0)];
    for (r, n) in by_name.iter().enumerate() {
        rank[n.slot] = r;
    }
    rank
}

/// How each scheduling cycle of a replay runs. Both give the same curves
/// (`tests/fgd_replay.rs` compares them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Filter verdicts and raw scores of the row-local plugins ([`row_local`]) are kept per
    /// (trace row shape, node state) and reused until the node changes; the cluster's
    /// fragmentation is kept per node state.
    #[default]
    Fast,
    /// The scheduler's `cycle.rs` phases over every node for every pod, and the cluster's
    /// fragmentation summed from scratch at each sample: the plain re-computation the fast
    /// path is tested against.
    Plain,
}

/// Plugins, besides the scheduler's [`node_local`](crate::scheduler::framework::Plugin::node_local)
/// ones, whose Filter and Score read nothing but the pod's requests and GPU annotations, the
/// node's own state and their configuration. They are not `node_local()` in the scheduler
/// because its node cache tells pods apart by spec and labels, not annotations; here a
/// cache entry is for one trace-row shape, which fixes the whole pod but its name.
const ROW_LOCAL: &[&str] = &[
    "GpuShare",
    "DotProduct",
    "GpuClustering",
    "GpuPacking",
    "BestFit",
    "FGD",
];

/// Whether `plugin`'s Filter and Score results may be reused for another pod of the same
/// trace-row shape on an unchanged node.
pub fn row_local(plugin: &dyn crate::scheduler::framework::Plugin) -> bool {
    plugin.node_local() || ROW_LOCAL.contains(&plugin.name())
}

/// Score plugins (by position in the profile's score list) whose raw scores are cached.
const CACHED_SCORES: usize = 2;
/// Most cache entries (shapes × nodes); shapes past it are not cached (bounded memory).
const MAX_ENTRIES: usize = 1 << 24;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// The [`NodeInfo::generation`](crate::scheduler::cache::NodeInfo::generation) the
    /// entry is for; `filled` false means empty.
    generation: u64,
    filled: bool,
    feasible: bool,
    /// Bit `k`: `scores[k]` holds the raw score of the profile's `k`-th score plugin.
    valid: u8,
    scores: [i64; CACHED_SCORES],
}

/// Per (shape, node slot) results of the row-local Filters and Scores.
struct RowCache {
    slots: usize,
    shapes: usize,
    nodes_generation: u64,
    entries: Vec<Entry>,
}

impl RowCache {
    fn new(snapshot: &Snapshot, shapes: usize) -> RowCache {
        let slots = snapshot.nodes().map(|n| n.slot + 1).max().unwrap_or(0);
        let shapes = shapes.min(MAX_ENTRIES / slots.max(1));
        RowCache {
            slots,
            shapes,
            nodes_generation: snapshot.nodes_generation,
            entries: vec![Entry::default(); slots * shapes],
        }
    }

    /// The entry of `shape` on `node`, emptied when the node changed since it was filled;
    /// `None` when not cached.
    fn entry(&mut self, shape: usize, node: &NodeInfo) -> Option<&mut Entry> {
        if shape >= self.shapes || node.slot >= self.slots {
            return None;
        }
        let e = &mut self.entries[shape * self.slots + node.slot];
        if !e.filled || e.generation != node.generation {
            *e = Entry {
                generation: node.generation,
                ..Entry::default()
            };
        }
        Some(e)
    }
}

/// Replays `trace` under `policy` with `seed` ([`Mode::Fast`]).
pub fn replay(
    trace: &Trace,
    policy: &str,
    seed: u64,
    tie_break: TieBreak,
) -> Result<Curve, String> {
    replay_with(trace, policy, seed, tie_break, Mode::Fast)
}

/// Buffers reused from one cycle to the next.
#[derive(Default)]
struct Buffers {
    feasible: Vec<usize>,
    norm: Vec<i64>,
    totals: Vec<i64>,
}

/// The chosen node and the devices for the pod there.
type Placement = (String, Option<Vec<usize>>);

/// Host selection and Reserve over the scored `nodes`.
fn pick(
    profile: &Profile,
    cx: &CycleContext<'_>,
    nodes: &[&NodeInfo],
    totals: &[i64],
    rank: &[usize],
    tie_break: TieBreak,
    rng: &mut crate::sim::RngStream,
) -> Placement {
    let pick = match tie_break {
        TieBreak::Name => select_host_by_name(totals, nodes, rank),
        TieBreak::Random => cycle::select_host(totals, rng),
    }
    .unwrap_or(0);
    let node = nodes[pick];
    let devices = gpu::reserve_devices(profile, cx, node, rng);
    (node.name.clone(), devices)
}

/// One cycle through `cycle.rs` ([`Mode::Plain`]).
fn plain_cycle(
    profile: &Profile,
    cx: &CycleContext<'_>,
    node_cache: &mut crate::scheduler::node_cache::NodeCache,
    rank: &[usize],
    tie_break: TieBreak,
    rng: &mut crate::sim::RngStream,
) -> Option<Placement> {
    let mut state = CycleState::default();
    cycle::pre_filter(profile, cx, &mut state).ok()?;
    let num_nodes = cx.snapshot.len();
    let feas = cycle::find_feasible(profile, cx, &state, 0, num_nodes, Some(node_cache));
    if feas.feasible.is_empty() {
        return None;
    }
    let nodes: Vec<_> = feas.feasible.iter().map(|&i| cx.snapshot.at(i)).collect();
    let (totals, _) = cycle::prioritize(profile, cx, &mut state, &nodes, false, Some(node_cache));
    Some(pick(profile, cx, &nodes, &totals, rank, tie_break, rng))
}

/// One cycle with the row cache ([`Mode::Fast`]): the same phases as [`plain_cycle`] (no
/// pods are nominated in a replay, so Filter is [`cycle::filter_node`] on every node), the
/// row-local plugins' results reused for pods of the same `shape` on unchanged nodes.
#[allow(clippy::too_many_arguments)]
fn fast_cycle(
    profile: &Profile,
    cx: &CycleContext<'_>,
    cache: &mut RowCache,
    shape: usize,
    buf: &mut Buffers,
    rank: &[usize],
    tie_break: TieBreak,
    rng: &mut crate::sim::RngStream,
) -> Option<Placement> {
    let mut state = CycleState::default();
    cycle::pre_filter(profile, cx, &mut state).ok()?;
    let snapshot = cx.snapshot;
    if cache.nodes_generation != snapshot.nodes_generation {
        // A Node was added or changed: the node-local results may differ.
        *cache = RowCache::new(snapshot, cache.shapes);
    }
    let filters = state.active_filters.as_deref().unwrap_or(&profile.filter);
    let cache_filters = filters.iter().all(|&i| row_local(&*profile.plugins[i]));
    buf.feasible.clear();
    for i in 0..snapshot.len() {
        let node = snapshot.at(i);
        let ok = match cache.entry(shape, node).filter(|_| cache_filters) {
            Some(e) if e.filled => e.feasible,
            Some(e) => {
                e.feasible = cycle::filter_node(profile, cx, &state, node, None).is_success();
                e.filled = true;
                e.feasible
            }
            None => cycle::filter_node(profile, cx, &state, node, None).is_success(),
        };
        if ok {
            buf.feasible.push(i);
        }
    }
    if buf.feasible.is_empty() {
        return None;
    }
    let nodes: Vec<&NodeInfo> = buf.feasible.iter().map(|&i| snapshot.at(i)).collect();
    // PreScore, Score, NormalizeScore as `cycle::prioritize`.
    for &i in &profile.pre_score {
        let s = profile.plugins[i].pre_score(cx, &mut state, &nodes);
        if s.is_skip() && !state.skip_score.contains(&i) {
            state.skip_score.push(i);
        }
    }
    buf.totals.clear();
    buf.totals.resize(nodes.len(), 0);
    buf.norm.resize(nodes.len(), 0);
    for (k, &(i, weight)) in profile.score.iter().enumerate() {
        if state.skip_score.contains(&i) {
            continue;
        }
        let p = &profile.plugins[i];
        let norm = &mut buf.norm[..nodes.len()];
        if k < CACHED_SCORES && cache_filters && row_local(&**p) {
            let bit = 1u8 << k;
            for (s, n) in norm.iter_mut().zip(&nodes) {
                *s = match cache.entry(shape, n) {
                    // The entry was filled by this cycle's Filter pass (it is feasible).
                    Some(e) if e.valid & bit != 0 => e.scores[k],
                    Some(e) => {
                        let v = p.score(cx, &state, n);
                        e.scores[k] = v;
                        e.valid |= bit;
                        v
                    }
                    None => p.score(cx, &state, n),
                };
            }
        } else {
            for (s, n) in norm.iter_mut().zip(&nodes) {
                *s = p.score(cx, &state, n);
            }
        }
        p.normalize(cx, &state, norm);
        for (t, s) in buf.totals.iter_mut().zip(norm.iter()) {
            *t += (*s).clamp(0, MAX_NODE_SCORE) * weight;
        }
    }
    Some(pick(profile, cx, &nodes, &buf.totals, rank, tie_break, rng))
}

/// Replays `trace` under `policy` with `seed`, each cycle run as `mode` says.
pub fn replay_with(
    trace: &Trace,
    policy: &str,
    seed: u64,
    tie_break: TieBreak,
    mode: Mode,
) -> Result<Curve, String> {
    if !POLICIES.contains(&policy) {
        return Err(format!("unknown policy {policy:?} (one of {POLICIES:?})"));
    }
    let profile = build_profile(trace, policy, seed)?;
    let factory = RngFactory::new(seed);
    let mut order_rng = factory.stream("fgd-replay");
    let mut sched_rng = factory.stream("fgd-replay/scheduler");
    let arrivals = trace.arrivals(&mut order_rng);

    let mut snapshot = Snapshot::default();
    for n in &trace.nodes {
        snapshot.upsert_node(n.clone());
    }
    let mut metric = FragMemo::new(trace.typical.clone());
    // Each node's fragmentation for the metric, by slot, with the generation it is for.
    let mut node_frag: Vec<Option<(u64, f64)>> = Vec::new();
    let cap = trace.capacity_milli;
    let mut samples = Vec::with_capacity(MAX_ARRIVED_PCT as usize + 1);
    let mut record = |k: u32, snap: &Snapshot, alloc: i64, arrived: usize, failed: usize| {
        let mut frag = 0.0;
        for n in snap.nodes() {
            let (cpu, left, model) = gpu::node_free(n);
            frag += match mode {
                Mode::Plain => metric.frag(cpu, left, model),
                Mode::Fast => {
                    if node_frag.len() <= n.slot {
                        node_frag.resize(n.slot + 1, None);
                    }
                    match node_frag[n.slot] {
                        Some((g, v)) if g == n.generation => v,
                        _ => {
                            let v = metric.frag(cpu, left, model);
                            node_frag[n.slot] = Some((n.generation, v));
                            v
                        }
                    }
                }
            };
        }
        samples.push(Sample {
            arrived_pct: k,
            allocated_milli: alloc,
            frag_milli: frag,
            arrived_pods: arrived,
            failed_pods: failed,
        });
    };
    record(0, &snapshot, 0, 0, 0);
    let mut next_k = 1u32;
    let (mut arrived_milli, mut alloc_milli, mut failed) = (0i64, 0i64, 0usize);
    let mut node_cache = crate::scheduler::node_cache::NodeCache::default();
    let mut row_cache = RowCache::new(&snapshot, trace.num_shapes);
    let mut buf = Buffers::default();
    let rank = name_ranks(&snapshot);
    for (count, &(idx, copy)) in arrivals.iter().enumerate() {
        let tp = &trace.pods[idx];
        let mut pod = trace.pods_obj[idx].clone();
        if let Some(c) = copy {
            pod.metadata.name = format!("{}-tuned-{c}", tp.name);
        }
        let Some(mut info) = PodInfo::new(Arc::new(Object::Pod(pod))) else {
            return Err("internal: not a pod".into());
        };
        let placed = {
            let cx = CycleContext {
                pod: info.pod(),
                info: &info,
                snapshot: &snapshot,
            };
            match mode {
                Mode::Plain => {
                    node_cache.begin(&info, snapshot.nodes_generation);
                    plain_cycle(
                        &profile,
                        &cx,
                        &mut node_cache,
                        &rank,
                        tie_break,
                        &mut sched_rng,
                    )
                }
                Mode::Fast => fast_cycle(
                    &profile,
                    &cx,
                    &mut row_cache,
                    trace.shape_of[idx],
                    &mut buf,
                    &rank,
                    tie_break,
                    &mut sched_rng,
                ),
            }
        };
        match placed {
            Some((node, devices)) => {
                if let (Some(g), Some(d)) = (info.gpu.as_mut(), devices) {
                    g.devices = d;
                }
                alloc_milli += tp.total_milli();
                snapshot.add_pod(Arc::new(info), &node);
            }
            None => {
                failed += 1;
            }
        }
        arrived_milli += tp.total_milli();
        while next_k <= MAX_ARRIVED_PCT && arrived_milli * 100 >= i64::from(next_k) * cap {
            record(next_k, &snapshot, alloc_milli, count + 1, failed);
            next_k += 1;
        }
    }
    // The top-up stops just short of 130% (the next pod would pass it): the last whole
    // percent is within one pod of the end, so it gets the final state.
    if next_k <= MAX_ARRIVED_PCT && arrived_milli * 100 > (i64::from(next_k) - 1) * cap {
        record(next_k, &snapshot, alloc_milli, arrivals.len(), failed);
    }
    Ok(Curve {
        policy: policy.to_string(),
        seed,
        capacity_milli: cap,
        samples,
    })
}
