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

/// Rewrites a serde message for people who write YAML, not Rust: type names
/// become YAML's, and an unknown field that is a near miss of a known one
/// names that one instead of listing them all.
pub fn humanize(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let Some((field, expected)) = rest.split_once('`') else { return msg.to_string() };
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // Kubernetes habits that have another name here.
        let synonym =
            [("replicas", "members")].iter().find(|(from, to)| *from == field && known.contains(to)).map(|(_, to)| to);
        if let Some(k) = synonym.or_else(|| known.iter().find(|k| near(field, k))) {
            return format!("unknown field `{field}`; did you mean `{k}`?");
        }
        return msg.to_string();
    }
    // The base64 decoder's own words, for Secret data and ConfigMap binaryData.
    if ["Invalid symbol", "Invalid last symbol", "Invalid input length", "Invalid padding"]
        .iter()
        .any(|p| msg.starts_with(p))
    {
        let why = msg.trim_end_matches('.').to_lowercase();
        return format!("not valid base64 ({why}); plain text belongs in stringData or data");
    }
    let mut out = msg.to_string();
    // Deserializers name the Rust type they wanted; say what to write instead.
    if let Some(i) = out.rfind("expected ") {
        let wanted = out[i + "expected ".len()..].trim_start_matches("struct ");
        if wanted.starts_with(|c: char| c.is_ascii_uppercase()) && wanted.chars().all(|c| c.is_ascii_alphanumeric()) {
            let yaml = match wanted {
                "Quantity" => "a quantity such as 500m, 128Mi or 1Gi",
                "IntOrString" => "an integer or a string",
                "Time" | "MicroTime" => "a time such as 2024-01-31T12:00:00Z",
                _ => "a mapping",
            };
            out.replace_range(i.., &format!("expected {yaml}"));
        }
    }
    for (rust, yaml) in [
        ("expected u8", "expected an integer from 0 to 255"),
        ("expected u16", "expected an integer from 0 to 65535"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected i32", "expected an integer"),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("invalid type: map,", "invalid type: mapping,"),
        ("expected a map", "expected a mapping"),
        ("invalid type: floating point", "invalid type: number"),
        ("expected a borrowed string", "expected a string"),
        ("invalid type: unit value", "invalid type: null"),
    ] {
        if let Some(i) = out.find(rust) {
            // Only whole words: "expected i32" must not match "expected i320".
            let end = i + rust.len();
            if !out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                out.replace_range(i..end, yaml);
            }
        }
    }
    // A number or boolean where text belongs is nearly always a missing quote.
    let scalar =
        ["invalid type: integer", "invalid type: number", "invalid type: boolean"].iter().any(|p| out.starts_with(p));
    if scalar && out.ends_with("expected a string") {
        out.push_str(" (quote the value to make it a string)");
    }
    // `- echo ready: yes` is a one-entry mapping, not the text it looks like.
    if out == "invalid type: mapping, expected a string" {
        out.push_str(" (a `: ` in an unquoted value starts a mapping; quote the value)");
    }
    out
}

/// Whether `a` is a likely typo of `b`: the same ignoring case, `-` and `_`,
/// or at most one edit apart.
pub fn near(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_lowercase();
    let (a, b) = (norm(a), norm(b));
    if a == b {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 || a.len() < 4 {
        return false;
    }
    // Levenshtein distance, one row at a time.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()] <= 1
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(humanize(input), expect);
    }

    #[test]
    fn serde_messages_read_as_yaml() {
        check(
            "invalid type: string \"three\", expected u32",
            "invalid type: string \"three\", expected a non-negative integer",
        );
        check(
            "invalid value: integer `-1`, expected u32",
            "invalid value: integer `-1`, expected a non-negative integer",
        );
        check("invalid type: string \"http\", expected i32", "invalid type: string \"http\", expected an integer");
        check("invalid type: map, expected a sequence", "invalid type: mapping, expected a sequence");
        check(
            "invalid type: integer `2`, expected a string",
            "invalid type: integer `2`, expected a string (quote the value to make it a string)",
        );
        check("invalid type: sequence, expected a string", "invalid type: sequence, expected a string");
        check("invalid type: null, expected a string", "invalid type: null, expected a string");
        check(
            "invalid type: map, expected a string",
            "invalid type: mapping, expected a string (a `: ` in an unquoted value starts a mapping; quote the value)",
        );
        check("missing field `image`", "missing field `image`");
        check(
            "invalid type: string \"web\", expected struct RoleSpec",
            "invalid type: string \"web\", expected a mapping",
        );
        check(
            "invalid type: sequence, expected Quantity",
            "invalid type: sequence, expected a quantity such as 500m, 128Mi or 1Gi",
        );
        check("invalid type: mapping, expected IntOrString", "invalid type: mapping, expected an integer or a string");
        check("invalid type: unit value, expected a string", "invalid type: null, expected a string");
        check(
            "Invalid symbol 33, offset 7.",
            "not valid base64 (invalid symbol 33, offset 7); plain text belongs in stringData or data",
        );
    }

    #[test]
    fn unknown_fields_suggest_near_misses() {
        check(
            "unknown field `mountpath`, expected one of `name`, `mountPath`, `files`",
            "unknown field `mountpath`; did you mean `mountPath`?",
        );
        check(
            "unknown field `imagee`, expected one of `name`, `image`",
            "unknown field `imagee`; did you mean `image`?",
        );
        check(
            "unknown field `persistent_dirs`, expected `persistentDirs`",
            "unknown field `persistent_dirs`; did you mean `persistentDirs`?",
        );
        check(
            "unknown field `replicas`, expected one of `name`, `members`",
            "unknown field `replicas`; did you mean `members`?",
        );
        check(
            "unknown field `status`, expected one of `apiVersion`, `kind`, `metadata`, `spec`",
            "unknown field `status`, expected one of `apiVersion`, `kind`, `metadata`, `spec`",
        );
        // Short names are too easily one edit from anything.
        check("unknown field `nam`, expected one of `name`", "unknown field `nam`, expected one of `name`");
    }
}
