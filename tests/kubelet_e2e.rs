//! End-to-end tests of the pod workers against real podman: each Kubernetes
//! semantic podproof performs, with its timing, read from the events
//! timeline of the JSON report (times since the test started).

mod common;

use common::{root, Test};
use std::path::Path;
use std::time::{Duration, Instant};

/// The only test of a JSON report.
fn only_test(report: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(report).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["tests"][0].clone()
}

/// The timeline of the only test in a JSON report, as (ms, reason, message).
fn timeline(report: &Path) -> Vec<(u64, String, String)> {
    only_test(report)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["at_ms"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The position of the first event whose message contains `what`.
fn first(events: &[(u64, String, String)], what: &str) -> usize {
    events.iter().position(|e| e.2.contains(what)).unwrap_or_else(|| panic!("no {what:?}\n{events:#?}"))
}

fn at(events: &[(u64, String, String)], reason: &str) -> Vec<u64> {
    events.iter().filter(|e| e.1 == reason).map(|e| e.0).collect()
}

/// Runs the kubelet.yaml test named `name`; returns its timeline.
fn run_kubelet_test(name: &str) -> Vec<(u64, String, String)> {
    let dir = common::tempdir();
    let report = dir.path().join("report.json");
    Test::new()
        .args(["test", "fixtures/tests/kubelet.yaml", "--filter", &format!("^{name}$")])
        .arg(format!("--report=json={}", report.display()))
        .stdout_contains("1 passed, 0 failed")
        .run();
    common::assert_clean(name);
    timeline(&report)
}

#[test]
fn initial_delay_seconds_delays_readiness() {
    let Some(_g) = common::podman_exclusive() else { return };
    let events = run_kubelet_test("kubelet-initial-delay");
    let (started, ready) = (at(&events, "Started"), at(&events, "Ready"));
    assert_eq!((started.len(), ready.len()), (1, 1), "{events:#?}");
    let delay = ready[0] - started[0];
    // initialDelaySeconds: 3 with periodSeconds: 1; httpd answers at once.
    assert!((3000..6000).contains(&delay), "ready {delay} ms after the start\n{events:#?}");
}

#[test]
fn a_failing_liveness_probe_restarts_the_container_in_place() {
    let Some(_g) = common::podman_exclusive() else { return };
    let events = run_kubelet_test("kubelet-liveness-restart");
    let killed: Vec<_> = events.iter().filter(|e| e.1 == "Killing" && e.2.contains("failed liveness probe")).collect();
    assert_eq!(killed.len(), 1, "one liveness restart\n{events:#?}");
    let unhealthy = events.iter().filter(|e| e.1 == "Unhealthy").count();
    assert_eq!(unhealthy, 2, "failureThreshold: 2 failures before the restart\n{events:#?}");
    // Restart count 1, in the same pod: the pod itself was started once.
    assert!(events.iter().any(|e| e.2 == "Started container app (restart 1)"), "{events:#?}");
    assert_eq!(events.iter().filter(|e| e.2.starts_with("Started pod")).count(), 1, "{events:#?}");
}

#[test]
fn a_hung_exec_probe_times_out() {
    let Some(_g) = common::podman_exclusive() else { return };
    let start = Instant::now();
    let events = run_kubelet_test("kubelet-hung-exec-probe");
    let timeouts = events
        .iter()
        .filter(|e| e.2.starts_with("Readiness probe failed") && e.2.contains("timed out after 1s"))
        .count();
    assert!(timeouts >= 2, "{events:#?}");
    // The step gives up after 5 s of 1 s probes; teardown then stops the
    // worker after the probe in flight. It used to wait until the worker had
    // taken every event queued before the stop (two per exec probe), one
    // probe per event: about five more.
    assert!(timeouts <= 7, "{timeouts} probe runs: the worker outlived the step\n{events:#?}");
    assert!(start.elapsed() < Duration::from_secs(40), "took {:?}", start.elapsed());
}

#[test]
fn a_crash_looping_container_backs_off() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    // CrashLoopBackOff scaled down for the test; the report says so.
    std::fs::write(dir.path().join("podproof.yaml"), "kubelet:\n  backoff: {initial: 2s, max: 8s}\n").unwrap();
    let app = root().join("fixtures/apps/kubelet/crashloop.yaml");
    let t = dir.path().join("crash.yaml");
    std::fs::write(
        &t,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: crashloop}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n    - sleep: 14s\n",
            app.display()
        ),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    Test::new()
        .current_dir(dir.path())
        .args(["test", &t.display().to_string()])
        .arg(format!("--report=json={}", report.display()))
        .stderr_contains("CrashLoopBackOff is scaled by podproof.yaml")
        .stdout_contains("1 passed, 0 failed")
        .run();
    common::assert_clean("a crash loop");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"backoff_scaled\": true"), "{text}");
    let events = timeline(&report);
    let backoffs: Vec<f64> = events
        .iter()
        .filter(|e| e.1 == "BackOff")
        .filter_map(|e| e.2.strip_prefix("Back-off ")?.split('s').next()?.parse().ok())
        .collect();
    assert!(backoffs.len() >= 2, "{events:#?}");
    assert!(backoffs.windows(2).all(|w| w[1] > w[0]), "each back-off longer than the one before: {backoffs:?}");
    // Restarts go on in place: restart 1, 2, 3 of the same container.
    assert!(events.iter().any(|e| e.2 == "Started container app (restart 3)"), "{events:#?}");
}

