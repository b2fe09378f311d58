//! The snapshot store: insta-compatible `.snap` files with redactions.
//!
//! `snapshots/<test>__<name>.snap` holds a YAML header (source, description,
//! expression) and the content, exactly as insta writes it, so `cargo insta
//! review` can read the files too. A new or changed snapshot writes a
//! `.snap.new` draft next to it and fails; nothing is accepted silently (unlike
//! helm-unittest #246). `--update-snapshots` accepts; CI mode writes nothing.

use regex::{Captures, Regex};
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

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

/// The header of a snapshot file; empty fields are left out, as insta does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    New {
        draft: Option<PathBuf>,
    },
    /// Differs from the stored snapshot.
    Changed {
        diff: String,
        draft: Option<PathBuf>,
    },
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Matched | Outcome::Accepted)
    }
}

pub fn file_name(test: &str, name: &str) -> String {
    format!("{test}__{name}.snap")
}

/// `snapshots/` at the project root above `cwd`.
pub fn default_dir(cwd: &Path) -> PathBuf {
    crate::source::project_root(cwd).join("snapshots")
}

/// Content as insta compares it: LF line ends and no trailing whitespace.
fn normalize(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}

/// Renders a snapshot file with insta's YAML emitter lineage, so the header is
/// byte-identical to what insta would write.
pub fn render_file(h: &Header, content: &str) -> String {
    let mut map = yaml_rust2::yaml::Hash::new();
    for (k, v) in [("source", &h.source), ("description", &h.description), ("expression", &h.expression)] {
        if !v.is_empty() {
            map.insert(Yaml::String(k.into()), Yaml::String(v.clone()));
        }
    }
    let mut out = String::new();
    YamlEmitter::new(&mut out).dump(&Yaml::Hash(map)).expect("writing to a String cannot fail");
    format!("{out}\n---\n{}\n", normalize(content))
}

/// Splits a snapshot file into header and content the way insta reads it: the
/// header runs from a `---` line to the next; the content is the rest.
pub fn parse_file(text: &str) -> Option<(Header, String)> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let header: Vec<&str> = lines.by_ref().take_while(|l| l.trim_end() != "---").collect();
    let content = normalize(&lines.collect::<Vec<_>>().join("\n"));
    let doc = YamlLoader::load_from_str(&header.join("\n")).ok()?.into_iter().next().unwrap_or(Yaml::Null);
    let field = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    Some((
        Header { source: field("source"), description: field("description"), expression: field("expression") },
        content,
    ))
}

/// A pending `.snap.new` draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// `<test>__<name>`.
    pub key: String,
    pub path: PathBuf,
}

impl Draft {
    /// The snapshot the draft would replace.
    pub fn target(&self) -> PathBuf {
        self.path.with_extension("")
    }

    pub fn accept(&self) -> io::Result<()> {
        std::fs::rename(&self.path, self.target())
    }

    pub fn reject(&self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }

    /// The draft's header, the stored content (if any) and the new content.
    pub fn read(&self) -> io::Result<(Header, Option<String>, String)> {
        let bad =
            |p: &Path| io::Error::new(io::ErrorKind::InvalidData, format!("{} is not a snapshot file", p.display()));
        let (header, new) = parse_file(&std::fs::read_to_string(&self.path)?).ok_or_else(|| bad(&self.path))?;
        let old = match std::fs::read_to_string(self.target()) {
            Ok(t) => Some(parse_file(&t).ok_or_else(|| bad(&self.target()))?.1),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok((header, old, new))
    }
}

impl Store {
    pub fn path(&self, test: &str, name: &str) -> PathBuf {
        self.dir.join(file_name(test, name))
    }

