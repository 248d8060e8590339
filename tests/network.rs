//! The network model: `spec.network`, the timeline's `networkPartition` and
//! `linkDegradation`, and their effects (in events.jsonl, expectations and reachability).

mod common;

use std::path::Path;

use common::Buf;
use kubesim::network::Place;
use kubesim::runtime::Cluster;
use kubesim::sim::SimTime;

/// Three nodes `node-0..2` in zones `a`, `b`, `c`, a 3-replica `web` spread one per node,
/// plus `network` (a `spec.network` body, or empty), `events` and `expect` entries.
fn scenario(duration: &str, network: &str, events: &str, expect: &str) -> String {
    format!(
        "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: network-test}}
spec:
  duration: {duration}
  api:
    defaultUnreachableTolerationSeconds: 30
  cluster:
    nodePools:
      - name: node
        count: 3
        zones: [a, b, c]
        template:
          status:
            capacity: {{cpu: \"4\", memory: 16Gi, pods: \"110\"}}
{network}  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: web, namespace: default}}
      spec:
        replicas: 3
        selector:
          matchLabels: {{app: web}}
        template:
          metadata:
            labels: {{app: web}}
          spec:
            topologySpreadConstraints:
              - maxSkew: 1
                topologyKey: kubernetes.io/hostname
                whenUnsatisfiable: ScheduleAnyway
                labelSelector:
                  matchLabels: {{app: web}}
            containers:
              - name: web
                image: nginx:1.27
                resources:
                  requests: {{cpu: 500m, memory: 256Mi}}
  events:
{events}{expect}"
    )
}

fn build(yaml: &str) -> (Cluster, Buf) {
    let no_files = |_: &Path| Err(std::io::Error::other("no includes"));
    let s = kubesim::scenario::load_str("net.yaml", yaml, Path::new("."), &no_files)
        .unwrap_or_else(|e| panic!("{e}"));
    let buf = Buf::default();
    let cluster =
        kubesim::setup::build(&s, Box::new(buf.clone()), Box::new(Vec::new())).expect("builds");
    (cluster, buf)
}

fn at(secs: u64) -> SimTime {
    SimTime::from_nanos(secs * 1_000_000_000)
}

struct Events(Vec<serde_json::Value>);

impl Events {
    fn of(cluster: &mut Cluster, buf: &Buf) -> Events {
        cluster.finish_outputs().unwrap();
        let text = String::from_utf8(buf.0.borrow().clone()).unwrap();
        Events(
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        )
    }

    /// Times (ms) of events with `reason` whose object starts with `object` and whose
    /// message contains `text`.
    fn times(&self, reason: &str, object: &str, text: &str) -> Vec<u64> {
        self.0
            .iter()
            .filter(|e| {
                e["reason"] == reason
                    && e["object"].as_str().unwrap_or("").starts_with(object)
                    && e["message"].as_str().unwrap_or("").contains(text)
            })
            .map(|e| e["t_ms"].as_u64().unwrap())
            .collect()
    }

    /// Times (ms) of kubelet events with `reason` on `node`.
    fn on_node(&self, reason: &str, node: &str) -> Vec<u64> {
        self.0
            .iter()
            .filter(|e| e["reason"] == reason && e["node"] == node)
            .map(|e| e["t_ms"].as_u64().unwrap())
            .collect()
    }
}

