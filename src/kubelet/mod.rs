//! The kubelets of every node, as one component (`kubelet`).
//!
//! Upstream: `pkg/kubelet/` (`kubelet.go`, `kubelet_pods.go`, `pod_workers.go`,
//! `kuberuntime/kuberuntime_manager.go`, `prober/worker.go`, `images/image_manager.go`,
//! `lifecycle/predicate.go`). What is modelled and how is in `docs/semantics.md` (Kubelet).
//!
//! - **One component for the whole fleet.** One watch on Nodes and one on Pods; each pod is
//!   handled by the kubelet of its `spec.nodeName`, with that node's state (allocated
//!   resources, image cache) kept apart from the others. A watcher per node would make every
//!   store write fan out to thousands of filters.
//! - **Event-driven, no polling.** A container's future (pull done, exit, probe
//!   transitions, restart after back-off) is computed when it starts and scheduled as
//!   timers; a healthy running pod and an idle node cost no events at all.
//! - **Stale timers are ignored, not searched for.** Each container carries an epoch that
//!   every start and stop bumps; a timer for an older epoch does nothing.
//! - **Status writes are batched.** A handler marks pods dirty; one status update per pod is
//!   written at the end of the handler, read-modify-write on the live object.
//! - Randomness: each pod draws from its own stream `kubelet/pod/<namespace>/<name>`.
//! - Bounds: one pending timer per container and purpose; pods and nodes are those in the
//!   store; back-off entries are dropped with their pod.

pub mod admit;
pub mod backoff;
pub mod behavior;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::api::meta::{Condition, ConditionStatus, Time};
use crate::api::objects::Lease;
use crate::api::objects::Node;
use crate::api::objects::coordination::RENEW_INTERVAL_ANNOTATION;
use crate::api::objects::pod::{
    Container, ContainerRestartPolicy, ContainerState, ContainerStateRunning,
    ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod, PodPhase, Probe,
    PullPolicy, RestartPolicy,
};
use crate::api::resources::pod_requests;
use crate::api::{
    DeleteOptions, Kind, Object, ObjectKey, OwnerReference, Resources, Selector, WatchEvent,
    WatchEventType, WatchFilter,
};
use crate::network::Place;
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{RngStream, SimDuration, SimTime};

use backoff::{Backoff, BackoffCurve};
use behavior::{BEHAVIOR_ANNOTATION, Behavior};

/// `terminationGracePeriodSeconds` when a pod has none (`v1.DefaultTerminationGracePeriodSeconds`).
pub use crate::api::defaults::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS as DEFAULT_GRACE_SECONDS;
/// `minimumGracePeriodInSeconds` (`kuberuntime_container.go`): the kill timeout floor.
pub const MINIMUM_GRACE_SECONDS: i64 = 2;
/// Delay between a failed image pull (ErrImagePull) and the status showing ImagePullBackOff:
/// the next pod sync, triggered by the PLEG relist (1 s, `pkg/kubelet/pleg/generic.go`).
pub const IMAGE_BACKOFF_SHOWN_AFTER: SimDuration = SimDuration::from_secs(1);

/// Kubelet settings shared by every node. Defaults are upstream's
/// (`pkg/kubelet/apis/config/v1beta1/defaults.go`, `pkg/kubelet/kubelet.go`); fields kubesim
/// does not act on yet are kept so that later issues (node lifecycle, eviction, image GC)
/// read them from one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletConfig {
    /// CrashLoopBackOff: 10 s doubling to 300 s (`MaxContainerBackOff`), reset after a 600 s run.
    pub crash_backoff: BackoffCurve,
    /// Image pulls: 10 s doubling to 300 s.
    pub image_backoff: BackoffCurve,
    /// `nodeStatusUpdateFrequency`: 10 s.
    pub node_status_update_frequency: SimDuration,
    /// `nodeStatusReportFrequency`: 5 min (a status PATCH even without changes).
    pub node_status_report_frequency: SimDuration,
    /// `nodeLeaseDurationSeconds`: 40.
    pub node_lease_duration_seconds: u32,
    /// `nodeLeaseRenewIntervalFraction`, in percent: 25 (⇒ renew every 10 s).
    pub node_lease_renew_interval_percent: u32,
    /// `syncFrequency`: 1 min.
    pub sync_frequency: SimDuration,
    /// `maxPods` for nodes that report no `pods` allocatable: 110.
    pub max_pods: i64,
    /// `podHousekeepingPeriod`: 2 s.
    pub pod_housekeeping_period: SimDuration,
    /// `evictionPressureTransitionPeriod`: 5 min.
    pub eviction_pressure_transition_period: SimDuration,
    /// `imageMinimumGCAge`: 2 min.
    pub image_minimum_gc_age: SimDuration,
    /// `imageGCHighThresholdPercent` / `imageGCLowThresholdPercent`: 85 / 80.
    pub image_gc_high_threshold_percent: u32,
    pub image_gc_low_threshold_percent: u32,
}

impl KubeletConfig {
    /// Lease renew interval: `nodeLeaseDurationSeconds × nodeLeaseRenewIntervalFraction`
    /// (`kubelet.go`), 10 s by default.
    pub fn lease_renew_interval(&self) -> SimDuration {
        SimDuration::from_millis(
            u64::from(self.node_lease_duration_seconds)
                * 10
                * u64::from(self.node_lease_renew_interval_percent),
        )
    }
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            crash_backoff: BackoffCurve::CRASH_LOOP,
            image_backoff: BackoffCurve::IMAGE_PULL,
            node_status_update_frequency: SimDuration::from_secs(10),
            node_status_report_frequency: SimDuration::from_secs(300),
            node_lease_duration_seconds: 40,
            node_lease_renew_interval_percent: 25,
            sync_frequency: SimDuration::from_secs(60),
            max_pods: admit::DEFAULT_MAX_PODS,
            pod_housekeeping_period: SimDuration::from_secs(2),
            eviction_pressure_transition_period: SimDuration::from_secs(300),
            image_minimum_gc_age: SimDuration::from_secs(120),
            image_gc_high_threshold_percent: 85,
            image_gc_low_threshold_percent: 80,
        }
    }
}

/// Container Waiting reasons (`pkg/kubelet/images/types.go`, `kuberuntime_manager.go`).
pub mod reasons {
    pub const CONTAINER_CREATING: &str = "ContainerCreating";
    pub const POD_INITIALIZING: &str = "PodInitializing";
    pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";
    /// A pull just failed.
    pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
    /// Inside the pull back-off window.
    pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";
    pub const ERR_IMAGE_NEVER_PULL: &str = "ErrImageNeverPull";
}

/// Pod worker requeue constants (`pkg/kubelet/pod_workers.go`, `kubelet.go`).
///
/// kubesim restarts containers and retries pulls at the exact back-off expiry (upstream
/// master, PR #133066) instead of at the next jittered resync, so these are not used for
/// timing; they are here for reference and for components that model resyncs.
pub mod sync {
    use crate::sim::SimDuration;

    /// Requeue after a sync error: `backOffPeriod`.
    pub const BACKOFF_PERIOD: SimDuration = SimDuration::from_secs(10);
    /// `workerBackOffPeriodJitterFactor`, in percent.
    pub const WORKER_BACKOFF_JITTER_PERCENT: u64 = 50;
    /// Requeue after a successful sync: `syncFrequency`.
    pub const SYNC_FREQUENCY: SimDuration = SimDuration::from_secs(60);
    /// `workerResyncIntervalJitterFactor`, in percent.
    pub const WORKER_RESYNC_JITTER_PERCENT: u64 = 50;
    /// Requeue after a transient error (network not ready): `backOffOnTransientErrorPeriod`.
    pub const BACKOFF_ON_TRANSIENT_ERROR: SimDuration = SimDuration::from_secs(1);

    /// `wait.Jitter(d, factor)`: `d + u·factor·d`, `u` uniform in `[0, 1)` given as
    /// `u_per_million` in `[0, 1_000_000)`.
    pub fn jitter(d: SimDuration, factor_percent: u64, u_per_million: u64) -> SimDuration {
        let extra =
            (u128::from(d.as_nanos()) * u128::from(factor_percent) * u128::from(u_per_million))
                / 100_000_000;
        d.saturating_add(SimDuration::from_nanos(extra as u64))
    }
}

/// The three probe kinds and their results (`pkg/kubelet/prober/results`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    Unknown,
    Success,
    Failure,
}

impl ProbeKind {
    /// A probe worker's result before its first probe (`prober/worker.go` newWorker):
    /// readiness fails (not ready until proven), liveness succeeds (not killed until
    /// proven dead), startup is unknown. kubesim's containers start not ready, alive and
    /// not started accordingly.
    pub const fn initial_result(self) -> ProbeResult {
        match self {
            ProbeKind::Readiness => ProbeResult::Failure,
            ProbeKind::Liveness => ProbeResult::Success,
            ProbeKind::Startup => ProbeResult::Unknown,
        }
    }
}

/// The node annotation through which the simulator (a scenario timeline, chaos, a test)
/// drives a node's kubelet. A simulator control channel, not Kubernetes API behaviour.
pub const NODE_STATE_ANNOTATION: &str = "kubesim.io/node-state";

