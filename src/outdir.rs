//! The directory a promotion writes into, and what podproof may remove there.
//!
//! podproof removes only files that it wrote itself, as its own manifest in
//! that directory (`.podproof-manifest`, with a sha256 per file) lists them,
//! and only while they still have the listed digest. Anything else (a file
//! the manifest does not list, a listed file edited since, a symlink, a
//! directory podproof did not make) is foreign: the promotion is refused
//! unless the caller allows removing it (`--force`), and then every foreign
//! path is named before it goes. Nothing here follows a symlink inside the
//! directory: entries are looked at with `lstat`, read with `O_NOFOLLOW`,
//! removed with `unlinkat` and created with `O_CREAT | O_EXCL | O_NOFOLLOW`
//! relative to a descriptor of the directory, so a link planted in it can
//! neither redirect a write nor a removal, nor make anything deletable.

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The manifest's file name. It has no `.yaml`/`.yml`/`.json` extension, so
/// `kubectl apply -f DIR` does not take it for a manifest.
pub const MANIFEST: &str = ".podproof-manifest";

/// The manifest's format version.
const FORMAT: u32 = 1;

/// What podproof wrote into a directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub podproof_version: String,
    /// Every file, by its path relative to the directory.
    pub files: Vec<ManifestFile>,
    /// The subdirectories podproof made (a chart's `templates`).
    #[serde(default)]
    pub dirs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
}

/// One file to write: a path relative to the directory (plain names joined
/// with `/`) and its text.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub text: String,
    /// Holds Secret values: written readable by the owner only.
    pub secret: bool,
}

/// Something in the directory that podproof did not write, and why it is not ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub path: String,
    pub why: String,
    pub dir: bool,
}

/// What a directory holds now, sorted into podproof's own files and the rest.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub exists: bool,
    /// Files the manifest lists with their digest unchanged (the manifest included).
    pub ours: Vec<String>,
    /// Directories the manifest lists.
    pub our_dirs: Vec<String>,
    /// Everything else, each file inside a foreign directory on its own line,
    /// a directory after its contents.
    pub foreign: Vec<Foreign>,
    /// The directory has a README.md that starts like a promotion's but no
    /// manifest: a promotion by an older podproof, or a hand-made look-alike.
    pub readme_without_manifest: bool,
}

fn io_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{what}: {e}"))
}

/// Splits a relative path into plain names, refusing `..`, `.`, empty parts and absolute paths.
fn components(rel: &str) -> std::io::Result<Vec<&str>> {
    let parts: Vec<&str> = rel.split('/').collect();
    for p in &parts {
        crate::state::check_file_name(p)?;
    }
    Ok(parts)
}

fn open_dir_at(dir: impl AsFd, name: &str) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the directory a relative path lives in, one component at a time,
/// refusing symlinks on the way. Returns it and the last name.
fn parent_of<'a>(root: &OwnedFd, rel: &'a str) -> std::io::Result<(OwnedFd, &'a str)> {
    let parts = components(rel)?;
    let (last, dirs) = parts.split_last().expect("split yields at least one part");
    let mut fd = root.try_clone()?;
    for d in dirs {
        fd = open_dir_at(&fd, d)?;
    }
    Ok((fd, last))
}