    /// Compares `content` with the stored snapshot.
    pub fn check(&self, test: &str, name: &str, header: &Header, content: &str) -> io::Result<Outcome> {
        crate::state::check_file_name(&file_name(test, name))?;
        let path = self.path(test, name);
        let draft = path.with_extension("snap.new");
        let content = normalize(content);
        let file = render_file(header, &content);
        let stored = match std::fs::read_to_string(&path) {
            Ok(t) => Some((parse_file(&t).map(|(_, c)| c).unwrap_or_default(), t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let write = |p: &Path| -> io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            crate::state::write_file_in(&self.dir, name, file.as_bytes()).map(|_| ())
        };
        // A draft from an earlier run is stale once the snapshot matches or is accepted.
        let drop_draft = || match std::fs::remove_file(&draft) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        match (stored, self.mode) {
            (Some((s, text)), Mode::Update) if s == content => {
                // Keep the header current (a renamed step, say) without calling it a change.
                if text != file {
                    write(&path)?;
                }
                drop_draft()?;
                Ok(Outcome::Matched)
            }
            (Some((s, _)), mode) if s == content => {
                if mode == Mode::Local {
                    drop_draft()?;
                }
                Ok(Outcome::Matched)
            }
            (_, Mode::Update) => {
                write(&path)?;
                drop_draft()?;
                Ok(Outcome::Accepted)
            }
            (Some((s, _)), Mode::Local) => {
                write(&draft)?;
                Ok(Outcome::Changed { diff: diff(&s, &content), draft: Some(draft) })
            }
            (Some((s, _)), Mode::Ci) => Ok(Outcome::Changed { diff: diff(&s, &content), draft: None }),
            (None, Mode::Local) => {
                write(&draft)?;
                Ok(Outcome::New { draft: Some(draft) })
            }
            (None, Mode::Ci) => Ok(Outcome::New { draft: None }),
        }
    }

    /// Pending drafts, by key.
    pub fn drafts(&self) -> io::Result<Vec<Draft>> {
        Ok(self.files(".snap.new")?.into_iter().map(|(key, path)| Draft { key, path }).collect())
    }

    /// Stored snapshots as (key, path), by key.
    pub fn snapshots(&self) -> io::Result<Vec<(String, PathBuf)>> {
        self.files(".snap")
    }

    fn files(&self, suffix: &str) -> io::Result<Vec<(String, PathBuf)>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in entries {
            let path = e?.path();
            let key =
                path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(suffix)).map(str::to_string);
            if let Some(key) = key.filter(|_| path.is_file()) {
                out.push((key, path));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Lines of context kept around each change.
const CONTEXT: usize = 3;

/// A unified-style line diff (`-` stored, `+` new). Unchanged lines further
/// than a few lines from a change are left out, behind `@@` hunk headers.
/// The line diff is `similar`'s Myers diff (insta's own); past its deadline
/// it gives an approximate diff, still correct, instead of taking minutes on
/// a huge log.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Each op is (tag, old index, new index): the line is a[old] for ' ' and '-', b[new] for '+'.
    let mut ops: Vec<(char, usize, usize)> = Vec::new();
    let d = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(std::time::Duration::from_secs(2))
        .diff_slices(&a, &b);
    for op in d.ops() {
        let (old_r, new_r) = (op.old_range(), op.new_range());
        match op.tag() {
            similar::DiffTag::Equal => ops.extend(old_r.zip(new_r).map(|(i, j)| (' ', i, j))),
            _ => {
                ops.extend(old_r.clone().map(|i| ('-', i, new_r.start)));
                ops.extend(new_r.map(|j| ('+', old_r.end, j)));
            }
        }
    }
    let mut keep = vec![false; ops.len()];
    for (c, _) in ops.iter().enumerate().filter(|(_, o)| o.0 != ' ') {
        keep[c.saturating_sub(CONTEXT)..(c + CONTEXT + 1).min(ops.len())].fill(true);
    }
    let elided = keep.contains(&false);
    let mut out = Vec::new();
    let mut k = 0;
    while k < ops.len() {
        if !keep[k] {
            k += 1;
            continue;
        }
        let end = (k..ops.len()).find(|&e| !keep[e]).unwrap_or(ops.len());
        if elided {
            let count = |tag: char| ops[k..end].iter().filter(|o| o.0 == ' ' || o.0 == tag).count();
            out.push(format!("@@ -{},{} +{},{} @@", ops[k].1 + 1, count('-'), ops[k].2 + 1, count('+')));
        }
        for &(tag, i, j) in &ops[k..end] {
            out.push(format!("{tag} {}", if tag == '+' { b[j] } else { a[i] }));
        }
        k = end;
    }
    out.join("\n")
}

/// Colours a diff for a terminal.
pub fn colour_diff(d: &str) -> String {
    d.lines()
        .map(|l| match l.as_bytes().first() {
            Some(b'+') => format!("\x1b[32m{l}\x1b[0m"),
            Some(b'-') => format!("\x1b[31m{l}\x1b[0m"),
            Some(b'@') => format!("\x1b[36m{l}\x1b[0m"),
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
    /// The run id (e.g. `tk3x9q2`), in network and state names.
    pub run_id: Option<String>,
    /// The run suffix in names (e.g. `k3x9q2`).
    pub run_suffix: Option<String>,
    /// Pod IPs on the run network.
    pub ips: Vec<String>,
    /// The run network's IPv4 subnets: any address in them is a pod or gateway.
    pub subnets: Vec<(Ipv4Addr, u8)>,
    /// User rules: (regex, replacement).
    pub user: Vec<(Regex, String)>,
}

/// Parses `10.89.0.0/24`.
pub fn parse_subnet(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, bits) = s.trim().split_once('/')?;
    Some((ip.parse().ok()?, bits.parse().ok().filter(|b| *b <= 32)?))
}

fn in_subnet(ip: Ipv4Addr, (net, bits): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn builtins() -> &'static [(Regex, &'static str)] {
    static B: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    B.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("built-in redaction regexes are valid");
        let month = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
        let day = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
        // Longer, more specific forms come first so their parts are not taken apart.
        vec![
            (r(r"\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+"), "..[timestamp-dir]"),
            (r(r"\b[0-9a-f]{64}\b"), "[container-id]"),
            (r(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "[uuid]"),
            // RFC 3339 and ISO 8601, also Python's `,123` millis and Go's `+0000 UTC m=+0.1`.
            (r(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}([.,]\d+)?(Z|( ?[+-]\d{2}:?\d{2})( [A-Z]{3,5}\b)?)?( m=[+-]\d+\.\d+)?"), "[timestamp]"),
            // Common Log Format (nginx, Apache): 22/Nov/2026:11:42:10 +0000.
            (r(&format!(r"\b\d{{2}}/{month}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}} [+-]\d{{4}}")), "[timestamp]"),
            // RFC 1123 (HTTP dates): Sun, 22 Nov 2026 11:42:10 GMT.
            (r(&format!(r"\b{day}, \d{{1,2}} {month} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}}( (GMT|UTC|[+-]\d{{4}}))?")), "[timestamp]"),
            // Go's log package: 2026/11/22 11:42:10.123456.
            (r(r"\b\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?"), "[timestamp]"),
            // syslog (Nov 22 11:42:10) and date(1)/ctime (Sun Nov 22 11:42:10 UTC 2026).
            (r(&format!(r"\b({day} )?{month} [ 1-3]?\d \d{{2}}:\d{{2}}:\d{{2}}(\.\d+)?(( [A-Z]{{3,5}})? \d{{4}}\b)?")), "[timestamp]"),
            // klog headers keep their severity letter: I1122 11:42:10.123456.
            (r(r"\b([IWEF])\d{4} \d{2}:\d{2}:\d{2}\.\d{6}\b"), "${1}[timestamp]"),
            // A time of day with a fraction is a clock reading, never configuration.
            (r(r"\b\d{2}:\d{2}:\d{2}\.\d{3,9}\b"), "[timestamp]"),
            (r(r"\b[0-9a-f]{12}\b"), "[short-id]"),
            // Measured durations: fractional (12.3ms, 1m2.5s), sub-second (250ms)
            // or compound (2m30s). Whole `15s`, `5m` or a `50m` CPU are
            // configuration and are kept, so a changed setting still shows.
            (r(r"\b(\d+h)?(\d+m)?\d+\.\d+(ns|µs|us|ms|s|m|h)\b|\b\d+(ns|µs|us|ms)\b|\b\d+h\d+m(\d+s)?\b|\b(\d+h)?\d+m\d+s\b"), "[duration]"),
        ]
    })
}

fn ipv4() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("valid"))
}

impl Redactions {
    /// Applies secrets first (they must never leak), then user rules, then the
    /// run's names and addresses, then the built-ins.
    pub fn apply(&self, text: &str) -> String {
        // The process-wide layer first: it knows values set while the run goes.
        let mut t = self.hide_secrets(&crate::redact::text(text));
        for (re, rep) in &self.user {
            t = re.replace_all(&t, rep.as_str()).into_owned();
        }
        for ip in self.ips.iter().filter(|i| !i.is_empty()) {
            let re = Regex::new(&format!(r"\b{}\b", regex::escape(ip))).expect("escaped");
            t = re.replace_all(&t, "[pod-ip]").into_owned();
        }
        if !self.subnets.is_empty() {
            t = ipv4()
                .replace_all(&t, |c: &Captures| match c[0].parse::<Ipv4Addr>() {
                    Ok(ip) if self.subnets.iter().any(|s| in_subnet(ip, *s)) => "[pod-ip]".to_string(),
                    _ => c[0].to_string(),
                })
                .into_owned();
        }
        if let Some(id) = self.run_id.as_deref().filter(|s| !s.is_empty()) {
            let re = Regex::new(&format!(r"\b{}\b", regex::escape(id))).expect("escaped");
            t = re.replace_all(&t, "[run-id]").into_owned();
        }
        if let Some(s) = self.run_suffix.as_deref().filter(|s| !s.is_empty()) {
            t = t.replace(&format!("-{s}"), "-[run]");
        }
        for (re, rep) in builtins() {
            t = re.replace_all(&t, *rep).into_owned();
        }
        t
    }

