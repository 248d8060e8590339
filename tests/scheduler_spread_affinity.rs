//! PodTopologySpread and InterPodAffinity through the public scheduler API.
//!
//! - The upstream vector rows of `../shared/reference/vectors/scheduler.json` (or
//!   `$KUBESIM_REFERENCE/vectors/scheduler.json`): every `PodTopologySpread` score and filter
//!   row, and the `full default scheduler (PodTopologySpread + NodeAffinity ...)` schedule rows.
//! - Hand-made InterPodAffinity cases (upstream semantics, no vector file rows).
//! - Both plugins compared with a naive recomputation on random clusters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use kubesim::api::objects::{Kind, Object};
use kubesim::scheduler::cache::{NodeInfo, PodInfo, Snapshot};
use kubesim::scheduler::config::SchedulerConfig;
use kubesim::scheduler::explain::explain;
use kubesim::scheduler::framework::{Code, CycleContext, CycleState, Plugin};
use kubesim::scheduler::plugins;

fn vectors() -> Option<Value> {
    let path = std::env::var_os("KUBESIM_REFERENCE")
        .map(|d| PathBuf::from(d).join("vectors/scheduler.json"))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/vectors/scheduler.json")
        });
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("scheduler.json is JSON")),
        Err(_) => {
            println!("skipping: {} not found", path.display());
            None
        }
    }
}

fn obj(kind: Kind, v: Value) -> Arc<Object> {
    Arc::new(Object::from_json(kind, v).expect("a valid object"))
}

fn node_obj(n: &Value) -> Arc<Object> {
    obj(
        Kind::Node,
        json!({
            "metadata": {"name": n["name"], "labels": n.get("labels").cloned().unwrap_or(json!({}))},
            "spec": {"taints": n.get("taints").cloned().unwrap_or(json!([]))},
            "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"}},
        }),
    )
}

/// A vector pod as a kubesim Pod (namespace `default` unless given).
fn pod_json(p: &Value, node: Option<&str>) -> Value {
    let mut meta = json!({
        "name": p["name"],
        "namespace": p.get("namespace").cloned().unwrap_or(json!("default")),
        "labels": p.get("labels").cloned().unwrap_or(json!({})),
    });
    if p.get("terminating").and_then(Value::as_bool) == Some(true) {
        meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    }
    let mut spec = json!({
        "containers": p.get("containers").cloned().unwrap_or(json!([])),
        "schedulerName": "default-scheduler",
    });
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    if let Some(c) = p.get("topologySpreadConstraints") {
        spec["topologySpreadConstraints"] = c.clone();
    }
    if let Some(t) = p.get("tolerations") {
        spec["tolerations"] = t.clone();
    }
    if let Some(exprs) = p.get("nodeAffinityRequired") {
        spec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}});
    }
    json!({"metadata": meta, "spec": spec})
}

struct Case {
    snapshot: Snapshot,
    pod: Arc<Object>,
    info: PodInfo,
    candidates: Vec<String>,
}

fn build_case(c: &Value) -> Case {
    let mut snapshot = Snapshot::default();
    let empty = vec![];
    let nodes = c["nodes"].as_array().unwrap_or(&empty);
    let failed = c
        .get("failed_nodes")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for n in nodes.iter().chain(failed) {
        snapshot.upsert_node(node_obj(n));
    }
    for p in c["existing_pods"].as_array().unwrap_or(&empty) {
        let node = p["node"].as_str().unwrap_or_default();
        let o = obj(Kind::Pod, pod_json(p, Some(node)));
        snapshot.add_pod(Arc::new(PodInfo::new(o).expect("a pod")), node);
    }
    for (i, s) in c
        .get("services")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .enumerate()
    {
        let svc = obj(
            Kind::Service,
            json!({"metadata": {"name": format!("svc-{i}"), "namespace": "default"},
                   "spec": {"selector": s["selector"]}}),
        );
        snapshot.listers.upsert(&svc);
    }
    let pod = obj(Kind::Pod, pod_json(&c["incoming_pod"], None));
    let info = PodInfo::new(pod.clone()).expect("a pod");
    let candidates = nodes
        .iter()
        .map(|n| n["name"].as_str().unwrap_or_default().to_string())
        .collect();
    Case {
        snapshot,
        pod,
        info,
        candidates,
    }
}