#[test]
fn a_node_cut_from_the_control_plane_goes_not_ready_keeps_its_pod_and_rejoins() {
    let yaml = scenario(
        "6m",
        "",
        "    - name: cut
      at: 1m
      duration: 3m
      networkPartition: {from: {selector: kubernetes.io/hostname=node-0}}
",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run_until(at(90)).unwrap();
    let net = c.network();
    assert!(!net.reachable(Place::Node("node-0"), Place::ControlPlane));
    // Only the control plane is cut: clients and the other nodes still reach node-0.
    assert!(net.reachable(Place::Client("internet"), Place::Node("node-0")));
    assert!(net.reachable(Place::Node("node-1"), Place::Node("node-0")));
    c.run().unwrap();
    assert!(
        c.network()
            .reachable(Place::Node("node-0"), Place::ControlPlane)
    );
    let ev = Events::of(&mut c, &buf);
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Network/cut",
            "cut: [node/node-0] <-> [controlPlane]"
        ),
        vec![60_000]
    );
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Node/node-0",
            "cut off from the control plane"
        ),
        vec![60_000]
    );
    assert_eq!(
        ev.times("TimelineHeal", "Network/cut", "healed"),
        vec![240_000]
    );
    // Lease renewals stop: NotReady after the grace period (50 s) and not before.
    let not_ready = ev.times("NodeNotReady", "Node/node-0", "");
    assert_eq!(not_ready.len(), 1, "{not_ready:?}");
    assert!((110_000..=125_000).contains(&not_ready[0]), "{not_ready:?}");
    assert!(ev.times("NodeNotReady", "Node/node-1", "").is_empty());
    // Its pod is evicted and replaced elsewhere, but its container keeps running until the
    // kubelet hears of the deletion after the heal.
    assert_eq!(
        ev.times("TaintManagerEviction", "Pod/default/web-", "")
            .len(),
        1
    );
    let killing = ev.on_node("Killing", "node-0");
    assert_eq!(killing.len(), 1, "{killing:?}");
    assert!(killing[0] >= 240_000, "{killing:?}");
    assert_eq!(c.stats().nodes_ready, 3);
}

#[test]
fn a_zone_cut_from_the_control_plane_takes_every_node_of_the_zone() {
    let yaml = scenario(
        "3m",
        "",
        "    - {name: zone-cut, at: 30s, networkPartition: {from: {zone: b}, to: {controlPlane: true}}}\n",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    let zone_b = c.network().node_zone("node-1").unwrap().to_string();
    assert_eq!(zone_b, "b");
    assert_eq!(ev.times("NodeNotReady", "Node/node-1", "").len(), 1);
    assert!(ev.times("NodeNotReady", "Node/node-0", "").is_empty());
    assert!(ev.times("NodeNotReady", "Node/node-2", "").is_empty());
    // No duration: still cut at the end.
    assert!(
        !c.network()
            .reachable(Place::Node("node-1"), Place::ControlPlane)
    );
}

#[test]
fn a_zone_to_zone_partition_cuts_traffic_between_them_only() {
    let yaml = scenario(
        "3m",
        "",
        "    - {name: split, at: 30s, duration: 1m, networkPartition: {from: {zone: a}, to: {zones: [b]}}}\n",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run_until(at(60)).unwrap();
    let net = c.network();
    assert!(!net.reachable(Place::Node("node-0"), Place::Node("node-1")));
    assert!(!net.reachable(Place::Zone("b"), Place::Node("node-0")));
    assert!(net.reachable(Place::Node("node-0"), Place::Node("node-2")));
    assert!(net.reachable(Place::Node("node-0"), Place::ControlPlane));
    c.run().unwrap();
    assert!(
        c.network()
            .reachable(Place::Node("node-0"), Place::Node("node-1"))
    );
    let ev = Events::of(&mut c, &buf);
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Network/split",
            "cut: [zone/a] <-> [zone/b]"
        ),
        vec![30_000]
    );
    assert_eq!(ev.times("TimelineHeal", "Network/split", ""), vec![90_000]);
    // The control plane still hears every node: nothing goes NotReady, no node is nudged.
    assert!(ev.times("NodeNotReady", "Node/", "").is_empty());
    assert!(ev.times("TimelineAction", "Node/", "").is_empty());
}

#[test]
fn a_node_to_node_partition_cuts_that_pair_only() {
    let yaml = scenario(
        "2m",
        "",
        "    - {name: pair, at: 10s, duration: 30s, networkPartition: {from: {node: node-0}, to: {nodes: [node-2]}}}\n",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run_until(at(20)).unwrap();
    let net = c.network();
    assert!(!net.reachable(Place::Node("node-2"), Place::Node("node-0")));
    assert!(net.reachable(Place::Node("node-1"), Place::Node("node-0")));
    c.run().unwrap();
    assert!(
        c.network()
            .reachable(Place::Node("node-2"), Place::Node("node-0"))
    );
    let ev = Events::of(&mut c, &buf);
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Network/pair",
            "[node/node-0] <-> [node/node-2]"
        ),
        vec![10_000]
    );
    assert_eq!(ev.times("TimelineHeal", "Network/pair", ""), vec![40_000]);
}

