//! Rollback as `kubectl rollout undo` does it (kubectl's `polymorphichelpers/rollback.go`,
//! `DeploymentRollbacker`): the client copies an old ReplicaSet's template (without its
//! pod-template-hash label) and annotations into the Deployment and updates it. The
//! controller then finds that ReplicaSet as the new one and gives it revision max + 1.
//!
//! ```no_run
//! # use kubesim::api::{Object, ObjectKey};
//! # use kubesim::api::objects::Kind;
//! # fn demo(cluster: &mut kubesim::runtime::Cluster) {
//! let key = ObjectKey::new(Kind::Deployment, "default", "web");
//! let Some(Object::Deployment(d)) = cluster.store().get(&key).map(|o| (**o).clone()) else {
//!     return;
//! };
//! let sets = cluster.store().list(Kind::ReplicaSet).filter_map(|o| match &**o {
//!     Object::ReplicaSet(rs) => Some(rs.clone()),
//!     _ => None,
//! });
//! let undone = kubesim::controllers::deployment::rollout_undo(&d, sets, 0).unwrap();
//! cluster.update(Object::Deployment(undone)).unwrap();
//! # }
//! ```

use crate::api::objects::workloads::{Deployment, ReplicaSet};

use super::util;

/// Why a rollback was not done (kubectl's messages).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    #[error(
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
    )]
    Paused,
    #[error("unable to find specified revision {0} in history")]
    RevisionNotFound(i64),
    #[error("no rollout history found for deployment {0:?}")]
    NoHistory(String),
    #[error("skipped rollback (current template already matches revision {0})")]
    AlreadyMatches(i64),
}

/// The Deployment `kubectl rollout undo --to-revision=<to_revision>` would write (0: the
/// revision before the latest). `sets` may hold any ReplicaSets; only those the Deployment
/// controls count. The result carries the Deployment's resourceVersion, ready for
/// `Cluster::update`.
pub fn rollout_undo(
    d: &Deployment,
    sets: impl IntoIterator<Item = ReplicaSet>,
    to_revision: i64,
) -> Result<Deployment, RollbackError> {
    if d.spec.paused {
        return Err(RollbackError::Paused);
    }
    let owned: Vec<ReplicaSet> = sets
        .into_iter()
        .filter(|rs| {
            rs.metadata.namespace == d.metadata.namespace
                && rs
                    .metadata
                    .controller_ref()
                    .is_some_and(|r| r.uid == d.metadata.uid)
        })
        .collect();
    let mut latest: Option<(i64, &ReplicaSet)> = None;
    let mut previous: Option<(i64, &ReplicaSet)> = None;
    let mut target = None;
    for rs in &owned {
        let Ok(v) = util::revision(rs) else { continue };
        if to_revision == 0 {
            if latest.is_none_or(|(l, _)| l < v) {
                previous = latest;
                latest = Some((v, rs));
            } else if previous.is_none_or(|(p, _)| p < v) {
                previous = Some((v, rs));
            }
        } else if v == to_revision {
            target = Some((v, rs));
            break;
        }
    }
    let (revision, rs) = match (to_revision, target, previous) {
        (0, _, Some(p)) => p,
        (0, _, None) => return Err(RollbackError::NoHistory(d.metadata.name.clone())),
        (_, Some(t), _) => t,
        (n, None, _) => return Err(RollbackError::RevisionNotFound(n)),
    };
    if util::equal_ignore_hash(&rs.spec.template, &d.spec.template) {
        return Err(RollbackError::AlreadyMatches(revision));
    }
    let mut out = d.clone();
    out.spec.template = rs.spec.template.clone();
    out.spec
        .template
        .metadata
        .labels
        .remove(util::POD_TEMPLATE_HASH_LABEL);
    // kubectl replaces the annotations: the Deployment keeps its own of the never-copied
    // keys and takes the ReplicaSet's others.
    let skip = |k: &String| util::ANNOTATIONS_TO_SKIP.contains(&k.as_str());
    out.metadata.annotations.retain(|k, _| skip(k));
    for (k, v) in &rs.metadata.annotations {
        if !skip(k) {
            out.metadata.annotations.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}
