//! The kube-scheduler: one component running every configured profile.
//!
//! Lifecycle of a pod: watch `Added` (unbound, its `schedulerName` has a profile) → queue →
//! cycle (PreFilter … Score, host selection) → *assume* (the cache counts it on the node at
//! once) → bind (an API update setting `spec.nodeName`; a Conflict is retried with a fresh
//! read) → the bound pod comes back through the watch and confirms the assumption.
//! A pod that fits nowhere gets a `FailedScheduling` event, a `PodScheduled=False` condition,
//! and waits in the queue (see [`queue`]).
//!
//! Scheduling cycles take no simulated time: each is one engine event, and the next cycle
//! runs right after it while activeQ has pods. Upstream's cycle time (milliseconds) is not
//! modelled.

pub mod cache;
pub mod config;
pub mod cycle;
pub mod explain;
pub mod framework;
pub mod gpu;
pub mod listers;
pub mod memo;
pub mod node_cache;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod spread_memo;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::api::meta::{Condition, ConditionStatus, Time};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::{ApiError, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{EventId, SimDuration, SimTime};

use cache::{PodInfo, Snapshot};
use config::SchedulerConfig;
use framework::{CycleContext, CycleState};

const WATCH_PODS: usize = 0;
const WATCH_NODES: usize = 1;
const WATCH_PDBS: usize = 2;
/// Services, ReplicationControllers, ReplicaSets, StatefulSets and Namespaces (listers).
const WATCH_LISTERS: usize = 3;
const TIMER_CYCLE: u64 = 1;
const TIMER_FLUSH: u64 = 2;
/// Bind attempts before the pod goes back to the queue.
const BIND_ATTEMPTS: usize = 3;

pub struct Scheduler {
    config: SchedulerConfig,
    snapshot: Snapshot,
    queue: queue::SchedulingQueue,
    assumed: HashSet<ObjectKey>,
    next_start: usize,
    cycle_pending: bool,
    flush_timer: Option<(SimTime, EventId)>,
    /// PodDisruptionBudgets, for preemption.
    pdbs: BTreeMap<ObjectKey, Arc<Object>>,
    /// Node-local plugin results kept across cycles (off with `plain_counts`).
    node_cache: node_cache::NodeCache,
}

impl Scheduler {
    pub fn new(config: SchedulerConfig) -> Scheduler {
        let queue = queue::SchedulingQueue::new(
            SimDuration::from_secs(config.initial_backoff_seconds as u64),
            SimDuration::from_secs(config.max_backoff_seconds as u64),
        );
        let mut snapshot = Snapshot::default();
        snapshot.plain_counts = config.plain_counts;
        Scheduler {
            config,
            snapshot,
            queue,
            assumed: HashSet::new(),
            next_start: 0,
            cycle_pending: false,
            flush_timer: None,
            pdbs: BTreeMap::new(),
            node_cache: node_cache::NodeCache::default(),
        }
    }

    fn ensure_timers(&mut self, ctx: &mut Context<'_>) {
        if self.queue.has_active() && !self.cycle_pending {
            self.cycle_pending = true;
            ctx.set_timer(SimDuration::ZERO, TIMER_CYCLE);
        }
        let next = self.queue.next_flush();
        match (next, self.flush_timer) {
            (Some(t), Some((at, _))) if at <= t => {}
            (Some(t), current) => {
                if let Some((_, id)) = current {
                    ctx.cancel_timer(id);
                }
                let id = ctx.set_timer(t.saturating_since(ctx.now()), TIMER_FLUSH);
                self.flush_timer = Some((t, id));
            }
            (None, _) => {}
        }
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        let now = ctx.now();
        if event.type_ == WatchEventType::Deleted {
            self.queue.delete(&key);
            self.assumed.remove(&key);
            self.snapshot.clear_nominated(&key);
            if self.snapshot.remove_pod(&key).is_some() {
                self.queue.move_all(now);
            }
            return;
        }
        if !pod.spec.node_name.is_empty() {
            self.queue.done(&key);
            self.assumed.remove(&key);
            self.snapshot.clear_nominated(&key);
            if pod.status.phase.is_terminal() {
                if self.snapshot.remove_pod(&key).is_some() {
                    self.queue.move_all(now);
                }
            } else if let Some(info) = PodInfo::new(event.object.clone()) {
                self.snapshot.add_pod(Arc::new(info), &pod.spec.node_name);
            }
            return;
        }
        if pod.status.phase.is_terminal()
            || pod.metadata.deletion_timestamp.is_some()
            || self.config.profile(&pod.spec.scheduler_name).is_none()
        {
            self.queue.delete(&key);
            self.snapshot.clear_nominated(&key);
            return;
        }
        if self.assumed.contains(&key) {
            return; // Our own bind is on its way back.
        }
        if let Some(info) = PodInfo::new(event.object.clone()) {
            let info = Arc::new(info);
            self.snapshot
                .set_nominated(info.clone(), &pod.status.nominated_node_name);
            self.queue.add(info, now);
        }
    }

