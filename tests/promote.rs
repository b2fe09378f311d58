//! `podproof promote` through the real binary.
//!
//! The gate is tested with real records: tests/promote/project is copied into
//! a temporary project, `podproof test` runs its script-only test there (no pod
//! starts) and the app is promoted. Every fixture is promoted with `--force` in
//! a temporary project of its own (so no record of this checkout leaks in) and
//! snapshotted into tests/snapshots/; the output must pass `podproof lint
//! --target cluster` and parse back into k8s-openapi types. Only `--apply`
//! fakes anything: kubectl, with tests/promote/bin/kubectl. The modules in
//! tests/promote/ test what `--out` may remove, attestations (with
//! securesystemslib and in-toto) and charts (with real helm).

mod common;

#[path = "promote/attest.rs"]
mod attest;
#[path = "promote/helm.rs"]
mod helm;
#[path = "promote/out.rs"]
mod out;

use common::{root, tempdir, Test};
use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
use std::path::{Path, PathBuf};

const MAP: &str = "localhost/podproof/=registry.example.com/podproof/";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A copy of tests/promote/project.
fn project() -> tempfile::TempDir {
    let dir = tempdir();
    copy_dir(&root().join("tests/promote/project"), dir.path());
    dir
}

/// A copy of tests/promote/project whose app was just tested (passing unless `pass` is false).
fn tested_project(pass: bool) -> tempfile::TempDir {
    let dir = project();
    let t = Test::new()
        .current_dir(dir.path())
        .args(["test", "tests/tiny.yaml"])
        .env("PASS", if pass { "yes" } else { "no" });
    t.expect_status(if pass { 0 } else { 1 }).stderr_contains("record: .podproof/records/").run();
    dir
}

fn promote(dir: &Path) -> Test {
    Test::new().current_dir(dir).arg("promote")
}

/// The YAML files of a directory, by name.
fn yaml_files(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn annotation(yaml: &str, key: &str) -> Option<String> {
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    v["metadata"]["annotations"][key].as_str().map(str::to_string)
}

/// Parses every promoted object back into its k8s-openapi type (KubeDirector
/// resources as YAML) and checks that it carries its provenance.
fn check_objects(dir: &Path) {
    fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) {
        serde_yaml::from_str::<T>(text).unwrap_or_else(|e| panic!("{name} does not parse: {e}\n{text}"));
    }
    for (name, text) in yaml_files(dir).into_iter().filter(|(n, _)| n != "kustomization.yaml") {
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        match v["kind"].as_str().unwrap() {
            "Deployment" => parse::<apps::Deployment>(&name, &text),
            "StatefulSet" => parse::<apps::StatefulSet>(&name, &text),
            "Job" => parse::<k8s_openapi::api::batch::v1::Job>(&name, &text),
            "Pod" => parse::<core::Pod>(&name, &text),
            "Service" => parse::<core::Service>(&name, &text),
            "ConfigMap" => parse::<core::ConfigMap>(&name, &text),
            "Secret" => parse::<core::Secret>(&name, &text),
            "PersistentVolumeClaim" => parse::<core::PersistentVolumeClaim>(&name, &text),
            "KubeDirectorApp" | "KubeDirectorCluster" => {
                assert_eq!(v["apiVersion"].as_str(), Some("kubedirector.hpe.com/v1beta1"), "{name}")
            }
            other => panic!("{name}: unexpected kind {other}"),
        }
        for key in ["podproof.dev/tested-digest", "podproof.dev/version", "podproof.dev/record"] {
            assert!(annotation(&text, key).is_some(), "{name} lacks {key}\n{text}");
        }
        let kind = v["kind"].as_str().unwrap().to_ascii_lowercase();
        assert_eq!(name, format!("{kind}-{}.yaml", v["metadata"]["name"].as_str().unwrap()));
    }
}

/// `podproof lint --target cluster` finds no error in a promoted directory.
fn check_lint(dir: &Path) {
    Test::new().args(["lint", "--target", "cluster", "--podman-version", "4.3"]).arg(dir).run();
}

/// Everything a promotion printed and wrote, for a snapshot. The version is
/// redacted so a release does not change every snapshot, and Secret values too.
fn transcript(command: &str, out: &common::Output, dir: &Path) -> String {
    let mut s =
        format!("$ {command}\n--- status: {}\n--- stdout:\n{}--- stderr:\n{}", out.status, out.stdout, out.stderr);
    let mut files = yaml_files(dir);
    files.push(("README.md".into(), std::fs::read_to_string(dir.join("README.md")).unwrap()));
    for (name, text) in files {
        let text = if name.starts_with("secret-") { redact_secret(&text) } else { text };
        s.push_str(&format!("--- {name}\n{text}"));
    }
    s.replace(&format!("podproof.dev/version: {}", env!("CARGO_PKG_VERSION")), "podproof.dev/version: [version]")
        .replace(&format!("podproof {}", env!("CARGO_PKG_VERSION")), "podproof [version]")
}

