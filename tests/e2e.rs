//! End-to-end tests against real podman: fixtures play and tear down, the
//! scenario suite passes, and nothing labelled podproof is left after a pass,
//! a failure, a timeout, SIGINT, SIGTERM, a podman error, or SIGKILL followed
//! by `podproof clean`.
//!
//! The tests share one podman, so they take a lock: each checks that podman
//! holds no podproof object before it starts and after it ends.

mod common;

use common::{root, Test};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// Holds the podman lock; if the test fails, removes everything podproof
/// made, so one failure does not cascade into the tests after it.
struct Exclusive(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for Exclusive {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new(common::podproof()).args(["clean", "--all"]).output();
        }
    }
}

/// Takes the podman lock and checks nothing is left from before; `None` (the
/// test returns) when podman is not available and may be skipped.
#[track_caller]
fn exclusive() -> Option<Exclusive> {
    common::podman_exclusive().map(Exclusive)
}

/// Writes a Test file into a temp dir; `APPS` in `body` becomes the fixtures path.
fn test_file(dir: &Path, name: &str, body: &str) -> String {
    let apps = root().join("fixtures/apps").display().to_string();
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, body.replace("APPS", &apps)).unwrap();
    p.display().to_string()
}

#[test]
fn every_fixture_plays_reaches_running_and_tears_down() {
    let Some(_g) = exclusive() else { return };
    for (fixture, app) in [
        ("busybox-httpd", "hello"),
        ("prometheus", "prom"),
        ("kd-centos", "centos7"),
        ("xcat", "xcat"),
        ("multi-role", "zk"),
        ("simple-app/simple-app.yaml", "simple-app"),
    ] {
        let path = format!("fixtures/apps/{fixture}");
        Test::new().args(["up", &path]).stderr_contains("members ready").run();
        let out = Command::new("podman")
            .args([
                "pod",
                "ps",
                "--filter",
                &format!("label=podproof.dev/app={app}"),
                "--format",
                "{{.Name}} {{.Status}}",
            ])
            .output()
            .unwrap();
        let pods = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!pods.trim().is_empty(), "{fixture}: no pods");
        for line in pods.lines() {
            assert!(line.ends_with("Running"), "{fixture}: pod not running: {line}");
        }
        Test::new().args(["down", "--all"]).run();
        common::assert_clean(&format!("down of {fixture}"));
    }
}

