//! Object actions: apply (create objects given inline or in a file, as `kubectl apply` of
//! new objects) and delete (as `kubectl delete`, with background propagation).

use crate::api::DeleteOptions;
use crate::api::objects::{Object, ObjectKey};
use crate::runtime::Context;

use super::{ACTION, Entry, FAILED, record};

pub(super) fn apply(e: &Entry, objects: &[Object], ctx: &mut Context<'_>) {
    for obj in objects {
        match ctx.create(obj.clone()) {
            Ok(created) => {
                let key = ObjectKey::of(&created);
                record(ctx, ACTION, e, key.to_string(), "created".into());
            }
            Err(err) => {
                let key = ObjectKey::of(obj);
                record(ctx, FAILED, e, key.to_string(), err.to_string());
            }
        }
    }
}

pub(super) fn delete(e: &Entry, key: &ObjectKey, ctx: &mut Context<'_>) {
    match ctx.delete(key, &DeleteOptions::default()) {
        Ok(_) => record(ctx, ACTION, e, key.to_string(), "deleted".into()),
        Err(err) => record(ctx, FAILED, e, key.to_string(), err.to_string()),
    }
}
