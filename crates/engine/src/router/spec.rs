//! The routing part of the subscriptions file, as serde types. (Placeholder shapes.)

use serde::{Deserialize, Serialize};

/// One routing rule of a subscription (first match wins).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The event type (or glob) this rule matches; `message` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// A per-subscription popup rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {}

/// The file-wide notification settings (quiet hours, default rate limit).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {}
