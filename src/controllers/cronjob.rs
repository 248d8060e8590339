//! The CronJob controller (one component named `cronjob-controller`), after
//! `pkg/controller/cronjob/cronjob_controllerv2.go` and `utils.go`, with schedules from
//! [`crate::api::cron`] (sim time 0 is 1970-01-01T00:00:00Z, UTC).
//!
//! - **Queue.** A CronJob is synced when it is added or changed and when one of its Jobs
//!   changes; each sync requeues it for its next schedule time plus 100 ms
//!   (`nextScheduleDelta`).
//! - **Sync** (`syncCronJob`). Finished Jobs leave `status.active` (event `SawCompletedJob`,
//!   `lastSuccessfulTime` from Complete Jobs), active entries whose Job is gone are dropped
//!   (`MissingJob`), an unfinished owned Job not in the list is reported (`UnexpectedJob`).
//!   Then, unless suspended: the most recent unmet schedule time after `lastScheduleTime`
//!   (or creation, or now − `startingDeadlineSeconds`) is found (more than 100 missed:
//!   `TooManyMissedTimes`); past its starting deadline it is skipped (`MissSchedule`); with
//!   `concurrencyPolicy: Forbid` and an active Job it is skipped (`JobAlreadyActive`); with
//!   `Replace` the active Jobs are deleted first (`SuccessfulDelete`). The Job is named
//!   `<cronjob>-<scheduled time in Unix minutes>`, annotated
//!   `batch.kubernetes.io/cronjob-scheduled-timestamp` (RFC 3339), owned by the CronJob
//!   (`SuccessfulCreate` "Created job <name>"), and added to `status.active` with
//!   `lastScheduleTime`.
//! - **History** (`cleanupFinishedJobs`): the oldest (by `startTime`, then name) Complete Jobs
//!   beyond `successfulJobsHistoryLimit` (default 3) and Failed ones beyond
//!   `failedJobsHistoryLimit` (default 1) are deleted (`SuccessfulDelete` "Deleted job ...").
//!
//! Simplifications: only UTC (`timeZone` must be unset or UTC); the Job's
//! creationTimestamp is the time of the create, not the scheduled time; status writes are
//! not retried.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::cron::{Schedule, rfc3339};
use crate::api::meta::{ConditionStatus, Time, find_condition};
use crate::api::objects::workloads::{ConcurrencyPolicy, CronJob, Job, ObjectReference};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::store::Propagation;
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{SimDuration, SimTime};

use super::pods::controller_ref;
use super::workqueue::WorkQueue;

/// Upstream `nextScheduleDelta`: syncs come this long after a schedule time.
pub const NEXT_SCHEDULE_DELTA: SimDuration = SimDuration::from_millis(100);
/// More missed schedules than this are reported (`TooManyMissedTimes`).
pub const MANY_MISSED: u64 = 100;
/// The annotation with a Job's scheduled time.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

const WATCH_CRONJOBS: usize = 0;
const WATCH_JOBS: usize = 1;

/// The most recent schedule time at or before `now` after `earliest`, and how many were
/// missed (`mostRecentScheduleTime`, counting by walking the schedule; bounded).
pub fn most_recent_schedule(
    schedule: &Schedule,
    earliest: SimTime,
    now: SimTime,
) -> (Option<SimTime>, u64) {
    let mut recent = None;
    let mut missed = 0u64;
    let mut t = earliest;
    // Bounded: beyond 100,000 missed times the count only says "many".
    while missed < 100_000 {
        match schedule.next(t) {
            Some(n) if n <= now => {
                recent = Some(n);
                missed += 1;
                t = n;
            }
            _ => break,
        }
    }
    (recent, missed)
}

fn finished_condition(job: &Job) -> Option<&'static str> {
    ["Complete", "Failed"].into_iter().find(|t| {
        find_condition(&job.status.conditions, t).is_some_and(|c| c.status == ConditionStatus::True)
    })
}

/// The component.
#[derive(Default)]
pub struct CronJobController {
    cronjobs: BTreeMap<ObjectKey, Arc<Object>>,
    jobs: BTreeMap<ObjectKey, Arc<Object>>,
    queue: WorkQueue<ObjectKey>,
}

