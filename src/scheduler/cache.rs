//! The scheduler's cache: per-node aggregates, kept incrementally from watch events and from
//! the scheduler's own assumptions.
//!
//! - A pod counts against its node from the moment it is *assumed* (after host selection),
//!   before its binding comes back through the watch (`internal/cache/cache.go`).
//! - [`NodeInfo`] keeps requested resources, the non-zero requests used by scoring, host
//!   ports and the pods themselves, updated in O(1)/O(pods on the node) per change; a cycle
//!   never rescans every pod.
//! - Node order is upstream's node tree (`internal/cache/node_tree.go`): zone-interleaved,
//!   zones in first-insertion order, nodes in insertion order within a zone.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::api::objects::node::Node;
use crate::api::objects::pod::{Pod, PodAffinity, PodAffinityTerm, Protocol};
use crate::api::objects::{Object, ObjectKey};
use crate::api::resources::{Resources, pod_non_zero_requests, pod_requests};
use crate::api::selector::{
    LabelSelectorRequirement, Selector, SelectorOperator, selector_from_option,
};

use super::gpu::{GpuRequest, NodeGpus};
use super::listers::Listers;
use super::memo::{AffinityMemo, TopologyCounts};
use super::spread_memo::{SpreadMemo, SpreadQuery};

/// A pod as the scheduler sees it, with the derived values plugins need precomputed.
#[derive(Debug)]
pub struct PodInfo {
    pub key: ObjectKey,
    pub pod: Arc<Object>,
    pub priority: i32,
    /// Actual requests (`PodRequests`).
    pub requests: Resources,
    /// Requests with the 100m / 200Mi defaults for missing container requests.
    pub non_zero: Resources,
    pub host_ports: Vec<HostPort>,
    /// Parsed inter-pod (anti-)affinity terms (InterPodAffinity).
    pub affinity: PodAffinityInfo,
    /// GPU request from the `alibabacloud.com/gpu-*` annotations (see [`super::gpu`]).
    pub gpu: Option<GpuRequest>,
}

/// A `hostPort` a container binds (`util.GetHostPorts`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub protocol: Protocol,
    /// Empty means 0.0.0.0.
    pub ip: String,
    pub port: i32,
}

impl PodInfo {
    pub fn new(obj: Arc<Object>) -> Option<PodInfo> {
        let Object::Pod(p) = &*obj else {
            return None;
        };
        let mut host_ports = Vec::new();
        let sidecars = p.spec.init_containers.iter().filter(|c| {
            c.restart_policy == Some(crate::api::objects::pod::ContainerRestartPolicy::Always)
        });
        for c in p.spec.containers.iter().chain(sidecars) {
            for port in &c.ports {
                if let Some(hp) = port.host_port.filter(|hp| *hp > 0) {
                    let ip = if port.host_ip == "0.0.0.0" {
                        String::new()
                    } else {
                        port.host_ip.clone()
                    };
                    host_ports.push(HostPort {
                        protocol: port.protocol,
                        ip,
                        port: hp,
                    });
                }
            }
        }
        Some(PodInfo {
            key: ObjectKey::of(&obj),
            priority: p.spec.priority.unwrap_or(0),
            requests: pod_requests(&p.spec),
            non_zero: pod_non_zero_requests(&p.spec),
            host_ports,
            affinity: PodAffinityInfo::new(p),
            gpu: GpuRequest::from_pod(p),
            pod: obj.clone(),
        })
    }

    pub fn pod(&self) -> &Pod {
        match &*self.pod {
            Object::Pod(p) => p,
            _ => unreachable!("PodInfo always wraps a Pod"),
        }
    }
}

