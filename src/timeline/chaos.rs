//! Random chaos (`spec.chaos`): seeded fault generators that expand, before the run, into
//! explicit timeline entries.
//!
//! - `nodeFailures`: per pool, each node fails after an exponential time with mean `mtbf`,
//!   stays down an exponential time with mean `mttr` (a `nodeCrash` with `duration`), and
//!   fails again an exponential time after it is back, until the end of the run.
//! - `containerCrashes`: per selector, kills of one matching pod's containers at exponential
//!   intervals with mean `mtbf` (`containerKill`; the victim is drawn too).
//! - `nodeKiller` (ClusterLoader2's NodeKiller): every `interval` × (1 + U[0, jitterFactor)),
//!   `failureRatio` of the matching nodes (rounded up), drawn without replacement, crash for
//!   `downtime`.
//!
//! Every draw comes from the stream `chaos/<generator>/<index>` of the run's seed, so a seed
//! gives the same faults. The generated entries are plain timeline entries (named
//! `chaos-...`), appended after `spec.events`; `kubesim run --record-faults FILE` writes the
//! whole timeline so the run replays as a fixed scenario even after this generator changes.
//! *Simplified:* NodeKiller picks among the nodes the scenario declares at load (upstream
//! picks among the live Ready nodes at each round).

use rand::RngExt;
use serde_json::{Value, json};

use crate::api::selector::Selector;
use crate::scenario::yaml::path_index;
use crate::sim::{RngFactory, RngStream, SimDuration};

use super::fields::{Fields, Problems};

/// Most entries the generators may produce in one run.
pub const MAX_GENERATED: usize = 100_000;

#[derive(Clone, Debug, Default)]
pub struct ChaosSpec {
    pub node_failures: Vec<NodeFailures>,
    pub container_crashes: Vec<ContainerCrashes>,
    pub node_killer: Option<NodeKiller>,
}

#[derive(Clone, Debug)]
pub struct NodeFailures {
    pub pool: String,
    pub mtbf: SimDuration,
    pub mttr: SimDuration,
}

#[derive(Clone, Debug)]
pub struct ContainerCrashes {
    pub namespace: String,
    pub selector: String,
    pub mtbf: SimDuration,
}

#[derive(Clone, Debug)]
pub struct NodeKiller {
    pub failure_ratio: f64,
    pub interval: SimDuration,
    pub jitter_factor: f64,
    pub downtime: SimDuration,
    pub selector: Selector,
}

fn positive(f: &mut Fields<'_>, key: &'static str, problems: &mut Problems) -> Option<SimDuration> {
    match f.duration(key, problems) {
        Some(d) if !d.is_zero() => Some(d),
        Some(_) => {
            problems.push((f.field(key), "Invalid value: 0s: must be positive".into()));
            None
        }
        None => {
            if !f.has(key) {
                problems.push((f.field(key), "Required value".into()));
            }
            None
        }
    }
}

fn number(f: &mut Fields<'_>, key: &'static str, problems: &mut Problems) -> Option<f64> {
    let v = f.raw(key)?;
    match v.as_f64() {
        Some(x) if x.is_finite() && x >= 0.0 => Some(x),
        _ => {
            problems.push((f.field(key), "expected a number >= 0".into()));
            None
        }
    }
}

/// Decodes `spec.chaos`; `pools` are the scenario's pool names.
pub fn parse(value: &Value, pools: &[String], problems: &mut Problems) -> ChaosSpec {
    let mut spec = ChaosSpec::default();
    let Some(mut f) = Fields::of(value, "spec.chaos", problems) else {
        return spec;
    };
    if let Some(items) = f.raw("nodeFailures") {
        let base = f.field("nodeFailures");
        for (i, item) in items
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let Some(mut g) = Fields::of(item, &path_index(&base, i), problems) else {
                continue;
            };
            let pool = g.required_string("pool", problems);
            if let Some(p) = &pool
                && !pools.contains(p)
            {
                problems.push((
                    g.field("pool"),
                    format!("Not found: {p:?}: no such node pool"),
                ));
            }
            let mtbf = positive(&mut g, "mtbf", problems);
            let mttr = positive(&mut g, "mttr", problems);
            g.finish(problems);
            if let (Some(pool), Some(mtbf), Some(mttr)) = (pool, mtbf, mttr) {
                spec.node_failures.push(NodeFailures { pool, mtbf, mttr });
            }
        }
    }
    if let Some(items) = f.raw("containerCrashes") {
        let base = f.field("containerCrashes");
        for (i, item) in items
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let Some(mut g) = Fields::of(item, &path_index(&base, i), problems) else {
                continue;
            };
            let namespace = g.string("namespace", problems).unwrap_or_default();
            let selector = g.required_string("selector", problems);
            if let Some(s) = &selector
                && let Err(e) = Selector::parse(s)
            {
                problems.push((g.field("selector"), format!("Invalid value: {e}")));
            }
            let mtbf = positive(&mut g, "mtbf", problems);
            g.finish(problems);
            if let (Some(selector), Some(mtbf)) = (selector, mtbf) {
                spec.container_crashes.push(ContainerCrashes {
                    namespace,
                    selector,
                    mtbf,
                });
            }
        }
    }
    if let Some(v) = f.raw("nodeKiller")
        && let Some(mut g) = Fields::of(v, &f.field("nodeKiller"), problems)
    {
        let failure_ratio = number(&mut g, "failureRatio", problems);
        if failure_ratio.is_some_and(|r| r > 1.0) {
            problems.push((g.field("failureRatio"), "must be between 0 and 1".into()));
        }
        let interval = positive(&mut g, "interval", problems);
        let jitter_factor = number(&mut g, "jitterFactor", problems).unwrap_or(0.0);
        let downtime = positive(&mut g, "downtime", problems);
        let selector = g.selector("selector", problems).unwrap_or_default();
        g.finish(problems);
        if let (Some(failure_ratio), Some(interval), Some(downtime)) =
            (failure_ratio, interval, downtime)
        {
            spec.node_killer = Some(NodeKiller {
                failure_ratio: failure_ratio.min(1.0),
                interval,
                jitter_factor,
                downtime,
                selector,
            });
        }
    }
    f.finish(problems);
    spec
}