#[test]
fn scenario_suite_passes_with_valid_reports() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("report.json");
    let out = Test::new()
        .args(["test", "fixtures/tests", "-j", "4", "--ci"])
        .arg(format!("--report=junit={}", junit.display()))
        .arg(format!("--report=json={}", json.display()))
        .timeout(Duration::from_secs(600))
        .run();
    let last = out.stdout.lines().last().unwrap_or("");
    assert!(last.ends_with("passed, 0 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let tests: usize = std::fs::read_dir(root().join("fixtures/tests"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().filter(|l| *l == "kind: Test").count())
        .sum();
    assert_eq!(xml.matches("<testcase ").count(), tests, "{xml}");
    assert_junit_well_formed(&xml);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["failed"], 0);
    common::assert_clean("a passing suite");
    // The suite holds a Secret with a canary value: it must reach no output, report, snapshot or record.
    assert_no_canary(&[&out.stdout, &out.stderr, &xml, &std::fs::read_to_string(&json).unwrap()]);
    let drafts: Vec<_> = std::fs::read_dir(root().join("snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().map(|x| x == "new").unwrap_or(false))
        .collect();
    assert!(drafts.is_empty(), "snapshot drafts were written: {drafts:?}");
}

/// A small structural check: every opened element is closed, in order.
fn assert_junit_well_formed(xml: &str) {
    let body = xml.trim_start_matches(|c| c != '>').trim_start_matches('>');
    let tag = regex::Regex::new(r"<(/?)([a-zA-Z]+)[^>]*?(/?)>").unwrap();
    let mut stack = Vec::new();
    for c in tag.captures_iter(body) {
        let (close, name, selfclose) = (&c[1] == "/", c[2].to_string(), &c[3] == "/");
        if close {
            assert_eq!(stack.pop(), Some(name.clone()), "mismatched </{name}> in\n{xml}");
        } else if !selfclose {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?} in\n{xml}");
    assert!(xml.starts_with("<?xml"));
}

#[test]
fn a_failing_test_reports_what_was_expected_and_seen() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let junit = dir.path().join("junit.xml");
    let out = Test::new()
        .args(["test", "fixtures/failing/expected-failure.yaml"])
        .arg(format!("--report=junit={}", junit.display()))
        .expect_status(1)
        .run();
    out.assert_stdout_contains("--- FAIL expected-failure")
        .assert_stdout_contains("step `wrong greeting` (fixtures/failing/expected-failure.yaml:10) failed")
        .assert_stdout_contains("body: expected to contain \"goodbye\"")
        .assert_stdout_contains("seen: <h1>hello from podproof v1</h1>")
        .assert_stdout_contains("logs of hello-web-0-");
    assert!(out.stdout.trim_end().ends_with("0 passed, 1 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure message=\"step `wrong greeting`"), "{xml}");
    assert_junit_well_formed(&xml);
    common::assert_clean("a failing expectation");
}

#[test]
fn a_step_timeout_fails_and_cleans_up() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let t = test_file(
        dir.path(),
        "timeout",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: step-timeout}\nspec:\n  apps: [APPS/busybox-httpd/app.yaml]\n  steps:\n    - up: {}\n    - name: hangs\n      timeout: 2s\n      exec: {pod: web, command: [sleep, \"60\"]}\n",
    );
    let start = Instant::now();
    let out = Test::new().args(["test", &t]).expect_status(1).run();
    out.assert_stdout_contains("timed out after 2s");
    assert!(start.elapsed() < Duration::from_secs(40), "took {:?}", start.elapsed());
    common::assert_clean("a step timeout");
}

#[test]
fn a_podman_error_is_clear_and_leaves_no_half_made_pod() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let app = dir.path().join("broken.yaml");
    std::fs::write(
        &app,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: broken}\nspec:\n  containers:\n    - name: a\n      image: localhost/podproof/busybox:latest\n      command: [sleep, infinity]\n    - name: b\n      image: localhost/podproof/busybox:latest\n      command: [/does/not/exist]\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.yaml");
    std::fs::write(&missing, "apiVersion: v1\nkind: Pod\nmetadata: {name: nope}\nspec:\n  containers:\n    - {name: a, image: localhost/podproof/does-not-exist:1}\n").unwrap();
    let t1 = test_file(dir.path(), "t1", &format!("apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: bad-command}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n", app.display()));
    let out = Test::new().args(["test", &t1]).expect_status(1).run();
    out.assert_stdout_contains("cannot start pod broken-").assert_stdout_contains("/does/not/exist");
    common::assert_clean("a failed kube play");
    let t2 = test_file(dir.path(), "t2", &format!("apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: missing-image}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n", missing.display()));
    let out = Test::new().args(["test", &t2]).expect_status(1).run();
    out.assert_stdout_contains("image `localhost/podproof/does-not-exist:1`")
        .assert_stdout_contains("is not available locally");
    common::assert_clean("a missing image");
}

/// Starts `podproof test` on a test that sleeps, waits until the sleep step
/// runs, sends `signal`, and returns the exit status and how long it took to stop.
fn interrupt(signal: libc::c_int, name: &str) -> (i32, Duration) {
    let dir = common::tempdir();
    let t = test_file(
        dir.path(),
        name,
        &format!("apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  apps: [APPS/busybox-httpd/app.yaml, APPS/multi-role/app.yaml]\n  steps:\n    - up: {{}}\n    - name: long wait\n      sleep: 120s\n"),
    );
    let (mut child, lines) = common::start_until(&["test", &t], "long wait");
    let sent = Instant::now();
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    std::thread::spawn(move || for _ in lines {});
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), sent.elapsed())
}

#[test]
fn sigint_mid_step_cleans_up() {
    let Some(_g) = exclusive() else { return };
    let (code, took) = interrupt(libc::SIGINT, "sigint");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(30), "took {took:?} to stop");
    common::assert_clean("SIGINT");
}

