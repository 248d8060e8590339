//! The kubelet fleet end to end: scenarios run through the library with a test observer
//! component that records every pod change and deletes pods on cue.
//!
//! Test scenarios use `watchLatency: 0s`, so times read exactly as the kubelet acts.

mod common;

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;

use kubesim::api::meta::ConditionStatus;
use kubesim::api::objects::{Pod, PodPhase};
use kubesim::api::{
    DeleteOptions, Kind, Object, ObjectKey, WatchEvent, WatchEventType, WatchFilter,
};
use kubesim::kubelet::{KubeletConfig, KubeletFleet};
use kubesim::runtime::{Cluster, Component, Context};
use kubesim::sim::SimDuration;

#[derive(Clone, Default)]
struct Buf(Rc<RefCell<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Log = Rc<RefCell<Vec<(u64, WatchEventType, Pod)>>>;

/// Records pod changes (time in ms) and deletes pods at given times.
struct Observer {
    log: Log,
    deletes: Vec<(u64, String)>,
}

impl Component for Observer {
    fn name(&self) -> String {
        "test-observer".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        vec![WatchFilter::kinds(&[Kind::Pod])]
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for (i, (secs, _)) in self.deletes.iter().enumerate() {
            ctx.set_timer(SimDuration::from_secs(*secs), i as u64);
        }
    }
    fn on_watch(&mut self, _: usize, e: &WatchEvent, ctx: &mut Context<'_>) {
        if let Object::Pod(p) = &*e.object {
            self.log
                .borrow_mut()
                .push((ctx.now().as_millis(), e.type_, p.clone()));
        }
    }
    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        let name = &self.deletes[token as usize].1;
        let key = ObjectKey::new(Kind::Pod, "default", name.as_str());
        ctx.delete(&key, &DeleteOptions::default()).unwrap();
    }
}

struct Sim {
    events: Vec<serde_json::Value>,
    log: Log,
}

impl Sim {
    /// Times (seconds) of events with `reason` whose message contains `text`.
    fn times(&self, reason: &str, text: &str) -> Vec<f64> {
        self.events
            .iter()
            .filter(|e| e["reason"] == reason && e["message"].as_str().unwrap().contains(text))
            .map(|e| e["t_ms"].as_u64().unwrap() as f64 / 1000.0)
            .collect()
    }

    /// The last state of pod `name` the observer saw.
    fn last(&self, name: &str) -> Pod {
        let log = self.log.borrow();
        let (_, _, p) = log
            .iter()
            .rev()
            .find(|(_, _, p)| p.metadata.name == name)
            .expect("pod seen");
        p.clone()
    }

    /// (seconds, Ready) at each change of pod `name`'s Ready condition.
    fn ready_transitions(&self, name: &str) -> Vec<(f64, bool)> {
        let mut out: Vec<(f64, bool)> = Vec::new();
        for (t, _, p) in self
            .log
            .borrow()
            .iter()
            .filter(|(_, _, p)| p.metadata.name == name)
        {
            let ready = p
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True);
            let had_conditions = !p.status.conditions.is_empty();
            if had_conditions && out.last().is_none_or(|(_, r)| *r != ready) {
                out.push((*t as f64 / 1000.0, ready));
            }
        }
        out
    }

    fn deleted_at(&self, name: &str) -> Option<f64> {
        self.log
            .borrow()
            .iter()
            .find(|(_, ty, p)| *ty == WatchEventType::Deleted && p.metadata.name == name)
            .map(|(t, ..)| *t as f64 / 1000.0)
    }
}

/// A one-node cluster (4 CPU, 16Gi, node `n-0`) with `behaviors` and `objects` (YAML list
/// items, indented by 4), run for `duration`.
fn run(duration: &str, behaviors: &str, objects: &str, deletes: &[(u64, &str)]) -> Sim {
    let yaml = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: t}}