#[test]
fn pre_stop_runs_on_teardown_and_on_down_by_file_and_by_name_within_the_grace_period() {
    let Some(_g) = common::podman_exclusive() else { return };
    let out = root().join("fixtures/apps/hooks/out");
    let clear = || {
        for f in ["prestop.txt", "prestop-http.txt"] {
            let _ = std::fs::remove_file(out.join(f));
        }
    };
    // Teardown of a test that never stops its pods itself.
    clear();
    let dir = common::tempdir();
    let t = dir.path().join("teardown.yaml");
    std::fs::write(
        &t,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: prestop-teardown}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n",
            root().join("fixtures/apps/hooks/pod.yaml").display()
        ),
    )
    .unwrap();
    Test::new().args(["test", &t.display().to_string()]).stdout_contains("1 passed, 0 failed").run();
    assert_eq!(std::fs::read_to_string(out.join("prestop.txt")).unwrap(), "stopping\n");
    common::assert_clean("a teardown with preStop");
    // `podproof down FILE` runs them too, before it stops the pod.
    clear();
    Test::new().args(["up", "fixtures/apps/hooks/pod.yaml"]).stderr_contains("members ready").run();
    let start = Instant::now();
    Test::new().args(["down", "fixtures/apps/hooks/pod.yaml"]).run();
    assert!(start.elapsed() < Duration::from_secs(10), "down took {:?}", start.elapsed());
    assert_eq!(std::fs::read_to_string(out.join("prestop.txt")).unwrap(), "stopping\n");
    assert_eq!(std::fs::read_to_string(out.join("prestop-http.txt")).unwrap(), "stopping-http\n");
    common::assert_clean("down with preStop");
    // `podproof down NAME` has no definitions: `up` kept each pod's hooks and
    // grace period in its state directory, and `down` reads them there.
    clear();
    Test::new().args(["up", "fixtures/apps/hooks/pod.yaml"]).stderr_contains("members ready").run();
    let start = Instant::now();
    Test::new().args(["down", "pod"]).stderr_contains("pod: removed 1 pods").run();
    assert!(start.elapsed() < Duration::from_secs(10), "down NAME took {:?}", start.elapsed());
    assert_eq!(std::fs::read_to_string(out.join("prestop.txt")).unwrap(), "stopping\n");
    assert_eq!(std::fs::read_to_string(out.join("prestop-http.txt")).unwrap(), "stopping-http\n");
    common::assert_clean("down NAME with preStop");
}

#[test]
fn a_native_sidecar_serves_beside_the_app_and_survives_its_restart() {
    let Some(_g) = common::podman_exclusive() else { return };
    let events = run_kubelet_test("kubelet-native-sidecar");
    let sidecar_starts = events.iter().filter(|e| e.2 == "Started sidecar proxy").count();
    assert_eq!(sidecar_starts, 1, "the sidecar started once and kept running\n{events:#?}");
    assert!(events.iter().any(|e| e.2 == "Started container app (restart 1)"), "{events:#?}");
    assert!(!events.iter().any(|e| e.2.contains("proxy (restart")), "the sidecar was not restarted\n{events:#?}");
}

