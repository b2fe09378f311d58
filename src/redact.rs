//! The one redaction layer: every Secret value the process has seen, and the
//! output functions that hide them.
//!
//! Values are registered when an environment takes an app (`Env::add_app`)
//! and when a `config` step sets Secret data, so values that arrive while a
//! run is going are known from then on. Every output path goes through
//! `text`: the `outln!`/`errln!` macros (stdout, stderr, the trace, error
//! chains), the failure report, the JSON and JUnit reports, records and
//! snapshots. The registry is process-wide on purpose: a value of one test
//! is hidden from the output of every other test too.
//!
//! Besides the value itself, each value is hidden trimmed, line by line
//! (a key or certificate printed reflowed), base64-encoded (standard and
//! URL-safe, alone, inside a longer base64 text at any of the three byte
//! alignments, and wrapped at 76 or 64 columns as base64(1) and PEM do), and
//! with line breaks inserted anywhere (a terminal or a logger wrapping it).

use base64::Engine;
use regex::Regex;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// What a hidden value is replaced with.
pub const MASK: &str = "[secret]";

/// Shorter forms would blank out ordinary text ("a", "on").
const MIN_LEN: usize = 3;

/// Forms longer than this are matched exactly and line by line, not with
/// line breaks between every character (the pattern would grow too large).
const MAX_WRAPPED: usize = 256;

#[derive(Default)]
struct Registry {
    /// Every form to hide, longest first.
    forms: Vec<String>,
    /// One pattern matching every form with optional line breaks inside.
    wrapped: Option<Regex>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry { forms: Vec::new(), wrapped: None });

/// Registers a Secret value (bytes, as stored in `data`).
pub fn add(value: &[u8]) {
    let forms = forms_of(value);
    if forms.is_empty() {
        return;
    }
    let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    let before = reg.forms.len();
    for f in forms {
        if !reg.forms.contains(&f) {
            reg.forms.push(f);
        }
    }
    if reg.forms.len() == before {
        return;
    }
    reg.forms.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let alts: Vec<String> = reg
        .forms
        .iter()
        .filter(|f| f.chars().count() <= MAX_WRAPPED)
        .map(|f| f.chars().map(|c| regex::escape(&c.to_string())).collect::<Vec<_>>().join(r"(?:\r?\n[ \t]*)?"))
        .collect();
    reg.wrapped = regex::RegexBuilder::new(&alts.join("|")).size_limit(64 << 20).build().ok();
}

/// Registers a text Secret value.
pub fn add_str(value: &str) {
    add(value.as_bytes());
}

