//! podproof's own `App` format (`apiVersion: podproof.dev/v1alpha1`, `kind: App`).
//!
//! It is documented in docs/app-definition.md. Unknown fields are errors, so a
//! typo never silently changes what runs.

use super::docs::{error_at, error_at_value, typed};
use super::{dns_label, is_dns_label, App, ConfigPackage, Form, ImageBuild, Input, Naming, Role};
use crate::error::Diagnostic;
use crate::reload;
use crate::source::{resolve_inside, Source};
use crate::yaml::Doc;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "podproof.dev/v1alpha1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppDoc {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: AppSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppSpec {
    #[serde(default)]
    pub images: Vec<ImageSpec>,
    /// The default reload policy of every role.
    pub reload: Option<ReloadSpec>,
    pub roles: Vec<RoleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageSpec {
    pub tag: String,
    pub context: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleSpec {
    pub name: String,
    #[serde(default = "one")]
    pub members: u32,
    pub image: String,
    /// A build context, built as `image` when that image is missing.
    pub build: Option<String>,
    pub image_pull_policy: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    pub resources: Option<core::ResourceRequirements>,
    #[serde(default)]
    pub config: Vec<FilesSpec>,
    #[serde(default)]
    pub secrets: Vec<FilesSpec>,
    #[serde(default)]
    pub persistent_dirs: Vec<String>,
    pub storage: Option<StorageSpec>,
    pub readiness_probe: Option<core::Probe>,
    pub liveness_probe: Option<core::Probe>,
    pub startup_probe: Option<core::Probe>,
    pub lifecycle: Option<LifecycleSpec>,
    pub hooks: Option<core::Lifecycle>,
    pub reload: Option<ReloadSpec>,
    pub reload_container: Option<String>,
    pub security_context: Option<core::SecurityContext>,
    #[serde(default)]
    pub init_containers: Vec<core::Container>,
    #[serde(default)]
    pub sidecars: Vec<core::Container>,
    pub restart_policy: Option<String>,
    pub termination_grace_period_seconds: Option<i64>,
}

fn one() -> u32 {
    1
}

/// `reload:` is a policy (`signal SIGHUP`), or `{policy: ..., verify: CHECK}`
/// with the check that shows the new config is in effect.
#[derive(Debug, Clone)]
pub struct ReloadSpec {
    pub policy: String,
    pub verify: Option<reload::Verify>,
}

impl<'de> Deserialize<'de> for ReloadSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(default = "watch")]
            policy: String,
            verify: Option<reload::Verify>,
        }
        fn watch() -> String {
            "watch".into()
        }
        let v = serde_yaml::Value::deserialize(d)?;
        match v {
            serde_yaml::Value::String(policy) => Ok(ReloadSpec { policy, verify: None }),
            serde_yaml::Value::Mapping(_) => serde_yaml::from_value::<Full>(v)
                .map(|f| ReloadSpec { policy: f.policy, verify: f.verify })
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom("reload is a policy (e.g. `signal SIGHUP`) or {policy, verify}")),
        }
    }
}

