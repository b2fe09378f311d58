//! PATCH: JSON patch (RFC 6902, with the `json-patch` crate), JSON merge
//! patch (RFC 7386, the same crate) and strategic merge patch for the
//! built-in kinds (k8s.io/apimachinery/pkg/util/strategicpatch's rules: lists
//! merged by their patch merge key from `merge_keys`, primitive lists merged
//! as sets, and the directives `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`).
//! Server-side apply is in `apply`.

use super::errors::{ApiError, ApiResult};
use super::managed::Kind;
use super::merge_keys::ListKind;
use serde_json::{Map, Value};

/// The patch types by content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Applies a JSON, merge or strategic patch to `original`.
pub fn apply_patch(original: &Value, patch: &[u8], ty: PatchType, kind: Kind<'_>) -> ApiResult<Value> {
    match ty {
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("json: cannot unmarshal the patch: {e}")))?;
            let mut doc = original.clone();
            json_patch::patch(&mut doc, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(doc)
        }
        PatchType::Merge => {
            let p: Value = parse_json(patch)?;
            let mut doc = original.clone();
            json_patch::merge(&mut doc, &p);
            Ok(doc)
        }
        PatchType::Strategic => {
            if !kind.builtin {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            let p: Value = parse_json(patch)?;
            if !p.is_object() {
                return Err(ApiError::bad_request("strategic merge patch: the patch is not a JSON object"));
            }
            let mut doc = original.clone();
            strategic(&mut doc, &p, kind, None, true)?;
            Ok(doc)
        }
        PatchType::Apply => Err(ApiError::internal("an apply patch is not applied here")),
    }
}

