//! Redirects, followed by the connection itself rather than by reqwest: reqwest drops only
//! `Authorization` and `Cookie` when a redirect changes host, so a subscription's other
//! secret headers (an `X-Api-Token`) and the previous URL as `Referer` (a `?token=` in it)
//! would follow a redirect to whatever host a server names.
//!
//! A [`Chain`] is one request's redirects, kept as pure state: once it leaves the
//! subscription's origin (scheme, host, port) every secret header
//! ([`is_secret_header`]) stays behind, for that hop and every later one, even back on
//! the first origin, and the reason of the OPEN that follows says so.

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::settings::{is_secret_header, redacted};
use crate::state::Reason;

/// Redirects followed per request (browsers allow 20); the 11th ends the attempt.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Why a chain of redirects was given up. Fatal: retrying would meet the same chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RedirectError {
    /// An 11th redirect.
    #[error("too many redirects (more than {MAX_REDIRECTS})")]
    TooMany,
    /// A redirect back to a URL already requested in this chain (shown redacted).
    #[error("redirect loop: back to {0}")]
    Loop(String),
    /// A `Location` that is not a URL.
    #[error("redirect with an invalid Location: {0}")]
    BadLocation(String),
    /// A `Location` with another scheme than http or https.
    #[error("redirect to a \"{0}\" URL (only http and https are followed)")]
    BadScheme(String),
}

/// One request's chain of redirects.
#[derive(Debug)]
pub(crate) struct Chain {
    /// Every URL requested so far, the subscription's first, without fragments.
    visited: Vec<Url>,
    /// The chain has left the first URL's origin: secrets stay behind from then on.
    left_origin: bool,
    /// Some secret header was left behind.
    withheld: bool,
}

impl Chain {
    /// A chain that starts at `url`, the subscription's own.
    pub(crate) fn new(mut url: Url) -> Self {
        url.set_fragment(None);
        Self {
            visited: vec![url],
            left_origin: false,
            withheld: false,
        }
    }

    /// The URL to request now.
    pub(crate) fn current(&self) -> &Url {
        self.visited.last().expect("a chain starts with one URL")
    }

