//! The ReplicaSet controller, also running ReplicationControllers (one component named
//! `replicaset-controller`), after `pkg/controller/replicaset/replica_set.go` and
//! `pkg/controller/controller_utils.go`.
//!
//! Watch events enqueue the owning set (deduplicated); a zero-delay timer drains the queue,
//! one `sync` per key. A sync claims pods (adopts matching orphans, releases owned pods whose
//! labels no longer match), then, if its expectations are satisfied (every create and delete
//! it issued has been observed through the watch, or 5 minutes passed), creates pods in
//! slow-start batches 1, 2, 4, … (at most `burstReplicas` = 500 per sync, stopping at the
//! first failed create; a failed create requeues the set with the work queue's back-off) or
//! deletes the pods ranked first by [`super::rank`], and finally writes the status.
//!
//! The co-location rank counts "related pods": the active pods selected by every set with the
//! same controller (the ReplicaSets of one Deployment); a set without a controller has none,
//! so its ranks are all 0, as upstream.
//!
//! Simplifications: there is no periodic resync; status updates are not retried.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::OwnerReference;
use crate::api::objects::pod::Pod;
use crate::api::objects::workloads::ReplicaSetStatus;
use crate::api::objects::{Kind, Object, ObjectKey, PodTemplateSpec};
use crate::api::selector::{Selector, selector_from_option};
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::SimDuration;

use super::pods::{
    Expectations, availability, claim_pods, controller_ref, create_pod, pod_from_template,
    slow_start_batch,
};
use super::rank::{RankedPod, sort_for_deletion};
use super::workqueue::WorkQueue;

pub use super::pods::is_active;

/// Upstream `BurstReplicas`: the most creates or deletes in one sync.
pub const BURST_REPLICAS: usize = 500;
pub use super::pods::EXPECTATIONS_TIMEOUT;

const WATCH_SETS: usize = 0;
const WATCH_PODS: usize = 1;

/// The component.
#[derive(Default)]
pub struct ReplicaSetController {
    sets: BTreeMap<ObjectKey, Arc<Object>>,
    pods: super::pod_index::PodIndex,
    queue: WorkQueue<ObjectKey>,
    expectations: BTreeMap<ObjectKey, Expectations>,
}

/// The parts of a ReplicaSet or ReplicationController the controller uses.
struct SetView<'a> {
    replicas: i32,
    min_ready_seconds: i32,
    selector: Selector,
    template: Option<&'a PodTemplateSpec>,
    generation: i64,
    deleting: bool,
    api_version: &'static str,
}

fn view(obj: &Object) -> Option<SetView<'_>> {
    match obj {
        Object::ReplicaSet(rs) => Some(SetView {
            replicas: rs.spec.replicas.unwrap_or(1),
            min_ready_seconds: rs.spec.min_ready_seconds,
            // A selector that does not parse selects nothing.
            selector: selector_from_option(rs.spec.selector.as_ref())
                .unwrap_or_else(|_| Selector::nothing()),
            template: Some(&rs.spec.template),
            generation: rs.metadata.generation,
            deleting: rs.metadata.deletion_timestamp.is_some(),
            api_version: "apps/v1",
        }),
        Object::ReplicationController(rc) => Some(SetView {
            replicas: rc.spec.replicas.unwrap_or(1),
            min_ready_seconds: rc.spec.min_ready_seconds,
            selector: if rc.spec.selector.is_empty() {
                Selector::nothing()
            } else {
                Selector::from_map(&rc.spec.selector)
            },
            template: rc.spec.template.as_ref(),
            generation: rc.metadata.generation,
            deleting: rc.metadata.deletion_timestamp.is_some(),
            api_version: "v1",
        }),
        _ => None,
    }
}

fn owner_kind(kind: Kind) -> &'static str {
    if kind == Kind::ReplicationController {
        "ReplicationController"
    } else {
        "ReplicaSet"
    }
}

impl ReplicaSetController {
    pub fn new() -> Self {
        Self::default()
    }

    fn enqueue(&mut self, key: ObjectKey, ctx: &mut Context<'_>) {
        self.queue.add(key, ctx);
    }

    /// The set owning `pod` (controllerRef), if it is one we know.
    fn owner_of(&self, pod: &Pod) -> Option<ObjectKey> {
        super::pods::owner_key(&self.sets, pod, Kind::ReplicaSet)
            .or_else(|| super::pods::owner_key(&self.sets, pod, Kind::ReplicationController))
    }

