//! Image registry outage: the image pattern joins (or leaves) the comma-separated list in
//! the `kubesim.io/registry-outage` annotation of Namespace `kube-system`, which the kubelet
//! reads at each pull; pulls of matching images fail while it is listed.

use crate::api::objects::{Kind, ObjectKey};
use crate::kubelet::REGISTRY_OUTAGE_ANNOTATION;
use crate::runtime::Context;

use super::{ACTION, Entry, FAILED, HEAL, record};

pub(super) fn outage(e: &Entry, image: &str, down: bool, ctx: &mut Context<'_>) {
    let key = ObjectKey::new(Kind::Namespace, "", "kube-system");
    let r = ctx.patch(&key, |o| {
        let ann = &mut o.meta_mut().annotations;
        let mut patterns: Vec<String> = ann
            .get(REGISTRY_OUTAGE_ANNOTATION)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let before = patterns.clone();
        if down {
            if !patterns.iter().any(|p| p == image) {
                patterns.push(image.to_string());
            }
        } else {
            patterns.retain(|p| p != image);
        }
        if patterns.is_empty() {
            ann.remove(REGISTRY_OUTAGE_ANNOTATION);
        } else {
            ann.insert(REGISTRY_OUTAGE_ANNOTATION.into(), patterns.join(","));
        }
        patterns != before
    });
    let (reason, what) = if down {
        (ACTION, format!("registry down for images {image}"))
    } else {
        (HEAL, format!("registry back for images {image}"))
    };
    match r {
        Ok(_) => record(ctx, reason, e, key.to_string(), what),
        Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
    }
}