/// How soon a refused pod status write is retried (status manager `syncPeriod`).
const STATUS_SYNC_PERIOD: SimDuration = SimDuration::from_secs(10);

/// Pod annotation through which the simulator kills containers (the timeline's
/// `containerKill`): `<container name or *>/<sequence>`; each new value kills the running
/// containers it names once. A simulator control channel, not Kubernetes API behaviour.
pub const KILL_ANNOTATION: &str = "kubesim.io/kill-container";

/// Namespace `kube-system` annotation listing image patterns (comma-separated, `*` matches
/// any run of characters) whose registry is down: pulls of matching images fail
/// (`ErrImagePull`, then back-off) while it is set. A simulator control channel.
pub const REGISTRY_OUTAGE_ANNOTATION: &str = "kubesim.io/registry-outage";

/// Whether `text` matches `pattern`, where `*` matches any run of characters. Linear in
/// `pattern.len() * text.len()` at worst.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What the node's kubelet and machine are doing (annotation [`NODE_STATE_ANNOTATION`]).
///
/// - `Running` (annotation absent or `Running`): normal operation.
/// - `KubeletStopped`: containers keep running (and exiting, per their behaviour), but the
///   kubelet writes nothing: no pod status, no Lease renewal, no reaction to API changes.
/// - `Partitioned`: the node is cut off from the control plane; from the API's side the
///   same as `KubeletStopped`. Also the state of a `Running` node that cannot reach the
///   control plane on the cluster network (a `networkPartition`; [`crate::network`]): the
///   kubelet asks the network whenever its Node changes.
/// - `Crashed`: the machine is down: containers are gone, nothing is written.
///
/// Back to `Running` from `KubeletStopped`/`Partitioned`, the kubelet re-reads its pods and
/// writes their current status; after `Crashed` (directly or through another state) the
/// node has rebooted: containers that were running exit as `Unknown` (code 255) and are
/// restarted per restartPolicy and back-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAgent {
    Running,
    KubeletStopped,
    Partitioned,
    Crashed,
}

impl NodeAgent {
    /// The state a node's annotation asks for; an unknown value is `None`.
    pub fn of(node: &Node) -> Option<NodeAgent> {
        match node
            .metadata
            .annotations
            .get(NODE_STATE_ANNOTATION)
            .map(String::as_str)
        {
            None | Some("Running") => Some(NodeAgent::Running),
            Some("KubeletStopped") => Some(NodeAgent::KubeletStopped),
            Some("Partitioned") => Some(NodeAgent::Partitioned),
            Some("Crashed") => Some(NodeAgent::Crashed),
            Some(_) => None,
        }
    }

    /// Whether the kubelet talks to the API server.
    pub fn connected(self) -> bool {
        self == NodeAgent::Running
    }
}

/// One node's kubelet state.
struct NodeState {
    node: Node,
    agent: NodeAgent,
    /// Pods whose watch events arrived while disconnected: re-read on reconnect.
    missed: BTreeSet<ObjectKey>,
    /// Images present on the node (`status.images` at registration, then every pull).
    images: BTreeSet<String>,
    /// Requests of admitted, non-terminal pods; `pods` counts them.
    used: Resources,
    /// Pod IPs: the node's /24 (see [`pod_cidr`]); host parts in use and the last one
    /// handed out (host-local IPAM hands out the next free one after it).
    ips_used: BTreeSet<u8>,
    last_ip: u8,
    index: u32,
}

/// Kubelet-owned pod conditions: a status write replaces these and keeps the others
/// (`PodScheduled` from the scheduler, `DisruptionTarget` from the eviction API and
/// controllers), as `generateAPIPodStatus` preserves conditions not owned by the kubelet.
pub const KUBELET_CONDITIONS: [&str; 4] = [
    "Initialized",
    "ContainersReady",
    "Ready",
    "PodReadyToStartContainers",
];

/// The pod CIDR of the node with fleet index `index` (the order in which the kubelet fleet
/// first saw the nodes): `10.<index / 256 mod 256>.<index mod 256>.0/24`, so 65,536 nodes
/// before prefixes repeat. Pods get `.2`–`.254` (`.1` is the node's bridge).
pub fn pod_cidr(index: u32) -> (u8, u8) {
    (((index / 256) % 256) as u8, (index % 256) as u8)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// Not started yet, or waiting (pull, back-off, init order).
    Waiting,
    Pulling,
    Running,
    /// SIGTERM sent; exits at a scheduled time.
    Stopping,
    Exited,
    /// Gone with a crashed node; `true` if it was running (else a pending restart or pull).
    Lost(bool),
}

struct Ctr {
    spec: Container,
    init: bool,
    behavior: Option<usize>,
    status: ContainerStatus,
    run: Run,
    epoch: u32,
    started_at: SimTime,
    /// The app's own readiness (what a readiness probe would see).
    app_ready: bool,
    ready_epoch: u32,
    /// Remaining image pull failures (behaviour `imagePullFailures`).
    pull_failures_left: u32,
    /// Init containers: the pod has moved on to the next container.
    advanced: bool,
}

struct PodState {
    pod: Pod,
    node: String,
    rng: RngStream,
    ctrs: Vec<Ctr>,
    requests: Resources,
    terminating: bool,
    terminal: bool,
    initialized: bool,
    /// `activeDeadlineSeconds` passed: the pod is Failed, its containers stopped.
    deadline_exceeded: bool,
    conditions_since: BTreeMap<&'static str, (bool, SimTime)>,
    /// The pod's IP: host part in its node's /24, and the address.
    ip: Option<(u8, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    PullDone,
    ShowImageBackOff,
    /// Start (or retry the pull of) a container after a back-off.
    Restart,
    Exit {
        code: i32,
        reason: &'static str,
    },
    /// The app's readiness changes (flapping).
    AppReady(bool),
    /// The kubelet's probe result flips the container's Ready.
    ReadyFlip(bool),
    /// Startup probe passes.
    StartupPassed,
    /// A failing liveness/startup probe tick; `kill` at the threshold.
    ProbeFail {
        liveness: bool,
        kill: bool,
    },
    ForceDelete,
    /// The pod's `activeDeadlineSeconds` passed.
    ActiveDeadline,
    /// Retry a pod status write the API server refused (status manager's periodic sync).
    RetryStatus,
    /// A status write sent over the node's link to the control plane arrives.
    StatusArrives,
}

struct Timer {
    pod: ObjectKey,
    ctr: usize,
    epoch: u32,
    ready_epoch: u32,
    action: Action,
}

/// The kubelets of all nodes.
pub struct KubeletFleet {
    config: KubeletConfig,
    behaviors: Vec<Behavior>,
    selectors: Vec<Option<Selector>>,
    nodes: BTreeMap<String, NodeState>,
    /// Fleet index of the next node first seen (its pod CIDR, see [`pod_cidr`]).
    next_node_index: u32,
    pods: BTreeMap<ObjectKey, PodState>,
    /// Pods bound to nodes not seen yet, by node.
    waiting_for_node: BTreeMap<String, BTreeSet<ObjectKey>>,
    timers: HashMap<u64, Timer>,
    next_token: u64,
    crash_backoff: Backoff<(String, String)>,
    /// Keyed `<podUID>_<image>`, as `image_manager.go`.
    image_backoff: Backoff<String>,
    dirty: BTreeSet<ObjectKey>,
    /// Pods whose status write failed (control-plane outage, lost on the network), with a
    /// retry timer set.
    status_retry: BTreeSet<ObjectKey>,
    /// Pods whose status write is on its way to the API server (node → control plane
    /// latency); `arrived`: those whose write lands now.
    in_flight: BTreeSet<ObjectKey>,
    arrived: BTreeSet<ObjectKey>,
    /// Draws of node → control plane latency and loss (`kubelet/network`), made lazily.
    net_rng: Option<RngStream>,
}

const WATCH_NODES: usize = 0;
const WATCH_PODS: usize = 1;

fn grace_of(seconds: i64) -> SimDuration {
    SimDuration::from_secs(seconds.max(MINIMUM_GRACE_SECONDS) as u64)
}

fn probe_period(p: &Probe) -> SimDuration {
    SimDuration::from_secs(p.period_seconds.max(1) as u64)
}

/// The first probe tick at or after `t`, for ticks at `start + initialDelay + k·period`.
/// Simplification: upstream's ticker starts with the probe worker (when the pod is synced),
/// with the initial delay checked at each tick; here ticks are aligned to the container start.
fn first_tick_at_or_after(p: &Probe, start: SimTime, t: SimTime) -> SimTime {
    let first = start.saturating_add(SimDuration::from_secs(p.initial_delay_seconds.max(0) as u64));
    if t <= first {
        return first;
    }
    let period = probe_period(p).as_nanos();
    let k = t.saturating_since(first).as_nanos().div_ceil(period);
    first.saturating_add(SimDuration::from_nanos(k.saturating_mul(period)))
}

fn ticks(p: &Probe, n: i32) -> SimDuration {
    probe_period(p).saturating_mul(n.max(1) as u64 - 1)
}

fn waiting(reason: &str, message: String) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: reason.to_string(),
            message,
        }),
        ..ContainerState::default()
    }
}

