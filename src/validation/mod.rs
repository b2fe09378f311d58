//! What the Kubernetes API server refuses, checked before anything runs.
//!
//! One code path for `render`, `up`, `test` and `lint`: `object` takes a
//! document's value and returns every problem with the JSON pointer it is
//! about. The app readers turn each into a located error (exit 2); lint turns
//! each into a `schema-invalid` or `schema-unknown-field` finding.
//!
//! `schema` checks types and unknown fields against the k8s-openapi types
//! (kubectl's strict field validation); `meta`, `pod`, `workloads` and
//! `objects` port the semantic rules of the upstream validation code
//! (kubernetes/kubernetes pkg/apis/core/validation, pkg/apis/apps/validation,
//! pkg/apis/batch/validation). Each rule group names the upstream function it
//! comes from. The rules read the raw value and skip fields of the wrong type,
//! which `schema` already reports.

pub mod defaults;
pub mod kinds;
pub mod messages;
pub mod names;
mod objects;
mod pod;
pub mod schema;
mod workloads;

use serde_yaml::Value;

/// What kind of problem an issue is: lint reports them under different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The API server refuses the value (schema-invalid).
    Invalid,
    /// The field is not in the schema (schema-unknown-field).
    UnknownField,
    /// A workload's selector does not select its own template, which the API
    /// server refuses; lint reports it under its own rule with its own advice.
    SelectorMismatch,
    /// An image reference the API server accepts but the kubelet and podman
    /// cannot parse, so the pod never starts (InvalidImageName).
    ImageReference,
    /// A port name that is no IANA service name (IsValidPortName), which
    /// the API server refuses; lint reports it under kube-linter's name.
    PortName,
}

/// One problem at one place of a document.
#[derive(Debug, Clone)]
pub struct Issue {
    pub problem: Problem,
    /// JSON pointer to the node; a missing node is located at its nearest ancestor.
    pub pointer: String,
    /// Whether the issue points at the node's key rather than its value.
    pub at_key: bool,
    /// The message, led by the field's dotted path in backticks where it has one.
    pub message: String,
}

impl Issue {
    /// The message without the backticks around the leading field path, as
    /// the app readers print it (`spec.replicas: ...`).
    pub fn plain(&self) -> String {
        if let Some(rest) = self.message.strip_prefix('`') {
            if let Some((field, msg)) = rest.split_once("`: ") {
                return format!("{field}: {msg}");
            }
        }
        self.message.clone()
    }
}

/// Where the checks put what they find; the flag says whether some field
/// has the wrong type, so that the typed read of the document would fail.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<Issue>, bool);

impl Issues {
    /// Whether every field has the right type.
    pub fn types_ok(&self) -> bool {
        !self.1
    }

    fn wrong_type(&mut self) {
        self.1 = true;
    }

    pub fn key(&mut self, problem: Problem, pointer: &str, message: impl Into<String>) {
        self.0.push(Issue { problem, pointer: pointer.to_string(), at_key: true, message: message.into() });
    }

    pub fn value(&mut self, problem: Problem, pointer: &str, message: impl Into<String>) {
        self.0.push(Issue { problem, pointer: pointer.to_string(), at_key: false, message: message.into() });
    }

    /// An invalid port name, its message led by the field's path.
    fn port_name(&mut self, pointer: &str, message: impl AsRef<str>) {
        let m = schema::at(pointer, message.as_ref());
        self.value(Problem::PortName, pointer, m);
    }

    /// An invalid value, its message led by the field's path.
    fn bad(&mut self, pointer: &str, message: impl AsRef<str>) {
        let m = schema::at(pointer, message.as_ref());
        self.value(Problem::Invalid, pointer, m);
    }

    /// A missing required field, located at its parent's key.
    fn required(&mut self, pointer: &str, what: impl AsRef<str>) {
        let m = schema::at(pointer, &format!("Required value{}", what.as_ref()));
        self.key(Problem::Invalid, pointer, m);
    }
}

