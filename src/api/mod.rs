//! The Kubernetes API of a podproof environment: what kubectl, helm and
//! in-pod clients talk to.
//!
//! In the layers (input → model → render → runtime → environment →
//! API/runner → cli) the API is a client of the environment, like the
//! runner: it imports none of `env`, `kubelet`, `runner` or `cli`. What it
//! needs from the runtime comes through `runtime::PodRuntime`; controllers
//! read and write objects through the store's in-process interface
//! (`store::Store`), the same code the HTTP handlers call.
//!
//! One concept per file: `server` (TLS listener, connections), `tls` (the
//! environment's CA and serving certificate), `auth` (bearer tokens),
//! `kubeconfig`, `resources` (the registry), `discovery`, `openapi`,
//! `store` (the generic store and its event stream), `strategy` (per-kind
//! rules), `defaults`, `validate` (the validation hook), `gc` (garbage
//! collection, namespace lifecycle), `managed` (managedFields), `apply`
//! (server-side apply), `patch` (JSON, merge and strategic merge patch),
//! `merge_keys` (the patch strategies of the built-in kinds), `selectors`,
//! `table`, `events` (the two Event APIs over one store), `errors`
//! (`Status`), `http`, `handler` (routing and verbs), `streams` (exec and
//! attach over WebSocket), `runtime`, `meta`.

pub mod apply;
pub mod auth;
pub mod defaults;
pub mod discovery;
pub mod errors;
pub mod events;
mod gc;
pub mod handler;
pub mod http;
pub mod kubeconfig;
pub mod managed;
pub mod merge_keys;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod runtime;
pub mod selectors;
pub mod server;
pub mod store;
mod strategy;
mod streams;
pub mod table;
pub mod tls;
pub mod validate;

pub use server::{Config, Server};

/// The Kubernetes version the API serves: that of the k8s-openapi types
/// (chosen once in Cargo.toml).
pub const VERSION: &str = "v1.33.0";

/// GET /version.
pub fn version() -> serde_json::Value {
    serde_json::json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": format!("{VERSION}+podproof.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("linux/{}", std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64")),
    })
}

#[cfg(test)]
mod tests;
