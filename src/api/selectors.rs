//! Label and field selectors, as LIST and WATCH take them.
//!
//! Label selectors follow k8s.io/apimachinery/pkg/labels (the string
//! grammar: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
//! `a>1`, `a<1`) and metav1.LabelSelector (matchLabels, matchExpressions).
//! Field selectors follow pkg/fields: `f=v`, `f==v`, `f!=v`, over the fields
//! each resource's strategy makes selectable (GetAttrs); any other field is
//! refused, as the API server refuses it.

use super::errors::{ApiError, ApiResult};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty one selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Parses the `labelSelector` query parameter.
    pub fn parse(s: &str) -> ApiResult<LabelSelector> {
        let bad = |why: &str| ApiError::bad_request(format!("unable to parse requirement: {why}"));
        let mut reqs = Vec::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let skip_ws = |i: &mut usize| {
            while *i < chars.len() && chars[*i].is_whitespace() {
                *i += 1;
            }
        };
        let word = |i: &mut usize| -> String {
            let start = *i;
            while *i < chars.len() && !chars[*i].is_whitespace() && !"=!,()<>".contains(chars[*i]) {
                *i += 1;
            }
            chars[start..*i].iter().collect()
        };
        loop {
            skip_ws(&mut i);
            if i >= chars.len() {
                break;
            }
            let negated = chars[i] == '!';
            if negated {
                i += 1;
                skip_ws(&mut i);
            }
            let key = word(&mut i);
            if key.is_empty() {
                return Err(bad(&format!("found '{}', expected: identifier", chars.get(i).copied().unwrap_or(' '))));
            }
            check_key(&key).map_err(|e| bad(&e))?;
            skip_ws(&mut i);
            let rest: String = chars[i..].iter().collect();
            let op = if negated {
                Op::NotExists
            } else if i >= chars.len() || chars[i] == ',' {
                Op::Exists
            } else if rest.starts_with("==") || rest.starts_with("!=") || rest.starts_with('=') {
                let neq = rest.starts_with("!=");
                i += if rest.starts_with('=') && !rest.starts_with("==") { 1 } else { 2 };
                skip_ws(&mut i);
                let v = word(&mut i);
                check_value(&v).map_err(|e| bad(&e))?;
                if neq {
                    Op::NotEq(v)
                } else {
                    Op::Eq(v)
                }
            } else if rest.starts_with('>') || rest.starts_with('<') {
                let gt = rest.starts_with('>');
                i += 1;
                skip_ws(&mut i);
                let v = word(&mut i);
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(&format!("for 'gt', 'lt' operators, the value must be an integer: {v}")))?;
                if gt {
                    Op::Gt(n)
                } else {
                    Op::Lt(n)
                }
            } else {
                let w = word(&mut i);
                let not = match w.as_str() {
                    "in" => false,
                    "notin" => true,
                    other => return Err(bad(&format!("found '{other}', expected: in, notin, =, ==, !=, gt, lt"))),
                };
                skip_ws(&mut i);
                if chars.get(i) != Some(&'(') {
                    return Err(bad("found '', expected: '('"));
                }
                i += 1;
                let mut vals = Vec::new();
                loop {
                    skip_ws(&mut i);
                    let v = word(&mut i);
                    check_value(&v).map_err(|e| bad(&e))?;
                    if !v.is_empty() {
                        vals.push(v);
                    }
                    skip_ws(&mut i);
                    match chars.get(i) {
                        Some(',') => i += 1,
                        Some(')') => {
                            i += 1;
                            break;
                        }
                        _ => return Err(bad("found '', expected: ',', ')'")),
                    }
                }
                if not {
                    Op::NotIn(vals)
                } else {
                    Op::In(vals)
                }
            };
            reqs.push(Requirement { key, op });
            skip_ws(&mut i);
            match chars.get(i) {
                None => break,
                Some(',') => i += 1,
                Some(c) => return Err(bad(&format!("found '{c}', expected: ',' or 'end of string'"))),
            }
        }
        Ok(LabelSelector { reqs })
    }

    /// A metav1.LabelSelector (matchLabels and matchExpressions). A null
    /// selector selects nothing, an empty one everything
    /// (LabelSelectorAsSelector); `None` is returned for null.
    pub fn from_object(sel: &Value) -> ApiResult<Option<LabelSelector>> {
        if sel.is_null() {
            return Ok(None);
        }
        let mut reqs = Vec::new();
        for (k, v) in sel.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
            reqs.push(Requirement { key: k.clone(), op: Op::Eq(v.as_str().unwrap_or_default().to_string()) });
        }
        for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
            let vals: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            let op = match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
                "In" => Op::In(vals),
                "NotIn" => Op::NotIn(vals),
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::NotExists,
                other => {
                    return Err(ApiError::bad_request(format!("\"{other}\" is not a valid label selector operator")))
                }
            };
            reqs.push(Requirement { key, op });
        }
        Ok(Some(LabelSelector { reqs }))
    }

    pub fn matches(&self, labels: &[(&str, &str)]) -> bool {
        let get = |k: &str| labels.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
        self.reqs.iter().all(|r| match &r.op {
            Op::Eq(v) => get(&r.key) == Some(v.as_str()),
            Op::NotEq(v) => get(&r.key) != Some(v.as_str()),
            Op::In(vs) => get(&r.key).is_some_and(|x| vs.iter().any(|v| v == x)),
            Op::NotIn(vs) => get(&r.key).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Op::Exists => get(&r.key).is_some(),
            Op::NotExists => get(&r.key).is_none(),
            Op::Gt(n) => get(&r.key).and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x > *n),
            Op::Lt(n) => get(&r.key).and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x < *n),
        })
    }

    pub fn matches_object(&self, v: &Value) -> bool {
        self.is_empty() || self.matches(&super::meta::string_map(v, "labels"))
    }

    /// The selector as a string (what a Scale's status.selector carries).
    pub fn to_string_form(&self) -> String {
        let mut parts: Vec<String> = self
            .reqs
            .iter()
            .map(|r| match &r.op {
                Op::Eq(v) => format!("{}={v}", r.key),
                Op::NotEq(v) => format!("{}!={v}", r.key),
                Op::In(vs) => format!("{} in ({})", r.key, sorted(vs).join(",")),
                Op::NotIn(vs) => format!("{} notin ({})", r.key, sorted(vs).join(",")),
                Op::Exists => r.key.clone(),
                Op::NotExists => format!("!{}", r.key),
                Op::Gt(n) => format!("{}>{n}", r.key),
                Op::Lt(n) => format!("{}<{n}", r.key),
            })
            .collect();
        parts.sort();
        parts.join(",")
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn check_key(k: &str) -> Result<(), String> {
    match crate::validation::names::qualified_name(k) {
        Some(why) => Err(format!("invalid label key \"{k}\": {why}")),
        None => Ok(()),
    }
}

fn check_value(v: &str) -> Result<(), String> {
    let ok = v.len() <= 63
        && (v.is_empty()
            || (v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.ends_with(|c: char| c.is_ascii_alphanumeric())));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid label value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// (field, JSON pointer of its value in the stored object, value, equal).
    reqs: Vec<(String, &'static str, String, bool)>,
}

impl FieldSelector {
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Parses `fieldSelector` for a resource (by its storage and scope) and
    /// refuses fields that resource does not make selectable.
    pub fn parse(s: &str, kind: &str, group: &str, namespaced: bool) -> ApiResult<FieldSelector> {
        let mut reqs = Vec::new();
        for part in split_unescaped(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, value, eq) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{s}'; can't understand '{part}'")));
            };
            let field = field.trim().to_string();
            let Some(pointer) = field_pointer(&field, kind, group, namespaced) else {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            };
            reqs.push((field, pointer, unescape(value.trim()), eq));
        }
        Ok(FieldSelector { reqs })
    }

    pub fn matches(&self, v: &Value) -> bool {
        self.reqs.iter().all(|(f, p, want, eq)| (field_value(v, f, p) == *want) == *eq)
    }

    /// The value a selector demands of `field` with `=`, if any (to narrow a
    /// LIST to one namespace or name).
    pub fn demands(&self, field: &str) -> Option<&str> {
        self.reqs.iter().find(|(f, _, _, eq)| f == field && *eq).map(|(_, _, v, _)| v.as_str())
    }
}

