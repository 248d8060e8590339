//! The properties: safety checked after every change by an [`Observer`] component,
//! convergence checked at `T + bound` by the same observer (a timer), quiescence checked
//! over the changes it saw after that. `docs/properties.md` gives each one with the
//! upstream rule it comes from.
//!
//! The observer opens one watch over every kind it needs, so it sees the store's changes
//! one by one in resourceVersion order, each 10 ms (the watch latency) after it was made:
//! its copy is the store as it stood after each write. It writes nothing, draws nothing
//! and records nothing in events.jsonl, so a run with it has the same digest as a run
//! without (the determinism property checks exactly that).
//!
//! Simplified: "expectations satisfied" for the ReplicaSet rule and "ready" for endpoints
//! are judged with a one-second staleness window (`STALE`), since a controller acts on a
//! watch cache 10 ms behind the store; a control-plane outage that ended in that window
//! widens it to the outage's start (the controllers' caches were frozen).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

use crate::api::objects::pod::Pod;
use crate::api::objects::workloads::{Deployment, ReplicaSet};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::resources::{Resources, pod_requests};
use crate::api::selector::selector_from_option;
use crate::api::{WatchEvent, WatchEventType, WatchFilter};
use crate::controllers::pods::{is_active, is_ready};
use crate::runtime::{Component, Context};
use crate::sim::{SimDuration, SimTime};

/// How stale a controller's view may be when judging its writes.
pub const STALE: SimDuration = SimDuration::from_secs(1);

/// One broken property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property's name, as in `docs/properties.md` (`node-overcommit`, ...).
    pub property: &'static str,
    /// Sim time it was seen.
    pub t: SimTime,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] t={}: {}",
            self.property,
            crate::runtime::output::format_seconds(self.t),
            self.message
        )
    }
}

/// What the properties need to know about the case besides the store.
#[derive(Clone, Debug, Default)]
pub struct CaseInfo {
    /// Apps (`app` label / name prefix) whose containers crash-loop.
    pub crashing: BTreeSet<String>,
    /// Firing times of every fault, with whether it is a drain and which Deployment a
    /// rollout targets.
    pub faults: Vec<(SimTime, FaultClass)>,
    /// Control-plane outages `[start, end)`.
    pub outages: Vec<(SimTime, SimTime)>,
    /// When the convergence checks run (`T + bound`).
    pub converge_at: SimTime,
    /// Whether the cluster can hold every workload (see `docs/properties.md`); without it
    /// only the capacity-independent convergence checks run.
    pub fits: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultClass {
    Drain,
    Rollout(String),
    Involuntary,
}

impl CaseInfo {
    /// Whether no fault except those `allowed` accepts has fired by `t`.
    fn quiet(&self, t: SimTime, allowed: impl Fn(&FaultClass) -> bool) -> bool {
        self.faults.iter().all(|(at, c)| *at > t || allowed(c))
    }

    /// Start of the window a controller's view at `t` may lag behind.
    fn stale_from(&self, t: SimTime) -> SimTime {
        let mut from = SimTime::from_nanos(t.as_nanos().saturating_sub(STALE.as_nanos()));
        for (s, e) in &self.outages {
            if *s < t && e.saturating_add(STALE) >= t {
                from = from.min(SimTime::from_nanos(
                    s.as_nanos().saturating_sub(STALE.as_nanos()),
                ));
            }
        }
        from
    }

