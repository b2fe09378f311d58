//! TLS: a CA made for each environment (rcgen), the API's serving
//! certificate signed by it, and the rustls configuration that serves it
//! over HTTP/2 and HTTP/1.1. The CA's key never leaves the state directory;
//! every key file is written mode 0600.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The CA and the serving certificate of one environment.
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// The DNS names the serving certificate is valid for, besides the addresses:
/// what in-pod clients use for the `kubernetes` Service, and localhost.
const NAMES: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

fn err(e: rcgen::Error) -> std::io::Error {
    std::io::Error::other(format!("cannot make the API's certificates: {e}"))
}

/// Makes a new CA and a serving certificate for `addresses` (and the
/// `kubernetes` Service's names), valid from yesterday for a year.
pub fn make(addresses: &[IpAddr]) -> std::io::Result<Credentials> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let now = jiff::Zoned::now();
    let (y, m, d) = (now.year() as i32, now.month() as u8, now.day() as u8);
    let start = rcgen::date_time_ymd(y - 1, m, d.min(28));
    let end = rcgen::date_time_ymd(y + 1, m, d.min(28));

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "podproof-ca");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = start;
    ca.not_after = end;
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).map_err(err)?;

    let key = KeyPair::generate().map_err(err)?;
    let mut sp = CertificateParams::new(NAMES.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(err)?;
    for a in addresses {
        sp.subject_alt_names.push(SanType::IpAddress(*a));
    }
    // The `kubernetes` Service's ClusterIP, so in-pod clients can use it.
    sp.subject_alt_names.push(SanType::IpAddress(IpAddr::from([10, 96, 0, 1])));
    sp.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    sp.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    sp.not_before = start;
    sp.not_after = end;
    let cert = sp.signed_by(&key, &issuer).map_err(err)?;
    Ok(Credentials { ca_pem: issuer.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Writes `bytes` to `path`, mode 0600 from the start (never readable by others, not even briefly).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Where an environment keeps its credentials, below its state directory.
pub fn paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    (dir.join("ca.crt"), dir.join("apiserver.crt"), dir.join("apiserver.key"), dir.join("token"))
}

/// The rustls server configuration: HTTP/2 first, HTTP/1.1 for WebSocket
/// upgrades (exec, attach, port-forward) and older clients.
pub fn server_config(creds: &Credentials) -> std::io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: String| std::io::Error::other(format!("cannot load the API's certificate: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(creds.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(creds.key_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    // ring rather than aws-lc-rs: it builds without cmake and a C toolchain
    // of its own. rustls 0.23.48 deprecates it for lacking post-quantum key
    // exchange, which a per-environment CA on loopback does not need yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_load_into_rustls() {
        let c = make(&[IpAddr::from([127, 0, 0, 1])]).unwrap();
        assert!(c.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(c.key_pem.contains("PRIVATE KEY"));
        server_config(&c).unwrap();
    }

    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        write_private(&p, b"x").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
