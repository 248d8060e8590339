//! The Deployment controller: the `deployment.*` rows of
//! `../shared/reference/vectors/controllers.json` and scenarios driven through the library
//! `Cluster` (template changes between `run_until` calls), checked at every pod event by an
//! observer component and from events.jsonl.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use kubesim::api::meta::{ConditionStatus, IntOrString, Time};
use kubesim::api::objects::workloads::{Deployment, DeploymentStatus, ReplicaSet};
use kubesim::api::objects::{Kind, Object, ObjectKey};
use kubesim::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use kubesim::controllers::deployment::rollout_undo;
use kubesim::controllers::deployment::util;
use kubesim::runtime::{Cluster, Component, Context};
use kubesim::sim::{SimDuration, SimTime};

use common::Buf;

// ---------------------------------------------------------------------------------------
// Reference rows
// ---------------------------------------------------------------------------------------

fn int_or_string(v: &serde_json::Value) -> Option<IntOrString> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(IntOrString::String(s.clone())),
        other => Some(IntOrString::Int(other.as_i64().unwrap() as i32)),
    }
}

/// A defaulted Deployment from a JSON body.
fn deployment(json: serde_json::Value) -> Deployment {
    let mut obj = Object::from_json(Kind::Deployment, json).unwrap();
    kubesim::api::defaults::apply(&mut obj);
    match obj {
        Object::Deployment(d) => d,
        _ => unreachable!(),
    }
}

fn rolling(replicas: i64, surge: serde_json::Value, unavailable: serde_json::Value) -> Deployment {
    deployment(serde_json::json!({
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}
    }))
}

fn rs_with(replicas: i32) -> ReplicaSet {
    let mut rs = ReplicaSet::default();
    rs.spec.replicas = Some(replicas);
    rs
}

fn status(t: &serde_json::Value) -> DeploymentStatus {
    let n = |i: usize| t[i].as_i64().unwrap() as i32;
    DeploymentStatus {
        replicas: n(0),
        updated_replicas: n(1),
        ready_replicas: n(2),
        available_replicas: n(3),
        ..DeploymentStatus::default()
    }
}

/// `00:MM:SS` of the upstream test's day, as sim time.
fn clock(s: &str) -> SimTime {
    let parts: Vec<u64> = s.split(':').map(|p| p.parse().unwrap()).collect();
    SimTime::ZERO.saturating_add(SimDuration::from_secs(
        parts[0] * 3600 + parts[1] * 60 + parts[2],
    ))
}

