//! What became of each item, and of the run: readable lines or JSON lines, and the totals that
//! decide the exit status.

use crate::operator::output::{counted, key_json, Summary};
use serde::Serialize;
use serde_json::Value;

use crate::operator::session::{EXIT_DONE, EXIT_LEFT};
use crate::restore::selection::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Restored,
    /// The source holds an item of this key: left alone.
    Present,
    /// With `--overwrite`: the live item holds the same or a newer version.
    PresentNewer,
    WouldRestore,
    /// A dry run with `--overwrite` found a live item the run would replace.
    WouldReplace,
    /// A dry run found the key in the source.
    WouldLeavePresent,
    /// A dry run with `--overwrite` found a live item with the same or a newer version.
    WouldLeavePresentNewer,
    NotInArchive,
    /// Found by a `--deleted-between` scan without a version (archived near 400 KB, or before
    /// versions): when TTL deleted it cannot be read, so it is not restored.
    UnknownDeletionTime,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemReport {
    /// The key in DynamoDB JSON.
    pub key: Value,
    pub status: Status,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub removed_from_archive: bool,
    /// Restored without the archiver's version: with it and its TTL attribute the item would
    /// exceed 400 KB.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub version_removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ItemReport {
    pub fn new(key: &Key, status: Status) -> Self {
        ItemReport {
            key: key_json(key),
            status,
            removed_from_archive: false,
            version_removed: false,
            error: None,
        }
    }

    pub fn failed(key: &Key, error: String) -> Self {
        ItemReport {
            error: Some(error),
            ..ItemReport::new(key, Status::Failed)
        }
    }

    pub fn line(&self) -> String {
        let what = match self.status {
            Status::Restored if self.removed_from_archive => "restored, removed from the archive",
            Status::Restored if self.version_removed => {
                "restored without the archiver's version (with it the item would exceed 400 KB)"
            }
            Status::Restored => "restored",
            Status::Present => "present, left alone",
            Status::PresentNewer => "present with the same or a newer version, left alone",
            Status::WouldRestore => "would restore",
            Status::WouldReplace => "present, would be replaced (--overwrite)",
            Status::WouldLeavePresent => "present, would be left alone",
            Status::WouldLeavePresentNewer => {
                "present with the same or a newer version, would be left alone"
            }
            Status::NotInArchive => "not in the archive",
            Status::UnknownDeletionTime => {
                "archived without a version (near 400 KB, or before versions): when TTL deleted \
                 it is unknown, so --deleted-between cannot select it; not restored (restore it \
                 with --key if it belongs)"
            }
            Status::Failed => "error",
        };
        match &self.error {
            Some(error) => format!("{}: {what}: {error}", self.key),
            None => format!("{}: {what}", self.key),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub items: usize,
    pub restored: usize,
    pub present: usize,
    pub would_restore: usize,
    pub not_in_archive: usize,
    /// Scanned by `--deleted-between` without a version: not restored.
    pub unknown_deletion_time: usize,
    pub failed: usize,
    pub removed_from_archive: usize,
    /// Scans or lookups that could not go on (each said why on its line).
    pub scan_errors: usize,
}

impl Totals {
    pub fn add(&mut self, report: &ItemReport) {
        self.items += 1;
        match report.status {
            Status::Restored => self.restored += 1,
            Status::Present
            | Status::PresentNewer
            | Status::WouldLeavePresent
            | Status::WouldLeavePresentNewer => self.present += 1,
            Status::WouldRestore | Status::WouldReplace => self.would_restore += 1,
            Status::NotInArchive => self.not_in_archive += 1,
            Status::UnknownDeletionTime => self.unknown_deletion_time += 1,
            Status::Failed => self.failed += 1,
        }
        self.removed_from_archive += usize::from(report.removed_from_archive);
    }
}

impl Summary for Totals {
    fn line(&self, dry_run: bool, seconds: f64) -> String {
        let (done, left_alone) = if dry_run {
            (
                format!("{} would be restored", self.would_restore),
                "present and would be left alone",
            )
        } else {
            (
                format!("{} restored", self.restored),
                "present and left alone",
            )
        };
        let removed = match self.removed_from_archive {
            0 => String::new(),
            n => format!(", {n} removed from the archive"),
        };
        let unknown = match self.unknown_deletion_time {
            0 => String::new(),
            n => format!(", {n} of unknown deletion time not restored"),
        };
        let scans = match self.scan_errors {
            0 => String::new(),
            n => format!("; {} stopped", counted(n, "scan", "scans")),
        };
        format!(
            "summary: {} ({done}, {} {left_alone}, {} not in the archive, {} failed{unknown}){removed}{scans}; {seconds:.1} s",
            counted(self.items, "item", "items"), self.present, self.not_in_archive, self.failed
        )
    }

    /// 0 when every item asked for is in the source table (restored, or there already: a run
    /// again is harmless); 1 when an item failed, a key is not in the archive, a scan stopped,
    /// or a window scan met items whose deletion time it cannot read. A dry run says the same
    /// of what it would do.
    fn exit_status(&self, _dry_run: bool) -> u8 {
        if self.failed + self.not_in_archive + self.scan_errors + self.unknown_deletion_time > 0 {
            EXIT_LEFT
        } else {
            EXIT_DONE
        }
    }
}

/// One line of `--output json`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JsonLine<'a> {
    Item(&'a ItemReport),
    ScanError { error: &'a str },
}

impl JsonLine<'_> {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a report serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn key() -> Key {
        [
            ("sk".to_owned(), AttributeValue::N("5".into())),
            ("pk".to_owned(), AttributeValue::B(vec![0, 1].into())),
        ]
        .into()
    }

    #[test]
    fn lines_name_the_key_and_what_became_of_it() {
        let mut report = ItemReport::new(&key(), Status::Restored);
        report.removed_from_archive = true;
        assert_eq!(
            report.line(),
            r#"{"pk":{"B":"AAE="},"sk":{"N":"5"}}: restored, removed from the archive"#
        );
        let json: Value = serde_json::from_str(&JsonLine::Item(&report).to_line()).unwrap();
        assert_eq!(json["type"], "item");
        assert_eq!(json["status"], "restored");
        assert_eq!(json["removed_from_archive"], true);
        let failed = ItemReport::failed(&key(), "throttled".into());
        assert!(failed.line().ends_with(": error: throttled"));
    }

    #[test]
    fn only_what_is_not_in_the_source_table_makes_the_status_1() {
        let mut totals = Totals::default();
        totals.add(&ItemReport::new(&key(), Status::Restored));
        totals.add(&ItemReport::new(&key(), Status::Present));
        assert_eq!(totals.exit_status(false), 0);
        assert_eq!(
            totals.line(false, 1.0),
            "summary: 2 items (1 restored, 1 present and left alone, 0 not in the archive, 0 failed); 1.0 s"
        );
        totals.add(&ItemReport::new(&key(), Status::NotInArchive));
        assert_eq!(totals.exit_status(false), 1);
    }
}
