//! The validation hook of writes: podproof's own API-server validation
//! (src/validation/, the same rules `render`, `up`, `test` and `lint`
//! apply), the update rules of immutable fields, and `fieldValidation`'s
//! unknown fields. What podproof refuses at load, the API refuses too, as
//! `reason: Invalid` with a cause at each field.
//!
//! Custom resources are checked against their CRD's openAPIV3Schema for
//! unknown fields, which are pruned as the API server prunes them.

use super::errors::{cause_reason, field_path, ApiError, ApiResult, Cause};
use super::resources::Resource;
use super::store::FieldValidation;
use crate::validation::Problem;
use serde_json::Value;

/// The unknown fields of a write, which are dropped (the API server stores
/// only what its types or a CRD's schema declare): an error under `Strict`,
/// the warnings to send under `Warn`, dropped silently under `Ignore`.
pub fn unknown_fields(res: &Resource, obj: &mut Value, mode: FieldValidation) -> ApiResult<Vec<String>> {
    let mut unknown: Vec<String> = Vec::new();
    if res.builtin && !res.is_events_v1() {
        if let Ok(y) = serde_yaml::to_value(&*obj) {
            let mut issues = crate::validation::Issues::default();
            crate::validation::schema::k8s(&mut issues, &y, &res.api_version(), &res.kind);
            let mut pointers: Vec<&str> =
                issues.0.iter().filter(|i| i.problem == Problem::UnknownField).map(|i| i.pointer.as_str()).collect();
            for p in &pointers {
                unknown.push(field_path(p));
            }
            // Deepest first, so that removing one leaves the others' pointers valid.
            pointers.sort_by(|a, b| b.cmp(a));
            for p in pointers {
                remove_at(obj, p);
            }
        }
    } else if let Some(schema) = &res.schema {
        prune(obj, schema, "", &mut unknown, true);
    }
    if unknown.is_empty() || mode == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let msgs: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    match mode {
        FieldValidation::Strict => Err(ApiError::bad_request(format!("strict decoding error: {}", msgs.join(", ")))),
        _ => Ok(msgs),
    }
}

fn remove_at(v: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else { return };
    let key = key.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&key);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = key.parse::<usize>() {
                if i < a.len() {
                    a.remove(i);
                }
            }
        }
        _ => {}
    }
}

/// Removes what a custom resource's structural schema does not declare
/// (apiextensions' pruning), noting each removed field's path. The root's
/// apiVersion, kind and metadata are always kept.
pub fn prune(v: &mut Value, schema: &Value, path: &str, removed: &mut Vec<String>, root: bool) {
    if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
        && schema.get("properties").is_none()
    {
        return;
    }
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties");
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
            let embedded = schema.get("x-kubernetes-embedded-resource").and_then(Value::as_bool) == Some(true);
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                if (root || embedded) && (k == "apiVersion" || k == "kind" || k == "metadata") {
                    continue;
                }
                let sub = props.and_then(|p| p.get(&k)).or(match extra {
                    Some(Value::Object(_)) => extra,
                    _ => None,
                });
                match sub {
                    Some(s) => prune(m.get_mut(&k).expect("listed"), s, &child_path, removed, false),
                    None if preserve || matches!(extra, Some(Value::Bool(true))) => {}
                    None => {
                        m.remove(&k);
                        removed.push(child_path);
                    }
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, x) in a.iter_mut().enumerate() {
                    prune(x, items, &format!("{path}[{i}]"), removed, false);
                }
            }
        }
        _ => {}
    }
}

/// Every cause that makes a write Invalid: the object's own validation, and
/// for an update the fields that may not change.
pub fn object(res: &Resource, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    if res.builtin && !res.is_events_v1() {
        if let Ok(y) = serde_yaml::to_value(obj) {
            let issues = crate::validation::object(&y, &res.api_version(), &res.kind);
            for i in issues.0.iter().filter(|i| i.problem != Problem::UnknownField) {
                causes.push(cause(i));
            }
        }
    } else {
        // Every object needs a name (ValidateObjectMeta), custom ones too.
        if super::meta::name(obj).is_empty() {
            causes.push(Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value: name or generateName is required".into(),
                field: "metadata.name".into(),
            });
        }
    }
    if let Some(old) = old {
        immutable(res, obj, old, &mut causes);
    }
    causes
}