    fn on_node(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        match event.type_ {
            WatchEventType::Deleted => self.snapshot.remove_node(&event.object.meta().name),
            WatchEventType::Added | WatchEventType::Modified => {
                let relevant = match (&event.old, &*event.object) {
                    (Some(old), Object::Node(new)) => match &**old {
                        Object::Node(o) => {
                            o.spec != new.spec
                                || o.metadata.labels != new.metadata.labels
                                || o.status.allocatable != new.status.allocatable
                                || o.status.images != new.status.images
                        }
                        _ => true,
                    },
                    _ => true,
                };
                self.snapshot.upsert_node(event.object.clone());
                if relevant {
                    self.queue.move_all(ctx.now());
                }
            }
        }
    }

    fn schedule_one(&mut self, ctx: &mut Context<'_>) {
        let Some(qp) = self.queue.pop() else {
            return;
        };
        let key = qp.info.key.clone();
        let pod = qp.info.pod();
        let Some(profile) = self.config.profile(&pod.spec.scheduler_name) else {
            self.queue.delete(&key);
            return;
        };
        let now = ctx.now();
        let n = self.snapshot.len();
        let plain = self.snapshot.plain_counts;
        if !plain {
            self.node_cache
                .begin(&qp.info, self.snapshot.nodes_generation);
        }
        let node_cache = &mut self.node_cache;
        let cx = CycleContext {
            pod,
            info: &qp.info,
            snapshot: &self.snapshot,
        };
        let mut state = CycleState::default();
        let mut preempt: Option<preemption::Candidate> = None;
        let outcome: Result<String, String> = (|| {
            if n == 0 {
                return Err("no nodes available to schedule pods".to_string());
            }
            if let Err(s) = cycle::pre_filter(profile, &cx, &mut state) {
                let failed: Vec<(usize, framework::Status)> = Vec::new();
                return Err(cycle::fit_error_message(n, &failed, Some(&s), ""));
            }
            // A nominated node that still fits is taken without looking further.
            let nominated = &pod.status.nominated_node_name;
            if !nominated.is_empty()
                && let Some(node) = self.snapshot.get(nominated)
                && cycle::filter_with_nominated(profile, &cx, &state, node).is_success()
            {
                return Ok(nominated.clone());
            }
            let pct = profile
                .percentage_of_nodes_to_score
                .unwrap_or(self.config.percentage_of_nodes_to_score);
            let to_find = if profile.score.is_empty() {
                1
            } else {
                cycle::num_feasible_nodes_to_find(pct, n)
            };
            let feas = cycle::find_feasible(
                profile,
                &cx,
                &state,
                self.next_start,
                to_find,
                (!plain).then_some(&mut *node_cache),
            );
            self.next_start = (self.next_start + feas.feasible.len() + feas.failed.len()) % n;
            match feas.feasible.len() {
                0 => {
                    let mut post = String::new();
                    if profile.preemption {
                        // Only failed cycles need the PDBs.
                        let pdbs: Vec<&crate::api::objects::PodDisruptionBudget> = self
                            .pdbs
                            .values()
                            .filter_map(|o| match &**o {
                                Object::PodDisruptionBudget(p) => Some(p),
                                _ => None,
                            })
                            .collect();
                        let terminating = self.snapshot.get(nominated).is_some_and(|node| {
                            preemption::lower_priority_terminating(node, qp.info.priority)
                        });
                        match preemption::post_filter(
                            profile,
                            &cx,
                            &state,
                            &feas.failed,
                            &pdbs,
                            terminating,
                            ctx.rng(),
                        ) {
                            preemption::Outcome::Preempt(c) => preempt = Some(c),
                            preemption::Outcome::NotHelpful(m) => post = m,
                        }
                    }
                    Err(cycle::fit_error_message(n, &feas.failed, None, &post))
                }
                1 => Ok(self.snapshot.at(feas.feasible[0]).name.clone()),
                _ => {
                    let nodes: Vec<&cache::NodeInfo> =
                        feas.feasible.iter().map(|&i| self.snapshot.at(i)).collect();
                    let (totals, _) = cycle::prioritize(
                        profile,
                        &cx,
                        &mut state,
                        &nodes,
                        false,
                        (!plain).then_some(&mut *node_cache),
                    );
                    let pick = cycle::select_host(&totals, ctx.rng()).unwrap_or(0);
                    Ok(nodes[pick].name.clone())
                }
            }
        })();
        // Release the cycle's shared count tables before assuming the pod, so the cache
        // updates them in place instead of copying them (see `memo`).
        drop(state);
        // Reserve: GPU pods get their devices from the profile's GPU policy (see `gpu`).
        let devices = match (&outcome, &qp.info.gpu) {
            (Ok(node), Some(_)) => self
                .snapshot
                .get(node)
                .and_then(|n| gpu::reserve_devices(profile, &cx, n, ctx.rng())),
            _ => None,
        };
        match outcome {
            Ok(node) => {
                let info = devices
                    .and_then(|d| gpu::pinned(&qp.info, &d))
                    .map(Arc::new)
                    .unwrap_or_else(|| qp.info.clone());
                self.assume_and_bind(info, &node, ctx)
            }
            Err(message) => {
                if let Some(c) = preempt {
                    self.preempt(&qp.info, c, ctx);
                }
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    "FailedScheduling",
                    key.to_string(),
                    message.clone(),
                ));
                let _ = ctx.patch(&key, |obj| {
                    set_pod_scheduled(obj, ConditionStatus::False, "Unschedulable", &message, now)
                });
                self.queue.add_unschedulable(&key, now);
            }
        }
    }

    /// Carries out a preemption: marks each victim with a `DisruptionTarget` condition and
    /// deletes it (gracefully), clears lower-priority nominations to the node, and nominates
    /// the node for the preemptor.
    fn preempt(&mut self, preemptor: &PodInfo, c: preemption::Candidate, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let uid = preemptor.pod.meta().uid.clone();
        for v in &c.victims {
            let message = format!(
                "{}: preempting to accommodate a higher priority pod",
                "Kubernetes default scheduler"
            );
            let _ = ctx.patch(&v.key, |obj| {
                set_condition(
                    obj,
                    "DisruptionTarget",
                    ConditionStatus::True,
                    "PreemptionByScheduler",
                    &message,
                    now,
                )
            });
            let _ = ctx.delete(&v.key, &crate::api::DeleteOptions::default());
            ctx.record(
                EventRecord::new(
                    now,
                    EventType::Normal,
                    "Preempted",
                    v.key.to_string(),
                    format!("Preempted by pod {uid} on node {}", c.node),
                )
                .on_node(&c.node),
            );
        }
        for key in self.queue.pending_keys() {
            if key == preemptor.key {
                continue;
            }
            let _ = ctx.patch(&key, |obj| match obj {
                Object::Pod(p)
                    if p.status.nominated_node_name == c.node
                        && p.spec.priority.unwrap_or(0) < preemptor.priority =>
                {
                    p.status.nominated_node_name.clear();
                    true
                }
                _ => false,
            });
        }
        let node = c.node.clone();
        let _ = ctx.patch(&preemptor.key, |obj| match obj {
            Object::Pod(p) if p.status.nominated_node_name != node => {
                p.status.nominated_node_name = node.clone();
                true
            }
            _ => false,
        });
    }

    fn assume_and_bind(&mut self, info: Arc<PodInfo>, node: &str, ctx: &mut Context<'_>) {
        let key = info.key.clone();
        let now = ctx.now();
        self.snapshot.add_pod(info.clone(), node);
        self.assumed.insert(key.clone());
        // One copy of the pod per attempt (the update consumes it).
        let mut attempt = Some((*info.pod).clone());
        let mut result = Err(ApiError::NotFound { key: key.clone() });
        for _ in 0..BIND_ATTEMPTS {
            let Some(mut bound) = attempt.take() else {
                break;
            };
            if let Object::Pod(p) = &mut bound {
                p.spec.node_name = node.to_string();
            }
            set_pod_scheduled(&mut bound, ConditionStatus::True, "", "", now);
            result = ctx.update(bound);
            match &result {
                Err(ApiError::Conflict { .. }) => match ctx.get(&key) {
                    Some(fresh) if matches!(&*fresh, Object::Pod(p) if p.spec.node_name.is_empty() && p.metadata.deletion_timestamp.is_none() && fresh.meta().uid == info.pod.meta().uid) =>
                    {
                        attempt = Some((*fresh).clone());
                    }
                    _ => break,
                },
                _ => break,
            }
        }
        match result {
            Ok(_) => {
                self.queue.done(&key);
                ctx.record(
                    EventRecord::new(
                        now,
                        EventType::Normal,
                        "Scheduled",
                        key.to_string(),
                        format!(
                            "Successfully assigned {}/{} to {node}",
                            key.namespace, key.name
                        ),
                    )
                    .on_node(node),
                );
            }
            Err(e) => {
                // Forget the assumption; the pod retries after backoff if it still exists.
                self.snapshot.remove_pod(&key);
                self.assumed.remove(&key);
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    "FailedScheduling",
                    key.to_string(),
                    format!("Binding rejected: {e}"),
                ));
                self.queue.add_backoff(&key, now);
            }
        }
    }
}

