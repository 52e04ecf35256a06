//! Buttons: a rule's `view` and `http` buttons compiled and rendered, ntfy's `actions`
//! read from an event, and the one check every button passes before it is offered (its
//! URL is http(s), an `http` button's method is one we send).
//!
//! Trust: a rule's `http` button comes from the user's file, so its header values may be
//! secret references, resolved by the daemon when the button is pressed and sent only to
//! the origin the rule's URL names as written ([`HttpRequest::secret_origin`]). An event's
//! own `http` action (ntfy) is untrusted data: its headers are sent as given, never read as
//! references, and nothing of ours is attached.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::decision::{Button, HttpRequest, Press, RefusedUrl};
use super::error::Errors;
use super::spec::{ButtonSpec, DEFAULT_HTTP_TIMEOUT, MAX_HTTP_TIMEOUT};
use super::text::{MAX_FIELD_CHARS, one_line, vet_click_url};

/// The methods an `http` button may send (ntfy's apps send these).
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// The method of an `http` button that names none, as in ntfy.
const DEFAULT_METHOD: &str = "POST";

/// Adds a template named after its key (`buttons[0].label`) and says its name; reports its
/// own errors.
pub(crate) type AddTemplate<'a> = dyn FnMut(&mut Errors<'_>, String, &str) -> Option<Box<str>> + 'a;

/// A button as compiled: template names (the templates live in the rule's environment).
pub(crate) struct CompiledButton {
    label: Box<str>,
    press: CompiledPress,
}

enum CompiledPress {
    View(Box<str>),
    Http {
        url: Box<str>,
        body: Option<Box<str>>,
        method: &'static str,
        headers: BTreeMap<String, String>,
        timeout: Duration,
        secret_origin: Option<String>,
    },
}

/// A button rendered (or read from an event) whose URL is not vetted yet.
#[derive(Debug, PartialEq)]
pub(crate) struct RawButton {
    pub(crate) label: String,
    pub(crate) press: Press,
}

impl CompiledButton {
    /// Compiles button `j` of a rule; `add(key, source)` adds a template named after
    /// `buttons[j].key` and says its name (it reports its own errors).
    pub(crate) fn compile(
        j: usize,
        spec: &ButtonSpec,
        errs: &mut Errors<'_>,
        add: &mut AddTemplate<'_>,
    ) -> Option<Self> {
        let key = |k: &str| format!("buttons[{j}].{k}");
        let label = add(errs, key("label"), &spec.label);
        let press = match (&spec.view, &spec.http) {
            (Some(view), None) => add(errs, key("view"), view).map(CompiledPress::View),
            (None, Some(http)) => {
                let url = add(errs, key("http.url"), &http.url);
                let body = http.body.as_ref().map(|b| add(errs, key("http.body"), b));
                let method = match http.method.as_deref() {
                    None => Some(DEFAULT_METHOD),
                    Some(m) => method(m).or_else(|| {
                        errs.push(
                            key("http.method"),
                            format!("{m:?} is not one of {}", METHODS.join(", ")),
                        );
                        None
                    }),
                };
                let timeout = http.timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT);
                if timeout.is_zero() || timeout > MAX_HTTP_TIMEOUT {
                    errs.push(key("http.timeout"), "must be more than 0s and at most 60s");
                }
                for (name, value) in &http.headers {
                    if let Err(why) = check_header(name, value) {
                        errs.push(key(&format!("http.headers.{name}")), why);
                    }
                }
                let secret_origin = literal_origin(&http.url);
                (|| {
                    Some(CompiledPress::Http {
                        url: url?,
                        body: match body {
                            Some(body) => Some(body?),
                            None => None,
                        },
                        method: method?,
                        headers: http.headers.clone(),
                        timeout,
                        secret_origin,
                    })
                })()
            }
            (Some(_), Some(_)) => {
                errs.push(key("view"), "a button is either view or http, not both");
                None
            }
            (None, None) => {
                errs.push(
                    format!("buttons[{j}]"),
                    "needs view (a URL to open) or http (a request to send)",
                );
                None
            }
        };
        Some(Self {
            label: label?,
            press: press?,
        })
    }

    /// Renders the button with `render` (a template name in, its text out); `None` when a
    /// template failed (the error is recorded by `render`).
    pub(crate) fn render(
        &self,
        render: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Option<RawButton> {
        let label = render(&self.label)?;
        let press = match &self.press {
            CompiledPress::View(url) => Press::View(render(url)?),
            CompiledPress::Http {
                url,
                body,
                method,
                headers,
                timeout,
                secret_origin,
            } => Press::Http(HttpRequest {
                method: (*method).to_owned(),
                url: render(url)?,
                headers: headers.clone(),
                body: match body {
                    Some(body) => render(body)?,
                    None => String::new(),
                },
                timeout: *timeout,
                secret_origin: secret_origin.clone(),
                from_event: false,
            }),
        };
        Some(RawButton { label, press })
    }
}

