//! The router as the daemon drives it: rules written in TOML exactly as in the
//! subscriptions file, events in, decisions and summaries out, on an injected clock.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use serde_json::json;

use super::*;
use crate::route::MAX_COMMAND_DATA_BYTES;
use crate::rule::DEFAULT_COMMAND_TIMEOUT;
use crate::storm::{CATCH_UP_GAP, DEFAULT_CATCH_UP, DEFAULT_RATE_MAX};
use ssenotify_sse::Event;

/// The part of a subscription (plus `[notifications]`) the router is built from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sub {
    #[serde(default)]
    rules: Vec<RuleSpec>,
    rate_limit: Option<RateLimitSpec>,
    #[serde(default)]
    notifications: NotificationSettings,
}

fn parse(toml_text: &str) -> Sub {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"))
}

fn router(toml_text: &str) -> Router {
    let sub = parse(toml_text);
    Router::new(
        "CI",
        None,
        &sub.rules,
        sub.rate_limit.as_ref(),
        &sub.notifications,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn compile_errors(toml_text: &str) -> Vec<RuleError> {
    validate_rules(&parse(toml_text).rules)
        .expect_err("rules should not compile")
        .0
}

fn event_with_id(event_type: &str, data: &str, id: &str) -> Event {
    Event {
        event_type: event_type.into(),
        data: data.to_owned(),
        last_event_id: id.into(),
        id: (!id.is_empty()).then(|| id.into()),
        cursor: None,
    }
}

fn event(event_type: &str, data: &str) -> Event {
    event_with_id(event_type, data, "")
}

fn msg(data: &str) -> Event {
    event("message", data)
}

/// Local time on the week of Monday 2026-11-23 (`day` 23 is Monday ... 29 Sunday).
fn local(day: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// Both clocks advance together from Wednesday 12:00.
fn at(ms: u64) -> Now {
    Now {
        mono: Millis(ms),
        local: local(25, 12, 0) + chrono::Duration::milliseconds(ms as i64),
    }
}

fn at_local(ms: u64, local: NaiveDateTime) -> Now {
    Now {
        mono: Millis(ms),
        local,
    }
}

const LIVE: Flags = Flags {
    duplicate: false,
    catch_up: false,
};
const CATCH_UP: Flags = Flags {
    duplicate: false,
    catch_up: true,
};
const DUPLICATE: Flags = Flags {
    duplicate: true,
    catch_up: false,
};

/// Routes a live event an hour after the previous one, so storm control stays out of the
/// way of tests about something else.
fn route(r: &mut Router, e: &Event) -> Decision {
    thread_local!(static HOURS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let mono = HOURS.with(|h| h.replace(h.get() + 1)) * 3_600_000;
    r.route(e, LIVE, at_local(mono, local(25, 12, 0)))
}

#[track_caller]
fn notified(d: &Decision) -> &Notification {
    match &d.action {
        Action::Notify(n) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

#[track_caller]
fn suppressed(d: &Decision) -> SuppressReason {
    match &d.action {
        Action::Suppressed { why, .. } => *why,
        other => panic!("expected a suppression, got {other:?}"),
    }
}

mod matching {
    use super::*;

    #[test]
    fn no_rules_notify_every_event_but_housekeeping() {
        let mut r = router("");
        let d = route(&mut r, &msg("hello"));
        assert_eq!(d.rule, None);
        let n = notified(&d);
        assert_eq!(n.title, "CI");
        assert_eq!(n.body, "hello");
        assert_eq!(n.urgency, Urgency::Normal);
        // Other event types notify too, their type in the title; housekeeping ones are
        // neither shown nor kept.
        let d = route(&mut r, &event("deploy", "x"));
        assert_eq!(notified(&d).title, "CI · deploy");
        for housekeeping in ["ping", "keepalive", "heartbeat", "open", "poll_request"] {
            let d = route(&mut r, &event(housekeeping, "x"));
            assert_eq!((d.rule, &d.action), (None, &Action::Drop), "{housekeeping}");
        }
    }

    #[test]
    fn event_type_defaults_to_message_and_matches_exactly() {
        let mut r = router(
            r#"
            [[rules]]
            title = "plain"
            [[rules]]
            event = "build"
            title = "build"
            "#,
        );
        assert_eq!(route(&mut r, &msg("x")).rule, Some(0));
        assert_eq!(route(&mut r, &event("build", "x")).rule, Some(1));
        assert_eq!(route(&mut r, &event("builds", "x")).rule, None);
        assert_eq!(route(&mut r, &event("Build", "x")).rule, None);
    }

    #[test]
    fn event_type_globs() {
        let mut r = router(
            r#"
            [[rules]]
            event = "build-*"
            [[rules]]
            event = "{deploy,release}.?"
            [[rules]]
            event = "*"
            action = "history"
            "#,
        );
        assert_eq!(route(&mut r, &event("build-failed", "")).rule, Some(0));
        assert_eq!(route(&mut r, &event("build-", "")).rule, Some(0));
        assert_eq!(route(&mut r, &event("deploy.1", "")).rule, Some(1));
        assert_eq!(route(&mut r, &event("release.x", "")).rule, Some(1));
        assert_eq!(route(&mut r, &event("deploy.10", "")).rule, Some(2));
        // `*` crosses `/`: event types are not paths.
        let d = route(&mut r, &event("a/b", ""));
        assert_eq!((d.rule, d.action), (Some(2), Action::History));
        // A list of names matches exactly those names.
        let mut r = router("[[rules]]\nevent = \"{open,keep-alive}\"\naction = \"drop\"");
        assert_eq!(route(&mut r, &event("keep-alive", "")).action, Action::Drop);
        assert_eq!(route(&mut r, &event("open", "")).action, Action::Drop);
        for other in ["opened", "keep", "{open,keep-alive}", ""] {
            assert_eq!(route(&mut r, &event(other, "")).rule, None, "{other}");
        }
    }

    #[test]
    fn first_match_wins() {
        let mut r = router(
            r#"
            [[rules]]
            when = [{ pointer = "/level", equals = "debug" }]
            action = "drop"
            [[rules]]
            action = "history"
            [[rules]]
            title = "never reached"
            "#,
        );
        let d = route(&mut r, &msg(r#"{"level":"debug"}"#));
        assert_eq!((d.rule, &d.action), (Some(0), &Action::Drop));
        assert!(!d.keeps_history());
        let d = route(&mut r, &msg(r#"{"level":"info"}"#));
        assert_eq!((d.rule, &d.action), (Some(1), &Action::History));
        assert!(d.keeps_history());
    }

    fn matches(condition: &str, data: &str) -> bool {
        let mut r = router(&format!("[[rules]]\nwhen = [{condition}]\ntitle = \"hit\""));
        route(&mut r, &msg(data)).rule == Some(0)
    }

    #[test]
    fn json_equals() {
        let c = r#"{ pointer = "/status", equals = "failed" }"#;
        assert!(matches(c, r#"{"status":"failed"}"#));
        assert!(!matches(c, r#"{"status":"ok"}"#));
        assert!(!matches(c, r#"{"other":"failed"}"#));
        // Numbers by value; strings are not numbers.
        let c = r#"{ pointer = "/priority", equals = 3 }"#;
        assert!(matches(c, r#"{"priority":3}"#));
        assert!(matches(c, r#"{"priority":3.0}"#));
        assert!(!matches(c, r#"{"priority":"3"}"#));
        assert!(matches(
            r#"{ pointer = "/ok", equals = true }"#,
            r#"{"ok":true}"#
        ));
        assert!(matches(
            r#"{ pointer = "/tags", equals = ["a", "b"] }"#,
            r#"{"tags":["a","b"]}"#
        ));
        // Nested, and RFC 6901 escapes (`~1` is `/`).
        assert!(matches(
            r#"{ pointer = "/build/a~1b/0", equals = "x" }"#,
            r#"{"build":{"a/b":["x"]}}"#
        ));
    }

    #[test]
    fn json_exists() {
        let yes = r#"{ pointer = "/click", exists = true }"#;
        let no = r#"{ pointer = "/click", exists = false }"#;
        assert!(matches(yes, r#"{"click":null}"#));
        assert!(!matches(yes, r#"{"title":"x"}"#));
        assert!(matches(no, r#"{"title":"x"}"#));
        assert!(!matches(no, r#"{"click":"https://x"}"#));
    }

    #[test]
    fn json_regex_and_contains() {
        let c = r#"{ pointer = "/branch", regex = "^(main|release/.*)$" }"#;
        assert!(matches(c, r#"{"branch":"main"}"#));
        assert!(matches(c, r#"{"branch":"release/1.2"}"#));
        assert!(!matches(c, r#"{"branch":"feature/main"}"#));
        // Non-strings are matched by their JSON text.
        assert!(matches(
            r#"{ pointer = "/code", regex = "^5\\d\\d$" }"#,
            r#"{"code":503}"#
        ));
        assert!(matches(
            r#"{ pointer = "/msg", contains = "disk" }"#,
            r#"{"msg":"disk full"}"#
        ));
    }

    #[test]
    fn json_numeric_comparisons() {
        let data = |p: &str| format!(r#"{{"p":{p}}}"#);
        assert!(matches(r#"{ pointer = "/p", gt = 3 }"#, &data("4")));
        assert!(!matches(r#"{ pointer = "/p", gt = 3 }"#, &data("3")));
        assert!(matches(r#"{ pointer = "/p", ge = 3 }"#, &data("3")));
        assert!(matches(r#"{ pointer = "/p", lt = 3 }"#, &data("2.5")));
        assert!(!matches(r#"{ pointer = "/p", lt = 3 }"#, &data("3")));
        assert!(matches(r#"{ pointer = "/p", le = 3 }"#, &data("3")));
        // A range is two operators in one condition.
        let range = r#"{ pointer = "/p", ge = 4, le = 7 }"#;
        assert!(matches(range, &data("5")));
        assert!(!matches(range, &data("8")));
        // Numeric strings count; other values never compare.
        assert!(matches(r#"{ pointer = "/p", gt = 3 }"#, &data(r#""4""#)));
        assert!(!matches(
            r#"{ pointer = "/p", gt = 3 }"#,
            &data(r#""four""#)
        ));
        assert!(!matches(r#"{ pointer = "/p", gt = 3 }"#, &data("true")));
        assert!(!matches(r#"{ pointer = "/q", lt = 3 }"#, &data("1")));
        // The whole document.
        assert!(matches(r#"{ pointer = "", gt = 40 }"#, "42"));
    }

    #[test]
    fn plain_text_conditions() {
        assert!(matches(
            r#"{ contains = "ERROR" }"#,
            "2026-11-25 ERROR disk"
        ));
        assert!(!matches(r#"{ contains = "ERROR" }"#, "all fine"));
        assert!(matches(r#"{ regex = "(?i)^warn" }"#, "Warning: low"));
        assert!(matches(r#"{ equals = "ping" }"#, "ping"));
        assert!(!matches(r#"{ equals = "ping" }"#, "ping!"));
        // Plain-text conditions see JSON data as text too.
        assert!(matches(r#"{ contains = "\"ok\"" }"#, r#"{"s":"ok"}"#));
    }

    #[test]
    fn non_json_data_never_matches_json_conditions_and_never_errors() {
        for c in [
            r#"{ pointer = "/status", equals = "x" }"#,
            r#"{ pointer = "/status", exists = false }"#,
            r#"{ pointer = "/status", equals = "x", not = true }"#,
            r#"{ pointer = "", gt = 1 }"#,
            r#"{ pointer = "/s", regex = "." }"#,
        ] {
            for data in ["plain text", "", "{broken json", "<b>x</b>"] {
                assert!(!matches(c, data), "{c} matched {data:?}");
            }
        }
        // ...and the event goes on to the next rule.
        let mut r = router(
            r#"
            [[rules]]
            when = [{ pointer = "/status", equals = "failed" }]
            title = "json"
            [[rules]]
            title = "fallback"
            "#,
        );
        let d = route(&mut r, &msg("not json at all"));
        assert_eq!(d.rule, Some(1));
        assert_eq!(d.template_error, None);
    }

    #[test]
    fn negation_and_conjunction() {
        let c = r#"{ pointer = "/status", equals = "ok", not = true }"#;
        assert!(matches(c, r#"{"status":"failed"}"#));
        assert!(matches(c, r#"{"other":1}"#));
        assert!(!matches(c, r#"{"status":"ok"}"#));
        let both = r#"{ pointer = "/a", equals = 1 }, { pointer = "/b", exists = true }"#;
        assert!(matches(both, r#"{"a":1,"b":0}"#));
        assert!(!matches(both, r#"{"a":1}"#));
        assert!(!matches(both, r#"{"b":0}"#));
    }
}

mod defaults {
    use super::*;

    fn ntfy_router(toml_text: &str) -> Router {
        let sub = parse(toml_text);
        Router::new(
            "Alerts",
            Some(Preset::Ntfy),
            &sub.rules,
            sub.rate_limit.as_ref(),
            &sub.notifications,
        )
        .unwrap()
    }

    #[test]
    fn well_known_fields_make_the_popup_not_the_raw_object() {
        let mut r = router("");
        let data = r#"{"title":"Disk <full>","message":"sda1 at 99%","priority":5,
            "click":"https://status.example/disk","tags":["warning","db","skull"]}"#;
        let d = route(&mut r, &msg(data));
        let n = notified(&d);
        assert_eq!(n.title, "⚠️ 💀 Disk <full>");
        assert_eq!(n.body, "sda1 at 99%\nTags: db");
        assert_eq!(n.urgency, Urgency::Critical);
        assert_eq!(n.click_url.as_deref(), Some("https://status.example/disk"));

        // Without a title, the emoji go in front of the message, as ntfy shows it.
        let d = route(&mut r, &msg(r#"{"message":"shipped","tags":["tada"]}"#));
        let n = notified(&d);
        assert_eq!((n.title.as_str(), n.body.as_str()), ("CI", "🎉 shipped"));

        // `body` and `text` are messages too; `urgency` by name.
        let d = route(&mut r, &msg(r#"{"body":"b <i>x</i>","urgency":"low"}"#));
        let n = notified(&d);
        assert_eq!(n.body, "b &lt;i&gt;x&lt;/i&gt;", "escaped as any body");
        assert_eq!(n.urgency, Urgency::Low);
        let d = route(&mut r, &msg(r#"{"text":"t","url":"https://x.example/"}"#));
        let n = notified(&d);
        assert_eq!(n.body, "t");
        assert_eq!(n.click_url.as_deref(), Some("https://x.example/"));

        // No message: the other fields as lines, never the object.
        let d = route(
            &mut r,
            &msg(r#"{"title":"Only","host":"db1","extra":{"deep":1}}"#),
        );
        let n = notified(&d);
        assert_eq!(n.title, "Only");
        assert_eq!(n.body, "extra: {\"deep\":1}\nhost: db1");
    }

    #[test]
    fn data_without_well_known_fields_is_shown_as_it_is() {
        let mut r = router("");
        for data in [
            r#"{"build":7,"tags":["warning"]}"#,
            r#"["message"]"#,
            r#"{"title":"  ","message":7}"#,
            "plain text",
        ] {
            let d = route(&mut r, &msg(data));
            let n = notified(&d);
            assert_eq!(
                (n.title.as_str(), n.body.as_str()),
                ("CI", escape_markup(data).as_str())
            );
            assert_eq!(n.urgency, Urgency::Normal, "{data}");
        }
    }

    #[test]
    fn a_rule_template_or_urgency_wins_over_the_data() {
        let mut r = router(
            r#"
            [[rules]]
            event = "*"
            body = "{{ json.message | upper }}"
            urgency = "low"
            "#,
        );
        let d = route(&mut r, &msg(r#"{"title":"T","message":"m","priority":5}"#));
        let n = notified(&d);
        assert_eq!((n.title.as_str(), n.body.as_str()), ("T", "M"));
        assert_eq!(n.urgency, Urgency::Low);
        // A rule without templates takes the well-known fields too.
        let mut r = router("[[rules]]\nevent = \"alert\"");
        let d = route(
            &mut r,
            &event("alert", r#"{"message":"m","click":"javascript:x"}"#),
        );
        let n = notified(&d);
        assert_eq!(n.body, "m");
        assert_eq!(n.click_url, None, "a click URL from the data is vetted");
        assert!(d.refused_click_url.is_some());
    }

    #[test]
    fn a_server_priority_does_not_break_quiet_hours_a_rule_urgency_does() {
        const NIGHTS: &str = r#"
            [[notifications.quiet_hours]]
            from = "22:00"
            to = "07:00"
        "#;
        let night = at_local(0, local(25, 23, 0));
        let mut r = router(NIGHTS);
        let d = r.route(&msg(r#"{"message":"m","priority":5}"#), LIVE, night);
        assert!(
            matches!(
                d.action,
                Action::Suppressed {
                    why: SuppressReason::Quiet,
                    ..
                }
            ),
            "{:?}",
            d.action
        );
        let mut r = router(&format!(
            "{NIGHTS}\n[[rules]]\nurgency_from = \"/priority\"\nurgency_map = \"ntfy\""
        ));
        let d = r.route(&msg(r#"{"message":"m","priority":5}"#), LIVE, night);
        assert_eq!(notified(&d).urgency, Urgency::Critical);
    }

    #[test]
    fn icons_and_images_from_the_data_are_http_urls_or_nothing() {
        let mut r = router("");
        let d = route(
            &mut r,
            &msg(
                r#"{"message":"m","icon":"https://x.example/i.png","image":"http://x.example/p.jpg"}"#,
            ),
        );
        let n = notified(&d);
        assert_eq!(n.icon.as_deref(), Some("https://x.example/i.png"));
        assert_eq!(n.image.as_deref(), Some("http://x.example/p.jpg"));
        for local in [
            "/home/me/.ssh/id_ed25519",
            "file:///etc/passwd",
            "dialog-warning",
        ] {
            let data = serde_json::json!({"message": "m", "icon": local, "image": local});
            let n = notified(&route(&mut r, &msg(&data.to_string()))).clone();
            assert_eq!((n.icon, n.image), (None, None), "{local}");
        }
        // ntfy: an attachment that is an image is shown; another is not.
        let mut r = ntfy_router("");
        let attached = |kind: &str| {
            serde_json::json!({"topic": "t", "message": "m",
                "attachment": {"name": "a", "type": kind, "url": "https://ntfy.example/file/a"}})
            .to_string()
        };
        let n = notified(&route(&mut r, &msg(&attached("image/png")))).clone();
        assert_eq!(n.image.as_deref(), Some("https://ntfy.example/file/a"));
        let n = notified(&route(&mut r, &msg(&attached("text/plain")))).clone();
        assert_eq!(n.image, None);
        // A rule's own icon may be a themed name or a path; its image only a URL.
        let mut r = router("[[rules]]\nicon = \"dialog-warning\"\nimage = \"/tmp/x.png\"");
        let n = notified(&route(&mut r, &msg("x"))).clone();
        assert_eq!((n.icon.as_deref(), n.image), (Some("dialog-warning"), None));
    }

    #[test]
    fn buttons_from_a_rule_or_from_ntfy_actions_open_http_urls_only() {
        let button = |label: &str, view: &str| Button {
            label: label.into(),
            press: Press::View(view.into()),
        };
        let mut r = router(
            r#"
            [[rules]]
            buttons = [
                { label = "Build {{ json.n }}", view = "https://ci.example/b/{{ json.n }}" },
                { label = "Bad", view = "javascript:alert(1)" },
            ]
            "#,
        );
        let d = route(&mut r, &msg(r#"{"n":7}"#));
        assert_eq!(
            notified(&d).buttons,
            [button("Build 7", "https://ci.example/b/7")]
        );
        assert!(d.refused_click_url.is_some(), "the refused one is reported");

        // Without the ntfy preset an event's `http` action is not offered.
        let mut r = router("");
        let data = serde_json::json!({"topic": "t", "message": "m", "actions": [
            {"action": "view", "label": "Dashboard", "url": "https://d.example/"},
            {"action": "http", "label": "Ack", "url": "https://api.example/ack"},
            {"action": "view", "label": "Local", "url": "file:///etc/passwd"}],
            "attachment": {"name": "log.txt", "type": "text/plain", "url": "https://ntfy.example/file/x"}});
        let n = notified(&route(&mut r, &msg(&data.to_string()))).clone();
        assert_eq!(
            n.buttons,
            [
                button("Dashboard", "https://d.example/"),
                button("Open log.txt", "https://ntfy.example/file/x")
            ]
        );
        let errors = compile_errors(
            r#"
            [[rules]]
            buttons = [{label = "a", view = "https://a"}, {label = "b", view = "https://b"},
                       {label = "c", view = "https://c"}, {label = "d", view = "https://d"}]
            [[rules]]
            buttons = [{label = " ", view = "https://a"}]
            "#,
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].contains("rules[0].buttons") && text[0].contains("at most 3"),
            "{text:?}"
        );
        assert!(text[1].contains("rules[1].buttons[0].label"), "{text:?}");
    }

    #[test]
    fn http_buttons_render_their_request_and_keep_secret_headers_to_the_written_origin() {
        let mut r = router(
            r#"
            [[rules]]
            buttons = [
                { label = "Restart {{ json.n }}", http = { url = "https://ci.example:8443/r/{{ json.n }}",
                  headers = { Authorization = "file:ci-token", Content-Type = "application/json" },
                  body = '{"job": {{ json.n }}}' } },
                { label = "Elsewhere", http = { url = "https://{{ json.host }}/x", method = "put",
                  timeout = "3s" } },
                { label = "Bad", http = { url = "ftp://ci.example/x" } },
            ]
            "#,
        );
        let d = route(&mut r, &msg(r#"{"n":7,"host":"evil.example"}"#));
        let n = notified(&d);
        let http = |b: &Button| match &b.press {
            Press::Http(request) => request.clone(),
            Press::View(_) => panic!("a view button: {b:?}"),
        };
        assert_eq!(n.buttons.len(), 2, "{:?}", n.buttons);
        assert_eq!(n.buttons[0].label, "Restart 7");
        let restart = http(&n.buttons[0]);
        assert_eq!(
            (
                restart.method.as_str(),
                restart.url.as_str(),
                restart.body.as_str()
            ),
            ("POST", "https://ci.example:8443/r/7", r#"{"job": 7}"#)
        );
        assert_eq!(restart.headers["Authorization"], "file:ci-token");
        assert_eq!(restart.timeout, DEFAULT_HTTP_TIMEOUT);
        assert_eq!(
            restart.secret_origin.as_deref(),
            Some("https://ci.example:8443")
        );
        assert!(!restart.from_event);
        // A templated host names no origin: no secret header may go anywhere.
        let elsewhere = http(&n.buttons[1]);
        assert_eq!(
            (elsewhere.method.as_str(), elsewhere.url.as_str()),
            ("PUT", "https://evil.example/x")
        );
        assert_eq!(elsewhere.secret_origin, None);
        assert_eq!(elsewhere.timeout, Duration::from_secs(3));
        assert_eq!(
            d.refused_click_url.as_ref().unwrap().url,
            "ftp://ci.example/x"
        );
        // The decision says what would be sent, references and all, never a resolved value.
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json["buttons"][0]["http"]["headers"]["Authorization"],
            "file:ci-token"
        );
        assert_eq!(literal_origin("http://{{ json.h }}:80/x"), None);
        assert_eq!(
            literal_origin("HTTP://Example.COM:80/{{ x }}").as_deref(),
            Some("http://example.com")
        );
    }

    #[test]
    fn a_button_is_exactly_one_of_view_and_http_and_its_errors_name_the_key() {
        let errors = compile_errors(
            r#"
            [[rules]]
            buttons = [
                { label = "both", view = "https://a", http = { url = "https://a" } },
                { label = "neither" },
                { label = "m", http = { url = "https://a", method = "TRACE" } },
                { label = "t", http = { url = "https://a", timeout = "2m" } },
                { label = "h", http = { url = "https://a", headers = { "Bad Name" = "x" } } },
                { label = "u", http = { url = "{{ oops" } },
            ]
            "#,
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let has = |needle: &str| {
            assert!(
                text.iter().any(|t| t.contains(needle)),
                "{needle}: {text:#?}"
            );
        };
        has("rules[0].buttons[0].view: a button is either view or http");
        has("rules[0].buttons[1]: needs view");
        has("rules[0].buttons[2].http.method: \"TRACE\" is not one of");
        has("rules[0].buttons[3].http.timeout");
        has("rules[0].buttons[4].http.headers.Bad Name");
        has("rules[0].buttons[5].http.url");
        has("rules[0].buttons: 6 buttons; a notification shows at most 3");
        assert_eq!(text.len(), 7, "{text:#?}");
    }

    #[test]
    fn ntfy_http_actions_become_http_buttons_that_carry_only_what_the_event_says() {
        let mut r = ntfy_router("");
        let data = serde_json::json!({"topic": "t", "message": "m", "actions": [
            {"action": "http", "label": "Close door", "url": "https://api.example/door",
             "method": "PUT", "headers": {"Authorization": "env:HOME"}, "body": "{\"a\":1}",
             "clear": true},
            {"action": "http", "label": "Ack", "url": "https://api.example/ack"},
            {"action": "http", "label": "Local", "url": "file:///etc/passwd"},
            {"action": "broadcast", "label": "Android", "intent": "x"}]});
        let d = route(&mut r, &msg(&data.to_string()));
        let n = notified(&d).clone();
        let requests: Vec<(String, HttpRequest)> = n
            .buttons
            .into_iter()
            .map(|b| match b.press {
                Press::Http(request) => (b.label, request),
                Press::View(url) => panic!("view {url}"),
            })
            .collect();
        assert_eq!(requests.len(), 2, "{requests:?}");
        let (label, door) = &requests[0];
        assert_eq!(label, "Close door");
        assert_eq!(
            (door.method.as_str(), door.url.as_str(), door.body.as_str()),
            ("PUT", "https://api.example/door", r#"{"a":1}"#)
        );
        // Untrusted: taken as given (never read as a reference), and no origin for secrets.
        assert!(door.from_event);
        assert_eq!(door.secret_origin, None);
        assert_eq!(door.headers["Authorization"], "env:HOME");
        let (_, ack) = &requests[1];
        assert_eq!(ack.method, "POST", "ntfy's default method");
        assert!(d.refused_click_url.is_some());
    }

    #[test]
    fn markdown_bodies_render_bold_and_italic_and_nothing_else() {
        let mut r = router("[[rules]]\nmarkdown = true");
        let d = route(&mut r, &msg("**Build** <b>7</b> *failed*"));
        assert_eq!(
            notified(&d).body,
            "<b>Build</b> &lt;b&gt;7&lt;/b&gt; <i>failed</i>"
        );
        assert_eq!(
            unescape_markup(&notified(&d).body),
            "Build <b>7</b> failed",
            "a server without markup gets the text"
        );
        // ntfy says when a message is markdown; without it the stars stay.
        let mut r = ntfy_router("");
        let md = r#"{"topic":"t","message":"**ok**","content_type":"text/markdown"}"#;
        assert_eq!(notified(&route(&mut r, &msg(md))).body, "<b>ok</b>");
        let plain = r#"{"topic":"t","message":"**ok**"}"#;
        assert_eq!(notified(&route(&mut r, &msg(plain))).body, "**ok**");
        // A rule can say no.
        let mut r = router("[[rules]]\nmarkdown = false");
        assert_eq!(notified(&route(&mut r, &msg(md))).body, "**ok**");
    }

    #[test]
    fn ntfy_messages_notify_as_ntfy_shows_them_and_nothing_else_does() {
        let mut r = ntfy_router("");
        let d = route(
            &mut r,
            &msg(
                r#"{"id":"a1","time":1,"event":"message","topic":"backups","message":"done","priority":4,"tags":["white_check_mark","nightly"]}"#,
            ),
        );
        let n = notified(&d);
        assert_eq!(n.title, "backups", "the topic when there is no title");
        assert_eq!(n.body, "✅ done\nTags: nightly");
        assert_eq!(n.urgency, Urgency::Critical);
        let d = route(
            &mut r,
            &msg(r#"{"topic":"backups","title":"Nightly","message":"ok","priority":"min"}"#),
        );
        let n = notified(&d);
        assert_eq!((n.title.as_str(), n.urgency), ("Nightly", Urgency::Low));
        for kind in ["open", "keepalive", "poll_request", "message_delete"] {
            let d = route(&mut r, &event(kind, r#"{"id":"k","topic":"backups"}"#));
            assert_eq!(d.action, Action::Drop, "{kind}");
        }
        // The user's own rules replace the preset's, which then only shapes the popup.
        let mut r = ntfy_router("[[rules]]\nevent = \"*\"");
        let d = route(&mut r, &event("keepalive", r#"{"topic":"backups"}"#));
        assert_eq!(notified(&d).title, "backups");
    }
}

mod compiling {
    use super::*;

    #[test]
    fn every_error_names_rule_and_field() {
        let errors = compile_errors(
            r#"
            [[rules]]
            title = "fine"
            [[rules]]
            event = "build-[a"
            when = [
                { pointer = "/ok", equals = 1 },
                { pointer = "/msg", regex = "(unclosed" },
                { pointer = "status", exists = true },
                { pointer = "/a~2", exists = true },
            ]
            title = "{{ json.title "
            urgency_from = "/p"
            urgency_map = { "1-3" = "low", "2-5" = "critical" }
            "#,
        );
        let located: Vec<(usize, &str)> =
            errors.iter().map(|e| (e.rule, e.field.as_str())).collect();
        assert_eq!(
            located,
            [
                (1, "event"),
                (1, "when[1].regex"),
                (1, "when[2].pointer"),
                (1, "when[3].pointer"),
                (1, "title"),
                (1, "urgency_map"),
            ]
        );
        let text = RuleErrors(errors).to_string();
        assert!(!text.contains('\n'), "one line per problem: {text}");
        assert!(text.starts_with("rules[1].event: invalid glob"), "{text}");
        assert!(
            text.contains("rules[1].when[1].regex: invalid regex"),
            "{text}"
        );
        assert!(text.contains("did you mean \"/status\""), "{text}");
        assert!(text.contains("rules[1].title: syntax error"), "{text}");
        assert!(text.contains("overlap"), "{text}");
    }

    #[test]
    fn misplaced_and_missing_keys() {
        let errors = compile_errors(
            r#"
            [[rules]]
            action = "history"
            title = "x"
            command = ["true"]
            [[rules]]
            action = "command"
            [[rules]]
            when = [{ pointer = "/a" }, { exists = true }, { equals = 3 }]
            urgency_map = "ntfy"
            [[rules]]
            event = ""
            "#,
        );
        let located: Vec<(usize, &str)> =
            errors.iter().map(|e| (e.rule, e.field.as_str())).collect();
        assert_eq!(
            located,
            [
                (0, "title"),
                (0, "command"),
                (1, "command"),
                (2, "when[0]"),
                (2, "when[1].exists"),
                (2, "when[2].equals"),
                (2, "urgency_map"),
                (3, "event"),
            ]
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_fail_to_parse() {
        for bad in [
            "[[rules]]\ntitel = \"x\"",
            "[[rules]]\naction = \"shout\"",
            "[[rules]]\nurgency = \"high\"",
            "[[rules]]\nurgency_map = \"ntfyy\"",
            "[[rules]]\nwhen = [{ pointer = \"/a\", equal = 1 }]",
            "[[rules]]\ntimeout = \"soon\"",
            "[[rules]]\ntimeout = \"0s\"",
            "[[rules]]\naction = \"command\"\ncommand = [\"x\"]\ncommand_timeout = \"5\"",
            "rate_limit = { max = 0 }",
            "rate_limit = { per = \"0s\" }",
            "rate_limit = { max = 5, burst = 2 }",
            "[notifications]\nquiet = []",
            "[[notifications.quiet_hours]]\nfrom = \"22:00\"\nto = \"7:0\"",
            "[[notifications.quiet_hours]]\nfrom = \"24:00\"\nto = \"07:00\"",
            "[[notifications.quiet_hours]]\ndays = [\"funday\"]\nfrom = \"22:00\"\nto = \"07:00\"",
            "[[notifications.quiet_hours]]\nfrom = \"22:00\"",
        ] {
            assert!(toml::from_str::<Sub>(bad).is_err(), "accepted:\n{bad}");
        }
        let e = toml::from_str::<Sub>("[[rules]]\nurgency_map = \"ntfyy\"").unwrap_err();
        assert!(e.to_string().contains("ntfy"), "{e}");
    }

    #[test]
    fn valid_rules_validate() {
        assert_eq!(validate_rules(&[]), Ok(()));
        assert_eq!(validate_rules(&[RuleSpec::default()]), Ok(()));
    }
}

mod templates {
    use super::*;

    #[test]
    fn every_field_renders_from_the_context() {
        let mut r = router(
            r#"
            [[rules]]
            event = "build"
            title = "{{ subscription }}: {{ json.name }} #{{ id }}"
            body = "{{ type }} {{ json.status }} ({{ data | length }} bytes)"
            icon = "{{ 'dialog-error' if json.status == 'failed' else 'dialog-information' }}"
            category = "x-ci.{{ json.status }}"
            sound = "message-new-instant"
            click_url = "{{ json.url }}"
            replace_key = "build-{{ json.name }}"
            progress = "{{ json.pct }}"
            app_name = "CI {{ json.name }}"
            timeout = "8s"
            "#,
        );
        let data =
            r#"{"name":"api","status":"failed","url":"https://ci.example/api/7","pct":42.4}"#;
        let d = r.route(&event_with_id("build", data, "7"), LIVE, at(0));
        assert_eq!(d.template_error, None);
        assert_eq!(d.refused_click_url, None);
        let n = notified(&d);
        assert_eq!(n.title, "CI: api #7");
        assert_eq!(n.body, format!("build failed ({} bytes)", data.len()));
        assert_eq!(n.icon.as_deref(), Some("dialog-error"));
        assert_eq!(n.category.as_deref(), Some("x-ci.failed"));
        assert_eq!(n.sound.as_deref(), Some("message-new-instant"));
        assert_eq!(n.click_url.as_deref(), Some("https://ci.example/api/7"));
        assert_eq!(n.replace_key.as_deref(), Some("build-api"));
        assert_eq!(n.progress, Some(42));
        assert_eq!(n.app_name.as_deref(), Some("CI api"));
        assert_eq!(n.timeout, Timeout::After(Duration::from_secs(8)));
    }

    #[test]
    fn json_is_none_for_non_json_data_and_missing_fields_render_empty() {
        let mut r = router(
            r#"
            [[rules]]
            title = "{{ json.title | default('no title') }}"
            body = "[{{ json.a.b.c }}]{{ data }}"
            icon = "{{ json.icon }}"
            "#,
        );
        let d = route(&mut r, &msg("plain"));
        assert_eq!(d.template_error, None);
        let n = notified(&d);
        assert_eq!((n.title.as_str(), n.body.as_str()), ("no title", "[]plain"));
        // An empty render means "absent", not an empty icon name.
        assert_eq!(n.icon, None);
        let d = route(&mut r, &msg(r#"{"title":"T","a":{"b":{"c":1}}}"#));
        let n = notified(&d);
        assert_eq!(n.title, "T");
        assert!(n.body.starts_with("[1]"));
    }

    #[test]
    fn errors_fall_back_and_are_reported_without_stopping_the_stream() {
        let mut r = router(
            r#"
            [[rules]]
            title = "{{ json.title | no_such_filter }}"
            body = "{{ json.count // 0 }}"
            icon = "ok-icon"
            "#,
        );
        let d = route(&mut r, &msg(r#"{"name":"T","count":3}"#));
        let n = notified(&d);
        assert_eq!(n.title, "CI", "title falls back to the subscription name");
        assert_eq!(
            n.body, r#"{"name":"T","count":3}"#,
            "body falls back to the data"
        );
        assert_eq!(
            n.icon.as_deref(),
            Some("ok-icon"),
            "good fields still render"
        );
        let err = d.template_error.expect("reported");
        assert!(err.contains("rules[0].title"), "{err}");
        assert!(err.contains("rules[0].body"), "{err}");
        // The next event is routed normally.
        assert!(matches!(route(&mut r, &msg("x")).action, Action::Notify(_)));
    }

    #[test]
    fn fuel_stops_a_loop_bomb() {
        let mut r = router(
            r#"
            [[rules]]
            body = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
            "#,
        );
        let started = Instant::now();
        let d = route(&mut r, &msg("raw"));
        // Generous bound for a debug build on a loaded machine; unbounded would be hours.
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(notified(&d).body, "raw");
        let err = d.template_error.expect("reported");
        assert!(err.contains("fuel"), "{err}");
        // String repetition is charged too.
        let mut r = router("[[rules]]\nbody = \"{{ 'x' * 1000000000 }}\"");
        let d = route(&mut r, &msg("raw"));
        assert_eq!(notified(&d).body, "raw");
        assert!(d.template_error.is_some());
    }

    #[test]
    fn templates_cannot_reach_other_templates_or_files() {
        for statement in [
            "{% include '/etc/passwd' %}",
            "{% extends 'base' %}",
            "{% import 'm' as m %}",
        ] {
            let errors = compile_errors(&format!("[[rules]]\nbody = \"{statement}\""));
            assert_eq!(errors.len(), 1);
            assert!(
                errors[0].message.contains("unknown statement"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn progress_is_clamped_or_reported() {
        let mut r = router("[[rules]]\nprogress = \"{{ json.p }}\"");
        let progress = |r: &mut Router, p: &str| {
            let d = route(r, &msg(&format!(r#"{{"p":{p}}}"#)));
            (notified(&d).progress, d.template_error.is_some())
        };
        assert_eq!(progress(&mut r, "0"), (Some(0), false));
        assert_eq!(progress(&mut r, "99.6"), (Some(100), false));
        assert_eq!(progress(&mut r, "150"), (Some(100), false));
        assert_eq!(progress(&mut r, "-3"), (Some(0), false));
        assert_eq!(progress(&mut r, r#""57""#), (Some(57), false));
        assert_eq!(progress(&mut r, "null"), (None, true));
        assert_eq!(progress(&mut r, r#""half""#), (None, true));
        let d = route(&mut r, &msg(r#"{"q":1}"#));
        assert_eq!(notified(&d).progress, None, "missing field renders empty");
        assert_eq!(d.template_error, None);
    }

    #[test]
    fn titles_are_one_clean_line_and_never_empty() {
        let mut r = router("[[rules]]\ntitle = \"{{ json.t }}\"");
        let title = |r: &mut Router, t: &str| {
            notified(&route(r, &msg(&json!({ "t": t }).to_string())))
                .title
                .clone()
        };
        assert_eq!(title(&mut r, "a\nb\tc\u{1b}[2Jd\u{0}"), "a b c[2Jd");
        assert_eq!(title(&mut r, "  "), "CI");
        assert_eq!(title(&mut r, "<b>kept as text</b>"), "<b>kept as text</b>");
        let long = "t".repeat(5000);
        assert_eq!(title(&mut r, &long).chars().count(), text::MAX_FIELD_CHARS);
    }

    #[test]
    fn bodies_keep_lines_and_are_bounded() {
        let mut r = router("");
        let d = route(&mut r, &msg("line 1\r\nline 2\u{7}\u{1b}"));
        assert_eq!(notified(&d).body, "line 1\nline 2");
        let d = route(&mut r, &msg(&"é".repeat(100_000)));
        assert_eq!(notified(&d).body.chars().count(), text::MAX_BODY_CHARS);
    }
}

mod urgency {
    use super::*;

    fn urgency(rule: &str, data: &str) -> Urgency {
        let mut r = router(&format!("[[rules]]\n{rule}"));
        notified(&route(&mut r, &msg(data))).urgency
    }

    #[test]
    fn fixed() {
        assert_eq!(urgency("", "x"), Urgency::Normal);
        assert_eq!(urgency("urgency = \"low\"", "x"), Urgency::Low);
        assert_eq!(urgency("urgency = \"critical\"", "x"), Urgency::Critical);
    }

    #[test]
    fn ntfy_priorities() {
        let rule = "urgency_from = \"/priority\"\nurgency_map = \"ntfy\"";
        for (p, u) in [
            (1, Urgency::Low),
            (2, Urgency::Low),
            (3, Urgency::Normal),
            (4, Urgency::Critical),
            (5, Urgency::Critical),
        ] {
            assert_eq!(urgency(rule, &format!(r#"{{"priority":{p}}}"#)), u, "{p}");
        }
        // ntfy omits the field at the default priority: the fallback applies.
        assert_eq!(urgency(rule, r#"{"message":"x"}"#), Urgency::Normal);
        assert_eq!(urgency(rule, "not json"), Urgency::Normal);
    }

    #[test]
    fn gotify_priorities() {
        let rule = "urgency_from = \"/priority\"\nurgency_map = \"gotify\"";
        for (p, u) in [
            (0, Urgency::Low),
            (3, Urgency::Low),
            (4, Urgency::Normal),
            (7, Urgency::Normal),
            (8, Urgency::Critical),
            (10, Urgency::Critical),
        ] {
            assert_eq!(urgency(rule, &format!(r#"{{"priority":{p}}}"#)), u, "{p}");
        }
    }

    #[test]
    fn explicit_table_and_fallback() {
        let rule = r#"
            urgency_from = "/level"
            urgency_map = { info = "low", warning = "normal", error = "critical", "90-" = "critical" }
            urgency = "low"
        "#;
        assert_eq!(urgency(rule, r#"{"level":"ERROR"}"#), Urgency::Critical);
        assert_eq!(urgency(rule, r#"{"level":"warning"}"#), Urgency::Normal);
        assert_eq!(urgency(rule, r#"{"level":95}"#), Urgency::Critical);
        // Unmapped or missing: the rule's fixed urgency.
        assert_eq!(urgency(rule, r#"{"level":"debug"}"#), Urgency::Low);
        assert_eq!(urgency(rule, r#"{}"#), Urgency::Low);
    }

    #[test]
    fn without_a_map_the_field_names_the_urgency() {
        let rule = "urgency_from = \"/u\"";
        assert_eq!(urgency(rule, r#"{"u":"critical"}"#), Urgency::Critical);
        assert_eq!(urgency(rule, r#"{"u":"Low"}"#), Urgency::Low);
        assert_eq!(urgency(rule, r#"{"u":"shouting"}"#), Urgency::Normal);
    }
}

mod safety {
    use super::*;

    #[test]
    fn markup_in_data_arrives_escaped() {
        let mut r = router("");
        let data = r#"<b>bold</b> <a href="https://evil.example">click</a> <img src="file:///x.png"/> &amp;"#;
        let n = notified(&route(&mut r, &msg(data))).clone();
        assert_eq!(
            n.body,
            "&lt;b&gt;bold&lt;/b&gt; &lt;a href=\"https://evil.example\"&gt;click&lt;/a&gt; \
             &lt;img src=\"file:///x.png\"/&gt; &amp;amp;"
        );
        assert!(!n.body.contains('<') && !n.body.contains('>'));
    }

    #[test]
    fn markup_from_templates_is_escaped_too() {
        // Escaping happens after rendering, so even the rule author's own tags are text:
        // one rule cannot be tricked into wrapping injected data in a link.
        let mut r = router("[[rules]]\nbody = \"<b>{{ json.m }}</b>\"");
        let n = notified(&route(&mut r, &msg(r#"{"m":"<a href='x'>y</a>"}"#))).clone();
        assert_eq!(n.body, "&lt;b&gt;&lt;a href='x'&gt;y&lt;/a&gt;&lt;/b&gt;");
    }

    #[test]
    fn click_urls_other_than_http_are_refused_with_a_reason() {
        let mut r = router("[[rules]]\nclick_url = \"{{ json.click }}\"");
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "file:///etc/passwd",
            "data:text/html;base64,PHNjcmlwdD4=",
            "vbscript:x",
            "//evil.example/",
        ] {
            let d = route(&mut r, &msg(&json!({ "click": bad }).to_string()));
            assert_eq!(notified(&d).click_url, None, "{bad}");
            let refused = d.refused_click_url.expect(bad);
            assert_eq!(refused.url, bad);
            assert!(!refused.reason.is_empty());
        }
        let d = route(&mut r, &msg(r#"{"click":"http://ci.example/b/1"}"#));
        assert_eq!(
            notified(&d).click_url.as_deref(),
            Some("http://ci.example/b/1")
        );
        assert_eq!(d.refused_click_url, None);
    }
}

mod commands {
    use super::*;

    #[test]
    fn command_gets_argv_and_event_in_env() {
        let mut r = router(
            r#"
            [[rules]]
            event = "deploy"
            action = "command"
            command = ["/usr/bin/logger", "-t", "ssenotify", "{{ data }}"]
            command_timeout = "5s"
            "#,
        );
        let d = r.route(&event_with_id("deploy", "a\0b", "42"), LIVE, at(0));
        let Action::Command { argv, env, timeout } = &d.action else {
            panic!("{d:?}")
        };
        // Arguments are literal: data reaches the program through the environment only.
        assert_eq!(argv, &["/usr/bin/logger", "-t", "ssenotify", "{{ data }}"]);
        assert_eq!(*timeout, Duration::from_secs(5));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            env,
            [
                ("SSE_DATA", "a\u{FFFD}b"),
                ("SSE_EVENT_ID", "42"),
                ("SSE_EVENT_TYPE", "deploy"),
                ("SSE_SUBSCRIPTION", "CI"),
            ]
        );
    }

    #[test]
    fn commands_skip_duplicates_and_mutes_but_not_rate_limits() {
        let mut r = router(
            "rate_limit = { max = 1 }\n[[rules]]\naction = \"command\"\ncommand = [\"true\"]",
        );
        let d = r.route(&msg("x"), LIVE, at(0));
        let Action::Command { timeout, .. } = d.action else {
            panic!()
        };
        assert_eq!(timeout, DEFAULT_COMMAND_TIMEOUT);
        assert!(matches!(
            r.route(&msg("x"), LIVE, at(1)).action,
            Action::Command { .. }
        ));
        assert_eq!(
            suppressed(&r.route(&msg("x"), DUPLICATE, at(2))),
            SuppressReason::Duplicate
        );
        r.mute_until(Some(Millis(100)));
        let d = r.route(&msg("x"), LIVE, at(3));
        assert_eq!(
            d.action,
            Action::Suppressed {
                why: SuppressReason::Muted,
                notification: None
            }
        );
    }

    #[test]
    fn sse_data_is_cut_to_fit_the_environment() {
        let mut r = router("[[rules]]\naction = \"command\"\ncommand = [\"true\"]");
        let d = route(&mut r, &msg(&"€".repeat(100_000)));
        let Action::Command { env, .. } = d.action else {
            panic!()
        };
        let data = &env["SSE_DATA"];
        assert!(data.len() <= MAX_COMMAND_DATA_BYTES);
        assert!(data.len() > MAX_COMMAND_DATA_BYTES - 3);
    }
}

mod rate_limit {
    use super::*;

    #[test]
    fn a_burst_of_1000_gives_the_configured_popups_and_one_summary() {
        let mut r = router("");
        let mut shown = 0;
        let mut limited = 0;
        for i in 0..1000u64 {
            let d = r.route(&msg(&format!("event {i}")), LIVE, at(i));
            match d.action {
                Action::Notify(_) => shown += 1,
                Action::Suppressed {
                    why: SuppressReason::RateLimited,
                    notification: Some(_),
                } => limited += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((shown, limited), (DEFAULT_RATE_MAX as usize, 995));
        // The window opened with the first popup at t=0 and lasts 10s.
        assert_eq!(r.next_deadline(), Some(Millis(10_000)));
        assert!(r.tick(at(9_999)).is_empty());
        let summary = r.tick(at(10_000));
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0].title, "995 more events from CI");
        assert_eq!(summary[0].body, "• event 997\n• event 998\n• event 999");
        assert_eq!(summary[0].urgency, Urgency::Normal);
        assert!(r.tick(at(20_000)).is_empty(), "exactly one summary");
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn a_new_window_pops_up_again_and_coalesces_separately() {
        let mut r = router("rate_limit = { max = 2, per = \"1m\" }");
        let kinds = |r: &mut Router, from: u64, n: u64| -> Vec<bool> {
            (from..from + n)
                .map(|t| matches!(r.route(&msg("x"), LIVE, at(t)).action, Action::Notify(_)))
                .collect()
        };
        assert_eq!(kinds(&mut r, 0, 4), [true, true, false, false]);
        assert_eq!(r.next_deadline(), Some(Millis(60_000)));
        let s = r.tick(at(60_000));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].title, "2 more events from CI");
        // A new window pops up again and coalesces into a summary of its own.
        assert_eq!(kinds(&mut r, 60_500, 3), [true, true, false]);
        assert_eq!(r.next_deadline(), Some(Millis(120_500)));
        assert_eq!(r.tick(at(120_500))[0].title, "1 more event from CI");
    }

    #[test]
    fn a_late_tick_folds_new_excess_into_the_pending_summary() {
        let mut r = router("rate_limit = { max = 1, per = \"1m\" }");
        r.route(&msg("a"), LIVE, at(0));
        r.route(&msg("b"), LIVE, at(1));
        // The daemon missed the deadline at 60s; a new window has opened and overflowed.
        r.route(&msg("c"), LIVE, at(61_000));
        r.route(&msg("d"), LIVE, at(61_001));
        let s = r.tick(at(61_002));
        assert_eq!(s.len(), 1, "one summary, not one per window");
        assert_eq!(s[0].title, "2 more events from CI");
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn summary_keeps_the_worst_urgency() {
        let mut r = router(
            r#"
            rate_limit = { max = 1 }
            [[rules]]
            urgency_from = "/p"
            urgency_map = "ntfy"
            "#,
        );
        for (t, p) in [(0, 3), (1, 3), (2, 5), (3, 2)] {
            r.route(&msg(&format!(r#"{{"p":{p}}}"#)), LIVE, at(t));
        }
        let s = r.tick(at(10_000));
        assert_eq!(s[0].urgency, Urgency::Critical);
        assert_eq!(s[0].title, "3 more events from CI");
    }

    #[test]
    fn limits_resolve_key_by_key() {
        let file = r#"
            [notifications]
            rate_limit = { max = 2, per = "1m" }
        "#;
        // The file's limit applies...
        let mut r = router(file);
        let shown = (0..5)
            .filter(|t| matches!(r.route(&msg("x"), LIVE, at(*t)).action, Action::Notify(_)))
            .count();
        assert_eq!(shown, 2);
        assert_eq!(r.next_deadline(), Some(Millis(60_000)));
        // ...and a subscription overrides only the keys it sets.
        let mut r = router(&format!("rate_limit = {{ max = 3 }}\n{file}"));
        let shown = (0..5)
            .filter(|t| matches!(r.route(&msg("x"), LIVE, at(*t)).action, Action::Notify(_)))
            .count();
        assert_eq!(shown, 3);
        assert_eq!(r.next_deadline(), Some(Millis(60_000)));
    }

    #[test]
    fn duplicates_never_notify_and_do_not_count() {
        let mut r = router("rate_limit = { max = 1 }");
        let d = r.route(&msg("x"), DUPLICATE, at(0));
        assert_eq!(suppressed(&d), SuppressReason::Duplicate);
        assert!(matches!(
            r.route(&msg("y"), LIVE, at(1)).action,
            Action::Notify(_)
        ));
        assert_eq!(r.next_deadline(), None, "nothing coalesced");
        // A duplicate replayed after a reconnect is still a duplicate.
        let both = Flags {
            duplicate: true,
            catch_up: true,
        };
        assert_eq!(
            suppressed(&r.route(&msg("x"), both, at(2))),
            SuppressReason::Duplicate
        );
    }

    #[test]
    fn history_and_drop_are_not_rate_limited() {
        let mut r = router("rate_limit = { max = 1 }\n[[rules]]\naction = \"history\"");
        for t in 0..10 {
            assert_eq!(r.route(&msg("x"), LIVE, at(t)).action, Action::History);
        }
        assert_eq!(r.next_deadline(), None);
    }
}

mod catch_up {
    use super::*;

    #[test]
    fn a_replay_beyond_the_allowance_becomes_one_summary() {
        let mut r = router("");
        let whys: Vec<Option<SuppressReason>> = (0..10u64)
            .map(|t| {
                let d = r.route(&msg(&format!("missed {t}")), CATCH_UP, at(t));
                match d.action {
                    Action::Notify(_) => None,
                    _ => Some(suppressed(&d)),
                }
            })
            .collect();
        let allowance = DEFAULT_CATCH_UP as usize;
        assert!(whys[..allowance].iter().all(Option::is_none));
        assert!(
            whys[allowance..]
                .iter()
                .all(|w| *w == Some(SuppressReason::CatchUp))
        );
        let s = r.tick(at(10_000));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].title, "7 more events from CI");
        // Live events after the replay pop up again (a fresh window).
        assert!(matches!(
            r.route(&msg("live"), LIVE, at(10_001)).action,
            Action::Notify(_)
        ));
    }

    #[test]
    fn catch_up_popups_count_against_the_rate_limit() {
        let mut r = router("");
        for t in 0..3 {
            r.route(&msg("old"), CATCH_UP, at(t));
        }
        let live: Vec<bool> = (3..6)
            .map(|t| matches!(r.route(&msg("new"), LIVE, at(t)).action, Action::Notify(_)))
            .collect();
        assert_eq!(live, [true, true, false]);
    }

    #[test]
    fn a_live_event_or_a_long_pause_ends_the_run() {
        let mut r = router("rate_limit = { max = 100, catch_up = 1 }");
        let shown = |r: &mut Router, t: u64| {
            matches!(
                r.route(&msg("x"), CATCH_UP, at(t)).action,
                Action::Notify(_)
            )
        };
        assert!(shown(&mut r, 0));
        assert!(!shown(&mut r, 1));
        r.route(&msg("live"), LIVE, at(2));
        assert!(shown(&mut r, 3), "a new replay after live events");
        assert!(!shown(&mut r, 4));
        let later = 4 + CATCH_UP_GAP.as_millis() as u64;
        assert!(shown(&mut r, later), "a new replay after a pause");
    }
}

mod mute {
    use super::*;

    #[test]
    fn muted_until_t_means_history_only_until_t() {
        let mut r = router("");
        r.mute_until(Some(Millis(60_000)));
        assert_eq!(r.muted_until(), Some(Millis(60_000)));
        for t in [0, 1, 59_999] {
            assert_eq!(
                suppressed(&r.route(&msg("x"), LIVE, at(t))),
                SuppressReason::Muted
            );
        }
        assert!(r.tick(at(60_000)).is_empty(), "a mute has no summary");
        assert_eq!(r.next_deadline(), None);
        assert!(matches!(
            r.route(&msg("x"), LIVE, at(60_000)).action,
            Action::Notify(_)
        ));
        assert_eq!(r.muted_until(), None, "expired mute cleared");
    }

    #[test]
    fn critical_does_not_break_a_mute_and_unmute_works() {
        let mut r = router("[[rules]]\nurgency = \"critical\"");
        r.mute_until(Some(Millis(u64::MAX)));
        assert_eq!(
            suppressed(&r.route(&msg("x"), LIVE, at(0))),
            SuppressReason::Muted
        );
        r.mute_until(None);
        assert!(matches!(
            r.route(&msg("x"), LIVE, at(1)).action,
            Action::Notify(_)
        ));
    }
}

mod quiet_hours {
    use super::*;

    // Every night 22:00-07:00.
    const NIGHTS: &str = r#"
        [[notifications.quiet_hours]]
        from = "22:00"
        to = "07:00"
    "#;

    #[test]
    fn inside_and_outside() {
        let mut r = router(NIGHTS);
        let at_time = |h, m| at_local(0, local(25, h, m));
        for (h, m, quiet) in [
            (21, 59, false),
            (22, 0, true),
            (23, 59, true),
            (0, 0, true),
            (6, 59, true),
            (7, 0, false),
            (12, 0, false),
        ] {
            let d = r.route(&msg("x"), LIVE, at_time(h, m));
            let held = matches!(
                d.action,
                Action::Suppressed {
                    why: SuppressReason::Quiet,
                    ..
                }
            );
            assert_eq!(held, quiet, "{h:02}:{m:02}");
        }
    }

    #[test]
    fn crossing_midnight_on_chosen_days() {
        // Friday and Saturday nights only.
        let mut r = router(
            r#"
            [[notifications.quiet_hours]]
            days = ["fri", "Saturday"]
            from = "23:00"
            to = "08:00"
            "#,
        );
        let quiet = |r: &mut Router, t: NaiveDateTime| {
            matches!(
                r.route(&msg("x"), LIVE, at_local(0, t)).action,
                Action::Suppressed {
                    why: SuppressReason::Quiet,
                    ..
                }
            )
        };
        assert!(!quiet(&mut r, local(26, 23, 30)), "Thursday night");
        assert!(
            !quiet(&mut r, local(27, 7, 0)),
            "Friday morning (Thursday's night)"
        );
        assert!(quiet(&mut r, local(27, 23, 30)), "Friday night");
        assert!(quiet(&mut r, local(28, 7, 59)), "Saturday morning");
        assert!(
            quiet(&mut r, local(29, 2, 0)),
            "Sunday early (Saturday night)"
        );
        assert!(!quiet(&mut r, local(29, 23, 30)), "Sunday night");
    }

    #[test]
    fn show_anyway_lifts_quiet_hours_until_its_time_with_one_digest_and_not_do_not_disturb() {
        let mut r = router(NIGHTS);
        let held = |r: &mut Router, t: NaiveDateTime| {
            suppressed(&r.route(&msg("x"), LIVE, at_local(0, t))) == SuppressReason::Quiet
        };
        assert!(held(&mut r, local(25, 23, 0)));
        // "Show anyway" at 23:05, until the night's end.
        let shown = NotificationSettings {
            show_anyway_until: Some(local(26, 7, 0)),
            ..parse(NIGHTS).notifications
        };
        r.reconfigure("CI", None, &[], None, &shown).unwrap();
        let digest = r.tick(at_local(5, local(25, 23, 5)));
        assert_eq!(digest[0].title, "1 event from CI during quiet hours");
        assert!(matches!(
            r.route(&msg("y"), LIVE, at_local(6, local(25, 23, 6)))
                .action,
            Action::Notify(_)
        ));
        assert_eq!(QuietNow::of(&shown, local(25, 23, 6)), QuietNow::No);
        // The next night holds again.
        assert!(held(&mut r, local(26, 22, 30)));
        assert_eq!(
            QuietNow::of(&shown, local(26, 22, 30)),
            QuietNow::QuietHours(Some(local(27, 7, 0)))
        );
        // Do not disturb is not quiet hours: Show anyway does not lift it.
        let dnd = NotificationSettings {
            do_not_disturb: true,
            ..shown
        };
        assert_eq!(QuietNow::of(&dnd, local(25, 23, 6)), QuietNow::DoNotDisturb);
    }

    #[test]
    fn one_digest_when_quiet_ends() {
        let mut r = router(NIGHTS);
        // Wednesday 23:00; quiet ends Thursday 07:00, eight hours later.
        let start = local(25, 23, 0);
        for i in 0..40u64 {
            let now = at_local(i * 60_000, start + chrono::Duration::minutes(i as i64));
            let d = r.route(&msg(&format!("night event {i}")), LIVE, now);
            assert_eq!(suppressed(&d), SuppressReason::Quiet);
        }
        let eight_hours = 8 * 3_600_000;
        assert_eq!(r.next_deadline(), Some(Millis(eight_hours)));
        assert!(
            r.tick(at_local(eight_hours - 1, local(26, 6, 59)))
                .is_empty()
        );
        let digest = r.tick(at_local(eight_hours, local(26, 7, 0)));
        assert_eq!(digest.len(), 1);
        assert_eq!(digest[0].title, "40 events from CI during quiet hours");
        assert_eq!(
            digest[0].body,
            "• night event 37\n• night event 38\n• night event 39"
        );
        assert!(
            r.tick(at_local(eight_hours + 1, local(26, 7, 1)))
                .is_empty()
        );
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn an_early_tick_reschedules() {
        let mut r = router(NIGHTS);
        r.route(&msg("x"), LIVE, at_local(0, local(25, 23, 0)));
        // The monotonic clock says the deadline passed but local time disagrees
        // (e.g. the clock was set back): nothing yet, and a new deadline.
        assert!(r.tick(at_local(8 * 3_600_000, local(26, 6, 0))).is_empty());
        assert_eq!(r.next_deadline(), Some(Millis(9 * 3_600_000)));
        assert_eq!(r.tick(at_local(9 * 3_600_000, local(26, 7, 0))).len(), 1);
    }

    #[test]
    fn critical_breaks_through_by_default() {
        let mut r = router(&format!(
            r#"
            [[rules]]
            when = [{{ pointer = "/sev", equals = "page" }}]
            urgency = "critical"
            [[rules]]
            when = [{{ pointer = "/sev", equals = "soft" }}]
            urgency = "critical"
            break_quiet = false
            [[rules]]
            when = [{{ pointer = "/sev", equals = "vip" }}]
            break_quiet = true
            [[rules]]
            {NIGHTS}
            "#
        ));
        let night = at_local(0, local(25, 23, 0));
        let action = |r: &mut Router, sev: &str| {
            r.route(&msg(&json!({ "sev": sev }).to_string()), LIVE, night)
        };
        assert!(matches!(action(&mut r, "page").action, Action::Notify(_)));
        assert!(matches!(action(&mut r, "vip").action, Action::Notify(_)));
        assert_eq!(suppressed(&action(&mut r, "soft")), SuppressReason::Quiet);
        assert_eq!(suppressed(&action(&mut r, "other")), SuppressReason::Quiet);
    }

    #[test]
    fn breakthrough_is_still_rate_limited() {
        let mut r = router(&format!(
            "rate_limit = {{ max = 1 }}\n[[rules]]\nurgency = \"critical\"\n{NIGHTS}"
        ));
        let night = local(25, 23, 0);
        assert!(matches!(
            r.route(&msg("a"), LIVE, at_local(0, night)).action,
            Action::Notify(_)
        ));
        assert_eq!(
            suppressed(&r.route(&msg("b"), LIVE, at_local(1, night))),
            SuppressReason::RateLimited
        );
    }

    #[test]
    fn around_the_clock_quiet_holds_until_the_settings_change() {
        let always = "[[notifications.quiet_hours]]\nfrom = \"00:00\"\nto = \"00:00\"";
        let mut r = router(always);
        r.route(&msg("x"), LIVE, at(0));
        assert_eq!(r.next_deadline(), None);
        r.reconfigure("CI", None, &[], None, &NotificationSettings::default())
            .unwrap();
        assert_eq!(r.next_deadline(), Some(Millis(0)));
        let digest = r.tick(at(5));
        assert_eq!(digest[0].title, "1 event from CI during quiet hours");
    }

    #[test]
    fn do_not_disturb_holds_any_time_until_turned_off_and_critical_breaks_through() {
        let mut r = router(
            "[notifications]\ndo_not_disturb = true\n[[rules]]\nevent = \"page\"\nurgency = \"critical\"\n[[rules]]",
        );
        let noon = at_local(0, local(25, 12, 0));
        assert_eq!(
            suppressed(&r.route(&msg("x"), LIVE, noon)),
            SuppressReason::Quiet
        );
        let page = event_with_id("page", "db down", "");
        assert!(matches!(
            r.route(&page, LIVE, noon).action,
            Action::Notify(_)
        ));
        assert_eq!(r.next_deadline(), None, "held until it is turned off");
        r.reconfigure(
            "CI",
            None,
            &parse("[[rules]]\nevent = \"page\"\n[[rules]]").rules,
            None,
            &NotificationSettings::default(),
        )
        .unwrap();
        let digest = r.tick(at_local(5, local(25, 12, 1)));
        assert_eq!(digest[0].title, "1 event from CI during quiet hours");
    }

    #[test]
    fn quiet_now_says_which_and_until_when() {
        let nights = parse(NIGHTS).notifications;
        assert_eq!(QuietNow::of(&nights, local(25, 12, 0)), QuietNow::No);
        assert_eq!(
            QuietNow::of(&nights, local(25, 23, 0)),
            QuietNow::QuietHours(Some(local(26, 7, 0)))
        );
        let dnd = NotificationSettings {
            do_not_disturb: true,
            ..nights
        };
        assert_eq!(QuietNow::of(&dnd, local(25, 12, 0)), QuietNow::DoNotDisturb);
    }
}

mod reconfigure {
    use super::*;

    #[test]
    fn state_survives_a_rule_change_and_errors_change_nothing() {
        let mut r = router("rate_limit = { max = 1 }");
        r.mute_until(Some(Millis(5)));
        r.route(&msg("x"), LIVE, at(10));
        r.route(&msg("y"), LIVE, at(11));
        let rules = parse("[[rules]]\ntitle = \"new\"").rules;
        let limit = RateLimitSpec {
            max: std::num::NonZeroU32::new(1),
            ..RateLimitSpec::default()
        };
        r.reconfigure(
            "Builds",
            None,
            &rules,
            Some(&limit),
            &NotificationSettings::default(),
        )
        .unwrap();
        assert_eq!(r.name(), "Builds");
        assert_eq!(
            r.next_deadline(),
            Some(Millis(10_010)),
            "pending summary kept"
        );
        assert_eq!(
            suppressed(&r.route(&msg("z"), LIVE, at(12))),
            SuppressReason::RateLimited,
            "window kept"
        );
        let bad = parse("[[rules]]\nwhen = [{ regex = \"(\" }]").rules;
        assert!(
            r.reconfigure("X", None, &bad, None, &NotificationSettings::default())
                .is_err()
        );
        assert_eq!(r.name(), "Builds");
        assert_eq!(r.tick(at(10_010))[0].title, "2 more events from Builds");
    }
}

mod output {
    use super::*;

    #[test]
    fn decisions_serialize_as_flat_json_lines() {
        let mut r = router(
            r#"
            rate_limit = { max = 1 }
            [[rules]]
            event = "build"
            title = "{{ json.name }}"
            click_url = "{{ json.url }}"
            replace_key = "b"
            progress = "{{ json.p }}"
            [[rules]]
            event = "log"
            action = "history"
            [[rules]]
            event = "hook"
            action = "command"
            command = ["notify-hook"]
            "#,
        );
        let build = r#"{"name":"api","url":"file:///etc/passwd","p":50}"#;
        let d = r.route(&event("build", build), LIVE, at(0));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "rule": 0,
                "action": "notify",
                "title": "api",
                "body": "name: api\np: 50",
                "urgency": "normal",
                "replace_key": "b",
                "progress": 50,
                "refused_click_url": {
                    "url": "file:///etc/passwd",
                    "reason": "scheme \"file\" is not allowed; expected http or https"
                }
            })
        );
        let d = r.route(&event("build", r#"{"name":"web"}"#), LIVE, at(1));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "rule": 0,
                "action": "suppressed",
                "why": "rate_limited",
                "notification": {
                    "title": "web",
                    "body": "{\"name\":\"web\"}",
                    "urgency": "normal",
                    "replace_key": "b"
                }
            })
        );
        let d = r.route(&event("log", "x"), LIVE, at(2));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"rule": 1, "action": "history"})
        );
        let d = r.route(&event_with_id("hook", "d", "9"), LIVE, at(3));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "rule": 2,
                "action": "command",
                "argv": ["notify-hook"],
                "env": {
                    "SSE_DATA": "d",
                    "SSE_EVENT_ID": "9",
                    "SSE_EVENT_TYPE": "hook",
                    "SSE_SUBSCRIPTION": "CI"
                },
                "timeout": "30s"
            })
        );
        let d = r.route(&event("other", "x"), LIVE, at(4));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"rule": null, "action": "history"})
        );
    }

    #[test]
    fn router_can_move_between_threads() {
        fn send<T: Send + 'static>() {}
        send::<Router>();
        send::<Decision>();
    }
}

mod spec_serde {
    use super::*;

    #[test]
    fn defaults_serialize_to_nothing() {
        assert_eq!(toml::to_string(&RuleSpec::default()).unwrap(), "");
        assert_eq!(
            toml::to_string(&NotificationSettings::default()).unwrap(),
            ""
        );
        assert_eq!(toml::to_string(&RateLimitSpec::default()).unwrap(), "");
    }

    #[test]
    fn round_trip_keeps_everything() {
        let text = r#"
            rate_limit = { max = 3, per = "1m 30s", catch_up = 0 }

            [[rules]]
            event = "build-*"
            when = [
                { pointer = "/status", equals = "failed" },
                { pointer = "/p", ge = 2.5, lt = 10, not = true },
                { contains = "x", regex = "y" },
            ]
            title = "{{ json.name }}"
            urgency = "critical"
            urgency_from = "/priority"
            urgency_map = { "1-2" = "low", high = "critical" }
            timeout = "never"
            break_quiet = false

            [[rules]]
            urgency_map = "gotify"
            urgency_from = "/priority"
            timeout = "8s"

            [[rules]]
            action = "command"
            command = ["/bin/echo", "hi"]
            command_timeout = "5s"

            [notifications]
            rate_limit = { max = 10 }

            [[notifications.quiet_hours]]
            days = ["mon", "tue"]
            from = "22:30"
            to = "07:05"
        "#;
        #[derive(Deserialize, serde::Serialize, PartialEq, Debug)]
        struct Whole {
            rules: Vec<RuleSpec>,
            rate_limit: Option<RateLimitSpec>,
            notifications: NotificationSettings,
        }
        let parsed: Whole = toml::from_str(text).unwrap();
        let written = toml::to_string(&parsed).unwrap();
        let again: Whole = toml::from_str(&written).unwrap();
        assert_eq!(parsed, again, "{written}");
        assert!(written.contains("per = \"90s\""), "{written}");
        assert!(written.contains("from = \"22:30\""), "{written}");
        assert!(written.contains("days = [\"mon\", \"tue\"]"), "{written}");
        assert!(written.contains("urgency_map = \"gotify\""), "{written}");
        assert!(written.contains("timeout = \"never\""), "{written}");
        assert!(written.contains("command_timeout = \"5s\""), "{written}");
        assert!(!written.contains("action = \"notify\""), "{written}");
        assert!(!written.contains("not = false"), "{written}");
    }
}

/// The examples in `docs/routing.md` are real: every TOML block with rules compiles, and
/// the worked examples behave as the text says.
mod docs {
    use super::*;

    const ROUTING_MD: &str = include_str!("../../../docs/routing.md");

    /// One TOML block of the document that holds rules.
    struct Example {
        block: String,
        /// Rules and rate limit of each subscription in the block.
        subs: Vec<(Vec<RuleSpec>, Option<RateLimitSpec>)>,
        settings: NotificationSettings,
    }

    fn examples() -> Vec<Example> {
        #[derive(Deserialize)]
        struct Block {
            #[serde(default)]
            subscription: Subs,
            #[serde(default)]
            notifications: NotificationSettings,
        }
        #[derive(Deserialize, Default)]
        #[serde(untagged)]
        enum Subs {
            Many(Vec<OneSub>),
            One(OneSub),
            #[default]
            None,
        }
        #[derive(Deserialize)]
        struct OneSub {
            #[serde(default)]
            rules: Vec<RuleSpec>,
            rate_limit: Option<RateLimitSpec>,
        }
        ROUTING_MD
            .split("```toml\n")
            .skip(1)
            .filter_map(|rest| rest.split_once("\n```").map(|(block, _)| block))
            .filter(|block| block.contains("[[subscription.rules]]"))
            .map(|block| {
                let parsed: Block =
                    toml::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
                let subs = match parsed.subscription {
                    Subs::Many(v) => v,
                    Subs::One(s) => vec![s],
                    Subs::None => vec![],
                };
                Example {
                    block: block.to_owned(),
                    subs: subs.into_iter().map(|s| (s.rules, s.rate_limit)).collect(),
                    settings: parsed.notifications,
                }
            })
            .collect()
    }

    fn example_router(needle: &str) -> Router {
        let example = examples()
            .into_iter()
            .find(|e| e.block.contains(needle))
            .unwrap_or_else(|| panic!("no example with {needle:?}"));
        let (rules, limit) = &example.subs[0];
        Router::new("CI", None, rules, limit.as_ref(), &example.settings).unwrap()
    }

    #[test]
    fn every_example_compiles() {
        let examples = examples();
        assert!(examples.len() >= 6, "found {}", examples.len());
        for example in examples {
            let block = &example.block;
            for (rules, _) in &example.subs {
                assert!(!rules.is_empty(), "{block}");
                if let Err(e) = validate_rules(rules) {
                    panic!("{e}\n{block}");
                }
            }
        }
    }

    #[test]
    fn ci_progress_example() {
        let mut r = example_router("x-ci.progress");
        let pipeline = |status: &str, percent: u32| {
            event(
                "pipeline",
                &json!({
                    "pipeline": "api", "run": 812, "stage": "test", "percent": percent,
                    "status": status, "url": "https://ci.example/api/812"
                })
                .to_string(),
            )
        };
        let d = route(&mut r, &pipeline("running", 60));
        let n = notified(&d);
        assert_eq!(d.rule, Some(0));
        assert_eq!(n.title, "api #812: test");
        assert_eq!(
            (n.progress, n.replace_key.as_deref()),
            (Some(60), Some("api-812"))
        );
        let d = route(&mut r, &pipeline("failed", 60));
        let n = notified(&d);
        assert_eq!((d.rule, n.urgency), (Some(1), Urgency::Critical));
        assert_eq!(n.replace_key.as_deref(), Some("api-812"));
        assert_eq!(n.click_url.as_deref(), Some("https://ci.example/api/812"));
        let d = route(&mut r, &pipeline("passed", 100));
        assert_eq!(notified(&d).title, "api #812: passed");
        assert_eq!(
            route(&mut r, &event("heartbeat", "")).action,
            Action::History
        );
    }

    #[test]
    fn ntfy_example() {
        let mut r = example_router("ntfy.sh/my-alerts");
        assert_eq!(
            route(&mut r, &event("keepalive", "{}")).action,
            Action::Drop
        );
        let data = r#"{"id":"x","event":"message","topic":"my-alerts","title":"Disk","message":"95% full","priority":4,"tags":["warning"],"click":"https://grafana.example/d/1"}"#;
        let n = notified(&route(&mut r, &msg(data))).clone();
        assert_eq!((n.title.as_str(), n.body.as_str()), ("Disk", "95% full"));
        assert_eq!(n.urgency, Urgency::Critical);
        assert_eq!(n.category.as_deref(), Some("x-ntfy.warning"));
        assert_eq!(n.click_url.as_deref(), Some("https://grafana.example/d/1"));
        let n = notified(&route(
            &mut r,
            &msg(r#"{"topic":"my-alerts","message":"hi"}"#),
        ))
        .clone();
        assert_eq!(
            (n.title.as_str(), n.urgency, n.category),
            ("my-alerts", Urgency::Normal, None)
        );
    }

    #[test]
    fn gotify_example() {
        let mut r = example_router("client::notification");
        let d = route(&mut r, &msg(r#"{"title":"T","message":"m","priority":0}"#));
        assert_eq!(d.action, Action::History);
        let data = r#"{"title":"T","message":"m","priority":8,"extras":{"client::notification":{"click":{"url":"https://g.example/"}}}}"#;
        let n = notified(&route(&mut r, &msg(data))).clone();
        assert_eq!(
            (n.urgency, n.click_url.as_deref()),
            (Urgency::Critical, Some("https://g.example/"))
        );
        let d = route(&mut r, &msg(r#"{"title":"T","message":"m","priority":5}"#));
        assert_eq!(d.template_error, None);
        assert_eq!(notified(&d).urgency, Urgency::Normal);
    }
}

mod silent_feed_alarm {
    use super::*;

    const NIGHTS: &str = r#"
        [[notifications.quiet_hours]]
        from = "22:00"
        to = "07:00"
    "#;

    fn alarm(urgency: Urgency) -> Notification {
        Notification::summary(
            "CI: silent for 15 min (last event 21:50)".into(),
            "",
            urgency,
        )
    }

    #[test]
    fn quiet_hours_hold_it_for_the_digest_unless_it_breaks_through() {
        let mut r = router(NIGHTS);
        let night = at_local(0, local(25, 23, 0));
        assert_eq!(
            r.admit_own(&alarm(Urgency::Critical), true, night),
            Ok(()),
            "breaking through"
        );
        assert_eq!(
            r.admit_own(&alarm(Urgency::Normal), false, night),
            Err(SuppressReason::Quiet)
        );
        let morning = at_local(8 * 3_600_000, local(26, 7, 0));
        let digest = r.tick(morning);
        assert_eq!(digest.len(), 1, "{digest:?}");
        assert_eq!(digest[0].title, "1 event from CI during quiet hours");
        assert!(digest[0].body.contains("silent for 15 min"), "{digest:?}");
        let day = at_local(9 * 3_600_000, local(26, 8, 0));
        assert_eq!(r.admit_own(&alarm(Urgency::Normal), false, day), Ok(()));
    }

    #[test]
    fn mute_holds_it() {
        let mut r = router("");
        r.mute_until(Some(Millis(1_000)));
        assert_eq!(
            r.admit_own(&alarm(Urgency::Critical), true, at(0)),
            Err(SuppressReason::Muted)
        );
    }

    #[test]
    fn the_matching_rule_is_found_without_routing() {
        let r = router(
            "[[rules]]\nevent = \"beat\"\naction = \"history\"\nexpect_every = \"2m\"\n\
             [[rules]]\nevent = \"*\"\naction = \"history\"",
        );
        assert_eq!(r.matching_rule(&event("beat", "")), Some(0));
        assert_eq!(r.matching_rule(&event("log", "")), Some(1));
        assert_eq!(
            router("").matching_rule(&event("beat", "")),
            None,
            "implicit"
        );
    }

    #[test]
    fn its_keys_are_checked_with_the_rule() {
        let errors = compile_errors(
            "[[rules]]\naction = \"drop\"\nexpect_every = \"1m\"\n\
             [[rules]]\nexpect_every = \"0s\"\n\
             [[rules]]\nsilent_urgency = \"low\"",
        );
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.rule, e.field.as_str())).collect();
        assert_eq!(
            found,
            [
                (0, "expect_every"),
                (1, "expect_every"),
                (2, "silent_urgency")
            ]
        );
        assert!(errors[0].message.contains("use action = \"history\""));
    }
}
