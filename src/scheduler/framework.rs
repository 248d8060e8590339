//! The scheduling framework: statuses, cycle state, and the plugin trait.
//!
//! Follows `pkg/scheduler/framework/interface.go` and `framework/runtime/framework.go`:
//! - Filters run in profile order and stop at the first non-success; that status is the
//!   node's status.
//! - A PreFilter returning `Skip` skips its plugin's Filter; a PreScore returning `Skip`
//!   removes the plugin from scoring for the cycle.
//! - Scores are 0..=100 after NormalizeScore; the weighted sum is the node's total.
//!
//! A plugin is one trait implementation in its own file under `plugins/`; a new policy adds a
//! file and a line in [`super::plugins::registry`].

use std::any::Any;
use std::borrow::Cow;

use crate::api::objects::pod::Pod;

use super::cache::{NodeInfo, PodInfo, Snapshot};

/// `MaxNodeScore` (`framework/interface.go`).
pub const MAX_NODE_SCORE: i64 = 100;

/// A plugin's verdict code, as upstream's `framework.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Code {
    Success,
    /// Preemption might help.
    Unschedulable,
    /// Preemption cannot help.
    UnschedulableAndUnresolvable,
    /// The plugin does not apply to this pod (PreFilter/PreScore only).
    Skip,
    /// An internal problem (bad configuration).
    Error,
}

/// One reason of a [`Status`]: a constant for most plugins (no allocation on the per-node
/// hot path, where most nodes may fail), formatted text for the rest.
pub type Reason = Cow<'static, str>;

/// A status's reasons: none, one (inline, so a failing node costs no allocation), or
/// several. Reads as a slice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Reasons {
    #[default]
    None,
    One(Reason),
    Many(Vec<Reason>),
}

impl Reasons {
    pub fn push(&mut self, r: impl Into<Reason>) {
        let r = r.into();
        *self = match std::mem::take(self) {
            Reasons::None => Reasons::One(r),
            Reasons::One(first) => Reasons::Many(vec![first, r]),
            Reasons::Many(mut v) => {
                v.push(r);
                Reasons::Many(v)
            }
        };
    }

    /// The reasons as owned strings (explain's JSON).
    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(|r| r.to_string()).collect()
    }
}

impl std::ops::Deref for Reasons {
    type Target = [Reason];
    fn deref(&self) -> &[Reason] {
        match self {
            Reasons::None => &[],
            Reasons::One(r) => std::slice::from_ref(r),
            Reasons::Many(v) => v,
        }
    }
}

impl<'a> IntoIterator for &'a Reasons {
    type Item = &'a Reason;
    type IntoIter = std::slice::Iter<'a, Reason>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A verdict with reasons (the strings FailedScheduling messages count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Reasons,
    /// The plugin that gave the verdict (filled by the framework).
    pub plugin: &'static str,
}

impl Status {
    pub fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Reasons::None,
            plugin: "",
        }
    }
    pub fn skip() -> Status {
        Status {
            code: Code::Skip,
            ..Status::success()
        }
    }
    pub fn new(code: Code, reason: impl Into<Reason>) -> Status {
        Status {
            code,
            reasons: Reasons::One(reason.into()),
            plugin: "",
        }
    }
    pub fn unschedulable(reason: impl Into<Reason>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }
    pub fn unresolvable(reason: impl Into<Reason>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }
}

/// Per-cycle plugin data (PreFilter/PreScore results), keyed by plugin name. A handful of
/// entries at most, so a vector beats hashing on the per-node hot path.
#[derive(Default)]
pub struct CycleState {
    data: Vec<(&'static str, Box<dyn Any>)>,
    /// Profile plugin indexes whose Filter is skipped this cycle (set by the framework when
    /// PreFilter returns Skip).
    pub skip_filter: Vec<usize>,
    /// Profile plugin indexes removed from scoring this cycle (PreScore returned Skip).
    pub skip_score: Vec<usize>,
    /// The profile's Filter plugins minus `skip_filter`, set once PreFilter has run (so the
    /// per-node loop checks no skip list); `None` before.
    pub active_filters: Option<Vec<usize>>,
}

impl CycleState {
    pub fn write<T: Any>(&mut self, key: &'static str, value: T) {
        match self.data.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.data.push((key, Box::new(value))),
        }
    }
    /// Per node on the Filter and Score hot paths: keys are compared by address first
    /// (the same constant), by content only when the addresses differ.
    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data
            .iter()
            .find(|(k, _)| std::ptr::eq(*k, key) || *k == key)
            .and_then(|(_, b)| b.downcast_ref())
    }
}

