//! Scheduling behaviour on whole scenarios: scenario in, events.jsonl out.

mod common;

use common::{run_yaml, stderr};

const HEADER: &str =
    "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: t}\nspec:\n  duration: 1m\n";

fn events(run: &common::Run) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.out.join("events.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn pods(prefix: &str, count: usize, cpu: &str, extra: &str) -> String {
    (0..count)
        .map(|i| {
            format!(
                "    - {{apiVersion: v1, kind: Pod, metadata: {{name: {prefix}-{i}, labels: {{app: {prefix}}}}}, spec: {{{extra}containers: [{{name: c, image: app:1, resources: {{requests: {{cpu: {cpu}, memory: 256Mi}}}}}}]}}}}\n"
            )
        })
        .collect()
}

fn pool(count: usize, cpu: &str) -> String {
    format!(
        "  cluster:\n    nodePools:\n      - {{name: n, count: {count}, zones: [a, b, c], template: {{status: {{capacity: {{cpu: \"{cpu}\", memory: 32Gi, pods: \"110\"}}}}}}}}\n"
    )
}

fn nodes_used(run: &common::Run) -> std::collections::BTreeSet<String> {
    events(run)
        .iter()
        .filter(|e| e["reason"] == "Scheduled")
        .map(|e| e["node"].as_str().unwrap().to_string())
        .collect()
}

fn strategy(kind: &str) -> String {
    format!(
        "  scheduler:\n    apiVersion: kubescheduler.config.k8s.io/v1\n    kind: KubeSchedulerConfiguration\n    profiles:\n      - pluginConfig:\n          - name: NodeResourcesFit\n            args: {{scoringStrategy: {{type: {kind}}}}}\n"
    )
}

#[test]
fn most_allocated_packs_onto_fewer_nodes_than_least_allocated() {
    let body = |kind: &str| {
        format!(
            "{HEADER}{}{}  objects:\n{}",
            pool(10, "8"),
            strategy(kind),
            pods("w", 12, "1", "")
        )
    };
    let most = run_yaml("most.yaml", &body("MostAllocated"));
    assert_eq!(
        most.output.status.code(),
        Some(0),
        "{}",
        stderr(&most.output)
    );
    let least = run_yaml("least.yaml", &body("LeastAllocated"));
    assert_eq!(
        least.output.status.code(),
        Some(0),
        "{}",
        stderr(&least.output)
    );
    let (m, l) = (nodes_used(&most), nodes_used(&least));
    // 12 one-CPU pods: packing fills 8-CPU nodes (2 nodes); spreading uses all 10.
    assert_eq!(m.len(), 2, "MostAllocated used {m:?}");
    assert_eq!(l.len(), 10, "LeastAllocated used {l:?}");
}

