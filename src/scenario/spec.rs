//! The scenario file's own schema (`apiVersion: kubesim.io/v1alpha1`, `kind: Scenario`).
//!
//! Every field, default and unit is documented in `docs/scenario-format.md`; keep the two in
//! step. Unknown fields are errors (a typo must not silently do nothing); Kubernetes objects
//! inside the scenario are read leniently, as the API server reads them.

use serde::{Deserialize, Deserializer};

use crate::sim::{SimDuration, parse_duration};

pub const API_VERSION: &str = "kubesim.io/v1alpha1";
pub const KIND: &str = "Scenario";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioFile {
    pub api_version: String,
    pub kind: String,
    pub metadata: ScenarioMeta,
    #[serde(default)]
    pub spec: ScenarioSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ScenarioSpec {
    /// Seeds every random stream. Default 1.
    pub seed: u64,
    /// Simulated time to run. Default 10m.
    pub duration: Duration,
    pub limits: LimitsSpec,
    pub api: ApiSpec,
    pub metrics: MetricsSpec,
    pub cluster: ClusterSpec,
    /// Kubernetes objects, inline.
    pub objects: Vec<serde_json::Value>,
    /// Files of Kubernetes objects, relative to the scenario file.
    pub include: Vec<Include>,
    /// Container behaviours, matched to pods by selector or annotation.
    pub behaviors: Vec<crate::kubelet::behavior::Behavior>,
    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1); default: the default
    /// profile.
    pub scheduler: Option<serde_json::Value>,
    /// kube-controller-manager settings (node lifecycle, pod GC).
    pub controllers: ControllersSpec,
    /// The timeline (`crate::timeline`), decoded by hand for line:column errors.
    pub events: Option<serde_json::Value>,
    /// Expectations (`crate::expect`), decoded by hand.
    pub expect: Option<serde_json::Value>,
    /// Random fault generators (`crate::timeline::chaos`), decoded by hand.
    pub chaos: Option<serde_json::Value>,
    // Keys that later releases fill in. Present here only so that using one gives a clear
    // "not supported yet" error instead of an unknown-field error.
    pub network: Option<serde_json::Value>,
    pub traffic: Option<serde_json::Value>,
}

