//! The Job controller (one component named `job-controller`), after
//! `pkg/controller/job/job_controller.go`, `backoff_utils.go` and `indexed_job_utils.go`
//! (2025 master: terminal conditions delayed behind `FailureTarget` / `SuccessCriteriaMet`
//! until no pod is terminating, as with JobPodReplacementPolicy GA).
//!
//! - **Queue.** A Job's creation or spec change syncs it at once; pod events and Job status
//!   updates sync it after `syncJobBatchPeriod` (1 s), as upstream batches them.
//! - **Sync** (`syncJob`). Claims pods (adopt/release by selector), counts newly finished
//!   pods (Succeeded, or Failed / being deleted and not Succeeded: `isPodFailed`), updates
//!   the pod-failure back-off record, then decides the Job's fate: `failed > backoffLimit`
//!   (or, for `restartPolicy: OnFailure`, restarts of running pods ≥ backoffLimit) ⇒
//!   `FailureTarget`/`BackoffLimitExceeded`; past `activeDeadlineSeconds` ⇒
//!   `FailureTarget`/`DeadlineExceeded` (a sync is queued at the deadline); otherwise
//!   `manageJob`. A failing Job has its active pods deleted; once no pod is terminating the
//!   `Failed` condition is added with a Warning event of the same reason. Enough successes
//!   with no active pod ⇒ `SuccessCriteriaMet`, then `Complete` (+ `completionTime`, event
//!   `Completed`).
//! - **manageJob.** `wantActive` = `completions − succeeded` clamped to `[0, parallelism]`
//!   (work-queue Jobs without completions: `parallelism` until a success, then the current
//!   active count). Excess active pods are deleted (at most 500, not-ready and unscheduled
//!   first) and nothing is created in that sync; missing pods are created (at most 500) in
//!   slow-start batches 1, 2, 4, … once the back-off has passed, else the sync is requeued
//!   at its end (upstream then reports `active: 0` for that sync; kept).
//! - **Back-off** ([`BackoffRecord`]): failures after the last success, `10 s · 2^(n−1)`
//!   capped at `MaxJobPodFailureBackOff` = 10 min (360 s before about v1.26), counted from
//!   the last failure's finish time ([`finished_time`]).
//! - **Indexed** Jobs: one pod per index in `[0, completions)`, lowest pending index first,
//!   annotation and label `batch.kubernetes.io/job-completion-index`, `hostname`
//!   `<job>-<index>`, generateName `<job>-<index>-`; succeeded indexes in
//!   `status.completedIndexes` as a range string (`0-3,5`); duplicate or out-of-range active
//!   pods are deleted first.
//! - **Suspend.** A suspended Job deletes its active pods and gets `Suspended=True`
//!   (event `Suspended`); resuming resets `startTime` (event `Resumed`).
//!
//! Simplifications (also in docs/semantics.md): pods carry no
//! `batch.kubernetes.io/job-tracking` finalizer; instead the controller remembers which pod
//! UIDs it has counted, and keeps a tombstone of every owned pod deleted before it was
//! counted (what the finalizer would have held), so status counters match upstream's.
//! `podFailurePolicy`, `successPolicy`, `backoffLimitPerIndex`/`maxFailedIndexes`,
//! `podReplacementPolicy: Failed` and `managedBy` are not modelled; the env variable
//! `JOB_COMPLETION_INDEX` is not set (container env is not modelled). Status writes are not
//! retried. The Job event order within one sync follows upstream, but events carry no
//! sim-time delay.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::meta::{Condition, ConditionStatus, Time, find_condition};
use crate::api::objects::pod::{Pod, PodPhase, RestartPolicy};
use crate::api::objects::workloads::{CompletionMode, Job, JobStatus};
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::selector::{Selector, selector_from_option};
use crate::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{SimDuration, SimTime};

use super::pods::EXPECTATIONS_TIMEOUT;
use super::pods::{
    claim_pods, controller_ref, create_pod, is_active, is_ready, pod_from_template, pod_key,
    slow_start_batch,
};
use super::rank::RankedPod;
use super::workqueue::WorkQueue;

/// Upstream `DefaultJobPodFailureBackOff`.
pub const DEFAULT_POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// Upstream `MaxJobPodFailureBackOff` (current code; older releases capped at 360 s).
pub const MAX_POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(600);
/// Upstream `syncJobBatchPeriod`: pod events sync the Job this much later.
pub const SYNC_JOB_BATCH_PERIOD: SimDuration = SimDuration::from_secs(1);
/// Upstream `MaxPodCreateDeletePerSync`.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// Upstream `DefaultJobApiBackOff` and `MaxJobApiBackOff`: the retry back-off of a Job
/// whose sync failed (e.g. a failed pod create).
pub const API_BACKOFF: SimDuration = SimDuration::from_secs(1);
pub const MAX_API_BACKOFF: SimDuration = SimDuration::from_secs(60);
/// Upstream `MaxUncountedPods`: how many finished pods one sync moves into the counters.
/// kubesim counts without `status.uncountedTerminatedPods` (no tracking finalizers), so
/// this bound has no effect; it is kept for reference.
pub const MAX_UNCOUNTED_PODS: usize = 500;
/// Upstream `DefaultBackoffLimit` (`pkg/apis/batch/v1/defaults.go`).
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;
/// Annotation and label with an Indexed Job pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Upstream's limit on completions for Indexed Jobs; index sets are never larger.
pub const MAX_INDEXED_COMPLETIONS: i32 = 100_000;
/// Upstream `names.MaxGeneratedNameLength`.
const MAX_GENERATED_NAME_LENGTH: usize = 63 - 5;

