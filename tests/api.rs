//! The Kubernetes API against the real clients: each test starts the hidden
//! `podproof __apiserver` (an empty environment, no pods run, so no podman
//! and no lock) and drives kubectl v1.34 or helm v4 from the set-up's tools
//! against it, checking the answers.

mod common;

use common::{start_command_until, tempdir, tool_or_skip, Output, Test};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running API server, stopped (SIGTERM, then waited for) when dropped.
struct Api {
    child: Child,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Api {
    /// Starts a server, or `None` when kubectl is not installed (the test returns).
    fn start(test: &str) -> Option<Api> {
        let kubectl = tool_or_skip(test, "kubectl")?;
        let dir = tempdir();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut cmd = Command::new(common::podproof());
        let state = dir.path().join("state");
        let args = ["__apiserver", "--kubeconfig", kubeconfig.to_str().unwrap(), "--dir", state.to_str().unwrap()];
        cmd.args(args).current_dir(dir.path());
        let (child, lines) = start_command_until(cmd, &args, "serving the Kubernetes API at");
        // The server's later stderr, kept for the failure messages and the
        // check that no Secret value reaches it.
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        Some(Api { child, dir, kubeconfig, kubectl, stderr })
    }

    fn kubectl<I, S>(&self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Test::new()
            .program(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .timeout(Duration::from_secs(60))
    }

    /// `kubectl ... -o json` parsed.
    fn json<I, S>(&self, args: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.kubectl(args).args(["-o", "json"]).run();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }

    /// Writes `text` to a file in the test's directory and returns its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn server_stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes no pointers; the pid is our own child's, not yet waited for.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("the API server did not stop within 10 s of SIGTERM");
    }
}

const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {app: web}}
data: {a: "1"}
"#;

#[test]
fn create_and_get_in_every_output() {
    let Some(api) = Api::start("create_and_get_in_every_output") else { return };
    let f = api.file("app.yaml", APP);
    api.kubectl(["create", "-f"])
        .arg(&f)
        .stdout_contains("deployment.apps/web created")
        .stdout_contains("service/web created")
        .run();
    let d = api.json(["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(d["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate", "defaulted: {d}");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(d["status"], serde_json::json!({}));
    let y = api.kubectl(["get", "svc", "web", "-o", "yaml"]).run();
    assert!(y.stdout.contains("clusterIP: 10.96.0.2") && y.stdout.contains("protocol: TCP"), "{y}");
    api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}/{.spec.template.spec.containers[0].image}"])
        .expect_stdout("2/nginx:1.27")
        .run();
    let wide = api.kubectl(["get", "deploy", "-o", "wide"]).run();
    let lines: Vec<&str> = wide.stdout.lines().collect();
    let cols: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(cols, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"], "{wide}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!((row[0], row[1], row[5], row[6], row[7]), ("web", "0/2", "web", "nginx:1.27", "app=web"), "{wide}");
    let svc = api.kubectl(["get", "svc", "web"]).run();
    assert!(
        svc.stdout.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>()[..5]
            == ["web", "ClusterIP", "10.96.0.2", "<none>", "80/TCP"],
        "{svc}"
    );
    // The cluster's own objects are there.
    let ns = api.kubectl(["get", "ns"]).run();
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.stdout.contains(n), "{ns}");
    }
    api.kubectl(["get", "sa", "default", "-o", "name"]).expect_stdout("serviceaccount/default\n").run();
    api.kubectl(["get", "nodes"]).stdout_contains("podproof   Ready    control-plane").run();
    api.kubectl(["get", "deploy", "nope"])
        .expect_status(1)
        .stderr_contains("Error from server (NotFound): deployments.apps \"nope\" not found")
        .run();
}

