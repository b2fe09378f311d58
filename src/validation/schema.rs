//! Strict validation against the API schemas: Kubernetes (through the
//! k8s-openapi types), podproof's App (whose types deny unknown fields) and
//! KubeDirector v1beta1 (a field table below).
//!
//! Wrong types come from deserializing the document into its type: after each
//! error the offending field is removed and deserialization runs again, so
//! every wrong field is reported, not just the first. Unknown fields come from
//! a round trip: k8s-openapi ignores fields it does not know, so a key of the
//! input that is missing from the re-serialized value is unknown.

use super::messages::humanize;
use super::{Issues, Problem::Invalid, Problem::UnknownField};
use crate::yaml::escape;
use crate::yaml::type_name;
use k8s_openapi::api::{apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, core::v1 as core};
use k8s_openapi::api::{
    networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling,
    storage::v1 as storage,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_yaml::Value;
use std::borrow::Cow;

/// How many wrong fields one document reports before giving up.
const MAX_ERRORS: usize = 20;

/// The API version each known kind must have.
pub const KNOWN: &[(&str, &str)] = &[
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "PersistentVolume"),
    ("v1", "ServiceAccount"),
    ("v1", "Namespace"),
    ("v1", "ReplicationController"),
    ("v1", "LimitRange"),
    ("v1", "ResourceQuota"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
];

/// Types and unknown fields of a Kubernetes object of a kind in `KNOWN`;
/// other kinds (custom resources) have no schema here.
pub fn k8s(out: &mut Issues, v: &Value, api: &str, kind: &str) {
    macro_rules! dispatch {
        ($($a:literal $k:literal => $t:ty,)*) => {
            match (api, kind) {
                $(($a, $k) => strict::<$t>(out, "", v),)*
                _ => {}
            }
        };
    }
    dispatch! {
        "v1" "Pod" => core::Pod, "v1" "Service" => core::Service, "v1" "ConfigMap" => core::ConfigMap, "v1" "Secret" => core::Secret,
        "v1" "PersistentVolumeClaim" => core::PersistentVolumeClaim, "v1" "PersistentVolume" => core::PersistentVolume,
        "v1" "ServiceAccount" => core::ServiceAccount, "v1" "Namespace" => core::Namespace,
        "v1" "ReplicationController" => core::ReplicationController, "v1" "LimitRange" => core::LimitRange, "v1" "ResourceQuota" => core::ResourceQuota,
        "apps/v1" "Deployment" => apps::Deployment, "apps/v1" "StatefulSet" => apps::StatefulSet, "apps/v1" "DaemonSet" => apps::DaemonSet,
        "apps/v1" "ReplicaSet" => apps::ReplicaSet, "batch/v1" "Job" => batch::Job, "batch/v1" "CronJob" => batch::CronJob,
        "networking.k8s.io/v1" "Ingress" => networking::Ingress, "networking.k8s.io/v1" "NetworkPolicy" => networking::NetworkPolicy,
        "policy/v1" "PodDisruptionBudget" => policy::PodDisruptionBudget, "autoscaling/v2" "HorizontalPodAutoscaler" => autoscaling::HorizontalPodAutoscaler,
        "rbac.authorization.k8s.io/v1" "Role" => rbac::Role, "rbac.authorization.k8s.io/v1" "ClusterRole" => rbac::ClusterRole,
        "rbac.authorization.k8s.io/v1" "RoleBinding" => rbac::RoleBinding, "rbac.authorization.k8s.io/v1" "ClusterRoleBinding" => rbac::ClusterRoleBinding,
        "storage.k8s.io/v1" "StorageClass" => storage::StorageClass, "scheduling.k8s.io/v1" "PriorityClass" => scheduling::PriorityClass,
    }
}

/// Deserializes `value` (at `root`) into `T`, reporting every type error, and
/// returns the value (with the wrong fields removed) and its typed form.
fn typed<'v, T: DeserializeOwned>(out: &mut Issues, root: &str, value: &'v Value) -> Option<(T, Cow<'v, Value>)> {
    // Most documents are valid: deserialize without tracking paths first.
    if let Ok(t) = T::deserialize(value) {
        return Some((t, Cow::Borrowed(value)));
    }
    let mut v = Cow::Borrowed(value);
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..MAX_ERRORS {
        let err = match serde_path_to_error::deserialize::<_, T>(&*v) {
            Ok(t) => return Some((t, v)),
            Err(e) => e,
        };
        let mut rel = String::new();
        for seg in err.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => rel.push_str(&format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => rel.push_str(&format!("/{}", escape(key))),
                _ => {}
            }
        }
        let inner = err.inner().to_string();
        let inner = inner.split(" at line ").next().unwrap_or(&inner).to_string();
        let ptr = format!("{root}{rel}");
        // A field whose child was already removed fails because of that removal.
        let consequence = removed.iter().any(|r| r == &ptr || r.starts_with(&format!("{ptr}/")));
        if !consequence {
            if inner.starts_with("unknown field") {
                let parent = ptr.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                out.key(UnknownField, &ptr, at(parent, &unknown_message(&inner)));
            } else {
                out.wrong_type();
                let msg = humanize(&inner);
                // A message about a Secret's field names the key, never the value.
                let msg = if crate::redact::in_secret(value, &rel) { crate::redact::value_free(&msg) } else { msg };
                out.value(Invalid, &ptr, at(&ptr, &msg));
            }
        }
        if !remove(v.to_mut(), &rel) {
            return None;
        }
        removed.push(ptr);
    }
    None
}

