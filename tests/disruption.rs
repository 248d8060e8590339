//! PodDisruptionBudgets, the Eviction API and kubectl drain: the `pdb` row of
//! `../shared/reference/vectors/controllers.json` (behaviour measured through the library)
//! and scenarios driven through the library `Cluster` (evictions, drains, scale-downs and a
//! node failure), checked from events.jsonl, the store and an observer component that
//! counts healthy pods at every pod event. Semantics: `../shared/reference/controllers.md`
//! §4 "PodDisruptionBudget & Eviction API".

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use common::Buf;
use kubesim::api::eviction::{EvictOptions, check_and_decrement};
use kubesim::api::meta::{ConditionStatus, Time};
use kubesim::api::objects::pod::Pod;
use kubesim::api::objects::policy::PodDisruptionBudget;
use kubesim::api::objects::{Kind, Object, ObjectKey};
use kubesim::api::{ApiError, WatchEvent, WatchEventType, WatchFilter};
use kubesim::controllers::disruption::{
    DELETION_TIMEOUT, build_disrupted_pod_map, expected_pod_count,
};
use kubesim::controllers::drain::{DrainOptions, EVICTION_RETRY};
use kubesim::controllers::pods::is_ready;
use kubesim::runtime::{Cluster, Component, Context, RunConfig};
use kubesim::sim::{SimDuration, SimTime};

fn at(secs: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(secs))
}

fn obj(kind: Kind, json: serde_json::Value) -> Object {
    Object::from_json(kind, json).unwrap()
}

fn pdb_with(allowed: i32, disrupted: usize, generation_seen: bool) -> PodDisruptionBudget {
    let mut b = PodDisruptionBudget::default();
    b.metadata.name = "b".into();
    b.metadata.generation = 1;
    b.status.observed_generation = if generation_seen { 1 } else { 0 };
    b.status.disruptions_allowed = allowed;
    for i in 0..disrupted {
        b.status
            .disrupted_pods
            .insert(format!("p{i}"), Time(SimTime::ZERO));
    }
    b
}

/// A bare cluster (no components) with pods in the given phases, all Ready, and `pdbs`
/// budgets selecting them with `disruptionsAllowed: 0`.
fn bare_cluster(phases: &[&str], pdbs: usize) -> Cluster {
    let mut c = Cluster::new(
        RunConfig::default(),
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    );
    for (i, phase) in phases.iter().enumerate() {
        c.apply(obj(
            Kind::Pod,
            serde_json::json!({
                "metadata": {"name": format!("p{i}"), "namespace": "default", "labels": {"app": "a"}},
                "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
                "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True"}]}
            }),
        ))
        .unwrap();
    }
    for i in 0..pdbs {
        c.apply(obj(
            Kind::PodDisruptionBudget,
            serde_json::json!({
                "metadata": {"name": format!("b{i}"), "namespace": "default"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}},
                "status": {"observedGeneration": 1, "disruptionsAllowed": 0}
            }),
        ))
        .unwrap();
    }
    c
}

fn pod_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Pod, "default", name)
}

