//! `kubesim import alibaba-gpu-v2023`: trace files in, a scenario that `validate` and
//! `run` accept out. The real-trace test skips with a message when `../shared/realdata`
//! is absent.

mod common;

use std::path::Path;

use common::{kubesim, realdata, stderr, stdout};

const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model
n-p100,64000,262144,2,P100
n-cpu,32000,131072,0,
n-v100,96000,393216,8,V100M16
";

// p-v100 may only use a V100; p-t4 asks for a model no node has; p-big for more GPUs
// than any node holds.
const PODS: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos
p-share,6000,12288,1,460,,LS
p-v100,8000,30000,2,1000,V100M16|V100M32,LS
p-cpu,4000,1024,0,0,,BE
p-t4,1000,1024,1,1000,T4,LS
p-big,1000,1024,16,1000,,LS
";

fn import(dir: &Path, nodes: &Path, pods: &Path, extra: &[&str]) -> std::process::Output {
    let out = dir.join("scenario.yaml");
    let mut args = vec![
        "import",
        "alibaba-gpu-v2023",
        "--nodes",
        nodes.to_str().unwrap(),
        "--pods",
        pods.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    kubesim(&args)
}

/// `Scheduled` and `FailedScheduling` events by pod name.
fn scheduling(events: &str) -> Vec<(String, String, String)> {
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| matches!(e["reason"].as_str(), Some("Scheduled" | "FailedScheduling")))
        .map(|e| {
            (
                e["object"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
                e["node"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_small_trace_imports_validates_and_schedules_by_gpu() {
    let tmp = tempfile::tempdir().unwrap();
    let (nodes, pods) = (tmp.path().join("nodes.csv"), tmp.path().join("pods.csv"));
    std::fs::write(&nodes, NODES).unwrap();
    std::fs::write(&pods, PODS).unwrap();
    let o = import(tmp.path(), &nodes, &pods, &["--duration", "30s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scenario = tmp.path().join("scenario.yaml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(
        text.contains("\"alibabacloud.com/gpu-card-model\":\"V100M16\""),
        "{text}"
    );
    assert!(
        text.contains("\"alibabacloud.com/gpu-milli\":\"460\""),
        "{text}"
    );

    let v = kubesim(&["validate", scenario.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(stdout(&v).contains("ok (8 objects)"), "{}", stdout(&v));

    let out = tmp.path().join("out");
    let r = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let ev = scheduling(&std::fs::read_to_string(out.join("events.jsonl")).unwrap());
    let placed = |pod: &str| {
        ev.iter()
            .find(|(o, r, _)| o == &format!("Pod/default/{pod}") && r == "Scheduled")
            .map(|(_, _, n)| n.clone())
    };
    // GpuShare keeps GPU pods on GPU nodes of an accepted model and rejects what fits
    // nowhere.
    assert_eq!(placed("p-v100").as_deref(), Some("n-v100"), "{ev:?}");
    assert!(
        matches!(placed("p-share").as_deref(), Some("n-p100" | "n-v100")),
        "{ev:?}"
    );
    assert!(placed("p-cpu").is_some(), "{ev:?}");
    for pod in ["p-t4", "p-big"] {
        assert_eq!(placed(pod), None, "{pod}: {ev:?}");
        assert!(
            ev.iter()
                .any(|(o, r, _)| o == &format!("Pod/default/{pod}") && r == "FailedScheduling"),
            "{pod}: {ev:?}"
        );
    }
}

#[test]
fn bad_rows_are_reported_as_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (nodes, pods) = (tmp.path().join("nodes.csv"), tmp.path().join("pods.csv"));
    std::fs::write(&nodes, NODES).unwrap();
    // Line 3 has a CPU that is not a number.
    std::fs::write(
        &pods,
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,10,1,500\np1,lots,10,1,500\n",
    )
    .unwrap();
    let o = import(tmp.path(), &nodes, &pods, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let want = format!("{}:3: cpu_milli", pods.display());
    assert!(
        stderr(&o).contains(&want),
        "want {want:?} in {}",
        stderr(&o)
    );
    assert!(!tmp.path().join("scenario.yaml").exists());

    // A node row with a negative GPU count, on line 4.
    std::fs::write(&pods, PODS).unwrap();
    std::fs::write(
        &nodes,
        "sn,cpu_milli,memory_mib,gpu,model\na,1000,10,1,T4\nb,1000,10,1,T4\nc,1000,10,-2,T4\n",
    )
    .unwrap();
    let o = import(tmp.path(), &nodes, &pods, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let want = format!("{}:4: gpu", nodes.display());
    assert!(
        stderr(&o).contains(&want),
        "want {want:?} in {}",
        stderr(&o)
    );

    // A missing column is reported on the header line.
    std::fs::write(&pods, "name,cpu_milli\np0,1000\n").unwrap();
    std::fs::write(&nodes, NODES).unwrap();
    let o = import(tmp.path(), &nodes, &pods, &[]);
    let want = format!("{}:1: missing column", pods.display());
    assert!(
        stderr(&o).contains(&want),
        "want {want:?} in {}",
        stderr(&o)
    );

    let o = import(tmp.path(), &nodes, &pods, &["--policy", "Nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_real_trace_imports_and_validates() {
    let Some(root) = realdata("the_real_trace_imports_and_validates") else {
        return;
    };
    let dir = root.join("alibaba-gpu-v2023-openb");
    if !dir.is_dir() {
        eprintln!(
            "skipping the_real_trace_imports_and_validates: {} not found",
            dir.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pods = dir.join("csv/openb_pod_list_default.csv");
    for nodes in [
        dir.join("csv/openb_node_list_gpu_node.csv"),
        dir.join("node_yaml/openb_node_list_gpu_node.yaml"),
    ] {
        let o = import(tmp.path(), &nodes, &pods, &["--policy", "BestFit"]);
        assert!(o.status.success(), "{}: {}", nodes.display(), stderr(&o));
        let scenario = tmp.path().join("scenario.yaml");
        let v = kubesim(&["validate", scenario.to_str().unwrap()]);
        assert!(v.status.success(), "{}", stderr(&v));
        // 1,213 nodes and 8,152 pods (PROVENANCE.md).
        assert!(stdout(&v).contains("ok (9365 objects)"), "{}", stdout(&v));
        let text = std::fs::read_to_string(&scenario).unwrap();
        assert_eq!(text.matches("\"kind\":\"Node\"").count(), 1213);
        assert_eq!(text.matches("\"kind\":\"Pod\"").count(), 8152);
        assert!(text.contains("\"name\":\"BestFit\",\"weight\":1000"));
    }
}
