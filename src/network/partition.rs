//! Partitions and link degradations: rules between two sets of places, or on named links,
//! active until healed.
//!
//! A link rule cuts (or degrades) the graph's links themselves: every path crossing them is
//! affected, and the path search avoids cut links (so a cut zone-to-zone link reroutes
//! through a third zone when there is one).
//!
//! A between-rule separates (or degrades) every path whose one end is in side `a` and whose other
//! end is in side `b`, whichever way it goes. This stands for cutting (or degrading) the set
//! of links those paths use, without cutting anything else: a node cut from the control
//! plane still reaches its zone's other nodes and the clients, as when a firewall rule or a
//! broken route on the control plane's side is the cause. *Simplified:* rules act on the
//! ends of a path, not on the links it crosses; a path between two places outside both
//! sides is never affected, even if it crosses a zone named in a side.

use std::collections::BTreeSet;

use super::topology::{Topology, Vertex};
use crate::kubelet::behavior::Distribution;

/// A set of places: the control plane, whole zones (with their racks and nodes, including
/// nodes that join later), single nodes and client locations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlaceSet {
    pub control_plane: bool,
    pub zones: BTreeSet<String>,
    pub nodes: BTreeSet<String>,
    pub clients: BTreeSet<String>,
}

impl PlaceSet {
    pub fn control_plane() -> PlaceSet {
        PlaceSet {
            control_plane: true,
            ..PlaceSet::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.control_plane
            && self.zones.is_empty()
            && self.nodes.is_empty()
            && self.clients.is_empty()
    }

    /// Whether vertex `v` of `topo` is in the set.
    pub fn contains(&self, v: &Vertex, topo: &Topology) -> bool {
        match v {
            Vertex::ControlPlane => self.control_plane,
            Vertex::Zone(z) => self.zones.contains(z),
            Vertex::Rack(r) => {
                let zone = topo.rack(r).and_then(|i| topo.rack_zone(i));
                zone.is_some_and(|z| self.zones.contains(z))
            }
            Vertex::Node(n) => {
                self.nodes.contains(n)
                    || topo
                        .node_site(n)
                        .is_some_and(|s| self.zones.contains(&s.zone))
            }
            Vertex::Client(c) => self.clients.contains(c),
        }
    }

    /// A short description for events: `controlPlane, zone/a, node/n1`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.control_plane {
            parts.push("controlPlane".to_string());
        }
        parts.extend(self.zones.iter().map(|z| format!("zone/{z}")));
        parts.extend(self.nodes.iter().map(|n| format!("node/{n}")));
        parts.extend(self.clients.iter().map(|c| format!("client/{c}")));
        parts.join(", ")
    }
}

/// What a rule does to the paths it covers.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// No packet passes.
    Cut,
    /// Extra latency (one more draw per packet) and an extra loss probability.
    Degrade {
        latency: Option<Distribution>,
        loss: f64,
    },
}

/// Which paths a rule covers.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// Every path with one end in each set (either way round), whatever links it crosses.
    Between(PlaceSet, PlaceSet),
    /// Every path crossing one of these links (a pair of places the graph links directly;
    /// pairs without a link are ignored). A cut link makes traffic take another path if
    /// there is one.
    Links(Vec<[Vertex; 2]>),
}

/// One active partition or degradation.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub scope: Scope,
    pub effect: Effect,
}

impl Rule {
    /// A rule on the paths between `a` and `b`.
    pub fn between(a: PlaceSet, b: PlaceSet, effect: Effect) -> Rule {
        Rule {
            scope: Scope::Between(a, b),
            effect,
        }
    }

    /// Whether the rule covers paths between `x` and `y` by their ends (either way round);
    /// a link rule covers none this way.
    pub fn covers(&self, x: &Vertex, y: &Vertex, topo: &Topology) -> bool {
        match &self.scope {
            Scope::Between(a, b) => {
                (a.contains(x, topo) && b.contains(y, topo))
                    || (a.contains(y, topo) && b.contains(x, topo))
            }
            Scope::Links(_) => false,
        }
    }
}
