//! Snapshot tests of `podproof render` for every fixture in both flavours.
//!
//! The snapshots live in tests/snapshots/. After an intended change to the
//! output, review and accept the new ones with `cargo insta review`, or rerun
//! with `INSTA_UPDATE=always` and read the diff in git.
//!
//! Directory fixtures render with `--relative-to` the crate root, so resolved
//! hostPaths read `./fixtures/...` wherever the checkout lives.

mod common;

use common::{root, Test};

const FLAVORS: [&str; 2] = ["podman", "cluster"];

/// Fixtures rendered from their directory.
const DIRS: [&str; 5] = ["busybox-httpd", "prometheus", "kd-centos", "xcat", "multi-role"];

/// `podproof render` of a fixture directory in one flavour.
fn render_dir(fixture: &str, flavor: &str) -> String {
    let dir = format!("fixtures/apps/{fixture}");
    let out = Test::new().args(["render", "--flavor", flavor, "--relative-to", ".", &dir]).run();
    only_the_ledger_line(&out.stderr);
    out.stdout
}

/// A render prints nothing on stderr but, at most, the ledger's one line.
fn only_the_ledger_line(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() <= 1 && lines.iter().all(|l| l.starts_with("podproof did not honour ")), "{stderr}");
}

/// simple-app is helm-template-style output, so it is piped in (its app is named `stdin`).
fn render_stdin(flavor: &str) -> String {
    let text = std::fs::read(root().join("fixtures/apps/simple-app/simple-app.yaml")).unwrap();
    let out = Test::new().args(["render", "--flavor", flavor, "-"]).stdin(text).run();
    only_the_ledger_line(&out.stderr);
    out.stdout
}

fn snapshot(name: &str, command: &str, output: &str) {
    insta::with_settings!({ description => command, omit_expression => true }, {
        insta::assert_snapshot!(name, output);
    });
}

macro_rules! dir_fixture {
    ($test:ident, $fixture:expr) => {
        #[test]
        fn $test() {
            for flavor in FLAVORS {
                let command = format!("podproof render --flavor {flavor} --relative-to . fixtures/apps/{}", $fixture);
                snapshot(&format!("{}-{flavor}", $fixture), &command, &render_dir($fixture, flavor));
            }
        }
    };
}

dir_fixture!(busybox_httpd, "busybox-httpd");
dir_fixture!(prometheus, "prometheus");
dir_fixture!(kd_centos, "kd-centos");
dir_fixture!(xcat, "xcat");
dir_fixture!(multi_role, "multi-role");

#[test]
fn simple_app_from_stdin() {
    for flavor in FLAVORS {
        let command = format!("podproof render --flavor {flavor} - < fixtures/apps/simple-app/simple-app.yaml");
        snapshot(&format!("simple-app-{flavor}"), &command, &render_stdin(flavor));
    }
}

/// The same input renders to byte-identical output, in one run with every
/// fixture and across runs, so `pods/` and promotions diff cleanly.
#[test]
fn rendering_is_deterministic() {
    for flavor in FLAVORS {
        let all = |_: u8| {
            let mut args =
                vec!["render".to_string(), "--flavor".into(), flavor.into(), "--relative-to".into(), ".".into()];
            args.extend(DIRS.iter().map(|d| format!("fixtures/apps/{d}")));
            Test::new().args(args).run().stdout
        };
        let first = all(1);
        assert!(!first.is_empty());
        assert!(first == all(2), "two renders of every fixture ({flavor}) differ");
        for d in DIRS {
            assert!(
                first.contains(&render_dir(d, flavor)),
                "{d} ({flavor}) renders differently alone and with the other fixtures"
            );
        }
        assert_eq!(
            render_stdin(flavor),
            render_stdin(flavor),
            "simple-app from stdin ({flavor}) renders differently twice"
        );
    }
}