/// One node and the pods on it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while pods reference a node the cache has not seen (or that was deleted).
    pub node: Option<Arc<Object>>,
    pub allocatable: Resources,
    /// Sum of actual requests of the pods here (assumed included).
    pub requested: Resources,
    /// Sum of non-zero requests (cpu, memory) for scoring.
    pub non_zero_requested: Resources,
    pub pods: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// Copies of hot node fields, so per-node filters touch only this struct.
    pub unschedulable: bool,
    pub taints: Vec<crate::api::objects::node::Taint>,
    /// Normalized names of the images on the node, sorted.
    pub images: Vec<String>,
    /// Pods here with pod affinity or anti-affinity in their spec (`PodsWithAffinity`).
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// Pods here with required anti-affinity terms (`PodsWithRequiredAntiAffinity`).
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// This node's place in the snapshot's storage (stable while the scheduler runs).
    pub slot: usize,
    /// New (unique in the snapshot) on every change of this node or its pods: the key of
    /// [`super::node_cache`]'s entries.
    pub generation: u64,
    /// The node's GPU devices and which pod sits on which (see [`super::gpu`]).
    pub gpus: Option<NodeGpus>,
}

impl NodeInfo {
    fn empty(name: &str, slot: usize) -> NodeInfo {
        NodeInfo {
            slot,
            generation: 0,
            name: name.to_string(),
            node: None,
            allocatable: Resources::default(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            pods: Vec::new(),
            used_ports: Vec::new(),
            unschedulable: false,
            taints: Vec::new(),
            images: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            gpus: None,
        }
    }

    pub fn node(&self) -> &Node {
        static EMPTY: std::sync::OnceLock<Node> = std::sync::OnceLock::new();
        match self.node.as_deref() {
            Some(Object::Node(n)) => n,
            _ => EMPTY.get_or_init(Node::default),
        }
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.node().metadata.labels
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.affinity.has_pod_affinity {
            self.pods_with_affinity.push(pod.clone());
        }
        if !pod.affinity.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        if let (Some(g), Some(req)) = (self.gpus.as_mut(), pod.gpu.as_ref()) {
            g.add(&pod.key, req);
        }
        self.pods.push(pod);
    }

    /// Re-reads the node's GPUs; keeps the device assignments when the device count is
    /// unchanged, otherwise re-places the node's GPU pods.
    fn refresh_gpus(&mut self, node: &Node) {
        let fresh = NodeGpus::from_node(node);
        match (self.gpus.as_mut(), fresh) {
            (Some(old), Some(new)) if old.count() == new.count() => old.model = new.model,
            (_, fresh) => {
                self.gpus = fresh;
                if let Some(g) = self.gpus.as_mut() {
                    for p in &self.pods {
                        if let Some(req) = &p.gpu {
                            g.add(&p.key, req);
                        }
                    }
                }
            }
        }
    }

    /// Removes the pod with `key`; returns it.
    pub fn remove_pod(&mut self, key: &ObjectKey) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| &p.key == key)?;
        let pod = self.pods.remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero);
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.remove(j);
            }
        }
        self.pods_with_affinity.retain(|p| &p.key != key);
        self.pods_with_required_anti_affinity
            .retain(|p| &p.key != key);
        if let (Some(g), Some(req)) = (self.gpus.as_mut(), pod.gpu.as_ref()) {
            g.remove(key, req);
        }
        Some(pod)
    }
}

/// The zone key of the node tree: region and zone labels.
fn zone_key(node: &Node) -> String {
    let l = &node.metadata.labels;
    let region = l
        .get("topology.kubernetes.io/region")
        .map(String::as_str)
        .unwrap_or("");
    let zone = l
        .get("topology.kubernetes.io/zone")
        .map(String::as_str)
        .unwrap_or("");
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\x00:{zone}")
    }
}

