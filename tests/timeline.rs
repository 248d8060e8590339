//! The scenario timeline (`spec.events`): each action kind, its effect in events.jsonl, and
//! the loader's errors for actions this version does not support (network actions: tests/network.rs).

mod common;

use common::{kubesim, run_yaml, stderr};

/// Three nodes in three zones (pool `node`), a 3-replica `web` Deployment, plus `events`.
fn scenario(duration: &str, events: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: timeline-test}}
spec:
  duration: {duration}
  cluster:
    nodePools:
      - name: node
        count: 3
        zones: [a, b, c]
        template:
          status:
            capacity: {{cpu: \"4\", memory: 16Gi, pods: \"110\"}}
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: web, namespace: default}}
      spec:
        replicas: 3
        selector:
          matchLabels: {{app: web}}
        template:
          metadata:
            labels: {{app: web}}
          spec:
            containers:
              - name: web
                image: nginx:1.27
                resources:
                  requests: {{cpu: 500m, memory: 256Mi}}
  events:
{events}"
    )
}

struct Events(Vec<serde_json::Value>);

impl Events {
    fn lines(&self, reason: &str) -> Vec<&serde_json::Value> {
        self.0.iter().filter(|e| e["reason"] == reason).collect()
    }

    /// Whether some event has `reason`, `object` starting with `object` and a message
    /// containing `text`, at or after `t_ms`.
    fn has(&self, reason: &str, object: &str, text: &str, t_ms: u64) -> bool {
        self.0.iter().any(|e| {
            e["reason"] == reason
                && e["object"].as_str().unwrap_or("").starts_with(object)
                && e["message"].as_str().unwrap_or("").contains(text)
                && e["t_ms"].as_u64().unwrap_or(0) >= t_ms
        })
    }

    fn at(&self, reason: &str, object: &str) -> Vec<u64> {
        self.0
            .iter()
            .filter(|e| e["reason"] == reason && e["object"].as_str() == Some(object))
            .map(|e| e["t_ms"].as_u64().unwrap())
            .collect()
    }
}

fn run(duration: &str, events: &str) -> Events {
    run_files(duration, events, &[])
}

