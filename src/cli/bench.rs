//! `kubesim bench` and `kubesim merge`: the file side of [`kubesim::bench`].
//!
//! - `bench` loads every scenario and profile file first (all problems reported before any
//!   run), runs its slice of the matrix on a rayon pool of `--jobs` threads (a progress bar on
//!   stderr when it is a terminal), then writes results.csv and summary.md atomically into
//!   `--out` and prints the table. Rows are sorted by matrix index, so the files do not
//!   depend on `--jobs`.
//! - `merge` reads the results.csv of shard directories and writes the results.csv and
//!   summary.md the unsharded sweep would have written.
//!
//! Exit codes as `run`: 2 bad input or a run that cannot start, 3 a run stopped at a limit.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use rayon::prelude::*;

use kubesim::bench::matrix::{self, Seeds, Shard};
use kubesim::bench::report::{self, Row};
use kubesim::bench::{self, BenchProfile};
use kubesim::scenario::Scenario;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Scenario files (YAML or JSON).
    #[arg(long, required = true, num_args = 1..)]
    scenario: Vec<PathBuf>,
    /// KubeSchedulerConfiguration files; each profile in them is one entry, named by its
    /// schedulerName (by the file name when it has none).
    #[arg(long, required = true, num_args = 1..)]
    profiles: Vec<PathBuf>,
    /// Seeds, inclusive: A..B (e.g. 1..10), or one seed.
    #[arg(long, value_parser = Seeds::parse)]
    seeds: Seeds,
    /// Runs at once (default: one per core). Results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory for results.csv and summary.md.
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
    /// Run only the slice I of N of the matrix (runs whose index is I modulo N); merge the
    /// shards' outputs with `kubesim merge`.
    #[arg(long, value_parser = Shard::parse)]
    shard: Option<Shard>,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Shard output directories (or their results.csv files).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output directory for the merged results.csv and summary.md.
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
}

fn load_scenarios(paths: &[PathBuf]) -> Result<Option<Vec<Scenario>>> {
    let mut out: Vec<Scenario> = Vec::new();
    let mut bad = false;
    for path in paths {
        match kubesim::scenario::load(path, &|p| std::fs::read_to_string(p)) {
            Ok(s) => {
                if let Some(other) = out.iter().position(|o| o.name == s.name) {
                    bail!(
                        "{} and {}: two scenarios named {:?} (results are keyed by metadata.name)",
                        paths[other].display(),
                        path.display(),
                        s.name
                    );
                }
                out.push(s);
            }
            Err(e) => {
                for d in &e.diagnostics {
                    eprintln!("error: {d}");
                }
                bad = true;
            }
        }
    }
    Ok((!bad).then_some(out))
}

fn load_profiles(paths: &[PathBuf]) -> Result<Vec<BenchProfile>> {
    let mut out: Vec<BenchProfile> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading profiles {}", path.display()))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "profile".into());
        let found = bench::load_profiles(&path.display().to_string(), &stem, &text)
            .map_err(anyhow::Error::msg)?;
        for p in found {
            if out.iter().any(|o| o.name == p.name) {
                bail!(
                    "{}: a second profile named {:?}: give each profile under test its own schedulerName",
                    path.display(),
                    p.name
                );
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// Writes `text` to `dir/name` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, text: &str) -> Result<()> {
    use std::io::Write;
    let (pending, mut file) = crate::PendingFile::create(dir, name)?;
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|_| file.flush()) {
        pending.discard();
        return Err(e).with_context(|| format!("writing {}", dir.join(name).display()));
    }
    drop(file);
    pending.commit()
}

fn write_outputs(out: &Path, rows: &[Row]) -> Result<String> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let csv = report::write_csv(rows).map_err(anyhow::Error::msg)?;
    let table = report::summary_markdown(rows);
    write_atomic(out, "results.csv", &csv)?;
    write_atomic(out, "summary.md", &table)?;
    Ok(table)
}

pub fn bench_cmd(args: &BenchArgs) -> Result<ExitCode> {
    #[allow(clippy::disallowed_methods)] // Wall-clock timing for stderr only.
    let started = std::time::Instant::now();
    let Some(scenarios) = load_scenarios(&args.scenario)? else {
        return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
    };
    let profiles = load_profiles(&args.profiles)?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let cells = matrix::cells(scenarios.len(), profiles.len(), args.seeds, shard)
        .map_err(anyhow::Error::msg)?;
    let jobs = args.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the worker threads")?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(cells.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, about {eta} left",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let results: Vec<Result<Row, String>> = pool.install(|| {
        cells
            .par_iter()
            .map(|c| {
                let (scenario, profile) = (&scenarios[c.scenario], &profiles[c.profile]);
                let run = bench::with_profile(scenario, profile, c.seed);
                let outcome = bench::run(&run).map_err(|e| {
                    format!(
                        "run {} ({}, profile {}, seed {}): {e}",
                        c.index, scenario.name, profile.name, c.seed
                    )
                });
                bar.inc(1);
                outcome.map(|o| {
                    Row::new(
                        c.index,
                        &scenario.name,
                        &profile.name,
                        c.seed,
                        &o.metrics,
                        o.stopped.as_deref(),
                    )
                })
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut rows = Vec::with_capacity(results.len());
    let mut failed = false;
    for r in results {
        match r {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Ok(ExitCode::from(crate::EXIT_BAD_INPUT));
    }
    let table = write_outputs(&args.out, &rows)?;
    print!("{table}");
    println!("outputs: {}", args.out.display());
    eprintln!(
        "wall clock: {:.3}s for {} runs (shard {shard})",
        started.elapsed().as_secs_f64(),
        rows.len()
    );
    Ok(exit_code(&rows))
}

fn exit_code(rows: &[Row]) -> ExitCode {
    let stopped = rows
        .iter()
        .any(|r| r.values.get(report::STOPPED).is_some_and(|s| !s.is_empty()));
    if stopped {
        ExitCode::from(crate::EXIT_LIMIT)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn merge_cmd(args: &MergeArgs) -> Result<ExitCode> {
    let mut sets = Vec::new();
    for input in &args.inputs {
        let file = if input.is_dir() {
            input.join("results.csv")
        } else {
            input.clone()
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let origin = file.display().to_string();
        let rows = report::read_csv(&origin, &text).map_err(anyhow::Error::msg)?;
        sets.push((origin, rows));
    }
    let rows = report::merge(sets).map_err(anyhow::Error::msg)?;
    let gaps = report::gaps(&rows);
    if !gaps.is_empty() {
        let shown: Vec<String> = gaps.iter().take(10).map(u64::to_string).collect();
        eprintln!(
            "warning: runs missing below the last one (a shard not merged?): {}{}",
            shown.join(", "),
            if gaps.len() > 10 { ", ..." } else { "" }
        );
    }
    let table = write_outputs(&args.out, &rows)?;
    print!("{table}");
    println!("outputs: {}", args.out.display());
    Ok(exit_code(&rows))
}
