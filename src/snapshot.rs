//! The snapshot store: insta-compatible `.snap` files with redactions.
//!
//! `snapshots/<test>__<name>.snap` holds a YAML header (source, description,
//! expression) and the content. A new or changed snapshot writes a `.snap.new`
//! draft next to it and fails; nothing is accepted silently (unlike
//! helm-unittest #246). `--update-snapshots` accepts; CI mode writes nothing.

use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// New or changed snapshots write `.snap.new` drafts and fail.
    Local,
    /// New and changed snapshots are accepted.
    Update,
    /// Nothing is written; missing or changed snapshots fail.
    Ci,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
    pub mode: Mode,
}

/// The header of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub source: String,
    pub description: String,
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Matched,
    /// Written by `--update-snapshots` (new or changed).
    Accepted,
    /// No snapshot yet; a draft was written unless in CI mode.
    New { draft: Option<PathBuf> },
    /// Differs from the stored snapshot.
    Changed { diff: String, draft: Option<PathBuf> },
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Matched | Outcome::Accepted)
    }
}

pub fn file_name(test: &str, name: &str) -> String {
    format!("{test}__{name}.snap")
}

/// Renders a snapshot file.
pub fn render_file(h: &Header, content: &str) -> String {
    let q = |s: &str| serde_yaml::to_string(s).unwrap_or_default().trim_end().to_string();
    format!("---\nsource: {}\ndescription: {}\nexpression: {}\n---\n{}\n", q(&h.source), q(&h.description), q(&h.expression), content.trim_end_matches('\n'))
}

/// Splits a snapshot file into header text and content.
pub fn parse_file(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    let header = rest[..end].to_string();
    let content = rest[end + 5..].trim_end_matches('\n').to_string();
    Some((header, content))
}

impl Store {
    pub fn path(&self, test: &str, name: &str) -> PathBuf {
        self.dir.join(file_name(test, name))
    }

    /// Compares `content` with the stored snapshot.
    pub fn check(&self, test: &str, name: &str, header: &Header, content: &str) -> std::io::Result<Outcome> {
        let path = self.path(test, name);
        let draft_path = PathBuf::from(format!("{}.new", path.display()));
        let content = content.trim_end_matches('\n');
        let stored = match std::fs::read_to_string(&path) {
            Ok(t) => parse_file(&t).map(|(_, c)| c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let write = |p: &Path| -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            std::fs::write(p, render_file(header, content))
        };
        match stored {
            Some(s) if s == content => {
                let _ = std::fs::remove_file(&draft_path);
                Ok(Outcome::Matched)
            }
            Some(s) => match self.mode {
                Mode::Update => {
                    write(&path)?;
                    let _ = std::fs::remove_file(&draft_path);
                    Ok(Outcome::Accepted)
                }
                Mode::Local => {
                    write(&draft_path)?;
                    Ok(Outcome::Changed { diff: diff(&s, content), draft: Some(draft_path) })
                }
                Mode::Ci => Ok(Outcome::Changed { diff: diff(&s, content), draft: None }),
            },
            None => match self.mode {
                Mode::Update => {
                    write(&path)?;
                    let _ = std::fs::remove_file(&draft_path);
                    Ok(Outcome::Accepted)
                }
                Mode::Local => {
                    write(&draft_path)?;
                    Ok(Outcome::New { draft: Some(draft_path) })
                }
                Mode::Ci => Ok(Outcome::New { draft: None }),
            },
        }
    }
}

/// A unified-style line diff (`-` stored, `+` new), from the LCS of the lines.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out.join("\n")
}

