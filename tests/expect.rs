//! Expectations (`spec.expect`) and `kubesim check`: results in summary.json, exit codes,
//! the table and JUnit XML.

mod common;

use std::path::Path;

use common::{kubesim, run_yaml, stderr, stdout};

fn scenarios_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn check_passes_over_the_shipped_scenarios() {
    let dir = scenarios_dir();
    let o = kubesim(&["check", dir.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("zone-outage.yaml"), "{out}");
    assert!(out.contains(" 0 not passed"), "{out}");
}

/// The table without its wall-time column.
fn table_without_times(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| {
            let mut cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() == 5 {
                cols.pop();
            }
            cols.join(" ")
        })
        .collect()
}

#[test]
fn check_results_do_not_depend_on_the_number_of_jobs() {
    let dir = scenarios_dir();
    let one = kubesim(&["check", dir.to_str().unwrap(), "--jobs", "1"]);
    let three = kubesim(&["check", dir.to_str().unwrap(), "--jobs", "3"]);
    assert_eq!(
        table_without_times(&stdout(&one)),
        table_without_times(&stdout(&three))
    );
}

/// A copy of zone-outage.yaml with one expectation made impossible.
fn broken_copy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(scenarios_dir().join("zone-outage.yaml")).unwrap();
    let marker = "    - name: zone-a-back\n      at: 8m\n      nodes: {ready: true}\n      eq: 6";
    assert!(
        text.contains(marker),
        "zone-outage.yaml keeps its zone-a-back check"
    );
    let broken = text.replace(marker, &marker.replace("eq: 6", "eq: 7"));
    let path = dir.join("zone-outage-broken.yaml");
    std::fs::write(&path, broken).unwrap();
    path
}

