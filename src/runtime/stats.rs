//! Cluster-wide aggregates kept up to date from the store's change stream, so a metrics
//! sample costs O(1) however large the cluster is.
//!
//! **Invariant:** after every drained change, the aggregates equal a full recount of the
//! store (checked by a test).

use std::collections::BTreeMap;

use crate::api::Resources;
use crate::api::objects::{Object, PodPhase};
use crate::api::resources::pod_requests;

/// Sees every change the store publishes, in publication order, at the sim time it is
/// published: a measurement hook ([`super::Cluster::set_observer`]) for tools that need more
/// than [`Stats`] (`kubesim bench`'s per-run metrics). It cannot write anything back.
pub trait ChangeObserver {
    /// `old` is the object before the change, `new` after it (`None` once deleted).
    fn on_change(&mut self, now: crate::sim::SimTime, old: Option<&Object>, new: Option<&Object>);
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub nodes: u64,
    pub nodes_ready: u64,
    pub pods_by_phase: BTreeMap<PodPhase, u64>,
    /// Sum of node allocatable (millicores, bytes).
    pub allocatable_milli_cpu: i64,
    pub allocatable_memory: i64,
    /// Sum of requests of pods bound to a node and not terminal.
    pub requested_milli_cpu: i64,
    pub requested_memory: i64,
}

impl Stats {
    /// Folds one change in: `old` is the object before, `new` after (either may be absent).
    pub fn apply(&mut self, old: Option<&Object>, new: Option<&Object>) {
        if let Some(o) = old {
            self.account(o, -1);
        }
        if let Some(n) = new {
            self.account(n, 1);
        }
    }

    fn account(&mut self, obj: &Object, sign: i64) {
        match obj {
            Object::Node(n) => {
                let alloc = Resources::from_list(&n.status.allocatable);
                self.nodes = add_signed(self.nodes, sign);
                if n.is_ready() {
                    self.nodes_ready = add_signed(self.nodes_ready, sign);
                }
                self.allocatable_milli_cpu += sign * alloc.milli_cpu;
                self.allocatable_memory += sign * alloc.memory;
            }
            Object::Pod(p) => {
                let count = self.pods_by_phase.entry(p.status.phase).or_insert(0);
                *count = add_signed(*count, sign);
                if !p.spec.node_name.is_empty() && !p.status.phase.is_terminal() {
                    let r = pod_requests(&p.spec);
                    self.requested_milli_cpu += sign * r.milli_cpu;
                    self.requested_memory += sign * r.memory;
                }
            }
            _ => {}
        }
    }

    pub fn pods(&self, phase: PodPhase) -> u64 {
        self.pods_by_phase.get(&phase).copied().unwrap_or(0)
    }

    /// A full recount (for tests and assertions).
    pub fn recount<'a>(objects: impl Iterator<Item = &'a Object>) -> Stats {
        let mut s = Stats::default();
        for o in objects {
            s.apply(None, Some(o));
        }
        s.pods_by_phase.retain(|_, v| *v > 0);
        s
    }
}

fn add_signed(v: u64, sign: i64) -> u64 {
    if sign >= 0 {
        v + 1
    } else {
        v.saturating_sub(1)
    }
}
