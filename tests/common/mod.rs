//! A builder for integration tests that run the real `podproof` binary, in the
//! style of `just`'s test builder:
//!
//! ```ignore
//! let out = Test::new().arg("render").args(["-", "--flavor", "cluster"]).stdin("...").expect_status(0).run();
//! assert!(out.stdout.contains("kind: Deployment"));
//! ```
//!
//! `run` checks every expectation that was set and panics with the whole
//! command, exit status, stdout and stderr when one fails, so a failing test
//! says what happened without a rerun. A test that wants to look at the output
//! itself uses `output`, which checks nothing.
//!
//! Each test crate includes this module with `mod common;` and uses only part
//! of it.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The crate root: where tests run unless they say otherwise.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The podproof binary cargo built for these tests.
pub fn podproof() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_podproof"))
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit code; 128 + N when the process died of signal N, as a shell reports it.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics, showing everything, unless stdout contains `needle`.
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        if !self.stdout.contains(needle) {
            panic!("stdout does not contain {needle:?}\n{self}");
        }
        self
    }

    /// Panics, showing everything, unless stderr contains `needle`.
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        if !self.stderr.contains(needle) {
            panic!("stderr does not contain {needle:?}\n{self}");
        }
        self
    }

    /// Panics, showing everything, if stderr contains `needle`.
    pub fn assert_stderr_lacks(&self, needle: &str) -> &Self {
        if self.stderr.contains(needle) {
            panic!("stderr contains {needle:?}\n{self}");
        }
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}\n---", self.status, self.stdout, self.stderr)
    }
}

/// One run of a program (podproof unless `program` says otherwise).
#[derive(Debug, Clone)]
#[must_use = "a Test does nothing until `run` or `output`"]
pub struct Test {
    program: PathBuf,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    current_dir: PathBuf,
    env: Vec<(OsString, Option<OsString>)>,
    timeout: Option<Duration>,
    status: Option<i32>,
    /// Whether `expect_status` set `status` (`output` checks only what was set).
    status_set: bool,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    stderr_lacks: Vec<String>,
}

impl Default for Test {
    fn default() -> Self {
        Test::new()
    }
}

impl Test {
    /// A run of podproof from the crate root that must exit 0.
    pub fn new() -> Test {
        Test {
            program: podproof(),
            args: Vec::new(),
            stdin: None,
            current_dir: root(),
            // A backtrace would make panic output differ between machines.
            env: vec![("RUST_BACKTRACE".into(), Some("0".into()))],
            timeout: None,
            status: Some(0),
            status_set: false,
            stdout: None,
            stderr: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            stderr_lacks: Vec::new(),
        }
    }

