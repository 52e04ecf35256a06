//! Compiled rules: event-type matchers, data conditions and actions, validated up front so
//! that a broken rule is reported when the file is loaded, not when an event arrives.

use std::borrow::Cow;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use minijinja::Environment;
use regex::Regex;
use serde_json::Value;

use crate::error::{Errors, RuleErrors};
use crate::spec::{ActionKind, ConditionSpec, Preset, RuleSpec};
use crate::template::{self, NotifyRule};
use crate::view::{EventView, check_pointer, number_of};

/// What a command may run for when the rule gives no `command_timeout`.
pub(crate) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A subscription's rules, compiled, with the template environment they render in.
pub(crate) struct Rules {
    pub(crate) rules: Vec<Rule>,
    /// True when the subscription has no rules and `rules` holds the implicit defaults.
    pub(crate) implicit: bool,
    /// Where the templates live; `None` when no rule has one (the implicit defaults never
    /// do), which spares 10,000 subscriptions without rules an environment each.
    pub(crate) env: Option<Box<Environment<'static>>>,
}

/// Event types that servers send to keep a connection alive or to say hello: without
/// rules they are neither shown nor kept (a keep-alive every 30 s would push real
/// messages out of the history within hours). `open` is also the name of EventSource's
/// own event, so no server meant for browsers sends it; ntfy does, with `poll_request`.
pub(crate) const HOUSEKEEPING: &str = "{keepalive,heartbeat,ping,open,poll_request}";

/// The rules of a subscription that has none: every event notifies but housekeeping ones;
/// with `preset = "ntfy"`, `message` events only (ntfy's `open`, `keepalive` and
/// `poll_request` are its protocol, not messages).
fn implicit_rules(preset: Option<Preset>) -> [RuleSpec; 2] {
    let rule = |event: &str, action| RuleSpec {
        event: Some(event.into()),
        action,
        ..RuleSpec::default()
    };
    match preset {
        None => [
            rule(HOUSEKEEPING, ActionKind::Drop),
            rule("*", ActionKind::Notify),
        ],
        Some(Preset::Ntfy) => [
            rule("message", ActionKind::Notify),
            rule("*", ActionKind::Drop),
        ],
    }
}

impl Rules {
    /// Compiles `specs`; no rules at all means the implicit defaults of `preset`.
    pub(crate) fn compile(specs: &[RuleSpec], preset: Option<Preset>) -> Result<Self, RuleErrors> {
        let mut env = template::environment();
        let mut errors = Vec::new();
        let implicit = specs.is_empty();
        let defaults = implicit_rules(preset);
        let specs = if implicit { &defaults[..] } else { specs };
        let rules: Vec<Rule> = specs
            .iter()
            .enumerate()
            .filter_map(|(i, spec)| {
                let mut errs = Errors {
                    rule: i,
                    list: &mut errors,
                };
                Rule::compile(spec, &mut env, &mut errs)
            })
            .collect();
        if errors.is_empty() {
            let has_templates = env.templates().next().is_some();
            let env = has_templates.then(|| Box::new(env));
            Ok(Self {
                rules,
                implicit,
                env,
            })
        } else {
            Err(RuleErrors(errors))
        }
    }

    /// The first rule matching the event, with its index.
    pub(crate) fn first_match(&self, event: &EventView<'_>) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(event))
    }
}

/// One compiled rule.
pub(crate) struct Rule {
    event: EventMatcher,
    when: Vec<Condition>,
    pub(crate) action: RuleAction,
}

/// What a compiled rule does.
pub(crate) enum RuleAction {
    Notify(Box<NotifyRule>),
    History,
    Drop,
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
}

