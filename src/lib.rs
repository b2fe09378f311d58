//! podproof: prove Kubernetes apps locally with `podman kube play` before
//! promoting them to a cluster. The CLI in `cli` is glue over these modules.

// First, so its output macros are in scope in every module below.
#[macro_use]
pub mod redact;
pub mod api;
pub mod app;
pub mod attest;
pub mod bridge;
pub mod chainsaw;
pub mod chart;
pub mod cli;
pub mod config;
pub mod coverage;
pub mod digest;
pub mod doctor;
pub mod env;
pub mod error;
pub mod evidence;
pub mod fidelity;
pub mod helm;
pub mod host;
pub mod hostpath;
pub mod imagemap;
pub mod kubelet;
pub mod lifecycle;
pub mod lint;
pub mod matcher;
pub mod netns;
pub mod outdir;
pub mod podman;
pub mod podview;
pub mod probe;
pub mod probeclient;
pub mod projection;
pub mod promote;
pub mod quantity;
pub mod record;
pub mod reload;
pub mod reloader;
pub mod render;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod signals;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod suitefile;
pub mod validation;
pub mod wait;
pub mod yaml;
