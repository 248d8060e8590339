//! GPU-sharing pods through the event-driven scheduler: per-device accounting, model
//! constraints and the FGD paper's plugins enabled by name in a profile.

mod common;

use common::{run_yaml, stderr};

fn events(run: &common::Run) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.out.join("events.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scenario(policy: &str, pods: &[(&str, &str, &str)]) -> String {
    let mut s = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: gpu}}\nspec:\n  duration: 30s\n  scheduler:\n    apiVersion: kubescheduler.config.k8s.io/v1\n    kind: KubeSchedulerConfiguration\n    profiles:\n      - plugins:\n          filter: {{enabled: [{{name: GpuShare}}]}}\n          score: {{enabled: [{{name: {policy}, weight: 1000}}]}}\n  objects:\n    - {{apiVersion: v1, kind: Node, metadata: {{name: g, labels: {{alibabacloud.com/gpu-card-model: P100}}}}, status: {{capacity: {{cpu: '64', memory: 256Gi, pods: '110', alibabacloud.com/gpu-count: '2', alibabacloud.com/gpu-milli: '2000'}}}}}}\n"
    );
    for (name, milli, model) in pods {
        let model = if model.is_empty() {
            String::new()
        } else {
            format!(", alibabacloud.com/gpu-card-model: {model}")
        };
        s.push_str(&format!(
            "    - {{apiVersion: v1, kind: Pod, metadata: {{name: {name}, annotations: {{alibabacloud.com/gpu-milli: '{milli}'{model}}}}}, spec: {{containers: [{{name: c, image: app:1, resources: {{requests: {{cpu: '1', memory: 1Gi}}}}}}]}}}}\n"
        ));
    }
    s
}

fn outcome(run: &common::Run) -> (Vec<String>, Vec<String>) {
    let evs = events(run);
    let names = |reason: &str| {
        let mut v: Vec<String> = evs
            .iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["object"].as_str().unwrap_or("").to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    (names("Scheduled"), names("FailedScheduling"))
}

#[test]
fn gpu_shares_are_accounted_per_device_not_per_node() {
    for policy in [
        "BestFit",
        "FGD",
        "GpuPacking",
        "GpuClustering",
        "DotProduct",
        "Random",
    ] {
        // 1,200 of the node's 2,000 milli-GPU are free after two 600-milli pods, but no
        // single device has 600 left: the third pod does not fit.
        let run = run_yaml(
            "gpu.yaml",
            &scenario(
                policy,
                &[("a", "600", ""), ("b", "600", ""), ("c", "600", "")],
            ),
        );
        assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
        let (ok, failed) = outcome(&run);
        assert_eq!(ok.len(), 2, "{policy}: {ok:?}");
        assert_eq!(failed.len(), 1, "{policy}: {failed:?}");
        let msg = events(&run)
            .into_iter()
            .find(|e| e["reason"] == "FailedScheduling")
            .unwrap();
        assert!(
            msg["message"]
                .as_str()
                .unwrap()
                .contains("Insufficient alibabacloud.com/gpu-milli"),
            "{msg}"
        );
    }
}

#[test]
fn gpu_model_constraints_are_filtered() {
    let run = run_yaml(
        "gpu.yaml",
        &scenario(
            "FGD",
            &[("p100", "500", "V100M16|P100"), ("t4", "500", "T4")],
        ),
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    let (ok, failed) = outcome(&run);
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert!(ok[0].ends_with("p100"), "{ok:?}");
    assert!(failed[0].ends_with("t4"), "{failed:?}");
}
