//! The ReplicaSet/ReplicationController controller: the `replicaset.*` rows of
//! `../shared/reference/vectors/controllers.json` and scenarios (scale-up through the
//! scheduler and kubelet, self-healing, label quarantine).

mod common;

use std::path::Path;

use kubesim::api::ObjectKey;
use kubesim::api::objects::{Kind, Object, PodPhase};
use kubesim::controllers::rank::{RankedPod, less};
use kubesim::sim::{SimDuration, SimTime};

const NOW: SimTime = SimTime::from_nanos(400 * 24 * 3600 * 1_000_000_000);

fn time(s: &str) -> Option<SimTime> {
    let ago = match s {
        "zero" => return None,
        "now" => 0,
        "now-2h" => 2 * 3600,
        "now-5h" => 5 * 3600,
        "now-8h" => 8 * 3600,
        "now-1month" => 30 * 24 * 3600,
        other => panic!("unknown time {other}"),
    };
    Some(SimTime::from_nanos(NOW.as_nanos() - ago * 1_000_000_000))
}

fn ranked(p: &serde_json::Value, rank: i32) -> RankedPod {
    let phase = match p["phase"].as_str().unwrap() {
        "Pending" => PodPhase::Pending,
        "Running" => PodPhase::Running,
        "Unknown" => PodPhase::Unknown,
        "Succeeded" => PodPhase::Succeeded,
        _ => PodPhase::Failed,
    };
    let ready = p["ready"].as_bool().unwrap();
    RankedPod {
        assigned: !p["nodeName"].as_str().unwrap().is_empty(),
        phase,
        ready,
        // Pods with ready=false have no conditions upstream.
        ready_since: if ready {
            time(p["readySince"].as_str().unwrap())
        } else {
            None
        },
        deletion_cost: p["annotations"]["controller.kubernetes.io/pod-deletion-cost"]
            .as_str()
            .map_or(0, |v| v.parse().unwrap()),
        rank,
        restarts: p["restarts"].as_i64().unwrap() as i32,
        created: time(p["created"].as_str().unwrap()),
        uid: String::new(),
    }
}

#[test]
fn replicaset_vector_rows() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let topic = case["topic"].as_str().unwrap_or("");
        if !topic.starts_with("replicaset.") {
            continue;
        }
        assert_eq!(topic, "replicaset.deletion_ranking", "unhandled topic");
        let inp = &case["inputs"];
        let ri = inp["rank_i"].as_i64().unwrap_or(0) as i32;
        let rj = inp["rank_j"].as_i64().unwrap_or(0) as i32;
        let (i, j) = (ranked(&inp["pod_i"], ri), ranked(&inp["pod_j"], rj));
        let got = (less(NOW, &i, &j), less(NOW, &j, &i));
        let want = (
            case["expected"]["Less(i,j)"].as_bool().unwrap(),
            case["expected"]["Less(j,i)"].as_bool().unwrap(),
        );
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", case["id"]));
        }
        checked += 1;
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("{checked} replicaset rows pass");
}

const SCENARIO: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: rs
spec:
  seed: 5
  duration: 2m
  cluster:
    nodePools:
      - name: node
        count: 3
        template:
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
            allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  objects:
    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata: {name: web, namespace: default}
      spec:
        replicas: 5
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers:
              - name: app
                image: nginx
                resources: {requests: {cpu: 100m, memory: 64Mi}}
"#;

#[test]
fn five_replicas_are_created_scheduled_and_ready() {
    let run = common::run_yaml("rs.yaml", SCENARIO);
    assert!(
        run.output.status.success(),
        "{}",
        common::stderr(&run.output)
    );
    let summary = run.summary();
    let w = summary["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["object"] == "ReplicaSet/default/web")
        .expect("the ReplicaSet is in the summary")
        .clone();
    assert_eq!(w["replicas"], 5, "{w}");
    assert_eq!(w["ready"], 5, "{w}");
    assert_eq!(w["available"], 5, "{w}");
    let events = std::fs::read_to_string(run.out.join("events.jsonl")).unwrap();
    let creates: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .collect();
    assert_eq!(creates.len(), 5);
    for e in &creates {
        assert_eq!(e["type"], "Normal");
        assert_eq!(e["object"], "ReplicaSet/default/web");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("Created pod: web-")
        );
    }
}

use common::Buf;

fn cluster() -> (kubesim::runtime::Cluster, Buf) {
    let scenario = kubesim::scenario::load_str("rs.yaml", SCENARIO, Path::new("."), &|_| {
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

/// The pods of the store: (name, controller owner name, running and ready).
fn pods(cluster: &kubesim::runtime::Cluster) -> Vec<(String, Option<String>, bool)> {
    cluster
        .store()
        .list(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p) if p.metadata.deletion_timestamp.is_none() => Some((
                p.metadata.name.clone(),
                p.metadata.controller_ref().map(|r| r.name.clone()),
                p.status.phase == PodPhase::Running
                    && p.status.conditions.iter().any(|c| {
                        c.type_ == "Ready" && c.status == kubesim::api::meta::ConditionStatus::True
                    }),
            )),
            _ => None,
        })
        .collect()
}

fn at(secs: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(secs))
}

