//! `kubesim bench` and `kubesim merge` through the binary: the bin-packing acceptance, byte
//! identity whatever `--jobs`, and shards merged into the unsharded outputs.

mod common;

use std::path::{Path, PathBuf};

use common::{kubesim, stderr, stdout};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

const SCENARIO: &str = "scenarios/bin-packing-vs-spreading.yaml";
const PROFILES: [&str; 3] = [
    "scenarios/profiles/least-allocated.yaml",
    "scenarios/profiles/most-allocated.yaml",
    "scenarios/profiles/requested-to-capacity-ratio.yaml",
];

/// Runs `kubesim bench` on the bin-packing scenario with the three profiles into `out`,
/// with extra flags; returns stdout.
fn bench(out: &Path, seeds: &str, extra: &[&str]) -> String {
    bench_on(&[SCENARIO], out, seeds, extra)
}

/// Also a scenario whose results change with the seed (random chaos), so that rows out of
/// order would show.
const TWO_SCENARIOS: [&str; 2] = [SCENARIO, "scenarios/chaos-day.yaml"];

fn bench_on(scenarios: &[&str], out: &Path, seeds: &str, extra: &[&str]) -> String {
    let scenarios: Vec<String> = scenarios.iter().map(|s| repo(s)).collect();
    let profiles: Vec<String> = PROFILES.iter().map(|p| repo(p)).collect();
    let out = out.display().to_string();
    let mut args = vec!["bench", "--scenario"];
    args.extend(scenarios.iter().map(String::as_str));
    args.push("--profiles");
    args.extend(profiles.iter().map(String::as_str));
    args.extend(["--seeds", seeds, "--out", &out]);
    args.extend(extra);
    let o = kubesim(&args);
    assert!(o.status.success(), "bench failed: {}", stderr(&o));
    stdout(&o)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// results.csv as (header, rows of cells).
fn table(csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = csv.lines();
    let header = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// The mean of `column` over the rows of `profile`.
fn mean(csv: &str, profile: &str, column: &str) -> f64 {
    let (header, rows) = table(csv);
    let p = header.iter().position(|h| h == "profile").unwrap();
    let c = header.iter().position(|h| h == column).unwrap();
    let values: Vec<f64> = rows
        .iter()
        .filter(|r| r[p] == profile)
        .map(|r| r[c].parse().expect("a number"))
        .collect();
    assert!(!values.is_empty(), "no rows for {profile}");
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn most_allocated_uses_fewer_nodes_and_least_allocated_has_the_lower_peak_over_ten_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let printed = bench(&out, "1..10", &["--jobs", "2"]);
    let csv = read(&out, "results.csv");
    assert_eq!(csv.lines().count(), 1 + 3 * 10, "one row per run");
    // Every pod is scheduled by the profile under test, whatever its schedulerName (the
    // scenario's `packed` Deployment names a profile the bench replaces).
    for profile in [
        "least-allocated",
        "most-allocated",
        "requested-to-capacity-ratio",
    ] {
        assert_eq!(mean(&csv, profile, "pods_unschedulable"), 0.0, "{profile}");
        assert_eq!(mean(&csv, profile, "pods_scheduled"), 24.0, "{profile}");
    }
    let nodes = |p| mean(&csv, p, "nodes_used");
    let peak = |p| mean(&csv, p, "node_cpu_ratio_peak");
    assert!(
        nodes("most-allocated") < nodes("least-allocated"),
        "nodes used: most {} vs least {}",
        nodes("most-allocated"),
        nodes("least-allocated")
    );
    assert!(
        peak("least-allocated") < peak("most-allocated"),
        "peak node CPU ratio: least {} vs most {}",
        peak("least-allocated"),
        peak("most-allocated")
    );
    // The printed table says the same, and is summary.md.
    let summary = read(&out, "summary.md");
    assert!(printed.starts_with(&summary), "stdout is the summary table");
    let line = |metric: &str| {
        summary
            .lines()
            .find(|l| l.starts_with(&format!("| {metric} ")))
            .unwrap_or_else(|| panic!("no {metric} line in\n{summary}"))
            .to_string()
    };
    let best = |metric: &str| {
        line(metric)
            .trim_end_matches(" |")
            .rsplit('|')
            .next()
            .unwrap()
            .trim()
            .to_string()
    };
    assert!(
        best("nodes_used").contains("most-allocated"),
        "{}",
        line("nodes_used")
    );
    assert_eq!(
        best("node_cpu_ratio_peak"),
        "least-allocated",
        "{}",
        line("node_cpu_ratio_peak")
    );
}

#[test]
fn results_are_byte_identical_for_one_and_two_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    bench_on(&TWO_SCENARIOS, &one, "1..2", &["--jobs", "1"]);
    bench_on(&TWO_SCENARIOS, &two, "1..2", &["--jobs", "2"]);
    let csv = read(&one, "results.csv");
    assert_eq!(csv.lines().count(), 1 + 2 * 3 * 2);
    let (header, rows) = table(&csv);
    let pods = header.iter().position(|h| h == "pods_scheduled").unwrap();
    assert_ne!(rows[6][pods], rows[7][pods], "chaos-day differs by seed");
    assert_eq!(read(&one, "results.csv"), read(&two, "results.csv"));
    assert_eq!(read(&one, "summary.md"), read(&two, "summary.md"));
}

#[test]
fn two_shards_merged_equal_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let shards: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("s{i}"))).collect();
    bench_on(&TWO_SCENARIOS, &whole, "1..2", &["--jobs", "2"]);
    for (i, s) in shards.iter().enumerate() {
        bench_on(&TWO_SCENARIOS, s, "1..2", &["--shard", &format!("{i}/2")]);
    }
    // Each shard holds part of the matrix, not all of it.
    let whole_csv = read(&whole, "results.csv");
    for s in &shards {
        let n = read(s, "results.csv").lines().count() - 1;
        assert_eq!(n, 6, "shard rows");
    }
    let merged = dir.path().join("merged");
    let (a, b, m) = (
        shards[1].display().to_string(),
        shards[0].display().to_string(),
        merged.display().to_string(),
    );
    // Shards given in any order.
    let o = kubesim(&["merge", &a, &b, "--out", &m]);
    assert!(o.status.success(), "merge failed: {}", stderr(&o));
    assert_eq!(read(&merged, "results.csv"), whole_csv);
    let summary = read(&whole, "summary.md");
    assert_eq!(read(&merged, "summary.md"), summary);
    assert!(stdout(&o).starts_with(&summary));
}

