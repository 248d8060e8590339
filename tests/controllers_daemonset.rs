//! The DaemonSet controller through the scheduler and the kubelet: one pod per eligible node
//! (nodeSelector and taints), following node additions and removals, self-healing, and a
//! rolling update bounded by maxUnavailable.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Buf;
use kubesim::api::ObjectKey;
use kubesim::api::meta::ConditionStatus;
use kubesim::api::objects::{Kind, Object, PodPhase};
use kubesim::runtime::Cluster;
use kubesim::sim::{SimDuration, SimTime};

/// Three worker nodes (one tainted `dedicated=db:NoSchedule`) and one plain node that the
/// DaemonSet's nodeSelector excludes.
const SCENARIO: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: ds
spec:
  seed: 7
  duration: 5m
  cluster:
    nodePools:
      - name: worker
        count: 2
        template:
          metadata: {labels: {role: worker}}
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
      - name: tainted
        count: 1
        template:
          metadata: {labels: {role: worker}}
          spec:
            taints: [{key: dedicated, value: db, effect: NoSchedule}]
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
      - name: plain
        count: 1
        template:
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  behaviors:
    - name: agent
      selector: {matchLabels: {app: agent}}
      readinessDelay: 5s
      terminationTime: 2s
  objects:
    - apiVersion: apps/v1
      kind: DaemonSet
      metadata: {name: agent, namespace: default}
      spec:
        selector: {matchLabels: {app: agent}}
        template:
          metadata: {labels: {app: agent}}
          spec:
            nodeSelector: {role: worker}
            containers:
              - name: agent
                image: agent:1
                resources: {requests: {cpu: 100m, memory: 64Mi}}
                readinessProbe: {periodSeconds: 1}
"#;

fn cluster(yaml: &str) -> (Cluster, Buf) {
    let scenario = kubesim::scenario::load_str("ds.yaml", yaml, Path::new("."), &|_| {
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

/// Live (not terminating) daemon pods: node → (name, image, running and ready).
fn daemon_pods(cluster: &Cluster) -> BTreeMap<String, Vec<(String, String, bool)>> {
    let mut out: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for o in cluster.store().list(Kind::Pod) {
        let Object::Pod(p) = &**o else { continue };
        if p.metadata.deletion_timestamp.is_some()
            || p.metadata.controller_ref().map(|r| r.kind.as_str()) != Some("DaemonSet")
        {
            continue;
        }
        let ready = p.status.phase == PodPhase::Running
            && p.status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True);
        out.entry(p.spec.node_name.clone()).or_default().push((
            p.metadata.name.clone(),
            p.spec.containers[0].image.clone(),
            ready,
        ));
    }
    out
}

fn ds_status(cluster: &Cluster) -> kubesim::api::objects::workloads::DaemonSetStatus {
    let key = ObjectKey::new(Kind::DaemonSet, "default", "agent");
    let Object::DaemonSet(ds) = &**cluster.store().get(&key).unwrap() else {
        panic!("a DaemonSet")
    };
    ds.status.clone()
}

#[test]
fn one_pod_per_eligible_node() {
    let run = common::run_yaml("ds.yaml", SCENARIO);
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
        .find(|w| w["object"] == "DaemonSet/default/agent")
        .expect("the DaemonSet is in the summary")
        .clone();
    assert_eq!(w["desired"], 2, "{w}");
    assert_eq!(w["scheduled"], 2, "{w}");
    assert_eq!(w["ready"], 2, "{w}");
    assert_eq!(w["available"], 2, "{w}");
    let (mut c, _) = cluster(SCENARIO);
    c.run_until(at(30)).unwrap();
    let pods = daemon_pods(&c);
    let nodes: Vec<&str> = pods.keys().map(String::as_str).collect();
    assert_eq!(nodes, ["worker-0", "worker-1"], "{pods:?}");
    assert!(pods.values().all(|v| v.len() == 1 && v[0].2), "{pods:?}");
    let s = ds_status(&c);
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.number_misscheduled,
            s.updated_number_scheduled
        ),
        (2, 0, 2)
    );
    assert_eq!(s.observed_generation, 1);
}

