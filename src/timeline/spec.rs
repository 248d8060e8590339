//! `spec.events`: the timeline's entries, decoded and checked.
//!
//! An entry is `{name?, at? | every (+ until? | count?), duration?, <action>: {params}}` with
//! exactly one action key. Times are from the start of the run. `every` fires first at `at`
//! (default: one interval in), then every interval, until `until` (inclusive), `count`
//! firings, or the end of the run. `duration` heals the action that long after each firing.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::selector::Selector;
use crate::sim::{SimDuration, SimTime};

use super::fields::{Fields, Problems};

/// Most firings one `every` entry may have (a typo such as `every: 1ms` must not schedule
/// millions of actions).
pub const MAX_FIRINGS: u64 = 100_000;
/// A reboot's downtime when the entry sets no `duration`.
pub const DEFAULT_REBOOT_DOWNTIME: SimDuration = SimDuration::from_secs(30);

/// One timeline entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `name`, or `<action>-<index>`.
    pub name: String,
    pub trigger: Trigger,
    /// When set, the action is undone this long after each firing.
    pub heal_after: Option<SimDuration>,
    pub action: Action,
    /// The action's key as written (`kubeletStart` and `nodeRecover` share an [`Action`]).
    pub action_key: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    At(SimDuration),
    Every {
        first: SimDuration,
        interval: SimDuration,
        until: Option<SimDuration>,
        count: Option<u64>,
    },
}

impl Trigger {
    /// The firing times up to `end`, at most [`MAX_FIRINGS`].
    pub fn times(&self, end: SimDuration) -> Vec<SimTime> {
        let at = |d: SimDuration| SimTime::ZERO.saturating_add(d);
        match *self {
            Trigger::At(t) => vec![at(t)],
            Trigger::Every {
                first,
                interval,
                until,
                count,
            } => {
                let last = until.unwrap_or(end).min(end);
                let limit = count.unwrap_or(MAX_FIRINGS).min(MAX_FIRINGS);
                let mut out = Vec::new();
                let mut t = first;
                while t <= last && (out.len() as u64) < limit {
                    out.push(at(t));
                    if interval.is_zero() {
                        break;
                    }
                    t = t.saturating_add(interval);
                }
                out
            }
        }
    }
}

/// Which nodes a node action touches: one by name, or all matching a label selector.
#[derive(Clone, Debug)]
pub enum NodeTarget {
    Name(String),
    Selector(Selector),
}

/// Which pods a pod action touches.
#[derive(Clone, Debug)]
pub struct PodTarget {
    /// Empty: every namespace.
    pub namespace: String,
    pub selector: Selector,
    /// At most this many pods (the first in name order); `None`: all.
    pub limit: Option<u32>,
    /// One pod: the `pick mod n`-th of the `n` matching (a draw recorded by chaos).
    pub pick: Option<u64>,
}

/// What a node's kubelet and machine should be doing (annotation `kubesim.io/node-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Running,
    KubeletStopped,
    Crashed,
}

impl NodeState {
    pub fn annotation(self) -> &'static str {
        match self {
            NodeState::Running => "Running",
            NodeState::KubeletStopped => "KubeletStopped",
            NodeState::Crashed => "Crashed",
        }
    }
}

/// Places a network action names (`from`, `to`): their union. Nodes by name or selector are
/// resolved when the action fires; zones cover their nodes, including later ones.
#[derive(Clone, Debug, Default)]
pub struct Places {
    pub control_plane: bool,
    pub zones: Vec<String>,
    pub nodes: Vec<NodeTarget>,
    pub clients: Vec<String>,
}

/// What a network action covers: paths between two sets of places, or named links.
#[derive(Clone, Debug)]
pub enum NetTarget {
    Between {
        from: Places,
        to: Places,
    },
    /// Pairs of directly linked places (`[zone/a, zone/b]`).
    Links(Vec<[crate::network::Vertex; 2]>),
}

/// What a pool template adds nodes from (the pool as the scenario declared it).
#[derive(Clone, Debug)]
pub struct PoolTemplate {
    pub spec: crate::scenario::spec::NodePoolSpec,
    pub template: crate::api::objects::Node,
}

