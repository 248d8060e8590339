//! The DaemonSet controller (component `daemonset-controller`), after
//! `pkg/controller/daemon/daemon_controller.go`, `update.go` and `util/daemonset_util.go`.
//!
//! - Watches DaemonSets, Nodes and Pods; events enqueue the DaemonSets concerned (a node
//!   update only those whose verdict for the node changed, as `updateNode`); a zero-delay
//!   timer drains the [`WorkQueue`], one sync per key.
//! - Eligibility is upstream's `NodeShouldRunDaemonPod`: the template's `nodeName` (if set),
//!   `nodeSelector` and required node affinity must match the node, and its taints with
//!   effect NoSchedule or NoExecute must be tolerated by the template's tolerations plus the
//!   DaemonSet defaults ([`add_daemon_tolerations`]). An untolerated NoSchedule taint stops new
//!   pods but lets a running one continue; an untolerated NoExecute taint removes it.
//! - A sync claims the pods (adoption and release as the ReplicaSet controller), groups them by
//!   target node (`spec.nodeName`, else the node named in the pod's required node affinity),
//!   and, when its expectations are satisfied, runs `manage`: a pod is created on every
//!   eligible node without one (generateName `<ds>-`, pinned with the required node affinity
//!   `metadata.name In [node]` so that the scheduler binds it); failed pods are deleted with a
//!   per-(DaemonSet, node) back-off of 1 s doubling to 15 min (`FailedDaemonPod` Warning
//!   events; while in back-off the DaemonSet is requeued after the back-off); of several
//!   running pods on one node the oldest is kept; pods on nodes that must not run them are
//!   deleted. At most [`BURST_REPLICAS`] creates and deletes per sync; creates in slow-start
//!   batches 1, 2, 4, ….
//! - Then, if nothing was issued and the strategy is RollingUpdate, `rollingUpdate`. With
//!   `maxSurge` 0: old pods that are unavailable are deleted at once, and further old pods
//!   only while fewer than `maxUnavailable` (int or percent of the desired count, rounded up;
//!   both 0 is taken as maxUnavailable 1) pods are unavailable. With `maxSurge` > 0: a new pod
//!   is created beside each old one that is unavailable, and beside up to `maxSurge` available
//!   old ones at a time; an old pod is deleted once the new pod on its node is available
//!   (`manage` then keeps at most one old and one new pod per node). OnDelete does nothing:
//!   deleted pods come back at the new revision.
//! - Revisions: a pod is up to date when its `controller-revision-hash` label equals the hash
//!   of the current template ([`super::history::template_hash`]) or its
//!   `pod-template-generation` label equals the DaemonSet's generation (upstream
//!   `IsPodUpdated`).
//! - Status as `updateDaemonSetStatus`: desired, current, misscheduled, ready, available,
//!   unavailable, updated, observedGeneration; a pod ready but not yet available requeues the
//!   set for when it becomes available.
//!
//! Simplifications (also in docs/semantics.md): no ControllerRevision objects (the hash is
//! computed from the template; history and `revisionHistoryLimit` are not kept); bound
//! daemon pods whose node no longer exists are deleted
//! by this controller at its next sync (upstream the pod garbage collector does that, after
//! a 20 s quarantine); no periodic resync; status updates are not retried.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::meta::OwnerReference;
use crate::api::objects::node::Node;
use crate::api::objects::pod::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorOperator, NodeSelectorRequirement,
    NodeSelectorTerm, Pod, PodSpec, TaintEffect, Toleration, TolerationOperator,
};
use crate::api::objects::workloads::{DaemonSet, DaemonSetStatus, UpdateStrategyType};
use crate::api::objects::{Kind, Object, ObjectKey, PodTemplateSpec};
use crate::api::scheduling::{first_untolerated, required_node_affinity_matches};
use crate::api::selector::{Selector, selector_from_option};
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::kubelet::backoff::{Backoff, BackoffCurve};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::SimDuration;

use super::history::{CONTROLLER_REVISION_HASH_LABEL, template_hash};
use super::pods::{
    Expectations, availability, claim_pods, controller_ref, create_pod, is_ready,
    pod_from_template, slow_start_batch,
};
use super::workqueue::WorkQueue;

/// Upstream `BurstReplicas` for DaemonSets: the most creates or deletes in one sync.
pub const BURST_REPLICAS: usize = 250;
/// The failed-pod back-off: `flowcontrol.NewBackOff(1s, 15m)` (entries expire after 2 × max).
pub const FAILED_POD_BACKOFF: BackoffCurve = BackoffCurve {
    initial: SimDuration::from_secs(1),
    max: SimDuration::from_secs(15 * 60),
    reset_after: SimDuration::from_secs(30 * 60),
};
/// The deprecated label upstream still stamps on daemon pods.
pub const POD_TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

