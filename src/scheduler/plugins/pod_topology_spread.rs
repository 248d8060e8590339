//! PodTopologySpread (`pkg/scheduler/framework/plugins/podtopologyspread/`).
//!
//! Follows upstream `common.go` (constraints, `matchLabelKeys`, inclusion policies, counting),
//! `filtering.go` (PreFilter/Filter), `scoring.go` (PreScore/Score/NormalizeScore) and
//! `plugin.go` (args, system default constraints), with `helper/spread.go`
//! (`DefaultSelector`) for the default constraints' selector.
//!
//! - Constraints: the pod's own, filtered by `whenUnsatisfiable` (DoNotSchedule for the
//!   filter, ScheduleAnyway for scoring); a pod with none gets the default constraints with
//!   the selector of the Services/RCs/RSs/StatefulSets selecting it (none when that selector
//!   is empty). `minDomains` defaults to 1, `nodeAffinityPolicy` to Honor,
//!   `nodeTaintsPolicy` to Ignore. `matchLabelKeys` adds `key=value` for the keys the pod has.
//! - Counting: pods on a node that are not terminating, are in the incoming pod's namespace
//!   and match the selector (a nil selector matches nothing). A node counts when it has all
//!   the constraints' topology keys and passes the inclusion policies.
//! - Filter: a node lacking a key is UnschedulableAndUnresolvable; otherwise
//!   `count[value] + selfMatch − globalMin > maxSkew` is Unschedulable, with globalMin = 0
//!   while there are fewer domains than `minDomains`.
//! - Score: `round(Σ cnt·ln(size+2) + (maxSkew−1))`, normalized as
//!   `100·(max+min−s)/max` (100 for all when max is 0); nodes lacking a key (when all keys
//!   are required) score 0.
//!
//! Data structures (exact; off with `plain_counts`, compared in `tests/scheduler_memo.rs`):
//! PreFilter's and PreScore's counts come from the snapshot's memo
//! ([`Snapshot::spread_counts`], [`crate::scheduler::spread_memo`]) when no inclusion policy
//! depends on the pod (upstream recounts every pod of the cluster each cycle; PreScore's
//! hostname counts are a sparse table by node); PreScore and Score index domains by the
//! snapshot's interned ids; Filter
//! finds a node's domain through the snapshot's interned ids ([`Snapshot::domain_ids`]), an
//! array index per node instead of a label lookup and a hash; failures carry `&'static str`
//! reasons (no allocation per failing node).
//!
//! Not modelled: the PreFilter AddPod/RemovePod extensions (used by preemption, which is
//! not implemented yet), and upstream's parallelism.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::api::objects::pod::{
    NodeInclusionPolicy, Pod, TaintEffect, TopologySpreadConstraint, UnsatisfiableConstraintAction,
};
use crate::api::scheduling::{first_untolerated, required_node_affinity_matches};
use crate::api::selector::{Selector, selector_from_option};
use crate::scheduler::cache::{DomainIds, NodeInfo, Snapshot};
use crate::scheduler::framework::{
    Code, CycleContext, CycleState, MAX_NODE_SCORE, Plugin, Points, Status,
};
use crate::scheduler::spread_memo::SpreadQuery;

pub const NAME: &str = "PodTopologySpread";
const PRE_FILTER_KEY: &str = "PreFilterPodTopologySpread";
const PRE_SCORE_KEY: &str = "PreScorePodTopologySpread";

/// `v1.LabelHostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `v1.LabelTopologyZone`.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// `ErrReasonConstraintsNotMatch`.
pub const ERR_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
/// `ErrReasonNodeLabelNotMatch`.
pub const ERR_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// `PodTopologySpreadConstraintsDefaulting`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum DefaultingType {
    #[default]
    System,
    List,
}

/// `PodTopologySpreadArgs` (kubescheduler.config.k8s.io/v1). `defaultingType` defaults to
/// System (`SetDefaults_PodTopologySpreadArgs`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodTopologySpreadArgs {
    pub default_constraints: Vec<TopologySpreadConstraint>,
    pub defaulting_type: Option<DefaultingType>,
}

