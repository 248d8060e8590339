//! A controller's work queue, after client-go's `workqueue` (`util/workqueue`): keys are
//! deduplicated while waiting, can be added after a delay, and rate-limited adds come back
//! after upstream `DefaultControllerRateLimiter`'s delay: the larger of a per-key
//! exponential back-off (5 ms doubling to 1000 s, reset by `forget`) and an overall token
//! bucket (10 per second, burst 100) shared by every key of the queue
//! (`util/workqueue/default_rate_limiters.go`). The bucket is what keeps a controller that
//! requeues a key on every successful sync (the Deployment controller's
//! `requeueStuckDeployment`) at 10 syncs per second instead of 200.
//!
//! The queue lives inside a component and drives itself with that component's timers:
//! [`WorkQueue::add`] arms one zero-delay timer, and the component passes every timer token
//! to [`WorkQueue::on_timer`], which returns the keys to sync now (or `None` for tokens it
//! does not own). Tokens at or above [`TOKEN_BASE`] belong to the queue; a component's own
//! timers use smaller tokens.
//!
//! Simplification: a sync takes no simulated time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::runtime::Context;
use crate::sim::{SimDuration, SimTime};

/// First timer token owned by a [`WorkQueue`].
pub const TOKEN_BASE: u64 = 1 << 48;
/// Upstream `ItemExponentialFailureRateLimiter(5ms, 1000s)`.
pub const RETRY_BASE: SimDuration = SimDuration::from_millis(5);
pub const RETRY_MAX: SimDuration = SimDuration::from_secs(1000);
/// The most distinct keys waiting; further keys are dropped (a later watch event for them
/// enqueues them again).
pub const MAX_QUEUE: usize = 1_000_000;

const TOKEN_WORK: u64 = TOKEN_BASE;

/// Upstream's `BucketRateLimiter{rate.NewLimiter(10, 100)}`: one token per 100 ms, at most
/// 100 saved. Kept as integer nanoseconds of credit (a token is [`BUCKET_INTERVAL`] of it),
/// so the delays are exact and deterministic.
pub const BUCKET_INTERVAL: SimDuration = SimDuration::from_millis(100);
pub const BUCKET_BURST: u64 = 100;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Credit in nanoseconds (negative: tokens already promised to waiting adds).
    credit: i128,
    last: SimTime,
}

impl Bucket {
    fn full() -> Bucket {
        Bucket {
            credit: i128::from(BUCKET_INTERVAL.as_nanos()) * i128::from(BUCKET_BURST),
            last: SimTime::ZERO,
        }
    }

    /// `Limiter.Reserve().Delay()`: takes a token, returns how long until it is there.
    fn reserve(&mut self, now: SimTime) -> SimDuration {
        let cap = i128::from(BUCKET_INTERVAL.as_nanos()) * i128::from(BUCKET_BURST);
        let elapsed = i128::from(now.saturating_since(self.last).as_nanos());
        self.credit = (self.credit + elapsed).min(cap);
        self.last = self.last.max(now);
        self.credit -= i128::from(BUCKET_INTERVAL.as_nanos());
        if self.credit >= 0 {
            SimDuration::ZERO
        } else {
            SimDuration::from_nanos(u64::try_from(-self.credit).unwrap_or(u64::MAX))
        }
    }
}

/// The queue. `K` is the key type (usually an `ObjectKey`).
pub struct WorkQueue<K> {
    queue: VecDeque<K>,
    queued: BTreeSet<K>,
    work_pending: bool,
    /// Delayed adds by timer token, and the due time per key (one pending delay per key:
    /// the earliest wins).
    delayed: BTreeMap<u64, K>,
    due: BTreeMap<K, (SimTime, u64)>,
    next_token: u64,
    failures: BTreeMap<K, u32>,
    /// Per-key retry back-off: base and cap (default [`RETRY_BASE`], [`RETRY_MAX`]).
    retry: (SimDuration, SimDuration),
    /// The overall bucket (`None` for a per-item limiter alone, as the Job controller's).
    bucket: Option<Bucket>,
}

impl<K> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            queue: VecDeque::new(),
            queued: BTreeSet::new(),
            work_pending: false,
            delayed: BTreeMap::new(),
            due: BTreeMap::new(),
            next_token: TOKEN_WORK,
            failures: BTreeMap::new(),
            retry: (RETRY_BASE, RETRY_MAX),
            bucket: Some(Bucket::full()),
        }
    }
}

