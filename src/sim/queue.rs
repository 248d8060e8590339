//! The pending-event queue: a monotone radix heap ordered by `(time, insertion sequence)`.
//!
//! - Events with equal time pop in the order they were pushed (FIFO), so ordering never
//!   depends on payloads or on hash-map iteration.
//! - Monotone: simulated time never goes back, so a push earlier than the last popped time
//!   is clamped to it (the engine never does this; it schedules at `now` or later).
//! - Layout (Ahuja–Mehlhorn–Orlin–Tarjan radix heap): bucket 0 holds events at exactly the
//!   last popped time, in FIFO order; bucket `b ≥ 1` holds events whose time differs from it
//!   first in bit `b-1`. A pop that finds bucket 0 empty redistributes the lowest non-empty
//!   bucket around its minimum time. Every event moves down at most 64 times in its life, so
//!   `push` is O(1) and `pop` is O(1) amortised (up to 64 bucket scans); both append to and
//!   read from contiguous vectors, which keeps them cache-friendly at 100,000+ pending.
//! - Equal times always share a bucket and moves preserve relative order, so FIFO holds.
//! - Cancellation is lazy: a cancelled event's id goes into a tombstone set and the event is
//!   dropped when it surfaces. When nothing is cancelled, `pop` pays one `is_empty` check.

use std::collections::{HashSet, VecDeque};

use super::SimTime;

/// Identifies a pushed event, for [`EventQueue::cancel`]. Ids are the insertion sequence
/// numbers: unique for the life of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(u64);

struct Entry<E> {
    time: u64,
    seq: u64,
    payload: E,
}

const BUCKETS: usize = 64;

/// A queue of future events ordered by `(time, insertion sequence)`.
pub struct EventQueue<E> {
    /// Bucket 0: events at exactly `last`, in FIFO order.
    current: VecDeque<Entry<E>>,
    /// `buckets[b - 1]` holds events whose time first differs from `last` in bit `b - 1`.
    buckets: Vec<Vec<Entry<E>>>,
    /// The radix heap's reference point: the minimum pending time once bucket 0 was last
    /// refilled (peeks and cancelled entries can move it past the last popped time).
    last: u64,
    /// The last popped time: pushes are clamped to it.
    popped: u64,
    len: usize,
    next_seq: u64,
    cancelled: HashSet<u64>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of `time` relative to `last`: 0 when equal, else 1 + the highest differing bit.
fn bucket_of(time: u64, last: u64) -> usize {
    let diff = time ^ last;
    if diff == 0 {
        0
    } else {
        64 - diff.leading_zeros() as usize
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            current: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            last: 0,
            popped: 0,
            len: 0,
            next_seq: 0,
            cancelled: HashSet::new(),
        }
    }

    fn place(&mut self, e: Entry<E>) {
        match bucket_of(e.time, self.last) {
            0 => self.current.push_back(e),
            b => self.buckets[b - 1].push(e),
        }
    }

