//! Scenario files: parse, check and turn into a ready-to-run [`Scenario`].
//!
//! - A scenario is JSON or YAML (`apiVersion: kubesim.io/v1alpha1`, `kind: Scenario`); the
//!   format is documented field by field in `docs/scenario-format.md`.
//! - Kubernetes objects come inline (`spec.objects`, `spec.cluster.nodes`), from node pools,
//!   or from included files (`kubectl get -o json|yaml` output, `kind: List`, multi-document
//!   YAML), and are read with their upstream schema.
//! - Every problem is reported at once, each with file, line:column and field path
//!   ([`ScenarioError`]); nothing here panics on any input.
//! - The library does no file IO: the caller passes a function that reads a path.

pub mod diagnostics;
pub mod pools;
pub mod spec;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::store::INITIAL_NAMESPACES;
use crate::api::{defaults, validation};
use crate::runtime::{RunConfig, WatchConfig};
use crate::scheduler::config::{KubeSchedulerConfiguration, SchedulerConfig};
use crate::sim::{Limits, SimTime};

use diagnostics::Sink;
pub use diagnostics::{Diagnostic, ScenarioError};
use yaml::{Locations, path_index, path_key};

/// Most files one scenario may include.
pub const MAX_INCLUDES: usize = 1_000;

/// A checked scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `metadata.name`.
    pub name: String,
    pub description: String,
    pub config: RunConfig,
    /// Objects in the order they are applied: namespaces, priority classes, nodes, then the
    /// rest in source order.
    pub objects: Vec<SourcedObject>,
    /// Things worth knowing that do not stop the run (e.g. a pod bound to a missing node).
    pub warnings: Vec<String>,
    /// `spec.behaviors`, for the kubelet fleet.
    pub behaviors: Vec<crate::kubelet::behavior::Behavior>,
    /// `spec.scheduler`, checked (it builds into a valid [`SchedulerConfig`]).
    pub scheduler: KubeSchedulerConfiguration,
    /// `spec.controllers`, checked.
    pub controllers: crate::controllers::ControllersConfig,
    /// `spec.events`: the timeline, checked.
    pub timeline: Vec<crate::timeline::Entry>,
    /// The node pools with their decoded templates (the timeline adds nodes from them).
    pub pools: Vec<crate::timeline::PoolTemplate>,
    /// `spec.expect`, checked.
    pub expectations: Vec<crate::expect::Expectation>,
    /// `spec.events` as written (for `--record-faults`).
    pub events_source: Vec<serde_json::Value>,
    /// `spec.chaos`, checked; expanded into timeline entries when the cluster is built
    /// (after `--seed` may have changed the seed).
    pub chaos: Option<crate::timeline::chaos::ChaosSpec>,
    /// `spec.traffic`, checked: kube-proxy settings and request sources.
    pub traffic: Option<crate::traffic::spec::TrafficConfig>,
    /// `spec.network`, checked (the default topology's settings when absent).
    pub network: crate::network::NetworkSpec,
}

/// An object and where it came from.
#[derive(Debug, Clone)]
pub struct SourcedObject {
    pub object: Object,
    pub origin: Diagnostic,
}

/// Reads a file's text; the binary passes `std::fs::read_to_string`.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// Loads and checks the scenario at `path`.
pub fn load(path: &Path, read: ReadFile<'_>) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = read(path).map_err(|e| single(&file, format!("cannot read the scenario: {e}")))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    load_str(&file, &text, &base, read)
}

/// Loads a scenario from text; `file` names it in messages, `base` resolves includes.
pub fn load_str(
    file: &str,
    text: &str,
    base: &Path,
    read: ReadFile<'_>,
) -> Result<Scenario, ScenarioError> {
    let mut sink = Sink::default();
    let scenario = Loader {
        sink: &mut sink,
        read,
        base: base.to_path_buf(),
    }
    .load(file, text);
    match scenario {
        Some(s) if sink.diagnostics.is_empty() => Ok(s),
        _ => Err(ScenarioError {
            diagnostics: sink.diagnostics,
        }),
    }
}

fn single(file: &str, message: String) -> ScenarioError {
    ScenarioError {
        diagnostics: vec![Diagnostic {
            file: file.to_string(),
            location: None,
            path: String::new(),
            message,
        }],
    }
}

