//! What became of each object and of the whole run, as readable lines or as JSON lines.

use crate::archive::failed_batch::Parked;
use crate::operator::output::{counted, Summary};
use serde::Serialize;

/// Where an object stands after the redrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every record archived, and the object moved or deleted (a file: left as it is).
    Done,
    /// Left where it is: records not archived, or archived but not moved or deleted.
    Kept,
    /// Not a batch, or it could not be read; left where it is.
    Unreadable,
    /// A dry run: nothing written, nothing moved.
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedRecord {
    pub sequence_number: String,
    pub reason: String,
}

/// What a dry run found for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The archive holds no item of the key, or an older version: the run writes it.
    WouldArchive,
    /// The archive holds this version: the run counts it archived, writing nothing.
    AlreadyArchived,
    /// The archive holds a newer version: the run leaves it, counted archived.
    NewerArchived,
    /// The run reports it and keeps its object; `reason` says why.
    CannotArchive,
}

impl Verdict {
    fn describe(self) -> &'static str {
        match self {
            Verdict::WouldArchive => "would archive",
            Verdict::AlreadyArchived => "already archived",
            Verdict::NewerArchived => "newer archived",
            Verdict::CannotArchive => "cannot archive",
        }
    }
}

/// One record of a dry run: what it is (the key and when TTL deleted it, where the record says)
/// and what the run would do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordVerdict {
    pub sequence_number: String,
    /// The key in DynamoDB JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<serde_json::Value>,
    /// When TTL deleted the item (the record's `ApproximateCreationDateTime`), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// A later deletion of the same key in this batch, which the run writes instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RecordVerdict {
    /// `  SEQ {"PK":{"S":"a"}} deleted 2026-11-24T09:00:00Z: would archive`.
    fn line(&self) -> String {
        let mut line = format!("  {}", self.sequence_number);
        if let Some(key) = &self.key {
            line.push_str(&format!(" {key}"));
        }
        if let Some(at) = &self.deleted_at {
            line.push_str(&format!(" deleted {at}"));
        }
        if let Some(later) = &self.superseded_by {
            line.push_str(&format!(
                " (replaced by {later}, a later deletion of the key)"
            ));
        }
        line.push_str(&format!(": {}", self.verdict.describe()));
        if let Some(reason) = &self.reason {
            line.push_str(&format!(" ({reason})"));
        }
        line
    }
}

/// One object's result. Field names are the JSON output's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    pub object: String,
    pub status: Status,
    pub archived: usize,
    /// Of `archived`: records the archive already held at this or a newer version.
    pub newer_kept: usize,
    pub skipped: usize,
    pub failed: Vec<FailedRecord>,
    /// A dry run: the sequence numbers that would be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_archive: Option<Vec<String>>,
    /// A dry run: records the archive holds at this version, and at a newer one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_archived: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newer_archived: Option<usize>,
    /// A dry run: every record, with what the run would do.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordVerdict>,
    /// Why Lambda parked the object's batch (an invocation record's `requestContext`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parked: Option<Parked>,
    /// Where the object went once done (unless deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Why the object is unreadable, or why it could not be moved or deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A file that could not be opened: there is nothing to keep.
    #[serde(skip)]
    pub absent: bool,
}

impl ObjectReport {
    pub fn new(object: impl Into<String>, status: Status) -> Self {
        ObjectReport {
            object: object.into(),
            status,
            archived: 0,
            newer_kept: 0,
            skipped: 0,
            failed: Vec::new(),
            would_archive: None,
            already_archived: None,
            newer_archived: None,
            records: Vec::new(),
            parked: None,
            moved_to: None,
            absent: false,
            deleted: false,
            error: None,
        }
    }

    pub fn unreadable(object: impl Into<String>, error: impl Into<String>) -> Self {
        ObjectReport {
            error: Some(error.into()),
            ..Self::new(object, Status::Unreadable)
        }
    }

