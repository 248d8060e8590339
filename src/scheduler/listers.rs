//! What the scheduler knows about objects other than Pods and Nodes: the informer listers
//! upstream plugins read.
//!
//! - PodTopologySpread's system default constraints need the selectors of the Services,
//!   ReplicationControllers, ReplicaSets and StatefulSets selecting a pod
//!   (`pkg/scheduler/framework/plugins/helper/spread.go`, `DefaultSelector`).
//! - InterPodAffinity's `namespaceSelector` needs Namespace labels
//!   (`pkg/scheduler/framework/plugins/interpodaffinity/plugin.go`,
//!   `mergeAffinityTermNamespacesIfNotEmpty`, `GetNamespaceLabelsSnapshot`).
//!
//! Only selectors and labels are kept, in ordered maps (iteration is deterministic).

use std::collections::BTreeMap;

use crate::api::objects::Object;
use crate::api::objects::pod::Pod;
use crate::api::selector::{LabelSelector, Labels, Selector};
use crate::api::{WatchEvent, WatchEventType};

/// (namespace, name).
type NsName = (String, String);

#[derive(Clone, Debug, Default)]
pub struct Listers {
    /// Service selectors (empty selectors are not kept: they select nothing to merge).
    services: BTreeMap<NsName, Labels>,
    replication_controllers: BTreeMap<NsName, Labels>,
    replica_sets: BTreeMap<NsName, Option<LabelSelector>>,
    stateful_sets: BTreeMap<NsName, Option<LabelSelector>>,
    /// Namespace name -> labels.
    namespaces: BTreeMap<String, Labels>,
}

fn ns_name(obj: &Object) -> NsName {
    let m = obj.meta();
    (m.namespace.clone(), m.name.clone())
}

impl Listers {
    /// Records an added or modified object (other kinds are ignored).
    pub fn upsert(&mut self, obj: &Object) {
        match obj {
            Object::Service(s) => {
                if s.spec.selector.is_empty() {
                    self.services.remove(&ns_name(obj));
                } else {
                    self.services.insert(ns_name(obj), s.spec.selector.clone());
                }
            }
            Object::ReplicationController(rc) => {
                self.replication_controllers
                    .insert(ns_name(obj), rc.spec.selector.clone());
            }
            Object::ReplicaSet(rs) => {
                self.replica_sets
                    .insert(ns_name(obj), rs.spec.selector.clone());
            }
            Object::StatefulSet(ss) => {
                self.stateful_sets
                    .insert(ns_name(obj), ss.spec.selector.clone());
            }
            Object::Namespace(ns) => {
                self.namespaces
                    .insert(ns.metadata.name.clone(), ns.metadata.labels.clone());
            }
            _ => {}
        }
    }

    /// Forgets a deleted object.
    pub fn remove(&mut self, obj: &Object) {
        let key = ns_name(obj);
        match obj {
            Object::Service(_) => {
                self.services.remove(&key);
            }
            Object::ReplicationController(_) => {
                self.replication_controllers.remove(&key);
            }
            Object::ReplicaSet(_) => {
                self.replica_sets.remove(&key);
            }
            Object::StatefulSet(_) => {
                self.stateful_sets.remove(&key);
            }
            Object::Namespace(_) => {
                self.namespaces.remove(&key.1);
            }
            _ => {}
        }
    }

    /// Applies one watch event.
    pub fn apply(&mut self, event: &WatchEvent) {
        match event.type_ {
            WatchEventType::Deleted => self.remove(&event.object),
            _ => self.upsert(&event.object),
        }
    }

    /// The labels of namespace `ns`, if the namespace is known.
    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        self.namespaces.get(ns)
    }

    /// Names of the namespaces whose labels `sel` matches, in name order.
    pub fn namespaces_matching<'a>(&'a self, sel: &'a Selector) -> impl Iterator<Item = &'a str> {
        self.namespaces
            .iter()
            .filter(move |(_, l)| sel.matches(l))
            .map(|(n, _)| n.as_str())
    }

    /// `helper.DefaultSelector`: the labels of every Service in the pod's namespace whose
    /// selector matches the pod, merged (in name order, later keys win as `labels.Merge`),
    /// then the selector of the pod's controller when it is a ReplicationController (merged
    /// into the label set), a ReplicaSet or a StatefulSet (its requirements added).
    pub fn default_selector(&self, pod: &Pod) -> Selector {
        let ns = pod.metadata.namespace.as_str();
        let mut set = Labels::new();
        for (_, sel) in self
            .services
            .range((ns.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == ns)
        {
            if Selector::from_map(sel).matches(&pod.metadata.labels) {
                set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let mut selector = Selector::from_map(&set);
        let Some(owner) = pod.metadata.controller_ref() else {
            return selector;
        };
        let key = (ns.to_string(), owner.name.clone());
        match (owner.api_version.as_str(), owner.kind.as_str()) {
            ("v1", "ReplicationController") => {
                if let Some(sel) = self.replication_controllers.get(&key) {
                    set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
                    selector = Selector::from_map(&set);
                }
            }
            ("apps/v1", "ReplicaSet") | ("apps/v1", "StatefulSet") => {
                let found = if owner.kind == "ReplicaSet" {
                    self.replica_sets.get(&key)
                } else {
                    self.stateful_sets.get(&key)
                };
                // A nil selector is labels.Nothing(), which has no requirements to add.
                if let Some(Some(ls)) = found
                    && let Ok(other) = ls.to_selector()
                {
                    selector = selector.with_requirements(other.requirements().iter().cloned());
                }
            }
            _ => {}
        }
        selector
    }
}
