//! Container behaviour: what a simulated container does once started (`spec.behaviors`).
//!
//! - A [`Behavior`] applies to a pod's containers when the pod carries the annotation
//!   `kubesim.io/behavior: <name>`, or else when its `selector` matches the pod's labels;
//!   `container` narrows it to one container name. The first matching behaviour (in file
//!   order) wins per container; a container with none starts at once and runs forever.
//! - Durations are [`Distribution`]s, drawn per container run from the pod's own random
//!   stream (`kubelet/pod/<namespace>/<name>`), so one pod's draws never shift another's.
//! - Every field is documented in `docs/scenario-format.md` (`spec.behaviors`).

use rand::RngExt;
use serde::{Deserialize, Deserializer};

use crate::api::{LabelSelector, Quantity};
use crate::sim::{RngStream, SimDuration, parse_duration};

/// The pod annotation that names a behaviour explicitly.
pub const BEHAVIOR_ANNOTATION: &str = "kubesim.io/behavior";

/// One entry of `spec.behaviors`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Behavior {
    /// Names the behaviour (for the `kubesim.io/behavior` annotation and messages).
    pub name: String,
    /// Pods whose labels match; absent means only pods annotated with this name.
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    /// Only this container of matching pods; absent means every container.
    #[serde(default)]
    pub container: Option<String>,
    /// Only containers running a matching image (`*` matches any run of characters), e.g.
    /// `registry.example/web:2.*` for "version 2 crashes". Default: any image.
    #[serde(default)]
    pub image: Option<String>,
    /// Time from start until the application is up (startup probe passes). Default 0.
    #[serde(default)]
    pub startup_time: Option<Distribution>,
    /// Time after startup until the readiness probe passes. Default 0.
    #[serde(default)]
    pub readiness_delay: Option<Distribution>,
    /// The container exits by itself this long after starting, with `exitCode`.
    #[serde(default)]
    pub exit_after: Option<Distribution>,
    /// Exit code of an `exitAfter` exit. Default 0 (work done).
    #[serde(default)]
    pub exit_code: i32,
    /// Probability (0 to 1) that a run's `exitAfter` exit is a failure, with
    /// `crashExitCode` instead of `exitCode`: one draw per container start from the pod's
    /// stream, made only when the ratio is above 0 (so other draws do not shift). Default 0.
    #[serde(default)]
    pub failure_ratio: f64,
    /// Time from start to a crash (e.g. `{exponential: {mean: 1h}}` for a crash rate),
    /// with `crashExitCode`.
    #[serde(default)]
    pub crash_after: Option<Distribution>,
    /// Exit code of a crash. Default 1.
    #[serde(default = "default_crash_exit_code")]
    pub crash_exit_code: i32,
    /// The liveness probe starts failing this long after the container starts.
    #[serde(default)]
    pub liveness_failure_after: Option<Distribution>,
    /// Once ready, the readiness probe starts failing after this long ...
    #[serde(default)]
    pub not_ready_after: Option<Distribution>,
    /// ... and passes again this long later; then the cycle repeats (readiness flapping).
    #[serde(default)]
    pub not_ready_for: Option<Distribution>,
    /// Memory use; above the container's memory limit the container is OOMKilled (137).
    #[serde(default)]
    pub memory: Option<MemoryUsage>,
    /// CPU use (reported for metrics; does not change timing).
    #[serde(default)]
    pub cpu: Option<Quantity>,
    /// Time the container takes to exit after SIGTERM. Default 0.
    #[serde(default)]
    pub termination_time: Option<Distribution>,
    /// Time to pull the image when the node does not have it. Default 0.
    #[serde(default)]
    pub image_pull_time: Option<Distribution>,
    /// Image size: with a node annotated `kubesim.io/image-pull-bandwidth`, the pull takes
    /// size / bandwidth (instead of `imagePullTime`).
    #[serde(default)]
    pub image_size: Option<Quantity>,
    /// Pull attempts that fail (ErrImagePull) before one succeeds, per pod. Default 0.
    #[serde(default)]
    pub image_pull_failures: u32,
}