/// Normalizes an image name as ImageLocality does: `:latest` is appended when the name has
/// no tag (the last `:` is not after the last `/`) and no digest.
pub fn normalized_image_name(name: &str) -> String {
    let last_colon = name.rfind(':');
    let last_slash = name.rfind('/');
    let has_tag = match (last_colon, last_slash) {
        (Some(c), Some(s)) => c > s,
        (Some(_), None) => true,
        _ => false,
    };
    if has_tag || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// A parsed `PodAffinityTerm` (upstream `framework.AffinityTerm`).
#[derive(Clone, Debug, PartialEq)]
pub struct AffinityTerm {
    /// Namespaces named by the term; the pod's own when neither `namespaces` nor
    /// `namespaceSelector` is set.
    pub namespaces: Vec<String>,
    pub selector: Selector,
    pub topology_key: String,
    /// `namespaceSelector` (nil: nothing; `{}`: every namespace).
    pub namespace_selector: Selector,
}

impl AffinityTerm {
    /// `AffinityTerm.Matches`: the pod is in one of the namespaces, or its namespace's labels
    /// match the namespace selector, and its labels match the selector.
    pub fn matches(&self, pod: &Pod, ns_labels: &BTreeMap<String, String>) -> bool {
        self.matches_parts(&pod.metadata.namespace, &pod.metadata.labels, ns_labels)
    }

    /// [`AffinityTerm::matches`] for a pod given by its namespace and labels.
    pub fn matches_parts(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        ns_labels: &BTreeMap<String, String>,
    ) -> bool {
        (self.namespaces.iter().any(|n| n == namespace)
            || self.namespace_selector.matches(ns_labels))
            && self.selector.matches(labels)
    }

    /// `newAffinityTerm`. `matchLabelKeys`/`mismatchLabelKeys` are merged into the label
    /// selector as `key in (value)` / `key notin (value)` for the keys the pod has, as the
    /// API server does on pod creation (`pkg/registry/core/pod/strategy.go`); a nil
    /// selector stays nil.
    fn parse(pod: &Pod, term: &PodAffinityTerm) -> Result<AffinityTerm, String> {
        let selector = match &term.label_selector {
            None => Selector::nothing(),
            Some(ls) => {
                let mut ls = ls.clone();
                let labels = &pod.metadata.labels;
                for (keys, op) in [
                    (&term.match_label_keys, SelectorOperator::In),
                    (&term.mismatch_label_keys, SelectorOperator::NotIn),
                ] {
                    for k in keys {
                        if let Some(v) = labels.get(k) {
                            ls.match_expressions.push(LabelSelectorRequirement {
                                key: k.clone(),
                                operator: op,
                                values: vec![v.clone()],
                            });
                        }
                    }
                }
                ls.to_selector().map_err(|e| e.to_string())?
            }
        };
        let namespace_selector =
            selector_from_option(term.namespace_selector.as_ref()).map_err(|e| e.to_string())?;
        let namespaces = if term.namespaces.is_empty() && term.namespace_selector.is_none() {
            vec![pod.metadata.namespace.clone()]
        } else {
            term.namespaces.clone()
        };
        Ok(AffinityTerm {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector,
        })
    }
}

/// A parsed `WeightedPodAffinityTerm`.
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    pub term: AffinityTerm,
    pub weight: i32,
}

/// A pod's parsed inter-pod affinity (upstream `PodInfo.Required*/Preferred*Terms`).
/// As upstream's `getAffinityTerms`, a list with a term that does not parse is empty, and
/// the error is kept in `parse_error`.
#[derive(Clone, Debug, Default)]
pub struct PodAffinityInfo {
    /// The spec has `podAffinity` or `podAntiAffinity` (upstream `podWithAffinity`).
    pub has_pod_affinity: bool,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    pub parse_error: Option<String>,
}

impl PodAffinityInfo {
    pub fn new(pod: &Pod) -> PodAffinityInfo {
        let mut out = PodAffinityInfo::default();
        let Some(a) = &pod.spec.affinity else {
            return out;
        };
        out.has_pod_affinity = a.pod_affinity.is_some() || a.pod_anti_affinity.is_some();
        let mut errors: Vec<String> = Vec::new();
        let mut required = |pa: &Option<PodAffinity>, what: &str| -> Vec<AffinityTerm> {
            let terms = pa
                .as_ref()
                .map(|p| {
                    p.required_during_scheduling_ignored_during_execution
                        .as_slice()
                })
                .unwrap_or(&[]);
            match terms
                .iter()
                .map(|t| AffinityTerm::parse(pod, t))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("{what}: {e}"));
                    Vec::new()
                }
            }
        };
        out.required_affinity = required(&a.pod_affinity, "requiredAffinityTerms");
        out.required_anti_affinity = required(&a.pod_anti_affinity, "requiredAntiAffinityTerms");
        let mut preferred = |pa: &Option<PodAffinity>, what: &str| -> Vec<WeightedAffinityTerm> {
            let terms = pa
                .as_ref()
                .map(|p| {
                    p.preferred_during_scheduling_ignored_during_execution
                        .as_slice()
                })
                .unwrap_or(&[]);
            match terms
                .iter()
                .map(|t| {
                    AffinityTerm::parse(pod, &t.pod_affinity_term).map(|term| {
                        WeightedAffinityTerm {
                            term,
                            weight: t.weight,
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("{what}: {e}"));
                    Vec::new()
                }
            }
        };
        out.preferred_affinity = preferred(&a.pod_affinity, "preferredAffinityTerms");
        out.preferred_anti_affinity = preferred(&a.pod_anti_affinity, "preferredAntiAffinityTerms");
        if !errors.is_empty() {
            out.parse_error = Some(errors.join(", "));
        }
        out
    }
}

