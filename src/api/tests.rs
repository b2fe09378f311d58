//! The store's rules through its in-process interface, as controllers use
//! it from plain threads: resourceVersions, conflicts, generation, the status
//! subresource, watches (resume, selector transitions, 410), finalizers,
//! garbage collection and namespace deletion.

use super::store::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn store() -> Arc<Store> {
    Store::new(StoreConfig { node_name: "n".into(), ca_pem: "PEM".into() })
}

fn res(s: &Store, g: &str, v: &str, p: &str) -> Arc<super::resources::Resource> {
    s.resource(g, v, p).unwrap()
}

fn opts() -> WriteOptions {
    WriteOptions::manager("test")
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}})
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}

#[test]
fn a_new_store_is_a_cluster() {
    let s = store();
    let ns = res(&s, "", "v1", "namespaces");
    let names: Vec<String> = s
        .list(&ns, None, &Default::default())
        .unwrap()
        .items
        .iter()
        .map(|v| super::meta::name(v).to_string())
        .collect();
    assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    let sa = res(&s, "", "v1", "serviceaccounts");
    assert!(s.get(&sa, "kube-system", "default").is_ok());
    let cms = res(&s, "", "v1", "configmaps");
    assert_eq!(s.get(&cms, "default", "kube-root-ca.crt").unwrap()["data"]["ca.crt"], "PEM");
    assert!(s.get(&res(&s, "", "v1", "nodes"), "", "n").is_ok());
    assert_eq!(
        s.get(&res(&s, "", "v1", "services"), "default", "kubernetes").unwrap()["spec"]["clusterIP"],
        "10.96.0.1"
    );
}

#[test]
fn writes_bump_the_resource_version_and_stale_ones_conflict() {
    let s = store();
    let d = res(&s, "apps", "v1", "deployments");
    let w = s.create(&d, "default", deployment("web", 1), &opts()).unwrap();
    let rv1 = super::meta::resource_version(&w.object).to_string();
    assert_eq!(w.object["metadata"]["generation"], 1);
    assert!(!w.object["metadata"]["uid"].as_str().unwrap().is_empty());
    let mut next = w.object.clone();
    next["spec"]["replicas"] = json!(3);
    let w2 = s.update(&d, "default", "web", next.clone(), &opts()).unwrap();
    assert_eq!(w2.object["metadata"]["generation"], 2);
    assert!(super::meta::resource_version(&w2.object).parse::<u64>().unwrap() > rv1.parse::<u64>().unwrap());
    // The same body again carries the old resourceVersion: 409.
    let e = s.update(&d, "default", "web", next, &opts()).unwrap_err();
    assert_eq!((e.code, e.reason), (409, "Conflict"));
    // A label is metadata: no new generation.
    let mut labelled = w2.object.clone();
    labelled["metadata"]["labels"]["x"] = json!("y");
    let w3 = s.update(&d, "default", "web", labelled, &opts()).unwrap();
    assert_eq!(w3.object["metadata"]["generation"], 2);
    // An update that changes nothing writes nothing.
    let w4 = s.update(&d, "default", "web", w3.object.clone(), &opts()).unwrap();
    assert_eq!(super::meta::resource_version(&w4.object), super::meta::resource_version(&w3.object));
    assert_eq!(s.create(&d, "default", deployment("web", 1), &opts()).unwrap_err().reason, "AlreadyExists");
}

#[test]
fn status_is_a_subresource() {
    let s = store();
    let d = res(&s, "apps", "v1", "deployments");
    let w = s.create(&d, "default", deployment("web", 2), &opts()).unwrap();
    let mut st = w.object.clone();
    st["status"] = json!({"replicas": 2, "readyReplicas": 2});
    st["spec"]["replicas"] = json!(9);
    let w = s.update_status(&d, "default", "web", st, &opts()).unwrap();
    assert_eq!(w.object["status"]["readyReplicas"], 2);
    assert_eq!(w.object["spec"]["replicas"], 2, "a status write keeps the spec");
    assert_eq!(w.object["metadata"]["generation"], 1);
    let mut main = w.object.clone();
    main["status"] = json!({"replicas": 0});
    let w = s.update(&d, "default", "web", main, &opts()).unwrap();
    assert_eq!(w.object["status"]["readyReplicas"], 2, "a main write keeps the status");
}