fn default_crash_exit_code() -> i32 {
    1
}

/// Memory use: `initial` at start, growing by `growthPerSecond`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryUsage {
    pub initial: Quantity,
    #[serde(default)]
    pub growth_per_second: Quantity,
}

impl MemoryUsage {
    /// How long after start a container with memory `limit` (bytes) is OOM-killed, if ever.
    /// Whole seconds, rounded up: the kernel kills at the first byte over the limit.
    pub fn oom_after(&self, limit: i64) -> Option<SimDuration> {
        let initial = self.initial.value();
        if limit <= 0 {
            return None;
        }
        if initial > limit {
            return Some(SimDuration::ZERO);
        }
        let growth = self.growth_per_second.value();
        if growth <= 0 {
            return None;
        }
        let secs = (limit.saturating_sub(initial) / growth).saturating_add(1);
        Some(SimDuration::from_secs(secs as u64))
    }
}

/// A distribution of durations.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Constant(SimDuration),
    /// Uniform on `[min, max]`.
    Uniform {
        min: SimDuration,
        max: SimDuration,
    },
    Exponential {
        mean: SimDuration,
    },
    /// Normal, redrawn (up to 64 times, then clamped) until inside `[min, max]`.
    Normal {
        mean: SimDuration,
        stddev: SimDuration,
        min: SimDuration,
        max: SimDuration,
    },
    /// `median · exp(sigma · Z)`, Z standard normal.
    Lognormal {
        median: SimDuration,
        sigma: f64,
    },
}

/// Longest duration a draw returns (about 31 years), so sums never overflow.
const MAX_DRAW: SimDuration = SimDuration::from_secs(1_000_000_000);

fn secs_f64(d: SimDuration) -> f64 {
    d.as_nanos() as f64 / 1e9
}

fn from_secs_f64(s: f64) -> SimDuration {
    if s.is_nan() || s <= 0.0 {
        return SimDuration::ZERO;
    }
    // +inf (e.g. a lognormal with a huge sigma) becomes the cap.
    let nanos = (s * 1e9).min(MAX_DRAW.as_nanos() as f64);
    SimDuration::from_nanos(nanos as u64)
}

/// A standard normal draw (Box–Muller).
pub(crate) fn standard_normal(rng: &mut RngStream) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Behavior {
    /// Whether this container run fails (see `failure_ratio`); draws only when the ratio is
    /// above 0.
    pub fn draw_failure(&self, rng: &mut RngStream) -> bool {
        self.failure_ratio > 0.0 && rng.random::<f64>() < self.failure_ratio
    }
}

impl Distribution {
    /// One draw. Deterministic for a given stream state.
    pub fn sample(&self, rng: &mut RngStream) -> SimDuration {
        let d = match *self {
            Distribution::Constant(d) => d,
            Distribution::Uniform { min, max } => {
                SimDuration::from_nanos(rng.random_range(min.as_nanos()..=max.as_nanos()))
            }
            Distribution::Exponential { mean } => {
                let u: f64 = rng.random::<f64>();
                from_secs_f64(-secs_f64(mean) * (1.0 - u).ln())
            }
            Distribution::Normal {
                mean,
                stddev,
                min,
                max,
            } => {
                let (lo, hi) = (secs_f64(min), secs_f64(max));
                let mut x = secs_f64(mean);
                for _ in 0..64 {
                    x = secs_f64(mean) + secs_f64(stddev) * standard_normal(rng);
                    if (lo..=hi).contains(&x) {
                        break;
                    }
                }
                from_secs_f64(x.clamp(lo, hi))
            }
            Distribution::Lognormal { median, sigma } => {
                from_secs_f64(secs_f64(median) * (sigma * standard_normal(rng)).exp())
            }
        };
        d.min(MAX_DRAW)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
enum DistributionRepr {
    Constant(DurationStr),
    Uniform {
        min: DurationStr,
        max: DurationStr,
    },
    Exponential {
        mean: DurationStr,
    },
    Normal {
        mean: DurationStr,
        stddev: DurationStr,
        #[serde(default)]
        min: Option<DurationStr>,
        #[serde(default)]
        max: Option<DurationStr>,
    },
    Lognormal {
        median: DurationStr,
        sigma: f64,
    },
}

/// A Go-style duration string, or a bare 0.
struct DurationStr(SimDuration);

impl<'de> Deserialize<'de> for DurationStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => parse_duration(&s)
                .map(DurationStr)
                .map_err(D::Error::custom),
            serde_json::Value::Number(n) if n.as_u64() == Some(0) => {
                Ok(DurationStr(SimDuration::ZERO))
            }
            other => Err(D::Error::custom(format!(
                "invalid duration {other}: expected a string such as 30s, 1m30s or 250ms"
            ))),
        }
    }
}