fn redact_secret(text: &str) -> String {
    let mut in_data = false;
    let mut out = String::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_data = line == "data:";
        } else if in_data {
            let key = line.split(':').next().unwrap();
            out.push_str(&format!("{key}: '[secret]'\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Promotes one fixture with `--force` in a project of its own and snapshots it.
fn promote_fixture(fixture: &str, extra: &[&str]) {
    let dir = tempdir();
    std::fs::write(dir.path().join("podproof.yaml"), "# a temporary project for one fixture\n").unwrap();
    // Whole: fixtures refer to each other's files and to the image build contexts.
    copy_dir(&root().join("fixtures/apps"), &dir.path().join("fixtures/apps"));
    copy_dir(&root().join("fixtures/images"), &dir.path().join("fixtures/images"));
    let app = if fixture == "simple-app" {
        "fixtures/apps/simple-app/simple-app.yaml".to_string()
    } else {
        format!("fixtures/apps/{fixture}")
    };
    let mut args = vec![
        "promote".to_string(),
        app,
        "--out".into(),
        "out".into(),
        "--force".into(),
        "--image-map".into(),
        MAP.into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let out = Test::new().current_dir(dir.path()).args(&args).stderr_contains("WARNING: --force").run();
    let out_dir = dir.path().join("out");
    check_objects(&out_dir);
    check_lint(&out_dir);
    let command = format!("podproof {}", args.join(" "));
    let text = transcript(&command, &out, &out_dir);
    insta::with_settings!({ description => command, omit_expression => true }, {
        insta::assert_snapshot!(fixture.to_string(), text);
    });
}

macro_rules! fixture {
    ($test:ident, $fixture:expr $(, $arg:expr)*) => {
        #[test]
        fn $test() {
            promote_fixture($fixture, &[$($arg),*]);
        }
    };
}

fixture!(busybox_httpd, "busybox-httpd");
fixture!(hooks, "hooks", "--hostpath-map", "./out=/var/lib/hooks/out");
fixture!(hooks_fail, "hooks-fail");
fixture!(hup_app, "hup-app");
fixture!(init_fail, "init-fail");
fixture!(kd_centos, "kd-centos");
fixture!(kd_centos_3, "kd-centos-3");
fixture!(kd_centos_ex2, "kd-centos-ex2");
fixture!(kd_fail, "kd-fail");
fixture!(lifecycle_app, "lifecycle-app");
fixture!(multi_role, "multi-role", "--format", "kustomize");
fixture!(nginx, "nginx");
fixture!(no_bash, "no-bash");
fixture!(prometheus, "prometheus");
fixture!(prometheus_sighup, "prometheus-sighup", "--signal-reload", "reloader");
fixture!(restart_app, "restart-app");
fixture!(sidecar_reload, "sidecar-reload");
fixture!(simple_app, "simple-app");
fixture!(subprocess_reload, "subprocess-reload");
fixture!(watch_app, "watch-app");
fixture!(xcat, "xcat", "--hostpath-to-pvc");

/// The acceptance check: Prometheus ships as a workload with a Service, its
/// ConfigMap, and a configmap-reload sidecar wired to /-/reload.
#[test]
fn prometheus_gets_a_configmap_reload_sidecar() {
    let dir = tempdir();
    Test::new()
        .args(["promote", "fixtures/apps/prometheus", "--force"])
        .args(["--image-map", "localhost/podproof/prometheus=registry.example.com/prometheus"])
        .args(["--reload-sidecar-image", "registry.example.com/configmap-reload:1", "--out"])
        .arg(dir.path())
        .run();
    let sts: apps::StatefulSet =
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join("statefulset-prom-prometheus.yaml")).unwrap())
            .unwrap();
    let spec = sts.spec.unwrap().template.spec.unwrap();
    let sidecar = spec.containers.iter().find(|c| c.name == "configmap-reload").expect("a configmap-reload sidecar");
    assert_eq!(sidecar.image.as_deref(), Some("registry.example.com/configmap-reload:1"));
    let args = sidecar.args.clone().unwrap();
    assert_eq!(
        args,
        ["--volume-dir=/etc/prom", "--webhook-url=http://localhost:9090/-/reload", "--webhook-method=POST"]
    );
    let mount = &sidecar.volume_mounts.as_ref().unwrap()[0];
    assert_eq!((mount.mount_path.as_str(), mount.read_only), ("/etc/prom", Some(true)));
    assert_eq!(spec.containers[0].image.as_deref(), Some("registry.example.com/prometheus:1"), "the tag is kept");
    for f in ["service-prom-prometheus.yaml", "service-prom-prometheus-web.yaml", "configmap-prom-config.yaml"] {
        assert!(dir.path().join(f).is_file(), "{f} is missing");
    }
}

/// Every fixture, including ones added after the snapshots above, promotes
/// into objects that parse and lint clean.
#[test]
fn every_fixture_promotes_and_lints_clean() {
    for e in std::fs::read_dir(root().join("fixtures/apps")).unwrap().flatten().filter(|e| e.path().is_dir()) {
        let name = e.file_name().to_string_lossy().to_string();
        let app = if name == "simple-app" {
            format!("{}/simple-app.yaml", e.path().display())
        } else {
            e.path().display().to_string()
        };
        let out = tempdir();
        Test::new().args(["promote", &app, "--force", "--hostpath-to-pvc", "--out"]).arg(out.path()).run();
        check_objects(out.path());
        check_lint(out.path());
    }
}

#[test]
fn promotes_tested_bytes_with_their_provenance() {
    let dir = tested_project(true);
    let out = promote(dir.path()).args(["app", "--out", "out"]).stderr_lacks("WARNING").run();
    out.assert_stderr_contains("precondition tested: ok").assert_stdout_contains("promoted tiny: 5 objects (record ");
    let (record, json) = std::fs::read_dir(dir.path().join(".podproof/records"))
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read_to_string(e.path()).unwrap()))
        .next()
        .unwrap();
    let rec: serde_json::Value = serde_json::from_str(&json).unwrap();
    let digest = format!("sha256:{}", rec["apps"][0]["rendered_sha256"].as_str().unwrap());
    let out_dir = dir.path().join("out");
    for (name, text) in yaml_files(&out_dir) {
        assert_eq!(annotation(&text, "podproof.dev/record").as_deref(), Some(record.as_str()), "{name}");
        assert_eq!(annotation(&text, "podproof.dev/tested-digest").as_deref(), Some(digest.as_str()), "{name}");
        assert_eq!(annotation(&text, "podproof.dev/forced"), None, "{name}");
    }
    // The Secret's value ships, readable by its owner only, and is never printed.
    use std::os::unix::fs::PermissionsExt;
    let secret = out_dir.join("secret-tiny-web-secret.yaml");
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    let value = "tiny-secret-value";
    let encoded = "dGlueS1zZWNyZXQtdmFsdWU=";
    assert!(std::fs::read_to_string(&secret).unwrap().contains(encoded));
    assert!(![&out.stdout, &out.stderr].iter().any(|s| s.contains(value) || s.contains(encoded)), "{out}");
    // `restart` becomes stakater Reloader's annotation on the workload.
    let deploy = std::fs::read_to_string(out_dir.join("deployment-tiny-web.yaml")).unwrap();
    assert_eq!(annotation(&deploy, "configmap.reloader.stakater.com/reload").as_deref(), Some("tiny-web-config"));
    assert_eq!(annotation(&deploy, "secret.reloader.stakater.com/reload").as_deref(), Some("tiny-web-secret"));
    check_objects(&out_dir);
    check_lint(&out_dir);
    // A second promotion replaces the first.
    promote(dir.path()).args(["app", "--out", "out"]).run();
}

