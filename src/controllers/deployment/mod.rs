//! The Deployment controller (component `deployment-controller`), after
//! `pkg/controller/deployment/` (`deployment_controller.go`, `sync.go`, `rolling.go`,
//! `recreate.go`, `progress.go`) and `pkg/controller/deployment/util/deployment_util.go`.
//!
//! Lifecycle of one sync (upstream `syncDeployment`), per Deployment key from the work queue:
//! 1. An empty selector selects everything: a `SelectingAll` warning, nothing else.
//! 2. Claim ReplicaSets: adopt orphans the selector matches, release owned ones it no longer
//!    matches ([`DeploymentController::claim_replica_sets`]).
//! 3. A Deployment being deleted only gets its status written.
//! 4. Pause/resume conditions; a paused Deployment, or one whose replicas changed (a
//!    "scaling event": an active ReplicaSet's `desired-replicas` annotation differs), is
//!    scaled proportionally ([`sync`]).
//! 5. Otherwise the strategy rolls out: [`rolling`] (RollingUpdate) or Recreate, then the
//!    status and its Progressing/Available conditions are written ([`progress`]), and a
//!    Deployment making no progress is requeued for its progress deadline.
//!
//! The new ReplicaSet is `<deployment>-<pod-template-hash>`, with the hash label on its
//! template, selector and labels; see [`util::compute_hash`] for how the hash is computed
//! (deterministic, but not byte-identical to upstream's). Rollback is a template change back
//! to an old ReplicaSet's template (what `kubectl rollout undo` does): [`rollback`].
//!
//! Watches: Deployments (every change enqueues), ReplicaSets (the owning Deployment, or for
//! orphans every Deployment whose selector matches), Pods (only deletions matter: a Recreate
//! Deployment is synced when its last pod is gone). Failed syncs (API errors, conflicts from
//! a stale cache) are retried with the work queue's back-off, at most 15 times in a row
//! (upstream `maxRetries`).
//!
//! Simplifications: writes made earlier in the same sync are seen by its later steps (upstream
//! keeps using its cached copies and often conflicts with itself, then retries); the
//! deprecated `rollbackTo` annotation (extensions/v1beta1) is not supported; there is no
//! periodic informer resync; `status.terminatingReplicas` is not computed.

pub mod progress;
pub mod rollback;
pub mod rolling;
pub mod sync;
pub mod util;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::meta::OwnerReference;
use crate::api::objects::pod::Pod;
use crate::api::objects::workloads::{Deployment, DeploymentStrategyType, ReplicaSet};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::selector::Selector;
use crate::api::{ApiError, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};

use super::workqueue::WorkQueue;

pub use rollback::{RollbackError, rollout_undo};

/// Upstream `maxRetries`: a key failing this many times in a row is dropped until its next
/// watch event.
pub const MAX_RETRIES: u32 = 15;

const WATCH_DEPLOYMENTS: usize = 0;
const WATCH_SETS: usize = 1;
const WATCH_PODS: usize = 2;

/// Why a sync stopped early; the key is retried with back-off.
#[derive(Debug)]
pub struct SyncError(pub String);

impl From<ApiError> for SyncError {
    fn from(e: ApiError) -> Self {
        SyncError(e.to_string())
    }
}

pub(crate) type SyncResult<T = ()> = Result<T, SyncError>;

/// The component.
#[derive(Default)]
pub struct DeploymentController {
    deployments: BTreeMap<ObjectKey, Arc<Object>>,
    sets: BTreeMap<ObjectKey, Arc<Object>>,
    pods: crate::controllers::pod_index::PodIndex,
    queue: WorkQueue<ObjectKey>,
}

fn as_rs(obj: &Object) -> Option<&ReplicaSet> {
    match obj {
        Object::ReplicaSet(rs) => Some(rs),
        _ => None,
    }
}

fn as_deployment(obj: &Object) -> Option<&Deployment> {
    match obj {
        Object::Deployment(d) => Some(d),
        _ => None,
    }
}

/// `Deployment/namespace/name`, the object of the controller's Events.
pub(crate) fn event_ref(d: &Deployment) -> String {
    format!("Deployment/{}/{}", d.metadata.namespace, d.metadata.name)
}

/// The controller reference a Deployment puts on its ReplicaSets.
pub(crate) fn owner_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: d.metadata.name.clone(),
        uid: d.metadata.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

