//! The router: turns a subscription's events into notify / history / drop / command
//! decisions. Pure logic with an injected clock. (Placeholder: filled by the routing issue.)

pub mod spec;

pub use spec::{NotificationSettings, RateLimitSpec, RuleSpec};
