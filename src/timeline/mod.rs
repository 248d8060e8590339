//! The scenario timeline (`spec.events`): faults and operator actions at set times, as one
//! component named `timeline`.
//!
//! - Like every component it acts only through the API store ([`Context`]): node faults are
//!   the `kubesim.io/node-state` annotation the kubelet fleet obeys, scaling and rollouts
//!   are spec writes the controllers react to, pod deletions are graceful API deletes.
//! - It reads live state (`Context::get`/`Context::list`) at each firing, as an operator's
//!   `kubectl` would, and keeps no watch cache: it acts a bounded number of times per run.
//! - Each firing writes one `Sim` event per target with reason `TimelineAction` (and
//!   `TimelineHeal` when a `duration` runs out, `TimelineActionFailed` when the API refuses),
//!   so a run's events.jsonl explains itself.
//! - Firing times are fixed when the run starts ([`spec::Trigger::times`]); heals are
//!   timers set at each firing. Every entry fires at most [`spec::MAX_FIRINGS`] times.
//!
//! One file per family of actions: `nodes.rs` (node state, zone outage, cordon, pool
//! scaling), `pods.rs` (delete, container kill, label), `registry.rs` (image registry
//! outage), `network.rs` (network partition, link degradation), and here: control-plane outage (`Context::set_control_plane_outage`: a
//! simulator control; the timeline's own API writes fail during it like everyone's). `workloads.rs` (scale, image, rollback, pause),
//! `objects.rs` (apply, delete).

pub mod chaos;
pub mod fields;
mod network;
mod nodes;
mod objects;
mod pods;
mod registry;
pub mod spec;
mod traffic;
mod workloads;

use std::collections::BTreeMap;

use crate::api::{WatchEvent, WatchFilter};
use crate::runtime::{Component, Context, EventRecord, EventType};
use crate::sim::{SimDuration, SimTime};

pub use network::REACH_ANNOTATION;
pub use spec::{
    Action, Entry, NetTarget, NodeState, NodeTarget, Places, PodTarget, PoolTemplate, Trigger,
};

/// The run's whole timeline: the scenario's `spec.events` followed by the entries its
/// `spec.chaos` generators draw for its seed and duration, both decoded and as raw entries
/// in the `spec.events` syntax (what `--record-faults` writes).
pub fn full_timeline(scenario: &crate::scenario::Scenario) -> (Vec<serde_json::Value>, Vec<Entry>) {
    let mut raw = scenario.events_source.clone();
    let mut entries = scenario.timeline.clone();
    if let Some(spec) = &scenario.chaos {
        let nodes: Vec<(String, crate::api::Labels)> = scenario
            .objects
            .iter()
            .filter(|o| o.object.kind() == crate::api::Kind::Node)
            .map(|o| (o.object.meta().name.clone(), o.object.meta().labels.clone()))
            .collect();
        let generated = chaos::expand(spec, scenario.config.seed, scenario.config.duration, &nodes);
        let mut problems = Vec::new();
        let value = serde_json::Value::Array(generated.clone());
        let mut no_apply = |_: spec::ApplySource<'_>| Vec::new();
        entries.extend(spec::parse(
            &value,
            &scenario.pools,
            &mut problems,
            &mut no_apply,
        ));
        debug_assert!(
            problems.is_empty(),
            "generated entries decode: {problems:?}"
        );
        raw.extend(generated);
    }
    (raw, entries)
}

/// The timeline component.
pub struct Timeline {
    entries: Vec<Entry>,
    pools: Vec<PoolTemplate>,
    /// Firing times per entry, fixed at start.
    times: Vec<Vec<SimTime>>,
    end: SimDuration,
    pending: BTreeMap<u64, Pending>,
    next_token: u64,
    /// Next node index per pool (`addNodes` continues the pool's numbering).
    pool_next: BTreeMap<String, u32>,
}

enum Pending {
    Fire { entry: usize, firing: usize },
    Heal { entry: usize, undo: Undo },
}

/// What a heal restores.
enum Undo {
    NodesRunning(Vec<String>),
    Uncordon(Vec<String>),
    Resume,
    RegistryUp,
    ControlPlaneUp,
    TrafficSchedule,
    NetworkRule(crate::network::RuleId),
}

