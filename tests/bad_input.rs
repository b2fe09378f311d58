//! Runs every case of the bad-input corpus (tests/bad-input/*, see its
//! README.md): each must exit 2 with nothing on stdout, no panic, every
//! expected message on stderr, and without calling podman or writing state.

mod common;

use common::{root, tempdir, Test};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Fewer cases than this means the corpus lost some by accident.
const MIN_CASES: usize = 200;

/// A case's first word picks the subcommand when it is one of these; otherwise
/// the arguments go to `render`, and `podproof` means the whole command line follows.
const SUBCOMMANDS: &[&str] = &["render", "test", "lint", "up", "promote", "snapshot", "down", "clean", "doctor"];

struct Case {
    name: String,
    args: Vec<String>,
    expect: Vec<String>,
}

fn read_case(dir: &Path) -> Result<Case, String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let text =
        std::fs::read_to_string(dir.join("expect.txt")).map_err(|e| format!("{name}: cannot read expect.txt: {e}"))?;
    let mut lines = text.lines();
    let mut args: Vec<String> = lines.next().unwrap_or("").split_whitespace().map(str::to_string).collect();
    match args.first().map(String::as_str) {
        None => return Err(format!("{name}: the first line of expect.txt must hold the arguments")),
        Some("podproof") => {
            args.remove(0);
        }
        Some(first) if SUBCOMMANDS.contains(&first) => {}
        Some(_) => args.insert(0, "render".to_string()),
    }
    let expect: Vec<String> =
        lines.filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(str::to_string).collect();
    if expect.is_empty() {
        return Err(format!("{name}: expect.txt names no expected message"));
    }
    Ok(Case { name, args, expect })
}

