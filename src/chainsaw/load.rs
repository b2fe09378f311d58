//! Reading chainsaw files: `Test` and `StepTemplate` documents
//! (`chainsaw.kyverno.io/v1alpha1`), the conventional layout of numbered
//! step files, and the resource files operations name. Every problem is a
//! diagnostic with its file:line:column; nothing here panics on any input.

use super::expr::{self, Text};
use super::model::*;
use crate::app::docs::{error_at, error_at_value, typed, warning_at};
use crate::error::Diagnostic;
use crate::source::Source;
use crate::yaml::Doc;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const API_VERSION: &str = "chainsaw.kyverno.io/v1alpha1";

/// Whether a document is one of chainsaw's (any version).
pub fn is_chainsaw(doc: &Doc) -> bool {
    crate::suitefile::is_chainsaw(&doc.value)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestDoc {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Meta,
    spec: TestSpecDoc,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    #[serde(flatten)]
    #[allow(dead_code)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestSpecDoc {
    description: Option<String>,
    fail_fast: Option<bool>,
    timeouts: Option<Timeouts>,
    cluster: Option<String>,
    #[serde(default)]
    clusters: BTreeMap<String, Cluster>,
    skip: Option<bool>,
    concurrent: Option<bool>,
    skip_delete: Option<bool>,
    template: Option<bool>,
    compiler: Option<String>,
    namespace: Option<String>,
    namespace_template: Option<Value>,
    namespace_template_compiler: Option<String>,
    fast_namespace_deletion: Option<bool>,
    #[serde(default)]
    scenarios: Vec<ScenarioDoc>,
    #[serde(default)]
    bindings: Vec<Binding>,
    steps: Vec<Value>,
    #[serde(default)]
    catch: Vec<Value>,
    force_termination_grace_period: Option<Dur>,
    delay_before_cleanup: Option<Dur>,
    deletion_propagation_policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDoc {
    name: Option<String>,
    #[serde(default)]
    bindings: Vec<Binding>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StepDoc {
    name: Option<String>,
    #[serde(rename = "use")]
    use_: Option<UseDoc>,
    description: Option<String>,
    timeouts: Option<Timeouts>,
    deletion_propagation_policy: Option<String>,
    cluster: Option<String>,
    #[serde(default)]
    clusters: BTreeMap<String, Cluster>,
    skip_delete: Option<bool>,
    template: Option<bool>,
    compiler: Option<String>,
    #[serde(default)]
    bindings: Vec<Binding>,
    #[serde(rename = "try")]
    try_: Option<Vec<Value>>,
    #[serde(default)]
    catch: Vec<Value>,
    #[serde(default)]
    finally: Vec<Value>,
    #[serde(default)]
    cleanup: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UseDoc {
    template: String,
    #[serde(default)]
    with: WithDoc,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WithDoc {
    #[serde(default)]
    bindings: Vec<Binding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StepTemplateDoc {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[allow(dead_code)]
    metadata: Meta,
    spec: StepTemplateSpecDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepTemplateSpecDoc {
    #[serde(default)]
    bindings: Vec<Binding>,
    #[serde(rename = "try")]
    try_: Vec<Value>,
    #[serde(default)]
    catch: Vec<Value>,
    #[serde(default)]
    finally: Vec<Value>,
    #[serde(default)]
    cleanup: Vec<Value>,
}

/// An operation of `try`: exactly one action.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OpDoc {
    description: Option<String>,
    continue_on_error: Option<bool>,
    compiler: Option<String>,
    apply: Option<ResourceOp>,
    assert: Option<CheckOp>,
    command: Option<Command>,
    create: Option<ResourceOp>,
    delete: Option<DeleteOp>,
    describe: Option<ObjectSel>,
    error: Option<CheckOp>,
    events: Option<ObjectSel>,
    get: Option<ObjectSel>,
    patch: Option<ResourceOp>,
    pod_logs: Option<ObjectSel>,
    proxy: Option<ObjectSel>,
    script: Option<Script>,
    sleep: Option<Sleep>,
    update: Option<ResourceOp>,
    wait: Option<ObjectSel>,
}

/// An operation of `catch`, `finally` and `cleanup`: only these actions.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CatchDoc {
    description: Option<String>,
    compiler: Option<String>,
    pod_logs: Option<ObjectSel>,
    events: Option<ObjectSel>,
    describe: Option<ObjectSel>,
    wait: Option<ObjectSel>,
    get: Option<ObjectSel>,
    delete: Option<DeleteOp>,
    command: Option<Command>,
    script: Option<Script>,
    sleep: Option<Sleep>,
}

impl From<CatchDoc> for OpDoc {
    fn from(c: CatchDoc) -> OpDoc {
        OpDoc {
            description: c.description,
            compiler: c.compiler,
            pod_logs: c.pod_logs,
            events: c.events,
            describe: c.describe,
            wait: c.wait,
            get: c.get,
            delete: c.delete,
            command: c.command,
            script: c.script,
            sleep: c.sleep,
            ..Default::default()
        }
    }
}

const OPERATIONS: &str =
    "apply, assert, command, create, delete, describe, error, events, get, patch, podLogs, proxy, script, sleep, update, wait";

/// What reading needs to know beyond one document.
struct Ctx<'a> {
    src: &'a Source,
    doc: &'a Doc,
    /// The test's directory: files and templates resolve against it.
    dir: &'a Path,
    diags: &'a mut Vec<Diagnostic>,
    unsupported: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn at(&self, ptr: &str) -> String {
        let p = self.doc.pos(ptr);
        format!("{}:{}:{}", self.src.name, p.line, p.column)
    }

    fn unsupported(&mut self, ptr: &str, what: &str) {
        let at = self.at(ptr);
        self.diags.push(warning_at(self.src, self.doc, ptr, format!("{what} (podproof does not honour it)")));
        self.unsupported.push(format!("{at}: {what}"));
    }
}

/// Reads a chainsaw `Test` document.
pub fn read_test(src: &Source, doc: &Doc, diags: &mut Vec<Diagnostic>) -> Option<Test> {
    let before = diags.len();
    let kind = doc.value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let av = doc.value.get("apiVersion").and_then(|k| k.as_str()).unwrap_or("");
    if kind != "Test" || av != API_VERSION {
        diags.push(error_at_value(
            src,
            doc,
            "/apiVersion",
            format!("expected a chainsaw Test ({API_VERSION}), found {av} {kind}"),
        ));
        return None;
    }
    let t: TestDoc = typed(src, doc, "").map_err(|d| diags.push(d)).ok()?;
    let name = match t.metadata.name.clone() {
        Some(n) if !n.is_empty() => n,
        _ => {
            diags.push(error_at(src, doc, "/metadata", "a Test needs metadata.name"));
            return None;
        }
    };
    let mut unsupported = Vec::new();
    let dir = src.dir.clone();
    let mut ctx = Ctx { src, doc, dir: &dir, diags, unsupported: &mut unsupported };
    let s = t.spec;
    if s.cluster.is_some() || !s.clusters.is_empty() {
        ctx.unsupported("/spec/cluster", "switching clusters (`cluster`, `clusters`)");
    }
    if s.compiler.as_deref() == Some("cel") || s.namespace_template_compiler.as_deref() == Some("cel") {
        ctx.unsupported("/spec/compiler", "the CEL compiler");
    }
    if s.fast_namespace_deletion.is_some() {
        // The namespace is always deleted without waiting for it (docs/chainsaw.md).
    }
    bindings_syntax(&mut ctx, "/spec/bindings", &s.bindings);
    let mut steps = Vec::new();
    if s.steps.is_empty() {
        ctx.diags.push(error_at(src, doc, "/spec/steps", "a Test needs at least one step"));
    }
    for i in 0..s.steps.len() {
        let p = format!("/spec/steps/{i}");
        match typed::<StepDoc>(src, doc, &p) {
            Ok(st) => {
                if let Some(step) = read_step(&mut ctx, &p, st, i) {
                    steps.push(step);
                }
            }
            Err(e) => ctx.diags.push(e),
        }
    }
    let catch = ops(&mut ctx, "/spec/catch", s.catch.len(), true);
    let scenarios = s
        .scenarios
        .into_iter()
        .enumerate()
        .map(|(i, sc)| {
            bindings_syntax(&mut ctx, &format!("/spec/scenarios/{i}/bindings"), &sc.bindings);
            Scenario { name: sc.name, bindings: sc.bindings }
        })
        .collect();
    if let Some(tpl) = &s.namespace_template {
        exprs_syntax(&mut ctx, "/spec/namespaceTemplate", tpl);
    }
    if ctx.diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    let name_pos = doc.value_pos("/metadata/name");
    Some(Test {
        name,
        dialect: Dialect::Chainsaw,
        file: src.name.clone(),
        name_at: (name_pos.line, name_pos.column),
        dir,
        metadata: doc.value.get("metadata").map(yaml_to_json).unwrap_or(Value::Null),
        description: s.description,
        timeouts: s.timeouts.unwrap_or_default(),
        skip: s.skip.unwrap_or(false),
        concurrent: s.concurrent,
        skip_delete: s.skip_delete,
        template: s.template,
        namespace: s.namespace.filter(|n| !n.is_empty()),
        namespace_template: s.namespace_template,
        bindings: s.bindings,
        scenarios,
        steps,
        catch,
        fail_fast: s.fail_fast,
        force_termination_grace_period: s.force_termination_grace_period.map(|d| d.0),
        delay_before_cleanup: s.delay_before_cleanup.map(|d| d.0),
        deletion_propagation_policy: s.deletion_propagation_policy,
        poll: CHAINSAW_POLL,
        unsupported,
    })
}

pub fn yaml_to_json(v: &serde_yaml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn read_step(ctx: &mut Ctx<'_>, ptr: &str, mut st: StepDoc, i: usize) -> Option<Step> {
    let line = ctx.doc.pos(ptr).line;
    if st.cluster.is_some() || !st.clusters.is_empty() {
        ctx.unsupported(&format!("{ptr}/cluster"), "switching clusters (`cluster`, `clusters`)");
    }
    if st.compiler.as_deref() == Some("cel") {
        ctx.unsupported(&format!("{ptr}/compiler"), "the CEL compiler");
    }
    let mut try_: Vec<Operation> = Vec::new();
    let mut catch = Vec::new();
    let mut finally = Vec::new();
    let mut cleanup = Vec::new();
    let mut bindings = std::mem::take(&mut st.bindings);
    bindings_syntax(ctx, &format!("{ptr}/bindings"), &bindings);
    match (&st.try_, &st.use_) {
        (None, None) => {
            ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "a step needs `try` (or `use` of a StepTemplate)"));
            return None;
        }
        (Some(_), Some(_)) => {
            ctx.diags.push(error_at(ctx.src, ctx.doc, &format!("{ptr}/use"), "a step takes `try` or `use`, not both"));
            return None;
        }
        _ => {}
    }
    if let Some(t) = st.try_.take() {
        try_ = ops(ctx, &format!("{ptr}/try"), t.len(), false);
    }
    catch.extend(ops(ctx, &format!("{ptr}/catch"), st.catch.len(), true));
    finally.extend(ops(ctx, &format!("{ptr}/finally"), st.finally.len(), true));
    cleanup.extend(ops(ctx, &format!("{ptr}/cleanup"), st.cleanup.len(), true));
    if let Some(u) = st.use_ {
        let tpl = read_template(ctx, &format!("{ptr}/use/template"), &u.template)?;
        bindings.extend(tpl.bindings);
        bindings_syntax(ctx, &format!("{ptr}/use/with/bindings"), &u.with.bindings);
        bindings.extend(u.with.bindings);
        try_.extend(tpl.try_);
        catch.extend(tpl.catch);
        finally.extend(tpl.finally);
        cleanup.extend(tpl.cleanup);
    }
    Some(Step {
        name: st.name.filter(|n| !n.is_empty()).unwrap_or_else(|| format!("step-{}", i + 1)),
        description: st.description,
        timeouts: st.timeouts.unwrap_or_default(),
        bindings,
        skip_delete: st.skip_delete,
        template: st.template,
        deletion_propagation_policy: st.deletion_propagation_policy,
        try_,
        catch,
        finally,
        cleanup,
        line,
    })
}

struct Template {
    bindings: Vec<Binding>,
    try_: Vec<Operation>,
    catch: Vec<Operation>,
    finally: Vec<Operation>,
    cleanup: Vec<Operation>,
}

/// Reads the StepTemplate a step `use`s; its files resolve against the test's directory.
fn read_template(ctx: &mut Ctx<'_>, ptr: &str, rel: &str) -> Option<Template> {
    let path = ctx.dir.join(rel);
    let name = crate::source::display(&crate::source::normalize(&path));
    let src = match crate::source::read(&name) {
        Ok(s) => s,
        Err(d) => {
            ctx.diags.push(error_at_value(ctx.src, ctx.doc, ptr, format!("step template `{rel}`: {}", d.message)));
            return None;
        }
    };
    let docs = match crate::app::docs::documents(&src) {
        Ok(d) => d,
        Err(d) => {
            ctx.diags.push(d);
            return None;
        }
    };
    let templates: Vec<&Doc> =
        docs.iter().filter(|d| d.value.get("kind").and_then(|k| k.as_str()) == Some("StepTemplate")).collect();
    let [doc] = templates.as_slice() else {
        ctx.diags.push(error_at_value(
            ctx.src,
            ctx.doc,
            ptr,
            format!("step template `{rel}`: expected exactly one StepTemplate, found {}", templates.len()),
        ));
        return None;
    };
    let t: StepTemplateDoc = typed(&src, doc, "").map_err(|d| ctx.diags.push(d)).ok()?;
    let dir = ctx.dir.to_path_buf();
    let mut inner = Ctx { src: &src, doc, dir: &dir, diags: ctx.diags, unsupported: ctx.unsupported };
    bindings_syntax(&mut inner, "/spec/bindings", &t.spec.bindings);
    let try_ = ops(&mut inner, "/spec/try", t.spec.try_.len(), false);
    let catch = ops(&mut inner, "/spec/catch", t.spec.catch.len(), true);
    let finally = ops(&mut inner, "/spec/finally", t.spec.finally.len(), true);
    let cleanup = ops(&mut inner, "/spec/cleanup", t.spec.cleanup.len(), true);
    Some(Template { bindings: t.spec.bindings, try_, catch, finally, cleanup })
}

/// Reads a list of catch operations at `ptr` of `doc` (a Configuration's `catch`).
pub fn catch_ops(
    src: &Source,
    doc: &Doc,
    ptr: &str,
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Operation>, Vec<String>) {
    let docs: Vec<Value> = match typed(src, doc, ptr) {
        Ok(d) => d,
        Err(d) => {
            diags.push(d);
            return (Vec::new(), Vec::new());
        }
    };
    let mut unsupported = Vec::new();
    let mut ctx = Ctx { src, doc, dir, diags, unsupported: &mut unsupported };
    let out = ops(&mut ctx, ptr, docs.len(), true);
    (out, unsupported)
}

/// Reads the `n` operations at `ptr`, each on its own, so that every bad one is reported.
fn ops(ctx: &mut Ctx<'_>, ptr: &str, n: usize, catch: bool) -> Vec<Operation> {
    let mut out = Vec::new();
    for i in 0..n {
        let p = format!("{ptr}/{i}");
        let d: Result<OpDoc, _> =
            if catch { typed::<CatchDoc>(ctx.src, ctx.doc, &p).map(OpDoc::from) } else { typed(ctx.src, ctx.doc, &p) };
        match d {
            Ok(d) => {
                if let Some(op) = op(ctx, &p, d, catch) {
                    out.push(op);
                }
            }
            Err(e) => ctx.diags.push(e),
        }
    }
    out
}

fn op(ctx: &mut Ctx<'_>, ptr: &str, d: OpDoc, catch: bool) -> Option<Operation> {
    let line = ctx.doc.pos(ptr).line;
    let mut actions: Vec<(&str, Action)> = Vec::new();
    macro_rules! take {
        ($field:ident, $key:literal, $variant:ident) => {
            if let Some(x) = d.$field {
                actions.push(($key, Action::$variant(x)));
            }
        };
    }
    take!(apply, "apply", Apply);
    take!(assert, "assert", Assert);
    take!(command, "command", Command);
    take!(create, "create", Create);
    take!(delete, "delete", Delete);
    take!(describe, "describe", Describe);
    take!(error, "error", Error);
    take!(events, "events", Events);
    take!(get, "get", Get);
    take!(patch, "patch", Patch);
    take!(pod_logs, "podLogs", PodLogs);
    take!(proxy, "proxy", Proxy);
    take!(script, "script", Script);
    take!(sleep, "sleep", Sleep);
    take!(update, "update", Update);
    take!(wait, "wait", Wait);
    if actions.len() != 1 {
        let found = if actions.is_empty() {
            "none".to_string()
        } else {
            actions.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        };
        let which =
            if catch { "command, delete, describe, events, get, podLogs, script, sleep, wait" } else { OPERATIONS };
        ctx.diags.push(error_at(
            ctx.src,
            ctx.doc,
            ptr,
            format!("an operation needs exactly one of {which}; found {found}"),
        ));
        return None;
    }
    let (key, action) = actions.remove(0);
    let aptr = format!("{ptr}/{key}");
    if d.compiler.as_deref() == Some("cel") {
        ctx.unsupported(&format!("{ptr}/compiler"), "the CEL compiler");
    }
    let documents = check_action(ctx, &aptr, &action);
    Some(Operation {
        action,
        description: d.description,
        continue_on_error: d.continue_on_error.unwrap_or(false),
        compiler: d.compiler,
        file: ctx.src.name.clone(),
        line,
        documents,
    })
}

/// Checks an action's fields and reads the files it names; returns the
/// documents of a plain `file:` (none when the file is an expression).
fn check_action(ctx: &mut Ctx<'_>, ptr: &str, action: &Action) -> Option<Vec<Located>> {
    bindings_syntax(ctx, &format!("{ptr}/bindings"), action.bindings());
    match action {
        Action::Apply(o) | Action::Create(o) | Action::Patch(o) | Action::Update(o) => {
            if o.cluster.is_some() || !o.clusters.is_empty() {
                ctx.unsupported(&format!("{ptr}/cluster"), "switching clusters (`cluster`, `clusters`)");
            }
            for (i, e) in o.expect.iter().enumerate() {
                if let Some(m) = &e.match_ {
                    exprs_syntax(ctx, &format!("{ptr}/expect/{i}/match"), m);
                }
                exprs_syntax(ctx, &format!("{ptr}/expect/{i}/check"), &e.check);
            }
            outputs_syntax(ctx, &format!("{ptr}/outputs"), &o.outputs);
            resource_or_file(ctx, ptr, o.file.as_deref(), o.resource.as_ref(), true)
        }
        Action::Assert(o) | Action::Error(o) => {
            if o.cluster.is_some() || !o.clusters.is_empty() {
                ctx.unsupported(&format!("{ptr}/cluster"), "switching clusters (`cluster`, `clusters`)");
            }
            resource_or_file(ctx, ptr, o.file.as_deref(), o.resource.as_ref(), false)
        }
        Action::Delete(o) => {
            for (i, e) in o.expect.iter().enumerate() {
                exprs_syntax(ctx, &format!("{ptr}/expect/{i}/check"), &e.check);
            }
            match (&o.file, &o.ref_) {
                (Some(_), Some(_)) | (None, None) => {
                    ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "delete takes exactly one of `file` or `ref`"));
                    None
                }
                (Some(f), None) => resource_or_file(ctx, ptr, Some(f), None, true),
                (None, Some(_)) => None,
            }
        }
        Action::Script(s) => {
            if s.content.trim().is_empty() {
                ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "a script needs `content`"));
            }
            bindings_syntax(ctx, &format!("{ptr}/env"), &s.env);
            outputs_syntax(ctx, &format!("{ptr}/outputs"), &s.outputs);
            if let Some(c) = &s.check {
                exprs_syntax(ctx, &format!("{ptr}/check"), c);
            }
            None
        }
        Action::Command(c) => {
            if c.entrypoint.trim().is_empty() {
                ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "a command needs `entrypoint`"));
            }
            bindings_syntax(ctx, &format!("{ptr}/env"), &c.env);
            outputs_syntax(ctx, &format!("{ptr}/outputs"), &c.outputs);
            if let Some(ch) = &c.check {
                exprs_syntax(ctx, &format!("{ptr}/check"), ch);
            }
            None
        }
        Action::Wait(w) => {
            match &w.for_ {
                None => ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "wait needs `for`")),
                Some(f) => {
                    let n = [f.creation.is_some(), f.deletion.is_some(), f.condition.is_some(), f.json_path.is_some()]
                        .iter()
                        .filter(|x| **x)
                        .count();
                    if n != 1 {
                        ctx.diags.push(error_at(
                            ctx.src,
                            ctx.doc,
                            &format!("{ptr}/for"),
                            "wait `for` takes exactly one of creation, deletion, condition or jsonPath",
                        ));
                    }
                }
            }
            if w.name.is_some() && w.selector.is_some() {
                ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "wait takes `name` or `selector`, not both"));
            }
            kind_needed(ctx, ptr, w);
            None
        }
        Action::Get(g) | Action::Describe(g) => {
            kind_needed(ctx, ptr, g);
            None
        }
        Action::Proxy(_) => {
            ctx.unsupported(ptr, "the proxy operation");
            None
        }
        Action::Events(_) | Action::PodLogs(_) | Action::Sleep(_) | Action::KuttlCheck(_) => None,
    }
}

