//! `podproof __apiserver`: the hidden command that serves the Kubernetes
//! API of an empty environment (no pods run) until SIGINT or SIGTERM,
//! writing its kubeconfig (mode 0600) to the given path. The API's own
//! tests drive it with kubectl and helm; `podproof up` will run the same
//! server inside its daemon, wired to the environment.

use crate::api::{runtime::NoRuntime, Config, Server};
use crate::error::{Error, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the kubeconfig
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: PathBuf,
    /// The directory for the CA, key and token (a private temporary one, removed at exit, by default)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The address to listen on (repeatable)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: Vec<SocketAddr>,
    /// The kubeconfig's cluster, user and context name
    #[arg(long, default_value = "podproof")]
    pub name: String,
}

pub fn run(a: Args) -> Result<i32> {
    crate::signals::install();
    let temp = match &a.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("podproof-api-")
                .tempdir()
                .map_err(|e| Error::runtime(format!("cannot make the API's directory: {e}")))?,
        ),
    };
    let dir = a.dir.clone().unwrap_or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default());
    let cfg = Config { name: a.name.clone(), dir, listen: a.listen.clone(), node_name: "podproof".into() };
    let server = Server::start(cfg, Arc::new(NoRuntime))
        .map_err(|e| Error::runtime(format!("cannot start the API server: {e}")))?;
    crate::api::tls::write_private(&a.kubeconfig, server.kubeconfig().as_bytes())
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", a.kubeconfig.display())))?;
    let addrs: Vec<String> = server.addresses().iter().map(|x| format!("https://{x}")).collect();
    errln!("serving the Kubernetes API at {} (kubeconfig {})", addrs.join(", "), a.kubeconfig.display());
    // Serve until a signal: the wait's predicate never holds, so it ends by
    // the interruption (or after a year).
    let _ = crate::wait::await_condition::<(), ()>(
        Duration::from_secs(365 * 24 * 3600),
        Duration::from_millis(200),
        || crate::wait::Poll::Pending(None),
    );
    server.stop();
    errln!("the API server stopped");
    Ok(0)
}