/// Types and unknown fields of a Kubernetes object (or part of one) at `root`.
fn strict<T: DeserializeOwned + Serialize>(out: &mut Issues, root: &str, value: &Value) {
    if let Some((t, v)) = typed::<T>(out, root, value) {
        if let Ok(json) = serde_json::to_value(&t) {
            unknown(out, &mut root.to_string(), &v, &json);
        }
    }
}

/// Reports keys of `input` that the round trip dropped. `ptr` is one buffer
/// grown and truncated along the walk: this runs on every node of every file.
fn unknown(out: &mut Issues, ptr: &mut String, input: &Value, output: &serde_json::Value) {
    let len = ptr.len();
    match (input, output) {
        (Value::Mapping(m), serde_json::Value::Object(o)) => {
            for (k, v) in m {
                let (Some(key), false) = (k.as_str(), v.is_null()) else { continue };
                ptr.push('/');
                ptr.push_str(&escape(key));
                match o.get(key) {
                    Some(ov) => unknown(out, ptr, v, ov),
                    None => {
                        let msg = at(&ptr[..len], &format!("unknown field `{key}`"));
                        out.key(UnknownField, ptr, msg);
                    }
                }
                ptr.truncate(len);
            }
        }
        (Value::Sequence(s), serde_json::Value::Array(a)) => {
            for (i, (v, ov)) in s.iter().zip(a).enumerate() {
                use std::fmt::Write;
                let _ = write!(ptr, "/{i}");
                unknown(out, ptr, v, ov);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}

/// Removes the node at `rel`. An item of a sequence cannot go without shifting
/// its siblings' pointers, so the whole sequence goes instead.
fn remove(v: &mut Value, rel: &str) -> bool {
    let Some((parent, last)) = rel.rsplit_once('/') else { return false };
    let Some(Value::Mapping(m)) = lookup_mut(v, parent) else { return remove(v, parent) };
    m.remove(last.replace("~1", "/").replace("~0", "~").as_str()).is_some() || remove(v, parent)
}

fn lookup_mut<'a>(v: &'a mut Value, ptr: &str) -> Option<&'a mut Value> {
    let mut cur = v;
    for seg in ptr.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Mapping(m) => m.get_mut(seg.as_str())?,
            Value::Sequence(s) => s.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// serde's unknown-field message with a near miss suggested; without one, the
/// list of every field is noise.
fn unknown_message(serde: &str) -> String {
    let msg = humanize(serde);
    msg.split(", expected").next().unwrap_or(&msg).to_string()
}

/// Prefixes a message with the dotted path of `ptr` (`spec.containers[0]`).
pub(super) fn at(ptr: &str, msg: &str) -> String {
    let mut out = String::new();
    for seg in ptr.split('/').skip(1) {
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    if out.is_empty() {
        msg.to_string()
    } else {
        format!("`{out}`: {msg}")
    }
}

/// An App: its own types (`D`, the model's `app::podproof::AppDoc`, which
/// lives above validation) deny unknown fields; the Kubernetes parts inside a
/// role are checked like any Kubernetes object.
pub fn app<D: DeserializeOwned>(out: &mut Issues, value: &Value) {
    typed::<D>(out, "", value);
    for (i, role) in
        value.get("spec").and_then(|s| s.get("roles")).and_then(Value::as_sequence).into_iter().flatten().enumerate()
    {
        for (field, v) in role.as_mapping().into_iter().flatten() {
            let ptr = format!("/spec/roles/{i}/{}", escape(field.as_str().unwrap_or_default()));
            match field.as_str().unwrap_or_default() {
                "resources" => strict::<core::ResourceRequirements>(out, &ptr, v),
                "readinessProbe" | "livenessProbe" | "startupProbe" => strict::<core::Probe>(out, &ptr, v),
                "hooks" => strict::<core::Lifecycle>(out, &ptr, v),
                "securityContext" => strict::<core::SecurityContext>(out, &ptr, v),
                "initContainers" | "sidecars" => strict::<Vec<core::Container>>(out, &ptr, v),
                _ => {}
            }
        }
    }
}

/// The shape of a KubeDirector document; a leading `!` marks a required field.
#[derive(Clone, Copy)]
enum Shape {
    Str,
    Int,
    Bool,
    Any,
    Obj(&'static [(&'static str, Shape)]),
    List(&'static Shape),
    Map(&'static Shape),
    K8s(fn(&mut Issues, &str, &Value)),
}

const LABEL: Shape = Shape::Obj(&[("!name", Shape::Str), ("description", Shape::Str)]);
const PACKAGE: Shape = Shape::Obj(&[("!packageURL", Shape::Str), ("useNewSetupLayout", Shape::Bool)]);
const STRINGS: Shape = Shape::List(&Shape::Str);
const META: Shape = Shape::K8s(strict::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>);
const KD_APP: Shape = Shape::Obj(&[
    ("!apiVersion", Shape::Str),
    ("!kind", Shape::Str),
    ("!metadata", META),
    (
        "!spec",
        Shape::Obj(&[
            ("label", LABEL),
            ("distroID", Shape::Str),
            ("version", Shape::Str),
            ("configSchemaVersion", Shape::Int),
            ("defaultImageRepoTag", Shape::Str),
            ("defaultConfigPackage", PACKAGE),
            ("defaultPersistDirs", STRINGS),
            ("defaultEventList", STRINGS),
            ("defaultMaxLogSizeDump", Shape::Int),
            ("capabilities", STRINGS),
            ("systemdRequired", Shape::Bool),
            ("logoURL", Shape::Str),
            (
                "services",
                Shape::List(&Shape::Obj(&[
                    ("!id", Shape::Str),
                    ("label", LABEL),
                    (
                        "endpoint",
                        Shape::Obj(&[
                            ("urlScheme", Shape::Str),
                            ("port", Shape::Int),
                            ("path", Shape::Str),
                            ("isDashboard", Shape::Bool),
                            ("hasAuthToken", Shape::Bool),
                        ]),
                    ),
                    ("exported_service", Shape::Str),
                ])),
            ),
            (
                "!roles",
                Shape::List(&Shape::Obj(&[
                    ("!id", Shape::Str),
                    ("!cardinality", Shape::Str),
                    ("imageRepoTag", Shape::Str),
                    ("configPackage", PACKAGE),
                    ("persistDirs", STRINGS),
                    ("eventList", STRINGS),
                    ("minResources", Shape::Map(&Shape::Any)),
                    ("maxLogSizeDump", Shape::Int),
                    ("containerSpec", Shape::Obj(&[("stdin", Shape::Bool), ("tty", Shape::Bool)])),
                ])),
            ),
            (
                "config",
                Shape::Obj(&[
                    ("roleServices", Shape::List(&Shape::Obj(&[("!roleID", Shape::Str), ("serviceIDs", STRINGS)]))),
                    ("selectedRoles", STRINGS),
                    ("configMeta", Shape::Map(&Shape::Str)),
                ]),
            ),
        ]),
    ),
]);
const SECRET: Shape = Shape::Obj(&[
    ("!name", Shape::Str),
    ("defaultMode", Shape::Int),
    ("!mountPath", Shape::Str),
    ("readOnly", Shape::Bool),
]);
const KD_CLUSTER: Shape = Shape::Obj(&[
    ("!apiVersion", Shape::Str),
    ("!kind", Shape::Str),
    ("!metadata", META),
    (
        "!spec",
        Shape::Obj(&[
            ("!app", Shape::Str),
            ("appCatalog", Shape::Str),
            ("serviceType", Shape::Str),
            ("defaultSecret", SECRET),
            ("connections", Shape::Obj(&[("clusters", STRINGS), ("configmaps", STRINGS), ("secrets", STRINGS)])),
            ("namingScheme", Shape::Str),
            (
                "roles",
                Shape::List(&Shape::Obj(&[
                    ("!id", Shape::Str),
                    ("members", Shape::Int),
                    ("podLabels", Shape::Map(&Shape::Str)),
                    ("podAnnotations", Shape::Map(&Shape::Str)),
                    ("serviceLabels", Shape::Map(&Shape::Str)),
                    ("serviceAnnotations", Shape::Map(&Shape::Str)),
                    ("serviceAccountName", Shape::Str),
                    ("resources", Shape::K8s(strict::<core::ResourceRequirements>)),
                    ("affinity", Shape::K8s(strict::<core::Affinity>)),
                    ("storage", Shape::Obj(&[("!size", Shape::Str), ("storageClassName", Shape::Str)])),
                    ("env", Shape::K8s(strict::<Vec<core::EnvVar>>)),
                    (
                        "fileInjections",
                        Shape::List(&Shape::Obj(&[
                            ("!srcURL", Shape::Str),
                            ("!destDir", Shape::Str),
                            (
                                "permissions",
                                Shape::Obj(&[
                                    ("fileMode", Shape::Int),
                                    ("fileOwner", Shape::Str),
                                    ("fileGroup", Shape::Str),
                                ]),
                            ),
                        ])),
                    ),
                    ("secret", SECRET),
                    (
                        "blockStorage",
                        Shape::Obj(&[
                            ("storageClassName", Shape::Str),
                            ("pathPrefix", Shape::Str),
                            ("size", Shape::Str),
                            ("numDevices", Shape::Int),
                        ]),
                    ),
                    (
                        "secretKeys",
                        Shape::List(&Shape::Obj(&[
                            ("!name", Shape::Str),
                            ("value", Shape::Str),
                            ("encryptedValue", Shape::Str),
                        ])),
                    ),
                ])),
            ),
        ]),
    ),
    ("status", Shape::Any),
]);

pub fn kubedirector(out: &mut Issues, value: &Value, kind: &str) {
    walk(out, "", value, if kind == "KubeDirectorApp" { KD_APP } else { KD_CLUSTER });
}

fn walk(out: &mut Issues, ptr: &str, v: &Value, shape: Shape) {
    if v.is_null() {
        return;
    }
    let expect = |what: &str| {
        at(
            ptr,
            &format!(
                "invalid type: {}, expected {what}",
                type_name(v).trim_start_matches("a ").trim_start_matches("n ")
            ),
        )
    };
    match shape {
        Shape::Str if !v.is_string() => {
            out.value(Invalid, ptr, expect("a string") + " (quote the value to make it a string)")
        }
        Shape::Int if !(v.is_i64() || v.is_u64()) => out.value(Invalid, ptr, expect("an integer")),
        Shape::Bool if !v.is_bool() => out.value(Invalid, ptr, expect("a boolean")),
        Shape::Str | Shape::Int | Shape::Bool | Shape::Any => {}
        Shape::K8s(check) => check(out, ptr, v),
        Shape::List(item) => match v.as_sequence() {
            Some(s) => s.iter().enumerate().for_each(|(i, x)| walk(out, &format!("{ptr}/{i}"), x, *item)),
            None => out.value(Invalid, ptr, expect("a sequence")),
        },
        Shape::Map(item) => match v.as_mapping() {
            Some(m) => m
                .iter()
                .for_each(|(k, x)| walk(out, &format!("{ptr}/{}", escape(k.as_str().unwrap_or_default())), x, *item)),
            None => out.value(Invalid, ptr, expect("a mapping")),
        },
        Shape::Obj(fields) => {
            let Some(m) = v.as_mapping() else { return out.value(Invalid, ptr, expect("a mapping")) };
            for (name, s) in fields {
                let bare = name.trim_start_matches('!');
                match m.get(bare) {
                    Some(x) => walk(out, &format!("{ptr}/{}", escape(bare)), x, *s),
                    None if name.starts_with('!') => {
                        out.value(Invalid, ptr, at(ptr, &format!("missing field `{bare}`")))
                    }
                    None => {}
                }
            }
            for k in m.keys().filter_map(Value::as_str) {
                if !fields.iter().any(|(n, _)| n.trim_start_matches('!') == k) {
                    let names: Vec<String> =
                        fields.iter().map(|(n, _)| format!("`{}`", n.trim_start_matches('!'))).collect();
                    let msg = unknown_message(&format!("unknown field `{k}`, expected one of {}", names.join(", ")));
                    out.key(UnknownField, &format!("{ptr}/{}", escape(k)), at(ptr, &msg));
                }
            }
        }
    }
}
