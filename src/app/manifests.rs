//! Plain Kubernetes manifests: the output of helm template, ytt or kustomize.
//!
//! Workloads become roles: a Pod is one member that keeps its name; a
//! Deployment, StatefulSet, DaemonSet or Job becomes `replicas` members named
//! `<workload>-<index>`, the way a StatefulSet names its pods.

use super::docs::{error_at_value, typed};
use super::{App, Naming, Role, Workload};
use crate::error::Diagnostic;
use crate::reload;
use crate::source::Source;
use crate::yaml::Doc;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

/// The kinds podproof reads, with the apiVersion each must have.
pub const KINDS: &[(&str, &str)] = &[
    ("Pod", "v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("Service", "v1"),
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
];

/// Whether a document is a list whose `items` are read one by one: `v1 List`,
/// and the typed lists (`ConfigMapList`, `RoleBindingList`, ...) that
/// `kubectl get -o yaml` and bundles such as kube-prometheus write. kubectl
/// reads any kind ending in `List` with `items` as a list (meta.IsListType).
pub fn is_list(api: &str, kind: &str) -> bool {
    match kind {
        "List" => api == "v1",
        k => k.len() > 4 && k.ends_with("List"),
    }
}

/// Adds one manifest document to `app`. A Pod or Job annotated `helm.sh/hook`
/// becomes one of the app's hooks instead of a workload: helm creates it only
/// at its events, never with the release.
pub fn add(src: &Source, doc: &Doc, api: &str, kind: &str, app: &mut App, diags: &mut Vec<Diagnostic>) {
    let annotations: std::collections::BTreeMap<String, String> = doc
        .value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| serde_yaml::from_value(a.clone()).ok())
        .unwrap_or_default();
    if !annotations.contains_key(crate::app::hooks::HOOK) || !matches!(kind, "Pod" | "Job") {
        return add_object(src, doc, api, kind, app, diags);
    }
    let (events, weight, delete_policies, problems) = crate::app::hooks::parse(&annotations);
    for (key, p) in problems {
        diags.push(error_at_value(src, doc, &format!("/metadata/annotations/{}", crate::yaml::escape(key)), p));
    }
    let mut scratch = App::empty(app.name.clone(), app.form, Vec::new(), app.dir.clone());
    add_object(src, doc, api, kind, &mut scratch, diags);
    let Some(role) = scratch.roles.pop() else { return };
    if app.hooks.iter().any(|h| h.name == role.name) {
        diags.push(error_at_value(
            src,
            doc,
            "/metadata/name",
            format!("a hook named `{}` is defined twice", role.name),
        ));
        return;
    }
    app.hooks.push(crate::app::hooks::Hook {
        name: role.name.clone(),
        kind: kind.to_string(),
        events,
        weight,
        delete_policies,
        role: crate::app::hooks::hook_role(role),
    });
}

