//! chainsaw and kuttl test files: the kinds their operations name and the
//! operations their steps hold. These files are not manifests to apply
//! (asserts are partial objects, resources may be templates), so they get
//! these checks instead of the manifest rules.

use super::{Ctx, SUITE_UNKNOWN_KIND, SUITE_UNKNOWN_OPERATION};
use crate::suitefile::{self, CATCH_OPERATIONS, OPERATIONS, OPERATION_FIELDS};
use crate::validation::{kinds, Issues};
use crate::yaml::escape;
use serde_yaml::Value;

/// The operations whose resource (or reference) names a kind, with where.
const RESOURCE_OPS: &[(&str, &str)] = &[
    ("apply", "resource"),
    ("assert", "resource"),
    ("create", "resource"),
    ("delete", "ref"),
    ("error", "resource"),
    ("patch", "resource"),
    ("update", "resource"),
];

/// A document of a test file: chainsaw's and kuttl's own, or a resource the
/// test applies or asserts.
pub fn document(ctx: &mut Ctx) {
    let v = &ctx.doc.value;
    if suitefile::is_chainsaw(v) {
        match v.get("kind").and_then(Value::as_str) {
            Some("Test") => test(ctx),
            Some("StepTemplate") => step(ctx, "/spec"),
            _ => {}
        }
    } else if suitefile::is_kuttl(v) {
        if v.get("kind").and_then(Value::as_str) == Some("TestStep") {
            let n = v.get("delete").and_then(Value::as_sequence).map_or(0, Vec::len);
            for i in 0..n {
                kind_of(ctx, &format!("/delete/{i}"));
            }
        }
    } else {
        resource(ctx, "");
    }
}

/// A resource of a test file, the items of a List one by one.
fn resource(ctx: &mut Ctx, ptr: &str) {
    let Some(v) = crate::yaml::lookup(&ctx.doc.value, ptr) else { return };
    let api = v.get("apiVersion").and_then(Value::as_str);
    let kind = v.get("kind").and_then(Value::as_str);
    if api == Some("v1") && kind == Some("List") {
        let n = v.get("items").and_then(Value::as_sequence).map_or(0, Vec::len);
        for i in 0..n {
            resource(ctx, &format!("{ptr}/items/{i}"));
        }
        return;
    }
    kind_of(ctx, ptr);
}

/// The apiVersion and kind of the object at `ptr`, when both are plain
/// strings: a template (`($kind)`, `{{ .kind }}`) is decided at run time.
fn kind_of(ctx: &mut Ctx, ptr: &str) {
    let Some(v) = crate::yaml::lookup(&ctx.doc.value, ptr) else { return };
    let (Some(api), Some(kind)) = (v.get("apiVersion").and_then(Value::as_str), v.get("kind").and_then(Value::as_str))
    else {
        return;
    };
    let plain = |s: &str| !s.is_empty() && !s.contains(['(', ')', '$', '{', '}', '~']);
    if !plain(api) || !plain(kind) {
        return;
    }
    let mut issues = Issues::default();
    kinds::check(&mut issues, api, kind);
    for i in issues.0 {
        ctx.value(&SUITE_UNKNOWN_KIND, &format!("{ptr}{}", i.pointer), i.message);
    }
}

/// A chainsaw Test: its steps, and the `catch` every step shares.
fn test(ctx: &mut Ctx) {
    block(ctx, "/spec", "catch");
    let n = crate::yaml::lookup(&ctx.doc.value, "/spec/steps").and_then(Value::as_sequence).map_or(0, Vec::len);
    for i in 0..n {
        step(ctx, &format!("/spec/steps/{i}"));
    }
}

/// A step (or a StepTemplate's spec): its four blocks of operations.
fn step(ctx: &mut Ctx, ptr: &str) {
    for b in ["try", "catch", "finally", "cleanup"] {
        block(ctx, ptr, b);
    }
}

