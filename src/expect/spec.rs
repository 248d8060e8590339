//! `spec.expect`: expectations, decoded and checked.
//!
//! An expectation is `{name, <when>, <subject>, <comparison>}`:
//! - when: `at: T`; `eventually: {within: W, after: EVENT | at: T}`; `always: {from?, to?}`;
//! - subject: `workload` (+ `field` or `condition`), `pods`, `pending`, `nodes`,
//!   `restarts`, `skew`;
//! - comparison: one of `eq`, `ne`, `lt`, `le`, `gt`, `ge` with an integer (not for
//!   `condition`, which holds or not).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api::objects::{Kind, ObjectKey, PodPhase};
use crate::api::selector::Selector;
use crate::scenario::yaml::path_index;
use crate::sim::{SimDuration, SimTime};
use crate::timeline::Entry;
use crate::timeline::fields::{Fields, Problems};

#[derive(Clone, Debug)]
pub struct Expectation {
    pub name: String,
    pub when: When,
    pub subject: Subject,
    /// `None` for a condition check.
    pub comparison: Option<(Op, i64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    At(SimTime),
    /// Passes as soon as the check holds in `[from, to]`; fails at `to` otherwise.
    Eventually {
        from: SimTime,
        to: SimTime,
    },
    /// Fails the first time the check does not hold in `[from, to]`; passes at `to`.
    Always {
        from: SimTime,
        to: SimTime,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub const ALL: [(&'static str, Op); 6] = [
        ("eq", Op::Eq),
        ("ne", Op::Ne),
        ("lt", Op::Lt),
        ("le", Op::Le),
        ("gt", Op::Gt),
        ("ge", Op::Ge),
    ];

    pub fn holds(self, observed: i64, want: i64) -> bool {
        match self {
            Op::Eq => observed == want,
            Op::Ne => observed != want,
            Op::Lt => observed < want,
            Op::Le => observed <= want,
            Op::Gt => observed > want,
            Op::Ge => observed >= want,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// Which pods: namespace (empty: all) and selector.
#[derive(Clone, Debug)]
pub struct PodSet {
    pub namespace: String,
    pub selector: Selector,
}

#[derive(Clone, Debug)]
pub enum Subject {
    /// A numeric status field (`status.<field>`, upstream name) of a workload.
    Field { key: ObjectKey, field: String },
    /// A condition of a workload: `type`, and `status` / `reason` when given.
    Condition {
        key: ObjectKey,
        type_: String,
        status: Option<String>,
        reason: Option<String>,
    },
    /// Pods matching, in `phase` when given (terminating pods included, as kubectl lists them).
    Pods {
        set: PodSet,
        phase: Option<PodPhase>,
    },
    /// Pods in phase Pending.
    Pending { namespace: String },
    /// Nodes matching the selector, `Ready` or not when `ready` is given.
    Nodes {
        selector: Selector,
        ready: Option<bool>,
    },
    /// Sum of container restart counts.
    Restarts { set: PodSet },
    /// Largest difference in matching pods (bound, not terminal) between two domains of the
    /// topology key (domains: values of the key on any node).
    Skew { set: PodSet, topology_key: String },
}

/// Status fields an expectation may read, per kind (upstream names).
pub fn fields_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Deployment => &[
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ],
        Kind::ReplicaSet | Kind::ReplicationController => &[
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
        ],
        Kind::StatefulSet => &[
            "replicas",
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "availableReplicas",
        ],
        Kind::DaemonSet => &[
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
        ],
        Kind::Job => &["active", "succeeded", "failed", "ready", "terminating"],
        _ => &[],
    }
}

const WORKLOADS: [Kind; 6] = [
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::ReplicationController,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::Job,
];

const SUBJECTS: &[&str] = &["workload", "pods", "pending", "nodes", "restarts", "skew"];
const NOT_YET: &[&str] = &["serviceSuccessRatio", "serviceLatency"];

/// Decodes `spec.expect`. `timeline` names the events `eventually.after` may refer to;
/// every window must end by `duration`.
pub fn parse(
    value: &Value,
    timeline: &[Entry],
    duration: SimDuration,
    problems: &mut Problems,
) -> Vec<Expectation> {
    let Some(items) = value.as_array() else {
        problems.push((
            "spec.expect".into(),
            "expected a list of expectations".into(),
        ));
        return Vec::new();
    };
    let end = SimTime::ZERO.saturating_add(duration);
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = path_index("spec.expect", i);
        if let Some(e) = parse_one(item, &path, timeline, end, problems) {
            if !names.insert(e.name.clone()) {
                problems.push((
                    format!("{path}.name"),
                    format!("Duplicate value: {:?}", e.name),
                ));
            }
            out.push(e);
        }
    }
    out
}

fn time(d: SimDuration) -> SimTime {
    SimTime::ZERO.saturating_add(d)
}

fn parse_one(
    item: &Value,
    path: &str,
    timeline: &[Entry],
    end: SimTime,
    problems: &mut Problems,
) -> Option<Expectation> {
    let mut f = Fields::of(item, path, problems)?;
    for k in NOT_YET {
        if f.has(k) {
            problems.push((
                f.field(k),
                format!("`{k}` is not supported by this version of kubesim yet (the traffic model is not built yet)"),
            ));
            return None;
        }
    }
    let name = f.required_string("name", problems)?;
    let before = problems.len();
    let at = f.duration("at", problems);
    let eventually = f.raw("eventually");
    let always = f.raw("always");
    let when = match (at, eventually, always) {
        (Some(t), None, None) => When::At(time(t)),
        (None, Some(v), None) => {
            let mut w = Fields::of(v, &f.field("eventually"), problems)?;
            let within = match w.duration("within", problems) {
                Some(d) => d,
                None => {
                    problems.push((w.field("within"), "Required value".into()));
                    return None;
                }
            };
            let after = w.string("after", problems);
            let t = w.duration("at", problems);
            let from = match (after, t) {
                (Some(event), None) => {
                    let Some(e) = timeline.iter().find(|e| e.name == event) else {
                        let known: Vec<&str> = timeline.iter().map(|e| e.name.as_str()).collect();
                        problems.push((
                            w.field("after"),
                            format!(
                                "Not found: no timeline event named {event:?} (spec.events names: {})",
                                if known.is_empty() { "none".to_string() } else { known.join(", ") }
                            ),
                        ));
                        return None;
                    };
                    let Some(first) = e
                        .trigger
                        .times(end.saturating_since(SimTime::ZERO))
                        .first()
                        .copied()
                    else {
                        problems.push((
                            w.field("after"),
                            format!("event {event:?} never fires before the end of the run"),
                        ));
                        return None;
                    };
                    first
                }
                (None, Some(t)) => time(t),
                _ => {
                    problems.push((
                        w.path.clone(),
                        "Required value: exactly one of `after` (a timeline event name) or `at`"
                            .into(),
                    ));
                    return None;
                }
            };
            w.finish(problems);
            When::Eventually {
                from,
                to: from.saturating_add(within),
            }
        }
        (None, None, Some(v)) => {
            let mut w = Fields::of(v, &f.field("always"), problems)?;
            let from = w.duration("from", problems).map_or(SimTime::ZERO, time);
            let to = w.duration("to", problems).map_or(end, time);
            if to < from {
                problems.push((
                    w.field("to"),
                    "Invalid value: must not be before `from`".into(),
                ));
            }
            w.finish(problems);
            When::Always { from, to }
        }
        (None, None, None) => {
            problems.push((
                path.to_string(),
                "Required value: one of `at`, `eventually` or `always`".into(),
            ));
            return None;
        }
        _ => {
            problems.push((
                path.to_string(),
                "only one of `at`, `eventually` or `always`".into(),
            ));
            return None;
        }
    };
    let last = match when {
        When::At(t) => t,
        When::Eventually { to, .. } | When::Always { to, .. } => to,
    };
    if last > end {
        problems.push((
            path.to_string(),
            format!(
                "the check ends at {}s, after the run's duration ({}s)",
                crate::runtime::output::format_seconds(last),
                crate::runtime::output::format_seconds(end)
            ),
        ));
    }
    let subject = subject(&mut f, problems)?;
    let mut comparison = None;
    for (k, op) in Op::ALL {
        if let Some(n) = f.int(k, problems) {
            if comparison.is_some() {
                problems.push((f.field(k), "one comparison per expectation".into()));
            }
            comparison = Some((op, n));
        }
    }
    match (&subject, comparison) {
        (Subject::Condition { .. }, Some(_)) => problems.push((
            path.to_string(),
            "a condition check takes no comparison (eq, ne, lt, le, gt, ge)".into(),
        )),
        (Subject::Condition { .. }, None) => {}
        (_, None) => problems.push((
            path.to_string(),
            "Required value: a comparison, one of eq, ne, lt, le, gt, ge".into(),
        )),
        _ => {}
    }
    f.finish(problems);
    if problems.len() > before {
        return None;
    }
    Some(Expectation {
        name,
        when,
        subject,
        comparison,
    })
}

fn subject(f: &mut Fields<'_>, problems: &mut Problems) -> Option<Subject> {
    let present: Vec<&str> = SUBJECTS.iter().copied().filter(|k| f.has(k)).collect();
    let key = match present.as_slice() {
        [one] => *one,
        [] => {
            problems.push((
                f.path.clone(),
                format!(
                    "Required value: what to check, one of {}",
                    SUBJECTS.join(", ")
                ),
            ));
            return None;
        }
        [_, second, ..] => {
            problems.push((f.field(second), "one subject per expectation".into()));
            return None;
        }
    };
    let v = f.raw(
        SUBJECTS
            .iter()
            .find(|s| **s == key)
            .copied()
            .unwrap_or("pods"),
    )?;
    let empty = Value::Object(Default::default());
    let v = if v.is_null() { &empty } else { v };
    let mut s = Fields::of(v, &f.field(key), problems)?;
    let subject = match key {
        "workload" => {
            let kind_name = s
                .string("kind", problems)
                .unwrap_or_else(|| "Deployment".into());
            let Some(kind) = Kind::from_name(&kind_name).filter(|k| WORKLOADS.contains(k)) else {
                problems.push((
                    s.field("kind"),
                    format!("Unsupported value: {kind_name:?}: supported values: Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job"),
                ));
                return None;
            };
            let name = s.required_string("name", problems)?;
            let namespace = s
                .string("namespace", problems)
                .unwrap_or_else(|| "default".into());
            s.finish(problems);
            let key = ObjectKey::new(kind, namespace, name);
            let field = f.string("field", problems);
            let condition = f.raw("condition");
            match (field, condition) {
                (Some(field), None) => {
                    if !fields_of(kind).contains(&field.as_str()) {
                        problems.push((
                            f.field("field"),
                            format!(
                                "Unsupported value: {field:?}: {kind} status fields: {}",
                                fields_of(kind).join(", ")
                            ),
                        ));
                        return None;
                    }
                    return Some(Subject::Field { key, field });
                }
                (None, Some(c)) => {
                    let mut c = Fields::of(c, &f.field("condition"), problems)?;
                    let type_ = c.required_string("type", problems)?;
                    let status = c.string("status", problems);
                    let reason = c.string("reason", problems);
                    c.finish(problems);
                    return Some(Subject::Condition {
                        key,
                        type_,
                        status,
                        reason,
                    });
                }
                _ => {
                    problems.push((
                        f.path.clone(),
                        "Required value: a workload check needs exactly one of `field` or `condition`".into(),
                    ));
                    return None;
                }
            }
        }
        "pods" => {
            let set = pod_set(&mut s, problems)?;
            let phase = match s.string("phase", problems) {
                None => None,
                Some(p) => match serde_json::from_value::<PodPhase>(Value::String(p.clone())) {
                    Ok(phase) => Some(phase),
                    Err(_) => {
                        problems.push((
                            s.field("phase"),
                            format!("Unsupported value: {p:?}: supported values: Pending, Running, Succeeded, Failed, Unknown"),
                        ));
                        return None;
                    }
                },
            };
            Subject::Pods { set, phase }
        }
        "pending" => Subject::Pending {
            namespace: s.string("namespace", problems).unwrap_or_default(),
        },
        "nodes" => Subject::Nodes {
            selector: s.selector("selector", problems).unwrap_or_default(),
            ready: s.bool("ready", problems),
        },
        "restarts" => Subject::Restarts {
            set: pod_set(&mut s, problems)?,
        },
        "skew" => {
            let set = pod_set(&mut s, problems)?;
            let topology_key = s.required_string("topologyKey", problems)?;
            Subject::Skew { set, topology_key }
        }
        _ => return None,
    };
    s.finish(problems);
    Some(subject)
}

fn pod_set(s: &mut Fields<'_>, problems: &mut Problems) -> Option<PodSet> {
    let namespace = s.string("namespace", problems).unwrap_or_default();
    let selector = if s.has("selector") {
        s.selector("selector", problems)?
    } else {
        s.raw("selector");
        Selector::everything()
    };
    Some(PodSet {
        namespace,
        selector,
    })
}