/// Reads a regular file relative to `dir` without following a symlink.
fn read_at(dir: impl AsFd, name: &str) -> std::io::Result<Vec<u8>> {
    let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
    let mut f = std::fs::File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The sha256 of a file under `root` (a relative path), read without
/// following any symlink; what `verify` checks a subject against.
pub fn digest_at(root: &Path, rel: &str) -> std::io::Result<String> {
    Ok(crate::digest::sha256_hex(&read_file(root, rel)?))
}

/// Reads a regular file under `root` (a relative path) without following any symlink.
pub fn read_file(root: &Path, rel: &str) -> std::io::Result<Vec<u8>> {
    let root = open_root(root)?;
    let (dir, name) = parent_of(&root, rel)?;
    read_at(&dir, name)
}

/// Opens the directory itself (the path the user named may be a symlink:
/// that is their choice; nothing inside it is followed).
fn open_root(dir: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// What a walk finds: regular files, and the rest as `(path, what it is)`.
pub struct Walked {
    pub files: Vec<String>,
    pub other: Vec<(String, &'static str)>,
}

/// Every regular file under `root`, as relative paths, without following
/// symlinks; symlinks and other non-files come back apart.
pub fn walk(root: &Path) -> std::io::Result<Walked> {
    let fd = open_root(root)?;
    let mut files = Vec::new();
    let mut other = Vec::new();
    walk_fd(&fd, "", &mut |rel, ty| {
        match ty {
            FileType::RegularFile => files.push(rel.to_string()),
            FileType::Directory => {}
            FileType::Symlink => other.push((rel.to_string(), "a symlink")),
            _ => other.push((rel.to_string(), "not a regular file")),
        }
        true
    })?;
    files.sort();
    other.sort();
    Ok(Walked { files, other })
}

/// Calls `f` for every entry under `dir` (its path relative to the root and
/// its type, from `lstat`), descending into directories for which `f`
/// returns true, after calling `f` for them.
fn walk_fd(dir: &OwnedFd, prefix: &str, f: &mut dyn FnMut(&str, FileType) -> bool) -> std::io::Result<()> {
    let mut names: Vec<String> = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        // A name podproof could not name back could neither be listed nor removed.
        let Ok(name) = entry.file_name().to_str().map(str::to_string) else {
            let name = entry.file_name().to_string_lossy();
            let shown = if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") };
            return Err(io_err(format!("`{shown}`"), "its name is not UTF-8; podproof leaves it to you"));
        };
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let st = rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        let ty = FileType::from_raw_mode(st.st_mode);
        if f(&rel, ty) && ty == FileType::Directory {
            let sub = open_dir_at(dir, &name)?;
            walk_fd(&sub, &rel, f)?;
        }
    }
    Ok(())
}

/// Reads the manifest, or says why it cannot be trusted.
fn read_manifest(root: &OwnedFd) -> Result<Option<Manifest>, String> {
    match rustix::fs::statat(root, MANIFEST, AtFlags::SYMLINK_NOFOLLOW) {
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
        Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile => {
            return Err("is not a regular file".into())
        }
        Ok(_) => {}
    }
    let bytes = read_at(root, MANIFEST).map_err(|e| format!("cannot be read: {e}"))?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| format!("is not a podproof manifest: {e}"))?;
    if m.format != FORMAT {
        return Err(format!("has format {}, which this podproof does not read", m.format));
    }
    Ok(Some(m))
}

/// Sorts what `dir` holds into podproof's own files and foreign ones.
pub fn survey(dir: &Path) -> std::io::Result<Survey> {
    let root = match open_root(dir) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Survey::default()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Err(io_err("it is not a directory", e)),
        Err(e) => return Err(e),
    };
    let mut s = Survey { exists: true, ..Default::default() };
    let manifest = match read_manifest(&root) {
        Ok(m) => m,
        Err(why) => {
            let dir = rustix::fs::statat(&root, MANIFEST, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
            s.foreign.push(Foreign { path: MANIFEST.into(), why: format!("podproof's manifest {why}"), dir });
            None
        }
    };
    let listed: std::collections::BTreeMap<&str, &str> =
        manifest.iter().flat_map(|m| &m.files).map(|f| (f.path.as_str(), f.sha256.as_str())).collect();
    let dirs: BTreeSet<&str> = manifest.iter().flat_map(|m| &m.dirs).map(String::as_str).collect();
    if manifest.is_some() {
        s.ours.push(MANIFEST.into());
    }
    let mut foreign_dirs: Vec<String> = Vec::new();
    let mut err = None;
    walk_fd(&root, "", &mut |rel, ty| {
        if rel == MANIFEST {
            return false;
        }
        let inside_foreign = foreign_dirs.iter().rev().find(|d| rel.starts_with(&format!("{d}/"))).cloned();
        let why = match (ty, &inside_foreign) {
            (_, Some(d)) if ty != FileType::Directory => format!("inside `{d}`, which podproof did not make"),
            (FileType::Directory, None) if dirs.contains(rel) => {
                s.our_dirs.push(rel.to_string());
                return true;
            }
            (FileType::Directory, _) => {
                foreign_dirs.push(rel.to_string());
                s.foreign.push(Foreign {
                    path: rel.to_string(),
                    why: "a directory podproof did not make".into(),
                    dir: true,
                });
                return true;
            }
            (FileType::RegularFile, None) => match listed.get(rel) {
                Some(want) => {
                    let got =
                        parent_of(&root, rel).and_then(|(d, n)| read_at(&d, n)).map(|b| crate::digest::sha256_hex(&b));
                    match got {
                        Ok(d) if d == *want => {
                            s.ours.push(rel.to_string());
                            return false;
                        }
                        Ok(_) => "changed since podproof wrote it".to_string(),
                        Err(e) => {
                            err.get_or_insert(e);
                            return false;
                        }
                    }
                }
                None => format!("not in podproof's manifest ({MANIFEST})"),
            },
            (FileType::Symlink, None) => "a symlink (podproof never follows one here)".to_string(),
            _ => "not a regular file".to_string(),
        };
        s.foreign.push(Foreign { path: rel.to_string(), why, dir: false });
        false
    })?;
    if let Some(e) = err {
        return Err(e);
    }
    // A directory goes after everything inside it, so removing in this order
    // empties each directory before it goes.
    s.foreign.sort_by_cached_key(|f| if f.dir { format!("{}/\u{10FFFF}", f.path) } else { f.path.clone() });
    if manifest.is_none() {
        s.readme_without_manifest =
            read_at(&root, "README.md").is_ok_and(|b| b.starts_with(crate::promote::README_TITLE.as_bytes()));
    }
    Ok(s)
}

/// Removes what a survey found (podproof's own files always, the foreign
/// ones only when `force`: without it, a survey with anything foreign is
/// refused), then writes a manifest of `files` and `files`.
pub fn replace(dir: &Path, survey: &Survey, files: &[File], force: bool) -> std::io::Result<()> {
    if !survey.foreign.is_empty() && !force {
        return Err(io_err("refusing to replace", "the directory holds files podproof did not write"));
    }
    for f in files {
        components(&f.name)?;
        if f.name == MANIFEST {
            return Err(io_err(&f.name, "is podproof's manifest"));
        }
    }
    if !survey.exists {
        std::fs::create_dir_all(dir)?;
    }
    let root = open_root(dir)?;
    let unlink = |rel: &str, dir_flag: bool| -> std::io::Result<()> {
        let (d, name) = parent_of(&root, rel)?;
        let flags = if dir_flag { AtFlags::REMOVEDIR } else { AtFlags::empty() };
        match rustix::fs::unlinkat(&d, name, flags) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(io_err(format!("cannot remove `{rel}`"), e)),
        }
    };
    if force {
        for f in &survey.foreign {
            unlink(&f.path, f.dir)?;
        }
    }
    // The manifest goes last, so an interrupted removal still lists what is left.
    for rel in survey.ours.iter().filter(|r| *r != MANIFEST) {
        unlink(rel, false)?;
    }
    let mut our_dirs = survey.our_dirs.clone();
    our_dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for d in &our_dirs {
        unlink(d, true)?;
    }
    if survey.ours.iter().any(|r| r == MANIFEST) {
        unlink(MANIFEST, false)?;
    }
    // The new manifest comes first: an interrupted write leaves files the
    // manifest lists (a partial one with another digest, which then counts as foreign).
    let mut dirs: Vec<String> = Vec::new();
    for f in files {
        let parts = components(&f.name)?;
        for i in 1..parts.len() {
            let d = parts[..i].join("/");
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        podproof_version: env!("CARGO_PKG_VERSION").to_string(),
        files: files
            .iter()
            .map(|f| ManifestFile { path: f.name.clone(), sha256: crate::digest::sha256_hex(f.text.as_bytes()) })
            .collect(),
        dirs: dirs.clone(),
    };
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes") + "\n";
    create_at(&root, MANIFEST, text.as_bytes(), 0o644)?;
    for d in &dirs {
        let (parent, name) = parent_of(&root, d)?;
        match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io_err(format!("cannot make `{d}`"), e)),
        }
    }
    for f in files {
        let (parent, name) = parent_of(&root, &f.name)?;
        create_at(&parent, name, f.text.as_bytes(), if f.secret { 0o600 } else { 0o644 })
            .map_err(|e| io_err(format!("cannot write `{}`", f.name), e))?;
    }
    Ok(())
}

