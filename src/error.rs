//! The one error type of podproof, and located diagnostics.
//!
//! Every failure maps to an exit code (`exit`): 0 ok, 1 failed tests, lint
//! errors or a refused check, 2 bad input or usage, 3 a failure of the
//! environment (podman, the file system, teardown). The CLI prints a lowercase
//! headline and then one "Caused by:" line per cause, from the error's
//! `source()` chain.

use std::error::Error as _;
use std::fmt;

/// A file position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A message about an input, with where it is when that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// Line and column; `None` when the problem is the file as a whole.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: impl Into<String>, at: Option<(usize, usize)>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, file: file.into(), at, message: message.into() }
    }

    pub fn warning(file: impl Into<String>, at: Option<(usize, usize)>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, file: file.into(), at, message: message.into() }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((l, c)) => write!(f, "{}:{}:{}: {}: {}", self.file, l, c, self.severity, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.severity, self.message),
        }
    }
}

/// A failed podman call (`crate::podman` makes them; it is defined here, so
/// that the one error type can carry it as a variant of its own).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.headline())]
pub struct PodmanError {
    pub command: String,
    pub status: Option<i32>,
    pub stderr: String,
}

impl PodmanError {
    /// What the CLI says of it.
    pub fn headline(&self) -> String {
        let status = match self.status {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal or not started".into(),
        };
        if self.status.is_none() && self.stderr.starts_with("cancelled") {
            "podman call cancelled".to_string()
        } else if self.command.starts_with("podman API") {
            "podman API call failed".to_string()
        } else {
            format!("podman failed ({status})")
        }
    }

    /// Its "Caused by:" lines: the command, and stderr when there is any.
    pub fn causes(&self) -> Vec<String> {
        let mut out = vec![format!("command: {}", self.command)];
        let stderr = self.stderr.trim();
        if !stderr.is_empty() {
            out.push(format!("stderr: {stderr}"));
        }
        out
    }
}

/// The exit codes of podproof, in one place (as nextest's `NextestExitCode`),
/// so that CI can tell a red test from a broken machine.
pub mod exit {
    /// Everything passed.
    pub const OK: i32 = 0;
    /// Tests failed, lint found errors, a check refused (promotion's
    /// preconditions, `verify`, a cluster's dry run), or the app did not
    /// come up (a readiness wait timed out, a hook or an init container
    /// failed): the app is at fault.
    pub const FAILED: i32 = 1;
    /// The input or the command line cannot be used; nothing ran.
    pub const BAD_INPUT: i32 = 2;
    /// The environment failed: podman, the file system, a child process,
    /// a cancelled call or the teardown. The app may be fine.
    pub const ENVIRONMENT: i32 = 3;
    /// The text `--help` shows (`exit_codes_help!` for a literal).
    pub const HELP: &str = crate::exit_codes_help!();
}

/// The exit codes as `--help` shows them, a literal for `concat!`.
#[macro_export]
macro_rules! exit_codes_help {
    () => {
        "Exit codes: 0 ok; 1 tests failed, lint found errors or a check refused; 2 bad input or usage; \
         3 the environment failed (podman, the file system, a child process, teardown); 128+N a second \
         SIGINT/SIGTERM stopped podproof at once."
    };
}

/// One cause below a headline; its own cause, if any, is the next line of
/// "Caused by:" (`source()`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Cause {
    message: String,
    #[source]
    next: Option<Box<Cause>>,
}

impl Cause {
    fn chain(mut messages: Vec<String>) -> Option<Box<Cause>> {
        let mut next = None;
        while let Some(message) = messages.pop() {
            next = Some(Box::new(Cause { message, next }));
        }
        next
    }
}

