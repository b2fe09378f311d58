//! `podproof lint` through the real binary: every rule's fixtures, the seed 004
//! xCAT snapshot, output formats, exit codes and configuration.
//!
//! Rule fixtures live in tests/lint/cases/<rule>.{pos,neg}.yaml. A fixture
//! says what it expects in comments: `# expect: <rule> <line>:<column>` for
//! each finding (once per finding: two findings at one place are two lines),
//! optionally followed by `@<pointer>` (the finding's JSON pointer) and
//! `~ <text>` (a part of its message); `# args: ...` for extra arguments, and
//! `# check: <rule>` to compare another rule too (with no `expect` line: it
//! must not fire). Only the fixture's own rule and the rules it names are
//! compared, since a fixture naturally trips other rules.

mod common;

use common::{root, tempdir, Test};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn lint() -> Test {
    Test::new().arg("lint").args(["--podman-version", "4.3", "--config", "tests/lint/configs/default.yaml"])
}

/// One expected finding: `rule line:column`, and what its pointer and message must be.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expect {
    at: String,
    pointer: Option<String>,
    message: Option<String>,
}

impl Expect {
    fn parse(line: &str) -> Expect {
        let (head, message) = match line.split_once(" ~ ") {
            Some((h, m)) => (h, Some(m.trim().to_string())),
            None => (line, None),
        };
        let mut words: Vec<&str> = head.split_whitespace().collect();
        let pointer = words.iter().position(|w| w.starts_with('@')).map(|i| words.remove(i)[1..].to_string());
        Expect { at: words.join(" "), pointer, message }
    }
}

