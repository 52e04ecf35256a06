//! Import from an ntfy CLI `client.yml` (`ntfy subscribe --from-config`).
//!
//! The parts that map: `default-host`, `default-user`/`default-password`/`default-token`,
//! and each `subscribe:` entry's `topic`, `user`, `password`, `token` (the defaults only
//! for topics on the default host; the ntfy CLI sends them to any server). A topic is a bare
//! name (on the default host), `host/topic` (https), or a full URL, as ntfy expands it;
//! the subscription reads the topic's `/sse` endpoint and resumes with `?since=<id>`,
//! because ntfy's SSE messages carry their id only inside the JSON data.

use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::Value;
use ssenotify_router::Preset;

use super::validate::{self, validate_id};
use super::{AuthSpec, ConfigError, LiteralSecrets, Secret, SubscriptionSet, SubscriptionSpec};

/// ntfy's own default server.
const NTFY_DEFAULT_HOST: &str = "https://ntfy.sh";

/// The result of reading an ntfy `client.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct NtfyImport {
    /// The subscriptions, validated except for literal secrets: pass each through
    /// [`Store::stash_secrets`](super::Store::stash_secrets) before saving.
    pub set: SubscriptionSet,
    /// What was in the file but could not be carried over (commands, `if` filters).
    pub warnings: Vec<String>,
}

// Not `deny_unknown_fields`: the file belongs to ntfy, which has keys of its own.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct ClientYml {
    default_host: Option<Value>,
    default_user: Option<Value>,
    default_password: Option<Value>,
    default_token: Option<Value>,
    default_command: Option<Value>,
    #[serde(default)]
    subscribe: Option<Vec<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    topic: Value,
    user: Option<Value>,
    password: Option<Value>,
    token: Option<Value>,
    command: Option<Value>,
    #[serde(rename = "if")]
    condition: Option<Value>,
}

/// Read an ntfy `client.yml` into subscriptions (ids from the topic names).
pub fn from_ntfy_client_yml(text: &str, file: &Path) -> Result<NtfyImport, ConfigError> {
    let parsed: Option<ClientYml> = serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e.location().map(|l| (l.line(), l.column()));
        let message = e.to_string();
        let message = match e.location() {
            Some(l) => message
                .strip_suffix(&format!(" at line {} column {}", l.line(), l.column()))
                .unwrap_or(&message)
                .to_owned(),
            None => message,
        };
        ConfigError::single(file, at, message)
    })?;
    let config = parsed.unwrap_or_default();
    let scalar = |value: &Option<Value>, what: &str| -> Result<Option<String>, ConfigError> {
        // YAML reads `password: 1234` as a number; ntfy (Go) takes it as the string.
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ConfigError::single(
                file,
                None,
                format!("{what}: expected a string"),
            )),
        }
    };
    let host = scalar(&config.default_host, "default-host")?
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| NTFY_DEFAULT_HOST.to_owned());
    let host = if host.contains("://") {
        host
    } else {
        format!("https://{host}")
    };
    let default_auth = match (
        scalar(&config.default_token, "default-token")?.filter(|t| !t.is_empty()),
        scalar(&config.default_user, "default-user")?.filter(|u| !u.is_empty()),
        scalar(&config.default_password, "default-password")?,
    ) {
        (Some(token), _, _) => Some(bearer(token)),
        (None, Some(username), Some(password)) => Some(basic(username, password)),
        _ => None,
    };
    let mut warnings = Vec::new();
    if scalar(&config.default_command, "default-command")?.is_some() {
        warnings.push(
            "default-command is not imported: ssenotify runs commands through routing rules".into(),
        );
    }
    let mut set = SubscriptionSet::default();
    for (index, entry) in config.subscribe.unwrap_or_default().iter().enumerate() {
        let at = format!("subscribe[{index}]");
        let topic = scalar(&Some(entry.topic.clone()), &format!("{at}.topic"))?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::single(file, None, format!("{at}.topic: expected a topic name"))
            })?;
        let topic = topic.trim().to_owned();
        let user = scalar(&entry.user, &format!("{at}.user"))?;
        let password = scalar(&entry.password, &format!("{at}.password"))?;
        let token = scalar(&entry.token, &format!("{at}.token"))?;
        let url = topic_url(&topic, &host);
        if user.as_deref().is_some_and(|u| !u.is_empty()) && password.is_none() {
            warnings.push(format!(
                "topic {topic:?}: user without a password is ignored (as ntfy does)"
            ));
        }
        // ntfy's precedence: an explicitly empty token (or empty user and password) means
        // no credentials; then the entry's token, its user and password, the defaults.
        let own = if token.as_deref() == Some("")
            || (user.as_deref() == Some("") && password.as_deref() == Some(""))
        {
            Some(None)
        } else {
            match (token, user, password) {
                (Some(token), _, _) => Some(Some(bearer(token))),
                (None, Some(user), Some(password)) if !user.is_empty() => {
                    Some(Some(basic(user, password)))
                }
                _ => None,
            }
        };
        let auth = match own {
            Some(auth) => auth,
            // Unlike the ntfy CLI, the defaults (an account on the default host) are not
            // sent to other servers.
            None if same_origin(&url, &host) => default_auth.clone(),
            None => {
                if default_auth.is_some() {
                    warnings.push(format!(
                        "topic {topic:?} is not on {host}: the default credentials are not sent to it"
                    ));
                }
                None
            }
        };
        let mut spec = SubscriptionSpec::new(unique_id(&set, &topic), url);
        if spec.id != topic {
            spec.name = Some(topic.clone());
        }
        spec.auth = auth;
        // The preset brings the resume adapter (`?since=` the last message's id) too.
        spec.preset = Some(Preset::Ntfy);
        if entry.command.as_ref().is_some_and(|c| !c.is_null()) {
            warnings.push(format!(
                "topic {topic:?}: command is not imported: ssenotify runs commands through routing rules"
            ));
        }
        if entry.condition.as_ref().is_some_and(|c| !c.is_null()) {
            warnings.push(format!(
                "topic {topic:?}: the `if` filter is not imported: add a routing rule instead"
            ));
        }
        set.subscriptions.push(spec);
    }
    let found = validate::check(&set, LiteralSecrets::Allow, "subscription");
    if !found.is_empty() {
        return Err(ConfigError::located(file, None, found));
    }
    Ok(NtfyImport { set, warnings })
}

