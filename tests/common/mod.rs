//! Helpers shared by the integration tests: run the real binary, find the real data.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `kubesim` binary built for this test run.
pub fn kubesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(args)
        .output()
        .expect("the kubesim binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `../shared/realdata` beside the checkout, or the directory in `KUBESIM_REALDATA`.
/// `None` (with a clear "skipping" line) when neither exists.
pub fn realdata(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KUBESIM_REALDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping {test}: real data not found at {} (set KUBESIM_REALDATA)",
            dir.display()
        );
        None
    }
}

/// The scenario files shipped in `scenarios/`, sorted.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

/// A scenario written to a temporary directory and run with `kubesim run`.
pub struct Run {
    pub dir: tempfile::TempDir,
    pub scenario: PathBuf,
    pub out: PathBuf,
    pub output: Output,
}

impl Run {
    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(self.out.join("summary.json")).expect("summary.json written"),
        )
        .expect("summary.json is JSON")
    }
}

/// Writes `yaml` as `name` in a fresh temporary directory and runs it into `<dir>/out`.
pub fn run_yaml(name: &str, yaml: &str) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scenario = dir.path().join(name);
    std::fs::write(&scenario, yaml).expect("scenario written");
    let out = dir.path().join("out");
    let output = kubesim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    Run {
        dir,
        scenario,
        out,
        output,
    }
}

/// An in-memory output sink that a test can read after the cluster has written to it.
#[derive(Clone, Default)]
pub struct Buf(pub std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `../shared/reference/vectors/controllers.json` beside the checkout (or under
/// `KUBESIM_REFERENCE`), parsed. `None` (with a clear "skipping" line) when it is absent.
pub fn controller_vectors() -> Option<serde_json::Value> {
    let dir = std::env::var_os("KUBESIM_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"));
    let file = dir.join("vectors/controllers.json");
    let Ok(bytes) = std::fs::read(&file) else {
        eprintln!(
            "skipping: {} not found (set KUBESIM_REFERENCE)",
            file.display()
        );
        return None;
    };
    Some(serde_json::from_slice(&bytes).expect("controllers.json is JSON"))
}

/// The row of the controllers vectors with `id`.
pub fn controller_vector_row(doc: &serde_json::Value, id: &str) -> serde_json::Value {
    doc["cases"]
        .as_array()
        .expect("a cases array")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("the {id} row"))
        .clone()
}
