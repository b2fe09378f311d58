//! Assertion trees, compared exactly as kyverno-json compares them (its
//! `core/assertion`, `core/projection` and `core/matching` packages, which
//! chainsaw's assert, error, check, match and expect use):
//!
//! - a map is a subset: every expected key must be found, extra actual keys
//!   are ignored; an empty map only asks for a value that is not null;
//! - a key may be an expression, `(expr)`, evaluated with the actual value as
//!   `@` (an expression always "finds" its value, null included); `~.` before
//!   it iterates over the elements of an array (or the values of a map),
//!   `~name.` binds the index (or key) to `$name`, and `->name` after it binds
//!   the projected value to `$name` for what follows;
//! - an array matches an array of the same length, element by element;
//! - a scalar matches after number normalisation (1 and 1.0 are equal); a
//!   string value `(expr)` is evaluated with the actual value as `@` and its
//!   result compared (a map or array result as a subset, as above);
//! - values of different types that are not both numbers cannot be compared:
//!   that is an error that stops the assertion, not a mismatch.
//!
//! Mismatches are returned as field errors in the words of Kubernetes'
//! `field.Error` (`spec.replicas: Invalid value: 1: Expected value: 2`);
//! `resource_error` prints them as chainsaw does, with the diff of the
//! expected object against the pruned actual one.

use super::expr::{self, Bindings, Key};
use serde_json::{Map, Value};
use std::fmt;

/// A field path as Kubernetes prints it: `spec.containers[0].image`, `data[key]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn root() -> Path {
        Path(String::new())
    }

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}[{k}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("<nil>")
        } else {
            f.write_str(&self.0)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `Invalid value: <value>`.
    Invalid(Value),
    /// `Required value`.
    Required,
    /// `Internal error`.
    Internal,
}

/// One difference (or, for `Kind::Internal`, the error that stopped the comparison).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub path: Path,
    pub kind: Kind,
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Invalid(v) => write!(f, "{}: Invalid value: {}", self.path, bad_value(v))?,
            Kind::Required => write!(f, "{}: Required value", self.path)?,
            Kind::Internal => write!(f, "{}: Internal error", self.path)?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

fn invalid(path: &Path, value: &Value, detail: impl Into<String>) -> FieldError {
    FieldError { path: path.clone(), kind: Kind::Invalid(value.clone()), detail: detail.into() }
}

fn internal(path: &Path, detail: impl Into<String>) -> FieldError {
    FieldError { path: path.clone(), kind: Kind::Internal, detail: detail.into() }
}

