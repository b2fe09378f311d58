//! Runs every case of the bad-input corpus (tests/bad-input/*, see its
//! README.md) through `podproof render`: each must exit 2 with nothing on
//! stdout, no panic, and every expected message on stderr.

mod common;

use common::{root, Test};
use std::path::Path;

/// Fewer cases than this means the corpus lost some by accident.
const MIN_CASES: usize = 45;

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
    let args: Vec<String> = lines.next().unwrap_or("").split_whitespace().map(str::to_string).collect();
    if args.is_empty() {
        return Err(format!("{name}: the first line of expect.txt must hold the arguments"));
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
    let mut test = Test::new().arg("render").args(&case.args).current_dir(&dir);
    if case.args.iter().any(|a| a == "-") {
        let stdin = std::fs::read(dir.join("stdin")).expect("a case reading `-` has a `stdin` file");
        test = test.stdin(stdin);
    }
    let out = test.output();
    let mut p = Vec::new();
    if out.status != 2 {
        p.push(format!("exit status {} (expected 2)", out.status));
    }
    if !out.stdout.is_empty() {
        p.push("stdout is not empty".to_string());
    }
    if out.stderr.contains("panicked") {
        p.push("podproof panicked".to_string());
    }
    if !out.stderr.starts_with("error: ") {
        p.push("stderr does not start with `error: `".to_string());
    }
    for e in &case.expect {
        if !out.stderr.contains(e.as_str()) {
            p.push(format!("stderr lacks {e:?}"));
        }
    }
    if p.is_empty() {
        return p;
    }
    vec![format!("case {} (`podproof render {}`):\n  - {}\n{out}", case.name, case.args.join(" "), p.join("\n  - "))]
}

#[test]
fn bad_input_is_refused_with_located_messages() {
    let cases = cases();
    assert!(cases.len() >= MIN_CASES, "only {} bad-input cases, expected at least {MIN_CASES}", cases.len());
    // Every case runs, so one test run lists every failing case.
    let failures: Vec<String> = cases.iter().flat_map(problems).collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
