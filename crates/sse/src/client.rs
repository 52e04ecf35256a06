//! The HTTP clients subscriptions share: one per trust (the system's roots, or the roots
//! plus one `ca_file`), each with its own TLS setup and connection pool.
//!
//! One `reqwest::Client` per distinct extra-CA file rather than one per subscription: each
//! client holds its own TLS root store and connection pool, which would cost hundreds of
//! kilobytes per subscription at a thousand of them. Building a client reads certificate
//! files (the system's roots, the `ca_file`), so it runs on a blocking thread, never on the
//! async runtime and never under the cache's lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::settings::SettingsError;

/// One client per `ca_file` (`None`: the system's roots only), with the file's modification
/// time when it was read, so a renewed file is read again.
type ByTrust = HashMap<Option<PathBuf>, (Option<SystemTime>, reqwest::Client)>;

/// The shared clients, cheap to clone.
#[derive(Default, Clone)]
pub(crate) struct Clients(Arc<Mutex<ByTrust>>);

impl Clients {
    /// The client for `extra_ca`, built on a blocking thread when it is new or its file
    /// changed since it was read (a renewed certificate).
    pub(crate) async fn get(
        &self,
        extra_ca: Option<&Path>,
    ) -> Result<reqwest::Client, SettingsError> {
        // The common case (system roots, already built) needs no file system at all.
        if extra_ca.is_none()
            && let Some(client) = self.cached(&None, None)
        {
            return Ok(client);
        }
        let this = self.clone();
        let key = extra_ca.map(Path::to_path_buf);
        tokio::task::spawn_blocking(move || {
            let modified = key
                .as_deref()
                .and_then(|path| std::fs::metadata(path).ok()?.modified().ok());
            if let Some(client) = this.cached(&key, modified) {
                return Ok(client);
            }
            let client = build(key.as_deref())?;
            this.lock().insert(key, (modified, client.clone()));
            Ok(client)
        })
        .await
        .map_err(|e| SettingsError::Client(e.to_string()))?
    }

    fn cached(
        &self,
        key: &Option<PathBuf>,
        modified: Option<SystemTime>,
    ) -> Option<reqwest::Client> {
        match self.lock().get(key) {
            Some((read_at, client)) if *read_at == modified => Some(client.clone()),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ByTrust> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The User-Agent of every request.
const USER_AGENT: &str = concat!("ssenotify/", env!("CARGO_PKG_VERSION"));
/// The most a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Kernel keep-alive probes notice a peer that vanished without a FIN sooner than the idle
/// timeout would on servers that send no keep-alive comments.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// The lean transport, with the same User-Agent, connect timeout and keep-alive as the
/// clients.
pub(crate) fn transport() -> crate::transport::Transport {
    crate::transport::Transport::new(USER_AGENT, CONNECT_TIMEOUT, TCP_KEEPALIVE)
}

fn build(extra_ca: Option<&Path>) -> Result<reqwest::Client, SettingsError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(TCP_KEEPALIVE)
        // The connection follows redirects itself, so that secrets stay on their origin
        // (redirect.rs says why reqwest's own following is not enough).
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = extra_ca {
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
        // Our own rustls setup, not add_root_certificate: it also trusts a self-signed
        // server certificate given here (tls.rs says why reqwest's cannot).
        builder =
            builder.use_preconfigured_tls(crate::tls::client_config(certs).map_err(ca_error)?);
    }
    builder
        .build()
        .map_err(|e| SettingsError::Client(e.to_string()))
}
