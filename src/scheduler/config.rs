//! KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) into runnable profiles.
//!
//! Plugin sets merge as upstream (`pkg/scheduler/apis/config/v1/default_plugins.go`
//! `mergePluginSet`, `framework/runtime/framework.go` multi-point expansion):
//! - the profile's `multiPoint` merges into the defaults: `disabled` removes (`*` removes all
//!   defaults), an enabled default is re-configured in place, other enabled plugins append;
//! - each extension point then lists its own `enabled` plugins first, followed by the
//!   multi-point plugins that implement it and are not `disabled` there;
//! - a score weight comes from the entry that enabled the plugin; 0 means the default weight
//!   (1 for plugins without one).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::framework::Plugin;
use super::plugins::{self, DEFAULT_PLUGINS};

pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerConfiguration {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// 0 (default) = adaptive.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Default 1.
    #[serde(default)]
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Default 10.
    #[serde(default)]
    pub pod_max_backoff_seconds: Option<i64>,
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
    /// Accepted and ignored (no effect in a single-process simulation).
    #[serde(default)]
    pub parallelism: Option<i32>,
    #[serde(default)]
    pub leader_election: Option<serde_json::Value>,
    #[serde(default)]
    pub client_connection: Option<serde_json::Value>,
    #[serde(default)]
    pub extenders: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    #[serde(default)]
    pub scheduler_name: Option<String>,
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    #[serde(default)]
    pub plugins: Option<PluginsConfig>,
    #[serde(default)]
    pub plugin_config: Vec<PluginConfigEntry>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PluginsConfig {
    pub multi_point: PluginSet,
    pub pre_enqueue: PluginSet,
    pub queue_sort: PluginSet,
    pub pre_filter: PluginSet,
    pub filter: PluginSet,
    pub post_filter: PluginSet,
    pub pre_score: PluginSet,
    pub score: PluginSet,
    pub reserve: PluginSet,
    pub permit: PluginSet,
    pub pre_bind: PluginSet,
    pub bind: PluginSet,
    pub post_bind: PluginSet,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSet {
    pub enabled: Vec<PluginRef>,
    pub disabled: Vec<PluginRef>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    pub name: String,
    #[serde(default)]
    pub weight: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfigEntry {
    pub name: String,
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// A runnable profile: plugins built once, and per-extension-point lists of indexes.
pub struct Profile {
    pub scheduler_name: String,
    pub plugins: Vec<Box<dyn Plugin>>,
    pub pre_filter: Vec<usize>,
    pub filter: Vec<usize>,
    pub pre_score: Vec<usize>,
    /// (plugin index, weight).
    pub score: Vec<(usize, i64)>,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub preemption: bool,
}

/// Everything the scheduler needs from its configuration.
pub struct SchedulerConfig {
    pub profiles: Vec<Profile>,
    pub percentage_of_nodes_to_score: i32,
    pub initial_backoff_seconds: i64,
    pub max_backoff_seconds: i64,
    /// Not a KubeSchedulerConfiguration field: recompute every count table by a full scan
    /// instead of using the cache's memo (see [`super::memo`]). For tests that check the
    /// fast paths against plain re-computation; results are identical, only slower.
    pub plain_counts: bool,
}

fn merge(defaults: &[(String, i64)], custom: &PluginSet) -> Vec<(String, i64)> {
    let disabled: Vec<&str> = custom.disabled.iter().map(|p| p.name.as_str()).collect();
    let mut replaced = vec![false; custom.enabled.len()];
    let mut out = Vec::new();
    if !disabled.contains(&"*") {
        for (name, weight) in defaults {
            if disabled.contains(&name.as_str()) {
                continue;
            }
            match custom.enabled.iter().position(|p| &p.name == name) {
                Some(i) => {
                    replaced[i] = true;
                    out.push((name.clone(), custom.enabled[i].weight));
                }
                None => out.push((name.clone(), *weight)),
            }
        }
    }
    for (i, p) in custom.enabled.iter().enumerate() {
        if !replaced[i] {
            out.push((p.name.clone(), p.weight));
        }
    }
    out
}

fn default_weight(name: &str) -> i64 {
    DEFAULT_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, w)| *w)
        .filter(|w| *w > 0)
        .unwrap_or(1)
}

impl SchedulerConfig {
    /// The default configuration: one `default-scheduler` profile with the default plugins.
    pub fn default_config() -> SchedulerConfig {
        SchedulerConfig::from_config(&KubeSchedulerConfiguration::default())
            .expect("the default configuration is valid")
    }

    /// Builds profiles; errors name the profile and plugin.
    pub fn from_config(cfg: &KubeSchedulerConfiguration) -> Result<SchedulerConfig, String> {
        if let Some(v) = &cfg.api_version
            && v != API_VERSION
        {
            return Err(format!(
                "apiVersion: Unsupported value: {v:?}: supported values: {API_VERSION:?}"
            ));
        }
        if let Some(k) = &cfg.kind
            && k != "KubeSchedulerConfiguration"
        {
            return Err(format!(
                "kind: Unsupported value: {k:?}: expected KubeSchedulerConfiguration"
            ));
        }
        let check_pct = |p: Option<i32>, path: &str| match p {
            Some(p) if !(0..=100).contains(&p) => Err(format!(
                "{path}: Invalid value: {p}: not in valid range [0-100]"
            )),
            _ => Ok(()),
        };
        check_pct(cfg.percentage_of_nodes_to_score, "percentageOfNodesToScore")?;
        let default_profile = [ProfileConfig::default()];
        let profiles_cfg: &[ProfileConfig] = if cfg.profiles.is_empty() {
            &default_profile
        } else {
            &cfg.profiles
        };
        let mut profiles = Vec::new();
        for (i, pc) in profiles_cfg.iter().enumerate() {
            let name = pc
                .scheduler_name
                .clone()
                .unwrap_or_else(|| "default-scheduler".into());
            if profiles.iter().any(|p: &Profile| p.scheduler_name == name) {
                return Err(format!(
                    "profiles[{i}].schedulerName: Duplicate value: {name:?}"
                ));
            }
            check_pct(
                pc.percentage_of_nodes_to_score,
                &format!("profiles[{i}].percentageOfNodesToScore"),
            )?;
            profiles.push(
                build_profile(pc, &name).map_err(|e| format!("profiles[{i}] ({name}): {e}"))?,
            );
        }
        let initial = cfg.pod_initial_backoff_seconds.unwrap_or(1);
        let max = cfg.pod_max_backoff_seconds.unwrap_or(10);
        if initial <= 0 || max < initial {
            return Err(
                "podInitialBackoffSeconds must be > 0 and podMaxBackoffSeconds ≥ it".into(),
            );
        }
        Ok(SchedulerConfig {
            plain_counts: false,
            profiles,
            percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score.unwrap_or(0),
            initial_backoff_seconds: initial,
            max_backoff_seconds: max,
        })
    }

    pub fn profile(&self, scheduler_name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.scheduler_name == scheduler_name)
    }
}

fn build_profile(pc: &ProfileConfig, name: &str) -> Result<Profile, String> {
    let empty = PluginsConfig::default();
    let pcfg = pc.plugins.as_ref().unwrap_or(&empty);
    let defaults: Vec<(String, i64)> = DEFAULT_PLUGINS
        .iter()
        .map(|(n, w)| (n.to_string(), *w))
        .collect();
    let multi = merge(&defaults, &pcfg.multi_point);
    let mut args: BTreeMap<&str, &serde_json::Value> = BTreeMap::new();
    for e in &pc.plugin_config {
        if let Some(a) = &e.args {
            args.insert(e.name.as_str(), a);
        }
    }
    // Build every plugin named anywhere once.
    let mut names: Vec<String> = multi.iter().map(|(n, _)| n.clone()).collect();
    for set in [
        &pcfg.pre_filter,
        &pcfg.filter,
        &pcfg.pre_score,
        &pcfg.score,
        &pcfg.post_filter,
    ] {
        for p in &set.enabled {
            if !names.contains(&p.name) {
                names.push(p.name.clone());
            }
        }
    }
    let mut plugins: Vec<Box<dyn Plugin>> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for n in &names {
        if let Some(p) = plugins::build(n, args.get(n.as_str()).copied())? {
            index.insert(n.clone(), plugins.len());
            plugins.push(p);
        }
    }
    let point = |set: &PluginSet, implements: &dyn Fn(&dyn Plugin) -> bool| -> Vec<(usize, i64)> {
        let disabled: Vec<&str> = set.disabled.iter().map(|p| p.name.as_str()).collect();
        let mut out: Vec<(usize, i64)> = Vec::new();
        let mut push = |n: &str, w: i64| {
            if let Some(&i) = index.get(n)
                && implements(plugins[i].as_ref())
                && !out.iter().any(|(j, _)| *j == i)
            {
                out.push((i, if w > 0 { w } else { default_weight(n) }));
            }
        };
        for p in &set.enabled {
            push(&p.name, p.weight);
        }
        if !disabled.contains(&"*") {
            for (n, w) in &multi {
                if !disabled.contains(&n.as_str()) {
                    push(n, *w);
                }
            }
        }
        out
    };
    let idx = |v: Vec<(usize, i64)>| v.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
    let pre_filter = idx(point(&pcfg.pre_filter, &|p| p.points().pre_filter));
    let filter = idx(point(&pcfg.filter, &|p| p.points().filter));
    let pre_score = idx(point(&pcfg.pre_score, &|p| p.points().pre_score));
    let score = point(&pcfg.score, &|p| p.points().score);
    let post_disabled = pcfg
        .post_filter
        .disabled
        .iter()
        .any(|p| p.name == "*" || p.name == "DefaultPreemption");
    let preemption = !post_disabled
        && (multi.iter().any(|(n, _)| n == "DefaultPreemption")
            || pcfg
                .post_filter
                .enabled
                .iter()
                .any(|p| p.name == "DefaultPreemption"));
    Ok(Profile {
        scheduler_name: name.to_string(),
        plugins,
        pre_filter,
        filter,
        pre_score,
        score,
        percentage_of_nodes_to_score: pc.percentage_of_nodes_to_score,
        preemption,
    })
}
