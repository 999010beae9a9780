//! Planning one batch without touching AWS: decode each record, select TTL deletions, project
//! them, and group the items into the requests to send. Pure, so it can be measured alone.

use aws_lambda_events::event::dynamodb::UserIdentity;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::archive::batch::{chunk, dedupe, WriteGroup, MAX_ITEMS_PER_REQUEST, MAX_REQUEST_BYTES};
use crate::archive::project::{DroppedAdditions, Projection};
use crate::archive::record::Record;
use crate::archive::select::{is_replicated_ttl_deletion, is_ttl_removal, is_ttl_removal_parts};
use crate::RecordError;

/// The stream event, with each record kept raw until it is read on its own: one malformed record
/// must fail alone, not take the whole batch (and every good record in it) down with it.
#[derive(Debug, Deserialize)]
pub struct StreamBatch {
    #[serde(rename = "Records")]
    pub records: Vec<Box<RawValue>>,
}

impl StreamBatch {
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// A fault that stops the whole invocation: Lambda then retries (and bisects) the batch.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("record {index} may be a TTL deletion but has no SequenceNumber to report it by")]
    Unidentifiable { index: usize },
}

/// What to write for a batch, and what is already known not to be archivable.
#[derive(Debug, Default)]
pub struct BatchPlan {
    pub received: usize,
    pub selected: usize,
    pub skipped: usize,
    /// Of `skipped`: other Regions' TTL deletions, arriving by replication (see `select`).
    pub replicated: usize,
    /// Selected records that cannot be archived: sequence number and reason.
    pub failed: Vec<(String, String)>,
    /// Records whose item goes without some of the archiver's own attributes, which would have
    /// taken it over 400 KB, and which (the items to write: a record a newer one of its key
    /// replaced is not among them).
    pub additions_dropped: Vec<(String, DroppedAdditions)>,
    /// BatchWriteItem requests, one key at most once across all of them.
    pub chunks: Vec<Vec<WriteGroup>>,
}

/// Plans one batch; `archived_at` is epoch seconds.
pub fn plan_batch(
    projection: &Projection,
    batch: StreamBatch,
    archived_at: u64,
) -> Result<BatchPlan, BatchError> {
    let mut plan = BatchPlan {
        received: batch.records.len(),
        ..Default::default()
    };
    let mut items = Vec::with_capacity(batch.records.len());
    for (index, raw) in batch.records.iter().enumerate() {
        let record: Record = match serde_json::from_str(raw.get()) {
            Ok(record) => record,
            Err(_) => {
                match probe_malformed(raw) {
                    Probe::NotTtl => plan.skipped += 1,
                    Probe::MaybeTtl(Some(seq)) => {
                        plan.selected += 1;
                        plan.failed
                            .push((seq, RecordError::malformed(raw.get()).to_string()));
                    }
                    Probe::MaybeTtl(None) => return Err(BatchError::Unidentifiable { index }),
                }
                continue;
            }
        };
        if !is_ttl_removal(&record) {
            plan.skipped += 1;
            if is_replicated_ttl_deletion(&record, projection.ttl_attribute.as_deref()) {
                plan.replicated += 1;
            }
            continue;
        }
        plan.selected += 1;
        let Some(seq) = record
            .change
            .sequence_number
            .clone()
            .filter(|s| !s.is_empty())
        else {
            return Err(BatchError::Unidentifiable { index });
        };
        match projection.project(seq.clone(), record.change, archived_at, raw.get().len()) {
            Ok(item) => items.push(item),
            Err(err) => plan.failed.push((seq, err.to_string())),
        }
    }
    drop(batch);
    plan.chunks = chunk(dedupe(items), MAX_ITEMS_PER_REQUEST, MAX_REQUEST_BYTES);
    // The items that will be written, not those a newer record of the same key replaced.
    plan.additions_dropped = plan
        .chunks
        .iter()
        .flatten()
        .filter(|group| group.item.dropped.any())
        .map(|group| (group.item.sequence_number.clone(), group.item.dropped))
        .collect();
    Ok(plan)
}

enum Probe {
    NotTtl,
    MaybeTtl(Option<String>),
}

/// Reads what can be read of a record that failed to deserialise: whether it claims to be a TTL
/// deletion, and its sequence number. When in doubt it is treated as one.
fn probe_malformed(raw: &RawValue) -> Probe {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(raw.get()) else {
        return Probe::MaybeTtl(None);
    };
    let not_ttl = match (
        value.get("eventName").and_then(|v| v.as_str()),
        value.get("userIdentity"),
    ) {
        (Some(name), _) if name != "REMOVE" => true,
        // A delete by a user or an application carries no identity.
        (Some(_), None | Some(serde_json::Value::Null)) => true,
        (Some(name), Some(identity)) => serde_json::from_value::<UserIdentity>(identity.clone())
            .is_ok_and(|identity| !is_ttl_removal_parts(name, Some(&identity))),
        (None, _) => false,
    };
    if not_ttl {
        return Probe::NotTtl;
    }
    let seq = value
        .pointer("/dynamodb/SequenceNumber")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Probe::MaybeTtl(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(json: &str) -> Option<Option<String>> {
        match probe_malformed(&RawValue::from_string(json.to_owned()).unwrap()) {
            Probe::NotTtl => None,
            Probe::MaybeTtl(seq) => Some(seq),
        }
    }

    const TTL: &str = r#"{"type":"Service","principalId":"dynamodb.amazonaws.com"}"#;

    #[test]
    fn malformed_records_that_are_clearly_not_ttl_deletions_are_skipped() {
        assert_eq!(
            probe(r#"{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1"}}"#),
            None
        );
        assert_eq!(
            probe(r#"{"eventName":"REMOVE","dynamodb":{"SequenceNumber":"1"}}"#),
            None
        );
        let other = r#"{"eventName":"REMOVE","userIdentity":{"type":"Service","principalId":"x.amazonaws.com"}}"#;
        assert_eq!(probe(other), None);
    }

    #[test]
    fn malformed_records_that_may_be_ttl_deletions_are_reported_by_sequence_number() {
        let ttl = format!(
            r#"{{"eventName":"REMOVE","userIdentity":{TTL},"dynamodb":{{"SequenceNumber":"7"}}}}"#
        );
        assert_eq!(probe(&ttl), Some(Some("7".into())));
        let odd_identity =
            r#"{"eventName":"REMOVE","userIdentity":42,"dynamodb":{"SequenceNumber":"8"}}"#;
        assert_eq!(probe(odd_identity), Some(Some("8".into())));
        assert_eq!(
            probe(r#"{"dynamodb":{"SequenceNumber":"9"}}"#),
            Some(Some("9".into()))
        );
        assert_eq!(probe(r#"{"eventName":"REMOVE","userIdentity":{}}"#), None);
        assert_eq!(
            probe(&format!(r#"{{"eventName":"REMOVE","userIdentity":{TTL}}}"#)),
            Some(None)
        );
    }
}

#[cfg(test)]
mod malformed_tests {
    use super::*;

    #[test]
    fn a_malformed_record_is_reported_with_the_path_that_failed() {
        let event = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/events/malformed-record.json"
        ))
        .unwrap();
        let plan = plan_batch(
            &Projection::default(),
            StreamBatch::from_json(&event).unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(plan.failed.len(), 1);
        let (seq, why) = &plan.failed[0];
        assert_eq!(seq, "1000000000000000000200");
        assert_eq!(
            why,
            "the record is not a valid DynamoDB stream record: data error at dynamodb.OldImage.Avatar.B (column 11)"
        );
        assert!(!why.contains("base64!!"), "no value quoted: {why}");
    }
}
