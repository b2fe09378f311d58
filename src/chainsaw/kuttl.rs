//! kuttl suites (`kuttl.dev/v1beta1`), read onto the chainsaw engine's
//! model as `chainsaw migrate kuttl` maps them, and run with kuttl's own
//! rules where they differ from chainsaw's: a step deletes what its TestStep
//! names, runs its commands, applies its files, then checks all of its
//! asserts and errors together once a second until the step's timeout (the
//! TestAssert's `timeout`, else the suite's, 30 s by default); assert files
//! compare literally (kuttl has no expressions); collectors run on failure.
//!
//! The layout: `kuttl-test.yaml` (a TestSuite) names `testDirs`; every
//! directory in them is a test, named after it; its steps are the entries
//! `NN-name.yaml` (or step directories `NN-name/`) sharing an index `NN`,
//! where `NN-assert*.yaml` are asserts and `NN-errors*.yaml` errors.

use super::load::{step_files, yaml_to_json};
use super::model::*;
use crate::app::docs::{error_at, typed, warning_at};
use crate::error::Diagnostic;
use crate::source::Source;
use crate::yaml::Doc;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SUITE_FILE: &str = "kuttl-test.yaml";
pub const API_VERSION: &str = "kuttl.dev/v1beta1";
/// kuttl's default step timeout (seconds).
pub const DEFAULT_TIMEOUT: u64 = 30;

