//! `kubesim check PATH...`: runs every scenario found under the paths and checks its
//! expectations; a table on stdout, JUnit XML on request, exit 1 when any expectation fails
//! (2 when a scenario cannot be loaded or run, 3 when one stops at a limit).
//!
//! Scenarios are found recursively (files ending .yaml, .yml or .json whose text declares
//! `kind: Scenario`; other files, such as included object lists, are skipped), sorted by
//! path, and run on `--jobs` threads. Each run is independent and deterministic, and results
//! are reported in path order, so everything but the wall time is the same whatever `--jobs`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};

use kubesim::runtime::summary::{ExpectationResult, ExpectationStatus, Summary};

/// Most scenario files one `check` runs (a bound on the directory walk).
const MAX_SCENARIOS: usize = 10_000;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 32;

struct Outcome {
    path: PathBuf,
    /// The summary, or why there is none.
    result: Result<Summary, String>,
    wall_s: f64,
}

pub fn describe(e: &ExpectationResult) -> String {
    let status = match e.status {
        ExpectationStatus::Passed => "passed",
        ExpectationStatus::Failed => "FAILED",
        ExpectationStatus::NotEvaluated => "not evaluated",
    };
    match &e.t_s {
        Some(t) => format!(
            "expectation {}: {status} at t={t}s (observed {}, expected {})",
            e.name, e.observed, e.expected
        ),
        None => format!("expectation {}: {status}", e.name),
    }
}

fn is_scenario(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str());
    if !matches!(ext, Some("yaml" | "yml" | "json")) {
        return false;
    }
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines().any(|l| {
            let l = l.trim();
            l == "kind: Scenario" || l.contains("\"kind\": \"Scenario\"")
        })
    })
}

fn walk(path: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if out.len() >= MAX_SCENARIOS || depth > MAX_DEPTH {
        return Ok(());
    }
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, depth + 1, out)?;
        }
    } else if depth == 0 || is_scenario(path) {
        // A file named on the command line is run whatever its name.
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn run_one(path: &Path) -> Result<Summary, String> {
    let scenario = kubesim::scenario::load(path, &|p| std::fs::read_to_string(p)).map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let mut cluster = kubesim::setup::build(
        &scenario,
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    )
    .map_err(|e| e.to_string())?;
    let stopped = cluster.run().err().map(|e| e.to_string());
    let digest = cluster.finish_outputs().map_err(|e| e.to_string())?;
    Ok(Summary::build(
        &cluster,
        &scenario.name,
        stopped,
        scenario.warnings.clone(),
        digest,
    ))
}

pub fn check(paths: &[PathBuf], jobs: usize, junit: Option<&Path>) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
        walk(p, 0, &mut files)?;
    }
    files.sort();
    files.dedup();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let workers = jobs.clamp(1, files.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    #[allow(clippy::disallowed_methods)] // Wall-clock timing for the table only.
                    let started = std::time::Instant::now();
                    let result = run_one(path);
                    let outcome = Outcome {
                        path: path.clone(),
                        result,
                        wall_s: started.elapsed().as_secs_f64(),
                    };
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(outcome);
                    }
                }
            });
        }
    });
    let outcomes: Vec<Outcome> = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a check worker panicked"))?
        .into_iter()
        .flatten()
        .collect();
    print_table(&outcomes);
    if let Some(file) = junit {
        std::fs::write(file, junit_xml(&outcomes))
            .with_context(|| format!("writing {}", file.display()))?;
    }
    let errors = outcomes.iter().any(|o| o.result.is_err());
    let stopped = outcomes
        .iter()
        .any(|o| o.result.as_ref().is_ok_and(|s| s.stopped.is_some()));
    let failed = outcomes
        .iter()
        .any(|o| o.result.as_ref().is_ok_and(|s| s.expectations_failed()));
    Ok(if errors {
        ExitCode::from(super::EXIT_BAD_INPUT)
    } else if stopped {
        ExitCode::from(super::EXIT_LIMIT)
    } else if failed {
        ExitCode::from(super::EXIT_EXPECTATION_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn counts(s: &Summary) -> (usize, usize) {
    let passed = s
        .expectations
        .iter()
        .filter(|e| e.status == ExpectationStatus::Passed)
        .count();
    (passed, s.expectations.len() - passed)
}

fn print_table(outcomes: &[Outcome]) {
    let width = outcomes
        .iter()
        .map(|o| o.path.display().to_string().len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!(
        "{:<width$}  {:>6}  {:>6}  {:<16}  {:>8}",
        "scenario", "passed", "failed", "digest", "wall_s"
    );
    for o in outcomes {
        let name = o.path.display().to_string();
        match &o.result {
            Ok(s) => {
                let (passed, failed) = counts(s);
                println!(
                    "{name:<width$}  {passed:>6}  {failed:>6}  {:<16}  {:>8.3}",
                    &s.digest[..16.min(s.digest.len())],
                    o.wall_s
                );
                for e in &s.expectations {
                    if e.status != ExpectationStatus::Passed {
                        println!("  {}", describe(e));
                    }
                }
                if let Some(reason) = &s.stopped {
                    println!("  stopped early: {reason}");
                }
            }
            Err(msg) => {
                println!(
                    "{name:<width$}  {:>6}  {:>6}  {:<16}  {:>8.3}",
                    "-", "-", "error", o.wall_s
                );
                for line in msg.lines() {
                    println!("  error: {line}");
                }
            }
        }
    }
    let total: usize = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|s| s.expectations.len())
        .sum();
    let failed: usize = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|s| counts(s).1)
        .sum();
    println!(
        "{} scenarios, {total} expectations, {failed} not passed",
        outcomes.len()
    );
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// One testsuite per scenario, one testcase per expectation; a scenario that cannot run is
/// one testcase with an error.
fn junit_xml(outcomes: &[Outcome]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for o in outcomes {
        let name = xml_escape(&o.path.display().to_string());
        match &o.result {
            Ok(s) => {
                let (_, failed) = counts(s);
                x.push_str(&format!(
                    "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{:.3}\">\n",
                    s.expectations.len(),
                    o.wall_s
                ));
                x.push_str(&format!(
                    "    <properties><property name=\"digest\" value=\"{}\"/><property name=\"seed\" value=\"{}\"/></properties>\n",
                    xml_escape(&s.digest),
                    s.seed
                ));
                for e in &s.expectations {
                    x.push_str(&format!(
                        "    <testcase name=\"{}\" classname=\"{}\"",
                        xml_escape(&e.name),
                        xml_escape(&s.scenario)
                    ));
                    if e.status == ExpectationStatus::Passed {
                        x.push_str("/>\n");
                    } else {
                        let msg = describe(e);
                        x.push_str(&format!(
                            ">\n      <failure message=\"{}\" type=\"ExpectationFailed\">{}</failure>\n    </testcase>\n",
                            xml_escape(&msg),
                            xml_escape(&msg)
                        ));
                    }
                }
                x.push_str("  </testsuite>\n");
            }
            Err(msg) => {
                x.push_str(&format!(
                    "  <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"{:.3}\">\n    <testcase name=\"load and run\" classname=\"{name}\">\n      <error message=\"{}\">{}</error>\n    </testcase>\n  </testsuite>\n",
                    o.wall_s,
                    xml_escape(msg.lines().next().unwrap_or("")),
                    xml_escape(msg)
                ));
            }
        }
    }
    x.push_str("</testsuites>\n");
    x
}
