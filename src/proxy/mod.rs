//! kube-proxy: one component named `kube-proxy` for every node (as the kubelet fleet is),
//! watching Services, EndpointSlices and Nodes, and programming each node's data plane
//! ([`Dataplane`], a simulator facility the runtime owns, standing in for the nodes'
//! iptables/nftables/IPVS tables that request traffic goes through).
//!
//! After `pkg/proxy/` (`servicechangetracker.go`, `endpointschangetracker.go`, the
//! proxiers' `syncProxyRules` with `--min-sync-period`):
//! - A change to a Service or one of its EndpointSlices reaches kube-proxy one watch
//!   latency after the write; the rules are rewritten at the next sync, at most once per
//!   `minSyncPeriod` (upstream default 1 s): a change that arrives `minSyncPeriod` or more
//!   after the previous sync is programmed at once, otherwise when the period is up.
//! - A node whose kube-proxy cannot reach the API server (node state `Partitioned`, or cut
//!   from the control plane by a `networkPartition`, seen when the timeline marks the
//!   node) keeps the rules it had when it was cut off until it reconnects; a crashed node's kube-proxy
//!   starts from the current rules when the node comes back.
//!
//! Simplified: the time `iptables-restore` itself takes is not modelled (rules apply at the
//! sync instant); every node's connected kube-proxy sees a change at the same time.

pub mod balance;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::api::objects::networking::{EndpointSlice, Service};
use crate::api::objects::{Kind, Object};
use crate::api::{WatchEvent, WatchEventType, WatchFilter};
use crate::controllers::endpointslice::{LABEL_SERVICE_NAME, LABEL_ZONE};
use crate::kubelet::NodeAgent;
use crate::network::Place;
use crate::runtime::{Component, Context};
use crate::sim::{SimDuration, SimTime};

pub use balance::{BalancerState, IpvsScheduler, PickInput, ProxyMode};
pub use rules::{ServiceRules, TrafficClass, Verdict};

/// kube-proxy settings (the scenario's `traffic.proxy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub mode: ProxyMode,
    /// Upstream `--min-sync-period` / `minSyncPeriod`, default 1 s.
    pub min_sync_period: SimDuration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            mode: ProxyMode::default(),
            min_sync_period: SimDuration::from_secs(1),
        }
    }
}

/// The nodes' programmed rules and balancer state.
#[derive(Default)]
pub struct Dataplane {
    pub mode: ProxyMode,
    /// What every connected node's kube-proxy has programmed, by Service `namespace/name`.
    services: BTreeMap<String, Arc<ServiceRules>>,
    /// Nodes whose kube-proxy is cut off: the rules they had then.
    frozen: BTreeMap<String, BTreeMap<String, Arc<ServiceRules>>>,
    /// Balancer state by node, then Service (looked up, never iterated).
    state: HashMap<String, HashMap<String, BalancerState>>,
    /// Bumped at every rules change (lets traffic cache per-node verdicts).
    pub generation: u64,
}

impl Dataplane {
    /// The rules `node` applies to `service`; `None` when it has none (no such Service).
    pub fn rules(&self, node: &str, service: &str) -> Option<&Arc<ServiceRules>> {
        match self.frozen.get(node) {
            Some(f) => f.get(service),
            None => self.services.get(service),
        }
    }

    /// The balancer state of `node`'s kube-proxy for `service`.
    pub fn balancer(&mut self, node: &str, service: &str) -> &mut BalancerState {
        // Allocates the keys only the first time a node serves a Service.
        if !self.state.contains_key(node) {
            self.state.insert(node.to_string(), HashMap::new());
        }
        let per_node = self.state.get_mut(node).expect("inserted above");
        if !per_node.contains_key(service) {
            per_node.insert(service.to_string(), BalancerState::default());
        }
        per_node.get_mut(service).expect("inserted above")
    }

    fn set(&mut self, service: String, rules: Option<ServiceRules>) {
        match rules {
            Some(r) => {
                self.services.insert(service, Arc::new(r));
            }
            None => {
                self.services.remove(&service);
            }
        }
        self.generation += 1;
    }

    fn freeze(&mut self, node: &str, frozen: bool) {
        if frozen {
            if !self.frozen.contains_key(node) {
                self.frozen.insert(node.to_string(), self.services.clone());
                self.generation += 1;
            }
        } else if self.frozen.remove(node).is_some() {
            // Reconnected (or rebooted): the kernel state is rebuilt from scratch.
            self.state.remove(node);
            self.generation += 1;
        }
    }
}

