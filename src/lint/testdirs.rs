//! Which directories hold chainsaw or kuttl tests, as chainsaw's discovery
//! finds them: their files are test files (asserts, templates, fixtures), not
//! manifests, and lint checks them with the suite rules only.
//!
//! A directory is a test's when it holds `chainsaw-test.yaml`, or numbered
//! step files (`NN-name.yaml`) of which one asserts (`NN-assert`, `NN-errors`)
//! or holds a kuttl `TestStep`/`TestAssert`, or that sit below a
//! `kuttl-test.yaml` or `.chainsaw.yaml`; a directory of numbered manifests
//! alone is not a test. A step directory (`NN-name/`) of a test is the test's
//! too. A file of another name that holds a chainsaw `Test` is a test file
//! itself (lint sees its documents), but does not make its neighbours test
//! files: a directory of such files may hold manifests beside them.

use crate::suitefile::{self, FileKind};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How much of a file the quick look reads: a test's header is at its top.
const LOOK: u64 = 16 << 10;

/// Remembers the answer per directory, since every file of one asks.
#[derive(Default)]
pub struct TestDirs(HashMap<PathBuf, bool>);

impl TestDirs {
    /// Whether `dir` holds (or is a step directory of) a chainsaw or kuttl test.
    pub fn contains(&mut self, dir: &Path) -> bool {
        if let Some(known) = self.0.get(dir) {
            return *known;
        }
        let step_dir = dir.file_name().is_some_and(|n| suitefile::step_file(&n.to_string_lossy(), true).is_some())
            && dir.parent().is_some_and(is_test_dir);
        let yes = step_dir || is_test_dir(dir);
        self.0.insert(dir.to_path_buf(), yes);
        yes
    }
}

fn is_test_dir(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else { return false };
    let mut checks = false;
    let mut steps = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir && suitefile::TEST_FILES.contains(&name.as_str()) {
            return true;
        }
        if let Some((_, kind)) = suitefile::step_file(&name, is_dir) {
            checks |= kind != FileKind::Apply;
            if !is_dir {
                steps.push(e.path());
            }
        }
    }
    if checks || !steps.is_empty() && configured_above(dir) {
        return true;
    }
    steps.iter().any(|p| {
        let mut text = String::new();
        let read = std::fs::File::open(p).and_then(|f| f.take(LOOK).read_to_string(&mut text));
        read.is_ok() && suitefile::declares_kuttl_step(&text)
    })
}

/// A kuttl suite or chainsaw configuration in `dir` or up to three above it.
fn configured_above(dir: &Path) -> bool {
    dir.ancestors()
        .take(4)
        .any(|d| d.join(suitefile::KUTTL_SUITE_FILE).is_file() || d.join(suitefile::CONFIG_FILE).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_tests_from_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        w("cs/basic/chainsaw-test.yaml", "kind: Test\n");
        w("cs/named/test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\n");
        w("cs/named/cm.yaml", cm);
        w("cs/conventional/00-cm.yaml", cm);
        w("cs/conventional/00-assert.yaml", cm);
        w("cs/conventional/01-step/cm.yaml", cm);
        w("manifests/00-namespace.yaml", cm);
        w("manifests/01-app.yaml", cm);
        w("k/kuttl-test.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\n");
        w("k/tests/one/00-cm.yaml", cm);
        w("k/tests/step/00-step.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\n");
        w("loose/00-step.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\n");
        w("loose/01-app.yaml", cm);
        let mut dirs = TestDirs::default();
        let mut is = |p: &str| dirs.contains(&dir.path().join(p));
        assert!(is("cs/basic"));
        assert!(!is("cs/named"));
        assert!(is("cs/conventional"));
        assert!(is("cs/conventional/01-step"));
        assert!(!is("manifests"));
        assert!(is("k/tests/one"));
        assert!(is("k/tests/step"));
        assert!(!is("k"));
        assert!(is("loose"));
    }
}