    /// Runs another program instead (e.g. `podman`, to inspect what podproof did).
    pub fn program(mut self, program: impl AsRef<Path>) -> Test {
        self.program = program.as_ref().to_path_buf();
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Feeds these bytes to stdin; without it stdin is empty (/dev/null).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Test {
        self.stdin = Some(input.into());
        self
    }

    /// Runs in `dir`; a relative `dir` is taken from the crate root.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Test {
        self.current_dir = root().join(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.env.push((key.as_ref().to_os_string(), Some(value.as_ref().to_os_string())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Test {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// Kills the process (and fails the run) when it takes longer than this.
    pub fn timeout(mut self, limit: Duration) -> Test {
        self.timeout = Some(limit);
        self
    }

    /// The exit code `run` demands (0 unless changed).
    pub fn expect_status(mut self, status: i32) -> Test {
        self.status = Some(status);
        self.status_set = true;
        self
    }

    /// Lets `run` accept any exit code.
    pub fn any_status(mut self) -> Test {
        self.status = None;
        self
    }

    /// The exact stdout `run` demands.
    pub fn expect_stdout(mut self, stdout: impl Into<String>) -> Test {
        self.stdout = Some(stdout.into());
        self
    }

    /// The exact stderr `run` demands.
    pub fn expect_stderr(mut self, stderr: impl Into<String>) -> Test {
        self.stderr = Some(stderr.into());
        self
    }

    pub fn stdout_contains(mut self, needle: impl Into<String>) -> Test {
        self.stdout_contains.push(needle.into());
        self
    }

    pub fn stderr_contains(mut self, needle: impl Into<String>) -> Test {
        self.stderr_contains.push(needle.into());
        self
    }

    pub fn stderr_lacks(mut self, needle: impl Into<String>) -> Test {
        self.stderr_lacks.push(needle.into());
        self
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        let mut s = self.program.file_name().unwrap_or(self.program.as_os_str()).to_string_lossy().to_string();
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
                s.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
            } else {
                s.push(' ');
                s.push_str(&a);
            }
        }
        s
    }

    /// Runs and checks every expectation (the exit status 0 unless another
    /// was set), panicking with the full output on a mismatch.
    pub fn run(self) -> Output {
        let out = self.spawn();
        self.check(&out, self.status);
        out
    }

    /// Runs and returns what happened, for a test that reads the output
    /// itself. The expectations that were set are still checked, as just's
    /// `Test` does: the exit status only when `expect_status` set one.
    pub fn output(&self) -> Output {
        let out = self.spawn();
        self.check(&out, self.status.filter(|_| self.status_set));
        out
    }

    /// Panics with the full output when `out` misses an expectation.
    fn check(&self, out: &Output, status: Option<i32>) {
        let mut problems = Vec::new();
        if let Some(s) = status {
            if out.status != s {
                problems.push(format!("exit status {} (expected {s})", out.status));
            }
        }
        if let Some(s) = &self.stdout {
            if out.stdout != *s {
                problems.push(format!("stdout differs; expected:\n{s}"));
            }
        }
        if let Some(s) = &self.stderr {
            if out.stderr != *s {
                problems.push(format!("stderr differs; expected:\n{s}"));
            }
        }
        for n in &self.stdout_contains {
            if !out.stdout.contains(n.as_str()) {
                problems.push(format!("stdout lacks {n:?}"));
            }
        }
        for n in &self.stderr_contains {
            if !out.stderr.contains(n.as_str()) {
                problems.push(format!("stderr lacks {n:?}"));
            }
        }
        for n in &self.stderr_lacks {
            if out.stderr.contains(n.as_str()) {
                problems.push(format!("stderr contains {n:?}"));
            }
        }
        if !problems.is_empty() {
            panic!(
                "`{}` in {}:\n  - {}\n{out}",
                self.command_line(),
                self.current_dir.display(),
                problems.join("\n  - ")
            );
        }
    }

    fn spawn(&self) -> Output {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.current_dir)
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start `{}` in {}: {e}", self.command_line(), self.current_dir.display())
        });
        // stdin is written on its own thread, so a child that prints before it
        // reads (or never reads) cannot block us while its pipes fill up.
        let writer = child.stdin.take().map(|mut pipe| {
            let bytes = self.stdin.clone().unwrap_or_default();
            std::thread::spawn(move || {
                // A child that exits without reading closes the pipe; that is its business.
                let _ = pipe.write_all(&bytes);
            })
        });
        let pid = child.id();
        // wait_with_output reads stdout and stderr together, so neither can fill up.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let result = match self.timeout {
            None => rx.recv().expect("the waiting thread always sends"),
            Some(limit) => match rx.recv_timeout(limit) {
                Ok(r) => r,
                Err(_) => {
                    // SAFETY: kill(2) takes no pointers. The pid is our own child's; it could
                    // only have been reused if the child was reaped in the instant since the
                    // timeout, and then the kill is harmless to us.
                    unsafe {
                        libc::kill(pid as libc::pid_t, libc::SIGKILL);
                    }
                    let out = rx.recv().expect("the waiting thread always sends");
                    let partial = out.map(|o| to_output(&o)).map(|o| o.to_string()).unwrap_or_default();
                    panic!("`{}` took longer than {limit:?} and was killed\n{partial}", self.command_line());
                }
            },
        };
        if let Some(w) = writer {
            let _ = w.join();
        }
        let out = result.unwrap_or_else(|e| panic!("cannot wait for `{}`: {e}", self.command_line()));
        to_output(&out)
    }
}

