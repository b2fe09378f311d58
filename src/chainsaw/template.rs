//! Resource templating: every string value of a resource that is an
//! expression, `(expr)`, is replaced by its result, with the value in its own
//! place as `@` (chainsaw's `mutate` package). Keys are not templated.

use super::expr::{self, Bindings, Text};
use serde_json::{Map, Value};

/// The templated copy of `value`; the error names the field whose expression failed.
pub fn template(value: &Value, bindings: &Bindings) -> Result<Value, String> {
    mutate(value, value, bindings)
}

/// `tpl` with each expression evaluated against the value of `data` in the
/// same place (chainsaw's `mutate.Mutate`): a binding's value sees its input
/// this way, an output the object of its operation.
pub fn mutate(tpl: &Value, data: &Value, bindings: &Bindings) -> Result<Value, String> {
    walk(tpl, data, bindings, &super::assert::Path::root())
}

fn walk(v: &Value, data: &Value, b: &Bindings, path: &super::assert::Path) -> Result<Value, String> {
    Ok(match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k.clone(), walk(x, data.get(k).unwrap_or(&Value::Null), b, &path.child(k))?);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            if !(data.is_null() || data.is_array()) {
                return Err(format!("{path}: Invalid value: expected a slice or array"));
            }
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| walk(x, data.get(i).unwrap_or(&Value::Null), b, &path.index(i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::String(s) => match expr::text(s) {
            Text::Expr { compiler, statement } => {
                expr::eval_with(&compiler, &statement, data, b).map_err(|e| format!("{path}: Internal error: {e}"))?
            }
            // A plain string stays as written, escapes included (`mutate` evaluates expressions only).
            Text::Plain(_) => v.clone(),
        },
        other => other.clone(),
    })
}

/// Templates only what finds an object (apiVersion, kind, name, namespace,
/// labels), as assert and error do before their lookup: the rest of an
/// assertion is evaluated against each candidate.
pub fn template_ref(obj: &Value, bindings: &Bindings) -> Result<Value, String> {
    let mut out = obj.clone();
    for p in ["/apiVersion", "/kind", "/metadata/name", "/metadata/namespace"] {
        if let Some(Value::String(s)) = obj.pointer(p) {
            if let Text::Expr { compiler, statement } = expr::text(s) {
                let v = expr::eval_with(&compiler, &statement, &Value::Null, bindings)
                    .map_err(|e| format!("{}: Internal error: {e}", p.trim_start_matches('/').replace('/', ".")))?;
                if let Some(slot) = out.pointer_mut(p) {
                    *slot = v;
                }
            }
        }
    }
    if let Some(Value::Object(labels)) = obj.pointer("/metadata/labels") {
        let mut templated = Map::new();
        for (k, v) in labels {
            let v = match v {
                Value::String(s) => match expr::text(s) {
                    Text::Expr { compiler, statement } => expr::eval_with(&compiler, &statement, v, bindings)
                        .map_err(|e| format!("metadata.labels.{k}: Internal error: {e}"))?,
                    Text::Plain(_) => v.clone(),
                },
                other => other.clone(),
            };
            templated.insert(k.clone(), v);
        }
        if let Some(slot) = out.pointer_mut("/metadata/labels") {
            *slot = Value::Object(templated);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: &str, expect: &str) {
        let v: Value = serde_yaml::from_str(input).unwrap();
        let b = Bindings::new().with("namespace", json!("chainsaw-x")).with("c", json!(3));
        let got = match template(&v, &b) {
            Ok(v) => serde_json::to_string(&v).unwrap(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn templates_values() {
        check("metadata: {name: ($namespace)}", r#"{"metadata":{"name":"chainsaw-x"}}"#);
        check("data: {foo: (to_string($c))}", r#"{"data":{"foo":"3"}}"#);
        check("spec: {replicas: ($c)}", r#"{"spec":{"replicas":3}}"#);
        check("list: [($c), plain, '\\(x)\\']", r#"{"list":[3,"plain","\\(x)\\"]}"#);
        check("($namespace): kept", r#"{"($namespace)":"kept"}"#);
        check("a: {b: ($nope)}", "error: a.b: Internal error: variable not defined: $nope");
    }
}
