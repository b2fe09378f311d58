//! Finding chainsaw and kuttl tests beside podproof's own:
//!
//! - a directory holding `chainsaw-test.yaml` (or `.yml`, or the
//!   Configuration's `testFile`) is a chainsaw test file; so is any YAML file
//!   holding a `chainsaw.kyverno.io` `Test` document;
//! - `kuttl-test.yaml` is a kuttl suite: every directory in its `testDirs` is a
//!   kuttl test;
//! - a directory of numbered step files (`NN-name.yaml`) without a test file
//!   is a test of the conventional layout, when it has an `NN-assert` or
//!   `NN-errors` file or a `.chainsaw.yaml` above it: a directory of numbered
//!   manifests alone (`00-namespace.yaml`, `01-app.yaml`) is not taken for a test;
//! - the `.chainsaw.yaml` nearest above a test (up to the path searched, or
//!   in the current directory) configures it.

use super::config::{self, Config};
use super::kuttl::{self, Suite};
use super::model::Test;
use crate::error::Diagnostic;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What discovery found.
#[derive(Debug, Default)]
pub struct Found {
    /// Each test with the configuration that applies to it.
    pub tests: Vec<(Test, Arc<Config>)>,
    /// kuttl suites (their tests are in `tests`), for their `commands`.
    pub suites: Vec<Suite>,
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }
}

/// Finds and reads every chainsaw and kuttl test under `paths`.
pub fn discover(paths: &[String]) -> (Found, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut found = Found::default();
    let mut configs: Vec<(PathBuf, Arc<Config>)> = Vec::new();
    let mut test_files: BTreeSet<PathBuf> = BTreeSet::new();
    let mut suite_files: BTreeSet<PathBuf> = BTreeSet::new();
    let mut step_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut roots = Vec::new();
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(c) = cwd.join(config::FILE_NAME).is_file().then(|| cwd.join(config::FILE_NAME)) {
        if let Some(cfg) = config::read_file(&c, &mut diags) {
            configs.push((cwd.clone(), Arc::new(cfg)));
        }
    }
    for p in paths {
        let path = Path::new(p);
        if path.is_file() {
            let abs = crate::source::absolute(path);
            let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name == kuttl::SUITE_FILE {
                suite_files.insert(abs);
            } else if name == config::FILE_NAME {
                if let Some(cfg) = config::read_file(&abs, &mut diags) {
                    configs.push((abs.parent().unwrap_or(&cwd).to_path_buf(), Arc::new(cfg)));
                }
            } else if declares_chainsaw_test(&abs) {
                test_files.insert(abs);
            }
            continue;
        }
        if !path.is_dir() {
            // runner::discover reports paths that do not exist.
            continue;
        }
        let root = crate::source::absolute(path);
        roots.push(root.clone());
        for e in ignore::WalkBuilder::new(&root)
            .hidden(false)
            .git_ignore(true)
            .require_git(false)
            // Hidden directories (.git, .github) hold no tests; `.chainsaw.yaml` files are read.
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_some_and(|t| t.is_dir()) && e.file_name().to_string_lossy().starts_with('.'))
            })
            .build()
            .flatten()
        {
            let ep = e.path();
            let name = ep.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if ep.is_dir() {
                if has_step_files(ep) {
                    step_dirs.insert(crate::source::normalize(ep));
                }
                continue;
            }
            if name == config::FILE_NAME {
                if let Some(cfg) = config::read_file(ep, &mut diags) {
                    configs.push((crate::source::normalize(ep.parent().unwrap_or(&root)), Arc::new(cfg)));
                }
            } else if name == kuttl::SUITE_FILE {
                suite_files.insert(crate::source::normalize(ep));
            } else if is_yaml(&name) && !hidden_below(&root, ep) && declares_chainsaw_test(ep) {
                test_files.insert(crate::source::normalize(ep));
            }
        }
    }
    let config_for = |dir: &Path| -> Arc<Config> {
        configs
            .iter()
            .filter(|(d, _)| dir.starts_with(d))
            .max_by_key(|(d, _)| d.components().count())
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| Arc::new(Config::default()))
    };
    // kuttl suites own the directories of their testDirs.
    let mut kuttl_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for f in &suite_files {
        let Some(suite) = kuttl::read_suite(f, &mut diags) else { continue };
        for td in &suite.test_dirs {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(td)
                .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
                .unwrap_or_default();
            dirs.sort();
            for d in dirs {
                let d = crate::source::normalize(&d);
                if !kuttl_dirs.insert(d.clone()) {
                    continue;
                }
                if let Some(t) = kuttl::read_test(&d, Some(&suite), &mut diags) {
                    found.tests.push((t, config_for(&d)));
                }
            }
        }
        found.suites.push(suite);
    }
    let mut test_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for f in &test_files {
        if let Some(parent) = f.parent() {
            if kuttl_dirs.contains(parent) {
                continue;
            }
            let cfg = config_for(parent);
            let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if stem == cfg.test_file {
                test_dirs.insert(parent.to_path_buf());
            }
            read_test_file(f, &cfg, &mut found, &mut diags);
        }
    }
    for d in step_dirs {
        if kuttl_dirs.contains(&d) || test_dirs.contains(&d) || test_files.iter().any(|f| f.parent() == Some(&d)) {
            continue;
        }
        let cfg = config_for(&d);
        // Step files beside (or below) a kuttl-test.yaml outside its testDirs are kuttl's too.
        let suite = found.suites.iter().filter(|s| d.starts_with(&s.dir)).max_by_key(|s| s.dir.components().count());
        if let Some(suite) = suite {
            if let Some(t) = kuttl::read_test(&d, Some(suite), &mut diags) {
                found.tests.push((t, cfg));
            }
            continue;
        }
        let configured = cfg.file.is_some();
        let checks = super::load::step_files(&d).values().any(|s| !s.asserts.is_empty() || !s.errors.is_empty());
        if !(configured || checks) {
            continue;
        }
        if let Some(t) = super::load::conventional_test(&d, &mut diags) {
            found.tests.push((t, cfg));
        }
    }
    // The configuration's include and exclude patterns.
    found.tests.retain(|(t, c)| {
        let inc = c.include_test_regex.as_deref().and_then(|r| regex::Regex::new(r).ok());
        let exc = c.exclude_test_regex.as_deref().and_then(|r| regex::Regex::new(r).ok());
        inc.is_none_or(|r| r.is_match(&t.name)) && exc.is_none_or(|r| !r.is_match(&t.name))
    });
    found.tests.sort_by(|a, b| (a.0.file.as_str(), a.0.name_at).cmp(&(b.0.file.as_str(), b.0.name_at)));
    let _ = roots;
    (found, diags)
}

