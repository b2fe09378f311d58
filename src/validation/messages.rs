//! serde's messages in the words of people who write YAML, not Rust: the
//! schema checks and the loaders' typed reads both show them.

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
    if a.chars().count().abs_diff(b.chars().count()) > 1 || a.chars().count() < 4 {
        return false;
    }
    strsim::levenshtein(&a, &b) <= 1
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
