//! The handler's failure accounting against a faked DynamoDB client (aws-smithy-mocks): every
//! selected record must end archived or in batchItemFailures, whatever DynamoDB answers.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::batch_write_item::{
    BatchWriteItemError, BatchWriteItemInput, BatchWriteItemOutput,
};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, ProvisionedThroughputExceededException,
    ResourceNotFoundException,
};
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use serde_json::json;
use support::config;
use support::items::{keyed_event, keys_of_schema, sessions_event, table_key};
use tokio::time::Instant;
use ttl_archiver::aws::writer::HARD_STOP_SLACK;
use ttl_archiver::{Archiver, BatchOutcome, RetryPolicy, StreamBatch};

type Item = HashMap<String, AttributeValue>;
type Answer = MockResponse<BatchWriteItemOutput, BatchWriteItemError>;

fn event(name: &str) -> StreamBatch {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    StreamBatch::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_attempts: 10,
    }
}

/// The items of a request, which writes one table: the archive (TABLE_NAME=archive).
fn items_of(input: &BatchWriteItemInput) -> Vec<Item> {
    items_for(input, "archive")
}

fn items_for(input: &BatchWriteItemInput, table: &str) -> Vec<Item> {
    let request_items = input.request_items().unwrap();
    assert_eq!(request_items.len(), 1, "one table per request");
    request_items[table]
        .iter()
        .map(|w| w.put_request().unwrap().item().clone())
        .collect()
}

fn ok() -> Answer {
    MockResponse::Output(BatchWriteItemOutput::builder().build())
}

fn unprocessed(items: Vec<Item>) -> Answer {
    unprocessed_in("archive", items)
}

/// UnprocessedItems filed under `table`.
fn unprocessed_in(table: &str, items: Vec<Item>) -> Answer {
    let requests = items
        .into_iter()
        .map(|item| {
            let put = aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(item))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    MockResponse::Output(
        BatchWriteItemOutput::builder()
            .unprocessed_items(table, requests)
            .build(),
    )
}

/// Error metadata as the SDK reads it from a real answer: the code is what the writer decides on.
fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message("injected")
        .build()
}

fn throttled() -> Answer {
    MockResponse::Error(BatchWriteItemError::ProvisionedThroughputExceededException(
        ProvisionedThroughputExceededException::builder()
            .message("slow down")
            .meta(meta("ProvisionedThroughputExceededException"))
            .build(),
    ))
}

fn http(status: u16, error_type: &str) -> Answer {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected"}}"#
    );
    MockResponse::Http(HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body),
    ))
}

