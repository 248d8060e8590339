//! The FGD paper's experiment on the Alibaba GPU trace (`../shared/realdata`, see
//! docs/fgd.md). Tests skip with a message when the trace is absent.
//!
//! Debug builds replay a sixth of the trace (every 6th node and pod); release builds
//! (`cargo test --release --test fgd_replay`) replay all of it, as the paper does.

mod common;

use std::path::{Path, PathBuf};

use common::{kubesim, realdata, stderr, stdout};
use kubesim::scheduler::gpu::replay::{self, POLICIES, TieBreak, Trace};
use kubesim::scheduler::gpu::trace;

fn trace_dir(test: &str) -> Option<PathBuf> {
    let d = realdata(test)?.join("alibaba-gpu-v2023-openb");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("skipping {test}: {} not found", d.display());
        None
    }
}

fn load(dir: &Path, every: usize) -> Trace {
    let nodes = trace::nodes_from_csv(
        &std::fs::read_to_string(dir.join("csv/openb_node_list_gpu_node.csv")).unwrap(),
    )
    .unwrap();
    let pods = trace::pods_from_csv(
        &std::fs::read_to_string(dir.join("csv/openb_pod_list_default.csv")).unwrap(),
    )
    .unwrap();
    Trace::new(
        nodes.into_iter().step_by(every).collect(),
        pods.into_iter().step_by(every).collect(),
    )
    .unwrap()
}

#[test]
fn the_trace_matches_provenance_totals() {
    let Some(dir) = trace_dir("the_trace_matches_provenance_totals") else {
        return;
    };
    let t = load(&dir, 1);
    assert_eq!(t.nodes.len(), 1213);
    assert_eq!(t.capacity_milli, 6_212_000);
    assert_eq!(t.pods.len(), 8152);
    let gpu: i64 = t.pods.iter().map(|p| p.total_milli()).sum();
    // PROVENANCE.md: the default list asks for 98.0% of the 6,212 GPUs.
    assert_eq!((gpu * 1000 / t.capacity_milli + 5) / 10, 98, "{gpu}");
    // The node YAML holds the same GPUs.
    let yaml = trace::nodes_from_yaml(
        &std::fs::read_to_string(dir.join("node_yaml/openb_node_list_gpu_node.yaml")).unwrap(),
    )
    .unwrap();
    let from_yaml = Trace::new(yaml, t.pods.clone()).unwrap();
    assert_eq!(from_yaml.capacity_milli, t.capacity_milli);
}

#[test]
fn fgd_leaves_the_fewest_gpus_unallocated() {
    let Some(dir) = trace_dir("fgd_leaves_the_fewest_gpus_unallocated") else {
        return;
    };
    let every = if cfg!(debug_assertions) { 6 } else { 1 };
    let t = load(&dir, every);
    let mut un = Vec::new();
    for p in POLICIES {
        let c = replay::replay(&t, p, 42, TieBreak::Name).unwrap();
        assert_eq!(c.samples.len(), 131, "{p}: a sample at each 0..=130%");
        let u = c.unallocated_pct_at(100).unwrap();
        eprintln!("{p}: {u:.2}% unallocated at 100% arrived");
        un.push((*p, u));
    }
    let get = |p: &str| un.iter().find(|(q, _)| *q == p).unwrap().1;
    for (p, u) in &un {
        if *p != "FGD" {
            assert!(get("FGD") < *u, "FGD {} vs {p} {u}", get("FGD"));
        }
    }
    // The paper's order of the worst: Random leaves the most.
    assert!(un.iter().all(|(_, u)| *u <= get("Random")), "{un:?}");
    if every == 1 {
        // The paper (10 seeds): FGD 4.77, BestFit 7.14, GpuPacking 8.22,
        // GpuClustering 8.35, DotProduct 9.38, Random 13.7; one seed is within ~1 point.
        for (p, paper) in [
            ("Random", 13.70),
            ("DotProduct", 9.38),
            ("GpuClustering", 8.35),
            ("GpuPacking", 8.22),
            ("BestFit", 7.14),
            ("FGD", 4.77),
        ] {
            assert!(
                (get(p) - paper).abs() < 1.5,
                "{p}: {} vs paper {paper}",
                get(p)
            );
        }
    }
}

#[test]
fn replays_are_reproducible_and_seeds_differ() {
    let Some(dir) = trace_dir("replays_are_reproducible_and_seeds_differ") else {
        return;
    };
    let t = load(&dir, 12);
    let a = replay::replay(&t, "Random", 7, TieBreak::Name).unwrap();
    let b = replay::replay(&t, "Random", 7, TieBreak::Name).unwrap();
    let c = replay::replay(&t, "Random", 8, TieBreak::Name).unwrap();
    assert_eq!(a.samples, b.samples);
    assert_ne!(a.samples, c.samples);
    // The top-up brings arrivals to 130% of capacity, within one pod.
    let last = a.samples.last().unwrap();
    assert_eq!(last.arrived_pct, 130);
}

