//! Output formats: human (rustc-style excerpts), JSON, SARIF 2.1.0, GitHub
//! workflow commands and JUnit XML.

use super::{FileReport, Options, Report, Rule, RULES};
use crate::error::Severity;
use serde_json::json;
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
    Junit,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "human" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "github" => Ok(Format::Github),
            "junit" => Ok(Format::Junit),
            _ => Err(format!("unknown format `{s}`: expected human, json, sarif, github or junit")),
        }
    }
}

/// Writes a whole report (what `lint::lint` collected).
pub fn write(report: &Report, opts: &Options, format: Format, color: bool, w: &mut impl Write) -> io::Result<()> {
    let mut out = Writer::new(opts, format, color, w);
    for file in &report.files {
        out.file(file)?;
    }
    out.finish()
}

/// An output format written as files arrive, so a run holds the findings of
/// the files in flight, not of the whole corpus. The JSON and SARIF arrays
/// are written item by item; JUnit needs its counts before the testcases,
/// which wait in a temporary file.
pub struct Writer<'a, W: Write> {
    opts: &'a Options,
    format: Format,
    color: bool,
    w: &'a mut W,
    begun: bool,
    /// Files seen (a file's later part, with findings across files, counts once).
    files: usize,
    counts: [usize; 3],
    /// Whether an item of the JSON or SARIF array was written already.
    items: bool,
    /// The SARIF rules, for `ruleIndex`.
    rules: Vec<&'static Rule>,
    /// JUnit: the testcases, and the files with no finding so far.
    junit: Option<io::BufWriter<std::fs::File>>,
    junit_file: Option<tempfile::NamedTempFile>,
    clean: Vec<(usize, String)>,
    tests: usize,
}

