//! The runtime: one simulated cluster — the engine, the API store, watch delivery, the
//! registered components, and the outputs.
//!
//! - Every store write is followed by [`World::publish`]: changes are folded into the
//!   metrics aggregates and fanned out to matching watchers, each delivery an engine event
//!   at `now + watch latency (+ jitter)`.
//! - Per watcher, delivery times never decrease and equal times pop in FIFO order, so each
//!   watcher sees changes in resourceVersion order.
//! - Metrics are sampled between events: the row for time `t` reflects every event at or
//!   before `t`.

pub mod component;
pub mod output;
pub mod stats;
pub mod summary;

use std::io::{self, Write};
use std::sync::Arc;

use rand::RngExt;

use crate::api::{
    AdmissionConfig, ApiError, Object, ObjectKey, Store, StoreLimits, WatchEvent, WatchEventType,
    WatchFilter,
};
use crate::sim::{Engine, Limits, RngFactory, RngStream, SimDuration, SimError, SimTime};

pub use component::{Component, ComponentId, Context};
pub use output::{EventRecord, EventType, MetricsRow};
pub use stats::{ChangeObserver, Stats};

/// Watch propagation delay. Default: 10 ms, no jitter.
///
/// Real informers see a write within a few to a few tens of milliseconds on a healthy
/// control plane; 10 ms is a middle value. Jitter, when set, is drawn uniformly from
/// `[0, jitter]` per delivery from the `apiserver/watch` random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    pub latency: SimDuration,
    pub jitter: SimDuration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            latency: SimDuration::from_millis(10),
            jitter: SimDuration::ZERO,
        }
    }
}

/// How a cluster runs. Defaults: seed 1, 10 minutes, samples every 10 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunConfig {
    pub seed: u64,
    pub duration: SimDuration,
    pub sample_interval: SimDuration,
    pub watch: WatchConfig,
    pub limits: Limits,
    pub store_limits: StoreLimits,
    /// API server admission plugin settings.
    pub admission: AdmissionConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            seed: 1,
            duration: SimDuration::from_secs(600),
            sample_interval: SimDuration::from_secs(10),
            watch: WatchConfig::default(),
            limits: Limits::default(),
            store_limits: StoreLimits::default(),
            admission: AdmissionConfig::default(),
        }
    }
}

/// Engine payloads of the runtime.
pub enum Event {
    Deliver {
        component: ComponentId,
        watch: usize,
        event: WatchEvent,
    },
    Timer {
        component: ComponentId,
        token: u64,
    },
}

struct Watcher {
    component: ComponentId,
    index: usize,
    filter: WatchFilter,
    last_delivery: SimTime,
    /// Per-node watches ([`WatchFilter::per_node`]): the last delivery time per node
    /// (lookups only, never iterated).
    node_last: std::collections::HashMap<String, SimTime>,
}

/// Everything components reach through their [`Context`].
pub struct World {
    pub(crate) store: Store,
    pub(crate) recorder: output::Recorder,
    watchers: Vec<Watcher>,
    stats: Stats,
    watch: WatchConfig,
    watch_rng: RngStream,
    pub(crate) rngs: RngFactory,
    pub(crate) component_names: Vec<String>,
    /// Expectation results, by declaration index (written by the expectations component).
    pub(crate) expectations: Vec<summary::ExpectationResult>,
    /// A control-plane outage is under way: component writes fail with
    /// `ApiError::ServiceUnavailable` and watch deliveries wait in `stalled`.
    pub(crate) api_down: bool,
    /// Deliveries held back during an outage, in the order they came due.
    stalled: Vec<Event>,
    /// Components started during the current event ([`Context::spawn`]), registered
    /// right after it.
    spawned: Vec<Box<dyn Component>>,
    /// The nodes' kube-proxy rules ([`crate::proxy`]).
    pub(crate) dataplane: crate::proxy::Dataplane,
    /// Request outcomes per Service ([`crate::traffic`]).
    pub(crate) traffic: crate::traffic::TrafficMetrics,
    /// Sees every published change ([`Cluster::set_observer`]).
    observer: Option<Box<dyn ChangeObserver>>,
    /// The cluster network (`spec.network`): nodes attach as they appear in the store.
    pub(crate) network: crate::network::Network,
    /// Draws of per-node watch latencies (`network/watch`).
    net_rng: RngStream,
}

