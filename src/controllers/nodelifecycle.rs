//! The node lifecycle controller (one component named `node-lifecycle-controller`), after
//! `pkg/controller/nodelifecycle/node_lifecycle_controller.go` and
//! `pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go` (v1.32+ defaults).
//!
//! - **Health.** Every `nodeMonitorPeriod` (5 s) a monitor tick runs. A node's probe timestamp
//!   is the tick at which the controller last saw a heartbeat: a change of the Ready
//!   condition's `lastHeartbeatTime`, or a newer Lease `renewTime` (upstream stamps
//!   `probeTimestamp = now()` at the tick that observes it, not the renewal time). At the
//!   first tick with `now > probe + grace` (grace 50 s; 60 s while the node has never posted a
//!   Ready condition) Ready, MemoryPressure, DiskPressure and PIDPressure become `Unknown`
//!   (`NodeStatusUnknown`, "Kubelet stopped posting node status."; missing ones are added as
//!   `NodeStatusNeverUpdated`). A node whose Ready turns from True to not True that tick gets
//!   a `NodeNotReady` event and all its pods get `Ready=False` (`MarkPodsNotReady`).
//! - **NoSchedule taints** follow the conditions on every node update (not rate limited):
//!   Ready False ⇒ `not-ready`, Unknown ⇒ `unreachable`, pressure conditions ⇒ their taints,
//!   `spec.unschedulable` ⇒ `unschedulable`.
//! - **NoExecute taints.** At each tick, a node observed (as listed at the tick's start) with
//!   Ready False/Unknown joins its zone's rate-limited queue; a pass every 100 ms adds
//!   `not-ready:NoExecute` or `unreachable:NoExecute` (swapping the other) through the zone's
//!   token bucket (burst 1). A Ready node loses both and leaves the queue.
//! - **Zones** (`ComputeZoneState`): no Ready node ⇒ FullDisruption; more than 2 not Ready
//!   and at least `unhealthyZoneThreshold` (0.55) of the zone ⇒ PartialDisruption; else
//!   Normal. Rates: Normal and FullDisruption 0.1 nodes/s, PartialDisruption 0.01 when the
//!   zone has more than 50 nodes, else 0. When every zone is in FullDisruption all
//!   not-ready/unreachable NoExecute taints are removed and tainting stops; leaving that
//!   mode resets every probe timestamp.
//!
//! Cost: a healthy node costs nothing per tick. Its Lease is renewed on demand
//! ([`crate::api::objects::Lease::renew_time_at`]); while it renews at an interval no longer
//! than the grace period it cannot expire, so only nodes without a renewing Lease sit in an
//! expiry index ordered by `probe + grace`, and each tick visits the expired ones plus the
//! nodes that are not Ready, carry a controller NoExecute taint or wait in a taint queue.
//! The 100 ms tainting pass is a timer armed only while some queue can make progress.
//!
//! Simplifications: renewals computed on demand count as seen at the first tick at or after
//! the renewal (the watch latency of a written renewal is not added); nodes are processed in
//! name order (upstream: 8 parallel workers); a node waiting in a taint queue keeps its place
//! (upstream re-adds it at every tick, which reorders waiting nodes arbitrarily); the taint
//! added and the one removed by a swap are one write (upstream: two PATCHes); status writes
//! and pod status patches read the live object, so they do not conflict or retry; DaemonSet
//! pods are marked not ready like others (as upstream); node label reconciliation (beta OS
//! and arch labels) is not modelled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::{Condition, ConditionStatus, Time, find_condition};
use crate::api::objects::node::{Node, Taint};
use crate::api::objects::pod::TaintEffect;
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::{WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{EventId, SimDuration, SimTime};

use super::ControllersConfig;
use super::workqueue::WorkQueue;

/// Upstream `scheduler.NodeEvictionPeriod`: how often the NoExecute tainting pass runs.
pub const NODE_EVICTION_PERIOD: SimDuration = SimDuration::from_millis(100);
/// Upstream retry delay of a queued node that has no Ready condition (plus 1 ns).
const NO_CONDITION_RETRY: SimDuration = SimDuration::from_nanos(50_000_001);

pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// Nodes with this label are left out of zone disruption counts.
pub const LABEL_EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";
/// The Lease namespace of node heartbeats.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Conditions set to Unknown when a node stops posting status (NetworkUnavailable is
/// managed by the control plane and left alone, as upstream).
const HEALTH_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

const TOKEN_TICK: u64 = 1;
const TOKEN_PASS: u64 = 2;

const WATCH_NODES: usize = 0;
const WATCH_LEASES: usize = 1;
const WATCH_PODS: usize = 2;

/// A zone's state (`ZoneState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Initial,
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// Upstream `ComputeZoneState` from the counts of Ready and not-Ready nodes (a node without
/// a Ready condition counts as not Ready). The ratio is computed in `float32`, as upstream.
pub fn compute_zone_state(ready: usize, not_ready: usize, unhealthy_threshold: f32) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2
        && (not_ready as f32) / ((not_ready + ready) as f32) >= unhealthy_threshold
    {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The NoExecute tainting rate of a zone in `state` with `zone_size` nodes
/// (`setLimiterInZone`: `HealthyQPSFunc` and `ReducedQPSFunc`); 0 everywhere when every
/// zone is in FullDisruption (`handleDisruption`).
pub fn zone_qps(
    cfg: &ControllersConfig,
    state: ZoneState,
    zone_size: usize,
    all_zones_full: bool,
) -> f32 {
    if all_zones_full {
        return 0.0;
    }
    match state {
        ZoneState::PartialDisruption => {
            if zone_size as i64 > i64::from(cfg.large_cluster_size_threshold) {
                cfg.secondary_node_eviction_rate
            } else {
                0.0
            }
        }
        _ => cfg.node_eviction_rate,
    }
}

/// client-go's token bucket with burst 1 over `golang.org/x/time/rate` (float64 tokens from
/// a float32 QPS), or the never-accepting limiter for QPS 0.
#[derive(Clone, Debug, PartialEq)]
pub enum Limiter {
    /// `last`: the time of the last accepted take (the bucket is empty then); `None` = full.
    Bucket {
        qps: f32,
        last: Option<SimTime>,
    },
    Never,
}

/// Go's `time.Duration.Seconds()`.
fn go_seconds(d: SimDuration) -> f64 {
    let n = d.as_nanos();
    (n / 1_000_000_000) as f64 + (n % 1_000_000_000) as f64 / 1e9
}

impl Limiter {
    /// A full bucket (`NewTokenBucketRateLimiter(qps, 1)`), or `Never` for QPS ≤ 0.
    pub fn new(qps: f32) -> Limiter {
        if qps > 0.0 {
            Limiter::Bucket { qps, last: None }
        } else {
            Limiter::Never
        }
    }

    /// Upstream's never-accepting limiter reports a QPS of 1, so swapping a stopped zone to
    /// exactly 1 node/s keeps it stopped; kept as upstream.
    fn qps(&self) -> f32 {
        match self {
            Limiter::Bucket { qps, .. } => *qps,
            Limiter::Never => 1.0,
        }
    }

    fn would_accept(&self, now: SimTime) -> bool {
        match self {
            Limiter::Never => false,
            Limiter::Bucket { last: None, .. } => true,
            Limiter::Bucket { qps, last: Some(l) } => {
                go_seconds(now.saturating_since(*l)) * f64::from(*qps) >= 1.0
            }
        }
    }

    /// `TryAccept`: takes the token if there is one.
    pub fn try_accept(&mut self, now: SimTime) -> bool {
        if !self.would_accept(now) {
            return false;
        }
        if let Limiter::Bucket { last, .. } = self {
            *last = Some(now);
        }
        true
    }

    /// `SwapLimiter`: a fresh bucket at `qps` (drained if the old one had no token), unless
    /// the rate is unchanged.
    pub fn swap(&mut self, qps: f32, now: SimTime) {
        if self.qps() == qps {
            return;
        }
        let mut next = Limiter::new(qps);
        if let Limiter::Bucket { last, .. } = &mut next
            && !self.try_accept(now)
        {
            *last = Some(now);
        }
        *self = next;
    }

    /// The first time on the grid `k · step` at or after `from` at which a take succeeds.
    fn next_accept(&self, from: SimTime, step: SimDuration) -> Option<SimTime> {
        let mut t = match self {
            Limiter::Never => return None,
            Limiter::Bucket { last: None, .. } => from,
            Limiter::Bucket { qps, last: Some(l) } => {
                let refill = (1e9 / f64::from(*qps)).ceil();
                let refill = if refill.is_finite() && refill < 1e18 {
                    refill as u64
                } else {
                    return None;
                };
                from.max(l.saturating_add(SimDuration::from_nanos(refill)))
            }
        };
        t = grid_ceil(t, step);
        // Float rounding may put the refill one grid step later; a few steps suffice.
        for _ in 0..4 {
            if self.would_accept(t) {
                return Some(t);
            }
            t = t.saturating_add(step);
        }
        Some(t)
    }
}

/// The first multiple of `step` at or after `t`.
fn grid_ceil(t: SimTime, step: SimDuration) -> SimTime {
    let s = step.as_nanos().max(1);
    SimTime::from_nanos(t.as_nanos().div_ceil(s).saturating_mul(s))
}

/// Upstream `nodetopology.GetZoneKey`: region and zone (beta labels first).
pub fn zone_key(node: &Node) -> String {
    let l = &node.metadata.labels;
    let zone = l
        .get("failure-domain.beta.kubernetes.io/zone")
        .or_else(|| l.get("topology.kubernetes.io/zone"))
        .map(String::as_str)
        .unwrap_or("");
    let region = l
        .get("failure-domain.beta.kubernetes.io/region")
        .or_else(|| l.get("topology.kubernetes.io/region"))
        .map(String::as_str)
        .unwrap_or("");
    if zone.is_empty() && region.is_empty() {
        String::new()
    } else {
        format!("{region}:\u{0}:{zone}")
    }
}

fn ready_status(node: &Node) -> Option<ConditionStatus> {
    find_condition(&node.status.conditions, "Ready").map(|c| c.status)
}

fn has_taint(node: &Node, key: &str, effect: TaintEffect) -> bool {
    node.spec
        .taints
        .iter()
        .any(|t| t.key == key && t.effect == effect)
}

fn taint(key: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: key.to_string(),
        value: String::new(),
        effect,
        time_added: None,
    }
}

/// The NoSchedule taints a node's conditions and `spec.unschedulable` call for
/// (`doNoScheduleTaintingPass`).
pub fn condition_taints(node: &Node) -> Vec<Taint> {
    let mut out = Vec::new();
    for c in &node.status.conditions {
        let key = match (c.type_.as_str(), c.status) {
            ("Ready", ConditionStatus::False) => TAINT_NOT_READY,
            ("Ready", ConditionStatus::Unknown) => TAINT_UNREACHABLE,
            ("MemoryPressure", ConditionStatus::True) => TAINT_MEMORY_PRESSURE,
            ("DiskPressure", ConditionStatus::True) => TAINT_DISK_PRESSURE,
            ("NetworkUnavailable", ConditionStatus::True) => TAINT_NETWORK_UNAVAILABLE,
            ("PIDPressure", ConditionStatus::True) => TAINT_PID_PRESSURE,
            _ => continue,
        };
        out.push(taint(key, TaintEffect::NoSchedule));
    }
    if node.spec.unschedulable {
        out.push(taint(TAINT_UNSCHEDULABLE, TaintEffect::NoSchedule));
    }
    out
}

fn is_condition_taint_key(key: &str) -> bool {
    [
        TAINT_NOT_READY,
        TAINT_UNREACHABLE,
        TAINT_MEMORY_PRESSURE,
        TAINT_DISK_PRESSURE,
        TAINT_PID_PRESSURE,
        TAINT_NETWORK_UNAVAILABLE,
    ]
    .contains(&key)
}

/// `SwapNodeControllerTaint` on a node object: `add` (stamped `timeAdded = now`) replaces a
/// taint with the same key and effect or is appended; then every taint matching `remove` by
/// key and effect goes. Returns whether anything changed.
pub fn swap_taints(node: &mut Node, add: &[Taint], remove: &[Taint], now: SimTime) -> bool {
    let mut changed = false;
    for a in add {
        let mut a = a.clone();
        a.time_added = Some(Time(now));
        match node
            .spec
            .taints
            .iter_mut()
            .find(|t| t.key == a.key && t.effect == a.effect)
        {
            Some(t) if *t == a => {}
            Some(t) => {
                *t = a;
                changed = true;
            }
            None => {
                node.spec.taints.push(a);
                changed = true;
            }
        }
    }
    let before = node.spec.taints.len();
    node.spec.taints.retain(|t| {
        !remove
            .iter()
            .any(|r| r.key == t.key && r.effect == t.effect)
    });
    changed || node.spec.taints.len() != before
}

/// A zone's NoExecute tainting queue (`RateLimitedTimedQueue` over a `UniqueQueue`).
#[derive(Debug)]
struct TaintQueue {
    limiter: Limiter,
    /// Waiting nodes by (processAt, insertion sequence).
    queue: BTreeMap<(SimTime, u64), String>,
    waiting: BTreeMap<String, (SimTime, u64)>,
    /// Every node added and not explicitly removed (processed nodes stay, so they are not
    /// added a second time).
    set: BTreeSet<String>,
}

impl TaintQueue {
    fn new(qps: f32) -> Self {
        TaintQueue {
            limiter: Limiter::new(qps),
            queue: BTreeMap::new(),
            waiting: BTreeMap::new(),
            set: BTreeSet::new(),
        }
    }

    fn add(&mut self, name: &str, at: SimTime, seq: u64) -> bool {
        if !self.set.insert(name.to_string()) {
            return false;
        }
        self.queue.insert((at, seq), name.to_string());
        self.waiting.insert(name.to_string(), (at, seq));
        true
    }

    /// `Remove`: out of the queue and the set.
    fn remove(&mut self, name: &str) -> bool {
        if !self.set.remove(name) {
            return false;
        }
        if let Some(k) = self.waiting.remove(name) {
            self.queue.remove(&k);
        }
        true
    }
}

#[derive(Debug)]
struct ZoneInfo {
    /// `None` once the zone has no nodes (upstream deletes its state).
    state: Option<ZoneState>,
    tainter: TaintQueue,
    ready: usize,
    not_ready: usize,
}

/// What the controller keeps per node.
#[derive(Debug)]
struct NodeRec {
    node: Arc<Object>,
    zone: String,
    /// Counted in its zone (not excluded from disruption checks), and whether as Ready.
    counted: Option<bool>,
    registered: bool,
    /// Probe timestamp from heartbeats (Ready `lastHeartbeatTime` changes, first sight).
    probe: SimTime,
    saved_heartbeat: Option<Option<Time>>,
    /// The expiry index entry, if any.
    due: Option<SimTime>,
}

/// The component.
pub struct NodeLifecycleController {
    cfg: ControllersConfig,
    start: SimTime,
    nodes: BTreeMap<String, NodeRec>,
    /// Node Leases by node name, with the tick at which each was first seen.
    leases: BTreeMap<String, (Arc<Object>, SimTime)>,
    zones: BTreeMap<String, ZoneInfo>,
    /// Expiry index: (probe + grace, node).
    expiry: BTreeSet<(SimTime, String)>,
    /// Nodes visited at every tick (see the module doc).
    attention: BTreeSet<String>,
    removed: BTreeSet<String>,
    /// Nodes seen but not yet registered by a tick.
    unregistered: BTreeSet<String>,
    pods_by_node: BTreeMap<String, BTreeSet<ObjectKey>>,
    pod_node: BTreeMap<ObjectKey, String>,
    queue: WorkQueue<Work>,
    seq: u64,
    pass: Option<(SimTime, EventId)>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    /// `doNoScheduleTaintingPass` for a node.
    Node(String),
    /// `processPod`: a pod newly bound to a node.
    Pod(ObjectKey),
}

fn as_node(obj: &Object) -> Option<&Node> {
    match obj {
        Object::Node(n) => Some(n),
        _ => None,
    }
}

impl NodeLifecycleController {
    pub fn new(cfg: ControllersConfig) -> Self {
        NodeLifecycleController {
            cfg,
            start: SimTime::ZERO,
            nodes: BTreeMap::new(),
            leases: BTreeMap::new(),
            zones: BTreeMap::new(),
            expiry: BTreeSet::new(),
            attention: BTreeSet::new(),
            removed: BTreeSet::new(),
            unregistered: BTreeSet::new(),
            pods_by_node: BTreeMap::new(),
            pod_node: BTreeMap::new(),
            queue: WorkQueue::new(),
            seq: 0,
            pass: None,
        }
    }

    fn period(&self) -> SimDuration {
        let p = self.cfg.node_monitor_period;
        if p.is_zero() {
            SimDuration::from_secs(5)
        } else {
            p
        }
    }

    /// The first monitor tick at or after `t` (ticks at `start + k·period`, k ≥ 1).
    fn tick_at_or_after(&self, t: SimTime) -> SimTime {
        let p = self.period().as_nanos();
        let since = t.saturating_since(self.start).as_nanos();
        let k = since.div_ceil(p).max(1);
        self.start
            .saturating_add(SimDuration::from_nanos(k.saturating_mul(p)))
    }

    fn grace(&self, node: &Node) -> SimDuration {
        if find_condition(&node.status.conditions, "Ready").is_none() {
            self.cfg.node_startup_grace_period
        } else {
            self.cfg.node_monitor_grace_period
        }
    }

    /// The probe timestamp at tick `t`: the later of the heartbeat probe and the tick that
    /// saw the Lease's last renewal at or before `t`.
    fn probe_at(&self, name: &str, rec: &NodeRec, t: SimTime) -> SimTime {
        let mut probe = rec.probe;
        if let Some((obj, seen)) = self.leases.get(name)
            && let Object::Lease(l) = &**obj
            && let Some(r) = l.renew_time_at(t)
        {
            probe = probe.max((*seen).max(self.tick_at_or_after(r)));
        }
        probe
    }

    /// Whether the node's Lease renews at an interval within the node's grace period, so
    /// the node cannot expire while it does.
    fn renewing_safely(&self, name: &str, rec: &NodeRec) -> bool {
        let Some(node) = as_node(&rec.node) else {
            return false;
        };
        self.leases.get(name).is_some_and(|(obj, _)| match &**obj {
            Object::Lease(l) => l
                .renew_interval()
                .is_some_and(|i| i <= self.grace(node) && l.spec.renew_time.is_some()),
            _ => false,
        })
    }

    fn needs_attention(&self, rec: &NodeRec, name: &str) -> bool {
        let Some(node) = as_node(&rec.node) else {
            return false;
        };
        ready_status(node) != Some(ConditionStatus::True)
            || has_taint(node, TAINT_NOT_READY, TaintEffect::NoExecute)
            || has_taint(node, TAINT_UNREACHABLE, TaintEffect::NoExecute)
            || self
                .zones
                .get(&rec.zone)
                .is_some_and(|z| z.tainter.set.contains(name))
    }

    /// Recomputes a node's place in the attention set and the expiry index.
    fn reindex(&mut self, name: &str, now: SimTime) {
        let Some(rec) = self.nodes.get(name) else {
            self.attention.remove(name);
            return;
        };
        let attention = self.needs_attention(rec, name);
        let due = if attention || self.renewing_safely(name, rec) {
            None
        } else {
            as_node(&rec.node).map(|n| self.probe_at(name, rec, now).saturating_add(self.grace(n)))
        };
        if attention {
            self.attention.insert(name.to_string());
        } else {
            self.attention.remove(name);
        }
        let rec = self.nodes.get_mut(name).expect("checked above");
        if rec.due != due {
            if let Some(d) = rec.due.take() {
                self.expiry.remove(&(d, name.to_string()));
            }
            if let Some(d) = due {
                self.expiry.insert((d, name.to_string()));
            }
            rec.due = due;
        }
    }

    fn uncount(&mut self, name: &str) {
        if let Some(rec) = self.nodes.get_mut(name)
            && let Some(ready) = rec.counted.take()
            && let Some(z) = self.zones.get_mut(&rec.zone)
        {
            if ready {
                z.ready -= 1;
            } else {
                z.not_ready -= 1;
            }
        }
    }

    fn count(&mut self, name: &str) {
        let qps = self.cfg.node_eviction_rate;
        let Some(rec) = self.nodes.get_mut(name) else {
            return;
        };
        let Some(node) = as_node(&rec.node) else {
            return;
        };
        if node.metadata.labels.contains_key(LABEL_EXCLUDE_DISRUPTION) {
            return;
        }
        let ready = ready_status(node) == Some(ConditionStatus::True);
        rec.counted = Some(ready);
        let z = self.zones.entry(rec.zone.clone()).or_insert(ZoneInfo {
            state: None,
            tainter: TaintQueue::new(qps),
            ready: 0,
            not_ready: 0,
        });
        if ready {
            z.ready += 1;
        } else {
            z.not_ready += 1;
        }
    }

    /// Replaces the cached node (from a watch event or the controller's own write).
    fn set_node(&mut self, obj: Arc<Object>, now: SimTime) {
        let Some(node) = as_node(&obj) else { return };
        let name = node.metadata.name.clone();
        if let Some(rec) = self.nodes.get(&name)
            && rec.node.meta().resource_version > obj.meta().resource_version
        {
            return;
        }
        let zone = zone_key(node);
        self.uncount(&name);
        match self.nodes.get_mut(&name) {
            Some(rec) => {
                rec.node = obj.clone();
                if rec.zone != zone {
                    rec.zone = zone.clone();
                }
            }
            None => {
                self.unregistered.insert(name.clone());
                self.nodes.insert(
                    name.clone(),
                    NodeRec {
                        node: obj.clone(),
                        zone: zone.clone(),
                        counted: None,
                        registered: false,
                        probe: now,
                        saved_heartbeat: None,
                        due: None,
                    },
                );
            }
        }
        self.count(&name);
        if self.nodes[&name].registered {
            self.ensure_zone(&zone);
        }
        self.reindex(&name, now);
    }

    /// `tryUpdateNodeHealth`'s bookkeeping for what a watch event shows.
    fn observe_heartbeat(&mut self, name: &str, at: SimTime) {
        let tick = self.tick_at_or_after(at);
        let Some(rec) = self.nodes.get_mut(name) else {
            return;
        };
        let Some(node) = as_node(&rec.node) else {
            return;
        };
        let hb = find_condition(&node.status.conditions, "Ready").map(|c| c.last_heartbeat_time);
        match (&rec.saved_heartbeat, &hb) {
            // First sight: a node that never posted Ready is timed from its creation.
            (None, None) if !rec.registered => rec.probe = node.metadata.creation_timestamp.0,
            (None, Some(_)) | (Some(_), None) => rec.probe = tick,
            (Some(a), Some(b)) if a != b => rec.probe = tick,
            _ => {}
        }
        rec.saved_heartbeat = hb;
    }

    fn ensure_zone(&mut self, zone: &str) {
        let qps = self.cfg.node_eviction_rate;
        let z = self.zones.entry(zone.to_string()).or_insert(ZoneInfo {
            state: None,
            tainter: TaintQueue::new(qps),
            ready: 0,
            not_ready: 0,
        });
        if z.state.is_none() {
            // `addPodEvictorForNewZone`: a new queue with a full bucket.
            z.state = Some(ZoneState::Initial);
            let set = std::mem::take(&mut z.tainter.set);
            z.tainter = TaintQueue::new(qps);
            z.tainter.set = set;
        }
    }

    fn on_node(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(node) = as_node(&event.object) else {
            return;
        };
        let name = node.metadata.name.clone();
        if event.type_ == WatchEventType::Deleted {
            self.uncount(&name);
            if let Some(rec) = self.nodes.remove(&name) {
                if let Some(d) = rec.due {
                    self.expiry.remove(&(d, name.clone()));
                }
                if rec.registered {
                    self.removed.insert(name.clone());
                }
            }
            self.attention.remove(&name);
            self.unregistered.remove(&name);
            return;
        }
        self.set_node(event.object.clone(), now);
        self.observe_heartbeat(&name, now);
        self.reindex(&name, now);
        self.queue.add(Work::Node(name), ctx);
    }

    fn on_lease(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let name = event.object.meta().name.clone();
        if event.type_ == WatchEventType::Deleted {
            self.leases.remove(&name);
        } else {
            let seen = self
                .leases
                .get(&name)
                .map(|(_, s)| *s)
                .unwrap_or_else(|| self.tick_at_or_after(now));
            self.leases
                .insert(name.clone(), (event.object.clone(), seen));
        }
        if self.nodes.contains_key(&name) {
            self.reindex(&name, now);
        }
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        if let Some(old) = self.pod_node.remove(&key)
            && let Some(set) = self.pods_by_node.get_mut(&old)
        {
            set.remove(&key);
            if set.is_empty() {
                self.pods_by_node.remove(&old);
            }
        }
        if event.type_ == WatchEventType::Deleted || pod.spec.node_name.is_empty() {
            return;
        }
        let node = pod.spec.node_name.clone();
        let newly_bound = event
            .old
            .as_deref()
            .is_none_or(|o| matches!(o, Object::Pod(p) if p.spec.node_name != node))
            || event.type_ == WatchEventType::Added;
        self.pods_by_node
            .entry(node.clone())
            .or_default()
            .insert(key.clone());
        self.pod_node.insert(key.clone(), node);
        if newly_bound {
            self.queue.add(Work::Pod(key), ctx);
        }
    }

    // ---- monitorNodeHealth ----

    fn tick(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        // Nodes seen since the last tick register; deleted ones are forgotten.
        for name in std::mem::take(&mut self.unregistered) {
            let zone = {
                let Some(rec) = self.nodes.get_mut(&name) else {
                    continue;
                };
                rec.registered = true;
                rec.zone.clone()
            };
            ctx.record(EventRecord::new(
                now,
                EventType::Normal,
                "RegisteredNode",
                format!("Node/{name}"),
                format!("Registered Node {name} in Controller"),
            ));
            self.ensure_zone(&zone);
            self.mark_reachable(&name, ctx);
        }
        for name in std::mem::take(&mut self.removed) {
            ctx.record(EventRecord::new(
                now,
                EventType::Normal,
                "RemovingNode",
                format!("Node/{name}"),
                format!("Removing Node {name} from Controller"),
            ));
        }

        let mut visit: BTreeSet<String> = self.attention.clone();
        while let Some((due, name)) = self.expiry.first().cloned() {
            if due >= now {
                break;
            }
            self.expiry.remove(&(due, name.clone()));
            if let Some(rec) = self.nodes.get_mut(&name) {
                rec.due = None;
            }
            visit.insert(name);
        }
        for name in visit {
            self.update_node(&name, ctx);
            self.reindex(&name, now);
        }
        self.handle_disruption(ctx);
        self.arm_pass(ctx, false);
    }

    /// One node's part of `monitorNodeHealth`.
    fn update_node(&mut self, name: &str, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(rec) = self.nodes.get(name) else {
            return;
        };
        let Some(node) = as_node(&rec.node).cloned() else {
            return;
        };
        // Upstream fakes an Unknown Ready condition for a node that has none.
        let observed = ready_status(&node).unwrap_or(ConditionStatus::Unknown);
        let probe = self.probe_at(name, rec, now);
        let mut current = ready_status(&node);
        if now > probe.saturating_add(self.grace(&node)) {
            current = self.mark_unknown(name, &node, ctx).or(current);
        }
        let Some(current) = current else {
            return;
        };
        self.taint_based_eviction(name, observed, ctx);
        if current != ConditionStatus::True && observed == ConditionStatus::True {
            ctx.record(EventRecord::new(
                now,
                EventType::Normal,
                "NodeNotReady",
                format!("Node/{name}"),
                format!("Node {name} status is now: NodeNotReady"),
            ));
            let pods: Vec<ObjectKey> = self
                .pods_by_node
                .get(name)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            mark_pods_not_ready(&pods, name, ctx);
        }
    }

    /// Sets the health conditions to Unknown; returns the new Ready status if it wrote.
    fn mark_unknown(
        &mut self,
        name: &str,
        listed: &Node,
        ctx: &mut Context<'_>,
    ) -> Option<ConditionStatus> {
        let now = ctx.now();
        let observed_ready = find_condition(&listed.status.conditions, "Ready").cloned();
        let key = ObjectKey::new(Kind::Node, "", name);
        let written = ctx.patch(&key, |obj| {
            let Object::Node(n) = obj else { return false };
            let created = n.metadata.creation_timestamp;
            for type_ in HEALTH_CONDITIONS {
                match n.status.conditions.iter_mut().find(|c| c.type_ == type_) {
                    None => n.status.conditions.push(Condition {
                        type_: type_.to_string(),
                        status: ConditionStatus::Unknown,
                        reason: "NodeStatusNeverUpdated".into(),
                        message: "Kubelet never posted node status.".into(),
                        last_heartbeat_time: Some(created),
                        last_transition_time: Some(Time(now)),
                        ..Condition::default()
                    }),
                    Some(c) if c.status != ConditionStatus::Unknown => {
                        c.status = ConditionStatus::Unknown;
                        c.reason = "NodeStatusUnknown".into();
                        c.message = "Kubelet stopped posting node status.".into();
                        c.last_transition_time = Some(Time(now));
                    }
                    Some(_) => {}
                }
            }
            // Upstream writes only when the Ready condition changed.
            find_condition(&n.status.conditions, "Ready") != observed_ready.as_ref()
        });
        let Ok(Some(obj)) = written else {
            return None;
        };
        let status = as_node(&obj).and_then(ready_status);
        if let Some(rec) = self.nodes.get_mut(name) {
            rec.saved_heartbeat = as_node(&obj).map(|n| {
                find_condition(&n.status.conditions, "Ready").and_then(|c| c.last_heartbeat_time)
            });
        }
        self.set_node(obj, now);
        status
    }

    /// `processTaintBaseEviction` with the Ready status observed at the tick's start.
    fn taint_based_eviction(
        &mut self,
        name: &str,
        observed: ConditionStatus,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        let Some(rec) = self.nodes.get(name) else {
            return;
        };
        let Some(node) = as_node(&rec.node) else {
            return;
        };
        let zone = rec.zone.clone();
        let (mine, other) = match observed {
            ConditionStatus::True => {
                self.mark_reachable(name, ctx);
                return;
            }
            ConditionStatus::False => (TAINT_NOT_READY, TAINT_UNREACHABLE),
            ConditionStatus::Unknown => (TAINT_UNREACHABLE, TAINT_NOT_READY),
        };
        if has_taint(node, other, TaintEffect::NoExecute) {
            // Swapped at once, not rate limited.
            self.swap(
                name,
                &[taint(mine, TaintEffect::NoExecute)],
                &[taint(other, TaintEffect::NoExecute)],
                ctx,
            );
            return;
        }
        // `markNodeForTainting`.
        let tainted = has_taint(node, mine, TaintEffect::NoExecute);
        self.ensure_zone(&zone);
        self.seq += 1;
        let seq = self.seq;
        let z = self.zones.get_mut(&zone).expect("ensured");
        if !tainted && !z.tainter.waiting.contains_key(name) {
            z.tainter.remove(name);
        }
        z.tainter.add(name, now, seq);
    }

    /// `markNodeAsReachable`: removes both NoExecute taints and the node from its queue.
    fn mark_reachable(&mut self, name: &str, ctx: &mut Context<'_>) {
        let Some(rec) = self.nodes.get(name) else {
            return;
        };
        if let Some(node) = as_node(&rec.node)
            && (has_taint(node, TAINT_UNREACHABLE, TaintEffect::NoExecute)
                || has_taint(node, TAINT_NOT_READY, TaintEffect::NoExecute))
        {
            self.swap(
                name,
                &[],
                &[
                    taint(TAINT_UNREACHABLE, TaintEffect::NoExecute),
                    taint(TAINT_NOT_READY, TaintEffect::NoExecute),
                ],
                ctx,
            );
        }
        let zone = self.nodes.get(name).map(|r| r.zone.clone());
        if let Some(z) = zone.and_then(|z| self.zones.get_mut(&z)) {
            z.tainter.remove(name);
        }
    }

    /// Writes a taint swap to the live node; false if the node is gone.
    fn swap(&mut self, name: &str, add: &[Taint], remove: &[Taint], ctx: &mut Context<'_>) -> bool {
        let now = ctx.now();
        let key = ObjectKey::new(Kind::Node, "", name);
        match ctx.patch(&key, |obj| match obj {
            Object::Node(n) => swap_taints(n, add, remove, now),
            _ => false,
        }) {
            Ok(Some(obj)) => {
                self.set_node(obj, now);
                true
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// `handleDisruption`: zone states and their rate limiters.
    fn handle_disruption(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let threshold = self.cfg.unhealthy_zone_threshold;
        let mut new_states: BTreeMap<String, (ZoneState, usize)> = BTreeMap::new();
        let mut all_are_full = true;
        for (k, z) in &mut self.zones {
            let size = z.ready + z.not_ready;
            if size == 0 {
                continue;
            }
            let s = compute_zone_state(z.ready, z.not_ready, threshold);
            if s != ZoneState::FullDisruption {
                all_are_full = false;
            }
            new_states.insert(k.clone(), (s, size));
            if z.state.is_none() {
                z.state = Some(ZoneState::Initial);
            }
        }
        let mut all_were_full = true;
        for (k, z) in &mut self.zones {
            if z.state.is_none() {
                continue;
            }
            if !new_states.contains_key(k) {
                z.state = None;
                continue;
            }
            if z.state != Some(ZoneState::FullDisruption) {
                all_were_full = false;
            }
        }
        if all_are_full && all_were_full {
            return;
        }
        if all_are_full {
            // Master disruption mode: stop all evictions, lift the controller's taints.
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for n in &names {
                self.mark_reachable(n, ctx);
            }
            let qps = zone_qps(&self.cfg, ZoneState::FullDisruption, 0, true);
            for z in self.zones.values_mut().filter(|z| z.state.is_some()) {
                z.tainter.limiter.swap(qps, now);
                z.state = Some(ZoneState::FullDisruption);
            }
            for n in &names {
                self.reindex(n, now);
            }
            return;
        }
        let cfg = self.cfg.clone();
        if all_were_full {
            // Leaving it: every node gets a fresh probe timestamp.
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for n in &names {
                if let Some(r) = self.nodes.get_mut(n) {
                    r.probe = now;
                }
                self.reindex(n, now);
            }
        }
        for (k, z) in &mut self.zones {
            let Some(old) = z.state else { continue };
            let Some(&(new, size)) = new_states.get(k) else {
                continue;
            };
            if all_were_full || old != new {
                z.tainter
                    .limiter
                    .swap(zone_qps(&cfg, new, size, false), now);
                z.state = Some(new);
            }
        }
    }

    // ---- doNoExecuteTaintingPass ----

    /// Arms the tainting pass at the next 100 ms step at which some zone can take a token
    /// (`after_pass`: the earliest is one step after now).
    fn arm_pass(&mut self, ctx: &mut Context<'_>, after_pass: bool) {
        let now = ctx.now();
        let from = if after_pass {
            now.saturating_add(NODE_EVICTION_PERIOD)
        } else {
            now
        };
        let next = self
            .zones
            .values()
            .filter(|z| !z.tainter.queue.is_empty())
            .filter_map(|z| z.tainter.limiter.next_accept(from, NODE_EVICTION_PERIOD))
            .min();
        if let Some((at, id)) = self.pass {
            if Some(at) == next {
                return;
            }
            ctx.cancel_timer(id);
            self.pass = None;
        }
        if let Some(at) = next {
            let id = ctx.set_timer(at.saturating_since(now), TOKEN_PASS);
            self.pass = Some((at, id));
        }
    }

    fn taint_pass(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let zones: Vec<String> = self.zones.keys().cloned().collect();
        let mut touched = BTreeSet::new();
        for k in zones {
            // Bounded: every iteration takes a token or leaves.
            loop {
                let z = self.zones.get_mut(&k).expect("listed");
                let Some((&(at, seq), name)) = z.tainter.queue.iter().next() else {
                    break;
                };
                let name = name.clone();
                if !z.tainter.limiter.try_accept(now) || now < at {
                    break;
                }
                let outcome = self.taint_one(&name, ctx);
                let z = self.zones.get_mut(&k).expect("listed");
                z.tainter.queue.remove(&(at, seq));
                z.tainter.waiting.remove(&name);
                if let Some(retry) = outcome {
                    let at = now.saturating_add(retry);
                    z.tainter.queue.insert((at, seq), name.clone());
                    z.tainter.waiting.insert(name.clone(), (at, seq));
                }
                touched.insert(name);
            }
        }
        for n in touched {
            self.reindex(&n, now);
        }
    }

    /// Taints one queued node; `Some(delay)` to retry.
    fn taint_one(&mut self, name: &str, ctx: &mut Context<'_>) -> Option<SimDuration> {
        let node = as_node(&self.nodes.get(name)?.node)?.clone();
        let Some(ready) = ready_status(&node) else {
            return Some(NO_CONDITION_RETRY);
        };
        let (add, remove) = match ready {
            ConditionStatus::False => (TAINT_NOT_READY, TAINT_UNREACHABLE),
            ConditionStatus::Unknown => (TAINT_UNREACHABLE, TAINT_NOT_READY),
            ConditionStatus::True => return None,
        };
        if self.swap(
            name,
            &[taint(add, TaintEffect::NoExecute)],
            &[taint(remove, TaintEffect::NoExecute)],
            ctx,
        ) {
            None
        } else {
            Some(SimDuration::from_nanos(1))
        }
    }

    // ---- work queue ----

    fn no_schedule_pass(&mut self, name: &str, ctx: &mut Context<'_>) {
        let Some(node) = self.nodes.get(name).and_then(|r| as_node(&r.node)) else {
            return;
        };
        let want = condition_taints(node);
        let have: Vec<&Taint> = node
            .spec
            .taints
            .iter()
            .filter(|t| {
                t.effect == TaintEffect::NoSchedule
                    && (t.key == TAINT_UNSCHEDULABLE || is_condition_taint_key(&t.key))
            })
            .collect();
        let add: Vec<Taint> = want
            .iter()
            .filter(|w| !have.iter().any(|h| h.key == w.key && h.effect == w.effect))
            .cloned()
            .collect();
        let remove: Vec<Taint> = have
            .iter()
            .filter(|h| !want.iter().any(|w| h.key == w.key && h.effect == w.effect))
            .map(|t| (*t).clone())
            .collect();
        if add.is_empty() && remove.is_empty() {
            return;
        }
        self.swap(name, &add, &remove, ctx);
    }

    fn process_pod(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(node) = self.pod_node.get(key) else {
            return;
        };
        let Some(rec) = self.nodes.get(node) else {
            return;
        };
        if !rec.registered {
            return;
        }
        let Some(status) = as_node(&rec.node).and_then(ready_status) else {
            return;
        };
        if status != ConditionStatus::True {
            let node = node.clone();
            mark_pods_not_ready(std::slice::from_ref(key), &node, ctx);
        }
    }
}

/// `MarkPodsNotReady`: each pod's Ready condition to False (a pod without one, or already
/// False, is left alone), with a Warning `NodeNotReady` event.
pub fn mark_pods_not_ready(pods: &[ObjectKey], node: &str, ctx: &mut Context<'_>) {
    let now = ctx.now();
    for key in pods {
        let written = ctx.patch(key, |obj| {
            let Object::Pod(p) = obj else { return false };
            if p.spec.node_name != node {
                return false;
            }
            match p.status.conditions.iter_mut().find(|c| c.type_ == "Ready") {
                Some(c) if c.status != ConditionStatus::False => {
                    c.status = ConditionStatus::False;
                    c.last_transition_time = Some(Time(now));
                    true
                }
                _ => false,
            }
        });
        if let Ok(Some(_)) = written {
            ctx.record(EventRecord::new(
                now,
                EventType::Warning,
                "NodeNotReady",
                key.to_string(),
                "Node is not ready".into(),
            ));
        }
    }
}

impl Component for NodeLifecycleController {
    fn name(&self) -> String {
        "node-lifecycle-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Node]),
            WatchFilter {
                namespace: Some(LEASE_NAMESPACE.into()),
                ..WatchFilter::kinds(&[Kind::Lease])
            },
            WatchFilter {
                bound_pods_only: true,
                ..WatchFilter::kinds(&[Kind::Pod])
            },
        ]
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.start = ctx.now();
        ctx.set_timer(self.period(), TOKEN_TICK);
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_NODES => self.on_node(event, ctx),
            WATCH_LEASES => self.on_lease(event, ctx),
            WATCH_PODS => self.on_pod(event, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        if let Some(work) = self.queue.on_timer(token, ctx) {
            for w in work {
                match w {
                    Work::Node(name) => self.no_schedule_pass(&name, ctx),
                    Work::Pod(key) => self.process_pod(&key, ctx),
                }
            }
            self.arm_pass(ctx, false);
            return;
        }
        match token {
            TOKEN_TICK => {
                ctx.set_timer(self.period(), TOKEN_TICK);
                self.tick(ctx);
            }
            TOKEN_PASS => {
                self.pass = None;
                self.taint_pass(ctx);
                self.arm_pass(ctx, true);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn a_full_bucket_takes_at_once_then_every_ten_seconds_at_0_1_qps() {
        let mut l = Limiter::new(0.1);
        assert!(l.try_accept(at_ms(5_000)));
        assert!(!l.try_accept(at_ms(14_900)));
        assert_eq!(
            l.next_accept(at_ms(5_100), NODE_EVICTION_PERIOD),
            Some(at_ms(15_000))
        );
        assert!(l.try_accept(at_ms(15_000)));
    }

    #[test]
    fn the_float32_secondary_rate_refills_one_pass_after_100_seconds() {
        // float32(0.01) is slightly below 0.01: 100 s give 0.99999998 tokens.
        let mut l = Limiter::new(0.01);
        assert!(l.try_accept(at_ms(0)));
        assert!(!l.try_accept(at_ms(100_000)));
        assert_eq!(
            l.next_accept(at_ms(100), NODE_EVICTION_PERIOD),
            Some(at_ms(100_100))
        );
    }

    #[test]
    fn swapping_to_a_new_rate_drains_the_new_bucket_if_the_old_was_empty() {
        let mut l = Limiter::new(0.1);
        assert!(l.try_accept(at_ms(0)));
        l.swap(0.0, at_ms(1_000));
        assert_eq!(l, Limiter::Never);
        l.swap(0.1, at_ms(2_000));
        assert!(!l.try_accept(at_ms(2_000)));
        assert!(l.try_accept(at_ms(12_000)));
    }
}
