//! `kubectl drain` as a component (`drain/<node>`), started on demand by
//! [`crate::runtime::Cluster::drain`]; after `staging/src/k8s.io/kubectl/pkg/drain/`
//! (`drain.go`, `filters.go`) and `pkg/cmd/drain/drain.go`.
//!
//! kubectl drain is a client, not a controller: it cordons the node, lists the pods on it
//! once, and evicts each of them through the Eviction API ([`crate::api::eviction`]):
//! - Pods are filtered as kubectl's `GetPodsForDeletion` does: mirror pods are skipped;
//!   DaemonSet-controlled pods are skipped with `ignore_daemonsets` (`--ignore-daemonsets`),
//!   else the drain fails; pods without a controller are evicted with `force` (`--force`),
//!   else the drain fails; terminal pods are always deleted.
//! - All pods are evicted at once (kubectl runs one goroutine per pod). A 429 (a
//!   PodDisruptionBudget allows no disruption) is retried every 5 s ("will retry after
//!   5s"); any other error fails the drain.
//! - After a successful eviction the pod's deletion is awaited by polling every 1 s
//!   (`waitForDelete`, `PollImmediate(1s)`): it is gone once not found or replaced by a pod
//!   with another uid.
//! - The drain completes when every pod is gone, or gives up at the timeout (`--timeout`;
//!   none by default: kubectl's 0 means "infinite", here bounded by the run).
//!
//! kubectl prints its progress; kubesim records it as `Sim` events on `Node/<node>` (its
//! own reasons, not Kubernetes Events): `Drain` (start), `DrainEvictionRetry` (the first
//! 429 of each pod), `DrainComplete`, `DrainTimeout`, `DrainFailed`.
//!
//! Simplified: `--delete-emptydir-data` is not needed (volumes are not modelled); before
//! evicting, the pod's uid is checked so that a same-named replacement (a StatefulSet pod)
//! is not evicted in its place.

use std::collections::BTreeMap;

use crate::api::eviction::EvictOptions;
use crate::api::objects::{Kind, Object, ObjectKey, PodPhase};
use crate::api::{ApiError, WatchEvent, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{SimDuration, SimTime};

/// kubectl's retry interval after a 429 from the Eviction API.
pub const EVICTION_RETRY: SimDuration = SimDuration::from_secs(5);
/// kubectl's `waitForDelete` poll interval.
pub const DELETE_POLL: SimDuration = SimDuration::from_secs(1);
/// The annotation of mirror (static) pods.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

const TOKEN_TIMEOUT: u64 = u64::MAX;

/// `kubectl drain` flags. Default: `--ignore-daemonsets --force`, the pods' own grace
/// periods, no timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrainOptions {
    /// `--timeout`: give up after this long (`None`: never, as kubectl's default 0).
    pub timeout: Option<SimDuration>,
    /// `--ignore-daemonsets`: skip DaemonSet-managed pods (else the drain fails on them).
    pub ignore_daemonsets: bool,
    /// `--force`: evict pods that have no controller (else the drain fails on them).
    pub force: bool,
    /// `--grace-period`: `None` uses each pod's own.
    pub grace_period_seconds: Option<i64>,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            timeout: None,
            ignore_daemonsets: true,
            force: true,
            grace_period_seconds: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Eviction refused with 429; retried at the next timer.
    Evicting,
    /// Evicted; polling for its deletion.
    Waiting,
    Gone,
}

struct Target {
    key: ObjectKey,
    uid: String,
    state: State,
    refused: bool,
}

/// One drain of one node.
pub struct Drain {
    name: String,
    node: String,
    opts: DrainOptions,
    targets: Vec<Target>,
    started: SimTime,
    done: bool,
}

impl Drain {
    /// A drain of `node`, registered under `name` (`drain/<node>`).
    pub fn new(name: String, node: String, opts: DrainOptions) -> Self {
        Drain {
            name,
            node,
            opts,
            targets: Vec::new(),
            started: SimTime::ZERO,
            done: false,
        }
    }

    fn record(&self, ctx: &mut Context<'_>, reason: &str, message: String) {
        let mut e = EventRecord::new(
            ctx.now(),
            EventType::Sim,
            reason,
            format!("Node/{}", self.node),
            message,
        );
        e.node = Some(self.node.clone());
        ctx.record(e);
    }

    fn fail(&mut self, ctx: &mut Context<'_>, message: String) {
        self.done = true;
        self.record(ctx, "DrainFailed", message);
    }