#[derive(Clone, Debug)]
pub enum Action {
    /// Sets the node state annotation (crash, recover, kubelet stop/start).
    NodeState {
        target: NodeTarget,
        state: NodeState,
    },
    /// Crash, then recover after the downtime.
    NodeReboot {
        target: NodeTarget,
    },
    /// Every node of the zone crashes.
    ZoneOutage {
        zone: String,
    },
    Cordon {
        target: NodeTarget,
        on: bool,
    },
    /// `kubectl drain` of the targeted nodes (default flags, optional `timeout`).
    Drain {
        target: NodeTarget,
        timeout: Option<SimDuration>,
    },
    AddNodes {
        pool: String,
        count: u32,
    },
    RemoveNodes {
        pool: String,
        count: u32,
    },
    PodDelete {
        target: PodTarget,
    },
    /// Running containers of the matching pods exit with 137 (`container`: one by name).
    ContainerKill {
        target: PodTarget,
        container: Option<String>,
    },
    /// Pulls of images matching the pattern (`*` wildcards) fail.
    RegistryOutage {
        image: String,
    },
    /// API writes fail with 503 and watches stall until the heal (or the end of the run).
    ControlPlaneOutage,
    Label {
        target: PodTarget,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    Scale {
        key: ObjectKey,
        replicas: i32,
    },
    SetImage {
        key: ObjectKey,
        container: Option<String>,
        image: String,
    },
    Rollback {
        key: ObjectKey,
        to_revision: i64,
    },
    Pause {
        key: ObjectKey,
        paused: bool,
    },
    /// Objects to create; decoded and checked by the loader.
    Apply {
        objects: Vec<Object>,
    },
    Delete {
        key: ObjectKey,
    },
    /// A traffic source's rate (requests per second) from now on, replacing its schedule.
    TrafficRate {
        source: String,
        rate: f64,
    },
    /// The target's paths (or links) are cut (until the heal, or the end of the run).
    NetworkPartition {
        target: NetTarget,
    },
    /// The target's paths (or links) get extra latency and/or loss.
    LinkDegradation {
        target: NetTarget,
        latency: Option<crate::kubelet::behavior::Distribution>,
        loss: f64,
    },
}

impl Action {
    /// The action's key in the scenario file.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Action::NodeState { state, .. } => match state {
                NodeState::Running => "nodeRecover",
                NodeState::KubeletStopped => "kubeletStop",
                NodeState::Crashed => "nodeCrash",
            },
            Action::NodeReboot { .. } => "nodeReboot",
            Action::ZoneOutage { .. } => "zoneOutage",
            Action::Cordon { on: true, .. } => "cordon",
            Action::Cordon { on: false, .. } => "uncordon",
            Action::Drain { .. } => "drain",
            Action::AddNodes { .. } => "addNodes",
            Action::RemoveNodes { .. } => "removeNodes",
            Action::PodDelete { .. } => "podDelete",
            Action::ContainerKill { .. } => "containerKill",
            Action::RegistryOutage { .. } => "registryOutage",
            Action::ControlPlaneOutage => "controlPlaneOutage",
            Action::Label { .. } => "label",
            Action::Scale { .. } => "scale",
            Action::SetImage { .. } => "setImage",
            Action::Rollback { .. } => "rollback",
            Action::Pause { paused: true, .. } => "pause",
            Action::Pause { paused: false, .. } => "resume",
            Action::Apply { .. } => "apply",
            Action::Delete { .. } => "delete",
            Action::TrafficRate { .. } => "trafficRate",
            Action::NetworkPartition { .. } => "networkPartition",
            Action::LinkDegradation { .. } => "linkDegradation",
        }
    }

    /// Whether `duration` means something for this action (it has an opposite).
    fn heals(&self) -> bool {
        matches!(
            self,
            Action::NodeState {
                state: NodeState::Crashed | NodeState::KubeletStopped,
                ..
            } | Action::NodeReboot { .. }
                | Action::ZoneOutage { .. }
                | Action::RegistryOutage { .. }
                | Action::ControlPlaneOutage
                | Action::Cordon { on: true, .. }
                | Action::Pause { paused: true, .. }
                | Action::TrafficRate { .. }
                | Action::NetworkPartition { .. }
                | Action::LinkDegradation { .. }
        )
    }
}

