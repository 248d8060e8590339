//! The API store: the cluster's single source of truth, as etcd plus kube-apiserver are.
//!
//! - Objects are keyed by kind/namespace/name in a `BTreeMap`, so every listing is ordered
//!   and deterministic. Each write stamps the next cluster-wide `resourceVersion`.
//! - Writes run defaulting, admission (pod priority from PriorityClass; DefaultTolerationSeconds
//!   on pod creation) and validation, then
//!   record a [`Change`] in an outbox that the runtime drains and fans out to watchers.
//!   Changes leave in resourceVersion order.
//! - `update` with a stale `resourceVersion` fails with [`ApiError::Conflict`]; a
//!   resourceVersion of 0 means an unconditional update.
//! - `generateName` suffixes are five characters from upstream's alphabet, drawn from the
//!   store's own random stream: deterministic per seed.
//! - Deleting an owner deletes its dependents (ownerReferences) in the background, as the
//!   garbage collector does; `Orphan` strips the owner reference instead. Kubesim runs the
//!   cascade inside the same call, right after the owner's `Deleted` change (upstream's GC
//!   does it asynchronously, moments later). `Foreground` is treated as `Background`.
//! - Pods bound to a node are deleted gracefully: `deletionTimestamp = now + grace` and the
//!   pod stays until its kubelet (or a force delete) removes it, as upstream's pod strategy.
//!   Objects with finalizers stay until their finalizers are removed.
//! - Every collection is bounded: `max_objects` objects; cascades are bounded by the store size.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rand::RngExt;

use crate::api::defaults;
use crate::api::error::ApiError;
use crate::api::meta::Time;
use crate::api::objects::{Kind, Object, ObjectKey};
use crate::api::validation;
use crate::api::watch::{Change, WatchEventType};
use crate::sim::{RngStream, SimDuration, SimTime};

/// Namespaces that exist in every cluster from the start.
pub const INITIAL_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

/// Built-in priority classes (`pkg/apis/scheduling/types.go`).
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i32)] = &[
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

/// Upstream's name-suffix alphabet (`k8s.io/apimachinery/pkg/util/rand`): no vowels, no
/// look-alike characters.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const GENERATED_SUFFIX_LEN: usize = 5;
const GENERATE_NAME_ATTEMPTS: usize = 8;
const MAX_NAME_PREFIX_LEN: usize = 63 - GENERATED_SUFFIX_LEN;

/// Store bounds. Default: 5 million objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_objects: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_objects: 5_000_000,
        }
    }
}

/// Admission plugin settings (kube-apiserver flags). Default: upstream's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// `--default-not-ready-toleration-seconds`: 300.
    pub default_not_ready_toleration_seconds: i64,
    /// `--default-unreachable-toleration-seconds`: 300.
    pub default_unreachable_toleration_seconds: i64,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            default_not_ready_toleration_seconds: 300,
            default_unreachable_toleration_seconds: 300,
        }
    }
}

/// How dependents are treated when their owner is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

/// Options of a delete call (metav1.DeleteOptions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// `None`: the object's default (a pod's `terminationGracePeriodSeconds`). `Some(0)`: force.
    pub grace_period_seconds: Option<i64>,
    pub propagation: Propagation,
    /// Fail with Conflict unless the object has this uid.
    pub precondition_uid: Option<String>,
    /// Fail with Conflict unless the object has this resourceVersion.
    pub precondition_resource_version: Option<u64>,
}

impl DeleteOptions {
    /// Immediate removal, skipping graceful termination (`--grace-period=0 --force`).
    pub fn force() -> Self {
        DeleteOptions {
            grace_period_seconds: Some(0),
            ..DeleteOptions::default()
        }
    }
}

/// What a successful delete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The object is gone.
    Removed,
    /// Graceful deletion or finalizers: the object now has a deletionTimestamp.
    Terminating,
}

pub struct Store {
    objects: BTreeMap<ObjectKey, Arc<Object>>,
    by_uid: HashMap<String, ObjectKey>,
    /// owner uid -> keys of objects that name it in ownerReferences.
    dependents: HashMap<String, BTreeSet<ObjectKey>>,
    resource_version: u64,
    uid_count: u64,
    names: RngStream,
    now: SimTime,
    changes: Vec<Change>,
    limits: StoreLimits,
    admission: AdmissionConfig,
}