/// `systemDefaultConstraints` (`plugin.go`).
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    vec![
        TopologySpreadConstraint {
            max_skew: 3,
            topology_key: LABEL_HOSTNAME.into(),
            when_unsatisfiable: UnsatisfiableConstraintAction::ScheduleAnyway,
            ..TopologySpreadConstraint::default()
        },
        TopologySpreadConstraint {
            max_skew: 5,
            topology_key: LABEL_ZONE.into(),
            when_unsatisfiable: UnsatisfiableConstraintAction::ScheduleAnyway,
            ..TopologySpreadConstraint::default()
        },
    ]
}

pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
}

impl PodTopologySpread {
    /// Validates as `ValidatePodTopologySpreadArgs` and builds the plugin.
    pub fn new(args: PodTopologySpreadArgs) -> Result<PodTopologySpread, String> {
        let ty = args.defaulting_type.unwrap_or_default();
        let p = "PodTopologySpread args";
        if ty == DefaultingType::System && !args.default_constraints.is_empty() {
            return Err(format!(
                "{p}: defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty"
            ));
        }
        for (i, c) in args.default_constraints.iter().enumerate() {
            if c.max_skew <= 0 {
                return Err(format!(
                    "{p}: defaultConstraints[{i}].maxSkew: Invalid value: {}: not in valid range",
                    c.max_skew
                ));
            }
            if c.topology_key.is_empty() {
                return Err(format!(
                    "{p}: defaultConstraints[{i}].topologyKey: Required value: can not be empty"
                ));
            }
            if c.label_selector.is_some() {
                return Err(format!(
                    "{p}: defaultConstraints[{i}].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"
                ));
            }
            if args.default_constraints[..i].iter().any(|o| {
                o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
            }) {
                return Err(format!(
                    "{p}: defaultConstraints[{i}]: Duplicate value: \"{{{}, {:?}}}\"",
                    c.topology_key, c.when_unsatisfiable
                ));
            }
        }
        Ok(match ty {
            DefaultingType::System => PodTopologySpread {
                default_constraints: system_default_constraints(),
                system_defaulted: true,
            },
            DefaultingType::List => PodTopologySpread {
                default_constraints: args.default_constraints,
                system_defaulted: false,
            },
        })
    }
}

/// The internal constraint (`topologySpreadConstraint`), selector parsed.
#[derive(Clone, Debug)]
pub struct Constraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub selector: Selector,
    pub min_domains: i32,
    pub node_affinity_policy: NodeInclusionPolicy,
    pub node_taints_policy: NodeInclusionPolicy,
}

impl Constraint {
    /// `matchNodeInclusionPolicies`. `node_affinity` is false when the pod has neither a
    /// nodeSelector nor a required node affinity (every node matches: no need to check).
    fn includes_node(&self, pod: &Pod, node: &NodeInfo, node_affinity: bool) -> bool {
        if node_affinity
            && self.node_affinity_policy == NodeInclusionPolicy::Honor
            && !required_node_affinity_matches(pod, node.node())
        {
            return false;
        }
        if self.node_taints_policy == NodeInclusionPolicy::Honor
            && first_untolerated(
                &node.node().spec.taints,
                &pod.spec.tolerations,
                &[TaintEffect::NoSchedule, TaintEffect::NoExecute],
            )
            .is_some()
        {
            return false;
        }
        true
    }
}

/// `filterTopologySpreadConstraints`: the constraints with `action`, selectors parsed and
/// `matchLabelKeys` merged (`mergeLabelSetWithSelector`: the pod's `key=value` pairs plus
/// the selector's requirements; a nil selector contributes none).
pub fn filter_constraints(
    constraints: &[TopologySpreadConstraint],
    pod: &Pod,
    action: UnsatisfiableConstraintAction,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == action)
    {
        let mut selector =
            selector_from_option(c.label_selector.as_ref()).map_err(|e| e.to_string())?;
        let labels = &pod.metadata.labels;
        let match_labels: std::collections::BTreeMap<String, String> = c
            .match_label_keys
            .iter()
            .filter_map(|k| labels.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        if !match_labels.is_empty() {
            selector = Selector::from_map(&match_labels)
                .with_requirements(selector.requirements().iter().cloned());
        }
        out.push(Constraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1),
            node_affinity_policy: c.node_affinity_policy.unwrap_or(NodeInclusionPolicy::Honor),
            node_taints_policy: c.node_taints_policy.unwrap_or(NodeInclusionPolicy::Ignore),
        });
    }
    Ok(out)
}