#[test]
fn failed_scheduling_messages_have_upstreams_shape() {
    let body = format!(
        "{HEADER}  cluster:\n    nodes:\n{}  objects:\n{}",
        [("small-1", ""), ("small-2", ""), ("gpu", ", taints: [{key: dedicated, value: gpu, effect: NoSchedule}]")]
            .iter()
            .map(|(n, t)| format!("      - {{metadata: {{name: {n}}}, spec: {{unschedulable: false{t}}}, status: {{capacity: {{cpu: \"2\", memory: 8Gi, pods: \"110\"}}}}}}\n"))
            .collect::<String>(),
        pods("big", 1, "3", "")
    );
    let run = run_yaml("fail.yaml", &body);
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    let failed: Vec<_> = events(&run)
        .into_iter()
        .filter(|e| e["reason"] == "FailedScheduling")
        .collect();
    assert!(!failed.is_empty());
    assert_eq!(failed[0]["type"], "Warning");
    assert_eq!(failed[0]["object"], "Pod/default/big-0");
    // Insufficient cpu on nodes too small is unresolvable (request above allocatable), so
    // preemption cannot help anywhere.
    assert_eq!(
        failed[0]["message"],
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    // The pod is retried after backoff / on flush, and fails the same way: bounded retries.
    assert!(failed.len() < 10, "{} retries in a minute", failed.len());
}

#[test]
fn preemption_picks_the_node_whose_victims_violate_no_pdb() {
    let node = |n: &str| {
        format!(
            "      - {{metadata: {{name: {n}}}, status: {{capacity: {{cpu: \"2\", memory: 8Gi, pods: \"110\"}}}}}}\n"
        )
    };
    let low = |name: &str, app: &str, node: &str| {
        format!(
            "    - {{apiVersion: v1, kind: Pod, metadata: {{name: {name}, labels: {{app: {app}}}}}, spec: {{nodeName: {node}, priority: 10, containers: [{{name: c, image: app:1, resources: {{requests: {{cpu: \"1\"}}}}}}]}}}}\n"
        )
    };
    let extra = concat!(
        "    - {apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: guarded}, spec: {minAvailable: 2, selector: {matchLabels: {app: guarded}}}, status: {disruptionsAllowed: 0}}\n",
        "    - {apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: high}, value: 1000}\n",
        "    - {apiVersion: v1, kind: Pod, metadata: {name: urgent}, spec: {priorityClassName: high, containers: [{name: c, image: app:1, resources: {requests: {cpu: \"2\"}}}]}}\n",
    );
    let body = format!(
        "{HEADER}  cluster:\n    nodes:\n{}{}  objects:\n{}{}{}{}{extra}",
        node("node-a"),
        node("node-b"),
        low("guarded-1", "guarded", "node-a"),
        low("guarded-2", "guarded", "node-a"),
        low("free-1", "free", "node-b"),
        low("free-2", "free", "node-b"),
    );
    let run = run_yaml("preempt.yaml", &body);
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    let evs = events(&run);
    let preempted: Vec<(&str, &str)> = evs
        .iter()
        .filter(|e| e["reason"] == "Preempted")
        .map(|e| (e["object"].as_str().unwrap(), e["node"].as_str().unwrap()))
        .collect();
    assert_eq!(
        preempted,
        [
            ("Pod/default/free-1", "node-b"),
            ("Pod/default/free-2", "node-b")
        ],
        "{evs:#?}"
    );
    let first_failure = evs
        .iter()
        .find(|e| e["reason"] == "FailedScheduling")
        .unwrap();
    assert_eq!(
        first_failure["message"],
        "0/2 nodes are available: 2 Insufficient cpu."
    );
    // The kubelet stops the victims; once they are gone the preemptor binds to its
    // nominated node.
    let bound: Vec<&str> = evs
        .iter()
        .filter(|e| e["reason"] == "Scheduled" && e["object"] == "Pod/default/urgent")
        .map(|e| e["node"].as_str().unwrap())
        .collect();
    assert_eq!(bound, ["node-b"], "{evs:#?}");
}

#[test]
fn a_node_nominated_to_a_higher_priority_pod_is_held_for_it() {
    use kubesim::api::objects::{Kind, Object};
    use kubesim::scheduler::cache::{PodInfo, Snapshot};
    use kubesim::scheduler::config::SchedulerConfig;
    use kubesim::scheduler::cycle;
    use kubesim::scheduler::framework::{CycleContext, CycleState};
    use serde_json::json;
    use std::sync::Arc;

    let mut node = Object::from_json(
        Kind::Node,
        json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}}),
    )
    .unwrap();
    kubesim::api::defaults::apply(&mut node);
    let pod = |name: &str, prio: i32, cpu: &str| {
        let mut p = Object::from_json(
            Kind::Pod,
            json!({"metadata": {"name": name, "namespace": "default"},
                   "spec": {"priority": prio, "containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": cpu}}}]}}),
        )
        .unwrap();
        kubesim::api::defaults::apply(&mut p);
        Arc::new(PodInfo::new(Arc::new(p)).unwrap())
    };
    let mut snapshot = Snapshot::default();
    snapshot.upsert_node(Arc::new(node));
    snapshot.set_nominated(pod("preemptor", 100, "2"), "n");
    let config = SchedulerConfig::default_config();
    let profile = config.profile("default-scheduler").unwrap();
    let fits = |snapshot: &Snapshot, incoming: &Arc<PodInfo>| {
        let cx = CycleContext {
            pod: incoming.pod(),
            info: incoming,
            snapshot,
        };
        let mut state = CycleState::default();
        cycle::pre_filter(profile, &cx, &mut state).unwrap();
        cycle::filter_with_nominated(profile, &cx, &state, snapshot.at(0)).is_success()
    };
    assert!(
        !fits(&snapshot, &pod("lower", 10, "1")),
        "a lower-priority pod must not take the nominated space"
    );
    assert!(
        fits(&snapshot, &pod("higher", 200, "1")),
        "a higher-priority pod ignores the nomination"
    );
    snapshot.clear_nominated(&kubesim::api::ObjectKey::new(
        Kind::Pod,
        "default",
        "preemptor",
    ));
    assert!(fits(&snapshot, &pod("lower", 10, "1")));
}

