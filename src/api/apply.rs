//! Server-side apply (PATCH `application/apply-patch+yaml`), after
//! sigs.k8s.io/structured-merge-diff: the applied configuration is merged into
//! the live object (maps field by field, associative lists by key, sets as
//! sets, atomic lists replaced); its fields become the manager's `Apply`
//! field set; fields the manager applied before and applies no longer are
//! removed unless another manager owns them; and a field another manager owns
//! with a different value is a conflict (409), unless `force` takes it over.

use super::errors::{ApiError, ApiResult, Cause};
use super::managed::{self, Entry, FieldSet, Kind, Scope, Step};
use super::merge_keys::ListKind;
use super::resources::Resource;
use super::store::Part;
use serde_json::{Map, Value};

/// The object that applying `applied` as `manager` to `live` makes, with its
/// managedFields; `live` is `None` for an object that does not exist yet.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    res: &Resource,
    part: Part,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    if manager.is_empty() {
        return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
    }
    if !applied.is_object() {
        return Err(ApiError::bad_request("error decoding YAML: the apply configuration is not an object"));
    }
    let api = super::meta::str_at(applied, "/apiVersion");
    let kind_name = super::meta::str_at(applied, "/kind");
    if api.is_empty() || kind_name.is_empty() {
        return Err(ApiError::bad_request("apiVersion and kind are required in an apply configuration"));
    }
    let kind = Kind::of(res);
    let scope = managed::Scope::of(res, part);
    let applied_set = fields_of_applied(applied, kind, scope);
    let empty = Value::Object(Map::new());
    let live_v = live.unwrap_or(&empty);
    let mut list = managed::entries(live_v);
    let sub = match part {
        Part::Status => "status",
        Part::Scale => "scale",
        Part::Main => "",
    };
    // Conflicts: a field of the configuration that another manager owns and
    // whose value would change.
    let mut conflicts: Vec<(String, String, String)> = Vec::new();
    for e in &list {
        if e.manager == manager && e.operation == "Apply" {
            continue;
        }
        if e.subresource != sub {
            continue;
        }
        for p in applied_set.intersection(&e.fields) {
            if !managed::is_leaf(&applied_set, p) {
                continue;
            }
            if managed::get(live_v, p) != managed::get(applied, p) {
                conflicts.push((e.manager.clone(), e.api_version.clone(), managed::display(p)));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(res, super::meta::name(applied), &conflicts));
    }
    let mut merged = live_v.clone();
    merge(&mut merged, applied, kind, None, true, scope);
    // Fields this manager applied before and no longer applies, that no one
    // else owns, are removed.
    let before: FieldSet = list
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply" && e.subresource == sub)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = list
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply" && e.subresource == sub))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut dropped: Vec<&Vec<Step>> =
        before.iter().filter(|p| !applied_set.contains(*p) && !others.contains(*p)).collect();
    // Deepest first, and never a path under one already removed.
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in dropped {
        // A path with a descendant someone still owns stays.
        if others.iter().any(|o| o.len() > p.len() && o.starts_with(p)) || applied_set.iter().any(|o| o.starts_with(p))
        {
            continue;
        }
        managed::remove(&mut merged, p);
    }
    // The managers' sets: this one's is the configuration's; a forced
    // conflict's field leaves its owner.
    if force {
        for e in list.iter_mut() {
            if e.manager == manager && e.operation == "Apply" {
                continue;
            }
            e.fields.retain(|p| {
                !(applied_set.contains(p)
                    && managed::is_leaf(&applied_set, p)
                    && managed::get(live_v, p) != managed::get(applied, p))
            });
        }
    }
    let now = super::meta::now();
    match list.iter_mut().find(|e| e.manager == manager && e.operation == "Apply" && e.subresource == sub) {
        Some(e) => {
            e.fields = applied_set;
            e.time = now;
            e.api_version = res.api_version();
        }
        None => list.push(Entry {
            manager: manager.to_string(),
            operation: "Apply".into(),
            api_version: res.api_version(),
            subresource: sub.into(),
            time: now,
            fields: applied_set,
        }),
    }
    list.retain(|e| !e.fields.is_empty());
    managed::set_entries(&mut merged, &list);
    Ok(merged)
}

/// The fields of an applied configuration; the system metadata (name,
/// namespace) are never a manager's.
fn fields_of_applied(applied: &Value, kind: Kind<'_>, scope: Scope) -> FieldSet {
    managed::fields_of(applied, kind, scope)
}