fn check_row(case: &serde_json::Value) -> Result<(), String> {
    let id = case["id"].as_str().unwrap();
    let inp = &case["inputs"];
    let exp = &case["expected"];
    let got: serde_json::Value;
    let want: serde_json::Value;
    if id.starts_with("deploy.resolve_fenceposts.") {
        let r = util::resolve_fenceposts(
            int_or_string(&inp["maxSurge"]).as_ref(),
            int_or_string(&inp["maxUnavailable"]).as_ref(),
            inp["desired"].as_i64().unwrap() as i32,
        );
        let (s, u) = r.clone().unwrap_or((0, 0));
        got = serde_json::json!({"surge": s, "unavailable": u, "error": r.is_err()});
        want = exp.clone();
    } else if id.starts_with("deploy.new_rs_new_replicas.") {
        let mut d = deployment(serde_json::json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": inp["deployment.replicas"], "strategy": {"type": inp["strategy"]}}
        }));
        if inp["strategy"] == "RollingUpdate" {
            let ru = d.spec.strategy.rolling_update.as_mut().unwrap();
            ru.max_surge = int_or_string(&inp["maxSurge"]);
            ru.max_unavailable = Some(IntOrString::Int(1));
        }
        let new_rs = rs_with(inp["newRS.replicas"].as_i64().unwrap() as i32);
        let all: Vec<ReplicaSet> = inp["allRSs_spec_replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| rs_with(v.as_i64().unwrap() as i32))
            .collect();
        let refs: Vec<&ReplicaSet> = all.iter().collect();
        got = serde_json::json!({"newRSReplicas": util::new_rs_new_replicas(&d, &refs, &new_rs)?});
        want = exp.clone();
    } else if id.starts_with("deploy.max_unavailable.") {
        let mut d = rolling(
            inp["replicas"].as_i64().unwrap(),
            serde_json::json!(1),
            inp["maxUnavailable"].clone(),
        );
        if inp["strategy"] == "Recreate" {
            d.spec.strategy.type_ =
                kubesim::api::objects::workloads::DeploymentStrategyType::Recreate;
        }
        got = serde_json::json!({"MaxUnavailable": util::max_unavailable(&d)});
        want = exp.clone();
    } else if id.starts_with("deploy.complete.") {
        let d = rolling(
            inp["spec.replicas"].as_i64().unwrap(),
            inp["maxSurge"].clone(),
            inp["maxUnavailable"].clone(),
        );
        let s = DeploymentStatus {
            replicas: inp["status.replicas"].as_i64().unwrap() as i32,
            updated_replicas: inp["status.updatedReplicas"].as_i64().unwrap() as i32,
            available_replicas: inp["status.availableReplicas"].as_i64().unwrap() as i32,
            observed_generation: d.metadata.generation,
            ..DeploymentStatus::default()
        };
        got = serde_json::json!({"DeploymentComplete": util::deployment_complete(&d, &s)});
        want = exp.clone();
    } else if id.starts_with("deploy.progressing.") {
        let mut d = rolling(10, serde_json::json!(1), serde_json::json!(1));
        d.status = status(&inp["old_status"]);
        let s = status(&inp["new_status"]);
        got = serde_json::json!({"DeploymentProgressing": util::deployment_progressing(&d, &s)});
        want = exp.clone();
    } else if id.starts_with("deploy.timed_out.") {
        let mut d = rolling(1, serde_json::json!(1), serde_json::json!(1));
        // Defaulting sets 600; the rows give the field as it is (null = unset).
        d.spec.progress_deadline_seconds =
            inp["progressDeadlineSeconds"].as_i64().map(|v| v as i32);
        let last = inp["condition.lastUpdateTime"]
            .as_str()
            .unwrap_or("00:01:00");
        let now = clock(inp["now"].as_str().unwrap_or("00:01:20"));
        let mut c = util::new_condition(
            util::PROGRESSING,
            ConditionStatus::True,
            inp["condition.reason"].as_str().unwrap_or(""),
            String::new(),
            now,
        );
        c.last_update_time = Some(Time(clock(last)));
        let s = DeploymentStatus {
            conditions: vec![c],
            ..DeploymentStatus::default()
        };
        got = serde_json::json!({"DeploymentTimedOut": util::deployment_timed_out(&d, &s, now)});
        want = exp.clone();
    } else if id == "deploy.defaults" {
        let d = deployment(serde_json::json!({"metadata": {"name": "d"}, "spec": {}}));
        let ru = d.spec.strategy.rolling_update.clone().unwrap();
        got = serde_json::json!({
            "replicas": d.spec.replicas,
            "strategy": format!("{:?}", d.spec.strategy.type_),
            "maxUnavailable": ru.max_unavailable,
            "maxSurge": ru.max_surge,
            "revisionHistoryLimit": d.spec.revision_history_limit,
            "progressDeadlineSeconds": d.spec.progress_deadline_seconds,
        });
        want = exp["Deployment"].clone();
        // The other kinds of the row, where kubesim models the field.
        let defaulted = |kind: Kind| {
            let mut o =
                Object::from_json(kind, serde_json::json!({"metadata": {"name": "x"}})).unwrap();
            kubesim::api::defaults::apply(&mut o);
            o
        };
        if let Object::ReplicaSet(rs) = defaulted(Kind::ReplicaSet) {
            check_eq(
                id,
                &serde_json::json!(rs.spec.replicas),
                &exp["ReplicaSet"]["replicas"],
            )?;
        }
        if let Object::DaemonSet(ds) = defaulted(Kind::DaemonSet) {
            let ru = ds.spec.update_strategy.rolling_update.clone().unwrap();
            let e = &exp["DaemonSet"];
            check_eq(
                id,
                &serde_json::json!(format!("{:?}", ds.spec.update_strategy.type_)),
                &e["updateStrategy"],
            )?;
            check_eq(
                id,
                &serde_json::json!(ru.max_unavailable),
                &e["maxUnavailable"],
            )?;
            check_eq(id, &serde_json::json!(ru.max_surge), &e["maxSurge"])?;
            check_eq(
                id,
                &serde_json::json!(ds.spec.revision_history_limit),
                &e["revisionHistoryLimit"],
            )?;
        }
        if let Object::StatefulSet(ss) = defaulted(Kind::StatefulSet) {
            let e = &exp["StatefulSet"];
            check_eq(
                id,
                &serde_json::json!(format!("{:?}", ss.spec.pod_management_policy)),
                &e["podManagementPolicy"],
            )?;
            check_eq(
                id,
                &serde_json::json!(format!("{:?}", ss.spec.update_strategy.type_)),
                &e["updateStrategy"],
            )?;
            check_eq(
                id,
                &serde_json::json!(
                    ss.spec
                        .update_strategy
                        .rolling_update
                        .as_ref()
                        .and_then(|r| r.partition)
                ),
                &e["partition"],
            )?;
            check_eq(id, &serde_json::json!(ss.spec.replicas), &e["replicas"])?;
            check_eq(
                id,
                &serde_json::json!(ss.spec.revision_history_limit),
                &e["revisionHistoryLimit"],
            )?;
            // pvcRetention: kubesim models no volume claims (StatefulSet helper's scope).
        }
    } else {
        return Err(format!("{id}: no check for this row"));
    }
    check_eq(id, &got, &want)
}

fn check_eq(id: &str, got: &serde_json::Value, want: &serde_json::Value) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{id}: got {got}, want {want}"))
    }
}

