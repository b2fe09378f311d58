//! Talking to a pod from inside its network namespace.
//!
//! Probes, `http` steps and HTTP reloads must reach `localhost` of the pod
//! without curl or nc in the image. A network namespace is per thread on
//! Linux, so a short-lived thread joins the pod's namespace (through its infra
//! process) and makes the connection there; the rest of podproof is untouched.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Runs `f` on a thread inside the network namespace of process `pid`
/// (0 means the host's own namespace).
pub fn within<T: Send + 'static>(pid: i64, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    std::thread::spawn(move || {
        if pid > 0 {
            let path = format!("/proc/{pid}/ns/net");
            let file = std::fs::File::open(&path)?;
            use std::os::fd::AsRawFd;
            // SAFETY: setns only changes this thread's namespace; the fd is valid.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        f()
    })
    .join()
    .map_err(|_| io::Error::other("network namespace thread panicked"))?
}

/// Opens and closes a TCP connection to `host:port` inside the namespace.
pub fn tcp_check(pid: i64, host: &str, port: u16, timeout: Duration) -> io::Result<()> {
    let host = host.to_string();
    within(pid, move || {
        let addr = resolve(&host, port)?;
        TcpStream::connect_timeout(&addr, timeout).map(|_| ())
    })
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let h = if host.is_empty() || host == "localhost" { "127.0.0.1" } else { host };
    (h, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve {h}")))
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A parsed `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("`{url}`: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| format!("`{url}`: bad port `{p}`"))?),
        None => (authority.to_string(), 80),
    };
    if host.is_empty() {
        return Err(format!("`{url}`: missing host"));
    }
    Ok(Url { host, port, path })
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
    let url = url.clone();
    let method = method.to_string();
    let headers = headers.to_vec();
    let body = body.to_vec();
    within(pid, move || {
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
        s.write_all(req.as_bytes())?;
        s.write_all(&body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        parse_response(&raw).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    })
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
            Url { host: "localhost".into(), port: 9090, path: "/-/reload".into() }
        );
        assert_eq!(parse_url("http://x").unwrap().port, 80);
        assert!(parse_url("https://x").is_err());
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

/// Asks the DNS server at `server` (port 53) for the A records of `name`, from
/// inside the network namespace of `pid`. Returns the addresses (empty for
/// NXDOMAIN or no answer).
pub fn dns_a(
    pid: i64,
    server: std::net::Ipv4Addr,
    name: &str,
    timeout: Duration,
) -> io::Result<Vec<std::net::Ipv4Addr>> {
    let query = dns_query(name);
    within(pid, move || {
        let sock = std::net::UdpSocket::bind("0.0.0.0:0")?;
        sock.set_read_timeout(Some(timeout))?;
        sock.send_to(&query, (server, 53))?;
        let mut buf = [0u8; 1500];
        let n = sock.recv(&mut buf)?;
        Ok(parse_dns_a(&buf[..n]))
    })
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
