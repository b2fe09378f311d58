//! End-to-end tests of issue 14's reproductions: podproof removes nothing
//! that is not its own, prints no Secret value on any path, and cleans up
//! after a panic, a closed pipe, a second Ctrl-C and an interrupted `up`.
//!
//! Like tests/e2e.rs, the tests that use podman take a lock and check that no
//! podproof object is left before and after; run them under the shared
//! `flock /tmp/podproof-e2e.lock`.

mod common;

use base64::Engine;
use common::{root, Test};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// `podproof clean` and the leftovers check both find nothing.
fn assert_all_clean(after: &str) {
    Test::new().arg("clean").stderr_contains("removed 0 objects").run();
    common::assert_clean(after);
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, body.replace("APPS", &root().join("fixtures/apps").display().to_string())).unwrap();
    p.display().to_string()
}

#[test]
fn down_run_refuses_paths_and_removes_nothing() {
    let dir = common::tempdir();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("runs")).unwrap();
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "x").unwrap();
    let abs = victim.display().to_string();
    for id in [abs.as_str(), "../../victim", "..", "", "up/../../victim"] {
        Test::new()
            .args(["down", "--run", id])
            .env("PODPROOF_STATE_DIR", &state)
            .current_dir(state.join("runs"))
            .expect_status(2)
            .stderr_contains("is not a podproof run id")
            .stderr_contains("nothing was removed")
            .run();
        assert!(victim.join("keep").exists(), "`down --run {id}` removed the victim");
    }
    // A symlink planted as a run directory is removed itself, never followed.
    std::os::unix::fs::symlink(&victim, state.join("runs/tplant1")).unwrap();
    Test::new()
        .args(["down", "--run", "tplant1"])
        .env("PODPROOF_STATE_DIR", &state)
        .env("PODPROOF_PODMAN", "true")
        .run();
    assert!(victim.join("keep").exists(), "a planted symlink steered the removal");
}

#[test]
fn clean_refuses_a_label_steered_run_id() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let state = dir.path().join("state");
    let steer = format!("../../{}", victim.strip_prefix("/").unwrap().display());
    let name = format!("podproof-steer-{}", std::process::id());
    let made = Command::new("podman")
        .args(["volume", "create", "--label", &format!("podproof.dev/run={steer}"), &name])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // The volume goes whatever the checks below find.
    struct Remove<'a>(&'a str);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = Command::new("podman").args(["volume", "rm", "-f", self.0]).output();
        }
    }
    let remove = Remove(&name);
    Test::new()
        .arg("clean")
        .env("PODPROOF_STATE_DIR", &state)
        .expect_status(2)
        .stderr_contains("is not a run id")
        .stderr_contains("nothing was removed")
        .run();
    let kept = Command::new("podman").args(["volume", "exists", &name]).status().unwrap().success();
    drop(remove);
    assert!(kept, "clean removed an object with a bad label");
    assert!(victim.exists());
    common::assert_clean("a label-steered clean");
}

const HOST_APP: &str = "apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  containers:
    - {name: app, image: localhost/podproof/busybox:latest, command: [sleep, '3600']}
  volumes:
    - name: data
      hostPath: {path: PATH}
";

#[test]
fn host_paths_outside_the_project_are_refused_with_their_position() {
    let dir = common::tempdir();
    std::fs::write(dir.path().join("podproof.yaml"), "# the project root\n").unwrap();
    for path in ["../../../../../../etc", "/etc", "/var/run/docker.sock", "/", "/root", "/proc"] {
        let app = write(dir.path(), "app/pod.yaml", &HOST_APP.replace("PATH", path));
        for cmd in [vec!["render", app.as_str()], vec!["up", app.as_str()]] {
            Test::new()
                .args(&cmd)
                .current_dir(dir.path())
                .expect_status(2)
                .stderr_contains("pod.yaml:9:")
                .stderr_contains("--allow-host-path")
                .run();
        }
    }
    // A symlink that leaves the project counts where it points.
    let outside = common::tempdir();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("app/out-link")).unwrap();
    let app = write(dir.path(), "app/pod.yaml", &HOST_APP.replace("PATH", "./out-link"));
    Test::new()
        .args(["render", &app])
        .current_dir(dir.path())
        .expect_status(2)
        .stderr_contains("through a symlink")
        .run();
    // Allowed by a flag or by podproof.yaml; relative paths inside keep working.
    let app = write(dir.path(), "app/pod.yaml", &HOST_APP.replace("PATH", "/etc/ssl"));
    Test::new().args(["render", &app, "--allow-host-path", "/etc/ssl"]).current_dir(dir.path()).run();
    std::fs::write(dir.path().join("podproof.yaml"), "hostPaths: {allow: [/etc/ssl]}\n").unwrap();
    Test::new().args(["render", &app]).current_dir(dir.path()).run();
    let app = write(dir.path(), "app/pod.yaml", &HOST_APP.replace("PATH", "./data"));
    Test::new().args(["render", &app]).current_dir(dir.path()).stdout_contains("/app/data").run();
}

