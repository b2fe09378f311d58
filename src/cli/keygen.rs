//! `podproof keygen`: a new ed25519 key pair for `promote --attest`.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  podproof keygen promote.key        # writes promote.key (0600) and promote.key.pub
  openssl genpkey -algorithm ed25519 -out promote.key && openssl pkey -in promote.key -pubout -out promote.key.pub

The private key is PKCS#8 PEM and the public key SubjectPublicKeyInfo PEM, as openssl writes them; securesystemslib and in-toto load both. The key id printed is securesystemslib's (the sha256 of the key's canonical JSON).
Exit status: 0 written, 1 the files could not be written, 2 KEY or KEY.pub exists already.")]
pub struct Args {
    /// Where to write the private key; the public key goes to KEY.pub
    #[arg(value_name = "KEY")]
    pub key: PathBuf,
}

/// Creates a new file, refusing an existing one (a symlink included).
fn create(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    f.write_all(text.as_bytes())
}

pub fn run(a: Args) -> Result<i32> {
    let mut public_path = a.key.clone().into_os_string();
    public_path.push(".pub");
    let public_path = PathBuf::from(public_path);
    for p in [&a.key, &public_path] {
        if p.symlink_metadata().is_ok() {
            return Err(Error::Usage(format!(
                "{} exists already: podproof keygen never overwrites a key",
                crate::source::display(p)
            )));
        }
    }
    let (private, public, id) = crate::attest::generate()?;
    let write = |p: &Path, text: &str, mode| {
        create(p, text, mode)
            .map_err(|e| Error::runtime(format!("cannot write {}", crate::source::display(p))).because(e.to_string()))
    };
    write(&a.key, &private, 0o600)?;
    write(&public_path, &public, 0o644)?;
    outln!(
        "wrote {} (private, mode 0600) and {} (public); key id {id}",
        crate::source::display(&a.key),
        crate::source::display(&public_path)
    );
    Ok(0)
}
