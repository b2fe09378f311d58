//! Lint's side of validation: the header of a document, the apiVersion of
//! each known kind, and every problem `crate::validation` finds, reported as
//! `schema-invalid` and `schema-unknown-field` findings. The app readers
//! report the same problems as errors, from the same code.

use super::rules::{
    Ctx, INVALID_IMAGE_REFERENCE, INVALID_TARGET_PORTS, MISMATCHING_SELECTOR, SCHEMA_INVALID, SCHEMA_UNKNOWN_FIELD,
};
use crate::validation::{self, Issues, Problem};
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
            Problem::ImageReference => &INVALID_IMAGE_REFERENCE,
            Problem::PortName => &INVALID_TARGET_PORTS,
        };
        let msg = crate::app::docs::with_yaml11_hint(ctx.doc, &i.pointer, i.message);
        if i.at_key {
            ctx.key(rule, &i.pointer, msg);
        } else {
            ctx.value(rule, &i.pointer, msg);
        }
    }
}

/// A Kubernetes object: everything validation checks, from whether its
/// apiVersion serves its kind on.
pub fn k8s(ctx: &mut Ctx, api: &str, kind: &str) {
    let issues = validation::object(&ctx.doc.value, api, kind);
    report(ctx, issues);
}

/// An App document; true when it fits the schema, so its reader can run.
pub fn app(ctx: &mut Ctx) -> bool {
    let mut issues = Issues::default();
    validation::schema::app::<crate::app::podproof::AppDoc>(&mut issues, &ctx.doc.value);
    let clean = issues.0.is_empty();
    report(ctx, issues);
    clean
}

/// A KubeDirectorApp or KubeDirectorCluster document; true when it fits the schema.
pub fn kubedirector(ctx: &mut Ctx, kind: &str) -> bool {
    let mut issues = Issues::default();
    validation::schema::kubedirector(&mut issues, &ctx.doc.value, kind);
    let clean = issues.0.is_empty();
    report(ctx, issues);
    clean
}