fn the_pod(o: &Object) -> &kubesim::api::objects::pod::Pod {
    match o {
        Object::Pod(p) => p,
        _ => unreachable!(),
    }
}

/// PreScore over `candidates`, Score, NormalizeScore: node -> normalized score.
fn run_score(
    plugin: &dyn Plugin,
    case: &Case,
    candidates: &[String],
) -> Option<BTreeMap<String, i64>> {
    let cx = CycleContext {
        pod: the_pod(&case.pod),
        info: &case.info,
        snapshot: &case.snapshot,
    };
    let mut state = CycleState::default();
    let nodes: Vec<&NodeInfo> = candidates
        .iter()
        .map(|n| case.snapshot.get(n).expect("candidate exists"))
        .collect();
    let s = plugin.pre_score(&cx, &mut state, &nodes);
    if s.is_skip() {
        return None;
    }
    assert!(s.is_success(), "PreScore: {s:?}");
    let mut scores: Vec<i64> = nodes.iter().map(|n| plugin.score(&cx, &state, n)).collect();
    plugin.normalize(&cx, &state, &mut scores);
    Some(candidates.iter().cloned().zip(scores).collect())
}

/// PreFilter, then Filter on every node: node -> code (Skip at PreFilter = all Success).
fn run_filter(plugin: &dyn Plugin, case: &Case) -> BTreeMap<String, Code> {
    let cx = CycleContext {
        pod: the_pod(&case.pod),
        info: &case.info,
        snapshot: &case.snapshot,
    };
    let mut state = CycleState::default();
    let pre = plugin.pre_filter(&cx, &mut state);
    case.snapshot
        .nodes()
        .map(|n| {
            let code = if pre.is_skip() {
                Code::Success
            } else if !pre.is_success() {
                pre.code
            } else {
                plugin.filter(&cx, &state, n).code
            };
            (n.name.clone(), code)
        })
        .collect()
}

fn spread() -> Box<dyn Plugin> {
    plugins::build("PodTopologySpread", None)
        .expect("builds")
        .expect("a plugin")
}

fn affinity() -> Box<dyn Plugin> {
    plugins::build("InterPodAffinity", None)
        .expect("builds")
        .expect("a plugin")
}

#[test]
fn pod_topology_spread_vector_rows() {
    let Some(v) = vectors() else {
        return;
    };
    let plugin = spread();
    let (mut scores, mut filters, mut schedules) = (0, 0, 0);
    let mut failures = Vec::new();
    for c in v["cases"].as_array().expect("cases") {
        let plugin_name = c["plugin"].as_str().unwrap_or_default();
        let name = c["name"].as_str().unwrap_or_default();
        let kind = c["kind"].as_str().unwrap_or_default();
        if plugin_name == "PodTopologySpread" && kind == "score" {
            let case = build_case(c);
            let got = run_score(plugin.as_ref(), &case, &case.candidates);
            let want: BTreeMap<String, i64> =
                serde_json::from_value(c["expected"]["scores"].clone()).expect("scores");
            if got.as_ref() != Some(&want) {
                failures.push(format!("score {name:?}: got {got:?}, want {want:?}"));
            }
            scores += 1;
        } else if plugin_name == "PodTopologySpread" && kind == "filter" {
            let case = build_case(c);
            let got: BTreeMap<String, String> = run_filter(plugin.as_ref(), &case)
                .into_iter()
                .map(|(n, code)| (n, format!("{code:?}")))
                .collect();
            let want: BTreeMap<String, String> =
                serde_json::from_value(c["expected"]["filter"].clone()).expect("filter");
            if got != want {
                failures.push(format!("filter {name:?}: got {got:?}, want {want:?}"));
            }
            filters += 1;
        } else if plugin_name.starts_with("full default scheduler (PodTopologySpread")
            && kind == "schedule"
        {
            let want: Vec<String> =
                serde_json::from_value(c["expected"]["node_any_of"].clone()).expect("nodes");
            let config = SchedulerConfig::default_config();
            let mut case = build_case(c);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let e = explain(&config, &mut case.snapshot, &case.pod, &mut rng).expect("explains");
            // Every top-scored feasible node must be acceptable, not only the drawn one.
            let best = e.nodes.iter().filter(|n| n.feasible).map(|n| n.total).max();
            let top: Vec<&str> = e
                .nodes
                .iter()
                .filter(|n| n.feasible && Some(n.total) == best)
                .map(|n| n.node.as_str())
                .collect();
            let ok = c["expected"]["scheduled"] == json!(true)
                && !top.is_empty()
                && top.iter().all(|n| want.iter().any(|w| w == n))
                && e.selected_node.as_ref().is_some_and(|s| want.contains(s));
            if !ok {
                failures.push(format!(
                    "schedule {name:?}: selected {:?}, top {top:?}, want any of {want:?}",
                    e.selected_node
                ));
            }
            schedules += 1;
        }
    }
    println!("PodTopologySpread rows: {scores} score, {filters} filter, {schedules} schedule");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!((scores, filters, schedules), (8, 8, 4));
}

