//! The request handler: authentication, routing of the API's paths, and
//! each verb of the generic store over HTTP (the apiserver's
//! endpoints/handlers), with the API server's status codes.

use super::apply;
use super::auth::Tokens;
use super::discovery;
use super::errors::{success, ApiError, ApiResult};
use super::events;
use super::http::{self, Body, Output, Query};
use super::meta;
use super::patch::{self, PatchType};
use super::resources::Resource;
use super::runtime::PodRuntime;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{
    DeleteOptions, FieldValidation, ListOptions, Part, Store, WatchEvent, WatchFilter, WatchFrom, WriteOptions,
};
use super::table;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body taken (the API server's 3 MiB).
const MAX_BODY: usize = 3 << 20;
/// How long a watch without `timeoutSeconds` lasts (the API server's
/// --min-request-timeout).
const WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// What every request needs.
pub struct State {
    pub store: Arc<Store>,
    pub tokens: Tokens,
    pub runtime: Arc<dyn PodRuntime>,
    /// `host:port`, as discovery tells clients.
    pub address: String,
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = route(state, req).await.unwrap_or_else(|e| http::error(&e));
    if std::env::var_os("PODPROOF_API_TRACE").is_some() {
        crate::errln!("api: {method} {path} {}", resp.status().as_u16());
    }
    Ok(resp)
}

fn header(req: &Request<Incoming>, name: hyper::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> ApiResult<Response<Body>> {
    if !state.tokens.check(header(&req, hyper::header::AUTHORIZATION)) {
        return Err(ApiError::unauthorized());
    }
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let output = http::negotiate(header(&req, hyper::header::ACCEPT))?;
    let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(http::decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = req.method() == Method::GET;
    match segs.as_slice() {
        ["version"] if get => Ok(http::respond(200, &super::version(), Output::Json, &[])),
        ["healthz" | "livez" | "readyz", ..] if get => Ok(plain(200, "ok")),
        ["openapi", rest @ ..] if get => super::openapi::serve(&state.store, rest, &query),
        ["api"] if get => Ok(match output {
            Output::AggregatedDiscovery => {
                http::respond(200, &discovery::aggregated(&state.store.registry(), true), output, &[])
            }
            _ => http::respond(200, &discovery::api_versions(&state.address), Output::Json, &[]),
        }),
        ["apis"] if get => Ok(match output {
            Output::AggregatedDiscovery => {
                http::respond(200, &discovery::aggregated(&state.store.registry(), false), output, &[])
            }
            _ => http::respond(200, &discovery::api_group_list(&state.store.registry()), Output::Json, &[]),
        }),
        ["apis", g] if get => discovery::api_group(&state.store.registry(), g)
            .map(|d| http::respond(200, &d, Output::Json, &[]))
            .ok_or_else(ApiError::no_route),
        ["api", v] if get => discovery::api_resource_list(&state.store.registry(), "", v)
            .map(|d| http::respond(200, &d, Output::Json, &[]))
            .ok_or_else(ApiError::no_route),
        ["apis", g, v] if get => discovery::api_resource_list(&state.store.registry(), g, v)
            .map(|d| http::respond(200, &d, Output::Json, &[]))
            .ok_or_else(ApiError::no_route),
        ["api", "v1", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            resource(state, "", "v1", &rest, req, query, output).await
        }
        ["apis", g, v, rest @ ..] => {
            let (g, v) = (g.to_string(), v.to_string());
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            resource(state, &g, &v, &rest, req, query, output).await
        }
        _ => Err(ApiError::no_route()),
    }
}

fn plain(code: u16, text: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(http::full(text.to_string()))
        .unwrap_or_else(|_| Response::new(http::full("")))
}

/// A request for a resource: which one, in which namespace, which object and subresource.
struct Target {
    res: Arc<Resource>,
    /// The resource the objects are stored as (the core Events for events.k8s.io).
    storage: Arc<Resource>,
    ns: String,
    name: Option<String>,
    sub: Option<String>,
}

fn target(store: &Store, group: &str, version: &str, rest: &[String]) -> ApiResult<Target> {
    let s: Vec<&str> = rest.iter().map(String::as_str).collect();
    let (ns, rest): (String, &[&str]) = match s.as_slice() {
        ["namespaces", _] | ["namespaces", _, "status" | "finalize"] if group.is_empty() => (String::new(), &s[..]),
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (ns.to_string(), rest),
        _ => (String::new(), &s[..]),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, sub] => (*p, Some(n.to_string()), Some(sub.to_string())),
        _ => return Err(ApiError::no_route()),
    };
    let res = store.resource(group, version, plural).ok_or_else(ApiError::no_route)?;
    if !ns.is_empty() && !res.namespaced {
        return Err(ApiError::no_route());
    }
    let storage = if res.is_events_v1() {
        store.resource("", "v1", "events").ok_or_else(ApiError::no_route)?
    } else {
        res.clone()
    };
    Ok(Target { res, storage, ns, name, sub })
}

#[allow(clippy::too_many_arguments)]
async fn resource(
    state: Arc<State>,
    group: &str,
    version: &str,
    rest: &[String],
    req: Request<Incoming>,
    query: Query,
    output: Output,
) -> ApiResult<Response<Body>> {
    let t = target(&state.store, group, version, rest)?;
    let method = req.method().clone();
    let sub = t.sub.clone();
    match (method, t.name.is_some(), sub.as_deref()) {
        (Method::GET, false, None) if query.flag("watch") => watch(state, t, &query, output),
        (Method::GET, false, None) => list(&state, &t, &query, output),
        (Method::POST, false, None) => create(&state, &t, req, &query, output).await,
        (Method::DELETE, false, None) => delete_collection(&state, &t, &query),
        (Method::GET, true, None | Some("status")) => {
            let v = state.store.get(&t.storage, &t.ns, t.name.as_deref().unwrap_or_default())?;
            object_response(&t, &v, 200, output, &[])
        }
        (Method::PUT, true, None | Some("status")) => update(&state, &t, req, &query, output).await,
        (Method::PATCH, true, None | Some("status")) => patch(&state, &t, req, &query, output).await,
        (Method::DELETE, true, None) => delete(&state, &t, req, &query).await,
        (m, true, Some("scale")) if t.res.scale.is_some() => scale(&state, &t, m, req, &query).await,
        (Method::GET, true, Some("log")) if t.res.group.is_empty() && t.res.plural == "pods" => {
            logs(&state, &t, &query)
        }
        (_, true, Some("exec" | "attach" | "portforward")) if t.res.group.is_empty() && t.res.plural == "pods" => {
            super::streams::serve(
                state.clone(),
                t.ns.clone(),
                t.name.clone().unwrap_or_default(),
                sub.unwrap_or_default(),
                req,
                query,
            )
            .await
        }
        (m, _, s) => Err(match s {
            Some(s) if !known_sub(&t.res, s) => ApiError::no_route(),
            _ => ApiError::method_not_supported(&t.res.group, &t.res.plural, &verb_of(&m)),
        }),
    }
}

fn known_sub(res: &Resource, s: &str) -> bool {
    (s == "status" && res.status) || (s == "scale" && res.scale.is_some()) || res.connect.iter().any(|c| c.name == s)
}

fn verb_of(m: &Method) -> String {
    match *m {
        Method::GET => "get".into(),
        Method::POST => "create".into(),
        Method::PUT => "update".into(),
        Method::PATCH => "patch".into(),
        Method::DELETE => "delete".into(),
        ref other => other.as_str().to_lowercase(),
    }
}

/// An object as the resource serves it (events.k8s.io converted).
fn served(t: &Target, v: &Value) -> Value {
    if t.res.is_events_v1() {
        events::to_events_v1(v)
    } else {
        v.clone()
    }
}

fn object_response(t: &Target, v: &Value, code: u16, output: Output, warnings: &[String]) -> ApiResult<Response<Body>> {
    let v = served(t, v);
    let body = match output {
        Output::Table => table::table(
            &t.res,
            &[&core_view(t, &v)],
            json!({"resourceVersion": meta::resource_version(&v)}),
            "Object",
            now(),
        ),
        Output::PartialMetadata => partial(&v),
        _ => v,
    };
    Ok(http::respond(code, &body, output, warnings))
}

/// The view tables print: an events.k8s.io Event is printed as the core one.
fn core_view(t: &Target, v: &Value) -> Value {
    if t.res.is_events_v1() {
        events::to_core(v)
    } else {
        v.clone()
    }
}

fn partial(v: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(json!({}))})
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn selectors(t: &Target, q: &Query) -> ApiResult<(LabelSelector, FieldSelector)> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?;
    let fields =
        FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), &t.res.kind, &t.res.group, t.res.namespaced)?;
    Ok((labels, fields))
}

