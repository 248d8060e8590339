//! `kubesim explain`: one pod evaluated against every node, with each plugin's verdict and
//! score, in the shape documented in `docs/explain.md`.
//!
//! Unlike a real cycle, explain filters *every* node (no `numFeasibleNodesToFind` cut-off) and
//! scores every feasible one, so the table is complete. A pod that is already bound is
//! evaluated as if it were pending again: it is taken off its node first.

use std::sync::Arc;

use serde::Serialize;

use crate::api::objects::{Kind, Object};
use crate::api::{ObjectKey, Store};
use crate::sim::RngStream;

use super::cache::{NodeInfo, PodInfo, Snapshot};
use super::config::SchedulerConfig;
use super::cycle;
use super::framework::{Code, CycleContext, CycleState};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `namespace/name`.
    pub pod: String,
    /// The profile (`schedulerName`) that evaluated it.
    pub profile: String,
    pub selected_node: Option<String>,
    /// Why no node was selected (the FailedScheduling message), when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub nodes: Vec<NodeExplanation>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeExplanation {
    pub node: String,
    pub feasible: bool,
    pub filters: Vec<FilterResult>,
    pub scores: Vec<ScoreResult>,
    pub total: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FilterResult {
    pub plugin: String,
    pub code: Code,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScoreResult {
    pub plugin: String,
    pub raw: i64,
    pub normalized: i64,
    pub weight: i64,
    pub weighted: i64,
}

impl Snapshot {
    /// The scheduler's view built from the store: nodes in creation order (the order a
    /// scheduler started with the cluster would have seen them), bound non-terminal pods on
    /// their nodes.
    pub fn from_store(store: &Store) -> Snapshot {
        let mut s = Snapshot::default();
        let mut nodes: Vec<&Arc<Object>> = store.list(Kind::Node).collect();
        nodes.sort_by(|a, b| a.meta().uid.cmp(&b.meta().uid));
        for n in nodes {
            s.upsert_node(n.clone());
        }
        for p in store.list(Kind::Pod) {
            if let Object::Pod(pod) = &**p
                && !pod.spec.node_name.is_empty()
                && !pod.status.phase.is_terminal()
                && let Some(info) = PodInfo::new(p.clone())
            {
                s.add_pod(Arc::new(info), &pod.spec.node_name);
            }
        }
        for kind in [
            Kind::Service,
            Kind::ReplicationController,
            Kind::ReplicaSet,
            Kind::StatefulSet,
            Kind::Namespace,
        ] {
            for o in store.list(kind) {
                s.listers.upsert(o);
            }
        }
        s
    }
}

/// Explains how `pod` would be scheduled on `snapshot`.
pub fn explain(
    config: &SchedulerConfig,
    snapshot: &mut Snapshot,
    pod: &Arc<Object>,
    rng: &mut RngStream,
) -> Result<Explanation, String> {
    let Object::Pod(p) = &**pod else {
        return Err("not a pod".into());
    };
    let key = ObjectKey::of(pod);
    let profile = config
        .profile(&p.spec.scheduler_name)
        .ok_or_else(|| format!("no scheduler profile named {:?}", p.spec.scheduler_name))?;
    snapshot.remove_pod(&key);
    let mut pending = p.clone();
    pending.spec.node_name.clear();
    let pending_obj = Arc::new(Object::Pod(pending));
    let info = PodInfo::new(pending_obj.clone()).ok_or("not a pod")?;
    let Object::Pod(pending) = &*pending_obj else {
        unreachable!()
    };
    let snapshot = &*snapshot;
    let cx = CycleContext {
        pod: pending,
        info: &info,
        snapshot,
    };
    let mut state = CycleState::default();
    let mut rows: Vec<NodeExplanation> = snapshot
        .nodes()
        .map(|n| NodeExplanation {
            node: n.name.clone(),
            feasible: false,
            filters: Vec::new(),
            scores: Vec::new(),
            total: 0,
        })
        .collect();
    let mut failed = Vec::new();
    let mut feasible: Vec<usize> = Vec::new();
    match cycle::pre_filter(profile, &cx, &mut state) {
        Err(s) => {
            for (i, row) in rows.iter_mut().enumerate() {
                row.filters.push(FilterResult {
                    plugin: s.plugin.to_string(),
                    code: s.code,
                    reasons: s.reasons.to_strings(),
                });
                failed.push((i, s.clone()));
            }
        }
        Ok(()) => {
            for (i, row) in rows.iter_mut().enumerate() {
                let mut verdicts = Vec::new();
                let s =
                    cycle::filter_node(profile, &cx, &state, snapshot.at(i), Some(&mut verdicts));
                row.filters = verdicts
                    .into_iter()
                    .map(|v| FilterResult {
                        plugin: v.plugin.to_string(),
                        code: v.status.code,
                        reasons: v.status.reasons.to_strings(),
                    })
                    .collect();
                if s.is_success() {
                    row.feasible = true;
                    feasible.push(i);
                } else {
                    failed.push((i, s));
                }
            }
        }
    }
    let mut selected = None;
    if !feasible.is_empty() {
        let nodes: Vec<&NodeInfo> = feasible.iter().map(|&i| snapshot.at(i)).collect();
        let (totals, table) = cycle::prioritize(profile, &cx, &mut state, &nodes, true, None);
        for (k, &i) in feasible.iter().enumerate() {
            rows[i].total = totals[k];
            rows[i].scores = table[k]
                .iter()
                .map(|r| ScoreResult {
                    plugin: r.plugin.to_string(),
                    raw: r.raw,
                    normalized: r.normalized,
                    weight: r.weight,
                    weighted: r.normalized * r.weight,
                })
                .collect();
        }
        selected = cycle::select_host(&totals, rng).map(|k| rows[feasible[k]].node.clone());
    }
    let message = selected
        .is_none()
        .then(|| cycle::fit_error_message(snapshot.len(), &failed, None, ""));
    Ok(Explanation {
        pod: format!("{}/{}", key.namespace, key.name),
        profile: profile.scheduler_name.clone(),
        selected_node: selected,
        message,
        nodes: rows,
    })
}

/// A plain-text table: one line per node with the failing filter or the scores.
pub fn render_table(e: &Explanation) -> String {
    let mut out = format!(
        "pod {} (profile {}): {}\n",
        e.pod,
        e.profile,
        match &e.selected_node {
            Some(n) => format!("selected node {n}"),
            None => format!("no node selected: {}", e.message.as_deref().unwrap_or("")),
        }
    );
    out.push_str(&format!("{:<24} {:>6}  {}\n", "NODE", "TOTAL", "DETAIL"));
    for n in &e.nodes {
        let detail = if n.feasible {
            n.scores
                .iter()
                .map(|s| format!("{}={}×{}", s.plugin, s.normalized, s.weight))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            n.filters
                .last()
                .map(|f| format!("{}: {}", f.plugin, f.reasons.join(", ")))
                .unwrap_or_default()
        };
        let total = if n.feasible {
            n.total.to_string()
        } else {
            "-".into()
        };
        out.push_str(&format!("{:<24} {:>6}  {}\n", n.node, total, detail));
    }
    out
}
