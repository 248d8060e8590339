//! Per-Service request outcomes and latency: the rows of services.csv (per sample
//! interval) and the totals in summary.json.
//!
//! Latency is kept in a log-linear histogram (HdrHistogram's layout with 32 sub-buckets
//! per power of two, in microseconds): a percentile is reported as the upper bound of the
//! bucket holding it, at most 1/32 ≈ 3 % above the true value (exact below 64 µs).

use std::collections::BTreeMap;

use serde::Serialize;

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served; latency from the client's send to the response.
    Success,
    /// No endpoint: kube-proxy's REJECT rule, or no node to enter by.
    Refused,
    /// The connection never completed within the connect timeout: the endpoint's node is
    /// down or unreachable, the packet was lost, or a `Local` policy DROPped it.
    Timeout,
    /// The endpoint answered with an error: its pod is gone, not ready or terminating.
    Error,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

/// A weighted latency histogram (microseconds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

fn bucket(us: u64) -> usize {
    if us < 2 * SUB {
        return us as usize;
    }
    let e = 63 - us.leading_zeros() - SUB_BITS; // ≥ 1
    ((e as u64 + 1) * SUB + ((us >> e) - SUB)) as usize
}

/// The largest value in bucket `b`.
fn bucket_upper(b: usize) -> u64 {
    let b = b as u64;
    if b < 2 * SUB {
        return b;
    }
    let e = b / SUB - 1;
    let m = b % SUB + SUB;
    ((m + 1) << e) - 1
}

impl Histogram {
    pub fn record(&mut self, us: u64, weight: u64) {
        if weight == 0 {
            return;
        }
        let b = bucket(us);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += weight;
        self.total += weight;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0 < q ≤ 1) in microseconds, `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_upper(b));
            }
        }
        None
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }
}

/// Counts of one Service over some time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub succeeded: u64,
    pub refused: u64,
    pub timed_out: u64,
    pub errors: u64,
    pub latency: Histogram,
}

impl Counts {
    pub fn add(&mut self, outcome: Outcome, n: u64, latency_us: Option<u64>) {
        self.requests += n;
        match outcome {
            Outcome::Success => {
                self.succeeded += n;
                if let Some(us) = latency_us {
                    self.latency.record(us, n);
                }
            }
            Outcome::Refused => self.refused += n,
            Outcome::Timeout => self.timed_out += n,
            Outcome::Error => self.errors += n,
        }
    }

    fn merge(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.succeeded += o.succeeded;
        self.refused += o.refused;
        self.timed_out += o.timed_out;
        self.errors += o.errors;
        self.latency.merge(&o.latency);
    }

    /// succeeded / requests, `None` with no requests.
    pub fn success_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.succeeded as f64 / self.requests as f64)
    }

    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q).map(|us| us as f64 / 1000.0)
    }
}

/// Every Service's counts: the current sample interval and the whole run.
#[derive(Clone, Debug, Default)]
pub struct TrafficMetrics {
    interval: BTreeMap<String, Counts>,
    total: BTreeMap<String, Counts>,
}

impl TrafficMetrics {
    /// Whether any Service has traffic (services.csv gets rows only then).
    pub fn enabled(&self) -> bool {
        !self.total.is_empty()
    }

    /// Makes sure `service` has a row even before its first request.
    pub fn declare(&mut self, service: &str) {
        self.interval.entry(service.to_string()).or_default();
        self.total.entry(service.to_string()).or_default();
    }

    pub fn add(&mut self, service: &str, outcome: Outcome, n: u64, latency_us: Option<u64>) {
        match self.interval.get_mut(service) {
            Some(c) => c.add(outcome, n, latency_us),
            None => {
                self.declare(service);
                if let Some(c) = self.interval.get_mut(service) {
                    c.add(outcome, n, latency_us);
                }
            }
        }
    }

    /// The interval counts so far (a live view, for expectations).
    pub fn interval(&self, service: &str) -> Option<&Counts> {
        self.interval.get(service)
    }

    /// The run's counts so far, including the current interval.
    pub fn total(&self, service: &str) -> Option<Counts> {
        let mut t = self.total.get(service)?.clone();
        if let Some(i) = self.interval.get(service) {
            t.merge(i);
        }
        Some(t)
    }

    /// Ends the interval: returns its counts per Service and folds them into the totals.
    pub fn take_interval(&mut self) -> Vec<(String, Counts)> {
        let mut out = Vec::with_capacity(self.interval.len());
        for (name, c) in self.interval.iter_mut() {
            let c = std::mem::take(c);
            if let Some(t) = self.total.get_mut(name) {
                t.merge(&c);
            }
            out.push((name.clone(), c));
        }
        out
    }

    /// The totals for summary.json.
    pub fn summary(&self) -> BTreeMap<String, ServiceSummary> {
        self.total
            .keys()
            .filter_map(|k| Some((k.clone(), ServiceSummary::of(&self.total(k)?))))
            .collect()
    }
}

/// One Service's totals in summary.json.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSummary {
    pub requests: u64,
    pub succeeded: u64,
    pub refused: u64,
    pub timed_out: u64,
    pub errors: u64,
    pub success_ratio: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

impl ServiceSummary {
    pub fn of(c: &Counts) -> ServiceSummary {
        ServiceSummary {
            requests: c.requests,
            succeeded: c.succeeded,
            refused: c.refused,
            timed_out: c.timed_out,
            errors: c.errors,
            success_ratio: c.success_ratio(),
            latency_p50_ms: c.latency_ms(0.5),
            latency_p99_ms: c.latency_ms(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_within_three_percent() {
        let mut prev = 0;
        for us in 0..200_000u64 {
            let b = bucket(us);
            assert!(b >= prev);
            prev = b;
            let up = bucket_upper(b);
            assert!(up >= us, "{us} in bucket {b} with upper {up}");
            assert!((up - us) as f64 <= us as f64 / 32.0 + 0.5, "{us}: {up}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_histogram() {
        let mut h = Histogram::default();
        for us in 1..=1000 {
            h.record(us, 1);
        }
        let p50 = h.quantile(0.5).unwrap();
        assert!((500..=516).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((990..=1023).contains(&p99), "{p99}");
    }
}
