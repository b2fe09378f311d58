//! The garbage collector and the namespace lifecycle, run after every write
//! that changed something (under the store's lock, so a deletion's
//! consequences are in the event stream right behind it).
//!
//! Rules of kube-controller-manager's garbage collector
//! (pkg/controller/garbagecollector): an object all of whose owners are gone
//! is deleted (background propagation); a dangling owner reference next to a
//! living owner is removed; an owner deleted with `Orphan` has its references
//! removed from its dependents, then its `orphan` finalizer; an owner deleted
//! with `Foreground` waits, with its `foregroundDeletion` finalizer, until its
//! dependents are gone. And the namespace controller's: a Namespace being
//! deleted has its content deleted, and goes once nothing is left in it.

use super::meta;
use super::store::{delete_in, DeleteOptions, EventType, Inner};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// Passes until nothing changes, at most this many (each pass settles one
/// level of ownership).
const MAX_PASSES: usize = 64;

pub(crate) fn collect(inner: &mut Inner) {
    for _ in 0..MAX_PASSES {
        let before = inner.rv;
        pass(inner);
        if inner.rv == before {
            return;
        }
    }
}

/// (storage, namespace, name) of an object.
type Key = (String, String, String);

fn pass(inner: &mut Inner) {
    let mut uids: HashSet<String> = HashSet::new();
    let mut dependents_of: std::collections::HashMap<String, Vec<Key>> = Default::default();
    let mut orphaning: Vec<(Key, String)> = Vec::new();
    let mut foreground: Vec<(Key, String)> = Vec::new();
    let mut namespaces_going: Vec<String> = Vec::new();
    let mut with_owners: Vec<(Key, Arc<Value>)> = Vec::new();
    for (storage, objs) in &inner.data {
        for ((ns, name), v) in objs {
            let key = (storage.clone(), ns.clone(), name.clone());
            let uid = meta::str_at(v, "/metadata/uid").to_string();
            uids.insert(uid.clone());
            let fins = meta::finalizers(v);
            if meta::deleting(v) {
                if fins.iter().any(|f| f == "orphan") {
                    orphaning.push((key.clone(), uid.clone()));
                } else if fins.iter().any(|f| f == "foregroundDeletion") {
                    foreground.push((key.clone(), uid.clone()));
                }
                if storage == "/namespaces" {
                    namespaces_going.push(name.clone());
                }
            }
            let owners = meta::owners(v);
            if !owners.is_empty() {
                for (_, _, _, ouid) in &owners {
                    dependents_of.entry(ouid.clone()).or_default().push(key.clone());
                }
                with_owners.push((key, v.clone()));
            }
        }
    }
    // Orphan: the dependents lose their reference, then the owner its finalizer.
    for (owner, uid) in orphaning {
        for dep in dependents_of.get(&uid).cloned().unwrap_or_default() {
            edit(inner, &dep, |v| {
                if let Some(refs) = v.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
                    if refs.is_empty() {
                        meta::metadata_mut(v).remove("ownerReferences");
                    }
                }
            });
        }
        drop_finalizer(inner, &owner, "orphan");
    }
    // Foreground: the dependents go first, then the owner.
    for (owner, uid) in foreground {
        let deps = dependents_of.get(&uid).cloned().unwrap_or_default();
        if deps.is_empty() {
            drop_finalizer(inner, &owner, "foregroundDeletion");
            continue;
        }
        for dep in deps {
            delete(inner, &dep, Some("Foreground"));
        }
    }
    // Background: objects whose owners are all gone follow them; a dangling
    // reference beside a living owner is removed.
    for (key, v) in with_owners {
        let owners = meta::owners(&v);
        let alive: Vec<&String> = owners.iter().map(|o| &o.3).filter(|u| uids.contains(*u)).collect();
        if alive.is_empty() {
            if !meta::deleting(&v) {
                delete(inner, &key, None);
            }
        } else if alive.len() < owners.len() {
            edit(inner, &key, |v| {
                if let Some(refs) = v.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str).is_some_and(|u| uids.contains(u)));
                }
            });
        }
    }
    // Namespaces being deleted: their content goes, then they do.
    for ns in namespaces_going {
        let mut content: Vec<(Key, bool)> = Vec::new();
        for (storage, objs) in &inner.data {
            if storage == "/namespaces" {
                continue;
            }
            for ((ons, name), v) in objs {
                if *ons == ns {
                    content.push(((storage.clone(), ons.clone(), name.clone()), meta::deleting(v)));
                }
            }
        }
        if content.is_empty() {
            finalize_namespace(inner, &ns);
            continue;
        }
        for (key, deleting) in content {
            if !deleting {
                delete(inner, &key, Some("Background"));
            }
        }
    }
}

fn delete(inner: &mut Inner, key: &Key, policy: Option<&str>) {
    let Some(res) = inner.resource_of(&key.0) else { return };
    let opts = DeleteOptions { propagation: policy.map(str::to_string), ..Default::default() };
    let _ = delete_in(inner, &res, &key.1, &key.2, &opts);
}

/// Changes a stored object in place, as a controller's update would.
fn edit(inner: &mut Inner, key: &Key, f: impl FnOnce(&mut Value)) {
    let Some(res) = inner.resource_of(&key.0) else { return };
    let Some(cur) = inner.lookup(&key.0, &key.1, &key.2).cloned() else { return };
    let mut v = (*cur).clone();
    f(&mut v);
    if v != *cur {
        inner.put(&res, v, EventType::Modified);
    }
}

/// Removes one finalizer; the object goes when it was the last one.
fn drop_finalizer(inner: &mut Inner, key: &Key, finalizer: &str) {
    let Some(res) = inner.resource_of(&key.0) else { return };
    let Some(cur) = inner.lookup(&key.0, &key.1, &key.2).cloned() else { return };
    let mut v = (*cur).clone();
    let fins: Vec<String> = meta::finalizers(&v).into_iter().filter(|f| f != finalizer).collect();
    meta::set_finalizers(&mut v, &fins);
    inner.put(&res, v, EventType::Modified);
    if fins.is_empty() && !super::strategy::held(&res, &cur) {
        if let Some(gone) = inner.remove(&res, &key.1, &key.2) {
            super::strategy::after_delete(inner, &res, &gone);
        }
    }
}

/// The namespace controller's last step: spec.finalizers emptied, and the
/// Namespace removed when no metadata finalizer holds it.
fn finalize_namespace(inner: &mut Inner, ns: &str) {
    let key = ("/namespaces".to_string(), String::new(), ns.to_string());
    let Some(res) = inner.resource_of("/namespaces") else { return };
    let Some(cur) = inner.lookup(&key.0, "", ns).cloned() else { return };
    let mut v = (*cur).clone();
    v["spec"] = json!({});
    inner.put(&res, v.clone(), EventType::Modified);
    if meta::finalizers(&v).is_empty() {
        inner.remove(&res, "", ns);
    }
}
