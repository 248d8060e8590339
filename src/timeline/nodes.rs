//! Node actions: crash / recover / reboot and kubelet stop / start (the
//! `kubesim.io/node-state` annotation the kubelet fleet obeys), zone outage, cordon /
//! uncordon (`spec.unschedulable`, as `kubectl cordon`), and pool scaling (new nodes stamped
//! from the pool's template, continuing its numbering; removal from the highest index).

use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::{DeleteOptions, Selector};
use crate::kubelet::NODE_STATE_ANNOTATION;
use crate::runtime::Context;
use crate::scenario::pools::{LABEL_POOL, LABEL_ZONE};

use super::{ACTION, Entry, FAILED, HEAL, NodeState, NodeTarget, PoolTemplate, record};

/// Names of the nodes a target picks, in name order.
fn resolve(target: &NodeTarget, ctx: &Context<'_>) -> Vec<String> {
    match target {
        NodeTarget::Name(n) => vec![n.clone()],
        NodeTarget::Selector(s) => matching(s, ctx),
    }
}

fn matching(s: &Selector, ctx: &Context<'_>) -> Vec<String> {
    ctx.list(Kind::Node)
        .iter()
        .filter(|o| s.matches(&o.meta().labels))
        .map(|o| o.meta().name.clone())
        .collect()
}

fn node_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Node, "", name)
}

/// Writes the state annotation on one node; `Running` removes it.
fn write_state(name: &str, state: NodeState, ctx: &mut Context<'_>) -> Result<bool, String> {
    ctx.patch(&node_key(name), |o| {
        let ann = &mut o.meta_mut().annotations;
        match state {
            NodeState::Running => ann.remove(NODE_STATE_ANNOTATION).is_some(),
            s => {
                ann.insert(NODE_STATE_ANNOTATION.into(), s.annotation().into())
                    != Some(s.annotation().into())
            }
        }
    })
    .map(|w| w.is_some())
    .map_err(|e| e.to_string())
}

/// Sets the state of every targeted node; returns the nodes written (to heal later).
pub(super) fn set_state(
    e: &Entry,
    target: &NodeTarget,
    state: NodeState,
    ctx: &mut Context<'_>,
) -> Vec<String> {
    let names = resolve(target, ctx);
    apply_state(e, &names, state, ACTION, ctx)
}

fn apply_state(
    e: &Entry,
    names: &[String],
    state: NodeState,
    reason: &str,
    ctx: &mut Context<'_>,
) -> Vec<String> {
    let mut done = Vec::new();
    for name in names {
        match write_state(name, state, ctx) {
            Ok(_) => {
                record(
                    ctx,
                    reason,
                    e,
                    format!("Node/{name}"),
                    format!("node state {}", state.annotation()),
                );
                done.push(name.clone());
            }
            Err(err) => record(ctx, FAILED, e, format!("Node/{name}"), err),
        }
    }
    if names.is_empty() {
        record(
            ctx,
            FAILED,
            e,
            format!("Timeline/{}", e.name),
            "no node matches".into(),
        );
    }
    done
}

/// Every node of the zone crashes.
pub(super) fn zone_outage(e: &Entry, zone: &str, ctx: &mut Context<'_>) -> Vec<String> {
    let names: Vec<String> = ctx
        .list(Kind::Node)
        .iter()
        .filter(|o| o.meta().labels.get(LABEL_ZONE).map(String::as_str) == Some(zone))
        .map(|o| o.meta().name.clone())
        .collect();
    apply_state(e, &names, NodeState::Crashed, ACTION, ctx)
}

/// The heal of a crash, reboot, kubelet stop or zone outage; returns the live nodes the
/// API refused to write (to retry).
pub(super) fn restore(e: &Entry, names: &[String], ctx: &mut Context<'_>) -> Vec<String> {
    let live: Vec<String> = names
        .iter()
        .filter(|n| ctx.get(&node_key(n)).is_some())
        .cloned()
        .collect();
    let done = apply_state(e, &live, NodeState::Running, HEAL, ctx);
    live.into_iter().filter(|n| !done.contains(n)).collect()
}

