//! Partitions and link degradations: rules between two sets of places, active until healed.
//!
//! A rule separates (or degrades) every path whose one end is in side `a` and whose other
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

/// One active partition or degradation.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub a: PlaceSet,
    pub b: PlaceSet,
    pub effect: Effect,
}

impl Rule {
    /// Whether the rule covers paths between `x` and `y` (either way round).
    pub fn covers(&self, x: &Vertex, y: &Vertex, topo: &Topology) -> bool {
        (self.a.contains(x, topo) && self.b.contains(y, topo))
            || (self.a.contains(y, topo) && self.b.contains(x, topo))
    }
}