// ---------------------------------------------------------------------------------------------
// InterPodAffinity, hand-made cases
// ---------------------------------------------------------------------------------------------

fn zone_nodes() -> Vec<Value> {
    (0..4)
        .map(|i| {
            json!({"name": format!("n{i}"), "labels": {
                "kubernetes.io/hostname": format!("n{i}"),
                "zone": format!("z{}", i / 2)}})
        })
        .collect()
}

fn affinity_case(existing: Vec<Value>, incoming: Value, namespaces: &[(&str, Value)]) -> Case {
    let mut snapshot = Snapshot::default();
    for n in zone_nodes() {
        snapshot.upsert_node(node_obj(&n));
    }
    for (name, labels) in namespaces {
        let ns = obj(
            Kind::Namespace,
            json!({"metadata": {"name": name, "labels": labels}}),
        );
        snapshot.listers.upsert(&ns);
    }
    for p in existing {
        let node = p["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let o = obj(Kind::Pod, p);
        snapshot.add_pod(Arc::new(PodInfo::new(o).expect("a pod")), &node);
    }
    let pod = obj(Kind::Pod, incoming);
    let info = PodInfo::new(pod.clone()).expect("a pod");
    let candidates = snapshot.nodes().map(|n| n.name.clone()).collect();
    Case {
        snapshot,
        pod,
        info,
        candidates,
    }
}

fn apod(name: &str, ns: &str, labels: Value, node: Option<&str>, affinity: Value) -> Value {
    let mut spec = json!({"containers": [], "affinity": affinity});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    json!({"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": spec})
}

fn term(key: &str, value: &str, topology: &str) -> Value {
    json!({"labelSelector": {"matchLabels": {key: value}}, "topologyKey": topology})
}

fn codes(m: &BTreeMap<String, Code>) -> Vec<Code> {
    m.values().copied().collect()
}

use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as UU};

#[test]
fn required_affinity_first_pod_of_a_group_and_zone_domains() {
    let aff = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("app", "web", "zone")]}});
    // No pod matches anywhere and the pod matches itself: every node passes.
    let c = affinity_case(
        vec![],
        apod("p", "default", json!({"app": "web"}), None, aff.clone()),
        &[],
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [S, S, S, S]);
    // ... but not when it does not match itself.
    let c = affinity_case(
        vec![],
        apod("p", "default", json!({"app": "db"}), None, aff.clone()),
        &[],
    );
    assert_eq!(
        codes(&run_filter(affinity().as_ref(), &c)),
        [UU, UU, UU, UU]
    );
    // A matching pod on n1 (zone z0): only z0's nodes pass.
    let c = affinity_case(
        vec![apod(
            "e",
            "default",
            json!({"app": "web"}),
            Some("n1"),
            json!({}),
        )],
        apod("p", "default", json!({"app": "db"}), None, aff.clone()),
        &[],
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [S, S, UU, UU]);
    // A matching pod in another namespace does not count (the term names none).
    let c = affinity_case(
        vec![apod(
            "e",
            "other",
            json!({"app": "web"}),
            Some("n1"),
            json!({}),
        )],
        apod("p", "default", json!({"app": "db"}), None, aff),
        &[("other", json!({}))],
    );
    assert_eq!(
        codes(&run_filter(affinity().as_ref(), &c)),
        [UU, UU, UU, UU]
    );
}

