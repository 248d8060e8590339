//! DefaultPreemption, the PostFilter (`framework/preemption/preemption.go`,
//! `plugins/defaultpreemption/default_preemption.go`).
//!
//! - Eligibility: `preemptionPolicy: Never` is not eligible; a pod whose nominated node still
//!   has a lower-priority pod terminating waits instead of preempting again.
//! - Candidates: only nodes whose filter status was `Unschedulable`. The dry run starts at a
//!   random offset (the scheduler's stream) and stops once it has at least one candidate that
//!   violates no PDB and `max(10% of nodes, 100)` (capped at all) candidates in all.
//! - Per node (`SelectVictimsOnNode`): remove every lower-priority pod; if the pod then fits,
//!   reprieve pods back, PDB-violating ones first, most important first, keeping each that
//!   still lets the pod fit. PDB budgets come from each PDB's `status.disruptionsAllowed`.
//! - The node is picked by upstream's rules: fewest PDB violations, lowest highest-victim
//!   priority, smallest priority sum, fewest victims, latest start among the most important
//!   victims, then the first candidate in dry-run order (upstream: Go map order).
//!
//! Simplified: the filters re-run with the cycle state computed before victims were removed
//! (upstream updates PreFilter state through AddPod/RemovePod), which is exact for resource,
//! port, taint and affinity-to-node filters, and approximate for PodTopologySpread and
//! InterPodAffinity. Victims are deleted at once (no asynchronous preemption).

use std::sync::Arc;

use rand::RngExt;

use crate::api::objects::pod::PreemptionPolicy;
use crate::api::objects::{Object, PodDisruptionBudget};
use crate::sim::{RngStream, SimTime};

use super::cache::{NodeInfo, PodInfo};
use super::config::Profile;
use super::cycle;
use super::framework::{Code, CycleContext, CycleState, Status};

const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// A node where preemption would let the pod fit.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub node: String,
    /// Most important first.
    pub victims: Vec<Arc<PodInfo>>,
    pub pdb_violations: usize,
}

/// What PostFilter decided.
pub enum Outcome {
    /// Preempt `victims` on `node` and nominate it.
    Preempt(Candidate),
    /// No preemption; the message for FailedScheduling (`preemption: ...`).
    NotHelpful(String),
}

fn start_time(p: &PodInfo) -> SimTime {
    p.pod()
        .status
        .start_time
        .map(|t| t.0)
        .unwrap_or(SimTime::MAX)
}

/// `MoreImportantPod`: higher priority, then earlier start.
fn more_important_first(a: &Arc<PodInfo>, b: &Arc<PodInfo>) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(start_time(a).cmp(&start_time(b)))
}

fn pdb_matches(pdb: &PodDisruptionBudget, pod: &PodInfo) -> bool {
    let p = pod.pod();
    pdb.metadata.namespace == p.metadata.namespace
        && pdb.spec.selector.as_ref().is_some_and(|s| {
            !(s.match_labels.is_empty() && s.match_expressions.is_empty())
                && s.matches(&p.metadata.labels)
        })
        && !pdb.status.disrupted_pods.contains_key(&p.metadata.name)
}

/// Splits pods (in order) into PDB-violating and non-violating.
fn split_by_pdb(
    pods: &[Arc<PodInfo>],
    pdbs: &[&PodDisruptionBudget],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i64> = pdbs
        .iter()
        .map(|p| i64::from(p.status.disruptions_allowed))
        .collect();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violates = false;
        for (i, pdb) in pdbs.iter().enumerate() {
            if pdb_matches(pdb, pod) {
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violates = true;
                }
            }
        }
        if violates {
            violating.push(pod.clone())
        } else {
            fine.push(pod.clone())
        }
    }
    (violating, fine)
}