#[test]
fn one_changed_byte_refuses_and_names_the_file() {
    let dir = tested_project(true);
    let page = dir.path().join("app/index.html");
    let mut bytes = std::fs::read(&page).unwrap();
    bytes[5] ^= 1;
    std::fs::write(&page, bytes).unwrap();
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(1)
        .stderr_contains("refusing to promote: precondition failed (tested)")
        .stderr_contains("app `tiny`: `app/index.html` changed since the last test run")
        .run();
    assert!(!dir.path().join("out").exists(), "a refused promotion wrote files");
}

#[test]
fn a_failed_test_refuses() {
    let dir = tested_project(false);
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(1)
        .stderr_contains("tested: app `tiny`: test `tiny` (tests/tiny.yaml) failed in record ")
        .run();
    // The newest record of the same bytes decides: a pass after the failure promotes.
    Test::new().current_dir(dir.path()).args(["test", "tests/tiny.yaml"]).env("PASS", "yes").run();
    promote(dir.path()).args(["app", "--out", "out"]).run();
}

#[test]
fn an_untested_app_refuses() {
    let dir = project();
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(1)
        .stderr_contains("app `tiny` has no test record")
        .run();
}

#[test]
fn a_pending_snapshot_draft_refuses() {
    let dir = tested_project(true);
    std::fs::create_dir_all(dir.path().join("snapshots")).unwrap();
    std::fs::write(dir.path().join("snapshots/tiny__page.snap.new"), "draft").unwrap();
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(1)
        .stderr_contains("snapshots: pending snapshot draft snapshots/tiny__page.snap.new")
        .run();
}

