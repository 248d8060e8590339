//! What an expectation observes: counts and status values read from live objects.

use std::collections::BTreeMap;

use crate::api::objects::{Kind, Object, PodPhase};
use crate::runtime::Context;

use super::spec::{Expectation, PodSet, ServiceField, Subject};

/// `type=status/reason` as a condition is shown in results.
pub fn condition_text(type_: &str, status: Option<&str>, reason: Option<&str>) -> String {
    let mut s = type_.to_string();
    if let Some(st) = status {
        s.push('=');
        s.push_str(st);
    }
    if let Some(r) = reason {
        s.push('/');
        s.push_str(r);
    }
    s
}

fn in_set(o: &Object, set: &PodSet) -> bool {
    let m = o.meta();
    (set.namespace.is_empty() || m.namespace == set.namespace) && set.selector.matches(&m.labels)
}

/// (holds, observed value as text).
pub fn evaluate(e: &Expectation, ctx: &Context<'_>) -> (bool, String) {
    if let Subject::Condition {
        key,
        type_,
        status,
        reason,
    } = &e.subject
    {
        let Some(obj) = ctx.get(key) else {
            return (false, format!("{key} not found"));
        };
        let v = serde_json::to_value(&*obj).unwrap_or_default();
        let cond = v["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_.as_str()));
        let Some(c) = cond else {
            return (false, format!("no {type_} condition"));
        };
        let got_status = c["status"].as_str().unwrap_or("");
        let got_reason = c["reason"].as_str().unwrap_or("");
        let holds = status.as_deref().is_none_or(|s| s == got_status)
            && reason.as_deref().is_none_or(|r| r == got_reason);
        return (
            holds,
            condition_text(type_, Some(got_status), Some(got_reason)),
        );
    }
    if let Subject::Service { service, field } = &e.subject {
        let Some(c) = ctx.traffic_metrics().total(service) else {
            return (false, format!("no traffic to {service}"));
        };
        let x = match field {
            ServiceField::Requests => Some(c.requests as f64),
            ServiceField::Succeeded => Some(c.succeeded as f64),
            ServiceField::Refused => Some(c.refused as f64),
            ServiceField::TimedOut => Some(c.timed_out as f64),
            ServiceField::Errors => Some(c.errors as f64),
            ServiceField::SuccessRatio => c.success_ratio(),
            ServiceField::LatencyP50Ms => c.latency_ms(0.5),
            ServiceField::LatencyP99Ms => c.latency_ms(0.99),
        };
        let Some(x) = x else {
            return (false, "no requests yet".into());
        };
        let holds = e.comparison.is_some_and(|(op, want)| op.holds(x, want));
        let text = if field.is_count() {
            format!("{x}")
        } else {
            format!("{x:.6}")
        };
        return (holds, text);
    }
    let observed = match value(&e.subject, ctx) {
        Ok(n) => n,
        Err(text) => return (false, text),
    };
    let holds = e
        .comparison
        .is_some_and(|(op, want)| op.holds(observed as f64, want));
    (holds, observed.to_string())
}

fn value(subject: &Subject, ctx: &Context<'_>) -> Result<i64, String> {
    Ok(match subject {
        Subject::Service { .. } => 0,
        Subject::Field { key, field } => {
            let Some(obj) = ctx.get(key) else {
                return Err(format!("{key} not found"));
            };
            let v = serde_json::to_value(&*obj).unwrap_or_default();
            v["status"][field.as_str()].as_i64().unwrap_or(0)
        }
        Subject::Condition { .. } => 0,
        Subject::Pods { set, phase } => ctx
            .list(Kind::Pod)
            .iter()
            .filter(|o| in_set(o, set))
            .filter(|o| match (&***o, phase) {
                (Object::Pod(p), Some(ph)) => p.status.phase == *ph,
                _ => true,
            })
            .count() as i64,
        Subject::Pending { namespace } => ctx
            .list(Kind::Pod)
            .iter()
            .filter(|o| match &***o {
                Object::Pod(p) => {
                    (namespace.is_empty() || &p.metadata.namespace == namespace)
                        && p.status.phase == PodPhase::Pending
                }
                _ => false,
            })
            .count() as i64,
        Subject::Nodes { selector, ready } => ctx
            .list(Kind::Node)
            .iter()
            .filter(|o| match &***o {
                Object::Node(n) => {
                    selector.matches(&n.metadata.labels) && ready.is_none_or(|r| n.is_ready() == r)
                }
                _ => false,
            })
            .count() as i64,
        Subject::Restarts { set } => ctx
            .list(Kind::Pod)
            .iter()
            .filter(|o| in_set(o, set))
            .map(|o| match &**o {
                Object::Pod(p) => p
                    .status
                    .init_container_statuses
                    .iter()
                    .chain(&p.status.container_statuses)
                    .map(|c| i64::from(c.restart_count))
                    .sum(),
                _ => 0,
            })
            .sum(),
        Subject::Skew { set, topology_key } => {
            let mut domain_of: BTreeMap<String, String> = BTreeMap::new();
            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            for o in ctx.list(Kind::Node) {
                if let Some(d) = o.meta().labels.get(topology_key) {
                    domain_of.insert(o.meta().name.clone(), d.clone());
                    counts.entry(d.clone()).or_insert(0);
                }
            }
            for o in ctx.list(Kind::Pod) {
                let Object::Pod(p) = &*o else { continue };
                if !in_set(&o, set)
                    || p.spec.node_name.is_empty()
                    || p.status.phase.is_terminal()
                    || p.metadata.is_terminating()
                {
                    continue;
                }
                if let Some(d) = domain_of.get(&p.spec.node_name) {
                    *counts.entry(d.clone()).or_insert(0) += 1;
                }
            }
            let max = counts.values().max().copied().unwrap_or(0);
            let min = counts.values().min().copied().unwrap_or(0);
            max - min
        }
    })
}
