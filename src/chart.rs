//! `promote --format helm`: the promoted objects as a Helm chart.
//!
//! `Chart.yaml`, `values.yaml` and one template per object
//! (`templates/<kind>-<name>.yaml`, the plain output's file name). The
//! templates are the plain output's objects with two kinds of value taken
//! from `values.yaml`, where a user of a chart expects them: the image of
//! every container (and of a KubeDirectorApp's roles) and the replica count
//! of every Deployment and StatefulSet (and the members of a
//! KubeDirectorCluster's roles). Their defaults are the promoted values, so
//! `helm template` with the default values renders exactly the plain
//! objects. Everything else is literal: a `{{` in the objects (a Prometheus
//! rule's `{{ $labels.instance }}`) is escaped as `{{ "{{" }}`, so helm
//! prints it instead of running it.

use crate::render::Object;
use serde_yaml::Value;
use std::collections::BTreeMap;

/// A chart's files: relative path, text, and whether it holds Secret values.
pub struct ChartFile {
    pub name: String,
    pub text: String,
    pub secret: bool,
}

/// What a chart is called and described as.
pub struct Meta<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub description: &'a str,
}

/// One value a template takes from `values.yaml`: where in `values.yaml`,
/// and whether it is a string (quoted, as helm's conventions want) or a number.
struct Slot {
    path: Vec<String>,
    quote: bool,
}

/// A Go template string literal.
fn go_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Slot {
    fn action(&self) -> String {
        let (top, rest) = self.path.split_first().expect("a slot has a path");
        let keys: Vec<String> = rest.iter().map(|k| go_string(k)).collect();
        let value = format!("index .Values.{top} {}", keys.join(" "));
        if self.quote {
            format!("{{{{ {value} | quote }}}}")
        } else {
            format!("{{{{ {value} }}}}")
        }
    }
}

/// Collects the chart's values and the templates' slots while walking objects.
#[derive(Default)]
struct Values {
    images: BTreeMap<String, BTreeMap<String, Value>>,
    replicas: BTreeMap<String, Value>,
    slots: Vec<Slot>,
    prefix: String,
}

impl Values {
    /// Moves the value at `v` into values.yaml under `top.key.sub` and leaves a token in its place.
    fn take(&mut self, v: &mut Value, top: &str, key: &str, sub: Option<&str>) -> Result<(), String> {
        let value = std::mem::replace(v, Value::String(format!("{}{}", self.prefix, self.slots.len())));
        let quote = value.is_string();
        let taken = match (top, sub) {
            ("images", Some(sub)) => {
                self.images.entry(key.to_string()).or_default().insert(sub.to_string(), value).is_some()
            }
            ("replicas", None) => self.replicas.insert(key.to_string(), value).is_some(),
            ("replicas", Some(sub)) => {
                let entry = self.replicas.entry(key.to_string()).or_insert_with(|| Value::Mapping(Default::default()));
                match entry.as_mapping_mut() {
                    Some(m) => m.insert(sub.into(), value).is_some(),
                    None => true,
                }
            }
            _ => unreachable!("only images and replicas are values"),
        };
        if taken {
            let at = [top, key].into_iter().chain(sub).collect::<Vec<_>>().join(".");
            return Err(format!(
                "two objects would share the value `{at}` (objects of different kinds with one name): promote them with --format plain"
            ));
        }
        let mut path = vec![top.to_string(), key.to_string()];
        path.extend(sub.map(str::to_string));
        self.slots.push(Slot { path, quote });
        Ok(())
    }

    /// The images of a pod spec's containers.
    fn pod_spec(&mut self, spec: Option<&mut Value>, owner: &str) -> Result<(), String> {
        let Some(spec) = spec else { return Ok(()) };
        for list in ["initContainers", "containers"] {
            for c in spec.get_mut(list).and_then(Value::as_sequence_mut).into_iter().flatten() {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                if let Some(image) = c.get_mut("image").filter(|i| i.is_string()) {
                    self.take(image, "images", owner, Some(&name))?;
                }
            }
        }
        Ok(())
    }

