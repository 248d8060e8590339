//! InterPodAffinity (`pkg/scheduler/framework/plugins/interpodaffinity/`).
//!
//! Follows upstream `filtering.go` (PreFilter/Filter), `scoring.go`
//! (PreScore/Score/NormalizeScore) and `plugin.go` (args, `mergeAffinityTermNamespacesIfNotEmpty`,
//! `GetNamespaceLabelsSnapshot`); terms are parsed once per pod in
//! [`crate::scheduler::cache::PodAffinityInfo`] (upstream `framework.NewPodInfo`).
//!
//! - PreFilter counts, per (topology key, value): existing pods whose required anti-affinity
//!   terms match the incoming pod (only nodes holding such pods are visited); existing pods
//!   matching *all* the incoming pod's required affinity terms; existing pods matching each
//!   of its required anti-affinity terms. Skip when all three are irrelevant.
//! - Filter, in order: required affinity (UnschedulableAndUnresolvable; a node missing a key
//!   fails; when no pod matches anywhere and the pod matches its own terms, it passes: the
//!   first pod of a group), required anti-affinity (Unschedulable), existing pods'
//!   anti-affinity (Unschedulable).
//! - Score: Σ over the node's labels of `topologyScore[key][value]`, built from the incoming
//!   pod's preferred (anti-)affinity against existing pods (±weight) and existing pods'
//!   required affinity (`hardPodAffinityWeight`) and preferred (anti-)affinity against the
//!   incoming pod (±weight). Normalize: `int64(100·(s−min)/(max−min))`, all 0 if max = min.
//! - The incoming pod's `namespaceSelector` is expanded to the matching Namespaces' names;
//!   existing pods' terms match the incoming pod's namespace labels.
//!
//! Not modelled: the PreFilter AddPod/RemovePod extensions (preemption is not implemented).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::api::objects::pod::Pod;
use crate::api::selector::{Labels, Selector};
use crate::scheduler::cache::{AffinityTerm, NodeInfo, PodAffinityInfo, WeightedAffinityTerm};
use crate::scheduler::framework::{
    Code, CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status,
};
use crate::scheduler::listers::Listers;
use crate::scheduler::memo::{TopologyCounts, add_count};

pub const NAME: &str = "InterPodAffinity";
const PRE_FILTER_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_KEY: &str = "PreScoreInterPodAffinity";

pub const ERR_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

/// `InterPodAffinityArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InterPodAffinityArgs {
    /// Default 1; valid 0..=100.
    pub hard_pod_affinity_weight: Option<i32>,
    pub ignore_preferred_terms_of_existing_pods: bool,
}

pub struct InterPodAffinity {
    hard_pod_affinity_weight: i32,
    ignore_preferred_terms_of_existing_pods: bool,
}

impl InterPodAffinity {
    /// Defaults and validates as `SetDefaults_InterPodAffinityArgs` and
    /// `ValidateInterPodAffinityArgs`.
    pub fn new(args: InterPodAffinityArgs) -> Result<InterPodAffinity, String> {
        let w = args.hard_pod_affinity_weight.unwrap_or(1);
        if !(0..=100).contains(&w) {
            return Err(format!(
                "InterPodAffinity args: hardPodAffinityWeight: Invalid value: {w}: not in valid range [0-100]"
            ));
        }
        Ok(InterPodAffinity {
            hard_pod_affinity_weight: w,
            ignore_preferred_terms_of_existing_pods: args.ignore_preferred_terms_of_existing_pods,
        })
    }
}

/// `mergeAffinityTermNamespacesIfNotEmpty`: a non-empty namespace selector becomes the names
/// of the namespaces it selects, and then selects nothing.
fn merge_namespaces(term: &mut AffinityTerm, listers: &Listers) {
    if term.namespace_selector.is_everything() {
        return;
    }
    let names: Vec<String> = listers
        .namespaces_matching(&term.namespace_selector)
        .map(str::to_string)
        .collect();
    for n in names {
        if !term.namespaces.contains(&n) {
            term.namespaces.push(n);
        }
    }
    term.namespace_selector = Selector::nothing();
}

fn empty_labels() -> &'static Labels {
    static EMPTY: std::sync::OnceLock<Labels> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Labels::new)
}