fn kind_needed(ctx: &mut Ctx<'_>, ptr: &str, s: &ObjectSel) {
    if s.api_version.is_none() || s.kind.is_none() {
        ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "needs `apiVersion` and `kind`"));
    }
}

fn resource_or_file(
    ctx: &mut Ctx<'_>,
    ptr: &str,
    file: Option<&str>,
    resource: Option<&Value>,
    apply: bool,
) -> Option<Vec<Located>> {
    match (file, resource) {
        (Some(_), Some(_)) => {
            ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "takes `file` or `resource`, not both"));
            None
        }
        (None, None) => {
            ctx.diags.push(error_at(ctx.src, ctx.doc, ptr, "needs `file` or `resource`"));
            None
        }
        (None, Some(r)) => {
            if !r.is_object() {
                ctx.diags.push(error_at_value(
                    ctx.src,
                    ctx.doc,
                    &format!("{ptr}/resource"),
                    "a resource must be a mapping",
                ));
            }
            exprs_syntax(ctx, &format!("{ptr}/resource"), r);
            None
        }
        (Some(f), None) => {
            if matches!(expr::text(f), Text::Expr { .. }) {
                return None;
            }
            if f.contains("://") {
                ctx.diags.push(error_at_value(
                    ctx.src,
                    ctx.doc,
                    &format!("{ptr}/file"),
                    format!("`{f}`: podproof reads no URLs; use a file of the test"),
                ));
                return None;
            }
            match read_files(ctx.dir, f) {
                Ok(list) => {
                    let mut docs = Vec::new();
                    for (src, d) in list {
                        check_doc_exprs(ctx.diags, &src, &d);
                        expand_list(&src, &d, apply, &mut docs, ctx.diags);
                    }
                    Some(docs)
                }
                Err(Problem::NoMatch(why)) => {
                    ctx.diags.push(warning_at(ctx.src, ctx.doc, &format!("{ptr}/file"), why));
                    None
                }
                Err(Problem::Diags(mut d)) => {
                    ctx.diags.append(&mut d);
                    None
                }
            }
        }
    }
}

