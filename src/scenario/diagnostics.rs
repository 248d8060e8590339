//! Scenario problems, each pinned to a file, a line:column and a field path.

use std::fmt;

use super::yaml::Location;

/// One problem in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (scenario path, or an include relative to it).
    pub file: String,
    pub location: Option<Location>,
    /// Field path inside the document, e.g. `spec.objects[3].spec.replicas`; empty when the
    /// problem is with the file as a whole.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: path: message` (parts omitted when unknown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(loc) = self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a scenario (all are reported, not just the first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics while loading.
#[derive(Default)]
pub(crate) struct Sink {
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Most diagnostics one load collects; past that, loading stops (a limit, like any other).
pub(crate) const MAX_DIAGNOSTICS: usize = 100;

impl Sink {
    pub(crate) fn push(
        &mut self,
        file: &str,
        location: Option<Location>,
        path: &str,
        message: impl Into<String>,
    ) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(Diagnostic {
                file: file.to_string(),
                location,
                path: path.to_string(),
                message: message.into(),
            });
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.diagnostics.len() >= MAX_DIAGNOSTICS
    }
}
