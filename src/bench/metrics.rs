//! Per-run metrics for `kubesim bench`, folded from the store's change stream while the run
//! goes ([`Collector`], a [`ChangeObserver`]) and read from the store at the end.
//!
//! These are kubesim's own measures (no upstream counterpart); every definition is here and in
//! docs/sweeps.md:
//! - **pods scheduled**: pods whose `spec.nodeName` went from empty to set during the run
//!   (pods created already bound are not scheduled by anyone);
//! - **pods unschedulable**: pods not terminal, not being deleted and still unbound at the end;
//! - **scheduling latency**: creationTimestamp → the write that bound the pod, sim time, per
//!   bound pod; p50 and p99 by nearest rank;
//! - **allocation ratio** per resource (cpu, memory, and every extended resource, a name with
//!   a domain prefix outside `kubernetes.io/`): requests of the bound, non-terminal pods over
//!   the allocatable of every node, as [`crate::runtime::Stats`] counts them; final (at the
//!   end) and time-weighted (the ratio's mean over the run, exact between changes);
//! - **nodes used**: nodes with at least one bound, non-terminal pod not owned by a DaemonSet,
//!   at the end;
//! - **peak node CPU ratio**: the largest CPU request ratio (requests / allocatable) any one
//!   node reached at any time;
//! - **fragmentation**: at the end, the free CPU of Ready, schedulable nodes on which no
//!   pending pod fits by its requests (cpu, memory, extended resources, pod count), over the
//!   allocatable CPU of those nodes; 0 when nothing is pending (no demand, nothing stranded).
//!   Only resources are checked (no taints or affinity): a simplification;
//! - **topology skew**: at the end, for each controller's pods (DaemonSets excepted), the
//!   largest minus the smallest count over `kubernetes.io/hostname` domains (every labelled
//!   node, empty ones included, as `spec.expect`'s `skew`); the maximum over controllers;
//! - **preemptions** and **evictions**: pods that gained the condition `DisruptionTarget`,
//!   reason `PreemptionByScheduler` for the first, `EvictionByEvictionAPI` or
//!   `DeletionByTaintManager` for the second;
//! - **recovery** after each fault (a timeline firing that takes nodes, pods or the control
//!   plane away: see [`is_fault`]): with B the number of Running, Ready pods just before the
//!   fault, the time until that count is back at B for good, up to the next fault or the end
//!   of the run (0 when it never fell below B); a fault after which the count is still below
//!   B at that point is *unrecovered*.
//!
//! **Invariant:** memory is bounded by the cluster's objects plus one latency per bind and,
//! when the run has faults, one entry per change of the Ready-pod count.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::meta::ConditionStatus;
use crate::api::objects::{Object, Pod, PodPhase};
use crate::api::resources::pod_requests;
use crate::api::{Resources, Store};
use crate::runtime::ChangeObserver;
use crate::sim::{SimDuration, SimTime};
use crate::timeline::{Action, Entry, NodeState};

/// The hostname topology key skew is measured over.
const HOSTNAME: &str = "kubernetes.io/hostname";

/// Whether a timeline action counts as a fault for the recovery metric: it takes nodes,
/// pods, images or the control plane away. Operator actions that only add or reshape
/// (scale, rollout, cordon, labels, applies, deletes of other objects) are not faults.
pub fn is_fault(action: &Action) -> bool {
    match action {
        Action::NodeState { state, .. } => *state != NodeState::Running,
        Action::NodeReboot { .. }
        | Action::ZoneOutage { .. }
        | Action::Drain { .. }
        | Action::RemoveNodes { .. }
        | Action::PodDelete { .. }
        | Action::ContainerKill { .. }
        | Action::RegistryOutage { .. }
        | Action::ControlPlaneOutage
        | Action::NetworkPartition { .. }
        | Action::LinkDegradation { .. } => true,
        Action::Cordon { .. }
        | Action::AddNodes { .. }
        | Action::Label { .. }
        | Action::Scale { .. }
        | Action::SetImage { .. }
        | Action::Rollback { .. }
        | Action::Pause { .. }
        | Action::Apply { .. }
        | Action::Delete { .. }
        | Action::TrafficRate { .. } => false,
    }
}

