//! One shape for every pod, whatever form wrote it.
//!
//! Checks read a Kubernetes-shaped pod spec. For manifests that is the
//! document's own spec; an App role or a KubeDirector role is rewritten into
//! that shape, and `PtrMap` maps pointers in the rewritten spec back to where
//! the user wrote each field, so findings keep their real line and column.
//! Lint's rules and the fidelity ledger (which loading fills) read pods
//! through it, so it sits below both.

use crate::yaml::{escape, Doc};
use serde_yaml::{Mapping, Value};
use std::borrow::Cow;

/// KubeDirector names the app container of every member pod `app`
/// (`app::kubedirector::CONTAINER`).
pub const KD_CONTAINER: &str = "app";

/// Which form a pod came from; some checks do not apply to every form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Manifest,
    App,
    KubeDirector,
}

/// Maps pointers relative to a view to document pointers.
#[derive(Debug, Clone, Default)]
pub struct PtrMap {
    base: String,
    /// (view prefix, document pointer), longest prefix first.
    overrides: Vec<(String, String)>,
}

impl PtrMap {
    fn new(base: &str, mut overrides: Vec<(String, String)>) -> PtrMap {
        overrides.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        PtrMap { base: base.to_string(), overrides }
    }

    pub fn ptr(&self, rel: &str) -> String {
        for (prefix, to) in &self.overrides {
            if let Some(rest) = rel.strip_prefix(prefix.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return format!("{to}{rest}");
                }
            }
        }
        format!("{}{rel}", self.base)
    }
}

pub struct PodView<'a> {
    pub form: Form,
    pub kind: &'a str,
    pub name: String,
    /// A Kubernetes PodSpec.
    pub spec: Cow<'a, Value>,
    pub map: PtrMap,
    /// The pod (template) metadata and its document pointer, for manifests.
    pub meta: Option<(&'a Value, String)>,
    /// The replica count and its pointer, for workloads that have one.
    pub replicas: Option<(i64, String)>,
}

impl PodView<'_> {
    pub fn ptr(&self, rel: &str) -> String {
        self.map.ptr(rel)
    }

    /// Init containers then containers, each with its view pointer.
    pub fn containers(&self) -> impl Iterator<Item = (String, &Value, bool)> {
        let list = |key: &'static str| {
            self.spec
                .get(key)
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .enumerate()
                .map(move |(i, c)| (format!("/{key}/{i}"), c, key == "initContainers"))
        };
        list("initContainers").chain(list("containers"))
    }

    pub fn labels(&self) -> Option<&Mapping> {
        self.meta.as_ref().and_then(|(m, _)| m.get("labels")).and_then(Value::as_mapping)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.meta.as_ref().and_then(|(m, _)| m.get("annotations")).and_then(|a| a.get(key)).and_then(Value::as_str)
    }
}

/// Where the pod template of a manifest kind lives.
fn template_ptr(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some(""),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => {
            Some("/spec/template")
        }
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

pub fn manifest_pod<'a>(doc: &'a Doc, _api: &str, kind: &'a str) -> Option<PodView<'a>> {
    let t = template_ptr(kind)?;
    let spec = crate::yaml::lookup(&doc.value, &format!("{t}/spec")).filter(|v| v.is_mapping())?;
    let meta_ptr = format!("{t}/metadata");
    let meta = crate::yaml::lookup(&doc.value, &meta_ptr).map(|m| (m, meta_ptr));
    let replicas = match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController" => {
            Some((crate::yaml::int(doc.value.get("spec")?, "replicas").unwrap_or(1), "/spec/replicas".to_string()))
        }
        _ => None,
    };
    let name = doc.value.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("?").to_string();
    Some(PodView {
        form: Form::Manifest,
        kind,
        name,
        spec: Cow::Borrowed(spec),
        map: PtrMap::new(&format!("{t}/spec"), Vec::new()),
        meta,
        replicas,
    })
}