impl World {
    /// `base`, or `base/2`, `base/3`, … : the first name no registered or pending component
    /// has.
    pub(crate) fn unique_name(&self, base: &str) -> String {
        let taken = |n: &String| {
            self.component_names.contains(n) || self.spawned.iter().any(|c| &c.name() == n)
        };
        let mut name = base.to_string();
        // Bounded: at most one suffix per existing or pending component.
        let bound = self.component_names.len() + self.spawned.len() + 2;
        for k in 2..=bound {
            if !taken(&name) {
                break;
            }
            name = format!("{base}/{k}");
        }
        name
    }

    /// Starts or ends a control-plane outage. At the end, every held-back delivery is queued
    /// at the current time in the order it came due, so each watcher still sees changes in
    /// resourceVersion order.
    pub(crate) fn set_api_down(&mut self, down: bool, engine: &mut Engine<Event>) {
        self.api_down = down;
        if !down {
            let now = engine.now();
            for event in std::mem::take(&mut self.stalled) {
                if let Event::Deliver { component, .. } = &event
                    && let Some(w) = self.watchers.iter_mut().find(|w| w.component == *component)
                {
                    w.last_delivery = w.last_delivery.max(now);
                }
                engine.schedule_at(now, event);
            }
        }
    }

    /// Drains the store's changes: updates aggregates and queues watch deliveries.
    pub(crate) fn publish(&mut self, engine: &mut Engine<Event>) {
        let now = engine.now();
        for change in self.store.take_changes() {
            let new = (change.type_ != WatchEventType::Deleted).then(|| &*change.object);
            self.stats.apply(change.old.as_deref(), new);
            if let Some(o) = &mut self.observer {
                o.on_change(now, change.old.as_deref(), new);
            }
            self.network.observe(&change);
            for w in &mut self.watchers {
                let Some(event) = w.filter.translate(&change) else {
                    continue;
                };
                let mut delay = self.watch.latency;
                if !self.watch.jitter.is_zero() {
                    let extra = self
                        .watch_rng
                        .random_range(0..=self.watch.jitter.as_nanos());
                    delay = delay.saturating_add(SimDuration::from_nanos(extra));
                }
                let at = match WatchFilter::node_of(&change.object).filter(|_| w.filter.per_node) {
                    Some(node) => {
                        // One kubelet's watch: the control plane → node latency on top, in
                        // order per node (an unreachable node's kubelet queues what it
                        // missed itself).
                        let place = crate::network::Place::Node(node);
                        let net = self
                            .network
                            .sample(
                                crate::network::Place::ControlPlane,
                                place,
                                &mut self.net_rng,
                            )
                            .map_or(SimDuration::ZERO, |(d, _)| d);
                        let last = w.node_last.get(node).copied().unwrap_or(w.last_delivery);
                        let at = now.saturating_add(delay).saturating_add(net).max(last);
                        if change.type_ == WatchEventType::Deleted
                            && change.object.kind() == crate::api::Kind::Node
                        {
                            // Bounded by the live nodes: a deleted node's entry goes.
                            w.node_last.remove(node);
                        } else if let Some(t) = w.node_last.get_mut(node) {
                            *t = at;
                        } else {
                            w.node_last.insert(node.to_string(), at);
                        }
                        at
                    }
                    None => {
                        let at = now.saturating_add(delay).max(w.last_delivery);
                        w.last_delivery = at;
                        at
                    }
                };
                engine.schedule_at(
                    at,
                    Event::Deliver {
                        component: w.component,
                        watch: w.index,
                        event,
                    },
                );
            }
        }
    }
}

struct Slot {
    component: Box<dyn Component>,
    rng: RngStream,
}

/// Why a component could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("a component named {0:?} is already registered")]
    DuplicateComponent(String),
}

/// One simulated cluster.
pub struct Cluster {
    engine: Engine<Event>,
    world: World,
    components: Vec<Slot>,
    config: RunConfig,
    metrics: output::MetricsWriter,
    /// services.csv, when the scenario has traffic ([`Cluster::set_services_output`]).
    services: Option<output::ServicesWriter>,
    next_sample: SimTime,
}