#[test]
fn merge_refuses_shards_of_different_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    bench(&a, "1", &["--jobs", "1"]);
    // Same run indexes, other seeds: not the same sweep.
    bench(&b, "2", &["--jobs", "1"]);
    let o = kubesim(&[
        "merge",
        &a.display().to_string(),
        &b.display().to_string(),
        "--out",
        &dir.path().join("m").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("differs between"), "{}", stderr(&o));
}

#[test]
fn bench_rejects_two_profiles_with_one_name_and_bad_shards() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo(SCENARIO);
    let p = repo(PROFILES[0]);
    let out = dir.path().display().to_string();
    let o = kubesim(&[
        "bench",
        "--scenario",
        &scenario,
        "--profiles",
        &p,
        &p,
        "--seeds",
        "1",
        "--out",
        &out,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a second profile named"),
        "{}",
        stderr(&o)
    );
    let o = kubesim(&[
        "bench",
        "--scenario",
        &scenario,
        "--profiles",
        &p,
        "--seeds",
        "1..2",
        "--shard",
        "2/2",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("0 ≤ I < N"), "{}", stderr(&o));
}

#[test]
fn a_fault_scenario_reports_evictions_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = repo("scenarios/zone-outage.yaml");
    let profile = repo(PROFILES[0]);
    let o = kubesim(&[
        "bench",
        "--scenario",
        &scenario,
        "--profiles",
        &profile,
        "--seeds",
        "1",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = read(&out, "results.csv");
    assert!(mean(&csv, "least-allocated", "faults") >= 1.0);
    assert!(mean(&csv, "least-allocated", "evictions") >= 1.0);
    // The zone's pods are evicted and replaced: recovery takes time, and happens.
    assert!(mean(&csv, "least-allocated", "recovery_s_max") > 0.0);
    assert_eq!(mean(&csv, "least-allocated", "faults_unrecovered"), 0.0);
}
