//! Strict validation of a parsed set, reporting every independent problem at once.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::header::{HeaderName, HeaderValue};

use super::locate::{self, DisplayPath, PathSegment};
use super::secret_names::{is_secret_header, is_secret_query};
use super::spec::{AuthSpec, Secret, SubscriptionSpec};
use super::url_secrets;
use super::{Format, SubscriptionSet};

/// Whether input may hold secrets in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralSecrets {
    /// The subscriptions file itself: a literal secret is an error.
    Reject,
    /// Input to `add`/`import`: literal secrets are accepted, to be stashed by
    /// [`Store::stash_secrets`](super::Store::stash_secrets) before the set is saved.
    Allow,
}

/// One problem found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The 1-based line of the offending value, when the input was text.
    pub line: Option<usize>,
    /// The 1-based column (in characters) of the offending value, when the input was text.
    pub column: Option<usize>,
    /// Where the offending value sits in the schema, key by key (`subscription`, 2,
    /// `headers`, `X-Token`); empty when the input could not be parsed that far (syntax).
    pub path: Vec<PathSegment>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Problem {
    /// The field of a subscription this problem is about (`url`, `headers`, `rules`, ...):
    /// what a form shows it next to. `None` for problems outside a subscription.
    pub fn field(&self) -> Option<&str> {
        match self.path.as_slice() {
            [
                PathSegment::Key(list),
                PathSegment::Index(_),
                PathSegment::Key(field),
                ..,
            ] if list == "subscription" || list == "subscriptions" => Some(field),
            _ => None,
        }
    }

    /// The path below [`Problem::field`] (a header's name, a rule's index and key).
    pub fn field_path(&self) -> &[PathSegment] {
        self.path.get(3..).unwrap_or_default()
    }
}

/// Input that does not validate: every problem found, each with its location.
///
/// Displayed one problem per line as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or `<stdin>`) the input came from.
    pub file: PathBuf,
    /// The problems, in the order they appear in the input.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:", self.file.display())?;
            if let (Some(line), Some(column)) = (problem.line, problem.column) {
                write!(f, "{line}:{column}:")?;
            }
            write!(f, " {}", problem.message)?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// An error with a single problem at an already known place.
    pub(crate) fn single(file: &Path, at: Option<(usize, usize)>, message: String) -> Self {
        Self {
            file: file.to_path_buf(),
            problems: vec![Problem {
                line: at.map(|(line, _)| line),
                column: at.map(|(_, column)| column),
                path: Vec::new(),
                message,
            }],
        }
    }

    /// An error with several problems, each at an already known place.
    pub(crate) fn several(file: &Path, problems: Vec<(Option<(usize, usize)>, String)>) -> Self {
        Self {
            file: file.to_path_buf(),
            problems: problems
                .into_iter()
                .map(|(at, message)| Problem {
                    line: at.map(|(line, _)| line),
                    column: at.map(|(_, column)| column),
                    path: Vec::new(),
                    message,
                })
                .collect(),
        }
    }

    /// Place problems found by path in the text they came from (when there is one).
    pub(crate) fn located(file: &Path, source: Option<(&str, Format)>, found: Vec<Found>) -> Self {
        let mut problems: Vec<Problem> = found
            .into_iter()
            .map(|Found { path, message }| {
                let at = source.and_then(|(text, format)| {
                    let offset = match format {
                        Format::Toml => locate::toml_offset(text, &path),
                        Format::Json => locate::json_offset(text, &path),
                    }?;
                    Some(locate::line_col(text, offset))
                });
                Problem {
                    line: at.map(|(line, _)| line),
                    column: at.map(|(_, column)| column),
                    path,
                    message,
                }
            })
            .collect();
        // Stable: problems at one place keep the order in which they were found.
        problems.sort_by_key(|p| (p.line, p.column));
        Self {
            file: file.to_path_buf(),
            problems,
        }
    }
}

/// A problem found by validation, before it is placed in the text.
#[derive(Debug)]
pub(crate) struct Found {
    pub path: Vec<PathSegment>,
    pub message: String,
}

/// Check that `id` can name a subscription: 1 to 64 of `A-Z a-z 0-9 _ . -`, not starting
/// with `.` or `-` (it names secret files and is typed as a command-line argument).
pub fn validate_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let ok = (1..=64).contains(&id.len()) && id.chars().all(allowed) && !id.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "id {id:?} is not valid: expected 1 to 64 of A-Z a-z 0-9 _ . - (not starting with . or -)"
        ))
    }
}

