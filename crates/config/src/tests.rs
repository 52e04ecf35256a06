//! The subscriptions file end to end, on real files in temporary directories.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use super::*;
use spec::is_default;
use ssenotify_router::RuleSpec;

fn toml(text: &str) -> Result<SubscriptionSet, ConfigError> {
    SubscriptionSet::parse(
        text,
        Format::Toml,
        Path::new("subs.toml"),
        LiteralSecrets::Reject,
    )
}

fn json(text: &str) -> Result<SubscriptionSet, ConfigError> {
    SubscriptionSet::parse(
        text,
        Format::Json,
        Path::new("subs.json"),
        LiteralSecrets::Reject,
    )
}

/// Every problem as `line:col: message`.
fn located(error: &ConfigError) -> Vec<String> {
    error
        .problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}: {}",
                p.line.unwrap_or(0),
                p.column.unwrap_or(0),
                p.message
            )
        })
        .collect()
}

fn one_problem(error: &ConfigError) -> (usize, usize, &str) {
    assert_eq!(error.problems.len(), 1, "{error}");
    let p = &error.problems[0];
    (p.line.unwrap(), p.column.unwrap(), &p.message)
}

/// A set that uses every key with a non-default value.
fn full_set() -> SubscriptionSet {
    let mut a = SubscriptionSpec::new("work-alerts", "https://ntfy.example.com/alerts/sse");
    a.name = Some("Work alerts".into());
    a.headers
        .insert("X-Title".into(), Secret::parse("from ssenotify"));
    a.headers
        .insert("X-Api-Key".into(), Secret::parse("env:WORK_KEY"));
    a.auth = Some(AuthSpec::Basic {
        username: "phil".into(),
        password: Secret::parse("file:secrets/work-alerts.auth-password"),
    });
    a.enabled = false;
    a.paused = true;
    a.reconnect_time = Duration::from_millis(1500);
    a.backoff_cap = Duration::from_secs(300);
    a.idle_timeout = Duration::from_secs(90);
    a.max_event_size = 65536;
    a.ca_file = Some("~/certs/internal-ca.pem".into());
    a.resume = Some(ResumeSpec::ntfy());
    a.history = HistorySpec {
        max_events: 50,
        max_age: Duration::from_secs(7 * 86_400),
    };
    a.rules = vec![
        RuleSpec {
            event: Some("message".into()),
            ..RuleSpec::default()
        },
        RuleSpec {
            event: Some("deploy*".into()),
            ..RuleSpec::default()
        },
    ];
    a.rate_limit = Some(ssenotify_router::RateLimitSpec::default());
    a.mute_until = Some(parse_timestamp("2030-06-01T20:00:00+02:00").unwrap());
    let mut b = SubscriptionSpec::new("ci", "http://localhost:8080/events");
    b.auth = Some(AuthSpec::Bearer {
        token: Secret::parse("env:CI_TOKEN"),
    });
    SubscriptionSet {
        notifications: Default::default(),
        hub: crate::HubSpec {
            listen: Some("127.0.0.1:47412".into()),
        },
        subscriptions: vec![
            a,
            b,
            SubscriptionSpec::new("plain", "https://example.org/sse"),
        ],
    }
}

#[test]
fn toml_and_json_round_trip_to_identical_bytes() {
    let set = full_set();
    for format in [Format::Toml, Format::Json] {
        let text = set.render(format);
        let back = SubscriptionSet::parse(&text, format, Path::new("x"), LiteralSecrets::Reject)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, set, "{format}");
        assert_eq!(
            back.render(format),
            text,
            "{format}: export → import → export"
        );
    }
    // Across formats too.
    let via_json = json(&set.to_json()).unwrap();
    assert_eq!(via_json.to_toml(), set.to_toml());
}

#[test]
fn defaults_are_omitted_and_hand_written_files_stay_small() {
    let set = SubscriptionSet {
        subscriptions: vec![SubscriptionSpec::new("a", "https://example.com/sse")],
        ..Default::default()
    };
    let text = set.to_toml();
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        body,
        [
            "version = 1",
            "[[subscription]]",
            "id = \"a\"",
            "url = \"https://example.com/sse\""
        ]
    );
    assert_eq!(
        SubscriptionSet::default().to_toml().lines().last(),
        Some("version = 1")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&SubscriptionSet::default().to_json()).unwrap(),
        serde_json::json!({"version": 1, "subscriptions": []})
    );
}

#[test]
fn hand_written_file_reads_with_both_rule_spellings_and_canonical_output() {
    let text = r#"
version = 1

[[subscription]]
id = "deploys"
url = "https://ci.example.com/events"
reconnect_time = "3000ms"
idle_timeout = "120s"
headers = { Accept-Language = "en", Authorization = "env:CI_AUTH" }
rules = [{ event = "deploy" }]

[[subscription]]
id = "news"
url = "https://news.example.com/sse"
backoff_cap = "1h 30m"
history = { max_age = "720h" }

[[subscription.rules]]
event = "breaking"

[[subscription.rules]]
event = "digest"
"#;
    let set = toml(text).unwrap_or_else(|e| panic!("{e}"));
    let deploys = set.get("deploys").unwrap();
    assert_eq!(deploys.display_name(), "deploys");
    assert_eq!(deploys.reconnect_time, Duration::from_secs(3));
    assert_eq!(deploys.rules.len(), 1);
    let news = set.get("news").unwrap();
    assert_eq!(news.backoff_cap, Duration::from_secs(5400));
    assert_eq!(news.rules.len(), 2);
    assert_eq!(
        news.history,
        HistorySpec::default(),
        "720h is the default 30d"
    );
    let out = set.to_toml();
    assert!(out.contains("backoff_cap = \"90m\""), "{out}");
    assert!(
        !out.contains("reconnect_time") && !out.contains("idle_timeout"),
        "{out}"
    );
    assert!(!out.contains("history"), "{out}");
    assert_eq!(toml(&out).unwrap(), set);
}

#[test]
fn absent_version_means_1_and_other_versions_are_refused_where_written() {
    let set = toml("[[subscription]]\nid = \"a\"\nurl = \"https://e.com/\"\n").unwrap();
    assert_eq!(set.subscriptions.len(), 1);
    let err =
        toml("# newer\nversion = 2\n[[subscription]]\nid = \"a\"\nnew_key = 1\n").unwrap_err();
    let (line, col, message) = one_problem(&err);
    assert_eq!((line, col), (2, 11));
    assert!(message.contains("reads version 1, not 2"), "{message}");
    let err = json("{\n  \"version\": 0\n}").unwrap_err();
    assert_eq!(one_problem(&err).0, 2);
}

