//! Upstream kube-scheduler test rows (`../shared/reference/vectors/scheduler.json`) as tests.
//!
//! Each row becomes a scenario (explicit nodes, bound pods, the incoming pod, and a
//! KubeSchedulerConfiguration enabling just the plugin under test) and is driven through
//! `kubesim explain --format json`. Rows whose pods have no containers are not valid API
//! objects (upstream unit tests build them directly), so those rows run through the library's
//! `explain` on a snapshot built from the same objects instead.
//! Prints a "skipping" line and passes when the reference file is absent.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use kubesim::api::objects::{Kind, Object};
use kubesim::scheduler::cache::{PodInfo, Snapshot};
use kubesim::scheduler::config::{KubeSchedulerConfiguration, SchedulerConfig};

const EXTENDED: &str = "example.com/extended";

fn vectors() -> Option<Vec<Value>> {
    let path = std::env::var_os("KUBESIM_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"))
        .join("vectors/scheduler.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let v: Value = serde_json::from_str(&text).expect("vectors parse");
            Some(v["cases"].as_array().expect("cases").clone())
        }
        Err(_) => {
            eprintln!(
                "skipping: scheduler vectors not found at {} (set KUBESIM_REFERENCE)",
                path.display()
            );
            None
        }
    }
}

fn resource_name(k: &str) -> &str {
    match k {
        "cpu_millis" => "cpu",
        "memory_bytes" => "memory",
        "<extendedRes>" => EXTENDED,
        other => other,
    }
}

fn quantity(k: &str, v: &Value) -> String {
    let n = v.as_i64().expect("integer quantity");
    if k == "cpu_millis" {
        format!("{n}m")
    } else {
        n.to_string()
    }
}

fn resources(map: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(m) = map.as_object() {
        for (k, v) in m {
            out.insert(resource_name(k).to_string(), Value::String(quantity(k, v)));
        }
    }
    Value::Object(out)
}

fn node(n: &Value) -> Value {
    let mut alloc = resources(&n["allocatable"]);
    alloc
        .as_object_mut()
        .unwrap()
        .entry("pods")
        .or_insert(json!("110"));
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n["name"]},
        "spec": {"taints": n.get("taints").cloned().unwrap_or(json!([]))},
        "status": {"allocatable": alloc, "capacity": alloc, "images": n.get("images").cloned().unwrap_or(json!([]))},
    })
}

fn containers(list: Option<&Value>, prefix: &str) -> Value {
    let list = list.and_then(|v| v.as_array()).cloned().unwrap_or_default();
    Value::Array(
        list.iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "name": format!("{prefix}{i}"),
                    "image": c.get("image").cloned().unwrap_or(json!("registry.k8s.io/pause:3.9")),
                    "resources": {"requests": resources(&c["requests"])},
                })
            })
            .collect(),
    )
}

fn pod(p: &Value, default_name: &str) -> Value {
    let mut spec = json!({
        "containers": containers(p.get("containers"), "c"),
        "initContainers": containers(p.get("initContainers"), "init"),
        "tolerations": p.get("tolerations").cloned().unwrap_or(json!([])),
    });
    if let Some(node) = p.get("node") {
        spec["nodeName"] = node.clone();
    }
    if let Some(prio) = p.get("priority") {
        spec["priority"] = prio.clone();
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": p.get("name").cloned().unwrap_or(json!(default_name)), "namespace": "default"},
        "spec": spec,
    })
}

