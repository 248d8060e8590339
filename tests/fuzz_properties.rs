//! Property tests of reconciliation (`src/fuzz`, `docs/properties.md`): generated
//! clusters, workloads and faults must be deterministic, safe after every change and
//! converge and go quiet after the faults end.
//!
//! - `every_property_holds_on_generated_cases`: 256 cases by default (`PROPTEST_CASES`
//!   overrides); failures are shrunk by proptest, persisted in
//!   `proptest-regressions/fuzz_properties.txt`, and the smallest one is written as a
//!   scenario under `target/fuzz-repro/` (or `$KUBESIM_REPRO_DIR`) with the command that
//!   replays it.
//! - `harness_catches_a_scheduler_that_ignores_resources`: the bug injected on purpose (a
//!   scheduler profile without NodeResourcesFit) is found, shrunk and replayed.
//! - `shrunk_counterexamples_stay_fixed`: the reproducers of bugs the harness found in
//!   kubesim (`tests/fuzz-regressions/`) now pass every property.
//! - the scenario parser's fuzz body on random and mutated input.

mod common;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use kubesim::fuzz::{self, Options, generate, reproducer::Reproducer};

fn repro_dir() -> PathBuf {
    let dir = std::env::var_os("KUBESIM_REPRO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-repro"));
    std::fs::create_dir_all(&dir).expect("the reproducer directory can be created");
    dir
}

/// Writes the reproducer of a failing case and returns the message to fail with.
fn write_reproducer(case: &generate::FuzzCase, opts: &Options, report: &fuzz::Report) -> String {
    let r = Reproducer::new(case, opts.scheduler.as_ref(), &report.violations);
    let path = repro_dir().join(&r.file_name);
    std::fs::write(&path, &r.text).expect("the reproducer is written");
    let mut msg = String::new();
    for v in report.violations.iter().take(5) {
        msg.push_str(&format!("{v}\n"));
    }
    msg.push_str(&format!(
        "reproducer: {}\nreplay with:\n{}",
        path.display(),
        Reproducer::commands(&path)
    ));
    msg
}

fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases_from_env(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_properties.txt",
        ))),
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_property_holds_on_generated_cases(case in generate::cases()) {
        let opts = Options { determinism: true, ..Options::default() };
        let report = fuzz::check_case(&case, &opts);
        if !report.violations.is_empty() {
            let msg = write_reproducer(&case, &opts, &report);
            eprintln!("{msg}");
            prop_assert!(false, "{}", msg);
        }
    }
}

/// A scheduler profile without the NodeResourcesFit filter: it binds pods to full nodes.
fn careless_scheduler() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [{
            "schedulerName": "default-scheduler",
            "plugins": {
                "preFilter": {"disabled": [{"name": "NodeResourcesFit"}]},
                "filter": {"disabled": [{"name": "NodeResourcesFit"}]}
            }
        }]
    })
}

#[test]
fn harness_catches_a_scheduler_that_ignores_resources() {
    let opts = Options {
        scheduler: Some(careless_scheduler()),
        determinism: false,
        max_shrink_steps: 30,
    };
    let found = fuzz::search(14, 7, &opts, |_, _| {});
    let overcommit = found
        .iter()
        .find(|c| c.report.properties().contains(&"node-overcommit"))
        .expect("some case overcommits a node");
    // Shrunk: the smallest overcommit needs one node and one workload, no faults.
    let c = &overcommit.case;
    let workloads = c.deployments.len()
        + usize::from(c.statefulset.is_some())
        + usize::from(c.daemonset.is_some())
        + usize::from(c.job.is_some());
    assert!(
        c.node_names().len() <= 2 && workloads <= 2 && c.faults.is_empty(),
        "not shrunk: {c:?}"
    );
    let msg = write_reproducer(c, &opts, &overcommit.report);
    eprintln!("{msg}");
    // The reproducer is a valid scenario file (`kubesim run` runs it; with this scheduler
    // it loops on rejected pods until its event limit, exit 3) and `kubesim fuzz --replay`
    // fails on it.
    let path = msg
        .lines()
        .find_map(|l| l.strip_prefix("reproducer: "))
        .expect("a reproducer line")
        .to_string();
    let valid = common::kubesim(&["validate", &path]);
    assert!(valid.status.success(), "{}", common::stderr(&valid));
    let replay = common::kubesim(&["fuzz", "--replay", &path]);
    assert_eq!(replay.status.code(), Some(1), "{}", common::stdout(&replay));
    assert!(common::stdout(&replay).contains("[node-overcommit]"));
    // And the same case with the default scheduler holds.
    let fine = fuzz::check_case(c, &Options::default());
    assert!(fine.violations.is_empty(), "{:?}", fine.violations);
}

#[test]
fn shrunk_counterexamples_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-regressions exists")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let case = fuzz::case_of_text(&text).expect("a kubesim-fuzz-case line");
        let report = fuzz::check_text(
            &text,
            &fuzz::case_info(&case),
            &Options {
                determinism: true,
                ..Options::default()
            },
        );
        assert!(
            report.violations.is_empty(),
            "{}: {:?}",
            f.display(),
            report.violations
        );
    }
}

#[test]
fn node_crash_healing_during_an_outage_comes_back() {
    // The shrunk reproducer of the first bug the harness found: the crash of p0-0 heals at
    // 23s, the instant a control-plane outage starts; the refused heal used to be lost.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions/node-crash-heals-during-control-plane-outage.yaml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, &text).unwrap();
    let out = dir.path().join("out");
    let run = common::kubesim(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", common::stderr(&run));
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let healed = events
        .lines()
        .filter(|l| l.contains("\"TimelineHeal\"") && l.contains("Node/p0-0"))
        .count();
    assert_eq!(healed, 1, "the node heal is written once the API returns");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["nodes"]["ready"], 2);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_properties.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn scenario_parser_survives_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz::parse_bytes(&data);
    }

    #[test]
    fn scenario_parser_survives_mutated_scenarios(
        case in generate::cases(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut bytes = case.to_yaml(600, None).into_bytes();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        fuzz::parse_bytes(&bytes);
    }
}
