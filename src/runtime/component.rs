//! The component interface: how the scheduler, controllers, kubelets and kube-proxy plug in.
//!
//! **Invariant:** a component sees the cluster only through its watches (delivered with
//! latency, so possibly stale) and acts only through API calls on its [`Context`]; no
//! component holds a reference to another.
//!
//! Lifecycle: registered → `on_start` (after the initial list of its watches is queued) →
//! `on_watch` / `on_timer` as events arrive, in (time, sequence) order.

use std::sync::Arc;

use crate::api::{
    ApiError, DeleteOptions, DeleteOutcome, Object, ObjectKey, WatchEvent, WatchFilter,
};
use crate::runtime::World;
use crate::runtime::output::EventRecord;
use crate::sim::{Engine, EventId, RngStream, SimDuration, SimTime};

/// Index of a registered component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId(pub usize);

/// A simulated cluster component.
pub trait Component {
    /// A stable name, unique in the cluster (`"scheduler"`, `"kubelet/node-1"`). It is also
    /// the label of the component's random stream.
    fn name(&self) -> String;

    /// The watches the component opens at start. Each first delivers `Added` for every
    /// existing matching object (list, then watch), as an informer does.
    fn watches(&self) -> Vec<WatchFilter>;

    fn on_start(&mut self, _ctx: &mut Context<'_>) {}

    /// A watch event; `watch` is the index into [`Component::watches`].
    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>);

    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, _token: u64, _ctx: &mut Context<'_>) {}
}

/// What a component may do while handling an event.
pub struct Context<'a> {
    pub(crate) engine: &'a mut Engine<crate::runtime::Event>,
    pub(crate) world: &'a mut World,
    pub(crate) me: ComponentId,
    pub(crate) rng: &'a mut RngStream,
}

