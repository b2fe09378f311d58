//! Promotion: only tested bytes become cluster manifests.
//!
//! Three preconditions gate it: `lint` (no error finding for a cluster),
//! `tested` (the newest record of these exact input bytes exists and every test
//! of the app in it passed) and `snapshots` (no pending draft). `--force`
//! bypasses them, and the bypass is written into every object. What only works
//! on this machine (local images, relative hostPaths) is rewritten or refused;
//! every object carries its provenance. `apply` hands the directory to kubectl,
//! a server-side dry run first. See docs/promotion.md.

use crate::app::App;
use crate::error::{Error, Result, Severity};
use crate::imagemap::{map_image, Mapping};
use crate::lint;
use crate::record::{self, InputDigest};
use crate::render::{cluster, Object};
use crate::snapshot::{Mode, Store};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

pub const TESTED_DIGEST: &str = "podproof.dev/tested-digest";
pub const VERSION: &str = "podproof.dev/version";
pub const RECORD: &str = "podproof.dev/record";
pub const FORCED: &str = "podproof.dev/forced";
/// The first line of the README of every promoted directory. It makes
/// nothing deletable: only podproof's manifest does (src/outdir.rs).
pub const README_TITLE: &str = "# Promoted by podproof";

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub image_map: Vec<Mapping>,
    pub hostpath_map: Vec<Mapping>,
    /// Turn each relative hostPath into a per-member claim of this size.
    pub hostpath_to_pvc: Option<Quantity>,
    pub reload: cluster::Reload,
}

/// The absolute path a relative hostPath is mapped to (`./x`, `x` and `x/` are one path).
pub fn map_host_path(map: &[Mapping], path: &str) -> Option<String> {
    let norm = |p: &str| {
        let mut p = p.trim_end_matches('/');
        while let Some(rest) = p.strip_prefix("./") {
            p = rest;
        }
        if p.is_empty() {
            ".".to_string()
        } else {
            p.to_string()
        }
    };
    map.iter().find(|m| norm(&m.from) == norm(path)).map(|m| m.to.clone())
}

/// Maps or turns into claims the relative hostPaths of an app; returns the
/// ones that are neither, which cannot be promoted.
pub fn fix_host_paths(app: &mut App, opts: &Options) -> Vec<String> {
    let mut errors = Vec::new();
    for role in &mut app.roles {
        let mut claims = Vec::new();
        for vols in role.template.spec.iter_mut().filter_map(|s| s.volumes.as_mut()) {
            vols.retain_mut(|v| {
                let Some(hp) = v.host_path.as_mut().filter(|h| !h.path.starts_with('/')) else { return true };
                if let Some(abs) = map_host_path(&opts.hostpath_map, &hp.path) {
                    hp.path = abs;
                    return true;
                }
                if let Some(size) = &opts.hostpath_to_pvc {
                    claims.push(claim(&v.name, size));
                    return false;
                }
                errors.push(format!(
                    "role `{}`: volume `{}` is the relative hostPath `{}`, which a node resolves against the kubelet's directory: map it with `--hostpath-map {}=/ABSOLUTE/PATH` or make it a claim with `--hostpath-to-pvc`",
                    role.name, v.name, hp.path, hp.path
                ));
                true
            });
        }
        if let Some(s) = role.template.spec.as_mut().filter(|s| s.volumes.as_ref().is_some_and(Vec::is_empty)) {
            s.volumes = None;
        }
        role.claim_templates.extend(claims);
    }
    errors
}