impl KubeletFleet {
    /// A fleet running `behaviors` (already checked by the scenario loader; an invalid
    /// selector matches nothing).
    pub fn new(config: KubeletConfig, behaviors: Vec<Behavior>) -> Self {
        let selectors = behaviors
            .iter()
            .map(|b| b.selector.as_ref().and_then(|s| s.to_selector().ok()))
            .collect();
        KubeletFleet {
            crash_backoff: Backoff::new(config.crash_backoff),
            image_backoff: Backoff::new(config.image_backoff),
            config,
            behaviors,
            selectors,
            nodes: BTreeMap::new(),
            next_node_index: 0,
            pods: BTreeMap::new(),
            waiting_for_node: BTreeMap::new(),
            timers: HashMap::new(),
            next_token: 0,
            dirty: BTreeSet::new(),
            status_retry: BTreeSet::new(),
            in_flight: BTreeSet::new(),
            arrived: BTreeSet::new(),
            net_rng: None,
        }
    }

    pub fn config(&self) -> &KubeletConfig {
        &self.config
    }

    fn behavior_for(&self, pod: &Pod, container: &str, image: &str) -> Option<usize> {
        let named = pod.metadata.annotations.get(BEHAVIOR_ANNOTATION);
        self.behaviors.iter().enumerate().position(|(i, b)| {
            let applies = match named {
                Some(n) => &b.name == n,
                None => self.selectors[i]
                    .as_ref()
                    .is_some_and(|s| s.matches(&pod.metadata.labels)),
            };
            applies
                && b.container.as_deref().is_none_or(|c| c == container)
                && b.image.as_deref().is_none_or(|p| glob_match(p, image))
        })
    }

    fn schedule(
        &mut self,
        ctx: &mut Context<'_>,
        at: SimTime,
        pod: &ObjectKey,
        ctr: usize,
        action: Action,
    ) {
        let Some(p) = self.pods.get(pod) else { return };
        let c = &p.ctrs[ctr];
        let token = self.next_token;
        self.next_token += 1;
        self.timers.insert(
            token,
            Timer {
                pod: pod.clone(),
                ctr,
                epoch: c.epoch,
                ready_epoch: c.ready_epoch,
                action,
            },
        );
        ctx.set_timer(at.saturating_since(ctx.now()), token);
    }

    fn event(ctx: &mut Context<'_>, p: &PodState, type_: EventType, reason: &str, message: String) {
        let key = ObjectKey::new(
            Kind::Pod,
            p.pod.metadata.namespace.clone(),
            p.pod.metadata.name.clone(),
        );
        let record = EventRecord::new(ctx.now(), type_, reason, key.to_string(), message)
            .on_node(p.node.clone());
        ctx.record(record);
    }

    // ---- pods arriving and leaving ----

    fn on_pod(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Pod(pod) = &*event.object else {
            return;
        };
        if pod.spec.node_name.is_empty() {
            return;
        }
        let key = ObjectKey::of(&event.object);
        if let Some(n) = self.nodes.get_mut(&pod.spec.node_name)
            && !n.agent.connected()
        {
            n.missed.insert(key);
            return;
        }
        let live = (event.type_ != WatchEventType::Deleted).then_some(pod);
        self.handle_pod(key, live, ctx);
    }

    /// A pod's current state (`None`: deleted) reaching its node's kubelet.
    fn handle_pod(&mut self, key: ObjectKey, pod: Option<&Pod>, ctx: &mut Context<'_>) {
        let Some(pod) = pod else {
            self.forget(&key);
            return;
        };
        if let Some(state) = self.pods.get_mut(&key) {
            if pod.metadata.deletion_timestamp.is_some() && !state.terminating {
                state.pod.metadata = pod.metadata.clone();
                self.terminate(&key, ctx);
                return;
            }
            let kill = pod.metadata.annotations.get(KILL_ANNOTATION);
            if kill.is_some() && kill != state.pod.metadata.annotations.get(KILL_ANNOTATION) {
                let kill = kill.cloned().unwrap_or_default();
                state.pod.metadata.annotations = pod.metadata.annotations.clone();
                if !state.terminating {
                    self.kill_containers(&key, &kill, ctx);
                }
            }
            return;
        }
        if pod.status.phase.is_terminal() {
            return;
        }
        if pod.metadata.deletion_timestamp.is_some() {
            // Nothing runs for it on this node: confirm the deletion at once.
            let _ = ctx.delete(&key, &DeleteOptions::force());
            return;
        }
        if !self.nodes.contains_key(&pod.spec.node_name) {
            self.waiting_for_node
                .entry(pod.spec.node_name.clone())
                .or_default()
                .insert(key);
            return;
        }
        self.admit(key, pod.clone(), ctx);
    }

    /// The container-kill hook ([`KILL_ANNOTATION`]): running containers named by the
    /// annotation (`*`: all) exit at once with 137, as after SIGKILL, and restart per
    /// restartPolicy and back-off.
    fn kill_containers(&mut self, key: &ObjectKey, value: &str, ctx: &mut Context<'_>) {
        let target = value.rsplit_once('/').map_or(value, |(c, _)| c);
        let Some(p) = self.pods.get(key) else { return };
        let victims: Vec<usize> = p
            .ctrs
            .iter()
            .enumerate()
            .filter(|(_, c)| c.run == Run::Running && (target == "*" || c.spec.name == target))
            .map(|(i, _)| i)
            .collect();
        for i in victims {
            if let Some(p) = self.pods.get(key) {
                let name = p.ctrs[i].spec.name.clone();
                Self::event(
                    ctx,
                    p,
                    EventType::Warning,
                    "Killed",
                    format!("Container {name} was killed (SIGKILL)"),
                );
            }
            self.exited(key, i, 137, "Error", ctx);
        }
    }

    /// Whether an image registry outage (annotation [`REGISTRY_OUTAGE_ANNOTATION`] on
    /// Namespace `kube-system`, read live at pull time as a pull contacts the registry)
    /// covers `image`.
    fn registry_down(image: &str, ctx: &Context<'_>) -> bool {
        let key = ObjectKey::new(Kind::Namespace, "", "kube-system");
        ctx.get(&key).is_some_and(|ns| {
            ns.meta()
                .annotations
                .get(REGISTRY_OUTAGE_ANNOTATION)
                .is_some_and(|v| v.split(',').any(|p| glob_match(p.trim(), image)))
        })
    }

    fn forget(&mut self, key: &ObjectKey) {
        if let Some(mut state) = self.pods.remove(key) {
            if !state.terminal {
                self.release(&state);
            }
            self.free_ip(&mut state);
            let uid = state.pod.metadata.uid.clone();
            self.crash_backoff.forget(|k| k.0 == uid);
            let prefix = format!("{uid}_");
            self.image_backoff.forget(|k| k.starts_with(&prefix));
        }
        for set in self.waiting_for_node.values_mut() {
            set.remove(key);
        }
        self.dirty.remove(key);
        // A pod recreated under the same name (a StatefulSet's) starts with a clean slate.
        self.in_flight.remove(key);
        self.arrived.remove(key);
        self.status_retry.remove(key);
    }

    /// Host-local IPAM: the next free address after the last one handed out, `.2`–`.254`
    /// of the node's /24 (`None` when all 253 are taken).
    fn allocate_ip(&mut self, node: &str) -> Option<(u8, String)> {
        let n = self.nodes.get_mut(node)?;
        let (a, b) = pod_cidr(n.index);
        for step in 1..=253u16 {
            let host = ((i32::from(n.last_ip) - 2 + i32::from(step)).rem_euclid(253) + 2) as u8;
            if n.ips_used.insert(host) {
                n.last_ip = host;
                return Some((host, format!("10.{a}.{b}.{host}")));
            }
        }
        None
    }

    /// Returns a pod's address to its node's range (the sandbox is gone); the pod keeps
    /// `status.podIP`, as upstream.
    fn free_ip(&mut self, state: &mut PodState) {
        if let Some((host, _)) = state.ip.take()
            && let Some(n) = self.nodes.get_mut(&state.node)
        {
            n.ips_used.remove(&host);
        }
    }

    fn release(&mut self, state: &PodState) {
        if let Some(n) = self.nodes.get_mut(&state.node) {
            n.used.sub(&state.requests);
            n.used.pods -= 1;
        }
    }

