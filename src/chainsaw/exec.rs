//! Running the processes of `script` and `command` operations (and the
//! kubectl calls that get, describe, events, podLogs and wait become): an
//! argument vector (a script's content is one argument of its shell, as in
//! chainsaw), the environment chainsaw gives, a deadline, and on the
//! deadline or Ctrl-C the whole process group killed, so nothing a script
//! started outlives it.

use crate::wait::{await_condition, Poll, WaitError};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The most output kept of one stream; the rest is dropped, and says so.
const MAX_OUTPUT: usize = 16 << 20;

#[derive(Debug, Clone, Default)]
pub struct Run {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the environment podproof runs in.
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub timeout: Duration,
    /// Put first on PATH (the kubectl the set-up installs).
    pub path_prepend: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    /// What Go's `cmd.Run` error says, as chainsaw's `$error` holds it:
    /// `exit status 2`, `signal: killed`; `None` on success.
    pub error: Option<String>,
    pub timed_out: bool,
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut dropped = false;
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if buf.len() + n <= MAX_OUTPUT {
                        buf.extend_from_slice(&chunk[..n]);
                    } else {
                        dropped = true;
                    }
                }
            }
        }
        let mut s = String::from_utf8_lossy(&buf).into_owned();
        if dropped {
            s.push_str("\n[podproof: output beyond 16 MiB was dropped]\n");
        }
        s
    })
}

/// Runs the process to its end or its deadline.
pub fn run(r: &Run) -> Result<Ran, String> {
    let mut cmd = Command::new(&r.program);
    cmd.args(&r.args).current_dir(&r.dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in &r.env {
        cmd.env(k, v);
    }
    if let Some(p) = &r.path_prepend {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut parts = vec![p.clone()];
        parts.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(parts) {
            cmd.env("PATH", joined);
        }
    }
    // A group of its own, so that the deadline kills what the script started too.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("exec: \"{}\": {}", r.program, crate::source::io_reason(&e)))?;
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let pid = child.id();
    let waited = await_condition(r.timeout, Duration::from_millis(10), || match child.try_wait() {
        Ok(Some(status)) => Poll::Ready(status),
        Ok(None) => Poll::Pending(None),
        Err(e) => Poll::Fail(e.to_string()),
    });
    let kill_group = || {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    };
    let (status, timed_out, interrupted) = match waited {
        Ok(s) => {
            // The script is done; what it left running in its group is not kept.
            kill_group();
            (Some(s), false, false)
        }
        Err(WaitError::Timeout(_)) => {
            kill_group();
            (child.wait().ok(), true, false)
        }
        Err(WaitError::Interrupted) => {
            kill_group();
            (child.wait().ok(), false, true)
        }
        Err(WaitError::Failed(e)) => {
            kill_group();
            let _ = child.wait();
            return Err(e);
        }
    };
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    let error = if interrupted {
        Some("interrupted".to_string())
    } else if timed_out {
        Some("signal: killed".to_string())
    } else {
        status.and_then(|s| {
            use std::os::unix::process::ExitStatusExt;
            if s.success() {
                None
            } else if let Some(code) = s.code() {
                Some(format!("exit status {code}"))
            } else {
                Some(format!("signal: {}", signal_name(s.signal().unwrap_or(0))))
            }
        })
    };
    Ok(Ran { stdout, stderr, error, timed_out })
}

fn signal_name(n: i32) -> String {
    match n {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGPIPE => "broken pipe".into(),
        other => format!("signal {other}"),
    }
}

/// Expands `$NAME` and `${NAME}` from `vars` (then the process's own
/// environment), as Go's os.Expand does for chainsaw's command arguments;
/// an unknown name expands to nothing.
pub fn expand(s: &str, vars: &[(String, String)]) -> String {
    let look = |name: &str| -> String {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            .unwrap_or_default()
    };
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' || i + 1 == chars.len() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        if chars[i + 1] == '{' {
            if let Some(end) = chars[i + 2..].iter().position(|c| *c == '}') {
                let name: String = chars[i + 2..i + 2 + end].iter().collect();
                out.push_str(&look(&name));
                i += end + 3;
                continue;
            }
        }
        let mut j = i + 1;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        if j == i + 1 {
            out.push('$');
            i += 1;
            continue;
        }
        let name: String = chars[i + 1..j].iter().collect();
        out.push_str(&look(&name));
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Ran {
        run(&Run {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("GREETING".into(), "hello".into())],
            dir: std::env::temp_dir(),
            timeout,
            path_prepend: None,
        })
        .unwrap()
    }

    #[test]
    fn runs_with_env_and_status() {
        let r = sh("echo $GREETING; echo oops >&2; exit 3", Duration::from_secs(10));
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.error.as_deref()),
            ("hello\n", "oops\n", Some("exit status 3"))
        );
        assert_eq!(sh("true", Duration::from_secs(10)).error, None);
    }

    #[test]
    fn deadline_kills_the_group() {
        let start = std::time::Instant::now();
        let r = sh("sleep 30 & sleep 30; echo never", Duration::from_millis(300));
        assert!(r.timed_out && r.error.as_deref() == Some("signal: killed"), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    }

    #[test]
    fn expansion() {
        let vars = vec![("NAMESPACE".to_string(), "ns".to_string())];
        assert_eq!(expand("-n $NAMESPACE ${NAMESPACE}x $ $UNSET_PODPROOF_X.", &vars), "-n ns nsx $ .");
        assert!(run(&Run {
            program: "/nonexistent/x".into(),
            dir: "/".into(),
            timeout: Duration::from_secs(1),
            ..Default::default()
        })
        .unwrap_err()
        .contains("exec:"));
    }
}
