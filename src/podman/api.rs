//! A small HTTP/1.1 client for the libpod REST API over a Unix socket.
//!
//! Written here rather than taken from a crate: ureq and minreq speak TCP
//! only, and hyper needs an async runtime (tokio) and a connector of its own
//! for Unix sockets, which is more code to keep correct than this client.
//! netns.rs has a one-shot parser for complete responses; the driver needs
//! more than that (a streamed body for events and exec output, deadlines on
//! every read, a half-closed write side for exec stdin), so the reading is
//! done here, on a reader, and netns keeps its own small client.
//!
//! Every request has a deadline: connecting, writing and each read get the
//! time that is left, and a request past it fails with `TimedOut`. A request
//! that is not cleanup (see `cancellable`) and was in flight when SIGINT or
//! SIGTERM arrived fails with a "cancelled" error instead, within
//! `CANCEL_POLL`, as a CLI call is stopped (cli.rs). One
//! connection per request (`Connection: close`): a Unix connect costs
//! microseconds, and no pool means no stale connection to recover from.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The libpod API prefix. podman 4.0 and later (5.x too) answer it; the
/// server's real version comes from `/version` (see `Client::version`).
pub const PREFIX: &str = "/v4.0.0/libpod";

/// An API endpoint: a Unix socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

/// A response whose body was read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The headers, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// podman's own words for a failure: the `message` of its JSON error
    /// body, else the body as text.
    pub fn message(&self) -> String {
        match self.json()["message"].as_str() {
            Some(m) => m.to_string(),
            None => String::from_utf8_lossy(&self.body).trim().to_string(),
        }
    }
}

/// How often a cancellable request looks for a signal while it waits.
pub const CANCEL_POLL: Duration = Duration::from_millis(100);

/// Whether a signal may cancel `method path` while it is in flight. Cleanup
/// is what a signal asks for, so removals, the listings that find what to
/// remove, stops and kills run on, and so does anything inside a
/// `cleanup_scope` (a preStop hook at teardown). `kube play` runs on as well:
/// the service goes on making the pod after the client has gone, so the
/// teardown that follows must come after the play's answer, not before it.
/// The events stream ends when its reader shuts it down.
pub fn cancellable(method: &str, path: &str) -> bool {
    let route = path.split('?').next().unwrap_or(path);
    let listing =
        ["/containers/json", "/pods/json", "/networks/json", "/volumes/json"].iter().any(|l| route.ends_with(l));
    let ends = ["/stop", "/kill", "/play/kube", "/events"].iter().any(|e| route.ends_with(e));
    !(method == "DELETE" || listing || ends || super::cli::in_cleanup_scope())
}

/// A stream that gives each read and write only the time left before a
/// deadline, and gives up at a signal when the request is cancellable.
pub struct Deadlined {
    stream: UnixStream,
    deadline: Option<Instant>,
    /// The signal count when the request started, if a later signal cancels it.
    cancel: Option<usize>,
}

impl Deadlined {
    fn left(&self) -> io::Result<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
                } else {
                    Ok(Some(d - now))
                }
            }
        }
    }

    /// The wait for one read or write: the time left, cut to `CANCEL_POLL`
    /// when a signal may cancel the request.
    fn slice(&self) -> io::Result<Option<Duration>> {
        let left = self.left()?;
        Ok(match self.cancel {
            None => left,
            Some(_) => Some(left.map_or(CANCEL_POLL, |l| l.min(CANCEL_POLL))),
        })
    }

    /// The "cancelled" error, when a signal arrived since the request began.
    fn cancelled(&self) -> Option<io::Error> {
        let before = self.cancel?;
        (crate::signals::received() > before).then(|| io::Error::other(crate::signals::cancelled_message()))
    }

    /// Runs one read or write in slices until it is done, the deadline
    /// passes, or a signal cancels it.
    fn in_slices<T>(
        &mut self,
        set: fn(&UnixStream, Option<Duration>) -> io::Result<()>,
        mut op: impl FnMut(&mut UnixStream) -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            if let Some(e) = self.cancelled() {
                return Err(e);
            }
            let slice = self.slice()?;
            set(&self.stream, slice)?;
            match op(&mut self.stream) {
                Err(e) if self.cancel.is_some() && is_timeout(&e) => continue,
                other => return other.map_err(timed_out),
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.in_slices(UnixStream::set_read_timeout, |s| s.read(buf))
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.in_slices(UnixStream::set_write_timeout, |s| s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A read timeout shows as WouldBlock on Linux; it is a passed deadline.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "deadline passed")
    } else {
        e
    }
}

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the server closes the connection (also a hijacked exec stream).
    Close,
}