/// PodTopologySpread's memoized domain counts stay equal to a plain recount while pods are
/// added, moved, marked terminating and removed on random clusters.
#[test]
fn memoized_spread_counts_match_a_plain_recount() {
    use kubesim::api::objects::{Kind, Object};
    use kubesim::api::{ObjectKey, Selector};
    use kubesim::scheduler::cache::{PodInfo, Snapshot};
    use rand::RngExt;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Arc;

    let recount = |s: &Snapshot, ns: &str, sel: &Selector, key: &str| {
        let mut m: HashMap<String, i64> = HashMap::new();
        for n in s.nodes() {
            let Some(v) = n.labels().get(key) else {
                continue;
            };
            let c = n
                .pods
                .iter()
                .filter(|p| {
                    let p = p.pod();
                    p.metadata.deletion_timestamp.is_none()
                        && p.metadata.namespace == ns
                        && sel.matches(&p.metadata.labels)
                })
                .count() as i64;
            *m.entry(v.clone()).or_insert(0) += c;
        }
        m
    };
    for seed in 0..20u64 {
        let mut rng = kubesim::sim::RngFactory::new(seed).stream("memo-test");
        let mut s = Snapshot::default();
        let nodes = rng.random_range(1..12usize);
        for i in 0..nodes {
            let zone = ["a", "b", "c", ""][rng.random_range(0..4usize)];
            let labels = if zone.is_empty() {
                json!({})
            } else {
                json!({"zone": zone})
            };
            let n = Object::from_json(
                Kind::Node,
                json!({"metadata": {"name": format!("n{i}"), "labels": labels}}),
            )
            .unwrap();
            s.upsert_node(Arc::new(n));
        }
        let sel = Selector::parse("app=web").unwrap();
        let keys = vec!["zone".to_string()];
        let query = |s: &Snapshot| {
            s.spread_counts(&query_of(&sel, &keys), || {
                recount(s, "default", &sel, "zone")
            })
        };
        assert_eq!(*query(&s), recount(&s, "default", &sel, "zone"));
        for step in 0..60 {
            let name = format!("p{}", rng.random_range(0..15u32));
            if rng.random_range(0..4u32) == 0 {
                s.remove_pod(&ObjectKey::new(
                    Kind::Pod,
                    ["default", "other"][rng.random_range(0..2usize)],
                    name,
                ));
            } else {
                let ns = ["default", "other"][rng.random_range(0..2usize)];
                let app = ["web", "db"][rng.random_range(0..2usize)];
                let mut meta = json!({"name": name, "namespace": ns, "labels": {"app": app}});
                if rng.random_range(0..5u32) == 0 {
                    meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
                }
                let p = Object::from_json(Kind::Pod, json!({"metadata": meta, "spec": {"containers": [{"name": "c", "image": "x"}]}})).unwrap();
                let node = format!("n{}", rng.random_range(0..nodes));
                s.add_pod(Arc::new(PodInfo::new(Arc::new(p)).unwrap()), &node);
            }
            let memo = s.spread_counts(&query_of(&sel, &keys), || {
                panic!("seed {seed} step {step}: memo dropped")
            });
            assert_eq!(
                *memo,
                recount(&s, "default", &sel, "zone"),
                "seed {seed} step {step}"
            );
        }
    }
}