/// A test file of one app and these steps.
fn one_test(dir: &Path, name: &str, steps: &str) -> String {
    write(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  apps: [APPS/busybox-httpd/app.yaml]\n  steps:\n{steps}"
        ),
    )
}

#[test]
fn a_closed_pipe_stops_output_not_cleanup() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    // The step name is long and not ASCII: the status line once cut it mid-character.
    let long = "ünïcödé-step-näme ".repeat(12);
    let t = one_test(dir.path(), "pipe", &format!("    - up: {{}}\n    - name: \"{long}\"\n      sleep: 1s\n"));
    // `podproof test 2>&1 | head -1`: the reader goes away after one line.
    let mut child = Command::new(common::podproof())
        .args(["test", &t])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "first line: {first}");
    assert_all_clean("a run whose output pipe closed");
}

#[test]
fn a_non_ascii_step_name_on_a_terminal_does_not_panic() {
    if Command::new("script").arg("--version").output().is_err() {
        // Under PODPROOF_REQUIRE_PODMAN=1 (CI) a missing tool fails the test
        // instead, so CI cannot pass by skipping.
        assert!(
            std::env::var_os("PODPROOF_REQUIRE_PODMAN").is_none_or(|v| v != "1"),
            "this test needs script(1) and PODPROOF_REQUIRE_PODMAN=1 is set"
        );
        eprintln!("skipped: script(1), which gives podproof a terminal, is not installed");
        return;
    }
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let long = "ünïcödé-step-näme ".repeat(12);
    let t = one_test(dir.path(), "tty", &format!("    - up: {{}}\n    - name: \"{long}\"\n      sleep: 1s\n"));
    // The status line is drawn only on a terminal; script(1) provides one.
    let cmd = format!("{} test {t}", common::podproof().display());
    let out = Test::new().program("script").args(["-qec", &cmd, "/dev/null"]).run();
    out.assert_stdout_contains("1 passed, 0 failed");
    assert_all_clean("a non-ASCII step name on a terminal");
}

#[test]
fn a_second_ctrl_c_stops_at_once_and_says_what_is_left() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let t = one_test(dir.path(), "twice", "    - up: {}\n    - name: long wait\n      sleep: 120s\n");
    let (mut child, lines) = common::start_until(&["test", &t], "long wait");
    for _ in 0..2 {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    let status = child.wait().unwrap();
    let rest = rest.join("\n");
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("stopping at once"), "{rest}");
    assert!(rest.contains("`podproof clean`"), "{rest}");
    // The run is left for clean, which removes it.
    Test::new().arg("clean").run();
    common::assert_clean("a second Ctrl-C and clean");
}

/// Sends SIGTERM to a started podproof and reads it to its end: its exit
/// status, the time from the signal to the exit, and the rest of its stderr.
fn sigterm_and_wait(
    mut child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) -> (std::process::ExitStatus, std::time::Duration, String) {
    let sent = std::time::Instant::now();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    let status = child.wait().unwrap();
    (status, sent.elapsed(), rest.join("\n"))
}

