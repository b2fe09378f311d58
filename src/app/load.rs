//! Loading apps from files, directories and stdin, whatever their form.
//!
//! One argument (a file, a directory of files, or `-`) holds either App
//! documents, KubeDirector documents, or plain manifests. The plain manifests
//! of all arguments together form one app, named after the first file or
//! directory that holds them; App and KubeDirector documents keep their own
//! apps. Every problem is collected, so a user sees all of them at once.

use super::docs::{self, error_at, error_at_value};
use super::{kubedirector, manifests, podproof, App, Form, Input};
use crate::error::{Diagnostic, Severity};
use crate::source::{self, Source};
use crate::yaml::Doc;
use std::path::Path;

/// The result of loading: the apps that could be built and every diagnostic.
#[derive(Debug, Default)]
pub struct Loaded {
    pub apps: Vec<App>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity != Severity::Error)
    }

    /// Turns errors into the exit-2 error, keeping warnings aside.
    ///
    /// When there are errors the warnings go with them, since the CLI prints
    /// only the error: a skipped document often explains why nothing was found.
    pub fn into_result(self) -> crate::error::Result<(Vec<App>, Vec<Diagnostic>)> {
        if self.has_errors() {
            let n = self.diagnostics.iter().filter(|d| d.is_error()).count();
            let head = if n == 1 {
                "invalid app definition".to_string()
            } else {
                format!("invalid app definitions ({n} errors)")
            };
            let mut diags = self.diagnostics;
            let skipped = self.apps.iter().flat_map(|a| a.ledger.iter()).filter(|e| e.is_kind());
            diags.extend(skipped.map(|e| e.diagnostic(false)));
            return Err(crate::error::Error::from_diagnostics(head, &in_file_order(diags)));
        }
        Ok((self.apps, self.diagnostics))
    }
}

/// Orders diagnostics by position within each file, keeping files in the order
/// they were read, so a file's problems read top to bottom.
fn in_file_order(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut files: Vec<String> = Vec::new();
    for d in &diags {
        if !files.contains(&d.file) {
            files.push(d.file.clone());
        }
    }
    let mut diags = diags;
    diags.sort_by_key(|d| (files.iter().position(|f| *f == d.file), d.at));
    diags
}

/// The file extensions read from a directory.
pub fn is_definition_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Reads the sources named by one argument.
pub fn sources_of(arg: &str) -> Result<Vec<Source>, Diagnostic> {
    let p = Path::new(arg);
    if arg != "-" && p.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| Diagnostic::error(arg, None, format!("cannot read directory: {}", source::io_reason(&e))))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_definition_file(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Diagnostic::error(arg, None, "directory holds no .yaml, .yml or .json files"));
        }
        let mut out = Vec::new();
        for f in files {
            let src = source::read(&f.display().to_string())?;
            // Config files live next to definitions; a file that never says
            // `kind` is data, not a definition.
            if mentions_kind(&src.text) {
                out.push(src);
            }
        }
        if out.is_empty() {
            return Err(Diagnostic::error(arg, None, "directory holds no definition (no file has a `kind`)"));
        }
        return Ok(out);
    }
    Ok(vec![source::read(arg)?])
}

pub fn mentions_kind(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim_start().trim_start_matches("- ");
        t.starts_with("kind:") || t.starts_with("\"kind\"")
    })
}

struct KdDoc {
    src: usize,
    doc: Doc,
    name: String,
}

/// The KubeDirector documents seen so far, to be paired once all are read.
#[derive(Default)]
struct KdDocs {
    apps: Vec<KdDoc>,
    clusters: Vec<KdDoc>,
    /// Whether a KubeDirector document was refused: a partner it leaves
    /// without a match is then no news.
    incomplete: bool,
}

/// Loads every argument into apps.
pub fn load(args: &[String]) -> Loaded {
    load_sources(args.iter().map(|a| (a.as_str(), sources_of(a))))
}

/// Loads apps from one file held in memory, named `name` and resolving
/// relative paths against the current directory (the fuzz targets use it).
pub fn load_bytes(name: &str, bytes: Vec<u8>) -> Loaded {
    let dir = std::env::current_dir().unwrap_or_default();
    let src = source::from_bytes(name, None, dir.clone(), source::project_root(&dir), bytes);
    load_sources([(name, src.map(|s| vec![s]))])
}

