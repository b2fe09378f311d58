//! API errors as the API server returns them: a `Status` object with a
//! reason and a code (k8s.io/apimachinery/pkg/api/errors), and for `Invalid`
//! the causes, one per field.

use serde_json::{json, Value};

/// One field-level cause of an `Invalid` error (metav1.StatusCause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: String,
    pub message: String,
    /// The field path as field.Path prints it (`spec.containers[0].image`).
    pub field: String,
}

/// An API error: what becomes a `Status` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// The `details` (boxed: errors travel in every `Result` of the API).
    pub details: Box<Details>,
}

/// metav1.StatusDetails.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds`.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason, message: message.into(), details: Box::default() }
    }

    fn about(mut self, group: &str, kind: &str, name: &str) -> ApiError {
        self.details.group = group.to_string();
        self.details.kind = kind.to_string();
        self.details.name = name.to_string();
        self
    }

    /// NewNotFound: `pods "web" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{} \"{name}\" not found", qualified(group, resource)))
            .about(group, resource, name)
    }

    /// NewAlreadyExists.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", qualified(group, resource)))
            .about(group, resource, name)
    }

    /// NewConflict with the optimistic-concurrency message (OptimisticLockErrorMsg).
    pub fn stale(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// NewConflict: `Operation cannot be fulfilled on <resource> "<name>": <why>`.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(group, resource)),
        )
        .about(group, resource, name)
    }

    /// NewInvalid: `<Kind>.<group> "<name>" is invalid: <cause>, <cause>`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let what = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let list: Vec<String> = causes
            .iter()
            .map(|c| if c.field.is_empty() { c.message.clone() } else { format!("{}: {}", c.field, c.message) })
            .collect();
        let msg = match list.len() {
            0 => format!("{what} \"{name}\" is invalid"),
            1 => format!("{what} \"{name}\" is invalid: {}", list[0]),
            _ => format!("{what} \"{name}\" is invalid: [{}]", list.join(", ")),
        };
        let mut e = ApiError::new(422, "Invalid", msg).about(group, kind, name);
        e.details.causes = causes;
        e
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// NewMethodNotSupported.
    pub fn method_not_supported(group: &str, resource: &str, verb: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{verb} is not supported on resources of kind \"{}\"", qualified(group, resource)),
        )
        .about(group, resource, "")
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> ApiError {
        ApiError::new(403, "Forbidden", format!("{} \"{name}\" is forbidden: {why}", qualified(group, resource)))
            .about(group, resource, name)
    }

    /// NewResourceExpired: a watch or continue token older than the history kept.
    pub fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type})"))
    }

    /// A path that names no resource: NewNotFound without a name, as the
    /// API server answers "the server could not find the requested resource".
    pub fn no_route() -> ApiError {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// The same error with another message.
    pub fn with_message(mut self, message: String) -> ApiError {
        self.message = message;
        self
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        if !self.details.name.is_empty() {
            details.insert("name".into(), json!(self.details.name));
        }
        if !self.details.group.is_empty() {
            details.insert("group".into(), json!(self.details.group));
        }
        if !self.details.kind.is_empty() {
            details.insert("kind".into(), json!(self.details.kind));
        }
        if !self.details.causes.is_empty() {
            let causes: Vec<Value> = self
                .details
                .causes
                .iter()
                .map(|c| {
                    let mut o = json!({"reason": c.reason, "message": c.message});
                    if !c.field.is_empty() {
                        o["field"] = json!(c.field);
                    }
                    o
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(r) = self.details.retry_after {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        if !details.is_empty() {
            s["details"] = Value::Object(details);
        }
        s
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

impl std::error::Error for ApiError {}

/// `deployments.apps`, or `pods` for the core group (schema.GroupResource.String).
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// The Status of a successful deletion (metav1.Status Success).
pub fn success(group: &str, kind: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    if !uid.is_empty() {
        details["uid"] = json!(uid);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// A JSON pointer (`/spec/containers/0/image`) as field.Path prints it
/// (`spec.containers[0].image`; map keys that are not identifiers in brackets).
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        } else {
            out.push_str(&format!("[{seg}]"));
        }
    }
    out
}

/// The cause reason (field.ErrorType) that a validation message starts with.
pub fn cause_reason(message: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("Required value", "FieldValueRequired"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Duplicate value", "FieldValueDuplicate"),
        ("Not found", "FieldValueNotFound"),
        ("Too long", "FieldValueTooLong"),
        ("Too many", "FieldValueTooMany"),
        ("Forbidden", "FieldValueForbidden"),
        ("Invalid value", "FieldValueInvalid"),
    ];
    TYPES.iter().find(|(p, _)| message.starts_with(p)).map_or("FieldValueInvalid", |(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_print_as_field_path_does() {
        for (ptr, want) in [
            ("/spec/replicas", "spec.replicas"),
            ("/spec/template/spec/containers/0/image", "spec.template.spec.containers[0].image"),
            ("/metadata/labels/app.kubernetes.io~1name", "metadata.labels[app.kubernetes.io/name]"),
            ("/data/key_1", "data.key_1"),
            ("", ""),
        ] {
            assert_eq!(field_path(ptr), want, "{ptr}");
        }
    }

    #[test]
    fn statuses_carry_reason_code_and_causes() {
        let e = ApiError::invalid(
            "apps",
            "Deployment",
            "web",
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: -1: must be greater than or equal to 0".into(),
                field: "spec.replicas".into(),
            }],
        );
        let s = e.status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(
            s["message"],
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "spec.replicas");
        assert_eq!(ApiError::not_found("", "pods", "x").status()["message"], "pods \"x\" not found");
    }
}
