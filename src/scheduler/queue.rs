//! The scheduling queue (`internal/queue/scheduling_queue.go`, v1.32 semantics).
//!
//! - activeQ: ordered by PrioritySort: higher priority first, then earlier timestamp
//!   (the time the pod was added, reset on each scheduling failure), then arrival order.
//! - backoffQ: pods that failed, until `timestamp + backoff(attempts)`, where the backoff is
//!   `initial × 2^(attempts−1)` capped at `max` (1 s, 2 s, 4 s, 8 s, 10 s, … by default).
//!   Upstream flushes it every second; kubesim moves a pod at the first whole second at or
//!   after its expiry, the same instants, with no timer when the queue is empty.
//! - unschedulablePods: pods no plugin could place. A relevant cluster event moves them all to
//!   backoffQ (still backing off) or activeQ; every 30 s, pods waiting more than 5 minutes move
//!   the same way. kubesim computes the first 30 s tick that applies instead of ticking.
//! - Pods with scheduling gates wait in a gated set until their gates are removed.
//!
//! Simplified: queueing hints are not modelled (any relevant event moves every unschedulable
//! pod, as before hints); PopFromBackoffQ (1.33+) is off.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;

use crate::api::ObjectKey;
use crate::sim::{SimDuration, SimTime};

use super::cache::PodInfo;

/// How long a pod may sit in unschedulablePods before the periodic flush moves it.
pub const UNSCHEDULABLE_MAX: SimDuration = SimDuration::from_secs(300);
/// The period of that flush.
pub const UNSCHEDULABLE_FLUSH_PERIOD: SimDuration = SimDuration::from_secs(30);
/// The period of the backoff flush.
pub const BACKOFF_FLUSH_PERIOD: SimDuration = SimDuration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    /// Popped and being scheduled.
    InFlight,
}

/// A queued pod.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub info: Arc<PodInfo>,
    pub timestamp: SimTime,
    pub attempts: u32,
    /// The queue's move counter when this pod was popped (a move during its cycle sends a
    /// failed pod to backoffQ instead of unschedulablePods).
    pub popped_at_move: u64,
    place: Place,
    seq: u64,
}

/// PrioritySort's order: higher priority (hence `Reverse`), earlier timestamp, arrival.
type ActiveKey = (Reverse<i32>, SimTime, u64, ObjectKey);

pub struct SchedulingQueue {
    pods: HashMap<ObjectKey, QueuedPod>,
    /// (Reverse(priority), timestamp, seq): a min-heap by PrioritySort.
    active: BinaryHeap<Reverse<ActiveKey>>,
    backoff: BTreeSet<(SimTime, u64, ObjectKey)>,
    unschedulable: BTreeSet<(SimTime, u64, ObjectKey)>,
    seq: u64,
    moves: u64,
    initial: SimDuration,
    max: SimDuration,
}