#[test]
fn label_and_field_selectors() {
    let Some(api) = Api::start("label_and_field_selectors") else { return };
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        api.kubectl(["run", name, "--image=busybox", "--restart=Never"])
            .arg(format!("--labels=app=x,tier={tier}"))
            .run();
    }
    let names = |args: &[&str]| -> String { api.kubectl(["get", "pods", "-o", "name"]).args(args).run().stdout };
    assert_eq!(names(&["-l", "tier=front"]), "pod/a\npod/c\n");
    assert_eq!(names(&["-l", "tier!=front"]), "pod/b\n");
    assert_eq!(names(&["-l", "tier in (back,other),app"]), "pod/b\n");
    assert_eq!(names(&["--field-selector", "metadata.name=c"]), "pod/c\n");
    assert_eq!(names(&["--field-selector", "status.phase=Pending,metadata.name!=a"]), "pod/b\npod/c\n");
    let none = api.kubectl(["get", "pods", "--field-selector", "spec.nodeName=elsewhere"]).run();
    assert!(none.stderr.contains("No resources found in default namespace."), "{none}");
    api.kubectl(["get", "pods", "--field-selector", "spec.image=x"])
        .expect_status(1)
        .stderr_contains("field label not supported: spec.image")
        .run();
    // kubectl get pods as on a cluster, with the -o wide columns.
    let wide = api.kubectl(["get", "pods", "-o", "wide"]).run();
    let head: Vec<&str> = wide.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    );
    let row: Vec<&str> = wide.stdout.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[1], row[2], row[3]), ("a", "0/1", "Pending", "0"), "{wide}");
    // Paging: kubectl asks with limit; a small chunk size takes several pages.
    api.kubectl(["get", "pods", "-o", "name", "--chunk-size=1"]).expect_stdout("pod/a\npod/b\npod/c\n").run();
}

#[test]
fn get_watch_sees_later_changes() {
    let Some(api) = Api::start("get_watch_sees_later_changes") else { return };
    let mut watch = Command::new(&api.kubectl)
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args(["get", "configmaps", "-w", "--request-timeout=30s"])
        .env("HOME", api.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut seen = Vec::new();
    let wait_for = |want: &str, seen: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                seen.push(l.clone());
                if l.contains(want) {
                    return;
                }
            }
        }
        panic!("kubectl get -w never printed {want:?}; it printed:\n{}", seen.join("\n"));
    };
    wait_for("kube-root-ca.crt", &mut seen);
    api.kubectl(["create", "configmap", "later", "--from-literal=k=v"]).run();
    wait_for("later", &mut seen);
    api.kubectl(["create", "configmap", "second", "--from-literal=k=v"]).run();
    wait_for("second", &mut seen);
    let _ = watch.kill();
    let _ = watch.wait();
    // A raw watch from the list's resourceVersion sees the change after it.
    // kubectl's -o json of a LIST is a List of its own, without the resourceVersion.
    let list: Value =
        serde_json::from_str(&api.kubectl(["get", "--raw", "/api/v1/namespaces/default/configmaps"]).run().stdout)
            .unwrap();
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let mut raw = Command::new(&api.kubectl)
        .arg("--kubeconfig")
        .arg(&api.kubeconfig)
        .args(["get", "--raw"])
        .arg(format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=5"))
        .env("HOME", api.dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    api.kubectl(["label", "configmap", "later", "seen=yes"]).run();
    let mut out = String::new();
    use std::io::Read;
    raw.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let _ = raw.wait();
    let events: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 1, "{out}");
    assert_eq!(events[0]["type"], "MODIFIED");
    assert_eq!(events[0]["object"]["metadata"]["labels"]["seen"], "yes");
}