#[test]
fn watches_resume_filter_and_expire() {
    let s = store();
    let c = res(&s, "", "v1", "configmaps");
    let start = s.resource_version();
    let mut filter = WatchFilter::of(c.clone(), Some("default"));
    filter.labels = super::selectors::LabelSelector::parse("app=x").unwrap();
    let mut w = s.watch(filter, WatchFrom::After(start)).unwrap();
    let made = s.create(&c, "default", cm("a"), &opts()).unwrap().object;
    let mut labelled = made.clone();
    labelled["metadata"]["labels"] = json!({"app": "x"});
    let labelled = s.update(&c, "default", "a", labelled, &opts()).unwrap().object;
    let mut unlabelled = labelled.clone();
    unlabelled["metadata"]["labels"] = json!({});
    s.update(&c, "default", "a", unlabelled, &opts()).unwrap();
    // From a plain thread, as a controller waits.
    let kinds: Vec<EventType> = std::thread::spawn(move || {
        w.next(Duration::from_secs(1))
            .into_iter()
            .filter_map(|e| match e {
                WatchEvent::Change { kind, .. } => Some(kind),
                _ => None,
            })
            .collect()
    })
    .join()
    .unwrap();
    // Entering the selection is an ADDED, leaving it a DELETED.
    assert_eq!(kinds, [EventType::Added, EventType::Deleted]);
    // A watch from now starts with the current objects.
    let mut w =
        s.watch(WatchFilter::of(c.clone(), Some("default")), WatchFrom::Now { bookmark_after_initial: true }).unwrap();
    let first = w.poll();
    assert!(matches!(first.last(), Some(WatchEvent::Bookmark { initial_end: true, .. })));
    assert_eq!(first.len(), 3, "kube-root-ca.crt, a and the bookmark");
    // Past the history a resourceVersion is too old.
    s.set_history(100);
    for i in 0..110 {
        let _ = s.create(&c, "default", cm(&format!("n{i}")), &opts());
    }
    let e = s.watch(WatchFilter::of(c, None), WatchFrom::After(start)).err().unwrap();
    assert_eq!((e.code, e.reason), (410, "Expired"));
}

#[test]
fn lists_page_with_limit_and_continue() {
    let s = store();
    let c = res(&s, "", "v1", "configmaps");
    for i in 0..5 {
        s.create(&c, "default", cm(&format!("c{i}")), &opts()).unwrap();
    }
    let o = ListOptions { limit: Some(2), ..Default::default() };
    let p1 = s.list(&c, Some("default"), &o).unwrap();
    assert_eq!(p1.items.len(), 2);
    assert_eq!(p1.remaining, Some(4));
    // A change between pages does not show: the pages are one snapshot.
    s.create(&c, "default", cm("c9"), &opts()).unwrap();
    let mut all = p1.items.len();
    let mut tok = p1.continue_token;
    while let Some(t) = tok {
        let p = s
            .list(&c, Some("default"), &ListOptions { limit: Some(2), continue_token: Some(t), ..Default::default() })
            .unwrap();
        assert_eq!(p.resource_version, p1.resource_version);
        all += p.items.len();
        tok = p.continue_token;
    }
    assert_eq!(all, 6, "kube-root-ca.crt and c0..c4");
}

fn owned_by(name: &str, owner: &Value) -> Value {
    let mut v = cm(name);
    v["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": super::meta::name(owner), "uid": owner["metadata"]["uid"]}]);
    v
}

