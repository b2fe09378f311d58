//! `podproof.yaml`: project defaults, at the project root (the nearest
//! directory above the current one with `podproof.yaml` or `.git`).
//!
//! ```yaml
//! test: {paths: [fixtures/tests], jobs: 4, strict: true, grace: 30s}
//! snapshots: {dir: snapshots}
//! lint: {podmanVersion: "4.3", rules: {latest-tag: off}, ignorePaths: [vendor/]}
//! promote: {imageMap: {"localhost/podproof/": "registry.example.com/podproof/"}}
//! hostPaths: {allow: [/srv/shared-data]}
//! images: {nginx: localhost/podproof/nginx:1, "gcr.io/acme/": "localhost/acme/"}
//! ```
//! `images` is the run-time image map (src/imagemap.rs); promotion reads it the
//! other way round, after `promote.imageMap`.
//! Command-line flags win over the file; unknown keys are errors with their location.

use crate::app::docs;
use crate::error::{Diagnostic, Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE: &str = "podproof.yaml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub test: TestDefaults,
    #[serde(default)]
    pub snapshots: SnapshotDefaults,
    #[serde(default)]
    pub lint: LintDefaults,
    #[serde(default)]
    pub promote: PromoteDefaults,
    #[serde(default)]
    pub host_paths: HostPathDefaults,
    #[serde(default)]
    pub kubelet: KubeletDefaults,
    /// The run-time image map: the image a manifest names -> the local one to run.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
}

/// The pod workers' settings. `backoff` scales CrashLoopBackOff down for
/// tests (Kubernetes: 10s doubling to 5m); reports say when it was scaled.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeletDefaults {
    pub backoff: Option<BackoffDefaults>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackoffDefaults {
    pub initial: Option<String>,
    pub max: Option<String>,
}

impl KubeletDefaults {
    /// The backoff to use, or why the setting is wrong.
    pub fn backoff(&self) -> std::result::Result<crate::kubelet::Backoff, String> {
        let mut b = crate::kubelet::Backoff::default();
        let Some(d) = &self.backoff else { return Ok(b) };
        if let Some(i) = &d.initial {
            b.initial = crate::wait::parse_duration(i).map_err(|e| format!("kubelet.backoff.initial: {e}"))?;
        }
        if let Some(m) = &d.max {
            b.max = crate::wait::parse_duration(m).map_err(|e| format!("kubelet.backoff.max: {e}"))?;
        }
        if b.initial.is_zero() || b.max < b.initial {
            return Err("kubelet.backoff: initial must be above zero and at most max".into());
        }
        Ok(b)
    }
}

impl Config {
    /// `images` as mappings.
    pub fn image_map(&self) -> Vec<crate::imagemap::Mapping> {
        self.images.iter().map(|(f, t)| crate::imagemap::Mapping { from: f.clone(), to: t.clone() }).collect()
    }
}

/// hostPaths podproof may mount although they leave the project or reach a
/// sensitive place of the host (see docs/security.md); relative to the root.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostPathDefaults {
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestDefaults {
    #[serde(default)]
    pub paths: Vec<String>,
    pub jobs: Option<usize>,
    /// `--strict` for every `podproof test`: anything the ledger lists is an error.
    #[serde(default)]
    pub strict: bool,
    /// The default of `--grace`: the longest any stop of a test waits (`30s`).
    pub grace: Option<String>,
}