impl CronJobController {
    pub fn new() -> Self {
        Self::default()
    }

    fn owner_of(&self, job: &Object) -> Option<ObjectKey> {
        let meta = job.meta();
        let r = meta.controller_ref()?;
        if r.kind != "CronJob" {
            return None;
        }
        let key = ObjectKey::new(Kind::CronJob, meta.namespace.clone(), r.name.clone());
        (self.cronjobs.get(&key)?.meta().uid == r.uid).then_some(key)
    }

    /// The earliest time the next sync must look from (`mostRecentScheduleTime`'s start).
    fn earliest(cj: &CronJob, now: SimTime, with_deadline: bool) -> SimTime {
        let mut earliest = cj
            .status
            .last_schedule_time
            .map_or(cj.metadata.creation_timestamp.0, |t| t.0);
        if with_deadline && let Some(sds) = cj.spec.starting_deadline_seconds {
            let deadline = SimTime::from_nanos(
                now.as_nanos()
                    .saturating_sub(SimDuration::from_secs(sds.max(0) as u64).as_nanos()),
            );
            earliest = earliest.max(deadline);
        }
        earliest
    }

    fn record(ctx: &mut Context<'_>, type_: EventType, reason: &str, obj: &str, msg: String) {
        let now = ctx.now();
        ctx.record(EventRecord::new(now, type_, reason, obj.to_string(), msg));
    }

