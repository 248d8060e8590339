//! The API store and watches: resourceVersions, optimistic concurrency, delivery order,
//! selectors on watches, cascading deletion.

use std::cell::RefCell;
use std::rc::Rc;

use kubesim::api::objects::{Kind, Object, ObjectKey, Pod};
use kubesim::api::{
    ApiError, DeleteOptions, DeleteOutcome, OwnerReference, Propagation, Selector, Store,
    StoreLimits, WatchEvent, WatchEventType, WatchFilter,
};
use kubesim::runtime::{Cluster, Component, Context, RunConfig, WatchConfig};
use kubesim::sim::{RngFactory, SimDuration};
use proptest::prelude::*;

fn store() -> Store {
    Store::new(RngFactory::new(7).stream("test"), StoreLimits::default())
}

fn pod(name: &str, labels: &[(&str, &str)]) -> Object {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.metadata.labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    p.spec
        .containers
        .push(kubesim::api::objects::pod::Container {
            name: "c".into(),
            image: "nginx:1.27".into(),
            ..Default::default()
        });
    Object::Pod(p)
}

fn pod_key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Pod, "default", name)
}

#[derive(Clone, Debug)]
enum Op {
    Create(u8),
    Update(u8, u8),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8).prop_map(Op::Create),
        (0u8..8, 0u8..4).prop_map(|(a, b)| Op::Update(a, b)),
        (0u8..8).prop_map(Op::Delete),
    ]
}

/// Applies `op` to the store; returns whether it wrote.
fn apply(s: &mut Store, op: &Op) -> bool {
    match op {
        Op::Create(i) => s.create(pod(&format!("p{i}"), &[("v", "0")])).is_ok(),
        Op::Update(i, v) => match s.get(&pod_key(&format!("p{i}"))).cloned() {
            Some(cur) => {
                let mut next = (*cur).clone();
                next.meta_mut().labels.insert("v".into(), v.to_string());
                s.update(next).is_ok()
            }
            None => false,
        },
        Op::Delete(i) => s
            .delete(&pod_key(&format!("p{i}")), &DeleteOptions::default())
            .is_ok(),
    }
}

proptest! {
    #[test]
    fn resource_versions_increase_with_every_change(ops in prop::collection::vec(op(), 1..60)) {
        let mut s = store();
        let mut last = s.resource_version();
        for op in &ops {
            apply(&mut s, op);
            for change in s.take_changes() {
                prop_assert!(change.resource_version > last);
                prop_assert_eq!(change.object.meta().resource_version, change.resource_version);
                last = change.resource_version;
            }
            prop_assert_eq!(s.resource_version(), last);
        }
    }

    #[test]
    fn every_watcher_sees_changes_in_resource_version_order(
        ops in prop::collection::vec(op(), 1..40),
        latency_ms in 0u64..50,
        jitter_ms in 0u64..50,
        seed in any::<u64>(),
    ) {
        let config = RunConfig {
            seed,
            duration: SimDuration::from_secs(60),
            watch: WatchConfig { latency: SimDuration::from_millis(latency_ms), jitter: SimDuration::from_millis(jitter_ms) },
            ..RunConfig::default()
        };
        let mut cluster = Cluster::new(config, Box::new(std::io::sink()), Box::new(std::io::sink()));
        let seen = Rc::new(RefCell::new(Vec::new()));
        cluster.add_component(Box::new(Observer { name: "all".into(), filter: WatchFilter::kinds(&[Kind::Pod]), seen: seen.clone() })).unwrap();
        let seen_labelled = Rc::new(RefCell::new(Vec::new()));
        let sel = Selector::parse("v in (1,2)").unwrap();
        cluster.add_component(Box::new(Observer {
            name: "labelled".into(),
            filter: WatchFilter { kinds: vec![Kind::Pod], labels: Some(sel), ..WatchFilter::default() },
            seen: seen_labelled.clone(),
        })).unwrap();
        cluster.add_component(Box::new(Driver { ops: ops.clone(), next: 0 })).unwrap();
        cluster.run().unwrap();
        for log in [&seen, &seen_labelled] {
            let rvs: Vec<u64> = log.borrow().iter().map(|(_, rv, _)| *rv).collect();
            prop_assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{:?}", rvs);
        }
        // The filtered watcher's view is consistent: Added before Modified/Deleted per pod,
        // and it only ever holds pods whose label matched when it was told about them.
        let mut present = std::collections::BTreeSet::new();
        for (name, _, t) in seen_labelled.borrow().iter() {
            match t {
                WatchEventType::Added => prop_assert!(present.insert(name.clone())),
                WatchEventType::Modified => prop_assert!(present.contains(name)),
                WatchEventType::Deleted => prop_assert!(present.remove(name)),
            }
        }
    }
}

