//! What became of one batch: the counts, the failures and the response to Lambda. Read by the
//! handler (the response, the logs) and by the metrics.

use std::time::Duration;

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::archive::project::DroppedAdditions;

/// The result of one batch; `failed` holds every selected record that was not archived.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    pub received: usize,
    pub selected: usize,
    pub skipped: usize,
    /// Of `skipped`: other Regions' TTL deletions, arriving by replication (global tables).
    pub replicated: usize,
    pub archived: usize,
    /// Of `archived`: records the archive already held at the same or a newer version (replays).
    pub newer_kept: usize,
    /// Sequence numbers with the reason, ascending.
    pub failed: Vec<(String, String)>,
    /// Records archived without some of the archiver's own attributes (version, expiry,
    /// archived-at): with them the item would exceed 400 KB. Written records only.
    pub additions_dropped: Vec<(String, DroppedAdditions)>,
    pub requests: u32,
    pub retries: u32,
    pub duration: Duration,
}

impl BatchOutcome {
    pub fn response(&self) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = self
            .failed
            .iter()
            .map(|(seq, _)| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(seq.clone());
                failure
            })
            .collect();
        response
    }
}
