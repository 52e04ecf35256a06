//! TLS setups: the system's roots, and trust for a subscription with a `ca_file`
//! (self-hosted servers). Both offer HTTP/2 and HTTP/1.1 in ALPN.
//!
//! The setup is built here rather than by reqwest because one trust has several clients
//! (`client.rs`, one per share of HTTP/2 streams): each client gets a clone of one setup,
//! whose root store sits behind an `Arc`, instead of reading and parsing the system's roots
//! again.
//!
//! reqwest's own rustls setup (`add_root_certificate`) covers a private CA that signed the
//! server's certificate. It cannot cover the most common self-hosted case: a self-signed
//! server certificate made by `openssl req -x509`, which marks it `CA:TRUE`, and which
//! webpki then refuses as "CA used as end entity" even when it is trusted. curl and browsers
//! accept such a certificate once the user trusts it. So for a `ca_file` this module builds
//! the rustls configuration itself: the system's roots plus the file's certificates, and a
//! verifier that also accepts a server certificate byte-for-byte equal to one of the file's,
//! when its name matches the host and it is within its dates.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// The client configuration trusting the system's roots, as reqwest's own would be.
pub(crate) fn system_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // No root at all (a container without ca-certificates) is not an error, as with reqwest:
    // plain http still works, and https says which certificate it could not trust.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?
        .with_root_certificates(system_roots())
        .with_no_client_auth();
    Ok(with_alpn(config))
}

/// The client configuration for a subscription that trusts `file_certs` (the certificates of
/// its `ca_file`, DER) besides the system's roots. The error says what is wrong, for the
/// `ca_file` error message.
pub(crate) fn client_config(
    file_certs: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = system_roots();
    for (n, cert) in file_certs.iter().enumerate() {
        roots
            .add(cert.clone())
            .map_err(|e| format!("certificate {} of the file: {e}", n + 1))?;
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let verifier = Arc::new(FileTrust { webpki, file_certs });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(with_alpn(config))
}

/// The system's roots; as reqwest does, a certificate that does not parse is skipped.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// reqwest leaves a preconfigured setup's ALPN alone, and without ALPN a server never
/// chooses HTTP/2: offer it first, as reqwest's own setup does, with HTTP/1.1 for the rest.
fn with_alpn(mut config: rustls::ClientConfig) -> rustls::ClientConfig {
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// webpki's verification, plus: a server certificate that is exactly one of the `ca_file`'s.
#[derive(Debug)]
struct FileTrust {
    webpki: Arc<WebPkiServerVerifier>,
    file_certs: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for FileTrust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let err = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(err) => err,
        };
        let trusted_as_itself = self
            .file_certs
            .iter()
            .any(|cert| cert.as_ref() == end_entity.as_ref());
        // webpki checks the dates before anything else, so an expired or not yet valid
        // certificate fails here whatever else is wrong with it; the rest of what made webpki
        // refuse it (a CA flag, an unknown issuer: itself) is what trusting it means.
        let out_of_date = matches!(
            err,
            Error::InvalidCertificate(
                CertificateError::Expired
                    | CertificateError::ExpiredContext { .. }
                    | CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. }
            )
        );
        if !trusted_as_itself || out_of_date {
            return Err(err);
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