fn add_object(src: &Source, doc: &Doc, api: &str, kind: &str, app: &mut App, diags: &mut Vec<Diagnostic>) {
    // Everything the API server would refuse, all of it at once, before the
    // document is read: the same checks lint reports as schema findings. A
    // kind podproof does not run (a CronJob, RBAC, a kind its apiVersion does
    // not serve) still goes to the cluster with the app. Where the types are
    // right, reading goes on, so podproof's own checks (reload annotations,
    // duplicate workloads) add their errors too.
    let issues = crate::validation::object(&doc.value, api, kind);
    diags.extend(issues.0.iter().map(|i| super::docs::issue(src, doc, i)));
    let Some((_, want)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        // Skipped, and said so once per run by the ledger.
        app.ledger.push(crate::fidelity::kind_entry(src, doc, api, kind));
        return;
    };
    if api != *want {
        // Validation said so, unless the version is one a cluster removed.
        if !issues.0.iter().any(|i| i.pointer == "/apiVersion") {
            diags.push(error_at_value(
                src,
                doc,
                "/apiVersion",
                format!("{kind} must have apiVersion `{want}`, found `{api}`"),
            ));
        }
        return;
    }
    let (entries, grace_sites) = crate::fidelity::manifest_entries(src, doc, api, kind);
    app.ledger.extend(entries);
    app.grace_sites.extend(grace_sites);
    let name = doc.value.get("metadata").and_then(|m| m.get("name")).and_then(serde_yaml::Value::as_str);
    let Some(name) = name.filter(|_| issues.types_ok()).map(str::to_string) else { return };
    let result = match kind {
        "Pod" => typed::<core::Pod>(src, doc, "").map(|p| {
            let template = core::PodTemplateSpec { metadata: Some(p.metadata), spec: p.spec };
            role(src, doc, "/metadata", "Pod", &name, 1, Naming::Single(name.clone()), template, Vec::new(), app, diags)
        }),
        "Deployment" => typed::<apps::Deployment>(src, doc, "").map(|d| {
            let spec = d.spec.unwrap_or_default();
            let replicas = replicas(src, doc, spec.replicas, diags);
            role(
                src,
                doc,
                "/spec/template/metadata",
                "Deployment",
                &name,
                replicas,
                Naming::Indexed(name.clone()),
                spec.template,
                Vec::new(),
                app,
                diags,
            )
        }),
        "StatefulSet" => typed::<apps::StatefulSet>(src, doc, "").map(|s| {
            let spec = s.spec.unwrap_or_default();
            let replicas = replicas(src, doc, spec.replicas, diags);
            let claims = spec.volume_claim_templates.unwrap_or_default();
            role(
                src,
                doc,
                "/spec/template/metadata",
                "StatefulSet",
                &name,
                replicas,
                Naming::Indexed(name.clone()),
                spec.template,
                claims,
                app,
                diags,
            )
        }),
        "DaemonSet" => typed::<apps::DaemonSet>(src, doc, "").map(|s| {
            // One machine is one node, so a DaemonSet has one member.
            let spec = s.spec.unwrap_or_default();
            role(
                src,
                doc,
                "/spec/template/metadata",
                "DaemonSet",
                &name,
                1,
                Naming::Indexed(name.clone()),
                spec.template,
                Vec::new(),
                app,
                diags,
            )
        }),
        "Job" => typed::<batch::Job>(src, doc, "").map(|j| {
            let spec = j.spec.unwrap_or_default();
            let n = spec.parallelism.unwrap_or(1).max(1) as u32;
            let mut template = spec.template;
            if let Some(s) = template.spec.as_mut() {
                s.restart_policy.get_or_insert_with(|| "Never".into());
            }
            role(
                src,
                doc,
                "/spec/template/metadata",
                "Job",
                &name,
                n,
                Naming::Indexed(name.clone()),
                template,
                Vec::new(),
                app,
                diags,
            )
        }),
        "ConfigMap" => typed::<core::ConfigMap>(src, doc, "").map(|c| app.config_maps.push(c)),
        "Secret" => typed::<core::Secret>(src, doc, "").map(|mut s| {
            // stringData is write-only sugar for data; fold it in like the API server does.
            if let Some(sd) = s.string_data.take() {
                let data = s.data.get_or_insert_with(Default::default);
                for (k, v) in sd {
                    data.insert(k, ByteString(v.into_bytes()));
                }
            }
            app.secrets.push(s)
        }),
        "PersistentVolumeClaim" => typed::<core::PersistentVolumeClaim>(src, doc, "").map(|c| app.claims.push(c)),
        "Service" => typed::<core::Service>(src, doc, "").map(|s| app.services.push(s)),
        _ => Ok(()),
    };
    if let Err(d) = result {
        diags.push(d);
    }
}

fn replicas(src: &Source, doc: &Doc, r: Option<i32>, diags: &mut Vec<Diagnostic>) -> u32 {
    match r {
        None => 1,
        Some(n) if (0..=super::MAX_MEMBERS as i32).contains(&n) => n as u32,
        // Validation refused it already: the API server's rule.
        Some(n) if n < 0 => 1,
        Some(n) => {
            diags.push(error_at_value(
                src,
                doc,
                "/spec/replicas",
                format!("replicas must be between 0 and {}, found {n}", super::MAX_MEMBERS),
            ));
            1
        }
    }
}

