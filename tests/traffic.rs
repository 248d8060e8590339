//! kube-proxy and request traffic (issue 7): the dead-endpoint window after a node crash,
//! load-balancing rules, ClientIP affinity, traffic policies, the arrival processes and
//! the scenario surface (`spec.traffic`, services.csv, `service` expectations,
//! `trafficRate`).

mod common;

use std::path::Path;

use common::Buf;
use kubesim::api::objects::networking::{EndpointSlice, Service};
use kubesim::proxy::{
    BalancerState, IpvsScheduler, PickInput, ProxyMode, ServiceRules, TrafficClass, Verdict, rules,
};
use kubesim::sim::{RngFactory, SimDuration, SimTime};

/// Runs a scenario file in-process; returns (events.jsonl, services.csv, summary).
fn run_file(path: &Path) -> (String, String, kubesim::runtime::summary::Summary) {
    let read = |p: &Path| std::fs::read_to_string(p);
    let s = kubesim::scenario::load(path, &read).expect("the scenario loads");
    run_scenario(&s)
}

fn run_text(yaml: &str) -> (String, String, kubesim::runtime::summary::Summary) {
    let no_files = |_: &Path| Err(std::io::Error::other("no files"));
    let s = kubesim::scenario::load_str("t.yaml", yaml, Path::new("."), &no_files)
        .unwrap_or_else(|e| panic!("the scenario loads: {e}"));
    run_scenario(&s)
}

fn run_scenario(
    s: &kubesim::scenario::Scenario,
) -> (String, String, kubesim::runtime::summary::Summary) {
    let events = Buf::default();
    let services = Buf::default();
    let mut c = kubesim::setup::build(s, Box::new(events.clone()), Box::new(std::io::sink()))
        .expect("the cluster builds");
    c.set_services_output(Box::new(services.clone()));
    c.run().expect("the run completes");
    let digest = c.finish_outputs().expect("outputs flush");
    let summary = kubesim::runtime::summary::Summary::build(&c, &s.name, None, vec![], digest);
    let text = |b: &Buf| String::from_utf8(b.0.borrow().clone()).expect("utf-8");
    (text(&events), text(&services), summary)
}

fn assert_all_passed(summary: &kubesim::runtime::summary::Summary) {
    let failed: Vec<_> = summary
        .expectations
        .iter()
        .filter(|e| e.status != kubesim::runtime::summary::ExpectationStatus::Passed)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

type Row = (f64, u64, u64, u64, u64, u64);

/// One services.csv row as (t_s, requests, succeeded, refused, timed_out, errors).
fn row(line: &str) -> Row {
    let f: Vec<&str> = line.split(',').collect();
    let n = |i: usize| f[i].parse::<u64>().expect("a count");
    (f[0].parse().expect("a time"), n(2), n(3), n(4), n(5), n(6))
}

/// services.csv rows, header skipped.
fn rows(csv: &str) -> Vec<Row> {
    csv.lines().skip(1).map(row).collect()
}

fn event_time(events: &str, reason: &str, object: &str) -> Option<f64> {
    events.lines().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["reason"] == reason && v["object"] == object)
            .then(|| v["t_ms"].as_f64().unwrap_or(0.0) / 1000.0)
    })
}

