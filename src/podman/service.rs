//! The podman API service podproof owns.
//!
//! `podman system service --time=0 unix://<state root>/podman/podman.sock`,
//! started on the first API call and shared by every podproof process of the
//! same state root. Its files, all under `<state root>/podman/`:
//! - `lock`: held (flock) while the users or the service change;
//! - `users/<pid>`: one per podproof process using it; a dead pid does not count;
//! - `service.pid`: the service's pid, so `clean` finds a leftover one
//!   without scanning processes;
//! - `podman.sock`, and `service.log` (the service's stderr).
//!
//! The last user to leave stops it; a user killed with SIGKILL leaves its
//! file behind, and the next user to leave, or `podproof clean`, stops the
//! service once no live user remains. A pid is signalled only when
//! `/proc/<pid>/exe` is podman, so a stale pid file cannot aim a kill at an
//! unrelated process.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn dir() -> PathBuf {
    crate::state::root().join("podman")
}

pub fn socket() -> PathBuf {
    dir().join("podman.sock")
}

fn pid_file() -> PathBuf {
    dir().join("service.pid")
}

fn users_dir() -> PathBuf {
    dir().join("users")
}

/// The service lock, held until dropped.
struct Lock(#[allow(dead_code)] File);

fn lock() -> io::Result<Lock> {
    std::fs::create_dir_all(users_dir())?;
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir().join("lock"))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(Lock(f))
}

/// The recorded service pid, when that process is alive and is podman.
fn running_pid() -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file()).ok()?.trim().parse().ok()?;
    (pid > 0 && is_podman(pid)).then_some(pid)
}

/// Whether process `pid` is podman (its executable's file name), as bridge
/// and aardvark code check before signalling.
pub fn is_podman(pid: i32) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let bin = super::cli::binary();
    let want = Path::new(&bin).file_name().map(|n| n.to_os_string()).unwrap_or_default();
    match std::fs::read_link(proc.join("exe")) {
        Ok(exe) => exe.file_name().is_some_and(|n| n == "podman" || n == want),
        Err(_) => std::fs::read_to_string(proc.join("comm")).is_ok_and(|c| c.trim_end() == "podman"),
    }
}

/// The pids in `users/` that are alive; the files of dead ones are removed.
fn live_users() -> Vec<u32> {
    let mut live = Vec::new();
    for e in std::fs::read_dir(users_dir()).into_iter().flatten().flatten() {
        let name = e.file_name();
        match name.to_str().and_then(|n| n.parse::<u32>().ok()) {
            Some(pid) if crate::state::pid_alive(pid) => live.push(pid),
            _ => {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    live
}

/// Joins the service as a user, starting it when none is running, and
/// returns its socket. Waits up to `timeout` for a new service to answer.
pub fn join(timeout: Duration) -> Result<PathBuf, String> {
    let _l = lock().map_err(|e| format!("cannot lock {}: {e}", dir().display()))?;
    let me = std::process::id();
    std::fs::write(users_dir().join(me.to_string()), b"").map_err(|e| format!("cannot register as a user: {e}"))?;
    let sock = socket();
    if running_pid().is_some() && ping(&sock) {
        return Ok(sock);
    }
    // A service that does not answer is stopped before a new one takes its socket.
    stop_locked();
    let _ = std::fs::remove_file(&sock);
    let log = File::create(dir().join("service.log")).map_err(|e| e.to_string())?;
    let child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(super::cli::binary())
            .env(super::QUIET_CGROUPS_V1.0, super::QUIET_CGROUPS_V1.1)
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", sock.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            // The service outlives the process that starts it and serves every
            // other run: it must not keep that process's working directory,
            // whose removal would fail every later `kube play` (getwd).
            .current_dir("/")
            // Its own process group: a Ctrl-C meant for one run must not
            // take the service from the other runs sharing it.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start `podman system service`: {e}"))?
    };
    let pid = child.id();
    // The child is not waited for: when this process leaves first it is
    // re-parented, and whoever stops it last, or `clean`, kills it by pid.
    std::mem::forget(child);
    std::fs::write(pid_file(), pid.to_string()).map_err(|e| e.to_string())?;
    let ready = crate::wait::await_condition(timeout, Duration::from_millis(20), || {
        if ping(&sock) {
            crate::wait::Poll::Ready(())
        } else if !crate::state::pid_alive(pid) || zombie(pid) {
            crate::wait::Poll::Fail(())
        } else {
            crate::wait::Poll::Pending(None)
        }
    });
    if ready.is_err() {
        stop_locked();
        let why = std::fs::read_to_string(dir().join("service.log")).unwrap_or_default();
        return Err(format!("`podman system service` did not answer on {}: {}", sock.display(), why.trim()));
    }
    Ok(sock)
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Whether the socket answers `/_ping`.
pub fn ping(sock: &Path) -> bool {
    super::api::Client::new(sock)
        .request_untraced("GET", &format!("{}/_ping", super::api::PREFIX), None, Duration::from_secs(2))
        .is_ok_and(|r| r.ok())
}

/// Leaves the service; the last live user stops it.
pub fn leave() {
    let Ok(_l) = lock() else { return };
    let _ = std::fs::remove_file(users_dir().join(std::process::id().to_string()));
    if live_users().is_empty() {
        stop_locked();
    }
}

/// `podproof clean`: stops a service no live podproof process uses (one left
/// by a killed run). Returns whether one was stopped.
pub fn clean_leftover() -> bool {
    if !dir().exists() {
        return false;
    }
    let Ok(_l) = lock() else { return false };
    let me = std::process::id();
    if live_users().iter().any(|&p| p != me) {
        return false;
    }
    let _ = std::fs::remove_file(users_dir().join(me.to_string()));
    stop_locked()
}

/// Stops the recorded service (only if it is podman) and removes its pid
/// file and socket. The lock must be held.
fn stop_locked() -> bool {
    let mut stopped = false;
    if let Some(pid) = running_pid() {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
            let gone = crate::wait::await_condition(Duration::from_secs(5), Duration::from_millis(10), || {
                if !crate::state::pid_alive(pid as u32) || zombie(pid as u32) {
                    crate::wait::Poll::Ready(())
                } else {
                    crate::wait::Poll::Pending(None::<()>)
                }
            });
            if gone.is_err() {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
            // Reaps it when it is this process's child; a no-op otherwise.
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
            stopped = true;
        }
    }
    let _ = std::fs::remove_file(pid_file());
    let _ = std::fs::remove_file(socket());
    stopped
}
