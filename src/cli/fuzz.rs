//! `kubesim fuzz`: the property tests of `src/fuzz` as a command, for users testing their
//! own scheduler profiles: generate cases, check every property, shrink each failing case
//! and write it as a scenario file; exit 1 when any property failed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use kubesim::fuzz::{self, Options, reproducer::Reproducer};

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Cases to generate.
    #[arg(long, default_value_t = 64)]
    cases: u32,
    /// Seed of the generator (the same seed generates the same cases).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A KubeSchedulerConfiguration (YAML or JSON) to run every case with.
    #[arg(long)]
    scheduler: Option<PathBuf>,
    /// Where reproducers go (default: $KUBESIM_REPRO_DIR, else target/fuzz-repro).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the second run of each case (the determinism property): twice as fast.
    #[arg(long)]
    no_determinism: bool,
    /// The most shrink attempts per failing case (0: 500).
    #[arg(long, default_value_t = 0)]
    max_shrink: u32,
    /// Re-check a reproducer written by an earlier run instead of generating cases.
    #[arg(long, conflicts_with_all = ["cases", "seed", "scheduler"])]
    replay: Option<PathBuf>,
}

const EXIT_VIOLATION: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

fn read_scheduler(path: &Path) -> Result<serde_json::Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let docs = kubesim::scenario::yaml::parse_documents(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    docs.into_iter()
        .next()
        .map(|d| d.value)
        .ok_or_else(|| anyhow::anyhow!("{}: empty file", path.display()))
}

pub fn fuzz_cmd(args: &FuzzArgs) -> Result<ExitCode> {
    let opts = Options {
        scheduler: args.scheduler.as_deref().map(read_scheduler).transpose()?,
        determinism: !args.no_determinism,
        max_shrink_steps: args.max_shrink,
    };
    if let Some(path) = &args.replay {
        return replay(path, &opts);
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| fuzz::reproducer::default_dir(std::env::var_os("KUBESIM_REPRO_DIR")));
    let mut first = true;
    let mut bad_input = None;
    let found = fuzz::search(args.cases, args.seed, &opts, |i, report| {
        if first && report.properties() == ["scenario-valid"] {
            bad_input = Some(report.violations[0].message.clone());
        }
        first = false;
        if !report.violations.is_empty() {
            eprintln!("case {i}: {} (shrinking)", report.properties().join(", "));
        }
    });
    if let Some(msg) = bad_input {
        eprintln!("error: {msg}");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    if found.is_empty() {
        println!(
            "{} cases, seed {}: every property holds",
            args.cases, args.seed
        );
        return Ok(ExitCode::SUCCESS);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for c in &found {
        let r = Reproducer::new(&c.case, opts.scheduler.as_ref(), &c.report.violations);
        let path = dir.join(&r.file_name);
        fs::write(&path, &r.text).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "case {} fails {} (shrunk in {} steps):",
            c.index,
            c.report.properties().join(", "),
            c.shrink_steps
        );
        for v in c.report.violations.iter().take(5) {
            println!("  {v}");
        }
        println!("  reproducer: {}", path.display());
        for line in Reproducer::commands(&path).lines() {
            println!("    {line}");
        }
    }
    println!(
        "{} cases, seed {}: {} failing",
        args.cases,
        args.seed,
        found.len()
    );
    Ok(ExitCode::from(EXIT_VIOLATION))
}

fn replay(path: &Path, opts: &Options) -> Result<ExitCode> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let Some(case) = fuzz::case_of_text(&text) else {
        eprintln!(
            "error: {}: no `# kubesim-fuzz-case:` line (not written by kubesim fuzz)",
            path.display()
        );
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    let report = fuzz::check_text(&text, &fuzz::case_info(&case), opts);
    for v in &report.violations {
        println!("{v}");
    }
    println!("digest: {}", report.digest);
    Ok(if report.violations.is_empty() {
        println!("every property holds");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    })
}