/// Reads a `reload:` field into a policy action and its check, reporting problems at `ptr`.
fn read_reload(
    src: &Source,
    doc: &Doc,
    ptr: &str,
    r: &ReloadSpec,
    diags: &mut Vec<Diagnostic>,
) -> Option<(reload::Action, Option<reload::Verify>)> {
    let mut ok = true;
    if let Some(v) = &r.verify {
        for (p, why) in v.problems() {
            ok = false;
            diags.push(error_at(src, doc, &format!("{ptr}/verify{p}"), why));
        }
    }
    let action = reload::parse(&r.policy)
        .map_err(|e| {
            let at = if r.verify.is_some() { format!("{ptr}/policy") } else { ptr.to_string() };
            diags.push(error_at_value(src, doc, &at, e))
        })
        .ok()?;
    ok.then(|| (action, r.verify.clone()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortSpec {
    pub name: Option<String>,
    pub port: i32,
    pub protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FilesSpec {
    /// The ConfigMap or Secret name; defaults to `<app>-<role>-config[-i]`.
    pub name: Option<String>,
    pub mount_path: String,
    pub files: BTreeMap<String, FileSpec>,
    pub default_mode: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSpec {
    /// A file next to the definition.
    pub file: Option<String>,
    /// Inline content.
    pub content: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageSpec {
    pub size: Quantity,
    pub storage_class_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LifecycleSpec {
    /// `file:///...` inside the image, or a directory/tarball next to the definition.
    pub config_package: Option<String>,
    pub event_list: Option<Vec<String>>,
}

pub const EVENTS: &[&str] = &["configure", "addnodes", "delnodes"];

/// Reads one App document into the model, collecting every problem.
pub fn read(src: &Source, doc: &Doc, diags: &mut Vec<Diagnostic>) -> Option<App> {
    let parsed: AppDoc = match typed(src, doc, "") {
        Ok(p) => p,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    // The schema lint checks too, for what the typed read lets through:
    // unknown fields in the Kubernetes parts of a role, which k8s-openapi
    // drops silently.
    let mut issues = crate::validation::Issues::default();
    crate::validation::schema::app::<AppDoc>(&mut issues, &doc.value);
    if !issues.0.is_empty() {
        diags.extend(issues.0.iter().map(|i| super::docs::issue(src, doc, i)));
        return None;
    }
    let before = diags.len();
    let name = parsed.metadata.name.clone();
    if !is_dns_label(&name) {
        diags.push(error_at_value(
            src,
            doc,
            "/metadata/name",
            format!("app name `{name}` must be a DNS label (lowercase letters, digits and '-', at most 63)"),
        ));
    }
    let mut app = App::empty(name.clone(), Form::App, vec![Input::of(src)], src.dir.clone());
    for (i, img) in parsed.spec.images.iter().enumerate() {
        match resolve_dir(src, doc, &format!("/spec/images/{i}/context"), &img.context) {
            Ok(context) => app.images.push(ImageBuild { tag: img.tag.clone(), context }),
            Err(d) => diags.push(d),
        }
    }
    let app_reload = parsed.spec.reload.as_ref().and_then(|r| read_reload(src, doc, "/spec/reload", r, diags));
    if parsed.spec.roles.is_empty() {
        diags.push(error_at(src, doc, "/spec/roles", "an app needs at least one role"));
    }
    let mut seen = BTreeMap::new();
    for (ri, r) in parsed.spec.roles.iter().enumerate() {
        let rp = format!("/spec/roles/{ri}");
        if let Some(prev) = seen.insert(r.name.clone(), ri) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{rp}/name"),
                format!("role `{}` is defined twice (first at roles[{prev}])", r.name),
            ));
        }
        if let Some(role) = read_role(src, doc, &rp, &name, r, app_reload.clone(), &mut app, diags) {
            app.roles.push(role);
        }
    }
    if diags.len() > before && diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(app)
}

fn resolve_dir(src: &Source, doc: &Doc, pointer: &str, rel: &str) -> Result<std::path::PathBuf, Diagnostic> {
    let p = resolve_inside(src, rel).map_err(|e| error_at_value(src, doc, pointer, e))?;
    if !p.exists() {
        return Err(error_at_value(src, doc, pointer, format!("`{rel}` does not exist ({})", p.display())));
    }
    Ok(p)
}

#[allow(clippy::too_many_arguments)]
fn read_role(
    src: &Source,
    doc: &Doc,
    rp: &str,
    app_name: &str,
    r: &RoleSpec,
    app_reload: Option<(reload::Action, Option<reload::Verify>)>,
    app: &mut App,
    diags: &mut Vec<Diagnostic>,
) -> Option<Role> {
    let before = diags.len();
    check_role(src, doc, rp, r, app, diags);
    let prefix = format!("{app_name}-{}", r.name);
    let (volumes, mut mounts) = config_volumes(src, doc, rp, app_name, &prefix, r, app, diags);
    let claim_templates = claim_templates(src, doc, rp, r, &mut mounts, diags);
    let (config_package, event_list) = lifecycle(src, doc, rp, r, diags);
    let reload_action = match &r.reload {
        Some(s) => read_reload(src, doc, &format!("{rp}/reload"), s, diags),
        None => app_reload,
    };
    let reload =
        reload_action.map(|(action, verify)| reload::Policy { action, container: r.reload_container.clone(), verify });
    let main = core::Container {
        name: r.name.clone(),
        image: Some(r.image.clone()),
        image_pull_policy: r.image_pull_policy.clone(),
        command: r.command.clone(),
        args: r.args.clone(),
        working_dir: r.working_dir.clone(),
        env: (!r.env.is_empty()).then(|| {
            r.env
                .iter()
                .map(|(k, v)| core::EnvVar { name: k.clone(), value: Some(v.clone()), ..Default::default() })
                .collect()
        }),
        ports: (!r.ports.is_empty()).then(|| {
            r.ports
                .iter()
                .map(|p| core::ContainerPort {
                    name: p.name.clone(),
                    container_port: p.port,
                    protocol: p.protocol.clone(),
                    ..Default::default()
                })
                .collect()
        }),
        resources: r.resources.clone(),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        readiness_probe: r.readiness_probe.clone(),
        liveness_probe: r.liveness_probe.clone(),
        startup_probe: r.startup_probe.clone(),
        lifecycle: r.hooks.clone(),
        security_context: r.security_context.clone(),
        ..Default::default()
    };
    let mut containers = vec![main];
    containers.extend(r.sidecars.iter().cloned());
    let mut annotations = BTreeMap::new();
    if let Some(p) = &reload {
        annotations.insert(reload::ANNOTATION.to_string(), p.action.to_string());
        if let Some(c) = &p.container {
            annotations.insert(reload::CONTAINER_ANNOTATION.to_string(), c.clone());
        }
        if let Some(v) = &p.verify {
            let json = serde_json::to_string(v).expect("a reload check serializes");
            annotations.insert(reload::VERIFY_ANNOTATION.to_string(), json);
        }
    }
    if let Some(c) = &r.reload_container {
        if !containers.iter().any(|k| &k.name == c) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{rp}/reloadContainer"),
                format!("no container named `{c}` in role `{}`", r.name),
            ));
        }
    }
    let template = core::PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some([("app.kubernetes.io/name".to_string(), app_name.to_string())].into_iter().collect()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers,
            init_containers: (!r.init_containers.is_empty()).then(|| r.init_containers.clone()),
            volumes: (!volumes.is_empty()).then_some(volumes),
            restart_policy: r.restart_policy.clone(),
            termination_grace_period_seconds: r.termination_grace_period_seconds,
            ..Default::default()
        }),
    };
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Role {
        name: r.name.clone(),
        workload: None,
        members: r.members,
        naming: Naming::Indexed(prefix),
        template,
        claim_templates,
        config_package,
        event_list,
        cardinality: None,
        origin: None,
        reload,
    })
}