#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub file: String,
    pub dir: PathBuf,
    pub test_dirs: Vec<PathBuf>,
    pub timeout: Duration,
    pub parallel: Option<usize>,
    pub namespace: Option<String>,
    pub skip_delete: bool,
    /// Commands run once before the suite's tests.
    pub commands: Vec<Operation>,
    pub unsupported: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SuiteDoc {
    #[allow(dead_code)]
    api_version: Option<String>,
    #[allow(dead_code)]
    kind: Option<String>,
    #[allow(dead_code)]
    metadata: Option<Value>,
    crd_dir: Option<String>,
    #[serde(default)]
    manifest_dirs: Vec<String>,
    #[serde(default)]
    test_dirs: Vec<String>,
    #[serde(default)]
    start_control_plane: bool,
    #[serde(default)]
    control_plane_args: Vec<String>,
    #[serde(default)]
    attach_control_plane_output: bool,
    #[serde(rename = "startKIND", default)]
    start_kind: bool,
    #[serde(rename = "kindConfig")]
    kind_config: Option<String>,
    #[serde(rename = "kindContext")]
    kind_context: Option<String>,
    #[serde(rename = "kindNodeCache", default)]
    kind_node_cache: bool,
    #[serde(rename = "kindContainers", default)]
    kind_containers: Vec<String>,
    #[serde(default)]
    skip_delete: bool,
    #[serde(default)]
    skip_cluster_delete: bool,
    timeout: Option<u64>,
    parallel: Option<usize>,
    artifacts_dir: Option<String>,
    #[serde(default)]
    commands: Vec<CommandDoc>,
    report_format: Option<String>,
    report_name: Option<String>,
    report_granularity: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    suppress: Vec<String>,
    #[serde(default)]
    ignore_files: Vec<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CommandDoc {
    #[serde(default)]
    command: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    script: String,
    #[serde(default)]
    ignore_failure: bool,
    #[serde(default)]
    background: bool,
    #[serde(default)]
    timeout: u64,
    #[serde(default)]
    skip_log_output: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StepDoc {
    #[allow(dead_code)]
    api_version: Option<String>,
    #[allow(dead_code)]
    kind: Option<String>,
    #[allow(dead_code)]
    metadata: Option<Value>,
    index: Option<i64>,
    #[serde(default)]
    apply: Vec<String>,
    #[serde(default)]
    assert: Vec<String>,
    #[serde(default)]
    error: Vec<String>,
    #[serde(default)]
    delete: Vec<RefDoc>,
    #[serde(default)]
    unit_test: bool,
    #[serde(default)]
    commands: Vec<CommandDoc>,
    kubeconfig: Option<String>,
    kubeconfig_loading: Option<String>,
    context: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RefDoc {
    api_version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    // Part of corev1.ObjectReference, which kuttl inlines; a delete ignores them.
    #[allow(dead_code)]
    uid: Option<String>,
    #[allow(dead_code)]
    resource_version: Option<String>,
    #[allow(dead_code)]
    field_path: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AssertDoc {
    #[allow(dead_code)]
    api_version: Option<String>,
    #[allow(dead_code)]
    kind: Option<String>,
    #[allow(dead_code)]
    metadata: Option<Value>,
    timeout: Option<u64>,
    #[serde(default)]
    collectors: Vec<CollectorDoc>,
    #[serde(default)]
    commands: Vec<CommandDoc>,
    #[serde(default)]
    resource_refs: Vec<Value>,
    #[serde(default)]
    assert_any: Vec<Value>,
    #[serde(default)]
    assert_all: Vec<Value>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CollectorDoc {
    #[serde(rename = "type")]
    type_: Option<String>,
    pod: Option<String>,
    namespace: Option<String>,
    container: Option<String>,
    selector: Option<String>,
    tail: Option<i64>,
    command: Option<String>,
}

fn is_kind(doc: &Doc, kind: &str) -> bool {
    doc.value.get("kind").and_then(|k| k.as_str()) == Some(kind)
        && doc.value.get("apiVersion").and_then(|k| k.as_str()).is_some_and(|a| a.starts_with("kuttl.dev/"))
}

/// Whether a document is kuttl's TestSuite.
pub fn is_suite(doc: &Doc) -> bool {
    is_kind(doc, "TestSuite")
}

fn note(src: &Source, doc: &Doc, ptr: &str, what: &str, diags: &mut Vec<Diagnostic>, out: &mut Vec<String>) {
    let p = doc.pos(ptr);
    out.push(format!("{}:{}:{}: {what}", src.name, p.line, p.column));
    diags.push(warning_at(src, doc, ptr, format!("{what} (podproof does not honour it)")));
}

/// Reads `kuttl-test.yaml`.
pub fn read_suite(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<Suite> {
    let name = crate::source::display(path);
    let src = crate::source::read(&name).map_err(|d| diags.push(d)).ok()?;
    let docs = crate::app::docs::documents(&src).map_err(|d| diags.push(d)).ok()?;
    let suites: Vec<&Doc> = docs.iter().filter(|d| is_suite(d)).collect();
    let [doc] = suites.as_slice() else {
        diags.push(Diagnostic::error(
            &name,
            None,
            format!("expected one kuttl TestSuite ({API_VERSION}), found {}", suites.len()),
        ));
        return None;
    };
    let before = diags.len();
    let s: SuiteDoc = typed(&src, doc, "").map_err(|d| diags.push(d)).ok()?;
    let mut unsupported = Vec::new();
    let u = &mut unsupported;
    if s.start_kind
        || s.kind_config.is_some()
        || s.kind_context.is_some()
        || s.kind_node_cache
        || !s.kind_containers.is_empty()
    {
        note(&src, doc, "/startKIND", "starting a kind cluster (the tests run against the given API)", diags, u);
    }
    if s.start_control_plane || !s.control_plane_args.is_empty() || s.attach_control_plane_output {
        note(
            &src,
            doc,
            "/startControlPlane",
            "starting a control plane (the tests run against the given API)",
            diags,
            u,
        );
    }
    if s.crd_dir.is_some() || !s.manifest_dirs.is_empty() {
        note(&src, doc, "/crdDir", "crdDir and manifestDirs", diags, u);
    }
    if s.artifacts_dir.is_some()
        || s.report_format.is_some()
        || s.report_name.is_some()
        || s.report_granularity.is_some()
    {
        note(
            &src,
            doc,
            "/reportFormat",
            "kuttl's own artifacts and reports (podproof writes JUnit and JSON with --report)",
            diags,
            u,
        );
    }
    if !s.suppress.is_empty() || !s.ignore_files.is_empty() || s.skip_cluster_delete {
        note(&src, doc, "/suppress", "suppress, ignoreFiles and skipClusterDelete", diags, u);
    }
    let test_dirs: Vec<String> = if s.test_dirs.is_empty() { vec![".".into()] } else { s.test_dirs.clone() };
    let mut dirs = Vec::new();
    for (i, d) in test_dirs.iter().enumerate() {
        let p = crate::source::normalize(&src.dir.join(d));
        if !p.is_dir() {
            diags.push(error_at(
                &src,
                doc,
                &format!("/testDirs/{i}"),
                format!("test directory `{d}` does not exist ({})", crate::source::display(&p)),
            ));
        } else {
            dirs.push(p);
        }
    }
    let timeout = Duration::from_secs(s.timeout.filter(|t| *t > 0).unwrap_or(DEFAULT_TIMEOUT));
    let commands = s
        .commands
        .iter()
        .enumerate()
        .filter_map(|(i, c)| command(&src, doc, &format!("/commands/{i}"), c, timeout, diags, u))
        .collect();
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Suite {
        file: name,
        dir: src.dir.clone(),
        test_dirs: dirs,
        timeout,
        parallel: s.parallel,
        namespace: s.namespace.filter(|n| !n.is_empty()),
        skip_delete: s.skip_delete,
        commands,
        unsupported,
    })
}

/// A kuttl command as a chainsaw script or command operation.
fn command(
    src: &Source,
    doc: &Doc,
    ptr: &str,
    c: &CommandDoc,
    step_timeout: Duration,
    diags: &mut Vec<Diagnostic>,
    u: &mut Vec<String>,
) -> Option<Operation> {
    if c.background {
        note(
            src,
            doc,
            &format!("{ptr}/background"),
            "background commands (run in the foreground, as kuttl does in steps)",
            diags,
            u,
        );
    }
    let timeout = Some(Dur(if c.timeout > 0 { Duration::from_secs(c.timeout) } else { step_timeout }));
    let action = match (c.command.trim().is_empty(), c.script.trim().is_empty()) {
        (false, true) => {
            let Some(words) = shlex::split(&c.command).filter(|w| !w.is_empty()) else {
                diags.push(error_at(
                    src,
                    doc,
                    &format!("{ptr}/command"),
                    "cannot split the command into words (an unclosed quote?)",
                ));
                return None;
            };
            Action::Command(Command {
                entrypoint: words[0].clone(),
                args: words[1..].to_vec(),
                timeout,
                skip_log_output: c.skip_log_output,
                ignore_failure: c.ignore_failure,
                namespaced: c.namespaced,
                ..Default::default()
            })
        }
        (true, false) => Action::Script(Script {
            content: c.script.clone(),
            timeout,
            skip_log_output: c.skip_log_output,
            ignore_failure: c.ignore_failure,
            ..Default::default()
        }),
        _ => {
            diags.push(error_at(src, doc, ptr, "a kuttl command needs exactly one of `command` or `script`"));
            return None;
        }
    };
    Some(Operation {
        action,
        description: None,
        continue_on_error: false,
        compiler: None,
        file: src.name.clone(),
        line: doc.pos(ptr).line,
        documents: None,
    })
}

/// Reads one kuttl test directory.
pub fn read_test(dir: &Path, suite: Option<&Suite>, diags: &mut Vec<Diagnostic>) -> Option<Test> {
    let files = step_files(dir);
    if files.is_empty() {
        return None;
    }
    let before = diags.len();
    let shown = crate::source::display(dir);
    let suite_timeout = suite.map(|s| s.timeout).unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT));
    let mut unsupported = suite.map(|s| s.unsupported.clone()).unwrap_or_default();
    let mut steps = Vec::new();
    for (idx, f) in &files {
        let mut st = StepState::default();
        let mut names = Vec::new();
        for rel in &f.apply {
            names.push(rel.clone());
            load_file(dir, rel, 0, &mut st, diags, &mut unsupported);
        }
        for rel in &f.asserts {
            load_file(dir, rel, 1, &mut st, diags, &mut unsupported);
        }
        for rel in &f.errors {
            load_file(dir, rel, 2, &mut st, diags, &mut unsupported);
        }
        // Files a TestStep names are relative to the test directory.
        let named = (st.step_doc.apply.clone(), st.step_doc.assert.clone(), st.step_doc.error.clone());
        for rel in &named.0 {
            load_file(dir, rel, 0, &mut st, diags, &mut unsupported);
        }
        for rel in &named.1 {
            load_file(dir, rel, 1, &mut st, diags, &mut unsupported);
        }
        for rel in &named.2 {
            load_file(dir, rel, 2, &mut st, diags, &mut unsupported);
        }
        let StepState { step_doc, assert_doc, applies, asserts, errors } = st;
        let timeout = assert_doc
            .as_ref()
            .and_then(|a| a.timeout)
            .filter(|t| *t > 0)
            .map(Duration::from_secs)
            .unwrap_or(suite_timeout);
        let step_name = names
            .first()
            .map(|n| n.trim_end_matches(".yaml").trim_end_matches(".yml").split('/').next().unwrap_or("").to_string())
            .unwrap_or_else(|| format!("{idx:02}"));
        let at = |file: &str| format!("{shown}/{file}");
        let mut try_ = Vec::new();
        for r in &step_doc.delete {
            let reference = ObjectReference {
                api_version: r.api_version.clone().unwrap_or_default(),
                kind: r.kind.clone().unwrap_or_default(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                labels: r.labels.clone(),
            };
            try_.push(op(
                Action::Delete(DeleteOp { ref_: Some(reference), timeout: Some(Dur(timeout)), ..Default::default() }),
                at("TestStep delete"),
                1,
                None,
            ));
        }
        let step_src = crate::source::from_bytes(&shown, None, dir.to_path_buf(), dir.to_path_buf(), Vec::new()).ok();
        for c in &step_doc.commands {
            if let Some(src) = &step_src {
                let empty = Doc::detached(0, serde_yaml::Value::Null, Default::default());
                if let Some(o) = command(src, &empty, "", c, timeout, diags, &mut unsupported) {
                    try_.push(o);
                }
            }
        }
        for a in applies {
            let file = a.file.clone();
            let line = a.line;
            try_.push(op(
                Action::Apply(ResourceOp {
                    resource: Some(a.value.clone()),
                    template: Some(false),
                    timeout: Some(Dur(timeout)),
                    ..Default::default()
                }),
                file,
                line,
                Some(vec![a]),
            ));
        }
        let assert_commands: Vec<Script> = assert_doc
            .as_ref()
            .map(|a| {
                a.commands
                    .iter()
                    .map(|c| Script {
                        content: if c.script.is_empty() { c.command.clone() } else { c.script.clone() },
                        skip_log_output: c.skip_log_output,
                        timeout: Some(Dur(timeout)),
                        ..Default::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !asserts.is_empty() || !errors.is_empty() || !assert_commands.is_empty() {
            try_.push(op(
                Action::KuttlCheck(KuttlCheck { asserts, errors, timeout, commands: assert_commands }),
                at(&f.asserts.first().or(f.errors.first()).cloned().unwrap_or_default()),
                1,
                None,
            ));
        }
        let mut catch = Vec::new();
        for c in assert_doc.as_ref().map(|a| a.collectors.clone()).unwrap_or_default() {
            if let Some(a) = collector(&c) {
                catch.push(op(a, at("TestAssert collectors"), 1, None));
            }
        }
        steps.push(Step {
            name: format!("{idx:02}-{step_name}").replace(&format!("{idx:02}-{idx:02}"), &format!("{idx:02}")),
            description: None,
            timeouts: Timeouts::all(timeout),
            bindings: Vec::new(),
            skip_delete: None,
            template: Some(false),
            deletion_propagation_policy: None,
            try_,
            catch,
            finally: Vec::new(),
            cleanup: Vec::new(),
            line: 1,
        });
    }
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Some(Test {
        name: dir_name.clone(),
        dialect: Dialect::Kuttl,
        file: shown,
        name_at: (1, 1),
        dir: dir.to_path_buf(),
        metadata: json!({"name": dir_name}),
        description: None,
        timeouts: Timeouts::all(suite_timeout),
        skip: false,
        concurrent: None,
        skip_delete: suite.map(|s| s.skip_delete),
        template: Some(false),
        namespace: suite.and_then(|s| s.namespace.clone()),
        namespace_template: None,
        bindings: Vec::new(),
        scenarios: Vec::new(),
        steps,
        catch: Vec::new(),
        fail_fast: None,
        force_termination_grace_period: None,
        delay_before_cleanup: None,
        deletion_propagation_policy: None,
        poll: KUTTL_POLL,
        unsupported,
    })
}

#[derive(Default)]
struct StepState {
    step_doc: StepDoc,
    assert_doc: Option<AssertDoc>,
    applies: Vec<Located>,
    asserts: Vec<Located>,
    errors: Vec<Located>,
}

/// Reads one file of a step: its TestStep and TestAssert options, and its
/// objects as what to apply (0), assert (1) or refuse (2).
fn load_file(
    dir: &Path,
    rel: &str,
    into: u8,
    st: &mut StepState,
    diags: &mut Vec<Diagnostic>,
    unsupported: &mut Vec<String>,
) {
    let path = crate::source::normalize(&dir.join(rel));
    let name = crate::source::display(&path);
    if rel.ends_with(".gotmpl.yaml") {
        diags.push(Diagnostic::warning(
            &name,
            None,
            "kuttl templates (.gotmpl.yaml) are not supported; the file is skipped",
        ));
        return;
    }
    let (src, docs) = match crate::source::read(&name).and_then(|s| crate::app::docs::documents(&s).map(|d| (s, d))) {
        Ok(x) => x,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    for d in docs {
        if is_kind(&d, "TestStep") {
            match typed::<StepDoc>(&src, &d, "") {
                Ok(s) => {
                    step_options(&src, &d, &s, diags, unsupported);
                    st.step_doc = merge_step(std::mem::take(&mut st.step_doc), s);
                }
                Err(e) => diags.push(e),
            }
            continue;
        }
        if is_kind(&d, "TestAssert") {
            match typed::<AssertDoc>(&src, &d, "") {
                Ok(a) => {
                    if !a.resource_refs.is_empty() || !a.assert_any.is_empty() || !a.assert_all.is_empty() {
                        note(
                            &src,
                            &d,
                            "/resourceRefs",
                            "CEL assertions (resourceRefs, assertAny, assertAll)",
                            diags,
                            unsupported,
                        );
                    }
                    st.assert_doc = Some(a);
                }
                Err(e) => diags.push(e),
            }
            continue;
        }
        if is_kind(&d, "TestSuite") {
            continue;
        }
        let v = yaml_to_json(&d.value);
        if v.get("apiVersion").is_none() || v.get("kind").is_none() {
            diags.push(error_at(&src, &d, "", "a kuttl object needs apiVersion and kind"));
            continue;
        }
        let loc = Located { value: v, file: src.name.clone(), line: d.pos("").line };
        match into {
            0 => st.applies.push(loc),
            1 => st.asserts.push(loc),
            _ => st.errors.push(loc),
        }
    }
}

fn op(action: Action, file: String, line: usize, documents: Option<Vec<Located>>) -> Operation {
    Operation { action, description: None, continue_on_error: false, compiler: None, file, line, documents }
}

fn step_options(src: &Source, d: &Doc, s: &StepDoc, diags: &mut Vec<Diagnostic>, u: &mut Vec<String>) {
    if s.kubeconfig.is_some() || s.kubeconfig_loading.is_some() || s.context.is_some() {
        note(src, d, "/kubeconfig", "a step's own kubeconfig or context", diags, u);
    }
    if s.unit_test {
        note(src, d, "/unitTest", "unitTest", diags, u);
    }
    let _ = s.index;
}

fn merge_step(mut a: StepDoc, b: StepDoc) -> StepDoc {
    a.apply.extend(b.apply);
    a.assert.extend(b.assert);
    a.error.extend(b.error);
    a.delete.extend(b.delete);
    a.commands.extend(b.commands);
    a.index = b.index.or(a.index);
    a
}

/// A collector as a catch operation (as `chainsaw migrate kuttl` maps it).
fn collector(c: &CollectorDoc) -> Option<Action> {
    let ty = c.type_.clone().unwrap_or_else(|| {
        if c.command.is_some() {
            "command".into()
        } else if c.pod.is_some() || c.selector.is_some() {
            "pod".into()
        } else {
            "events".into()
        }
    });
    match ty.as_str() {
        "pod" => Some(Action::PodLogs(ObjectSel {
            name: c.pod.clone(),
            namespace: c.namespace.clone(),
            selector: c.selector.clone(),
            container: c.container.clone(),
            tail: c.tail,
            ..Default::default()
        })),
        "events" => Some(Action::Events(ObjectSel {
            name: c.pod.clone(),
            namespace: c.namespace.clone(),
            selector: c.selector.clone(),
            ..Default::default()
        })),
        "command" => {
            c.command.as_ref().map(|cmd| Action::Script(Script { content: cmd.clone(), ..Default::default() }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &Test) -> String {
        let mut out = vec![format!("test {} poll={:?}", t.name, t.poll)];
        for s in &t.steps {
            out.push(format!("step {} timeout={:?}", s.name, s.timeouts.get(TimeoutKind::Assert)));
            for o in &s.try_ {
                let what = match &o.action {
                    Action::KuttlCheck(k) => {
                        format!("check {} asserts, {} errors, timeout {:?}", k.asserts.len(), k.errors.len(), k.timeout)
                    }
                    Action::Command(c) => format!("command {} {:?}", c.entrypoint, c.args),
                    Action::Script(s) => format!("script {:?}", s.content),
                    Action::Delete(d) => format!("delete {:?}", d.ref_.as_ref().map(|r| (&r.kind, &r.name))),
                    Action::Apply(a) => format!(
                        "apply {}",
                        a.resource.as_ref().and_then(|r| r.pointer("/metadata/name")).cloned().unwrap_or_default()
                    ),
                    other => other.keyword().to_string(),
                };
                out.push(format!("  {what}"));
            }
            for o in &s.catch {
                out.push(format!("  catch {}", o.action.keyword()));
            }
        }
        out.join("\n")
    }

    #[test]
    fn suite_and_test() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w(
            "kuttl-test.yaml",
            "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\ntimeout: 20\nstartKIND: true\n",
        );
        w("tests/basic/00-install.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: kuttl.dev/v1beta1\nkind: TestStep\ncommands:\n- command: kubectl get cm a -n $NAMESPACE\n- script: echo hi\ndelete:\n- {apiVersion: v1, kind: Pod, name: old}\n");
        w("tests/basic/00-assert.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: kuttl.dev/v1beta1\nkind: TestAssert\ntimeout: 5\ncollectors:\n- pod: nginx\n");
        w("tests/basic/01-errors.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n");
        w("tests/basic/02-more/assert.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
        w("tests/basic/02-more/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
        let mut diags = Vec::new();
        let suite = read_suite(&dir.path().join("kuttl-test.yaml"), &mut diags).unwrap();
        assert_eq!(suite.unsupported.len(), 1, "{diags:?}");
        let t = read_test(&suite.test_dirs[0].join("basic"), Some(&suite), &mut diags).unwrap();
        assert_eq!(
            render(&t),
            "test basic poll=1s\nstep 00-install timeout=5s\n  delete Some((\"Pod\", Some(\"old\")))\n  command kubectl [\"get\", \"cm\", \"a\", \"-n\", \"$NAMESPACE\"]\n  script \"echo hi\"\n  apply \"a\"\n  check 1 asserts, 0 errors, timeout 5s\n  catch podLogs\nstep 01 timeout=20s\n  check 0 asserts, 1 errors, timeout 20s\nstep 02-more timeout=20s\n  apply \"p\"\n  check 1 asserts, 0 errors, timeout 20s"
        );
    }

    #[test]
    fn errors_are_located() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("00-step.yaml"),
            "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\ncommand:\n- script: x\n",
        )
        .unwrap();
        let mut diags = Vec::new();
        assert!(read_test(dir.path(), None, &mut diags).is_none());
        let msg = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
        assert!(msg.ends_with("00-step.yaml:3:1: error: unknown field `command`; did you mean `commands`?"), "{msg}");
    }
}
