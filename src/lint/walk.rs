//! Finding the inputs and linting them in parallel, as a stream.
//!
//! Directories are walked with the `ignore` crate (so .gitignore'd and hidden
//! files are skipped), in name order so output is stable. The files of one
//! directory are linted together, since rules across documents compare them:
//! worker threads read, parse and check files (each file once, whole), and
//! the calling thread takes their reports in input order, checks each
//! directory across its files once its last file is done, and hands every
//! report to the output at once. A run holds the files in flight and the few
//! facts of the current directory, not the corpus: a directory's reports wait
//! for its findings across files only up to a budget, and past it they are
//! written at once and the findings across files follow as a later part.

use super::rules::{self, Facts};
use super::{FileReport, Finding, Options, Report};
use crate::app::load::{is_definition_file, mentions_kind};
use crate::error::Diagnostic;
use crate::source;
use crate::suitefile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

struct Input {
    name: String,
    /// `None` for stdin.
    path: Option<PathBuf>,
    /// Found by walking a directory: files that never say `kind` are data.
    walked: bool,
    /// The directory whose files cross-document rules compare.
    context: String,
    /// In a chainsaw or kuttl test's directory: a test file, not a manifest.
    suite: bool,
}

enum Outcome {
    Skipped,
    Bad(Diagnostic),
    Linted { report: FileReport, facts: Facts },
}

/// How many reports of one directory wait for its findings across files
/// before they are written without them, and how many bytes of excerpts.
const HOLD_FILES: usize = 256;
const HOLD_BYTES: usize = 16 << 20;

/// Lints every file named by `paths` (files, directories, `-` for stdin) and
/// collects the reports.
pub fn lint(paths: &[String], opts: &Options) -> Report {
    let mut report = Report::default();
    report.bad_input = run(paths, opts, 0, |file| {
        report.add(file);
        Ok(())
    });
    report
}

/// Lints every file named by `paths` on `threads` workers (0: one per core),
/// giving each file's report to `emit` in input order, the files of a
/// directory together. Returns the inputs that could not be linted. An error
/// from `emit` (a closed pipe) stops the run.
pub fn run(
    paths: &[String],
    opts: &Options,
    threads: usize,
    mut emit: impl FnMut(FileReport) -> std::io::Result<()>,
) -> Vec<Diagnostic> {
    let mut bad = Vec::new();
    let inputs = inputs(paths, opts, &mut bad);
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { threads };
    let mut group = Group::default();
    let mut stopped = false;
    ordered(
        inputs.len(),
        threads,
        |i| lint_file(i, &inputs[i], opts),
        |i, outcome| {
            if stopped {
                return false;
            }
            match outcome {
                Outcome::Skipped => {}
                Outcome::Bad(d) => bad.push(d),
                Outcome::Linted { report, facts } => {
                    if let Err(()) = group.add(report, facts, &mut emit) {
                        stopped = true;
                    }
                }
            }
            let last = inputs.get(i + 1).is_none_or(|next| next.context != inputs[i].context);
            if last && !stopped && group.finish(opts, &mut emit).is_err() {
                stopped = true;
            }
            !stopped
        },
    );
    bad
}

/// The files of the directory being linted: their facts, and their reports
/// while they wait for the findings across files.
#[derive(Default)]
struct Group {
    facts: Vec<Facts>,
    /// Input ids of the files, in order, for the facts.
    ids: Vec<usize>,
    names: Vec<String>,
    held: Vec<FileReport>,
    held_bytes: usize,
}

impl Group {
    fn add(
        &mut self,
        report: FileReport,
        facts: Facts,
        emit: &mut impl FnMut(FileReport) -> std::io::Result<()>,
    ) -> Result<(), ()> {
        self.ids.push(report.id);
        self.names.push(report.name.clone());
        self.facts.push(facts);
        self.held_bytes += report.text.len() + report.findings.len() * 256;
        self.held.push(report);
        if self.held.len() > HOLD_FILES || self.held_bytes > HOLD_BYTES {
            for r in self.held.drain(..) {
                emit(r).map_err(|_| ())?;
            }
            self.held_bytes = 0;
        }
        Ok(())
    }

