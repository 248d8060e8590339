//! The cluster network: a graph of places and links, partitions and degradations on it,
//! and the queries components make (can A reach B, how long does a packet take).
//!
//! - [`topology`]: the petgraph graph (control plane, zones, racks, nodes, client locations;
//!   links with a latency distribution and a loss probability), the default topology, and
//!   the lowest-latency path search.
//! - [`spec`]: the scenario's `spec.network` section.
//! - [`partition`]: rules between two sets of places: cut (partition) or degraded (extra
//!   latency, loss), added and removed by the scenario timeline.
//!
//! Lifecycle and invariants:
//! - The [`crate::runtime::World`] owns one [`Network`]. Nodes attach when they appear in
//!   the store and move or leave with it ([`Network::observe`]), so nodes added during the
//!   run (pool scaling, `apply`) are on the graph from their first write.
//! - Routes are computed once per (from, to) pair and cached until the graph or the rules
//!   change (node attach/detach, a partition or degradation added or healed): those change
//!   rarely, queries are frequent. The cache is bounded ([`MAX_ROUTES`]).
//! - Queries take `&self` and are deterministic: the path search breaks ties by vertex
//!   index; randomness comes only from the stream the caller passes, and a constant-latency,
//!   loss-free link draws nothing from it.
//!
//! Upstream has no network model: this is kubesim's own, so that partitions have the
//! effects a real cluster shows (kubelet lease renewals stop, `pkg/controller/nodelifecycle`
//! marks the node unreachable, pods keep running where they are).

pub mod partition;
pub mod spec;
pub mod topology;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use rand::RngExt;

use crate::api::{Change, Object, WatchEventType};
use crate::kubelet::behavior::Distribution;
use crate::scenario::pools::{LABEL_RACK, LABEL_ZONE};
use crate::sim::{RngStream, SimDuration};

pub use partition::{Effect, PlaceSet, Rule, Scope};
pub use spec::{INTERNET, NetworkSpec};
pub use topology::{NodeSite, Topology, Vertex};

/// Most cached routes; past it the cache starts over (a cluster of N nodes talking to each
/// other would otherwise cache N² routes).
pub const MAX_ROUTES: usize = 200_000;