impl TestDefaults {
    /// `grace` as a duration, or why it is wrong.
    pub fn grace(&self) -> std::result::Result<Option<std::time::Duration>, String> {
        self.grace.as_deref().map(crate::wait::parse_duration).transpose().map_err(|e| format!("test.grace: {e}"))
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotDefaults {
    pub dir: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LintDefaults {
    pub podman_version: Option<String>,
    /// Severity overrides by rule id; src/lint/config.rs checks the ids and
    /// levels with their positions, since only lint and promotion need them.
    #[serde(default)]
    pub rules: BTreeMap<String, serde_yaml::Value>,
    /// gitignore patterns, relative to podproof.yaml's directory.
    #[serde(default)]
    pub ignore_paths: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromoteDefaults {
    #[serde(default)]
    pub image_map: BTreeMap<String, String>,
}

/// The project's config and root, from `dir` upward.
pub fn load(dir: &Path) -> Result<(PathBuf, Config)> {
    let root = crate::source::project_root(dir);
    let path = root.join(FILE);
    if !path.exists() {
        return Ok((root, Config::default()));
    }
    Ok((root, parse_file(&path)?))
}

/// Reads one file of podproof.yaml's shape (the project's, or lint's `--config`).
pub fn parse_file(path: &Path) -> Result<Config> {
    let src = crate::source::read(&crate::source::display(path))
        .map_err(|d| Error::from_diagnostics("invalid podproof.yaml", &[d]))?;
    // An empty file only marks the project root.
    if src.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Ok(Config::default());
    }
    let parsed = docs::documents(&src).and_then(|d| docs::typed::<Config>(&src, &d[0], ""));
    let config = parsed.map_err(|d| Error::from_diagnostics("invalid podproof.yaml", &[d]))?;
    let bad: Vec<Diagnostic> = config
        .images
        .iter()
        .filter_map(|(from, to)| {
            let why = crate::imagemap::check_entry(from, to)?;
            let p = d_pos(&src, &format!("/images/{}", crate::yaml::escape(from)));
            Some(Diagnostic::error(&src.name, Some(p), format!("images: {why}")))
        })
        .collect();
    if !bad.is_empty() {
        return Err(Error::from_diagnostics("invalid podproof.yaml", &bad));
    }
    if config.test.jobs == Some(0) {
        return Err(Error::bad_input(
            "invalid podproof.yaml",
            vec![format!("{}: test.jobs must be at least 1", src.name)],
        ));
    }
    if let Err(e) = config.test.grace() {
        return Err(Error::from_diagnostics(
            "invalid podproof.yaml",
            &[Diagnostic::error(&src.name, Some(d_pos(&src, "/test/grace")), e)],
        ));
    }
    if let Err(e) = config.kubelet.backoff() {
        return Err(Error::bad_input("invalid podproof.yaml", vec![format!("{}: {e}", src.name)]));
    }
    Ok(config)
}

/// Where `pointer` is in the file's first document (its start when it cannot be found).
fn d_pos(src: &crate::source::Source, pointer: &str) -> (usize, usize) {
    let p = docs::documents(src).ok().and_then(|d| d.into_iter().next()).map(|d| d.pos(pointer));
    p.map_or((1, 1), |p| (p.line, p.column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), input).unwrap();
        let got = match load(dir.path()) {
            Ok((_, c)) => format!("{c:?}"),
            Err(e) => e.causes().join("\n").replace(&dir.path().display().to_string(), "DIR"),
        };
        assert!(got.contains(expect), "{got}");
    }

    #[test]
    fn configs() {
        check("test: {paths: [t], jobs: 2}\n", "paths: [\"t\"], jobs: Some(2)");
        check("promote: {imageMap: {a: b}}\n", "image_map: {\"a\": \"b\"}");
        check("tset: {}\n", "podproof.yaml:1:1: error: unknown field `tset`");
        check("test: {jobs: 0}\n", "test.jobs must be at least 1");
        check("# just a marker\n", "Config { test: TestDefaults { paths: [], jobs: None, strict: false, grace: None }");
        check("test: {grace: 30s}\n", "grace: Some(\"30s\")");
        check("test:\n  grace: soon\n", "podproof.yaml:2:3: error: test.grace:");
        check("test: {strict: true}\n", "strict: true");
        check("lint: {rules: {latest-tag: off}, ignorePaths: [v/]}\n", "ignore_paths: [\"v/\"]");
        check("lint: {ignorePaths: v/}\n", "podproof.yaml:1:21: error: lint.ignorePaths: invalid type: string");
        check("hostPaths: {allow: [/srv/x, data]}\n", "allow: [\"/srv/x\", \"data\"]");
        check("kubelet: {backoff: {initial: 1s, max: 4s}}\n", "initial: Some(\"1s\"), max: Some(\"4s\")");
        check("kubelet: {backoff: {initial: 5s, max: 1s}}\n", "initial must be above zero and at most max");
        check("kubelet: {backoff: {initial: soon}}\n", "kubelet.backoff.initial:");
        check("images: {nginx: localhost/podproof/nginx:1}\n", "images: {\"nginx\": \"localhost/podproof/nginx:1\"}");
        check(
            "test: {}\nimages:\n  gcr.io/a/: localhost/a:1\n",
            "podproof.yaml:3:3: error: images: image map gcr.io/a/=localhost/a:1: a prefix maps to a prefix",
        );
        check("images: {nginx: [a]}\n", "podproof.yaml:1:17: error: images.nginx: invalid type: sequence");
    }
}
