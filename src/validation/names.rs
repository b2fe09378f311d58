//! The string grammars of the Kubernetes API: names, label keys and values,
//! port names, ConfigMap keys, environment variable names, quantities and
//! image references.
//!
//! Ported from k8s.io/apimachinery/pkg/util/validation (validation.go) and
//! k8s.io/apimachinery/pkg/api/validation/path (names.go), the quantity
//! grammar of k8s.io/apimachinery/pkg/api/resource (quantity.go) and the
//! reference grammar of github.com/distribution/reference (regexp.go). Each
//! function returns `None` when the value is valid, or the reason it is not.

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;

fn label_chars(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// IsDNS1123Label: lowercase letters, digits and '-', alphanumeric at both
/// ends, at most 63 characters.
pub fn dns1123_label(s: &str) -> Option<String> {
    if s.len() > DNS1123_LABEL_MAX {
        return Some(format!("must be no more than {DNS1123_LABEL_MAX} characters"));
    }
    if !label_chars(s) {
        return Some("a lowercase RFC 1123 label must consist of lowercase letters, digits and '-', and must start and end with a letter or digit".into());
    }
    None
}

/// IsDNS1123Subdomain: dot-separated DNS-1123 labels, at most 253 characters.
pub fn dns1123_subdomain(s: &str) -> Option<String> {
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Some(format!("must be no more than {DNS1123_SUBDOMAIN_MAX} characters"));
    }
    if !s.split('.').all(label_chars) {
        return Some("a lowercase RFC 1123 subdomain must consist of lowercase letters, digits, '-' and '.', and must start and end with a letter or digit".into());
    }
    None
}

/// Checks a container's name: podman and a cluster both need a DNS label, and
/// k8s-openapi turns a missing name into an empty one.
pub fn container_name(name: &str) -> Result<(), String> {
    match name {
        "" => Err("a container needs a `name`".into()),
        n if dns1123_label(n).is_some() => {
            Err(format!("container name `{n}` must be a DNS label (lowercase letters, digits and '-', at most 63)"))
        }
        _ => Ok(()),
    }
}

/// IsDNS1035Label: a DNS-1123 label that starts with a letter (Service names).
pub fn dns1035_label(s: &str) -> Option<String> {
    if let Some(e) = dns1123_label(s) {
        return Some(
            e.replace("RFC 1123", "RFC 1035")
                .replace("start and end with a letter or digit", "start with a letter and end with a letter or digit"),
        );
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("a DNS-1035 label must start with a lowercase letter".into());
    }
    None
}

/// IsValidPathSegmentName (ValidatePathSegmentName): what RBAC objects'
/// names must be, so `system:aggregated-metrics-reader` is a valid name.
pub fn path_segment(s: &str) -> Option<String> {
    if s == "." || s == ".." {
        return Some(format!("may not be '{s}'"));
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            return Some(format!("may not contain '{bad}'"));
        }
    }
    None
}

