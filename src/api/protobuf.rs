//! Request bodies in `application/vnd.kubernetes.protobuf`, which client-go's
//! typed clients send by default since 1.33 for the built-in kinds (kubectl's
//! `create configmap|secret|namespace`, helm's release Secrets, operators'
//! Events and Leases). The wire format: the magic `k8s\0`, then a
//! runtime.Unknown (1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3
//! contentEncoding, 4 contentType) whose `raw` is the object's message.
//!
//! Messages are decoded into JSON with the table below: each field's tag,
//! its JSON name and its type. Go's encoder writes every non-pointer field,
//! zero or not, so a zero value is dropped unless the field is a pointer
//! (`keep`), as its JSON encoding (omitempty) would drop it. Kinds without a
//! table are refused with 415, naming the kind; every other client sends JSON.
//! A test encodes each message with k8s-pb (the kube-rs protobuf bindings)
//! and checks that this table decodes it.

use super::errors::{ApiError, ApiResult};
use base64::Engine;
use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum T {
    Str,
    Int,
    Bool,
    Msg(&'static str),
    /// map<string, string>, as repeated entries {1 key, 2 value}.
    MapStr,
    /// map<string, bytes>, values base64 in JSON.
    MapBytes,
    StrList,
    MsgList(&'static str),
    /// metav1.Time {1 seconds, 2 nanos}: RFC 3339 seconds.
    Time,
    /// metav1.MicroTime: RFC 3339 with microseconds.
    MicroTime,
    /// A message whose field 1 is raw JSON (FieldsV1, RawExtension).
    Raw,
}

struct F {
    tag: u32,
    name: &'static str,
    ty: T,
    /// A pointer field in Go: its zero value is a value.
    keep: bool,
}

const fn f(tag: u32, name: &'static str, ty: T) -> F {
    F { tag, name, ty, keep: false }
}

const fn p(tag: u32, name: &'static str, ty: T) -> F {
    F { tag, name, ty, keep: true }
}

const OBJECT_META: &[F] = &[
    f(1, "name", T::Str),
    f(2, "generateName", T::Str),
    f(3, "namespace", T::Str),
    f(4, "selfLink", T::Str),
    f(5, "uid", T::Str),
    f(6, "resourceVersion", T::Str),
    f(7, "generation", T::Int),
    f(8, "creationTimestamp", T::Time),
    p(9, "deletionTimestamp", T::Time),
    p(10, "deletionGracePeriodSeconds", T::Int),
    f(11, "labels", T::MapStr),
    f(12, "annotations", T::MapStr),
    f(13, "ownerReferences", T::MsgList("OwnerReference")),
    f(14, "finalizers", T::StrList),
    f(17, "managedFields", T::MsgList("ManagedFieldsEntry")),
];

const OWNER_REFERENCE: &[F] = &[
    f(5, "apiVersion", T::Str),
    f(1, "kind", T::Str),
    f(3, "name", T::Str),
    f(4, "uid", T::Str),
    p(6, "controller", T::Bool),
    p(7, "blockOwnerDeletion", T::Bool),
];

const MANAGED_FIELDS_ENTRY: &[F] = &[
    f(1, "manager", T::Str),
    f(2, "operation", T::Str),
    f(3, "apiVersion", T::Str),
    p(4, "time", T::Time),
    f(6, "fieldsType", T::Str),
    p(7, "fieldsV1", T::Raw),
    f(8, "subresource", T::Str),
];

const OBJECT_REFERENCE: &[F] = &[
    f(1, "kind", T::Str),
    f(2, "namespace", T::Str),
    f(3, "name", T::Str),
    f(4, "uid", T::Str),
    f(5, "apiVersion", T::Str),
    f(6, "resourceVersion", T::Str),
    f(7, "fieldPath", T::Str),
];

const CONFIG_MAP: &[F] = &[
    f(1, "metadata", T::Msg("ObjectMeta")),
    f(2, "data", T::MapStr),
    f(3, "binaryData", T::MapBytes),
    p(4, "immutable", T::Bool),
];

const SECRET: &[F] = &[
    f(1, "metadata", T::Msg("ObjectMeta")),
    f(2, "data", T::MapBytes),
    f(3, "type", T::Str),
    f(4, "stringData", T::MapStr),
    p(5, "immutable", T::Bool),
];

const NAMESPACE: &[F] = &[
    f(1, "metadata", T::Msg("ObjectMeta")),
    f(2, "spec", T::Msg("NamespaceSpec")),
    f(3, "status", T::Msg("NamespaceStatus")),
];

const NAMESPACE_SPEC: &[F] = &[f(1, "finalizers", T::StrList)];
const NAMESPACE_STATUS: &[F] = &[f(1, "phase", T::Str)];

const SERVICE_ACCOUNT: &[F] = &[
    f(1, "metadata", T::Msg("ObjectMeta")),
    f(2, "secrets", T::MsgList("ObjectReference")),
    f(3, "imagePullSecrets", T::MsgList("LocalObjectReference")),
    p(4, "automountServiceAccountToken", T::Bool),
];

const LOCAL_OBJECT_REFERENCE: &[F] = &[f(1, "name", T::Str)];

const EVENT: &[F] = &[
    f(1, "metadata", T::Msg("ObjectMeta")),
    f(2, "involvedObject", T::Msg("ObjectReference")),
    f(3, "reason", T::Str),
    f(4, "message", T::Str),
    f(5, "source", T::Msg("EventSource")),
    f(6, "firstTimestamp", T::Time),
    f(7, "lastTimestamp", T::Time),
    f(8, "count", T::Int),
    f(9, "type", T::Str),
    f(10, "eventTime", T::MicroTime),
    p(11, "series", T::Msg("EventSeries")),
    f(12, "action", T::Str),
    p(13, "related", T::Msg("ObjectReference")),
    f(14, "reportingComponent", T::Str),
    f(15, "reportingInstance", T::Str),
];

const EVENT_SOURCE: &[F] = &[f(1, "component", T::Str), f(2, "host", T::Str)];
const EVENT_SERIES: &[F] = &[f(1, "count", T::Int), f(2, "lastObservedTime", T::MicroTime)];

const EVENTS_V1_EVENT: &[F] = &[
    f(1, "metadata", T::Msg("ObjectMeta")),
    f(2, "eventTime", T::MicroTime),
    p(3, "series", T::Msg("EventSeries")),
    f(4, "reportingController", T::Str),
    f(5, "reportingInstance", T::Str),
    f(6, "action", T::Str),
    f(7, "reason", T::Str),
    f(8, "regarding", T::Msg("ObjectReference")),
    p(9, "related", T::Msg("ObjectReference")),
    f(10, "note", T::Str),
    f(11, "type", T::Str),
    p(12, "deprecatedSource", T::Msg("EventSource")),
    f(13, "deprecatedFirstTimestamp", T::Time),
    f(14, "deprecatedLastTimestamp", T::Time),
    f(15, "deprecatedCount", T::Int),
];

const LEASE: &[F] = &[f(1, "metadata", T::Msg("ObjectMeta")), f(2, "spec", T::Msg("LeaseSpec"))];

const LEASE_SPEC: &[F] = &[
    p(1, "holderIdentity", T::Str),
    p(2, "leaseDurationSeconds", T::Int),
    p(3, "acquireTime", T::MicroTime),
    p(4, "renewTime", T::MicroTime),
    p(5, "leaseTransitions", T::Int),
    p(6, "strategy", T::Str),
    p(7, "preferredHolder", T::Str),
];

const DELETE_OPTIONS: &[F] = &[
    p(1, "gracePeriodSeconds", T::Int),
    p(2, "preconditions", T::Msg("Preconditions")),
    p(3, "orphanDependents", T::Bool),
    p(4, "propagationPolicy", T::Str),
    f(5, "dryRun", T::StrList),
];

const PRECONDITIONS: &[F] = &[p(1, "uid", T::Str), p(2, "resourceVersion", T::Str)];

fn message(name: &str) -> Option<&'static [F]> {
    Some(match name {
        "ObjectMeta" => OBJECT_META,
        "OwnerReference" => OWNER_REFERENCE,
        "ManagedFieldsEntry" => MANAGED_FIELDS_ENTRY,
        "ObjectReference" => OBJECT_REFERENCE,
        "LocalObjectReference" => LOCAL_OBJECT_REFERENCE,
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "Namespace" => NAMESPACE,
        "NamespaceSpec" => NAMESPACE_SPEC,
        "NamespaceStatus" => NAMESPACE_STATUS,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Event" => EVENT,
        "EventsV1Event" => EVENTS_V1_EVENT,
        "EventSource" => EVENT_SOURCE,
        "EventSeries" => EVENT_SERIES,
        "Lease" => LEASE,
        "LeaseSpec" => LEASE_SPEC,
        "DeleteOptions" => DELETE_OPTIONS,
        "Preconditions" => PRECONDITIONS,
        _ => return None,
    })
}

/// The message of a top-level (apiVersion, kind).
fn root(api_version: &str, kind: &str) -> Option<&'static str> {
    Some(match (api_version, kind) {
        ("v1", "ConfigMap") => "ConfigMap",
        ("v1", "Secret") => "Secret",
        ("v1", "Namespace") => "Namespace",
        ("v1", "ServiceAccount") => "ServiceAccount",
        ("v1", "Event") => "Event",
        ("events.k8s.io/v1", "Event") => "EventsV1Event",
        ("coordination.k8s.io/v1", "Lease") => "Lease",
        ("v1" | "meta.k8s.io/v1", "DeleteOptions") => "DeleteOptions",
        _ => return None,
    })
}

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