/// Action keys this version understands.
pub const ACTIONS: &[&str] = &[
    "nodeCrash",
    "nodeRecover",
    "nodeReboot",
    "kubeletStop",
    "kubeletStart",
    "zoneOutage",
    "cordon",
    "uncordon",
    "drain",
    "addNodes",
    "removeNodes",
    "podDelete",
    "containerKill",
    "registryOutage",
    "controlPlaneOutage",
    "label",
    "scale",
    "setImage",
    "rollback",
    "pause",
    "resume",
    "apply",
    "delete",
    "trafficRate",
    "networkPartition",
    "linkDegradation",
];

const TRIGGER_KEYS: &[&str] = &["name", "at", "every", "until", "count", "duration"];

/// An `apply` action's objects before decoding: the loader decodes and checks them.
pub enum ApplySource<'a> {
    Inline(&'a Value, String),
    File(String, String),
}

/// Decodes `spec.events`. `decode_apply` turns an `apply` action's source into objects (the
/// loader's decoding and validation, reporting its own problems).
pub fn parse(
    value: &Value,
    pools: &[PoolTemplate],
    problems: &mut Problems,
    decode_apply: &mut dyn FnMut(ApplySource<'_>) -> Vec<Object>,
) -> Vec<Entry> {
    let Some(items) = value.as_array() else {
        problems.push((
            "spec.events".into(),
            "expected a list of timeline entries".into(),
        ));
        return Vec::new();
    };
    let mut entries = Vec::new();
    let mut names = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = crate::scenario::yaml::path_index("spec.events", i);
        if let Some(e) = parse_entry(item, &path, i, pools, problems, decode_apply) {
            if let Some(first) = names.insert(e.name.clone(), path.clone()) {
                problems.push((
                    format!("{path}.name"),
                    format!("Duplicate value: {:?} (also at {first})", e.name),
                ));
            }
            entries.push(e);
        }
    }
    entries
}

