//! What one subscription is: its URL, headers, credentials, resume point and policy
//! ([`Settings`]), and the checks that turn them into a request.

use std::path::PathBuf;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::policy::Policy;

/// Everything needed to run one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Settings {
    /// The `http` or `https` URL of the event stream.
    pub url: String,
    /// Extra request headers, already resolved (no `env:`/`file:` references here).
    pub headers: Vec<(String, String)>,
    /// Credentials sent as the `Authorization` header.
    pub auth: Option<Auth>,
    /// The ID to resume from (sent as `Last-Event-ID` on the first request); empty for none.
    pub last_event_id: String,
    /// Reconnect and limit settings.
    pub policy: Policy,
    /// A PEM file of extra CA certificates trusted for this subscription (self-hosted servers).
    pub extra_ca_file: Option<PathBuf>,
    /// How to resume from a server that sends no `id:` (e.g. ntfy's `?since=`).
    pub resume: Option<Resume>,
}

/// A resume adapter for servers that send no `id:` field.
///
/// `Last-Event-ID` only works when the server sends `id:`. Some servers (ntfy) put a
/// message ID in the JSON data instead and accept it back as a query parameter; the
/// adapter takes the cursor from each event's data and sends it on every reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resume {
    /// JSON pointer (RFC 6901) to the cursor in the event data, e.g. `/id`.
    pub pointer: String,
    /// The query parameter that carries the cursor, e.g. `since`.
    pub query: String,
    /// The event types whose cursor counts (ntfy: `message`, not its `keepalive`s, whose
    /// ids the server does not keep); empty: every type.
    pub events: Vec<String>,
    /// The cursor to start from (from history after a restart); `None` for a fresh start.
    pub cursor: Option<String>,
}

impl Settings {
    /// Settings for `url` with the default policy and nothing else.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            auth: None,
            last_event_id: String::new(),
            policy: Policy::default(),
            extra_ca_file: None,
            resume: None,
        }
    }
}

/// Credentials for the `Authorization` header.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Auth {
    /// HTTP Basic: `user:password`, base64-encoded on the wire.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: String,
    },
}

impl std::fmt::Debug for Auth {
    // Secrets must never reach logs, even through `{:?}` of the settings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username}:***)"),
            Self::Bearer { .. } => f.write_str("Bearer(***)"),
        }
    }
}

/// Why a subscription could not be started from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The URL does not parse, or is not `http`/`https`.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name is not a valid HTTP token.
    #[error("invalid header name {name:?}")]
    HeaderName {
        /// The name as given.
        name: String,
    },
    /// A header value holds characters HTTP cannot carry (e.g. a newline).
    #[error("invalid value for header {name:?} (control characters are not allowed)")]
    HeaderValue {
        /// The header's name (the value is not repeated: it may be a secret).
        name: String,
    },
    /// The extra CA file cannot be read or holds no certificate.
    #[error("extra CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("HTTP client: {0}")]
    Client(String),
}

pub(crate) fn parse_url(url: &str) -> Result<reqwest::Url, SettingsError> {
    http_url(url).map_err(|reason| SettingsError::Url {
        url: url.to_owned(),
        reason,
    })
}

/// Parse an absolute `http`/`https` URL: the one check behind subscription URLs, the file
/// validator and click URLs, so all three accept and refuse the same things.
pub fn http_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| format!("not an absolute URL ({e}); expected an http:// or https:// URL"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(format!(
            "scheme \"{other}\" is not allowed; expected http or https"
        )),
    }
}

/// The headers every request carries, whatever the subscription (its own may replace them).
pub(crate) fn standard_headers() -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        reqwest::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    // Compression middleware tends to hold events back until its buffer fills, so ask for
    // none; a stream compressed anyway (gzip, br, deflate) is decoded as it arrives.
    headers.insert(
        reqwest::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    headers
}

/// The subscription's own headers and its `Authorization`, checked; added to
/// [`standard_headers`] on every request. Empty, and so holding no memory, for most
/// subscriptions: a connection keeps this for its whole life.
pub(crate) fn own_headers(settings: &Settings) -> Result<HeaderMap, SettingsError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &settings.headers {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| SettingsError::HeaderName { name: name.clone() })?;
        let mut value = HeaderValue::from_str(value.trim())
            .map_err(|_| SettingsError::HeaderValue { name: name.clone() })?;
        if is_secret_header(header.as_str()) {
            value.set_sensitive(true);
        }
        headers.insert(header, value);
    }
    if let Some(auth) = &settings.auth {
        let text = match auth {
            Auth::Basic { username, password } => {
                use base64::Engine as _;
                let raw = format!("{username}:{password}");
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            Auth::Bearer { token } => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| SettingsError::HeaderValue {
            name: "Authorization".into(),
        })?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// Whether a header's value is a secret: `Cookie`, and any name containing `token`,
/// `secret`, `key`, `password` or `auth` (`Authorization` too), in any case.
///
/// The one rule behind everything that treats a header as a secret: its value is masked in
/// `Debug` output, never follows a redirect to another origin (`redirect`), and the
/// subscriptions file does not hold it in clear (ssenotify-config).
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "cookie"
        || ["token", "secret", "key", "password", "auth"]
            .iter()
            .any(|word| lower.contains(word))
}

/// The URL without user info, query or fragment, which may hold credentials: what reasons
/// and logs may show of it.
pub(crate) fn redacted(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers_are_named_like_secrets() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "X-Api-Key",
            "X-Auth-Token",
            "X-Secret",
            "X-Password",
            "X-AUTH",
            "Private-Token",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in [
            "Accept",
            "Last-Event-ID",
            "X-Title",
            "User-Agent",
            "Set-Cookie",
        ] {
            assert!(!is_secret_header(name), "{name}");
        }
    }

    #[test]
    fn redacted_urls_keep_no_credentials() {
        let url = reqwest::Url::parse("https://alice:pw@example.com:8443/feed?token=t#x").unwrap();
        assert_eq!(redacted(&url), "https://example.com:8443/feed");
    }
}