#[test]
fn each_subscription_reports_its_own_type_error() {
    let text = "version = 1\n\n[[subscription]]\nid = \"a\"\nurl = \"https://e.com/a\"\nidle_timeout = \"soon\"\n\n\
                [[subscription]]\nid = \"b\"\nurl = \"https://e.com/b\"\n\n\
                [[subscription]]\nid = \"c\"\nurll = \"https://e.com/c\"\n[[subscription.rules]]\naction = \"shout\"\n";
    let err = toml(text).unwrap_err();
    let found: Vec<_> = err
        .problems
        .iter()
        .map(|p| (p.line.unwrap(), p.column.unwrap(), p.message.clone()))
        .collect();
    assert_eq!(found.len(), 2, "{err}");
    assert_eq!((found[0].0, found[0].1), (6, 16), "{err}");
    assert!(found[0].2.contains("invalid duration \"soon\""), "{err}");
    assert_eq!((found[1].0, found[1].1), (14, 1), "{err}");
    assert!(found[1].2.contains("unknown field `urll`"), "{err}");
}

#[test]
fn syntax_and_type_errors_carry_line_and_column() {
    let cases: [(&str, (usize, usize), &str); 6] = [
        (
            "version = 1\n[[subscription]\nid = \"a\"\n",
            (2, 16),
            "unclosed array table, expected `]`",
        ),
        (
            "[[subscription]]\nid = \"a\"\nurl = \"https://e.com\"\nurll = \"x\"\n",
            (4, 1),
            "unknown field `urll`, expected one of `id`, `name`, `url`",
        ),
        (
            "[[subscription]]\nid = \"a\"\nurl = \"https://e.com\"\nidle_timeout = \"2 minutes later\"\n",
            (4, 16),
            "invalid duration \"2 minutes later\"",
        ),
        (
            "[[subscription]]\nid = \"a\"\nurl = \"https://e.com\"\nidle_timeout = 120\n",
            (4, 16),
            "expected a duration string like \"3s\" or \"2m\"",
        ),
        (
            "[[subscription]]\nid = \"a\"\nurl = \"https://e.com\"\nmax_event_size = -5\n",
            (4, 18),
            "expected usize",
        ),
        (
            "[[subscription]]\nid = \"a\"\n",
            (1, 1),
            "missing field `url`",
        ),
    ];
    for (text, at, expected) in cases {
        let err = toml(text).unwrap_err();
        let (line, col, message) = one_problem(&err);
        assert_eq!((line, col), at, "{message}");
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        let display = err.to_string();
        assert!(
            display.starts_with(&format!("subs.toml:{}:{}: ", at.0, at.1)),
            "{display}"
        );
    }
    let err = json(
        "{\"subscriptions\": [\n  {\"id\": \"a\", \"url\": \"https://e.com\", \"color\": 1}\n]}",
    )
    .unwrap_err();
    let (line, _, message) = one_problem(&err);
    assert_eq!(line, 2);
    assert!(message.starts_with("unknown field `color`"), "{message}");
    assert!(!message.contains("at line"), "{message}");
    let err = json("{\"subscriptions\": [\n  {\"id\": \"a\",,}\n]}").unwrap_err();
    assert_eq!(one_problem(&err).0, 2);
}

#[test]
fn every_semantic_problem_is_reported_at_once_with_its_place() {
    let text = r#"version = 1

[[subscription]]
id = "a"
url = "https://e.com/a"

[[subscription]]
id = "a"
url = "ftp://e.com/b"

[[subscription]]
id = "b c"
url = "not a url"
reconnect_time = "10s"
backoff_cap = "5s"
max_event_size = 0
headers = { "Bad Name" = "x", Cookie = "session=1" }
auth = { type = "bearer", token = "env:9LIVES" }
resume = { cursor = "id", query = "since" }
history = { max_events = 0 }

[[subscription]]
id = "A"
url = "https://e.com/c"
"#;
    let err = toml(text).unwrap_err();
    let got = located(&err);
    let expected = [
        "8:6: subscription \"a\": id: duplicate id \"a\": subscription #1 already uses \"a\"",
        "9:7: subscription \"a\": url: URL \"ftp://e.com/b\": scheme \"ftp\" is not allowed; expected http or https",
        "12:6: subscription #3: id: id \"b c\" is not valid",
        "13:7: subscription #3: url: URL \"not a url\": not an absolute URL",
        "15:15: subscription #3: backoff_cap: 5s is less than reconnect_time (10s)",
        "16:18: subscription #3: max_event_size: must be at least 1 byte",
        "17:26: subscription #3: headers.Bad Name: \"Bad Name\" is not a valid header name",
        "17:40: subscription #3: headers.Cookie: a secret must not be written in clear",
        "18:35: subscription #3: auth.token: invalid reference \"env:9LIVES\"",
        "19:21: subscription #3: resume.cursor: \"id\" is not a JSON pointer",
        "20:26: subscription #3: history.max_events: must be from 1 to 100000",
        "23:6: subscription \"A\": id: duplicate id \"A\": subscription #1 already uses \"a\"",
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (got, expected) in got.iter().zip(expected) {
        assert!(got.starts_with(expected), "{got}\n  expected {expected}");
    }
    // Displayed one per line, each with the file.
    assert_eq!(err.to_string().lines().count(), expected.len());
    assert!(err.to_string().lines().all(|l| l.starts_with("subs.toml:")));
}

#[test]
fn json_semantic_problems_are_located_too() {
    let text = "{\n  \"version\": 1,\n  \"subscriptions\": [\n    {\"id\": \"a\", \"url\": \"https://e.com\"},\n    {\"id\": \"a\",\n     \"url\": \"gopher://e.com\"}\n  ]\n}\n";
    let err = json(text).unwrap_err();
    let got = located(&err);
    assert!(
        got[0].starts_with("5:12: subscription \"a\": id: duplicate id"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("6:13: subscription \"a\": url: URL \"gopher"),
        "{got:?}"
    );
}

#[test]
fn literal_secrets_are_refused_in_the_file_without_repeating_them() {
    let text = r#"
[[subscription]]
id = "a"
url = "https://e.com"
headers = { Authorization = "Bearer hunter2", X-Title = "plain" }

[[subscription]]
id = "b"
url = "https://e.com"
auth = { type = "basic", username = "me", password = "hunter2" }
"#;
    let err = toml(text).unwrap_err();
    let got = located(&err);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("5:29: subscription \"a\": headers.Authorization: a secret must not be written in clear in this file; use env:NAME or file:PATH"), "{got:?}");
    assert!(
        got[1].starts_with("10:54: subscription \"b\": auth.password:"),
        "{got:?}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // Input to add/import may hold them (to be stashed).
    let set =
        SubscriptionSet::parse(text, Format::Toml, Path::new("in"), LiteralSecrets::Allow).unwrap();
    assert_eq!(set.subscriptions.len(), 2);
    // Control characters are refused even then.
    let bad = text.replace("Bearer hunter2", "Bearer a\\nb");
    assert!(
        SubscriptionSet::parse(&bad, Format::Toml, Path::new("in"), LiteralSecrets::Allow).is_err()
    );
}

#[test]
fn rules_are_checked_by_the_router_and_located() {
    let text = r#"
[[subscription]]
id = "a"
url = "https://e.com"

[[subscription.rules]]
event = "message"

[[subscription.rules]]
event = "x"
when = [{ pointer = "/a", regex = "(" }]
"#;
    let err = toml(text).unwrap_err();
    let got = located(&err);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("11:"), "{got:?}");
    assert!(got[0].contains("rules[1].when[0].regex"), "{got:?}");
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(Paths::at(dir.path()));
    (dir, store)
}

/// The ids in the stored file, in file order.
fn stored_ids(store: &Store) -> Vec<String> {
    store
        .load()
        .unwrap()
        .subscriptions
        .into_iter()
        .map(|s| s.id)
        .collect()
}

fn add(store: &Store, id: &str) -> Result<(), StoreError> {
    store.update(|set| {
        set.upsert(SubscriptionSpec::new(
            id,
            format!("https://example.com/{id}"),
        ));
        Ok(())
    })
}

#[test]
fn store_reads_an_absent_file_as_empty_and_writes_what_it_reads_back() {
    let (_dir, store) = store();
    assert_eq!(store.load().unwrap(), SubscriptionSet::default());
    add(&store, "a").unwrap();
    let path = store.paths().subscriptions_file();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let set = store.load().unwrap();
    assert_eq!(
        set.subscriptions,
        [SubscriptionSpec::new("a", "https://example.com/a")]
    );
    // A new file names its schema first: here (no package installed in a test's view of
    // /usr/share unless it is) the installed one or a copy this build wrote.
    let schema = crate::schema_for_new_file(store.paths()).unwrap();
    assert!(schema.is_file());
    let directive = crate::schema::directive(&schema);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{directive}{}", set.to_toml())
    );
    let copy: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&schema).unwrap()).unwrap();
    assert_eq!(copy["$id"], crate::json_schema()["$id"]);
    // A mode the user chose is kept.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    add(&store, "b").unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // Nothing but the file and its lock is left in the directory.
    let mut names: Vec<String> = fs::read_dir(&store.paths().config_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["subscriptions.lock", "subscriptions.toml"]);
}