fn run_files(duration: &str, events: &str, files: &[(&str, &str)]) -> Events {
    let yaml = scenario(duration, events);
    let r = run_yaml("t.yaml", &yaml);
    for (name, text) in files {
        std::fs::write(r.dir.path().join(name), text).unwrap();
    }
    // Files must exist before the run: run again now that they do.
    let r = if files.is_empty() {
        r
    } else {
        let scenario = r.scenario.clone();
        let out = r.out.clone();
        let output = kubesim(&[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        common::Run { output, ..r }
    };
    assert_eq!(r.output.status.code(), Some(0), "{}", stderr(&r.output));
    let text = std::fs::read_to_string(r.out.join("events.jsonl")).unwrap();
    Events(
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

#[test]
fn node_crash_makes_the_node_not_ready_and_heals_after_its_duration() {
    let ev = run(
        "4m",
        "    - {name: crash, at: 10s, duration: 2m, nodeCrash: {node: node-0}}\n",
    );
    assert_eq!(ev.at("TimelineAction", "Node/node-0"), vec![10_000]);
    assert_eq!(ev.at("TimelineHeal", "Node/node-0"), vec![130_000]);
    assert!(ev.has("NodeNotReady", "Node/node-0", "", 60_000));
    assert!(ev.has(
        "TimelineAction",
        "Node/node-0",
        "crash (nodeCrash): node state Crashed",
        0
    ));
}

#[test]
fn node_recover_brings_a_crashed_node_back() {
    let ev = run(
        "4m",
        "    - {at: 10s, nodeCrash: {node: node-1}}
    - {name: back, at: 2m, nodeRecover: {selector: kubernetes.io/hostname=node-1}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Node/node-1",
        "back (nodeRecover): node state Running",
        120_000
    ));
    assert!(ev.has("NodeNotReady", "Node/node-1", "", 60_000));
    // Rebooted: the kubelet starts the node's containers again.
    assert!(
        ev.0.iter().any(|e| e["reason"] == "Started"
            && e["node"] == "node-1"
            && e["t_ms"].as_u64().unwrap() >= 120_000),
        "containers restart after the recovery"
    );
}

#[test]
fn node_reboot_restarts_the_nodes_containers() {
    let ev = run(
        "2m",
        "    - {name: reboot, at: 30s, nodeReboot: {node: node-2}}\n",
    );
    assert_eq!(ev.at("TimelineAction", "Node/node-2"), vec![30_000]);
    // Default downtime 30s.
    assert_eq!(ev.at("TimelineHeal", "Node/node-2"), vec![60_000]);
    assert!(
        ev.0.iter().any(|e| e["reason"] == "Started"
            && e["node"] == "node-2"
            && e["t_ms"].as_u64().unwrap() >= 60_000),
        "containers restart after the reboot"
    );
}

#[test]
fn kubelet_stop_and_start_are_timeline_actions() {
    let ev = run(
        "4m",
        "    - {name: stop, at: 10s, kubeletStop: {node: node-0}}
    - {name: start, at: 3m, kubeletStart: {node: node-0}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Node/node-0",
        "stop (kubeletStop): node state KubeletStopped",
        10_000
    ));
    assert!(ev.has("NodeNotReady", "Node/node-0", "", 60_000));
    assert!(ev.has(
        "TimelineAction",
        "Node/node-0",
        "start (kubeletStart): node state Running",
        180_000
    ));
}

#[test]
fn zone_outage_crashes_every_node_of_the_zone() {
    let ev = run(
        "3m",
        "    - {name: dark, at: 10s, duration: 1m, zoneOutage: {zone: b}}\n",
    );
    assert_eq!(ev.at("TimelineAction", "Node/node-1"), vec![10_000]);
    assert_eq!(ev.at("TimelineHeal", "Node/node-1"), vec![70_000]);
    assert!(ev.at("TimelineAction", "Node/node-0").is_empty());
}

#[test]
fn cordon_keeps_new_pods_off_and_heals_by_uncordoning() {
    let ev = run(
        "3m",
        "    - {name: cordon-all, at: 10s, duration: 1m, cordon: {selector: kubesim.io/node-pool=node}}
    - {name: grow, at: 20s, scale: {name: web, replicas: 4}}\n",
    );
    assert_eq!(ev.at("TimelineAction", "Node/node-0"), vec![10_000]);
    assert!(ev.has(
        "FailedScheduling",
        "Pod/default/web-",
        "unschedulable",
        20_000
    ));
    assert_eq!(ev.at("TimelineHeal", "Node/node-0"), vec![70_000]);
    assert!(ev.has("Scheduled", "Pod/default/web-", "", 70_000));
}

#[test]
fn uncordon_is_an_action_of_its_own() {
    let ev = run(
        "1m",
        "    - {at: 5s, cordon: {node: node-0}}
    - {name: open, at: 10s, uncordon: {node: node-0}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Node/node-0",
        "open (uncordon): uncordoned",
        10_000
    ));
}

#[test]
fn add_and_remove_nodes_scale_the_pool_from_its_template() {
    let ev = run(
        "2m",
        "    - {name: grow, at: 10s, addNodes: {pool: node, count: 2}}
    - {name: shrink, at: 30s, removeNodes: {pool: node, count: 3}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Node/node-3",
        "added to pool node",
        10_000
    ));
    assert!(ev.has(
        "TimelineAction",
        "Node/node-4",
        "added to pool node",
        10_000
    ));
    for n in ["node-4", "node-3", "node-2"] {
        assert!(ev.has(
            "TimelineAction",
            &format!("Node/{n}"),
            "removed from pool node",
            30_000
        ));
    }
    assert!(!ev.has("TimelineAction", "Node/node-1", "removed", 0));
}

#[test]
fn pod_delete_every_interval_makes_the_replicaset_replace_pods() {
    let ev = run(
        "2m",
        "    - {name: chaos-monkey, every: 20s, count: 3, podDelete: {selector: app=web, limit: 1}}\n",
    );
    let deletes = ev.lines("TimelineAction");
    assert_eq!(deletes.len(), 3, "{deletes:?}");
    let times: Vec<u64> = deletes
        .iter()
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(times, vec![20_000, 40_000, 60_000]);
    let creates = ev.lines("SuccessfulCreate").len();
    assert!(creates >= 3 + 3, "{creates} creates");
}

#[test]
fn label_quarantines_a_pod_out_of_its_replicaset() {
    let ev = run(
        "1m",
        "    - {name: quarantine, at: 20s, label: {selector: app=web, limit: 1, add: {app: quarantined, debug: \"true\"}}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Pod/default/web-",
        "labels app=quarantined debug=true",
        20_000
    ));
    // The ReplicaSet released it and made a fourth pod.
    assert_eq!(ev.lines("SuccessfulCreate").len(), 4);
}

#[test]
fn scale_set_image_rollback_pause_and_resume_drive_the_deployment() {
    let ev = run(
        "3m",
        "    - {name: up, at: 10s, scale: {kind: Deployment, name: web, replicas: 5}}
    - {name: bump, at: 30s, setImage: {name: web, container: web, image: nginx:1.28}}
    - {name: undo, at: 1m, rollback: {name: web}}
    - {name: hold, at: 90s, duration: 30s, pause: {name: web}}
    - {name: bump2, at: 100s, setImage: {name: web, image: nginx:1.29}}
    - {name: hold-again, at: 150s, pause: {name: web}}
    - {name: go-on, at: 160s, resume: {name: web}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Deployment/default/web",
        "up (scale): scaled to replicas=5",
        10_000
    ));
    assert!(ev.has(
        "TimelineAction",
        "Deployment/default/web",
        "image web=nginx:1.28",
        30_000
    ));
    assert!(ev.has(
        "TimelineAction",
        "Deployment/default/web",
        "rolled back to the previous revision",
        60_000
    ));
    assert!(ev.has(
        "TimelineAction",
        "Deployment/default/web",
        "hold (pause): paused",
        90_000
    ));
    assert!(ev.has("TimelineHeal", "Deployment/default/web", "resumed", 120_000));
    assert!(ev.has(
        "TimelineAction",
        "Deployment/default/web",
        "go-on (resume): resumed",
        160_000
    ));
    let scaling: Vec<u64> = ev
        .lines("ScalingReplicaSet")
        .iter()
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    // The rollout of nginx:1.29 waits for the resume.
    assert!(scaling.iter().any(|t| *t >= 120_000), "{scaling:?}");
    assert!(
        !scaling.iter().any(|t| (100_000..120_000).contains(t)),
        "{scaling:?}"
    );
}

#[test]
fn scale_sets_a_jobs_parallelism() {
    let yaml = scenario(
        "1m",
        "    - {name: wider, at: 5s, scale: {kind: Job, name: batch, parallelism: 3}}\n",
    )
    .replace(
        "  events:\n",
        "    - apiVersion: batch/v1
      kind: Job
      metadata: {name: batch, namespace: default}
      spec:
        completions: 6
        parallelism: 1
        template:
          spec:
            restartPolicy: Never
            containers: [{name: w, image: busybox}]
  events:\n",
    );
    let r = run_yaml("job.yaml", &yaml);
    assert_eq!(r.output.status.code(), Some(0), "{}", stderr(&r.output));
    let text = std::fs::read_to_string(r.out.join("events.jsonl")).unwrap();
    assert!(
        text.contains("wider (scale): scaled to parallelism=3"),
        "{text}"
    );
}

#[test]
fn apply_inline_and_from_a_file_and_delete() {
    let ev = run_files(
        "1m",
        "    - name: add-pod
      at: 5s
      apply:
        object: {apiVersion: v1, kind: Pod, metadata: {name: extra, namespace: default}, spec: {containers: [{name: c, image: busybox}]}}
    - {name: add-more, at: 10s, apply: {file: more.yaml}}
    - {name: drop, at: 20s, delete: {kind: Deployment, name: web}}\n",
        &[(
            "more.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: from-file, namespace: default}\nspec: {containers: [{name: c, image: busybox}]}\n",
        )],
    );
    assert!(ev.has("TimelineAction", "Pod/default/extra", "created", 5_000));
    assert!(ev.has("TimelineAction", "Pod/default/from-file", "created", 10_000));
    assert!(ev.has("Scheduled", "Pod/default/from-file", "", 10_000));
    assert!(ev.has(
        "TimelineAction",
        "Deployment/default/web",
        "drop (delete): deleted",
        20_000
    ));
}

fn validate(name: &str, events: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, scenario("1m", events)).unwrap();
    let o = kubesim(&["validate", path.to_str().unwrap()]);
    (o.status.code().unwrap_or(-1), stderr(&o))
}

#[test]
fn network_actions_report_problems_at_their_line_and_column() {
    let (code, err) = validate("net.yaml", "    - at: 10s\n      networkPartition: {}\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("net.yaml:33:"), "{err}");
    assert!(
        err.contains("spec.events[0].networkPartition.from: Required value"),
        "{err}"
    );
    let (code, err) = validate("net.yaml", "    - at: 10s\n      trafficRate: {}\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("spec.events[0].trafficRate.source: Required value"),
        "{err}"
    );
}

/// `drain` starts kubectl drain's client on each node: cordon, evictions through the
/// Eviction API, `DrainComplete` once the node's pods are gone and replaced elsewhere.
#[test]
fn drain_evicts_the_nodes_pods_and_completes() {
    let ev = run(
        "2m",
        "    - {name: drain-0, at: 10s, drain: {node: node-0, timeout: 1m}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Node/node-0",
        "drain-0 (drain): drain started",
        10_000
    ));
    assert_eq!(ev.at("Drain", "Node/node-0"), vec![10_000]);
    let done = ev.at("DrainComplete", "Node/node-0");
    assert_eq!(done.len(), 1, "{:?}", ev.lines("DrainTimeout"));
    assert!(done[0] > 10_000 && done[0] < 70_000, "{done:?}");
    // The evicted pod's replacement lands on another node.
    assert!(ev.0.iter().any(|e| e["reason"] == "Scheduled"
        && e["t_ms"].as_u64().unwrap_or(0) >= 10_000
        && e["node"] != "node-0"));
}

#[test]
fn bad_timeline_entries_are_reported_with_their_place() {
    let (code, err) = validate(
        "bad.yaml",
        "    - {at: 10s, nodeCrash: {node: node-0}, cordon: {node: node-0}}
    - {every: 0s, podDelete: {selector: app=web}}
    - {at: 1m, duration: 1m, scale: {name: web, replicas: 2}}
    - {at: 1m, addNodes: {pool: nope}}
    - {at: 1m, nodeCrash: {}}
    - {at: 1m, explode: {}}\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("one action per entry"), "{err}");
    assert!(
        err.contains("spec.events[1].every: Invalid value: 0s"),
        "{err}"
    );
    assert!(err.contains("spec.events[2].duration"), "{err}");
    assert!(
        err.contains("spec.events[3].addNodes.pool: Not found"),
        "{err}"
    );
    assert!(
        err.contains("spec.events[4].nodeCrash: Required value"),
        "{err}"
    );
    assert!(
        err.contains("spec.events[5].explode: unknown field"),
        "{err}"
    );
}

#[test]
fn container_kill_makes_the_kubelet_see_an_exit_137_and_restart() {
    let ev = run(
        "1m",
        "    - {name: oom-ish, at: 20s, containerKill: {selector: app=web, limit: 1, container: web}}\n",
    );
    let kills = ev.lines("TimelineAction");
    assert_eq!(kills.len(), 1, "{kills:?}");
    let pod = kills[0]["object"].as_str().unwrap().to_string();
    assert!(
        kills[0]["message"]
            .as_str()
            .unwrap()
            .contains("kill container web")
    );
    assert!(ev.has("Killed", &pod, "Container web was killed", 20_000));
    // Restarted at once (first restart has no back-off).
    let started = ev.at("Started", &pod);
    assert_eq!(started.len(), 2, "{started:?}");
    assert!(started[1] >= 20_000);
}

#[test]
fn registry_outage_fails_pulls_of_matching_images_until_it_heals() {
    let ev = run(
        "3m",
        "    - {name: registry-down, at: 10s, duration: 1m, registryOutage: {image: \"nginx:*\"}}
    - {name: bump, at: 20s, setImage: {name: web, image: nginx:1.28}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "Namespace/kube-system",
        "registry down for images nginx:*",
        10_000
    ));
    assert!(ev.has("Failed", "Pod/default/web-", "registry unavailable", 20_000));
    assert!(ev.has(
        "TimelineHeal",
        "Namespace/kube-system",
        "registry back",
        70_000
    ));
    let pulled: Vec<u64> = ev
        .lines("Pulled")
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .contains("Successfully pulled image \"nginx:1.28\"")
        })
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    assert!(
        !pulled.is_empty() && pulled.iter().all(|t| *t >= 70_000),
        "{pulled:?}"
    );
}