/// The operations of one block.
fn block(ctx: &mut Ctx, ptr: &str, name: &str) {
    let base = format!("{ptr}/{name}");
    let Some(ops) = crate::yaml::lookup(&ctx.doc.value, &base).and_then(Value::as_sequence).cloned() else { return };
    let allowed = if name == "try" { OPERATIONS } else { CATCH_OPERATIONS };
    for (i, op) in ops.iter().enumerate() {
        let Some(m) = op.as_mapping() else { continue };
        let at = format!("{base}/{i}");
        for k in m.keys().filter_map(Value::as_str) {
            if OPERATION_FIELDS.contains(&k) || allowed.contains(&k) {
                continue;
            }
            let key = format!("{at}/{}", escape(k));
            let msg = if OPERATIONS.contains(&k) {
                format!("`{k}` cannot run in `{name}`: it holds only {}", CATCH_OPERATIONS.join(", "))
            } else {
                let near = allowed
                    .iter()
                    .find(|o| crate::validation::messages::near(k, o))
                    .map(|o| format!("; did you mean `{o}`?"))
                    .unwrap_or_default();
                format!("unknown operation `{k}` in `{name}`{near}")
            };
            ctx.key(&SUITE_UNKNOWN_OPERATION, &key, msg);
        }
        for (op, field) in RESOURCE_OPS {
            if m.contains_key(*op) {
                kind_of(ctx, &format!("{at}/{op}/{field}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::{check_suite_file, Facts};
    use crate::lint::{Config, Options, Target};

    /// Lints `input` as a test file and compares `line:column rule: message`
    /// lines with `expect`.
    fn check(input: &str, expect: &str) {
        let docs = crate::yaml::parse_stream_lint(input).unwrap();
        let opts = Options {
            podman: crate::podman::Version::parse("4.3").unwrap(),
            target: Target::Both,
            config: Config::default(),
        };
        let mut out = Vec::new();
        check_suite_file(&docs, &opts, 0, &mut out, &mut Facts::default());
        let got: Vec<String> =
            out.iter().map(|f| format!("{}:{} {}: {}", f.line, f.column, f.rule.id, f.message)).collect();
        assert_eq!(got.join("\n"), expect.trim(), "input:\n{input}");
    }

    const HEAD: &str = "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\nspec:\n  steps:\n";

    #[test]
    fn kinds_of_operations() {
        check(
            &format!("{HEAD}  - try:\n    - apply:\n        resource:\n          apiVersion: v1\n          kind: Deployment\n          metadata: {{name: d}}\n"),
            "9:23 suite-unknown-kind: Deployment must have apiVersion `apps/v1`, found `v1`",
        );
        check(
            &format!("{HEAD}  - try:\n    - assert:\n        resource: {{apiVersion: v1, kind: Pood}}\n    - delete:\n        ref: {{apiVersion: apps/v1, kind: Deployment, name: d}}\n"),
            "8:42 suite-unknown-kind: apiVersion `v1` serves no kind `Pood`; did you mean `Pod` (v1)?",
        );
        // Custom resources, templates and status-only asserts are not flagged.
        check(
            &format!("{HEAD}  - try:\n    - assert:\n        resource: {{apiVersion: example.com/v1, kind: Widget, status: {{ready: true}}}}\n    - create:\n        resource: {{apiVersion: ($api), kind: Pod}}\n    - error:\n        resource: {{apiVersion: apps/v1, kind: Deployment, status: {{readyReplicas: 3}}}}\n"),
            "",
        );
    }

    #[test]
    fn operations_of_blocks() {
        check(
            &format!("{HEAD}  - try:\n    - aply: {{file: a.yaml}}\n    - description: ok\n      script: {{content: echo}}\n    catch:\n    - apply: {{file: a.yaml}}\n    - podlogs: {{}}\n    finally:\n    - frobnicate: {{}}\n"),
            "7:7 suite-unknown-operation: unknown operation `aply` in `try`; did you mean `apply`?
11:7 suite-unknown-operation: `apply` cannot run in `catch`: it holds only command, delete, describe, events, get, podLogs, script, sleep, wait
12:7 suite-unknown-operation: unknown operation `podlogs` in `catch`; did you mean `podLogs`?
14:7 suite-unknown-operation: unknown operation `frobnicate` in `finally`",
        );
        check(
            "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: StepTemplate\nmetadata: {name: s}\nspec:\n  try:\n  - asert: {file: x.yaml}\n",
            "6:5 suite-unknown-operation: unknown operation `asert` in `try`; did you mean `assert`?",
        );
    }

    #[test]
    fn kuttl_and_resources() {
        check(
            "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\ndelete:\n- apiVersion: v1\n  kind: Deployment\n  name: d\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nstatus: {readyReplicas: 1}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: StatefulSet\n",
            "4:15 suite-unknown-kind: Deployment must have apiVersion `apps/v1`, found `v1`
16:15 suite-unknown-kind: StatefulSet must have apiVersion `apps/v1`, found `v1`",
        );
    }
}