    /// Whether an object belongs to a crash-looping app (its name is the app or starts
    /// with `<app>-`): its status churns for ever.
    pub fn churns(&self, name: &str) -> bool {
        self.crashing.iter().any(|a| {
            name == a
                || name
                    .strip_prefix(a.as_str())
                    .is_some_and(|r| r.starts_with('-'))
        })
    }
}

/// What the observer found; shared with the caller.
#[derive(Debug, Default)]
pub struct Findings {
    pub violations: Vec<Violation>,
    /// Changes seen after the convergence checks: (time, kind/namespace/name).
    pub late_changes: Vec<(SimTime, String)>,
    pub converged_checked: bool,
}

/// Keeps at most this many violations per run (the first ones matter).
const MAX_VIOLATIONS: usize = 50;

#[derive(Default)]
struct PodState {
    /// Ready and not terminating now.
    ready_now: bool,
    /// The last time it was seen ready and not terminating.
    last_ready: Option<SimTime>,
}

/// A rollout under watch: from a Deployment's template change to its completion.
struct Rollout {
    /// All `replicas` were available when it started (else `maxUnavailable` is not judged:
    /// the Deployment was still coming up).
    was_available: bool,
}

/// The observer component (`fuzz-observer`).
pub struct Observer {
    info: Rc<CaseInfo>,
    findings: Rc<RefCell<Findings>>,
    pods: BTreeMap<ObjectKey, Pod>,
    pod_state: BTreeMap<ObjectKey, PodState>,
    node_pods: BTreeMap<String, BTreeSet<ObjectKey>>,
    /// Pods by their controller's uid.
    owned_pods: BTreeMap<String, BTreeSet<ObjectKey>>,
    nodes: BTreeMap<String, Resources>,
    bound: BTreeMap<String, String>,
    replica_sets: BTreeMap<String, ReplicaSet>,
    rs_history: BTreeMap<String, Vec<(SimTime, i32)>>,
    deployments: BTreeMap<String, Deployment>,
    rollouts: BTreeMap<String, Rollout>,
    pdbs: BTreeMap<ObjectKey, crate::api::objects::policy::PodDisruptionBudget>,
}

impl Observer {
    pub fn new(info: Rc<CaseInfo>, findings: Rc<RefCell<Findings>>) -> Observer {
        Observer {
            info,
            findings,
            pods: BTreeMap::new(),
            pod_state: BTreeMap::new(),
            node_pods: BTreeMap::new(),
            owned_pods: BTreeMap::new(),
            nodes: BTreeMap::new(),
            bound: BTreeMap::new(),
            replica_sets: BTreeMap::new(),
            rs_history: BTreeMap::new(),
            deployments: BTreeMap::new(),
            rollouts: BTreeMap::new(),
            pdbs: BTreeMap::new(),
        }
    }