pub enum Problem {
    /// No file matches (yet): a script of an earlier step may make it.
    NoMatch(String),
    Diags(Vec<Diagnostic>),
}

/// Reads the files a `file:` names (a glob relative to `dir`), every document of each.
pub fn read_files(dir: &Path, pattern: &str) -> Result<Vec<(Source, Doc)>, Problem> {
    let full = if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { dir.join(pattern) };
    let shown = crate::source::display(&crate::source::normalize(&full));
    let mut paths: Vec<PathBuf> = match glob::glob(&full.to_string_lossy()) {
        Ok(g) => g.flatten().filter(|p| p.is_file()).collect(),
        Err(e) => return Err(Problem::Diags(vec![Diagnostic::error(&shown, None, format!("invalid glob: {e}"))])),
    };
    paths.sort();
    if paths.is_empty() {
        return Err(Problem::NoMatch(format!("`{pattern}` matches no file ({shown})")));
    }
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        let name = crate::source::display(&crate::source::normalize(&p));
        match crate::source::read(&name).and_then(|s| crate::app::docs::documents(&s).map(|d| (s, d))) {
            Ok((src, docs)) => out.extend(docs.into_iter().map(|d| (src.clone(), d))),
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Problem::Diags(diags))
    }
}

/// A `kind: List` of an applied file stands for its items (as chainsaw's loader does).
fn expand_list(src: &Source, d: &Doc, apply: bool, out: &mut Vec<Located>, diags: &mut Vec<Diagnostic>) {
    let v = yaml_to_json(&d.value);
    let line = d.pos("").line;
    if apply && v.get("kind").and_then(Value::as_str) == Some("List") {
        for (i, item) in v.get("items").and_then(Value::as_array).cloned().unwrap_or_default().into_iter().enumerate() {
            out.push(Located { value: item, file: src.name.clone(), line: d.pos(&format!("/items/{i}")).line });
        }
        return;
    }
    if !v.is_object() {
        diags.push(error_at(src, d, "", "a resource must be a mapping"));
        return;
    }
    if apply && (v.get("apiVersion").is_none() || v.get("kind").is_none()) {
        diags.push(error_at(src, d, "", "a resource needs apiVersion and kind"));
        return;
    }
    out.push(Located { value: v, file: src.name.clone(), line });
}