fn namespace_filter(t: &Target, fields: &FieldSelector) -> Option<String> {
    if !t.ns.is_empty() {
        return Some(t.ns.clone());
    }
    fields.demands("metadata.namespace").map(str::to_string).filter(|_| t.res.namespaced)
}

fn list(state: &State, t: &Target, q: &Query, output: Output) -> ApiResult<Response<Body>> {
    let (labels, fields) = selectors(t, q)?;
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let opts = ListOptions {
        labels,
        fields,
        limit,
        continue_token: q.get("continue").filter(|c| !c.is_empty()).map(str::to_string),
    };
    let ns = namespace_filter(t, &opts.fields);
    let page = state.store.list(&t.storage, ns.as_deref(), &opts)?;
    let mut list_meta = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(c) = &page.continue_token {
        list_meta["continue"] = json!(c);
    }
    if let Some(n) = page.remaining {
        list_meta["remainingItemCount"] = json!(n);
    }
    let items: Vec<Value> = page.items.iter().map(|v| served(t, v)).collect();
    let body = match output {
        Output::Table => {
            let views: Vec<Value> = items.iter().map(|v| core_view(t, v)).collect();
            let refs: Vec<&Value> = views.iter().collect();
            table::table(&t.res, &refs, list_meta, q.get("includeObject").unwrap_or("Metadata"), now())
        }
        Output::PartialMetadata => json!({
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "items": items.iter().map(partial).collect::<Vec<_>>()
        }),
        _ => {
            // Typed lists carry no apiVersion and kind in their items; custom
            // resources' lists do.
            let items: Vec<Value> = items
                .into_iter()
                .map(|mut v| {
                    if t.res.builtin {
                        if let Some(m) = v.as_object_mut() {
                            m.remove("apiVersion");
                            m.remove("kind");
                        }
                    }
                    v
                })
                .collect();
            json!({"kind": t.res.list_kind, "apiVersion": t.res.api_version(), "metadata": list_meta, "items": items})
        }
    };
    Ok(http::respond(200, &body, output, &[]))
}