impl<'a, W: Write> Writer<'a, W> {
    pub fn new(opts: &'a Options, format: Format, color: bool, w: &'a mut W) -> Writer<'a, W> {
        let rules = RULES.iter().copied().filter(|r| opts.level(r).is_some()).collect();
        Writer {
            opts,
            format,
            color,
            w,
            begun: false,
            files: 0,
            counts: [0; 3],
            items: false,
            rules,
            junit: None,
            junit_file: None,
            clean: Vec::new(),
            tests: 0,
        }
    }

    /// Whether anything was written: a run whose every input was unreadable prints no report.
    pub fn begun(&self) -> bool {
        self.begun
    }

    fn begin(&mut self) -> io::Result<()> {
        if self.begun {
            return Ok(());
        }
        self.begun = true;
        match self.format {
            Format::Json => {
                let head = format!(
                    "{{\n  \"podmanVersion\": {},\n  \"target\": {},\n  \"findings\": [",
                    json_str(&self.opts.podman_label()),
                    json_str(&self.opts.target.to_string())
                );
                self.w.write_all(head.as_bytes())
            }
            Format::Sarif => {
                let descriptors: Vec<_> = self
                    .rules
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.id,
                            "shortDescription": {"text": r.summary},
                            "fullDescription": {"text": r.explanation},
                            "help": {"text": r.fix},
                            "defaultConfiguration": {"level": r.default.map(sarif_level).unwrap_or("none"), "enabled": r.default.is_some()},
                        })
                    })
                    .collect();
                let tool = json!({"driver": {
                    "name": "podproof",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/podproof/podproof/blob/main/docs/lint.md",
                    "rules": descriptors,
                }});
                let tool = indent(&serde_json::to_string_pretty(&tool).map_err(io::Error::other)?, 6);
                let head = format!(
                    "{{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"tool\": {},\n      \"results\": [",
                    tool.trim_start()
                );
                self.w.write_all(head.as_bytes())
            }
            Format::Junit => {
                let f = tempfile::NamedTempFile::new()?;
                self.junit = Some(io::BufWriter::new(f.reopen()?));
                self.junit_file = Some(f);
                Ok(())
            }
            Format::Human | Format::Github => Ok(()),
        }
    }

    /// Writes one file's findings (or a later part of them: the findings
    /// across files of a file written earlier).
    pub fn file(&mut self, file: &FileReport) -> io::Result<()> {
        self.write_file(file)?;
        // The redaction layer holds what it is given until a flush.
        self.w.flush()
    }

    fn write_file(&mut self, file: &FileReport) -> io::Result<()> {
        self.begin()?;
        if !file.more {
            self.files += 1;
        }
        for f in &file.findings {
            self.counts[match f.severity {
                Severity::Error => 0,
                Severity::Warning => 1,
                Severity::Info => 2,
            }] += 1;
        }
        match self.format {
            Format::Human => human_file(file, self.color, self.w),
            Format::Json => {
                for f in &file.findings {
                    let item = JsonFinding {
                        rule: f.rule.id,
                        severity: f.severity.to_string(),
                        message: &f.message,
                        file: &file.name,
                        line: f.line,
                        column: f.column,
                        pointer: &f.pointer,
                        object: f.object.as_deref(),
                        help: f.rule.fix,
                    };
                    let text = serde_json::to_string_pretty(&item).map_err(io::Error::other)?;
                    self.item(&indent(&text, 4))?;
                }
                Ok(())
            }
            Format::Sarif => {
                for f in &file.findings {
                    let result = json!({
                        "ruleId": f.rule.id,
                        "ruleIndex": self.rules.iter().position(|r| r.id == f.rule.id).unwrap_or(0),
                        "level": sarif_level(f.severity),
                        "message": {"text": f.message},
                        "locations": [{
                            "physicalLocation": {
                                "artifactLocation": {"uri": uri(&file.name)},
                                "region": {"startLine": f.line, "startColumn": f.column},
                            },
                        }],
                        "properties": {"pointer": f.pointer},
                    });
                    let text = serde_json::to_string_pretty(&result).map_err(io::Error::other)?;
                    self.item(&indent(&text, 8))?;
                }
                Ok(())
            }
            Format::Github => github_file(file, self.w),
            Format::Junit => {
                let w = self.junit.as_mut().expect("begin opened the JUnit buffer");
                if file.findings.is_empty() {
                    if !file.more {
                        self.clean.push((file.id, file.name.clone()));
                    }
                } else {
                    self.clean.retain(|(id, _)| *id != file.id);
                }
                self.tests += file.findings.len();
                junit_cases(file, w)
            }
        }
    }

    /// One item of the JSON or SARIF array, after a comma when it is not the first.
    fn item(&mut self, text: &str) -> io::Result<()> {
        let sep = if self.items { ",\n" } else { "\n" };
        self.items = true;
        self.w.write_all(sep.as_bytes())?;
        self.w.write_all(text.as_bytes())
    }

    /// Writes what follows the last file: the summary, the closing brackets.
    pub fn finish(mut self) -> io::Result<()> {
        self.begin()?;
        let [e, wn, i] = self.counts;
        let files = self.files;
        let close = |items: bool, pad: &str| if items { format!("\n{pad}]") } else { "]".to_string() };
        match self.format {
            Format::Human => {
                let plural = |n: usize, s: &str| format!("{n} {s}{}", if n == 1 { "" } else { "s" });
                if e + wn + i == 0 {
                    writeln!(self.w, "no findings in {}", plural(files, "file"))
                } else {
                    writeln!(
                        self.w,
                        "{}, {}, {} in {}",
                        plural(e, "error"),
                        plural(wn, "warning"),
                        plural(i, "info"),
                        plural(files, "file")
                    )
                }
            }
            Format::Json => {
                let summary = Summary { files, errors: e, warnings: wn, infos: i };
                let summary = indent(&serde_json::to_string_pretty(&summary).map_err(io::Error::other)?, 2);
                writeln!(self.w, "{},\n  \"summary\": {}\n}}", close(self.items, "  "), summary.trim_start())
            }
            Format::Sarif => writeln!(self.w, "{}\n    }}\n  ]\n}}", close(self.items, "      ")),
            Format::Github => Ok(()),
            Format::Junit => {
                let clean = std::mem::take(&mut self.clean);
                let failures = e + wn;
                let tests = self.tests + clean.len();
                let mut buffered = self.junit.take().expect("begin opened the JUnit buffer");
                for (_, name) in &clean {
                    let class = xml(name);
                    writeln!(buffered, r#"    <testcase classname="{class}" name="{class}"/>"#)?;
                }
                buffered.flush()?;
                drop(buffered);
                writeln!(self.w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
                writeln!(
                    self.w,
                    r#"<testsuites name="podproof lint" tests="{tests}" failures="{failures}" errors="0">"#
                )?;
                writeln!(
                    self.w,
                    r#"  <testsuite name="podproof lint" tests="{tests}" failures="{failures}" errors="0" skipped="0">"#
                )?;
                let file = self.junit_file.take().expect("begin made the JUnit file");
                io::copy(&mut file.reopen()?, self.w)?;
                writeln!(self.w, "  </testsuite>")?;
                writeln!(self.w, "</testsuites>")
            }
        }
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Indents every line of `text` by `n` spaces.
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

fn human_file(file: &FileReport, color: bool, w: &mut impl Write) -> io::Result<()> {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    let lines: Vec<&str> = file.text.lines().collect();
    for f in &file.findings {
        let (label, code) = match f.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
            Severity::Info => ("info", "1;36"),
        };
        let width = f.line.to_string().len();
        let pad = " ".repeat(width);
        writeln!(w, "{}: {}", paint(code, &format!("{label}[{}]", f.rule.id)), paint("1", &f.message))?;
        writeln!(w, "{pad}{} {}:{}:{}", paint("1;34", "-->"), file.name, f.line, f.column)?;
        if let Some(src) = lines.get(f.line.wrapping_sub(1)).filter(|l| !l.is_empty()) {
            let bar = paint("1;34", "|");
            let indent: String = src.chars().take(f.column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            let carets = "^".repeat(token_len(src, f.column));
            writeln!(w, "{pad} {bar}")?;
            writeln!(w, "{} {bar} {src}", paint("1;34", &f.line.to_string()))?;
            writeln!(w, "{pad} {bar} {indent}{}", paint(code, &carets))?;
        }
        writeln!(w, "{pad} {} {}", paint("1;34", "="), format_args!("{}: {}", paint("1", "help"), f.rule.fix))?;
        writeln!(w)?;
    }
    Ok(())
}

/// How many characters the caret underlines: the key (up to its `:`), the
/// quoted string, or the plain scalar starting at `column`.
pub(super) fn token_len(line: &str, column: usize) -> usize {
    let rest: Vec<char> = line.chars().skip(column - 1).collect();
    match rest.first() {
        Some(q @ ('"' | '\'')) => rest.iter().skip(1).position(|c| c == q).map_or(rest.len(), |i| i + 2),
        Some(_) => {
            let mut n = 0;
            while n < rest.len() && !rest[n].is_whitespace() && !",]}".contains(rest[n]) {
                if rest[n] == ':' && rest.get(n + 1).is_none_or(|c| c.is_whitespace()) {
                    break;
                }
                n += 1;
            }
            n.max(1)
        }
        None => 1,
    }
}

#[derive(serde::Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: String,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    pointer: &'a str,
    object: Option<&'a str>,
    help: &'a str,
}

#[derive(serde::Serialize)]
struct Summary {
    files: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encodes what a URI reference may not hold (file names are paths).
fn uri(path: &str) -> String {
    path.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Escaped for XML 1.0, without the control characters it cannot carry (a
/// finding's message may quote them from the input).
fn xml(s: &str) -> String {
    let s: String = s.chars().filter(|c| !matches!(c, '\x00'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f')).collect();
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// GitHub workflow commands: data escapes %, CR and LF; properties also : and ,.
fn github_file(file: &FileReport, w: &mut impl Write) -> io::Result<()> {
    let data = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let name = prop(&file.name);
    for f in &file.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        writeln!(
            w,
            "::{level} file={name},line={},col={},title={}::{}",
            f.line,
            f.column,
            prop(f.rule.id),
            data(&f.message)
        )?;
    }
    Ok(())
}

/// One testcase per finding, failing for errors and warnings; clean files
/// get their passing testcase at the end.
fn junit_cases(file: &FileReport, w: &mut impl Write) -> io::Result<()> {
    let class = xml(&file.name);
    for f in &file.findings {
        let name = xml(&format!("{}:{}:{} {}", file.name, f.line, f.column, f.rule.id));
        if f.severity == Severity::Info {
            writeln!(
                w,
                r#"    <testcase classname="{class}" name="{name}"><system-out>{}</system-out></testcase>"#,
                xml(&f.message)
            )?;
        } else {
            writeln!(w, r#"    <testcase classname="{class}" name="{name}">"#)?;
            writeln!(
                w,
                r#"      <failure type="{}" message="{}">{}</failure>"#,
                f.severity,
                xml(&f.message),
                xml(&format!("{}:{}:{}: {}\nhelp: {}", file.name, f.line, f.column, f.message, f.rule.fix))
            )?;
            writeln!(w, "    </testcase>")?;
        }
    }
    Ok(())
}

/// `--explain`: the rule's id, default severity, explanation and fix.
pub fn explain(rule: &Rule) -> String {
    let sev = rule.default.map(|s| s.to_string()).unwrap_or_else(|| "off".into());
    format!(
        "{}\n\n  default severity: {sev}\n  target: {}\n  category: {:?}\n\n{}\n\nFix: {}\n",
        rule.id,
        rule.target,
        rule.category,
        wrap(rule.explanation, 78),
        wrap(rule.fix, 78)
    )
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        if len > 0 && len + 1 + word.len() > width {
            out.push('\n');
            len = 0;
        } else if len > 0 {
            out.push(' ');
            len += 1;
        }
        out.push_str(word);
        len += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_cover_the_token() {
        let check =
            |line: &str, col: usize, expect: usize| assert_eq!(token_len(line, col), expect, "{line:?} at {col}");
        check("  hostNetwork: true", 3, 11);
        check("  image: 'localhost/podproof/xcat:1'", 10, 27);
        check("      image: localhost/podproof/xcat:1", 14, 25);
        check("- {name: http, port: 8080}", 22, 4);
        check("    path: ./tmp", 11, 5);
    }
}