/// Creates a new file: `O_EXCL` refuses any existing entry, a symlink
/// (dangling or not) included, so nothing is written through a link.
fn create_at(dir: impl AsFd, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> File {
        File { name: name.into(), text: text.into(), secret: false }
    }

    fn foreign(s: &Survey) -> Vec<String> {
        s.foreign.iter().map(|f| format!("{}: {}", f.path, f.why)).collect()
    }

    #[test]
    fn only_what_the_manifest_lists_is_ours() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let s = survey(&out).unwrap();
        assert!(!s.exists && s.foreign.is_empty());
        replace(&out, &s, &[file("a.yaml", "a"), file("templates/b.yaml", "b")], false).unwrap();
        let s = survey(&out).unwrap();
        assert_eq!(s.ours, [MANIFEST, "a.yaml", "templates/b.yaml"]);
        assert_eq!(s.our_dirs, ["templates"]);
        assert!(s.foreign.is_empty(), "{:?}", s.foreign);
        // An edited file, a new one and a foreign directory are not ours.
        std::fs::write(out.join("a.yaml"), "edited").unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        std::fs::create_dir_all(out.join("mine/deeper")).unwrap();
        std::fs::write(out.join("mine/deeper/x"), "x").unwrap();
        std::fs::write(out.join("templates/extra.yaml"), "x").unwrap();
        let s = survey(&out).unwrap();
        assert_eq!(
            foreign(&s),
            [
                "a.yaml: changed since podproof wrote it",
                "mine/deeper/x: inside `mine/deeper`, which podproof did not make",
                "mine/deeper: a directory podproof did not make",
                "mine: a directory podproof did not make",
                "notes.txt: not in podproof's manifest (.podproof-manifest)",
                "templates/extra.yaml: not in podproof's manifest (.podproof-manifest)",
            ]
        );
        assert!(replace(&out, &s, &[file("a.yaml", "new")], false).is_err());
        assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
        replace(&out, &s, &[file("a.yaml", "new")], true).unwrap();
        let w = walk(&out).unwrap();
        assert_eq!(w.files, [MANIFEST, "a.yaml"]);
        assert!(w.other.is_empty());
    }

    #[test]
    fn symlinks_are_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let victim = d.path().join("victim");
        std::fs::write(&victim, "victim").unwrap();
        std::fs::create_dir_all(d.path().join("victim-dir")).unwrap();
        std::fs::write(d.path().join("victim-dir/b.yaml"), "victim").unwrap();
        replace(&out, &survey(&out).unwrap(), &[file("a.yaml", "a"), file("templates/b.yaml", "b")], false).unwrap();
        // A link where podproof's own file was, and a link in place of its directory.
        std::fs::remove_file(out.join("a.yaml")).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("a.yaml")).unwrap();
        std::fs::remove_dir_all(out.join("templates")).unwrap();
        std::os::unix::fs::symlink(d.path().join("victim-dir"), out.join("templates")).unwrap();
        let s = survey(&out).unwrap();
        assert_eq!(
            foreign(&s),
            [
                "a.yaml: a symlink (podproof never follows one here)",
                "templates: a symlink (podproof never follows one here)"
            ]
        );
        replace(&out, &s, &[file("a.yaml", "new"), file("templates/b.yaml", "new")], true).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim");
        assert_eq!(std::fs::read_to_string(d.path().join("victim-dir/b.yaml")).unwrap(), "victim");
        assert!(!out.join("a.yaml").symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(out.join("templates/b.yaml")).unwrap(), "new");
        // A manifest that is a link counts as foreign, and lists nothing.
        std::fs::remove_file(out.join(MANIFEST)).unwrap();
        std::os::unix::fs::symlink(&victim, out.join(MANIFEST)).unwrap();
        let s = survey(&out).unwrap();
        assert!(s.ours.is_empty(), "{:?}", s.ours);
        assert_eq!(s.foreign[0].path, MANIFEST);
    }

    #[test]
    fn a_look_alike_readme_makes_nothing_ours() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("README.md"), "# Promoted by podproof\n").unwrap();
        std::fs::write(d.path().join("deployment-x.yaml"), "kind: Deployment\n").unwrap();
        let s = survey(d.path()).unwrap();
        assert!(s.ours.is_empty());
        assert!(s.readme_without_manifest);
        assert_eq!(s.foreign.len(), 2);
        // A manifest naming a path outside the directory lists nothing there.
        let m = r#"{"format":1,"podproofVersion":"0","files":[{"path":"../victim","sha256":"x"}],"dirs":[]}"#;
        std::fs::write(d.path().join(MANIFEST), m).unwrap();
        assert_eq!(survey(d.path()).unwrap().foreign.len(), 2);
        assert!(replace(d.path(), &survey(d.path()).unwrap(), &[file("../x", "")], true).is_err());
    }
}