#[test]
fn apply_creates_then_changes() {
    let Some(api) = Api::start("apply_creates_then_changes") else { return };
    let f = api.file("app.yaml", APP);
    api.kubectl(["apply", "-f"]).arg(&f).stdout_contains("deployment.apps/web created").run();
    api.kubectl(["apply", "-f"])
        .arg(&f)
        .stdout_contains("deployment.apps/web unchanged")
        .stdout_contains("configmap/cfg unchanged")
        .run();
    let rv = api.json(["get", "deploy", "web"])["metadata"]["resourceVersion"].clone();
    let changed = api.file(
        "app2.yaml",
        &APP.replace("replicas: 2", "replicas: 3").replace("nginx:1.27", "nginx:1.28").replace("a: \"1\"", "b: \"2\""),
    );
    api.kubectl(["apply", "-f"])
        .arg(&changed)
        .stdout_contains("deployment.apps/web configured")
        .stdout_contains("configmap/cfg configured")
        .run();
    let d = api.json(["get", "deploy", "web"]);
    assert_ne!(d["metadata"]["resourceVersion"], rv);
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28");
    // Client-side apply removes what the last applied configuration had.
    assert_eq!(api.json(["get", "cm", "cfg"])["data"], serde_json::json!({"b": "2"}));
}

#[test]
fn server_side_apply_owns_fields_and_conflicts() {
    let Some(api) = Api::start("server_side_apply_owns_fields_and_conflicts") else { return };
    let f = api.file("app.yaml", APP);
    api.kubectl(["apply", "--server-side", "-f"])
        .arg(&f)
        .stdout_contains("deployment.apps/web serverside-applied")
        .run();
    let d = api.kubectl(["get", "deploy", "web", "-o", "json", "--show-managed-fields"]).run();
    let d: Value = serde_json::from_str(&d.stdout).unwrap();
    let mf = &d["metadata"]["managedFields"][0];
    assert_eq!((mf["manager"].as_str(), mf["operation"].as_str()), (Some("kubectl"), Some("Apply")));
    assert!(mf["fieldsV1"]["f:spec"]["f:replicas"].is_object(), "{mf}");
    assert!(
        mf["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:image"].is_object(),
        "{mf}"
    );
    // Another manager with another value conflicts, at the field.
    let other = api.file("other.yaml", &APP.replace("replicas: 2", "replicas: 5"));
    api.kubectl(["apply", "--server-side", "--field-manager=other", "-f"])
        .arg(&other)
        .expect_status(1)
        .stderr_contains("Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas")
        .run();
    api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).expect_stdout("2").run();
    api.kubectl(["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f"]).arg(&other).run();
    api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).expect_stdout("5").run();
    // A field the manager stops applying goes, unless another manager owns it
    // ("other" applied cfg's data.a too).
    let solo =
        api.file("solo.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: solo}\ndata: {a: \"1\", b: \"2\"}\n");
    api.kubectl(["apply", "--server-side", "-f"]).arg(&solo).run();
    let fewer = api.file("fewer.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: solo}\ndata: {a: \"1\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {}\n");
    api.kubectl(["apply", "--server-side", "-f"]).arg(&fewer).run();
    assert_eq!(api.json(["get", "cm", "solo"])["data"], serde_json::json!({"a": "1"}));
    assert_eq!(api.json(["get", "cm", "cfg"])["data"], serde_json::json!({"a": "1"}));
}

#[test]
fn patch_label_annotate_and_scale() {
    let Some(api) = Api::start("patch_label_annotate_and_scale") else { return };
    let f = api.file("app.yaml", APP);
    api.kubectl(["apply", "-f"]).arg(&f).run();
    api.kubectl([
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}"#,
    ])
    .stdout_contains("deployment.apps/web patched")
    .run();
    api.kubectl(["patch", "deploy", "web", "--type=merge", "-p", r#"{"metadata":{"labels":{"tier":"front"}}}"#]).run();
    api.kubectl([
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
    ])
    .run();
    let d = api.json(["get", "deploy", "web"]);
    let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "side"], "the strategic patch merged the containers by name");
    assert_eq!(d["metadata"]["labels"]["tier"], "front");
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 3, "two spec changes, one label change");
    api.kubectl(["label", "deploy", "web", "env=dev"]).stdout_contains("deployment.apps/web labeled").run();
    api.kubectl(["annotate", "deploy", "web", "note=hello"]).stdout_contains("deployment.apps/web annotated").run();
    api.kubectl(["get", "deploy", "-l", "env=dev", "-o", "jsonpath={.items[0].metadata.annotations.note}"])
        .expect_stdout("hello")
        .run();
    api.kubectl(["label", "deploy", "web", "env-"]).run();
    api.kubectl(["get", "deploy", "-l", "env", "-o", "name"]).expect_stdout("").run();
    api.kubectl(["scale", "deploy", "web", "--replicas=6"]).stdout_contains("deployment.apps/web scaled").run();
    api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).expect_stdout("6").run();
    api.kubectl(["get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"])
        .stdout_contains(r#""selector":"app=web""#)
        .run();
    // A bad JSON patch is refused, not half applied.
    api.kubectl([
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":1}]"#,
    ])
    .expect_status(1)
    .run();
}