impl Timeline {
    /// A timeline of checked entries; `end` is the run's duration (an `every` without a
    /// bound stops there).
    pub fn new(entries: Vec<Entry>, pools: Vec<PoolTemplate>, end: SimDuration) -> Timeline {
        let pool_next = pools
            .iter()
            .map(|p| (p.spec.name.clone(), p.spec.count))
            .collect();
        Timeline {
            entries,
            pools,
            times: Vec::new(),
            end,
            pending: BTreeMap::new(),
            next_token: 0,
            pool_next,
        }
    }

    fn at(&mut self, ctx: &mut Context<'_>, t: SimTime, p: Pending) {
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(token, p);
        ctx.set_timer(t.saturating_since(ctx.now()), token);
    }

    fn fire(&mut self, entry: usize, firing: usize, ctx: &mut Context<'_>) {
        if let Some(&next) = self.times[entry].get(firing + 1) {
            self.at(
                ctx,
                next,
                Pending::Fire {
                    entry,
                    firing: firing + 1,
                },
            );
        }
        let e = self.entries[entry].clone();
        let undo = match &e.action {
            Action::NodeState { target, state } => Some(Undo::NodesRunning(nodes::set_state(
                &e, target, *state, ctx,
            ))),
            Action::NodeReboot { target } => Some(Undo::NodesRunning(nodes::set_state(
                &e,
                target,
                NodeState::Crashed,
                ctx,
            ))),
            Action::ZoneOutage { zone } => {
                Some(Undo::NodesRunning(nodes::zone_outage(&e, zone, ctx)))
            }
            Action::Cordon { target, on } => {
                Some(Undo::Uncordon(nodes::cordon(&e, target, *on, ctx)))
            }
            Action::Drain { target, timeout } => {
                nodes::drain(&e, target, *timeout, ctx);
                None
            }
            Action::AddNodes { pool, count } => {
                let next = self.pool_next.get(pool).copied().unwrap_or(0);
                if let Some(p) = self.pools.iter().find(|p| &p.spec.name == pool) {
                    let added = nodes::add(&e, p, next, *count, ctx);
                    self.pool_next
                        .insert(pool.clone(), next.saturating_add(added));
                }
                None
            }
            Action::RemoveNodes { pool, count } => {
                nodes::remove(&e, pool, *count, ctx);
                None
            }
            Action::PodDelete { target } => {
                pods::delete(&e, target, ctx);
                None
            }
            Action::ContainerKill { target, container } => {
                pods::kill(&e, target, container.as_deref(), ctx);
                None
            }
            Action::RegistryOutage { image } => {
                registry::outage(&e, image, true, ctx);
                Some(Undo::RegistryUp)
            }
            Action::ControlPlaneOutage => {
                ctx.set_control_plane_outage(true);
                record(
                    ctx,
                    ACTION,
                    &e,
                    "ControlPlane/apiserver".into(),
                    "API writes fail with 503, watches stalled".into(),
                );
                Some(Undo::ControlPlaneUp)
            }
            Action::Label {
                target,
                add,
                remove,
            } => {
                pods::label(&e, target, add, remove, ctx);
                None
            }
            Action::Scale { key, replicas } => {
                workloads::scale(&e, key, *replicas, ctx);
                None
            }
            Action::SetImage {
                key,
                container,
                image,
            } => {
                workloads::set_image(&e, key, container.as_deref(), image, ctx);
                None
            }
            Action::Rollback { key, to_revision } => {
                workloads::rollback(&e, key, *to_revision, ctx);
                None
            }
            Action::Pause { key, paused } => {
                workloads::pause(&e, key, *paused, ctx);
                Some(Undo::Resume)
            }
            Action::Apply { objects } => {
                objects::apply(&e, objects, ctx);
                None
            }
            Action::Delete { key } => {
                objects::delete(&e, key, ctx);
                None
            }
            Action::TrafficRate { source, rate } => {
                traffic::set_rate(&e, source, Some(*rate), ctx);
                Some(Undo::TrafficSchedule)
            }
            Action::NetworkPartition { target } => {
                network::start(&e, target, crate::network::Effect::Cut, ctx).map(Undo::NetworkRule)
            }
            Action::LinkDegradation {
                target,
                latency,
                loss,
            } => {
                let effect = crate::network::Effect::Degrade {
                    latency: latency.clone(),
                    loss: *loss,
                };
                network::start(&e, target, effect, ctx).map(Undo::NetworkRule)
            }
        };
        if let (Some(after), Some(undo)) = (e.heal_after, undo) {
            let t = ctx.now().saturating_add(after);
            self.at(ctx, t, Pending::Heal { entry, undo });
        }
    }