    fn object(&mut self, kind: &str, name: &str, v: &mut Value) -> Result<(), String> {
        match kind {
            "Pod" => self.pod_spec(v.get_mut("spec"), name)?,
            "Deployment" | "StatefulSet" | "Job" => {
                if let Some(spec) = v.get_mut("spec") {
                    if kind != "Job" {
                        if let Some(r) = spec.get_mut("replicas").filter(|r| r.is_number()) {
                            self.take(r, "replicas", name, None)?;
                        }
                    }
                    self.pod_spec(spec.get_mut("template").and_then(|t| t.get_mut("spec")), name)?;
                }
            }
            "KubeDirectorApp" => {
                if let Some(spec) = v.get_mut("spec") {
                    if let Some(i) = spec.get_mut("defaultImageRepoTag").filter(|i| i.is_string()) {
                        self.take(i, "images", name, Some("defaultImageRepoTag"))?;
                    }
                    for role in spec.get_mut("roles").and_then(Value::as_sequence_mut).into_iter().flatten() {
                        let id = role.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                        if let Some(i) = role.get_mut("imageRepoTag").filter(|i| i.is_string()) {
                            self.take(i, "images", name, Some(&id))?;
                        }
                    }
                }
            }
            "KubeDirectorCluster" => {
                for role in v
                    .get_mut("spec")
                    .and_then(|s| s.get_mut("roles"))
                    .and_then(Value::as_sequence_mut)
                    .into_iter()
                    .flatten()
                {
                    let id = role.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                    if let Some(m) = role.get_mut("members").filter(|m| m.is_number()) {
                        self.take(m, "replicas", name, Some(&id))?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Escapes every `{{` of literal text, so Go's template engine prints it.
fn escape_actions(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

fn yaml(v: &impl serde::Serialize) -> String {
    crate::yaml::quote_yaml11(&serde_yaml::to_string(v).expect("values serialize"))
}

/// The chart of `objects` (already annotated and with their images mapped),
/// each given with the plain output's file name.
pub fn chart(meta: &Meta, objects: &[(String, &Object)]) -> Result<Vec<ChartFile>, String> {
    let texts: Vec<String> = objects.iter().map(|(_, o)| o.to_yaml()).collect();
    // A token for each value that no object's text holds.
    let mut prefix = "PODPROOF-HELM-VALUE-".to_string();
    while texts.iter().any(|t| t.contains(&prefix)) {
        prefix.push('X');
    }
    let mut values = Values { prefix, ..Default::default() };
    let mut files = Vec::new();
    for ((file, o), text) in objects.iter().zip(&texts) {
        let (kind, name) = o.kind_name();
        let mut v: Value = serde_yaml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let first = values.slots.len();
        values.object(&kind, &name, &mut v)?;
        let mut t = escape_actions(&yaml(&v));
        // The highest numbers first, so token 1 does not match inside token 12.
        for i in (first..values.slots.len()).rev() {
            t = t.replace(&format!("{}{i}", values.prefix), &values.slots[i].action());
        }
        files.push(ChartFile { name: format!("templates/{file}"), text: t, secret: matches!(o, Object::Secret(_)) });
    }
    let version = env!("CARGO_PKG_VERSION");
    let mut chart = serde_yaml::Mapping::new();
    chart.insert("apiVersion".into(), "v2".into());
    chart.insert("name".into(), meta.name.into());
    chart.insert("description".into(), meta.description.into());
    chart.insert("type".into(), "application".into());
    chart.insert("version".into(), meta.version.into());
    let head = format!("# Written by `podproof promote --format helm` (podproof {version}); see README.md.\n");
    files.insert(0, ChartFile { name: "Chart.yaml".into(), text: head + &yaml(&chart), secret: false });
    let mut text = format!(
        "# The values of this chart. Their defaults are what podproof {version} promoted:\n# with them, `helm template` renders the tested objects exactly.\n\n"
    );
    text.push_str(
        "# The image of each container, by workload and container name (for a\n# KubeDirectorApp, by role id, and its defaultImageRepoTag), after the image map.\n",
    );
    text.push_str(&yaml(&BTreeMap::from([("images", &values.images)])));
    text.push_str(
        "\n# The replica count of each Deployment and StatefulSet (for a\n# KubeDirectorCluster, the members of each role), as tested.\n",
    );
    text.push_str(&yaml(&BTreeMap::from([("replicas", &values.replicas)])));
    files.insert(1, ChartFile { name: "values.yaml".into(), text, secret: false });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_braces_are_escaped_and_values_are_slots() {
        assert_eq!(escape_actions("a: '{{ $labels.x }}'"), "a: '{{ \"{{\" }} $labels.x }}'");
        let slot = Slot { path: vec!["images".into(), "web".into(), "nginx".into()], quote: true };
        assert_eq!(slot.action(), "{{ index .Values.images \"web\" \"nginx\" | quote }}");
        let slot = Slot { path: vec!["replicas".into(), "web".into()], quote: false };
        assert_eq!(slot.action(), "{{ index .Values.replicas \"web\" }}");
        assert_eq!(go_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}
