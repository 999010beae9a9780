//! Reading a batch back from the event source mapping's S3 on-failure destination. Pure.
//!
//! AWS documents the object as an invocation record: `requestContext`, `responseContext`,
//! `version`, `timestamp`, `DDBStreamBatchInfo` (shard and sequence-number range) and, for S3
//! destinations only, `payload`: the whole invocation event. Its page shows `payload` as a
//! placeholder string, so both an embedded object and a JSON string are accepted. A plain stream
//! event (`{"Records": [...]}`, as in `events/`) is accepted too.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::archive::plan::StreamBatch;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FailedBatchError {
    #[error("not JSON ({category} error at line {line}, column {column})")]
    NotJson {
        category: String,
        line: usize,
        column: usize,
    },
    #[error("an invocation record without `payload` (the SQS/SNS shape): only an S3 destination keeps the records")]
    NoPayload,
    #[error("`payload` is not a stream event with Records")]
    PayloadNotAnEvent,
    #[error("neither an invocation record nor a stream event with Records")]
    NotABatch,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Records")]
    records: Option<Vec<Box<RawValue>>>,
    payload: Option<Box<RawValue>>,
    #[serde(rename = "DDBStreamBatchInfo")]
    batch_info: Option<Box<RawValue>>,
    #[serde(rename = "requestContext")]
    request_context: Option<RequestContext>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    condition: Option<String>,
    approximate_invoke_count: Option<u64>,
}

/// Why Lambda parked the batch, as its invocation record says (`requestContext`): AWS's example
/// names `RetryAttemptsExhausted`; a batch whose records grew older than
/// `MaximumRecordAgeInSeconds` carries another condition, shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Parked {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocations: Option<u64>,
    /// When Lambda parked it (the record's `timestamp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Parked {
    /// `RetryAttemptsExhausted after 11 invocations, 2026-11-24T10:00:00.000Z`.
    pub fn describe(&self) -> String {
        let mut text = self
            .condition
            .clone()
            .unwrap_or_else(|| "no condition given".into());
        if let Some(n) = self.invocations {
            text.push_str(&format!(" after {n} invocations"));
        }
        if let Some(at) = &self.at {
            text.push_str(&format!(", {at}"));
        }
        text
    }
}

/// A failed-batch object's batch, and why it was parked (`None` for a plain stream event).
#[derive(Debug)]
pub struct FailedBatch {
    pub batch: StreamBatch,
    pub parked: Option<Parked>,
}

/// The stream batch held by a failed-batch object or an event file.
pub fn read_failed_batch(bytes: &[u8]) -> Result<FailedBatch, FailedBatchError> {
    let not_json = |err: serde_json::Error| FailedBatchError::NotJson {
        category: format!("{:?}", err.classify()).to_lowercase(),
        line: err.line(),
        column: err.column(),
    };
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(not_json)?;
    if let Some(records) = envelope.records {
        return Ok(FailedBatch {
            batch: StreamBatch { records },
            parked: None,
        });
    }
    let parked = envelope.request_context.map(|context| Parked {
        condition: context.condition,
        invocations: context.approximate_invoke_count,
        at: envelope.timestamp,
    });
    let Some(payload) = envelope.payload else {
        return Err(if envelope.batch_info.is_some() {
            FailedBatchError::NoPayload
        } else {
            FailedBatchError::NotABatch
        });
    };
    let event = match serde_json::from_str::<String>(payload.get()) {
        Ok(text) => StreamBatch::from_json(&text),
        Err(_) => StreamBatch::from_json(payload.get()),
    };
    let batch = event.map_err(|_| FailedBatchError::PayloadNotAnEvent)?;
    Ok(FailedBatch { batch, parked })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"Records":[{"eventName":"REMOVE"},{"eventName":"INSERT"}]}"#;

    fn record(payload: serde_json::Value) -> Vec<u8> {
        serde_json::json!({
            "requestContext": {"requestId": "r", "functionArn": "arn", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-11-24T10:00:00.000Z",
            "DDBStreamBatchInfo": {"shardId": "shardId-1", "startSequenceNumber": "100", "endSequenceNumber": "200", "batchSize": 2},
            "payload": payload
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn invocation_record_with_embedded_payload() {
        let read = read_failed_batch(&record(serde_json::from_str(EVENT).unwrap())).unwrap();
        assert_eq!(read.batch.records.len(), 2);
        assert_eq!(
            read.parked.unwrap().describe(),
            "RetryAttemptsExhausted after 11 invocations, 2026-11-24T10:00:00.000Z"
        );
    }

    #[test]
    fn invocation_record_with_payload_as_a_json_string() {
        let read = read_failed_batch(&record(serde_json::Value::String(EVENT.into()))).unwrap();
        assert_eq!(read.batch.records.len(), 2);
    }

    #[test]
    fn plain_stream_event() {
        assert_eq!(
            read_failed_batch(EVENT.as_bytes())
                .unwrap()
                .batch
                .records
                .len(),
            2
        );
    }

    #[test]
    fn metadata_only_record_is_explained() {
        let mut bytes: serde_json::Value =
            serde_json::from_slice(&record(serde_json::Value::Null)).unwrap();
        bytes.as_object_mut().unwrap().remove("payload");
        let err = read_failed_batch(bytes.to_string().as_bytes()).unwrap_err();
        assert_eq!(err, FailedBatchError::NoPayload);
    }

    #[test]
    fn not_json_and_not_a_batch() {
        assert!(matches!(
            read_failed_batch(b"PK,ExpirationTime\n"),
            Err(FailedBatchError::NotJson { .. })
        ));
        assert_eq!(
            read_failed_batch(b"{\"hello\": 1}").unwrap_err(),
            FailedBatchError::NotABatch
        );
        assert_eq!(
            read_failed_batch(&record(serde_json::Value::String("not an event".into())))
                .unwrap_err(),
            FailedBatchError::PayloadNotAnEvent
        );
    }
}