pub(crate) fn rs_key(rs: &ReplicaSet) -> ObjectKey {
    ObjectKey::new(
        Kind::ReplicaSet,
        rs.metadata.namespace.clone(),
        rs.metadata.name.clone(),
    )
}

impl DeploymentController {
    pub fn new() -> Self {
        Self::default()
    }

    /// The Deployment a controller reference names, if it is one we know with that uid.
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<ObjectKey> {
        if r.kind != "Deployment" {
            return None;
        }
        let key = ObjectKey::new(Kind::Deployment, namespace, r.name.clone());
        let d = self.deployments.get(&key)?;
        (d.meta().uid == r.uid).then_some(key)
    }

    /// Deployments whose (non-empty) selector matches an orphan ReplicaSet's labels
    /// (upstream `getDeploymentsForReplicaSet`).
    fn matching_deployments(&self, rs: &ReplicaSet) -> Vec<ObjectKey> {
        let ns = &rs.metadata.namespace;
        self.deployments
            .range(ObjectKey::new(Kind::Deployment, ns.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == Kind::Deployment && &k.namespace == ns)
            .filter(|(_, o)| {
                as_deployment(o)
                    .and_then(|d| d.spec.selector.as_ref())
                    .and_then(|s| s.to_selector().ok())
                    .is_some_and(|s| !s.is_everything() && s.matches(&rs.metadata.labels))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn on_deployment(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        if event.type_ == WatchEventType::Deleted {
            self.deployments.remove(&key);
        } else {
            self.deployments.insert(key.clone(), event.object.clone());
        }
        self.queue.add(key, ctx);
    }

    fn on_replica_set(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Some(rs) = as_rs(&event.object) else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        let ns = rs.metadata.namespace.clone();
        let owner = rs
            .metadata
            .controller_ref()
            .and_then(|r| self.resolve(&ns, r));
        match event.type_ {
            WatchEventType::Deleted => {
                self.sets.remove(&key);
                if let Some(o) = owner {
                    self.queue.add(o, ctx);
                }
            }
            WatchEventType::Added => {
                self.sets.insert(key, event.object.clone());
                match owner {
                    Some(o) => self.queue.add(o, ctx),
                    None if rs.metadata.controller_ref().is_none()
                        && rs.metadata.deletion_timestamp.is_none() =>
                    {
                        for d in self.matching_deployments(rs) {
                            self.queue.add(d, ctx);
                        }
                    }
                    None => {}
                }
            }
            WatchEventType::Modified => {
                self.sets.insert(key, event.object.clone());
                let old = event.old.as_deref().and_then(as_rs);
                let old_ref = old.and_then(|o| o.metadata.controller_ref());
                let cur_ref = rs.metadata.controller_ref();
                let ref_changed = old_ref != cur_ref;
                if ref_changed && let Some(prev) = old_ref.and_then(|r| self.resolve(&ns, r)) {
                    self.queue.add(prev, ctx);
                }
                if cur_ref.is_some() {
                    if let Some(o) = owner {
                        self.queue.add(o, ctx);
                    }
                    return;
                }
                let labels_changed = old.is_none_or(|o| o.metadata.labels != rs.metadata.labels);
                if labels_changed || ref_changed {
                    for d in self.matching_deployments(rs) {
                        self.queue.add(d, ctx);
                    }
                }
            }
        }
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        if event.type_ != WatchEventType::Deleted {
            self.pods.insert(key, event.object.clone());
            return;
        }
        self.pods.remove(&key);
        // Upstream `deletePod`: a Recreate Deployment waits for its old pods to be gone.
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        let Some(dkey) = self.deployment_for_pod(pod) else {
            return;
        };
        let Some(d) = self.deployments.get(&dkey).and_then(|o| as_deployment(o)) else {
            return;
        };
        if d.spec.strategy.type_ != DeploymentStrategyType::Recreate {
            return;
        }
        let sets = self.owned_sets(d);
        if self.pod_map(d, &sets).values().all(Vec::is_empty) {
            self.queue.add(dkey, ctx);
        }
    }

    /// Upstream `getDeploymentForPod`: pod → owning ReplicaSet → owning Deployment.
    fn deployment_for_pod(&self, pod: &Pod) -> Option<ObjectKey> {
        let r = pod.metadata.controller_ref()?;
        if r.kind != "ReplicaSet" {
            return None;
        }
        let rs_obj = self.sets.get(&ObjectKey::new(
            Kind::ReplicaSet,
            pod.metadata.namespace.clone(),
            r.name.clone(),
        ))?;
        let rs = as_rs(rs_obj)?;
        if rs.metadata.uid != r.uid {
            return None;
        }
        self.resolve(&rs.metadata.namespace, rs.metadata.controller_ref()?)
    }

    /// The cached ReplicaSets `d` controls.
    fn owned_sets(&self, d: &Deployment) -> Vec<ReplicaSet> {
        let ns = &d.metadata.namespace;
        self.sets
            .range(ObjectKey::new(Kind::ReplicaSet, ns.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == Kind::ReplicaSet && &k.namespace == ns)
            .filter_map(|(_, o)| as_rs(o))
            .filter(|rs| {
                rs.metadata
                    .controller_ref()
                    .is_some_and(|r| r.uid == d.metadata.uid)
            })
            .cloned()
            .collect()
    }

    /// Upstream `getPodMapForDeployment`: pods the selector matches, by the uid of their
    /// owning ReplicaSet among `sets` (every set has an entry, possibly empty).
    pub(crate) fn pod_map(
        &self,
        d: &Deployment,
        sets: &[ReplicaSet],
    ) -> BTreeMap<String, Vec<Arc<Object>>> {
        let mut map: BTreeMap<String, Vec<Arc<Object>>> = sets
            .iter()
            .map(|rs| (rs.metadata.uid.clone(), Vec::new()))
            .collect();
        let selector = d
            .spec
            .selector
            .as_ref()
            .and_then(|s| s.to_selector().ok())
            .unwrap_or_else(Selector::nothing);
        let ns = &d.metadata.namespace;
        for (_, obj) in self.pods.selecting(ns, &selector) {
            let Object::Pod(p) = &*obj else { continue };
            if let Some(r) = p.metadata.controller_ref()
                && let Some(list) = map.get_mut(&r.uid)
            {
                list.push(obj.clone());
            }
        }
        map
    }

    /// Upstream `getReplicaSetsForDeployment` + `ClaimReplicaSets`: the ReplicaSets `d`
    /// owns after adopting matching orphans and releasing owned sets it no longer matches,
    /// sorted by creation time (older first).
    pub(crate) fn claim_replica_sets(
        &self,
        d: &Deployment,
        ctx: &mut Context<'_>,
    ) -> SyncResult<Vec<ReplicaSet>> {
        let selector = d
            .spec
            .selector
            .as_ref()
            .map(|s| s.to_selector())
            .transpose()
            .map_err(|e| {
                SyncError(format!(
                    "deployment {}/{} has invalid label selector: {e}",
                    d.metadata.namespace, d.metadata.name
                ))
            })?
            .unwrap_or_else(Selector::nothing);
        let ns = &d.metadata.namespace;
        let uid = d.metadata.uid.clone();
        // Sets another controller owns are skipped below: do not clone them.
        let candidates: Vec<ReplicaSet> = self
            .sets
            .range(ObjectKey::new(Kind::ReplicaSet, ns.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == Kind::ReplicaSet && &k.namespace == ns)
            .filter_map(|(_, o)| as_rs(o))
            .filter(|rs| rs.metadata.controller_ref().is_none_or(|r| r.uid == uid))
            .cloned()
            .collect();
        let deleting = d.metadata.deletion_timestamp.is_some();
        let mut owned = Vec::new();
        let mut first_error = None;
        for rs in candidates {
            let matches = selector.matches(&rs.metadata.labels);
            match rs.metadata.controller_ref() {
                Some(r) if r.uid != uid => {}
                Some(_) if matches => owned.push(rs),
                Some(_) => {
                    if deleting {
                        continue;
                    }
                    let result = ctx.patch(&rs_key(&rs), |o| {
                        let m = o.meta_mut();
                        let before = m.owner_references.len();
                        m.owner_references.retain(|r| r.uid != uid);
                        m.owner_references.len() != before
                    });
                    if let Err(e) = result
                        && !matches!(e, ApiError::NotFound { .. })
                    {
                        first_error.get_or_insert(e);
                    }
                }
                None => {
                    if deleting || !matches || rs.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    // Upstream `RecheckDeletionTimestamp`: a live read before adopting.
                    let live_ok = ctx
                        .get(&ObjectKey::new(
                            Kind::Deployment,
                            ns.clone(),
                            d.metadata.name.clone(),
                        ))
                        .is_some_and(|o| {
                            o.meta().uid == uid && o.meta().deletion_timestamp.is_none()
                        });
                    if !live_ok {
                        first_error.get_or_insert(ApiError::NotFound {
                            key: ObjectKey::new(
                                Kind::Deployment,
                                ns.clone(),
                                d.metadata.name.clone(),
                            ),
                        });
                        continue;
                    }
                    let oref = owner_ref(d);
                    match ctx.patch(&rs_key(&rs), |o| {
                        let m = o.meta_mut();
                        if m.controller_ref().is_some() {
                            return false;
                        }
                        m.owner_references.push(oref);
                        true
                    }) {
                        Ok(Some(obj)) => {
                            if let Some(adopted) = as_rs(&obj) {
                                owned.push(adopted.clone());
                            }
                        }
                        Ok(None) | Err(ApiError::NotFound { .. }) => {}
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e.into());
        }
        owned.sort_by(util::by_creation);
        Ok(owned)
    }

    /// Writes `d` (status and annotations) with the resourceVersion it carries; on success
    /// `d` becomes the stored object.
    pub(crate) fn write_deployment(ctx: &mut Context<'_>, d: &mut Deployment) -> SyncResult {
        let obj = ctx.update(Object::Deployment(d.clone()))?;
        if let Some(stored) = as_deployment(&obj) {
            *d = stored.clone();
        }
        Ok(())
    }

    /// Writes a ReplicaSet with the resourceVersion it carries and returns the stored one.
    pub(crate) fn write_rs(ctx: &mut Context<'_>, rs: ReplicaSet) -> SyncResult<ReplicaSet> {
        let obj = ctx.update(Object::ReplicaSet(rs))?;
        as_rs(&obj)
            .cloned()
            .ok_or_else(|| SyncError("not a ReplicaSet".into()))
    }

    /// One sync of a Deployment key (upstream `syncDeployment`).
    fn sync_key(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) -> SyncResult {
        let Some(mut d) = self
            .deployments
            .get(key)
            .and_then(|o| as_deployment(o))
            .cloned()
        else {
            return Ok(());
        };
        if d.spec
            .selector
            .as_ref()
            .is_some_and(|s| s.match_labels.is_empty() && s.match_expressions.is_empty())
        {
            ctx.record(EventRecord::new(
                ctx.now(),
                EventType::Warning,
                "SelectingAll",
                event_ref(&d),
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            ));
            if d.status.observed_generation < d.metadata.generation {
                d.status.observed_generation = d.metadata.generation;
                let _ = Self::write_deployment(ctx, &mut d);
            }
            return Ok(());
        }
        let mut sets = self.claim_replica_sets(&d, ctx)?;
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(ctx, &mut d, &mut sets);
        }
        self.check_paused_conditions(ctx, &mut d)?;
        if d.spec.paused {
            return self.sync_scale(ctx, &mut d, &mut sets);
        }
        if self.is_scaling_event(ctx, &mut d, &mut sets)? {
            return self.sync_scale(ctx, &mut d, &mut sets);
        }
        match d.spec.strategy.type_ {
            DeploymentStrategyType::Recreate => self.rollout_recreate(ctx, &mut d, &mut sets),
            DeploymentStrategyType::RollingUpdate => self.rollout_rolling(ctx, &mut d, &mut sets),
        }
    }
}

impl Component for DeploymentController {
    fn name(&self) -> String {
        "deployment-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Deployment]),
            WatchFilter::kinds(&[Kind::ReplicaSet]),
            WatchFilter::kinds(&[Kind::Pod]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_DEPLOYMENTS => self.on_deployment(event, ctx),
            WATCH_SETS => self.on_replica_set(event, ctx),
            WATCH_PODS => self.on_pod(event, ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        for key in self.queue.on_timer(token, ctx).unwrap_or_default() {
            match self.sync_key(&key, ctx) {
                Ok(()) => self.queue.forget(&key),
                // Upstream `handleErr`.
                Err(_) if self.queue.failures(&key) < MAX_RETRIES => {
                    self.queue.add_rate_limited(key, ctx)
                }
                Err(_) => self.queue.forget(&key),
            }
        }
    }
}