fn cause(i: &crate::validation::Issue) -> Cause {
    let field = field_path(&i.pointer);
    let plain = i.plain();
    let message = plain.strip_prefix(&format!("{field}: ")).map(str::to_string).unwrap_or_else(|| plain.clone());
    Cause { reason: cause_reason(&message).into(), message, field }
}

/// The update rules of fields that are fixed once set (ValidateUpdate of
/// each kind): workload selectors, a Job's template, a Pod's spec but for
/// its images and a few more, an immutable ConfigMap's or Secret's data.
fn immutable(res: &Resource, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let fixed = |causes: &mut Vec<Cause>, ptr: &str| {
        if new.pointer(ptr) != old.pointer(ptr) {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {}: field is immutable", short(new.pointer(ptr))),
                field: field_path(ptr),
            });
        }
    };
    match (res.group.as_str(), res.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet") => fixed(causes, "/spec/selector"),
        ("batch", "Job") => {
            fixed(causes, "/spec/selector");
            fixed(causes, "/spec/completions");
            // The template may change only while the Job is suspended.
            if new.pointer("/spec/suspend").and_then(Value::as_bool) != Some(true) {
                fixed(causes, "/spec/template");
            }
        }
        ("", "Pod") => {
            let strip = |v: &Value| -> Value {
                let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
                for list in ["containers", "initContainers"] {
                    if let Some(cs) = s.get_mut(list).and_then(Value::as_array_mut) {
                        for c in cs {
                            if let Some(c) = c.as_object_mut() {
                                c.remove("image");
                                c.remove("resources");
                            }
                        }
                    }
                }
                if let Some(m) = s.as_object_mut() {
                    for k in [
                        "activeDeadlineSeconds",
                        "tolerations",
                        "terminationGracePeriodSeconds",
                        "schedulingGates",
                        "nodeName",
                    ] {
                        m.remove(k);
                    }
                }
                s
            };
            if strip(new) != strip(old) {
                causes.push(Cause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)".into(),
                    field: "spec".into(),
                });
            }
        }
        ("", "ConfigMap" | "Secret") if old.get("immutable").and_then(Value::as_bool) == Some(true) => {
            for k in ["/data", "/binaryData", "/stringData"] {
                if new.pointer(k) != old.pointer(k) {
                    causes.push(Cause {
                        reason: "FieldValueForbidden".into(),
                        message: "Forbidden: field is immutable when `immutable` is set".into(),
                        field: k.trim_start_matches('/').into(),
                    });
                }
            }
            if new.get("immutable") != old.get("immutable") {
                causes.push(Cause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: field is immutable when `immutable` is set".into(),
                    field: "immutable".into(),
                });
            }
        }
        ("", "Service") => {
            let ip = |v: &Value| v.pointer("/spec/clusterIP").cloned();
            if ip(new).is_some() && ip(new) != ip(old) {
                fixed(causes, "/spec/clusterIP");
            }
        }
        _ => {}
    }
}

/// A value for a message, cut short as the API server's `field.Invalid` prints large ones.
fn short(v: Option<&Value>) -> String {
    let s = v.map(|v| v.to_string()).unwrap_or_else(|| "null".into());
    if s.len() > 80 {
        format!("{}...", &s[..s.char_indices().nth(77).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pruning_keeps_what_the_schema_declares() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}, "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
        }});
        let mut v = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"}, "spec": {"size": 1, "extra": 2, "list": [{"a": "x", "b": "y"}], "free": {"any": 1}}, "junk": 1});
        let mut removed = Vec::new();
        prune(&mut v, &schema, "", &mut removed, true);
        assert_eq!(removed, vec!["junk", "spec.extra", "spec.list[0].b"]);
        assert_eq!(v["spec"]["free"]["any"], 1);
        assert_eq!(v["metadata"]["name"], "w");
    }
}
