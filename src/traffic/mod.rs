//! Request traffic to Services (the scenario's `spec.traffic`), as one component named
//! `traffic`: clients send requests, which enter the cluster at a node, go through that
//! node's kube-proxy rules ([`crate::proxy::Dataplane`]) to an endpoint, and queue at the
//! endpoint's pod. Outcomes and latency go to services.csv and summary.json
//! ([`metrics`]).
//!
//! **What is true, and who knows it.** kube-proxy routes by what the API said (its rules
//! lag the EndpointSlices by a watch latency and a sync). Whether the chosen pod answers is
//! the simulator's ground truth, which this component follows from the watches:
//! - a pod serves while it is Running and Ready and not terminating, as its kubelet last
//!   reported; while its node's kubelet is cut off from the API server (node state
//!   `Partitioned` or `KubeletStopped`), the API's view of its pods is frozen here at the
//!   cut (the node lifecycle controller marking them NotReady, or their deletion, does not
//!   stop containers that keep running), and re-read when the kubelet is back;
//! - a request to a pod on a `Crashed` node times out (the address still answers ARP for
//!   nothing); to a pod the API no longer has, or one that does not serve, is an error.
//!
//! **Entering the cluster.** `from: {zone: Z}` requests come from pods on a uniformly drawn
//! live node of zone Z and use the ClusterIP (internal traffic policy); `{node: N}` from
//! node N; `{client: C}` from outside, through a load balancer that spreads them uniformly
//! over live nodes (for `externalTrafficPolicy: Local`, over nodes whose rules have a local
//! endpoint, as the LB's health check on `healthCheckNodePort` does) to the NodePort
//! (external traffic policy).
//!
//! **Network.** A request goes from the clients' place to the pod's node and back over
//! [`crate::network`]: a sampled one-way latency counts twice; an unreachable node, or a
//! lost packet, is a timeout.
//!
//! **Queueing.** A pod serves `concurrency` requests at once; more wait FIFO. `lc`, `sed`
//! and `nq` count a pod's busy servers as its active connections.
//!
//! **Two methods** (`mode`, per source):
//! - `exact`: one engine event per arrival (Poisson, constant, steps or CSV timestamps);
//!   each request is routed, balanced and queued on its own (the pod's servers' free
//!   times: the multi-server Lindley recursion). Default up to 200 req/s.
//! - `batch`: per `batchStep` (1 s), a Poisson count of arrivals in 4 groups at the
//!   quarter-step midpoints; each group enters at one drawn node; with random/round-robin
//!   balancing and no affinity it is split evenly over that node's endpoints (the
//!   expectation of the random split, the exact rr split), otherwise one balancer pick
//!   takes the whole group. Each endpoint's requests of the step then get one latency
//!   sample weighted by their count: service time plus an M/M/c wait, plus the fluid
//!   backlog of saturated steps. Outcome counts are exact in expectation; state changes
//!   take effect at group boundaries (≤ a quarter step late). Default above 200 req/s;
//!   docs/semantics.md (kube-proxy and request traffic) gives the accuracy measured
//!   against `exact`.

pub mod metrics;
pub mod spec;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::RngExt;

use crate::api::objects::{Kind, Object, ObjectKey, PodPhase};
use crate::api::{WatchEvent, WatchEventType, WatchFilter};
use crate::controllers::pods::is_ready;
use crate::kubelet::NodeAgent;
use crate::network::Place;
use crate::proxy::{IpvsScheduler, PickInput, ProxyMode, ServiceRules, TrafficClass, Verdict};
use crate::runtime::{Component, Context};
use crate::sim::{RngStream, SimDuration, SimTime};

pub use metrics::{Outcome, TrafficMetrics};
pub use spec::{Method, Source, TrafficSpec};

/// The annotation (on Namespace `kube-system`) a `trafficRate` timeline action sets:
/// `traffic.kubesim.io/<source>: "<requests per second>"` overrides the source's rate from
/// then on; removing it restores the scenario's schedule.
pub const RATE_ANNOTATION_PREFIX: &str = "traffic.kubesim.io/";

