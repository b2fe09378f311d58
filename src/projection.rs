//! ConfigMap and Secret volumes on disk, in the kubelet's AtomicWriter layout.
//!
//! ```text
//! <dir>/..2025_01_31_12_00_00.3381829021/   the files
//! <dir>/..data -> ..2025_01_31_12_00_00.3381829021
//! <dir>/<key>  -> ..data/<key>
//! ```
//! An update writes a new timestamped directory, points `..data_tmp` at it and
//! renames that over `..data` (the atomic step), then fixes the user-visible
//! links and removes the old directory. Apps that watch `..data` with inotify
//! (configmap-reload, prometheus-config-reloader) see exactly what they would
//! see on a node.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path};

/// One file of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, File>;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Checks a payload path the way the kubelet does.
pub fn validate_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty path".into());
    }
    if p.len() > 4096 {
        return Err(format!("path `{p}` is longer than 4096 bytes"));
    }
    if Path::new(p).is_absolute() {
        return Err(format!("path `{p}` must be relative"));
    }
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => {
                if s.len() > 255 {
                    return Err(format!("path `{p}` has an element longer than 255 bytes"));
                }
            }
            _ => return Err(format!("path `{p}` may not contain `..` or `.` elements")),
        }
    }
    if p.starts_with("..") {
        return Err(format!("path `{p}` may not start with `..`"));
    }
    Ok(())
}

/// The payload currently projected in `dir`, if any.
pub fn current(dir: &Path) -> io::Result<Option<(String, Payload)>> {
    let target = match std::fs::read_link(dir.join(DATA)) {
        Ok(t) => t.display().to_string(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut payload = Payload::new();
    collect(&dir.join(&target), "", &mut payload)?;
    Ok(Some((target, payload)))
}

fn collect(base: &Path, prefix: &str, out: &mut Payload) -> io::Result<()> {
    for e in std::fs::read_dir(base)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let meta = e.metadata()?;
        if meta.is_dir() {
            collect(&e.path(), &rel, out)?;
        } else {
            out.insert(rel, File { bytes: std::fs::read(e.path())?, mode: meta.permissions().mode() & 0o7777 });
        }
    }
    Ok(())
}

/// A kubelet-style timestamped directory name.
fn timestamp_dir_name() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (y, mo, d, h, mi, s) = civil(now.as_secs() as i64);
    let rand = now.subsec_nanos() ^ std::process::id().rotate_left(16);
    format!("..{y:04}_{mo:02}_{d:02}_{h:02}_{mi:02}_{s:02}.{rand}")
}

/// UTC calendar fields from a Unix timestamp (Howard Hinnant's algorithm).
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32, (rem % 60) as u32)
}

/// Writes `payload` into `dir` atomically. Returns whether anything changed.
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    for p in payload.keys() {
        validate_path(p).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    std::fs::create_dir_all(dir)?;
    let old = current(dir)?;
    if let Some((_, cur)) = &old {
        if cur == payload {
            fix_links(dir, payload)?;
            return Ok(false);
        }
    }
    // 3. A new timestamped directory with the files at their exact modes.
    let mut name = timestamp_dir_name();
    while dir.join(&name).exists() {
        name.push('0');
    }
    let ts = dir.join(&name);
    std::fs::create_dir(&ts)?;
    std::fs::set_permissions(&ts, std::fs::Permissions::from_mode(0o755))?;
    for (rel, f) in payload {
        let p = ts.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, &f.bytes)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode))?;
    }
    // 4. The atomic swap.
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&name, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;
    // 5. User-visible links, 6. the old directory.
    fix_links(dir, payload)?;
    if let Some((old_name, _)) = old {
        if old_name != name {
            std::fs::remove_dir_all(dir.join(old_name))?;
        }
    }
    Ok(true)
}

/// Makes `<top> -> ..data/<top>` exist for every top-level element and removes
/// links whose key is gone.
fn fix_links(dir: &Path, payload: &Payload) -> io::Result<()> {
    let tops: BTreeSet<String> = payload.keys().map(|k| k.split('/').next().unwrap_or(k).to_string()).collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("{DATA}/{top}"), &link)?;
        }
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("..") || tops.contains(&name) {
            continue;
        }
        if e.file_type()?.is_symlink() {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes each payload in turn and lists the directory (links and files).
    fn check(payloads: &[&[(&str, &str, u32)]], expect: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        let mut changed = Vec::new();
        for p in payloads {
            let payload: Payload =
                p.iter().map(|(k, v, m)| (k.to_string(), File { bytes: v.as_bytes().to_vec(), mode: *m })).collect();
            changed.push(write(&dir, &payload).unwrap());
        }
        let mut lines = vec![format!("changed {changed:?}")];
        let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        let mut ts_dirs = 0;
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap().display().to_string();
                let t = if t.starts_with("..2") { "..<ts>".to_string() } else { t };
                lines.push(format!("{name} -> {t}"));
            } else if ft.is_dir() {
                ts_dirs += 1;
            }
        }
        lines.push(format!("timestamp dirs: {ts_dirs}"));
        let (_, cur) = current(&dir).unwrap().unwrap();
        for (k, f) in cur {
            lines.push(format!("{k} {:o} {:?}", f.mode, String::from_utf8(f.bytes).unwrap()));
        }
        assert_eq!(lines.join("\n"), expect.trim());
    }

    #[test]
    fn first_write() {
        check(
            &[&[("a.yml", "x: 1", 0o644), ("dir/b", "b", 0o600)]],
            "changed [true]\n..data -> ..<ts>\na.yml -> ..data/a.yml\ndir -> ..data/dir\ntimestamp dirs: 1\na.yml 644 \"x: 1\"\ndir/b 600 \"b\"",
        );
    }

    #[test]
    fn update_swaps_and_prunes() {
        check(
            &[&[("a", "1", 0o644), ("gone", "g", 0o644)], &[("a", "2", 0o644), ("new", "n", 0o400)]],
            "changed [true, true]\n..data -> ..<ts>\na -> ..data/a\nnew -> ..data/new\ntimestamp dirs: 1\na 644 \"2\"\nnew 400 \"n\"",
        );
    }

    #[test]
    fn same_payload_is_not_rewritten() {
        check(
            &[&[("a", "1", 0o644)], &[("a", "1", 0o644)]],
            "changed [true, false]\n..data -> ..<ts>\na -> ..data/a\ntimestamp dirs: 1\na 644 \"1\"",
        );
    }

    #[test]
    fn paths_are_validated() {
        assert!(validate_path("../x").is_err());
        assert!(validate_path("/etc/x").is_err());
        assert!(validate_path("..data").is_err());
        assert!(validate_path("a/b.c").is_ok());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1738324800), (2025, 1, 31, 12, 0, 0));
    }
}