impl Default for ScenarioSpec {
    fn default() -> Self {
        ScenarioSpec {
            seed: 1,
            duration: Duration(SimDuration::from_secs(600)),
            limits: LimitsSpec::default(),
            api: ApiSpec::default(),
            metrics: MetricsSpec::default(),
            cluster: ClusterSpec::default(),
            objects: Vec::new(),
            include: Vec::new(),
            scheduler: None,
            controllers: ControllersSpec::default(),
            behaviors: Vec::new(),
            network: None,
            traffic: None,
            events: None,
            chaos: None,
            expect: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LimitsSpec {
    /// Default 100,000,000.
    pub max_events: u64,
    /// Default 10,000,000.
    pub max_pending_events: usize,
    /// Default 5,000,000.
    pub max_objects: usize,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_events: 100_000_000,
            max_pending_events: 10_000_000,
            max_objects: 5_000_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ApiSpec {
    /// Default 10ms.
    pub watch_latency: Duration,
    /// Default 0s.
    pub watch_jitter: Duration,
    /// DefaultTolerationSeconds admission: default 300.
    pub default_not_ready_toleration_seconds: i64,
    /// DefaultTolerationSeconds admission: default 300.
    pub default_unreachable_toleration_seconds: i64,
}

impl Default for ApiSpec {
    fn default() -> Self {
        ApiSpec {
            watch_latency: Duration(SimDuration::from_millis(10)),
            watch_jitter: Duration(SimDuration::ZERO),
            default_not_ready_toleration_seconds: 300,
            default_unreachable_toleration_seconds: 300,
        }
    }
}

/// `spec.controllers`: kube-controller-manager flags, defaults as upstream (≥ v1.32).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ControllersSpec {
    /// Default 5s; must be positive.
    pub node_monitor_period: Duration,
    /// Default 50s (40s before v1.32); must be positive.
    pub node_monitor_grace_period: Duration,
    /// Default 60s; must be positive.
    pub node_startup_grace_period: Duration,
    /// Default 0.1 nodes per second.
    pub node_eviction_rate: f32,
    /// Default 0.01.
    pub secondary_node_eviction_rate: f32,
    /// Default 50.
    pub large_cluster_size_threshold: i32,
    /// Default 0.55.
    pub unhealthy_zone_threshold: f32,
    /// Default 12500; 0 turns terminated-pod collection off.
    #[serde(rename = "terminatedPodGCThreshold")]
    pub terminated_pod_gc_threshold: i64,
}

impl Default for ControllersSpec {
    fn default() -> Self {
        let c = crate::controllers::ControllersConfig::default();
        ControllersSpec {
            node_monitor_period: Duration(c.node_monitor_period),
            node_monitor_grace_period: Duration(c.node_monitor_grace_period),
            node_startup_grace_period: Duration(c.node_startup_grace_period),
            node_eviction_rate: c.node_eviction_rate,
            secondary_node_eviction_rate: c.secondary_node_eviction_rate,
            large_cluster_size_threshold: c.large_cluster_size_threshold,
            unhealthy_zone_threshold: c.unhealthy_zone_threshold,
            terminated_pod_gc_threshold: c.terminated_pod_gc_threshold,
        }
    }
}

impl ControllersSpec {
    /// The checked configuration, or the problems as (field, message).
    pub fn check(&self) -> Result<crate::controllers::ControllersConfig, Vec<(String, String)>> {
        let mut problems = Vec::new();
        for (field, d) in [
            ("nodeMonitorPeriod", self.node_monitor_period),
            ("nodeMonitorGracePeriod", self.node_monitor_grace_period),
            ("nodeStartupGracePeriod", self.node_startup_grace_period),
        ] {
            if d.0.is_zero() {
                problems.push((
                    format!("spec.controllers.{field}"),
                    "Invalid value: 0s: must be positive".to_string(),
                ));
            }
        }
        for (field, v) in [
            ("nodeEvictionRate", self.node_eviction_rate),
            (
                "secondaryNodeEvictionRate",
                self.secondary_node_eviction_rate,
            ),
            ("unhealthyZoneThreshold", self.unhealthy_zone_threshold),
        ] {
            if !v.is_finite() || v < 0.0 {
                problems.push((
                    format!("spec.controllers.{field}"),
                    format!("Invalid value: {v}: must be a number >= 0"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(crate::controllers::ControllersConfig {
            node_monitor_period: self.node_monitor_period.0,
            node_monitor_grace_period: self.node_monitor_grace_period.0,
            node_startup_grace_period: self.node_startup_grace_period.0,
            node_eviction_rate: self.node_eviction_rate,
            secondary_node_eviction_rate: self.secondary_node_eviction_rate,
            large_cluster_size_threshold: self.large_cluster_size_threshold,
            unhealthy_zone_threshold: self.unhealthy_zone_threshold,
            terminated_pod_gc_threshold: self.terminated_pod_gc_threshold,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MetricsSpec {
    /// Default 10s; must be positive.
    pub interval: Duration,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            interval: Duration(SimDuration::from_secs(10)),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClusterSpec {
    pub node_pools: Vec<NodePoolSpec>,
    /// Explicit Node objects.
    pub nodes: Vec<serde_json::Value>,
}

/// Most nodes one pool may generate.
pub const MAX_POOL_NODES: u32 = 100_000;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePoolSpec {
    /// Node names are `<name>-<index>`, index from 0.
    pub name: String,
    pub count: u32,
    /// Zones to spread nodes across, round-robin (label `topology.kubernetes.io/zone`).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Label `topology.kubernetes.io/region` on every node, when set.
    #[serde(default)]
    pub region: String,
    /// Racks per zone (label `kubesim.io/rack` = `<zone>-rack-<r>`); 0 means no rack label.
    #[serde(default)]
    pub racks_per_zone: u32,
    /// A Node object every node of the pool is stamped from (labels, taints, capacity).
    #[serde(default)]
    pub template: serde_json::Value,
}

/// A Go-style duration string (`30s`, `1m30s`, `1.5h`, `250ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration(pub SimDuration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration string such as 30s, 1m30s, 1.5h or 250ms")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Duration, E> {
                parse_duration(s).map(Duration).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
                if n == 0 {
                    Ok(Duration(SimDuration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "invalid duration {n}: a number needs a unit (e.g. {n}s)"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// An included file: a path, or `{path, kind}` where `kind` is assumed for documents that
/// carry none (e.g. objects saved without `kind`/`apiVersion`, as insights archives do).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Include {
    Path(String),
    WithKind(IncludeWithKind),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeWithKind {
    pub path: String,
    #[serde(default)]
    pub kind: Option<String>,
}

impl Include {
    pub fn path(&self) -> &str {
        match self {
            Include::Path(p) => p,
            Include::WithKind(w) => &w.path,
        }
    }

    pub fn kind(&self) -> Option<&str> {
        match self {
            Include::Path(_) => None,
            Include::WithKind(w) => w.kind.as_deref(),
        }
    }
}
