//! `ca_file` against a real TLS server on loopback (certificates made on the spot): a private
//! CA, a self-signed server certificate as `openssl req -x509` makes it (`CA:TRUE`), and the
//! refusals that must stay refusals (no `ca_file`, another host's certificate, out of date).

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, date_time_ymd};
use serde_json::Value;
use ssenotify_e2e::ssenotify_bin;
use ssenotify_sse::{Engine, Reason, Settings, Update};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

/// A server certificate and key, and the PEM a user would put in `ca_file`.
struct Identity {
    cert: rustls::pki_types::CertificateDer<'static>,
    key: Vec<u8>,
    trusted_pem: String,
}

fn params(names: &[&str], ca: bool) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate parameters");
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    params
}

/// Self-signed, `CA:TRUE`, like `openssl req -x509`: the file holds the server's own certificate.
fn self_signed(names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
    let key = KeyPair::generate().expect("key");
    let mut params = params(names, true);
    edit(&mut params);
    let cert = params.self_signed(&key).expect("certificate");
    Identity {
        trusted_pem: cert.pem(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// A private CA and a server certificate it signed: the file holds the CA.
fn ca_signed(names: &[&str]) -> Identity {
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_params = params(&["ssenotify test CA"], true);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let cert = params(names, false)
        .signed_by(&key, &issuer)
        .expect("server certificate");
    Identity {
        trusted_pem: ca_cert.pem(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// Serves one SSE event over TLS on 127.0.0.1 to every client that completes a handshake.
struct TlsServer {
    port: u16,
    // The server's tasks end when the test drops it.
    _runtime: tokio::runtime::Runtime,
}

impl TlsServer {
    fn start(identity: &Identity) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![identity.cert.clone()],
            PrivateKeyDer::try_from(identity.key.clone()).expect("key DER"),
        )
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to serve.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                              Cache-Control: no-cache\r\n\r\nid: 1\ndata: over tls\n\n",
                        )
                        .await;
                    let _ = tls.flush().await;
                    tokio::time::sleep(Duration::from_secs(10)).await;
                });
            }
        });
        Self {
            port,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/", self.port)
    }
}

/// `ssenotify listen --once` on a server presenting `identity`, with its `ca_file` given or
/// not: the JSON lines and the exit status.
fn listen_trusting(identity: &Identity, with_ca_file: bool) -> (Output, Vec<Value>) {
    let server = TlsServer::start(identity);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(ssenotify_bin());
    cmd.args([
        "listen",
        "--json",
        "--once",
        "--max-events",
        "1",
        "--idle-timeout",
        "5s",
    ])
    .env("NO_PROXY", "127.0.0.1,localhost")
    .env("no_proxy", "127.0.0.1,localhost");
    if with_ca_file {
        let path = dir.path().join("trusted.pem");
        std::fs::write(&path, &identity.trusted_pem).expect("write PEM");
        cmd.arg("--ca-file").arg(path);
    }
    let output = cmd.arg(server.url()).output().expect("ssenotify runs");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    (output, lines)
}

fn assert_event_received(output: &Output, lines: &[Value]) {
    assert!(output.status.success(), "{output:?}");
    let event = lines
        .iter()
        .find(|l| l["kind"] == "event")
        .unwrap_or_else(|| panic!("no event in {lines:?}"));
    assert_eq!(event["data"], "over tls");
    assert_eq!(event["last_event_id"], "1");
}

/// The reason of the CLOSED state a refused connection ends with.
fn refusal(output: &Output, lines: &[Value]) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(lines.iter().all(|l| l["kind"] != "event"), "{lines:?}");
    let last = lines.last().expect("some state");
    assert_eq!(last["ready_state"], "CLOSED", "{lines:?}");
    last["reason"].as_str().expect("a reason").to_string()
}

#[test]
fn a_private_ca_in_ca_file_is_trusted() {
    let identity = ca_signed(&["localhost"]);
    let (output, lines) = listen_trusting(&identity, true);
    assert_event_received(&output, &lines);
}

#[test]
fn a_self_signed_server_certificate_in_ca_file_is_trusted() {
    // webpki alone refuses it ("CA used as end entity") even as a root; curl and browsers
    // accept it once trusted, and so must we.
    let identity = self_signed(&["localhost"], |_| {});
    let (output, lines) = listen_trusting(&identity, true);
    assert_event_received(&output, &lines);
}

#[test]
fn without_ca_file_the_certificate_is_refused_with_a_hint() {
    let identity = self_signed(&["localhost"], |_| {});
    let (output, lines) = listen_trusting(&identity, false);
    let reason = refusal(&output, &lines);
    assert!(reason.contains("invalid peer certificate"), "{reason}");
    assert!(reason.contains("ca_file"), "{reason}");
}

#[test]
fn a_trusted_self_signed_certificate_for_another_host_is_refused() {
    let identity = self_signed(&["other.test"], |_| {});
    let (output, lines) = listen_trusting(&identity, true);
    let reason = refusal(&output, &lines);
    assert!(
        reason.contains("not valid for name \"localhost\""),
        "{reason}"
    );
    assert!(
        !reason.contains("ca_file"),
        "no hint to do what was done: {reason}"
    );
}

#[test]
fn a_trusted_self_signed_certificate_out_of_date_is_refused() {
    let identity = self_signed(&["localhost"], |params| {
        params.not_before = date_time_ymd(2001, 1, 1);
        params.not_after = date_time_ymd(2002, 1, 1);
    });
    let (output, lines) = listen_trusting(&identity, true);
    let reason = refusal(&output, &lines);
    assert!(reason.contains("certificate expired"), "{reason}");
}

/// The data of the first event of a subscription to `url` trusting `ca_file`, or the reason
/// of its first failed connection.
async fn first_event(
    engine: &Engine,
    url: String,
    ca_file: &std::path::Path,
) -> Result<String, String> {
    let mut settings = Settings::new(url);
    settings.extra_ca_file = Some(ca_file.to_path_buf());
    let (subscription, mut updates) = engine.subscribe(settings).await.expect("valid settings");
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match updates.recv().await.expect("the subscription reports") {
                Update::Event(event) => return Ok(event.data),
                Update::State(change) if matches!(change.reason, Reason::Network { .. }) => {
                    return Err(change.reason.to_string());
                }
                Update::State(_) => {}
            }
        }
    })
    .await
    .expect("an event or a failure within 10 s");
    subscription.close().await;
    outcome
}

#[test]
fn a_changed_ca_file_is_read_again_when_a_subscription_starts() {
    // Two servers, each with its own self-signed certificate; the file trusts the first,
    // then is renewed to trust the second. The engine shares one client per file: it must
    // not keep using the one built from the old contents.
    let first = self_signed(&["localhost"], |_| {});
    let second = self_signed(&["localhost"], |_| {});
    let (first_server, second_server) = (TlsServer::start(&first), TlsServer::start(&second));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("trusted.pem");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let engine = Engine::new();
        std::fs::write(&path, &first.trusted_pem).expect("write PEM");
        assert_eq!(
            first_event(&engine, first_server.url(), &path).await,
            Ok("over tls".to_string())
        );
        let refused = first_event(&engine, second_server.url(), &path).await;
        assert!(refused.is_err(), "{refused:?}");

        std::fs::write(&path, &second.trusted_pem).expect("write PEM");
        // A renewal a second later, whatever the file system's timestamp resolution.
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open PEM");
        file.set_modified(SystemTime::now() + Duration::from_secs(1))
            .expect("set mtime");
        assert_eq!(
            first_event(&engine, second_server.url(), &path).await,
            Ok("over tls".to_string())
        );
    });
}