/// Every problem of `set`; `list_key` names the subscriptions array in the source format.
pub(crate) fn check(set: &SubscriptionSet, literal: LiteralSecrets, list_key: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut first_by_id: HashMap<String, usize> = HashMap::new();
    for (index, spec) in set.subscriptions.iter().enumerate() {
        let id_problem = validate_id(&spec.id).err();
        let who = match id_problem {
            None => format!("subscription {:?}", spec.id),
            // A bad id would only confuse the message: name the subscription by position.
            Some(_) => format!("subscription #{}", index + 1),
        };
        let mut report = |tail: &[PathSegment], message: String| {
            let field = DisplayPath(tail).to_string();
            let mut path = vec![PathSegment::from(list_key), PathSegment::Index(index)];
            path.extend_from_slice(tail);
            found.push(Found {
                path,
                message: format!("{who}: {field}: {message}"),
            });
        };
        if let Some(message) = id_problem {
            report(&keys(&["id"]), message);
        }
        // Ids differing only in case would name the same secret files on a
        // case-insensitive file system.
        match first_by_id.get(&spec.id.to_ascii_lowercase()) {
            Some(&first) => report(
                &keys(&["id"]),
                format!(
                    "duplicate id {:?}: subscription #{} already uses {:?} (ids are unique, ignoring case)",
                    spec.id,
                    first + 1,
                    set.subscriptions[first].id
                ),
            ),
            None => {
                first_by_id.insert(spec.id.to_ascii_lowercase(), index);
            }
        }
        check_spec(spec, literal, &mut report);
    }
    if let Some(Err(message)) = set.hub.listen.as_deref().map(crate::hub::HubAddress::parse) {
        found.push(Found {
            path: keys(&["hub", "listen"]),
            message: format!("hub.listen: {message}"),
        });
    }
    found
}

fn check_spec(
    spec: &SubscriptionSpec,
    literal: LiteralSecrets,
    report: &mut impl FnMut(&[PathSegment], String),
) {
    if spec.name.as_deref() == Some("") {
        report(
            &keys(&["name"]),
            "must not be empty (omit it to use the id)".into(),
        );
    }
    match check_url(&spec.url) {
        Err(message) => report(&keys(&["url"]), message),
        Ok(url) => check_url_secrets(spec, &url, literal, report),
    }
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (name, value) in &spec.headers {
        let path = keys(&["headers", name.as_str()]);
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            report(
                &path,
                format!(
                    "{name:?} is not a valid header name (expected letters, digits and !#$%&'*+-.^_`|~)"
                ),
            );
        }
        if let Some(other) = seen.insert(name.to_ascii_lowercase(), name) {
            report(
                &path,
                format!("{name:?} repeats header {other:?} (header names ignore case)"),
            );
        }
        if spec.auth.is_some() && name.eq_ignore_ascii_case("authorization") {
            report(
                &path,
                "both this header and `auth` set Authorization; keep one".into(),
            );
        }
        if let Err(message) = check_secret(value, is_secret_header(name), literal) {
            report(&path, message);
        }
    }
    for (name, value) in &spec.query {
        let path = keys(&["query", name.as_str()]);
        if name.is_empty() {
            report(&path, "a query parameter needs a name".into());
        }
        if let Err(message) = check_reference(value, is_secret_query(name), literal) {
            report(&path, message);
        }
    }
    match &spec.auth {
        Some(AuthSpec::Basic { username, password }) => {
            if username.is_empty() {
                report(&keys(&["auth", "username"]), "must not be empty".into());
            } else if username.contains(':') || HeaderValue::from_str(username).is_err() {
                report(&keys(&["auth", "username"]),
                    "must not contain ':' or control characters (Basic auth joins user and password with ':')".into(),
                );
            }
            if let Err(message) = check_secret(password, true, literal) {
                report(&keys(&["auth", "password"]), message);
            }
        }
        Some(AuthSpec::Bearer { token }) => {
            if let Err(message) = check_secret(token, true, literal) {
                report(&keys(&["auth", "token"]), message);
            }
        }
        None => {}
    }
    for (key, value) in [
        ("reconnect_time", spec.reconnect_time),
        ("idle_timeout", spec.idle_timeout),
        ("backoff_cap", spec.backoff_cap),
    ] {
        if value.is_zero() {
            report(&keys(&[key]), "must be more than 0s".into());
        }
    }
    if spec.backoff_cap < spec.reconnect_time {
        report(
            &keys(&["backoff_cap"]),
            format!(
                "{} is less than reconnect_time ({}); expected at least as much",
                super::format_duration(spec.backoff_cap),
                super::format_duration(spec.reconnect_time)
            ),
        );
    }
    check_silent_alarm(spec, report);
    if spec.max_event_size == 0 {
        report(&keys(&["max_event_size"]), "must be at least 1 byte".into());
    }
    if spec
        .ca_file
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        report(
            &keys(&["ca_file"]),
            "must not be empty (omit it for none)".into(),
        );
    }
    if let Some(sequence) = spec.sequence.as_deref().filter(|p| !is_json_pointer(p)) {
        report(
            &keys(&["sequence"]),
            format!("{sequence:?} is not a JSON pointer; expected one like \"/seq\" (RFC 6901)"),
        );
    }
    if let Some(resume) = &spec.resume {
        if !is_json_pointer(&resume.cursor) {
            report(
                &keys(&["resume", "cursor"]),
                format!(
                    "{:?} is not a JSON pointer; expected one like \"/id\" (RFC 6901)",
                    resume.cursor
                ),
            );
        }
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if resume.query.is_empty() || !resume.query.chars().all(unreserved) {
            report(
                &keys(&["resume", "query"]),
                format!(
                    "{:?} is not a query parameter name; expected letters, digits and - . _ ~ like \"since\"",
                    resume.query
                ),
            );
        }
    }
    if let Err(errors) = ssenotify_router::validate_rules(&spec.rules) {
        for error in errors.0 {
            let mut path = vec![PathSegment::from("rules"), PathSegment::Index(error.rule)];
            path.extend(parse_path(&error.field));
            report(&path, error.message);
        }
    }
    check_button_headers(spec, report);
    let limit = super::spec::MAX_EVENTS_LIMIT;
    if !(1..=limit).contains(&spec.history.max_events) {
        report(
            &keys(&["history", "max_events"]),
            format!("must be from 1 to {limit}"),
        );
    }
    if spec.history.max_age.is_zero() {
        report(
            &keys(&["history", "max_age"]),
            "must be more than 0s".into(),
        );
    }
}

