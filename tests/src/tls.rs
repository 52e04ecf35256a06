//! [`TestCa`]: a private CA made at run time, the certificate it signs for `127.0.0.1` and
//! `localhost`, and the rustls server setup of a [`crate::TestServer`] over TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tempfile::TempDir;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::PrivateKeyDer};

/// What a TLS server offers in ALPN: which HTTP versions a client may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `h2` and `http/1.1`: HTTP/2 for a client that offers it, as most servers do.
    H2,
    /// `http/1.1` only: a server that does not speak HTTP/2.
    Http1,
}

/// A CA generated on the spot and a server certificate it signed for `127.0.0.1` and
/// `localhost`; the CA's PEM is in a file for `ca_file` / `--ca-file`.
pub struct TestCa {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
    /// Holds `ca.pem` for as long as the CA lives.
    dir: TempDir,
}

impl TestCa {
    /// A fresh CA and server certificate. Panics if generation fails.
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params =
            CertificateParams::new(vec!["ssenotify e2e CA".to_owned()]).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server certificate parameters")
            .signed_by(&key, &issuer)
            .expect("server certificate");
        let dir = tempfile::Builder::new()
            .prefix("ssenotify-ca-")
            .tempdir()
            .expect("a temp dir for the CA");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write ca.pem");
        Self {
            cert: cert.der().clone(),
            key: key.serialize_der(),
            dir,
        }
    }

    /// The CA's PEM file: what a subscription's `ca_file` names.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory holding [`TestCa::ca_file`].
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A rustls server setup presenting the signed certificate and offering `alpn`.
    pub(crate) fn server_config(&self, alpn: Alpn) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![self.cert.clone()],
            PrivateKeyDer::try_from(self.key.clone()).expect("key DER"),
        )
        .expect("server config");
        config.alpn_protocols = match alpn {
            Alpn::H2 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Alpn::Http1 => vec![b"http/1.1".to_vec()],
        };
        Arc::new(config)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}