/// `GetNamespaceLabelsSnapshot`: the pod's namespace labels, empty when unknown.
fn namespace_labels(listers: &Listers, ns: &str) -> Labels {
    listers.namespace_labels(ns).cloned().unwrap_or_default()
}

/// `podMatchesAllAffinityTerms` (the incoming pod's terms have their namespace selector
/// merged, so no namespace labels are needed).
fn matches_all(terms: &[AffinityTerm], pod: &Pod) -> bool {
    crate::scheduler::memo::matches_all(terms, &pod.metadata.namespace, &pod.metadata.labels)
}

fn add(counts: &mut TopologyCounts, node: &NodeInfo, key: &str, value: i64) {
    add_count(counts, node.labels(), key, value);
}

struct PreFilterState {
    existing_anti: Arc<TopologyCounts>,
    affinity: Arc<TopologyCounts>,
    anti: Arc<TopologyCounts>,
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
}

fn count_at(counts: &TopologyCounts, node: &NodeInfo, key: &str) -> Option<i64> {
    let v = node.labels().get(key)?;
    Some(counts.get(key).and_then(|m| m.get(v)).copied().unwrap_or(0))
}

/// `satisfyPodAffinity`.
fn satisfies_affinity(s: &PreFilterState, pod: &Pod, node: &NodeInfo) -> bool {
    let mut pods_exist = true;
    for t in &s.required_affinity {
        match count_at(&s.affinity, node, &t.topology_key) {
            None => return false,
            Some(n) if n <= 0 => pods_exist = false,
            Some(_) => {}
        }
    }
    if !pods_exist {
        // The first pod of a group with affinity to itself.
        return s.affinity.is_empty() && matches_all(&s.required_affinity, pod);
    }
    true
}

/// `satisfyPodAntiAffinity`.
fn satisfies_anti_affinity(s: &PreFilterState, node: &NodeInfo) -> bool {
    if s.anti.is_empty() {
        return true;
    }
    !s.required_anti_affinity
        .iter()
        .any(|t| count_at(&s.anti, node, &t.topology_key).is_some_and(|n| n > 0))
}

/// `satisfyExistingPodsAntiAffinity`.
fn satisfies_existing_anti_affinity(s: &PreFilterState, node: &NodeInfo) -> bool {
    if s.existing_anti.is_empty() {
        return true;
    }
    !node.labels().iter().any(|(k, v)| {
        s.existing_anti
            .get(k)
            .and_then(|m| m.get(v))
            .is_some_and(|n| *n > 0)
    })
}

/// topology key → value → score.
type ScoreMap = HashMap<String, HashMap<String, i64>>;

struct PreScoreState {
    topology_score: ScoreMap,
}

fn process_term(
    m: &mut ScoreMap,
    term: &AffinityTerm,
    weight: i32,
    pod: &Pod,
    ns_labels: &Labels,
    node: &NodeInfo,
    multiplier: i64,
) {
    if term.matches(pod, ns_labels)
        && let Some(v) = node.labels().get(&term.topology_key)
    {
        let delta = i64::from(weight) * multiplier;
        if let Some(n) = m
            .get_mut(term.topology_key.as_str())
            .and_then(|x| x.get_mut(v.as_str()))
        {
            *n += delta;
            return;
        }
        *m.entry(term.topology_key.clone())
            .or_default()
            .entry(v.clone())
            .or_insert(0) += delta;
    }
}

fn process_terms(
    m: &mut ScoreMap,
    terms: &[WeightedAffinityTerm],
    pod: &Pod,
    ns_labels: &Labels,
    node: &NodeInfo,
    multiplier: i64,
) {
    for t in terms {
        process_term(m, &t.term, t.weight, pod, ns_labels, node, multiplier);
    }
}