/// Extra latency on node-0's path to the control plane delays what its kubelet sees: its
/// pod's image pull starts 500 ms after the others'.
#[test]
fn link_degradation_delays_what_the_kubelet_sees() {
    let yaml = scenario(
        "1m",
        "",
        "    - name: slow
      at: 0s
      duration: 30s
      linkDegradation: {from: {node: node-0}, latency: 500ms}
",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Network/slow",
            "degraded (+500ms latency)"
        ),
        vec![0]
    );
    let slow = ev.on_node("Pulling", "node-0");
    let fast = ev.on_node("Pulling", "node-1");
    assert_eq!((slow.len(), fast.len()), (1, 1));
    assert_eq!(slow[0], fast[0] + 500, "{slow:?} vs {fast:?}");
    assert_eq!(ev.times("TimelineHeal", "Network/slow", ""), vec![30_000]);
}

/// With every packet lost, node-0's pod status never reaches the API server: the pod runs
/// (its kubelet says so) but the API shows it Running only after the heal.
#[test]
fn link_degradation_with_loss_drops_status_writes_until_it_heals() {
    let yaml = scenario(
        "2m",
        "",
        "    - name: lossy
      at: 0s
      duration: 1m
      linkDegradation: {from: {node: node-0}, loss: 1.0}
",
        "  expect:
    - {name: two-reported-running, at: 50s, pods: {selector: app=web, phase: Running}, eq: 2}
    - {name: all-running-after-heal, at: 1m15s, pods: {selector: app=web, phase: Running}, eq: 3}
",
    );
    let (mut c, buf) = build(&yaml);
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    assert_eq!(ev.on_node("Started", "node-0").len(), 1);
    assert_eq!(
        ev.times("ExpectationPassed", "Expectation/two-reported-running", "")
            .len(),
        1
    );
    assert_eq!(
        ev.times(
            "ExpectationPassed",
            "Expectation/all-running-after-heal",
            ""
        )
        .len(),
        1
    );
}

/// `spec.network` sets link latencies: with 2 ms from the control plane to every zone, each
/// kubelet sees its pod 2 ms later than with the default network.
#[test]
fn network_section_link_latency_delays_every_kubelet() {
    let base = scenario("30s", "", "    []\n", "");
    let slow = scenario(
        "30s",
        "  network:\n    links:\n      controlPlaneZone: {latency: 2ms}\n",
        "    []\n",
        "",
    );
    let pulls = |yaml: &str| {
        let (mut c, buf) = build(yaml);
        c.run().unwrap();
        Events::of(&mut c, &buf).on_node("Pulling", "node-2")
    };
    let (a, b) = (pulls(&base), pulls(&slow));
    assert_eq!(a.len(), 1);
    assert_eq!(b[0], a[0] + 2, "{a:?} vs {b:?}");
}

#[test]
fn network_section_problems_are_reported_at_their_field() {
    let yaml = scenario(
        "30s",
        "  network:
    clients:
      - {name: office, zones: [a], loss: 2}
    overrides:
      - {between: [zone/a, planet/mars], latency: 1ms}
",
        "    []\n",
        "",
    );
    let no_files = |_: &Path| Err(std::io::Error::other("no includes"));
    let err = match kubesim::scenario::load_str("net.yaml", &yaml, Path::new("."), &no_files) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("spec.network.clients[0].loss: Invalid value: 2"),
        "{err}"
    );
    assert!(err.contains("spec.network.overrides[0].between"), "{err}");
    assert!(err.contains("planet"), "{err}");
}

