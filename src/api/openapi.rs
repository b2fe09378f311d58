//! OpenAPI v3 (`/openapi/v3` and one document per group version), as
//! kubectl 1.34 and helm v4 read it: the PATCH operations say they take
//! `fieldValidation`, so the clients leave validation to the server (kubectl's
//! QueryParamVerifierV3), and the component schemas (from k8s-openapi's
//! types, with the `x-kubernetes-group-version-kind` of each kind and the
//! patch strategies of `merge_keys`) serve `kubectl explain`. A CRD's group
//! version gets its openAPIV3Schema. OpenAPI v2 is served only as protobuf
//! upstream, which podproof does not speak: `/openapi/v2` answers 404, and
//! kubectl then relies on v3.

use super::errors::{ApiError, ApiResult};
use super::http::{self, Body, Output, Query};
use super::resources::Resource;
use super::store::Store;
use hyper::Response;
use serde_json::{json, Map, Value};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub fn serve(store: &Store, rest: &[&str], _q: &Query) -> ApiResult<Response<Body>> {
    let reg = store.registry();
    match rest {
        ["v3"] => {
            let mut paths = Map::new();
            for (g, versions) in reg.groups() {
                for v in versions {
                    let key = if g.is_empty() { format!("api/{v}") } else { format!("apis/{g}/{v}") };
                    let doc = document(&reg, &g, &v);
                    paths.insert(
                        key.clone(),
                        json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(&doc))}),
                    );
                }
            }
            Ok(http::respond(200, &json!({"paths": paths}), Output::Json, &[]))
        }
        ["v3", "api", v] => Ok(cached(http::respond(200, &document(&reg, "", v), Output::Json, &[]))),
        ["v3", "apis", g, v] if reg.all().iter().any(|r| r.group == *g && r.version == *v) => {
            Ok(cached(http::respond(200, &document(&reg, g, v), Output::Json, &[])))
        }
        _ => Err(ApiError::no_route()),
    }
}

/// A document fetched by its hash never changes (the API server says so too).
fn cached(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut().insert("Cache-Control", hyper::header::HeaderValue::from_static("public, immutable"));
    r
}

fn hash(doc: &Value) -> String {
    let d = sha2::Sha512::digest(doc.to_string().as_bytes());
    d.iter().map(|b| format!("{b:02X}")).collect()
}

/// The documents of the built-in group versions, made once.
fn builtin_docs() -> &'static Mutex<HashMap<String, Value>> {
    static DOCS: OnceLock<Mutex<HashMap<String, Value>>> = OnceLock::new();
    DOCS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn document(reg: &super::resources::Registry, group: &str, version: &str) -> Value {
    let resources: Vec<&Resource> =
        reg.all().iter().map(|r| r.as_ref()).filter(|r| r.group == group && r.version == version).collect();
    let builtin = resources.iter().all(|r| r.builtin);
    let key = format!("{group}/{version}");
    if builtin {
        if let Some(d) = builtin_docs().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return d.clone();
        }
    }
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for r in &resources {
        let def = if r.builtin { builtin_schema(r, &mut schemas) } else { custom_schema(r, &mut schemas) };
        if let Some(def) = def {
            resource_paths(r, &def, &mut paths);
        }
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    });
    if builtin {
        builtin_docs().lock().unwrap_or_else(|p| p.into_inner()).insert(key, doc.clone());
    }
    doc
}

