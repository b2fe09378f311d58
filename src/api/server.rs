//! The server: TLS listeners on the configured addresses (loopback by
//! default), HTTP/2 and HTTP/1.1 on a tokio runtime of its own threads, and
//! the files a client needs (CA, token, kubeconfig), all mode 0600 under
//! the environment's state directory.

use super::auth::{self, Tokens};
use super::handler::{self, State};
use super::runtime::PodRuntime;
use super::store::{Store, StoreConfig};
use super::tls;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// What an API server is started with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The environment's name: the kubeconfig's cluster, user and context.
    pub name: String,
    /// Where the CA, the key, the token and the kubeconfig are written.
    pub dir: PathBuf,
    /// The addresses to listen on (port 0 picks a free port).
    pub listen: Vec<SocketAddr>,
    /// The name of the environment's one Node.
    pub node_name: String,
}

impl Config {
    /// A server on a free loopback port.
    pub fn loopback(name: &str, dir: PathBuf) -> Config {
        Config {
            name: name.to_string(),
            dir,
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            node_name: "podproof".into(),
        }
    }
}

/// A running API server; it stops when dropped.
pub struct Server {
    store: Arc<Store>,
    addresses: Vec<SocketAddr>,
    kubeconfig: String,
    kubeconfig_path: PathBuf,
    shutdown: tokio::sync::watch::Sender<bool>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// Binds, makes the credentials and starts serving.
    pub fn start(cfg: Config, runtime: Arc<dyn PodRuntime>) -> std::io::Result<Server> {
        let mut listeners = Vec::new();
        for a in &cfg.listen {
            let l = std::net::TcpListener::bind(a)
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {a}: {e}")))?;
            l.set_nonblocking(true)?;
            listeners.push(l);
        }
        let addresses: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr()).collect::<Result<_, _>>()?;
        let ips: Vec<IpAddr> = addresses.iter().map(|a| a.ip()).collect();
        let creds = tls::make(&ips)?;
        let token = auth::new_token();
        let (ca, crt, key, tok) = tls::paths(&cfg.dir);
        tls::write_private(&ca, creds.ca_pem.as_bytes())?;
        tls::write_private(&crt, creds.cert_pem.as_bytes())?;
        tls::write_private(&key, creds.key_pem.as_bytes())?;
        tls::write_private(&tok, token.as_bytes())?;
        let first =
            addresses.first().copied().ok_or_else(|| std::io::Error::other("the API server needs an address"))?;
        let server_url = format!("https://{first}");
        let kubeconfig = super::kubeconfig::render(&cfg.name, &server_url, &creds.ca_pem, &token);
        let kubeconfig_path = cfg.dir.join("kubeconfig");
        tls::write_private(&kubeconfig_path, kubeconfig.as_bytes())?;
        // The token is a credential: it never reaches any output.
        crate::redact::add_str(&token);

        let store = Store::new(StoreConfig { node_name: cfg.node_name.clone(), ca_pem: creds.ca_pem.clone() });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(64)
            .thread_name("podproof-api")
            .enable_all()
            .build()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(&creds)?);
        let state = Arc::new(State {
            store: store.clone(),
            tokens: Tokens::new(vec![token]),
            runtime,
            address: first.to_string(),
        });
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        {
            let _guard = rt.enter();
            for l in listeners {
                let l = tokio::net::TcpListener::from_std(l)?;
                rt.spawn(accept(l, acceptor.clone(), state.clone(), stop.clone()));
            }
        }
        Ok(Server { store, addresses, kubeconfig, kubeconfig_path, shutdown, rt: Some(rt) })
    }

    /// The store, for controllers in this process.
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The kubeconfig text (it holds the token: print it only where the user asked for it).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    pub fn kubeconfig_path(&self) -> &std::path::Path {
        &self.kubeconfig_path
    }

    /// Stops accepting, ends the connections and the watches.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.changed() => return,
        };
        let Ok((tcp, _)) = conn else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let Ok(tls) = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await else {
                return;
            };
            let Ok(tls) = tls else { return };
            let io = hyper_util::rt::TokioIo::new(tls);
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let service = hyper::service::service_fn(move |req| handler::handle(state.clone(), req));
            let conn = builder.serve_connection_with_upgrades(io, service);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}