#[test]
fn a_dead_endpoint_gets_requests_until_the_node_lifecycle_marks_its_pods_not_ready() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/node-crash-under-traffic.yaml");
    let (events, services, summary) = run_file(&path);
    let crash = 60.0;
    let timeouts: Vec<f64> = rows(&services)
        .iter()
        .filter(|r| r.4 > 0)
        .map(|r| r.0)
        .collect();
    assert!(!timeouts.is_empty(), "requests time out after the crash");
    // Rows are per second and count the interval ending at t_s.
    let (first, last) = (timeouts[0] - 1.0, *timeouts.last().expect("non-empty"));
    assert!(
        (crash..crash + 1.0).contains(&first),
        "timeouts start with the crash: {first}"
    );
    // The rules that bound the window: the Lease was last renewed within one renew
    // interval (10 s) before the crash; the node lifecycle controller sees it stale after
    // nodeMonitorGracePeriod, checking every nodeMonitorPeriod; then pods are marked not
    // Ready, the EndpointSlice drops them (watch latencies of 10 ms) and kube-proxy syncs
    // within minSyncPeriod (1 s).
    let cfg = kubesim::controllers::ControllersConfig::default();
    let grace = cfg.node_monitor_grace_period.as_nanos() as f64 / 1e9;
    let period = cfg.node_monitor_period.as_nanos() as f64 / 1e9;
    let renew = kubesim::kubelet::KubeletConfig::default()
        .lease_renew_interval()
        .as_nanos() as f64
        / 1e9;
    let not_ready =
        event_time(&events, "NodeNotReady", "Node/node-2").expect("node-2 goes NotReady");
    // The controller stamps a renewal with the monitor tick at which it sees it (upstream's
    // probeTimestamp), so the latest is one period after the crash, and the grace period is
    // checked on ticks too.
    let (lo, hi) = (crash - renew + grace, crash + period + grace + period);
    assert!(
        (lo..=hi).contains(&not_ready),
        "NotReady at {not_ready}s, not within [{lo}, {hi}]"
    );
    let min_sync = 1.0;
    assert!(
        last >= not_ready && last <= not_ready + min_sync + 1.0,
        "the last timeouts (interval ending {last}s) follow NotReady ({not_ready}s) by at most minSyncPeriod plus one sample"
    );
    let window = last - first;
    println!(
        "dead-endpoint window: {first}s → ≤{last}s ({window:.0} s); NodeNotReady at {not_ready}s"
    );
    // About a third of the requests in the window went to the dead endpoint.
    let in_window: (u64, u64) = rows(&services)
        .iter()
        .filter(|r| r.0 > first + 1.0 && r.0 <= last - 1.0)
        .fold((0, 0), |a, r| (a.0 + r.1, a.1 + r.4));
    let share = in_window.1 as f64 / in_window.0 as f64;
    assert!((0.28..0.39).contains(&share), "share of timeouts {share}");
    assert_all_passed(&summary);
}

fn addrs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.0.0.{i}:80")).collect()
}