    /// Replaces every Secret value with `[secret]`: the whole value, trimmed,
    /// and each line of a multi-line one (a key or certificate may be printed
    /// reflowed). Values under 3 characters would blank out ordinary text.
    pub fn hide_secrets(&self, text: &str) -> String {
        let mut values: Vec<&str> = Vec::new();
        for s in &self.secrets {
            values.push(s);
            values.push(s.trim());
            if s.trim().contains('\n') {
                values.extend(s.lines().map(str::trim));
            }
        }
        values.retain(|v| v.len() >= 3);
        // Longest first, so a value that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        values.into_iter().fold(text.to_string(), |t, v| t.replace(v, "[secret]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let r = Redactions {
            secrets: vec![
                "hunter2".into(),
                "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\n".into(),
                "ab".into(),
            ],
            run_id: Some("tk3x9q2".into()),
            run_suffix: Some("k3x9q2".into()),
            ips: vec!["10.89.1.3".into()],
            subnets: vec![parse_subnet("10.89.7.0/24").unwrap()],
            user: vec![(Regex::new("v[0-9]+").unwrap(), "v[N]".into())],
        };
        assert_eq!(r.apply(input), expect, "input: {input}");
    }

    #[test]
    fn redactions() {
        for (input, expect) in [
            ("pod prom-0-k3x9q2 at 10.89.1.3", "pod prom-0-[run] at [pod-ip]"),
            ("10.89.1.30 10.89.7.200 10.89.8.1", "10.89.1.30 [pod-ip] 10.89.8.1"),
            ("network podproof-tk3x9q2 run=tk3x9q2", "network podproof-[run-id] run=[run-id]"),
            ("password=hunter2 ab abc", "password=[secret] ab abc"),
            ("key: MIIEvQIBADANBg", "key: [secret]"),
            ("ts=2026-11-22T11:42:10.123Z took 12.3ms", "ts=[timestamp] took [duration]"),
            ("2026-11-22T11:42:10Z INFO ready", "[timestamp] INFO ready"),
            ("2026-11-22 11:42:10,123 - root - INFO", "[timestamp] - root - INFO"),
            ("at 2026-11-22 11:42:10.5 +0000 UTC m=+0.000012 ok", "at [timestamp] ok"),
            ("2026-11-22T11:42:10+01:00", "[timestamp]"),
            ("..2026_11_22_11_41_55.101252532", "..[timestamp-dir]"),
            (
                "id 0bd4f40ae45d and 2591d36d459fae69ec567f569e423efc2030d4ee6eaeed550d252082065b1c86",
                "id [short-id] and [container-id]",
            ),
            ("uid dcc6fe55-8fb1-864b-3e43-9f0f8f2b1c7a", "uid [uuid]"),
            ("version: v2", "version: v[N]"),
            ("10.0.0.1 - - [22/Nov/2026:11:42:10 +0000] GET", "10.0.0.1 - - [[timestamp]] GET"),
            ("Date: Sun, 22 Nov 2026 11:42:10 GMT", "Date: [timestamp]"),
            ("2026/11/22 11:42:10.123456 listening", "[timestamp] listening"),
            ("Nov 22 11:42:10 web httpd[1]: up", "[timestamp] web httpd[1]: up"),
            ("Nov  2 01:02:03 web", "[timestamp] web"),
            ("Sun Nov 22 11:42:10 UTC 2026", "[timestamp]"),
            ("I1122 11:42:10.123456   12345 main.go:12] ok", "I[timestamp]   12345 main.go:12] ok"),
            ("11:42:10.123 INFO", "[timestamp] INFO"),
            (
                "took 250ms, 1.5s, 2m30s, 1h2m3.5s, 40µs",
                "took [duration], [duration], [duration], [duration], [duration]",
            ),
            ("scrape_interval: 15s\ncpu: 50m\nretention: 24h", "scrape_interval: 15s\ncpu: 50m\nretention: 24h"),
        ] {
            check(input, expect);
        }
    }

