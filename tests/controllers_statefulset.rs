//! The StatefulSet controller through the scheduler and the kubelet: OrderedReady creation
//! order (from events.jsonl times), stable identity of a replacement, scale-down from the
//! highest ordinal, rolling update in reverse ordinal order with a partition, Parallel.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Buf;
use kubesim::api::ObjectKey;
use kubesim::api::meta::ConditionStatus;
use kubesim::api::objects::workloads::StatefulSetStatus;
use kubesim::api::objects::{Kind, Object, PodPhase};
use kubesim::runtime::Cluster;
use kubesim::sim::{SimDuration, SimTime};

/// Three replicas; each pod is ready 10 s after its container starts.
const SCENARIO: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata:
  name: sts
spec:
  seed: 11
  duration: 10m
  cluster:
    nodePools:
      - name: node
        count: 3
        template:
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  behaviors:
    - name: web
      selector: {matchLabels: {app: web}}
      readinessDelay: 10s
      terminationTime: 3s
  objects:
    - apiVersion: apps/v1
      kind: StatefulSet
      metadata: {name: web, namespace: default}
      spec:
        replicas: 3
        serviceName: nginx
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers:
              - name: nginx
                image: nginx:1
                resources: {requests: {cpu: 100m, memory: 64Mi}}
                readinessProbe: {periodSeconds: 1}
        volumeClaimTemplates:
          - metadata: {name: www}
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"#;

fn cluster(yaml: &str) -> (Cluster, Buf) {
    let scenario = kubesim::scenario::load_str("sts.yaml", yaml, Path::new("."), &|_| {
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

/// `t_ms` of the first event with `reason` about `object` whose message contains `text`.
fn time_of(evs: &[serde_json::Value], reason: &str, object: &str, text: &str) -> Option<u64> {
    evs.iter()
        .find(|e| {
            e["reason"] == reason
                && e["object"] == object
                && e["message"].as_str().unwrap().contains(text)
        })
        .map(|e| e["t_ms"].as_u64().unwrap())
}

/// Live pods: name → (uid, image, running and ready).
fn pods(cluster: &Cluster) -> BTreeMap<String, (String, String, bool)> {
    cluster
        .store()
        .list(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p) if p.metadata.deletion_timestamp.is_none() => Some((
                p.metadata.name.clone(),
                (
                    p.metadata.uid.clone(),
                    p.spec.containers[0].image.clone(),
                    p.status.phase == PodPhase::Running
                        && p.status
                            .conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True),
                ),
            )),
            _ => None,
        })
        .collect()
}

fn status(cluster: &Cluster) -> StatefulSetStatus {
    let key = ObjectKey::new(Kind::StatefulSet, "default", "web");
    let Object::StatefulSet(s) = &**cluster.store().get(&key).unwrap() else {
        panic!()
    };
    s.status.clone()
}

fn edit_set(cluster: &mut Cluster, f: impl FnOnce(&mut kubesim::api::objects::StatefulSet)) {
    let key = ObjectKey::new(Kind::StatefulSet, "default", "web");
    let mut obj = (**cluster.store().get(&key).unwrap()).clone();
    let Object::StatefulSet(s) = &mut obj else {
        panic!()
    };
    f(s);
    cluster.update(obj).unwrap();
}

const SET: &str = "StatefulSet/default/web";

