//! Where a value sits in the source text, for error messages.
//!
//! Validation works on the parsed set, so a problem is found by its path (`subscription`,
//! 2, `url`); these functions map that path back to a line and column. Keeping spans out of
//! the spec types means one validation serves TOML, JSON and sets built in code alike.

use std::fmt;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A key of a table/object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        Self::Key(key.to_owned())
    }
}

impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

/// A path written as people read it: `subscription[2].headers.Authorization`.
pub(crate) struct DisplayPath<'a>(pub &'a [PathSegment]);

impl fmt::Display for DisplayPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Key(key) if i == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The byte offset of the value at `path` in a TOML document, or of its deepest ancestor
/// present (a missing key is reported at the table that lacks it).
pub(crate) fn toml_offset(text: &str, path: &[PathSegment]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut found = root.span().start;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in path {
        let next = match (seg, table, array) {
            (PathSegment::Key(key), Some(t), _) => t
                .iter()
                .find(|(k, _)| k.get_ref() == key)
                .map(|(_, value)| value),
            (PathSegment::Index(index), _, Some(a)) => a.get(*index),
            _ => None,
        };
        let Some(next) = next else { break };
        found = next.span().start;
        (table, array) = match next.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    Some(found)
}

/// The byte offset of the value at `path` in a JSON document (already known to be valid),
/// or of its deepest ancestor present.
pub(crate) fn json_offset(text: &str, path: &[PathSegment]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    for seg in path {
        match (seg, bytes.get(pos)) {
            (PathSegment::Key(key), Some(b'{')) => match json_member(text, pos, key) {
                Some(start) => pos = start,
                None => break,
            },
            (PathSegment::Index(index), Some(b'[')) => match json_element(bytes, pos, *index) {
                Some(start) => pos = start,
                None => break,
            },
            _ => break,
        }
    }
    Some(pos)
}

/// The start of the value of member `key` of the object at `pos`.
fn json_member(text: &str, pos: usize, key: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, pos + 1);
    while bytes.get(pos) == Some(&b'"') {
        let key_end = skip_string(bytes, pos)?;
        // Decoded with serde_json so that escaped keys compare as the parser saw them.
        let name: String = serde_json::from_str(&text[pos..key_end]).ok()?;
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
        if name == key {
            return Some(pos);
        }
        pos = skip_ws(bytes, skip_value(bytes, pos)?);
        if bytes.get(pos) != Some(&b',') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
    }
    None
}

/// The start of element `index` of the array at `pos`.
fn json_element(bytes: &[u8], pos: usize, index: usize) -> Option<usize> {
    let mut pos = skip_ws(bytes, pos + 1);
    for _ in 0..index {
        if bytes.get(pos) == Some(&b']') {
            return None;
        }
        pos = skip_ws(bytes, skip_value(bytes, pos)?);
        if bytes.get(pos) != Some(&b',') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
    }
    (bytes.get(pos) != Some(&b']')).then_some(pos)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        pos += 1;
    }
    pos
}

/// The offset just past the string starting (with its quote) at `pos`.
fn skip_string(bytes: &[u8], mut pos: usize) -> Option<usize> {
    pos += 1;
    loop {
        match bytes.get(pos)? {
            b'\\' => pos += 2,
            b'"' => return Some(pos + 1),
            _ => pos += 1,
        }
    }
}

/// The offset just past the value starting at `pos`.
fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    match bytes.get(pos)? {
        b'"' => skip_string(bytes, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut pos = pos;
            loop {
                match bytes.get(pos)? {
                    b'"' => {
                        pos = skip_string(bytes, pos)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(pos + 1);
                        }
                    }
                    _ => {}
                }
                pos += 1;
            }
        }
        _ => {
            let mut pos = pos;
            while !matches!(
                bytes.get(pos),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
            ) {
                pos += 1;
            }
            Some(pos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segs: &[&str]) -> Vec<PathSegment> {
        segs.iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => PathSegment::Index(i),
                Err(_) => PathSegment::Key((*s).to_owned()),
            })
            .collect()
    }

    fn at(text: &str, offset: Option<usize>) -> (usize, usize) {
        line_col(text, offset.unwrap())
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "ab\ncé d\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, text.find('d').unwrap()), (2, 4));
        assert_eq!(line_col(text, 5), (2, 2), "inside a multi-byte character");
    }

    #[test]
    fn toml_paths_find_values_and_fall_back_to_the_parent() {
        let text = "version = 1\n\n[[subscription]]\nid = \"a\"\nurl = \"x\"\n\n[[subscription]]\nid = \"b\"\nheaders = { Cookie = \"c\" }\n";
        let find = |p: &[&str]| at(text, toml_offset(text, &path(p)));
        assert_eq!(find(&["version"]), (1, 11));
        assert_eq!(find(&["subscription", "0", "url"]), (5, 7));
        assert_eq!(find(&["subscription", "1", "id"]), (8, 6));
        assert_eq!(find(&["subscription", "1", "headers", "Cookie"]), (9, 22));
        // `url` is missing from the second table: reported where that table is.
        let (line, _) = find(&["subscription", "1", "url"]);
        assert!((7..=9).contains(&line), "{line}");
    }

    #[test]
    fn json_paths_find_values_and_fall_back_to_the_parent() {
        let text = "{\n  \"version\": 1,\n  \"subscriptions\": [\n    {\"id\": \"a\", \"url\": \"x\", \"h\": {\"k\": [1, {\"}\": \"]\"}]}},\n    {\"id\": \"b\",\n     \"url\": \"y\\\"z\"}\n  ]\n}\n";
        let find = |p: &[&str]| at(text, json_offset(text, &path(p)));
        assert_eq!(find(&["version"]), (2, 14));
        assert_eq!(find(&["subscriptions", "0", "url"]), (4, 24));
        assert_eq!(find(&["subscriptions", "1", "url"]), (6, 13));
        assert_eq!(find(&["subscriptions", "1", "name"]), (5, 5));
        assert_eq!(find(&["subscriptions", "7"]), (3, 20));
    }
}