/// A number as Go's `%v` prints a float64 or an int64.
pub fn go_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else if f.abs() >= 1e21 || (f != 0.0 && f.abs() < 1e-4) {
        let s = format!("{f:e}");
        // Go writes the exponent with a sign and at least two digits.
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map(|d| ('-', d)).unwrap_or(('+', e));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// Go's `%q` of a string (JSON's escapes agree for what manifests hold).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Go's `%#v` of a decoded JSON value.
fn go_sharp(v: &Value, top: bool) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => go_quote(s),
        Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(|x| go_sharp(x, false)).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(m) => {
            let inner: Vec<String> = m.iter().map(|(k, x)| format!("{}:{}", go_quote(k), go_sharp(x, false))).collect();
            let _ = top;
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}

/// How `field.Error` prints a bad value.
fn bad_value(v: &Value) -> String {
    match v {
        Value::Null => "\"null\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => go_quote(s),
        other => go_sharp(other, true),
    }
}

/// kyverno-json's `expectValueMessage`.
fn expect_message(v: &Value) -> String {
    match v {
        Value::Bool(_) | Value::Number(_) => format!("Expected value: {}", bad_value(v)),
        Value::String(s) => format!("Expected value: {}", go_quote(s)),
        other => format!("Expected value: {}", go_sharp(other, true)),
    }
}

/// Go's name for the kind of a decoded JSON value.
fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Compares `actual` against the assertion tree `expected`. `Ok` holds the
/// mismatches (none: it matches); `Err` is an error that stops the
/// comparison (an expression that fails, values that cannot be compared).
pub fn check(expected: &Value, actual: &Value, bindings: &Bindings) -> Result<Vec<FieldError>, FieldError> {
    let mut errs = Vec::new();
    node(&Path::root(), expected, actual, bindings, false, &mut errs)?;
    Ok(errs)
}

/// kuttl's comparison: the same rules, with every key and value taken
/// literally (kuttl has no expressions: `(x)` is the text `(x)`).
pub fn check_literal(expected: &Value, actual: &Value) -> Result<Vec<FieldError>, FieldError> {
    let mut errs = Vec::new();
    node(&Path::root(), expected, actual, &Bindings::new(), true, &mut errs)?;
    Ok(errs)
}

fn node(
    path: &Path,
    expected: &Value,
    actual: &Value,
    b: &Bindings,
    literal: bool,
    errs: &mut Vec<FieldError>,
) -> Result<(), FieldError> {
    match expected {
        Value::Object(m) => map_node(path, m, actual, b, literal, errs),
        Value::Array(items) => {
            match actual {
                Value::Null => errs.push(invalid(path, actual, "value is null")),
                Value::Array(a) if a.len() != items.len() => {
                    errs.push(invalid(path, actual, "lengths of slices don't match"))
                }
                Value::Array(a) => {
                    for (i, (e, x)) in items.iter().zip(a).enumerate() {
                        node(&path.index(i), e, x, b, literal, errs)?;
                    }
                }
                other => return Err(invalid(path, other, "expected a slice")),
            }
            Ok(())
        }
        scalar => {
            let want = if literal { scalar.clone() } else { scalar_value(path, scalar, actual, b)? };
            match matches(&want, actual) {
                Ok(true) => {}
                Ok(false) => errs.push(invalid(path, actual, expect_message(&want))),
                Err(e) => return Err(internal(path, e)),
            }
            Ok(())
        }
    }
}

fn map_node(
    path: &Path,
    m: &Map<String, Value>,
    actual: &Value,
    b: &Bindings,
    literal: bool,
    errs: &mut Vec<FieldError>,
) -> Result<(), FieldError> {
    if m.is_empty() {
        if actual.is_null() {
            errs.push(invalid(path, actual, "invalid value, must not be null"));
        }
        return Ok(());
    }
    let mut b = b.clone();
    for (k, v) in m {
        let here = path.child(k);
        let key = if literal { Key { statement: k.clone(), ..Key::default() } } else { Key::parse(k) };
        let projected = match &key.compiler {
            Some(compiler) => {
                Some(expr::eval_with(compiler, &key.statement, actual, &b).map_err(|e| internal(&here, e))?)
            }
            None => match actual {
                Value::Null => None,
                Value::Object(o) => o.get(&key.statement).cloned(),
                _ => return Err(internal(&here, "projection not recognized")),
            },
        };
        let Some(projected) = projected else {
            errs.push(FieldError {
                path: here,
                kind: Kind::Required,
                detail: "field not found in the input object".into(),
            });
            continue;
        };
        if let Some(name) = &key.binding {
            b = b.with(name, projected.clone());
        }
        if key.foreach {
            match &projected {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let bi = match &key.foreach_name {
                            Some(n) => b.with(n, Value::from(i)),
                            None => b.clone(),
                        };
                        node(&here.index(i), v, item, &bi, literal, errs)?;
                    }
                }
                Value::Object(o) => {
                    for (name, item) in o {
                        let bi = match &key.foreach_name {
                            Some(n) => b.with(n, Value::String(name.clone())),
                            None => b.clone(),
                        };
                        node(&here.key(name), v, item, &bi, literal, errs)?;
                    }
                }
                other => return Err(invalid(&here, other, "expected a slice or a map")),
            }
        } else {
            node(&here, v, &projected, &b, literal, errs)?;
        }
    }
    Ok(())
}

/// The expected value of a leaf: itself, or the result of its expression.
fn scalar_value(path: &Path, scalar: &Value, actual: &Value, b: &Bindings) -> Result<Value, FieldError> {
    let Value::String(s) = scalar else { return Ok(scalar.clone()) };
    let key = Key::parse(s);
    if key.foreach {
        return Err(invalid(path, scalar, "foreach is not supported in scalar projections"));
    }
    if key.binding.is_some() {
        return Err(invalid(path, scalar, "binding is not supported in scalar projections"));
    }
    match &key.compiler {
        Some(c) => expr::eval_with(c, &key.statement, actual, b).map_err(|e| internal(path, e)),
        None => Ok(Value::String(key.statement)),
    }
}

