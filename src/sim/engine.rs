//! The engine: a clock plus an event queue, stepped one event at a time, under limits.
//!
//! - The clock only moves forward, to the time of the event being handled.
//! - An event scheduled in the past is clamped to `now` (it runs next, after events already
//!   queued for `now`).
//! - Every run is bounded by [`Limits`]; hitting one returns a [`SimError`] and leaves the
//!   engine in a well-defined state (the offending event is not consumed), so a caller may
//!   inspect it, write partial outputs, or raise the limit and resume.

use super::{EventId, EventQueue, SimDuration, SimTime};

/// Bounds on a run. Defaults: 100 million events, no time bound, 10 million pending events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most events one engine handles over its life.
    pub max_events: u64,
    /// The engine refuses to handle an event later than this.
    pub max_time: SimTime,
    /// Most events pending at once.
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 100_000_000,
            max_time: SimTime::MAX,
            max_pending: 10_000_000,
        }
    }
}

/// Why a run stopped early. In each case the simulation is intact and may be resumed after the
/// limit is raised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// `max_events` events were handled; the next one was not.
    #[error("event limit reached: {limit} events handled by t={at}")]
    EventLimit { limit: u64, at: SimTime },
    /// The next event lies beyond `max_time`.
    #[error("time limit reached: the next event at t={next} is beyond the limit t={limit}")]
    TimeLimit { limit: SimTime, next: SimTime },
    /// More than `max_pending` events were waiting.
    #[error("event queue limit reached: {pending} events pending at t={at} (limit {limit})")]
    QueueLimit {
        limit: usize,
        pending: usize,
        at: SimTime,
    },
}

/// A discrete-event engine over payloads of type `E`.
pub struct Engine<E> {
    now: SimTime,
    queue: EventQueue<E>,
    limits: Limits,
    handled: u64,
}

impl<E> Engine<E> {
    pub fn new(limits: Limits) -> Self {
        Engine {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            limits,
            handled: 0,
        }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Events handled so far.
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// Live pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Schedules `event` at `time` (clamped to now). O(log n).
    pub fn schedule_at(&mut self, time: SimTime, event: E) -> EventId {
        self.queue.push(time.max(self.now), event)
    }

    /// Schedules `event` after `delay`. O(log n).
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventId {
        self.queue.push(self.now.saturating_add(delay), event)
    }

    /// Cancels a pending event (see [`EventQueue::cancel`]).
    pub fn cancel(&mut self, id: EventId) -> bool {
        self.queue.cancel(id)
    }

    /// Pops the next event if it is due at or before `until`, advancing the clock to it.
    /// Returns `Ok(None)` when no event is due by `until`.
    pub fn step_until(&mut self, until: SimTime) -> Result<Option<E>, SimError> {
        let Some(next) = self.queue.peek_time() else {
            return Ok(None);
        };
        if next > until {
            return Ok(None);
        }
        if next > self.limits.max_time {
            return Err(SimError::TimeLimit {
                limit: self.limits.max_time,
                next,
            });
        }
        if self.handled >= self.limits.max_events {
            return Err(SimError::EventLimit {
                limit: self.limits.max_events,
                at: self.now,
            });
        }
        let pending = self.queue.len();
        if pending > self.limits.max_pending {
            return Err(SimError::QueueLimit {
                limit: self.limits.max_pending,
                pending,
                at: self.now,
            });
        }
        let Some((time, event)) = self.queue.pop_peeked() else {
            return Ok(None);
        };
        self.now = time;
        self.handled += 1;
        Ok(Some(event))
    }

    /// Pops the next event, whenever it is.
    pub fn step(&mut self) -> Result<Option<E>, SimError> {
        self.step_until(SimTime::MAX)
    }

    /// Handles every event due at or before `until`, in order, then sets the clock to `until`.
    /// `handle` may schedule further events; those due by `until` run in this call too.
    pub fn run_until(
        &mut self,
        until: SimTime,
        mut handle: impl FnMut(&mut Self, E),
    ) -> Result<(), SimError> {
        while let Some(event) = self.step_until(until)? {
            handle(self, event);
        }
        if until > self.limits.max_time && until != SimTime::MAX {
            return Err(SimError::TimeLimit {
                limit: self.limits.max_time,
                next: until,
            });
        }
        self.now = self.now.max(until.min(self.limits.max_time));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_until_handles_due_events_and_advances_clock() {
        let mut e = Engine::new(Limits::default());
        e.schedule_at(SimTime::from_nanos(10), 1u32);
        e.schedule_at(SimTime::from_nanos(30), 3);
        let mut seen = Vec::new();
        e.run_until(SimTime::from_nanos(20), |eng, ev| {
            seen.push((eng.now().as_nanos(), ev));
            if ev == 1 {
                eng.schedule_in(SimDuration::from_nanos(5), 2);
            }
        })
        .unwrap();
        assert_eq!(seen, vec![(10, 1), (15, 2)]);
        assert_eq!(e.now(), SimTime::from_nanos(20));
        assert_eq!(e.pending(), 1);
    }

    #[test]
    fn event_limit_stops_with_typed_error_and_keeps_the_event() {
        let mut e = Engine::new(Limits {
            max_events: 2,
            ..Limits::default()
        });
        for i in 0..3u64 {
            e.schedule_at(SimTime::from_nanos(i), i);
        }
        let err = e.run_until(SimTime::MAX, |_, _| {}).unwrap_err();
        assert!(matches!(err, SimError::EventLimit { limit: 2, .. }));
        assert_eq!(e.pending(), 1);
    }

    #[test]
    fn time_limit_stops_before_late_events() {
        let mut e = Engine::new(Limits {
            max_time: SimTime::from_nanos(100),
            ..Limits::default()
        });
        e.schedule_at(SimTime::from_nanos(50), ());
        e.schedule_at(SimTime::from_nanos(150), ());
        let err = e
            .run_until(SimTime::from_nanos(200), |_, _| {})
            .unwrap_err();
        assert!(matches!(err, SimError::TimeLimit { .. }));
        assert_eq!(e.handled(), 1);
    }

    #[test]
    fn queue_limit_stops_a_runaway_producer() {
        let mut e = Engine::new(Limits {
            max_pending: 10,
            ..Limits::default()
        });
        e.schedule_at(SimTime::ZERO, ());
        let err = e
            .run_until(SimTime::MAX, |eng, ()| {
                eng.schedule_in(SimDuration::from_nanos(1), ());
                eng.schedule_in(SimDuration::from_nanos(1), ());
            })
            .unwrap_err();
        assert!(matches!(err, SimError::QueueLimit { limit: 10, .. }));
    }
}
