//! Test records: what `podproof test` ran, on which bytes, with what result.
//!
//! Each run writes `.podproof/records/<unix time>-<id>.json` at the project
//! root. Promotion trusts only bytes a record says were tested. The format is
//! versioned and explicit: no flattened or untagged serde, unknown fields are
//! errors, so an old podproof never misreads a newer record.

use crate::app::App;
use crate::runner::{Loaded, TestResult};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format 2 records the images a test built apart from the input files, with the
/// digest of each build context and the built image's ID, so promotion can check both.
pub const FORMAT: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub format: u32,
    pub podproof_version: String,
    pub created_unix: u64,
    pub podman_version: String,
    pub apps: Vec<AppRecord>,
    pub tests: Vec<TestRecord>,
}

/// One input file (or image build context) and its digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct InputDigest {
    /// Relative to the project root where possible.
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppRecord {
    pub name: String,
    pub inputs: Vec<InputDigest>,
    /// sha256 of the rendered podman and cluster flavours, one after the other.
    pub rendered_sha256: String,
    /// The images the run built for this app (from the App or the Test's `images:`).
    pub images: Vec<ImageRecord>,
    /// What of the app's input the run did not honour (src/fidelity.rs);
    /// records written before the ledger have none.
    #[serde(default)]
    pub ledger: Vec<crate::fidelity::Entry>,
}

/// An image built from a local context: what promotion checks again before it
/// ships an app that runs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct ImageRecord {
    pub tag: String,
    /// The build context, relative to the project root where possible.
    pub context: String,
    /// `digest_path` of the context when the test ran.
    pub context_sha256: String,
    /// The image ID podman had for `tag` after the run (empty if it could not be read).
    pub image_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TestRecord {
    pub name: String,
    pub file: InputDigest,
    pub apps: Vec<String>,
    pub outcome: String,
    pub steps: Vec<StepRecord>,
    /// The images the run-time image map replaced: the test ran `to` where its
    /// manifests name `from`. Absent when nothing was replaced, so a record
    /// without the map reads as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<crate::imagemap::Rewrite>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    pub name: String,
    pub action: String,
    pub outcome: String,
}

/// `.podproof/records` under the project root.
pub fn dir(root: &Path) -> PathBuf {
    root.join(".podproof").join("records")
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string())
}