/// The pods of an App: each role's main container (from the role's own
/// fields), its sidecars and init containers.
pub fn app_pods(doc: &Doc) -> Vec<PodView<'_>> {
    let roles = doc.value.get("spec").and_then(|s| s.get("roles")).and_then(Value::as_sequence);
    let mut out = Vec::new();
    for (i, role) in roles.into_iter().flatten().enumerate() {
        let Some(r) = role.as_mapping() else { continue };
        let rp = format!("/spec/roles/{i}");
        let mut main = Mapping::new();
        let mut overrides = vec![
            ("/containers/0".to_string(), rp.clone()),
            ("/containers/0/lifecycle".to_string(), format!("{rp}/hooks")),
            ("/initContainers".to_string(), format!("{rp}/initContainers")),
        ];
        for (k, v) in r {
            match k.as_str().unwrap_or_default() {
                f @ ("name" | "image" | "imagePullPolicy" | "command" | "args" | "workingDir" | "resources"
                | "readinessProbe" | "livenessProbe" | "startupProbe" | "securityContext") => {
                    main.insert(f.into(), v.clone());
                }
                "hooks" => {
                    main.insert("lifecycle".into(), v.clone());
                }
                "env" => {
                    let env: Vec<Value> = v
                        .as_mapping()
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(j, (name, value))| {
                            let n = name.as_str().unwrap_or_default();
                            overrides.push((format!("/containers/0/env/{j}"), format!("{rp}/env/{}", escape(n))));
                            let mut e = Mapping::new();
                            e.insert("name".into(), name.clone());
                            e.insert("value".into(), value.clone());
                            Value::Mapping(e)
                        })
                        .collect();
                    main.insert("env".into(), Value::Sequence(env));
                }
                "ports" => {
                    let ports: Vec<Value> = v
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(j, p)| {
                            overrides.push((
                                format!("/containers/0/ports/{j}/containerPort"),
                                format!("{rp}/ports/{j}/port"),
                            ));
                            let mut m = p.as_mapping().cloned().unwrap_or_default();
                            if let Some(port) = m.remove("port") {
                                m.insert("containerPort".into(), port);
                            }
                            Value::Mapping(m)
                        })
                        .collect();
                    main.insert("ports".into(), Value::Sequence(ports));
                }
                _ => {}
            }
        }
        let mut containers = vec![Value::Mapping(main)];
        for (j, s) in role.get("sidecars").and_then(Value::as_sequence).into_iter().flatten().enumerate() {
            overrides.push((format!("/containers/{}", j + 1), format!("{rp}/sidecars/{j}")));
            containers.push(s.clone());
        }
        let mut spec = Mapping::new();
        spec.insert("containers".into(), Value::Sequence(containers));
        for f in ["initContainers", "restartPolicy", "terminationGracePeriodSeconds"] {
            if let Some(v) = role.get(f) {
                spec.insert(f.into(), v.clone());
            }
        }
        let members = crate::yaml::int(role, "members").unwrap_or(1);
        let name = role.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
        out.push(PodView {
            form: Form::App,
            kind: "App role",
            name,
            spec: Cow::Owned(Value::Mapping(spec)),
            map: PtrMap::new(&rp, overrides),
            meta: None,
            replicas: Some((members, format!("{rp}/members"))),
        });
    }
    out
}

/// The pods of a KubeDirectorCluster: one `app` container per role, with the
/// role's resources and env (the image is the KubeDirectorApp's business).
pub fn kd_pods(doc: &Doc) -> Vec<PodView<'_>> {
    if doc.value.get("kind").and_then(Value::as_str) != Some("KubeDirectorCluster") {
        return Vec::new();
    }
    let roles = doc.value.get("spec").and_then(|s| s.get("roles")).and_then(Value::as_sequence);
    roles
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, role)| {
            let rp = format!("/spec/roles/{i}");
            let mut c = Mapping::new();
            c.insert("name".into(), KD_CONTAINER.into());
            for f in ["resources", "env"] {
                if let Some(v) = role.get(f) {
                    c.insert(f.into(), v.clone());
                }
            }
            let mut spec = Mapping::new();
            spec.insert("containers".into(), Value::Sequence(vec![Value::Mapping(c)]));
            let name = role.get("id").and_then(Value::as_str)?.to_string();
            Some(PodView {
                form: Form::KubeDirector,
                kind: "KubeDirector role",
                name,
                spec: Cow::Owned(Value::Mapping(spec)),
                map: PtrMap::new(&rp, vec![("/containers/0".into(), rp.clone())]),
                meta: None,
                replicas: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_pointers_map_back_to_the_role() {
        let doc = &crate::yaml::parse_stream("kind: App\nspec:\n  roles:\n    - name: web\n      env: {A: b}\n      ports: [{port: 80}]\n      sidecars: [{name: s}]\n").unwrap()[0];
        let pods = app_pods(doc);
        let check = |rel: &str, expect: &str| assert_eq!(pods[0].ptr(rel), expect, "{rel}");
        check("/containers/0/env/0/value", "/spec/roles/0/env/A/value");
        check("/containers/0/ports/0/containerPort", "/spec/roles/0/ports/0/port");
        check("/containers/0/lifecycle/postStart", "/spec/roles/0/hooks/postStart");
        check("/containers/0/image", "/spec/roles/0/image");
        check("/containers/1/image", "/spec/roles/0/sidecars/0/image");
        check("/restartPolicy", "/spec/roles/0/restartPolicy");
        assert_eq!(doc.pos(&pods[0].ptr("/containers/0/env/0/value")).line, 5);
    }
}
