//! Bad input exits 2 with a message naming the file, the line:column and the field path.

mod common;

use common::{kubesim, stderr};

/// Writes `body` as a scenario file, runs `kubesim validate` and `kubesim run` on it, checks
/// both exit 2, and returns the error text.
fn reject(name: &str, body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    let p = path.to_str().unwrap();
    let validate = kubesim(&["validate", p]);
    assert_eq!(
        validate.status.code(),
        Some(2),
        "validate: {}",
        stderr(&validate)
    );
    let out = dir.path().join("out");
    let run = kubesim(&["run", p, "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "run: {}", stderr(&run));
    assert!(
        !out.join("events.jsonl").exists(),
        "no output is written for bad input"
    );
    let text = stderr(&run);
    assert!(!text.contains("panicked"), "{text}");
    text
}

const HEADER: &str =
    "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata:\n  name: t\nspec:\n";

#[test]
fn yaml_syntax_error_names_the_line() {
    let err = reject(
        "syntax.yaml",
        &format!("{HEADER}  seed: [1, 2\n  duration: 1m\n"),
    );
    assert!(err.contains("syntax.yaml:7:"), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn missing_required_field_names_its_path() {
    let body = format!(
        "{HEADER}  objects:\n    - apiVersion: v1\n      kind: Pod\n      metadata:\n        name: p\n      spec:\n        containers:\n          - name: c\n"
    );
    let err = reject("missing.yaml", &body);
    assert!(err.contains("missing.yaml:13:"), "{err}");
    assert!(
        err.contains("spec.objects[0].spec.containers[0].image: Pod/default/p: Required value"),
        "{err}"
    );
}

#[test]
fn scenario_without_a_name_is_rejected_at_metadata() {
    let err = reject(
        "noname.yaml",
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata:\n  description: x\nspec: {}\n",
    );
    assert!(
        err.contains("noname.yaml:4:3: metadata: missing field `name`"),
        "{err}"
    );
}

#[test]
fn negative_replica_count_names_spec_replicas() {
    let body = format!(
        "{HEADER}  objects:
    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata: {{name: rs}}
      spec:
        replicas: -1
        selector: {{matchLabels: {{app: a}}}}
        template:
          metadata: {{labels: {{app: a}}}}
          spec: {{containers: [{{name: c, image: nginx}}]}}
"
    );
    let err = reject("negative.yaml", &body);
    assert!(
        err.contains("negative.yaml:11:19: spec.objects[0].spec.replicas"),
        "{err}"
    );
    assert!(err.contains("must be greater than or equal to 0"), "{err}");
}

#[test]
fn unknown_kind_names_the_kind_field() {
    let body = format!(
        "{HEADER}  objects:\n    - apiVersion: apps/v1\n      kind: Deploymnt\n      metadata: {{name: d}}\n"
    );
    let err = reject("kind.yaml", &body);
    assert!(
        err.contains("kind.yaml:8:13: spec.objects[0].kind: unknown kind \"Deploymnt\""),
        "{err}"
    );
    assert!(err.contains("expected one of"), "{err}");
}

#[test]
fn bad_quantity_names_the_resource() {
    let body = format!(
        "{HEADER}  objects:
    - apiVersion: v1
      kind: Pod
      metadata: {{name: p}}
      spec:
        containers:
          - name: c
            image: nginx
            resources:
              requests:
                cpu: 12Qi
"
    );
    let err = reject("qty.yaml", &body);
    assert!(
        err.contains("qty.yaml:16:22: spec.objects[0].spec.containers[0].resources.requests.cpu"),
        "{err}"
    );
    assert!(err.contains("12Qi"), "{err}");
}

#[test]
fn duplicate_object_name_points_at_both_places() {
    let body = format!(
        "{HEADER}  objects:
    - {{apiVersion: v1, kind: Service, metadata: {{name: web}}, spec: {{ports: [{{port: 80}}]}}}}
    - {{apiVersion: v1, kind: Service, metadata: {{name: web, namespace: default}}, spec: {{ports: [{{port: 80}}]}}}}
"
    );
    let err = reject("dup.yaml", &body);
    assert!(
        err.contains("dup.yaml:8:7: spec.objects[1]: duplicate object Service/default/web"),
        "{err}"
    );
    assert!(err.contains("already defined at"), "{err}");
    assert!(err.contains("dup.yaml:7:7"), "{err}");
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let body = format!(
        "{HEADER}  objects:
    - {{apiVersion: v1, kind: Nope, metadata: {{name: a}}}}
    - {{apiVersion: v1, kind: Pod, metadata: {{name: b}}, spec: {{containers: [{{name: c, image: x, resources: {{limits: {{memory: 1Zi}}}}}}]}}}}
"
    );
    let err = reject("many.yaml", &body);
    assert!(err.contains("spec.objects[0].kind"), "{err}");
    assert!(
        err.contains("spec.objects[1].spec.containers[0].resources.limits.memory"),
        "{err}"
    );
}

#[test]
fn a_traffic_source_without_a_rate_names_its_field() {
    let err = reject(
        "traffic.yaml",
        &format!("{HEADER}  traffic:\n    sources:\n      - {{name: s, service: web}}\n"),
    );
    assert!(err.contains("spec.traffic.sources[0].rate"), "{err}");
    assert!(err.contains("give rate, steps or csv"), "{err}");
}

#[test]
fn a_missing_scenario_file_is_bad_input() {
    let o = kubesim(&["validate", "/nonexistent/scenario.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/scenario.yaml"),
        "{}",
        stderr(&o)
    );
}
