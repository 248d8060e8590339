//! Lease (coordination.k8s.io/v1): node heartbeats in `kube-node-lease`.
//!
//! kubesim does not write a Lease at every renewal. A Lease whose holder renews it
//! periodically carries the annotation [`RENEW_INTERVAL_ANNOTATION`] (`"10s"`): it means
//! "renewed every interval since `spec.renewTime`". Its effective last renewal at time `t`
//! is computed on demand by [`Lease::renew_time_at`]; the holder rewrites the Lease only when
//! it starts or stops renewing. Readers that use `renew_time_at` see the same renewal times
//! as if every renewal were written.

use serde::{Deserialize, Serialize};

use crate::api::meta::{ObjectMeta, Time};
use crate::sim::{SimDuration, SimTime, parse_duration};

/// "Renewed every <duration> since `spec.renewTime`" (a Go duration string, e.g. `10s`).
pub const RENEW_INTERVAL_ANNOTATION: &str = "kubesim.io/renew-interval";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Lease {
    pub metadata: ObjectMeta,
    pub spec: LeaseSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LeaseSpec {
    pub holder_identity: String,
    pub lease_duration_seconds: Option<i32>,
    pub acquire_time: Option<Time>,
    pub renew_time: Option<Time>,
    pub lease_transitions: Option<i32>,
}

impl Lease {
    /// The renewal interval, if the holder is renewing periodically.
    pub fn renew_interval(&self) -> Option<SimDuration> {
        self.metadata
            .annotations
            .get(RENEW_INTERVAL_ANNOTATION)
            .and_then(|s| parse_duration(s).ok())
            .filter(|d| !d.is_zero())
    }

    /// The last renewal at or before `now`: `renewTime + k·interval` for the largest such
    /// `k` while renewing, else `renewTime`. O(1).
    pub fn renew_time_at(&self, now: SimTime) -> Option<SimTime> {
        let Time(start) = self.spec.renew_time?;
        let Some(interval) = self.renew_interval() else {
            return Some(start);
        };
        if now <= start {
            return Some(start);
        }
        let k = now.saturating_since(start).as_nanos() / interval.as_nanos();
        Some(start.saturating_add(SimDuration::from_nanos(k * interval.as_nanos())))
    }

    /// Whether the lease has expired at `now` (`renewTime + leaseDurationSeconds < now`).
    pub fn expired_at(&self, now: SimTime) -> bool {
        match (self.renew_time_at(now), self.spec.lease_duration_seconds) {
            (Some(t), Some(d)) => t.saturating_add(SimDuration::from_secs(d.max(0) as u64)) < now,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_secs(s))
    }

    #[test]
    fn a_renewing_lease_reports_the_last_tick_and_a_stopped_one_its_last_write() {
        let mut l = Lease::default();
        l.spec.renew_time = Some(Time(at(3)));
        l.spec.lease_duration_seconds = Some(40);
        l.metadata
            .annotations
            .insert(RENEW_INTERVAL_ANNOTATION.into(), "10s".into());
        assert_eq!(l.renew_time_at(at(3)), Some(at(3)));
        assert_eq!(l.renew_time_at(at(12)), Some(at(3)));
        assert_eq!(l.renew_time_at(at(13)), Some(at(13)));
        assert_eq!(l.renew_time_at(at(86_400)), Some(at(86_393)));
        assert!(!l.expired_at(at(86_400)));
        l.metadata.annotations.clear();
        assert_eq!(l.renew_time_at(at(100)), Some(at(3)));
        assert!(!l.expired_at(at(43)));
        assert!(l.expired_at(at(44)));
    }
}