#[test]
fn required_anti_affinity_both_ways() {
    let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("app", "web", "kubernetes.io/hostname")]}});
    // The incoming pod's anti-affinity against a pod on n2.
    let c = affinity_case(
        vec![apod(
            "e",
            "default",
            json!({"app": "web"}),
            Some("n2"),
            json!({}),
        )],
        apod("p", "default", json!({"app": "web"}), None, anti.clone()),
        &[],
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [S, S, U, S]);
    // An existing pod's anti-affinity against the incoming pod, zone-wide.
    let zone_anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("app", "web", "zone")]}});
    let c = affinity_case(
        vec![apod(
            "e",
            "default",
            json!({"x": "y"}),
            Some("n3"),
            zone_anti,
        )],
        apod("p", "default", json!({"app": "web"}), None, json!({})),
        &[],
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [S, S, U, U]);
    // Nothing relevant: PreFilter skips.
    let c = affinity_case(
        vec![apod(
            "e",
            "default",
            json!({"x": "y"}),
            Some("n3"),
            json!({}),
        )],
        apod("p", "default", json!({"app": "web"}), None, json!({})),
        &[],
    );
    let cx = CycleContext {
        pod: the_pod(&c.pod),
        info: &c.info,
        snapshot: &c.snapshot,
    };
    assert!(
        affinity()
            .pre_filter(&cx, &mut CycleState::default())
            .is_skip()
    );
}

#[test]
fn namespace_selector_uses_namespace_labels() {
    let mut t = term("app", "web", "kubernetes.io/hostname");
    t["namespaceSelector"] = json!({"matchLabels": {"team": "a"}});
    let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}});
    let nss = [("ta", json!({"team": "a"})), ("tb", json!({"team": "b"}))];
    // Incoming pod's selector expands to namespace ta: the pod in ta on n0 repels, the one
    // in tb on n1 does not.
    let c = affinity_case(
        vec![
            apod("e1", "ta", json!({"app": "web"}), Some("n0"), json!({})),
            apod("e2", "tb", json!({"app": "web"}), Some("n1"), json!({})),
        ],
        apod("p", "default", json!({}), None, anti.clone()),
        &nss,
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [U, S, S, S]);
    // An existing pod's term matches the incoming pod through its namespace's labels.
    let c = affinity_case(
        vec![apod("e", "default", json!({}), Some("n2"), anti)],
        apod("p", "tb", json!({"app": "web"}), None, json!({})),
        &nss,
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [S, S, S, S]);
    let c2 = affinity_case(
        vec![apod(
            "e",
            "default",
            json!({}),
            Some("n2"),
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "web"}},
                "namespaceSelector": {"matchLabels": {"team": "a"}},
                "topologyKey": "kubernetes.io/hostname"}]}}),
        )],
        apod("p", "ta", json!({"app": "web"}), None, json!({})),
        &nss,
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c2)), [S, S, U, S]);
}

#[test]
fn match_label_keys_and_mismatch_label_keys() {
    // Anti-affinity to pods of the same app but another version, per node.
    let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
        "matchLabelKeys": ["app"], "mismatchLabelKeys": ["version"],
        "topologyKey": "kubernetes.io/hostname"}]}});
    let c = affinity_case(
        vec![
            apod(
                "same",
                "default",
                json!({"app": "a", "version": "1"}),
                Some("n0"),
                json!({}),
            ),
            apod(
                "other-version",
                "default",
                json!({"app": "a", "version": "2"}),
                Some("n1"),
                json!({}),
            ),
            apod(
                "other-app",
                "default",
                json!({"app": "b", "version": "2"}),
                Some("n2"),
                json!({}),
            ),
        ],
        apod(
            "p",
            "default",
            json!({"app": "a", "version": "1"}),
            None,
            anti,
        ),
        &[],
    );
    assert_eq!(codes(&run_filter(affinity().as_ref(), &c)), [S, U, S, S]);
}