#[test]
fn update_writes_only_valid_changes() {
    let (_dir, store) = store();
    add(&store, "a").unwrap();
    let path = store.paths().subscriptions_file();
    let before = fs::read(&path).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();

    // No change: not rewritten.
    store.update(|_| Ok::<_, StoreError>(())).unwrap();
    add(&store, "a").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode);

    // The closure refuses: nothing written, its error returned.
    let refused: Result<(), anyhow_like::Error> = store.update(|set| {
        set.remove("a");
        Err(anyhow_like::Error("no such thing".into()))
    });
    assert_eq!(refused.unwrap_err().0, "no such thing");

    // The change does not validate (a literal secret, a bad URL): nothing written.
    let err = store
        .update(|set| {
            let mut spec = SubscriptionSpec::new("b", "https://e.com");
            spec.auth = Some(AuthSpec::Bearer {
                token: Secret::parse("hunter2"),
            });
            set.upsert(spec);
            set.upsert(SubscriptionSpec::new("c", "mailto:x@e.com"));
            Ok(())
        })
        .unwrap_err();
    let StoreError::Invalid(config) = &err else {
        panic!("{err}")
    };
    assert_eq!(config.file, path);
    assert_eq!(config.problems.len(), 2, "{err}");
    assert!(
        config.problems[0]
            .message
            .starts_with("subscription \"b\": auth.token: a secret")
    );
    assert!(config.problems.iter().all(|p| p.line.is_none()));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
}

/// A stand-in for the CLI's error type: anything `From<StoreError>` works with `update`.
mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);

    impl From<super::StoreError> for Error {
        fn from(e: super::StoreError) -> Self {
            Self(e.to_string())
        }
    }
}

#[test]
fn a_file_that_does_not_validate_is_never_overwritten() {
    let (_dir, store) = store();
    let path = store.paths().subscriptions_file();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let broken = "version = 1\n[[subscription]]\nid = \"a\"\nurl = \"https://e.com\"\nurll = 1\n";
    fs::write(&path, broken).unwrap();
    let err = add(&store, "b").unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:5:1: unknown field `urll`", path.display())),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
    assert!(store.load().is_err());
}

#[test]
fn a_failed_write_names_the_file_and_leaves_the_old_one_intact() {
    let (_dir, mut store) = store();
    add(&store, "a").unwrap();
    let path = store.paths().subscriptions_file();
    let before = fs::read(&path).unwrap();

    // A full disk, after part of the new content went out.
    store.fail_writes_after = Some(20);
    let err = add(&store, "b").unwrap_err();
    let StoreError::Write { path: at, source } = &err else {
        panic!("{err}")
    };
    assert_eq!(at, &path);
    assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot write {}: No space left", path.display())),
        "{message}"
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_no_temp_files(&store);
    store.fail_writes_after = None;
    add(&store, "b").unwrap();
    assert_eq!(store.load().unwrap().subscriptions.len(), 2);
}

#[test]
fn a_read_only_config_dir_fails_cleanly() {
    let (_dir, store) = store();
    add(&store, "a").unwrap();
    let path = store.paths().subscriptions_file();
    let before = fs::read(&path).unwrap();
    let config_dir = &store.paths().config_dir;
    fs::set_permissions(config_dir, fs::Permissions::from_mode(0o500)).unwrap();
    // Root (as in CI) writes through permission bits: then the next test's real
    // file-size limit stands in for this one.
    let enforced = fs::write(config_dir.join("probe"), "x").is_err();
    let result = add(&store, "b");
    fs::set_permissions(config_dir, fs::Permissions::from_mode(0o700)).unwrap();
    if enforced {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, StoreError::Write { path: p, .. } if *p == path),
            "{err}"
        );
        assert!(err.to_string().contains("Permission denied"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_no_temp_files(&store);
    }
}

fn assert_no_temp_files(store: &Store) {
    for entry in fs::read_dir(&store.paths().config_dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "left behind: {name}");
    }
}

/// Where the child of [`a_real_write_failure_leaves_the_old_file`] works.
const CHILD_ROOT: &str = "SSENOTIFY_CONFIG_TEST_CHILD_ROOT";

#[test]
fn a_real_write_failure_leaves_the_old_file() {
    // A real kernel error that permission bits cannot give root: a child process with a
    // 512-byte file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) gets EFBIG mid-write.
    let (dir, store) = store();
    add(&store, "a").unwrap();
    let path = store.paths().subscriptions_file();
    let before = fs::read(&path).unwrap();
    assert!(before.len() < 512);
    let output = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::child_writes_past_its_file_size_limit",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROOT, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("child saw: cannot write"), "{stdout}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_no_temp_files(&store);
}