#[test]
fn sigterm_cancels_a_long_exec_step_and_leaves_nothing() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let t = one_test(
        dir.path(),
        "cancel",
        "    - up: {}\n    - name: long exec\n      timeout: 120s\n      exec: {pod: hello-web-0, command: [sleep, '100']}\n",
    );
    let report = dir.path().join("report.json");
    let json = format!("json={}", report.display());
    let (child, lines) = common::start_until(&["test", &t, "--report", &json], "long exec");
    // The exec is under way once its step is announced; give podman a moment to start it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (status, took, rest) = sigterm_and_wait(child, lines);
    // The podman child is cancelled at once; what remains is the teardown
    // (httpd ignores SIGTERM as PID 1, so its stop waits out the 1 s grace).
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}\n{rest}");
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("interrupted by SIGTERM"), "{rest}");
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(report.contains("cancelled: podproof received SIGTERM"), "{report}");
    assert_all_clean("a SIGTERM during a long exec step");
}

#[test]
fn interrupting_up_keeps_apps_that_were_already_up() {
    let Some(_g) = common::podman_exclusive() else { return };
    Test::new().args(["up", "fixtures/apps/busybox-httpd"]).run();
    let (mut child, lines) = common::start_until(&["up", "--watch", "fixtures/apps/multi-role"], "watching");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    assert!(child.wait().unwrap().success(), "{}", rest.join("\n"));
    let pods = Command::new("podman")
        .args(["pod", "ps", "--filter", "label=podproof.dev/run=up", "--format", "{{.Labels}}"])
        .output()
        .unwrap();
    let pods = String::from_utf8_lossy(&pods.stdout).to_string();
    let left = pods.lines().count();
    Test::new().args(["down", "--all"]).run();
    assert!(left > 0 && pods.lines().all(|l| l.contains("podproof.dev/app:hello")), "{pods}\n{}", rest.join("\n"));
    assert_all_clean("an interrupted up --watch");
}

const CANARY: &str = "canary-Pq7wLm42Xz";
const CANARY_SET: &str = "canary-set-while-running-8Hq2";

const CANARY_APP: &str = "apiVersion: v1
kind: Secret
metadata: {name: canary}
stringData: {password: canary-Pq7wLm42Xz}
---
apiVersion: v1
kind: Pod
metadata: {name: canary}
spec:
  initContainers:
    - name: init
      image: localhost/podproof/busybox:latest
      command: [sh, -c, 'echo init sees $PASSWORD; echo $PASSWORD | base64; exit $FAIL']
      env:
        - {name: FAIL, value: 'EXIT'}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: canary, key: password}}
  containers:
    - name: app
      image: localhost/podproof/busybox:latest
      command: [sh, -c, 'echo app sees $PASSWORD; sleep 3600']
      env:
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: canary, key: password}}
      volumeMounts: [{name: creds, mountPath: /etc/creds}]
  volumes:
    - {name: creds, secret: {secretName: canary}}
";

/// Every text under `dir`, as (path, text).
fn texts_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(texts_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

#[test]
fn the_canary_secret_reaches_no_output_and_no_file() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    std::fs::write(dir.path().join("podproof.yaml"), "# the project root\n").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let forbidden = [
        CANARY.to_string(),
        CANARY_SET.to_string(),
        b64.encode(CANARY),
        b64.encode(format!("{CANARY}\n")),
        b64.encode(CANARY_SET),
    ];
    let mut outputs: Vec<(String, String)> = Vec::new();
    for (name, fail) in [("passing-init", "0"), ("failing-init", "3")] {
        write(dir.path(), &format!("{name}/app.yaml"), &CANARY_APP.replace("EXIT", fail));
        let steps = if fail == "0" {
            // A config step sets a new Secret value; the file comparison then fails while showing it.
            "    - up: {}\n    - config: {secret: canary, data: {password: canary-set-while-running-8Hq2}}\n    - file: {pod: canary, path: /etc/creds/password}\n      expect: {content: {equals: nothing like it}}\n"
        } else {
            "    - up: {}\n"
        };
        let t = write(
            dir.path(),
            &format!("{name}.yaml"),
            &format!("apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  apps: [{name}/app.yaml]\n  steps:\n{steps}"),
        );
        let junit = dir.path().join(format!("{name}.xml"));
        let json = dir.path().join(format!("{name}.json"));
        let out = Test::new()
            .args(["test", &t])
            .arg(format!("--report=junit={}", junit.display()))
            .arg(format!("--report=json={}", json.display()))
            .current_dir(dir.path())
            .env("PODPROOF_TRACE", "1")
            .expect_status(1)
            .run();
        outputs.push((format!("{name} stdout"), out.stdout.clone()));
        outputs.push((format!("{name} stderr"), out.stderr.clone()));
        assert!(out.stderr.contains("trace:"), "no trace:\n{out}");
        let shown = if fail == "0" { "[secret]" } else { "exited with code 3" };
        out.assert_stdout_contains(shown);
    }
    let up = write(dir.path(), "up/app.yaml", &CANARY_APP.replace("EXIT", "0"));
    let render = Test::new().args(["render", &up]).current_dir(dir.path()).run();
    outputs.push(("render".into(), render.stdout.clone()));
    outputs.extend(texts_under(dir.path()).into_iter().filter(|(p, _)| !p.ends_with(".yaml")));
    assert!(outputs.iter().any(|(_, t)| t.contains("[secret]")), "nothing was redacted at all");
    for (what, text) in &outputs {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{f} leaked into {what}:\n{text}");
        }
    }
    assert_all_clean("the canary tests");
}