#[test]
fn deletion_propagates_through_owner_references() {
    let s = store();
    let c = res(&s, "", "v1", "configmaps");
    // Background: the dependent follows its owner.
    let owner = s.create(&c, "default", cm("owner"), &opts()).unwrap().object;
    s.create(&c, "default", owned_by("dep", &owner), &opts()).unwrap();
    assert!(s.delete(&c, "default", "owner", &DeleteOptions::default()).unwrap().gone);
    assert_eq!(s.get(&c, "default", "dep").unwrap_err().code, 404);
    // Orphan: the dependent stays, without the reference.
    let owner = s.create(&c, "default", cm("owner"), &opts()).unwrap().object;
    s.create(&c, "default", owned_by("dep", &owner), &opts()).unwrap();
    let d = s
        .delete(&c, "default", "owner", &DeleteOptions { propagation: Some("Orphan".into()), ..Default::default() })
        .unwrap();
    assert!(!d.gone, "answered before the orphaning");
    assert_eq!(s.get(&c, "default", "owner").unwrap_err().code, 404);
    assert!(s.get(&c, "default", "dep").unwrap()["metadata"].get("ownerReferences").is_none());
    // Foreground: both go, the owner last.
    let owner = s.create(&c, "default", cm("owner2"), &opts()).unwrap().object;
    s.create(&c, "default", owned_by("dep2", &owner), &opts()).unwrap();
    s.delete(&c, "default", "owner2", &DeleteOptions { propagation: Some("Foreground".into()), ..Default::default() })
        .unwrap();
    assert_eq!(s.get(&c, "default", "dep2").unwrap_err().code, 404);
    assert_eq!(s.get(&c, "default", "owner2").unwrap_err().code, 404);
}

#[test]
fn finalizers_hold_a_deletion() {
    let s = store();
    let c = res(&s, "", "v1", "configmaps");
    let mut v = cm("held");
    v["metadata"]["finalizers"] = json!(["example.com/wait"]);
    s.create(&c, "default", v, &opts()).unwrap();
    let d = s.delete(&c, "default", "held", &DeleteOptions::default()).unwrap();
    assert!(!d.gone);
    let cur = s.get(&c, "default", "held").unwrap();
    assert!(super::meta::deleting(&cur));
    let mut more = cur.clone();
    more["metadata"]["finalizers"] = json!(["example.com/wait", "new"]);
    assert_eq!(s.update(&c, "default", "held", more, &opts()).unwrap_err().reason, "Invalid");
    let mut done = cur.clone();
    done["metadata"]["finalizers"] = json!([]);
    s.update(&c, "default", "held", done, &opts()).unwrap();
    assert_eq!(s.get(&c, "default", "held").unwrap_err().code, 404);
}

#[test]
fn a_deleted_namespace_takes_its_content() {
    let s = store();
    let ns = res(&s, "", "v1", "namespaces");
    let c = res(&s, "", "v1", "configmaps");
    s.create(&ns, "", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}), &opts()).unwrap();
    s.create(&c, "team", cm("x"), &opts()).unwrap();
    assert_eq!(s.create(&c, "nowhere", cm("x"), &opts()).unwrap_err().code, 404);
    s.delete(&ns, "", "team", &DeleteOptions::default()).unwrap();
    assert_eq!(s.get(&ns, "", "team").unwrap_err().code, 404);
    assert_eq!(s.get(&c, "team", "x").unwrap_err().code, 404);
}

