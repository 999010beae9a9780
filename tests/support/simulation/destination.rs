//! The mapping's S3 on-failure destination, as Lambda's "Retaining discarded batches" page
//! (docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html) and shared/FACTS.md
//! describe it: one object per discarded batch, keyed
//! `aws/lambda/<mapping UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`, holding the
//! invocation's metadata and, for S3 only, the whole invocation `payload`.

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};

pub const MAPPING_UUID: &str = "5e1d7c3a-0000-4000-8000-00000000e5a1";

pub struct Destination {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

/// A parked batch: its records' JSON, in order, and where and why it was discarded.
pub struct Discarded<'a> {
    pub records: Vec<&'a str>,
    pub first_sequence_number: &'a str,
    pub last_sequence_number: &'a str,
    pub shard_id: &'a str,
    pub condition: &'static str,
    pub invoke_count: u32,
    pub at: u64,
    /// Distinguishes objects written in the same second.
    pub serial: usize,
}

impl Destination {
    pub async fn create(s3: aws_sdk_s3::Client, bucket: &str) -> Self {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
        Destination {
            s3,
            bucket: bucket.to_owned(),
        }
    }

    pub async fn put(&self, batch: &Discarded<'_>) {
        let at = DateTime::from_secs(batch.at as i64)
            .fmt(Format::DateTime)
            .unwrap();
        // "2026-11-30T10:00:00Z" -> 2026/11/30 and 2026-11-30T10.00.00
        let (day, time) = at.trim_end_matches('Z').split_once('T').unwrap();
        let key = format!(
            "aws/lambda/{MAPPING_UUID}/{}/{}/{day}T{}-{:08x}-0000-4000-8000-{:012x}",
            batch.shard_id,
            day.replace('-', "/"),
            time.replace(':', "."),
            batch.serial,
            batch.at
        );
        let payload: Value =
            serde_json::from_str(&format!(r#"{{"Records":[{}]}}"#, batch.records.join(",")))
                .unwrap();
        let record = json!({
            "requestContext": {
                "requestId": format!("{:08x}-0000-4000-8000-000000000000", batch.serial),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ttl-archiver",
                "condition": batch.condition,
                "approximateInvokeCount": batch.invoke_count
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": at,
            "DDBStreamBatchInfo": {
                "shardId": batch.shard_id,
                "startSequenceNumber": batch.first_sequence_number,
                "endSequenceNumber": batch.last_sequence_number,
                "approximateArrivalOfFirstRecord": at,
                "approximateArrivalOfLastRecord": at,
                "batchSize": batch.records.len(),
                "streamArn": super::workload::STREAM_ARN
            },
            "payload": payload
        });
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(record.to_string().into_bytes()))
            .send()
            .await
            .expect("put the discarded batch");
    }

    /// The sequence numbers of the records in the objects still waiting under `aws/lambda/`.
    pub async fn kept_sequence_numbers(&self) -> Vec<String> {
        let mut kept = Vec::new();
        for key in self.keys("aws/lambda/").await {
            let object = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
            let bytes = object.body.collect().await.unwrap().into_bytes();
            let record: Value = serde_json::from_slice(&bytes).unwrap();
            for r in record["payload"]["Records"].as_array().unwrap() {
                kept.push(r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned());
            }
        }
        kept
    }

    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return keys;
            }
        }
    }
}