/// Applies one scripted op per timer tick, every 100 ms.
struct Driver {
    ops: Vec<Op>,
    next: usize,
}

impl Component for Driver {
    fn name(&self) -> String {
        "driver".into()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        Vec::new()
    }
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(SimDuration::from_millis(100), 0);
    }
    fn on_watch(&mut self, _: usize, _: &WatchEvent, _: &mut Context<'_>) {}
    fn on_timer(&mut self, _: u64, ctx: &mut Context<'_>) {
        let Some(op) = self.ops.get(self.next).cloned() else {
            return;
        };
        self.next += 1;
        match op {
            Op::Create(i) => {
                let _ = ctx.create(pod(&format!("p{i}"), &[("v", "1")]));
            }
            Op::Update(i, v) => {
                if let Some(cur) = ctx.get(&pod_key(&format!("p{i}"))) {
                    let mut next = (*cur).clone();
                    next.meta_mut().labels.insert("v".into(), v.to_string());
                    let _ = ctx.update(next);
                }
            }
            Op::Delete(i) => {
                let _ = ctx.delete(&pod_key(&format!("p{i}")), &DeleteOptions::default());
            }
        }
        ctx.set_timer(SimDuration::from_millis(100), 0);
    }
}

type Log = Rc<RefCell<Vec<(String, u64, WatchEventType)>>>;

struct Observer {
    name: String,
    filter: WatchFilter,
    seen: Log,
}

impl Component for Observer {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn watches(&self) -> Vec<WatchFilter> {
        vec![self.filter.clone()]
    }
    fn on_watch(&mut self, _: usize, e: &WatchEvent, _: &mut Context<'_>) {
        self.seen
            .borrow_mut()
            .push((e.object.meta().name.clone(), e.resource_version, e.type_));
    }
}

