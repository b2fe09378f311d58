//! managedFields: which field manager owns which fields (sigs.k8s.io/
//! structured-merge-diff's field sets, in the FieldsV1 encoding), recorded on
//! every write as the API server records them. An update gives the fields it
//! changed to its manager and takes them from every other; a field removed
//! leaves every set; server-side apply (`apply`) replaces its manager's set
//! with the fields of the applied configuration.

use super::merge_keys::{self, ListKind};
use super::resources::Resource;
use super::store::Part;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `f:<name>`: a field of a map or struct.
    Field(String),
    /// `k:{...}`: the item of an associative list with these key fields (JSON).
    Key(String),
    /// `v:<json>`: the item of a set.
    Value(String),
}

pub type Path = Vec<Step>;
pub type FieldSet = BTreeSet<Path>;

/// The fields of metadata that belong to the server, in no field set.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// Which part of an object a field set covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything but status (for a kind with a status subresource).
    Main,
    /// Everything, status too.
    All,
    /// Only the status.
    Status,
}

impl Scope {
    pub fn of(res: &Resource, part: Part) -> Scope {
        match part {
            Part::Status => Scope::Status,
            _ if res.status => Scope::Main,
            _ => Scope::All,
        }
    }
}

/// The context to walk an object's types in.
#[derive(Debug, Clone, Copy)]
pub struct Kind<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub builtin: bool,
}

impl<'a> Kind<'a> {
    pub fn of(res: &'a Resource) -> Kind<'a> {
        Kind { group: &res.group, kind: &res.kind, builtin: res.builtin }
    }

    /// How the list at `name` of type `ty` merges (atomic when unknown).
    pub fn list(&self, ty: Option<&str>, name: &str) -> ListKind {
        match ty {
            Some(t) => merge_keys::field(t, name).1,
            None => ListKind::Atomic,
        }
    }

    /// The type of `name`'s value within `ty` (or at the root).
    pub fn child(&self, ty: Option<&str>, name: &str, root: bool) -> Option<&'static str> {
        if root {
            if self.builtin {
                return merge_keys::root_field(self.group, self.kind, name);
            }
            return (name == "metadata").then_some("ObjectMeta");
        }
        ty.and_then(|t| merge_keys::field(t, name).0)
    }
}

/// The key JSON of an associative list's item (`{"name":"web"}`).
pub fn key_of(item: &Value, key: &str) -> String {
    let mut m = Map::new();
    m.insert(key.to_string(), item.get(key).cloned().unwrap_or(Value::Null));
    Value::Object(m).to_string()
}

/// Every field of `v` as a set: leaves, associative-list items and set items.
pub fn fields_of(v: &Value, kind: Kind<'_>, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(m) = v.as_object() {
        for (k, child) in m {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            match (scope, k.as_str()) {
                (Scope::Main, "status") => continue,
                (Scope::Status, s) if s != "status" => continue,
                _ => {}
            }
            let mut path = vec![Step::Field(k.clone())];
            if k == "metadata" {
                if let Some(mm) = child.as_object() {
                    for (mk, mv) in mm {
                        if SYSTEM_METADATA.contains(&mk.as_str()) {
                            continue;
                        }
                        path.push(Step::Field(mk.clone()));
                        walk(mv, kind, Some("ObjectMeta"), mk, &mut path, &mut out);
                        path.pop();
                    }
                }
                continue;
            }
            let ty = kind.child(None, k, true);
            walk_value(child, kind, ty, &mut path, &mut out);
        }
    }
    out
}

/// The field `name` of type `parent` with value `v`, at `path` (which ends with it).
fn walk(v: &Value, kind: Kind<'_>, parent: Option<&str>, name: &str, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Array(items) => match kind.list(parent, name) {
            ListKind::Map(key) => {
                let ty = kind.child(parent, name, false);
                for item in items {
                    path.push(Step::Key(key_of(item, key)));
                    out.insert(path.clone());
                    walk_value(item, kind, ty, path, out);
                    path.pop();
                }
            }
            ListKind::Set => {
                for item in items {
                    path.push(Step::Value(item.to_string()));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListKind::Atomic => {
                out.insert(path.clone());
            }
        },
        _ => {
            let ty = kind.child(parent, name, false);
            walk_value(v, kind, ty, path, out);
        }
    }
}