    /// The pods whose controller has this uid.
    fn owned<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.owned_pods
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|k| self.pods.get(k))
    }

    fn violate(&self, property: &'static str, t: SimTime, message: String) {
        let mut f = self.findings.borrow_mut();
        let same = f
            .violations
            .iter()
            .filter(|v| v.property == property)
            .count();
        if f.violations.len() < MAX_VIOLATIONS && same < 5 {
            f.violations.push(Violation {
                property,
                t,
                message,
            });
        }
    }

    /// node-overcommit: the requests of a node's non-terminal pods fit its allocatable.
    fn check_node(&self, node: &str, t: SimTime) {
        let Some(alloc) = self.nodes.get(node) else {
            return;
        };
        let mut sum = Resources::default();
        let mut count = 0;
        for key in self.node_pods.get(node).into_iter().flatten() {
            if let Some(p) = self.pods.get(key)
                && !p.status.phase.is_terminal()
            {
                sum.add(&pod_requests(&p.spec));
                count += 1;
            }
        }
        if sum.milli_cpu > alloc.milli_cpu || sum.memory > alloc.memory || count > alloc.pods {
            self.violate(
                "node-overcommit",
                t,
                format!(
                    "node {node}: {count} pods request cpu {}m memory {} (allocatable cpu {}m memory {} pods {})",
                    sum.milli_cpu, sum.memory, alloc.milli_cpu, alloc.memory, alloc.pods
                ),
            );
        }
    }

    fn on_pod(&mut self, event: &WatchEvent, pod: &Pod, t: SimTime) {
        let key = ObjectKey::new(
            Kind::Pod,
            pod.metadata.namespace.clone(),
            pod.metadata.name.clone(),
        );
        let deleted = event.type_ == WatchEventType::Deleted;
        let old = self.pods.get(&key).cloned();
        // Indexes.
        if let Some(o) = &old
            && !o.spec.node_name.is_empty()
            && let Some(set) = self.node_pods.get_mut(&o.spec.node_name)
        {
            set.remove(&key);
        }
        if let Some(o) = old.as_ref().and_then(|o| o.metadata.controller_ref())
            && let Some(set) = self.owned_pods.get_mut(&o.uid)
        {
            set.remove(&key);
        }
        if deleted {
            self.pods.remove(&key);
            self.pod_state.remove(&key);
        } else {
            self.pods.insert(key.clone(), pod.clone());
            if let Some(o) = pod.metadata.controller_ref() {
                self.owned_pods
                    .entry(o.uid.clone())
                    .or_default()
                    .insert(key.clone());
            }
            if !pod.spec.node_name.is_empty() {
                self.node_pods
                    .entry(pod.spec.node_name.clone())
                    .or_default()
                    .insert(key.clone());
            }
        }
        // pod-bound-once.
        if !deleted && !pod.spec.node_name.is_empty() {
            match self.bound.get(&pod.metadata.uid) {
                Some(n) if *n != pod.spec.node_name => self.violate(
                    "pod-bound-once",
                    t,
                    format!("pod {key} bound to {n}, then to {}", pod.spec.node_name),
                ),
                Some(_) => {}
                None => {
                    self.bound
                        .insert(pod.metadata.uid.clone(), pod.spec.node_name.clone());
                }
            }
        }
        // node-overcommit, on the nodes the change touched.
        let mut touched = BTreeSet::new();
        if let Some(o) = &old {
            touched.insert(o.spec.node_name.clone());
        }
        touched.insert(pod.spec.node_name.clone());
        touched.remove("");
        for n in &touched {
            self.check_node(n, t);
        }
        // Readiness history (for endpoints).
        let ready_now = !deleted && is_ready(pod) && !pod.metadata.is_terminating();
        let st = self.pod_state.entry(key.clone()).or_default();
        if st.ready_now || ready_now {
            st.last_ready = Some(t);
        }
        st.ready_now = ready_now;
        // replicaset-no-overshoot, at each pod the ReplicaSet controller creates.
        if old.is_none() && !deleted {
            self.check_rs_overshoot(pod, t);
        }
        // pdb-respected, at each eviction of a healthy pod.
        let was_healthy = old
            .as_ref()
            .is_some_and(|o| is_ready(o) && !o.metadata.is_terminating());
        let now_gone = deleted || pod.metadata.is_terminating();
        let evicted = pod
            .status
            .conditions
            .iter()
            .any(|c| c.type_ == "DisruptionTarget" && c.reason == "EvictionByEvictionAPI");
        if was_healthy && now_gone && evicted {
            self.check_pdb(pod, t);
        }
        // rolling-update-bounds: availability.
        self.check_rollout_availability(pod, t);
    }

    fn check_rs_overshoot(&self, pod: &Pod, t: SimTime) {
        let Some(owner) = pod.metadata.controller_ref() else {
            return;
        };
        if owner.kind != "ReplicaSet" {
            return;
        }
        let Some(history) = self.rs_history.get(&owner.uid) else {
            return;
        };
        let from = self.info.stale_from(t);
        let mut limit = i32::MIN;
        for (i, (at, r)) in history.iter().enumerate() {
            // The value in force at `from` counts, as do all later ones.
            let next_at = history.get(i + 1).map(|h| h.0);
            if *at >= from || next_at.is_none_or(|n| n > from) {
                limit = limit.max(*r);
            }
        }
        let active = self.owned(&owner.uid).filter(|p| is_active(p)).count() as i32;
        if limit != i32::MIN && active > limit {
            self.violate(
                "replicaset-no-overshoot",
                t,
                format!(
                    "ReplicaSet {}/{} has {active} active pods after creating {} (spec.replicas at most {limit} in the last {}s)",
                    pod.metadata.namespace,
                    owner.name,
                    pod.metadata.name,
                    t.saturating_since(from).as_secs()
                ),
            );
        }
    }

    fn check_pdb(&self, pod: &Pod, t: SimTime) {
        let app = pod.metadata.labels.get("app").cloned().unwrap_or_default();
        if self.info.churns(&app) || !self.info.quiet(t, |c| *c == FaultClass::Drain) {
            return;
        }
        for pdb in self.pdbs.values() {
            if pdb.metadata.namespace != pod.metadata.namespace {
                continue;
            }
            let Ok(sel) = selector_from_option(pdb.spec.selector.as_ref()) else {
                continue;
            };
            if !sel.matches(&pod.metadata.labels) {
                continue;
            }
            let Some(crate::api::IntOrString::Int(min)) = pdb.spec.min_available else {
                continue;
            };
            let healthy = self
                .pods
                .values()
                .filter(|p| {
                    p.metadata.namespace == pod.metadata.namespace
                        && sel.matches(&p.metadata.labels)
                        && is_ready(p)
                        && !p.metadata.is_terminating()
                })
                .count() as i32;
            if healthy < min {
                self.violate(
                    "pdb-respected",
                    t,
                    format!(
                        "evicting {}/{} left {healthy} healthy pods under PodDisruptionBudget {} (minAvailable {min})",
                        pod.metadata.namespace, pod.metadata.name, pdb.metadata.name
                    ),
                );
            }
        }
    }

    /// The Deployment (uid) a pod belongs to, through its ReplicaSet.
    fn deployment_of_pod(&self, pod: &Pod) -> Option<&Deployment> {
        let rs_uid = &pod.metadata.controller_ref()?.uid;
        let rs = self.replica_sets.get(rs_uid)?;
        let d_uid = &rs.metadata.controller_ref()?.uid;
        self.deployments.get(d_uid)
    }

    fn rollout_judged(&self, d: &Deployment, t: SimTime) -> bool {
        let name = &d.metadata.name;
        !self.info.churns(name)
            && self
                .info
                .quiet(t, |c| matches!(c, FaultClass::Rollout(n) if n == name))
    }

    fn check_rollout_availability(&self, pod: &Pod, t: SimTime) {
        let Some(d) = self.deployment_of_pod(pod) else {
            return;
        };
        let Some(r) = self.rollouts.get(&d.metadata.uid) else {
            return;
        };
        if !r.was_available || !self.rollout_judged(d, t) {
            return;
        }
        let replicas = d.spec.replicas.unwrap_or(1);
        let Some((_, max_unavailable)) = fenceposts(d) else {
            return;
        };
        let ready = self
            .replica_sets
            .values()
            .filter(|rs| {
                rs.metadata
                    .controller_ref()
                    .is_some_and(|o| o.uid == d.metadata.uid)
            })
            .flat_map(|rs| self.owned(&rs.metadata.uid))
            .filter(|p| is_ready(p) && !p.metadata.is_terminating())
            .count() as i32;
        if ready < replicas - max_unavailable {
            self.violate(
                "rolling-update-bounds",
                t,
                format!(
                    "Deployment {}/{} has {ready} ready pods during a rollout (replicas {replicas}, maxUnavailable {max_unavailable})",
                    d.metadata.namespace, d.metadata.name
                ),
            );
        }
    }

    fn check_rollout_surge(&self, d_uid: &str, t: SimTime) {
        let Some(d) = self.deployments.get(d_uid) else {
            return;
        };
        if !self.rollouts.contains_key(d_uid) || !self.rollout_judged(d, t) {
            return;
        }
        let Some((max_surge, _)) = fenceposts(d) else {
            return;
        };
        let replicas = d.spec.replicas.unwrap_or(1);
        let total: i32 = self
            .replica_sets
            .values()
            .filter(|rs| rs.metadata.controller_ref().is_some_and(|o| o.uid == d_uid))
            .map(|rs| rs.spec.replicas.unwrap_or(1))
            .sum();
        if total > replicas + max_surge {
            self.violate(
                "rolling-update-bounds",
                t,
                format!(
                    "Deployment {}/{}'s ReplicaSets want {total} pods during a rollout (replicas {replicas}, maxSurge {max_surge})",
                    d.metadata.namespace, d.metadata.name
                ),
            );
        }
    }

    fn on_deployment(&mut self, d: &Deployment, deleted: bool, t: SimTime) {
        let uid = d.metadata.uid.clone();
        if deleted {
            self.deployments.remove(&uid);
            self.rollouts.remove(&uid);
            return;
        }
        if let Some(old) = self.deployments.get(&uid)
            && old.spec.template != d.spec.template
        {
            let replicas = old.spec.replicas.unwrap_or(1);
            let was_available = old.status.available_replicas >= replicas
                && old.status.updated_replicas == replicas
                && old.status.replicas == replicas
                && old.status.observed_generation >= old.metadata.generation;
            self.rollouts.insert(uid.clone(), Rollout { was_available });
        }
        let replicas = d.spec.replicas.unwrap_or(1);
        if d.status.observed_generation >= d.metadata.generation
            && d.status.updated_replicas == replicas
            && d.status.available_replicas == replicas
            && d.status.replicas == replicas
        {
            self.rollouts.remove(&uid);
        }
        self.deployments.insert(uid, d.clone());
        let _ = t;
    }

    fn on_endpoint_slice(
        &self,
        slice: &crate::api::objects::networking::EndpointSlice,
        t: SimTime,
    ) {
        let from = self.info.stale_from(t);
        for e in &slice.endpoints {
            if e.conditions.ready != Some(true) {
                continue;
            }
            let Some(r) = &e.target_ref else {
                continue;
            };
            let key = ObjectKey::new(Kind::Pod, slice.metadata.namespace.clone(), r.name.clone());
            let ok = self
                .pod_state
                .get(&key)
                .is_some_and(|s| s.ready_now || s.last_ready.is_some_and(|l| l >= from));
            if !ok {
                self.violate(
                    "endpoints-ready-pods",
                    t,
                    format!(
                        "EndpointSlice {}/{} lists pod {} as ready; it was not ready (nor terminating-free) since {}",
                        slice.metadata.namespace,
                        slice.metadata.name,
                        r.name,
                        crate::runtime::output::format_seconds(from)
                    ),
                );
            }
        }
    }

    /// The convergence checks, on live reads at `T + bound`.
    fn converge(&self, ctx: &Context<'_>) {
        let t = ctx.now();
        let info = &self.info;
        let bad = |what: String| self.violate("convergence", t, what);
        let mut ready_nodes = BTreeSet::new();
        for n in ctx.list(Kind::Node) {
            if let Object::Node(n) = &*n {
                let ready = n.status.conditions.iter().any(|c| {
                    c.type_ == "Ready" && c.status == crate::api::meta::ConditionStatus::True
                });
                if ready {
                    ready_nodes.insert(n.metadata.name.clone());
                } else {
                    bad(format!(
                        "node {} is not Ready after every fault healed",
                        n.metadata.name
                    ));
                }
            }
        }
        let pods: Vec<Arc<Object>> = ctx.list(Kind::Pod);
        let pods: Vec<&Pod> = pods
            .iter()
            .filter_map(|o| match &**o {
                Object::Pod(p) => Some(p),
                _ => None,
            })
            .collect();
        for p in &pods {
            if p.status.phase.is_terminal() {
                continue;
            }
            if !p.spec.node_name.is_empty() && !ready_nodes.contains(&p.spec.node_name) {
                bad(format!(
                    "pod {}/{} is bound to node {}, which is not Ready",
                    p.metadata.namespace, p.metadata.name, p.spec.node_name
                ));
            }
            if info.fits
                && !info.churns(p.metadata.labels.get("app").map_or("", String::as_str))
                && p.status.phase == crate::api::objects::PodPhase::Pending
            {
                bad(format!(
                    "pod {}/{} is still Pending (node {:?}) though capacity allows",
                    p.metadata.namespace, p.metadata.name, p.spec.node_name
                ));
            }
        }
        for o in ctx.list(Kind::Service) {
            let Object::Service(s) = &*o else { continue };
            if info.churns(&s.metadata.name) {
                continue;
            }
            let sel = &s.spec.selector;
            let want: BTreeSet<String> = pods
                .iter()
                .filter(|p| {
                    p.metadata.namespace == s.metadata.namespace
                        && !sel.is_empty()
                        && sel.iter().all(|(k, v)| p.metadata.labels.get(k) == Some(v))
                        && is_ready(p)
                        && !p.metadata.is_terminating()
                })
                .map(|p| p.metadata.name.clone())
                .collect();
            let mut got = BTreeSet::new();
            for o in ctx.list(Kind::EndpointSlice) {
                let Object::EndpointSlice(es) = &*o else {
                    continue;
                };
                if es.metadata.namespace != s.metadata.namespace
                    || es
                        .metadata
                        .labels
                        .get(crate::controllers::endpointslice::LABEL_SERVICE_NAME)
                        != Some(&s.metadata.name)
                {
                    continue;
                }
                for e in &es.endpoints {
                    if e.conditions.ready == Some(true)
                        && let Some(r) = &e.target_ref
                    {
                        got.insert(r.name.clone());
                    }
                }
            }
            if got != want {
                bad(format!(
                    "Service {}/{}: ready endpoints {got:?}, ready pods {want:?}",
                    s.metadata.namespace, s.metadata.name
                ));
            }
        }
        if !info.fits {
            return;
        }
        for o in ctx.list(Kind::Deployment) {
            let Object::Deployment(d) = &*o else { continue };
            if info.churns(&d.metadata.name) {
                continue;
            }
            let r = d.spec.replicas.unwrap_or(1);
            let s = &d.status;
            if s.observed_generation < d.metadata.generation
                || s.replicas != r
                || s.updated_replicas != r
                || s.available_replicas != r
            {
                bad(format!(
                    "Deployment {}: replicas {r}, status replicas {} updated {} available {} (observed generation {} of {})",
                    d.metadata.name,
                    s.replicas,
                    s.updated_replicas,
                    s.available_replicas,
                    s.observed_generation,
                    d.metadata.generation
                ));
            }
        }
        for o in ctx.list(Kind::StatefulSet) {
            let Object::StatefulSet(ss) = &*o else {
                continue;
            };
            let r = ss.spec.replicas.unwrap_or(1);
            if ss.status.replicas != r || ss.status.ready_replicas != r {
                bad(format!(
                    "StatefulSet {}: replicas {r}, status replicas {} ready {}",
                    ss.metadata.name, ss.status.replicas, ss.status.ready_replicas
                ));
            }
        }
        for o in ctx.list(Kind::DaemonSet) {
            let Object::DaemonSet(ds) = &*o else { continue };
            let s = &ds.status;
            if s.number_misscheduled != 0
                || s.current_number_scheduled != s.desired_number_scheduled
                || s.number_ready != s.desired_number_scheduled
                || s.desired_number_scheduled == 0
            {
                bad(format!(
                    "DaemonSet {}: desired {} scheduled {} ready {} misscheduled {}",
                    ds.metadata.name,
                    s.desired_number_scheduled,
                    s.current_number_scheduled,
                    s.number_ready,
                    s.number_misscheduled
                ));
            }
        }
        for o in ctx.list(Kind::Job) {
            let Object::Job(j) = &*o else { continue };
            let finished = j.status.conditions.iter().any(|c| {
                (c.type_ == "Complete" || c.type_ == "Failed")
                    && c.status == crate::api::meta::ConditionStatus::True
            });
            if !finished {
                bad(format!(
                    "Job {} has not finished: active {} succeeded {} failed {}",
                    j.metadata.name, j.status.active, j.status.succeeded, j.status.failed
                ));
            }
        }
    }
}