/// The cache and the snapshot a cycle reads (the same structure: cycles are atomic events).
#[derive(Default)]
pub struct Snapshot {
    infos: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Zones in first-insertion order, each with its nodes in insertion order.
    zones: Vec<(String, Vec<usize>)>,
    /// Zone-interleaved order of the nodes that have a Node object.
    order: Vec<usize>,
    /// Where each cached pod is.
    pod_node: HashMap<ObjectKey, usize>,
    /// Cached pods by label `key=value`, so a new spread table counts the pods its
    /// selector can match instead of every pod (see [`Snapshot::spread_counts`]).
    pods_by_label: HashMap<(String, String), HashMap<ObjectKey, Arc<PodInfo>>>,
    /// Normalized image name -> (size in bytes, number of nodes having it).
    images: HashMap<String, (i64, usize)>,
    /// Services, controllers and Namespaces some plugins read (see [`Listers`]).
    pub listers: Listers,
    /// Cached pods with pod (anti-)affinity, with required anti-affinity terms, and with
    /// terms InterPodAffinity's scoring reads (required affinity or preferred terms): the
    /// plugin skips its node scans when there are none.
    with_affinity: usize,
    with_required_anti_affinity: usize,
    with_scoring_terms: usize,
    /// Pending pods nominated to a node by preemption (`status.nominatedNodeName`), by node.
    nominated: BTreeMap<String, Vec<Arc<PodInfo>>>,
    /// PodTopologySpread's per-domain counts, memoized across cycles and kept up to date
    /// as pods come and go (see [`Snapshot::spread_counts`]).
    spread_memo: std::cell::RefCell<SpreadMemo>,
    /// Per topology key asked for, each node's value of it as a small id (see
    /// [`Snapshot::domain_ids`]); dropped on any node change.
    domain_memo: std::cell::RefCell<Vec<Arc<DomainIds>>>,
    /// InterPodAffinity's count tables, memoized the same way (see [`super::memo`]).
    affinity_memo: std::cell::RefCell<AffinityMemo>,
    /// Compute every count table by a full scan each time (no memo): the plain
    /// re-computation the memoized fast paths are tested against.
    pub plain_counts: bool,
    /// New on every Node added, changed or removed (see [`super::node_cache`]).
    pub nodes_generation: u64,
    /// Source of [`NodeInfo::generation`] values.
    next_generation: u64,
}

/// One topology key's values interned to small ids, and each node's id, so a per-node
/// lookup of a node's domain is an array index instead of a label map lookup and a hash.
#[derive(Debug, Default)]
pub struct DomainIds {
    pub key: String,
    /// By [`NodeInfo::slot`]: the id of the node's value of `key`; [`DomainIds::MISSING`]
    /// when the node lacks the label (or its Node object).
    by_slot: Vec<u32>,
    /// Value -> id; ids are indexes into `values`.
    ids: HashMap<String, u32>,
    values: Vec<String>,
    /// Nodes that have the label.
    labelled: usize,
}

impl DomainIds {
    pub const MISSING: u32 = u32::MAX;

    /// The id of `node`'s value, or [`DomainIds::MISSING`].
    pub fn of(&self, node: &NodeInfo) -> u32 {
        self.by_slot
            .get(node.slot)
            .copied()
            .unwrap_or(Self::MISSING)
    }

    /// The id of a value some node has.
    pub fn id(&self, value: &str) -> Option<u32> {
        self.ids.get(value).copied()
    }

    /// Number of distinct values (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value with id `id`.
    pub fn value(&self, id: u32) -> Option<&str> {
        self.values.get(id as usize).map(String::as_str)
    }

