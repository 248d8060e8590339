//! The pod garbage collector (one component named `pod-garbage-collector`), after
//! `pkg/controller/podgc/gc_controller.go` (with the 40 s orphan quarantine).
//!
//! Every `gcCheckPeriod` (20 s):
//! - **Terminated pods** (phase Succeeded or Failed) above `terminatedPodGCThreshold`
//!   (12,500; 0 turns this off) are deleted, evicted ones first, then oldest first (name
//!   breaks ties).
//! - **Terminating pods on out-of-service nodes**: a pod with a deletionTimestamp on a node
//!   that is not Ready and has the `node.kubernetes.io/out-of-service` taint is marked Failed
//!   and force-deleted.
//! - **Orphaned pods**: a node that pods are bound to but that the controller does not know
//!   is quarantined for 40 s; if it is still missing then (a live read), its pods are marked
//!   Failed with the `DisruptionTarget` condition (reason `DeletionByPodGC`) and
//!   force-deleted.
//! - **Unscheduled terminating pods** (deletionTimestamp, no node) are force-deleted.
//!
//! Upstream records no Kubernetes events for these deletions; neither does kubesim.
//! Each tick costs what it deletes, not the pod count: the controller keeps the terminated
//! pods in deletion order, pods by node, and the set of missing nodes.
//! Simplification: a quarantined node due exactly at a tick is checked at that tick
//! (upstream's delaying queue races the tick).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::meta::{Condition, ConditionStatus, Time};
use crate::api::objects::pod::Pod;
use crate::api::objects::{Kind, Object, ObjectKey, PodPhase};
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context};
use crate::sim::{SimDuration, SimTime};

use super::taint_eviction::update_pod_condition;

/// Upstream `gcCheckPeriod`.
pub const GC_CHECK_PERIOD: SimDuration = SimDuration::from_secs(20);
/// Upstream `quarantineTime`.
pub const QUARANTINE_TIME: SimDuration = SimDuration::from_secs(40);
/// The taint that lets pods on a dead node go (`v1.TaintNodeOutOfService`).
pub const TAINT_OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

const TOKEN_GC: u64 = 1;
const WATCH_PODS: usize = 0;
const WATCH_NODES: usize = 1;

/// Deletion order of terminated pods (`byEvictionAndCreationTimestamp`): evicted first, then
/// creation time, then name.
type TerminatedKey = (bool, SimTime, String, String);

#[derive(Debug)]
struct PodRec {
    node: String,
    terminating: bool,
    terminated: Option<TerminatedKey>,
}

#[derive(Debug)]
struct NodeRec {
    ready: bool,
    out_of_service: bool,
}

/// The component.
pub struct PodGcController {
    threshold: i64,
    pods: BTreeMap<ObjectKey, PodRec>,
    by_node: BTreeMap<String, BTreeSet<ObjectKey>>,
    terminated: BTreeSet<TerminatedKey>,
    unscheduled_terminating: BTreeSet<ObjectKey>,
    nodes: BTreeMap<String, NodeRec>,
    out_of_service: BTreeSet<String>,
    /// Nodes pods are bound to that the controller does not know.
    missing: BTreeSet<String>,
    /// Quarantined nodes and when they are due (the earliest add wins).
    quarantine: BTreeMap<String, SimTime>,
}

fn is_evicted(pod: &Pod) -> bool {
    pod.status.phase == PodPhase::Failed && pod.status.reason == "Evicted"
}

impl PodGcController {
    /// `threshold`: `--terminated-pod-gc-threshold` (≤ 0 turns terminated-pod GC off).
    pub fn new(threshold: i64) -> Self {
        PodGcController {
            threshold,
            pods: BTreeMap::new(),
            by_node: BTreeMap::new(),
            terminated: BTreeSet::new(),
            unscheduled_terminating: BTreeSet::new(),
            nodes: BTreeMap::new(),
            out_of_service: BTreeSet::new(),
            missing: BTreeSet::new(),
            quarantine: BTreeMap::new(),
        }
    }

    fn forget_pod(&mut self, key: &ObjectKey) {
        let Some(rec) = self.pods.remove(key) else {
            return;
        };
        if let Some(t) = rec.terminated {
            self.terminated.remove(&t);
        }
        self.unscheduled_terminating.remove(key);
        if let Some(set) = self.by_node.get_mut(&rec.node) {
            set.remove(key);
            if set.is_empty() {
                self.by_node.remove(&rec.node);
                self.missing.remove(&rec.node);
            }
        }
    }

