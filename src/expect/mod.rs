//! Expectations (`spec.expect`): checks over the cluster's state at a time, eventually within
//! a window, or always during an interval, as one component named `expectations`.
//!
//! - It acts like an observer, not a controller: it writes nothing to the store, only
//!   results (through [`Context::set_expectation`], into summary.json) and one `Sim` event
//!   per settled check (`ExpectationPassed` / `ExpectationFailed`) into events.jsonl.
//! - It reads live state (`Context::get`/`Context::list`), as `kubectl` would.
//! - `at` checks run in a timer at their time; windows open and close with timers.
//!   While a window is open, the checks are re-evaluated once per instant at which a
//!   watched object (Pods, Nodes, workloads) changed, at delivery time (the watch latency
//!   after the write). Simplification: a state that lasts less than the watch latency can
//!   be missed by `always`; evaluating costs O(objects of the subject's kind).
//! - A failed check reports its name, the time and the observed value.

pub mod observe;
pub mod spec;

use crate::api::{Kind, WatchEvent, WatchFilter};
use crate::runtime::output::format_seconds;
use crate::runtime::summary::{ExpectationResult, ExpectationStatus};
use crate::runtime::{Component, Context, EventRecord, EventType};

pub use spec::{Expectation, Op, Subject, When};

/// Timer token of the re-evaluation after watch deliveries.
const REEVALUATE: u64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Open,
    Settled,
}

/// The expectations component.
pub struct Expectations {
    checks: Vec<Expectation>,
    states: Vec<State>,
    reevaluate_pending: bool,
}

impl Expectations {
    pub fn new(checks: Vec<Expectation>) -> Expectations {
        let states = vec![State::Waiting; checks.len()];
        Expectations {
            checks,
            states,
            reevaluate_pending: false,
        }
    }

    fn expected(e: &Expectation) -> String {
        match (&e.comparison, &e.subject) {
            (Some((op, n)), _) => format!("{} {n}", op.symbol()),
            (
                None,
                Subject::Condition {
                    type_,
                    status,
                    reason,
                    ..
                },
            ) => observe::condition_text(type_, status.as_deref(), reason.as_deref()),
            (None, _) => String::new(),
        }
    }

    fn settle(&mut self, i: usize, passed: bool, observed: String, ctx: &mut Context<'_>) {
        self.states[i] = State::Settled;
        let e = &self.checks[i];
        let expected = Self::expected(e);
        let t = ctx.now();
        let reason = if passed {
            "ExpectationPassed"
        } else {
            "ExpectationFailed"
        };
        ctx.record(EventRecord::new(
            t,
            EventType::Sim,
            reason,
            format!("Expectation/{}", e.name),
            format!("{}: observed {observed}, expected {expected}", e.name),
        ));
        ctx.set_expectation(
            i,
            ExpectationResult {
                name: e.name.clone(),
                status: if passed {
                    ExpectationStatus::Passed
                } else {
                    ExpectationStatus::Failed
                },
                t_s: Some(format_seconds(t)),
                observed,
                expected,
            },
        );
    }

    /// Evaluates check `i` now: (holds, observed value).
    fn evaluate(&self, i: usize, ctx: &Context<'_>) -> (bool, String) {
        observe::evaluate(&self.checks[i], ctx)
    }

    fn open(&mut self, i: usize, ctx: &mut Context<'_>) {
        let (holds, observed) = self.evaluate(i, ctx);
        match self.checks[i].when {
            When::At(_) => self.settle(i, holds, observed, ctx),
            When::Eventually { .. } if holds => self.settle(i, true, observed, ctx),
            When::Always { .. } if !holds => self.settle(i, false, observed, ctx),
            _ => self.states[i] = State::Open,
        }
    }

    fn close(&mut self, i: usize, ctx: &mut Context<'_>) {
        if self.states[i] == State::Settled {
            return;
        }
        let (holds, observed) = self.evaluate(i, ctx);
        self.settle(i, holds, observed, ctx);
    }

    fn reevaluate(&mut self, ctx: &mut Context<'_>) {
        for i in 0..self.checks.len() {
            if self.states[i] != State::Open {
                continue;
            }
            let (holds, observed) = self.evaluate(i, ctx);
            match self.checks[i].when {
                When::Eventually { .. } if holds => self.settle(i, true, observed, ctx),
                When::Always { .. } if !holds => self.settle(i, false, observed, ctx),
                _ => {}
            }
        }
    }
}

impl Component for Expectations {
    fn name(&self) -> String {
        "expectations".into()
    }

    fn watches(&self) -> Vec<WatchFilter> {
        let windows = self.checks.iter().any(|c| !matches!(c.when, When::At(_)));
        if !windows {
            return Vec::new();
        }
        vec![WatchFilter::kinds(&[
            Kind::Pod,
            Kind::Node,
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::ReplicationController,
            Kind::StatefulSet,
            Kind::DaemonSet,
            Kind::Job,
        ])]
    }

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for (i, e) in self.checks.iter().enumerate() {
            ctx.set_expectation(
                i,
                ExpectationResult {
                    name: e.name.clone(),
                    status: ExpectationStatus::NotEvaluated,
                    t_s: None,
                    observed: String::new(),
                    expected: Self::expected(e),
                },
            );
            let (from, to) = match e.when {
                When::At(t) => (t, None),
                When::Eventually { from, to } | When::Always { from, to } => (from, Some(to)),
            };
            let now = ctx.now();
            ctx.set_timer(from.saturating_since(now), 1 + 2 * i as u64);
            if let Some(to) = to {
                ctx.set_timer(to.saturating_since(now), 2 + 2 * i as u64);
            }
        }
    }

    fn on_watch(&mut self, _watch: usize, _event: &WatchEvent, ctx: &mut Context<'_>) {
        if !self.reevaluate_pending && self.states.contains(&State::Open) {
            self.reevaluate_pending = true;
            ctx.set_timer(crate::sim::SimDuration::ZERO, REEVALUATE);
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut Context<'_>) {
        if token == REEVALUATE {
            self.reevaluate_pending = false;
            self.reevaluate(ctx);
            return;
        }
        let i = ((token - 1) / 2) as usize;
        if i >= self.checks.len() {
            return;
        }
        if token % 2 == 1 {
            if self.states[i] == State::Waiting {
                self.open(i, ctx);
            }
        } else {
            self.close(i, ctx);
        }
    }
}
