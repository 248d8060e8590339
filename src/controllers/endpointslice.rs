//! The EndpointSlice controller (one component named `endpointslice-controller`), after
//! `pkg/controller/endpointslice/endpointslice_controller.go`, `reconciler.go`, `utils.go`
//! and `staging/src/k8s.io/endpointslice/util` (`ShouldPodBeInEndpoints`).
//!
//! Every Service with a selector (not `ExternalName`) gets EndpointSlices of address type
//! `IPv4`, labelled `kubernetes.io/service-name: <service>` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io` (plus the
//! Service's own labels), owned by the Service, named `<service>-<5 chars>`:
//! - **Endpoints.** One per selected pod that is not Succeeded/Failed and has a
//!   `status.podIP` (terminating pods are kept): `addresses [podIP]`, `serving` = pod Ready,
//!   `terminating` = has a deletionTimestamp, `ready` = `publishNotReadyAddresses` or
//!   (serving and not terminating); `nodeName`, `zone` (the node's
//!   `topology.kubernetes.io/zone`), `hostname` (when the pod's `subdomain` is the Service),
//!   `targetRef` (the pod). A pod on a node the controller does not know is left out
//!   unless `publishNotReadyAddresses`.
//! - **Ports** (`getEndpointPorts`, `podutil.FindPort`): one per Service port, the target
//!   port as a number, or resolved by name against the pod's container ports (a name no
//!   container has drops that port for that pod). Pods whose resolved ports differ go to
//!   different slices.
//! - **Slices.** At most 100 endpoints each (`--max-endpoints-per-slice`). An endpoint stays
//!   in the slice that holds it; new ones fill existing slices with room (in name order),
//!   then new slices; slices left empty are deleted. A Service with no endpoints keeps one
//!   empty placeholder slice (no ports), as upstream. A slice is written only when its
//!   endpoints, ports or labels change.
//!
//! Writes go through the store, so kube-proxy and other watchers see them one watch
//! latency later. Each write's result is put into the controller's own slice cache at once
//! (a watch event older than the cached version is ignored), standing in for upstream's
//! `endpointSliceTracker`, so a sync never works from slices older than its own writes.
//!
//! Simplified: upstream's reconciler packs endpoints more cleverly (it may merge
//! partially-filled slices and prefers fewer writes over tight packing in other ways);
//! topology-mode `Auto` hints, dual-stack (IPv6 slices) and the legacy Endpoints
//! object are not modelled; Node events do not requeue Services (zones are read at sync).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::{IntOrString, ObjectMeta, OwnerReference};
use crate::api::objects::networking::{
    Endpoint, EndpointConditions, EndpointHints, EndpointPort, EndpointSlice, ForZone,
    ObjectReference, Service, ServiceType,
};
use crate::api::objects::pod::{Pod, Protocol};
use crate::api::objects::{Kind, Object, ObjectKey, PodPhase};
use crate::api::selector::Selector;
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context};

use super::pods::is_ready;
use super::workqueue::WorkQueue;

/// Upstream `--max-endpoints-per-slice` default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// `discovery.LabelServiceName`.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `discovery.LabelManagedBy` and this controller's value.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// The node label giving an endpoint's zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

const WATCH_SERVICES: usize = 0;
const WATCH_PODS: usize = 1;
const WATCH_NODES: usize = 2;
const WATCH_SLICES: usize = 3;

/// A slice's port set, as an ordered key.
type PortsKey = Vec<(String, Protocol, i32)>;

/// The component.
#[derive(Default)]
pub struct EndpointSliceController {
    services: BTreeMap<ObjectKey, Arc<Object>>,
    pods: super::pod_index::PodIndex,
    /// Node name → zone label (empty when none).
    zones: BTreeMap<String, String>,
    /// Our slices by Service key, then slice name.
    slices: BTreeMap<ObjectKey, BTreeMap<String, Arc<Object>>>,
    queue: WorkQueue<ObjectKey>,
}

/// `ShouldPodBeInEndpoints(pod, includeTerminating = true)`.
pub fn should_pod_be_in_endpoints(pod: &Pod) -> bool {
    !matches!(pod.status.phase, PodPhase::Succeeded | PodPhase::Failed)
        && !pod.status.pod_ip.is_empty()
}