    fn evict(&mut self, i: usize, ctx: &mut Context<'_>) {
        let key = self.targets[i].key.clone();
        let same = ctx
            .get(&key)
            .is_some_and(|o| o.meta().uid == self.targets[i].uid);
        if !same {
            self.targets[i].state = State::Gone;
            return self.check_done(ctx);
        }
        let opts = EvictOptions {
            grace_period_seconds: self.opts.grace_period_seconds,
        };
        match ctx.evict(&key, &opts) {
            Ok(_) => {
                self.targets[i].state = State::Waiting;
                self.poll(i, ctx);
            }
            Err(ApiError::NotFound { .. }) => {
                self.targets[i].state = State::Gone;
                self.check_done(ctx);
            }
            Err(e @ ApiError::TooManyRequests { .. }) => {
                if !self.targets[i].refused {
                    self.targets[i].refused = true;
                    self.record(
                        ctx,
                        "DrainEvictionRetry",
                        format!(
                            "error when evicting pods/{:?} -n {:?} (will retry after 5s): {e}",
                            key.name, key.namespace
                        ),
                    );
                }
                self.targets[i].state = State::Evicting;
                ctx.set_timer(EVICTION_RETRY, i as u64);
            }
            Err(e) => self.fail(
                ctx,
                format!(
                    "error when evicting pods/{:?} -n {:?}: {e}",
                    key.name, key.namespace
                ),
            ),
        }
    }

    /// `waitForDelete`: gone when not found or replaced (another uid); else poll again.
    fn poll(&mut self, i: usize, ctx: &mut Context<'_>) {
        let t = &self.targets[i];
        let present = ctx.get(&t.key).is_some_and(|o| o.meta().uid == t.uid);
        if present {
            ctx.set_timer(DELETE_POLL, i as u64);
        } else {
            self.targets[i].state = State::Gone;
            self.check_done(ctx);
        }
    }

    fn check_done(&mut self, ctx: &mut Context<'_>) {
        if self.done || self.targets.iter().any(|t| t.state != State::Gone) {
            return;
        }
        self.done = true;
        let took = ctx.now().saturating_since(self.started);
        self.record(
            ctx,
            "DrainComplete",
            format!(
                "node/{} drained: {} pods evicted in {}",
                self.node,
                self.targets.len(),
                took
            ),
        );
    }
}

impl Component for Drain {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        Vec::new()
    }

    fn on_watch(&mut self, _watch: usize, _event: &WatchEvent, _ctx: &mut Context<'_>) {}

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.started = ctx.now();
        let node_key = ObjectKey::new(Kind::Node, "", self.node.clone());
        // Cordon (`kubectl cordon`: spec.unschedulable = true).
        let cordoned = ctx.patch(&node_key, |o| {
            let Object::Node(n) = o else { return false };
            if n.spec.unschedulable {
                return false;
            }
            n.spec.unschedulable = true;
            true
        });
        if let Err(e) = cordoned {
            return self.fail(ctx, e.to_string());
        }
        // `GetPodsForDeletion`.
        let mut errors: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        let mut skipped = 0usize;
        for obj in ctx.list(Kind::Pod) {
            let Object::Pod(p) = &*obj else { continue };
            if p.spec.node_name != self.node {
                continue;
            }
            let name = format!("{}/{}", p.metadata.namespace, p.metadata.name);
            if p.metadata.annotations.contains_key(MIRROR_ANNOTATION) {
                skipped += 1;
                continue;
            }
            let terminal = matches!(p.status.phase, PodPhase::Succeeded | PodPhase::Failed);
            match p.metadata.controller_ref() {
                Some(r) if r.kind == "DaemonSet" => {
                    if self.opts.ignore_daemonsets {
                        skipped += 1;
                    } else {
                        errors
                            .entry("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)")
                            .or_default()
                            .push(name);
                    }
                    continue;
                }
                None if !terminal && !self.opts.force => {
                    errors
                        .entry("cannot delete Pods that declare no controller (use --force to override)")
                        .or_default()
                        .push(name);
                    continue;
                }
                _ => {}
            }
            self.targets.push(Target {
                key: ObjectKey::of(&obj),
                uid: p.metadata.uid.clone(),
                state: State::Evicting,
                refused: false,
            });
        }
        if !errors.is_empty() {
            let message = errors
                .iter()
                .map(|(why, pods)| format!("{why}: {}", pods.join(", ")))
                .collect::<Vec<_>>()
                .join("; ");
            return self.fail(ctx, format!("cannot drain node {:?}: {message}", self.node));
        }
        self.record(
            ctx,
            "Drain",
            format!(
                "node/{} cordoned; evicting {} pods ({} skipped)",
                self.node,
                self.targets.len(),
                skipped
            ),
        );
        if let Some(t) = self.opts.timeout {
            ctx.set_timer(t, TOKEN_TIMEOUT);
        }
        for i in 0..self.targets.len() {
            if self.done {
                break;
            }
            self.evict(i, ctx);
        }
        self.check_done(ctx);
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        if self.done {
            return;
        }
        if token == TOKEN_TIMEOUT {
            self.done = true;
            let left = self
                .targets
                .iter()
                .filter(|t| t.state != State::Gone)
                .count();
            let timeout = self.opts.timeout.unwrap_or(SimDuration::ZERO);
            return self.record(
                ctx,
                "DrainTimeout",
                format!("drain did not complete within {timeout}: {left} pods left"),
            );
        }
        let i = token as usize;
        match self.targets.get(i).map(|t| t.state) {
            Some(State::Evicting) => self.evict(i, ctx),
            Some(State::Waiting) => self.poll(i, ctx),
            _ => {}
        }
    }
}