// Keys that only make sense for one action; naming them elsewhere is a mistake worth
// reporting, not ignoring.
fn notify_only_keys(spec: &RuleSpec) -> impl Iterator<Item = &'static str> {
    [
        ("title", spec.title.is_some()),
        ("body", spec.body.is_some()),
        ("icon", spec.icon.is_some()),
        ("image", spec.image.is_some()),
        ("urgency", spec.urgency.is_some()),
        ("urgency_from", spec.urgency_from.is_some()),
        ("urgency_map", spec.urgency_map.is_some()),
        ("timeout", spec.timeout.is_some()),
        ("category", spec.category.is_some()),
        ("sound", spec.sound.is_some()),
        ("click_url", spec.click_url.is_some()),
        ("replace_key", spec.replace_key.is_some()),
        ("progress", spec.progress.is_some()),
        ("app_name", spec.app_name.is_some()),
        ("break_quiet", spec.break_quiet.is_some()),
        ("markdown", spec.markdown.is_some()),
        ("buttons", !spec.buttons.is_empty()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
}

fn command_only_keys(spec: &RuleSpec) -> impl Iterator<Item = &'static str> {
    [
        ("command", !spec.command.is_empty()),
        ("command_timeout", spec.command_timeout.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
}

/// `expect_every` counts the rule's matches, also across restarts through history, which
/// never holds a dropped event.
fn check_expect_every(spec: &RuleSpec, errs: &mut Errors<'_>) {
    match spec.expect_every {
        Some(every) if every.is_zero() => errs.push("expect_every", "must be more than 0s"),
        Some(_) if spec.action == ActionKind::Drop => errs.push(
            "expect_every",
            "a drop rule's events are not kept, so they cannot be counted across restarts; use action = \"history\"",
        ),
        Some(_) => {}
        None if spec.silent_urgency.is_some() => {
            errs.push("silent_urgency", "only used with expect_every");
        }
        None => {}
    }
}

impl Rule {
    fn compile(
        spec: &RuleSpec,
        env: &mut Environment<'static>,
        errs: &mut Errors<'_>,
    ) -> Option<Self> {
        let before = errs.list.len();
        let event = EventMatcher::compile(spec.event.as_deref().unwrap_or("message"))
            .map_err(|m| errs.push("event", m))
            .ok();
        let when: Vec<Condition> = spec
            .when
            .iter()
            .enumerate()
            .filter_map(|(j, c)| Condition::compile(c, &format!("when[{j}]"), errs))
            .collect();
        if spec.action != ActionKind::Notify {
            for key in notify_only_keys(spec) {
                errs.push(key, "only used with action = \"notify\"");
            }
        }
        if spec.action != ActionKind::Command {
            for key in command_only_keys(spec) {
                errs.push(key, "only used with action = \"command\"");
            }
        }
        check_expect_every(spec, errs);
        let action = match spec.action {
            ActionKind::Notify => {
                NotifyRule::compile(spec, env, errs).map(|n| RuleAction::Notify(Box::new(n)))
            }
            ActionKind::History => Some(RuleAction::History),
            ActionKind::Drop => Some(RuleAction::Drop),
            ActionKind::Command => match spec.command.first() {
                Some(program) if !program.trim().is_empty() => Some(RuleAction::Command {
                    argv: spec.command.clone(),
                    timeout: spec.command_timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
                }),
                _ => {
                    errs.push("command", "action = \"command\" needs a program: command = [\"/path/to/program\", \"arg\", ...]");
                    None
                }
            },
        };
        if errs.list.len() > before {
            return None;
        }
        Some(Self {
            event: event?,
            when,
            action: action?,
        })
    }

    fn matches(&self, view: &EventView<'_>) -> bool {
        self.event.matches(&view.event.event_type) && self.when.iter().all(|c| c.holds(view))
    }
}

/// Matches the event type exactly, or by glob when the pattern has glob syntax.
///
/// `*` and a list of names (`{open,keepalive}`) are matched without a compiled glob: every
/// subscription without rules has both, and a glob's regex costs kilobytes each.
enum EventMatcher {
    Any,
    Exact(String),
    OneOf(Vec<String>),
    Glob(GlobMatcher),
}

impl EventMatcher {
    fn compile(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err(
                "must not be empty (omit it to match `message`, or use \"*\" for all)".into(),
            );
        }
        if pattern == "*" {
            return Ok(Self::Any);
        }
        if !pattern.contains(['*', '?', '[', '{']) {
            return Ok(Self::Exact(pattern.to_owned()));
        }
        let name = |s: &str| !s.is_empty() && !s.contains(['*', '?', '[', ']', '{', '}', '\\']);
        if let Some(list) = pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
            && list.split(',').all(name)
        {
            return Ok(Self::OneOf(list.split(',').map(str::to_owned).collect()));
        }
        // Event types are not paths: `*` crosses `/` (the globset default).
        Glob::new(pattern)
            .map(|g| Self::Glob(g.compile_matcher()))
            .map_err(|e| format!("invalid glob: {}", e.kind()))
    }

    fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(s) => s == event_type,
            Self::OneOf(names) => names.iter().any(|n| n == event_type),
            Self::Glob(g) => g.is_match(event_type),
        }
    }
}

/// One compiled `when` condition.
struct Condition {
    /// `None`: the raw data text; `Some`: the JSON value at this pointer.
    pointer: Option<String>,
    ops: Vec<Op>,
    negate: bool,
}