fn watch(state: Arc<State>, t: Target, q: &Query, output: Output) -> ApiResult<Response<Body>> {
    let (labels, fields) = selectors(&t, q)?;
    let ns = namespace_filter(&t, &fields);
    let filter = WatchFilter { resource: Some(t.storage.clone()), namespace: ns, name: None, labels, fields };
    let rv = q.get("resourceVersion").unwrap_or_default();
    let initial = q.flag("sendInitialEvents") && q.get("sendInitialEvents").is_some();
    let from = if initial {
        if q.get("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![super::errors::Cause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                        .into(),
                    field: "sendInitialEvents".into(),
                }],
            ));
        }
        WatchFrom::Now { bookmark_after_initial: true }
    } else if rv.is_empty() || rv == "0" {
        WatchFrom::Now { bookmark_after_initial: false }
    } else {
        WatchFrom::After(rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?)
    };
    let bookmarks = q.flag("allowWatchBookmarks") && q.get("allowWatchBookmarks").is_some();
    let timeout = q.int("timeoutSeconds")?.filter(|s| *s > 0).map_or(WATCH_TIMEOUT, |s| Duration::from_secs(s as u64));
    let include = q.get("includeObject").unwrap_or("Metadata").to_string();
    let mut w = match state.store.watch(filter, from) {
        Ok(w) => w,
        // A watch from a compacted resourceVersion is answered with its error
        // as the stream's only event, as the API server answers it.
        Err(e) if e.code == 410 => {
            let line = format!("{}\n", json!({"type": "ERROR", "object": e.status()}));
            return Ok(stream_response(vec![line.into()], "application/json"));
        }
        Err(e) => return Err(e),
    };
    let (tx, body) = http::channel(256);
    let t = Arc::new(t);
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
        loop {
            for e in w.poll() {
                let Some(line) = render_event(&t, e, output, &include) else { continue };
                if tx.send(line).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = w.changed() => {}
                _ = tokio::time::sleep_until(deadline.min(next_bookmark)) => {}
                _ = tx.closed() => return,
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return;
            }
            if bookmarks && now >= next_bookmark {
                next_bookmark = now + BOOKMARK_EVERY;
                let line = bookmark(&t, w.resource_version(), false);
                if tx.send(line).await.is_err() {
                    return;
                }
            } else if now >= next_bookmark {
                next_bookmark = now + BOOKMARK_EVERY;
            }
        }
    });
    Ok(Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .header("Transfer-Encoding", "chunked")
        .body(body)
        .unwrap_or_else(|_| Response::new(http::full(""))))
}