/// Groups per batch step.
const BATCH_GROUPS: u64 = 4;

const WATCH_PODS: usize = 0;
const WATCH_NODES: usize = 1;
const WATCH_NAMESPACES: usize = 2;

/// What the simulator knows about a pod that has an IP.
#[derive(Clone, Debug)]
struct PodTruth {
    key: ObjectKey,
    node: String,
    serving: bool,
    /// When each of the pod's servers is next free (exact method).
    servers: Vec<SimTime>,
    /// Fluid backlog in requests and when it was last drained (batch method).
    backlog: f64,
    drained_at: SimTime,
}

impl PodTruth {
    fn busy(&self, now: SimTime) -> u32 {
        self.servers.iter().filter(|t| **t > now).count() as u32
    }
}

#[derive(Clone, Debug)]
struct NodeTruth {
    zone: String,
    agent: NodeAgent,
}

impl NodeTruth {
    fn alive(&self) -> bool {
        self.agent != NodeAgent::Crashed
    }

    /// The API's view of this node's pods is frozen here while its kubelet is cut off.
    fn frozen(&self) -> bool {
        matches!(
            self.agent,
            NodeAgent::Partitioned | NodeAgent::KubeletStopped
        )
    }
}

struct SourceState {
    spec: Source,
    key: String,
    rng: RngStream,
    /// Rate set by a `trafficRate` action, replacing the schedule.
    override_rate: Option<f64>,
    /// The pending arrival timer (exact method).
    timer: Option<crate::sim::EventId>,
    /// Next CSV arrival index.
    next_csv: usize,
    /// Entry nodes, cached until nodes or rules change.
    entries: Option<(u64, u64, Arc<Vec<String>>)>,
}

/// The traffic component.
pub struct Traffic {
    sources: Vec<SourceState>,
    /// Pods by IP (looked up, never iterated into an output).
    pods: HashMap<String, PodTruth>,
    /// Pod key → IP.
    ips: BTreeMap<ObjectKey, String>,
    nodes: BTreeMap<String, NodeTruth>,
    /// Bumped whenever a node's zone or liveness changes.
    nodes_generation: u64,
    /// During a batch step: requests per endpoint of each rules version used.
    collect: Option<Vec<(Arc<ServiceRules>, Vec<u64>)>>,
}

fn token(source: usize, batch: bool) -> u64 {
    (source as u64) << 1 | u64::from(batch)
}

impl Traffic {
    /// Each source draws from its own stream `traffic/<source name>`, set when the
    /// component starts.
    pub fn new(sources: Vec<Source>) -> Traffic {
        use rand::SeedableRng;
        Traffic {
            sources: sources
                .into_iter()
                .map(|spec| SourceState {
                    key: format!("{}/{}", spec.namespace, spec.service),
                    rng: RngStream::seed_from_u64(0),
                    spec,
                    override_rate: None,
                    timer: None,
                    next_csv: 0,
                    entries: None,
                })
                .collect(),
            pods: HashMap::new(),
            ips: BTreeMap::new(),
            nodes: BTreeMap::new(),
            nodes_generation: 0,
            collect: None,
        }
    }

    fn rate_at(&self, i: usize, t: SimDuration) -> f64 {
        let s = &self.sources[i];
        if let Some(r) = s.override_rate {
            return r;
        }
        s.spec
            .steps
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map_or(0.0, |(_, r)| *r)
    }

    /// The start of the next schedule step after `t`, if any (rates change only there).
    fn next_step(&self, i: usize, t: SimDuration) -> Option<SimDuration> {
        let s = &self.sources[i];
        if s.override_rate.is_some() {
            return None;
        }
        s.spec.steps.iter().map(|(at, _)| *at).find(|at| *at > t)
    }