/// The `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` of qualified names and label values.
fn qualified_chars(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// IsQualifiedName: label and annotation keys, `[prefix/]name` with a DNS
/// subdomain prefix and a name of at most 63 characters.
pub fn qualified_name(s: &str) -> Option<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Some("prefix part must be non-empty".into());
        }
        if let Some(e) = dns1123_subdomain(p) {
            return Some(format!("prefix part {e}"));
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > QUALIFIED_NAME_MAX {
        return Some(format!("name part must be no more than {QUALIFIED_NAME_MAX} characters"));
    }
    if name.contains('/') || !qualified_chars(name) {
        return Some("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into());
    }
    None
}

/// IsValidLabelValue: empty, or at most 63 characters of the qualified-name alphabet.
pub fn label_value(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    if s.len() > LABEL_VALUE_MAX {
        return Some(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !qualified_chars(s) {
        return Some("a valid label value must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".into());
    }
    None
}

/// IsValidPortName: an IANA service name (IANA_SVC_NAME): at most 15
/// lowercase letters, digits and '-', at least one letter, no '-' at either
/// end or twice in a row.
pub fn port_name(s: &str) -> Option<String> {
    if s.len() > 15 {
        return Some("must be no more than 15 characters".into());
    }
    if !s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        return Some("must contain only lowercase alphanumeric characters or '-' (a-z, 0-9, -)".into());
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        return Some("must contain at least one letter (a-z)".into());
    }
    if s.contains("--") {
        return Some("must not contain consecutive hyphens".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Some("must not begin or end with a hyphen".into());
    }
    None
}

/// IsValidPortNum: 1 to 65535.
pub fn port_number(n: i64) -> Option<String> {
    (!(1..=65535).contains(&n)).then(|| "must be between 1 and 65535, inclusive".into())
}

/// IsConfigMapKey: ConfigMap and Secret keys, `[-._a-zA-Z0-9]+`, at most 253
/// characters, and not `.` or `..` or starting with `..`.
pub fn config_map_key(s: &str) -> Option<String> {
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Some(format!("must be no more than {DNS1123_SUBDOMAIN_MAX} characters"));
    }
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) {
        return Some("a valid config key must consist of alphanumeric characters, '-', '_' or '.'".into());
    }
    if s == "." || s == ".." {
        return Some(format!("must not be '{s}'"));
    }
    if s.starts_with("..") {
        return Some("must not start with '..'".into());
    }
    None
}

/// IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation, on by default
/// since Kubernetes 1.32): printable ASCII other than '='.
pub fn env_var_name(s: &str) -> Option<String> {
    if s.is_empty() || !s.bytes().all(|c| (b' '..=b'~').contains(&c) && c != b'=') {
        return Some(
            "a valid environment variable name must consist only of printable ASCII characters other than '='".into(),
        );
    }
    None
}

/// resource.ParseQuantity's grammar: a signed decimal number and a suffix
/// (binary Ki..Ei, decimal n u m k M G T P E, or an exponent e<int>).
pub fn quantity(s: &str) -> Option<String> {
    const WHY: &str = "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (a quantity such as 500m, 128Mi or 1Gi)";
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (num, suffix) = body.split_at(end);
    let digits = num.replace('.', "");
    if digits.is_empty() || num.matches('.').count() > 1 {
        return Some(WHY.into());
    }
    let ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        e => {
            let exp = &e[1..];
            e.starts_with(['e', 'E']) && {
                let d = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
            }
        }
    };
    (!ok).then(|| WHY.into())
}

/// `[a-z0-9]+` runs joined by separators (`.`, `_`, `__` or any run of `-`):
/// a path component of distribution/reference.
fn path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|c| *c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A registry host: DNS components, or an IPv6 address in brackets, with
/// an optional port.
fn domain(s: &str) -> bool {
    let port_ok = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if let Some(inner) = s.strip_prefix('[') {
        let Some((v6, after)) = inner.split_once(']') else { return false };
        let port = after.strip_prefix(':');
        return !v6.is_empty()
            && v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':')
            && (after.is_empty() || port.is_some_and(port_ok));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let component = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    port.is_none_or(port_ok) && host.split('.').all(component)
}

/// Go's `\w`, which is ASCII: letters, digits and `_`.
fn word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// A tag: `[\w][\w.-]{0,127}`.
fn tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|c| word(*c) || *c == b'.' || *c == b'-')
}

