//! Event-queue throughput: push + pop with 100,000 events pending (the Foundation target is
//! at least 10 million events per second on one core).
//!
//! `event_queue/push_pop_100k_pending`: each iteration pops the earliest event and pushes a new one a pseudo-random distance
//! ahead, so the queue stays at 100,000 pending: the steady state of a large simulation.
//! `engine/run_until_100k_pending`: the same through `Engine::run_until` (limits checked on
//! every event), then draining the 100,000 still pending; throughput counts handled events.

/// The allocator the `kubesim` binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kubesim::sim::{Engine, EventQueue, Limits, SimDuration, SimTime};
use std::hint::black_box;

const PENDING: usize = 100_000;
const OPS: u64 = 100_000;

/// A fixed xorshift sequence: deterministic and cheap, so the benchmark measures the queue.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn filled_queue() -> EventQueue<u64> {
    let mut q = EventQueue::new();
    let mut x = 0x9E37_79B9_7F4A_7C15;
    for i in 0..PENDING as u64 {
        q.push(SimTime::from_nanos(next(&mut x) % 1_000_000_000), i);
    }
    q
}

fn queue_push_pop(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue");
    g.throughput(Throughput::Elements(OPS));
    g.bench_function("push_pop_100k_pending", |b| {
        b.iter_batched(
            filled_queue,
            |mut q| {
                let mut x = 0x2545_F491_4F6C_DD1D;
                for i in 0..OPS {
                    let (t, p) = q.pop().expect("queue stays full");
                    black_box(p);
                    q.push(
                        SimTime::from_nanos(t.as_nanos() + next(&mut x) % 1_000_000),
                        i,
                    );
                }
                q
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn engine_run(c: &mut Criterion) {
    // Handles OPS events that each schedule a successor, then drains the PENDING left.
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(OPS + PENDING as u64));
    g.bench_function("run_until_100k_pending", |b| {
        b.iter_batched(
            || {
                let mut e = Engine::new(Limits::default());
                let mut x = 0x9E37_79B9_7F4A_7C15u64;
                for i in 0..PENDING as u64 {
                    e.schedule_at(SimTime::from_nanos(next(&mut x) % 1_000_000_000), i);
                }
                e
            },
            |mut e| {
                let mut x = 0x2545_F491_4F6C_DD1Du64;
                let mut handled = 0u64;
                e.run_until(SimTime::MAX, |eng, p| {
                    handled += 1;
                    if handled < OPS {
                        eng.schedule_in(SimDuration::from_nanos(next(&mut x) % 1_000_000), p);
                    }
                })
                .expect("within limits");
                e
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, queue_push_pop, engine_run);
criterion_main!(benches);
