//! The reload-policy contract: `podproof.dev/reload` and `podproof.dev/reload-container`.
//!
//! The annotation values are fixed (later tools rely on them):
//! `signal SIGHUP`, `http METHOD URL`, `restart` and `watch`.
//! `podproof.dev/reload-verify` holds a declared check (`Verify`) as a YAML or
//! JSON object: what shows that a new config is in effect for an app that says
//! nothing about its reloads.

use crate::matcher::Matcher;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

pub const ANNOTATION: &str = "podproof.dev/reload";
pub const CONTAINER_ANNOTATION: &str = "podproof.dev/reload-container";
pub const VERIFY_ANNOTATION: &str = "podproof.dev/reload-verify";

/// How long a declared check may take to pass when it gives no `within`.
pub const DEFAULT_VERIFY_WITHIN: Duration = Duration::from_secs(5);

/// A declared check: the new config is in effect when it passes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Verify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<VerifyHttp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<VerifyExec>,
    /// Matches the app's output since the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Matcher>,
    #[serde(default, skip_serializing_if = "VerifyExpect::is_empty")]
    pub expect: VerifyExpect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// A request sent from inside the pod's network namespace.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyHttp {
    pub port: u16,
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

fn root_path() -> String {
    "/".into()
}

fn get() -> String {
    "GET".into()
}

/// A command run in the reloaded container (or the one named).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyExec {
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// What the check must see; without it an http check wants a 2xx answer and an exec check exit code 0.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Matcher>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<Matcher>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl VerifyExpect {
    pub fn is_empty(&self) -> bool {
        self == &VerifyExpect::default()
    }
}

impl Verify {
    /// Problems with the check, each with the JSON pointer (relative to the check) it is about.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let kinds = [self.http.is_some(), self.exec.is_some(), self.log.is_some()].iter().filter(|k| **k).count();
        if kinds != 1 {
            out.push((String::new(), "a reload check takes exactly one of http, exec or log".to_string()));
        }
        if let Some(h) = &self.http {
            if h.port == 0 {
                out.push(("/http/port".into(), "port must be between 1 and 65535, found 0".into()));
            }
            if !METHODS.contains(&h.method.to_ascii_uppercase().as_str()) {
                out.push(("/http/method".into(), format!("unknown HTTP method `{}`", h.method)));
            }
        }
        if let Some(x) = &self.exec {
            if x.command.is_empty() {
                out.push(("/exec/command".into(), "the command is empty".into()));
            }
        }
        if let Some(w) = &self.within {
            if let Err(e) = crate::wait::parse_duration(w) {
                out.push(("/within".into(), e));
            }
        }
        let e = &self.expect;
        if self.http.is_none() && (e.status.is_some() || e.body.is_some()) {
            out.push(("/expect".into(), "status and body are for an http check".into()));
        }
        if self.exec.is_none() && (e.stdout.is_some() || e.exit_code.is_some()) {
            out.push(("/expect".into(), "stdout and exitCode are for an exec check".into()));
        }
        for (k, m) in [("log", &self.log), ("expect/body", &e.body), ("expect/stdout", &e.stdout)] {
            if let Some(m) = m {
                matcher_problems(&format!("/{k}"), m, &mut out);
            }
        }
        out
    }

    pub fn within(&self) -> Duration {
        self.within.as_deref().and_then(|w| crate::wait::parse_duration(w).ok()).unwrap_or(DEFAULT_VERIFY_WITHIN)
    }

    /// A short description for reload lines, e.g. `GET :8080/version body contains "v2"`.
    pub fn describe(&self) -> String {
        let e = &self.expect;
        let mut parts = Vec::new();
        if let Some(h) = &self.http {
            parts.push(format!("{} :{}{}", h.method.to_ascii_uppercase(), h.port, h.path));
            match (e.status, &e.body) {
                (None, None) => parts.push("answers 2xx".into()),
                (s, b) => {
                    if let Some(s) = s {
                        parts.push(format!("status {s}"));
                    }
                    if let Some(b) = b {
                        parts.push(format!("body {}", b.describe()));
                    }
                }
            }
        }
        if let Some(x) = &self.exec {
            parts.push(format!("exec {}", x.command.join(" ")));
            if let Some(c) = e.exit_code {
                parts.push(format!("exit code {c}"));
            }
            if let Some(m) = &e.stdout {
                parts.push(format!("stdout {}", m.describe()));
            }
            if e.exit_code.is_none() && e.stdout.is_none() {
                parts.push("exit code 0".into());
            }
        }
        if let Some(m) = &self.log {
            parts.push(format!("log {}", m.describe()));
        }
        parts.join(" ")
    }
}