#[test]
fn sigterm_mid_step_cleans_up() {
    let Some(_g) = exclusive() else { return };
    let (code, took) = interrupt(libc::SIGTERM, "sigterm");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(30), "took {took:?} to stop");
    common::assert_clean("SIGTERM");
}

#[test]
fn sigkill_then_clean_removes_everything() {
    let Some(_g) = exclusive() else { return };
    let (code, _) = interrupt(libc::SIGKILL, "sigkill");
    assert_eq!(code, -1, "killed by a signal");
    assert!(!common::leftovers().is_empty(), "SIGKILL should leave the run's objects for clean to find");
    Test::new().arg("clean").stderr_contains("removed").run();
    common::assert_clean("SIGKILL and clean");
}

#[test]
fn keep_leaves_a_failing_test_up_until_down() {
    let Some(_g) = exclusive() else { return };
    let out = Test::new().args(["test", "--keep", "fixtures/failing/expected-failure.yaml"]).expect_status(1).run();
    let hint = regex::Regex::new(r"podproof down --run (t[a-z0-9]+)").unwrap();
    let id = hint.captures(&out.stdout).map(|c| c[1].to_string()).unwrap_or_else(|| panic!("no down hint\n{out}"));
    assert!(!common::leftovers().is_empty(), "--keep removed the pods");
    // A kept run belongs to nobody alive, but `clean` must leave it alone.
    Test::new().arg("clean").run();
    assert!(!common::leftovers().is_empty(), "clean removed a kept run");
    Test::new().args(["down", "--run", &id]).run();
    common::assert_clean("down --run");
}

