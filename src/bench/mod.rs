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
    let mut metrics = collector.borrow_mut().finish(end, cluster.store());
    let services = cluster.traffic().summary();
    let (ok, sent) = services
        .values()
        .fold((0, 0), |(a, b), s| (a + s.succeeded, b + s.requests));
    metrics.service_success_ratio = (sent > 0).then(|| ok as f64 / sent as f64);
    Ok(RunOutcome { metrics, stopped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TWO_PROFILES: &str = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 50
profiles:
  - schedulerName: spread
  - pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}
"#;

    #[test]
    fn each_profile_of_a_file_is_an_entry_named_by_scheduler_name_or_file() {
        let p = load_profiles("f.yaml", "packing", TWO_PROFILES).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["spread", "packing"]);
        assert!(p.iter().all(|p| p.config.profiles.len() == 1));
        assert_eq!(p[1].config.percentage_of_nodes_to_score, Some(50));
    }

    #[test]
    fn bad_profile_files_are_errors_naming_the_file() {
        let unknown = TWO_PROFILES.replace("MostAllocated", "Sideways");
        let e = load_profiles("f.yaml", "f", &unknown).unwrap_err();
        assert!(e.starts_with("f.yaml: "), "{e}");
        let e = load_profiles("g.yaml", "g", "profiles: []\n").unwrap_err();
        assert!(e.contains("kind: Required value"), "{e}");
        assert!(load_profiles("h.yaml", "h", "").is_err());
    }

    #[test]
    fn the_profile_under_test_takes_every_scheduler_name_of_the_scenario() {
        let text = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: names}
spec:
  duration: 10s
  cluster:
    nodePools:
      - {name: n, count: 1, template: {status: {capacity: {cpu: "4", memory: 8Gi, pods: "10"}}}}
  scheduler:
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles: [{schedulerName: own}]
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: d, namespace: default}
      spec:
        replicas: 1
        selector: {matchLabels: {app: d}}
        template:
          metadata: {labels: {app: d}}
          spec:
            schedulerName: templated
            containers: [{name: c, image: i}]
"#;
        let no_files = |_: &Path| Err(std::io::Error::other("no includes"));
        let s = crate::scenario::load_str("s.yaml", text, Path::new("."), &no_files).unwrap();
        let names: Vec<String> = scheduler_names(&s).into_iter().collect();
        assert_eq!(names, ["default-scheduler", "own", "templated"]);
        let p = &load_profiles("f.yaml", "packing", TWO_PROFILES).unwrap()[1];
        let under_test = with_profile(&s, p, 7);
        assert_eq!(under_test.config.seed, 7);
        let got: Vec<Option<String>> = under_test
            .scheduler
            .profiles
            .iter()
            .map(|p| p.scheduler_name.clone())
            .collect();
        assert_eq!(
            got,
            ["default-scheduler", "own", "templated"].map(|n| Some(n.to_string()))
        );
        let built = SchedulerConfig::from_config(&under_test.scheduler).unwrap();
        assert_eq!(built.percentage_of_nodes_to_score, 50);
        let outcome = run(&under_test).unwrap();
        assert_eq!(outcome.metrics.pods_scheduled, 1);
        assert_eq!(outcome.metrics.pods_unschedulable, 0);
    }

    fn pod(name: &str, cpu: &str) -> String {
        format!(
            "    - {{apiVersion: v1, kind: Pod, metadata: {{name: {name}, namespace: default}}, spec: {{containers: [{{name: c, image: i, resources: {{requests: {{cpu: \"{cpu}\", memory: 1Gi}}}}}}]}}}}\n"
        )
    }

    #[test]
    fn capacity_no_pending_pod_fits_is_fragmentation() {
        // Two 4-CPU nodes; two 3-CPU pods take one node each, a 2-CPU pod cannot fit: the
        // 1 + 1 free CPUs are stranded, a quarter of the allocatable CPU.
        let mut text = String::from(
            "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {name: frag}\nspec:\n  duration: 30s\n  cluster:\n    nodePools:\n      - {name: n, count: 2, template: {status: {capacity: {cpu: \"4\", memory: 16Gi, pods: \"10\"}}}}\n  objects:\n",
        );
        text.push_str(&pod("a", "3"));
        text.push_str(&pod("b", "3"));
        let no_files = |_: &Path| Err(std::io::Error::other("no includes"));
        let fits = crate::scenario::load_str("s.yaml", &text, Path::new("."), &no_files).unwrap();
        text.push_str(&pod("c", "2"));
        let stuck = crate::scenario::load_str("s.yaml", &text, Path::new("."), &no_files).unwrap();
        let m = run(&fits).unwrap().metrics;
        assert_eq!((m.pods_scheduled, m.pods_unschedulable), (2, 0));
        assert_eq!(m.fragmentation_cpu_ratio, 0.0, "nothing pending");
        assert_eq!(m.nodes_used, 2);
        assert_eq!(m.node_cpu_ratio_peak, 0.75);
        assert_eq!(m.allocation["cpu"].1, 0.75);
        let m = run(&stuck).unwrap().metrics;
        assert_eq!((m.pods_scheduled, m.pods_unschedulable), (2, 1));
        assert_eq!(m.fragmentation_cpu_ratio, 0.25);
        assert!(
            m.latency_p50
                .is_some_and(|d| d > crate::sim::SimDuration::ZERO)
        );
    }

    #[test]
    fn preemption_victims_are_counted() {
        let low = |name: &str| {
            format!(
                "    - {{apiVersion: v1, kind: Pod, metadata: {{name: {name}}}, spec: {{nodeName: node-0, priority: 10, containers: [{{name: c, image: app:1, resources: {{requests: {{cpu: \"1\"}}}}}}]}}}}\n"
            )
        };
        let text = format!(
            "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: preempt}}\nspec:\n  duration: 90s\n  cluster:\n    nodePools:\n      - {{name: node, count: 1, template: {{status: {{capacity: {{cpu: \"2\", memory: 8Gi, pods: \"10\"}}}}}}}}\n  objects:\n{}{}{}",
            low("low-1"),
            low("low-2"),
            concat!(
                "    - {apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: high}, value: 1000}\n",
                "    - {apiVersion: v1, kind: Pod, metadata: {name: urgent}, spec: {priorityClassName: high, containers: [{name: c, image: app:1, resources: {requests: {cpu: \"2\"}}}]}}\n",
            )
        );
        let no_files = |_: &Path| Err(std::io::Error::other("no includes"));
        let s = crate::scenario::load_str("s.yaml", &text, Path::new("."), &no_files).unwrap();
        let m = run(&s).unwrap().metrics;
        assert_eq!(m.preemptions, 2, "{m:?}");
        assert_eq!(m.evictions, 0);
        // Pods created bound are not scheduled by anyone: only the preemptor counts, and it
        // waited for its victims to terminate.
        assert_eq!((m.pods_scheduled, m.pods_unschedulable), (1, 0));
        assert!(m.latency_p99.is_some_and(|d| d.as_secs() >= 1), "{m:?}");
    }
}
