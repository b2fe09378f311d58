//! The environment's kubeconfig, as `kind get kubeconfig` prints one: one
//! cluster (the server and its CA inline), one user (the bearer token), one
//! context that names both, and it as the current context.

use base64::Engine;

/// The kubeconfig text for `name` (cluster, user and context share it).
pub fn render(name: &str, server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let v = serde_json::json!({
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": ca, "server": server}, "name": name}],
        "contexts": [{"context": {"cluster": name, "user": name}, "name": name}],
        "current-context": name,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": name, "user": {"token": token}}],
    });
    // serde_yaml quotes by YAML 1.2; the names here are ours (run ids,
    // addresses), never words that YAML 1.1 readers take for booleans.
    serde_yaml::to_string(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubeconfig_reads_back() {
        let k = render("podproof-abc", "https://127.0.0.1:6443", "PEM", "tok");
        let v: serde_yaml::Value = serde_yaml::from_str(&k).unwrap();
        assert_eq!(v["current-context"].as_str(), Some("podproof-abc"));
        assert_eq!(v["clusters"][0]["cluster"]["server"].as_str(), Some("https://127.0.0.1:6443"));
        assert_eq!(v["users"][0]["user"]["token"].as_str(), Some("tok"));
    }
}