    /// A file that could not be opened (missing, say).
    pub fn absent(object: impl Into<String>, error: impl Into<String>) -> Self {
        ObjectReport {
            absent: true,
            ..Self::unreadable(object, error)
        }
    }

    /// The readable line: `NAME: 3 archived, 0 skipped, 0 failed; moved to s3://...`.
    pub fn line(&self) -> String {
        let name = &self.object;
        let error = self.error.as_deref().unwrap_or_default();
        if self.absent {
            return format!("{name}: error: cannot be read: {error}");
        }
        if self.status == Status::Unreadable {
            return format!("{name}: error: {error}; kept");
        }
        if let Some(writes) = &self.would_archive {
            let parked = match &self.parked {
                Some(parked) => format!("parked: {}; ", parked.describe()),
                None => String::new(),
            };
            let mut text = format!(
                "{name}: {parked}would archive {}, already archived {}, newer archived {}, skip {}, cannot archive {}",
                writes.len(),
                self.already_archived.unwrap_or_default(),
                self.newer_archived.unwrap_or_default(),
                self.skipped,
                self.failed.len()
            );
            for record in &self.records {
                text.push('\n');
                text.push_str(&record.line());
            }
            return text;
        }
        let newer = match self.newer_kept {
            0 => String::new(),
            n => format!(" ({n} already in the archive at this or a newer version)"),
        };
        let counts = format!(
            "{name}: {} archived{newer}, {} skipped, {} failed",
            self.archived,
            self.skipped,
            self.failed.len()
        );
        if !self.failed.is_empty() {
            let remaining: Vec<String> = self
                .failed
                .iter()
                .map(|f| format!("{} ({})", f.sequence_number, f.reason))
                .collect();
            return format!("{counts}; kept; remaining: {}", remaining.join(", "));
        }
        match (self.status, &self.moved_to) {
            (Status::Kept, _) => {
                format!("{counts}; archived, but could not be marked done: {error}")
            }
            (_, Some(target)) => format!("{counts}; moved to {target}"),
            _ if self.deleted => format!("{counts}; deleted"),
            _ => counts,
        }
    }
}

/// The run's counts; `add` takes each object once, so they are exact however many run at once.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub objects: usize,
    pub done: usize,
    /// Objects left where they were, the unreadable included (a dry run's are not counted).
    pub kept: usize,
    pub unreadable: usize,
    pub archived: usize,
    pub newer_kept: usize,
    pub would_archive: usize,
    /// A dry run's records the archive holds at this version, and at a newer one.
    pub already_archived: usize,
    pub newer_archived: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Sources that could not be listed.
    pub source_errors: usize,
}

impl Totals {
    pub fn add(&mut self, report: &ObjectReport) {
        self.objects += 1;
        match report.status {
            Status::Done => self.done += 1,
            Status::Unreadable => {
                self.kept += usize::from(!report.absent);
                self.unreadable += 1;
            }
            Status::Kept => self.kept += 1,
            Status::DryRun => {}
        }
        self.archived += report.archived;
        self.newer_kept += report.newer_kept;
        self.would_archive += report.would_archive.as_ref().map_or(0, Vec::len);
        self.already_archived += report.already_archived.unwrap_or_default();
        self.newer_archived += report.newer_archived.unwrap_or_default();
        self.skipped += report.skipped;
        self.failed += report.failed.len();
    }
}

impl Summary for Totals {
    /// The readable summary line.
    fn line(&self, dry_run: bool, seconds: f64) -> String {
        let sources = match self.source_errors {
            0 => String::new(),
            n => format!("; {} could not be listed", counted(n, "source", "sources")),
        };
        let objects = counted(self.objects, "object", "objects");
        if dry_run {
            return format!(
                "summary: {objects} ({} unreadable); {} would be archived, {} already archived, {} newer archived, {} skipped, {} cannot be archived{sources}; {seconds:.1} s",
                self.unreadable,
                counted(self.would_archive, "record", "records"),
                self.already_archived,
                self.newer_archived,
                self.skipped,
                self.failed
            );
        }
        format!(
            "summary: {objects} ({} done, {} kept, {} unreadable); {} archived, {} skipped, {} failed{sources}; {seconds:.1} s",
            self.done,
            self.kept,
            self.unreadable,
            counted(self.archived, "record", "records"),
            self.skipped,
            self.failed
        )
    }

