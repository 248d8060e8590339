//! Benchmark outputs: `results.csv` (one row per run) and the summary table (markdown, for
//! summary.md and the terminal).
//!
//! - A [`Row`] holds its metrics as the strings written to results.csv, and the table is
//!   computed from those strings, never from the unrounded numbers: `kubesim bench` and
//!   `kubesim merge` (which only has the CSV) therefore print the same table.
//! - Rows are written sorted by matrix index; columns are the identity columns, the fixed
//!   metrics, the extended-resource allocation columns present in any row (sorted by name),
//!   and `stopped`. A cell a run has no value for is empty.
//! - The table has one section per scenario (in matrix order), one column per profile (in
//!   matrix order), and per metric the mean ± 95% confidence half-width over seeds
//!   ([`super::stats`]) and the best profile.

use std::collections::{BTreeMap, BTreeSet};

use super::metrics::RunMetrics;
use super::stats::{self, Better};
use crate::sim::SimDuration;

/// The columns that identify a run.
pub const IDENTITY: [&str; 4] = ["run", "scenario", "profile", "seed"];

/// The last column: why the run stopped early (a limit), empty when it ran to the end.
pub const STOPPED: &str = "stopped";

/// Suffixes of the per-resource allocation columns (`<resource>_alloc_ratio_<suffix>`).
const ALLOC_SUFFIXES: [&str; 2] = ["_alloc_ratio_time_weighted", "_alloc_ratio_final"];

/// The fixed metric columns, in order, with the way each improves.
pub const METRICS: [(&str, Better); 19] = [
    ("pods_scheduled", Better::Higher),
    ("pods_unschedulable", Better::Lower),
    ("latency_s_p50", Better::Lower),
    ("latency_s_p99", Better::Lower),
    ("cpu_alloc_ratio_time_weighted", Better::Higher),
    ("cpu_alloc_ratio_final", Better::Higher),
    ("memory_alloc_ratio_time_weighted", Better::Higher),
    ("memory_alloc_ratio_final", Better::Higher),
    ("nodes_used", Better::Lower),
    ("node_cpu_ratio_peak", Better::Lower),
    ("fragmentation_cpu_ratio", Better::Lower),
    ("topology_skew_max", Better::Lower),
    ("preemptions", Better::Lower),
    ("evictions", Better::Lower),
    ("faults", Better::Neither),
    ("recovery_s_mean", Better::Lower),
    ("recovery_s_max", Better::Lower),
    ("faults_unrecovered", Better::Lower),
    // Succeeded ÷ sent requests of spec.traffic; empty without traffic (see docs/sweeps.md).
    ("service_success_ratio", Better::Higher),
];

/// One run's line of results.csv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Matrix index.
    pub run: u64,
    pub scenario: String,
    pub profile: String,
    pub seed: u64,
    /// Metric column → cell text (also `stopped`).
    pub values: BTreeMap<String, String>,
}