#[test]
fn delete_propagates_to_owned_objects() {
    let Some(api) = Api::start("delete_propagates_to_owned_objects") else { return };
    let owner = |name: &str| {
        api.kubectl(["create", "configmap", name]).run();
        api.json(["get", "cm", name])["metadata"]["uid"].as_str().unwrap().to_string()
    };
    let dependent = |name: &str, owner: &str, uid: &str| {
        let f = api.file(
            &format!("{name}.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: {owner}, uid: {uid}}}\n"),
        );
        api.kubectl(["create", "-f"]).arg(&f).run();
    };
    let uid = owner("owner");
    dependent("dep", "owner", &uid);
    api.kubectl(["delete", "cm", "owner"]).stdout_contains("configmap \"owner\" deleted").run();
    api.kubectl(["get", "cm", "dep"]).expect_status(1).stderr_contains("NotFound").run();
    let uid = owner("owner");
    dependent("dep", "owner", &uid);
    api.kubectl(["delete", "cm", "owner", "--cascade=orphan"]).run();
    let dep = api.json(["get", "cm", "dep"]);
    assert!(dep["metadata"].get("ownerReferences").is_none(), "{dep}");
    let uid = owner("owner2");
    dependent("dep2", "owner2", &uid);
    api.kubectl(["delete", "cm", "owner2", "--cascade=foreground"]).run();
    api.kubectl(["get", "cm", "dep2", "owner2"]).expect_status(1).run();
    // A deleted namespace takes what is in it.
    api.kubectl(["create", "namespace", "team"]).run();
    api.kubectl(["create", "configmap", "x", "-n", "team"]).run();
    api.kubectl(["delete", "namespace", "team"]).run();
    api.kubectl(["get", "cm", "x", "-n", "team"]).expect_status(1).stderr_contains("NotFound").run();
    api.kubectl(["create", "configmap", "y", "-n", "team"])
        .expect_status(1)
        .stderr_contains("namespaces \"team\" not found")
        .run();
}

#[test]
fn explain_reads_the_openapi_documents() {
    let Some(api) = Api::start("explain_reads_the_openapi_documents") else { return };
    api.kubectl(["explain", "deployment.spec.strategy"])
        .stdout_contains("KIND:       Deployment")
        .stdout_contains("rollingUpdate\t<RollingUpdateDeployment>")
        .run();
    api.kubectl(["explain", "pods.spec.containers.image"]).stdout_contains("FIELD: image <string>").run();
}

