//! Traffic rate changes: the rate joins (or leaves) the annotation
//! `traffic.kubesim.io/<source>` of Namespace `kube-system`, which the traffic component
//! watches; while it is set it replaces the source's scheduled rate.

use crate::api::objects::{Kind, ObjectKey};
use crate::runtime::Context;
use crate::traffic::RATE_ANNOTATION_PREFIX;

use super::{ACTION, Entry, FAILED, HEAL, record};

pub(super) fn set_rate(e: &Entry, source: &str, rate: Option<f64>, ctx: &mut Context<'_>) {
    let key = ObjectKey::new(Kind::Namespace, "", "kube-system");
    let ann_key = format!("{RATE_ANNOTATION_PREFIX}{source}");
    let r = ctx.patch(&key, |o| {
        let ann = &mut o.meta_mut().annotations;
        let before = ann.get(&ann_key).cloned();
        match rate {
            Some(r) => ann.insert(ann_key.clone(), format!("{r}")),
            None => ann.remove(&ann_key),
        };
        ann.get(&ann_key) != before.as_ref()
    });
    let (reason, what) = match rate {
        Some(r) => (ACTION, format!("traffic source {source} at {r} req/s")),
        None => (
            HEAL,
            format!("traffic source {source} back to its schedule"),
        ),
    };
    match r {
        Ok(_) => record(ctx, reason, e, key.to_string(), what),
        Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
    }
}