/// Loads the sources of each argument (or the reason they could not be read).
pub fn load_sources<'a>(inputs: impl IntoIterator<Item = (&'a str, Result<Vec<Source>, Diagnostic>)>) -> Loaded {
    let mut out = Loaded::default();
    let mut all_sources: Vec<Source> = Vec::new();
    let mut kd = KdDocs::default();
    // Whether some input could not be read or parsed: its documents are then
    // unknown, so a KubeDirector document missing its partner is no news.
    let mut unreadable = false;
    let mut args = Vec::new();
    // The plain manifests of every argument form one app, as `kubectl apply
    // -f a -f b` applies one set: a Service in its own file selects the pods of
    // another. The app is named after the first argument that holds manifests.
    let mut manifest_app: Option<App> = None;
    let mut manifest_args: Vec<&str> = Vec::new();
    for (arg, srcs) in inputs {
        args.push(arg);
        let srcs = match srcs {
            Ok(s) => s,
            Err(d) => {
                out.diagnostics.push(d);
                unreadable = true;
                continue;
            }
        };
        for src in srcs {
            let si = all_sources.len();
            let docs = match docs::documents(&src) {
                Ok(d) => d,
                Err(d) => {
                    out.diagnostics.push(d);
                    unreadable = true;
                    all_sources.push(src);
                    continue;
                }
            };
            for doc in docs {
                classify(&src, si, doc, arg, &mut manifest_app, &mut kd, &mut out);
            }
            all_sources.push(src);
        }
        if manifest_app.is_some() && !manifest_args.contains(&arg) {
            manifest_args.push(arg);
        }
    }
    match manifest_app {
        Some(app) if !app.roles.is_empty() => {
            let file = manifest_args.first().map(|a| arg_name(a)).unwrap_or("<stdin>").to_string();
            add_app(&mut out, app, &file, None)
        }
        // ConfigMaps, Services or skipped kinds alone run nothing; an
        // error here is plainer than an app with no pods, and the skipped
        // kinds go with it: they often explain why nothing was found.
        Some(app) => {
            if !out.has_errors() {
                out.diagnostics.push(Diagnostic::error(
                    manifest_args.iter().map(|a| arg_name(a)).collect::<Vec<_>>().join(" "),
                    None,
                    "no app found: the manifests hold no Pod, Deployment, StatefulSet, DaemonSet or Job",
                ));
            }
            out.diagnostics.extend(app.ledger.iter().filter(|e| e.is_kind()).map(|e| e.diagnostic(false)));
        }
        None => {}
    }
    // Pair every cluster with its app.
    let mut used = vec![false; kd.apps.len()];
    for c in &kd.clusters {
        let csrc = &all_sources[c.src];
        let app_name = match c.doc.value.get("spec").and_then(|s| s.get("app")) {
            Some(serde_yaml::Value::String(a)) => a.as_str(),
            None => "",
            Some(other) => {
                let msg = format!(
                    "spec.app must be a string, the name of a KubeDirectorApp, found {}",
                    crate::yaml::type_name(other)
                );
                out.diagnostics.push(error_at_value(csrc, &c.doc, "/spec/app", msg));
                kd.incomplete = true;
                continue;
            }
        };
        match kd.apps.iter().position(|a| a.name == app_name) {
            Some(i) => {
                used[i] = true;
                let a = &kd.apps[i];
                if let Some(app) = kubedirector::read(&all_sources[a.src], &a.doc, csrc, &c.doc, &mut out.diagnostics) {
                    let p = c.doc.value_pos("/metadata/name");
                    add_app(&mut out, app, &csrc.name, Some((p.line, p.column)));
                }
            }
            None if app_name.is_empty() => {
                out.diagnostics.push(error_at(csrc, &c.doc, "/spec/app", "a KubeDirectorCluster needs `spec.app`, the name of its KubeDirectorApp"));
                kd.incomplete = true;
            }
            None if unreadable || kd.incomplete => {}
            None => out.diagnostics.push(error_at_value(
                csrc,
                &c.doc,
                "/spec/app",
                format!("KubeDirectorApp `{app_name}` not found: pass its file too (e.g. `podproof render app.json cluster.yaml`)"),
            )),
        }
    }
    for (i, a) in kd.apps.iter().enumerate() {
        if !used[i] && !unreadable && !kd.incomplete {
            out.diagnostics.push(error_at(
                &all_sources[a.src],
                &a.doc,
                "/metadata/name",
                format!("KubeDirectorApp `{}` has no KubeDirectorCluster: pass a cluster that uses it", a.name),
            ));
        }
    }
    if out.apps.is_empty() && !out.has_errors() {
        out.diagnostics.push(Diagnostic::error(
            args.join(" "),
            None,
            "no app found: expected an App, Kubernetes workloads, or a KubeDirectorApp with a KubeDirectorCluster",
        ));
    }
    out
}

