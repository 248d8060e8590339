//! The kubelet fleet end to end: scenarios run through the library with a test observer
//! component that records every pod change and deletes pods on cue.
//!
//! Test scenarios use `watchLatency: 0s`, so times read exactly as the kubelet acts.

mod common;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use kubesim::api::meta::ConditionStatus;
use kubesim::api::objects::{Lease, Node, Pod, PodPhase};
use kubesim::api::{
    DeleteOptions, Kind, Object, ObjectKey, WatchEvent, WatchEventType, WatchFilter,
};
use kubesim::kubelet::NODE_STATE_ANNOTATION;
use kubesim::runtime::{Cluster, Component, Context};
use kubesim::sim::{SimDuration, SimTime};

use common::Buf;

type Log = Rc<RefCell<Vec<(u64, WatchEventType, Pod)>>>;
type LeaseLog = Rc<RefCell<Vec<(u64, Lease)>>>;
type NodeLog = Rc<RefCell<Vec<(u64, Node)>>>;

/// What the observer does at a given second.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Delete pod `default/<name>` (default grace period).
    Delete(&'static str),
    /// Set `kubesim.io/node-state` on node `n-0`.
    NodeState(&'static str),
    /// Set node `n-0`'s Ready condition to Unknown (as the node lifecycle controller does).
    NodeUnknown,
}

/// Records pod and Lease changes (time in ms) and acts at given times.
struct Observer {
    log: Log,
    leases: LeaseLog,
    nodes: NodeLog,
    acts: Vec<(u64, Act)>,
}

impl Component for Observer {
    fn name(&self) -> String {
        "test-observer".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        vec![WatchFilter::kinds(&[Kind::Pod, Kind::Lease, Kind::Node])]
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for (i, (secs, _)) in self.acts.iter().enumerate() {
            ctx.set_timer(SimDuration::from_secs(*secs), i as u64);
        }
    }
    fn on_watch(&mut self, _: usize, e: &WatchEvent, ctx: &mut Context<'_>) {
        match &*e.object {
            Object::Pod(p) => {
                self.log
                    .borrow_mut()
                    .push((ctx.now().as_millis(), e.type_, p.clone()))
            }
            Object::Lease(l) => self
                .leases
                .borrow_mut()
                .push((ctx.now().as_millis(), l.clone())),
            Object::Node(n) => self
                .nodes
                .borrow_mut()
                .push((ctx.now().as_millis(), n.clone())),
            _ => {}
        }
    }
    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        match self.acts[token as usize].1 {
            Act::Delete(name) => {
                let key = ObjectKey::new(Kind::Pod, "default", name);
                // A pod may already be gone (random timelines delete twice).
                let _ = ctx.delete(&key, &DeleteOptions::default());
            }
            Act::NodeState(state) => {
                let key = ObjectKey::new(Kind::Node, "", "n-0");
                let mut node = (*ctx.get(&key).unwrap()).clone();
                node.meta_mut()
                    .annotations
                    .insert(NODE_STATE_ANNOTATION.into(), state.into());
                ctx.update(node).unwrap();
            }
            Act::NodeUnknown => {
                let key = ObjectKey::new(Kind::Node, "", "n-0");
                let Object::Node(mut node) = (*ctx.get(&key).unwrap()).clone() else {
                    unreachable!()
                };
                for c in &mut node.status.conditions {
                    if c.type_ == "Ready" {
                        c.status = ConditionStatus::Unknown;
                    }
                }
                ctx.update(Object::Node(node)).unwrap();
            }
        }
    }
}

