//! What to restore, read from the command line against the archive's key schema. Pure.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};

use crate::archive::record::Image;
use crate::archive::version::{Version, VERSION_LEN};

/// An item's key: its key attributes.
pub type Key = HashMap<String, AttributeValue>;

/// A table's key: `(name, type)`, the partition key first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema(pub Vec<(String, ScalarAttributeType)>);

impl KeySchema {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_str())
    }

    /// `pk (S), sk (N)`, for messages.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(name, kind)| format!("{name} ({})", kind.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The key of `item`, when it has every key attribute.
    pub fn key_of(&self, item: &HashMap<String, AttributeValue>) -> Option<Key> {
        self.names()
            .map(|name| Some((name.to_owned(), item.get(name)?.clone())))
            .collect()
    }

    /// Reads one key: DynamoDB JSON (`{"pk": {"S": "a"}}`), or `NAME=VALUE` pairs joined by
    /// commas for string and number keys (`pk=a,sk=5`). The message says what is wrong
    /// without repeating the value.
    pub fn parse_key(&self, text: &str) -> Result<Key, String> {
        let text = text.trim();
        let key = if text.starts_with('{') {
            serde_json::from_str::<Image>(text)
                .map_err(|err| {
                    format!(
                        "not a key in DynamoDB JSON ({:?} error at column {})",
                        err.classify(),
                        err.column()
                    )
                })?
                .0
        } else {
            let mut key = Key::new();
            for pair in text.split(',') {
                let (name, value) = pair.split_once('=').ok_or(
                    "expected NAME=VALUE (joined by commas for a sort key) or DynamoDB JSON",
                )?;
                let kind = self
                    .0
                    .iter()
                    .find(|(n, _)| n == name.trim())
                    .map(|(_, kind)| kind)
                    .ok_or_else(|| {
                        format!("{} is not a key attribute of the archive", name.trim())
                    })?;
                let value = match kind {
                    ScalarAttributeType::S => AttributeValue::S(value.to_owned()),
                    ScalarAttributeType::N if is_number(value) => {
                        AttributeValue::N(value.to_owned())
                    }
                    ScalarAttributeType::N => {
                        return Err(format!(
                            "{} is a number key: the value is not a number",
                            name.trim()
                        ))
                    }
                    _ => {
                        return Err(format!(
                            "{} is a binary key: give the key in DynamoDB JSON",
                            name.trim()
                        ))
                    }
                };
                key.insert(name.trim().to_owned(), value);
            }
            key
        };
        self.check(&key)?;
        Ok(key)
    }

    /// Every key attribute, of its type, and nothing else.
    fn check(&self, key: &Key) -> Result<(), String> {
        for (name, kind) in &self.0 {
            let matches = match (key.get(name), kind) {
                (Some(AttributeValue::S(_)), ScalarAttributeType::S)
                | (Some(AttributeValue::N(_)), ScalarAttributeType::N)
                | (Some(AttributeValue::B(_)), ScalarAttributeType::B) => true,
                (None, _) => return Err(format!("the key has no {name}")),
                _ => false,
            };
            if !matches {
                return Err(format!("{name} must be of type {}", kind.as_str()));
            }
        }
        if key.len() != self.0.len() {
            return Err(format!("a key holds only {}", self.describe()));
        }
        Ok(())
    }
}

/// The lines of a key file: one key per line; blank lines and lines starting with `#` skipped.
/// An error names the line.
pub fn parse_key_file(schema: &KeySchema, text: &str) -> Result<Vec<Key>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(i, line)| {
            schema
                .parse_key(line)
                .map_err(|err| format!("line {}: {err}", i + 1))
        })
        .collect()
}

fn is_number(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (t, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(whole.is_empty() && fraction.is_empty())
        && digits(whole)
        && digits(fraction)
        && exponent.is_none_or(|e| !e.is_empty() && digits(e))
}

/// A point in time given as RFC 3339 (`2026-11-30T08:00:00Z`), a date (`2026-11-30`, its
/// midnight UTC) or epoch seconds; as epoch seconds.
pub fn parse_time(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| "epoch seconds out of range".to_owned());
    }
    let full = if is_date(text) {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let time = humantime::parse_rfc3339_weak(&full).map_err(|_| {
        "expected RFC 3339 (2026-11-30T08:00:00Z), a date or epoch seconds".to_owned()
    })?;
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "before 1970".to_owned())?
        .as_secs();
    u32::try_from(seconds).map_err(|_| "after 2106".to_owned())
}

