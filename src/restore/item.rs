//! What comes back into the source table: the archived item, marked by the archiver's version,
//! with the expiry the operator chose. Pure.
//!
//! The version stays on the restored item. It is the one mark by which the function, when TTL
//! deletes the item again, knows the archiver's attributes from the item's own data: it then
//! replaces the version and any stamps (archived-at, expiry) with the new deletion's. A restore
//! that took the version away but left a stamp it could not name (`ARCHIVED_AT_ATTRIBUTE` unset
//! on the command line, set on the stack) would leave the function an item whose stamp it must
//! not overwrite, and the item could never be archived again. So the stamps the settings name
//! go, and the version stays, whatever the operator passed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::archive::item_size::{item_size, MAX_ITEM_BYTES};
use crate::archive::version::Version;
use crate::lambda::config::{Config, DEFAULT_ARCHIVE_TTL_ATTRIBUTE};

pub type Item = HashMap<String, AttributeValue>;

/// The expiry a restored item gets in a source table with TTL on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// The source table has TTL off: the item is written as archived.
    TtlOff,
    /// `--no-expiry`: the TTL attribute is left out, so TTL never deletes the item.
    Never { attribute: String },
    /// `--expires-in`: the TTL attribute is set to this epoch second.
    At {
        attribute: String,
        epoch_seconds: u64,
    },
}

/// The names of the archiver's attributes, from the same settings as the function's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiverAttributes {
    pub version: String,
    pub archived_at: Option<String>,
    /// `ARCHIVE_TTL_ATTRIBUTE`, or its default; a stamp only when `expiry_named`.
    pub expiry: String,
    /// The settings give a retention, so `expiry` is the stack's name, not a guess.
    pub expiry_named: bool,
}

impl From<&Config> for ArchiverAttributes {
    fn from(config: &Config) -> Self {
        ArchiverAttributes {
            version: config.version_attribute.clone(),
            archived_at: config.archived_at_attribute.clone(),
            expiry: config
                .archive_expiry
                .as_ref()
                .map_or(DEFAULT_ARCHIVE_TTL_ATTRIBUTE.to_owned(), |e| {
                    e.attribute.clone()
                }),
            expiry_named: config.archive_expiry.is_some(),
        }
    }
}

/// An item ready to go back, and what its archived copy held.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub item: Item,
    /// The version it was archived with; `None` for an item archived without one (near 400 KB,
    /// or before versions).
    pub version: Option<Version>,
    /// The version attribute as the archive stores it (binary, or an earlier release's decimal
    /// string): what removing the archived copy must find there unchanged.
    pub stored_version: Option<AttributeValue>,
    /// The version was taken off too: with it and its TTL attribute the item would exceed 400 KB.
    pub version_removed: bool,
}

/// The item to put back. The stamps are removed where they hold numbers, under the names the
/// settings give (the archiver never archives an item's own data under them: it refuses such an
/// item), with or without a version (an item archived near 400 KB, or by a release before
/// versions, has none). The
/// version stays (see the module comment) unless, with the TTL attribute set, the item would
/// exceed DynamoDB's 400 KB: then it goes too, but only when the settings name every stamp the
/// archiver may have added. The error says why an item cannot go back.
pub fn restored(
    mut item: Item,
    names: &ArchiverAttributes,
    expiry: &Expiry,
) -> Result<Restored, String> {
    let stored_version = item.get(&names.version).cloned();
    let version = stored_version.as_ref().and_then(Version::stored);
    // Only the names the settings give: a default name may be the item's own attribute (a stack
    // without a retention never refuses an item holding it), and a stamp left beside the
    // version is taken off by the function at the next deletion anyway.
    let expiry_stamp = names.expiry_named.then_some(&names.expiry);
    for stamp in [names.archived_at.as_ref(), expiry_stamp]
        .into_iter()
        .flatten()
    {
        if matches!(item.get(stamp), Some(AttributeValue::N(_))) {
            item.remove(stamp);
        }
    }
    match expiry {
        Expiry::TtlOff => {}
        Expiry::Never { attribute } => {
            item.remove(attribute);
        }
        Expiry::At {
            attribute,
            epoch_seconds,
        } => {
            item.insert(
                attribute.clone(),
                AttributeValue::N(epoch_seconds.to_string()),
            );
        }
    }
    let mut version_removed = false;
    if version.is_some() && item_size(&item) > MAX_ITEM_BYTES {
        if names.archived_at.is_none() || !names.expiry_named {
            return Err(format!(
                "with its TTL attribute and the archiver's {} the item would exceed 400 KB; the \
                 version can go only when every stamp of the archiver's is named (the stack's \
                 ARCHIVED_AT_ATTRIBUTE, ARCHIVE_RETENTION_DAYS and ARCHIVE_TTL_ATTRIBUTE: its \
                 RestoreCommand output has them), else restore it with --no-expiry; nothing \
                 written",
                names.version
            ));
        }
        item.remove(&names.version);
        version_removed = true;
    }
    Ok(Restored {
        item,
        version,
        stored_version,
        version_removed,
    })
}

