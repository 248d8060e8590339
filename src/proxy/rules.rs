//! What kube-proxy programs for one Service: its endpoints in rule order, the endpoint sets
//! a node uses for each traffic class, and the iptables probabilities.
//!
//! After `pkg/proxy/topology.go` (`CategorizeEndpoints`, `canUseTopology`,
//! `availableForTopology`) and `pkg/proxy/iptables/proxier.go` (`computeProbability`,
//! endpoints sorted by `ip:port` before rules are written).

use crate::api::objects::networking::{EndpointSlice, Service, ServiceType, TrafficPolicy};
use crate::sim::SimDuration;

/// Upstream default `sessionAffinityConfig.clientIP.timeoutSeconds` (core/v1 types).
pub const DEFAULT_AFFINITY_TIMEOUT_S: u64 = 10_800;
/// Upstream maximum `timeoutSeconds`.
pub const MAX_AFFINITY_TIMEOUT_S: u64 = 86_400;

/// One endpoint as kube-proxy sees it in an EndpointSlice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyEndpoint {
    pub ip: String,
    pub port: i32,
    /// `ip:port`, the sort key of upstream's `byEndpoint`.
    pub addr: String,
    pub node: Option<String>,
    pub zone_hints: Option<Vec<String>>,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

/// The rules of one Service port (the first port: kubesim routes requests to a Service, not
/// to one of several ports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRules {
    /// `namespace/name`.
    pub service: String,
    pub type_: ServiceType,
    /// ClientIP affinity timeout; `None` for `sessionAffinity: None`.
    pub affinity: Option<SimDuration>,
    pub internal_local: bool,
    pub external_local: bool,
    /// Whether the Service asks for topology-aware routing (`trafficDistribution`).
    pub topology: bool,
    /// Sorted by `ip:port`, duplicates (an address in two slices) removed.
    pub endpoints: Vec<ProxyEndpoint>,
}

/// Which clients a request comes from: in-cluster (to the ClusterIP, internal traffic
/// policy) or from outside (to a NodePort or LoadBalancer, external traffic policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficClass {
    Internal,
    External,
}

/// What a node's rules do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Load-balance over these endpoints (indices into [`ServiceRules::endpoints`]).
    Endpoints(Vec<usize>),
    /// No endpoint at all: the filter table REJECTs ("has no endpoints").
    Reject,
    /// Endpoints exist, but none local for a `Local` policy: DROP ("has no local
    /// endpoints"); the client sees a connect timeout.
    Drop,
}

impl ServiceRules {
    /// The rules for `service` from its EndpointSlices (any order).
    pub fn build(service: &Service, slices: &[&EndpointSlice]) -> ServiceRules {
        let port = service.spec.ports.first().map(|p| p.port).unwrap_or(0);
        let mut endpoints: Vec<ProxyEndpoint> = Vec::new();
        for slice in slices {
            // The slice's port for the Service's first port (by name), else its first.
            let first = service.spec.ports.first();
            let slice_port = slice
                .ports
                .iter()
                .find(|p| first.is_some_and(|sp| p.name.as_deref().unwrap_or("") == sp.name))
                .or(slice.ports.first())
                .and_then(|p| p.port)
                .unwrap_or(port);
            for ep in &slice.endpoints {
                let Some(ip) = ep.addresses.first() else {
                    continue;
                };
                let c = &ep.conditions;
                // Nil `ready`/`serving` mean true, nil `terminating` false (EndpointConditions docs).
                let ready = c.ready.unwrap_or(true);
                endpoints.push(ProxyEndpoint {
                    ip: ip.clone(),
                    port: slice_port,
                    addr: format!("{ip}:{slice_port}"),
                    node: ep.node_name.clone(),
                    zone_hints: ep
                        .hints
                        .as_ref()
                        .map(|h| h.for_zones.iter().map(|z| z.name.clone()).collect()),
                    ready,
                    serving: c.serving.unwrap_or(ready),
                    terminating: c.terminating.unwrap_or(false),
                });
            }
        }
        endpoints.sort_by(|a, b| a.addr.cmp(&b.addr));
        endpoints.dedup_by(|a, b| a.addr == b.addr);
        let affinity = (service.spec.session_affinity
            == crate::api::objects::networking::SessionAffinity::ClientIP)
            .then(|| {
                let t = service
                    .spec
                    .session_affinity_config
                    .as_ref()
                    .and_then(|c| c.client_ip.as_ref())
                    .and_then(|c| c.timeout_seconds)
                    .map(|s| (s.max(1) as u64).min(MAX_AFFINITY_TIMEOUT_S))
                    .unwrap_or(DEFAULT_AFFINITY_TIMEOUT_S);
                SimDuration::from_secs(t)
            });
        ServiceRules {
            service: format!("{}/{}", service.metadata.namespace, service.metadata.name),
            type_: service.spec.type_,
            affinity,
            internal_local: service.spec.internal_traffic_policy == Some(TrafficPolicy::Local),
            external_local: service.spec.external_traffic_policy == Some(TrafficPolicy::Local)
                && matches!(
                    service.spec.type_,
                    ServiceType::NodePort | ServiceType::LoadBalancer
                ),
            topology: service.spec.traffic_distribution.is_some(),
            endpoints,
        }
    }