/// The 409 of an apply with conflicts, worded as the API server words it.
fn conflict_error(res: &Resource, name: &str, conflicts: &[(String, String, String)]) -> ApiError {
    let n = conflicts.len();
    let mut by_manager: Vec<(String, String, Vec<String>)> = Vec::new();
    for (m, v, f) in conflicts {
        match by_manager.iter_mut().find(|(x, y, _)| x == m && y == v) {
            Some((_, _, fs)) => fs.push(f.clone()),
            None => by_manager.push((m.clone(), v.clone(), vec![f.clone()])),
        }
    }
    let parts: Vec<String> = by_manager
        .iter()
        .map(|(m, v, fs)| {
            if fs.len() == 1 {
                format!("conflict with \"{m}\" using {v}: {}", fs[0])
            } else {
                format!(
                    "conflicts with \"{m}\" using {v}:\n{}",
                    fs.iter().map(|f| format!("- {f}")).collect::<Vec<_>>().join("\n")
                )
            }
        })
        .collect();
    let msg = format!("Apply failed with {n} conflict{}: {}", if n == 1 { "" } else { "s" }, parts.join("\n"));
    let mut e = ApiError::conflict(&res.group, &res.plural, name, "").with_message(msg);
    e.details.causes = conflicts
        .iter()
        .map(|(m, v, f)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with \"{m}\" using {v}"),
            field: f.clone(),
        })
        .collect();
    e
}

/// Merges the applied value into the live one, in `ty`.
fn merge(live: &mut Value, applied: &Value, kind: Kind<'_>, ty: Option<&str>, root: bool, scope: Scope) {
    let (Some(am), true) = (applied.as_object(), live.is_object() || !root) else {
        *live = applied.clone();
        return;
    };
    if !live.is_object() {
        *live = Value::Object(Map::new());
    }
    let lm = live.as_object_mut().expect("made a map above");
    for (k, av) in am {
        if root {
            match (scope, k.as_str()) {
                (Scope::Main, "status") => continue,
                (Scope::Status, s) if s != "status" && s != "apiVersion" && s != "kind" && s != "metadata" => continue,
                _ => {}
            }
        }
        let child_ty = kind.child(ty, k, root);
        match av {
            Value::Object(_) => {
                let cur = lm.entry(k.clone()).or_insert(Value::Object(Map::new()));
                merge(cur, av, kind, child_ty, false, scope);
            }
            Value::Array(items) => {
                let lk = if root { ListKind::Atomic } else { kind.list(ty, k) };
                let cur = lm.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                let list = cur.as_array_mut().expect("made a list above");
                match lk {
                    ListKind::Atomic => *list = items.clone(),
                    ListKind::Set => {
                        for it in items {
                            if !list.contains(it) {
                                list.push(it.clone());
                            }
                        }
                    }
                    ListKind::Map(key) => {
                        for it in items {
                            match list.iter_mut().find(|x| x.get(key) == it.get(key)) {
                                Some(x) => merge(x, it, kind, child_ty, false, scope),
                                None => list.push(it.clone()),
                            }
                        }
                    }
                }
            }
            _ => {
                lm.insert(k.clone(), av.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm() -> Resource {
        super::super::resources::Registry::default().find("", "v1", "configmaps").unwrap().as_ref().clone()
    }

    fn deploy() -> Resource {
        super::super::resources::Registry::default().find("apps", "v1", "deployments").unwrap().as_ref().clone()
    }

    #[test]
    fn applying_again_without_a_field_removes_it() {
        let res = cm();
        let a =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let live = apply(None, &a, &res, Part::Main, "me", false).unwrap();
        assert_eq!(live["data"], json!({"a": "1", "b": "2"}));
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let live = apply(Some(&live), &b, &res, Part::Main, "me", false).unwrap();
        assert_eq!(live["data"], json!({"a": "1"}));
        assert_eq!(live["metadata"]["managedFields"][0]["operation"], "Apply");
    }

    #[test]
    fn another_managers_field_with_a_new_value_conflicts() {
        let res = deploy();
        let a =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}});
        let live = apply(None, &a, &res, Part::Main, "first", false).unwrap();
        let b =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}});
        let e = apply(Some(&live), &b, &res, Part::Main, "second", false).unwrap_err();
        assert_eq!(e.code, 409);
        assert_eq!(e.message, "Apply failed with 1 conflict: conflict with \"first\" using apps/v1: .spec.replicas");
        assert_eq!(e.details.causes[0].field, ".spec.replicas");
        // The same value is shared, not a conflict.
        let same = apply(Some(&live), &a, &res, Part::Main, "second", false).unwrap();
        assert_eq!(same["metadata"]["managedFields"].as_array().unwrap().len(), 2);
        // Forced, the field changes hands.
        let forced = apply(Some(&live), &b, &res, Part::Main, "second", true).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let mf = forced["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["manager"], "second");
    }

    #[test]
    fn containers_merge_by_name() {
        let res = deploy();
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}});
        let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}}});
        let out = apply(Some(&live), &cfg, &res, Part::Main, "me", false).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}])
        );
    }
}