#[test]
fn doctor_reports_the_environment() {
    let Some(_g) = exclusive() else { return };
    let out = Test::new().arg("doctor").run();
    // Any supported generation (4.3 on Debian 12, 5 on Debian 13 under `make fresh`).
    out.assert_stdout_contains("podman: version ")
        .assert_stdout_contains("(generation ")
        .assert_stdout_contains("driver: the libpod REST API ")
        .assert_stdout_contains("runtime: OCI runtime")
        .assert_stdout_contains("probe container: a container starts")
        .assert_stdout_contains("podman can run containers here");
    // podman before 5.6.1 has CVE-2025-9566, and doctor says so.
    let version: Vec<u32> = out
        .stdout
        .split("podman: version ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("")
        .split('.')
        .filter_map(|p| p.parse().ok())
        .collect();
    if version < vec![5, 6, 1] {
        out.assert_stdout_contains("warn  CVE-2025-9566: podman ");
    } else {
        assert!(!out.stdout.contains("CVE-2025-9566"), "{out}");
    }
}

/// Runs `podman exec` directly: an independent look at what podproof wrote.
fn podman_exec(container: &str, cmd: &[&str]) -> String {
    let out = Command::new("podman").arg("exec").arg(container).args(cmd).output().unwrap();
    assert!(out.status.success(), "podman exec {container} {cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn up_scales_a_kubedirector_cluster_with_its_events() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    std::fs::copy(root().join("fixtures/apps/kd-centos/app.json"), dir.path().join("app.json")).unwrap();
    let cluster = std::fs::read_to_string(root().join("fixtures/apps/kd-centos/cluster.yaml")).unwrap();
    std::fs::write(dir.path().join("cluster.yaml"), &cluster).unwrap();
    let d = dir.path().display().to_string();
    Test::new().args(["up", &d]).stderr_contains("configure ran on centos7-vanilla-centos-0").run();
    // What KubeDirector would have written, seen with plain podman exec.
    let c0 = "centos7-vanilla-centos-0-app";
    assert!(podman_exec(c0, &["cat", "/opt/guestconfig/configure.stdout"])
        .contains("Starting configuration with option '--configure' on node"));
    let status = podman_exec(c0, &["cat", "/opt/guestconfig/configure.status"]);
    assert!(regex::Regex::new("^[0-9a-f]{64}=0$").unwrap().is_match(&status), "{status}");
    let meta: serde_json::Value =
        serde_json::from_str(&podman_exec(c0, &["cat", "/etc/guestconfig/configmeta.json"])).unwrap();
    assert_eq!(meta["node"]["role_id"], "vanilla_centos");
    assert_eq!(meta["node"]["fqdn"], "centos7-vanilla-centos-0.kdhs-centos7.default.svc.cluster.local");
    // Editing members and running `up` again scales with events, leaving member 0 alone.
    std::fs::write(dir.path().join("cluster.yaml"), cluster.replace("members: 1", "members: 2")).unwrap();
    Test::new()
        .args(["up", &d])
        .stderr_contains("centos7-vanilla-centos-0 unchanged")
        .stderr_contains("addnodes sent to centos7-vanilla-centos-0 (--fqdns centos7-vanilla-centos-1.kdhs-centos7.default.svc.cluster.local): exit 0")
        .run();
    let events = podman_exec(c0, &["cat", "/var/log/guestconfig-events.log"]);
    assert_eq!(events.lines().count(), 2, "{events}");
    assert!(
        events.contains("--addnodes --nodegroup 1 --role vanilla_centos --fqdns centos7-vanilla-centos-1."),
        "{events}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&podman_exec(c0, &["cat", "/etc/guestconfig/configmeta.json"])).unwrap();
    assert_eq!(meta["nodegroups"]["1"]["roles"]["vanilla_centos"]["hostnames"].as_array().unwrap().len(), 2);
    // Back to one: both members get delnodes, then member 1 goes.
    std::fs::write(dir.path().join("cluster.yaml"), &cluster).unwrap();
    Test::new().args(["up", &d]).stderr_contains("delnodes sent to centos7-vanilla-centos-1").run();
    assert!(podman_exec(c0, &["cat", "/var/log/guestconfig-events.log"]).contains("--delnodes"));
    Test::new().args(["down", "--all"]).run();
    common::assert_clean("down of the KubeDirector cluster");
}

#[test]
fn a_cardinality_violation_is_refused_before_anything_starts() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let app =
        std::fs::read_to_string(root().join("fixtures/apps/kd-centos/app.json")).unwrap().replace("\"1+\"", "\"2\"");
    std::fs::write(dir.path().join("app.json"), app).unwrap();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        std::fs::read_to_string(root().join("fixtures/apps/kd-centos/cluster.yaml"))
            .unwrap()
            .replace("members: 1", "members: 3"),
    )
    .unwrap();
    let out = Test::new().args(["up", &dir.path().display().to_string()]).expect_status(2).run();
    out.assert_stderr_contains(
        "cluster.yaml:9:14: error: role `vanilla_centos` has cardinality \"2\": members must be exactly 2, found 3",
    );
    common::assert_clean("a refused cardinality");
}

/// `ls -la` of a mounted ConfigMap directory, as an independent check.
fn ls_config(container: &str, dir: &str) -> (String, String) {
    let ls = podman_exec(container, &["ls", "-la", dir]);
    let target = regex::Regex::new(r"\.\.data -> (\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+)").unwrap();
    let t = target.captures(&ls).map(|c| c[1].to_string()).unwrap_or_else(|| panic!("no ..data link in\n{ls}"));
    (ls, t)
}

#[test]
fn up_updates_config_in_place_in_the_kubelet_layout_and_reloads() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    for f in ["app.yaml", "message"] {
        std::fs::copy(root().join("fixtures/apps/hup-app").join(f), dir.path().join(f)).unwrap();
    }
    let d = dir.path().display().to_string();
    Test::new().args(["up", &d]).run();
    let c = "hup-app-0-app";
    let (before, t1) = ls_config(c, "/config");
    assert!(before.contains("message -> ..data/message"), "{before}");
    let id_before = podman_exec(c, &["cat", "/proc/1/stat"]);
    std::fs::write(dir.path().join("message"), "hello v2\n").unwrap();
    Test::new().args(["up", &d]).stderr_contains("reload hup-app-0: succeeded in").run();
    let (after, t2) = ls_config(c, "/config");
    assert_ne!(t1, t2, "..data still points at the old directory\n{after}");
    assert!(!after.contains(&t1), "the old directory was not removed\n{after}");
    assert_eq!(podman_exec(c, &["cat", "/config/message"]), "hello v2\n");
    assert_eq!(
        podman_exec(c, &["cat", "/proc/1/stat"]).split_whitespace().nth(21),
        id_before.split_whitespace().nth(21),
        "PID 1 was restarted"
    );
    Test::new().args(["down", "--all"]).run();
    common::assert_clean("down after a config update");
}

