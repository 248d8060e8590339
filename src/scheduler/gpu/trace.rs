//! The Alibaba GPU cluster trace (`cluster-trace-gpu-v2023`, "openb"): node and pod lists
//! into Node and Pod objects, as the FGD paper's simulator converts them.
//!
//! Source: `hkust-adsl/kubernetes-scheduler-simulator` `data/pod_csv_to_yaml.py` and
//! `data/node_yaml/`; the files and their provenance: `../shared/realdata/PROVENANCE.md` §1.
//!
//! - Node CSV `sn,cpu_milli,memory_mib,gpu,model`: allocatable = capacity = `cpu_milli`m,
//!   `memory_mib`Mi, 1,001 pods, `alibabacloud.com/gpu-count` = `gpu` and
//!   `alibabacloud.com/gpu-milli` = 1000 × `gpu`; label `alibabacloud.com/gpu-card-model`.
//!   The node YAML of the trace holds the same objects (read with [`nodes_from_yaml`]).
//! - Pod CSV `name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...]`: requests =
//!   limits = `cpu_milli`m / `memory_mib`Mi; annotations `gpu-milli` (clamped to 0..=1000),
//!   `gpu-count` (only when `num_gpu` ≠ 0) and `gpu-card-model` = `gpu_spec` (when set).
//!   Creation, deletion and scheduling times are ignored, as in the paper's runs.
//!
//! The library does no file IO: callers pass the files' text. Errors start with the line
//! (`12: gpu_milli: not a non-negative number: "x"`; the node YAML: `line:column: ...`),
//! so a caller prefixes the file name and a colon to get `file:line: ...`.

use crate::api::objects::node::Node;
use crate::api::objects::pod::Pod;

use super::{ANNO_GPU_COUNT, ANNO_GPU_MILLI, GPU_MODEL, MILLI};

/// Most rows read from one file (bounds memory on bad input).
pub const MAX_ROWS: usize = 1_000_000;
/// The namespace trace pods are put in.
pub const NAMESPACE: &str = "default";

/// One row of a pod list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracePod {
    pub name: String,
    pub milli_cpu: i64,
    pub memory_mib: i64,
    pub num_gpu: i64,
    /// Per-GPU milli-GPU, clamped to 0..=1000.
    pub gpu_milli: i64,
    /// `|`-separated allowed models, empty for any.
    pub gpu_spec: String,
}

impl TracePod {
    /// Total milli-GPU request (`num_gpu × gpu_milli`).
    pub fn total_milli(&self) -> i64 {
        self.num_gpu * self.gpu_milli
    }

    /// The Pod object (`pod_csv_to_yaml.py`).
    pub fn to_pod(&self) -> Result<Pod, String> {
        let mut annotations = serde_json::Map::new();
        annotations.insert(ANNO_GPU_MILLI.into(), self.gpu_milli.to_string().into());
        if self.num_gpu != 0 {
            annotations.insert(ANNO_GPU_COUNT.into(), self.num_gpu.to_string().into());
        }
        if !self.gpu_spec.is_empty() {
            annotations.insert(GPU_MODEL.into(), self.gpu_spec.clone().into());
        }
        let res = serde_json::json!({
            "cpu": format!("{}m", self.milli_cpu),
            "memory": format!("{}Mi", self.memory_mib),
        });
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": self.name, "namespace": NAMESPACE, "annotations": annotations},
            "spec": {"containers": [{
                "name": "main",
                "image": "alibaba-gpu-v2023/task",
                "resources": {"requests": res, "limits": res},
            }]},
        }))
        .map_err(|e| format!("pod {}: {e}", self.name))
    }
}

fn field<'a>(rec: &'a csv::StringRecord, headers: &csv::StringRecord, name: &str) -> &'a str {
    headers
        .iter()
        .position(|h| h.trim() == name)
        .and_then(|i| rec.get(i))
        .unwrap_or("")
        .trim()
}

fn int(
    rec: &csv::StringRecord,
    headers: &csv::StringRecord,
    name: &str,
    line: u64,
) -> Result<i64, String> {
    let v = field(rec, headers, name);
    if v.is_empty() {
        return Ok(0);
    }
    v.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)
        .map(|f| f as i64)
        .ok_or_else(|| format!("{line}: {name}: not a non-negative number: {v:?}"))
}

fn read_rows(
    text: &str,
    required: &[&str],
    mut row: impl FnMut(&csv::StringRecord, &csv::StringRecord, u64) -> Result<(), String>,
) -> Result<(), String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| format!("1: {e}"))?.clone();
    for r in required {
        if !headers.iter().any(|h| h.trim() == *r) {
            return Err(format!(
                "1: missing column {r:?} (header: {:?})",
                headers.iter().collect::<Vec<_>>().join(",")
            ));
        }
    }
    for (i, rec) in rdr.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(format!("{}: more than {MAX_ROWS} rows", i + 2));
        }
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(i as u64 + 2, |p| p.line());
            format!("{line}: {e}")
        })?;
        let line = rec.position().map_or(i as u64 + 2, |p| p.line());
        row(&rec, &headers, line)?;
    }
    Ok(())
}