/// `(maxSurge, maxUnavailable)` resolved against the Deployment's replicas.
fn fenceposts(d: &Deployment) -> Option<(i32, i32)> {
    let ru = d.spec.strategy.rolling_update.as_ref()?;
    crate::controllers::deployment::util::resolve_fenceposts(
        ru.max_surge.as_ref(),
        ru.max_unavailable.as_ref(),
        d.spec.replicas.unwrap_or(1),
    )
    .ok()
}

/// The observer's only timer: the convergence checks.
const TOKEN_CONVERGE: u64 = 1;

impl Component for Observer {
    fn name(&self) -> String {
        "fuzz-observer".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![WatchFilter::kinds(&[
            Kind::Node,
            Kind::Pod,
            Kind::ReplicaSet,
            Kind::Deployment,
            Kind::StatefulSet,
            Kind::DaemonSet,
            Kind::Job,
            Kind::Service,
            Kind::EndpointSlice,
            Kind::PodDisruptionBudget,
        ])]
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let delay = self.info.converge_at.saturating_since(ctx.now());
        ctx.set_timer(delay, TOKEN_CONVERGE);
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        if token == TOKEN_CONVERGE {
            self.converge(ctx);
            self.findings.borrow_mut().converged_checked = true;
        }
    }

    fn on_watch(&mut self, _watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        let t = ctx.now();
        let deleted = event.type_ == WatchEventType::Deleted;
        if t > self.info.converge_at {
            let mut f = self.findings.borrow_mut();
            // Bounded: a quiescent run has none; a noisy one is cut off.
            if f.late_changes.len() < 1000 {
                f.late_changes
                    .push((t, ObjectKey::of(&event.object).to_string()));
            }
        }
        if self.findings.borrow().violations.len() >= MAX_VIOLATIONS {
            // Enough to report; keep the rest of the run cheap.
            return;
        }
        match &*event.object {
            Object::Pod(p) => self.on_pod(event, p, t),
            Object::Node(n) => {
                if deleted {
                    self.nodes.remove(&n.metadata.name);
                } else {
                    self.nodes.insert(
                        n.metadata.name.clone(),
                        Resources::from_list(&n.status.allocatable),
                    );
                }
            }
            Object::ReplicaSet(rs) => {
                let uid = rs.metadata.uid.clone();
                if deleted {
                    self.replica_sets.remove(&uid);
                    return;
                }
                let r = rs.spec.replicas.unwrap_or(1);
                let h = self.rs_history.entry(uid.clone()).or_default();
                if h.last().is_none_or(|l| l.1 != r) {
                    h.push((t, r));
                }
                self.replica_sets.insert(uid, rs.clone());
                if let Some(d) = rs.metadata.controller_ref() {
                    let d = d.uid.clone();
                    self.check_rollout_surge(&d, t);
                }
            }
            Object::Deployment(d) => self.on_deployment(d, deleted, t),
            Object::EndpointSlice(es) if !deleted => self.on_endpoint_slice(es, t),
            Object::PodDisruptionBudget(pdb) => {
                let key = ObjectKey::of(&event.object);
                if deleted {
                    self.pdbs.remove(&key);
                } else {
                    self.pdbs.insert(key, pdb.clone());
                }
            }
            _ => {}
        }
    }
}