impl PodTopologySpread {
    /// `buildDefaultConstraints`.
    fn default_constraints_for(
        &self,
        pod: &Pod,
        snapshot: &Snapshot,
        action: UnsatisfiableConstraintAction,
    ) -> Result<Vec<Constraint>, String> {
        let mut constraints = filter_constraints(&self.default_constraints, pod, action)?;
        if constraints.is_empty() {
            return Ok(constraints);
        }
        let selector = snapshot.listers.default_selector(pod);
        if selector.is_everything() {
            return Ok(Vec::new());
        }
        for c in &mut constraints {
            c.selector = selector.clone();
        }
        Ok(constraints)
    }

    /// The pod's own constraints with `action`, or the default ones when it has none.
    fn constraints(
        &self,
        pod: &Pod,
        snapshot: &Snapshot,
        action: UnsatisfiableConstraintAction,
    ) -> Result<Vec<Constraint>, String> {
        if pod.spec.topology_spread_constraints.is_empty() {
            self.default_constraints_for(pod, snapshot, action)
        } else {
            filter_constraints(&pod.spec.topology_spread_constraints, pod, action)
        }
    }
}

/// Whether the pod has a nodeSelector or a required node affinity.
fn has_required_node_affinity(pod: &Pod) -> bool {
    !pod.spec.node_selector.is_empty()
        || crate::api::scheduling::required_node_selector(pod).is_some()
}

/// Adds `n` to `value`'s count, allocating the key only for a new value.
fn bump(counts: &mut HashMap<String, i64>, value: &str, n: i64) {
    match counts.get_mut(value) {
        Some(x) => *x += n,
        None => {
            counts.insert(value.to_string(), n);
        }
    }
}

/// `nodeLabelsMatchSpreadConstraints`: the node has every constraint's key.
fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    let labels = node.labels();
    constraints
        .iter()
        .all(|c| labels.contains_key(&c.topology_key))
}

/// `countPodsMatchSelector`: non-terminating pods in `ns` matching `selector`.
pub fn count_matching(node: &NodeInfo, selector: &Selector, ns: &str) -> i64 {
    if selector.is_nothing() || node.pods.is_empty() {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| {
            let pod = p.pod();
            pod.metadata.deletion_timestamp.is_none()
                && pod.metadata.namespace == ns
                && selector.matches(&pod.metadata.labels)
        })
        .count() as i64
}

/// Visits every snapshot node that has the constraints' keys (all of them when
/// `require_all`) and, for each constraint `i` whose inclusion policies admit the node and
/// for which `wanted(i, value)` holds, calls `f(i, topology value, matching pods on the
/// node)`. The one counting loop behind PreFilter, PreScore and their memo.
fn for_each_node_count(
    cx: &CycleContext<'_>,
    constraints: &[Constraint],
    require_all: bool,
    wanted: impl Fn(usize, &str) -> bool,
    mut f: impl FnMut(usize, &str, i64),
) {
    let pod = cx.pod;
    let ns = pod.metadata.namespace.as_str();
    let node_affinity = has_required_node_affinity(pod);
    for node in cx.snapshot.nodes() {
        if require_all && !has_all_keys(node, constraints) {
            continue;
        }
        let labels = node.labels();
        for (i, c) in constraints.iter().enumerate() {
            if !c.includes_node(pod, node, node_affinity) {
                continue;
            }
            let value = labels
                .get(&c.topology_key)
                .map(String::as_str)
                .unwrap_or("");
            if wanted(i, value) {
                f(i, value, count_matching(node, &c.selector, ns));
            }
        }
    }
}

/// Whether no inclusion policy depends on the incoming pod (then counts are the same for
/// every pod with these constraints, and the snapshot's memo can hold them).
fn pod_independent(constraints: &[Constraint], pod: &Pod) -> bool {
    let node_affinity = has_required_node_affinity(pod);
    constraints.iter().all(|c| {
        (!node_affinity || c.node_affinity_policy == NodeInclusionPolicy::Ignore)
            && c.node_taints_policy == NodeInclusionPolicy::Ignore
    })
}

