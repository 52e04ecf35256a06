//! Problems found in a subscription's rules: each names its rule and the key at fault, so the
//! config crate can place it in the file.

use serde::Serialize;

/// One problem in one rule, located precisely enough for the config validator to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("rules[{rule}].{field}: {message}")]
pub struct RuleError {
    /// Index of the rule in the subscription's `rules` list (0-based).
    pub rule: usize,
    /// The key at fault, as a path inside the rule (`event`, `when[1].regex`, `title`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every problem found in a subscription's rules (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RuleErrors(pub Vec<RuleError>);

impl std::fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

/// Collects errors for one rule, so each check stays a one-liner.
pub(crate) struct Errors<'a> {
    pub(crate) rule: usize,
    pub(crate) list: &'a mut Vec<RuleError>,
}

impl Errors<'_> {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(RuleError {
            rule: self.rule,
            field: field.into(),
            message: message.into(),
        });
    }
}