#[test]
fn follows_node_additions_and_removals() {
    let (mut c, events) = cluster(SCENARIO);
    c.run_until(at(30)).unwrap();
    // A new eligible node gets a pod.
    let Object::Node(template) = &**c
        .store()
        .get(&ObjectKey::new(Kind::Node, "", "worker-1"))
        .unwrap()
    else {
        panic!()
    };
    let mut node = template.clone();
    node.metadata.name = "worker-9".into();
    node.metadata.uid.clear();
    node.metadata.resource_version = 0;
    node.metadata
        .labels
        .insert("kubernetes.io/hostname".into(), "worker-9".into());
    c.apply(Object::Node(node)).unwrap();
    c.run_until(at(60)).unwrap();
    let pods = daemon_pods(&c);
    assert!(
        pods.get("worker-9").is_some_and(|v| v.len() == 1 && v[0].2),
        "{pods:?}"
    );
    assert_eq!(ds_status(&c).number_ready, 3);
    // A removed node's pod goes, and the desired count drops.
    c.delete(
        &ObjectKey::new(Kind::Node, "", "worker-0"),
        &Default::default(),
    )
    .unwrap();
    c.run_until(at(90)).unwrap();
    let pods = daemon_pods(&c);
    assert!(!pods.contains_key("worker-0"), "{pods:?}");
    assert_eq!(pods.len(), 2, "{pods:?}");
    let s = ds_status(&c);
    assert_eq!((s.desired_number_scheduled, s.number_ready), (2, 2));
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    assert_eq!(log.matches("\"SuccessfulCreate\"").count(), 3, "{log}");
    // Relabelling a node out of the selector removes its pod too.
    let key = ObjectKey::new(Kind::Node, "", "worker-1");
    let mut n = (**c.store().get(&key).unwrap()).clone();
    n.meta_mut().labels.remove("role");
    c.update(n).unwrap();
    c.run_until(at(120)).unwrap();
    let pods = daemon_pods(&c);
    assert_eq!(pods.keys().collect::<Vec<_>>(), ["worker-9"], "{pods:?}");
}

#[test]
fn a_deleted_daemon_pod_comes_back_on_its_node() {
    let (mut c, _) = cluster(SCENARIO);
    c.run_until(at(30)).unwrap();
    let before = daemon_pods(&c);
    let victim = before["worker-1"][0].0.clone();
    c.delete(
        &ObjectKey::new(Kind::Pod, "default", victim.clone()),
        &Default::default(),
    )
    .unwrap();
    c.run_until(at(60)).unwrap();
    let after = daemon_pods(&c);
    let w1 = &after["worker-1"];
    assert_eq!(w1.len(), 1, "{after:?}");
    assert_ne!(w1[0].0, victim);
    assert!(w1[0].2, "{after:?}");
    assert_eq!(after["worker-0"], before["worker-0"]);
}

/// Six eligible nodes, maxUnavailable 2: while the image changes, never more than 2 nodes are
/// without an available daemon pod, and every node ends on the new image.
#[test]
fn rolling_update_respects_max_unavailable() {
    let yaml = SCENARIO
        .replace("count: 2\n", "count: 6\n")
        .replace(
            "        selector: {matchLabels: {app: agent}}\n        template:",
            "        selector: {matchLabels: {app: agent}}\n        updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}\n        template:",
        );
    let (mut c, events) = cluster(&yaml);
    c.run_until(at(30)).unwrap();
    assert_eq!(ds_status(&c).number_available, 6);
    let key = ObjectKey::new(Kind::DaemonSet, "default", "agent");
    let mut obj = (**c.store().get(&key).unwrap()).clone();
    let Object::DaemonSet(ds) = &mut obj else {
        panic!()
    };
    ds.spec.template.spec.containers[0].image = "agent:2".into();
    c.update(obj).unwrap();
    let mut max_down = 0;
    let mut saw_mixed = false;
    let mut t = 30_000u64;
    while t < 150_000 {
        t += 250;
        c.run_until(SimTime::ZERO.saturating_add(SimDuration::from_millis(t)))
            .unwrap();
        let pods = daemon_pods(&c);
        let up = (0..6)
            .filter(|i| {
                pods.get(&format!("worker-{i}"))
                    .is_some_and(|v| v.iter().any(|p| p.2))
            })
            .count();
        max_down = max_down.max(6 - up);
        let images: std::collections::BTreeSet<&str> =
            pods.values().flatten().map(|p| p.1.as_str()).collect();
        saw_mixed |= images.len() > 1;
    }
    assert!(max_down <= 2, "{max_down} nodes were down at once");
    assert!(max_down >= 1, "the update replaced pods");
    assert!(saw_mixed, "the update went in steps");
    let pods = daemon_pods(&c);
    assert_eq!(pods.len(), 6, "{pods:?}");
    assert!(
        pods.values()
            .all(|v| v.len() == 1 && v[0].1 == "agent:2" && v[0].2),
        "{pods:?}"
    );
    let s = ds_status(&c);
    assert_eq!((s.updated_number_scheduled, s.number_available), (6, 6));
    assert_eq!(s.observed_generation, 2);
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    assert_eq!(log.matches("\"SuccessfulDelete\"").count(), 6, "{log}");
}

