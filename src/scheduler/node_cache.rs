//! Per-node results of the plugins whose Filter and Score read nothing but the pod, the
//! node's own [`NodeInfo`] and the set of nodes ([`Plugin::node_local`]), kept across
//! scheduling cycles.
//!
//! Consecutive pods of one workload are identical for these plugins, and a cycle changes at
//! most one node (the one the pod is assumed on), so the next cycle can reuse the other
//! nodes' results instead of running NodeResourcesFit, TaintToleration, NodeAffinity,
//! BalancedAllocation, ImageLocality … again on each of them. An entry is valid for one
//! pod *shape* (namespace, labels, spec and priority equal to the pod that filled it), one
//! node state ([`NodeInfo::generation`], new on every change of that node) and one node set
//! ([`Snapshot::nodes_generation`], new on every Node added, changed or removed). Plugins
//! that read other nodes' pods (PodTopologySpread, InterPodAffinity) always run.
//!
//! Only a *passed* Filter is cached (a failure carries reasons the FitError message needs,
//! so failing nodes are filtered again), and only raw scores (NormalizeScore runs each
//! cycle over the feasible nodes), plus, per node, the weighted sum of the node-local
//! plugins that have no NormalizeScore (their part of the node's total depends on nothing
//! else, so a cycle reads one number per node for them). Results equal plain
//! re-computation exactly:
//! `tests/scheduler_memo.rs` compares the two on random clusters.
//!
//! [`Plugin::node_local`]: super::framework::Plugin::node_local
//! [`Snapshot::nodes_generation`]: super::cache::Snapshot::nodes_generation

use std::sync::Arc;

use crate::api::objects::{Object, pod::Pod};

use super::cache::{NodeInfo, PodInfo};
use super::framework::MAX_NODE_SCORE;

#[derive(Clone, Debug, Default)]
struct Entry {
    shape: u64,
    generation: u64,
    nodes_generation: u64,
    filter_passed: bool,
    /// Bit `i`: `scores[i]` holds profile plugin `i`'s raw score.
    valid: u64,
    scores: Vec<i64>,
    /// The plugins (bit `i`: profile plugin `i`) whose weighted scores `sum` adds up; 0
    /// when `sum` is not filled.
    sum_mask: u64,
    sum: i64,
}

impl Entry {
    /// Plugin `plugin`'s raw score (`plugin` < [`MAX_CACHED_PLUGINS`]), computed on a miss.
    fn score(&mut self, plugin: usize, compute: impl FnOnce() -> i64) -> i64 {
        let bit = 1u64 << plugin;
        if self.valid & bit != 0 {
            return self.scores[plugin];
        }
        let s = compute();
        if self.scores.len() <= plugin {
            self.scores.resize(plugin + 1, 0);
        }
        self.scores[plugin] = s;
        self.valid |= bit;
        s
    }
}

/// The cache (one per scheduler).
#[derive(Default)]
pub struct NodeCache {
    shape: u64,
    /// The pod (and its priority) that started the current shape.
    last: Option<(Arc<Object>, i32)>,
    nodes_generation: u64,
    /// By [`NodeInfo::slot`].
    entries: Vec<Entry>,
}

/// Most plugins per profile whose scores are cached (bits of [`Entry::valid`]).
pub const MAX_CACHED_PLUGINS: usize = 64;

fn same_shape(p: &Pod, priority: i32, b: &PodInfo) -> bool {
    let q = b.pod();
    priority == b.priority
        && p.metadata.namespace == q.metadata.namespace
        && p.metadata.labels == q.metadata.labels
        && p.spec == q.spec
}

impl NodeCache {
    /// Starts a cycle for `pod` in a snapshot at `nodes_generation`: entries filled for an
    /// identical earlier pod stay usable.
    pub fn begin(&mut self, pod: &PodInfo, nodes_generation: u64) {
        let same = match &self.last {
            Some((obj, priority)) => match &**obj {
                Object::Pod(p) => same_shape(p, *priority, pod),
                _ => false,
            },
            None => false,
        };
        if !same {
            self.shape += 1;
            self.last = Some((pod.pod.clone(), pod.priority));
        }
        self.nodes_generation = nodes_generation;
    }

    fn entry(&mut self, node: &NodeInfo) -> &mut Entry {
        if self.entries.len() <= node.slot {
            self.entries.resize(node.slot + 1, Entry::default());
        }
        let (shape, nodes_generation) = (self.shape, self.nodes_generation);
        let e = &mut self.entries[node.slot];
        if e.shape != shape
            || e.generation != node.generation
            || e.nodes_generation != nodes_generation
        {
            e.shape = shape;
            e.generation = node.generation;
            e.nodes_generation = nodes_generation;
            e.filter_passed = false;
            e.valid = 0;
            e.sum_mask = 0;
        }
        e
    }

    /// Whether the node-local Filters passed on `node` for this shape and node state.
    pub fn filter_passed(&mut self, node: &NodeInfo) -> bool {
        self.entry(node).filter_passed
    }

    pub fn set_filter_passed(&mut self, node: &NodeInfo) {
        self.entry(node).filter_passed = true;
    }

    /// One visit of `node`'s entry: returns `Σ clamp(score, 0, MAX_NODE_SCORE) · weight`
    /// over `summed` (profile index, weight; indexes below [`MAX_CACHED_PLUGINS`], none
    /// with a NormalizeScore, so a node's contribution to its total does not depend on the
    /// other nodes), whose bits are `mask`, and hands `raw(j, score)` the raw score of each
    /// plugin `local[j]` (node-local plugins with a NormalizeScore). `score(i)` computes
    /// plugin `i`'s raw score on a miss; a sum made before is one cached value.
    pub fn visit(
        &mut self,
        node: &NodeInfo,
        mask: u64,
        summed: &[(usize, i64)],
        local: &[usize],
        mut score: impl FnMut(usize) -> i64,
        mut raw: impl FnMut(usize, i64),
    ) -> i64 {
        let e = self.entry(node);
        for (j, &i) in local.iter().enumerate() {
            raw(j, e.score(i, || score(i)));
        }
        if mask != 0 && e.sum_mask == mask {
            return e.sum;
        }
        let mut sum = 0i64;
        for &(i, weight) in summed {
            let s = e.score(i, || score(i));
            sum += s.clamp(0, MAX_NODE_SCORE) * weight;
        }
        e.sum = sum;
        e.sum_mask = mask;
        sum
    }
}
