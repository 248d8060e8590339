//! The taint eviction controller (one component named `taint-eviction-controller`), after
//! `pkg/controller/tainteviction/taint_eviction.go` and `timed_workers.go` (a separate
//! controller since v1.29, gate SeparateTaintEvictionController).
//!
//! - When a node's NoExecute taints change, every pod bound to it is looked at (and a pod
//!   whose tolerations or node change is looked at against its node's taints).
//! - A pod that does not tolerate every NoExecute taint is deleted at once. One that does is
//!   deleted after the smallest `tolerationSeconds` among the tolerations used (the first
//!   toleration matching each taint); none set means it stays forever, ≤ 0 means at once.
//!   The timer starts when the controller sees the taint, and a pod already scheduled for
//!   deletion keeps its earlier time.
//! - When the taints go (or the pod is deleted first), a pending deletion is cancelled with
//!   a `TaintManagerEviction` event "Cancelling deletion of Pod ns/name".
//! - At its time, a deletion records `TaintManagerEviction` "Marking for deletion Pod
//!   ns/name", adds the `DisruptionTarget` condition (reason `DeletionByTaintManager`) and
//!   deletes the pod with its own grace period. A pod done with stays remembered (no second
//!   deletion) until it is deleted or its node's taints go.
//!
//! Simplifications: node and pod updates are handled when their watch event arrives
//! (upstream: 8 workers fed by channels, node updates first); the delete is not retried (5
//! attempts upstream) since a live read-modify-write cannot conflict.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::meta::{Condition, ConditionStatus, Time};
use crate::api::objects::node::Taint;
use crate::api::objects::pod::{TaintEffect, Toleration};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::scheduling::tolerates;
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{EventId, SimDuration, SimTime};

const WATCH_NODES: usize = 0;
const WATCH_PODS: usize = 1;

/// `getMinTolerationTime` over the tolerations used: `None` for forever, else the delay
/// (zero when any is ≤ 0 or none are used).
pub fn min_toleration_time(used: &[&Toleration]) -> Option<SimDuration> {
    if used.is_empty() {
        return Some(SimDuration::ZERO);
    }
    let mut min: Option<i64> = None;
    for t in used {
        if let Some(s) = t.toleration_seconds {
            if s <= 0 {
                return Some(SimDuration::ZERO);
            }
            min = Some(min.map_or(s, |m: i64| m.min(s)));
        }
    }
    min.map(|s| SimDuration::from_secs(s as u64))
}

/// `GetMatchingTolerations`: for each taint the first toleration that tolerates it, or
/// `None` when some taint is not tolerated.
pub fn matching_tolerations<'a>(
    taints: &[Taint],
    tolerations: &'a [Toleration],
) -> Option<Vec<&'a Toleration>> {
    let mut used = Vec::new();
    for taint in taints {
        used.push(tolerations.iter().find(|t| tolerates(t, taint))?);
    }
    Some(used)
}

/// A scheduled deletion (`TimedWorker`); `Done` once it ran (upstream keeps a nil worker).
#[derive(Debug)]
enum Work {
    Pending {
        created: SimTime,
        timer: EventId,
        token: u64,
    },
    Done,
}

#[derive(Debug)]
struct PodRec {
    node: String,
    tolerations: Vec<Toleration>,
}

/// The component.
#[derive(Default)]
pub struct TaintEvictionController {
    /// NoExecute taints of tainted nodes.
    tainted: BTreeMap<String, Vec<Taint>>,
    pods: BTreeMap<ObjectKey, PodRec>,
    by_node: BTreeMap<String, BTreeSet<ObjectKey>>,
    work: BTreeMap<ObjectKey, Work>,
    /// Timer token → (pod, whether it is an immediate deletion).
    timers: BTreeMap<u64, (ObjectKey, bool)>,
    next_token: u64,
}

fn no_execute(taints: &[Taint]) -> Vec<Taint> {
    taints
        .iter()
        .filter(|t| t.effect == TaintEffect::NoExecute)
        .cloned()
        .collect()
}