/// A value of type `ty` at `path`: a map's fields, or a leaf.
fn walk_value(v: &Value, kind: Kind<'_>, ty: Option<&str>, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() && !atomic_map(ty) => {
            for (k, child) in m {
                path.push(Step::Field(k.clone()));
                walk(child, kind, ty, k, path, out);
                path.pop();
            }
        }
        Value::Array(_) => {
            // A list directly under a list item (no field name): atomic.
            out.insert(path.clone());
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn atomic_map(_ty: Option<&str>) -> bool {
    false
}

/// The value at a field path.
pub fn get<'v>(v: &'v Value, path: &[Step]) -> Option<&'v Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            Step::Field(f) => cur.get(f)?,
            Step::Key(k) => {
                let want: Map<String, Value> = serde_json::from_str(k).ok()?;
                cur.as_array()?
                    .iter()
                    .find(|it| want.iter().all(|(kk, vv)| it.get(kk).unwrap_or(&Value::Null) == vv))?
            }
            Step::Value(j) => {
                let want: Value = serde_json::from_str(j).ok()?;
                cur.as_array()?.iter().find(|it| **it == want)?
            }
        };
    }
    Some(cur)
}

/// Removes the value at a field path (a field, a list item or a set item).
pub fn remove(v: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else { return };
    let mut cur = v;
    for s in parent {
        let next = match s {
            Step::Field(f) => cur.get_mut(f),
            Step::Key(k) => {
                let Ok(want) = serde_json::from_str::<Map<String, Value>>(k) else { return };
                cur.as_array_mut().and_then(|a| {
                    a.iter_mut().find(|it| want.iter().all(|(kk, vv)| it.get(kk).unwrap_or(&Value::Null) == vv))
                })
            }
            Step::Value(j) => {
                let Ok(want) = serde_json::from_str::<Value>(j) else { return };
                cur.as_array_mut().and_then(|a| a.iter_mut().find(|it| **it == want))
            }
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Step::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        Step::Key(k) => {
            let Ok(want) = serde_json::from_str::<Map<String, Value>>(k) else { return };
            if let Some(a) = cur.as_array_mut() {
                a.retain(|it| !want.iter().all(|(kk, vv)| it.get(kk).unwrap_or(&Value::Null) == vv));
            }
        }
        Step::Value(j) => {
            let Ok(want) = serde_json::from_str::<Value>(j) else { return };
            if let Some(a) = cur.as_array_mut() {
                a.retain(|it| *it != want);
            }
        }
    }
}

/// A path as the API server prints it in a conflict
/// (`.spec.template.spec.containers[name="web"].image`).
pub fn display(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Key(k) => {
                let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Step::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

#[derive(Default)]
struct Tree {
    member: bool,
    children: BTreeMap<String, Tree>,
}

fn step_key(s: &Step) -> String {
    match s {
        Step::Field(f) => format!("f:{f}"),
        Step::Key(k) => format!("k:{k}"),
        Step::Value(v) => format!("v:{v}"),
    }
}

/// A field set in the FieldsV1 encoding.
pub fn encode(set: &FieldSet) -> Value {
    let mut root = Tree::default();
    for p in set {
        let mut t = &mut root;
        for s in p {
            t = t.children.entry(step_key(s)).or_default();
        }
        t.member = true;
    }
    fn to_json(t: &Tree) -> Value {
        let mut m = Map::new();
        if t.member && !t.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in &t.children {
            m.insert(k.clone(), to_json(c));
        }
        Value::Object(m)
    }
    to_json(&root)
}

/// A FieldsV1 value back as a field set.
pub fn decode(v: &Value) -> FieldSet {
    fn go(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        if m.is_empty() && !path.is_empty() {
            out.insert(path.clone());
            return;
        }
        for (k, c) in m {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            let step = match k.split_at(k.len().min(2)) {
                ("f:", rest) => Step::Field(rest.to_string()),
                ("k:", rest) => Step::Key(rest.to_string()),
                ("v:", rest) => Step::Value(rest.to_string()),
                _ => continue,
            };
            path.push(step);
            go(c, path, out);
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// One managedFields entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub subresource: String,
    pub time: String,
    pub fields: FieldSet,
}

pub fn entries(v: &Value) -> Vec<Entry> {
    v.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| {
                    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    Entry {
                        manager: s("manager"),
                        operation: s("operation"),
                        api_version: s("apiVersion"),
                        subresource: s("subresource"),
                        time: s("time"),
                        fields: e.get("fieldsV1").map(decode).unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_entries(v: &mut Value, list: &[Entry]) {
    let arr: Vec<Value> = list
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut o = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&e.fields),
            });
            if !e.subresource.is_empty() {
                o["subresource"] = json!(e.subresource);
            }
            o
        })
        .collect();
    let m = super::meta::metadata_mut(v);
    if arr.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), Value::Array(arr));
    }
}

