//! The scenario's `spec.traffic` section: kube-proxy settings and request sources.
//! Every field is documented in `docs/scenario-format.md` (`spec.traffic`).

use serde::Deserialize;

use crate::kubelet::behavior::Distribution;
use crate::proxy::{IpvsScheduler, ProxyConfig, ProxyMode};
use crate::scenario::spec::Duration;
use crate::sim::SimDuration;

/// Most requests one source may produce from an arrivals CSV.
pub const MAX_CSV_ARRIVALS: usize = 10_000_000;
/// Most distinct clients per source.
pub const MAX_CLIENTS: u32 = 1_000_000;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficSpec {
    #[serde(default)]
    pub proxy: ProxySpec,
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxySpec {
    /// `iptables` (default), `nftables` or `ipvs`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `--ipvs-scheduler` for `ipvs` mode: rr (default), wrr, lc, wlc, sed, nq, sh, dh.
    #[serde(default)]
    pub ipvs_scheduler: Option<String>,
    /// Default 1s.
    #[serde(default)]
    pub min_sync_period: Option<Duration>,
}

impl ProxySpec {
    pub fn config(&self) -> Result<ProxyConfig, (String, String)> {
        let scheduler = IpvsScheduler::parse(self.ipvs_scheduler.as_deref().unwrap_or(""))
            .map_err(|e| ("ipvsScheduler".to_string(), e))?;
        let mode = match self.mode.as_deref().unwrap_or("iptables") {
            "iptables" => ProxyMode::Iptables,
            "nftables" => ProxyMode::Nftables,
            "ipvs" => ProxyMode::Ipvs(scheduler),
            other => {
                return Err((
                    "mode".into(),
                    format!(
                        "Unsupported value: {other:?}: supported values: \"iptables\", \"nftables\", \"ipvs\""
                    ),
                ));
            }
        };
        Ok(ProxyConfig {
            mode,
            min_sync_period: self
                .min_sync_period
                .map_or(ProxyConfig::default().min_sync_period, |d| d.0),
        })
    }
}

/// One stream of requests to one Service.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSpec {
    /// Names the source (for `trafficRate` timeline actions and messages).
    pub name: String,
    /// `namespace/name`, or `name` in namespace `default`.
    pub service: String,
    /// Where requests come from. Default: `{client: internet}` (external traffic).
    #[serde(default)]
    pub from: Origin,
    /// Requests per second (constant or Poisson, per `arrival`).
    #[serde(default)]
    pub rate: Option<f64>,
    /// `poisson` (default) or `constant` (evenly spaced).
    #[serde(default)]
    pub arrival: Option<String>,
    /// Rate changes: from `at` on, `rate` requests per second.
    #[serde(default)]
    pub steps: Vec<RateStep>,
    /// Arrival timestamps from a CSV file instead of a rate.
    #[serde(default)]
    pub csv: Option<CsvArrivals>,
    /// Distinct client addresses the requests come from (ClientIP affinity and `sh` hash
    /// them). Default 100.
    #[serde(default)]
    pub clients: Option<u32>,
    /// How long a pod takes to serve one request. Default 10ms.
    #[serde(default)]
    pub service_time: Option<Distribution>,
    /// Requests a pod serves at once; more wait in its queue (FIFO). Default 10.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// How long a client waits for a connection before giving up. Default 1s.
    #[serde(default)]
    pub connect_timeout: Option<Duration>,
    /// `auto` (default), `exact` (one event per request) or `batch` (per-step batches).
    #[serde(default)]
    pub mode: Option<String>,
    /// Step of batch mode. Default 1s.
    #[serde(default)]
    pub batch_step: Option<Duration>,
}

/// Where requests come from.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Origin {
    /// A named client location outside the cluster (`internet` is always there): the
    /// requests go to a node port (external traffic policy).
    Client(String),
    /// Pods in a zone (in-cluster clients on that zone's nodes): the ClusterIP (internal
    /// traffic policy).
    Zone(String),
    /// Pods on one node: the ClusterIP.
    Node(String),
}

impl Origin {
    /// Where the clients are on the network.
    pub fn place(&self) -> crate::network::Place<'_> {
        use crate::network::Place;
        match self {
            Origin::Client(c) => Place::Client(c),
            Origin::Zone(z) => Place::Zone(z),
            Origin::Node(n) => Place::Node(n),
        }
    }

    /// Outside clients use the external traffic policy, in-cluster ones the internal.
    pub fn class(&self) -> crate::proxy::TrafficClass {
        match self {
            Origin::Client(_) => crate::proxy::TrafficClass::External,
            _ => crate::proxy::TrafficClass::Internal,
        }
    }
}