#[test]
fn control_plane_outage_rejects_writes_and_stalls_watches_until_it_heals() {
    let ev = run(
        "4m",
        "    - {name: grow, at: 19s, scale: {name: web, replicas: 5}}
    - {name: api-down, at: 19020ms, duration: 1m, controlPlaneOutage: {}}
    - {name: poke, at: 30s, podDelete: {selector: app=web}}\n",
    );
    assert!(ev.has(
        "TimelineAction",
        "ControlPlane/apiserver",
        "API writes fail with 503",
        19_020
    ));
    assert_eq!(
        ev.at("TimelineHeal", "ControlPlane/apiserver"),
        vec![79_020]
    );
    // The timeline's own write during the outage is refused.
    assert!(ev.has(
        "TimelineActionFailed",
        "Pod/default/web-",
        "unable to handle the request",
        30_000
    ));
    let creates: Vec<u64> = ev
        .lines("SuccessfulCreate")
        .iter()
        .map(|e| e["t_ms"].as_u64().unwrap())
        .filter(|t| *t > 19_000)
        .collect();
    assert!(
        !creates.is_empty(),
        "the scale-up completes after the outage"
    );
    assert!(
        creates.iter().all(|t| *t >= 79_020),
        "nothing is created while the control plane is down: {creates:?}"
    );
    assert!(ev.has("Scheduled", "Pod/default/web-", "", 79_020));
}
