//! sha256 digests of inputs and outputs.

use sha2::{Digest, Sha256};
use std::path::Path;

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of a file, or of a directory tree (paths and contents, sorted).
pub fn digest_path(p: &Path) -> std::io::Result<String> {
    if p.is_file() {
        return Ok(sha256_hex(&std::fs::read(p)?));
    }
    let mut files = Vec::new();
    collect(p, p, &mut files)?;
    files.sort();
    let mut all = Vec::new();
    for (rel, bytes) in files {
        all.extend_from_slice(rel.as_bytes());
        all.push(0);
        all.extend_from_slice(sha256_hex(&bytes).as_bytes());
        all.push(b'\n');
    }
    Ok(sha256_hex(&all))
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if p.is_dir() {
            collect(base, &p, out)?;
        } else if p.is_file() {
            out.push((p.strip_prefix(base).unwrap_or(&p).display().to_string(), std::fs::read(&p)?));
        }
    }
    Ok(())
}