/// Lints `input` and compares the findings of the rules in `rules` with
/// `expect`, as a multiset of `rule line:column`; `Err` says how they differ.
fn check(input: &Path, args: &[String], rules: &BTreeSet<String>, expect: &[Expect]) -> Result<(), String> {
    let mut t = Test::new().arg("lint").args(["--format", "json"]).args(args);
    if !args.iter().any(|a| a == "--podman-version") {
        t = t.args(["--podman-version", "4.3"]);
    }
    if !args.iter().any(|a| a == "--config") {
        t = t.args(["--config", "tests/lint/configs/default.yaml"]);
    }
    let out = t.arg(input).output();
    let json: Value =
        serde_json::from_str(&out.stdout).map_err(|e| format!("{}: no JSON ({e})\n{out}", input.display()))?;
    let found: Vec<&Value> =
        json["findings"].as_array().unwrap().iter().filter(|f| rules.contains(f["rule"].as_str().unwrap())).collect();
    let at = |f: &Value| format!("{} {}:{}", f["rule"].as_str().unwrap(), f["line"], f["column"]);
    let mut got: Vec<String> = found.iter().map(|f| at(f)).collect();
    let mut want: Vec<String> = expect.iter().map(|e| e.at.clone()).collect();
    got.sort();
    want.sort();
    let mut problems = Vec::new();
    if got != want {
        let missing: Vec<_> = want
            .iter()
            .filter(|w| got.iter().filter(|g| g == w).count() < want.iter().filter(|x| x == w).count())
            .collect();
        let extra: Vec<_> = got
            .iter()
            .filter(|g| want.iter().filter(|w| w == g).count() < got.iter().filter(|x| x == g).count())
            .collect();
        problems.push(format!("missing {missing:?}, unexpected {extra:?}"));
    }
    for e in expect.iter().filter(|e| e.pointer.is_some() || e.message.is_some()) {
        let fits = found.iter().any(|f| {
            at(f) == e.at
                && e.pointer.as_ref().is_none_or(|p| f["pointer"] == p.as_str())
                && e.message.as_ref().is_none_or(|m| f["message"].as_str().unwrap().contains(m.as_str()))
        });
        if !fits {
            let there: Vec<String> =
                found.iter().filter(|f| at(f) == e.at).map(|f| format!("{} {}", f["pointer"], f["message"])).collect();
            problems.push(format!("no finding {e:?}; at that place: {there:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", input.display(), problems.join("; ")))
    }
}

fn all_rules() -> Vec<String> {
    let out = Test::new().args(["lint", "--list-rules"]).run();
    out.stdout.lines().map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
}

#[test]
fn lint_every_rule_has_positive_and_negative_cases() {
    let cases = root().join("tests/lint/cases");
    let mut missing = Vec::new();
    for rule in all_rules() {
        for kind in ["pos", "neg"] {
            if !cases.join(format!("{rule}.{kind}.yaml")).exists() {
                missing.push(format!("{rule}.{kind}.yaml"));
            }
        }
    }
    assert!(missing.is_empty(), "rules without fixtures: {missing:?}");
}

#[test]
fn lint_rule_cases() {
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(root().join("tests/lint/cases")).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    let run = |case: &PathBuf| -> Result<(), String> {
        let text = std::fs::read_to_string(case).unwrap();
        let file = case.file_name().unwrap().to_string_lossy().to_string();
        let (rule, kind) = file.trim_end_matches(".yaml").rsplit_once('.').unwrap();
        let mut args = Vec::new();
        let mut rules = BTreeSet::from([rule.to_string()]);
        let mut expect = Vec::new();
        for line in text.lines() {
            if let Some(a) = line.strip_prefix("# args: ") {
                args.extend(a.split_whitespace().map(String::from));
            } else if let Some(r) = line.strip_prefix("# check: ") {
                rules.insert(r.trim().to_string());
            } else if let Some(e) = line.strip_prefix("# expect: ") {
                rules.insert(e.split_whitespace().next().unwrap().to_string());
                expect.push(Expect::parse(e.trim()));
            }
        }
        let own = expect.iter().any(|e| e.at.starts_with(&format!("{rule} ")));
        if kind == "pos" && !own {
            return Err(format!("{file}: a positive case must expect `{rule}`"));
        }
        if kind == "neg" && own {
            return Err(format!("{file}: a negative case may not expect `{rule}`"));
        }
        check(case, &args, &rules, &expect)
    };
    // The cases are independent processes; four at a time keep this quick.
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(cases.len().div_ceil(4))
            .map(|chunk| s.spawn(move || chunk.iter().filter_map(|c| run(c).err()).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn lint_xcat_snapshot() {
    let human = lint().args(["--color", "never", "fixtures/apps/xcat/pod.yaml"]).expect_status(1).run().stdout;
    let json = lint().args(["--format", "json", "fixtures/apps/xcat/pod.yaml"]).expect_status(1).run().stdout;
    insta::with_settings!({snapshot_path => "lint/snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("xcat_human", human);
        insta::assert_snapshot!("xcat_json", json);
    });
}

#[test]
fn lint_fixtures_directory_positions() {
    let out = lint().args(["--color", "never", "fixtures/"]).expect_status(1).run();
    for needle in [
        "error[relative-host-path]: hostPath `./tmp` is relative",
        "  --> fixtures/apps/xcat/pod.yaml:129:15",
        "warning[host-network]: Pod `xcat` shares the host's network namespace\n  --> fixtures/apps/xcat/pod.yaml:13:3\n   |\n13 |   hostNetwork: true\n   |   ^^^^^^^^^^^\n   = help: ",
        "warning[latest-tag]: image `localhost/podproof/busybox:latest` is tagged `latest`\n  --> fixtures/apps/busybox-httpd/app.yaml:10:14",
        "warning[local-image]: image `localhost/podproof/kd-centos:1` exists only on this machine and podproof.yaml maps it to no registry image (`promote.imageMap` or `images:`)\n  --> fixtures/apps/kd-centos/app.json:22:28",
        "warning[podman-probe-tool-missing]: podman runs this httpGet probe with `curl` inside `localhost/podproof/prometheus:1`",
        "  --> fixtures/apps/prometheus/app.yaml:32:9",
    ] {
        out.assert_stdout_contains(needle);
    }
    // prometheus.yml has no `kind`: it is the app's data, not a definition.
    assert!(!out.stdout.contains("prometheus.yml"), "{out}");
}

#[test]
fn lint_sarif_validates_and_has_real_regions() {
    let out = lint().args(["--format", "sarif", "fixtures/"]).expect_status(1).run();
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/lint/sarif-schema-2.1.0.json")).unwrap())
            .unwrap();
    let errors = schema::validate(&schema, &schema, &sarif, "");
    assert!(errors.is_empty(), "SARIF does not validate:\n{}", errors.join("\n"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 20);
    // No fixture has a problem on its first line, so no result may claim one.
    let first: Vec<_> =
        results.iter().filter(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"] == 1).collect();
    assert!(first.is_empty(), "results on line 1: {first:#?}");
    let xcat_hostpath = results.iter().any(|r| {
        let loc = &r["locations"][0]["physicalLocation"];
        r["ruleId"] == "relative-host-path"
            && loc["artifactLocation"]["uri"] == "fixtures/apps/xcat/pod.yaml"
            && loc["region"]["startLine"] == 132
            && loc["region"]["startColumn"] == 15
    });
    assert!(xcat_hostpath, "{}", out.stdout);
    // The validator itself must reject what the schema forbids.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = Value::from(0);
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert_eq!(schema::validate(&schema, &schema, &broken, "").len(), 2);
}

#[test]
fn lint_junit_is_well_formed_xml() {
    let out = lint().args(["--format", "junit", "fixtures/"]).expect_status(1).run();
    let elements = xml::check(&out.stdout).unwrap_or_else(|e| panic!("invalid XML: {e}\n{}", out.stdout));
    let cases = elements.iter().filter(|e| e.as_str() == "testcase").count();
    let failures = elements.iter().filter(|e| e.as_str() == "failure").count();
    assert!(cases > failures && failures > 10, "{cases} testcases, {failures} failures");
    assert!(out.stdout.contains(r#"<testcase classname="fixtures/apps/xcat/pod.yaml" name="fixtures/apps/xcat/pod.yaml:129:15 relative-host-path">"#));
}

#[test]
fn lint_github_annotations() {
    let out = lint().args(["--format", "github", "fixtures/apps/xcat/pod.yaml"]).expect_status(1).run();
    out.assert_stdout_contains("::error file=fixtures/apps/xcat/pod.yaml,line=129,col=15,title=relative-host-path::hostPath `./tmp` is relative");
    out.assert_stdout_contains("::warning file=fixtures/apps/xcat/pod.yaml,line=13,col=3,title=host-network::");
    out.assert_stdout_contains("::notice file=fixtures/apps/xcat/pod.yaml,line=10,col=3,title=non-isolated-pod::");
    assert!(out.stdout.lines().all(|l| l.starts_with("::")), "{out}");
}

#[test]
fn lint_exit_codes_and_bad_input() {
    let warnings_only =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: app\n      image: nginx\n";
    lint().arg("-").stdin(warnings_only).expect_status(0).stdout_contains("<stdin>:8:14").run();
    lint()
        .arg("-")
        .stdin("kind: Pod\nspec: {hostNetwork: true\n")
        .expect_status(2)
        .stderr_contains("error: cannot lint an input")
        .stderr_contains("<stdin>:3:1: error: yaml syntax error")
        .expect_stdout("")
        .run();
    let dir = tempdir();
    std::fs::write(dir.path().join("bad.yaml"), b"kind: Pod\nmetadata:\n  name: \xff\n").unwrap();
    std::fs::write(dir.path().join("good.yaml"), warnings_only).unwrap();
    let out = lint().args(["--format", "json"]).arg(dir.path()).expect_status(2).run();
    out.assert_stderr_contains("bad.yaml:3:9: error: file is not valid UTF-8");
    // The readable file is still linted, and stdout stays valid JSON.
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["summary"]["files"], 1);
    lint()
        .arg("no/such/file.yaml")
        .expect_status(2)
        .stderr_contains("no/such/file.yaml: error: cannot read file: no such file or directory")
        .run();
    lint().expect_status(2).stderr_contains("podproof lint needs a PATH").run();
    // An empty stream or file (`helm template` of a chart with everything
    // off) has zero findings, as kubeconform and kubeval say.
    lint().arg("-").stdin("").expect_status(0).stdout_contains("no findings").run();
    let empty = tempdir();
    std::fs::write(empty.path().join("empty.yaml"), "# nothing here\n---\n").unwrap();
    lint().arg(empty.path().join("empty.yaml")).expect_status(0).stdout_contains("no findings").run();
}

#[test]
fn lint_gitignore_config_and_targets() {
    let dir = tempdir();
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  hostNetwork: true\n  containers:\n    - name: app\n      image: nginx:1\n      ports: [{{containerPort: 8080}}]\n")
    };
    std::fs::create_dir_all(dir.path().join("gen")).unwrap();
    std::fs::create_dir_all(dir.path().join("vendor")).unwrap();
    std::fs::write(dir.path().join(".gitignore"), "gen/\n").unwrap();
    std::fs::write(dir.path().join("gen/a.yaml"), pod("a")).unwrap();
    std::fs::write(dir.path().join("vendor/b.yaml"), pod("b")).unwrap();
    std::fs::write(dir.path().join("c.yaml"), pod("c")).unwrap();
    std::fs::write(dir.path().join("data.yml"), "scrape_interval: 15s\n").unwrap();
    std::fs::write(
        dir.path().join("podproof.yaml"),
        "lint:\n  rules:\n    host-network: error\n    latest-tag: off\n  ignorePaths: [vendor/]\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Test::new()
            .current_dir(dir.path())
            .args(["lint", "--podman-version", "4.3", "--format", "json"])
            .args(args)
            .arg(".")
            .any_status()
            .run()
    };
    let out = run(&[]);
    assert_eq!(out.status, 1, "{out}");
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(
        json["summary"]["files"], 1,
        "only c.yaml: gen/ is ignored by git, vendor/ by the config, data.yml is data"
    );
    assert!(findings.iter().any(|f| f["rule"] == "host-network" && f["severity"] == "error"), "{out}");
    assert!(!findings.iter().any(|f| f["rule"] == "latest-tag"), "{out}");
    // Rules outside the target stay quiet.
    let podman = run(&["--target", "podman"]).stdout;
    assert!(podman.contains("podman-host-network-ports"), "{podman}");
    assert!(!podman.contains("non-isolated-pod") && !podman.contains("unset-cpu-requirements"), "{podman}");
    let cluster = run(&["--target", "cluster"]).stdout;
    assert!(!cluster.contains("\"podman-") && cluster.contains("unset-cpu-requirements"), "{cluster}");
    assert!(!out.stderr.contains("warning:"), "no .podproof.yaml, no warning: {out}");
    // A bad config is bad input, with its position.
    std::fs::write(dir.path().join("podproof.yaml"), "lint:\n  rules:\n    host-netwrk: off\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status, 2, "{out}");
    out.assert_stderr_contains("podproof.yaml:3:5: error: unknown rule `host-netwrk`");

    // The deprecated .podproof.yaml still works alone, with one warning saying what to move where.
    std::fs::remove_file(dir.path().join("podproof.yaml")).unwrap();
    std::fs::write(dir.path().join(".podproof.yaml"), "rules:\n  host-network: off\nignorePaths: [vendor/]\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status, 0, "host-network is off: {out}");
    assert_eq!(out.stderr.matches("warning:").count(), 1, "{out}");
    out.assert_stderr_contains(".podproof.yaml is deprecated: lint reads podproof.yaml now; move its `rules` and `ignorePaths` under `lint:` and its `imageMap` under `promote:` in podproof.yaml");
    std::fs::write(dir.path().join(".podproof.yaml"), "rules:\n  host-netwrk: off\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status, 2, "{out}");
    out.assert_stderr_contains(".podproof.yaml:2:3: error: unknown rule `host-netwrk`");
    // With both, podproof.yaml wins and .podproof.yaml is not read (its typo is no error).
    std::fs::write(dir.path().join("podproof.yaml"), "lint: {rules: {host-network: error}}\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status, 1, "{out}");
    assert_eq!(out.stderr.matches("warning:").count(), 1, "{out}");
    out.assert_stderr_contains(".podproof.yaml is ignored: podproof.yaml holds the lint settings and wins;");
}

#[test]
fn lint_honours_the_image_maps_of_podproof_yaml() {
    let dir = tempdir();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: localhost/acme/web:1}\n    - {name: b, image: localhost/other:1}\n";
    std::fs::write(dir.path().join("pod.yaml"), pod).unwrap();
    // `images:` says which name the manifest stands for; promotion uses that name.
    std::fs::write(dir.path().join("podproof.yaml"), "images:\n  \"gcr.io/acme/\": \"localhost/acme/\"\n").unwrap();
    let out = Test::new()
        .current_dir(dir.path())
        .args(["lint", "--podman-version", "4.3", "--format", "json", "pod.yaml"])
        .any_status()
        .run();
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let local: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "local-image")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(local.len(), 1, "{out}");
    assert!(local[0].contains("`localhost/other:1`"), "{out}");
}

#[test]
fn lint_explain_rules() {
    let out = Test::new().args(["lint", "--explain", "host-network"]).run();
    for needle in
        ["host-network\n", "default severity: warning", "node's network namespace", "Fix: Remove `hostNetwork: true`"]
    {
        out.assert_stdout_contains(needle);
    }
    Test::new().args(["lint", "--explain", "no-liveness-probe"]).stdout_contains("default severity: off").run();
    Test::new()
        .args(["lint", "--explain", "host-net"])
        .expect_status(2)
        .stderr_contains("did you mean `host-network`?")
        .run();
}

/// A validator for the JSON Schema subset the vendored SARIF schema uses.
mod schema {
    use serde_json::Value;

    pub fn validate(root: &Value, schema: &Value, v: &Value, at: &str) -> Vec<String> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/definitions/").expect("only local refs");
            return validate(root, &root["definitions"][name], v, at);
        }
        let mut errors = Vec::new();
        if let Some(t) = schema.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let ok = types.iter().any(|t| match *t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                _ => false,
            });
            if !ok {
                return vec![format!("{at}: expected {types:?}, found {v}")];
            }
        }
        if let Some(e) = schema.get("enum").and_then(Value::as_array) {
            if !e.contains(v) {
                errors.push(format!("{at}: {v} is not one of {e:?}"));
            }
        }
        if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if n < min {
                errors.push(format!("{at}: {n} is below {min}"));
            }
        }
        if let Some(o) = v.as_object() {
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !o.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{at}: missing required {r}"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, x) in o {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => errors.extend(validate(root, s, x, &format!("{at}/{k}"))),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => errors.push(format!("{at}: property {k} is not allowed")),
                        Some(s @ Value::Object(_)) => errors.extend(validate(root, s, x, &format!("{at}/{k}"))),
                        _ => {}
                    },
                }
            }
        }
        if let (Some(a), Some(items)) = (v.as_array(), schema.get("items")) {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (a.len() as u64) < min {
                    errors.push(format!("{at}: fewer than {min} items"));
                }
            }
            for (i, x) in a.iter().enumerate() {
                errors.extend(validate(root, items, x, &format!("{at}/{i}")));
            }
        }
        errors
    }
}

