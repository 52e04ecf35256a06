//! The HTTP clients subscriptions share: per trust (the system's roots, or the roots plus one
//! `ca_file`), one TLS setup and as few clients (connection pools) as HTTP/2 allows.
//!
//! One trust per distinct extra-CA file rather than one client per subscription: each client
//! holds its own connection pool, and a TLS root store costs hundreds of kilobytes. Building
//! a trust reads certificate files (the system's roots, the `ca_file`), so it runs on a
//! blocking thread, never on the async runtime and never under the cache's lock.
//!
//! HTTP/2 is used wherever a server offers it in ALPN (plain http stays HTTP/1.1: no h2c
//! with prior knowledge, which a server that does not speak it refuses); a trust holds as many
//! clients as its busiest h2 origin needs so that no connection carries more streams than
//! servers allow (`lease.rs`): 1,000 subscriptions to one h2 origin share 10 connections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::lease::{Lease, STREAMS_PER_CONNECTION, Shares, lock};
use crate::settings::SettingsError;

/// The HTTP/2 receive window of one stream: what the client buffers for a subscription
/// whose consumer has stopped reading (hyper's default, 2 MiB, would let a slow consumer
/// hold megabytes per stream). The window refills only as events are read, so the server
/// feels the backpressure as it would through TCP; 64 KiB still lets an event stream run at
/// about 1 MB/s over a 50 ms round trip.
const STREAM_WINDOW: u32 = 64 * 1024;

/// The HTTP/2 receive window of a connection: every stream's window at once, so that streams
/// whose consumers stopped can never use up the window of the others on the connection.
const CONNECTION_WINDOW: u32 = STREAM_WINDOW * STREAMS_PER_CONNECTION as u32;

/// HTTP/2 PINGs on a connection that received nothing for this long: every stream shares it,
/// so a dead one must be found by the connection, and sooner than the default idle timeout.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// A PING unanswered this long closes the connection and every stream on it reconnects.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// One trust per `ca_file` (`None`: the system's roots only), with the file's modification
/// time when it was read, so a renewed file is read again.
type ByTrust = HashMap<Option<PathBuf>, (Option<SystemTime>, Trust)>;

/// The shared trusts, cheap to clone.
#[derive(Default, Clone)]
pub(crate) struct Clients(Arc<Mutex<ByTrust>>);

impl Clients {
    /// The trust for `extra_ca`, built on a blocking thread when it is new or its file
    /// changed since it was read (a renewed certificate).
    pub(crate) async fn get(&self, extra_ca: Option<&Path>) -> Result<Trust, SettingsError> {
        // The common case (system roots, already built) needs no file system at all.
        if extra_ca.is_none()
            && let Some(trust) = self.cached(&None, None)
        {
            return Ok(trust);
        }
        let this = self.clone();
        let key = extra_ca.map(Path::to_path_buf);
        tokio::task::spawn_blocking(move || {
            let modified = key
                .as_deref()
                .and_then(|path| std::fs::metadata(path).ok()?.modified().ok());
            if let Some(trust) = this.cached(&key, modified) {
                return Ok(trust);
            }
            let trust = Trust::new(tls_config(key.as_deref())?)?;
            lock(&this.0).insert(key, (modified, trust.clone()));
            Ok(trust)
        })
        .await
        .map_err(|e| SettingsError::Client(e.to_string()))?
    }

    fn cached(&self, key: &Option<PathBuf>, modified: Option<SystemTime>) -> Option<Trust> {
        match lock(&self.0).get(key) {
            Some((read_at, trust)) if *read_at == modified => Some(trust.clone()),
            _ => None,
        }
    }
}

/// The clients of one trust, cheap to clone; [`Trust::lease`] hands them out.
#[derive(Clone)]
pub(crate) struct Trust {
    tls: Arc<rustls::ClientConfig>,
    shares: Arc<Shares<reqwest::Client>>,
}

impl Trust {
    fn new(tls: rustls::ClientConfig) -> Result<Self, SettingsError> {
        let client = build(&tls).map_err(|e| SettingsError::Client(e.to_string()))?;
        Ok(Self {
            tls: Arc::new(tls),
            shares: Shares::new(client),
        })
    }

    /// A client for one request to `url` (see `lease.rs`); hold the lease as long as the
    /// response.
    pub(crate) async fn lease(&self, url: &reqwest::Url) -> Lease<reqwest::Client> {
        let origin = match (url.scheme(), url.host_str(), url.port_or_known_default()) {
            ("https", Some(host), Some(port)) => Some((host.to_owned(), port)),
            _ => None,
        };
        self.shares
            .lease(origin, || {
                // The same settings built the first client; should that ever fail, the
                // request shares the least busy connection rather than not being made.
                build(&self.tls)
                    .inspect_err(|error| {
                        tracing::warn!(%error, "could not build another HTTP client");
                    })
                    .ok()
            })
            .await
    }
}

/// The TLS setup for `extra_ca` (`None`: the system's roots only).
fn tls_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, SettingsError> {
    let Some(path) = extra_ca else {
        return crate::tls::system_config().map_err(SettingsError::Client);
    };
    let ca_error = |reason: String| SettingsError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(ca_error("no PEM certificate found".into()));
    }
    // Our own rustls setup, not add_root_certificate: it also trusts a self-signed server
    // certificate given here (tls.rs says why reqwest's cannot).
    crate::tls::client_config(certs).map_err(ca_error)
}

/// The User-Agent of every request.
pub(crate) const USER_AGENT: &str = concat!("ssenotify/", env!("CARGO_PKG_VERSION"));
/// The most a TCP connect may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Kernel keep-alive probes notice a peer that vanished without a FIN sooner than the idle
/// timeout would on servers that send no keep-alive comments.
pub(crate) const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// One client (one connection pool) over `tls`.
fn build(tls: &rustls::ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(TCP_KEEPALIVE)
        // The connection follows redirects itself, so that secrets stay on their origin
        // (redirect.rs says why reqwest's own following is not enough).
        .redirect(reqwest::redirect::Policy::none())
        .http2_initial_stream_window_size(STREAM_WINDOW)
        .http2_initial_connection_window_size(CONNECTION_WINDOW)
        .http2_keep_alive_interval(PING_INTERVAL)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        // hyper takes a connection for idle (no PING) once its pool no longer holds it,
        // even with a stream open: the one stream of a connection the pool did not keep
        // (two made at once for the first requests) or dropped after 90 s without a new
        // request. An event stream is such a stream, so ping whatever hyper thinks.
        .http2_keep_alive_while_idle(true)
        .use_preconfigured_tls(tls.clone())
        .build()
}