fn bad(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("cannot decode the protobuf body: {why}"))
}

/// A protobuf request body as the JSON object it encodes.
pub fn decode(body: &[u8]) -> ApiResult<Value> {
    let rest = body.strip_prefix(b"k8s\0").ok_or_else(|| bad("it does not start with the k8s magic"))?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for field in fields(rest)? {
        match field {
            (1, Wire::Len(b)) => {
                for tf in fields(b)? {
                    match tf {
                        (1, Wire::Len(s)) => api_version = String::from_utf8_lossy(s).into_owned(),
                        (2, Wire::Len(s)) => kind = String::from_utf8_lossy(s).into_owned(),
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(b)) => raw = b,
            _ => {}
        }
    }
    let Some(msg) = root(&api_version, &kind) else {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("podproof's API takes {api_version} {kind} in JSON only, not in {CONTENT_TYPE}: set the client's content type to application/json"),
        ));
    };
    let mut v = decode_message(msg, raw)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("apiVersion".into(), Value::from(api_version));
        m.insert("kind".into(), Value::from(kind));
    }
    Ok(v)
}

enum Wire<'a> {
    Varint(u64),
    /// Skipped: no field of the table is a double or fixed64.
    Fixed64,
    Len(&'a [u8]),
    /// Skipped: no field of the table is a float or fixed32.
    Fixed32,
}

