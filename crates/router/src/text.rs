//! Text hygiene for everything that reaches the notification server.
//!
//! Event data is untrusted: it may carry markup, terminal escapes or megabytes of text.
//! The notification server interprets a subset of XML in the body (freedesktop
//! `body-markup`), so the body is escaped *after* templates ran; nothing a template or the
//! server sends can turn into a link or an image.

/// Longest rendered body, in characters (servers show a few lines; this bounds D-Bus
/// messages and memory, not what users see).
pub(crate) const MAX_BODY_CHARS: usize = 8 * 1024;
/// Longest rendered title, icon, category, sound, URL, key or app name, in characters.
pub(crate) const MAX_FIELD_CHARS: usize = 1024;

/// Plain single-line text: line breaks and tabs become spaces, other control characters go.
///
/// The freedesktop summary is plain text on one line; a newline there would be shown raw
/// by some servers and swallowed by others.
pub(crate) fn one_line(s: &str, max_chars: usize) -> String {
    let cleaned: String = s
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    truncate(cleaned.trim(), max_chars)
}

/// Multi-line plain text: keeps `\n` and `\t`, turns `\r\n` and lone `\r` into `\n`, and
/// drops every other control character (terminal escapes, NUL, C1 controls).
pub(crate) fn multi_line(s: &str, max_chars: usize) -> String {
    let normalized = s.replace("\r\n", "\n");
    let cleaned: String = normalized
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' => Some('\n'),
            '\t' => Some('\t'),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    truncate(&cleaned, max_chars)
}

/// `s` cut to at most `max_chars` characters, ending in `…` when cut.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_owned(),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

/// Escapes `&`, `<` and `>` for the freedesktop body markup.
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The body as plain text, for a notification server without `body-markup`: such a server
/// shows it as it is, so entities would appear literally and there is no markup to fear.
/// Undoes [`escape_markup`] and drops the only tags a body can hold (the `<b>` and `<i>`
/// of rendered markdown: every `<` of the data itself was escaped).
pub fn unescape_markup(s: &str) -> String {
    s.replace("<b>", "")
        .replace("</b>", "")
        .replace("<i>", "")
        .replace("</i>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The URL as it will be opened, or why it is refused: only absolute `http`/`https` URLs
/// are handed to the desktop's default handler.
///
/// The normalized form is returned so that what is opened is exactly what was checked.
pub fn vet_click_url(s: &str) -> Result<String, String> {
    ssenotify_sse::http_url(s.trim()).map(String::from)
}

/// The first non-empty line of `s`, for summaries that list what they stand for.
pub(crate) fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_markup_neutralises_tags_and_entities() {
        assert_eq!(escape_markup("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;");
        assert_eq!(
            escape_markup(r#"<a href="https://evil">y</a>"#),
            r#"&lt;a href="https://evil"&gt;y&lt;/a&gt;"#
        );
        assert_eq!(escape_markup("<img src=x/>"), "&lt;img src=x/&gt;");
        // An entity in the data must show literally, not decode.
        assert_eq!(escape_markup("&lt;"), "&amp;lt;");
        assert_eq!(escape_markup("a & b"), "a &amp; b");
    }

    #[test]
    fn one_line_strips_controls_and_joins_lines() {
        assert_eq!(one_line(" a\nb\tc\x1b[31m\u{0}d\u{85} ", 100), "a b c[31md");
    }

    #[test]
    fn multi_line_keeps_lines_drops_escapes() {
        assert_eq!(multi_line("a\r\nb\rc\x07\td\x1b", 100), "a\nb\nc\td");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo", 4), "hél…");
        assert_eq!(truncate("ééééé", 1), "…");
    }

    #[test]
    fn click_urls_are_http_or_https_only() {
        assert_eq!(
            vet_click_url(" https://ci.example/b/1 ").unwrap(),
            "https://ci.example/b/1"
        );
        assert_eq!(
            vet_click_url("HTTP://Example.COM").unwrap(),
            "http://example.com/"
        );
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,<script>alert(1)</script>",
            "ftp://example.com/",
            "/relative/path",
            "",
        ] {
            assert!(vet_click_url(bad).is_err(), "{bad} accepted");
        }
        assert!(
            vet_click_url("javascript:alert(1)")
                .unwrap_err()
                .contains("\"javascript\" is not allowed")
        );
    }
}