    fn heal(&mut self, entry: usize, undo: Undo, ctx: &mut Context<'_>) {
        let e = self.entries[entry].clone();
        // A heal the API refuses (a control-plane outage) is retried every second until it
        // is written or the run ends: a machine that comes back does not wait for the API
        // server, so its recovery must not be lost (found by the property tests: a node
        // crash healing during an outage stayed down for ever).
        let retry = |names: Vec<String>,
                     this: &mut Self,
                     ctx: &mut Context<'_>,
                     undo: fn(Vec<String>) -> Undo| {
            let t = ctx.now().saturating_add(HEAL_RETRY);
            if !names.is_empty() && t <= SimTime::ZERO.saturating_add(this.end) {
                this.at(
                    ctx,
                    t,
                    Pending::Heal {
                        entry,
                        undo: undo(names),
                    },
                );
            }
        };
        match undo {
            Undo::NodesRunning(names) => {
                let refused = nodes::restore(&e, &names, ctx);
                retry(refused, self, ctx, Undo::NodesRunning);
            }
            Undo::Uncordon(names) => {
                let refused = nodes::uncordon_names(&e, &names, ctx);
                retry(refused, self, ctx, Undo::Uncordon);
            }
            Undo::ControlPlaneUp => {
                ctx.set_control_plane_outage(false);
                record(
                    ctx,
                    HEAL,
                    &e,
                    "ControlPlane/apiserver".into(),
                    "API back; held watch events delivered".into(),
                );
            }
            Undo::NetworkRule(id) => network::heal(&e, id, ctx),
            Undo::RegistryUp => {
                if let Action::RegistryOutage { image } = &e.action {
                    registry::outage(&e, image, false, ctx);
                }
            }
            Undo::TrafficSchedule => {
                if let Action::TrafficRate { source, .. } = &e.action {
                    traffic::set_rate(&e, source, None, ctx);
                }
            }
            Undo::Resume => {
                if let Action::Pause { key, .. } = &e.action {
                    workloads::resume_heal(&e, key, ctx);
                }
            }
        }
    }
}

/// One `Sim` event line for an action on `object`.
pub(crate) fn record(
    ctx: &mut Context<'_>,
    reason: &str,
    entry: &Entry,
    object: String,
    detail: String,
) {
    let message = format!("{} ({}): {detail}", entry.name, entry.action_key);
    let r = EventRecord::new(ctx.now(), EventType::Sim, reason, object, message);
    ctx.record(r);
}

/// How long a refused heal waits before it is tried again.
const HEAL_RETRY: SimDuration = SimDuration::from_secs(1);

pub(crate) const ACTION: &str = "TimelineAction";
pub(crate) const HEAL: &str = "TimelineHeal";
pub(crate) const FAILED: &str = "TimelineActionFailed";

impl Component for Timeline {
    fn name(&self) -> String {
        "timeline".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        Vec::new()
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.times = self
            .entries
            .iter()
            .map(|e| e.trigger.times(self.end))
            .collect();
        for entry in 0..self.entries.len() {
            if let Some(&t) = self.times[entry].first() {
                self.at(ctx, t, Pending::Fire { entry, firing: 0 });
            }
        }
    }

    fn on_watch(&mut self, _watch: usize, _event: &WatchEvent, _ctx: &mut Context<'_>) {}

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        match self.pending.remove(&token) {
            Some(Pending::Fire { entry, firing }) => self.fire(entry, firing, ctx),
            Some(Pending::Heal { entry, undo }) => self.heal(entry, undo, ctx),
            None => {}
        }
    }
}
