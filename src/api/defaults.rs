//! Defaulting, as the API server applies it before validation.
//!
//! Upstream: `pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`,
//! `pkg/apis/batch/v1/defaults.go`, `pkg/apis/policy/v1/defaults.go`. Applied on create and
//! on update. Priority resolution from PriorityClass is admission, done by the store.

use crate::api::meta::IntOrString;
use crate::api::objects::Object;
use crate::api::objects::pod::{PodSpec, PullPolicy};
use crate::api::objects::workloads::{DeploymentStrategyType, RollingUpdate, UpdateStrategyType};

/// `default-scheduler`, the scheduler name every pod gets unless it names another.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// Seconds a pod gets to stop after SIGTERM unless it says otherwise.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;

/// The label (and selector key) with the owning Job's uid (`batch.kubernetes.io/controller-uid`).
pub const JOB_CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The label with the owning Job's name.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The legacy forms of the two labels above, still set by upstream.
pub const LEGACY_JOB_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// The Job registry's `generateSelector` (`pkg/registry/batch/job/strategy.go`, run at create
/// unless `manualSelector` is true): the template gets the job-name and controller-uid labels
/// (both forms, unless already set) and the selector `batch.kubernetes.io/controller-uid:
/// <uid>`. The store sets `metadata.uid` before defaulting, as the API server fills system
/// fields before `PrepareForCreate`; the scenario loader's check runs with an empty uid.
pub fn generate_job_selector(job: &mut crate::api::objects::workloads::Job) {
    let name = job.metadata.name.clone();
    let uid = job.metadata.uid.clone();
    let labels = &mut job.spec.template.metadata.labels;
    for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
        labels
            .entry(key.to_string())
            .or_insert_with(|| name.clone());
    }
    for key in [LEGACY_JOB_CONTROLLER_UID_LABEL, JOB_CONTROLLER_UID_LABEL] {
        labels.entry(key.to_string()).or_insert_with(|| uid.clone());
    }
    job.spec
        .selector
        .get_or_insert_with(Default::default)
        .match_labels
        .entry(JOB_CONTROLLER_UID_LABEL.to_string())
        .or_insert(uid);
}

/// Applies upstream defaults in place.
pub fn apply(obj: &mut Object) {
    match obj {
        Object::Pod(p) => default_pod_spec(&mut p.spec),
        Object::Node(n) => {
            if n.status.allocatable.is_empty() {
                n.status.allocatable = n.status.capacity.clone();
            }
        }
        Object::ReplicaSet(rs) => {
            rs.spec.replicas.get_or_insert(1);
            default_pod_spec(&mut rs.spec.template.spec);
        }
        Object::ReplicationController(rc) => {
            rc.spec.replicas.get_or_insert(1);
            if let Some(t) = &mut rc.spec.template {
                if rc.spec.selector.is_empty() {
                    rc.spec.selector = t.metadata.labels.clone();
                }
                if rc.metadata.labels.is_empty() {
                    rc.metadata.labels = t.metadata.labels.clone();
                }
                default_pod_spec(&mut t.spec);
            }
        }
        Object::Deployment(d) => {
            let s = &mut d.spec;
            s.replicas.get_or_insert(1);
            s.revision_history_limit.get_or_insert(10);
            s.progress_deadline_seconds.get_or_insert(600);
            if s.strategy.type_ == DeploymentStrategyType::RollingUpdate {
                let ru = s
                    .strategy
                    .rolling_update
                    .get_or_insert_with(RollingUpdate::default);
                ru.max_surge
                    .get_or_insert(IntOrString::String("25%".into()));
                ru.max_unavailable
                    .get_or_insert(IntOrString::String("25%".into()));
            }
            default_pod_spec(&mut s.template.spec);
        }
        Object::DaemonSet(ds) => {
            let s = &mut ds.spec;
            s.revision_history_limit.get_or_insert(10);
            if s.update_strategy.type_ == UpdateStrategyType::RollingUpdate {
                let ru = s
                    .update_strategy
                    .rolling_update
                    .get_or_insert_with(RollingUpdate::default);
                ru.max_unavailable.get_or_insert(IntOrString::Int(1));
                ru.max_surge.get_or_insert(IntOrString::Int(0));
            }
            default_pod_spec(&mut s.template.spec);
        }
        Object::StatefulSet(ss) => {
            let s = &mut ss.spec;
            s.replicas.get_or_insert(1);
            s.revision_history_limit.get_or_insert(10);
            if s.update_strategy.type_ == UpdateStrategyType::RollingUpdate {
                let ru = s
                    .update_strategy
                    .rolling_update
                    .get_or_insert_with(Default::default);
                ru.partition.get_or_insert(0);
            }
            default_pod_spec(&mut s.template.spec);
        }
        Object::Job(j) => {
            let s = &mut j.spec;
            // Upstream: both unset => 1 and 1; only parallelism set => completions stays unset
            // (a work queue).
            if s.completions.is_none() && s.parallelism.is_none() {
                s.completions = Some(1);
            }
            s.parallelism.get_or_insert(1);
            // Upstream: MaxInt32 when backoffLimitPerIndex is set, else 6.
            s.backoff_limit
                .get_or_insert(if s.backoff_limit_per_index.is_some() {
                    i32::MAX
                } else {
                    6
                });
            if s.manual_selector != Some(true) {
                generate_job_selector(j);
            }
            default_pod_spec(&mut j.spec.template.spec);
        }
        Object::CronJob(cj) => {
            // `SetDefaults_CronJob`; concurrencyPolicy defaults to Allow by its type.
            let s = &mut cj.spec;
            s.suspend.get_or_insert(false);
            s.successful_jobs_history_limit.get_or_insert(3);
            s.failed_jobs_history_limit.get_or_insert(1);
            default_pod_spec(&mut s.job_template.spec.template.spec);
        }
        Object::Namespace(_)
        | Object::Service(_)
        | Object::EndpointSlice(_)
        | Object::PodDisruptionBudget(_)
        | Object::Lease(_)
        | Object::PriorityClass(_) => {}
    }
}

fn default_pod_spec(spec: &mut PodSpec) {
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME.to_string();
    }
    spec.termination_grace_period_seconds
        .get_or_insert(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
    {
        // Requests default to limits for every resource that has a limit but no request.
        for (name, q) in &c.resources.limits {
            c.resources.requests.entry(name.clone()).or_insert(*q);
        }
        if c.image_pull_policy.is_none() {
            c.image_pull_policy = Some(default_pull_policy(&c.image));
        }
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent` (digests count as tagged).
pub fn default_pull_policy(image: &str) -> PullPolicy {
    if image.contains('@') {
        return PullPolicy::IfNotPresent;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => PullPolicy::Always,
        Some(_) => PullPolicy::IfNotPresent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults_follow_the_image_tag() {
        assert_eq!(default_pull_policy("nginx"), PullPolicy::Always);
        assert_eq!(default_pull_policy("nginx:latest"), PullPolicy::Always);
        assert_eq!(default_pull_policy("nginx:1.27"), PullPolicy::IfNotPresent);
        assert_eq!(default_pull_policy("registry:5000/app"), PullPolicy::Always);
        assert_eq!(
            default_pull_policy("app@sha256:abc"),
            PullPolicy::IfNotPresent
        );
    }
}