/// The header values of the rules' `http` buttons: references, or literals that are no
/// secret. Import does not stash a button's literal secret, so one is refused even there.
/// (Where secret ones may go is decided when pressed: the origin the URL writes out.)
fn check_button_headers(spec: &SubscriptionSpec, report: &mut impl FnMut(&[PathSegment], String)) {
    for (i, rule) in spec.rules.iter().enumerate() {
        for (j, button) in rule.buttons.iter().enumerate() {
            let Some(http) = &button.http else { continue };
            for (name, value) in &http.headers {
                let path = [
                    PathSegment::from("rules"),
                    PathSegment::Index(i),
                    PathSegment::from("buttons"),
                    PathSegment::Index(j),
                    PathSegment::from("http"),
                    PathSegment::from("headers"),
                    PathSegment::from(name.as_str()),
                ];
                let secret = Secret::parse(value);
                let sensitive = is_secret_header(name);
                if sensitive && secret.is_literal() {
                    report(
                        &path,
                        "a secret must not be written in clear in a button; use env:NAME or \
                         file:PATH"
                            .into(),
                    );
                } else if let Err(message) =
                    check_secret(&secret, sensitive, LiteralSecrets::Reject)
                {
                    report(&path, message);
                }
            }
        }
    }
}

/// The subscription's `expect_every` and `silent_urgency` (a rule's are checked with the
/// rules).
fn check_silent_alarm(spec: &SubscriptionSpec, report: &mut impl FnMut(&[PathSegment], String)) {
    match spec.expect_every {
        Some(every) if every.is_zero() => {
            report(&keys(&["expect_every"]), "must be more than 0s".into());
        }
        None if spec.silent_urgency.is_some() => report(
            &keys(&["silent_urgency"]),
            "only used with expect_every".into(),
        ),
        _ => {}
    }
}

fn keys(keys: &[&str]) -> Vec<PathSegment> {
    keys.iter().map(|key| PathSegment::from(*key)).collect()
}

/// `when[1].regex` → `when`, 1, `regex` (the router names fields inside a rule this way).
fn parse_path(field: &str) -> Vec<PathSegment> {
    let mut path = Vec::new();
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            path.push(PathSegment::from(key));
        }
        for index in pieces {
            match index.trim_end_matches(']').parse() {
                Ok(i) => path.push(PathSegment::Index(i)),
                Err(_) => path.push(PathSegment::from(index)),
            }
        }
    }
    path
}

/// Check that a URL parses and is `http`/`https`; the message masks credentials in it.
pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, String> {
    ssenotify_sse::http_url(url)
        .map_err(|reason| format!("URL {:?}: {reason}", url_secrets::redact(url)))
}