#[test]
fn a_bad_write_is_invalid_at_the_field() {
    let Some(api) = Api::start("a_bad_write_is_invalid_at_the_field") else { return };
    let bad = api.file(
        "bad.yaml",
        &APP.replace("replicas: 2", "replicas: -1").replace("name: web\n        image", "name: Web_1\n        image"),
    );
    let out = api.kubectl(["apply", "-f"]).arg(&bad).arg("-v=8").expect_status(1).run();
    assert!(out.stderr.contains("The Deployment \"web\" is invalid:"), "{out}");
    assert!(out.stderr.contains("* spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "{out}");
    assert!(out.stderr.contains("spec.template.spec.containers[0].name"), "{out}");
    // The Status itself, as kubectl logged the response body.
    let body = out
        .stderr
        .lines()
        .find(|l| l.contains("Response Body") && l.contains("Invalid"))
        .unwrap_or_else(|| panic!("{out}"));
    for want in [
        r#"\"reason\":\"Invalid\""#,
        r#"\"code\":422"#,
        r#"\"causes\":["#,
        r#"\"field\":\"spec.replicas\""#,
        r#"\"reason\":\"FieldValueInvalid\""#,
    ] {
        assert!(body.contains(want), "{want} in {body}");
    }
    // Strict field validation refuses an unknown field; the others did not get in.
    let unknown =
        api.file("unknown.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: u}\ndata: {a: \"1\"}\nextra: 1\n");
    api.kubectl(["create", "-f"])
        .arg(&unknown)
        .expect_status(1)
        .stderr_contains("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"extra\"")
        .run();
    api.kubectl(["create", "--validate=warn", "-f"])
        .arg(&unknown)
        .stderr_contains("Warning: unknown field \"extra\"")
        .run();
    api.kubectl(["get", "deploy"]).stderr_contains("No resources found").run();
}

#[test]
fn unauthenticated_requests_are_refused() {
    let Some(api) = Api::start("unauthenticated_requests_are_refused") else { return };
    let text = std::fs::read_to_string(&api.kubeconfig).unwrap();
    let token = text.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_string();
    let wrong = api.file("wrong", &text.replace(&token, "not-the-token"));
    let out = Test::new()
        .program(&api.kubectl)
        .arg("--kubeconfig")
        .arg(&wrong)
        .args(["get", "pods", "-v=8"])
        .env("HOME", api.dir.path())
        .expect_status(1)
        .run();
    assert!(out.stderr.contains("error: You must be logged in to the server"), "{out}");
    assert!(out.stderr.contains(r#"\"reason\":\"Unauthorized\""#) && out.stderr.contains(r#"\"code\":401"#), "{out}");
    let none = api.file("none", &text.replace(&format!("token: {token}"), "username: x"));
    let out = Test::new()
        .program(&api.kubectl)
        .arg("--kubeconfig")
        .arg(&none)
        .args(["get", "--raw", "/version"])
        .env("HOME", api.dir.path())
        .expect_status(1)
        .run();
    assert!(out.stderr.contains("Unauthorized") || out.stderr.contains("provide credentials"), "{out}");
    // The kubeconfig and the keys are the user's alone.
    use std::os::unix::fs::PermissionsExt;
    for f in [api.kubeconfig.clone(), api.dir.path().join("state/apiserver.key"), api.dir.path().join("state/token")] {
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
    }
}

fn write_chart(dir: &Path) -> PathBuf {
    let c = dir.join("chart");
    std::fs::create_dir_all(c.join("templates")).unwrap();
    std::fs::write(c.join("Chart.yaml"), "apiVersion: v2\nname: settings\nversion: 0.1.0\n").unwrap();
    let mut t = std::fs::File::create(c.join("templates/objects.yaml")).unwrap();
    write!(
        t,
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{{{ .Release.Name }}}}-cfg
data:
  greeting: {{{{ .Values.greeting | default "hello" | quote }}}}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{{{ .Release.Name }}}}-sec
stringData:
  password: hunter2-is-the-value
"#
    )
    .unwrap();
    c
}

#[test]
fn helm_installs_upgrades_and_uninstalls_a_chart() {
    let Some(api) = Api::start("helm_installs_upgrades_and_uninstalls_a_chart") else { return };
    let Some(helm) = tool_or_skip("helm_installs_upgrades_and_uninstalls_a_chart", "helm") else { return };
    let chart = write_chart(api.dir.path());
    let helm_run = |args: &[&str]| -> Output {
        Test::new()
            .program(&helm)
            .args(args)
            .env("KUBECONFIG", &api.kubeconfig)
            .env("HOME", api.dir.path())
            .env("HELM_CACHE_HOME", api.dir.path().join("helm-cache"))
            .env("HELM_CONFIG_HOME", api.dir.path().join("helm-config"))
            .env("HELM_DATA_HOME", api.dir.path().join("helm-data"))
            .timeout(Duration::from_secs(120))
            .run()
    };
    helm_run(&["install", "demo", chart.to_str().unwrap()]).assert_stdout_contains("STATUS: deployed");
    api.kubectl(["get", "cm", "demo-cfg", "-o", "jsonpath={.data.greeting}"]).expect_stdout("hello").run();
    // stringData was written into data.
    api.kubectl(["get", "secret", "demo-sec", "-o", "jsonpath={.data.password}"])
        .expect_stdout("aHVudGVyMi1pcy10aGUtdmFsdWU=")
        .run();
    api.kubectl(["get", "secret", "-l", "owner=helm", "-o", "name"])
        .expect_stdout("secret/sh.helm.release.v1.demo.v1\n")
        .run();
    helm_run(&["list"]).assert_stdout_contains("demo");
    helm_run(&["upgrade", "demo", chart.to_str().unwrap(), "--set", "greeting=hi"])
        .assert_stdout_contains("REVISION: 2");
    api.kubectl(["get", "cm", "demo-cfg", "-o", "jsonpath={.data.greeting}"]).expect_stdout("hi").run();
    helm_run(&["uninstall", "demo"]).assert_stdout_contains("release \"demo\" uninstalled");
    api.kubectl(["get", "cm,secret", "-o", "name"]).expect_stdout("configmap/kube-root-ca.crt\n").run();
    // No Secret value reached the server's output.
    let err = api.server_stderr();
    assert!(!err.contains("hunter2") && !err.contains("aHVudGVyMi"), "{err}");
}

#[test]
fn wait_for_a_jsonpath_and_a_deletion() {
    let Some(api) = Api::start("wait_for_a_jsonpath_and_a_deletion") else { return };
    api.kubectl(["create", "configmap", "w"]).run();
    let later = |args: Vec<&'static str>| {
        let t = api.kubectl(args);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            t.run();
        })
    };
    let h = later(vec!["label", "configmap", "w", "ready=yes"]);
    api.kubectl(["wait", "--for=jsonpath={.metadata.labels.ready}=yes", "configmap/w", "--timeout=20s"])
        .stdout_contains("configmap/w condition met")
        .run();
    h.join().unwrap();
    let h = later(vec!["delete", "configmap", "w"]);
    api.kubectl(["wait", "--for=delete", "configmap/w", "--timeout=20s"]).run();
    h.join().unwrap();
    api.kubectl(["get", "configmap", "w"]).expect_status(1).run();
}

