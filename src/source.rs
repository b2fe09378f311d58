//! Reading input files (or stdin) as text, and resolving the paths they name.

use crate::error::Diagnostic;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// One input file, read whole.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name shown in diagnostics: the path as given, or `<stdin>`.
    pub name: String,
    /// The absolute path, or `None` for stdin.
    pub path: Option<PathBuf>,
    /// The directory relative paths inside the file resolve against.
    pub dir: PathBuf,
    /// The project root: nothing the file names may lie outside it.
    pub root: PathBuf,
    pub text: String,
    /// Whether the file began with a byte order mark, which `text` leaves out.
    bom: bool,
    /// The digest of the bytes read, computed on first use: records need it,
    /// lint never does, and hashing is a tenth of lint's time on big files.
    sha256: std::sync::OnceLock<String>,
}

impl Source {
    /// The sha256 of the bytes as read (with any byte order mark).
    pub fn bytes_sha256(&self) -> &str {
        self.sha256.get_or_init(|| {
            let mut bytes = Vec::with_capacity(self.text.len() + 3);
            if self.bom {
                bytes.extend_from_slice("\u{feff}".as_bytes());
            }
            bytes.extend_from_slice(self.text.as_bytes());
            crate::digest::sha256_hex(&bytes)
        })
    }
}

/// Reads `arg` (a path, or `-` for stdin) as UTF-8 text.
pub fn read(arg: &str) -> Result<Source, Diagnostic> {
    if arg == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Diagnostic::error("<stdin>", None, format!("cannot read stdin: {e}")))?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        return from_bytes("<stdin>", None, cwd.clone(), project_root(&cwd), bytes);
    }
    let path = Path::new(arg);
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(arg, None, format!("cannot read file: {}", io_reason(&e))))?;
    let abs = absolute(path);
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let root = project_root(&dir);
    from_bytes(arg, Some(abs), dir, root, bytes)
}

/// Turns an io::Error into the short reason people expect.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            // "Is a directory (os error 21)" reads better without the errno.
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

pub fn from_bytes(
    name: &str,
    path: Option<PathBuf>,
    dir: PathBuf,
    root: PathBuf,
    bytes: Vec<u8>,
) -> Result<Source, Diagnostic> {
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let head = &e.as_bytes()[..valid];
            let line = head.iter().filter(|b| **b == b'\n').count() + 1;
            let col = match head.iter().rposition(|b| *b == b'\n') {
                Some(i) => std::str::from_utf8(&head[i + 1..]).map(|s| s.chars().count()).unwrap_or(0) + 1,
                None => std::str::from_utf8(head).map(|s| s.chars().count()).unwrap_or(0) + 1,
            };
            if e.as_bytes().starts_with(&[0xff, 0xfe]) || e.as_bytes().starts_with(&[0xfe, 0xff]) {
                return Err(Diagnostic::error(
                    name,
                    Some((1, 1)),
                    "file is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8",
                ));
            }
            return Err(Diagnostic::error(name, Some((line, col)), "file is not valid UTF-8"));
        }
    };
    let bom = text.starts_with('\u{feff}');
    let text = if bom { text['\u{feff}'.len_utf8()..].to_string() } else { text };
    // Most files are plain ASCII: a byte scan (which the compiler vectorises)
    // settles them without decoding characters.
    let ascii_printable = text.bytes().all(|b| matches!(b, b'\t' | b'\n' | b'\r' | b' '..=b'~'));
    let bad = if ascii_printable { None } else { text.find(|c: char| !printable(c)) };
    if let Some(i) = bad {
        let head = &text[..i];
        let line = head.matches('\n').count() + 1;
        let col = head.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let c = text[i..].chars().next().unwrap_or_default();
        let msg = format!("file holds the control character U+{:04X}; YAML and JSON allow only printable characters (write it as an escape in a double-quoted string)", c as u32);
        return Err(Diagnostic::error(name, Some((line, col)), msg));
    }
    Ok(Source { name: name.to_string(), path, dir, root, text, bom, sha256: std::sync::OnceLock::new() })
}

/// Whether YAML allows `c` in a stream (its `c-printable`); JSON is read as
/// YAML, so the rule holds for it too.
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// An absolute, lexically normalised path (symlinks are not resolved, so the
/// names users typed stay recognisable).
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(p)
    };
    normalize(&joined)
}

pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The project root above `dir`: the nearest directory holding `podproof.yaml`
/// or `.git`; `dir` itself when there is none.
pub fn project_root(dir: &Path) -> PathBuf {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.join("podproof.yaml").exists() || d.join(".git").exists() {
            return d.to_path_buf();
        }
        cur = d.parent();
    }
    dir.to_path_buf()
}

/// Resolves `rel` against the source's directory and refuses paths that leave
/// the project root.
pub fn resolve_inside(src: &Source, rel: &str) -> Result<PathBuf, String> {
    let p = normalize(&src.dir.join(rel));
    if !p.starts_with(&src.root) {
        return Err(format!("path `{rel}` escapes the project root {}", src.root.display()));
    }
    Ok(p)
}

/// A path for display: relative to the current directory when below it.
pub fn display(p: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string())
}