const WATCH_SERVICES: usize = 0;
const WATCH_SLICES: usize = 1;
const WATCH_NODES: usize = 2;

/// The kube-proxy fleet.
pub struct KubeProxy {
    config: ProxyConfig,
    services: BTreeMap<String, Arc<Object>>,
    /// Slices by Service `namespace/name`, then slice name.
    slices: BTreeMap<String, BTreeMap<String, Arc<Object>>>,
    /// Services whose rules must be rewritten at the next sync.
    dirty: BTreeSet<String>,
    last_sync: Option<SimTime>,
    sync_pending: bool,
}

impl KubeProxy {
    pub fn new(config: ProxyConfig) -> KubeProxy {
        KubeProxy {
            config,
            services: BTreeMap::new(),
            slices: BTreeMap::new(),
            dirty: BTreeSet::new(),
            last_sync: None,
            sync_pending: false,
        }
    }

    fn schedule_sync(&mut self, ctx: &mut Context<'_>) {
        if self.sync_pending {
            return;
        }
        let now = ctx.now();
        let due = self
            .last_sync
            .map_or(now, |l| l.saturating_add(self.config.min_sync_period))
            .max(now);
        self.sync_pending = true;
        ctx.set_timer(due.saturating_since(now), 0);
    }

    fn sync(&mut self, ctx: &mut Context<'_>) {
        self.sync_pending = false;
        self.last_sync = Some(ctx.now());
        for key in std::mem::take(&mut self.dirty) {
            let rules = self.services.get(&key).and_then(|o| match &**o {
                Object::Service(s) => {
                    let slices: Vec<&EndpointSlice> = self
                        .slices
                        .get(&key)
                        .into_iter()
                        .flat_map(|m| m.values())
                        .filter_map(|o| match &**o {
                            Object::EndpointSlice(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    Some(ServiceRules::build(s, &slices))
                }
                _ => None,
            });
            ctx.dataplane_mut().set(key, rules);
        }
    }
}

fn service_key(s: &Service) -> String {
    format!("{}/{}", s.metadata.namespace, s.metadata.name)
}

impl Component for KubeProxy {
    fn name(&self) -> String {
        "kube-proxy".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Service]),
            WatchFilter::kinds(&[Kind::EndpointSlice]),
            WatchFilter::kinds(&[Kind::Node]),
        ]
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.dataplane_mut().mode = self.config.mode;
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        let deleted = event.type_ == WatchEventType::Deleted;
        match (watch, &*event.object) {
            (WATCH_SERVICES, Object::Service(s)) => {
                let key = service_key(s);
                if deleted {
                    self.services.remove(&key);
                } else {
                    self.services.insert(key.clone(), event.object.clone());
                }
                self.dirty.insert(key);
                self.schedule_sync(ctx);
            }
            (WATCH_SLICES, Object::EndpointSlice(slice)) => {
                let Some(svc) = slice.metadata.labels.get(LABEL_SERVICE_NAME) else {
                    return;
                };
                let key = format!("{}/{svc}", slice.metadata.namespace);
                let per = self.slices.entry(key.clone()).or_default();
                if deleted {
                    per.remove(&slice.metadata.name);
                } else {
                    per.insert(slice.metadata.name.clone(), event.object.clone());
                }
                if per.is_empty() {
                    self.slices.remove(&key);
                }
                self.dirty.insert(key);
                self.schedule_sync(ctx);
            }
            (WATCH_NODES, Object::Node(n)) => {
                let name = n.metadata.name.as_str();
                let cut = !deleted
                    && (NodeAgent::of(n) == Some(NodeAgent::Partitioned)
                        || !ctx
                            .network()
                            .reachable(Place::Node(name), Place::ControlPlane));
                ctx.dataplane_mut().freeze(&n.metadata.name, cut);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _token: u64, ctx: &mut Context<'_>) {
        self.sync(ctx);
    }
}

/// A node's zone label (empty when it has none).
pub fn node_zone(obj: &Object) -> &str {
    match obj {
        Object::Node(n) => n
            .metadata
            .labels
            .get(LABEL_ZONE)
            .map(String::as_str)
            .unwrap_or(""),
        _ => "",
    }
}