#[test]
fn fgd_replay_command_prints_the_table_and_writes_curves() {
    let Some(dir) = trace_dir("fgd_replay_command_prints_the_table_and_writes_curves") else {
        return;
    };
    // A small cluster and pod list cut from the trace keep the debug run fast.
    let tmp = tempfile::tempdir().unwrap();
    let cut = |name: &str, every: usize| {
        let text = std::fs::read_to_string(dir.join("csv").join(name)).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for l in lines.step_by(every) {
            out.push_str(l);
            out.push('\n');
        }
        let p = tmp.path().join(name);
        std::fs::write(&p, out).unwrap();
        p
    };
    let nodes = cut("openb_node_list_gpu_node.csv", 20);
    let pods = cut("openb_pod_list_default.csv", 20);
    let out = tmp.path().join("out");
    let o = kubesim(&[
        "fgd-replay",
        "--nodes",
        nodes.to_str().unwrap(),
        "--pods",
        pods.to_str().unwrap(),
        "--policies",
        "BestFit,FGD",
        "--seeds",
        "1..2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("BestFit") && table.contains("FGD"),
        "{table}"
    );
    let curves = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    assert!(curves.starts_with("policy,seed,arrived_pct,"), "{curves}");
    // 2 policies × 2 seeds × 131 samples.
    assert_eq!(curves.lines().count(), 1 + 2 * 2 * 131);
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");
    let bad = kubesim(&["fgd-replay", "--nodes", "/nonexistent", "--pods", "/x"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A synthetic cluster and workload (no trace needed): nodes of three models with 0, 2, 4
/// or 8 GPUs, pods with shares, whole GPUs, model constraints and CPU-only ones, drawn from
/// a fixed list so shapes repeat (as the row cache needs to be exercised).
fn synthetic(seed: u64) -> Trace {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut nodes = String::from("sn,cpu_milli,memory_mib,gpu,model\n");
    for i in 0..40 {
        let gpu = [0, 2, 4, 8][next(4) as usize];
        let model = ["P100", "T4", "V100M16"][next(3) as usize];
        let cpu = [32_000, 64_000, 96_000][next(3) as usize];
        nodes.push_str(&format!("n{i:03},{cpu},262144,{gpu},{model}\n"));
    }
    let shapes = [
        "4000,8192,1,500,",
        "8000,16384,1,1000,",
        "2000,4096,1,250,",
        "16000,65536,2,1000,",
        "12000,30000,1,460,V100M16",
        "4000,8192,0,0,",
        "32000,65536,8,1000,",
        "6000,12288,1,300,T4|P100",
    ];
    let mut pods = String::from("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n");
    for i in 0..150 {
        pods.push_str(&format!("p{i:04},{}\n", shapes[next(8) as usize]));
    }
    Trace::new(
        trace::nodes_from_csv(&nodes).unwrap(),
        trace::pods_from_csv(&pods).unwrap(),
    )
    .unwrap()
}

#[test]
fn the_fast_replay_equals_the_plain_cycle() {
    use replay::Mode;
    for s in 0..4 {
        let t = synthetic(s);
        for p in POLICIES {
            for tb in [TieBreak::Name, TieBreak::Random] {
                let fast = replay::replay_with(&t, p, s, tb, Mode::Fast).unwrap();
                let plain = replay::replay_with(&t, p, s, tb, Mode::Plain).unwrap();
                assert_eq!(fast.samples, plain.samples, "{p} seed {s} {tb:?}");
            }
        }
        // The synthetic workload overfills the cluster: late pods fail, so both paths
        // go through rejections, not only placements.
        let c = replay::replay(&t, "FGD", s, TieBreak::Name).unwrap();
        assert!(c.samples.last().unwrap().failed_pods > 0, "seed {s}");
    }
    // And on a cut of the real trace, when present.
    let Some(dir) = trace_dir("the_fast_replay_equals_the_plain_cycle") else {
        return;
    };
    let t = load(&dir, 12);
    for p in POLICIES {
        let fast = replay::replay_with(&t, p, 42, TieBreak::Name, Mode::Fast).unwrap();
        let plain = replay::replay_with(&t, p, 42, TieBreak::Name, Mode::Plain).unwrap();
        assert_eq!(fast.samples, plain.samples, "{p} on the trace");
    }
}