/// Parses a pod list (`openb_pod_list_*.csv`).
pub fn pods_from_csv(text: &str) -> Result<Vec<TracePod>, String> {
    let mut out = Vec::new();
    read_rows(
        text,
        &["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"],
        |rec, h, line| {
            let name = field(rec, h, "name").to_string();
            if name.is_empty() {
                return Err(format!("{line}: empty name"));
            }
            out.push(TracePod {
                name,
                milli_cpu: int(rec, h, "cpu_milli", line)?,
                memory_mib: int(rec, h, "memory_mib", line)?,
                num_gpu: int(rec, h, "num_gpu", line)?.min(super::MAX_GPUS_PER_NODE as i64),
                gpu_milli: int(rec, h, "gpu_milli", line)?.min(MILLI),
                gpu_spec: field(rec, h, "gpu_spec").to_string(),
            });
            Ok(())
        },
    )?;
    Ok(out)
}

/// Parses a node list (`openb_node_list_*.csv`) into Node objects.
pub fn nodes_from_csv(text: &str) -> Result<Vec<Node>, String> {
    let mut out = Vec::new();
    read_rows(
        text,
        &["sn", "cpu_milli", "memory_mib", "gpu", "model"],
        |rec, h, line| {
            let name = field(rec, h, "sn");
            let gpu = int(rec, h, "gpu", line)?.min(super::MAX_GPUS_PER_NODE as i64);
            let model = field(rec, h, "model");
            let mut labels = serde_json::json!({
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
            });
            let mut alloc = serde_json::json!({
                "cpu": format!("{}m", int(rec, h, "cpu_milli", line)?),
                "memory": format!("{}Mi", int(rec, h, "memory_mib", line)?),
                "pods": "1001",
            });
            if gpu > 0 {
                labels[GPU_MODEL] = model.into();
                alloc[ANNO_GPU_COUNT] = gpu.to_string().into();
                alloc[ANNO_GPU_MILLI] = (gpu * MILLI).to_string().into();
            }
            let node: Node = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": labels},
                "status": {"capacity": alloc.clone(), "allocatable": alloc},
            }))
            .map_err(|e| format!("{line}: {e}"))?;
            out.push(node);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Parses the trace's node YAML (`node_yaml/openb_node_list_gpu_node.yaml`, one
/// `kind: Node` per document).
pub fn nodes_from_yaml(text: &str) -> Result<Vec<Node>, String> {
    let docs = crate::scenario::yaml::parse_documents(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for d in docs {
        if d.value.is_null() {
            continue;
        }
        if d.value.get("kind").and_then(|k| k.as_str()) != Some("Node") {
            return Err(format!("{}: not a Node", d.start));
        }
        let mut v = d.value;
        if let Some(m) = v.as_object_mut() {
            m.remove("apiVersion");
            m.remove("kind");
        }
        let mut node: Node = serde_json::from_value(v).map_err(|e| format!("{}: {e}", d.start))?;
        if node.status.allocatable.is_empty() {
            node.status.allocatable = node.status.capacity.clone();
        }
        out.push(node);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::gpu::{GpuRequest, NodeGpus};

    #[test]
    fn csv_rows_become_gpu_nodes_and_pods() {
        let nodes = nodes_from_csv(
            "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nc0,32000,1024,0,\n",
        )
        .unwrap();
        let g = NodeGpus::from_node(&nodes[0]).unwrap();
        assert_eq!(
            (g.model.as_str(), g.left.clone()),
            ("P100", vec![1000, 1000])
        );
        assert!(NodeGpus::from_node(&nodes[1]).is_none());
        let pods = pods_from_csv("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,6000,12288,1,460,\np1,1000,10,2,1000,V100M16|V100M32\np2,1000,10,0,0,\n").unwrap();
        let r0 = GpuRequest::from_pod(&pods[0].to_pod().unwrap()).unwrap();
        assert_eq!((r0.count, r0.milli, r0.is_share()), (1, 460, true));
        let r1 = GpuRequest::from_pod(&pods[1].to_pod().unwrap()).unwrap();
        assert_eq!((r1.count, r1.total_milli()), (2, 2000));
        assert!(r1.accepts_model("V100M32") && !r1.accepts_model("T4"));
        assert!(GpuRequest::from_pod(&pods[2].to_pod().unwrap()).is_none());
    }

    #[test]
    fn bad_rows_are_errors_not_panics() {
        assert!(pods_from_csv("name,cpu_milli\np,1\n").is_err());
        assert!(pods_from_csv("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,x,1,1,1\n").is_err());
        assert!(nodes_from_yaml("kind: Pod\n").is_err());
    }
}