#[test]
fn deployment_vector_rows() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let topic = case["topic"].as_str().unwrap_or("");
        if !topic.starts_with("deployment.") {
            continue;
        }
        if let Err(e) = check_row(case) {
            failures.push(e);
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} deployment rows");
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("{checked} deployment rows pass");
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// Pod counts at one instant, as an observer watching every pod change sees them.
#[derive(Clone, Debug)]
struct Sample {
    t: SimTime,
    /// Not terminal and not being deleted (what upstream counts as a replica).
    active: u32,
    /// Active and Ready (minReadySeconds is 0 in these scenarios).
    available: u32,
    /// Pods whose phase is not Succeeded/Failed (terminating ones included), per value of
    /// the `version` label.
    running_by_version: BTreeMap<String, u32>,
    /// Pod objects of any state, per `version`.
    existing_by_version: BTreeMap<String, u32>,
}

/// A test component: folds every pod watch event into its own view and samples the counts
/// after each one.
struct Observer {
    pods: BTreeMap<String, kubesim::api::objects::pod::Pod>,
    samples: Rc<RefCell<Vec<Sample>>>,
}

impl Component for Observer {
    fn name(&self) -> String {
        "test-observer".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        vec![WatchFilter::kinds(&[Kind::Pod])]
    }
    fn on_watch(&mut self, _watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Pod(p) = &*event.object else {
            return;
        };
        if event.type_ == WatchEventType::Deleted {
            self.pods.remove(&p.metadata.name);
        } else {
            self.pods.insert(p.metadata.name.clone(), p.clone());
        }
        let mut s = Sample {
            t: ctx.now(),
            active: 0,
            available: 0,
            running_by_version: BTreeMap::new(),
            existing_by_version: BTreeMap::new(),
        };
        for p in self.pods.values() {
            let version = p
                .metadata
                .labels
                .get("version")
                .cloned()
                .unwrap_or_default();
            *s.existing_by_version.entry(version.clone()).or_default() += 1;
            if !p.status.phase.is_terminal() {
                *s.running_by_version.entry(version).or_default() += 1;
            }
            if kubesim::controllers::pods::is_active(p) {
                s.active += 1;
                if kubesim::controllers::pods::is_ready(p) {
                    s.available += 1;
                }
            }
        }
        self.samples.borrow_mut().push(s);
    }
}

fn scenario(extra_behaviors: &str, deployment_spec: &str) -> String {
    format!(
        r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: deploy}}
spec:
  seed: 11
  duration: 30m
  cluster:
    nodePools:
      - name: node
        count: 4
        template:
          status:
            capacity: {{cpu: "8", memory: 32Gi, pods: "110"}}
  behaviors:
{extra_behaviors}    - name: web
      selector: {{matchLabels: {{app: web}}}}
      startupTime: {{uniform: {{min: 2s, max: 8s}}}}
      readinessDelay: 1s
      terminationTime: {{uniform: {{min: 1s, max: 5s}}}}
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: web, namespace: default}}
      spec:
{deployment_spec}        selector: {{matchLabels: {{app: web}}}}
        template:
          metadata: {{labels: {{app: web, version: v1}}}}
          spec:
            containers:
              - name: app
                image: nginx:1.27
                resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
                readinessProbe:
                  httpGet: {{path: /healthz, port: 80}}
                  periodSeconds: 2
"#
    )
}

struct Run {
    cluster: Cluster,
    events: Buf,
    samples: Rc<RefCell<Vec<Sample>>>,
}

fn start(yaml: &str) -> Run {
    let scenario = kubesim::scenario::load_str("deploy.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap();
    let events = Buf::default();
    let mut cluster = kubesim::setup::build(
        &scenario,
        Box::new(events.clone()),
        Box::new(std::io::sink()),
    )
    .unwrap();
    let samples = Rc::new(RefCell::new(Vec::new()));
    cluster
        .add_component(Box::new(Observer {
            pods: BTreeMap::new(),
            samples: samples.clone(),
        }))
        .unwrap();
    Run {
        cluster,
        events,
        samples,
    }
}

fn at(secs: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(secs))
}

const WEB: (&str, &str) = ("default", "web");

