//! chainsaw and kuttl suites, run as written against any Kubernetes API:
//! reading their files (`load`, `kuttl`, `config`), their expressions
//! (`expr`, `functions`), assertions (`assert`) and templates (`template`),
//! and the engine that runs their steps (`engine`, `ops`) through a small
//! client (`client`; `kube` speaks HTTPS from a kubeconfig). docs/chainsaw.md
//! says what is supported.

pub mod assert;
pub mod client;
pub mod config;
pub mod discover;
pub mod engine;
pub mod exec;
pub mod expr;
pub mod functions;
pub mod kube;
pub mod kuttl;
pub mod load;
pub mod model;
pub mod ops;
pub mod report;
pub mod suite;
pub mod template;

#[cfg(test)]
mod tests;