/// The firing times of the timeline's faults up to `end`, sorted, each time once.
pub fn fault_times(timeline: &[Entry], end: SimDuration) -> Vec<SimTime> {
    let set: BTreeSet<SimTime> = timeline
        .iter()
        .filter(|e| is_fault(&e.action))
        .flat_map(|e| e.trigger.times(end))
        .collect();
    set.into_iter().collect()
}

/// An extended resource in the Kubernetes sense (`IsExtendedResourceName`, simplified): a
/// name with a domain prefix that is not `kubernetes.io/` (and not a quota `requests.` name).
pub fn is_extended_resource(name: &str) -> bool {
    name.contains('/') && !name.starts_with("kubernetes.io/") && !name.starts_with("requests.")
}

/// One run's measures (see the module doc for each definition).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunMetrics {
    pub pods_scheduled: u64,
    pub pods_unschedulable: u64,
    /// Nearest-rank percentiles of the scheduling latency; `None` when no pod was bound.
    pub latency_p50: Option<SimDuration>,
    pub latency_p99: Option<SimDuration>,
    /// Per resource (`cpu`, `memory`, extended names): (time-weighted, final) ratio.
    pub allocation: BTreeMap<String, (f64, f64)>,
    pub nodes_used: u64,
    pub node_cpu_ratio_peak: f64,
    pub fragmentation_cpu_ratio: f64,
    pub topology_skew_max: i64,
    pub preemptions: u64,
    pub evictions: u64,
    /// Per fault in time order: the recovery time, `None` when unrecovered.
    pub recoveries: Vec<Option<SimDuration>>,
    /// Succeeded over sent requests, all Services of `spec.traffic` together; `None`
    /// without traffic.
    pub service_success_ratio: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default)]
struct NodeTrack {
    allocatable_milli_cpu: i64,
    requested_milli_cpu: i64,
}

/// Folds the change stream into the time-dependent measures. Create it from the store as
/// the run starts ([`Collector::new`]), install it with
/// [`crate::runtime::Cluster::set_observer`] (through [`SharedCollector`]), and call
/// [`Collector::finish`] with the store at the end.
#[derive(Debug, Default)]
pub struct Collector {
    last: SimTime,
    allocatable: Resources,
    requested: Resources,
    /// ∫ ratio dt for cpu and memory, in ratio·nanoseconds.
    cpu_ratio_ns: f64,
    memory_ratio_ns: f64,
    /// The same per extended resource.
    extended_ratio_ns: BTreeMap<String, f64>,
    nodes: BTreeMap<String, NodeTrack>,
    node_cpu_ratio_peak: f64,
    latencies: Vec<SimDuration>,
    preemptions: u64,
    evictions: u64,
    faults: Vec<SimTime>,
    /// Running and Ready pods now.
    ready: i64,
    /// (time, Ready-pod count from then on), kept only when there are faults.
    ready_series: Vec<(SimTime, i64)>,
}

fn pod_counts(p: &Pod) -> bool {
    !p.spec.node_name.is_empty() && !p.status.phase.is_terminal()
}

fn pod_ready(p: &Pod) -> bool {
    p.status.phase == PodPhase::Running && crate::controllers::pods::is_ready(p)
}

fn disruption_reason(p: &Pod) -> Option<&str> {
    p.status
        .conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == ConditionStatus::True)
        .map(|c| c.reason.as_str())
}

fn ratio(num: i64, den: i64) -> f64 {
    if den > 0 {
        num as f64 / den as f64
    } else {
        0.0
    }
}

impl Collector {
    /// A collector that starts at `now` from the store's objects; `faults` are the fault
    /// times ([`fault_times`]).
    pub fn new(store: &Store, now: SimTime, faults: Vec<SimTime>) -> Collector {
        let mut c = Collector {
            last: now,
            faults,
            ..Collector::default()
        };
        for o in store.iter() {
            c.on_change(now, None, Some(o));
        }
        if !c.faults.is_empty() {
            c.ready_series = vec![(now, c.ready)];
        }
        c
    }

