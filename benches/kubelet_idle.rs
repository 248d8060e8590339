//! An idle cluster: 5,000 nodes (4 CPU / 32 GiB / 110 pods, as the kube-scheduler's own
//! benchmark) with the kubelet fleet, no pods, run for 24 simulated hours with a metrics
//! row every 10 s. Issue 4's target: under 1 s of wall time.
//!
//! `kubelet_idle/5000_nodes_24h` measures everything after the Node objects are built:
//! cluster creation, applying the nodes, registering the kubelet (one Lease per node) and
//! the 24 h run.

/// The allocator the `kubesim` binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kubesim::api::Quantity;
use kubesim::api::meta::{Condition, ConditionStatus};
use kubesim::api::objects::{Node, Object};

use kubesim::runtime::{Cluster, RunConfig};
use kubesim::sim::SimDuration;

const NODES: usize = 5_000;

fn nodes() -> Vec<Object> {
    (0..NODES)
        .map(|i| {
            let mut n = Node::default();
            n.metadata.name = format!("node-{i}");
            n.metadata
                .labels
                .insert("kubernetes.io/hostname".into(), n.metadata.name.clone());
            for (r, q) in [("cpu", "4"), ("memory", "32Gi"), ("pods", "110")] {
                n.status
                    .capacity
                    .insert(r.into(), Quantity::parse(q).unwrap());
            }
            n.status.conditions.push(Condition {
                type_: "Ready".into(),
                status: ConditionStatus::True,
                reason: "KubeletReady".into(),
                ..Condition::default()
            });
            Object::Node(n)
        })
        .collect()
}

/// Runs the idle day; returns the number of engine events handled.
pub fn idle_day(nodes: Vec<Object>) -> u64 {
    let config = RunConfig {
        duration: SimDuration::from_secs(24 * 3600),
        ..RunConfig::default()
    };
    let mut cluster = Cluster::new(config, Box::new(std::io::sink()), Box::new(std::io::sink()));
    for n in nodes {
        cluster.apply(n).unwrap();
    }
    kubesim::kubelet::register(&mut cluster, Vec::new()).unwrap();
    cluster.run().unwrap();
    cluster.engine().handled()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("kubelet_idle");
    g.sample_size(10);
    g.bench_function("5000_nodes_24h", |b| {
        b.iter_batched(nodes, |n| black_box(idle_day(n)), BatchSize::PerIteration)
    });
    g.finish();
    println!(
        "engine events handled in one idle day: {}",
        idle_day(nodes())
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