#[test]
fn up_watch_applies_saved_changes_and_tears_down_on_ctrl_c() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    for f in ["app.yaml", "message"] {
        std::fs::copy(root().join("fixtures/apps/hup-app").join(f), dir.path().join(f)).unwrap();
    }
    let mut child = Command::new(common::podproof())
        .args(["up", "--watch"])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut wait_for = |needle: &str| {
        let mut seen = String::new();
        for l in lines.by_ref() {
            let l = l.unwrap();
            seen.push_str(&l);
            seen.push('\n');
            if l.contains(needle) {
                return l;
            }
        }
        panic!("`{needle}` never came:\n{seen}");
    };
    wait_for("watching");
    std::fs::write(dir.path().join("message"), "hello v2\n").unwrap();
    let line = wait_for("reload hup-app-0:");
    assert!(line.contains("succeeded in"), "{line}");
    wait_for("change applied in");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    wait_for("removed");
    assert!(child.wait().unwrap().success());
    common::assert_clean("up --watch and Ctrl-C");
}

const CANARY: &str = "canary-Zq8xv3Rk";

/// Checks the canary Secret value appears in none of `texts`, nor in any
/// snapshot or test record of the project.
fn assert_no_canary(texts: &[&str]) {
    for t in texts {
        assert!(!t.contains(CANARY), "the canary secret leaked:\n{t}");
    }
    for dir in ["snapshots", ".podproof/records"] {
        for e in std::fs::read_dir(root().join(dir)).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            assert!(!text.contains(CANARY), "the canary secret leaked into {}", e.path().display());
        }
    }
}

#[test]
fn a_failing_step_never_shows_a_secret_value() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let json = dir.path().join("r.json");
    let out = Test::new()
        .args(["test", "fixtures/failing/secret-canary-failing.yaml"])
        .arg(format!("--report=json={}", json.display()))
        .expect_status(1)
        .run();
    out.assert_stdout_contains("seen: the password is [secret]");
    assert_no_canary(&[&out.stdout, &out.stderr, &std::fs::read_to_string(&json).unwrap()]);
    let render = Test::new().args(["render", "fixtures/apps/secret-canary"]).run();
    render.assert_stdout_contains("value: '[secret]'");
    assert_no_canary(&[&render.stdout]);
    common::assert_clean("a failing secret test");
}

#[test]
fn eight_concurrent_runs_of_one_test_do_not_collide() {
    let Some(_g) = exclusive() else { return };
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(common::podproof())
                .args(["test", "--ci", "fixtures/tests/hello.yaml"])
                .current_dir(root())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a concurrent run failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.trim_end().ends_with("1 passed, 0 failed"), "{stdout}");
    }
    common::assert_clean("eight concurrent runs");
}

/// The user `scripts/setup.sh rootless` prepares.
const ROOTLESS_USER: &str = "podproof-rootless";

/// Why rootless podman cannot be tried here, or None when it can: this
/// process must be root (to act as the user), and the user must exist and
/// run a container.
fn rootless_unavailable() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root, so cannot act as the rootless user".into());
    }
    let probe = Command::new("runuser")
        .args(["-u", ROOTLESS_USER, "--", "podman", "run", "--rm", "--pull=never"])
        .args(["localhost/podproof/busybox:latest", "true"])
        .current_dir("/")
        .output();
    match probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "user {ROOTLESS_USER} cannot run a rootless container (run `scripts/setup.sh rootless`): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run runuser: {e}")),
    }
}