#[test]
fn a_lint_error_refuses() {
    let dir = project();
    promote(dir.path())
        .args(["privileged", "--out", "out"])
        .expect_status(1)
        .stderr_contains("precondition failed (lint, tested)")
        .stderr_contains("lint: privileged/pod.yaml:11:")
        .stderr_contains("error[privileged-container]")
        .run();
}

#[test]
fn force_promotes_and_records_the_bypass() {
    let dir = tested_project(true);
    std::fs::write(dir.path().join("app/index.html"), "<h1>tiny v2</h1>\n").unwrap();
    let out = promote(dir.path()).args(["app", "--out", "out", "--force", "--format", "kustomize"]).run();
    out.assert_stderr_contains("WARNING: --force: promoting although preconditions failed (tested)")
        .assert_stderr_contains("WARNING:   tested: app `tiny`: `app/index.html` changed");
    let out_dir = dir.path().join("out");
    let files = yaml_files(&out_dir);
    assert_eq!(files.len(), 6);
    for (name, text) in files.iter().filter(|(n, _)| n != "kustomization.yaml") {
        assert_eq!(annotation(text, "podproof.dev/forced").as_deref(), Some("tested"), "{name}");
        assert_eq!(annotation(text, "podproof.dev/record").as_deref(), Some("none"), "{name}");
    }
    let kustomization = std::fs::read_to_string(out_dir.join("kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("# FORCED: promoted with --force although preconditions failed: tested"),
        "{kustomization}"
    );
    assert!(kustomization.contains("- deployment-tiny-web.yaml\n"), "{kustomization}");
    let readme = std::fs::read_to_string(out_dir.join("README.md")).unwrap();
    assert!(readme.contains("FORCED: promoted with --force although preconditions failed: tested"), "{readme}");
    check_lint(&out_dir);
}

#[test]
fn bad_input_and_usage_exit_2() {
    let dir = project();
    let cases: &[(&[&str], &str)] = &[
        (&["local", "--out", "o"], "image `localhost/elsewhere/app:1` exists only on this machine"),
        (&["hostpath", "--out", "o"], "volume `data` is the relative hostPath `./data`"),
        (&["app", "--out", "o", "--image-map", "nonsense"], "--image-map `nonsense`: expected FROM=TO"),
        (&["app", "--out", "o", "--image-map", "localhost/=registry.example.com"], "both sides must end with `/`"),
        (&["app", "--out", "o", "--hostpath-map", "./data=relative"], "mapped to an absolute path"),
        (&["app", "--out", "o", "--apply"], "--context"),
        (&["app", "--out", "o", "--format", "yaml"], "invalid value 'yaml'"),
        (&["app", "--out", "o", "--chart-version", "1.0.0"], "--chart-version needs --format helm"),
        (&["app", "--out", "o", "--format", "helm", "--chart-version", "1.0"], "a chart's version is SemVer"),
        (&["app", "--out", "o", "--format", "helm", "--apply", "--context", "c"], "install a chart with `helm install"),
        (&["app", "--out", "o", "--attest", "missing.key"], "cannot use the key missing.key"),
        (&["app", "--out", "o", "--attest", "app/app.yaml"], "not a PEM private key"),
        (&["-", "--out", "o"], "reads app files, not stdin"),
        (&["app", "--out", "app"], "holds files podproof did not write there; nothing was removed"),
        (&["app", "--out", "app/app.yaml"], "--out app/app.yaml: it is not a directory"),
    ];
    for (args, message) in cases {
        promote(dir.path()).args(*args).expect_status(2).stderr_contains(*message).run();
    }
    assert!(!dir.path().join("o").exists());
}

#[test]
fn host_paths_can_be_mapped_or_claimed() {
    let dir = project();
    let out =
        promote(dir.path()).args(["hostpath", "--out", "mapped", "--force", "--hostpath-map", "data=/srv/data"]).run();
    out.assert_stderr_contains("precondition lint: ok");
    let pod = std::fs::read_to_string(dir.path().join("mapped/deployment-hostpath.yaml")).unwrap();
    assert!(pod.contains("path: /srv/data"), "{pod}");
    promote(dir.path())
        .args(["hostpath", "--out", "claimed", "--force", "--hostpath-to-pvc", "--hostpath-pvc-size", "5Gi"])
        .run();
    let sts: apps::StatefulSet =
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join("claimed/statefulset-hostpath.yaml")).unwrap())
            .unwrap();
    let spec = sts.spec.unwrap();
    let claim = &spec.volume_claim_templates.unwrap()[0];
    assert_eq!(claim.metadata.name.as_deref(), Some("data"));
    assert_eq!(claim.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0, "5Gi");
    assert!(spec.template.spec.unwrap().volumes.is_none(), "the hostPath volume is replaced by the claim");
}