#[test]
fn pdb_vector_row() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        if case["topic"] != "pdb" {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        assert_eq!(id, "pdb.eviction", "unhandled pdb row {id}");
        let want = &case["expected"];
        let now = Time(SimTime::ZERO);
        let code = |r: Result<PodDisruptionBudget, ApiError>| r.err().map_or(200, |e| e.code());

        // The largest disruptedPods map still accepted.
        let max_disrupted = (1990..2010)
            .filter(|&n| check_and_decrement(&pdb_with(1, n, true), "x", now).is_ok())
            .max()
            .unwrap();
        // DeletionTimeout: an entry is kept up to exactly this long after the eviction.
        let pod: Pod = serde_json::from_value(
            serde_json::json!({"metadata": {"name": "p0", "namespace": "default"}}),
        )
        .unwrap();
        let b = pdb_with(1, 1, true);
        let kept = |secs: u64, extra_ns: u64| {
            let t = at(secs).saturating_add(SimDuration::from_nanos(extra_ns));
            !build_disrupted_pod_map(&b, &[&pod], t).0.is_empty()
        };
        assert!(kept(DELETION_TIMEOUT.as_secs(), 0) && !kept(DELETION_TIMEOUT.as_secs(), 1));
        let zero = check_and_decrement(&pdb_with(0, 0, true), "x", now).unwrap_err();

        // Through the Eviction API on a store: more than one budget, and the phases that
        // skip the budget check (every pod Ready, budgets allowing no disruption).
        let mut c = bare_cluster(&["Running"], 2);
        let multiple = c
            .evict(&pod_key("p0"), &EvictOptions::default())
            .unwrap_err()
            .code();
        let phases = ["Succeeded", "Failed", "Pending", "Running", "Unknown"];
        let mut c = bare_cluster(&phases, 1);
        let skipped: Vec<&str> = phases
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                c.evict(&pod_key(&format!("p{i}")), &EvictOptions::default())
                    .is_ok()
            })
            .map(|(_, p)| *p)
            .collect();

        let got = serde_json::json!({
            "MaxDisruptedPodSize": max_disrupted,
            "DeletionTimeout_s": DELETION_TIMEOUT.as_secs(),
            "disruptionsAllowed_zero": {"code": zero.code(), "message": zero.to_string()},
            "observedGeneration_lt_generation": code(check_and_decrement(&pdb_with(1, 0, false), "x", now)),
            "multiple_pdbs": multiple,
            "disruptionsAllowed_negative": code(check_and_decrement(&pdb_with(-1, 0, true), "x", now)),
            "disruptedPods_over_2000": code(check_and_decrement(&pdb_with(1, 2001, true), "x", now)),
            "skip_pdb_phases": skipped,
            "kubectl_drain_retry_on_429_s": EVICTION_RETRY.as_secs(),
        });
        // `EvictionsRetry` (the API server's 20 × 500 ms conflict retries) has nothing to
        // measure here: an eviction reads and writes the store in one step and cannot
        // conflict (documented in src/api/eviction.rs).
        let mut want = want.clone();
        want.as_object_mut().unwrap().remove("EvictionsRetry");
        assert_eq!(got, want, "{id}");
        checked += 1;
    }
    assert_eq!(checked, 1);
}

#[test]
fn eviction_decrements_the_budget_and_records_the_disrupted_pod() {
    let mut c = bare_cluster(&["Running", "Running"], 0);
    c.apply(obj(
        Kind::PodDisruptionBudget,
        serde_json::json!({
            "metadata": {"name": "b", "namespace": "default"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "a"}}},
            "status": {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1}
        }),
    ))
    .unwrap();
    c.evict(&pod_key("p0"), &EvictOptions::default()).unwrap();
    let Some(Object::PodDisruptionBudget(b)) = c
        .store()
        .get(&ObjectKey::new(Kind::PodDisruptionBudget, "default", "b"))
        .map(|o| (**o).clone())
    else {
        panic!("budget exists")
    };
    assert_eq!(b.status.disruptions_allowed, 0);
    assert_eq!(
        b.status.disrupted_pods.keys().collect::<Vec<_>>(),
        ["p0"],
        "the evicted pod is recorded"
    );
    let cond = &b.status.conditions[0];
    assert_eq!(
        (cond.type_.as_str(), cond.status, cond.reason.as_str()),
        (
            "DisruptionAllowed",
            ConditionStatus::False,
            "InsufficientPods"
        )
    );
    // The pod carries DisruptionTarget and is terminating (bound, not terminal).
    let Some(Object::Pod(p)) = c.store().get(&pod_key("p0")).map(|o| (**o).clone()) else {
        panic!("pod is terminating, not gone")
    };
    assert!(p.metadata.deletion_timestamp.is_some());
    let dt = p
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .unwrap();
    assert_eq!(dt.reason, "EvictionByEvictionAPI");
    // The budget now allows nothing: the second pod is refused with 429.
    let e = c
        .evict(&pod_key("p1"), &EvictOptions::default())
        .unwrap_err();
    assert_eq!(e.code(), 429);
    // Not Ready with a healthy budget: IfHealthyBudget lets an unhealthy pod go without
    // touching the budget; with desiredHealthy 0 it goes through the budget (429).
    let mut c = bare_cluster(&[], 0);
    for (name, desired) in [("x", 1), ("y", 0)] {
        c.apply(obj(
            Kind::Pod,
            serde_json::json!({
                "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
                "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
            }),
        ))
        .unwrap();
        c.apply(obj(
            Kind::PodDisruptionBudget,
            serde_json::json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"minAvailable": desired, "selector": {"matchLabels": {"app": name}}},
                "status": {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": desired}
            }),
        ))
        .unwrap();
    }
    assert!(c.evict(&pod_key("x"), &EvictOptions::default()).is_ok());
    assert_eq!(
        c.evict(&pod_key("y"), &EvictOptions::default())
            .unwrap_err()
            .code(),
        429
    );
}