impl Store {
    /// A store holding the initial namespaces. `names` is the stream generateName draws from.
    pub fn new(names: RngStream, limits: StoreLimits) -> Store {
        let mut store = Store {
            objects: BTreeMap::new(),
            by_uid: HashMap::new(),
            dependents: HashMap::new(),
            resource_version: 0,
            uid_count: 0,
            names,
            now: SimTime::ZERO,
            changes: Vec::new(),
            limits,
            admission: AdmissionConfig::default(),
        };
        for ns in INITIAL_NAMESPACES {
            let mut obj = Object::Namespace(Default::default());
            obj.meta_mut().name = (*ns).to_string();
            store
                .create(obj)
                .expect("initial namespaces are valid and distinct");
        }
        store.changes.clear();
        store
    }

    /// Sets the admission plugins' settings (for later writes).
    pub fn set_admission(&mut self, admission: AdmissionConfig) {
        self.admission = admission;
    }

    /// Sets the store's clock (for timestamps). Time never goes backwards.
    pub fn set_time(&mut self, now: SimTime) {
        self.now = self.now.max(now);
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.objects.get(key)
    }

    pub fn get_by_uid(&self, uid: &str) -> Option<&Arc<Object>> {
        self.by_uid.get(uid).and_then(|k| self.objects.get(k))
    }

    /// Every object of `kind`, ordered by namespace then name. O(log n + k).
    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Arc<Object>> {
        self.objects
            .range(ObjectKey::new(kind, "", "")..)
            .take_while(move |(k, _)| k.kind == kind)
            .map(|(_, o)| o)
    }

    /// Objects of `kind` in `namespace`, ordered by name.
    pub fn list_namespaced<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Object>> {
        self.objects
            .range(ObjectKey::new(kind, namespace, "")..)
            .take_while(move |(k, _)| k.kind == kind && k.namespace == namespace)
            .map(|(_, o)| o)
    }

