//! Scheduling predicates shared by the scheduler and the kubelet's admission re-check:
//! tolerations against taints, and node selectors / required node affinity.
//!
//! Upstream: `staging/src/k8s.io/api/core/v1/toleration.go` (`ToleratesTaint`),
//! `staging/src/k8s.io/component-helpers/scheduling/corev1/helpers.go` and
//! `.../nodeaffinity/nodeaffinity.go`.

use std::collections::BTreeMap;

use crate::api::objects::node::{Node, Taint};
use crate::api::objects::pod::{
    NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, Pod, TaintEffect, Toleration,
    TolerationOperator,
};

/// Whether `tol` tolerates `taint`: an empty effect matches every effect; an empty key with
/// `Exists` matches every key; `Equal` (or no operator) needs equal values.
pub fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = tol.effect
        && effect != taint.effect
    {
        return false;
    }
    if !tol.key.is_empty() && tol.key != taint.key {
        return false;
    }
    match tol.operator {
        Some(TolerationOperator::Exists) => true,
        // An empty key is only valid with Exists; with Equal it matches nothing.
        Some(TolerationOperator::Equal) | None => !tol.key.is_empty() && tol.value == taint.value,
    }
}

/// Whether any toleration in `tols` tolerates `taint`.
pub fn tolerated(tols: &[Toleration], taint: &Taint) -> bool {
    tols.iter().any(|t| tolerates(t, taint))
}

/// The first taint with an effect in `effects` that `tols` do not tolerate.
pub fn first_untolerated<'a>(
    taints: &'a [Taint],
    tols: &[Toleration],
    effects: &[TaintEffect],
) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|t| effects.contains(&t.effect) && !tolerated(tols, t))
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    match req.operator {
        NodeSelectorOperator::In => value.is_some_and(|v| req.values.iter().any(|x| x == v)),
        NodeSelectorOperator::NotIn => value.is_none_or(|v| !req.values.iter().any(|x| x == v)),
        NodeSelectorOperator::Exists => value.is_some(),
        NodeSelectorOperator::DoesNotExist => value.is_none(),
        NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => {
            let (Some(v), [bound]) = (value, req.values.as_slice()) else {
                return false;
            };
            let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                return false;
            };
            if req.operator == NodeSelectorOperator::Gt {
                v > bound
            } else {
                v < bound
            }
        }
    }
}

/// A term matches when all its label expressions and field expressions match; a term with
/// neither matches nothing (upstream: an empty term selects no objects).
pub fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    let labels: &BTreeMap<String, String> = &node.metadata.labels;
    term.match_expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && term.match_fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(node.metadata.name.as_str());
            requirement_matches(r, value)
        })
}

/// The pod's `requiredDuringSchedulingIgnoredDuringExecution` node selector, if any.
pub fn required_node_selector(pod: &Pod) -> Option<&crate::api::objects::pod::NodeSelector> {
    pod.spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
}

/// `GetRequiredNodeAffinity(pod).Match(node)`: `spec.nodeSelector` (all pairs) and the
/// required node affinity (terms ORed).
pub fn required_node_affinity_matches(pod: &Pod, node: &Node) -> bool {
    let labels = &node.metadata.labels;
    if !pod
        .spec
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    match required_node_selector(pod) {
        Some(sel) => sel
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect,
            time_added: None,
        }
    }

    fn tol(
        key: &str,
        op: Option<TolerationOperator>,
        value: &str,
        effect: Option<TaintEffect>,
    ) -> Toleration {
        Toleration {
            key: key.into(),
            operator: op,
            value: value.into(),
            effect,
            toleration_seconds: None,
        }
    }

    #[test]
    fn toleration_matching_follows_upstream() {
        let t = taint("k", "v", TaintEffect::NoSchedule);
        assert!(tolerates(&tol("k", None, "v", None), &t));
        assert!(tolerates(
            &tol(
                "k",
                Some(TolerationOperator::Equal),
                "v",
                Some(TaintEffect::NoSchedule)
            ),
            &t
        ));
        assert!(!tolerates(&tol("k", None, "w", None), &t));
        assert!(!tolerates(
            &tol("k", None, "v", Some(TaintEffect::NoExecute)),
            &t
        ));
        assert!(tolerates(
            &tol("k", Some(TolerationOperator::Exists), "", None),
            &t
        ));
        assert!(tolerates(
            &tol("", Some(TolerationOperator::Exists), "", None),
            &t
        ));
        assert!(
            !tolerates(&tol("", None, "", None), &t),
            "an empty key with Equal matches nothing"
        );
    }
}