    /// Sets whose selector matches `pod` (for orphans).
    fn matching_sets(&self, pod: &Pod) -> Vec<ObjectKey> {
        super::pods::owners_selecting(&self.sets, pod, |o, p| {
            view(o).is_some_and(|v| v.selector.matches(&p.metadata.labels))
        })
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        let old = event.old.as_deref().and_then(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        });
        let owner = self.owner_of(pod);
        match event.type_ {
            WatchEventType::Added => {
                if let Some(o) = &owner
                    && let Some(e) = self.expectations.get_mut(o)
                {
                    e.add -= 1;
                }
                self.pods.insert(key, event.object.clone());
            }
            WatchEventType::Modified => {
                let was_deleting = old.is_some_and(|p| p.metadata.deletion_timestamp.is_some());
                if pod.metadata.deletion_timestamp.is_some()
                    && !was_deleting
                    && let Some(o) = &owner
                    && let Some(e) = self.expectations.get_mut(o)
                {
                    e.del.remove(&pod.metadata.uid);
                }
                if let Some(old) = old
                    && old.metadata.controller_ref() != pod.metadata.controller_ref()
                    && let Some(prev) = self.owner_of(old)
                {
                    self.enqueue(prev, ctx);
                }
                self.pods.insert(key, event.object.clone());
            }
            WatchEventType::Deleted => {
                if let Some(o) = &owner
                    && let Some(e) = self.expectations.get_mut(o)
                {
                    e.del.remove(&pod.metadata.uid);
                }
                self.pods.remove(&key);
            }
        }
        match owner {
            Some(o) => self.enqueue(o, ctx),
            None if event.type_ != WatchEventType::Deleted => {
                for k in self.matching_sets(pod) {
                    self.enqueue(k, ctx);
                }
            }
            None => {}
        }
        // An owned pod that becomes ready may become available after minReadySeconds.
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(set) = self.sets.get(key).cloned() else {
            self.expectations.remove(key);
            return;
        };
        let Some(v) = view(&set) else { return };
        let now = ctx.now();
        let kind_name = owner_kind(key.kind);
        let set_ref = format!("{kind_name}/{}/{}", key.namespace, key.name);

        // Claim: adopt matching orphans, release owned pods that no longer match.
        let oref = self.owner_ref(&set, &v);
        let candidates = self.pods.claim_candidates(&key.namespace, &oref.uid);
        let owned = claim_pods(ctx, candidates, &v.selector, &oref, v.deleting, |_| true);
        let active: Vec<&Pod> = owned
            .iter()
            .filter_map(|o| match &**o {
                Object::Pod(p) if is_active(p) => Some(p),
                _ => None,
            })
            .collect();

        let satisfied = self.expectations.get(key).is_none_or(|e| e.satisfied(now));
        if satisfied && !v.deleting {
            let diff = active.len() as i64 - v.replicas.max(0) as i64;
            if diff < 0 {
                let n = ((-diff) as usize).min(BURST_REPLICAS);
                self.create_pods(key, &set, &v, n, &set_ref, ctx);
            } else if diff > 0 {
                let n = (diff as usize).min(BURST_REPLICAS);
                let on_node = self.related_pods_per_node(&set);
                let mut ranked: Vec<(RankedPod, ObjectKey)> = active
                    .iter()
                    .map(|p| {
                        let rank = on_node.get(&p.spec.node_name).copied().unwrap_or(0);
                        let k = ObjectKey::new(
                            Kind::Pod,
                            p.metadata.namespace.clone(),
                            p.metadata.name.clone(),
                        );
                        (RankedPod::of(p, rank), k)
                    })
                    .collect();
                if n < ranked.len() {
                    sort_for_deletion(now, &mut ranked);
                }
                ranked.truncate(n);
                let e = self.expectations.entry(key.clone()).or_default();
                e.add = 0;
                e.set_at = now;
                e.del = ranked.iter().map(|(r, _)| r.uid.clone()).collect();
                for (r, pk) in ranked {
                    let opts = DeleteOptions {
                        precondition_uid: Some(r.uid.clone()),
                        ..DeleteOptions::default()
                    };
                    match ctx.delete(&pk, &opts) {
                        Ok(_) => ctx.record(EventRecord::new(
                            now,
                            EventType::Normal,
                            "SuccessfulDelete",
                            set_ref.clone(),
                            format!("Deleted pod: {}", pk.name),
                        )),
                        Err(_) => {
                            if let Some(e) = self.expectations.get_mut(key) {
                                e.del.remove(&r.uid);
                            }
                        }
                    }
                }
            }
        }