fn stream_response(chunks: Vec<Bytes>, ct: &str) -> Response<Body> {
    let body: Vec<u8> = chunks.into_iter().flat_map(|b| b.to_vec()).collect();
    Response::builder()
        .status(200)
        .header("Content-Type", ct)
        .body(http::full(body))
        .unwrap_or_else(|_| Response::new(http::full("")))
}

fn bookmark(t: &Target, rv: u64, initial_end: bool) -> Bytes {
    let mut m = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        m["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": t.res.kind, "apiVersion": t.res.api_version(), "metadata": m});
    format!("{}\n", json!({"type": "BOOKMARK", "object": obj})).into()
}

fn render_event(t: &Target, e: WatchEvent, output: Output, include: &str) -> Option<Bytes> {
    match e {
        WatchEvent::Change { kind, object, .. } => {
            let v = served(t, &object);
            let obj = match output {
                Output::Table => table::table(
                    &t.res,
                    &[&core_view(t, &v)],
                    json!({"resourceVersion": meta::resource_version(&v)}),
                    include,
                    now(),
                ),
                Output::PartialMetadata => partial(&v),
                _ => v,
            };
            Some(format!("{}\n", json!({"type": kind.as_str(), "object": obj})).into())
        }
        WatchEvent::Bookmark { rv, initial_end } => Some(bookmark(t, rv, initial_end)),
        WatchEvent::Error(e) => Some(format!("{}\n", json!({"type": "ERROR", "object": e.status()})).into()),
    }
}

async fn read_body(req: Request<Incoming>) -> ApiResult<(Option<String>, Bytes)> {
    let ct = req.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::new(413, "RequestEntityTooLarge", format!("the request body could not be read: {e}")))?
        .to_bytes();
    Ok((ct, body))
}

/// The object of a POST or PUT body, in JSON or YAML.
fn decode_object(ct: Option<&str>, body: &[u8]) -> ApiResult<Value> {
    let base = ct.unwrap_or("application/json").split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let v: Value = match base.as_str() {
        "application/json" | "" | "*/*" => {
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("json: {e}")))?
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_yaml::from_slice(body).map_err(|e| ApiError::bad_request(format!("yaml: {e}")))?
        }
        super::protobuf::CONTENT_TYPE => super::protobuf::decode(body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !v.is_object() {
        return Err(ApiError::bad_request("the body of the request is not an object"));
    }
    Ok(v)
}

fn write_options(req: &Request<Incoming>, q: &Query) -> ApiResult<WriteOptions> {
    let validation = match q.get("fieldValidation") {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: invalid value {other:?}: supported values: \"Ignore\", \"Warn\", \"Strict\""
            )))
        }
    };
    let dry_run = match q.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "dryRun: unsupported value {other:?}: supported values: \"All\""
            )))
        }
    };
    // The manager: `fieldManager`, else the user agent up to its first '/'
    // (prefixFromUserAgent).
    let manager = match q.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) => m.to_string(),
        None => header(req, hyper::header::USER_AGENT)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .chars()
            .take(128)
            .collect(),
    };
    if manager.chars().count() > 128 {
        return Err(ApiError::bad_request("fieldManager: Too long: must have at most 128 bytes"));
    }
    Ok(WriteOptions { dry_run, manager, validation, apply: false })
}

fn to_storage(t: &Target, v: Value) -> Value {
    if t.res.is_events_v1() {
        events::to_core(&v)
    } else {
        v
    }
}

async fn create(
    state: &State,
    t: &Target,
    req: Request<Incoming>,
    q: &Query,
    output: Output,
) -> ApiResult<Response<Body>> {
    let opts = write_options(&req, q)?;
    let (ct, body) = read_body(req).await?;
    let obj = decode_object(ct.as_deref(), &body)?;
    check_body_type(t, &obj)?;
    let w = state.store.create(&t.storage, &t.ns, to_storage(t, obj), &opts).map_err(|e| as_decode_error(t, e))?;
    object_response(t, &w.object, 201, output, &w.warnings)
}