/// A Job's spec as written, without its template (see `Workload::job`).
fn job_spec(doc: &Doc, kind: &str) -> Option<serde_yaml::Value> {
    let mut spec = doc.value.get("spec").filter(|_| kind == "Job")?.as_mapping()?.clone();
    spec.remove("template");
    Some(serde_yaml::Value::Mapping(spec))
}

#[allow(clippy::too_many_arguments)]
fn role(
    src: &Source,
    doc: &Doc,
    meta_ptr: &str,
    kind: &str,
    name: &str,
    members: u32,
    naming: Naming,
    mut template: core::PodTemplateSpec,
    claim_templates: Vec<core::PersistentVolumeClaim>,
    app: &mut App,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(spec) = template.spec.as_mut() {
        crate::validation::defaults::volumes(spec);
    }
    let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    let annotations = meta.annotations.clone().unwrap_or_default();
    let mut policy = None;
    let verify = annotations.get(reload::VERIFY_ANNOTATION).and_then(|v| {
        let ptr = format!("{meta_ptr}/annotations/{}", crate::yaml::escape(reload::VERIFY_ANNOTATION));
        reload::parse_verify(v).map_err(|e| diags.push(error_at_value(src, doc, &ptr, e))).ok()
    });
    if let Some(v) = annotations.get(reload::ANNOTATION) {
        let ptr = format!("{meta_ptr}/annotations/{}", crate::yaml::escape(reload::ANNOTATION));
        match reload::parse(v) {
            Ok(action) => {
                policy = Some(reload::Policy {
                    action,
                    container: annotations.get(reload::CONTAINER_ANNOTATION).cloned(),
                    verify: verify.clone(),
                })
            }
            Err(e) => diags.push(error_at_value(src, doc, &ptr, e)),
        }
    } else if verify.is_some() {
        // A check alone declares how to see the effect of a change the app picks up itself.
        policy = Some(reload::Policy {
            action: reload::Action::Watch,
            container: annotations.get(reload::CONTAINER_ANNOTATION).cloned(),
            verify,
        });
    }
    if let (Some(p), Some(spec)) = (&policy, &template.spec) {
        if let Some(c) = &p.container {
            if !spec.containers.iter().any(|k| &k.name == c) {
                let ptr = format!("{meta_ptr}/annotations/{}", crate::yaml::escape(reload::CONTAINER_ANNOTATION));
                diags.push(error_at_value(src, doc, &ptr, format!("no container named `{c}` in {kind} `{name}`")));
            }
        }
    }
    if app.roles.iter().any(|r| r.name == name) {
        diags.push(error_at_value(src, doc, "/metadata/name", format!("a workload named `{name}` is defined twice")));
        return;
    }
    let origin = doc.pos("/kind");
    // A controller makes its pods in its own namespace, which the downward
    // API's metadata.namespace then reads.
    let namespace =
        doc.value.get("metadata").and_then(|m| m.get("namespace")).and_then(|n| n.as_str()).map(str::to_string);
    app.roles.push(Role {
        name: name.to_string(),
        workload: Some(Workload {
            kind: kind.to_string(),
            name: name.to_string(),
            namespace,
            job: job_spec(doc, kind),
            ordered: kind == "StatefulSet"
                && doc.value.get("spec").and_then(|s| s.get("podManagementPolicy")).and_then(|p| p.as_str())
                    != Some("Parallel"),
            service_name: (kind == "StatefulSet")
                .then(|| doc.value.get("spec")?.get("serviceName")?.as_str().map(str::to_string))
                .flatten(),
        }),
        members,
        naming,
        template,
        claim_templates,
        config_package: None,
        event_list: None,
        reload: policy,
        cardinality: None,
        origin: Some(super::Origin { file: src.name.clone(), line: origin.line, column: origin.column }),
    });
}
