//! Mapping a field of the event (`urgency_from`) to a freedesktop urgency.
//!
//! Presets are written as the same key strings a user would put in a table, and go
//! through the same parser, so a preset is exactly a table someone could copy.

use std::collections::BTreeMap;

use serde_json::Value;

use super::spec::{Urgency, UrgencyMapSpec, UrgencyPreset};
use super::view::number_of;

const NTFY: &[(&str, Urgency)] = &[
    ("1-2", Urgency::Low),
    ("3", Urgency::Normal),
    ("4-5", Urgency::Critical),
    // ntfy also accepts priority names (headers, some bridges forward them as text).
    ("min", Urgency::Low),
    ("low", Urgency::Low),
    ("default", Urgency::Normal),
    ("high", Urgency::Critical),
    ("max", Urgency::Critical),
    ("urgent", Urgency::Critical),
];

const GOTIFY: &[(&str, Urgency)] = &[
    ("0-3", Urgency::Low),
    ("4-7", Urgency::Normal),
    // Gotify documents 0-10 but does not enforce it: anything above 10 is still urgent.
    ("8-", Urgency::Critical),
];

// Without `urgency_map` the field must itself name an urgency.
const NAMES: &[(&str, Urgency)] = &[
    ("low", Urgency::Low),
    ("normal", Urgency::Normal),
    ("critical", Urgency::Critical),
];

/// A compiled `urgency_map`: exact text keys and inclusive numeric ranges.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UrgencyMap {
    exact: Vec<(String, Urgency)>,
    ranges: Vec<(f64, f64, Urgency)>,
}

enum Key {
    Exact(String),
    Range(f64, f64),
}

// A key is a range when it reads `lo-hi`, `lo-` or a single number; anything else is text.
fn parse_key(key: &str) -> Result<Key, String> {
    let key = key.trim();
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    if let Some(n) = number(key) {
        return Ok(Key::Range(n, n));
    }
    if let Some((lo, hi)) = key.split_once('-')
        && let Some(lo) = number(lo)
    {
        let hi = if hi.trim().is_empty() {
            f64::INFINITY
        } else {
            number(hi).ok_or_else(|| format!("`{key}`: the end of the range is not a number"))?
        };
        if lo > hi {
            return Err(format!("`{key}`: the range ends before it starts"));
        }
        return Ok(Key::Range(lo, hi));
    }
    Ok(Key::Exact(key.to_lowercase()))
}

impl UrgencyMap {
    /// The mapping for a rule's `urgency_map` (`None`: the value names the urgency).
    pub(crate) fn compile(spec: Option<&UrgencyMapSpec>) -> Result<Self, String> {
        match spec {
            None => Self::from_pairs(NAMES.iter().map(|(k, u)| (*k, *u))),
            Some(UrgencyMapSpec::Preset(UrgencyPreset::Ntfy)) => {
                Self::from_pairs(NTFY.iter().map(|(k, u)| (*k, *u)))
            }
            Some(UrgencyMapSpec::Preset(UrgencyPreset::Gotify)) => {
                Self::from_pairs(GOTIFY.iter().map(|(k, u)| (*k, *u)))
            }
            Some(UrgencyMapSpec::Table(table)) => Self::from_table(table),
        }
    }

    fn from_table(table: &BTreeMap<String, Urgency>) -> Result<Self, String> {
        Self::from_pairs(table.iter().map(|(k, u)| (k.as_str(), *u)))
    }

    fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, Urgency)>) -> Result<Self, String> {
        let mut map = Self {
            exact: Vec::new(),
            ranges: Vec::new(),
        };
        for (key, urgency) in pairs {
            match parse_key(key)? {
                Key::Exact(k) => map.exact.push((k, urgency)),
                Key::Range(lo, hi) => map.ranges.push((lo, hi, urgency)),
            }
        }
        // A table is unordered, so overlapping ranges would make the answer arbitrary.
        map.ranges.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(w) = map.ranges.windows(2).find(|w| w[0].1 >= w[1].0) {
            return Err(format!(
                "ranges {} and {} overlap",
                show_range(w[0].0, w[0].1),
                show_range(w[1].0, w[1].1)
            ));
        }
        Ok(map)
    }

    /// The urgency for a field's value, if the map has one.
    ///
    /// Numbers (and numeric strings, which some servers send) are looked up in the
    /// ranges; other strings in the exact keys, case-insensitively.
    pub(crate) fn lookup(&self, value: &Value) -> Option<Urgency> {
        if let Some(n) = number_of(value) {
            return self
                .ranges
                .iter()
                .find(|(lo, hi, _)| *lo <= n && n <= *hi)
                .map(|r| r.2);
        }
        let text = match value {
            Value::String(s) => s.trim().to_lowercase(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        self.exact.iter().find(|(k, _)| *k == text).map(|e| e.1)
    }
}

fn show_range(lo: f64, hi: f64) -> String {
    if hi.is_infinite() {
        format!("{lo}-")
    } else {
        format!("{lo}-{hi}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn preset(p: UrgencyPreset) -> UrgencyMap {
        UrgencyMap::compile(Some(&UrgencyMapSpec::Preset(p))).unwrap()
    }

    #[test]
    fn ntfy_preset() {
        let m = preset(UrgencyPreset::Ntfy);
        let expect = [
            (json!(1), Some(Urgency::Low)),
            (json!(2), Some(Urgency::Low)),
            (json!(3), Some(Urgency::Normal)),
            (json!(4), Some(Urgency::Critical)),
            (json!(5), Some(Urgency::Critical)),
            (json!("4"), Some(Urgency::Critical)),
            (json!("High"), Some(Urgency::Critical)),
            (json!("urgent"), Some(Urgency::Critical)),
            (json!("min"), Some(Urgency::Low)),
            (json!("default"), Some(Urgency::Normal)),
            (json!(0), None),
            (json!(6), None),
            (json!("loud"), None),
            (json!(null), None),
            (json!([4]), None),
        ];
        for (v, u) in expect {
            assert_eq!(m.lookup(&v), u, "{v}");
        }
    }

    #[test]
    fn gotify_preset() {
        let m = preset(UrgencyPreset::Gotify);
        for (v, u) in [
            (0, Urgency::Low),
            (3, Urgency::Low),
            (4, Urgency::Normal),
            (7, Urgency::Normal),
            (8, Urgency::Critical),
            (10, Urgency::Critical),
            (15, Urgency::Critical),
        ] {
            assert_eq!(m.lookup(&json!(v)), Some(u), "{v}");
        }
        assert_eq!(m.lookup(&json!(-1)), None);
        assert_eq!(m.lookup(&json!(3.5)), None);
    }

    #[test]
    fn without_a_map_the_value_names_the_urgency() {
        let m = UrgencyMap::compile(None).unwrap();
        assert_eq!(m.lookup(&json!("CRITICAL")), Some(Urgency::Critical));
        assert_eq!(m.lookup(&json!("low")), Some(Urgency::Low));
        assert_eq!(m.lookup(&json!(5)), None);
    }

    #[test]
    fn explicit_table_with_exact_keys_and_ranges() {
        let table: BTreeMap<String, Urgency> = [
            ("info".to_string(), Urgency::Low),
            ("0-49.5".to_string(), Urgency::Normal),
            ("50-".to_string(), Urgency::Critical),
            ("true".to_string(), Urgency::Critical),
        ]
        .into();
        let m = UrgencyMap::compile(Some(&UrgencyMapSpec::Table(table))).unwrap();
        assert_eq!(m.lookup(&json!("Info")), Some(Urgency::Low));
        assert_eq!(m.lookup(&json!(49)), Some(Urgency::Normal));
        assert_eq!(m.lookup(&json!(49.7)), None);
        assert_eq!(m.lookup(&json!(1e9)), Some(Urgency::Critical));
        assert_eq!(m.lookup(&json!(true)), Some(Urgency::Critical));
    }

    #[test]
    fn bad_tables_are_refused() {
        let table = |pairs: &[(&str, Urgency)]| {
            UrgencyMapSpec::Table(pairs.iter().map(|(k, u)| (k.to_string(), *u)).collect())
        };
        let overlap = table(&[("1-3", Urgency::Low), ("3-5", Urgency::Critical)]);
        assert!(
            UrgencyMap::compile(Some(&overlap))
                .unwrap_err()
                .contains("overlap")
        );
        let backwards = table(&[("5-3", Urgency::Low)]);
        assert!(UrgencyMap::compile(Some(&backwards)).is_err());
        let bad_end = table(&[("1-x", Urgency::Low)]);
        assert!(UrgencyMap::compile(Some(&bad_end)).is_err());
    }
}