#[test]
fn affinity_scores_sum_weights_per_domain() {
    let incoming_aff = json!({
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "podAffinityTerm": term("app", "web", "zone")}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 3, "podAffinityTerm": term("app", "web", "kubernetes.io/hostname")}]}});
    let existing_hard = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("role", "client", "kubernetes.io/hostname")]}});
    let c = affinity_case(
        vec![
            apod(
                "w0",
                "default",
                json!({"app": "web"}),
                Some("n0"),
                json!({}),
            ),
            apod("h3", "default", json!({}), Some("n3"), existing_hard),
        ],
        apod(
            "p",
            "default",
            json!({"role": "client"}),
            None,
            incoming_aff,
        ),
        &[],
    );
    // Raw: n0 = +5 (zone z0) −3 (host n0) = 2; n1 = 5; n2 = 0; n3 = +1 (hard weight).
    let plugin = affinity();
    let cx = CycleContext {
        pod: the_pod(&c.pod),
        info: &c.info,
        snapshot: &c.snapshot,
    };
    let mut state = CycleState::default();
    let nodes: Vec<&NodeInfo> = c.snapshot.nodes().collect();
    assert!(plugin.pre_score(&cx, &mut state, &nodes).is_success());
    let raw: Vec<i64> = nodes.iter().map(|n| plugin.score(&cx, &state, n)).collect();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let raw: BTreeMap<&str, i64> = names.iter().copied().zip(raw).collect();
    assert_eq!(
        raw,
        BTreeMap::from([("n0", 2), ("n1", 5), ("n2", 0), ("n3", 1)])
    );
    let got = run_score(plugin.as_ref(), &c, &c.candidates).expect("scored");
    assert_eq!(
        got,
        BTreeMap::from([
            ("n0".to_string(), 40),
            ("n1".to_string(), 100),
            ("n2".to_string(), 0),
            ("n3".to_string(), 20)
        ])
    );
    // hardPodAffinityWeight 0 drops the existing pod's required term from scoring.
    let no_hard = plugins::build(
        "InterPodAffinity",
        Some(&json!({"hardPodAffinityWeight": 0})),
    )
    .expect("builds")
    .expect("a plugin");
    let got = run_score(no_hard.as_ref(), &c, &c.candidates).expect("scored");
    assert_eq!(got["n3"], 0);
    assert_eq!(got["n0"], 40);
}

// ---------------------------------------------------------------------------------------------
// Random clusters against a naive recomputation
// ---------------------------------------------------------------------------------------------

/// Straight from the definitions: the spread filter verdict for one node.
fn naive_spread_filter(c: &Case, node: &str, key: &str, max_skew: i64, app: &str) -> Code {
    let pod = the_pod(&c.pod);
    let matches =
        |labels: &BTreeMap<String, String>| labels.get("app").map(String::as_str) == Some(app);
    let Some(value) = c
        .snapshot
        .get(node)
        .and_then(|n| n.labels().get(key).cloned())
    else {
        return Code::UnschedulableAndUnresolvable;
    };
    let mut domains: BTreeMap<String, i64> = BTreeMap::new();
    for n in c.snapshot.nodes() {
        let Some(v) = n.labels().get(key) else {
            continue;
        };
        let cnt = n
            .pods
            .iter()
            .filter(|p| {
                let p = p.pod();
                p.metadata.namespace == pod.metadata.namespace
                    && p.metadata.deletion_timestamp.is_none()
                    && matches(&p.metadata.labels)
            })
            .count() as i64;
        *domains.entry(v.clone()).or_insert(0) += cnt;
    }
    let min = domains.values().copied().min().unwrap_or(0);
    let own = i64::from(matches(&pod.metadata.labels));
    if domains.get(&value).copied().unwrap_or(0) + own - min > max_skew {
        Code::Unschedulable
    } else {
        Code::Success
    }
}