/// A well-formedness check of the XML that JUnit reports use.
mod xml {
    /// Returns the element names in document order, or what is wrong.
    pub fn check(text: &str) -> Result<Vec<String>, String> {
        let mut rest = text.trim_start();
        if let Some(r) = rest.strip_prefix("<?xml") {
            rest = &r[r.find("?>").ok_or("unclosed XML declaration")? + 2..];
        }
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut roots = 0;
        while !rest.is_empty() {
            let lt = rest.find('<').unwrap_or(rest.len());
            text_ok(&rest[..lt])?;
            if stack.is_empty() && !rest[..lt].trim().is_empty() {
                return Err("text outside the root element".into());
            }
            rest = &rest[lt..];
            if rest.is_empty() {
                break;
            }
            let gt = rest.find('>').ok_or("unclosed tag")?;
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().ok_or("empty tag")?;
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c)) {
                return Err(format!("bad element name {name:?}"));
            }
            attributes_ok(&tag[name.len()..])?;
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.to_string());
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        match (stack.is_empty(), roots) {
            (true, 1) => Ok(names),
            (false, _) => Err(format!("unclosed elements {stack:?}")),
            _ => Err(format!("{roots} root elements")),
        }
    }

    fn text_ok(t: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let end = rest[i..].find(';').ok_or("unterminated entity")?;
            let entity = &rest[i + 1..i + end];
            if !["amp", "lt", "gt", "quot", "apos"].contains(&entity) && !entity.starts_with('#') {
                return Err(format!("unknown entity &{entity};"));
            }
            rest = &rest[i + end..];
        }
        Ok(())
    }

    fn attributes_ok(mut a: &str) -> Result<(), String> {
        loop {
            a = a.trim_start();
            if a.is_empty() {
                return Ok(());
            }
            let eq = a.find('=').ok_or_else(|| format!("attribute without value in {a:?}"))?;
            let value = a[eq + 1..].strip_prefix('"').ok_or_else(|| format!("unquoted attribute in {a:?}"))?;
            let end = value.find('"').ok_or("unterminated attribute")?;
            if value[..end].contains('<') {
                return Err("`<` in an attribute".into());
            }
            text_ok(&value[..end])?;
            a = &value[end + 1..];
        }
    }
}