    /// Whether no two nodes share a value (so a count by value is a count by node).
    pub fn one_node_per_value(&self) -> bool {
        self.labelled == self.values.len()
    }
}

/// Most memoized domain id tables (one per topology key; oldest dropped first).
const DOMAIN_MEMO_MAX: usize = 16;

impl Snapshot {
    /// Records (or clears, with an empty `node`) a pending pod's nomination.
    pub fn set_nominated(&mut self, info: Arc<PodInfo>, node: &str) {
        self.clear_nominated(&info.key);
        if !node.is_empty() {
            self.nominated
                .entry(node.to_string())
                .or_default()
                .push(info);
        }
    }

    pub fn clear_nominated(&mut self, key: &ObjectKey) {
        if self.nominated.is_empty() {
            return;
        }
        for list in self.nominated.values_mut() {
            list.retain(|p| &p.key != key);
        }
        self.nominated.retain(|_, l| !l.is_empty());
    }

    /// Pods nominated to `node`.
    pub fn nominated_to(&self, node: &str) -> &[Arc<PodInfo>] {
        if self.nominated.is_empty() {
            return &[];
        }
        self.nominated.get(node).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Nodes in scheduling order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &NodeInfo> + '_ {
        self.order.iter().map(move |&i| &self.infos[i])
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The i-th node in scheduling order.
    pub fn at(&self, i: usize) -> &NodeInfo {
        &self.infos[self.order[i]]
    }

    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index
            .get(name)
            .map(|&i| &self.infos[i])
            .filter(|n| n.node.is_some())
    }

    /// (size, number of nodes having it) for a normalized image name.
    pub fn image(&self, name: &str) -> Option<(i64, usize)> {
        self.images.get(name).copied()
    }

    /// Number of cached pods with pod affinity or anti-affinity in their spec.
    pub fn pods_with_affinity(&self) -> usize {
        self.with_affinity
    }

    /// Number of cached pods with required anti-affinity terms.
    pub fn pods_with_required_anti_affinity(&self) -> usize {
        self.with_required_anti_affinity
    }

    /// Number of cached pods with required affinity or preferred (anti-)affinity terms.
    pub fn pods_with_scoring_terms(&self) -> usize {
        self.with_scoring_terms
    }