impl Run {
    fn run_to(&mut self, t: SimTime) {
        self.cluster.run_until(t).unwrap();
    }
    fn deployment(&self) -> Deployment {
        match self
            .cluster
            .store()
            .get(&ObjectKey::new(Kind::Deployment, WEB.0, WEB.1))
            .map(|o| (**o).clone())
        {
            Some(Object::Deployment(d)) => d,
            other => panic!("no Deployment: {other:?}"),
        }
    }
    fn replica_sets(&self) -> Vec<ReplicaSet> {
        self.cluster
            .store()
            .list(Kind::ReplicaSet)
            .filter_map(|o| match &**o {
                Object::ReplicaSet(rs) => Some(rs.clone()),
                _ => None,
            })
            .collect()
    }
    /// The ReplicaSet whose template has `version`.
    fn rs(&self, version: &str) -> ReplicaSet {
        self.replica_sets()
            .into_iter()
            .find(|rs| {
                rs.spec
                    .template
                    .metadata
                    .labels
                    .get("version")
                    .map(String::as_str)
                    == Some(version)
            })
            .unwrap_or_else(|| panic!("no ReplicaSet for {version}"))
    }
    /// Changes the Deployment as a user would (`kubectl apply`/`edit`).
    fn edit(&mut self, change: impl FnOnce(&mut Deployment)) {
        let mut d = self.deployment();
        change(&mut d);
        self.cluster.update(Object::Deployment(d)).unwrap();
    }
    fn set_version(&mut self, version: &str) {
        self.edit(|d| {
            d.spec
                .template
                .metadata
                .labels
                .insert("version".into(), version.into());
        });
    }
    fn events(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.events.0.borrow().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn messages(&self, reason: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    }
    fn samples_after(&self, t: SimTime) -> Vec<Sample> {
        self.samples
            .borrow()
            .iter()
            .filter(|s| s.t >= t)
            .cloned()
            .collect()
    }
}

fn condition(d: &Deployment, type_: &str) -> kubesim::api::meta::Condition {
    util::get_condition(&d.status, type_)
        .cloned()
        .unwrap_or_else(|| panic!("no {type_} condition: {:?}", d.status))
}

fn assert_complete(d: &Deployment, replicas: i32) {
    let s = &d.status;
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas,
            s.unavailable_replicas
        ),
        (replicas, replicas, replicas, replicas, 0),
        "{s:?}"
    );
    assert_eq!(s.observed_generation, d.metadata.generation);
    let p = condition(d, util::PROGRESSING);
    assert_eq!(
        (p.status, p.reason.as_str()),
        (ConditionStatus::True, util::NEW_RS_AVAILABLE_REASON),
        "{p:?}"
    );
    let a = condition(d, util::AVAILABLE);
    assert_eq!(
        (a.status, a.reason.as_str()),
        (ConditionStatus::True, util::MINIMUM_REPLICAS_AVAILABLE)
    );
}

const TEN_25: &str = "        replicas: 10
        strategy:
          type: RollingUpdate
          rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
";

/// Acceptance: 10 replicas, maxSurge 25% (3) and maxUnavailable 25% (2): at every pod event
/// of the rollout at most 13 pods and at least 8 available; it completes.
///
/// "Pods" are replicas as upstream counts them: pods being deleted are not counted (old pods
/// take up to 5 s to stop here, so a few more pod objects exist meanwhile, as in a real
/// cluster).
#[test]
fn rolling_update_of_ten_replicas_stays_within_13_pods_and_8_available() {
    let mut r = start(&scenario("", TEN_25));
    r.run_to(at(60));
    assert_complete(&r.deployment(), 10);
    let first = r.rs("v1");
    assert!(first.metadata.name.starts_with("web-"));
    assert_eq!(
        first
            .metadata
            .labels
            .get(util::POD_TEMPLATE_HASH_LABEL)
            .map(String::as_str),
        Some(&first.metadata.name["web-".len()..])
    );
    assert_eq!(
        first
            .metadata
            .annotations
            .get(util::REVISION_ANNOTATION)
            .map(String::as_str),
        Some("1")
    );

    let t_update = r.cluster.now();
    r.set_version("v2");
    r.run_to(at(300));

    let samples = r.samples_after(t_update);
    assert!(
        samples.len() > 50,
        "the observer saw the rollout: {}",
        samples.len()
    );
    let max_active = samples.iter().map(|s| s.active).max().unwrap();
    let min_available = samples.iter().map(|s| s.available).min().unwrap();
    assert_eq!(max_active, 13, "maxSurge is used and never exceeded");
    assert_eq!(
        min_available, 8,
        "maxUnavailable is used and never exceeded"
    );
    let d = r.deployment();
    assert_complete(&d, 10);
    assert_eq!(
        d.metadata
            .annotations
            .get(util::REVISION_ANNOTATION)
            .map(String::as_str),
        Some("2")
    );
    let (old, new) = (r.rs("v1"), r.rs("v2"));
    assert_eq!((old.spec.replicas, new.spec.replicas), (Some(0), Some(10)));
    assert_eq!(
        new.metadata
            .annotations
            .get(util::REVISION_ANNOTATION)
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        new.metadata
            .annotations
            .get(util::DESIRED_REPLICAS_ANNOTATION)
            .map(String::as_str),
        Some("10")
    );
    assert_eq!(
        new.metadata
            .annotations
            .get(util::MAX_REPLICAS_ANNOTATION)
            .map(String::as_str),
        Some("13")
    );
    let last = samples.last().unwrap();
    assert_eq!((last.active, last.available), (10, 10));
    assert_eq!(
        last.existing_by_version.get("v1"),
        None,
        "old pods are gone"
    );

    // The first steps, in upstream's words: new 0 -> 3, then old 10 -> 8.
    let scaling = r.messages("ScalingReplicaSet");
    assert_eq!(
        scaling[0],
        format!("Scaled up replica set {} from 0 to 10", old.metadata.name)
    );
    assert_eq!(
        scaling[1],
        format!("Scaled up replica set {} from 0 to 3", new.metadata.name)
    );
    assert_eq!(
        scaling[2],
        format!("Scaled down replica set {} from 10 to 8", old.metadata.name)
    );
    assert!(scaling.last().unwrap().contains("to 0") || scaling.last().unwrap().contains("to 10"));
    assert!(
        r.events()
            .iter()
            .filter(|e| e["reason"] == "ScalingReplicaSet")
            .all(|e| e["object"] == "Deployment/default/web")
    );
}