/// Every way a podproof command can fail, after nextest's `ExpectedError`:
/// one variant per kind of failure, each with its exit code (`exit_code`),
/// and the causes as a `source()` chain. Displayed, an error is what the CLI
/// prints: "error: " and the headline, then "Caused by:" and the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that cannot be used: exit 2.
    #[error("{}", self.report())]
    BadInput {
        headline: String,
        #[source]
        cause: Option<Box<Cause>>,
    },
    /// A command line that makes no sense: exit 2.
    #[error("{}", self.report())]
    Usage(String),
    /// Tests failed, lint found errors, a check refused: exit 1. The report
    /// was already printed.
    #[error("{}", self.report())]
    Failed {
        headline: String,
        #[source]
        cause: Option<Box<Cause>>,
    },
    /// An operation of the environment (podman, the file system, a child
    /// process, teardown) failed: exit 3.
    #[error("{}", self.report())]
    Environment {
        headline: String,
        #[source]
        cause: Option<Box<Cause>>,
    },
    /// A podman call failed: exit 3. Its command and stderr are its causes.
    #[error("{}", self.report())]
    Podman(#[from] PodmanError),
    /// A file or directory could not be read or written: exit 3.
    #[error("{}", self.report())]
    Io(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_input(headline: impl Into<String>, causes: Vec<String>) -> Error {
        Error::BadInput { headline: headline.into(), cause: Cause::chain(causes) }
    }

    pub fn from_diagnostics(headline: impl Into<String>, diags: &[Diagnostic]) -> Error {
        Error::bad_input(headline, diags.iter().map(|d| d.to_string()).collect())
    }

    /// A failure of the environment (exit 3).
    pub fn runtime(headline: impl Into<String>) -> Error {
        Error::Environment { headline: headline.into(), cause: None }
    }

    pub fn failed(headline: impl Into<String>) -> Error {
        Error::Failed { headline: headline.into(), cause: None }
    }

    /// A failure with its causes (exit 1).
    pub fn failed_because(headline: impl Into<String>, causes: Vec<String>) -> Error {
        Error::Failed { headline: headline.into(), cause: Cause::chain(causes) }
    }

    /// The error as one of podproof's own variants (a podman or I/O error
    /// becomes an `Environment` with the same headline and causes).
    fn own(self) -> Error {
        match self {
            Error::Podman(_) | Error::Io(_) => {
                let (headline, causes) = (self.headline(), self.causes());
                Error::Environment { headline, cause: Cause::chain(causes) }
            }
            e => e,
        }
    }

    /// Adds a cause line below the others.
    pub fn because(self, cause: impl Into<String>) -> Error {
        let mut causes = self.causes();
        causes.push(cause.into());
        self.own().with_causes(causes)
    }

    /// Puts a new headline on top; the old one becomes the first cause.
    pub fn context(self, headline: impl Into<String>) -> Error {
        let mut causes = self.causes();
        causes.insert(0, self.headline());
        match self.own() {
            Error::Usage(u) => Error::Usage(u),
            e => e.with_headline(headline.into()).with_causes(causes),
        }
    }

    fn with_causes(self, causes: Vec<String>) -> Error {
        let cause = Cause::chain(causes);
        match self {
            Error::BadInput { headline, .. } => Error::BadInput { headline, cause },
            Error::Failed { headline, .. } => Error::Failed { headline, cause },
            Error::Environment { headline, .. } => Error::Environment { headline, cause },
            e => e,
        }
    }

    fn with_headline(self, headline: String) -> Error {
        match self {
            Error::BadInput { cause, .. } => Error::BadInput { headline, cause },
            Error::Failed { cause, .. } => Error::Failed { headline, cause },
            Error::Environment { cause, .. } => Error::Environment { headline, cause },
            e => e,
        }
    }

    /// The one place errors map to exit codes (`exit`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput { .. } | Error::Usage(_) => exit::BAD_INPUT,
            Error::Failed { .. } => exit::FAILED,
            Error::Environment { .. } | Error::Podman(_) | Error::Io(_) => exit::ENVIRONMENT,
        }
    }

    pub fn headline(&self) -> String {
        match self {
            Error::BadInput { headline, .. } | Error::Failed { headline, .. } | Error::Environment { headline, .. } => {
                headline.clone()
            }
            Error::Usage(u) => u.clone(),
            Error::Podman(e) => e.headline(),
            Error::Io(e) => e.to_string(),
        }
    }

    /// The "Caused by:" lines: the `source()` chain below the headline (a
    /// podman error's are its command and its stderr; an I/O error's own
    /// text is the headline).
    pub fn causes(&self) -> Vec<String> {
        let mut next = match self {
            Error::Podman(e) => return e.causes(),
            Error::Io(e) => e.source(),
            e => std::error::Error::source(e),
        };
        let mut out = Vec::new();
        while let Some(e) = next {
            out.push(e.to_string());
            next = e.source();
        }
        out
    }

    /// What the CLI prints: the headline, then one line per cause.
    pub fn report(&self) -> String {
        let mut f = format!("error: {}", self.headline());
        let causes = self.causes();
        if !causes.is_empty() {
            f.push_str("\nCaused by:");
            for c in causes {
                for (i, line) in c.lines().enumerate() {
                    if i == 0 {
                        f.push_str(&format!("\n  - {line}"));
                    } else {
                        f.push_str(&format!("\n    {line}"));
                    }
                }
            }
        }
        f
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_a_source_chain_and_each_kind_has_its_exit_code() {
        let e = Error::runtime("podman is gone").because("command: podman ps").because("stderr: no socket");
        let mut chain = Vec::new();
        let mut next = e.source();
        while let Some(c) = next {
            chain.push(c.to_string());
            next = c.source();
        }
        assert_eq!(chain, ["command: podman ps", "stderr: no socket"]);
        assert_eq!(e.exit_code(), exit::ENVIRONMENT);
        assert_eq!(
            e.context("teardown failed").to_string(),
            "error: teardown failed\nCaused by:\n  - podman is gone\n  - command: podman ps\n  - stderr: no socket"
        );
        let p = Error::from(PodmanError {
            command: "podman pod rm x".into(),
            status: Some(125),
            stderr: "no such pod\n".into(),
        });
        assert_eq!(p.exit_code(), exit::ENVIRONMENT);
        assert_eq!(
            p.to_string(),
            "error: podman failed (exit status 125)\nCaused by:\n  - command: podman pod rm x\n  - stderr: no such pod"
        );
        let io = Error::from(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!((io.exit_code(), io.to_string()), (exit::ENVIRONMENT, "error: gone".to_string()));
        assert_eq!(Error::failed_because("tests failed", vec!["a".into()]).exit_code(), exit::FAILED);
        assert_eq!(Error::bad_input("bad", vec![]).exit_code(), exit::BAD_INPUT);
        assert_eq!(Error::Usage("no".into()).because("ignored").to_string(), "error: no");
    }
}