impl SchedulingQueue {
    pub fn new(initial: SimDuration, max: SimDuration) -> Self {
        SchedulingQueue {
            pods: HashMap::new(),
            active: BinaryHeap::new(),
            backoff: BTreeSet::new(),
            unschedulable: BTreeSet::new(),
            seq: 0,
            moves: 0,
            initial,
            max,
        }
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Whether a pod is waiting in activeQ.
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    fn gated(info: &PodInfo) -> bool {
        !info.pod().spec.scheduling_gates.is_empty()
    }

    fn backoff_duration(&self, attempts: u32) -> SimDuration {
        if attempts == 0 {
            return SimDuration::ZERO;
        }
        let mut d = self.initial;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }

    fn expiry(&self, qp: &QueuedPod) -> SimTime {
        qp.timestamp
            .saturating_add(self.backoff_duration(qp.attempts))
    }

    fn place(&mut self, key: ObjectKey, place: Place, now: SimTime) {
        let Some(qp) = self.pods.get_mut(&key) else {
            return;
        };
        self.seq += 1;
        qp.seq = self.seq;
        qp.place = place;
        let (prio, ts, seq) = (qp.info.priority, qp.timestamp, qp.seq);
        match place {
            Place::Active => self.active.push(Reverse((Reverse(prio), ts, seq, key))),
            Place::Backoff => {
                let qp = qp.clone();
                let expiry = self.expiry(&qp);
                if expiry <= now {
                    self.place(key, Place::Active, now);
                } else {
                    self.backoff.insert((expiry, seq, key));
                }
            }
            Place::Unschedulable => {
                self.unschedulable.insert((ts, seq, key));
            }
            Place::Gated | Place::InFlight => {}
        }
    }

    /// Takes `key` out of whichever sub-queue holds it (lazy for activeQ).
    fn unplace(&mut self, key: &ObjectKey) {
        let Some(qp) = self.pods.get(key) else {
            return;
        };
        match qp.place {
            Place::Backoff => {
                let e = (self.expiry(qp), qp.seq, key.clone());
                self.backoff.remove(&e);
            }
            Place::Unschedulable => {
                let e = (qp.timestamp, qp.seq, key.clone());
                self.unschedulable.remove(&e);
            }
            Place::Active | Place::Gated | Place::InFlight => {}
        }
    }

    /// A new pending pod.
    pub fn add(&mut self, info: Arc<PodInfo>, now: SimTime) {
        let key = info.key.clone();
        if self.pods.contains_key(&key) {
            self.update(info, now);
            return;
        }
        let gated = Self::gated(&info);
        self.pods.insert(
            key.clone(),
            QueuedPod {
                info,
                timestamp: now,
                attempts: 0,
                popped_at_move: 0,
                place: Place::Gated,
                seq: 0,
            },
        );
        self.place(key, if gated { Place::Gated } else { Place::Active }, now);
    }

    /// A pending pod changed: keep its place, release it when its gates are gone, and give
    /// an unschedulable pod whose spec changed another chance.
    pub fn update(&mut self, info: Arc<PodInfo>, now: SimTime) {
        let key = info.key.clone();
        let Some(qp) = self.pods.get(&key) else {
            self.add(info, now);
            return;
        };
        let place = qp.place;
        let spec_changed = qp.info.pod().spec != info.pod().spec;
        self.unplace(&key);
        if let Some(qp) = self.pods.get_mut(&key) {
            qp.info = info.clone();
        }
        // Re-placing an active pod pushes a fresh heap entry (its priority may have changed);
        // the stale entry is skipped by `pop`. An in-flight pod stays in flight.
        let next = match place {
            Place::Gated if !Self::gated(&info) => Place::Active,
            Place::Unschedulable if spec_changed => Place::Backoff,
            p => p,
        };
        self.place(key, next, now);
    }

    pub fn delete(&mut self, key: &ObjectKey) {
        self.unplace(key);
        self.pods.remove(key);
    }

    /// Pops the best pod in activeQ.
    pub fn pop(&mut self) -> Option<QueuedPod> {
        while let Some(Reverse((_, _, seq, key))) = self.active.pop() {
            let Some(qp) = self.pods.get_mut(&key) else {
                continue;
            };
            if qp.place != Place::Active || qp.seq != seq {
                continue;
            }
            qp.place = Place::InFlight;
            qp.attempts += 1;
            qp.popped_at_move = self.moves;
            return Some(qp.clone());
        }
        None
    }

    /// A popped pod that could not be placed: back to unschedulablePods (or backoffQ when a
    /// move request arrived during its cycle), with its timestamp reset.
    pub fn add_unschedulable(&mut self, key: &ObjectKey, now: SimTime) {
        let moves = self.moves;
        let Some(qp) = self.pods.get_mut(key) else {
            return;
        };
        qp.timestamp = now;
        let place = if qp.popped_at_move < moves {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.place(key.clone(), place, now);
    }

    /// A popped pod whose cycle hit an error (e.g. a bind conflict): to backoffQ.
    pub fn add_backoff(&mut self, key: &ObjectKey, now: SimTime) {
        let Some(qp) = self.pods.get_mut(key) else {
            return;
        };
        qp.timestamp = now;
        self.place(key.clone(), Place::Backoff, now);
    }

    /// A bound pod leaves the queue.
    pub fn done(&mut self, key: &ObjectKey) {
        self.delete(key);
    }

    /// A relevant cluster event: every unschedulable pod goes to backoffQ or activeQ.
    pub fn move_all(&mut self, now: SimTime) {
        self.moves += 1;
        let all: Vec<ObjectKey> = std::mem::take(&mut self.unschedulable)
            .into_iter()
            .map(|(_, _, k)| k)
            .collect();
        for key in all {
            self.place(key, Place::Backoff, now);
        }
    }

    /// Moves backoffQ pods whose flush tick has come, and unschedulable pods older than 5 min.
    pub fn flush(&mut self, now: SimTime) {
        while let Some((expiry, _, _)) = self.backoff.first().cloned() {
            if flush_tick(expiry, BACKOFF_FLUSH_PERIOD, false) > now {
                break;
            }
            let (_, _, key) = self.backoff.pop_first().expect("checked non-empty");
            self.place(key, Place::Active, now);
        }
        while let Some((ts, _, _)) = self.unschedulable.first().cloned() {
            if flush_tick(
                ts.saturating_add(UNSCHEDULABLE_MAX),
                UNSCHEDULABLE_FLUSH_PERIOD,
                true,
            ) > now
            {
                break;
            }
            let (_, _, key) = self.unschedulable.pop_first().expect("checked non-empty");
            self.place(key, Place::Backoff, now);
        }
    }

    /// When [`SchedulingQueue::flush`] next has something to do.
    pub fn next_flush(&self) -> Option<SimTime> {
        let b = self
            .backoff
            .first()
            .map(|(e, _, _)| flush_tick(*e, BACKOFF_FLUSH_PERIOD, false));
        let u = self.unschedulable.first().map(|(ts, _, _)| {
            flush_tick(
                ts.saturating_add(UNSCHEDULABLE_MAX),
                UNSCHEDULABLE_FLUSH_PERIOD,
                true,
            )
        });
        match (b, u) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Pending pods for metrics and explain (key order).
    pub fn pending_keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = self.pods.keys().cloned().collect();
        keys.sort();
        keys
    }
}

/// The first multiple of `period` at or after `t` (`strict`: strictly after).
fn flush_tick(t: SimTime, period: SimDuration, strict: bool) -> SimTime {
    let p = period.as_nanos();
    let n = t.as_nanos();
    let k = if strict { n / p + 1 } else { n.div_ceil(p) };
    SimTime::from_nanos(k.saturating_mul(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_a_ten_second_cap() {
        let q = SchedulingQueue::new(SimDuration::from_secs(1), SimDuration::from_secs(10));
        let secs: Vec<u64> = (0..7).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, [0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn flush_ticks_fall_on_period_boundaries() {
        let s = |x: u64| SimTime::from_nanos(x * 1_000_000_000);
        assert_eq!(flush_tick(s(3), BACKOFF_FLUSH_PERIOD, false), s(3));
        assert_eq!(
            flush_tick(
                SimTime::from_nanos(3_100_000_000),
                BACKOFF_FLUSH_PERIOD,
                false
            ),
            s(4)
        );
        // "More than 5 minutes" is strict: a pod that failed at t=0 has waited exactly 300 s
        // at the 300 s tick, so it moves at the next one, 330 s.
        assert_eq!(flush_tick(s(300), UNSCHEDULABLE_FLUSH_PERIOD, true), s(330));
        assert_eq!(flush_tick(s(301), UNSCHEDULABLE_FLUSH_PERIOD, true), s(330));
    }
}
