//! Which names hold secrets: header names and query parameter names. A value under such a
//! name must not be written in clear in the subscriptions file; `add` and `import` stash
//! it.

/// Whether a header's value is a secret that must not be written in clear: the client's
/// own rule, so what the file stashes is exactly what never follows a redirect elsewhere.
pub use ssenotify_sse::is_secret_header;

/// Whether a query parameter's value is a secret: its name is judged by the same rule as a
/// header's (`token`, `key`, `secret`, `password`, `auth`... in any case).
pub fn is_secret_query(name: &str) -> bool {
    // Header names are tokens; other characters only separate words here.
    let token: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    is_secret_header(&token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "X-Api-Key",
            "X-Auth-Token",
            "X-Secret",
            "X-Password",
            "X-AUTH",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in ["Accept-Language", "X-Title", "User-Agent"] {
            assert!(!is_secret_header(name), "{name}");
        }
    }

    #[test]
    fn query_names_are_judged_like_header_names() {
        for secret in [
            "token",
            "access_token",
            "apiKey",
            "api key",
            "auth",
            "password",
            "SECRET",
        ] {
            assert!(is_secret_query(secret), "{secret}");
        }
        for plain in ["topic", "since", "lang", "x"] {
            assert!(!is_secret_query(plain), "{plain}");
        }
    }
}
