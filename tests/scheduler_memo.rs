//! The scheduler's memoized count tables (PodTopologySpread's per-domain counts and
//! InterPodAffinity's term counts, kept current pod by pod) against plain re-computation:
//! on random clusters and workloads, with pods deleted and added mid-run, a scheduler with
//! the memo and its node cache ([`kubesim::scheduler::node_cache`]) and one that recomputes
//! everything each cycle write byte-identical outputs. Services select apps `a` (in ns0) and
//! `b` (in ns1), so pods without constraints of their own get PodTopologySpread's system
//! default constraints (Filter skips them; PreScore and Score read the memo).

mod common;

use common::Buf;
use kubesim::api::objects::{Kind, Object};
use kubesim::api::{DeleteOptions, ObjectKey};
use kubesim::setup::{Components, build_with};
use kubesim::sim::SimTime;
use proptest::prelude::*;

const KEYS: [&str; 2] = ["kubernetes.io/hostname", "topology.kubernetes.io/zone"];
const APPS: [&str; 3] = ["a", "b", "c"];

#[derive(Clone, Debug)]
struct PodSpec {
    app: usize,
    namespace: usize,
    /// (kind 0..4: required affinity, required anti, preferred affinity, preferred anti;
    /// target app; key; namespaceSelector {} instead of the pod's namespace)
    terms: Vec<(usize, usize, usize, bool)>,
    /// (key, maxSkew, DoNotSchedule)
    spread: Option<(usize, i32, bool)>,
    cpu: u32,
    /// Tolerates the `big` pool's PreferNoSchedule taint and the `bare` node's NoSchedule
    /// one (that node has no zone label: the system default spreading's case of a node
    /// lacking a key); prefers (weight) or requires the
    /// `big` pool; runs the image the `big` nodes have.
    tolerate: bool,
    prefer_big: Option<i32>,
    require_big: bool,
    big_image: bool,
}

fn pod_spec() -> impl Strategy<Value = PodSpec> {
    (
        0..APPS.len(),
        0..2usize,
        prop::collection::vec((0..4usize, 0..APPS.len(), 0..2usize, any::<bool>()), 0..3),
        prop::option::of((0..2usize, 1..3i32, any::<bool>())),
        1..8u32,
        (
            any::<bool>(),
            prop::option::of(1..100i32),
            prop::bool::weighted(0.2),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                app,
                namespace,
                terms,
                spread,
                cpu,
                (tolerate, prefer_big, require_big, big_image),
            )| {
                PodSpec {
                    app,
                    namespace,
                    terms,
                    spread,
                    cpu,
                    tolerate,
                    prefer_big,
                    require_big,
                    big_image,
                }
            },
        )
}

