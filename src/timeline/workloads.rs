//! Workload actions: scale (`kubectl scale`; a Job's parallelism), update an image
//! (`kubectl set image`, which starts a rollout), rollback (`kubectl rollout undo`, through
//! [`crate::controllers::deployment::rollout_undo`]), pause and resume.

use crate::api::objects::{Kind, Object, ObjectKey, ReplicaSet};
use crate::runtime::Context;

use super::{ACTION, Entry, FAILED, HEAL, record};

fn outcome(
    e: &Entry,
    key: &ObjectKey,
    r: Result<Option<std::sync::Arc<Object>>, crate::api::ApiError>,
    what: String,
    ctx: &mut Context<'_>,
) {
    match r {
        Ok(_) => record(ctx, ACTION, e, key.to_string(), what),
        Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
    }
}

pub(super) fn scale(e: &Entry, key: &ObjectKey, replicas: i32, ctx: &mut Context<'_>) {
    let r = ctx.patch(key, |o| {
        let slot = match o {
            Object::Deployment(d) => &mut d.spec.replicas,
            Object::ReplicaSet(rs) => &mut rs.spec.replicas,
            Object::StatefulSet(s) => &mut s.spec.replicas,
            Object::ReplicationController(rc) => &mut rc.spec.replicas,
            Object::Job(j) => &mut j.spec.parallelism,
            _ => return false,
        };
        let changed = *slot != Some(replicas);
        *slot = Some(replicas);
        changed
    });
    let field = if key.kind == Kind::Job {
        "parallelism"
    } else {
        "replicas"
    };
    outcome(e, key, r, format!("scaled to {field}={replicas}"), ctx);
}

pub(super) fn set_image(
    e: &Entry,
    key: &ObjectKey,
    container: Option<&str>,
    image: &str,
    ctx: &mut Context<'_>,
) {
    let r = ctx.patch(key, |o| {
        let template = match o {
            Object::Deployment(d) => &mut d.spec.template,
            Object::ReplicaSet(rs) => &mut rs.spec.template,
            Object::StatefulSet(s) => &mut s.spec.template,
            Object::DaemonSet(ds) => &mut ds.spec.template,
            _ => return false,
        };
        let mut changed = false;
        for c in &mut template.spec.containers {
            if container.is_none_or(|n| n == c.name) && c.image != image {
                c.image = image.to_string();
                changed = true;
            }
        }
        changed
    });
    let target = container.unwrap_or("*");
    outcome(e, key, r, format!("image {target}={image}"), ctx);
}

pub(super) fn rollback(e: &Entry, key: &ObjectKey, to_revision: i64, ctx: &mut Context<'_>) {
    let Some(obj) = ctx.get(key) else {
        record(ctx, FAILED, e, key.to_string(), "not found".into());
        return;
    };
    let Object::Deployment(d) = &*obj else {
        return;
    };
    let sets: Vec<ReplicaSet> = ctx
        .list(Kind::ReplicaSet)
        .iter()
        .filter_map(|o| match &**o {
            Object::ReplicaSet(rs) if rs.metadata.namespace == key.namespace => Some(rs.clone()),
            _ => None,
        })
        .collect();
    match crate::controllers::deployment::rollout_undo(d, sets, to_revision) {
        Ok(undone) => {
            let r = ctx.update(Object::Deployment(undone)).map(Some);
            let what = if to_revision == 0 {
                "rolled back to the previous revision".to_string()
            } else {
                format!("rolled back to revision {to_revision}")
            };
            outcome(e, key, r, what, ctx);
        }
        Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
    }
}

fn write_paused(
    key: &ObjectKey,
    paused: bool,
    ctx: &mut Context<'_>,
) -> Result<Option<std::sync::Arc<Object>>, crate::api::ApiError> {
    ctx.patch(key, |o| match o {
        Object::Deployment(d) if d.spec.paused != paused => {
            d.spec.paused = paused;
            true
        }
        _ => false,
    })
}

pub(super) fn pause(e: &Entry, key: &ObjectKey, paused: bool, ctx: &mut Context<'_>) {
    let r = write_paused(key, paused, ctx);
    let what = if paused { "paused" } else { "resumed" };
    outcome(e, key, r, what.into(), ctx);
}

pub(super) fn resume_heal(e: &Entry, key: &ObjectKey, ctx: &mut Context<'_>) {
    if write_paused(key, false, ctx).is_ok() {
        record(ctx, HEAL, e, key.to_string(), "resumed".into());
    }
}