#[test]
fn a_native_sidecar_holds_up_the_app_until_its_startup_probe_passes_not_its_readiness() {
    let Some(_g) = common::podman_exclusive() else { return };
    let out = root().join("fixtures/apps/kubelet/out/sidecar-prestop.txt");
    let _ = std::fs::remove_file(&out);
    // The sidecar's readiness waits for the app: a runtime that held the app
    // back until then would time out here. The app's own check of what it
    // saw at its start (two sidecar runs, two postStart hooks) is a step.
    let events = run_kubelet_test("kubelet-sidecar-start");
    let killed = first(&events, "Container agent failed startup probe, will be restarted");
    let restarted = first(&events, "Started container agent (restart 1)");
    let app = first(&events, "Started pod sidecarstart");
    assert!(killed < restarted && restarted < app, "failed startup, restart, then the app\n{events:#?}");
    // failureThreshold: 2, periodSeconds: 1: two failed runs a second apart.
    let unhealthy = at(&events, "Unhealthy");
    assert!(unhealthy.len() >= 2 && unhealthy[1] - unhealthy[0] >= 900, "{events:#?}");
    assert!(events.iter().any(|e| e.1 == "Ready" && e.2 == "Container is ready"), "{events:#?}");
    // preStop ran at the restart and at the pod's stop.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "agent-stopping\nagent-stopping\n");
    let _ = std::fs::remove_file(&out);
}

#[test]
fn a_jobs_sidecar_is_stopped_for_good_once_the_job_completes() {
    let Some(_g) = common::podman_exclusive() else { return };
    let out = root().join("fixtures/apps/kubelet/out/sidecar-job-prestop.txt");
    let _ = std::fs::remove_file(&out);
    // `up` passes although the job's container has exited (0 under
    // restartPolicy Never is done, not failed), and a step waits until the
    // sidecar no longer runs.
    let events = run_kubelet_test("kubelet-sidecar-job");
    let done = first(&events, "Container job exited with code 0");
    let stopping = first(&events, "Stopping container proxy: the pod's main containers have finished");
    assert!(done <= stopping, "{events:#?}");
    assert!(!events.iter().any(|e| e.2.contains("proxy (restart")), "the sidecar was restarted\n{events:#?}");
    // Its preStop hook ran at that stop; teardown found nothing left to stop.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "proxy-stopping\n");
    let _ = std::fs::remove_file(&out);
}

#[test]
fn readiness_does_not_wait_a_period_for_an_app_that_listens_soon_after_its_start() {
    let Some(_g) = common::podman_exclusive() else { return };
    // httpd listens 300 ms after the start and the period is the default 10 s:
    // the first try fails, and a retry inside the kubelet's sync windows passes.
    let events = run_kubelet_test("kubelet-late-listener");
    let (started, ready) = (at(&events, "Started"), at(&events, "Ready"));
    assert_eq!((started.len(), ready.len()), (1, 1), "{events:#?}");
    let delay = ready[0] - started[0];
    assert!(delay < 5000, "ready {delay} ms after the start, not a 10 s period later\n{events:#?}");
    // Retries inside a window are not runs of the kubelet's: no Unhealthy event.
    assert_eq!(at(&events, "Unhealthy"), Vec::<u64>::new(), "{events:#?}");
}

/// The `stop_signal_ignored` entries of the only test in a JSON report, as
/// (container, signal, grace_seconds), and its teardown in ms.
fn ignored(report: &Path) -> (Vec<(String, String, i64)>, u64) {
    let t = only_test(report);
    let list = t["stop_signal_ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["container"].as_str().unwrap().to_string(),
                i["signal"].as_str().unwrap().to_string(),
                i["grace_seconds"].as_i64().unwrap(),
            )
        })
        .collect();
    (list, t["teardown_ms"].as_u64().unwrap())
}

#[test]
fn teardown_kills_a_pid_1_that_ignores_sigterm_at_once_and_says_so() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    // httpd as PID 1 has no SIGTERM handler; with a 30 s grace a waited-out
    // stop takes 30 s, so a teardown far below that killed it at once.
    let report = dir.path().join("late.json");
    Test::new()
        .args(["test", "fixtures/tests/kubelet.yaml", "--filter", "^kubelet-late-listener$", "--grace", "30s"])
        .arg(format!("--report=json={}", report.display()))
        .stdout_contains("1 passed, 0 failed")
        .stderr_contains("note: the PID 1 of these containers has no handler for its stop signal")
        .stderr_contains("  late-listener/late container web: SIGTERM, 30 s grace (1 pod)")
        .run();
    common::assert_clean("a teardown that killed at once");
    let (list, teardown) = ignored(&report);
    assert_eq!(list, vec![("web".to_string(), "SIGTERM".to_string(), 30)]);
    assert!(teardown < 20_000, "teardown took {teardown} ms: the 30 s grace was waited out");
    let events = timeline(&report);
    assert_eq!(at(&events, "StopSignalIgnored").len(), 1, "{events:#?}");
    // An app whose PID 1 exits on SIGTERM is stopped as usual, and not reported.
    let report = dir.path().join("sigterm.json");
    let t = dir.path().join("sigterm.yaml");
    std::fs::write(
        &t,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: handles-sigterm}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n",
            root().join("fixtures/apps/sigterm-httpd/app.yaml").display()
        ),
    )
    .unwrap();
    Test::new()
        .args(["test", &t.display().to_string(), "--grace", "30s"])
        .arg(format!("--report=json={}", report.display()))
        .stdout_contains("1 passed, 0 failed")
        .stderr_lacks("has no handler for")
        .run();
    assert_eq!(ignored(&report).0, Vec::new());
    common::assert_clean("a teardown of an app that handles SIGTERM");
    // `podproof down NAME` (no definitions) does the same, and says so.
    Test::new().args(["up", "fixtures/apps/kubelet/late-listener.yaml"]).stderr_contains("members ready").run();
    Test::new()
        .args(["down", "late-listener", "--grace", "30s"])
        .stderr_contains("PID 1 of container web has no handler for SIGTERM")
        .stderr_contains("late-listener: removed 1 pods")
        .run();
    common::assert_clean("down NAME of an app that ignores SIGTERM");
}