    /// The resources measured (name, requested, allocatable): cpu, memory, then the
    /// extended ones on nodes now.
    fn resources(&self) -> Vec<(String, i64, i64)> {
        let mut out = vec![
            (
                "cpu".to_string(),
                self.requested.milli_cpu,
                self.allocatable.milli_cpu,
            ),
            (
                "memory".to_string(),
                self.requested.memory,
                self.allocatable.memory,
            ),
        ];
        for (name, alloc) in &self.allocatable.scalar {
            if is_extended_resource(name) {
                let req = self.requested.scalar.get(name).copied().unwrap_or(0);
                out.push((name.clone(), req, *alloc));
            }
        }
        out
    }

    /// Integrates the ratios up to `now`.
    fn advance(&mut self, now: SimTime) {
        if now <= self.last {
            return;
        }
        let dt = now.saturating_since(self.last).as_nanos() as f64;
        self.cpu_ratio_ns += ratio(self.requested.milli_cpu, self.allocatable.milli_cpu) * dt;
        self.memory_ratio_ns += ratio(self.requested.memory, self.allocatable.memory) * dt;
        // Usually none: no allocation per change unless the cluster has extended resources.
        for (name, alloc) in &self.allocatable.scalar {
            if is_extended_resource(name) {
                let req = self.requested.scalar.get(name).copied().unwrap_or(0);
                let r = ratio(req, *alloc) * dt;
                match self.extended_ratio_ns.get_mut(name) {
                    Some(v) => *v += r,
                    None => {
                        self.extended_ratio_ns.insert(name.clone(), r);
                    }
                }
            }
        }
        self.last = now;
    }

    fn account(&mut self, obj: &Object, sign: i64) {
        match obj {
            Object::Node(n) => {
                let alloc = Resources::from_list(&n.status.allocatable);
                let track = self.nodes.entry(n.metadata.name.clone()).or_default();
                track.allocatable_milli_cpu += sign * alloc.milli_cpu;
                if sign > 0 {
                    self.allocatable.add(&alloc);
                } else {
                    self.allocatable.sub(&alloc);
                }
            }
            Object::Pod(p) => {
                if pod_counts(p) {
                    let r = pod_requests(&p.spec);
                    let track = self.nodes.entry(p.spec.node_name.clone()).or_default();
                    track.requested_milli_cpu += sign * r.milli_cpu;
                    if sign > 0 {
                        self.requested.add(&r);
                    } else {
                        self.requested.sub(&r);
                    }
                }
                if pod_ready(p) {
                    self.ready += sign;
                }
            }
            _ => {}
        }
    }

    fn note_peak(&mut self, node: &str) {
        if let Some(t) = self.nodes.get(node)
            && t.allocatable_milli_cpu > 0
        {
            let r = ratio(t.requested_milli_cpu, t.allocatable_milli_cpu);
            if r > self.node_cpu_ratio_peak {
                self.node_cpu_ratio_peak = r;
            }
        }
    }

    /// The measures at `end`, with the store as it is then.
    pub fn finish(&mut self, end: SimTime, store: &Store) -> RunMetrics {
        self.advance(end);
        let end_ns = end.as_nanos() as f64;
        let allocation = self
            .resources()
            .into_iter()
            .map(|(name, req, alloc)| {
                let fin = ratio(req, alloc);
                let integral = match name.as_str() {
                    "cpu" => self.cpu_ratio_ns,
                    "memory" => self.memory_ratio_ns,
                    other => self.extended_ratio_ns.get(other).copied().unwrap_or(0.0),
                };
                let weighted = if end_ns > 0.0 { integral / end_ns } else { fin };
                (name, (weighted, fin))
            })
            .collect();
        let mut latencies = self.latencies.clone();
        latencies.sort();
        let end_state = EndState::read(store);
        RunMetrics {
            pods_scheduled: latencies.len() as u64,
            pods_unschedulable: end_state.pending.len() as u64,
            latency_p50: percentile(&latencies, 50),
            latency_p99: percentile(&latencies, 99),
            allocation,
            nodes_used: end_state.nodes_used,
            node_cpu_ratio_peak: self.node_cpu_ratio_peak,
            fragmentation_cpu_ratio: end_state.fragmentation(),
            topology_skew_max: end_state.skew_max,
            preemptions: self.preemptions,
            evictions: self.evictions,
            recoveries: recoveries(&self.faults, &self.ready_series, end),
            service_success_ratio: None,
        }
    }
}

