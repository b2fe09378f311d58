//! Talking to a pod from inside its network namespace.
//!
//! Probes, `http` steps and HTTP reloads must reach `localhost` of the pod
//! without curl or nc in the image. A network namespace is per thread on
//! Linux, so a short-lived thread joins the pod's namespace (through its infra
//! process) and makes the connection there; the rest of podproof is untouched.
//! Under rootless podman the namespace belongs to podman's user namespace,
//! which podproof cannot enter itself, so a pooled helper started with
//! `podman unshare` does the same work there (see `helper`).

use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// Runs `f` on a thread inside the network namespace of process `pid`
/// (0 means the host's own namespace).
fn within<T: Send + 'static>(pid: i64, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    std::thread::spawn(move || {
        if pid > 0 {
            let path = format!("/proc/{pid}/ns/net");
            let file = std::fs::File::open(&path)?;
            // setns changes only this thread's namespace.
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
        }
        f()
    })
    .join()
    .map_err(|_| io::Error::other("network namespace thread panicked"))?
}

/// One thing to do inside a pod's network namespace. It is data, not a
/// closure, so that a helper process can do it when this one may not enter
/// the namespace (rootless podman).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Tcp {
        host: String,
        port: u16,
        timeout_ms: u64,
    },
    Http {
        method: String,
        url: Url,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        timeout_ms: u64,
    },
    Dns {
        server: Ipv4Addr,
        name: String,
        timeout_ms: u64,
    },
    /// A grpc.health.v1 Check of `service` at `host:port`.
    Grpc {
        host: String,
        port: u16,
        service: String,
        timeout_ms: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Connected,
    Http(Response),
    Dns(Vec<Ipv4Addr>),
    Grpc(crate::probeclient::Health),
}