    fn on_node(&mut self, event: &WatchEvent, ctx: &mut Context<'_>) {
        let Object::Node(node) = &*event.object else {
            return;
        };
        let name = node.metadata.name.clone();
        if event.type_ == WatchEventType::Deleted {
            self.nodes.remove(&name);
            return;
        }
        let mut agent = NodeAgent::of(node).unwrap_or_else(|| {
            let value = &node.metadata.annotations[NODE_STATE_ANNOTATION];
            ctx.record(EventRecord::new(
                ctx.now(),
                EventType::Sim,
                "UnknownNodeState",
                format!("Node/{name}"),
                format!("{NODE_STATE_ANNOTATION}={value:?} is not one of Running, KubeletStopped, Partitioned, Crashed; treated as Running"),
            ));
            NodeAgent::Running
        });
        // A running kubelet whose node cannot reach the control plane (a `networkPartition`)
        // is partitioned: the network is the truth; the timeline's write on the Node is what
        // wakes the kubelet to look.
        if agent == NodeAgent::Running
            && !ctx
                .network()
                .reachable(Place::Node(&name), Place::ControlPlane)
        {
            agent = NodeAgent::Partitioned;
        }
        if let Some(n) = self.nodes.get_mut(&name) {
            n.node = node.clone();
            let before = n.agent;
            if before != agent {
                n.agent = agent;
                self.node_transition(&name, before, agent, ctx);
            }
            return;
        }
        let images = node
            .status
            .images
            .iter()
            .flat_map(|i| i.names.iter().cloned())
            .collect();
        self.nodes.insert(
            name.clone(),
            NodeState {
                node: node.clone(),
                agent,
                missed: BTreeSet::new(),
                images,
                used: Resources::default(),
                ips_used: BTreeSet::new(),
                last_ip: 1,
                index: self.next_node_index,
            },
        );
        self.next_node_index = self.next_node_index.wrapping_add(1);
        if agent.connected() {
            self.write_lease(&name, true, ctx);
        }
        for key in self.waiting_for_node.remove(&name).unwrap_or_default() {
            if agent.connected() {
                let live = ctx.get(&key);
                self.handle_pod(key, live.as_deref().and_then(as_pod), ctx);
            } else if let Some(n) = self.nodes.get_mut(&name) {
                n.missed.insert(key);
            }
        }
    }