    #[test]
    fn diffs() {
        let long = |edit: usize| {
            (1..=20).map(|i| if i == edit { "x".to_string() } else { i.to_string() }).collect::<Vec<_>>().join("\n")
        };
        for (old, new, expect) in [
            ("a\nb\nc", "a\nx\nc", "  a\n- b\n+ x\n  c"),
            ("", "a\nb", "+ a\n+ b"),
            ("a\nb", "a", "  a\n- b"),
            (&long(0), &long(10), "@@ -7,7 +7,7 @@\n  7\n  8\n  9\n- 10\n+ x\n  11\n  12\n  13"),
        ] {
            assert_eq!(diff(old, new), expect);
        }
        // A long log with one changed line shows that line, not the whole
        // middle as removed and added (the old LCS table's fallback).
        let log =
            |changed: bool| (0..5000).map(move |i| if changed && i == 2500 { "x".into() } else { format!("line {i}") });
        let (old, new): (Vec<String>, Vec<String>) = (log(false).collect(), log(true).collect());
        let d = diff(&format!("first\n{}", old.join("\n")), &format!("second\n{}", new.join("\n")));
        assert_eq!(d.lines().filter(|l| l.starts_with(['-', '+'])).count(), 4, "{d}");
    }

    #[test]
    fn files_read_like_insta() {
        let h =
            Header { source: "fixtures/tests/a: b.yaml".into(), description: "step".into(), expression: String::new() };
        let text = render_file(&h, "one\r\ntwo  \n\n");
        assert_eq!(text, "---\nsource: \"fixtures/tests/a: b.yaml\"\ndescription: step\n---\none\ntwo\n");
        assert_eq!(parse_file(&text), Some((h, "one\ntwo".into())));
        assert_eq!(
            parse_file("---\r\nsource: x\r\n---\r\nbody\r\n").map(|(h, c)| (h.source, c)),
            Some(("x".into(), "body".into()))
        );
        assert_eq!(parse_file("no header"), None);
    }