impl TaintEvictionController {
    pub fn new() -> Self {
        Self::default()
    }

    fn cancel(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        match self.work.remove(key) {
            Some(Work::Pending { timer, token, .. }) => {
                ctx.cancel_timer(timer);
                self.timers.remove(&token);
                ctx.record(EventRecord::new(
                    ctx.now(),
                    EventType::Normal,
                    "TaintManagerEviction",
                    key.to_string(),
                    format!("Cancelling deletion of Pod {}/{}", key.namespace, key.name),
                ));
            }
            Some(Work::Done) | None => {}
        }
    }

    /// `AddWork`: nothing if work for the pod exists; at once when due now.
    fn add_work(
        &mut self,
        key: &ObjectKey,
        created: SimTime,
        fire: SimTime,
        ctx: &mut Context<'_>,
    ) {
        if self.work.contains_key(key) {
            return;
        }
        let delay = fire.saturating_since(created);
        self.next_token += 1;
        let token = self.next_token;
        let timer = ctx.set_timer(delay, token);
        if delay.is_zero() {
            // Upstream starts the deletion at once in a goroutine and keeps no worker, so
            // it cannot be cancelled; kubesim runs it in a zero-delay timer.
            self.timers.insert(token, (key.clone(), true));
            self.work.insert(key.clone(), Work::Done);
            return;
        }
        self.timers.insert(token, (key.clone(), false));
        self.work.insert(
            key.clone(),
            Work::Pending {
                created,
                timer,
                token,
            },
        );
    }

    /// `processPodOnNode`.
    fn process_pod(&mut self, key: &ObjectKey, taints: &[Taint], ctx: &mut Context<'_>) {
        let now = ctx.now();
        if taints.is_empty() {
            self.cancel(key, ctx);
        }
        let Some(rec) = self.pods.get(key) else {
            return;
        };
        let Some(used) = matching_tolerations(taints, &rec.tolerations) else {
            self.cancel(key, ctx);
            self.add_work(key, now, now, ctx);
            return;
        };
        let Some(min) = min_toleration_time(&used) else {
            self.cancel(key, ctx);
            return;
        };
        let mut start = now;
        let trigger = now.saturating_add(min);
        if let Some(Work::Pending { created, .. }) = self.work.get(key) {
            start = *created;
            if start.saturating_add(min) < trigger {
                return;
            }
            self.cancel(key, ctx);
        }
        self.add_work(key, start, trigger, ctx);
    }

    /// The deletion handler: event, DisruptionTarget condition, delete.
    fn evict(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let now = ctx.now();
        ctx.record(EventRecord::new(
            now,
            EventType::Normal,
            "TaintManagerEviction",
            key.to_string(),
            format!("Marking for deletion Pod {}/{}", key.namespace, key.name),
        ));
        let patched = ctx.patch(key, |obj| {
            let Object::Pod(p) = obj else { return false };
            let cond = Condition {
                type_: "DisruptionTarget".into(),
                status: ConditionStatus::True,
                reason: "DeletionByTaintManager".into(),
                message: "Taint manager: deleting due to NoExecute taint".into(),
                last_transition_time: Some(Time(now)),
                ..Condition::default()
            };
            update_pod_condition(&mut p.status.conditions, cond)
        });
        let ok = patched.is_ok() && ctx.delete(key, &DeleteOptions::default()).is_ok();
        if !ok {
            // Upstream drops the worker after a failed deletion.
            self.work.remove(key);
        }
    }