/// A client whose answers `respond` computes from each request; every request is recorded.
fn client(
    respond: impl Fn(&[Item]) -> Answer + Send + Sync + 'static,
) -> (Client, Arc<Mutex<Vec<Vec<Item>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let rule = mock!(Client::batch_write_item).then_compute_response(move |input| {
        let items = items_of(input);
        let answer = respond(&items);
        record.lock().unwrap().push(items);
        answer
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    (client, seen)
}

async fn run(archiver: &Archiver, batch: StreamBatch, budget: Duration) -> BatchOutcome {
    archiver
        .process(batch, Instant::now() + budget)
        .await
        .unwrap()
}

fn failed_sequence_numbers(outcome: &BatchOutcome) -> Vec<&str> {
    outcome.failed.iter().map(|(seq, _)| seq.as_str()).collect()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

#[tokio::test]
async fn ttl_batch_is_written_in_one_request_without_the_ttl_attribute() {
    let (client, seen) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(
        &config(&[("TTL_ATTRIBUTE", "ExpirationTime")]),
        client,
        fast_retries(),
    );
    let outcome = run(&archiver, event("ttl-remove.json"), Duration::from_secs(5)).await;
    assert_eq!(
        (outcome.received, outcome.selected, outcome.archived),
        (3, 3, 3)
    );
    assert!(outcome.failed.is_empty());
    assert_eq!(outcome.response().batch_item_failures.len(), 0);
    let requests = seen.lock().unwrap();
    assert_eq!(requests.len(), 1);
    let pks: HashSet<_> = requests[0]
        .iter()
        .map(|i| i["PK"].as_s().unwrap().clone())
        .collect();
    assert_eq!(
        pks,
        ["SESSION#a1f3", "SESSION#b2e4", "SESSION#c3d5"]
            .map(String::from)
            .into()
    );
    assert!(requests[0]
        .iter()
        .all(|i| !i.contains_key("ExpirationTime")));
}

#[tokio::test]
async fn only_ttl_removals_of_a_mixed_batch_are_written() {
    let (client, seen) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(&archiver, event("mixed.json"), Duration::from_secs(5)).await;
    assert_eq!(
        (
            outcome.received,
            outcome.selected,
            outcome.skipped,
            outcome.archived
        ),
        (6, 2, 4, 2)
    );
    let written: HashSet<_> = seen.lock().unwrap()[0]
        .iter()
        .map(|i| i["PK"].as_s().unwrap().clone())
        .collect();
    assert_eq!(
        written,
        ["SESSION#a1f3", "SESSION#b2e4"].map(String::from).into()
    );
}

#[tokio::test]
async fn records_without_old_image_are_reported_and_nothing_is_written() {
    let (client, seen) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(
        &archiver,
        event("no-old-image.json"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        failed_sequence_numbers(&outcome),
        ["1000000000000000000100", "1000000000000000000200"]
    );
    assert!(outcome.failed[0].1.contains("OldImage"));
    assert!(seen.lock().unwrap().is_empty());
    let response = serde_json::to_value(outcome.response()).unwrap();
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "1000000000000000000100"},
            {"itemIdentifier": "1000000000000000000200"}
        ]})
    );
}

#[tokio::test]
async fn latest_version_of_a_composite_key_wins() {
    let (client, seen) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(
        &archiver,
        event("composite-key.json"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!((outcome.selected, outcome.archived), (4, 4));
    let requests = seen.lock().unwrap();
    assert_eq!(requests[0].len(), 3, "one put per key");
    let acme = requests[0]
        .iter()
        .find(|i| i["tenant"] == s("acme") && i["ts"] == AttributeValue::N("1700000000".into()))
        .unwrap();
    assert_eq!(acme["status"], s("CLOSED"));
}

/// 100 sessions, 4 requests: partial UnprocessedItems, a throttle, a permanent error and a
/// clean write, all in one batch.
fn hundred_sessions() -> StreamBatch {
    StreamBatch::from_json(&sessions_event(100)).unwrap()
}

fn first_pk(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| i["PK"].as_s().unwrap().clone())
        .min()
        .unwrap()
}

#[tokio::test]
async fn partial_unprocessed_throttling_and_a_permanent_error_in_one_batch() {
    let calls: Mutex<HashMap<String, u32>> = Mutex::default();
    let (client, seen) = client(move |items| {
        let chunk = first_pk(items);
        let mut calls = calls.lock().unwrap();
        let n = calls.entry(chunk.clone()).or_default();
        *n += 1;
        match (chunk.as_str(), *n) {
            // Chunk 1: ten items left unprocessed once.
            ("SESSION#000000", 1) => unprocessed(items[..10].to_vec()),
            // Chunk 2: throttled twice, then a 500.
            ("SESSION#000025", 1 | 2) => throttled(),
            ("SESSION#000025", 3) => http(500, "InternalServerError"),
            // Chunk 3: the table is gone; retrying will not help.
            ("SESSION#000050", _) => {
                MockResponse::Error(BatchWriteItemError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("no table")
                        .meta(meta("ResourceNotFoundException"))
                        .build(),
                ))
            }
            _ => ok(),
        }
    });
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(&archiver, hundred_sessions(), Duration::from_secs(5)).await;

    let expected: Vec<String> = (50..75)
        .map(|i| (4_000_000_000_000u64 + i).to_string())
        .collect();
    assert_eq!(failed_sequence_numbers(&outcome), expected);
    assert!(
        outcome
            .failed
            .iter()
            .all(|(_, why)| why.contains("ResourceNotFoundException")),
        "{:?}",
        outcome.failed[0]
    );
    assert_eq!(outcome.archived, 75);
    assert_eq!(outcome.selected, outcome.archived + outcome.failed.len());
    // 4 first requests, 1 retry of the unprocessed ten, 3 retries of the throttled chunk.
    assert_eq!(outcome.requests, 8);
    assert_eq!(outcome.retries, 4);
    let requests = seen.lock().unwrap();
    let retry_of_unprocessed = requests
        .iter()
        .filter(|r| first_pk(r) == "SESSION#000000")
        .nth(1)
        .unwrap();
    assert_eq!(
        retry_of_unprocessed.len(),
        10,
        "only the unprocessed items are sent again"
    );
}