#[test]
fn clients_and_overrides_shape_the_graph() {
    let yaml = scenario(
        "10s",
        "  network:
    clients:
      - {name: office, zones: [a], latency: 3ms}
    overrides:
      - {between: [zone/a, zone/c], latency: 7ms}
",
        "    []\n",
        "",
    );
    let (mut c, _) = build(&yaml);
    c.run().unwrap();
    let net = c.network();
    assert_eq!(
        net.clients().collect::<Vec<_>>(),
        vec!["internet", "office"]
    );
    let mut rng = kubesim::sim::RngFactory::new(1).stream("t");
    let ms = |from, to, rng: &mut _| net.sample(from, to, rng).unwrap().0.as_millis();
    assert_eq!(
        ms(Place::Client("office"), Place::Node("node-0"), &mut rng),
        3
    );
    // office → a (3 ms) → b (1 ms) → node-1.
    assert_eq!(
        ms(Place::Client("office"), Place::Node("node-1"), &mut rng),
        4
    );
    // a → c: 7 ms direct, or 2 ms through zone b: the lowest-latency path wins.
    assert_eq!(
        ms(Place::Node("node-0"), Place::Node("node-2"), &mut rng),
        2
    );
    assert_eq!(
        ms(Place::Client("internet"), Place::Node("node-2"), &mut rng),
        10
    );
}

#[test]
fn network_actions_report_bad_parameters() {
    let yaml = scenario(
        "30s",
        "",
        "    - {at: 1s, networkPartition: {}}
    - {at: 1s, linkDegradation: {from: {zone: a}}}
    - {at: 1s, networkPartition: {from: {galaxy: far}}}
    - {at: 1s, networkPartition: {links: [[zone/a]]}}
    - {at: 1s, linkDegradation: {links: [[zone/a, zone/b]], from: {zone: a}, loss: 0.5}}
",
        "",
    );
    let no_files = |_: &Path| Err(std::io::Error::other("no includes"));
    let err = match kubesim::scenario::load_str("net.yaml", &yaml, Path::new("."), &no_files) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("spec.events[0].networkPartition.from: Required value"),
        "{err}"
    );
    assert!(
        err.contains("spec.events[1].linkDegradation: Required value: `latency` and/or `loss`"),
        "{err}"
    );
    assert!(
        err.contains("spec.events[2].networkPartition.from"),
        "{err}"
    );
    assert!(
        err.contains("spec.events[3].networkPartition.links[0]: expected a pair of places"),
        "{err}"
    );
    assert!(
        err.contains("spec.events[4].linkDegradation.links: `links` or `from`/`to`, not both"),
        "{err}"
    );
}

