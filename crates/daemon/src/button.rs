//! `http` buttons, pressed: the request sent (bounded, with a timeout) and what it got, in
//! words for history and for the follow-up notification when it failed.
//!
//! Secrets: a rule's header values are the file's written form (a literal, `env:NAME`,
//! `file:PATH`), resolved here by `ssenotify-config` when the button is pressed. A secret
//! header (a reference, or a name like `Authorization`) goes only to the origin the rule's
//! URL names as written: when the rendered URL is elsewhere the request is still sent, but
//! without them, and the result says so. Redirects are followed only within the origin the
//! request went to, so no header follows one elsewhere. An event's own request (ntfy's
//! `http` action) is sent as given: its values are never read as references.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use ssenotify_config::{Paths, Secret, is_secret_header};
use ssenotify_router::{HttpRequest, origin_of, vet_click_url};
use tokio::sync::Semaphore;

/// Button requests under way at once; a press beyond waits for a slot.
const MAX_REQUESTS: usize = 8;
/// Redirects followed (within the origin) per request.
const MAX_REDIRECTS: usize = 5;

/// What a pressed button's request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// One line for history and the follow-up: "Restart: 200 OK", "Restart: the server
    /// answered 503 Service Unavailable". Never a secret.
    pub(crate) line: String,
    /// Whether it failed (not sent, no answer, or an answer that is not 2xx).
    pub(crate) failed: bool,
}

/// Sends the requests of pressed `http` buttons.
pub(crate) struct Buttons {
    /// Made at the first press, like the image fetcher's.
    client: OnceLock<reqwest::Client>,
    slots: Arc<Semaphore>,
}

impl Buttons {
    /// No request sent yet.
    pub(crate) fn new() -> Self {
        Self {
            client: OnceLock::new(),
            slots: Arc::new(Semaphore::new(MAX_REQUESTS)),
        }
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("ssenotify/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    let first = attempt.previous().first().map(reqwest::Url::origin);
                    if attempt.previous().len() > MAX_REDIRECTS {
                        attempt.error("too many redirects")
                    } else if first == Some(attempt.url().origin()) {
                        attempt.follow()
                    } else {
                        // The 3xx itself is the answer (and a failure): nothing of ours,
                        // secret or not, follows a server's redirect to another origin.
                        attempt.stop()
                    }
                }))
                .build()
                .unwrap_or_default()
        })
    }

    /// Send the request of the button labelled `label`; header references are read from
    /// `paths`.
    pub(crate) async fn press(
        &self,
        label: &str,
        request: &HttpRequest,
        paths: Option<&Paths>,
    ) -> Outcome {
        let outcome = |failed: bool, what: String| Outcome {
            line: format!("{label}: {what}"),
            failed,
        };
        let Ok(url) = vet_click_url(&request.url) else {
            return outcome(true, "not sent: only http(s) URLs are".into());
        };
        let (headers, withheld) = match headers(request, &url, paths) {
            Ok(found) => found,
            Err(why) => return outcome(true, format!("not sent: {why}")),
        };
        let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
            return outcome(true, format!("not sent: no method {:?}", request.method));
        };
        let _slot = self.slots.acquire().await;
        let mut builder = self
            .client()
            .request(method, &url)
            .headers(headers)
            .timeout(request.timeout);
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let mut result = match builder.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    outcome(false, status.to_string())
                } else if status.is_redirection() {
                    outcome(
                        true,
                        format!(
                            "the server answered {status} (a redirect to another origin is not followed)"
                        ),
                    )
                } else {
                    outcome(true, format!("the server answered {status}"))
                }
            }
            Err(error) => outcome(true, failure(&error, request.timeout)),
        };
        if let Some(origin) = withheld {
            result.line.push_str(&format!(
                " (secret headers not sent: they go only to {origin})"
            ));
        }
        tracing::info!(result = %result.line, "button pressed");
        result
    }
}