/// A strict decoding error of a create or update names the type that could
/// not be decoded, as the API server's transformDecodeError words it
/// (`ConfigMap in version "v1" cannot be handled as a ConfigMap: ...`).
fn as_decode_error(t: &Target, mut e: ApiError) -> ApiError {
    if e.message.starts_with("strict decoding error:") {
        let kind = &t.res.kind;
        e.message = format!("{kind} in version {:?} cannot be handled as a {kind}: {}", t.res.version, e.message);
    }
    e
}

/// The object's apiVersion and kind must be the resource's, before any conversion.
fn check_body_type(t: &Target, obj: &Value) -> ApiResult<()> {
    let api = meta::str_at(obj, "/apiVersion");
    let kind = meta::str_at(obj, "/kind");
    if (!api.is_empty() && api != t.res.api_version()) || (!kind.is_empty() && kind != t.res.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api}) does not match the expected API version ({})",
            t.res.api_version()
        )));
    }
    Ok(())
}

async fn update(
    state: &State,
    t: &Target,
    req: Request<Incoming>,
    q: &Query,
    output: Output,
) -> ApiResult<Response<Body>> {
    let opts = write_options(&req, q)?;
    let (ct, body) = read_body(req).await?;
    let obj = decode_object(ct.as_deref(), &body)?;
    check_body_type(t, &obj)?;
    let name = t.name.as_deref().unwrap_or_default();
    let obj = to_storage(t, obj);
    let w = match t.sub.as_deref() {
        Some("status") if t.res.status => {
            state.store.update_status(&t.storage, &t.ns, name, obj, &opts).map_err(|e| as_decode_error(t, e))?
        }
        Some("status") => return Err(ApiError::no_route()),
        _ => state.store.update(&t.storage, &t.ns, name, obj, &opts).map_err(|e| as_decode_error(t, e))?,
    };
    object_response(t, &w.object, if w.created { 201 } else { 200 }, output, &w.warnings)
}

async fn patch(
    state: &State,
    t: &Target,
    req: Request<Incoming>,
    q: &Query,
    output: Output,
) -> ApiResult<Response<Body>> {
    let mut opts = write_options(&req, q)?;
    let (ct, body) = read_body(req).await?;
    let ct = ct.unwrap_or_default();
    let ty = PatchType::from_content_type(&ct).ok_or_else(|| ApiError::unsupported_media_type(&ct))?;
    let name = t.name.clone().unwrap_or_default();
    let part = match t.sub.as_deref() {
        Some("status") if t.res.status => Part::Status,
        Some("status") => return Err(ApiError::no_route()),
        _ => Part::Main,
    };
    let kind = super::managed::Kind::of(&t.storage);
    let events_view = t.res.is_events_v1();
    let w = if ty == PatchType::Apply {
        let force = q.flag("force") && q.get("force").is_some();
        if force && q.get("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
        }
        if q.get("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
        }
        let mut applied: Value =
            serde_yaml::from_slice(&body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        check_body_type(t, &applied)?;
        let applied_name = meta::name(&applied).to_string();
        if !applied_name.is_empty() && applied_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({applied_name}) does not match the name on the URL ({name})"
            )));
        }
        applied = to_storage(t, applied);
        if !meta::name(&applied).is_empty() || applied.get("metadata").is_some() {
            meta::metadata_mut(&mut applied).insert("name".into(), json!(name));
        }
        // The configuration is validated like a write (unknown fields).
        let warnings = super::validate::unknown_fields(&t.storage, &mut applied, opts.validation)?;
        opts.apply = true;
        let manager = opts.manager.clone();
        let storage = t.storage.clone();
        let mut w = state.store.modify(&t.storage, &t.ns, &name, part, &opts, true, &mut |cur| {
            apply::apply(cur, &applied, &storage, part, &manager, force)
        })?;
        w.warnings.extend(warnings);
        w
    } else {
        let storage = t.storage.clone();
        state.store.modify(&t.storage, &t.ns, &name, part, &opts, false, &mut |cur| {
            let cur = cur.expect("modify passes the object when it may not create");
            if events_view {
                let view = events::to_events_v1(cur);
                let patched = patch::apply_patch(&view, &body, ty, kind)?;
                return Ok(events::to_core(&patched));
            }
            let _ = &storage;
            patch::apply_patch(cur, &body, ty, kind)
        })?
    };
    object_response(t, &w.object, if w.created { 201 } else { 200 }, output, &w.warnings)
}