/// Adds an app, unless another has its name: the name prefixes every pod name.
fn add_app(out: &mut Loaded, app: App, file: &str, at: Option<(usize, usize)>) {
    if let Some(first) = out.apps.iter().find(|a| a.name == app.name) {
        // A KubeDirector app is named by its cluster, its second input.
        let named_in = if first.form == Form::KubeDirector { first.inputs.get(1) } else { first.inputs.first() };
        let other = named_in.map(|i| i.name.as_str()).filter(|o| *o != file);
        let elsewhere = other.map(|o| format!(" (the other is in {o})")).unwrap_or_default();
        let msg = format!("two apps are named `{}`{elsewhere}; pod names would collide", app.name);
        out.diagnostics.push(Diagnostic::error(file, at, msg));
        return;
    }
    out.apps.push(app);
}

fn classify(
    src: &Source,
    si: usize,
    doc: Doc,
    arg: &str,
    manifest_app: &mut Option<App>,
    kd: &mut KdDocs,
    out: &mut Loaded,
) {
    let (api, kind) = match docs::header(src, &doc) {
        Ok(h) => h,
        Err(d) => {
            out.diagnostics.push(d);
            return;
        }
    };
    if let Some((pointer, message)) = misplaced(&api, &kind) {
        out.diagnostics.push(error_at_value(src, &doc, pointer, message));
        kd.incomplete |= kind.starts_with("KubeDirector");
        return;
    }
    match (api.as_str(), kind.as_str()) {
        (podproof::API_VERSION, "App") => {
            if let Some(mut app) = podproof::read(src, &doc, &mut out.diagnostics) {
                (app.ledger, app.grace_sites) = crate::fidelity::app_entries(src, &doc);
                let p = doc.value_pos("/metadata/name");
                add_app(out, app, &src.name, Some((p.line, p.column)));
            }
        }
        (podproof::API_VERSION, "Test") => out.diagnostics.push(error_at(
            src,
            &doc,
            "/kind",
            "this is a Test, not an app: run it with `podproof test`",
        )),

        (kubedirector::API_VERSION, "KubeDirectorApp" | "KubeDirectorCluster") => {
            let name =
                doc.value.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()).map(str::to_string);
            let Some(name) = name else {
                out.diagnostics.push(error_at(src, &doc, "/metadata", format!("{kind} needs metadata.name")));
                kd.incomplete = true;
                return;
            };
            let entry = KdDoc { src: si, doc, name };
            if kind == "KubeDirectorApp" {
                kd.apps.push(entry);
            } else {
                kd.clusters.push(entry);
            }
        }

        (a, k) if manifests::is_list(a, k) => {
            let items = match doc.value.get("items") {
                Some(serde_yaml::Value::Sequence(items)) => items.clone(),
                _ => {
                    out.diagnostics.push(error_at(src, &doc, "/items", format!("a {k} needs `items`, a sequence")));
                    return;
                }
            };
            for (i, item) in items.into_iter().enumerate() {
                let sub = doc.subdoc(doc.index, &format!("/items/{i}"), item);
                classify(src, si, sub, arg, manifest_app, kd, out);
            }
        }
        _ => {
            let app = manifest_app.get_or_insert_with(|| {
                App::empty(manifest_app_name(arg), Form::Manifests, Vec::new(), src.dir.clone())
            });
            if !app.inputs.iter().any(|i| i.name == src.name) {
                app.inputs.push(Input::of(src));
            }
            manifests::add(src, &doc, &api, &kind, app, &mut out.diagnostics);
        }
    }
}

/// What a podproof or KubeDirector document's header gets wrong, as the
/// pointer and the message: render refuses these, and lint reports them.
pub fn misplaced(api: &str, kind: &str) -> Option<(&'static str, String)> {
    let want = match kind {
        "App" | "Test" if api.starts_with("podproof.dev/") => podproof::API_VERSION,
        _ if api.starts_with("podproof.dev/") => {
            return Some(("/kind", format!("unknown podproof kind `{kind}` ({api}): expected App or Test")))
        }
        "KubeDirectorApp" | "KubeDirectorCluster" => kubedirector::API_VERSION,
        _ => return None,
    };
    (api != want).then(|| ("/apiVersion", format!("{kind} must have apiVersion `{want}`, found `{api}`")))
}

/// The name diagnostics use for an argument as a whole.
fn arg_name(arg: &str) -> &str {
    if arg == "-" {
        "<stdin>"
    } else {
        arg
    }
}

/// Names a manifests app after its file or directory (`stdin` for `-`).
pub fn manifest_app_name(arg: &str) -> String {
    if arg == "-" {
        return "stdin".into();
    }
    let p = source::absolute(Path::new(arg));
    let stem = if p.is_dir() {
        p.file_name().map(|s| s.to_string_lossy().to_string())
    } else {
        p.file_stem().map(|s| s.to_string_lossy().to_string())
    };
    let name = super::dns_label(&stem.unwrap_or_default());
    if name.is_empty() {
        "app".into()
    } else {
        name
    }
}