/// What a role's own fields must be: a DNS-label name, a member count in
/// range, valid ports, known policies, named init containers and sidecars;
/// and the image it builds, whose context must exist (added to `app`).
fn check_role(src: &Source, doc: &Doc, rp: &str, r: &RoleSpec, app: &mut App, diags: &mut Vec<Diagnostic>) {
    if !is_dns_label(&r.name) {
        diags.push(error_at_value(
            src,
            doc,
            &format!("{rp}/name"),
            format!("role name `{}` must be a DNS label (lowercase letters, digits and '-', at most 63)", r.name),
        ));
    }
    if r.members == 0 || r.members > super::MAX_MEMBERS {
        diags.push(error_at_value(
            src,
            doc,
            &format!("{rp}/members"),
            format!("members must be between 1 and {}, found {}", super::MAX_MEMBERS, r.members),
        ));
    }
    for (i, p) in r.ports.iter().enumerate() {
        if !(1..=65535).contains(&p.port) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{rp}/ports/{i}/port"),
                format!("port must be between 1 and 65535, found {}", p.port),
            ));
        }
    }
    for (field, value, allowed) in [
        ("restartPolicy", &r.restart_policy, ["Always", "OnFailure", "Never"]),
        ("imagePullPolicy", &r.image_pull_policy, ["Always", "IfNotPresent", "Never"]),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !allowed.contains(v)) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{rp}/{field}"),
                format!("{field} `{v}` must be one of {}", allowed.join(", ")),
            ));
        }
    }
    for (field, list) in [("initContainers", &r.init_containers), ("sidecars", &r.sidecars)] {
        for (i, c) in list.iter().enumerate() {
            if let Err(e) = crate::validation::names::container_name(&c.name) {
                diags.push(error_at_value(src, doc, &format!("{rp}/{field}/{i}/name"), e));
            }
        }
    }
    if let Some(b) = &r.build {
        match resolve_dir(src, doc, &format!("{rp}/build"), b) {
            Ok(context) => {
                if !app.images.iter().any(|i| i.tag == r.image) {
                    app.images.push(ImageBuild { tag: r.image.clone(), context });
                }
            }
            Err(d) => diags.push(d),
        }
    }
}

