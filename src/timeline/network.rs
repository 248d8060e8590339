//! Network actions: `networkPartition` (paths between two sets of places cut) and
//! `linkDegradation` (extra latency and/or loss on them), each until its heal.
//!
//! Both are rules on the cluster's [`crate::network::Network`] (`Context::add_network_rule`,
//! a simulator control), on the paths between two sets of places (`from`, `to`) or on named
//! links (`links`). Nodes whose reach to the control plane changes get the annotation
//! [`REACH_ANNOTATION`] written (`"false"`, then `"true"` at the heal): the write through the
//! API is what wakes their kubelet, which then asks the network whether it can reach the
//! control plane. A node created inside a cut zone has no annotation yet; its kubelet asks
//! the network when it first sees the node, and the heal's write wakes it.

use crate::api::objects::{Kind, ObjectKey};
use crate::network::{Effect, PlaceSet, Rule, RuleId, Scope};
use crate::runtime::Context;

use super::spec::{NetTarget, Places};
use super::{ACTION, Entry, FAILED, HEAL, NodeTarget, record};

/// Node annotation, `"false"` while the node cannot reach the control plane because of a
/// `networkPartition`, `"true"` once it can again. A simulator control channel (it wakes the
/// kubelet), not Kubernetes API behaviour; the network itself is the truth.
pub const REACH_ANNOTATION: &str = "kubesim.io/control-plane-reachable";

/// The places of `p` as they are now (selectors matched against live nodes; named nodes
/// that do not exist are reported and left out).
fn resolve(e: &Entry, p: &Places, ctx: &mut Context<'_>) -> PlaceSet {
    let mut set = PlaceSet {
        control_plane: p.control_plane,
        zones: p.zones.iter().cloned().collect(),
        clients: p.clients.iter().cloned().collect(),
        ..PlaceSet::default()
    };
    for t in &p.nodes {
        match t {
            NodeTarget::Name(n) => {
                if ctx.get(&ObjectKey::new(Kind::Node, "", n)).is_some() {
                    set.nodes.insert(n.clone());
                } else {
                    record(ctx, FAILED, e, format!("Node/{n}"), "no such node".into());
                }
            }
            NodeTarget::Selector(s) => {
                for o in ctx.list(Kind::Node) {
                    if s.matches(&o.meta().labels) {
                        set.nodes.insert(o.meta().name.clone());
                    }
                }
            }
        }
    }
    for c in &p.clients {
        if !ctx.network().clients().any(|x| x == c) {
            record(
                ctx,
                FAILED,
                e,
                format!("Client/{c}"),
                "no such client location".into(),
            );
            set.clients.remove(c);
        }
    }
    set
}

/// Starts the rule of a `networkPartition` or `linkDegradation`; `None` when it covers
/// nothing (a side is empty, or no named link exists).
pub(super) fn start(
    e: &Entry,
    target: &NetTarget,
    effect: Effect,
    ctx: &mut Context<'_>,
) -> Option<RuleId> {
    let (scope, what) = match target {
        NetTarget::Between { from, to } => {
            let a = resolve(e, from, ctx);
            let b = resolve(e, to, ctx);
            if a.is_empty() || b.is_empty() {
                record(
                    ctx,
                    FAILED,
                    e,
                    format!("Timeline/{}", e.name),
                    "no place matches on one side".into(),
                );
                return None;
            }
            let what = format!("[{}] <-> [{}]", a.describe(), b.describe());
            (Scope::Between(a, b), what)
        }
        NetTarget::Links(links) => {
            let mut live = Vec::new();
            for [x, y] in links {
                if ctx.network().topology().link_between(x, y).is_some() {
                    live.push([x.clone(), y.clone()]);
                } else {
                    record(
                        ctx,
                        FAILED,
                        e,
                        format!("Network/{}", e.name),
                        format!("no link {x} - {y}"),
                    );
                }
            }
            if live.is_empty() {
                return None;
            }
            let names: Vec<String> = live.iter().map(|[x, y]| format!("{x} - {y}")).collect();
            (Scope::Links(live), format!("links {}", names.join(", ")))
        }
    };
    let how = match &effect {
        Effect::Cut => "cut".to_string(),
        Effect::Degrade { latency, loss } => {
            let mut parts = Vec::new();
            if let Some(d) = latency {
                parts.push(format!("+{} latency", crate::network::spec::nominal(d)));
            }
            if *loss > 0.0 {
                parts.push(format!("{loss} loss"));
            }
            format!("degraded ({})", parts.join(", "))
        }
    };
    let detail = format!("{how}: {what}");
    let before = ctx.network().nodes_cut_from_control_plane();
    let id = ctx.add_network_rule(Rule { scope, effect });
    record(ctx, ACTION, e, format!("Network/{}", e.name), detail);
    nudge(e, &before, ACTION, ctx);
    Some(id)
}

/// Heals a rule started by [`start`].
pub(super) fn heal(e: &Entry, id: RuleId, ctx: &mut Context<'_>) {
    let before = ctx.network().nodes_cut_from_control_plane();
    if ctx.remove_network_rule(id) {
        record(ctx, HEAL, e, format!("Network/{}", e.name), "healed".into());
    }
    nudge(e, &before, HEAL, ctx);
}

/// Marks the nodes whose reach to the control plane changed since `before`.
fn nudge(
    e: &Entry,
    before: &std::collections::BTreeSet<String>,
    reason: &str,
    ctx: &mut Context<'_>,
) {
    let after = ctx.network().nodes_cut_from_control_plane();
    let changed: Vec<(String, bool)> = after
        .difference(before)
        .map(|n| (n.clone(), true))
        .chain(before.difference(&after).map(|n| (n.clone(), false)))
        .collect();
    for (name, cut) in changed {
        let key = ObjectKey::new(Kind::Node, "", &name);
        let written = ctx.patch(&key, |o| {
            let value = if cut { "false" } else { "true" };
            let ann = &mut o.meta_mut().annotations;
            ann.insert(REACH_ANNOTATION.into(), value.into()).as_deref() != Some(value)
        });
        let detail = if cut {
            "cut off from the control plane"
        } else {
            "reaches the control plane again"
        };
        match written {
            Ok(_) => record(ctx, reason, e, format!("Node/{name}"), detail.into()),
            Err(err) => record(ctx, FAILED, e, format!("Node/{name}"), err.to_string()),
        }
    }
}
