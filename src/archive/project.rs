//! Projection of a TTL deletion's old image into the archive item. Pure: no AWS calls.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::archive::item_size::{attribute_size, item_size, MAX_ITEM_BYTES};
use crate::archive::key::ItemKey;
use crate::archive::record::Change;
use crate::archive::version::{archive_version, Version, VERSION_LEN};
use crate::RecordError;

/// Room for `"name":{"N":"<epoch seconds>"},` beyond the name itself (archive time, expiry).
const EPOCH_SECONDS_BYTES: usize = 32;
/// Room for `"name":{"B":"<base64 of the version>"},` beyond the name itself.
const VERSION_BYTES: usize = VERSION_LEN.div_ceil(3) * 4 + 12;

/// Attribute that carries each archive item's version when `ARCHIVE_VERSION_ATTRIBUTE` is not set.
pub const DEFAULT_VERSION_ATTRIBUTE: &str = "ArchiveVersion";

/// How long the archive keeps an item: each item gets `attribute`, its archive time plus the
/// retention in epoch seconds, and the archive table's TTL deletes it after that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveExpiry {
    pub attribute: String,
    pub retention_days: u32,
}

impl ArchiveExpiry {
    pub fn retention_secs(&self) -> u64 {
        u64::from(self.retention_days) * 86_400
    }
}

/// What goes into an archive item, decided once from the configuration.
#[derive(Debug, Clone)]
pub struct Projection {
    /// Dropped from whole-image copies so a TTL on the archive table can never expire the copy.
    pub ttl_attribute: Option<String>,
    /// When set, only these attributes (plus the key) are kept.
    pub attributes: Option<HashSet<String>>,
    /// When set, this attribute receives the archive time in epoch seconds.
    pub archived_at_attribute: Option<String>,
    /// Receives the record's version (see `version`).
    pub version_attribute: String,
    /// When set, the item expires from the archive this long after it is archived.
    pub archive_expiry: Option<ArchiveExpiry>,
}

impl Default for Projection {
    fn default() -> Self {
        Projection {
            ttl_attribute: None,
            attributes: None,
            archived_at_attribute: None,
            version_attribute: DEFAULT_VERSION_ATTRIBUTE.to_owned(),
            archive_expiry: None,
        }
    }
}

/// One item ready to be written, with what the writer needs to account for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveItem {
    pub sequence_number: String,
    /// Also stored in the item, under the projection's version attribute, unless
    /// `dropped.version`.
    pub version: Version,
    pub key: ItemKey,
    pub item: HashMap<String, AttributeValue>,
    /// Upper bound of the item's share of a BatchWriteItem request body.
    pub request_bytes: usize,
    /// The archiver's own attributes left out: with them the item would exceed DynamoDB's 400 KB
    /// limit. The data always goes in whole.
    pub dropped: DroppedAdditions,
}

/// Which of the archiver's attributes an item near 400 KB goes without. They are kept in one
/// order, each while it still fits: the version (it orders the key's later deletions), the
/// expiry (it keeps the retention), the archived-at stamp (it only informs). So an item without
/// its version has none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedAdditions {
    pub version: bool,
    pub expiry: bool,
    pub archived_at: bool,
}

impl DroppedAdditions {
    /// Everything the archiver adds, for an item that goes in bare.
    pub const ALL: DroppedAdditions = DroppedAdditions {
        version: true,
        expiry: true,
        archived_at: true,
    };

    pub fn any(&self) -> bool {
        self.version || self.expiry || self.archived_at
    }

    /// What the item went without, for the batch's warning.
    pub fn describe(&self) -> &'static str {
        match (self.version, self.expiry, self.archived_at) {
            (true, _, _) => "without the archiver's attributes (version, expiry, archived-at)",
            (false, true, true) => "without its expiry and archived-at stamp (the version kept)",
            (false, true, false) => "without its expiry (the version kept)",
            (false, false, true) => "without its archived-at stamp (the version and expiry kept)",
            (false, false, false) => "with every attribute of the archiver's",
        }
    }
}