const WATCH_SETS: usize = 0;
const WATCH_NODES: usize = 1;
const WATCH_PODS: usize = 2;

/// Taint keys of the DaemonSet default tolerations (`pkg/apis/core` well-known taints).
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

fn exists_toleration(key: &str, effect: TaintEffect) -> Toleration {
    Toleration {
        key: key.to_string(),
        operator: Some(TolerationOperator::Exists),
        value: String::new(),
        effect: Some(effect),
        toleration_seconds: None,
    }
}

/// Upstream `AddOrUpdateTolerationInPodSpec`: a toleration with the same key, operator,
/// value and effect is replaced, otherwise the toleration is appended.
fn add_or_update_toleration(spec: &mut PodSpec, tol: Toleration) {
    let same = |t: &Toleration| {
        t.key == tol.key
            && t.operator.unwrap_or(TolerationOperator::Equal)
                == tol.operator.unwrap_or(TolerationOperator::Equal)
            && t.value == tol.value
            && t.effect == tol.effect
    };
    match spec.tolerations.iter_mut().find(|t| same(t)) {
        Some(t) => *t = tol,
        None => spec.tolerations.push(tol),
    }
}

/// Upstream `util.AddOrUpdateDaemonPodTolerations`: not-ready and unreachable (NoExecute,
/// without tolerationSeconds, so daemon pods are never evicted for them), disk-pressure,
/// memory-pressure, pid-pressure and unschedulable (NoSchedule), and network-unavailable
/// (NoSchedule) for host-network pods.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    for (key, effect) in [
        (TAINT_NOT_READY, TaintEffect::NoExecute),
        (TAINT_UNREACHABLE, TaintEffect::NoExecute),
        (TAINT_DISK_PRESSURE, TaintEffect::NoSchedule),
        (TAINT_MEMORY_PRESSURE, TaintEffect::NoSchedule),
        (TAINT_PID_PRESSURE, TaintEffect::NoSchedule),
        (TAINT_UNSCHEDULABLE, TaintEffect::NoSchedule),
    ] {
        add_or_update_toleration(spec, exists_toleration(key, effect));
    }
    if spec.host_network {
        add_or_update_toleration(
            spec,
            exists_toleration(TAINT_NETWORK_UNAVAILABLE, TaintEffect::NoSchedule),
        );
    }
}

/// Upstream `ReplaceDaemonSetPodNodeNameNodeAffinity`: the pod's required node affinity
/// becomes the single term `metadata.name In [node]` (other required terms are dropped: the
/// controller has already checked them); preferred terms and pod (anti-)affinity are kept.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: Vec::new(),
            match_fields: vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: NodeSelectorOperator::In,
                values: vec![node.to_string()],
            }],
        }],
    };
    let mut a = affinity.unwrap_or_default();
    let na = a.node_affinity.get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(selector);
    a
}

/// Upstream `GetTargetNodeName`: `spec.nodeName`, else the single node named by a
/// `metadata.name In [node]` field requirement of the required node affinity.
pub fn target_node(pod: &Pod) -> Option<&str> {
    if !pod.spec.node_name.is_empty() {
        return Some(&pod.spec.node_name);
    }
    let terms = &crate::api::scheduling::required_node_selector(pod)?.node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields.iter().find_map(|r| {
            (r.key == "metadata.name"
                && r.operator == NodeSelectorOperator::In
                && r.values.len() == 1)
                .then(|| r.values[0].as_str())
        })
    })
}

/// The pod whose fit `NodeShouldRunDaemonPod` checks: the template with the DaemonSet
/// default tolerations (upstream `NewPod`). Built once per sync, checked against every node.
pub fn eligibility_pod(template: &PodTemplateSpec) -> Pod {
    let mut pod = Pod {
        metadata: template.metadata.clone(),
        spec: template.spec.clone(),
        status: Default::default(),
    };
    add_daemon_tolerations(&mut pod.spec);
    pod
}

/// Upstream `NodeShouldRunDaemonPod` for a pod from [`eligibility_pod`]:
/// `(should_run, should_continue_running)`.
pub fn should_run_on(pod: &Pod, node: &Node) -> (bool, bool) {
    if !pod.spec.node_name.is_empty() && pod.spec.node_name != node.metadata.name {
        return (false, false);
    }
    if !required_node_affinity_matches(pod, node) {
        return (false, false);
    }
    let taints = &node.spec.taints;
    if first_untolerated(
        taints,
        &pod.spec.tolerations,
        &[TaintEffect::NoSchedule, TaintEffect::NoExecute],
    )
    .is_some()
    {
        let keeps =
            first_untolerated(taints, &pod.spec.tolerations, &[TaintEffect::NoExecute]).is_none();
        return (false, keeps);
    }
    (true, true)
}

