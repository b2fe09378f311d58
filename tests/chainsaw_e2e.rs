//! chainsaw and kuttl suites run by the real binary (`podproof test
//! --kubeconfig`) against podproof's own Kubernetes API (the hidden
//! `podproof __apiserver`: an empty environment, no pods, no podman), with
//! the set-up's kubectl v1.34 in their scripts. Where this build has no
//! `__apiserver` (before the API of issue 30 is merged) the tests say so and
//! return, unless PODPROOF_REQUIRE_API=1 makes that a failure.

mod common;

use common::{start_command_until, tempdir, tool_or_skip, Test};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

struct Api {
    child: Child,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Drop for Api {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes no pointers; the pid is our own child's, not yet waited for.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn api_or_skip(test: &str) -> Option<Api> {
    tool_or_skip(test, "kubectl")?;
    let help = Command::new(common::podproof()).args(["__apiserver", "--help"]).output().expect("podproof runs");
    if !help.status.success() {
        assert!(
            std::env::var("PODPROOF_REQUIRE_API").as_deref() != Ok("1"),
            "{test}: this podproof has no __apiserver"
        );
        eprintln!("{test}: skipped: this podproof serves no Kubernetes API yet (__apiserver, issue 30)");
        return None;
    }
    let dir = tempdir();
    let kubeconfig = dir.path().join("kubeconfig");
    let state = dir.path().join("state");
    let args = ["__apiserver", "--kubeconfig", kubeconfig.to_str().unwrap(), "--dir", state.to_str().unwrap()];
    let mut cmd = Command::new(common::podproof());
    cmd.args(args).current_dir(dir.path());
    let (child, lines) = start_command_until(cmd, &args, "serving the Kubernetes API at");
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Some(Api { child, _dir: dir, kubeconfig })
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Runs `podproof test --kubeconfig` over `dir`; returns the JSON report's tests by name.
fn run(api: &Api, dir: &Path, status: i32) -> Vec<(String, String, String)> {
    let report = dir.join("report.json");
    Test::new()
        .args(["test", "-j", "2", "--report"])
        .arg(format!("json={}", report.display()))
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .arg(dir.join("suite"))
        .expect_status(status)
        .timeout(std::time::Duration::from_secs(300))
        .run();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    r["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
                t["failure"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quick-start\ndata:\n  foo: bar\n";

#[test]
fn chainsaw_operations_against_podproofs_api() {
    let Some(api) = api_or_skip("chainsaw_operations_against_podproofs_api") else { return };
    let d = tempdir();
    write(d.path(), "suite/quick-start/configmap.yaml", CM);
    write(d.path(), "suite/quick-start/chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: quick-start\nspec:\n  steps:\n  - try:\n    - apply:\n        file: configmap.yaml\n    - assert:\n        file: configmap.yaml\n    - patch:\n        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: quick-start}, data: {lorem: ipsum}}\n    - assert:\n        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: quick-start}, data: {foo: bar, lorem: ipsum}}\n    - script:\n        content: kubectl get cm quick-start -n $NAMESPACE -o json\n        outputs:\n        - name: cm\n          value: (json_parse($stdout))\n    - assert:\n        resource:\n          ($cm.data.foo): bar\n    - delete:\n        ref: {apiVersion: v1, kind: ConfigMap, name: quick-start}\n    - error:\n        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: quick-start}}\n");
    write(d.path(), "suite/negative/chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: negative\nspec:\n  steps:\n  - try:\n    - apply:\n        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {foo: bar}, bar: baz}\n        expect:\n        - check:\n            ($error != null): true\n    - script:\n        content: kubectl get foo\n        check:\n          ($error != null): true\n");
    write(d.path(), "suite/failing/chainsaw-test.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: failing\nspec:\n  timeouts: {assert: 1s}\n  steps:\n  - try:\n    - apply:\n        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: f}, data: {k: a}}\n    - assert:\n        resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: f}, data: {k: b}}\n    finally:\n    - events: {}\n");
    let tests = run(&api, d.path(), 1);
    let by = |n: &str| tests.iter().find(|t| t.0 == n).cloned().unwrap_or_else(|| panic!("no {n} in {tests:?}"));
    assert_eq!(by("quick-start").1, "passed", "{}", by("quick-start").2);
    assert_eq!(by("negative").1, "passed", "{}", by("negative").2);
    let f = by("failing");
    assert_eq!(f.1, "failed");
    assert!(f.2.contains("* data.k: Invalid value: \"a\": Expected value: \"b\""), "{}", f.2);
    // Every test namespace is gone: cleanup deleted what each test made.
    let out = Test::new()
        .program(common::tools_dir().join("kubectl"))
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args(["get", "ns", "-o", "name"])
        .run();
    assert!(!out.stdout.contains("chainsaw-"), "{out}");
}

#[test]
fn a_kuttl_suite_against_podproofs_api() {
    let Some(api) = api_or_skip("a_kuttl_suite_against_podproofs_api") else { return };
    let d = tempdir();
    write(
        d.path(),
        "suite/kuttl-test.yaml",
        "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\ntimeout: 10\n",
    );
    write(d.path(), "suite/tests/cm/00-install.yaml", &format!("{CM}---\napiVersion: kuttl.dev/v1beta1\nkind: TestStep\ncommands:\n- command: kubectl create cm from-cmd -n $NAMESPACE --from-literal=a=b\n"));
    write(
        d.path(),
        "suite/tests/cm/00-assert.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-cmd\ndata:\n  a: b\n",
    );
    write(d.path(), "suite/tests/cm/01-delete.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\ndelete:\n- apiVersion: v1\n  kind: ConfigMap\n  name: quick-start\n");
    write(d.path(), "suite/tests/cm/01-errors.yaml", CM);
    let tests = run(&api, d.path(), 0);
    assert_eq!(tests.iter().map(|t| (t.0.as_str(), t.1.as_str())).collect::<Vec<_>>(), [("cm", "passed")], "{tests:?}");
}
