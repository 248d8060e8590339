//! The EndpointSlice controller: scenarios driven through the library `Cluster`, checked at
//! every EndpointSlice write by an observer component that also follows the pods (so it
//! knows what the controller could have seen), and against the store at chosen moments.
//! Semantics: `../shared/reference/controllers.md` §6 "Endpoints / EndpointSlice".

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use common::Buf;
use kubesim::api::objects::networking::EndpointSlice;
use kubesim::api::objects::pod::Pod;
use kubesim::api::objects::{Kind, Object, ObjectKey};
use kubesim::api::{DeleteOptions, WatchEvent, WatchEventType, WatchFilter};
use kubesim::controllers::pods::is_ready;
use kubesim::runtime::{Cluster, Component, Context};
use kubesim::sim::{SimDuration, SimTime};

/// The scenario's watch latency (the default).
const LATENCY_MS: u64 = 10;

fn at(secs: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(secs))
}

#[derive(Default)]
struct Seen {
    /// Per pod: (write time ms, Ready and not terminating).
    history: BTreeMap<String, Vec<(u64, bool)>>,
    /// Slice writes checked, per service.
    writes: BTreeMap<String, usize>,
    violations: Vec<String>,
    /// Modified slice events that changed nothing.
    no_op_writes: usize,
}

/// Follows pods and slices. At every slice write (time `w`), each endpoint marked ready
/// (for a Service without publishNotReadyAddresses) must belong to a pod that was Ready and
/// not terminating at some moment the controller could have seen: its state at `w − latency`
/// or a state written within `[w − latency, w]`.
struct Observer {
    seen: Rc<RefCell<Seen>>,
}

impl Component for Observer {
    fn name(&self) -> String {
        "test-observer".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter::kinds(&[Kind::Pod]),
            WatchFilter::kinds(&[Kind::EndpointSlice]),
        ]
    }
    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        let w = ctx.now().as_millis() - LATENCY_MS;
        let mut seen = self.seen.borrow_mut();
        match (&*event.object, watch) {
            (Object::Pod(p), 0) => {
                let healthy = event.type_ != WatchEventType::Deleted
                    && p.metadata.deletion_timestamp.is_none()
                    && is_ready(p);
                seen.history
                    .entry(p.metadata.name.clone())
                    .or_default()
                    .push((w, healthy));
            }
            (Object::EndpointSlice(s), 1) if event.type_ != WatchEventType::Deleted => {
                if let Some(Object::EndpointSlice(old)) = event.old.as_deref()
                    && old.endpoints == s.endpoints
                    && old.ports == s.ports
                    && old.metadata.labels == s.metadata.labels
                {
                    seen.no_op_writes += 1;
                }
                let svc = s.metadata.labels["kubernetes.io/service-name"].clone();
                *seen.writes.entry(svc.clone()).or_default() += 1;
                if svc == "web-all" {
                    return; // publishNotReadyAddresses: every endpoint is ready
                }
                for e in &s.endpoints {
                    if e.conditions.ready != Some(true) {
                        continue;
                    }
                    let pod = e.target_ref.as_ref().unwrap().name.clone();
                    let h = seen.history.get(&pod).cloned().unwrap_or_default();
                    let cut = w.saturating_sub(LATENCY_MS);
                    let before = h.iter().rev().find(|(t, _)| *t < cut).is_some_and(|x| x.1);
                    let within = h.iter().any(|(t, ok)| *t >= cut && *t <= w && *ok);
                    if !before && !within {
                        seen.violations
                            .push(format!("t={w}ms {svc}: {pod} ready but not Ready ({h:?})"));
                    }
                }
            }
            _ => {}
        }
    }
}

fn start(yaml: &str) -> (Cluster, Rc<RefCell<Seen>>) {
    let scenario = kubesim::scenario::load_str("eps.yaml", yaml, Path::new("."), &|_| {
        Err(std::io::Error::other("no includes"))
    })
    .unwrap();
    let mut cluster = kubesim::setup::build(
        &scenario,
        Box::new(Buf::default()),
        Box::new(std::io::sink()),
    )
    .unwrap();
    let seen = Rc::new(RefCell::new(Seen::default()));
    cluster
        .add_component(Box::new(Observer { seen: seen.clone() }))
        .unwrap();
    (cluster, seen)
}

