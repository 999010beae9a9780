//! One invocation: select TTL deletions, project, plan, write, and account for every record.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::LambdaEvent;
use tokio::time::Instant;

use crate::archive::batch::compare_sequence_numbers;
use crate::archive::plan::{plan_batch, BatchError, BatchPlan, StreamBatch};
use crate::archive::project::{DroppedAdditions, Projection};
use crate::aws::writer::{ArchiveWriter, RetryPolicy, WriteMode};
use crate::lambda::config::Config;
use crate::lambda::metrics;
use crate::lambda::outcome::BatchOutcome;

/// Everything an invocation needs, built once at init.
#[derive(Debug, Clone)]
pub struct Archiver {
    projection: Projection,
    writer: ArchiveWriter,
    metrics_namespace: String,
    deadline_margin: Duration,
}

impl Archiver {
    pub fn new(config: &Config, client: aws_sdk_dynamodb::Client) -> Self {
        Self::with_retry_policy(config, client, RetryPolicy::default())
    }

    pub fn with_retry_policy(
        config: &Config,
        client: aws_sdk_dynamodb::Client,
        retry: RetryPolicy,
    ) -> Self {
        // A global archive is written from every Region, where the order of one shard says
        // nothing: each put must check that it is newer (docs/global-tables.md).
        let mode = match config.global_archive {
            true => WriteMode::IfNewer,
            false => WriteMode::Batch,
        };
        let projection = Projection::from(config);
        let writer = ArchiveWriter::new(
            client,
            &config.table_name,
            &config.version_attribute,
            config.max_concurrency,
            retry,
        )
        .with_mode(mode)
        .with_stamps(
            projection
                .archive_expiry
                .as_ref()
                .map(|expiry| expiry.attribute.as_str()),
            projection.archived_at_attribute.as_deref(),
        );
        Archiver {
            projection,
            writer,
            metrics_namespace: config.metrics_namespace.clone(),
            deadline_margin: config.deadline_margin,
        }
    }

    /// Replays (the redrive) write with [`WriteMode::IfNewer`]; the function with the default.
    pub fn with_write_mode(mut self, mode: WriteMode) -> Self {
        self.writer = self.writer.with_mode(mode);
        self
    }

    /// Converts Lambda's deadline (epoch milliseconds) into the instant writing must stop.
    pub fn stop_writing_at(&self, deadline_ms: u64) -> Instant {
        Instant::now()
            + remaining_time(deadline_ms, epoch_ms()).saturating_sub(self.deadline_margin)
    }

    /// What `process` would write for `batch`, without writing (the redrive's dry run).
    pub fn plan(&self, batch: StreamBatch) -> Result<BatchPlan, BatchError> {
        plan_batch(&self.projection, batch, epoch_ms() / 1000)
    }

    /// The redrive's check before its first object: the archive table exists and these
    /// credentials may put items in it.
    #[cfg(feature = "operator")]
    pub async fn check_archive_table(&self, stop_at: Instant) -> Result<(), String> {
        self.writer.check_table(stop_at).await
    }

    /// What a replay of each group would find in the archive (the redrive's dry run).
    #[cfg(feature = "operator")]
    pub async fn replayed(
        &self,
        groups: &[crate::archive::batch::WriteGroup],
        stop_at: Instant,
    ) -> Vec<crate::archive::archived::Replayed> {
        self.writer.replayed(groups, stop_at).await
    }