/// What the restore's conditional put does where the source may hold a live item of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveItem {
    /// No live item: the put writes.
    Absent,
    /// A live item, and no `--overwrite`: left alone.
    LeftAlone,
    /// `--overwrite`, and the live item holds the same or a newer archiver version: left alone.
    LeftAloneNewer,
    /// `--overwrite`, and the live item holds no version or an older one: replaced.
    Replaced,
}

/// Judges the live item as the condition `Tables::put_into_source` sends has DynamoDB judge it,
/// for a dry run, which must say what the run will do. DynamoDB orders a binary by its bytes and
/// a string by its UTF-8 bytes, and a value of another type is less than neither.
pub fn judge_live(
    live: Option<&Item>,
    version_attribute: &str,
    overwrite: bool,
    ours: Option<Version>,
) -> LiveItem {
    let Some(live) = live else {
        return LiveItem::Absent;
    };
    if !overwrite {
        return LiveItem::LeftAlone;
    }
    let Some(theirs) = live.get(version_attribute) else {
        return LiveItem::Replaced;
    };
    if ours.is_some_and(|ours| ours.is_above(theirs)) {
        LiveItem::Replaced
    } else {
        LiveItem::LeftAloneNewer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::version::archive_version;

    fn names() -> ArchiverAttributes {
        ArchiverAttributes {
            version: "ArchiveVersion".into(),
            archived_at: Some("ArchivedAt".into()),
            expiry: "ArchiveExpiresAt".into(),
            expiry_named: true,
        }
    }

    fn archived() -> Item {
        let version = archive_version(1_795_000_000, "4421584500000000000000000042").unwrap();
        [
            ("pk", AttributeValue::S("USER#1".into())),
            ("data", AttributeValue::S("kept".into())),
            ("ArchiveVersion", version.attribute_value()),
            ("ArchivedAt", AttributeValue::N("1795000100".into())),
            ("ArchiveExpiresAt", AttributeValue::N("1797592100".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn sorted_names(item: &Item) -> Vec<&str> {
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        names
    }

    #[test]
    fn the_stamps_go_the_version_stays_and_the_expiry_is_set() {
        let expiry = Expiry::At {
            attribute: "expires".into(),
            epoch_seconds: 1_800_000_000,
        };
        let restored = restored(archived(), &names(), &expiry).unwrap();
        assert_eq!(
            restored.version,
            archive_version(1_795_000_000, "4421584500000000000000000042")
        );
        assert_eq!(
            restored.stored_version,
            restored.version.map(|v| v.attribute_value())
        );
        assert_eq!(
            sorted_names(&restored.item),
            ["ArchiveVersion", "data", "expires", "pk"]
        );
        assert_eq!(
            restored.item["expires"],
            AttributeValue::N("1800000000".into())
        );
        assert!(!restored.version_removed);
    }

    #[test]
    fn without_the_settings_an_unnamed_stamp_stays_beside_the_version() {
        // The recipe as written: no attribute settings. The stamps stay with the version, so
        // that the function recognises them all at the next deletion; and a number under the
        // default expiry name may be the item's own (a stack without a retention never refuses
        // it), so it stays too.
        let bare = ArchiverAttributes {
            archived_at: None,
            expiry_named: false,
            ..names()
        };
        let restored = restored(archived(), &bare, &Expiry::TtlOff).unwrap();
        assert_eq!(
            sorted_names(&restored.item),
            [
                "ArchiveExpiresAt",
                "ArchiveVersion",
                "ArchivedAt",
                "data",
                "pk"
            ]
        );
    }

    #[test]
    fn no_expiry_removes_the_ttl_attribute_an_archive_item_may_still_hold() {
        let mut item = archived();
        item.insert("expires".into(), AttributeValue::N("1".into()));
        let restored = restored(
            item,
            &names(),
            &Expiry::Never {
                attribute: "expires".into(),
            },
        )
        .unwrap();
        assert!(!restored.item.contains_key("expires"));
    }

    #[test]
    fn without_the_archiver_s_version_only_the_stamps_named_go() {
        // An item archived before versions, stamped: the stamps named go, or the function could
        // never replace them at the next deletion.
        let mut item = archived();
        item.insert("ArchiveVersion".into(), AttributeValue::N("7".into()));
        let restored_item = restored(item.clone(), &names(), &Expiry::TtlOff).unwrap();
        assert_eq!(restored_item.version, None);
        assert_eq!(
            sorted_names(&restored_item.item),
            ["ArchiveVersion", "data", "pk"],
            "the number under ArchiveVersion is the item's own"
        );
        // Without a retention in the settings, the default expiry name is the item's own.
        let unnamed = ArchiverAttributes {
            archived_at: None,
            expiry_named: false,
            ..names()
        };
        let restored_item = restored(item, &unnamed, &Expiry::TtlOff).unwrap();
        assert_eq!(restored_item.item.len(), 5, "nothing removed");
    }

    #[test]
    fn an_earlier_release_s_decimal_version_is_read_and_kept_as_stored() {
        let version = archive_version(1_795_000_000, "42").unwrap();
        let mut item = archived();
        item.insert(
            "ArchiveVersion".into(),
            AttributeValue::S(version.legacy_text()),
        );
        let restored = restored(item, &names(), &Expiry::TtlOff).unwrap();
        assert_eq!(restored.version, Some(version));
        assert_eq!(
            restored.stored_version,
            Some(AttributeValue::S(version.legacy_text()))
        );
    }

    #[test]
    fn near_400_kb_the_version_goes_only_with_every_stamp_named() {
        let mut item = archived();
        let mut without_stamps = item.clone();
        without_stamps.remove("ArchivedAt");
        without_stamps.remove("ArchiveExpiresAt");
        without_stamps.insert("expires".into(), AttributeValue::N("1800000000".into()));
        // With the TTL attribute and the version, 10 bytes over the limit.
        let blob = MAX_ITEM_BYTES + 10 - item_size(&without_stamps) - "blob".len();
        item.insert("blob".into(), AttributeValue::S("x".repeat(blob)));
        let expiry = Expiry::At {
            attribute: "expires".into(),
            epoch_seconds: 1_800_000_000,
        };
        let restored_item = restored(item.clone(), &names(), &expiry).unwrap();
        assert!(restored_item.version_removed);
        assert!(!restored_item.item.contains_key("ArchiveVersion"));
        assert!(item_size(&restored_item.item) <= MAX_ITEM_BYTES);
        for unnamed in [
            ArchiverAttributes {
                archived_at: None,
                ..names()
            },
            ArchiverAttributes {
                expiry_named: false,
                ..names()
            },
        ] {
            let err = restored(item.clone(), &unnamed, &expiry).unwrap_err();
            assert!(err.contains("ARCHIVED_AT_ATTRIBUTE"), "{err}");
            assert!(err.contains("--no-expiry"), "{err}");
        }
    }
}