    /// Schedules `payload` at `time` (clamped to the last popped time). O(1), except after a
    /// peek or a cancelled front entry moved the reference point past `time`: then the
    /// pending entries are re-bucketed around `time` (O(n), rare).
    pub fn push(&mut self, time: SimTime, payload: E) -> EventId {
        let time = time.as_nanos().max(self.popped);
        if time < self.last {
            self.rebase(time);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.place(Entry { time, seq, payload });
        self.len += 1;
        EventId(seq)
    }

    /// Lowers the reference point to `to` (≤ every pending time) and re-buckets everything.
    /// Entries of equal time share a bucket in insertion order, and buckets are drained in
    /// order, so FIFO among equal times is kept.
    fn rebase(&mut self, to: u64) {
        let mut all: Vec<Entry<E>> = self.current.drain(..).collect();
        for b in &mut self.buckets {
            all.append(b);
        }
        self.last = to;
        // Stable sort by time keeps insertion order among equal times.
        all.sort_by_key(|e| (e.time, e.seq));
        for e in all {
            self.place(e);
        }
    }

    /// Makes bucket 0 non-empty if any event is pending. Returns false when none is.
    fn refill(&mut self) -> bool {
        if !self.current.is_empty() {
            return true;
        }
        let Some(b) = self.buckets.iter().position(|v| !v.is_empty()) else {
            return false;
        };
        let mut moving = std::mem::take(&mut self.buckets[b]);
        self.last = moving.iter().map(|e| e.time).min().unwrap_or(self.last);
        for e in moving.drain(..) {
            self.place(e);
        }
        // Give the emptied vector back, keeping its capacity for the next fill.
        self.buckets[b] = moving;
        true
    }

    /// Removes and returns the earliest live event. O(1) amortised.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            if !self.refill() {
                return None;
            }
            let e = self.current.pop_front()?;
            self.len -= 1;
            if !self.cancelled.is_empty() && self.cancelled.remove(&e.seq) {
                continue;
            }
            self.popped = e.time;
            return Some((SimTime::from_nanos(e.time), e.payload));
        }
    }

    /// The time of the earliest live event, discarding cancelled ones on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        loop {
            if !self.refill() {
                return None;
            }
            let seq = self.current.front()?.seq;
            if !self.cancelled.is_empty() && self.cancelled.remove(&seq) {
                self.current.pop_front();
                self.len -= 1;
                continue;
            }
            return Some(SimTime::from_nanos(self.last));
        }
    }

    /// Pops the event [`EventQueue::peek_time`] just reported, skipping the checks `pop`
    /// repeats. Falls back to `pop` when called without a peek.
    pub fn pop_peeked(&mut self) -> Option<(SimTime, E)> {
        match self.current.pop_front() {
            Some(e) => {
                self.len -= 1;
                self.popped = e.time;
                Some((SimTime::from_nanos(e.time), e.payload))
            }
            None => self.pop(),
        }
    }

    /// Cancels a pending event. Returns false if `id` was never issued by this queue.
    /// Cancelling an event that already popped leaves a tombstone that is never matched;
    /// callers cancel only events they know are pending (timers they own).
    pub fn cancel(&mut self, id: EventId) -> bool {
        if id.0 >= self.next_seq {
            return false;
        }
        self.cancelled.insert(id.0)
    }

    /// Live pending events.
    pub fn len(&self) -> usize {
        self.len.saturating_sub(self.cancelled.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        let t = SimTime::from_nanos(5);
        for i in 0..10 {
            q.push(t, i);
        }
        let order: Vec<i32> = std::iter::from_fn(|| q.pop().map(|(_, p)| p)).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn cancelled_events_never_pop() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime::from_nanos(1), "a");
        q.push(SimTime::from_nanos(2), "b");
        assert!(q.cancel(a));
        assert_eq!(q.len(), 1);
        assert_eq!(q.peek_time(), Some(SimTime::from_nanos(2)));
        assert_eq!(q.pop(), Some((SimTime::from_nanos(2), "b")));
        assert_eq!(q.pop(), None);
        assert!(!q.cancel(EventId(99)));
    }

    #[test]
    fn a_push_earlier_than_a_peeked_event_still_pops_first() {
        // Regression (proptest seed 328089ac…): a peek or a cancelled front entry moved the
        // reference point ahead, and later pushes were clamped to it.
        let mut q = EventQueue::new();
        q.push(SimTime::from_nanos(100), "late");
        assert_eq!(q.peek_time(), Some(SimTime::from_nanos(100)));
        q.push(SimTime::from_nanos(50), "early");
        let c = q.push(SimTime::from_nanos(200), "cancelled");
        q.push(SimTime::from_nanos(50), "early-2");
        assert_eq!(q.pop(), Some((SimTime::from_nanos(50), "early")));
        assert_eq!(q.pop(), Some((SimTime::from_nanos(50), "early-2")));
        q.cancel(c);
        assert_eq!(q.pop(), Some((SimTime::from_nanos(100), "late")));
        assert_eq!(q.pop(), None);
        q.push(SimTime::from_nanos(120), "after");
        assert_eq!(q.pop(), Some((SimTime::from_nanos(120), "after")));
    }

    #[test]
    fn pushes_before_the_last_pop_are_clamped_to_it() {
        let mut q = EventQueue::new();
        q.push(SimTime::from_nanos(10), 1);
        q.pop();
        q.push(SimTime::from_nanos(3), 2);
        assert_eq!(q.pop(), Some((SimTime::from_nanos(10), 2)));
    }

    /// A reference model: sort by (time, seq), with times clamped like the queue clamps them.
    #[derive(Debug, Clone)]
    enum Op {
        Push(u64),
        Pop,
        Peek,
        Cancel(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..1 << 20).prop_map(Op::Push),
            1 => (0u64..4).prop_map(|t| Op::Push(t * (1 << 40))),
            3 => Just(Op::Pop),
            1 => Just(Op::Peek),
            1 => (0usize..500).prop_map(Op::Cancel),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_sorted_reference_model(ops in prop::collection::vec(op(), 0..500)) {
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, u64)> = Vec::new(); // (time, seq) pending
            let mut ids = Vec::new();
            let mut last = 0u64;
            for op in ops {
                match op {
                    Op::Push(t) => {
                        let id = q.push(SimTime::from_nanos(t), ids.len() as u64);
                        model.push((t.max(last), ids.len() as u64));
                        ids.push(id);
                    }
                    Op::Pop => {
                        model.sort();
                        let expected = if model.is_empty() { None } else { Some(model.remove(0)) };
                        let got = q.pop().map(|(t, p)| (t.as_nanos(), p));
                        prop_assert_eq!(got, expected);
                        if let Some((t, _)) = got { last = t; }
                    }
                    Op::Peek => {
                        let expected = model.iter().min().map(|&(t, _)| t);
                        prop_assert_eq!(q.peek_time().map(|t| t.as_nanos()), expected);
                    }
                    Op::Cancel(i) => {
                        if let Some(id) = ids.get(i) {
                            let seq = i as u64;
                            if let Some(pos) = model.iter().position(|&(_, s)| s == seq) {
                                model.remove(pos);
                                prop_assert!(q.cancel(*id));
                            }
                        }
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
        }
    }
}
