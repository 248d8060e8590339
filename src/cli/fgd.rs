//! `kubesim fgd-replay`: the FGD paper's experiment on the Alibaba GPU trace (see
//! docs/fgd.md).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use kubesim::api::objects::node::Node;
use kubesim::scheduler::gpu::replay::{self, Curve, POLICIES, Trace};
use kubesim::scheduler::gpu::trace::{self, TracePod};

/// Most seeds in one invocation.
const MAX_SEEDS: usize = 1000;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The trace directory (holding csv/ and node_yaml/), e.g.
    /// ../shared/realdata/alibaba-gpu-v2023-openb.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Pod list in the trace: csv/openb_pod_list_<WORKLOAD>.csv.
    #[arg(long, default_value = "default")]
    pub workload: String,
    /// Node list (CSV or YAML); default: csv/openb_node_list_gpu_node.csv of --trace.
    #[arg(long)]
    pub nodes: Option<PathBuf>,
    /// Pod list CSV; default: from --trace and --workload.
    #[arg(long)]
    pub pods: Option<PathBuf>,
    /// Comma-separated policies (default: all six).
    #[arg(long, value_delimiter = ',')]
    pub policies: Vec<String>,
    /// Seeds: `A..B` (inclusive) or a comma-separated list (the paper's: 42..51).
    #[arg(long, default_value = "42..51")]
    pub seeds: String,
    /// Tie-break between nodes with the best score: `name` (smallest name, the paper's
    /// simulator) or `random` (kube-scheduler's uniform draw).
    #[arg(long, default_value = "name")]
    pub tie_break: String,
    /// Output directory for curves.csv and summary.csv.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_seeds(s: &str) -> Result<Vec<u64>> {
    let seeds: Vec<u64> = if let Some((a, b)) = s.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse()?, b.trim().parse()?);
        if b < a || b - a >= MAX_SEEDS as u64 {
            bail!("--seeds {s}: need A ≤ B and at most {MAX_SEEDS} seeds");
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|x| x.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("--seeds {s}"))?
    };
    if seeds.is_empty() || seeds.len() > MAX_SEEDS {
        bail!("--seeds {s}: between 1 and {MAX_SEEDS} seeds");
    }
    Ok(seeds)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub fn load_nodes(path: &Path) -> Result<Vec<Node>> {
    let text = read(path)?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    );
    let nodes = if yaml {
        trace::nodes_from_yaml(&text)
    } else {
        trace::nodes_from_csv(&text)
    };
    nodes.map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))
}

pub fn load_pods(path: &Path) -> Result<Vec<TracePod>> {
    trace::pods_from_csv(&read(path)?).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))
}

/// Writes `text` to `dest` atomically (temporary file + rename).
pub fn write_atomic(dest: &Path, text: &str) -> Result<()> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dest.with_file_name(format!(".{name}.tmp"));
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, dest).with_context(|| format!("renaming to {}", dest.display()))
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

