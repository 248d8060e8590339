//! One scheduling cycle for one pod: PreFilter, Filter (from a rotating start, stopping at
//! `numFeasibleNodesToFind`), PreScore, Score, NormalizeScore, and host selection.
//!
//! Source: `pkg/scheduler/schedule_one.go`. Filters run sequentially (upstream uses 16
//! workers, which makes the exact feasible set slightly nondeterministic; kubesim counts the
//! processed nodes up to and including the k-th feasible one, as a sequential scan would).

use rand::RngExt;

use crate::sim::RngStream;

use super::cache::NodeInfo;
use super::config::Profile;
use super::framework::{CycleContext, CycleState, MAX_NODE_SCORE, Status};
use super::node_cache::{MAX_CACHED_PLUGINS, NodeCache};

/// `numFeasibleNodesToFind`: all nodes below 100; otherwise `percentage` of them (adaptive
/// `max(50 − N/125, 5)`% when 0), at least 100.
pub fn num_feasible_nodes_to_find(percentage: i32, num_all: usize) -> usize {
    const MIN_FEASIBLE: usize = 100;
    if num_all < MIN_FEASIBLE {
        return num_all;
    }
    let mut p = i64::from(percentage);
    if p == 0 {
        p = (50 - num_all as i64 / 125).max(5);
    }
    let k = (num_all as i64 * p / 100) as usize;
    k.max(MIN_FEASIBLE)
}

/// One plugin's Filter verdict on one node (for explain).
#[derive(Clone, Debug)]
pub struct FilterVerdict {
    pub plugin: &'static str,
    pub status: Status,
}

/// One plugin's score on one node (for explain).
#[derive(Clone, Debug)]
pub struct ScoreRow {
    pub plugin: &'static str,
    pub raw: i64,
    pub normalized: i64,
    pub weight: i64,
}

/// Runs PreFilter. `Err` carries the rejecting status (every node gets it).
pub fn pre_filter(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &mut CycleState,
) -> Result<(), Status> {
    for &i in &profile.pre_filter {
        let p = &profile.plugins[i];
        let mut s = p.pre_filter(cx, state);
        if s.is_skip() {
            if !state.skip_filter.contains(&i) {
                state.skip_filter.push(i);
            }
            continue;
        }
        if !s.is_success() {
            s.plugin = p.name();
            return Err(s);
        }
    }
    state.active_filters = Some(
        profile
            .filter
            .iter()
            .copied()
            .filter(|i| !state.skip_filter.contains(i))
            .collect(),
    );
    Ok(())
}

/// Runs the Filter plugins on one node; stops at the first failure unless `all` (explain
/// lists every plugin that ran, and runs to the first failure too, as upstream).
pub fn filter_node(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &CycleState,
    node: &NodeInfo,
    verdicts: Option<&mut Vec<FilterVerdict>>,
) -> Status {
    let filters = state.active_filters.as_deref().unwrap_or(&profile.filter);
    run_filters(profile, cx, state, node, filters, verdicts)
}

/// Runs the Filter plugins `filters` (profile indexes, in order) on one node.
fn run_filters(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &CycleState,
    node: &NodeInfo,
    filters: &[usize],
    mut verdicts: Option<&mut Vec<FilterVerdict>>,
) -> Status {
    for &i in filters {
        if state.active_filters.is_none() && state.skip_filter.contains(&i) {
            continue;
        }
        let p = &profile.plugins[i];
        let mut s = p.filter(cx, state, node);
        if verdicts.is_none() && s.is_success() {
            continue;
        }
        s.plugin = p.name();
        if let Some(v) = verdicts.as_deref_mut() {
            v.push(FilterVerdict {
                plugin: p.name(),
                status: s.clone(),
            });
        }
        if !s.is_success() {
            return s;
        }
    }
    Status::success()
}

/// `RunFilterPluginsWithNominatedPods`: when pods of equal or higher priority are nominated
/// to the node, the filters must pass both with them added and without them.
pub fn filter_with_nominated(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &CycleState,
    node: &NodeInfo,
) -> Status {
    let nominated = cx.snapshot.nominated_to(&node.name);
    if !nominated.is_empty() {
        let mut with = node.clone();
        let mut added = false;
        for p in nominated {
            if p.priority >= cx.info.priority && p.key != cx.info.key {
                with.add_pod(p.clone());
                added = true;
            }
        }
        if added {
            let s = filter_node(profile, cx, state, &with, None);
            if !s.is_success() {
                return s;
            }
        }
    }
    filter_node(profile, cx, state, node, None)
}

/// The outcome of the filtering phase.
pub struct Feasibility {
    /// Feasible nodes, as indexes in scheduling order.
    pub feasible: Vec<usize>,
    /// Failed nodes with their statuses, as indexes in scheduling order.
    pub failed: Vec<(usize, Status)>,
}