/// Upstream `NodeShouldRunDaemonPod(node, ds)`.
pub fn node_should_run(node: &Node, template: &PodTemplateSpec) -> (bool, bool) {
    should_run_on(&eligibility_pod(template), node)
}

/// The pod upstream's `syncNodes` creates for `node`: the template with the default
/// tolerations, the revision labels, and the node pin.
pub fn daemon_pod(ds: &DaemonSet, hash: &str, node: &str, owner: OwnerReference) -> Pod {
    let mut template = ds.spec.template.clone();
    add_daemon_tolerations(&mut template.spec);
    template.metadata.labels.insert(
        POD_TEMPLATE_GENERATION_LABEL.into(),
        ds.metadata.generation.to_string(),
    );
    template
        .metadata
        .labels
        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), hash.to_string());
    template.spec.affinity = Some(pin_to_node(template.spec.affinity.take(), node));
    let generate_name = format!("{}-", ds.metadata.name);
    pod_from_template(&template, &ds.metadata.namespace, "", &generate_name, owner)
}

/// Upstream `IsPodUpdated`.
fn is_updated(pod: &Pod, hash: &str, generation: i64) -> bool {
    let labels = &pod.metadata.labels;
    labels.get(POD_TEMPLATE_GENERATION_LABEL) == Some(&generation.to_string())
        || labels
            .get(CONTROLLER_REVISION_HASH_LABEL)
            .map(String::as_str)
            == Some(hash)
}

/// Upstream `allowSurge`: RollingUpdate with a non-zero `maxSurge`.
fn allow_surge(ds: &DaemonSet) -> bool {
    ds.spec.update_strategy.type_ == UpdateStrategyType::RollingUpdate
        && ds
            .spec
            .update_strategy
            .rolling_update
            .as_ref()
            .and_then(|r| r.max_surge.as_ref())
            .is_some_and(|v| v.scaled_value(1, true).unwrap_or(0) != 0)
}

/// A node's live `(new, old)` daemon pod, each optional.
type NewAndOld<'a> = (Option<&'a Arc<Object>>, Option<&'a Arc<Object>>);

/// Upstream `findUpdatedPodsOnNode`: the node's live new and old pod, or `None` when there
/// are several of either.
fn find_updated<'a>(pods: &'a [Arc<Object>], hash: &str, generation: i64) -> Option<NewAndOld<'a>> {
    let mut new_pod = None;
    let mut old_pod = None;
    for o in pods {
        let Some(p) = as_pod(o) else { continue };
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let slot = if is_updated(p, hash, generation) {
            &mut new_pod
        } else {
            &mut old_pod
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(o);
    }
    Some((new_pod, old_pod))
}

/// Upstream `podByCreationTimestampAndPhase`: bound pods first, then oldest, then by name.
fn sort_by_creation(pods: &mut [Arc<Object>]) {
    pods.sort_by(|a, b| {
        let (Object::Pod(a), Object::Pod(b)) = (&**a, &**b) else {
            return std::cmp::Ordering::Equal;
        };
        a.spec
            .node_name
            .is_empty()
            .cmp(&b.spec.node_name.is_empty())
            .then(
                a.metadata
                    .creation_timestamp
                    .0
                    .cmp(&b.metadata.creation_timestamp.0),
            )
            .then(a.metadata.name.cmp(&b.metadata.name))
    });
}

fn as_pod(o: &Object) -> Option<&Pod> {
    match o {
        Object::Pod(p) => Some(p),
        _ => None,
    }
}

fn as_ds(o: &Object) -> Option<&DaemonSet> {
    match o {
        Object::DaemonSet(d) => Some(d),
        _ => None,
    }
}

/// One sync's view of where the DaemonSet's pods are and where they should be.
struct Placement {
    /// Claimed pods by target node, bound pods first, then oldest.
    by_node: BTreeMap<String, Vec<Arc<Object>>>,
    /// `(should_run, should_continue_running)` per known node, computed once per sync.
    verdicts: BTreeMap<String, (bool, bool)>,
}

/// The component.
pub struct DaemonSetController {
    sets: BTreeMap<ObjectKey, Arc<Object>>,
    nodes: BTreeMap<String, Arc<Object>>,
    pods: super::pod_index::PodIndex,
    queue: WorkQueue<ObjectKey>,
    expectations: BTreeMap<ObjectKey, Expectations>,
    failed_backoff: Backoff<(ObjectKey, String)>,
}

impl Default for DaemonSetController {
    fn default() -> Self {
        DaemonSetController {
            sets: BTreeMap::new(),
            nodes: BTreeMap::new(),
            pods: Default::default(),
            queue: WorkQueue::new(),
            expectations: BTreeMap::new(),
            failed_backoff: Backoff::new(FAILED_POD_BACKOFF),
        }
    }
}

