//! End-to-end tests of the podman driver's service against real podman: two
//! runs share podproof's own `podman system service` and the last one stops
//! it; SIGKILL then `podproof clean` leaves no service; a user's own service
//! is neither used nor stopped unless podproof is told to use it.
//!
//! Each test uses a private state root (`PODPROOF_STATE_DIR`), so the service
//! it watches is its own, and takes the podman lock like tests/e2e.rs.

mod common;

use common::root;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Test file that starts the busybox app and then waits `secs` seconds.
fn waiting_test(dir: &Path, name: &str, secs: u32) -> String {
    let apps = root().join("fixtures/apps").display().to_string();
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &p,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  apps: [{apps}/busybox-httpd/app.yaml]\n  steps:\n    - up: {{}}\n    - name: long wait\n      sleep: {secs}s\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

/// Starts podproof with a private state root and reads its stderr until a
/// line contains `marker`; the rest of stderr is drained on a thread.
fn start(state: &Path, args: &[&str], envs: &[(&str, &str)], marker: &str) -> Child {
    let mut cmd = Command::new(common::podproof());
    cmd.args(args)
        .current_dir(root())
        .env("PODPROOF_STATE_DIR", state)
        .env_remove("PODPROOF_DRIVER")
        .env_remove("CONTAINER_HOST");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let (child, lines) = common::start_command_until(cmd, args, marker);
    std::thread::spawn(move || for _ in lines {});
    child
}

fn service_pid(state: &Path) -> Option<i32> {
    std::fs::read_to_string(state.join("podman/service.pid")).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // A zombie has exited: only its parent has not read its status yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

fn is_podman(pid: i32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.file_name().is_some_and(|n| n == "podman"))
}

/// Polls `f` for up to `limit` (tests may poll; podproof itself waits through `wait`).
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn podproof(state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::podproof())
        .args(args)
        .current_dir(root())
        .env("PODPROOF_STATE_DIR", state)
        .env_remove("PODPROOF_DRIVER")
        .env_remove("CONTAINER_HOST")
        .output()
        .unwrap()
}

#[test]
fn two_concurrent_runs_share_one_service_and_the_last_stops_it() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let state = dir.path().join("state");
    let long = waiting_test(dir.path(), "long", 8);
    let short = waiting_test(dir.path(), "short", 1);
    let mut a = start(&state, &["test", &long], &[], "long wait");
    assert!(eventually(Duration::from_secs(20), || service_pid(&state).is_some()), "the first run started no service");
    let pid = service_pid(&state).unwrap();
    assert!(is_podman(pid), "service pid {pid} is not podman");
    let mut b = start(&state, &["test", &short], &[], "long wait");
    assert_eq!(service_pid(&state), Some(pid), "the second run started a service of its own");
    assert!(b.wait().unwrap().success(), "the short run failed");
    assert!(alive(pid), "the service stopped while the long run still used it");
    assert!(a.wait().unwrap().success(), "the long run failed");
    assert!(eventually(Duration::from_secs(5), || !alive(pid)), "the last run left the service {pid} running");
    assert!(!state.join("podman/podman.sock").exists(), "the socket was left");
    assert!(service_pid(&state).is_none(), "the pid file was left");
    common::assert_clean("two runs sharing the service");
}

#[test]
fn sigkill_then_clean_leaves_no_service() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let state = dir.path().join("state");
    let t = waiting_test(dir.path(), "killed", 120);
    let mut child = start(&state, &["test", &t], &[], "long wait");
    assert!(eventually(Duration::from_secs(20), || service_pid(&state).is_some()), "the run started no service");
    let pid = service_pid(&state).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(alive(pid), "SIGKILL of podproof should leave its service for clean to find");
    let out = podproof(&state, &["clean"]);
    assert!(out.status.success(), "clean failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(eventually(Duration::from_secs(5), || !alive(pid)), "clean left the service {pid} running");
    assert!(!state.join("podman/podman.sock").exists(), "clean left the socket");
    common::assert_clean("SIGKILL and clean");
}

/// The user's own `podman system service`, stopped when dropped.
struct UserService(Child, PathBuf);

impl Drop for UserService {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn user_service(dir: &Path) -> UserService {
    let sock = dir.join("user.sock");
    let child = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{}", sock.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(20), || sock.exists()), "the user's service made no socket");
    UserService(child, sock)
}

#[test]
fn a_users_own_service_is_untouched_and_unused_unless_named() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let state = dir.path().join("state");
    let mut user = user_service(dir.path());
    let user_pid = user.0.id() as i32;
    let t = waiting_test(dir.path(), "own", 1);
    // Not named: podproof uses a service of its own, and stops only that one.
    let mut run = start(&state, &["test", &t], &[], "long wait");
    assert!(eventually(Duration::from_secs(20), || service_pid(&state).is_some()), "podproof started no service");
    let own = service_pid(&state).unwrap();
    assert_ne!(own, user_pid);
    assert!(run.wait().unwrap().success());
    assert!(eventually(Duration::from_secs(5), || !alive(own)), "podproof's service was left running");
    assert!(alive(user_pid), "podproof stopped the user's service");
    // Named with --url: podproof uses it, starts none, and leaves it running.
    let url = format!("unix://{}", user.1.display());
    let out = Command::new(common::podproof())
        .args(["--url", &url, "test", &t])
        .current_dir(root())
        .env("PODPROOF_STATE_DIR", &state)
        .env("PODPROOF_TRACE", "1")
        .env_remove("PODPROOF_DRIVER")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("GET /v4.0.0/libpod/containers/"), "no API call in the trace:\n{err}");
    assert!(service_pid(&state).is_none(), "podproof started a service although --url named one");
    assert!(alive(user_pid), "podproof stopped the user's service");
    assert!(user.0.try_wait().unwrap().is_none());
    common::assert_clean("runs beside a user's service");
}

#[test]
fn the_cli_driver_makes_no_api_call() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let state = dir.path().join("state");
    let t = waiting_test(dir.path(), "cli", 1);
    let out = Command::new(common::podproof())
        .args(["test", &t])
        .current_dir(root())
        .env("PODPROOF_STATE_DIR", &state)
        .env("PODPROOF_TRACE", "1")
        .env("PODPROOF_DRIVER", "cli")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("ms podman container inspect"), "no CLI call in the trace:\n{err}");
    assert!(!err.contains("/libpod/"), "an API call under PODPROOF_DRIVER=cli:\n{err}");
    assert!(!state.join("podman/service.pid").exists());
    common::assert_clean("the CLI driver");
}