/// `2026-11-30`: a whole day.
fn is_date(text: &str) -> bool {
    text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-'
}

/// The seconds TTL deleted items in, both ends included: `--deleted-between FROM TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionWindow {
    pub from: u32,
    pub to: u32,
}

impl DeletionWindow {
    /// Reads the two ends. A date as TO means the whole day (up to its last second), so that
    /// `2026-12-01 2026-12-01` is that day; as FROM, its first second.
    pub fn parse(from: &str, to: &str) -> Result<Self, String> {
        let from_secs = parse_time(from).map_err(|err| format!("FROM: {err}"))?;
        let mut to_secs = parse_time(to).map_err(|err| format!("TO: {err}"))?;
        if is_date(to.trim()) {
            to_secs = to_secs.saturating_add(86_399);
        }
        if from_secs > to_secs {
            return Err("FROM is after TO".to_owned());
        }
        Ok(DeletionWindow {
            from: from_secs,
            to: to_secs,
        })
    }

    /// The binary versions of the deletions in the window: a version leads with its deletion's
    /// second, big-endian, and DynamoDB compares binaries byte by byte.
    pub fn version_bounds(&self) -> ([u8; VERSION_LEN], [u8; VERSION_LEN]) {
        let mut low = [0u8; VERSION_LEN];
        let mut high = [0xffu8; VERSION_LEN];
        low[..4].copy_from_slice(&self.from.to_be_bytes());
        high[..4].copy_from_slice(&self.to.to_be_bytes());
        (low, high)
    }

    /// The same bounds for the decimal strings an earlier release stored
    /// (`SSSSSSSSSSSS.NNNN…`: 12 digits of seconds, a dot, 40 digits), which DynamoDB compares
    /// byte by byte too.
    pub fn legacy_bounds(&self) -> (String, String) {
        (
            format!("{:012}.{}", self.from, "0".repeat(40)),
            format!("{:012}.{}", self.to, "9".repeat(40)),
        )
    }

    /// Whether the deletion `version` stands for falls in the window.
    pub fn contains(&self, version: &Version) -> bool {
        (self.from..=self.to).contains(&version.seconds())
    }
}

