//! `kubesim bench`: scheduler profiles compared on the same scenarios and seeds.
//!
//! - [`matrix`]: every (scenario, profile, seed) in one fixed order, and shard slices;
//! - [`metrics`]: one run's measures, folded from the change stream and the final store;
//! - [`stats`]: mean, 95% confidence interval, best profile per metric;
//! - [`report`]: results.csv and the summary table.
//!
//! A *profile* is one entry of a KubeSchedulerConfiguration file ([`load_profiles`]). A run
//! replaces the scenario's `spec.scheduler` by the profile under test ([`with_profile`]): the
//! profile is installed under every scheduler name the scenario uses, so every pod is
//! scheduled by it whatever its `schedulerName`. Runs are independent and deterministic, so
//! the binary runs them in parallel and sorts the rows by matrix index: the outputs do not
//! depend on `--jobs` or on how the matrix was sharded (docs/sweeps.md).
//!
//! Like the rest of the library this module does no file IO: the binary reads the files and
//! writes the outputs (`src/cli/bench.rs`).

pub mod matrix;
pub mod metrics;
pub mod report;
pub mod stats;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use crate::scenario::Scenario;
use crate::scheduler::config::{KubeSchedulerConfiguration, SchedulerConfig};
use crate::sim::SimTime;

pub use metrics::RunMetrics;

/// The scheduler name pods get when they name none.
const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// One scheduler profile under test.
#[derive(Clone, Debug)]
pub struct BenchProfile {
    /// Its `schedulerName`, or the file's stem when it sets none.
    pub name: String,
    /// The file's configuration with this profile as its only one (top-level settings such
    /// as `percentageOfNodesToScore` and the back-off apply to it).
    pub config: KubeSchedulerConfiguration,
}

/// The profiles of one KubeSchedulerConfiguration file (YAML or JSON, one or more
/// documents): one entry per profile, in order; a configuration without profiles is the
/// default profile. `origin` names the file in errors; `stem` names a profile that has no
/// `schedulerName`.
pub fn load_profiles(origin: &str, stem: &str, text: &str) -> Result<Vec<BenchProfile>, String> {
    let docs = crate::scenario::yaml::parse_documents(text).map_err(|e| format!("{origin}:{e}"))?;
    if docs.is_empty() {
        return Err(format!(
            "{origin}: no KubeSchedulerConfiguration in the file"
        ));
    }
    let mut out = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let cfg: KubeSchedulerConfiguration = serde_path_to_error::deserialize(&doc.value)
            .map_err(|e| {
                let at = doc
                    .locations
                    .nearest(&e.path().to_string())
                    .map(|l| format!("{l}: "))
                    .unwrap_or_default();
                format!(
                    "{origin}:{at}document {}: {}: {}",
                    d + 1,
                    e.path(),
                    e.inner()
                )
            })?;
        if cfg.kind.is_none() {
            return Err(format!(
                "{origin}: document {}: kind: Required value: expected KubeSchedulerConfiguration",
                d + 1
            ));
        }
        SchedulerConfig::from_config(&cfg).map_err(|e| format!("{origin}: {e}"))?;
        let profiles = if cfg.profiles.is_empty() {
            vec![Default::default()]
        } else {
            cfg.profiles.clone()
        };
        for p in profiles {
            let name = p.scheduler_name.clone().unwrap_or_else(|| stem.to_string());
            let mut one = cfg.clone();
            one.profiles = vec![p];
            out.push(BenchProfile { name, config: one });
        }
    }
    Ok(out)
}

/// Every scheduler name the scenario's pods may carry: `default-scheduler`, the scenario's
/// own profiles, and every `schedulerName` in its objects (pod templates included) and in
/// objects its timeline applies.
pub fn scheduler_names(scenario: &Scenario) -> BTreeSet<String> {
    fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>, depth: usize) {
        // Objects nest a few levels (CronJob → Job → pod template); the bound keeps a
        // pathological value from recursing without end.
        if depth > 64 {
            return;
        }
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        serde_json::Value::String(s) if k == "schedulerName" && !s.is_empty() => {
                            out.insert(s.clone());
                        }
                        _ => walk(v, out, depth + 1),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out, depth + 1)),
            _ => {}
        }
    }
    let mut names = BTreeSet::from([DEFAULT_SCHEDULER.to_string()]);
    names.extend(
        scenario
            .scheduler
            .profiles
            .iter()
            .map(|p| p.scheduler_name.clone().unwrap_or(DEFAULT_SCHEDULER.into())),
    );
    let applied = scenario.timeline.iter().flat_map(|e| match &e.action {
        crate::timeline::Action::Apply { objects } => objects.as_slice(),
        _ => &[],
    });
    for o in scenario.objects.iter().map(|so| &so.object).chain(applied) {
        if let Ok(v) = serde_json::to_value(o) {
            walk(&v, &mut names, 0);
        }
    }
    names
}

/// The scenario as one bench run runs it: `seed`, the profile under every scheduler name of
/// the scenario, and no `spec.expect` (a bench run reports metrics, not expectations, and
/// observing changes nothing).
pub fn with_profile(scenario: &Scenario, profile: &BenchProfile, seed: u64) -> Scenario {
    let mut s = scenario.clone();
    s.config.seed = seed;
    s.expectations.clear();
    let template = profile.config.profiles.first().cloned().unwrap_or_default();
    let mut cfg = profile.config.clone();
    cfg.profiles = scheduler_names(scenario)
        .into_iter()
        .map(|name| {
            let mut p = template.clone();
            p.scheduler_name = Some(name);
            p
        })
        .collect();
    s.scheduler = cfg;
    s
}

/// A finished run: its measures and, when it stopped at a limit, why.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    pub metrics: RunMetrics,
    pub stopped: Option<String>,
}

/// Runs the scenario (as [`with_profile`] made it) with no outputs but the measures. Errors
/// when the cluster cannot be built (an object the store rejects, a bad profile).
pub fn run(scenario: &Scenario) -> Result<RunOutcome, String> {
    let mut cluster = crate::setup::build(
        scenario,
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    )
    .map_err(|e| e.to_string())?;
    let (_, timeline) = crate::timeline::full_timeline(scenario);
    let faults = metrics::fault_times(&timeline, scenario.config.duration);
    let collector = Rc::new(RefCell::new(metrics::Collector::new(
        cluster.store(),
        cluster.now(),
        faults,
    )));
    cluster.set_observer(Box::new(metrics::SharedCollector(Rc::clone(&collector))));
    let stopped = cluster.run().err().map(|e| e.to_string());
    let end = cluster.now().max(SimTime::ZERO);
    let metrics = collector.borrow_mut().finish(end, cluster.store());
    Ok(RunOutcome { metrics, stopped })
}