#[test]
fn ipvs_round_robin_rotates_exactly() {
    let a = addrs(5);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut st = BalancerState::default();
    let mut rng = RngFactory::new(1).stream("t");
    let none = |_: usize| 0;
    let picks: Vec<usize> = (0..12)
        .map(|k| {
            let input = PickInput {
                now: SimTime::from_nanos(k),
                client: k as u32,
                affinity: None,
                addrs: &refs,
                active: &none,
            };
            st.pick(ProxyMode::Ipvs(IpvsScheduler::Rr), &input, &mut rng)
        })
        .collect();
    assert_eq!(picks, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
}

#[test]
fn iptables_and_nftables_random_choice_passes_a_chi_square_test() {
    let a = addrs(5);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    for mode in [ProxyMode::Iptables, ProxyMode::Nftables] {
        let mut st = BalancerState::default();
        let mut rng = RngFactory::new(7).stream("chi");
        let mut counts = [0u64; 5];
        let none = |_: usize| 0;
        let n = 100_000;
        for k in 0..n {
            let input = PickInput {
                now: SimTime::from_nanos(k),
                client: 0,
                affinity: None,
                addrs: &refs,
                active: &none,
            };
            counts[st.pick(mode, &input, &mut rng)] += 1;
        }
        let expected = n as f64 / 5.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // 4 degrees of freedom: the 0.999 quantile is 18.47.
        assert!(chi2 < 18.47, "{mode:?}: chi-square {chi2} for {counts:?}");
        assert!(counts.iter().all(|&c| c > 0));
    }
}

#[test]
fn least_connection_schedulers_prefer_idle_endpoints() {
    let a = addrs(3);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let busy = |i: usize| [4, 1, 2][i];
    let mut rng = RngFactory::new(1).stream("lc");
    for s in [
        IpvsScheduler::Lc,
        IpvsScheduler::Wlc,
        IpvsScheduler::Sed,
        IpvsScheduler::Nq,
    ] {
        let input = PickInput {
            now: SimTime::ZERO,
            client: 0,
            affinity: None,
            addrs: &refs,
            active: &busy,
        };
        assert_eq!(
            BalancerState::default().pick(ProxyMode::Ipvs(s), &input, &mut rng),
            1,
            "{s:?}"
        );
    }
    // sh: the same client always lands on the same endpoint.
    let none = |_: usize| 0;
    let mut st = BalancerState::default();
    let pick = |st: &mut BalancerState, rng: &mut _, client| {
        let input = PickInput {
            now: SimTime::ZERO,
            client,
            affinity: None,
            addrs: &refs,
            active: &none,
        };
        st.pick(ProxyMode::Ipvs(IpvsScheduler::Sh), &input, rng)
    };
    let first: Vec<usize> = (0..20).map(|c| pick(&mut st, &mut rng, c)).collect();
    let again: Vec<usize> = (0..20).map(|c| pick(&mut st, &mut rng, c)).collect();
    assert_eq!(first, again);
    assert!(first.iter().any(|&i| i != first[0]), "sh spreads clients");
}

#[test]
fn client_ip_affinity_sticks_until_its_timeout() {
    let a = addrs(3);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let none = |_: usize| 0;
    let timeout = SimDuration::from_secs(rules::DEFAULT_AFFINITY_TIMEOUT_S);
    let mut st = BalancerState::default();
    let mut rng = RngFactory::new(1).stream("aff");
    let mut pick = |st: &mut BalancerState, t_s: u64, client: u32| {
        let input = PickInput {
            now: SimTime::ZERO.saturating_add(SimDuration::from_secs(t_s)),
            client,
            affinity: Some(timeout),
            addrs: &refs,
            active: &none,
        };
        st.pick(ProxyMode::Ipvs(IpvsScheduler::Rr), &input, &mut rng)
    };
    // rr would rotate; affinity keeps client 1 on its first endpoint while its requests
    // come less than 10800 s apart (each request refreshes the timer).
    assert_eq!(pick(&mut st, 0, 1), 0);
    assert_eq!(pick(&mut st, 0, 2), 1);
    for t in [3600, 7200, 10_799 + 7200] {
        assert_eq!(pick(&mut st, t, 1), 0, "at {t}s");
    }
    // A gap of the full timeout: the entry expired, rr picks the next endpoint.
    assert_eq!(pick(&mut st, 10_799 + 7200 + 10_800, 1), 2);
}

fn service(json: &str) -> Service {
    serde_json::from_str(json).expect("valid JSON")
}

fn slice(json: &str) -> EndpointSlice {
    serde_json::from_str(json).expect("valid JSON")
}

fn ep(ip: &str, node: &str, zone: &str, ready: bool, serving: bool, terminating: bool) -> String {
    format!(
        r#"{{"addresses":["{ip}"],"nodeName":"{node}","zone":"{zone}","hints":{{"forZones":[{{"name":"{zone}"}}]}},"conditions":{{"ready":{ready},"serving":{serving},"terminating":{terminating}}}}}"#
    )
}

#[test]
fn endpoints_are_categorized_as_upstream_does() {
    let eps = [
        ep("10.0.2.5", "n2", "b", true, true, false),
        ep("10.0.1.5", "n1", "a", true, true, false),
        ep("10.0.1.6", "n1", "a", false, true, true),
    ];
    let s = slice(&format!(
        r#"{{"metadata":{{"name":"s"}},"endpoints":[{}],"ports":[{{"port":8080}}]}}"#,
        eps.join(",")
    ));
    let svc = |spec: &str| {
        service(&format!(
            r#"{{"metadata":{{"name":"web","namespace":"default"}},"spec":{{"ports":[{{"port":80}}]{spec}}}}}"#
        ))
    };
    let plain = ServiceRules::build(&svc(""), &[&s]);
    // Sorted by ip:port; ready endpoints only.
    assert_eq!(plain.endpoints[0].addr, "10.0.1.5:8080");
    assert_eq!(
        plain.verdict(TrafficClass::Internal, "n3", Some("a")),
        Verdict::Endpoints(vec![0, 2])
    );
    // Topology: every ready endpoint has hints and one is for zone a.
    let topo = ServiceRules::build(&svc(r#","trafficDistribution":"PreferClose""#), &[&s]);
    assert_eq!(
        topo.verdict(TrafficClass::Internal, "n3", Some("a")),
        Verdict::Endpoints(vec![0])
    );
    assert_eq!(
        topo.verdict(TrafficClass::Internal, "n3", Some("c")),
        Verdict::Endpoints(vec![0, 2]),
        "no hint for zone c: all ready endpoints"
    );
    // internalTrafficPolicy Local: local ready endpoints, else DROP.
    let local = ServiceRules::build(&svc(r#","internalTrafficPolicy":"Local""#), &[&s]);
    assert_eq!(
        local.verdict(TrafficClass::Internal, "n1", None),
        Verdict::Endpoints(vec![0])
    );
    assert_eq!(
        local.verdict(TrafficClass::Internal, "n9", None),
        Verdict::Drop
    );
    // Only a serving-terminating endpoint left: the fallback uses it.
    let term = slice(&format!(
        r#"{{"metadata":{{"name":"s"}},"endpoints":[{}],"ports":[{{"port":8080}}]}}"#,
        ep("10.0.1.6", "n1", "a", false, true, true)
    ));
    assert_eq!(
        ServiceRules::build(&svc(""), &[&term]).verdict(TrafficClass::Internal, "n3", None),
        Verdict::Endpoints(vec![0])
    );
    // No endpoint at all: REJECT.
    let empty = slice(r#"{"metadata":{"name":"s"},"endpoints":[]}"#);
    assert_eq!(
        ServiceRules::build(&svc(""), &[&empty]).verdict(TrafficClass::Internal, "n3", None),
        Verdict::Reject
    );
    // ClientIP affinity defaults to 10800 s.
    let aff = ServiceRules::build(&svc(r#","sessionAffinity":"ClientIP""#), &[&s]);
    assert_eq!(aff.affinity, Some(SimDuration::from_secs(10_800)));
}

#[test]
fn kube_proxy_vector_rows_hold() {
    let Some(doc) = common::controller_vectors() else {
        return;
    };
    let row = common::controller_vector_row(&doc, "kubeproxy.iptables.probabilities");
    for (n, want) in row["expected"]["rule_probabilities"]
        .as_object()
        .expect("a map")
    {
        let n: usize = n.parse().expect("a count");
        let got: Vec<serde_json::Value> = rules::rule_probabilities(n)
            .into_iter()
            .map(|p| p.map_or(serde_json::Value::Null, serde_json::Value::String))
            .collect();
        assert_eq!(&serde_json::Value::Array(got), want, "n = {n}");
    }
    let row = common::controller_vector_row(&doc, "kubeproxy.iptables.probability_strings");
    let ns = row["inputs"]["n"].as_array().expect("inputs");
    for (n, want) in ns
        .iter()
        .zip(row["expected"]["string"].as_array().expect("strings"))
    {
        let n = n.as_u64().expect("n") as usize;
        assert_eq!(
            rules::compute_probability(n),
            want.as_str().expect("a string")
        );
    }
    let row = common::controller_vector_row(&doc, "kubeproxy.ipvs_schedulers");
    let modelled = ["rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "dh"];
    for s in row["expected"]["schedulers"].as_array().expect("a list") {
        let s = s.as_str().expect("a name");
        let parsed = IpvsScheduler::parse(s);
        assert_eq!(parsed.is_ok(), modelled.contains(&s), "{s}: {parsed:?}");
        if let Err(e) = parsed {
            assert!(e.contains("not modelled"), "{e}");
        }
    }
    assert_eq!(
        IpvsScheduler::parse(row["expected"]["default"].as_str().expect("default")),
        Ok(IpvsScheduler::default())
    );
    assert_eq!(
        row["expected"]["sessionAffinity_ClientIP_default_timeoutSeconds"],
        rules::DEFAULT_AFFINITY_TIMEOUT_S
    );
}

const BASE: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  seed: 2
  duration: 2m
  metrics: {interval: 10s}
  cluster:
    nodePools:
      - name: node
        count: 4
        zones: [a, b]
        template: {status: {capacity: {cpu: "8", memory: 16Gi, pods: "110"}}}
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: default}
      spec:
        replicas: 4
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers: [{name: c, image: web:1, resources: {requests: {cpu: 100m}}}]
    - apiVersion: v1
      kind: Service
      metadata: {name: web, namespace: default}
      spec: {selector: {app: web}, ports: [{port: 80}]SVC}
"#;

fn scenario(svc_extra: &str, traffic: &str) -> String {
    format!("{}  traffic:\n{traffic}", BASE.replace("SVC", svc_extra))
}

#[test]
fn batch_mode_agrees_with_exact_mode_on_a_healthy_service() {
    let src = |mode: &str| {
        scenario(
            "",
            &format!(
                "    sources:\n      - {{name: s, service: web, from: {{zone: a}}, steps: [{{at: 10s, rate: 400}}], serviceTime: {{exponential: {{mean: 20ms}}}}, concurrency: 4, mode: {mode}}}\n"
            ),
        )
    };
    let (_, _, exact) = run_text(&src("exact"));
    let (_, _, batch) = run_text(&src("batch"));
    let e = &exact.services["default/web"];
    let b = &batch.services["default/web"];
    // 400 req/s for 110 s.
    for s in [e, b] {
        assert!((42_000..46_000).contains(&s.requests), "{s:?}");
        assert_eq!(s.succeeded, s.requests, "{s:?}");
    }
    let close = |x: f64, y: f64, tol: f64| (x - y).abs() <= tol * x.max(y);
    let (ep50, bp50) = (e.latency_p50_ms.unwrap(), b.latency_p50_ms.unwrap());
    let (ep99, bp99) = (e.latency_p99_ms.unwrap(), b.latency_p99_ms.unwrap());
    println!("exact p50 {ep50} p99 {ep99}; batch p50 {bp50} p99 {bp99}");
    assert!(close(ep50, bp50, 0.15), "p50 exact {ep50} batch {bp50}");
    assert!(close(ep99, bp99, 0.25), "p99 exact {ep99} batch {bp99}");
}

#[test]
fn traffic_rate_changes_and_internal_local_policy_show_in_the_outputs() {
    let text = scenario(
        ", internalTrafficPolicy: Local",
        "    sources:\n      - {name: s, service: web, from: {node: node-0}, rate: 50, arrival: constant}\n",
    )
    .replace(
        "  traffic:",
        "  events:\n    - {name: surge, at: 60s, duration: 30s, trafficRate: {source: s, rate: 200}}\n  traffic:",
    );
    let (events, services, summary) = run_text(&text);
    assert!(events.contains("traffic source s at 200 req/s"), "{events}");
    assert!(events.contains("traffic source s back to its schedule"));
    let r = rows(&services);
    let at = |t: f64| r.iter().find(|x| x.0 == t).expect("a row").1;
    assert_eq!(at(50.0), 500, "50 req/s, constant");
    assert_eq!(at(80.0), 2000, "200 req/s during the surge");
    assert_eq!(at(110.0), 500, "back to 50");
    // node-0 runs a web pod (4 replicas spread over 4 nodes), so Local serves every request.
    let s = &summary.services["default/web"];
    assert_eq!(s.timed_out, 0, "{s:?}");
}

#[test]
fn local_policy_without_a_local_endpoint_drops_and_no_endpoint_refuses() {
    // Replicas 0 and a Local policy on a node without endpoints.
    let text = scenario(
        ", internalTrafficPolicy: Local",
        "    sources:\n      - {name: s, service: web, from: {zone: a}, rate: 20}\n",
    )
    .replace("replicas: 4", "replicas: 0");
    let (_, _, summary) = run_text(&text);
    let s = &summary.services["default/web"];
    assert!(s.requests > 0);
    assert_eq!(
        s.refused, s.requests,
        "no endpoint anywhere: REJECT ({s:?})"
    );
}

#[test]
fn bad_traffic_input_is_reported_with_its_place() {
    let no_files = |_: &Path| Err(std::io::Error::other("no files"));
    let bad = scenario(
        "",
        "    proxy: {mode: ipvs, ipvsScheduler: lblc}\n    sources:\n      - {name: s, service: web, rate: 5, arrival: bursty}\n",
    );
    let err = kubesim::scenario::load_str("t.yaml", &bad, Path::new("."), &no_files)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("spec.traffic.proxy.ipvsScheduler"), "{err}");
    assert!(err.contains("not modelled"), "{err}");
    assert!(err.contains("spec.traffic.sources[0].arrival"), "{err}");
    let unknown = scenario(
        "",
        "    sources:\n      - {name: s, service: web, rate: 5, burst: 3}\n",
    );
    let err = kubesim::scenario::load_str("t.yaml", &unknown, Path::new("."), &no_files)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("burst"), "{err}");
    assert!(err.contains("t.yaml:"), "a line and column: {err}");
    let orphan = scenario(
        "",
        "    sources:\n      - {name: s, service: web, rate: 5}\n",
    )
    .replace(
        "  traffic:",
        "  events:\n    - {name: x, at: 5s, trafficRate: {source: nope, rate: 1}}\n  traffic:",
    );
    let err = kubesim::scenario::load_str("t.yaml", &orphan, Path::new("."), &no_files)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("spec.events[0].trafficRate.source"), "{err}");
}

#[test]
fn arrivals_replay_the_azure_llm_inference_trace() {
    let Some(dir) = common::realdata("arrivals_replay_the_azure_llm_inference_trace") else {
        return;
    };
    let csv = dir.join("azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv");
    let text = scenario(
        "",
        &format!(
            "    sources:\n      - {{name: llm, service: web, from: {{zone: b}}, csv: {{path: {}}}, serviceTime: {{constant: 50ms}}}}\n",
            csv.display()
        ),
    );
    let read = |p: &Path| std::fs::read_to_string(p);
    let s = kubesim::scenario::load_str("t.yaml", &text, Path::new("/"), &read)
        .unwrap_or_else(|e| panic!("{e}"));
    // Count the trace's arrivals within the run (2 minutes from its first row).
    let body = std::fs::read_to_string(&csv).expect("the trace");
    let times: Vec<f64> = body
        .lines()
        .skip(1)
        .filter_map(|l| {
            let ts = l.split(',').next()?;
            let (_, hms) = ts.split_once(' ')?;
            let mut p = hms.split(':');
            let h: f64 = p.next()?.parse().ok()?;
            let m: f64 = p.next()?.parse().ok()?;
            let sec: f64 = p.next()?.parse().ok()?;
            Some(h * 3600.0 + m * 60.0 + sec)
        })
        .collect();
    let first = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let within = times.iter().filter(|t| **t - first <= 120.0).count() as u64;
    let (_, _, summary) = run_scenario(&s);
    let got = summary.services["default/web"].requests;
    assert!(
        within > 10,
        "the trace has arrivals in its first two minutes"
    );
    assert!(
        got.abs_diff(within) <= 1,
        "requests {got}, trace rows in 2 min {within}"
    );
}

#[test]
fn the_same_seed_gives_the_same_services_csv() {
    let text = scenario(
        "",
        "    sources:\n      - {name: s, service: web, from: {client: internet}, rate: 300}\n",
    );
    let (_, a, _) = run_text(&text);
    let (_, b, _) = run_text(&text);
    assert_eq!(a, b);
    assert!(a.lines().count() > 5);
}

#[test]
fn a_node_cut_from_the_control_plane_keeps_serving_local_clients_while_it_is_replaced() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/partition-from-control-plane.yaml");
    let (events, services, summary) = run_file(&path);
    // The control plane's view: node-0 NotReady, its pod evicted and replaced.
    let not_ready = event_time(&events, "NodeNotReady", "Node/node-0").expect("NotReady");
    assert!((100.0..=125.0).contains(&not_ready), "{not_ready}");
    // node-0's own clients (internalTrafficPolicy Local) are served by the old pod all
    // along: every interval of the cut has requests and no failure.
    let local: Vec<_> = services
        .lines()
        .filter(|l| l.contains(",default/web-local,"))
        .map(row)
        .filter(|r| r.0 > 70.0 && r.0 <= 300.0)
        .collect();
    assert!(!local.is_empty());
    for r in &local {
        assert!(r.1 > 0 && r.2 == r.1, "interval ending {}s: {r:?}", r.0);
    }
    assert_all_passed(&summary);
}
