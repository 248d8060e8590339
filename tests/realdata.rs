//! Real Kubernetes objects from `../shared/realdata` load (see its PROVENANCE.md).
//! Each test prints a "skipping" line and passes when the data is absent.

mod common;

use std::path::{Path, PathBuf};

use common::{kubesim, realdata, stderr, stdout};

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn every_openshift_insights_node_and_pod_loads() {
    let Some(data) = realdata("every_openshift_insights_node_and_pod_loads") else {
        return;
    };
    let base = data.join("openshift-insights-sample");
    let nodes = json_files(&base.join("node"));
    let pods = json_files(&base.join("pod"));
    assert_eq!(nodes.len(), 2);
    assert_eq!(pods.len(), 35);
    // The insights archive stores objects without kind/apiVersion: the include says which.
    let mut yaml = String::from(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: insights}\nspec:\n  duration: 30s\n  include:\n",
    );
    for (files, kind) in [(&nodes, "Node"), (&pods, "Pod")] {
        for f in files.iter() {
            yaml.push_str(&format!(
                "    - {{path: {:?}, kind: {kind}}}\n",
                f.display().to_string()
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("insights.yaml");
    std::fs::write(&scenario, yaml).unwrap();
    let v = kubesim(&["validate", scenario.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let out = dir.path().join("out");
    let r = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let s = summary(&out);
    assert_eq!(s["objects"]["Node"], 2);
    assert_eq!(s["objects"]["Pod"], 35);
    // Pods bound to nodes outside the sample load with a warning, as in Kubernetes.
    assert!(
        stderr(&r).contains("which does not exist"),
        "{}",
        stderr(&r)
    );
    assert!(stdout(&r).contains("nodes: 2"), "{}", stdout(&r));
}

#[test]
fn all_1213_alibaba_gpu_nodes_load() {
    let Some(data) = realdata("all_1213_alibaba_gpu_nodes_load") else {
        return;
    };
    let file = data.join("alibaba-gpu-v2023-openb/node_yaml/openb_node_list_gpu_node.yaml");
    let yaml = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: openb}}\nspec:\n  duration: 10s\n  include: [{:?}]\n",
        file.display().to_string()
    );
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("openb.yaml");
    std::fs::write(&scenario, yaml).unwrap();
    let out = dir.path().join("out");
    let r = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let s = summary(&out);
    assert_eq!(s["objects"]["Node"], 1213);
    assert_eq!(s["nodes"]["total"], 1213);
    // 107,018,000 milli-CPU in all (PROVENANCE.md): check the first metrics row's
    // denominator indirectly through a zero request ratio and the node count column.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("0,1213,"), "{csv}");
}
