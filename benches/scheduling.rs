//! The kube-scheduler's own benchmark shapes (`test/integration/scheduler_perf`), read from
//! `../shared/realdata/k8s-scheduler-perf/` (or `$KUBESIM_REALDATA/k8s-scheduler-perf/`):
//! nodes from `templates/node-default.yaml`, pods from the workload's templates.
//!
//! Each sample builds the cluster (nodes, then the initial pods, scheduled) untimed, then
//! times creating and scheduling the measured pods. Throughput = measured pods per wall
//! second (scheduling decisions per second).

/// The allocator the `kubesim` binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubesim::api::objects::{Kind, Object};
use kubesim::runtime::{Cluster, RunConfig};
use kubesim::sim::{SimDuration, SimTime};

struct Workload {
    name: &'static str,
    nodes: usize,
    /// Zone label values spread round-robin over nodes (labelNodePrepareStrategy).
    zones: &'static [&'static str],
    init_pods: usize,
    init_template: &'static str,
    measure_pods: usize,
    measure_template: &'static str,
    /// Namespaces of the initial and measured pods (created first when not `default`).
    init_namespace: &'static str,
    measure_namespace: &'static str,
}

/// Parameters from `misc/`, `topology_spreading/` and `affinity/performance-config.yaml`.
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "SchedulingBasic/5000Nodes_10000Pods",
        nodes: 5000,
        zones: &[],
        init_pods: 1000,
        init_template: "pod-default.yaml",
        measure_pods: 10000,
        measure_template: "pod-default.yaml",
        init_namespace: "default",
        measure_namespace: "default",
    },
    Workload {
        name: "TopologySpreading/5000Nodes_5000Pods",
        nodes: 5000,
        zones: &["moon-1", "moon-2", "moon-3"],
        init_pods: 5000,
        init_template: "pod-default.yaml",
        measure_pods: 5000,
        measure_template: "pod-with-topology-spreading.yaml",
        init_namespace: "default",
        measure_namespace: "default",
    },
    Workload {
        name: "SchedulingPodAntiAffinity/5000Nodes_2000Pods",
        nodes: 5000,
        zones: &[],
        init_pods: 1000,
        init_template: "pod-with-pod-anti-affinity.yaml",
        measure_pods: 2000,
        measure_template: "pod-with-pod-anti-affinity.yaml",
        init_namespace: "sched-0",
        measure_namespace: "sched-1",
    },
];

fn templates() -> Option<PathBuf> {
    let dir = std::env::var_os("KUBESIM_REALDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"))
        .join("k8s-scheduler-perf/templates");
    dir.is_dir().then_some(dir)
}

fn template(dir: &std::path::Path, file: &str, kind: Kind) -> Object {
    let text = std::fs::read_to_string(dir.join(file)).expect("template readable");
    let doc = kubesim::scenario::yaml::parse_documents(&text)
        .expect("template parses")
        .remove(0);
    Object::from_json(kind, doc.value).expect("template decodes")
}

