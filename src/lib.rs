//! podproof: prove Kubernetes apps locally with `podman kube play` before
//! promoting them to a cluster. The CLI in `cli` is glue over these modules.

pub mod app;
pub mod cli;
pub mod digest;
pub mod error;
pub mod podman;
pub mod projection;
pub mod quantity;
pub mod reload;
pub mod render;
pub mod source;
pub mod yaml;