/// Splits on commas not escaped with a backslash (fields.ParseSelector).
fn split_unescaped(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.last_mut().expect("never empty").push('\\');
            out.last_mut().expect("never empty").push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == ',' {
            out.push(String::new());
        } else {
            out.last_mut().expect("never empty").push(c);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")
}

/// The selectable fields of each kind beyond metadata.name and
/// metadata.namespace (each strategy's ToSelectableFields), as JSON pointers.
fn field_pointer(field: &str, kind: &str, group: &str, namespaced: bool) -> Option<&'static str> {
    match field {
        "metadata.name" => return Some("/metadata/name"),
        "metadata.namespace" if namespaced => return Some("/metadata/namespace"),
        _ => {}
    }
    let table: &[(&str, &str)] = match (group, kind) {
        ("", "Pod") => &[
            ("spec.nodeName", "/spec/nodeName"),
            ("spec.restartPolicy", "/spec/restartPolicy"),
            ("spec.schedulerName", "/spec/schedulerName"),
            ("spec.serviceAccountName", "/spec/serviceAccountName"),
            ("spec.hostNetwork", "/spec/hostNetwork"),
            ("status.phase", "/status/phase"),
            ("status.podIP", "/status/podIP"),
            ("status.nominatedNodeName", "/status/nominatedNodeName"),
        ],
        ("", "Event") => &[
            ("involvedObject.kind", "/involvedObject/kind"),
            ("involvedObject.namespace", "/involvedObject/namespace"),
            ("involvedObject.name", "/involvedObject/name"),
            ("involvedObject.uid", "/involvedObject/uid"),
            ("involvedObject.apiVersion", "/involvedObject/apiVersion"),
            ("involvedObject.resourceVersion", "/involvedObject/resourceVersion"),
            ("involvedObject.fieldPath", "/involvedObject/fieldPath"),
            ("reason", "/reason"),
            ("reportingComponent", "/reportingComponent"),
            ("source", "/source/component"),
            ("type", "/type"),
        ],
        ("events.k8s.io", "Event") => &[
            ("regarding.kind", "/involvedObject/kind"),
            ("regarding.namespace", "/involvedObject/namespace"),
            ("regarding.name", "/involvedObject/name"),
            ("regarding.uid", "/involvedObject/uid"),
            ("regarding.apiVersion", "/involvedObject/apiVersion"),
            ("regarding.resourceVersion", "/involvedObject/resourceVersion"),
            ("regarding.fieldPath", "/involvedObject/fieldPath"),
            ("reason", "/reason"),
            ("reportingController", "/reportingComponent"),
            ("type", "/type"),
        ],
        ("", "Secret") => &[("type", "/type")],
        ("", "Namespace") => &[("status.phase", "/status/phase")],
        ("", "Node") => &[("spec.unschedulable", "/spec/unschedulable")],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => &[("status.replicas", "/status/replicas")],
        ("batch", "Job") => &[("status.successful", "/status/succeeded")],
        ("", "Service") => &[("spec.clusterIP", "/spec/clusterIP"), ("spec.type", "/spec/type")],
        _ => &[],
    };
    table.iter().find(|(f, _)| *f == field).map(|(_, p)| *p)
}