    fn pods_on(&self, node: &str) -> Vec<ObjectKey> {
        self.pods
            .iter()
            .filter(|(_, p)| p.node == node)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn node_transition(
        &mut self,
        node: &str,
        before: NodeAgent,
        after: NodeAgent,
        ctx: &mut Context<'_>,
    ) {
        if before.connected() {
            self.write_lease(node, false, ctx);
        }
        if after == NodeAgent::Crashed {
            for key in self.pods_on(node) {
                let p = self.pods.get_mut(&key).expect("listed");
                for c in &mut p.ctrs {
                    let pending = c.status.state.waiting.as_ref().is_some_and(|w| {
                        [
                            reasons::CRASH_LOOP_BACK_OFF,
                            reasons::ERR_IMAGE_PULL,
                            reasons::IMAGE_PULL_BACK_OFF,
                        ]
                        .contains(&w.reason.as_str())
                    });
                    let running = matches!(c.run, Run::Running | Run::Stopping);
                    if running || c.run == Run::Pulling || pending {
                        c.run = Run::Lost(running);
                        c.epoch += 1;
                        c.ready_epoch += 1;
                    }
                }
            }
        }
        if !after.connected() {
            if before == NodeAgent::Crashed && after == NodeAgent::Partitioned {
                // Rebooted into a partition: the kubelet runs its pods, unheard.
                self.rebooted(node, ctx);
            }
            return;
        }
        self.write_lease(node, true, ctx);
        self.post_ready(node, ctx);
        // Rebooted: lost containers exit `Unknown` and restart per policy. Not only
        // straight from `Crashed`: a crashed machine that came back with its kubelet
        // stopped (Crashed -> KubeletStopped -> Running) lost them too (found by the
        // property tests: such a Job pod stayed Running for ever, with no container).
        self.rebooted(node, ctx);
        // Reconnected: re-read what changed meanwhile, then report every pod's status.
        let missed = self
            .nodes
            .get_mut(node)
            .map(|n| std::mem::take(&mut n.missed))
            .unwrap_or_default();
        for key in missed {
            let live = ctx.get(&key);
            self.handle_pod(key, live.as_deref().and_then(as_pod), ctx);
        }
        for key in self.pods_on(node) {
            self.dirty.insert(key);
        }
        let finished: Vec<ObjectKey> = self
            .pods
            .iter()
            .filter(|(_, p)| p.node == node && p.terminating && p.ctrs.iter().all(|c| !c.active()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in finished {
            let _ = ctx.delete(&key, &DeleteOptions::force());
        }
    }

    /// After a crash: containers lost with the machine exit `Unknown` (255) and restart per
    /// policy and back-off.
    fn rebooted(&mut self, node: &str, ctx: &mut Context<'_>) {
        for key in self.pods_on(node) {
            let lost: Vec<(usize, bool)> = self.pods[&key]
                .ctrs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match c.run {
                    Run::Lost(running) => Some((i, running)),
                    _ => None,
                })
                .collect();
            for (i, running) in lost {
                if running {
                    self.exited(&key, i, 255, "Unknown", ctx);
                } else if let Some(p) = self.pods.get_mut(&key) {
                    p.ctrs[i].run = Run::Waiting;
                    self.restart_timer(&key, i, ctx);
                }
            }
        }
    }

    /// A kubelet back in touch posts `Ready=True` (`setNodeReadyCondition`,
    /// `pkg/kubelet/nodestatus/setters.go`) if the node does not show it, e.g. after the
    /// node lifecycle controller marked it `Unknown`. Only on that change: a steady node's
    /// status is never rewritten.
    fn post_ready(&mut self, node: &str, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let key = ObjectKey::new(Kind::Node, "", node);
        let Some(Object::Node(mut n)) = ctx.get(&key).as_deref().cloned() else {
            return;
        };
        if n.is_ready() {
            return;
        }
        let ready = Condition {
            type_: "Ready".into(),
            status: ConditionStatus::True,
            reason: "KubeletReady".into(),
            message: "kubelet is posting ready status".into(),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(Time(now)),
            ..Condition::default()
        };
        match n.status.conditions.iter_mut().find(|c| c.type_ == "Ready") {
            Some(c) => *c = ready,
            None => n.status.conditions.push(ready),
        }
        n.metadata.resource_version = 0;
        let _ = ctx.update(Object::Node(n));
    }

    /// Starts (`renewing`) or stops periodic renewal of the node's Lease: one write at each
    /// change, none per renewal (see [`crate::api::objects::coordination`]).
    fn write_lease(&mut self, node: &str, renewing: bool, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let key = ObjectKey::new(Kind::Lease, LEASE_NAMESPACE, node);
        let existing = ctx.get(&key);
        let mut lease = match existing.as_deref() {
            Some(Object::Lease(l)) => l.clone(),
            _ => {
                let mut l = Lease::default();
                l.metadata.name = node.to_string();
                l.metadata.namespace = LEASE_NAMESPACE.to_string();
                if let Some(n) = self.nodes.get(node) {
                    l.metadata.owner_references.push(OwnerReference {
                        api_version: "v1".into(),
                        kind: "Node".into(),
                        name: node.to_string(),
                        uid: n.node.metadata.uid.clone(),
                        controller: None,
                        block_owner_deletion: None,
                    });
                }
                l
            }
        };
        if renewing {
            lease.spec.holder_identity = node.to_string();
            lease.spec.lease_duration_seconds =
                Some(self.config.node_lease_duration_seconds as i32);
            lease.spec.acquire_time.get_or_insert(Time(now));
            lease.spec.renew_time = Some(Time(now));
            lease.metadata.annotations.insert(
                RENEW_INTERVAL_ANNOTATION.into(),
                go_duration(self.config.lease_renew_interval()),
            );
        } else {
            lease.spec.renew_time = lease.renew_time_at(now).map(Time);
            lease.metadata.annotations.remove(RENEW_INTERVAL_ANNOTATION);
        }
        lease.metadata.resource_version = 0;
        let _ = if existing.is_some() {
            ctx.update(Object::Lease(lease))
        } else {
            ctx.create(Object::Lease(lease))
        };
    }

    fn admit(&mut self, key: ObjectKey, pod: Pod, ctx: &mut Context<'_>) {
        let node_name = pod.spec.node_name.clone();
        let Some(node) = self.nodes.get(&node_name) else {
            return;
        };
        let requests = pod_requests(&pod.spec);
        let verdict = admit::admit(
            &pod,
            &requests,
            &node.used,
            &node.node,
            self.config.max_pods,
        );
        let now = ctx.now();
        let mut ctrs = Vec::new();
        for (c, init) in pod
            .spec
            .init_containers
            .iter()
            .map(|c| (c, true))
            .chain(pod.spec.containers.iter().map(|c| (c, false)))
        {
            let behavior = self.behavior_for(&pod, &c.name, &c.image);
            let pull_failures_left = behavior.map_or(0, |b| self.behaviors[b].image_pull_failures);
            ctrs.push(Ctr {
                spec: c.clone(),
                init,
                behavior,
                status: ContainerStatus {
                    name: c.name.clone(),
                    image: c.image.clone(),
                    started: Some(false),
                    state: waiting(
                        if init || pod.spec.init_containers.is_empty() {
                            reasons::CONTAINER_CREATING
                        } else {
                            reasons::POD_INITIALIZING
                        },
                        String::new(),
                    ),
                    ..ContainerStatus::default()
                },
                run: Run::Waiting,
                epoch: 0,
                started_at: now,
                app_ready: false,
                ready_epoch: 0,
                pull_failures_left,
                advanced: false,
            });
        }
        let rng = ctx.stream(&format!("pod/{}/{}", key.namespace, key.name));
        let mut state = PodState {
            pod,
            node: node_name.clone(),
            rng,
            ctrs,
            requests,
            terminating: false,
            terminal: false,
            initialized: false,
            deadline_exceeded: false,
            conditions_since: BTreeMap::new(),
            ip: None,
        };
        if let Err(rejection) = verdict {
            Self::event(
                ctx,
                &state,
                EventType::Warning,
                &rejection.reason,
                rejection.message.clone(),
            );
            state.terminal = true;
            state.pod.status.phase = PodPhase::Failed;
            state.pod.status.reason = rejection.reason;
            state.pod.status.message = format!("Pod was rejected: {}", rejection.message);
            self.pods.insert(key.clone(), state);
            self.write_rejection(&key, ctx);
            return;
        }
        if let Some(n) = self.nodes.get_mut(&node_name) {
            n.used.add(&state.requests);
            n.used.pods += 1;
        }
        state.pod.status.start_time = Some(Time(now));
        // The sandbox starts now: the pod gets its IP (kept in status after it ends).
        state.ip = self.allocate_ip(&node_name);
        if let Some((_, ip)) = &state.ip {
            state.pod.status.pod_ip = ip.clone();
        }
        let has_init = !state.pod.spec.init_containers.is_empty();
        let deadline = state.pod.spec.active_deadline_seconds;
        self.pods.insert(key.clone(), state);
        self.dirty.insert(key.clone());
        if let Some(secs) = deadline {
            let at = now.saturating_add(SimDuration::from_secs(secs.max(0) as u64));
            self.schedule(ctx, at, &key, 0, Action::ActiveDeadline);
        }
        if has_init {
            self.start_container(&key, 0, ctx);
        } else {
            self.start_app_containers(&key, ctx);
        }
    }

    fn start_app_containers(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        p.initialized = true;
        let apps: Vec<usize> = (0..p.ctrs.len()).filter(|&i| !p.ctrs[i].init).collect();
        for i in apps {
            self.start_container(key, i, ctx);
        }
    }

    // ---- container lifecycle ----

    /// Pull if needed, then create and start (`kuberuntime_container.go` startContainer).
    fn start_container(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get(key) else { return };
        if p.terminating || p.terminal {
            return;
        }
        let c = &p.ctrs[i];
        let image = c.spec.image.clone();
        let policy = c.spec.image_pull_policy.unwrap_or(PullPolicy::IfNotPresent);
        let present = self
            .nodes
            .get(&p.node)
            .is_some_and(|n| n.images.contains(&image));
        let bkey = image_backoff_key(&p.pod.metadata.uid, &image);
        match (policy, present) {
            (PullPolicy::Never, false) => {
                let msg =
                    format!("Container image \"{image}\" is not present with pull policy of Never");
                let p = self.pods.get_mut(key).expect("checked above");
                p.ctrs[i].status.state = waiting(reasons::ERR_IMAGE_NEVER_PULL, msg.clone());
                Self::event(ctx, p, EventType::Warning, "ErrImageNeverPull", msg);
                self.dirty.insert(key.clone());
            }
            (PullPolicy::Never, true) | (PullPolicy::IfNotPresent, true) => {
                Self::event(
                    ctx,
                    p,
                    EventType::Normal,
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                );
                self.create_and_start(key, i, ctx);
            }
            _ => {
                if self.image_backoff.in_backoff_since_update(&bkey, now) {
                    // Only reachable if a retry raced a newer failure; wait for its timer.
                    return;
                }
                let pull_time = if present {
                    SimDuration::ZERO
                } else {
                    let b = c.behavior.map(|b| &self.behaviors[b]);
                    let bandwidth = self
                        .nodes
                        .get(&p.node)
                        .and_then(|n| pull_bandwidth(&n.node));
                    let p = self.pods.get_mut(key).expect("checked above");
                    match (b.and_then(|b| b.image_size), bandwidth) {
                        (Some(size), Some(bw)) => transfer_time(size.value(), bw),
                        _ => b
                            .and_then(|b| b.image_pull_time.as_ref())
                            .map_or(SimDuration::ZERO, |d| d.sample(&mut p.rng)),
                    }
                };
                let p = self.pods.get_mut(key).expect("checked above");
                Self::event(
                    ctx,
                    p,
                    EventType::Normal,
                    "Pulling",
                    format!("Pulling image \"{image}\""),
                );
                let c = &mut p.ctrs[i];
                c.run = Run::Pulling;
                c.epoch += 1;
                self.schedule(ctx, now.saturating_add(pull_time), key, i, Action::PullDone);
            }
        }
    }

    fn pull_done(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let c = &mut p.ctrs[i];
        let image = c.spec.image.clone();
        let bkey = image_backoff_key(&p.pod.metadata.uid, &image);
        let outage = Self::registry_down(&image, ctx);
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let c = &mut p.ctrs[i];
        if outage || c.pull_failures_left > 0 {
            let msg = if outage {
                format!(
                    "Failed to pull image \"{image}\": rpc error: code = Unavailable desc = failed to resolve reference \"{image}\": registry unavailable"
                )
            } else {
                c.pull_failures_left -= 1;
                format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\""
                )
            };
            c.run = Run::Waiting;
            c.status.state = waiting(reasons::ERR_IMAGE_PULL, msg.clone());
            Self::event(ctx, p, EventType::Warning, "Failed", msg);
            Self::event(
                ctx,
                p,
                EventType::Warning,
                "Failed",
                "Error: ErrImagePull".into(),
            );
            self.image_backoff.next(bkey.clone(), now, now);
            let backoff = self
                .image_backoff
                .current(&bkey, now)
                .unwrap_or(SimDuration::ZERO);
            self.dirty.insert(key.clone());
            if backoff > IMAGE_BACKOFF_SHOWN_AFTER {
                self.schedule(
                    ctx,
                    now.saturating_add(IMAGE_BACKOFF_SHOWN_AFTER),
                    key,
                    i,
                    Action::ShowImageBackOff,
                );
            }
            self.schedule(ctx, now.saturating_add(backoff), key, i, Action::Restart);
            return;
        }
        if let Some(n) = self.nodes.get_mut(&p.node) {
            n.images.insert(image.clone());
        }
        Self::event(
            ctx,
            p,
            EventType::Normal,
            "Pulled",
            format!("Successfully pulled image \"{image}\""),
        );
        self.create_and_start(key, i, ctx);
    }

    fn show_image_backoff(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let image = p.ctrs[i].spec.image.clone();
        let msg = format!("Back-off pulling image \"{image}\"");
        p.ctrs[i].status.state = waiting(reasons::IMAGE_PULL_BACK_OFF, msg.clone());
        Self::event(ctx, p, EventType::Normal, "BackOff", msg);
        Self::event(
            ctx,
            p,
            EventType::Warning,
            "Failed",
            "Error: ImagePullBackOff".into(),
        );
        self.dirty.insert(key.clone());
    }

    fn create_and_start(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let name = p.ctrs[i].spec.name.clone();
        Self::event(
            ctx,
            p,
            EventType::Normal,
            "Created",
            format!("Created container: {name}"),
        );
        Self::event(
            ctx,
            p,
            EventType::Normal,
            "Started",
            format!("Started container {name}"),
        );
        let behavior = p.ctrs[i].behavior.map(|b| self.behaviors[b].clone());
        let b = behavior.unwrap_or_default();
        let mut draw =
            |d: &Option<behavior::Distribution>| d.as_ref().map(|d| d.sample(&mut p.rng));
        let startup = draw(&b.startup_time).unwrap_or(SimDuration::ZERO);
        let readiness_delay = draw(&b.readiness_delay).unwrap_or(SimDuration::ZERO);
        let exit_after = draw(&b.exit_after);
        let crash_after = draw(&b.crash_after);
        let liveness_after = draw(&b.liveness_failure_after);
        let failed_run = b.draw_failure(&mut p.rng);
        let c = &mut p.ctrs[i];
        c.epoch += 1;
        c.ready_epoch += 1;
        c.run = Run::Running;
        c.started_at = now;
        c.app_ready = false;
        c.status.ready = false;
        c.status.state = ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(now)),
            }),
            ..ContainerState::default()
        };
        let memory_limit = c
            .spec
            .resources
            .limits
            .get(crate::api::resources::MEMORY)
            .map_or(0, |q| q.value());
        let oom_after = b.memory.as_ref().and_then(|m| m.oom_after(memory_limit));
        // The earliest of the container's own exits.
        let mut exit: Option<(SimDuration, i32, &'static str)> = None;
        for (after, code, reason) in [
            if failed_run {
                (exit_after, b.crash_exit_code, "Error")
            } else {
                (
                    exit_after,
                    b.exit_code,
                    if b.exit_code == 0 {
                        "Completed"
                    } else {
                        "Error"
                    },
                )
            },
            (crash_after, b.crash_exit_code, "Error"),
            (oom_after, 137, "OOMKilled"),
        ] {
            if let Some(after) = after
                && exit.is_none_or(|(e, ..)| after < e)
            {
                exit = Some((after, code, reason));
            }
        }
        let startup_probe = c.spec.startup_probe.clone().filter(|_| !c.init);
        let liveness_probe = c.spec.liveness_probe.clone().filter(|_| !c.init);
        let c_has_readiness = c.spec.readiness_probe.is_some();
        self.dirty.insert(key.clone());
        if let Some((after, code, reason)) = exit {
            self.schedule(
                ctx,
                now.saturating_add(after),
                key,
                i,
                Action::Exit { code, reason },
            );
        }
        // Startup probe (`prober/worker.go`): until it passes, no other probe runs.
        let up_at = now.saturating_add(startup);
        let started_at = match &startup_probe {
            None => now,
            Some(sp) => {
                let pass = first_tick_at_or_after(sp, now, up_at);
                let first = first_tick_at_or_after(sp, now, now);
                let failing = pass.saturating_since(first).as_nanos() / probe_period(sp).as_nanos();
                if failing >= sp.failure_threshold.max(1) as u64 {
                    self.schedule_probe_failures(ctx, key, i, sp, first, false);
                    return;
                }
                self.schedule(ctx, pass, key, i, Action::StartupPassed);
                pass
            }
        };
        if let Some(lp) = &liveness_probe
            && let Some(after) = liveness_after
        {
            let first_fail =
                first_tick_at_or_after(lp, now, now.saturating_add(after).max(started_at));
            self.schedule_probe_failures(ctx, key, i, lp, first_fail, true);
        }
        if startup_probe.is_none() {
            self.container_started(key, i, ctx);
        }
        // Without a readiness probe the container is Ready once started; the app's own
        // readiness delay is invisible then, as in a real cluster.
        let ready_at = if c_has_readiness {
            up_at.saturating_add(readiness_delay).max(started_at)
        } else {
            started_at
        };
        self.schedule(ctx, ready_at, key, i, Action::AppReady(true));
    }

    /// Failing ticks of a liveness or startup probe from `first`, the last (at the failure
    /// threshold) killing the container (`prober/worker.go`). At most 10 timers.
    fn schedule_probe_failures(
        &mut self,
        ctx: &mut Context<'_>,
        key: &ObjectKey,
        i: usize,
        probe: &Probe,
        first: SimTime,
        liveness: bool,
    ) {
        let threshold = probe.failure_threshold.max(1);
        // Bounded: the first ticks get their Unhealthy event, then only the killing one
        // (upstream's event recorder aggregates repeats as well).
        const EVENTS_MAX: i32 = 10;
        for k in (0..threshold).filter(|&k| k < EVENTS_MAX - 1 || k == threshold - 1) {
            let t = first.saturating_add(probe_period(probe).saturating_mul(k as u64));
            let kill = k + 1 == threshold;
            self.schedule(ctx, t, key, i, Action::ProbeFail { liveness, kill });
        }
    }

    /// The startup probe passed (or there is none): `started = true`.
    fn container_started(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        p.ctrs[i].status.started = Some(true);
        self.dirty.insert(key.clone());
        if p.ctrs[i].is_sidecar() {
            // A restartable init container lets the next one start once it has started.
            self.advance_past(key, i, ctx);
        }
    }

    /// Starts what comes after init container `i`: the next init container, or the app
    /// containers. Once per init container.
    fn advance_past(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        if std::mem::replace(&mut p.ctrs[i].advanced, true) {
            return;
        }
        match (i + 1..p.ctrs.len()).find(|&j| p.ctrs[j].init) {
            Some(next) => self.start_container(key, next, ctx),
            None => self.start_app_containers(key, ctx),
        }
    }

    /// The app's readiness changed at `now`: schedule the probe result flip, and the next
    /// flap if the behaviour flaps.
    fn app_ready(&mut self, key: &ObjectKey, i: usize, ready: bool, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let behavior = p.ctrs[i].behavior.map(|b| &self.behaviors[b]);
        let next_flap = behavior.and_then(|b| {
            let d = if ready {
                b.not_ready_after.as_ref()
            } else {
                b.not_ready_for.as_ref()
            };
            let other = if ready {
                b.not_ready_for.as_ref()
            } else {
                b.not_ready_after.as_ref()
            };
            other.and(d).map(|d| d.sample(&mut p.rng))
        });
        let c = &mut p.ctrs[i];
        c.app_ready = ready;
        c.ready_epoch += 1;
        let flip_at = match (&c.spec.readiness_probe, c.init) {
            (_, true) => None,
            // No readiness probe: Ready as soon as started (`prober_manager.go` UpdatePodStatus).
            (None, false) => Some(now),
            (Some(rp), false) => {
                let first = first_tick_at_or_after(rp, c.started_at, now);
                let n = if ready {
                    rp.success_threshold
                } else {
                    rp.failure_threshold
                };
                Some(first.saturating_add(ticks(rp, n)))
            }
        };
        if let Some(at) = flip_at {
            self.schedule(ctx, at, key, i, Action::ReadyFlip(ready));
        }
        if let Some(d) = next_flap {
            self.schedule(ctx, now.saturating_add(d), key, i, Action::AppReady(!ready));
        }
    }

    fn ready_flip(&mut self, key: &ObjectKey, i: usize, ready: bool, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let c = &p.ctrs[i];
        if c.run != Run::Running || c.status.started != Some(true) || c.status.ready == ready {
            return;
        }
        let name = c.spec.name.clone();
        p.ctrs[i].status.ready = ready;
        if !ready {
            Self::event(
                ctx,
                p,
                EventType::Warning,
                "Unhealthy",
                format!("Readiness probe failed: container {name} is not ready"),
            );
        }
        self.dirty.insert(key.clone());
    }

    fn probe_fail(
        &mut self,
        key: &ObjectKey,
        i: usize,
        liveness: bool,
        kill: bool,
        ctx: &mut Context<'_>,
    ) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        if p.terminating || p.ctrs[i].run != Run::Running {
            return;
        }
        let which = if liveness { "Liveness" } else { "Startup" };
        let name = p.ctrs[i].spec.name.clone();
        Self::event(
            ctx,
            p,
            EventType::Warning,
            "Unhealthy",
            format!("{which} probe failed: container {name} did not respond"),
        );
        if kill {
            let msg = format!(
                "Container {name} failed {} probe, will be restarted",
                which.to_lowercase()
            );
            let probe = if liveness {
                &p.ctrs[i].spec.liveness_probe
            } else {
                &p.ctrs[i].spec.startup_probe
            };
            let grace = probe
                .as_ref()
                .and_then(|pr| pr.termination_grace_period_seconds)
                .or(p.pod.spec.termination_grace_period_seconds)
                .unwrap_or(DEFAULT_GRACE_SECONDS);
            self.stop_container(key, i, grace_of(grace), msg, ctx);
        }
    }

    /// Sends SIGTERM: the container exits after its behaviour's termination time, or is
    /// killed (137) at the grace period (`kuberuntime_container.go` killContainer).
    fn stop_container(
        &mut self,
        key: &ObjectKey,
        i: usize,
        grace: SimDuration,
        message: String,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let termination = p.ctrs[i]
            .behavior
            .and_then(|b| self.behaviors[b].termination_time.as_ref())
            .map_or(SimDuration::ZERO, |d| d.sample(&mut p.rng));
        Self::event(ctx, p, EventType::Normal, "Killing", message);
        let c = &mut p.ctrs[i];
        c.run = Run::Stopping;
        c.epoch += 1;
        let (after, code) = if termination < grace {
            (termination, 143)
        } else {
            (grace, 137)
        };
        self.schedule(
            ctx,
            now.saturating_add(after),
            key,
            i,
            Action::Exit {
                code,
                reason: "Error",
            },
        );
    }

    /// A container exited: record it, then restart per restartPolicy and back-off, or move on.
    fn exited(
        &mut self,
        key: &ObjectKey,
        i: usize,
        code: i32,
        reason: &'static str,
        ctx: &mut Context<'_>,
    ) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let c = &mut p.ctrs[i];
        c.run = Run::Exited;
        c.epoch += 1;
        c.ready_epoch += 1;
        c.status.ready = false;
        c.status.started = Some(false);
        c.status.state = ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: reason.to_string(),
                message: String::new(),
                started_at: Some(Time(c.started_at)),
                finished_at: Some(Time(now)),
            }),
            ..ContainerState::default()
        };
        self.dirty.insert(key.clone());
        if p.terminating {
            if p.ctrs.iter().all(|c| !c.active()) {
                self.schedule(ctx, now, key, i, Action::ForceDelete);
            }
            return;
        }
        if p.deadline_exceeded {
            return;
        }
        let init = c.init;
        let policy = p.pod.spec.restart_policy;
        let restart = c.is_sidecar()
            || match policy {
                RestartPolicy::Always => !init || code != 0,
                RestartPolicy::OnFailure => code != 0,
                RestartPolicy::Never => false,
            };
        if restart {
            self.restart_or_back_off(key, i, ctx);
        } else if init && code == 0 {
            self.advance_past(key, i, ctx);
        }
        self.check_terminal(key);
    }

    /// `doBackOff` (`kuberuntime_manager.go`): restart now unless in back-off since the
    /// exit's FinishedAt; then wait until FinishedAt + back-off.
    fn restart_or_back_off(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let bkey = (p.pod.metadata.uid.clone(), p.ctrs[i].spec.name.clone());
        let finished = now;
        match self.crash_backoff.current(&bkey, finished) {
            Some(d) if self.crash_backoff.in_backoff_since(&bkey, finished, now) => {
                let c = &mut p.ctrs[i];
                let name = c.spec.name.clone();
                let podref = format!(
                    "{}_{}({})",
                    p.pod.metadata.name, p.pod.metadata.namespace, p.pod.metadata.uid
                );
                c.status.last_state = std::mem::take(&mut c.status.state);
                c.status.state = waiting(
                    reasons::CRASH_LOOP_BACK_OFF,
                    format!(
                        "back-off {} restarting failed container={name} pod={podref}",
                        go_duration(d)
                    ),
                );
                c.run = Run::Waiting;
                Self::event(
                    ctx,
                    p,
                    EventType::Warning,
                    "BackOff",
                    format!("Back-off restarting failed container {name} in pod {podref}"),
                );
                self.schedule(ctx, finished.saturating_add(d), key, i, Action::Restart);
            }
            _ => self.restart_now(key, i, finished, ctx),
        }
    }

    fn restart_now(&mut self, key: &ObjectKey, i: usize, finished: SimTime, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let bkey = (p.pod.metadata.uid.clone(), p.ctrs[i].spec.name.clone());
        self.crash_backoff.next(bkey, finished, now);
        let c = &mut p.ctrs[i];
        if c.status.state.terminated.is_some() {
            c.status.last_state = std::mem::take(&mut c.status.state);
        }
        c.status.restart_count += 1;
        c.run = Run::Waiting;
        self.start_container(key, i, ctx);
    }

    /// A Restart timer: after a crash back-off, or after an image pull back-off.
    fn restart_timer(&mut self, key: &ObjectKey, i: usize, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get(key) else { return };
        let c = &p.ctrs[i];
        match c
            .status
            .last_state
            .terminated
            .as_ref()
            .and_then(|t| t.finished_at)
        {
            Some(Time(finished))
                if c.status
                    .state
                    .waiting
                    .as_ref()
                    .is_some_and(|w| w.reason == reasons::CRASH_LOOP_BACK_OFF) =>
            {
                self.restart_now(key, i, finished, ctx)
            }
            _ => self.start_container(key, i, ctx),
        }
    }

    fn check_terminal(&mut self, key: &ObjectKey) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        let phase = get_phase(p);
        if phase.is_terminal() && !p.terminal {
            p.terminal = true;
            let p = self.pods.get_mut(key).expect("present");
            let (node, requests) = (p.node.clone(), p.requests.clone());
            let ip = p.ip.take();
            if let Some(n) = self.nodes.get_mut(&node) {
                n.used.sub(&requests);
                n.used.pods -= 1;
                if let Some((host, _)) = ip {
                    n.ips_used.remove(&host);
                }
            }
        }
    }

    /// `activeDeadlineSeconds` after the pod started (`active_deadline.go`): the pod fails
    /// with reason `DeadlineExceeded` and its containers are stopped, not restarted.
    fn active_deadline(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        if p.terminal || p.terminating {
            return;
        }
        p.deadline_exceeded = true;
        let message = "Pod was active on the node longer than the specified deadline".to_string();
        p.pod.status.reason = "DeadlineExceeded".into();
        p.pod.status.message = message.clone();
        Self::event(ctx, p, EventType::Normal, "DeadlineExceeded", message);
        let grace = grace_of(
            p.pod
                .spec
                .termination_grace_period_seconds
                .unwrap_or(DEFAULT_GRACE_SECONDS),
        );
        let mut running = Vec::new();
        for (i, c) in p.ctrs.iter_mut().enumerate() {
            if c.run == Run::Running {
                running.push(i);
            } else if c.run != Run::Stopping {
                c.epoch += 1; // no pending start, pull or restart
            }
        }
        for i in running {
            let name = self.pods[key].ctrs[i].spec.name.clone();
            self.stop_container(key, i, grace, format!("Stopping container {name}"), ctx);
        }
        self.dirty.insert(key.clone());
        self.check_terminal(key);
    }

    /// Graceful deletion: SIGTERM every running container; force-delete the pod when the
    /// last one has exited (bounded by the grace period).
    fn terminate(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let Some(p) = self.pods.get_mut(key) else {
            return;
        };
        p.terminating = true;
        let grace = p
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or(p.pod.spec.termination_grace_period_seconds)
            .unwrap_or(DEFAULT_GRACE_SECONDS);
        let mut running = Vec::new();
        for (i, c) in p.ctrs.iter_mut().enumerate() {
            match c.run {
                Run::Running => running.push(i),
                Run::Stopping => {}
                _ => {
                    // Pending pulls and back-offs are abandoned.
                    c.epoch += 1;
                    c.run = Run::Exited;
                }
            }
        }
        if running.is_empty() && !p.ctrs.iter().any(|c| c.run == Run::Stopping) {
            self.schedule(ctx, now, key, 0, Action::ForceDelete);
            return;
        }
        for i in running {
            let name = self.pods[key].ctrs[i].spec.name.clone();
            self.stop_container(
                key,
                i,
                grace_of(grace),
                format!("Stopping container {name}"),
                ctx,
            );
        }
    }

    // ---- status ----

    fn write_rejection(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) {
        let Some(Object::Pod(live)) = ctx.get(key).as_deref().cloned() else {
            return;
        };
        let p = &self.pods[key];
        let mut pod = live;
        pod.status.phase = PodPhase::Failed;
        pod.status.reason = p.pod.status.reason.clone();
        pod.status.message = p.pod.status.message.clone();
        pod.metadata.resource_version = 0;
        let _ = ctx.update(Object::Pod(pod));
    }

    fn flush(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        for key in std::mem::take(&mut self.dirty) {
            if !self.status_may_go(&key, ctx) {
                continue;
            }
            let Some(p) = self.pods.get_mut(&key) else {
                continue;
            };
            if self
                .nodes
                .get(&p.node)
                .is_some_and(|n| !n.agent.connected())
            {
                continue; // written on reconnect
            }
            let Some(Object::Pod(mut pod)) = ctx.get(&key).as_deref().cloned() else {
                continue;
            };
            let phase = get_phase(p);
            let all_ready = p.ctrs.iter().filter(|c| !c.init).all(|c| c.status.ready);
            let init_done = p.initialized;
            let mut conditions = Vec::new();
            let scheduled =
                crate::api::meta::find_condition(&pod.status.conditions, "PodScheduled").cloned();
            conditions.push(scheduled.unwrap_or(Condition {
                type_: "PodScheduled".into(),
                status: ConditionStatus::True,
                last_transition_time: pod.status.start_time.or(Some(Time(now))),
                ..Condition::default()
            }));
            for (type_, ok, reason) in [
                ("Initialized", init_done, "ContainersNotInitialized"),
                ("ContainersReady", all_ready, "ContainersNotReady"),
                ("Ready", all_ready, "ContainersNotReady"),
            ] {
                let since = p.conditions_since.entry(type_).or_insert((ok, now));
                if since.0 != ok {
                    *since = (ok, now);
                }
                conditions.push(Condition {
                    type_: type_.into(),
                    status: if ok {
                        ConditionStatus::True
                    } else {
                        ConditionStatus::False
                    },
                    reason: if ok { String::new() } else { reason.into() },
                    last_transition_time: Some(Time(since.1)),
                    ..Condition::default()
                });
            }
            // Keep the conditions other components own (DisruptionTarget, ...).
            conditions.extend(
                pod.status
                    .conditions
                    .iter()
                    .filter(|c| {
                        c.type_ != "PodScheduled" && !KUBELET_CONDITIONS.contains(&c.type_.as_str())
                    })
                    .cloned(),
            );
            pod.status.phase = phase;
            if !p.pod.status.pod_ip.is_empty() {
                pod.status.pod_ip = p.pod.status.pod_ip.clone();
            }
            if p.deadline_exceeded {
                pod.status.reason = p.pod.status.reason.clone();
                pod.status.message = p.pod.status.message.clone();
            }
            pod.status.conditions = conditions;
            pod.status.start_time = p.pod.status.start_time;
            pod.status.init_container_statuses = p
                .ctrs
                .iter()
                .filter(|c| c.init)
                .map(|c| c.status.clone())
                .collect();
            pod.status.container_statuses = p
                .ctrs
                .iter()
                .filter(|c| !c.init)
                .map(|c| c.status.clone())
                .collect();
            pod.metadata.resource_version = 0;
            if let Err(crate::api::ApiError::ServiceUnavailable) = ctx.update(Object::Pod(pod))
                && self.status_retry.insert(key.clone())
            {
                // The status manager re-syncs every 10s (`syncPeriod`, status_manager.go).
                self.schedule(
                    ctx,
                    now.saturating_add(STATUS_SYNC_PERIOD),
                    &key,
                    0,
                    Action::RetryStatus,
                );
            }
        }
    }

    /// Whether pod `key`'s status is written now. A status write crosses the node's link to
    /// the control plane: with latency it is sent now and written when it arrives (with the
    /// pod's state at that moment: later changes ride along); lost, it is retried at the
    /// next status sync. Without latency or loss (the default network) it is written at once
    /// and nothing is drawn.
    fn status_may_go(&mut self, key: &ObjectKey, ctx: &mut Context<'_>) -> bool {
        if self.arrived.remove(key) {
            return true;
        }
        if self.in_flight.contains(key) {
            return false;
        }
        let Some(node) = self.pods.get(key).map(|p| p.node.clone()) else {
            return true;
        };
        if self.nodes.get(&node).is_some_and(|n| !n.agent.connected()) {
            return true; // skipped by the caller: written on reconnect
        }
        let rng = self.net_rng.get_or_insert_with(|| ctx.stream("network"));
        let sent = ctx
            .network()
            .sample(Place::Node(&node), Place::ControlPlane, rng);
        let now = ctx.now();
        match sent {
            // Cut off, and the kubelet has not learnt it yet: written on reconnect.
            None => false,
            Some((_, true)) => {
                if self.status_retry.insert(key.clone()) {
                    self.schedule(
                        ctx,
                        now.saturating_add(STATUS_SYNC_PERIOD),
                        key,
                        0,
                        Action::RetryStatus,
                    );
                }
                false
            }
            Some((latency, false)) if latency.is_zero() => true,
            Some((latency, false)) => {
                self.in_flight.insert(key.clone());
                self.schedule(
                    ctx,
                    now.saturating_add(latency),
                    key,
                    0,
                    Action::StatusArrives,
                );
                false
            }
        }
    }

    fn fire(&mut self, token: u64, ctx: &mut Context<'_>) {
        let Some(t) = self.timers.remove(&token) else {
            return;
        };
        let Some(p) = self.pods.get(&t.pod) else {
            return;
        };
        match t.action {
            Action::ForceDelete => {
                if self.nodes.get(&p.node).is_none_or(|n| n.agent.connected()) {
                    let _ = ctx.delete(&t.pod, &DeleteOptions::force());
                }
                return;
            }
            Action::ActiveDeadline => {
                self.active_deadline(&t.pod, ctx);
                return;
            }
            Action::RetryStatus => {
                self.status_retry.remove(&t.pod);
                self.dirty.insert(t.pod);
                return;
            }
            Action::StatusArrives => {
                self.in_flight.remove(&t.pod);
                self.arrived.insert(t.pod.clone());
                self.dirty.insert(t.pod);
                return;
            }
            _ => {}
        }
        let Some(c) = p.ctrs.get(t.ctr) else { return };
        let current = match t.action {
            Action::AppReady(_) | Action::ReadyFlip(_) => {
                t.epoch == c.epoch && t.ready_epoch == c.ready_epoch
            }
            _ => t.epoch == c.epoch,
        };
        if !current {
            return;
        }
        let (key, i) = (&t.pod, t.ctr);
        match t.action {
            Action::PullDone => self.pull_done(key, i, ctx),
            Action::ShowImageBackOff => self.show_image_backoff(key, i, ctx),
            Action::Restart => self.restart_timer(key, i, ctx),
            Action::Exit { code, reason } => self.exited(key, i, code, reason, ctx),
            Action::AppReady(r) => self.app_ready(key, i, r, ctx),
            Action::ReadyFlip(r) => self.ready_flip(key, i, r, ctx),
            Action::StartupPassed => {
                self.container_started(key, i, ctx);
                // Readiness probes start now; re-evaluate the app's current readiness.
                let ready = self.pods[key].ctrs[i].app_ready;
                if ready {
                    self.app_ready(key, i, true, ctx);
                }
            }
            Action::ProbeFail { liveness, kill } => self.probe_fail(key, i, liveness, kill, ctx),
            Action::ForceDelete
            | Action::ActiveDeadline
            | Action::RetryStatus
            | Action::StatusArrives => {}
        }
    }
}

