//! Node lifecycle, taint-based eviction and pod GC: the `node_lifecycle` rows of
//! `../shared/reference/vectors/controllers.json` and scenarios driven through the library
//! `Cluster` (stop a node's kubelet at a time, run on, read events.jsonl and the store).
//! Timelines follow `../shared/reference/controllers.md` §5 and §1.6.

mod common;

use std::path::Path;

use common::Buf;
use kubesim::api::objects::node::Node;
use kubesim::api::objects::pod::TaintEffect;
use kubesim::api::objects::{Kind, Object};
use kubesim::api::{AdmissionConfig, ObjectKey};
use kubesim::controllers::ControllersConfig;
use kubesim::controllers::nodelifecycle::{
    NODE_EVICTION_PERIOD, ZoneState, compute_zone_state, zone_qps,
};
use kubesim::controllers::podgc::{GC_CHECK_PERIOD, QUARANTINE_TIME};
use kubesim::runtime::Cluster;
use kubesim::sim::{SimDuration, SimTime};

fn state_name(s: ZoneState) -> &'static str {
    match s {
        ZoneState::Initial => "Initial",
        ZoneState::Normal => "Normal",
        ZoneState::PartialDisruption => "PartialDisruption",
        ZoneState::FullDisruption => "FullDisruption",
    }
}

fn parse_state(s: &str) -> ZoneState {
    match s {
        "Normal" => ZoneState::Normal,
        "PartialDisruption" => ZoneState::PartialDisruption,
        "FullDisruption" => ZoneState::FullDisruption,
        other => panic!("unknown zone state {other}"),
    }
}

#[test]
fn node_lifecycle_vector_rows() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let cfg = ControllersConfig::default();
    let admission = AdmissionConfig::default();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        if case["topic"] != "node_lifecycle" {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        let want = &case["expected"];
        let inp = &case["inputs"];
        let got: serde_json::Value = if id == "nodelifecycle.defaults" {
            serde_json::json!({
                "nodeMonitorPeriod_s": cfg.node_monitor_period.as_secs(),
                "nodeMonitorGracePeriod_s": {"<=v1.31": 40, ">=v1.32": cfg.node_monitor_grace_period.as_secs()},
                "nodeStartupGracePeriod_s": cfg.node_startup_grace_period.as_secs(),
                "nodeEvictionRate": cfg.node_eviction_rate,
                "secondaryNodeEvictionRate": cfg.secondary_node_eviction_rate,
                "largeClusterSizeThreshold": cfg.large_cluster_size_threshold,
                "unhealthyZoneThreshold": cfg.unhealthy_zone_threshold,
                "NodeEvictionPeriod_ms": NODE_EVICTION_PERIOD.as_millis(),
                "EvictionRateLimiterBurst": 1,
                "NodeHealthUpdateRetry": 5,
                "retrySleepTime_ms": 20,
                "defaultNotReadyTolerationSeconds": admission.default_not_ready_toleration_seconds,
                "defaultUnreachableTolerationSeconds": admission.default_unreachable_toleration_seconds,
                "podgc": {
                    "gcCheckPeriod_s": GC_CHECK_PERIOD.as_secs(),
                    "quarantineTime_s": QUARANTINE_TIME.as_secs(),
                    "terminatedPodGCThreshold": cfg.terminated_pod_gc_threshold,
                },
            })
        } else if id.starts_with("nodelifecycle.zone_state.") {
            let ready = inp["readyNodes"].as_u64().unwrap() as usize;
            let not_ready = inp["notReadyNodes"].as_u64().unwrap() as usize;
            let s = compute_zone_state(ready, not_ready, cfg.unhealthy_zone_threshold);
            serde_json::json!({"state": state_name(s)})
        } else if id == "nodelifecycle.zone_qps" {
            let qps: Vec<f32> = inp["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| match c["state"].as_str().unwrap() {
                    "all zones FullDisruption" => {
                        zone_qps(&cfg, ZoneState::FullDisruption, 10, true)
                    }
                    s => zone_qps(
                        &cfg,
                        parse_state(s),
                        c["zoneSize"].as_u64().unwrap() as usize,
                        false,
                    ),
                })
                .collect();
            serde_json::json!({ "qps": qps })
        } else {
            failures.push(format!("{id}: unhandled row"));
            continue;
        };
        // Compare numbers as f32 (the rates are float32 upstream).
        if !same(&got, want) {
            failures.push(format!("{id}: got {got}, want {want}"));
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} rows");
    assert!(failures.is_empty(), "{failures:#?}");
}

fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => (x.as_f64().unwrap() as f32) == (y.as_f64().unwrap() as f32),
        (Object(x), Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        _ => a == b,
    }
}

// ---- scenarios ----

fn at_ms(ms: u64) -> SimTime {
    SimTime::from_nanos(ms * 1_000_000)
}

fn at(s: u64) -> SimTime {
    at_ms(s * 1000)
}

fn build(yaml: &str) -> (Cluster, Buf) {
    let scenario = kubesim::scenario::load_str("nl.yaml", yaml, Path::new("."), &|_| {
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

fn events(buf: &Buf) -> Vec<serde_json::Value> {
    String::from_utf8(buf.0.borrow().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (t_ms, object) of events with `reason` whose message starts with `prefix`.
fn times(evs: &[serde_json::Value], reason: &str, prefix: &str) -> Vec<(u64, String)> {
    evs.iter()
        .filter(|e| e["reason"] == reason && e["message"].as_str().unwrap().starts_with(prefix))
        .map(|e| {
            (
                e["t_ms"].as_u64().unwrap(),
                e["object"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn node(cluster: &Cluster, name: &str) -> Node {
    match &**cluster
        .store()
        .get(&ObjectKey::new(Kind::Node, "", name))
        .unwrap()
    {
        Object::Node(n) => n.clone(),
        _ => unreachable!(),
    }
}

/// Sets `kubesim.io/node-state` on a node, as a scenario timeline would.
fn set_state(cluster: &mut Cluster, name: &str, state: &str) {
    let mut n = node(cluster, name);
    n.metadata
        .annotations
        .insert("kubesim.io/node-state".into(), state.into());
    cluster.update(Object::Node(n)).unwrap();
}

/// `timeAdded` (ms) of a node's taint, if present.
fn taint_ms(n: &Node, key: &str, effect: TaintEffect) -> Option<u64> {
    n.spec
        .taints
        .iter()
        .find(|t| t.key == key && t.effect == effect)
        .map(|t| t.time_added.unwrap().0.as_millis())
}

/// (name, node, terminating, ready) of every pod.
fn pods(cluster: &Cluster) -> Vec<(String, String, bool, bool)> {
    cluster
        .store()
        .list(Kind::Pod)
        .filter_map(|o| match &**o {
            Object::Pod(p) => Some((
                p.metadata.name.clone(),
                p.spec.node_name.clone(),
                p.metadata.deletion_timestamp.is_some(),
                p.status.conditions.iter().any(|c| {
                    c.type_ == "Ready" && c.status == kubesim::api::meta::ConditionStatus::True
                }),
            )),
            _ => None,
        })
        .collect()
}

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

const FAILURE: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: node-failure}
spec:
  seed: 3
  duration: 20m
  cluster:
    nodePools:
      - name: node
        count: 3
        template:
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  objects:
    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata: {name: web, namespace: default}
      spec:
        replicas: 6
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers:
              - name: app
                image: nginx
                resources: {requests: {cpu: 100m, memory: 64Mi}}
"#;

/// The node failure timeline, with the defaults (watch latency 10 ms, Lease renewed every
/// 10 s, monitor period 5 s, grace 50 s, 300 s default tolerations).
///
/// | what | time | why |
/// |---|---|---|
/// | kubelet registers the Lease | 0.01 s | the kubelet sees its Node one watch latency after t=0 |
/// | last renewal | 100.01 s | renewals every 10 s (§1.6: `0.25 × 40 s`); the kubelet stops at 103 s and sees it at 103.01 s |
/// | probe timestamp | 105 s | §5: refreshed when a tick sees the Lease `renewTime` advance; the first tick after 100.01 s |
/// | Ready → Unknown, `NodeNotReady` | 160 s | §5: first tick with `now > probe + 50 s` (155 s is not after 155 s) |
/// | `unreachable:NoSchedule` | 160.01 s | §5: NoSchedule pass on the node update the controller sees 10 ms later |
/// | `unreachable:NoExecute` | 165 s | §5: the next tick observes Unknown and queues the node; the 100 ms pass takes the zone's full bucket at once |
/// | pods marked for deletion | 465.01 s | §5: taint seen at 165.01 s by the taint eviction controller + `tolerationSeconds` 300 (DefaultTolerationSeconds) |
/// | replacements created | 465.02 s | the ReplicaSet controller sees the terminating pods |
/// | replacements scheduled | 465.03 s | on the other nodes (the dead one has `unreachable:NoSchedule`) |
#[test]
fn a_dead_node_goes_unknown_is_tainted_and_its_pods_are_evicted_and_replaced() {
    let (mut cluster, buf) = build(FAILURE);
    cluster.run_until(at(103)).unwrap();
    // The node with the most pods dies.
    let before = pods(&cluster);
    assert_eq!(before.len(), 6);
    assert!(before.iter().all(|p| p.3), "{before:?}");
    let dead = ["node-0", "node-1", "node-2"]
        .into_iter()
        .max_by_key(|n| before.iter().filter(|p| p.1 == *n).count())
        .unwrap();
    let victims: Vec<String> = before
        .iter()
        .filter(|p| p.1 == dead)
        .map(|p| p.0.clone())
        .collect();
    assert!(!victims.is_empty());
    set_state(&mut cluster, dead, "KubeletStopped");

    const UNKNOWN_MS: u64 = 160_000;
    const NOSCHEDULE_MS: u64 = 160_010;
    const NOEXECUTE_MS: u64 = 165_000;
    const EVICT_MS: u64 = 465_010;
    const REPLACE_MS: u64 = 465_020;
    const SCHEDULE_MS: u64 = 465_030;

    cluster.run_until(at_ms(UNKNOWN_MS - 1)).unwrap();
    assert!(node(&cluster, dead).is_ready(), "still Ready just before");
    cluster.run_until(at(200)).unwrap();
    let n = node(&cluster, dead);
    let ready = n
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, kubesim::api::meta::ConditionStatus::Unknown);
    assert_eq!(ready.reason, "NodeStatusUnknown");
    assert_eq!(ready.message, "Kubelet stopped posting node status.");
    assert_eq!(
        ready.last_transition_time.unwrap().0.as_millis(),
        UNKNOWN_MS
    );
    assert_eq!(
        taint_ms(&n, UNREACHABLE, TaintEffect::NoSchedule),
        Some(NOSCHEDULE_MS)
    );
    assert_eq!(
        taint_ms(&n, UNREACHABLE, TaintEffect::NoExecute),
        Some(NOEXECUTE_MS)
    );
    // The dead node's pods are not Ready any more, and not yet evicted.
    for p in pods(&cluster).iter().filter(|p| p.1 == dead) {
        assert!(!p.3 && !p.2, "{p:?}");
    }

    cluster.run_until(at(600)).unwrap();
    let evs = events(&buf);
    let node_ref = format!("Node/{dead}");
    assert_eq!(
        times(&evs, "NodeNotReady", "Node node-"),
        vec![(UNKNOWN_MS, node_ref.clone())]
    );
    let mut pod_not_ready = times(&evs, "NodeNotReady", "Node is not ready");
    pod_not_ready.sort();
    let mut want: Vec<(u64, String)> = victims
        .iter()
        .map(|v| (UNKNOWN_MS, format!("Pod/default/{v}")))
        .collect();
    want.sort();
    assert_eq!(pod_not_ready, want);
    let mut marked = times(&evs, "TaintManagerEviction", "Marking for deletion Pod");
    marked.sort();
    let want: Vec<(u64, String)> = want.iter().map(|(_, o)| (EVICT_MS, o.clone())).collect();
    assert_eq!(marked, want);
    let replaced = times(&evs, "SuccessfulCreate", "Created pod");
    assert_eq!(replaced.len(), 6 + victims.len());
    assert!(
        replaced[6..].iter().all(|(t, _)| *t == REPLACE_MS),
        "{replaced:?}"
    );
    let scheduled: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|e| e["reason"] == "Scheduled" && e["t_ms"] == SCHEDULE_MS)
        .collect();
    assert_eq!(scheduled.len(), victims.len());
    for e in scheduled {
        assert!(
            !e["message"].as_str().unwrap().ends_with(dead),
            "rescheduled onto the dead node: {e}"
        );
    }
    // The evicted pods carry DisruptionTarget and stay Terminating (their kubelet is gone).
    for v in &victims {
        let Object::Pod(p) = &**cluster
            .store()
            .get(&ObjectKey::new(Kind::Pod, "default", v.clone()))
            .unwrap()
        else {
            unreachable!()
        };
        assert!(p.metadata.deletion_timestamp.is_some());
        let dt = p
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "DisruptionTarget")
            .expect("DisruptionTarget");
        assert_eq!(dt.reason, "DeletionByTaintManager");
    }
    // Full availability on the other nodes.
    let live: Vec<_> = pods(&cluster).into_iter().filter(|p| !p.2).collect();
    assert_eq!(live.len(), 6, "{live:?}");
    assert!(live.iter().all(|p| p.3 && p.1 != dead), "{live:?}");
    let Object::ReplicaSet(rs) = &**cluster
        .store()
        .get(&ObjectKey::new(Kind::ReplicaSet, "default", "web"))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(rs.status.available_replicas, 6);
}

/// Back before the 300 s: the kubelet posts Ready at 200.01 s, the next tick (205 s) removes
/// the NoExecute taint, and the pending deletions are cancelled (§5: Ready True ⇒ taints
/// removed; taint eviction cancels when the taint goes).
#[test]
fn a_node_back_before_the_tolerations_expire_keeps_its_pods() {
    let (mut cluster, buf) = build(FAILURE);
    cluster.run_until(at(103)).unwrap();
    let on0: Vec<String> = pods(&cluster)
        .into_iter()
        .filter(|p| p.1 == "node-0")
        .map(|p| p.0)
        .collect();
    set_state(&mut cluster, "node-0", "KubeletStopped");
    cluster.run_until(at(200)).unwrap();
    assert!(
        taint_ms(
            &node(&cluster, "node-0"),
            UNREACHABLE,
            TaintEffect::NoExecute
        )
        .is_some()
    );
    set_state(&mut cluster, "node-0", "Running");
    cluster.run_until(at(700)).unwrap();
    let n = node(&cluster, "node-0");
    assert!(n.is_ready());
    assert!(n.spec.taints.is_empty(), "{:?}", n.spec.taints);
    let evs = events(&buf);
    let mut cancelled = times(&evs, "TaintManagerEviction", "Cancelling deletion of Pod");
    cancelled.sort();
    let mut want: Vec<(u64, String)> = on0
        .iter()
        .map(|p| (205_010, format!("Pod/default/{p}")))
        .collect();
    want.sort();
    assert_eq!(cancelled, want);
    assert!(times(&evs, "TaintManagerEviction", "Marking").is_empty());
}

const ZONES: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: zones}
spec:
  seed: 3
  duration: 20m
  cluster:
    nodePools:
      - name: node
        count: 12
        zones: [a, b, c]
        template:
          status:
            capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  objects:
"#;

/// One pod per zone-a node, tolerating `unreachable:NoExecute` for 1 s.
fn zone_a_pods() -> String {
    let mut s = String::from(ZONES);
    for i in [0, 3, 6, 9] {
        s.push_str(&format!(
            r#"    - apiVersion: v1
      kind: Pod
      metadata: {{name: p{i}, namespace: default}}
      spec:
        nodeName: node-{i}
        tolerations:
          - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}}
        containers: [{{name: app, image: nginx}}]
"#
        ));
    }
    s
}

/// Losing zone a (4 of 12 nodes): zone a is in FullDisruption, b and c Normal, so zone a is
/// tainted at the primary rate, 0.1 nodes/s: one node at 165 s (full bucket), then one every
/// 10 s (§5). Each pod goes 1 s + 10 ms after its node's taint.
#[test]
fn losing_one_zone_of_three_taints_its_nodes_ten_seconds_apart() {
    let (mut cluster, buf) = build(&zone_a_pods());
    cluster.run_until(at(103)).unwrap();
    for i in [0, 3, 6, 9] {
        set_state(&mut cluster, &format!("node-{i}"), "KubeletStopped");
    }
    cluster.run_until(at(400)).unwrap();
    let mut tainted: Vec<u64> = [0, 3, 6, 9]
        .iter()
        .map(|i| {
            taint_ms(
                &node(&cluster, &format!("node-{i}")),
                UNREACHABLE,
                TaintEffect::NoExecute,
            )
            .expect("tainted")
        })
        .collect();
    tainted.sort();
    assert_eq!(tainted, vec![165_000, 175_000, 185_000, 195_000]);
    let evs = events(&buf);
    let mut marked: Vec<u64> = times(&evs, "TaintManagerEviction", "Marking")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    marked.sort();
    assert_eq!(marked, vec![166_010, 176_010, 186_010, 196_010]);
    // Zones b and c are untouched.
    for i in [1, 2, 4, 5, 7, 8, 10, 11] {
        let n = node(&cluster, &format!("node-{i}"));
        assert!(n.is_ready() && n.spec.taints.is_empty(), "node-{i}");
    }
}

/// Every zone down (FullDisruption everywhere): the controller stops tainting and evicts
/// nothing, as upstream (§5: all zones Full ⇒ QPS 0 and all NoExecute taints removed).
#[test]
fn when_every_zone_is_down_nothing_is_evicted() {
    let (mut cluster, buf) = build(&zone_a_pods());
    cluster.run_until(at(103)).unwrap();
    for i in 0..12 {
        set_state(&mut cluster, &format!("node-{i}"), "KubeletStopped");
    }
    cluster.run_until(at(900)).unwrap();
    let evs = events(&buf);
    assert_eq!(times(&evs, "NodeNotReady", "Node node-").len(), 12);
    for i in 0..12 {
        let n = node(&cluster, &format!("node-{i}"));
        assert!(!n.is_ready());
        assert_eq!(taint_ms(&n, UNREACHABLE, TaintEffect::NoExecute), None);
        assert!(taint_ms(&n, UNREACHABLE, TaintEffect::NoSchedule).is_some());
    }
    assert!(times(&evs, "TaintManagerEviction", "").is_empty());
    assert!(pods(&cluster).iter().all(|p| !p.2));
}

/// Pod GC: pods bound to a deleted node are quarantined for 40 s from the first 20 s tick
/// that sees them (40 s), then marked Failed and force-deleted (80 s).
#[test]
fn pods_of_a_deleted_node_are_collected_after_the_quarantine() {
    let (mut cluster, buf) = build(FAILURE);
    cluster.run_until(at(30)).unwrap();
    let on0: Vec<String> = pods(&cluster)
        .into_iter()
        .filter(|p| p.1 == "node-0")
        .map(|p| p.0)
        .collect();
    assert!(!on0.is_empty());
    cluster
        .delete(
            &ObjectKey::new(Kind::Node, "", "node-0"),
            &Default::default(),
        )
        .unwrap();
    cluster.run_until(at_ms(79_999)).unwrap();
    assert!(pods(&cluster).iter().any(|p| p.1 == "node-0"));
    cluster.run_until(at(80)).unwrap();
    let left = pods(&cluster);
    assert!(left.iter().all(|p| p.1 != "node-0"), "{left:?}");
    cluster.run_until(at(120)).unwrap();
    let live: Vec<_> = pods(&cluster).into_iter().filter(|p| p.3).collect();
    assert_eq!(live.len(), 6, "replaced: {live:?}");
    assert_eq!(
        times(&events(&buf), "RemovingNode", "Removing Node node-0"),
        vec![(35_000, "Node/node-0".to_string())]
    );
}

/// Cordon: `spec.unschedulable` brings `node.kubernetes.io/unschedulable:NoSchedule` with
/// the node update; uncordon takes it away.
#[test]
fn cordoning_taints_the_node_unschedulable_and_uncordoning_lifts_it() {
    let (mut cluster, _) = build(FAILURE);
    cluster.run_until(at(10)).unwrap();
    let mut n = node(&cluster, "node-1");
    n.spec.unschedulable = true;
    cluster.update(Object::Node(n)).unwrap();
    cluster.run_until(at(11)).unwrap();
    let key = "node.kubernetes.io/unschedulable";
    assert_eq!(
        taint_ms(&node(&cluster, "node-1"), key, TaintEffect::NoSchedule),
        Some(10_010)
    );
    let mut n = node(&cluster, "node-1");
    n.spec.unschedulable = false;
    cluster.update(Object::Node(n)).unwrap();
    cluster.run_until(at(12)).unwrap();
    assert!(node(&cluster, "node-1").spec.taints.is_empty());
}

/// DefaultTolerationSeconds: pods get 300 s tolerations for not-ready and unreachable
/// unless they tolerate them already (an empty key with Exists tolerates everything).
#[test]
fn new_pods_get_default_tolerations_unless_they_have_their_own() {
    let yaml = format!(
        "{}{}",
        ZONES,
        r#"    - apiVersion: v1
      kind: Pod
      metadata: {name: plain}
      spec: {containers: [{name: app, image: nginx}]}
    - apiVersion: v1
      kind: Pod
      metadata: {name: own}
      spec:
        tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 7}]
        containers: [{name: app, image: nginx}]
    - apiVersion: v1
      kind: Pod
      metadata: {name: all}
      spec:
        tolerations: [{operator: Exists}]
        containers: [{name: app, image: nginx}]
"#
    );
    let (cluster, _) = build(&yaml);
    let tols = |name: &str| -> Vec<(String, Option<i64>)> {
        let Object::Pod(p) = &**cluster
            .store()
            .get(&ObjectKey::new(Kind::Pod, "default", name))
            .unwrap()
        else {
            unreachable!()
        };
        p.spec
            .tolerations
            .iter()
            .map(|t| (t.key.clone(), t.toleration_seconds))
            .collect()
    };
    let nr = "node.kubernetes.io/not-ready".to_string();
    let ur = UNREACHABLE.to_string();
    assert_eq!(
        tols("plain"),
        vec![(nr.clone(), Some(300)), (ur.clone(), Some(300))]
    );
    assert_eq!(tols("own"), vec![(ur, Some(7)), (nr, Some(300))]);
    assert_eq!(tols("all"), vec![(String::new(), None)]);
}

#[test]
fn controller_settings_are_read_and_checked() {
    let yaml = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: cfg}
spec:
  api: {defaultUnreachableTolerationSeconds: 30}
  controllers:
    nodeMonitorGracePeriod: 40s
    nodeEvictionRate: 0.5
    terminatedPodGCThreshold: 10
"#;
    let s = kubesim::scenario::load_str("c.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap();
    assert_eq!(
        s.controllers.node_monitor_grace_period,
        SimDuration::from_secs(40)
    );
    assert_eq!(s.controllers.node_eviction_rate, 0.5);
    assert_eq!(s.controllers.terminated_pod_gc_threshold, 10);
    assert_eq!(
        s.config.admission.default_unreachable_toleration_seconds,
        30
    );
    let bad = yaml.replace("nodeMonitorGracePeriod: 40s", "nodeMonitorGracePeriod: 0s");
    let err = kubesim::scenario::load_str("c.yaml", &bad, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.controllers.nodeMonitorGracePeriod"),
        "{err}"
    );
}

/// Engine events of an idle cluster of `nodes` nodes run for `hours` with every component.
fn idle_events(nodes: u32, hours: u64) -> u64 {
    let yaml = format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: idle}}