fn cases() -> Vec<Case> {
    let base = root().join("tests/bad-input");
    let mut dirs: Vec<_> = std::fs::read_dir(&base)
        .expect("tests/bad-input exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (cases, broken): (Vec<_>, Vec<_>) = dirs.iter().map(|d| read_case(d)).partition(Result::is_ok);
    let broken: Vec<String> = broken.into_iter().map(|e| e.err().unwrap()).collect();
    assert!(broken.is_empty(), "broken cases:\n{}", broken.join("\n"));
    cases.into_iter().map(Result::unwrap).collect()
}

/// What is wrong with one case's run, if anything.
fn problems(case: &Case) -> Vec<String> {
    let dir = root().join("tests/bad-input").join(&case.name);
    // A stand-in podman that leaves a mark, and a private state directory:
    // bad input must be refused before anything is started or recorded.
    let sandbox = tempdir();
    let podman = sandbox.path().join("podman");
    let called = sandbox.path().join("podman-called");
    std::fs::write(&podman, format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 125\n", called.display())).unwrap();
    std::fs::set_permissions(&podman, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = sandbox.path().join("state");
    let mut test = Test::new()
        .args(&case.args)
        .current_dir(&dir)
        .env("PODPROOF_PODMAN", &podman)
        .env("PODPROOF_STATE_DIR", &state)
        .env_remove("CI")
        .timeout(Duration::from_secs(60));
    if case.args.iter().any(|a| a == "-") {
        let stdin = std::fs::read(dir.join("stdin")).expect("a case reading `-` has a `stdin` file");
        test = test.stdin(stdin);
    }
    let out = test.output();
    let mut p = Vec::new();
    if out.status != 2 {
        p.push(format!("exit status {} (expected 2)", out.status));
    }
    // lint prints its (empty) report on stdout whatever happens, so that
    // machine formats stay well-formed; every other command prints nothing.
    if !out.stdout.is_empty() && case.args[0] != "lint" {
        p.push("stdout is not empty".to_string());
    }
    if out.stderr.contains("panicked") || out.stderr.contains("RUST_BACKTRACE") {
        p.push("podproof panicked".to_string());
    }
    // clap answers a missing subcommand with the help text instead of an error line.
    if !out.stderr.starts_with("error: ") && !out.stderr.contains("\nUsage: podproof") {
        p.push("stderr does not start with `error: `".to_string());
    }
    for e in &case.expect {
        if !out.stderr.contains(e.as_str()) {
            p.push(format!("stderr lacks {e:?}"));
        }
    }
    if let Ok(calls) = std::fs::read_to_string(&called) {
        p.push(format!("podman was called: {}", calls.trim()));
    }
    if state.exists() {
        p.push("podproof wrote run state".to_string());
    }
    if p.is_empty() {
        return p;
    }
    vec![format!("case {} (`podproof {}`):\n  - {}\n{out}", case.name, case.args.join(" "), p.join("\n  - "))]
}

#[test]
fn bad_input_is_refused_with_located_messages() {
    let cases = cases();
    assert!(cases.len() >= MIN_CASES, "only {} bad-input cases, expected at least {MIN_CASES}", cases.len());
    // Every case runs, so one test run lists every failing case; a few at a
    // time, since each is a process of its own.
    let chunk = cases.len().div_ceil(8);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> =
            cases.chunks(chunk).map(|c| s.spawn(move || c.iter().flat_map(problems).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a case runner panicked")).collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Render cases that lint passes, and why: lint checks definitions, and these
/// are about what one run is given (nothing, or parts that do not make an app).
const LINT_PASSES: &[(&str, &str)] = &[
    ("empty-file", "an empty input has zero findings, as kubeconform says"),
    ("comments-only", "an empty input has zero findings"),
    ("whitespace-only", "an empty input has zero findings"),
    ("stdin-empty", "an empty input has zero findings"),
    ("stdin-twice", "an empty input has zero findings"),
    ("list-empty", "an empty List is a valid object"),
    ("dir-with-data-only", "a directory without definitions has nothing to lint"),
    ("dir-without-definitions", "a directory without definitions has nothing to lint"),
    ("only-config-objects", "ConfigMaps and Services without a workload are valid; render has nothing to run"),
    ("only-ingress", "an Ingress alone is valid; render has nothing to run"),
    ("duplicate-app-names", "which apps one run combines is render's business"),
    ("duplicate-app-names-across-forms", "which apps one run combines is render's business"),
    ("kd-two-clusters-same-name", "which apps one run combines is render's business"),
    ("kd-app-without-cluster", "a KubeDirectorApp is a catalog entry; it needs no cluster beside it"),
    ("kd-cluster-missing-app", "the cluster's app may be installed already"),
    ("test-document-as-app", "a Test is a valid document; only render refuses to run it as an app"),
];

/// Lint and render share their checks: lint reports something (an error, or
/// bad input) for every render case of the corpus but those listed above.
#[test]
fn lint_refuses_what_render_refuses() {
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.args.first().is_some_and(|a| a == "render")).collect();
    let chunk = cases.len().div_ceil(8);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .filter_map(|case| {
                            let dir = root().join("tests/bad-input").join(&case.name);
                            let mut t = Test::new()
                                .args(["lint", "--podman-version", "4.3", "--format", "json"])
                                .args(&case.args[1..])
                                .current_dir(&dir)
                                .env("PODPROOF_PODMAN", "/bin/false")
                                .timeout(Duration::from_secs(60));
                            if case.args.iter().any(|a| a == "-") {
                                t = t.stdin(std::fs::read(dir.join("stdin")).unwrap_or_default());
                            }
                            let out = t.output();
                            let exempt = LINT_PASSES.iter().any(|(n, _)| *n == case.name);
                            match (out.status, exempt) {
                                (1 | 2, false) | (0, true) => None,
                                (0, false) => Some(format!("{}: render refuses it, lint passes it", case.name)),
                                (1 | 2, true) => {
                                    Some(format!("{}: listed as passing lint, but lint refuses it now", case.name))
                                }
                                (s, _) => Some(format!("{}: lint exited {s}\n{out}", case.name)),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a case runner panicked")).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