/// Pods drawn from a few templates, so consecutive pods are often identical (the case the
/// scheduler's node cache serves).
fn pods_from_templates(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<PodSpec>> {
    (
        prop::collection::vec(pod_spec(), 1..4),
        prop::collection::vec(0..4usize, n),
    )
        .prop_map(|(templates, picks)| {
            picks
                .into_iter()
                .map(|i| templates[i % templates.len()].clone())
                .collect()
        })
}

fn term(app: usize, key: usize, all_ns: bool) -> String {
    let ns = if all_ns {
        ", namespaceSelector: {}"
    } else {
        ""
    };
    format!(
        "{{labelSelector: {{matchLabels: {{app: {}}}}}, topologyKey: {}{ns}}}",
        APPS[app], KEYS[key]
    )
}

fn pod_yaml(name: &str, p: &PodSpec) -> String {
    let mut kinds: [Vec<String>; 4] = Default::default();
    for &(kind, app, key, all_ns) in &p.terms {
        let t = term(app, key, all_ns);
        kinds[kind].push(if kind >= 2 {
            format!("{{weight: {}, podAffinityTerm: {t}}}", 10 + app)
        } else {
            t
        });
    }
    let mut affinity = String::new();
    for (field, req, pref) in [("podAffinity", 0, 2), ("podAntiAffinity", 1, 3)] {
        if kinds[req].is_empty() && kinds[pref].is_empty() {
            continue;
        }
        affinity.push_str(&format!(
            "{field}: {{requiredDuringSchedulingIgnoredDuringExecution: [{}], preferredDuringSchedulingIgnoredDuringExecution: [{}]}}, ",
            kinds[req].join(", "),
            kinds[pref].join(", ")
        ));
    }
    let mut node_terms = Vec::new();
    if let Some(w) = p.prefer_big {
        node_terms.push(format!("preferredDuringSchedulingIgnoredDuringExecution: [{{weight: {w}, preference: {{matchExpressions: [{{key: pool, operator: In, values: [big]}}]}}}}]"));
    }
    if p.require_big {
        node_terms.push("requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [big]}]}]}".to_string());
    }
    if !node_terms.is_empty() {
        affinity.push_str(&format!("nodeAffinity: {{{}}}, ", node_terms.join(", ")));
    }
    let affinity = if affinity.is_empty() {
        String::new()
    } else {
        format!("affinity: {{{}}}, ", affinity.trim_end_matches(", "))
    };
    let tolerations = if p.tolerate {
        "tolerations: [{key: big, operator: Exists, effect: PreferNoSchedule}, {key: bare, operator: Exists, effect: NoSchedule}], "
    } else {
        ""
    };
    let image = if p.big_image { "big:1" } else { "x" };
    let spread = p.spread.map_or(String::new(), |(key, skew, hard)| {
        format!(
            "topologySpreadConstraints: [{{maxSkew: {skew}, topologyKey: {}, whenUnsatisfiable: {}, labelSelector: {{matchLabels: {{app: {}}}}}}}], ",
            KEYS[key],
            if hard { "DoNotSchedule" } else { "ScheduleAnyway" },
            APPS[p.app]
        )
    });
    format!(
        "{{apiVersion: v1, kind: Pod, metadata: {{name: {name}, namespace: ns{}, labels: {{app: {}}}}}, spec: {{{affinity}{spread}{tolerations}terminationGracePeriodSeconds: 0, containers: [{{name: c, image: {image}, resources: {{requests: {{cpu: {}00m}}}}}}]}}}}",
        p.namespace, APPS[p.app], p.cpu
    )
}

fn scenario(nodes: usize, pods: &[PodSpec]) -> String {
    let mut s = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: memo}}\nspec:\n  seed: 7\n  duration: 1m\n  cluster:\n    nodePools:\n      - {{name: n, count: {nodes}, zones: [a, b, c], template: {{status: {{capacity: {{cpu: \"2\", memory: 8Gi, pods: \"110\"}}}}}}}}\n      - {{name: big, count: 2, zones: [a, b], template: {{metadata: {{labels: {{pool: big}}}}, spec: {{taints: [{{key: big, effect: PreferNoSchedule}}]}}, status: {{capacity: {{cpu: \"4\", memory: 16Gi, pods: \"110\"}}, images: [{{names: [\"big:1\"], sizeBytes: 500000000}}]}}}}}}\n      - {{name: bare, count: 1, template: {{spec: {{taints: [{{key: bare, effect: NoSchedule}}]}}, status: {{capacity: {{cpu: \"2\", memory: 8Gi, pods: \"110\"}}}}}}}}\n  objects:\n    - {{apiVersion: v1, kind: Namespace, metadata: {{name: ns0, labels: {{team: x}}}}}}\n    - {{apiVersion: v1, kind: Namespace, metadata: {{name: ns1}}}}\n    - {{apiVersion: v1, kind: Service, metadata: {{name: sa, namespace: ns0}}, spec: {{selector: {{app: a}}, ports: [{{port: 80}}]}}}}\n    - {{apiVersion: v1, kind: Service, metadata: {{name: sb, namespace: ns1}}, spec: {{selector: {{app: b}}, ports: [{{port: 80}}]}}}}\n"
    );
    for (i, p) in pods.iter().enumerate() {
        s.push_str(&format!("    - {}\n", pod_yaml(&format!("p{i}"), p)));
    }
    s
}

/// Runs the scenario for 20 s, deletes the pods at `deletes`, moves node `n-<i>` to zone
/// `z` for each `(i, z)` in `relabel` (a topology change: count tables and domain ids must
/// follow), adds `more`, runs to 40 s; returns (events, metrics, pods bound).
fn run(
    text: &str,
    deletes: &[usize],
    relabel: &[(usize, usize)],
    more: &[PodSpec],
    plain: bool,
) -> (Vec<u8>, Vec<u8>, usize) {
    let sc = kubesim::scenario::load_str("memo.yaml", text, std::path::Path::new("."), &|p| {
        std::fs::read_to_string(p)
    })
    .expect("generated scenario loads");
    let (events, metrics) = (Buf::default(), Buf::default());
    let mut cluster = build_with(
        &sc,
        Box::new(events.clone()),
        Box::new(metrics.clone()),
        Components {
            scheduler_plain_counts: plain,
            ..Components::default()
        },
    )
    .expect("builds");
    cluster
        .run_until(SimTime::from_nanos(20_000_000_000))
        .expect("within limits");
    let n = sc
        .objects
        .iter()
        .filter(|o| o.object.kind() == Kind::Pod)
        .count();
    for &d in deletes {
        let name = format!("p{}", d % n.max(1));
        for ns in ["ns0", "ns1"] {
            let _ = cluster.delete(
                &ObjectKey::new(Kind::Pod, ns, name.as_str()),
                &DeleteOptions::default(),
            );
        }
    }
    for &(i, z) in relabel {
        let key = ObjectKey::new(Kind::Node, "", format!("n-{i}"));
        if let Some(node) = cluster.store().get(&key) {
            let mut node = (**node).clone();
            node.meta_mut()
                .labels
                .insert(KEYS[1].into(), ["a", "b", "c", "d"][z % 4].into());
            cluster.update(node).expect("node relabelled");
        }
    }
    for (i, p) in more.iter().enumerate() {
        let obj = parse_pod(&pod_yaml(&format!("q{i}"), p));
        cluster.apply(obj).expect("pod created");
    }
    cluster
        .run_until(SimTime::from_nanos(40_000_000_000))
        .expect("within limits");
    let bound = cluster
        .store()
        .list(Kind::Pod)
        .filter(|o| matches!(&***o, Object::Pod(p) if !p.spec.node_name.is_empty()))
        .count();
    cluster.finish_outputs().expect("outputs written");
    let e = events.0.borrow().clone();
    let m = metrics.0.borrow().clone();
    (e, m, bound)
}

/// A pod from flow-style YAML, through the scenario loader (so it is defaulted as a
/// scenario's objects are): wrap it in a scenario and take it back.
fn parse_pod(doc: &str) -> Object {
    let text = format!(
        "apiVersion: kubesim.io/v1alpha1\nkind: Scenario\nmetadata: {{name: x}}\nspec:\n  objects:\n    - {{apiVersion: v1, kind: Namespace, metadata: {{name: ns0}}}}\n    - {{apiVersion: v1, kind: Namespace, metadata: {{name: ns1}}}}\n    - {doc}\n"
    );
    let sc = kubesim::scenario::load_str("x.yaml", &text, std::path::Path::new("."), &|p| {
        std::fs::read_to_string(p)
    })
    .expect("pod loads");
    sc.objects
        .into_iter()
        .map(|o| o.object)
        .find(|o| o.kind() == Kind::Pod)
        .expect("the pod")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn memoized_counts_schedule_exactly_as_plain_recomputation(
        nodes in 3..10usize,
        pods in pods_from_templates(1..30),
        deletes in prop::collection::vec(0..64usize, 0..8),
        relabel in prop::collection::vec((0..10usize, 0..4usize), 0..3),
        more in pods_from_templates(0..12),
    ) {
        let text = scenario(nodes, &pods);
        let (e1, m1, bound1) = run(&text, &deletes, &relabel, &more, false);
        let (e2, m2, bound2) = run(&text, &deletes, &relabel, &more, true);
        prop_assert_eq!(bound1, bound2);
        prop_assert!(e1 == e2, "events.jsonl differs between memo and plain re-computation");
        prop_assert!(m1 == m2, "metrics.csv differs between memo and plain re-computation");
    }
}

/// The comparison can fail: a scenario where the memo matters (anti-affinity by hostname)
/// binds pods, and the events mention them.
#[test]
fn the_comparison_sees_scheduling_decisions() {
    let anti = PodSpec {
        app: 0,
        namespace: 0,
        terms: vec![(1, 0, 0, false)],
        spread: None,
        cpu: 1,
        tolerate: false,
        prefer_big: None,
        require_big: false,
        big_image: false,
    };
    let pods = vec![anti.clone(), anti.clone(), anti.clone(), anti];
    let (events, _, bound) = run(&scenario(3, &pods), &[0], &[], &[], false);
    // Five nodes (three plain, two `big` ones the pods do not tolerate but may use), four
    // pods that repel each other per host: all four bound; p0 deleted at 20 s leaves three.
    assert_eq!(bound, 3);
    let text = String::from_utf8(events).expect("utf-8");
    assert_eq!(
        text.matches("\"reason\":\"Scheduled\"").count(),
        4,
        "{text}"
    );
}
