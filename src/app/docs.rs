//! Reading typed values out of located documents.

use crate::error::Diagnostic;
use crate::source::Source;
use crate::yaml::{self, Doc};
use serde::de::DeserializeOwned;
use serde_yaml::Value;

/// A located error at `pointer` inside `doc`.
pub fn error_at(src: &Source, doc: &Doc, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let p = doc.pos(pointer);
    Diagnostic::error(&src.name, Some((p.line, p.column)), message)
}

/// A located error at the value (not the key) at `pointer`.
pub fn error_at_value(src: &Source, doc: &Doc, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let p = doc.value_pos(pointer);
    Diagnostic::error(&src.name, Some((p.line, p.column)), message)
}

pub fn warning_at(src: &Source, doc: &Doc, pointer: &str, message: impl Into<String>) -> Diagnostic {
    let p = doc.pos(pointer);
    Diagnostic::warning(&src.name, Some((p.line, p.column)), message)
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
        let field = pointer_to_dotted(pointer) + &dotted.concat();
        let field = field.trim_start_matches('.');
        let msg = if field.is_empty() { inner } else { format!("{field}: {inner}") };
        // Unknown fields point at the key; wrong types at the value.
        if msg.contains("unknown field") {
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

/// The value at a JSON pointer.
pub fn lookup<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Mapping(m) => m.get(Value::String(seg))?,
            Value::Sequence(s) => s.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A string field of a mapping, if it is a string.
pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
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

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
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
