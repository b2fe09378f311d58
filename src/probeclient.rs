//! The two probe transports that are more than a TCP connection: HTTPS as the
//! kubelet's prober speaks it (TLS that does not verify the server's
//! certificate: `InsecureSkipVerify` in pkg/probe/http), and the gRPC health
//! check (`grpc.health.v1.Health/Check` over plaintext HTTP/2, as
//! pkg/probe/grpc dials it). Both run on a socket that `netns` opened inside
//! the pod's network namespace, so they work on a thread of podproof and in
//! the rootless helper alike.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// A certificate verifier that accepts any certificate, as the kubelet's
/// HTTPS probes do. Handshake signatures are still checked, so the session is
/// a real TLS session with whoever answered; only who that is goes unchecked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ring's provider is deprecated only for lacking post-quantum key exchange;
// aws-lc-rs would add a C build with cmake for a probe that does not even
// check who answers.
#[allow(deprecated)]
fn tls_config() -> io::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Sends `request` over TLS on `stream` and reads the whole answer (the
/// request asks the server to close the connection).
pub fn https_exchange(stream: TcpStream, host: &str, request: &[u8]) -> io::Result<Vec<u8>> {
    // An IP address is sent as no SNI at all, as Go's TLS client does.
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("TLS server name `{host}`: {e}")))?;
    let conn = rustls::ClientConnection::new(tls_config()?, name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    tls.write_all(request)?;
    tls.flush()?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        // Servers that close without close_notify are common; what arrived counts.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => Ok(raw),
        Err(e) => Err(e),
    }
}

/// grpc.health.v1.HealthCheckResponse.ServingStatus, by number.
pub fn serving_status_name(n: u64) -> &'static str {
    match n {
        0 => "UNKNOWN",
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "an unknown status",
    }
}

/// What a health check answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Health {
    /// The RPC returned this serving status.
    Status(u64),
    /// The RPC failed with this gRPC status code and message.
    RpcError(u32, String),
}

/// The protobuf encoding of HealthCheckRequest{service}: field 1, a string.
fn health_request(service: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    if !service.is_empty() {
        msg.push(0x0a);
        put_varint(&mut msg, service.len() as u64);
        msg.extend_from_slice(service.as_bytes());
    }
    // A gRPC message: uncompressed flag, 4-byte big-endian length, the message.
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    framed.extend_from_slice(&msg);
    framed
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn varint(data: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for (i, b) in data.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

/// The serving status in a framed HealthCheckResponse (field 1, an enum; 0
/// when absent, as proto3 omits defaults). Unknown fields are skipped.
fn health_status(framed: &[u8]) -> Result<u64, String> {
    if framed.len() < 5 {
        return Err("short gRPC message".into());
    }
    if framed[0] != 0 {
        return Err("compressed gRPC message".into());
    }
    let len = u32::from_be_bytes([framed[1], framed[2], framed[3], framed[4]]) as usize;
    let mut msg = framed.get(5..5 + len).ok_or("truncated gRPC message")?;
    let mut status = 0;
    while !msg.is_empty() {
        let (key, n) = varint(msg).ok_or("bad protobuf key")?;
        msg = &msg[n..];
        match key & 7 {
            0 => {
                let (v, n) = varint(msg).ok_or("bad protobuf varint")?;
                msg = &msg[n..];
                if key >> 3 == 1 {
                    status = v;
                }
            }
            2 => {
                let (l, n) = varint(msg).ok_or("bad protobuf length")?;
                let end = n.checked_add(l as usize).filter(|e| *e <= msg.len()).ok_or("truncated protobuf field")?;
                msg = &msg[end..];
            }
            1 => msg = msg.get(8..).ok_or("truncated protobuf field")?,
            5 => msg = msg.get(4..).ok_or("truncated protobuf field")?,
            _ => return Err("unknown protobuf wire type".into()),
        }
    }
    Ok(status)
}

/// Runs one grpc.health.v1 Check on `stream` (plaintext HTTP/2), as the
/// kubelet's gRPC probe does; `timeout` bounds the whole call.
pub fn grpc_health(stream: TcpStream, authority: &str, service: &str, timeout: Duration) -> io::Result<Health> {
    stream.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let authority = authority.to_string();
    let service = service.to_string();
    rt.block_on(async move {
        match tokio::time::timeout(timeout, check(stream, &authority, &service)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "health rpc did not complete in time")),
        }
    })
}

async fn check(stream: TcpStream, authority: &str, service: &str) -> io::Result<Health> {
    let h2err = |e: h2::Error| io::Error::other(e.to_string());
    let tcp = tokio::net::TcpStream::from_std(stream)?;
    let (client, conn) = h2::client::handshake(tcp).await.map_err(h2err)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.map_err(h2err)?;
    let req = http::Request::post(format!("http://{authority}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "podproof")
        .body(())
        .map_err(io::Error::other)?;
    let (resp, mut send) = client.send_request(req, false).map_err(h2err)?;
    send.send_data(health_request(service).into(), true).map_err(h2err)?;
    let resp = resp.await.map_err(h2err)?;
    if resp.status() != http::StatusCode::OK {
        return Err(io::Error::other(format!("HTTP status {}", resp.status())));
    }
    // A "trailers-only" answer carries grpc-status in the headers.
    let status_of = |h: &http::HeaderMap| -> Option<(u32, String)> {
        let code = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        let msg = h.get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        Some((code, msg))
    };
    if let Some((code, msg)) = status_of(resp.headers()) {
        if code != 0 {
            return Ok(Health::RpcError(code, msg));
        }
    }
    let mut body = resp.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(h2err)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
        if data.len() > 1 << 20 {
            return Err(io::Error::other("health answer over 1 MiB"));
        }
    }
    if let Some(trailers) = body.trailers().await.map_err(h2err)? {
        if let Some((code, msg)) = status_of(&trailers) {
            if code != 0 {
                return Ok(Health::RpcError(code, msg));
            }
        }
    }
    health_status(&data).map(Health::Status).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_messages_round_trip() {
        assert_eq!(health_request(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(health_request("db"), vec![0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']);
        assert_eq!(health_status(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
        assert_eq!(health_status(&[0, 0, 0, 0, 0]), Ok(0));
        // An unknown length-delimited field before the status is skipped.
        assert_eq!(health_status(&[0, 0, 0, 0, 5, 0x12, 1, b'x', 0x08, 2]), Ok(2));
        assert!(health_status(&[0, 0, 0, 0, 9, 0x08]).is_err());
        assert!(health_status(&[1, 0, 0, 0, 0]).is_err());
        assert!(health_status(&[0, 0, 0, 0, 2, 0x12, 200]).is_err());
    }
}
