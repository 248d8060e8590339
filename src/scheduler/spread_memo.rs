//! PodTopologySpread's per-domain count tables, memoized across scheduling cycles and kept
//! current as pods come and go (see [`super::cache::Snapshot::spread_counts`]).
//!
//! A table counts the pods of one namespace matching one selector, by value of one topology
//! key, over the nodes having every required key. A cluster with many workloads has a table
//! per workload (the system default constraints give every Deployment's pods their own
//! selector), so the memo finds a table by a hash of its parameters, and a pod added or
//! removed visits only the tables whose selector could match it: each table is filed under
//! one `key=value` its selector requires (an equality or set requirement), and a pod looks
//! up its own labels. Tables whose selector requires no value are visited for every pod.
//! The maps are looked up, never iterated into a result.
//!
//! Bounded: at most [`MAX_TABLES`] tables and [`MAX_ENTRIES`] counts in all, oldest dropped
//! first; everything is dropped on any node change (labels may have moved).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::api::selector::{Labels, Selector};

use super::cache::PodInfo;

/// Most tables kept.
pub const MAX_TABLES: usize = 16_384;
/// Most counts (domains) kept over all tables.
pub const MAX_ENTRIES: usize = 1 << 21;

struct Table {
    namespace: String,
    selector: Selector,
    key: String,
    required_keys: Vec<String>,
    /// Only nonzero counts are kept (a table read by lookups only, never for its domains).
    sparse: bool,
    /// Shared with cycles (copy-on-write when a cycle still holds it).
    counts: Arc<HashMap<String, i64>>,
    /// Where the table is filed (see the module doc); `None`: visited for every pod.
    filed_under: Option<Vec<(String, String)>>,
}

/// What a table counts: pods of `namespace` matching `selector`, by value of `key`, over
/// the nodes having every key in `required_keys` (sorted); `sparse` tables keep only
/// nonzero counts (they are read by lookups only, never for their domains).
#[derive(Clone, Copy, Debug)]
pub struct SpreadQuery<'a> {
    pub namespace: &'a str,
    pub selector: &'a Selector,
    pub key: &'a str,
    pub required_keys: &'a [String],
    pub sparse: bool,
}

impl SpreadQuery<'_> {
    /// The lookup string (selectors that print alike are told apart by [`Self::is`]).
    fn lookup_key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            self.namespace,
            self.key,
            self.required_keys.join(","),
            self.sparse,
            self.selector
        )
    }

    fn is(&self, t: &Table) -> bool {
        t.namespace == self.namespace
            && t.key == self.key
            && &t.selector == self.selector
            && t.required_keys == self.required_keys
            && t.sparse == self.sparse
    }
}

#[derive(Default)]
pub struct SpreadMemo {
    tables: HashMap<u64, Table>,
    /// Lookup string (namespace, key, required keys, selector) → table ids (selectors
    /// that print alike are told apart by structural equality).
    lookup: HashMap<String, Vec<u64>>,
    by_label: HashMap<(String, String), Vec<u64>>,
    unfiled: Vec<u64>,
    /// Ids, oldest first.
    order: VecDeque<u64>,
    next_id: u64,
    entries: usize,
}

/// The `key=value` pairs to file a table under: the values of the selector's first
/// equality or set requirement (a matching pod has one of them).
fn filing(selector: &Selector) -> Option<Vec<(String, String)>> {
    selector.value_requirements().next().map(|r| {
        r.values()
            .iter()
            .map(|v| (r.key().to_string(), v.clone()))
            .collect()
    })
}

impl SpreadMemo {
    pub fn clear(&mut self) {
        *self = SpreadMemo {
            next_id: self.next_id,
            ..SpreadMemo::default()
        };
    }

