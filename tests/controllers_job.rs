//! The Job controller: the `job.*` rows of `../shared/reference/vectors/controllers.json`
//! and scenarios through the scheduler and kubelet (pod-failure back-off, backoffLimit,
//! activeDeadlineSeconds, Indexed completion, self-healing, ttlSecondsAfterFinished).

mod common;

use std::path::Path;

use common::Buf;
use kubesim::api::ObjectKey;
use kubesim::api::meta::ConditionStatus;
use kubesim::api::objects::workloads::Job;
use kubesim::api::objects::{Kind, Object, PodPhase};
use kubesim::controllers::job::{
    self, DEFAULT_POD_FAILURE_BACKOFF, MAX_POD_FAILURE_BACKOFF, remaining_backoff,
    remaining_backoff_per_index,
};
use kubesim::runtime::Cluster;
use kubesim::sim::{SimDuration, SimTime};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

/// A Job through the API server's defaulting (`pkg/apis/batch/v1/defaults.go`).
fn defaulted(yaml_spec: serde_json::Value) -> Job {
    let mut obj = Object::from_json(
        Kind::Job,
        serde_json::json!({"metadata": {"name": "j", "uid": "u1"}, "spec": yaml_spec}),
    )
    .unwrap();
    // The store sets the uid before defaulting; input uids are ignored.
    obj.meta_mut().uid = "u1".into();
    kubesim::api::defaults::apply(&mut obj);
    match obj {
        Object::Job(j) => j,
        _ => unreachable!(),
    }
}

#[test]
fn job_vector_rows() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let topic = case["topic"].as_str().unwrap_or("");
        if topic != "job" && !topic.starts_with("job.") {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        let inp = &case["inputs"];
        let exp = &case["expected"];
        match topic {
            "job.pod_failure_backoff" if id.starts_with("job.remaining_backoff_per_index.") => {
                // The rows' test values (version_note): defaultBackoff 5 s, maxBackoff 700 s.
                let count = |k: &str| {
                    inp[k]
                        .as_str()
                        .map_or(0, |v| v.parse::<i32>().expect("a count"))
                };
                let got = remaining_backoff_per_index(
                    count("index-failure-count"),
                    count("index-ignored-failure-count"),
                    secs(inp["seconds_since_failure"].as_u64().unwrap()),
                    secs(5),
                    secs(700),
                );
                if got != secs(exp["remaining_s"].as_u64().unwrap()) {
                    failures.push(format!("{id}: got {got:?}"));
                }
            }
            "job.pod_failure_backoff" => {
                let failures_n = inp["failuresAfterLastSuccess"].as_i64().unwrap() as i32;
                let since = inp["seconds_since_last_failure"]
                    .as_u64()
                    .map_or(secs(0), secs);
                let got = remaining_backoff(
                    failures_n,
                    since,
                    secs(inp["defaultBackoff_s"].as_u64().unwrap()),
                    secs(inp["maxBackoff_s"].as_u64().unwrap()),
                );
                if got != secs(exp["remaining_s"].as_u64().unwrap()) {
                    failures.push(format!("{id}: got {got:?}"));
                }
            }
            "job" => {
                assert_eq!(id, "job.defaults_and_limits");
                let j = defaulted(serde_json::json!({}));
                let per_index = defaulted(serde_json::json!({"backoffLimitPerIndex": 1}));
                let got = serde_json::json!({
                    "backoffLimit": j.spec.backoff_limit,
                    "backoffLimit_if_backoffLimitPerIndex": per_index.spec.backoff_limit,
                    "completions_parallelism_if_both_unset": j.spec.completions,
                    "completionMode": j.spec.completion_mode,
                    "suspend": j.spec.suspend,
                    "MaxUncountedPods": job::MAX_UNCOUNTED_PODS,
                    "MaxPodCreateDeletePerSync": job::MAX_POD_CREATE_DELETE_PER_SYNC,
                    "syncJobBatchPeriod_s": job::SYNC_JOB_BATCH_PERIOD.as_secs(),
                    "DefaultJobApiBackOff_s": job::API_BACKOFF.as_secs(),
                    "MaxJobApiBackOff_s": job::MAX_API_BACKOFF.as_secs(),
                    "failure_rule": exp["failure_rule"],
                });
                assert_eq!(j.spec.parallelism, j.spec.completions);
                if &got != exp {
                    failures.push(format!("{id}: got {got}, want {exp}"));
                }
                // The failure rule itself is checked end to end by
                // `a_job_past_its_backoff_limit_fails_after_gaps_of_10s_doubling_to_10_minutes`.
            }
            other => panic!("unhandled topic {other}"),
        }
        checked += 1;
    }
    assert!(checked >= 9, "{checked}");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_job_selects_its_pods_by_a_generated_controller_uid() {
    let j = defaulted(serde_json::json!({
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}}
    }));
    let labels = &j.spec.template.metadata.labels;
    assert_eq!(labels["batch.kubernetes.io/controller-uid"], "u1");
    assert_eq!(labels["controller-uid"], "u1");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "j");
    assert_eq!(labels["job-name"], "j");
    assert_eq!(labels["app"], "x");
    let sel = j.spec.selector.as_ref().unwrap();
    assert_eq!(
        sel.match_labels.iter().collect::<Vec<_>>(),
        vec![(
            &"batch.kubernetes.io/controller-uid".to_string(),
            &"u1".to_string()
        )]
    );
    // manualSelector keeps the user's selector and labels.
    let m = defaulted(serde_json::json!({"manualSelector": true,
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}}}}));
    assert_eq!(m.spec.template.metadata.labels.len(), 1);
}

