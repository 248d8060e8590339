//! Request traffic through kube-proxy's rules (issue 7).
//!
//! - `traffic/batch_1000rps_50_endpoints_1h`: `benches/traffic-24h.yaml` (1,000 req/s, a
//!   Service with 50 endpoints, batch method) for one simulated hour; the 24 h run itself
//!   is measured with `kubesim run` (BENCHMARKS.md).
//! - `traffic/exact_100rps_3_endpoints_4m`: `scenarios/node-crash-under-traffic.yaml`
//!   (one engine event per request, a node crash in the middle) for its 4 minutes.

/// The allocator the `kubesim` binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use kubesim::sim::SimDuration;

fn load(rel: &str) -> kubesim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let read = |p: &Path| std::fs::read_to_string(p);
    kubesim::scenario::load(&path, &read).expect("the bench scenario loads")
}

fn run(s: &kubesim::scenario::Scenario) -> u64 {
    let mut c = kubesim::setup::build(s, Box::new(std::io::sink()), Box::new(std::io::sink()))
        .expect("builds");
    c.run().expect("runs");
    c.traffic().summary().values().map(|s| s.requests).sum()
}

fn bench(c: &mut Criterion) {
    let mut batch = load("benches/traffic-24h.yaml");
    batch.config.duration = SimDuration::from_secs(3600);
    let exact = load("scenarios/node-crash-under-traffic.yaml");
    let mut g = c.benchmark_group("traffic");
    g.sample_size(10);
    g.bench_function("batch_1000rps_50_endpoints_1h", |b| b.iter(|| run(&batch)));
    g.bench_function("exact_100rps_3_endpoints_4m", |b| b.iter(|| run(&exact)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