    fn delete_job(ctx: &mut Context<'_>, cj_ref: &str, key: &ObjectKey, uid: &str) -> bool {
        let opts = DeleteOptions {
            propagation: Propagation::Background,
            precondition_uid: Some(uid.to_string()),
            ..DeleteOptions::default()
        };
        match ctx.delete(key, &opts) {
            Ok(_) => {
                Self::record(
                    ctx,
                    EventType::Normal,
                    "SuccessfulDelete",
                    cj_ref,
                    format!("Deleted job {}", key.name),
                );
                true
            }
            Err(e) => {
                Self::record(
                    ctx,
                    EventType::Warning,
                    "FailedDelete",
                    cj_ref,
                    format!("Deleted job: {e}"),
                );
                false
            }
        }
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(obj) = self.cronjobs.get(key).cloned() else {
            return;
        };
        let Object::CronJob(original) = &*obj else {
            return;
        };
        let mut cj = original.clone();
        let cj_ref = format!("CronJob/{}/{}", key.namespace, key.name);
        let owned: Vec<(ObjectKey, Job)> = self
            .jobs
            .range(ObjectKey::new(Kind::Job, key.namespace.clone(), String::new())..)
            .take_while(|(k, _)| k.kind == Kind::Job && k.namespace == key.namespace)
            .filter_map(|(k, o)| match &**o {
                Object::Job(j)
                    if j.metadata
                        .controller_ref()
                        .is_some_and(|r| r.uid == cj.metadata.uid) =>
                {
                    Some((k.clone(), j.clone()))
                }
                _ => None,
            })
            .collect();

        let mut children = BTreeSet::new();
        for (_, j) in &owned {
            children.insert(j.metadata.uid.clone());
            let in_active = cj.status.active.iter().any(|a| a.uid == j.metadata.uid);
            let finished = finished_condition(j);
            match (in_active, finished) {
                (false, None) => Self::record(
                    ctx,
                    EventType::Warning,
                    "UnexpectedJob",
                    &cj_ref,
                    format!(
                        "Saw a job that the controller did not create or forgot: {}",
                        j.metadata.name
                    ),
                ),
                (true, Some(cond)) => {
                    cj.status.active.retain(|a| a.uid != j.metadata.uid);
                    Self::record(
                        ctx,
                        EventType::Normal,
                        "SawCompletedJob",
                        &cj_ref,
                        format!("Saw completed job: {}, condition: {cond}", j.metadata.name),
                    );
                }
                _ => {}
            }
            if finished == Some("Complete")
                && let Some(done) = j.status.completion_time
                && cj.status.last_successful_time.is_none_or(|t| done.0 > t.0)
            {
                cj.status.last_successful_time = Some(done);
            }
        }
        let missing: Vec<ObjectReference> = cj
            .status
            .active
            .iter()
            .filter(|a| !children.contains(&a.uid))
            .filter(|a| {
                ctx.get(&ObjectKey::new(
                    Kind::Job,
                    a.namespace.clone(),
                    a.name.clone(),
                ))
                .is_none()
            })
            .cloned()
            .collect();
        for m in missing {
            Self::record(
                ctx,
                EventType::Normal,
                "MissingJob",
                &cj_ref,
                format!("Active job went missing: {}", m.name),
            );
            cj.status.active.retain(|a| a.uid != m.uid);
        }

        let mut requeue: Option<SimDuration> = None;
        if cj.metadata.deletion_timestamp.is_none() && cj.spec.suspend != Some(true) {
            match Schedule::parse(&cj.spec.schedule) {
                Err(e) => Self::record(
                    ctx,
                    EventType::Warning,
                    "UnparseableSchedule",
                    &cj_ref,
                    format!("unparseable schedule: {:?} : {e}", cj.spec.schedule),
                ),
                Ok(schedule) => {
                    requeue = self.schedule_job(key, &obj, &mut cj, &schedule, &cj_ref, ctx);
                }
            }
        }

        // History limits (`cleanupFinishedJobs`), on the Jobs seen at the start of the sync.
        let mut complete: Vec<&(ObjectKey, Job)> = Vec::new();
        let mut failed: Vec<&(ObjectKey, Job)> = Vec::new();
        for e in &owned {
            match finished_condition(&e.1) {
                Some("Complete") => complete.push(e),
                Some(_) => failed.push(e),
                None => {}
            }
        }
        for (mut list, limit) in [
            (complete, cj.spec.successful_jobs_history_limit),
            (failed, cj.spec.failed_jobs_history_limit),
        ] {
            let Some(limit) = limit else { continue };
            let excess = list.len().saturating_sub(limit.max(0) as usize);
            if excess == 0 {
                continue;
            }
            // `byJobStartTime`: unset start times last, then name.
            list.sort_by(|a, b| {
                let (sa, sb) = (a.1.status.start_time, b.1.status.start_time);
                match (sa, sb) {
                    (Some(x), Some(y)) if x.0 != y.0 => x.0.cmp(&y.0),
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    _ => a.1.metadata.name.cmp(&b.1.metadata.name),
                }
            });
            for (jk, j) in list.into_iter().take(excess) {
                if Self::delete_job(ctx, &cj_ref, jk, &j.metadata.uid) {
                    cj.status.active.retain(|a| a.uid != j.metadata.uid);
                }
            }
        }

        if cj.status != original.status {
            let status = cj.status.clone();
            let uid = cj.metadata.uid.clone();
            let _ = ctx.patch(key, |o| {
                let Object::CronJob(c) = o else { return false };
                if c.metadata.uid != uid || c.status == status {
                    return false;
                }
                c.status = status.clone();
                true
            });
        }
        if let Some(d) = requeue {
            self.queue.add_after(key.clone(), d, ctx);
        }
    }

