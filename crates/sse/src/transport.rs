//! One request and its answer, whichever transport carries it: the lean HTTP/1.1 one
//! (`lean.rs`) for plain `http://` that no proxy applies to, reqwest for the rest (TLS,
//! HTTP/2 when a server offers it, proxies from the environment).
//!
//! Everything above this (statuses, redirects, content types and codings, the parser) sees
//! the same [`Answer`] from both, so both behave alike.

use std::time::Duration;

use hyper_util::client::proxy::matcher::Matcher;
use reqwest::Url;
use reqwest::header::HeaderMap;

use crate::client::Trust;
use crate::lean::{self, Lean};
use crate::lease::Lease;

/// How requests are sent: the lean transport, and the proxy rules that keep a request off it.
pub(crate) struct Transport {
    lean: Lean,
    /// The environment's proxies (`HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`...), read once as
    /// reqwest reads them: a request one applies to goes through reqwest.
    proxies: Matcher,
}

impl Transport {
    /// A transport with the engine's connect timeout and keep-alive.
    pub(crate) fn new(
        user_agent: &'static str,
        connect_timeout: Duration,
        keepalive: Duration,
    ) -> Self {
        Self {
            lean: Lean {
                user_agent,
                connect_timeout,
                keepalive,
            },
            proxies: Matcher::from_system(),
        }
    }

    /// Sends a `GET` for `url` with `headers`, through a client leased from `trust` unless
    /// the lean transport takes it, and waits for the response's head.
    pub(crate) async fn send(
        &self,
        trust: &Trust,
        url: &Url,
        headers: HeaderMap,
    ) -> Result<Answer, SendError> {
        if self.is_lean(url) {
            return match self.lean.send(url, &headers).await {
                Ok((head, body)) => Ok(Answer {
                    status: head.status,
                    headers: head.headers,
                    body: Body::Lean(body),
                }),
                Err(error) => Err(SendError::Network(error.to_string())),
            };
        }
        let mut lease = trust.lease(url).await;
        let request = lease.client().get(url.clone()).headers(headers);
        match lease.send(request).await {
            Ok(mut response) => Ok(Answer {
                status: response.status().as_u16(),
                headers: std::mem::take(response.headers_mut()),
                body: Body::Reqwest(Box::new(Leased {
                    response,
                    _lease: lease,
                })),
            }),
            Err(error) if error.is_builder() => Err(SendError::Invalid(error_chain(error))),
            Err(error) => Err(SendError::Network(error_chain(error))),
        }
    }

    fn is_lean(&self, url: &Url) -> bool {
        url.scheme() == "http"
            && url
                .as_str()
                .parse::<http::Uri>()
                .is_ok_and(|uri| self.proxies.intercept(&uri).is_none())
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The request cannot be built (a bad URL or header): trying again cannot help.
    Invalid(String),
    /// The network failed, or the server did not speak HTTP: worth another try.
    Network(String),
}

/// A response: its status, its headers, and its body to read.
pub(crate) struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers (the caller drops them once read: reqwest's share hyper's first read
    /// buffer, which a stream would otherwise keep for hours).
    pub headers: HeaderMap,
    /// The body.
    pub body: Body,
}

/// A response body on either transport.
pub(crate) enum Body {
    /// The lean transport's.
    Lean(lean::Response),
    /// reqwest's (boxed: it is four times the lean one, and each stream holds one).
    Reqwest(Box<Leased>),
}

/// A reqwest response and the lease that counts its stream on its HTTP/2 connection for as
/// long as the body is read.
pub(crate) struct Leased {
    response: reqwest::Response,
    _lease: Lease<reqwest::Client>,
}

impl Body {
    /// Waits for the next bytes and hands them to `data`; `false` once the body has ended.
    /// An error is a line for a readyState reason (no URL in it).
    pub(crate) async fn read(
        &mut self,
        data: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<bool, String> {
        match self {
            Self::Lean(body) => body.read(data).await.map_err(|e| e.to_string()),
            Self::Reqwest(leased) => match leased.response.chunk().await {
                Ok(Some(bytes)) => {
                    data(&bytes);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(error) => Err(error_chain(error)),
            },
        }
    }
}

/// An error and its sources as one line, without the URL (it may carry credentials).
fn error_chain(error: reqwest::Error) -> String {
    use std::error::Error as _;
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        let msg = err.to_string();
        // hyper and std often repeat the inner message in the outer one.
        if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
        source = err.source();
    }
    // rustls names an untrusted issuer in its own terms (UnknownIssuer, or CaUsedAsEndEntity
    // for a self-signed certificate made by `openssl req -x509`): say what a user of a
    // self-hosted server can do about it.
    if text.contains("invalid peer certificate")
        && (text.contains("UnknownIssuer") || text.contains("CaUsedAsEndEntity"))
    {
        text.push_str(
            " (a server with its own certificate or CA: trust it with ca_file, or listen --ca-file)",
        );
    }
    text
}
