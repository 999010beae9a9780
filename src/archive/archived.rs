//! What the archive already holds for a key, judged against a record being replayed (the
//! redrive's conditional put failed). Pure.
//!
//! The redrive may count a record as archived without writing it only when the archive proves it
//! holds this record's version or a newer one. A failed condition alone proves nothing: the
//! version attribute may have another type or name, or the item may carry no version at all.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::archive::project::ArchiveItem;
use crate::archive::version::Version;

/// The judgement on the archived item found where a replayed record's put was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Archived {
    /// The archive holds this record's version or a newer one: nothing to write.
    SameOrNewer,
    /// The archive holds an older version, or no item (it changed since the condition was
    /// checked): put again.
    Older,
    /// Which is newer cannot be told: report the record, keep its batch.
    Unprovable(String),
}

/// Judges `existing` (the archived item, `None` if there is none) against `ours`. `additions`
/// names every attribute the archiver adds (the version's among them).
pub fn judge(
    existing: Option<&HashMap<String, AttributeValue>>,
    ours: &ArchiveItem,
    version_attribute: &str,
    additions: &[String],
) -> Archived {
    let Some(existing) = existing else {
        return Archived::Older;
    };
    let stored = match existing.get(version_attribute) {
        Some(value) => Version::stored(value),
        None => {
            // Items whose additions were dropped (near 400 KB) carry no version; the one case
            // that can still be proven is the archive holding this very projection, with or
            // without the additions (an earlier attempt may have gone in bare, after DynamoDB
            // refused it as too large).
            return if existing == &ours.item || is_bare_copy(existing, &ours.item, additions) {
                Archived::SameOrNewer
            } else {
                Archived::Unprovable(format!(
                    "the archived item has no {version_attribute} (an item near 400 KB is archived without it), so which is newer cannot be told; nothing written"
                ))
            };
        }
    };
    match stored {
        Some(stored) if stored >= ours.version => Archived::SameOrNewer,
        Some(_) => Archived::Older,
        None => Archived::Unprovable(format!(
            "the archived item's {version_attribute} is not a version this archiver writes ({}); nothing written",
            type_name(&existing[version_attribute])
        )),
    }
}

/// What a replay of `ours` would find in the archive: the run's conditional put and its
/// judgement, told without writing (the redrive's dry run). `existing` is the archived item read
/// by key, `None` if there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// The archive holds no item of the key, or an older version: the run writes it.
    WouldArchive,
    /// The archive holds this very version (or this projection without a version).
    AlreadyArchived,
    /// The archive holds a newer version: the run leaves it.
    NewerArchived,
    /// The run reports the record, as the judgement says.
    Cannot(String),
}

/// Mirrors `ArchiveWriter::put_if_newer`: a put over no item or an older version, else the
/// judgement of the item found.
pub fn replayed(
    existing: Option<&HashMap<String, AttributeValue>>,
    ours: &ArchiveItem,
    version_attribute: &str,
    additions: &[String],
) -> Replayed {
    // The put's condition first, as DynamoDB evaluates it: no item, or a stored version below
    // ours (a binary by its bytes, a string by its UTF-8 bytes against the legacy text), even
    // one this archiver would not write; then the judgement of what refused it.
    let condition_holds = match existing.map(|item| item.get(version_attribute)) {
        None => true,
        Some(Some(stored)) => ours.version.is_above(stored),
        Some(None) => false,
    };
    if condition_holds {
        return Replayed::WouldArchive;
    }
    match judge(existing, ours, version_attribute, additions) {
        Archived::Older => Replayed::WouldArchive,
        Archived::Unprovable(why) => Replayed::Cannot(why),
        Archived::SameOrNewer => {
            let stored = existing
                .and_then(|item| item.get(version_attribute))
                .and_then(Version::stored);
            match stored {
                Some(stored) if stored > ours.version => Replayed::NewerArchived,
                _ => Replayed::AlreadyArchived,
            }
        }
    }
}

/// Whether `existing` is `ours` without the archiver's attributes.
fn is_bare_copy(
    existing: &HashMap<String, AttributeValue>,
    ours: &HashMap<String, AttributeValue>,
    additions: &[String],
) -> bool {
    let ours_bare = ours
        .iter()
        .filter(|(name, _)| !additions.contains(name))
        .count();
    existing.len() == ours_bare
        && existing
            .iter()
            .all(|(name, value)| !additions.contains(name) && ours.get(name) == Some(value))
}