/// The component schemas of a built-in kind (and everything it refers to);
/// returns the kind's definition name.
fn builtin_schema(r: &Resource, schemas: &mut Map<String, Value>) -> Option<String> {
    use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
        core::v1 as core, discovery::v1 as discovery, events::v1 as events, networking::v1 as networking,
        policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    macro_rules! dispatch {
        ($($g:literal $k:literal => $t:ty,)*) => {
            match (r.group.as_str(), r.kind.as_str()) {
                $(($g, $k) => { generator.subschema_for::<$t>(); <$t as schemars::JsonSchema>::schema_name().to_string() })*
                _ => return None,
            }
        };
    }
    let name = dispatch! {
        "" "Pod" => core::Pod, "" "Service" => core::Service, "" "Endpoints" => core::Endpoints, "" "ConfigMap" => core::ConfigMap,
        "" "Secret" => core::Secret, "" "Namespace" => core::Namespace, "" "Node" => core::Node, "" "ServiceAccount" => core::ServiceAccount,
        "" "Event" => core::Event, "" "PersistentVolumeClaim" => core::PersistentVolumeClaim, "" "PersistentVolume" => core::PersistentVolume,
        "" "ReplicationController" => core::ReplicationController, "" "LimitRange" => core::LimitRange, "" "ResourceQuota" => core::ResourceQuota,
        "" "PodTemplate" => core::PodTemplate,
        "apps" "Deployment" => apps::Deployment, "apps" "ReplicaSet" => apps::ReplicaSet, "apps" "StatefulSet" => apps::StatefulSet,
        "apps" "DaemonSet" => apps::DaemonSet, "apps" "ControllerRevision" => apps::ControllerRevision,
        "batch" "Job" => batch::Job, "batch" "CronJob" => batch::CronJob,
        "discovery.k8s.io" "EndpointSlice" => discovery::EndpointSlice, "events.k8s.io" "Event" => events::Event,
        "policy" "PodDisruptionBudget" => policy::PodDisruptionBudget, "autoscaling" "HorizontalPodAutoscaler" => autoscaling::HorizontalPodAutoscaler,
        "networking.k8s.io" "Ingress" => networking::Ingress, "networking.k8s.io" "NetworkPolicy" => networking::NetworkPolicy,
        "networking.k8s.io" "IngressClass" => networking::IngressClass,
        "rbac.authorization.k8s.io" "Role" => rbac::Role, "rbac.authorization.k8s.io" "RoleBinding" => rbac::RoleBinding,
        "rbac.authorization.k8s.io" "ClusterRole" => rbac::ClusterRole, "rbac.authorization.k8s.io" "ClusterRoleBinding" => rbac::ClusterRoleBinding,
        "storage.k8s.io" "StorageClass" => storage::StorageClass, "scheduling.k8s.io" "PriorityClass" => scheduling::PriorityClass,
        "coordination.k8s.io" "Lease" => coordination::Lease,
        "apiextensions.k8s.io" "CustomResourceDefinition" => apiext::CustomResourceDefinition,
    };
    for (k, mut v) in generator.take_definitions(true) {
        patch_extensions(&k, &mut v);
        schemas.entry(k).or_insert(v);
    }
    if let Some(def) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
        def.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": r.group, "version": r.version, "kind": r.kind}]),
        );
    }
    Some(name)
}

/// The definition names of the types in `merge_keys`.
fn definition_of(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "ObjectMeta" => "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "PodTemplateSpec" => "io.k8s.api.core.v1.PodTemplateSpec",
        "PodSpec" => "io.k8s.api.core.v1.PodSpec",
        "Container" => "io.k8s.api.core.v1.Container",
        "PodStatus" => "io.k8s.api.core.v1.PodStatus",
        "DeploymentSpec" => "io.k8s.api.apps.v1.DeploymentSpec",
        "DeploymentStatus" => "io.k8s.api.apps.v1.DeploymentStatus",
        "ReplicaSetStatus" => "io.k8s.api.apps.v1.ReplicaSetStatus",
        "StatefulSetStatus" => "io.k8s.api.apps.v1.StatefulSetStatus",
        "DaemonSetStatus" => "io.k8s.api.apps.v1.DaemonSetStatus",
        "ReplicationControllerStatus" => "io.k8s.api.core.v1.ReplicationControllerStatus",
        "JobStatus" => "io.k8s.api.batch.v1.JobStatus",
        "ServiceSpec" => "io.k8s.api.core.v1.ServiceSpec",
        "ServiceStatus" => "io.k8s.api.core.v1.ServiceStatus",
        "NodeSpec" => "io.k8s.api.core.v1.NodeSpec",
        "NodeStatus" => "io.k8s.api.core.v1.NodeStatus",
        "NamespaceStatus" => "io.k8s.api.core.v1.NamespaceStatus",
        "PersistentVolumeClaimStatus" => "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "PodDisruptionBudgetStatus" => "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "HorizontalPodAutoscalerStatus" => "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        _ => return None,
    })
}