/// The digests of an app's inputs: definitions and referenced files. Image build
/// contexts are recorded apart (`image_records`): a Test may add images that the
/// app's own files do not name, and promotion loads only the app's files.
pub fn app_inputs(root: &Path, app: &App) -> Vec<InputDigest> {
    let mut v: Vec<InputDigest> = app
        .inputs
        .iter()
        .map(|i| InputDigest {
            path: i.path.as_deref().map(|p| rel(root, p)).unwrap_or_else(|| i.name.clone()),
            sha256: i.sha256.clone(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Every input of an app, image build contexts included (as `CONTEXT (image TAG)`):
/// what the provenance digest of an app without a record covers.
pub fn all_inputs(root: &Path, app: &App) -> Vec<InputDigest> {
    let mut v = app_inputs(root, app);
    for img in &app.images {
        if let Ok(d) = crate::digest::digest_path(&img.context) {
            v.push(InputDigest { path: format!("{} (image {})", rel(root, &img.context), img.tag), sha256: d });
        }
    }
    v.sort();
    v.dedup();
    v
}

/// What a run built for an app: each image's context digest and image ID.
pub fn image_records(root: &Path, app: &App) -> Vec<ImageRecord> {
    let mut v: Vec<ImageRecord> = app
        .images
        .iter()
        .map(|img| ImageRecord {
            tag: img.tag.clone(),
            context: rel(root, &img.context),
            context_sha256: crate::digest::digest_path(&img.context).unwrap_or_default(),
            image_id: crate::podman::image_id(&img.tag).ok().flatten().unwrap_or_default(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Why a recorded image can no longer be trusted: its context changed, or the
/// tag now names another image. Empty when both still hold. `image_id` is the ID
/// podman has for the tag now (`None` when podman could not be asked).
pub fn image_changes(root: &Path, img: &ImageRecord, image_id: Option<Option<String>>) -> Vec<String> {
    let mut out = Vec::new();
    let ctx = root.join(&img.context);
    match crate::digest::digest_path(&ctx) {
        Ok(d) if d == img.context_sha256 => {}
        Ok(_) => out.push(format!("the build context `{}` of image `{}` changed", img.context, img.tag)),
        Err(e) => out.push(format!("the build context `{}` of image `{}` cannot be read: {e}", img.context, img.tag)),
    }
    match image_id {
        Some(Some(id)) if id == img.image_id => {}
        Some(Some(_)) => out.push(format!("image `{}` was rebuilt or retagged since the test ran", img.tag)),
        Some(None) => out.push(format!("image `{}` that the test ran is no longer present", img.tag)),
        None => out.push(format!("image `{}` cannot be checked: podman did not answer", img.tag)),
    }
    out
}

/// The digest of what an app renders to, in both flavours.
pub fn rendered_digest(app: &App) -> String {
    let mut text = String::new();
    for flavor in [crate::render::Flavor::Podman, crate::render::Flavor::Cluster] {
        let opts = crate::render::Options { flavor, ..Default::default() };
        text.push_str(&crate::render::render(app, &opts).to_yaml());
    }
    crate::digest::sha256_hex(text.as_bytes())
}

/// Builds the record of a run.
pub fn build(root: &Path, tests: &[Loaded], results: &[TestResult]) -> Record {
    let mut apps: Vec<AppRecord> = Vec::new();
    let mut test_records = Vec::new();
    for (t, r) in tests.iter().zip(results) {
        for app in &t.apps {
            // Two tests may load different bytes under one app name (a file, and
            // a templating command's output): each set of inputs is recorded.
            let inputs = app_inputs(root, app);
            if !apps.iter().any(|a| a.name == app.name && a.inputs == inputs) {
                apps.push(AppRecord {
                    name: app.name.clone(),
                    inputs,
                    rendered_sha256: rendered_digest(app),
                    images: image_records(root, app),
                    ledger: app
                        .ledger
                        .iter()
                        .map(|e| {
                            let file = crate::fidelity::path_of(e).map(|p| rel(root, &p));
                            crate::fidelity::Entry { file: file.unwrap_or_else(|| e.file.clone()), ..e.clone() }
                        })
                        .collect(),
                });
            }
        }
        test_records.push(TestRecord {
            name: t.test.name.clone(),
            file: InputDigest { path: rel(root, &t.test.file), sha256: t.test.sha256.clone() },
            apps: t.apps.iter().map(|a| a.name.clone()).collect(),
            outcome: r.outcome.as_str().to_string(),
            steps: r
                .steps
                .iter()
                .map(|s| StepRecord {
                    name: s.name.clone(),
                    action: s.action.clone(),
                    outcome: s.outcome.as_str().to_string(),
                })
                .collect(),
            images: t.images.clone(),
        });
    }
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    Record {
        format: FORMAT,
        podproof_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs(),
        podman_version: crate::podman::version().map(|v| v.to_string()).unwrap_or_else(|_| "unknown".into()),
        apps,
        tests: test_records,
    }
}

/// Writes a record; returns its path.
pub fn write(root: &Path, rec: &Record, run: &str) -> std::io::Result<PathBuf> {
    let d = dir(root);
    std::fs::create_dir_all(&d)?;
    crate::state::check_id(run).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let text =
        crate::redact::text(&String::from_utf8_lossy(&serde_json::to_vec_pretty(rec).expect("records serialize")));
    crate::state::write_file_in(&d, &format!("{}-{run}.json", rec.created_unix), text.as_bytes())
}

/// Every readable record, newest first.
pub fn list(root: &Path) -> Vec<(PathBuf, Record)> {
    let mut v: Vec<(PathBuf, Record)> = std::fs::read_dir(dir(root))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let r: Record = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            (r.format == FORMAT).then_some((p, r))
        })
        .collect();
    v.sort_by(|a, b| b.1.created_unix.cmp(&a.1.created_unix).then(b.0.cmp(&a.0)));
    v
}

impl Record {}