#[test]
fn a_deleted_pod_is_replaced() {
    let (mut cluster, events) = cluster();
    cluster.run_until(at(30)).unwrap();
    let before = pods(&cluster);
    assert_eq!(before.len(), 5, "{before:?}");
    assert!(before.iter().all(|p| p.2), "{before:?}");
    let victim = before[0].0.clone();
    cluster
        .delete(
            &ObjectKey::new(Kind::Pod, "default", victim.clone()),
            &Default::default(),
        )
        .unwrap();
    cluster.run_until(at(90)).unwrap();
    let after = pods(&cluster);
    assert_eq!(after.len(), 5, "{after:?}");
    assert!(after.iter().all(|p| p.0 != victim && p.2), "{after:?}");
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    assert_eq!(log.matches("SuccessfulCreate").count(), 6);
}

#[test]
fn a_relabelled_pod_is_quarantined_and_replaced() {
    let (mut cluster, _events) = cluster();
    cluster.run_until(at(30)).unwrap();
    let name = pods(&cluster)[0].0.clone();
    let key = ObjectKey::new(Kind::Pod, "default", name.clone());
    let mut obj = (**cluster.store().get(&key).unwrap()).clone();
    obj.meta_mut().labels.insert("app".into(), "debug".into());
    cluster.update(obj).unwrap();
    cluster.run_until(at(90)).unwrap();
    let after = pods(&cluster);
    assert_eq!(after.len(), 6, "{after:?}");
    let q = after.iter().find(|p| p.0 == name).unwrap();
    assert_eq!(q.1, None, "the quarantined pod is released: {q:?}");
    assert!(q.2, "the quarantined pod keeps running");
    let owned = after
        .iter()
        .filter(|p| p.1.as_deref() == Some("web"))
        .count();
    assert_eq!(owned, 5, "{after:?}");
    let rs = cluster
        .store()
        .get(&ObjectKey::new(Kind::ReplicaSet, "default", "web"))
        .unwrap();
    let Object::ReplicaSet(rs) = &**rs else {
        panic!()
    };
    assert_eq!(rs.status.replicas, 5);
    assert_eq!(rs.status.ready_replicas, 5);
    assert_eq!(rs.status.observed_generation, 1);
}

#[test]
fn scaling_down_deletes_the_surplus_and_records_it() {
    let (mut cluster, events) = cluster();
    cluster.run_until(at(30)).unwrap();
    let key = ObjectKey::new(Kind::ReplicaSet, "default", "web");
    let mut obj = (**cluster.store().get(&key).unwrap()).clone();
    let Object::ReplicaSet(rs) = &mut obj else {
        panic!()
    };
    rs.spec.replicas = Some(2);
    cluster.update(obj).unwrap();
    cluster.run_until(at(120)).unwrap();
    let after = pods(&cluster);
    assert_eq!(after.len(), 2, "{after:?}");
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    assert_eq!(log.matches("\"SuccessfulDelete\"").count(), 3, "{log}");
    assert_eq!(log.matches("\"SuccessfulCreate\"").count(), 5);
    let Object::ReplicaSet(rs) = &**cluster.store().get(&key).unwrap() else {
        panic!()
    };
    assert_eq!(rs.status.replicas, 2);
    assert_eq!(rs.status.observed_generation, 2);
}