/// Every problem of one object (a List's items are objects of their own):
/// a kind its apiVersion does not serve, the metadata, and for known kinds
/// the schema and the rules.
pub fn object(v: &Value, api: &str, kind: &str) -> Issues {
    let mut out = Issues::default();
    if !v.is_mapping() || !kinds::check(&mut out, api, kind) {
        return out;
    }
    schema::k8s(&mut out, v, api, kind);
    objects::metadata(&mut out, v, kind);
    match kind {
        "Pod" => {
            let name = string(v.get("metadata").and_then(|m| m.get("name"))).unwrap_or("?");
            pod::pod_spec(&mut out, v.get("spec"), "/spec", kind, name, &[]);
        }
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" => {
            workloads::apps(&mut out, v, kind)
        }
        "Job" => workloads::job_spec(&mut out, v.get("spec"), "/spec", v),
        "CronJob" => workloads::cron_job(&mut out, v),
        "Service" => objects::service(&mut out, v),
        "ConfigMap" => objects::config_map(&mut out, v),
        "Secret" => objects::secret(&mut out, v),
        "PersistentVolumeClaim" => objects::pvc_spec(&mut out, v.get("spec"), "/spec"),
        "PodDisruptionBudget" => objects::pdb(&mut out, v),
        _ => {}
    }
    out
}

/// The value at `key` of a mapping, and its pointer below `ptr`.
fn child<'v>(v: Option<&'v Value>, ptr: &str, key: &str) -> (Option<&'v Value>, String) {
    (v.and_then(|v| v.get(key)).filter(|x| !x.is_null()), format!("{ptr}/{}", crate::yaml::escape(key)))
}

/// The items of a sequence with their pointers.
fn items<'v>(v: Option<&'v Value>, ptr: &str) -> impl Iterator<Item = (String, &'v Value)> + 'v {
    let ptr = ptr.to_string();
    v.and_then(Value::as_sequence).into_iter().flatten().enumerate().map(move |(i, x)| (format!("{ptr}/{i}"), x))
}

/// The entries of a mapping with string keys, with their pointers.
fn entries<'v>(v: Option<&'v Value>, ptr: &str) -> impl Iterator<Item = (String, &'v str, &'v Value)> + 'v {
    let ptr = ptr.to_string();
    v.and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(move |(k, x)| k.as_str().map(|k| (format!("{ptr}/{}", crate::yaml::escape(k)), k, x)))
}

fn int(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

fn string(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// ValidateNonnegativeField.
fn non_negative(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str) {
    let (v, p) = child(parent, ptr, key);
    if let Some(n) = int(v).filter(|n| *n < 0) {
        out.bad(&p, format!("Invalid value: {n}: must be greater than or equal to 0"));
    }
}

/// ValidatePositiveField (and the "must be greater than 0" checks).
fn positive(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str) {
    let (v, p) = child(parent, ptr, key);
    if let Some(n) = int(v).filter(|n| *n <= 0) {
        out.bad(&p, format!("Invalid value: {n}: must be greater than 0"));
    }
}

/// field.NotSupported: a string field that must be one of `allowed` when set.
fn one_of(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str, allowed: &[&str]) {
    let (v, p) = child(parent, ptr, key);
    if let Some(s) = string(v) {
        if !allowed.contains(&s) {
            out.bad(&p, unsupported(s, allowed));
        }
    }
}

fn unsupported(s: &str, allowed: &[&str]) -> String {
    let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
    format!("Unsupported value: \"{s}\": supported values: {}", list.join(", "))
}

/// A string field checked against a grammar of `names`.
fn grammar(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str, check: fn(&str) -> Option<String>) {
    let (v, p) = child(parent, ptr, key);
    if let Some(s) = string(v) {
        if let Some(why) = check(s) {
            out.bad(&p, format!("Invalid value: \"{s}\": {why}"));
        }
    }
}

#[cfg(test)]
mod tests;
