//! The file's content as a value: [`SubscriptionSet`], and the [`Format`]s it is written in.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ssenotify_router::NotificationSettings;

use crate::hub::HubSpec;
use crate::spec::SubscriptionSpec;

/// A syntax the subscriptions schema is read and written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML: the subscriptions file itself, `[[subscription]]` tables.
    Toml,
    /// JSON: `{"version": 1, "subscriptions": [...]}`, for scripts.
    Json,
}

impl Format {
    /// The format a file name's extension implies (`.toml`, `.json`), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "toml" => Some(Self::Toml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The key of the subscriptions array: TOML reads better singular (`[[subscription]]`
    /// is one table), JSON plural (one array).
    pub(crate) fn list_key(self) -> &'static str {
        match self {
            Self::Toml => "subscription",
            Self::Json => "subscriptions",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "toml" => Ok(Self::Toml),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown format {other:?}; expected toml or json")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toml => "toml",
            Self::Json => "json",
        })
    }
}

/// Every subscription of a user, with the file-wide settings: the file's content.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionSet {
    /// File-wide notification settings (`[notifications]`).
    pub notifications: NotificationSettings,
    /// The local event hub (`[hub]`): off by default.
    pub hub: HubSpec,
    /// The subscriptions, in file order; ids are unique.
    pub subscriptions: Vec<SubscriptionSpec>,
}

impl SubscriptionSet {
    /// Each subscription's position by id, for looking up many: [`get`](Self::get) scans
    /// the list, so a loop of them over 10,000 subscriptions would be quadratic.
    pub fn positions(&self) -> HashMap<&str, usize> {
        self.subscriptions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect()
    }

    /// The subscription with this id.
    pub fn get(&self, id: &str) -> Option<&SubscriptionSpec> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    /// The subscription with this id, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut SubscriptionSpec> {
        self.subscriptions.iter_mut().find(|s| s.id == id)
    }

    /// Replace the subscription with the same id in place, or append it; returns the old one.
    pub fn upsert(&mut self, spec: SubscriptionSpec) -> Option<SubscriptionSpec> {
        match self.get_mut(&spec.id) {
            Some(slot) => Some(std::mem::replace(slot, spec)),
            None => {
                self.subscriptions.push(spec);
                None
            }
        }
    }

    /// Remove the subscription with this id; returns it.
    pub fn remove(&mut self, id: &str) -> Option<SubscriptionSpec> {
        let index = self.subscriptions.iter().position(|s| s.id == id)?;
        Some(self.subscriptions.remove(index))
    }
}
