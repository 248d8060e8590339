//! In-tree plugins, one file each, and the registry that builds them by name.
//!
//! Besides upstream's in-tree plugins, the registry has the FGD paper's GPU plugins (Weng et
//! al., ATC'23; see [`super::gpu`]): the filter `GpuShare` and the score plugins `Random`,
//! `DotProduct`, `GpuClustering`, `GpuPacking`, `BestFit` and `FGD`, each with its GPU
//! device choice at reserve time ([`super::framework::Plugin::select_gpus`]).
//!
//! Volume plugins (VolumeRestrictions, the *Limits plugins, VolumeBinding, VolumeZone) are
//! out of scope: kubesim models no volumes, and upstream they are no-ops for pods without
//! volumes, so the default profile behaves the same without them.

pub mod balanced_allocation;
pub mod best_fit;
pub mod dot_product;
pub mod fgd;
pub mod gpu_clustering;
pub mod gpu_packing;
pub mod gpu_share;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod random_score;
pub mod resource_allocation;
pub mod taint_toleration;

use super::framework::Plugin;

/// The default profile's plugins in MultiPoint order with their score weights
/// (`pkg/scheduler/apis/config/v1/default_plugins.go`), volume plugins left out.
/// PrioritySort (queue), SchedulingGates (PreEnqueue), DefaultPreemption (PostFilter) and
/// DefaultBinder (Bind) are built into the scheduler and listed for configuration only.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

/// Plugins the scheduler itself implements rather than through [`Plugin`].
pub const BUILT_IN: &[&str] = &[
    "SchedulingGates",
    "PrioritySort",
    "DefaultPreemption",
    "DefaultBinder",
];

/// Volume plugins: accepted in configurations (and ignored: no volumes are modelled).
pub const VOLUME_PLUGINS: &[&str] = &[
    "VolumeRestrictions",
    "EBSLimits",
    "GCEPDLimits",
    "NodeVolumeLimits",
    "AzureDiskLimits",
    "VolumeBinding",
    "VolumeZone",
];

fn args<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    args: Option<&serde_json::Value>,
) -> Result<T, String> {
    match args {
        None => Ok(T::default()),
        Some(v) => {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            serde_path_to_error::deserialize(v).map_err(|e| {
                let path = e.path().to_string();
                format!("{name} args: {path}: {}", e.inner())
            })
        }
    }
}

/// Builds plugin `name` with its `pluginConfig` args. `Ok(None)` for built-in and volume
/// plugins; `Err` for unknown names or bad args.
pub fn build(
    name: &str,
    plugin_args: Option<&serde_json::Value>,
) -> Result<Option<Box<dyn Plugin>>, String> {
    let p: Box<dyn Plugin> = match name {
        "NodeUnschedulable" => Box::new(node_unschedulable::NodeUnschedulable),
        "NodeName" => Box::new(node_name::NodeName),
        "TaintToleration" => Box::new(taint_toleration::TaintToleration),
        "NodeAffinity" => Box::new(node_affinity::NodeAffinity),
        "NodePorts" => Box::new(node_ports::NodePorts),
        "NodeResourcesFit" => Box::new(node_resources_fit::NodeResourcesFit::new(args(
            name,
            plugin_args,
        )?)?),
        "NodeResourcesBalancedAllocation" => Box::new(
            balanced_allocation::BalancedAllocation::new(args(name, plugin_args)?),
        ),
        "ImageLocality" => Box::new(image_locality::ImageLocality),
        n if BUILT_IN.contains(&n) || VOLUME_PLUGINS.contains(&n) => return Ok(None),
        "PodTopologySpread" => Box::new(pod_topology_spread::PodTopologySpread::new(args(
            name,
            plugin_args,
        )?)?),
        "InterPodAffinity" => Box::new(inter_pod_affinity::InterPodAffinity::new(args(
            name,
            plugin_args,
        )?)?),
        "GpuShare" => Box::new(gpu_share::GpuShare),
        "Random" => Box::new(random_score::RandomScore::new(args(name, plugin_args)?)),
        "DotProduct" => Box::new(dot_product::DotProduct::new(args(name, plugin_args)?)?),
        "GpuClustering" => Box::new(gpu_clustering::GpuClustering),
        "GpuPacking" => Box::new(gpu_packing::GpuPacking),
        "BestFit" => Box::new(best_fit::BestFit),
        "FGD" => Box::new(fgd::Fgd::new(args(name, plugin_args)?)?),
        other => return Err(format!("unknown plugin {other:?}")),
    };
    Ok(Some(p))
}