        // Status (upstream calculateStatus).
        let template_labels = v
            .template
            .map(|t| t.metadata.labels.clone())
            .unwrap_or_default();
        let mut status = ReplicaSetStatus {
            replicas: active.len() as i32,
            observed_generation: v.generation,
            ..ReplicaSetStatus::default()
        };
        let mut next_check: Option<SimDuration> = None;
        for p in &active {
            if template_labels
                .iter()
                .all(|(k, val)| p.metadata.labels.get(k) == Some(val))
            {
                status.fully_labeled_replicas += 1;
            }
            match availability(p, v.min_ready_seconds, now) {
                Ok(false) => {}
                Ok(true) => {
                    status.ready_replicas += 1;
                    status.available_replicas += 1;
                }
                Err(wait) => {
                    status.ready_replicas += 1;
                    next_check = Some(next_check.map_or(wait, |w: SimDuration| w.min(wait)));
                }
            }
        }
        if let Some(delay) = next_check {
            self.queue.add_after(key.clone(), delay, ctx);
        }
        let _ = ctx.patch(key, |o| {
            let current = match o {
                Object::ReplicaSet(rs) => &mut rs.status,
                Object::ReplicationController(rc) => &mut rc.status,
                _ => return false,
            };
            let mut next = status.clone();
            next.conditions = current.conditions.clone();
            next.terminating_replicas = current.terminating_replicas;
            if *current == next {
                return false;
            }
            *current = next;
            true
        });
    }

    /// Upstream `getIndirectlyRelatedPods` + `getPodsRankedByRelatedPodsOnSameNode`: active
    /// pods per node name (unassigned pods under `""`) among the pods selected by every set
    /// with the same controller as `set` (a Deployment's ReplicaSets), each pod counted once.
    /// A set without a controller has no related pods, so all its ranks are 0.
    fn related_pods_per_node(&self, set: &Object) -> BTreeMap<String, i32> {
        let mut on_node = BTreeMap::new();
        let Some(owner) = set.meta().controller_ref() else {
            return on_node;
        };
        let ns = set.meta().namespace.clone();
        let siblings: Vec<Selector> = self
            .sets
            .range(ObjectKey::new(set.kind(), ns.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == set.kind() && k.namespace == ns)
            .filter(|(_, o)| {
                o.meta()
                    .controller_ref()
                    .is_some_and(|r| r.uid == owner.uid)
            })
            .filter_map(|(_, o)| view(o).map(|v| v.selector))
            .collect();
        let mut seen = BTreeSet::new();
        for s in &siblings {
            for (_, obj) in self.pods.selecting(&ns, s) {
                let Object::Pod(p) = &*obj else { continue };
                if is_active(p) && seen.insert(p.metadata.uid.clone()) {
                    *on_node.entry(p.spec.node_name.clone()).or_insert(0) += 1;
                }
            }
        }
        on_node
    }

    fn owner_ref(&self, set: &Object, v: &SetView<'_>) -> OwnerReference {
        controller_ref(v.api_version, owner_kind(set.kind()), set)
    }

    fn create_pods(
        &mut self,
        key: &ObjectKey,
        set: &Object,
        v: &SetView<'_>,
        n: usize,
        set_ref: &str,
        ctx: &mut Context<'_>,
    ) {
        let Some(template) = v.template else { return };
        let now = ctx.now();
        let e = self.expectations.entry(key.clone()).or_default();
        e.add = n as i64;
        e.del.clear();
        e.set_at = now;
        let oref = self.owner_ref(set, v);
        let generate_name = format!("{}-", key.name);
        let created_total = slow_start_batch(n, |_| {
            let pod = pod_from_template(template, &key.namespace, "", &generate_name, oref.clone());
            create_pod(ctx, pod, set_ref).map(|_| ())
        });
        // Creations that failed or were skipped will never be observed.
        if let Some(e) = self.expectations.get_mut(key) {
            e.add -= (n - created_total) as i64;
        }
        // Upstream returns the error from syncReplicaSet, and the key comes back
        // rate-limited (5 ms doubling to 1000 s); a full success forgets the failures.
        if created_total < n {
            self.queue.add_rate_limited(key.clone(), ctx);
        } else {
            self.queue.forget(key);
        }
    }
}

impl Component for ReplicaSetController {
    fn name(&self) -> String {
        "replicaset-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::ReplicaSet, Kind::ReplicationController]),
            WatchFilter::kinds(&[Kind::Pod]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_SETS => {
                let key = ObjectKey::of(&event.object);
                if event.type_ == WatchEventType::Deleted {
                    self.sets.remove(&key);
                    self.expectations.remove(&key);
                } else {
                    self.sets.insert(key.clone(), event.object.clone());
                    self.enqueue(key, ctx);
                }
            }
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