/// Adds `x-kubernetes-patch-merge-key` and `x-kubernetes-patch-strategy` to
/// the properties `merge_keys` knows.
fn patch_extensions(def_name: &str, def: &mut Value) {
    let types: Vec<&str> = [
        "ObjectMeta",
        "PodSpec",
        "Container",
        "PodStatus",
        "DeploymentSpec",
        "DeploymentStatus",
        "ReplicaSetStatus",
        "StatefulSetStatus",
        "DaemonSetStatus",
        "ReplicationControllerStatus",
        "JobStatus",
        "ServiceSpec",
        "ServiceStatus",
        "NodeSpec",
        "NodeStatus",
        "NamespaceStatus",
        "PersistentVolumeClaimStatus",
        "PodDisruptionBudgetStatus",
        "HorizontalPodAutoscalerStatus",
    ]
    .into_iter()
    .filter(|t| definition_of(t) == Some(def_name))
    .collect();
    // Container and EphemeralContainer share the item fields.
    let types = if def_name == "io.k8s.api.core.v1.EphemeralContainer" { vec!["Container"] } else { types };
    for ty in types {
        let Some(props) = def.get_mut("properties").and_then(Value::as_object_mut) else { return };
        for (name, p) in props.iter_mut() {
            let (_, kind, retain) = super::merge_keys::field(ty, name);
            let Some(p) = p.as_object_mut() else { continue };
            match kind {
                super::merge_keys::ListKind::Map(key) => {
                    p.insert("x-kubernetes-patch-merge-key".into(), json!(key));
                    p.insert(
                        "x-kubernetes-patch-strategy".into(),
                        json!(if retain { "merge,retainKeys" } else { "merge" }),
                    );
                }
                super::merge_keys::ListKind::Set => {
                    p.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                }
                super::merge_keys::ListKind::Atomic if retain => {
                    p.insert("x-kubernetes-patch-strategy".into(), json!("retainKeys"));
                }
                _ => {}
            }
        }
    }
}

/// A custom resource's schema, from its CRD.
fn custom_schema(r: &Resource, schemas: &mut Map<String, Value>) -> Option<String> {
    let group_rev: Vec<&str> = r.group.split('.').rev().collect();
    let name = format!("{}.{}.{}", group_rev.join("."), r.version, r.kind);
    let mut schema =
        r.schema.clone().unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": r.group, "version": r.version, "kind": r.kind}]),
        );
    }
    schemas.insert(name.clone(), schema);
    Some(name)
}

/// The paths of a resource, with the operations that say which kind they
/// serve (`x-kubernetes-group-version-kind`) and the query parameters.
fn resource_paths(r: &Resource, def: &str, paths: &mut Map<String, Value>) {
    let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let schema_ref = json!({"$ref": format!("#/components/schemas/{def}")});
    let param = |n: &str| json!({"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let write_params = || vec![param("dryRun"), param("fieldManager"), param("fieldValidation"), param("pretty")];
    let body = || json!({"content": {"application/json": {"schema": schema_ref.clone()}}, "required": true});
    let ok = || json!({"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref.clone()}}}});
    let op = |action: &str, params: Vec<Value>, with_body: bool| {
        let mut o = json!({
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": action,
            "operationId": format!("{action}{}", r.kind),
            "parameters": params,
            "responses": ok(),
        });
        if with_body {
            o["requestBody"] = body();
        }
        o
    };
    let mut patch_params = write_params();
    patch_params.push(param("force"));
    let patch = {
        let mut p = op("patch", patch_params, false);
        p["requestBody"] = json!({"content": {
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}},
            "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
            "application/apply-patch+yaml": {"schema": {"type": "object"}}
        }, "required": true});
        p
    };
    let list_params = || {
        [
            "allowWatchBookmarks",
            "continue",
            "fieldSelector",
            "labelSelector",
            "limit",
            "resourceVersion",
            "resourceVersionMatch",
            "sendInitialEvents",
            "timeoutSeconds",
            "watch",
        ]
        .iter()
        .map(|n| param(n))
        .collect::<Vec<_>>()
    };
    let (collection, item) = if r.namespaced {
        (r.path(Some("{namespace}")), format!("{}/{{name}}", r.path(Some("{namespace}"))))
    } else {
        (r.path(None), format!("{}/{{name}}", r.path(None)))
    };
    paths.insert(collection, json!({"get": op("list", list_params(), false), "post": op("post", write_params(), true), "delete": op("deletecollection", list_params(), false)}));
    paths.insert(item.clone(), json!({"get": op("get", vec![], false), "put": op("put", write_params(), true), "patch": patch.clone(), "delete": op("delete", vec![param("dryRun"), param("gracePeriodSeconds"), param("propagationPolicy")], false)}));
    if r.status {
        paths.insert(
            format!("{item}/status"),
            json!({"get": op("get", vec![], false), "put": op("put", write_params(), true), "patch": patch}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_version_documents_say_patch_takes_field_validation() {
        let reg = super::super::resources::Registry::default();
        let doc = document(&reg, "apps", "v1");
        let p = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(p["parameters"].as_array().unwrap().iter().any(|x| x["name"] == "fieldValidation"));
        let d = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(d["x-kubernetes-group-version-kind"][0]["kind"], "Deployment");
        let containers = &doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    }
}