fn scenario(duration: &str, seed: u64, behavior: &str, job: &str) -> String {
    format!(
        r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: job
spec:
  seed: {seed}
  duration: {duration}
  cluster:
    nodePools:
      - name: node
        count: 3
        template:
          status:
            capacity: {{cpu: "8", memory: 32Gi, pods: "110"}}
  behaviors:
    - name: work
      selector: {{matchLabels: {{app: work}}}}
{behavior}
  objects:
    - apiVersion: batch/v1
      kind: Job
      metadata: {{name: work, namespace: default}}
      spec:
{job}
        template:
          metadata: {{labels: {{app: work}}}}
          spec:
            restartPolicy: Never
            containers:
              - name: main
                image: busybox:1.36
                resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
"#
    )
}

fn build(yaml: &str) -> (Cluster, Buf) {
    let scenario = kubesim::scenario::load_str("job.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap();
    let events = Buf::default();
    let cluster = kubesim::setup::build(
        &scenario,
        Box::new(events.clone()),
        Box::new(std::io::sink()),
    )
    .unwrap();
    (cluster, events)
}

fn at(secs: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(secs))
}

fn events(buf: &Buf) -> Vec<serde_json::Value> {
    String::from_utf8(buf.0.borrow().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn job_of(cluster: &Cluster) -> Job {
    match &**cluster
        .store()
        .get(&ObjectKey::new(Kind::Job, "default", "work"))
        .expect("the Job exists")
    {
        Object::Job(j) => j.clone(),
        _ => unreachable!(),
    }
}

fn condition<'a>(job: &'a Job, type_: &str) -> Option<&'a kubesim::api::meta::Condition> {
    job.status
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == ConditionStatus::True)
}

/// One Job pod as the store holds it at the end: name, creation, finish (all containers
/// terminated) and phase.
#[derive(Debug, Clone)]
struct PodRun {
    name: String,
    created: SimTime,
    finished: Option<SimTime>,
    phase: PodPhase,
}

fn pod_runs(cluster: &Cluster) -> Vec<PodRun> {
    let mut runs: Vec<PodRun> = cluster
        .store()
        .list(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p) if p.metadata.controller_ref().is_some_and(|r| r.kind == "Job") => {
                Some(PodRun {
                    name: p.metadata.name.clone(),
                    created: p.metadata.creation_timestamp.0,
                    finished: p
                        .status
                        .container_statuses
                        .iter()
                        .map(|c| c.state.terminated.as_ref().and_then(|t| t.finished_at))
                        .collect::<Option<Vec<_>>>()
                        .and_then(|v| v.into_iter().map(|t| t.0).max()),
                    phase: p.status.phase,
                })
            }
            _ => None,
        })
        .collect();
    runs.sort_by_key(|r| (r.created, r.name.clone()));
    runs
}

/// The reference formula (controllers.md §4 Job): back-off after `n` failures since the
/// last success is `10 s · 2^(n−1)`, capped at 10 min.
fn reference_backoff(n: u32) -> SimDuration {
    let s = 10u64.saturating_mul(1u64 << (n - 1).min(20));
    SimDuration::from_secs(s.min(600))
}