/// A directory holding only the fake kubectl, and a log file for it.
fn fake_kubectl() -> (tempfile::TempDir, PathBuf) {
    let bin = tempdir();
    let dst = bin.path().join("kubectl");
    std::fs::copy(root().join("tests/promote/bin/kubectl"), &dst).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = bin.path().join("kubectl.log");
    (bin, log)
}

fn with_kubectl(t: Test, bin: &Path, log: &Path) -> Test {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    t.env("PATH", path).env("KUBECTL_LOG", log)
}

fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_string).collect()
}

#[test]
fn apply_dry_runs_then_applies() {
    let dir = tested_project(true);
    let (bin, log) = fake_kubectl();
    let t = promote(dir.path()).args(["app", "--out", "out", "--apply", "--context", "staging"]);
    with_kubectl(t, bin.path(), &log).stdout_contains("applied out to context staging").run();
    assert_eq!(
        calls(&log),
        [
            "config get-contexts staging",
            "--context staging apply --server-side --dry-run=server -f out",
            "--context staging apply --server-side -f out",
        ]
    );
    std::fs::remove_file(&log).unwrap();
    let t =
        promote(dir.path()).args(["app", "--out", "out", "--format", "kustomize", "--apply", "--context", "staging"]);
    with_kubectl(t, bin.path(), &log).run();
    assert_eq!(
        calls(&log)[1..],
        [
            "--context staging apply --server-side --dry-run=server -k out",
            "--context staging apply --server-side -k out"
        ]
    );
}

#[test]
fn a_failed_dry_run_applies_nothing() {
    let dir = tested_project(true);
    let (bin, log) = fake_kubectl();
    let t = promote(dir.path())
        .args(["app", "--out", "out", "--apply", "--context", "staging"])
        .env("KUBECTL_EXIT_DRY_RUN", "1");
    with_kubectl(t, bin.path(), &log)
        .expect_status(1)
        .stderr_contains("the server-side dry run against context `staging` failed; nothing was applied")
        .run();
    assert_eq!(
        calls(&log),
        ["config get-contexts staging", "--context staging apply --server-side --dry-run=server -f out"]
    );
}

#[test]
fn a_failed_apply_exits_1() {
    let dir = tested_project(true);
    let (bin, log) = fake_kubectl();
    let t = promote(dir.path())
        .args(["app", "--out", "out", "--apply", "--context", "staging"])
        .env("KUBECTL_EXIT_APPLY", "1");
    with_kubectl(t, bin.path(), &log)
        .expect_status(1)
        .stderr_contains("kubectl apply against context `staging` failed")
        .run();
    assert_eq!(calls(&log).len(), 3);
}

#[test]
/// A kubectl that cannot apply is the environment's failure (exit 3), not a refused check.
fn a_missing_context_or_kubectl_is_a_clear_error() {
    let dir = tested_project(true);
    let (bin, log) = fake_kubectl();
    let t = promote(dir.path())
        .args(["app", "--out", "out", "--apply", "--context", "nope"])
        .env("KUBECTL_EXIT_CONTEXT", "1");
    with_kubectl(t, bin.path(), &log)
        .expect_status(3)
        .stderr_contains("kubectl has no context `nope`; nothing was applied")
        .run();
    assert_eq!(calls(&log), ["config get-contexts nope"]);
    let empty = tempdir();
    promote(dir.path())
        .args(["app", "--out", "out", "--apply", "--context", "staging"])
        .env("PATH", empty.path())
        .expect_status(3)
        .stderr_contains("kubectl is not installed (not found on PATH); nothing was applied")
        .run();
}

#[test]
fn help_has_examples() {
    Test::new().args(["promote", "--help"]).stdout_contains("Examples:\n  podproof promote").run();
}
