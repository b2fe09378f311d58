//! The HTTP pieces of the API: query strings, content negotiation (JSON,
//! YAML, Table, PartialObjectMetadata, aggregated discovery), response
//! bodies (whole, or streamed from a channel for watches and logs), and
//! `Status` responses.

use super::errors::ApiError;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as HttpBody, Frame};
use hyper::{Response, StatusCode};
use serde_json::Value;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

pub type Body = BoxBody<Bytes, Infallible>;

/// A body fed from a channel: each message is a chunk, and the body ends
/// when the sender is dropped.
pub struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// A streamed body and the sender that feeds it.
pub fn channel(depth: usize) -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel(depth);
    (tx, BoxBody::new(ChannelBody { rx }))
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// The parsed query string; a key may repeat (`command=sh&command=-c`).
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut out = Vec::new();
        for part in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            out.push((decode(k), decode(v)));
        }
        Query(out)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => {
                v.parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}")))
            }
        }
    }
}

/// Percent-decoding of a query component (`+` is a space).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(x) => {
                        out.push(x);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the client accepts, as the negotiation decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    Table,
    PartialMetadata,
    AggregatedDiscovery,
}

/// Picks the first acceptable media type of `Accept` (kubectl lists its
/// preferences in order); protobuf alone is refused, as a server without
/// it would refuse it.
pub fn negotiate(accept: Option<&str>) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Output::Json) };
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let base = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())))
            .collect();
        let param = |k: &str| params.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        match base.as_str() {
            "application/json" | "*/*" | "application/*" => match (param("as"), param("g"), param("v")) {
                (None, _, _) => return Ok(Output::Json),
                (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) => return Ok(Output::Table),
                (
                    Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                    Some("meta.k8s.io"),
                    Some("v1" | "v1beta1"),
                ) => return Ok(Output::PartialMetadata),
                (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                    return Ok(Output::AggregatedDiscovery)
                }
                _ => continue,
            },
            "application/yaml" => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(format!(
        "only the following media types are accepted: application/json, application/yaml (asked for {accept})"
    )))
}

/// A JSON (or YAML) response.
pub fn respond(code: u16, v: &Value, output: Output, warnings: &[String]) -> Response<Body> {
    let (ct, body) = match output {
        Output::Yaml => ("application/yaml", serde_yaml::to_string(v).unwrap_or_default().into_bytes()),
        Output::AggregatedDiscovery => (super::discovery::AGGREGATED, serde_json::to_vec(v).unwrap_or_default()),
        _ => ("application/json", serde_json::to_vec(v).unwrap_or_default()),
    };
    let mut b =
        Response::builder().status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK)).header("Content-Type", ct);
    for w in warnings {
        // A header value cannot hold a line break; the API server's warnings have none.
        let w = w.replace(['\r', '\n'], " ").replace('"', "\\\"");
        b = b.header("Warning", format!("299 - \"{w}\""));
    }
    b.body(full(body)).unwrap_or_else(|_| Response::new(full("")))
}

/// A `Status` response for an error.
pub fn error(e: &ApiError) -> Response<Body> {
    let mut r = respond(e.code, &e.status(), Output::Json, &[]);
    if e.code == 401 {
        r.headers_mut()
            .insert("WWW-Authenticate", hyper::header::HeaderValue::from_static("Bearer realm=\"podproof\""));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&command=sh&command=-c"));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
        assert_eq!(q.all("command"), vec!["sh", "-c"]);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("a%2"), "a%2");
    }

    #[test]
    fn negotiation_follows_kubectls_order() {
        assert_eq!(negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")).unwrap(), Output::Table);
        assert_eq!(negotiate(Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")).unwrap(), Output::AggregatedDiscovery);
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf, */*")).unwrap(), Output::Json);
        assert_eq!(negotiate(None).unwrap(), Output::Json);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf")).is_err());
    }
}