#[test]
fn a_rootless_subset_of_the_suite_passes() {
    let Some(_g) = exclusive() else { return };
    if let Some(why) = rootless_unavailable() {
        // CI sets this: there the machine allows rootless podman, so a skip
        // would hide a broken set-up.
        assert!(std::env::var_os("PODPROOF_REQUIRE_ROOTLESS").is_none(), "the rootless subset cannot run: {why}");
        eprintln!("skipping the rootless subset: {why}");
        return;
    }
    // The user gets its own copy of the project: it may not be able to read
    // the checkout, and records and reports are written beside the tests.
    let dir = common::tempdir();
    let copy = Command::new("cp")
        .args(["-a", "fixtures", "snapshots", "podproof.yaml"])
        .arg(dir.path())
        .current_dir(root())
        .status()
        .unwrap();
    assert!(copy.success());
    let bin = dir.path().join("podproof");
    std::fs::copy(common::podproof(), &bin).unwrap();
    let chown = Command::new("chown").args(["-R", ROOTLESS_USER]).arg(dir.path()).status().unwrap();
    assert!(chown.success());
    // Readiness probes, http steps, exec, restart, hooks, init containers,
    // Services as DNS names, Secrets, and four reload mechanisms: all with
    // images the setup loaded into the user's store (busybox and tools).
    let subset = "^(hello|hooks|failing-post-start|failing-init-container|simple-app|simple-app-templated\
                  |secret-canary|services|reload-(hup|watch|restart|subprocess))$";
    let out = Test::new()
        .program("runuser")
        .args(["-u", ROOTLESS_USER, "--"])
        .arg(&bin)
        .args(["test", "fixtures/tests", "--ci", "-j", "3", "--filter", subset, "--report", "json=report.json"])
        .current_dir(dir.path())
        .env_remove("XDG_RUNTIME_DIR")
        .timeout(Duration::from_secs(600))
        .run();
    out.assert_stdout_contains("12 passed, 0 failed");
    out.assert_stderr_lacks("Operation not permitted");
    let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(report.contains("\"services\""), "{report}");
    assert_eq!(common::leftovers_as(Some(ROOTLESS_USER)), Vec::<String>::new(), "rootless objects left");
    let helpers = Command::new("pgrep").args(["-u", ROOTLESS_USER, "-f", "__netns"]).output().unwrap();
    assert!(helpers.stdout.is_empty(), "netns helpers outlived the run: {}", String::from_utf8_lossy(&helpers.stdout));
}

/// The main job end to end for an app whose Test builds its own image: test,
/// then promote the tested bytes; a changed build context or a rebuilt image
/// stops promotion until the app is tested again.
#[test]
fn test_then_promote_an_app_whose_test_builds_its_image() {
    let Some(_g) = exclusive() else { return };
    const TAG: &str = "localhost/ppbuild/web:1";
    let dir = common::tempdir();
    let p = dir.path();
    std::fs::create_dir_all(p.join("app")).unwrap();
    std::fs::create_dir_all(p.join("image")).unwrap();
    std::fs::create_dir_all(p.join("tests")).unwrap();
    std::fs::write(
        p.join("podproof.yaml"),
        "promote:\n  imageMap:\n    \"localhost/ppbuild/\": \"registry.example.com/ppbuild/\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("app/app.yaml"),
        r#"apiVersion: podproof.dev/v1alpha1
kind: App
metadata: {name: built}
spec:
  roles:
    - name: web
      image: localhost/ppbuild/web:1
      command: [httpd, -f, -p, "8080", -h, /www]
      ports:
        - {name: http, port: 8080}
      readinessProbe:
        httpGet: {path: /, port: http}
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {cpu: 100m, memory: 32Mi}
"#,
    )
    .unwrap();
    let containerfile = |v: &str| {
        std::fs::write(
            p.join("image/Containerfile"),
            format!("FROM localhost/podproof/busybox:latest\nRUN mkdir /www && echo {v} > /www/index.html\n"),
        )
        .unwrap()
    };
    containerfile("built-v1");
    std::fs::write(
        p.join("tests/built.yaml"),
        r#"apiVersion: podproof.dev/v1alpha1
kind: Test
metadata: {name: built}
spec:
  apps: [../app/app.yaml]
  images:
    - {tag: localhost/ppbuild/web:1, context: ../image}
  steps:
    - up: {}
    - http: {pod: built, port: 8080, path: /}
      expect: {status: 200, body: {contains: built-v1}}
"#,
    )
    .unwrap();
    let rmi = || {
        let _ = Command::new("podman").args(["rmi", "-f", TAG]).output();
    };
    rmi();
    Test::new().current_dir(p).args(["test", "tests/built.yaml"]).stderr_contains("building image").run();
    let out = Test::new().current_dir(p).args(["promote", "app/app.yaml", "--out", "out"]).run();
    let promoted: String = std::fs::read_dir(p.join("out"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        promoted.contains("registry.example.com/ppbuild/web:1"),
        "the promoted app runs the mapped image\n{out}\n{promoted}"
    );

    // A changed context is no longer the tested image.
    containerfile("built-v2");
    Test::new()
        .current_dir(p)
        .args(["promote", "app/app.yaml", "--out", "out2"])
        .expect_status(1)
        .stderr_contains("the build context `image` of image `localhost/ppbuild/web:1` changed")
        .run();
    // Testing again rebuilds the image from the new context, and promotion follows.
    std::fs::write(
        p.join("tests/built.yaml"),
        std::fs::read_to_string(p.join("tests/built.yaml")).unwrap().replace("built-v1", "built-v2"),
    )
    .unwrap();
    Test::new().current_dir(p).args(["test", "tests/built.yaml"]).stderr_contains("building image").run();
    Test::new().current_dir(p).args(["promote", "app/app.yaml", "--out", "out3"]).run();
    rmi();
    common::assert_clean("test then promote with a built image");
}

/// `within` repeats observations only: a `restart` whose expectation never
/// holds restarts once, and its failure is reported without retries.
#[test]
fn within_on_a_restart_step_restarts_once() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let t = test_file(
        dir.path(),
        "within-restart",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: within-restart}\nspec:\n  apps: [APPS/busybox-httpd/app.yaml]\n  steps:\n    - up: {}\n    - restart: {pod: web}\n      expect: {output: {contains: never-printed}, within: 20s}\n",
    );
    let start = Instant::now();
    let out = Test::new().args(["test", &t]).expect_status(1).run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(all.matches("restarted ").count(), 1, "the pod must be restarted once\n{out}");
    assert!(start.elapsed() < Duration::from_secs(20), "an acting step is not retried: took {:?}", start.elapsed());
    common::assert_clean("within on a restart step");
}