    /// The scheduling half of `syncCronJob`; returns when to sync again.
    fn schedule_job(
        &mut self,
        key: &ObjectKey,
        obj: &Object,
        cj: &mut CronJob,
        schedule: &Schedule,
        cj_ref: &str,
        ctx: &mut Context<'_>,
    ) -> Option<SimDuration> {
        let now = ctx.now();
        // `nextScheduleTimeDuration` (without the starting deadline).
        let next_sync = |cj: &CronJob| -> Option<SimDuration> {
            let earliest = Self::earliest(cj, now, false);
            let (recent, _) = most_recent_schedule(schedule, earliest, now);
            let next = schedule.next(recent.unwrap_or(earliest))?;
            Some(
                next.saturating_add(NEXT_SCHEDULE_DELTA)
                    .saturating_since(now),
            )
        };
        let (scheduled, missed) =
            most_recent_schedule(schedule, Self::earliest(cj, now, true), now);
        let Some(scheduled) = scheduled else {
            return next_sync(cj);
        };
        if missed > MANY_MISSED {
            Self::record(
                ctx,
                EventType::Warning,
                "TooManyMissedTimes",
                cj_ref,
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
            );
        }
        if let Some(sds) = cj.spec.starting_deadline_seconds
            && scheduled.saturating_add(SimDuration::from_secs(sds.max(0) as u64)) < now
        {
            Self::record(
                ctx,
                EventType::Warning,
                "MissSchedule",
                cj_ref,
                format!(
                    "Missed scheduled time to start a job: {}",
                    rfc3339(scheduled)
                ),
            );
            return next_sync(cj);
        }
        let minutes = scheduled.as_nanos() / 1_000_000_000 / 60;
        let name = format!("{}-{minutes}", key.name);
        if cj.status.active.iter().any(|a| a.name == name)
            || cj
                .status
                .last_schedule_time
                .is_some_and(|t| t.0 == scheduled)
        {
            return next_sync(cj);
        }
        if cj.spec.concurrency_policy == ConcurrencyPolicy::Forbid && !cj.status.active.is_empty() {
            Self::record(
                ctx,
                EventType::Normal,
                "JobAlreadyActive",
                cj_ref,
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            );
            return next_sync(cj);
        }
        if cj.spec.concurrency_policy == ConcurrencyPolicy::Replace {
            for a in cj.status.active.clone() {
                let jk = ObjectKey::new(Kind::Job, a.namespace.clone(), a.name.clone());
                let live = ctx.get(&jk)?;
                if !Self::delete_job(ctx, cj_ref, &jk, &live.meta().uid) {
                    return None;
                }
                cj.status.active.retain(|x| x.uid != a.uid);
            }
        }
        // `getJobFromTemplate2`.
        let template = &cj.spec.job_template;
        let mut meta = template.metadata.clone();
        meta.name = name.clone();
        meta.generate_name.clear();
        meta.namespace = key.namespace.clone();
        meta.annotations
            .insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled));
        meta.owner_references = vec![controller_ref("batch/v1", "CronJob", obj)];
        let job = Job {
            metadata: meta,
            spec: template.spec.clone(),
            status: Default::default(),
        };
        let created = match ctx.create(Object::Job(job)) {
            Ok(j) => {
                Self::record(
                    ctx,
                    EventType::Normal,
                    "SuccessfulCreate",
                    cj_ref,
                    format!("Created job {name}"),
                );
                j
            }
            Err(crate::api::ApiError::AlreadyExists { .. }) => {
                let jk = ObjectKey::new(Kind::Job, key.namespace.clone(), name.clone());
                let existing = ctx.get(&jk)?;
                let ours = existing
                    .meta()
                    .controller_ref()
                    .is_some_and(|r| r.uid == cj.metadata.uid);
                if !ours
                    || cj
                        .status
                        .active
                        .iter()
                        .any(|a| a.uid == existing.meta().uid)
                {
                    return None;
                }
                existing
            }
            Err(e) => {
                Self::record(
                    ctx,
                    EventType::Warning,
                    "FailedCreate",
                    cj_ref,
                    format!("Error creating job: {e}"),
                );
                self.queue.add_rate_limited(key.clone(), ctx);
                return None;
            }
        };
        cj.status.active.push(ObjectReference {
            kind: "Job".into(),
            namespace: key.namespace.clone(),
            name: created.meta().name.clone(),
            uid: created.meta().uid.clone(),
            api_version: "batch/v1".into(),
        });
        cj.status.last_schedule_time = Some(Time(scheduled));
        next_sync(cj)
    }
}

impl Component for CronJobController {
    fn name(&self) -> String {
        "cronjob-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::CronJob]),
            WatchFilter::kinds(&[Kind::Job]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        let deleted = event.type_ == WatchEventType::Deleted;
        match watch {
            WATCH_CRONJOBS => {
                if deleted {
                    self.cronjobs.remove(&key);
                } else {
                    self.cronjobs.insert(key.clone(), event.object.clone());
                    self.queue.add(key, ctx);
                }
            }
            WATCH_JOBS => {
                if deleted {
                    self.jobs.remove(&key);
                } else {
                    self.jobs.insert(key, event.object.clone());
                }
                if let Some(owner) = self.owner_of(&event.object) {
                    self.queue.add(owner, ctx);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        for key in self.queue.on_timer(token, ctx).unwrap_or_default() {
            self.sync(&key, ctx);
        }
    }
}