fn claim(name: &str, size: &Quantity) -> core::PersistentVolumeClaim {
    core::PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
        spec: Some(core::PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(core::VolumeResourceRequirements {
                requests: Some([("storage".to_string(), size.clone())].into_iter().collect()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Rewrites the images of rendered objects; returns the local images left
/// unmapped, which no cluster can pull.
pub fn map_images(objects: &mut [Object], map: &[Mapping]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut fix = |image: &mut String| {
        if let Some(to) = map_image(map, image) {
            *image = to;
        }
        if image.starts_with("localhost/") {
            let e = format!("image `{image}` exists only on this machine: push it and map it with `--image-map {image}=REGISTRY/IMAGE:TAG` (or a prefix, e.g. `--image-map localhost/podproof/=registry.example.com/podproof/`)");
            if !errors.contains(&e) {
                errors.push(e);
            }
        }
    };
    for o in objects {
        let spec = match o {
            Object::Pod(p) => p.spec.as_mut(),
            Object::Deployment(d) => d.spec.as_mut().and_then(|s| s.template.spec.as_mut()),
            Object::StatefulSet(s) => s.spec.as_mut().and_then(|s| s.template.spec.as_mut()),
            Object::Job(j) => j.spec.as_mut().and_then(|s| s.template.spec.as_mut()),
            Object::Raw(v) => {
                // KubeDirectorApp: the default image and each role's image.
                let spec = v.get_mut("spec");
                let mut images: Vec<&mut serde_yaml::Value> = Vec::new();
                if let Some(spec) = spec.and_then(|s| s.as_mapping_mut()) {
                    for (k, val) in spec.iter_mut() {
                        match k.as_str() {
                            Some("defaultImageRepoTag") => images.push(val),
                            Some("roles") => images.extend(
                                val.as_sequence_mut().into_iter().flatten().filter_map(|r| r.get_mut("imageRepoTag")),
                            ),
                            _ => {}
                        }
                    }
                }
                for v in images {
                    if let Some(s) = v.as_str() {
                        let mut s = s.to_string();
                        fix(&mut s);
                        *v = s.into();
                    }
                }
                None
            }
            _ => None,
        };
        for c in spec.into_iter().flat_map(|s| s.init_containers.iter_mut().flatten().chain(s.containers.iter_mut())) {
            if let Some(image) = c.image.as_mut() {
                fix(image);
            }
        }
    }
    errors
}

/// The outcome of one precondition: what was checked, and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub summary: String,
    pub problems: Vec<String>,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Where an app's promoted bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The rendered digest from the record; without a record, the digest of the inputs.
    pub digest: String,
    /// The record's file name.
    pub record: Option<String>,
    /// The inputs the digest covers: the record's, or without one the current
    /// files and image build contexts.
    pub inputs: Vec<InputDigest>,
    /// What the trusted record says of the app, for the attestation.
    pub tested: Option<Tested>,
}

/// The part of a test record that vouches for an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tested {
    /// sha256 of the record file as it was read.
    pub record_sha256: String,
    pub created_unix: u64,
    pub podproof_version: String,
    pub podman_version: String,
    pub app: record::AppRecord,
    /// The tests of the record that used the app.
    pub tests: Vec<record::TestRecord>,
}

/// One digest over all of an app's input digests.
pub fn inputs_digest(inputs: &[InputDigest]) -> String {
    let text: String = inputs.iter().map(|i| format!("{}\0{}\n", i.path, i.sha256)).collect();
    crate::digest::sha256_hex(text.as_bytes())
}

/// `tested`: for each app, the newest record of exactly these input bytes,
/// in which every test that used the app passed.
pub fn check_tested(root: &Path, apps: &[App]) -> (Check, Vec<Provenance>) {
    let mut records = record::list(root);
    // Record names hold seconds; two runs in one second are ordered by when their files were written.
    let written = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    records.sort_by_cached_key(|(p, r)| std::cmp::Reverse((r.created_unix, written(p))));
    let mut problems = Vec::new();
    let mut provenance = Vec::new();
    let mut passed = 0;
    for app in apps {
        let inputs = record::app_inputs(root, app);
        let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let found = records.iter().find_map(|(p, r)| {
            r.apps.iter().find(|a| a.name == app.name && a.inputs == inputs).map(|a| (file_name(p), r, a))
        });
        match found {
            Some((file, rec, a)) => {
                // The images the test built are part of what was tested: their contexts
                // must be unchanged and their tags must still name the built images.
                for img in &a.images {
                    let now = crate::podman::image_id(&img.tag).ok();
                    for change in record::image_changes(root, img, now) {
                        problems
                            .push(format!("app `{}`: {change} (record {file}): run `podproof test` again", app.name));
                    }
                }
                for t in rec.tests.iter().filter(|t| t.apps.contains(&app.name)) {
                    if t.outcome == crate::runner::Outcome::Passed.as_str() {
                        passed += 1;
                    } else {
                        problems.push(format!(
                            "app `{}`: test `{}` ({}) {} in record {file}",
                            app.name, t.name, t.file.path, t.outcome
                        ));
                    }
                }
                let tested = Tested {
                    record_sha256: crate::digest::digest_path(&record::dir(root).join(&file)).unwrap_or_default(),
                    created_unix: rec.created_unix,
                    podproof_version: rec.podproof_version.clone(),
                    podman_version: rec.podman_version.clone(),
                    app: a.clone(),
                    tests: rec.tests.iter().filter(|t| t.apps.contains(&app.name)).cloned().collect(),
                };
                provenance.push(Provenance {
                    digest: format!("sha256:{}", a.rendered_sha256),
                    record: Some(file),
                    inputs: a.inputs.clone(),
                    tested: Some(tested),
                });
            }
            None => {
                let last = records
                    .iter()
                    .find_map(|(p, r)| r.apps.iter().find(|a| a.name == app.name).map(|a| (file_name(p), a)));
                match last {
                    Some((file, a)) => {
                        for change in changes(&a.inputs, &inputs) {
                            problems.push(format!(
                                "app `{}`: {change} since the last test run (record {file}): run `podproof test` again",
                                app.name
                            ));
                        }
                    }
                    None => problems.push(format!(
                        "app `{}` has no test record: run `podproof test` with a test that uses it",
                        app.name
                    )),
                }
                let all = record::all_inputs(root, app);
                provenance.push(Provenance {
                    digest: format!("sha256:{}", inputs_digest(&all)),
                    record: None,
                    inputs: all,
                    tested: None,
                });
            }
        }
    }
    let summary = format!("{passed} passing test{} of these exact bytes", if passed == 1 { "" } else { "s" });
    (Check { name: "tested", summary, problems }, provenance)
}

/// What differs between the inputs a record tested and the current ones.
fn changes(old: &[InputDigest], new: &[InputDigest]) -> Vec<String> {
    let mut out = Vec::new();
    for n in new {
        match old.iter().find(|o| o.path == n.path) {
            Some(o) if o.sha256 != n.sha256 => out.push(format!("`{}` changed", n.path)),
            Some(_) => {}
            None => out.push(format!("`{}` is new", n.path)),
        }
    }
    out.extend(old.iter().filter(|o| !new.iter().any(|n| n.path == o.path)).map(|o| format!("`{}` is gone", o.path)));
    out
}

/// `snapshots`: no `.snap.new` draft waits for review.
pub fn check_snapshots(dir: &Path) -> Check {
    let store = Store { dir: dir.to_path_buf(), mode: Mode::Local };
    let problems = match store.drafts() {
        Ok(d) => d
            .iter()
            .map(|d| {
                format!(
                    "pending snapshot draft {}: review it with `podproof snapshot review`",
                    crate::source::display(&d.path)
                )
            })
            .collect(),
        Err(e) => vec![format!("cannot read {}: {e}", crate::source::display(dir))],
    };
    Check { name: "snapshots", summary: "no pending snapshot drafts".into(), problems }
}

/// `lint`: no error finding with `--target cluster`, except those promotion
/// itself resolves (a mapped image or hostPath, `imagePullPolicy: Never`).
pub fn check_lint(paths: &[String], opts: &Options, config: lint::Config) -> Check {
    let podman = crate::podman::Version::parse("4.3").expect("a valid version");
    let report = lint::lint(paths, &lint::Options { podman, target: lint::Target::Cluster, config });
    let mut problems: Vec<String> = report.bad_input.iter().map(|d| d.to_string()).collect();
    for file in &report.files {
        for f in file.findings.iter().filter(|f| f.severity == Severity::Error) {
            let value = token_at(&file.text, f.line, f.column);
            let resolved = match f.rule.id {
                "relative-host-path" => {
                    opts.hostpath_to_pvc.is_some() || map_host_path(&opts.hostpath_map, &value).is_some()
                }
                "local-image" => map_image(&opts.image_map, &value).is_some_and(|i| !i.starts_with("localhost/")),
                "image-pull-policy-never" => true,
                _ => false,
            };
            if !resolved {
                problems.push(format!("{}:{}:{}: error[{}]: {}", file.name, f.line, f.column, f.rule.id, f.message));
            }
        }
    }
    Check { name: "lint", summary: "no error findings with --target cluster".into(), problems }
}

/// The YAML scalar that starts at a 1-based line and column, unquoted.
fn token_at(text: &str, line: usize, column: usize) -> String {
    let rest: String =
        text.lines().nth(line.saturating_sub(1)).unwrap_or("").chars().skip(column.saturating_sub(1)).collect();
    match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or("").to_string(),
        _ => rest.split(|c: char| c.is_whitespace() || ",]}#".contains(c)).next().unwrap_or("").to_string(),
    }
}

/// Adds annotations to an object's own metadata.
pub fn annotate(o: &mut Object, annotations: &BTreeMap<String, String>) {
    let meta = match o {
        Object::Pod(p) => &mut p.metadata,
        Object::ConfigMap(c) => &mut c.metadata,
        Object::Secret(s) => &mut s.metadata,
        Object::Claim(c) => &mut c.metadata,
        Object::Service(s) => &mut s.metadata,
        Object::Deployment(d) => &mut d.metadata,
        Object::StatefulSet(s) => &mut s.metadata,
        Object::Job(j) => &mut j.metadata,
        Object::Raw(v) => {
            let Some(m) = v.as_mapping_mut() else { return };
            let meta = m.entry("metadata".into()).or_insert_with(|| serde_yaml::Mapping::new().into());
            if let Some(meta) = meta.as_mapping_mut() {
                let ann = meta.entry("annotations".into()).or_insert_with(|| serde_yaml::Mapping::new().into());
                if let Some(ann) = ann.as_mapping_mut() {
                    for (k, v) in annotations {
                        ann.insert(k.clone().into(), v.clone().into());
                    }
                }
            }
            return;
        }
    };
    meta.annotations.get_or_insert_with(BTreeMap::new).extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// `<kind>-<name>.yaml`, the kind in lowercase.
pub fn file_name(o: &Object) -> String {
    let (kind, name) = o.kind_name();
    format!("{}-{name}.yaml", kind.to_ascii_lowercase())
}

/// Applies a promoted directory with kubectl (an argument vector, no shell):
/// a server-side dry run, then, only if it passed, the server-side apply.
pub fn apply(dir: &Path, context: &str, kustomize: bool) -> Result<()> {
    match Command::new("kubectl").args(["config", "get-contexts", context]).stdin(Stdio::null()).output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::runtime(
                "cannot apply: kubectl is not installed (not found on PATH); nothing was applied",
            ))
        }
        Err(e) => return Err(Error::runtime(format!("cannot apply: cannot run kubectl: {e}; nothing was applied"))),
        Ok(o) if !o.status.success() => {
            let err = Error::runtime(format!("cannot apply: kubectl has no context `{context}`; nothing was applied"));
            let why = String::from_utf8_lossy(&o.stderr).trim().to_string();
            return Err(if why.is_empty() { err } else { err.because(why) });
        }
        Ok(_) => {}
    }
    let d = dir.display().to_string();
    let source = if kustomize { "-k" } else { "-f" };
    let kubectl = |args: &[&str]| -> Result<bool> {
        let status = Command::new("kubectl").args(["--context", context]).args(args).stdin(Stdio::null()).status();
        Ok(status.map_err(|e| Error::runtime(format!("cannot run kubectl: {e}")))?.success())
    };
    if !kubectl(&["apply", "--server-side", "--dry-run=server", source, &d])? {
        return Err(Error::failed(format!(
            "the server-side dry run against context `{context}` failed; nothing was applied"
        )));
    }
    if !kubectl(&["apply", "--server-side", source, &d])? {
        return Err(Error::failed(format!(
            "kubectl apply against context `{context}` failed after its dry run passed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(map: &[&str], image: &str, expect: Option<&str>) {
        let map: Vec<Mapping> = map.iter().map(|m| m.parse().unwrap()).collect();
        assert_eq!(map_image(&map, image).as_deref(), expect, "{map:?} {image}");
    }

    #[test]
    fn images() {
        check(&["localhost/podproof/=reg.io/pp/"], "localhost/podproof/xcat:1", Some("reg.io/pp/xcat:1"));
        check(
            &["localhost/=reg.io/", "localhost/podproof/=reg.io/pp/"],
            "localhost/podproof/xcat:1",
            Some("reg.io/pp/xcat:1"),
        );
        check(
            &["localhost/podproof/=reg.io/pp/", "localhost/podproof/xcat:1=reg.io/xcat:2"],
            "localhost/podproof/xcat:1",
            Some("reg.io/xcat:2"),
        );
        check(&["localhost/podproof/xcat=reg.io/xcat"], "localhost/podproof/xcat:1", Some("reg.io/xcat:1"));
        check(&["localhost/podproof/xcat=reg.io/xcat:2"], "localhost/podproof/xcat:1", Some("reg.io/xcat:2"));
        check(&["localhost:5000/xcat=reg.io/xcat"], "localhost:5000/xcat", Some("reg.io/xcat"));
        check(&["localhost/podproof/xca=reg.io/xcat"], "localhost/podproof/xcat:1", None);
        check(&[], "busybox", None);
    }

    #[test]
    fn host_paths_and_tokens() {
        let map = vec![Mapping { from: "./tmp".into(), to: "/srv/tmp".into() }];
        assert_eq!(map_host_path(&map, "tmp/").as_deref(), Some("/srv/tmp"));
        assert_eq!(map_host_path(&map, "./logs"), None);
        let text = "a: 1\n    - {name: out, hostPath: {path: ./out}}\n  image: \"localhost/x:1\" # c\n";
        assert_eq!(token_at(text, 2, 36), "./out");
        assert_eq!(token_at(text, 3, 10), "localhost/x:1");
        assert_eq!(token_at(text, 9, 1), "");
    }

    #[test]
    fn input_changes() {
        let d = |p: &str, s: &str| InputDigest { path: p.into(), sha256: s.into() };
        let got = changes(&[d("a", "1"), d("b", "2"), d("c", "3")], &[d("a", "1"), d("b", "9"), d("n", "4")]);
        assert_eq!(got, ["`b` changed", "`n` is new", "`c` is gone"]);
    }
}