fn matcher_problems(ptr: &str, m: &Matcher, out: &mut Vec<(String, String)>) {
    if m.equals.is_none() && m.contains.is_none() && m.matches.is_none() && m.not.is_none() {
        out.push((ptr.to_string(), "a matcher needs one of equals, contains, matches or not".into()));
    }
    if let Some(re) = &m.matches {
        if let Err(e) = regex::Regex::new(re) {
            out.push((format!("{ptr}/matches"), format!("invalid regex: {e}")));
        }
    }
    if let Some(n) = &m.not {
        matcher_problems(&format!("{ptr}/not"), n, out);
    }
}

/// Parses the `podproof.dev/reload-verify` annotation (a YAML or JSON object).
pub fn parse_verify(value: &str) -> Result<Verify, String> {
    let v: Verify = serde_yaml::from_str(value).map_err(|e| format!("{VERIFY_ANNOTATION}: {e}"))?;
    match v.problems().first() {
        Some((ptr, why)) if ptr.is_empty() => Err(format!("{VERIFY_ANNOTATION}: {why}")),
        Some((ptr, why)) => Err(format!("{VERIFY_ANNOTATION}: {}: {why}", ptr.trim_start_matches('/'))),
        None => Ok(v),
    }
}

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
    /// The declared check that shows the new config is in effect.
    pub verify: Option<Verify>,
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

    fn check_verify(input: &str, expect: &str) {
        let got = match parse_verify(input) {
            Ok(v) => v.describe(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn verify_annotations() {
        check_verify(
            "{http: {port: 8080, path: /version}, expect: {body: {equals: v2}}}",
            "GET :8080/version body equals \"v2\"",
        );
        check_verify("{http: {port: 8080}}", "GET :8080/ answers 2xx");
        check_verify(
            r#"{"exec": {"command": ["psql", "-c", "show work_mem"]}, "expect": {"stdout": {"contains": "8MB"}}}"#,
            "exec psql -c show work_mem stdout contains \"8MB\"",
        );
        check_verify("{exec: {command: [true]}}", "exec true exit code 0");
        check_verify("{log: {contains: loaded}, within: 2s}", "log contains \"loaded\"");
        check_verify("{}", "error: podproof.dev/reload-verify: a reload check takes exactly one of http, exec or log");
        check_verify(
            "{log: {contains: a}, exec: {command: [x]}}",
            "error: podproof.dev/reload-verify: a reload check takes exactly one of http, exec or log",
        );
        check_verify(
            "{log: {}}",
            "error: podproof.dev/reload-verify: log: a matcher needs one of equals, contains, matches or not",
        );
        check_verify("{log: {matches: '('}}", "error: podproof.dev/reload-verify: log/matches: invalid regex: regex parse error:\n    (\n    ^\nerror: unclosed group");
        check_verify(
            "{log: {contains: a}, within: soon}",
            "error: podproof.dev/reload-verify: within: invalid duration `soon`: expected e.g. 500ms, 10s, 5m",
        );
        check_verify(
            "{log: {contains: a}, expect: {status: 200}}",
            "error: podproof.dev/reload-verify: expect: status and body are for an http check",
        );
        check_verify(
            "{http: {port: 0}}",
            "error: podproof.dev/reload-verify: http/port: port must be between 1 and 65535, found 0",
        );
        check_verify("{htp: {port: 1}}", "error: podproof.dev/reload-verify: unknown field `htp`, expected one of `http`, `exec`, `log`, `expect`, `within` at line 1 column 2");
    }
}
