//! The network graph: places as vertices, links with a latency distribution and a loss
//! probability as edges (a petgraph `StableUnGraph`, so removing a node's vertex keeps the
//! other indices valid).
//!
//! - **Vertices:** the control plane, zones, racks (nodes labelled `kubesim.io/rack`), nodes
//!   and client locations.
//! - **Default links** (each class's properties from `spec.network.links`): control plane to
//!   every zone, every zone to every other zone, every node to its rack or zone, every rack
//!   to its zone, every client to every zone (or to the zones it names).
//! - **Transit:** only zones and racks forward traffic. The control plane, nodes and clients
//!   are endpoints: a path never goes through them (two zones never talk "via the control
//!   plane", as real traffic does not).
//! - **Lowest-latency path:** Dijkstra over the links' nominal latencies (the mean of their
//!   distribution), vertices popped by (cost, index) and links relaxed in the graph's
//!   insertion order, so the choice is deterministic.
//!
//! Cost: attaching a vertex is O(zones + clients + overrides); a path search is O(E log V)
//! over the transit graph (zones, racks) plus one pass over the links of each transit vertex
//! it expands, and its result is cached by [`super::Network`].

use std::collections::{BTreeMap, BinaryHeap};

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableUnGraph};
use petgraph::visit::EdgeRef;

use super::spec::{LinkProps, NetworkSpec, PropsSpec};
use crate::sim::SimDuration;

/// A vertex of the graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vertex {
    ControlPlane,
    Zone(String),
    /// A rack, by its `kubesim.io/rack` label value.
    Rack(String),
    Node(String),
    Client(String),
}

impl Vertex {
    /// Whether traffic may pass through this vertex on its way elsewhere.
    pub fn transit(&self) -> bool {
        matches!(self, Vertex::Zone(_) | Vertex::Rack(_))
    }

    /// `controlPlane`, `zone/NAME`, `rack/NAME`, `node/NAME` or `client/NAME`.
    pub fn parse(text: &str) -> Result<Vertex, String> {
        if text == "controlPlane" {
            return Ok(Vertex::ControlPlane);
        }
        let (kind, name) = text.split_once('/').ok_or_else(|| {
            format!(
                "{text:?}: expected controlPlane, zone/NAME, rack/NAME, node/NAME or client/NAME"
            )
        })?;
        let name = name.to_string();
        match kind {
            "zone" => Ok(Vertex::Zone(name)),
            "rack" => Ok(Vertex::Rack(name)),
            "node" => Ok(Vertex::Node(name)),
            "client" => Ok(Vertex::Client(name)),
            _ => Err(format!(
                "{text:?}: unknown place kind {kind:?} (expected zone, rack, node or client)"
            )),
        }
    }
}

impl std::fmt::Display for Vertex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Vertex::ControlPlane => write!(f, "controlPlane"),
            Vertex::Zone(n) => write!(f, "zone/{n}"),
            Vertex::Rack(n) => write!(f, "rack/{n}"),
            Vertex::Node(n) => write!(f, "node/{n}"),
            Vertex::Client(n) => write!(f, "client/{n}"),
        }
    }
}

/// Where a node hangs: its zone (`""` without the zone label) and optional rack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSite {
    pub zone: String,
    pub rack: Option<String>,
}

/// The graph and its indexes.
pub struct Topology {
    graph: StableUnGraph<Vertex, LinkProps>,
    control_plane: NodeIndex,
    zones: BTreeMap<String, NodeIndex>,
    racks: BTreeMap<String, NodeIndex>,
    nodes: BTreeMap<String, (NodeIndex, NodeSite)>,
    clients: BTreeMap<String, NodeIndex>,
    spec: NetworkSpec,
    /// `spec.links` overrides by normalized vertex pair.
    overrides: BTreeMap<(Vertex, Vertex), PropsSpec>,
}

