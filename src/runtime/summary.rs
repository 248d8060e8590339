//! summary.json: final counts, per-workload status, expectation results and the digest.
//!
//! Every map is a `BTreeMap` and every list is in store (key) order, so the bytes are
//! deterministic.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use crate::api::objects::{Kind, Object, PodPhase};
use crate::runtime::Cluster;
use crate::runtime::output::format_seconds;

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The scenario's `metadata.name`.
    pub scenario: String,
    pub seed: u64,
    /// Sim seconds reached.
    pub end_t_s: String,
    /// Why the run stopped early (a limit), or null when it ran to its duration.
    pub stopped: Option<String>,
    pub events: EventCounts,
    pub metrics_rows: u64,
    /// Stored objects per kind.
    pub objects: BTreeMap<String, u64>,
    pub nodes: NodeCounts,
    /// Pods per phase (all five phases listed).
    pub pods: BTreeMap<String, u64>,
    /// One entry per workload object (Deployment, ReplicaSet, ...), in key order.
    pub workloads: Vec<serde_json::Value>,
    /// Results of `spec.expect`, in the order declared.
    pub expectations: Vec<ExpectationResult>,
    pub warnings: Vec<String>,
    /// Request totals per Service (`spec.traffic`), by `namespace/name`; absent without
    /// traffic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, crate::traffic::metrics::ServiceSummary>,
    /// `sha256(sha256(events.jsonl) ‖ sha256(metrics.csv))`, with `‖ sha256(services.csv)`
    /// when the scenario has traffic.
    pub digest: String,
}

/// The outcome of one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpectationResult {
    pub name: String,
    pub status: ExpectationStatus,
    /// Sim seconds at which it was settled (for a failure: when it was seen to fail).
    pub t_s: Option<String>,
    /// The value observed then.
    pub observed: String,
    /// What was wanted (`>= 3`, `Available=True`).
    pub expected: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectationStatus {
    Passed,
    Failed,
    /// The run ended (e.g. `--until`) before the check's time.
    NotEvaluated,
}

impl Summary {
    /// Whether any expectation failed.
    pub fn expectations_failed(&self) -> bool {
        self.expectations
            .iter()
            .any(|e| e.status == ExpectationStatus::Failed)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct EventCounts {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeCounts {
    pub total: u64,
    pub ready: u64,
}

impl Summary {
    pub fn build(
        cluster: &Cluster,
        scenario: &str,
        stopped: Option<String>,
        warnings: Vec<String>,
        digest: String,
    ) -> Summary {
        let store = cluster.store();
        let stats = cluster.stats();
        let mut objects = BTreeMap::new();
        for kind in Kind::ALL {
            let n = store.list(*kind).count() as u64;
            if n > 0 {
                objects.insert(kind.as_str().to_string(), n);
            }
        }
        let pods = [
            PodPhase::Pending,
            PodPhase::Running,
            PodPhase::Succeeded,
            PodPhase::Failed,
            PodPhase::Unknown,
        ]
        .into_iter()
        .map(|p| (format!("{p:?}"), stats.pods(p)))
        .collect();
        let workloads = store.iter().filter_map(|o| workload_status(o)).collect();
        Summary {
            scenario: scenario.to_string(),
            seed: cluster.config().seed,
            end_t_s: format_seconds(cluster.now()),
            stopped,
            events: EventCounts {
                total: cluster.recorder().total(),
                by_reason: cluster.recorder().by_reason().clone(),
            },
            metrics_rows: cluster.metrics_rows(),
            objects,
            nodes: NodeCounts {
                total: stats.nodes,
                ready: stats.nodes_ready,
            },
            pods,
            workloads,
            expectations: cluster.expectations().to_vec(),
            warnings,
            services: cluster.traffic().summary(),
            digest,
        }
    }
}

fn workload_status(obj: &Object) -> Option<serde_json::Value> {
    let key = crate::api::ObjectKey::of(obj).to_string();
    let v = match obj {
        Object::Deployment(d) => json!({
            "object": key, "desired": d.spec.replicas.unwrap_or(1),
            "replicas": d.status.replicas, "updated": d.status.updated_replicas,
            "ready": d.status.ready_replicas, "available": d.status.available_replicas,
            // The reason of the Progressing condition (e.g. ProgressDeadlineExceeded), if any.
            "progressing": crate::api::meta::find_condition(&d.status.conditions, "Progressing")
                .map(|c| c.reason.clone()),
        }),
        Object::ReplicaSet(rs) => json!({
            "object": key, "desired": rs.spec.replicas.unwrap_or(1),
            "replicas": rs.status.replicas, "ready": rs.status.ready_replicas,
            "available": rs.status.available_replicas,
        }),
        Object::ReplicationController(rc) => json!({
            "object": key, "desired": rc.spec.replicas.unwrap_or(1),
            "replicas": rc.status.replicas, "ready": rc.status.ready_replicas,
            "available": rc.status.available_replicas,
        }),
        Object::StatefulSet(ss) => json!({
            "object": key, "desired": ss.spec.replicas.unwrap_or(1),
            "replicas": ss.status.replicas, "ready": ss.status.ready_replicas,
            "available": ss.status.available_replicas, "updated": ss.status.updated_replicas,
        }),
        Object::DaemonSet(ds) => json!({
            "object": key, "desired": ds.status.desired_number_scheduled,
            "scheduled": ds.status.current_number_scheduled, "ready": ds.status.number_ready,
            "available": ds.status.number_available, "updated": ds.status.updated_number_scheduled,
        }),
        Object::Job(j) => json!({
            "object": key, "completions": j.spec.completions, "parallelism": j.spec.parallelism,
            "active": j.status.active, "succeeded": j.status.succeeded, "failed": j.status.failed,
        }),
        _ => return None,
    };
    Some(v)
}
