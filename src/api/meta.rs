//! Object metadata and the small value types shared by every kind.
//!
//! Field names and shapes follow `k8s.io/apimachinery/pkg/apis/meta/v1/types.go`.
//! Fields the store owns (`uid`, `resourceVersion`, `generation`, timestamps) are set by the
//! store, never taken from input: an imported object's values for them are ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sim::SimTime;

/// metav1.ObjectMeta, with the fields kubesim uses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    pub name: String,
    pub generate_name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    /// Set by the store on create (deterministic, see `Store`).
    #[serde(skip_deserializing)]
    pub uid: String,
    /// Set by the store on every write.
    #[serde(skip_deserializing)]
    pub resource_version: u64,
    /// 1 on create; incremented by the store when the spec changes.
    #[serde(skip_deserializing)]
    pub generation: i64,
    #[serde(skip_deserializing)]
    pub creation_timestamp: Time,
    /// Present once deletion has started (graceful deletion or pending finalizers).
    pub deletion_timestamp: Option<Time>,
    pub deletion_grace_period_seconds: Option<i64>,
}

impl ObjectMeta {
    /// The controlling owner reference, if any (`controller: true`).
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
    }

    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp.is_some()
    }
}

/// metav1.OwnerReference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub controller: Option<bool>,
    pub block_owner_deletion: Option<bool>,
}

/// A point in simulated time carried in an object (creationTimestamp, deletionTimestamp,
/// condition transition times, container start and finish times).
///
/// Serialized as integer milliseconds of sim time. When an object is imported, any value
/// (an RFC 3339 string from a live cluster) is read as the simulation start, t=0: imported
/// objects exist before the simulation begins. This is a documented simplification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub SimTime);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0.as_millis())
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Time(SimTime::ZERO))
    }
}

/// intstr.IntOrString: `3` or `"25%"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl IntOrString {
    /// `intstr.GetScaledValueFromIntOrPercent`: an int as is, or `percent × total / 100`
    /// rounded up or down. A string that is not `<int>%` is an error.
    ///
    /// Upstream: `staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go`.
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Result<i32, String> {
        match self {
            IntOrString::Int(i) => Ok(*i),
            IntOrString::String(s) => {
                let pct: i64 = s
                    .strip_suffix('%')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format!("invalid value for IntOrString: invalid type: string is not a percentage: {s:?}"))?;
                let product = pct * i64::from(total);
                let v = if round_up {
                    (product + 99).div_euclid(100)
                } else {
                    product.div_euclid(100)
                };
                i32::try_from(v).map_err(|_| format!("percentage {s:?} of {total} is out of range"))
            }
        }
    }
}

/// A status condition (`type`, `status`, `reason`, `message`, times): the shape shared by
/// pods, nodes and workloads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
    pub last_transition_time: Option<Time>,
    pub last_update_time: Option<Time>,
    pub last_heartbeat_time: Option<Time>,
    pub last_probe_time: Option<Time>,
}

/// `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// Finds condition `type_` in a list.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_scale_with_upstream_rounding() {
        let p = IntOrString::String("25%".into());
        assert_eq!(p.scaled_value(10, true), Ok(3));
        assert_eq!(p.scaled_value(10, false), Ok(2));
        assert_eq!(IntOrString::Int(4).scaled_value(10, true), Ok(4));
        assert!(
            IntOrString::String("25".into())
                .scaled_value(10, true)
                .is_err()
        );
    }

    #[test]
    fn imported_timestamps_read_as_simulation_start() {
        let m: ObjectMeta = serde_json::from_str(
            r#"{"name":"a","creationTimestamp":"2024-01-01T00:00:00Z","deletionTimestamp":"2024-01-01T00:00:00Z","uid":"x","resourceVersion":"9"}"#,
        )
        .unwrap();
        assert_eq!(m.deletion_timestamp, Some(Time(SimTime::ZERO)));
        assert_eq!(m.uid, "");
        assert_eq!(m.resource_version, 0);
    }
}
