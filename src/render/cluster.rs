//! The cluster flavour: what promotion ships to a real cluster.
//!
//! Each role becomes a StatefulSet when its members need a stable identity
//! (several members, KubeDirector roles, per-member claims) and a Deployment
//! otherwise; probes and hooks stay as written. KubeDirector apps are shipped
//! as their original custom resources.

use super::{label_meta, Object, Options, Rendered, SECRET_MASK};
use crate::app::{App, Form, Naming, Role};
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::ByteString;
use std::collections::BTreeMap;

pub fn render(app: &App, opts: &Options) -> Rendered {
    let mut out = Rendered { app: app.name.clone(), objects: Vec::new(), projections: Vec::new(), host_dirs: Vec::new(), diagnostics: Vec::new() };
    if let (Form::KubeDirector, Some(kd)) = (app.form, &app.kubedirector) {
        out.objects.push(Object::Raw(kd.app_doc.clone()));
        let mut cluster = kd.cluster_doc.clone();
        // Ship the member counts of the state that was tested.
        if let Some(roles) = cluster.get_mut("spec").and_then(|s| s.get_mut("roles")).and_then(|r| r.as_sequence_mut()) {
            for r in roles {
                let id = r.get("id").and_then(|i| i.as_str()).unwrap_or("").to_string();
                if let (Some(role), Some(m)) = (app.role(&id), r.as_mapping_mut()) {
                    m.insert("members".into(), serde_yaml::Value::from(role.members));
                }
            }
        }
        out.objects.push(Object::Raw(cluster));
        return out;
    }
    for cm in &app.config_maps {
        let mut c = cm.clone();
        label_meta(&mut c.metadata, &app.name, None);
        out.objects.push(Object::ConfigMap(c));
    }
    for s in &app.secrets {
        let mut s = s.clone();
        label_meta(&mut s.metadata, &app.name, None);
        if !opts.reveal_secrets {
            for v in s.data.iter_mut().flat_map(|d| d.values_mut()) {
                *v = ByteString(SECRET_MASK.as_bytes().to_vec());
            }
        }
        out.objects.push(Object::Secret(s));
    }
    for c in &app.claims {
        let mut c = c.clone();
        label_meta(&mut c.metadata, &app.name, None);
        out.objects.push(Object::Claim(c));
    }
    for s in &app.services {
        let mut s = s.clone();
        label_meta(&mut s.metadata, &app.name, None);
        out.objects.push(Object::Service(s));
    }
    for role in &app.roles {
        out.objects.push(workload(app, role));
    }
    out
}

/// Whether a role's members need stable names and storage.
pub fn needs_identity(app: &App, role: &Role) -> bool {
    role.members > 1 || app.form == Form::KubeDirector || !role.claim_templates.is_empty() || role.workload.as_ref().map(|w| w.kind == "StatefulSet").unwrap_or(false)
}

fn workload(app: &App, role: &Role) -> Object {
    let name = match &role.naming {
        Naming::Single(n) => n.clone(),
        Naming::Indexed(p) => p.clone(),
    };
    let mut template = role.template.clone();
    let tmeta = template.metadata.get_or_insert_with(ObjectMeta::default);
    let labels = tmeta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(super::LABEL_APP.into(), app.name.clone());
    labels.insert(super::LABEL_ROLE.into(), crate::app::dns_label(&role.name));
    let selector = LabelSelector {
        match_labels: Some(
            [(super::LABEL_APP.to_string(), app.name.clone()), (super::LABEL_ROLE.to_string(), crate::app::dns_label(&role.name))]
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    };
    let mut meta = ObjectMeta { name: Some(name.clone()), ..Default::default() };
    label_meta(&mut meta, &app.name, None);
    if needs_identity(app, role) {
        Object::StatefulSet(Box::new(apps::StatefulSet {
            metadata: meta,
            spec: Some(apps::StatefulSetSpec {
                replicas: Some(role.members as i32),
                service_name: Some(name),
                selector,
                template,
                volume_claim_templates: (!role.claim_templates.is_empty()).then(|| role.claim_templates.clone()),
                ..Default::default()
            }),
            status: None,
        }))
    } else {
        Object::Deployment(Box::new(apps::Deployment {
            metadata: meta,
            spec: Some(apps::DeploymentSpec { replicas: Some(role.members as i32), selector, template, ..Default::default() }),
            status: None,
        }))
    }
}