impl Context<'_> {
    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    /// This component's random stream.
    pub fn rng(&mut self) -> &mut RngStream {
        self.rng
    }

    /// A further random stream for `label` under this component's name (e.g. one per pod
    /// or per node a component manages). Same seed and labels, same draws.
    pub fn stream(&self, label: &str) -> RngStream {
        self.world.rngs.stream(&format!(
            "{}/{label}",
            self.world.component_names[self.me.0]
        ))
    }

    /// A live read from the API server (bypasses the watch cache: use sparingly, as real
    /// controllers do before a write).
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Object>> {
        self.world.store.get(key).cloned()
    }

    /// A live list of one kind from the API server, in key order (as `kubectl get` does).
    /// Costs O(objects of the kind): for operator-like components (the scenario timeline,
    /// expectations) that act rarely, not for controllers, which keep watch caches.
    pub fn list(&self, kind: crate::api::Kind) -> Vec<Arc<Object>> {
        self.world.store.list(kind).cloned().collect()
    }

    /// The Eviction API (`pods/eviction`): deletes the pod unless a PodDisruptionBudget
    /// forbids it (429 [`ApiError::TooManyRequests`]); see [`crate::api::eviction`].
    pub fn evict(
        &mut self,
        key: &ObjectKey,
        opts: &crate::api::eviction::EvictOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        self.api_up()?;
        let r = crate::api::eviction::evict(&mut self.world.store, key, opts);
        self.world.publish(self.engine);
        r
    }

    /// Starts a component right after the current event (a client started during the run,
    /// such as `kubectl drain`): it is registered as by [`crate::runtime::Cluster::add_component`].
    /// A name already taken gets a `/2`, `/3`, … suffix.
    pub fn spawn(&mut self, make: impl FnOnce(String) -> Box<dyn Component>, name: &str) {
        let component = make(self.world.unique_name(name));
        self.world.spawned.push(component);
    }

    /// `kubectl drain NODE`: starts a `drain/<node>` client component (see
    /// [`crate::controllers::drain`]).
    pub fn drain(&mut self, node: &str, opts: crate::controllers::drain::DrainOptions) {
        let node_name = node.to_string();
        self.spawn(
            move |name| Box::new(crate::controllers::drain::Drain::new(name, node_name, opts)),
            &format!("drain/{node}"),
        );
    }

    /// The cluster network: reachability and latency between places.
    pub fn network(&self) -> &crate::network::Network {
        &self.world.network
    }

    /// [`crate::network::Network::sample`] with this component's random stream.
    pub fn network_sample(
        &mut self,
        from: crate::network::Place<'_>,
        to: crate::network::Place<'_>,
    ) -> Option<(SimDuration, bool)> {
        self.world.network.sample(from, to, self.rng)
    }

    /// Starts a partition or link degradation (the scenario timeline's `networkPartition`
    /// and `linkDegradation`; a simulator control, not an API call). Returns its id, to heal
    /// it with [`Context::remove_network_rule`].
    pub fn add_network_rule(&mut self, rule: crate::network::Rule) -> crate::network::RuleId {
        self.world.network.add_rule(rule)
    }

    /// Heals a partition or degradation. Returns whether it was in force.
    pub fn remove_network_rule(&mut self, id: crate::network::RuleId) -> bool {
        self.world.network.remove_rule(id)
    }

    /// `Err(ServiceUnavailable)` during a control-plane outage.
    fn api_up(&self) -> Result<(), ApiError> {
        if self.world.api_down {
            Err(ApiError::ServiceUnavailable)
        } else {
            Ok(())
        }
    }

    /// Starts or ends a control-plane outage (the scenario timeline's
    /// `controlPlaneOutage`; a simulator control, not an API call): while it lasts every
    /// component write fails with [`ApiError::ServiceUnavailable`] and watch deliveries are
    /// held back, then delivered in order when it ends. Reads still work.
    pub fn set_control_plane_outage(&mut self, down: bool) {
        self.world.set_api_down(down, self.engine);
    }

    pub fn create(&mut self, obj: Object) -> Result<Arc<Object>, ApiError> {
        self.api_up()?;
        let r = self.world.store.create(obj);
        self.world.publish(self.engine);
        r
    }

    pub fn update(&mut self, obj: Object) -> Result<Arc<Object>, ApiError> {
        self.api_up()?;
        let r = self.world.store.update(obj);
        self.world.publish(self.engine);
        r
    }

    pub fn delete(
        &mut self,
        key: &ObjectKey,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        self.api_up()?;
        let r = self.world.store.delete(key, opts);
        self.world.publish(self.engine);
        r
    }

    /// A read-modify-write of the live object, as a patch is: `change` edits the current
    /// version, which is written with its own resourceVersion (so it cannot conflict).
    /// `change` returning false means "no change needed": nothing is written.
    pub fn patch(
        &mut self,
        key: &ObjectKey,
        change: impl FnOnce(&mut Object) -> bool,
    ) -> Result<Option<Arc<Object>>, ApiError> {
        self.api_up()?;
        let Some(current) = self.world.store.get(key).cloned() else {
            return Err(ApiError::NotFound { key: key.clone() });
        };
        let mut next = (*current).clone();
        if !change(&mut next) {
            return Ok(None);
        }
        self.update(next).map(Some)
    }

    /// Fires [`Component::on_timer`] with `token` after `delay`.
    pub fn set_timer(&mut self, delay: SimDuration, token: u64) -> EventId {
        self.engine.schedule_in(
            delay,
            crate::runtime::Event::Timer {
                component: self.me,
                token,
            },
        )
    }

    pub fn cancel_timer(&mut self, id: EventId) -> bool {
        self.engine.cancel(id)
    }

    /// Stores the result of expectation `index` (for summary.json); a later call replaces it.
    pub fn set_expectation(
        &mut self,
        index: usize,
        result: crate::runtime::summary::ExpectationResult,
    ) {
        let list = &mut self.world.expectations;
        if list.len() <= index {
            list.resize(
                index + 1,
                crate::runtime::summary::ExpectationResult {
                    name: String::new(),
                    status: crate::runtime::summary::ExpectationStatus::NotEvaluated,
                    t_s: None,
                    observed: String::new(),
                    expected: String::new(),
                },
            );
        }
        list[index] = result;
    }

    /// The nodes' data plane (kube-proxy's programmed rules; a simulator facility, as
    /// the nodes' kernels are).
    pub fn dataplane(&self) -> &crate::proxy::Dataplane {
        &self.world.dataplane
    }

    /// The data plane, for kube-proxy (programming rules) and the traffic component
    /// (per-node balancer state).
    pub fn dataplane_mut(&mut self) -> &mut crate::proxy::Dataplane {
        &mut self.world.dataplane
    }

    /// Request outcomes per Service (services.csv, summary.json).
    pub fn traffic_metrics(&self) -> &crate::traffic::TrafficMetrics {
        &self.world.traffic
    }

    pub fn traffic_metrics_mut(&mut self) -> &mut crate::traffic::TrafficMetrics {
        &mut self.world.traffic
    }

    /// Emits a Kubernetes Event (a line of events.jsonl).
    pub fn record(&mut self, event: EventRecord) {
        self.world.recorder.record(&event);
    }
}
