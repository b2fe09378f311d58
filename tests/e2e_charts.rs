//! End-to-end tests against real podman for what users bring from elsewhere: a
//! chart made by `helm create` at test time, a chart with hooks of each kind,
//! and a kustomize overlay, rendered by the real helm and kubectl that
//! `scripts/setup.sh tools` installs (tests skip without them, and fail under
//! PODPROOF_REQUIRE_PODMAN=1). Run them under `flock /tmp/podproof-e2e.lock`.

mod common;

use common::Test;
use std::path::Path;

/// Writes a Test file with `apps` (YAML flow items) and `steps` into `dir`.
fn test_file(dir: &Path, name: &str, apps: &str, images: &str, steps: &str) -> String {
    let path = dir.join(format!("{name}.test.yaml"));
    let text = format!(
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  apps:\n{apps}  images:\n{images}  steps:\n{steps}"
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_helm_create_chart_comes_up_with_mapped_images_and_its_helm_test_passes() {
    let test = "the helm create chart";
    let Some(helm) = common::tool_or_skip(test, "helm") else { return };
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    Test::new().program(&helm).args(["create", "mychart"]).current_dir(dir.path()).run();
    let file = test_file(
        dir.path(),
        "helm-create",
        &format!("    - command: [{}, template, demo, ./mychart]\n", helm.display()),
        "    - {from: nginx, tag: \"localhost/podproof/nginx:1\"}\n    - {from: busybox, tag: \"localhost/podproof/busybox:latest\"}\n",
        "    - up: {}\n    - http: {pod: demo-mychart-0, port: 80, path: /}\n      expect: {status: 200}\n    - helmTest: {}\n",
    );
    Test::new().args(["test", &file]).current_dir(dir.path()).stdout_contains("1 passed, 0 failed").run();
    common::assert_clean(test);
    // Through stdin, the chart's test pod is a hook, not a member.
    let rendered = Test::new().program(&helm).args(["template", "demo", "./mychart"]).current_dir(dir.path()).run();
    let out = Test::new().args(["render", "-"]).stdin(rendered.stdout).stdout_contains("name: demo-mychart-0").run();
    assert!(!out.stdout.contains("test-connection"), "the test hook was rendered as a member:\n{}", out.stdout);
}

#[test]
fn a_failing_helm_test_hook_fails_helm_test_with_its_logs_and_hooks_run_in_order() {
    let test = "the hooks chart";
    let Some(helm) = common::tool_or_skip(test, "helm") else { return };
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let chart = common::root().join("fixtures/charts/hooks");
    let steps = "    - up: {}\n    - helmTest: {}\n    - down: {}\n";
    let failing = test_file(
        dir.path(),
        "hooks-fail",
        &format!("    - command: [{}, template, rel, {}]\n", helm.display(), chart.display()),
        "    []\n",
        steps,
    );
    Test::new()
        .args(["test", &failing])
        .expect_status(1)
        .stdout_contains("test hook Pod rel-test-strict failed: container")
        .stdout_contains("strict check: failTest is set, failing on purpose")
        .stderr_contains("pre-install hook Pod rel-pre-install (weight -5)")
        .stderr_contains("post-install hook Job rel-post-install (weight 1)")
        .run();
    common::assert_clean(test);
    let passing = test_file(
        dir.path(),
        "hooks-pass",
        &format!("    - command: [{}, template, rel, {}, --set, failTest=false]\n", helm.display(), chart.display()),
        "    []\n",
        steps,
    );
    Test::new()
        .args(["test", &passing])
        .stdout_contains("1 passed, 0 failed")
        .stderr_contains("pre-delete hook Pod rel-pre-delete")
        .stderr_contains("post-delete hook Pod rel-post-delete")
        .run();
    common::assert_clean(test);
}

#[test]
fn a_kustomize_overlay_runs() {
    let test = "the kustomize overlay";
    let Some(kubectl) = common::tool_or_skip(test, "kubectl") else { return };
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let overlay = common::root().join("fixtures/kustomize/overlays/dev");
    let file = test_file(
        dir.path(),
        "kustomize",
        &format!("    - command: [{}, kustomize, {}]\n", kubectl.display(), overlay.display()),
        "    []\n",
        "    - up: {}\n    - http: {pod: dev-web-0, port: 8080, path: /}\n      expect: {status: 200, body: {contains: dev overlay}}\n",
    );
    Test::new().args(["test", &file]).stdout_contains("1 passed, 0 failed").run();
    common::assert_clean(test);
    // Through stdin, as `kubectl kustomize ... | podproof render -`.
    let rendered = Test::new().program(&kubectl).args(["kustomize"]).arg(&overlay).run();
    Test::new().args(["render", "-"]).stdin(rendered.stdout).stdout_contains("name: dev-web-0").run();
}

#[test]
fn up_and_down_run_a_charts_install_and_delete_hooks_and_down_by_name_reads_the_kept_hooks() {
    let test = "up and down with the hooks chart";
    let Some(helm) = common::tool_or_skip(test, "helm") else { return };
    let Some(_g) = common::podman_exclusive() else { return };
    let chart = common::root().join("fixtures/charts/hooks");
    let rendered =
        Test::new().program(&helm).args(["template", "rel"]).arg(&chart).args(["--set", "failTest=false"]).run();
    // `helm template | podproof up -`: the install hooks run around the app, in weight order.
    let out = Test::new().args(["up", "-"]).stdin(rendered.stdout.clone()).run();
    let pre = out.stderr.find("pre-install hook Pod rel-pre-install (weight -5)").expect("pre-install ran");
    let web = out.stderr.find("rel-web-0 ready").expect("the web pod came up");
    let post = out.stderr.find("post-install hook Job rel-post-install (weight 1)").expect("post-install ran");
    assert!(pre < web && web < post, "hooks out of order:\n{out}");
    // `down NAME` has no files: it runs the delete hooks `up` kept, and leaves nothing.
    let out = Test::new()
        .args(["down", "stdin"])
        .stderr_contains("pre-delete hook Pod rel-pre-delete")
        .stderr_contains("post-delete hook Pod rel-post-delete")
        .run();
    assert!(out.stderr.find("pre-delete").unwrap() < out.stderr.find("post-delete").unwrap(), "{out}");
    common::assert_clean(test);
    // A failed install hook fails `up` with its logs; `down NAME` removes what is left of it.
    let failing = rendered.stdout.replace("echo pre-install ran", "echo pre-install failing on purpose; exit 3");
    Test::new()
        .args(["up", "-"])
        .stdin(failing)
        .expect_status(1)
        .stderr_contains("pre-install hook Pod rel-pre-install failed: container rel-pre-install-say exited with 3")
        .stderr_contains("pre-install failing on purpose")
        .run();
    Test::new().args(["down", "stdin"]).stderr_contains("stdin: removed 1 hook pods").run();
    common::assert_clean(test);
}