#[test]
fn a_scheduled_pod_waits_for_its_grace_period() {
    let s = store();
    let p = res(&s, "", "v1", "pods");
    let pod = |name: &str, node: Option<&str>| {
        let mut v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        if let Some(n) = node {
            v["spec"]["nodeName"] = json!(n);
        }
        v
    };
    let made = s.create(&p, "default", pod("a", None), &opts()).unwrap().object;
    assert_eq!(made["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
    assert_eq!(made["spec"]["serviceAccountName"], "default");
    assert!(s.delete(&p, "default", "a", &DeleteOptions::default()).unwrap().gone, "never scheduled: gone at once");
    s.create(&p, "default", pod("b", Some("n")), &opts()).unwrap();
    let d = s.delete(&p, "default", "b", &DeleteOptions::default()).unwrap();
    assert!(!d.gone);
    assert_eq!(d.object["metadata"]["deletionGracePeriodSeconds"], 30);
    // The kubelet ends it with a zero grace period.
    assert!(s.delete(&p, "default", "b", &DeleteOptions { grace_period: Some(0), ..Default::default() }).unwrap().gone);
}

#[test]
fn invalid_objects_are_refused_with_causes_at_the_field() {
    let s = store();
    let d = res(&s, "apps", "v1", "deployments");
    let e = s.create(&d, "default", deployment("web", -1), &opts()).unwrap_err();
    assert_eq!((e.code, e.reason), (422, "Invalid"));
    assert_eq!(e.details.causes[0].field, "spec.replicas");
    assert_eq!(e.details.causes[0].reason, "FieldValueInvalid");
    let mut unknown = deployment("web", 1);
    unknown["spec"]["replica"] = json!(1);
    let strict = WriteOptions { validation: FieldValidation::Strict, ..opts() };
    let e = s.create(&d, "default", unknown.clone(), &strict).unwrap_err();
    assert_eq!(e.message, "strict decoding error: unknown field \"spec.replica\"");
    let warn = WriteOptions { validation: FieldValidation::Warn, ..opts() };
    let w = s.create(&d, "default", unknown, &warn).unwrap();
    assert_eq!(w.warnings, ["unknown field \"spec.replica\""]);
    assert!(w.object["spec"].get("replica").is_none(), "unknown fields are not stored");
}

#[test]
fn crds_serve_their_resources_while_they_exist() {
    let s = store();
    let crds = res(&s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
    let made = s.create(&crds, "", crd, &opts()).unwrap().object;
    assert_eq!(made["status"]["conditions"][1]["type"], "Established");
    let w = res(&s, "example.com", "v1", "widgets");
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "junk": 2}, "status": {"x": 1}});
    let warn = WriteOptions { validation: FieldValidation::Warn, ..opts() };
    let made = s.create(&w, "default", obj, &warn).unwrap();
    assert_eq!(made.object["spec"], json!({"size": 1}), "pruned");
    assert!(made.object.get("status").is_none(), "status comes through the subresource");
    assert_eq!(made.warnings, ["unknown field \"spec.junk\""]);
    s.delete(&crds, "", "widgets.example.com", &DeleteOptions::default()).unwrap();
    assert!(s.resource("example.com", "v1", "widgets").is_none());
}

/// The API is a client of the environment, like the runner: it names none of
/// the modules above or beside it (the runtime comes through `PodRuntime`).
#[test]
fn the_api_names_no_environment_module() {
    let files = [
        ("apply.rs", include_str!("apply.rs")),
        ("auth.rs", include_str!("auth.rs")),
        ("defaults.rs", include_str!("defaults.rs")),
        ("discovery.rs", include_str!("discovery.rs")),
        ("errors.rs", include_str!("errors.rs")),
        ("events.rs", include_str!("events.rs")),
        ("gc.rs", include_str!("gc.rs")),
        ("handler.rs", include_str!("handler.rs")),
        ("http.rs", include_str!("http.rs")),
        ("kubeconfig.rs", include_str!("kubeconfig.rs")),
        ("managed.rs", include_str!("managed.rs")),
        ("merge_keys.rs", include_str!("merge_keys.rs")),
        ("meta.rs", include_str!("meta.rs")),
        ("mod.rs", include_str!("mod.rs")),
        ("openapi.rs", include_str!("openapi.rs")),
        ("patch.rs", include_str!("patch.rs")),
        ("protobuf.rs", include_str!("protobuf.rs")),
        ("resources.rs", include_str!("resources.rs")),
        ("runtime.rs", include_str!("runtime.rs")),
        ("selectors.rs", include_str!("selectors.rs")),
        ("server.rs", include_str!("server.rs")),
        ("store.rs", include_str!("store.rs")),
        ("strategy.rs", include_str!("strategy.rs")),
        ("streams.rs", include_str!("streams.rs")),
        ("table.rs", include_str!("table.rs")),
        ("tls.rs", include_str!("tls.rs")),
        ("validate.rs", include_str!("validate.rs")),
    ];
    for module in ["env", "kubelet", "runner", "cli", "podman", "lifecycle"] {
        let needle = format!("{}::{module}", "crate");
        for (file, text) in files {
            assert!(!text.contains(&needle), "src/api/{file} names {needle}");
        }
    }
}
