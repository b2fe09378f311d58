//! The engine's ordering and timing rules, against an in-memory API (a
//! fake: the e2e tests run against podproof's API and real kubectl).

use super::client::*;
use super::config::Config;
use super::engine::{self, Env, TestOutcome};
use super::model::Test;
use crate::runner::Outcome;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An API that stores objects as given, serves a few kinds, and logs each write.
#[derive(Default)]
pub struct Fake {
    objects: Mutex<BTreeMap<(String, String, String, String), Value>>,
    pub log: Mutex<Vec<String>>,
    rv: Mutex<u64>,
}

fn key(r: &ObjectRef) -> (String, String, String, String) {
    (r.api_version.clone(), r.kind.clone(), r.namespace.clone(), r.name.clone())
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

impl Fake {
    fn record(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }

    fn bump(&self, obj: &mut Value) {
        let mut rv = self.rv.lock().unwrap();
        *rv += 1;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    }

    pub fn put(&self, obj: Value) {
        let r = ObjectRef::of(&obj);
        self.objects.lock().unwrap().insert(key(&r), obj);
    }
}

impl Client for Fake {
    fn resource(&self, api_version: &str, kind: &str) -> Result<Option<Resource>> {
        let namespaced = match (api_version, kind) {
            ("v1", "Namespace") | ("v1", "Node") => false,
            ("v1", "ConfigMap" | "Pod" | "Secret" | "Event" | "Service") | ("apps/v1", "Deployment") => true,
            _ => return Ok(None),
        };
        Ok(Some(Resource { plural: format!("{}s", kind.to_lowercase()), namespaced }))
    }

    fn get(&self, r: &ObjectRef) -> Result<Option<Value>> {
        Ok(self.objects.lock().unwrap().get(&key(r)).cloned())
    }

    fn list(&self, r: &ObjectRef, opts: &ListOptions) -> Result<Vec<Value>> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|((av, k, ns, _), _)| {
                av == &r.api_version && k == &r.kind && (r.namespace.is_empty() || ns == &r.namespace)
            })
            .filter(|(_, v)| {
                opts.labels
                    .iter()
                    .all(|(lk, lv)| v.pointer(&format!("/metadata/labels/{lk}")).and_then(Value::as_str) == Some(lv))
            })
            .map(|(_, v)| v.clone())
            .collect())
    }

    fn create(&self, obj: &Value, _: &WriteOptions) -> Result<Value> {
        let r = ObjectRef::of(obj);
        if obj.pointer("/data/invalid").is_some() {
            return Err(ClientError::Status {
                code: 422,
                reason: "Invalid".into(),
                message: format!("ConfigMap \"{}\" is invalid", r.name),
            });
        }
        let mut objects = self.objects.lock().unwrap();
        if objects.contains_key(&key(&r)) {
            return Err(ClientError::Status {
                code: 409,
                reason: "AlreadyExists".into(),
                message: format!("{} already exists", r.describe()),
            });
        }
        let mut o = obj.clone();
        drop(objects);
        self.bump(&mut o);
        self.record(format!("create {}", r.describe()));
        objects = self.objects.lock().unwrap();
        objects.insert(key(&r), o.clone());
        Ok(o)
    }

    fn update(&self, obj: &Value, _: &WriteOptions) -> Result<Value> {
        let r = ObjectRef::of(obj);
        let mut o = obj.clone();
        self.bump(&mut o);
        self.record(format!("update {}", r.describe()));
        self.objects.lock().unwrap().insert(key(&r), o.clone());
        Ok(o)
    }

    fn merge_patch(&self, r: &ObjectRef, patch: &Value, _: &WriteOptions) -> Result<Value> {
        let mut objects = self.objects.lock().unwrap();
        let Some(cur) = objects.get_mut(&key(r)) else {
            return Err(ClientError::Status { code: 404, reason: "NotFound".into(), message: r.not_found() });
        };
        merge_patch(cur, patch);
        let mut o = cur.clone();
        drop(objects);
        self.bump(&mut o);
        self.record(format!("patch {}", r.describe()));
        self.objects.lock().unwrap().insert(key(r), o.clone());
        Ok(o)
    }

    fn delete(&self, r: &ObjectRef, _: Option<&str>) -> Result<()> {
        let removed = self.objects.lock().unwrap().remove(&key(r));
        self.record(format!("delete {}", r.describe()));
        match removed {
            Some(_) => Ok(()),
            None => Err(ClientError::Status { code: 404, reason: "NotFound".into(), message: r.not_found() }),
        }
    }

    fn server_version(&self) -> Result<Value> {
        Ok(json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0"}))
    }

    fn kubeconfig(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Reads a chainsaw test from text (files beside it in a scratch directory).
fn test_of(text: &str, files: &[(&str, &str)]) -> (Test, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (n, t) in files {
        std::fs::write(dir.path().join(n), t).unwrap();
    }
    let src = crate::source::from_bytes(
        "t.yaml",
        None,
        dir.path().to_path_buf(),
        dir.path().to_path_buf(),
        text.as_bytes().to_vec(),
    )
    .unwrap();
    let docs = crate::app::docs::documents(&src).unwrap();
    let mut diags = Vec::new();
    let t = super::load::read_test(&src, &docs[0], &mut diags).unwrap_or_else(|| panic!("{diags:?}"));
    (t, dir)
}

fn run_with(fake: Arc<Fake>, t: &Test) -> (TestOutcome, Vec<String>) {
    let lines = Mutex::new(Vec::new());
    let log = |l: &str| lines.lock().unwrap().push(l.to_string());
    let env = Env {
        client: fake.clone(),
        config: Arc::new(Config::default()),
        tools_path: None,
        values: Value::Null,
        log: &log,
        test_id: 1,
    };
    let out = engine::run(t, &env).remove(0);
    let calls = fake.log.lock().unwrap().clone();
    (out, calls)
}

/// Runs `text` against a fresh fake; renders the outcome, the step outcomes
/// and the API's write log (the generated namespace shown as `NS`).
fn check(text: &str, expect: &str) {
    let (t, _dir) = test_of(text, &[]);
    let fake = Arc::new(Fake::default());
    let (out, calls) = run_with(fake, &t);
    let ns = out.namespace.clone();
    let mut lines = vec![format!("{:?}", out.outcome)];
    for s in &out.steps {
        lines.push(format!("step {} {:?}", s.name, s.outcome));
    }
    lines.extend(calls);
    if let Some(f) = &out.failure {
        lines.push(format!("failure: {f}"));
    }
    // The header's rule is as long as the object's name, which holds the generated namespace.
    let got: Vec<String> = lines
        .join("\n")
        .replace(&ns, "NS")
        .lines()
        .map(|l| if !l.is_empty() && l.chars().all(|c| c == '-') { "-----".to_string() } else { l.to_string() })
        .collect();
    let got = got.join("\n");
    assert_eq!(got.trim(), expect.trim(), "\n{got}");
}

const HEAD: &str = "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\nspec:\n";

fn cm(name: &str, data: &str) -> String {
    format!("{{apiVersion: v1, kind: ConfigMap, metadata: {{name: {name}}}, data: {{{data}}}}}")
}

#[test]
fn steps_cleanup_in_reverse_and_namespace_last() {
    check(
        &format!("{HEAD}  steps:\n  - try:\n    - apply: {{resource: {}}}\n    - assert: {{resource: {}}}\n  - try:\n    - create: {{resource: {}}}\n    cleanup:\n    - script: {{content: 'true'}}\n", cm("a", "x: '1'"), cm("a", "x: '1'"), cm("b", "")),
        "Passed\nstep step-1 Passed\nstep step-2 Passed\nstep cleanup (step-2) Passed\nstep cleanup (step-1) Passed\nstep @cleanup Passed\ncreate v1/Namespace @ NS\ncreate v1/ConfigMap @ NS/a\ncreate v1/ConfigMap @ NS/b\ndelete v1/ConfigMap @ NS/b\ndelete v1/ConfigMap @ NS/a\ndelete v1/Namespace @ NS",
    );
}

#[test]
fn try_stops_at_the_first_failure_then_catch_then_finally() {
    check(
        &format!("{HEAD}  timeouts: {{assert: 200ms}}\n  steps:\n  - try:\n    - apply: {{resource: {}}}\n    - assert: {{resource: {}}}\n    - apply: {{resource: {}}}\n    catch:\n    - delete: {{ref: {{apiVersion: v1, kind: ConfigMap, name: a}}}}\n    finally:\n    - apply: {{resource: {}}}\n  - try:\n    - apply: {{resource: {}}}\n", cm("a", "x: '1'"), cm("a", "x: '2'"), cm("never", ""), cm("fin", ""), cm("next", "")).replace("    finally:\n    - apply:", "    finally:\n    - delete: {ref: {apiVersion: v1, kind: ConfigMap, name: gone}}\n    - script:").replace("script: {resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: fin}, data: {}}}", "script: {content: 'true'}"),
        r#"Failed
step step-1 Failed
step step-2 Skipped
step cleanup (step-1) Passed
step @cleanup Passed
create v1/Namespace @ NS
create v1/ConfigMap @ NS/a
delete v1/ConfigMap @ NS/a
delete v1/ConfigMap @ NS/a
delete v1/Namespace @ NS
failure: step `step-1`: assert (t.yaml:10) failed
-----
v1/ConfigMap/NS/a
-----
* data.x: Invalid value: "1": Expected value: "2"

--- expected
+++ actual
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  x: '2'
+  x: '1'
 kind: ConfigMap
 metadata:
   name: a"#,
    );
}

#[test]
fn continue_on_error_goes_on_but_fails() {
    check(
        &format!("{HEAD}  timeouts: {{error: 100ms}}\n  steps:\n  - try:\n    - apply: {{resource: {}}}\n    - error: {{resource: {}}}\n      continueOnError: true\n    - apply: {{resource: {}}}\n", cm("a", ""), cm("a", ""), cm("b", "")),
        "Failed\nstep step-1 Failed\nstep cleanup (step-1) Passed\nstep @cleanup Passed\ncreate v1/Namespace @ NS\ncreate v1/ConfigMap @ NS/a\ncreate v1/ConfigMap @ NS/b\ndelete v1/ConfigMap @ NS/b\ndelete v1/ConfigMap @ NS/a\ndelete v1/Namespace @ NS\nfailure: step `step-1`: error (t.yaml:10) failed\nv1/ConfigMap/NS/a - resource matches expectation",
    );
}

#[test]
fn apply_patches_what_exists_and_expect_decides() {
    check(
        &format!("{HEAD}  steps:\n  - try:\n    - apply: {{resource: {}}}\n    - apply: {{resource: {}}}\n    - assert: {{resource: {}}}\n    - apply:\n        resource: {}\n        expect:\n        - check:\n            ($error != null): true\n", cm("a", "x: '1'"), cm("a", "z: '2'"), cm("a", "x: '1', z: '2'"), cm("bad", "invalid: 'yes'")),
        "Passed\nstep step-1 Passed\nstep cleanup (step-1) Passed\nstep @cleanup Passed\ncreate v1/Namespace @ NS\ncreate v1/ConfigMap @ NS/a\npatch v1/ConfigMap @ NS/a\ndelete v1/ConfigMap @ NS/a\ndelete v1/Namespace @ NS",
    );
}

#[test]
fn bindings_outputs_and_templates() {
    check(
        &format!("{HEAD}  bindings:\n  - name: prefix\n    value: (join('-', [$namespace, 'x']))\n  steps:\n  - try:\n    - apply:\n        resource: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: ($prefix)}}, data: {{num: (to_string($step.id))}}}}\n        outputs:\n        - name: made\n          value: (@.metadata.name)\n    - assert:\n        resource: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: ($made)}}, data: {{num: '1'}}}}\n    - script:\n        env: [{{name: WHO, value: ($made)}}]\n        content: test \"$WHO\" = \"$NAMESPACE-x\"\n"),
        "Passed\nstep step-1 Passed\nstep cleanup (step-1) Passed\nstep @cleanup Passed\ncreate v1/Namespace @ NS\ncreate v1/ConfigMap @ NS/NS-x\ndelete v1/ConfigMap @ NS/NS-x\ndelete v1/Namespace @ NS",
    );
}

#[test]
fn script_checks_and_timeouts() {
    check(
        &format!("{HEAD}  steps:\n  - try:\n    - script:\n        content: echo out; echo err >&2; exit 3\n        check:\n          ($error): exit status 3\n          (trim_space($stdout)): out\n          (contains($stderr, 'err')): true\n    - script:\n        timeout: 200ms\n        content: sleep 10\n        check:\n          ($error != null): true\n    - command:\n        entrypoint: sh\n        args: [-c, 'exit 1']\n"),
        "Failed\nstep step-1 Failed\nstep @cleanup Passed\ncreate v1/Namespace @ NS\ndelete v1/Namespace @ NS\nfailure: step `step-1`: command (t.yaml:19) failed\n`sh -c exit 1`: exit status 1",
    );
}

#[test]
fn assert_lists_by_labels_and_one_candidate_suffices() {
    let (t, _d) = test_of(
        &format!("{HEAD}  namespace: fixed\n  steps:\n  - try:\n    - assert:\n        timeout: 100ms\n        resource: {{apiVersion: v1, kind: Pod, metadata: {{labels: {{app: web}}}}, status: {{phase: Running}}}}\n"),
        &[],
    );
    let fake = Arc::new(Fake::default());
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fixed"}}));
    for (n, phase, app) in [("p1", "Pending", "web"), ("p2", "Running", "web"), ("p3", "Running", "db")] {
        fake.put(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": n, "namespace": "fixed", "labels": {"app": app}}, "status": {"phase": phase}}));
    }
    let (out, calls) = run_with(fake.clone(), &t);
    assert_eq!(out.outcome, Outcome::Passed, "{:?}", out.failure);
    // The namespace existed: it is used, and not deleted.
    assert!(calls.is_empty(), "{calls:?}");
    fake.put(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2", "namespace": "fixed", "labels": {"app": "web"}}, "status": {"phase": "Failed"}}));
    let (out, _) = run_with(fake, &t);
    let f = out.failure.unwrap();
    assert!(f.contains("v1/Pod/fixed/p1") && f.contains("v1/Pod/fixed/p2") && !f.contains("p3"), "{f}");
}

#[test]
fn polls_until_the_condition_holds() {
    let (t, _d) = test_of(
        &format!(
            "{HEAD}  namespace: ns\n  steps:\n  - try:\n    - assert:\n        timeout: 5s\n        resource: {}\n",
            cm("late", "")
        ),
        &[],
    );
    let fake = Arc::new(Fake::default());
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}));
    let f2 = fake.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f2.put(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": "ns"}, "data": {}}));
    });
    let started = std::time::Instant::now();
    let (out, _) = run_with(fake, &t);
    writer.join().unwrap();
    assert_eq!(out.outcome, Outcome::Passed, "{:?}", out.failure);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn kuttl_steps_in_kuttl_order() {
    let dir = tempfile::tempdir().unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n";
    std::fs::write(
        dir.path().join("00-install.yaml"),
        format!(
            "{cm}---\napiVersion: kuttl.dev/v1beta1\nkind: TestStep\ncommands:\n- script: test -n \"$NAMESPACE\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("00-assert.yaml"), cm).unwrap();
    std::fs::write(
        dir.path().join("01-errors.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n",
    )
    .unwrap();
    let mut diags = Vec::new();
    let t = super::kuttl::read_test(dir.path(), None, &mut diags).unwrap();
    let mut t = t;
    // A short check keeps the failing step quick.
    if let super::model::Action::KuttlCheck(k) = &mut t.steps[1].try_[0].action {
        k.timeout = Duration::from_millis(1500);
    }
    let (out, calls) = run_with(Arc::new(Fake::default()), &t);
    assert_eq!(out.outcome, Outcome::Failed);
    assert!(out.namespace.starts_with("kuttl-test-"), "{}", out.namespace);
    let ns = out.namespace.clone();
    assert_eq!(
        calls.join("\n").replace(&ns, "NS"),
        "create v1/Namespace @ NS\ncreate v1/ConfigMap @ NS/a\ndelete v1/ConfigMap @ NS/a\ndelete v1/Namespace @ NS"
    );
    assert!(out.failure.unwrap().contains("resource matches the errors file"));
}

#[test]
fn skip_and_scenarios() {
    let (t, _d) = test_of(&format!("{HEAD}  skip: true\n  steps:\n  - try:\n    - sleep: {{duration: 10s}}\n"), &[]);
    let (out, calls) = run_with(Arc::new(Fake::default()), &t);
    assert_eq!((out.outcome, calls.len()), (Outcome::Skipped, 0));
    let (t, _d) = test_of(
        &format!("{HEAD}  scenarios:\n  - bindings: [{{name: m, value: hello}}]\n  - bindings: [{{name: m, value: bye}}]\n  steps:\n  - try:\n    - script:\n        env: [{{name: M, value: ($m)}}]\n        content: echo $M\n        check:\n          (trim_space($stdout)): ((to_number($test.scenarioId) == `1` && 'hello') || 'bye')\n"),
        &[],
    );
    let lines = Mutex::new(Vec::new());
    let log = |l: &str| lines.lock().unwrap().push(l.to_string());
    let env = Env {
        client: Arc::new(Fake::default()),
        config: Arc::new(Config::default()),
        tools_path: None,
        values: Value::Null,
        log: &log,
        test_id: 1,
    };
    let outs = engine::run(&t, &env);
    assert_eq!(
        outs.iter().map(|o| (o.name.as_str(), o.outcome)).collect::<Vec<_>>(),
        [("t (scenario 1)", Outcome::Passed), ("t (scenario 2)", Outcome::Passed)]
    );
}

#[test]
fn a_namespace_template_may_name_the_namespace() {
    let (t, _d) = test_of(
        &format!("{HEAD}  namespaceTemplate:\n    metadata:\n      name: foo\n      annotations: {{a: b}}\n  steps:\n  - try:\n    - assert:\n        resource: {{apiVersion: v1, kind: Namespace, metadata: {{name: foo, annotations: {{a: b}}}}}}\n    - assert:\n        resource:\n          (x_k8s_get($client, 'v1', 'Namespace', '', $namespace).metadata.name): foo\n"),
        &[],
    );
    let (out, calls) = run_with(Arc::new(Fake::default()), &t);
    assert_eq!(out.outcome, Outcome::Passed, "{:?}", out.failure);
    assert_eq!(
        (out.namespace.as_str(), calls.join(",")),
        ("foo", "create v1/Namespace @ foo,delete v1/Namespace @ foo".to_string())
    );
}