/// `NormalizeScore`: `int64(100·(s−min)/(max−min))` in float64; all 0 when max = min.
pub fn normalize_affinity_scores(scores: &mut [i64]) {
    let (Some(&min), Some(&max)) = (scores.iter().min(), scores.iter().max()) else {
        return;
    };
    let diff = i128::from(max) - i128::from(min);
    for s in scores.iter_mut() {
        let f = if diff > 0 {
            MAX_NODE_SCORE as f64 * ((i128::from(*s) - i128::from(min)) as f64 / diff as f64)
        } else {
            0.0
        };
        *s = f as i64;
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::ALL
    }

    fn pre_filter(&self, cx: &CycleContext<'_>, state: &mut CycleState) -> Status {
        let pod = cx.pod;
        let info: &PodAffinityInfo = &cx.info.affinity;
        if let Some(e) = &info.parse_error {
            return Status::unresolvable(format!("parsing pod: {e}"));
        }
        let listers = &cx.snapshot.listers;
        let mut required_affinity = info.required_affinity.clone();
        let mut required_anti_affinity = info.required_anti_affinity.clone();
        for t in required_affinity
            .iter_mut()
            .chain(required_anti_affinity.iter_mut())
        {
            merge_namespaces(t, listers);
        }
        let ns_labels = namespace_labels(listers, &pod.metadata.namespace);

        // Both tables come from the cache's memo (kept current pod by pod); the closures
        // are upstream's full scans, run the first time a table is asked for.
        let snapshot = cx.snapshot;
        let existing_anti = if snapshot.pods_with_required_anti_affinity() > 0 {
            snapshot.existing_anti_counts(pod, &ns_labels, || {
                let mut counts = TopologyCounts::new();
                for node in snapshot.nodes() {
                    for existing in &node.pods_with_required_anti_affinity {
                        for t in &existing.affinity.required_anti_affinity {
                            if t.matches(pod, &ns_labels) {
                                add(&mut counts, node, &t.topology_key, 1);
                            }
                        }
                    }
                }
                counts
            })
        } else {
            Arc::default()
        };

        let (affinity, anti) = if !required_affinity.is_empty()
            || !required_anti_affinity.is_empty()
        {
            snapshot.incoming_affinity_counts(&required_affinity, &required_anti_affinity, || {
                let mut affinity = TopologyCounts::new();
                let mut anti = TopologyCounts::new();
                for node in snapshot.nodes() {
                    for existing in &node.pods {
                        let ep = existing.pod();
                        if matches_all(&required_affinity, ep) {
                            for t in &required_affinity {
                                add(&mut affinity, node, &t.topology_key, 1);
                            }
                        }
                        for t in &required_anti_affinity {
                            if t.matches(ep, empty_labels()) {
                                add(&mut anti, node, &t.topology_key, 1);
                            }
                        }
                    }
                }
                (affinity, anti)
            })
        } else {
            (Arc::default(), Arc::default())
        };

        if existing_anti.is_empty()
            && required_affinity.is_empty()
            && required_anti_affinity.is_empty()
        {
            return Status::skip();
        }
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                existing_anti,
                affinity,
                anti,
                required_affinity,
                required_anti_affinity,
            },
        );
        Status::success()
    }

    fn filter(&self, cx: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::new(
                Code::Error,
                format!("error reading {PRE_FILTER_KEY:?} from cycleState: not found"),
            );
        };
        if !satisfies_affinity(s, cx.pod, node) {
            return Status::unresolvable(ERR_AFFINITY);
        }
        if !satisfies_anti_affinity(s, node) {
            return Status::unschedulable(ERR_ANTI_AFFINITY);
        }
        if !satisfies_existing_anti_affinity(s, node) {
            return Status::unschedulable(ERR_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }

    fn pre_score(&self, cx: &CycleContext<'_>, state: &mut CycleState, _: &[&NodeInfo]) -> Status {
        let pod = cx.pod;
        let spec_affinity = pod.spec.affinity.as_ref();
        let has_preferred = |pa: Option<&crate::api::objects::pod::PodAffinity>| {
            pa.is_some_and(|p| {
                !p.preferred_during_scheduling_ignored_during_execution
                    .is_empty()
            })
        };
        let has_constraints = has_preferred(spec_affinity.and_then(|a| a.pod_affinity.as_ref()))
            || has_preferred(spec_affinity.and_then(|a| a.pod_anti_affinity.as_ref()));
        if self.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        let info = &cx.info.affinity;
        if let Some(e) = &info.parse_error {
            return Status::new(Code::Error, format!("failed to parse pod: {e}"));
        }
        let listers = &cx.snapshot.listers;
        let mut preferred_affinity = info.preferred_affinity.clone();
        let mut preferred_anti_affinity = info.preferred_anti_affinity.clone();
        for t in preferred_affinity
            .iter_mut()
            .chain(preferred_anti_affinity.iter_mut())
        {
            merge_namespaces(&mut t.term, listers);
        }
        let ns_labels = namespace_labels(listers, &pod.metadata.namespace);
        let mut score = ScoreMap::new();
        let mut any = false;
        // Without preferred terms of its own, only existing pods' required affinity and
        // preferred terms can score: none cached means every node's score is 0.
        if !has_constraints && cx.snapshot.pods_with_scoring_terms() == 0 {
            return Status::skip();
        }
        for node in cx.snapshot.nodes() {
            let pods = if has_constraints {
                &node.pods
            } else {
                &node.pods_with_affinity
            };
            if pods.is_empty() || node.labels().is_empty() {
                continue;
            }
            let mut topo = ScoreMap::new();
            for existing in pods {
                let ep = existing.pod();
                let ea = &existing.affinity;
                process_terms(&mut topo, &preferred_affinity, ep, empty_labels(), node, 1);
                process_terms(
                    &mut topo,
                    &preferred_anti_affinity,
                    ep,
                    empty_labels(),
                    node,
                    -1,
                );
                if self.hard_pod_affinity_weight > 0 {
                    for t in &ea.required_affinity {
                        process_term(
                            &mut topo,
                            t,
                            self.hard_pod_affinity_weight,
                            pod,
                            &ns_labels,
                            node,
                            1,
                        );
                    }
                }
                process_terms(&mut topo, &ea.preferred_affinity, pod, &ns_labels, node, 1);
                process_terms(
                    &mut topo,
                    &ea.preferred_anti_affinity,
                    pod,
                    &ns_labels,
                    node,
                    -1,
                );
            }
            if !topo.is_empty() {
                any = true;
                for (k, values) in topo {
                    let dst = score.entry(k).or_default();
                    for (v, n) in values {
                        *dst.entry(v).or_insert(0) += n;
                    }
                }
            }
        }
        if !any {
            return Status::skip();
        }
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                topology_score: score,
            },
        );
        Status::success()
    }

    fn score(&self, _: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return 0;
        };
        let labels = node.labels();
        // An exact sum (i128 cannot overflow here), so the map's iteration order cannot
        // change it.
        let sum: i128 = s
            .topology_score
            .iter()
            .filter_map(|(k, values)| labels.get(k).and_then(|v| values.get(v)))
            .map(|n| i128::from(*n))
            .sum();
        sum.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    fn normalize(&self, _: &CycleContext<'_>, state: &CycleState, scores: &mut [i64]) {
        match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) if !s.topology_score.is_empty() => normalize_affinity_scores(scores),
            _ => {}
        }
    }

    fn has_normalize(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_is_min_max_scaled_and_truncated() {
        let mut s = [-3, 0, 7];
        normalize_affinity_scores(&mut s);
        // 100*3/10 = 30, 100*10/10 = 100.
        assert_eq!(s, [0, 30, 100]);
        let mut s = [1, 2, 4];
        normalize_affinity_scores(&mut s);
        // 100*(1/3) = 33.33 -> 33.
        assert_eq!(s, [0, 33, 100]);
        let mut s = [5, 5];
        normalize_affinity_scores(&mut s);
        assert_eq!(s, [0, 0]);
    }

    #[test]
    fn args_default_and_validate() {
        let p = InterPodAffinity::new(InterPodAffinityArgs::default());
        assert!(p.as_ref().is_ok_and(|p| p.hard_pod_affinity_weight == 1));
        let bad = InterPodAffinityArgs {
            hard_pod_affinity_weight: Some(101),
            ..InterPodAffinityArgs::default()
        };
        assert!(InterPodAffinity::new(bad).is_err());
        let zero = InterPodAffinityArgs {
            hard_pod_affinity_weight: Some(0),
            ..InterPodAffinityArgs::default()
        };
        assert!(InterPodAffinity::new(zero).is_ok());
    }
}