    /// Checks the directory across its files and writes what is left of it.
    fn finish(&mut self, opts: &Options, emit: &mut impl FnMut(FileReport) -> std::io::Result<()>) -> Result<(), ()> {
        let mut facts = std::mem::take(&mut self.facts);
        let ids = std::mem::take(&mut self.ids);
        let names = std::mem::take(&mut self.names);
        let mut held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        let mut cross: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
        let found = rules::cross_check(&facts.iter().collect::<Vec<_>>(), opts);
        // Findings across files come after each file was masked, and may
        // quote another file's values: the directory's masks hide them.
        let mut masks: Vec<String> = facts.iter().flat_map(|f| f.masks.iter().cloned()).collect();
        masks.sort();
        masks.dedup();
        // A file's excerpts may show what another file of the directory
        // keeps secret (a Service selecting by a Secret's value).
        if facts.iter().filter(|f| !f.masks.is_empty()).count() > 0 && held.len() > 1 {
            for r in &mut held {
                r.text = hide(&r.text, &masks);
                for f in &mut r.findings {
                    f.message = hide(&f.message, &masks);
                }
            }
        }
        for mut f in found {
            f.message = hide(&f.message, &masks);
            cross.entry(f.file).or_default().push(f);
        }
        for r in &mut held {
            if let Some(more) = cross.remove(&r.id) {
                r.findings.extend(more);
                sort(&mut r.findings);
            }
        }
        for r in held {
            emit(r).map_err(|_| ())?;
        }
        // Files written before their directory was done get their findings
        // across files as a later part, with the lines those show.
        for (id, mut findings) in cross {
            let Some(k) = ids.iter().position(|i| *i == id) else { continue };
            sort(&mut findings);
            let text = std::mem::take(&mut facts[k].excerpt);
            emit(FileReport { id, name: names[k].clone(), text, findings, more: true }).map_err(|_| ())?;
        }
        Ok(())
    }
}

/// Orders a file's findings by position, without repeats.
pub fn sort(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| (a.line, a.column, a.rule.id, &a.message).cmp(&(b.line, b.column, b.rule.id, &b.message)));
    findings.dedup_by(|a, b| (a.line, a.column, a.rule.id, &a.message) == (b.line, b.column, b.rule.id, &b.message));
}

/// Runs `work` on indices `0..n` with `threads` workers and hands the
/// results to `consume` in index order, on the calling thread. Workers run
/// at most a window ahead of the consumer, so results do not pile up; a
/// panic in `work` becomes a bad-input diagnostic instead of a hang. When
/// `consume` returns false, the rest is dropped.
fn ordered<T>(n: usize, threads: usize, work: impl Fn(usize) -> T + Sync, mut consume: impl FnMut(usize, T) -> bool)
where
    T: Send + From<Diagnostic>,
{
    let window = threads * 4 + 4;
    let next = AtomicUsize::new(0);
    let done = (Mutex::new(0usize), Condvar::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    // Unbounded, since the window already bounds what waits in it.
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, done, stop, work) = (&next, &done, &stop, &work);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || stop.load(Ordering::Relaxed) {
                    return;
                }
                {
                    let (lock, cv) = done;
                    let mut consumed = lock.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *consumed + window && !stop.load(Ordering::Relaxed) {
                        consumed = cv.wait(consumed).unwrap_or_else(|e| e.into_inner());
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i))).unwrap_or_else(|_| {
                    T::from(Diagnostic::error(format!("input {i}"), None, "internal error while linting this input"))
                });
                if tx.send((i, result)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0;
        while want < n {
            let Ok((i, t)) = rx.recv() else { break };
            pending.insert(i, t);
            while let Some(t) = pending.remove(&want) {
                let go = consume(want, t);
                want += 1;
                let (lock, cv) = &done;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = want;
                cv.notify_all();
                if !go {
                    stop.store(true, Ordering::Relaxed);
                    cv.notify_all();
                    return;
                }
            }
        }
    });
}

impl From<Diagnostic> for Outcome {
    fn from(d: Diagnostic) -> Outcome {
        Outcome::Bad(d)
    }
}

/// Cross-document rules look at the files of one directory together.
fn context_of(path: Option<&Path>) -> String {
    match path {
        Some(p) => source::absolute(p).parent().map(|d| d.display().to_string()).unwrap_or_default(),
        None => "<stdin>".into(),
    }
}

/// Whether `dir` is a helm chart's `templates/`: Go templates, not YAML, which
/// only their rendered output (`helm template ... | podproof lint -`) can be linted as.
fn is_chart_templates(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == "templates") && dir.parent().is_some_and(|p| p.join("Chart.yaml").is_file())
}

