//! Real Kubernetes objects from `../shared/realdata` load (see its PROVENANCE.md).
//! Each test prints a "skipping" line and passes when the data is absent.

mod common;

use std::path::{Path, PathBuf};

use common::{kubesim, realdata, run_yaml, stderr, stdout};

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
    let run = run_yaml("insights.yaml", &yaml);
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    let v = kubesim(&["validate", run.scenario.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let s = run.summary();
    assert_eq!(s["objects"]["Node"], 2);
    assert_eq!(s["objects"]["Pod"], 35);
    // Pods bound to nodes outside the sample load with a warning, as in Kubernetes.
    assert!(
        stderr(&run.output).contains("which does not exist"),
        "{}",
        stderr(&run.output)
    );
    assert!(
        stdout(&run.output).contains("nodes: 2"),
        "{}",
        stdout(&run.output)
    );
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
    let run = run_yaml("openb.yaml", &yaml);
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    let s = run.summary();
    assert_eq!(s["objects"]["Node"], 1213);
    assert_eq!(s["nodes"]["total"], 1213);
    let csv = std::fs::read_to_string(run.out.join("metrics.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("0,1213,"), "{csv}");

    // The quantities add up to PROVENANCE.md's totals: 107,018,000 milli-CPU and
    // 503,828,480 MiB over the 1,213 nodes.
    let read = |p: &Path| std::fs::read_to_string(p);
    let scenario = kubesim::scenario::load(&run.scenario, &read).unwrap();
    let mut cluster = kubesim::runtime::Cluster::new(
        scenario.config.clone(),
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    );
    for o in &scenario.objects {
        cluster.apply(o.object.clone()).unwrap();
    }
    assert_eq!(cluster.stats().allocatable_milli_cpu, 107_018_000);
    assert_eq!(
        cluster.stats().allocatable_memory,
        503_828_480 * 1024 * 1024
    );
}