spec:
  duration: {duration}
  api: {{watchLatency: 0s}}
  cluster:
    nodePools:
      - name: n
        count: 1
        template:
          status:
            capacity: {{cpu: \"1\", memory: 16Gi, pods: \"110\"}}
  behaviors:
{behaviors}
  objects:
{objects}"
    );
    let scenario = kubesim::scenario::load_str("t.yaml", &yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let events = Buf::default();
    let mut cluster = Cluster::new(
        scenario.config.clone(),
        Box::new(events.clone()),
        Box::new(std::io::sink()),
    );
    for o in &scenario.objects {
        cluster.apply(o.object.clone()).unwrap();
    }
    let log: Log = Rc::default();
    cluster
        .add_component(Box::new(Observer {
            log: log.clone(),
            deletes: deletes.iter().map(|(t, n)| (*t, n.to_string())).collect(),
        }))
        .unwrap();
    cluster
        .add_component(Box::new(KubeletFleet::new(
            KubeletConfig::default(),
            scenario.behaviors.clone(),
        )))
        .unwrap();
    cluster.run().unwrap();
    cluster.finish_outputs().unwrap();
    let text = String::from_utf8(events.0.borrow().clone()).unwrap();
    Sim {
        events: text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        log,
    }
}

/// A bound pod named `name` with labels `app: <app>` and one container `app`; `extra` is
/// appended to the pod spec, `container` to the container (each line indented already).
fn pod(name: &str, app: &str, spec_extra: &str, container_extra: &str) -> String {
    format!(
        "    - apiVersion: v1
      kind: Pod
      metadata: {{name: {name}, namespace: default, labels: {{app: {app}}}}}
      spec:
        nodeName: n-0
{spec_extra}        containers:
          - name: app
            image: example/app:1.0
{container_extra}"
    )
}

#[test]
fn crashloop_scenario_restarts_at_the_reference_offsets() {
    // Acceptance: read events.jsonl of the shipped scenario.
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crashloop.yaml");
    let o = common::kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let started: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["reason"] == "Started")
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    // Each run lasts 0 s, so each exit is at its start: the delay after exit k is
    // started[k+1] - started[k].
    let t0 = started[0];
    let delays_s: Vec<u64> = started.windows(2).map(|w| (w[1] - w[0]) / 1000).collect();
    assert_eq!(
        delays_s,
        [0, 10, 20, 40, 80, 160, 300, 300, 300, 300],
        "t0 = {t0} ms"
    );
    assert!(started.iter().all(|t| (t - t0).is_multiple_of(1000)));
    let backoffs = text
        .lines()
        .filter(|l| l.contains(r#""reason":"BackOff""#))
        .count();
    assert_eq!(backoffs, started.len() - 1);
}

#[test]
fn oom_killed_container_restarts_with_crash_backoff() {
    let s = run(
        "60s",
        "    - {name: leak, selector: {matchLabels: {app: leak}}, memory: {initial: 50Mi, growthPerSecond: 10Mi}}",
        &pod(
            "leaky",
            "leak",
            "",
            "            resources: {limits: {memory: 100Mi}}\n",
        ),
        &[],
    );
    // OOM 6 s after each start (50Mi + 10Mi/s crosses 100Mi in the 6th second).
    assert_eq!(s.times("Started", ""), [0.0, 6.0, 22.0, 48.0]);
    let p = s.last("leaky");
    let c = &p.status.container_statuses[0];
    let last = c
        .last_state
        .terminated
        .as_ref()
        .expect("lastState terminated");
    assert_eq!((last.exit_code, last.reason.as_str()), (137, "OOMKilled"));
    assert_eq!(c.restart_count, 3);
    assert_eq!(p.status.phase, PodPhase::Running);
}

#[test]
fn liveness_failure_restarts_the_container_at_the_third_failed_probe() {
    let s = run(
        "120s",
        "    - {name: hang, selector: {matchLabels: {app: hang}}, livenessFailureAfter: 25s}",
        &pod(
            "hangs",
            "hang",
            "",
            "            livenessProbe: {httpGet: {path: /healthz, port: 8080}}\n",
        ),
        &[],
    );
    // Probe ticks at 0, 10, 20, ...; first failing tick 30, threshold 3 ⇒ killed at 50.
    assert_eq!(
        s.times("Unhealthy", "Liveness"),
        [30.0, 40.0, 50.0, 80.0, 90.0, 100.0]
    );
    assert_eq!(s.times("Killing", "failed liveness probe"), [50.0, 100.0]);
    assert_eq!(s.times("Started", ""), [0.0, 50.0, 110.0]);
    let c = &s.last("hangs").status.container_statuses[0];
    assert_eq!(c.last_state.terminated.as_ref().unwrap().exit_code, 143);
}

#[test]
fn container_exiting_zero_under_on_failure_is_not_restarted_and_the_pod_succeeds() {
    let s = run(
        "2m",
        "    - {name: batch, selector: {matchLabels: {app: batch}}, exitAfter: 30s, exitCode: 0}",
        &pod("job-1", "batch", "        restartPolicy: OnFailure\n", ""),
        &[],
    );
    assert_eq!(s.times("Started", ""), [0.0]);
    let p = s.last("job-1");
    assert_eq!(p.status.phase, PodPhase::Succeeded);
    let t = p.status.container_statuses[0]
        .state
        .terminated
        .clone()
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_str()), (0, "Completed"));
}

