//! The podman CLI: spawning `podman` with an argument vector, never through
//! a shell. Every call captures stdout and stderr together (duct reads both on
//! threads, so a chatty child cannot deadlock us) and turns a failure into an
//! error carrying the full command line, the exit status and stderr. This is
//! the fallback for what the API driver does not do (see ARCHITECTURE.md).

use super::{Output, PodmanError, Trace, QUIET_CGROUPS_V1};

use std::time::Duration;

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

/// Runs podman with `args`; a non-zero exit is returned, not an error.
pub fn run_unchecked(args: &[String], stdin: Option<&[u8]>) -> Result<Output, PodmanError> {
    run_until(args, stdin, None)
}

/// Runs podman, killing it when `timeout` passes.
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
        .unchecked();
    for (k, v) in envs {
        expr = expr.env(k, v);
    }
    let fail = |msg: String| PodmanError { command: command_line(args), status: None, stderr: msg };
    let _trace = Trace::new(args);
    let out = match timeout {
        None => with_stdin(expr, stdin).run().map_err(|e| fail(e.to_string()))?,
        Some(t) => {
            let handle = with_stdin(expr, stdin).start().map_err(|e| fail(e.to_string()))?;
            let deadline = std::time::Instant::now() + t;
            loop {
                match handle.try_wait() {
                    Ok(Some(o)) => break o.clone(),
                    Ok(None) if std::time::Instant::now() >= deadline => {
                        let _ = handle.kill();
                        return Err(fail(format!("timed out after {t:?}")));
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    Err(e) => return Err(fail(e.to_string())),
                }
            }
        }
    };
    Ok(Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
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