#[test]
#[ignore = "run by a_real_write_failure_leaves_the_old_file in a limited child process"]
fn child_writes_past_its_file_size_limit() {
    let Some(root) = std::env::var_os(CHILD_ROOT) else {
        return;
    };
    let store = Store::new(Paths::at(root));
    let err = store
        .update(|set| {
            let mut spec = SubscriptionSpec::new("big", "https://example.com/big");
            spec.name = Some("x".repeat(2000));
            set.upsert(spec);
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Write { source, .. } if source.raw_os_error() == Some(27)),
        "{err}"
    );
    println!("child saw: {err}");
}

#[test]
fn concurrent_updates_lose_nothing() {
    let (_dir, store) = store();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            // Each thread has its own Store (its own lock file handle), like separate processes.
            let store = Store::new(store.paths().clone());
            scope.spawn(move || {
                for n in 0..25 {
                    add(&store, &format!("t{thread}-{n}")).unwrap();
                }
            });
        }
        // A reader meanwhile always sees a whole, valid file.
        let reader = Store::new(store.paths().clone());
        scope.spawn(move || {
            for _ in 0..50 {
                reader.load().unwrap();
            }
        });
    });
    let set = store.load().unwrap();
    assert_eq!(set.subscriptions.len(), 200);
    for thread in 0..8 {
        for n in 0..25 {
            assert!(set.get(&format!("t{thread}-{n}")).is_some());
        }
    }
}

