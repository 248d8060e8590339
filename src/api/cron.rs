//! Cron schedules as CronJobs use them: `github.com/robfig/cron/v3`'s `ParseStandard` and
//! `SpecSchedule.Next`, which both the API server's validation and the CronJob controller
//! call upstream.
//!
//! - Five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or `jan`-`dec`),
//!   day of week (0-6 or `sun`-`sat`); each a list of `*`, `?`, `n`, `a-b`, with an optional
//!   `/step` (`n/step` means `n-max/step`). Descriptors `@yearly`, `@annually`, `@monthly`,
//!   `@weekly`, `@daily`, `@midnight`, `@hourly`.
//! - Day matching as robfig: when the day-of-month or day-of-week field is `*`/`?` (without a
//!   step above 1) a day must match both; otherwise either.
//! - Calendar: kubesim's sim time 0 is 1970-01-01T00:00:00Z (a Thursday), in UTC; time zones
//!   are not modelled.
//! - Not supported: `@every`, `TZ=`/`CRON_TZ=` prefixes (upstream validation rejects the
//!   latter too).

use crate::sim::{SimDuration, SimTime};

const STAR: u64 = 1 << 63;

/// A parsed schedule: one bit per allowed value, plus the star bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn parse_value(s: &str, names: &[&str], offset: u32) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + offset);
    }
    s.parse::<u32>()
        .map_err(|_| format!("failed to parse int from {s}"))
}

fn parse_range(expr: &str, min: u32, max: u32, names: &[&str], offset: u32) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end, mut extra) = if low_high[0] == "*" || low_high[0] == "?" {
        (min, max, STAR)
    } else {
        let start = parse_value(low_high[0], names, offset)?;
        let end = match low_high.len() {
            1 => start,
            2 => parse_value(low_high[1], names, offset)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end, 0)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = range_and_step[1]
                .parse::<u32>()
                .map_err(|_| format!("failed to parse int from {}", range_and_step[1]))?;
            if single {
                end = max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({min}): {expr}"
        ));
    }
    if end > max {
        return Err(format!(
            "end of range ({end}) above maximum ({max}): {expr}"
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = extra;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits)
}

fn parse_field(
    field: &str,
    min: u32,
    max: u32,
    names: &[&str],
    offset: u32,
) -> Result<u64, String> {
    let mut bits = 0;
    for part in field.split(',') {
        bits |= parse_range(part, min, max, names, offset)?;
    }
    Ok(bits)
}

impl Schedule {
    /// `cron.ParseStandard`.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
        }
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => {
                return Err(format!(
                    "unrecognized descriptor: {s} (kubesim does not model @every)"
                ));
            }
            s => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                fields.len()
            ));
        }
        Ok(Schedule {
            minute: parse_field(fields[0], 0, 59, &[], 0)?,
            hour: parse_field(fields[1], 0, 23, &[], 0)?,
            dom: parse_field(fields[2], 1, 31, &[], 0)?,
            month: parse_field(fields[3], 1, 12, &MONTHS, 1)?,
            dow: parse_field(fields[4], 0, 6, &DAYS, 0)?,
        })
    }

    fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let dom = self.dom & (1 << day) != 0;
        let dow = self.dow & (1 << weekday) != 0;
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// `SpecSchedule.Next`: the first minute strictly after `t` that matches, or `None` when
    /// none does within five years (e.g. `0 0 30 2 *`).
    pub fn next(&self, t: SimTime) -> Option<SimTime> {
        const MINUTE: u64 = 60;
        let mut secs = (t.as_nanos() / 1_000_000_000 / MINUTE + 1) * MINUTE;
        let limit_year = civil(secs / 86_400).0 + 5;
        // Each step advances at least a minute and skips whole months, days and hours that
        // cannot match, so the loop is bounded by about 5·(12 + 366 + 366·24 + 24·60).
        for _ in 0..200_000 {
            let days = secs / 86_400;
            let (y, m, d) = civil(days);
            if y > limit_year {
                return None;
            }
            if self.month & (1 << m) == 0 {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                secs = days_from_civil(ny, nm, 1) * 86_400;
                continue;
            }
            let weekday = ((days + 4) % 7) as u32;
            if !self.day_matches(d, weekday) {
                secs = (days + 1) * 86_400;
                continue;
            }
            let hour = ((secs % 86_400) / 3600) as u32;
            if self.hour & (1 << hour) == 0 {
                secs = (secs / 3600 + 1) * 3600;
                continue;
            }
            let minute = ((secs % 3600) / 60) as u32;
            if self.minute & (1 << minute) == 0 {
                secs += MINUTE;
                continue;
            }
            return Some(SimTime::ZERO.saturating_add(SimDuration::from_secs(secs)));
        }
        None
    }
}