/// This cycle's active Filter plugins split into the node-local ones and the rest, when
/// every node-local one runs before the rest (so a node whose node-local Filters passed
/// earlier needs only the rest, with the same outcome).
fn split_filters(profile: &Profile, state: &CycleState) -> Option<(Vec<usize>, Vec<usize>)> {
    let active = state.active_filters.as_deref()?;
    let (local, rest): (Vec<usize>, Vec<usize>) = active
        .iter()
        .partition(|&&i| profile.plugins[i].node_local());
    let in_order = active[..local.len()] == local[..];
    in_order.then_some((local, rest))
}

/// Filters from `start`, wrapping around, until `to_find` feasible nodes are found. With a
/// `cache`, node-local Filters that passed on an unchanged node for an identical pod are
/// not run again.
pub fn find_feasible(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &CycleState,
    start: usize,
    to_find: usize,
    mut cache: Option<&mut NodeCache>,
) -> Feasibility {
    let n = cx.snapshot.len();
    let mut out = Feasibility {
        feasible: Vec::with_capacity(to_find.min(n)),
        failed: Vec::new(),
    };
    let split = cache.as_ref().and_then(|_| split_filters(profile, state));
    // Node `(start + k) % n` for the k-th step, without a division per node.
    let mut i = if n == 0 { 0 } else { start % n };
    for _ in 0..n {
        if out.feasible.len() >= to_find {
            break;
        }
        let node = cx.snapshot.at(i);
        let s = match (&mut cache, &split) {
            (Some(c), Some((local, rest))) if cx.snapshot.nominated_to(&node.name).is_empty() => {
                // The common case: nothing to run on this node. No Status is built.
                if rest.is_empty() && c.filter_passed(node) {
                    out.feasible.push(i);
                    i = if i + 1 == n { 0 } else { i + 1 };
                    continue;
                }
                let mut s = Status::success();
                if !c.filter_passed(node) {
                    s = run_filters(profile, cx, state, node, local, None);
                    if s.is_success() {
                        c.set_filter_passed(node);
                    }
                }
                if s.is_success() && !rest.is_empty() {
                    s = run_filters(profile, cx, state, node, rest, None);
                }
                s
            }
            _ => filter_with_nominated(profile, cx, state, node),
        };
        if s.is_success() {
            out.feasible.push(i);
        } else {
            out.failed.push((i, s));
        }
        i = if i + 1 == n { 0 } else { i + 1 };
    }
    out
}

/// Scores: per node (same order as `nodes`) the total and, when `rows`, each plugin's row.
pub fn prioritize(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &mut CycleState,
    nodes: &[&NodeInfo],
    rows: bool,
    cache: Option<&mut NodeCache>,
) -> (Vec<i64>, Vec<Vec<ScoreRow>>) {
    for &i in &profile.pre_score {
        let p = &profile.plugins[i];
        let s = p.pre_score(cx, state, nodes);
        if s.is_skip() && !state.skip_score.contains(&i) {
            state.skip_score.push(i);
        }
    }
    let mut totals = vec![0i64; nodes.len()];
    let mut table: Vec<Vec<ScoreRow>> = if rows {
        vec![Vec::new(); nodes.len()]
    } else {
        Vec::new()
    };
    let active: Vec<(usize, i64)> = profile
        .score
        .iter()
        .copied()
        .filter(|(i, _)| !state.skip_score.contains(i))
        .collect();
    // With the node cache (never for explain's rows): the node-local plugins without a
    // NormalizeScore add a per-node term that no other node affects, cached as one sum.
    let (summed, rest): (Vec<_>, Vec<_>) = match (&cache, rows) {
        (Some(_), false) => active.iter().partition(|&&(i, _)| {
            let p = &profile.plugins[i];
            i < MAX_CACHED_PLUGINS && p.node_local() && !p.has_normalize()
        }),
        _ => (Vec::new(), active),
    };
    // The node-local plugins with a NormalizeScore: their raw scores are read from the
    // cache in the same visit of a node's entry as the sum (one column per plugin).
    let local: Vec<usize> = match (&cache, rows) {
        (Some(_), false) => rest
            .iter()
            .map(|&(i, _)| i)
            .filter(|&i| i < MAX_CACHED_PLUGINS && profile.plugins[i].node_local())
            .collect(),
        _ => Vec::new(),
    };
    let mut columns = vec![0i64; local.len() * nodes.len()];
    if let Some(c) = cache
        && !(summed.is_empty() && local.is_empty())
    {
        let mask = summed.iter().fold(0u64, |m, &(i, _)| m | (1u64 << i));
        for (k, (t, n)) in totals.iter_mut().zip(nodes).enumerate() {
            *t = c.visit(
                n,
                mask,
                &summed,
                &local,
                |i| profile.plugins[i].score(cx, state, n),
                |j, raw| columns[j * nodes.len() + k] = raw,
            );
        }
    }
    // One buffer for every other plugin's scores: no allocation per plugin.
    let mut norm = if rest.is_empty() {
        Vec::new()
    } else {
        vec![0i64; nodes.len()]
    };
    for &(i, weight) in &rest {
        let p = &profile.plugins[i];
        match local.iter().position(|&l| l == i) {
            Some(j) => norm.copy_from_slice(&columns[j * nodes.len()..(j + 1) * nodes.len()]),
            None => {
                for (s, n) in norm.iter_mut().zip(nodes) {
                    *s = p.score(cx, state, n);
                }
            }
        }
        let raw = if rows { norm.clone() } else { Vec::new() };
        p.normalize(cx, state, &mut norm);
        if rows {
            for (k, s) in norm.iter().enumerate() {
                let s = (*s).clamp(0, MAX_NODE_SCORE);
                totals[k] += s * weight;
                table[k].push(ScoreRow {
                    plugin: p.name(),
                    raw: raw[k],
                    normalized: s,
                    weight,
                });
            }
        } else {
            for (t, s) in totals.iter_mut().zip(&norm) {
                *t += (*s).clamp(0, MAX_NODE_SCORE) * weight;
            }
        }
    }
    (totals, table)
}