    fn on_pod(&mut self, event: &WatchEvent) {
        let key = ObjectKey::of(&event.object);
        self.forget_pod(&key);
        if event.type_ == WatchEventType::Deleted {
            return;
        }
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let terminated = pod.status.phase.is_terminal().then(|| {
            (
                !is_evicted(pod),
                pod.metadata.creation_timestamp.0,
                pod.metadata.name.clone(),
                pod.metadata.namespace.clone(),
            )
        });
        if let Some(t) = &terminated {
            self.terminated.insert(t.clone());
        }
        let node = pod.spec.node_name.clone();
        if node.is_empty() {
            if terminating {
                self.unscheduled_terminating.insert(key.clone());
            }
        } else {
            self.by_node
                .entry(node.clone())
                .or_default()
                .insert(key.clone());
            if !self.nodes.contains_key(&node) {
                self.missing.insert(node.clone());
            }
        }
        self.pods.insert(
            key,
            PodRec {
                node,
                terminating,
                terminated,
            },
        );
    }

    fn on_node(&mut self, event: &WatchEvent) {
        let Object::Node(node) = &*event.object else {
            return;
        };
        let name = node.metadata.name.clone();
        if event.type_ == WatchEventType::Deleted {
            self.nodes.remove(&name);
            self.out_of_service.remove(&name);
            if self.by_node.contains_key(&name) {
                self.missing.insert(name);
            }
            return;
        }
        let out_of_service = node
            .spec
            .taints
            .iter()
            .any(|t| t.key == TAINT_OUT_OF_SERVICE);
        if out_of_service {
            self.out_of_service.insert(name.clone());
        } else {
            self.out_of_service.remove(&name);
        }
        self.missing.remove(&name);
        self.nodes.insert(
            name,
            NodeRec {
                ready: node.is_ready(),
                out_of_service,
            },
        );
    }

    fn gc(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        // Terminated pods above the threshold, in deletion order.
        if self.threshold > 0 {
            let excess = self.terminated.len() as i64 - self.threshold;
            if excess > 0 {
                let victims: Vec<ObjectKey> = self
                    .terminated
                    .iter()
                    .take(excess as usize)
                    .map(|(_, _, name, ns)| ObjectKey::new(Kind::Pod, ns.clone(), name.clone()))
                    .collect();
                for key in victims {
                    mark_failed_and_delete(&key, None, ctx);
                }
            }
        }
        // Terminating pods on out-of-service nodes that are not Ready.
        let mut terminating: Vec<ObjectKey> = Vec::new();
        for node in &self.out_of_service {
            if self
                .nodes
                .get(node)
                .is_none_or(|n| n.ready || !n.out_of_service)
            {
                continue;
            }
            for key in self.by_node.get(node).into_iter().flatten() {
                if self.pods.get(key).is_some_and(|p| p.terminating) {
                    terminating.push(key.clone());
                }
            }
        }
        for key in terminating {
            mark_failed_and_delete(&key, None, ctx);
        }
        // Orphans: quarantine unknown nodes, then collect those still missing.
        for node in &self.missing {
            self.quarantine
                .entry(node.clone())
                .or_insert(now.saturating_add(QUARANTINE_TIME));
        }
        let due: Vec<String> = self
            .quarantine
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for node in due {
            self.quarantine.remove(&node);
            if self.nodes.contains_key(&node)
                || ctx
                    .get(&ObjectKey::new(Kind::Node, "", node.clone()))
                    .is_some()
            {
                continue;
            }
            let pods: Vec<ObjectKey> = self
                .by_node
                .get(&node)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            for key in pods {
                let cond = Condition {
                    type_: "DisruptionTarget".into(),
                    status: ConditionStatus::True,
                    reason: "DeletionByPodGC".into(),
                    message: "PodGC: node no longer exists".into(),
                    last_transition_time: Some(Time(now)),
                    ..Condition::default()
                };
                mark_failed_and_delete(&key, Some(cond), ctx);
            }
        }
        // Unscheduled terminating pods.
        let unscheduled: Vec<ObjectKey> = self.unscheduled_terminating.iter().cloned().collect();
        for key in unscheduled {
            mark_failed_and_delete(&key, None, ctx);
        }
    }
}

/// `markFailedAndDeletePodWithCondition`: phase Failed (with `condition`) unless terminal,
/// then a force delete.
fn mark_failed_and_delete(key: &ObjectKey, condition: Option<Condition>, ctx: &mut Context<'_>) {
    let patched = ctx.patch(key, |obj| {
        let Object::Pod(p) = obj else { return false };
        if p.status.phase.is_terminal() {
            return false;
        }
        p.status.phase = PodPhase::Failed;
        if let Some(c) = condition {
            update_pod_condition(&mut p.status.conditions, c);
        }
        true
    });
    if patched.is_ok() {
        let _ = ctx.delete(key, &DeleteOptions::force());
    }
}

impl Component for PodGcController {
    fn name(&self) -> String {
        "pod-garbage-collector".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Pod]),
            WatchFilter::kinds(&[Kind::Node]),
        ]
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(GC_CHECK_PERIOD, TOKEN_GC);
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, _ctx: &mut Context<'_>) {
        match watch {
            WATCH_PODS => self.on_pod(event),
            WATCH_NODES => self.on_node(event),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        if token == TOKEN_GC {
            ctx.set_timer(GC_CHECK_PERIOD, TOKEN_GC);
            self.gc(ctx);
        }
    }
}
