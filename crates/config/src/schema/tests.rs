//! The schema in step with the validator: every example in docs/ passes both, and at every
//! place of the file the keys (and value names) serde accepts are exactly the schema's.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::*;
use crate::{Format, LiteralSecrets, SubscriptionSet};

const SUB: &str = "[[subscription]]\nid = \"a\"\nurl = \"https://example.com/sse\"\n";

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&json_schema()).expect("the schema is valid draft 2020-12")
}

/// The validator's verdict on `text`: `Ok` or its problems, one a line.
fn validate(text: &str) -> Result<(), String> {
    SubscriptionSet::parse(
        text,
        Format::Toml,
        Path::new("t.toml"),
        LiteralSecrets::Allow,
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// The schema's verdict on `text`.
fn schema_verdict(validator: &jsonschema::Validator, text: &str) -> Result<(), String> {
    let value: Value = toml::from_str(text).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// A docs/ example made a whole file: a fragment of a rule or a rule list gets the
/// subscription (and rule) it belongs in, as the surrounding text says; a key written again
/// in a fragment is an alternative, so it starts another rule.
fn whole_file(block: &str) -> String {
    let first = block
        .lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or_default();
    if first.starts_with("[[subscription.rules]]") {
        format!("{SUB}\n{block}")
    } else if first.starts_with('[') || first.starts_with("version") {
        block.to_owned()
    } else {
        let mut text = format!("{SUB}\n[[subscription.rules]]\n");
        let mut keys = BTreeSet::new();
        for line in block.lines() {
            let key = line.split_once(" =").map(|(k, _)| k).filter(|k| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            if let Some(key) = key
                && !keys.insert(key.to_owned())
            {
                text.push_str("[[subscription.rules]]\n");
                keys = BTreeSet::from([key.to_owned()]);
            }
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

fn doc_examples() -> Vec<(String, String)> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut examples = Vec::new();
    for entry in std::fs::read_dir(&docs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        let mut n = 0;
        while let Some(start) = rest.find("```toml\n") {
            let body = &rest[start + 8..];
            let end = body.find("```").expect("a closed code block");
            n += 1;
            let name = format!(
                "{} example {n}",
                path.file_name().unwrap().to_string_lossy()
            );
            examples.push((name, whole_file(&body[..end])));
            rest = &body[end + 3..];
        }
    }
    examples
}

#[test]
fn every_toml_example_in_docs_passes_the_validator_and_the_schema() {
    let validator = validator();
    let examples = doc_examples();
    assert!(examples.len() >= 10, "{} examples found", examples.len());
    for (name, text) in &examples {
        if let Err(e) = validate(text) {
            panic!("{name} does not validate:\n{e}\n---\n{text}");
        }
        if let Err(e) = schema_verdict(&validator, text) {
            panic!("{name} does not pass the schema:\n{e}\n---\n{text}");
        }
    }
}

#[test]
fn the_schema_refuses_what_the_validator_refuses_by_shape() {
    let validator = validator();
    for text in [
        "versoin = 1\n",
        "version = 2\n",
        &format!("{SUB}reconect_time = \"3s\"\n"),
        &format!("{SUB}reconnect_time = \"soon\"\n"),
        &format!("{SUB}[[subscription.rules]]\naction = \"shout\"\n"),
        &format!("{SUB}[[subscription.rules]]\nurgency = \"high\"\n"),
        &format!("{SUB}[subscription.auth]\ntype = \"bearer\"\ntokn = \"env:T\"\n"),
        "[[notifications.quiet_hours]]\nfrom = \"25:00\"\nto = \"07:00\"\n",
        "[[notifications.quiet_hours]]\ndays = [\"mnday\"]\nfrom = \"22:00\"\nto = \"07:00\"\n",
        "[[subscription]]\nid = \"a\"\n",
        &format!(
            "{SUB}[[subscription.rules]]\nbuttons = [{{label = \"l\", view = \"https://a\", http = {{url = \"https://a\"}}}}]\n"
        ),
        &format!("{SUB}[[subscription.rules]]\nbuttons = [{{label = \"l\"}}]\n"),
        &format!(
            "{SUB}[[subscription.rules]]\nbuttons = [{{label = \"l\", http = {{url = \"https://a\", method = \"TRACE\"}}}}]\n"
        ),
        &format!(
            "{SUB}[[subscription.rules]]\nbuttons = [{{label = \"l\", http = {{method = \"GET\"}}}}]\n"
        ),
    ] {
        assert!(validate(text).is_err(), "the validator accepts:\n{text}");
        assert!(
            schema_verdict(&validator, text).is_err(),
            "the schema accepts:\n{text}"
        );
    }
    let days = "[[notifications.quiet_hours]]\ndays = [\"Mon\", \"tuesday\", \"SUN\"]\nfrom = \"22:00\"\nto = \"07:00\"\n";
    assert_eq!(validate(days), Ok(()));
    assert_eq!(schema_verdict(&validator, days), Ok(()));
}

/// The names serde lists after "expected" in the validator's message for `text`.
fn expected_names(text: &str) -> BTreeSet<String> {
    let message = validate(text).expect_err("the probe is refused");
    let after = message
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of names in {message:?}"))
        .1;
    after
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The schema node at `path` (`properties` names, `[]` for items, a number for `oneOf`),
/// following `$ref`s.
fn node<'a>(root: &'a Value, path: &[&str]) -> &'a Value {
    let resolve = |mut v: &'a Value| {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/$defs/").expect("a local ref");
            v = &root["$defs"][name];
        }
        v
    };
    let mut here = resolve(root);
    for step in path {
        here = match *step {
            "[]" => resolve(&here["items"]),
            n if n.parse::<usize>().is_ok() => resolve(&here["oneOf"][n.parse::<usize>().unwrap()]),
            key => resolve(&here["properties"][key]),
        };
    }
    here
}

fn property_names(root: &Value, path: &[&str]) -> BTreeSet<String> {
    node(root, path)["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no properties at {path:?}"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_key_the_validator_accepts_is_in_the_schema_and_no_other() {
    let schema = json_schema();
    let probe = "zz_probe = 1\n";
    let places: Vec<(String, Vec<&str>)> = vec![
        (probe.to_owned(), vec![]),
        (format!("[notifications]\n{probe}"), vec!["notifications"]),
        (
            format!("[notifications.rate_limit]\n{probe}"),
            vec!["notifications", "rate_limit"],
        ),
        (
            format!("[[notifications.quiet_hours]]\nfrom = \"22:00\"\nto = \"07:00\"\n{probe}"),
            vec!["notifications", "quiet_hours", "[]"],
        ),
        (format!("{SUB}{probe}"), vec!["subscription", "[]"]),
        (
            format!("{SUB}[subscription.history]\n{probe}"),
            vec!["subscription", "[]", "history"],
        ),
        (
            format!("{SUB}[subscription.resume]\ncursor = \"/id\"\nquery = \"since\"\n{probe}"),
            vec!["subscription", "[]", "resume"],
        ),
        (
            format!("{SUB}[subscription.rate_limit]\n{probe}"),
            vec!["subscription", "[]", "rate_limit"],
        ),
        (
            format!("{SUB}[[subscription.rules]]\n{probe}"),
            vec!["subscription", "[]", "rules", "[]"],
        ),
        (
            format!("{SUB}[[subscription.rules]]\n[[subscription.rules.when]]\n{probe}"),
            vec!["subscription", "[]", "rules", "[]", "when", "[]"],
        ),
        (
            format!("{SUB}[[subscription.rules]]\n[[subscription.rules.buttons]]\n{probe}"),
            vec!["subscription", "[]", "rules", "[]", "buttons", "[]"],
        ),
        (
            format!(
                "{SUB}[[subscription.rules]]\n[[subscription.rules.buttons]]\nlabel = \"l\"\n\
                 [subscription.rules.buttons.http]\nurl = \"https://a\"\n{probe}"
            ),
            vec!["subscription", "[]", "rules", "[]", "buttons", "[]", "http"],
        ),
    ];
    for (text, path) in &places {
        assert_eq!(
            expected_names(text),
            property_names(&schema, path),
            "at {path:?}"
        );
    }
    // The auth variants: serde names the fields besides the `type` tag.
    for (variant, fields, index) in [
        ("basic", "username = \"u\"\npassword = \"env:P\"\n", "0"),
        ("bearer", "token = \"env:T\"\n", "1"),
    ] {
        let text = format!("{SUB}[subscription.auth]\ntype = \"{variant}\"\n{fields}{probe}");
        let path = ["subscription", "[]", "auth", index];
        let mut keys = property_names(&schema, &path);
        assert_eq!(node(&schema, &path)["properties"]["type"]["const"], variant);
        keys.remove("type");
        assert_eq!(expected_names(&text), keys, "auth {variant}");
    }
}

fn enum_names(value: &Value) -> BTreeSet<String> {
    value["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum in {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_value_name_the_validator_accepts_is_in_the_schema() {
    let schema = json_schema();
    let rule = ["subscription", "[]", "rules", "[]"];
    let rule_node = node(&schema, &rule);
    for (key, names) in [
        ("action", enum_names(&rule_node["properties"]["action"])),
        ("urgency", enum_names(&rule_node["properties"]["urgency"])),
        (
            "urgency_map",
            enum_names(&rule_node["properties"]["urgency_map"]["oneOf"][0]),
        ),
    ] {
        let text = format!("{SUB}[[subscription.rules]]\n{key} = \"zz_probe\"\n");
        assert_eq!(expected_names(&text), names, "{key}");
    }
    let auth = format!("{SUB}[subscription.auth]\ntype = \"zz_probe\"\n");
    assert_eq!(
        expected_names(&auth),
        BTreeSet::from(["basic".into(), "bearer".into()])
    );
}

#[test]
fn the_schema_is_versioned_with_the_file_format() {
    let schema = json_schema();
    assert_eq!(schema["properties"]["version"]["const"], SCHEMA_VERSION);
    let id = schema["$id"].as_str().unwrap();
    assert!(
        id.ends_with(&format!("subscriptions-v{SCHEMA_VERSION}.json")),
        "{id}"
    );
    assert!(json_schema_text().ends_with("}\n"));
}