spec:
  duration: {hours}h
  cluster:
    nodePools:
      - {{name: n, count: {nodes}, zones: [a, b], template: {{status: {{capacity: {{cpu: \"4\", memory: 32Gi}}}}}}}}
"
    );
    let (mut cluster, _) = build(&yaml);
    cluster.run().unwrap();
    assert!(
        cluster
            .store()
            .list(Kind::Node)
            .all(|n| matches!(&**n, Object::Node(n) if n.is_ready() && n.spec.taints.is_empty()))
    );
    cluster.engine().handled()
}

/// Healthy nodes cost nothing per monitor tick: the extra engine events of five more idle
/// hours (monitor ticks every 5 s, pod GC ticks every 20 s) do not depend on the node count.
#[test]
fn idle_hours_cost_the_same_for_100_and_400_healthy_nodes() {
    let small = idle_events(100, 6) - idle_events(100, 1);
    let large = idle_events(400, 6) - idle_events(400, 1);
    assert_eq!(small, large);
    assert_eq!(small, 5 * 3600 / 5 + 5 * 3600 / 20);
}

/// A small zone in PartialDisruption (3 of 4 not Ready: more than 2 and 0.75 ≥ 0.55) taints
/// nothing: its rate is 0 for zones of 50 nodes or fewer (§5, `ReducedQPSFunc`).
#[test]
fn a_small_zone_in_partial_disruption_is_not_tainted() {
    let (mut cluster, buf) = build(&zone_a_pods());
    cluster.run_until(at(103)).unwrap();
    for i in [0, 3, 6] {
        set_state(&mut cluster, &format!("node-{i}"), "KubeletStopped");
    }
    cluster.run_until(at(600)).unwrap();
    for i in [0, 3, 6] {
        let n = node(&cluster, &format!("node-{i}"));
        assert!(!n.is_ready(), "node-{i} is Unknown");
        assert_eq!(taint_ms(&n, UNREACHABLE, TaintEffect::NoExecute), None);
    }
    assert!(times(&events(&buf), "TaintManagerEviction", "").is_empty());
}

/// A node that never posted a Ready condition gets the 60 s startup grace, counted from its
/// creation (§5: `NodeStatusNeverUpdated`): Unknown at the first tick after 60 s, 65 s.
#[test]
fn a_node_that_never_posted_status_goes_unknown_after_the_startup_grace() {
    let yaml = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: never}
spec:
  duration: 2m
  cluster:
    nodes:
      - metadata:
          name: silent
          annotations: {kubesim.io/node-state: KubeletStopped}
        status: {capacity: {cpu: "4", memory: 16Gi}}
      - metadata: {name: alive}
        status: {capacity: {cpu: "4", memory: 16Gi}}
"#;
    let (mut cluster, _) = build(yaml);
    cluster.run_until(at_ms(64_999)).unwrap();
    assert!(node(&cluster, "silent").status.conditions.is_empty());
    cluster.run().unwrap();
    let n = node(&cluster, "silent");
    let kinds: Vec<(&str, &str, u64)> = n
        .status
        .conditions
        .iter()
        .map(|c| {
            assert_eq!(c.status, kubesim::api::meta::ConditionStatus::Unknown);
            (
                c.type_.as_str(),
                c.reason.as_str(),
                c.last_transition_time.unwrap().0.as_millis(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Ready", "NodeStatusNeverUpdated", 65_000),
            ("MemoryPressure", "NodeStatusNeverUpdated", 65_000),
            ("DiskPressure", "NodeStatusNeverUpdated", 65_000),
            ("PIDPressure", "NodeStatusNeverUpdated", 65_000),
        ]
    );
    // The node whose kubelet renews its Lease keeps no conditions of the controller's.
    assert!(node(&cluster, "alive").status.conditions.is_empty());
}

/// Pod GC keeps `terminatedPodGCThreshold` terminated pods and deletes the rest, oldest
/// first (equal creation times: by name), at the first 20 s tick after they finished.
#[test]
fn terminated_pods_above_the_threshold_are_collected_oldest_first() {
    let mut yaml = String::from(
        r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: gc}
spec:
  duration: 1m
  controllers: {terminatedPodGCThreshold: 2}
  behaviors:
    - {name: done, selector: {matchLabels: {app: job}}, exitAfter: 5s}
  cluster:
    nodePools:
      - {name: node, count: 1, template: {status: {capacity: {cpu: "4", memory: 16Gi, pods: "110"}}}}
  objects:
"#,
    );
    for i in 0..4 {
        yaml.push_str(&format!(
            "    - {{apiVersion: v1, kind: Pod, metadata: {{name: p{i}, labels: {{app: job}}}}, spec: {{restartPolicy: Never, containers: [{{name: c, image: busybox}}]}}}}\n"
        ));
    }
    let (mut cluster, _) = build(&yaml);
    cluster.run_until(at_ms(19_999)).unwrap();
    assert_eq!(pods(&cluster).len(), 4);
    cluster.run_until(at(20)).unwrap();
    let left: Vec<String> = pods(&cluster).into_iter().map(|p| p.0).collect();
    assert_eq!(left, ["p2", "p3"]);
}

/// A user's NoExecute taint: a pod that does not tolerate it goes at once, one tolerating it
/// for 30 s goes 30 s after the controller saw the taint, one tolerating it forever stays
/// (§5, taint eviction).
#[test]
fn a_no_execute_taint_evicts_by_toleration() {
    let mut yaml = String::from(
        r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: noexec}
spec:
  duration: 2m
  cluster:
    nodePools:
      - {name: node, count: 1, template: {status: {capacity: {cpu: "4", memory: 16Gi, pods: "110"}}}}
  objects:
"#,
    );
    for (name, tol) in [
        ("none", ""),
        (
            "thirty",
            "tolerations: [{key: dedicated, operator: Exists, effect: NoExecute, tolerationSeconds: 30}], ",
        ),
        (
            "forever",
            "tolerations: [{key: dedicated, operator: Exists, effect: NoExecute}], ",
        ),
    ] {
        yaml.push_str(&format!(
            "    - {{apiVersion: v1, kind: Pod, metadata: {{name: {name}}}, spec: {{nodeName: node-0, {tol}containers: [{{name: c, image: nginx}}]}}}}\n"
        ));
    }
    let (mut cluster, buf) = build(&yaml);
    cluster.run_until(at(10)).unwrap();
    let mut n = node(&cluster, "node-0");
    n.spec.taints.push(kubesim::api::objects::node::Taint {
        key: "dedicated".into(),
        value: String::new(),
        effect: TaintEffect::NoExecute,
        time_added: None,
    });
    cluster.update(Object::Node(n)).unwrap();
    cluster.run().unwrap();
    let marked = times(
        &events(&buf),
        "TaintManagerEviction",
        "Marking for deletion",
    );
    assert_eq!(
        marked,
        [
            (10_010, "Pod/default/none".to_string()),
            (40_010, "Pod/default/thirty".to_string())
        ]
    );
    let left: Vec<String> = pods(&cluster).into_iter().map(|p| p.0).collect();
    assert_eq!(left, ["forever"]);
}

/// Out-of-service: a dead node (Unknown since 160 s) tainted
/// `node.kubernetes.io/out-of-service:NoExecute` at 170 s. Its pods do not tolerate the
/// taint, so the taint eviction controller deletes them at once (170.01 s); they stay
/// Terminating (no kubelet) until the pod GC tick at 180 s force-deletes them (§5, pod GC).
#[test]
fn terminating_pods_on_an_out_of_service_node_are_force_deleted() {
    let (mut cluster, _) = build(FAILURE);
    cluster.run_until(at(103)).unwrap();
    set_state(&mut cluster, "node-0", "KubeletStopped");
    cluster.run_until(at(170)).unwrap();
    assert!(!node(&cluster, "node-0").is_ready());
    let on0 = |c: &Cluster| -> Vec<(String, bool)> {
        pods(c)
            .into_iter()
            .filter(|p| p.1 == "node-0")
            .map(|p| (p.0, p.2))
            .collect()
    };
    let before = on0(&cluster);
    assert!(!before.is_empty());
    let mut n = node(&cluster, "node-0");
    n.spec.taints.push(kubesim::api::objects::node::Taint {
        key: "node.kubernetes.io/out-of-service".into(),
        value: "nodeshutdown".into(),
        effect: TaintEffect::NoExecute,
        time_added: None,
    });
    cluster.update(Object::Node(n)).unwrap();
    cluster.run_until(at_ms(179_999)).unwrap();
    let terminating = on0(&cluster);
    assert_eq!(terminating.len(), before.len());
    assert!(terminating.iter().all(|p| p.1), "{terminating:?}");
    cluster.run_until(at(180)).unwrap();
    assert!(on0(&cluster).is_empty());
}