const WATCH_JOBS: usize = 0;
const WATCH_PODS: usize = 1;

const COND_COMPLETE: &str = "Complete";
const COND_FAILED: &str = "Failed";
const COND_FAILURE_TARGET: &str = "FailureTarget";
const COND_SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
const COND_SUSPENDED: &str = "Suspended";

/// `getRemainingTimeForFailuresCount`: how long pod creation still waits after
/// `failures` failures, the last one `since_last_failure` ago.
pub fn remaining_backoff(
    failures: i32,
    since_last_failure: SimDuration,
    default_backoff: SimDuration,
    max_backoff: SimDuration,
) -> SimDuration {
    if failures <= 0 {
        return SimDuration::ZERO;
    }
    let mut backoff = default_backoff;
    for _ in 1..failures {
        backoff = backoff.saturating_mul(2);
        if backoff >= max_backoff {
            backoff = max_backoff;
            break;
        }
    }
    if backoff < since_last_failure {
        SimDuration::ZERO
    } else {
        SimDuration::from_nanos(backoff.as_nanos() - since_last_failure.as_nanos())
    }
}

/// `getRemainingTimePerIndex` for `backoffLimitPerIndex` (not otherwise modelled): the
/// failure count is the index's failure-count annotation plus its ignored-failure count
/// plus one.
pub fn remaining_backoff_per_index(
    index_failure_count: i32,
    index_ignored_failure_count: i32,
    since_last_failure: SimDuration,
    default_backoff: SimDuration,
    max_backoff: SimDuration,
) -> SimDuration {
    let failures = index_failure_count
        .saturating_add(index_ignored_failure_count)
        .saturating_add(1);
    remaining_backoff(failures, since_last_failure, default_backoff, max_backoff)
}

/// `getFinishedTime`: the latest container finish time if every container terminated, else
/// the Ready=False transition time, else `deletionTimestamp − grace`, else creation time.
pub fn finished_time(pod: &Pod) -> SimTime {
    let mut latest: Option<SimTime> = None;
    let mut all_done = true;
    for c in &pod.status.container_statuses {
        match c.state.terminated.as_ref().and_then(|t| t.finished_at) {
            Some(t) => latest = Some(latest.map_or(t.0, |l: SimTime| l.max(t.0))),
            None => {
                all_done = false;
                break;
            }
        }
    }
    // Restartable init containers (sidecars) finish after the app containers.
    let sidecars: BTreeSet<&str> = pod
        .spec
        .init_containers
        .iter()
        .filter(|c| {
            c.restart_policy == Some(crate::api::objects::pod::ContainerRestartPolicy::Always)
        })
        .map(|c| c.name.as_str())
        .collect();
    if all_done && latest.is_some() {
        for c in &pod.status.init_container_statuses {
            if !sidecars.contains(c.name.as_str()) {
                continue;
            }
            match c.state.terminated.as_ref().and_then(|t| t.finished_at) {
                Some(t) => latest = latest.map(|l| l.max(t.0)),
                None => {
                    all_done = false;
                    break;
                }
            }
        }
    }
    if all_done && let Some(t) = latest {
        return t;
    }
    if let Some(c) = find_condition(&pod.status.conditions, "Ready")
        && c.status == ConditionStatus::False
        && let Some(t) = c.last_transition_time
    {
        return t.0;
    }
    if let Some(d) = pod.metadata.deletion_timestamp {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or(0)
            .max(0) as u64;
        return SimTime::from_nanos(
            d.0.as_nanos()
                .saturating_sub(SimDuration::from_secs(grace).as_nanos()),
        );
    }
    pod.metadata.creation_timestamp.0
}

/// The pod-failure back-off of one Job (upstream `backoffRecord`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: i32,
    pub last_failure_time: Option<SimTime>,
}

impl BackoffRecord {
    /// `newBackoffRecord`: the record after the pods that newly succeeded and failed (by
    /// their finish times). A success resets the count to the failures that finished after
    /// the latest success.
    pub fn next(&self, mut succeeded: Vec<SimTime>, mut failed: Vec<SimTime>) -> BackoffRecord {
        succeeded.sort();
        failed.sort();
        let Some(&last_success) = succeeded.last() else {
            let Some(&last_failure) = failed.last() else {
                return self.clone();
            };
            return BackoffRecord {
                failures_after_last_success: self
                    .failures_after_last_success
                    .saturating_add(failed.len() as i32),
                last_failure_time: Some(last_failure),
            };
        };
        let mut record = BackoffRecord::default();
        for &t in failed.iter().rev() {
            if t <= last_success {
                break;
            }
            record.last_failure_time.get_or_insert(t);
            record.failures_after_last_success += 1;
        }
        record
    }

    /// Time left before pods may be created again.
    pub fn remaining(&self, now: SimTime) -> SimDuration {
        let Some(last) = self.last_failure_time else {
            return SimDuration::ZERO;
        };
        remaining_backoff(
            self.failures_after_last_success,
            now.saturating_since(last),
            DEFAULT_POD_FAILURE_BACKOFF,
            MAX_POD_FAILURE_BACKOFF,
        )
    }
}

/// An Indexed Job pod's completion index (`getCompletionIndex`): the annotation as a
/// non-negative integer.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .get(COMPLETION_INDEX)
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|i| *i >= 0)
}