async fn delete_options(req: Request<Incoming>, q: &Query) -> ApiResult<DeleteOptions> {
    let (ct, body) = read_body(req).await?;
    let mut opts = DeleteOptions::default();
    if !body.is_empty() {
        let v = decode_object(ct.as_deref(), &body)?;
        opts.propagation = v.get("propagationPolicy").and_then(Value::as_str).map(str::to_string);
        opts.grace_period = v.get("gracePeriodSeconds").and_then(Value::as_i64);
        opts.uid = v.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
        opts.resource_version = v.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
        opts.dry_run = v.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == "All"));
        if opts.propagation.is_none() {
            match v.get("orphanDependents").and_then(Value::as_bool) {
                Some(true) => opts.propagation = Some("Orphan".into()),
                Some(false) => opts.propagation = Some("Background".into()),
                None => {}
            }
        }
    }
    if let Some(p) = q.get("propagationPolicy").filter(|p| !p.is_empty()) {
        opts.propagation = Some(p.to_string());
    }
    if let Some(g) = q.int("gracePeriodSeconds")? {
        opts.grace_period = Some(g);
    }
    if q.get("dryRun") == Some("All") {
        opts.dry_run = true;
    }
    Ok(opts)
}

async fn delete(state: &State, t: &Target, req: Request<Incoming>, q: &Query) -> ApiResult<Response<Body>> {
    let opts = delete_options(req, q).await?;
    let name = t.name.as_deref().unwrap_or_default();
    let d = state.store.delete(&t.storage, &t.ns, name, &opts)?;
    let v = served(t, &d.object);
    if !d.gone {
        // Still there (finalizers, a grace period): 202 with the object.
        return Ok(http::respond(202, &v, Output::Json, &[]));
    }
    // Pods and custom resources answer with the deleted object, the others
    // with a Status (each registry's ReturnDeletedObject).
    if (t.res.group.is_empty() && t.res.plural == "pods") || !t.res.builtin {
        return Ok(http::respond(200, &v, Output::Json, &[]));
    }
    let s = success(&t.res.group, &t.res.plural, name, meta::str_at(&v, "/metadata/uid"));
    Ok(http::respond(200, &s, Output::Json, &[]))
}

