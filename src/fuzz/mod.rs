//! Property testing of reconciliation: random clusters, workloads and faults
//! ([`generate`]), checked for determinism, safety after every change and convergence with
//! quiescence after the faults end ([`properties`]), failures shrunk by proptest and
//! written as scenario files ([`reproducer`]). `kubesim fuzz` and `tests/fuzz_properties.rs`
//! drive the same code; `docs/properties.md` states every property with the upstream rule
//! it comes from.
//!
//! A case runs twice: once with the [`properties::Observer`] and once without; both
//! digests must be equal (same scenario and seed, same outputs, and the observer changes
//! nothing).
//!
//! The convergence time is `T + bound` ([`convergence_bound_s`]): `T` is
//! [`generate::FAULTS_END_S`], the bound adds up, from the case's configuration, the node
//! monitor grace period, toleration seconds, NoExecute eviction pacing, termination grace
//! periods, the scheduler's unschedulable-pod flush, the workqueue back-off after a
//! control-plane outage, slow-start rollouts and the Job's back-off. Upstream has no such
//! bound (its controllers are eventually consistent); ours is a generous sum, see the doc.
//!
//! [`parse_bytes`] is the body of the cargo-fuzz target `fuzz/fuzz_targets/scenario_parse.rs`.

pub mod generate;
pub mod properties;
pub mod reproducer;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::sim::{SimDuration, SimTime};
use generate::{FaultKind, FuzzCase};
use properties::{CaseInfo, FaultClass, Findings, Observer, Violation};

/// Seconds the run goes on after the convergence checks, for the quiescence property.
pub const QUIET_WINDOW_S: u64 = 60;

/// `spec.controllers` defaults the bound assumes (`nodeMonitorGracePeriod`,
/// `nodeMonitorPeriod`) and upstream's termination grace period.
const NODE_MONITOR_GRACE_S: u64 = 50;
const NODE_MONITOR_PERIOD_S: u64 = 5;
const TERMINATION_GRACE_S: u64 = 30;
/// Upstream `podMaxInUnschedulablePodsDuration` (5 min) plus its 30 s flush period.
const UNSCHEDULABLE_FLUSH_S: u64 = 330;
/// One NoExecute taint per 10 s per zone (`nodeEvictionRate` 0.1).
const EVICTION_SPACING_S: u64 = 10;

/// The bound added to `T` before convergence is judged (seconds); see the module doc.
pub fn convergence_bound_s(case: &FuzzCase) -> u64 {
    let nodes = case.node_names().len() as u64;
    let mut b = NODE_MONITOR_GRACE_S + NODE_MONITOR_PERIOD_S;
    b += u64::from(case.toleration_s) + EVICTION_SPACING_S * nodes;
    b += 2 * TERMINATION_GRACE_S;
    b += UNSCHEDULABLE_FLUSH_S;
    // A controller whose writes failed through an outage retries with a per-key back-off
    // that doubles: its next try is at most one outage length after the end.
    let outage = case
        .effective_faults()
        .iter()
        .filter(|f| f.kind == FaultKind::ControlPlaneOutage)
        .map(|f| f.duration_s)
        .max()
        .unwrap_or(0);
    b += 2 * outage + 10;
    // Rollouts and ordered starts: one pod after another, each up to its readiness delay
    // plus a probe period.
    for d in &case.deployments {
        b += u64::from(d.replicas + d.max_surge) * (u64::from(d.slow_start_s) + 3);
    }
    if let Some(s) = &case.statefulset {
        b += u64::from(s.replicas) * (u64::from(s.slow_start_s) + 3);
    }
    // The Job: its runs, up to backoffLimit (2) failures with 10 s, 20 s back-off.
    if let Some(j) = &case.job {
        b += u64::from(j.completions + 2) * (u64::from(j.run_s) + 2) + 30;
    }
    // Round up to the metrics interval (10 s), so the checks fall on a sample time.
    b.div_ceil(10) * 10
}

/// `T + bound`, seconds.
pub fn converge_at_s(case: &FuzzCase) -> u64 {
    generate::FAULTS_END_S + convergence_bound_s(case)
}

/// The whole run (seconds): convergence time plus the quiescence window.
pub fn run_length_s(case: &FuzzCase) -> u64 {
    converge_at_s(case) + QUIET_WINDOW_S
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(s))
}