impl Default for Origin {
    fn default() -> Self {
        Origin::Client("internet".into())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateStep {
    pub at: Duration,
    pub rate: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvArrivals {
    /// Relative to the scenario file.
    pub path: String,
    /// The column with timestamps (`YYYY-MM-DD HH:MM:SS[.fraction]` or seconds). Default
    /// `TIMESTAMP`.
    #[serde(default)]
    pub column: Option<String>,
    /// Multiplies gaps between arrivals (0.5 = twice as fast). Default 1.
    #[serde(default)]
    pub time_scale: Option<f64>,
}

/// How a source's requests are simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// One engine event per request, exact per-request routing and queueing.
    Exact,
    /// Per step: a Poisson count of requests, routed in groups (see `traffic/mod.rs`).
    Batch(SimDuration),
}

/// Rates above this (requests per second) use batches in `auto` mode.
pub const AUTO_EXACT_MAX_RATE: f64 = 200.0;

/// A checked source.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub namespace: String,
    pub service: String,
    pub from: Origin,
    pub poisson: bool,
    /// (from, rate) in time order; the first starts at 0.
    pub steps: Vec<(SimDuration, f64)>,
    /// Arrival offsets (sorted) from a CSV, instead of `steps`.
    pub arrivals: Option<Vec<SimDuration>>,
    pub clients: u32,
    pub service_time: Distribution,
    pub mean_service_s: f64,
    pub concurrency: u32,
    pub connect_timeout: SimDuration,
    pub method: Method,
}

/// The checked section.
#[derive(Clone, Debug, Default)]
pub struct TrafficConfig {
    pub proxy: ProxyConfig,
    pub sources: Vec<Source>,
}

/// Checks the section. `read` reads a file relative to the scenario. Problems are
/// `(path under spec.traffic, message)`.
pub fn check(
    spec: &TrafficSpec,
    read: &dyn Fn(&str) -> Result<String, String>,
    problems: &mut Vec<(String, String)>,
) -> TrafficConfig {
    let proxy = match spec.proxy.config() {
        Ok(c) => c,
        Err((field, msg)) => {
            problems.push((format!("proxy.{field}"), msg));
            ProxyConfig::default()
        }
    };
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, s) in spec.sources.iter().enumerate() {
        let at = |f: &str| format!("sources[{i}].{f}");
        let label_ok = !s.name.is_empty()
            && s.name.len() <= 63
            && s.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.name.starts_with('-')
            && !s.name.ends_with('-');
        if !label_ok {
            problems.push((
                at("name"),
                format!("Invalid value: {:?}: a DNS-1123 label (lower-case letters, digits and '-', at most 63)", s.name),
            ));
        }
        if !names.insert(s.name.clone()) {
            problems.push((at("name"), format!("Duplicate value: {:?}", s.name)));
        }
        let (namespace, service) = match s.service.split_once('/') {
            Some((ns, n)) => (ns.to_string(), n.to_string()),
            None => ("default".to_string(), s.service.clone()),
        };
        if service.is_empty() || namespace.is_empty() {
            problems.push((at("service"), "expected namespace/name or name".into()));
        }
        let rate_ok = |r: f64| (0.0..=1e7).contains(&r);
        let mut steps = Vec::new();
        if let Some(r) = s.rate {
            if !rate_ok(r) {
                problems.push((
                    at("rate"),
                    format!("Invalid value: {r}: must be between 0 and 1e7"),
                ));
            }
            steps.push((SimDuration::ZERO, r));
        }
        for (j, st) in s.steps.iter().enumerate() {
            if !rate_ok(st.rate) {
                problems.push((
                    format!("sources[{i}].steps[{j}].rate"),
                    format!("Invalid value: {}: must be between 0 and 1e7", st.rate),
                ));
            }
            steps.push((st.at.0, st.rate));
        }
        steps.sort_by_key(|(t, _)| *t);
        let arrivals = s.csv.as_ref().and_then(|c| match read_arrivals(c, read) {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push((at("csv"), e));
                None
            }
        });
        if steps.is_empty() && s.csv.is_none() {
            problems.push((at("rate"), "Required value: give rate, steps or csv".into()));
        }
        if !steps.is_empty() && s.csv.is_some() {
            problems.push((at("csv"), "give either csv or rate/steps, not both".into()));
        }
        let poisson = match s.arrival.as_deref().unwrap_or("poisson") {
            "poisson" => true,
            "constant" => false,
            other => {
                problems.push((
                    at("arrival"),
                    format!(
                        "Unsupported value: {other:?}: supported values: \"poisson\", \"constant\""
                    ),
                ));
                true
            }
        };
        let clients = s.clients.unwrap_or(100);
        if clients == 0 || clients > MAX_CLIENTS {
            problems.push((
                at("clients"),
                format!("Invalid value: {clients}: must be between 1 and {MAX_CLIENTS}"),
            ));
        }
        let concurrency = s.concurrency.unwrap_or(10);
        if concurrency == 0 || concurrency > 10_000 {
            problems.push((
                at("concurrency"),
                format!("Invalid value: {concurrency}: must be between 1 and 10000"),
            ));
        }
        let service_time = s
            .service_time
            .clone()
            .unwrap_or(Distribution::Constant(SimDuration::from_millis(10)));
        let step = s.batch_step.map_or(SimDuration::from_secs(1), |d| d.0);
        if step.is_zero() {
            problems.push((
                at("batchStep"),
                "Invalid value: 0s: must be positive".into(),
            ));
        }
        let max_rate = steps.iter().map(|(_, r)| *r).fold(0.0, f64::max);
        let method = match s.mode.as_deref().unwrap_or("auto") {
            "exact" => Method::Exact,
            "batch" => Method::Batch(step),
            "auto" if arrivals.is_some() || max_rate <= AUTO_EXACT_MAX_RATE => Method::Exact,
            "auto" => Method::Batch(step),
            other => {
                problems.push((
                    at("mode"),
                    format!("Unsupported value: {other:?}: supported values: \"auto\", \"exact\", \"batch\""),
                ));
                Method::Exact
            }
        };
        out.push(Source {
            name: s.name.clone(),
            namespace,
            service,
            from: s.from.clone(),
            poisson,
            steps,
            arrivals,
            clients: clients.clamp(1, MAX_CLIENTS),
            mean_service_s: mean_secs(&service_time),
            service_time,
            concurrency: concurrency.clamp(1, 10_000),
            connect_timeout: s.connect_timeout.map_or(SimDuration::from_secs(1), |d| d.0),
            method,
        });
    }
    TrafficConfig {
        proxy,
        sources: out,
    }
}