    /// Schedules source `i`'s next arrival (exact method) after `now`.
    fn schedule_arrival(&mut self, i: usize, ctx: &mut Context<'_>) {
        let now = SimDuration::from_nanos(ctx.now().as_nanos());
        let src = &mut self.sources[i];
        if let Some(arrivals) = &src.spec.arrivals {
            let k = src.next_csv;
            if let Some(at) = arrivals.get(k) {
                src.next_csv = k + 1;
                let delay = SimDuration::from_nanos(at.as_nanos().saturating_sub(now.as_nanos()));
                src.timer = Some(ctx.set_timer(delay, token(i, false)));
            }
            return;
        }
        // Piecewise-constant rate: draw a gap at the current rate; a gap crossing a step
        // boundary is redrawn from there (exact for Poisson, which is memoryless).
        let mut t = now;
        for _ in 0..10_000 {
            let rate = self.rate_at(i, t);
            let boundary = self.next_step(i, t);
            if rate > 0.0 {
                let gap_s = if self.sources[i].spec.poisson {
                    let u: f64 = self.sources[i].rng.random::<f64>();
                    -(1.0 - u).ln() / rate
                } else {
                    1.0 / rate
                };
                let gap = SimDuration::from_nanos((gap_s * 1e9).clamp(1.0, 1e18) as u64);
                let at = t.saturating_add(gap);
                if boundary.is_none_or(|b| at < b) {
                    let delay = SimDuration::from_nanos(at.as_nanos() - now.as_nanos());
                    self.sources[i].timer = Some(ctx.set_timer(delay, token(i, false)));
                    return;
                }
            }
            match boundary {
                Some(b) => t = b,
                None => return, // rate 0 from here on
            }
        }
    }

    /// Candidate entry nodes of source `i` (cached).
    fn entries(&mut self, i: usize, ctx: &Context<'_>) -> Arc<Vec<String>> {
        let dp_gen = ctx.dataplane().generation;
        // Partitions change reachability without a node event: no cache while any holds.
        let cacheable = !ctx.network().has_rules();
        if cacheable
            && let Some((ng, dg, list)) = &self.sources[i].entries
            && *ng == self.nodes_generation
            && (*dg == dp_gen || !matches!(self.sources[i].spec.from, spec::Origin::Client(_)))
        {
            return list.clone();
        }
        let key = self.sources[i].key.clone();
        let list: Vec<String> = match &self.sources[i].spec.from {
            spec::Origin::Node(n) => self
                .nodes
                .get(n)
                .filter(|t| t.alive())
                .map(|_| vec![n.clone()])
                .unwrap_or_default(),
            spec::Origin::Zone(z) => self
                .nodes
                .iter()
                .filter(|(_, t)| t.alive() && &t.zone == z)
                .map(|(n, _)| n.clone())
                .collect(),
            spec::Origin::Client(c) => self
                .nodes
                .iter()
                .filter(|(n, t)| {
                    t.alive()
                        && ctx.network().reachable(Place::Client(c), Place::Node(n))
                        && ctx.dataplane().rules(n, &key).is_none_or(|r| {
                            !r.external_local
                                || r.verdict(TrafficClass::External, n, Some(&t.zone))
                                    != Verdict::Drop
                        })
                })
                .map(|(n, _)| n.clone())
                .collect(),
        };
        let list = Arc::new(list);
        self.sources[i].entries = Some((self.nodes_generation, dp_gen, list.clone()));
        list
    }