#[test]
fn stash_moves_literal_secrets_into_private_files() {
    let (_dir, store) = store();
    let mut spec = SubscriptionSpec::new("work", "https://e.com/sse");
    spec.headers
        .insert("X-Api-Key".into(), Secret::parse("k-123"));
    spec.headers
        .insert("X-Title".into(), Secret::parse("not secret"));
    spec.headers
        .insert("Cookie".into(), Secret::parse("env:COOKIE"));
    spec.auth = Some(AuthSpec::Basic {
        username: "me".into(),
        password: Secret::parse("hunter2"),
    });

    // Planning writes nothing but tells what would change.
    let mut planned = spec.clone();
    let plan = store.plan_secrets(&mut planned).unwrap();
    assert!(plan.iter().all(|s| s.changed));
    assert!(!store.paths().secrets_dir().exists());

    let stashed = store.stash_secrets(&mut spec).unwrap();
    assert_eq!(spec, planned);
    let fields: Vec<&str> = stashed.iter().map(|s| s.field.as_str()).collect();
    assert_eq!(fields, ["headers.X-Api-Key", "auth.password"]);
    assert_eq!(
        spec.headers["X-Api-Key"],
        Secret::File("secrets/work.header-x-api-key".into())
    );
    assert_eq!(spec.headers["X-Title"], Secret::parse("not secret"));
    assert_eq!(spec.headers["Cookie"], Secret::parse("env:COOKIE"));
    assert_eq!(
        spec.auth,
        Some(AuthSpec::Basic {
            username: "me".into(),
            password: Secret::File("secrets/work.auth-password".into()),
        })
    );
    let dir = store.paths().secrets_dir();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for secret in &stashed {
        assert_eq!(
            fs::metadata(&secret.path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        fs::read_to_string(dir.join("work.auth-password")).unwrap(),
        "hunter2"
    );

    // Saved, the file holds references only.
    store
        .update(|set| {
            set.upsert(spec.clone());
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let text = fs::read_to_string(store.paths().subscriptions_file()).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("k-123"),
        "{text}"
    );
    let settings = store
        .load()
        .unwrap()
        .get("work")
        .unwrap()
        .to_settings(store.paths(), "")
        .unwrap_err();
    assert_eq!(settings.field, "headers.Cookie", "COOKIE is not set here");

    // Stashing the same input again finds the files already right.
    let mut again = SubscriptionSpec::new("work", "https://e.com/sse");
    again.auth = Some(AuthSpec::Basic {
        username: "me".into(),
        password: Secret::parse("hunter2"),
    });
    assert!(!store.stash_secrets(&mut again).unwrap()[0].changed);

    // An id that is not valid never becomes a path.
    let mut evil = SubscriptionSpec::new("../../etc", "https://e.com");
    evil.auth = Some(AuthSpec::Bearer {
        token: Secret::parse("t"),
    });
    assert!(matches!(
        store.stash_secrets(&mut evil),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn references_resolve_only_into_settings() {
    let (dir, store) = store();
    let paths = store.paths();
    fs::create_dir_all(paths.config_dir.join("secrets")).unwrap();
    fs::write(paths.config_dir.join("secrets/token"), "tok-1\n").unwrap();
    let absolute = dir.path().join("elsewhere");
    fs::write(&absolute, "p@ss\r\n").unwrap();

    let mut spec = SubscriptionSpec::new("a", "https://e.com/sse");
    spec.headers
        .insert("X-Path".into(), Secret::parse("env:PATH"));
    spec.headers.insert("X-Lang".into(), Secret::parse("en"));
    spec.auth = Some(AuthSpec::Bearer {
        token: Secret::parse("file:secrets/token"),
    });
    spec.idle_timeout = Duration::from_secs(30);
    spec.ca_file = Some("ca.pem".into());
    let settings = spec.to_settings(paths, "41").unwrap();
    assert_eq!(settings.url, "https://e.com/sse");
    assert_eq!(
        settings.headers,
        [
            ("X-Lang".to_owned(), "en".to_owned()),
            ("X-Path".to_owned(), std::env::var("PATH").unwrap()),
        ]
    );
    assert_eq!(
        settings.auth,
        Some(ssenotify_sse::Auth::Bearer {
            token: "tok-1".into()
        })
    );
    assert_eq!(settings.last_event_id, "41");
    assert_eq!(settings.policy.idle_timeout, Duration::from_secs(30));
    assert!(settings.policy.reconnect);
    assert_eq!(
        settings.extra_ca_file,
        Some(paths.config_dir.join("ca.pem"))
    );
    assert_eq!(settings.resume, None);

    let absolute_ref = format!("file:{}", absolute.display());
    spec.auth = Some(AuthSpec::Basic {
        username: "me".into(),
        password: Secret::parse(&absolute_ref),
    });
    let settings = spec.to_settings(paths, "").unwrap();
    assert_eq!(
        settings.auth,
        Some(ssenotify_sse::Auth::Basic {
            username: "me".into(),
            password: "p@ss".into()
        })
    );

    // Missing variable, missing file: the subscription, field and reference are named.
    spec.headers.insert(
        "X-Key".into(),
        Secret::parse("env:SSENOTIFY_SURELY_UNSET_7731"),
    );
    let err = spec.to_settings(paths, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "subscription \"a\": headers.X-Key: environment variable SSENOTIFY_SURELY_UNSET_7731 (from \"env:SSENOTIFY_SURELY_UNSET_7731\") is not set"
    );
    spec.headers.remove("X-Key");
    spec.auth = Some(AuthSpec::Bearer {
        token: Secret::parse("file:secrets/nope"),
    });
    let err = spec.to_settings(paths, "").unwrap_err();
    assert_eq!(err.field, "auth.token");
    assert!(
        err.reason.starts_with(&format!(
            "cannot read {} (from \"file:secrets/nope\"): No such file",
            paths.config_dir.join("secrets/nope").display()
        )),
        "{err}"
    );
}

#[test]
fn a_resume_adapter_takes_the_stored_cursor_instead_of_last_event_id() {
    let paths = Paths::at("/nowhere");
    let mut spec = SubscriptionSpec::new("n", "https://ntfy.sh/t/sse");
    spec.resume = Some(ResumeSpec::ntfy());
    let fresh = spec.to_settings(&paths, "").unwrap();
    let resume = fresh.resume.unwrap();
    assert_eq!(
        (resume.pointer.as_str(), resume.query.as_str()),
        ("/id", "since")
    );
    assert_eq!(resume.cursor, None);
    let resumed = spec.to_settings(&paths, "sPs71M8A2T").unwrap();
    assert_eq!(
        resumed.resume.unwrap().cursor.as_deref(),
        Some("sPs71M8A2T")
    );
    assert_eq!(resumed.last_event_id, "");
    assert_eq!(resumed.url, "https://ntfy.sh/t/sse");
}

/// `ssenotify import`, as the CLI will do it: parse, stash, diff, apply under the lock.
fn import(store: &Store, text: &str, format: Format, replace: bool) -> Diff {
    let mut incoming =
        SubscriptionSet::parse(text, format, Path::new("<stdin>"), LiteralSecrets::Allow).unwrap();
    for spec in &mut incoming.subscriptions {
        store.stash_secrets(spec).unwrap();
    }
    store
        .update(|set| {
            let d = diff(set, &incoming, replace);
            d.apply(set);
            Ok::<_, StoreError>(d)
        })
        .unwrap()
}

#[test]
fn importing_twice_changes_nothing_the_second_time() {
    let (_dir, store) = store();
    add(&store, "mine").unwrap();
    let input = r#"
[[subscription]]
id = "ci"
url = "https://ci.example.com/events"
auth = { type = "bearer", token = "tk_literal" }

[[subscription]]
id = "news"
url = "https://news.example.com/sse"
"#;
    let first = import(&store, input, Format::Toml, false);
    assert_eq!(first.render_text(), "+ ci\n+ news\n= mine\n");
    let path = store.paths().subscriptions_file();
    let after_first = fs::read(&path).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();
    let second = import(&store, input, Format::Toml, false);
    assert!(second.is_empty(), "{}", second.render_text());
    assert_eq!(second.render_text(), "= mine\n= ci\n= news\n");
    assert_eq!(fs::read(&path).unwrap(), after_first);
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode, "not rewritten");
    assert!(
        !String::from_utf8(after_first)
            .unwrap()
            .contains("tk_literal")
    );
}

#[test]
fn export_then_import_is_a_no_op_in_both_formats() {
    let (_dir, store) = store();
    let mut set = full_set();
    set.subscriptions
        .push(SubscriptionSpec::new("extra", "https://e.com/x"));
    store
        .update(|current| {
            *current = set.clone();
            Ok::<_, StoreError>(())
        })
        .unwrap();
    for format in [Format::Toml, Format::Json] {
        let exported = store.load().unwrap().render(format);
        for replace in [false, true] {
            let d = import(&store, &exported, format, replace);
            assert!(
                d.is_empty(),
                "{format} replace={replace}: {}",
                d.render_text()
            );
        }
        assert_eq!(store.load().unwrap().render(format), exported);
    }
}

#[test]
fn replace_removes_what_the_input_lacks_and_dry_run_shows_it() {
    let (_dir, store) = store();
    for id in ["a", "b", "c"] {
        add(&store, id).unwrap();
    }
    let input = r#"{"version": 1, "subscriptions": [
        {"id": "b", "url": "https://example.com/b", "paused": true},
        {"id": "d", "url": "https://example.com/d"}
    ]}"#;
    // Dry run: the diff only.
    let incoming = SubscriptionSet::parse(
        input,
        Format::Json,
        Path::new("in.json"),
        LiteralSecrets::Allow,
    )
    .unwrap();
    let before = fs::read(store.paths().subscriptions_file()).unwrap();
    let dry = diff(&store.load().unwrap(), &incoming, true);
    assert_eq!(dry.render_text(), "+ d\n~ b (paused)\n- a\n- c\n");
    assert_eq!(
        serde_json::to_value(dry.summary()).unwrap(),
        serde_json::json!({
            "added": ["d"],
            "changed": [{"id": "b", "fields": ["paused"], "reconnect": true}],
            "removed": ["a", "c"],
            "unchanged": [],
            "notifications_changed": false,
        })
    );
    assert_eq!(
        fs::read(store.paths().subscriptions_file()).unwrap(),
        before
    );

    import(&store, input, Format::Json, true);
    let ids = stored_ids(&store);
    assert_eq!(ids, ["b", "d"]);
}

const CLIENT_YML: &str = r#"# ntfy client config file
# Base URL used to expand short topic names in the "ntfy publish" and "ntfy subscribe" commands.
default-host: https://ntfy.example.com
default-user: phil
default-password: mypass
default-command: 'notify-send "$m"'

subscribe:
  - topic: alerts
  - topic: backups
    command: '/usr/local/bin/backup-done.sh'
    if:
      priority: high,urgent
  - topic: ntfy.sh/public-announcements
  - topic: https://other.example.org/deploys
    token: tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2
  - topic: family
    user: ""
    password: ""
  - topic: secret
    user: alice
    password: 12345
  - topic: http://192.168.1.5:8080/alerts
"#;

#[test]
fn ntfy_client_yml_becomes_resumable_subscriptions() {
    let imported = from_ntfy_client_yml(CLIENT_YML, Path::new("client.yml")).unwrap();
    let subs = &imported.set.subscriptions;
    let summary: Vec<(&str, &str, Option<&str>)> = subs
        .iter()
        .map(|s| (s.id.as_str(), s.url.as_str(), s.name.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("alerts", "https://ntfy.example.com/alerts/sse", None),
            ("backups", "https://ntfy.example.com/backups/sse", None),
            (
                "public-announcements",
                "https://ntfy.sh/public-announcements/sse",
                Some("ntfy.sh/public-announcements")
            ),
            (
                "deploys",
                "https://other.example.org/deploys/sse",
                Some("https://other.example.org/deploys")
            ),
            ("family", "https://ntfy.example.com/family/sse", None),
            ("secret", "https://ntfy.example.com/secret/sse", None),
            (
                "alerts-2",
                "http://192.168.1.5:8080/alerts/sse",
                Some("http://192.168.1.5:8080/alerts")
            ),
        ]
    );
    assert!(
        subs.iter()
            .all(|s| s.preset == Some(ssenotify_router::Preset::Ntfy))
    );
    assert!(
        subs.iter()
            .all(|s| s.resume_adapter() == Some(ResumeSpec::ntfy()))
    );
    let basic = |user: &str, password: &str| {
        Some(AuthSpec::Basic {
            username: user.into(),
            password: Secret::Literal(password.into()),
        })
    };
    assert_eq!(subs[0].auth, basic("phil", "mypass"));
    assert_eq!(subs[1].auth, basic("phil", "mypass"));
    assert_eq!(subs[2].auth, None, "defaults stay on the default host");
    assert_eq!(
        subs[3].auth,
        Some(AuthSpec::Bearer {
            token: Secret::Literal("tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2".into())
        })
    );
    assert_eq!(subs[4].auth, None, "explicitly empty user and password");
    assert_eq!(subs[5].auth, basic("alice", "12345"));
    assert_eq!(subs[6].auth, None);
    let warnings = imported.warnings.join("\n");
    for expected in [
        "default-command",
        "\"backups\": command",
        "\"backups\": the `if` filter",
        "\"ntfy.sh/public-announcements\" is not on",
    ] {
        assert!(warnings.contains(expected), "{expected:?} in {warnings}");
    }

    // Stashed and saved, the file holds no password; importing again changes nothing.
    let (_dir, store) = store();
    let import_ntfy = || {
        let mut set = from_ntfy_client_yml(CLIENT_YML, Path::new("client.yml"))
            .unwrap()
            .set;
        for spec in &mut set.subscriptions {
            store.stash_secrets(spec).unwrap();
        }
        store
            .update(|current| {
                let d = diff(current, &set, false);
                d.apply(current);
                Ok::<_, StoreError>(d)
            })
            .unwrap()
    };
    assert_eq!(import_ntfy().added.len(), 7);
    assert!(import_ntfy().is_empty());
    let text = fs::read_to_string(store.paths().subscriptions_file()).unwrap();
    assert!(
        !text.contains("mypass") && !text.contains("tk_Ag") && !text.contains("12345"),
        "{text}"
    );
    let loaded = store.load().unwrap();
    let settings = loaded
        .get("secret")
        .unwrap()
        .to_settings(store.paths(), "")
        .unwrap();
    assert_eq!(
        settings.auth,
        Some(ssenotify_sse::Auth::Basic {
            username: "alice".into(),
            password: "12345".into()
        })
    );
}

#[test]
fn ntfy_edge_cases() {
    // An empty (all comments) file, as ntfy ships it.
    let empty = from_ntfy_client_yml(
        "# default-host: https://ntfy.sh\n# subscribe:\n",
        Path::new("c.yml"),
    )
    .unwrap();
    assert!(empty.set.subscriptions.is_empty());
    // The default host is ntfy.sh; a default token wins over default user/password.
    let text = "default-token: tk_x\ndefault-user: u\ndefault-password: p\nsubscribe:\n  - topic: mytopic\n";
    let imported = from_ntfy_client_yml(text, Path::new("c.yml")).unwrap();
    let spec = &imported.set.subscriptions[0];
    assert_eq!(spec.url, "https://ntfy.sh/mytopic/sse");
    assert_eq!(
        spec.auth,
        Some(AuthSpec::Bearer {
            token: Secret::Literal("tk_x".into())
        })
    );
    // YAML errors carry their place.
    let err =
        from_ntfy_client_yml("subscribe:\n  - topic: [unclosed\n", Path::new("c.yml")).unwrap_err();
    assert_eq!(err.problems[0].line, Some(3), "{err}");
    let err = from_ntfy_client_yml("subscribe:\n  - command: x\n", Path::new("c.yml")).unwrap_err();
    assert!(err.to_string().contains("missing field `topic`"), "{err}");
}

/// The fenced blocks of `lang` in the reference doc.
fn doc_blocks(lang: &str) -> Vec<String> {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/subscriptions.md"
    ));
    let fence = format!("```{lang}\n");
    doc.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_owned())
        .collect()
}