/// Does `req` in the calling thread's namespace.
fn execute(req: Request) -> io::Result<Reply> {
    match req {
        Request::Tcp { host, port, timeout_ms } => {
            let addr = resolve(&host, port)?;
            TcpStream::connect_timeout(&addr, Duration::from_millis(timeout_ms)).map(|_| Reply::Connected)
        }
        Request::Http { method, url, headers, body, timeout_ms } => {
            let timeout = Duration::from_millis(timeout_ms);
            let addr = resolve(&url.host, url.port)?;
            let mut s = TcpStream::connect_timeout(&addr, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            let mut req = format!(
                "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nUser-Agent: podproof\r\n",
                url.path, url.host, url.port
            );
            for (k, v) in &headers {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let mut bytes = req.into_bytes();
            bytes.extend_from_slice(&body);
            let raw = if url.tls {
                crate::probeclient::https_exchange(s, &url.host, &bytes)?
            } else {
                s.write_all(&bytes)?;
                let mut raw = Vec::new();
                s.read_to_end(&mut raw)?;
                raw
            };
            parse_response(&raw).map(Reply::Http).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        Request::Grpc { host, port, service, timeout_ms } => {
            let timeout = Duration::from_millis(timeout_ms);
            let addr = resolve(&host, port)?;
            let s = TcpStream::connect_timeout(&addr, timeout)?;
            let authority = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            crate::probeclient::grpc_health(s, &authority, &service, timeout).map(Reply::Grpc)
        }
        Request::Dns { server, name, timeout_ms } => {
            let sock = UdpSocket::bind("0.0.0.0:0")?;
            sock.set_read_timeout(Some(Duration::from_millis(timeout_ms)))?;
            sock.send_to(&dns_query(&name), (server, 53))?;
            let mut buf = [0u8; 1500];
            let n = sock.recv(&mut buf)?;
            Ok(Reply::Dns(parse_dns_a(&buf[..n])))
        }
    }
}

/// Does `req` inside the network namespace of `pid`: on a thread of this
/// process when it may enter the namespace, else through a helper.
fn call(pid: i64, req: Request) -> io::Result<Reply> {
    if pid > 0 && helper::needed() {
        helper::call(pid, req)
    } else {
        within(pid, move || execute(req))
    }
}

/// Opens and closes a TCP connection to `host:port` inside the namespace.
pub fn tcp_check(pid: i64, host: &str, port: u16, timeout: Duration) -> io::Result<()> {
    call(pid, Request::Tcp { host: host.to_string(), port, timeout_ms: millis(timeout) }).map(|_| ())
}

/// Sends one HTTP/1.1 request inside the namespace of `pid`.
pub fn http(
    pid: i64,
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let req = Request::Http {
        method: method.to_string(),
        url: url.clone(),
        headers: headers.to_vec(),
        body: body.to_vec(),
        timeout_ms: millis(timeout),
    };
    match call(pid, req)? {
        Reply::Http(r) => Ok(r),
        other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
    }
}

/// Runs a grpc.health.v1 Check of `service` at `host:port` inside the
/// namespace of `pid`.
pub fn grpc_health(
    pid: i64,
    host: &str,
    port: u16,
    service: &str,
    timeout: Duration,
) -> io::Result<crate::probeclient::Health> {
    let req = Request::Grpc { host: host.to_string(), port, service: service.to_string(), timeout_ms: millis(timeout) };
    match call(pid, req)? {
        Reply::Grpc(h) => Ok(h),
        other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
    }
}

/// Asks the DNS server at `server` (port 53) for the A records of `name`, from
/// inside the network namespace of `pid`. Returns the addresses (empty for
/// NXDOMAIN or no answer).
pub fn dns_a(pid: i64, server: Ipv4Addr, name: &str, timeout: Duration) -> io::Result<Vec<Ipv4Addr>> {
    match call(pid, Request::Dns { server, name: name.to_string(), timeout_ms: millis(timeout) })? {
        Reply::Dns(a) => Ok(a),
        other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// The helper for rootless podman. A pod's network namespace then belongs to
/// podman's user namespace, and setns needs CAP_SYS_ADMIN there, which only a
/// process inside it has. `podman unshare podproof __netns` is such a process:
/// it reads one JSON request per line and answers one JSON line each. Helpers
/// are pooled so that a readiness poll does not pay podman's start-up each
/// time; each exits when its stdin closes, which happens when podproof exits
/// for any reason, so none outlives a run.
mod helper {
    use super::*;
    use std::sync::Mutex;

    #[derive(Serialize, Deserialize)]
    struct Envelope {
        pid: i64,
        req: Request,
    }

    #[derive(Serialize, Deserialize)]
    enum Answer {
        Ok(Reply),
        Err { kind: String, message: String },
    }

    struct Helper {
        child: std::process::Child,
        stdin: std::process::ChildStdin,
        stdout: io::BufReader<std::process::ChildStdout>,
    }

    static POOL: Mutex<Vec<Helper>> = Mutex::new(Vec::new());

    /// Whether this process needs a helper: it is not root, so the pods'
    /// namespaces belong to rootless podman's user namespace.
    pub fn needed() -> bool {
        crate::host::rootless_user()
    }

    pub fn call(pid: i64, req: Request) -> io::Result<Reply> {
        let taken = POOL.lock().map_err(|_| io::Error::other("netns helper pool poisoned"))?.pop();
        let mut h = match taken {
            Some(h) => h,
            None => spawn()?,
        };
        let answer = ask(&mut h, &Envelope { pid, req });
        match answer {
            Ok(a) => {
                if let Ok(mut pool) = POOL.lock() {
                    pool.push(h);
                }
                match a {
                    Answer::Ok(r) => Ok(r),
                    Answer::Err { kind, message } => Err(io::Error::new(kind_of(&kind), message)),
                }
            }
            Err(e) => {
                let _ = h.child.kill();
                let _ = h.child.wait();
                Err(e)
            }
        }
    }

    fn spawn() -> io::Result<Helper> {
        let exe = std::env::current_exe()?;
        let mut child = crate::podman::unshare_helper(&exe, "__netns")?;
        let stdin = child.stdin.take().ok_or_else(|| io::Error::other("helper has no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| io::Error::other("helper has no stdout"))?;
        Ok(Helper { child, stdin, stdout: io::BufReader::new(stdout) })
    }

    fn ask(h: &mut Helper, env: &Envelope) -> io::Result<Answer> {
        let mut line = serde_json::to_string(env).map_err(io::Error::other)?;
        line.push('\n');
        h.stdin.write_all(line.as_bytes())?;
        h.stdin.flush()?;
        let mut answer = String::new();
        if h.stdout.read_line(&mut answer)? == 0 {
            return Err(io::Error::other(
                "the rootless network helper (`podman unshare podproof __netns`) exited; run `podproof doctor`",
            ));
        }
        serde_json::from_str(&answer).map_err(io::Error::other)
    }

    fn kind_of(kind: &str) -> io::ErrorKind {
        use io::ErrorKind::*;
        [
            ConnectionRefused,
            ConnectionReset,
            TimedOut,
            WouldBlock,
            NotFound,
            InvalidData,
            UnexpectedEof,
            PermissionDenied,
        ]
        .into_iter()
        .find(|k| format!("{k:?}") == kind)
        .unwrap_or(Other)
    }

    /// The helper's side: answers requests until stdin closes.
    pub fn serve(input: impl BufRead, mut output: impl Write) -> io::Result<()> {
        for line in input.lines() {
            let line = line?;
            let answer = match serde_json::from_str::<Envelope>(&line) {
                Ok(Envelope { pid, req }) => match within(pid, move || execute(req)) {
                    Ok(r) => Answer::Ok(r),
                    Err(e) => Answer::Err { kind: format!("{:?}", e.kind()), message: e.to_string() },
                },
                Err(e) => Answer::Err { kind: "InvalidData".into(), message: format!("bad request: {e}") },
            };
            let mut out = serde_json::to_string(&answer).map_err(io::Error::other)?;
            out.push('\n');
            output.write_all(out.as_bytes())?;
            output.flush()?;
        }
        Ok(())
    }
}

pub use helper::serve;

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let h = if host.is_empty() || host == "localhost" { "127.0.0.1" } else { host };
    (h, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve {h}")))
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A parsed `http://host:port/path` (or `https://`) URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
    /// HTTPS: TLS without verifying the server's certificate, as the kubelet's probes.
    #[serde(default)]
    pub tls: bool,
}

impl Url {
    /// `http` or `https`, for messages.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

pub fn parse_url(url: &str) -> Result<Url, String> {
    let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => return Err(format!("`{url}`: only http:// and https:// URLs are supported")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| format!("`{url}`: bad port `{p}`"))?),
        None => (authority.to_string(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(format!("`{url}`: missing host"));
    }
    Ok(Url { host, port, path, tls })
}

/// Parses a complete HTTP/1.x response (with Content-Length, chunked, or close-delimited body).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("incomplete HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let nl = data.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size_str = String::from_utf8_lossy(&data[..nl]);
        let size =
            usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16).map_err(|_| "bad chunk size")?;
        data = &data[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expect: &str) {
        let got = match parse_response(raw.as_bytes()) {
            Ok(r) => format!("{} {:?}", r.status, r.body_text()),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn responses() {
        check("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "200 \"hi\"");
        check(
            "HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            "500 \"abcde\"",
        );
        check("HTTP/1.0 204 No Content\r\n\r\n", "204 \"\"");
        check("garbage", "error: incomplete HTTP response");
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://localhost:9090/-/reload").unwrap(),
            Url { host: "localhost".into(), port: 9090, path: "/-/reload".into(), tls: false }
        );
        assert_eq!(parse_url("http://x").unwrap().port, 80);
        assert_eq!(parse_url("https://x").unwrap().port, 443);
        assert!(parse_url("https://x").unwrap().tls);
        assert!(parse_url("ftp://x").is_err());
    }

    #[test]
    fn the_helper_answers_one_line_per_request() {
        // A port that was just free is closed: the request is refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let input = format!(
            "{{\"pid\":0,\"req\":{{\"Tcp\":{{\"host\":\"127.0.0.1\",\"port\":{closed},\"timeout_ms\":500}}}}}}\nnot json\n"
        );
        let mut out = Vec::new();
        serve(input.as_bytes(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with(r#"{"Err":{"kind":"ConnectionRefused""#), "{out}");
        assert!(lines[1].contains("bad request"), "{out}");
    }

    #[test]
    fn talks_http_on_the_host_namespace() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        });
        let url = parse_url(&format!("http://127.0.0.1:{port}/")).unwrap();
        let r = http(0, "GET", &url, &[], b"", Duration::from_secs(2)).unwrap();
        assert_eq!((r.status, r.body_text().as_str()), (200, "hello"));
    }
}

/// A DNS query packet for the A record of `name` (id 0x5050, recursion desired).
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x50, 0x50, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The A records in a DNS answer (a tolerant parser: anything odd yields none).
fn parse_dns_a(p: &[u8]) -> Vec<std::net::Ipv4Addr> {
    let mut out = Vec::new();
    if p.len() < 12 {
        return out;
    }
    let qd = u16::from_be_bytes([p[4], p[5]]) as usize;
    let an = u16::from_be_bytes([p[6], p[7]]) as usize;
    let mut i = 12;
    let skip_name = |mut i: usize| -> Option<usize> {
        loop {
            let l = *p.get(i)? as usize;
            if l == 0 {
                return Some(i + 1);
            }
            if l & 0xc0 == 0xc0 {
                return Some(i + 2);
            }
            i += l + 1;
        }
    };
    for _ in 0..qd {
        match skip_name(i) {
            Some(j) => i = j + 4,
            None => return out,
        }
    }
    for _ in 0..an {
        let Some(j) = skip_name(i) else { return out };
        let Some(h) = p.get(j..j + 10) else { return out };
        let (typ, len) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[8], h[9]]) as usize);
        let Some(data) = p.get(j + 10..j + 10 + len) else { return out };
        if typ == 1 && len == 4 {
            out.push(std::net::Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        i = j + 10 + len;
    }
    out
}

#[cfg(test)]
mod dns_tests {
    #[test]
    fn parses_an_answer() {
        let mut p = super::dns_query("a.dns.podman");
        p[2] = 0x81;
        p[3] = 0x80;
        p[7] = 1;
        p.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 89, 1, 7]);
        assert_eq!(super::parse_dns_a(&p), vec![std::net::Ipv4Addr::new(10, 89, 1, 7)]);
        assert!(super::parse_dns_a(&[1, 2, 3]).is_empty());
    }
}