#[test]
fn expected_pods_follow_controller_scales_and_percentages_round_up() {
    let pods: Vec<Pod> = (0..3)
        .map(|i| {
            serde_json::from_value(serde_json::json!({"metadata": {"name": format!("p{i}")}}))
                .unwrap()
        })
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let budget = |spec: serde_json::Value| -> PodDisruptionBudget {
        serde_json::from_value(serde_json::json!({ "spec": spec })).unwrap()
    };
    // Every pod belongs to one controller of scale 5 (say the Deployment was scaled up and
    // two pods are still missing).
    let scale = |_: &Pod| Ok(Some(("uid".to_string(), 5)));
    let count = |spec| {
        let c = expected_pod_count(&budget(spec), &refs, scale).unwrap();
        (c.expected, c.desired_healthy)
    };
    assert_eq!(count(serde_json::json!({"minAvailable": 2})), (3, 2));
    assert_eq!(count(serde_json::json!({"minAvailable": "50%"})), (5, 3));
    assert_eq!(count(serde_json::json!({"maxUnavailable": 1})), (5, 4));
    assert_eq!(count(serde_json::json!({"maxUnavailable": "30%"})), (5, 3));
    assert_eq!(count(serde_json::json!({"maxUnavailable": 9})), (5, 0));
    // A pod whose controller cannot be found fails the count.
    let missing = |_: &Pod| Err("found no controllers for pod \"p0\"".to_string());
    assert!(
        expected_pod_count(
            &budget(serde_json::json!({"maxUnavailable": 1})),
            &refs,
            missing
        )
        .is_err()
    );
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

fn scenario(nodes: usize, replicas: usize, pdb_spec: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: pdb}}
spec:
  seed: 5
  duration: 40m
  cluster:
    nodePools:
      - name: node
        count: {nodes}
        template:
          status:
            capacity: {{cpu: "8", memory: 32Gi, pods: "110"}}
  behaviors:
    - name: web
      selector: {{matchLabels: {{app: web}}}}
      startupTime: 10s
      readinessDelay: 5s
      terminationTime: 3s
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: web, namespace: default}}
      spec:
        replicas: {replicas}
        selector: {{matchLabels: {{app: web}}}}
        template:
          metadata: {{labels: {{app: web}}}}
          spec:
            containers:
              - name: app
                image: nginx:1.27
                resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
                readinessProbe:
                  httpGet: {{path: /healthz, port: 80}}
                  periodSeconds: 1
    - apiVersion: policy/v1
      kind: PodDisruptionBudget
      metadata: {{name: web, namespace: default}}
      spec:
{pdb_spec}        selector: {{matchLabels: {{app: web}}}}
{extra}"#
    )
}

/// Counts healthy web pods (Ready, not terminating) at every pod event.
struct Observer {
    pods: BTreeMap<String, Pod>,
    samples: Rc<RefCell<Vec<(SimTime, usize)>>>,
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
        let healthy = self
            .pods
            .values()
            .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some("web"))
            .filter(|p| p.metadata.deletion_timestamp.is_none() && is_ready(p))
            .count();
        self.samples.borrow_mut().push((ctx.now(), healthy));
    }
}

struct Run {
    cluster: Cluster,
    events: Buf,
    samples: Rc<RefCell<Vec<(SimTime, usize)>>>,
}