fn bearer(token: String) -> AuthSpec {
    AuthSpec::Bearer {
        token: Secret::Literal(token),
    }
}

fn basic(username: String, password: String) -> AuthSpec {
    AuthSpec::Basic {
        username,
        password: Secret::Literal(password),
    }
}

/// The topic's SSE endpoint, expanding the topic as the ntfy CLI does.
fn topic_url(topic: &str, default_host: &str) -> String {
    let base = if topic.starts_with("http://") || topic.starts_with("https://") {
        topic.to_owned()
    } else if topic.contains('/') {
        format!("https://{topic}")
    } else {
        format!("{}/{topic}", default_host.trim_end_matches('/'))
    };
    format!("{}/sse", base.trim_end_matches('/'))
}

/// Whether two URLs have the same scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// An id from the topic's name (its last path segment), made valid and unique in `set`.
fn unique_id(set: &SubscriptionSet, topic: &str) -> String {
    let name = topic
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(topic);
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_start_matches(['.', '-'])
        .chars()
        .take(60)
        .collect();
    if base.is_empty() {
        base = "ntfy".into();
    }
    let taken = |id: &str| {
        set.subscriptions
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(id))
    };
    let mut id = base.clone();
    let mut n = 1;
    while taken(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    debug_assert!(validate_id(&id).is_ok(), "{id}");
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_expand_like_the_ntfy_cli() {
        let host = "https://ntfy.example.com";
        assert_eq!(
            topic_url("alerts", host),
            "https://ntfy.example.com/alerts/sse"
        );
        assert_eq!(topic_url("other.host/x", host), "https://other.host/x/sse");
        assert_eq!(
            topic_url("http://lan:8080/y/", host),
            "http://lan:8080/y/sse"
        );
        assert_eq!(topic_url("a,b", "https://h/"), "https://h/a,b/sse");
    }

    #[test]
    fn ids_are_valid_and_unique() {
        let mut set = SubscriptionSet::default();
        for (topic, id) in [
            ("alerts", "alerts"),
            ("other.host/alerts", "alerts-2"),
            ("https://h/ALERTS", "ALERTS-3"),
            ("a,b", "a-b"),
            ("ü", "ntfy"),
            ("-x", "x"),
        ] {
            let got = unique_id(&set, topic);
            assert_eq!(got, id, "{topic}");
            set.subscriptions
                .push(SubscriptionSpec::new(got, "https://h/x"));
        }
    }
}