fn select_victims(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &CycleState,
    node: &NodeInfo,
    pdbs: &[&PodDisruptionBudget],
) -> Result<Candidate, Status> {
    let mut trial = node.clone();
    let mut removed: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < cx.info.priority)
        .cloned()
        .collect();
    if removed.is_empty() {
        return Err(Status::unresolvable(
            "No preemption victims found for incoming pod",
        ));
    }
    for p in &removed {
        trial.remove_pod(&p.key);
    }
    let fits = cycle::filter_with_nominated(profile, cx, state, &trial);
    if !fits.is_success() {
        return Err(fits);
    }
    removed.sort_by(more_important_first);
    let (violating, fine) = split_by_pdb(&removed, pdbs);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (group, is_violating) in [(violating, true), (fine, false)] {
        for p in group {
            trial.add_pod(p.clone());
            if !cycle::filter_with_nominated(profile, cx, state, &trial).is_success() {
                trial.remove_pod(&p.key);
                if is_violating {
                    pdb_violations += 1;
                }
                victims.push(p);
            }
        }
    }
    victims.sort_by(more_important_first);
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// `pickOneNodeForPreemption`: each rule keeps the tied best candidates.
pub fn pick_one(mut cands: Vec<Candidate>) -> Option<Candidate> {
    type Key = fn(&Candidate) -> i128;
    let rules: [Key; 5] = [
        |c| c.pdb_violations as i128,
        |c| {
            c.victims
                .first()
                .map(|v| i128::from(v.priority))
                .unwrap_or(i128::MIN)
        },
        |c| {
            c.victims
                .iter()
                .map(|v| i128::from(v.priority) + (1i128 << 31))
                .sum()
        },
        |c| c.victims.len() as i128,
        // Latest earliest-start among the highest-priority victims: negate to minimise.
        |c| {
            let top = c.victims.first().map(|v| v.priority);
            let earliest = c
                .victims
                .iter()
                .filter(|v| Some(v.priority) == top)
                .map(|v| start_time(v).as_nanos())
                .min()
                .unwrap_or(u64::MAX);
            -i128::from(earliest)
        },
    ];
    for rule in rules {
        let best = cands.iter().map(rule).min()?;
        cands.retain(|c| rule(c) == best);
        if cands.len() == 1 {
            break;
        }
    }
    cands.into_iter().next()
}

/// Runs preemption for a pod that fit nowhere. `failed` are the nodes' filter statuses (in
/// scheduling order); `terminating_on_nominated` says whether the pod's nominated node still
/// has a lower-priority pod terminating.
pub fn post_filter(
    profile: &Profile,
    cx: &CycleContext<'_>,
    state: &CycleState,
    failed: &[(usize, Status)],
    pdbs: &[&PodDisruptionBudget],
    terminating_on_nominated: bool,
    rng: &mut RngStream,
) -> Outcome {
    let n = cx.snapshot.len();
    if cx.pod.spec.preemption_policy == Some(PreemptionPolicy::Never) {
        return Outcome::NotHelpful(
            "preemption: not eligible due to preemptionPolicy=Never".into(),
        );
    }
    if terminating_on_nominated {
        return Outcome::NotHelpful(
            "preemption: not eligible: victims on the nominated node are still terminating".into(),
        );
    }
    let not_helpful = || Status::unresolvable("Preemption is not helpful for scheduling");
    let mut outcomes: Vec<(usize, Status)> = failed
        .iter()
        .filter(|(_, s)| s.code != Code::Unschedulable)
        .map(|(i, _)| (*i, not_helpful()))
        .collect();
    let potential: Vec<usize> = failed
        .iter()
        .filter(|(_, s)| s.code == Code::Unschedulable)
        .map(|(i, _)| *i)
        .collect();
    if potential.is_empty() {
        return Outcome::NotHelpful(preemption_message(n, &outcomes));
    }
    let total = potential.len();
    let want = (total * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(total);
    let offset = rng.random_range(0..total);
    let (mut non_violating, mut violating) = (Vec::new(), Vec::new());
    for k in 0..total {
        let i = potential[(offset + k) % total];
        match select_victims(profile, cx, state, cx.snapshot.at(i), pdbs) {
            Ok(c) if c.pdb_violations == 0 => non_violating.push(c),
            Ok(c) => violating.push(c),
            Err(s) => outcomes.push((i, s)),
        }
        if !non_violating.is_empty() && non_violating.len() + violating.len() >= want {
            break;
        }
    }
    let candidates: Vec<Candidate> = non_violating.into_iter().chain(violating).collect();
    match pick_one(candidates) {
        Some(c) => Outcome::Preempt(c),
        None => Outcome::NotHelpful(preemption_message(n, &outcomes)),
    }
}

/// `preemption: 0/N nodes are available: <count reason>, ...` (upstream's FitError shape).
fn preemption_message(n: usize, outcomes: &[(usize, Status)]) -> String {
    let msg = cycle::fit_error_message(n, outcomes, None, "");
    format!("preemption: {}", msg.trim_end_matches('.'))
}

/// Whether `node` has a pod of lower priority than `priority` that is terminating.
pub fn lower_priority_terminating(node: &NodeInfo, priority: i32) -> bool {
    node.pods.iter().any(|p| {
        p.priority < priority
            && matches!(&*p.pod, Object::Pod(pod) if pod.metadata.deletion_timestamp.is_some())
    })
}
