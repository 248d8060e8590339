//! The `kubesim` command: a thin shell over the library. It owns file IO, stdout/stderr and
//! exit codes: 0 ok, 1 an expectation failed, 2 bad input, 3 the run stopped at a limit.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cli;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use kubesim::runtime::summary::Summary;
use kubesim::scenario::{self, Scenario, ScenarioError};
use kubesim::sim::{SimDuration, parse_duration};

mod check;

/// mimalloc instead of the system allocator: the event loop allocates and frees many small
/// objects (BENCHMARKS.md has the measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kubesim",
    version,
    about = "Deterministic discrete-event simulator of Kubernetes clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write events.jsonl, metrics.csv and summary.json.
    Run {
        /// The scenario file (YAML or JSON).
        scenario: PathBuf,
        /// Override spec.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override spec.duration (e.g. 90s, 10m, 1h).
        #[arg(long, value_parser = parse_until)]
        until: Option<SimDuration>,
        /// Output directory (default: out/<scenario file name without extension>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the run's whole timeline (spec.events plus the faults spec.chaos drew) to
        /// this file as an explicit `events:` list: put it in place of `events` and `chaos`
        /// to replay the run.
        #[arg(long)]
        record_faults: Option<PathBuf>,
    },
    /// Show how the scheduler evaluates one pod: every node's filter verdicts and scores.
    Explain {
        /// The scenario file.
        scenario: PathBuf,
        /// The pod, as NAMESPACE/NAME.
        #[arg(long)]
        pod: String,
        /// Evaluate the cluster as it is at this sim time (default: right after loading).
        #[arg(long, value_parser = parse_until)]
        at: Option<SimDuration>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run every scenario under the paths (recursively) and check its expectations.
    Check {
        /// Scenario files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Scenarios run at once (default 1). Results do not depend on it.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Write a JUnit XML report here.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Compare scheduler profiles: run every (scenario, profile, seed) and write results.csv
    /// and a summary table (docs/sweeps.md).
    Bench(cli::bench::BenchArgs),
    /// Combine the results.csv of `kubesim bench --shard` runs into one results.csv and
    /// summary table, as the unsharded sweep would write them.
    Merge(cli::bench::MergeArgs),
    /// Property tests: random clusters, workloads and faults checked for determinism,
    /// safety and convergence; every failing case is shrunk and written as a scenario.
    Fuzz(cli::fuzz::FuzzArgs),
    /// Replay the Alibaba GPU trace under the FGD paper's policies (docs/fgd.md).
    FgdReplay(cli::fgd::ReplayArgs),
    /// Convert a trace into a scenario file (`import alibaba-gpu-v2023`, docs/fgd.md).
    Import(cli::import::ImportArgs),
    /// Check scenario files without running them.
    Validate {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

fn parse_until(s: &str) -> Result<SimDuration, String> {
    parse_duration(s)
}

const EXIT_EXPECTATION_FAILED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_LIMIT: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            until,
            out,
            record_faults,
        } => run(&scenario, seed, until, out, record_faults.as_deref()),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Check { paths, jobs, junit } => check::check(&paths, jobs, junit.as_deref()),
        Command::FgdReplay(args) => cli::fgd::replay_cmd(&args),
        Command::Bench(args) => cli::bench::bench_cmd(&args),
        Command::Merge(args) => cli::bench::merge_cmd(&args),
        Command::Fuzz(args) => cli::fuzz::fuzz_cmd(&args),
        Command::Import(args) => cli::import::import_cmd(&args),
        Command::Explain {
            scenario,
            pod,
            at,
            format,
        } => explain(&scenario, &pod, at, format),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn read_file(path: &Path) -> std::io::Result<String> {
    fs::read_to_string(path)
}

fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    scenario::load(path, &read_file)
}

fn report(err: &ScenarioError) {
    for d in &err.diagnostics {
        eprintln!("error: {d}");
    }
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut bad = false;
    for path in paths {
        match load(path) {
            Ok(s) => {
                for w in &s.warnings {
                    eprintln!("warning: {w}");
                }
                println!("{}: ok ({} objects)", path.display(), s.objects.len());
            }
            Err(e) => {
                report(&e);
                bad = true;
            }
        }
    }
    Ok(if bad {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

/// A file written under a temporary name and renamed into place only when complete.
struct PendingFile {
    tmp: PathBuf,
    dest: PathBuf,
}

impl PendingFile {
    fn create(dir: &Path, name: &str) -> Result<(PendingFile, fs::File)> {
        let dest = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok((PendingFile { tmp, dest }, file))
    }

    fn commit(&self) -> Result<()> {
        fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("renaming {} to {}", self.tmp.display(), self.dest.display()))
    }

    fn discard(&self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

fn run(
    path: &Path,
    seed: Option<u64>,
    until: Option<SimDuration>,
    out: Option<PathBuf>,
    record_faults: Option<&Path>,
) -> Result<ExitCode> {
    #[allow(clippy::disallowed_methods)] // Wall-clock timing for stderr only.
    let started = std::time::Instant::now();
    let mut scenario = match load(path) {
        Ok(s) => s,
        Err(e) => {
            report(&e);
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    for w in &scenario.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(seed) = seed {
        scenario.config.seed = seed;
    }
    if let Some(until) = until {
        scenario.config.duration = until;
    }
    if let Some(file) = record_faults {
        let (raw, _) = kubesim::timeline::full_timeline(&scenario);
        let mut text = format!(
            "# The timeline of scenario {:?} with seed {}: spec.events and the faults spec.chaos drew.\n# Replace `events:` and `chaos:` in spec with this list to replay the run.\nevents:\n",
            scenario.name, scenario.config.seed
        );
        for entry in &raw {
            text.push_str("  - ");
            text.push_str(&serde_json::to_string(entry)?);
            text.push('\n');
        }
        fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    let out = out.unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("out").join(stem)
    });
    fs::create_dir_all(&out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let (events_file, events) = PendingFile::create(&out, "events.jsonl")?;
    let (metrics_file, metrics) = PendingFile::create(&out, "metrics.csv")?;
    let (summary_file, summary_out) = PendingFile::create(&out, "summary.json")?;
    let (services_file, services_out) = match scenario.traffic {
        Some(_) => {
            let (p, f) = PendingFile::create(&out, "services.csv")?;
            (Some(p), Some(f))
        }
        None => (None, None),
    };
    let mut pending = vec![&events_file, &metrics_file, &summary_file];
    pending.extend(services_file.as_ref());
    let outcome = simulate(&scenario, events, metrics, services_out, summary_out);
    let (summary, stopped) = match outcome {
        Ok(v) => v,
        Err(e) => {
            pending.iter().for_each(|p| p.discard());
            return Err(e);
        }
    };
    for p in pending {
        p.commit()?;
    }
    let wall = started.elapsed().as_secs_f64();
    print_summary(&summary, &out);
    let sim_secs = scenario.config.duration.as_secs() as f64;
    eprintln!(
        "wall clock: {:.3}s ({:.0} simulated seconds per wall second)",
        wall,
        if wall > 0.0 { sim_secs / wall } else { 0.0 }
    );
    Ok(if stopped {
        ExitCode::from(EXIT_LIMIT)
    } else if summary.expectations_failed() {
        ExitCode::from(EXIT_EXPECTATION_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Builds the cluster, runs it and writes the summary. Returns the summary and whether the
/// run stopped at a limit.
fn simulate(
    scenario: &Scenario,
    events: fs::File,
    metrics: fs::File,
    services: Option<fs::File>,
    summary_out: fs::File,
) -> Result<(Summary, bool)> {
    let mut cluster = kubesim::setup::build(
        scenario,
        Box::new(BufWriter::new(events)),
        Box::new(BufWriter::new(metrics)),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(f) = services {
        cluster.set_services_output(Box::new(BufWriter::new(f)));
    }
    let stopped = cluster.run().err().map(|e| e.to_string());
    if let Some(reason) = &stopped {
        eprintln!("stopped: {reason}");
    }
    let digest = cluster.finish_outputs().context("writing outputs")?;
    let summary = Summary::build(
        &cluster,
        &scenario.name,
        stopped.clone(),
        scenario.warnings.clone(),
        digest,
    );
    drop(cluster);
    let mut w = BufWriter::new(summary_out);
    serde_json::to_writer_pretty(&mut w, &summary).context("writing summary.json")?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok((summary, stopped.is_some()))
}

fn print_summary(s: &Summary, out: &Path) {
    println!(
        "scenario {} (seed {}) ran to t={}s",
        s.scenario, s.seed, s.end_t_s
    );
    println!("  nodes: {} ({} ready)", s.nodes.total, s.nodes.ready);
    let pods: Vec<String> = s
        .pods
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(p, n)| format!("{n} {p}"))
        .collect();
    println!(
        "  pods: {}",
        if pods.is_empty() {
            "none".to_string()
        } else {
            pods.join(", ")
        }
    );
    println!(
        "  events: {}, metrics rows: {}",
        s.events.total, s.metrics_rows
    );
    if let Some(reason) = &s.stopped {
        println!("  stopped early: {reason}");
    }
    for e in &s.expectations {
        println!("  {}", check::describe(e));
    }
    println!("  outputs: {}", out.display());
    println!("digest: {}", s.digest);
}

fn explain(path: &Path, pod: &str, at: Option<SimDuration>, format: Format) -> Result<ExitCode> {
    use kubesim::api::{Kind, ObjectKey};
    use kubesim::scheduler::cache::Snapshot;
    use kubesim::scheduler::config::SchedulerConfig;
    let mut scenario = match load(path) {
        Ok(s) => s,
        Err(e) => {
            report(&e);
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let Some((namespace, name)) = pod.split_once('/') else {
        eprintln!("error: --pod {pod:?}: expected NAMESPACE/NAME");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    let at = at.unwrap_or(SimDuration::ZERO);
    scenario.config.duration = at;
    scenario.config.sample_interval = at.max(SimDuration::from_secs(1));
    let mut cluster = kubesim::setup::build(
        &scenario,
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Err(e) = cluster.run() {
        eprintln!("stopped: {e}");
    }
    let key = ObjectKey::new(Kind::Pod, namespace, name);
    let Some(obj) = cluster.store().get(&key).cloned() else {
        eprintln!("error: no pod {pod} at t={}", cluster.now());
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    let config =
        SchedulerConfig::from_config(&scenario.scheduler).map_err(|e| anyhow::anyhow!(e))?;
    let mut snapshot = Snapshot::from_store(cluster.store());
    let mut rng = kubesim::sim::RngFactory::new(scenario.config.seed).stream("explain");
    let e = match kubesim::scheduler::explain::explain(&config, &mut snapshot, &obj, &mut rng) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&e)?),
        Format::Table => print!("{}", kubesim::scheduler::explain::render_table(&e)),
    }
    Ok(ExitCode::SUCCESS)
}
