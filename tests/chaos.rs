//! Random chaos (`spec.chaos`) and `kubesim run --record-faults`: the recorded timeline,
//! run as a fixed scenario, gives the original run's digest.

mod common;

use common::{kubesim, stderr, stdout};

const SCENARIO: &str = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: chaos-test}
spec:
  seed: 3
  duration: 30m
  cluster:
    nodePools:
      - name: node
        count: 4
        zones: [a, b]
        template:
          status:
            capacity: {cpu: \"4\", memory: 16Gi, pods: \"110\"}
  objects:
    - apiVersion: apps/v1
      kind: ReplicaSet
      metadata: {name: web, namespace: default}
      spec:
        replicas: 4
        selector:
          matchLabels: {app: web}
        template:
          metadata:
            labels: {app: web}
          spec:
            containers:
              - name: web
                image: nginx:1.27
                resources:
                  requests: {cpu: 500m, memory: 256Mi}
  events:
    - {name: grow, at: 5m, scale: {kind: ReplicaSet, name: web, replicas: 6}}
";

const CHAOS: &str = "  chaos:
    nodeFailures:
      - {pool: node, mtbf: 20m, mttr: 3m}
    containerCrashes:
      - {selector: app=web, mtbf: 4m}
    nodeKiller: {failureRatio: 0.25, interval: 10m, jitterFactor: 0.5, downtime: 2m}
";

fn run(dir: &std::path::Path, name: &str, yaml: &str, extra: &[&str]) -> (String, String) {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    let out = dir.join(format!("{name}.out"));
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = kubesim(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let digest = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("digest: ").map(str::to_string))
        .unwrap();
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    (digest, events)
}

#[test]
fn recorded_faults_replay_to_the_same_digest() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.yaml");
    let (d1, events) = run(
        dir.path(),
        "chaos.yaml",
        &format!("{SCENARIO}{CHAOS}"),
        &["--record-faults", faults.to_str().unwrap()],
    );
    // Every generator fired.
    for name in ["chaos-node-", "chaos-crash-", "chaos-nodekiller-"] {
        assert!(events.contains(name), "{name} in events.jsonl");
    }
    assert!(events.contains("\"reason\":\"Killed\""));
    let recorded = std::fs::read_to_string(&faults).unwrap();
    assert!(recorded.contains("\nevents:\n"), "{recorded}");
    // Replay: spec.events and spec.chaos replaced by the recorded list.
    let (head, _) = SCENARIO.split_once("  events:\n").unwrap();
    let list: String = recorded
        .lines()
        .skip_while(|l| *l != "events:")
        .map(|l| format!("  {l}\n"))
        .collect();
    let (d2, _) = run(dir.path(), "replay.yaml", &format!("{head}{list}"), &[]);
    assert_eq!(d1, d2);
}

#[test]
fn chaos_draws_depend_on_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = run(dir.path(), "a.yaml", &format!("{SCENARIO}{CHAOS}"), &[]);
    let (b, _) = run(
        dir.path(),
        "b.yaml",
        &format!("{SCENARIO}{CHAOS}"),
        &["--seed", "4"],
    );
    let (a2, _) = run(dir.path(), "a2.yaml", &format!("{SCENARIO}{CHAOS}"), &[]);
    assert_ne!(a, b);
    assert_eq!(a, a2);
}

#[test]
fn bad_chaos_is_reported_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        format!(
            "{SCENARIO}  chaos:\n    nodeFailures:\n      - {{pool: nope, mtbf: 0s, mttr: 1m}}\n    nodeKiller: {{failureRatio: 2, interval: 1m, downtime: 1m}}\n    bogus: 1\n"
        ),
    )
    .unwrap();
    let o = kubesim(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("spec.chaos.nodeFailures[0].pool: Not found"),
        "{err}"
    );
    assert!(
        err.contains("spec.chaos.nodeFailures[0].mtbf: Invalid value: 0s"),
        "{err}"
    );
    assert!(err.contains("spec.chaos.nodeKiller.failureRatio"), "{err}");
    assert!(err.contains("spec.chaos.bogus: unknown field"), "{err}");
}
