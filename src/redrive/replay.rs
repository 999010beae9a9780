//! Archives the batch held by one object, with the function's selection, projection and writing.
//! Knows nothing of S3: it takes the object's bytes and says what became of its records.

use std::time::{Duration, UNIX_EPOCH};

use tokio::time::Instant;

use crate::archive::archived::Replayed;
use crate::archive::batch::{compare_sequence_numbers, WriteGroup};
use crate::archive::failed_batch::{read_failed_batch, FailedBatch};
use crate::archive::plan::StreamBatch;
use crate::aws::writer::WriteMode;
use crate::lambda::handler::Archiver;
use crate::operator::output::key_json;
use crate::redrive::report::{FailedRecord, ObjectReport, RecordVerdict, Status, Verdict};

#[derive(Debug)]
pub struct Replay {
    archiver: Archiver,
    dry_run: bool,
    /// Each object's deadline, retries included, counted from when its archiving starts.
    timeout: Duration,
    /// Why the archive table cannot be written (its check failed): a dry run then reads
    /// nothing and finds every record unarchivable for that reason.
    table_problem: Option<String>,
}

impl Replay {
    pub fn new(archiver: Archiver, dry_run: bool, timeout: Duration) -> Self {
        Replay {
            // The shard moved on after these batches failed: write only over older versions.
            archiver: archiver.with_write_mode(WriteMode::IfNewer),
            dry_run,
            timeout,
            table_problem: None,
        }
    }

    pub fn with_table_problem(mut self, problem: Option<String>) -> Self {
        self.table_problem = problem;
        self
    }

    /// Archives `bytes`' batch (a dry run: says what it would do). `Done` means every record is
    /// archived; marking the object done (moving or deleting it) is the caller's step.
    pub async fn object(&self, name: &str, bytes: &[u8]) -> ObjectReport {
        let FailedBatch { batch, parked } = match read_failed_batch(bytes) {
            Ok(read) => read,
            Err(err) => return ObjectReport::unreadable(name, err.to_string()),
        };
        let mut report = if self.dry_run {
            self.dry_run(name, batch).await
        } else {
            self.archive(name, batch).await
        };
        report.parked = parked;
        report
    }

    async fn archive(&self, name: &str, batch: StreamBatch) -> ObjectReport {
        match self
            .archiver
            .process(batch, Instant::now() + self.timeout)
            .await
        {
            Ok(outcome) => {
                let status = if outcome.failed.is_empty() {
                    Status::Done
                } else {
                    Status::Kept
                };
                ObjectReport {
                    archived: outcome.archived,
                    newer_kept: outcome.newer_kept,
                    skipped: outcome.skipped,
                    failed: failed_records(outcome.failed),
                    ..ObjectReport::new(name, status)
                }
            }
            Err(err) => ObjectReport::unreadable(name, err.to_string()),
        }
    }

    /// What `archive` would do, record by record, reading the archive and writing nothing.
    async fn dry_run(&self, name: &str, batch: StreamBatch) -> ObjectReport {
        let plan = match self.archiver.plan(batch) {
            Ok(plan) => plan,
            Err(err) => return ObjectReport::unreadable(name, err.to_string()),
        };
        let groups: Vec<WriteGroup> = plan.chunks.into_iter().flatten().collect();
        let verdicts = match &self.table_problem {
            Some(problem) => vec![Replayed::Cannot(problem.clone()); groups.len()],
            None => {
                self.archiver
                    .replayed(&groups, Instant::now() + self.timeout)
                    .await
            }
        };
        let mut report = ObjectReport {
            skipped: plan.skipped,
            ..ObjectReport::new(name, Status::DryRun)
        };
        let (mut would_archive, mut already, mut newer) = (Vec::new(), 0, 0);
        let mut records = Vec::new();
        for (group, replayed) in groups.iter().zip(verdicts) {
            let (verdict, reason) = match replayed {
                Replayed::WouldArchive => (Verdict::WouldArchive, None),
                Replayed::AlreadyArchived => (Verdict::AlreadyArchived, None),
                Replayed::NewerArchived => (Verdict::NewerArchived, None),
                Replayed::Cannot(why) => (Verdict::CannotArchive, Some(why)),
            };
            let key = group.key_attributes();
            let latest = &group.item.sequence_number;
            for seq in group.sequence_numbers() {
                match verdict {
                    Verdict::WouldArchive => would_archive.push(seq.to_owned()),
                    Verdict::AlreadyArchived => already += 1,
                    Verdict::NewerArchived => newer += 1,
                    _ => report.failed.push(FailedRecord {
                        sequence_number: seq.to_owned(),
                        reason: reason.clone().unwrap_or_default(),
                    }),
                }
                let own = seq == latest;
                records.push(RecordVerdict {
                    sequence_number: seq.to_owned(),
                    key: Some(key_json(&key)),
                    deleted_at: own.then(|| deletion_time(group.item.version.seconds())),
                    superseded_by: (!own).then(|| latest.clone()),
                    verdict,
                    reason: reason.clone(),
                });
            }
        }
        for (sequence_number, reason) in plan.failed {
            records.push(RecordVerdict {
                sequence_number: sequence_number.clone(),
                key: None,
                deleted_at: None,
                superseded_by: None,
                verdict: Verdict::CannotArchive,
                reason: Some(reason.clone()),
            });
            report.failed.push(FailedRecord {
                sequence_number,
                reason,
            });
        }
        records.sort_by(|a, b| compare_sequence_numbers(&a.sequence_number, &b.sequence_number));
        report
            .failed
            .sort_by(|a, b| compare_sequence_numbers(&a.sequence_number, &b.sequence_number));
        ObjectReport {
            would_archive: Some(would_archive),
            already_archived: Some(already),
            newer_archived: Some(newer),
            records,
            ..report
        }
    }
}

/// Epoch seconds as RFC 3339, to the second.
fn deletion_time(seconds: u32) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(u64::from(seconds)))
        .to_string()
}

fn failed_records(failed: Vec<(String, String)>) -> Vec<FailedRecord> {
    failed
        .into_iter()
        .map(|(sequence_number, reason)| FailedRecord {
            sequence_number,
            reason,
        })
        .collect()
}
