//! The pending-event queue: a binary min-heap ordered by `(time, insertion sequence)`.
//!
//! - Events with equal time pop in the order they were pushed (FIFO), so ordering never
//!   depends on payloads or on hash-map iteration.
//! - Cancellation is lazy: a cancelled event's id goes into a tombstone set and the event is
//!   dropped when it reaches the top. When nothing is cancelled, `pop` pays one `is_empty` check.
//! - `push` and `pop` are O(log n); `cancel` is O(1) expected.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use super::SimTime;

/// Identifies a pushed event, for [`EventQueue::cancel`]. Ids are the insertion sequence
/// numbers: unique for the life of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(u64);

struct Entry<E> {
    time: SimTime,
    seq: u64,
    payload: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) yields the earliest `(time, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A queue of future events ordered by `(time, insertion sequence)`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    cancelled: HashSet<u64>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            cancelled: HashSet::new(),
        }
    }

    /// Schedules `payload` at `time`. O(log n).
    pub fn push(&mut self, time: SimTime, payload: E) -> EventId {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, payload });
        EventId(seq)
    }

    /// Removes and returns the earliest live event. O(log n) amortised.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            let entry = self.heap.pop()?;
            if !self.cancelled.is_empty() && self.cancelled.remove(&entry.seq) {
                continue;
            }
            return Some((entry.time, entry.payload));
        }
    }

    /// The time of the earliest live event, discarding cancelled ones on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        loop {
            let top = self.heap.peek()?;
            if !self.cancelled.is_empty() && self.cancelled.contains(&top.seq) {
                let seq = top.seq;
                self.heap.pop();
                self.cancelled.remove(&seq);
                continue;
            }
            return Some(top.time);
        }
    }

    /// Cancels a pending event. Returns false if `id` was never issued by this queue.
    /// Cancelling an event that already popped is a no-op that leaves a tombstone; callers
    /// cancel only events they know are pending (timers they own).
    pub fn cancel(&mut self, id: EventId) -> bool {
        if id.0 >= self.next_seq {
            return false;
        }
        self.cancelled.insert(id.0)
    }

    /// Pending events, including cancelled ones not yet discarded.
    pub fn len_including_cancelled(&self) -> usize {
        self.heap.len()
    }

    /// Live pending events.
    pub fn len(&self) -> usize {
        self.heap.len().saturating_sub(self.cancelled.len())
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

    proptest! {
        #[test]
        fn pops_in_time_then_sequence_order(times in prop::collection::vec(0u64..50, 0..200), cancel_mask in prop::collection::vec(any::<bool>(), 200)) {
            let mut q = EventQueue::new();
            let mut expected = Vec::new();
            for (i, &t) in times.iter().enumerate() {
                let id = q.push(SimTime::from_nanos(t), i);
                if cancel_mask[i] {
                    q.cancel(id);
                } else {
                    expected.push((t, i));
                }
            }
            expected.sort();
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop().map(|(t, i)| (t.as_nanos(), i))).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
