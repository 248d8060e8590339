//! A controller's cache of pods, indexed so a sync reads only the pods it can concern.
//!
//! Upstream controllers list every pod of a namespace from their informer on each sync
//! (`podLister.Pods(ns).List(...)`) and then claim or select: O(pods in the namespace) per
//! sync, which over a scale-up of N pods in one namespace is O(N²). The index gives the
//! same pods, in the same (key) order, from two maps kept current as pods come and go:
//!
//! - by controller uid, plus the orphans: claiming ([`super::pods::claim_pods`]) skips pods
//!   another controller owns, so a controller's candidates are its own pods and the
//!   namespace's orphans ([`PodIndex::claim_candidates`]);
//! - by label `key=value`: a selector with an equality or set requirement reads the pods
//!   carrying one of its values instead of the namespace ([`PodIndex::selecting`]); the
//!   full selector is still checked on each.
//!
//! Both maps are looked up, never iterated into a result, so their hashing order cannot
//! reach an output.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::selector::Selector;

#[derive(Default)]
pub struct PodIndex {
    pods: BTreeMap<ObjectKey, Arc<Object>>,
    by_owner: HashMap<String, BTreeSet<ObjectKey>>,
    orphans: BTreeSet<ObjectKey>,
    by_label: HashMap<(String, String), BTreeSet<ObjectKey>>,
}

/// The pods of `namespace` in a key-ordered set (a range scan).
fn in_namespace<'a>(
    set: &'a BTreeSet<ObjectKey>,
    namespace: &'a str,
) -> impl Iterator<Item = &'a ObjectKey> + 'a {
    set.range(ObjectKey::new(Kind::Pod, namespace.to_string(), String::new())..)
        .take_while(move |k| k.kind == Kind::Pod && k.namespace == namespace)
}

