//! Integer simulated time.
//!
//! - `SimTime` is an instant: nanoseconds since the start of the simulation.
//! - `SimDuration` is a span in nanoseconds.
//! - Arithmetic saturates rather than wrapping; `u64` nanoseconds cover 584 years.

use std::fmt;

/// An instant of simulated time, in nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole milliseconds since the start (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }
    /// Whole seconds since the start (truncated).
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }
    /// `self + d`, saturating at [`SimTime::MAX`].
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }
    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis.saturating_mul(NANOS_PER_MILLI))
    }
    pub const fn from_secs(secs: u64) -> SimDuration {
        SimDuration(secs.saturating_mul(NANOS_PER_SEC))
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
    pub const fn saturating_mul(self, factor: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(factor))
    }
}

impl fmt::Display for SimTime {
    /// `t=12.345s`: seconds with millisecond precision, for humans.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.as_secs(), self.as_millis() % 1000)
    }
}

impl fmt::Display for SimDuration {
    /// Go-style (`1h2m3s`, `1.5s`, `250ms`), as Kubernetes prints durations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        if ns < NANOS_PER_SEC {
            return if ns.is_multiple_of(NANOS_PER_MILLI) {
                write!(f, "{}ms", ns / NANOS_PER_MILLI)
            } else if ns.is_multiple_of(1000) {
                write!(f, "{}µs", ns / 1000)
            } else {
                write!(f, "{ns}ns")
            };
        }
        let secs = ns / NANOS_PER_SEC;
        let frac = ns % NANOS_PER_SEC;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        if frac == 0 {
            write!(f, "{s}s")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{s}.{}s", digits.trim_end_matches('0'))
        }
    }
}

/// Parses a Go-style duration as Kubernetes and kubectl accept them: a sequence of decimal
/// numbers with units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, such as `90s`, `1m30s`, `1.5h`,
/// `250ms`. A bare `0` is zero. Negative durations are rejected: simulated time runs forward.
///
/// Follows Go's `time.ParseDuration` (`src/time/format.go`), minus the sign.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let s = text.trim();
    let expected =
        "expected a duration such as 30s, 1m30s, 1.5h or 250ms (units ns, us, ms, s, m, h)";
    if s == "0" {
        return Ok(SimDuration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') || s.starts_with('+') {
        return Err(format!("invalid duration {text:?}: {expected}"));
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {unit:?}; {expected}"
                ));
            }
        };
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || int_part.len() > 20
        {
            return Err(format!("invalid duration {text:?}: {expected}"));
        }
        let int_value: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse()
                .map_err(|_| format!("invalid duration {text:?}: {expected}"))?
        };
        let mut frac_ns: u128 = 0;
        let mut scale: u128 = 1;
        for b in frac_part.bytes().take(18) {
            frac_ns = frac_ns * 10 + u128::from(b - b'0');
            scale *= 10;
        }
        total = total
            .saturating_add(int_value.saturating_mul(unit_ns))
            .saturating_add(frac_ns * unit_ns / scale);
        if total > u128::from(u64::MAX) {
            return Err(format!("invalid duration {text:?}: too large"));
        }
        rest = tail;
    }
    Ok(SimDuration(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        let cases = [
            ("0", 0),
            ("1s", NANOS_PER_SEC),
            ("1m30s", 90 * NANOS_PER_SEC),
            ("1.5h", 5400 * NANOS_PER_SEC),
            ("250ms", 250 * NANOS_PER_MILLI),
            ("10us", 10_000),
            ("7ns", 7),
            (".5s", 500 * NANOS_PER_MILLI),
            ("2h45m", (2 * 3600 + 45 * 60) * NANOS_PER_SEC),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Ok(SimDuration(ns)), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for text in ["", "s", "10", "-1s", "1x", "1..5s", "1s2", "."] {
            assert!(parse_duration(text).is_err(), "{text} should fail");
        }
    }

    #[test]
    fn displays_durations_like_go() {
        assert_eq!(SimDuration::from_secs(90).to_string(), "1m30s");
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_secs(3600).to_string(), "1h0m0s");
        for d in ["1m30s", "1.5s", "250ms", "1h0m0s", "7ns"] {
            assert_eq!(parse_duration(d).unwrap().to_string(), d);
        }
    }
}