/// Whether a path lies in a hidden directory (or is a hidden file) below `root`.
fn hidden_below(root: &Path, p: &Path) -> bool {
    p.strip_prefix(root)
        .map(|rel| rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')))
        .unwrap_or(false)
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

fn has_step_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                super::load::step_file(&n, e.path().is_dir()).is_some()
            })
        })
        .unwrap_or(false)
}

/// A quick look for a chainsaw `Test` document, before parsing the file in full.
fn declares_chainsaw_test(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| crate::suitefile::declares_chainsaw_test(&text))
}

fn read_test_file(f: &Path, cfg: &Arc<Config>, found: &mut Found, diags: &mut Vec<Diagnostic>) {
    let name = crate::source::display(f);
    let src = match crate::source::read(&name) {
        Ok(s) => s,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let docs = match crate::app::docs::documents(&src) {
        Ok(d) => d,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    for doc in &docs {
        let kind = doc.value.get("kind").and_then(|k| k.as_str());
        if !super::load::is_chainsaw(doc) || kind != Some("Test") {
            continue;
        }
        if let Some(t) = super::load::read_test(&src, doc, diags) {
            found.tests.push((t, cfg.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_and_leaves_manifests_alone() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        w("cs/basic/chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: basic}\nspec:\n  steps:\n  - try:\n    - apply: {file: cm.yaml}\n");
        w("cs/basic/cm.yaml", cm);
        w("cs/conventional/00-cm.yaml", cm);
        w("cs/conventional/00-assert.yaml", cm);
        w("manifests/00-namespace.yaml", cm);
        w("manifests/01-app.yaml", cm);
        w("k/kuttl-test.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\n");
        w("k/tests/one/00-cm.yaml", cm);
        w("k/tests/one/00-assert.yaml", cm);
        w("podproof/test.yaml", "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: p}\nspec: {apps: [.], steps: [{up: {}}]}\n");
        let (found, diags) = discover(&[dir.path().display().to_string()]);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let names: Vec<String> = found.tests.iter().map(|(t, _)| format!("{} {:?}", t.name, t.dialect)).collect();
        assert_eq!(names, ["basic Chainsaw", "conventional Chainsaw", "one Kuttl"]);
        assert_eq!(found.suites.len(), 1);
    }
}