/// Checks the syntax of every expression in a document read from a file.
pub fn check_doc_exprs(diags: &mut Vec<Diagnostic>, src: &Source, d: &Doc) {
    walk_exprs(&d.value, "", &mut |ptr, e| {
        if let Err(why) = expr::check_syntax(e) {
            diags.push(error_at(src, d, ptr, why));
        }
    });
}

fn exprs_syntax(ctx: &mut Ctx<'_>, ptr: &str, v: &Value) {
    let (src, doc) = (ctx.src, ctx.doc);
    let diags = &mut *ctx.diags;
    let value = yaml_value(v);
    walk_exprs(&value, "", &mut |p, e| {
        if let Err(why) = expr::check_syntax(e) {
            diags.push(error_at(src, doc, &format!("{ptr}{p}"), why));
        }
    });
}

fn yaml_value(v: &Value) -> serde_yaml::Value {
    serde_yaml::to_value(v).unwrap_or(serde_yaml::Value::Null)
}

fn bindings_syntax(ctx: &mut Ctx<'_>, ptr: &str, bindings: &[Binding]) {
    for (i, b) in bindings.iter().enumerate() {
        let name_ok = match expr::text(&b.name) {
            Text::Expr { .. } => true,
            Text::Plain(n) => !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        };
        if !name_ok {
            ctx.diags.push(error_at_value(
                ctx.src,
                ctx.doc,
                &format!("{ptr}/{i}/name"),
                format!("invalid binding name `{}`: letters, digits and `_` only", b.name),
            ));
        }
        exprs_syntax(ctx, &format!("{ptr}/{i}/name"), &Value::String(b.name.clone()));
        if b.compiler.as_deref() == Some("cel") {
            ctx.unsupported(&format!("{ptr}/{i}/compiler"), "the CEL compiler");
        }
        exprs_syntax(ctx, &format!("{ptr}/{i}/value"), &b.value);
    }
}