    /// Every object, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.objects.values()
    }

    /// Takes the changes recorded since the last call, in resourceVersion order.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Creates an object: namespace defaulting, generateName, defaulting, admission,
    /// validation, then insert.
    pub fn create(&mut self, mut obj: Object) -> Result<Arc<Object>, ApiError> {
        let kind = obj.kind();
        normalize_namespace(&mut obj);
        let namespace = obj.meta().namespace.clone();
        if kind.is_namespaced()
            && !self
                .objects
                .contains_key(&ObjectKey::new(Kind::Namespace, "", namespace.clone()))
        {
            return Err(ApiError::NamespaceNotFound { namespace });
        }
        if self.objects.len() >= self.limits.max_objects {
            return Err(ApiError::TooManyObjects {
                limit: self.limits.max_objects,
            });
        }
        if obj.meta().name.is_empty() && !obj.meta().generate_name.is_empty() {
            let name = self.generate_name(kind, &namespace, &obj.meta().generate_name)?;
            obj.meta_mut().name = name;
        }
        // The API server fills the uid before the registry's PrepareForCreate (a Job's
        // generated selector names it); it is only kept if the create succeeds.
        obj.meta_mut().uid = format_uid(self.uid_count + 1);
        defaults::apply(&mut obj);
        self.default_toleration_seconds(&mut obj);
        self.admit(&mut obj)?;
        let key = ObjectKey::of(&obj);
        let errors = validation::validate(&obj);
        if !errors.is_empty() {
            return Err(ApiError::Invalid { key, errors });
        }
        if self.objects.contains_key(&key) {
            return Err(ApiError::AlreadyExists { key });
        }
        self.uid_count += 1;
        self.resource_version += 1;
        let meta = obj.meta_mut();
        meta.uid = format_uid(self.uid_count);
        meta.resource_version = self.resource_version;
        meta.generation = 1;
        meta.creation_timestamp = Time(self.now);
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        let obj = Arc::new(obj);
        self.index(&key, &obj);
        self.objects.insert(key, obj.clone());
        self.changes.push(Change {
            type_: WatchEventType::Added,
            object: obj.clone(),
            old: None,
            resource_version: self.resource_version,
        });
        Ok(obj)
    }

    /// Replaces an object. Fails with Conflict if `obj` carries a resourceVersion other than
    /// the stored one (0 means unconditional). uid, creationTimestamp and deletionTimestamp
    /// are kept from the stored object; generation increments when the spec changed.
    pub fn update(&mut self, mut obj: Object) -> Result<Arc<Object>, ApiError> {
        normalize_namespace(&mut obj);
        let key = ObjectKey::of(&obj);
        let Some(current) = self.objects.get(&key).cloned() else {
            return Err(ApiError::NotFound { key });
        };
        let given = obj.meta().resource_version;
        let cur_meta = current.meta();
        if given != 0 && given != cur_meta.resource_version {
            return Err(ApiError::Conflict {
                key,
                given,
                current: cur_meta.resource_version,
            });
        }
        obj.meta_mut().uid = cur_meta.uid.clone();
        defaults::apply(&mut obj);
        if let (Object::Pod(new), Object::Pod(old)) = (&mut obj, &*current) {
            // Priority is immutable once admitted.
            new.spec.priority = old.spec.priority;
        }
        let errors = validation::validate(&obj);
        if !errors.is_empty() {
            return Err(ApiError::Invalid { key, errors });
        }
        let generation_changed = !obj.same_generation_fields(&current);
        self.resource_version += 1;
        let meta = obj.meta_mut();
        meta.uid = cur_meta.uid.clone();
        meta.creation_timestamp = cur_meta.creation_timestamp;
        meta.generation = cur_meta.generation + i64::from(generation_changed);
        meta.resource_version = self.resource_version;
        if cur_meta.deletion_timestamp.is_some() {
            meta.deletion_timestamp = cur_meta.deletion_timestamp;
            meta.deletion_grace_period_seconds = cur_meta.deletion_grace_period_seconds;
        } else {
            meta.deletion_timestamp = None;
            meta.deletion_grace_period_seconds = None;
        }
        let finalized = meta.deletion_timestamp.is_some()
            && meta.finalizers.is_empty()
            && !cur_meta.finalizers.is_empty();
        let obj = Arc::new(obj);
        self.unindex(&key, &current);
        self.index(&key, &obj);
        self.objects.insert(key.clone(), obj.clone());
        self.changes.push(Change {
            type_: WatchEventType::Modified,
            object: obj.clone(),
            old: Some(current),
            resource_version: self.resource_version,
        });
        if finalized {
            self.remove(&key, Propagation::Background);
        }
        Ok(obj)
    }

    /// Deletes an object (see the module doc for graceful deletion, finalizers and cascades).
    pub fn delete(
        &mut self,
        key: &ObjectKey,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        let Some(current) = self.objects.get(key).cloned() else {
            return Err(ApiError::NotFound { key: key.clone() });
        };
        let meta = current.meta();
        if let Some(uid) = &opts.precondition_uid
            && uid != &meta.uid
        {
            return Err(ApiError::Conflict {
                key: key.clone(),
                given: 0,
                current: meta.resource_version,
            });
        }
        if let Some(rv) = opts.precondition_resource_version
            && rv != meta.resource_version
        {
            return Err(ApiError::Conflict {
                key: key.clone(),
                given: rv,
                current: meta.resource_version,
            });
        }
        let grace = graceful_deletion_period(&current, opts.grace_period_seconds);
        if grace > 0 || !meta.finalizers.is_empty() {
            if let Some(existing) = meta.deletion_grace_period_seconds
                && meta.deletion_timestamp.is_some()
                && existing <= grace
            {
                return Ok(DeleteOutcome::Terminating);
            }
            if grace == 0 && meta.deletion_timestamp.is_some() {
                return Ok(DeleteOutcome::Terminating);
            }
            let mut next = (*current).clone();
            self.resource_version += 1;
            let m = next.meta_mut();
            let grace_secs = u64::try_from(grace).unwrap_or(0);
            m.deletion_timestamp = Some(Time(
                self.now.saturating_add(SimDuration::from_secs(grace_secs)),
            ));
            m.deletion_grace_period_seconds = Some(grace);
            m.resource_version = self.resource_version;
            let next = Arc::new(next);
            self.objects.insert(key.clone(), next.clone());
            self.changes.push(Change {
                type_: WatchEventType::Modified,
                object: next,
                old: Some(current),
                resource_version: self.resource_version,
            });
            return Ok(DeleteOutcome::Terminating);
        }
        self.remove(key, opts.propagation);
        Ok(DeleteOutcome::Removed)
    }

    /// Removes an object now and cascades to its dependents (and, for a Namespace, to every
    /// object in it). Iterative: the work list is bounded by the number of stored objects.
    fn remove(&mut self, key: &ObjectKey, propagation: Propagation) {
        let mut work = vec![(key.clone(), propagation)];
        while let Some((key, propagation)) = work.pop() {
            let Some(obj) = self.objects.remove(&key) else {
                continue;
            };
            self.unindex(&key, &obj);
            self.resource_version += 1;
            let mut last = (*obj).clone();
            last.meta_mut().resource_version = self.resource_version;
            self.changes.push(Change {
                type_: WatchEventType::Deleted,
                object: Arc::new(last),
                old: Some(obj.clone()),
                resource_version: self.resource_version,
            });
            let uid = obj.meta().uid.clone();
            let mut next: Vec<ObjectKey> = Vec::new();
            if key.kind == Kind::Namespace {
                next.extend(
                    self.objects
                        .keys()
                        .filter(|k| k.kind.is_namespaced() && k.namespace == key.name)
                        .cloned(),
                );
            }
            let deps = self.dependents.remove(&uid).unwrap_or_default();
            match propagation {
                Propagation::Orphan => {
                    for dep in deps {
                        self.orphan(&dep, &uid);
                    }
                }
                Propagation::Background | Propagation::Foreground => {
                    for dep in deps {
                        if !self.has_live_owner(&dep) {
                            next.push(dep);
                        }
                    }
                }
            }
            // Reverse so that popping handles dependents in key order.
            for dep in next.into_iter().rev() {
                match self
                    .objects
                    .get(&dep)
                    .map(|o| graceful_deletion_period(o, None))
                {
                    Some(grace) if grace > 0 => {
                        let _ = self.delete(&dep, &DeleteOptions::default());
                    }
                    Some(_) => work.push((dep, Propagation::Background)),
                    None => {}
                }
            }
        }
    }

    fn has_live_owner(&self, key: &ObjectKey) -> bool {
        self.objects.get(key).is_some_and(|o| {
            o.meta()
                .owner_references
                .iter()
                .any(|r| self.by_uid.contains_key(&r.uid))
        })
    }

    fn orphan(&mut self, key: &ObjectKey, owner_uid: &str) {
        if let Some(obj) = self.objects.get(key) {
            let mut next = (**obj).clone();
            next.meta_mut()
                .owner_references
                .retain(|r| r.uid != owner_uid);
            next.meta_mut().resource_version = 0;
            let _ = self.update(next);
        }
    }

    fn index(&mut self, key: &ObjectKey, obj: &Object) {
        let meta = obj.meta();
        self.by_uid.insert(meta.uid.clone(), key.clone());
        for r in &meta.owner_references {
            self.dependents
                .entry(r.uid.clone())
                .or_default()
                .insert(key.clone());
        }
    }

    fn unindex(&mut self, key: &ObjectKey, obj: &Object) {
        let meta = obj.meta();
        self.by_uid.remove(&meta.uid);
        for r in &meta.owner_references {
            if let Some(set) = self.dependents.get_mut(&r.uid) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(&r.uid);
                }
            }
        }
    }

    fn generate_name(
        &mut self,
        kind: Kind,
        namespace: &str,
        prefix: &str,
    ) -> Result<String, ApiError> {
        let base: String = prefix.chars().take(MAX_NAME_PREFIX_LEN).collect();
        for _ in 0..GENERATE_NAME_ATTEMPTS {
            let mut name = base.clone();
            for _ in 0..GENERATED_SUFFIX_LEN {
                let i = self.names.random_range(0..NAME_ALPHABET.len());
                name.push(NAME_ALPHABET[i] as char);
            }
            if !self
                .objects
                .contains_key(&ObjectKey::new(kind, namespace, name.clone()))
            {
                return Ok(name);
            }
        }
        Err(ApiError::NameGenerationFailed {
            prefix: prefix.to_string(),
        })
    }

    /// DefaultTolerationSeconds admission (`plugin/pkg/admission/defaulttolerationseconds`):
    /// a new pod that does not tolerate `node.kubernetes.io/not-ready:NoExecute` (resp.
    /// `unreachable`) gets a toleration for it (operator Exists) for 300 s. A toleration
    /// with an empty key or an empty effect counts as tolerating, as upstream checks it.
    fn default_toleration_seconds(&self, obj: &mut Object) {
        use crate::api::objects::pod::{TaintEffect, Toleration, TolerationOperator};
        let Object::Pod(pod) = obj else { return };
        let covers = |t: &Toleration, key: &str| {
            (t.key == key || t.key.is_empty())
                && (t.effect == Some(TaintEffect::NoExecute) || t.effect.is_none())
        };
        for (key, secs) in [
            (
                "node.kubernetes.io/not-ready",
                self.admission.default_not_ready_toleration_seconds,
            ),
            (
                "node.kubernetes.io/unreachable",
                self.admission.default_unreachable_toleration_seconds,
            ),
        ] {
            if !pod.spec.tolerations.iter().any(|t| covers(t, key)) {
                pod.spec.tolerations.push(Toleration {
                    key: key.to_string(),
                    operator: Some(TolerationOperator::Exists),
                    value: String::new(),
                    effect: Some(TaintEffect::NoExecute),
                    toleration_seconds: Some(secs),
                });
            }
        }
    }

    /// Priority admission (`plugin/pkg/admission/priority`): a pod without a priority gets
    /// the value of its PriorityClass, or of the global default class, or 0.
    fn admit(&self, obj: &mut Object) -> Result<(), ApiError> {
        let Object::Pod(pod) = obj else {
            return Ok(());
        };
        if pod.spec.priority.is_some() {
            return Ok(());
        }
        let class_name = pod.spec.priority_class_name.clone();
        if class_name.is_empty() {
            let default = self
                .list(Kind::PriorityClass)
                .filter_map(|o| match &**o {
                    Object::PriorityClass(pc) if pc.global_default => Some(pc),
                    _ => None,
                })
                .min_by_key(|pc| pc.value);
            if let Some(pc) = default {
                pod.spec.priority_class_name = pc.metadata.name.clone();
                pod.spec.priority = Some(pc.value);
                pod.spec.preemption_policy = pod.spec.preemption_policy.or(pc.preemption_policy);
            } else {
                pod.spec.priority = Some(0);
            }
            return Ok(());
        }
        if let Some((_, v)) = SYSTEM_PRIORITY_CLASSES
            .iter()
            .find(|(n, _)| *n == class_name)
        {
            pod.spec.priority = Some(*v);
            return Ok(());
        }
        match self
            .get(&ObjectKey::new(Kind::PriorityClass, "", class_name.clone()))
            .map(|o| &**o)
        {
            Some(Object::PriorityClass(pc)) => {
                pod.spec.priority = Some(pc.value);
                pod.spec.preemption_policy = pod.spec.preemption_policy.or(pc.preemption_policy);
                Ok(())
            }
            _ => Err(ApiError::Invalid {
                key: ObjectKey::of(obj),
                errors: vec![validation::FieldError {
                    path: "spec.priorityClassName".into(),
                    message: format!(
                        "Not found: no PriorityClass with name {class_name} was found"
                    ),
                }],
            }),
        }
    }
}

/// Namespaced kinds default to `default`; cluster-scoped kinds have no namespace.
fn normalize_namespace(obj: &mut Object) {
    let namespaced = obj.kind().is_namespaced();
    let meta = obj.meta_mut();
    if !namespaced {
        meta.namespace.clear();
    } else if meta.namespace.is_empty() {
        meta.namespace = "default".to_string();
    }
}

/// Upstream `pkg/registry/core/pod/strategy.go` `CheckGracefulDelete`: a pod not yet bound to a
/// node, or already terminal, is deleted at once; otherwise the request's grace period, else
/// the pod's `terminationGracePeriodSeconds`, else 30 s. Other kinds delete at once.
fn graceful_deletion_period(obj: &Object, requested: Option<i64>) -> i64 {
    match obj {
        Object::Pod(p) if !p.spec.node_name.is_empty() && !p.status.phase.is_terminal() => {
            requested
                .or(p.spec.termination_grace_period_seconds)
                .unwrap_or(defaults::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
                .max(0)
        }
        _ => 0,
    }
}

/// Deterministic UUID-shaped uids: the creation count in the last group.
fn format_uid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", n)
}