#[test]
fn failing_init_container_under_never_fails_the_pod() {
    let s = run(
        "1m",
        "    - {name: bad-init, selector: {matchLabels: {app: init}}, container: setup, exitAfter: 5s, exitCode: 2}",
        &pod(
            "init-fails",
            "init",
            "        restartPolicy: Never\n        initContainers:\n          - {name: setup, image: example/setup:1.0}\n",
            "",
        ),
        &[],
    );
    assert_eq!(
        s.times("Started", ""),
        [0.0],
        "the app container never starts"
    );
    let p = s.last("init-fails");
    assert_eq!(p.status.phase, PodPhase::Failed);
    assert_eq!(
        p.status.init_container_statuses[0]
            .state
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        2
    );
}

#[test]
fn init_containers_run_in_order_before_the_app() {
    let s = run(
        "1m",
        "    - {name: a, selector: {matchLabels: {app: init}}, container: one, exitAfter: 3s}
    - {name: b, selector: {matchLabels: {app: init}}, container: two, exitAfter: 4s}",
        &pod(
            "two-inits",
            "init",
            "        initContainers:\n          - {name: one, image: example/setup:1.0}\n          - {name: two, image: example/setup:1.0}\n",
            "",
        ),
        &[],
    );
    assert_eq!(s.times("Started", "one"), [0.0]);
    assert_eq!(s.times("Started", "two"), [3.0]);
    assert_eq!(s.times("Started", "app"), [7.0]);
    let p = s.last("two-inits");
    assert_eq!(p.status.phase, PodPhase::Running);
    assert!(
        p.status
            .conditions
            .iter()
            .any(|c| c.type_ == "Initialized" && c.status == ConditionStatus::True)
    );
}

#[test]
fn failed_image_pulls_back_off_10_s_doubling() {
    let s = run(
        "3m",
        "    - {name: flaky-registry, selector: {matchLabels: {app: pull}}, imagePullFailures: 3, imagePullTime: 2s}",
        &pod("puller", "pull", "", ""),
        &[],
    );
    // Each attempt takes 2 s; back-off 10, 20, 40 s from each failure.
    assert_eq!(s.times("Pulling", ""), [0.0, 12.0, 34.0, 76.0]);
    assert_eq!(s.times("Failed", "Error: ErrImagePull"), [2.0, 14.0, 36.0]);
    assert_eq!(
        s.times("BackOff", "Back-off pulling image"),
        [3.0, 15.0, 37.0]
    );
    assert_eq!(s.times("Started", ""), [78.0]);
    let reasons: Vec<String> = s
        .log
        .borrow()
        .iter()
        .filter_map(|(_, _, p)| {
            p.status
                .container_statuses
                .first()?
                .state
                .waiting
                .as_ref()
                .map(|w| w.reason.clone())
        })
        .collect();
    assert!(
        reasons
            .windows(2)
            .any(|w| w == ["ErrImagePull", "ImagePullBackOff"]),
        "{reasons:?}"
    );
}

