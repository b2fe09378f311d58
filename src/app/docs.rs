//! Reading typed values out of located documents.

use crate::error::Diagnostic;
use crate::source::Source;
use crate::validation::messages::humanize;
use crate::yaml::{self, lookup, type_name, Doc};
use serde::de::DeserializeOwned;
use serde_yaml::Value;

/// A located error at `pointer` inside `doc`.
pub fn error_at(src: &Source, doc: &Doc, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let p = doc.pos(pointer);
    Diagnostic::error(&src.name, Some((p.line, p.column)), message)
}

/// A located warning at the key (or the node) at `pointer`.
pub fn warning_at(src: &Source, doc: &Doc, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let p = doc.pos(pointer);
    Diagnostic::warning(&src.name, Some((p.line, p.column)), message)
}

/// A located error at the value (not the key) at `pointer`.
pub fn error_at_value(src: &Source, doc: &Doc, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let p = doc.value_pos(pointer);
    Diagnostic::error(&src.name, Some((p.line, p.column)), message)
}

/// A validation issue as an error: at its key, or at its value unless that
/// is empty (an empty value sits wherever the next token starts).
pub fn issue(src: &Source, doc: &Doc, issue: &crate::validation::Issue) -> Diagnostic {
    let empty = lookup(&doc.value, &issue.pointer).is_some_and(Value::is_null);
    let msg = with_yaml11_hint(doc, &issue.pointer, issue.plain());
    if issue.at_key || empty {
        error_at(src, doc, &issue.pointer, msg)
    } else {
        error_at_value(src, doc, &issue.pointer, msg)
    }
}

/// A type error about a value that only YAML 1.1 reads as a boolean or a
/// number (`on`, `no`, `0644`) says so, since YAML 1.2 tools show it as text.
pub fn with_yaml11_hint(doc: &Doc, pointer: &str, msg: String) -> String {
    if !msg.contains("invalid type: boolean") && !msg.contains("invalid type: integer") {
        return msg;
    }
    match doc.yaml11_hint(pointer) {
        Some(hint) => msg.trim_end_matches(" (quote the value to make it a string)").to_string() + &hint,
        None => msg,
    }
}

/// Deserializes the value at `pointer` of `doc` into `T`, locating any error at
/// the field serde was reading and naming that field's path.
pub fn typed<T: DeserializeOwned>(src: &Source, doc: &Doc, pointer: &str) -> Result<T, Diagnostic> {
    let value = lookup(&doc.value, pointer).cloned().unwrap_or(Value::Null);
    typed_value(src, doc, pointer, value)
}

pub fn typed_value<T: DeserializeOwned>(src: &Source, doc: &Doc, pointer: &str, value: Value) -> Result<T, Diagnostic> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut ptr = pointer.to_string();
        let mut dotted = Vec::new();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => {
                    ptr.push_str(&format!("/{index}"));
                    dotted.push(format!("[{index}]"));
                }
                serde_path_to_error::Segment::Map { key } => {
                    ptr.push('/');
                    ptr.push_str(&yaml::escape(key));
                    dotted.push(format!(".{key}"));
                }
                _ => {}
            }
        }
        let inner = e.inner().to_string();
        // serde_yaml appends its own (meaningless here) location; drop it.
        let inner = inner.split(" at line ").next().unwrap_or(&inner).to_string();
        let unknown = inner.starts_with("unknown field");
        // The path of an unknown field ends in that field, which the message
        // names anyway; the object holding it is the useful part.
        if unknown {
            dotted.pop();
        }
        let field = pointer_to_dotted(pointer) + &dotted.concat();
        let field = field.trim_start_matches('.');
        let inner = humanize(&inner);
        // A message about a Secret's field names the key, never the value.
        let inner = if crate::redact::in_secret(&doc.value, &ptr) { crate::redact::value_free(&inner) } else { inner };
        let msg = if field.is_empty() { inner } else { format!("{field}: {inner}") };
        let msg = with_yaml11_hint(doc, &ptr, msg);
        // Unknown fields point at the key, and so do empty values, which sit
        // wherever the next token starts; wrong types point at the value.
        if unknown || lookup(&doc.value, &ptr).is_some_and(Value::is_null) {
            error_at(src, doc, &ptr, msg)
        } else {
            error_at_value(src, doc, &ptr, msg)
        }
    })
}

fn pointer_to_dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push('.');
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

/// The `apiVersion` and `kind` of a document, both required.
pub fn header(src: &Source, doc: &Doc) -> Result<(String, String), Diagnostic> {
    if !doc.value.is_mapping() {
        return Err(error_at_value(
            src,
            doc,
            "",
            format!("expected a mapping with apiVersion and kind, found {}", type_name(&doc.value)),
        ));
    }
    let get = |key: &str| -> Result<String, Diagnostic> {
        match doc.value.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(error_at_value(src, doc, &format!("/{key}"), format!("`{key}` is empty"))),
            Some(other) => Err(error_at_value(
                src,
                doc,
                &format!("/{key}"),
                format!("`{key}` must be a non-empty string, found {}", type_name(other)),
            )),
            None => Err(error_at(src, doc, "", format!("missing `{key}`"))),
        }
    };
    let api = get("apiVersion")?;
    let kind = get("kind")?;
    Ok((api, kind))
}

/// Parses a source into documents, skipping empty (null) documents.
pub fn documents(src: &Source) -> Result<Vec<Doc>, Diagnostic> {
    if src.text.trim().is_empty() {
        return Err(Diagnostic::error(&src.name, None, "file is empty: expected at least one document"));
    }
    let docs = yaml::parse_stream(&src.text)
        .map_err(|e| Diagnostic::error(&src.name, Some((e.pos.line, e.pos.column)), e.message))?;
    let docs: Vec<Doc> = docs.into_iter().filter(|d| !d.value.is_null()).collect();
    if docs.is_empty() {
        return Err(Diagnostic::error(&src.name, None, "file holds no documents, only comments or empty ones"));
    }
    Ok(docs)
}
