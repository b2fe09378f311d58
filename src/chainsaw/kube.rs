//! The engine's `Client` over HTTPS, from a kubeconfig: podproof's own API
//! and a real cluster are reached the same way. TLS is rustls (through
//! ureq); the kubeconfig gives the server, its CA (or
//! `insecure-skip-tls-verify`), and a bearer token, a token file, a client
//! certificate or a user name and password. Exec and auth-provider plugins
//! are refused with a clear error. Writes ask for strict field validation,
//! as chainsaw's client does; every request has a deadline.

use super::client::{split_api_version, Client, ClientError, ListOptions, ObjectRef, Resource, Result, WriteOptions};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long one API request may take.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// The largest response body read.
const MAX_BODY: u64 = 256 << 20;

pub struct Kube {
    server: String,
    agent: ureq::Agent,
    auth: Option<String>,
    kubeconfig: PathBuf,
    /// The resources of each group-version, as discovery last listed them.
    discovery: Mutex<HashMap<String, Vec<(String, Resource)>>>,
}

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn named<'a>(list: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| field(e, "name") == Some(name)).and_then(|e| e.get(key))
}

/// Bytes of a `*-data` field (base64) or of the file a path field names (relative to the kubeconfig).
fn data_or_file(v: &Value, data: &str, file: &str, base: &Path) -> std::result::Result<Option<Vec<u8>>, String> {
    if let Some(d) = field(v, data) {
        return base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map(Some)
            .map_err(|e| format!("kubeconfig: `{data}` is not base64: {e}"));
    }
    if let Some(f) = field(v, file) {
        let p = base.join(f);
        return std::fs::read(&p).map(Some).map_err(|e| format!("kubeconfig: cannot read {file} {}: {e}", p.display()));
    }
    Ok(None)
}

