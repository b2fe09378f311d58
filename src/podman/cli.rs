//! The podman CLI: spawning `podman` with an argument vector, never through
//! a shell. Every call captures stdout and stderr together (duct reads both on
//! threads, so a chatty child cannot deadlock us) and turns a failure into an
//! error carrying the full command line, the exit status and stderr. This is
//! the fallback for what the API driver does not do (see ARCHITECTURE.md).
//!
//! Every call has a deadline (its caller's, or the default of its kind in
//! `DEADLINES`) and is cancellable: each child runs in a process group of its
//! own, so a Ctrl-C on the terminal reaches podproof and not the child, and
//! podproof decides. A call that was in flight when SIGINT/SIGTERM arrived and
//! is not part of cleanup (see `is_cleanup`) is stopped (SIGTERM to its
//! group, SIGKILL after `CANCEL_GRACE`) and returns a "cancelled" error;
//! cleanup calls run on within their deadlines. The live children are kept in
//! the registry of `signals`, so that a second signal, which exits at once,
//! kills them first.

use super::{Output, PodmanError, Trace, QUIET_CGROUPS_V1};

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The podman binary; `PODPROOF_PODMAN` overrides it (tests inject failures this way).
pub fn binary() -> String {
    std::env::var("PODPROOF_PODMAN").unwrap_or_else(|_| "podman".to_string())
}

