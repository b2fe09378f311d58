//! The operations, each as chainsaw performs it (its `engine/operations`
//! and `runner/operations` packages):
//!
//! - apply: GET, then a JSON merge patch of what exists (carrying its
//!   resourceVersion) or a create, retried every poll until the timeout;
//!   create, patch and update retry only conflicts and unavailable APIs;
//! - delete: the objects named (by name, or a LIST by labels), deleted with
//!   the step's propagation, then waited for until gone;
//! - assert: LIST or GET the candidates until one matches the assertion
//!   tree; error: until none does (nothing found passes);
//! - script and command: a process with `NAMESPACE`, `KUBECONFIG` and the
//!   operation's `env`, checked with `$stdout`, `$stderr` and `$error`;
//! - get, describe, events, podLogs and wait: the kubectl calls chainsaw
//!   makes for them, run as commands;
//! - sleep: a pause; kuttl's check: its asserts and errors together.
//!
//! `expect` (apply, create, patch, update, delete) and `check` (script,
//! command) decide an operation's outcome instead of its own error when
//! they match; outputs bind values for the rest of the step.

use super::assert::{self as tree, FieldError};
use super::client::{Client, ClientError, ListOptions, ObjectRef, WriteOptions};
use super::engine::{resolve_binding, Cleaner, Env, Tc};
use super::expr::{self, Bindings};
use super::model::*;
use crate::wait::{await_condition, Poll, WaitError};
use serde_json::{json, Value};
use std::time::Duration;

pub struct OpCtx<'a> {
    pub client: &'a dyn Client,
    pub tc: &'a Tc,
    /// The step's bindings with `$operation` and the operation's own.
    pub bindings: Bindings,
    pub timeout: Duration,
    pub env: &'a Env<'a>,
}

type Outputs = Vec<(String, Value)>;