#[test]
fn lint_docs_describe_every_rule() {
    let docs = std::fs::read_to_string(root().join("docs/lint.md")).unwrap();
    let missing: Vec<String> = all_rules().into_iter().filter(|r| !docs.contains(&format!("#### `{r}`"))).collect();
    assert!(missing.is_empty(), "docs/lint.md lacks {missing:?}");
}

#[test]
fn lint_shows_no_secret_value_in_any_format() {
    // A `data` value that is not base64 is a finding on the value's own line,
    // so the excerpt would show it; a Secret inside a List counts too.
    let input = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: hunter2-not-base64!\nstringData:\n  token: s3cr3t-token-Zq81\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: listed}\n    data: {key: listed-value-not-base64!}\n";
    let human = lint().arg("-").stdin(input).expect_status(1).stdout_contains("<stdin>:6:13").run();
    human.assert_stdout_contains("password: [secret]");
    for format in ["human", "json", "sarif", "github", "junit"] {
        let out = lint().args(["--format", format, "-"]).stdin(input).expect_status(1).run();
        for value in ["hunter2-not-base64!", "s3cr3t-token-Zq81", "listed-value-not-base64!"] {
            assert!(!out.stdout.contains(value), "{value} in the {format} output:\n{out}");
            assert!(!out.stderr.contains(value), "{value} in the {format} stderr:\n{out}");
        }
    }
}