#[test]
fn on_delete_waits_for_pods_to_be_deleted() {
    let yaml = SCENARIO.replace(
        "        selector: {matchLabels: {app: agent}}\n        template:",
        "        selector: {matchLabels: {app: agent}}\n        updateStrategy: {type: OnDelete}\n        template:",
    );
    let (mut c, _) = cluster(&yaml);
    c.run_until(at(30)).unwrap();
    let key = ObjectKey::new(Kind::DaemonSet, "default", "agent");
    let mut obj = (**c.store().get(&key).unwrap()).clone();
    let Object::DaemonSet(ds) = &mut obj else {
        panic!()
    };
    ds.spec.template.spec.containers[0].image = "agent:2".into();
    c.update(obj).unwrap();
    c.run_until(at(60)).unwrap();
    let pods = daemon_pods(&c);
    assert!(pods.values().all(|v| v[0].1 == "agent:1"), "{pods:?}");
    assert_eq!(ds_status(&c).updated_number_scheduled, 0);
    let victim = pods["worker-0"][0].0.clone();
    c.delete(
        &ObjectKey::new(Kind::Pod, "default", victim),
        &Default::default(),
    )
    .unwrap();
    c.run_until(at(90)).unwrap();
    let pods = daemon_pods(&c);
    assert_eq!(pods["worker-0"][0].1, "agent:2", "{pods:?}");
    assert_eq!(pods["worker-1"][0].1, "agent:1", "{pods:?}");
    assert_eq!(ds_status(&c).updated_number_scheduled, 1);
}

#[test]
fn runs_are_reproducible() {
    let a = common::run_yaml("ds.yaml", SCENARIO);
    let b = common::run_yaml("ds.yaml", SCENARIO);
    let read = |r: &common::Run| std::fs::read(r.out.join("events.jsonl")).unwrap();
    assert_eq!(read(&a), read(&b));
}

/// A daemon pod that fails is deleted and replaced, but each further failure on the same node
/// waits out a back-off of 1 s, then 2 s, … (`FailedDaemonPod` Warning events).
#[test]
fn failed_daemon_pods_are_replaced_with_back_off() {
    let (mut c, events) = cluster(SCENARIO);
    let mut t_ms = 30_000u64;
    c.run_until(at(30)).unwrap();
    for _ in 0..3 {
        // Fail the live pod on worker-0 (as a kubelet rejection would).
        let name = daemon_pods(&c)["worker-0"][0].0.clone();
        let key = ObjectKey::new(Kind::Pod, "default", name);
        let mut obj = (**c.store().get(&key).unwrap()).clone();
        let Object::Pod(p) = &mut obj else { panic!() };
        p.status.phase = PodPhase::Failed;
        c.update(obj).unwrap();
        // Wait for its replacement to be bound (it is failed at once: only the back-off
        // spaces the deletions).
        loop {
            t_ms += 100;
            assert!(t_ms < 120_000, "no replacement on worker-0");
            c.run_until(SimTime::ZERO.saturating_add(SimDuration::from_millis(t_ms)))
                .unwrap();
            let pods = daemon_pods(&c);
            if pods
                .get("worker-0")
                .is_some_and(|v| v.len() == 1 && v[0].0 != key.name)
            {
                break;
            }
        }
    }
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    let failed: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["reason"] == "FailedDaemonPod")
        .inspect(|e| {
            assert_eq!(e["type"], "Warning");
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("on node worker-0, will try to kill it")
            );
        })
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(failed.len(), 3, "{log}");
    let gaps = [failed[1] - failed[0], failed[2] - failed[1]];
    assert!((1_000..1_500).contains(&gaps[0]), "{failed:?}");
    assert!((2_000..2_500).contains(&gaps[1]), "{failed:?}");
}