/// A role's `config` and `secrets` entries: the ConfigMaps and Secrets they
/// make (added to `app`), and the volumes and mounts that carry them.
#[allow(clippy::too_many_arguments)]
fn config_volumes(
    src: &Source,
    doc: &Doc,
    rp: &str,
    app_name: &str,
    prefix: &str,
    r: &RoleSpec,
    app: &mut App,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<core::Volume>, Vec<core::VolumeMount>) {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for (kind, list) in [("config", &r.config), ("secret", &r.secrets)] {
        let field = if kind == "config" { "config" } else { "secrets" };
        for (i, f) in list.iter().enumerate() {
            let fp = format!("{rp}/{field}/{i}");
            let obj_name = f.name.clone().unwrap_or_else(|| {
                if i == 0 {
                    format!("{prefix}-{kind}")
                } else {
                    format!("{prefix}-{kind}-{i}")
                }
            });
            if !super::is_dns_subdomain(&obj_name) {
                diags.push(error_at_value(
                    src,
                    doc,
                    &format!("{fp}/name"),
                    format!("`{obj_name}` is not a valid object name"),
                ));
            }
            if !f.mount_path.starts_with('/') {
                diags.push(error_at_value(
                    src,
                    doc,
                    &format!("{fp}/mountPath"),
                    format!("mountPath `{}` must be absolute", f.mount_path),
                ));
            }
            let mut data = BTreeMap::new();
            for (key, spec) in &f.files {
                let kp = format!("{fp}/files/{}", crate::yaml::escape(key));
                if let Err(e) = validate_key(key) {
                    diags.push(error_at(src, doc, &kp, e));
                    continue;
                }
                match (&spec.file, &spec.content) {
                    (Some(_), Some(_)) | (None, None) => {
                        diags.push(error_at(
                            src,
                            doc,
                            &kp,
                            format!("file `{key}` needs exactly one of `file` or `content`"),
                        ));
                    }
                    (None, Some(c)) => {
                        data.insert(key.clone(), c.clone().into_bytes());
                    }
                    (Some(path), None) => match read_file(src, doc, &format!("{kp}/file"), path) {
                        Ok((bytes, input)) => {
                            data.insert(key.clone(), bytes);
                            app.inputs.push(input);
                        }
                        Err(d) => diags.push(d),
                    },
                }
            }
            let vol_name = dns_label(&format!("{kind}-{i}"));
            if kind == "config" {
                let mut cm = core::ConfigMap { metadata: meta(&obj_name, app_name), ..Default::default() };
                let (text, binary): (BTreeMap<_, _>, BTreeMap<_, _>) =
                    data.into_iter().partition(|(_, v)| std::str::from_utf8(v).is_ok());
                cm.data = Some(text.into_iter().map(|(k, v)| (k, String::from_utf8(v).unwrap_or_default())).collect());
                if !binary.is_empty() {
                    cm.binary_data = Some(binary.into_iter().map(|(k, v)| (k, ByteString(v))).collect());
                }
                app.config_maps.push(cm);
                volumes.push(core::Volume {
                    name: vol_name.clone(),
                    config_map: Some(core::ConfigMapVolumeSource {
                        name: obj_name.clone(),
                        default_mode: f.default_mode,
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            } else {
                let s = core::Secret {
                    metadata: meta(&obj_name, app_name),
                    data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
                    type_: Some("Opaque".into()),
                    ..Default::default()
                };
                app.secrets.push(s);
                volumes.push(core::Volume {
                    name: vol_name.clone(),
                    secret: Some(core::SecretVolumeSource {
                        secret_name: Some(obj_name.clone()),
                        default_mode: f.default_mode,
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            mounts.push(core::VolumeMount {
                name: vol_name,
                mount_path: f.mount_path.clone(),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }
    (volumes, mounts)
}

/// A role's `persistentDirs`: one claim template each, mounted at its path.
fn claim_templates(
    src: &Source,
    doc: &Doc,
    rp: &str,
    r: &RoleSpec,
    mounts: &mut Vec<core::VolumeMount>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<core::PersistentVolumeClaim> {
    let mut claim_templates = Vec::new();
    for (i, dir) in r.persistent_dirs.iter().enumerate() {
        if !dir.starts_with('/') {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{rp}/persistentDirs/{i}"),
                format!("persistent dir `{dir}` must be absolute"),
            ));
            continue;
        }
        let claim = format!("data-{i}");
        let size = r.storage.as_ref().map(|s| s.size.clone()).unwrap_or_else(|| Quantity("1Gi".into()));
        claim_templates.push(core::PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some(claim.clone()), ..Default::default() },
            spec: Some(core::PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: r.storage.as_ref().and_then(|s| s.storage_class_name.clone()),
                resources: Some(core::VolumeResourceRequirements {
                    requests: Some([("storage".to_string(), size)].into_iter().collect()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(core::VolumeMount { name: claim, mount_path: dir.clone(), ..Default::default() });
    }
    claim_templates
}

/// A role's KubeDirector-style `lifecycle`: its config package and event list.
fn lifecycle(
    src: &Source,
    doc: &Doc,
    rp: &str,
    r: &RoleSpec,
    diags: &mut Vec<Diagnostic>,
) -> (Option<ConfigPackage>, Option<Vec<String>>) {
    let mut config_package = None;
    let mut event_list = None;
    if let Some(l) = &r.lifecycle {
        if let Some(pkg) = &l.config_package {
            let pp = format!("{rp}/lifecycle/configPackage");
            if let Some(path) = pkg.strip_prefix("file://") {
                if !path.starts_with('/') {
                    diags.push(error_at_value(
                        src,
                        doc,
                        &pp,
                        format!("`{pkg}` must be file:///absolute/path inside the image"),
                    ));
                }
                config_package = Some(ConfigPackage::InImage(path.to_string()));
            } else if pkg.contains("://") {
                diags.push(error_at_value(src, doc, &pp, format!("config package `{pkg}`: only file:// URLs (inside the image) or paths next to the definition work offline")));
            } else {
                match resolve_dir(src, doc, &pp, pkg) {
                    Ok(p) => config_package = Some(ConfigPackage::Host(p)),
                    Err(d) => diags.push(d),
                }
            }
        }
        if let Some(list) = &l.event_list {
            for (i, e) in list.iter().enumerate() {
                if !EVENTS.contains(&e.as_str()) {
                    diags.push(error_at_value(
                        src,
                        doc,
                        &format!("{rp}/lifecycle/eventList/{i}"),
                        format!("unknown event `{e}`: expected one of configure, addnodes, delnodes"),
                    ));
                }
            }
            event_list = Some(list.clone());
        }
    }
    (config_package, event_list)
}

fn meta(name: &str, app: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some([("app.kubernetes.io/name".to_string(), app.to_string())].into_iter().collect()),
        ..Default::default()
    }
}

/// Checks a ConfigMap/Secret key the way the API server does.
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 253 {
        return Err(format!("key `{key}` must be 1 to 253 characters"));
    }
    if key == "." || key == ".." || key.starts_with("..") {
        return Err(format!("key `{key}` may not be `.`, `..` or start with `..`"));
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        return Err(format!("key `{key}` may contain only letters, digits, '-', '_' and '.'"));
    }
    Ok(())
}

/// Reads a file named by the definition, refusing paths outside the project.
fn read_file(src: &Source, doc: &Doc, pointer: &str, rel: &str) -> Result<(Vec<u8>, Input), Diagnostic> {
    let p = resolve_inside(src, rel).map_err(|e| error_at_value(src, doc, pointer, e))?;
    let bytes = std::fs::read(&p).map_err(|e| {
        error_at_value(src, doc, pointer, format!("cannot read `{rel}`: {}", crate::source::io_reason(&e)))
    })?;
    let input = Input { name: crate::source::display(&p), path: Some(p), sha256: crate::digest::sha256_hex(&bytes) };
    Ok((bytes, input))
}