/// A field's value as the selector compares it: a string, numbers and
/// booleans printed, a missing field empty (or its default: pods'
/// `spec.hostNetwork` is "false", a Node's `spec.unschedulable` too).
fn field_value(v: &Value, field: &str, p: &str) -> String {
    match v.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ if field == "spec.hostNetwork" || field == "spec.unschedulable" => "false".into(),
        _ if field == "status.replicas" || field == "status.successful" => "0".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(selector: &str, labels: &[(&str, &str)], want: bool) {
        let s = LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
        assert_eq!(s.matches(labels), want, "{selector} on {labels:?}");
    }

    #[test]
    fn label_selectors_match_as_the_labels_package_does() {
        let l = &[("app", "web"), ("tier", "front"), ("n", "3")];
        check("", l, true);
        check("app=web", l, true);
        check("app==web,tier=front", l, true);
        check("app!=web", l, false);
        check("app!=db", l, true);
        check("app in (web, db)", l, true);
        check("app notin (web)", l, false);
        check("missing notin (x)", l, true);
        check("tier", l, true);
        check("!tier", l, false);
        check("!other", l, true);
        check("n>2,n<4", l, true);
        check("n>3", l, false);
        check("app.kubernetes.io/name=web", l, false);
    }

    #[test]
    fn bad_label_selectors_are_bad_requests() {
        for s in ["app=", "=x", "app in x", "app in (a", "a b", "app=-x"] {
            let r = LabelSelector::parse(s);
            if s == "app=" {
                assert!(r.is_ok(), "an empty value is a value");
                continue;
            }
            assert_eq!(r.map(|_| ()).unwrap_err().code, 400, "{s}");
        }
    }

    #[test]
    fn object_selectors_and_their_string_form() {
        let s = LabelSelector::from_object(&json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}))
            .unwrap()
            .unwrap();
        assert!(s.matches(&[("app", "web"), ("tier", "a")]));
        assert_eq!(s.to_string_form(), "app=web,tier in (a,b)");
        assert!(LabelSelector::from_object(&Value::Null).unwrap().is_none());
    }

    #[test]
    fn field_selectors_take_each_kinds_fields_only() {
        let pod = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let s = FieldSelector::parse("status.phase=Running,spec.nodeName=n1", "Pod", "", true).unwrap();
        assert!(s.matches(&pod));
        let s = FieldSelector::parse("spec.hostNetwork=false,metadata.name!=q", "Pod", "", true).unwrap();
        assert!(s.matches(&pod));
        let e = FieldSelector::parse("spec.image=x", "Pod", "", true).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.image");
        let ev = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}});
        let s = FieldSelector::parse("involvedObject.kind=Pod,involvedObject.name=p", "Event", "", true).unwrap();
        assert!(s.matches(&ev));
        assert!(FieldSelector::parse("metadata.namespace=x", "Node", "", false).is_err());
    }
}