#[test]
fn sigterm_cancels_an_api_request_that_gets_no_answer() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    // A user's podman service that accepts connections and never answers:
    // podproof's first request, the ping, would wait out its 10 s deadline.
    let sock = dir.path().join("stuck.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((c, _)) = listener.accept() {
            held.push(c);
        }
    });
    let t = one_test(dir.path(), "stuck", "    - up: {}\n");
    let url = format!("unix://{}", sock.display());
    let (child, lines) = common::start_until(&["--url", &url, "test", &t], "up #1");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, took, rest) = sigterm_and_wait(child, lines);
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}\n{rest}");
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("cancelled: podproof received SIGTERM"), "{rest}");
    assert!(rest.contains("interrupted by SIGTERM"), "{rest}");
    assert_all_clean("a SIGTERM during an API request with no answer");
}

const PLANTER_APP: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: \"v1\\n\"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {user: admin}
---
apiVersion: v1
kind: Pod
metadata: {name: planter}
spec:
  containers:
    - name: app
      image: localhost/podproof/busybox:latest
      command: [sleep, '3600']
      volumeMounts:
        - {name: cfg, mountPath: /cfg}
        - {name: creds, mountPath: /creds, readOnly: false}
        - {name: scratch, mountPath: /scratch}
  volumes:
    - {name: cfg, configMap: {name: settings}}
    - {name: creds, secret: {secretName: creds}}
    - {name: scratch, emptyDir: {}}
";