#[test]
fn the_reference_doc_examples_are_valid() {
    let toml_blocks = doc_blocks("toml");
    // The first is the whole-file example; the others show one feature each.
    for block in &toml_blocks[1..] {
        toml(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
    }
    let set = toml(&toml_blocks[0]).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = set.subscriptions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["deploys", "alerts", "status"]);
    assert!(!is_default(&set.notifications));
    assert_eq!(toml(&set.to_toml()).unwrap(), set);
    let json_blocks = doc_blocks("json");
    assert_eq!(json_blocks.len(), 1);
    json(&json_blocks[0]).unwrap_or_else(|e| panic!("{e}"));
}

/// A file as a person keeps it in their dotfiles: comments above and beside keys, blank
/// lines, its own key order, single quotes, explicit defaults, a commented-out entry.
const HAND_WRITTEN: &str = "\
# My subscriptions, kept in my dotfiles.
# Edit freely.

version = 1

[notifications]
# Never at night.
quiet_hours = [{ from = '22:00', to = '07:00' }] # weekdays too

# Work stuff.
[[subscription]]
url = 'https://ci.example.com/events'   # the CI server
id = 'deploys'
# Shown in popups.
name = 'CI deploys'
idle_timeout = '300s'

[[subscription.rules]]
# Only deploys.
event = 'deploy'
title = 'Deployed'

# Home.
[[subscription]]
id = 'alerts'
url = 'https://ntfy.example.com/alerts/sse'
resume = { cursor = '/id', query = 'since' } # ntfy

[[subscription]]
# Status page.
id = 'status'
url = 'https://status.example.org/sse'
paused = false  # for now
# end of status

# Commented out for now:
# [[subscription]]
# id = \"old\"
";

/// A store whose file is [`HAND_WRITTEN`].
fn hand_written_store() -> (tempfile::TempDir, Store) {
    let (dir, store) = store();
    fs::create_dir_all(&store.paths().config_dir).unwrap();
    fs::write(store.paths().subscriptions_file(), HAND_WRITTEN).unwrap();
    (dir, store)
}

fn file_text(store: &Store) -> String {
    fs::read_to_string(store.paths().subscriptions_file()).unwrap()
}

/// `text` with `from` (which must occur once) replaced by `to`.
fn edited(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} in\n{text}");
    text.replacen(from, to, 1)
}

#[test]
fn pause_and_resume_change_only_their_line() {
    let (_dir, store) = hand_written_store();
    let paths = store.paths();
    crate::edit::set_paused(paths, "alerts", true).unwrap();
    let ntfy = "resume = { cursor = '/id', query = 'since' } # ntfy\n";
    assert_eq!(
        file_text(&store),
        edited(HAND_WRITTEN, ntfy, &format!("{ntfy}paused = true\n"))
    );
    crate::edit::set_paused(paths, "alerts", false).unwrap();
    assert_eq!(
        file_text(&store),
        HAND_WRITTEN,
        "back to the very same bytes"
    );
    // A key that is there changes its value only, its comment stays.
    crate::edit::set_paused(paths, "status", true).unwrap();
    assert_eq!(
        file_text(&store),
        edited(
            HAND_WRITTEN,
            "paused = false  # for now",
            "paused = true  # for now"
        )
    );
    assert!(store.load().unwrap().get("status").unwrap().paused);
}