/// Upstream `podToEndpoint` (zone given by the caller).
pub fn pod_to_endpoint(pod: &Pod, service: &Service, zone: Option<String>) -> Endpoint {
    let serving = is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish = service.spec.publish_not_ready_addresses;
    let ready = publish || (serving && !terminating);
    let hostname = (!pod.spec.hostname.is_empty()
        && pod.spec.subdomain == service.metadata.name
        && pod.metadata.namespace == service.metadata.namespace)
        .then(|| pod.spec.hostname.clone());
    Endpoint {
        addresses: vec![pod.status.pod_ip.clone()],
        conditions: EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        },
        hostname,
        node_name: (!pod.spec.node_name.is_empty()).then(|| pod.spec.node_name.clone()),
        hints: zone_hints(service, serving, zone.as_deref()),
        zone: zone.filter(|z| !z.is_empty()),
        target_ref: Some(ObjectReference {
            kind: "Pod".into(),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
        }),
    }
}

/// Topology hints for one endpoint, after `staging/src/k8s.io/endpointslice/trafficdist`:
/// a Service with `trafficDistribution: PreferClose` (or its newer name `PreferSameZone`)
/// gets `hints.forZones: [<the endpoint's own zone>]` on every serving endpoint that has a
/// zone; otherwise no hints. (The older `service.kubernetes.io/topology-mode: Auto`
/// proportional allocation is not modelled.)
fn zone_hints(service: &Service, serving: bool, zone: Option<&str>) -> Option<EndpointHints> {
    let prefer_close = matches!(
        service.spec.traffic_distribution.as_deref(),
        Some("PreferClose" | "PreferSameZone")
    );
    match zone {
        Some(z) if prefer_close && serving && !z.is_empty() => Some(EndpointHints {
            for_zones: vec![ForZone {
                name: z.to_string(),
            }],
        }),
        _ => None,
    }
}

/// Upstream `getEndpointPorts` with `podutil.FindPort`: the Service's ports resolved for
/// `pod` (a named target port no container of the pod has is left out).
pub fn endpoint_ports(service: &Service, pod: &Pod) -> PortsKey {
    let mut out = Vec::new();
    for sp in &service.spec.ports {
        let number = match &sp.target_port {
            None => Some(sp.port),
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(name)) => pod
                .spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter())
                .find(|p| &p.name == name && p.protocol == sp.protocol)
                .map(|p| p.container_port),
        };
        if let Some(n) = number {
            out.push((sp.name.clone(), sp.protocol, n));
        }
    }
    out
}

fn ports_of(key: &PortsKey) -> Vec<EndpointPort> {
    key.iter()
        .map(|(name, protocol, port)| EndpointPort {
            name: Some(name.clone()),
            protocol: Some(*protocol),
            port: Some(*port),
        })
        .collect()
}

fn ports_key(slice: &EndpointSlice) -> PortsKey {
    slice
        .ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.protocol.unwrap_or_default(),
                p.port.unwrap_or(0),
            )
        })
        .collect()
}

fn endpoint_pod(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default()
}

impl EndpointSliceController {
    pub fn new() -> Self {
        Self::default()
    }