/// A digest: an algorithm (`[A-Za-z][A-Za-z0-9]*` parts joined by `-_+.`),
/// `:`, and at least 32 hex digits.
fn digest(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else { return false };
    let part = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    alg.split(['-', '_', '+', '.']).all(part) && hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The image reference grammar of distribution/reference (ReferenceRegexp and
/// ParseNormalizedNamed), which the kubelet and podman apply when they pull,
/// written out by hand: the regular expression took 50 ms to compile with
/// Unicode classes, and Go's `\w` is ASCII anyway (`busybox:tég` is refused).
/// The API server itself only refuses surrounding whitespace, so a bad
/// reference is accepted and fails the pod later (InvalidImageName).
pub fn image(s: &str) -> Option<String> {
    if s.trim() != s {
        return Some("must not have leading or trailing whitespace".into());
    }
    const BAD: &str = "is not a valid image reference: repository names are lowercase letters, digits and separators, with an optional registry host, `:tag` and `@digest`";
    let (rest, dig) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if dig.is_some_and(|d| !digest(d)) {
        return Some(BAD.into());
    }
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tg) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    if tg.is_some_and(|t| !tag(t)) {
        return Some(BAD.into());
    }
    let parts: Vec<&str> = name.split('/').collect();
    let first_ok = |p: &str| if parts.len() > 1 { path_component(p) || domain(p) } else { path_component(p) };
    if !first_ok(parts[0]) || !parts[1..].iter().all(|p| path_component(p)) {
        return Some(BAD.into());
    }
    if name.len() > 255 {
        return Some("is not a valid image reference: the repository name is longer than 255 characters".into());
    }
    // ParseNormalizedNamed: a bare 64-digit hex string is an image ID, not a name.
    if name.len() == 64 && tg.is_none() && dig.is_none() && name.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Some(
            "is not a valid image reference: a 64-digit hexadecimal string is an image ID, not a repository name"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(input)` is valid when `expect` is empty, else its reason contains `expect`.
    fn check(f: fn(&str) -> Option<String>, input: &str, expect: &str) {
        match (f(input), expect) {
            (None, "") => {}
            (Some(e), x) if !x.is_empty() && e.contains(x) => {}
            (got, _) => panic!("{input:?}: got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn grammars() {
        for (f, input, expect) in [
            (dns1123_label as fn(&str) -> Option<String>, "web-1", ""),
            (dns1123_label, "Web", "lowercase RFC 1123 label"),
            (dns1123_label, "-web", "start and end"),
            (dns1123_label, &"a".repeat(64), "no more than 63"),
            (dns1123_subdomain, "a.b-c.d", ""),
            (dns1123_subdomain, "a..b", "subdomain"),
            (dns1123_subdomain, "web_server", "subdomain"),
            (dns1035_label, "1web", "start with a lowercase letter"),
            (dns1035_label, "web", ""),
            (path_segment, "system:aggregated-metrics-reader", ""),
            (path_segment, "a/b", "may not contain '/'"),
            (path_segment, "..", "may not be '..'"),
            (qualified_name, "app.kubernetes.io/name", ""),
            (qualified_name, "Name_1.x", ""),
            (qualified_name, "a/b/c", "name part"),
            (qualified_name, "/x", "prefix part must be non-empty"),
            (qualified_name, "Ex.com/x", "prefix part"),
            (qualified_name, "-x", "name part"),
            (label_value, "", ""),
            (label_value, "v1.2_3", ""),
            (label_value, "a b", "valid label value"),
            (label_value, &"a".repeat(64), "no more than 63"),
            (port_name, "http", ""),
            (port_name, "http-metrics-port", "no more than 15"),
            (port_name, "8080", "at least one letter"),
            (port_name, "a--b", "consecutive"),
            (port_name, "HTTP", "lowercase"),
            (config_map_key, "app.properties", ""),
            (config_map_key, "a/b", "valid config key"),
            (config_map_key, "..data", "must not start with '..'"),
            (env_var_name, "MY_VAR", ""),
            (env_var_name, "my.var-1", ""),
            (env_var_name, "A=B", "other than '='"),
            (env_var_name, "", "printable"),
            (quantity, "500m", ""),
            (quantity, "1.5Gi", ""),
            (quantity, "1e3", ""),
            (quantity, "-1", ""),
            (quantity, ".5", ""),
            (quantity, "1Gx", "regular expression"),
            (quantity, "1 Gi", "regular expression"),
            (quantity, "Gi", "regular expression"),
            (quantity, "1.2.3", "regular expression"),
            (image, "nginx", ""),
            (image, "nginx:1.25", ""),
            (image, "registry.k8s.io:5000/pause:3.9", ""),
            (image, "localhost/podproof/debian:bookworm", ""),
            (image, "quay.io/prometheus/node-exporter@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""),
            (image, "Nginx:1", "not a valid image reference"),
            (image, "nginx:", "not a valid image reference"),
            (image, " nginx", "whitespace"),
            (image, "busybox:tég", "not a valid image reference"),
            (image, "busybox:1.36.1-musl_x", ""),
            (image, "docker.io/library/nginx:1.25", ""),
            (image, "my-registry.example.com:5000/team/app__x/a.b:v1", ""),
            (image, "[fe80::1]:5000/app:1", ""),
            (image, "[fe80::1]/app", ""),
            (image, "localhost:5000", ""),
            (image, "Registry.Example.com/app", ""),
            (image, "registry.example.com/App", "not a valid image reference"),
            (image, "a_-b", "not a valid image reference"),
            (image, "a---b/c-d", ""),
            (image, "a.-b", "not a valid image reference"),
            (image, "app:-1", "not a valid image reference"),
            (image, "app@sha256:0123", "not a valid image reference"),
            (image, "app:1@sha256:0123456789abcdef0123456789abcdef", ""),
            (image, "-registry/app", "not a valid image reference"),
            (image, "registry-/app", "not a valid image reference"),
            (image, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image ID"),
            (image, "app//x", "not a valid image reference"),
            (image, "app/", "not a valid image reference"),
            (image, "{{ .Values.image }}", "not a valid image reference"),
        ] {
            check(f, input, expect);
        }
    }
}