/// Uniformly random among the nodes with the highest total (upstream's reservoir sampling
/// over ties), drawn from the scheduler's own stream. Returns an index into `totals`.
pub fn select_host(totals: &[i64], rng: &mut RngStream) -> Option<usize> {
    // One pass: the top total, how many nodes have it, and the first of them.
    let (mut max, mut ties, mut first) = (i64::MIN, 0usize, None);
    for (i, &t) in totals.iter().enumerate() {
        if first.is_none() || t > max {
            (max, ties, first) = (t, 1, Some(i));
        } else if t == max {
            ties += 1;
        }
    }
    if ties <= 1 {
        return first;
    }
    // The `pick`-th node (in order) with the top total.
    let pick = rng.random_range(0..ties);
    totals
        .iter()
        .enumerate()
        .filter(|&(_, &t)| t == max)
        .nth(pick)
        .map(|(i, _)| i)
}

/// `FitError.Error()`: `0/N nodes are available: <count reason>, ... .` with reasons sorted
/// as strings, then the PostFilter message.
pub fn fit_error_message(
    num_nodes: usize,
    failed: &[(usize, Status)],
    pre_filter: Option<&Status>,
    post: &str,
) -> String {
    let mut msg = format!("0/{num_nodes} nodes are available:");
    if let Some(s) = pre_filter {
        msg.push_str(&format!(" {}.", s.reasons.join(", ")));
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (_, s) in failed {
        for r in &s.reasons {
            *counts.entry(r.as_ref()).or_insert(0) += 1;
        }
    }
    let mut reasons: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    reasons.sort();
    if !reasons.is_empty() {
        msg.push_str(&format!(" {}.", reasons.join(", ")));
    }
    if !post.is_empty() {
        msg.push_str(&format!(" {post}."));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_feasible_nodes_matches_upstream_vectors() {
        assert_eq!(num_feasible_nodes_to_find(0, 10), 10);
        assert_eq!(num_feasible_nodes_to_find(0, 1000), 420);
        assert_eq!(num_feasible_nodes_to_find(40, 1000), 400);
        assert_eq!(num_feasible_nodes_to_find(0, 6000), 300);
        assert_eq!(num_feasible_nodes_to_find(40, 6000), 2400);
    }

    #[test]
    fn select_host_draws_only_among_ties_and_only_when_there_are_ties() {
        use rand::RngExt;
        let f = crate::sim::RngFactory::new(3);
        // One top node: no draw (the stream is where it was).
        let mut rng = f.stream("s");
        assert_eq!(select_host(&[5, 9, 1], &mut rng), Some(1));
        assert_eq!(
            rng.random_range(0..1000u32),
            f.stream("s").random_range(0..1000u32)
        );
        assert_eq!(select_host(&[], &mut rng), None);
        // Ties: uniform among the tied indexes in order, one draw of 0..ties.
        let totals = [7, 3, 7, 7, 1];
        let mut seen = [0usize; 5];
        let mut rng = f.stream("t");
        for _ in 0..300 {
            let mut expect = rng.clone();
            let k = expect.random_range(0..3usize);
            let got = select_host(&totals, &mut rng).expect("a node");
            assert_eq!(got, [0, 2, 3][k]);
            seen[got] += 1;
        }
        assert_eq!(seen[1] + seen[4], 0);
        assert!(seen[0] > 60 && seen[2] > 60 && seen[3] > 60, "{seen:?}");
    }

    #[test]
    fn fit_errors_list_sorted_reason_counts() {
        let failed = vec![
            (0, Status::unschedulable("Insufficient cpu")),
            (1, Status::unschedulable("Insufficient cpu")),
            (
                2,
                Status::unresolvable("node(s) had untolerated taint {a: b}"),
            ),
        ];
        assert_eq!(
            fit_error_message(
                3,
                &failed,
                None,
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling"
            ),
            "0/3 nodes are available: 1 node(s) had untolerated taint {a: b}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }
}