impl RawButton {
    /// The button as offered: label on one line, URL vetted (normalized); the refusal
    /// when the URL is not http(s) or the label is empty.
    pub(crate) fn vet(self) -> Result<Button, Option<RefusedUrl>> {
        let label = one_line(&self.label, MAX_FIELD_CHARS);
        let press = match self.press {
            Press::View(url) => Press::View(vet(url)?),
            Press::Http(mut request) => {
                request.url = vet(request.url)?;
                Press::Http(request)
            }
        };
        if label.is_empty() {
            return Err(None);
        }
        Ok(Button { label, press })
    }
}

fn vet(url: String) -> Result<String, Option<RefusedUrl>> {
    vet_click_url(&url).map_err(|reason| Some(RefusedUrl { url, reason }))
}

/// The method, upper-cased, if it is one an `http` button sends.
fn method(text: &str) -> Option<&'static str> {
    METHODS
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(text.trim()))
}

/// Whether a header's name is an HTTP token and its value holds no line break.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err("a header name is letters, digits and !#$%&'*+-.^_`|~ only".into());
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("a header value must not hold line breaks or control characters".into());
    }
    Ok(())
}

/// The origin (`https://host:port`, normalized) that a URL template names as written, or
/// none when its scheme, host or port is templated (or it is no http(s) URL).
///
/// Secret headers go only there, so a template cannot send them to a host that the event
/// data names.
pub fn literal_origin(template: &str) -> Option<String> {
    let template = template.trim();
    let (scheme, rest) = template.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains(['{', '}']) || scheme.contains(['{', '}']) {
        return None;
    }
    origin_of(&format!("{scheme}://{authority}/"))
}

/// The origin of an http(s) URL (`https://host:port`, default ports left out).
pub fn origin_of(url: &str) -> Option<String> {
    let url = ssenotify_sse::http_url(url).ok()?;
    Some(url.origin().ascii_serialization())
}

/// ntfy's actions of an event: `view` (open a URL) and `http` (send a request, POST by
/// default); `broadcast` is Android's and is left out.
pub(crate) fn ntfy_actions(object: &Map<String, Value>, with_http: bool) -> Vec<RawButton> {
    let text = |action: &Map<String, Value>, key: &str| -> Option<String> {
        Some(action.get(key)?.as_str()?.to_owned())
    };
    object
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|action| {
            let action = action.as_object()?;
            let label = text(action, "label")?;
            let url = text(action, "url")?;
            let press = match action.get("action")?.as_str()? {
                "view" => Press::View(url),
                "http" if with_http => Press::Http(HttpRequest {
                    // A method we do not send leaves the button out rather than guess.
                    method: match action.get("method") {
                        None => DEFAULT_METHOD,
                        Some(m) => method(m.as_str()?)?,
                    }
                    .to_owned(),
                    url,
                    headers: action
                        .get("headers")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .filter_map(|(name, value)| {
                            let value = value.as_str()?;
                            check_header(name, value).ok()?;
                            Some((name.clone(), value.to_owned()))
                        })
                        .collect(),
                    body: text(action, "body").unwrap_or_default(),
                    timeout: DEFAULT_HTTP_TIMEOUT,
                    secret_origin: None,
                    from_event: true,
                }),
                _ => return None,
            };
            Some(RawButton { label, press })
        })
        .collect()
}
