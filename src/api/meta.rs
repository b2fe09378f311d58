//! Object metadata as the API server fills it: uids, timestamps, generated
//! names, and the accessors the store uses on JSON objects.

use serde_json::{Map, Value};
use std::io::Read;

/// `len` random bytes from the kernel.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // /dev/urandom never blocks and never runs short on Linux; a failure here
    // means no randomness at all, where tokens must not be made.
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).expect("/dev/urandom is readable");
    buf
}

/// A random (version 4) UUID, as the API server gives every object.
pub fn uid() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The 5 characters names.SimpleNameGenerator appends to a generateName
/// (consonants and digits that spell no words).
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    random_bytes(5).iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// Now as a metav1.Time (RFC 3339, seconds).
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Now as a metav1.MicroTime.
pub fn now_micro() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Seconds since the Unix epoch of a metav1.Time, if it parses.
pub fn parse_time(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

pub fn str_at<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

pub fn name(v: &Value) -> &str {
    str_at(v, "/metadata/name")
}

pub fn namespace(v: &Value) -> &str {
    str_at(v, "/metadata/namespace")
}

pub fn resource_version(v: &Value) -> &str {
    str_at(v, "/metadata/resourceVersion")
}

/// The metadata mapping, made when missing or of the wrong type.
pub fn metadata_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.get("metadata").is_some_and(Value::is_object) {
        v["metadata"] = Value::Object(Map::new());
    }
    v["metadata"].as_object_mut().expect("metadata was just made a mapping")
}

/// The string map at `/metadata/<key>` (labels, annotations).
pub fn string_map<'v>(v: &'v Value, key: &str) -> Vec<(&'v str, &'v str)> {
    v.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, x)| x.as_str().map(|x| (k.as_str(), x))).collect())
        .unwrap_or_default()
}

pub fn label<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str)
}

pub fn finalizers(v: &Value) -> Vec<String> {
    v.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn set_finalizers(v: &mut Value, list: &[String]) {
    let m = metadata_mut(v);
    if list.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), Value::from(list.to_vec()));
    }
}

pub fn deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// The ownerReferences as (apiVersion, kind, name, uid).
pub fn owners(v: &Value) -> Vec<(String, String, String, String)> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|o| {
                    let f = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    (f("apiVersion"), f("kind"), f("name"), f("uid"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Everything of an object but `metadata` and, when `status` is true, `status`:
/// what a change of bumps metadata.generation.
pub fn spec_of(v: &Value, status: bool) -> Map<String, Value> {
    let mut m = v.as_object().cloned().unwrap_or_default();
    m.remove("metadata");
    m.remove("apiVersion");
    m.remove("kind");
    if status {
        m.remove("status");
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_version_4() {
        let u = uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uid(), u);
    }

    #[test]
    fn times_parse_back() {
        let t = now();
        assert!(t.ends_with('Z') && t.len() == 20, "{t}");
        assert!(parse_time(&t).is_some());
        assert!(now_micro().contains('.'));
    }
}