    fn on_node(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Node(node) = &*event.object else {
            return;
        };
        let name = node.metadata.name.clone();
        let new = if event.type_ == WatchEventType::Deleted {
            None
        } else {
            Some(no_execute(&node.spec.taints))
        };
        if event.type_ == WatchEventType::Modified
            && let Some(Object::Node(old)) = event.old.as_deref()
            && new.as_deref() == Some(no_execute(&old.spec.taints).as_slice())
        {
            return;
        }
        // `handleNodeUpdate`.
        let Some(taints) = new else {
            self.tainted.remove(&name);
            return;
        };
        if taints.is_empty() {
            self.tainted.remove(&name);
        } else {
            self.tainted.insert(name.clone(), taints.clone());
        }
        let pods: Vec<ObjectKey> = self
            .by_node
            .get(&name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for key in pods {
            if taints.is_empty() {
                self.cancel(&key, ctx);
            } else {
                self.process_pod(&key, &taints, ctx);
            }
        }
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        if event.type_ == WatchEventType::Deleted {
            if let Some(rec) = self.pods.remove(&key) {
                self.unindex(&key, &rec.node);
            }
            self.cancel(&key, ctx);
            self.work.remove(&key);
            return;
        }
        let node = pod.spec.node_name.clone();
        if let Some(rec) = self.pods.get(&key)
            && rec.node == node
            && rec.tolerations == pod.spec.tolerations
        {
            return;
        }
        if let Some(rec) = self.pods.remove(&key) {
            self.unindex(&key, &rec.node);
        }
        if node.is_empty() {
            return;
        }
        self.by_node
            .entry(node.clone())
            .or_default()
            .insert(key.clone());
        self.pods.insert(
            key.clone(),
            PodRec {
                node: node.clone(),
                tolerations: pod.spec.tolerations.clone(),
            },
        );
        if let Some(taints) = self.tainted.get(&node).cloned() {
            self.process_pod(&key, &taints, ctx);
        }
    }

    fn unindex(&mut self, key: &ObjectKey, node: &str) {
        if let Some(set) = self.by_node.get_mut(node) {
            set.remove(key);
            if set.is_empty() {
                self.by_node.remove(node);
            }
        }
    }
}

/// `UpdatePodCondition`: sets `cond` (keeping the old transition time when the status is
/// unchanged); true if anything changed.
pub fn update_pod_condition(conditions: &mut Vec<Condition>, mut cond: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == cond.type_) {
        None => {
            conditions.push(cond);
            true
        }
        Some(old) => {
            if old.status == cond.status {
                cond.last_transition_time = old.last_transition_time;
            }
            let changed = old.status != cond.status
                || old.reason != cond.reason
                || old.message != cond.message
                || old.last_probe_time != cond.last_probe_time
                || old.last_transition_time != cond.last_transition_time;
            *old = cond;
            changed
        }
    }
}

impl Component for TaintEvictionController {
    fn name(&self) -> String {
        "taint-eviction-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Node]),
            WatchFilter {
                bound_pods_only: true,
                ..WatchFilter::kinds(&[Kind::Pod])
            },
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_NODES => self.on_node(event, ctx),
            WATCH_PODS => self.on_pod(event, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        let Some((key, immediate)) = self.timers.remove(&token) else {
            return;
        };
        if immediate {
            self.evict(&key, ctx);
        } else if matches!(self.work.get(&key), Some(Work::Pending { token: t, .. }) if *t == token)
        {
            self.work.insert(key.clone(), Work::Done);
            self.evict(&key, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::objects::pod::TolerationOperator;

    fn tol(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: key.into(),
            operator: Some(TolerationOperator::Exists),
            value: String::new(),
            effect: Some(TaintEffect::NoExecute),
            toleration_seconds: secs,
        }
    }

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.into(),
            value: String::new(),
            effect: TaintEffect::NoExecute,
            time_added: None,
        }
    }

    #[test]
    fn the_smallest_toleration_of_the_matching_ones_wins() {
        let tols = [tol("a", Some(300)), tol("b", Some(60)), tol("c", None)];
        let used = matching_tolerations(&[taint("a"), taint("b")], &tols).unwrap();
        assert_eq!(min_toleration_time(&used), Some(SimDuration::from_secs(60)));
        let used = matching_tolerations(&[taint("c")], &tols).unwrap();
        assert_eq!(min_toleration_time(&used), None, "forever");
        assert!(matching_tolerations(&[taint("d")], &tols).is_none());
        let zero = [tol("a", Some(0))];
        let used = matching_tolerations(&[taint("a")], &zero).unwrap();
        assert_eq!(min_toleration_time(&used), Some(SimDuration::ZERO));
    }
}
