//! What render refuses in the App and KubeDirector forms, found by the same
//! code: lint runs the readers that `render`, `up` and `test` use
//! (`app::podproof::read`, `app::kubedirector::read`) on the documents it
//! reads, once the schema check found them well typed, and reports each of
//! their errors at its line and column. A KubeDirectorCluster is read with
//! the KubeDirectorApp of its directory that it names; an app that no
//! cluster there uses is read with a cluster that lists each of its roles at
//! its least cardinality, so the app's own rules (cardinality, events,
//! packages, images) are checked all the same.

use super::rules::{Ctx, Rule, PODPROOF_UNSUPPORTED, SCHEMA_INVALID};
use super::{Finding, Options};
use crate::error::Diagnostic;
use crate::source::{self, Source};
use crate::yaml::{Doc, Pos};
use serde_yaml::{Mapping, Value};
use std::path::PathBuf;

/// The file a document came from, for the readers' relative paths.
#[derive(Debug, Clone)]
pub struct Origin {
    pub name: String,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
}

impl Origin {
    /// A source the readers can resolve paths against (its text is not needed).
    fn source(&self) -> Option<Source> {
        let (path, dir) = match &self.path {
            Some(p) => {
                let abs = source::absolute(p);
                let dir = abs.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
                (Some(abs), dir)
            }
            None => (None, std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))),
        };
        let root = source::project_root(&dir);
        source::from_bytes(&self.name, path, dir, root, Vec::new()).ok()
    }
}

/// The readers' messages about what podproof cannot do locally (more members
/// than it runs, config packages it cannot fetch offline): true of podproof,
/// not of the definition, so they are `podproof-unsupported`, for the podman target.
fn rule_of(d: &Diagnostic) -> &'static Rule {
    if ["podproof runs offline", "podproof runs locally"].iter().any(|m| d.message.contains(m)) {
        &PODPROOF_UNSUPPORTED
    } else {
        &SCHEMA_INVALID
    }
}

fn position(doc: &Doc, d: &Diagnostic) -> (Pos, String) {
    match d.at {
        Some((line, column)) => (Pos { line, column }, doc.pointer_at(line, column).unwrap_or_default()),
        None => (doc.start, String::new()),
    }
}

/// An App document: the reader's errors, once the schema found it well typed.
pub fn app(ctx: &mut Ctx, origin: Option<&Origin>) {
    let Some(src) = origin.and_then(Origin::source) else { return };
    let mut diags = Vec::new();
    crate::app::podproof::read(&src, ctx.doc, &mut diags);
    for d in diags.iter().filter(|d| d.is_error()) {
        let (p, ptr) = position(ctx.doc, d);
        ctx.at(rule_of(d), &ptr, p, d.message.clone());
    }
}

/// A KubeDirector document, kept for its directory's pairing.
#[derive(Debug, Clone)]
pub struct KdDoc {
    pub kind: String,
    pub name: String,
    /// A cluster's `spec.app`.
    pub app: Option<String>,
    pub doc: Doc,
    pub origin: Origin,
    pub file: usize,
    pub object: Option<String>,
    pub ignored: Vec<String>,
    pub base: String,
}

/// Reads every KubeDirector cluster of a directory with its app, and every
/// app no cluster uses with a cluster of its own making.
pub fn kubedirector(docs: &[&KdDoc], opts: &Options) -> Vec<Finding> {
    let apps: Vec<&KdDoc> = docs.iter().copied().filter(|d| d.kind == "KubeDirectorApp").collect();
    let clusters: Vec<&KdDoc> = docs.iter().copied().filter(|d| d.kind == "KubeDirectorCluster").collect();
    let mut out = Vec::new();
    let mut used = vec![false; apps.len()];
    for c in &clusters {
        let Some(i) = apps.iter().position(|a| Some(&a.name) == c.app.as_ref()) else { continue };
        used[i] = true;
        read(apps[i], c, true, opts, &mut out);
    }
    for (a, _) in apps.iter().zip(&used).filter(|(_, u)| !**u) {
        let Some(c) = cluster_for(a) else { continue };
        read(a, &c, false, opts, &mut out);
    }
    out
}

/// A cluster that lists each role of `app` with its least members, so
/// reading it checks only the app.
fn cluster_for(app: &KdDoc) -> Option<KdDoc> {
    let roles = app.doc.value.get("spec")?.get("roles")?.as_sequence()?;
    let roles: Vec<Value> = roles
        .iter()
        .filter_map(|r| r.get("id").cloned())
        .map(|id| Value::Mapping(Mapping::from_iter([("id".into(), id)])))
        .collect();
    let spec = Mapping::from_iter([("app".into(), app.name.clone().into()), ("roles".into(), Value::Sequence(roles))]);
    let value = Value::Mapping(Mapping::from_iter([
        ("apiVersion".into(), crate::app::kubedirector::API_VERSION.into()),
        ("kind".into(), "KubeDirectorCluster".into()),
        ("metadata".into(), Value::Mapping(Mapping::from_iter([("name".into(), "lint".into())]))),
        ("spec".into(), Value::Mapping(spec)),
    ]));
    let origin = Origin { name: format!("{}\u{0}", app.origin.name), path: None };
    Some(KdDoc {
        kind: "KubeDirectorCluster".into(),
        name: "lint".into(),
        app: Some(app.name.clone()),
        doc: Doc::detached(0, value, app.doc.start),
        origin,
        file: app.file,
        object: None,
        ignored: Vec::new(),
        base: String::new(),
    })
}

fn read(app: &KdDoc, cluster: &KdDoc, real: bool, opts: &Options, out: &mut Vec<Finding>) {
    let (Some(asrc), Some(csrc)) = (app.origin.source(), cluster.origin.source()) else { return };
    let mut diags = Vec::new();
    crate::app::kubedirector::read(&asrc, &app.doc, &csrc, &cluster.doc, &mut diags);
    for d in diags.iter().filter(|d| d.is_error()) {
        // The cluster of the app's own making is no one's file; when the two
        // share a file, the position tells them apart.
        let docs: Vec<&KdDoc> = [app, cluster].into_iter().filter(|k| k.origin.name == d.file).collect();
        let Some(of) =
            docs.iter().find(|k| d.at.is_some_and(|(l, c)| k.doc.pointer_at(l, c).is_some())).or(docs.first()).copied()
        else {
            continue;
        };
        if !real && std::ptr::eq(of, cluster) {
            continue;
        }
        let rule = rule_of(d);
        let Some(severity) = opts.level(rule).filter(|_| !of.ignored.iter().any(|i| i == rule.id)) else { continue };
        let (p, ptr) = position(&of.doc, d);
        out.push(Finding {
            rule,
            severity,
            message: d.message.clone(),
            file: of.file,
            line: p.line,
            column: p.column,
            pointer: format!("{}{ptr}", of.base),
            object: of.object.clone(),
        });
    }
}
