//! Attested promotion: an in-toto Statement (v1) about the promoted files,
//! in a DSSE envelope signed with an ed25519 key, and its verification.
//!
//! The Statement's subjects are the promoted files with their sha256; its
//! predicate (`PREDICATE_TYPE`) holds what the test records keep of each app:
//! the input and rendered digests, the images the tests built (context digest
//! and image ID), the tests that used the app with their outcomes and steps,
//! the podman version they ran on, and the podproof versions. Keys are PEM:
//! PKCS#8 for the private key, SubjectPublicKeyInfo for the public one, as
//! `openssl genpkey -algorithm ed25519` writes them and securesystemslib
//! (`CryptoSigner`, `SSlibKey.from_crypto`) loads them; a public key may also
//! be securesystemslib's JSON form. The key id in the envelope is
//! securesystemslib's default (the sha256 of the key's canonical JSON), so
//! its `Envelope.verify` and in-toto's match the signature to the key.
//! See docs/promotion.md.

use crate::error::{Error, Result};
use crate::record::{InputDigest, StepRecord};
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The attestation's file name in the promoted directory. `.jsonl`, as
/// in-toto bundles are named, and so not a manifest `kubectl apply -f` reads.
pub const FILE: &str = "podproof.intoto.jsonl";
/// DSSE's payload type for in-toto Statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// What the predicate says: a podproof promotion of tested apps (docs/promotion.md).
pub const PREDICATE_TYPE: &str = "https://podproof.dev/attestation/promotion/v1";

/// A DSSE envelope (its JSON form). Read strictly: a field podproof does not
/// know is an error, so no change to an envelope goes unnoticed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The payload, base64.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The signing key's id, securesystemslib's; DSSE allows it empty.
    pub keyid: String,
    /// The signature over the PAE, base64.
    pub sig: String,
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

/// The predicate of a promotion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    /// The podproof that promoted.
    pub podproof_version: String,
    /// `plain`, `kustomize` or `helm`.
    pub format: String,
    /// The preconditions `--force` bypassed; empty for a promotion that passed them all.
    pub forced: Vec<String>,
    pub apps: Vec<AppEvidence>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppEvidence {
    pub name: String,
    /// The value of every promoted object's `podproof.dev/tested-digest`.
    pub tested_digest: String,
    /// The app's input files and their digests (the record's; without a
    /// record, the current ones with image build contexts).
    pub inputs: Vec<InputDigest>,
    /// The test record the promotion trusted; `None` when forced without one.
    pub record: Option<RecordEvidence>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecordEvidence {
    /// The record's file name under `.podproof/records/`, and its sha256.
    pub file: String,
    pub sha256: String,
    pub created_unix: u64,
    /// The podproof and podman that ran the tests.
    pub podproof_version: String,
    pub podman_version: String,
    /// sha256 of the app rendered in both flavours, as tested.
    pub rendered_sha256: String,
    pub images: Vec<ImageEvidence>,
    pub tests: Vec<TestEvidence>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageEvidence {
    pub tag: String,
    /// The image the promoted manifests name instead (after the image map), if any.
    pub promoted_as: Option<String>,
    pub context: String,
    pub context_sha256: String,
    pub image_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TestEvidence {
    pub name: String,
    pub file: InputDigest,
    pub outcome: String,
    pub steps: Vec<StepRecord>,
}

/// The predicate of a promotion of `apps`, from what their provenance holds.
pub fn predicate(
    format: &str,
    forced: &[String],
    apps: &[crate::app::App],
    provenance: &[crate::promote::Provenance],
    image_map: &[crate::imagemap::Mapping],
) -> Predicate {
    let apps = apps
        .iter()
        .zip(provenance)
        .map(|(app, p)| AppEvidence {
            name: app.name.clone(),
            tested_digest: p.digest.clone(),
            inputs: p.inputs.clone(),
            record: p.tested.as_ref().map(|t| RecordEvidence {
                file: p.record.clone().unwrap_or_default(),
                sha256: t.record_sha256.clone(),
                created_unix: t.created_unix,
                podproof_version: t.podproof_version.clone(),
                podman_version: t.podman_version.clone(),
                rendered_sha256: t.app.rendered_sha256.clone(),
                images: t
                    .app
                    .images
                    .iter()
                    .map(|i| ImageEvidence {
                        tag: i.tag.clone(),
                        promoted_as: crate::imagemap::map_image(image_map, &i.tag),
                        context: i.context.clone(),
                        context_sha256: i.context_sha256.clone(),
                        image_id: i.image_id.clone(),
                    })
                    .collect(),
                tests: t
                    .tests
                    .iter()
                    .map(|t| TestEvidence {
                        name: t.name.clone(),
                        file: t.file.clone(),
                        outcome: t.outcome.clone(),
                        steps: t.steps.clone(),
                    })
                    .collect(),
            }),
        })
        .collect();
    Predicate {
        podproof_version: env!("CARGO_PKG_VERSION").to_string(),
        format: format.to_string(),
        forced: forced.to_vec(),
        apps,
    }
}

fn bad_key(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::bad_input(format!("cannot use the key {}", crate::source::display(path)), vec![why.to_string()])
}

fn read_key_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| bad_key(path, e))?;
    String::from_utf8(bytes).map_err(|_| bad_key(path, "it is not text (expected a PEM file)"))
}

/// What a PEM file is, by its first label, for messages.
fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// Reads an ed25519 private key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn read_signing_key(path: &Path) -> Result<SigningKey> {
    let text = read_key_file(path)?;
    match pem_label(&text) {
        Some("PRIVATE KEY") => SigningKey::from_pkcs8_pem(&text)
            .map_err(|e| bad_key(path, format!("not an ed25519 PKCS#8 private key ({e})"))),
        Some("ENCRYPTED PRIVATE KEY") => Err(bad_key(
            path,
            "it is encrypted, which podproof does not read: decrypt it with `openssl pkey -in KEY -out PLAIN`",
        )),
        Some("OPENSSH PRIVATE KEY") => Err(bad_key(
            path,
            "it is an OpenSSH key: podproof reads PKCS#8 PEM (`podproof keygen KEY` or `openssl genpkey -algorithm ed25519 -out KEY`)",
        )),
        Some("PUBLIC KEY") => Err(bad_key(path, "it is a public key: --attest signs, so it takes the private key")),
        Some(other) => Err(bad_key(path, format!("a PEM `{other}`, not an ed25519 PKCS#8 private key"))),
        None => Err(bad_key(path, "not a PEM private key (expected `-----BEGIN PRIVATE KEY-----`)")),
    }
}