/// The run network's bridge has a pinned MAC, so it keeps it while pods come and go (netavark 1.4
/// would let each new veth change it, and the other pods would lose the
/// gateway, aardvark-dns included, until their ARP entries expire).
#[test]
fn the_run_bridge_has_a_pinned_mac() {
    let Some(_g) = exclusive() else { return };
    let dir = common::tempdir();
    let t = test_file(
        dir.path(),
        "bridge",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: bridge}\nspec:\n  apps: [APPS/multi-role/app.yaml]\n  steps:\n    - up: {}\n    - script: {command: [sh, -c, 'for n in $(podman network ls -q --filter label=podproof.dev/run); do i=$(podman network inspect --format \"{{.NetworkInterface}}\" $n); cat /sys/class/net/$i/addr_assign_type /sys/class/net/$i/address; done']}\n      expect: {stdout: {matches: \"^3\\n\"}}\n",
    );
    Test::new().args(["test", &t]).run();
    common::assert_clean("the bridge check");
}

/// Whether podman has a network of this name (`podman network exists`).
fn network_exists(name: &str) -> bool {
    Command::new("podman").args(["network", "exists", name]).status().map(|s| s.success()).unwrap_or(false)
}

#[test]
fn a_host_network_pod_leaves_no_unlabelled_network() {
    let Some(_g) = exclusive() else { return };
    // Played without a network, podman 4.3 makes `podman-default-kube-network`,
    // which no podproof label marks, and it stays. Only a machine without it
    // can show that podproof does not make it; the test removes nothing.
    let default = "podman-default-kube-network";
    let had = network_exists(default);
    let dir = common::tempdir();
    let pod = dir.path().join("pod.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: hostnet}\nspec:\n  hostNetwork: true\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: localhost/podproof/busybox:latest\n    command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n",
    )
    .unwrap();
    let pod = pod.display().to_string();
    Test::new().args(["up", &pod]).stderr_contains("members ready").run();
    Test::new().args(["down", &pod]).run();
    common::assert_clean("a host-network pod");
    if !had {
        assert!(!network_exists(default), "podproof's play made {default}");
    }
}