fn slices(cluster: &Cluster, service: &str) -> Vec<EndpointSlice> {
    cluster
        .store()
        .list(Kind::EndpointSlice)
        .filter_map(|o| match &**o {
            Object::EndpointSlice(s)
                if s.metadata
                    .labels
                    .get("kubernetes.io/service-name")
                    .map(String::as_str)
                    == Some(service) =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .collect()
}

fn pod(cluster: &Cluster, name: &str) -> Option<Pod> {
    match cluster
        .store()
        .get(&ObjectKey::new(Kind::Pod, "default", name))
        .map(|o| (**o).clone())
    {
        Some(Object::Pod(p)) => Some(p),
        _ => None,
    }
}

const SCENARIO: &str = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: eps}
spec:
  seed: 3
  duration: 30m
  cluster:
    nodePools:
      - name: node
        count: 2
        zones: [zone-a, zone-b]
        template:
          status:
            capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  behaviors:
    - name: never
      startupTime: 1h
    - name: web
      selector: {matchLabels: {app: web}}
      startupTime: {uniform: {min: 1s, max: 4s}}
      readinessDelay: 2s
      notReadyAfter: {uniform: {min: 5s, max: 15s}}
      notReadyFor: {uniform: {min: 2s, max: 6s}}
      terminationTime: 20s
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: default}
      spec:
        replicas: 3
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers:
              - name: app
                image: nginx:1.27
                ports: [{name: http, containerPort: 8080}]
                readinessProbe:
                  httpGet: {path: /healthz, port: 8080}
                  periodSeconds: 1
    - apiVersion: v1
      kind: Pod
      metadata:
        name: stuck
        namespace: default
        labels: {app: web}
        annotations: {kubesim.io/behavior: never}
      spec:
        containers:
          - name: app
            image: nginx:1.27
            ports: [{name: http, containerPort: 8080}]
            startupProbe:
              httpGet: {path: /healthz, port: 8080}
              failureThreshold: 1000
    - apiVersion: v1
      kind: Service
      metadata: {name: web, namespace: default, labels: {tier: front}}
      spec:
        selector: {app: web}
        ports: [{name: http, port: 80, targetPort: http}]
    - apiVersion: v1
      kind: Service
      metadata: {name: web-all, namespace: default}
      spec:
        selector: {app: web}
        publishNotReadyAddresses: true
        ports: [{port: 80, targetPort: 9090}]
"#;

#[test]
fn not_ready_pods_are_never_ready_endpoints_and_terminating_pods_are_marked() {
    let (mut cluster, seen) = start(SCENARIO);
    cluster.run_until(at(120)).unwrap();
    {
        let s = seen.borrow();
        assert!(s.violations.is_empty(), "{:#?}", s.violations);
        // Readiness flaps: many writes were checked.
        assert!(s.writes["web"] >= 10, "{:?}", s.writes);
        assert_eq!(s.no_op_writes, 0, "slices are written only on change");
    }
    let web = slices(&cluster, "web");
    assert_eq!(web.len(), 1);
    let slice = &web[0];
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(
        slice
            .metadata
            .labels
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    assert_eq!(
        slice.metadata.labels.get("tier").map(String::as_str),
        Some("front")
    );
    assert!(slice.metadata.name.starts_with("web-"));
    assert_eq!(slice.metadata.owner_references[0].kind, "Service");
    let ports: Vec<(Option<String>, Option<i32>)> = slice
        .ports
        .iter()
        .map(|p| (p.name.clone(), p.port))
        .collect();
    assert_eq!(ports, [(Some("http".to_string()), Some(8080))]);
    assert_eq!(slice.endpoints.len(), 4);
    let mut addresses: Vec<&str> = slice
        .endpoints
        .iter()
        .map(|e| e.addresses[0].as_str())
        .collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 4, "distinct pod IPs");
    for e in &slice.endpoints {
        let name = &e.target_ref.as_ref().unwrap().name;
        let p = pod(&cluster, name).unwrap();
        assert_eq!(e.addresses, std::slice::from_ref(&p.status.pod_ip));
        // Node i (in name order here) has 10.0.i.0/24; pods get .2 upwards.
        let prefix = if p.spec.node_name == "node-0" {
            "10.0.0."
        } else {
            "10.0.1."
        };
        assert!(p.status.pod_ip.starts_with(prefix), "{}", p.status.pod_ip);
        let host: u8 = p.status.pod_ip[prefix.len()..].parse().unwrap();
        assert!(host >= 2);
        assert_eq!(e.node_name.as_deref(), Some(p.spec.node_name.as_str()));
        let zone = if p.spec.node_name == "node-0" {
            "zone-a"
        } else {
            "zone-b"
        };
        assert_eq!(e.zone.as_deref(), Some(zone));
        assert_eq!(e.conditions.terminating, Some(false));
        if name == "stuck" {
            assert_eq!(
                (e.conditions.ready, e.conditions.serving),
                (Some(false), Some(false))
            );
        }
    }
    // publishNotReadyAddresses: every endpoint ready, the stuck pod included.
    let all = slices(&cluster, "web-all");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].endpoints.len(), 4);
    assert!(
        all[0]
            .endpoints
            .iter()
            .all(|e| e.conditions.ready == Some(true))
    );
    assert_eq!(all[0].ports[0].port, Some(9090));

    // Delete a web pod: it terminates for 20 s. Its endpoint stays, terminating, not
    // ready, serving while the pod is Ready.
    let victim = slice
        .endpoints
        .iter()
        .map(|e| e.target_ref.as_ref().unwrap().name.clone())
        .find(|n| n != "stuck")
        .unwrap();
    cluster
        .delete(
            &ObjectKey::new(Kind::Pod, "default", victim.clone()),
            &DeleteOptions::default(),
        )
        .unwrap();
    cluster.run_until(at(125)).unwrap();
    let p = pod(&cluster, &victim).expect("still terminating");
    assert!(p.metadata.deletion_timestamp.is_some());
    for (svc, ready) in [("web", false), ("web-all", true)] {
        let e = slices(&cluster, svc)[0]
            .endpoints
            .iter()
            .find(|e| e.target_ref.as_ref().unwrap().name == victim)
            .cloned()
            .expect("a terminating pod keeps its endpoint");
        assert_eq!(e.conditions.terminating, Some(true), "{svc}");
        assert_eq!(e.conditions.ready, Some(ready), "{svc}");
        assert_eq!(e.conditions.serving, Some(is_ready(&p)), "{svc}");
    }
    // Once it is gone its endpoint goes too; the replacement appears.
    cluster.run_until(at(200)).unwrap();
    let names: Vec<String> = slices(&cluster, "web")[0]
        .endpoints
        .iter()
        .map(|e| e.target_ref.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(!names.contains(&victim));
    let s = seen.borrow();
    assert!(s.violations.is_empty(), "{:#?}", s.violations);
    assert_eq!(s.no_op_writes, 0);
}

