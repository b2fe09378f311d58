//! `promote --format helm`: a chart that real helm v4 lints and renders into
//! the plain output's objects, object for object, compared as data.

use super::{promote, tested_project};
use crate::common::{root, tempdir, tool_or_skip, Test};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Objects by `Kind/name`.
type Objects = BTreeMap<String, Value>;

fn key(v: &Value) -> String {
    format!("{}/{}", v["kind"].as_str().unwrap_or("?"), v["metadata"]["name"].as_str().unwrap_or("?"))
}

/// Every document of a YAML stream that is not empty.
fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{e}\n{text}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// The plain output's objects: every YAML file but a kustomization.
fn plain_objects(dir: &Path) -> Objects {
    let mut out = Objects::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml") {
            for v in documents(&std::fs::read_to_string(&p).unwrap()) {
                assert!(out.insert(key(&v), v).is_none(), "{} twice", p.display());
            }
        }
    }
    out
}

/// `helm lint --strict` passes, and `helm template` renders these objects.
fn helm_objects(helm: &Path, chart: &Path, set: &[&str]) -> Objects {
    let lint = Test::new().program(helm).args(["lint", "--strict"]).arg(chart).run();
    assert!(lint.stdout.contains("1 chart(s) linted, 0 chart(s) failed"), "{lint}");
    let mut t = Test::new().program(helm).args(["template", "release"]).arg(chart);
    for s in set {
        t = t.args(["--set", s]);
    }
    let mut out = Objects::new();
    for v in documents(&t.run().stdout) {
        assert!(out.insert(key(&v), v.clone()).is_none(), "{} twice", key(&v));
    }
    out
}

/// Promotes `args` as plain output and as a chart from `dir`, and checks
/// that helm renders the chart into the plain objects exactly.
fn check_round_trip(helm: &Path, dir: &Path, args: &[&str]) -> Objects {
    let (plain, chart) = (tempdir(), tempdir());
    Test::new().current_dir(dir).arg("promote").args(args).arg("--out").arg(plain.path()).run();
    Test::new().current_dir(dir).arg("promote").args(args).args(["--format", "helm", "--out"]).arg(chart.path()).run();
    let want = plain_objects(plain.path());
    let got = helm_objects(helm, chart.path(), &[]);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{args:?}");
    for (k, v) in &want {
        assert_eq!(&got[k], v, "{args:?}: {k} differs between the chart and the plain output");
    }
    want
}

/// Every fixture (workloads, Jobs, Pods, KubeDirector resources, reload sidecars, claims).
#[test]
fn every_fixture_as_a_chart_renders_to_its_plain_objects() {
    let Some(helm) = tool_or_skip("the helm chart round trip", "helm") else { return };
    let map = "localhost/podproof/=registry.example.com/podproof/";
    for e in std::fs::read_dir(root().join("fixtures/apps")).unwrap().flatten().filter(|e| e.path().is_dir()) {
        let name = e.file_name().to_string_lossy().to_string();
        let app = if name == "simple-app" {
            format!("{}/simple-app.yaml", e.path().display())
        } else {
            e.path().display().to_string()
        };
        check_round_trip(&helm, &root(), &[&app, "--force", "--hostpath-to-pvc", "--image-map", map]);
    }
}

/// Literal `{{` (Prometheus rule templates, Go templates in config) stays
/// literal, and the values do what their names say.
#[test]
fn a_chart_keeps_literal_braces_and_takes_images_and_replicas_from_values() {
    let Some(helm) = tool_or_skip("the helm chart values", "helm") else { return };
    let dir = tempdir();
    std::fs::write(dir.path().join("podproof.yaml"), "# a project for one test\n").unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata: {name: rules}
data:
  rules.yaml: |
    groups:
    - name: up
      rules:
      - alert: Down
        annotations:
          summary: '{{ $labels.instance }} is down {{- if true }}!{{ end }}'
  literal: "{{ .Values.images }} {{/* not a comment to helm */}}"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  # Two replicas: a StatefulSet in the cluster flavour.
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
      - {name: setup, image: "docker.io/library/busybox:1.36.1", command: ["true"]}
      containers:
      - name: web
        image: docker.io/library/nginx:1.27
        volumeMounts: [{name: rules, mountPath: /rules}]
      volumes: [{name: rules, configMap: {name: rules}}]
"#,
    )
    .unwrap();
    let want = check_round_trip(&helm, dir.path(), &["app.yaml", "--force"]);
    assert!(
        want["ConfigMap/rules"]["data"]["rules.yaml"]
            .as_str()
            .unwrap()
            .contains("'{{ $labels.instance }} is down {{- if true }}!{{ end }}'"),
        "{:?}",
        want["ConfigMap/rules"]
    );
    let chart = tempdir();
    promote(dir.path())
        .args(["app.yaml", "--force", "--format", "helm", "--chart-version", "1.2.3-rc.1", "--out"])
        .arg(chart.path())
        .run();
    let values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart.path().join("values.yaml")).unwrap()).unwrap();
    assert_eq!(values["images"]["web"]["web"].as_str(), Some("docker.io/library/nginx:1.27"));
    assert_eq!(values["images"]["web"]["setup"].as_str(), Some("docker.io/library/busybox:1.36.1"));
    assert_eq!(values["replicas"]["web"].as_i64(), Some(2));
    let meta: Value = serde_yaml::from_str(&std::fs::read_to_string(chart.path().join("Chart.yaml")).unwrap()).unwrap();
    assert_eq!((meta["apiVersion"].as_str(), meta["version"].as_str()), (Some("v2"), Some("1.2.3-rc.1")));
    let set = helm_objects(&helm, chart.path(), &["replicas.web=5", "images.web.web=registry.example.com/nginx:2"]);
    let spec = &set["StatefulSet/web"]["spec"];
    assert_eq!(spec["replicas"].as_i64(), Some(5));
    assert_eq!(spec["template"]["spec"]["containers"][0]["image"].as_str(), Some("registry.example.com/nginx:2"));
    assert_eq!(
        spec["template"]["spec"]["initContainers"][0]["image"].as_str(),
        Some("docker.io/library/busybox:1.36.1")
    );
    // Only the values are templated: the template holds no other action.
    let template = std::fs::read_to_string(chart.path().join("templates/statefulset-web.yaml")).unwrap();
    assert_eq!(template.matches("{{").count(), 3, "{template}");
    assert!(template.contains("replicas: {{ index .Values.replicas \"web\" }}\n"), "{template}");
    assert!(template.contains("image: {{ index .Values.images \"web\" \"web\" | quote }}\n"), "{template}");
}

/// A tested app as a chart: the provenance annotations render as in the
/// plain output, and the Secret's template is readable by its owner only.
#[test]
fn a_tested_app_as_a_chart_keeps_its_provenance() {
    let Some(helm) = tool_or_skip("the tested chart", "helm") else { return };
    let dir = tested_project(true);
    let objects = check_round_trip(&helm, dir.path(), &["app"]);
    let record = objects["Deployment/tiny-web"]["metadata"]["annotations"]["podproof.dev/record"].as_str().unwrap();
    assert!(record.ends_with(".json"), "{record}");
    let chart = dir.path().join("chart");
    promote(dir.path()).args(["app", "--format", "helm", "--out", "chart"]).run();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(chart.join("templates/secret-tiny-web-secret.yaml")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let readme = std::fs::read_to_string(chart.join("README.md")).unwrap();
    assert!(readme.contains("helm install RELEASE ."), "{readme}");
}
