//! Finding the inputs and linting them in parallel.
//!
//! Directories are walked with the `ignore` crate (so .gitignore'd and hidden
//! files are skipped), in name order so output is stable. Each file is read,
//! parsed once and checked on a rayon worker; what crosses files (Services and
//! the pods they select...) is checked per directory afterwards.

use super::rules::{self, Facts};
use super::{FileReport, Finding, Options, Report};
use crate::app::load::{is_definition_file, mentions_kind};
use crate::error::Diagnostic;
use crate::source;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Input {
    name: String,
    /// `None` for stdin.
    path: Option<PathBuf>,
    /// Found by walking a directory: files that never say `kind` are data.
    walked: bool,
}

enum Outcome {
    Skipped,
    Bad(Diagnostic),
    Linted { report: FileReport, facts: Facts },
}

/// Lints every file named by `paths` (files, directories, `-` for stdin).
pub fn lint(paths: &[String], opts: &Options) -> super::Report {
    let mut report = Report::default();
    let inputs = inputs(paths, opts, &mut report.bad_input);
    let outcomes: Vec<Outcome> = inputs.par_iter().enumerate().map(|(i, input)| lint_file(i, input, opts)).collect();
    // Files keep their input order; findings are renumbered to the linted files.
    let mut index = vec![usize::MAX; inputs.len()];
    let mut contexts: BTreeMap<String, Vec<Facts>> = BTreeMap::new();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Outcome::Skipped => {}
            Outcome::Bad(d) => report.bad_input.push(d),
            Outcome::Linted { report: file, facts } => {
                index[i] = report.files.len();
                report.files.push(file);
                contexts.entry(context(&inputs[i])).or_default().push(facts);
            }
        }
    }
    let cross: Vec<Finding> =
        contexts.values().flat_map(|facts| rules::cross_check(&facts.iter().collect::<Vec<_>>(), opts)).collect();
    for f in report.files.iter_mut().flat_map(|f| f.findings.iter_mut()) {
        f.file = index[f.file];
    }
    for mut f in cross {
        f.file = index[f.file];
        report.files[f.file].findings.push(f);
    }
    for file in &mut report.files {
        file.findings
            .sort_by(|a, b| (a.line, a.column, a.rule.id, &a.message).cmp(&(b.line, b.column, b.rule.id, &b.message)));
        file.findings
            .dedup_by(|a, b| (a.line, a.column, a.rule.id, &a.message) == (b.line, b.column, b.rule.id, &b.message));
    }
    report
}

/// Cross-document rules look at the files of one directory together.
fn context(input: &Input) -> String {
    match &input.path {
        Some(p) => source::absolute(p).parent().map(|d| d.display().to_string()).unwrap_or_default(),
        None => "<stdin>".into(),
    }
}

/// Whether `dir` is a helm chart's `templates/`: Go templates, not YAML, which
/// only their rendered output (`helm template ... | podproof lint -`) can be linted as.
fn is_chart_templates(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == "templates") && dir.parent().is_some_and(|p| p.join("Chart.yaml").is_file())
}

fn inputs(paths: &[String], opts: &Options, bad: &mut Vec<Diagnostic>) -> Vec<Input> {
    let mut out = Vec::new();
    let ignored = |p: &Path, dir: bool| opts.config.ignores(&source::absolute(p), dir);
    for arg in paths {
        let p = Path::new(arg);
        if arg == "-" {
            out.push(Input { name: "<stdin>".into(), path: None, walked: false });
        } else if p.is_dir() {
            // filter_entry wants a 'static closure.
            let config = opts.config.clone();
            let walker = ignore::WalkBuilder::new(p)
                .require_git(false)
                .git_global(false)
                .sort_by_file_name(|a, b| a.cmp(b))
                .filter_entry(move |e| {
                    let dir = e.file_type().is_some_and(|t| t.is_dir());
                    !(config.ignores(&source::absolute(e.path()), dir) || dir && is_chart_templates(e.path()))
                })
                .build();
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_some_and(|t| t.is_file()) && is_definition_file(e.path()) => {
                        out.push(Input {
                            name: e.path().display().to_string(),
                            path: Some(e.path().to_path_buf()),
                            walked: true,
                        })
                    }
                    Ok(_) => {}
                    Err(e) => bad.push(Diagnostic::error(arg, None, format!("cannot walk directory: {e}"))),
                }
            }
        } else if p.exists() {
            if !ignored(p, false) {
                out.push(Input { name: arg.clone(), path: Some(p.to_path_buf()), walked: false });
            }
        } else {
            bad.push(Diagnostic::error(arg, None, "cannot read file: no such file or directory"));
        }
    }
    out
}

fn lint_file(i: usize, input: &Input, opts: &Options) -> Outcome {
    let src = match &input.path {
        None => source::read("-"),
        Some(p) => std::fs::read(p)
            .map_err(|e| Diagnostic::error(&input.name, None, format!("cannot read file: {}", source::io_reason(&e))))
            .and_then(|bytes| source::from_bytes(&input.name, None, PathBuf::new(), PathBuf::new(), bytes)),
    };
    let text = match src {
        Ok(s) => s.text,
        Err(d) => return Outcome::Bad(d),
    };
    if input.walked && !mentions_kind(&text) {
        return Outcome::Skipped;
    }
    // An empty file or stream (`helm template` of a chart with everything
    // turned off) has nothing wrong in it: zero findings, as kubeconform says.
    let docs = match crate::yaml::parse_stream(&text) {
        Ok(d) => d.into_iter().filter(|d| !d.value.is_null()).collect::<Vec<_>>(),
        Err(e) => return Outcome::Bad(Diagnostic::error(&input.name, Some((e.pos.line, e.pos.column)), e.message)),
    };
    // Excerpts show the file's own lines, and a message may quote a value:
    // a Secret's values are hidden in both.
    let secrets: Vec<String> = docs.iter().flat_map(|d| crate::redact::secret_values(&d.value)).collect();
    let mut findings = Vec::new();
    let mut facts = Facts::default();
    rules::check_file(&docs, opts, i, &mut findings, &mut facts);
    drop(docs);
    let text = excerpts(&text, findings.iter().map(|f| f.line).chain(facts.lines()));
    let text = if secrets.is_empty() { text } else { crate::redact::mask(&text, &secrets) };
    if !secrets.is_empty() {
        for f in &mut findings {
            f.message = crate::redact::mask(&f.message, &secrets);
        }
    }
    Outcome::Linted { report: FileReport { name: input.name.clone(), text, findings }, facts }
}

/// The file's text with only the lines that findings may show, the others
/// emptied: a large corpus then costs the memory of its findings, not of its
/// files, while line numbers stay as they were.
fn excerpts(text: &str, lines: impl Iterator<Item = usize>) -> String {
    let mut keep: Vec<usize> = lines.collect();
    keep.sort_unstable();
    keep.dedup();
    let mut out = String::new();
    let mut next = keep.iter().peekable();
    for (i, line) in text.lines().enumerate() {
        if next.peek().is_none() {
            break;
        }
        if next.peek() == Some(&&(i + 1)) {
            out.push_str(line);
            next.next();
        }
        out.push('\n');
    }
    out
}