/// The values of every Secret in a parsed manifest (a `List`'s items too),
/// as written: `stringData` and `data` (lint shows the line of a `data`
/// value that is not valid base64). For readers that print a manifest's own
/// text, which `mask` then hides; they are not registered, since a registry
/// rebuilds its pattern per value and a corpus holds thousands.
pub fn secret_values(doc: &serde_yaml::Value) -> Vec<String> {
    if doc.get("kind").and_then(|k| k.as_str()) == Some("List") {
        return doc.get("items").and_then(|i| i.as_sequence()).into_iter().flatten().flat_map(secret_values).collect();
    }
    if doc.get("kind").and_then(|k| k.as_str()) != Some("Secret") {
        return Vec::new();
    }
    ["stringData", "data"]
        .iter()
        .filter_map(|field| doc.get(*field).and_then(|d| d.as_mapping()))
        .flat_map(|m| m.values())
        .filter_map(|v| match v {
            serde_yaml::Value::String(s) => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            serde_yaml::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .collect()
}

/// A serde message without the values it echoes (`invalid type: integer
/// \`8080\``, `invalid value: string "hunter2"`, the symbol and offset of a
/// base64 error), for messages about a Secret's fields: they are printed at
/// load, before any value is registered, so they name the key and never the
/// value.
pub fn value_free(msg: &str) -> String {
    static ECHO: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let echo = ECHO.get_or_init(|| {
        Regex::new(r#"(boolean|integer|floating point|character) `[^`]*`|string "(?:[^"\\]|\\.)*"|(?i:invalid (?:last )?symbol) [0-9]+, offset [0-9]+"#)
            .expect("the echo pattern is valid")
    });
    echo.replace_all(msg, |c: &regex::Captures| match c.get(1) {
        Some(kind) => kind.as_str().to_string(),
        None if c[0].starts_with('s') => "a string".to_string(),
        None => "an invalid symbol".to_string(),
    })
    .into_owned()
}

/// Whether `value` (a document, or a `List` of them) holds a Secret at the
/// object `pointer` lies in: the document itself or the `items` entry.
pub fn in_secret(value: &serde_yaml::Value, pointer: &str) -> bool {
    let is_secret = |v: &serde_yaml::Value| v.get("kind").and_then(|k| k.as_str()) == Some("Secret");
    if is_secret(value) {
        return true;
    }
    let mut segs = pointer.split('/').skip(1);
    match (segs.next(), segs.next().and_then(|i| i.parse::<usize>().ok())) {
        (Some("items"), Some(i)) => value.get("items").and_then(|items| items.get(i)).is_some_and(is_secret),
        _ => false,
    }
}

/// `text` with each of `values` replaced by `[secret]`, and each line of a
/// value written over several lines (a block scalar) too.
pub fn mask(text: &str, values: &[String]) -> String {
    let mut forms: Vec<&str> =
        values.iter().flat_map(|v| std::iter::once(v.as_str()).chain(v.lines().map(str::trim))).collect();
    forms.retain(|f| f.chars().count() >= MIN_LEN);
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    forms.dedup();
    let mut t = text.to_string();
    for f in forms {
        if t.contains(f) {
            t = t.replace(f, MASK);
        }
    }
    t
}

/// Every form of a value that must not appear.
fn forms_of(value: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(text) = std::str::from_utf8(value) {
        out.push(text.to_string());
        out.push(text.trim().to_string());
        out.extend(text.lines().map(|l| l.trim().to_string()));
    }
    let engines = [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE];
    for engine in engines {
        let whole = engine.encode(value);
        for width in [76, 64] {
            if whole.len() > width {
                out.extend(whole.as_bytes().chunks(width).map(|c| String::from_utf8_lossy(c).into_owned()));
            }
        }
        out.push(whole);
        // Inside a longer base64 text the value starts at one of three byte
        // alignments; only the characters it alone decides are kept.
        for k in 0..3usize {
            let mut padded = vec![0u8; k];
            padded.extend_from_slice(value);
            let enc = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
            let enc = if std::ptr::eq(engine, &base64::engine::general_purpose::URL_SAFE) {
                enc.replace('+', "-").replace('/', "_")
            } else {
                enc
            };
            let start = (8 * k).div_ceil(6);
            let end = (8 * (k + value.len())) / 6;
            if end > start + 3 {
                out.push(enc[start..end.min(enc.len())].to_string());
            }
        }
    }
    out.retain(|f| f.chars().count() >= MIN_LEN);
    out.sort();
    out.dedup();
    out
}

/// `s` with every registered value replaced by `[secret]`.
pub fn text(s: &str) -> String {
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    if reg.forms.is_empty() {
        return s.to_string();
    }
    let mut t = s.to_string();
    for f in &reg.forms {
        if t.contains(f.as_str()) {
            t = t.replace(f.as_str(), MASK);
        }
    }
    if let Some(re) = &reg.wrapped {
        t = re.replace_all(&t, MASK).into_owned();
    }
    t
}

/// Whether any value is registered (for tests).
pub fn any() -> bool {
    !REGISTRY.read().unwrap_or_else(|e| e.into_inner()).forms.is_empty()
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes redacted text to stdout. A closed stdout (`podproof … | head`)
/// stops the output, never the command: the failed write is remembered and
/// later output is dropped, so cleanup still runs and the exit code stays.
pub fn print_out(s: &str) {
    write_to(&mut std::io::stdout().lock(), &STDOUT_CLOSED, s);
}

/// Writes redacted text to stderr; a closed stderr is treated like a closed stdout.
pub fn print_err(s: &str) {
    write_to(&mut std::io::stderr().lock(), &STDERR_CLOSED, s);
}

fn write_to(w: &mut dyn Write, closed: &AtomicBool, s: &str) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    if w.write_all(text(s).as_bytes()).and_then(|_| w.flush()).is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}

/// A writer for a command's output, passed to what prints (as nextest's
/// `OutputWriter`): what is written is held until `flush` (or drop), then
/// redacted whole, so a value split across writes is still hidden, and
/// written to stdout or stderr, where a closed pipe stops the output, never
/// the command. `outln!` and `errln!` are the same layer for single lines.
pub struct Writer {
    buf: Vec<u8>,
    stderr: bool,
}

/// The writer of stdout.
pub fn stdout() -> Writer {
    Writer { buf: Vec::new(), stderr: false }
}

/// The writer of stderr.
pub fn stderr() -> Writer {
    Writer { buf: Vec::new(), stderr: true }
}

impl Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let s = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            if self.stderr {
                print_err(&s);
            } else {
                print_out(&s);
            }
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// `outln!` through the redaction layer, never panicking on a closed stdout.
#[macro_export]
macro_rules! outln {
    () => { $crate::redact::print_out("\n") };
    ($($t:tt)*) => { $crate::redact::print_out(&format!("{}\n", format_args!($($t)*))) };
}

/// `print!` through the redaction layer.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::redact::print_out(&format!($($t)*)) };
}

/// `errln!` through the redaction layer, never panicking on a closed stderr.
#[macro_export]
macro_rules! errln {
    () => { $crate::redact::print_err("\n") };
    ($($t:tt)*) => { $crate::redact::print_err(&format!("{}\n", format_args!($($t)*))) };
}

/// `errp!` through the redaction layer.
#[macro_export]
macro_rules! errp {
    ($($t:tt)*) => { $crate::redact::print_err(&format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(text(input), expect, "{input:?}");
    }

    #[test]
    fn serde_echoes_of_values_are_dropped() {
        assert_eq!(
            value_free("stringData.port: invalid type: integer `8080`, expected a string"),
            "stringData.port: invalid type: integer, expected a string"
        );
        assert_eq!(
            value_free(r#"invalid value: string "hun\"ter2", expected x"#),
            "invalid value: a string, expected x"
        );
        assert_eq!(value_free("Invalid symbol 45, offset 3."), "an invalid symbol.");
        assert_eq!(value_free("missing field `name`"), "missing field `name`");
    }

    #[test]
    fn hides_every_form() {
        add_str("canary-s3cr3t-value");
        add_str("line-one-xyz\nline-two-xyz");
        let b64 = base64::engine::general_purpose::STANDARD.encode("canary-s3cr3t-value");
        for (input, expect) in [
            ("pw=canary-s3cr3t-value;", "pw=[secret];"),
            (&format!("b64 {b64} end"), "b64 [secret] end"),
            ("canary-s3cr3t-\nvalue", "[secret]"),
            ("canary-s3cr3t-\r\n    value", "[secret]"),
            ("got line-two-xyz", "got [secret]"),
            ("nothing here", "nothing here"),
        ] {
            check(input, expect);
        }
        // Inside a longer base64 text, at each alignment.
        for prefix in ["", "a", "ab", "abc"] {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}canary-s3cr3t-value tail"));
            assert!(!text(&enc).contains(&enc[enc.len() / 2 - 2..enc.len() / 2 + 2]), "{prefix}: {}", text(&enc));
        }
        assert!(any());
    }
}
