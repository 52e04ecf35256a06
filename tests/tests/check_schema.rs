//! `ssenotify check` and `ssenotify schema` against the real binary, and the `#:schema`
//! directive a new subscriptions file starts with.

use ssenotify_e2e::home::{Home, show, stderr, stdout};

const BROKEN: &str = r#"version = 1

[[subscription]]
id = "a"
url = "ftp://example.com/a"

[[subscription]]
id = "b"
url = "https://example.com/b"
headers = { Authorization = "Bearer hunter2" }

[[subscription]]
id = "a"
url = "https://example.com/c"

[[subscription.rules]]
when = [{ regex = "(" }]
"#;

#[test]
fn check_reports_every_problem_with_its_place_and_fails() {
    let home = Home::new();
    let file = home.write("broken.toml", BROKEN);
    let output = home.run(&["check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let err = stderr(&output);
    let at = |place: &str| format!("{}:{place}: ", file.display());
    for (place, words) in [
        ("5:7", "scheme \"ftp\""),
        ("10:29", "must not be written in clear"),
        ("13:6", "duplicate id"),
        ("17:19", "invalid regex"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&at(place)) && l.contains(words)),
            "no {place} {words:?} in:\n{err}"
        );
    }
    assert!(
        !err.contains("hunter2"),
        "a secret is never printed:\n{err}"
    );
    assert!(err.ends_with(": 4 problems\n"), "{err}");

    let json = home.run(&["check", "--json", file.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(1), "{}", show(&json));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4, "{report}");
    assert_eq!(problems[0]["line"], 5);
    assert_eq!(problems[0]["column"], 7);
    assert_eq!(
        problems[0]["path"],
        serde_json::json!(["subscription", 0, "url"])
    );
    // Nothing was started or created: check never contacts a daemon.
    assert!(!home.runtime_dir().exists());
}

#[test]
fn check_reports_a_value_that_does_not_read_in_every_subscription() {
    let home = Home::new();
    let text = "[[subscription]]\nid = \"a\"\nurl = \"https://example.com/a\"\nidle_timeout = \"soon\"\n\n\
                [[subscription]]\nid = \"b\"\nurl = \"https://example.com/b\"\nmax_event_size = -1\n";
    let file = home.write("types.toml", text);
    let output = home.run(&["check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let err = stderr(&output);
    let at = |place: &str| format!("{}:{place}: ", file.display());
    assert!(
        err.lines()
            .any(|l| l.starts_with(&at("4:16")) && l.contains("invalid duration")),
        "{err}"
    );
    assert!(err.lines().any(|l| l.starts_with(&at("9:18"))), "{err}");
    assert!(err.ends_with(": 2 problems\n"), "{err}");
}

#[test]
fn check_accepts_a_valid_file_and_defaults_to_the_users() {
    let home = Home::new();
    let none = home.run(&["check"]);
    assert!(
        none.status.success(),
        "no file is no subscriptions: {}",
        show(&none)
    );
    let add = home.run(&["add", "https://example.com/sse", "--id", "one"]);
    assert!(add.status.success(), "{}", show(&add));
    let output = home.run(&["check"]);
    assert!(output.status.success(), "{}", show(&output));
    assert!(
        stdout(&output).contains("OK (1 subscription)"),
        "{}",
        show(&output)
    );
    let json = home.run(&["check", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["subscriptions"], 1);
    let missing = home.run(&["check", "/nonexistent/subs.toml"]);
    assert_eq!(missing.status.code(), Some(1), "{}", show(&missing));
    assert!(stderr(&missing).contains("cannot read /nonexistent/subs.toml"));
}

#[test]
fn a_new_file_names_the_schema_that_ssenotify_schema_prints() {
    let home = Home::new();
    let schema = home.run(&["schema"]);
    assert!(schema.status.success(), "{}", show(&schema));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&schema)).unwrap();
    assert!(
        printed["$id"]
            .as_str()
            .unwrap()
            .ends_with("subscriptions-v1.json")
    );
    assert_eq!(printed["properties"]["version"]["const"], 1);

    let add = home.run(&["add", "https://example.com/sse", "--id", "one"]);
    assert!(add.status.success(), "{}", show(&add));
    let text = std::fs::read_to_string(home.subs_file()).unwrap();
    let first = text.lines().next().unwrap();
    let path = first
        .strip_prefix("#:schema file://")
        .unwrap_or_else(|| panic!("no schema directive first:\n{text}"));
    // The installed schema when the package is there, else the copy this build keeps.
    let expected = if std::path::Path::new(ssenotify_config::INSTALLED_SCHEMA).is_file() {
        ssenotify_config::INSTALLED_SCHEMA.into()
    } else {
        home.data_dir().join("subscriptions.schema.json")
    };
    assert_eq!(std::path::Path::new(path), expected);
    let named: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(named["$id"], printed["$id"]);
    // An edit keeps the file's first lines as they are.
    let pause = home.run(&["pause", "one"]);
    assert!(pause.status.success(), "{}", show(&pause));
    let again = std::fs::read_to_string(home.subs_file()).unwrap();
    assert_eq!(again.lines().next(), Some(first));
}