fn varint(b: &[u8], i: &mut usize) -> ApiResult<u64> {
    let mut x: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i).ok_or_else(|| bad("a truncated varint"))?;
        *i += 1;
        x |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok(x);
        }
    }
    Err(bad("a varint longer than 10 bytes"))
}

/// The fields of a message, in order.
fn fields(b: &[u8]) -> ApiResult<Vec<(u32, Wire<'_>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i)?;
        let tag = (key >> 3) as u32;
        let w = match key & 7 {
            0 => Wire::Varint(varint(b, &mut i)?),
            1 => {
                b.get(i..i + 8).ok_or_else(|| bad("a truncated fixed64"))?;
                i += 8;
                Wire::Fixed64
            }
            2 => {
                let n = varint(b, &mut i)? as usize;
                let s = b
                    .get(i..i.checked_add(n).ok_or_else(|| bad("a length overflows"))?)
                    .ok_or_else(|| bad("a truncated field"))?;
                i += n;
                Wire::Len(s)
            }
            5 => {
                b.get(i..i + 4).ok_or_else(|| bad("a truncated fixed32"))?;
                i += 4;
                Wire::Fixed32
            }
            w => return Err(bad(format!("wire type {w}"))),
        };
        out.push((tag, w));
    }
    Ok(out)
}

fn time(b: &[u8], micro: bool) -> ApiResult<Option<Value>> {
    let (mut secs, mut nanos) = (0i64, 0i64);
    for (tag, w) in fields(b)? {
        match (tag, w) {
            (1, Wire::Varint(x)) => secs = x as i64,
            (2, Wire::Varint(x)) => nanos = x as i32 as i64,
            _ => {}
        }
    }
    if secs == 0 && nanos == 0 {
        return Ok(None);
    }
    let t = jiff::Timestamp::new(secs, if micro { (nanos / 1000 * 1000) as i32 } else { 0 }).map_err(bad)?;
    let fmt = if micro { "%Y-%m-%dT%H:%M:%S%.6fZ" } else { "%Y-%m-%dT%H:%M:%SZ" };
    Ok(Some(Value::from(t.strftime(fmt).to_string())))
}

