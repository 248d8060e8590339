//! Pod admission on the node: what the kubelet re-checks before running a bound pod.
//!
//! Upstream: `pkg/kubelet/lifecycle/predicate.go` (`generalFilter`): node resources
//! (`noderesources.Fits`, including the pod count against `allocatable.pods`), node name,
//! node selector and required node affinity, and `NoExecute` taints the pod does not tolerate.
//! A rejected pod is set `Failed` with the predicate's reason (`OutOfcpu`, `OutOfmemory`,
//! `OutOfpods`, `NodeAffinity`, `TaintToleration`) and a Warning event of that reason.

use crate::api::Resources;
use crate::api::objects::pod::TaintEffect;
use crate::api::objects::{Node, Pod};
use crate::api::scheduling;

/// `maxPods` when the node reports no `pods` allocatable (kubelet default).
pub const DEFAULT_MAX_PODS: i64 = 110;

/// Why a pod is rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    pub message: String,
}

fn insufficient(resource: &str, requested: i64, used: i64, capacity: i64) -> Rejection {
    Rejection {
        reason: format!("OutOf{resource}"),
        message: format!(
            "Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
        ),
    }
}

/// `noderesources.Fits` as the kubelet runs it: pods first, then cpu, memory,
/// ephemeral-storage and extended resources. `used` holds the requests of the pods already
/// admitted (and not terminal) with `pods` = their count.
pub fn check_resources(
    requests: &Resources,
    used: &Resources,
    node: &Node,
    default_max_pods: i64,
) -> Option<Rejection> {
    let alloc = Resources::from_list(&node.status.allocatable);
    let max_pods = if node
        .status
        .allocatable
        .contains_key(crate::api::resources::PODS)
    {
        alloc.pods
    } else {
        default_max_pods
    };
    if used.pods + 1 > max_pods {
        return Some(insufficient("pods", 1, used.pods, max_pods));
    }
    let fixed = [
        ("cpu", requests.milli_cpu, used.milli_cpu, alloc.milli_cpu),
        ("memory", requests.memory, used.memory, alloc.memory),
        (
            "ephemeral-storage",
            requests.ephemeral_storage,
            used.ephemeral_storage,
            alloc.ephemeral_storage,
        ),
    ];
    for (name, req, u, cap) in fixed {
        if req > 0 && u.saturating_add(req) > cap {
            return Some(insufficient(name, req, u, cap));
        }
    }
    for (name, req) in &requests.scalar {
        let u = used.scalar.get(name).copied().unwrap_or(0);
        let cap = alloc.scalar.get(name).copied().unwrap_or(0);
        if *req > 0 && u.saturating_add(*req) > cap {
            return Some(insufficient(name, *req, u, cap));
        }
    }
    None
}

/// The full admission check, in upstream's order.
pub fn admit(
    pod: &Pod,
    requests: &Resources,
    used: &Resources,
    node: &Node,
    default_max_pods: i64,
) -> Result<(), Rejection> {
    if let Some(r) = check_resources(requests, used, node, default_max_pods) {
        return Err(r);
    }
    // The same predicates the scheduler filters with (`api::scheduling`).
    if !scheduling::required_node_affinity_matches(pod, node) {
        return Err(Rejection {
            reason: "NodeAffinity".into(),
            message:
                "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
                    .into(),
        });
    }
    let untolerated = scheduling::first_untolerated(
        &node.spec.taints,
        &pod.spec.tolerations,
        &[TaintEffect::NoExecute],
    );
    if let Some(taint) = untolerated {
        return Err(Rejection {
            reason: "TaintToleration".into(),
            message: format!(
                "Predicate TaintToleration failed: node(s) had untolerated taint {{{}: {}}}",
                taint.key, taint.value
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Quantity;
    use crate::api::objects::node::Taint;
    use crate::api::objects::pod::{Toleration, TolerationOperator};

    fn node(cpu: &str, pods: Option<&str>) -> Node {
        let mut n = Node::default();
        n.metadata.name = "n1".into();
        n.metadata.labels.insert("zone".into(), "a".into());
        n.status
            .allocatable
            .insert("cpu".into(), Quantity::parse(cpu).unwrap());
        if let Some(p) = pods {
            n.status
                .allocatable
                .insert("pods".into(), Quantity::parse(p).unwrap());
        }
        n
    }

    #[test]
    fn a_pod_over_allocatable_cpu_is_rejected_out_of_cpu() {
        let n = node("1", None);
        let req = Resources {
            milli_cpu: 600,
            ..Resources::default()
        };
        let used = Resources {
            milli_cpu: 500,
            pods: 1,
            ..Resources::default()
        };
        let r = check_resources(&req, &used, &n, DEFAULT_MAX_PODS).unwrap();
        assert_eq!(r.reason, "OutOfcpu");
        assert_eq!(
            r.message,
            "Node didn't have enough resource: cpu, requested: 600, used: 500, capacity: 1000"
        );
        assert!(check_resources(&req, &Resources::default(), &n, DEFAULT_MAX_PODS).is_none());
    }

    #[test]
    fn max_pods_defaults_to_110_and_follows_allocatable_pods() {
        let with_pods = |count: i64, alloc: Option<&str>| {
            let used = Resources {
                pods: count,
                ..Resources::default()
            };
            check_resources(
                &Resources::default(),
                &used,
                &node("1", alloc),
                DEFAULT_MAX_PODS,
            )
            .map(|r| r.reason)
        };
        assert_eq!(with_pods(109, None), None);
        assert_eq!(with_pods(110, None).as_deref(), Some("OutOfpods"));
        assert_eq!(with_pods(2, Some("3")), None);
        assert_eq!(with_pods(3, Some("3")).as_deref(), Some("OutOfpods"));
    }

    #[test]
    fn node_selector_and_no_execute_taints_are_rechecked() {
        let mut n = node("1", None);
        let mut pod = Pod::default();
        pod.spec.node_selector.insert("zone".into(), "b".into());
        let none = Resources::default();
        assert_eq!(
            admit(&pod, &none, &none, &n, DEFAULT_MAX_PODS)
                .unwrap_err()
                .reason,
            "NodeAffinity"
        );
        pod.spec.node_selector.insert("zone".into(), "a".into());
        assert!(admit(&pod, &none, &none, &n, DEFAULT_MAX_PODS).is_ok());
        n.spec.taints.push(Taint {
            key: "dedicated".into(),
            value: "db".into(),
            effect: TaintEffect::NoExecute,
            time_added: None,
        });
        assert_eq!(
            admit(&pod, &none, &none, &n, DEFAULT_MAX_PODS)
                .unwrap_err()
                .reason,
            "TaintToleration"
        );
        pod.spec.tolerations.push(Toleration {
            key: "dedicated".into(),
            operator: Some(TolerationOperator::Exists),
            ..Toleration::default()
        });
        assert!(admit(&pod, &none, &none, &n, DEFAULT_MAX_PODS).is_ok());
    }
}