#[test]
fn test_grace_in_podproof_yaml_covers_every_pod_so_a_strict_run_starts() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let app = root().join("fixtures/apps/busybox-httpd/app.yaml");
    let t = dir.path().join("t.yaml");
    std::fs::write(
        &t,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: graced}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n    - http: {{pod: web, port: 8080}}\n      expect: {{status: 200}}\n",
            app.display()
        ),
    )
    .unwrap();
    // Shorter than the pod's 30 s default: the strict run is refused before anything starts.
    std::fs::write(dir.path().join("podproof.yaml"), "test: {strict: true, grace: 2s}\n").unwrap();
    let out = Test::new().current_dir(dir.path()).args(["test", "t.yaml"]).expect_status(2).run();
    out.assert_stderr_contains("waits at most 2s (`test.grace` in podproof.yaml), not the 30 s this pod is given");
    // 30 s honours it; busybox httpd drops SIGTERM as PID 1, so the final
    // teardown still kills it at once instead of waiting 30 s.
    std::fs::write(dir.path().join("podproof.yaml"), "test: {strict: true, grace: 30s}\n").unwrap();
    let start = Instant::now();
    let out = Test::new().current_dir(dir.path()).args(["test", "t.yaml"]).stdout_contains("1 passed, 0 failed").run();
    out.assert_stderr_lacks("did not honour");
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
    common::assert_clean("a strict run with test.grace");
}

/// Runs a one-app test with these steps from a temp dir; returns the timeline.
fn run_app_test(dir: &Path, app: &str, steps: &str) -> Vec<(u64, String, String)> {
    let app_path = dir.join("app.yaml");
    std::fs::write(&app_path, app).unwrap();
    let t = dir.join("t.yaml");
    std::fs::write(
        &t,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: probes}}\nspec:\n  apps: [app.yaml]\n  steps:\n{steps}"
        ),
    )
    .unwrap();
    let report = dir.join("report.json");
    Test::new()
        .current_dir(dir)
        .args(["test", &t.display().to_string()])
        .arg(format!("--report=json={}", report.display()))
        .timeout(Duration::from_secs(240))
        .stdout_contains("1 passed, 0 failed")
        .run();
    common::assert_clean("a probe test");
    timeline(&report)
}

/// An HTTPS liveness and readiness probe against nginx serving TLS with a
/// self-signed certificate: the kubelet does not verify it, so the
/// container is ready and never restarted. The liveness probe waits 2 s,
/// as a cluster's would have to, for nginx to listen.
#[test]
fn an_https_liveness_probe_against_a_tls_server_keeps_its_container_running() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tls-app"])
        .args(["-keyout", "tls.key", "-out", "tls.crt"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let indent = |f: &str| {
        std::fs::read_to_string(dir.path().join(f)).unwrap().lines().map(|l| format!("    {l}\n")).collect::<String>()
    };
    // A raw template keeps the indentation: a `\` line continuation would
    // strip it.
    let template = r#"apiVersion: v1
kind: Secret
metadata: {name: tls}
stringData:
  tls.crt: |
CRT  tls.key: |
KEY---
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx-tls}
data:
  tls.conf: |
    server {
      listen 8443 ssl;
      ssl_certificate /tls/tls.crt;
      ssl_certificate_key /tls/tls.key;
      location / { return 200 "secure\n"; }
    }
---
apiVersion: v1
kind: Pod
metadata: {name: tls-app}
spec:
  containers:
    - name: nginx
      image: localhost/podproof/nginx:1
      volumeMounts:
        - {name: tls, mountPath: /tls}
        - {name: conf, mountPath: /etc/nginx/conf.d}
      readinessProbe: {httpGet: {scheme: HTTPS, port: 8443, path: /}, periodSeconds: 1}
      livenessProbe: {httpGet: {scheme: HTTPS, port: 8443, path: /}, initialDelaySeconds: 2, periodSeconds: 1, failureThreshold: 1}
  volumes:
    - {name: tls, secret: {secretName: tls}}
    - {name: conf, configMap: {name: nginx-tls}}
"#;
    let app = template.replace("CRT", &indent("tls.crt")).replace("KEY", &indent("tls.key"));
    let events = run_app_test(dir.path(), &app, "    - up: {}\n    - sleep: 4s\n");
    assert_eq!(at(&events, "Ready").len(), 1, "{events:#?}");
    assert!(at(&events, "Unhealthy").is_empty(), "{events:#?}");
    // Teardown's own "Stopping pod" is the only kill.
    assert!(!events.iter().any(|e| e.1 == "Killing" && !e.2.starts_with("Stopping pod")), "{events:#?}");
    assert!(!events.iter().any(|e| e.2.contains("(restart 1)")), "{events:#?}");
}