    /// Routes `n` requests of source `i` sent at `t` (now, for exact; a group time within
    /// the step, for batch) and records their outcomes.
    fn send(&mut self, i: usize, t: SimTime, n: u64, ctx: &mut Context<'_>) {
        let entries = self.entries(i, ctx);
        let key = self.sources[i].key.clone();
        if entries.is_empty() {
            ctx.traffic_metrics_mut()
                .add(&key, Outcome::Refused, n, None);
            return;
        }
        let (class, exact) = (
            self.sources[i].spec.from.class(),
            self.sources[i].spec.method == Method::Exact,
        );
        let src = &mut self.sources[i];
        let entry = &entries[src.rng.random_range(0..entries.len())];
        let client = src.rng.random_range(0..src.spec.clients);
        let zone = self.nodes.get(entry).map(|t| t.zone.clone());
        let Some(rules) = ctx.dataplane().rules(entry, &key).cloned() else {
            ctx.traffic_metrics_mut()
                .add(&key, Outcome::Refused, n, None);
            return;
        };
        let candidates = match rules.verdict(class, entry, zone.as_deref()) {
            Verdict::Reject => {
                ctx.traffic_metrics_mut()
                    .add(&key, Outcome::Refused, n, None);
                return;
            }
            Verdict::Drop => {
                ctx.traffic_metrics_mut()
                    .add(&key, Outcome::Timeout, n, None);
                return;
            }
            Verdict::Endpoints(c) => c,
        };
        let mode = ctx.dataplane().mode;
        let even = !exact
            && rules.affinity.is_none()
            && matches!(
                mode,
                ProxyMode::Iptables
                    | ProxyMode::Nftables
                    | ProxyMode::Ipvs(IpvsScheduler::Rr | IpvsScheduler::Wrr)
            );
        if even {
            // The group's expected split over the endpoints (rr: exact), remainder from a
            // rotating start.
            let k = candidates.len() as u64;
            let start = self.sources[i].rng.random_range(0..k);
            for j in 0..k {
                let share = n / k + u64::from((j + k - start) % k < n % k);
                if share > 0 {
                    self.route_to(i, t, share, &rules, candidates[j as usize], &key, ctx);
                }
            }
            return;
        }
        let addrs: Vec<&str> = candidates
            .iter()
            .map(|&c| rules.endpoints[c].addr.as_str())
            .collect();
        let pods = &self.pods;
        let active = |j: usize| {
            pods.get(&rules.endpoints[candidates[j]].ip)
                .map_or(0, |p| p.busy(t))
        };
        let input = PickInput {
            now: t,
            client,
            affinity: rules.affinity,
            addrs: &addrs,
            active: &active,
        };
        let src = &mut self.sources[i];
        let pick = ctx
            .dataplane_mut()
            .balancer(entry, &key)
            .pick(mode, &input, &mut src.rng);
        self.route_to(i, t, n, &rules, candidates[pick], &key, ctx);
    }

    /// `n` requests go to endpoint `e` of `rules`: delivered now (exact), or added to the
    /// step's per-endpoint totals (batch).
    #[allow(clippy::too_many_arguments)]
    fn route_to(
        &mut self,
        i: usize,
        t: SimTime,
        n: u64,
        rules: &Arc<ServiceRules>,
        e: usize,
        key: &str,
        ctx: &mut Context<'_>,
    ) {
        match &mut self.collect {
            Some(per_rules) => {
                // Rules in order of first use (never by address: the order reaches the
                // random draws), counts by endpoint index.
                let slot = match per_rules.iter().position(|(r, _)| Arc::ptr_eq(r, rules)) {
                    Some(k) => k,
                    None => {
                        per_rules.push((rules.clone(), vec![0; rules.endpoints.len()]));
                        per_rules.len() - 1
                    }
                };
                per_rules[slot].1[e] += n;
            }
            None => {
                let ip = &rules.endpoints[e].ip;
                self.deliver(i, t, n, ip, key, 0.0, ctx)
            }
        }
    }