/// Acceptance: a rollout to a crash-looping template stalls; Progressing turns False with
/// `ProgressDeadlineExceeded` at the first sync after lastUpdateTime + progressDeadlineSeconds
/// (upstream requeues the check for that instant + 1 s); availability never drops below
/// replicas − maxUnavailable; then `rollout_undo` restores the old template, which becomes
/// revision 3, and full availability comes back.
#[test]
fn a_crash_looping_rollout_exceeds_its_deadline_and_a_rollback_restores_it() {
    let spec = format!("{TEN_25}        progressDeadlineSeconds: 120\n");
    let crash = "    - name: crash
      selector: {matchLabels: {app: web, version: v2}}
      crashAfter: 0s
";
    let mut r = start(&scenario(crash, &spec));
    r.run_to(at(60));
    assert_complete(&r.deployment(), 10);
    let t_update = r.cluster.now();
    r.set_version("v2");
    r.run_to(at(100));
    let stalled = r.deployment();
    let p = condition(&stalled, util::PROGRESSING);
    assert_eq!(
        (p.status, p.reason.as_str()),
        (ConditionStatus::True, util::RS_UPDATED_REASON),
        "{p:?}"
    );
    let last_progress = p.last_update_time.unwrap().0;
    assert!(
        last_progress > t_update && last_progress < at(70),
        "{last_progress:?}"
    );
    assert_eq!(stalled.status.available_replicas, 8);
    // New 0 -> 3 (surge), old 10 -> 8 (unavailable), new 3 -> 5 (surge again), then stuck.
    assert_eq!(stalled.status.updated_replicas, 5);
    assert_eq!(
        condition(&stalled, util::AVAILABLE).status,
        ConditionStatus::True
    );

    // Upstream's time: the sync queued for lastUpdateTime + 120 s + 1 s.
    let due = last_progress.saturating_add(SimDuration::from_secs(121));
    r.run_to(SimTime::from_nanos(due.as_nanos() - 1_000_000));
    let before = condition(&r.deployment(), util::PROGRESSING);
    assert_eq!(
        before.reason,
        util::RS_UPDATED_REASON,
        "not yet timed out: {before:?}"
    );
    r.run_to(due);
    let d = r.deployment();
    let timed_out = condition(&d, util::PROGRESSING);
    assert_eq!(
        (timed_out.status, timed_out.reason.as_str()),
        (ConditionStatus::False, util::TIMED_OUT_REASON),
        "{timed_out:?}"
    );
    assert_eq!(timed_out.last_transition_time, Some(Time(due)));
    assert_eq!(
        timed_out.message,
        format!(
            "ReplicaSet {:?} has timed out progressing.",
            r.rs("v2").metadata.name
        )
    );
    let stall = r.samples_after(t_update);
    assert!(stall.iter().all(|s| s.available >= 8 && s.active <= 13));

    // kubectl rollout undo.
    let t_undo = r.cluster.now();
    let undone = rollout_undo(&d, r.replica_sets(), 0).unwrap();
    assert_eq!(
        undone
            .spec
            .template
            .metadata
            .labels
            .get("version")
            .map(String::as_str),
        Some("v1")
    );
    assert!(
        !undone
            .spec
            .template
            .metadata
            .labels
            .contains_key(util::POD_TEMPLATE_HASH_LABEL)
    );
    r.cluster.update(Object::Deployment(undone)).unwrap();
    r.run_to(due.saturating_add(SimDuration::from_secs(120)));
    let d = r.deployment();
    assert_complete(&d, 10);
    assert_eq!(
        d.metadata
            .annotations
            .get(util::REVISION_ANNOTATION)
            .map(String::as_str),
        Some("3")
    );
    let (old, bad) = (r.rs("v1"), r.rs("v2"));
    assert_eq!(
        old.metadata
            .annotations
            .get(util::REVISION_ANNOTATION)
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        old.metadata
            .annotations
            .get(util::REVISION_HISTORY_ANNOTATION)
            .map(String::as_str),
        Some("1")
    );
    assert_eq!((old.spec.replicas, bad.spec.replicas), (Some(10), Some(0)));
    let after = r.samples_after(t_undo);
    assert!(after.iter().all(|s| s.available >= 8 && s.active <= 13));
    assert_eq!(after.last().unwrap().available, 10);
    assert_eq!(after.last().unwrap().existing_by_version.get("v2"), None);
}