/// kyverno-json's `matching.Match`: arrays and maps of an expression's result
/// compare as in the tree, anything else by `equal`.
pub fn matches(expected: &Value, actual: &Value) -> Result<bool, String> {
    match expected {
        Value::Array(e) => {
            let Value::Array(a) = actual else {
                return Err(format!("invalid actual value, must be a slice, found {}", kind_name(actual)));
            };
            if e.len() != a.len() {
                return Ok(false);
            }
            for (x, y) in e.iter().zip(a) {
                if !matches(x, y)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Object(e) => {
            let Value::Object(a) = actual else {
                return Err(format!("invalid actual value, must be a map, found {}", kind_name(actual)));
            };
            for (k, x) in e {
                match a.get(k) {
                    None => return Ok(false),
                    Some(y) => {
                        if !matches(x, y)? {
                            return Ok(false);
                        }
                    }
                }
            }
            Ok(true)
        }
        _ => equal(expected, actual),
    }
}

/// kyverno-json's `matching.Equal`: null only equals null, numbers compare
/// by value, same kinds deeply, and other pairs cannot be compared.
pub fn equal(expected: &Value, actual: &Value) -> Result<bool, String> {
    match (expected, actual) {
        (Value::Null, Value::Null) => Ok(true),
        (Value::Null, _) | (_, Value::Null) => Ok(false),
        (Value::Number(x), Value::Number(y)) => Ok(match (x.as_i64(), y.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        }),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        (Value::String(x), Value::String(y)) => Ok(x == y),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => Ok(deep_equal(expected, actual)),
        _ => Err(format!("types are not comparable, {} - {}", kind_name(expected), kind_name(actual))),
    }
}

fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64() && x.is_f64() == y.is_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The failure of one candidate, as chainsaw prints it: a header naming the
/// object, each difference (sorted), and the diff of the expected object
/// against the actual one pruned to the expected fields.
pub fn resource_error(expected: &Value, actual: &Value, errs: &[FieldError]) -> String {
    let r = super::client::ObjectRef::of(actual);
    let header = format!("{}/{}/{}", r.api_version, r.kind, r.key());
    let sep = "-".repeat(header.chars().count());
    let mut lines = vec![sep.clone(), header, sep];
    let mut errl: Vec<String> = errs.iter().map(|e| format!("* {e}")).collect();
    errl.sort();
    lines.extend(errl);
    lines.push(String::new());
    lines.push(pretty_diff(expected, actual));
    lines.join("\n").trim_end().to_string()
}

/// The unified diff (3 lines of context) of `expected` against `actual`
/// pruned to the keys `expected` has (keeping apiVersion, kind, and the
/// metadata's name and ownerReferences), both as YAML.
pub fn pretty_diff(expected: &Value, actual: &Value) -> String {
    let mut actual = actual.clone();
    if let (Value::Object(e), Value::Object(a)) = (expected, &mut actual) {
        prune(e, a, 0);
    }
    let ey = to_yaml(expected);
    let ay = to_yaml(&actual);
    similar::TextDiff::from_lines(&ey, &ay).unified_diff().context_radius(3).header("expected", "actual").to_string()
}

/// `level` 0 is the object, 1 its metadata, 2 anything else.
fn prune(expected: &Map<String, Value>, actual: &mut Map<String, Value>, level: u8) {
    let keep = |k: &str| match level {
        0 => k == "apiVersion" || k == "kind",
        1 => k == "name" || k == "ownerReferences",
        _ => false,
    };
    actual.retain(|k, _| keep(k) || expected.get(k).is_some_and(|v| !v.is_null()));
    for (k, v) in actual.iter_mut() {
        if let (Value::Object(a), Some(Value::Object(e))) = (v, expected.get(k)) {
            let next = if level == 0 && k == "metadata" { 1 } else { 2 };
            prune(e, a, next);
        }
    }
}

pub fn to_yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares `actual` (YAML) against the assertion `expected` (YAML) and
    /// renders the result: `ok`, each field error on a line, or `error: …`.
    fn check(expected: &str, actual: &str, expect: &str) {
        let e: Value = serde_yaml::from_str(expected).unwrap();
        let a: Value = serde_yaml::from_str(actual).unwrap();
        let b = Bindings::new().with("namespace", Value::String("chainsaw-x".into()));
        let got = match super::check(&e, &a, &b) {
            Ok(errs) if errs.is_empty() => "ok".to_string(),
            Ok(errs) => errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect.trim(), "\nexpected tree:\n{expected}\nactual:\n{actual}");
    }

    #[test]
    fn maps_are_subsets() {
        check("data: {foo: bar}", "data: {foo: bar, extra: 1}\nkind: ConfigMap", "ok");
        check("data: {foo: bar}", "data: {foo: baz}", r#"data.foo: Invalid value: "baz": Expected value: "bar""#);
        check(
            "metadata: {annotations: {foo: bar}}",
            "metadata: {name: x}",
            "metadata.annotations: Required value: field not found in the input object",
        );
        check("spec: {}", "spec: {a: 1}", "ok");
        check("spec: {}", "kind: X", "spec: Required value: field not found in the input object");
        check("spec: {}", "spec: null", r#"spec: Invalid value: "null": invalid value, must not be null"#);
        check("spec: {a: 1}", "spec: 5", "error: spec.a: Internal error: projection not recognized");
    }

    #[test]
    fn arrays_by_length_and_order() {
        check("list: [a, b]", "list: [a, b]", "ok");
        check("list: [b, a]", "list: [a, b]", "list[0]: Invalid value: \"a\": Expected value: \"b\"\nlist[1]: Invalid value: \"b\": Expected value: \"a\"");
        check(
            "list: [a]",
            "list: [a, b]",
            r#"list: Invalid value: []interface {}{"a", "b"}: lengths of slices don't match"#,
        );
        check("list: [{name: x}]", "list: [{name: x, image: y}]", "ok");
        check("list: [a]", "list: null", r#"list: Invalid value: "null": value is null"#);
        check("list: [a]", "list: a", r#"error: list: Invalid value: "a": expected a slice"#);
    }

    #[test]
    fn scalars_after_number_normalisation() {
        check("replicas: 2", "replicas: 2.0", "ok");
        check("replicas: 2", "replicas: 3", "replicas: Invalid value: 3: Expected value: 2");
        check("ready: true", "ready: false", "ready: Invalid value: false: Expected value: true");
        check("v: 1.5", "v: 1.5", "ok");
        check("v: '1'", "v: 1", "error: v: Internal error: types are not comparable, string - int64");
        check("v: ~", "v: ~", "ok");
        check(
            "v: ~",
            "v: 1",
            "v: Invalid value: 1: Expected value: map[string]interface {}{}"
                .replace("map[string]interface {}{}", "interface {}(nil)")
                .as_str(),
        );
    }

    #[test]
    fn expressions_in_keys_and_values() {
        check("spec:\n  (replicas > `1` && replicas < `4`): true", "spec: {replicas: 2}", "ok");
        check(
            "spec:\n  (replicas > `1`): true",
            "spec: {replicas: 1}",
            "spec.(replicas > `1`): Invalid value: false: Expected value: true",
        );
        check("spec:\n  (length(containers)): 2", "spec: {containers: [a, b]}", "ok");
        check(
            "status:\n  (conditions[?type == 'Ready']):\n  - status: 'True'",
            "status: {conditions: [{type: Ready, status: 'True'}, {type: X, status: 'False'}]}",
            "ok",
        );
        check(
            "metadata:\n  labels:\n    type:\n      (starts_with(@, 'my-first-')): true",
            "metadata: {labels: {type: my-first-configmap}}",
            "ok",
        );
        // As a value the expression's result (true) is compared with the string.
        check(
            "metadata:\n  labels:\n    type: (starts_with(@, 'my-first-'))",
            "metadata: {labels: {type: my-first-configmap}}",
            "error: metadata.labels.type: Internal error: types are not comparable, bool - string",
        );
        check("metadata:\n  name: ($namespace)", "metadata: {name: chainsaw-x}", "ok");
        check("metadata:\n  name: '\\(x)\\'", "metadata: {name: (x)}", "ok");
        check(
            "spec:\n  (nope(@)): 1",
            "spec: {}",
            "error: spec.(nope(@)): Internal error: Call to undefined function nope",
        );
        check("a: ($nope)", "a: 1", "error: a: Internal error: variable not defined: $nope");
        // An expression always finds its value, null included.
        check("spec:\n  (missing): ~", "spec: {}", "ok");
    }

    #[test]
    fn iteration_and_bindings() {
        let pod = "spec:\n  containers:\n  - {name: container-1, image: nginx-1, env: [{name: ENV_1, value: value-1}]}\n  - {name: container-2, image: nginx-2, env: [{name: ENV_2, value: value-2}]}\n";
        check("spec:\n  ~.(containers[?name == 'container-1']):\n    image: nginx-1\n", pod, "ok");
        check("spec:\n  ~index.(containers):\n    image: (join('-', ['nginx', to_string($index + `1`)]))\n", pod, "ok");
        check(
            "spec:\n  ~index2.(containers):\n    ~.(env):\n      name: (join('_', ['ENV', to_string($index2 + `1`)]))\n",
            pod,
            "ok",
        );
        check(
            "spec:\n  ~.(containers):\n    image: nginx-1\n",
            pod,
            r#"spec.~.(containers)[1].image: Invalid value: "nginx-2": Expected value: "nginx-1""#,
        );
        check("spec:\n  ~.containers:\n    (starts_with(name, 'container-')): true\n", pod, "ok");
        check("spec:\n  (containers[0])->first:\n    ($first.name): container-1\n", pod, "ok");
        check("data:\n  ~key.(@):\n    (starts_with($key, 'k')): true\n", "data: {k1: a, k2: b}", "ok");
        check(
            "spec:\n  ~.(replicas): {}\n",
            "spec: {replicas: 1}",
            "error: spec.~.(replicas): Invalid value: 1: expected a slice or a map",
        );
        check("a: '~.b'", "a: x", r#"error: a: Invalid value: "~.b": foreach is not supported in scalar projections"#);
    }

    #[test]
    fn kuttl_compares_literally() {
        let lit = |e: &str, a: &str| {
            let e: Value = serde_yaml::from_str(e).unwrap();
            let a: Value = serde_yaml::from_str(a).unwrap();
            check_literal(&e, &a)
                .map(|v| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n"))
                .map_err(|e| e.to_string())
        };
        assert_eq!(lit("data: {k: (x)}", "data: {k: (x)}"), Ok(String::new()));
        assert_eq!(lit("data: {(x): v}", "data: {(x): v}"), Ok(String::new()));
        assert_eq!(lit("spec: {replicas: 2}", "spec: {replicas: 2.0, paused: false}"), Ok(String::new()));
        assert_eq!(
            lit("list: [a]", "list: [a, b]"),
            Ok(r#"list: Invalid value: []interface {}{"a", "b"}: lengths of slices don't match"#.into())
        );
    }

    #[test]
    fn failure_message_like_chainsaw() {
        let expected: Value = serde_yaml::from_str(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations: {foo: bar}\n  labels: {app: nginx}\nspec: {}\n",
        )
        .unwrap();
        let actual: Value = serde_yaml::from_str("apiVersion: v1\nkind: Pod\nmetadata:\n  name: example\n  namespace: ns\n  labels: {app: nginx}\n  uid: abc\nspec: {containers: [{name: c}]}\nstatus: {phase: Running}\n").unwrap();
        let errs = super::check(&expected, &actual, &Bindings::new()).unwrap();
        let got = resource_error(&expected, &actual, &errs);
        let want = "\
-----------------
v1/Pod/ns/example
-----------------
* metadata.annotations: Required value: field not found in the input object

--- expected
+++ actual
@@ -1,8 +1,7 @@
 apiVersion: v1
 kind: Pod
 metadata:
-  annotations:
-    foo: bar
   labels:
     app: nginx
+  name: example
 spec: {}";
        assert_eq!(got, want, "\n{got}");
    }
}