impl Cluster {
    /// A cluster with an empty store (initial namespaces only) writing events and metrics
    /// to the given sinks.
    pub fn new(config: RunConfig, events: Box<dyn Write>, metrics: Box<dyn Write>) -> Cluster {
        let rngs = RngFactory::new(config.seed);
        let mut store = Store::new(rngs.stream("apiserver/names"), config.store_limits);
        store.set_admission(config.admission);
        let world = World {
            store,
            recorder: output::Recorder::new(events),
            watchers: Vec::new(),
            stats: Stats::default(),
            watch: config.watch,
            watch_rng: rngs.stream("apiserver/watch"),
            net_rng: rngs.stream("network/watch"),
            rngs,
            component_names: Vec::new(),
            expectations: Vec::new(),
            api_down: false,
            stalled: Vec::new(),
            spawned: Vec::new(),
            dataplane: crate::proxy::Dataplane::default(),
            traffic: crate::traffic::TrafficMetrics::default(),
            observer: None,
            network: crate::network::Network::default(),
        };
        // The initial store holds only namespaces, which no aggregate counts.
        Cluster {
            engine: Engine::new(config.limits),
            world,
            components: Vec::new(),
            metrics: output::MetricsWriter::new(metrics),
            services: None,
            next_sample: SimTime::ZERO,
            config,
        }
    }

    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.world.store
    }

    pub fn stats(&self) -> &Stats {
        &self.world.stats
    }

    pub fn recorder(&self) -> &output::Recorder {
        &self.world.recorder
    }

    pub fn engine(&self) -> &Engine<Event> {
        &self.engine
    }

    /// The cluster network.
    pub fn network(&self) -> &crate::network::Network {
        &self.world.network
    }

    /// Replaces the network (built from `spec.network`) with the nodes already in the
    /// store attached. Call before the run starts; rules in force are dropped.
    pub fn set_network(&mut self, mut network: crate::network::Network) {
        for o in self.world.store.list(crate::api::Kind::Node) {
            network.attach_node(&o.meta().name, crate::network::site_of(&o.meta().labels));
        }
        self.world.network = network;
    }

    /// Expectation results so far, in declaration order.
    pub fn expectations(&self) -> &[summary::ExpectationResult] {
        &self.world.expectations
    }

    /// Request outcomes per Service so far.
    pub fn traffic(&self) -> &crate::traffic::TrafficMetrics {
        &self.world.traffic
    }

    /// Writes services.csv (one row per Service and sample) to `out`. Its digest joins
    /// the run digest.
    pub fn set_services_output(&mut self, out: Box<dyn Write>) {
        self.services = Some(output::ServicesWriter::new(out));
    }

    /// Installs a measurement hook that sees every change published from now on (the
    /// objects already in the store are in [`Cluster::store`]); replaces any earlier one.
    pub fn set_observer(&mut self, observer: Box<dyn ChangeObserver>) {
        self.world.observer = Some(observer);
    }

    pub fn metrics_rows(&self) -> u64 {
        self.metrics.rows()
    }

    /// Creates an object on behalf of the scenario (as `kubectl apply` would), logging a
    /// `Sim`/`Applied` event.
    pub fn apply(&mut self, obj: Object) -> Result<Arc<Object>, ApiError> {
        self.scenario_write(
            "Applied",
            "created",
            |s| s.create(obj),
            |o| ObjectKey::of(o),
        )
    }

    /// Updates an object on behalf of the scenario (as `kubectl replace` would), logging a
    /// `Sim`/`Updated` event. The object carries the resourceVersion it was read at.
    pub fn update(&mut self, obj: Object) -> Result<Arc<Object>, ApiError> {
        self.scenario_write(
            "Updated",
            "updated",
            |s| s.update(obj),
            |o| ObjectKey::of(o),
        )
    }

    /// Deletes an object on behalf of the scenario (as `kubectl delete` would), logging a
    /// `Sim`/`Deleted` event.
    pub fn delete(
        &mut self,
        key: &ObjectKey,
        opts: &crate::api::DeleteOptions,
    ) -> Result<crate::api::DeleteOutcome, ApiError> {
        self.scenario_write(
            "Deleted",
            "deleted",
            |s| s.delete(key, opts),
            |_| key.clone(),
        )
    }

    /// Evicts a pod through the Eviction API on behalf of the scenario (as `kubectl evict`
    /// or a client would), logging a `Sim`/`Evicted` event when it succeeds. A
    /// PodDisruptionBudget that allows no disruption answers
    /// [`ApiError::TooManyRequests`] (429); see [`crate::api::eviction`].
    pub fn evict(
        &mut self,
        key: &ObjectKey,
        opts: &crate::api::eviction::EvictOptions,
    ) -> Result<crate::api::DeleteOutcome, ApiError> {
        self.scenario_write(
            "Evicted",
            "evicted",
            |s| crate::api::eviction::evict(s, key, opts),
            |_| key.clone(),
        )
    }

    /// `kubectl cordon`: sets the node's `spec.unschedulable`, logging `Sim`/`Cordoned`.
    pub fn cordon(&mut self, node: &str) -> Result<Arc<Object>, ApiError> {
        self.set_unschedulable(node, true, "Cordoned", "cordoned")
    }

    /// `kubectl uncordon`: clears the node's `spec.unschedulable`, logging `Sim`/`Uncordoned`.
    pub fn uncordon(&mut self, node: &str) -> Result<Arc<Object>, ApiError> {
        self.set_unschedulable(node, false, "Uncordoned", "uncordoned")
    }

    fn set_unschedulable(
        &mut self,
        node: &str,
        value: bool,
        reason: &str,
        verb: &str,
    ) -> Result<Arc<Object>, ApiError> {
        let key = ObjectKey::new(crate::api::Kind::Node, "", node);
        self.scenario_write(
            reason,
            verb,
            |s| {
                let Some(Object::Node(mut n)) = s.get(&key).map(|o| (**o).clone()) else {
                    return Err(ApiError::NotFound { key: key.clone() });
                };
                n.spec.unschedulable = value;
                s.update(Object::Node(n))
            },
            |o| ObjectKey::of(o),
        )
    }

    /// `kubectl drain`: starts a `drain/<node>` component (`drain/<node>/<n>` for a later
    /// drain of the same node) that cordons the node and evicts its pods, retrying refusals
    /// every 5 s, until they are gone or the timeout passes; see
    /// [`crate::controllers::drain`]. Its progress is in events.jsonl.
    pub fn drain(
        &mut self,
        node: &str,
        opts: crate::controllers::drain::DrainOptions,
    ) -> Result<ComponentId, RuntimeError> {
        let name = self.world.unique_name(&format!("drain/{node}"));
        self.add_component(Box::new(crate::controllers::drain::Drain::new(
            name,
            node.to_string(),
            opts,
        )))
    }

    /// One API write on behalf of the scenario at the current time: logs a `Sim` event with
    /// `reason` when it succeeds, then fans the changes out to watchers.
    fn scenario_write<T>(
        &mut self,
        reason: &str,
        verb: &str,
        write: impl FnOnce(&mut Store) -> Result<T, ApiError>,
        key_of: impl FnOnce(&T) -> ObjectKey,
    ) -> Result<T, ApiError> {
        self.world.store.set_time(self.engine.now());
        let result = write(&mut self.world.store);
        if let Ok(done) = &result {
            let key = key_of(done);
            let record = EventRecord::new(
                self.engine.now(),
                EventType::Sim,
                reason,
                key.to_string(),
                format!("{} {verb} by the scenario", key.kind),
            );
            self.world.recorder.record(&record);
        }
        self.world.publish(&mut self.engine);
        result
    }

    /// Registers a component: opens its watches (queuing `Added` for existing objects) and
    /// calls `on_start`.
    pub fn add_component(
        &mut self,
        component: Box<dyn Component>,
    ) -> Result<ComponentId, RuntimeError> {
        register(
            &mut self.world,
            &mut self.components,
            &mut self.engine,
            component,
        )
    }

    /// Runs to the configured duration, writing a metrics row at every sample time
    /// (`0, interval, 2·interval, …`, and the end itself). On a limit error the cluster stays
    /// consistent, outputs hold everything up to it, and `run` may be called again.
    pub fn run(&mut self) -> Result<(), SimError> {
        self.run_until(SimTime::ZERO.saturating_add(self.config.duration))
    }

    /// Runs to `until` (at most the configured duration), sampling on the way; a later call
    /// continues from there. Lets a caller act between phases (apply objects, inspect).
    pub fn run_until(&mut self, until: SimTime) -> Result<(), SimError> {
        let end = SimTime::ZERO
            .saturating_add(self.config.duration)
            .min(until);
        loop {
            let t = self.next_sample.min(end);
            self.step_to(t)?;
            self.sample(t);
            if t >= end {
                return Ok(());
            }
            let interval = self.config.sample_interval;
            self.next_sample = if interval.is_zero() {
                end
            } else {
                t.saturating_add(interval)
            };
        }
    }

    fn step_to(&mut self, t: SimTime) -> Result<(), SimError> {
        let world = &mut self.world;
        let components = &mut self.components;
        self.engine.run_until(t, |engine, event| {
            world.store.set_time(engine.now());
            if world.api_down && matches!(event, Event::Deliver { .. }) {
                // Bounded: each held delivery was an engine event under `max_pending`.
                world.stalled.push(event);
                return;
            }
            let (Event::Deliver { component, .. } | Event::Timer { component, .. }) = &event;
            let me = *component;
            let slot = &mut components[me.0];
            let mut ctx = Context {
                engine,
                world,
                me,
                rng: &mut slot.rng,
            };
            match event {
                Event::Deliver { watch, event, .. } => {
                    slot.component.on_watch(watch, &event, &mut ctx)
                }
                Event::Timer { token, .. } => slot.component.on_timer(token, &mut ctx),
            }
            // Components started by this event (a client such as kubectl drain), in order.
            for c in std::mem::take(&mut world.spawned) {
                // A duplicate name was refused when spawned; nothing else can fail.
                let _ = register(world, components, engine, c);
            }
        })?;
        self.world.store.set_time(t);
        Ok(())
    }

    fn sample(&mut self, t: SimTime) {
        use crate::api::objects::PodPhase;
        let s = &self.world.stats;
        let row = MetricsRow {
            t_s: output::format_seconds(t),
            nodes: s.nodes,
            nodes_ready: s.nodes_ready,
            pods_pending: s.pods(PodPhase::Pending),
            pods_running: s.pods(PodPhase::Running),
            pods_succeeded: s.pods(PodPhase::Succeeded),
            pods_failed: s.pods(PodPhase::Failed),
            cpu_requested_ratio: output::format_ratio(
                s.requested_milli_cpu,
                s.allocatable_milli_cpu,
            ),
            memory_requested_ratio: output::format_ratio(s.requested_memory, s.allocatable_memory),
        };
        self.metrics.write(&row);
        if self.world.traffic.enabled() {
            let rows = self.world.traffic.take_interval();
            if let Some(w) = &mut self.services {
                for (service, counts) in rows {
                    w.write(&t, &service, &counts);
                }
            }
        }
    }

    /// Flushes both outputs and returns the run digest.
    pub fn finish_outputs(&mut self) -> io::Result<String> {
        let events = self.world.recorder.finish()?;
        let metrics = self.metrics.finish()?;
        let mut parts = vec![events, metrics];
        if let Some(w) = &mut self.services {
            parts.push(w.finish()?);
        }
        Ok(output::combine_digest_parts(&parts))
    }
}