/// A pod cannot write into its ConfigMap or Secret volumes (a cluster mounts
/// them read-only, whatever the mount says), and links planted where
/// podproof's own go (`..data`, `..data_tmp`, the timestamped directory, a
/// key) are removed, never followed, by the next update: a victim directory
/// outside the state root keeps every file, and the update takes effect.
#[test]
fn planted_projection_links_cannot_steer_an_update_outside_the_volume() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("precious"), "keep me").unwrap();
    let app = write(dir.path(), "app/planter.yaml", PLANTER_APP);
    let v = victim.display();
    let plant = format!(
        "d=$(echo \"$PODPROOF_STATE_DIR\"/runs/\"$PODPROOF_RUN\"/volumes/planter*/cfg) && test -L \"$d/..data\" && \
         ts=$(readlink \"$d/..data\") && rm -rf \"$d/$ts\" && ln -s {v} \"$d/$ts\" && ln -sfn {v} \"$d/..data\" && \
         ln -s {v} \"$d/..data_tmp\" && rm \"$d/greeting\" && ln -s {v} \"$d/greeting\" && echo planted"
    );
    let t = write(
        dir.path(),
        "planter-test.yaml",
        &format!(
            "apiVersion: podproof.dev/v1alpha1
kind: Test
metadata: {{name: planter}}
spec:
  apps: [app/planter.yaml]
  steps:
    - up: {{}}
    - name: the ConfigMap volume is read-only
      exec: {{pod: planter, command: [touch, /cfg/x]}}
      expect: {{exitCode: 1, stderr: {{contains: Read-only file system}}}}
    - name: so is the Secret volume, though its mount says readOnly false
      exec: {{pod: planter, command: [touch, /creds/x]}}
      expect: {{exitCode: 1, stderr: {{contains: Read-only file system}}}}
    - name: no link can be planted from the pod
      exec: {{pod: planter, command: [ln, -sfn, {v}, /cfg/..data]}}
      expect: {{exitCode: 1}}
    - name: an emptyDir stays the pod's to write
      exec: {{pod: planter, command: [touch, /scratch/x]}}
    - name: links planted on the host side, as a writable mount would let a pod
      script: {{command: [sh, -c, '{plant}']}}
      expect: {{stdout: {{equals: \"planted\\n\"}}}}
    - config: {{configMap: settings, data: {{greeting: \"v2\\n\"}}}}
    - name: the update took effect
      exec: {{pod: planter, command: [cat, /cfg/greeting]}}
      expect: {{stdout: {{equals: \"v2\\n\"}}, within: 5s}}
"
        ),
    );
    let state = dir.path().join("state");
    Test::new()
        .args(["test", &t])
        .env("PODPROOF_STATE_DIR", &state)
        .timeout(std::time::Duration::from_secs(180))
        .stdout_contains("1 passed, 0 failed")
        .run();
    let _ = app;
    let mut left: Vec<String> =
        std::fs::read_dir(&victim).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["precious"], "the victim directory changed");
    assert_eq!(std::fs::read_to_string(victim.join("precious")).unwrap(), "keep me");
    common::assert_clean("planted projection links");
}

/// `--report KIND=FILE` does not follow a symlink planted at FILE: the run
/// says why it cannot write there (a report that cannot be written is the
/// environment's failure, exit 3), and the link's target is untouched.
#[test]
fn a_report_path_that_is_a_symlink_is_not_followed() {
    let dir = common::tempdir();
    let target = dir.path().join("target.txt");
    std::fs::write(&target, "unchanged").unwrap();
    let link = dir.path().join("report.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let app = root().join("fixtures/apps/busybox-httpd/app.yaml");
    let t = write(
        dir.path(),
        "t.yaml",
        &format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: echo}}\nspec:\n  apps: [{}]\n  steps:\n    - render: {{}}\n",
            app.display()
        ),
    );
    Test::new()
        .args(["test", &t, &format!("--report=json={}", link.display())])
        .current_dir(dir.path())
        .expect_status(3)
        .stderr_contains("it is a symlink")
        .run();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "unchanged");
    // A plain path is written.
    let plain = dir.path().join("plain.json");
    Test::new().args(["test", &t, &format!("--report=json={}", plain.display())]).current_dir(dir.path()).run();
    assert!(std::fs::read_to_string(&plain).unwrap().contains("\"echo\""));
}

/// A load error about a Secret's field names the key and never prints the
/// value, which no redaction knows yet when the error is printed: a number
/// in stringData, a data value that is not base64, in a Secret and in a List.
#[test]
fn load_errors_about_a_secret_name_the_key_not_the_value() {
    let dir = common::tempdir();
    let body = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData:\n  pin: 493817\n  ok: fine\ndata:\n  token: \"zq9#x7!w\"\n";
    let list = format!("apiVersion: v1\nkind: List\nitems:\n  - {}\n", body.trim_end().replace('\n', "\n    "));
    for (name, text) in [("secret.yaml", body.to_string()), ("list.yaml", list)] {
        let f = write(dir.path(), name, &text);
        for cmd in ["render", "up"] {
            let out = Test::new().args([cmd, &f]).expect_status(2).stderr_contains("pin").run();
            assert!(!out.stderr.contains("493817") && !out.stderr.contains("zq9#x7"), "{name}, {cmd}:\n{out}");
        }
        let out = Test::new().args(["lint", &f, "--podman-version", "4.3.1", "--format", "json"]).any_status().run();
        assert!(!out.stdout.contains("493817") && !out.stdout.contains("zq9#x7"), "lint {name}:\n{out}");
    }
}