fn selector_of(ds: &DaemonSet) -> Selector {
    // A selector that does not parse selects nothing.
    selector_from_option(ds.spec.selector.as_ref()).unwrap_or_else(|_| Selector::nothing())
}

impl DaemonSetController {
    pub fn new() -> Self {
        Self::default()
    }

    /// The DaemonSet owning `pod` (controllerRef), if it is one we know.
    fn owner_of(&self, pod: &Pod) -> Option<ObjectKey> {
        super::pods::owner_key(&self.sets, pod, Kind::DaemonSet)
    }

    fn on_set(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        if event.type_ == WatchEventType::Deleted {
            self.sets.remove(&key);
            self.expectations.remove(&key);
            self.failed_backoff.forget(|(k, _)| *k == key);
        } else {
            self.sets.insert(key.clone(), event.object.clone());
            self.queue.add(key, ctx);
        }
    }

    fn on_node(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Node(node) = &*event.object else {
            return;
        };
        let name = node.metadata.name.clone();
        let old = event.old.as_deref().and_then(|o| match o {
            Object::Node(n) => Some(n),
            _ => None,
        });
        let concerned: Vec<ObjectKey> = self
            .sets
            .iter()
            .filter(|(_, o)| {
                let Some(ds) = as_ds(o) else { return false };
                match event.type_ {
                    WatchEventType::Added => node_should_run(node, &ds.spec.template).0,
                    // Upstream `updateNode`: only when the node's verdict changed.
                    WatchEventType::Modified => old.is_none_or(|old| {
                        node_should_run(old, &ds.spec.template)
                            != node_should_run(node, &ds.spec.template)
                    }),
                    // Pods left on a deleted node are garbage (see the module doc).
                    WatchEventType::Deleted => true,
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        if event.type_ == WatchEventType::Deleted {
            self.nodes.remove(&name);
        } else {
            self.nodes.insert(name, event.object.clone());
        }
        for k in concerned {
            self.queue.add(k, ctx);
        }
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Some(pod) = as_pod(&event.object) else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        let old = event.old.as_deref().and_then(as_pod);
        let owner = self.owner_of(pod);
        match event.type_ {
            WatchEventType::Added => {
                if let Some(e) = owner.as_ref().and_then(|o| self.expectations.get_mut(o)) {
                    e.add -= 1;
                    if pod.metadata.deletion_timestamp.is_some() {
                        e.del.remove(&pod.metadata.uid);
                    }
                }
                self.pods.insert(key, event.object.clone());
            }
            WatchEventType::Modified => {
                let was_deleting = old.is_some_and(|p| p.metadata.deletion_timestamp.is_some());
                if pod.metadata.deletion_timestamp.is_some()
                    && !was_deleting
                    && let Some(e) = owner.as_ref().and_then(|o| self.expectations.get_mut(o))
                {
                    e.del.remove(&pod.metadata.uid);
                }
                if let Some(old) = old
                    && old.metadata.controller_ref() != pod.metadata.controller_ref()
                    && let Some(prev) = self.owner_of(old)
                {
                    self.queue.add(prev, ctx);
                }
                self.pods.insert(key, event.object.clone());
            }
            WatchEventType::Deleted => {
                if let Some(e) = owner.as_ref().and_then(|o| self.expectations.get_mut(o)) {
                    e.del.remove(&pod.metadata.uid);
                }
                self.pods.remove(&key);
            }
        }
        match owner {
            Some(o) => self.queue.add(o, ctx),
            None if event.type_ != WatchEventType::Deleted => {
                let matching = super::pods::owners_selecting(&self.sets, pod, |o, p| {
                    as_ds(o).is_some_and(|ds| selector_of(ds).matches(&p.metadata.labels))
                });
                for k in matching {
                    self.queue.add(k, ctx);
                }
            }
            None => {}
        }
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(obj) = self.sets.get(key).cloned() else {
            self.expectations.remove(key);
            return;
        };
        let Some(ds) = as_ds(&obj) else { return };
        let now = ctx.now();
        let ds_ref = format!("DaemonSet/{}/{}", key.namespace, key.name);
        let deleting = ds.metadata.deletion_timestamp.is_some();
        let owner = controller_ref("apps/v1", "DaemonSet", &obj);
        let selector = selector_of(ds);
        let candidates = self.pods.claim_candidates(&key.namespace, &owner.uid);
        let owned = claim_pods(ctx, candidates, &selector, &owner, deleting, |_| true);
        let hash = template_hash(&ds.spec.template, ds.status.collision_count);

        // Pods by target node; pods both terminal and being deleted are done with.
        let mut by_node: BTreeMap<String, Vec<Arc<Object>>> = BTreeMap::new();
        for o in &owned {
            let Some(p) = as_pod(o) else { continue };
            if p.status.phase.is_terminal() && p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(n) = target_node(p) {
                by_node.entry(n.to_string()).or_default().push(o.clone());
            }
        }
        for pods in by_node.values_mut() {
            sort_by_creation(pods);
        }
        let probe = eligibility_pod(&ds.spec.template);
        let verdicts = self
            .nodes
            .iter()
            .filter_map(|(name, n)| match &**n {
                Object::Node(node) => Some((name.clone(), should_run_on(&probe, node))),
                _ => None,
            })
            .collect();
        let placement = Placement { by_node, verdicts };

        let satisfied = |me: &Self| me.expectations.get(key).is_none_or(|e| e.satisfied(now));
        if satisfied(self) && !deleting {
            self.manage(key, ds, &owner, &placement, &hash, &ds_ref, ctx);
            if satisfied(self) && ds.spec.update_strategy.type_ == UpdateStrategyType::RollingUpdate
            {
                self.rolling_update(key, ds, &owner, &placement, &hash, &ds_ref, ctx);
            }
        }
        self.update_status(key, ds, &placement, &hash, ctx);
    }

    /// Upstream `manage` + `podsShouldBeOnNode` + `syncNodes`.
    #[allow(clippy::too_many_arguments)]
    fn manage(
        &mut self,
        key: &ObjectKey,
        ds: &DaemonSet,
        owner: &OwnerReference,
        placement: &Placement,
        hash: &str,
        ds_ref: &str,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        let mut needing: Vec<String> = Vec::new();
        let mut to_delete: Vec<Arc<Object>> = Vec::new();
        let by_node = &placement.by_node;
        let surge = allow_surge(ds);
        for (node_name, &(should_run, should_continue)) in &placement.verdicts {
            let pods = by_node.get(node_name);
            match pods {
                None if should_run => needing.push(node_name.clone()),
                Some(pods) if should_continue => {
                    let mut running = Vec::new();
                    for o in pods {
                        let Some(p) = as_pod(o) else { continue };
                        if p.metadata.deletion_timestamp.is_some() {
                            continue;
                        }
                        if p.status.phase == crate::api::objects::PodPhase::Failed {
                            let bkey = (key.clone(), node_name.clone());
                            if self.failed_backoff.in_backoff_since_update(&bkey, now) {
                                let delay = self
                                    .failed_backoff
                                    .current(&bkey, now)
                                    .unwrap_or(FAILED_POD_BACKOFF.initial);
                                self.queue.add_after(key.clone(), delay, ctx);
                                continue;
                            }
                            self.failed_backoff.next(bkey, now, now);
                            ctx.record(EventRecord::new(
                                now,
                                EventType::Warning,
                                "FailedDaemonPod",
                                ds_ref.to_string(),
                                format!(
                                    "Found failed daemon pod {}/{} on node {}, will try to kill it",
                                    p.metadata.namespace, p.metadata.name, node_name
                                ),
                            ));
                            to_delete.push(o.clone());
                        } else {
                            running.push(o.clone());
                        }
                    }
                    if !surge {
                        // Several running pods on one node: keep the oldest (already sorted).
                        to_delete.extend(running.into_iter().skip(1));
                    } else if running.len() > 1 {
                        // With surge, an old and a new pod may share a node while the new
                        // one is not yet available: keep the oldest of each, and drop the
                        // old one once it is not ready or the new one is available.
                        let mut oldest_new: Option<&Pod> = None;
                        let mut oldest_old: Option<(&Pod, &Arc<Object>)> = None;
                        for o in &running {
                            let Some(p) = as_pod(o) else { continue };
                            let is_new = p.metadata.labels.get(CONTROLLER_REVISION_HASH_LABEL)
                                == Some(&hash.to_string());
                            if is_new && oldest_new.is_none() {
                                oldest_new = Some(p);
                            } else if !is_new && oldest_old.is_none() {
                                oldest_old = Some((p, o));
                            } else {
                                to_delete.push(o.clone());
                            }
                        }
                        if let (Some(n), Some((old, o))) = (oldest_new, oldest_old)
                            && (!is_ready(old)
                                || availability(n, ds.spec.min_ready_seconds, now) == Ok(true))
                        {
                            to_delete.push(o.clone());
                        }
                    }
                }
                Some(pods) if !should_continue => {
                    to_delete.extend(
                        pods.iter()
                            .filter(|o| {
                                as_pod(o).is_some_and(|p| p.metadata.deletion_timestamp.is_none())
                            })
                            .cloned(),
                    );
                }
                _ => {}
            }
        }
        // Bound pods left on nodes that no longer exist (pod GC's job upstream), confirmed
        // with a live read of the node.
        for (node, pods) in by_node {
            if self.nodes.contains_key(node)
                || ctx
                    .get(&ObjectKey::new(Kind::Node, "", node.clone()))
                    .is_some()
            {
                continue;
            }
            to_delete.extend(
                pods.iter()
                    .filter(|o| {
                        as_pod(o).is_some_and(|p| {
                            !p.spec.node_name.is_empty() && p.metadata.deletion_timestamp.is_none()
                        })
                    })
                    .cloned(),
            );
        }
        self.sync_nodes(key, ds, owner, to_delete, needing, hash, ds_ref, ctx);
    }

    /// Upstream `syncNodes`: deletes `to_delete` and creates a pod on every node of `needing`,
    /// both capped at [`BURST_REPLICAS`], with expectations set first.
    #[allow(clippy::too_many_arguments)]
    fn sync_nodes(
        &mut self,
        key: &ObjectKey,
        ds: &DaemonSet,
        owner: &OwnerReference,
        mut to_delete: Vec<Arc<Object>>,
        mut needing: Vec<String>,
        hash: &str,
        ds_ref: &str,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        needing.truncate(BURST_REPLICAS);
        to_delete.truncate(BURST_REPLICAS);
        let e = self.expectations.entry(key.clone()).or_default();
        e.add = needing.len() as i64;
        e.del = to_delete
            .iter()
            .filter_map(|o| as_pod(o).map(|p| p.metadata.uid.clone()))
            .collect();
        e.set_at = now;
        if !needing.is_empty() {
            let n = needing.len();
            let created = slow_start_batch(n, |i| {
                let pod = daemon_pod(ds, hash, &needing[i], owner.clone());
                create_pod(ctx, pod, ds_ref).map(|_| ())
            });
            if let Some(e) = self.expectations.get_mut(key) {
                e.add -= (n - created) as i64;
            }
            if created < n {
                self.queue.add_rate_limited(key.clone(), ctx);
            } else {
                self.queue.forget(key);
            }
        }
        for o in to_delete {
            let Some(p) = as_pod(&o) else { continue };
            let pk = ObjectKey::new(
                Kind::Pod,
                p.metadata.namespace.clone(),
                p.metadata.name.clone(),
            );
            let opts = DeleteOptions {
                precondition_uid: Some(p.metadata.uid.clone()),
                ..DeleteOptions::default()
            };
            match ctx.delete(&pk, &opts) {
                Ok(_) => ctx.record(EventRecord::new(
                    now,
                    EventType::Normal,
                    "SuccessfulDelete",
                    ds_ref.to_string(),
                    format!("Deleted pod: {}", p.metadata.name),
                )),
                Err(err) => {
                    if let Some(e) = self.expectations.get_mut(key) {
                        e.del.remove(&p.metadata.uid);
                    }
                    ctx.record(EventRecord::new(
                        now,
                        EventType::Warning,
                        "FailedDelete",
                        ds_ref.to_string(),
                        format!("Error deleting: {err}"),
                    ));
                }
            }
        }
    }

    /// Upstream `rollingUpdate` with `maxSurge` 0.
    #[allow(clippy::too_many_arguments)]
    fn rolling_update(
        &mut self,
        key: &ObjectKey,
        ds: &DaemonSet,
        owner: &OwnerReference,
        placement: &Placement,
        hash: &str,
        ds_ref: &str,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        // updatedDesiredNodeCounts: every desired node is a slot, with or without pods.
        let mut slots: BTreeMap<String, Vec<Arc<Object>>> = placement.by_node.clone();
        let mut desired = 0i32;
        for (node_name, &(should_run, _)) in &placement.verdicts {
            if should_run {
                desired += 1;
                slots.entry(node_name.clone()).or_default();
            }
        }
        let ru = ds.spec.update_strategy.rolling_update.as_ref();
        let max_surge = ru
            .and_then(|r| r.max_surge.as_ref())
            .map_or(0, |v| v.scaled_value(desired, true).unwrap_or(0));
        let mut max_unavailable = ru
            .and_then(|r| r.max_unavailable.as_ref())
            .map_or(1, |v| v.scaled_value(desired, true).unwrap_or(1));
        // An impossible configuration (both 0) falls back to maxUnavailable 1.
        if desired > 0 && max_unavailable == 0 && max_surge == 0 {
            max_unavailable = 1;
        }
        let generation = ds.metadata.generation;
        let min_ready = ds.spec.min_ready_seconds;
        let available = |o: &Arc<Object>| {
            as_pod(o).is_some_and(|p| availability(p, min_ready, now) == Ok(true))
        };
        let (to_delete, to_create) = if max_surge == 0 {
            let mut unavailable = 0i32;
            let mut replace_now: Vec<Arc<Object>> = Vec::new();
            let mut candidates: Vec<Arc<Object>> = Vec::new();
            for pods in slots.values() {
                let Some((new_pod, old_pod)) = find_updated(pods, hash, generation) else {
                    // Several new or several old pods: manage cleans up; unavailable meanwhile.
                    unavailable += 1;
                    continue;
                };
                match (new_pod, old_pod) {
                    (None, None) | (Some(_), Some(_)) => unavailable += 1,
                    (Some(n), None) => {
                        if !available(n) {
                            unavailable += 1;
                        }
                    }
                    (None, Some(o)) => {
                        if !available(o) {
                            replace_now.push(o.clone());
                            unavailable += 1;
                        } else if unavailable < max_unavailable {
                            candidates.push(o.clone());
                        }
                    }
                }
            }
            let room = (max_unavailable - unavailable).max(0) as usize;
            candidates.truncate(room);
            replace_now.extend(candidates);
            (replace_now, Vec::new())
        } else {
            // Surge: a new pod is created beside an old one (at once where the old one is
            // unavailable, else up to maxSurge at a time); the old one is deleted once the
            // new one is available.
            let mut old_to_delete: Vec<Arc<Object>> = Vec::new();
            let mut should_not_run: Vec<Arc<Object>> = Vec::new();
            let mut candidate_nodes: Vec<String> = Vec::new();
            let mut allowed_nodes: Vec<String> = Vec::new();
            let mut num_surge = 0i32;
            let mut num_available = 0i32;
            for (node, pods) in &slots {
                let Some((new_pod, old_pod)) = find_updated(pods, hash, generation) else {
                    num_surge += 1;
                    continue;
                };
                if let Some(p) = old_pod.or(new_pod)
                    && available(p)
                {
                    num_available += 1;
                }
                let should_run = placement.verdicts.get(node).is_some_and(|v| v.0);
                match (new_pod, old_pod) {
                    (_, None) => {}
                    (None, Some(o)) => {
                        if !available(o) {
                            if should_run {
                                allowed_nodes.push(node.clone());
                            } else {
                                old_to_delete.push(o.clone());
                            }
                        } else if !should_run {
                            should_not_run.push(o.clone());
                        } else if num_surge < max_surge {
                            candidate_nodes.push(node.clone());
                        }
                    }
                    (Some(n), Some(o)) => {
                        if available(n) {
                            old_to_delete.push(o.clone());
                        } else {
                            num_surge += 1;
                        }
                    }
                }
            }
            // Pods on nodes that should no longer run them go only once enough pods
            // elsewhere are available.
            let deletable = (num_available - desired).max(0) as usize;
            old_to_delete.extend(should_not_run.into_iter().take(deletable));
            let remaining = (max_surge - num_surge).max(0) as usize;
            candidate_nodes.truncate(remaining);
            allowed_nodes.extend(candidate_nodes);
            (old_to_delete, allowed_nodes)
        };
        if to_delete.is_empty() && to_create.is_empty() {
            return;
        }
        self.sync_nodes(key, ds, owner, to_delete, to_create, hash, ds_ref, ctx);
    }

    /// Upstream `updateDaemonSetStatus`.
    fn update_status(
        &mut self,
        key: &ObjectKey,
        ds: &DaemonSet,
        placement: &Placement,
        hash: &str,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        let mut status = DaemonSetStatus {
            observed_generation: ds.metadata.generation,
            collision_count: ds.status.collision_count,
            ..DaemonSetStatus::default()
        };
        let mut next_check: Option<SimDuration> = None;
        for (node_name, &(should_run, _)) in &placement.verdicts {
            let pods = placement.by_node.get(node_name).filter(|p| !p.is_empty());
            if should_run {
                status.desired_number_scheduled += 1;
                let Some(pod) = pods.and_then(|p| as_pod(&p[0])) else {
                    continue;
                };
                status.current_number_scheduled += 1;
                match availability(pod, ds.spec.min_ready_seconds, now) {
                    Ok(false) => {}
                    Ok(true) => {
                        status.number_ready += 1;
                        status.number_available += 1;
                    }
                    Err(wait) => {
                        status.number_ready += 1;
                        next_check = Some(next_check.map_or(wait, |w: SimDuration| w.min(wait)));
                    }
                }
                if is_updated(pod, hash, ds.metadata.generation) {
                    status.updated_number_scheduled += 1;
                }
            } else if pods.is_some() {
                status.number_misscheduled += 1;
            }
        }
        status.number_unavailable =
            (status.desired_number_scheduled - status.number_available).max(0);
        if let Some(delay) = next_check {
            self.queue.add_after(key.clone(), delay, ctx);
        }
        let _ = ctx.patch(key, |o| {
            let Object::DaemonSet(d) = o else {
                return false;
            };
            if d.status == status {
                return false;
            }
            d.status = status;
            true
        });
    }
}

impl Component for DaemonSetController {
    fn name(&self) -> String {
        "daemonset-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::DaemonSet]),
            WatchFilter::kinds(&[Kind::Node]),
            WatchFilter::kinds(&[Kind::Pod]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_SETS => self.on_set(event, ctx),
            WATCH_NODES => self.on_node(event, ctx),
            WATCH_PODS => self.on_pod(event, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        for key in self.queue.on_timer(token, ctx).unwrap_or_default() {
            self.sync(&key, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::objects::node::Taint;

    fn node(name: &str, labels: &[(&str, &str)], taints: Vec<Taint>) -> Node {
        let mut n = Node::default();
        n.metadata.name = name.into();
        for (k, v) in labels {
            n.metadata.labels.insert((*k).into(), (*v).into());
        }
        n.spec.taints = taints;
        n
    }

    fn taint(key: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.into(),
            value: String::new(),
            effect,
            time_added: None,
        }
    }

    #[test]
    fn default_tolerations_cover_the_condition_taints() {
        let mut spec = PodSpec::default();
        add_daemon_tolerations(&mut spec);
        assert_eq!(spec.tolerations.len(), 6);
        assert!(
            spec.tolerations
                .iter()
                .all(|t| t.toleration_seconds.is_none())
        );
        spec.host_network = true;
        add_daemon_tolerations(&mut spec);
        assert_eq!(
            spec.tolerations.len(),
            7,
            "idempotent, plus network-unavailable"
        );
        // A user toleration with the same key/operator/value/effect is replaced.
        let mut spec = PodSpec::default();
        let mut t = exists_toleration(TAINT_NOT_READY, TaintEffect::NoExecute);
        t.toleration_seconds = Some(300);
        spec.tolerations.push(t);
        add_daemon_tolerations(&mut spec);
        assert_eq!(spec.tolerations.len(), 6);
        assert_eq!(spec.tolerations[0].toleration_seconds, None);
    }

    #[test]
    fn eligibility_follows_node_should_run_daemon_pod() {
        let mut t = PodTemplateSpec::default();
        assert_eq!(node_should_run(&node("a", &[], vec![]), &t), (true, true));
        // Default tolerations: unschedulable and not-ready nodes still run daemon pods.
        let n = node(
            "a",
            &[],
            vec![
                taint(TAINT_UNSCHEDULABLE, TaintEffect::NoSchedule),
                taint(TAINT_NOT_READY, TaintEffect::NoExecute),
            ],
        );
        assert_eq!(node_should_run(&n, &t), (true, true));
        // An untolerated NoSchedule taint: no new pod, the running one continues.
        let n = node("a", &[], vec![taint("dedicated", TaintEffect::NoSchedule)]);
        assert_eq!(node_should_run(&n, &t), (false, true));
        let n = node("a", &[], vec![taint("dedicated", TaintEffect::NoExecute)]);
        assert_eq!(node_should_run(&n, &t), (false, false));
        // PreferNoSchedule is ignored.
        let n = node("a", &[], vec![taint("x", TaintEffect::PreferNoSchedule)]);
        assert_eq!(node_should_run(&n, &t), (true, true));
        t.spec.node_selector.insert("role".into(), "edge".into());
        assert_eq!(node_should_run(&node("a", &[], vec![]), &t), (false, false));
        assert_eq!(
            node_should_run(&node("a", &[("role", "edge")], vec![]), &t),
            (true, true)
        );
        t.spec.node_name = "b".into();
        assert_eq!(
            node_should_run(&node("a", &[("role", "edge")], vec![]), &t),
            (false, false)
        );
    }

    #[test]
    fn daemon_pods_are_pinned_to_their_node() {
        let mut ds = DaemonSet::default();
        ds.metadata.name = "agent".into();
        ds.metadata.generation = 3;
        let owner = controller_ref("apps/v1", "DaemonSet", &Object::DaemonSet(ds.clone()));
        let p = daemon_pod(&ds, "abc", "node-7", owner);
        assert_eq!(target_node(&p), Some("node-7"));
        assert_eq!(p.metadata.generate_name, "agent-");
        assert_eq!(p.metadata.labels[CONTROLLER_REVISION_HASH_LABEL], "abc");
        assert_eq!(p.metadata.labels[POD_TEMPLATE_GENERATION_LABEL], "3");
        assert!(is_updated(&p, "abc", 3));
        assert!(is_updated(&p, "other", 3));
        assert!(!is_updated(&p, "other", 4));
    }
}
