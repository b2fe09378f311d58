//! Rendering the model into Kubernetes objects, built with k8s-openapi types.
//!
//! Two flavours: `podman` is what `podman kube play` accepts and runs the way a
//! cluster would; `cluster` is what promotion ships. Output is deterministic:
//! the same input gives byte-identical YAML.

pub mod cluster;
pub mod env;
pub mod expand;
pub mod podman;

use crate::app::App;
use crate::error::Diagnostic;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const LABEL_APP: &str = "podproof.dev/app";
pub const LABEL_ROLE: &str = "podproof.dev/role";
pub const LABEL_MEMBER: &str = "podproof.dev/member";
pub const LABEL_RUN: &str = "podproof.dev/run";
/// What `render` prints instead of a Secret value.
pub const SECRET_MASK: &str = "[secret]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Podman,
    Cluster,
}

impl std::str::FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "podman" => Ok(Flavor::Podman),
            "cluster" => Ok(Flavor::Cluster),
            _ => Err(format!("unknown flavor `{s}`: expected podman or cluster")),
        }
    }
}

/// A running instance: names get a suffix and objects a run label.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub id: String,
    /// Short suffix appended to pod and volume names, e.g. `k3x9`.
    pub suffix: String,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub flavor: Flavor,
    /// Where the podman flavour puts ConfigMap/Secret projections and emptyDirs
    /// on the host: `<root>/<pod>/<volume>`.
    pub volume_root: PathBuf,
    /// Write resolved hostPaths relative to this directory (as `./...`), so files
    /// in `pods/` do not depend on where the checkout lives.
    pub relative_to: Option<PathBuf>,
    /// Print real Secret values instead of `[secret]` (only for play time).
    pub reveal_secrets: bool,
    pub run: Option<RunContext>,
    /// The address of the one member being rendered on the run network, and
    /// the host's there, decided before the play (`status.podIP`,
    /// `status.hostIP`); `None` outside a run.
    pub addresses: Option<Addresses>,
}

/// A pod's address and its host's, as the downward API reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    pub pod_ip: String,
    pub host_ip: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flavor: Flavor::Podman,
            volume_root: PathBuf::from("/var/tmp/podproof/volumes"),
            relative_to: None,
            reveal_secrets: false,
            run: None,
            addresses: None,
        }
    }
}

/// One rendered object.
#[derive(Debug, Clone)]
pub enum Object {
    Pod(Box<k8s_openapi::api::core::v1::Pod>),
    ConfigMap(k8s_openapi::api::core::v1::ConfigMap),
    Secret(k8s_openapi::api::core::v1::Secret),
    Claim(k8s_openapi::api::core::v1::PersistentVolumeClaim),
    Service(k8s_openapi::api::core::v1::Service),
    Deployment(Box<k8s_openapi::api::apps::v1::Deployment>),
    StatefulSet(Box<k8s_openapi::api::apps::v1::StatefulSet>),
    Job(Box<k8s_openapi::api::batch::v1::Job>),
    /// Documents passed through verbatim (KubeDirector custom resources).
    Raw(serde_yaml::Value),
}

impl Object {
    pub fn to_yaml(&self) -> String {
        fn y<T: Serialize>(t: &T) -> String {
            crate::yaml::quote_yaml11(&serde_yaml::to_string(t).expect("k8s objects always serialize"))
        }
        match self {
            Object::Pod(p) => y(p),
            Object::ConfigMap(c) => y(c),
            Object::Secret(s) => y(s),
            Object::Claim(c) => y(c),
            Object::Service(s) => y(s),
            Object::Deployment(d) => y(d),
            Object::StatefulSet(s) => y(s),
            Object::Job(j) => y(j),
            Object::Raw(v) => y(v),
        }
    }