/// The headers to send to `url`, and the origin secret ones were held back for (when the
/// URL is not on it).
fn headers(
    request: &HttpRequest,
    url: &str,
    paths: Option<&Paths>,
) -> Result<(HeaderMap, Option<String>), String> {
    let mut headers = HeaderMap::new();
    let mut withheld = None;
    let here = origin_of(url);
    for (name, written) in &request.headers {
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let value = if request.from_event {
            written.clone()
        } else {
            let secret = Secret::parse(written);
            if (!secret.is_literal() || is_secret_header(name))
                && (here.is_none() || here != request.secret_origin)
            {
                withheld = Some(
                    request
                        .secret_origin
                        .clone()
                        .unwrap_or_else(|| "the origin the rule writes out".into()),
                );
                continue;
            }
            let paths = paths.ok_or("no home directory to read secret references from")?;
            secret
                .resolve(paths)
                .map_err(|why| format!("headers.{name}: {why}"))?
        };
        // A value HTTP cannot carry is left out rather than failing the whole request.
        if let Ok(mut value) = HeaderValue::from_str(&value) {
            value.set_sensitive(!request.from_event);
            headers.insert(header, value);
        }
    }
    Ok((headers, withheld))
}

/// A failed request in words, without its URL (which the history row already implies).
fn failure(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!(
            "no answer within {}",
            ssenotify_router::duration::format_duration(timeout)
        )
    } else if error.is_connect() {
        let mut why = String::from("could not connect");
        if let Some(host) = error.url().and_then(|u| u.host_str()) {
            why.push_str(&format!(" to {host}"));
            if let Some(port) = error.url().and_then(reqwest::Url::port_or_known_default) {
                why.push_str(&format!(":{port}"));
            }
        }
        why
    } else {
        format!("the request failed: {}", error_chain(error))
    }
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    // reqwest names the URL in its message; the rest of the line says which button.
    text.replace(
        &format!(" for url ({})", error.url().map_or("", |u| u.as_str())),
        "",
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn request(url: &str, origin: Option<&str>, from_event: bool) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: BTreeMap::from([
                ("Authorization".into(), "file:secrets/token".into()),
                ("X-Home".into(), "env:HOME".into()),
                ("Content-Type".into(), "text/plain".into()),
            ]),
            body: String::new(),
            timeout: Duration::from_secs(1),
            secret_origin: origin.map(str::to_owned),
            from_event,
        }
    }

    fn sent(headers: &HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn secret_headers_are_resolved_for_the_rules_origin_only() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        std::fs::create_dir_all(paths.secrets_dir()).unwrap();
        std::fs::write(paths.secrets_dir().join("token"), "Bearer t0ken\n").unwrap();
        let home = std::env::var("HOME").unwrap_or_default();

        let r = request("https://ci.example/x", Some("https://ci.example"), false);
        let (found, withheld) = headers(&r, &r.url, Some(&paths)).unwrap();
        assert_eq!(withheld, None);
        assert_eq!(
            sent(&found),
            [
                ("authorization".into(), "Bearer t0ken".into()),
                ("content-type".into(), "text/plain".into()),
                ("x-home".into(), home),
            ]
        );
        assert!(found["authorization"].is_sensitive());

        // Another port is another origin; so is a URL whose origin the rule templated.
        for (url, origin) in [
            ("https://ci.example:8443/x", Some("https://ci.example")),
            ("https://ci.example/x", None),
        ] {
            let r = request(url, origin, false);
            let (found, withheld) = headers(&r, &r.url, Some(&paths)).unwrap();
            assert_eq!(
                sent(&found),
                [("content-type".to_owned(), "text/plain".to_owned())]
            );
            assert!(withheld.is_some(), "{url}");
        }
    }

    #[test]
    fn an_events_own_headers_are_sent_as_given_never_resolved() {
        let r = request("https://api.example/x", None, true);
        let (found, withheld) = headers(&r, &r.url, None).unwrap();
        assert_eq!(withheld, None);
        assert_eq!(
            sent(&found),
            [
                ("authorization".into(), "file:secrets/token".into()),
                ("content-type".into(), "text/plain".into()),
                ("x-home".into(), "env:HOME".into()),
            ]
        );
    }

    #[test]
    fn a_reference_that_cannot_be_read_sends_nothing_and_names_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let r = request("https://ci.example/x", Some("https://ci.example"), false);
        let why = headers(&r, &r.url, Some(&paths)).unwrap_err();
        assert!(
            why.starts_with("headers.Authorization: cannot read")
                && why.contains("file:secrets/token"),
            "{why}"
        );
    }

    #[tokio::test]
    async fn a_non_http_url_is_never_requested() {
        let r = request("file:///etc/passwd", None, true);
        let outcome = Buttons::new().press("Go", &r, None).await;
        assert_eq!(
            outcome,
            Outcome {
                line: "Go: not sent: only http(s) URLs are".into(),
                failed: true
            }
        );
    }
}
