//! `promote --attest KEY` and `podproof verify`: an in-toto Statement in a
//! DSSE envelope, checked by podproof and by implementations that are not
//! podproof's (securesystemslib and in-toto, from PyPI, in target/attest-venv).

use super::{promote, tested_project};
use crate::common::{root, tempdir, Test};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of target/attest-venv with securesystemslib and in-toto, made
/// as `scripts/setup.sh tools` makes it (from tests/promote/attest-requirements.txt)
/// when it is missing. Skips (None) only where it cannot be made and
/// PODPROOF_REQUIRE_PODMAN is not set, as the helm tests skip without helm.
fn attest_python(test: &str) -> Option<PathBuf> {
    let venv = root().join("target/attest-venv");
    let python = venv.join("bin/python");
    let ready = || {
        Command::new(&python)
            .args(["-c", "import securesystemslib.dsse, in_toto.models.metadata, cryptography"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready() {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "-r"])
                .arg(root().join("tests/promote/attest-requirements.txt"))
                .status()
                .is_ok_and(|s| s.success());
        if !made || !ready() {
            let why = format!("{} could not be made with securesystemslib and in-toto", venv.display());
            assert!(
                std::env::var_os("PODPROOF_REQUIRE_PODMAN").is_none_or(|v| v != "1"),
                "{test} needs {why} and PODPROOF_REQUIRE_PODMAN=1 is set"
            );
            eprintln!("skipped {test}: {why}");
            return None;
        }
    }
    Some(python)
}

/// The independent verifier's verdict on a directory: its exit code and output.
fn python_verify(python: &Path, dir: &Path, public: &Path) -> (i32, String) {
    let out = Command::new(python)
        .arg(root().join("tests/promote/verify_attestation.py"))
        .arg(dir)
        .arg(public)
        .output()
        .expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn verify(dir: &Path, out: &str, public: &str) -> Test {
    Test::new().current_dir(dir).args(["verify", out, "--key", public])
}

/// The Statement inside a directory's envelope.
fn statement(out: &Path) -> serde_json::Value {
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("podproof.intoto.jsonl")).unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let payload = base64::engine::general_purpose::STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Flips one bit of a byte of a file.
fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_attestation_verifies_with_podproof_securesystemslib_and_in_toto_and_fails_on_a_flipped_byte() {
    let test = "the attestation round trip";
    let dir = tested_project(true);
    Test::new().current_dir(dir.path()).args(["keygen", "promote.key"]).stdout_contains("key id ").run();
    let run = promote(dir.path()).args(["app", "--out", "out", "--attest", "promote.key"]).run();
    run.assert_stdout_contains("attested 6 files in out/podproof.intoto.jsonl (key ");
    let out = dir.path().join("out");

    // What the Statement binds: every promoted file, and the record's evidence.
    let st = statement(&out);
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://podproof.dev/attestation/promotion/v1");
    let names: Vec<&str> = st["subject"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "README.md",
            "configmap-tiny-web-config.yaml",
            "deployment-tiny-web.yaml",
            "secret-tiny-web-secret.yaml",
            "service-tiny-web-http.yaml",
            "service-tiny-web.yaml"
        ]
    );
    for s in st["subject"].as_array().unwrap() {
        let bytes = std::fs::read(out.join(s["name"].as_str().unwrap())).unwrap();
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s["digest"]["sha256"].as_str(), Some(digest.as_str()));
    }
    let (record_name, record) = std::fs::read_dir(dir.path().join(".podproof/records"))
        .unwrap()
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            (e.file_name().to_string_lossy().to_string(), serde_json::from_str::<serde_json::Value>(&text).unwrap())
        })
        .next()
        .unwrap();
    let p = &st["predicate"];
    assert_eq!(p["podproofVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["format"], "plain");
    assert_eq!(p["forced"], serde_json::json!([]));
    let app = &p["apps"][0];
    assert_eq!(app["name"], "tiny");
    assert_eq!(app["inputs"], record["apps"][0]["inputs"]);
    let r = &app["record"];
    assert_eq!(r["file"], record_name.as_str());
    assert_eq!(r["renderedSha256"], record["apps"][0]["rendered_sha256"]);
    assert_eq!(app["testedDigest"], format!("sha256:{}", record["apps"][0]["rendered_sha256"].as_str().unwrap()));
    assert_eq!(r["podmanVersion"], record["podman_version"]);
    assert_eq!(r["images"], record["apps"][0]["images"]);
    assert_eq!(r["tests"][0]["name"], "tiny");
    assert_eq!(r["tests"][0]["outcome"], "passed");
    assert_eq!(r["tests"][0]["steps"][0]["outcome"], "passed");
    // The Secret's file is a subject by its digest; its value is nowhere in the attestation.
    let envelope = std::fs::read_to_string(out.join("podproof.intoto.jsonl")).unwrap();
    let text = format!("{envelope}{st}");
    for secret in ["tiny-secret-value", "dGlueS1zZWNyZXQtdmFsdWU="] {
        assert!(!text.contains(secret), "the attestation holds a Secret value");
    }

    verify(dir.path(), "out", "promote.key.pub")
        .stdout_contains("verified out: 6 files match the attestation signed by key ")
        .stdout_contains("app tiny: sha256:")
        .stdout_contains(format!("(record {record_name}: 1 of 1 tests passed on podman "))
        .run();
    let Some(python) = attest_python(test) else { return };
    let public = dir.path().join("promote.key.pub");
    let (code, said) = python_verify(&python, &out, &public);
    assert_eq!((code, said.trim()), (0, "ok 6"), "securesystemslib and in-toto refuse podproof's attestation");

    // A flipped byte in a promoted file: both refuse, podproof names the file.
    let copy = |name: &str| {
        let to = dir.path().join(name);
        super::copy_dir(&out, &to);
        to
    };
    let tampered = copy("tampered-file");
    flip(&tampered.join("deployment-tiny-web.yaml"), 100);
    verify(dir.path(), "tampered-file", "promote.key.pub")
        .expect_status(1)
        .stderr_contains("error: tampered-file does not match its attestation")
        .stderr_contains("`deployment-tiny-web.yaml` differs: sha256 ")
        .run();
    let (code, said) = python_verify(&python, &tampered, &public);
    assert_eq!(code, 1, "the independent verifier passed a flipped byte in a file: {said}");
    assert!(said.contains("deployment-tiny-web.yaml"), "{said}");

    // A flipped byte in the envelope's payload and in its signature: both refuse.
    for (case, field) in [("tampered-payload", "\"payload\":\""), ("tampered-signature", "\"sig\":\"")] {
        let tampered = copy(case);
        let path = tampered.join("podproof.intoto.jsonl");
        let at = std::fs::read_to_string(&path).unwrap().find(field).unwrap() + field.len() + 20;
        // A base64 letter for another: the envelope still parses and decodes;
        // only the signature can tell.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        std::fs::write(&path, bytes).unwrap();
        verify(dir.path(), case, "promote.key.pub")
            .expect_status(1)
            .stderr_contains("no signature of podproof.intoto.jsonl verifies with key")
            .run();
        let (code, said) = python_verify(&python, &tampered, &public);
        assert_eq!(code, 1, "the independent verifier passed a flipped byte in the envelope ({case}): {said}");
        assert!(said.contains("VerificationError"), "{said}");
    }

    // A file added beside the attested ones would be applied with them: refused.
    let added = copy("added");
    std::fs::write(added.join("extra.yaml"), "kind: ConfigMap\n").unwrap();
    verify(dir.path(), "added", "promote.key.pub")
        .expect_status(1)
        .stderr_contains("`extra.yaml` is not in the attestation")
        .run();
    assert_eq!(python_verify(&python, &added, &public).0, 1);

    // Another key's public half: no signature verifies.
    Test::new().current_dir(dir.path()).args(["keygen", "other.key"]).run();
    verify(dir.path(), "out", "other.key.pub").expect_status(1).stderr_contains("signed by another key").run();
}

/// A key from `openssl genpkey`, as docs/promotion.md shows it, signs and verifies.
#[test]
fn an_openssl_key_signs_and_its_public_half_verifies() {
    let test = "the openssl key";
    let Ok(openssl) = which("openssl") else {
        assert!(std::env::var_os("PODPROOF_REQUIRE_PODMAN").is_none_or(|v| v != "1"), "{test} needs openssl");
        eprintln!("skipped {test}: openssl is not installed");
        return;
    };
    let dir = tested_project(true);
    let run = |args: &[&str]| Test::new().program(&openssl).current_dir(dir.path()).args(args).run();
    run(&["genpkey", "-algorithm", "ed25519", "-out", "k.pem"]);
    run(&["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"]);
    promote(dir.path()).args(["app", "--out", "out", "--attest", "k.pem", "--format", "helm"]).run();
    verify(dir.path(), "out", "k.pub").stdout_contains("verified out: 8 files match").run();
    if let Some(python) = attest_python(test) {
        let (code, said) = python_verify(&python, &dir.path().join("out"), &dir.path().join("k.pub"));
        assert_eq!((code, said.trim()), (0, "ok 8"));
    }
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// Truncated keys and envelopes, garbage and the wrong half of a key: exit 2
/// with a clear error, never a panic.
#[test]
fn bad_keys_and_envelopes_exit_2_without_a_panic() {
    let dir = tested_project(true);
    Test::new().current_dir(dir.path()).args(["keygen", "k"]).run();
    let private = std::fs::read_to_string(dir.path().join("k")).unwrap();
    let public = std::fs::read_to_string(dir.path().join("k.pub")).unwrap();
    promote(dir.path()).args(["app", "--out", "out", "--attest", "k"]).run();
    let bad: &[(&str, &[u8], &str)] = &[
        ("truncated.pem", &private.as_bytes()[..private.len() / 2], "not an ed25519 PKCS#8 private key"),
        ("garbage.pem", b"\x00\xff garbage", "it is not text"),
        ("empty.pem", b"", "not a PEM private key"),
        ("public.pem", public.as_bytes(), "it is a public key: --attest signs"),
        (
            "ssh.pem",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "an OpenSSH key",
        ),
        (
            "encrypted.pem",
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "it is encrypted",
        ),
    ];
    for (name, bytes, message) in bad {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        promote(dir.path())
            .args(["app", "--out", "elsewhere", "--attest", name])
            .expect_status(2)
            .stderr_contains(*message)
            .stderr_lacks("panicked")
            .run();
    }
    assert!(!dir.path().join("elsewhere").exists(), "a bad key wrote files");
    std::fs::write(dir.path().join("short.pub"), &public.as_bytes()[..public.len() - 30]).unwrap();
    std::fs::write(dir.path().join("json.pub"), r#"{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00"}}"#)
        .unwrap();
    for (key, message) in [
        ("k", "it is a private key: verify takes the public key"),
        ("short.pub", "not an ed25519 public key"),
        ("json.pub", "keyval.public is not 32 bytes"),
        ("garbage.pem", "it is not text"),
        ("missing.pub", "cannot use the key missing.pub"),
    ] {
        verify(dir.path(), "out", key).expect_status(2).stderr_contains(message).stderr_lacks("panicked").run();
    }
    // Truncated, empty and garbage envelopes; a directory without one.
    let envelope = std::fs::read(dir.path().join("out/podproof.intoto.jsonl")).unwrap();
    for (case, bytes) in [
        ("truncated", &envelope[..envelope.len() / 2]),
        ("empty", b"".as_slice()),
        ("garbage", b"\xff\x00{]".as_slice()),
        ("not-an-envelope", br#"{"payloadType":"x","payload":"!!","signatures":[]}"#.as_slice()),
    ] {
        let out = dir.path().join(case);
        super::copy_dir(&dir.path().join("out"), &out);
        std::fs::write(out.join("podproof.intoto.jsonl"), bytes).unwrap();
        verify(dir.path(), case, "k.pub")
            .expect_status(2)
            .stderr_contains(format!("error: cannot verify {case}"))
            .stderr_lacks("panicked")
            .run();
    }
    promote(dir.path()).args(["app", "--out", "plain"]).run();
    verify(dir.path(), "plain", "k.pub").expect_status(2).stderr_contains("it has no attestation").run();
    verify(dir.path(), "nowhere", "k.pub").expect_status(2).run();
    // keygen never overwrites a key.
    Test::new().current_dir(dir.path()).args(["keygen", "k"]).expect_status(2).stderr_contains("exists already").run();
    assert_eq!(std::fs::read_to_string(dir.path().join("k")).unwrap(), private);
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads() {
    let dir = tempdir();
    Test::new()
        .current_dir(dir.path())
        .args(["keygen", "k"])
        .stdout_contains("wrote k (private, mode 0600) and k.pub")
        .run();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("k")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(dir.path().join("k")).unwrap().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(std::fs::read_to_string(dir.path().join("k.pub")).unwrap().starts_with("-----BEGIN PUBLIC KEY-----\n"));
    Test::new().args(["verify", "--help"]).stdout_contains("Examples:\n  podproof verify").run();
    Test::new().args(["keygen", "--help"]).stdout_contains("openssl genpkey -algorithm ed25519").run();
}

/// The attestation binds what the record keeps of an image the test built:
/// its context digest, its image ID (as podman has it), and the image the
/// promoted manifests name instead. Builds one small image, under its own tag,
/// and removes it.
#[test]
fn an_attestation_binds_the_built_image_its_context_and_its_id() {
    if !crate::common::podman_or_skip("the attested built image") {
        return;
    }
    let tag = format!("localhost/ppattest/web:{}", std::process::id());
    let dir = super::project();
    let p = dir.path();
    std::fs::create_dir_all(p.join("image")).unwrap();
    std::fs::write(p.join("image/Containerfile"), "FROM localhost/podproof/busybox:latest\nRUN mkdir /www\n").unwrap();
    std::fs::write(
        p.join("app/built.yaml"),
        std::fs::read_to_string(p.join("app/app.yaml"))
            .unwrap()
            .replace("image: localhost/podproof/busybox:1", &format!("image: {tag}"))
            .replace("name: tiny", "name: built"),
    )
    .unwrap();
    std::fs::write(
        p.join("tests/built.yaml"),
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: built}}\nspec:\n  apps: [../app/built.yaml]\n  images:\n    - {{tag: \"{tag}\", context: ../image}}\n  steps:\n    - script: {{command: [\"true\"]}}\n"
        ),
    )
    .unwrap();
    let rmi = || {
        let _ = Command::new("podman").args(["rmi", "-f", &tag]).output();
    };
    rmi();
    Test::new().current_dir(p).args(["test", "tests/built.yaml"]).stderr_contains("building image").run();
    Test::new().current_dir(p).args(["keygen", "k"]).run();
    let run = promote(p)
        .args(["app/built.yaml", "--out", "out", "--attest", "k", "--image-map"])
        .arg(format!("{tag}=registry.example.com/ppattest/web:1"))
        .output();
    let id = Command::new("podman").args(["image", "inspect", "--format", "{{.Id}}", &tag]).output().unwrap();
    rmi();
    assert_eq!(run.status, 0, "{run}");
    let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    let record: serde_json::Value = std::fs::read_dir(p.join(".podproof/records"))
        .unwrap()
        .flatten()
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .next()
        .unwrap();
    let image = &statement(&p.join("out"))["predicate"]["apps"][0]["record"]["images"][0];
    assert_eq!(image["tag"].as_str(), Some(tag.as_str()));
    assert_eq!(image["promotedAs"], "registry.example.com/ppattest/web:1");
    assert_eq!(image["context"], "image");
    assert_eq!(image["contextSha256"], record["apps"][0]["images"][0]["context_sha256"]);
    assert!(
        !id.is_empty() && image["imageId"].as_str().is_some_and(|i| i.ends_with(&id) || id.ends_with(i)),
        "{image} vs {id}"
    );
    verify(p, "out", "k.pub").run();
}