#[test]
fn lint_shows_no_secret_like_env_value_in_any_format() {
    // env-var-secret flags a literal value of a variable named like a secret;
    // the value itself (a string, a number read as one, a short one) must be
    // in no format, nor in the findings across files, which come later.
    let dir = tempdir();
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n        env:\n        - name: DB_PASSWORD\n          value: hunter2-Zq81x\n        - name: API_TOKEN\n          value: 987654321\n        - {name: PASSWD, value: 'Z9'}\n";
    let app = "apiVersion: podproof.dev/v1alpha1\nkind: App\nmetadata: {name: shop}\nspec:\n  roles:\n    - name: db\n      image: postgres:16\n      env: {POSTGRES_PASSWORD: pg-Pa55-w0rd}\n";
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: s3cr3t-sel-Q9}\n";
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  selector: {app: s3cr3t-sel-Q9}\n  ports: [{port: 80}]\n";
    for (name, text) in [("deploy.yaml", deploy), ("app.yaml", app), ("secret.yaml", secret), ("service.yaml", service)]
    {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let values = ["hunter2-Zq81x", "987654321", "Z9", "pg-Pa55-w0rd", "s3cr3t-sel-Q9"];
    let human = lint().arg(dir.path()).expect_status(1).run();
    for needle in ["env-var-secret", "value: [secret]", "dangling-service", "selects app=[secret]"] {
        human.assert_stdout_contains(needle);
    }
    for format in ["human", "json", "sarif", "github", "junit"] {
        let out = lint().args(["--format", format]).arg(dir.path()).expect_status(1).run();
        assert!(out.stdout.contains("env-var-secret"), "{format}: {out}");
        for value in values {
            assert!(!out.stdout.contains(value), "{value} in the {format} output:\n{out}");
            assert!(!out.stderr.contains(value), "{value} in the {format} stderr:\n{out}");
        }
    }
}