/// Zone and host skew of the bound pods of a Deployment's scenario, read from the store
/// after the run: (max − min pods per zone, max − min pods per node), over every node.
fn deployment_skews(disable_spread: bool) -> (usize, usize, usize) {
    let scheduler = if disable_spread {
        "  scheduler:\n    apiVersion: kubescheduler.config.k8s.io/v1\n    profiles:\n      - plugins:\n          score: {disabled: [{name: PodTopologySpread}]}\n"
    } else {
        ""
    };
    // Five nodes in zone a, two each in b and c: spreading by resources alone puts more
    // than half of the replicas in zone a.
    let text = format!(
        "{HEADER}  cluster:\n    nodePools:\n      - {{name: a, count: 5, zones: [a], template: {{status: {{capacity: {{cpu: \"16\", memory: 64Gi, pods: \"110\"}}}}}}}}\n      - {{name: bc, count: 4, zones: [b, c], template: {{status: {{capacity: {{cpu: \"16\", memory: 64Gi, pods: \"110\"}}}}}}}}\n{scheduler}  objects:\n    - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: web}}, spec: {{replicas: 36, selector: {{matchLabels: {{app: web}}}}, template: {{metadata: {{labels: {{app: web}}}}, spec: {{containers: [{{name: c, image: web:1, resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}}}]}}}}}}}}\n"
    );
    let sc = kubesim::scenario::load_str("spread.yaml", &text, std::path::Path::new("."), &|p| {
        std::fs::read_to_string(p)
    })
    .expect("scenario loads");
    let mut cluster =
        kubesim::setup::build(&sc, Box::new(std::io::sink()), Box::new(std::io::sink()))
            .expect("builds");
    cluster.run().expect("within limits");
    use kubesim::api::objects::{Kind, Object};
    let mut zone_of = std::collections::BTreeMap::new();
    for o in cluster.store().list(Kind::Node) {
        let zone = o
            .meta()
            .labels
            .get("topology.kubernetes.io/zone")
            .cloned()
            .unwrap_or_default();
        zone_of.insert(o.meta().name.clone(), zone);
    }
    let mut per_node: std::collections::BTreeMap<String, usize> =
        zone_of.keys().map(|n| (n.clone(), 0)).collect();
    let mut per_zone: std::collections::BTreeMap<String, usize> =
        zone_of.values().map(|z| (z.clone(), 0)).collect();
    let mut bound = 0;
    for o in cluster.store().list(Kind::Pod) {
        if let Object::Pod(p) = &**o
            && !p.spec.node_name.is_empty()
        {
            bound += 1;
            *per_node.get_mut(&p.spec.node_name).expect("a known node") += 1;
            *per_zone
                .get_mut(&zone_of[&p.spec.node_name])
                .expect("a known zone") += 1;
        }
    }
    let skew = |m: &std::collections::BTreeMap<String, usize>| {
        m.values().max().unwrap() - m.values().min().unwrap()
    };
    (bound, skew(&per_zone), skew(&per_node))
}

/// The system default constraints (`pkg/scheduler/apis/config/v1/default_plugins.go`,
/// PodTopologySpreadArgs `defaultingType: System`): hostname maxSkew 3 and zone maxSkew 5,
/// both ScheduleAnyway. A 36-replica Deployment on 5 + 2 + 2 nodes stays within them;
/// without PodTopologySpread's scoring, resource spreading alone leaves zone a with more
/// than its share (the control that shows the test can fail).
#[test]
fn system_default_spreading_keeps_a_three_zone_deployment_within_its_skew() {
    let (bound, zone_skew, node_skew) = deployment_skews(false);
    assert_eq!(bound, 36);
    assert!(zone_skew <= 5, "zone skew {zone_skew} > 5");
    assert!(node_skew <= 3, "node skew {node_skew} > 3");
    let (bound, zone_skew, _) = deployment_skews(true);
    assert_eq!(bound, 36);
    assert!(
        zone_skew > 5,
        "without spreading the zone skew is {zone_skew}"
    );
}

/// The spread memo query of the test above: pods of `default` matching `sel`, by zone.
fn query_of<'a>(
    sel: &'a kubesim::api::Selector,
    keys: &'a [String],
) -> kubesim::scheduler::spread_memo::SpreadQuery<'a> {
    kubesim::scheduler::spread_memo::SpreadQuery {
        namespace: "default",
        selector: sel,
        key: "zone",
        required_keys: keys,
        sparse: false,
    }
}