/// A profile with only `plugin` enabled at the points the row exercises.
fn scheduler_config(case: &Value) -> Value {
    let plugin = case["plugin"].as_str().unwrap();
    let mut profile = json!({"plugins": {"multiPoint": {"disabled": [{"name": "*"}]}}});
    if case["kind"] == "filter" {
        profile["plugins"]["filter"] = json!({"enabled": [{"name": plugin}]});
    } else {
        profile["plugins"]["preScore"] = json!({"enabled": [{"name": plugin}]});
        profile["plugins"]["score"] = json!({"enabled": [{"name": plugin, "weight": 1}]});
    }
    if let Some(cfg) = case.get("config").filter(|c| !c.is_null()) {
        let mut args = cfg.clone();
        if let Some(ss) = args
            .get_mut("scoringStrategy")
            .and_then(|s| s.as_object_mut())
        {
            if let Some(shape) = ss.remove("shape") {
                ss.insert("requestedToCapacityRatio".into(), json!({"shape": shape}));
            }
            if let Some(res) = ss.get_mut("resources").and_then(|r| r.as_array_mut()) {
                for r in res {
                    if r["name"] == "<extendedRes>" {
                        r["name"] = json!(EXTENDED);
                    }
                }
            }
        }
        profile["pluginConfig"] = json!([{"name": plugin, "args": args}]);
    }
    json!({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", "profiles": [profile]})
}

fn incoming_name(case: &Value) -> String {
    case["incoming_pod"]
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("incoming")
        .to_string()
}

fn existing(case: &Value) -> Vec<Value> {
    case["existing_pods"]
        .as_array()
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, p)| pod(p, &format!("existing-{i}")))
                .collect()
        })
        .unwrap_or_default()
}

fn all_pods_have_containers(case: &Value) -> bool {
    std::iter::once(&case["incoming_pod"])
        .chain(case["existing_pods"].as_array().into_iter().flatten())
        .all(|p| p["containers"].as_array().is_some_and(|c| !c.is_empty()))
}

