//! Lint's side of validation: the header of a document, the apiVersion of
//! each known kind, and every problem `crate::validation` finds, reported as
//! `schema-invalid` and `schema-unknown-field` findings. The app readers
//! report the same problems as errors, from the same code.

use super::rules::{Ctx, MISMATCHING_SELECTOR, SCHEMA_INVALID, SCHEMA_UNKNOWN_FIELD};
use crate::validation::{self, schema::KNOWN, Issues, Problem};
use crate::yaml::type_name;
use serde_yaml::Value;

/// A document without a usable apiVersion and kind.
pub fn header(ctx: &mut Ctx) {
    let Some(m) = ctx.doc.value.as_mapping() else {
        let msg = format!("expected a mapping with apiVersion and kind, found {}", type_name(&ctx.doc.value));
        return ctx.value(&SCHEMA_INVALID, "", msg);
    };
    for key in ["apiVersion", "kind"] {
        match m.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => ctx.value(
                &SCHEMA_INVALID,
                &format!("/{key}"),
                format!("`{key}` must be a non-empty string, found {}", type_name(other)),
            ),
            None => ctx.value(&SCHEMA_INVALID, "", format!("missing `{key}`")),
        }
    }
}

/// Reports what validation found as findings.
fn report(ctx: &mut Ctx, issues: Issues) {
    for i in issues.0 {
        let rule = match i.problem {
            Problem::Invalid => &SCHEMA_INVALID,
            Problem::UnknownField => &SCHEMA_UNKNOWN_FIELD,
            Problem::SelectorMismatch => &MISMATCHING_SELECTOR,
        };
        let msg = crate::app::docs::with_yaml11_hint(ctx.doc, &i.pointer, i.message);
        if i.at_key {
            ctx.key(rule, &i.pointer, msg);
        } else {
            ctx.value(rule, &i.pointer, msg);
        }
    }
}

/// A Kubernetes object: its apiVersion, then everything validation checks.
pub fn k8s(ctx: &mut Ctx, api: &str, kind: &str) {
    let known = KNOWN.iter().find(|(_, k)| *k == kind);
    if let Some((want, _)) =
        known.filter(|(a, _)| *a != api && !api.starts_with("autoscaling/") && !super::rules::is_removed(api))
    {
        return ctx.value(
            &SCHEMA_INVALID,
            "/apiVersion",
            format!("{kind} must have apiVersion `{want}`, found `{api}`"),
        );
    }
    let issues = validation::object(&ctx.doc.value, api, kind);
    report(ctx, issues);
}

/// An App document.
pub fn app(ctx: &mut Ctx) {
    let mut issues = Issues::default();
    validation::schema::app::<crate::app::podproof::AppDoc>(&mut issues, &ctx.doc.value);
    report(ctx, issues);
}

/// A KubeDirectorApp or KubeDirectorCluster document.
pub fn kubedirector(ctx: &mut Ctx, kind: &str) {
    let mut issues = Issues::default();
    validation::schema::kubedirector(&mut issues, &ctx.doc.value, kind);
    report(ctx, issues);
}