/// Joins a document path and a path relative to it.
fn join(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else if rel.is_empty() {
        prefix.to_string()
    } else if rel.starts_with('[') {
        format!("{prefix}{rel}")
    } else {
        format!("{prefix}.{rel}")
    }
}

/// Renders a serde_path_to_error path in our path syntax.
fn serde_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out = match seg {
            Segment::Seq { index } => path_index(&out, *index),
            Segment::Map { key } => path_key(&out, key),
            Segment::Enum { variant } => path_key(&out, variant),
            Segment::Unknown => path_key(&out, "?"),
        };
    }
    out
}

/// One parsed document and where it lives.
struct Doc<'a> {
    file: &'a str,
    locations: &'a Locations,
}

impl Doc<'_> {
    fn report(&self, sink: &mut Sink, path: &str, message: impl Into<String>) {
        sink.push(self.file, self.locations.nearest(path), path, message);
    }

    fn origin(&self, path: &str) -> Diagnostic {
        Diagnostic {
            file: self.file.to_string(),
            location: self.locations.nearest(path),
            path: path.to_string(),
            message: String::new(),
        }
    }
}

struct Loader<'s, 'r> {
    sink: &'s mut Sink,
    read: ReadFile<'r>,
    base: PathBuf,
}

impl Loader<'_, '_> {
    fn load(&mut self, file: &str, text: &str) -> Option<Scenario> {
        let docs = match yaml::parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                self.sink.push(
                    file,
                    Some(e.location),
                    "",
                    format!("syntax error: {}", e.message),
                );
                return None;
            }
        };
        let doc = match docs.as_slice() {
            [one] => one,
            [] => {
                self.sink.push(
                    file,
                    None,
                    "",
                    "the file is empty: expected a Scenario document",
                );
                return None;
            }
            [_, second, ..] => {
                self.sink.push(
                    file,
                    Some(second.start),
                    "",
                    "expected one Scenario document, found several",
                );
                return None;
            }
        };
        let d = Doc {
            file,
            locations: &doc.locations,
        };
        self.check_header(&d, &doc.value)?;
        let parsed: spec::ScenarioFile = match serde_path_to_error::deserialize(&doc.value) {
            Ok(p) => p,
            Err(e) => {
                let path = serde_path(e.path());
                d.report(self.sink, &path, e.inner().to_string());
                return None;
            }
        };
        let s = &parsed.spec;
        let network = match &s.network {
            Some(v) => match crate::network::spec::parse(v) {
                Ok(n) => n,
                Err(problems) => {
                    for (path, msg) in problems {
                        d.report(self.sink, &path, msg);
                    }
                    Default::default()
                }
            },
            None => Default::default(),
        };
        if s.metrics.interval.0.is_zero() {
            d.report(
                self.sink,
                "spec.metrics.interval",
                "Invalid value: 0s: must be positive",
            );
        }
        if s.duration.0.is_zero() {
            d.report(
                self.sink,
                "spec.duration",
                "Invalid value: 0s: must be positive",
            );
        }

        self.check_behaviors(&d, &s.behaviors);
        let scheduler = self.scheduler_config(&d, s.scheduler.as_ref());
        let controllers = match s.controllers.check() {
            Ok(c) => c,
            Err(problems) => {
                for (path, msg) in problems {
                    d.report(self.sink, &path, msg);
                }
                Default::default()
            }
        };

        let mut objects: Vec<SourcedObject> = Vec::new();
        let mut pools = Vec::new();
        for (i, pool) in s.cluster.node_pools.iter().enumerate() {
            if let Some(template) = self.node_pool(&d, i, pool, &mut objects) {
                pools.push(crate::timeline::PoolTemplate {
                    spec: pool.clone(),
                    template,
                });
            }
        }
        let timeline = match &s.events {
            Some(v) => self.timeline(&d, v, &pools),
            None => Vec::new(),
        };
        let chaos = s.chaos.as_ref().map(|v| {
            let names: Vec<String> = pools.iter().map(|p| p.spec.name.clone()).collect();
            let mut problems = Vec::new();
            let c = crate::timeline::chaos::parse(v, &names, &mut problems);
            for (path, msg) in problems {
                d.report(self.sink, &path, msg);
            }
            c
        });
        let traffic = s.traffic.as_ref().map(|v| self.traffic(&d, v));
        for (i, e) in timeline.iter().enumerate() {
            if let crate::timeline::Action::TrafficRate { source, .. } = &e.action
                && !traffic
                    .as_ref()
                    .is_some_and(|t| t.sources.iter().any(|s| &s.name == source))
            {
                d.report(
                    self.sink,
                    &format!("{}.trafficRate.source", path_index("spec.events", i)),
                    format!("Not found: no spec.traffic source named {source:?}"),
                );
            }
        }
        let expectations = match &s.expect {
            Some(v) => {
                let mut problems = Vec::new();
                let e = crate::expect::spec::parse(v, &timeline, s.duration.0, &mut problems);
                for (path, msg) in problems {
                    d.report(self.sink, &path, msg);
                }
                e
            }
            None => Vec::new(),
        };
        for (i, v) in s.cluster.nodes.iter().enumerate() {
            let path = path_index("spec.cluster.nodes", i);
            self.objects_in(&d, &path, v, Some(Kind::Node), &mut objects);
        }
        for (i, v) in s.objects.iter().enumerate() {
            let path = path_index("spec.objects", i);
            self.objects_in(&d, &path, v, None, &mut objects);
        }
        if s.include.len() > MAX_INCLUDES {
            d.report(
                self.sink,
                "spec.include",
                format!(
                    "too many includes: {} (limit {MAX_INCLUDES})",
                    s.include.len()
                ),
            );
        } else {
            for (i, inc) in s.include.iter().enumerate() {
                self.include(&d, &path_index("spec.include", i), inc, &mut objects);
            }
        }

        let warnings = self.cross_check(&mut objects);
        let config = RunConfig {
            seed: s.seed,
            duration: s.duration.0,
            sample_interval: s.metrics.interval.0,
            watch: WatchConfig {
                latency: s.api.watch_latency.0,
                jitter: s.api.watch_jitter.0,
            },
            limits: Limits {
                max_events: s.limits.max_events,
                max_time: SimTime::MAX,
                max_pending: s.limits.max_pending_events,
            },
            store_limits: crate::api::StoreLimits {
                max_objects: s.limits.max_objects,
            },
            admission: crate::api::AdmissionConfig {
                default_not_ready_toleration_seconds: s.api.default_not_ready_toleration_seconds,
                default_unreachable_toleration_seconds: s
                    .api
                    .default_unreachable_toleration_seconds,
            },
        };
        let events_source = s
            .events
            .as_ref()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        Some(Scenario {
            name: parsed.metadata.name,
            description: parsed.metadata.description,
            config,
            objects,
            warnings,
            behaviors: parsed.spec.behaviors,
            scheduler: scheduler.unwrap_or_default(),
            controllers,
            timeline,
            pools,
            expectations,
            events_source,
            chaos,
            traffic,
            network,
        })
    }

    /// `spec.traffic`: decoded, then checked (arrival CSVs read relative to the scenario).
    fn traffic(
        &mut self,
        d: &Doc<'_>,
        v: &serde_json::Value,
    ) -> crate::traffic::spec::TrafficConfig {
        let spec: crate::traffic::spec::TrafficSpec = match serde_path_to_error::deserialize(v) {
            Ok(t) => t,
            Err(e) => {
                let path = join("spec.traffic", &serde_path(e.path()));
                d.report(self.sink, &path, e.inner().to_string());
                return crate::traffic::spec::TrafficConfig::default();
            }
        };
        let base = self.base.clone();
        let read = self.read;
        let read_rel = |p: &str| {
            let full = base.join(p);
            read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))
        };
        let mut problems = Vec::new();
        let checked = crate::traffic::spec::check(&spec, &read_rel, &mut problems);
        for (path, msg) in problems {
            d.report(self.sink, &join("spec.traffic", &path), msg);
        }
        checked
    }

    /// `spec.events`: the timeline entries; `apply` objects are decoded and checked here,
    /// inline or from a file relative to the scenario.
    fn timeline(
        &mut self,
        d: &Doc<'_>,
        value: &serde_json::Value,
        pools: &[crate::timeline::PoolTemplate],
    ) -> Vec<crate::timeline::Entry> {
        use crate::timeline::spec::ApplySource;
        let mut problems = Vec::new();
        let mut decode = |src: ApplySource<'_>| -> Vec<Object> {
            let mut out = Vec::new();
            match src {
                ApplySource::Inline(v, path) => self.objects_in(d, &path, v, None, &mut out),
                ApplySource::File(file, path) => {
                    let inc = spec::Include::Path(file);
                    self.include(d, &path, &inc, &mut out);
                }
            }
            out.into_iter().map(|so| so.object).collect()
        };
        let entries = crate::timeline::spec::parse(value, pools, &mut problems, &mut decode);
        for (path, msg) in problems {
            d.report(self.sink, &path, msg);
        }
        entries
    }

    /// Behaviour names are DNS labels, unique; selectors valid; each matches something.
    fn check_behaviors(&mut self, d: &Doc<'_>, behaviors: &[crate::kubelet::behavior::Behavior]) {
        let mut seen = BTreeSet::new();
        for (i, b) in behaviors.iter().enumerate() {
            let path = path_index("spec.behaviors", i);
            if b.name.is_empty() {
                d.report(self.sink, &path_key(&path, "name"), "Required value");
            } else if !seen.insert(b.name.as_str()) {
                d.report(
                    self.sink,
                    &path_key(&path, "name"),
                    format!("Duplicate value: {:?}", b.name),
                );
            }
            if !(0.0..=1.0).contains(&b.failure_ratio) {
                d.report(
                    self.sink,
                    &path_key(&path, "failureRatio"),
                    format!(
                        "Invalid value: {}: must be between 0 and 1, inclusive",
                        b.failure_ratio
                    ),
                );
            }
            if let Some(sel) = &b.selector
                && let Err(e) = sel.to_selector()
            {
                d.report(
                    self.sink,
                    &path_key(&path, "selector"),
                    format!("Invalid value: {e}"),
                );
            }
        }
    }

    /// `spec.scheduler`: a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1).
    fn scheduler_config(
        &mut self,
        d: &Doc<'_>,
        value: Option<&serde_json::Value>,
    ) -> Option<KubeSchedulerConfiguration> {
        let value = value?;
        let cfg: KubeSchedulerConfiguration = match serde_path_to_error::deserialize(value) {
            Ok(c) => c,
            Err(e) => {
                let p = join("spec.scheduler", &serde_path(e.path()));
                d.report(self.sink, &p, e.inner().to_string());
                return None;
            }
        };
        if let Err(msg) = SchedulerConfig::from_config(&cfg) {
            d.report(self.sink, "spec.scheduler", msg);
            return None;
        }
        Some(cfg)
    }

    /// apiVersion and kind first, so that a wrong file type gets a plain message rather than
    /// a list of unknown fields.
    fn check_header(&mut self, d: &Doc<'_>, value: &serde_json::Value) -> Option<()> {
        let Some(map) = value.as_object() else {
            d.report(
                self.sink,
                "",
                "expected a mapping with apiVersion: kubesim.io/v1alpha1 and kind: Scenario",
            );
            return None;
        };
        let api_version = map.get("apiVersion").and_then(|v| v.as_str());
        let kind = map.get("kind").and_then(|v| v.as_str());
        let mut ok = true;
        if kind != Some(spec::KIND) {
            let msg = match kind {
                None => format!("Required value: expected kind: {}", spec::KIND),
                Some(k) => format!(
                    "Unsupported value: {k:?}: a scenario file has kind: {}",
                    spec::KIND
                ),
            };
            d.report(self.sink, "kind", msg);
            ok = false;
        }
        if api_version != Some(spec::API_VERSION) {
            let msg = match api_version {
                None => format!("Required value: expected apiVersion: {}", spec::API_VERSION),
                Some(v) => format!(
                    "Unsupported value: {v:?}: supported values: {:?}",
                    spec::API_VERSION
                ),
            };
            d.report(self.sink, "apiVersion", msg);
            ok = false;
        }
        ok.then_some(())
    }

    fn node_pool(
        &mut self,
        d: &Doc<'_>,
        i: usize,
        pool: &spec::NodePoolSpec,
        out: &mut Vec<SourcedObject>,
    ) -> Option<crate::api::objects::Node> {
        let path = path_index("spec.cluster.nodePools", i);
        if let Err(msg) = validation::dns1123_label(&pool.name) {
            d.report(
                self.sink,
                &path_key(&path, "name"),
                format!("Invalid value: {:?}: {msg}", pool.name),
            );
            return None;
        }
        if pool.count > spec::MAX_POOL_NODES {
            d.report(
                self.sink,
                &path_key(&path, "count"),
                format!(
                    "Invalid value: {}: at most {} nodes per pool",
                    pool.count,
                    spec::MAX_POOL_NODES
                ),
            );
            return None;
        }
        let tpath = path_key(&path, "template");
        let mut template_value = pool.template.clone();
        if template_value.is_null() {
            template_value = serde_json::json!({});
        }
        if let Some(map) = template_value.as_object_mut() {
            // A template may be a bare Node body; kind and apiVersion are implied.
            map.remove("kind");
            map.remove("apiVersion");
        }
        let template =
            match serde_path_to_error::deserialize::<_, crate::api::objects::Node>(&template_value)
            {
                Ok(t) => t,
                Err(e) => {
                    let p = join(&tpath, &serde_path(e.path()));
                    d.report(self.sink, &p, e.inner().to_string());
                    return None;
                }
            };
        for node in pools::generate(pool, &template) {
            let obj = Object::Node(node);
            if self.check_object(d, &tpath, &obj) {
                out.push(SourcedObject {
                    object: obj,
                    origin: d.origin(&tpath),
                });
            }
        }
        Some(template)
    }

    fn include(
        &mut self,
        d: &Doc<'_>,
        path: &str,
        inc: &spec::Include,
        out: &mut Vec<SourcedObject>,
    ) {
        let implied = match inc.kind() {
            None => None,
            Some(name) => match Kind::from_name(name) {
                Some(k) => Some(k),
                None => {
                    d.report(
                        self.sink,
                        &path_key(path, "kind"),
                        format!("unknown kind {name:?}: expected one of {}", known_kinds()),
                    );
                    return;
                }
            },
        };
        let full = self.base.join(inc.path());
        let text = match (self.read)(&full) {
            Ok(t) => t,
            Err(e) => {
                d.report(
                    self.sink,
                    path,
                    format!("cannot read included file {}: {e}", full.display()),
                );
                return;
            }
        };
        let file = full.display().to_string();
        let docs = match yaml::parse_documents(&text) {
            Ok(docs) => docs,
            Err(e) => {
                self.sink.push(
                    &file,
                    Some(e.location),
                    "",
                    format!("syntax error: {}", e.message),
                );
                return;
            }
        };
        for doc in &docs {
            let inner = Doc {
                file: &file,
                locations: &doc.locations,
            };
            self.objects_in(&inner, "", &doc.value, implied, out);
        }
    }

    /// Decodes one object, or each item of a `kind: List`.
    fn objects_in(
        &mut self,
        d: &Doc<'_>,
        path: &str,
        value: &serde_json::Value,
        implied: Option<Kind>,
        out: &mut Vec<SourcedObject>,
    ) {
        if self.sink.is_full() {
            return;
        }
        let Some(map) = value.as_object() else {
            d.report(
                self.sink,
                path,
                "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)",
            );
            return;
        };
        if map
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k == "List" || k.ends_with("List"))
        {
            match map.get("items").and_then(|i| i.as_array()) {
                Some(items) => {
                    let items_path = path_key(path, "items");
                    for (i, item) in items.iter().enumerate() {
                        self.objects_in(d, &path_index(&items_path, i), item, implied, out);
                    }
                }
                None => d.report(
                    self.sink,
                    &path_key(path, "items"),
                    "Required value: a List needs items",
                ),
            }
            return;
        }
        if let Some(obj) = self.decode(d, path, value, implied)
            && self.check_object(d, path, &obj)
        {
            out.push(SourcedObject {
                object: obj,
                origin: d.origin(path),
            });
        }
    }

    fn decode(
        &mut self,
        d: &Doc<'_>,
        path: &str,
        value: &serde_json::Value,
        implied: Option<Kind>,
    ) -> Option<Object> {
        let map = value.as_object()?;
        let kind_name = map.get("kind").and_then(|k| k.as_str());
        let kind = match (kind_name, implied) {
            (None, Some(k)) => k,
            (None, None) => {
                d.report(
                    self.sink,
                    &path_key(path, "kind"),
                    "Required value: every object needs a kind",
                );
                return None;
            }
            (Some(name), _) => match Kind::from_name(name) {
                Some(k) => k,
                None => {
                    let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    d.report(
                        self.sink,
                        &path_key(path, "kind"),
                        format!(
                            "unknown kind {name:?}: expected one of {}",
                            known.join(", ")
                        ),
                    );
                    return None;
                }
            },
        };
        if let Some(k) = implied
            && k != kind
        {
            d.report(
                self.sink,
                &path_key(path, "kind"),
                format!("Invalid value: {kind}: expected {k} here"),
            );
            return None;
        }
        match map.get("apiVersion").and_then(|v| v.as_str()) {
            Some(v) if v == kind.api_version() => {}
            None if kind_name.is_none() => {}
            None => {
                d.report(
                    self.sink,
                    &path_key(path, "apiVersion"),
                    format!(
                        "Required value: expected apiVersion: {}",
                        kind.api_version()
                    ),
                );
                return None;
            }
            Some(v) => {
                d.report(
                    self.sink,
                    &path_key(path, "apiVersion"),
                    format!(
                        "Unsupported value: {v:?}: {kind} is served at {:?}",
                        kind.api_version()
                    ),
                );
                return None;
            }
        }
        match Object::from_json(kind, value.clone()) {
            Ok(obj) => Some(obj),
            Err(e) => {
                let p = join(path, &serde_path(e.path()));
                d.report(self.sink, &p, e.inner().to_string());
                None
            }
        }
    }

    /// Runs the API server's defaulting and validation so problems are reported with their
    /// place in the file.
    fn check_object(&mut self, d: &Doc<'_>, path: &str, obj: &Object) -> bool {
        let mut defaulted = obj.clone();
        defaults::apply(&mut defaulted);
        let errors = validation::validate(&defaulted);
        let key = normalized_key(obj);
        for e in &errors {
            let p = join(path, &e.path);
            d.report(self.sink, &p, format!("{key}: {}", e.message));
        }
        errors.is_empty()
    }

    /// Duplicate names, namespaces to create, pods bound to missing nodes, apply order.
    fn cross_check(&mut self, objects: &mut Vec<SourcedObject>) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut seen: BTreeMap<ObjectKey, Diagnostic> = BTreeMap::new();
        for so in objects.iter() {
            let key = normalized_key(&so.object);
            if key.name.is_empty() {
                continue; // generateName: the store picks a fresh name.
            }
            if let Some(first) = seen.get(&key) {
                let at = first
                    .location
                    .map(|l| format!(":{}:{}", l.line, l.column))
                    .unwrap_or_default();
                self.sink.push(
                    &so.origin.file,
                    so.origin.location,
                    &so.origin.path,
                    format!(
                        "duplicate object {key}: already defined at {}{at}",
                        first.file
                    ),
                );
            } else {
                seen.insert(key, so.origin.clone());
            }
        }
        let defined_ns: BTreeSet<String> = objects
            .iter()
            .filter(|o| o.object.kind() == Kind::Namespace)
            .map(|o| o.object.meta().name.clone())
            .collect();
        let mut needed: BTreeSet<String> = BTreeSet::new();
        for so in objects.iter() {
            let k = normalized_key(&so.object);
            if k.kind.is_namespaced()
                && !defined_ns.contains(&k.namespace)
                && !INITIAL_NAMESPACES.contains(&k.namespace.as_str())
            {
                needed.insert(k.namespace);
            }
        }
        for ns in needed {
            let mut obj = Object::Namespace(Default::default());
            obj.meta_mut().name = ns;
            objects.push(SourcedObject {
                object: obj,
                origin: Diagnostic {
                    file: String::new(),
                    location: None,
                    path: String::new(),
                    message: "created because objects use it".into(),
                },
            });
        }
        let nodes: BTreeSet<&str> = objects
            .iter()
            .filter(|o| o.object.kind() == Kind::Node)
            .map(|o| o.object.meta().name.as_str())
            .collect();
        for so in objects.iter() {
            if let Object::Pod(p) = &so.object
                && !p.spec.node_name.is_empty()
                && !nodes.contains(p.spec.node_name.as_str())
            {
                warnings.push(format!(
                    "{}: {} is bound to node {:?}, which does not exist (as in Kubernetes, it loads; the pod garbage collector removes such pods)",
                    so.origin,
                    normalized_key(&so.object),
                    p.spec.node_name
                ));
            }
        }
        drop(nodes);
        objects.sort_by_key(|o| apply_rank(o.object.kind()));
        warnings
    }
}

fn known_kinds() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn normalized_key(obj: &Object) -> ObjectKey {
    let mut key = ObjectKey::of(obj);
    if key.kind.is_namespaced() && key.namespace.is_empty() {
        key.namespace = "default".into();
    }
    if !key.kind.is_namespaced() {
        key.namespace.clear();
    }
    key
}

fn apply_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Namespace => 0,
        Kind::PriorityClass => 1,
        Kind::Node => 2,
        _ => 3,
    }
}
