//! App definitions: the one internal model that all three input forms become.
//!
//! app → roles → members → containers, plus config, secrets, volumes, ports,
//! probes, lifecycle and reload policy. A role carries a Kubernetes pod
//! template, because every form ends up as Pods and the k8s-openapi types
//! already say everything a Pod can say.

pub mod docs;
pub mod hooks;
pub mod kubedirector;
pub mod ledger;
pub mod load;
pub mod manifests;
pub mod podproof;

use crate::reload;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, PodTemplateSpec, Secret, Service};
use std::path::PathBuf;

pub use load::{load, Loaded};

/// Which of the three forms an app was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// podproof's own `App` kind.
    App,
    /// Plain Kubernetes manifests.
    Manifests,
    /// A KubeDirectorApp with a KubeDirectorCluster.
    KubeDirector,
}

/// One input file that an app was built from, for digests and messages.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub path: Option<PathBuf>,
    pub sha256: String,
}

/// The most members a role (or replicas a workload) may have: what podproof
/// runs locally on one machine.
pub const MAX_MEMBERS: u32 = 100;

impl Input {
    /// The input a source file is: its name as shown, its path and digest.
    pub fn of(src: &crate::source::Source) -> Input {
        Input { name: src.name.clone(), path: src.path.clone(), sha256: src.bytes_sha256().to_string() }
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub form: Form,
    /// The files the app was read from (definitions, then referenced config files).
    pub inputs: Vec<Input>,
    /// Directory that relative paths in the definition resolve against.
    pub dir: PathBuf,
    pub roles: Vec<Role>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    /// Kept for DNS emulation and promotion; podman ignores Services.
    pub services: Vec<Service>,
    /// Standalone claims (shared by every pod that names them).
    pub claims: Vec<PersistentVolumeClaim>,
    /// Images to build locally when they are missing.
    pub images: Vec<ImageBuild>,
    /// KubeDirector's own documents and cluster-level facts.
    pub kubedirector: Option<kubedirector::KdMeta>,
    /// What of its input a local run does not honour (src/fidelity.rs).
    pub ledger: Vec<crate::fidelity::Entry>,
    /// Where each of its pods' grace period is decided (src/fidelity.rs): a
    /// run that caps stops below one of them adds it to its ledger.
    pub grace_sites: Vec<crate::fidelity::GraceSite>,
    /// Helm hooks (objects annotated `helm.sh/hook`): not members; they run at
    /// their events (src/helm.rs).
    pub hooks: Vec<hooks::Hook>,
}

impl App {
    /// An app with nothing in it yet; each reader fills in what its form holds.
    pub fn empty(name: String, form: Form, inputs: Vec<Input>, dir: PathBuf) -> App {
        App {
            name,
            form,
            inputs,
            dir,
            roles: Vec::new(),
            config_maps: Vec::new(),
            secrets: Vec::new(),
            services: Vec::new(),
            claims: Vec::new(),
            images: Vec::new(),
            kubedirector: None,
            ledger: Vec::new(),
            grace_sites: Vec::new(),
            hooks: Vec::new(),
        }
    }
}

/// How a role's members are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// A single Pod keeps its own name.
    Single(String),
    /// Members are `<prefix>-<index>`.
    Indexed(String),
}

/// Where a role came from in the manifests, so scaling and lint can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` of the workload, where its pods would run.
    pub namespace: Option<String>,
    /// A Job's own spec as written, without its template (`backoffLimit`,
    /// `completions`, ...): promotion ships the Job with them.
    pub job: Option<serde_yaml::Value>,
    /// A StatefulSet with the OrderedReady pod management policy (the
    /// default): members start one at a time, each once the one before it
    /// is ready, and leave one at a time from the highest index.
    pub ordered: bool,
    /// A StatefulSet's `serviceName`: its controller makes it each pod's
    /// subdomain, and the pod's own hostname its name.
    pub service_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub workload: Option<Workload>,
    pub members: u32,
    pub naming: Naming,
    pub template: PodTemplateSpec,
    /// Per-member claims (persistent dirs, volumeClaimTemplates): each member
    /// gets its own claim named `<template>-<member pod>`.
    pub claim_templates: Vec<PersistentVolumeClaim>,
    pub config_package: Option<ConfigPackage>,
    /// KubeDirector's eventList: `None` means every event runs.
    pub event_list: Option<Vec<String>>,
    pub reload: Option<reload::Policy>,
    /// KubeDirector's cardinality: scaling outside it is refused.
    pub cardinality: Option<kubedirector::Cardinality>,
    /// The file and line:column that define the role, so an error found while
    /// rendering it names its own file rather than the app's first one.
    pub origin: Option<Origin>,
}

