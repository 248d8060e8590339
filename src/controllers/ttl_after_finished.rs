//! The TTL-after-finished controller (one component named `ttl-after-finished-controller`),
//! after `pkg/controller/ttlafterfinished/ttlafterfinished_controller.go`.
//!
//! A Job with `ttlSecondsAfterFinished` that is finished (a True `Complete` or `Failed`
//! condition) and not being deleted expires at that condition's `lastTransitionTime` plus
//! the TTL. Before expiry the Job is queued again for its expiry time; at expiry the
//! controller re-reads the Job from the API server (upstream's "final sanity check"), checks
//! again, and deletes it with Foreground propagation and a uid precondition, so its pods go
//! with it. Upstream records no events; neither does kubesim.
//!
//! Simplification: Foreground propagation is the store's (treated as Background).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::meta::{ConditionStatus, find_condition};
use crate::api::objects::workloads::Job;
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::store::Propagation;
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context};
use crate::sim::{SimDuration, SimTime};

use super::workqueue::WorkQueue;

/// When `job` expires: finish time + TTL, if it has a TTL, is finished and not being deleted
/// (`needsCleanup` and `timeLeft`).
pub fn expires_at(job: &Job) -> Option<SimTime> {
    let ttl = job.spec.ttl_seconds_after_finished?;
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let finished = ["Complete", "Failed"].iter().find_map(|t| {
        find_condition(&job.status.conditions, t)
            .filter(|c| c.status == ConditionStatus::True)
            .and_then(|c| c.last_transition_time)
    })?;
    Some(
        finished
            .0
            .saturating_add(SimDuration::from_secs(ttl.max(0) as u64)),
    )
}

/// The component.
#[derive(Default)]
pub struct TtlAfterFinishedController {
    jobs: BTreeMap<ObjectKey, Arc<Object>>,
    queue: WorkQueue<ObjectKey>,
}

impl TtlAfterFinishedController {
    pub fn new() -> Self {
        Self::default()
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(Object::Job(cached)) = self.jobs.get(key).map(|o| &**o) else {
            return;
        };
        let Some(at) = expires_at(cached) else { return };
        if at > now {
            self.queue
                .add_after(key.clone(), at.saturating_since(now), ctx);
            return;
        }
        let Some(fresh) = ctx.get(key) else { return };
        let Object::Job(job) = &*fresh else { return };
        match expires_at(job) {
            Some(at) if at <= now => {}
            Some(at) => {
                self.queue
                    .add_after(key.clone(), at.saturating_since(now), ctx);
                return;
            }
            None => return,
        }
        let opts = DeleteOptions {
            propagation: Propagation::Foreground,
            precondition_uid: Some(job.metadata.uid.clone()),
            precondition_resource_version: Some(job.metadata.resource_version),
            ..DeleteOptions::default()
        };
        if ctx.delete(key, &opts).is_err() {
            self.queue.add_rate_limited(key.clone(), ctx);
        } else {
            self.queue.forget(key);
        }
    }
}

impl Component for TtlAfterFinishedController {
    fn name(&self) -> String {
        "ttl-after-finished-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![WatchFilter::kinds(&[Kind::Job])]
    }

    fn on_watch(&mut self, _watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        if event.type_ == WatchEventType::Deleted {
            self.jobs.remove(&key);
            return;
        }
        self.jobs.insert(key.clone(), event.object.clone());
        if let Object::Job(j) = &*event.object
            && expires_at(j).is_some()
        {
            self.queue.add(key, ctx);
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        for key in self.queue.on_timer(token, ctx).unwrap_or_default() {
            self.sync(&key, ctx);
        }
    }
}