#[test]
fn a_broken_expectation_fails_check_naming_it_with_time_and_observed_value() {
    let dir = tempfile::tempdir().unwrap();
    broken_copy(dir.path());
    let junit = dir.path().join("junit.xml");
    let o = kubesim(&[
        "check",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("expectation zone-a-back: FAILED at t=480s (observed 6, expected == 7)"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let root = xml::parse(&xml).expect("well-formed JUnit XML");
    assert_eq!(root.name, "testsuites");
    assert_eq!(root.children.len(), 1);
    let suite = &root.children[0];
    assert_eq!(suite.name, "testsuite");
    assert_eq!(suite.attr("tests"), Some("7"));
    assert_eq!(suite.attr("failures"), Some("1"));
    let cases: Vec<&xml::Element> = suite
        .children
        .iter()
        .filter(|c| c.name == "testcase")
        .collect();
    assert_eq!(cases.len(), 7);
    let failed: Vec<&&xml::Element> = cases
        .iter()
        .filter(|c| c.children.iter().any(|f| f.name == "failure"))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attr("name"), Some("zone-a-back"));
    let failure = &failed[0].children[0];
    let msg = failure.attr("message").unwrap();
    assert!(
        msg.contains("t=480s") && msg.contains("observed 6"),
        "{msg}"
    );
}

#[test]
fn run_exits_1_and_summary_lists_the_failed_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let path = broken_copy(dir.path());
    let out = dir.path().join("out");
    let o = kubesim(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let e = summary["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "zone-a-back")
        .unwrap()
        .clone();
    assert_eq!(e["status"], "failed");
    assert_eq!(e["t_s"], "480");
    assert_eq!(e["observed"], "6");
    assert_eq!(e["expected"], "== 7");
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(
        events.contains("\"reason\":\"ExpectationFailed\",\"object\":\"Expectation/zone-a-back\"")
    );
}

const CRASHY: &str = "apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: crashy}
spec:
  duration: 15m
  cluster:
    nodePools:
      - name: worker
        count: 2
        zones: [a, b]
        template:
          status:
            capacity: {cpu: \"4\", memory: 16Gi, pods: \"110\"}
  behaviors:
    - name: crash
      selector:
        matchLabels: {app: crashy}
      crashAfter: 0s
      crashExitCode: 1
  objects:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: crashy, namespace: default}
      spec:
        replicas: 2
        progressDeadlineSeconds: 120
        selector:
          matchLabels: {app: crashy}
        template:
          metadata:
            labels: {app: crashy}
          spec:
            containers:
              - name: app
                image: crashy:1
                resources:
                  requests: {cpu: 100m, memory: 64Mi}
  expect:
";

fn expect(checks: &str) -> serde_json::Value {
    let r = run_yaml("e.yaml", &format!("{CRASHY}{checks}"));
    let s = r.summary();
    s["expectations"].clone()
}

fn statuses(results: &serde_json::Value) -> Vec<(String, String, String)> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
                e["observed"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_subject_is_observed() {
    let r = expect(
        "    - {name: restarts, eventually: {at: 0s, within: 5m}, restarts: {selector: app=crashy}, ge: 6}
    - {name: running-pods, at: 1m, pods: {selector: app=crashy, phase: Running}, eq: 2}
    - {name: no-pending, always: {from: 30s}, pending: {}, eq: 0}
    - {name: ready-nodes, at: 10s, nodes: {ready: true}, eq: 2}
    - {name: skew, at: 1m, skew: {selector: app=crashy, topologyKey: topology.kubernetes.io/zone}, le: 2}
    - {name: unavailable, always: {from: 10s, to: 10m}, workload: {name: crashy}, field: availableReplicas, eq: 0}
    - name: deadline
      eventually: {at: 1m, within: 5m}
      workload: {kind: Deployment, name: crashy}
      condition: {type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded}
",
    );
    let s = statuses(&r);
    for (name, status, observed) in &s {
        assert_eq!(status, "passed", "{name}: observed {observed} ({s:?})");
    }
    assert_eq!(s[6].2, "Progressing=False/ProgressDeadlineExceeded");
}

#[test]
fn failing_checks_report_when_and_what_was_seen() {
    let r = expect(
        "    - {name: never-ready, eventually: {at: 10s, within: 1m}, workload: {name: crashy}, field: readyReplicas, ge: 1}
    - {name: always-available, always: {from: 1m}, workload: {name: crashy}, field: availableReplicas, ge: 1}
    - {name: too-many-restarts, at: 5m, restarts: {selector: app=crashy}, lt: 2}
",
    );
    let all = r.as_array().unwrap();
    assert!(all.iter().all(|e| e["status"] == "failed"), "{r}");
    // eventually: fails at the end of its window.
    assert_eq!(all[0]["t_s"], "70");
    assert_eq!(all[0]["observed"], "0");
    // always: fails the first time it is checked and does not hold.
    assert_eq!(all[1]["t_s"], "60");
    assert_eq!(all[2]["t_s"], "300");
}

#[test]
fn a_run_cut_short_leaves_later_checks_not_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        format!("{CRASHY}    - {{name: late, at: 10m, nodes: {{}}, eq: 2}}\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = kubesim(&[
        "run",
        path.to_str().unwrap(),
        "--until",
        "1m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["expectations"][0]["status"], "not-evaluated");
}

#[test]
fn bad_expectations_are_reported_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        format!(
            "{CRASHY}    - {{name: a, eventually: {{after: nope, within: 1m}}, pending: {{}}, eq: 0}}
    - {{name: b, at: 1h, pending: {{}}, eq: 0}}
    - {{name: c, at: 1m, service: {{name: web}}, field: availability, ge: 1}}
    - {{name: d, at: 1m, workload: {{name: crashy}}, field: bogus, eq: 1}}
    - {{name: e, at: 1m, pods: {{}}}}
"
        ),
    )
    .unwrap();
    let o = kubesim(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("spec.expect[0].eventually.after: Not found"),
        "{err}"
    );
    assert!(
        err.contains("spec.expect[1]: the check ends at 3600s"),
        "{err}"
    );
    assert!(err.contains("spec.expect[2].field"), "{err}");
    assert!(
        err.contains("Unsupported value: \"availability\": supported values: requests"),
        "{err}"
    );
    assert!(
        err.contains("spec.expect[3].field: Unsupported value: \"bogus\""),
        "{err}"
    );
    assert!(
        err.contains("spec.expect[4]: Required value: a comparison"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:"), "{err}");
}

/// A minimal XML reader, enough to check that JUnit output is well-formed: elements,
/// attributes, text, comments/declarations skipped, the five predefined entities.
mod xml {
    #[derive(Debug)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
    }

    impl Element {
        pub fn attr(&self, key: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
    }

    fn unescape(s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let end = rest[i..].find(';').ok_or("unterminated entity")? + i;
            out.push(match &rest[i + 1..end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e => return Err(format!("unknown entity {e}")),
            });
            rest = &rest[end + 1..];
        }
        if rest.contains('<') {
            return Err("raw < in text".into());
        }
        out.push_str(rest);
        Ok(out)
    }

    pub fn parse(text: &str) -> Result<Element, String> {
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        let mut rest = text;
        while let Some(i) = rest.find('<') {
            unescape(&rest[..i])?;
            rest = &rest[i..];
            if rest.starts_with("<?") || rest.starts_with("<!--") {
                let end = rest.find('>').ok_or("unterminated declaration")?;
                rest = &rest[end + 1..];
                continue;
            }
            let end = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let el = stack.pop().ok_or("close without open")?;
                if el.name != name.trim() {
                    return Err(format!("</{name}> closes <{}>", el.name));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
                continue;
            }
            let (tag, selfclosing) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let mut parts = tag.splitn(2, char::is_whitespace);
            let name = parts.next().ok_or("empty tag")?.to_string();
            let mut attrs = Vec::new();
            let mut a = parts.next().unwrap_or("").trim();
            while !a.is_empty() {
                let eq = a.find('=').ok_or("attribute without =")?;
                let key = a[..eq].trim().to_string();
                let after = a[eq + 1..].trim_start();
                if !after.starts_with('"') {
                    return Err("unquoted attribute".into());
                }
                let close = after[1..].find('"').ok_or("unterminated attribute")? + 1;
                attrs.push((key, unescape(&after[1..close])?));
                a = after[close + 1..].trim_start();
            }
            let el = Element {
                name,
                attrs,
                children: Vec::new(),
            };
            if selfclosing {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            } else {
                stack.push(el);
            }
        }
        if !stack.is_empty() {
            return Err("unclosed elements".into());
        }
        root.ok_or_else(|| "no root element".into())
    }
}

#[test]
fn check_reports_the_same_digest_as_run() {
    let scenario = scenarios_dir().join("zone-outage.yaml");
    let dir = tempfile::tempdir().unwrap();
    let o = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let digest = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("digest: ").map(str::to_string))
        .unwrap();
    let c = kubesim(&["check", scenario.to_str().unwrap()]);
    assert_eq!(c.status.code(), Some(0), "{}", stdout(&c));
    assert!(stdout(&c).contains(&digest[..16]), "{}", stdout(&c));
}