const DISTRIBUTION_HELP: &str = "expected a duration (e.g. 5s) or one of {constant: D}, {uniform: {min: D, max: D}}, {exponential: {mean: D}}, {normal: {mean: D, stddev: D, min: D, max: D}}, {lognormal: {median: D, sigma: F}}";

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        if value.is_string() || value.is_number() {
            let DurationStr(d) = serde_json::from_value(value).map_err(D::Error::custom)?;
            return Ok(Distribution::Constant(d));
        }
        let repr: DistributionRepr = serde_json::from_value(value).map_err(|e| {
            D::Error::custom(format!("invalid distribution: {e}; {DISTRIBUTION_HELP}"))
        })?;
        let dist = match repr {
            DistributionRepr::Constant(d) => Distribution::Constant(d.0),
            DistributionRepr::Uniform { min, max } => {
                if min.0 > max.0 {
                    return Err(D::Error::custom(
                        "invalid uniform distribution: min is greater than max",
                    ));
                }
                Distribution::Uniform {
                    min: min.0,
                    max: max.0,
                }
            }
            DistributionRepr::Exponential { mean } => Distribution::Exponential { mean: mean.0 },
            DistributionRepr::Normal {
                mean,
                stddev,
                min,
                max,
            } => {
                let min = min.map_or(SimDuration::ZERO, |m| m.0);
                let max = max.map_or(MAX_DRAW, |m| m.0);
                if min > max {
                    return Err(D::Error::custom(
                        "invalid normal distribution: min is greater than max",
                    ));
                }
                Distribution::Normal {
                    mean: mean.0,
                    stddev: stddev.0,
                    min,
                    max,
                }
            }
            DistributionRepr::Lognormal { median, sigma } => {
                if !sigma.is_finite() || sigma < 0.0 {
                    return Err(D::Error::custom(
                        "invalid lognormal distribution: sigma must be a finite number >= 0",
                    ));
                }
                Distribution::Lognormal {
                    median: median.0,
                    sigma,
                }
            }
        };
        Ok(dist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngFactory;

    fn dist(yaml_json: &str) -> Result<Distribution, String> {
        serde_json::from_str(yaml_json).map_err(|e| e.to_string())
    }

    #[test]
    fn distributions_parse_from_short_and_long_forms() {
        let s = SimDuration::from_secs;
        assert_eq!(dist(r#""5s""#), Ok(Distribution::Constant(s(5))));
        assert_eq!(
            dist(r#"{"constant":"1m"}"#),
            Ok(Distribution::Constant(s(60)))
        );
        assert_eq!(
            dist(r#"{"uniform":{"min":"1s","max":"3s"}}"#),
            Ok(Distribution::Uniform {
                min: s(1),
                max: s(3)
            })
        );
        assert!(
            dist(r#"{"uniform":{"min":"3s","max":"1s"}}"#)
                .unwrap_err()
                .contains("min is greater")
        );
        assert!(
            dist(r#"{"gamma":{"k":1}}"#)
                .unwrap_err()
                .contains("expected a duration")
        );
        assert!(dist(r#""5""#).unwrap_err().contains("unit"));
    }

    #[test]
    fn draws_are_deterministic_and_in_range() {
        let f = RngFactory::new(7);
        let s = SimDuration::from_secs;
        let cases = [
            Distribution::Uniform {
                min: s(1),
                max: s(3),
            },
            Distribution::Exponential { mean: s(10) },
            Distribution::Normal {
                mean: s(10),
                stddev: s(5),
                min: s(8),
                max: s(12),
            },
            Distribution::Lognormal {
                median: s(10),
                sigma: 0.5,
            },
        ];
        for d in &cases {
            let (mut a, mut b) = (f.stream("x"), f.stream("x"));
            let xs: Vec<_> = (0..200).map(|_| d.sample(&mut a)).collect();
            let ys: Vec<_> = (0..200).map(|_| d.sample(&mut b)).collect();
            assert_eq!(xs, ys);
            if let Distribution::Uniform { min, max } | Distribution::Normal { min, max, .. } = d {
                assert!(xs.iter().all(|x| x >= min && x <= max), "{d:?}");
            }
        }
        // The exponential's sample mean is near its mean.
        let mut r = f.stream("mean");
        let total: u64 = (0..10_000)
            .map(|_| {
                Distribution::Exponential { mean: s(10) }
                    .sample(&mut r)
                    .as_millis()
            })
            .sum();
        let mean_s = total as f64 / 10_000.0 / 1000.0;
        assert!((9.0..11.0).contains(&mean_s), "{mean_s}");
    }

    #[test]
    fn extreme_parameters_draw_within_the_cap_without_panicking() {
        let f = RngFactory::new(3);
        let mut r = f.stream("x");
        let huge = Distribution::Lognormal {
            median: SimDuration::from_secs(1),
            sigma: 1e300,
        };
        for _ in 0..100 {
            assert!(huge.sample(&mut r) <= MAX_DRAW);
        }
        let m = MemoryUsage {
            initial: Quantity::parse("-9E").unwrap(),
            growth_per_second: Quantity::parse("1").unwrap(),
        };
        assert!(m.oom_after(i64::MAX).is_some());
    }

    #[test]
    fn failure_ratio_draws_only_when_set_and_fails_about_that_often() {
        let f = RngFactory::new(11);
        let (mut a, mut b) = (f.stream("p"), f.stream("p"));
        let never = Behavior::default();
        assert!(!(0..100).any(|_| never.draw_failure(&mut a)));
        // No draw was made: `a` is still in step with the untouched `b`.
        assert_eq!(a.random::<u64>(), b.random::<u64>());
        let fifth = Behavior {
            failure_ratio: 0.2,
            ..Behavior::default()
        };
        let n = (0..10_000).filter(|_| fifth.draw_failure(&mut a)).count();
        assert!((1_800..2_200).contains(&n), "{n}");
        let always = Behavior {
            failure_ratio: 1.0,
            ..Behavior::default()
        };
        assert!((0..100).all(|_| always.draw_failure(&mut a)));
    }

    #[test]
    fn memory_growth_reaches_the_limit_at_the_first_second_over_it() {
        let m = MemoryUsage {
            initial: Quantity::parse("100Mi").unwrap(),
            growth_per_second: Quantity::parse("1Mi").unwrap(),
        };
        let limit = Quantity::parse("110Mi").unwrap().value();
        assert_eq!(m.oom_after(limit), Some(SimDuration::from_secs(11)));
        assert_eq!(m.oom_after(0), None);
        let over = MemoryUsage {
            initial: Quantity::parse("200Mi").unwrap(),
            ..m
        };
        assert_eq!(over.oom_after(limit), Some(SimDuration::ZERO));
    }
}