enum Op {
    Equals(Value),
    Exists(bool),
    Regex(Regex),
    Contains(String),
    Compare(Ordering, f64),
}

#[derive(Clone, Copy)]
enum Ordering {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Condition {
    fn compile(spec: &ConditionSpec, at: &str, errs: &mut Errors<'_>) -> Option<Self> {
        let before = errs.list.len();
        if let Some(p) = &spec.pointer
            && let Err(m) = check_pointer(p)
        {
            errs.push(format!("{at}.pointer"), m);
        }
        let mut ops = Vec::new();
        if let Some(v) = &spec.equals {
            if spec.pointer.is_none() && !v.is_string() {
                errs.push(
                    format!("{at}.equals"),
                    "without a pointer the raw data is compared, so this must be a string \
                     (add pointer = \"\" to compare the whole JSON document)",
                );
            }
            ops.push(Op::Equals(v.clone()));
        }
        if let Some(b) = spec.exists {
            ops.push(Op::Exists(b));
        }
        if let Some(r) = &spec.regex {
            match Regex::new(r) {
                Ok(re) => ops.push(Op::Regex(re)),
                Err(e) => errs.push(format!("{at}.regex"), regex_error(r, &e)),
            }
        }
        if let Some(s) = &spec.contains {
            ops.push(Op::Contains(s.clone()));
        }
        for (key, ord, n) in [
            ("gt", Ordering::Gt, &spec.gt),
            ("ge", Ordering::Ge, &spec.ge),
            ("lt", Ordering::Lt, &spec.lt),
            ("le", Ordering::Le, &spec.le),
        ] {
            if let Some(n) = n.as_ref().and_then(serde_json::Number::as_f64) {
                ops.push(Op::Compare(ord, n));
            } else if n.is_some() {
                errs.push(format!("{at}.{key}"), "not a representable number");
            }
        }
        if spec.pointer.is_none() {
            for (key, set) in [
                ("exists", spec.exists.is_some()),
                ("gt", spec.gt.is_some()),
                ("ge", spec.ge.is_some()),
                ("lt", spec.lt.is_some()),
                ("le", spec.le.is_some()),
            ] {
                if set {
                    errs.push(
                        format!("{at}.{key}"),
                        "needs a pointer (pointer = \"\" is the whole JSON document)",
                    );
                }
            }
        }
        if ops.is_empty() && errs.list.len() == before {
            errs.push(
                at.to_owned(),
                "a condition needs an operator: equals, exists, regex, contains, gt, ge, lt or le",
            );
        }
        (errs.list.len() == before).then_some(Self {
            pointer: spec.pointer.clone(),
            ops,
            negate: spec.not,
        })
    }

    fn holds(&self, view: &EventView<'_>) -> bool {
        let result = match &self.pointer {
            None => {
                let text = view.event.data.as_str();
                self.ops.iter().all(|op| match op {
                    Op::Equals(Value::String(s)) => text == s,
                    Op::Regex(re) => re.is_match(text),
                    Op::Contains(s) => text.contains(s.as_str()),
                    // Rejected at compile time; never true rather than panicking.
                    _ => false,
                })
            }
            Some(pointer) => {
                // Non-JSON data never matches a JSON condition, negated or not.
                let Some(json) = view.json() else {
                    return false;
                };
                let value = json.pointer(pointer);
                self.ops.iter().all(|op| op_holds(op, value))
            }
        };
        result != self.negate
    }
}

fn op_holds(op: &Op, value: Option<&Value>) -> bool {
    match (op, value) {
        (Op::Exists(want), v) => v.is_some() == *want,
        (_, None) => false,
        (Op::Equals(want), Some(v)) => json_equals(v, want),
        (Op::Regex(re), Some(v)) => re.is_match(&text_of(v)),
        (Op::Contains(s), Some(v)) => text_of(v).contains(s.as_str()),
        (Op::Compare(ord, bound), Some(v)) => number_of(v).is_some_and(|n| match ord {
            Ordering::Gt => n > *bound,
            Ordering::Ge => n >= *bound,
            Ordering::Lt => n < *bound,
            Ordering::Le => n <= *bound,
        }),
    }
}

// regex's syntax errors draw a caret under the pattern over several lines; the
// validator shows one line per problem, so keep the pattern and the final "error:" line.
fn regex_error(pattern: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.trim());
    format!("invalid regex {pattern:?}: {reason}")
}

// Numbers compare by value so `3` equals `3.0`; integers exactly, beyond f64 precision too.
fn json_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        _ => a == b,
    }
}

/// A string's content, or the compact JSON of anything else (`42`, `true`, `null`).
fn text_of(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}