fn parse_entry(
    item: &Value,
    path: &str,
    index: usize,
    pools: &[PoolTemplate],
    problems: &mut Problems,
    decode_apply: &mut dyn FnMut(ApplySource<'_>) -> Vec<Object>,
) -> Option<Entry> {
    let mut f = Fields::of(item, path, problems)?;
    let map = item.as_object()?;
    let action_keys: Vec<&String> = map
        .keys()
        .filter(|k| !TRIGGER_KEYS.contains(&k.as_str()))
        .collect();
    let known: Vec<&&String> = action_keys
        .iter()
        .filter(|k| ACTIONS.contains(&k.as_str()))
        .collect();
    let unknown: Vec<&&String> = action_keys
        .iter()
        .filter(|k| !ACTIONS.contains(&k.as_str()))
        .collect();
    for k in &unknown {
        problems.push((
            f.field(k),
            format!(
                "unknown field {k:?}: expected one of {}, or an action: {}",
                TRIGGER_KEYS.join(", "),
                ACTIONS.join(", ")
            ),
        ));
    }
    if !unknown.is_empty() {
        return None;
    }
    let action_key: &str = match known.as_slice() {
        [one] => one.as_str(),
        [] => {
            problems.push((
                path.to_string(),
                format!("Required value: one action, one of {}", ACTIONS.join(", ")),
            ));
            return None;
        }
        [_, second, ..] => {
            problems.push((
                f.field(second),
                "one action per entry: split this into two entries".into(),
            ));
            return None;
        }
    };
    let name = f.string("name", problems);
    let at = f.duration("at", problems);
    let every = f.duration("every", problems);
    let until = f.duration("until", problems);
    let count = f.int("count", problems);
    let duration = f.duration("duration", problems);
    let trigger = match (at, every) {
        (_, Some(interval)) => {
            if interval.is_zero() {
                problems.push((
                    f.field("every"),
                    "Invalid value: 0s: must be positive".into(),
                ));
            }
            if let Some(n) = count
                && n <= 0
            {
                problems.push((
                    f.field("count"),
                    format!("Invalid value: {n}: must be positive"),
                ));
            }
            Trigger::Every {
                first: at.unwrap_or(interval),
                interval,
                until,
                count: count.map(|n| n.max(0) as u64),
            }
        }
        (Some(t), None) => {
            for k in ["until", "count"] {
                if f.has(k) {
                    problems.push((f.field(k), "only meaningful with `every`".into()));
                }
            }
            Trigger::At(t)
        }
        (None, None) => {
            problems.push((path.to_string(), "Required value: `at` or `every`".into()));
            return None;
        }
    };
    let params = map.get(action_key).unwrap_or(&Value::Null);
    let ppath = f.field(action_key);
    let action = parse_action(action_key, params, &ppath, pools, problems, decode_apply)?;
    if duration.is_some() && !action.heals() {
        problems.push((
            f.field("duration"),
            format!(
                "`{action_key}` has nothing to heal: `duration` applies to nodeCrash, nodeReboot, kubeletStop, zoneOutage, registryOutage, controlPlaneOutage, cordon, pause, trafficRate, networkPartition and linkDegradation"
            ),
        ));
    }
    if let Some(a) = ACTIONS.iter().find(|a| **a == action_key) {
        f.raw(a);
    }
    f.finish(problems);
    let heal_after = match (&action, duration) {
        (Action::NodeReboot { .. }, d) => Some(d.unwrap_or(DEFAULT_REBOOT_DOWNTIME)),
        (_, d) => d,
    };
    Some(Entry {
        name: name.unwrap_or_else(|| format!("{action_key}-{index}")),
        trigger,
        heal_after,
        action,
        action_key: ACTIONS
            .iter()
            .find(|a| **a == action_key)
            .copied()
            .unwrap_or("action"),
    })
}

fn parse_action(
    key: &str,
    params: &Value,
    path: &str,
    pools: &[PoolTemplate],
    problems: &mut Problems,
    decode_apply: &mut dyn FnMut(ApplySource<'_>) -> Vec<Object>,
) -> Option<Action> {
    let empty = Value::Object(Default::default());
    let params = if params.is_null() { &empty } else { params };
    let mut f = Fields::of(params, path, problems)?;
    let action = match key {
        "nodeCrash" | "nodeRecover" | "kubeletStop" | "kubeletStart" => {
            let state = match key {
                "nodeCrash" => NodeState::Crashed,
                "kubeletStop" => NodeState::KubeletStopped,
                _ => NodeState::Running,
            };
            Action::NodeState {
                target: node_target(&mut f, problems)?,
                state,
            }
        }
        "nodeReboot" => Action::NodeReboot {
            target: node_target(&mut f, problems)?,
        },
        "cordon" | "uncordon" => Action::Cordon {
            target: node_target(&mut f, problems)?,
            on: key == "cordon",
        },
        "drain" => Action::Drain {
            target: node_target(&mut f, problems)?,
            timeout: f.duration("timeout", problems),
        },
        "zoneOutage" => Action::ZoneOutage {
            zone: f.required_string("zone", problems)?,
        },
        "addNodes" | "removeNodes" => {
            let pool = f.required_string("pool", problems)?;
            if !pools.iter().any(|p| p.spec.name == pool) {
                let known: Vec<&str> = pools.iter().map(|p| p.spec.name.as_str()).collect();
                problems.push((
                    f.field("pool"),
                    format!(
                        "Not found: {pool:?}: spec.cluster.nodePools has {}",
                        if known.is_empty() {
                            "no pools".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
                return None;
            }
            let count = f.count("count", problems).unwrap_or(1) as u32;
            if count > crate::scenario::spec::MAX_POOL_NODES {
                problems.push((
                    f.field("count"),
                    format!(
                        "Invalid value: {count}: at most {} nodes per pool",
                        crate::scenario::spec::MAX_POOL_NODES
                    ),
                ));
                return None;
            }
            if key == "addNodes" {
                Action::AddNodes { pool, count }
            } else {
                Action::RemoveNodes { pool, count }
            }
        }
        "podDelete" => Action::PodDelete {
            target: pod_target(&mut f, problems)?,
        },
        "containerKill" => Action::ContainerKill {
            target: pod_target(&mut f, problems)?,
            container: f.string("container", problems),
        },
        "controlPlaneOutage" => Action::ControlPlaneOutage,
        "trafficRate" => {
            let source = f.required_string("source", problems)?;
            let rate = f.number("rate", problems);
            let Some(rate) = rate.filter(|r| (0.0..=1e7).contains(r)) else {
                problems.push((
                    f.field("rate"),
                    "Required value: requests per second, between 0 and 1e7".into(),
                ));
                return None;
            };
            Action::TrafficRate { source, rate }
        }
        "registryOutage" => {
            let image = f.required_string("image", problems)?;
            if image.is_empty() || image.contains(',') {
                problems.push((
                    f.field("image"),
                    format!("Invalid value: {image:?}: one image pattern, `*` matching any run of characters"),
                ));
                return None;
            }
            Action::RegistryOutage { image }
        }
        "label" => {
            let target = pod_target(&mut f, problems)?;
            let add = f.string_map("add", problems).unwrap_or_default();
            let remove = f.string_list("remove", problems).unwrap_or_default();
            for k in add.keys().chain(remove.iter()) {
                if let Err(e) = crate::api::selector::validate_label_key(k) {
                    problems.push((f.field("add"), format!("Invalid value: {k:?}: {e}")));
                }
            }
            if add.is_empty() && remove.is_empty() {
                problems.push((f.path.clone(), "Required value: `add` or `remove`".into()));
            }
            Action::Label {
                target,
                add,
                remove,
            }
        }
        "scale" => {
            let key = workload_key(
                &mut f,
                &[
                    Kind::Deployment,
                    Kind::ReplicaSet,
                    Kind::StatefulSet,
                    Kind::ReplicationController,
                    Kind::Job,
                ],
                problems,
            )?;
            let replicas = if f.has("parallelism") {
                f.count("parallelism", problems)?
            } else {
                f.raw("parallelism");
                match f.count("replicas", problems) {
                    Some(n) => n,
                    None => {
                        problems.push((f.field("replicas"), "Required value".into()));
                        return None;
                    }
                }
            };
            Action::Scale { key, replicas }
        }
        "setImage" => {
            let key = workload_key(
                &mut f,
                &[
                    Kind::Deployment,
                    Kind::ReplicaSet,
                    Kind::StatefulSet,
                    Kind::DaemonSet,
                ],
                problems,
            )?;
            let container = f.string("container", problems);
            let image = f.required_string("image", problems)?;
            Action::SetImage {
                key,
                container,
                image,
            }
        }
        "rollback" => {
            let key = workload_key(&mut f, &[Kind::Deployment], problems)?;
            let to_revision = f.int("toRevision", problems).unwrap_or(0);
            Action::Rollback { key, to_revision }
        }
        "pause" | "resume" => Action::Pause {
            key: workload_key(&mut f, &[Kind::Deployment], problems)?,
            paused: key == "pause",
        },
        "apply" => {
            let object = f.raw("object");
            let file = f.string("file", problems);
            let objects = match (object, file) {
                (Some(v), None) => decode_apply(ApplySource::Inline(v, f.field("object"))),
                (None, Some(file)) => decode_apply(ApplySource::File(file, f.field("file"))),
                _ => {
                    problems.push((
                        f.path.clone(),
                        "Required value: exactly one of `object` or `file`".into(),
                    ));
                    return None;
                }
            };
            Action::Apply { objects }
        }
        "delete" => {
            let kind_name = f.required_string("kind", problems)?;
            let Some(kind) = Kind::from_name(&kind_name) else {
                problems.push((f.field("kind"), format!("unknown kind {kind_name:?}")));
                return None;
            };
            let name = f.required_string("name", problems)?;
            let namespace = if kind.is_namespaced() {
                f.string("namespace", problems)
                    .unwrap_or_else(|| "default".into())
            } else {
                String::new()
            };
            Action::Delete {
                key: ObjectKey::new(kind, namespace, name),
            }
        }
        "networkPartition" => Action::NetworkPartition {
            target: net_target(&mut f, problems)?,
        },
        "linkDegradation" => {
            let target = net_target(&mut f, problems)?;
            let latency = match f.raw("latency") {
                None => None,
                Some(v) => match serde_json::from_value(v.clone()) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        problems.push((f.field("latency"), format!("Invalid value: {e}")));
                        return None;
                    }
                },
            };
            let loss = match f.raw("loss") {
                None => 0.0,
                Some(v) => match v.as_f64() {
                    Some(l) if (0.0..=1.0).contains(&l) => l,
                    _ => {
                        problems.push((
                            f.field("loss"),
                            format!("Invalid value: {v}: a probability between 0 and 1"),
                        ));
                        return None;
                    }
                },
            };
            if latency.is_none() && loss == 0.0 {
                problems.push((
                    f.path.clone(),
                    "Required value: `latency` and/or `loss`".into(),
                ));
                return None;
            }
            Action::LinkDegradation {
                target,
                latency,
                loss,
            }
        }
        _ => return None,
    };
    f.finish(problems);
    Some(action)
}

/// `links: [[PLACE, PLACE], ...]`, or `from` and `to`.
fn net_target(f: &mut Fields<'_>, problems: &mut Problems) -> Option<NetTarget> {
    let Some(links) = f.raw("links") else {
        let (from, to) = from_to(f, problems)?;
        return Some(NetTarget::Between { from, to });
    };
    if f.has("from") || f.has("to") {
        problems.push((f.field("links"), "`links` or `from`/`to`, not both".into()));
        return None;
    }
    let path = f.field("links");
    let Some(items) = links.as_array().filter(|a| !a.is_empty()) else {
        problems.push((
            path,
            "expected a non-empty list of [PLACE, PLACE] pairs".into(),
        ));
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = crate::scenario::yaml::path_index(&path, i);
        let ends: Vec<Result<crate::network::Vertex, String>> = match item.as_array() {
            Some(a) => a
                .iter()
                .map(|v| match v.as_str() {
                    Some(t) => crate::network::Vertex::parse(t),
                    None => Err(format!("{v}: expected a place name")),
                })
                .collect(),
            None => Vec::new(),
        };
        match ends.as_slice() {
            [Ok(a), Ok(b)] if a != b => out.push([a.clone(), b.clone()]),
            [Ok(_), Ok(_)] => problems.push((ipath, "Invalid value: a link joins two different places".into())),
            [a, b] => {
                for e in [a, b].into_iter().filter_map(|r| r.as_ref().err()) {
                    problems.push((ipath.clone(), format!("Invalid value: {e}")));
                }
            }
            _ => problems.push((
                ipath,
                "expected a pair of places: [controlPlane | zone/NAME | rack/NAME | node/NAME | client/NAME, ...]".into(),
            )),
        }
    }
    (out.len() == items.len()).then_some(NetTarget::Links(out))
}

/// `from` (required) and `to` (default: the control plane) of a network action.
fn from_to(f: &mut Fields<'_>, problems: &mut Problems) -> Option<(Places, Places)> {
    let Some(from) = f.raw("from") else {
        problems.push((f.field("from"), "Required value".into()));
        return None;
    };
    let from = places(from, &f.field("from"), problems)?;
    let to = match f.raw("to") {
        Some(v) => places(v, &f.field("to"), problems)?,
        None => Places {
            control_plane: true,
            ..Places::default()
        },
    };
    Some((from, to))
}

/// A set of places: any of `controlPlane: true`, `node`, `nodes`, `selector` (nodes),
/// `zone`, `zones`, `client`, `clients`; their union.
fn places(value: &Value, path: &str, problems: &mut Problems) -> Option<Places> {
    let mut f = Fields::of(value, path, problems)?;
    let mut p = Places {
        control_plane: f.bool("controlPlane", problems).unwrap_or(false),
        ..Places::default()
    };
    if let Some(n) = f.string("node", problems) {
        p.nodes.push(NodeTarget::Name(n));
    }
    for n in f.string_list("nodes", problems).unwrap_or_default() {
        p.nodes.push(NodeTarget::Name(n));
    }
    if let Some(s) = f.selector("selector", problems) {
        p.nodes.push(NodeTarget::Selector(s));
    }
    p.zones.extend(f.string("zone", problems));
    p.zones
        .extend(f.string_list("zones", problems).unwrap_or_default());
    p.clients.extend(f.string("client", problems));
    p.clients
        .extend(f.string_list("clients", problems).unwrap_or_default());
    if !p.control_plane && p.nodes.is_empty() && p.zones.is_empty() && p.clients.is_empty() {
        problems.push((
            path.to_string(),
            "Required value: one of controlPlane: true, node, nodes, selector, zone, zones, client, clients".into(),
        ));
        return None;
    }
    f.finish(problems);
    Some(p)
}

fn node_target(f: &mut Fields<'_>, problems: &mut Problems) -> Option<NodeTarget> {
    let node = f.string("node", problems);
    let selector = f.selector("selector", problems);
    match (node, selector) {
        (Some(n), None) => Some(NodeTarget::Name(n)),
        (None, Some(s)) => Some(NodeTarget::Selector(s)),
        _ => {
            problems.push((
                f.path.clone(),
                "Required value: exactly one of `node` or `selector`".into(),
            ));
            None
        }
    }
}

fn pod_target(f: &mut Fields<'_>, problems: &mut Problems) -> Option<PodTarget> {
    let namespace = f.string("namespace", problems).unwrap_or_default();
    let limit = f.count("limit", problems).map(|n| n as u32);
    let pick = f.int("pick", problems).map(|n| n.max(0) as u64);
    let Some(selector) = f.selector("selector", problems) else {
        if !f.has("selector") {
            problems.push((f.field("selector"), "Required value".into()));
        }
        return None;
    };
    Some(PodTarget {
        namespace,
        selector,
        limit,
        pick,
    })
}

/// `{kind, name, namespace?}`; `kind` defaults to the first allowed kind.
fn workload_key(
    f: &mut Fields<'_>,
    allowed: &[Kind],
    problems: &mut Problems,
) -> Option<ObjectKey> {
    let kind = match f.string("kind", problems) {
        None => allowed[0],
        Some(k) => match Kind::from_name(&k).filter(|k| allowed.contains(k)) {
            Some(k) => k,
            None => {
                let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
                problems.push((
                    f.field("kind"),
                    format!(
                        "Unsupported value: {k:?}: supported values: {}",
                        names.join(", ")
                    ),
                ));
                return None;
            }
        },
    };
    let name = f.required_string("name", problems)?;
    let namespace = f
        .string("namespace", problems)
        .unwrap_or_else(|| "default".into());
    Some(ObjectKey::new(kind, namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fires_from_first_until_the_bound() {
        let t = Trigger::Every {
            first: SimDuration::from_secs(10),
            interval: SimDuration::from_secs(20),
            until: Some(SimDuration::from_secs(50)),
            count: None,
        };
        let secs: Vec<u64> = t
            .times(SimDuration::from_secs(600))
            .iter()
            .map(|t| t.as_secs())
            .collect();
        assert_eq!(secs, vec![10, 30, 50]);
        let c = Trigger::Every {
            first: SimDuration::from_secs(5),
            interval: SimDuration::from_secs(5),
            until: None,
            count: Some(2),
        };
        assert_eq!(c.times(SimDuration::from_secs(600)).len(), 2);
    }

    #[test]
    fn every_stops_at_the_end_of_the_run() {
        let t = Trigger::Every {
            first: SimDuration::from_secs(1),
            interval: SimDuration::from_secs(1),
            until: None,
            count: None,
        };
        assert_eq!(t.times(SimDuration::from_secs(30)).len(), 30);
    }
}