/// Indexes as upstream's range string: `1,3-5,7`.
pub fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut out = String::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if first == last {
            out.push_str(&first.to_string());
        } else {
            out.push_str(&format!("{first}-{last}"));
        }
    }
    out
}

/// `parseIndexesFromString`: the indexes below `completions` (and below
/// [`MAX_INDEXED_COMPLETIONS`]); malformed parts are skipped.
pub fn parse_indexes(s: &str, completions: i32) -> BTreeSet<i32> {
    let limit = completions.min(MAX_INDEXED_COMPLETIONS);
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        let (Ok(a), Ok(b)) = (a, b) else { continue };
        for i in a.max(0)..=b.min(limit - 1) {
            out.insert(i);
        }
    }
    out
}

/// `controller.ActivePods.Less`: the order in which a Job deletes surplus pods (unscheduled,
/// then Pending < Unknown < Running, not ready, ready for less time, more restarts, newer).
fn active_pods_less(a: &RankedPod, b: &RankedPod) -> Ordering {
    fn phase_ordinal(p: PodPhase) -> u8 {
        match p {
            PodPhase::Pending => 0,
            PodPhase::Unknown => 1,
            PodPhase::Running => 2,
            _ => 3,
        }
    }
    // `afterOrZero`: a zero time sorts first, else the later one.
    fn after_or_zero(x: Option<SimTime>, y: Option<SimTime>) -> Ordering {
        match (x, y) {
            (None, None) => Ordering::Equal,
            (None, _) => Ordering::Less,
            (_, None) => Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x),
        }
    }
    if a.assigned != b.assigned {
        return a.assigned.cmp(&b.assigned);
    }
    let (pa, pb) = (phase_ordinal(a.phase), phase_ordinal(b.phase));
    if pa != pb {
        return pa.cmp(&pb);
    }
    if a.ready != b.ready {
        return a.ready.cmp(&b.ready);
    }
    if a.ready && b.ready && a.ready_since != b.ready_since {
        return after_or_zero(a.ready_since, b.ready_since);
    }
    if a.restarts != b.restarts {
        return b.restarts.cmp(&a.restarts);
    }
    after_or_zero(a.created, b.created)
}

fn sort_active(pods: &mut [&Pod]) {
    // Stable: pods equal under `Less` keep name order.
    pods.sort_by(|a, b| active_pods_less(&RankedPod::of(a, 0), &RankedPod::of(b, 0)));
}

/// `activePodsForRemoval`: for Indexed Jobs, first the pods without a valid index and all
/// but one pod of each repeated index; then, in `ActivePods` order, enough to remove
/// `rm_at_least`.
fn active_pods_for_removal<'a>(
    indexed: bool,
    completions: i32,
    pods: &[&'a Pod],
    rm_at_least: usize,
) -> Vec<&'a Pod> {
    let mut rm: Vec<&Pod> = Vec::new();
    let mut left: Vec<&Pod> = Vec::new();
    if indexed {
        let mut by_index: BTreeMap<i32, Vec<&Pod>> = BTreeMap::new();
        for p in pods {
            match completion_index(p) {
                Some(i) if i < completions => by_index.entry(i).or_default().push(p),
                _ => rm.push(p),
            }
        }
        for (_, mut same) in by_index {
            sort_active(&mut same);
            let keep = same.pop();
            rm.extend(same);
            left.extend(keep);
        }
    } else {
        left = pods.to_vec();
    }
    if rm.len() < rm_at_least {
        sort_active(&mut left);
        let more = (rm_at_least - rm.len()).min(left.len());
        rm.extend(left.drain(..more));
    }
    rm
}

/// `firstPendingIndexes`: the lowest `count` indexes in `[0, completions)` neither
/// succeeded nor held by an active pod.
fn first_pending_indexes(non_pending: &BTreeSet<i32>, count: usize, completions: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut candidate = 0;
    // Bounded by |non_pending| + count.
    while candidate < completions.min(MAX_INDEXED_COMPLETIONS) && out.len() < count {
        if !non_pending.contains(&candidate) {
            out.push(candidate);
        }
        candidate += 1;
    }
    out
}

/// `podGenerateNameWithIndex`.
fn generate_name_with_index(job: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let mut prefix = format!("{job}{suffix}");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        let mut cut = MAX_GENERATED_NAME_LENGTH - suffix.len();
        while !job.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix = format!("{}{suffix}", &job[..cut]);
    }
    prefix
}

/// `isPodFailed` (podReplacementPolicy TerminatingOrFailed, no podFailurePolicy): Failed,
/// or being deleted and not Succeeded.
fn is_pod_failed(pod: &Pod) -> bool {
    pod.status.phase == PodPhase::Failed
        || (pod.metadata.deletion_timestamp.is_some() && pod.status.phase != PodPhase::Succeeded)
}

fn is_terminating(pod: &Pod) -> bool {
    !pod.status.phase.is_terminal() && pod.metadata.deletion_timestamp.is_some()
}

fn condition_true<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a Condition> {
    find_condition(&status.conditions, type_).filter(|c| c.status == ConditionStatus::True)
}

/// `util.IsJobFinished`: Complete or Failed is True.
pub fn is_finished(job: &Job) -> bool {
    condition_true(&job.status, COND_COMPLETE).is_some()
        || condition_true(&job.status, COND_FAILED).is_some()
}

fn new_condition(
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: SimTime,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: Some(Time(now)),
        last_probe_time: Some(Time(now)),
        ..Condition::default()
    }
}