/// Sets the pod's PodScheduled condition; returns whether anything changed.
fn set_pod_scheduled(
    obj: &mut Object,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: SimTime,
) -> bool {
    set_condition(obj, "PodScheduled", status, reason, message, now)
}

/// Sets a pod condition; returns whether anything changed.
fn set_condition(
    obj: &mut Object,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: SimTime,
) -> bool {
    let Object::Pod(p) = obj else {
        return false;
    };
    let conds = &mut p.status.conditions;
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == type_) {
        if c.status == status && c.reason == reason && c.message == message {
            return false;
        }
        if c.status != status {
            c.last_transition_time = Some(Time(now));
        }
        c.status = status;
        c.reason = reason.to_string();
        c.message = message.to_string();
    } else {
        conds.push(Condition {
            type_: type_.into(),
            status,
            reason: reason.to_string(),
            message: message.to_string(),
            last_transition_time: Some(Time(now)),
            ..Condition::default()
        });
    }
    true
}

impl Component for Scheduler {
    fn name(&self) -> String {
        "scheduler".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Pod]),
            WatchFilter::kinds(&[Kind::Node]),
            WatchFilter::kinds(&[Kind::PodDisruptionBudget]),
            WatchFilter::kinds(LISTER_KINDS),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_PODS => self.on_pod(event, ctx),
            WATCH_NODES => self.on_node(event, ctx),
            WATCH_PDBS => {
                let key = ObjectKey::of(&event.object);
                if event.type_ == WatchEventType::Deleted {
                    self.pdbs.remove(&key);
                } else {
                    self.pdbs.insert(key, event.object.clone());
                }
            }
            WATCH_LISTERS => self.on_lister_object(event),
            _ => {}
        }
        self.ensure_timers(ctx);
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        match token {
            TIMER_CYCLE => {
                self.cycle_pending = false;
                self.schedule_one(ctx);
            }
            TIMER_FLUSH => {
                self.flush_timer = None;
                self.queue.flush(ctx.now());
            }
            _ => {}
        }
        self.ensure_timers(ctx);
    }
}

// Listers (PodTopologySpread, InterPodAffinity): watch index WATCH_LISTERS.

/// Kinds the scheduler keeps in [`listers::Listers`] (PodTopologySpread's default
/// constraints, InterPodAffinity's namespaceSelector).
const LISTER_KINDS: &[Kind] = &[
    Kind::Service,
    Kind::ReplicationController,
    Kind::ReplicaSet,
    Kind::StatefulSet,
    Kind::Namespace,
];

impl Scheduler {
    /// Keeps the listers current. No requeue: as upstream, these kinds are not events any
    /// default plugin registers for.
    fn on_lister_object(&mut self, event: &WatchEvent) {
        self.snapshot.listers.apply(event);
    }
}