/// Whether the cluster can hold every workload at its peak, by a sufficient rule (see
/// `docs/properties.md`): everything fits in half the untainted capacity, no pod is larger
/// than half the smallest node, and, with a DaemonSet, every node could hold all workload
/// pods next to its daemon.
pub fn capacity_allows(case: &FuzzCase) -> bool {
    let untainted: Vec<u64> = case
        .pools
        .iter()
        .filter(|p| !p.tainted)
        .flat_map(|p| (0..p.count).map(move |_| u64::from(p.cpu_milli)))
        .collect();
    let all_min = case
        .pools
        .iter()
        .map(|p| u64::from(p.cpu_milli))
        .min()
        .unwrap_or(0);
    let capacity: u64 = untainted.iter().sum();
    let ds = case
        .daemonset
        .as_ref()
        .map_or(0, |d| u64::from(d.cpu_milli));
    let demands = case.demands();
    let workload: u64 = demands.iter().map(|d| d.cpu_milli * d.pods).sum();
    let total = workload + ds * untainted.len() as u64;
    let max_pod = demands.iter().map(|d| d.cpu_milli).max().unwrap_or(0);
    total * 2 <= capacity && max_pod * 2 <= all_min && (ds == 0 || workload + ds <= all_min)
}

/// The facts about a case the properties use.
pub fn case_info(case: &FuzzCase) -> CaseInfo {
    let mut info = CaseInfo {
        converge_at: secs(converge_at_s(case)),
        fits: capacity_allows(case),
        ..CaseInfo::default()
    };
    for (i, d) in case.deployments.iter().enumerate() {
        if d.crashes {
            info.crashing.insert(format!("d{i}"));
        }
    }
    for f in case.effective_faults() {
        let at = secs(f.at_s);
        let class = match &f.kind {
            FaultKind::Drain(_) => FaultClass::Drain,
            FaultKind::Rollout(k) => {
                FaultClass::Rollout(format!("d{}", *k as usize % case.deployments.len().max(1)))
            }
            _ => FaultClass::Involuntary,
        };
        if f.kind == FaultKind::ControlPlaneOutage {
            info.outages.push((at, secs(f.at_s + f.duration_s)));
        }
        info.faults.push((at, class));
    }
    info
}

/// What `kubesim fuzz` and the tests may vary.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `spec.scheduler` for every case (a KubeSchedulerConfiguration as JSON).
    pub scheduler: Option<serde_json::Value>,
    /// Run each case a second time without the observer and compare digests.
    pub determinism: bool,
    /// The most shrink attempts per counterexample (0: [`MAX_SHRINK_STEPS`]).
    pub max_shrink_steps: u32,
}

/// The outcome of one case.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub violations: Vec<Violation>,
    pub digest: String,
}

impl Report {
    /// The names of the broken properties, sorted, without repeats.
    pub fn properties(&self) -> Vec<&'static str> {
        let mut p: Vec<&'static str> = self.violations.iter().map(|v| v.property).collect();
        p.sort_unstable();
        p.dedup();
        p
    }
}

fn no_includes(_: &Path) -> std::io::Result<String> {
    Err(std::io::Error::other(
        "generated scenarios include no files",
    ))
}

/// The run is driven in steps of this length (seconds), so that a case that already broke
/// a safety property can stop early (a hot loop of rejected pods is slow to run out).
/// Both runs of a case take the same steps: each step boundary adds a metrics row, so the
/// digest is that of the stepped run, not of `kubesim run` on the reproducer.
pub const STEP_S: u64 = 10;

/// The outcome of one run.
struct RunOutcome {
    digest: String,
    findings: Findings,
    stopped: Option<String>,
    /// Stopped early at a violation.
    cut_short: bool,
}

