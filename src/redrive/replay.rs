//! Archives the batch held by one object, with the function's selection, projection and writing.
//! Knows nothing of S3: it takes the object's bytes and says what became of its records.

use std::time::Duration;

use tokio::time::Instant;

use crate::archive::failed_batch::read_failed_batch;
use crate::aws::writer::WriteMode;
use crate::lambda::handler::Archiver;
use crate::redrive::report::{FailedRecord, ObjectReport, Status};

#[derive(Debug)]
pub struct Replay {
    archiver: Archiver,
    dry_run: bool,
    /// Each object's deadline, retries included, counted from when its archiving starts.
    timeout: Duration,
}

impl Replay {
    pub fn new(archiver: Archiver, dry_run: bool, timeout: Duration) -> Self {
        Replay {
            // The shard moved on after these batches failed: write only over older versions.
            archiver: archiver.with_write_mode(WriteMode::IfNewer),
            dry_run,
            timeout,
        }
    }

    /// Archives `bytes`' batch. `Done` means every record is archived; marking the object done
    /// (moving or deleting it) is the caller's step.
    pub async fn object(&self, name: &str, bytes: &[u8]) -> ObjectReport {
        let batch = match read_failed_batch(bytes) {
            Ok(batch) => batch,
            Err(err) => return ObjectReport::unreadable(name, err.to_string()),
        };
        if self.dry_run {
            return match self.archiver.plan(batch) {
                Ok(plan) => ObjectReport {
                    would_archive: Some(
                        plan.chunks
                            .iter()
                            .flatten()
                            .flat_map(|group| group.sequence_numbers())
                            .map(str::to_owned)
                            .collect(),
                    ),
                    skipped: plan.skipped,
                    failed: failed_records(plan.failed),
                    ..ObjectReport::new(name, Status::DryRun)
                },
                Err(err) => ObjectReport::unreadable(name, err.to_string()),
            };
        }
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