/// Completions 10, parallelism 3, a fifth of the runs failing: the Job completes, and every
/// pod created while failures are pending after the last success is created exactly at the
/// last failure's finish time plus the reference back-off for that many failures; no pod is
/// created earlier.
#[test]
fn a_flaky_job_completes_with_the_upstream_backoff_gaps() {
    let yaml = scenario(
        "30m",
        7,
        "      exitAfter: {uniform: {min: 20s, max: 40s}}\n      failureRatio: 0.2",
        "        completions: 10\n        parallelism: 3",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(1800)).unwrap();
    let job = job_of(&cluster);
    let runs = pod_runs(&cluster);
    let failed: Vec<&PodRun> = runs
        .iter()
        .filter(|r| r.phase == PodPhase::Failed)
        .collect();
    let succeeded = runs
        .iter()
        .filter(|r| r.phase == PodPhase::Succeeded)
        .count();
    assert!(condition(&job, "Complete").is_some(), "{:?}", job.status);
    assert!(condition(&job, "SuccessCriteriaMet").is_some());
    assert_eq!(job.status.succeeded, 10);
    assert_eq!(succeeded, 10, "{runs:#?}");
    assert_eq!(job.status.failed as usize, failed.len());
    assert!(!failed.is_empty(), "the seed gives failures: {runs:#?}");
    assert_eq!(job.status.active, 0);

    // Creations as events.jsonl reports them, matched with the pods' own records.
    let evs = events(&buf);
    let creates: Vec<(u64, String)> = evs
        .iter()
        .filter(|e| e["reason"] == "SuccessfulCreate" && e["object"] == "Job/default/work")
        .map(|e| {
            let name = e["message"]
                .as_str()
                .unwrap()
                .trim_start_matches("Created pod: ");
            (e["t_ms"].as_u64().unwrap(), name.to_string())
        })
        .collect();
    assert_eq!(creates.len(), runs.len());
    let first_t = creates[0].0;
    let mut gated = 0;
    for (t_ms, name) in &creates {
        let run = runs
            .iter()
            .find(|r| &r.name == name)
            .expect("the pod exists");
        assert_eq!(run.created.as_millis(), *t_ms);
        if *t_ms == first_t {
            continue;
        }
        // The reference record at this creation, from the outcomes finished before it.
        let c = run.created;
        let last_success = runs
            .iter()
            .filter(|r| r.phase == PodPhase::Succeeded)
            .filter_map(|r| r.finished)
            .filter(|f| *f < c)
            .max();
        let after: Vec<SimTime> = runs
            .iter()
            .filter(|r| r.phase == PodPhase::Failed)
            .filter_map(|r| r.finished)
            .filter(|f| *f < c && last_success.is_none_or(|s| *f > s))
            .collect();
        if let Some(last_failure) = after.iter().max() {
            let due = last_failure.saturating_add(reference_backoff(after.len() as u32));
            assert_eq!(c, due, "{name} created at {c:?}, back-off due {due:?}");
            gated += 1;
        }
    }
    assert!(
        gated >= 1,
        "some creations waited for a back-off: {runs:#?}"
    );
    eprintln!(
        "{} pods, {} failures, {gated} creations gated by the back-off",
        runs.len(),
        failed.len()
    );
    let completed: Vec<&serde_json::Value> =
        evs.iter().filter(|e| e["reason"] == "Completed").collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["message"], "Job completed");
}

/// backoffLimit 7 and a pod that always fails: the gaps between a failure and the next pod
/// are 10, 20, 40, 80, 160, 320 s and then the 10-minute cap; the 8th failure fails the Job
/// with BackoffLimitExceeded (FailureTarget first, then Failed).
#[test]
fn a_job_past_its_backoff_limit_fails_after_gaps_of_10s_doubling_to_10_minutes() {
    let yaml = scenario(
        "40m",
        3,
        "      exitAfter: 5s\n      exitCode: 1",
        "        backoffLimit: 7",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(2400)).unwrap();
    let runs = pod_runs(&cluster);
    assert_eq!(runs.len(), 8, "{runs:#?}");
    assert!(runs.iter().all(|r| r.phase == PodPhase::Failed));
    let gaps: Vec<u64> = runs
        .windows(2)
        .map(|w| {
            w[1].created
                .saturating_since(w[0].finished.unwrap())
                .as_millis()
        })
        .collect();
    let want: Vec<u64> = (1..=7).map(|n| reference_backoff(n).as_millis()).collect();
    assert_eq!(gaps, want);
    assert_eq!(
        want,
        vec![10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000]
    );
    let job = job_of(&cluster);
    assert_eq!(job.status.failed, 8);
    let types: Vec<&str> = job
        .status
        .conditions
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, vec!["FailureTarget", "Failed"]);
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed.reason, "BackoffLimitExceeded");
    assert_eq!(
        failed.message,
        "Job has reached the specified backoff limit"
    );
    assert!(job.status.completion_time.is_none());
    let evs = events(&buf);
    let warn: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|e| e["reason"] == "BackoffLimitExceeded")
        .collect();
    assert_eq!(warn.len(), 1);
    assert_eq!(warn[0]["type"], "Warning");
    // Noticed one batch period (1 s) after the 8th failure.
    let last = runs[7].finished.unwrap().as_millis();
    let t = warn[0]["t_ms"].as_u64().unwrap();
    assert!((last..last + 1_100).contains(&t), "{t} vs {last}");
}

