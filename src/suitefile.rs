//! What chainsaw and kuttl files are, told by their names and headers alone:
//! the numbered step files of the conventional layout, the test and suite
//! file names, the documents of both dialects, and the operations a chainsaw
//! step may hold. The suites (`chainsaw`) read the files through this, and
//! lint tells test files from manifests with it, so both agree on what a test
//! file is.

use serde_yaml::Value;

/// The file a chainsaw test directory is found by.
pub const TEST_FILES: &[&str] = &["chainsaw-test.yaml", "chainsaw-test.yml"];
/// kuttl's suite file: its `testDirs` hold the tests.
pub const KUTTL_SUITE_FILE: &str = "kuttl-test.yaml";
/// chainsaw's configuration, nearest above a test.
pub const CONFIG_FILE: &str = ".chainsaw.yaml";

/// The operations of a chainsaw step's `try`.
pub const OPERATIONS: &[&str] = &[
    "apply", "assert", "command", "create", "delete", "describe", "error", "events", "get", "patch", "podLogs",
    "proxy", "script", "sleep", "update", "wait",
];
/// The operations `catch`, `finally` and `cleanup` may hold.
pub const CATCH_OPERATIONS: &[&str] =
    &["command", "delete", "describe", "events", "get", "podLogs", "script", "sleep", "wait"];
/// The fields an operation has besides its action.
pub const OPERATION_FIELDS: &[&str] = &["description", "continueOnError", "compiler"];

/// What a numbered step file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Apply,
    Assert,
    Errors,
}

/// The first dash-separated part of a file name after its index decides its kind.
pub fn file_kind(name: &str) -> FileKind {
    let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
    let stem = stem
        .split_once('-')
        .map(|(i, rest)| if i.chars().all(|c| c.is_ascii_digit()) { rest } else { stem })
        .unwrap_or(stem);
    match stem.split('-').next().unwrap_or("").to_ascii_lowercase().as_str() {
        "assert" => FileKind::Assert,
        "errors" => FileKind::Errors,
        _ => FileKind::Apply,
    }
}

/// `NN-name.yaml` (or a step directory `NN-name`): its index and kind.
pub fn step_file(name: &str, is_dir: bool) -> Option<(u64, FileKind)> {
    let (idx, rest) = name.split_once('-')?;
    if idx.is_empty() || !idx.chars().all(|c| c.is_ascii_digit()) || rest.is_empty() {
        return None;
    }
    if !(is_dir || rest.ends_with(".yaml") || rest.ends_with(".yml")) {
        return None;
    }
    Some((idx.parse().ok()?, if is_dir { FileKind::Apply } else { file_kind(name) }))
}

fn api_version(v: &Value) -> Option<&str> {
    v.get("apiVersion").and_then(Value::as_str)
}

/// Whether a document is one of chainsaw's (any version).
pub fn is_chainsaw(v: &Value) -> bool {
    api_version(v).is_some_and(|a| a.starts_with("chainsaw.kyverno.io/"))
}

/// Whether a document is one of kuttl's (TestSuite, TestStep, TestAssert).
pub fn is_kuttl(v: &Value) -> bool {
    api_version(v).is_some_and(|a| a.starts_with("kuttl.dev/"))
}

/// A quick look at a file's text for a chainsaw `Test` document, before
/// parsing it in full.
pub fn declares_chainsaw_test(text: &str) -> bool {
    text.contains("chainsaw.kyverno.io/")
        && text.lines().any(|l| l.trim_end() == "kind: Test" || l.contains("\"kind\": \"Test\""))
}

/// A quick look for a kuttl TestStep or TestAssert document.
pub fn declares_kuttl_step(text: &str) -> bool {
    text.contains("kuttl.dev/") && text.lines().any(|l| matches!(l.trim_end(), "kind: TestStep" | "kind: TestAssert"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_file_names() {
        assert_eq!(step_file("00-install.yaml", false), Some((0, FileKind::Apply)));
        assert_eq!(step_file("01-assert.yaml", false), Some((1, FileKind::Assert)));
        assert_eq!(step_file("02-errors-gone.yaml", false), Some((2, FileKind::Errors)));
        assert_eq!(step_file("03-step", true), Some((3, FileKind::Apply)));
        assert_eq!(step_file("readme.md", false), None);
        assert_eq!(step_file("04-x.txt", false), None);
    }

    #[test]
    fn headers() {
        assert!(declares_chainsaw_test("apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\n"));
        assert!(!declares_chainsaw_test("apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: StepTemplate\n"));
        assert!(declares_kuttl_step("apiVersion: kuttl.dev/v1beta1\nkind: TestStep\n"));
        assert!(!declares_kuttl_step("apiVersion: v1\nkind: TestStep\n"));
    }
}