/// The size DynamoDB can count for `value` written as a number: one byte per two significant
/// digits and one more (AWS's "item sizes and formats"), at its widest for the number of
/// digits, whatever the digits are. The archived-at and expiry stamps are measured so: their
/// exact size changes with the second (1800000000 counts 2 bytes, 1795000123 counts 6), and one
/// record must get one decision on every attempt, in the function and in the redrive. Epoch
/// seconds keep ten digits until the year 2286.
pub fn widest_number_size(value: u64) -> usize {
    let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
    1 + digits.div_ceil(2)
}

impl Projection {
    /// Builds the archive item from a TTL deletion. `archived_at` is epoch seconds;
    /// `record_bytes` is the size of the record's JSON, which bounds the item's size in a request
    /// and in DynamoDB: the item is encoded the same way, holds only part of the record, and adds
    /// at most the attributes the archiver adds.
    pub fn project(
        &self,
        sequence_number: String,
        change: Change,
        archived_at: u64,
        record_bytes: usize,
    ) -> Result<ArchiveItem, RecordError> {
        if change.old_image.0.is_empty() {
            let view = change
                .stream_view_type
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".to_owned());
            return Err(RecordError::NoOldImage {
                stream_view_type: view,
            });
        }
        let keys = change.keys.0;
        if keys.is_empty() {
            return Err(RecordError::NoKeys);
        }

        let created_secs = change
            .approximate_creation_date_time
            .filter(|secs| secs.is_finite() && *secs >= 1.0 && *secs <= f64::from(u32::MAX))
            .ok_or(RecordError::NoCreationTime)? as i64;
        let version = archive_version(created_secs, &sequence_number)
            .ok_or(RecordError::InvalidSequenceNumber)?;
        let key = ItemKey::of_keys(&keys)?;

        let mut image = change.old_image.0;
        match (&self.attributes, &self.ttl_attribute) {
            (Some(allowed), _) => image.retain(|name, _| allowed.contains(name)),
            (None, Some(ttl)) => {
                image.remove(ttl);
            }
            (None, None) => {}
        }
        // The key comes from `Keys`, so no projection setting can drop it.
        for (name, value) in keys {
            if image.get(&name) != Some(&value) {
                image.insert(name, value);
            }
        }
        self.remove_earlier_archive_attributes(&mut image);

        // What the archiver adds must never replace what the item holds. In the order they are
        // kept near the limit (see `DroppedAdditions`), each with the size it is measured at.
        let mut additions: [Option<(&str, AttributeValue, usize)>; 3] = [None, None, None];
        check_free(&image, &self.version_attribute, "ARCHIVE_VERSION_ATTRIBUTE")?;
        let version_value = version.attribute_value();
        let version_size = attribute_size(&self.version_attribute, &version_value);
        additions[0] = Some((&self.version_attribute, version_value, version_size));
        if let Some(expiry) = &self.archive_expiry {
            // Named like the source's TTL attribute, the archive's expiry replaces the source's.
            if self.ttl_attribute.as_ref() == Some(&expiry.attribute) {
                image.remove(&expiry.attribute);
            }
            check_free(&image, &expiry.attribute, "ARCHIVE_TTL_ATTRIBUTE")?;
            let expires_at = archived_at.saturating_add(expiry.retention_secs());
            let size = expiry.attribute.len() + widest_number_size(expires_at);
            additions[1] = Some((
                &expiry.attribute,
                AttributeValue::N(expires_at.to_string()),
                size,
            ));
        }
        if let Some(name) = &self.archived_at_attribute {
            check_free(&image, name, "ARCHIVED_AT_ATTRIBUTE")?;
            let size = name.len() + widest_number_size(archived_at);
            additions[2] = Some((name, AttributeValue::N(archived_at.to_string()), size));
        }

        // The record's JSON is never smaller than the item DynamoDB stores, so only records near
        // the limit pay for measuring the item.
        let added: usize = additions.iter().flatten().map(|(_, _, size)| size).sum();
        let measure = record_bytes + added > MAX_ITEM_BYTES;
        let mut size = if measure { item_size(&image) } else { 0 };
        let mut fits = true;
        let mut dropped = DroppedAdditions::default();
        for (position, addition) in additions.into_iter().enumerate() {
            let Some((name, value, added)) = addition else {
                continue;
            };
            // Once one does not fit, neither do those after it: they are kept in order.
            fits = fits && (!measure || size + added <= MAX_ITEM_BYTES);
            if fits {
                size += added;
                image.insert(name.to_owned(), value);
                continue;
            }
            match position {
                0 => dropped.version = true,
                1 => dropped.expiry = true,
                _ => dropped.archived_at = true,
            }
        }

        let request_bytes = record_bytes
            + self.version_attribute.len()
            + VERSION_BYTES
            + self
                .archived_at_attribute
                .as_ref()
                .map_or(0, |name| name.len() + EPOCH_SECONDS_BYTES)
            + self
                .archive_expiry
                .as_ref()
                .map_or(0, |expiry| expiry.attribute.len() + EPOCH_SECONDS_BYTES);
        Ok(ArchiveItem {
            sequence_number,
            version,
            key,
            item: image,
            request_bytes,
            dropped,
        })
    }