    /// 0 when everything is archived and done; 1 when anything needs another look: a record not
    /// archived, an unreadable object, an object not moved, a source not listed. A dry run
    /// leaves every object by design.
    fn exit_status(&self, dry_run: bool) -> u8 {
        // An absent file is counted unreadable, which sets the status below.
        let left_behind = !dry_run && self.kept > 0;
        let trouble = self.failed > 0 || self.unreadable > 0 || self.source_errors > 0;
        u8::from(left_behind || trouble)
    }
}

/// One line of `--output json`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JsonLine<'a> {
    Object(&'a ObjectReport),
    SourceError { source: String, error: &'a str },
}

impl JsonLine<'_> {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a report serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn archived(object: &str, archived: usize) -> ObjectReport {
        ObjectReport {
            archived,
            ..ObjectReport::new(object, Status::Done)
        }
    }

    fn failed(seq: &str) -> FailedRecord {
        FailedRecord {
            sequence_number: seq.into(),
            reason: "throttled".into(),
        }
    }

    #[test]
    fn lines_say_what_became_of_each_object() {
        let moved = ObjectReport {
            moved_to: Some("s3://b/redriven/k".into()),
            newer_kept: 1,
            ..archived("s3://b/k", 3)
        };
        assert_eq!(
            moved.line(),
            "s3://b/k: 3 archived (1 already in the archive at this or a newer version), 0 skipped, 0 failed; moved to s3://b/redriven/k"
        );
        let deleted = ObjectReport {
            deleted: true,
            ..archived("s3://b/k", 3)
        };
        assert!(deleted.line().ends_with("0 failed; deleted"));
        assert_eq!(
            archived("a.json", 2).line(),
            "a.json: 2 archived, 0 skipped, 0 failed"
        );

        let kept = ObjectReport {
            failed: vec![failed("5"), failed("7")],
            ..ObjectReport {
                archived: 1,
                ..ObjectReport::new("k", Status::Kept)
            }
        };
        assert_eq!(
            kept.line(),
            "k: 1 archived, 0 skipped, 2 failed; kept; remaining: 5 (throttled), 7 (throttled)"
        );
        let not_moved = ObjectReport {
            error: Some("access denied".into()),
            ..ObjectReport {
                archived: 3,
                ..ObjectReport::new("k", Status::Kept)
            }
        };
        assert!(not_moved
            .line()
            .ends_with("; archived, but could not be marked done: access denied"));
        assert_eq!(
            ObjectReport::unreadable("k", "not JSON").line(),
            "k: error: not JSON; kept"
        );
        let dry = ObjectReport {
            would_archive: Some(vec!["1".into(), "2".into()]),
            already_archived: Some(1),
            newer_archived: Some(0),
            skipped: 4,
            parked: Some(Parked {
                condition: Some("RetryAttemptsExhausted".into()),
                invocations: Some(11),
                at: None,
            }),
            records: vec![RecordVerdict {
                sequence_number: "2".into(),
                key: Some(serde_json::json!({"pk": {"S": "a"}})),
                deleted_at: None,
                superseded_by: Some("3".into()),
                verdict: Verdict::WouldArchive,
                reason: None,
            }],
            ..ObjectReport::new("k", Status::DryRun)
        };
        assert_eq!(
            dry.line(),
            "k: parked: RetryAttemptsExhausted after 11 invocations; would archive 2, already archived 1, newer archived 0, skip 4, cannot archive 0\n  2 {\"pk\":{\"S\":\"a\"}} (replaced by 3, a later deletion of the key): would archive"
        );
    }

    #[test]
    fn totals_count_each_object_once_whatever_the_order() {
        let reports = [
            archived("a", 3),
            ObjectReport {
                failed: vec![failed("9")],
                ..ObjectReport::new("b", Status::Kept)
            },
            ObjectReport::unreadable("c", "not JSON"),
        ];
        let mut forward = Totals::default();
        reports.iter().for_each(|r| forward.add(r));
        let mut backward = Totals::default();
        reports.iter().rev().for_each(|r| backward.add(r));
        assert_eq!(forward, backward);
        assert_eq!(
            forward.line(false, 2.0),
            "summary: 3 objects (1 done, 2 kept, 1 unreadable); 3 records archived, 0 skipped, 1 failed; 2.0 s"
        );
        assert_eq!(forward.exit_status(false), 1);
    }

    #[test]
    fn the_exit_status_is_0_only_when_nothing_is_left() {
        let mut totals = Totals::default();
        totals.add(&archived("a", 3));
        assert_eq!(totals.exit_status(false), 0);
        totals.add(&ObjectReport::new("b", Status::DryRun));
        assert_eq!(
            totals.exit_status(true),
            0,
            "a dry run leaves objects by design"
        );
        assert_eq!(totals.kept, 0, "nor counts them kept");
        totals.add(&ObjectReport::new("c", Status::Kept));
        assert_eq!(totals.exit_status(false), 1);
        let mut listing_failed = Totals {
            source_errors: 1,
            ..Totals::default()
        };
        assert_eq!(listing_failed.exit_status(false), 1);
        listing_failed.source_errors = 0;
        assert_eq!(listing_failed.exit_status(false), 0);
    }

    #[test]
    fn json_lines_carry_a_type_and_leave_out_what_does_not_apply() {
        let moved = ObjectReport {
            moved_to: Some("s3://b/redriven/k".into()),
            ..archived("s3://b/k", 3)
        };
        let line: Value = serde_json::from_str(&JsonLine::Object(&moved).to_line()).unwrap();
        assert_eq!(
            line,
            json!({"type": "object", "object": "s3://b/k", "status": "done", "archived": 3,
                   "newer_kept": 0, "skipped": 0, "failed": [], "moved_to": "s3://b/redriven/k"})
        );
        let kept = ObjectReport {
            failed: vec![failed("9")],
            ..ObjectReport::new("k", Status::Kept)
        };
        let line: Value = serde_json::from_str(&JsonLine::Object(&kept).to_line()).unwrap();
        assert_eq!(
            line["failed"],
            json!([{"sequence_number": "9", "reason": "throttled"}])
        );
        let mut totals = Totals::default();
        totals.add(&moved);
        let summary = crate::operator::output::SummaryLine::Summary {
            totals: &totals,
            dry_run: false,
            seconds: 0.5,
            exit_status: totals.exit_status(false),
        };
        let line: Value = serde_json::from_str(&summary.to_line()).unwrap();
        assert_eq!(line["type"], "summary");
        assert_eq!(line["objects"], 1);
        assert_eq!(line["archived"], 3);
        assert_eq!(line["exit_status"], 0);
        let error = JsonLine::SourceError {
            source: "s3://b/".into(),
            error: "access denied",
        };
        assert_eq!(
            serde_json::from_str::<Value>(&error.to_line()).unwrap(),
            json!({"type": "source_error", "source": "s3://b/", "error": "access denied"})
        );
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_not_said_to_be_kept() {
        let missing = ObjectReport::absent("x.json", "No such file or directory (os error 2)");
        assert_eq!(
            missing.line(),
            "x.json: error: cannot be read: No such file or directory (os error 2)"
        );
        let mut totals = Totals::default();
        totals.add(&missing);
        assert_eq!(
            totals.line(false, 0.0),
            "summary: 1 object (0 done, 0 kept, 1 unreadable); 0 records archived, 0 skipped, 0 failed; 0.0 s"
        );
        assert_eq!(totals.exit_status(false), 1, "still something to look at");
    }
}