struct Sim {
    events: Vec<serde_json::Value>,
    log: Log,
    leases: LeaseLog,
    nodes: NodeLog,
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

/// A one-node cluster (1 CPU, 16Gi, node `n-0`, pulling images at 10 MiB/s) with `behaviors` and `objects` (YAML list
/// items, indented by 4), run for `duration`.
fn run(duration: &str, behaviors: &str, objects: &str, acts: &[(u64, Act)]) -> Sim {
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
          metadata: {{annotations: {{kubesim.io/image-pull-bandwidth: 10Mi}}}}
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
    let leases: LeaseLog = Rc::default();
    let nodes: NodeLog = Rc::default();
    cluster
        .add_component(Box::new(Observer {
            log: log.clone(),
            leases: leases.clone(),
            nodes: nodes.clone(),
            acts: acts.to_vec(),
        }))
        .unwrap();
    kubesim::kubelet::register(&mut cluster, scenario.behaviors.clone()).unwrap();
    cluster.run().unwrap();
    cluster.finish_outputs().unwrap();
    let text = String::from_utf8(events.0.borrow().clone()).unwrap();
    Sim {
        events: text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        log,
        leases,
        nodes,
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
        &[(20, Act::Delete("quick")), (20, Act::Delete("slow"))],
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

impl Sim {
    /// Seconds at which pod `name` was first seen in `phase`.
    fn first_phase(&self, name: &str, phase: PodPhase) -> Option<f64> {
        self.log
            .borrow()
            .iter()
            .find(|(_, _, p)| p.metadata.name == name && p.status.phase == phase)
            .map(|(t, ..)| *t as f64 / 1000.0)
    }

    /// The node Lease's last renewal as a reader computes it at `t_s`, from the Lease as
    /// stored at that time.
    fn lease_renewed_at(&self, t_s: u64) -> Option<u64> {
        let leases = self.leases.borrow();
        let (_, lease) = leases.iter().rev().find(|(t, _)| *t <= t_s * 1000)?;
        let now = SimTime::ZERO.saturating_add(SimDuration::from_secs(t_s));
        lease.renew_time_at(now).map(|t| t.as_secs())
    }
}

#[test]
fn a_stopped_kubelet_reports_nothing_until_it_comes_back() {
    let objects = [
        pod("batch", "batch", "        restartPolicy: Never\n", ""),
        pod("victim", "victim", "", ""),
    ]
    .concat();
    let s = run(
        "150s",
        "    - {name: b, selector: {matchLabels: {app: batch}}, exitAfter: 50s}",
        &objects,
        &[
            (20, Act::NodeState("KubeletStopped")),
            (40, Act::Delete("victim")),
            (100, Act::NodeState("Running")),
        ],
    );
    // The container exits at 50 s, but the status reaches the API only at 100 s.
    assert_eq!(s.first_phase("batch", PodPhase::Succeeded), Some(100.0));
    // The deletion at 40 s is acted on when the kubelet is back.
    assert_eq!(s.times("Killing", "Stopping container"), [100.0]);
    assert_eq!(s.deleted_at("victim"), Some(100.0));
}

#[test]
fn lease_renewals_computed_on_demand_match_renewing_every_10_s() {
    let s = run(
        "200s",
        "    []",
        "    []",
        &[
            (35, Act::NodeState("Partitioned")),
            (123, Act::NodeState("Running")),
        ],
    );
    // The explicit model: a kubelet that renews at start and every 10 s while connected,
    // stops at 35 s and starts again (renewing at once) at 123 s.
    let renewals: Vec<u64> = (0..=30)
        .step_by(10)
        .chain((123..=200).step_by(10))
        .collect();
    for t in 0..=200 {
        let expected = renewals.iter().rev().find(|r| **r <= t).copied();
        assert_eq!(s.lease_renewed_at(t), expected, "at {t} s");
    }
    // Three Lease writes in 200 s (create, stop, restart), not one per renewal.
    assert_eq!(s.leases.borrow().len(), 3);
}

#[test]
fn a_crashed_node_loses_its_containers_and_restarts_them_after_reboot() {
    let s = run(
        "100s",
        "    []",
        &pod("web", "web", "", ""),
        &[
            (30, Act::NodeState("Crashed")),
            (60, Act::NodeState("Running")),
        ],
    );
    assert_eq!(s.times("Started", ""), [0.0, 60.0]);
    let c = &s.last("web").status.container_statuses[0];
    assert_eq!(c.restart_count, 1);
    let last = c.last_state.terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_str()), (255, "Unknown"));
    assert!(c.state.running.is_some());
}

#[test]
fn an_idle_day_costs_one_engine_event_per_node_not_one_per_renewal() {
    let yaml = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: idle}
spec:
  duration: 24h
  cluster:
    nodePools:
      - {name: n, count: 300, template: {status: {capacity: {cpu: \"4\", memory: 32Gi}}}}
";
    let scenario = kubesim::scenario::load_str("idle.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("none"))
    })
    .unwrap();
    let mut cluster = Cluster::new(
        scenario.config.clone(),
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    );
    for o in &scenario.objects {
        cluster.apply(o.object.clone()).unwrap();
    }
    kubesim::kubelet::register(&mut cluster, Vec::new()).unwrap();
    cluster.run().unwrap();
    // The initial list delivers each Node once; renewals (8,640 per node per day) cost none.
    assert_eq!(cluster.engine().handled(), 300);
    assert_eq!(cluster.store().list(Kind::Lease).count(), 300);
    let day = SimTime::ZERO.saturating_add(SimDuration::from_secs(24 * 3600));
    // The kubelet sees its node after the 10 ms watch latency and renews from then on.
    let last =
        SimTime::ZERO.saturating_add(SimDuration::from_millis(24 * 3600 * 1000 - 10_000 + 10));
    for lease in cluster.store().list(Kind::Lease) {
        let Object::Lease(l) = &**lease else {
            unreachable!()
        };
        assert_eq!(l.renew_time_at(day), Some(last));
        assert!(!l.expired_at(day));
    }
}

#[test]
fn a_sidecar_init_container_keeps_running_while_the_next_one_and_the_app_start() {
    let s = run(
        "1m",
        "    - {name: s, selector: {matchLabels: {app: side}}, container: setup, exitAfter: 5s}",
        &pod(
            "with-sidecar",
            "side",
            "        initContainers:\n          - {name: proxy, image: example/proxy:1.0, restartPolicy: Always}\n          - {name: setup, image: example/setup:1.0}\n",
            "",
        ),
        &[],
    );
    assert_eq!(s.times("Started", "proxy"), [0.0]);
    assert_eq!(s.times("Started", "setup"), [0.0]);
    assert_eq!(s.times("Started", "app"), [5.0]);
    let p = s.last("with-sidecar");
    assert_eq!(p.status.phase, PodPhase::Running);
    assert!(p.status.init_container_statuses[0].state.running.is_some());
}

mod random_timelines {
    use super::*;
    use proptest::prelude::*;

    const STATES: [&str; 4] = ["Running", "KubeletStopped", "Partitioned", "Crashed"];
    const POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];

    fn pod_yaml(i: usize, policy: &str, probes: bool, init: bool) -> String {
        let probe = if probes {
            "            livenessProbe: {exec: {command: [true]}, periodSeconds: 3, failureThreshold: 2}\n            readinessProbe: {exec: {command: [true]}, periodSeconds: 2}\n            startupProbe: {exec: {command: [true]}, periodSeconds: 1, failureThreshold: 20}\n"
        } else {
            ""
        };
        let init = if init {
            "        initContainers:\n          - {name: setup, image: example/setup:1.0}\n"
        } else {
            ""
        };
        pod(
            &format!("p{i}"),
            &format!("a{i}"),
            &format!("        restartPolicy: {policy}\n{init}"),
            &format!(
                "            resources: {{requests: {{cpu: 300m}}, limits: {{memory: 64Mi}}}}\n{probe}"
            ),
        )
    }

    fn behavior_yaml(i: usize, exit: u32, crash: u32, live: u32, pulls: u32) -> String {
        format!(
            "    - {{name: b{i}, selector: {{matchLabels: {{app: a{i}}}}}, exitAfter: {{uniform: {{min: 0s, max: {exit}s}}}}, exitCode: {code}, crashAfter: {{exponential: {{mean: {crash}s}}}}, livenessFailureAfter: {live}s, startupTime: {{uniform: {{min: 0s, max: 30s}}}}, notReadyAfter: 7s, notReadyFor: 3s, terminationTime: {{uniform: {{min: 0s, max: 40s}}}}, imagePullFailures: {pulls}, imagePullTime: 1s, memory: {{initial: 32Mi, growthPerSecond: {grow}Ki}}}}\n",
            code = exit % 2,
            grow = 100 + 37 * i,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Whatever the behaviours, policies, deletions and node states, the kubelet never
        /// panics, and the same inputs give the same event log.
        #[test]
        fn random_timelines_run_deterministically(
            pods in proptest::collection::vec((0usize..3, any::<bool>(), any::<bool>(), 1u32..200, 1u32..300, 1u32..120, 0u32..3), 1..5),
            acts in proptest::collection::vec((1u64..600, 0usize..5), 0..6),
        ) {
            let objects: String = pods.iter().enumerate().map(|(i, (pol, probes, init, ..))| pod_yaml(i, POLICIES[*pol], *probes, *init)).collect();
            let behaviors: String = pods.iter().enumerate().map(|(i, (_, _, _, exit, crash, live, pulls))| behavior_yaml(i, *exit, *crash, *live, *pulls)).collect();
            let names: Vec<&'static str> = (0..pods.len()).map(|i| &*Box::leak(format!("p{i}").into_boxed_str())).collect();
            let acts: Vec<(u64, Act)> = acts.iter().map(|(t, a)| (*t, match a {
                4 => Act::Delete(names[*t as usize % names.len()]),
                s => Act::NodeState(STATES[*s]),
            })).collect();
            let a = run("15m", &behaviors, &objects, &acts);
            let b = run("15m", &behaviors, &objects, &acts);
            prop_assert_eq!(&a.events, &b.events);
            for (_, _, p) in a.log.borrow().iter() {
                for c in &p.status.container_statuses {
                    prop_assert!(c.restart_count >= 0);
                }
            }
        }
    }
}

#[test]
fn pull_time_follows_image_size_and_node_bandwidth_and_the_image_is_cached() {
    let s = run(
        "30s",
        "    - {name: big, selector: {matchLabels: {app: big}}, imageSize: 25Mi, exitAfter: 10s, exitCode: 1}",
        &pod("big", "big", "", ""),
        &[],
    );
    // 25 MiB at 10 MiB/s: 2.5 s. The restart finds the image on the node.
    assert_eq!(s.times("Pulling", ""), [0.0]);
    assert_eq!(s.times("Started", ""), [2.5, 12.5]);
    assert_eq!(s.times("Pulled", "already present"), [12.5]);
}

#[test]
fn a_pod_past_its_active_deadline_fails_and_its_containers_stop() {
    let s = run(
        "2m",
        "    - {name: slow, selector: {matchLabels: {app: slow}}, terminationTime: 3s}",
        &pod(
            "deadline",
            "slow",
            "        activeDeadlineSeconds: 30\n",
            "",
        ),
        &[],
    );
    assert_eq!(
        s.times("DeadlineExceeded", "longer than the specified deadline"),
        [30.0]
    );
    assert_eq!(s.times("Killing", "Stopping container app"), [30.0]);
    assert_eq!(s.times("Started", ""), [0.0], "not restarted");
    let p = s.last("deadline");
    assert_eq!(p.status.phase, PodPhase::Failed);
    assert_eq!(p.status.reason, "DeadlineExceeded");
    assert_eq!(s.first_phase("deadline", PodPhase::Failed), Some(30.0));
    let t = p.status.container_statuses[0]
        .state
        .terminated
        .clone()
        .unwrap();
    assert_eq!(t.finished_at.map(|t| t.0.as_secs()), Some(33));
}

#[test]
fn a_rebooted_node_posts_ready_again_but_a_steady_node_is_never_rewritten() {
    let s = run(
        "100s",
        "    []",
        "    []",
        &[
            (30, Act::NodeState("Crashed")),
            (50, Act::NodeUnknown),
            (60, Act::NodeState("Running")),
        ],
    );
    let nodes = s.nodes.borrow();
    let ready_at = |t_ms: u64| {
        let (_, n) = nodes.iter().rev().find(|(t, _)| *t <= t_ms).unwrap();
        n.is_ready()
    };
    assert!(ready_at(49_000));
    assert!(!ready_at(59_000));
    assert!(ready_at(60_000));
    let (t, last) = nodes.last().unwrap();
    assert_eq!(*t, 60_000);
    let ready = last
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, "KubeletReady");
    assert_eq!(ready.last_heartbeat_time.map(|t| t.0.as_secs()), Some(60));
    // Written by the kubelet only once (at 60 s); the other versions are the test's own.
    let by_kubelet = nodes
        .iter()
        .filter(|(_, n)| {
            n.status
                .conditions
                .iter()
                .any(|c| c.reason == "KubeletReady" && c.last_heartbeat_time.is_some())
        })
        .count();
    assert_eq!(by_kubelet, 1);
}