    /// What a response to the current URL means for the chain: `Ok(true)` when it is a
    /// redirect to follow (the next [`Chain::current`]), `Ok(false)` when it is the answer
    /// (a 3xx without `Location` included: its status is the outcome), or why the chain ends.
    pub(crate) fn follow(
        &mut self,
        status: u16,
        location: Option<&HeaderValue>,
    ) -> Result<bool, RedirectError> {
        let Some(location) = location.filter(|_| matches!(status, 301 | 302 | 303 | 307 | 308))
        else {
            return Ok(false);
        };
        let location = location
            .to_str()
            .map_err(|_| RedirectError::BadLocation("not ASCII text".into()))?;
        // Relative references (`next`, `../up`, `/root`, `//host/path`) resolve against the
        // URL that answered, as RFC 9110 says.
        let mut next = self
            .current()
            .join(location.trim())
            .map_err(|e| RedirectError::BadLocation(e.to_string()))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(RedirectError::BadScheme(next.scheme().to_owned()));
        }
        next.set_fragment(None);
        if self.visited.contains(&next) {
            return Err(RedirectError::Loop(redacted(&next)));
        }
        if self.visited.len() > MAX_REDIRECTS {
            return Err(RedirectError::TooMany);
        }
        self.left_origin |= next.origin() != self.visited[0].origin();
        self.visited.push(next);
        Ok(true)
    }

    /// Remove from `headers` what the current hop must not receive: once the chain has
    /// left the first origin, every secret header.
    pub(crate) fn withhold(&mut self, headers: &mut HeaderMap) {
        if !self.left_origin {
            return;
        }
        let secret: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_secret_header(name.as_str()))
            .cloned()
            .collect();
        self.withheld |= !secret.is_empty();
        for name in secret {
            headers.remove(name);
        }
    }

    /// The reason of the OPEN this chain led to: where it ended and whether secrets stayed
    /// behind, when it left the first origin on the way.
    pub(crate) fn opened(&self, status: u16) -> Reason {
        if !self.left_origin {
            return Reason::Opened { status };
        }
        Reason::OpenedElsewhere {
            status,
            origin: self.current().origin().ascii_serialization(),
            secrets_withheld: self.withheld,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(url: &str) -> Chain {
        Chain::new(Url::parse(url).unwrap())
    }

    fn to(chain: &mut Chain, status: u16, location: &str) -> Result<bool, RedirectError> {
        chain.follow(status, Some(&HeaderValue::from_str(location).unwrap()))
    }

    fn secrets() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("x-api-token", "t"),
            ("cookie", "c"),
            ("last-event-id", "7"),
            ("accept", "text/event-stream"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers
    }

    fn names(headers: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn relative_locations_resolve_against_the_url_that_answered() {
        let mut c = chain("http://a.example/feeds/one?x=1#top");
        for (location, expected) in [
            ("two", "http://a.example/feeds/two"),
            ("../up?y=2", "http://a.example/up?y=2"),
            ("/root#frag", "http://a.example/root"),
            ("//b.example:8080/x", "http://b.example:8080/x"),
        ] {
            assert_eq!(to(&mut c, 302, location), Ok(true), "{location}");
            assert_eq!(c.current().as_str(), expected);
        }
    }

    #[test]
    fn only_the_five_redirect_statuses_with_a_location_are_followed() {
        for status in [301, 302, 303, 307, 308] {
            assert_eq!(to(&mut chain("http://a/"), status, "/b"), Ok(true));
        }
        for status in [200, 300, 304, 305, 404] {
            assert_eq!(to(&mut chain("http://a/"), status, "/b"), Ok(false));
        }
        assert_eq!(chain("http://a/").follow(302, None), Ok(false));
    }

    #[test]
    fn same_origin_hops_keep_every_header() {
        let mut c = chain("https://a.example/x");
        // The default port is the same origin as no port at all.
        assert_eq!(to(&mut c, 301, "https://a.example:443/y"), Ok(true));
        let mut headers = secrets();
        c.withhold(&mut headers);
        assert_eq!(headers, secrets());
        assert_eq!(c.opened(200), Reason::Opened { status: 200 });
    }

    #[test]
    fn another_scheme_host_or_port_drops_the_secrets_for_good() {
        for elsewhere in [
            "http://a.example/y",
            "https://b.example/y",
            "https://a.example:8443/y",
        ] {
            let mut c = chain("https://a.example/x");
            assert_eq!(to(&mut c, 307, elsewhere), Ok(true), "{elsewhere}");
            // ... and back home: still without them.
            assert_eq!(to(&mut c, 302, "https://a.example/z"), Ok(true));
            let mut headers = secrets();
            c.withhold(&mut headers);
            assert_eq!(names(&headers), ["accept", "last-event-id"], "{elsewhere}");
            assert_eq!(
                c.opened(200),
                Reason::OpenedElsewhere {
                    status: 200,
                    origin: "https://a.example".into(),
                    secrets_withheld: true
                }
            );
        }
    }

    #[test]
    fn without_secrets_nothing_is_said_to_be_withheld() {
        let mut c = chain("http://a.example/");
        assert_eq!(to(&mut c, 302, "http://b.example:81/"), Ok(true));
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        c.withhold(&mut headers);
        assert_eq!(
            c.opened(200),
            Reason::OpenedElsewhere {
                status: 200,
                origin: "http://b.example:81".into(),
                secrets_withheld: false
            }
        );
    }

    #[test]
    fn ten_redirects_are_followed_and_the_eleventh_is_not() {
        let mut c = chain("http://a/0");
        for n in 1..=MAX_REDIRECTS {
            assert_eq!(to(&mut c, 302, &format!("/{n}")), Ok(true));
        }
        assert_eq!(to(&mut c, 302, "/11"), Err(RedirectError::TooMany));
    }

    #[test]
    fn a_loop_ends_at_the_first_url_seen_again_and_names_it_redacted() {
        let mut c = chain("http://u:p@a/start?token=s");
        assert_eq!(to(&mut c, 302, "/b"), Ok(true));
        assert_eq!(
            to(&mut c, 302, "/start?token=s"),
            Err(RedirectError::Loop("http://a/start".into()))
        );
    }

    #[test]
    fn bad_locations_are_errors() {
        assert_eq!(
            to(&mut chain("http://a/"), 302, "ftp://a/file"),
            Err(RedirectError::BadScheme("ftp".into()))
        );
        assert!(matches!(
            to(&mut chain("http://a/"), 302, "http://[::1"),
            Err(RedirectError::BadLocation(_))
        ));
    }
}
