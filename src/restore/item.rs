//! What comes back into the source table: the archived item without the archiver's own
//! attributes, with the expiry the operator chose. Pure.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

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
    /// `ARCHIVE_TTL_ATTRIBUTE`, or its default: an archive's items may carry an expiry from an
    /// earlier retention even when the settings name none now.
    pub expiry: String,
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
        }
    }
}

/// The item to put back, and the version it was archived with (`None` for an item archived
/// without the archiver's attributes, near 400 KB). The version and the stamps are removed only
/// when the version is one the archiver writes: otherwise they are the item's own data.
pub fn restored(
    mut item: Item,
    names: &ArchiverAttributes,
    expiry: &Expiry,
) -> (Item, Option<Version>) {
    let version = match item.get(&names.version) {
        Some(AttributeValue::B(bytes)) => Version::from_bytes(bytes.as_ref()),
        Some(AttributeValue::S(text)) => Version::from_legacy(text),
        _ => None,
    };
    if version.is_some() {
        item.remove(&names.version);
        for stamp in [names.archived_at.as_ref(), Some(&names.expiry)]
            .into_iter()
            .flatten()
        {
            if matches!(item.get(stamp), Some(AttributeValue::N(_))) {
                item.remove(stamp);
            }
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
    (item, version)
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

    #[test]
    fn the_archiver_s_attributes_are_removed_and_the_expiry_set() {
        let expiry = Expiry::At {
            attribute: "expires".into(),
            epoch_seconds: 1_800_000_000,
        };
        let (item, version) = restored(archived(), &names(), &expiry);
        assert_eq!(
            version,
            archive_version(1_795_000_000, "4421584500000000000000000042")
        );
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["data", "expires", "pk"]);
        assert_eq!(item["expires"], AttributeValue::N("1800000000".into()));
    }

    #[test]
    fn no_expiry_removes_the_ttl_attribute_an_archive_item_may_still_hold() {
        let mut item = archived();
        item.insert("expires".into(), AttributeValue::N("1".into()));
        let (item, _) = restored(
            item,
            &names(),
            &Expiry::Never {
                attribute: "expires".into(),
            },
        );
        assert!(!item.contains_key("expires"));
        let (item, _) = restored(archived(), &names(), &Expiry::TtlOff);
        assert_eq!(item.len(), 2, "{item:?}");
    }

    #[test]
    fn without_the_archiver_s_version_everything_is_the_item_s_own() {
        let mut item = archived();
        item.insert("ArchiveVersion".into(), AttributeValue::N("7".into()));
        let (item, version) = restored(item, &names(), &Expiry::TtlOff);
        assert_eq!(version, None);
        assert_eq!(item.len(), 5, "nothing removed: {item:?}");
    }
}
