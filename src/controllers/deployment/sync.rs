//! Finding and creating the new ReplicaSet, scaling ReplicaSets (with `ScalingReplicaSet`
//! events), proportional scaling, revision-history cleanup and the plain status sync, after
//! `pkg/controller/deployment/sync.go`.
//!
//! ReplicaSets of one sync live in a `Vec<ReplicaSet>` sorted by creation time; the new one
//! and the old ones are given as indices into it, and every write replaces its entry.

use crate::api::meta::{ConditionStatus, ObjectMeta};
use crate::api::objects::workloads::{
    Deployment, DeploymentStatus, DeploymentStrategyType, ReplicaSet, ReplicaSetSpec,
};
use crate::api::{ApiError, DeleteOptions, Object};
use crate::runtime::{Context, EventRecord, EventType};

use super::util::{self, d_replicas, rs_replicas};
use super::{DeploymentController, SyncError, SyncResult, event_ref, owner_ref, rs_key};

/// The new ReplicaSet (if any) and the old ones, as indices into the sync's set list.
pub(crate) type Split = (Option<usize>, Vec<usize>);

impl DeploymentController {
    /// Upstream `getAllReplicaSetsAndSyncRevision`: splits `sets` into the new ReplicaSet
    /// (template equal to the Deployment's, ignoring the hash label; the oldest such) and the
    /// old ones, brings the new one's revision to max(old) + 1 and the Deployment's revision
    /// annotation to the new one's, and creates the new ReplicaSet when `create` is set.
    pub(crate) fn get_all_and_sync_revision(
        &self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
        create: bool,
    ) -> SyncResult<Split> {
        let new = sets
            .iter()
            .position(|rs| util::equal_ignore_hash(&rs.spec.template, &d.spec.template));
        let old: Vec<usize> = (0..sets.len()).filter(|i| Some(*i) != new).collect();
        let new_revision = util::max_revision(old.iter().map(|i| &sets[*i])).saturating_add(1);
        let now = ctx.now();
        if let Some(i) = new {
            let mut copy = sets[i].clone();
            let annotations = util::set_new_rs_annotations(d, &mut copy, new_revision, true);
            if annotations || copy.spec.min_ready_seconds != d.spec.min_ready_seconds {
                copy.spec.min_ready_seconds = d.spec.min_ready_seconds;
                sets[i] = Self::write_rs(ctx, copy)?;
                return Ok((Some(i), old));
            }
            let rev = copy
                .metadata
                .annotations
                .get(util::REVISION_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            let mut needs_update = util::set_deployment_revision(d, &rev);
            if util::has_progress_deadline(d)
                && util::get_condition(&d.status, util::PROGRESSING).is_none()
            {
                util::set_condition(
                    &mut d.status,
                    util::new_condition(
                        util::PROGRESSING,
                        ConditionStatus::True,
                        util::FOUND_NEW_RS_REASON,
                        format!("Found new replica set {:?}", copy.metadata.name),
                        now,
                    ),
                );
                needs_update = true;
            }
            if needs_update {
                Self::write_deployment(ctx, d)?;
            }
            return Ok((Some(i), old));
        }
        if !create {
            return Ok((None, old));
        }
        let created = self.create_new_rs(ctx, d, sets, &old, new_revision)?;
        sets.push(created);
        Ok((Some(sets.len() - 1), old))
    }

    /// The create half of upstream `getNewReplicaSet`.
    fn create_new_rs(
        &self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &[ReplicaSet],
        old: &[usize],
        new_revision: i64,
    ) -> SyncResult<ReplicaSet> {
        let now = ctx.now();
        let hash = util::compute_hash(&d.spec.template, d.status.collision_count);
        let mut template = d.spec.template.clone();
        template
            .metadata
            .labels
            .insert(util::POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let mut selector = d.spec.selector.clone().unwrap_or_default();
        selector
            .match_labels
            .insert(util::POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: format!("{}-{hash}", d.metadata.name),
                namespace: d.metadata.namespace.clone(),
                owner_references: vec![owner_ref(d)],
                labels: template.metadata.labels.clone(),
                ..ObjectMeta::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.min_ready_seconds,
                selector: Some(selector),
                template,
            },
            status: Default::default(),
        };
        let mut all: Vec<&ReplicaSet> = old.iter().map(|i| &sets[*i]).collect();
        all.push(&rs);
        let n = util::new_rs_new_replicas(d, &all, &rs).map_err(SyncError)?;
        rs.spec.replicas = Some(n);
        util::set_new_rs_annotations(d, &mut rs, new_revision, false);
        let name = rs.metadata.name.clone();
        let (created, already_exists) = match ctx.create(Object::ReplicaSet(rs)) {
            Ok(obj) => match &*obj {
                Object::ReplicaSet(rs) => (rs.clone(), false),
                _ => return Err(SyncError("not a ReplicaSet".into())),
            },
            Err(ApiError::AlreadyExists { key }) => {
                let Some(Object::ReplicaSet(existing)) = self.sets.get(&key).map(|o| &**o) else {
                    return Err(SyncError(format!(
                        "{key} exists but is not in the cache yet"
                    )));
                };
                let ours = existing
                    .metadata
                    .controller_ref()
                    .is_some_and(|r| r.uid == d.metadata.uid);
                if ours && util::equal_ignore_hash(&d.spec.template, &existing.spec.template) {
                    (existing.clone(), true)
                } else {
                    // A hash collision: bump collisionCount so the next sync hashes anew.
                    let c = d.status.collision_count.unwrap_or(0);
                    d.status.collision_count = Some(c.saturating_add(1));
                    let _ = Self::write_deployment(ctx, d);
                    return Err(SyncError(format!("{key} already exists")));
                }
            }
            Err(e) => {
                let msg = format!("Failed to create new replica set {name:?}: {e}");
                if util::has_progress_deadline(d) {
                    util::set_condition(
                        &mut d.status,
                        util::new_condition(
                            util::PROGRESSING,
                            ConditionStatus::False,
                            util::FAILED_RS_CREATE_REASON,
                            msg.clone(),
                            now,
                        ),
                    );
                    let _ = Self::write_deployment(ctx, d);
                }
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    util::FAILED_RS_CREATE_REASON,
                    event_ref(d),
                    msg,
                ));
                return Err(e.into());
            }
        };
        if !already_exists && n > 0 {
            ctx.record(EventRecord::new(
                now,
                EventType::Normal,
                "ScalingReplicaSet",
                event_ref(d),
                format!("Scaled up replica set {name} from 0 to {n}"),
            ));
        }
        let mut needs_update = util::set_deployment_revision(d, &new_revision.to_string());
        if !already_exists && util::has_progress_deadline(d) {
            util::set_condition(
                &mut d.status,
                util::new_condition(
                    util::PROGRESSING,
                    ConditionStatus::True,
                    util::NEW_RS_REASON,
                    format!("Created new replica set {name:?}"),
                    now,
                ),
            );
            needs_update = true;
        }
        if needs_update {
            Self::write_deployment(ctx, d)?;
        }
        Ok(created)
    }

    /// Upstream `scaleReplicaSetAndRecordEvent`: nothing when the size is already right.
    pub(crate) fn scale_and_record(
        ctx: &mut Context<'_>,
        d: &Deployment,
        sets: &mut [ReplicaSet],
        i: usize,
        new_scale: i32,
    ) -> SyncResult<bool> {
        if rs_replicas(&sets[i]) == new_scale {
            return Ok(false);
        }
        Self::scale_rs(ctx, d, sets, i, new_scale)
    }

    /// Upstream `scaleReplicaSet`: writes the size and the replica annotations when either
    /// differs; a size change is a `ScalingReplicaSet` event on the Deployment. True when the
    /// size changed.
    pub(crate) fn scale_rs(
        ctx: &mut Context<'_>,
        d: &Deployment,
        sets: &mut [ReplicaSet],
        i: usize,
        new_scale: i32,
    ) -> SyncResult<bool> {
        let desired = d_replicas(d);
        let max = util::max_replicas(d);
        let old_scale = rs_replicas(&sets[i]);
        let size_changes = old_scale != new_scale;
        if !size_changes && !util::replicas_annotations_need_update(&sets[i], desired, max) {
            return Ok(false);
        }
        let mut copy = sets[i].clone();
        copy.spec.replicas = Some(new_scale);
        util::set_replicas_annotations(&mut copy, desired, max);
        sets[i] = Self::write_rs(ctx, copy)?;
        if size_changes {
            let op = if old_scale < new_scale { "up" } else { "down" };
            ctx.record(EventRecord::new(
                ctx.now(),
                EventType::Normal,
                "ScalingReplicaSet",
                event_ref(d),
                format!(
                    "Scaled {op} replica set {} from {old_scale} to {new_scale}",
                    sets[i].metadata.name
                ),
            ));
        }
        Ok(size_changes)
    }

    /// Upstream `isScalingEvent`: an active ReplicaSet's `desired-replicas` annotation
    /// differs from the Deployment's replicas.
    pub(crate) fn is_scaling_event(
        &self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
    ) -> SyncResult<bool> {
        let (new, old) = self.get_all_and_sync_revision(ctx, d, sets, false)?;
        Ok(old.iter().chain(new.iter()).any(|i| {
            let rs = &sets[*i];
            rs_replicas(rs) > 0
                && rs
                    .metadata
                    .annotations
                    .get(util::DESIRED_REPLICAS_ANNOTATION)
                    .and_then(|v| v.parse::<i32>().ok())
                    .is_some_and(|desired| desired != d_replicas(d))
        }))
    }

    /// Upstream `sync`: scaling events and paused Deployments.
    pub(crate) fn sync_scale(
        &self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
    ) -> SyncResult {
        let (new, old) = self.get_all_and_sync_revision(ctx, d, sets, false)?;
        Self::scale(ctx, d, sets, new, &old)?;
        if d.spec.paused {
            Self::cleanup_deployment(ctx, d, sets, &old)?;
        }
        Self::sync_deployment_status(ctx, d, sets, new, &old)
    }

    /// Upstream `syncStatusOnly` (a Deployment being deleted).
    pub(crate) fn sync_status_only(
        &self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
    ) -> SyncResult {
        let (new, old) = self.get_all_and_sync_revision(ctx, d, sets, false)?;
        Self::sync_deployment_status(ctx, d, sets, new, &old)
    }

    /// Upstream `scale`: one active ReplicaSet (or none: the newest) takes all replicas; a
    /// saturated new ReplicaSet leaves the old ones at 0; otherwise (RollingUpdate) the
    /// replicas to add or remove are spread over the active sets in proportion to their size.
    pub(crate) fn scale(
        ctx: &mut Context<'_>,
        d: &Deployment,
        sets: &mut [ReplicaSet],
        new: Option<usize>,
        old: &[usize],
    ) -> SyncResult {
        let replicas = d_replicas(d);
        // FindActiveOrLatest: old sets newest first, then the new one.
        let mut old_newest_first = old.to_vec();
        old_newest_first.sort_by(|a, b| util::by_creation(&sets[*b], &sets[*a]));
        let active: Vec<usize> = old_newest_first
            .iter()
            .chain(new.iter())
            .copied()
            .filter(|i| rs_replicas(&sets[*i]) > 0)
            .collect();
        let active_or_latest = match active.len() {
            0 => new.or_else(|| old_newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        };
        if active.len() <= 1 {
            if let Some(i) = active_or_latest
                && rs_replicas(&sets[i]) != replicas
            {
                Self::scale_and_record(ctx, d, sets, i, replicas)?;
            }
            return Ok(());
        }
        if util::is_saturated(d, new.map(|i| &sets[i])) {
            for i in old.iter().copied() {
                if rs_replicas(&sets[i]) > 0 {
                    Self::scale_and_record(ctx, d, sets, i, 0)?;
                }
            }
            return Ok(());
        }
        if d.spec.strategy.type_ != DeploymentStrategyType::RollingUpdate {
            return Ok(());
        }
        let mut all: Vec<usize> = old.iter().chain(new.iter()).copied().collect();
        all.retain(|i| rs_replicas(&sets[*i]) > 0);
        let total = util::sum(all.iter().map(|i| rs_replicas(&sets[*i])));
        let allowed = if replicas > 0 {
            util::max_replicas(d)
        } else {
            0
        };
        let to_add = allowed.saturating_sub(total);
        if to_add > 0 {
            all.sort_by(|a, b| util::by_size_newer(&sets[*a], &sets[*b]));
        } else if to_add < 0 {
            all.sort_by(|a, b| util::by_size_older(&sets[*a], &sets[*b]));
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for &i in &all {
            let rs = &sets[i];
            if to_add != 0 {
                let p = util::replica_set_proportion(d, rs, to_add, added);
                sizes.push(rs_replicas(rs).saturating_add(p));
                added = added.saturating_add(p);
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (k, &i) in all.iter().enumerate() {
            if k == 0 && to_add != 0 {
                sizes[0] = sizes[0].saturating_add(to_add.saturating_sub(added)).max(0);
            }
            Self::scale_rs(ctx, d, sets, i, sizes[k])?;
        }
        Ok(())
    }

    /// Upstream `cleanupDeployment`: deletes the oldest (by revision) old ReplicaSets beyond
    /// `revisionHistoryLimit`, skipping any that still has replicas or an unobserved
    /// generation.
    pub(crate) fn cleanup_deployment(
        ctx: &mut Context<'_>,
        d: &Deployment,
        sets: &[ReplicaSet],
        old: &[usize],
    ) -> SyncResult {
        if !util::has_revision_history_limit(d) {
            return Ok(());
        }
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .map(|i| &sets[*i])
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let limit = d.spec.revision_history_limit.unwrap_or(i32::MAX).max(0) as usize;
        if cleanable.len() <= limit {
            return Ok(());
        }
        let diff = cleanable.len() - limit;
        cleanable.sort_by(|a, b| util::by_revision(a, b));
        for rs in cleanable.into_iter().take(diff) {
            if rs.status.replicas != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation > rs.status.observed_generation
            {
                continue;
            }
            match ctx.delete(&rs_key(rs), &DeleteOptions::default()) {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Upstream `syncDeploymentStatus`: writes the computed status when it differs.
    pub(crate) fn sync_deployment_status(
        ctx: &mut Context<'_>,
        d: &mut Deployment,
        sets: &[ReplicaSet],
        new: Option<usize>,
        old: &[usize],
    ) -> SyncResult {
        let status = calculate_status(d, sets, new, old, ctx.now());
        if status == d.status {
            return Ok(());
        }
        d.status = status;
        Self::write_deployment(ctx, d)
    }

    /// Upstream `checkPausedConditions`: Progressing=Unknown `DeploymentPaused` /
    /// `DeploymentResumed` when the pause flips, unless the rollout already timed out.
    pub(crate) fn check_paused_conditions(
        &self,
        ctx: &mut Context<'_>,
        d: &mut Deployment,
    ) -> SyncResult {
        if !util::has_progress_deadline(d) {
            return Ok(());
        }
        let cond = util::get_condition(&d.status, util::PROGRESSING);
        if cond.is_some_and(|c| c.reason == util::TIMED_OUT_REASON) {
            return Ok(());
        }
        let paused_exists = cond.is_some_and(|c| c.reason == util::PAUSED_REASON);
        let (reason, message) = match (d.spec.paused, paused_exists) {
            (true, false) => (util::PAUSED_REASON, "Deployment is paused"),
            (false, true) => (util::RESUMED_REASON, "Deployment is resumed"),
            _ => return Ok(()),
        };
        let c = util::new_condition(
            util::PROGRESSING,
            ConditionStatus::Unknown,
            reason,
            message.into(),
            ctx.now(),
        );
        util::set_condition(&mut d.status, c);
        Self::write_deployment(ctx, d)
    }
}

/// Upstream `calculateStatus`: counters summed over the ReplicaSets (`replicas` and
/// `updatedReplicas` from their status, `unavailableReplicas` against their spec) and the
/// Available condition (at least replicas − maxUnavailable available).
pub fn calculate_status(
    d: &Deployment,
    sets: &[ReplicaSet],
    new: Option<usize>,
    old: &[usize],
    now: crate::sim::SimTime,
) -> DeploymentStatus {
    let all = || old.iter().chain(new.iter()).map(|i| &sets[*i]);
    let available = util::sum(all().map(|rs| rs.status.available_replicas));
    let total = util::sum(all().map(rs_replicas));
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: util::sum(all().map(|rs| rs.status.replicas)),
        updated_replicas: new.map_or(0, |i| sets[i].status.replicas),
        ready_replicas: util::sum(all().map(|rs| rs.status.ready_replicas)),
        available_replicas: available,
        unavailable_replicas: total.saturating_sub(available).max(0),
        terminating_replicas: None,
        conditions: d.status.conditions.clone(),
        collision_count: d.status.collision_count,
    };
    let c = if available >= d_replicas(d).saturating_sub(util::max_unavailable(d)) {
        util::new_condition(
            util::AVAILABLE,
            ConditionStatus::True,
            util::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        util::new_condition(
            util::AVAILABLE,
            ConditionStatus::False,
            util::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    util::set_condition(&mut status, c);
    status
}