fn outputs_syntax(ctx: &mut Ctx<'_>, ptr: &str, outputs: &[Output]) {
    for (i, o) in outputs.iter().enumerate() {
        exprs_syntax(ctx, &format!("{ptr}/{i}/name"), &Value::String(o.name.clone()));
        exprs_syntax(ctx, &format!("{ptr}/{i}/value"), &o.value);
        if let Some(m) = &o.match_ {
            exprs_syntax(ctx, &format!("{ptr}/{i}/match"), m);
        }
    }
}

/// Calls `f(pointer, statement)` for every JMESPath expression among the
/// keys and string values of `v` (CEL ones are left to run time).
fn walk_exprs(v: &serde_yaml::Value, ptr: &str, f: &mut dyn FnMut(&str, &str)) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, x) in m {
                let key = match k {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                };
                let p = format!("{ptr}/{}", crate::yaml::escape(&key));
                let parsed = expr::Key::parse(&key);
                if let Some(c) = &parsed.compiler {
                    if c.is_empty() || c == "jp" || c == "default" {
                        f(&p, &parsed.statement);
                    }
                }
                walk_exprs(x, &p, f);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, x) in items.iter().enumerate() {
                walk_exprs(x, &format!("{ptr}/{i}"), f);
            }
        }
        serde_yaml::Value::String(s) => {
            if let Text::Expr { compiler, statement } = expr::text(s) {
                if compiler.is_empty() || compiler == "jp" || compiler == "default" {
                    f(ptr, &statement);
                }
            }
        }
        _ => {}
    }
}