/// A place traffic leaves from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place<'a> {
    ControlPlane,
    Zone(&'a str),
    Node(&'a str),
    Client(&'a str),
}

/// Identifies an active rule, to heal it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleId(pub u64);

/// A computed route: its links and the degradations that apply to it.
struct Route {
    edges: Vec<EdgeIndex>,
    extra: Vec<(Option<Distribution>, f64)>,
}

/// The network of one cluster.
pub struct Network {
    topo: Topology,
    rules: BTreeMap<RuleId, Rule>,
    next_rule: u64,
    /// `None`: unreachable. Cleared on every change of the graph or the rules.
    routes: RefCell<HashMap<(NodeIndex, NodeIndex), Option<Route>>>,
    /// Links cut by link rules, and extra latency/loss on degraded links; recomputed at
    /// every change (lookups only).
    down: HashSet<EdgeIndex>,
    degraded: HashMap<EdgeIndex, Vec<(Option<Distribution>, f64)>>,
}

impl Default for Network {
    fn default() -> Self {
        Network::new(NetworkSpec::default())
    }
}

/// Where a node with these labels hangs: zone label (`""` without it), rack label.
pub fn site_of(labels: &crate::api::Labels) -> NodeSite {
    NodeSite {
        zone: labels.get(LABEL_ZONE).cloned().unwrap_or_default(),
        rack: labels.get(LABEL_RACK).cloned(),
    }
}

impl Network {
    pub fn new(spec: NetworkSpec) -> Network {
        Network {
            topo: Topology::new(spec),
            rules: BTreeMap::new(),
            next_rule: 0,
            routes: RefCell::new(HashMap::new()),
            down: HashSet::new(),
            degraded: HashMap::new(),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// The graph or the rules changed: forget routes, re-resolve link rules (a link of a
    /// node that left, or of one that came back, follows). O(rules + cached routes).
    fn changed(&mut self) {
        self.routes.get_mut().clear();
        self.down.clear();
        self.degraded.clear();
        for rule in self.rules.values() {
            let Scope::Links(links) = &rule.scope else {
                continue;
            };
            for [x, y] in links {
                let Some(e) = self.topo.link_between(x, y) else {
                    continue;
                };
                match &rule.effect {
                    Effect::Cut => {
                        self.down.insert(e);
                    }
                    Effect::Degrade { latency, loss } => self
                        .degraded
                        .entry(e)
                        .or_default()
                        .push((latency.clone(), *loss)),
                }
            }
        }
    }

    /// Follows a store change: a Node added (or relabelled) is attached at its site, a Node
    /// deleted is detached. O(log nodes) when nothing moves.
    pub fn observe(&mut self, change: &Change) {
        let Object::Node(node) = &*change.object else {
            return;
        };
        let name = &node.metadata.name;
        let moved = if change.type_ == WatchEventType::Deleted {
            self.topo.detach_node(name)
        } else {
            // Most Node writes are status updates: compare in place, allocate nothing.
            let labels = &node.metadata.labels;
            let zone = labels.get(LABEL_ZONE).map_or("", String::as_str);
            let rack = labels.get(LABEL_RACK).map(String::as_str);
            let same = self
                .topo
                .node_site(name)
                .is_some_and(|s| s.zone == zone && s.rack.as_deref() == rack);
            !same && self.topo.attach_node(name, site_of(labels))
        };
        if moved {
            self.changed();
        }
    }

    /// Attaches (or moves) a node by hand, as [`Network::observe`] does for store changes.
    pub fn attach_node(&mut self, name: &str, site: NodeSite) {
        if self.topo.attach_node(name, site) {
            self.changed();
        }
    }

    /// Starts a partition or degradation; it lasts until [`Network::remove_rule`].
    pub fn add_rule(&mut self, rule: Rule) -> RuleId {
        let id = RuleId(self.next_rule);
        self.next_rule += 1;
        self.rules.insert(id, rule);
        self.changed();
        id
    }

    /// Heals a rule. Returns whether it was active.
    pub fn remove_rule(&mut self, id: RuleId) -> bool {
        let was = self.rules.remove(&id).is_some();
        if was {
            self.changed();
        }
        was
    }

    /// Active rules, in the order they started.
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.rules.iter().map(|(id, r)| (*id, r))
    }

    fn index(&self, place: Place<'_>) -> Option<NodeIndex> {
        match place {
            Place::ControlPlane => Some(self.topo.control_plane()),
            Place::Zone(z) => self.topo.zone(z),
            Place::Node(n) => self.topo.node(n),
            Place::Client(c) => self.topo.client(c),
        }
    }

    fn route(&self, a: NodeIndex, b: NodeIndex) -> Option<Route> {
        let edges = self.topo.path(a, b, &self.down)?;
        let g = self.topo.graph();
        let (va, vb) = (&g[a], &g[b]);
        let mut extra: Vec<(Option<Distribution>, f64)> = edges
            .iter()
            .filter_map(|e| self.degraded.get(e))
            .flatten()
            .cloned()
            .collect();
        for rule in self.rules.values() {
            if !rule.covers(va, vb, &self.topo) {
                continue;
            }
            match &rule.effect {
                Effect::Cut => return None,
                Effect::Degrade { latency, loss } => extra.push((latency.clone(), *loss)),
            }
        }
        Some(Route { edges, extra })
    }

    /// Runs `f` on the cached route from `from` to `to` (computing it on first use).
    fn with_route<T>(
        &self,
        from: Place<'_>,
        to: Place<'_>,
        f: impl FnOnce(Option<&Route>) -> T,
    ) -> T {
        let (Some(a), Some(b)) = (self.index(from), self.index(to)) else {
            return f(None);
        };
        let mut routes = self.routes.borrow_mut();
        if !routes.contains_key(&(a, b)) {
            if routes.len() >= MAX_ROUTES {
                routes.clear();
            }
            let r = self.route(a, b);
            routes.insert((a, b), r);
        }
        f(routes.get(&(a, b)).and_then(Option::as_ref))
    }

    /// Whether a packet can go from `from` to `to` (a path exists and no partition covers
    /// the pair). Unknown places reach nothing. O(1) amortized (cached per pair).
    pub fn reachable(&self, from: Place<'_>, to: Place<'_>) -> bool {
        self.with_route(from, to, |r| r.is_some())
    }

    /// `None` when unreachable; otherwise a one-way latency sampled along the path (one
    /// draw per link, then one per degradation), and whether the packet was lost (one draw
    /// per link or degradation with a loss probability above 0).
    pub fn sample(
        &self,
        from: Place<'_>,
        to: Place<'_>,
        rng: &mut RngStream,
    ) -> Option<(SimDuration, bool)> {
        self.with_route(from, to, |r| {
            let r = r?;
            let g = self.topo.graph();
            let mut latency = SimDuration::ZERO;
            let mut lost = false;
            for e in &r.edges {
                let link = &g[*e];
                latency = latency.saturating_add(link.latency.sample(rng));
                if link.loss > 0.0 && rng.random::<f64>() < link.loss {
                    lost = true;
                }
            }
            for (extra, loss) in &r.extra {
                if let Some(d) = extra {
                    latency = latency.saturating_add(d.sample(rng));
                }
                if *loss > 0.0 && rng.random::<f64>() < *loss {
                    lost = true;
                }
            }
            Some((latency, lost))
        })
    }

    /// The probability that a packet from `from` to `to` is lost (`1 − Π(1 − loss)` over
    /// the path's links and degradations); `None` when unreachable.
    pub fn loss(&self, from: Place<'_>, to: Place<'_>) -> Option<f64> {
        self.with_route(from, to, |r| {
            let r = r?;
            let g = self.topo.graph();
            let keep: f64 = r
                .edges
                .iter()
                .map(|e| 1.0 - g[*e].loss)
                .chain(r.extra.iter().map(|(_, l)| 1.0 - l))
                .product();
            Some(1.0 - keep)
        })
    }

    /// Whether any partition or degradation is in force.
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Known client locations, in name order (`internet` always among them).
    pub fn clients(&self) -> impl Iterator<Item = &str> {
        self.topo.client_names()
    }

    /// The zone of a node on the graph (`""` for a node without the zone label).
    pub fn node_zone(&self, node: &str) -> Option<&str> {
        self.topo.node_site(node).map(|s| s.zone.as_str())
    }

    /// Nodes on the graph that cannot reach the control plane, in name order. O(nodes)
    /// (route lookups); for the moments the rules change.
    pub fn nodes_cut_from_control_plane(&self) -> BTreeSet<String> {
        self.topo
            .node_names()
            .filter(|n| !self.reachable(Place::Node(n), Place::ControlPlane))
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngFactory;

    fn site(zone: &str) -> NodeSite {
        NodeSite {
            zone: zone.into(),
            rack: None,
        }
    }

    fn net() -> Network {
        let mut n = Network::default();
        n.attach_node("a1", site("a"));
        n.attach_node("a2", site("a"));
        n.attach_node("b1", site("b"));
        n
    }

    #[test]
    fn default_topology_links_everything() {
        let n = net();
        assert!(n.reachable(Place::Node("a1"), Place::ControlPlane));
        assert!(n.reachable(Place::Node("a1"), Place::Node("b1")));
        assert!(n.reachable(Place::Client(INTERNET), Place::Node("b1")));
        assert!(!n.reachable(Place::Node("nope"), Place::ControlPlane));
        assert_eq!(n.clients().collect::<Vec<_>>(), vec![INTERNET]);
        assert_eq!(n.node_zone("b1"), Some("b"));
        let mut rng = RngFactory::new(1).stream("t");
        // node–zone 0 + zone–zone 1 ms + zone–node 0; never through the control plane.
        assert_eq!(
            n.sample(Place::Node("a1"), Place::Node("b1"), &mut rng),
            Some((SimDuration::from_millis(1), false))
        );
        assert_eq!(
            n.sample(Place::Client(INTERNET), Place::Node("a2"), &mut rng),
            Some((SimDuration::from_millis(10), false))
        );
    }

    #[test]
    fn a_partition_cuts_only_the_pairs_it_names_and_heals() {
        let mut n = net();
        let mut nodes = PlaceSet::default();
        nodes.nodes.insert("a1".into());
        let id = n.add_rule(Rule::between(nodes, PlaceSet::control_plane(), Effect::Cut));
        assert!(!n.reachable(Place::Node("a1"), Place::ControlPlane));
        assert!(!n.reachable(Place::ControlPlane, Place::Node("a1")));
        assert!(n.reachable(Place::Node("a1"), Place::Node("a2")));
        assert!(n.reachable(Place::Client(INTERNET), Place::Node("a1")));
        assert!(n.reachable(Place::Node("a2"), Place::ControlPlane));
        assert_eq!(
            n.nodes_cut_from_control_plane()
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["a1".to_string()]
        );
        assert!(n.remove_rule(id));
        assert!(n.reachable(Place::Node("a1"), Place::ControlPlane));
    }

    #[test]
    fn a_zone_partition_covers_nodes_that_join_later() {
        let mut n = net();
        let (mut a, mut b) = (PlaceSet::default(), PlaceSet::default());
        a.zones.insert("a".into());
        b.zones.insert("b".into());
        n.add_rule(Rule::between(a, b, Effect::Cut));
        assert!(!n.reachable(Place::Node("a1"), Place::Node("b1")));
        n.attach_node("b2", site("b"));
        assert!(!n.reachable(Place::Node("a2"), Place::Node("b2")));
        assert!(n.reachable(Place::Node("b1"), Place::Node("b2")));
        assert!(n.reachable(Place::Node("a1"), Place::ControlPlane));
    }

    #[test]
    fn a_degradation_adds_latency_and_loss() {
        let mut n = net();
        let mut a = PlaceSet::default();
        a.nodes.insert("b1".into());
        n.add_rule(Rule::between(
            a,
            PlaceSet::control_plane(),
            Effect::Degrade {
                latency: Some(Distribution::Constant(SimDuration::from_millis(200))),
                loss: 1.0,
            },
        ));
        let mut rng = RngFactory::new(1).stream("t");
        assert_eq!(
            n.sample(Place::Node("b1"), Place::ControlPlane, &mut rng),
            Some((SimDuration::from_millis(200), true))
        );
        assert_eq!(
            n.sample(Place::Node("a1"), Place::ControlPlane, &mut rng),
            Some((SimDuration::ZERO, false))
        );
    }

    #[test]
    fn a_cut_link_reroutes_and_a_cut_node_link_isolates() {
        let mut n = net();
        n.attach_node("c1", site("c"));
        let zab = [Vertex::Zone("a".into()), Vertex::Zone("b".into())];
        let id = n.add_rule(Rule {
            scope: Scope::Links(vec![zab]),
            effect: Effect::Cut,
        });
        let mut rng = RngFactory::new(1).stream("t");
        // a → c → b: two zone links instead of one.
        assert_eq!(
            n.sample(Place::Node("a1"), Place::Node("b1"), &mut rng),
            Some((SimDuration::from_millis(2), false))
        );
        n.remove_rule(id);
        let uplink = [Vertex::Node("a1".into()), Vertex::Zone("a".into())];
        n.add_rule(Rule {
            scope: Scope::Links(vec![uplink.clone()]),
            effect: Effect::Cut,
        });
        assert!(!n.reachable(Place::Node("a1"), Place::ControlPlane));
        assert!(!n.reachable(Place::Node("a1"), Place::Node("a2")));
        assert!(n.reachable(Place::Node("a2"), Place::Node("b1")));
        n.add_rule(Rule {
            scope: Scope::Links(vec![[Vertex::Node("a2".into()), Vertex::Zone("a".into())]]),
            effect: Effect::Degrade {
                latency: Some(Distribution::Constant(SimDuration::from_millis(5))),
                loss: 0.0,
            },
        });
        assert_eq!(
            n.sample(Place::Node("a2"), Place::Node("b1"), &mut rng),
            Some((SimDuration::from_millis(6), false))
        );
    }

    #[test]
    fn racks_sit_between_nodes_and_their_zone() {
        let mut n = Network::default();
        n.attach_node(
            "r1",
            NodeSite {
                zone: "a".into(),
                rack: Some("rack-1".into()),
            },
        );
        n.attach_node("a1", site("a"));
        let t = n.topology();
        let none = HashSet::new();
        let path = t
            .path(t.node("r1").unwrap(), t.node("a1").unwrap(), &none)
            .unwrap();
        assert_eq!(path.len(), 3);
    }
}