/// activeDeadlineSeconds 30 with pods that never finish: at 30 s the active pods are
/// deleted; once they are gone the Job is Failed with DeadlineExceeded.
#[test]
fn active_deadline_deletes_the_pods_and_fails_the_job() {
    let yaml = scenario(
        "5m",
        1,
        "      startupTime: 1s",
        "        completions: 4\n        parallelism: 2\n        activeDeadlineSeconds: 30",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(300)).unwrap();
    let job = job_of(&cluster);
    let failed = condition(&job, "Failed").expect("the Job failed");
    assert_eq!(failed.reason, "DeadlineExceeded");
    assert_eq!(
        failed.message,
        "Job was active longer than specified deadline"
    );
    assert_eq!(job.status.failed, 2);
    assert_eq!(job.status.active, 0);
    let evs = events(&buf);
    let deletes: Vec<u64> = evs
        .iter()
        .filter(|e| e["reason"] == "SuccessfulDelete")
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    // The deadline counts from the first sync (startTime), 10 ms after t=0 (watch latency).
    assert_eq!(deletes, vec![30_010, 30_010]);
    let warn: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|e| e["reason"] == "DeadlineExceeded" && e["object"] == "Job/default/work")
        .collect();
    assert_eq!(warn.len(), 1, "{warn:#?}");
    assert_eq!(warn[0]["type"], "Warning");
    let t = warn[0]["t_ms"].as_u64().unwrap();
    assert!((30_000..33_000).contains(&t), "{t}");
    assert_eq!(job.status.start_time.unwrap().0.as_millis(), 10);
}

/// An Indexed Job runs one pod per index, lowest first, each with its index annotation,
/// label and hostname, and completes with every index in completedIndexes.
#[test]
fn an_indexed_job_completes_every_index() {
    let yaml = scenario(
        "10m",
        2,
        "      exitAfter: {uniform: {min: 5s, max: 15s}}",
        "        completions: 5\n        parallelism: 2\n        completionMode: Indexed",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(600)).unwrap();
    let job = job_of(&cluster);
    assert!(condition(&job, "Complete").is_some(), "{:?}", job.status);
    assert_eq!(job.status.completed_indexes, "0-4");
    assert_eq!(job.status.succeeded, 5);
    let mut indexes = Vec::new();
    for o in cluster.store().list(Kind::Pod) {
        let Object::Pod(p) = &**o else { continue };
        let ix = p.metadata.annotations["batch.kubernetes.io/job-completion-index"].clone();
        assert_eq!(
            p.metadata.labels["batch.kubernetes.io/job-completion-index"],
            ix
        );
        assert_eq!(p.spec.hostname, format!("work-{ix}"));
        assert!(p.metadata.name.starts_with(&format!("work-{ix}-")));
        assert_eq!(p.metadata.labels["batch.kubernetes.io/job-name"], "work");
        assert_eq!(
            p.metadata.labels["batch.kubernetes.io/controller-uid"],
            job.metadata.uid
        );
        assert_eq!(p.status.phase, PodPhase::Succeeded);
        indexes.push(ix.parse::<i32>().unwrap());
    }
    indexes.sort();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4]);
    // Creation order follows the lowest pending index.
    let created: Vec<String> = events(&buf)
        .iter()
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .map(|e| e["message"].as_str().unwrap()[..("Created pod: work-0".len())].to_string())
        .collect();
    let want: Vec<String> = (0..5).map(|i| format!("Created pod: work-{i}")).collect();
    assert_eq!(created, want);
}