/// The conventional layout (chainsaw's and kuttl's): a directory of
/// `NN-name.yaml` files is a test whose steps are the files sharing an index,
/// in order: the files to apply, then `NN-assert*` asserts and
/// `NN-errors*` errors.
pub fn step_files(dir: &Path) -> BTreeMap<u64, StepFiles> {
    let mut steps: BTreeMap<u64, StepFiles> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return steps };
    let mut names: Vec<(String, bool)> =
        entries.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().is_dir())).collect();
    names.sort();
    for (name, is_dir) in names {
        let Some(info) = step_file(&name, is_dir) else { continue };
        let s = steps.entry(info.0).or_default();
        if is_dir {
            let mut inner: Vec<String> = std::fs::read_dir(dir.join(&name))
                .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            inner.sort();
            for f in inner {
                if !(f.ends_with(".yaml") || f.ends_with(".yml")) {
                    continue;
                }
                let path = format!("{name}/{f}");
                match file_kind(&f) {
                    FileKind::Assert => s.asserts.push(path),
                    FileKind::Errors => s.errors.push(path),
                    FileKind::Apply => s.apply.push(path),
                }
            }
        } else {
            match info.1 {
                FileKind::Assert => s.asserts.push(name),
                FileKind::Errors => s.errors.push(name),
                FileKind::Apply => s.apply.push(name),
            }
        }
    }
    steps
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepFiles {
    pub apply: Vec<String>,
    pub asserts: Vec<String>,
    pub errors: Vec<String>,
}