/// Reads an ed25519 public key: SubjectPublicKeyInfo PEM
/// (`-----BEGIN PUBLIC KEY-----`) or securesystemslib's JSON key
/// (`{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": HEX}}`).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let text = read_key_file(path)?;
    if text.trim_start().starts_with('{') {
        return sslib_key(&text).map_err(|e| bad_key(path, e));
    }
    match pem_label(&text) {
        Some("PUBLIC KEY") => VerifyingKey::from_public_key_pem(&text)
            .map_err(|e| bad_key(path, format!("not an ed25519 public key ({e})"))),
        Some(l) if l.contains("PRIVATE KEY") => Err(bad_key(
            path,
            "it is a private key: verify takes the public key (`KEY.pub` from `podproof keygen`, or `openssl pkey -in KEY -pubout`)",
        )),
        Some(other) => Err(bad_key(path, format!("a PEM `{other}`, not an ed25519 public key"))),
        None => Err(bad_key(path, "neither a PEM public key nor a securesystemslib JSON key")),
    }
}

fn sslib_key(text: &str) -> std::result::Result<VerifyingKey, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str());
    if field("keytype") != Some("ed25519") || field("scheme") != Some("ed25519") {
        return Err("a JSON key that is not keytype and scheme ed25519".into());
    }
    let hex = v.get("keyval").and_then(|k| k.get("public")).and_then(|p| p.as_str()).unwrap_or("");
    let bytes = from_hex(hex).ok_or("keyval.public is not 64 hex digits")?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "keyval.public is not 32 bytes")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("keyval.public is not an ed25519 point ({e})"))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// securesystemslib's default key id: the sha256 of the key's canonical JSON
/// (sorted keys, no whitespace), with the raw public key in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    let canonical =
        format!(r#"{{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#, to_hex(key.as_bytes()));
    crate::digest::sha256_hex(canonical.as_bytes())
}

/// A new key pair: the private key as PKCS#8 PEM and the public key as SPKI PEM.
pub fn generate() -> Result<(String, String, String)> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::runtime(format!("cannot get random bytes: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::runtime(format!("cannot encode the key: {e}")))?
        .to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::runtime(format!("cannot encode the key: {e}")))?;
    Ok((private, public, key_id(&key.verifying_key())))
}

/// DSSE's pre-authentication encoding: what is signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The Statement about `files` (relative path, bytes) with `predicate`.
pub fn statement(files: &[(String, &[u8])], predicate: &Predicate) -> Statement {
    let mut subject: Vec<Subject> = files
        .iter()
        .map(|(name, bytes)| Subject {
            name: name.clone(),
            digest: BTreeMap::from([("sha256".to_string(), crate::digest::sha256_hex(bytes))]),
        })
        .collect();
    subject.sort_by(|a, b| a.name.cmp(&b.name));
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject,
        predicate_type: PREDICATE_TYPE.into(),
        predicate: serde_json::to_value(predicate).expect("a predicate serializes"),
    }
}