#[test]
fn update_with_a_stale_resource_version_is_a_conflict() {
    let mut s = store();
    let v1 = s.create(pod("p", &[])).unwrap();
    let mut a = (*v1).clone();
    a.meta_mut().labels.insert("x".into(), "1".into());
    let v2 = s.update(a).unwrap();
    assert!(v2.meta().resource_version > v1.meta().resource_version);
    let mut stale = (*v1).clone();
    stale.meta_mut().labels.insert("x".into(), "2".into());
    match s.update(stale) {
        Err(ApiError::Conflict { given, current, .. }) => {
            assert_eq!(given, v1.meta().resource_version);
            assert_eq!(current, v2.meta().resource_version);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn create_of_an_existing_name_fails_and_generate_name_is_seeded() {
    let mut s = store();
    s.create(pod("p", &[])).unwrap();
    assert!(matches!(
        s.create(pod("p", &[])),
        Err(ApiError::AlreadyExists { .. })
    ));
    let names = |seed| {
        let mut s = Store::new(
            RngFactory::new(seed).stream("apiserver/names"),
            StoreLimits::default(),
        );
        (0..3)
            .map(|_| {
                let mut p = pod("", &[]);
                p.meta_mut().generate_name = "web-".into();
                s.create(p).unwrap().meta().name.clone()
            })
            .collect::<Vec<_>>()
    };
    let a = names(1);
    assert_eq!(a, names(1));
    assert_ne!(a, names(2));
    assert!(
        a.iter().all(|n| n.len() == 9 && n.starts_with("web-")),
        "{a:?}"
    );
}

#[test]
fn generation_counts_spec_changes_only() {
    let mut s = store();
    let v1 = s.create(pod("p", &[])).unwrap();
    assert_eq!(v1.meta().generation, 1);
    let mut labels_only = (*v1).clone();
    labels_only.meta_mut().labels.insert("a".into(), "b".into());
    let v2 = s.update(labels_only).unwrap();
    assert_eq!(v2.meta().generation, 1);
    let Object::Pod(mut p) = (*v2).clone() else {
        unreachable!()
    };
    p.spec.containers[0].image = "nginx:1.28".into();
    let v3 = s.update(Object::Pod(p)).unwrap();
    assert_eq!(v3.meta().generation, 2);
}

fn owned_by(mut obj: Object, owner: &Object) -> Object {
    obj.meta_mut().owner_references.push(OwnerReference {
        api_version: owner.kind().api_version().into(),
        kind: owner.kind().as_str().into(),
        name: owner.meta().name.clone(),
        uid: owner.meta().uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    });
    obj
}

fn replica_set(name: &str) -> Object {
    let json = serde_json::json!({
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    });
    Object::from_json(Kind::ReplicaSet, json).unwrap()
}

#[test]
fn deleting_an_owner_cascades_to_its_dependents() {
    let mut s = store();
    let rs = s.create(replica_set("rs")).unwrap();
    s.create(owned_by(pod("unbound", &[]), &rs)).unwrap();
    let mut bound = owned_by(pod("bound", &[]), &rs);
    if let Object::Pod(p) = &mut bound {
        p.spec.node_name = "n1".into();
    }
    s.create(bound).unwrap();
    s.create(pod("unrelated", &[])).unwrap();
    s.take_changes();
    let rs_key = ObjectKey::new(Kind::ReplicaSet, "default", "rs");
    assert_eq!(
        s.delete(&rs_key, &DeleteOptions::default()),
        Ok(DeleteOutcome::Removed)
    );
    let changes = s.take_changes();
    let order: Vec<(WatchEventType, String)> = changes
        .iter()
        .map(|c| (c.type_, c.object.meta().name.clone()))
        .collect();
    // The owner goes first; the bound pod starts graceful termination (its kubelet finishes
    // it), the unbound one is removed at once.
    assert_eq!(
        order,
        vec![
            (WatchEventType::Deleted, "rs".to_string()),
            (WatchEventType::Modified, "bound".to_string()),
            (WatchEventType::Deleted, "unbound".to_string()),
        ]
    );
    let bound = s.get(&pod_key("bound")).unwrap();
    assert!(bound.meta().deletion_timestamp.is_some());
    assert_eq!(bound.meta().deletion_grace_period_seconds, Some(30));
    assert!(s.get(&pod_key("unrelated")).is_some());
    // The kubelet's final force delete removes it.
    assert_eq!(
        s.delete(&pod_key("bound"), &DeleteOptions::force()),
        Ok(DeleteOutcome::Removed)
    );
}

#[test]
fn orphan_propagation_keeps_dependents_and_drops_the_owner_reference() {
    let mut s = store();
    let rs = s.create(replica_set("rs")).unwrap();
    s.create(owned_by(pod("p", &[]), &rs)).unwrap();
    let opts = DeleteOptions {
        propagation: Propagation::Orphan,
        ..DeleteOptions::default()
    };
    s.delete(&ObjectKey::new(Kind::ReplicaSet, "default", "rs"), &opts)
        .unwrap();
    let p = s.get(&pod_key("p")).expect("the pod survives");
    assert!(p.meta().owner_references.is_empty());
}

#[test]
fn a_dependent_with_another_live_owner_survives() {
    let mut s = store();
    let a = s.create(replica_set("a")).unwrap();
    let b = s.create(replica_set("b")).unwrap();
    s.create(owned_by(owned_by(pod("p", &[]), &a), &b)).unwrap();
    s.delete(
        &ObjectKey::new(Kind::ReplicaSet, "default", "a"),
        &DeleteOptions::default(),
    )
    .unwrap();
    assert!(s.get(&pod_key("p")).is_some());
    s.delete(
        &ObjectKey::new(Kind::ReplicaSet, "default", "b"),
        &DeleteOptions::default(),
    )
    .unwrap();
    assert!(s.get(&pod_key("p")).is_none());
}

#[test]
fn finalizers_hold_an_object_until_they_are_removed() {
    let mut s = store();
    let mut svc = Object::from_json(
        Kind::Service,
        serde_json::json!({"metadata": {"name": "s", "finalizers": ["x/y"]}}),
    )
    .unwrap();
    svc = (*s.create(svc).unwrap()).clone();
    let key = ObjectKey::of(&svc);
    assert_eq!(
        s.delete(&key, &DeleteOptions::default()),
        Ok(DeleteOutcome::Terminating)
    );
    let mut cur = (**s.get(&key).unwrap()).clone();
    assert!(cur.meta().deletion_timestamp.is_some());
    cur.meta_mut().finalizers.clear();
    s.update(cur).unwrap();
    assert!(s.get(&key).is_none());
}

#[test]
fn set_based_selectors_follow_kubernetes_semantics() {
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let sel = Selector::parse("env in (prod,staging), tier notin (cache), !canary, app").unwrap();
    assert!(sel.matches(&labels(&[("env", "prod"), ("app", "web")])));
    assert!(sel.matches(&labels(&[
        ("env", "staging"),
        ("app", "web"),
        ("tier", "front")
    ])));
    assert!(!sel.matches(&labels(&[("env", "dev"), ("app", "web")])));
    assert!(!sel.matches(&labels(&[
        ("env", "prod"),
        ("app", "web"),
        ("tier", "cache")
    ])));
    assert!(!sel.matches(&labels(&[("env", "prod"), ("app", "web"), ("canary", "")])));
    assert!(!sel.matches(&labels(&[("env", "prod")])));
    let neq = Selector::parse("env!=prod").unwrap();
    assert!(
        neq.matches(&labels(&[])),
        "!= matches when the key is absent"
    );
}

#[test]
fn a_namespaced_create_needs_its_namespace() {
    let mut s = store();
    let mut p = pod("p", &[]);
    p.meta_mut().namespace = "nowhere".into();
    assert!(matches!(
        s.create(p),
        Err(ApiError::NamespaceNotFound { .. })
    ));
}

#[test]
fn the_store_stops_at_its_object_limit() {
    let mut s = Store::new(
        RngFactory::new(1).stream("t"),
        StoreLimits { max_objects: 6 },
    );
    s.create(pod("a", &[])).unwrap();
    s.create(pod("b", &[])).unwrap();
    assert!(matches!(
        s.create(pod("c", &[])),
        Err(ApiError::TooManyObjects { limit: 6 })
    ));
}

/// The metrics aggregates, folded change by change, equal a full recount of the store after
/// runs where the scheduler, kubelet and controllers write (the invariant in stats.rs).
#[test]
fn incremental_stats_equal_a_full_recount() {
    use kubesim::runtime::Stats;
    for file in ["quickstart.yaml", "kubelet.yaml", "crashloop.yaml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(file);
        let read = |p: &std::path::Path| std::fs::read_to_string(p);
        let scenario = kubesim::scenario::load(&path, &read).unwrap();
        let mut cluster = kubesim::setup::build(
            &scenario,
            Box::new(std::io::sink()),
            Box::new(std::io::sink()),
        )
        .unwrap();
        cluster.run().unwrap();
        let mut live = cluster.stats().clone();
        live.pods_by_phase.retain(|_, n| *n > 0);
        let full = Stats::recount(cluster.store().iter().map(|o| &**o));
        assert_eq!(live, full, "{file}");
        assert!(full.nodes > 0, "{file}: the check must see nodes");
    }
}