/// Parses `--expires-in` (`30d`, `12h`, `90m`, `1w 2d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|err| format!("expected a duration such as 30d or 12h ({err})"))?;
    if duration.is_zero() {
        return Err("a restored item must not expire at once".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::version::archive_version;

    fn schema(kinds: &[(&str, ScalarAttributeType)]) -> KeySchema {
        KeySchema(
            kinds
                .iter()
                .map(|(n, k)| (n.to_string(), k.clone()))
                .collect(),
        )
    }

    #[test]
    fn keys_read_as_name_value_pairs_by_the_schema_s_types() {
        let composite = schema(&[
            ("pk", ScalarAttributeType::S),
            ("sk", ScalarAttributeType::N),
        ]);
        let key = composite.parse_key("pk=USER#1,sk=-1.5e3").unwrap();
        assert_eq!(key["pk"], AttributeValue::S("USER#1".into()));
        assert_eq!(key["sk"], AttributeValue::N("-1.5e3".into()));
        let json = composite
            .parse_key(r#"{"pk": {"S": "a,b=c"}, "sk": {"N": "5"}}"#)
            .unwrap();
        assert_eq!(json["pk"], AttributeValue::S("a,b=c".into()));
    }

    #[test]
    fn a_bad_key_is_refused_without_its_value() {
        let composite = schema(&[
            ("pk", ScalarAttributeType::S),
            ("sk", ScalarAttributeType::N),
        ]);
        let binary = schema(&[("id", ScalarAttributeType::B)]);
        for (schema, text, says) in [
            (&composite, "pk=a", "no sk"),
            (&composite, "pk=a,sk=secret-not-a-number", "not a number"),
            (&composite, "pk=a,sk=1,other=2", "not a key attribute"),
            (&composite, "just-a-value", "NAME=VALUE"),
            (
                &composite,
                r#"{"pk": {"N": "1"}, "sk": {"N": "5"}}"#,
                "pk must be of type S",
            ),
            (
                &composite,
                r#"{"pk": {"S": "a"}, "sk": {"N": "5"}, "x": {"S": "y"}}"#,
                "only",
            ),
            (&composite, r#"{"pk": "#, "DynamoDB JSON"),
            (&binary, "id=AAE=", "DynamoDB JSON"),
        ] {
            let err = schema.parse_key(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
        assert!(binary.parse_key(r#"{"id": {"B": "AAE="}}"#).is_ok());
    }

    #[test]
    fn a_key_file_skips_blanks_and_comments_and_names_a_bad_line() {
        let single = schema(&[("pk", ScalarAttributeType::S)]);
        let keys =
            parse_key_file(&single, "# incident 42\npk=a\n\n{\"pk\": {\"S\": \"b\"}}\n").unwrap();
        assert_eq!(keys.len(), 2);
        let err = parse_key_file(&single, "pk=a\nnope\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }

    #[test]
    fn numbers_are_checked_as_dynamodb_reads_them() {
        for good in ["0", "-1", "1.5", ".5", "5.", "1e10", "-2.5E-3"] {
            assert!(is_number(good), "{good}");
        }
        for bad in ["", "-", ".", "1e", "1x", "NaN", "1.2.3", "--1"] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn times_read_as_rfc_3339_dates_or_epoch_seconds() {
        assert_eq!(parse_time("1795000000").unwrap(), 1_795_000_000);
        assert_eq!(parse_time("2026-11-30").unwrap(), 1_795_996_800);
        assert_eq!(parse_time("2026-11-30T00:00:00Z").unwrap(), 1_795_996_800);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn the_window_holds_exactly_the_versions_of_its_seconds() {
        let window = DeletionWindow {
            from: 1000,
            to: 2000,
        };
        let (low, high) = window.version_bounds();
        let (legacy_low, legacy_high) = window.legacy_bounds();
        let inside = [
            archive_version(1000, "0").unwrap(),
            archive_version(2000, "99999999999999999999999999999999999999").unwrap(),
            archive_version(1500, "4421584500000000000000000042").unwrap(),
        ];
        for v in inside {
            assert!(low.as_slice() <= v.as_bytes() && v.as_bytes() <= high.as_slice());
            let legacy = v.legacy_text();
            assert!(legacy_low <= legacy && legacy <= legacy_high, "{legacy}");
            assert!(window.contains(&v));
        }
        for v in [
            archive_version(999, "99999999999999999999999999999999999999").unwrap(),
            archive_version(2001, "0").unwrap(),
        ] {
            assert!(!(low.as_slice() <= v.as_bytes() && v.as_bytes() <= high.as_slice()));
            let legacy = v.legacy_text();
            assert!(!(legacy_low <= legacy && legacy <= legacy_high), "{legacy}");
            assert!(!window.contains(&v));
        }
    }

    #[test]
    fn a_date_as_the_end_of_the_window_is_the_whole_day() {
        let day = DeletionWindow::parse("2026-12-01", "2026-12-01").unwrap();
        assert_eq!(day.from, parse_time("2026-12-01T00:00:00Z").unwrap());
        assert_eq!(day.to, parse_time("2026-12-01T23:59:59Z").unwrap());
        let exact = DeletionWindow::parse("2026-12-01", "2026-12-01T08:00:00Z").unwrap();
        assert_eq!(exact.to, parse_time("2026-12-01T08:00:00Z").unwrap());
        let err = DeletionWindow::parse("2026-12-02", "2026-12-01").unwrap_err();
        assert!(err.contains("after"), "{err}");
        let err = DeletionWindow::parse("soon", "2026-12-01").unwrap_err();
        assert!(err.starts_with("FROM"), "{err}");
    }

    #[test]
    fn durations_read_as_humans_write_them() {
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(
            parse_duration("1h 30m").unwrap(),
            Duration::from_secs(5_400)
        );
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
