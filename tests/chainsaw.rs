//! chainsaw and kuttl suites through the real binary: discovery beside
//! podproof's tests, reading with located errors (exit 2), and `--list`.
//! Running them needs podproof's API (issue 30); their e2e tests come with it.

mod common;

use common::{tempdir, Test};
use std::path::Path;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quick-start\ndata:\n  foo: bar\n";

#[test]
fn lists_chainsaw_kuttl_and_conventional_tests() {
    let d = tempdir();
    write(d.path(), "chainsaw/quick-start/chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: quick-start\nspec:\n  steps:\n  - try:\n    - apply:\n        file: configmap.yaml\n    - assert:\n        file: configmap.yaml\n");
    write(d.path(), "chainsaw/quick-start/configmap.yaml", CM);
    write(d.path(), "chainsaw/layout/00-configmap.yaml", CM);
    write(d.path(), "chainsaw/layout/00-assert.yaml", CM);
    write(
        d.path(),
        "kuttl/kuttl-test.yaml",
        "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs:\n- tests\ntimeout: 60\n",
    );
    write(d.path(), "kuttl/tests/cm/00-install.yaml", CM);
    write(d.path(), "kuttl/tests/cm/00-assert.yaml", CM);
    write(d.path(), "manifests/00-namespace.yaml", CM);
    let out = Test::new().args(["test", "--list"]).arg(d.path()).run();
    let listed: Vec<String> = out.stdout.lines().map(|l| l.split('\t').take(2).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(listed, ["layout chainsaw", "quick-start chainsaw", "cm kuttl"], "{out}");
}

#[test]
fn bad_chainsaw_files_exit_2_with_their_place() {
    let d = tempdir();
    write(d.path(), "t/chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\nspec:\n  steps:\n  - try:\n    - aplly:\n        file: x.yaml\n    - assert:\n        resource:\n          (length(@) >): 1\n");
    let file = d.path().join("t/chainsaw-test.yaml").display().to_string();
    Test::new()
        .args(["test", "--list"])
        .arg(d.path())
        .expect_status(2)
        .stderr_contains(format!(
            "{file}:8:7: error: spec.steps[0].try[0]: unknown field `aplly`; did you mean `apply`?"
        ))
        .stderr_contains(format!(
            "{file}:12:11: error: invalid expression `length(@) >`: unexpected end of the expression at column 12"
        ))
        .run();
    let d = tempdir();
    write(
        d.path(),
        "k/kuttl-test.yaml",
        "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\ntimeout: soon\n",
    );
    let file = d.path().join("k/kuttl-test.yaml").display().to_string();
    Test::new()
        .args(["test", "--list"])
        .arg(d.path())
        .expect_status(2)
        .stderr_contains(format!(
            "{file}:4:10: error: timeout: invalid type: string \"soon\", expected a non-negative integer"
        ))
        .run();
}

#[test]
fn an_explicit_chainsaw_file_is_not_refused_as_a_podproof_test() {
    let d = tempdir();
    write(d.path(), "chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: sleepy\nspec:\n  steps:\n  - try:\n    - sleep:\n        duration: 1s\n");
    Test::new()
        .args(["test", "--list"])
        .arg(d.path().join("chainsaw-test.yaml"))
        .stdout_contains("sleepy\tchainsaw")
        .run();
}