/// [`Cluster::add_component`], also used for components started during a run
/// ([`Context::spawn`]).
fn register(
    world: &mut World,
    components: &mut Vec<Slot>,
    engine: &mut Engine<Event>,
    component: Box<dyn Component>,
) -> Result<ComponentId, RuntimeError> {
    let name = component.name();
    if world.component_names.contains(&name) {
        return Err(RuntimeError::DuplicateComponent(name));
    }
    let id = ComponentId(components.len());
    let now = engine.now();
    let at = now.saturating_add(world.watch.latency);
    for (index, filter) in component.watches().into_iter().enumerate() {
        let existing: Vec<Arc<Object>> = world
            .store
            .iter()
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        for object in existing {
            let resource_version = object.meta().resource_version;
            engine.schedule_at(
                at,
                Event::Deliver {
                    component: id,
                    watch: index,
                    event: WatchEvent {
                        type_: WatchEventType::Added,
                        object,
                        old: None,
                        resource_version,
                    },
                },
            );
        }
        world.watchers.push(Watcher {
            component: id,
            index,
            filter,
            last_delivery: at,
            node_last: Default::default(),
        });
    }
    components.push(Slot {
        rng: world.rngs.stream(&name),
        component,
    });
    world.component_names.push(name);
    let slot = &mut components[id.0];
    let mut ctx = Context {
        engine,
        world,
        me: id,
        rng: &mut slot.rng,
    };
    slot.component.on_start(&mut ctx);
    Ok(id)
}