impl<K: Ord + Clone> WorkQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue whose rate-limited keys come back after `base · 2^failures`, capped at
    /// `max`, with no overall bucket (upstream `NewItemExponentialFailureRateLimiter` alone,
    /// e.g. the Job controller's `DefaultJobApiBackOff` 1 s and `MaxJobApiBackOff` 1 min).
    pub fn with_retry(base: SimDuration, max: SimDuration) -> Self {
        WorkQueue {
            retry: (base, max),
            bucket: None,
            ..Self::default()
        }
    }

    /// Queues `key` now (no-op if it is already waiting).
    pub fn add(&mut self, key: K, ctx: &mut Context<'_>) {
        if self.queued.len() >= MAX_QUEUE || !self.queued.insert(key.clone()) {
            return;
        }
        self.queue.push_back(key);
        if !self.work_pending {
            self.work_pending = true;
            ctx.set_timer(SimDuration::ZERO, TOKEN_WORK);
        }
    }

    /// Queues `key` after `delay`, unless it is already due sooner.
    pub fn add_after(&mut self, key: K, delay: SimDuration, ctx: &mut Context<'_>) {
        if delay.is_zero() {
            return self.add(key, ctx);
        }
        let at = ctx.now().saturating_add(delay);
        if let Some((due, token)) = self.due.get(&key) {
            if *due <= at {
                return;
            }
            self.delayed.remove(token);
        }
        if self.due.len() >= MAX_QUEUE {
            return;
        }
        self.next_token += 1;
        let token = self.next_token;
        self.delayed.insert(token, key.clone());
        self.due.insert(key, (at, token));
        ctx.set_timer(delay, token);
    }

    /// Queues `key` again after its back-off (5 ms, 10 ms, … up to 1000 s) or the overall
    /// bucket's delay, whichever is longer, counting one more failure (upstream
    /// `AddRateLimited` with `MaxOfRateLimiter`).
    pub fn add_rate_limited(&mut self, key: K, ctx: &mut Context<'_>) {
        let n = self.failures.entry(key.clone()).or_insert(0);
        let mut delay = backoff_with(*n, self.retry.0, self.retry.1);
        *n = n.saturating_add(1);
        if let Some(b) = &mut self.bucket {
            delay = delay.max(b.reserve(ctx.now()));
        }
        self.add_after(key, delay, ctx);
    }

    /// Forgets `key`'s failures (upstream `Forget`, after a successful sync).
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// How many times `key` failed since its last [`WorkQueue::forget`].
    pub fn failures(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// Handles a timer: `Some(keys)` to sync now when `token` is the queue's work timer,
    /// `Some(empty)` for its delay timers (the key is queued for the next work timer), and
    /// `None` when the token is not the queue's.
    pub fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) -> Option<Vec<K>> {
        if token < TOKEN_BASE {
            return None;
        }
        if token == TOKEN_WORK {
            self.work_pending = false;
            // What is queued now; keys queued while syncing wait for the next work timer.
            let keys: Vec<K> = self.queue.drain(..).collect();
            for k in &keys {
                self.queued.remove(k);
            }
            return Some(keys);
        }
        if let Some(key) = self.delayed.remove(&token) {
            self.due.remove(&key);
            self.add(key, ctx);
        }
        Some(Vec::new())
    }
}

/// Upstream `ItemExponentialFailureRateLimiter.When`: `base · 2^failures`, capped.
pub fn backoff(failures: u32) -> SimDuration {
    backoff_with(failures, RETRY_BASE, RETRY_MAX)
}

/// `base · 2^failures`, capped at `max`.
pub fn backoff_with(failures: u32, base: SimDuration, max: SimDuration) -> SimDuration {
    let nanos = base
        .as_nanos()
        .saturating_mul(1u64.checked_shl(failures.min(63)).unwrap_or(u64::MAX));
    SimDuration::from_nanos(nanos.min(max.as_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_of_100_then_one_per_100ms() {
        let mut b = Bucket::full();
        let t0 = SimTime::from_nanos(5_000_000_000);
        for _ in 0..100 {
            assert_eq!(b.reserve(t0), SimDuration::ZERO);
        }
        assert_eq!(b.reserve(t0), SimDuration::from_millis(100));
        assert_eq!(b.reserve(t0), SimDuration::from_millis(200));
        // 1 s later ten tokens came back, two of them already promised.
        assert_eq!(
            b.reserve(SimTime::from_nanos(6_000_000_000)),
            SimDuration::ZERO
        );
        // Refill stops at the burst.
        let mut b = Bucket::full();
        b.reserve(t0);
        assert_eq!(b.reserve(SimTime::from_nanos(u64::MAX)), SimDuration::ZERO);
        assert!(b.credit <= i128::from(BUCKET_INTERVAL.as_nanos()) * 100);
    }

    #[test]
    fn backoff_doubles_from_5ms_to_1000s() {
        assert_eq!(backoff(0), SimDuration::from_millis(5));
        assert_eq!(backoff(1), SimDuration::from_millis(10));
        assert_eq!(backoff(10), SimDuration::from_millis(5120));
        assert_eq!(backoff(30), RETRY_MAX);
        assert_eq!(backoff(u32::MAX), RETRY_MAX);
    }
}
