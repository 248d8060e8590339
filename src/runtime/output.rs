//! Output streams: the event log (events.jsonl) and the metrics table (metrics.csv).
//!
//! - Both write to caller-supplied `Write`rs (the library itself opens no files) through a
//!   [`HashingWriter`], so the run's digest covers exactly the bytes written.
//! - The digest is `sha256(sha256(events.jsonl) ‖ sha256(metrics.csv))`, hex-encoded.
//! - The first write error is kept and reported at the end; later writes are skipped.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sim::SimTime;

/// A `Write` adapter that hashes everything passing through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// SHA-256 of the bytes written so far.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `Normal` and `Warning` as Kubernetes Events have them; `Sim` for the simulator's own
/// actions (objects applied by the scenario, injected faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    Normal,
    Warning,
    Sim,
}

/// One line of events.jsonl.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Integer milliseconds of sim time.
    pub t_ms: u64,
    #[serde(rename = "type")]
    pub type_: EventType,
    /// Kubernetes' own event reason wherever Kubernetes has one.
    pub reason: String,
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
}

impl EventRecord {
    pub fn new(
        t: SimTime,
        type_: EventType,
        reason: &str,
        object: String,
        message: String,
    ) -> Self {
        EventRecord {
            t_ms: t.as_millis(),
            type_,
            reason: reason.to_string(),
            object,
            node: None,
            message,
        }
    }

    pub fn on_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }
}

/// Writes events.jsonl and counts events by reason.
pub struct Recorder {
    out: HashingWriter<Box<dyn Write>>,
    line: Vec<u8>,
    total: u64,
    by_reason: BTreeMap<String, u64>,
    error: Option<io::Error>,
}

impl Recorder {
    pub fn new(out: Box<dyn Write>) -> Self {
        Recorder {
            out: HashingWriter::new(out),
            line: Vec::with_capacity(256),
            total: 0,
            by_reason: BTreeMap::new(),
            error: None,
        }
    }

    pub fn record(&mut self, event: &EventRecord) {
        self.total += 1;
        *self.by_reason.entry(event.reason.clone()).or_insert(0) += 1;
        if self.error.is_some() {
            return;
        }
        self.line.clear();
        // Serializing a struct of strings and integers into a Vec cannot fail.
        if let Err(e) = serde_json::to_writer(&mut self.line, event) {
            self.error = Some(io::Error::other(e));
            return;
        }
        self.line.push(b'\n');
        if let Err(e) = self.out.write_all(&self.line) {
            self.error = Some(e);
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn by_reason(&self) -> &BTreeMap<String, u64> {
        &self.by_reason
    }

    /// Flushes and returns the digest of what was written, or the first write error.
    pub fn finish(&mut self) -> io::Result<[u8; 32]> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out.digest())
    }
}

/// One row of metrics.csv.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsRow {
    /// Seconds of sim time (integer when the sample falls on a whole second).
    pub t_s: String,
    pub nodes: u64,
    pub nodes_ready: u64,
    pub pods_pending: u64,
    pub pods_running: u64,
    pub pods_succeeded: u64,
    pub pods_failed: u64,
    /// Requests of pods bound to nodes and not terminal, over all nodes' allocatable.
    pub cpu_requested_ratio: String,
    pub memory_requested_ratio: String,
}

/// Writes metrics.csv.
pub struct MetricsWriter {
    out: csv::Writer<HashingWriter<Box<dyn Write>>>,
    rows: u64,
    error: Option<io::Error>,
}

impl MetricsWriter {
    pub fn new(out: Box<dyn Write>) -> Self {
        MetricsWriter {
            out: csv::Writer::from_writer(HashingWriter::new(out)),
            rows: 0,
            error: None,
        }
    }

    pub fn write(&mut self, row: &MetricsRow) {
        self.rows += 1;
        if self.error.is_none()
            && let Err(e) = self.out.serialize(row)
        {
            self.error = Some(io::Error::other(e));
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn finish(&mut self) -> io::Result<[u8; 32]> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out.get_ref().digest())
    }
}

/// Formats sim time in seconds: `10`, or `10.25` when not on a whole second.
pub fn format_seconds(t: SimTime) -> String {
    let ms = t.as_millis();
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        let s = format!("{}.{:03}", ms / 1000, ms % 1000);
        s.trim_end_matches('0').to_string()
    }
}

/// A ratio with four decimals (`0.1250`), `0.0000` when the denominator is zero.
pub fn format_ratio(num: i64, den: i64) -> String {
    if den <= 0 {
        return "0.0000".to_string();
    }
    format!("{:.4}", num as f64 / den as f64)
}

/// The run digest: `sha256(events digest ‖ metrics digest)`, hex.
pub fn combine_digests(events: &[u8; 32], metrics: &[u8; 32]) -> String {
    combine_digest_parts(&[*events, *metrics])
}

/// `sha256` of the concatenated output digests, hex (events, metrics, then services when
/// the scenario has traffic).
pub fn combine_digest_parts(parts: &[[u8; 32]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let d: [u8; 32] = h.finalize().into();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// One row of services.csv: one Service over one sample interval (ending at `t_s`).
/// Ratio and latencies are empty when the interval had no request (no success).
#[derive(Debug, Serialize)]
pub struct ServicesRow<'a> {
    pub t_s: &'a str,
    pub service: &'a str,
    pub requests: u64,
    pub succeeded: u64,
    pub refused: u64,
    pub timed_out: u64,
    pub errors: u64,
    pub success_ratio: String,
    pub latency_p50_ms: String,
    pub latency_p99_ms: String,
}

/// services.csv, hashed as it is written.
pub struct ServicesWriter {
    out: csv::Writer<HashingWriter<Box<dyn Write>>>,
    error: Option<io::Error>,
}

impl ServicesWriter {
    pub fn new(out: Box<dyn Write>) -> Self {
        ServicesWriter {
            out: csv::Writer::from_writer(HashingWriter::new(out)),
            error: None,
        }
    }

    pub fn write(&mut self, t: &SimTime, service: &str, c: &crate::traffic::metrics::Counts) {
        let opt =
            |x: Option<f64>, digits: usize| x.map_or(String::new(), |v| format!("{v:.digits$}"));
        let t_s = format_seconds(*t);
        let row = ServicesRow {
            t_s: &t_s,
            service,
            requests: c.requests,
            succeeded: c.succeeded,
            refused: c.refused,
            timed_out: c.timed_out,
            errors: c.errors,
            success_ratio: opt(c.success_ratio(), 6),
            latency_p50_ms: opt(c.latency_ms(0.5), 3),
            latency_p99_ms: opt(c.latency_ms(0.99), 3),
        };
        if self.error.is_none()
            && let Err(e) = self.out.serialize(&row)
        {
            self.error = Some(io::Error::other(e));
        }
    }

    pub fn finish(&mut self) -> io::Result<[u8; 32]> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out.get_ref().digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_format_drops_trailing_zeros() {
        assert_eq!(format_seconds(SimTime::from_nanos(10_000_000_000)), "10");
        assert_eq!(format_seconds(SimTime::from_nanos(10_250_000_000)), "10.25");
    }

    #[test]
    fn event_lines_omit_absent_node() {
        let mut buf = Vec::new();
        let rec = EventRecord::new(
            SimTime::ZERO,
            EventType::Sim,
            "Applied",
            "Node/n1".into(),
            "m".into(),
        );
        serde_json::to_writer(&mut buf, &rec).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#"{"t_ms":0,"type":"Sim","reason":"Applied","object":"Node/n1","message":"m"}"#
        );
    }
}