fn to_output(o: &std::process::Output) -> Output {
    use std::os::unix::process::ExitStatusExt;
    let status = o.status.code().or_else(|| o.status.signal().map(|s| 128 + s)).unwrap_or(-1);
    Output {
        status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Starts podproof with `args` in the crate root and reads its stderr until a
/// line contains `marker` (panicking, with what it printed, if it ends first);
/// returns the child and the rest of its stderr. Stdout is discarded.
pub fn start_until(
    args: &[&str],
    marker: &str,
) -> (std::process::Child, std::io::Lines<std::io::BufReader<std::process::ChildStderr>>) {
    let mut cmd = Command::new(podproof());
    cmd.args(args).current_dir(root());
    start_command_until(cmd, args, marker)
}

/// `start_until` for a command the caller prepared (its environment, say);
/// `args` are only shown when it ends before the marker.
pub fn start_command_until(
    mut cmd: Command,
    args: &[&str],
    marker: &str,
) -> (std::process::Child, std::io::Lines<std::io::BufReader<std::process::ChildStderr>>) {
    use std::io::BufRead;
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("podproof starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let mut seen = String::new();
    loop {
        match lines.next() {
            Some(Ok(l)) => {
                seen.push_str(&l);
                seen.push('\n');
                if l.contains(marker) {
                    break;
                }
            }
            _ => panic!("podproof {args:?} ended before printing {marker:?}:\n{seen}"),
        }
    }
    (child, lines)
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("podproof-test-").tempdir().expect("cannot create a temporary directory")
}

/// Every podman object labelled podproof.dev/run, as `kind name` lines: what
/// the podman tests check is empty before and after each of them.
pub fn leftovers() -> Vec<String> {
    leftovers_as(None)
}

/// What podproof left in the podman of `user` (rootless), or of this process.
pub fn leftovers_as(user: Option<&str>) -> Vec<String> {
    let q = |args: &[&str], kind: &str| -> Vec<String> {
        let mut cmd = match user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--", "podman"]).current_dir("/");
                c
            }
            None => Command::new("podman"),
        };
        let out = cmd.args(args).output().expect("podman runs");
        // A podman that fails lists nothing: that must fail the check, not pass it as clean.
        assert!(
            out.status.success(),
            "the leftovers check could not ask podman (`podman {}` exited {}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("{kind} {l}"))
            .collect()
    };
    let f = "label=podproof.dev/run";
    let mut v = q(&["ps", "-a", "--filter", f, "--format", "{{.Names}}"], "container");
    v.extend(q(&["pod", "ps", "--filter", f, "--format", "{{.Name}}"], "pod"));
    v.extend(q(&["volume", "ls", "--filter", f, "--format", "{{.Name}}"], "volume"));
    v.extend(q(&["network", "ls", "--filter", f, "--format", "{{.Name}}"], "network"));
    v
}

/// Why the tests that need podman cannot run here, or `None` when they can.
/// Asked once per test process.
pub fn podman_unavailable() -> Option<String> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| match Command::new("podman").args(["info", "--format", "{{.Host.OCIRuntime.Name}}"]).output() {
        Err(e) => Some(format!("podman cannot be started: {e}")),
        Ok(o) if !o.status.success() => {
            Some(format!("`podman info` failed: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
        Ok(_) => None,
    })
    .clone()
}

/// Whether a test that needs podman may go on. Without podman it says why and
/// the test returns early; under `PODPROOF_REQUIRE_PODMAN=1` (CI sets it) a
/// missing podman fails the test instead, so CI cannot pass by skipping.
pub fn podman_or_skip(test: &str) -> bool {
    let Some(why) = podman_unavailable() else { return true };
    assert!(
        std::env::var_os("PODPROOF_REQUIRE_PODMAN").is_none_or(|v| v != "1"),
        "{test} needs podman and PODPROOF_REQUIRE_PODMAN=1 is set: {why}"
    );
    eprintln!("skipped {test}: it needs podman: {why}");
    false
}

/// The lock of the tests that share this machine's podman, within one test
/// binary (across binaries, nextest's `podman` test group serialises them).
static PODMAN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the podman lock and checks that nothing is left from before; `None`
/// (the test returns) when podman is not available and may be skipped.
#[track_caller]
pub fn podman_exclusive() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !podman_or_skip(&format!("the podman test at {}", std::panic::Location::caller())) {
        return None;
    }
    let g = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(leftovers(), Vec::<String>::new(), "podproof objects were left before this test");
    Some(g)
}

/// Panics when podproof left a podman object behind.
pub fn assert_clean(after: &str) {
    assert_eq!(leftovers(), Vec::<String>::new(), "podproof objects left after {after}");
}

/// Where `scripts/setup.sh tools` puts helm and kubectl for the test suite. The
/// tests never take them from PATH: a machine's own kubectl may be anything.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("PODPROOF_TOOLS_DIR")
        .map_or_else(|| PathBuf::from("/opt/podproof/tools"), PathBuf::from)
        .join("bin")
}

/// The set-up's `name` (helm or kubectl), or `None` (the test returns) when it is
/// not installed; under `PODPROOF_REQUIRE_PODMAN=1` a missing tool fails the test,
/// like a missing podman, so CI cannot pass by skipping.
pub fn tool_or_skip(test: &str, name: &str) -> Option<PathBuf> {
    let path = tools_dir().join(name);
    if path.is_file() {
        return Some(path);
    }
    let why = format!("{} is missing (run scripts/setup.sh tools)", path.display());
    assert!(
        std::env::var_os("PODPROOF_REQUIRE_PODMAN").is_none_or(|v| v != "1"),
        "{test} needs {name} and PODPROOF_REQUIRE_PODMAN=1 is set: {why}"
    );
    eprintln!("skipped {test}: {why}");
    None
}