/// Acceptance: with Recreate, no pod of the new template exists while a pod of the old one
/// is still running (terminating pods included), checked at every pod event.
#[test]
fn recreate_starts_no_new_pod_while_an_old_one_runs() {
    let spec = "        replicas: 4\n        strategy: {type: Recreate}\n";
    let mut r = start(&scenario("", spec));
    r.run_to(at(60));
    assert_complete(&r.deployment(), 4);
    let t_update = r.cluster.now();
    r.set_version("v2");
    r.run_to(at(180));
    let samples = r.samples_after(t_update);
    let mut saw_gap = false;
    for s in &samples {
        let old_running = s.running_by_version.get("v1").copied().unwrap_or(0);
        let new_exists = s.existing_by_version.get("v2").copied().unwrap_or(0);
        assert!(
            old_running == 0 || new_exists == 0,
            "a new pod beside a running old one at {:?}: {s:?}",
            s.t
        );
        saw_gap |= old_running == 0 && new_exists == 0;
    }
    assert!(saw_gap, "the old pods went away before new ones came");
    let d = r.deployment();
    assert_complete(&d, 4);
    let scaling = r.messages("ScalingReplicaSet");
    let (old, new) = (r.rs("v1"), r.rs("v2"));
    assert_eq!(
        scaling[1..],
        [
            format!("Scaled down replica set {} from 4 to 0", old.metadata.name),
            format!("Scaled up replica set {} from 0 to 4", new.metadata.name),
        ]
    );
}

/// Acceptance: deleting pods of a Deployment brings them back.
#[test]
fn deleted_pods_of_a_deployment_come_back() {
    let mut r = start(&scenario("", TEN_25));
    r.run_to(at(60));
    let victims: Vec<ObjectKey> = r
        .cluster
        .store()
        .list(Kind::Pod)
        .take(3)
        .map(|o| ObjectKey::of(o))
        .collect();
    for k in &victims {
        r.cluster.delete(k, &DeleteOptions::default()).unwrap();
    }
    r.run_to(at(120));
    assert_complete(&r.deployment(), 10);
    let last = r.samples.borrow().last().cloned().unwrap();
    assert_eq!((last.active, last.available), (10, 10));
    assert_eq!(r.messages("SuccessfulCreate").len(), 13);
    assert_eq!(
        r.replica_sets().len(),
        1,
        "no new ReplicaSet for replacements"
    );
    for k in &victims {
        let gone = r.cluster.store().get(k).is_none();
        assert!(gone, "{k} was deleted for good");
    }
}

/// Upstream's documented example of proportional scaling: 10 replicas, maxSurge 3,
/// maxUnavailable 2, a rollout stuck at old 8 / new 5; scaling to 15 adds 3 to the old
/// ReplicaSet and 2 to the new one.
#[test]
fn scaling_during_a_stuck_rollout_is_proportional() {
    let spec = "        replicas: 10
        strategy:
          type: RollingUpdate
          rollingUpdate: {maxSurge: 3, maxUnavailable: 2}
";
    let crash = "    - name: crash
      selector: {matchLabels: {app: web, version: v2}}
      crashAfter: 0s
";
    let mut r = start(&scenario(crash, spec));
    r.run_to(at(60));
    r.set_version("v2");
    r.run_to(at(120));
    let (old, new) = (r.rs("v1"), r.rs("v2"));
    assert_eq!((old.spec.replicas, new.spec.replicas), (Some(8), Some(5)));
    r.edit(|d| d.spec.replicas = Some(15));
    r.run_to(at(180));
    let (old2, new2) = (r.rs("v1"), r.rs("v2"));
    assert_eq!(
        (old2.spec.replicas, new2.spec.replicas),
        (Some(11), Some(7))
    );
    let scaling = r.messages("ScalingReplicaSet");
    assert!(
        scaling.contains(&format!(
            "Scaled up replica set {} from 8 to 11",
            old.metadata.name
        )),
        "{scaling:#?}"
    );
    assert!(
        scaling.contains(&format!(
            "Scaled up replica set {} from 5 to 7",
            new.metadata.name
        )),
        "{scaling:#?}"
    );
    assert_eq!(
        new2.metadata
            .annotations
            .get(util::MAX_REPLICAS_ANNOTATION)
            .map(String::as_str),
        Some("18")
    );
    let d = r.deployment();
    assert_eq!(d.status.available_replicas, 11);
}

/// A paused Deployment does not roll out a template change but still scales; resuming rolls
/// out. Pause and resume show as Progressing=Unknown conditions.
#[test]
fn a_paused_deployment_scales_but_does_not_roll_out_until_resumed() {
    let mut r = start(&scenario("", TEN_25));
    r.run_to(at(60));
    r.edit(|d| d.spec.paused = true);
    r.run_to(at(70));
    assert_eq!(
        condition(&r.deployment(), util::PROGRESSING).reason,
        util::PAUSED_REASON
    );
    r.set_version("v2");
    r.run_to(at(90));
    assert_eq!(r.replica_sets().len(), 1, "no rollout while paused");
    r.edit(|d| d.spec.replicas = Some(12));
    r.run_to(at(120));
    assert_eq!(r.rs("v1").spec.replicas, Some(12));
    assert_eq!(r.deployment().status.available_replicas, 12);
    r.edit(|d| d.spec.paused = false);
    r.run_to(at(400));
    assert_complete(&r.deployment(), 12);
    assert_eq!(r.rs("v2").spec.replicas, Some(12));
    assert_eq!(r.rs("v1").spec.replicas, Some(0));
}

