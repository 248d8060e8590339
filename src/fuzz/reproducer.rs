//! Counterexamples as scenario files: the text a failing case is written as, the file name
//! it gets and the commands that replay it.
//!
//! The library does no file IO: the test harness and `kubesim fuzz` write the file (under
//! `target/fuzz-repro/`, or `$KUBESIM_REPRO_DIR`) and print the commands.

use sha2::{Digest, Sha256};

use super::generate::FuzzCase;
use super::properties::Violation;

/// A failing case ready to be written out.
#[derive(Clone, Debug)]
pub struct Reproducer {
    /// `fuzz-<first 12 hex digits of the text's sha256>.yaml`: the same case, the same name.
    pub file_name: String,
    /// The scenario, with the violations as a comment at the top.
    pub text: String,
}

/// The directory reproducers go to: `$KUBESIM_REPRO_DIR` when the caller passes it, else
/// `target/fuzz-repro`.
pub fn default_dir(env_value: Option<std::ffi::OsString>) -> std::path::PathBuf {
    env_value
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target/fuzz-repro"))
}

impl Reproducer {
    pub fn new(
        case: &FuzzCase,
        scheduler: Option<&serde_json::Value>,
        violations: &[Violation],
    ) -> Reproducer {
        let scenario = case.to_yaml(super::run_length_s(case), scheduler);
        let mut text = String::from(
            "# A counterexample found by kubesim's property tests. Replay it with\n#   kubesim run THIS_FILE\n# and re-check the properties with\n#   kubesim fuzz --replay THIS_FILE\n# Violations:\n",
        );
        for v in violations.iter().take(10) {
            text.push_str(&format!("#   {v}\n"));
        }
        text.push_str(&scenario);
        let digest = Sha256::digest(text.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Reproducer {
            file_name: format!("fuzz-{hex}.yaml"),
            text,
        }
    }

    /// The commands that replay the file at `path`.
    pub fn commands(path: &std::path::Path) -> String {
        format!(
            "kubesim run {p}\nkubesim fuzz --replay {p}",
            p = path.display()
        )
    }
}