/// The documents an operation works on: `None` for operations without resources.
pub fn resources_of(op: &Operation, tc: &Tc) -> Result<Option<Vec<Located>>, String> {
    let (file, resource) = match &op.action {
        Action::Apply(o) | Action::Create(o) | Action::Patch(o) | Action::Update(o) => {
            (o.file.as_deref(), o.resource.as_ref())
        }
        Action::Assert(o) | Action::Error(o) => (o.file.as_deref(), o.resource.as_ref()),
        Action::Delete(o) if o.ref_.is_none() => (o.file.as_deref(), None),
        _ => return Ok(None),
    };
    if let Some(r) = resource {
        return Ok(Some(vec![Located { value: r.clone(), file: op.file.clone(), line: op.line }]));
    }
    if let Some(docs) = &op.documents {
        return Ok(Some(docs.clone()));
    }
    let Some(f) = file else { return Err("file or resource must be set".into()) };
    let path = expr::string_value(f, &tc.bindings)?;
    let apply = !matches!(op.action, Action::Assert(_) | Action::Error(_));
    match super::load::read_files(&tc.dir, &path) {
        Ok(list) => {
            let mut out = Vec::new();
            for (src, d) in list {
                let v = super::load::yaml_to_json(&d.value);
                let line = d.pos("").line;
                if apply && v.get("kind").and_then(Value::as_str) == Some("List") {
                    for item in v.get("items").and_then(Value::as_array).cloned().unwrap_or_default() {
                        out.push(Located { value: item, file: src.name.clone(), line });
                    }
                } else {
                    out.push(Located { value: v, file: src.name.clone(), line });
                }
            }
            Ok(Some(out))
        }
        Err(super::load::Problem::NoMatch(why)) => Err(why),
        Err(super::load::Problem::Diags(d)) => Err(d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

pub fn execute(
    x: &OpCtx<'_>,
    action: &Action,
    res: Option<&Located>,
    cleaner: Option<&mut Cleaner>,
) -> Result<Outputs, String> {
    match action {
        Action::Apply(o) => write(x, Write::Apply, o, doc(res)?, cleaner),
        Action::Create(o) => write(x, Write::Create, o, doc(res)?, cleaner),
        Action::Patch(o) => write(x, Write::Patch, o, doc(res)?, None),
        Action::Update(o) => write(x, Write::Update, o, doc(res)?, None),
        Action::Delete(o) => delete(x, o, res.map(|r| &r.value)),
        Action::Assert(o) => assert(x, o, doc(res)?, false).map(|_| Vec::new()),
        Action::Error(o) => assert(x, o, doc(res)?, true).map(|_| Vec::new()),
        Action::Script(s) => script(x, s),
        Action::Command(c) => command(x, c),
        Action::Sleep(s) => {
            crate::wait::pause(s.duration.0);
            if crate::signals::interrupted() {
                return Err("interrupted".into());
            }
            Ok(Vec::new())
        }
        Action::Wait(w) => kubectl(x, "wait", w),
        Action::Get(g) => kubectl(x, "get", g),
        Action::Describe(d) => kubectl(x, "describe", d),
        Action::Events(e) => {
            let sel = ObjectSel { api_version: Some("v1".into()), kind: Some("Event".into()), ..e.clone() };
            kubectl(x, "get", &sel)
        }
        Action::PodLogs(p) => kubectl(x, "logs", p),
        Action::Proxy(_) => Err("the proxy operation is not supported by podproof".into()),
        Action::KuttlCheck(k) => kuttl_check(x, k).map(|_| Vec::new()),
    }
}

fn doc(res: Option<&Located>) -> Result<&Value, String> {
    res.map(|r| &r.value).ok_or_else(|| "file or resource must be set".to_string())
}

fn s(v: &Value, p: &str) -> String {
    v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Sets the test's namespace on an object of a namespaced kind that names none.
fn namespacer(x: &OpCtx<'_>, obj: &mut Value) -> Result<(), String> {
    let Some(ns) = &x.tc.namespace else { return Ok(()) };
    if !s(obj, "/metadata/namespace").is_empty() {
        return Ok(());
    }
    let (av, kind) = (s(obj, "/apiVersion"), s(obj, "/kind"));
    let namespaced = match x.client.resource(&av, &kind).map_err(|e| e.to_string())? {
        Some(r) => r.namespaced,
        None => return Err(format!("no matches for kind \"{kind}\" in version \"{av}\"")),
    };
    if namespaced {
        if let Some(m) = obj.as_object_mut() {
            let meta = m.entry("metadata").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
    }
    Ok(())
}

/// chainsaw's `forceTerminationGracePeriod`: written into the pod specs of what is applied.
fn prepare(x: &OpCtx<'_>, obj: &mut Value) {
    let Some(g) = x.tc.grace else { return };
    let secs = g.as_secs();
    if secs == 0 {
        return;
    }
    let path: &[&str] = match s(obj, "/kind").as_str() {
        "Pod" => &["spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return,
    };
    let mut cur = obj;
    for k in path {
        let Some(m) = cur.as_object_mut() else { return };
        cur = m.entry(k.to_string()).or_insert_with(|| json!({}));
    }
    if let Some(m) = cur.as_object_mut() {
        m.insert("terminationGracePeriodSeconds".into(), json!(secs));
    }
}

fn template_of(x: &OpCtx<'_>, own: Option<bool>, obj: &Value) -> Result<Value, String> {
    if own.unwrap_or(x.tc.template) {
        super::template::template(obj, &x.bindings)
    } else {
        Ok(obj.clone())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Apply,
    Create,
    Patch,
    Update,
}

/// Whether a failed write is worth another try (chainsaw's retryable errors).
fn retryable(e: &ClientError) -> bool {
    matches!(e, ClientError::Status { code: 409 | 429 | 503 | 504, .. })
        && !matches!(e, ClientError::Status { reason, .. } if reason == "AlreadyExists")
}

fn write(
    x: &OpCtx<'_>,
    kind: Write,
    o: &ResourceOp,
    obj: &Value,
    mut cleaner: Option<&mut Cleaner>,
) -> Result<Outputs, String> {
    let mut obj = template_of(x, o.template, obj)?;
    namespacer(x, &mut obj)?;
    if matches!(kind, Write::Apply | Write::Create) {
        prepare(x, &mut obj);
    }
    let opts = WriteOptions { dry_run: o.dry_run.unwrap_or(false), subresource: o.subresource.clone() };
    let r = ObjectRef::of(&obj);
    let mut last: Option<String> = None;
    let result = await_condition(x.timeout, x.tc.poll, || {
        let attempt: Result<(), ClientError> = (|| {
            let actual = x.client.get(&r)?;
            match (kind, actual) {
                (Write::Apply, Some(a)) | (Write::Patch, Some(a)) => {
                    let mut patch = obj.clone();
                    if let Some(rv) = a.pointer("/metadata/resourceVersion").cloned() {
                        patch["metadata"]["resourceVersion"] = rv;
                    }
                    x.client.merge_patch(&r, &patch, &opts).map(|_| ())
                }
                (Write::Apply, None) | (Write::Create, _) => {
                    let made = x.client.create(&obj, &opts)?;
                    if !opts.dry_run {
                        if let Some(c) = cleaner.as_deref_mut() {
                            let mut made_ref = ObjectRef::of(&made);
                            if made_ref.api_version.is_empty() {
                                made_ref = r.clone();
                            }
                            c.made.push(made_ref);
                        }
                    }
                    Ok(())
                }
                (Write::Update, Some(a)) => {
                    let mut full = obj.clone();
                    if let Some(rv) = a.pointer("/metadata/resourceVersion").cloned() {
                        full["metadata"]["resourceVersion"] = rv;
                    }
                    x.client.update(&full, &opts).map(|_| ())
                }
                (Write::Patch, None) => {
                    Err(ClientError::Status { code: 404, reason: "NotFound".into(), message: r.not_found() })
                }
                (Write::Update, None) => Err(ClientError::Status {
                    code: 404,
                    reason: "NotFound".into(),
                    message: "the resource does not exist in the cluster".into(),
                }),
            }
        })();
        let err = attempt.as_ref().err().map(|e| e.to_string());
        match handle_check(x, &o.expect, &obj, err.as_deref()) {
            Ok(()) => Poll::Ready(()),
            Err(e) => {
                let again = kind == Write::Apply || attempt.as_ref().err().is_some_and(retryable);
                last = Some(e.clone());
                if again {
                    Poll::Pending(Some(e))
                } else {
                    Poll::Fail(e)
                }
            }
        }
    });
    match result {
        Ok(()) => outputs(x, &o.outputs, &obj, None, None),
        Err(WaitError::Failed(e)) | Err(WaitError::Timeout(Some(e))) => Err(e),
        Err(WaitError::Timeout(None)) => Err(last.unwrap_or_else(|| format!("timed out after {:?}", x.timeout))),
        Err(WaitError::Interrupted) => Err("interrupted".into()),
    }
}

/// chainsaw's `handleCheck`: when an expectation matches the object, its
/// checks decide (with `$error` bound); otherwise the operation's own error does.
fn handle_check(x: &OpCtx<'_>, expect: &[Expectation], obj: &Value, err: Option<&str>) -> Result<(), String> {
    if expect.is_empty() {
        return err.map_or(Ok(()), |e| Err(e.to_string()));
    }
    let b = x.bindings.with("error", err.map_or(Value::Null, |e| Value::String(e.to_string())));
    let mut matched = false;
    let mut errs: Vec<FieldError> = Vec::new();
    for e in expect {
        if let Some(m) = &e.match_ {
            match tree::check(m, obj, &Bindings::new()) {
                Ok(v) if !v.is_empty() => continue,
                Ok(_) => {}
                Err(fe) => return Err(fe.to_string()),
            }
        }
        matched = true;
        match tree::check(&e.check, obj, &b) {
            Ok(v) => errs.extend(v),
            Err(fe) => return Err(fe.to_string()),
        }
    }
    if matched {
        aggregate(&errs)
    } else {
        err.map_or(Ok(()), |e| Err(e.to_string()))
    }
}

/// Kubernetes' error aggregate: one error as itself, several as `[a, b]`.
fn aggregate(errs: &[FieldError]) -> Result<(), String> {
    match errs {
        [] => Ok(()),
        [one] => Err(one.to_string()),
        many => Err(format!("[{}]", many.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))),
    }
}

/// Binds each output whose `match` (if any) holds; `@` is `input`.
fn outputs(
    x: &OpCtx<'_>,
    list: &[Output],
    input: &Value,
    extra: Option<&Bindings>,
    err: Option<Option<&str>>,
) -> Result<Outputs, String> {
    let mut b = extra.cloned().unwrap_or_else(|| x.bindings.clone());
    if let Some(e) = err {
        b = b.with("error", e.map_or(Value::Null, |e| Value::String(e.to_string())));
    } else if extra.is_none() {
        b = b.with("error", Value::Null);
    }
    let mut out = Vec::new();
    for o in list {
        if let Some(m) = &o.match_ {
            match tree::check(m, input, &b) {
                Ok(v) if !v.is_empty() => continue,
                Ok(_) => {}
                Err(fe) => return Err(fe.to_string()),
            }
        }
        let bind = Binding { name: o.name.clone(), compiler: o.compiler.clone(), value: o.value.clone() };
        let (name, value) = resolve_binding(&b, &bind, input)?;
        b = b.with(&name, value.clone());
        out.push((name, value));
    }
    Ok(out)
}

/// Deletes `r` and waits until it is gone (what a step's cleanup does).
pub fn delete_and_wait(
    c: &dyn Client,
    r: &ObjectRef,
    propagation: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<(), String> {
    match c.delete(r, Some(propagation)) {
        Ok(()) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.to_string()),
    }
    wait_gone(c, r, timeout, poll)
}

fn wait_gone(c: &dyn Client, r: &ObjectRef, timeout: Duration, poll: Duration) -> Result<(), String> {
    await_condition(timeout, poll, || match c.get(r) {
        Ok(None) => Poll::Ready(()),
        Ok(Some(_)) => Poll::Pending(Some(format!("{} still exists", r.describe()))),
        Err(e) => Poll::Fail(e.to_string()),
    })
    .map_err(|e| match e {
        WaitError::Timeout(Some(m)) => format!("{m} after {timeout:?}"),
        WaitError::Timeout(None) => format!("timed out after {timeout:?}"),
        WaitError::Failed(m) => m,
        WaitError::Interrupted => "interrupted".into(),
    })
}

/// The candidates of an expected object: GET by name, else LIST by kind
/// (in its namespace, with its labels as the selector).
fn candidates(c: &dyn Client, expected: &Value) -> Result<Vec<Value>, ClientError> {
    let r = ObjectRef::of(expected);
    if !r.name.is_empty() {
        // A GET that finds nothing is the API's NotFound, as chainsaw sees it.
        return match c.get(&r)? {
            Some(o) => Ok(vec![o]),
            None => Err(ClientError::Status { code: 404, reason: "NotFound".into(), message: r.not_found() }),
        };
    }
    let labels = expected
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .unwrap_or_default();
    c.list(&r, &ListOptions { labels, selector: None })
}

fn assert(x: &OpCtx<'_>, o: &CheckOp, expected: &Value, error: bool) -> Result<(), String> {
    let mut obj = expected.clone();
    let templating = o.template.unwrap_or(x.tc.template);
    if templating {
        obj = super::template::template_ref(&obj, &x.bindings)?;
    }
    let resource = !s(&obj, "/apiVersion").is_empty() && !s(&obj, "/kind").is_empty();
    if resource {
        namespacer(x, &mut obj)?;
    }
    // The diff of a failure shows the expected object templated, as chainsaw's does.
    let shown = if templating {
        super::template::template(&obj, &x.bindings).unwrap_or_else(|_| obj.clone())
    } else {
        obj.clone()
    };
    let mut last: Vec<String> = Vec::new();
    let r = await_condition(x.timeout, x.tc.poll, || {
        let mut errs: Vec<String> = Vec::new();
        if !resource {
            return match tree::check(&obj, &Value::Null, &x.bindings) {
                Err(e) => Poll::Fail(e.to_string()),
                Ok(fe) if error && fe.is_empty() => {
                    last = vec!["expectation matched".into()];
                    Poll::Pending(None)
                }
                Ok(fe) if !error && !fe.is_empty() => {
                    last = fe.iter().map(|e| e.to_string()).collect();
                    Poll::Pending(None)
                }
                Ok(_) => Poll::Ready(()),
            };
        }
        let found = match candidates(x.client, &obj) {
            Ok(f) => f,
            Err(e) if e.is_not_found() && !error => {
                last = vec!["actual resource not found".into()];
                return Poll::Pending(None);
            }
            Err(e) if e.is_not_found() => return Poll::Ready(()),
            Err(e) => return Poll::Fail(e.to_string()),
        };
        if found.is_empty() {
            if error {
                return Poll::Ready(());
            }
            last = vec!["no actual resource found".into()];
            return Poll::Pending(None);
        }
        for cand in &found {
            match tree::check(&obj, cand, &x.bindings) {
                Err(e) => return Poll::Fail(e.to_string()),
                Ok(fe) if fe.is_empty() => {
                    if !error {
                        return Poll::Ready(());
                    }
                    let cr = ObjectRef::of(cand);
                    errs.push(format!("{}/{}/{} - resource matches expectation", cr.api_version, cr.kind, cr.key()));
                }
                Ok(fe) => {
                    if !error {
                        errs.push(tree::resource_error(&shown, cand, &fe));
                    }
                }
            }
        }
        if error && errs.is_empty() {
            return Poll::Ready(());
        }
        last = errs;
        Poll::Pending(None)
    });
    match r {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(e)) => Err(e),
        Err(WaitError::Interrupted) => Err("interrupted".into()),
        Err(WaitError::Timeout(_)) if !last.is_empty() => Err(last.join("\n")),
        Err(WaitError::Timeout(_)) => Err(format!("timed out after {:?}", x.timeout)),
    }
}

fn delete(x: &OpCtx<'_>, o: &DeleteOp, file_obj: Option<&Value>) -> Result<Outputs, String> {
    let mut obj = match (file_obj, &o.ref_) {
        (Some(v), _) => v.clone(),
        (None, Some(r)) => {
            let mut meta = serde_json::Map::new();
            if let Some(n) = &r.name {
                meta.insert("name".into(), json!(n));
            }
            if let Some(n) = &r.namespace {
                meta.insert("namespace".into(), json!(n));
            }
            if !r.labels.is_empty() {
                meta.insert("labels".into(), json!(r.labels));
            }
            json!({"apiVersion": r.api_version, "kind": r.kind, "metadata": meta})
        }
        (None, None) => return Err("file or ref must be set".into()),
    };
    if o.template.unwrap_or(x.tc.template) {
        obj = super::template::template_ref(&obj, &x.bindings)?;
    }
    namespacer(x, &mut obj)?;
    let found = match candidates(x.client, &obj) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    let propagation = o.deletion_propagation_policy.clone().unwrap_or_else(|| x.tc.propagation.clone());
    let mut errs = Vec::new();
    let mut deleted = Vec::new();
    for cand in &found {
        let r = ObjectRef::of(cand);
        let r = ObjectRef {
            api_version: if r.api_version.is_empty() { s(&obj, "/apiVersion") } else { r.api_version },
            ..r
        };
        let err = match x.client.delete(&r, Some(&propagation)) {
            Ok(()) => {
                deleted.push(r.clone());
                None
            }
            Err(e) if e.is_not_found() => {
                deleted.push(r.clone());
                None
            }
            Err(e) => Some(e.to_string()),
        };
        if let Err(e) = handle_check(x, &o.expect, cand, err.as_deref()) {
            errs.push(e);
        }
    }
    for r in deleted {
        if let Err(e) = wait_gone(x.client, &r, x.timeout, x.tc.poll) {
            errs.push(e);
        }
    }
    if errs.is_empty() {
        Ok(Vec::new())
    } else {
        Err(errs.join("\n"))
    }
}

/// The environment of a script or command: `NAMESPACE` (unless `env` sets
/// it), `KUBECONFIG`, and `env` (each value a string, or an expression that
/// gives one).
fn process_env(x: &OpCtx<'_>, env: &[Binding]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for e in env {
        let (name, value) = resolve_binding(&x.bindings, e, &Value::Null)?;
        match value {
            Value::String(v) => out.push((name, v)),
            _ => return Err(format!("value must be a string ({})", e.name)),
        }
    }
    if !out.iter().any(|(k, _)| k == "NAMESPACE") {
        out.push(("NAMESPACE".into(), x.tc.namespace.clone().unwrap_or_default()));
    }
    if let Some(k) = x.client.kubeconfig() {
        out.push(("KUBECONFIG".into(), k.display().to_string()));
    }
    Ok(out)
}

fn work_dir(x: &OpCtx<'_>, wd: Option<&String>) -> std::path::PathBuf {
    match wd {
        Some(w) if std::path::Path::new(w).is_absolute() => w.into(),
        Some(w) => x.tc.dir.join(w),
        None => x.tc.dir.clone(),
    }
}

fn script(x: &OpCtx<'_>, sc: &Script) -> Result<Outputs, String> {
    let env = process_env(x, &sc.env)?;
    let mut args = if sc.shell_args.is_empty() { vec!["-c".to_string()] } else { sc.shell_args.clone() };
    args.push(sc.content.clone());
    let run = super::exec::Run {
        program: sc.shell.clone().unwrap_or_else(|| "sh".into()),
        args,
        env,
        dir: work_dir(x, sc.work_dir.as_ref()),
        timeout: x.timeout,
        path_prepend: x.env.tools_path.clone(),
    };
    finish(x, run, sc.check.as_ref(), &sc.outputs, sc.skip_log_output, sc.ignore_failure)
}

fn command(x: &OpCtx<'_>, c: &Command) -> Result<Outputs, String> {
    let env = process_env(x, &c.env)?;
    let mut args: Vec<String> = c.args.iter().map(|a| super::exec::expand(a, &env)).collect();
    if c.namespaced {
        args.push("--namespace".into());
        args.push(x.tc.namespace.clone().unwrap_or_default());
    }
    let run = super::exec::Run {
        program: super::exec::expand(&c.entrypoint, &env),
        args,
        env,
        dir: work_dir(x, c.work_dir.as_ref()),
        timeout: x.timeout,
        path_prepend: x.env.tools_path.clone(),
    };
    finish(x, run, c.check.as_ref(), &c.outputs, c.skip_log_output, c.ignore_failure)
}

/// Runs the process, then decides by `check` (with `$stdout`, `$stderr`,
/// `$error` bound) or by its exit, and binds the outputs.
fn finish(
    x: &OpCtx<'_>,
    run: super::exec::Run,
    check: Option<&Value>,
    outs: &[Output],
    quiet: bool,
    ignore: bool,
) -> Result<Outputs, String> {
    let shown = format!("{} {}", run.program, run.args.join(" "));
    let ran = super::exec::run(&run)?;
    if !quiet {
        for (what, text) in [("STDOUT", &ran.stdout), ("STDERR", &ran.stderr)] {
            if !text.trim().is_empty() {
                (x.env.log)(&format!("=== {what}\n{}", text.trim_end()));
            }
        }
    }
    let b = x
        .bindings
        .with("stdout", Value::String(ran.stdout.clone()))
        .with("stderr", Value::String(ran.stderr.clone()))
        .with("error", ran.error.clone().map_or(Value::Null, Value::String));
    let outcome = match check {
        None => match &ran.error {
            None => Ok(()),
            Some(e) if ignore => {
                (x.env.log)(&format!("ignored failure of `{shown}`: {e}"));
                Ok(())
            }
            Some(e) => Err(format!("`{shown}`: {e}{}", stderr_tail(&ran.stderr))),
        },
        Some(c) => match tree::check(c, &Value::Null, &b) {
            Ok(errs) => aggregate(&errs),
            Err(fe) => Err(fe.to_string()),
        },
    };
    outcome?;
    outputs(x, outs, &Value::Null, Some(&b), None)
}

fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(20)..];
    format!("\n{}", tail.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"))
}

/// get, describe, events, podLogs and wait, as the kubectl calls chainsaw makes for them.
fn kubectl(x: &OpCtx<'_>, verb: &str, sel: &ObjectSel) -> Result<Outputs, String> {
    let b = &x.bindings;
    let val = |o: &Option<String>| -> Result<String, String> {
        o.as_deref().map(|v| expr::string_value(v, b)).transpose().map(|v| v.unwrap_or_default())
    };
    let name = val(&sel.name)?;
    let namespace = val(&sel.namespace)?;
    let selector = val(&sel.selector)?;
    let format = val(&sel.format)?;
    if !name.is_empty() && !selector.is_empty() {
        return Err("name cannot be provided when a selector is specified".into());
    }
    let mut args: Vec<String> = vec![verb.into()];
    let mut clustered = false;
    if verb != "logs" {
        let (av, kind) = (val(&sel.api_version)?, val(&sel.kind)?);
        let r = x
            .client
            .resource(&av, &kind)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no matches for kind \"{kind}\" in version \"{av}\""))?;
        clustered = !r.namespaced;
        let group = super::client::split_api_version(&av);
        args.push(if group.0.is_empty() { r.plural } else { format!("{}.{}.{}", r.plural, group.1, group.0) });
    } else {
        args.push("--prefix".into());
    }
    let ns_args = |args: &mut Vec<String>| {
        if clustered {
            return;
        }
        if namespace == "*" {
            args.push("--all-namespaces".into());
        } else {
            args.push("-n".into());
            args.push(if namespace.is_empty() { "$NAMESPACE".into() } else { namespace.clone() });
        }
    };
    match verb {
        "wait" => {
            let f = sel.for_.clone().unwrap_or_default();
            if f.deletion.is_some() {
                args.push("--for=delete".into());
            } else if f.creation.is_some() {
                args.push("--for=create".into());
            } else if let Some(c) = &f.condition {
                let n = expr::string_value(&c.name, b)?;
                match &c.value {
                    Some(v) => args.push(format!("--for=condition={n}={}", expr::string_value(v, b)?)),
                    None => args.push(format!("--for=condition={n}")),
                }
            } else if let Some(j) = &f.json_path {
                let p = expr::string_value(&j.path, b)?;
                match &j.value {
                    Some(v) => args.push(format!("--for=jsonpath={p}={}", expr::string_value(v, b)?)),
                    None => args.push(format!("--for=jsonpath={p}")),
                }
            } else {
                return Err("either a deletion or a condition must be specified".into());
            }
            if !name.is_empty() {
                args.push(name.clone());
            } else if !selector.is_empty() {
                args.extend(["-l".to_string(), selector.clone()]);
            } else {
                args.push("--all".into());
            }
            ns_args(&mut args);
            args.push("--timeout".into());
            args.push(format!("{}s", x.timeout.as_secs().max(1)));
        }
        "logs" => {
            if name.is_empty() && selector.is_empty() {
                return Err("a name or selector must be specified".into());
            }
            if !name.is_empty() {
                args.push(name.clone());
            } else {
                args.extend(["-l".to_string(), selector.clone()]);
            }
            args.push("-n".into());
            args.push(if namespace.is_empty() { "$NAMESPACE".into() } else { namespace.clone() });
            match val(&sel.container)? {
                c if c.is_empty() => args.push("--all-containers".into()),
                c => args.extend(["-c".to_string(), c]),
            }
            if let Some(t) = sel.tail {
                args.extend(["--tail".to_string(), t.to_string()]);
            }
        }
        _ => {
            if !name.is_empty() {
                args.push(name.clone());
            } else if !selector.is_empty() {
                args.extend(["-l".to_string(), selector.clone()]);
            }
            ns_args(&mut args);
            if verb == "describe" {
                if let Some(e) = sel.show_events {
                    args.push(format!("--show-events={e}"));
                }
            } else if !format.is_empty() {
                args.extend(["-o".to_string(), format.clone()]);
            }
        }
    }
    let env = process_env(x, &[])?;
    let args: Vec<String> = args.iter().map(|a| super::exec::expand(a, &env)).collect();
    // wait's own --timeout ends it; the process deadline leaves it room to say so.
    let timeout = if verb == "wait" { x.timeout + Duration::from_secs(30) } else { x.timeout };
    let run = super::exec::Run {
        program: "kubectl".into(),
        args,
        env,
        dir: x.tc.dir.clone(),
        timeout,
        path_prepend: x.env.tools_path.clone(),
    };
    finish(x, run, None, &sel.outputs, false, false)
}

/// kuttl's check of a step: every assert found and matching, no error
/// matching, the TestAssert's commands passing, re-checked every second.
fn kuttl_check(x: &OpCtx<'_>, k: &KuttlCheck) -> Result<(), String> {
    let mut prepared = Vec::new();
    for (list, error) in [(&k.asserts, false), (&k.errors, true)] {
        for l in list.iter() {
            let mut v = l.value.clone();
            namespacer(x, &mut v)?;
            prepared.push((v, error, format!("{}:{}", l.file, l.line)));
        }
    }
    let mut last = Vec::new();
    let r = await_condition(k.timeout, x.tc.poll, || {
        let mut errs = Vec::new();
        for sc in &k.commands {
            if let Err(e) = script(
                &OpCtx { client: x.client, tc: x.tc, bindings: x.bindings.clone(), timeout: k.timeout, env: x.env },
                sc,
            ) {
                errs.push(e);
            }
        }
        for (v, error, at) in &prepared {
            match candidates(x.client, v) {
                Err(e) if e.is_not_found() => {
                    if !error {
                        errs.push(format!("{at}: {} not found", ObjectRef::of(v).describe()));
                    }
                }
                Err(e) => return Poll::Fail(e.to_string()),
                Ok(found) => {
                    let mut matching = None;
                    let mut diffs = Vec::new();
                    for c in &found {
                        match tree::check_literal(v, c) {
                            Err(e) => return Poll::Fail(format!("{at}: {e}")),
                            Ok(fe) if fe.is_empty() => {
                                matching = Some(c);
                                break;
                            }
                            Ok(fe) => diffs.push(tree::resource_error(v, c, &fe)),
                        }
                    }
                    match (error, matching, found.is_empty()) {
                        (false, None, true) => errs.push(format!("{at}: no {} found", ObjectRef::of(v).describe())),
                        (false, None, false) => errs.push(format!("{at}:\n{}", diffs.join("\n"))),
                        (true, Some(c), _) => {
                            let cr = ObjectRef::of(c);
                            errs.push(format!(
                                "{at}: {}/{}/{} - resource matches the errors file",
                                cr.api_version,
                                cr.kind,
                                cr.key()
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        if errs.is_empty() {
            Poll::Ready(())
        } else {
            last = errs;
            Poll::Pending(None)
        }
    });
    match r {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(e)) => Err(e),
        Err(WaitError::Interrupted) => Err("interrupted".into()),
        Err(WaitError::Timeout(_)) => {
            Err(if last.is_empty() { format!("timed out after {:?}", k.timeout) } else { last.join("\n") })
        }
    }
}