    /// `n` requests reach the endpoint `ip` at `t` (batch: spread over `span` seconds
    /// around `t`).
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        i: usize,
        t: SimTime,
        n: u64,
        ip: &str,
        key: &str,
        span: f64,
        ctx: &mut Context<'_>,
    ) {
        let src = &mut self.sources[i];
        let Some(pod) = self.pods.get_mut(ip) else {
            ctx.traffic_metrics_mut().add(key, Outcome::Error, n, None);
            return;
        };
        let node_up = self.nodes.get(&pod.node).is_some_and(NodeTruth::alive);
        if !node_up {
            ctx.traffic_metrics_mut()
                .add(key, Outcome::Timeout, n, None);
            return;
        }
        // The network between the clients and the pod's node (the path through the entry
        // node is approximated by the clients' place to the pod's node).
        let origin = src.spec.from.place();
        let to = Place::Node(&pod.node);
        let (n, one_way) = if src.spec.method == Method::Exact {
            match ctx.network().sample(origin, to, &mut src.rng) {
                Some((d, false)) => (n, d),
                _ => {
                    ctx.traffic_metrics_mut()
                        .add(key, Outcome::Timeout, n, None);
                    return;
                }
            }
        } else {
            let Some(loss) = ctx.network().loss(origin, to) else {
                ctx.traffic_metrics_mut()
                    .add(key, Outcome::Timeout, n, None);
                return;
            };
            let lost = ((n as f64 * loss).round() as u64).min(n);
            if lost > 0 {
                ctx.traffic_metrics_mut()
                    .add(key, Outcome::Timeout, lost, None);
            }
            let d = ctx
                .network()
                .sample(origin, to, &mut src.rng)
                .map_or(SimDuration::ZERO, |(d, _)| d);
            (n - lost, d)
        };
        if n == 0 {
            return;
        }
        if !pod.serving {
            ctx.traffic_metrics_mut().add(key, Outcome::Error, n, None);
            return;
        }
        let c = src.spec.concurrency as usize;
        let service = src.spec.service_time.sample(&mut src.rng);
        let latency = if src.spec.method == Method::Exact {
            // Multi-server FIFO: the earliest-free server takes the request.
            if pod.servers.len() < c {
                pod.servers.resize(c, SimTime::ZERO);
            }
            let (slot, free) = pod
                .servers
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|(_, f)| *f)
                .unwrap_or((0, SimTime::ZERO));
            let start = free.max(t);
            let finish = start.saturating_add(service);
            pod.servers[slot] = finish;
            finish.saturating_since(t)
        } else {
            let wait_s = batch_wait(
                pod,
                t,
                span,
                n,
                c as f64,
                src.spec.mean_service_s,
                &mut src.rng,
            );
            service.saturating_add(SimDuration::from_nanos((wait_s * 1e9) as u64))
        };
        // Request and response each cross the network once.
        let latency = latency.saturating_add(one_way.saturating_mul(2));
        ctx.traffic_metrics_mut()
            .add(key, Outcome::Success, n, Some(latency.as_nanos() / 1000));
    }

    /// One batch step of source `i`, covering `[now - step, now)`.
    fn batch(&mut self, i: usize, step: SimDuration, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let start = SimTime::from_nanos(now.as_nanos().saturating_sub(step.as_nanos()));
        let rate = self.rate_at(i, SimDuration::from_nanos(start.as_nanos()));
        let mean = rate * step.as_nanos() as f64 / 1e9;
        let n = if self.sources[i].spec.poisson {
            poisson(mean, &mut self.sources[i].rng)
        } else {
            mean.round() as u64
        };
        let groups = n.min(BATCH_GROUPS);
        self.collect = Some(Vec::new());
        for g in 0..groups {
            let m = n / groups + u64::from(g < n % groups);
            let at = start.saturating_add(SimDuration::from_nanos(
                step.as_nanos() / groups * g + step.as_nanos() / groups / 2,
            ));
            self.send(i, at, m, ctx);
        }
        // Each endpoint's requests of the step, spread over it.
        let key = self.sources[i].key.clone();
        let middle = start.saturating_add(SimDuration::from_nanos(step.as_nanos() / 2));
        let span = step.as_nanos() as f64 / 1e9;
        for (rules, counts) in self.collect.take().unwrap_or_default() {
            for (e, m) in counts.into_iter().enumerate() {
                if m > 0 {
                    self.deliver(i, middle, m, &rules.endpoints[e].ip, &key, span, ctx);
                }
            }
        }
        ctx.set_timer(step, token(i, true));
    }

    fn pod_event(&mut self, event: &WatchEvent) {
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        let node = pod.spec.node_name.clone();
        if self.nodes.get(&node).is_some_and(NodeTruth::frozen) {
            return; // its kubelet is cut off: the containers go on as they were
        }
        if event.type_ == WatchEventType::Deleted || pod.status.pod_ip.is_empty() {
            if let Some(ip) = self.ips.remove(&key)
                && self.pods.get(&ip).is_some_and(|p| p.key == key)
            {
                self.pods.remove(&ip);
            }
            return;
        }
        let serving = pod.status.phase == PodPhase::Running
            && is_ready(pod)
            && pod.metadata.deletion_timestamp.is_none();
        let ip = pod.status.pod_ip.clone();
        if let Some(old) = self.ips.insert(key.clone(), ip.clone())
            && old != ip
        {
            self.pods.remove(&old);
        }
        let entry = self.pods.entry(ip).or_insert_with(|| PodTruth {
            key: key.clone(),
            node: node.clone(),
            serving,
            servers: Vec::new(),
            backlog: 0.0,
            drained_at: SimTime::ZERO,
        });
        if entry.key != key {
            // The IP was handed to a new pod.
            *entry = PodTruth {
                key,
                node,
                serving,
                servers: Vec::new(),
                backlog: 0.0,
                drained_at: SimTime::ZERO,
            };
        } else {
            entry.serving = serving;
            entry.node = node;
        }
    }

    fn node_event(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Node(n) = &*event.object else {
            return;
        };
        let name = n.metadata.name.clone();
        if event.type_ == WatchEventType::Deleted {
            self.nodes.remove(&name);
            self.nodes_generation += 1;
            return;
        }
        let truth = NodeTruth {
            zone: crate::proxy::node_zone(&event.object).to_string(),
            agent: match NodeAgent::of(n).unwrap_or(NodeAgent::Running) {
                NodeAgent::Running
                    if !ctx
                        .network()
                        .reachable(Place::Node(&name), Place::ControlPlane) =>
                {
                    NodeAgent::Partitioned
                }
                a => a,
            },
        };
        let was_frozen = self.nodes.get(&name).is_some_and(NodeTruth::frozen);
        let changed = self
            .nodes
            .get(&name)
            .is_none_or(|t| t.zone != truth.zone || t.alive() != truth.alive());
        let frozen = truth.frozen();
        self.nodes.insert(name.clone(), truth);
        if changed {
            self.nodes_generation += 1;
        }
        if was_frozen && !frozen {
            self.resync_node(&name, ctx);
        }
    }

    /// The kubelet of `node` is back: re-read its pods from the API.
    fn resync_node(&mut self, node: &str, ctx: &mut Context<'_>) {
        let stale: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.node == node)
            .map(|(ip, _)| ip.clone())
            .collect();
        for ip in stale {
            if let Some(p) = self.pods.remove(&ip) {
                self.ips.remove(&p.key);
            }
        }
        for obj in ctx.list(Kind::Pod) {
            if let Object::Pod(p) = &*obj
                && p.spec.node_name == node
            {
                let ev = WatchEvent {
                    type_: WatchEventType::Modified,
                    resource_version: p.metadata.resource_version,
                    object: obj.clone(),
                    old: None,
                };
                self.pod_event(&ev);
            }
        }
    }

    fn namespace_event(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Namespace(ns) = &*event.object else {
            return;
        };
        if ns.metadata.name != "kube-system" {
            return;
        }
        for i in 0..self.sources.len() {
            let key = format!("{RATE_ANNOTATION_PREFIX}{}", self.sources[i].spec.name);
            let rate = if event.type_ == WatchEventType::Deleted {
                None
            } else {
                ns.metadata
                    .annotations
                    .get(&key)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|r| r.is_finite() && *r >= 0.0)
            };
            if rate != self.sources[i].override_rate {
                self.sources[i].override_rate = rate;
                if self.sources[i].spec.method == Method::Exact
                    && self.sources[i].spec.arrivals.is_none()
                {
                    if let Some(id) = self.sources[i].timer.take() {
                        ctx.cancel_timer(id);
                    }
                    self.schedule_arrival(i, ctx);
                }
            }
        }
    }
}