    /// Processes one batch; every selected record ends archived or in `failed`.
    pub async fn process(
        &self,
        batch: StreamBatch,
        stop_at: Instant,
    ) -> Result<BatchOutcome, BatchError> {
        let started = std::time::Instant::now();
        let plan = plan_batch(&self.projection, batch, epoch_ms() / 1000)?;
        let report = self.writer.write(plan.chunks, stop_at).await;
        let mut additions_dropped = plan.additions_dropped;
        // An item sent again with fewer went without what the writer says, whatever the plan had.
        for (seq, dropped) in report.stripped {
            additions_dropped.retain(|(planned, _)| *planned != seq);
            additions_dropped.push((seq, dropped));
        }
        // Only what was written went in without the archiver's attributes: not what failed, nor
        // what the archive held at a newer version.
        let something_unwritten = !report.failed.is_empty() || !report.newer_in_archive.is_empty();
        if !additions_dropped.is_empty() && something_unwritten {
            let not_written: HashSet<&str> = report
                .failed
                .iter()
                .map(|(seq, _)| seq.as_str())
                .chain(report.newer_in_archive.iter().map(String::as_str))
                .collect();
            additions_dropped.retain(|(seq, _)| !not_written.contains(seq.as_str()));
        }
        let mut failed = plan.failed;
        failed.extend(
            report
                .failed
                .into_iter()
                .map(|(seq, err)| (seq, err.to_string())),
        );
        failed.sort_by(|a, b| compare_sequence_numbers(&a.0, &b.0));
        Ok(BatchOutcome {
            received: plan.received,
            selected: plan.selected,
            skipped: plan.skipped,
            replicated: plan.replicated,
            archived: report.archived,
            newer_kept: report.newer_kept,
            failed,
            additions_dropped,
            requests: report.requests,
            retries: report.retries,
            duration: started.elapsed(),
        })
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Deadlines below this (September 2001) cannot be epoch milliseconds.
const EARLIEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;

/// Time left before `deadline_ms`. Lambda sends epoch milliseconds; cargo lambda's emulator sends
/// the timeout itself (600000), which is read as such rather than as a deadline long past.
fn remaining_time(deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms < EARLIEST_EPOCH_DEADLINE_MS {
        Duration::from_millis(deadline_ms)
    } else {
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    }
}

/// Sequence numbers per warning line: a batch of 10,000 failures must not spend the deadline
/// margin writing 10,000 lines.
const SEQUENCE_NUMBERS_PER_LINE: usize = 100;

/// One warning per reason (and per hundred records), naming the sequence numbers.
fn log_failures(failed: &[(String, String)]) {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (seq, reason) in failed {
        by_reason.entry(reason).or_default().push(seq);
    }
    for (reason, seqs) in by_reason {
        for part in seqs.chunks(SEQUENCE_NUMBERS_PER_LINE) {
            tracing::warn!(
                records = part.len(),
                sequence_numbers = %part.join(","),
                error = %reason,
                "records not archived; reported in batchItemFailures"
            );
        }
    }
}

/// One line per batch (and kind) for the items archived without some of the archiver's
/// attributes.
fn log_additions_dropped(dropped: &[(String, DroppedAdditions)]) {
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (seq, which) in dropped {
        by_kind.entry(which.describe()).or_default().push(seq);
    }
    for (without, seqs) in by_kind {
        for part in seqs.chunks(SEQUENCE_NUMBERS_PER_LINE) {
            tracing::warn!(
                records = part.len(),
                sequence_numbers = %part.join(","),
                "archived {without}: with them the item would exceed 400 KB"
            );
        }
    }
}

/// The Lambda entry point: one batch in, the partial batch response out.
pub async fn function_handler(
    archiver: &Archiver,
    event: LambdaEvent<StreamBatch>,
) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
    let stop_at = archiver.stop_writing_at(event.context.deadline);
    let outcome = archiver.process(event.payload, stop_at).await?;
    log_failures(&outcome.failed);
    log_additions_dropped(&outcome.additions_dropped);
    tracing::info!(
        received = outcome.received,
        selected = outcome.selected,
        skipped = outcome.skipped,
        replicated_ttl_deletions = outcome.replicated,
        archived = outcome.archived,
        failed = outcome.failed.len(),
        requests = outcome.requests,
        retried_requests = outcome.retries,
        duration_ms = outcome.duration.as_millis() as u64,
        "batch processed"
    );
    metrics::emit(
        &archiver.metrics_namespace,
        &event.context.env_config.function_name,
        &outcome,
    );
    Ok(outcome.response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_000_000_000;

    #[test]
    fn remaining_time_counts_down_to_an_epoch_deadline() {
        assert_eq!(remaining_time(NOW + 3_000, NOW), Duration::from_secs(3));
        assert_eq!(remaining_time(NOW - 5, NOW), Duration::ZERO);
    }

    #[test]
    fn a_relative_deadline_is_read_as_a_timeout() {
        assert_eq!(remaining_time(600_000, NOW), Duration::from_secs(600));
    }
}
