//! The event as rules see it: its data parsed as JSON at most once, and the JSON helpers
//! conditions, templates and urgency maps share.

use std::cell::OnceCell;

use serde_json::Value;
use ssenotify_sse::Event;

/// An event with its data parsed as JSON at most once, and only if some rule asks.
pub(crate) struct EventView<'a> {
    pub(crate) event: &'a Event,
    json: OnceCell<Option<Value>>,
}

impl<'a> EventView<'a> {
    pub(crate) fn new(event: &'a Event) -> Self {
        Self {
            event,
            json: OnceCell::new(),
        }
    }

    /// The data as JSON, or `None` when it is not JSON.
    pub(crate) fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_str(&self.event.data).ok())
            .as_ref()
    }
}

/// RFC 6901: empty, or `/`-separated tokens where `~` is only `~0` or `~1`.
pub(crate) fn check_pointer(p: &str) -> Result<(), String> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(format!(
            "a JSON pointer starts with `/` (did you mean \"/{p}\"?)"
        ));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("`~` must be escaped as `~0` (and `/` inside a key as `~1`)".into());
        }
    }
    Ok(())
}

/// A number, or a string that is one (servers often quote numbers).
pub(crate) fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}