fn set_unschedulable(name: &str, on: bool, ctx: &mut Context<'_>) -> Result<(), String> {
    ctx.patch(&node_key(name), |o| match o {
        Object::Node(n) if n.spec.unschedulable != on => {
            n.spec.unschedulable = on;
            true
        }
        _ => false,
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Cordon (or uncordon) the targeted nodes; returns those written.
pub(super) fn cordon(
    e: &Entry,
    target: &NodeTarget,
    on: bool,
    ctx: &mut Context<'_>,
) -> Vec<String> {
    let names = resolve(target, ctx);
    let mut done = Vec::new();
    for name in &names {
        match set_unschedulable(name, on, ctx) {
            Ok(()) => {
                let what = if on { "cordoned" } else { "uncordoned" };
                record(ctx, ACTION, e, format!("Node/{name}"), what.into());
                done.push(name.clone());
            }
            Err(err) => record(ctx, FAILED, e, format!("Node/{name}"), err),
        }
    }
    done
}

/// Starts a `kubectl drain` (a `drain/<node>` component, see
/// [`crate::controllers::drain`]) on each targeted node.
pub(super) fn drain(
    e: &Entry,
    target: &NodeTarget,
    timeout: Option<crate::sim::SimDuration>,
    ctx: &mut Context<'_>,
) {
    let opts = crate::controllers::drain::DrainOptions {
        timeout,
        ..Default::default()
    };
    for name in resolve(target, ctx) {
        ctx.drain(&name, opts.clone());
        record(
            ctx,
            ACTION,
            e,
            format!("Node/{name}"),
            "drain started".into(),
        );
    }
}

/// Uncordons the nodes (a heal); returns the live nodes the API refused to write.
pub(super) fn uncordon_names(e: &Entry, names: &[String], ctx: &mut Context<'_>) -> Vec<String> {
    let mut refused = Vec::new();
    for name in names {
        match set_unschedulable(name, false, ctx) {
            Ok(()) => record(ctx, HEAL, e, format!("Node/{name}"), "uncordoned".into()),
            Err(err) if ctx.get(&node_key(name)).is_some() => {
                record(ctx, FAILED, e, format!("Node/{name}"), err);
                refused.push(name.clone());
            }
            Err(_) => {}
        }
    }
    refused
}

/// Adds `count` nodes to the pool from index `next`; returns how many were created.
pub(super) fn add(
    e: &Entry,
    pool: &PoolTemplate,
    next: u32,
    count: u32,
    ctx: &mut Context<'_>,
) -> u32 {
    let mut spec = pool.spec.clone();
    spec.count = next
        .saturating_add(count)
        .min(crate::scenario::spec::MAX_POOL_NODES);
    let mut created = 0;
    for node in crate::scenario::pools::generate(&spec, &pool.template)
        .into_iter()
        .skip(next as usize)
    {
        let name = node.metadata.name.clone();
        match ctx.create(Object::Node(node)) {
            Ok(_) => {
                created += 1;
                record(
                    ctx,
                    ACTION,
                    e,
                    format!("Node/{name}"),
                    format!("added to pool {}", spec.name),
                );
            }
            Err(err) => record(ctx, FAILED, e, format!("Node/{name}"), err.to_string()),
        }
    }
    // Indexes of failed creates are skipped too, so a retry never reuses a name.
    created.max(spec.count.saturating_sub(next))
}

/// Removes the `count` highest-numbered nodes of the pool.
pub(super) fn remove(e: &Entry, pool: &str, count: u32, ctx: &mut Context<'_>) {
    let mut nodes: Vec<(u64, String)> = ctx
        .list(Kind::Node)
        .iter()
        .filter(|o| o.meta().labels.get(LABEL_POOL).map(String::as_str) == Some(pool))
        .map(|o| {
            let name = o.meta().name.clone();
            let index = name
                .rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (index, name)
        })
        .collect();
    nodes.sort();
    for (_, name) in nodes.iter().rev().take(count as usize) {
        match ctx.delete(&node_key(name), &DeleteOptions::default()) {
            Ok(_) => record(
                ctx,
                ACTION,
                e,
                format!("Node/{name}"),
                format!("removed from pool {pool}"),
            ),
            Err(err) => record(ctx, FAILED, e, format!("Node/{name}"), err.to_string()),
        }
    }
}