/// The queueing delay of one request drawn for a group of `n` requests reaching `pod`
/// spread over `span` seconds around `t` (batch method), and the pod's backlog update.
///
/// - Below saturation (offered load `a = λ·s < c`): M/M/c, the Erlang C probability that
///   a request waits, then an exponential wait of mean `1 / (c/s − λ)`;
/// - plus the fluid backlog left by earlier saturated groups, drained at `c/s`;
/// - at or above saturation the backlog grows by the excess, and the group waits for half
///   of it on average.
fn batch_wait(
    pod: &mut PodTruth,
    t: SimTime,
    span: f64,
    n: u64,
    c: f64,
    mean_s: f64,
    rng: &mut RngStream,
) -> f64 {
    let mean_s = mean_s.max(1e-9);
    let capacity = c / mean_s; // requests per second
    let start = t.as_nanos() as f64 / 1e9 - span / 2.0;
    let drained = pod.drained_at.as_nanos() as f64 / 1e9;
    pod.backlog = (pod.backlog - capacity * (start - drained).max(0.0)).max(0.0);
    pod.drained_at = SimTime::from_nanos(((start + span).max(drained) * 1e9) as u64);
    let backlog_wait = pod.backlog / capacity;
    let lambda = n as f64 / span.max(1e-9);
    let a = lambda * mean_s;
    if a < c {
        // Erlang B by recursion, then Erlang C.
        let mut b = 1.0;
        for k in 1..=(c as u64) {
            b = a * b / (k as f64 + a * b);
        }
        let p_wait = c * b / (c - a * (1.0 - b));
        let u: f64 = rng.random::<f64>();
        let queue = if u < p_wait {
            let v: f64 = rng.random::<f64>();
            -(1.0 - v).ln() / (capacity - lambda)
        } else {
            0.0
        };
        backlog_wait + queue
    } else {
        let excess = n as f64 - capacity * span;
        pod.backlog += excess.max(0.0);
        backlog_wait + excess.max(0.0) / 2.0 / capacity
    }
}