/// What every plugin call sees: the pod being scheduled and the cluster snapshot.
pub struct CycleContext<'a> {
    pub pod: &'a Pod,
    pub info: &'a PodInfo,
    pub snapshot: &'a Snapshot,
}

/// A scheduler plugin. Every method has a default that means "not at this extension point";
/// [`Plugin::points`] says which ones the plugin implements.
pub trait Plugin {
    fn name(&self) -> &'static str;

    fn points(&self) -> Points;

    /// PreFilter: may reject the pod outright or return Skip for its Filter.
    fn pre_filter(&self, _cx: &CycleContext<'_>, _state: &mut CycleState) -> Status {
        Status::success()
    }

    /// Filter: whether the pod fits `node`.
    fn filter(&self, _cx: &CycleContext<'_>, _state: &CycleState, _node: &NodeInfo) -> Status {
        Status::success()
    }

    /// PreScore over the feasible nodes; Skip removes the plugin from this cycle's scoring.
    fn pre_score(
        &self,
        _cx: &CycleContext<'_>,
        _state: &mut CycleState,
        _nodes: &[&NodeInfo],
    ) -> Status {
        Status::success()
    }

    /// Score one feasible node (raw; NormalizeScore may rescale).
    fn score(&self, _cx: &CycleContext<'_>, _state: &CycleState, _node: &NodeInfo) -> i64 {
        0
    }

    /// NormalizeScore over all feasible nodes' raw scores, in node order. Default: none.
    fn normalize(&self, _cx: &CycleContext<'_>, _state: &CycleState, _scores: &mut [i64]) {}

    /// Reserve-time GPU device choice for the pod on `node` (the FGD paper's `gpusel`), for
    /// GPU score plugins; `None` leaves the default rule ([`super::gpu::select_best`]).
    fn select_gpus(
        &self,
        _cx: &CycleContext<'_>,
        _node: &NodeInfo,
        _rng: &mut crate::sim::RngStream,
    ) -> Option<Vec<usize>> {
        None
    }

    /// Whether the plugin has a NormalizeScore: true whenever [`Plugin::normalize`] is
    /// implemented (explain's `normalized` column reads it, and the node cache sums the
    /// scores of node-local plugins without one across cycles).
    fn has_normalize(&self) -> bool {
        false
    }

    /// True when Filter and Score read nothing but the pod, the node's own [`NodeInfo`], the
    /// set of nodes and the plugin's configuration (not other nodes' pods, nor objects
    /// other than Nodes): their results may then be reused across cycles
    /// ([`super::node_cache`]). Default false (always run).
    fn node_local(&self) -> bool {
        false
    }
}

/// Extension points a plugin implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Points {
    pub pre_filter: bool,
    pub filter: bool,
    pub pre_score: bool,
    pub score: bool,
}

impl Points {
    pub const fn new(pre_filter: bool, filter: bool, pre_score: bool, score: bool) -> Points {
        Points {
            pre_filter,
            filter,
            pre_score,
            score,
        }
    }
    pub const FILTER: Points = Points::new(false, true, false, false);
    pub const ALL: Points = Points::new(true, true, true, true);
}

/// `DefaultNormalizeScore` (`framework/plugins/helper/normalize_score.go`): scale to
/// 0..=max by the maximum; `reverse` flips it. All-zero scores stay 0 (or `max` reversed).
pub fn default_normalize(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = max_priority * *s / max;
        if reverse {
            v = max_priority - v;
        }
        *s = v;
    }
}
