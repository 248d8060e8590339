//! Watch events and filters: what a component subscribes to.
//!
//! - A [`WatchFilter`] selects kinds, optionally a namespace, a label selector and a node
//!   name (the field selector `spec.nodeName=...` kubelets use), or bound pods only
//!   (`spec.nodeName!=`, the kubelet fleet's watch).
//! - Filtered watches behave as the API server's: when an object stops matching, the watcher
//!   gets `Deleted`; when it starts matching, `Added` ([`WatchFilter::translate`]).

use std::sync::Arc;

use crate::api::objects::{Kind, Object};
use crate::api::selector::Selector;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
}

/// One change to one object, as a store write produced it.
#[derive(Clone, Debug)]
pub struct Change {
    pub type_: WatchEventType,
    /// The object after the change (for `Deleted`: its last state).
    pub object: Arc<Object>,
    /// The object before the change (`None` for `Added`).
    pub old: Option<Arc<Object>>,
    /// The cluster resourceVersion of this change.
    pub resource_version: u64,
}

/// A watch event as a watcher sees it (after filter translation).
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub type_: WatchEventType,
    pub object: Arc<Object>,
    pub old: Option<Arc<Object>>,
    pub resource_version: u64,
}

/// What a watcher wants to see. `kinds` empty means every kind.
#[derive(Clone, Debug, Default)]
pub struct WatchFilter {
    pub kinds: Vec<Kind>,
    pub namespace: Option<String>,
    pub labels: Option<Selector>,
    /// Only pods bound to this node (`spec.nodeName`).
    pub node_name: Option<String>,
    /// Only pods bound to some node (the field selector `spec.nodeName!=`): the kubelet
    /// fleet's watch. A pod becoming bound is delivered as `Added`.
    pub bound_pods_only: bool,
    /// The watch stands for one watch per node (the kubelet fleet's: each kubelet watches
    /// its own Node and the pods bound to it): the runtime delays each delivery by the
    /// network latency from the control plane to the object's node and keeps delivery
    /// order per node. See [`WatchFilter::node_of`].
    pub per_node: bool,
}

impl WatchFilter {
    pub fn kinds(kinds: &[Kind]) -> Self {
        WatchFilter {
            kinds: kinds.to_vec(),
            ..WatchFilter::default()
        }
    }

    /// Whether `obj` passes the filter.
    pub fn matches(&self, obj: &Object) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&obj.kind()) {
            return false;
        }
        let meta = obj.meta();
        if let Some(ns) = &self.namespace
            && &meta.namespace != ns
        {
            return false;
        }
        if let Some(sel) = &self.labels
            && !sel.matches(&meta.labels)
        {
            return false;
        }
        if let Some(node) = &self.node_name {
            match obj {
                Object::Pod(p) if &p.spec.node_name == node => {}
                _ => return false,
            }
        }
        if self.bound_pods_only {
            match obj {
                Object::Pod(p) if !p.spec.node_name.is_empty() => {}
                _ => return false,
            }
        }
        true
    }

    /// The node a per-node watch delivers `obj` to: a Node itself, a Pod's `spec.nodeName`.
    pub fn node_of(obj: &Object) -> Option<&str> {
        match obj {
            Object::Node(n) => Some(&n.metadata.name),
            Object::Pod(p) if !p.spec.node_name.is_empty() => Some(&p.spec.node_name),
            _ => None,
        }
    }

    /// What this watcher sees of `change`, if anything.
    pub fn translate(&self, change: &Change) -> Option<WatchEvent> {
        let now = self.matches(&change.object);
        let before = change.old.as_deref().is_some_and(|o| self.matches(o));
        let type_ = match (change.type_, before, now) {
            (WatchEventType::Deleted, _, true) => WatchEventType::Deleted,
            (WatchEventType::Added, _, true) => WatchEventType::Added,
            (WatchEventType::Modified, true, true) => WatchEventType::Modified,
            (WatchEventType::Modified, false, true) => WatchEventType::Added,
            (WatchEventType::Modified, true, false) => WatchEventType::Deleted,
            _ => return None,
        };
        Some(WatchEvent {
            type_,
            object: change.object.clone(),
            old: change.old.clone(),
            resource_version: change.resource_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::objects::Pod;

    fn change(old: Option<&str>, new: &str) -> Change {
        let pod = |node: &str| {
            let mut p = Pod::default();
            p.spec.node_name = node.into();
            Arc::new(Object::Pod(p))
        };
        Change {
            type_: if old.is_some() {
                WatchEventType::Modified
            } else {
                WatchEventType::Added
            },
            object: pod(new),
            old: old.map(pod),
            resource_version: 1,
        }
    }

    #[test]
    fn a_bound_pods_watch_sees_a_pod_from_its_binding_on() {
        let f = WatchFilter {
            bound_pods_only: true,
            ..WatchFilter::kinds(&[Kind::Pod])
        };
        assert!(f.translate(&change(None, "")).is_none());
        assert_eq!(
            f.translate(&change(Some(""), "n1")).unwrap().type_,
            WatchEventType::Added
        );
        assert_eq!(
            f.translate(&change(Some("n1"), "n1")).unwrap().type_,
            WatchEventType::Modified
        );
    }
}