#[test]
fn remove_drops_exactly_its_entry() {
    let (_dir, store) = hand_written_store();
    crate::edit::remove(store.paths(), "alerts").unwrap();
    let alerts = "\n# Home.\n[[subscription]]\nid = 'alerts'\n\
                  url = 'https://ntfy.example.com/alerts/sse'\n\
                  resume = { cursor = '/id', query = 'since' } # ntfy\n";
    assert_eq!(file_text(&store), edited(HAND_WRITTEN, alerts, ""));
}

#[test]
fn add_appends_after_everything_that_was_there() {
    let (_dir, store) = hand_written_store();
    crate::edit::add(
        store.paths(),
        crate::edit::NewSubscription {
            url: "https://news.example.com/sse".into(),
            id: Some("news".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let text = file_text(&store);
    let added = text
        .strip_prefix(HAND_WRITTEN)
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        added,
        "\n[[subscription]]\nid = \"news\"\nurl = \"https://news.example.com/sse\"\n"
    );
    let ids = stored_ids(&store);
    assert_eq!(ids, ["deploys", "alerts", "status", "news"]);
}

#[test]
fn a_changed_nested_value_keeps_the_comments_outside_it() {
    let (_dir, store) = hand_written_store();
    let mut deploys = store.load().unwrap().get("deploys").unwrap().clone();
    deploys.rules[0].title = Some("Deployed!".into());
    deploys.rules.push(RuleSpec {
        event: Some("rollback".into()),
        ..RuleSpec::default()
    });
    crate::edit::update(store.paths(), deploys.clone()).unwrap();
    // The rules are rewritten whole (the comment inside them goes); the rest is intact.
    let old_rules =
        "[[subscription.rules]]\n# Only deploys.\nevent = 'deploy'\ntitle = 'Deployed'\n";
    let new_rules = "[[subscription.rules]]\nevent = \"deploy\"\ntitle = \"Deployed!\"\n\n\
                     [[subscription.rules]]\nevent = \"rollback\"\n";
    assert_eq!(
        file_text(&store),
        edited(HAND_WRITTEN, old_rules, new_rules)
    );
    assert_eq!(store.load().unwrap().get("deploys"), Some(&deploys));
}

#[test]
fn notification_settings_change_in_place() {
    let (_dir, store) = hand_written_store();
    let mut settings = store.load().unwrap().notifications;
    settings.quiet_hours[0].from = "23:00".parse().unwrap();
    crate::edit::set_notifications(store.paths(), settings.clone()).unwrap();
    assert_eq!(
        file_text(&store),
        edited(
            HAND_WRITTEN,
            "quiet_hours = [{ from = '22:00', to = '07:00' }] # weekdays too",
            "quiet_hours = [{ from = \"23:00\", to = \"07:00\" }] # weekdays too"
        )
    );
    assert_eq!(store.load().unwrap().notifications, settings);
    // Back to no settings at all: the table goes, the comments elsewhere stay.
    crate::edit::set_notifications(store.paths(), Default::default()).unwrap();
    let table = "\n[notifications]\n# Never at night.\n\
                 quiet_hours = [{ from = '22:00', to = '07:00' }] # weekdays too\n";
    assert_eq!(file_text(&store), edited(HAND_WRITTEN, table, ""));
}

#[test]
fn writing_the_same_set_again_changes_nothing_and_new_files_are_canonical() {
    let (_dir, store) = hand_written_store();
    let intended = store.load().unwrap();
    let write = |set: &SubscriptionSet| {
        store
            .update(|current| {
                *current = set.clone();
                Ok::<_, StoreError>(())
            })
            .unwrap()
    };
    write(&intended);
    assert_eq!(file_text(&store), HAND_WRITTEN);
    let mut paused = intended.clone();
    paused.subscriptions[1].paused = true;
    write(&paused);
    let once = file_text(&store);
    write(&paused);
    assert_eq!(file_text(&store), once);
    // No file: exactly the canonical text, header included, after the schema directive.
    let (_dir, fresh) = self::store();
    fresh
        .update(|current| {
            *current = paused.clone();
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let schema = crate::schema_for_new_file(fresh.paths()).unwrap();
    assert_eq!(
        file_text(&fresh),
        format!("{}{}", crate::schema::directive(&schema), paused.to_toml())
    );
}

#[test]
fn a_change_editing_cannot_express_rewrites_the_file_whole() {
    let (_dir, store) = hand_written_store();
    let mut reordered = store.load().unwrap();
    reordered.subscriptions.reverse();
    reordered.subscriptions[0].paused = true;
    store
        .update(|current| {
            *current = reordered.clone();
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(file_text(&store), reordered.to_toml());
    assert_eq!(store.load().unwrap(), reordered);
}

/// One edit of the property test: what, on which subscription (an index into the current
/// list), with which value.
#[derive(Debug, Clone)]
enum Edit {
    Pause(usize, bool),
    PauseAll(bool),
    Mute(usize, Option<u8>),
    Rename(usize, Option<u8>),
    Rules(usize, u8),
    Headers(usize, Option<u8>),
    Remove(usize),
    Add(u8),
    QuietHours(Option<u8>),
}

fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<usize>(), any::<bool>()).prop_map(|(i, p)| Edit::Pause(i, p)),
        any::<bool>().prop_map(Edit::PauseAll),
        (any::<usize>(), any::<Option<u8>>()).prop_map(|(i, h)| Edit::Mute(i, h)),
        (any::<usize>(), any::<Option<u8>>()).prop_map(|(i, n)| Edit::Rename(i, n)),
        (any::<usize>(), 0..3u8).prop_map(|(i, n)| Edit::Rules(i, n)),
        (any::<usize>(), any::<Option<u8>>()).prop_map(|(i, n)| Edit::Headers(i, n)),
        any::<usize>().prop_map(Edit::Remove),
        (0..6u8).prop_map(Edit::Add),
        proptest::option::of(0..24u8).prop_map(Edit::QuietHours),
    ]
}

/// Apply `edit` through `ops` on the file and to `model` in memory, the way `ops` does.
fn apply_edit(paths: &Paths, model: &mut SubscriptionSet, edit: &Edit) {
    use crate::edit as ops;
    let id_at = |model: &SubscriptionSet, i: usize| {
        (!model.subscriptions.is_empty()).then(|| {
            model.subscriptions[i % model.subscriptions.len()]
                .id
                .clone()
        })
    };
    match *edit {
        Edit::Pause(i, paused) => {
            let Some(id) = id_at(model, i) else { return };
            ops::set_paused(paths, &id, paused).unwrap();
            model.get_mut(&id).unwrap().paused = paused;
        }
        Edit::PauseAll(paused) => {
            ops::set_all_paused(paths, paused).unwrap();
            model
                .subscriptions
                .iter_mut()
                .for_each(|s| s.paused = paused);
        }
        Edit::Mute(i, hours) => {
            let Some(id) = id_at(model, i) else { return };
            let until = hours.map(|h| {
                parse_timestamp("2030-01-01T00:00:00+02:00").unwrap()
                    + chrono::Duration::hours(i64::from(h))
            });
            ops::mute(paths, &id, until).unwrap();
            model.get_mut(&id).unwrap().mute_until = until;
        }
        Edit::Rename(i, name) => {
            let Some(id) = id_at(model, i) else { return };
            let mut spec = model.get(&id).unwrap().clone();
            spec.name = name.map(|n| format!("Name {n}"));
            ops::update(paths, spec.clone()).unwrap();
            model.upsert(spec);
        }
        Edit::Rules(i, count) => {
            let Some(id) = id_at(model, i) else { return };
            let mut spec = model.get(&id).unwrap().clone();
            spec.rules = (0..count)
                .map(|n| RuleSpec {
                    event: Some(format!("e{n}")),
                    ..RuleSpec::default()
                })
                .collect();
            ops::update(paths, spec.clone()).unwrap();
            model.upsert(spec);
        }
        Edit::Headers(i, value) => {
            let Some(id) = id_at(model, i) else { return };
            let mut spec = model.get(&id).unwrap().clone();
            spec.headers = value
                .map(|v| ("X-Title".to_owned(), Secret::parse(&format!("t{v}"))))
                .into_iter()
                .collect();
            ops::update(paths, spec.clone()).unwrap();
            model.upsert(spec);
        }
        Edit::Remove(i) => {
            let Some(id) = id_at(model, i) else { return };
            ops::remove(paths, &id).unwrap();
            model.remove(&id);
        }
        Edit::Add(n) => {
            let id = format!("new-{n}");
            let url = format!("https://e.com/{n}");
            let added = ops::add(
                paths,
                ops::NewSubscription {
                    url: url.clone(),
                    id: Some(id.clone()),
                    ..Default::default()
                },
            );
            if model.get(&id).is_some() {
                assert!(matches!(added, Err(ops::EditError::Exists(_))), "{added:?}");
            } else {
                added.unwrap();
                model.upsert(SubscriptionSpec::new(id, url));
            }
        }
        Edit::QuietHours(from) => {
            let mut settings = model.notifications.clone();
            settings.quiet_hours = from
                .map(|h| {
                    let period = format!(r#"{{"from": "{h:02}:00", "to": "07:00"}}"#);
                    vec![serde_json::from_str(&period).unwrap()]
                })
                .unwrap_or_default();
            ops::set_notifications(paths, settings.clone()).unwrap();
            model.notifications = settings;
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// Any sequence of edits on a commented file reads back as the same edits applied in
    /// memory, and is always an edit (never a rewrite from scratch) that keeps the
    /// comments no entry owns.
    #[test]
    fn edits_of_a_commented_file_read_back_as_applied_in_memory(
        edits in proptest::collection::vec(edit(), 1..10)
    ) {
        let (_dir, store) = hand_written_store();
        let mut model = store.load().unwrap();
        for edit in &edits {
            apply_edit(store.paths(), &mut model, edit);
            proptest::prop_assert_eq!(&store.load().unwrap(), &model, "after {:?}", edit);
            let text = file_text(&store);
            for kept in ["# My subscriptions, kept in my dotfiles.\n# Edit freely.\n\nversion = 1\n",
                         "# Commented out for now:\n# [[subscription]]\n# id = \"old\"\n"] {
                proptest::prop_assert!(text.contains(kept), "{kept:?} lost after {edit:?}:\n{text}");
            }
        }
    }
}

#[test]
fn gap_accounting_keys_have_defaults_and_a_bad_sequence_is_located() {
    let set = toml("[[subscription]]\nid = \"a\"\nurl = \"https://e.com/a\"\n").unwrap();
    let a = &set.subscriptions[0];
    assert_eq!(a.gap_threshold, DEFAULT_GAP_THRESHOLD);
    assert!(!a.notify_gaps && a.sequence.is_none());

    let text = "[[subscription]]\nid = \"a\"\nurl = \"https://e.com/a\"\n\
                gap_threshold = \"0s\"\nnotify_gaps = true\nsequence = \"/seq\"\n";
    let set = toml(text).unwrap();
    let a = &set.subscriptions[0];
    assert_eq!(a.gap_threshold, Duration::ZERO, "0s: every outage");
    assert!(a.notify_gaps);
    assert_eq!(a.sequence.as_deref(), Some("/seq"));
    let written = set.render(Format::Toml);
    assert!(
        written.contains("gap_threshold = \"0s\"") && written.contains("sequence = \"/seq\""),
        "{written}"
    );
    assert!(
        !toml("[[subscription]]\nid = \"a\"\nurl = \"https://e.com/a\"\n")
            .unwrap()
            .render(Format::Toml)
            .contains("gap_threshold"),
        "a default is not written"
    );

    let err = toml("[[subscription]]\nid = \"a\"\nurl = \"https://e.com/a\"\nsequence = \"seq\"\n")
        .unwrap_err();
    assert_eq!(
        located(&err),
        [
            "4:12: subscription \"a\": sequence: \"seq\" is not a JSON pointer; expected one like \"/seq\" (RFC 6901)"
        ]
    );
    let err =
        toml("[[subscription]]\nid = \"a\"\nurl = \"https://e.com/a\"\ngap_threshold = \"soon\"\n")
            .unwrap_err();
    assert!(located(&err)[0].starts_with("4:"), "{:?}", located(&err));
}

#[test]
fn http_button_headers_are_references_never_secrets_in_clear() {
    let text = r#"
[[subscription]]
id = "a"
url = "https://e.com"

[[subscription.rules]]
buttons = [
  { label = "ok", http = { url = "https://ci.example/r", headers = { Authorization = "file:ci-token", Content-Type = "text/plain" } } },
  { label = "clear", http = { url = "https://ci.example/r", headers = { Authorization = "Bearer hunter2" } } },
  { label = "templated", http = { url = "https://{{ json.host }}/r", headers = { X-Key = "env:KEY" } } },
]
"#;
    // Even import input may not hold a button's secret in clear: import stashes only a
    // subscription's own.
    for literal in [LiteralSecrets::Reject, LiteralSecrets::Allow] {
        let err = SubscriptionSet::parse(text, Format::Toml, Path::new("in"), literal).unwrap_err();
        let got = located(&err);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].contains("rules[0].buttons[1].http.headers.Authorization: a secret must not be written in clear"),
            "{got:?}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
