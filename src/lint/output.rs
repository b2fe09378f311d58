//! Output formats: human (rustc-style excerpts), JSON, SARIF 2.1.0, GitHub
//! workflow commands and JUnit XML.

use super::{Options, Report, Rule, RULES};
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

pub fn write(report: &Report, opts: &Options, format: Format, color: bool, w: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Human => human(report, color, w),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, &json_report(report, opts))?;
            writeln!(w)
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *w, &sarif(report, opts))?;
            writeln!(w)
        }
        Format::Github => github(report, w),
        Format::Junit => junit(report, w),
    }
}

fn human(report: &Report, color: bool, w: &mut impl Write) -> io::Result<()> {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    for file in &report.files {
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
            if let Some(src) = lines.get(f.line.wrapping_sub(1)) {
                let bar = paint("1;34", "|");
                let indent: String =
                    src.chars().take(f.column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                let carets = "^".repeat(token_len(src, f.column));
                writeln!(w, "{pad} {bar}")?;
                writeln!(w, "{} {bar} {src}", paint("1;34", &f.line.to_string()))?;
                writeln!(w, "{pad} {bar} {indent}{}", paint(code, &carets))?;
            }
            writeln!(w, "{pad} {} {}", paint("1;34", "="), format_args!("{}: {}", paint("1", "help"), f.rule.fix))?;
            writeln!(w)?;
        }
    }
    let (e, wn, i) = (report.count(Severity::Error), report.count(Severity::Warning), report.count(Severity::Info));
    let files = report.files.len();
    let plural = |n: usize, s: &str| format!("{n} {s}{}", if n == 1 { "" } else { "s" });
    if e + wn + i == 0 {
        writeln!(w, "no findings in {}", plural(files, "file"))
    } else {
        writeln!(
            w,
            "{}, {}, {} in {}",
            plural(e, "error"),
            plural(wn, "warning"),
            plural(i, "info"),
            plural(files, "file")
        )
    }
}

/// How many characters the caret underlines: the key (up to its `:`), the
/// quoted string, or the plain scalar starting at `column`.
fn token_len(line: &str, column: usize) -> usize {
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

/// The JSON report, serialized as it streams (no intermediate value tree).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    podman_version: String,
    target: String,
    findings: Vec<JsonFinding<'a>>,
    summary: Summary,
}

fn json_report<'a>(report: &'a Report, opts: &Options) -> JsonReport<'a> {
    JsonReport {
        podman_version: opts.podman_label(),
        target: opts.target.to_string(),
        findings: report
            .findings()
            .map(|f| JsonFinding {
                rule: f.rule.id,
                severity: f.severity.to_string(),
                message: &f.message,
                file: &report.files[f.file].name,
                line: f.line,
                column: f.column,
                pointer: &f.pointer,
                object: f.object.as_deref(),
                help: f.rule.fix,
            })
            .collect(),
        summary: Summary {
            files: report.files.len(),
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
            infos: report.count(Severity::Info),
        },
    }
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

fn sarif(report: &Report, opts: &Options) -> serde_json::Value {
    let rules: Vec<&Rule> = RULES
        .iter()
        .copied()
        .filter(|r| opts.level(r).is_some() || report.findings().any(|f| f.rule.id == r.id))
        .collect();
    let descriptors: Vec<_> = rules
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
    let results: Vec<_> = report
        .findings()
        .map(|f| {
            json!({
                "ruleId": f.rule.id,
                "ruleIndex": rules.iter().position(|r| r.id == f.rule.id).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&report.files[f.file].name)},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    },
                }],
                "properties": {"pointer": f.pointer},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "podproof",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/podproof/podproof/blob/main/docs/lint.md",
                "rules": descriptors,
            }},
            "results": results,
        }],
    })
}

/// GitHub workflow commands: data escapes %, CR and LF; properties also : and ,.
fn github(report: &Report, w: &mut impl Write) -> io::Result<()> {
    let data = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    for f in report.findings() {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let file = prop(&report.files[f.file].name);
        writeln!(
            w,
            "::{level} file={file},line={},col={},title={}::{}",
            f.line,
            f.column,
            prop(f.rule.id),
            data(&f.message)
        )?;
    }
    Ok(())
}

/// Escaped for XML 1.0, without the control characters it cannot carry (a
/// finding's message may quote them from the input).
fn xml(s: &str) -> String {
    let s: String = s.chars().filter(|c| !matches!(c, '\x00'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f')).collect();
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// One testsuite; one passing testcase per clean file and one testcase per
/// finding, failing for errors and warnings.
fn junit(report: &Report, w: &mut impl Write) -> io::Result<()> {
    let failures = report.count(Severity::Error) + report.count(Severity::Warning);
    let tests: usize = report.files.iter().map(|f| f.findings.len().max(1)).sum();
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(w, r#"<testsuites name="podproof lint" tests="{tests}" failures="{failures}" errors="0">"#)?;
    writeln!(w, r#"  <testsuite name="podproof lint" tests="{tests}" failures="{failures}" errors="0" skipped="0">"#)?;
    for file in &report.files {
        let class = xml(&file.name);
        if file.findings.is_empty() {
            writeln!(w, r#"    <testcase classname="{class}" name="{class}"/>"#)?;
        }
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
    }
    writeln!(w, "  </testsuite>")?;
    writeln!(w, "</testsuites>")
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
