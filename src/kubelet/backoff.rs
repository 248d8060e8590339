//! Per-key exponential back-off, as client-go's `flowcontrol.Backoff` without jitter.
//!
//! Upstream: `staging/src/k8s.io/client-go/util/flowcontrol/backoff.go`; the kubelet builds
//! one for container restarts (`pkg/kubelet/kubelet.go`, 10 s doubling to 300 s) and one for
//! image pulls (`pkg/kubelet/images/image_manager.go`, 10 s doubling to 300 s).
//!
//! - `next(key, event_time, now)`: no entry, or `event_time - last_update > reset_after` ⇒
//!   back-off = initial; else back-off = min(2 × back-off, max). `last_update = now`.
//! - `in_backoff_since(key, event_time, now)`: an entry that has not expired (measured from
//!   `event_time`) and `now - event_time < back-off`.
//! - Entries live in a `BTreeMap` (deterministic); the caller removes them with the pod.

use std::collections::BTreeMap;

use crate::sim::{SimDuration, SimTime};

/// A back-off curve: initial delay, doubling, cap, and the idle time that resets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffCurve {
    pub initial: SimDuration,
    pub max: SimDuration,
    /// An entry whose last update is more than this before the event time starts over.
    /// Upstream: `600 s` for crash loops (`kubelet.go` HasExpiredFunc), `2 × max` otherwise.
    pub reset_after: SimDuration,
}

impl BackoffCurve {
    /// CrashLoopBackOff with default kubelet settings: 10 s, ×2, 300 s cap, reset after a
    /// run longer than 600 s (`initialCrashLoopBackOff`, `MaxContainerBackOff`).
    pub const CRASH_LOOP: BackoffCurve = BackoffCurve {
        initial: SimDuration::from_secs(10),
        max: SimDuration::from_secs(300),
        reset_after: SimDuration::from_secs(600),
    };

    /// The curve of the `ReduceDefaultCrashLoopBackOffDecay` feature gate (alpha, off by
    /// default): 1 s, ×2, 60 s cap.
    pub const CRASH_LOOP_REDUCED_DECAY: BackoffCurve = BackoffCurve {
        initial: SimDuration::from_secs(1),
        max: SimDuration::from_secs(60),
        reset_after: SimDuration::from_secs(600),
    };

    /// Image pulls: `imageBackOffPeriod = 10 s`, `MaxImageBackOff = 300 s`, generic expiry
    /// `2 × max`.
    pub const IMAGE_PULL: BackoffCurve = BackoffCurve {
        initial: SimDuration::from_secs(10),
        max: SimDuration::from_secs(300),
        reset_after: SimDuration::from_secs(600),
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    backoff: SimDuration,
    last_update: SimTime,
}

/// Back-off entries by key.
#[derive(Clone, Debug)]
pub struct Backoff<K: Ord> {
    curve: BackoffCurve,
    entries: BTreeMap<K, Entry>,
}

impl<K: Ord> Backoff<K> {
    pub fn new(curve: BackoffCurve) -> Self {
        Backoff {
            curve,
            entries: BTreeMap::new(),
        }
    }

    fn live(&self, key: &K, event_time: SimTime) -> Option<&Entry> {
        self.entries
            .get(key)
            .filter(|e| event_time.saturating_since(e.last_update) <= self.curve.reset_after)
    }

    /// The current back-off of `key` if it is still in force for an event at `event_time`
    /// (`IsInBackOffSince` without the `now` comparison).
    pub fn current(&self, key: &K, event_time: SimTime) -> Option<SimDuration> {
        self.live(key, event_time).map(|e| e.backoff)
    }

    /// `IsInBackOffSince(key, event_time)` at `now`.
    pub fn in_backoff_since(&self, key: &K, event_time: SimTime, now: SimTime) -> bool {
        self.live(key, event_time)
            .is_some_and(|e| now.saturating_since(event_time) < e.backoff)
    }

    /// `IsInBackOffSinceUpdate(key, now)`: `now - last_update < back-off` (image pulls).
    pub fn in_backoff_since_update(&self, key: &K, now: SimTime) -> bool {
        self.entries.get(key).is_some_and(|e| {
            let since = now.saturating_since(e.last_update);
            since <= self.curve.reset_after && since < e.backoff
        })
    }