fn seconds(d: SimDuration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn ratio(v: f64) -> String {
    format!("{v:.6}")
}

impl Row {
    /// The row for a finished run.
    pub fn new(
        run: u64,
        scenario: &str,
        profile: &str,
        seed: u64,
        m: &RunMetrics,
        stopped: Option<&str>,
    ) -> Row {
        let mut v: BTreeMap<String, String> = BTreeMap::new();
        let mut put = |k: &str, s: String| {
            v.insert(k.to_string(), s);
        };
        put("pods_scheduled", m.pods_scheduled.to_string());
        put("pods_unschedulable", m.pods_unschedulable.to_string());
        put(
            "latency_s_p50",
            m.latency_p50.map(seconds).unwrap_or_default(),
        );
        put(
            "latency_s_p99",
            m.latency_p99.map(seconds).unwrap_or_default(),
        );
        for (res, (weighted, fin)) in &m.allocation {
            put(&format!("{res}{}", ALLOC_SUFFIXES[0]), ratio(*weighted));
            put(&format!("{res}{}", ALLOC_SUFFIXES[1]), ratio(*fin));
        }
        put("nodes_used", m.nodes_used.to_string());
        put("node_cpu_ratio_peak", ratio(m.node_cpu_ratio_peak));
        put("fragmentation_cpu_ratio", ratio(m.fragmentation_cpu_ratio));
        put("topology_skew_max", m.topology_skew_max.to_string());
        put("preemptions", m.preemptions.to_string());
        put("evictions", m.evictions.to_string());
        let recovered: Vec<u64> = m
            .recoveries
            .iter()
            .flatten()
            .map(|d| d.as_millis())
            .collect();
        put("faults", m.recoveries.len().to_string());
        put(
            "faults_unrecovered",
            (m.recoveries.len() - recovered.len()).to_string(),
        );
        let (mean, max) = if recovered.is_empty() {
            (String::new(), String::new())
        } else {
            let sum: u64 = recovered.iter().sum();
            (
                format!("{:.3}", sum as f64 / recovered.len() as f64 / 1000.0),
                seconds(SimDuration::from_millis(
                    recovered.iter().copied().max().unwrap_or(0),
                )),
            )
        };
        put("recovery_s_mean", mean);
        put("recovery_s_max", max);
        put(
            "service_success_ratio",
            m.service_success_ratio
                .map_or(String::new(), |r| format!("{r:.6}")),
        );
        put(STOPPED, stopped.unwrap_or_default().to_string());
        Row {
            run,
            scenario: scenario.to_string(),
            profile: profile.to_string(),
            seed,
            values: v,
        }
    }
}

/// Which way a metric column improves.
pub fn better(column: &str) -> Better {
    if let Some((_, b)) = METRICS.iter().find(|(n, _)| *n == column) {
        return *b;
    }
    if ALLOC_SUFFIXES.iter().any(|s| column.ends_with(s)) {
        Better::Higher
    } else {
        Better::Neither
    }
}

/// The metric columns of `rows`: the fixed ones, then the others any row has, sorted.
pub fn metric_columns<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<String> {
    let mut out: Vec<String> = METRICS.iter().map(|(n, _)| n.to_string()).collect();
    let extra: BTreeSet<&String> = rows
        .into_iter()
        .flat_map(|r| r.values.keys())
        .filter(|k| k.as_str() != STOPPED && !METRICS.iter().any(|(n, _)| n == k))
        .collect();
    out.extend(extra.into_iter().cloned());
    out
}

/// results.csv for `rows` (sorted by run index here).
pub fn write_csv(rows: &[Row]) -> Result<String, String> {
    let mut rows: Vec<&Row> = rows.iter().collect();
    rows.sort_by_key(|r| r.run);
    let metrics = metric_columns(rows.iter().copied());
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = IDENTITY.to_vec();
    header.extend(metrics.iter().map(String::as_str));
    header.push(STOPPED);
    w.write_record(&header).map_err(|e| e.to_string())?;
    for r in rows {
        let mut rec = vec![
            r.run.to_string(),
            r.scenario.clone(),
            r.profile.clone(),
            r.seed.to_string(),
        ];
        for m in metrics.iter().map(String::as_str).chain([STOPPED]) {
            rec.push(r.values.get(m).cloned().unwrap_or_default());
        }
        w.write_record(&rec).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// Most rows one results.csv may hold when read back.
pub const MAX_ROWS: usize = 10_000_000;

/// Rows of a results.csv (`origin` names it in errors).
pub fn read_csv(origin: &str, text: &str) -> Result<Vec<Row>, String> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| format!("{origin}: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let pos = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{origin}: no {name:?} column: not a kubesim bench results.csv"))
    };
    let [run, scenario, profile, seed] =
        [pos("run")?, pos("scenario")?, pos("profile")?, pos("seed")?];
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        if rows.len() >= MAX_ROWS {
            return Err(format!("{origin}: more than {MAX_ROWS} rows"));
        }
        let rec = rec.map_err(|e| format!("{origin}: {e}"))?;
        let cell = |k: usize| rec.get(k).unwrap_or("");
        let int = |k: usize, name: &str| {
            cell(k)
                .parse::<u64>()
                .map_err(|_| format!("{origin}:{line}: {name}: not an integer: {:?}", cell(k)))
        };
        let values = header
            .iter()
            .enumerate()
            .filter(|(k, _)| ![run, scenario, profile, seed].contains(k))
            .map(|(k, h)| (h.clone(), cell(k).to_string()))
            .collect();
        rows.push(Row {
            run: int(run, "run")?,
            scenario: cell(scenario).to_string(),
            profile: cell(profile).to_string(),
            seed: int(seed, "seed")?,
            values,
        });
    }
    Ok(rows)
}