fn delete_collection(state: &State, t: &Target, q: &Query) -> ApiResult<Response<Body>> {
    let (labels, fields) = selectors(t, q)?;
    let opts = ListOptions { labels, fields, ..Default::default() };
    let ns = namespace_filter(t, &opts.fields);
    let page = state.store.list(&t.storage, ns.as_deref(), &opts)?;
    let dopts = DeleteOptions {
        propagation: q.get("propagationPolicy").map(str::to_string),
        grace_period: q.int("gracePeriodSeconds")?,
        dry_run: q.get("dryRun") == Some("All"),
        ..Default::default()
    };
    let mut items = Vec::new();
    for v in &page.items {
        match state.store.delete(&t.storage, meta::namespace(v), meta::name(v), &dopts) {
            Ok(d) => items.push(served(t, &d.object)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let body = json!({"kind": t.res.list_kind, "apiVersion": t.res.api_version(), "metadata": {"resourceVersion": state.store.resource_version().to_string()}, "items": items});
    Ok(http::respond(200, &body, Output::Json, &[]))
}

/// The autoscaling/v1 Scale of an object.
fn scale_of(res: &Resource, v: &Value) -> Value {
    let paths = res.scale.clone().expect("checked by the caller");
    let spec = v.pointer(&paths.spec_replicas).and_then(Value::as_i64).unwrap_or(0);
    let status = v.pointer(&paths.status_replicas).and_then(Value::as_i64).unwrap_or(0);
    let selector = match v.pointer(&paths.selector) {
        Some(Value::String(s)) => s.clone(),
        Some(sel @ Value::Object(_)) => match LabelSelector::from_object(sel) {
            Ok(Some(s)) => s.to_string_form(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let m = v.get("metadata").cloned().unwrap_or_default();
    let mut md = json!({});
    for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(x) = m.get(k) {
            md[k] = x.clone();
        }
    }
    let mut st = json!({"replicas": status});
    if !selector.is_empty() {
        st["selector"] = json!(selector);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": md, "spec": {"replicas": spec}, "status": st})
}

async fn scale(state: &State, t: &Target, m: Method, req: Request<Incoming>, q: &Query) -> ApiResult<Response<Body>> {
    let name = t.name.clone().unwrap_or_default();
    if m == Method::GET {
        let v = state.store.get(&t.storage, &t.ns, &name)?;
        return Ok(http::respond(200, &scale_of(&t.res, &v), Output::Json, &[]));
    }
    if m != Method::PUT && m != Method::PATCH {
        return Err(ApiError::method_not_supported(&t.res.group, &format!("{}/scale", t.res.plural), &verb_of(&m)));
    }
    let opts = write_options(&req, q)?;
    let (ct, body) = read_body(req).await?;
    let res = t.res.clone();
    let paths = res.scale.clone().expect("checked by the caller");
    let w = state.store.modify(&t.storage, &t.ns, &name, Part::Scale, &opts, false, &mut |cur| {
        let cur = cur.expect("modify passes the object when it may not create");
        let current = scale_of(&res, cur);
        let wanted = if m == Method::PUT {
            decode_object(ct.as_deref(), &body)?
        } else {
            let ty = PatchType::from_content_type(ct.as_deref().unwrap_or_default())
                .ok_or_else(|| ApiError::unsupported_media_type(ct.as_deref().unwrap_or_default()))?;
            let k = super::managed::Kind { group: "autoscaling", kind: "Scale", builtin: true };
            if ty == PatchType::Apply {
                let applied: Value = serde_yaml::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
                let mut merged = current.clone();
                json_patch::merge(&mut merged, &applied);
                merged
            } else {
                patch::apply_patch(&current, &body, ty, k)?
            }
        };
        let rv = meta::resource_version(&wanted);
        if !rv.is_empty() && rv != meta::resource_version(cur) {
            return Err(ApiError::stale(&res.group, &res.plural, meta::name(cur)));
        }
        let replicas = wanted.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                meta::name(cur),
                vec![super::errors::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                    field: "spec.replicas".into(),
                }],
            ));
        }
        let mut next = cur.clone();
        set_pointer(&mut next, &paths.spec_replicas, json!(replicas));
        Ok(next)
    })?;
    Ok(http::respond(200, &scale_of(&t.res, &w.object), Output::Json, &w.warnings))
}

fn set_pointer(v: &mut Value, pointer: &str, x: Value) {
    let mut cur = v;
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, s) in segs.iter().enumerate() {
        let s = s.replace("~1", "/").replace("~0", "~");
        if !cur.is_object() {
            *cur = json!({});
        }
        let m = cur.as_object_mut().expect("made a map above");
        if i + 1 == segs.len() {
            m.insert(s, x);
            return;
        }
        cur = m.entry(s).or_insert(json!({}));
    }
}

fn logs(state: &State, t: &Target, q: &Query) -> ApiResult<Response<Body>> {
    let name = t.name.clone().unwrap_or_default();
    // The pod must exist, and the container be one of its own.
    let pod = state.store.get(&t.storage, &t.ns, &name)?;
    let containers: Vec<String> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array).cloned().unwrap_or_default())
        .map(|c| meta::str_at(&c, "/name").to_string())
        .collect();
    let container = q.get("container").filter(|c| !c.is_empty()).map(str::to_string);
    if let Some(c) = &container {
        if !containers.contains(c) {
            return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")));
        }
    } else if pod.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len) > 1 {
        let names: Vec<String> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| meta::str_at(c, "/name").to_string())
            .collect();
        return Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            names.join(" ")
        )));
    }
    let opts = super::runtime::LogOptions {
        container,
        follow: q.flag("follow") && q.get("follow").is_some(),
        previous: q.flag("previous") && q.get("previous").is_some(),
        tail_lines: q.int("tailLines")?,
        since_seconds: q.int("sinceSeconds")?,
        timestamps: q.flag("timestamps") && q.get("timestamps").is_some(),
        limit_bytes: q.int("limitBytes")?,
    };
    let reader = state.runtime.logs(&t.ns, &name, &opts)?;
    let (tx, body) = http::channel(16);
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut reader = reader;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(Response::builder()
        .status(200)
        .header("Content-Type", "text/plain")
        .body(body)
        .unwrap_or_else(|_| Response::new(http::full(""))))
}
