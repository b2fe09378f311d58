//! Discovery: the legacy documents (`/api`, `/apis`, `/api/v1`,
//! `/apis/<group>`, `/apis/<group>/<version>`) and the aggregated one
//! (`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`
//! on `/api` and `/apis`, what kubectl 1.34 asks for first), from the
//! registry as it is now, CRDs included.

use super::resources::{Registry, Resource, VERBS};
use serde_json::{json, Value};

/// The content type of aggregated discovery.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// GET /api.
pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// GET /apis.
pub fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> =
        reg.groups().iter().filter(|(g, _)| !g.is_empty()).map(|(g, vs)| group_doc(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// GET /apis/<group>.
pub fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let (g, vs) = reg.groups().into_iter().find(|(g, _)| g == group && !g.is_empty())?;
    let mut doc = group_doc(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn resources_of<'r>(reg: &'r Registry, group: &str, version: &str) -> Vec<&'r Resource> {
    let mut v: Vec<&Resource> =
        reg.all().iter().map(|r| r.as_ref()).filter(|r| r.group == group && r.version == version).collect();
    v.sort_by(|a, b| a.plural.cmp(&b.plural));
    v
}

/// GET /api/v1 and /apis/<group>/<version>.
pub fn api_resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let list = resources_of(reg, group, version);
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut out = Vec::new();
    for r in list {
        let mut doc = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": VERBS});
        if !r.short_names.is_empty() {
            doc["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            doc["categories"] = json!(r.categories);
        }
        out.push(doc);
        for (sub, g, v, k, verbs) in subresources(r) {
            let mut d = json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": k, "verbs": verbs});
            if g != r.group || v != r.version {
                d["group"] = json!(g);
                d["version"] = json!(v);
            }
            out.push(d);
        }
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}))
}

/// A resource's subresources: (name, group, version, kind, verbs).
fn subresources(r: &Resource) -> Vec<(String, String, String, String, Vec<&'static str>)> {
    let mut out = Vec::new();
    for c in &r.connect {
        out.push((
            c.name.to_string(),
            c.kind.0.to_string(),
            c.kind.1.to_string(),
            c.kind.2.to_string(),
            c.verbs.to_vec(),
        ));
    }
    if r.scale.is_some() {
        out.push(("scale".into(), "autoscaling".into(), "v1".into(), "Scale".into(), vec!["get", "patch", "update"]));
    }
    if r.status {
        out.push(("status".into(), r.group.clone(), r.version.clone(), r.kind.clone(), vec!["get", "patch", "update"]));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The aggregated discovery of the core group (`/api`) or of every other
/// group (`/apis`).
pub fn aggregated(reg: &Registry, core: bool) -> Value {
    let mut items = Vec::new();
    for (g, versions) in reg.groups() {
        if g.is_empty() != core {
            continue;
        }
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> = resources_of(reg, &g, v)
                    .into_iter()
                    .map(|r| {
                        let mut d = json!({
                            "resource": r.plural,
                            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                            "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": r.singular,
                            "verbs": VERBS,
                        });
                        if !r.short_names.is_empty() {
                            d["shortNames"] = json!(r.short_names);
                        }
                        if !r.categories.is_empty() {
                            d["categories"] = json!(r.categories);
                        }
                        let subs: Vec<Value> = subresources(r)
                            .into_iter()
                            .map(|(s, sg, sv, k, verbs)| json!({"subresource": s, "responseKind": {"group": sg, "version": sv, "kind": k}, "verbs": verbs}))
                            .collect();
                        if !subs.is_empty() {
                            d["subresources"] = json!(subs);
                        }
                        d
                    })
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let mut metadata = json!({"creationTimestamp": null});
        if !g.is_empty() {
            metadata["name"] = json!(g);
        }
        items.push(json!({"metadata": metadata, "versions": vs}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_the_kinds_and_their_subresources() {
        let reg = Registry::default();
        let core = api_resource_list(&reg, "", "v1").unwrap();
        let names: Vec<&str> =
            core["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        for n in ["pods", "pods/log", "pods/exec", "pods/status", "services", "configmaps", "events"] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let apps = api_resource_list(&reg, "apps", "v1").unwrap();
        let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!(scale["group"], "autoscaling");
        let agg = aggregated(&reg, false);
        let groups: Vec<&str> =
            agg["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
        assert!(
            groups.contains(&"apps") && groups.contains(&"events.k8s.io") && groups.contains(&"apiextensions.k8s.io")
        );
        assert_eq!(aggregated(&reg, true)["items"].as_array().unwrap().len(), 1);
        assert!(api_group(&reg, "batch").is_some());
        assert!(api_resource_list(&reg, "nope", "v1").is_none());
    }
}