/// Quotes an argument for display only (nothing here is ever run by a shell).
pub(crate) fn show_arg(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

pub fn command_line(args: &[String]) -> String {
    std::iter::once(binary()).chain(args.iter().map(|a| show_arg(a))).collect::<Vec<_>>().join(" ")
}

const MINUTE: Duration = Duration::from_secs(60);

/// The deadline of a call whose caller names none, by the leading words of
/// its arguments (the first match wins). This is the one place they are set:
/// a build or an init container may legitimately run for minutes, a listing
/// or an inspection never should.
pub const DEADLINES: &[(&[&str], Duration)] = &[
    (&["build"], Duration::from_secs(30 * 60)),
    (&["kube", "play"], Duration::from_secs(5 * 60)),
    (&["run"], Duration::from_secs(10 * 60)),
    (&["exec"], Duration::from_secs(10 * 60)),
    (&["cp"], Duration::from_secs(2 * 60)),
];

/// Everything else (inspections, listings, starts, kills, `exists`,
/// `version`, `info`, creations and removals of networks and volumes).
pub const DEFAULT_DEADLINE: Duration = MINUTE;

/// What a stop or removal with `-t N` may take beyond its grace period N.
pub const STOP_SLACK: Duration = MINUTE;

/// How long a cancelled child has between SIGTERM and SIGKILL.
pub const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// The deadline of `args` when the caller gives none.
pub fn default_deadline(args: &[String]) -> Duration {
    let grace = args.windows(2).find(|w| w[0] == "-t").and_then(|w| w[1].parse::<u64>().ok());
    if let (Some(g), true) = (grace, is_stop(args)) {
        return Duration::from_secs(g) + STOP_SLACK;
    }
    DEADLINES.iter().find(|(prefix, _)| starts_with(args, prefix)).map(|(_, d)| *d).unwrap_or(DEFAULT_DEADLINE)
}

fn starts_with(args: &[String], prefix: &[&str]) -> bool {
    args.len() >= prefix.len() && args.iter().zip(prefix).all(|(a, p)| a == p)
}

fn is_stop(args: &[String]) -> bool {
    [&["pod", "stop"][..], &["pod", "rm"], &["stop"], &["rm"]].iter().any(|p| starts_with(args, p))
}

/// The calls that tear down or find what to tear down: they are never
/// cancelled by a signal, because cleanup is what a signal asks for.
const CLEANUP: &[&[&str]] = &[
    &["pod", "stop"],
    &["pod", "rm"],
    &["stop"],
    &["rm"],
    &["volume", "rm"],
    &["network", "rm"],
    &["pod", "ps"],
    &["ps"],
    &["volume", "ls"],
    &["network", "ls"],
];

thread_local! {
    static IN_CLEANUP: Cell<bool> = const { Cell::new(false) };
}

/// While it lives, every podman call of this thread counts as cleanup (e.g.
/// a preStop hook's `exec` during teardown), so a signal does not cancel it.
pub struct CleanupScope(bool);

pub fn cleanup_scope() -> CleanupScope {
    CleanupScope(IN_CLEANUP.with(|c| c.replace(true)))
}

impl Drop for CleanupScope {
    fn drop(&mut self) {
        IN_CLEANUP.with(|c| c.set(self.0));
    }
}

/// Whether a signal leaves the call `args` running.
pub fn is_cleanup(args: &[String]) -> bool {
    in_cleanup_scope() || CLEANUP.iter().any(|p| starts_with(args, p))
}

/// Whether this thread is inside a `cleanup_scope` (the API driver asks too).
pub fn in_cleanup_scope() -> bool {
    IN_CLEANUP.with(Cell::get)
}

/// Runs podman with `args`; a non-zero exit is returned, not an error.
pub fn run_unchecked(args: &[String], stdin: Option<&[u8]>) -> Result<Output, PodmanError> {
    run_until(args, stdin, None)
}

/// Runs podman, killing it when `timeout` (or, without one, the default
/// deadline of its kind) passes.
pub fn run_until(args: &[String], stdin: Option<&[u8]>, timeout: Option<Duration>) -> Result<Output, PodmanError> {
    run_env_until(args, &[], stdin, timeout)
}

/// Runs podman with extra variables in its environment (values that must
/// not be on its command line), killing it when `timeout` passes.
pub fn run_with_env(
    args: &[String],
    envs: &[(String, String)],
    timeout: Option<Duration>,
) -> Result<Output, PodmanError> {
    run_env_until(args, envs, None, timeout)
}

fn run_env_until(
    args: &[String],
    envs: &[(String, String)],
    stdin: Option<&[u8]>,
    timeout: Option<Duration>,
) -> Result<Output, PodmanError> {
    let mut expr = duct::cmd(binary(), args)
        .env(QUIET_CGROUPS_V1.0, QUIET_CGROUPS_V1.1)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        });
    for (k, v) in envs {
        expr = expr.env(k, v);
    }
    let _trace = Trace::new(args);
    let out = wait_child(with_stdin(expr, stdin), timeout.unwrap_or_else(|| default_deadline(args)), is_cleanup(args))
        .map_err(|stderr| PodmanError { command: command_line(args), status: None, stderr })?;
    Ok(Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Starts `expr` and waits for it until `timeout`, or, unless it is
/// `cleanup`, until a signal that arrived after it started.
fn wait_child(expr: duct::Expression, timeout: Duration, cleanup: bool) -> Result<std::process::Output, String> {
    let signals_before = crate::signals::received();
    let handle = Arc::new(expr.start().map_err(|e| e.to_string())?);
    let kill = handle.clone();
    // duct's `kill` is safe against a child that was just reaped.
    let _registered = crate::signals::register_child(move || {
        let _ = kill.kill();
    });
    let deadline = Instant::now() + timeout;
    // The child's exit is the condition; this thread is the only one that
    // waits for it, and a cleanup call must outlive a signal, so the poll is
    // `wait::poll_backoff`, which does not stop on one. It starts fine and
    // backs off to 10 ms: most calls end within a few ms, and a fixed 10 ms
    // would add up over a run.
    crate::wait::poll_backoff(Duration::from_millis(1), Duration::from_millis(10), || {
        match handle.try_wait() {
            Ok(Some(o)) => return Some(Ok(o.clone())),
            Ok(None) => {}
            Err(e) => return Some(Err(e.to_string())),
        }
        if !cleanup && crate::signals::received() > signals_before {
            stop(&handle, CANCEL_GRACE);
            return Some(Err(crate::signals::cancelled_message()));
        }
        if Instant::now() >= deadline {
            stop(&handle, Duration::ZERO);
            return Some(Err(format!("timed out after {timeout:?}")));
        }
        None
    })
}

/// Stops a child and its process group: SIGTERM, then SIGKILL after `grace`.
/// Only the thread that waits for the child calls this, between two polls
/// that found it running, so the group id is still the child's (an unreaped
/// leader keeps its pid and group).
fn stop(handle: &duct::Handle, grace: Duration) {
    use rustix::process::{kill_process_group, Pid, Signal};
    let group = handle.pids().first().and_then(|p| Pid::from_raw(*p as i32));
    if let Some(g) = group {
        if !grace.is_zero() {
            let _ = kill_process_group(g, Signal::TERM);
            let end = Instant::now() + grace;
            let tick = Duration::from_millis(10);
            let exited = crate::wait::poll_backoff(tick, tick, || {
                let exited = matches!(handle.try_wait(), Ok(Some(_)) | Err(_));
                (exited || Instant::now() >= end).then_some(exited)
            });
            if exited {
                return;
            }
        }
        let _ = kill_process_group(g, Signal::KILL);
    }
    let _ = handle.kill();
}

fn with_stdin(expr: duct::Expression, stdin: Option<&[u8]>) -> duct::Expression {
    match stdin {
        Some(bytes) => expr.stdin_bytes(bytes.to_vec()),
        None => expr.stdin_null(),
    }
}

/// Runs podman with `args` and fails on a non-zero exit.
pub fn run(args: &[String]) -> Result<Output, PodmanError> {
    let out = run_unchecked(args, None)?;
    if out.status != 0 {
        return Err(PodmanError { command: command_line(args), status: Some(out.status), stderr: out.stderr });
    }
    Ok(out)
}

pub fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_by_kind() {
        let check = |args: &[&str], expect: Duration| assert_eq!(default_deadline(&s(args)), expect, "{args:?}");
        check(&["build", "--layers", "-t", "x", "."], Duration::from_secs(1800));
        check(&["kube", "play", "f.yaml"], Duration::from_secs(300));
        check(&["exec", "c", "true"], Duration::from_secs(600));
        check(&["pod", "stop", "-t", "30", "p"], Duration::from_secs(90));
        check(&["rm", "-f", "-t", "0", "c"], Duration::from_secs(60));
        check(&["container", "inspect", "c"], DEFAULT_DEADLINE);
        check(&["version"], DEFAULT_DEADLINE);
    }

    #[test]
    fn cleanup_calls() {
        let check = |args: &[&str], expect: bool| assert_eq!(is_cleanup(&s(args)), expect, "{args:?}");
        check(&["pod", "stop", "-t", "1", "p"], true);
        check(&["pod", "rm", "-f", "p"], true);
        check(&["ps", "-a"], true);
        check(&["exec", "c", "sleep", "100"], false);
        check(&["kube", "play", "f"], false);
        check(&["run", "--rm", "--pod", "p", "i"], false);
        {
            let _scope = cleanup_scope();
            check(&["exec", "c", "pre-stop"], true);
        }
        check(&["exec", "c", "after"], false);
    }

    #[test]
    fn a_child_past_its_deadline_is_killed_with_its_group() {
        // sh starts a grandchild in the same group; both must go.
        let start = Instant::now();
        let expr = duct::cmd("sh", ["-c", "sleep 30 & sleep 30"]).stdout_capture().stderr_capture().unchecked();
        let expr = expr.before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        });
        let err = wait_child(expr, Duration::from_millis(200), false).unwrap_err();
        assert!(err.starts_with("timed out"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    }
}