/// Colours a diff for a terminal.
pub fn colour_diff(d: &str) -> String {
    d.lines()
        .map(|l| match l.as_bytes().first() {
            Some(b'+') => format!("\x1b[32m{l}\x1b[0m"),
            Some(b'-') => format!("\x1b[31m{l}\x1b[0m"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What to redact in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Redactions {
    /// Exact values that must never appear (Secret values).
    pub secrets: Vec<String>,
    /// The run suffix in names (e.g. `k3x9q2`).
    pub run_suffix: Option<String>,
    /// Pod IPs on the run network.
    pub ips: Vec<String>,
    /// User rules: (regex, replacement).
    pub user: Vec<(Regex, String)>,
}

fn builtins() -> &'static [(Regex, &'static str)] {
    static B: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    B.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("built-in redaction regexes are valid");
        vec![
            (r(r"\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+"), "..[timestamp-dir]"),
            (r(r"\b[0-9a-f]{64}\b"), "[container-id]"),
            (r(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?( [A-Z]{3,4})?"), "[timestamp]"),
            (r(r"\b\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"), "[timestamp]"),
            (r(r"\b\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"), "[timestamp]"),
            (r(r"\b[A-Z][a-z]{2} [ 1-3]\d \d{2}:\d{2}:\d{2}\b"), "[timestamp]"),
            (r(r"\b[0-9a-f]{12}\b"), "[short-id]"),
            (r(r"\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)\b"), "[duration]"),
        ]
    })
}

impl Redactions {
    /// Applies secrets first (they must never leak), then user rules, then the built-ins.
    pub fn apply(&self, text: &str) -> String {
        let mut t = text.to_string();
        let mut secrets: Vec<&String> = self.secrets.iter().filter(|s| s.len() >= 3).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            t = t.replace(s.as_str(), "[secret]");
        }
        for (re, rep) in &self.user {
            t = re.replace_all(&t, rep.as_str()).into_owned();
        }
        for ip in &self.ips {
            if !ip.is_empty() {
                let re = Regex::new(&format!(r"\b{}\b", regex::escape(ip))).expect("escaped");
                t = re.replace_all(&t, "[pod-ip]").into_owned();
            }
        }
        if let Some(s) = &self.run_suffix {
            if !s.is_empty() {
                t = t.replace(&format!("-{s}"), "-[run]");
            }
        }
        for (re, rep) in builtins() {
            t = re.replace_all(&t, *rep).into_owned();
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let r = Redactions { secrets: vec!["hunter2".into()], run_suffix: Some("k3x9q2".into()), ips: vec!["10.89.1.3".into()], user: vec![(Regex::new("v[0-9]+").unwrap(), "v[N]".into())] };
        assert_eq!(r.apply(input), expect);
    }

    #[test]
    fn redactions() {
        check("pod prom-0-k3x9q2 at 10.89.1.3", "pod prom-0-[run] at [pod-ip]");
        check("password=hunter2", "password=[secret]");
        check("ts=2026-11-22T11:42:10.123Z took 12.3ms", "ts=[timestamp] took [duration]");
        check("..2026_11_22_11_41_55.101252532", "..[timestamp-dir]");
        check("id 0bd4f40ae45d and 2591d36d459fae69ec567f569e423efc2030d4ee6eaeed550d252082065b1c86", "id [short-id] and [container-id]");
        check("version: v2", "version: v[N]");
        check("10.0.0.1 - - [22/Nov/2026:11:42:10 +0000] GET", "10.0.0.1 - - [[timestamp]] GET");
    }

    #[test]
    fn diffs() {
        assert_eq!(diff("a\nb\nc", "a\nx\nc"), "  a\n- b\n+ x\n  c");
    }

    #[test]
    fn store_modes() {
        let dir = tempfile::tempdir().unwrap();
        let h = Header { source: "t.yaml".into(), description: "step".into(), expression: "exec".into() };
        let local = Store { dir: dir.path().into(), mode: Mode::Local };
        assert!(matches!(local.check("t", "s", &h, "one").unwrap(), Outcome::New { draft: Some(_) }));
        assert!(!local.path("t", "s").exists());
        let ci = Store { dir: dir.path().into(), mode: Mode::Ci };
        assert!(matches!(ci.check("t", "x", &h, "one").unwrap(), Outcome::New { draft: None }));
        let up = Store { dir: dir.path().into(), mode: Mode::Update };
        assert_eq!(up.check("t", "s", &h, "one").unwrap(), Outcome::Accepted);
        assert_eq!(local.check("t", "s", &h, "one\n").unwrap(), Outcome::Matched);
        assert!(matches!(local.check("t", "s", &h, "two").unwrap(), Outcome::Changed { .. }));
        let text = std::fs::read_to_string(local.path("t", "s")).unwrap();
        assert_eq!(text, "---\nsource: t.yaml\ndescription: step\nexpression: exec\n---\none\n");
    }
}