/// The head of a response: status and headers (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn framing(&self) -> Framing {
        if self.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            Framing::Chunked
        } else if let Some(n) = self.header("content-length").and_then(|v| v.trim().parse().ok()) {
            Framing::Length(n)
        } else if self.status == 204 || self.status == 304 {
            Framing::Length(0)
        } else {
            Framing::Close
        }
    }
}

/// Reads a response head (status line and headers) from `r`.
pub fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut line = String::new();
    // A head larger than this is not podman's.
    let mut budget = 64 * 1024usize;
    let mut next = |line: &mut String| -> io::Result<()> {
        line.clear();
        let n = r.by_ref().take(budget as u64).read_line(line)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before the response head"));
        }
        budget = budget.saturating_sub(n);
        if budget == 0 {
            return Err(bad("response head too large".into()));
        }
        Ok(())
    };
    next(&mut line)?;
    let status_line = line.trim_end().to_string();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line `{}`", status_line.escape_debug())))?;
    let mut headers = Vec::new();
    loop {
        next(&mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok(Head { status, headers })
}

/// A response body, read as it arrives: length-delimited, chunked (decoded
/// here), or up to the end of the connection.
pub struct Body<R> {
    inner: R,
    framing: Framing,
    /// Bytes left in the current chunk, or of a length-delimited body.
    left: u64,
    done: bool,
}

impl<R: BufRead> Body<R> {
    fn new(inner: R, head: &Head) -> Body<R> {
        let framing = head.framing();
        let left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Body { inner, framing, left, done: framing == Framing::Length(0) }
    }

    /// Reads the size line of the next chunk; a zero size ends the body.
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut line = String::new();
        if self.inner.by_ref().take(1024).read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunked body ended early"));
        }
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size `{}`", size.escape_debug()))
        })?;
        if size == 0 {
            // The trailer section ends with an empty line; podman sends none.
            self.done = true;
            loop {
                line.clear();
                if self.inner.by_ref().take(1024).read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    break;
                }
            }
        }
        self.left = size;
        Ok(())
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Close => self.inner.read(buf),
            Framing::Length(_) => {
                let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "body shorter than its Content-Length"));
                }
                self.left -= n as u64;
                self.done = self.left == 0;
                Ok(n)
            }
            Framing::Chunked => {
                if self.left == 0 {
                    self.next_chunk()?;
                    if self.done {
                        return Ok(0);
                    }
                }
                let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunk ended early"));
                }
                self.left -= n as u64;
                if self.left == 0 {
                    let mut crlf = [0u8; 2];
                    self.inner.read_exact(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// Reads a whole response (head and body) from `r`.
pub fn read_response(r: impl Read) -> io::Result<Response> {
    let mut r = BufReader::new(r);
    let head = read_head(&mut r)?;
    let mut body = Vec::new();
    Body::new(r, &head).read_to_end(&mut body)?;
    Ok(Response { status: head.status, headers: head.headers, body })
}

/// Decodes podman's multiplexed stream (Docker's framing for attach, exec and
/// logs without a terminal): frames of an 8-byte header (stream id: 1 stdout,
/// 2 stderr, 3 podman's own error; three zero bytes; the length as u32 big
/// endian) and the payload. Returns at the end of the stream; a frame cut
/// short is an error.
pub fn demux(r: &mut impl Read, stdout: &mut Vec<u8>, stderr: &mut Vec<u8>) -> io::Result<()> {
    let mut header = [0u8; 8];
    loop {
        // The end of the stream may only fall between frames.
        let mut got = 0;
        while got < 8 {
            match r.read(&mut header[got..]) {
                Ok(0) if got == 0 => return Ok(()),
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame header cut short")),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if header[1..4] != [0, 0, 0] || header[0] > 3 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a multiplexed stream (header {header:02x?})"),
            ));
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as u64;
        let sink = if header[0] == 1 { &mut *stdout } else { &mut *stderr };
        let n = r.by_ref().take(len).read_to_end(sink)?;
        if (n as u64) < len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame payload cut short"));
        }
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved
/// characters stay). Hand-written: five lines, where a crate would add a
/// dependency for one function.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client { socket: socket.into() }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Connects and sends one request; returns the connection for reading.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        deadline: Option<Instant>,
    ) -> io::Result<Deadlined> {
        let stream = UnixStream::connect(&self.socket)?;
        let cancel = cancellable(method, path).then(crate::signals::received);
        let mut s = Deadlined { stream, deadline, cancel };
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: d\r\nUser-Agent: podproof\r\nConnection: close\r\n");
        if let Some(b) = body {
            req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
        } else if method != "GET" {
            req.push_str("Content-Length: 0\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        if let Some(b) = body {
            s.write_all(b)?;
        }
        Ok(s)
    }

    /// One request whose response is read in full within `timeout`.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>, timeout: Duration) -> io::Result<Response> {
        let _trace = super::Trace::api(method, path);
        self.request_untraced(method, path, body, timeout)
    }

    /// `request` without a trace line: for the readiness pings of a
    /// starting service, which would fill the trace.
    pub fn request_untraced(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> io::Result<Response> {
        let s = self.send(method, path, body, Some(Instant::now() + timeout))?;
        read_response(s)
    }

    /// A request whose body is read as it arrives: the head within
    /// `head_timeout`, the body by `body_deadline` (`None` for a stream
    /// that lives until the caller shuts the returned handle down).
    pub fn open_stream(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        head_timeout: Duration,
        body_deadline: Option<Instant>,
    ) -> io::Result<(Head, Body<BufReader<Deadlined>>, UnixStream)> {
        let _trace = super::Trace::api(method, path);
        let s = self.send(method, path, body, Some(Instant::now() + head_timeout))?;
        let handle = s.stream.try_clone()?;
        let mut r = BufReader::new(s);
        let head = read_head(&mut r)?;
        r.get_mut().deadline = body_deadline;
        let body = Body::new(r, &head);
        Ok((head, body, handle))
    }
}

impl Deadlined {
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(std::net::Shutdown::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &[u8], expect: &str) {
        let got = match read_response(raw) {
            Ok(r) => format!("{} {:?}", r.status, String::from_utf8_lossy(&r.body)),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{:?}", String::from_utf8_lossy(raw));
    }

    #[test]
    fn responses_are_framed() {
        check(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA", "200 \"hi\"");
        check(b"HTTP/1.1 204 No Content\r\n\r\n", "204 \"\"");
        check(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
            "404 \"abcde\"",
        );
        check(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
            "200 \"0123456789abcdef\"",
        );
        check(b"HTTP/1.1 200 OK\r\n\r\nuntil close", "200 \"until close\"");
        check(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", "error: body shorter than its Content-Length");
        check(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "error: bad chunk size `zz`");
        check(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "error: chunk ended early");
        check(b"SSH-2.0-OpenSSH\r\n\r\n", "error: bad status line `SSH-2.0-OpenSSH`");
        check(b"", "error: connection closed before the response head");
        check(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", "error: connection closed before the response head");
    }

    #[test]
    fn errors_carry_podmans_message() {
        let r = Response { status: 404, headers: vec![], body: br#"{"cause":"no such container","message":"no container with name or ID \"x\" found: no such container","response":404}"#.to_vec() };
        assert_eq!(r.message(), "no container with name or ID \"x\" found: no such container");
        assert_eq!(Response { status: 500, headers: vec![], body: b"plain\n".to_vec() }.message(), "plain");
    }

    fn frame(id: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![id, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn check_demux(raw: &[u8], expect: &str) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let got = match demux(&mut &raw[..], &mut out, &mut err) {
            Ok(()) => format!("{:?} {:?}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn multiplexed_streams_are_split() {
        check_demux(b"", "\"\" \"\"");
        check_demux(&[frame(1, b"out\n"), frame(2, b"err\n"), frame(1, b"more")].concat(), "\"out\\nmore\" \"err\\n\"");
        check_demux(&frame(3, b"exec failed"), "\"\" \"exec failed\"");
        check_demux(&frame(1, b""), "\"\" \"\"");
        check_demux(&[1, 0, 0], "error: frame header cut short");
        check_demux(&frame(1, b"abc")[..9], "error: frame payload cut short");
        check_demux(b"plain text output", "error: not a multiplexed stream (header [70, 6c, 61, 69, 6e, 20, 74, 65])");
    }

    #[test]
    fn a_multiplexed_body_inside_chunks() {
        // podman sends logs chunked, and a frame may span chunks.
        let frames = [frame(1, b"hello"), frame(2, b"oops")].concat();
        let (a, b) = frames.split_at(6);
        let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for part in [a, b] {
            raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            raw.extend_from_slice(part);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        let mut r = BufReader::new(&raw[..]);
        let head = read_head(&mut r).unwrap();
        let mut body = Body::new(r, &head);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&mut body, &mut out, &mut err).unwrap();
        assert_eq!((out.as_slice(), err.as_slice()), (&b"hello"[..], &b"oops"[..]));
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(encode("web-0_a.b~"), "web-0_a.b~");
        assert_eq!(encode(r#"{"label":["a/b=c"]}"#), "%7B%22label%22%3A%5B%22a%2Fb%3Dc%22%5D%7D");
    }

    fn check_cancellable(method: &str, path: &str, expect: bool) {
        assert_eq!(cancellable(method, path), expect, "{method} {path}");
    }

    #[test]
    fn cleanup_and_plays_are_not_cancelled() {
        check_cancellable("GET", "/libpod/_ping", true);
        check_cancellable("GET", "/v4.0.0/libpod/containers/c/json", true);
        check_cancellable("POST", "/v4.0.0/libpod/networks/create", true);
        check_cancellable("POST", "/v4.0.0/libpod/exec/x/start", true);
        check_cancellable("GET", "/v4.0.0/libpod/containers/json?all=true&filters=%7B%7D", false);
        check_cancellable("GET", "/v4.0.0/libpod/pods/json?filters=%7B%7D", false);
        check_cancellable("DELETE", "/v4.0.0/libpod/networks/n?force=true", false);
        check_cancellable("POST", "/v4.0.0/libpod/containers/c/kill?signal=KILL", false);
        check_cancellable("POST", "/v4.0.0/libpod/pods/p/stop", false);
        check_cancellable("POST", "/v4.0.0/libpod/play/kube?start=true", false);
        check_cancellable("GET", "/v4.0.0/libpod/events?stream=true", false);
        let _scope = crate::podman::cleanup_scope();
        check_cancellable("POST", "/v4.0.0/libpod/exec/x/start", false);
    }

    #[test]
    fn a_deadline_stops_a_silent_server() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        // The server accepts and never answers.
        let t = std::thread::spawn(move || l.accept().map(|(c, _)| c));
        let start = Instant::now();
        let e = Client::new(&sock).request("GET", "/x", None, Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(t.join());
    }
}