#[test]
fn custom_resources_of_a_crd() {
    let Some(api) = Api::start("custom_resources_of_a_crd") else { return };
    let crd = api.file(
        "crd.yaml",
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#,
    );
    api.kubectl(["apply", "-f"])
        .arg(&crd)
        .stdout_contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.com created")
        .run();
    api.kubectl(["wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s"]).run();
    let w = api.file("w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n");
    api.kubectl(["apply", "-f"]).arg(&w).stdout_contains("widget.example.com/w1 created").run();
    let out = api.kubectl(["get", "wd"]).run();
    let head: Vec<&str> = out.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["NAME", "SIZE", "AGE"], "{out}");
    assert!(out.stdout.lines().nth(1).unwrap().starts_with("w1"), "{out}");
    api.kubectl(["patch", "widget", "w1", "--type=merge", "-p", r#"{"spec":{"size":4}}"#]).run();
    api.kubectl(["get", "widget", "w1", "-o", "jsonpath={.spec.size}/{.metadata.generation}"])
        .expect_stdout("4/2")
        .run();
    // Strategic merge patch is for built-in kinds only, as upstream.
    api.kubectl(["patch", "widget", "w1", "-p", r#"{"spec":{"size":5}}"#]).expect_status(1).run();
    api.kubectl(["delete", "crd", "widgets.example.com"]).run();
    // The resource is gone with its CRD (kubectl's cached discovery may name it still).
    api.kubectl(["get", "--raw", "/apis/example.com/v1/namespaces/default/widgets"])
        .expect_status(1)
        .stderr_contains("NotFound")
        .run();
}
