//! The small client the chainsaw engine needs from a Kubernetes API: the
//! calls chainsaw's operations make (get, list, create, update, merge patch,
//! delete, discovery of a kind and the server version). `kube.rs` implements
//! it over HTTPS from a kubeconfig, so the same engine runs against
//! podproof's API and against a real cluster; tests implement it in memory.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// What names one object, or (without a name) a kind in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef { api_version: api_version.into(), kind: kind.into(), namespace: namespace.into(), name: name.into() }
    }

    /// The reference of an object: its apiVersion, kind, namespace and name.
    pub fn of(obj: &Value) -> ObjectRef {
        let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        ObjectRef {
            api_version: s("/apiVersion"),
            kind: s("/kind"),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
        }
    }

    /// `namespace/name` (or `name`), `*` standing for no name, as chainsaw prints it.
    pub fn key(&self) -> String {
        let name = if self.name.is_empty() { "*" } else { &self.name };
        if self.namespace.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.namespace)
        }
    }

    /// `v1/ConfigMap @ ns/name`, the form of chainsaw's log lines.
    pub fn describe(&self) -> String {
        format!("{}/{} @ {}", self.api_version, self.kind, self.key())
    }

    pub fn not_found(&self) -> String {
        let (group, _) = split_api_version(&self.api_version);
        let what =
            if group.is_empty() { self.kind.to_lowercase() } else { format!("{}.{group}", self.kind.to_lowercase()) };
        format!("{what} \"{}\" not found", self.name)
    }
}

/// `apps/v1` as (`apps`, `v1`); `v1` as (``, `v1`).
pub fn split_api_version(av: &str) -> (&str, &str) {
    match av.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", av),
    }
}

/// What discovery says about a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The plural name in paths (`configmaps`).
    pub plural: String,
    pub namespaced: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Equality-based label selector.
    pub labels: BTreeMap<String, String>,
    /// A label selector as written (`app=x,tier!=y`), used as is.
    pub selector: Option<String>,
}

/// Options of a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// A subresource such as `status`.
    pub subresource: Option<String>,
}

/// An API error: the API's own `Status` (its message is what chainsaw shows
/// as `$error`), or a failure to talk to the API at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// The kind is not served (discovery has no such resource).
    NoKind(String),
    Transport(String),
}

impl ClientError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Status { code: 404, .. })
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Status { code: 409, .. })
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Status { message, .. } => f.write_str(message),
            ClientError::NoKind(m) | ClientError::Transport(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

pub type Result<T> = std::result::Result<T, ClientError>;

/// The calls the engine makes. Implementations are shared by the threads of
/// concurrent tests, so they are `Send + Sync`, and every call has a deadline
/// of its own (the engine's polls bound the rest).
pub trait Client: Send + Sync {
    /// Discovery of a kind: `Ok(None)` when the API does not serve it.
    fn resource(&self, api_version: &str, kind: &str) -> Result<Option<Resource>>;
    /// One object, `Ok(None)` when it does not exist.
    fn get(&self, r: &ObjectRef) -> Result<Option<Value>>;
    /// The objects of a kind (in `r.namespace`, or everywhere when it is empty).
    fn list(&self, r: &ObjectRef, opts: &ListOptions) -> Result<Vec<Value>>;
    fn create(&self, obj: &Value, opts: &WriteOptions) -> Result<Value>;
    /// A full replacement (PUT) of the object named by `obj`.
    fn update(&self, obj: &Value, opts: &WriteOptions) -> Result<Value>;
    /// A JSON merge patch (RFC 7386) of the object `r` names.
    fn merge_patch(&self, r: &ObjectRef, patch: &Value, opts: &WriteOptions) -> Result<Value>;
    /// Deletes an object; a missing one is `Status` 404. `propagation` is
    /// `Background`, `Foreground` or `Orphan`.
    fn delete(&self, r: &ObjectRef, propagation: Option<&str>) -> Result<()>;
    /// `/version` as the API returns it.
    fn server_version(&self) -> Result<Value>;
    /// The kubeconfig scripts and commands get as `KUBECONFIG`, if any.
    fn kubeconfig(&self) -> Option<std::path::PathBuf>;
}

/// Whether an object of the kind `r` names lives in a namespace (unknown kinds are namespaced).
pub fn is_namespaced(c: &dyn Client, api_version: &str, kind: &str) -> Result<bool> {
    Ok(c.resource(api_version, kind)?.map(|r| r.namespaced).unwrap_or(true))
}
