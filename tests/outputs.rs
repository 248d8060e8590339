//! The three output files have the documented shape.

mod common;

use std::path::Path;

use common::{kubesim, stderr};

fn run_quickstart(out: &Path) {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let o = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wall clock:"),
        "wall-clock figures go to stderr"
    );
}

#[test]
fn events_are_json_lines_with_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    run_quickstart(dir.path());
    let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let mut last_t = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = v["t_ms"].as_u64().expect("integer t_ms");
        assert!(t >= last_t, "events are in time order");
        last_t = t;
        assert!(
            matches!(v["type"].as_str(), Some("Normal" | "Warning" | "Sim")),
            "{line}"
        );
        assert!(
            v["reason"].is_string() && v["object"].is_string() && v["message"].is_string(),
            "{line}"
        );
    }
    assert!(text.contains(r#""object":"Deployment/shop/web""#), "{text}");
    assert!(text.contains(r#""object":"Node/general-0""#), "{text}");
}

#[test]
fn metrics_have_the_documented_columns_and_ratios() {
    let dir = tempfile::tempdir().unwrap();
    run_quickstart(dir.path());
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "t_s,nodes,nodes_ready,pods_pending,pods_running,pods_succeeded,pods_failed,cpu_requested_ratio,memory_requested_ratio"
        )
    );
    // 6 ready nodes; the two standalone pods are pending (nothing schedules them yet), so
    // nothing is requested on any node.
    assert_eq!(lines.next(), Some("0,6,6,2,0,0,0,0.0000,0.0000"));
    assert_eq!(csv.lines().count(), 1 + 31, "0..300 s every 10 s");
}

#[test]
fn summary_lists_counts_and_workloads() {
    let dir = tempfile::tempdir().unwrap();
    run_quickstart(dir.path());
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["scenario"], "quickstart");
    assert_eq!(s["seed"], 42);
    assert_eq!(s["end_t_s"], "300");
    assert!(s["stopped"].is_null());
    assert_eq!(s["nodes"]["total"], 6);
    // The scheduler binds the two standalone pods and the Deployment's three, and the
    // kubelet runs them.
    assert_eq!(s["pods"]["Pending"], 0);
    assert_eq!(s["pods"]["Running"], 5);
    assert_eq!(s["objects"]["Namespace"], 5, "4 initial + shop");
    // Workloads in key order: the Deployment's ReplicaSet, then the Deployment.
    let rs = &s["workloads"][0];
    assert!(
        rs["object"]
            .as_str()
            .unwrap()
            .starts_with("ReplicaSet/shop/web-"),
        "{rs}"
    );
    let web = &s["workloads"][1];
    assert_eq!(web["object"], "Deployment/shop/web");
    assert_eq!(web["desired"], 3);
    assert_eq!(web["available"], 3);
    // 13 objects applied, and the scheduler placed the five pods.
    assert_eq!(s["events"]["by_reason"]["Applied"], 13);
    assert_eq!(s["events"]["by_reason"]["Scheduled"], 5);
}

#[test]
fn a_scenario_over_its_object_limit_is_rejected_without_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("limited.yaml");
    // 4 initial namespaces + 3 nodes > 5 objects.
    std::fs::write(
        &scenario,
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: limited}\nspec:\n  limits: {maxObjects: 5}\n  cluster:\n    nodePools: [{name: p, count: 3}]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("object limit reached"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("summary.json").exists());
}