/// Straight from the definitions: anti-affinity both ways, by hostname or zone.
fn naive_anti_filter(c: &Case, node: &str, key: &str, app: &str) -> Code {
    let pod = the_pod(&c.pod);
    let Some(target) = c.snapshot.get(node) else {
        return Code::Error;
    };
    let same_domain = |n: &NodeInfo| match (n.labels().get(key), target.labels().get(key)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    // The incoming pod repels pods with app=<app> in its domain.
    for n in c.snapshot.nodes().filter(|n| same_domain(n)) {
        if n.pods.iter().any(|p| {
            p.pod().metadata.namespace == pod.metadata.namespace
                && p.pod().metadata.labels.get("app").map(String::as_str) == Some(app)
        }) {
            return Code::Unschedulable;
        }
    }
    // Existing pods with anti-affinity to the incoming pod's app.
    let incoming_app = pod.metadata.labels.get("app").cloned().unwrap_or_default();
    for n in c.snapshot.nodes() {
        for p in &n.pods {
            for t in &p.affinity.required_anti_affinity {
                if t.selector
                    .matches(&BTreeMap::from([("app".to_string(), incoming_app.clone())]))
                    && p.pod().metadata.namespace == pod.metadata.namespace
                    && match (
                        n.labels().get(&t.topology_key),
                        target.labels().get(&t.topology_key),
                    ) {
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    }
                {
                    return Code::Unschedulable;
                }
            }
        }
    }
    Code::Success
}

#[test]
fn random_clusters_match_a_naive_recomputation() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let apps = ["a", "b", "c"];
    for round in 0..150 {
        let n_nodes = rng.random_range(1..12usize);
        let mut snapshot = Snapshot::default();
        for i in 0..n_nodes {
            let mut labels = serde_json::Map::new();
            labels.insert("kubernetes.io/hostname".into(), json!(format!("n{i}")));
            if rng.random_range(0..6) > 0 {
                labels.insert("zone".into(), json!(format!("z{}", rng.random_range(0..3))));
            }
            snapshot.upsert_node(node_obj(
                &json!({"name": format!("n{i}"), "labels": labels}),
            ));
        }
        let key = if rng.random_bool(0.5) {
            "zone"
        } else {
            "kubernetes.io/hostname"
        };
        for j in 0..rng.random_range(0..30usize) {
            let node = format!("n{}", rng.random_range(0..n_nodes));
            let app = apps[rng.random_range(0..3)];
            let ns = if rng.random_range(0..5) == 0 {
                "other"
            } else {
                "default"
            };
            let mut aff = json!({});
            if rng.random_range(0..4) == 0 {
                let a2 = apps[rng.random_range(0..3)];
                aff = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("app", a2, key)]}});
            }
            let mut p = apod(&format!("e{j}"), ns, json!({"app": app}), Some(&node), aff);
            if rng.random_range(0..8) == 0 {
                p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
            }
            let o = obj(Kind::Pod, p);
            snapshot.add_pod(Arc::new(PodInfo::new(o).expect("pod")), &node);
        }
        let app = apps[rng.random_range(0..3)];
        let max_skew = rng.random_range(1..3i64);
        let own_app = apps[rng.random_range(0..3)];

        // Spread filter.
        let mut incoming = apod("p", "default", json!({"app": own_app}), None, json!({}));
        incoming["spec"]["topologySpreadConstraints"] = json!([{
            "maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": app}}}]);
        let pod = obj(Kind::Pod, incoming);
        let case = Case {
            info: PodInfo::new(pod.clone()).expect("pod"),
            pod,
            snapshot,
            candidates: Vec::new(),
        };
        let got = run_filter(spread().as_ref(), &case);
        for (node, code) in &got {
            assert_eq!(
                *code,
                naive_spread_filter(&case, node, key, max_skew, app),
                "round {round}: spread filter on {node}"
            );
        }

        // Anti-affinity filter (the incoming pod repels `app`).
        let Case { snapshot, .. } = case;
        let incoming = apod(
            "p",
            "default",
            json!({"app": own_app}),
            None,
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("app", app, key)]}}),
        );
        let pod = obj(Kind::Pod, incoming);
        let case = Case {
            info: PodInfo::new(pod.clone()).expect("pod"),
            pod,
            snapshot,
            candidates: Vec::new(),
        };
        let got = run_filter(affinity().as_ref(), &case);
        for (node, code) in &got {
            assert_eq!(
                *code,
                naive_anti_filter(&case, node, key, app),
                "round {round}: anti-affinity filter on {node}"
            );
        }
    }
}
