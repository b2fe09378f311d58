//! `pods/exec` and `pods/attach` over WebSocket, as kubectl 1.31+ speaks
//! them (`v5.channel.k8s.io`, and `v4.channel.k8s.io`): every binary
//! message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 the
//! final Status, 4 terminal resizes, 255 a stream's close in v5). The
//! process itself comes from the `PodRuntime`. Port-forward is not served
//! (kubectl 1.31+ tunnels SPDY through the WebSocket; docs/api.md).

use super::errors::{ApiError, ApiResult};
use super::handler::State;
use super::http::{self, Body, Query};
use super::runtime::ExecOptions;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::json;
use std::sync::Arc;

const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

pub async fn serve(
    state: Arc<State>,
    ns: String,
    pod: String,
    sub: String,
    mut req: Request<Incoming>,
    q: Query,
) -> ApiResult<Response<Body>> {
    if sub == "portforward" {
        return Err(ApiError::bad_request("port-forward is not served by podproof's API yet"));
    }
    // The pod must exist.
    let pods = state.store.resource("", "v1", "pods").ok_or_else(ApiError::no_route)?;
    state.store.get(&pods, &ns, &pod)?;
    let upgrade = req.headers().get(hyper::header::UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let offered: Vec<String> = req
        .headers()
        .get_all(hyper::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .collect();
    let Some(proto) = PROTOCOLS.iter().find(|p| offered.iter().any(|o| o == *p)) else {
        return Err(ApiError::bad_request(format!(
            "none of the offered subprotocols {offered:?} is served: {PROTOCOLS:?}"
        )));
    };
    let key = req.headers().get(hyper::header::SEC_WEBSOCKET_KEY).map(|k| k.as_bytes().to_vec()).unwrap_or_default();
    let opts = ExecOptions {
        container: q.get("container").filter(|c| !c.is_empty()).map(str::to_string),
        command: if sub == "exec" { q.all("command") } else { Vec::new() },
        stdin: q.flag("stdin") && q.get("stdin").is_some(),
        stdout: q.get("stdout").is_none_or(|v| v == "true" || v == "1"),
        stderr: q.get("stderr").is_none_or(|v| v == "true" || v == "1"),
        tty: q.flag("tty") && q.get("tty").is_some(),
    };
    if sub == "exec" && opts.command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    // The session starts before the upgrade, so a refusal is a Status.
    let runtime = state.runtime.clone();
    let (ns2, pod2, opts2) = (ns.clone(), pod.clone(), opts.clone());
    let session = tokio::task::spawn_blocking(move || runtime.exec(&ns2, &pod2, &opts2))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let v5 = *proto == "v5.channel.k8s.io";
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            io,
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        bridge(ws, session, v5).await;
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    Ok(Response::builder()
        .status(101)
        .header(hyper::header::CONNECTION, "Upgrade")
        .header(hyper::header::UPGRADE, "websocket")
        .header(hyper::header::SEC_WEBSOCKET_ACCEPT, accept)
        .header(hyper::header::SEC_WEBSOCKET_PROTOCOL, *proto)
        .body(http::full(""))
        .unwrap_or_else(|_| Response::new(http::full(""))))
}

/// Moves bytes between the WebSocket and the session until the process ends.
async fn bridge<S>(ws: tokio_tungstenite::WebSocketStream<S>, session: super::runtime::Session, v5: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio_tungstenite::tungstenite::Message;
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let super::runtime::Session { stdin, stdout, stderr, mut resize, wait } = session;
    // The process's output, each stream on a blocking thread.
    let mut readers = Vec::new();
    for (chan, r) in [(1u8, stdout), (2u8, stderr)] {
        let Some(mut r) = r else { continue };
        let tx = out_tx.clone();
        readers.push(tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut m = Vec::with_capacity(n + 1);
                        m.push(chan);
                        m.extend_from_slice(&buf[..n]);
                        if tx.blocking_send(m).is_err() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    // Input: stdin bytes to a blocking writer, resizes to the session.
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Option<Vec<u8>>>();
    if let Some(mut w) = stdin {
        std::thread::spawn(move || {
            use std::io::Write;
            while let Ok(Some(b)) = in_rx.recv() {
                if w.write_all(&b).and_then(|_| w.flush()).is_err() {
                    break;
                }
            }
        });
    }
    let waiter = tokio::task::spawn_blocking(wait);
    use futures_util::{SinkExt, StreamExt};
    let (mut sink, mut source) = ws.split();
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(Message::Binary(Bytes::from(m))).await.is_err() {
                return sink;
            }
        }
        sink
    });
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = source.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            match data.split_first() {
                Some((0, rest)) => {
                    let _ = in_tx.send(Some(rest.to_vec()));
                }
                Some((4, rest)) => {
                    if let (Some(r), Ok(size)) = (resize.as_mut(), serde_json::from_slice::<serde_json::Value>(rest)) {
                        let w = size.get("Width").and_then(|x| x.as_u64()).unwrap_or(80) as u16;
                        let h = size.get("Height").and_then(|x| x.as_u64()).unwrap_or(24) as u16;
                        r(w, h);
                    }
                }
                // v5: the client closed a stream; stdin's close ends the input.
                Some((255, [0])) if v5 => {
                    let _ = in_tx.send(None);
                }
                _ => {}
            }
        }
        let _ = in_tx.send(None);
    });
    let code = waiter.await.unwrap_or_else(|e| Err(ApiError::internal(e.to_string())));
    for r in readers {
        let _ = r.await;
    }
    drop(out_tx);
    let Ok(mut sink) = writer.await else { return };
    let status = match code {
        Ok(0) => json!({"metadata": {}, "status": "Success"}),
        Ok(n) => {
            json!({"metadata": {}, "status": "Failure", "message": format!("command terminated with non-zero exit code: error executing command [], exit code {n}"), "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": n.to_string()}]}})
        }
        Err(e) => e.status(),
    };
    let mut m = vec![3u8];
    m.extend_from_slice(status.to_string().as_bytes());
    let _ = sink.send(Message::Binary(Bytes::from(m))).await;
    let _ = sink.send(Message::Close(None)).await;
    reader.abort();
}