/// Credentials written in the URL: refused in the file (like a literal secret header);
/// in input to `add`/`import` only where lifting them out would clash with another field.
fn check_url_secrets(
    spec: &SubscriptionSpec,
    url: &reqwest::Url,
    literal: LiteralSecrets,
    report: &mut impl FnMut(&[PathSegment], String),
) {
    const MOVED: &str = "(ssenotify add and import do this for you)";
    if url_secrets::has_userinfo(url) {
        let sets_authorization = spec.auth.is_some()
            || spec
                .headers
                .keys()
                .any(|name| name.eq_ignore_ascii_case("authorization"));
        if literal == LiteralSecrets::Reject {
            report(
                &keys(&["url"]),
                format!(
                    "the URL holds credentials (user:password@), which must not be written in \
                     clear in this file; use auth = {{ type = \"basic\", username = \"...\", \
                     password = \"env:NAME\" }} or file:PATH {MOVED}"
                ),
            );
        } else if sets_authorization {
            report(
                &keys(&["url"]),
                "the URL's credentials (user:password@) and `auth` or an Authorization header \
                 both set Authorization; keep one"
                    .into(),
            );
        }
    }
    for param in url_secrets::query_params(url) {
        if spec.query.contains_key(&param.name) {
            report(
                &keys(&["query", param.name.as_str()]),
                format!(
                    "query parameter {:?} is set both here and in the URL; keep one",
                    param.name
                ),
            );
        } else if param.is_secret() && literal == LiteralSecrets::Reject {
            report(
                &keys(&["url"]),
                format!(
                    "query parameter {:?} looks like a secret and must not be written in clear \
                     in the URL; use query = {{ {:?} = \"env:NAME\" }} or file:PATH {MOVED}",
                    param.name, param.name
                ),
            );
        }
    }
}

/// A header value or credential: a well-formed reference, or a literal HTTP can carry.
fn check_secret(secret: &Secret, sensitive: bool, literal: LiteralSecrets) -> Result<(), String> {
    check_reference(secret, sensitive, literal)?;
    match secret {
        Secret::Literal(value) if HeaderValue::from_str(value).is_err() => Err(
            "the value contains control characters or a newline, which HTTP cannot carry".into(),
        ),
        _ => Ok(()),
    }
}

/// A value that may be a reference: well-formed, and not a secret in clear where refused.
fn check_reference(
    secret: &Secret,
    sensitive: bool,
    literal: LiteralSecrets,
) -> Result<(), String> {
    match secret {
        Secret::Env(name) if !is_env_name(name) => Err(format!(
            "invalid reference \"env:{name}\"; expected env:NAME with NAME of letters, digits and _, not starting with a digit"
        )),
        Secret::File(path) if path.is_empty() => {
            Err("invalid reference \"file:\"; expected file:PATH".into())
        }
        // The value itself is never repeated in the message: it is a secret.
        Secret::Literal(_) if sensitive && literal == LiteralSecrets::Reject => Err(
            "a secret must not be written in clear in this file; use env:NAME or file:PATH \
             (ssenotify add and import store literal secrets under secrets/ for you)"
                .into(),
        ),
        _ => Ok(()),
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_json_pointer(pointer: &str) -> bool {
    if pointer.is_empty() {
        return true;
    }
    if !pointer.starts_with('/') {
        return false;
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "work-alerts", "A_1.2", "_x", &"x".repeat(64)] {
            assert_eq!(validate_id(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".hidden", "-flag", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_pointers_and_env_names() {
        for ok in ["", "/", "/id", "/a~0b/c~1d", "/0"] {
            assert!(is_json_pointer(ok), "{ok}");
        }
        for bad in ["id", "/a~2", "/a~"] {
            assert!(!is_json_pointer(bad), "{bad}");
        }
        assert!(is_env_name("NTFY_TOKEN") && is_env_name("_x1"));
        assert!(!is_env_name("") && !is_env_name("1X") && !is_env_name("A-B"));
    }

    #[test]
    fn config_error_display_is_one_problem_per_line() {
        let error = ConfigError {
            file: "/c/subscriptions.toml".into(),
            problems: vec![
                Problem {
                    line: Some(3),
                    column: Some(7),
                    path: Vec::new(),
                    message: "bad".into(),
                },
                Problem {
                    line: None,
                    column: None,
                    path: Vec::new(),
                    message: "worse".into(),
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "/c/subscriptions.toml:3:7: bad\n/c/subscriptions.toml: worse"
        );
    }
}