/// The attribute's DynamoDB type, never its value.
fn type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "a string of another form",
        AttributeValue::N(_) => "a number",
        AttributeValue::B(_) => "a binary of another length",
        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => "a set",
        AttributeValue::M(_) => "a map",
        AttributeValue::L(_) => "a list",
        AttributeValue::Bool(_) => "a Boolean",
        AttributeValue::Null(_) => "a null",
        _ => "an unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::key::ItemKey;
    use crate::archive::version::archive_version;

    fn ours(seq: &str, with_version: bool) -> ArchiveItem {
        let version = archive_version(1_800_000_000, seq).unwrap();
        let mut item = HashMap::from([("PK".to_owned(), AttributeValue::S("k".into()))]);
        if with_version {
            item.insert("ArchiveVersion".into(), version.attribute_value());
        }
        ArchiveItem {
            sequence_number: seq.into(),
            version,
            key: ItemKey::of_keys(&HashMap::from([(
                "PK".to_owned(),
                AttributeValue::S("k".into()),
            )]))
            .unwrap(),
            item,
            request_bytes: 100,
            dropped: if with_version {
                Default::default()
            } else {
                crate::archive::project::DroppedAdditions::ALL
            },
        }
    }

    fn names() -> Vec<String> {
        vec!["ArchiveVersion".to_owned(), "ArchivedAt".to_owned()]
    }

    fn archived(version: AttributeValue) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("PK".to_owned(), AttributeValue::S("k".into())),
            ("ArchiveVersion".to_owned(), version),
        ])
    }

    fn binary(seq: &str) -> AttributeValue {
        AttributeValue::B(
            archive_version(1_800_000_000, seq)
                .unwrap()
                .as_bytes()
                .to_vec()
                .into(),
        )
    }

    #[test]
    fn a_newer_or_equal_version_proves_the_record_archived() {
        let record = ours("100", true);
        for stored in ["100", "101"] {
            assert_eq!(
                judge(
                    Some(&archived(binary(stored))),
                    &record,
                    "ArchiveVersion",
                    &names()
                ),
                Archived::SameOrNewer
            );
        }
        let legacy = archive_version(1_800_000_000, "101").unwrap().legacy_text();
        assert_eq!(
            judge(
                Some(&archived(AttributeValue::S(legacy))),
                &record,
                "ArchiveVersion",
                &names()
            ),
            Archived::SameOrNewer,
            "a version an earlier release wrote"
        );
    }

    #[test]
    fn an_older_version_or_no_item_means_put_again() {
        let record = ours("100", true);
        assert_eq!(
            judge(
                Some(&archived(binary("99"))),
                &record,
                "ArchiveVersion",
                &names()
            ),
            Archived::Older
        );
        assert_eq!(
            judge(None, &record, "ArchiveVersion", &names()),
            Archived::Older
        );
    }

    #[test]
    fn a_version_of_another_type_or_name_proves_nothing() {
        let record = ours("100", true);
        for stored in [
            AttributeValue::N("99999999999".into()),
            AttributeValue::S("v2".into()),
            AttributeValue::B(vec![0xff; 3].into()),
        ] {
            let judged = judge(Some(&archived(stored)), &record, "ArchiveVersion", &names());
            assert!(matches!(judged, Archived::Unprovable(_)), "{judged:?}");
        }
        let judged = judge(Some(&archived(binary("101"))), &record, "Version", &names());
        assert!(matches!(judged, Archived::Unprovable(_)), "{judged:?}");
        if let Archived::Unprovable(why) = judge(
            Some(&archived(AttributeValue::N("12345".into()))),
            &record,
            "ArchiveVersion",
            &names(),
        ) {
            assert!(!why.contains("12345"), "no value quoted: {why}");
        }
    }

    #[test]
    fn an_unversioned_item_is_proven_only_by_being_this_very_projection() {
        let record = ours("100", false);
        assert_eq!(
            judge(
                Some(&record.item.clone()),
                &record,
                "ArchiveVersion",
                &names()
            ),
            Archived::SameOrNewer
        );
        // An earlier attempt of the same record that went in bare proves it too.
        let mut stamped = ours("100", true);
        stamped
            .item
            .insert("ArchivedAt".into(), AttributeValue::N("1".into()));
        let bare = record.item.clone();
        assert_eq!(
            judge(Some(&bare), &stamped, "ArchiveVersion", &names()),
            Archived::SameOrNewer
        );
        // A copy that holds only part of this record's attributes (an older deletion, before
        // the item gained `data`) is another deletion's.
        let mut fuller = ours("100", true);
        fuller
            .item
            .insert("data".into(), AttributeValue::S("x".into()));
        assert!(matches!(
            judge(Some(&record.item), &fuller, "ArchiveVersion", &names()),
            Archived::Unprovable(_)
        ));
        let mut other = record.item.clone();
        other.insert("x".into(), AttributeValue::Null(true));
        assert!(matches!(
            judge(Some(&other), &record, "ArchiveVersion", &names()),
            Archived::Unprovable(_)
        ));
    }

    #[test]
    fn a_replay_would_archive_over_any_stored_value_the_condition_finds_lower() {
        let ours = ours("100", true);
        let verdict = |value| replayed(Some(&archived(value)), &ours, "ArchiveVersion", &names());
        // Not a version this archiver writes, but below ours in DynamoDB's order: the run's
        // condition holds and it writes.
        assert_eq!(
            verdict(AttributeValue::B(vec![0].into())),
            Replayed::WouldArchive
        );
        assert_eq!(
            verdict(AttributeValue::S("0".into())),
            Replayed::WouldArchive
        );
        assert!(matches!(
            verdict(AttributeValue::N("1".into())),
            Replayed::Cannot(_)
        ));
        assert!(matches!(
            verdict(AttributeValue::B(vec![0xff; 3].into())),
            Replayed::Cannot(_)
        ));
        assert_eq!(
            verdict(ours.version.attribute_value()),
            Replayed::AlreadyArchived
        );
        let newer = archive_version(1_800_000_001, "200").unwrap();
        assert_eq!(verdict(newer.attribute_value()), Replayed::NewerArchived);
        assert_eq!(
            replayed(None, &ours, "ArchiveVersion", &names()),
            Replayed::WouldArchive
        );
    }
}
