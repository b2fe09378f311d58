//! KubeDirector: a `KubeDirectorApp` (the catalog entry) together with a
//! `KubeDirectorCluster` (an instance of it), exactly as written for a real
//! cluster. Role defaults, cardinality and config packages follow
//! KubeDirector's own rules (see shared/reference/kubedirector.md).

use super::docs::{error_at, error_at_value, typed};
use super::{dns_label, App, ConfigPackage, Form, Input, Naming, Role};
use crate::error::Diagnostic;
use crate::source::Source;
use crate::yaml::Doc;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "kubedirector.hpe.com/v1beta1";
/// KubeDirector names the app container of every member pod `app`.
pub const CONTAINER: &str = crate::podview::KD_CONTAINER;

#[derive(Debug, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct KdAppDoc {
    pub metadata: Named,
    pub spec: KdAppSpec,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PackageSpec {
    #[serde(rename = "packageURL")]
    pub package_url: String,
    pub use_new_setup_layout: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdAppSpec {
    #[serde(rename = "distroID")]
    pub distro_id: Option<String>,
    pub version: Option<String>,
    pub default_image_repo_tag: Option<String>,
    pub default_config_package: Option<PackageSpec>,
    pub default_persist_dirs: Option<Vec<String>>,
    pub default_event_list: Option<Vec<String>>,
    #[serde(default)]
    pub services: Vec<KdService>,
    pub roles: Vec<KdAppRole>,
    pub config: Option<KdConfig>,
    pub systemd_required: Option<bool>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct KdService {
    pub id: String,
    pub endpoint: Option<KdEndpoint>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct KdEndpoint {
    pub port: Option<i32>,
    pub url_scheme: Option<String>,
    pub path: Option<String>,
    pub is_dashboard: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdConfig {
    #[serde(default)]
    pub role_services: Vec<RoleServices>,
    #[serde(default)]
    pub selected_roles: Vec<String>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct RoleServices {
    #[serde(rename = "roleID")]
    pub role_id: String,
    #[serde(rename = "serviceIDs", default)]
    pub service_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdAppRole {
    pub id: String,
    pub cardinality: String,
    pub image_repo_tag: Option<String>,
    pub config_package: Option<PackageSpec>,
    pub persist_dirs: Option<Vec<String>>,
    pub event_list: Option<Vec<String>>,
    pub min_resources: Option<BTreeMap<String, Quantity>>,
}

#[derive(Debug, Deserialize)]
pub struct KdClusterDoc {
    pub metadata: Named,
    pub spec: KdClusterSpec,
}

#[derive(Debug, Deserialize)]
pub struct KdClusterSpec {
    pub app: String,
    #[serde(default)]
    pub roles: Vec<KdClusterRole>,
}

#[derive(Debug, Deserialize)]
pub struct KdClusterRole {
    pub id: String,
    pub members: Option<i64>,
    pub resources: Option<core::ResourceRequirements>,
    pub storage: Option<KdStorage>,
    pub env: Option<Vec<core::EnvVar>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdStorage {
    pub size: Quantity,
    pub storage_class_name: Option<String>,
}

/// What configmeta.json and promotion need beyond the roles.
#[derive(Debug, Clone)]
pub struct KdMeta {
    pub app_name: String,
    pub cluster_name: String,
    pub distro_id: String,
    pub version: String,
    pub services: Vec<KdService>,
    pub role_services: Vec<RoleServices>,
    /// Role ids in the app's order, with their KubeDirector ids (which may hold `_`).
    pub role_ids: Vec<String>,
    /// The original documents, kept verbatim for promotion.
    pub app_doc: serde_yaml::Value,
    pub cluster_doc: serde_yaml::Value,
}

/// A parsed cardinality: "N" means exactly N, "N+" at least N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cardinality {
    pub min: u32,
    pub open: bool,
}

impl Cardinality {
    /// Checks a member count; `shown` is the cardinality as written, for the message.
    pub fn check(&self, role: &str, shown: &str, n: i64) -> Result<(), String> {
        let ok = if self.open { n >= self.min as i64 } else { n == self.min as i64 };
        if ok {
            return Ok(());
        }
        let rule = if self.open { format!("at least {}", self.min) } else { format!("exactly {}", self.min) };
        Err(format!("role `{role}` has cardinality \"{shown}\": members must be {rule}, found {n}"))
    }
}

pub fn parse_cardinality(s: &str) -> Result<Cardinality, String> {
    let (num, open) = match s.strip_suffix('+') {
        Some(n) => (n, true),
        None => (s, false),
    };
    // KubeDirector's own pattern is `^\d+\+?$`; `parse` alone would also take "+1".
    num.parse::<u32>()
        .ok()
        .filter(|_| num.bytes().all(|b| b.is_ascii_digit()))
        .map(|min| Cardinality { min, open })
        .ok_or_else(|| format!("cardinality `{s}` must be \"N\" or \"N+\" (e.g. \"1\" or \"1+\")"))
}

/// How many members a role runs: the cluster's count for it (or its
/// cardinality's minimum), checked against the cardinality and podproof's
/// limit; `None` (with a diagnostic) when it cannot run.
fn role_members(
    cl_src: &Source,
    cl_doc: &Doc,
    ar: &KdAppRole,
    card: &Cardinality,
    found: Option<(usize, &KdClusterRole)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<u32> {
    Some(match found {
        Some((ci, cr)) => {
            let n = cr.members.unwrap_or(card.min as i64);
            let ptr =
                if cr.members.is_some() { format!("/spec/roles/{ci}/members") } else { format!("/spec/roles/{ci}") };
            if n < 0 {
                diags.push(error_at_value(
                    cl_src,
                    cl_doc,
                    &ptr,
                    format!("members of role `{}` must not be negative, found {n}", ar.id),
                ));
                return None;
            }
            if let Err(msg) = card.check(&ar.id, &ar.cardinality, n) {
                diags.push(error_at_value(cl_src, cl_doc, &ptr, msg));
                return None;
            }
            if n > super::MAX_MEMBERS as i64 {
                diags.push(error_at_value(
                    cl_src,
                    cl_doc,
                    &ptr,
                    format!("members {n} is more than podproof runs locally ({})", super::MAX_MEMBERS),
                ));
                return None;
            }
            n as u32
        }
        None if card.min > 0 => {
            diags.push(error_at(
                cl_src,
                cl_doc,
                "/spec/roles",
                format!("role `{}` has cardinality \"{}\" but the cluster does not list it", ar.id, ar.cardinality),
            ));
            return None;
        }
        None => 0,
    })
}

/// A cluster role's requests must cover the app role's `minResources`.
fn check_min_resources(
    cl_src: &Source,
    cl_doc: &Doc,
    cl: &KdClusterDoc,
    ar: &KdAppRole,
    resources: Option<&core::ResourceRequirements>,
    diags: &mut Vec<Diagnostic>,
) {
    if let (Some(min), Some(res)) = (&ar.min_resources, resources) {
        for (k, q) in min {
            let have = res.requests.as_ref().and_then(|r| r.get(k));
            if let Some(have) = have {
                if let (Some(a), Some(b)) = (crate::quantity::parse(&have.0), crate::quantity::parse(&q.0)) {
                    if a < b {
                        let ci = cl.spec.roles.iter().position(|c| c.id == ar.id).unwrap_or(0);
                        diags.push(error_at_value(
                            cl_src,
                            cl_doc,
                            &format!("/spec/roles/{ci}/resources/requests/{k}"),
                            format!("role `{}` requests {k} {} but the app's minResources is {}", ar.id, have.0, q.0),
                        ));
                    }
                }
            }
        }
    }
}

/// A role's persistDirs: a claim template each (the cluster role's storage
/// size and class), mounted at its directory.
fn persist_claims(
    persist: &[String],
    cr: Option<&KdClusterRole>,
) -> (Vec<core::VolumeMount>, Vec<core::PersistentVolumeClaim>) {
    let mut mounts = Vec::new();
    let mut claim_templates = Vec::new();
    for (i, dir) in persist.iter().enumerate() {
        let name = format!("persist-{i}");
        let size =
            cr.and_then(|c| c.storage.as_ref()).map(|s| s.size.clone()).unwrap_or_else(|| Quantity("1Gi".into()));
        claim_templates.push(core::PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() },
            spec: Some(core::PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: cr.and_then(|c| c.storage.as_ref()).and_then(|s| s.storage_class_name.clone()),
                resources: Some(core::VolumeResourceRequirements {
                    requests: Some([("storage".to_string(), size)].into_iter().collect()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(core::VolumeMount { name, mount_path: dir.clone(), ..Default::default() });
    }
    (mounts, claim_templates)
}

/// Builds the app from one KubeDirectorApp and one KubeDirectorCluster.
pub fn read(
    app_src: &Source,
    app_doc: &Doc,
    cl_src: &Source,
    cl_doc: &Doc,
    diags: &mut Vec<Diagnostic>,
) -> Option<App> {
    let before = diags.len();
    let kd: KdAppDoc = typed(app_src, app_doc, "").map_err(|d| diags.push(d)).ok()?;
    let cl: KdClusterDoc = typed(cl_src, cl_doc, "").map_err(|d| diags.push(d)).ok()?;
    // The schema lint checks too, for what the typed reads let through
    // (unknown fields, above all).
    let mut schema_ok = true;
    for (src, doc, kind) in [(app_src, app_doc, "KubeDirectorApp"), (cl_src, cl_doc, "KubeDirectorCluster")] {
        let mut issues = crate::validation::Issues::default();
        crate::validation::schema::kubedirector(&mut issues, &doc.value, kind);
        schema_ok &= issues.0.is_empty();
        diags.extend(issues.0.iter().map(|i| super::docs::issue(src, doc, i)));
    }
    if !schema_ok {
        return None;
    }
    let cluster = cl.metadata.name.clone();
    if !super::is_dns_label(&cluster) {
        diags.push(error_at_value(
            cl_src,
            cl_doc,
            "/metadata/name",
            format!("cluster name `{cluster}` must be a DNS label (lowercase letters, digits and '-', at most 63)"),
        ));
    }
    let mut app = App::empty(
        cluster.clone(),
        Form::KubeDirector,
        vec![Input::of(app_src), Input::of(cl_src)],
        cl_src.dir.clone(),
    );
    for (i, e) in kd.spec.default_event_list.iter().flatten().enumerate() {
        check_event(app_src, app_doc, &format!("/spec/defaultEventList/{i}"), e, diags);
    }
    // Every cluster role must exist in the app.
    for (ci, cr) in cl.spec.roles.iter().enumerate() {
        if !kd.spec.roles.iter().any(|r| r.id == cr.id) {
            let ids: Vec<_> = kd.spec.roles.iter().map(|r| r.id.as_str()).collect();
            diags.push(error_at_value(
                cl_src,
                cl_doc,
                &format!("/spec/roles/{ci}/id"),
                format!("role `{}` is not defined by app `{}` (roles: {})", cr.id, kd.metadata.name, ids.join(", ")),
            ));
        }
    }
    for (ri, ar) in kd.spec.roles.iter().enumerate() {
        let rp = format!("/spec/roles/{ri}");
        let card = match parse_cardinality(&ar.cardinality) {
            Ok(c) => c,
            Err(e) => {
                diags.push(error_at_value(app_src, app_doc, &format!("{rp}/cardinality"), e));
                continue;
            }
        };
        let found = cl.spec.roles.iter().enumerate().find(|(_, c)| c.id == ar.id);
        let Some(members) = role_members(cl_src, cl_doc, ar, &card, found, diags) else { continue };
        let cr = found.map(|(_, c)| c);
        let image = ar.image_repo_tag.clone().or_else(|| kd.spec.default_image_repo_tag.clone());
        let Some(image) = image else {
            diags.push(error_at(
                app_src,
                app_doc,
                &rp,
                format!("role `{}` has no imageRepoTag and the app has no defaultImageRepoTag", ar.id),
            ));
            continue;
        };
        // An explicit `configPackage: null` on a role turns the default off.
        let role_pkg_ptr = format!("{rp}/configPackage");
        let pkg =
            if app_doc.has(&role_pkg_ptr) { ar.config_package.clone() } else { kd.spec.default_config_package.clone() };
        let config_package = match pkg {
            Some(p) => match p.package_url.strip_prefix("file://") {
                Some(path) if path.starts_with('/') => Some(ConfigPackage::InImage(path.to_string())),
                _ => {
                    let ptr = if app_doc.has(&role_pkg_ptr) {
                        format!("{role_pkg_ptr}/packageURL")
                    } else {
                        "/spec/defaultConfigPackage/packageURL".into()
                    };
                    diags.push(error_at_value(app_src, app_doc, &ptr, format!("packageURL `{}`: podproof runs offline, so only file:///absolute/path inside the image is supported", p.package_url)));
                    continue;
                }
            },
            None => None,
        };
        let event_list = ar.event_list.clone().or_else(|| kd.spec.default_event_list.clone());
        for (i, e) in ar.event_list.iter().flatten().enumerate() {
            check_event(app_src, app_doc, &format!("{rp}/eventList/{i}"), e, diags);
        }
        let persist = ar.persist_dirs.clone().or_else(|| kd.spec.default_persist_dirs.clone()).unwrap_or_default();
        let resources = cr.and_then(|c| c.resources.clone());
        check_min_resources(cl_src, cl_doc, &cl, ar, resources.as_ref(), diags);
        let (mounts, claim_templates) = persist_claims(&persist, cr);
        if members == 0 {
            continue;
        }
        let labels: BTreeMap<String, String> = [
            ("kubedirector.hpe.com/kdcluster".to_string(), cluster.clone()),
            ("kubedirector.hpe.com/role".to_string(), ar.id.clone()),
        ]
        .into_iter()
        .collect();
        let container = core::Container {
            name: CONTAINER.into(),
            image: Some(image),
            resources,
            env: cr.and_then(|c| c.env.clone()),
            volume_mounts: (!mounts.is_empty()).then_some(mounts),
            ..Default::default()
        };
        app.roles.push(Role {
            name: ar.id.clone(),
            workload: None,
            members,
            naming: Naming::Indexed(format!("{cluster}-{}", dns_label(&ar.id))),
            template: core::PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(core::PodSpec { containers: vec![container], ..Default::default() }),
            },
            claim_templates,
            config_package,
            event_list,
            reload: None,
            cardinality: Some(card),
            origin: None,
        });
    }
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    app.kubedirector = Some(KdMeta {
        app_name: kd.metadata.name.clone(),
        cluster_name: cluster,
        distro_id: kd.spec.distro_id.clone().unwrap_or_else(|| kd.metadata.name.clone()),
        version: kd.spec.version.clone().unwrap_or_default(),
        services: kd.spec.services.clone(),
        role_services: kd.spec.config.as_ref().map(|c| c.role_services.clone()).unwrap_or_default(),
        role_ids: kd.spec.roles.iter().map(|r| r.id.clone()).collect(),
        app_doc: app_doc.value.clone(),
        cluster_doc: cl_doc.value.clone(),
    });
    Some(app)
}

fn check_event(src: &Source, doc: &Doc, ptr: &str, e: &str, diags: &mut Vec<Diagnostic>) {
    if !super::podproof::EVENTS.contains(&e) {
        diags.push(error_at_value(
            src,
            doc,
            ptr,
            format!("unknown event `{e}`: expected one of configure, addnodes, delnodes"),
        ));
    }
}