#[test]
fn lint_output_is_the_same_on_any_thread_count() {
    let run = |j: &str| lint().args(["--format", "json", "-j", j, "fixtures/"]).expect_status(1).run().stdout;
    let one = run("1");
    assert_eq!(one, run("3"), "-j 1 and -j 3 differ");
    // A directory of more files than a run holds at once: its findings across
    // files come as a later part of each file, and the counts stay whole.
    let dir = tempdir();
    for i in 0..300 {
        let svc = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n  selector: {{app: a{i}}}\n  ports: [{{port: 80}}]\n");
        std::fs::write(dir.path().join(format!("s{i:03}.yaml")), svc).unwrap();
    }
    for format in ["json", "sarif", "junit", "human"] {
        let out = lint().args(["--format", format, "-j", "2"]).arg(dir.path()).expect_status(0).run().stdout;
        match format {
            "json" => {
                let json: Value = serde_json::from_str(&out).unwrap();
                assert_eq!(json["summary"]["files"], 300);
                let dangling = json["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "dangling-service");
                assert_eq!(dangling.count(), 300);
            }
            "sarif" => {
                let sarif: Value = serde_json::from_str(&out).unwrap();
                assert!(sarif["runs"][0]["results"].as_array().unwrap().len() >= 300);
            }
            "junit" => {
                xml::check(&out).unwrap_or_else(|e| panic!("invalid XML: {e}"));
                assert!(!out.contains("name=\"s000.yaml\"/>"), "a file with findings is not clean");
            }
            _ => assert!(out.ends_with("in 300 files\n"), "{}", &out[out.len() - 200..]),
        }
    }
}

#[test]
fn lint_chainsaw_and_kuttl_test_files() {
    // A chainsaw test, a kuttl test and numbered manifests side by side: the
    // tests' files get the suite rules only (their asserts are partial
    // objects), the manifests every rule.
    let dir = tempdir();
    let w = |p: &str, t: &str| {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    w(
        "chainsaw/basic/chainsaw-test.yaml",
        "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: basic\nspec:\n  steps:\n  - try:\n    - aply:\n        file: resources.yaml\n    - assert:\n        file: assert.yaml\n",
    );
    w("chainsaw/basic/resources.yaml", "apiVersion: v1\nkind: Deployment\nmetadata:\n  name: web\n");
    w(
        "chainsaw/basic/assert.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nstatus:\n  readyReplicas: 1\n",
    );
    w("kuttl/kuttl-test.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestSuite\ntestDirs: [tests]\n");
    w("kuttl/tests/one/00-install.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
    w("kuttl/tests/one/00-assert.yaml", "apiVersion: apps/v1\nkind: StatefulSet\nstatus:\n  readyReplicas: 1\n");
    w("kuttl/tests/one/01-delete.yaml", "apiVersion: kuttl.dev/v1beta1\nkind: TestStep\ndelete:\n- apiVersion: batch/v1\n  kind: Deployment\n  name: web\n");
    w("manifests/00-app.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
    let out = lint().args(["--format", "json"]).arg(dir.path()).expect_status(1).run();
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let mut got: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            let file = file.rsplit_once(&format!("{}/", dir.path().display())).map_or(file, |(_, r)| r);
            format!(
                "{file}:{}:{} {} {}",
                f["line"],
                f["column"],
                f["rule"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "chainsaw/basic/chainsaw-test.yaml:8:7 suite-unknown-operation unknown operation `aply` in `try`; did you mean `apply`?",
            "chainsaw/basic/resources.yaml:1:13 suite-unknown-kind Deployment must have apiVersion `apps/v1`, found `v1`",
            "kuttl/tests/one/01-delete.yaml:4:15 suite-unknown-kind Deployment must have apiVersion `apps/v1`, found `batch/v1`",
            "manifests/00-app.yaml:1:1 schema-invalid `spec`: Required value",
        ],
        "{out}"
    );
    // The human format shows the place and the excerpt, as for any finding.
    lint()
        .arg(dir.path().join("chainsaw/basic/chainsaw-test.yaml"))
        .expect_status(1)
        .stdout_contains("error[suite-unknown-operation]: unknown operation `aply` in `try`; did you mean `apply`?")
        .stdout_contains("chainsaw-test.yaml:8:7")
        .run();
}