    /// `Next(key, event_time)` at `now`.
    pub fn next(&mut self, key: K, event_time: SimTime, now: SimTime) {
        let backoff = match self.live(&key, event_time) {
            None => self.curve.initial,
            Some(e) => e.backoff.saturating_mul(2).min(self.curve.max),
        };
        self.entries.insert(
            key,
            Entry {
                backoff,
                last_update: now,
            },
        );
    }

    /// Drops every entry whose key matches `f` (a deleted pod's).
    pub fn forget(&mut self, f: impl Fn(&K) -> bool) {
        self.entries.retain(|k, _| !f(k));
    }
}

/// The restart delays of a container that exits the moment it starts, `crashes` times, as
/// the kubelet's `doBackOff` produces them: at each exit, restart at once unless in back-off
/// since that exit's FinishedAt, else at `FinishedAt + back-off`; `Next` at every restart.
/// The kubelet fleet runs the same rule (`KubeletFleet::restart_or_back_off`).
pub fn crash_loop_delays(curve: BackoffCurve, crashes: usize) -> Vec<SimDuration> {
    let mut b = Backoff::new(curve);
    let mut now = SimTime::ZERO;
    let mut delays = Vec::with_capacity(crashes);
    for _ in 0..crashes {
        let finished = now;
        let restart = match b.current(&(), finished) {
            Some(d) if b.in_backoff_since(&(), finished, finished) => finished.saturating_add(d),
            _ => finished,
        };
        b.next((), finished, restart);
        delays.push(restart.saturating_since(finished));
        now = restart;
    }
    delays
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crash_loop_delays(curve: BackoffCurve, crashes: usize) -> Vec<u64> {
        super::crash_loop_delays(curve, crashes)
            .iter()
            .map(|d| d.as_secs())
            .collect()
    }

    #[test]
    fn vector_kubelet_crashloop_default_curve() {
        assert_eq!(
            crash_loop_delays(BackoffCurve::CRASH_LOOP, 9),
            [0, 10, 20, 40, 80, 160, 300, 300, 300]
        );
    }

    #[test]
    fn vector_kubelet_crashloop_reduced_decay_curve() {
        assert_eq!(
            crash_loop_delays(BackoffCurve::CRASH_LOOP_REDUCED_DECAY, 9),
            [0, 1, 2, 4, 8, 16, 32, 60, 60]
        );
    }

    #[test]
    fn vector_kubelet_image_pull_backoff_constants() {
        let c = BackoffCurve::IMAGE_PULL;
        assert_eq!(c.initial, SimDuration::from_secs(10));
        assert_eq!(c.max, SimDuration::from_secs(300));
        // IsInBackOffSinceUpdate(key, now): now - lastUpdate < backoff.
        let mut b = Backoff::new(c);
        let t = SimTime::ZERO.saturating_add(SimDuration::from_secs(5));
        b.next("uid_img", t, t);
        let at = |s| t.saturating_add(SimDuration::from_secs(s));
        assert!(b.in_backoff_since(&"uid_img", t, at(9)));
        assert!(!b.in_backoff_since(&"uid_img", t, at(10)));
        let mut seen = Vec::new();
        let mut now = t;
        for _ in 0..7 {
            b.next("uid_img", now, now);
            let d = b.current(&"uid_img", now).unwrap();
            seen.push(d.as_secs());
            now = now.saturating_add(d);
        }
        assert_eq!(seen, [20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn backoff_resets_only_after_strictly_more_than_600_s() {
        let mut b = Backoff::new(BackoffCurve::CRASH_LOOP);
        let t0 = SimTime::ZERO;
        b.next("c", t0, t0);
        b.next("c", t0, t0);
        assert_eq!(b.current(&"c", t0), Some(SimDuration::from_secs(20)));
        let at600 = t0.saturating_add(SimDuration::from_secs(600));
        assert_eq!(b.current(&"c", at600), Some(SimDuration::from_secs(20)));
        let after = at600.saturating_add(SimDuration::from_nanos(1));
        assert_eq!(b.current(&"c", after), None);
        b.next("c", after, after);
        assert_eq!(b.current(&"c", after), Some(SimDuration::from_secs(10)));
    }
}
