//! Count tables InterPodAffinity's PreFilter needs, memoized across scheduling cycles and
//! kept current as pods come and go, so a cycle costs O(domains) instead of a scan of every
//! pod in the cluster (the scan upstream's PreFilter does each cycle).
//!
//! Each table is first computed by the plugin's own full scan (`compute`), then adjusted
//! by every pod added to or removed from the cache ([`AffinityMemo::adjust`], O(tables ·
//! terms) per pod), and dropped on any node change (labels may have moved). Counts that
//! fall to zero are removed, so a table always equals what the scan would return, map for
//! map (`tests/scheduler_memo.rs` checks this against plain re-computation). Tables are
//! shared with cycles through `Arc` (copy-on-write when a cycle still holds one).

use std::collections::HashMap;
use std::sync::Arc;

use crate::api::selector::Labels;

use super::cache::{AffinityTerm, PodInfo};

/// topology key → value → count (upstream's `topologyToMatchedTermCount`, nested so lookups
/// need no allocation). Lookups only; never iterated into a result.
pub type TopologyCounts = HashMap<String, HashMap<String, i64>>;

/// Most tables of each kind (oldest dropped first).
pub const MEMO_MAX: usize = 64;

/// Counts of existing pods' required anti-affinity terms matching an incoming pod with
/// these namespace, labels and namespace labels.
struct ExistingAntiTable {
    namespace: String,
    labels: Labels,
    ns_labels: Labels,
    counts: Arc<TopologyCounts>,
}

/// Counts of existing pods matching an incoming pod's required affinity terms (all of
/// them) and each of its required anti-affinity terms.
struct IncomingTable {
    affinity_terms: Vec<AffinityTerm>,
    anti_terms: Vec<AffinityTerm>,
    affinity: Arc<TopologyCounts>,
    anti: Arc<TopologyCounts>,
}

/// The memo (one per scheduler cache).
#[derive(Default)]
pub struct AffinityMemo {
    existing_anti: Vec<ExistingAntiTable>,
    incoming: Vec<IncomingTable>,
}

/// Adds `delta` at the node's value of `key` (nothing when the node lacks the key),
/// removing entries that reach zero.
pub fn add_count(counts: &mut TopologyCounts, node_labels: &Labels, key: &str, delta: i64) {
    let Some(v) = node_labels.get(key) else {
        return;
    };
    // Look up before inserting: no allocation once the pair exists.
    if let Some(values) = counts.get_mut(key) {
        if let Some(n) = values.get_mut(v.as_str()) {
            *n += delta;
            if *n == 0 {
                values.remove(v.as_str());
                if values.is_empty() {
                    counts.remove(key);
                }
            }
            return;
        }
        if delta != 0 {
            values.insert(v.clone(), delta);
        }
        return;
    }
    if delta != 0 {
        counts
            .entry(key.to_string())
            .or_default()
            .insert(v.clone(), delta);
    }
}

/// `podMatchesAllAffinityTerms` for the incoming pod's (namespace-merged) terms.
pub fn matches_all(terms: &[AffinityTerm], namespace: &str, labels: &Labels) -> bool {
    !terms.is_empty()
        && terms
            .iter()
            .all(|t| t.matches_parts(namespace, labels, &Labels::new()))
}

impl AffinityMemo {
    /// Drops every table.
    pub fn clear(&mut self) {
        self.existing_anti.clear();
        self.incoming.clear();
    }

    /// Accounts a pod added (`delta` 1) to or removed (`delta` −1) from a node with
    /// `node_labels`.
    pub fn adjust(&mut self, node_labels: &Labels, pod: &PodInfo, delta: i64) {
        let p = pod.pod();
        let (ns, labels) = (&p.metadata.namespace, &p.metadata.labels);
        for t in &mut self.existing_anti {
            for term in &pod.affinity.required_anti_affinity {
                if term.matches_parts(&t.namespace, &t.labels, &t.ns_labels) {
                    add_count(
                        Arc::make_mut(&mut t.counts),
                        node_labels,
                        &term.topology_key,
                        delta,
                    );
                }
            }
        }
        for t in &mut self.incoming {
            if matches_all(&t.affinity_terms, ns, labels) {
                let counts = Arc::make_mut(&mut t.affinity);
                for term in &t.affinity_terms {
                    add_count(counts, node_labels, &term.topology_key, delta);
                }
            }
            for term in &t.anti_terms {
                if term.matches_parts(ns, labels, &Labels::new()) {
                    add_count(
                        Arc::make_mut(&mut t.anti),
                        node_labels,
                        &term.topology_key,
                        delta,
                    );
                }
            }
        }
    }

    /// The existing pods' anti-affinity counts against an incoming pod in `namespace` with
    /// `labels` (its namespace having `ns_labels`); `compute` is the full scan.
    pub fn existing_anti(
        &mut self,
        namespace: &str,
        labels: &Labels,
        ns_labels: &Labels,
        compute: impl FnOnce() -> TopologyCounts,
    ) -> Arc<TopologyCounts> {
        if let Some(t) = self
            .existing_anti
            .iter()
            .find(|t| t.namespace == namespace && &t.labels == labels && &t.ns_labels == ns_labels)
        {
            return t.counts.clone();
        }
        let counts = Arc::new(compute());
        if self.existing_anti.len() >= MEMO_MAX {
            self.existing_anti.remove(0);
        }
        self.existing_anti.push(ExistingAntiTable {
            namespace: namespace.to_string(),
            labels: labels.clone(),
            ns_labels: ns_labels.clone(),
            counts: counts.clone(),
        });
        counts
    }

    /// The (affinity, anti-affinity) counts for an incoming pod's merged required terms;
    /// `compute` is the full scan.
    pub fn incoming(
        &mut self,
        affinity_terms: &[AffinityTerm],
        anti_terms: &[AffinityTerm],
        compute: impl FnOnce() -> (TopologyCounts, TopologyCounts),
    ) -> (Arc<TopologyCounts>, Arc<TopologyCounts>) {
        if let Some(t) = self
            .incoming
            .iter()
            .find(|t| t.affinity_terms == affinity_terms && t.anti_terms == anti_terms)
        {
            return (t.affinity.clone(), t.anti.clone());
        }
        let (affinity, anti) = compute();
        let (affinity, anti) = (Arc::new(affinity), Arc::new(anti));
        if self.incoming.len() >= MEMO_MAX {
            self.incoming.remove(0);
        }
        self.incoming.push(IncomingTable {
            affinity_terms: affinity_terms.to_vec(),
            anti_terms: anti_terms.to_vec(),
            affinity: affinity.clone(),
            anti: anti.clone(),
        });
        (affinity, anti)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_that_reach_zero_disappear() {
        let node: Labels = [("zone".to_string(), "a".to_string())].into();
        let mut c = TopologyCounts::new();
        add_count(&mut c, &node, "zone", 1);
        add_count(&mut c, &node, "zone", 1);
        add_count(&mut c, &node, "host", 1);
        assert_eq!(c["zone"]["a"], 2);
        assert!(!c.contains_key("host"));
        add_count(&mut c, &node, "zone", -2);
        assert!(c.is_empty());
    }
}