/// The DaemonSet part of the reference row `deploy.defaults` (`pkg/apis/apps/v1/defaults.go`),
/// checked on a DaemonSet applied without any of those fields.
#[test]
fn daemonset_defaults_match_the_reference_row() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let row = common::controller_vector_row(&doc, "deploy.defaults");
    let want = &row["expected"]["DaemonSet"];
    let (c, _) = cluster(SCENARIO);
    let key = ObjectKey::new(Kind::DaemonSet, "default", "agent");
    let Object::DaemonSet(ds) = &**c.store().get(&key).unwrap() else {
        panic!()
    };
    let s = &ds.spec;
    let ty = serde_json::to_value(s.update_strategy.type_).unwrap();
    assert_eq!(ty, want["updateStrategy"]);
    let ru = s.update_strategy.rolling_update.as_ref().unwrap();
    assert_eq!(
        serde_json::to_value(ru.max_unavailable.as_ref().unwrap()).unwrap(),
        want["maxUnavailable"]
    );
    assert_eq!(
        serde_json::to_value(ru.max_surge.as_ref().unwrap()).unwrap(),
        want["maxSurge"]
    );
    assert_eq!(
        s.revision_history_limit.map(i64::from),
        want["revisionHistoryLimit"].as_i64()
    );
}

/// maxSurge 1, maxUnavailable 0: every node keeps a ready pod throughout the update, at most
/// one node runs two pods at once, and every node ends on the new image.
#[test]
fn surge_rolling_update_keeps_every_node_available() {
    let yaml = SCENARIO.replace("count: 2\n", "count: 4\n").replace(
        "        selector: {matchLabels: {app: agent}}\n        template:",
        "        selector: {matchLabels: {app: agent}}\n        updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n        template:",
    );
    let (mut c, _) = cluster(&yaml);
    c.run_until(at(30)).unwrap();
    assert_eq!(ds_status(&c).number_available, 4);
    let key = ObjectKey::new(Kind::DaemonSet, "default", "agent");
    let mut obj = (**c.store().get(&key).unwrap()).clone();
    let Object::DaemonSet(ds) = &mut obj else {
        panic!()
    };
    ds.spec.template.spec.containers[0].image = "agent:2".into();
    c.update(obj).unwrap();
    let mut max_doubled = 0;
    let mut t = 30_000u64;
    while t < 200_000 {
        t += 250;
        c.run_until(SimTime::ZERO.saturating_add(SimDuration::from_millis(t)))
            .unwrap();
        let pods = daemon_pods(&c);
        for i in 0..4 {
            let node = format!("worker-{i}");
            assert!(
                pods.get(&node).is_some_and(|v| v.iter().any(|p| p.2)),
                "{node} without a ready pod at {t} ms: {pods:?}"
            );
        }
        max_doubled = max_doubled.max(pods.values().filter(|v| v.len() > 1).count());
    }
    assert_eq!(max_doubled, 1, "one node surges at a time");
    let pods = daemon_pods(&c);
    assert!(
        pods.values()
            .all(|v| v.len() == 1 && v[0].1 == "agent:2" && v[0].2),
        "{pods:?}"
    );
    assert_eq!(ds_status(&c).updated_number_scheduled, 4);
}

/// An orphan pod matching the selector on a node that already has a daemon pod is adopted,
/// and the newer of the two is deleted.
#[test]
fn an_extra_pod_on_a_node_is_deleted_keeping_the_oldest() {
    let (mut c, events) = cluster(SCENARIO);
    c.run_until(at(30)).unwrap();
    let kept = daemon_pods(&c)["worker-0"][0].0.clone();
    let pod: kubesim::api::objects::pod::Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "agent"}},
        "spec": {"nodeName": "worker-0", "containers": [{"name": "agent", "image": "agent:1"}]}
    }))
    .unwrap();
    c.apply(Object::Pod(pod)).unwrap();
    c.run_until(at(60)).unwrap();
    let pods = daemon_pods(&c);
    assert_eq!(pods["worker-0"].len(), 1, "{pods:?}");
    assert_eq!(pods["worker-0"][0].0, kept);
    let log = String::from_utf8(events.0.borrow().clone()).unwrap();
    assert!(
        log.contains("\"reason\":\"SuccessfulDelete\",\"object\":\"DaemonSet/default/agent\",\"message\":\"Deleted pod: stray\""),
        "{log}"
    );
}