    /// An item restored from the archive still holds what the archiver added when it was
    /// archived before. Its version attribute, holding a version the archiver writes, marks it:
    /// then that version, and the archived-at and expiry attributes where they hold numbers, are
    /// removed, so this deletion's values replace them. Anything else under those names is the
    /// item's own data and stays (a collision, reported).
    fn remove_earlier_archive_attributes(&self, image: &mut HashMap<String, AttributeValue>) {
        let earlier_version = image
            .get(&self.version_attribute)
            .and_then(Version::stored)
            .is_some();
        if !earlier_version {
            return;
        }
        image.remove(&self.version_attribute);
        let stamps = [
            self.archived_at_attribute.as_ref(),
            self.archive_expiry.as_ref().map(|expiry| &expiry.attribute),
        ];
        for name in stamps.into_iter().flatten() {
            if matches!(image.get(name), Some(AttributeValue::N(_))) {
                image.remove(name);
            }
        }
    }
}

/// Fails when the item already has `name` (configured by `variable`).
fn check_free(
    image: &HashMap<String, AttributeValue>,
    name: &str,
    variable: &'static str,
) -> Result<(), RecordError> {
    if image.contains_key(name) {
        return Err(RecordError::AttributeCollision {
            attribute: name.to_owned(),
            variable,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::record::Record;

    fn change(json: &str) -> Change {
        serde_json::from_str(json).unwrap()
    }

    const SESSION: &str = r#"{
        "Keys": {"PK": {"S": "session#1"}},
        "OldImage": {
            "PK": {"S": "session#1"},
            "CreationTime": {"N": "1700000000"},
            "ExpirationTime": {"N": "1700003600"},
            "SessionInfo": {"M": {"user": {"S": "ada"}, "hits": {"N": "12.50"}}}
        },
        "SequenceNumber": "100", "SizeBytes": 120, "StreamViewType": "NEW_AND_OLD_IMAGES",
        "ApproximateCreationDateTime": 1795000001
    }"#;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }
    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_owned())
    }

    #[test]
    fn whole_image_is_copied_without_the_ttl_attribute() {
        let projection = Projection {
            ttl_attribute: Some("ExpirationTime".into()),
            ..Default::default()
        };
        let item = projection
            .project("100".into(), change(SESSION), 0, 1000)
            .unwrap();
        assert_eq!(item.sequence_number, "100");
        let mut names: Vec<_> = item.item.keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            ["ArchiveVersion", "CreationTime", "PK", "SessionInfo"]
        );
        assert_eq!(item.item["CreationTime"], n("1700000000"));
        let info = item.item["SessionInfo"].as_m().unwrap();
        assert_eq!(info["user"], s("ada"));
        assert_eq!(
            info["hits"],
            n("12.50"),
            "numbers keep the decimal string they came with"
        );
    }

    #[test]
    fn without_ttl_attribute_the_whole_image_is_copied() {
        let item = Projection::default()
            .project("100".into(), change(SESSION), 0, 1000)
            .unwrap();
        assert_eq!(item.item.len(), 5, "the image and the version");
        assert_eq!(item.item["ExpirationTime"], n("1700003600"));
    }

    #[test]
    fn allow_list_keeps_listed_attributes_and_the_key() {
        let projection = Projection {
            attributes: Some(
                [
                    "CreationTime".to_owned(),
                    "SessionInfo".to_owned(),
                    "Missing".to_owned(),
                ]
                .into(),
            ),
            ttl_attribute: Some("ExpirationTime".into()),
            ..Default::default()
        };
        let item = projection
            .project("100".into(), change(SESSION), 0, 1000)
            .unwrap();
        let mut names: Vec<_> = item.item.keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            ["ArchiveVersion", "CreationTime", "PK", "SessionInfo"]
        );
    }

    #[test]
    fn composite_keys_survive_any_projection() {
        let record = change(
            r#"{"Keys": {"tenant": {"S": "t1"}, "ts": {"N": "42"}},
                "OldImage": {"tenant": {"S": "t1"}, "ts": {"N": "42"}, "body": {"S": "x"}},
                "SequenceNumber": "7", "SizeBytes": 10, "ApproximateCreationDateTime": 1795000001}"#,
        );
        let projection = Projection {
            attributes: Some(["body".to_owned()].into()),
            // Misconfigured on purpose: the key must still be written.
            ttl_attribute: Some("ts".into()),
            ..Default::default()
        };
        let item = projection.project("7".into(), record, 99, 1000).unwrap();
        assert_eq!(item.item["tenant"], s("t1"));
        assert_eq!(item.item["ts"], n("42"));
        assert_eq!(item.item["body"], s("x"));
    }

    #[test]
    fn added_attributes_never_replace_what_the_item_holds() {
        let with_body = r#"{"Keys": {"tenant": {"S": "t1"}, "ts": {"N": "42"}},
                "OldImage": {"tenant": {"S": "t1"}, "ts": {"N": "42"}, "body": {"S": "x"}},
                "SequenceNumber": "7", "SizeBytes": 10, "ApproximateCreationDateTime": 1795000001}"#;
        for (projection, attribute, variable) in [
            (
                Projection {
                    archived_at_attribute: Some("tenant".into()),
                    ..Default::default()
                },
                "tenant",
                "ARCHIVED_AT_ATTRIBUTE",
            ),
            (
                Projection {
                    version_attribute: "body".into(),
                    ..Default::default()
                },
                "body",
                "ARCHIVE_VERSION_ATTRIBUTE",
            ),
            (
                Projection {
                    attributes: Some(["other".to_owned()].into()),
                    version_attribute: "ts".into(),
                    ..Default::default()
                },
                "ts",
                "ARCHIVE_VERSION_ATTRIBUTE",
            ),
        ] {
            let err = projection
                .project("7".into(), change(with_body), 99, 1000)
                .unwrap_err();
            assert_eq!(
                err,
                RecordError::AttributeCollision {
                    attribute: attribute.into(),
                    variable
                }
            );
            assert!(err.to_string().contains(variable), "{err}");
        }
        // An attribute the allow-list leaves out is no collision.
        let projection = Projection {
            attributes: Some(["ts".to_owned()].into()),
            version_attribute: "body".into(),
            ..Default::default()
        };
        let item = projection
            .project("7".into(), change(with_body), 99, 1000)
            .unwrap();
        assert_eq!(item.item["body"], item.version.attribute_value());
    }

    #[test]
    fn the_version_comes_from_the_creation_time_and_sequence_number() {
        let item = Projection::default()
            .project("100".into(), change(SESSION), 0, 1000)
            .unwrap();
        assert_eq!(
            item.version,
            crate::archive::version::archive_version(1_795_000_001, "100").unwrap()
        );
        assert_eq!(item.item["ArchiveVersion"], item.version.attribute_value());
        let err = Projection::default()
            .project("12x".into(), change(SESSION), 0, 1000)
            .unwrap_err();
        assert_eq!(err, RecordError::InvalidSequenceNumber);
    }

    #[test]
    fn a_record_without_its_creation_time_cannot_be_ordered() {
        let time = r#""ApproximateCreationDateTime": 1795000001"#;
        for replacement in [
            "\"SizeBytes2\": 0".to_owned(),
            time.replace("1795000001", "0"),
            time.replace("1795000001", "-5"),
            time.replace("1795000001", "null"),
            time.replace("1795000001", "4294967296"),
        ] {
            let err = Projection::default()
                .project(
                    "100".into(),
                    change(&SESSION.replace(time, &replacement)),
                    0,
                    1000,
                )
                .unwrap_err();
            assert_eq!(err, RecordError::NoCreationTime, "{replacement}");
            assert!(err.to_string().contains("ApproximateCreationDateTime"));
        }
        let fraction = SESSION.replace(time, &time.replace("1795000001", "1795000001.75"));
        let item = Projection::default()
            .project("100".into(), change(&fraction), 0, 1000)
            .unwrap();
        assert_eq!(
            item.version,
            crate::archive::version::archive_version(1_795_000_001, "100").unwrap(),
            "whole seconds, rounded down"
        );
    }

    #[test]
    fn archived_at_is_added_as_a_number() {
        let projection = Projection {
            archived_at_attribute: Some("ArchivedAt".into()),
            ..Default::default()
        };
        let item = projection
            .project("100".into(), change(SESSION), 1_800_000_000, 1000)
            .unwrap();
        assert_eq!(item.item["ArchivedAt"], n("1800000000"));
    }

    #[test]
    fn every_type_round_trips_exactly() {
        let record = change(
            r#"{"Keys": {"id": {"B": "AAEC/w=="}},
                "OldImage": {
                  "id": {"B": "AAEC/w=="},
                  "s": {"S": "héllo ✓ 日本"}, "empty": {"S": ""},
                  "n": {"N": "-0.000000000000000000000000000000000000001"},
                  "big": {"N": "99999999999999999999999999999999999999"},
                  "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "1.5E+3"]},
                  "bs": {"BS": ["AQ==", "Ag=="]},
                  "t": {"BOOL": true}, "f": {"BOOL": false}, "null": {"NULL": true},
                  "l": {"L": [{"S": "x"}, {"N": "1"}, {"L": [{"M": {"deep": {"NULL": true}}}]}]},
                  "m": {"M": {"inner": {"M": {"n": {"N": "3.14159265358979323846264338327950288"}}}}}
                },
                "SequenceNumber": "1", "SizeBytes": 10, "ApproximateCreationDateTime": 1795000001}"#,
        );
        let item = Projection::default()
            .project("1".into(), record, 0, 1000)
            .unwrap()
            .item;
        assert_eq!(item["id"], AttributeValue::B(vec![0u8, 1, 2, 255].into()));
        assert_eq!(item["s"], s("héllo ✓ 日本"));
        assert_eq!(item["empty"], s(""));
        assert_eq!(item["n"], n("-0.000000000000000000000000000000000000001"));
        assert_eq!(item["big"], n("99999999999999999999999999999999999999"));
        let mut ss = item["ss"].as_ss().unwrap().clone();
        ss.sort();
        assert_eq!(ss, ["a", "b"]);
        let mut ns = item["ns"].as_ns().unwrap().clone();
        ns.sort();
        assert_eq!(ns, ["1", "1.5E+3"]);
        let mut bs: Vec<Vec<u8>> = item["bs"]
            .as_bs()
            .unwrap()
            .iter()
            .map(|b| b.as_ref().to_vec())
            .collect();
        bs.sort();
        assert_eq!(bs, [vec![1u8], vec![2u8]]);
        assert_eq!(item["t"], AttributeValue::Bool(true));
        assert_eq!(item["f"], AttributeValue::Bool(false));
        assert_eq!(item["null"], AttributeValue::Null(true));
        let l = item["l"].as_l().unwrap();
        assert_eq!(l[0], s("x"));
        assert_eq!(l[1], n("1"));
        let deep = l[2].as_l().unwrap()[0].as_m().unwrap();
        assert_eq!(deep["deep"], AttributeValue::Null(true));
        let inner = item["m"].as_m().unwrap()["inner"].as_m().unwrap();
        assert_eq!(inner["n"], n("3.14159265358979323846264338327950288"));
    }

    #[test]
    fn a_record_without_old_image_cannot_be_archived() {
        let record: Record = serde_json::from_str(
            r#"{"awsRegion": "us-east-1", "eventID": "1", "eventName": "REMOVE",
                "dynamodb": {"Keys": {"PK": {"S": "a"}}, "SequenceNumber": "5", "SizeBytes": 5,
                             "StreamViewType": "KEYS_ONLY"}}"#,
        )
        .unwrap();
        let err = Projection::default()
            .project("5".into(), record.change, 0, 1000)
            .unwrap_err();
        assert_eq!(
            err,
            RecordError::NoOldImage {
                stream_view_type: "KEYS_ONLY".into()
            }
        );
    }

    #[test]
    fn a_record_without_keys_cannot_be_archived() {
        let record =
            change(r#"{"OldImage": {"PK": {"S": "a"}}, "SequenceNumber": "5", "SizeBytes": 5}"#);
        let err = Projection::default()
            .project("5".into(), record, 0, 1000)
            .unwrap_err();
        assert_eq!(err, RecordError::NoKeys);
    }

    #[test]
    fn request_size_bound_covers_the_record_and_archived_at() {
        let plain = Projection::default()
            .project("100".into(), change(SESSION), 0, 500)
            .unwrap();
        let version = format!(
            r#""ArchiveVersion":{{"B":"{}"}},"#,
            "A".repeat(plain.version.as_bytes().len().div_ceil(3) * 4)
        );
        assert!(plain.request_bytes >= 500 + version.len());
        let projection = Projection {
            archived_at_attribute: Some("ArchivedAt".into()),
            ..Default::default()
        };
        let stamped = projection
            .project("100".into(), change(SESSION), 1_800_000_000, 500)
            .unwrap();
        let added = r#""ArchivedAt":{"N":"1800000000"},"#.len();
        assert!(stamped.request_bytes >= 500 + version.len() + added);
        let expiring = Projection {
            archive_expiry: Some(thirty_days("ArchiveExpiresAt")),
            ..projection
        }
        .project("100".into(), change(SESSION), u64::MAX, 500)
        .unwrap();
        let expiry = format!(r#""ArchiveExpiresAt":{{"N":"{}"}},"#, u64::MAX);
        assert!(expiring.request_bytes >= 500 + version.len() + added + expiry.len());
    }

    fn thirty_days(attribute: &str) -> ArchiveExpiry {
        ArchiveExpiry {
            attribute: attribute.into(),
            retention_days: 30,
        }
    }

    #[test]
    fn the_expiry_is_the_archive_time_plus_the_retention() {
        let projection = Projection {
            ttl_attribute: Some("ExpirationTime".into()),
            archive_expiry: Some(thirty_days("ArchiveExpiresAt")),
            ..Default::default()
        };
        let item = projection
            .project("100".into(), change(SESSION), 1_800_000_000, 1000)
            .unwrap();
        assert_eq!(
            item.item["ArchiveExpiresAt"],
            n(&(1_800_000_000u64 + 30 * 86_400).to_string())
        );
        assert!(!item.item.contains_key("ExpirationTime"));
    }

    #[test]
    fn an_expiry_named_like_the_source_ttl_replaces_it() {
        // With an allow-list that keeps the source's TTL attribute, as without one.
        for attributes in [None, Some(["ExpirationTime".to_owned()].into())] {
            let projection = Projection {
                ttl_attribute: Some("ExpirationTime".into()),
                attributes,
                archive_expiry: Some(thirty_days("ExpirationTime")),
                ..Default::default()
            };
            let item = projection
                .project("100".into(), change(SESSION), 1_800_000_000, 1000)
                .unwrap();
            assert_eq!(item.item["ExpirationTime"], n("1802592000"));
        }
    }

    #[test]
    fn an_expiry_never_replaces_an_attribute_of_the_item() {
        let projection = Projection {
            archive_expiry: Some(thirty_days("CreationTime")),
            ..Default::default()
        };
        let err = projection
            .project("100".into(), change(SESSION), 1_800_000_000, 1000)
            .unwrap_err();
        assert_eq!(
            err,
            RecordError::AttributeCollision {
                attribute: "CreationTime".into(),
                variable: "ARCHIVE_TTL_ATTRIBUTE"
            }
        );
        // A key attribute is caught the same way.
        let projection = Projection {
            archive_expiry: Some(thirty_days("PK")),
            ..Default::default()
        };
        let err = projection
            .project("100".into(), change(SESSION), 0, 1000)
            .unwrap_err();
        assert!(err.to_string().contains("ARCHIVE_TTL_ATTRIBUTE"), "{err}");
    }
    /// A session item as restored from the archive: it carries the version and archived-at
    /// stamp of its earlier archiving.
    fn restored(version: AttributeValue) -> Change {
        let mut restored = change(SESSION);
        let image = &mut restored.old_image.0;
        image.insert("ArchiveVersion".into(), version);
        image.insert("ArchivedAt".into(), n("1700000000"));
        restored
    }

    #[test]
    fn a_restored_item_is_archived_again_with_the_new_version_and_stamp() {
        let projection = Projection {
            archived_at_attribute: Some("ArchivedAt".into()),
            ..Default::default()
        };
        let earlier = crate::archive::version::archive_version(1_700_000_000, "5").unwrap();
        for stored in [earlier.attribute_value(), s(&earlier.legacy_text())] {
            let item = projection
                .project("100".into(), restored(stored), 1_800_000_000, 1000)
                .unwrap();
            assert_eq!(item.item["ArchivedAt"], n("1800000000"));
            assert_eq!(item.item["ArchiveVersion"], item.version.attribute_value());
            assert_ne!(item.version, earlier);
        }
    }

    #[test]
    fn an_attribute_that_is_not_the_archivers_still_collides() {
        let projection = Projection {
            archived_at_attribute: Some("ArchivedAt".into()),
            ..Default::default()
        };
        // Not a version the archiver writes: the item's own data.
        for stored in [n("7"), s("v1"), AttributeValue::B(vec![1u8, 2].into())] {
            let err = Projection::default()
                .project("100".into(), restored(stored), 0, 1000)
                .unwrap_err();
            assert!(
                matches!(err, RecordError::AttributeCollision { variable, .. } if variable == "ARCHIVE_VERSION_ATTRIBUTE"),
                "{err}"
            );
        }
        // An archived-at that is not a number stays the item's, and collides.
        let mut stamped = restored(
            crate::archive::version::archive_version(1, "1")
                .unwrap()
                .attribute_value(),
        );
        stamped
            .old_image
            .0
            .insert("ArchivedAt".into(), s("yesterday"));
        let err = projection
            .project("100".into(), stamped, 0, 1000)
            .unwrap_err();
        assert!(err.to_string().contains("ARCHIVED_AT_ATTRIBUTE"), "{err}");
        // Without the archiver's version, an archived-at number is the item's own too.
        let mut unversioned = change(SESSION);
        unversioned.old_image.0.insert("ArchivedAt".into(), n("1"));
        let err = projection
            .project("100".into(), unversioned, 0, 1000)
            .unwrap_err();
        assert!(err.to_string().contains("ARCHIVED_AT_ATTRIBUTE"), "{err}");
    }

    /// A session item of exactly `bytes` as DynamoDB counts it.
    fn session_of_size(bytes: usize) -> (Change, usize) {
        let mut session = change(SESSION);
        let image = &mut session.old_image.0;
        image.remove("SessionInfo");
        let base = crate::archive::item_size::item_size(image) + "Blob".len();
        image.insert("Blob".into(), s(&"x".repeat(bytes - base)));
        assert_eq!(crate::archive::item_size::item_size(image), bytes);
        let json = serde_json::to_string(&serde_json::json!({"S": "x".repeat(bytes)})).unwrap();
        (session, json.len() + 200)
    }

    fn stamped() -> Projection {
        Projection {
            archived_at_attribute: Some("ArchivedAt".into()),
            archive_expiry: Some(thirty_days("ArchiveExpiresAt")),
            ..Default::default()
        }
    }

    /// The sizes of the three additions as measured: the version exact, the epoch numbers at
    /// their widest (ten digits: 6 bytes).
    const VERSION: usize = "ArchiveVersion".len() + crate::archive::version::VERSION_LEN;
    const EXPIRY: usize = "ArchiveExpiresAt".len() + 6;
    const ARCHIVED_AT: usize = "ArchivedAt".len() + 6;

    fn names(item: &ArchiveItem) -> Vec<&str> {
        let mut names: Vec<&str> = ["ArchiveVersion", "ArchiveExpiresAt", "ArchivedAt"]
            .into_iter()
            .filter(|name| item.item.contains_key(*name))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn near_the_limit_the_additions_go_in_order_the_version_last() {
        let projection = stamped();
        for (spare, kept, dropped) in [
            (
                VERSION + EXPIRY + ARCHIVED_AT,
                &["ArchiveExpiresAt", "ArchiveVersion", "ArchivedAt"][..],
                DroppedAdditions::default(),
            ),
            (
                VERSION + EXPIRY + ARCHIVED_AT - 1,
                &["ArchiveExpiresAt", "ArchiveVersion"][..],
                DroppedAdditions {
                    archived_at: true,
                    ..Default::default()
                },
            ),
            (
                VERSION + EXPIRY,
                &["ArchiveExpiresAt", "ArchiveVersion"][..],
                DroppedAdditions {
                    archived_at: true,
                    ..Default::default()
                },
            ),
            // The issue's case: 50 spare bytes keep the version (35).
            (
                50,
                &["ArchiveVersion"][..],
                DroppedAdditions {
                    expiry: true,
                    archived_at: true,
                    ..Default::default()
                },
            ),
            // Room for the archived-at stamp after the version, not for the expiry before it:
            // they are kept in order, so neither.
            (
                VERSION + ARCHIVED_AT,
                &["ArchiveVersion"][..],
                DroppedAdditions {
                    expiry: true,
                    archived_at: true,
                    ..Default::default()
                },
            ),
            (
                VERSION,
                &["ArchiveVersion"][..],
                DroppedAdditions {
                    expiry: true,
                    archived_at: true,
                    ..Default::default()
                },
            ),
            (VERSION - 1, &[][..], DroppedAdditions::ALL),
            (0, &[][..], DroppedAdditions::ALL),
        ] {
            let (change, record_bytes) = session_of_size(MAX_ITEM_BYTES - spare);
            let item = projection
                .project("100".into(), change, 1_800_000_000, record_bytes)
                .unwrap();
            assert_eq!(names(&item), kept, "{spare} spare bytes");
            assert_eq!(item.dropped, dropped, "{spare} spare bytes");
            assert!(
                crate::archive::item_size::item_size(&item.item) <= MAX_ITEM_BYTES,
                "{spare} spare bytes"
            );
        }
    }

    #[test]
    fn one_record_gets_one_decision_whatever_the_second() {
        // 1800000000 counts 2 bytes, 1795000123 counts 6: the stamps are measured at 6 either way.
        let projection = stamped();
        for spare in [
            VERSION + EXPIRY + 3,
            VERSION + EXPIRY + ARCHIVED_AT - 4,
            VERSION + 10,
        ] {
            let decisions: Vec<DroppedAdditions> = [1_800_000_000u64, 1_795_000_123, 1_799_999_999]
                .into_iter()
                .map(|now| {
                    let (change, record_bytes) = session_of_size(MAX_ITEM_BYTES - spare);
                    projection
                        .project("100".into(), change, now, record_bytes)
                        .unwrap()
                        .dropped
                })
                .collect();
            assert!(
                decisions.windows(2).all(|pair| pair[0] == pair[1]),
                "{spare} spare bytes: {decisions:?}"
            );
        }
    }

    #[test]
    fn without_stamps_the_version_alone_is_measured() {
        let projection = Projection::default();
        let (change, record_bytes) = session_of_size(MAX_ITEM_BYTES - VERSION);
        let item = projection
            .project("100".into(), change, 0, record_bytes)
            .unwrap();
        assert!(!item.dropped.any());
        assert_eq!(
            crate::archive::item_size::item_size(&item.item),
            MAX_ITEM_BYTES
        );
        let (change, record_bytes) = session_of_size(MAX_ITEM_BYTES - VERSION + 1);
        let item = projection
            .project("100".into(), change, 0, record_bytes)
            .unwrap();
        assert!(item.dropped.version, "one byte too many");
        assert_eq!(
            crate::archive::item_size::item_size(&item.item),
            MAX_ITEM_BYTES - VERSION + 1
        );
    }

    #[test]
    fn epoch_numbers_are_measured_at_their_widest() {
        use crate::archive::item_size::number_size;
        for value in [
            1_800_000_000u64,
            1_795_000_123,
            1_000_000_001,
            9_999_999_999,
            1,
            12,
        ] {
            assert!(
                widest_number_size(value) >= number_size(&value.to_string()),
                "{value}"
            );
        }
        assert_eq!(widest_number_size(1_800_000_000), 6);
        assert_eq!(widest_number_size(10_000_000_000), 7);
    }
}
