//! `podproof lint`: static checks of app definitions in all three forms.
//!
//! Files are read, parsed once (with positions) and checked in parallel; each
//! file keeps only its findings and the few facts that cross-document rules
//! (dangling Services, missing ServiceAccounts...) need, which are checked per
//! directory once every file is done. Rules live in `rules`, the strict API
//! schema in `schema`, and the output formats in `output`.

pub mod config;
pub mod output;
pub mod readers;
pub mod rules;
pub mod schema;
mod testdirs;
mod walk;

pub use config::Config;
pub use rules::{rule, Rule, RULES};
pub use walk::{lint, run};

use crate::error::{Diagnostic, Severity};
use crate::podman::Version;

/// Where the app is meant to run: which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Podman,
    Cluster,
    Both,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        match s {
            "podman" => Ok(Target::Podman),
            "cluster" => Ok(Target::Cluster),
            "both" => Ok(Target::Both),
            _ => Err(format!("unknown target `{s}`: expected podman, cluster or both")),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Podman => "podman",
            Target::Cluster => "cluster",
            Target::Both => "both",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The podman version whose behaviour the podman rules describe.
    pub podman: Version,
    pub target: Target,
    pub config: Config,
}

impl Options {
    /// The podman version as people say it: `4.3`.
    pub fn podman_label(&self) -> String {
        format!("{}.{}", self.podman.major, self.podman.minor)
    }

    /// The severity `rule` reports at, or `None` when it is off or does not
    /// apply to the target.
    pub fn level(&self, rule: &Rule) -> Option<Severity> {
        let applies = rule.target == Target::Both || self.target == Target::Both || rule.target == self.target;
        if !applies {
            return None;
        }
        match self.config.rules.get(rule.id) {
            Some(level) => *level,
            None => rule.default,
        }
    }
}

/// One problem found in one document.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub severity: Severity,
    pub message: String,
    /// Index into `Report::files`.
    pub file: usize,
    pub line: usize,
    pub column: usize,
    /// A JSON pointer (RFC 6901) to the node within its document.
    pub pointer: String,
    /// `Kind/name` of the object, when it has a kind.
    pub object: Option<String>,
}

/// One linted file: its name as shown, its text (for excerpts) and findings.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The file's place among the inputs.
    pub id: usize,
    pub name: String,
    /// The lines that findings show, the others emptied (and values that
    /// look like secrets masked).
    pub text: String,
    pub findings: Vec<Finding>,
    /// A later part of a file written before: the findings across files
    /// that its directory's other files brought.
    pub more: bool,
}

#[derive(Debug, Default)]
pub struct Report {
    pub files: Vec<FileReport>,
    /// Inputs that could not be read or parsed (exit 2).
    pub bad_input: Vec<Diagnostic>,
}

impl Report {
    /// Adds a file, or a later part of one to the file it belongs to.
    pub fn add(&mut self, file: FileReport) {
        if file.more {
            if let Some(first) = self.files.iter_mut().rev().find(|f| f.id == file.id) {
                first.findings.extend(file.findings);
                walk::sort(&mut first.findings);
                return;
            }
        }
        self.files.push(file);
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings().filter(|f| f.severity == severity).count()
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.files.iter().flat_map(|f| f.findings.iter())
    }
}