/// A crash that heals while the partition lasts: the machine reboots into the partition,
/// its kubelet restarts the lost container unheard, and the node is Ready again only once
/// the partition heals.
#[test]
fn a_node_recovering_from_a_crash_inside_a_partition_stays_cut_until_the_heal() {
    let yaml = scenario(
        "6m",
        "",
        "    - {name: cut, at: 30s, duration: 270s, networkPartition: {from: {node: node-0}}}
    - {name: crash, at: 60s, duration: 60s, nodeCrash: {node: node-0}}
",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run_until(at(200)).unwrap();
    assert_eq!(c.stats().nodes_ready, 2);
    c.run_until(at(299)).unwrap();
    assert_eq!(c.stats().nodes_ready, 2);
    c.run_until(at(301)).unwrap();
    assert_eq!(c.stats().nodes_ready, 3);
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    let started: Vec<u64> = ev
        .on_node("Started", "node-0")
        .into_iter()
        .filter(|t| *t > 1_000)
        .collect();
    assert_eq!(started, vec![120_010], "restarted at the reboot, while cut");
}

/// A partition that heals while the node is down: the node stays down (and NotReady) until
/// it recovers.
#[test]
fn a_partition_healing_while_the_node_is_crashed_leaves_it_crashed() {
    let yaml = scenario(
        "6m",
        "",
        "    - {name: crash, at: 30s, duration: 270s, nodeCrash: {node: node-0}}
    - {name: cut, at: 60s, duration: 60s, networkPartition: {from: {node: node-0}}}
",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run_until(at(299)).unwrap();
    assert_eq!(c.stats().nodes_ready, 2);
    c.run_until(at(301)).unwrap();
    assert_eq!(c.stats().nodes_ready, 3);
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    assert_eq!(
        ev.times(
            "TimelineHeal",
            "Node/node-0",
            "reaches the control plane again"
        ),
        vec![120_000]
    );
    let started: Vec<u64> = ev
        .on_node("Started", "node-0")
        .into_iter()
        .filter(|t| *t > 1_000)
        .collect();
    assert_eq!(started, vec![300_010], "nothing runs before the recovery");
}

/// Nodes added to a zone cut from the control plane start cut off: their kubelet never
/// registers a Lease, so the node lifecycle controller never sees them Ready... until the
/// heal.
#[test]
fn nodes_added_inside_a_cut_zone_start_partitioned() {
    let yaml = scenario(
        "4m",
        "",
        "    - {name: cut, at: 10s, duration: 2m, networkPartition: {from: {zone: a}}}
    - {name: grow, at: 20s, addNodes: {pool: node, count: 3}}
",
        "",
    );
    let (mut c, _) = build(&yaml);
    c.run_until(at(30)).unwrap();
    // node-3 is in zone a (the pool's zones in turn), node-4 in b.
    assert_eq!(c.network().node_zone("node-3"), Some("a"));
    assert!(
        !c.network()
            .reachable(Place::Node("node-3"), Place::ControlPlane)
    );
    assert!(
        c.network()
            .reachable(Place::Node("node-4"), Place::ControlPlane)
    );
    let lease = |c: &Cluster, n: &str| {
        c.store()
            .get(&kubesim::api::ObjectKey::new(
                kubesim::api::Kind::Lease,
                "kube-node-lease",
                n,
            ))
            .is_some()
    };
    assert!(!lease(&c, "node-3"));
    assert!(lease(&c, "node-4"));
    c.run_until(at(131)).unwrap();
    assert!(lease(&c, "node-3"));
}

/// Cutting a node's own link isolates it from everything: the control plane, its peers and
/// clients; cutting a zone-to-zone link only reroutes through the third zone.
#[test]
fn cutting_named_links_isolates_or_reroutes() {
    let yaml = scenario(
        "3m",
        "",
        "    - {name: unplug, at: 10s, duration: 2m, networkPartition: {links: [[node/node-0, zone/a]]}}
    - {name: fibre, at: 10s, networkPartition: {links: [[zone/b, zone/c], [zone/a, node/node-2]]}}
",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run_until(at(20)).unwrap();
    let net = c.network();
    assert!(!net.reachable(Place::Node("node-0"), Place::ControlPlane));
    assert!(!net.reachable(Place::Node("node-0"), Place::Node("node-1")));
    assert!(!net.reachable(Place::Client("internet"), Place::Node("node-0")));
    let mut rng = kubesim::sim::RngFactory::new(1).stream("t");
    // b → a → c, 2 ms, since b – c is cut.
    assert_eq!(
        net.sample(Place::Node("node-1"), Place::Node("node-2"), &mut rng)
            .map(|(d, _)| d.as_millis()),
        Some(2)
    );
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Network/unplug",
            "cut: links node/node-0 - zone/a"
        ),
        vec![10_000]
    );
    assert_eq!(ev.times("NodeNotReady", "Node/node-0", "").len(), 1);
    // The pair without a link is reported; the other link is cut all the same.
    assert_eq!(
        ev.times(
            "TimelineActionFailed",
            "Network/fibre",
            "no link zone/a - node/node-2"
        ),
        vec![10_000]
    );
    assert_eq!(
        ev.times(
            "TimelineAction",
            "Network/fibre",
            "cut: links zone/b - zone/c"
        ),
        vec![10_000]
    );
    assert_eq!(c.stats().nodes_ready, 3);
}

/// A degraded control-plane link slows every kubelet of the zone behind it.
#[test]
fn degrading_a_named_link_delays_the_kubelets_behind_it() {
    let yaml = scenario(
        "1m",
        "",
        "    - {name: slow-b, at: 0s, linkDegradation: {links: [[controlPlane, zone/b]], latency: 300ms}}\n",
        "",
    );
    let (mut c, buf) = build(&yaml);
    c.run().unwrap();
    let ev = Events::of(&mut c, &buf);
    let slow = ev.on_node("Pulling", "node-1");
    let fast = ev.on_node("Pulling", "node-2");
    assert_eq!(slow[0], fast[0] + 300, "{slow:?} vs {fast:?}");
}