/// The constraints' topology keys, sorted and deduplicated (a memo table's required keys).
fn sorted_keys(constraints: &[Constraint]) -> Vec<String> {
    let mut keys: Vec<String> = constraints.iter().map(|c| c.topology_key.clone()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Constraint `i`'s counts by topology value over every node counted with `require_all`,
/// from the snapshot's memo (the full count on the first request).
fn memo_counts(
    cx: &CycleContext<'_>,
    constraints: &[Constraint],
    i: usize,
    require_all: bool,
    required_keys: &[String],
    sparse: bool,
) -> Arc<HashMap<String, i64>> {
    let c = &constraints[i];
    let ns = cx.pod.metadata.namespace.as_str();
    let q = SpreadQuery {
        namespace: ns,
        selector: &c.selector,
        key: &c.topology_key,
        required_keys,
        sparse,
    };
    cx.snapshot.spread_counts(&q, || {
        let mut m = HashMap::new();
        for_each_node_count(
            cx,
            constraints,
            require_all,
            |j, _| j == i,
            |_, value, n| bump(&mut m, value, n),
        );
        m
    })
}

/// PreFilter result: per constraint, matching pods per topology value and the minimum.
struct PreFilterState {
    constraints: Vec<Constraint>,
    counts: Vec<Arc<HashMap<String, i64>>>,
    /// Minimum over domains (`math.MaxInt32` when there are none), the critical path.
    min: Vec<i64>,
    /// Per constraint: 1 when the incoming pod matches its own selector (`selfMatchNum`),
    /// computed once per cycle instead of once per node.
    self_match: Vec<i64>,
    /// Per constraint: the snapshot's node → domain id table for its key and the counts by
    /// id, so Filter indexes arrays instead of looking up the node's label and hashing the
    /// value. `None` with `plain_counts` (Filter then reads labels and `counts`).
    by_id: Option<Vec<(Arc<DomainIds>, Vec<i64>)>>,
}

impl PreFilterState {
    /// `minMatchNum`: the global minimum, 0 while #domains < minDomains.
    fn min_match(&self, i: usize) -> i64 {
        if (self.counts[i].len() as i64) < i64::from(self.constraints[i].min_domains) {
            0
        } else {
            self.min[i]
        }
    }
}

/// PreScore result. Domains are the snapshot's interned ids ([`Snapshot::domain_ids`]), so
/// Score reads arrays instead of looking up labels and hashing values.
struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Whether a candidate lacking a constraint's key is ignored (`requireAllTopologies`):
    /// upstream's `IgnoredNodes` are exactly the candidates lacking one.
    require_all: bool,
    /// Per candidate node (PreScore order, which is NormalizeScore's): ignored or not.
    ignored_at: Vec<bool>,
    /// Per constraint: the key's domain ids and, for a non-hostname key (empty for the
    /// hostname key), the matching pods per candidate domain by id (index `ids.len()`: the nodes lacking the key, upstream's
    /// empty value, counted only when not every key is required).
    domains: Vec<(Arc<DomainIds>, Vec<i64>)>,
    /// Per hostname constraint, when the memo holds it and no two nodes share a hostname:
    /// matching pods by node's hostname id, sorted, so Score finds a node's count without
    /// scanning its pods.
    host_counts: Vec<Option<Vec<(u32, i64)>>>,
    /// `topologyNormalizingWeight` per constraint.
    weights: Vec<f64>,
}

/// A domain no candidate node is in (PreScore's dense counts).
const NOT_CANDIDATE: i64 = -1;

/// The dense index of `node`'s domain: its id; when it lacks the key, upstream's empty
/// value (the id of a `""` label value if some node has one, else `ids.len()`).
fn slot_of(ids: &DomainIds, node: &NodeInfo) -> usize {
    match ids.of(node) {
        DomainIds::MISSING => empty_slot(ids),
        id => id as usize,
    }
}

/// The dense index of the empty value.
fn empty_slot(ids: &DomainIds) -> usize {
    ids.id("").map_or(ids.len(), |id| id as usize)
}

/// The value of dense index `id` (the empty value for `ids.len()`).
fn value_of(ids: &DomainIds, id: usize) -> &str {
    ids.value(id as u32).unwrap_or("")
}

/// `topologyNormalizingWeight`: ln(size + 2).
pub fn topology_normalizing_weight(size: usize) -> f64 {
    ((size + 2) as f64).ln()
}

/// `scoreForCount`: cnt·weight + (maxSkew − 1).
pub fn score_for_count(cnt: i64, max_skew: i32, weight: f64) -> f64 {
    cnt as f64 * weight + f64::from(max_skew) - 1.0
}

/// NormalizeScore: ignored nodes (and raw −1, upstream's invalid marker) get 0; with
/// max = 0 every other node gets 100; otherwise `100·(max+min−s)/max`, integer division.
pub fn normalize_spread_scores(scores: &mut [i64], ignored: &[bool]) {
    const INVALID: i64 = -1;
    let mut min = i64::MAX;
    let mut max = 0i64;
    for (k, s) in scores.iter_mut().enumerate() {
        if ignored.get(k).copied().unwrap_or(false) {
            *s = INVALID;
            continue;
        }
        min = min.min(*s);
        max = max.max(*s);
    }
    for s in scores.iter_mut() {
        if *s == INVALID {
            *s = 0;
            continue;
        }
        if max == 0 {
            *s = MAX_NODE_SCORE;
            continue;
        }
        let v = i128::from(MAX_NODE_SCORE) * (i128::from(max) + i128::from(min) - i128::from(*s))
            / i128::from(max);
        *s = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::ALL
    }

    /// `calPreFilterState` over every node of the snapshot.
    fn pre_filter(&self, cx: &CycleContext<'_>, state: &mut CycleState) -> Status {
        let pod = cx.pod;
        let constraints = match self.constraints(
            pod,
            cx.snapshot,
            UnsatisfiableConstraintAction::DoNotSchedule,
        ) {
            Ok(c) => c,
            Err(e) => {
                return Status::new(Code::Error, format!("get constraints from pod: {e}"));
            }
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        // When no inclusion policy depends on the incoming pod, the counts are the same for
        // every pod with these constraints: take them from the snapshot's memo.
        let counts: Vec<Arc<HashMap<String, i64>>> = if pod_independent(&constraints, pod) {
            let keys = sorted_keys(&constraints);
            (0..constraints.len())
                .map(|i| memo_counts(cx, &constraints, i, true, &keys, false))
                .collect()
        } else {
            let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
            for_each_node_count(
                cx,
                &constraints,
                true,
                |_, _| true,
                |i, value, n| bump(&mut counts[i], value, n),
            );
            counts.into_iter().map(Arc::new).collect()
        };
        let min = counts
            .iter()
            .map(|m| m.values().copied().min().unwrap_or(i64::from(i32::MAX)))
            .collect();
        let self_match = constraints
            .iter()
            .map(|c| i64::from(c.selector.matches(&pod.metadata.labels)))
            .collect();
        let by_id = (!cx.snapshot.plain_counts).then(|| {
            constraints
                .iter()
                .zip(&counts)
                .map(|(c, m)| {
                    let ids = cx.snapshot.domain_ids(&c.topology_key);
                    let mut dense = vec![0i64; ids.len()];
                    for (value, n) in m.iter() {
                        // Every counted value is some node's label value, so it has an id.
                        if let Some(id) = ids.id(value) {
                            dense[id as usize] = *n;
                        }
                    }
                    (ids, dense)
                })
                .collect()
        });
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                constraints,
                counts,
                min,
                self_match,
                by_id,
            },
        );
        Status::success()
    }

    fn filter(&self, _cx: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::new(
                Code::Error,
                format!("reading {PRE_FILTER_KEY:?} from cycleState: not found"),
            );
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let match_num = match &s.by_id {
                Some(by_id) => {
                    let (ids, dense) = &by_id[i];
                    let id = ids.of(node);
                    if id == DomainIds::MISSING {
                        return Status::unresolvable(ERR_NODE_LABEL_NOT_MATCH);
                    }
                    dense.get(id as usize).copied().unwrap_or(0)
                }
                None => {
                    let Some(value) = node.labels().get(&c.topology_key) else {
                        return Status::unresolvable(ERR_NODE_LABEL_NOT_MATCH);
                    };
                    s.counts[i].get(value).copied().unwrap_or(0)
                }
            };
            let self_match = s.self_match[i];
            let skew = match_num + self_match - s.min_match(i);
            if skew > i64::from(c.max_skew) {
                return Status::unschedulable(ERR_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }

    /// `initPreScoreState` over the candidates, then counts over every node of the snapshot.
    fn pre_score(
        &self,
        cx: &CycleContext<'_>,
        state: &mut CycleState,
        nodes: &[&NodeInfo],
    ) -> Status {
        if cx.snapshot.is_empty() {
            return Status::skip();
        }
        let pod = cx.pod;
        let own = !pod.spec.topology_spread_constraints.is_empty();
        let require_all = own || !self.system_defaulted;
        let constraints = match self.constraints(
            pod,
            cx.snapshot,
            UnsatisfiableConstraintAction::ScheduleAnyway,
        ) {
            Ok(c) => c,
            Err(e) => {
                return Status::new(Code::Error, format!("calculating preScoreState: {e}"));
            }
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        let domains: Vec<(Arc<DomainIds>, Vec<i64>)> = constraints
            .iter()
            .map(|c| {
                let ids = cx.snapshot.domain_ids(&c.topology_key);
                // Hostname counts are per node (Score), never per domain: no array.
                let n = if c.topology_key == LABEL_HOSTNAME {
                    0
                } else {
                    ids.len() + 1
                };
                (ids, vec![NOT_CANDIDATE; n])
            })
            .collect();
        let mut domains = domains;
        let mut ignored = 0usize;
        let mut ignored_at = Vec::with_capacity(nodes.len());
        for node in nodes {
            if require_all
                && domains
                    .iter()
                    .any(|(ids, _)| ids.of(node) == DomainIds::MISSING)
            {
                ignored += 1;
                ignored_at.push(true);
                continue;
            }
            ignored_at.push(false);
            for (c, (ids, counts)) in constraints.iter().zip(domains.iter_mut()) {
                if c.topology_key == LABEL_HOSTNAME {
                    continue;
                }
                counts[slot_of(ids, node)] = 0;
            }
        }
        let weights = constraints
            .iter()
            .zip(&domains)
            .map(|(c, (_, counts))| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    nodes.len().saturating_sub(ignored)
                } else {
                    counts.iter().filter(|&&n| n != NOT_CANDIDATE).count()
                };
                topology_normalizing_weight(size)
            })
            .collect();
        let mut host_counts = vec![None; constraints.len()];
        if !cx.snapshot.plain_counts && pod_independent(&constraints, pod) {
            // Every node's counts are the same for every pod with these constraints: read
            // the candidates' domains from the snapshot's memo (upstream counts them over
            // every node each cycle).
            let keys = if require_all {
                sorted_keys(&constraints)
            } else {
                Vec::new()
            };
            for (i, c) in constraints.iter().enumerate() {
                let (ids, counts) = &mut domains[i];
                if c.topology_key == LABEL_HOSTNAME {
                    if ids.one_node_per_value() {
                        let table = memo_counts(cx, &constraints, i, require_all, &keys, true);
                        let mut by_id: Vec<(u32, i64)> = table
                            .iter()
                            .filter_map(|(v, n)| ids.id(v).map(|id| (id, *n)))
                            .collect();
                        by_id.sort_unstable();
                        host_counts[i] = Some(by_id);
                    }
                    continue;
                }
                let all = memo_counts(cx, &constraints, i, require_all, &keys, false);
                for (id, n) in counts.iter_mut().enumerate() {
                    if *n != NOT_CANDIDATE {
                        *n = all.get(value_of(ids, id)).copied().unwrap_or(0);
                    }
                }
            }
        } else {
            // Upstream: only pairs some candidate has are counted (never hostname's).
            let mut totals: Vec<Vec<i64>> = domains.iter().map(|(_, c)| c.clone()).collect();
            let slot = |i: usize, value: &str| {
                let ids = &domains[i].0;
                ids.id(value).map_or(empty_slot(ids), |id| id as usize)
            };
            for_each_node_count(
                cx,
                &constraints,
                require_all,
                |i, value| {
                    constraints[i].topology_key != LABEL_HOSTNAME
                        && domains[i].1[slot(i, value)] != NOT_CANDIDATE
                },
                |i, value, n| totals[i][slot(i, value)] += n,
            );
            for ((_, counts), t) in domains.iter_mut().zip(totals) {
                *counts = t;
            }
        }
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                constraints,
                require_all,
                ignored_at,
                domains,
                host_counts,
                weights,
            },
        );
        Status::success()
    }

    fn score(&self, cx: &CycleContext<'_>, state: &CycleState, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return 0;
        };
        if s.require_all
            && s.domains
                .iter()
                .any(|(ids, _)| ids.of(node) == DomainIds::MISSING)
        {
            return 0;
        }
        let mut score = 0.0f64;
        for (i, c) in s.constraints.iter().enumerate() {
            let (ids, counts) = &s.domains[i];
            let id = ids.of(node);
            if id == DomainIds::MISSING {
                continue;
            }
            let cnt = if c.topology_key == LABEL_HOSTNAME {
                match &s.host_counts[i] {
                    Some(by_id) => by_id
                        .binary_search_by_key(&id, |&(k, _)| k)
                        .map_or(0, |k| by_id[k].1),
                    None => count_matching(node, &c.selector, &cx.pod.metadata.namespace),
                }
            } else {
                counts.get(id as usize).copied().unwrap_or(0).max(0)
            };
            score += score_for_count(cnt, c.max_skew, s.weights[i]);
        }
        // Go's math.Round (half away from zero), then int64 conversion.
        score.round() as i64
    }

    fn normalize(&self, _: &CycleContext<'_>, state: &CycleState, scores: &mut [i64]) {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return;
        };
        normalize_spread_scores(scores, &s.ignored_at);
    }

    fn has_normalize(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_and_score_for_count_follow_upstream() {
        // 4 hostname domains: ln(6).
        let w = topology_normalizing_weight(4);
        assert!((w - 6f64.ln()).abs() < 1e-12);
        assert_eq!(score_for_count(2, 1, w).round() as i64, 4); // 3.58
        assert_eq!(score_for_count(3, 1, w).round() as i64, 5); // 5.38
        assert_eq!(score_for_count(0, 3, w).round() as i64, 2);
        // Half rounds away from zero, as math.Round.
        assert_eq!(score_for_count(1, 1, 2.5).round() as i64, 3);
    }

    #[test]
    fn normalize_reverses_by_max_plus_min() {
        // Vector "all 4 nodes are candidates": raw 4,2,0,5 -> 20,60,100,0.
        let mut s = [4, 2, 0, 5];
        normalize_spread_scores(&mut s, &[false; 4]);
        assert_eq!(s, [20, 60, 100, 0]);
        // Ignored nodes get 0 and do not count for min/max.
        let mut s = [6, 9, 3];
        normalize_spread_scores(&mut s, &[false, true, false]);
        assert_eq!(s, [50, 0, 100]);
        // max 0: every scored node gets 100.
        let mut s = [0, 0];
        normalize_spread_scores(&mut s, &[false, false]);
        assert_eq!(s, [100, 100]);
    }

    #[test]
    fn match_label_keys_and_with_a_nil_selector_select_by_the_keys_only() {
        let mut pod = Pod::default();
        pod.metadata.labels.insert("app".into(), "a".into());
        let c = TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "zone".into(),
            match_label_keys: vec!["app".into(), "missing".into()],
            ..TopologySpreadConstraint::default()
        };
        let out = filter_constraints(&[c], &pod, UnsatisfiableConstraintAction::DoNotSchedule)
            .unwrap_or_default();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].selector.to_string(), "app=a");
        assert_eq!(out[0].min_domains, 1);
        assert_eq!(out[0].node_affinity_policy, NodeInclusionPolicy::Honor);
        assert_eq!(out[0].node_taints_policy, NodeInclusionPolicy::Ignore);
    }

    #[test]
    fn args_are_validated() {
        assert!(PodTopologySpread::new(PodTopologySpreadArgs::default()).is_ok());
        let c = TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "zone".into(),
            when_unsatisfiable: UnsatisfiableConstraintAction::ScheduleAnyway,
            ..TopologySpreadConstraint::default()
        };
        let system_with_list = PodTopologySpreadArgs {
            default_constraints: vec![c.clone()],
            defaulting_type: None,
        };
        assert!(PodTopologySpread::new(system_with_list).is_err());
        let list = PodTopologySpreadArgs {
            default_constraints: vec![c.clone()],
            defaulting_type: Some(DefaultingType::List),
        };
        let p = PodTopologySpread::new(list);
        assert!(p.as_ref().is_ok_and(|p| !p.system_defaulted));
        let dup = PodTopologySpreadArgs {
            default_constraints: vec![c.clone(), c],
            defaulting_type: Some(DefaultingType::List),
        };
        assert!(PodTopologySpread::new(dup).is_err());
    }
}