#[test]
fn large_services_are_split_into_slices_of_100_and_an_empty_service_keeps_a_placeholder() {
    let yaml = r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: eps-big}
spec:
  seed: 4
  duration: 30m
  cluster:
    nodePools:
      - name: node
        count: 2
        template:
          status:
            capacity: {cpu: "64", memory: 256Gi, pods: "110"}
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: big, namespace: default}
      spec:
        replicas: 150
        selector: {matchLabels: {app: big}}
        template:
          metadata: {labels: {app: big}}
          spec:
            terminationGracePeriodSeconds: 0
            containers: [{name: c, image: i, resources: {requests: {cpu: 10m}}}]
    - apiVersion: v1
      kind: Service
      metadata: {name: big, namespace: default}
      spec:
        selector: {app: big}
        ports: [{port: 80}]
"#;
    let (mut cluster, seen) = start(yaml);
    cluster.run_until(at(60)).unwrap();
    let count = |c: &Cluster| -> (Vec<usize>, usize) {
        let s = slices(c, "big");
        let mut sizes: Vec<usize> = s.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        let ready = s
            .iter()
            .flat_map(|s| s.endpoints.iter())
            .filter(|e| e.conditions.ready == Some(true))
            .count();
        (sizes, ready)
    };
    assert_eq!(count(&cluster), (vec![50, 100], 150));
    let scale = |c: &mut Cluster, n: i32| {
        let Some(Object::Deployment(mut d)) = c
            .store()
            .get(&ObjectKey::new(Kind::Deployment, "default", "big"))
            .map(|o| (**o).clone())
        else {
            panic!()
        };
        d.spec.replicas = Some(n);
        c.update(Object::Deployment(d)).unwrap();
    };
    scale(&mut cluster, 40);
    cluster.run_until(at(120)).unwrap();
    let (sizes, ready) = count(&cluster);
    assert_eq!(sizes.iter().sum::<usize>(), 40);
    assert_eq!(ready, 40);
    assert!(sizes.iter().all(|&n| n <= 100));
    scale(&mut cluster, 0);
    cluster.run_until(at(180)).unwrap();
    let s = slices(&cluster, "big");
    assert_eq!(s.len(), 1, "one placeholder slice");
    assert!(s[0].endpoints.is_empty() && s[0].ports.is_empty());
    assert_eq!(seen.borrow().no_op_writes, 0);
    // Deleting the Service deletes its slices (they are owned by it).
    cluster
        .delete(
            &ObjectKey::new(Kind::Service, "default", "big"),
            &DeleteOptions::default(),
        )
        .unwrap();
    cluster.run_until(at(190)).unwrap();
    assert!(slices(&cluster, "big").is_empty());
}
