//! podproof's state on the host: one directory per run.
//!
//! `<root>/runs/<run-id>/run.json` records who owns the run (a test process,
//! or the long-lived `up` environment), so `podproof clean` can tell the runs
//! of dead processes from live ones. The run directory also holds the played
//! YAML files (mode 0600: they contain Secret values) and the host side of
//! ConfigMap/Secret projections and emptyDirs.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The state root: `PODPROOF_STATE_DIR`, else /var/tmp/podproof for root and
/// $XDG_RUNTIME_DIR/podproof (or /var/tmp/podproof-<uid>) for other users.
pub fn root() -> PathBuf {
    if let Ok(d) = std::env::var("PODPROOF_STATE_DIR") {
        if !d.is_empty() {
            return PathBuf::from(d);
        }
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    if uid == 0 {
        return PathBuf::from("/var/tmp/podproof");
    }
    match std::env::var("XDG_RUNTIME_DIR") {
        Ok(d) if !d.is_empty() => PathBuf::from(d).join("podproof"),
        _ => PathBuf::from(format!("/var/tmp/podproof-{uid}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// A `podproof test` run: removed when its process is gone.
    Test,
    /// The environment of `podproof up`: lives until `podproof down`.
    Up,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub format: u32,
    pub id: String,
    pub kind: RunKind,
    pub pid: u32,
    pub created_unix: u64,
}

pub fn runs_dir() -> PathBuf {
    root().join("runs")
}

pub fn run_dir(id: &str) -> PathBuf {
    runs_dir().join(id)
}

/// A short random run id: lowercase letters and digits.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let s: String = bytes.iter().take(6).map(|b| alphabet[(*b as usize) % alphabet.len()] as char).collect();
    format!("{prefix}{s}")
}

/// Creates the run directory and record.
pub fn create(id: &str, kind: RunKind) -> std::io::Result<PathBuf> {
    let dir = run_dir(id);
    std::fs::create_dir_all(&dir)?;
    restrict(&dir)?;
    let rec = RunRecord {
        format: 1,
        id: id.to_string(),
        kind,
        pid: std::process::id(),
        created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs(),
    };
    std::fs::write(dir.join("run.json"), serde_json::to_vec_pretty(&rec).expect("record serializes"))?;
    Ok(dir)
}

fn restrict(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

pub fn read(id: &str) -> Option<RunRecord> {
    let bytes = std::fs::read(run_dir(id).join("run.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every run with a record.
pub fn list() -> Vec<RunRecord> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(runs_dir()) {
        for e in rd.flatten() {
            if let Some(r) = read(&e.file_name().to_string_lossy()) {
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Whether a process id is alive.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub fn remove(id: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(run_dir(id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The id of the `up` environment.
pub const UP_ID: &str = "up";