fn exponential(rng: &mut RngStream, mean: SimDuration) -> SimDuration {
    let u: f64 = rng.random::<f64>();
    let secs = -(mean.as_nanos() as f64 / 1e9) * (1.0 - u).ln();
    SimDuration::from_nanos((secs * 1e9).clamp(1e6, 1e18) as u64)
}

/// A duration in the scenario syntax, exact to the nanosecond.
fn text(d: SimDuration) -> String {
    format!("{}ns", d.as_nanos())
}

/// The generated timeline entries (raw, in the `spec.events` syntax), in a fixed order:
/// node failures, container crashes, then NodeKiller rounds. `nodes` are the scenario's
/// nodes as (name, labels, pool).
pub fn expand(
    spec: &ChaosSpec,
    seed: u64,
    end: SimDuration,
    nodes: &[(String, crate::api::Labels)],
) -> Vec<Value> {
    let rngs = RngFactory::new(seed);
    let mut out: Vec<Value> = Vec::new();
    let full = |out: &Vec<Value>| out.len() >= MAX_GENERATED;
    for (gi, g) in spec.node_failures.iter().enumerate() {
        let members = nodes.iter().filter(|(_, l)| {
            l.get(crate::scenario::pools::LABEL_POOL)
                .map(String::as_str)
                == Some(&g.pool)
        });
        for (name, _) in members {
            let mut rng = rngs.stream(&format!("chaos/nodeFailures/{gi}/{name}"));
            let mut t = exponential(&mut rng, g.mtbf);
            let mut k = 0;
            while t < end && !full(&out) {
                let down = exponential(&mut rng, g.mttr);
                out.push(json!({
                    "name": format!("chaos-node-{name}-{k}"),
                    "at": text(t), "duration": text(down),
                    "nodeCrash": {"node": name},
                }));
                k += 1;
                t = t
                    .saturating_add(down)
                    .saturating_add(exponential(&mut rng, g.mtbf));
            }
        }
    }
    for (gi, g) in spec.container_crashes.iter().enumerate() {
        let mut rng = rngs.stream(&format!("chaos/containerCrashes/{gi}"));
        let mut t = exponential(&mut rng, g.mtbf);
        let mut k = 0;
        while t < end && !full(&out) {
            let pick: u32 = rng.random::<u32>();
            out.push(json!({
                "name": format!("chaos-crash-{gi}-{k}"),
                "at": text(t),
                "containerKill": {"namespace": g.namespace, "selector": g.selector, "pick": pick},
            }));
            k += 1;
            t = t.saturating_add(exponential(&mut rng, g.mtbf));
        }
    }
    if let Some(nk) = &spec.node_killer {
        let mut rng = rngs.stream("chaos/nodeKiller");
        let eligible: Vec<&String> = nodes
            .iter()
            .filter(|(_, l)| nk.selector.matches(l))
            .map(|(n, _)| n)
            .collect();
        let per_round = ((eligible.len() as f64) * nk.failure_ratio).ceil() as usize;
        let mut t = SimDuration::ZERO;
        let mut round = 0;
        loop {
            let jitter = rng.random::<f64>() * nk.jitter_factor;
            let step = (nk.interval.as_nanos() as f64 * (1.0 + jitter)).min(1e18) as u64;
            t = t.saturating_add(SimDuration::from_nanos(step));
            if t >= end || full(&out) {
                break;
            }
            let mut pool: Vec<&String> = eligible.clone();
            for _ in 0..per_round.min(pool.len()) {
                let i = rng.random_range(0..pool.len());
                let name = pool.swap_remove(i);
                out.push(json!({
                    "name": format!("chaos-nodekiller-{round}-{name}"),
                    "at": text(t), "duration": text(nk.downtime),
                    "nodeCrash": {"node": name},
                }));
            }
            round += 1;
        }
    }
    out
}
