//! The reload-policy contract: `podproof.dev/reload` and `podproof.dev/reload-container`.
//!
//! The annotation values are fixed (later tools rely on them):
//! `signal SIGHUP`, `http METHOD URL`, `restart` and `watch`.

use std::fmt;

pub const ANNOTATION: &str = "podproof.dev/reload";
pub const CONTAINER_ANNOTATION: &str = "podproof.dev/reload-container";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this signal (canonical name, e.g. `SIGHUP`) to the container's main process.
    Signal(String),
    /// Send this request from inside the pod's network namespace.
    Http { method: String, url: String },
    /// Recreate the pod with the new config.
    Restart,
    /// The app watches its files; podproof only updates them.
    Watch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub action: Action,
    /// The container to signal; by default the first one mounting the changed object.
    pub container: Option<String>,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Signal(s) => write!(f, "signal {s}"),
            Action::Http { method, url } => write!(f, "http {method} {url}"),
            Action::Restart => f.write_str("restart"),
            Action::Watch => f.write_str("watch"),
        }
    }
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
    "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO",
    "PWR", "SYS",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Parses a signal name (`SIGHUP`, `HUP`, `hup` or a number 1..=64) into its canonical form.
pub fn parse_signal(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if SIGNALS.contains(&bare) {
        return Ok(format!("SIG{bare}"));
    }
    if let Ok(n) = bare.parse::<u8>() {
        if (1..=64).contains(&n) {
            return Ok(n.to_string());
        }
    }
    Err(format!("unknown signal `{s}`"))
}

/// Parses an annotation value.
pub fn parse(value: &str) -> Result<Action, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        ["restart"] => Ok(Action::Restart),
        ["watch"] => Ok(Action::Watch),
        ["signal", sig] => Ok(Action::Signal(parse_signal(sig)?)),
        ["signal"] => Err("`signal` needs a signal name, e.g. `signal SIGHUP`".into()),
        ["http", method, url] => {
            let m = method.to_ascii_uppercase();
            if !METHODS.contains(&m.as_str()) {
                return Err(format!("unknown HTTP method `{method}`"));
            }
            if !(url.starts_with("http://") && url.len() > "http://".len()) {
                return Err(format!("reload URL `{url}` must be an http:// URL (it is sent inside the pod)"));
            }
            Ok(Action::Http { method: m, url: url.to_string() })
        }
        ["http", ..] => Err("`http` needs a method and a URL, e.g. `http POST http://localhost:9090/-/reload`".into()),
        [] => Err("empty reload policy".into()),
        _ => Err(format!(
            "unknown reload policy `{value}`: expected `signal SIG`, `http METHOD URL`, `restart` or `watch`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got = match parse(input) {
            Ok(a) => a.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn policies() {
        check("signal SIGHUP", "signal SIGHUP");
        check("signal hup", "signal SIGHUP");
        check("signal 1", "signal 1");
        check("signal SIGNOPE", "error: unknown signal `SIGNOPE`");
        check("http POST http://localhost:9090/-/reload", "http POST http://localhost:9090/-/reload");
        check("http post http://localhost:9090/-/reload", "http POST http://localhost:9090/-/reload");
        check("http FETCH http://x", "error: unknown HTTP method `FETCH`");
        check(
            "http POST https://x",
            "error: reload URL `https://x` must be an http:// URL (it is sent inside the pod)",
        );
        check("restart", "restart");
        check("  watch ", "watch");
        check("", "error: empty reload policy");
        check("reload please", "error: unknown reload policy `reload please`: expected `signal SIG`, `http METHOD URL`, `restart` or `watch`");
    }
}