/// Deleting a running Job pod counts as a failure (finish time = deletion), and the
/// replacement comes after the 10 s back-off.
#[test]
fn a_deleted_job_pod_is_replaced_after_the_backoff() {
    let yaml = scenario(
        "5m",
        4,
        "      exitAfter: 2m",
        "        completions: 1\n        parallelism: 1",
    );
    let (mut cluster, _buf) = build(&yaml);
    cluster.run_until(at(20)).unwrap();
    let first = pod_runs(&cluster);
    assert_eq!(first.len(), 1);
    let victim = first[0].name.clone();
    cluster
        .delete(
            &ObjectKey::new(Kind::Pod, "default", victim.clone()),
            &Default::default(),
        )
        .unwrap();
    cluster.run_until(at(300)).unwrap();
    let runs = pod_runs(&cluster);
    assert_eq!(runs.len(), 1, "the deleted pod is gone: {runs:#?}");
    assert_ne!(runs[0].name, victim);
    // The finish time the reference uses is the container's end: the kubelet stops it when
    // it sees the deletion, one watch latency (10 ms) after it.
    assert_eq!(
        runs[0].created,
        at(20).saturating_add(SimDuration::from_millis(10_010)),
        "replaced 10 s after the deleted pod finished"
    );
    assert_eq!(runs[0].phase, PodPhase::Succeeded);
    let job = job_of(&cluster);
    assert_eq!(job.status.failed, 1);
    assert_eq!(job.status.succeeded, 1);
    assert!(condition(&job, "Complete").is_some());
}

/// ttlSecondsAfterFinished: the finished Job and its pods are deleted that long after the
/// Complete condition.
#[test]
fn a_finished_job_is_deleted_after_its_ttl() {
    let yaml = scenario(
        "5m",
        5,
        "      exitAfter: 5s",
        "        ttlSecondsAfterFinished: 30",
    );
    let (mut cluster, _buf) = build(&yaml);
    cluster.run_until(at(20)).unwrap();
    let job = job_of(&cluster);
    let done = condition(&job, "Complete")
        .expect("complete")
        .last_transition_time
        .unwrap()
        .0;
    assert_eq!(job.status.completion_time.unwrap().0, done);
    let expiry = done.saturating_add(secs(30));
    cluster
        .run_until(SimTime::from_nanos(expiry.as_nanos() - 1))
        .unwrap();
    assert!(
        cluster
            .store()
            .get(&ObjectKey::new(Kind::Job, "default", "work"))
            .is_some()
    );
    cluster.run_until(expiry.saturating_add(secs(1))).unwrap();
    assert!(
        cluster
            .store()
            .get(&ObjectKey::new(Kind::Job, "default", "work"))
            .is_none()
    );
    assert_eq!(pod_runs(&cluster).len(), 0, "the pods went with the Job");
}

#[test]
fn a_failure_ratio_outside_0_to_1_is_an_error() {
    let yaml = scenario("1m", 1, "      failureRatio: 1.5", "        completions: 1");
    let err = kubesim::scenario::load_str("job.yaml", &yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("spec.behaviors[0].failureRatio"), "{err}");
    assert!(err.contains("between 0 and 1"), "{err}");
}