/// revisionHistoryLimit: old ReplicaSets beyond the limit are deleted once scaled to 0,
/// oldest revision first.
#[test]
fn old_revisions_beyond_the_history_limit_are_deleted() {
    let spec = format!("{TEN_25}        revisionHistoryLimit: 1\n");
    let mut r = start(&scenario("", &spec));
    r.run_to(at(60));
    for (i, v) in ["v2", "v3", "v4"].into_iter().enumerate() {
        r.set_version(v);
        r.run_to(at(60 + 120 * (i as u64 + 1)));
        assert_complete(&r.deployment(), 10);
    }
    let mut left: Vec<(String, String)> = r
        .replica_sets()
        .iter()
        .map(|rs| {
            (
                rs.spec.template.metadata.labels["version"].clone(),
                rs.metadata.annotations[util::REVISION_ANNOTATION].clone(),
            )
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ("v3".to_string(), "3".to_string()),
            ("v4".into(), "4".into())
        ]
    );
}

#[test]
fn runs_are_reproducible() {
    let run = || {
        let mut r = start(&scenario("", TEN_25));
        r.run_to(at(30));
        r.set_version("v2");
        r.run_to(at(200));
        r.events.0.borrow().clone()
    };
    assert_eq!(run(), run());
}

/// The real binary: a Deployment's ReplicaSet and pods show in summary.json.
#[test]
fn the_binary_reports_the_deployment_and_its_replica_set() {
    let run = common::run_yaml("deploy.yaml", &scenario("", TEN_25).replace("30m", "2m"));
    assert!(
        run.output.status.success(),
        "{}",
        common::stderr(&run.output)
    );
    let summary = run.summary();
    let workloads = summary["workloads"].as_array().unwrap();
    let d = workloads
        .iter()
        .find(|w| w["object"] == "Deployment/default/web")
        .unwrap();
    assert_eq!(
        (
            d["desired"].as_i64(),
            d["available"].as_i64(),
            d["updated"].as_i64()
        ),
        (Some(10), Some(10), Some(10)),
        "{d}"
    );
    let rs = workloads
        .iter()
        .find(|w| {
            w["object"]
                .as_str()
                .unwrap()
                .starts_with("ReplicaSet/default/web-")
        })
        .unwrap();
    assert_eq!(rs["available"], 10, "{rs}");
    assert_eq!(summary["events"]["by_reason"]["ScalingReplicaSet"], 1);
}

/// The shipped crash-loop scenario, through the binary: the Deployment's only pod never gets
/// Ready, so summary.json reports the rollout as ProgressDeadlineExceeded.
#[test]
fn the_shipped_crashloop_scenario_exceeds_its_progress_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crashloop.yaml");
    let o = common::kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let d = summary["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["object"] == "Deployment/default/crashy")
        .unwrap()
        .clone();
    assert_eq!(d["progressing"], util::TIMED_OUT_REASON, "{d}");
    assert_eq!(
        (d["desired"].as_i64(), d["available"].as_i64()),
        (Some(1), Some(0)),
        "{d}"
    );
    // A shorter run ends before the deadline (600 s after the last progress).
    let short = dir.path().join("short");
    let o = common::kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        short.to_str().unwrap(),
        "--until",
        "9m",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(short.join("summary.json")).unwrap()).unwrap();
    let d = summary["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["object"] == "Deployment/default/crashy")
        .unwrap()
        .clone();
    assert_eq!(d["progressing"], util::RS_UPDATED_REASON, "{d}");
}