#[test]
fn a_replication_controller_adopts_a_matching_orphan() {
    let yaml = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: rc
spec:
  seed: 5
  duration: 1m
  cluster:
    nodePools:
      - name: node
        count: 2
        template:
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
            allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  objects:
    - apiVersion: v1
      kind: Pod
      metadata: {name: stray, namespace: default, labels: {app: db}}
      spec:
        containers: [{name: app, image: postgres}]
    - apiVersion: v1
      kind: ReplicationController
      metadata: {name: db, namespace: default}
      spec:
        replicas: 3
        selector: {app: db}
        template:
          metadata: {labels: {app: db}}
          spec:
            containers: [{name: app, image: postgres}]
"#;
    let run = common::run_yaml("rc.yaml", yaml);
    assert!(
        run.output.status.success(),
        "{}",
        common::stderr(&run.output)
    );
    let summary = run.summary();
    let w = summary["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["object"] == "ReplicationController/default/db")
        .expect("the RC is in the summary")
        .clone();
    assert_eq!(w["replicas"], 3, "{w}");
    assert_eq!(w["ready"], 3, "{w}");
    let events = std::fs::read_to_string(run.out.join("events.jsonl")).unwrap();
    let creates = events
        .lines()
        .filter(|l| l.contains("\"SuccessfulCreate\""))
        .inspect(|l| {
            assert!(
                l.contains("\"object\":\"ReplicationController/default/db\""),
                "{l}"
            )
        })
        .count();
    assert_eq!(creates, 2, "the stray pod is adopted, two are created");
}

#[test]
fn runs_are_reproducible() {
    let a = common::run_yaml("rs.yaml", SCENARIO);
    let b = common::run_yaml("rs.yaml", SCENARIO);
    let read = |r: &common::Run| std::fs::read(r.out.join("events.jsonl")).unwrap();
    assert_eq!(read(&a), read(&b));
}

/// Slow start: batches 1, 2, 4, 8, … stop at the first batch with a failed create (here the
/// store's object limit), and the failures are Warning `FailedCreate` events.
#[test]
fn slow_start_stops_at_the_first_failed_batch() {
    let base = {
        let (mut c, _) = cluster();
        c.run_until(SimTime::ZERO).unwrap();
        c.store().len()
    };
    // Room for 10 more objects; the kubelet's 3 node Leases take 3, leaving 7 pods:
    // batches 1 + 2 + 4 succeed and every create of the batch of 8 fails.
    let yaml = SCENARIO.replace("replicas: 5", "replicas: 40").replace(
        "  duration: 2m",
        &format!("  duration: 2m\n  limits: {{maxObjects: {}}}", base + 10),
    );
    let run = common::run_yaml("slow.yaml", &yaml);
    assert!(
        run.output.status.success(),
        "{}",
        common::stderr(&run.output)
    );
    let events = std::fs::read_to_string(run.out.join("events.jsonl")).unwrap();
    let first: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("\"SuccessfulCreate\"") || l.contains("\"FailedCreate\""))
        .collect();
    let creates = first
        .iter()
        .filter(|l| l.contains("SuccessfulCreate"))
        .count();
    assert_eq!(creates, 7, "{first:#?}");
    let first_sync: Vec<bool> = first
        .iter()
        .take(15)
        .map(|l| l.contains("SuccessfulCreate"))
        .collect();
    assert!(first_sync[..7].iter().all(|ok| *ok), "{first:#?}");
    assert!(first_sync[7..].iter().all(|ok| !*ok), "{first:#?}");
    assert!(
        first[..15].iter().all(|l| l.contains("\"t_ms\":10,")),
        "{first:#?}"
    );
}

/// The co-location rank counts the pods of every ReplicaSet with the same controller (a
/// Deployment's old and new sets): `a3` shares its node with three pods of the sibling set,
/// so it goes first, although `a1` and `a2` share a node within the set itself.
#[test]
fn scale_down_ranks_pods_by_related_pods_of_sibling_sets() {
    let pod = |name: &str, app: &str, node: &str| {
        format!(
            "    - apiVersion: v1
      kind: Pod
      metadata: {{name: {name}, namespace: default, labels: {{app: {app}}}}}
      spec:
        nodeName: {node}
        containers: [{{name: c, image: nginx}}]
"
        )
    };
    let set = |name: &str, app: &str, replicas: u32| {
        format!(
            "    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata:
        name: {name}
        namespace: default
        ownerReferences:
          - {{apiVersion: example.com/v1, kind: Widget, name: w, uid: widget-1, controller: true}}
      spec:
        replicas: {replicas}
        selector: {{matchLabels: {{app: {app}}}}}
        template:
          metadata: {{labels: {{app: {app}}}}}
          spec:
            containers: [{{name: c, image: nginx}}]
"
        )
    };
    let mut yaml = String::from(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: related}
spec:
  duration: 1m
  cluster:
    nodePools:
      - name: n
        count: 2
        template:
          status:
            capacity: {cpu: \"8\", memory: 16Gi, pods: \"110\"}
  objects:
",
    );
    for (name, app, node) in [
        ("a1", "a", "n-0"),
        ("a2", "a", "n-0"),
        ("a3", "a", "n-1"),
        ("b1", "b", "n-1"),
        ("b2", "b", "n-1"),
        ("b3", "b", "n-1"),
    ] {
        yaml.push_str(&pod(name, app, node));
    }
    yaml.push_str(&set("a", "a", 3));
    yaml.push_str(&set("b", "b", 3));
    let scenario = kubesim::scenario::load_str("related.yaml", &yaml, Path::new("."), &|_| {
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
    cluster.run_until(at(20)).unwrap();
    let key = ObjectKey::new(Kind::ReplicaSet, "default", "a");
    let mut obj = (**cluster.store().get(&key).unwrap()).clone();
    let Object::ReplicaSet(rs) = &mut obj else {
        panic!()
    };
    rs.spec.replicas = Some(2);
    cluster.update(obj).unwrap();
    cluster.run_until(at(40)).unwrap();
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    let deleted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"SuccessfulDelete\""))
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:#?}");
    assert!(deleted[0].contains("Deleted pod: a3"), "{deleted:#?}");
    assert_eq!(
        log.matches("\"SuccessfulCreate\"").count(),
        0,
        "all pods adopted"
    );
}
