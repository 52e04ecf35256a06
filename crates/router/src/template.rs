//! Notification templates: a sandboxed minijinja environment and the `notify` action.
//!
//! Sandbox: templates come from the user's own file, but they render untrusted event data,
//! so every render is bounded by fuel (instructions *and* allocation), there is no loader
//! (nothing can be read from disk), and outputs are cut to size. Auto-escaping is off
//! because HTML escaping is the wrong escaping here: the body is escaped for freedesktop
//! markup once, after rendering ([`super::text`]).

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::button::{CompiledButton, RawButton};
use super::decision::{Notification, RefusedUrl};
use super::error::Errors;
use super::markdown::to_markup;
use super::spec::{MAX_BUTTONS, Preset, RuleSpec, Timeout, Urgency};
use super::text::{
    MAX_BODY_CHARS, MAX_FIELD_CHARS, escape_markup, first_line, multi_line, one_line, vet_click_url,
};
use super::urgency::UrgencyMap;
use super::view::{EventView, check_pointer};
use super::wellknown::known;

/// Fuel per render. Plenty for any sensible template (they use tens to hundreds); a loop
/// bomb stops within a millisecond or so, and allocation stays below a few megabytes.
const TEMPLATE_FUEL: u64 = 100_000;

// How long a summary's line about one event may be.
const SAMPLE_CHARS: usize = 120;

/// The environment every rule of a subscription renders in.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // `{{ json.build.status }}` on data without `build` renders empty instead of failing:
    // event payloads vary, and a missing field is not worth losing the notification.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // Keeps error messages one line and identical in debug and release builds.
    env.set_debug(false);
    env
}

/// The template context: `type`, `id`, `data`, `json` (the parsed data, or none) and
/// `subscription` (its name).
pub(crate) fn context(view: &EventView<'_>, subscription: &str) -> Value {
    let event = view.event;
    Value::from_pairs([
        ("type", Value::from(&*event.event_type)),
        ("id", Value::from(&*event.last_event_id)),
        ("data", Value::from(event.data.as_str())),
        (
            "json",
            view.json()
                .map_or(Value::from(()), |j| Value::from(Serde(j))),
        ),
        ("subscription", Value::from(subscription)),
    ])
}

/// The templated fields of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Body,
    Icon,
    Image,
    Category,
    Sound,
    ClickUrl,
    ReplaceKey,
    Progress,
    AppName,
}

impl Field {
    const ALL: [Field; 10] = [
        Field::Title,
        Field::Body,
        Field::Icon,
        Field::Image,
        Field::Category,
        Field::Sound,
        Field::ClickUrl,
        Field::ReplaceKey,
        Field::Progress,
        Field::AppName,
    ];

    fn key(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
            Field::Icon => "icon",
            Field::Image => "image",
            Field::Category => "category",
            Field::Sound => "sound",
            Field::ClickUrl => "click_url",
            Field::ReplaceKey => "replace_key",
            Field::Progress => "progress",
            Field::AppName => "app_name",
        }
    }

    fn source(self, spec: &RuleSpec) -> Option<&String> {
        match self {
            Field::Title => spec.title.as_ref(),
            Field::Body => spec.body.as_ref(),
            Field::Icon => spec.icon.as_ref(),
            Field::Image => spec.image.as_ref(),
            Field::Category => spec.category.as_ref(),
            Field::Sound => spec.sound.as_ref(),
            Field::ClickUrl => spec.click_url.as_ref(),
            Field::ReplaceKey => spec.replace_key.as_ref(),
            Field::Progress => spec.progress.as_ref(),
            Field::AppName => spec.app_name.as_ref(),
        }
    }
}

/// `url` if it is an http(s) URL (normalized), else nothing.
fn vetted(url: String) -> Option<String> {
    vet_click_url(&url).ok()
}

/// A compiled `notify` action.
pub(crate) struct NotifyRule {
    /// Template name per [`Field`] (indexed by `Field as usize`); `None` uses the default.
    templates: [Option<Box<str>>; Field::ALL.len()],
    /// The rule's fixed urgency; `None` lets the event's own priority decide.
    urgency: Option<Urgency>,
    urgency_from: Option<(String, UrgencyMap)>,
    timeout: Timeout,
    break_quiet: Option<bool>,
    /// Whether the body is markdown; `None`: when the event says so.
    markdown: Option<bool>,
    /// The rule's buttons; none: the event's own (ntfy's `actions`).
    buttons: Vec<CompiledButton>,
}

