//! `kubesim import alibaba-gpu-v2023`: the Alibaba GPU trace's node and pod lists as a
//! scenario file (docs/fgd.md).
//!
//! The objects are the ones `fgd-replay` schedules ([`kubesim::scheduler::gpu::trace`]):
//! Nodes with `alibabacloud.com/gpu-count` / `gpu-milli` allocatable and the
//! `alibabacloud.com/gpu-card-model` label, Pods with the `alibabacloud.com/gpu-*`
//! annotations, in their Kubernetes shape (`apiVersion`, `kind`, fields left at their
//! defaults omitted); the nodes go to `spec.cluster.nodes` with a `Ready` condition (the
//! trace's have none), the pods to `spec.objects`. `spec.scheduler` is the replay's profile for `--policy` (the filters
//! `NodeResourcesFit` and `GpuShare`, the policy as the only score plugin, FGD with the pod
//! list's typical pods), named `default-scheduler` so every pod uses it.
//!
//! Differences from `fgd-replay`: a scenario runs the whole control plane (API server,
//! kubelets, binding), all pods are created at time 0 in file order (no shuffle, no
//! top-up), and ties between nodes go to kube-scheduler's random draw.
//!
//! The file is YAML with one JSON flow mapping per object (`- {"apiVersion": ...}`), which
//! every YAML 1.2 reader, kubesim's included, accepts.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use kubesim::scheduler::gpu::replay::{POLICIES, Trace};

use super::fgd::{load_nodes, load_pods, write_atomic};

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: Source,
}

#[derive(clap::Subcommand)]
pub enum Source {
    /// The Alibaba GPU cluster trace (cluster-trace-gpu-v2023, "openb"; docs/fgd.md).
    #[command(name = "alibaba-gpu-v2023")]
    AlibabaGpuV2023(AlibabaArgs),
}

#[derive(clap::Args)]
pub struct AlibabaArgs {
    /// Node list: the trace's CSV (`sn,cpu_milli,memory_mib,gpu,model`) or node YAML
    /// (`.yaml`/`.yml`).
    #[arg(long)]
    pub nodes: PathBuf,
    /// Pod list CSV (`name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...]`).
    #[arg(long)]
    pub pods: PathBuf,
    /// The scenario file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The score policy of the scenario's scheduler profile (one of the FGD paper's six).
    #[arg(long, default_value = "FGD")]
    pub policy: String,
    /// The scenario's `spec.duration`.
    #[arg(long, default_value = "10m")]
    pub duration: String,
    /// The scenario's `spec.seed` (also the Random policy's seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn import_cmd(args: &ImportArgs) -> Result<std::process::ExitCode> {
    match &args.source {
        Source::AlibabaGpuV2023(a) => alibaba(a),
    }
}

/// Drops nulls, empty strings, empty lists and empty mappings (the serializer writes every
/// field; absent means the same default when read back).
fn prune(v: &mut Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => {
            a.retain_mut(prune);
            !a.is_empty()
        }
        Value::Object(m) => {
            m.retain(|_, x| prune(x));
            !m.is_empty()
        }
        _ => true,
    }
}

/// `{"apiVersion": "v1", "kind": kind, ...object}` with defaults and server-set metadata
/// (`creationTimestamp`, `generation`, `resourceVersion`, `uid`) pruned.
fn object(kind: &str, value: Value) -> Value {
    let mut v = value;
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["creationTimestamp", "generation", "resourceVersion", "uid"] {
            m.remove(k);
        }
    }
    prune(&mut v);
    let mut out = serde_json::Map::new();
    out.insert("apiVersion".into(), "v1".into());
    out.insert("kind".into(), kind.into());
    if let Value::Object(m) = v {
        out.extend(m);
    }
    Value::Object(out)
}

/// The scenario text for `trace` (`nodes` and `pods` name the sources in a comment).
pub fn scenario_text(
    trace: &Trace,
    pods: &[kubesim::api::objects::pod::Pod],
    name: &str,
    args: &AlibabaArgs,
) -> Result<String> {
    let mut scheduler = trace.scheduler_config(&args.policy, args.seed);
    scheduler["profiles"][0]["schedulerName"] = "default-scheduler".into();
    let mut out = String::new();
    out.push_str(&format!(
        "# Written by `kubesim import alibaba-gpu-v2023 --nodes {} --pods {} --policy {}`.\n",
        args.nodes.display(),
        args.pods.display(),
        args.policy
    ));
    out.push_str("apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata:\n");
    out.push_str(&format!("  name: {}\n", serde_json::to_string(name)?));
    out.push_str(&format!(
        "  description: {}\n",
        serde_json::to_string(&format!(
            "Alibaba GPU trace: {} nodes, {} pods, policy {}",
            trace.nodes.len(),
            pods.len(),
            args.policy
        ))?
    ));
    out.push_str("spec:\n");
    out.push_str(&format!("  seed: {}\n", args.seed));
    out.push_str(&format!(
        "  duration: {}\n",
        serde_json::to_string(&args.duration)?
    ));
    out.push_str(&format!(
        "  scheduler: {}\n",
        serde_json::to_string(&scheduler)?
    ));
    // Explicit nodes keep the conditions they are given; the trace's have none, and its
    // nodes are healthy: they start Ready, as pool nodes do.
    out.push_str("  cluster:\n    nodes:\n");
    for n in &trace.nodes {
        let mut v = object("Node", serde_json::to_value(&**n)?);
        let status = &mut v["status"];
        if status.get("conditions").is_none() {
            status["conditions"] = serde_json::json!([
                {"type": "Ready", "status": "True", "reason": "KubeletReady"}
            ]);
        }
        out.push_str(&format!("    - {}\n", serde_json::to_string(&v)?));
    }
    out.push_str("  objects:\n");
    for p in pods {
        let v = object("Pod", serde_json::to_value(p)?);
        out.push_str(&format!("  - {}\n", serde_json::to_string(&v)?));
    }
    Ok(out)
}

fn alibaba(args: &AlibabaArgs) -> Result<std::process::ExitCode> {
    if !POLICIES.contains(&args.policy.as_str()) {
        bail!(
            "--policy {}: unknown; known: {}",
            args.policy,
            POLICIES.join(", ")
        );
    }
    kubesim::sim::parse_duration(&args.duration)
        .map_err(|e| anyhow::anyhow!("--duration {}: {e}", args.duration))?;
    let nodes = load_nodes(&args.nodes)?;
    let trace_pods = load_pods(&args.pods)?;
    let pods = trace_pods
        .iter()
        .map(|p| p.to_pod())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.pods.display()))?;
    let trace = Trace::new(nodes, trace_pods).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "alibaba-gpu-v2023".into());
    let text = scenario_text(&trace, &pods, &name, args)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_atomic(&args.out, &text)?;
    eprintln!(
        "wrote {}: {} nodes, {} pods",
        args.out.display(),
        trace.nodes.len(),
        pods.len()
    );
    Ok(std::process::ExitCode::SUCCESS)
}
