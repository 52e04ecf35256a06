//! A small markdown subset turned into the notification server's body markup (`markdown =
//! true` on a rule; ntfy messages published as markdown): bold and italic become `<b>` and
//! `<i>`, links show their text, headings are bold lines, list items start with `•`; code
//! and everything else is plain text. Every piece of text is escaped, so the only tags in
//! the result are the four this module writes ([`crate::unescape_markup`] drops them for a
//! server without markup).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::text::escape_markup;

/// `text` (markdown) as freedesktop body markup.
pub(crate) fn to_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // Where a list item's number goes (`None`: a bullet list), per open list.
    let mut lists: Vec<Option<u64>> = Vec::new();
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&escape_markup(&t)),
            // Markup written in the markdown is shown, never interpreted.
            Event::Html(t) | Event::InlineHtml(t) => out.push_str(&escape_markup(&t)),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Rule => block_break(&mut out),
            Event::Start(Tag::Strong) => out.push_str("<b>"),
            Event::End(TagEnd::Strong) => out.push_str("</b>"),
            Event::Start(Tag::Heading { .. }) => {
                block_break(&mut out);
                out.push_str("<b>");
            }
            Event::End(TagEnd::Heading(_)) => out.push_str("</b>\n"),
            Event::Start(Tag::Emphasis) => out.push_str("<i>"),
            Event::End(TagEnd::Emphasis) => out.push_str("</i>"),
            Event::Start(Tag::Paragraph) | Event::Start(Tag::CodeBlock(_)) => block_break(&mut out),
            Event::Start(Tag::List(first)) => {
                block_break(&mut out);
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
            }
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("• "),
                }
            }
            _ => {}
        }
    }
    out.trim_end().to_owned()
}

/// Starts a new block: one blank line after what came before.
fn block_break(out: &mut String) {
    if out.is_empty() {
        return;
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_italic_links_headings_and_lists() {
        assert_eq!(
            to_markup("**Disk** is *full*: see [the dashboard](https://x.example/d)"),
            "<b>Disk</b> is <i>full</i>: see the dashboard"
        );
        assert_eq!(
            to_markup("# Backup\n\n- one\n- two\n\n1. a\n2. b"),
            "<b>Backup</b>\n\n• one\n• two\n\n1. a\n2. b"
        );
        assert_eq!(to_markup("`a<b>` and ~~gone~~"), "a&lt;b&gt; and gone");
    }

    #[test]
    fn markup_in_the_markdown_is_shown_not_interpreted() {
        let out = to_markup("<b>x</b> <img src=\"file:///etc/passwd\"> &amp;");
        assert!(!out.contains("<b>x") && !out.contains("<img"), "{out}");
        assert!(out.contains("&lt;img"), "{out}");
        // Only the four tags this module writes can be in its output.
        let stripped = out
            .replace("<b>", "")
            .replace("</b>", "")
            .replace("<i>", "")
            .replace("</i>", "");
        assert!(!stripped.contains('<'), "{out}");
    }
}