#[tokio::test]
async fn endless_throttling_stops_before_the_deadline_and_reports_every_record() {
    let (client, _) = client(|_| throttled());
    let slow_retries = RetryPolicy {
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(80),
        max_attempts: 1000,
    };
    let archiver = Archiver::with_retry_policy(&config(&[]), client, slow_retries);
    let started = Instant::now();
    let outcome = run(&archiver, hundred_sessions(), Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.failed.len(), 100);
    assert!(
        outcome
            .failed
            .iter()
            .all(|(_, why)| why.contains("deadline")),
        "{:?}",
        outcome.failed[0]
    );
    assert!(outcome.retries > 0);
}

#[tokio::test]
async fn retries_are_bounded_by_max_attempts() {
    let (client, seen) = client(|_| http(503, "ServiceUnavailable"));
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(&archiver, event("ttl-remove.json"), Duration::from_secs(10)).await;
    assert_eq!(outcome.failed.len(), 3);
    assert!(
        outcome.failed[0].1.contains("after 10 attempts"),
        "{}",
        outcome.failed[0].1
    );
    assert_eq!(seen.lock().unwrap().len(), 10);
}

#[tokio::test]
async fn a_validation_error_is_narrowed_down_to_the_item_that_caused_it() {
    let (client, _) = client(|items| {
        if items.iter().any(|i| i["PK"] == s("SESSION#000017")) {
            http(400, "ValidationException")
        } else {
            ok()
        }
    });
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(&archiver, hundred_sessions(), Duration::from_secs(5)).await;
    assert_eq!(failed_sequence_numbers(&outcome), ["4000000000017"]);
    assert!(outcome.failed[0].1.contains("ValidationException"));
    assert_eq!(outcome.archived, 99);
}

/// DynamoDB's answer to an item over 400 KB, as it words it (any operation).
fn too_large<O, E>() -> MockResponse<O, E> {
    let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#;
    MockResponse::Http(HttpResponse::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(body),
    ))
}

/// The settings that add all three of the archiver's attributes.
fn stamped_settings() -> ttl_archiver::Config {
    config(&[
        ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
        ("ARCHIVE_RETENTION_DAYS", "30"),
    ])
}

