//! The object model: one typed struct per kind, and [`Object`], the enum the store holds.
//!
//! - Each kind's struct mirrors the upstream JSON shape (camelCase fields, `metadata`, `spec`,
//!   `status`), so `kubectl get -o json|yaml` output deserializes directly. Fields kubesim does
//!   not model are ignored on input.
//! - Quantities are parsed into exact [`crate::api::Quantity`] values and selectors into
//!   typed [`crate::api::LabelSelector`]s at the boundary; nothing downstream re-parses strings.

pub mod coordination;
pub mod networking;
pub mod node;
pub mod pod;
pub mod policy;
pub mod workloads;

use std::fmt;

use serde::Serialize;

use crate::api::meta::ObjectMeta;

pub use coordination::Lease;
pub use networking::{EndpointSlice, Service};
pub use node::Node;
pub use pod::{Pod, PodPhase, PodSpec, PodTemplateSpec};
pub use policy::{Namespace, PodDisruptionBudget, PriorityClass};
pub use workloads::{
    CronJob, DaemonSet, Deployment, Job, ReplicaSet, ReplicationController, StatefulSet,
};

macro_rules! kinds {
    ($( $kind:ident => $api_version:literal, namespaced: $ns:literal, generation: |$a:ident, $b:ident| $spec_eq:expr; )*) => {
        /// An object kind kubesim models.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum Kind { $( $kind, )* }

        impl Kind {
            /// Every kind, in a fixed order.
            pub const ALL: &'static [Kind] = &[ $( Kind::$kind, )* ];

            pub const fn as_str(self) -> &'static str {
                match self { $( Kind::$kind => stringify!($kind), )* }
            }

            /// The `apiVersion` this kind is served at (`v1`, `apps/v1`, ...).
            pub const fn api_version(self) -> &'static str {
                match self { $( Kind::$kind => $api_version, )* }
            }

            /// Whether objects of this kind live in a namespace.
            pub const fn is_namespaced(self) -> bool {
                match self { $( Kind::$kind => $ns, )* }
            }

            pub fn from_name(name: &str) -> Option<Kind> {
                match name { $( stringify!($kind) => Some(Kind::$kind), )* _ => None }
            }
        }

        /// Any stored object.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Object { $( $kind($kind), )* }

        impl Object {
            pub fn kind(&self) -> Kind {
                match self { $( Object::$kind(_) => Kind::$kind, )* }
            }

            pub fn meta(&self) -> &ObjectMeta {
                match self { $( Object::$kind(o) => &o.metadata, )* }
            }

            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self { $( Object::$kind(o) => &mut o.metadata, )* }
            }

            /// Whether the desired state (what `metadata.generation` counts) is the same in
            /// both objects. Objects of different kinds are never equal.
            pub fn same_generation_fields(&self, other: &Object) -> bool {
                match (self, other) {
                    $( (Object::$kind($a), Object::$kind($b)) => $spec_eq, )*
                    _ => false,
                }
            }

            /// Deserializes the JSON of one object of `kind`, recording the field path of any
            /// error.
            pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Object, serde_path_to_error::Error<serde_json::Error>> {
                match kind {
                    $( Kind::$kind => serde_path_to_error::deserialize(value).map(Object::$kind), )*
                }
            }
        }

        $(
            impl From<$kind> for Object {
                fn from(o: $kind) -> Object { Object::$kind(o) }
            }
        )*
    };
}

kinds! {
    Namespace => "v1", namespaced: false, generation: |_a, _b| true;
    Node => "v1", namespaced: false, generation: |a, b| a.spec == b.spec;
    Pod => "v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    Service => "v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    ReplicationController => "v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    ReplicaSet => "apps/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    Deployment => "apps/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    DaemonSet => "apps/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    StatefulSet => "apps/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    Job => "batch/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    CronJob => "batch/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    EndpointSlice => "discovery.k8s.io/v1", namespaced: true, generation: |a, b| a.endpoints == b.endpoints && a.ports == b.ports && a.address_type == b.address_type;
    PodDisruptionBudget => "policy/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    Lease => "coordination.k8s.io/v1", namespaced: true, generation: |a, b| a.spec == b.spec;
    PriorityClass => "scheduling.k8s.io/v1", namespaced: false, generation: |a, b| a.value == b.value && a.global_default == b.global_default && a.preemption_policy == b.preemption_policy;
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a stored object: kind, namespace (empty for cluster-scoped kinds), name.
/// Ordered, so store iteration is deterministic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn of(obj: &Object) -> Self {
        let m = obj.meta();
        ObjectKey::new(obj.kind(), m.namespace.clone(), m.name.clone())
    }
}

impl fmt::Display for ObjectKey {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped kinds (the `object` field of
    /// events.jsonl).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}