/// `ensureJobConditionStatus`: updates the condition of `type_` or appends it (never
/// appends a False one). Returns whether the list changed.
fn ensure_condition(
    list: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: SimTime,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status || c.reason != reason || c.message != message {
            *c = new_condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != ConditionStatus::False {
        list.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure`, the restarts of running
/// and pending pods reach backoffLimit (any restart when it is 0).
fn past_backoff_limit_on_failure(job: &Job, pods: &[&Pod], backoff_limit: i32) -> bool {
    if job.spec.template.spec.restart_policy != RestartPolicy::OnFailure {
        return false;
    }
    let restarts: i64 = pods
        .iter()
        .filter(|p| matches!(p.status.phase, PodPhase::Running | PodPhase::Pending))
        .flat_map(|p| {
            p.status
                .init_container_statuses
                .iter()
                .chain(p.status.container_statuses.iter())
        })
        .map(|c| i64::from(c.restart_count))
        .sum();
    if backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= i64::from(backoff_limit)
    }
}

/// Outstanding creates and deletes of one Job (upstream `ControllerExpectations`: counts).
#[derive(Clone, Debug, Default)]
struct Expectations {
    add: i64,
    del: i64,
    set_at: SimTime,
}

impl Expectations {
    fn satisfied(&self, now: SimTime) -> bool {
        (self.add <= 0 && self.del <= 0) || now.saturating_since(self.set_at) > EXPECTATIONS_TIMEOUT
    }
}

/// What the controller remembers per Job besides the cache.
#[derive(Default)]
struct JobState {
    expectations: Expectations,
    backoff: BackoffRecord,
    /// UIDs of pods already counted in `status.succeeded`/`failed` (what removing the
    /// tracking finalizer records upstream).
    counted: BTreeSet<String>,
    /// Owned pods deleted before they were counted, with their last state.
    tombstones: BTreeMap<String, Arc<Object>>,
}

/// The component.
pub struct JobController {
    jobs: BTreeMap<ObjectKey, Arc<Object>>,
    pods: super::pod_index::PodIndex,
    queue: WorkQueue<ObjectKey>,
    state: BTreeMap<ObjectKey, JobState>,
}

/// Counters `manageJob` adjusts (upstream `syncJobCtx`).
struct Counts {
    active: i32,
    ready: i32,
    terminating: i32,
}

impl Default for JobController {
    fn default() -> Self {
        JobController {
            jobs: BTreeMap::new(),
            pods: Default::default(),
            queue: WorkQueue::with_retry(API_BACKOFF, MAX_API_BACKOFF),
            state: BTreeMap::new(),
        }
    }
}

impl JobController {
    pub fn new() -> Self {
        Self::default()
    }

    /// The Job owning `pod` (controllerRef of kind Job with a known uid).
    fn owner_of(&self, pod: &Pod) -> Option<ObjectKey> {
        super::pods::owner_key(&self.jobs, pod, Kind::Job)
    }

    fn matching_jobs(&self, pod: &Pod) -> Vec<ObjectKey> {
        super::pods::owners_selecting(&self.jobs, pod, |o, p| match o {
            Object::Job(j) => selector_from_option(j.spec.selector.as_ref())
                .is_ok_and(|s| s.matches(&p.metadata.labels)),
            _ => false,
        })
    }

    fn job_finished(&self, key: &ObjectKey) -> bool {
        matches!(self.jobs.get(key).map(|o| &**o), Some(Object::Job(j)) if is_finished(j))
    }

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        let key = ObjectKey::of(&event.object);
        let owner = self.owner_of(pod);
        let deleted = event.type_ == WatchEventType::Deleted;
        if deleted {
            self.pods.remove(&key);
        } else {
            self.pods.insert(key, event.object.clone());
        }
        // `deletePod`: a pod being deleted or gone.
        if deleted || pod.metadata.deletion_timestamp.is_some() {
            let Some(o) = owner else { return };
            if self.job_finished(&o) {
                return;
            }
            let st = self.state.entry(o.clone()).or_default();
            st.expectations.del -= 1;
            if deleted && !st.counted.contains(&pod.metadata.uid) {
                // The tracking finalizer would have kept the pod until counted.
                let mut last = (*event.object).clone();
                let m = last.meta_mut();
                if m.deletion_timestamp.is_none() {
                    m.deletion_timestamp = Some(Time(ctx.now()));
                    m.deletion_grace_period_seconds = Some(0);
                }
                st.tombstones
                    .insert(pod.metadata.uid.clone(), Arc::new(last));
            }
            self.queue.add_after(o, SYNC_JOB_BATCH_PERIOD, ctx);
            return;
        }
        match event.type_ {
            WatchEventType::Added => match owner {
                Some(o) => {
                    self.state.entry(o.clone()).or_default().expectations.add -= 1;
                    self.queue.add_after(o, SYNC_JOB_BATCH_PERIOD, ctx);
                }
                None => {
                    for j in self.matching_jobs(pod) {
                        self.queue.add_after(j, SYNC_JOB_BATCH_PERIOD, ctx);
                    }
                }
            },
            _ => {
                let old = event.old.as_deref().and_then(|o| match o {
                    Object::Pod(p) => Some(p),
                    _ => None,
                });
                let ref_changed = old
                    .is_some_and(|o| o.metadata.controller_ref() != pod.metadata.controller_ref());
                if ref_changed && let Some(prev) = old.and_then(|o| self.owner_of(o)) {
                    self.queue.add_after(prev, SYNC_JOB_BATCH_PERIOD, ctx);
                }
                match owner {
                    Some(o) => self.queue.add_after(o, SYNC_JOB_BATCH_PERIOD, ctx),
                    None => {
                        let labels_changed =
                            old.is_some_and(|o| o.metadata.labels != pod.metadata.labels);
                        if labels_changed || ref_changed {
                            for j in self.matching_jobs(pod) {
                                self.queue.add_after(j, SYNC_JOB_BATCH_PERIOD, ctx);
                            }
                        }
                    }
                }
            }
        }
    }

    fn on_job(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let key = ObjectKey::of(&event.object);
        match event.type_ {
            WatchEventType::Added => {
                self.jobs.insert(key.clone(), event.object.clone());
                self.queue.add(key, ctx);
            }
            WatchEventType::Modified => {
                self.jobs.insert(key.clone(), event.object.clone());
                let (Object::Job(cur), Some(Object::Job(old))) =
                    (&*event.object, event.old.as_deref())
                else {
                    self.queue.add(key, ctx);
                    return;
                };
                if cur.metadata.generation == old.metadata.generation {
                    self.queue
                        .add_after(key.clone(), SYNC_JOB_BATCH_PERIOD, ctx);
                } else {
                    self.queue.add(key.clone(), ctx);
                }
                // A changed activeDeadlineSeconds gets its own sync at the new deadline.
                if let (Some(start), Some(ads)) =
                    (cur.status.start_time, cur.spec.active_deadline_seconds)
                    && old.spec.active_deadline_seconds != Some(ads)
                {
                    let deadline = start
                        .0
                        .saturating_add(SimDuration::from_secs(ads.max(0) as u64));
                    let left = deadline.saturating_since(ctx.now());
                    self.queue.add_after(key, left, ctx);
                }
            }
            WatchEventType::Deleted => {
                self.jobs.remove(&key);
                self.queue.add(key, ctx);
            }
        }
    }

    fn sync(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(obj) = self.jobs.get(key).cloned() else {
            self.state.remove(key);
            return;
        };
        let Object::Job(job) = &*obj else { return };
        if is_finished(job) {
            self.state.remove(key);
            return;
        }
        let now = ctx.now();
        let job_ref = format!("Job/{}/{}", key.namespace, key.name);
        let selector = selector_from_option(job.spec.selector.as_ref())
            .unwrap_or_else(|_| Selector::nothing());
        let satisfied = self
            .state
            .get(key)
            .is_none_or(|s| s.expectations.satisfied(now));

        let oref = controller_ref("batch/v1", "Job", &obj);
        let candidates = self.pods.claim_candidates(&key.namespace, &oref.uid);
        let owned = claim_pods(
            ctx,
            candidates,
            &selector,
            &oref,
            job.metadata.deletion_timestamp.is_some(),
            |_| true,
        );
        let st = self.state.entry(key.clone()).or_default();
        let tombstones: Vec<Arc<Object>> =
            std::mem::take(&mut st.tombstones).into_values().collect();
        let live: Vec<&Pod> = owned
            .iter()
            .filter_map(|o| match &**o {
                Object::Pod(p) => Some(p),
                _ => None,
            })
            .collect();
        let gone: Vec<&Pod> = tombstones
            .iter()
            .filter_map(|o| match &**o {
                Object::Pod(p) => Some(p),
                _ => None,
            })
            .collect();
        let all: Vec<&Pod> = live.iter().chain(gone.iter()).copied().collect();

        let indexed = job.spec.completion_mode == CompletionMode::Indexed;
        let completions = job.spec.completions;
        let index_limit = completions.unwrap_or(0);
        let valid_index =
            |p: &Pod| !indexed || completion_index(p).is_some_and(|i| i < index_limit);
        let active: Vec<&Pod> = live.iter().copied().filter(|p| is_active(p)).collect();
        let mut counts = Counts {
            active: active.len() as i32,
            ready: active.iter().filter(|p| is_ready(p)).count() as i32,
            terminating: live.iter().filter(|p| is_terminating(p)).count() as i32,
        };
        let new_succeeded: Vec<&Pod> = all
            .iter()
            .copied()
            .filter(|p| {
                p.status.phase == PodPhase::Succeeded
                    && !st.counted.contains(&p.metadata.uid)
                    && valid_index(p)
            })
            .collect();
        let new_failed: Vec<&Pod> = all
            .iter()
            .copied()
            .filter(|p| is_pod_failed(p) && !st.counted.contains(&p.metadata.uid) && valid_index(p))
            .collect();
        let mut succeeded = job.status.succeeded + new_succeeded.len() as i32;
        let failed = job.status.failed + new_failed.len() as i32;
        let mut status = job.status.clone();
        let suspended = job.spec.suspend;
        if status.start_time.is_none() && !suspended {
            status.start_time = Some(Time(now));
        }
        let new_backoff = st.backoff.next(
            new_succeeded.iter().map(|p| finished_time(p)).collect(),
            new_failed.iter().map(|p| finished_time(p)).collect(),
        );

        let backoff_limit = job.spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
        let mut finished: Option<Condition> =
            condition_true(&status, COND_SUCCESS_CRITERIA_MET).cloned();
        if finished.is_none()
            && let Some(target) = condition_true(&status, COND_FAILURE_TARGET)
        {
            finished = Some(new_condition(
                COND_FAILED,
                ConditionStatus::True,
                &target.reason,
                &target.message,
                now,
            ));
        }
        if finished.is_none() {
            let started = status.start_time.map(|t| t.0);
            let deadline = job
                .spec
                .active_deadline_seconds
                .zip(started)
                .map(|(ads, s)| s.saturating_add(SimDuration::from_secs(ads.max(0) as u64)));
            if failed > backoff_limit || past_backoff_limit_on_failure(job, &live, backoff_limit) {
                finished = Some(new_condition(
                    COND_FAILURE_TARGET,
                    ConditionStatus::True,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    now,
                ));
            } else if let Some(d) = deadline
                && !suspended
            {
                if now >= d {
                    finished = Some(new_condition(
                        COND_FAILURE_TARGET,
                        ConditionStatus::True,
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                        now,
                    ));
                } else {
                    self.queue
                        .add_after(key.clone(), d.saturating_since(now), ctx);
                }
            }
        }

        let mut succeeded_indexes = BTreeSet::new();
        if indexed {
            succeeded_indexes = parse_indexes(&status.completed_indexes, index_limit);
            succeeded_indexes.extend(new_succeeded.iter().filter_map(|p| completion_index(p)));
            succeeded = succeeded_indexes.len() as i32;
        }

        if finished.is_some() {
            // Remove the active pods of a failing Job.
            let (deleted, deleted_ready) = delete_pods(ctx, &active, &job_ref);
            if deleted != counts.active || !satisfied {
                finished = None;
            }
            counts.active -= deleted;
            counts.terminating += deleted;
            counts.ready -= deleted_ready;
        } else {
            let mut manage_called = false;
            if satisfied && job.metadata.deletion_timestamp.is_none() {
                self.manage_job(
                    key,
                    &obj,
                    job,
                    &active,
                    succeeded,
                    &succeeded_indexes,
                    &new_backoff,
                    &mut counts,
                    &job_ref,
                    ctx,
                );
                manage_called = true;
            }
            let complete = match completions {
                None => succeeded > 0 && counts.active == 0,
                Some(c) => succeeded >= c && counts.active == 0,
            };
            if complete {
                finished = Some(new_condition(
                    COND_SUCCESS_CRITERIA_MET,
                    ConditionStatus::True,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    now,
                ));
            } else if manage_called {
                let (state, reason, message, event) = if suspended {
                    (
                        ConditionStatus::True,
                        "JobSuspended",
                        "Job suspended",
                        "Suspended",
                    )
                } else {
                    (
                        ConditionStatus::False,
                        "JobResumed",
                        "Job resumed",
                        "Resumed",
                    )
                };
                if ensure_condition(
                    &mut status.conditions,
                    COND_SUSPENDED,
                    state,
                    reason,
                    message,
                    now,
                ) {
                    ctx.record(EventRecord::new(
                        now,
                        EventType::Normal,
                        event,
                        job_ref.clone(),
                        message.to_string(),
                    ));
                    if !suspended {
                        // activeDeadlineSeconds counts continuous activity.
                        status.start_time = Some(Time(now));
                    }
                }
            }
        }
        status.active = counts.active;
        status.ready = Some(counts.ready);
        status.terminating = Some(counts.terminating);

        // Count finished pods (upstream: when their tracking finalizer is removed).
        let st = self.state.entry(key.clone()).or_default();
        // What to restore if the status write is refused: the counts live in the status,
        // so pods counted here must be counted again at the retry.
        let before = (st.counted.clone(), st.backoff.clone());
        let failing = finished
            .as_ref()
            .is_some_and(|c| c.type_ != COND_SUCCESS_CRITERIA_MET);
        for p in &all {
            let uid = &p.metadata.uid;
            if st.counted.contains(uid) {
                continue;
            }
            if p.status.phase == PodPhase::Succeeded {
                st.counted.insert(uid.clone());
                if !indexed {
                    status.succeeded += 1;
                }
            } else if is_pod_failed(p) || failing {
                st.counted.insert(uid.clone());
                if valid_index(p) {
                    status.failed += 1;
                }
            }
        }
        if indexed {
            status.completed_indexes = format_indexes(&succeeded_indexes);
            status.succeeded = succeeded_indexes.len() as i32;
        }
        // Forget UIDs of pods that are gone for good.
        let present: BTreeSet<&str> = live.iter().map(|p| p.metadata.uid.as_str()).collect();
        st.counted.retain(|u| present.contains(u.as_str()));
        st.backoff = new_backoff;

        if let Some(c) = finished.take() {
            finished = Some(if c.type_ == COND_FAILURE_TARGET {
                status.conditions.push(c.clone());
                new_condition(
                    COND_FAILED,
                    ConditionStatus::True,
                    &c.reason,
                    &c.message,
                    now,
                )
            } else if c.type_ == COND_SUCCESS_CRITERIA_MET {
                if find_condition(&status.conditions, COND_SUCCESS_CRITERIA_MET).is_none() {
                    status.conditions.push(c.clone());
                }
                new_condition(
                    COND_COMPLETE,
                    ConditionStatus::True,
                    &c.reason,
                    &c.message,
                    now,
                )
            } else {
                c
            });
        }
        // `enactJobFinished`: only once no pod is terminating.
        let done = finished.filter(|_| counts.terminating == 0);
        if let Some(c) = &done {
            ensure_condition(
                &mut status.conditions,
                &c.type_,
                c.status,
                &c.reason,
                &c.message,
                now,
            );
            if c.type_ == COND_COMPLETE {
                status.completion_time = Some(Time(now));
            }
        }
        let written = ctx.patch(key, |o| {
            let Object::Job(j) = o else { return false };
            if j.metadata.uid != job.metadata.uid || j.status == status {
                return false;
            }
            j.status = status.clone();
            true
        });
        if matches!(written, Err(ref e) if !matches!(e, crate::api::ApiError::NotFound { .. })) {
            // Upstream's syncJob returns the error and the key is requeued with back-off
            // (found by the property tests: a status refused during a control-plane outage
            // was dropped with its pods marked counted, so the Job never completed).
            if let Some(st) = self.state.get_mut(key) {
                (st.counted, st.backoff) = before;
            }
            self.queue.add_rate_limited(key.clone(), ctx);
            return;
        }
        if let Some(c) = done {
            if c.type_ == COND_COMPLETE {
                if completions.is_some_and(|n| status.succeeded > n) {
                    ctx.record(EventRecord::new(
                        now,
                        EventType::Warning,
                        "TooManySucceededPods",
                        job_ref.clone(),
                        "Too many succeeded pods running after completion count reached".into(),
                    ));
                }
                ctx.record(EventRecord::new(
                    now,
                    EventType::Normal,
                    "Completed",
                    job_ref,
                    "Job completed".into(),
                ));
            } else {
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    &c.reason,
                    job_ref,
                    c.message.clone(),
                ));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn manage_job(
        &mut self,
        key: &ObjectKey,
        obj: &Object,
        job: &Job,
        active: &[&Pod],
        succeeded: i32,
        succeeded_indexes: &BTreeSet<i32>,
        backoff: &BackoffRecord,
        counts: &mut Counts,
        job_ref: &str,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        let n_active = active.len() as i32;
        let parallelism = job.spec.parallelism.unwrap_or(1).max(0);
        let indexed = job.spec.completion_mode == CompletionMode::Indexed;
        let completions = job.spec.completions;
        let st = self.state.entry(key.clone()).or_default();

        if job.spec.suspend {
            let to_delete =
                active_pods_for_removal(indexed, completions.unwrap_or(0), active, active.len());
            st.expectations = Expectations {
                add: 0,
                del: to_delete.len() as i64,
                set_at: now,
            };
            let (removed, removed_ready) = delete_pods(ctx, &to_delete, job_ref);
            counts.active = n_active - removed;
            counts.terminating += removed;
            counts.ready -= removed_ready;
            return;
        }

        let want = match completions {
            None if succeeded > 0 => n_active,
            None => parallelism,
            Some(c) => (c - succeeded).clamp(0, parallelism),
        };
        let rm_at_least = (n_active - want).max(0) as usize;
        let mut to_delete =
            active_pods_for_removal(indexed, completions.unwrap_or(0), active, rm_at_least);
        to_delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        if !to_delete.is_empty() {
            st.expectations = Expectations {
                add: 0,
                del: to_delete.len() as i64,
                set_at: now,
            };
            let (removed, removed_ready) = delete_pods(ctx, &to_delete, job_ref);
            counts.active = n_active - removed;
            counts.terminating += removed;
            counts.ready -= removed_ready;
            return;
        }

        let diff = want - n_active;
        if diff <= 0 {
            counts.active = n_active;
            return;
        }
        let remaining = backoff.remaining(now);
        if !remaining.is_zero() {
            // Upstream `enqueueSyncJobWithDelay` (at least the batch period), and
            // `manageJob` returns 0 active for this sync.
            self.queue
                .add_after(key.clone(), remaining.max(SYNC_JOB_BATCH_PERIOD), ctx);
            counts.active = 0;
            return;
        }
        let mut diff = (diff as usize).min(MAX_POD_CREATE_DELETE_PER_SYNC);
        let mut indexes = Vec::new();
        if indexed {
            let mut non_pending = succeeded_indexes.clone();
            non_pending.extend(active.iter().filter_map(|p| completion_index(p)));
            indexes = first_pending_indexes(&non_pending, diff, completions.unwrap_or(0));
            diff = indexes.len();
        }
        st.expectations = Expectations {
            add: diff as i64,
            del: 0,
            set_at: now,
        };
        let template = &job.spec.template;
        let oref = controller_ref("batch/v1", "Job", obj);
        let plain_name = format!("{}-", key.name);
        let created = slow_start_batch(diff, |i| {
            let mut pod = match indexes.get(i) {
                Some(&ix) => {
                    let mut p = pod_from_template(
                        template,
                        &key.namespace,
                        "",
                        &generate_name_with_index(&key.name, ix),
                        oref.clone(),
                    );
                    p.metadata
                        .annotations
                        .insert(COMPLETION_INDEX.into(), ix.to_string());
                    p.metadata
                        .labels
                        .insert(COMPLETION_INDEX.into(), ix.to_string());
                    p.spec.hostname = format!("{}-{ix}", key.name);
                    p
                }
                None => pod_from_template(template, &key.namespace, "", &plain_name, oref.clone()),
            };
            pod.metadata.finalizers.clear();
            create_pod(ctx, pod, job_ref).map(|_| ())
        });
        if let Some(st) = self.state.get_mut(key) {
            st.expectations.add -= (diff - created) as i64;
        }
        counts.active = n_active + created as i32;
        if created < diff {
            self.queue.add_rate_limited(key.clone(), ctx);
        } else {
            self.queue.forget(key);
        }
    }
}

/// Deletes `pods` (upstream `deleteJobPods`/`deleteActivePods`), recording
/// `SuccessfulDelete`; returns how many were deleted and how many of those were ready. A pod
/// already gone counts as deleted.
fn delete_pods(ctx: &mut Context<'_>, pods: &[&Pod], job_ref: &str) -> (i32, i32) {
    let now = ctx.now();
    let (mut deleted, mut deleted_ready) = (0, 0);
    for p in pods {
        let opts = DeleteOptions {
            precondition_uid: Some(p.metadata.uid.clone()),
            ..DeleteOptions::default()
        };
        match ctx.delete(&pod_key(p), &opts) {
            Ok(_) => {
                ctx.record(EventRecord::new(
                    now,
                    EventType::Normal,
                    "SuccessfulDelete",
                    job_ref.to_string(),
                    format!("Deleted pod: {}", p.metadata.name),
                ));
                deleted += 1;
            }
            Err(crate::api::ApiError::NotFound { .. }) => deleted += 1,
            Err(e) => {
                ctx.record(EventRecord::new(
                    now,
                    EventType::Warning,
                    "FailedDelete",
                    job_ref.to_string(),
                    format!("Error deleting: {e}"),
                ));
                continue;
            }
        }
        if is_ready(p) {
            deleted_ready += 1;
        }
    }
    (deleted, deleted_ready)
}

impl Component for JobController {
    fn name(&self) -> String {
        "job-controller".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Job]),
            WatchFilter::kinds(&[Kind::Pod]),
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_JOBS => self.on_job(event, ctx),
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

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    #[test]
    fn backoff_doubles_from_10s_and_caps_at_10_minutes() {
        let gaps: Vec<u64> = (1..=8)
            .map(|n| {
                remaining_backoff(
                    n,
                    SimDuration::ZERO,
                    DEFAULT_POD_FAILURE_BACKOFF,
                    MAX_POD_FAILURE_BACKOFF,
                )
                .as_secs()
            })
            .collect();
        assert_eq!(gaps, vec![10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(remaining_backoff(1, secs(4), secs(10), secs(600)), secs(6));
        assert_eq!(
            remaining_backoff(1, secs(11), secs(10), secs(600)),
            SimDuration::ZERO
        );
        assert_eq!(
            remaining_backoff(i32::MAX, secs(0), secs(10), secs(600)),
            secs(600)
        );
    }

    #[test]
    fn a_success_keeps_only_the_failures_after_it() {
        let t = |s: u64| SimTime::ZERO.saturating_add(secs(s));
        let r = BackoffRecord::default().next(vec![], vec![t(5), t(3)]);
        assert_eq!(r.failures_after_last_success, 2);
        assert_eq!(r.last_failure_time, Some(t(5)));
        let r = r.next(vec![], vec![t(9)]);
        assert_eq!(r.failures_after_last_success, 3);
        // A success at 10 with failures at 8 and 12 in the same batch: one failure left.
        let r2 = r.next(vec![t(10)], vec![t(8), t(12)]);
        assert_eq!(r2.failures_after_last_success, 1);
        assert_eq!(r2.last_failure_time, Some(t(12)));
        let r3 = r.next(vec![t(10)], vec![]);
        assert_eq!(r3, BackoffRecord::default());
        assert_eq!(r.remaining(t(9)), secs(40));
    }

    #[test]
    fn index_strings_round_trip() {
        let s: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(format_indexes(&s), "0-2,4,6-7");
        assert_eq!(parse_indexes("0-2,4,6-7", 10), s);
        assert_eq!(
            parse_indexes("0-2,x,9-12", 10),
            [0, 1, 2, 9].into_iter().collect()
        );
        assert_eq!(format_indexes(&BTreeSet::new()), "");
        assert_eq!(first_pending_indexes(&s, 3, 10), vec![3, 5, 8]);
        assert_eq!(first_pending_indexes(&s, 5, 9), vec![3, 5, 8]);
    }

    fn pod(name: &str, index: Option<&str>, node: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        if let Some(i) = index {
            p.metadata
                .annotations
                .insert(COMPLETION_INDEX.into(), i.into());
        }
        p.spec.node_name = node.into();
        p
    }

    #[test]
    fn surplus_indexed_pods_go_first_then_active_pods_order() {
        let pods = [
            pod("a", Some("0"), "n1"),
            pod("b", Some("0"), ""),
            pod("c", Some("7"), "n1"),
            pod("d", None, "n1"),
            pod("e", Some("1"), "n1"),
            pod("f", Some("2"), ""),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let names = |v: Vec<&Pod>| {
            v.iter()
                .map(|p| p.metadata.name.clone())
                .collect::<Vec<_>>()
        };
        // Out of range (7) and without index (d), then the unscheduled duplicate of 0.
        assert_eq!(
            names(active_pods_for_removal(true, 5, &refs, 0)),
            ["c", "d", "b"]
        );
        // One more: the unscheduled pod of index 2 before the scheduled ones.
        assert_eq!(
            names(active_pods_for_removal(true, 5, &refs, 4)),
            ["c", "d", "b", "f"]
        );
        // NonIndexed: only ActivePods order (unscheduled first, then name order).
        assert_eq!(
            names(active_pods_for_removal(false, 0, &refs, 2)),
            ["b", "f"]
        );
    }

    #[test]
    fn indexed_generate_names_are_cut_to_fit() {
        assert_eq!(generate_name_with_index("pi", 3), "pi-3-");
        let long = "a".repeat(70);
        let g = generate_name_with_index(&long, 12);
        assert_eq!(g.len(), MAX_GENERATED_NAME_LENGTH);
        assert!(g.ends_with("-12-"));
    }
}