    /// The table for these parameters, computed by `compute` (and kept) when absent; a
    /// `sparse` table drops the zero counts.
    pub fn get_or_compute(
        &mut self,
        q: &SpreadQuery<'_>,
        compute: impl FnOnce() -> HashMap<String, i64>,
    ) -> Arc<HashMap<String, i64>> {
        let lk = q.lookup_key();
        if let Some(ids) = self.lookup.get(&lk) {
            for id in ids {
                if let Some(t) = self.tables.get(id)
                    && q.is(t)
                {
                    return t.counts.clone();
                }
            }
        }
        let mut counts = compute();
        if q.sparse {
            counts.retain(|_, n| *n != 0);
        }
        let counts = Arc::new(counts);
        self.entries += counts.len();
        let id = self.next_id;
        self.next_id += 1;
        let filed_under = filing(q.selector);
        match &filed_under {
            Some(pairs) => {
                for p in pairs {
                    self.by_label.entry(p.clone()).or_default().push(id);
                }
            }
            None => self.unfiled.push(id),
        }
        self.lookup.entry(lk).or_default().push(id);
        self.tables.insert(
            id,
            Table {
                namespace: q.namespace.to_string(),
                selector: q.selector.clone(),
                key: q.key.to_string(),
                required_keys: q.required_keys.to_vec(),
                sparse: q.sparse,
                counts: counts.clone(),
                filed_under,
            },
        );
        self.order.push_back(id);
        while self.order.len() > MAX_TABLES || (self.entries > MAX_ENTRIES && self.order.len() > 1)
        {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.evict(old);
        }
        counts
    }

    fn evict(&mut self, id: u64) {
        let Some(t) = self.tables.remove(&id) else {
            return;
        };
        self.entries = self.entries.saturating_sub(t.counts.len());
        let drop_id = |ids: &mut Vec<u64>| ids.retain(|&x| x != id);
        match &t.filed_under {
            Some(pairs) => {
                for p in pairs {
                    if let Some(ids) = self.by_label.get_mut(p) {
                        drop_id(ids);
                        if ids.is_empty() {
                            self.by_label.remove(p);
                        }
                    }
                }
            }
            None => drop_id(&mut self.unfiled),
        }
        let lk = SpreadQuery {
            namespace: &t.namespace,
            selector: &t.selector,
            key: &t.key,
            required_keys: &t.required_keys,
            sparse: t.sparse,
        }
        .lookup_key();
        if let Some(ids) = self.lookup.get_mut(&lk) {
            drop_id(ids);
            if ids.is_empty() {
                self.lookup.remove(&lk);
            }
        }
    }

    /// Adds `delta` for `pod` on a node with `node_labels` to every table counting it.
    pub fn adjust(&mut self, node_labels: &Labels, pod: &PodInfo, delta: i64) {
        let p = pod.pod();
        if p.metadata.deletion_timestamp.is_some() || self.tables.is_empty() {
            return;
        }
        let labels = &p.metadata.labels;
        let SpreadMemo {
            tables,
            by_label,
            unfiled,
            entries,
            ..
        } = self;
        let mut visit = |id: u64| {
            let Some(t) = tables.get_mut(&id) else {
                return;
            };
            if t.namespace != p.metadata.namespace
                || !t.selector.matches(labels)
                || !t.required_keys.iter().all(|k| node_labels.contains_key(k))
            {
                return;
            }
            let value = node_labels.get(&t.key).map(String::as_str).unwrap_or("");
            let counts = Arc::make_mut(&mut t.counts);
            match counts.get_mut(value) {
                Some(n) => {
                    *n += delta;
                    if *n == 0 && t.sparse {
                        counts.remove(value);
                        *entries = entries.saturating_sub(1);
                    }
                }
                None => {
                    counts.insert(value.to_string(), delta);
                    *entries += 1;
                }
            }
        };
        for &id in unfiled.iter() {
            visit(id);
        }
        for (k, v) in labels {
            // A pod has one value per key, so a table filed under several values of one
            // key is visited at most once.
            if let Some(ids) = by_label.get(&(k.clone(), v.clone())) {
                for &id in ids {
                    visit(id);
                }
            }
        }
    }
}