#[test]
fn ordered_ready_creates_one_pod_after_another_is_ready() {
    let run = common::run_yaml("sts.yaml", SCENARIO);
    assert!(
        run.output.status.success(),
        "{}",
        common::stderr(&run.output)
    );
    let evs: Vec<serde_json::Value> = std::fs::read_to_string(run.out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut created = Vec::new();
    for i in 0..3 {
        let pod = format!("web-{i}");
        let c = time_of(&evs, "SuccessfulCreate", SET, &format!("Pod {pod} in"))
            .unwrap_or_else(|| panic!("{pod} created: {evs:#?}"));
        let started = time_of(&evs, "Started", &format!("Pod/default/{pod}"), "")
            .unwrap_or_else(|| panic!("{pod} started"));
        assert!(started >= c);
        created.push((c, started));
    }
    for i in 1..3 {
        let (c, _) = created[i];
        let (_, prev_started) = created[i - 1];
        // The previous pod is Ready 10 s after its container started.
        assert!(
            c >= prev_started + 10_000,
            "web-{i} created at {c} ms, web-{} started at {prev_started} ms",
            i - 1
        );
    }
    let creates: Vec<&str> = evs
        .iter()
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        creates,
        [
            "create Pod web-0 in StatefulSet web successful",
            "create Pod web-1 in StatefulSet web successful",
            "create Pod web-2 in StatefulSet web successful",
        ]
    );
    let summary = run.summary();
    let w = summary["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["object"] == SET)
        .unwrap()
        .clone();
    assert_eq!(
        (w["replicas"].as_i64(), w["ready"].as_i64()),
        (Some(3), Some(3)),
        "{w}"
    );
}

#[test]
fn pods_carry_a_stable_identity() {
    let (mut c, _) = cluster(SCENARIO);
    c.run_until(at(60)).unwrap();
    let key = ObjectKey::new(Kind::Pod, "default", "web-1");
    let Object::Pod(p) = &**c.store().get(&key).unwrap() else {
        panic!()
    };
    assert_eq!(p.spec.hostname, "web-1");
    assert_eq!(p.spec.subdomain, "nginx");
    assert_eq!(
        p.metadata.labels["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    assert_eq!(p.metadata.labels["apps.kubernetes.io/pod-index"], "1");
    let claim = p.spec.volumes[0].persistent_volume_claim.as_ref().unwrap();
    assert_eq!(
        (p.spec.volumes[0].name.as_str(), claim.claim_name.as_str()),
        ("www", "www-web-1")
    );
    let s = status(&c);
    assert_eq!(
        p.metadata.labels["controller-revision-hash"],
        s.update_revision
    );
    assert!(s.update_revision.starts_with("web-"));
    assert_eq!(s.current_revision, s.update_revision);
    assert_eq!(
        (
            s.replicas,
            s.ready_replicas,
            s.available_replicas,
            s.current_replicas,
            s.updated_replicas
        ),
        (3, 3, 3, 3, 3)
    );
    assert_eq!(s.observed_generation, 1);
}

#[test]
fn a_deleted_pod_comes_back_with_its_name_after_lower_ordinals_are_ready() {
    let (mut c, events_buf) = cluster(SCENARIO);
    c.run_until(at(60)).unwrap();
    let before = pods(&c);
    assert!(before.values().all(|p| p.2), "{before:?}");
    // Make web-0 unready first: web-1's replacement must wait for it.
    c.delete(
        &ObjectKey::new(Kind::Pod, "default", "web-0"),
        &Default::default(),
    )
    .unwrap();
    c.delete(
        &ObjectKey::new(Kind::Pod, "default", "web-1"),
        &Default::default(),
    )
    .unwrap();
    c.run_until(at(120)).unwrap();
    let after = pods(&c);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["web-0", "web-1", "web-2"]
    );
    assert!(after.values().all(|p| p.2), "{after:?}");
    assert_ne!(after["web-0"].0, before["web-0"].0, "web-0 is a new pod");
    assert_ne!(after["web-1"].0, before["web-1"].0, "web-1 is a new pod");
    assert_eq!(after["web-2"].0, before["web-2"].0, "web-2 is untouched");
    let evs = events(&events_buf);
    let after_ms = 60_000;
    let recreate = |pod: &str| {
        evs.iter()
            .find(|e| {
                e["t_ms"].as_u64().unwrap() > after_ms
                    && e["reason"] == "SuccessfulCreate"
                    && e["message"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("Pod {pod} in"))
            })
            .map(|e| e["t_ms"].as_u64().unwrap())
            .unwrap()
    };
    let web0_started = evs
        .iter()
        .find(|e| {
            e["t_ms"].as_u64().unwrap() > after_ms
                && e["reason"] == "Started"
                && e["object"] == "Pod/default/web-0"
        })
        .map(|e| e["t_ms"].as_u64().unwrap())
        .unwrap();
    assert!(recreate("web-0") < recreate("web-1"));
    assert!(
        recreate("web-1") >= web0_started + 10_000,
        "web-1 waits until the new web-0 is Ready"
    );
}

#[test]
fn scale_down_deletes_the_highest_ordinal_first() {
    let yaml = SCENARIO.replace("replicas: 3", "replicas: 5");
    let (mut c, events_buf) = cluster(&yaml);
    c.run_until(at(90)).unwrap();
    assert_eq!(pods(&c).len(), 5);
    edit_set(&mut c, |s| s.spec.replicas = Some(2));
    c.run_until(at(150)).unwrap();
    assert_eq!(pods(&c).keys().collect::<Vec<_>>(), ["web-0", "web-1"]);
    let evs = events(&events_buf);
    let deletes: Vec<(u64, &str)> = evs
        .iter()
        .filter(|e| e["reason"] == "SuccessfulDelete")
        .map(|e| (e["t_ms"].as_u64().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    let names: Vec<&str> = deletes.iter().map(|d| d.1).collect();
    assert_eq!(
        names,
        [
            "delete Pod web-4 in StatefulSet web successful",
            "delete Pod web-3 in StatefulSet web successful",
            "delete Pod web-2 in StatefulSet web successful",
        ]
    );
    // One at a time: each waits for the previous pod to finish terminating (3 s).
    assert!(deletes[1].0 >= deletes[0].0 + 3_000, "{deletes:?}");
    assert!(deletes[2].0 >= deletes[1].0 + 3_000, "{deletes:?}");
    assert_eq!(status(&c).replicas, 2);
}

#[test]
fn rolling_update_goes_in_reverse_ordinal_order_down_to_the_partition() {
    let yaml = SCENARIO.replace("replicas: 3", "replicas: 4").replace(
        "        serviceName: nginx\n",
        "        serviceName: nginx\n        updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}\n",
    );
    let (mut c, events_buf) = cluster(&yaml);
    c.run_until(at(90)).unwrap();
    let old_rev = status(&c).update_revision;
    edit_set(&mut c, |s| {
        s.spec.template.spec.containers[0].image = "nginx:2".into()
    });
    c.run_until(at(240)).unwrap();
    let now = pods(&c);
    let images: Vec<&str> = now.values().map(|p| p.1.as_str()).collect();
    assert_eq!(
        images,
        ["nginx:1", "nginx:2", "nginx:2", "nginx:2"],
        "{now:?}"
    );
    assert!(now.values().all(|p| p.2), "{now:?}");
    let evs = events(&events_buf);
    let deletes: Vec<&str> = evs
        .iter()
        .filter(|e| e["reason"] == "SuccessfulDelete")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        deletes,
        [
            "delete Pod web-3 in StatefulSet web successful",
            "delete Pod web-2 in StatefulSet web successful",
            "delete Pod web-1 in StatefulSet web successful",
        ]
    );
    let s = status(&c);
    assert_ne!(s.update_revision, old_rev);
    assert_eq!(
        s.current_revision, old_rev,
        "web-0 stays at the old revision"
    );
    assert_eq!((s.current_replicas, s.updated_replicas), (1, 3));
    // web-0 deleted below the partition comes back at the current (old) revision.
    c.delete(
        &ObjectKey::new(Kind::Pod, "default", "web-0"),
        &Default::default(),
    )
    .unwrap();
    c.run_until(at(300)).unwrap();
    assert_eq!(pods(&c)["web-0"].1, "nginx:1");
    // Partition 0 finishes the rollout.
    edit_set(&mut c, |s| {
        s.spec
            .update_strategy
            .rolling_update
            .as_mut()
            .unwrap()
            .partition = Some(0)
    });
    c.run_until(at(360)).unwrap();
    assert!(pods(&c).values().all(|p| p.1 == "nginx:2" && p.2));
    let s = status(&c);
    assert_eq!(s.current_revision, s.update_revision);
    assert_eq!((s.current_replicas, s.updated_replicas), (4, 4));
}

#[test]
fn parallel_creates_every_pod_at_once() {
    let yaml = SCENARIO.replace(
        "        serviceName: nginx\n",
        "        serviceName: nginx\n        podManagementPolicy: Parallel\n",
    );
    let run = common::run_yaml("par.yaml", &yaml);
    assert!(
        run.output.status.success(),
        "{}",
        common::stderr(&run.output)
    );
    let evs: Vec<serde_json::Value> = std::fs::read_to_string(run.out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let creates: Vec<u64> = evs
        .iter()
        .filter(|e| e["reason"] == "SuccessfulCreate" && e["object"] == SET)
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(creates.len(), 3, "{evs:#?}");
    assert!(creates.iter().all(|t| *t == creates[0]), "{creates:?}");
}

#[test]
fn ordinals_start_at_spec_ordinals_start() {
    let yaml = SCENARIO.replace(
        "        serviceName: nginx\n",
        "        serviceName: nginx\n        ordinals: {start: 5}\n",
    );
    let (mut c, _) = cluster(&yaml);
    c.run_until(at(60)).unwrap();
    assert_eq!(
        pods(&c).keys().collect::<Vec<_>>(),
        ["web-5", "web-6", "web-7"]
    );
}

#[test]
fn runs_are_reproducible() {
    let a = common::run_yaml("sts.yaml", SCENARIO);
    let b = common::run_yaml("sts.yaml", SCENARIO);
    let read = |r: &common::Run| std::fs::read(r.out.join("events.jsonl")).unwrap();
    assert_eq!(read(&a), read(&b));
}

/// The StatefulSet part of the reference row `deploy.defaults` (`pkg/apis/apps/v1/defaults.go`),
/// checked on a StatefulSet applied without those fields. `pvcRetention` is not checked:
/// storage is not modelled.
#[test]
fn statefulset_defaults_match_the_reference_row() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let row = common::controller_vector_row(&doc, "deploy.defaults");
    let want = &row["expected"]["StatefulSet"];
    let (c, _) = cluster(&SCENARIO.replace("        replicas: 3\n", ""));
    let key = ObjectKey::new(Kind::StatefulSet, "default", "web");
    let Object::StatefulSet(s) = &**c.store().get(&key).unwrap() else {
        panic!()
    };
    let s = &s.spec;
    assert_eq!(
        serde_json::to_value(s.pod_management_policy).unwrap(),
        want["podManagementPolicy"]
    );
    assert_eq!(
        serde_json::to_value(s.update_strategy.type_).unwrap(),
        want["updateStrategy"]
    );
    assert_eq!(
        s.update_strategy
            .rolling_update
            .as_ref()
            .and_then(|r| r.partition)
            .map(i64::from),
        want["partition"].as_i64()
    );
    assert_eq!(s.replicas.map(i64::from), want["replicas"].as_i64());
    assert_eq!(
        s.revision_history_limit.map(i64::from),
        want["revisionHistoryLimit"].as_i64()
    );
}

/// A Failed pod is deleted and recreated under the same name.
#[test]
fn a_failed_pod_is_recreated_with_the_same_name() {
    let (mut c, events_buf) = cluster(SCENARIO);
    c.run_until(at(60)).unwrap();
    let before = pods(&c);
    let key = ObjectKey::new(Kind::Pod, "default", "web-1");
    let mut obj = (**c.store().get(&key).unwrap()).clone();
    let Object::Pod(p) = &mut obj else { panic!() };
    p.status.phase = PodPhase::Failed;
    c.update(obj).unwrap();
    c.run_until(at(120)).unwrap();
    let after = pods(&c);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["web-0", "web-1", "web-2"]
    );
    assert_ne!(after["web-1"].0, before["web-1"].0, "a new web-1");
    assert!(after.values().all(|p| p.2), "{after:?}");
    let evs = events(&events_buf);
    assert!(evs.iter().any(|e| e["t_ms"].as_u64().unwrap() > 60_000
        && e["message"] == "delete Pod web-1 in StatefulSet web successful"));
    assert_eq!(
        evs.iter()
            .filter(|e| e["message"] == "create Pod web-1 in StatefulSet web successful")
            .count(),
        2
    );
}

/// With minReadySeconds, the next ordinal waits until the previous pod has been ready that
/// long (ready 10 s after start, then 20 s more).
#[test]
fn ordered_ready_waits_for_min_ready_seconds() {
    let yaml = SCENARIO.replace(
        "        serviceName: nginx\n",
        "        serviceName: nginx\n        minReadySeconds: 20\n",
    );
    let (mut c, events_buf) = cluster(&yaml);
    c.run_until(at(120)).unwrap();
    let evs = events(&events_buf);
    let started = time_of(&evs, "Started", "Pod/default/web-0", "").unwrap();
    let created = time_of(&evs, "SuccessfulCreate", SET, "Pod web-1 in").unwrap();
    assert!(
        created >= started + 30_000,
        "web-0 started {started}, web-1 created {created}"
    );
    assert!(
        created < started + 32_000,
        "web-0 started {started}, web-1 created {created}"
    );
    let s = status(&c);
    assert_eq!((s.ready_replicas, s.available_replicas), (3, 3));
}