#[test]
fn job_runs_are_reproducible() {
    let yaml = scenario(
        "10m",
        9,
        "      exitAfter: {uniform: {min: 5s, max: 20s}}\n      failureRatio: 0.3",
        "        completions: 6\n        parallelism: 2",
    );
    let a = common::run_yaml("job.yaml", &yaml);
    let b = common::run_yaml("job.yaml", &yaml);
    assert!(a.output.status.success(), "{}", common::stderr(&a.output));
    let read = |r: &common::Run| std::fs::read(r.out.join("events.jsonl")).unwrap();
    assert_eq!(read(&a), read(&b));
    let w = a.summary()["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["object"] == "Job/default/work")
        .cloned()
        .expect("the Job is in the summary");
    assert_eq!(w["succeeded"], 6, "{w}");
}

#[test]
fn backoff_constants_are_the_current_upstream_ones() {
    assert_eq!(DEFAULT_POD_FAILURE_BACKOFF, secs(10));
    assert_eq!(MAX_POD_FAILURE_BACKOFF, secs(600));
}

// ---- CronJob ----

fn cron_scenario(cronjobs: &[(&str, &str)], exit_after: &str) -> String {
    let mut objects = String::new();
    for (name, extra) in cronjobs {
        objects.push_str(&format!(
            r#"
    - apiVersion: batch/v1
      kind: CronJob
      metadata: {{name: {name}, namespace: default}}
      spec:
{extra}
        jobTemplate:
          spec:
            template:
              metadata: {{labels: {{app: work}}}}
              spec:
                restartPolicy: Never
                containers: [{{name: main, image: "busybox:1.36"}}]
"#
        ));
    }
    format!(
        r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: cron
spec:
  seed: 1
  duration: 30m
  cluster:
    nodePools:
      - name: node
        count: 2
        template:
          status:
            capacity: {{cpu: "8", memory: 32Gi, pods: "110"}}
  behaviors:
    - name: work
      selector: {{matchLabels: {{app: work}}}}
      exitAfter: {exit_after}
  objects:{objects}"#
    )
}

fn cron_events(buf: &Buf, cronjob: &str, reason: &str) -> Vec<(u64, String)> {
    events(buf)
        .iter()
        .filter(|e| e["object"] == format!("CronJob/default/{cronjob}") && e["reason"] == reason)
        .map(|e| {
            (
                e["t_ms"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn job_names(cluster: &Cluster) -> Vec<String> {
    cluster
        .store()
        .list(Kind::Job)
        .map(|o| o.meta().name.clone())
        .collect()
}

/// Every minute, a 20 s Job; two successful Jobs are kept.
#[test]
fn a_cronjob_runs_every_minute_and_keeps_its_history_limit() {
    let yaml = cron_scenario(
        &[(
            "tick",
            "        schedule: \"*/1 * * * *\"\n        successfulJobsHistoryLimit: 2",
        )],
        "20s",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(330)).unwrap();
    let creates = cron_events(&buf, "tick", "SuccessfulCreate");
    let want: Vec<(u64, String)> = (1..=5)
        .map(|m| (m * 60_000 + 100, format!("Created job tick-{m}")))
        .collect();
    assert_eq!(creates, want);
    let deletes = cron_events(&buf, "tick", "SuccessfulDelete");
    let deleted: Vec<&str> = deletes.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        deleted,
        vec![
            "Deleted job tick-1",
            "Deleted job tick-2",
            "Deleted job tick-3"
        ]
    );
    assert_eq!(cron_events(&buf, "tick", "SawCompletedJob").len(), 5);
    assert_eq!(job_names(&cluster), vec!["tick-4", "tick-5"]);
    let Object::Job(j5) = &**cluster
        .store()
        .get(&ObjectKey::new(Kind::Job, "default", "tick-5"))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(
        j5.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        "1970-01-01T00:05:00Z"
    );
    assert!(condition(j5, "Complete").is_some());
    let Object::CronJob(cj) = &**cluster
        .store()
        .get(&ObjectKey::new(Kind::CronJob, "default", "tick"))
        .unwrap()
    else {
        unreachable!()
    };
    assert!(cj.status.active.is_empty(), "{:?}", cj.status);
    assert_eq!(cj.status.last_schedule_time.unwrap().0, at(300));
    assert_eq!(
        cj.status.last_successful_time, j5.status.completion_time,
        "the latest completion"
    );
}

/// Jobs of 90 s every minute: Forbid skips a start while one runs, Replace deletes it.
#[test]
fn concurrency_policies_forbid_and_replace() {
    let yaml = cron_scenario(
        &[
            (
                "forbid",
                "        schedule: \"* * * * *\"\n        concurrencyPolicy: Forbid",
            ),
            (
                "replace",
                "        schedule: \"* * * * *\"\n        concurrencyPolicy: Replace",
            ),
        ],
        "90s",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(310)).unwrap();
    // Forbid skips starts while a Job runs; without startingDeadlineSeconds the latest
    // skipped start then runs as soon as the running Job finishes (upstream behaviour).
    let forbid = cron_events(&buf, "forbid", "SuccessfulCreate");
    let names: Vec<&str> = forbid.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Created job forbid-1",
            "Created job forbid-2",
            "Created job forbid-4"
        ]
    );
    assert_eq!(forbid[0].0, 60_100);
    assert!((150_000..180_000).contains(&forbid[1].0), "{forbid:?}");
    assert!((240_100..300_000).contains(&forbid[2].0), "{forbid:?}");
    let skipped: Vec<u64> = cron_events(&buf, "forbid", "JobAlreadyActive")
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(skipped, vec![120_100, 180_100, 240_100, 300_100]);
    let replace: Vec<u64> = cron_events(&buf, "replace", "SuccessfulCreate")
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(replace, vec![60_100, 120_100, 180_100, 240_100, 300_100]);
    let replaced = cron_events(&buf, "replace", "SuccessfulDelete");
    assert_eq!(replaced.len(), 4, "{replaced:?}");
    assert_eq!(replaced[0], (120_100, "Deleted job replace-1".to_string()));
    // Only the newest replace Job is left; its predecessors went with their pods.
    let names = job_names(&cluster);
    assert!(names.contains(&"replace-5".to_string()), "{names:?}");
    assert!(!names.contains(&"replace-4".to_string()), "{names:?}");
}

/// A suspended CronJob resumed at 200 s: with startingDeadlineSeconds 10 the missed 180 s
/// start is too old and the next Job comes at 240 s; without a deadline the most recent
/// missed start (180 s) runs at once.
#[test]
fn starting_deadline_and_suspend() {
    let yaml = cron_scenario(
        &[
            (
                "strict",
                "        schedule: \"* * * * *\"\n        suspend: true\n        startingDeadlineSeconds: 10",
            ),
            (
                "lax",
                "        schedule: \"* * * * *\"\n        suspend: true",
            ),
        ],
        "5s",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(200)).unwrap();
    assert!(job_names(&cluster).is_empty());
    for name in ["strict", "lax"] {
        let key = ObjectKey::new(Kind::CronJob, "default", name);
        let mut obj = (**cluster.store().get(&key).unwrap()).clone();
        let Object::CronJob(cj) = &mut obj else {
            unreachable!()
        };
        cj.spec.suspend = Some(false);
        cluster.update(obj).unwrap();
    }
    cluster.run_until(at(250)).unwrap();
    let strict = cron_events(&buf, "strict", "SuccessfulCreate");
    assert_eq!(strict, vec![(240_100, "Created job strict-4".to_string())]);
    let lax = cron_events(&buf, "lax", "SuccessfulCreate");
    assert_eq!(
        lax,
        vec![
            (200_010, "Created job lax-3".to_string()),
            (240_100, "Created job lax-4".to_string())
        ]
    );
}

#[test]
fn an_unparseable_schedule_is_a_validation_error() {
    let yaml = cron_scenario(&[("bad", "        schedule: \"61 * * * *\"")], "5s");
    let err = kubesim::scenario::load_str("cron.yaml", &yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("spec.schedule"), "{err}");
    assert!(err.contains("above maximum"), "{err}");
}

/// A Job created suspended runs no pod and gets Suspended=True; resumed, it starts its pods,
/// Suspended turns False and startTime is the resume time.
#[test]
fn a_suspended_job_waits_until_resumed() {
    let yaml = scenario(
        "5m",
        6,
        "      exitAfter: 10s",
        "        completions: 2\n        parallelism: 2\n        suspend: true",
    );
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(60)).unwrap();
    assert!(pod_runs(&cluster).is_empty());
    let job = job_of(&cluster);
    let s = condition(&job, "Suspended").expect("Suspended=True");
    assert_eq!(s.reason, "JobSuspended");
    assert!(job.status.start_time.is_none());
    let mut obj = (**cluster
        .store()
        .get(&ObjectKey::new(Kind::Job, "default", "work"))
        .unwrap())
    .clone();
    let Object::Job(j) = &mut obj else {
        unreachable!()
    };
    j.spec.suspend = false;
    cluster.update(obj).unwrap();
    cluster.run_until(at(120)).unwrap();
    let job = job_of(&cluster);
    assert!(condition(&job, "Complete").is_some(), "{:?}", job.status);
    assert_eq!(pod_runs(&cluster).len(), 2);
    let resumed = job
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Suspended")
        .unwrap();
    assert_eq!(resumed.status, ConditionStatus::False);
    assert_eq!(resumed.reason, "JobResumed");
    assert_eq!(job.status.start_time, resumed.last_transition_time);
    let reasons: Vec<String> = events(&buf)
        .iter()
        .filter(|e| e["object"] == "Job/default/work" && e["type"] == "Normal")
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        // As upstream: manageJob creates the pods, then the sync records the resume.
        vec![
            "Suspended",
            "SuccessfulCreate",
            "SuccessfulCreate",
            "Resumed",
            "Completed"
        ]
    );
}