/// Rows from several results.csv files as one set, sorted by run index. The same run found
/// twice must be the same row (a shard re-run); two different rows for one index are an
/// error (shards of different sweeps).
pub fn merge(sets: Vec<(String, Vec<Row>)>) -> Result<Vec<Row>, String> {
    let mut by_run: BTreeMap<u64, (String, Row)> = BTreeMap::new();
    for (origin, rows) in sets {
        for row in rows {
            match by_run.get(&row.run) {
                Some((first, seen)) => {
                    if !same_row(seen, &row) {
                        return Err(format!(
                            "run {} differs between {first} and {origin}: shards of different sweeps?",
                            row.run
                        ));
                    }
                }
                None => {
                    by_run.insert(row.run, (origin.clone(), row));
                }
            }
        }
    }
    Ok(by_run.into_values().map(|(_, r)| r).collect())
}

/// Equal up to empty cells (a column one file has and the other lacks).
fn same_row(a: &Row, b: &Row) -> bool {
    let non_empty = |r: &Row| -> BTreeMap<String, String> {
        r.values
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    a.scenario == b.scenario
        && a.profile == b.profile
        && a.seed == b.seed
        && non_empty(a) == non_empty(b)
}

/// The run indexes missing below the largest one (a shard not merged yet).
pub fn gaps(rows: &[Row]) -> Vec<u64> {
    let have: BTreeSet<u64> = rows.iter().map(|r| r.run).collect();
    let max = have.last().copied().unwrap_or(0);
    (0..max).filter(|i| !have.contains(i)).take(1000).collect()
}

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in items {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn num(v: f64) -> String {
    format!("{v:.3}")
}

/// Renders a table with every column padded to its widest cell (markdown that reads well in
/// a terminal).
fn render(header: &[String], body: &[Vec<String>]) -> String {
    let width = |c: usize| {
        std::iter::once(&header[c])
            .chain(body.iter().map(|r| &r[c]))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(3)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            s.push(' ');
            s.push_str(cell);
            s.push_str(&" ".repeat(pad));
            s.push_str(" |");
        }
        s.push('\n');
        s
    };
    let mut out = line(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    for r in body {
        out.push_str(&line(r));
    }
    out
}

/// The summary table (markdown) for `rows` (any order: sorted by run index here).
pub fn summary_markdown(rows: &[Row]) -> String {
    let mut rows: Vec<&Row> = rows.iter().collect();
    rows.sort_by_key(|r| r.run);
    let metrics = metric_columns(rows.iter().copied());
    let mut out = String::from("# kubesim bench\n\n");
    let seeds: BTreeSet<u64> = rows.iter().map(|r| r.seed).collect();
    let stopped = rows
        .iter()
        .filter(|r| r.values.get(STOPPED).is_some_and(|s| !s.is_empty()))
        .count();
    out.push_str(&format!(
        "{} runs, seeds {}..{} ({} distinct); mean ± 95% confidence half-width (Student's t) over seeds; best: the profile with the best mean (lower or higher as the metric goes), none when all are equal.\n",
        rows.len(),
        seeds.first().copied().unwrap_or(0),
        seeds.last().copied().unwrap_or(0),
        seeds.len(),
    ));
    if stopped > 0 {
        out.push_str(&format!(
            "{stopped} runs stopped early at a limit (column `stopped` in results.csv); their metrics cover the run up to there.\n"
        ));
    }
    for scenario in first_seen(rows.iter().map(|r| r.scenario.as_str())) {
        let of_scenario: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| r.scenario == scenario)
            .collect();
        let profiles = first_seen(of_scenario.iter().map(|r| r.profile.as_str()));
        out.push_str(&format!("\n## {scenario}\n\n"));
        let mut header = vec!["metric".to_string()];
        header.extend(profiles.iter().map(|p| p.to_string()));
        header.push("best".into());
        let mut body = Vec::new();
        let per_profile: Vec<Vec<&Row>> = profiles
            .iter()
            .map(|p| {
                of_scenario
                    .iter()
                    .copied()
                    .filter(|r| r.profile == *p)
                    .collect()
            })
            .collect();
        let mut counts = vec!["runs".to_string()];
        counts.extend(per_profile.iter().map(|runs| runs.len().to_string()));
        counts.push(String::new());
        body.push(counts);
        for m in &metrics {
            let estimates: Vec<Option<stats::Estimate>> = per_profile
                .iter()
                .map(|runs| {
                    let values: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.values.get(m))
                        .filter_map(|v| v.parse::<f64>().ok())
                        .collect();
                    stats::estimate(&values)
                })
                .collect();
            if estimates.iter().all(Option::is_none) && !METRICS.iter().any(|(n, _)| n == m) {
                continue;
            }
            let mut line = vec![m.clone()];
            for e in &estimates {
                line.push(match e {
                    None => "-".into(),
                    Some(e) => match e.half_width {
                        Some(h) => format!("{} ± {}", num(e.mean), num(h)),
                        None => num(e.mean),
                    },
                });
            }
            let means: Vec<Option<f64>> = estimates.iter().map(|e| e.map(|e| e.mean)).collect();
            let best: Vec<&str> = stats::best(&means, better(m))
                .into_iter()
                .map(|i| profiles[i])
                .collect();
            line.push(if best.is_empty() {
                "-".into()
            } else {
                best.join(", ")
            });
            body.push(line);
        }
        out.push_str(&render(&header, &body));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: u64, profile: &str, nodes: &str) -> Row {
        let mut m = RunMetrics {
            nodes_used: 0,
            ..RunMetrics::default()
        };
        m.allocation.insert("cpu".into(), (0.25, 0.5));
        let mut r = Row::new(run, "s", profile, run + 1, &m, None);
        r.values.insert("nodes_used".into(), nodes.into());
        r
    }

    #[test]
    fn csv_round_trips_byte_for_byte() {
        let rows = vec![row(1, "b", "3"), row(0, "a,x", "6")];
        let text = write_csv(&rows).unwrap();
        assert!(text.starts_with("run,scenario,profile,seed,pods_scheduled,"));
        assert!(text.lines().nth(1).unwrap().starts_with("0,s,\"a,x\",1,"));
        let back = read_csv("t", &text).unwrap();
        assert_eq!(write_csv(&back).unwrap(), text);
        assert_eq!(summary_markdown(&back), summary_markdown(&rows));
    }

    #[test]
    fn merge_rejects_conflicting_rows_and_keeps_duplicates_once() {
        let a = vec![row(0, "a", "3")];
        let merged = merge(vec![("x".into(), a.clone()), ("y".into(), a.clone())]).unwrap();
        assert_eq!(merged.len(), 1);
        let b = vec![row(0, "a", "4")];
        assert!(merge(vec![("x".into(), a), ("y".into(), b)]).is_err());
    }

    #[test]
    fn summary_names_the_best_profile() {
        let rows = vec![
            row(0, "spread", "6"),
            row(1, "spread", "6"),
            row(2, "pack", "3"),
            row(3, "pack", "4"),
        ];
        let md = summary_markdown(&rows);
        let line = md.lines().find(|l| l.starts_with("| nodes_used")).unwrap();
        assert!(line.contains("6.000 ± 0.000"), "{line}");
        assert!(line.contains("3.500 ± 6.353"), "{line}");
        assert!(line.trim_end().ends_with("| pack |"), "{line}");
    }
}