/// (year, month 1-12, day 1-31) of the day `days` after 1970-01-01 (Hinnant's algorithm).
pub fn civil(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Days from 1970-01-01 to the given date (year ≥ 1970).
pub fn days_from_civil(y: u64, m: u32, d: u32) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let m = u64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + u64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 in UTC, to the second (`1970-01-01T00:05:00Z`).
pub fn rfc3339(t: SimTime) -> String {
    let secs = t.as_nanos() / 1_000_000_000;
    let (y, m, d) = civil(secs / 86_400);
    let r = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        (r % 3600) / 60,
        r % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SimTime {
        // "YYYY-MM-DD HH:MM"
        let (date, time) = s.split_once(' ').unwrap();
        let p: Vec<u64> = date.split('-').map(|x| x.parse().unwrap()).collect();
        let q: Vec<u64> = time.split(':').map(|x| x.parse().unwrap()).collect();
        let days = days_from_civil(p[0], p[1] as u32, p[2] as u32);
        SimTime::ZERO.saturating_add(SimDuration::from_secs(
            days * 86_400 + q[0] * 3600 + q[1] * 60,
        ))
    }

    fn next(spec: &str, from: &str) -> String {
        let s = Schedule::parse(spec).unwrap();
        s.next(t(from)).map(rfc3339).unwrap_or_default()
    }

    #[test]
    fn the_calendar_starts_on_thursday_1_january_1970() {
        assert_eq!(rfc3339(SimTime::ZERO), "1970-01-01T00:00:00Z");
        assert_eq!(civil(59), (1970, 3, 1));
        assert_eq!(civil(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(rfc3339(t("2000-03-01 13:07")), "2000-03-01T13:07:00Z");
    }

    #[test]
    fn next_follows_robfig_cron() {
        assert_eq!(
            next("*/5 * * * *", "1970-01-01 00:00"),
            "1970-01-01T00:05:00Z"
        );
        assert_eq!(
            next("*/5 * * * *", "1970-01-01 00:03"),
            "1970-01-01T00:05:00Z"
        );
        assert_eq!(next("@hourly", "1970-01-01 00:00"), "1970-01-01T01:00:00Z");
        assert_eq!(
            next("30 8 * * mon-fri", "1970-01-02 09:00"),
            "1970-01-05T08:30:00Z"
        );
        assert_eq!(
            next("0 0 1 */3 *", "1970-01-15 00:00"),
            "1970-04-01T00:00:00Z"
        );
        // Day of month OR day of week when neither is a star.
        assert_eq!(
            next("0 0 13 * 5", "1970-01-01 00:00"),
            "1970-01-02T00:00:00Z"
        );
        // Both when one is a star.
        assert_eq!(
            next("0 0 13 * *", "1970-01-01 00:00"),
            "1970-01-13T00:00:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", "1970-01-01 00:00"),
            "1972-02-29T00:00:00Z"
        );
        assert_eq!(next("0 0 30 2 *", "1970-01-01 00:00"), "");
        assert_eq!(
            next("5/20 * * * *", "1970-01-01 00:26"),
            "1970-01-01T00:45:00Z"
        );
        assert_eq!(next("@weekly", "1970-01-01 00:00"), "1970-01-04T00:00:00Z");
    }

    #[test]
    fn bad_schedules_are_errors() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "5-1 * * * *",
            "*/0 * * * *",
            "@every 1h",
            "TZ=UTC * * * * *",
            "a * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Schedule::parse("0 0 * JAN,dec SUN").is_ok());
    }
}