    /// Upstream `CategorizeEndpoints` for a request of `class` arriving at `node` (in
    /// `zone`): the endpoints its rules balance over, or REJECT / DROP.
    pub fn verdict(&self, class: TrafficClass, node: &str, zone: Option<&str>) -> Verdict {
        let local_policy = match class {
            TrafficClass::Internal => self.internal_local,
            TrafficClass::External => self.external_local,
        };
        let eps = &self.endpoints;
        let pick = |f: &dyn Fn(&ProxyEndpoint) -> bool| -> Vec<usize> {
            (0..eps.len()).filter(|&i| f(&eps[i])).collect()
        };
        let is_local = |e: &ProxyEndpoint| e.node.as_deref() == Some(node);
        let any = eps.iter().any(|e| e.ready || (e.serving && e.terminating));
        if !local_policy {
            let topo = !self.internal_local && self.can_use_topology(zone);
            let mut cluster = pick(&|e| e.ready && (!topo || for_zone(e, zone)));
            if cluster.is_empty() {
                cluster = pick(&|e| e.serving && e.terminating);
            }
            return if cluster.is_empty() {
                Verdict::Reject
            } else {
                Verdict::Endpoints(cluster)
            };
        }
        if !any {
            return Verdict::Reject;
        }
        let mut local = pick(&|e| is_local(e) && e.ready);
        if local.is_empty() {
            local = pick(&|e| is_local(e) && e.serving && e.terminating);
        }
        if local.is_empty() {
            Verdict::Drop
        } else {
            Verdict::Endpoints(local)
        }
    }

    /// Upstream `canUseTopology` (PreferSameZone): the Service asks for it, every ready
    /// endpoint has zone hints, and one of them is for this node's zone.
    fn can_use_topology(&self, zone: Option<&str>) -> bool {
        let Some(zone) = zone.filter(|z| !z.is_empty()) else {
            return false;
        };
        if !self.topology {
            return false;
        }
        let mut matched = false;
        for e in self.endpoints.iter().filter(|e| e.ready) {
            match &e.zone_hints {
                Some(h) if !h.is_empty() => matched |= h.iter().any(|z| z == zone),
                _ => return false,
            }
        }
        matched
    }
}

fn for_zone(e: &ProxyEndpoint, zone: Option<&str>) -> bool {
    match (&e.zone_hints, zone) {
        (Some(h), Some(z)) => h.iter().any(|x| x == z),
        _ => false,
    }
}

/// Upstream iptables `computeProbability(n)`: `fmt.Sprintf("%0.10f", 1.0/float64(n))`.
pub fn compute_probability(n: usize) -> String {
    format!("{:.10}", 1.0 / n as f64)
}

/// The `--probability` of each of `n` endpoint rules (`None`: the last, unconditional
/// jump): rule `i` gets `computeProbability(n - i)`, so each endpoint is chosen with
/// probability 1/n overall.
pub fn rule_probabilities(n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|i| (i + 1 < n).then(|| compute_probability(n - i)))
        .collect()
}