/// Builds the cluster with nodes and initial pods scheduled; returns it and the measured pod
/// template.
#[inline(never)] // A separate frame in profiles (callgrind: `measure` minus `prepare`).
fn prepare(w: &Workload, dir: &std::path::Path) -> (Cluster, Object) {
    let config = RunConfig {
        duration: SimDuration::from_secs(7200),
        sample_interval: SimDuration::from_secs(3600),
        ..RunConfig::default()
    };
    // Scheduler only, as upstream's scheduler_perf (no kubelets run the bound pods).
    let mut cluster = kubesim::setup::build_with(
        &kubesim::scenario::Scenario {
            name: w.name.into(),
            description: String::new(),
            config,
            objects: Vec::new(),
            warnings: Vec::new(),
            scheduler: Default::default(),
            behaviors: Vec::new(),
            controllers: Default::default(),
            timeline: Vec::new(),
            pools: Vec::new(),
            expectations: Vec::new(),
            events_source: Vec::new(),
            chaos: None,
            traffic: None,
            network: Default::default(),
        },
        Box::new(std::io::sink()),
        Box::new(std::io::sink()),
        kubesim::setup::Components {
            kubelet: false,
            controllers: false,
            ..Default::default()
        },
    )
    .expect("empty scenario builds");
    for ns in [w.init_namespace, w.measure_namespace] {
        if ns != "default"
            && cluster
                .store()
                .get(&kubesim::api::ObjectKey::new(Kind::Namespace, "", ns))
                .is_none()
        {
            let mut obj = Object::Namespace(Default::default());
            obj.meta_mut().name = ns.into();
            cluster.apply(obj).expect("namespace created");
        }
    }
    let node = template(dir, "node-default.yaml", Kind::Node);
    for i in 0..w.nodes {
        let mut n = node.clone();
        // Named nodes with the hostname label a kubelet sets (the template uses
        // generateName and no labels; anti-affinity by hostname needs the label).
        let name = format!("scheduler-perf-{i}");
        n.meta_mut().generate_name.clear();
        n.meta_mut()
            .labels
            .insert("kubernetes.io/hostname".into(), name.clone());
        n.meta_mut().name = name;
        if !w.zones.is_empty() {
            n.meta_mut().labels.insert(
                "topology.kubernetes.io/zone".into(),
                w.zones[i % w.zones.len()].into(),
            );
        }
        cluster.apply(n).expect("node created");
    }
    let mut init = template(dir, w.init_template, Kind::Pod);
    init.meta_mut().namespace = w.init_namespace.into();
    for _ in 0..w.init_pods {
        cluster.apply(init.clone()).expect("pod created");
    }
    cluster
        .run_until(SimTime::from_nanos(3_600_000_000_000))
        .expect("within limits");
    let mut measured = template(dir, w.measure_template, Kind::Pod);
    measured.meta_mut().namespace = w.measure_namespace.into();
    (cluster, measured)
}

#[inline(never)]
fn measure(w: &Workload, dir: &std::path::Path) -> Duration {
    let (mut cluster, pod) = prepare(w, dir);
    let before = cluster
        .recorder()
        .by_reason()
        .get("Scheduled")
        .copied()
        .unwrap_or(0);
    #[allow(clippy::disallowed_methods)] // Benchmarks measure wall time.
    let start = Instant::now();
    for _ in 0..w.measure_pods {
        cluster.apply(pod.clone()).expect("pod created");
    }
    cluster.run().expect("within limits");
    let elapsed = start.elapsed();
    let scheduled = cluster
        .recorder()
        .by_reason()
        .get("Scheduled")
        .copied()
        .unwrap_or(0)
        - before;
    assert_eq!(
        scheduled as usize, w.measure_pods,
        "{}: every measured pod is scheduled",
        w.name
    );
    elapsed
}

fn scheduling(c: &mut Criterion) {
    let Some(dir) = templates() else {
        eprintln!(
            "skipping scheduling benchmarks: k8s-scheduler-perf templates not found (set KUBESIM_REALDATA)"
        );
        return;
    };
    // `KUBESIM_BENCH_ONCE=<substring>`: run the matching workloads once each, no criterion
    // (a repeatable driver for `valgrind --tool=callgrind`, whose instruction counts do not
    // depend on the machine's load).
    if let Some(filter) = std::env::var_os("KUBESIM_BENCH_ONCE") {
        let filter = filter.to_string_lossy().into_owned();
        for w in WORKLOADS
            .iter()
            .filter(|w| w.name.contains(filter.as_str()))
        {
            let t = measure(w, &dir);
            eprintln!(
                "{}: {:.0} pods/s",
                w.name,
                w.measure_pods as f64 / t.as_secs_f64()
            );
        }
        return;
    }
    let mut g = c.benchmark_group("scheduler_perf");
    g.sample_size(10);
    for w in WORKLOADS {
        g.throughput(Throughput::Elements(w.measure_pods as u64));
        g.bench_function(w.name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| measure(w, &dir)).sum())
        });
    }
    g.finish();
}

criterion_group!(benches, scheduling);
criterion_main!(benches);
