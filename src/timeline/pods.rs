//! Pod actions: delete (graceful, as `kubectl delete pod -l`), container kill (through the
//! kubelet's `kubesim.io/kill-container` hook) and label changes (as
//! `kubectl label pod -l`, e.g. to quarantine a pod out of its ReplicaSet's selector).

use crate::api::DeleteOptions;
use crate::api::objects::{Kind, ObjectKey};
use crate::runtime::Context;

use super::{ACTION, Entry, FAILED, PodTarget, record};

/// Keys of the live, non-terminating pods the target picks, in key order, at most `limit`.
fn resolve(target: &PodTarget, ctx: &Context<'_>) -> Vec<ObjectKey> {
    let keys = matching(target, ctx);
    match target.pick {
        Some(pick) if !keys.is_empty() => {
            let i = (pick % keys.len() as u64) as usize;
            vec![keys[i].clone()]
        }
        _ => keys,
    }
}

fn matching(target: &PodTarget, ctx: &Context<'_>) -> Vec<ObjectKey> {
    ctx.list(Kind::Pod)
        .iter()
        .filter(|o| {
            let m = o.meta();
            (target.namespace.is_empty() || m.namespace == target.namespace)
                && !m.is_terminating()
                && target.selector.matches(&m.labels)
        })
        .take(target.limit.map_or(usize::MAX, |n| n as usize))
        .map(|o| ObjectKey::of(o))
        .collect()
}

fn none_matched(e: &Entry, ctx: &mut Context<'_>) {
    record(
        ctx,
        FAILED,
        e,
        format!("Timeline/{}", e.name),
        "no pod matches".into(),
    );
}

pub(super) fn delete(e: &Entry, target: &PodTarget, ctx: &mut Context<'_>) {
    let keys = resolve(target, ctx);
    if keys.is_empty() {
        none_matched(e, ctx);
    }
    for key in keys {
        match ctx.delete(&key, &DeleteOptions::default()) {
            Ok(_) => record(ctx, ACTION, e, key.to_string(), "deleted".into()),
            Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
        }
    }
}

/// Container kill: a new value of the pod's `kubesim.io/kill-container` annotation, which the
/// kubelet answers by killing the named (or every) running container with 137.
pub(super) fn kill(e: &Entry, target: &PodTarget, container: Option<&str>, ctx: &mut Context<'_>) {
    let keys = resolve(target, ctx);
    if keys.is_empty() {
        none_matched(e, ctx);
    }
    let which = container.unwrap_or("*");
    let value = format!("{which}/{}", ctx.now().as_nanos());
    for key in keys {
        let r = ctx.patch(&key, |o| {
            o.meta_mut()
                .annotations
                .insert(crate::kubelet::KILL_ANNOTATION.into(), value.clone());
            true
        });
        match r {
            Ok(_) => record(
                ctx,
                ACTION,
                e,
                key.to_string(),
                format!("kill container {which}"),
            ),
            Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
        }
    }
}

pub(super) fn label(
    e: &Entry,
    target: &PodTarget,
    add: &std::collections::BTreeMap<String, String>,
    remove: &[String],
    ctx: &mut Context<'_>,
) {
    let keys = resolve(target, ctx);
    if keys.is_empty() {
        none_matched(e, ctx);
    }
    let mut what: Vec<String> = add.iter().map(|(k, v)| format!("{k}={v}")).collect();
    what.extend(remove.iter().map(|k| format!("{k}-")));
    let what = what.join(" ");
    for key in keys {
        let r = ctx.patch(&key, |o| {
            let labels = &mut o.meta_mut().labels;
            let before = labels.clone();
            for k in remove {
                labels.remove(k);
            }
            for (k, v) in add {
                labels.insert(k.clone(), v.clone());
            }
            *labels != before
        });
        match r {
            Ok(_) => record(ctx, ACTION, e, key.to_string(), format!("labels {what}")),
            Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
        }
    }
}