/// Runs `kubesim explain` on the row as a scenario.
fn explain_cli(case: &Value) -> Value {
    let mut objects = existing(case);
    objects.push(pod(&case["incoming_pod"], "incoming"));
    let scenario = json!({
        "apiVersion": "kubesim.io/v1alpha1", "kind": "Scenario", "metadata": {"name": "vector"},
        "spec": {
            "scheduler": scheduler_config(case),
            "cluster": {"nodes": case["nodes"].as_array().unwrap().iter().map(node).collect::<Vec<_>>()},
            "objects": objects,
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vector.json");
    std::fs::write(&file, serde_json::to_string_pretty(&scenario).unwrap()).unwrap();
    let pod = format!("default/{}", incoming_name(case));
    let o = common::kubesim(&[
        "explain",
        file.to_str().unwrap(),
        "--pod",
        &pod,
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}: {}",
        case["name"],
        common::stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("explain prints JSON")
}

/// The same through the library, bypassing API validation (for container-less pods).
fn explain_lib(case: &Value) -> Value {
    let cfg: KubeSchedulerConfiguration = serde_json::from_value(scheduler_config(case)).unwrap();
    let config = SchedulerConfig::from_config(&cfg).unwrap();
    let mut snapshot = Snapshot::default();
    for n in case["nodes"].as_array().unwrap() {
        let mut obj = Object::from_json(Kind::Node, node(n)).unwrap();
        kubesim::api::defaults::apply(&mut obj);
        snapshot.upsert_node(Arc::new(obj));
    }
    let decode = |v: Value| {
        let mut obj = Object::from_json(Kind::Pod, v).unwrap();
        kubesim::api::defaults::apply(&mut obj);
        if let Object::Pod(p) = &mut obj {
            p.spec.priority.get_or_insert(0);
        }
        Arc::new(obj)
    };
    for p in existing(case) {
        let obj = decode(p);
        let node = match &*obj {
            Object::Pod(p) => p.spec.node_name.clone(),
            _ => unreachable!(),
        };
        snapshot.add_pod(Arc::new(PodInfo::new(obj).unwrap()), &node);
    }
    let incoming = decode(pod(&case["incoming_pod"], "incoming"));
    let mut rng = kubesim::sim::RngFactory::new(1).stream("explain");
    let e =
        kubesim::scheduler::explain::explain(&config, &mut snapshot, &incoming, &mut rng).unwrap();
    serde_json::to_value(e).unwrap()
}

fn explain(case: &Value) -> Value {
    if all_pods_have_containers(case) {
        explain_cli(case)
    } else {
        explain_lib(case)
    }
}

fn node_entry<'a>(e: &'a Value, name: &str) -> &'a Value {
    e["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == name)
        .unwrap_or_else(|| panic!("node {name} in {e}"))
}

fn plugin_score(e: &Value, node: &str, plugin: &str, normalized: bool) -> Option<i64> {
    node_entry(e, node)["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["plugin"] == plugin)
        .map(|s| {
            s[if normalized { "normalized" } else { "raw" }]
                .as_i64()
                .unwrap()
        })
}

fn rows(kinds: &[&str], plugins: &[&str]) -> Vec<Value> {
    vectors()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            kinds.contains(&c["kind"].as_str().unwrap())
                && plugins.contains(&c["plugin"].as_str().unwrap())
        })
        .collect()
}

fn check_scores(plugins: &[&str], expected_rows: usize) {
    let cases = rows(&["score"], plugins);
    if cases.is_empty() {
        return;
    }
    assert_eq!(cases.len(), expected_rows, "row count changed");
    let mut failures = Vec::new();
    for case in &cases {
        let plugin = case["plugin"].as_str().unwrap();
        let e = explain(case);
        let normalized = case["expected_after"]
            .as_str()
            .unwrap_or("")
            .contains("Normalize");
        for (node, want) in case["expected"]["scores"].as_object().unwrap() {
            let got = plugin_score(&e, node, plugin, normalized);
            if got != want.as_i64() {
                failures.push(format!(
                    "{}: {node}: want {want}, got {got:?}",
                    case["name"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn node_resources_fit_scores_match_upstream_rows() {
    check_scores(&["NodeResourcesFit"], 21);
}

#[test]
fn balanced_allocation_scores_match_upstream_rows() {
    check_scores(&["NodeResourcesBalancedAllocation"], 4);
}

#[test]
fn image_locality_scores_match_upstream_rows() {
    check_scores(&["ImageLocality"], 5);
}

#[test]
fn taint_toleration_scores_match_upstream_rows() {
    check_scores(&["TaintToleration"], 4);
}

#[test]
fn balanced_allocation_skips_best_effort_pods_in_prescore() {
    for case in rows(&["prescore"], &["NodeResourcesBalancedAllocation"]) {
        assert_eq!(case["expected"]["prescore_status"], "Skip");
        let e = explain(&case);
        for n in e["nodes"].as_array().unwrap() {
            assert!(
                n["scores"].as_array().unwrap().is_empty(),
                "{}: {n}",
                case["name"]
            );
        }
    }
}

#[test]
fn taint_toleration_filter_matches_upstream_rows() {
    let cases = rows(&["filter"], &["TaintToleration"]);
    if cases.is_empty() {
        return;
    }
    assert_eq!(cases.len(), 6);
    for case in &cases {
        let e = explain(case);
        for (node, want) in case["expected"]["filter"].as_object().unwrap() {
            let entry = node_entry(&e, node);
            let code = entry["filters"]
                .as_array()
                .unwrap()
                .last()
                .map(|f| f["code"].clone())
                .unwrap_or(json!("Success"));
            assert_eq!(&code, want, "{}: {node}: {entry}", case["name"]);
        }
    }
}

#[test]
fn num_feasible_nodes_matches_upstream_rows() {
    let cases = rows(&["num_feasible_nodes"], &["scheduler core"]);
    for case in &cases {
        let pct = case["config"]["percentageOfNodesToScore"].as_i64().unwrap() as i32;
        let n = case["expected"]["numAllNodes"].as_u64().unwrap() as usize;
        let want = case["expected"]["numFeasibleNodesToFind"].as_u64().unwrap() as usize;
        assert_eq!(
            kubesim::scheduler::cycle::num_feasible_nodes_to_find(pct, n),
            want,
            "{}",
            case["name"]
        );
    }
}

#[test]
fn broken_linear_function_matches_upstream_rows() {
    for case in rows(&["function"], &["helper.BuildBrokenLinearFunction"]) {
        for shape in case["expected"]["shapes"].as_array().unwrap() {
            // The helper scales scores by 10 (MaxNodeScore / MaxCustomPriorityScore); the rows
            // are unscaled, so compare with the scaled points divided back.
            let points: Vec<(i64, i64)> = shape["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap()))
                .collect();
            for f in shape["f"].as_array().unwrap() {
                let (p, want) = (f[0].as_i64().unwrap(), f[1].as_i64().unwrap());
                let got =
                    kubesim::scheduler::plugins::node_resources_fit::broken_linear(&points, p);
                assert_eq!(got, want, "{}: shape {points:?} at {p}", case["name"]);
            }
        }
    }
}

#[test]
fn preemption_picks_the_upstream_candidate_node() {
    use kubesim::api::meta::Time;
    use kubesim::scheduler::framework::{CycleContext, CycleState};
    use kubesim::scheduler::{cycle, preemption};
    let cases = rows(
        &["preemption_select"],
        &["DefaultPreemption (filter plugin registered: NodeResourcesFit only)"],
    );
    if cases.is_empty() {
        return;
    }
    assert_eq!(cases.len(), 6);
    for case in &cases {
        let cfg: KubeSchedulerConfiguration = serde_json::from_value(json!({
            "profiles": [{"plugins": {
                "multiPoint": {"disabled": [{"name": "*"}]},
                "filter": {"enabled": [{"name": "NodeResourcesFit"}]},
                "postFilter": {"enabled": [{"name": "DefaultPreemption"}]},
            }}]
        }))
        .unwrap();
        let config = SchedulerConfig::from_config(&cfg).unwrap();
        let profile = &config.profiles[0];
        assert!(profile.preemption);
        let mut snapshot = Snapshot::default();
        for n in case["nodes"].as_array().unwrap() {
            let mut v = node(n);
            if let Some(p) = n["allocatable_raw_quantities"].get("pods") {
                v["status"]["allocatable"]["pods"] = p.clone();
            }
            let mut obj = Object::from_json(Kind::Node, v).unwrap();
            kubesim::api::defaults::apply(&mut obj);
            snapshot.upsert_node(Arc::new(obj));
        }
        for (i, p) in case["existing_pods"].as_array().unwrap().iter().enumerate() {
            let mut obj = Object::from_json(Kind::Pod, pod(p, &format!("existing-{i}"))).unwrap();
            kubesim::api::defaults::apply(&mut obj);
            if let Object::Pod(pp) = &mut obj {
                let ns = p["start_time_unix_nanos"].as_u64().unwrap_or(0);
                pp.status.start_time = Some(Time(kubesim::sim::SimTime::from_nanos(ns)));
            }
            let node = p["node"].as_str().unwrap().to_string();
            snapshot.add_pod(Arc::new(PodInfo::new(Arc::new(obj)).unwrap()), &node);
        }
        let mut incoming =
            Object::from_json(Kind::Pod, pod(&case["incoming_pod"], "incoming")).unwrap();
        kubesim::api::defaults::apply(&mut incoming);
        let incoming = Arc::new(incoming);
        let info = PodInfo::new(incoming.clone()).unwrap();
        let Object::Pod(p) = &*incoming else {
            unreachable!()
        };
        let cx = CycleContext {
            pod: p,
            info: &info,
            snapshot: &snapshot,
        };
        let mut state = CycleState::default();
        cycle::pre_filter(profile, &cx, &mut state).unwrap();
        let feas = cycle::find_feasible(profile, &cx, &state, 0, snapshot.len(), None);
        assert!(
            feas.feasible.is_empty(),
            "{}: the pod must not fit without preemption",
            case["name"]
        );
        let mut rng = kubesim::sim::RngFactory::new(7).stream("scheduler");
        let outcome =
            preemption::post_filter(profile, &cx, &state, &feas.failed, &[], false, &mut rng);
        let preemption::Outcome::Preempt(c) = outcome else {
            panic!("{}: expected a preemption", case["name"]);
        };
        let allowed: Vec<&str> = case["expected"]["selected_node_any_of"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            allowed.contains(&c.node.as_str()),
            "{}: picked {}, want one of {allowed:?}",
            case["name"],
            c.node
        );
    }
}
