//! chainsaw's `Configuration` (`.chainsaw.yaml`), in both of its versions:
//! v1alpha1's flat spec and v1alpha2's grouped one, read into one set of
//! options with chainsaw's defaults (templating on, test file
//! `chainsaw-test`, the default timeouts, Background propagation).

use super::load::{catch_ops, yaml_to_json};
use super::model::{Dur, Operation, Timeouts};
use crate::app::docs::{error_at_value, typed, warning_at};
use crate::error::Diagnostic;
use crate::source::Source;
use crate::yaml::Doc;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

pub const FILE_NAME: &str = ".chainsaw.yaml";

/// The options a Configuration sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub file: Option<String>,
    pub timeouts: Timeouts,
    pub skip_delete: bool,
    pub fail_fast: bool,
    pub parallel: Option<usize>,
    pub repeat_count: Option<usize>,
    pub namespace: Option<String>,
    pub namespace_template: Option<Value>,
    pub template: bool,
    pub full_name: bool,
    pub include_test_regex: Option<String>,
    pub exclude_test_regex: Option<String>,
    /// The test file name without its extension (`chainsaw-test`).
    pub test_file: String,
    pub force_termination_grace_period: Option<Duration>,
    pub delay_before_cleanup: Option<Duration>,
    pub deletion_propagation: String,
    pub catch: Vec<Operation>,
    /// What the engine does not honour, with where it is written.
    pub unsupported: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            file: None,
            timeouts: Timeouts::chainsaw_defaults(),
            skip_delete: false,
            fail_fast: false,
            parallel: None,
            repeat_count: None,
            namespace: None,
            namespace_template: None,
            template: true,
            full_name: false,
            include_test_regex: None,
            exclude_test_regex: None,
            test_file: "chainsaw-test".into(),
            force_termination_grace_period: None,
            delay_before_cleanup: None,
            deletion_propagation: "Background".into(),
            catch: Vec::new(),
            unsupported: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Doc1 {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[allow(dead_code)]
    metadata: Option<Value>,
    #[serde(default)]
    spec: Spec1,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec1 {
    timeouts: Option<Timeouts>,
    skip_delete: Option<bool>,
    template: Option<bool>,
    compiler: Option<String>,
    fail_fast: Option<bool>,
    parallel: Option<usize>,
    deletion_propagation_policy: Option<String>,
    report_format: Option<String>,
    report_path: Option<String>,
    report_name: Option<String>,
    namespace: Option<String>,
    namespace_template_compiler: Option<String>,
    namespace_template: Option<Value>,
    fast_namespace_deletion: Option<bool>,
    full_name: Option<bool>,
    exclude_test_regex: Option<String>,
    include_test_regex: Option<String>,
    repeat_count: Option<usize>,
    test_file: Option<String>,
    force_termination_grace_period: Option<Dur>,
    delay_before_cleanup: Option<Dur>,
    #[serde(default)]
    clusters: BTreeMap<String, Value>,
    #[serde(default)]
    catch: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Doc2 {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[allow(dead_code)]
    metadata: Option<Value>,
    #[serde(default)]
    spec: Spec2,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec2 {
    #[serde(default)]
    cleanup: Cleanup2,
    #[serde(default)]
    clusters: BTreeMap<String, Value>,
    #[serde(default)]
    deletion: Deletion2,
    #[serde(default)]
    discovery: Discovery2,
    #[serde(default)]
    error: Error2,
    #[serde(default)]
    execution: Execution2,
    #[serde(default)]
    namespace: Namespace2,
    report: Option<Value>,
    #[serde(default)]
    templating: Templating2,
    timeouts: Option<Timeouts>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Cleanup2 {
    skip_delete: Option<bool>,
    delay_before_cleanup: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Deletion2 {
    propagation: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Discovery2 {
    exclude_test_regex: Option<String>,
    include_test_regex: Option<String>,
    test_file: Option<String>,
    full_name: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Error2 {
    #[serde(default)]
    catch: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Execution2 {
    fail_fast: Option<bool>,
    parallel: Option<usize>,
    repeat_count: Option<usize>,
    force_termination_grace_period: Option<Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Namespace2 {
    name: Option<String>,
    compiler: Option<String>,
    template: Option<Value>,
    fast_delete: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Templating2 {
    enabled: Option<bool>,
    compiler: Option<String>,
}

/// Whether a document is a chainsaw Configuration.
pub fn is_config(doc: &Doc) -> bool {
    super::load::is_chainsaw(doc) && doc.value.get("kind").and_then(|k| k.as_str()) == Some("Configuration")
}

/// Reads a Configuration document.
pub fn read(src: &Source, doc: &Doc, diags: &mut Vec<Diagnostic>) -> Option<Config> {
    let before = diags.len();
    let av = doc.value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or("");
    let mut c = Config { file: Some(src.name.clone()), ..Config::default() };
    let note = |c: &mut Config, diags: &mut Vec<Diagnostic>, ptr: &str, what: &str| {
        let p = doc.pos(ptr);
        c.unsupported.push(format!("{}:{}:{}: {what}", src.name, p.line, p.column));
        diags.push(warning_at(src, doc, ptr, format!("{what} (podproof does not honour it)")));
    };
    let catch_ptr;
    match av {
        "chainsaw.kyverno.io/v1alpha1" => {
            let d: Doc1 = typed(src, doc, "").map_err(|d| diags.push(d)).ok()?;
            let s = d.spec;
            c.timeouts = s.timeouts.unwrap_or_default().over(&c.timeouts);
            c.skip_delete = s.skip_delete.unwrap_or(false);
            c.template = s.template.unwrap_or(true);
            c.fail_fast = s.fail_fast.unwrap_or(false);
            c.parallel = s.parallel;
            c.deletion_propagation = s.deletion_propagation_policy.unwrap_or(c.deletion_propagation);
            c.namespace = s.namespace.filter(|n| !n.is_empty());
            c.namespace_template = s.namespace_template;
            c.full_name = s.full_name.unwrap_or(false);
            c.exclude_test_regex = s.exclude_test_regex;
            c.include_test_regex = s.include_test_regex;
            c.repeat_count = s.repeat_count;
            c.test_file = s.test_file.unwrap_or(c.test_file);
            c.force_termination_grace_period = s.force_termination_grace_period.map(|d| d.0);
            c.delay_before_cleanup = s.delay_before_cleanup.map(|d| d.0);
            if s.compiler.as_deref() == Some("cel") || s.namespace_template_compiler.as_deref() == Some("cel") {
                note(&mut c, diags, "/spec/compiler", "the CEL compiler");
            }
            if !s.clusters.is_empty() {
                note(&mut c, diags, "/spec/clusters", "additional clusters");
            }
            if s.report_format.is_some() || s.report_path.is_some() || s.report_name.is_some() {
                note(
                    &mut c,
                    diags,
                    "/spec/reportFormat",
                    "chainsaw's own reports (podproof writes JUnit and JSON with --report)",
                );
            }
            let _ = s.fast_namespace_deletion;
            catch_ptr = (!s.catch.is_empty()).then_some("/spec/catch");
        }
        "chainsaw.kyverno.io/v1alpha2" => {
            let d: Doc2 = typed(src, doc, "").map_err(|d| diags.push(d)).ok()?;
            let s = d.spec;
            c.timeouts = s.timeouts.unwrap_or_default().over(&c.timeouts);
            c.skip_delete = s.cleanup.skip_delete.unwrap_or(false);
            c.delay_before_cleanup = s.cleanup.delay_before_cleanup.map(|d| d.0);
            c.deletion_propagation = s.deletion.propagation.unwrap_or(c.deletion_propagation);
            c.exclude_test_regex = s.discovery.exclude_test_regex;
            c.include_test_regex = s.discovery.include_test_regex;
            c.test_file = s.discovery.test_file.unwrap_or(c.test_file);
            c.full_name = s.discovery.full_name.unwrap_or(false);
            c.fail_fast = s.execution.fail_fast.unwrap_or(false);
            c.parallel = s.execution.parallel;
            c.repeat_count = s.execution.repeat_count;
            c.force_termination_grace_period = s.execution.force_termination_grace_period.map(|d| d.0);
            c.namespace = s.namespace.name.filter(|n| !n.is_empty());
            c.namespace_template = s.namespace.template;
            c.template = s.templating.enabled.unwrap_or(true);
            if s.namespace.compiler.as_deref() == Some("cel") || s.templating.compiler.as_deref() == Some("cel") {
                note(&mut c, diags, "/spec/namespace/compiler", "the CEL compiler");
            }
            if !s.clusters.is_empty() {
                note(&mut c, diags, "/spec/clusters", "additional clusters");
            }
            if s.report.is_some() {
                note(
                    &mut c,
                    diags,
                    "/spec/report",
                    "chainsaw's own reports (podproof writes JUnit and JSON with --report)",
                );
            }
            let _ = s.namespace.fast_delete;
            catch_ptr = (!s.error.catch.is_empty()).then_some("/spec/error/catch");
        }
        other => {
            diags.push(error_at_value(
                src,
                doc,
                "/apiVersion",
                format!("unknown Configuration version `{other}`: expected chainsaw.kyverno.io/v1alpha1 or v1alpha2"),
            ));
            return None;
        }
    }
    if let Some(ptr) = catch_ptr {
        let (ops, unsupported) = catch_ops(src, doc, ptr, &src.dir, diags);
        c.catch = ops;
        c.unsupported.extend(unsupported);
    }
    for (ptr, re) in
        [("/spec/includeTestRegex", &c.include_test_regex), ("/spec/excludeTestRegex", &c.exclude_test_regex)]
    {
        if let Some(r) = re {
            if let Err(e) = regex::Regex::new(r) {
                diags.push(error_at_value(src, doc, ptr, format!("invalid regex: {e}")));
            }
        }
    }
    let _ = yaml_to_json;
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(c)
}

/// Reads a `.chainsaw.yaml` file.
pub fn read_file(path: &std::path::Path, diags: &mut Vec<Diagnostic>) -> Option<Config> {
    let name = crate::source::display(path);
    let src = crate::source::read(&name).map_err(|d| diags.push(d)).ok()?;
    let docs = crate::app::docs::documents(&src).map_err(|d| diags.push(d)).ok()?;
    let configs: Vec<&Doc> = docs.iter().filter(|d| is_config(d)).collect();
    match configs.as_slice() {
        [one] => read(&src, one, diags),
        _ => {
            diags.push(Diagnostic::error(
                &name,
                None,
                format!("expected one chainsaw Configuration, found {}", configs.len()),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let src =
            crate::source::from_bytes("c.yaml", None, "/tmp".into(), "/tmp".into(), input.as_bytes().to_vec()).unwrap();
        let docs = crate::app::docs::documents(&src).unwrap();
        let mut diags = Vec::new();
        let got = match read(&src, &docs[0], &mut diags) {
            Some(c) => format!(
                "assert={:?} exec={:?} parallel={:?} template={} failFast={} testFile={} catch={} unsupported={}",
                c.timeouts.get(super::super::model::TimeoutKind::Assert),
                c.timeouts.get(super::super::model::TimeoutKind::Exec),
                c.parallel,
                c.template,
                c.fail_fast,
                c.test_file,
                c.catch.len(),
                c.unsupported.len()
            ),
            None => diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn both_versions() {
        check(
            "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Configuration\nmetadata: {name: c}\nspec:\n  parallel: 4\n  template: false\n  timeouts: {assert: 5m0s}\n",
            "assert=300s exec=5s parallel=Some(4) template=false failFast=false testFile=chainsaw-test catch=0 unsupported=0",
        );
        check(
            "apiVersion: chainsaw.kyverno.io/v1alpha2\nkind: Configuration\nmetadata: {name: c}\nspec:\n  discovery: {fullName: true}\n  execution: {failFast: true, parallel: 1}\n  namespace:\n    compiler: cel\n    template: {metadata: {annotations: {a: b}}}\n  error:\n    catch:\n    - events: {}\n",
            "assert=30s exec=5s parallel=Some(1) template=true failFast=true testFile=chainsaw-test catch=1 unsupported=1",
        );
        check(
            "apiVersion: chainsaw.kyverno.io/v1alpha2\nkind: Configuration\nmetadata: {name: c}\nspec:\n  execution: {paralel: 1}\n",
            "c.yaml:5:15: error: spec.execution: unknown field `paralel`; did you mean `parallel`?",
        );
    }
}
