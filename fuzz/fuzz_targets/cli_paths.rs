//! The CLI's path-taking arguments (run ids, `--out`, `--snapshot-dir`):
//! whatever they hold, nothing outside a scratch root is touched. A victim
//! directory beside the scratch root, and a symlink to it planted in the state
//! directory, must stay as they are after every command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Scratch {
    root: PathBuf,
    victim: PathBuf,
}

/// Sets up the scratch root once: podman is `true` (no podman object is
/// made), the state lives in the scratch root, and the commands run there.
fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("podproof-fuzz-{}", std::process::id()));
        let root = base.join("scratch");
        let victim = base.join("victim");
        std::fs::create_dir_all(root.join("state/runs")).unwrap();
        std::fs::create_dir_all(victim.join("sub")).unwrap();
        std::fs::write(victim.join("keep"), "keep").unwrap();
        std::fs::write(victim.join("sub/keep"), "keep").unwrap();
        let _ = std::os::unix::fs::symlink(&victim, root.join("state/runs/tplant"));
        std::fs::write(root.join("podproof.yaml"), "# scratch project\n").unwrap();
        std::env::set_var("PODPROOF_STATE_DIR", root.join("state"));
        std::env::set_var("PODPROOF_PODMAN", "true");
        std::env::set_current_dir(&root).unwrap();
        Scratch { root, victim }
    })
}

fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.push((p.clone(), Vec::new()));
            v.extend(listing(&p));
        } else {
            v.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
        }
    }
    v.sort();
    v
}

/// Whether `p` stays inside `root` by its text alone (`..` applied).
fn lexically_inside(root: &Path, p: &Path) -> bool {
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            std::path::Component::Normal(_) => depth += 1,
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    !root.as_os_str().is_empty()
}

fuzz_target!(|data: &[u8]| {
    let s = scratch();
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.contains('\0') {
        return;
    }
    let before = listing(&s.victim);
    let app = s.root.join("app.yaml");
    let _ = std::fs::write(&app, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n");
    let run = |args: &[&str]| {
        let mut v = vec!["podproof".into()];
        v.extend(args.iter().map(std::ffi::OsString::from));
        let _ = podproof::cli::run(v);
    };
    run(&["down", "--run", text]);
    run(&["clean"]);
    // Output directories the user names are theirs; a fuzzed one is kept
    // inside the scratch root, and what is written there must stay there.
    if lexically_inside(&s.root, Path::new(text)) {
        let out = s.root.join("out").join(text);
        let out = out.display().to_string();
        run(&["render", "-o", &out, &app.display().to_string()]);
        run(&["snapshot", "--snapshot-dir", &out, "reject"]);
        run(&["snapshot", "--snapshot-dir", &out, "unreferenced", "--delete"]);
    }
    assert_eq!(listing(&s.victim), before, "a command with {text:?} touched a path outside the scratch root");
});
