//! `podproof verify`: check a promoted directory against its signed attestation.

use crate::error::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  podproof verify deploy/app --key promote.key.pub
  podproof verify charts/prom --key sslib-key.json

Checks the DSSE envelope's ed25519 signature over its pre-authentication encoding, that it holds an in-toto Statement v1 of a podproof promotion, the sha256 of every file it names, and that DIR holds no other file (podproof's manifest aside).
KEY: the public key, as SubjectPublicKeyInfo PEM (`podproof keygen`'s KEY.pub, `openssl pkey -in KEY -pubout`) or securesystemslib's JSON key.
Exit status: 0 verified, 1 something differs (each difference is named), 2 bad input (no or a malformed attestation, a bad key).")]
pub struct Args {
    /// A directory `podproof promote --attest` wrote
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The ed25519 public key to check the signature with
    #[arg(long, value_name = "PUB", required = true)]
    pub key: PathBuf,
}

pub fn run(a: Args) -> Result<i32> {
    let key = crate::attest::read_verifying_key(&a.key)?;
    let v = crate::attest::verify(&a.dir, &key)?;
    let shown = crate::source::display(&a.dir);
    outln!("verified {shown}: {} files match the attestation signed by key {}", v.subjects, v.key_id);
    if let Some(p) = &v.predicate {
        for app in &p.apps {
            match &app.record {
                Some(r) => {
                    let passed = r.tests.iter().filter(|t| t.outcome == "passed").count();
                    outln!(
                        "  app {}: {} (record {}: {passed} of {} tests passed on podman {})",
                        app.name,
                        app.tested_digest,
                        r.file,
                        r.tests.len(),
                        r.podman_version
                    );
                }
                None => outln!("  app {}: {} (no test record)", app.name, app.tested_digest),
            }
        }
        if !p.forced.is_empty() {
            outln!("  FORCED: promoted with --force although preconditions failed: {}", p.forced.join(","));
        }
    }
    Ok(0)
}
