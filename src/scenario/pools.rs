//! Node pools: many Nodes stamped from one template, spread across zones and racks.
//!
//! Node `i` of pool `p` is named `p-i` and gets, on top of the template's labels:
//! `kubernetes.io/hostname`, `kubernetes.io/os=linux`, `kubernetes.io/arch=amd64` (unless
//! the template sets them), `topology.kubernetes.io/zone = zones[i mod |zones|]`,
//! `topology.kubernetes.io/region` when set, and `kubesim.io/rack = <zone>-rack-<r>` with
//! `r = (i div |zones|) mod racksPerZone`. A template without a `Ready` condition gets
//! `Ready=True`: the node starts registered and healthy.

use crate::api::meta::{Condition, ConditionStatus};
use crate::api::objects::node::Node;

use super::spec::NodePoolSpec;

pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";
pub const LABEL_RACK: &str = "kubesim.io/rack";
pub const LABEL_POOL: &str = "kubesim.io/node-pool";

/// Stamps the pool's nodes from an already-decoded template.
pub fn generate(pool: &NodePoolSpec, template: &Node) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(pool.count as usize);
    let zones = pool.zones.len().max(1);
    for i in 0..pool.count as usize {
        let mut node = template.clone();
        let name = format!("{}-{}", pool.name, i);
        let labels = &mut node.metadata.labels;
        labels.insert(LABEL_HOSTNAME.into(), name.clone());
        labels
            .entry("kubernetes.io/os".into())
            .or_insert_with(|| "linux".into());
        labels
            .entry("kubernetes.io/arch".into())
            .or_insert_with(|| "amd64".into());
        labels.insert(LABEL_POOL.into(), pool.name.clone());
        if let Some(zone) = pool.zones.get(i % zones) {
            labels.insert(LABEL_ZONE.into(), zone.clone());
            if pool.racks_per_zone > 0 {
                let rack = (i / zones) % pool.racks_per_zone as usize;
                labels.insert(LABEL_RACK.into(), format!("{zone}-rack-{rack}"));
            }
        }
        if !pool.region.is_empty() {
            labels.insert(LABEL_REGION.into(), pool.region.clone());
        }
        node.metadata.name = name;
        node.metadata.generate_name.clear();
        if !node.status.conditions.iter().any(|c| c.type_ == "Ready") {
            node.status.conditions.push(Condition {
                type_: "Ready".into(),
                status: ConditionStatus::True,
                reason: "KubeletReady".into(),
                message: "kubelet is posting ready status".into(),
                ..Condition::default()
            });
        }
        nodes.push(node);
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_spread_round_robin_across_zones_and_racks() {
        let pool = NodePoolSpec {
            name: "pool".into(),
            count: 6,
            zones: vec!["a".into(), "b".into()],
            region: "r1".into(),
            racks_per_zone: 2,
            template: serde_json::Value::Null,
        };
        let nodes = generate(&pool, &Node::default());
        let zr: Vec<(String, String)> = nodes
            .iter()
            .map(|n| {
                (
                    n.metadata.labels[LABEL_ZONE].clone(),
                    n.metadata.labels[LABEL_RACK].clone(),
                )
            })
            .collect();
        assert_eq!(nodes[5].metadata.name, "pool-5");
        assert_eq!(zr[0], ("a".into(), "a-rack-0".into()));
        assert_eq!(zr[1], ("b".into(), "b-rack-0".into()));
        assert_eq!(zr[2], ("a".into(), "a-rack-1".into()));
        assert_eq!(zr[4], ("a".into(), "a-rack-0".into()));
        assert!(nodes.iter().all(|n| n.is_ready()));
    }
}