    fn count_affinity(&mut self, info: &PodInfo, add: bool) {
        let step = |n: &mut usize| {
            *n = if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            }
        };
        if info.affinity.has_pod_affinity {
            step(&mut self.with_affinity);
        }
        if !info.affinity.required_anti_affinity.is_empty() {
            step(&mut self.with_required_anti_affinity);
        }
        let a = &info.affinity;
        if !a.required_affinity.is_empty()
            || !a.preferred_affinity.is_empty()
            || !a.preferred_anti_affinity.is_empty()
        {
            step(&mut self.with_scoring_terms);
        }
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let slot = self.infos.len();
        self.infos.push(NodeInfo::empty(name, slot));
        let i = self.infos.len() - 1;
        self.index.insert(name.to_string(), i);
        i
    }

    fn images_of(node: &Node) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = Vec::new();
        for img in &node.status.images {
            for n in &img.names {
                let n = normalized_image_name(n);
                if !out.iter().any(|(x, _)| *x == n) {
                    out.push((n, img.size_bytes));
                }
            }
        }
        out
    }

    fn account_images(&mut self, node: &Node, add: bool) {
        for (name, size) in Self::images_of(node) {
            let e = self.images.entry(name.clone()).or_insert((size, 0));
            if add {
                e.0 = size;
                e.1 += 1;
            } else {
                e.1 = e.1.saturating_sub(1);
                if e.1 == 0 {
                    self.images.remove(&name);
                }
            }
        }
    }

    /// Adds or replaces a Node.
    pub fn upsert_node(&mut self, obj: Arc<Object>) {
        let Object::Node(node) = &*obj else {
            return;
        };
        let i = self.slot(&node.metadata.name);
        // The count tables and domain ids read only the nodes' labels (and which nodes
        // exist): a status change, such as the images a pull adds, keeps them.
        let same_labels = self.infos[i]
            .node
            .as_deref()
            .is_some_and(|o| o.meta().labels == node.metadata.labels);
        if !same_labels {
            self.spread_memo.get_mut().clear();
            self.domain_memo.get_mut().clear();
            self.affinity_memo.get_mut().clear();
        }
        self.touch(i);
        self.nodes_generation = self.next_generation;
        let old_zone = self.infos[i].node.as_deref().and_then(|o| match o {
            Object::Node(n) => Some(zone_key(n)),
            _ => None,
        });
        if let Some(Object::Node(old)) = self.infos[i].node.clone().as_deref() {
            self.account_images(old, false);
        }
        self.account_images(node, true);
        let new_zone = zone_key(node);
        let info = &mut self.infos[i];
        info.allocatable = Resources::from_list(&node.status.allocatable);
        info.unschedulable = node.spec.unschedulable;
        info.taints = node.spec.taints.clone();
        info.images = Self::images_of(node).into_iter().map(|(n, _)| n).collect();
        info.images.sort();
        info.node = Some(obj.clone());
        info.refresh_gpus(node);
        if old_zone.as_deref() != Some(new_zone.as_str()) {
            if old_zone.is_some() {
                self.remove_from_tree(i);
            }
            match self.zones.iter_mut().find(|(z, _)| *z == new_zone) {
                Some((_, list)) => list.push(i),
                None => self.zones.push((new_zone, vec![i])),
            }
            self.rebuild_order();
        }
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        self.spread_memo.get_mut().clear();
        self.domain_memo.get_mut().clear();
        self.affinity_memo.get_mut().clear();
        self.touch(i);
        self.nodes_generation = self.next_generation;
        if let Some(Object::Node(old)) = self.infos[i].node.clone().as_deref() {
            self.account_images(old, false);
            self.remove_from_tree(i);
            self.rebuild_order();
        }
        let info = &mut self.infos[i];
        info.node = None;
        info.allocatable = Resources::default();
        info.unschedulable = false;
        info.taints.clear();
        info.images.clear();
        info.gpus = None;
    }

    fn remove_from_tree(&mut self, i: usize) {
        for (_, list) in &mut self.zones {
            list.retain(|&x| x != i);
        }
        self.zones.retain(|(_, list)| !list.is_empty());
    }

    fn rebuild_order(&mut self) {
        self.order.clear();
        let longest = self.zones.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        for k in 0..longest {
            for (_, list) in &self.zones {
                if let Some(&i) = list.get(k) {
                    self.order.push(i);
                }
            }
        }
    }

    /// Adds (or moves) a pod onto `node_name`.
    pub fn add_pod(&mut self, info: Arc<PodInfo>, node_name: &str) {
        self.remove_pod(&info.key);
        let i = self.slot(node_name);
        self.pod_node.insert(info.key.clone(), i);
        for (k, v) in &info.pod().metadata.labels {
            self.pods_by_label
                .entry((k.clone(), v.clone()))
                .or_default()
                .insert(info.key.clone(), info.clone());
        }
        self.count_affinity(&info, true);
        self.adjust_memos(i, &info, 1);
        self.infos[i].add_pod(info);
        self.touch(i);
    }

    /// Gives node `i` a new generation.
    fn touch(&mut self, i: usize) {
        self.next_generation += 1;
        self.infos[i].generation = self.next_generation;
    }

    pub fn remove_pod(&mut self, key: &ObjectKey) -> Option<Arc<PodInfo>> {
        let i = self.pod_node.remove(key)?;
        let removed = self.infos[i].remove_pod(key);
        self.touch(i);
        if let Some(info) = &removed {
            for (k, v) in &info.pod().metadata.labels {
                let pair = (k.clone(), v.clone());
                if let Some(set) = self.pods_by_label.get_mut(&pair) {
                    set.remove(key);
                    if set.is_empty() {
                        self.pods_by_label.remove(&pair);
                    }
                }
            }
            self.count_affinity(info, false);
            self.adjust_memos(i, info, -1);
        }
        removed
    }

    /// PodTopologySpread's `TpValueToMatchNum` for pods in `namespace` matching `selector`
    /// over nodes that have every key in `required_keys` (sorted), by value of `key` (the
    /// empty value for nodes lacking `key`, which only happens when `key` is not required:
    /// PreScore's system-default case). A domain with no matching pod is present with 0,
    /// unless `sparse` (for tables read by lookups only: PreScore's hostname counts).
    /// Valid only when every node is eligible otherwise (no node-affinity or taint
    /// inclusion policy applies).
    ///
    /// Computed once by visiting every node, then kept up to date by pod adds and removes
    /// (O(tables) per pod) and dropped on any node change, so a cycle costs O(domains)
    /// instead of O(nodes + pods). `compute` is the full count, for the first request.
    pub fn spread_counts(
        &self,
        q: &SpreadQuery<'_>,
        compute: impl FnOnce() -> HashMap<String, i64>,
    ) -> Arc<HashMap<String, i64>> {
        if self.plain_counts {
            return Arc::new(compute());
        }
        self.spread_memo
            .borrow_mut()
            .get_or_compute(q, || self.count_selected(q).unwrap_or_else(compute))
    }

    /// A new spread table from the label index: the domains of every node with the
    /// required keys at 0 (unless `sparse`), plus the pods carrying a value the selector
    /// requires, checked against the whole selector. `None` when the selector requires no
    /// value (then the caller counts by visiting every node).
    fn count_selected(&self, q: &SpreadQuery<'_>) -> Option<HashMap<String, i64>> {
        let SpreadQuery {
            namespace,
            selector,
            key,
            required_keys,
            sparse,
        } = *q;
        let sets = selector.narrowest_buckets(
            |k, v| self.pods_by_label.get(&(k.to_string(), v.to_string())),
            HashMap::len,
        )?;
        let eligible = |info: &NodeInfo| {
            info.node.is_some() && required_keys.iter().all(|k| info.labels().contains_key(k))
        };
        let domain = |info: &NodeInfo| {
            info.labels()
                .get(key)
                .map(String::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut counts: HashMap<String, i64> = HashMap::new();
        if !sparse {
            for info in self.nodes().filter(|n| eligible(n)) {
                counts.entry(domain(info)).or_insert(0);
            }
        }
        for (pk, pod) in sets.iter().flat_map(|s| s.iter()) {
            let p = pod.pod();
            let Some(&slot) = self.pod_node.get(pk) else {
                continue;
            };
            let info = &self.infos[slot];
            if p.metadata.deletion_timestamp.is_none()
                && p.metadata.namespace == namespace
                && selector.matches(&p.metadata.labels)
                && eligible(info)
            {
                *counts.entry(domain(info)).or_insert(0) += 1;
            }
        }
        Some(counts)
    }

    /// Every node's value of the label `key` as an id (see [`DomainIds`]). Built once per
    /// key by visiting every node (O(nodes)), kept until a Node is added, changed or removed.
    pub fn domain_ids(&self, key: &str) -> Arc<DomainIds> {
        let mut memo = self.domain_memo.borrow_mut();
        if let Some(d) = memo.iter().find(|d| d.key == key) {
            return d.clone();
        }
        let mut d = DomainIds {
            key: key.to_string(),
            by_slot: vec![DomainIds::MISSING; self.infos.len()],
            ..DomainIds::default()
        };
        for info in &self.infos {
            if info.node.is_none() {
                continue;
            }
            let Some(value) = info.labels().get(key) else {
                continue;
            };
            let id = match d.ids.get(value.as_str()) {
                Some(&id) => id,
                None => {
                    let id = d.values.len() as u32;
                    d.ids.insert(value.clone(), id);
                    d.values.push(value.clone());
                    id
                }
            };
            d.by_slot[info.slot] = id;
            d.labelled += 1;
        }
        let d = Arc::new(d);
        if memo.len() >= DOMAIN_MEMO_MAX {
            memo.remove(0);
        }
        memo.push(d.clone());
        d
    }

    /// InterPodAffinity's existing-pods anti-affinity counts against an incoming pod (see
    /// [`AffinityMemo::existing_anti`]); `compute` is the full scan.
    pub fn existing_anti_counts(
        &self,
        pod: &Pod,
        ns_labels: &BTreeMap<String, String>,
        compute: impl FnOnce() -> TopologyCounts,
    ) -> Arc<TopologyCounts> {
        if self.plain_counts {
            return Arc::new(compute());
        }
        let m = &pod.metadata;
        self.affinity_memo
            .borrow_mut()
            .existing_anti(&m.namespace, &m.labels, ns_labels, compute)
    }

    /// InterPodAffinity's counts for an incoming pod's merged required terms (see
    /// [`AffinityMemo::incoming`]); `compute` is the full scan.
    pub fn incoming_affinity_counts(
        &self,
        affinity_terms: &[AffinityTerm],
        anti_terms: &[AffinityTerm],
        compute: impl FnOnce() -> (TopologyCounts, TopologyCounts),
    ) -> (Arc<TopologyCounts>, Arc<TopologyCounts>) {
        if self.plain_counts {
            let (a, b) = compute();
            return (Arc::new(a), Arc::new(b));
        }
        self.affinity_memo
            .borrow_mut()
            .incoming(affinity_terms, anti_terms, compute)
    }

    fn adjust_memos(&mut self, node: usize, pod: &PodInfo, delta: i64) {
        if self.infos[node].node.is_none() {
            return;
        }
        let labels = &self.infos[node].node().metadata.labels;
        self.affinity_memo.get_mut().adjust(labels, pod, delta);
        self.spread_memo.get_mut().adjust(labels, pod, delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, zone: &str) -> Arc<Object> {
        let mut n = Node::default();
        n.metadata.name = name.into();
        if !zone.is_empty() {
            n.metadata
                .labels
                .insert("topology.kubernetes.io/zone".into(), zone.into());
        }
        Arc::new(Object::Node(n))
    }

    #[test]
    fn node_order_interleaves_zones_in_insertion_order() {
        let mut s = Snapshot::default();
        for (n, z) in [
            ("a1", "a"),
            ("a2", "a"),
            ("b1", "b"),
            ("a3", "a"),
            ("c1", "c"),
            ("b2", "b"),
        ] {
            s.upsert_node(node(n, z));
        }
        let order: Vec<&str> = s.nodes().map(|n| n.name.as_str()).collect();
        assert_eq!(order, ["a1", "b1", "c1", "a2", "b2", "a3"]);
        s.remove_node("b1");
        let order: Vec<&str> = s.nodes().map(|n| n.name.as_str()).collect();
        assert_eq!(order, ["a1", "b2", "c1", "a2", "a3"]);
    }

    #[test]
    fn domain_ids_follow_node_labels_and_node_changes() {
        const ZONE: &str = "topology.kubernetes.io/zone";
        let mut s = Snapshot::default();
        for (n, z) in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("x", "")] {
            s.upsert_node(node(n, z));
        }
        let value = |s: &Snapshot, name: &str| {
            let d = s.domain_ids(ZONE);
            let id = d.of(s.get(name).expect("node"));
            (id != DomainIds::MISSING).then(|| d.values[id as usize].clone())
        };
        assert_eq!(s.domain_ids(ZONE).len(), 2);
        assert_eq!(value(&s, "a1").as_deref(), Some("a"));
        assert_eq!(value(&s, "a2").as_deref(), Some("a"));
        assert_eq!(value(&s, "b1").as_deref(), Some("b"));
        assert_eq!(value(&s, "x"), None);
        // A relabelled node and a new node are seen at once.
        s.upsert_node(node("a2", "c"));
        s.upsert_node(node("d1", "d"));
        assert_eq!(value(&s, "a2").as_deref(), Some("c"));
        assert_eq!(value(&s, "d1").as_deref(), Some("d"));
        assert_eq!(s.domain_ids(ZONE).id("a"), Some(0));
        assert_eq!(s.domain_ids(ZONE).len(), 4);
        // A removed node has no domain.
        let slot = s.get("b1").expect("node").slot;
        s.remove_node("b1");
        assert_eq!(s.domain_ids(ZONE).by_slot[slot], DomainIds::MISSING);
    }

    #[test]
    fn image_names_are_normalized_with_latest() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.2"), "nginx:1.2");
        assert_eq!(
            normalized_image_name("reg:5000/nginx"),
            "reg:5000/nginx:latest"
        );
        assert_eq!(
            normalized_image_name("reg:5000/nginx:v1"),
            "reg:5000/nginx:v1"
        );
    }
}
