//! Running many chainsaw and kuttl tests against one API, as chainsaw
//! schedules them: the tests with `concurrent: false` first, one at a time
//! in order, then the others `jobs` at a time (Go's testing runs a parallel
//! test only once the serial ones are done); kuttl suites' `commands` run
//! once before their tests. Results come back in input order, as tests of
//! the run (`report::result`), one per scenario.

use super::client::Client;
use super::config::Config;
use super::discover::Found;
use super::engine::{self, Env};
use super::model::{Action, Dialect, Test};
use crate::runner::{Outcome, TestResult};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Options {
    pub jobs: usize,
    pub tools_path: Option<PathBuf>,
    pub values: Value,
}

/// The set-up's kubectl directory (`PODPROOF_TOOLS_DIR/bin`, else
/// /opt/podproof/tools/bin), if it exists: scripts find kubectl v1.34 there first.
pub fn tools_path() -> Option<PathBuf> {
    let base =
        std::env::var_os("PODPROOF_TOOLS_DIR").map_or_else(|| PathBuf::from("/opt/podproof/tools"), PathBuf::from);
    let bin = base.join("bin");
    bin.is_dir().then_some(bin)
}

/// Runs the suites' commands, then every test; `log(test, line)` gets progress.
pub fn run_all(
    found: &Found,
    client: Arc<dyn Client>,
    opts: &Options,
    log: &(dyn Fn(&str, &str) + Sync),
) -> Vec<TestResult> {
    let mut setup_failure: Option<String> = None;
    for s in &found.suites {
        for op in &s.commands {
            let (program, args, timeout) = match &op.action {
                Action::Script(sc) => ("sh".to_string(), vec!["-c".to_string(), sc.content.clone()], sc.timeout),
                Action::Command(c) => (c.entrypoint.clone(), c.args.clone(), c.timeout),
                _ => continue,
            };
            let mut env: Vec<(String, String)> = Vec::new();
            if let Some(k) = client.kubeconfig() {
                env.push(("KUBECONFIG".into(), k.display().to_string()));
            }
            let run = super::exec::Run {
                program: super::exec::expand(&program, &env),
                args: args.iter().map(|a| super::exec::expand(a, &env)).collect(),
                env,
                dir: s.dir.clone(),
                timeout: timeout.map(|d| d.0).unwrap_or(s.timeout),
                path_prepend: opts.tools_path.clone(),
            };
            match super::exec::run(&run) {
                Ok(r) if r.error.is_none() => log(&s.file, &format!("suite command `{}` done", run.program)),
                Ok(r) => {
                    setup_failure = Some(format!(
                        "{}: suite command `{}` failed: {}\n{}",
                        s.file,
                        run.program,
                        r.error.unwrap_or_default(),
                        r.stderr.trim()
                    ))
                }
                Err(e) => setup_failure = Some(format!("{}: suite command `{}`: {e}", s.file, run.program)),
            }
        }
    }
    let tests: Vec<&(Test, Arc<Config>)> = found.tests.iter().collect();
    if let Some(f) = setup_failure {
        return tests
            .iter()
            .flat_map(|(t, _)| {
                let mut r = super::report::not_run(std::slice::from_ref(t), &f);
                for x in &mut r {
                    x.outcome = if t.dialect == Dialect::Kuttl { Outcome::Failed } else { Outcome::Skipped };
                    x.failure = Some(f.clone());
                }
                r
            })
            .collect();
    }
    let results: Mutex<Vec<Option<Vec<TestResult>>>> = Mutex::new(vec![None; tests.len()]);
    let run_one = |i: usize| {
        let (t, cfg) = tests[i];
        let name = t.name.clone();
        let line = |l: &str| log(&name, l);
        let env = Env {
            client: client.clone(),
            config: cfg.clone(),
            tools_path: opts.tools_path.clone(),
            values: opts.values.clone(),
            log: &line,
            test_id: i + 1,
        };
        // A panic is the test's failure; its cleanup ran on the way (nothing here holds a guard that skips it).
        let outs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine::run(t, &env)));
        let rs: Vec<TestResult> = match outs {
            Ok(outs) => outs.iter().map(|o| super::report::result(t, o)).collect(),
            Err(_) => {
                let mut r = super::report::not_run(
                    std::slice::from_ref(t),
                    "podproof panicked running this test (a bug; please report it)",
                );
                for x in &mut r {
                    x.outcome = Outcome::Failed;
                    x.failure = Some("podproof panicked running this test (a bug; please report it)".into());
                }
                r
            }
        };
        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(rs);
    };
    let serial: Vec<usize> = (0..tests.len()).filter(|&i| tests[i].0.concurrent == Some(false)).collect();
    let parallel: Vec<usize> = (0..tests.len()).filter(|&i| tests[i].0.concurrent != Some(false)).collect();
    for &i in &serial {
        if crate::signals::interrupted() {
            break;
        }
        run_one(i);
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(parallel.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= parallel.len() || crate::signals::interrupted() {
                    break;
                }
                run_one(parallel[k]);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results
        .into_iter()
        .zip(&tests)
        .flat_map(|(r, (t, _))| {
            r.unwrap_or_else(|| super::report::not_run(std::slice::from_ref(t), "not run: interrupted"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chainsaw::tests::Fake;

    #[test]
    fn serial_tests_first_then_parallel_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, concurrent) in [("a", true), ("b", false), ("c", true)] {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("chainsaw-test.yaml"),
                format!("apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  concurrent: {concurrent}\n  steps:\n  - try:\n    - script: {{content: 'true'}}\n"),
            )
            .unwrap();
        }
        let (found, diags) = crate::chainsaw::discover::discover(&[dir.path().display().to_string()]);
        assert!(diags.is_empty(), "{diags:?}");
        let order = Mutex::new(Vec::new());
        let log = |t: &str, l: &str| {
            if l.contains("TRY | BEGIN") {
                order.lock().unwrap().push(t.to_string());
            }
        };
        let rs = run_all(
            &found,
            Arc::new(Fake::default()),
            &Options { jobs: 1, tools_path: None, values: Value::Null },
            &log,
        );
        assert_eq!(
            rs.iter().map(|r| (r.name.as_str(), r.outcome)).collect::<Vec<_>>(),
            [("a", Outcome::Passed), ("b", Outcome::Passed), ("c", Outcome::Passed)]
        );
        assert_eq!(order.into_inner().unwrap(), ["b", "a", "c"]);
        let json = crate::report::json(&rs);
        assert!(json.contains("\"name\": \"b\"") && json.contains("\"action\": \"chainsaw\""), "{json}");
        assert!(crate::report::junit(&rs).contains("<testcase name=\"c\""));
    }

    #[test]
    fn an_unreachable_api_fails_each_test_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\n").unwrap();
        let d = dir.path().join("t");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("chainsaw-test.yaml"), "apiVersion: chainsaw.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\nspec:\n  steps:\n  - try:\n    - sleep: {duration: 1s}\n").unwrap();
        let (found, _) = crate::chainsaw::discover::discover(&[d.display().to_string()]);
        let kube = crate::chainsaw::kube::Kube::from_kubeconfig(&dir.path().join("kubeconfig"), None).unwrap();
        let rs =
            run_all(&found, Arc::new(kube), &Options { jobs: 2, tools_path: None, values: Value::Null }, &|_, _| {});
        assert_eq!(rs[0].outcome, Outcome::Failed);
        let f = rs[0].failure.clone().unwrap();
        assert_eq!(f, "namespace: GET https://127.0.0.1:1/api/v1: io: Connection refused (os error 111)");
    }
}