/// A rendered notification and what went wrong on the way.
pub(crate) struct Rendered {
    pub(crate) notification: Notification,
    pub(crate) template_error: Option<String>,
    pub(crate) refused_click_url: Option<RefusedUrl>,
    pub(crate) break_quiet: bool,
    /// One plain line standing for this event in a summary or digest.
    pub(crate) sample: String,
}

impl NotifyRule {
    pub(crate) fn compile(
        spec: &RuleSpec,
        env: &mut Environment<'static>,
        errs: &mut Errors<'_>,
    ) -> Option<Self> {
        let before = errs.list.len();
        let mut templates: [Option<Box<str>>; Field::ALL.len()] = Default::default();
        for field in Field::ALL {
            let Some(source) = field.source(spec) else {
                continue;
            };
            // The name doubles as the location in render errors: "(in rules[2].body:1)".
            let name = format!("rules[{}].{}", errs.rule, field.key());
            match env.add_template_owned(name.clone(), source.clone()) {
                Ok(()) => templates[field as usize] = Some(name.into()),
                Err(e) => errs.push(field.key(), e.to_string()),
            }
        }
        if spec.buttons.len() > MAX_BUTTONS {
            errs.push(
                "buttons",
                format!(
                    "{} buttons; a notification shows at most {MAX_BUTTONS}",
                    spec.buttons.len()
                ),
            );
        }
        let mut add = |errs: &mut Errors<'_>, key: String, source: &str| {
            if source.trim().is_empty() {
                errs.push(key, "must not be empty");
                return None;
            }
            let name = format!("rules[{}].{key}", errs.rule);
            match env.add_template_owned(name.clone(), source.to_owned()) {
                Ok(()) => Some(name.into_boxed_str()),
                Err(e) => {
                    errs.push(key, e.to_string());
                    None
                }
            }
        };
        let buttons: Vec<CompiledButton> = spec
            .buttons
            .iter()
            .enumerate()
            .filter_map(|(j, button)| CompiledButton::compile(j, button, errs, &mut add))
            .collect();
        let urgency_from = match (&spec.urgency_from, &spec.urgency_map) {
            (None, None) => None,
            (None, Some(_)) => {
                errs.push(
                    "urgency_map",
                    "needs urgency_from (the JSON pointer it maps)",
                );
                None
            }
            (Some(pointer), map) => {
                if let Err(m) = check_pointer(pointer) {
                    errs.push("urgency_from", m);
                }
                UrgencyMap::compile(map.as_ref())
                    .map_err(|m| errs.push("urgency_map", m))
                    .ok()
                    .map(|m| (pointer.clone(), m))
            }
        };
        (errs.list.len() == before).then(|| Self {
            templates,
            urgency: spec.urgency,
            urgency_from,
            timeout: spec.timeout.unwrap_or_default(),
            break_quiet: spec.break_quiet,
            markdown: spec.markdown,
            buttons,
        })
    }

    /// Renders the notification for `view`; never fails (errors fall back to defaults).
    /// A field without a template takes what the event's JSON says (`wellknown.rs`), or
    /// the default: the subscription's name (and the event's type, unless `message`) as
    /// the title, the data as the body.
    pub(crate) fn render(
        &self,
        env: Option<&Environment<'static>>,
        view: &EventView<'_>,
        subscription: &str,
        preset: Option<Preset>,
    ) -> Rendered {
        let ctx = (self.templates.iter().any(Option::is_some) || !self.buttons.is_empty())
            .then(|| context(view, subscription));
        let mut errors = Vec::new();
        let mut render_named = |name: &str| -> Option<String> {
            let ctx = ctx.as_ref()?;
            env?.get_template(name)
                .and_then(|t| t.render(ctx))
                .map_err(|e| errors.push(e.to_string()))
                .ok()
        };
        let rendered_buttons: Vec<RawButton> = self
            .buttons
            .iter()
            .filter_map(|button| button.render(&mut |name| render_named(name)))
            .collect();
        let mut render = |field: Field| -> Option<String> {
            render_named(self.templates[field as usize].as_deref()?)
        };
        let short = |s: String| Some(one_line(&s, MAX_FIELD_CHARS)).filter(|s| !s.is_empty());

        let mut known = view.json().and_then(|json| known(json, preset));
        let markdown = self
            .markdown
            .unwrap_or_else(|| known.as_ref().is_some_and(|k| k.markdown));
        let event_type = &*view.event.event_type;
        let default_title = if event_type == "message" {
            one_line(subscription, MAX_FIELD_CHARS)
        } else {
            one_line(&format!("{subscription} · {event_type}"), MAX_FIELD_CHARS)
        };
        let title = render(Field::Title)
            .or_else(|| known.as_mut()?.title.take())
            .and_then(short)
            .unwrap_or_else(|| default_title.clone());
        let body = multi_line(
            render(Field::Body)
                .or_else(|| known.as_mut().map(|k| std::mem::take(&mut k.body)))
                .as_deref()
                .unwrap_or(&view.event.data),
            MAX_BODY_CHARS,
        );
        // An icon or image from the data is an http(s) URL (fetched by the notifier) or
        // nothing: a path from a remote server must not make the desktop read local files.
        let icon = render(Field::Icon)
            .and_then(short)
            .or_else(|| known.as_mut()?.icon.take().and_then(vetted));
        let image = render(Field::Image)
            .and_then(short)
            .and_then(vetted)
            .or_else(|| known.as_mut()?.image.take().and_then(vetted));
        let category = render(Field::Category).and_then(short);
        let sound = render(Field::Sound).and_then(short);
        let replace_key = render(Field::ReplaceKey).and_then(short);
        let app_name = render(Field::AppName).and_then(short);
        let mut refused_click_url = None;
        let click_url = render(Field::ClickUrl)
            .or_else(|| known.as_mut()?.click.take())
            .and_then(short)
            .and_then(|url| match vet_click_url(&url) {
                Ok(ok) => Some(ok),
                Err(reason) => {
                    refused_click_url = Some(RefusedUrl { url, reason });
                    None
                }
            });
        let offered = if self.buttons.is_empty() {
            known
                .as_mut()
                .map(|k| std::mem::take(&mut k.buttons))
                .unwrap_or_default()
        } else {
            rendered_buttons
        };
        let buttons = offered
            .into_iter()
            .filter_map(|button| {
                button
                    .vet()
                    .map_err(|refused| {
                        if let Some(refused) = refused {
                            refused_click_url.get_or_insert(refused);
                        }
                    })
                    .ok()
            })
            .take(MAX_BUTTONS)
            .collect();
        let progress_name = self.templates[Field::Progress as usize].as_deref();
        let progress = render(Field::Progress).and_then(short).and_then(|p| {
            match p.parse::<f64>().ok().filter(|n| n.is_finite()) {
                // Clamped, not refused: 101% from a sloppy server still means "done".
                Some(n) => Some(n.clamp(0.0, 100.0).round() as u8),
                None => {
                    errors.push(format!(
                        "expected a number from 0 to 100, got {p:?} (in {})",
                        progress_name.unwrap_or("progress")
                    ));
                    None
                }
            }
        });
        let configured = self
            .urgency_from
            .as_ref()
            .and_then(|(pointer, map)| map.lookup(view.json()?.pointer(pointer)?))
            .or(self.urgency);
        let urgency = configured
            .or(known.and_then(|k| k.urgency))
            .unwrap_or_default();

        let line = first_line(&body);
        // The default title is the subscription name, which the summary already says.
        let sample = match (title == default_title, line.is_empty()) {
            (_, true) => title.clone(),
            (true, false) => line.to_owned(),
            (false, false) => format!("{title}: {line}"),
        };
        Rendered {
            notification: Notification {
                app_name,
                title,
                body: if markdown {
                    to_markup(&body)
                } else {
                    escape_markup(&body)
                },
                icon,
                image,
                urgency,
                timeout: self.timeout,
                category,
                sound,
                click_url,
                replace_key,
                progress,
                buttons,
            },
            template_error: (!errors.is_empty()).then(|| errors.join("; ")),
            refused_click_url,
            // An urgency the rule asked for breaks quiet hours when critical; one a server
            // gave itself does not (as in ntfy's apps, where even priority 5 waits for the
            // user's do-not-disturb unless told otherwise).
            break_quiet: self
                .break_quiet
                .unwrap_or(configured == Some(Urgency::Critical)),
            sample: one_line(&sample, SAMPLE_CHARS),
        }
    }
}