/// Runs a scenario text (with or without the observer).
fn run_text(text: &str, observe: Option<&CaseInfo>) -> Result<RunOutcome, String> {
    let scenario = crate::scenario::load_str("fuzz-case.yaml", text, Path::new("."), &no_includes)
        .map_err(|e| {
            e.diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let mut cluster = crate::setup::build(
        &scenario,
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    )
    .map_err(|e| e.to_string())?;
    let findings = Rc::new(RefCell::new(Findings::default()));
    if let Some(info) = observe {
        cluster
            .add_component(Box::new(Observer::new(
                Rc::new(info.clone()),
                findings.clone(),
            )))
            .map_err(|e| e.to_string())?;
    }
    let end = SimTime::ZERO.saturating_add(scenario.config.duration);
    let mut stopped = None;
    let mut cut_short = false;
    let mut t = SimTime::ZERO;
    // Bounded: the duration is finite and every step advances by STEP_S.
    while t < end {
        t = t.saturating_add(SimDuration::from_secs(STEP_S)).min(end);
        if let Err(e) = cluster.run_until(t) {
            stopped = Some(e.to_string());
            break;
        }
        if t < end && !findings.borrow().violations.is_empty() {
            cut_short = true;
            break;
        }
    }
    let digest = cluster.finish_outputs().map_err(|e| e.to_string())?;
    drop(cluster);
    let findings = Rc::try_unwrap(findings)
        .map(RefCell::into_inner)
        .unwrap_or_default();
    Ok(RunOutcome {
        digest,
        findings,
        stopped,
        cut_short,
    })
}

/// Checks one case against every property.
pub fn check_case(case: &FuzzCase, opts: &Options) -> Report {
    let text = case.to_yaml(run_length_s(case), opts.scheduler.as_ref());
    check_text(&text, &case_info(case), opts)
}

/// Checks a scenario text generated from a case (as a reproducer holds it).
pub fn check_text(text: &str, info: &CaseInfo, opts: &Options) -> Report {
    let mut report = Report::default();
    let bad = |property, message: String| Violation {
        property,
        t: SimTime::ZERO,
        message,
    };
    let run = match run_text(text, Some(info)) {
        Ok(r) => r,
        Err(e) => {
            report.violations.push(bad(
                "scenario-valid",
                format!("the generated scenario does not load: {e}"),
            ));
            return report;
        }
    };
    let (digest, findings) = (run.digest, run.findings);
    report.violations.extend(findings.violations);
    if run.cut_short {
        report.digest = digest;
        return report;
    }
    if let Some(s) = run.stopped {
        report
            .violations
            .push(bad("run-completes", format!("the run stopped early: {s}")));
    } else if !findings.converged_checked {
        report.violations.push(bad(
            "run-completes",
            "the convergence checks never ran".into(),
        ));
    }
    // Quiescence: nothing written a second after convergence, except by crash loops.
    let from = info.converge_at.saturating_add(properties::STALE);
    let noisy: Vec<&(SimTime, String)> = findings
        .late_changes
        .iter()
        .filter(|(t, key)| {
            *t > from
                && !info.churns(key.rsplit('/').next().unwrap_or(key))
                // A rollout stuck for want of capacity reports ProgressDeadlineExceeded
                // 600 s after its last progress, which may come after T + bound.
                && (info.fits || !key.starts_with("Deployment/"))
        })
        .collect();
    if let Some((t, _)) = noisy.first() {
        let keys: std::collections::BTreeSet<&str> =
            noisy.iter().map(|(_, k)| k.as_str()).collect();
        report.violations.push(Violation {
            property: "quiescence",
            t: *t,
            message: format!(
                "{} writes after convergence, to {:?}",
                noisy.len(),
                keys.iter().take(8).collect::<Vec<_>>()
            ),
        });
    }
    if opts.determinism {
        match run_text(text, None).map(|r| r.digest) {
            Ok(again) if again == digest => {}
            Ok(again) => report.violations.push(bad(
                "determinism",
                format!("digest {digest} with the observer, {again} without"),
            )),
            Err(e) => report.violations.push(bad("determinism", e)),
        }
    }
    report.digest = digest;
    report
}

/// A shrunk failing case.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// Which generated case (0-based) failed first.
    pub index: u32,
    pub case: FuzzCase,
    pub report: Report,
    pub shrink_steps: u32,
}

/// The most shrink attempts per counterexample.
pub const MAX_SHRINK_STEPS: u32 = 500;

/// Generates `cases` cases from `seed`, checks each, and shrinks every failing one to a
/// smaller case failing the same properties. `progress` is called after each case.
pub fn search(
    cases: u32,
    seed: u64,
    opts: &Options,
    mut progress: impl FnMut(u32, &Report),
) -> Vec<Counterexample> {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> ((i % 8) * 8)) as u8 ^ (i as u8);
    }
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let strategy = generate::cases();
    let mut out = Vec::new();
    for index in 0..cases {
        let Ok(mut tree) = strategy.new_tree(&mut runner) else {
            break;
        };
        let report = check_case(&tree.current(), opts);
        progress(index, &report);
        if report.violations.is_empty() {
            continue;
        }
        let wanted = report.properties();
        let same = |r: &Report| r.properties().iter().any(|p| wanted.contains(p));
        let mut best = (tree.current(), report);
        let mut steps = 0;
        if tree.simplify() {
            let limit = if opts.max_shrink_steps == 0 {
                MAX_SHRINK_STEPS
            } else {
                opts.max_shrink_steps
            };
            while steps < limit {
                steps += 1;
                let r = check_case(&tree.current(), opts);
                if same(&r) {
                    best = (tree.current(), r);
                    if !tree.simplify() {
                        break;
                    }
                } else if !tree.complicate() {
                    break;
                }
            }
        }
        out.push(Counterexample {
            index,
            case: best.0,
            report: best.1,
            shrink_steps: steps,
        });
    }
    out
}

/// Reads the case a reproducer embeds (`# kubesim-fuzz-case: {...}`).
pub fn case_of_text(text: &str) -> Option<FuzzCase> {
    text.lines()
        .find_map(|l| l.strip_prefix("# kubesim-fuzz-case: "))
        .and_then(|json| serde_json::from_str(json).ok())
}

/// The cargo-fuzz target's body: the scenario loader on arbitrary bytes must return
/// (a scenario or diagnostics), never panic. Non-UTF-8 input is read lossily.
pub fn parse_bytes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::scenario::load_str("fuzz.yaml", &text, Path::new("."), &no_includes);
}