/// The mean of a duration distribution, in seconds.
pub fn mean_secs(d: &Distribution) -> f64 {
    let s = |d: SimDuration| d.as_nanos() as f64 / 1e9;
    match *d {
        Distribution::Constant(c) => s(c),
        Distribution::Uniform { min, max } => (s(min) + s(max)) / 2.0,
        Distribution::Exponential { mean } => s(mean),
        Distribution::Normal { mean, .. } => s(mean),
        Distribution::Lognormal { median, sigma } => s(median) * (sigma * sigma / 2.0).exp(),
    }
}

/// Arrival offsets from a CSV column, relative to the first row, sorted.
fn read_arrivals(
    c: &CsvArrivals,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<SimDuration>, String> {
    let text = read(&c.path)?;
    let column = c.column.as_deref().unwrap_or("TIMESTAMP");
    let scale = c.time_scale.unwrap_or(1.0);
    if !(scale.is_finite() && scale > 0.0) {
        return Err(format!("timeScale {scale}: must be positive"));
    }
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", c.path))?
        .clone();
    let col = headers.iter().position(|h| h == column).ok_or_else(|| {
        format!(
            "{}: no column {column:?} (columns: {})",
            c.path,
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    })?;
    let mut secs = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", c.path))?;
        let field = rec.get(col).unwrap_or("");
        // Line i+2: the header is line 1.
        let t = parse_timestamp(field)
            .ok_or_else(|| format!("{}:{}: {field:?} is not a timestamp (YYYY-MM-DD HH:MM:SS[.fraction]) or a number of seconds", c.path, i + 2))?;
        secs.push(t);
        if secs.len() > MAX_CSV_ARRIVALS {
            return Err(format!("{}: more than {MAX_CSV_ARRIVALS} arrivals", c.path));
        }
    }
    let first = secs.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut out: Vec<SimDuration> = secs
        .iter()
        .map(|t| SimDuration::from_nanos(((t - first) * scale * 1e9).round() as u64))
        .collect();
    out.sort();
    Ok(out)
}

/// Seconds since 1970-01-01 for `YYYY-MM-DD HH:MM:SS[.fraction]`, or a plain number.
fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(x) = s.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.trim_end_matches('Z').split(':');
    let (h, mi) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    if y < 1970
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || mi > 59
        || !(0.0..61.0).contains(&sec)
    {
        return None;
    }
    let days = crate::api::cron::days_from_civil(y as u64, m as u32, day as u32);
    Some((days as i64 * 86_400 + h * 3600 + mi * 60) as f64 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_the_azure_trace_writes_them() {
        let a = parse_timestamp("2023-11-16 18:17:03.9799600").unwrap();
        let b = parse_timestamp("2023-11-16 18:17:04.0319600").unwrap();
        assert!((b - a - 0.052).abs() < 1e-6);
        assert_eq!(parse_timestamp("1970-01-02 00:00:00"), Some(86_400.0));
        assert_eq!(parse_timestamp("12.5"), Some(12.5));
        assert_eq!(parse_timestamp("2023-13-01 00:00:00"), None);
    }
}
