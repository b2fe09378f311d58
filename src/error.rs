//! The one error type of podproof, and located diagnostics.
//!
//! Every failure maps to an exit code: 0 ok, 1 failed tests, lint errors or a
//! failed operation, 2 bad input or usage. The CLI prints a lowercase headline
//! and then one "Caused by:" line per cause.

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

/// Every way a podproof command can fail.
#[derive(Debug)]
pub enum Error {
    /// Input that cannot be used: exit 2.
    BadInput { headline: String, causes: Vec<String> },
    /// A command line that makes no sense: exit 2.
    Usage(String),
    /// Tests failed or lint found errors: exit 1. The report was already printed.
    Failed { headline: String, causes: Vec<String> },
    /// An operation (podman, the file system, a child process) failed: exit 1.
    Runtime { headline: String, causes: Vec<String> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_input(headline: impl Into<String>, causes: Vec<String>) -> Error {
        Error::BadInput { headline: headline.into(), causes }
    }

    pub fn from_diagnostics(headline: impl Into<String>, diags: &[Diagnostic]) -> Error {
        Error::BadInput { headline: headline.into(), causes: diags.iter().map(|d| d.to_string()).collect() }
    }

    pub fn runtime(headline: impl Into<String>) -> Error {
        Error::Runtime { headline: headline.into(), causes: Vec::new() }
    }

    pub fn failed(headline: impl Into<String>) -> Error {
        Error::Failed { headline: headline.into(), causes: Vec::new() }
    }

    /// Adds a cause line below the headline.
    pub fn because(mut self, cause: impl Into<String>) -> Error {
        match &mut self {
            Error::BadInput { causes, .. } | Error::Failed { causes, .. } | Error::Runtime { causes, .. } => {
                causes.push(cause.into())
            }
            Error::Usage(_) => {}
        }
        self
    }

    /// Puts a new headline on top; the old one becomes the first cause.
    pub fn context(self, headline: impl Into<String>) -> Error {
        let headline = headline.into();
        match self {
            Error::BadInput { headline: h, mut causes } => {
                causes.insert(0, h);
                Error::BadInput { headline, causes }
            }
            Error::Runtime { headline: h, mut causes } => {
                causes.insert(0, h);
                Error::Runtime { headline, causes }
            }
            Error::Failed { headline: h, mut causes } => {
                causes.insert(0, h);
                Error::Failed { headline, causes }
            }
            Error::Usage(u) => Error::Usage(u),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput { .. } | Error::Usage(_) => 2,
            Error::Failed { .. } | Error::Runtime { .. } => 1,
        }
    }

    pub fn headline(&self) -> &str {
        match self {
            Error::BadInput { headline, .. } | Error::Failed { headline, .. } | Error::Runtime { headline, .. } => {
                headline
            }
            Error::Usage(u) => u,
        }
    }

    pub fn causes(&self) -> &[String] {
        match self {
            Error::BadInput { causes, .. } | Error::Failed { causes, .. } | Error::Runtime { causes, .. } => causes,
            Error::Usage(_) => &[],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.headline())?;
        let causes = self.causes();
        if !causes.is_empty() {
            write!(f, "\nCaused by:")?;
            for c in causes {
                for (i, line) in c.lines().enumerate() {
                    if i == 0 {
                        write!(f, "\n  - {line}")?;
                    } else {
                        write!(f, "\n    {line}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::runtime(e.to_string())
    }
}