    #[test]
    fn insta_reads_ours_and_we_read_insta() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t__s.snap");
        let h = Header {
            source: "t.yaml".into(),
            description: "serves: the page".into(),
            expression: "script sh -c \"echo a\necho b\"".into(),
        };
        std::fs::write(&path, render_file(&h, "a\n  b\n")).unwrap();
        let snap = insta::Snapshot::from_file(&path).unwrap();
        let md = snap.metadata();
        assert_eq!(
            (md.source(), md.description(), md.expression()),
            (Some("t.yaml"), Some("serves: the page"), Some(h.expression.as_str()))
        );
        assert_eq!(snap.as_text().unwrap().to_string(), "a\n  b");
        let theirs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/render__busybox-httpd-podman.snap");
        let (header, content) = parse_file(&std::fs::read_to_string(theirs).unwrap()).unwrap();
        assert_eq!(header.source, "tests/render.rs");
        assert_eq!(content, insta::Snapshot::from_file(Path::new(theirs)).unwrap().as_text().unwrap().to_string());
    }

    #[test]
    fn store_modes() {
        let dir = tempfile::tempdir().unwrap();
        let h = Header { source: "t.yaml".into(), description: "step".into(), expression: "exec".into() };
        let store = |mode| Store { dir: dir.path().into(), mode };
        let (local, ci, up) = (store(Mode::Local), store(Mode::Ci), store(Mode::Update));
        assert!(matches!(local.check("t", "s", &h, "one").unwrap(), Outcome::New { draft: Some(_) }));
        assert!(!local.path("t", "s").exists());
        assert_eq!(local.drafts().unwrap().iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), ["t__s"]);
        assert!(matches!(ci.check("t", "x", &h, "one").unwrap(), Outcome::New { draft: None }));
        assert!(!local.path("t", "x").with_extension("snap.new").exists());
        assert_eq!(up.check("t", "s", &h, "one").unwrap(), Outcome::Accepted);
        assert!(local.drafts().unwrap().is_empty(), "accepting drops the draft");
        assert_eq!(local.check("t", "s", &h, "one\n").unwrap(), Outcome::Matched);
        assert!(matches!(ci.check("t", "s", &h, "two").unwrap(), Outcome::Changed { draft: None, .. }));
        assert!(local.drafts().unwrap().is_empty(), "CI mode writes nothing");
        assert!(matches!(local.check("t", "s", &h, "two").unwrap(), Outcome::Changed { .. }));
        let text = std::fs::read_to_string(local.path("t", "s")).unwrap();
        assert_eq!(text, "---\nsource: t.yaml\ndescription: step\nexpression: exec\n---\none\n");
        let d = &local.drafts().unwrap()[0];
        assert_eq!(d.read().unwrap(), (h.clone(), Some("one".into()), "two".into()));
        d.accept().unwrap();
        assert_eq!(local.check("t", "s", &h, "two").unwrap(), Outcome::Matched);
        let renamed = Header { description: "renamed".into(), ..h };
        assert_eq!(up.check("t", "s", &renamed, "two").unwrap(), Outcome::Matched);
        assert!(std::fs::read_to_string(local.path("t", "s")).unwrap().contains("description: renamed"));
        assert_eq!(local.snapshots().unwrap().len(), 1);
    }
}