fn as_pod(o: &Object) -> Option<&Pod> {
    match o {
        Object::Pod(p) => Some(p),
        _ => None,
    }
}

/// Where node Leases live.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

impl Ctr {
    /// A restartable init container (`restartPolicy: Always` on an init container): it
    /// keeps running beside the app and is always restarted.
    fn is_sidecar(&self) -> bool {
        self.init && self.spec.restart_policy == Some(ContainerRestartPolicy::Always)
    }

    /// Running, stopping or pulling: the pod cannot be removed yet.
    fn active(&self) -> bool {
        matches!(self.run, Run::Running | Run::Stopping | Run::Pulling)
    }
}

/// `getPhase` (`pkg/kubelet/kubelet_pods.go`).
fn get_phase(p: &PodState) -> PodPhase {
    if p.deadline_exceeded {
        return PodPhase::Failed;
    }
    let policy = p.pod.spec.restart_policy;
    let (mut pending_init, mut failed_init) = (0, 0);
    for c in p.ctrs.iter().filter(|c| c.init) {
        let s = &c.status;
        if c.is_sidecar() {
            // Counted as pending only until it has started (`IsRestartableInitContainer`).
            pending_init += usize::from(!c.advanced);
            continue;
        }
        if s.state.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &s.state.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if let Some(t) = &s.last_state.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else {
            pending_init += 1;
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in p.ctrs.iter().filter(|c| !c.init) {
        let s = &c.status;
        if s.state.running.is_some() {
            running += 1;
        } else if let Some(t) = &s.state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s.last_state.terminated.is_some() {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if failed_init > 0 && policy == RestartPolicy::Never {
        return PodPhase::Failed;
    }
    let any_app_started = p.initialized;
    if (pending_init > 0 && !any_app_started) || waiting > 0 {
        return PodPhase::Pending;
    }
    if running > 0 {
        return PodPhase::Running;
    }
    if stopped > 0 {
        return match policy {
            RestartPolicy::Always => PodPhase::Running,
            _ if stopped == succeeded => PodPhase::Succeeded,
            RestartPolicy::Never => PodPhase::Failed,
            RestartPolicy::OnFailure => PodPhase::Running,
        };
    }
    PodPhase::Pending
}

/// The node annotation giving its image pull bandwidth in bytes per second, as a quantity
/// (`50Mi` = 50 MiB/s).
pub const PULL_BANDWIDTH_ANNOTATION: &str = "kubesim.io/image-pull-bandwidth";

/// A node's pull bandwidth (bytes/s), if annotated with a positive quantity.
fn pull_bandwidth(node: &Node) -> Option<i64> {
    let q = node.metadata.annotations.get(PULL_BANDWIDTH_ANNOTATION)?;
    crate::api::Quantity::parse(q)
        .ok()
        .map(|q| q.value())
        .filter(|v| *v > 0)
}

/// `size` bytes at `bandwidth` bytes/s, rounded up to the millisecond.
fn transfer_time(size: i64, bandwidth: i64) -> SimDuration {
    let ms = (u128::from(size.max(0).unsigned_abs()) * 1000)
        .div_ceil(u128::from(bandwidth.unsigned_abs()));
    SimDuration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The image back-off key (`image_manager.go`): `<podUID>_<image>`.
pub fn image_backoff_key(pod_uid: &str, image: &str) -> String {
    format!("{pod_uid}_{image}")
}

/// A whole-second duration as Go prints it (`10s`, `5m0s`), for upstream's messages.
fn go_duration(d: SimDuration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

/// Registers a fleet with default settings running `behaviors` on `cluster`: what
/// `kubesim run` does once the scenario's objects are applied.
pub fn register(
    cluster: &mut crate::runtime::Cluster,
    behaviors: Vec<Behavior>,
) -> Result<crate::runtime::ComponentId, crate::runtime::RuntimeError> {
    cluster.add_component(Box::new(KubeletFleet::new(
        KubeletConfig::default(),
        behaviors,
    )))
}

impl Component for KubeletFleet {
    fn name(&self) -> String {
        "kubelet".into()
    }

    /// Nodes first, so that the initial list delivers nodes before the pods bound to them;
    /// then bound pods only (`spec.nodeName!=`), so unscheduled pods cost the fleet nothing.
    fn watches(&self) -> Vec<WatchFilter> {
        vec![
            WatchFilter {
                per_node: true,
                ..WatchFilter::kinds(&[Kind::Node])
            },
            WatchFilter {
                bound_pods_only: true,
                per_node: true,
                ..WatchFilter::kinds(&[Kind::Pod])
            },
        ]
    }

    fn on_watch(&mut self, watch: usize, event: &WatchEvent, ctx: &mut Context<'_>) {
        match watch {
            WATCH_NODES => self.on_node(event, ctx),
            WATCH_PODS => self.on_pod(event, ctx),
            _ => {}
        }
        self.flush(ctx);
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        self.fire(token, ctx);
        self.flush(ctx);
    }
}

#[cfg(test)]
mod glob_tests {
    use super::glob_match;

    #[test]
    fn glob_stars_match_any_run_of_characters() {
        assert!(glob_match("registry.example/*", "registry.example/web:2"));
        assert!(glob_match("*:2*", "registry.example/web:2.1"));
        assert!(glob_match("nginx:1.27", "nginx:1.27"));
        assert!(!glob_match("nginx:1.27", "nginx:1.28"));
        assert!(!glob_match("registry.example/*", "docker.io/web"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acbd"));
    }
}