    pub fn kind_name(&self) -> (String, String) {
        let (k, m) = match self {
            Object::Pod(p) => ("Pod", &p.metadata),
            Object::ConfigMap(c) => ("ConfigMap", &c.metadata),
            Object::Secret(s) => ("Secret", &s.metadata),
            Object::Claim(c) => ("PersistentVolumeClaim", &c.metadata),
            Object::Service(s) => ("Service", &s.metadata),
            Object::Deployment(d) => ("Deployment", &d.metadata),
            Object::StatefulSet(s) => ("StatefulSet", &s.metadata),
            Object::Job(j) => ("Job", &j.metadata),
            Object::Raw(v) => {
                let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("Unknown").to_string();
                let name =
                    v.get("metadata").and_then(|m| m.get("name")).and_then(|n| n.as_str()).unwrap_or("").to_string();
                return (kind, name);
            }
        };
        (k.to_string(), m.name.clone().unwrap_or_default())
    }
}

/// A ConfigMap or Secret volume that podproof projects onto the host in the
/// kubelet's `..data` layout (podman flavour).
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub pod: String,
    pub volume: String,
    pub host_dir: PathBuf,
    pub source: ProjectionSource,
    /// `items`: (key, path, mode); empty means every key.
    pub items: Vec<(String, String, Option<i32>)>,
    pub default_mode: i32,
    pub optional: bool,
    /// The pod's `fsGroup`: the kubelet gives the volume's files that group,
    /// group read (and write, for an emptyDir) and setgid directories.
    pub fs_group: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionSource {
    ConfigMap(String),
    Secret(String),
    /// An emptyDir: an empty directory owned by the pod.
    Empty,
    /// A `projected` or `downwardAPI` volume: several sources in one
    /// directory, written and updated together like the kubelet does.
    Projected(Vec<ProjectedPart>),
}

/// One source of a projected volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedPart {
    pub source: PartSource,
    /// `items`: (key, path, mode); empty means every key.
    pub items: Vec<(String, String, Option<i32>)>,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartSource {
    ConfigMap(String),
    Secret(String),
    /// Files whose content is known at render time (downward API values, the
    /// stand-in service account token): path → (bytes, mode).
    Files(Files),
}

/// Files known at render time: path → (bytes, mode).
pub type Files = BTreeMap<String, (Vec<u8>, Option<i32>)>;

/// The rendered objects of one app.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub app: String,
    pub objects: Vec<Object>,
    pub projections: Vec<Projection>,
    /// Host directories the podman flavour bind-mounts that must exist.
    pub host_dirs: Vec<PathBuf>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Rendered {
    /// Nothing rendered yet for app `app`.
    pub fn empty(app: &str) -> Rendered {
        Rendered {
            app: app.to_string(),
            objects: Vec::new(),
            projections: Vec::new(),
            host_dirs: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// The multi-document YAML of every object.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for o in &self.objects {
            out.push_str("---\n");
            out.push_str(&o.to_yaml());
        }
        out
    }
}

/// Renders an app in the requested flavour.
pub fn render(app: &App, opts: &Options) -> Rendered {
    match opts.flavor {
        Flavor::Podman => podman::render(app, opts),
        Flavor::Cluster => cluster::render(app, opts),
    }
}

/// The labels podproof puts on every member pod.
pub fn member_labels(app: &str, role: &str, member: &str, run: Option<&RunContext>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert(LABEL_APP.to_string(), app.to_string());
    l.insert(LABEL_ROLE.to_string(), crate::app::dns_label(role));
    l.insert(LABEL_MEMBER.to_string(), member.to_string());
    if let Some(r) = run {
        l.insert(LABEL_RUN.to_string(), r.id.clone());
    }
    l
}

/// Adds the app (and run) labels to an object's metadata.
pub fn label_meta(meta: &mut ObjectMeta, app: &str, run: Option<&RunContext>) {
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(LABEL_APP.to_string(), app.to_string());
    if let Some(r) = run {
        labels.insert(LABEL_RUN.to_string(), r.id.clone());
    }
}

/// The name an object gets in a run (suffixed) or outside one.
pub fn run_name(name: &str, run: Option<&RunContext>) -> String {
    match run {
        Some(r) if !r.suffix.is_empty() => format!("{name}-{}", r.suffix),
        _ => name.to_string(),
    }
}
