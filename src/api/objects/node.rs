//! Node (core/v1), with the fields the scheduler, kubelet and node lifecycle controller use.

use serde::{Deserialize, Serialize};

use crate::api::meta::{Condition, ObjectMeta, Time};
use crate::api::objects::pod::TaintEffect;
use crate::api::resources::ResourceList;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Node {
    pub metadata: ObjectMeta,
    pub spec: NodeSpec,
    pub status: NodeStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSpec {
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: TaintEffect,
    #[serde(default)]
    pub time_added: Option<Time>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    pub capacity: ResourceList,
    /// When absent in the input, it defaults to `capacity` (the kubelet reports both).
    pub allocatable: ResourceList,
    pub conditions: Vec<Condition>,
    pub images: Vec<ContainerImage>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerImage {
    pub names: Vec<String>,
    pub size_bytes: i64,
}

impl Node {
    /// Whether the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        crate::api::meta::find_condition(&self.status.conditions, "Ready")
            .is_some_and(|c| c.status == crate::api::meta::ConditionStatus::True)
    }
}