fn parse_json(b: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(b).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

/// Merges the map `patch` into `doc`, a value of type `ty`.
fn strategic(doc: &mut Value, patch: &Value, kind: Kind<'_>, ty: Option<&str>, root: bool) -> ApiResult<()> {
    let Some(pm) = patch.as_object() else {
        *doc = patch.clone();
        return Ok(());
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut m = pm.clone();
            m.remove("$patch");
            *doc = Value::Object(m);
            return Ok(());
        }
        Some("delete") => {
            *doc = Value::Object(Map::new());
            return Ok(());
        }
        Some(other) => return Err(ApiError::bad_request(format!("Unknown patch type: {other}"))),
        None => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let retain: Option<Vec<String>> = pm
        .get("$retainKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect());
    for (k, pv) in pm {
        if k == "$patch" || k == "$retainKeys" || k.starts_with(SET_ORDER) {
            continue;
        }
        if let Some(field) = k.strip_prefix(DELETE_FROM) {
            let gone: Vec<Value> = pv.as_array().cloned().unwrap_or_default();
            if let Some(list) = doc.get_mut(field).and_then(Value::as_array_mut) {
                list.retain(|x| !gone.contains(x));
            }
            continue;
        }
        let dm = doc.as_object_mut().expect("made a map above");
        if pv.is_null() {
            dm.remove(k);
            continue;
        }
        let child_ty = kind.child(ty, k, root);
        let list_kind = if root { ListKind::Atomic } else { kind.list(ty, k) };
        match pv {
            Value::Array(items) => {
                let cur = dm.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                merge_list(cur, items, list_kind, kind, child_ty)?;
                if let Some(order) = pm.get(&format!("{SET_ORDER}{k}")).and_then(Value::as_array) {
                    reorder(cur, order, list_kind);
                }
            }
            Value::Object(_) => {
                let cur = dm.entry(k.clone()).or_insert(Value::Object(Map::new()));
                if pv.get("$patch").and_then(Value::as_str) == Some("delete") {
                    dm.remove(k);
                    continue;
                }
                strategic(cur, pv, kind, child_ty, false)?;
            }
            _ => {
                dm.insert(k.clone(), pv.clone());
            }
        }
    }
    // $setElementOrder for a list the patch does not otherwise change.
    for (k, order) in pm {
        if let Some(field) = k.strip_prefix(SET_ORDER) {
            if pm.contains_key(field) {
                continue;
            }
            let lk = kind.list(ty, field);
            if let (Some(cur), Some(order)) = (doc.get_mut(field), order.as_array()) {
                reorder(cur, order, lk);
            }
        }
    }
    if let Some(keep) = retain {
        if let Some(m) = doc.as_object_mut() {
            m.retain(|k, _| keep.iter().any(|x| x == k));
        }
    }
    Ok(())
}

fn merge_list(cur: &mut Value, items: &[Value], lk: ListKind, kind: Kind<'_>, item_ty: Option<&str>) -> ApiResult<()> {
    let list = cur.as_array_mut().expect("made a list by the caller");
    // `{"$patch": "replace"}` among the items replaces the whole list.
    if items.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        *list = items.iter().filter(|i| i.get("$patch").is_none()).cloned().collect();
        return Ok(());
    }
    match lk {
        ListKind::Atomic => {
            *list = items.to_vec();
        }
        ListKind::Set => {
            for it in items {
                if !list.contains(it) {
                    list.push(it.clone());
                }
            }
        }
        ListKind::Map(key) => {
            for it in items {
                let Some(kv) = it.get(key) else {
                    return Err(ApiError::bad_request(format!("map: {it} does not contain declared merge key: {key}")));
                };
                let pos = list.iter().position(|x| x.get(key) == Some(kv));
                if it.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(p) = pos {
                        list.remove(p);
                    }
                    continue;
                }
                match pos {
                    Some(p) => strategic(&mut list[p], it, kind, item_ty, false)?,
                    None => {
                        let mut fresh = Value::Object(Map::new());
                        strategic(&mut fresh, it, kind, item_ty, false)?;
                        list.push(fresh);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Orders a list as `$setElementOrder` says: the listed items first in that
/// order, then the others as they were.
fn reorder(cur: &mut Value, order: &[Value], lk: ListKind) {
    let Some(list) = cur.as_array_mut() else { return };
    let pos_of = |x: &Value| -> Option<usize> {
        order.iter().position(|o| match lk {
            ListKind::Map(key) => o.get(key).is_some() && o.get(key) == x.get(key),
            _ => o == x,
        })
    };
    let mut indexed: Vec<(usize, usize, Value)> =
        list.drain(..).enumerate().map(|(i, x)| (pos_of(&x).unwrap_or(usize::MAX), i, x)).collect();
    indexed.sort_by_key(|(p, i, _)| (*p, *i));
    *list = indexed.into_iter().map(|(_, _, x)| x).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy() -> Kind<'static> {
        Kind { group: "apps", kind: "Deployment", builtin: true }
    }

    fn check(original: Value, patch: Value, want: Value) {
        let got = apply_patch(&original, patch.to_string().as_bytes(), PatchType::Strategic, deploy()).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn containers_merge_by_name_and_args_are_replaced() {
        check(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x", "args": ["1"]}, {"name": "b", "image": "y"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "z", "args": ["2"]}, {"name": "c", "image": "w"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "z", "args": ["2"]}, {"name": "b", "image": "y"}, {"name": "c", "image": "w"}]}}}}),
        );
    }

    #[test]
    fn directives() {
        // $patch: delete of a list item, null deletes a key, $setElementOrder orders.
        check(
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}}),
            json!({"metadata": {"labels": {"a": null}}, "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                "containers": [{"name": "b", "$patch": "delete"}, {"name": "c"}]}}}}),
            json!({"metadata": {"labels": {"b": "2"}}, "spec": {"template": {"spec": {"containers": [{"name": "c"}, {"name": "a"}]}}}}),
        );
        // $retainKeys drops what the new strategy does not keep.
        check(
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        // finalizers merge as a set, and $deleteFromPrimitiveList removes.
        check(
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
            json!({"metadata": {"finalizers": ["b", "c"]}}),
        );
    }

    #[test]
    fn custom_resources_take_no_strategic_patch() {
        let k = Kind { group: "example.com", kind: "Widget", builtin: false };
        let e = apply_patch(&json!({}), b"{}", PatchType::Strategic, k).unwrap_err();
        assert_eq!(e.code, 415);
    }

    #[test]
    fn json_and_merge_patches() {
        let k = deploy();
        let got =
            apply_patch(&json!({"a": [1, 2]}), br#"[{"op": "add", "path": "/a/-", "value": 3}]"#, PatchType::Json, k)
                .unwrap();
        assert_eq!(got, json!({"a": [1, 2, 3]}));
        let got = apply_patch(&json!({"a": {"b": 1, "c": 2}}), br#"{"a": {"b": null, "d": 4}}"#, PatchType::Merge, k)
            .unwrap();
        assert_eq!(got, json!({"a": {"c": 2, "d": 4}}));
        let e =
            apply_patch(&json!({}), br#"[{"op": "test", "path": "/x", "value": 1}]"#, PatchType::Json, k).unwrap_err();
        assert_eq!(e.code, 422);
    }
}