fn start(yaml: &str) -> Run {
    let scenario = kubesim::scenario::load_str("pdb.yaml", yaml, Path::new("."), &|_| {
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

impl Run {
    fn events(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.events.0.borrow().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn pdb(&self) -> PodDisruptionBudget {
        match self
            .cluster
            .store()
            .get(&ObjectKey::new(Kind::PodDisruptionBudget, "default", "web"))
            .map(|o| (**o).clone())
        {
            Some(Object::PodDisruptionBudget(b)) => b,
            _ => panic!("budget web exists"),
        }
    }

    /// (currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed).
    fn counters(&self) -> (i32, i32, i32, i32) {
        let s = self.pdb().status;
        (
            s.current_healthy,
            s.desired_healthy,
            s.expected_pods,
            s.disruptions_allowed,
        )
    }

    fn web_pods(&self) -> Vec<Pod> {
        self.cluster
            .store()
            .list(Kind::Pod)
            .filter_map(|o| match &**o {
                Object::Pod(p)
                    if p.metadata.labels.get("app").map(String::as_str) == Some("web") =>
                {
                    Some(p.clone())
                }
                _ => None,
            })
            .collect()
    }
}

#[test]
fn evicting_with_no_disruption_allowed_is_refused_and_pending_pods_skip_the_check() {
    // minAvailable 3 of 3: disruptionsAllowed 0. A fourth pod selected by the budget
    // cannot be scheduled (it asks for more CPU than any node has): it stays Pending.
    let extra = r#"    - apiVersion: v1
      kind: Pod
      metadata: {name: huge, namespace: default, labels: {app: web}}
      spec:
        containers: [{name: c, image: i, resources: {requests: {cpu: "64"}}}]
"#;
    let mut run = start(&scenario(3, 3, "        minAvailable: 3\n", extra));
    run.cluster.run_until(at(60)).unwrap();
    // The huge pod has no controller; minAvailable as an integer counts every pod.
    assert_eq!(run.counters(), (3, 3, 4, 0));
    let victim = run
        .web_pods()
        .into_iter()
        .find(|p| p.metadata.name.starts_with("web-"))
        .unwrap();
    let err = run
        .cluster
        .evict(&pod_key(&victim.metadata.name), &EvictOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), 429);
    assert_eq!(
        err.to_string(),
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    match &err {
        ApiError::TooManyRequests { cause, .. } => assert_eq!(
            cause,
            "The disruption budget web needs 3 healthy pods and has 3 currently"
        ),
        other => panic!("{other:?}"),
    }
    // Nothing changed: the pod is not terminating, the budget untouched.
    assert!(
        run.web_pods()
            .iter()
            .all(|p| p.metadata.deletion_timestamp.is_none())
    );
    assert_eq!(run.pdb().status.disrupted_pods.len(), 0);
    // The Pending pod is evicted without the check (and, unbound, removed at once).
    run.cluster
        .evict(&pod_key("huge"), &EvictOptions::default())
        .unwrap();
    assert!(run.cluster.store().get(&pod_key("huge")).is_none());
    run.cluster.run_until(at(70)).unwrap();
    assert_eq!(run.counters(), (3, 3, 3, 0));
    let evicted: Vec<_> = run
        .events()
        .into_iter()
        .filter(|e| e["reason"] == "Evicted")
        .map(|e| e["object"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(evicted, ["Pod/default/huge"]);
}

#[test]
fn evicted_pod_keeps_disruption_target_through_kubelet_status_writes() {
    let mut run = start(&scenario(3, 3, "        maxUnavailable: 1\n", ""));
    run.cluster.run_until(at(60)).unwrap();
    assert_eq!(run.counters(), (3, 2, 3, 1));
    let victim = run.web_pods()[0].metadata.name.clone();
    run.cluster
        .evict(&pod_key(&victim), &EvictOptions::default())
        .unwrap();
    // The kubelet stops the containers (3 s) and writes the pod's status meanwhile.
    run.cluster.run_until(at(62)).unwrap();
    let Some(Object::Pod(p)) = run
        .cluster
        .store()
        .get(&pod_key(&victim))
        .map(|o| (**o).clone())
    else {
        panic!("still terminating")
    };
    let types: Vec<&str> = p
        .status
        .conditions
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert!(types.contains(&"DisruptionTarget"), "{types:?}");
    assert!(
        types.contains(&"Ready") && types.contains(&"PodScheduled"),
        "{types:?}"
    );
    // While the evicted pod is terminating it is not healthy and stays recorded.
    let (current, desired, expected, allowed) = run.counters();
    assert_eq!((current, desired, expected, allowed), (2, 2, 3, 0));
}

#[test]
fn drain_with_a_budget_keeps_two_of_three_available_and_finishes_once_replacements_are_ready() {
    // Two nodes for three replicas: one node runs two of them. A third node joins, then the
    // node with two pods is drained. minAvailable 2: the first eviction is allowed, the
    // second is refused (429, retried every 5 s) until a replacement is Ready.
    let mut run = start(&scenario(2, 3, "        minAvailable: 2\n", ""));
    run.cluster.run_until(at(60)).unwrap();
    assert_eq!(run.counters(), (3, 2, 3, 1));
    let mut per_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in run.web_pods() {
        per_node
            .entry(p.spec.node_name.clone())
            .or_default()
            .push(p.metadata.name.clone());
    }
    let (busy, originals) = per_node
        .iter()
        .find(|(_, v)| v.len() == 2)
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("one node runs two pods");
    run.cluster
        .apply(obj(
            Kind::Node,
            serde_json::json!({
                "metadata": {"name": "node-2", "labels": {"kubernetes.io/hostname": "node-2"}},
                "status": {"capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}]}
            }),
        ))
        .unwrap();
    run.cluster.run_until(at(70)).unwrap();
    let drain_start = run.cluster.now();
    let id = run.cluster.drain(&busy, DrainOptions::default()).unwrap();
    let _ = id;
    run.cluster.run_until(at(300)).unwrap();

    // Availability never dropped below minAvailable once the pods were up.
    let samples = run.samples.borrow().clone();
    let during: Vec<usize> = samples
        .iter()
        .filter(|(t, _)| *t >= at(30))
        .map(|(_, n)| *n)
        .collect();
    assert!(!during.is_empty());
    assert!(during.iter().all(|&n| n >= 2), "{during:?}");
    assert!(during.contains(&2), "an eviction happened");

    let events = run.events();
    let drain: Vec<(u64, String, String)> = events
        .iter()
        .filter(|e| e["reason"].as_str().is_some_and(|r| r.starts_with("Drain")))
        .map(|e| {
            (
                e["t_ms"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reasons: Vec<&str> = drain.iter().map(|(_, r, _)| r.as_str()).collect();
    assert_eq!(
        reasons,
        ["Drain", "DrainEvictionRetry", "DrainComplete"],
        "{drain:?}"
    );
    assert!(
        drain[1].2.contains("(will retry after 5s)"),
        "{}",
        drain[1].2
    );
    assert_eq!(drain[0].0, drain_start.as_millis());
    // The node was cordoned and both original pods are gone; replacements run elsewhere.
    let node = run
        .cluster
        .store()
        .get(&ObjectKey::new(Kind::Node, "", busy.clone()))
        .unwrap();
    let Object::Node(node) = &**node else {
        unreachable!()
    };
    assert!(node.spec.unschedulable);
    let pods = run.web_pods();
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| !originals.contains(&p.metadata.name)));
    assert!(pods.iter().all(|p| p.spec.node_name != busy && is_ready(p)));
    // The drain completed only after a replacement was Ready: the second eviction waited
    // for a healthy count of 3 after the first eviction's drop to 2.
    let complete_ms = drain[2].0;
    let first_drop = samples
        .iter()
        .position(|(t, n)| *t >= drain_start && *n == 2)
        .unwrap();
    let back_to_three = samples[first_drop..]
        .iter()
        .find(|(_, n)| *n == 3)
        .map(|(t, _)| t.as_millis())
        .unwrap();
    assert!(back_to_three < complete_ms);
    // The second eviction came at a 5 s retry tick after the drain started.
    let retries_ms = complete_ms - drain_start.as_millis();
    assert!(retries_ms >= 5_000, "{retries_ms}");
    assert_eq!(run.counters(), (3, 2, 3, 1));
}

#[test]
fn drain_times_out_when_the_budget_never_allows_an_eviction() {
    let mut run = start(&scenario(2, 2, "        minAvailable: 2\n", ""));
    run.cluster.run_until(at(60)).unwrap();
    let node = run.web_pods()[0].spec.node_name.clone();
    run.cluster
        .drain(
            &node,
            DrainOptions {
                timeout: Some(SimDuration::from_secs(60)),
                ..DrainOptions::default()
            },
        )
        .unwrap();
    run.cluster.run_until(at(200)).unwrap();
    let drain: Vec<(u64, String)> = run
        .events()
        .iter()
        .filter(|e| e["reason"].as_str().is_some_and(|r| r.starts_with("Drain")))
        .map(|e| {
            (
                e["t_ms"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reasons: Vec<&str> = drain.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons, ["Drain", "DrainEvictionRetry", "DrainTimeout"]);
    assert_eq!(drain[2].0 - drain[0].0, 60_000);
    assert!(
        run.web_pods()
            .iter()
            .all(|p| p.metadata.deletion_timestamp.is_none())
    );
    // Uncordon lets the node take pods again.
    run.cluster.uncordon(&node).unwrap();
    let Some(Object::Node(n)) = run
        .cluster
        .store()
        .get(&ObjectKey::new(Kind::Node, "", node))
        .map(|o| (**o).clone())
    else {
        panic!()
    };
    assert!(!n.spec.unschedulable);
}

#[test]
fn drain_without_force_refuses_bare_pods() {
    let extra = r#"    - apiVersion: v1
      kind: Pod
      metadata: {name: bare, namespace: default}
      spec:
        nodeName: node-0
        containers: [{name: c, image: i}]
"#;
    let mut run = start(&scenario(2, 1, "        minAvailable: 0\n", extra));
    run.cluster.run_until(at(30)).unwrap();
    run.cluster
        .drain(
            "node-0",
            DrainOptions {
                force: false,
                ..DrainOptions::default()
            },
        )
        .unwrap();
    run.cluster.run_until(at(60)).unwrap();
    let failed: Vec<String> = run
        .events()
        .iter()
        .filter(|e| e["reason"] == "DrainFailed")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].contains(
            "cannot delete Pods that declare no controller (use --force to override): default/bare"
        ),
        "{}",
        failed[0]
    );
    assert!(run.cluster.store().get(&pod_key("bare")).is_some());
}

#[test]
fn budget_counters_follow_a_scale_down_and_a_node_failure() {
    let mut run = start(&scenario(2, 4, "        maxUnavailable: 1\n", ""));
    run.cluster.run_until(at(60)).unwrap();
    assert_eq!(run.counters(), (4, 3, 4, 1));
    let pdb = run.pdb();
    assert_eq!(pdb.status.observed_generation, pdb.metadata.generation);
    let cond = &pdb.status.conditions[0];
    assert_eq!(
        (cond.status, cond.reason.as_str()),
        (ConditionStatus::True, "SufficientPods")
    );

    // Scale down to 2: expected follows the Deployment's scale at once, terminating pods
    // do not count as healthy.
    let Some(Object::Deployment(mut d)) = run
        .cluster
        .store()
        .get(&ObjectKey::new(Kind::Deployment, "default", "web"))
        .map(|o| (**o).clone())
    else {
        panic!()
    };
    d.spec.replicas = Some(2);
    run.cluster.update(Object::Deployment(d)).unwrap();
    run.cluster.run_until(at(61)).unwrap();
    assert_eq!(run.counters(), (2, 1, 2, 1));
    run.cluster.run_until(at(90)).unwrap();
    assert_eq!(run.counters(), (2, 1, 2, 1));

    // Node failure: stop the kubelet of a node running one of them. The node lifecycle
    // controller marks its pods not Ready (~55 s later): no disruption allowed.
    let pods = run.web_pods();
    assert_eq!(pods.len(), 2);
    let dead = pods[0].spec.node_name.clone();
    let Some(Object::Node(mut n)) = run
        .cluster
        .store()
        .get(&ObjectKey::new(Kind::Node, "", dead.clone()))
        .map(|o| (**o).clone())
    else {
        panic!()
    };
    n.metadata
        .annotations
        .insert("kubesim.io/node-state".into(), "KubeletStopped".into());
    run.cluster.update(Object::Node(n)).unwrap();
    run.cluster.run_until(at(200)).unwrap();
    let on_dead = run
        .web_pods()
        .iter()
        .filter(|p| p.spec.node_name == dead)
        .count() as i32;
    let (current, desired, expected, allowed) = run.counters();
    assert_eq!((desired, expected), (1, 2));
    assert_eq!(current, 2 - on_dead);
    assert_eq!(allowed, (current - 1).max(0));
    assert!(on_dead >= 1);
    assert_eq!(allowed, 0);
    let cond = &run.pdb().status.conditions[0];
    assert_eq!(
        (cond.status, cond.reason.as_str()),
        (ConditionStatus::False, "InsufficientPods")
    );

    // 300 s after the NoExecute taint the pods are evicted (they stay Terminating on the
    // dead node) and replaced on the healthy one: back to 2 healthy, 1 allowed.
    run.cluster.run_until(at(600)).unwrap();
    assert_eq!(run.counters(), (2, 1, 2, 1));
}

#[test]
fn unhealthy_pods_go_without_the_budget_under_always_allow() {
    let mut c = bare_cluster(&[], 0);
    c.apply(obj(
        Kind::Pod,
        serde_json::json!({
            "metadata": {"name": "sick", "namespace": "default", "labels": {"app": "a"}},
            "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        }),
    ))
    .unwrap();
    c.apply(obj(
        Kind::PodDisruptionBudget,
        serde_json::json!({
            "metadata": {"name": "b", "namespace": "default"},
            "spec": {"minAvailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow",
                "selector": {"matchLabels": {"app": "a"}}},
            "status": {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 1}
        }),
    ))
    .unwrap();
    c.evict(&pod_key("sick"), &EvictOptions::default()).unwrap();
    let Some(Object::PodDisruptionBudget(b)) = c
        .store()
        .get(&ObjectKey::new(Kind::PodDisruptionBudget, "default", "b"))
        .map(|o| (**o).clone())
    else {
        panic!()
    };
    assert!(
        b.status.disrupted_pods.is_empty(),
        "no decrement, no record"
    );
}

#[test]
fn a_pod_whose_controller_has_no_scale_fails_the_sync_safely() {
    // A DaemonSet pod under a maxUnavailable budget: DaemonSets have no scale, so the
    // expected count cannot be computed (upstream: "found no controllers for pod").
    let events = Buf::default();
    let mut c = Cluster::new(
        RunConfig::default(),
        Box::new(events.clone()),
        Box::new(std::io::sink()),
    );
    c.apply(obj(
        Kind::Pod,
        serde_json::json!({
            "metadata": {"name": "agent", "namespace": "default", "labels": {"app": "a"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u1", "controller": true}]},
            "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }),
    ))
    .unwrap();
    c.apply(obj(
        Kind::PodDisruptionBudget,
        serde_json::json!({
            "metadata": {"name": "b", "namespace": "default"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "a"}}},
            "status": {"disruptionsAllowed": 5}
        }),
    ))
    .unwrap();
    c.add_component(Box::new(kubesim::controllers::DisruptionController::new()))
        .unwrap();
    c.run_until(at(1)).unwrap();
    let Some(Object::PodDisruptionBudget(b)) = c
        .store()
        .get(&ObjectKey::new(Kind::PodDisruptionBudget, "default", "b"))
        .map(|o| (**o).clone())
    else {
        panic!()
    };
    assert_eq!(b.status.disruptions_allowed, 0);
    let cond = &b.status.conditions[0];
    assert_eq!(
        (cond.status, cond.reason.as_str()),
        (ConditionStatus::False, "SyncFailed")
    );
    assert!(
        cond.message
            .contains("found no controllers for pod \"agent\""),
        "{}",
        cond.message
    );
    let text = String::from_utf8(events.0.borrow().clone()).unwrap();
    assert!(text.contains("\"reason\":\"CalculateExpectedPodCountFailed\""));
}

#[test]
fn a_drain_run_is_byte_identical_when_repeated() {
    let once = || {
        let mut run = start(&scenario(3, 3, "        minAvailable: 2\n", ""));
        run.cluster.run_until(at(60)).unwrap();
        run.cluster
            .drain("node-0", DrainOptions::default())
            .unwrap();
        run.cluster.run_until(at(240)).unwrap();
        run.events.0.take()
    };
    let a = once();
    assert!(String::from_utf8_lossy(&a).contains("DrainComplete"));
    assert_eq!(a, once());
}