/// A ReplicaSet of another template already holds the new ReplicaSet's name: the
/// Deployment bumps `status.collisionCount`, and the next hash (with the count) names its
/// ReplicaSet.
#[test]
fn a_hash_collision_bumps_the_collision_count() {
    let yaml = scenario("", TEN_25);
    let loaded = kubesim::scenario::load_str("deploy.yaml", &yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap();
    // The template as the API server stored it (defaults applied).
    let stored = loaded
        .objects
        .iter()
        .find_map(|o| match &o.object {
            Object::Deployment(d) => {
                let mut obj = Object::Deployment(d.clone());
                kubesim::api::defaults::apply(&mut obj);
                match obj {
                    Object::Deployment(d) => Some(d),
                    _ => None,
                }
            }
            _ => None,
        })
        .unwrap();
    let taken = util::compute_hash(&stored.spec.template, None);
    let squatter = format!(
        "    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata: {{name: web-{taken}, namespace: default}}
      spec:
        replicas: 0
        selector: {{matchLabels: {{app: other}}}}
        template:
          metadata: {{labels: {{app: other}}}}
          spec:
            containers: [{{name: c, image: busybox}}]
"
    );
    let mut r = start(&format!("{yaml}{squatter}"));
    r.run_to(at(60));
    let d = r.deployment();
    assert_eq!(d.status.collision_count, Some(1));
    let second = util::compute_hash(&stored.spec.template, Some(1));
    assert_ne!(second, taken);
    let rs = r.rs("v1");
    assert_eq!(rs.metadata.name, format!("web-{second}"));
    assert_complete(&d, 10);
}

#[test]
fn rollout_undo_reports_what_kubectl_reports() {
    use kubesim::controllers::deployment::RollbackError;
    let mut r = start(&scenario("", TEN_25));
    r.run_to(at(60));
    let d = r.deployment();
    assert_eq!(
        rollout_undo(&d, r.replica_sets(), 0),
        Err(RollbackError::NoHistory("web".into()))
    );
    assert_eq!(
        rollout_undo(&d, r.replica_sets(), 7),
        Err(RollbackError::RevisionNotFound(7))
    );
    assert_eq!(
        rollout_undo(&d, r.replica_sets(), 1),
        Err(RollbackError::AlreadyMatches(1))
    );
    r.set_version("v2");
    r.run_to(at(200));
    let mut paused = r.deployment();
    paused.spec.paused = true;
    assert_eq!(
        rollout_undo(&paused, r.replica_sets(), 0),
        Err(RollbackError::Paused)
    );
    let undone = rollout_undo(&r.deployment(), r.replica_sets(), 1).unwrap();
    assert_eq!(undone.spec.template, {
        let mut t = r.rs("v1").spec.template;
        t.metadata.labels.remove(util::POD_TEMPLATE_HASH_LABEL);
        t
    });
}

/// An orphan ReplicaSet the Deployment's selector matches is adopted (and, being of another
/// template, rolled away as an old one); relabelled out of the selector, it is released.
#[test]
fn matching_orphan_replica_sets_are_adopted_and_released_when_relabelled() {
    let legacy = "    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata: {name: legacy, namespace: default, labels: {app: web, version: v0}}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web, version: v0}}
        template:
          metadata: {labels: {app: web, version: v0}}
          spec:
            containers: [{name: app, image: nginx:1.26}]
";
    let mut r = start(&format!("{}{legacy}", scenario("", TEN_25)));
    r.run_to(at(120));
    let d = r.deployment();
    let old = r.rs("v0");
    let owner = old.metadata.controller_ref().expect("adopted");
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Deployment", d.metadata.uid.as_str())
    );
    assert_eq!(
        old.spec.replicas,
        Some(0),
        "an old ReplicaSet is scaled away"
    );
    assert_complete(&d, 10);
    let last = r.samples.borrow().last().cloned().unwrap();
    assert_eq!(last.existing_by_version.get("v0"), None);

    let key = ObjectKey::new(Kind::ReplicaSet, "default", "legacy");
    let mut obj = (**r.cluster.store().get(&key).unwrap()).clone();
    obj.meta_mut().labels.insert("app".into(), "retired".into());
    r.cluster.update(obj).unwrap();
    r.run_to(at(130));
    assert_eq!(r.rs("v0").metadata.controller_ref(), None, "released");
}

/// minReadySeconds reaches the ReplicaSet, so pods count as available only after being
/// Ready that long, and the rollout waits for it.
#[test]
fn min_ready_seconds_delays_availability() {
    let spec = format!("{TEN_25}        minReadySeconds: 30\n");
    let mut r = start(&scenario("", &spec));
    r.run_to(at(20));
    let d = r.deployment();
    assert_eq!(r.rs("v1").spec.min_ready_seconds, 30);
    assert_eq!(
        (d.status.ready_replicas, d.status.available_replicas),
        (10, 0),
        "{:?}",
        d.status
    );
    assert_eq!(
        condition(&d, util::AVAILABLE).status,
        ConditionStatus::False
    );
    r.run_to(at(60));
    assert_complete(&r.deployment(), 10);
}

/// Extreme but valid Deployments run without panics: i32::MAX replicas against the store's
/// object limit, zero replicas, a never-expiring deadline, no revision history, zero surge
/// with zero unavailability (resolved to 1 unavailable).
#[test]
fn extreme_deployments_run_without_panics() {
    let mut yaml = scenario(
        "",
        "        replicas: 2147483647
        progressDeadlineSeconds: 2147483647
        revisionHistoryLimit: 0
        strategy:
          type: RollingUpdate
          rollingUpdate: {maxSurge: 100%, maxUnavailable: 0%}
",
    )
    .replace(
        "  duration: 30m",
        "  duration: 30m\n  limits: {maxObjects: 300}",
    );
    yaml.push_str(
        "    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: none, namespace: default}
      spec:
        replicas: 0
        strategy:
          type: RollingUpdate
          rollingUpdate: {maxSurge: 0%, maxUnavailable: 0%}
        selector: {matchLabels: {app: none}}
        template:
          metadata: {labels: {app: none}}
          spec:
            containers: [{name: c, image: busybox}]
",
    );
    let mut r = start(&yaml);
    r.run_to(at(30));
    r.set_version("v2");
    r.run_to(at(90));
    let d = r.deployment();
    assert_eq!(d.spec.replicas, Some(i32::MAX));
    assert!(r.cluster.store().len() <= 300);
    let none = r
        .cluster
        .store()
        .get(&ObjectKey::new(Kind::Deployment, "default", "none"))
        .cloned()
        .unwrap();
    let Object::Deployment(none) = &*none else {
        panic!()
    };
    assert_eq!(none.status.replicas, 0);
    assert_eq!(none.status.observed_generation, 1);
}