/// A Poisson draw: Knuth's product method for small means, a rounded normal above 30.
fn poisson(mean: f64, rng: &mut RngStream) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        let z = crate::kubelet::behavior::standard_normal(rng);
        return (mean + mean.sqrt() * z).round().max(0.0) as u64;
    }
    let limit = (-mean).exp();
    let mut p = 1.0;
    let mut k = 0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit || k > 1000 {
            return k;
        }
        k += 1;
    }
}

impl Component for Traffic {
    fn name(&self) -> String {
        "traffic".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Pod]),
            WatchFilter::kinds(&[Kind::Node]),
            WatchFilter::kinds(&[Kind::Namespace]),
        ]
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for i in 0..self.sources.len() {
            self.sources[i].rng = ctx.stream(&self.sources[i].spec.name);
            let key = self.sources[i].key.clone();
            ctx.traffic_metrics_mut().declare(&key);
            match self.sources[i].spec.method {
                Method::Exact => self.schedule_arrival(i, ctx),
                Method::Batch(step) => {
                    ctx.set_timer(step, token(i, true));
                }
            }
        }
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_PODS => self.pod_event(event),
            WATCH_NODES => self.node_event(event, ctx),
            WATCH_NAMESPACES => self.namespace_event(event, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        let i = (token >> 1) as usize;
        if i >= self.sources.len() {
            return;
        }
        if token & 1 == 1 {
            if let Method::Batch(step) = self.sources[i].spec.method {
                self.batch(i, step, ctx);
            }
            return;
        }
        self.sources[i].timer = None;
        let now = ctx.now();
        self.send(i, now, 1, ctx);
        self.schedule_arrival(i, ctx);
    }
}