/// The Kubernetes documentation's gRPC liveness example
/// (content/en/examples/pods/probe/grpc-liveness.yaml: etcd, a gRPC probe of
/// its client port after 10 s), with Debian's etcd in place of
/// registry.k8s.io/etcd: the container keeps running. Beside it, a gRPC
/// probe of a server that does not speak HTTP/2 fails and restarts its
/// container, and a liveness probe whose command does not exist only
/// errors, so its container is never restarted (kubernetes/kubernetes#106682).
#[test]
fn grpc_probes_pass_against_etcd_and_fail_against_a_server_without_grpc_and_prober_errors_restart_nothing() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let app = "apiVersion: v1
kind: Pod
metadata: {name: etcd-with-grpc}
spec:
  containers:
    - name: etcd
      image: registry.k8s.io/etcd:3.5.1-0
      command: [/usr/local/bin/etcd, --data-dir, /var/lib/etcd, --listen-client-urls, 'http://0.0.0.0:2379',
                --advertise-client-urls, 'http://127.0.0.1:2379', --log-level, debug]
      ports: [{containerPort: 2379}]
      livenessProbe:
        grpc: {port: 2379}
        initialDelaySeconds: 10
---
apiVersion: v1
kind: Pod
metadata: {name: not-grpc}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: httpd
      image: localhost/podproof/busybox:latest
      command: [httpd, -f, -p, '8080']
      livenessProbe: {grpc: {port: 8080}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers:
    - name: app
      image: localhost/podproof/busybox:latest
      command: [sleep, '3600']
      livenessProbe: {exec: {command: [no-such-command]}, periodSeconds: 1, failureThreshold: 1}
";
    std::fs::write(
        dir.path().join("podproof.yaml"),
        "images:\n  registry.k8s.io/etcd:3.5.1-0: localhost/podproof/etcd:1\n",
    )
    .unwrap();
    let events = run_app_test(dir.path(), app, "    - up: {}\n    - sleep: 14s\n");
    // Teardown's own "Stopping pod" kills are not the prober's.
    let killed: Vec<_> = events.iter().filter(|e| e.1 == "Killing" && !e.2.starts_with("Stopping pod")).collect();
    assert!(killed.iter().all(|e| e.2.contains("httpd")), "only the server without gRPC is killed\n{events:#?}");
    assert!(!killed.is_empty(), "{events:#?}");
    assert!(
        events.iter().any(|e| e.1 == "Unhealthy" && e.2.contains("Liveness probe failed") && e.2.contains("8080")),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| e.1 == "Unhealthy" && e.2.contains("Liveness probe errored")), "{events:#?}");
    assert!(!events.iter().any(|e| e.1 == "Unhealthy" && e.2.contains("2379")), "etcd's probe failed\n{events:#?}");
    assert!(!events.iter().any(|e| e.2.contains("container app (restart 1)")), "a prober error restarted\n{events:#?}");
}

/// The Kubernetes documentation's examples, as written, against what their
/// task pages state (fixtures/tests/kubelet-docs.yaml): $(VAR) expansion,
/// status.podIP and status.hostIP, fsGroup and supplementalGroups, the
/// cluster's default capabilities, HOSTNAME in exec, and per-pod DNS.
#[test]
fn the_docs_examples_behave_as_their_task_pages_say() {
    let Some(_g) = common::podman_exclusive() else { return };
    Test::new().args(["test", "fixtures/tests/kubelet-docs.yaml"]).stdout_contains("1 passed, 0 failed").run();
    common::assert_clean("the docs' examples");
}