#[test]
fn readiness_flapping_shows_in_the_ready_condition() {
    let s = run(
        "200s",
        "    - {name: flappy, selector: {matchLabels: {app: flap}}, startupTime: 5s, notReadyAfter: 60s, notReadyFor: 45s}",
        &pod(
            "flapper",
            "flap",
            "",
            "            readinessProbe: {httpGet: {path: /ready, port: 8080}}\n",
        ),
        &[],
    );
    // Up at 5 s ⇒ first passing tick 10 s. Not ready at 65 s ⇒ failing ticks 70, 80, 90
    // (threshold 3). Ready again at 110 s ⇒ tick 110. Not ready at 170 ⇒ False at 190.
    assert_eq!(
        s.ready_transitions("flapper"),
        [
            (0.0, false),
            (10.0, true),
            (90.0, false),
            (110.0, true),
            (190.0, false)
        ]
    );
}

#[test]
fn a_pod_over_the_nodes_cpu_is_rejected_out_of_cpu() {
    let objects = [
        pod(
            "first",
            "x",
            "",
            "            resources: {requests: {cpu: 600m}}\n",
        ),
        pod(
            "second",
            "x",
            "",
            "            resources: {requests: {cpu: 600m}}\n",
        ),
    ]
    .concat();
    let s = run("30s", "    []", &objects, &[]);
    assert_eq!(s.last("first").status.phase, PodPhase::Running);
    let second = s.last("second");
    assert_eq!(second.status.phase, PodPhase::Failed);
    assert_eq!(second.status.reason, "OutOfcpu");
    assert_eq!(
        s.times("OutOfcpu", "requested: 600, used: 600, capacity: 1000"),
        [0.0]
    );
}

#[test]
fn deleted_pod_is_killed_and_removed_when_its_container_exits_within_the_grace_period() {
    let objects = [pod("quick", "quick", "", ""), pod("slow", "slow", "", "")].concat();
    let s = run(
        "2m",
        "    - {name: q, selector: {matchLabels: {app: quick}}, terminationTime: 5s}
    - {name: s, selector: {matchLabels: {app: slow}}, terminationTime: 90s}",
        &objects,
        &[(20, "quick"), (20, "slow")],
    );
    assert_eq!(s.times("Killing", "Stopping container app"), [20.0, 20.0]);
    assert_eq!(s.deleted_at("quick"), Some(25.0));
    // SIGKILL at the 30 s grace period.
    assert_eq!(s.deleted_at("slow"), Some(50.0));
}

#[test]
fn crash_backoff_resets_after_a_run_longer_than_600_s() {
    let objects = [pod("long", "long", "", ""), pod("short", "short", "", "")].concat();
    let s = run(
        "1500s",
        "    - {name: l, selector: {matchLabels: {app: long}}, exitAfter: 700s, exitCode: 1}
    - {name: s, selector: {matchLabels: {app: short}}, exitAfter: 500s, exitCode: 1}",
        &objects,
        &[],
    );
    let started = |pod: &str| -> Vec<f64> {
        s.events
            .iter()
            .filter(|e| e["reason"] == "Started" && e["object"] == format!("Pod/default/{pod}"))
            .map(|e| e["t_ms"].as_u64().unwrap() as f64 / 1000.0)
            .collect()
    };
    assert_eq!(started("long"), [0.0, 700.0, 1400.0]);
    assert_eq!(started("short"), [0.0, 500.0, 1010.0]);
}

#[test]
fn a_behavior_with_a_bad_distribution_is_reported_with_its_place() {
    let yaml = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  behaviors:
    - name: x
      exitAfter: {gamma: {k: 2}}
";
    let err = kubesim::scenario::load_str("t.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("none"))
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("t.yaml:7:"), "{err}");
    assert!(err.contains("spec.behaviors[0].exitAfter"), "{err}");
    assert!(err.contains("expected a duration"), "{err}");
}

#[test]
fn behavior_names_must_be_unique_and_selectors_valid() {
    let yaml = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  behaviors:
    - {name: x, selector: {matchLabels: {\"bad key!\": v}}}
    - {name: x}
";
    let err = kubesim::scenario::load_str("t.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("none"))
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("spec.behaviors[1].name: Duplicate value"),
        "{err}"
    );
    assert!(
        err.contains("spec.behaviors[0].selector: Invalid value"),
        "{err}"
    );
}