/// The safety net for a size count that differs from DynamoDB's: an item refused as too large
/// with the archiver's attributes is sent once more without them, and counted as such only
/// when that write succeeds.
#[tokio::test]
async fn an_item_refused_as_too_large_goes_once_more_without_the_archiver_s_attributes() {
    let (answering, seen) = client(|items| {
        let refused = items
            .iter()
            .any(|i| i["PK"] == s("SESSION#000017") && i.contains_key("ArchiveVersion"));
        if refused {
            too_large()
        } else {
            ok()
        }
    });
    let settings = stamped_settings();
    let archiver = Archiver::with_retry_policy(&settings, answering, fast_retries());
    let outcome = run(&archiver, hundred_sessions(), Duration::from_secs(5)).await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.archived, 100);
    assert_eq!(outcome.additions_dropped.len(), 1);
    assert_eq!(outcome.additions_dropped[0].0, "4000000000017");
    let written: Vec<Item> = seen.lock().unwrap().iter().flatten().cloned().collect();
    let bare = written
        .iter()
        .rfind(|i| i["PK"] == s("SESSION#000017"))
        .unwrap();
    for added in ["ArchiveVersion", "ArchivedAt", "ArchiveExpiresAt"] {
        assert!(!bare.contains_key(added), "{added} sent again");
    }

    // Refused whatever it holds: it fails, once retried, and is not counted as archived bare.
    let (refusing, seen) = client(|items| {
        if items.iter().any(|i| i["PK"] == s("SESSION#000017")) {
            too_large()
        } else {
            ok()
        }
    });
    let archiver = Archiver::with_retry_policy(&settings, refusing, fast_retries());
    let outcome = run(&archiver, hundred_sessions(), Duration::from_secs(5)).await;
    assert_eq!(failed_sequence_numbers(&outcome), ["4000000000017"]);
    assert!(outcome.failed[0].1.contains("maximum allowed size"));
    assert!(
        outcome.additions_dropped.is_empty(),
        "a failed record is not archived bare"
    );
    let sent_alone = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|request| request.len() == 1 && request[0]["PK"] == s("SESSION#000017"))
        .count();
    assert_eq!(
        sent_alone, 3,
        "alone with the attributes, once without the stamps, once without the version"
    );

    // Refused only with its stamps: the version stays, as near-limit items keep it first.
    let (answering, _) = client(|items| {
        let refused = items
            .iter()
            .any(|i| i["PK"] == s("SESSION#000017") && i.contains_key("ArchivedAt"));
        if refused {
            too_large()
        } else {
            ok()
        }
    });
    let archiver = Archiver::with_retry_policy(&settings, answering, fast_retries());
    let outcome = run(&archiver, hundred_sessions(), Duration::from_secs(5)).await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(
        outcome.additions_dropped,
        [(
            "4000000000017".to_owned(),
            ttl_archiver::archive::project::DroppedAdditions {
                expiry: true,
                archived_at: true,
                ..Default::default()
            }
        )]
    );
}

/// One record near the limit: its image is `MAX - spare` bytes by the tests' own size count.
fn near_the_limit(spare: usize) -> (String, String) {
    near_the_limit_then(spare, 0)
}