    fn services_for(&self, pod: &Pod) -> Vec<ObjectKey> {
        let ns = &pod.metadata.namespace;
        self.services
            .range(ObjectKey::new(Kind::Service, ns.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == Kind::Service && &k.namespace == ns)
            .filter(|(_, o)| match &***o {
                Object::Service(s) => {
                    !s.spec.selector.is_empty()
                        && Selector::from_map(&s.spec.selector).matches(&pod.metadata.labels)
                }
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        let mut services: BTreeSet<ObjectKey> = BTreeSet::new();
        if let Object::Pod(p) = &*event.object {
            services.extend(self.services_for(p));
        }
        if let Some(Object::Pod(old)) = event.old.as_deref() {
            services.extend(self.services_for(old));
        }
        if event.type_ == WatchEventType::Deleted {
            self.pods.remove(&key);
        } else {
            self.pods.insert(key, event.object.clone());
        }
        for s in services {
            self.queue.add(s, ctx);
        }
    }

    fn on_slice(&mut self, event: &WatchEvent) {
        let Object::EndpointSlice(slice) = &*event.object else {
            return;
        };
        let m = &slice.metadata;
        if m.labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME) {
            return;
        }
        let Some(svc) = m.labels.get(LABEL_SERVICE_NAME) else {
            return;
        };
        let skey = ObjectKey::new(Kind::Service, m.namespace.clone(), svc.clone());
        let entry = self.slices.entry(skey.clone()).or_default();
        match event.type_ {
            WatchEventType::Deleted => {
                if entry
                    .get(&m.name)
                    .is_some_and(|c| c.meta().resource_version <= event.resource_version)
                {
                    entry.remove(&m.name);
                }
            }
            _ => {
                let newer = entry
                    .get(&m.name)
                    .is_none_or(|c| c.meta().resource_version < m.resource_version);
                if newer {
                    entry.insert(m.name.clone(), event.object.clone());
                }
            }
        }
        if entry.is_empty() {
            self.slices.remove(&skey);
        }
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(obj) = self.services.get(key).cloned() else {
            // The store deletes a Service's slices with it (ownerReferences).
            self.slices.remove(key);
            return;
        };
        let Object::Service(svc) = &*obj else { return };
        if svc.spec.selector.is_empty() || svc.spec.type_ == ServiceType::ExternalName {
            return;
        }
        let selector = Selector::from_map(&svc.spec.selector);
        // Desired endpoints, grouped by port set, keyed by pod name.
        let mut desired: BTreeMap<PortsKey, BTreeMap<String, Endpoint>> = BTreeMap::new();
        for (_, o) in self.pods.selecting(&key.namespace, &selector) {
            let Object::Pod(p) = &*o else { continue };
            if !should_pod_be_in_endpoints(p) {
                continue;
            }
            let zone = self.zones.get(&p.spec.node_name).cloned();
            if zone.is_none() && !svc.spec.publish_not_ready_addresses {
                continue; // node not found
            }
            let ep = pod_to_endpoint(p, svc, zone);
            desired
                .entry(endpoint_ports(svc, p))
                .or_default()
                .insert(p.metadata.name.clone(), ep);
        }
        let existing = self.slices.get(key).cloned().unwrap_or_default();
        // Next content per existing slice name; None = delete.
        let mut next: BTreeMap<String, (PortsKey, Vec<Endpoint>)> = BTreeMap::new();
        for (name, o) in &existing {
            let Object::EndpointSlice(s) = &**o else {
                continue;
            };
            let pk = ports_key(s);
            let group = desired.get_mut(&pk);
            let mut kept = Vec::new();
            if let Some(group) = group {
                for e in &s.endpoints {
                    if kept.len() >= MAX_ENDPOINTS_PER_SLICE {
                        break;
                    }
                    if let Some(ep) = group.remove(&endpoint_pod(e)) {
                        kept.push(ep);
                    }
                }
            }
            next.insert(name.clone(), (pk, kept));
        }
        // Fill existing slices with room, then create new ones.
        let mut creates: Vec<(PortsKey, Vec<Endpoint>)> = Vec::new();
        for (pk, group) in desired {
            let mut rest: Vec<Endpoint> = group.into_values().collect();
            for (p, eps) in next.values_mut() {
                if rest.is_empty() {
                    break;
                }
                if *p != pk {
                    continue;
                }
                let room = MAX_ENDPOINTS_PER_SLICE.saturating_sub(eps.len());
                let take = room.min(rest.len());
                eps.extend(rest.drain(..take));
            }
            while !rest.is_empty() {
                let take = MAX_ENDPOINTS_PER_SLICE.min(rest.len());
                creates.push((pk.clone(), rest.drain(..take).collect()));
            }
        }
        // A Service without endpoints keeps one empty placeholder slice.
        let total: usize = next.values().map(|(_, e)| e.len()).sum::<usize>()
            + creates.iter().map(|(_, e)| e.len()).sum::<usize>();
        let mut placeholder_kept = false;
        if total == 0 {
            if let Some((_, (pk, _))) = next.iter_mut().next() {
                pk.clear();
                placeholder_kept = true;
            } else {
                creates.push((Vec::new(), Vec::new()));
            }
        }
        let labels = self.labels_for(svc);
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Service".into(),
            name: svc.metadata.name.clone(),
            uid: svc.metadata.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let mut first = true;
        for (name, (pk, mut eps)) in next {
            let keep_empty = placeholder_kept && first;
            first = false;
            let skey = ObjectKey::new(Kind::EndpointSlice, key.namespace.clone(), name.clone());
            if eps.is_empty() && !keep_empty {
                if ctx.delete(&skey, &DeleteOptions::default()).is_ok()
                    && let Some(m) = self.slices.get_mut(key)
                {
                    m.remove(&name);
                }
                continue;
            }
            eps.sort_by_key(endpoint_pod);
            let Some(Object::EndpointSlice(cur)) = existing.get(&name).map(|o| (**o).clone())
            else {
                continue;
            };
            let ports = ports_of(&pk);
            if cur.endpoints == eps && cur.ports == ports && cur.metadata.labels == labels {
                continue;
            }
            let mut upd = cur;
            upd.endpoints = eps;
            upd.ports = ports;
            upd.metadata.labels = labels.clone();
            match ctx.update(Object::EndpointSlice(upd)) {
                Ok(o) => self.remember(key, o),
                Err(_) => self.queue.add_rate_limited(key.clone(), ctx),
            }
        }
        for (pk, mut eps) in creates {
            eps.sort_by_key(endpoint_pod);
            let slice = EndpointSlice {
                metadata: ObjectMeta {
                    generate_name: format!("{}-", svc.metadata.name),
                    namespace: key.namespace.clone(),
                    labels: labels.clone(),
                    owner_references: vec![owner.clone()],
                    ..ObjectMeta::default()
                },
                address_type: "IPv4".into(),
                endpoints: eps,
                ports: ports_of(&pk),
            };
            match ctx.create(Object::EndpointSlice(slice)) {
                Ok(o) => self.remember(key, o),
                Err(_) => self.queue.add_rate_limited(key.clone(), ctx),
            }
        }
    }

    fn remember(&mut self, service: &ObjectKey, obj: Arc<Object>) {
        self.slices
            .entry(service.clone())
            .or_default()
            .insert(obj.meta().name.clone(), obj);
    }

    /// Upstream `setEndpointSliceLabels`: the Service's labels, then the service-name and
    /// managed-by labels.
    fn labels_for(&self, svc: &Service) -> BTreeMap<String, String> {
        let mut labels = svc.metadata.labels.clone();
        labels.insert(LABEL_SERVICE_NAME.into(), svc.metadata.name.clone());
        labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
        labels
    }
}

impl Component for EndpointSliceController {
    fn name(&self) -> String {
        "endpointslice-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Service]),
            WatchFilter::kinds(&[Kind::Pod]),
            WatchFilter::kinds(&[Kind::Node]),
            WatchFilter::kinds(&[Kind::EndpointSlice]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_SERVICES => {
                let key = ObjectKey::of(&event.object);
                if event.type_ == WatchEventType::Deleted {
                    self.services.remove(&key);
                } else {
                    self.services.insert(key.clone(), event.object.clone());
                }
                self.queue.add(key, ctx);
            }
            WATCH_PODS => self.on_pod(event, ctx),
            WATCH_NODES => {
                let Object::Node(n) = &*event.object else {
                    return;
                };
                if event.type_ == WatchEventType::Deleted {
                    self.zones.remove(&n.metadata.name);
                } else {
                    let zone = n.metadata.labels.get(LABEL_ZONE).cloned();
                    self.zones
                        .insert(n.metadata.name.clone(), zone.unwrap_or_default());
                }
            }
            WATCH_SLICES => self.on_slice(event),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        for key in self.queue.on_timer(token, ctx).unwrap_or_default() {
            self.sync(&key, ctx);
        }
    }
}