/// The inputs, the files of one directory together (in the order their
/// directories first appear).
fn inputs(paths: &[String], opts: &Options, bad: &mut Vec<Diagnostic>) -> Vec<Input> {
    let mut out = Vec::new();
    let ignored = |p: &Path, dir: bool| opts.config.ignores(&source::absolute(p), dir);
    let mut dirs = super::testdirs::TestDirs::default();
    let mut input = |name: String, path: Option<PathBuf>, walked: bool| {
        let context = context_of(path.as_deref());
        let suite = path.as_deref().is_some_and(|p| source::absolute(p).parent().is_some_and(|d| dirs.contains(d)));
        Input { name, path, walked, context, suite }
    };
    for arg in paths {
        let p = Path::new(arg);
        if arg == "-" {
            out.push(input("<stdin>".into(), None, false));
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
                        out.push(input(e.path().display().to_string(), Some(e.path().to_path_buf()), true))
                    }
                    Ok(_) => {}
                    Err(e) => bad.push(Diagnostic::error(arg, None, format!("cannot walk directory: {e}"))),
                }
            }
        } else if p.exists() {
            if !ignored(p, false) {
                out.push(input(arg.clone(), Some(p.to_path_buf()), false));
            }
        } else {
            bad.push(Diagnostic::error(arg, None, "cannot read file: no such file or directory"));
        }
    }
    // A stable sort by the directory's first appearance keeps everything else in order.
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for (i, x) in out.iter().enumerate() {
        first.entry(x.context.clone()).or_insert(i);
    }
    out.sort_by_key(|x| first[&x.context]);
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
    let docs = match crate::yaml::parse_stream_lint(&text) {
        Ok(d) => d.into_iter().filter(|d| !d.value.is_null()).collect::<Vec<_>>(),
        Err(e) => return Outcome::Bad(Diagnostic::error(&input.name, Some((e.pos.line, e.pos.column)), e.message)),
    };
    // Excerpts show the file's own lines, and a message may quote a value:
    // a Secret's values, and the values findings call secret-like, are
    // hidden in both.
    let mut masks: Vec<String> = docs.iter().flat_map(|d| crate::redact::secret_values(&d.value)).collect();
    let mut findings = Vec::new();
    let mut facts = Facts::default();
    let origin = super::readers::Origin { name: input.name.clone(), path: input.path.clone() };
    // A file of a test's directory, or one that holds chainsaw's or kuttl's
    // own documents, is a test file.
    if input.suite || docs.iter().any(|d| suitefile::is_chainsaw(&d.value) || suitefile::is_kuttl(&d.value)) {
        rules::check_suite_file(&docs, opts, i, &mut findings, &mut facts);
    } else {
        rules::check_file_from(&docs, Some(&origin), opts, i, &mut findings, &mut facts);
    }
    drop(docs);
    let spots: Vec<(usize, usize)> = facts.hidden.iter().map(|h| (h.line, h.column)).collect();
    for h in &facts.hidden {
        masks.push(h.value.clone());
        // The value as written (`0123`, a quoted string) besides as read.
        if let Some(line) = text.lines().nth(h.line.wrapping_sub(1)) {
            let written: String = line.chars().skip(h.column - 1).take(token_len(line, h.column)).collect();
            masks.push(written.trim_matches(['"', '\'']).to_string());
            masks.push(written);
        }
    }
    masks.sort();
    masks.dedup();
    masks.retain(|m| !m.is_empty());
    let fact_lines = facts.lines();
    let excerpt = |lines: &mut dyn Iterator<Item = usize>| hide(&excerpts(&text, lines, &spots), &masks);
    let text_out = excerpt(&mut findings.iter().map(|f| f.line).chain(fact_lines.iter().copied()));
    facts.excerpt = excerpt(&mut fact_lines.iter().copied());
    for f in &mut findings {
        f.message = hide(&f.message, &masks);
    }
    facts.masks = masks;
    facts.hidden.clear();
    Outcome::Linted {
        report: FileReport { id: i, name: input.name.clone(), text: text_out, findings, more: false },
        facts,
    }
}

/// `text` with every mask hidden: through `redact::mask` (three characters
/// or more, and each line of a value), and shorter values where a message
/// quotes them.
fn hide(text: &str, masks: &[String]) -> String {
    if masks.is_empty() {
        return text.to_string();
    }
    let mut t = crate::redact::mask(text, masks);
    for m in masks.iter().filter(|m| m.chars().count() < 3) {
        for (open, close) in [("`", "`"), ("\"", "\"")] {
            t = t.replace(&format!("{open}{m}{close}"), &format!("{open}{}{close}", crate::redact::MASK));
        }
    }
    t
}

/// The caret length of the token at `column` (see output's).
fn token_len(line: &str, column: usize) -> usize {
    super::output::token_len(line, column)
}

/// The file's text with only the lines that findings may show, the others
/// emptied: a large corpus then costs the memory of its findings, not of its
/// files, while line numbers stay as they were. The token at each of `spots`
/// (a value that looks like a secret) is masked.
fn excerpts(text: &str, lines: &mut dyn Iterator<Item = usize>, spots: &[(usize, usize)]) -> String {
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
            let mut cols: Vec<usize> = spots.iter().filter(|(l, _)| *l == i + 1).map(|(_, c)| *c).collect();
            if cols.is_empty() {
                out.push_str(line);
            } else {
                // Right to left, so earlier columns stay where they are.
                cols.sort_unstable_by(|a, b| b.cmp(a));
                let mut chars: Vec<char> = line.chars().collect();
                for c in cols {
                    let start = (c - 1).min(chars.len());
                    let end = (start + token_len(line, c)).min(chars.len());
                    chars.splice(start..end, crate::redact::MASK.chars());
                }
                out.extend(chars);
            }
            next.next();
        }
        out.push('\n');
    }
    out
}