impl PodIndex {
    pub fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.pods.get(key)
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Every pod, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Arc<Object>)> {
        self.pods.iter()
    }

    /// Adds or replaces the pod at `key`.
    pub fn insert(&mut self, key: ObjectKey, obj: Arc<Object>) {
        // The common update (a status change) keeps the labels and the owner: no reindex.
        if let Some(old) = self.pods.get_mut(&key) {
            let (m, n) = (old.meta(), obj.meta());
            if m.labels == n.labels
                && m.controller_ref().map(|r| &r.uid) == n.controller_ref().map(|r| &r.uid)
            {
                *old = obj;
                return;
            }
        }
        self.remove(&key);
        let meta = obj.meta();
        match meta.controller_ref() {
            Some(r) => {
                self.by_owner
                    .entry(r.uid.clone())
                    .or_default()
                    .insert(key.clone());
            }
            None => {
                self.orphans.insert(key.clone());
            }
        }
        for (k, v) in &meta.labels {
            self.by_label
                .entry((k.clone(), v.clone()))
                .or_default()
                .insert(key.clone());
        }
        self.pods.insert(key, obj);
    }

    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<Object>> {
        let obj = self.pods.remove(key)?;
        let meta = obj.meta();
        match meta.controller_ref() {
            Some(r) => {
                if let Some(set) = self.by_owner.get_mut(&r.uid) {
                    set.remove(key);
                    if set.is_empty() {
                        self.by_owner.remove(&r.uid);
                    }
                }
            }
            None => {
                self.orphans.remove(key);
            }
        }
        for (k, v) in &meta.labels {
            // A lookup by borrowed parts would need a custom key type; the pair is cheap
            // next to the O(namespace) scan it replaces.
            let pair = (k.clone(), v.clone());
            if let Some(set) = self.by_label.get_mut(&pair) {
                set.remove(key);
                if set.is_empty() {
                    self.by_label.remove(&pair);
                }
            }
        }
        Some(obj)
    }

    fn entries<'a>(
        &'a self,
        keys: impl Iterator<Item = &'a ObjectKey> + 'a,
    ) -> impl Iterator<Item = (ObjectKey, Arc<Object>)> + 'a {
        keys.filter_map(|k| self.pods.get(k).map(|o| (k.clone(), o.clone())))
    }

    /// The pods of `namespace` a controller with uid `owner_uid` may claim: those it owns
    /// and the orphans, in key order (what upstream's namespace list gives `ClaimPods`,
    /// minus the pods other controllers own, which claiming skips).
    pub fn claim_candidates(
        &self,
        namespace: &str,
        owner_uid: &str,
    ) -> Vec<(ObjectKey, Arc<Object>)> {
        let mut keys: Vec<&ObjectKey> = in_namespace(&self.orphans, namespace).collect();
        if let Some(owned) = self.by_owner.get(owner_uid) {
            keys.extend(in_namespace(owned, namespace));
            keys.sort_unstable();
        }
        self.entries(keys.into_iter()).collect()
    }

    /// The pods of `namespace` matching `selector`, in key order.
    pub fn selecting(&self, namespace: &str, selector: &Selector) -> Vec<(ObjectKey, Arc<Object>)> {
        if selector.is_nothing() {
            return Vec::new();
        }
        // The value requirement with the fewest candidate pods (in any namespace).
        let narrowest = selector.narrowest_buckets(
            |k, v| self.by_label.get(&(k.to_string(), v.to_string())),
            BTreeSet::len,
        );
        let matching = |(_, o): &(ObjectKey, Arc<Object>)| selector.matches(&o.meta().labels);
        match narrowest {
            None => self
                .pods
                .range(ObjectKey::new(Kind::Pod, namespace.to_string(), String::new())..)
                .take_while(|(k, _)| k.kind == Kind::Pod && k.namespace == namespace)
                .map(|(k, o)| (k.clone(), o.clone()))
                .filter(matching)
                .collect(),
            Some(sets) => {
                let mut keys: Vec<&ObjectKey> = sets
                    .iter()
                    .flat_map(|s| in_namespace(s, namespace))
                    .collect();
                if sets.len() > 1 {
                    keys.sort_unstable();
                    keys.dedup();
                }
                self.entries(keys.into_iter()).filter(matching).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, labels: serde_json::Value, owner: Option<&str>) -> Arc<Object> {
        let mut meta = json!({"name": name, "namespace": ns, "labels": labels});
        if let Some(uid) = owner {
            meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "name": "rs", "uid": uid, "controller": true}]);
        }
        Arc::new(
            Object::from_json(
                Kind::Pod,
                json!({"metadata": meta, "spec": {"containers": []}}),
            )
            .expect("pod"),
        )
    }

    fn names(v: &[(ObjectKey, Arc<Object>)]) -> Vec<String> {
        v.iter().map(|(k, _)| k.name.clone()).collect()
    }

    /// The indexed queries equal a filtered scan of the namespace, through inserts,
    /// relabels, ownership changes and removals.
    #[test]
    fn queries_equal_a_scan_of_the_namespace() {
        let mut idx = PodIndex::default();
        let scan = |idx: &PodIndex, ns: &str, keep: &dyn Fn(&Object) -> bool| -> Vec<String> {
            idx.iter()
                .filter(|(k, o)| k.namespace == ns && keep(o))
                .map(|(k, _)| k.name.clone())
                .collect()
        };
        for (i, ns) in ["a", "b", "a", "a", "b", "a"].iter().enumerate() {
            let app = ["web", "db"][i % 2];
            let owner = [Some("u1"), None, Some("u2")][i % 3];
            idx.insert(
                ObjectKey::new(Kind::Pod, *ns, format!("p{i}")),
                pod(
                    ns,
                    &format!("p{i}"),
                    json!({"app": app, "tier": "x"}),
                    owner,
                ),
            );
        }
        // p0 relabelled and orphaned, p1 removed.
        idx.insert(
            ObjectKey::new(Kind::Pod, "a", "p0"),
            pod("a", "p0", json!({"app": "db"}), None),
        );
        idx.remove(&ObjectKey::new(Kind::Pod, "b", "p1"));
        for sel in ["app=web", "app in (web,db)", "tier=x,app!=db", "!tier", ""] {
            let s = Selector::parse(sel).expect("selector");
            for ns in ["a", "b"] {
                assert_eq!(
                    names(&idx.selecting(ns, &s)),
                    scan(&idx, ns, &|o| s.matches(&o.meta().labels)),
                    "{sel} in {ns}"
                );
            }
        }
        for uid in ["u1", "u2", "u3"] {
            for ns in ["a", "b"] {
                let keep = |o: &Object| o.meta().controller_ref().is_none_or(|r| r.uid == uid);
                assert_eq!(
                    names(&idx.claim_candidates(ns, uid)),
                    scan(&idx, ns, &keep),
                    "{uid} in {ns}"
                );
            }
        }
        assert!(idx.selecting("a", &Selector::nothing()).is_empty());
    }
}