/// Signs a Statement into the text of the attestation file: one DSSE
/// envelope, as one line of JSON.
pub fn sign(statement: &Statement, key: &SigningKey) -> String {
    // Nothing of a Secret is in the predicate; the redaction layer sees it anyway, as every output.
    let payload = crate::redact::text(&serde_json::to_string(statement).expect("a statement serializes"));
    let sig = key.sign(&pae(PAYLOAD_TYPE, payload.as_bytes()));
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = Envelope {
        payload_type: PAYLOAD_TYPE.into(),
        payload: b64.encode(payload.as_bytes()),
        signatures: vec![EnvelopeSignature { keyid: key_id(&key.verifying_key()), sig: b64.encode(sig.to_bytes()) }],
    };
    serde_json::to_string(&env).expect("an envelope serializes") + "\n"
}

/// DSSE allows standard and URL-safe base64, padded or not.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard.decode(s.trim()).or_else(|_| url.decode(s.trim())).ok()
}

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Verified {
    pub key_id: String,
    pub subjects: usize,
    pub predicate: Option<Predicate>,
}

/// Checks a promoted directory against its attestation: the envelope's
/// signature over the PAE with `key`, the Statement's types, the digest of
/// every subject, and that no other file is there. Bad input (no or an
/// unreadable attestation, a malformed envelope) is `BadInput` (exit 2);
/// anything that does not match is `Failed` (exit 1), naming what differs.
pub fn verify(dir: &Path, key: &VerifyingKey) -> Result<Verified> {
    let shown = crate::source::display(dir);
    let bad = |why: String| Error::bad_input(format!("cannot verify {shown}"), vec![why]);
    let text = match crate::outdir::read_file(dir, FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(format!("it has no attestation ({FILE}): promote with `--attest KEY`")))
        }
        Err(e) => return Err(bad(format!("cannot read {FILE}: {e}"))),
    };
    let env: Envelope =
        serde_json::from_slice(&text).map_err(|e| bad(format!("{FILE} is not a DSSE envelope: {e}")))?;
    let payload = decode_b64(&env.payload).ok_or_else(|| bad(format!("{FILE}: the payload is not base64")))?;
    let id = key_id(key);
    let signed = pae(&env.payload_type, &payload);
    // As securesystemslib does, a signature that names another key id is not
    // this key's; one that names none is tried.
    let verified = env.signatures.iter().filter(|s| s.keyid.is_empty() || s.keyid == id).any(|s| {
        decode_b64(&s.sig)
            .and_then(|b| Signature::from_slice(&b).ok())
            .is_some_and(|sig| key.verify_strict(&signed, &sig).is_ok())
    });
    let fail = |causes: Vec<String>| Error::failed_because(format!("{shown} does not match its attestation"), causes);
    if !verified {
        let ids: Vec<&str> = env.signatures.iter().map(|s| s.keyid.as_str()).collect();
        return Err(fail(vec![format!(
            "no signature of {FILE} verifies with key {id} (signatures by {}): the envelope was changed or signed by another key",
            if ids.is_empty() { "nobody".to_string() } else { ids.join(", ") }
        )]));
    }
    if env.payload_type != PAYLOAD_TYPE {
        return Err(fail(vec![format!("the payload type is `{}`, not `{PAYLOAD_TYPE}`", env.payload_type)]));
    }
    let st: Statement = serde_json::from_slice(&payload)
        .map_err(|e| fail(vec![format!("the signed payload is not an in-toto Statement: {e}")]))?;
    let mut problems = Vec::new();
    if st.type_ != STATEMENT_TYPE {
        problems.push(format!("the statement type is `{}`, not `{STATEMENT_TYPE}`", st.type_));
    }
    if st.predicate_type != PREDICATE_TYPE {
        problems.push(format!("the predicate type is `{}`, not `{PREDICATE_TYPE}`", st.predicate_type));
    }
    let mut attested = std::collections::BTreeSet::new();
    for s in &st.subject {
        attested.insert(s.name.as_str());
        let Some(want) = s.digest.get("sha256") else {
            problems.push(format!("`{}`: the statement has no sha256 for it", s.name));
            continue;
        };
        if s.name == FILE || s.name == crate::outdir::MANIFEST {
            problems.push(format!("`{}`: the attestation cannot attest this file", s.name));
            continue;
        }
        match crate::outdir::digest_at(dir, &s.name) {
            Ok(got) if got == *want => {}
            Ok(got) => problems.push(format!("`{}` differs: sha256 {want} attested, {got} now", s.name)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(format!("`{}` is missing", s.name)),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                problems.push(format!("`{}` is a symlink now, not the attested file", s.name))
            }
            Err(e) => problems.push(format!("`{}` cannot be read: {e}", s.name)),
        }
    }
    match crate::outdir::walk(dir) {
        Ok(crate::outdir::Walked { files, other }) => {
            for f in files.iter().filter(|f| *f != FILE && *f != crate::outdir::MANIFEST) {
                if !attested.contains(f.as_str()) {
                    problems.push(format!("`{f}` is not in the attestation (added since the promotion)"));
                }
            }
            for (f, what) in other.iter().filter(|(f, _)| !attested.contains(f.as_str())) {
                problems.push(format!("`{f}` is {what}, not in the attestation"));
            }
        }
        Err(e) => problems.push(format!("cannot list {shown}: {e}")),
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let predicate = serde_json::from_value(st.predicate.clone()).ok();
    Ok(Verified { key_id: id, subjects: st.subject.len(), predicate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        // The DSSE specification's example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn key_ids_are_securesystemslibs() {
        // RFC 8032's first test key; the id is what securesystemslib 1.6's
        // `SSlibKey.from_crypto` computes for it.
        let public = from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
        let key = VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
        assert_eq!(key_id(&key), "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916");
    }

    #[test]
    fn keys_round_trip_and_garbage_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (private, public, id) = generate().unwrap();
        let (k, p) = (d.path().join("k"), d.path().join("k.pub"));
        std::fs::write(&k, &private).unwrap();
        std::fs::write(&p, &public).unwrap();
        let sk = read_signing_key(&k).unwrap();
        let vk = read_verifying_key(&p).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        assert_eq!(key_id(&vk), id);
        let json =
            format!(r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{}"}}}}"#, to_hex(vk.as_bytes()));
        std::fs::write(&p, json).unwrap();
        assert_eq!(read_verifying_key(&p).unwrap(), vk);
        let cases: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN PRIVATE KEY-----\n",
            &private.as_bytes()[..private.len() / 2],
            b"{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"zz\"}}",
            b"{\"keytype\":\"rsa\"}",
            b"{",
            b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
        ];
        for c in cases {
            std::fs::write(&k, c).unwrap();
            assert!(matches!(read_signing_key(&k), Err(Error::BadInput { .. })), "{c:?}");
            assert!(matches!(read_verifying_key(&k), Err(Error::BadInput { .. })), "{c:?}");
        }
        assert!(read_signing_key(&d.path().join("missing")).is_err());
    }

    #[test]
    fn envelopes_verify_and_tampering_fails() {
        let d = tempfile::tempdir().unwrap();
        let (private, public, _) = generate().unwrap();
        std::fs::write(d.path().join("k"), private).unwrap();
        std::fs::write(d.path().join("k.pub"), public).unwrap();
        let sk = read_signing_key(&d.path().join("k")).unwrap();
        let vk = read_verifying_key(&d.path().join("k.pub")).unwrap();
        let out = d.path().join("out");
        let predicate =
            Predicate { podproof_version: "0".into(), format: "plain".into(), forced: vec![], apps: vec![] };
        let st = statement(&[("a.yaml".into(), b"a".as_slice())], &predicate);
        let files = vec![
            crate::outdir::File { name: "a.yaml".into(), text: "a".into(), secret: false },
            crate::outdir::File { name: FILE.into(), text: sign(&st, &sk), secret: false },
        ];
        crate::outdir::replace(&out, &crate::outdir::survey(&out).unwrap(), &files, false).unwrap();
        assert_eq!(verify(&out, &vk).unwrap().subjects, 1);
        // Each byte of the envelope flipped: never a panic, never a pass.
        let env = std::fs::read(out.join(FILE)).unwrap();
        for i in 0..env.len() {
            let mut bad = env.clone();
            bad[i] ^= 0x01;
            std::fs::write(out.join(FILE), &bad).unwrap();
            assert!(
                verify(&out, &vk).is_err(),
                "flipped byte {i} passed: {:?}",
                String::from_utf8_lossy(&env[i.saturating_sub(20)..(i + 20).min(env.len())])
            );
        }
        std::fs::write(out.join(FILE), &env).unwrap();
        std::fs::write(out.join("a.yaml"), "b").unwrap();
        let e = verify(&out, &vk).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.causes()[0].starts_with("`a.yaml` differs"), "{e}");
        std::fs::write(out.join("a.yaml"), "a").unwrap();
        std::fs::write(out.join("b.yaml"), "b").unwrap();
        assert!(verify(&out, &vk).unwrap_err().causes()[0].contains("`b.yaml` is not in the attestation"));
        // Truncated and garbage envelopes are bad input.
        for garbage in [&env[..env.len() / 2], b"", b"null", b"{\"payload\":1}"] {
            std::fs::write(out.join(FILE), garbage).unwrap();
            assert_eq!(verify(&out, &vk).unwrap_err().exit_code(), 2);
        }
    }
}