/// Like [`near_the_limit`], followed by `later` small deletions of the same key.
fn near_the_limit_then(spare: usize, later: usize) -> (String, String) {
    let keys = vec![json!({"PK": {"S": "big"}}); 1 + later];
    let event = keyed_event(&keys, |_| json!({"Blob": {"S": ""}}));
    let mut event: serde_json::Value = serde_json::from_str(&event).unwrap();
    let image = event["Records"][0]["dynamodb"]["OldImage"]
        .as_object_mut()
        .unwrap();
    let size = support::dynamodb_size::item_size(image);
    let blob = support::dynamodb_size::MAX_ITEM_BYTES - spare - size;
    image.insert("Blob".into(), json!({"S": "x".repeat(blob)}));
    let seq = event["Records"][0]["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    (event.to_string(), seq)
}

#[tokio::test]
async fn an_item_that_kept_its_version_and_is_then_refused_is_counted_once() {
    // 50 spare bytes: the version kept, the stamps dropped; then DynamoDB counts it over.
    let (event, seq) = near_the_limit(50);
    let (client, _) = client(|items| {
        if items.iter().any(|i| i.contains_key("ArchiveVersion")) {
            too_large()
        } else {
            ok()
        }
    });
    let settings = stamped_settings();
    let archiver = Archiver::with_retry_policy(&settings, client, fast_retries());
    let outcome = run(
        &archiver,
        StreamBatch::from_json(&event).unwrap(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(outcome.archived, 1);
    assert_eq!(
        outcome.additions_dropped,
        [(seq, ttl_archiver::archive::project::DroppedAdditions::ALL)],
        "one entry, saying what it went in without"
    );
}

/// A conditional put of key `big` refused, AWS returning the item found: it holds a newer
/// version.
fn refused_with_a_newer_version() -> MockResponse<PutItemOutput, PutItemError> {
    let newer = ttl_archiver::archive::version::archive_version(2_000_000_000, "1").unwrap();
    MockResponse::Error(PutItemError::ConditionalCheckFailedException(
        ConditionalCheckFailedException::builder()
            .item("PK", s("big"))
            .item("ArchiveVersion", newer.attribute_value())
            .meta(meta("ConditionalCheckFailedException"))
            .build(),
    ))
}

/// Only items written count as archived without the archiver's attributes: not one a newer
/// record of its key replaced in the batch, nor one the archive holds at a newer version.
#[tokio::test]
async fn items_not_written_are_not_counted_as_archived_bare() {
    // Replaced by a later, small deletion of the same key.
    let (event, _) = near_the_limit_then(10, 1);
    let (client, _) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(&stamped_settings(), client, fast_retries());
    let outcome = run(
        &archiver,
        StreamBatch::from_json(&event).unwrap(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(outcome.archived, 2);
    assert!(
        outcome.additions_dropped.is_empty(),
        "{:?}",
        outcome.additions_dropped
    );

    // A conditional put refused: the archive holds a newer version.
    let (event, _) = near_the_limit(10);
    let rule =
        mock!(Client::put_item).then_compute_response(move |_| refused_with_a_newer_version());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let archiver = Archiver::with_retry_policy(
        &config(&[("GLOBAL_ARCHIVE", "true")]),
        client,
        fast_retries(),
    );
    let outcome = run(
        &archiver,
        StreamBatch::from_json(&event).unwrap(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!((outcome.archived, outcome.newer_kept), (1, 1));
    assert!(
        outcome.additions_dropped.is_empty(),
        "{:?}",
        outcome.additions_dropped
    );
}

/// A conditional put (a global archive) refused as too large, then, bare, refused because the
/// archive holds a newer version: archived (the newer one is there), but not written bare.
#[tokio::test]
async fn a_bare_retry_that_finds_a_newer_version_is_not_counted_as_archived_bare() {
    let (event, _) = near_the_limit(50);
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let rule = mock!(Client::put_item).then_compute_response(move |_| {
        *counted.lock().unwrap() += 1;
        if *counted.lock().unwrap() == 1 {
            return too_large();
        }
        refused_with_a_newer_version()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let settings = config(&[("GLOBAL_ARCHIVE", "true")]);
    let archiver = Archiver::with_retry_policy(&settings, client, fast_retries());
    let outcome = run(
        &archiver,
        StreamBatch::from_json(&event).unwrap(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(*calls.lock().unwrap(), 2);
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!((outcome.archived, outcome.newer_kept), (1, 1));
    assert!(
        outcome.additions_dropped.is_empty(),
        "nothing was written bare: {:?}",
        outcome.additions_dropped
    );
}

#[tokio::test]
async fn every_chunk_is_sent_once_with_a_concurrency_of_one() {
    let (client, seen) = client(|_| ok());
    let archiver =
        Archiver::with_retry_policy(&config(&[("MAX_CONCURRENCY", "1")]), client, fast_retries());
    let outcome = run(&archiver, hundred_sessions(), Duration::from_secs(5)).await;
    assert_eq!(outcome.archived, 100);
    let requests = seen.lock().unwrap();
    assert_eq!(requests.len(), 4);
    let written: HashSet<_> = requests
        .iter()
        .flatten()
        .map(|i| i["PK"].as_s().unwrap().clone())
        .collect();
    assert_eq!(written.len(), 100);
}

#[tokio::test]
async fn a_malformed_record_fails_alone() {
    let (client, seen) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let outcome = run(
        &archiver,
        event("malformed-record.json"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        failed_sequence_numbers(&outcome),
        ["1000000000000000000200"]
    );
    let why = &outcome.failed[0].1;
    assert!(why.contains("not a valid DynamoDB stream record"), "{why}");
    assert!(
        why.contains("at dynamodb.OldImage.Avatar"),
        "the reason names the attribute: {why}"
    );
    assert!(
        !why.contains("not base64"),
        "the reason must not quote the record: {why}"
    );
    assert_eq!(outcome.archived, 2);
    assert_eq!(seen.lock().unwrap()[0].len(), 2);
}

#[tokio::test]
async fn a_ttl_record_without_sequence_number_fails_the_invocation() {
    let (client, _) = client(|_| ok());
    let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
    let mut batch: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/ttl-remove.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    batch["Records"][1]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("SequenceNumber");
    let batch = StreamBatch::from_json(&batch.to_string()).unwrap();
    let result = archiver
        .process(batch, Instant::now() + Duration::from_secs(5))
        .await;
    assert!(
        result.is_err(),
        "an unreportable TTL record must fail the invocation, not vanish"
    );
}

fn key_of(item: &Item, names: &[&str]) -> String {
    format!("{:?}", names.iter().map(|n| &item[*n]).collect::<Vec<_>>())
}

#[tokio::test]
async fn unprocessed_items_are_matched_by_composite_number_and_binary_keys() {
    for schema in ["SN", "N", "B"] {
        let names: Vec<&str> = table_key(schema).iter().map(|(n, _)| *n).collect();
        let event = keyed_event(&keys_of_schema(schema, 30), |_| json!({}));
        let calls = Mutex::new(0);
        let (client, seen) = client(move |items| {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            if *calls == 1 {
                unprocessed(vec![items[3].clone(), items[7].clone()])
            } else {
                ok()
            }
        });
        // One request at a time, so the first answer is the first chunk's.
        let archiver = Archiver::with_retry_policy(
            &config(&[("MAX_CONCURRENCY", "1")]),
            client,
            fast_retries(),
        );
        let batch = StreamBatch::from_json(&event).unwrap();
        let outcome = run(&archiver, batch, Duration::from_secs(5)).await;
        assert!(outcome.failed.is_empty(), "{schema}: {:?}", outcome.failed);
        assert_eq!((outcome.archived, outcome.requests), (30, 3), "{schema}");
        let requests = seen.lock().unwrap();
        let resent: Vec<String> = requests[1].iter().map(|i| key_of(i, &names)).collect();
        let withheld = [
            key_of(&requests[0][3], &names),
            key_of(&requests[0][7], &names),
        ];
        assert_eq!(
            resent, withheld,
            "{schema}: exactly the unprocessed items again"
        );
    }
}

const ARCHIVE_ARN: &str = "arn:aws:dynamodb:us-east-1:210987654321:table/archive";

/// TABLE_NAME holds a table ARN (a table in another account): requests name the table by its
/// ARN, and what DynamoDB leaves unprocessed is matched whether it files it under the ARN or
/// under the table's name; under any other table, everything is sent again.
#[tokio::test]
async fn a_table_arn_names_the_table_in_requests_and_answers() {
    for (filed_under, matched) in [
        (ARCHIVE_ARN, true),
        ("archive", true),
        (
            "arn:aws:dynamodb:us-east-1:123456789012:table/archive",
            false,
        ),
    ] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let calls = Mutex::new(0);
        let rule = mock!(Client::batch_write_item).then_compute_response(move |input| {
            let items = items_for(input, ARCHIVE_ARN);
            record.lock().unwrap().push(items.clone());
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            if *calls == 1 {
                unprocessed_in(filed_under, vec![items[1].clone()])
            } else {
                ok()
            }
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let archiver = Archiver::with_retry_policy(
            &config(&[("TABLE_NAME", ARCHIVE_ARN)]),
            client,
            fast_retries(),
        );
        let outcome = run(&archiver, event("ttl-remove.json"), Duration::from_secs(5)).await;
        assert!(
            outcome.failed.is_empty(),
            "{filed_under}: {:?}",
            outcome.failed
        );
        assert_eq!(
            (outcome.archived, outcome.requests),
            (3, 2),
            "{filed_under}"
        );
        let requests = seen.lock().unwrap();
        let expected_again = if matched {
            vec![requests[0][1].clone()]
        } else {
            requests[0].clone()
        };
        assert_eq!(requests[1], expected_again, "{filed_under}");
    }
}

/// Answers DynamoDB should never give, but which must not make a record count as archived.
type Respond = fn(&[Item]) -> Answer;

fn unmatchable_answers() -> Vec<(&'static str, Respond)> {
    vec![
        ("a key that was not sent", |items| {
            let mut alien = items[0].clone();
            alien.insert("PK".into(), s("SESSION#never-sent"));
            unprocessed(vec![alien])
        }),
        ("an entry without its key", |items| {
            let mut keyless = items[0].clone();
            keyless.remove("PK");
            unprocessed(vec![keyless])
        }),
        ("the same key twice", |items| {
            unprocessed(vec![items[0].clone(), items[0].clone()])
        }),
        ("items filed under another table", |items| {
            unprocessed_in("another-table", vec![items[0].clone()])
        }),
    ]
}

#[tokio::test]
async fn an_unprocessed_answer_that_cannot_be_matched_sends_everything_again() {
    for (case, answer) in unmatchable_answers() {
        let calls = Mutex::new(0);
        let (client, seen) = client(move |items| {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            if *calls == 1 {
                answer(items)
            } else {
                ok()
            }
        });
        let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
        let outcome = run(&archiver, event("ttl-remove.json"), Duration::from_secs(5)).await;
        assert!(outcome.failed.is_empty(), "{case}: {:?}", outcome.failed);
        assert_eq!((outcome.archived, outcome.requests), (3, 2), "{case}");
        let requests = seen.lock().unwrap();
        assert_eq!(requests[1], requests[0], "{case}: every item is sent again");
    }
}

#[tokio::test]
async fn an_unmatchable_answer_never_counts_as_archived() {
    for (case, answer) in unmatchable_answers() {
        let (client, seen) = client(answer);
        let archiver = Archiver::with_retry_policy(&config(&[]), client, fast_retries());
        let outcome = run(&archiver, event("ttl-remove.json"), Duration::from_secs(5)).await;
        assert_eq!(outcome.archived, 0, "{case}");
        assert_eq!(outcome.failed.len(), 3, "{case}");
        assert!(
            outcome
                .failed
                .iter()
                .all(|(_, why)| why.contains("after 10 attempts")),
            "{case}: {:?}",
            outcome.failed
        );
        assert_eq!(seen.lock().unwrap().len(), 10, "{case}");
    }
}

/// Two workers: one is held by a request that never returns, the other runs the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_nets_answer_in_time_when_requests_never_return() {
    // The mock blocks its thread, so the request's own timeout cannot fire: only the writer's
    // hard stop can end the wait. The other chunks wait for the one request slot.
    let (client, _) = client(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        ok()
    });
    let archiver =
        Archiver::with_retry_policy(&config(&[("MAX_CONCURRENCY", "1")]), client, fast_retries());
    let budget = Duration::from_millis(300);
    let started = Instant::now();
    let batch = StreamBatch::from_json(&sessions_event(250)).unwrap();
    let outcome = run(&archiver, batch, budget).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < budget + HARD_STOP_SLACK + Duration::from_millis(100),
        "answered after {elapsed:?}"
    );
    assert_eq!(outcome.archived, 0);
    assert_eq!(outcome.failed.len(), 250, "every record is reported");
    let count = |what: &str| {
        outcome
            .failed
            .iter()
            .filter(|(_, why)| why.contains(what))
            .count()
    };
    assert_eq!(count("no request slot was free"), 225, "the slot net");
    assert_eq!(count("request still in flight"), 25, "the hard stop");
}
