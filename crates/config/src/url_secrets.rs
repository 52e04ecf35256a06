//! Credentials written in a URL: `https://alice:pw@host/...` and query parameters named
//! like a secret (`?token=...`). Validation finds them (the file must not hold them),
//! `add`/`import` lift them into `auth` and `query` so that they are stashed like any
//! literal secret, and messages show such a URL with the secrets masked.

use reqwest::Url;

use super::secret_names::is_secret_query;
use super::spec::{AuthSpec, Secret, SubscriptionSpec};

/// One `name=value` piece of a URL's query: as written, and decoded.
pub(crate) struct QueryParam<'a> {
    /// The piece exactly as written (kept byte for byte when others are lifted out).
    pub raw: &'a str,
    /// The decoded name.
    pub name: String,
    /// The decoded value.
    pub value: String,
}

impl QueryParam<'_> {
    /// Whether its value is a secret.
    pub fn is_secret(&self) -> bool {
        is_secret_query(&self.name)
    }
}

/// The parameters of `url`'s query, in order.
pub(crate) fn query_params(url: &Url) -> Vec<QueryParam<'_>> {
    url.query()
        .unwrap_or("")
        .split('&')
        .filter(|raw| !raw.is_empty())
        .map(|raw| {
            let (name, value) = form_urlencoded::parse(raw.as_bytes())
                .next()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .unwrap_or_default();
            QueryParam { raw, name, value }
        })
        .collect()
}

/// Whether `url` carries a user name or password (`https://alice:pw@host/`).
pub(crate) fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Move the credentials written in `spec.url` into the fields that keep them: the user
/// name and password into `auth = { type = "basic", ... }`, secret-named query parameters
/// into `query`, each as a literal for the stash to move to a file. The rest of the URL's
/// query stays as written. Nothing is moved where it would clash with what `spec` already
/// says (an `auth`, an `Authorization` header, a `query` entry of that name): validation
/// reports those.
pub(crate) fn lift(spec: &mut SubscriptionSpec) {
    let Ok(mut url) = ssenotify_sse::http_url(&spec.url) else {
        return;
    };
    let mut changed = false;
    let sets_authorization = spec.auth.is_some()
        || spec
            .headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("authorization"));
    if has_userinfo(&url) && !sets_authorization {
        spec.auth = Some(AuthSpec::Basic {
            username: decode(url.username()),
            password: Secret::Literal(decode(url.password().unwrap_or(""))),
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        changed = true;
    }
    let mut kept = Vec::new();
    let mut lifted = Vec::new();
    for param in query_params(&url) {
        if param.is_secret() && !spec.query.contains_key(&param.name) {
            lifted.push((param.name, param.value));
        } else {
            kept.push(param.raw.to_owned());
        }
    }
    if !lifted.is_empty() {
        for (name, value) in lifted {
            spec.query.insert(name, Secret::Literal(value));
        }
        url.set_query((!kept.is_empty()).then(|| kept.join("&")).as_deref());
        changed = true;
    }
    if changed {
        spec.url = url.into();
    }
}

/// `url` with what `lift` would move masked as `***`, for messages: works on text that
/// does not parse as a URL too, since that is when a message shows it.
pub(crate) fn redact(url: &str) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let (before_query, query) = match before_fragment.find('?') {
        Some(at) => (&before_fragment[..at], Some(&before_fragment[at + 1..])),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.find("://") {
        Some(scheme_end) => {
            let authority_start = scheme_end + 3;
            let rest = &before_query[authority_start..];
            let authority_end = rest.find('/').map_or(rest.len(), |at| at);
            let authority = &rest[..authority_end];
            out.push_str(&before_query[..authority_start]);
            match authority.rfind('@') {
                Some(at) => {
                    let user = authority[..at].split(':').next().unwrap_or("");
                    let masked = authority[..at].contains(':');
                    out.push_str(user);
                    if masked {
                        out.push_str(":***");
                    }
                    out.push_str(&authority[at..]);
                }
                None => out.push_str(authority),
            }
            out.push_str(&rest[authority_end..]);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let pieces: Vec<String> = query
            .split('&')
            .map(|raw| {
                let name = form_urlencoded::parse(raw.as_bytes())
                    .next()
                    .map(|(n, _)| n.into_owned())
                    .unwrap_or_default();
                match raw.split_once('=') {
                    Some((written, _)) if is_secret_query(&name) => format!("{written}=***"),
                    _ => raw.to_owned(),
                }
            })
            .collect();
        out.push_str(&pieces.join("&"));
    }
    out.push_str(fragment);
    out
}

/// A URL's percent-encoded user name or password, decoded (what Basic auth sends).
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifted(url: &str) -> SubscriptionSpec {
        let mut spec = SubscriptionSpec::new("a", url);
        lift(&mut spec);
        spec
    }

    #[test]
    fn user_and_password_become_basic_auth_and_leave_the_url() {
        let spec = lifted("https://alice:p%40ss@example.com:8443/sse?x=1");
        assert_eq!(spec.url, "https://example.com:8443/sse?x=1");
        assert_eq!(
            spec.auth,
            Some(AuthSpec::Basic {
                username: "alice".into(),
                password: Secret::Literal("p@ss".into()),
            })
        );
        assert!(spec.query.is_empty());
    }

    #[test]
    fn secret_query_parameters_move_to_query_and_the_rest_stays_as_written() {
        let spec =
            lifted("https://example.com/sse?topic=a%20b&access_token=t%2Bk&apiKey=k&lang=en");
        assert_eq!(spec.url, "https://example.com/sse?topic=a%20b&lang=en");
        assert_eq!(
            spec.query.into_iter().collect::<Vec<_>>(),
            [
                ("access_token".to_owned(), Secret::Literal("t+k".into())),
                ("apiKey".to_owned(), Secret::Literal("k".into())),
            ]
        );
        let spec = lifted("https://example.com/sse?token=t");
        assert_eq!(spec.url, "https://example.com/sse");
        assert!(spec.auth.is_none());
    }

    #[test]
    fn nothing_moves_onto_what_the_spec_already_says() {
        let mut spec = SubscriptionSpec::new("a", "https://bob:pw@example.com/?token=u");
        spec.auth = Some(AuthSpec::Bearer {
            token: Secret::parse("env:T"),
        });
        spec.query.insert("token".into(), Secret::parse("env:U"));
        let before = spec.clone();
        lift(&mut spec);
        assert_eq!(spec, before);
        let plain = lifted("https://example.com/sse?topic=x");
        assert_eq!(plain.url, "https://example.com/sse?topic=x");
    }

    #[test]
    fn redaction_masks_passwords_and_secret_values_even_in_a_broken_url() {
        assert_eq!(
            redact("ftp://alice:pw@host/p?token=abc&x=1#f"),
            "ftp://alice:***@host/p?token=***&x=1#f"
        );
        assert_eq!(redact("https://host/p?x=1"), "https://host/p?x=1");
        assert_eq!(redact("not a url ?api_key=zz"), "not a url ?api_key=***");
        assert_eq!(redact("https://alice@host/"), "https://alice@host/");
    }
}