fn pair(a: &Vertex, b: &Vertex) -> (Vertex, Vertex) {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

impl Topology {
    /// The control plane, the clients (`internet` and `spec.clients`) and the zones the spec
    /// names; nodes attach later ([`Topology::attach_node`]).
    pub fn new(spec: NetworkSpec) -> Topology {
        let overrides = spec
            .overrides
            .iter()
            .map(|o| (pair(&o.between[0], &o.between[1]), o.props.clone()))
            .collect();
        let mut graph = StableUnGraph::default();
        let control_plane = graph.add_node(Vertex::ControlPlane);
        let mut t = Topology {
            graph,
            control_plane,
            zones: BTreeMap::new(),
            racks: BTreeMap::new(),
            nodes: BTreeMap::new(),
            clients: BTreeMap::new(),
            spec,
            overrides,
        };
        for name in t.spec.client_names() {
            let v = t.add_vertex(Vertex::Client(name.clone()));
            t.clients.insert(name, v);
        }
        let cp = t.control_plane;
        t.extra_links(cp);
        let clients: Vec<NodeIndex> = t.clients.values().copied().collect();
        for c in clients {
            t.extra_links(c);
        }
        let mut named: Vec<String> = t
            .spec
            .clients
            .iter()
            .flat_map(|c| c.zones.iter().flatten().cloned())
            .collect();
        for o in &t.spec.overrides {
            for v in &o.between {
                if let Vertex::Zone(z) = v {
                    named.push(z.clone());
                }
            }
        }
        for z in named {
            t.ensure_zone(&z);
        }
        t
    }

    pub fn graph(&self) -> &StableUnGraph<Vertex, LinkProps> {
        &self.graph
    }

    fn add_vertex(&mut self, v: Vertex) -> NodeIndex {
        self.graph.add_node(v)
    }

    /// Adds the links `spec.network.overrides` names between `idx` and places that have no
    /// default link to it (e.g. node to node). Call after the default links are made.
    fn extra_links(&mut self, idx: NodeIndex) {
        let v = self.graph[idx].clone();
        let none = LinkProps::constant(SimDuration::ZERO);
        let extra: Vec<(Vertex, LinkProps)> = self
            .overrides
            .iter()
            .filter_map(|((a, b), p)| {
                if a == &v {
                    Some((b.clone(), p.resolve(&none)))
                } else if b == &v {
                    Some((a.clone(), p.resolve(&none)))
                } else {
                    None
                }
            })
            .collect();
        for (other, props) in extra {
            if let Some(o) = self.index(&other)
                && o != idx
                && self.graph.find_edge(idx, o).is_none()
            {
                self.graph.add_edge(idx, o, props);
            }
        }
    }

    /// Adds the default link `a`–`b` (or its override) unless one exists.
    fn link(&mut self, a: NodeIndex, b: NodeIndex, default: LinkProps) {
        if self.graph.find_edge(a, b).is_some() {
            return;
        }
        let key = pair(&self.graph[a], &self.graph[b]);
        let props = match self.overrides.get(&key) {
            Some(o) => o.resolve(&default),
            None => default,
        };
        self.graph.add_edge(a, b, props);
    }

    /// The zone's vertex, created with its default links on first sight.
    pub fn ensure_zone(&mut self, zone: &str) -> NodeIndex {
        if let Some(&z) = self.zones.get(zone) {
            return z;
        }
        let z = self.add_vertex(Vertex::Zone(zone.to_string()));
        let links = self.spec.links.clone();
        self.link(self.control_plane, z, links.control_plane_zone.clone());
        let others: Vec<NodeIndex> = self.zones.values().copied().collect();
        for o in others {
            self.link(o, z, links.zone_zone.clone());
        }
        // Clients reach every zone unless their spec entry names the zones they reach.
        let clients: Vec<(NodeIndex, LinkProps)> = self
            .clients
            .iter()
            .filter_map(|(name, &c)| {
                let s = self.spec.clients.iter().find(|s| &s.name == name);
                if s.and_then(|s| s.zones.as_ref())
                    .is_some_and(|zs| !zs.iter().any(|x| x == zone))
                {
                    return None;
                }
                let props = s.map_or(links.client_zone.clone(), |s| {
                    s.props.resolve(&links.client_zone)
                });
                Some((c, props))
            })
            .collect();
        for (c, props) in clients {
            self.link(c, z, props);
        }
        self.zones.insert(zone.to_string(), z);
        self.extra_links(z);
        z
    }

    fn ensure_rack(&mut self, rack: &str, zone: &str) -> NodeIndex {
        if let Some(&r) = self.racks.get(rack) {
            return r;
        }
        let z = self.ensure_zone(zone);
        let r = self.add_vertex(Vertex::Rack(rack.to_string()));
        self.link(r, z, self.spec.links.rack_zone.clone());
        self.racks.insert(rack.to_string(), r);
        self.extra_links(r);
        r
    }

    /// Puts node `name` at `site` (first sight, or its zone/rack labels changed). Returns
    /// whether the graph changed.
    pub fn attach_node(&mut self, name: &str, site: NodeSite) -> bool {
        if let Some((_, old)) = self.nodes.get(name) {
            if *old == site {
                return false;
            }
            self.detach_node(name);
        }
        let up = match &site.rack {
            Some(r) => self.ensure_rack(r, &site.zone),
            None => self.ensure_zone(&site.zone),
        };
        let n = self.add_vertex(Vertex::Node(name.to_string()));
        self.link(n, up, self.spec.links.node_zone.clone());
        self.nodes.insert(name.to_string(), (n, site));
        self.extra_links(n);
        true
    }

    /// Removes a deleted node's vertex and links. Returns whether it was there.
    pub fn detach_node(&mut self, name: &str) -> bool {
        match self.nodes.remove(name) {
            Some((n, _)) => {
                self.graph.remove_node(n);
                true
            }
            None => false,
        }
    }

    pub fn control_plane(&self) -> NodeIndex {
        self.control_plane
    }

    pub fn zone(&self, name: &str) -> Option<NodeIndex> {
        self.zones.get(name).copied()
    }

    pub fn rack(&self, name: &str) -> Option<NodeIndex> {
        self.racks.get(name).copied()
    }

    pub fn node(&self, name: &str) -> Option<NodeIndex> {
        self.nodes.get(name).map(|(i, _)| *i)
    }

    pub fn node_site(&self, name: &str) -> Option<&NodeSite> {
        self.nodes.get(name).map(|(_, s)| s)
    }

    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    pub fn client(&self, name: &str) -> Option<NodeIndex> {
        self.clients.get(name).copied()
    }

    pub fn client_names(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }

    /// The link joining two places directly, if any.
    pub fn link_between(&self, a: &Vertex, b: &Vertex) -> Option<EdgeIndex> {
        self.graph.find_edge(self.index(a)?, self.index(b)?)
    }

    /// The zone a rack belongs to.
    pub fn rack_zone(&self, rack: NodeIndex) -> Option<&str> {
        self.graph
            .neighbors(rack)
            .find_map(|n| match &self.graph[n] {
                Vertex::Zone(z) => Some(z.as_str()),
                _ => None,
            })
    }

    fn index(&self, v: &Vertex) -> Option<NodeIndex> {
        match v {
            Vertex::ControlPlane => Some(self.control_plane),
            Vertex::Zone(n) => self.zone(n),
            Vertex::Rack(n) => self.racks.get(n).copied(),
            Vertex::Node(n) => self.node(n),
            Vertex::Client(n) => self.client(n),
        }
    }

    /// The links of the lowest-latency path from `from` to `to` through transit vertices
    /// only, or `None` when there is none. Bounded by the graph's size.
    /// `down` links are skipped.
    pub fn path(
        &self,
        from: NodeIndex,
        to: NodeIndex,
        down: &std::collections::HashSet<EdgeIndex>,
    ) -> Option<Vec<EdgeIndex>> {
        if from == to {
            return Some(Vec::new());
        }
        let mut best: BTreeMap<NodeIndex, (u64, Option<EdgeIndex>)> = BTreeMap::new();
        let mut heap = BinaryHeap::new();
        best.insert(from, (0, None));
        heap.push(std::cmp::Reverse((0u64, from.index(), from)));
        while let Some(std::cmp::Reverse((cost, _, v))) = heap.pop() {
            if best.get(&v).is_some_and(|(c, _)| *c < cost) {
                continue;
            }
            if v == to {
                break;
            }
            if v != from && !self.graph[v].transit() {
                continue;
            }
            for e in self.graph.edges(v) {
                let w = if e.source() == v {
                    e.target()
                } else {
                    e.source()
                };
                // Ends other than the target cannot forward: never queued, so a zone with
                // thousands of nodes costs one pass over its links, not a heap of them.
                if (w != to && !self.graph[w].transit()) || down.contains(&e.id()) {
                    continue;
                }
                let next = cost.saturating_add(e.weight().nominal_nanos());
                if best.get(&w).is_none_or(|(c, _)| next < *c) {
                    best.insert(w, (next, Some(e.id())));
                    heap.push(std::cmp::Reverse((next, w.index(), w)));
                }
            }
        }
        best.get(&to)?;
        let mut edges = Vec::new();
        let mut v = to;
        // Bounded: each step moves one link closer to `from` along the search tree.
        for _ in 0..=self.graph.node_count() {
            let Some((_, Some(e))) = best.get(&v) else {
                break;
            };
            edges.push(*e);
            let (a, b) = self.graph.edge_endpoints(*e)?;
            v = if a == v { b } else { a };
        }
        edges.reverse();
        Some(edges)
    }
}