pub use crate::suitefile::{file_kind, step_file, FileKind};

/// A test of the conventional layout (no chainsaw-test.yaml): its name is the
/// directory's, each index a step `step-NN` (chainsaw's discovery). Used for
/// chainsaw suites; kuttl suites go through `kuttl.rs`.
pub fn conventional_test(dir: &Path, diags: &mut Vec<Diagnostic>) -> Option<Test> {
    let steps = step_files(dir);
    if steps.is_empty() {
        return None;
    }
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let shown = crate::source::display(dir);
    let before = diags.len();
    let mut out_steps = Vec::new();
    for (idx, files) in &steps {
        let mut try_ = Vec::new();
        for (list, kind) in [(&files.apply, "apply"), (&files.asserts, "assert"), (&files.errors, "error")] {
            for f in list {
                let docs = match read_files(dir, f) {
                    Ok(list) => {
                        let mut docs = Vec::new();
                        for (src, d) in list {
                            check_doc_exprs(diags, &src, &d);
                            expand_list(&src, &d, kind == "apply", &mut docs, diags);
                        }
                        docs
                    }
                    Err(Problem::NoMatch(w)) => {
                        diags.push(Diagnostic::error(&shown, None, w));
                        continue;
                    }
                    Err(Problem::Diags(mut d)) => {
                        diags.append(&mut d);
                        continue;
                    }
                };
                let file = Some(f.clone());
                let action = match kind {
                    "apply" => Action::Apply(ResourceOp { file, ..Default::default() }),
                    "assert" => Action::Assert(CheckOp { file, ..Default::default() }),
                    _ => Action::Error(CheckOp { file, ..Default::default() }),
                };
                try_.push(Operation {
                    action,
                    description: None,
                    continue_on_error: false,
                    compiler: None,
                    file: format!("{shown}/{f}"),
                    line: 1,
                    documents: Some(docs),
                });
            }
        }
        out_steps.push(Step {
            name: format!("step-{idx:02}"),
            description: None,
            timeouts: Timeouts::default(),
            bindings: Vec::new(),
            skip_delete: None,
            template: None,
            deletion_propagation_policy: None,
            try_,
            catch: Vec::new(),
            finally: Vec::new(),
            cleanup: Vec::new(),
            line: 1,
        });
    }
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Test {
        name: dir_name.replace('_', "-").to_lowercase(),
        dialect: Dialect::Chainsaw,
        file: shown,
        name_at: (1, 1),
        dir: dir.to_path_buf(),
        metadata: serde_json::json!({"name": dir_name}),
        description: None,
        timeouts: Timeouts::default(),
        skip: false,
        concurrent: None,
        skip_delete: None,
        template: None,
        namespace: None,
        namespace_template: None,
        bindings: Vec::new(),
        scenarios: Vec::new(),
        steps: out_steps,
        catch: Vec::new(),
        fail_fast: None,
        force_termination_grace_period: None,
        delay_before_cleanup: None,
        deletion_propagation_policy: None,
        poll: CHAINSAW_POLL,
        unsupported: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` as a chainsaw test file in a scratch directory (with
    /// `files` beside it) and renders the steps and operations, or the diagnostics.
    fn check_with(input: &str, files: &[(&str, &str)], expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let src = crate::source::from_bytes(
            "t.yaml",
            None,
            dir.path().to_path_buf(),
            dir.path().to_path_buf(),
            input.as_bytes().to_vec(),
        )
        .unwrap();
        let docs = crate::app::docs::documents(&src).unwrap();
        let mut diags = Vec::new();
        let got = match read_test(&src, &docs[0], &mut diags) {
            Some(t) => {
                let mut out = vec![format!("test {}", t.name)];
                for s in &t.steps {
                    out.push(format!("step {} (line {})", s.name, s.line));
                    for (what, list) in
                        [("try", &s.try_), ("catch", &s.catch), ("finally", &s.finally), ("cleanup", &s.cleanup)]
                    {
                        for o in list {
                            let docs =
                                o.documents.as_ref().map(|d| format!(" ({} documents)", d.len())).unwrap_or_default();
                            out.push(format!("  {what} {} line {}{docs}", o.action.keyword(), o.line));
                        }
                    }
                }
                for d in diags.iter() {
                    out.push(d.to_string());
                }
                out.join("\n")
            }
            None => diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        };
        let got = got.replace(&dir.path().display().to_string(), "<dir>");
        assert_eq!(got.trim(), expect.trim(), "\n{got}");
    }

    fn check(input: &str, expect: &str) {
        check_with(input, &[], expect)
    }

    const HEAD: &str = "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\nspec:\n  steps:\n";

    #[test]
    fn reads_steps_and_operations() {
        check(
            &format!("{HEAD}  - try:\n    - apply:\n        resource: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: x}}}}\n    - assert:\n        resource: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: x}}}}\n    catch:\n    - events: {{}}\n    finally:\n    - sleep: {{duration: 1s}}\n"),
            "test t\nstep step-1 (line 7)\n  try apply line 8\n  try assert line 10\n  catch events line 13\n  finally sleep line 15",
        );
    }

    #[test]
    fn errors_are_located() {
        check(
            &format!("{HEAD}  - try:\n    - aply: {{}}\n"),
            "t.yaml:8:7: error: spec.steps[0].try[0]: unknown field `aply`; did you mean `apply`?",
        );
        check(&format!("{HEAD}  - try:\n    - sleep: {{duration: 1s}}\n      script: {{content: x}}\n"), "t.yaml:8:7: error: an operation needs exactly one of apply, assert, command, create, delete, describe, error, events, get, patch, podLogs, proxy, script, sleep, update, wait; found script, sleep");
        check(&format!("{HEAD}  - try: []\n    catch:\n    - apply: {{file: x.yaml}}\n"), "t.yaml:9:7: error: spec.steps[0].catch[0]: unknown field `apply`, expected one of `description`, `compiler`, `podLogs`, `events`, `describe`, `wait`, `get`, `delete`, `command`, `script`, `sleep`");
        check(
            &format!("{HEAD}  - try:\n    - sleep: {{duration: forever}}\n"),
            "t.yaml:8:25: error: spec.steps[0].try[0].sleep.duration: invalid duration \"forever\"",
        );
        check(
            &format!("{HEAD}  - try:\n    - assert:\n        resource:\n          (length(@) >): 1\n"),
            "t.yaml:10:11: error: invalid expression `length(@) >`: unexpected end of the expression at column 12",
        );
        check(&format!("{HEAD}  - try:\n    - script: {{content: echo}}\n      bogus: 1\n"), "t.yaml:9:7: error: spec.steps[0].try[0]: unknown field `bogus`, expected one of `description`, `continueOnError`, `compiler`, `apply`, `assert`, `command`, `create`, `delete`, `describe`, `error`, `events`, `get`, `patch`, `podLogs`, `proxy`, `script`, `sleep`, `update`, `wait`");
        check(
            "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata: {}\nspec:\n  steps: []\n",
            "t.yaml:3:1: error: a Test needs metadata.name",
        );
        check(&format!("{HEAD}  - name: x\n"), "t.yaml:7:5: error: a step needs `try` (or `use` of a StepTemplate)");
    }

    #[test]
    fn files_and_templates() {
        check_with(
            &format!("{HEAD}  - try:\n    - apply: {{file: 'cm*.yaml'}}\n    - assert: {{file: ($f)}}\n  - use:\n      template: tpl.yaml\n      with:\n        bindings: [{{name: file, value: cm1.yaml}}]\n"),
            &[
                ("cm1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"),
                ("cm2.yaml", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"),
                ("tpl.yaml", "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: StepTemplate\nmetadata: {name: x}\nspec:\n  try:\n  - apply: {file: ($file)}\n  cleanup:\n  - script: {content: echo bye}\n"),
            ],
            "test t\nstep step-1 (line 7)\n  try apply line 8 (3 documents)\n  try assert line 9\nstep step-2 (line 10)\n  try apply line 6\n  cleanup script line 8",
        );
        check_with(
            &format!("{HEAD}  - try:\n    - apply: {{file: missing.yaml}}\n"),
            &[],
            "test t\nstep step-1 (line 7)\n  try apply line 8\nt.yaml:8:15: warning: `missing.yaml` matches no file (<dir>/missing.yaml)",
        );
    }
}