/// Where a role is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// A KubeDirector-style config package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPackage {
    /// `file:///path` inside the image.
    InImage(String),
    /// A directory or tarball on the host, next to the definition.
    Host(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuild {
    pub tag: String,
    pub context: PathBuf,
}

impl Role {
    /// Whether this role runs KubeDirector-style lifecycle events.
    pub fn has_events(&self) -> bool {
        self.config_package.is_some()
    }

    /// Whether an event (configure, addnodes, delnodes) is in the eventList.
    pub fn wants(&self, event: &str) -> bool {
        self.event_list.as_ref().map(|l| l.iter().any(|e| e == event)).unwrap_or(true)
    }

    /// Checks a member count against the role's limits.
    pub fn check_members(&self, n: u32) -> Result<(), String> {
        if n > MAX_MEMBERS {
            return Err(format!("{n} members is more than podproof runs locally ({MAX_MEMBERS})"));
        }
        match self.cardinality {
            Some(c) => c.check(&self.name, &format!("{}{}", c.min, if c.open { "+" } else { "" }), n as i64),
            None => Ok(()),
        }
    }

    /// The pod name of member `index`.
    pub fn member_name(&self, index: u32) -> String {
        match &self.naming {
            Naming::Single(n) => n.clone(),
            Naming::Indexed(p) => format!("{p}-{index}"),
        }
    }

    pub fn member_names(&self) -> Vec<String> {
        (0..self.members).map(|i| self.member_name(i)).collect()
    }

    /// A member's hostname and subdomain, as its controller sets them: a
    /// StatefulSet's pod is named after itself within the set's
    /// `serviceName` (the controller's updateIdentity); any other pod has the
    /// template's `hostname` (its member name when none) and `subdomain`.
    pub fn host_names(&self, member: &str) -> (String, Option<String>) {
        let spec = self.template.spec.as_ref();
        let subdomain = |s: Option<String>| s.filter(|s| !s.is_empty());
        match self.workload.as_ref() {
            Some(w) if w.kind == "StatefulSet" => (member.to_string(), subdomain(w.service_name.clone())),
            _ => (
                spec.and_then(|s| s.hostname.clone()).filter(|h| !h.is_empty()).unwrap_or_else(|| member.to_string()),
                subdomain(spec.and_then(|s| s.subdomain.clone())),
            ),
        }
    }

    /// The namespace the role's pods run in.
    pub fn namespace(&self) -> String {
        self.workload
            .as_ref()
            .and_then(|w| w.namespace.clone())
            .or_else(|| self.template.metadata.as_ref().and_then(|m| m.namespace.clone()))
            .unwrap_or_else(|| "default".into())
    }
}

impl App {
    /// Every member pod name of the app, role by role.
    pub fn member_names(&self) -> Vec<String> {
        self.roles.iter().flat_map(|r| r.member_names()).collect()
    }

    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    pub fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.config_maps.iter().find(|c| c.metadata.name.as_deref() == Some(name))
    }

    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.iter().find(|c| c.metadata.name.as_deref() == Some(name))
    }
}

/// Makes a string a DNS-1123 label: lowercase alphanumerics and `-`.
pub fn dns_label(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

/// Whether `s` is a valid DNS-1123 label (what Kubernetes demands of most names).
pub fn is_dns_label(s: &str) -> bool {
    crate::validation::names::dns1123_label(s).is_none()
}

/// Whether `s` is a valid DNS-1123 subdomain (ConfigMap, Secret, Pod names).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}