fn subresource(part: Part) -> &'static str {
    match part {
        Part::Status => "status",
        Part::Scale => "scale",
        Part::Main => "",
    }
}

/// Records a non-apply write (create, update, patch) of `manager` in `new`'s
/// managedFields: the fields it set or changed become its own and leave the
/// other managers; fields no longer there leave every set. An apply's
/// managedFields were made by `apply` and are kept.
pub fn record(new: &mut Value, old: Option<&Value>, res: &Resource, manager: &str, apply: bool, part: Part) {
    if apply {
        return;
    }
    let kind = Kind::of(res);
    let scope = Scope::of(res, part);
    let now_set = fields_of(new, kind, scope);
    let mut list = old.map(entries).unwrap_or_default();
    let changed: FieldSet = match old {
        None => now_set.clone(),
        Some(o) => {
            let before = fields_of(o, kind, scope);
            now_set
                .iter()
                .filter(|p| !before.contains(*p) || (is_leaf(&now_set, p) && get(new, p) != get(o, p)))
                .cloned()
                .collect()
        }
    };
    let removed: FieldSet = match old {
        None => FieldSet::new(),
        Some(o) => fields_of(o, kind, scope).difference(&now_set).cloned().collect(),
    };
    let sub = subresource(part);
    for e in list.iter_mut() {
        e.fields.retain(|p| {
            !removed.contains(p)
                && !(changed.contains(p) && !(e.manager == manager && e.operation == "Update" && e.subresource == sub))
        });
    }
    if !changed.is_empty() && !manager.is_empty() {
        let now = super::meta::now();
        match list.iter_mut().find(|e| e.manager == manager && e.operation == "Update" && e.subresource == sub) {
            Some(e) => {
                e.fields.extend(changed);
                e.time = now;
                e.api_version = res.api_version();
            }
            None => list.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: res.api_version(),
                subresource: sub.into(),
                time: now,
                fields: changed,
            }),
        }
    }
    list.retain(|e| !e.fields.is_empty());
    set_entries(new, &list);
}

/// Whether `p` has no children in `set`.
pub fn is_leaf(set: &FieldSet, p: &Path) -> bool {
    set.range(p.clone()..).nth(1).is_none_or(|next| !next.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy() -> Resource {
        super::super::resources::Registry::default().find("apps", "v1", "deployments").unwrap().as_ref().clone()
    }

    #[test]
    fn field_sets_encode_as_fields_v1() {
        let res = deploy();
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["x"]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx", "args": ["a"]}]}}},
            "status": {"replicas": 1}});
        let set = fields_of(&v, Kind::of(&res), Scope::Main);
        let enc = encode(&set);
        assert_eq!(
            enc,
            json!({
                "f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:args": {}, "f:image": {}, "f:name": {}}}}}}
            })
        );
        assert_eq!(decode(&enc), set);
        assert_eq!(
            display(&[
                Step::Field("spec".into()),
                Step::Field("containers".into()),
                Step::Key("{\"name\":\"web\"}".into()),
                Step::Field("image".into())
            ]),
            ".spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn an_update_takes_the_fields_it_changes() {
        let res = deploy();
        let mut a = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2, "paused": false}});
        record(&mut a, None, &res, "creator", false, Part::Main);
        let mut b = a.clone();
        b["spec"]["replicas"] = json!(3);
        record(&mut b, Some(&a), &res, "scaler", false, Part::Main);
        let e = entries(&b);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].manager, "creator");
        assert!(!e[0].fields.contains(&vec![Step::Field("spec".into()), Step::Field("replicas".into())]));
        assert_eq!(e[1].manager, "scaler");
        assert_eq!(e[1].fields.len(), 1);
    }
}