pub fn replay_cmd(args: &ReplayArgs) -> Result<std::process::ExitCode> {
    let trace_dir = args.trace.clone();
    let nodes_path = match (&args.nodes, &trace_dir) {
        (Some(p), _) => p.clone(),
        (None, Some(d)) => d.join("csv/openb_node_list_gpu_node.csv"),
        (None, None) => bail!("give --trace DIR or --nodes and --pods"),
    };
    let pods_path = match (&args.pods, &trace_dir) {
        (Some(p), _) => p.clone(),
        (None, Some(d)) => d.join(format!("csv/openb_pod_list_{}.csv", args.workload)),
        (None, None) => bail!("give --trace DIR or --nodes and --pods"),
    };
    let policies: Vec<String> = if args.policies.is_empty() {
        POLICIES.iter().map(|p| p.to_string()).collect()
    } else {
        args.policies.clone()
    };
    for p in &policies {
        if !POLICIES.contains(&p.as_str()) {
            bail!("unknown policy {p:?}; known: {}", POLICIES.join(", "));
        }
    }
    let seeds = parse_seeds(&args.seeds)?;
    let tie_break = match args.tie_break.as_str() {
        "name" => replay::TieBreak::Name,
        "random" => replay::TieBreak::Random,
        other => bail!("--tie-break {other}: expected name or random"),
    };
    let trace = Trace::new(load_nodes(&nodes_path)?, load_pods(&pods_path)?)
        .map_err(|e| anyhow::anyhow!(e))?;
    eprintln!(
        "trace: {} nodes, {} GPUs, {} pods, {} typical pod shapes",
        trace.nodes.len(),
        trace.capacity_milli / 1000,
        trace.pods.len(),
        trace.typical.len()
    );
    #[allow(clippy::disallowed_methods)] // Wall-clock timing for stderr only.
    let started = std::time::Instant::now();
    let mut curves: Vec<Curve> = Vec::new();
    for p in &policies {
        for &s in &seeds {
            curves.push(replay::replay(&trace, p, s, tie_break).map_err(|e| anyhow::anyhow!(e))?);
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let mut summary = String::from(
        "policy,runs,unalloc_gpu_pct_at_100_mean,unalloc_gpu_pct_at_100_std,unalloc_gpu_pct_at_100_min,unalloc_gpu_pct_at_100_max,frag_gpu_pct_at_100_mean,failed_pods_mean\n",
    );
    println!(
        "Unallocated GPU (% of cluster GPU capacity) at 100% arrived, over {} seeds",
        seeds.len()
    );
    println!(
        "{:<14} {:>6} {:>7} {:>7} {:>7} {:>8} {:>12}",
        "policy", "mean", "std", "min", "max", "frag%", "failed pods"
    );
    for p in &policies {
        let cs: Vec<&Curve> = curves.iter().filter(|c| &c.policy == p).collect();
        let un: Vec<f64> = cs
            .iter()
            .filter_map(|c| c.unallocated_pct_at(100))
            .collect();
        let at100 = |c: &&Curve| c.samples.iter().find(|s| s.arrived_pct == 100).cloned();
        let frag: Vec<f64> = cs
            .iter()
            .filter_map(at100)
            .map(|s| 100.0 * s.frag_milli / trace.capacity_milli as f64)
            .collect();
        let failed: Vec<f64> = cs
            .iter()
            .filter_map(at100)
            .map(|s| s.failed_pods as f64)
            .collect();
        if un.is_empty() {
            continue;
        }
        let (m, sd) = mean_std(&un);
        let min = un.iter().copied().fold(f64::INFINITY, f64::min);
        let max = un.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (fm, _) = mean_std(&frag);
        let (pm, _) = mean_std(&failed);
        println!("{p:<14} {m:>6.2} {sd:>7.2} {min:>7.2} {max:>7.2} {fm:>8.2} {pm:>12.1}");
        summary.push_str(&format!(
            "{p},{},{m:.4},{sd:.4},{min:.4},{max:.4},{fm:.4},{pm:.1}\n",
            un.len()
        ));
    }
    eprintln!(
        "wall clock: {wall:.3}s for {} replays ({:.3}s each)",
        curves.len(),
        wall / curves.len().max(1) as f64
    );
    if let Some(out) = &args.out {
        fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let mut csv = String::from(
            "policy,seed,arrived_pct,allocated_gpu_pct,unallocated_gpu_pct,frag_gpu_pct,arrived_pods,failed_pods\n",
        );
        for c in &curves {
            for s in &c.samples {
                let alloc = 100.0 * s.allocated_milli as f64 / c.capacity_milli as f64;
                csv.push_str(&format!(
                    "{},{},{},{:.4},{:.4},{:.4},{},{}\n",
                    c.policy,
                    c.seed,
                    s.arrived_pct,
                    alloc,
                    100.0 - alloc,
                    100.0 * s.frag_milli / c.capacity_milli as f64,
                    s.arrived_pods,
                    s.failed_pods
                ));
            }
        }
        write_atomic(&out.join("curves.csv"), &csv)?;
        write_atomic(&out.join("summary.csv"), &summary)?;
        eprintln!("wrote {}/curves.csv and summary.csv", out.display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}