impl ChangeObserver for Collector {
    fn on_change(&mut self, now: SimTime, old: Option<&Object>, new: Option<&Object>) {
        self.advance(now);
        let ready_before = self.ready;
        if let Some(o) = old {
            self.account(o, -1);
        }
        if let Some(n) = new {
            self.account(n, 1);
        }
        match (old, new) {
            (_, Some(Object::Node(n))) => self.note_peak(&n.metadata.name),
            (old, Some(Object::Pod(p))) => {
                let old_pod = match old {
                    Some(Object::Pod(o)) => Some(o),
                    _ => None,
                };
                if pod_counts(p) {
                    self.note_peak(&p.spec.node_name);
                }
                if let Some(o) = old_pod {
                    if o.spec.node_name.is_empty() && !p.spec.node_name.is_empty() {
                        let created = p.metadata.creation_timestamp.0;
                        self.latencies.push(now.saturating_since(created));
                    }
                    if disruption_reason(o).is_none() {
                        match disruption_reason(p) {
                            Some("PreemptionByScheduler") => self.preemptions += 1,
                            Some("EvictionByEvictionAPI" | "DeletionByTaintManager") => {
                                self.evictions += 1
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        if self.ready != ready_before && !self.faults.is_empty() {
            match self.ready_series.last_mut() {
                Some(last) if last.0 == now => last.1 = self.ready,
                _ => self.ready_series.push((now, self.ready)),
            }
        }
    }
}

/// A [`Collector`] behind a shared handle, so the caller keeps access to it while the
/// cluster owns the observer (both live on one thread for one run).
pub struct SharedCollector(pub std::rc::Rc<std::cell::RefCell<Collector>>);

impl ChangeObserver for SharedCollector {
    fn on_change(&mut self, now: SimTime, old: Option<&Object>, new: Option<&Object>) {
        self.0.borrow_mut().on_change(now, old, new);
    }
}

/// Nearest rank: the smallest value with at least `p`% of the values at or below it.
pub fn percentile(sorted: &[SimDuration], p: usize) -> Option<SimDuration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Recovery time per fault (see the module doc). `series` holds (time, Ready count from then
/// on) in time order, starting from the count before the first change at 0 as 0.
fn recoveries(
    faults: &[SimTime],
    series: &[(SimTime, i64)],
    end: SimTime,
) -> Vec<Option<SimDuration>> {
    let value_before = |t: SimTime| -> i64 {
        let i = series.partition_point(|(at, _)| *at < t);
        if i == 0 { 0 } else { series[i - 1].1 }
    };
    let mut out = Vec::with_capacity(faults.len());
    for (k, &f) in faults.iter().enumerate() {
        let window_end = faults.get(k + 1).copied().unwrap_or(end).max(f);
        let baseline = value_before(f);
        let mut below = false;
        let mut back_at = f;
        let mut current = baseline;
        let start = series.partition_point(|(at, _)| *at < f);
        for &(t, v) in series[start..].iter().take_while(|(t, _)| *t < window_end) {
            if v < baseline && current >= baseline {
                below = true;
            }
            if v >= baseline && current < baseline {
                back_at = t;
            }
            current = v;
        }
        out.push(if current < baseline {
            None
        } else if below {
            Some(back_at.saturating_since(f))
        } else {
            Some(SimDuration::ZERO)
        });
    }
    out
}

/// What the store holds at the end of the run, for the end-of-run measures.
struct EndState {
    /// Requests of the pending pods.
    pending: Vec<Resources>,
    nodes_used: u64,
    skew_max: i64,
    /// Ready, schedulable nodes: (allocatable, requested, pods on it).
    usable: Vec<(Resources, Resources, i64)>,
}

impl EndState {
    fn read(store: &Store) -> EndState {
        let mut pending = Vec::new();
        let mut used: BTreeSet<&str> = BTreeSet::new();
        let mut on_node: BTreeMap<&str, (Resources, i64)> = BTreeMap::new();
        // Controller uid → pods per node.
        let mut groups: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
        for o in store.list(crate::api::Kind::Pod) {
            let Object::Pod(p) = &**o else { continue };
            if p.status.phase.is_terminal() {
                continue;
            }
            if p.spec.node_name.is_empty() {
                if !p.metadata.is_terminating() {
                    pending.push(pod_requests(&p.spec));
                }
                continue;
            }
            let node = p.spec.node_name.as_str();
            let e = on_node.entry(node).or_default();
            e.0.add(&pod_requests(&p.spec));
            e.1 += 1;
            let owner = p.metadata.controller_ref();
            if owner.is_none_or(|r| r.kind != "DaemonSet") {
                used.insert(node);
            }
            if let Some(r) = owner
                && r.kind != "DaemonSet"
                && !p.metadata.is_terminating()
            {
                *groups
                    .entry(r.uid.as_str())
                    .or_default()
                    .entry(node)
                    .or_insert(0) += 1;
            }
        }
        let mut domain_of: BTreeMap<&str, &str> = BTreeMap::new();
        let mut usable = Vec::new();
        for o in store.list(crate::api::Kind::Node) {
            let Object::Node(n) = &**o else { continue };
            if let Some(d) = n.metadata.labels.get(HOSTNAME) {
                domain_of.insert(n.metadata.name.as_str(), d.as_str());
            }
            if n.is_ready() && !n.spec.unschedulable {
                let (req, count) = on_node
                    .get(n.metadata.name.as_str())
                    .cloned()
                    .unwrap_or_default();
                usable.push((Resources::from_list(&n.status.allocatable), req, count));
            }
        }
        let domains: BTreeSet<&str> = domain_of.values().copied().collect();
        let mut skew_max = 0;
        for per_node in groups.values() {
            let mut counts: BTreeMap<&str, i64> = domains.iter().map(|d| (*d, 0)).collect();
            for (node, n) in per_node {
                if let Some(d) = domain_of.get(node) {
                    *counts.entry(d).or_insert(0) += n;
                }
            }
            let max = counts.values().max().copied().unwrap_or(0);
            let min = counts.values().min().copied().unwrap_or(0);
            skew_max = skew_max.max(max - min);
        }
        EndState {
            pending,
            nodes_used: used.len() as u64,
            skew_max,
            usable,
        }
    }

    fn fragmentation(&self) -> f64 {
        if self.pending.is_empty() {
            return 0.0;
        }
        let mut stranded = 0i64;
        let mut total = 0i64;
        for (alloc, req, count) in &self.usable {
            let mut free = alloc.clone();
            free.sub(req);
            total += alloc.milli_cpu;
            let fits = |r: &Resources| {
                r.milli_cpu <= free.milli_cpu
                    && r.memory <= free.memory
                    && (alloc.pods == 0 || *count < alloc.pods)
                    && r.scalar
                        .iter()
                        .all(|(k, v)| *v <= 0 || free.scalar.get(k).is_some_and(|f| v <= f))
            };
            if !self.pending.iter().any(fits) {
                stranded += free.milli_cpu.max(0);
            }
        }
        ratio(stranded, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> SimDuration {
        SimDuration::from_millis(v)
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<SimDuration> = (1..=10).map(ms).collect();
        assert_eq!(percentile(&v, 50), Some(ms(5)));
        assert_eq!(percentile(&v, 99), Some(ms(10)));
        assert_eq!(percentile(&v[..1], 50), Some(ms(1)));
        assert_eq!(percentile(&[], 50), None);
    }

    fn t(s: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_secs(s))
    }

    #[test]
    fn recovery_is_the_last_return_to_the_baseline_before_the_next_fault() {
        let series = vec![(t(0), 4), (t(10), 3), (t(20), 4), (t(25), 3), (t(40), 4)];
        // Fault at 5 s: dips at 10, back at 20, dips again at 25, back for good at 40.
        assert_eq!(recoveries(&[t(5)], &series, t(100)), vec![Some(ms(35_000))]);
        // A second fault at 30 s cuts the first one's window (still below at 30); its own
        // baseline is the 3 pods Ready then, which it never falls below.
        assert_eq!(
            recoveries(&[t(5), t(30)], &series, t(100)),
            vec![None, Some(SimDuration::ZERO)]
        );
        // Never below the baseline: recovered at once.
        assert_eq!(
            recoveries(&[t(50)], &series, t(100)),
            vec![Some(SimDuration::ZERO)]
        );
    }

    #[test]
    fn faults_are_the_disruptive_actions() {
        assert!(is_fault(&Action::ControlPlaneOutage));
        assert!(!is_fault(&Action::AddNodes {
            pool: "p".into(),
            count: 1
        }));
    }
}