impl Kube {
    /// The client of `context` (the kubeconfig's current one when `None`).
    pub fn from_kubeconfig(path: &Path, context: Option<&str>) -> std::result::Result<Kube, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| format!("kubeconfig {} is not YAML: {e}", path.display()))?;
        let kc = serde_json::to_value(yaml).map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let ctx_name = context
            .map(str::to_string)
            .or_else(|| field(&kc, "current-context").map(str::to_string))
            .ok_or("kubeconfig has no current-context")?;
        let ctx = named(&kc["contexts"], "context", &ctx_name)
            .ok_or_else(|| format!("kubeconfig has no context `{ctx_name}`"))?;
        let cluster_name = field(ctx, "cluster").ok_or_else(|| format!("context `{ctx_name}` names no cluster"))?;
        let cluster = named(&kc["clusters"], "cluster", cluster_name)
            .ok_or_else(|| format!("kubeconfig has no cluster `{cluster_name}`"))?;
        let user = field(ctx, "user").and_then(|u| named(&kc["users"], "user", u)).cloned().unwrap_or(json!({}));
        let server = field(cluster, "server")
            .ok_or_else(|| format!("cluster `{cluster_name}` has no server"))?
            .trim_end_matches('/')
            .to_string();
        if user.get("exec").is_some() || user.get("auth-provider").is_some() {
            return Err("kubeconfig: exec and auth-provider credential plugins are not supported; use a token or a client certificate".into());
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if cluster.get("insecure-skip-tls-verify").and_then(Value::as_bool) == Some(true) {
            tls = tls.disable_verification(true);
        } else if let Some(ca) = data_or_file(cluster, "certificate-authority-data", "certificate-authority", base)? {
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&ca)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err("kubeconfig: the certificate authority holds no PEM certificate".into());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let cert = data_or_file(&user, "client-certificate-data", "client-certificate", base)?;
        let key = data_or_file(&user, "client-key-data", "client-key", base)?;
        if let (Some(cert), Some(key)) = (cert, key) {
            let chain: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&cert)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            let key = ureq::tls::PrivateKey::from_pem(&key).map_err(|e| format!("kubeconfig: client key: {e}"))?;
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
        }
        let auth = if let Some(t) = field(&user, "token") {
            Some(format!("Bearer {}", t.trim()))
        } else if let Some(f) = field(&user, "tokenFile") {
            let t = std::fs::read_to_string(base.join(f))
                .map_err(|e| format!("kubeconfig: cannot read tokenFile {f}: {e}"))?;
            Some(format!("Bearer {}", t.trim()))
        } else if let (Some(u), Some(p)) = (field(&user, "username"), field(&user, "password")) {
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
        } else {
            None
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_DEADLINE))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(Kube { server, agent, auth, kubeconfig: path.to_path_buf(), discovery: Mutex::new(HashMap::new()) })
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<(&str, &Value)>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.server);
        let transport = |e: ureq::Error| ClientError::Transport(format!("{method} {url}: {e}"));
        let with = |mut r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
            for (k, v) in query {
                r = r.query(*k, v);
            }
            r = r.header("Accept", "application/json");
            if let Some(a) = &self.auth {
                r = r.header("Authorization", a);
            }
            r
        };
        let with_body = |mut r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            for (k, v) in query {
                r = r.query(*k, v);
            }
            r = r.header("Accept", "application/json");
            if let Some(a) = &self.auth {
                r = r.header("Authorization", a);
            }
            r
        };
        let resp = match (method, body) {
            ("GET", _) => with(self.agent.get(&url)).call(),
            ("DELETE", Some((ct, b))) => {
                with(self.agent.delete(&url)).force_send_body().content_type(ct).send(b.to_string())
            }
            ("DELETE", None) => with(self.agent.delete(&url)).call(),
            ("POST", Some((ct, b))) => with_body(self.agent.post(&url)).content_type(ct).send(b.to_string()),
            ("PUT", Some((ct, b))) => with_body(self.agent.put(&url)).content_type(ct).send(b.to_string()),
            ("PATCH", Some((ct, b))) => with_body(self.agent.patch(&url)).content_type(ct).send(b.to_string()),
            _ => return Err(ClientError::Transport(format!("{method} without a body"))),
        }
        .map_err(transport)?;
        let code = resp.status().as_u16();
        let mut resp = resp;
        let text = resp.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(transport)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&code) {
            return Ok(v);
        }
        if field(&v, "kind") == Some("Status") {
            return Err(ClientError::Status {
                code,
                reason: field(&v, "reason").unwrap_or("").to_string(),
                message: field(&v, "message").unwrap_or("").to_string(),
            });
        }
        Err(ClientError::Status {
            code,
            reason: String::new(),
            message: format!(
                "the server responded with status {code}: {}",
                text.trim().chars().take(500).collect::<String>()
            ),
        })
    }

    /// The resources of one group-version, from discovery (cached until a kind is missing).
    fn resources(&self, api_version: &str, refresh: bool) -> Result<Vec<(String, Resource)>> {
        if !refresh {
            if let Some(r) = self.discovery.lock().unwrap_or_else(|e| e.into_inner()).get(api_version) {
                return Ok(r.clone());
            }
        }
        let path =
            if api_version.contains('/') { format!("/apis/{api_version}") } else { format!("/api/{api_version}") };
        let list = match self.request("GET", &path, &[], None) {
            Ok(v) => v,
            Err(e) if e.is_not_found() => Value::Null,
            Err(e) => return Err(e),
        };
        let out: Vec<(String, Resource)> = list["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| field(r, "name").is_some_and(|n| !n.contains('/')))
                    .map(|r| {
                        (
                            field(r, "kind").unwrap_or("").to_string(),
                            Resource {
                                plural: field(r, "name").unwrap_or("").to_string(),
                                namespaced: r.get("namespaced").and_then(Value::as_bool).unwrap_or(true),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.discovery.lock().unwrap_or_else(|e| e.into_inner()).insert(api_version.to_string(), out.clone());
        Ok(out)
    }

    fn resource_of(&self, api_version: &str, kind: &str) -> Result<Resource> {
        for refresh in [false, true] {
            if let Some((_, r)) = self.resources(api_version, refresh)?.into_iter().find(|(k, _)| k == kind) {
                return Ok(r);
            }
        }
        Err(ClientError::NoKind(format!("no matches for kind \"{kind}\" in version \"{api_version}\"")))
    }

    /// The path of a collection (no name) or of one object.
    fn path(&self, r: &ObjectRef, sub: Option<&str>) -> Result<String> {
        let res = self.resource_of(&r.api_version, &r.kind)?;
        let root = if r.api_version.contains('/') {
            format!("/apis/{}", r.api_version)
        } else {
            format!("/api/{}", r.api_version)
        };
        let mut p = root;
        if res.namespaced && !r.namespace.is_empty() {
            p.push_str(&format!("/namespaces/{}", enc(&r.namespace)));
        }
        p.push_str(&format!("/{}", res.plural));
        if !r.name.is_empty() {
            p.push_str(&format!("/{}", enc(&r.name)));
        }
        if let Some(s) = sub {
            p.push_str(&format!("/{s}"));
        }
        Ok(p)
    }
}

/// Percent-encodes a path segment.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn write_query(o: &WriteOptions) -> Vec<(&'static str, String)> {
    let mut q = vec![("fieldValidation", "Strict".to_string())];
    if o.dry_run {
        q.push(("dryRun", "All".into()));
    }
    q
}

impl Client for Kube {
    fn resource(&self, api_version: &str, kind: &str) -> Result<Option<Resource>> {
        match self.resource_of(api_version, kind) {
            Ok(r) => Ok(Some(r)),
            Err(ClientError::NoKind(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn get(&self, r: &ObjectRef) -> Result<Option<Value>> {
        match self.request("GET", &self.path(r, None)?, &[], None) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self, r: &ObjectRef, opts: &ListOptions) -> Result<Vec<Value>> {
        let mut q = Vec::new();
        let mut sel: Vec<String> = opts.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Some(s) = &opts.selector {
            sel.push(s.clone());
        }
        if !sel.is_empty() {
            q.push(("labelSelector", sel.join(",")));
        }
        let list = self.request("GET", &self.path(&ObjectRef { name: String::new(), ..r.clone() }, None)?, &q, None)?;
        // A list's items carry no apiVersion and kind; client-go fills them in, and so does this.
        Ok(list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut i| {
                if let Some(o) = i.as_object_mut() {
                    o.entry("apiVersion").or_insert(Value::String(r.api_version.clone()));
                    o.entry("kind").or_insert(Value::String(r.kind.clone()));
                }
                i
            })
            .collect())
    }

    fn create(&self, obj: &Value, opts: &WriteOptions) -> Result<Value> {
        let r = ObjectRef { name: String::new(), ..ObjectRef::of(obj) };
        self.request("POST", &self.path(&r, None)?, &write_query(opts), Some(("application/json", obj)))
    }

    fn update(&self, obj: &Value, opts: &WriteOptions) -> Result<Value> {
        let r = ObjectRef::of(obj);
        self.request(
            "PUT",
            &self.path(&r, opts.subresource.as_deref())?,
            &write_query(opts),
            Some(("application/json", obj)),
        )
    }

    fn merge_patch(&self, r: &ObjectRef, patch: &Value, opts: &WriteOptions) -> Result<Value> {
        self.request(
            "PATCH",
            &self.path(r, opts.subresource.as_deref())?,
            &write_query(opts),
            Some(("application/merge-patch+json", patch)),
        )
    }

    fn delete(&self, r: &ObjectRef, propagation: Option<&str>) -> Result<()> {
        let body = json!({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation.unwrap_or("Background")});
        self.request("DELETE", &self.path(r, None)?, &[], Some(("application/json", &body))).map(|_| ())
    }

    fn server_version(&self) -> Result<Value> {
        self.request("GET", "/version", &[], None)
    }

    fn kubeconfig(&self) -> Option<PathBuf> {
        Some(self.kubeconfig.clone())
    }
}

/// The group of an apiVersion, for messages.
pub fn group_of(api_version: &str) -> &str {
    split_api_version(api_version).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(dir: &Path, user: &str) -> PathBuf {
        let p = dir.join("kubeconfig");
        std::fs::write(
            &p,
            format!("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster: {{server: 'https://127.0.0.1:1/', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {user}\n"),
        )
        .unwrap();
        p
    }

    #[test]
    fn reads_kubeconfigs() {
        let dir = tempfile::tempdir().unwrap();
        let k = Kube::from_kubeconfig(&kubeconfig(dir.path(), "{token: abc}"), None).unwrap();
        assert_eq!((k.server.as_str(), k.auth.as_deref()), ("https://127.0.0.1:1", Some("Bearer abc")));
        let e = Kube::from_kubeconfig(&kubeconfig(dir.path(), "{exec: {command: aws}}"), None).err().unwrap();
        assert!(e.contains("exec and auth-provider"), "{e}");
        let e = Kube::from_kubeconfig(&kubeconfig(dir.path(), "{}"), Some("other")).err().unwrap();
        assert_eq!(e, "kubeconfig has no context `other`");
        // Nothing listens on port 1: a transport error, not a panic or a hang.
        let k = Kube::from_kubeconfig(&kubeconfig(dir.path(), "{}"), None).unwrap();
        assert!(matches!(k.server_version(), Err(ClientError::Transport(_))));
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
    }
}