fn decode_message(name: &str, b: &[u8]) -> ApiResult<Value> {
    let table = message(name).ok_or_else(|| bad(format!("no table for {name}")))?;
    let mut out = Map::new();
    for (tag, w) in fields(b)? {
        // Fields this table does not know are dropped, as unknown fields of a
        // JSON body are.
        let Some(f) = table.iter().find(|f| f.tag == tag) else { continue };
        let value = match (f.ty, w) {
            (T::Str, Wire::Len(s)) => {
                let s = String::from_utf8_lossy(s).into_owned();
                (f.keep || !s.is_empty()).then(|| Value::from(s))
            }
            (T::Int, Wire::Varint(x)) => {
                let x = x as i64;
                (f.keep || x != 0).then(|| Value::from(x))
            }
            (T::Bool, Wire::Varint(x)) => (f.keep || x != 0).then(|| Value::from(x != 0)),
            (T::Msg(m), Wire::Len(s)) => Some(decode_message(m, s)?),
            (T::Time, Wire::Len(s)) => time(s, false)?,
            (T::MicroTime, Wire::Len(s)) => time(s, true)?,
            (T::Raw, Wire::Len(s)) => {
                let mut raw: &[u8] = &[];
                for (t, w) in fields(s)? {
                    if let (1, Wire::Len(r)) = (t, w) {
                        raw = r;
                    }
                }
                if raw.is_empty() {
                    None
                } else {
                    Some(serde_json::from_slice(raw).map_err(|e| bad(format!("{}: {e}", f.name)))?)
                }
            }
            (T::MapStr | T::MapBytes, Wire::Len(s)) => {
                let (mut k, mut v) = (String::new(), Value::from(""));
                for (t, w) in fields(s)? {
                    match (t, w) {
                        (1, Wire::Len(x)) => k = String::from_utf8_lossy(x).into_owned(),
                        (2, Wire::Len(x)) => {
                            v = match f.ty {
                                T::MapBytes => Value::from(base64::engine::general_purpose::STANDARD.encode(x)),
                                _ => Value::from(String::from_utf8_lossy(x).into_owned()),
                            }
                        }
                        _ => {}
                    }
                }
                let entry = out.entry(f.name).or_insert_with(|| Value::Object(Map::new()));
                if let Some(m) = entry.as_object_mut() {
                    m.insert(k, v);
                }
                continue;
            }
            (T::StrList, Wire::Len(s)) => {
                let entry = out.entry(f.name).or_insert_with(|| Value::Array(Vec::new()));
                if let Some(a) = entry.as_array_mut() {
                    a.push(Value::from(String::from_utf8_lossy(s).into_owned()));
                }
                continue;
            }
            (T::MsgList(m), Wire::Len(s)) => {
                let item = decode_message(m, s)?;
                let entry = out.entry(f.name).or_insert_with(|| Value::Array(Vec::new()));
                if let Some(a) = entry.as_array_mut() {
                    a.push(item);
                }
                continue;
            }
            _ => return Err(bad(format!("{name}.{} has an unexpected wire type", f.name))),
        };
        if let Some(v) = value {
            out.insert(f.name.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::api::core::v1 as pb;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as pbmeta;
    use prost::Message;
    use serde_json::json;

    /// The body client-go sends: the magic and a runtime.Unknown.
    fn body(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut b = b"k8s\0".to_vec();
        b.extend(unknown.encode_to_vec());
        b
    }

    /// ObjectMeta as Go's encoder writes it: every non-pointer field, zero or not.
    fn meta(name: &str) -> pbmeta::ObjectMeta {
        pbmeta::ObjectMeta {
            name: Some(name.into()),
            generate_name: Some(String::new()),
            namespace: Some("ns".into()),
            self_link: Some(String::new()),
            uid: Some(String::new()),
            resource_version: Some(String::new()),
            generation: Some(0),
            creation_timestamp: Some(pbmeta::Time { seconds: Some(0), nanos: Some(0) }),
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: Default::default(),
            owner_references: vec![pbmeta::OwnerReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some("d".into()),
                uid: Some("u1".into()),
                controller: Some(true),
                block_owner_deletion: None,
            }],
            finalizers: vec!["f1".into()],
            ..Default::default()
        }
    }

    #[test]
    fn secrets_and_config_maps_decode_as_their_json() {
        let s = pb::Secret {
            metadata: Some(meta("s")),
            data: [("k".to_string(), b"v\x00".to_vec())].into(),
            string_data: [("p".to_string(), "q".to_string())].into(),
            r#type: Some("helm.sh/release.v1".into()),
            immutable: None,
        };
        let v = decode(&body("v1", "Secret", s.encode_to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                "metadata": {"name": "s", "namespace": "ns", "labels": {"app": "web"}, "finalizers": ["f1"],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "u1", "controller": true}]},
                "data": {"k": "dgA="}, "stringData": {"p": "q"}})
        );
        let c = pb::ConfigMap {
            metadata: Some(meta("c")),
            data: [("a".to_string(), "1".to_string())].into(),
            binary_data: Default::default(),
            immutable: Some(false),
        };
        let v = decode(&body("v1", "ConfigMap", c.encode_to_vec())).unwrap();
        assert_eq!(v["data"], json!({"a": "1"}));
        assert_eq!(v["immutable"], json!(false));
    }

    #[test]
    fn events_leases_namespaces_and_delete_options_decode() {
        let e = pb::Event {
            metadata: Some(meta("e")),
            involved_object: Some(pb::ObjectReference {
                kind: Some("Pod".into()),
                name: Some("p".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            }),
            reason: Some("Started".into()),
            message: Some("hi".into()),
            source: Some(pb::EventSource { component: Some("kubelet".into()), host: Some(String::new()) }),
            first_timestamp: Some(pbmeta::Time { seconds: Some(1_700_000_000), nanos: Some(0) }),
            count: Some(2),
            r#type: Some("Normal".into()),
            event_time: Some(pbmeta::MicroTime { seconds: Some(1_700_000_000), nanos: Some(123_456_000) }),
            reporting_component: Some("podproof".into()),
            ..Default::default()
        };
        let v = decode(&body("v1", "Event", e.encode_to_vec())).unwrap();
        assert_eq!(v["involvedObject"], json!({"kind": "Pod", "name": "p", "namespace": "ns"}));
        assert_eq!(v["firstTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["eventTime"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(v["count"], 2);
        assert_eq!(v["source"], json!({"component": "kubelet"}));
        assert_eq!(v["reportingComponent"], "podproof");

        let l = k8s_pb::api::coordination::v1::Lease {
            metadata: Some(meta("l")),
            spec: Some(k8s_pb::api::coordination::v1::LeaseSpec {
                holder_identity: Some("me".into()),
                lease_duration_seconds: Some(15),
                lease_transitions: Some(0),
                renew_time: Some(pbmeta::MicroTime { seconds: Some(1_700_000_000), nanos: Some(0) }),
                ..Default::default()
            }),
        };
        let v = decode(&body("coordination.k8s.io/v1", "Lease", l.encode_to_vec())).unwrap();
        assert_eq!(
            v["spec"],
            json!({"holderIdentity": "me", "leaseDurationSeconds": 15, "leaseTransitions": 0, "renewTime": "2023-11-14T22:13:20.000000Z"})
        );

        let n = pb::Namespace {
            metadata: Some(meta("n")),
            spec: Some(pb::NamespaceSpec { finalizers: vec!["kubernetes".into()] }),
            status: None,
        };
        let v = decode(&body("v1", "Namespace", n.encode_to_vec())).unwrap();
        assert_eq!(v["spec"]["finalizers"], json!(["kubernetes"]));

        let d = pbmeta::DeleteOptions {
            grace_period_seconds: Some(0),
            propagation_policy: Some("Foreground".into()),
            preconditions: Some(pbmeta::Preconditions { uid: Some("u".into()), resource_version: None }),
            ..Default::default()
        };
        let v = decode(&body("v1", "DeleteOptions", d.encode_to_vec())).unwrap();
        assert_eq!(v["gracePeriodSeconds"], 0);
        assert_eq!(v["propagationPolicy"], "Foreground");
        assert_eq!(v["preconditions"]["uid"], "u");
    }

    #[test]
    fn other_kinds_and_garbage_are_refused() {
        let p = pb::Pod { metadata: Some(meta("p")), ..Default::default() };
        assert_eq!(decode(&body("v1", "Pod", p.encode_to_vec())).unwrap_err().code, 415);
        assert_eq!(decode(b"nope").unwrap_err().code, 400);
        assert_eq!(decode(b"k8s\0\x0a\xff").unwrap_err().code, 400);
    }
}
