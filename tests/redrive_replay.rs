//! The redrive's archive step without S3: one object's bytes through `Replay` against a faked
//! DynamoDB (aws-smithy-mocks), and what its report says.
#![cfg(feature = "operator")]

mod support;

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, ResourceNotFoundException};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use support::{config, read_event};
use ttl_archiver::redrive::replay::Replay;
use ttl_archiver::redrive::report::Status;
use ttl_archiver::Archiver;

fn pk(input: &PutItemInput) -> String {
    match input.item().and_then(|item| item.get("PK")) {
        Some(AttributeValue::S(pk)) => pk.clone(),
        other => panic!("no PK: {other:?}"),
    }
}

/// A replay whose PutItem answers: SESSION#a1f3 newer in the archive already (the refusal
/// returns the archived item, whose version proves it), `missing` (a key) refused as if the table
/// did not exist, the rest written.
fn replay(dry_run: bool, missing: &'static str) -> Replay {
    let newer = mock!(Client::put_item)
        .match_requests(|input| pk(input) == "SESSION#a1f3")
        .then_error(|| {
            let later =
                ttl_archiver::archive::version::archive_version(1_900_000_000, "1").unwrap();
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .item("PK", AttributeValue::S("SESSION#a1f3".into()))
                    .item("ArchiveVersion", later.attribute_value())
                    .build(),
            )
        });
    let missing = mock!(Client::put_item)
        .match_requests(move |input| pk(input) == missing)
        .then_error(|| {
            let meta = ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .message("Requested resource not found")
                .build();
            PutItemError::ResourceNotFoundException(
                ResourceNotFoundException::builder().meta(meta).build(),
            )
        });
    let written = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
    // A dry run reads instead: SESSION#a1f3 archived newer, the rest absent.
    let read_newer = mock!(Client::get_item)
        .match_requests(|input| {
            input.key().and_then(|k| k.get("PK")) == Some(&AttributeValue::S("SESSION#a1f3".into()))
        })
        .then_output(|| {
            let later =
                ttl_archiver::archive::version::archive_version(1_900_000_000, "1").unwrap();
            GetItemOutput::builder()
                .item("PK", AttributeValue::S("SESSION#a1f3".into()))
                .item("ArchiveVersion", later.attribute_value())
                .build()
        });
    let read_absent = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&newer, &missing, &written, &read_newer, &read_absent],
        |c| c.retry_config(RetryConfig::disabled())
    );
    Replay::new(
        Archiver::new(&config(&[]), client),
        dry_run,
        Duration::from_secs(5),
    )
}

#[tokio::test]
async fn an_object_with_a_record_left_is_kept_with_its_reason() {
    let report = replay(false, "SESSION#b2e4")
        .object("ttl-remove.json", read_event("ttl-remove.json").as_bytes())
        .await;
    assert_eq!(report.status, Status::Kept);
    assert_eq!((report.archived, report.newer_kept), (2, 1));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].sequence_number, "1000000000000000000200");
    assert!(
        report.failed[0]
            .reason
            .contains("ResourceNotFoundException"),
        "{:?}",
        report.failed
    );
}

#[tokio::test]
async fn an_object_whose_records_are_all_archived_is_done() {
    let report = replay(false, "none")
        .object("mixed.json", read_event("mixed.json").as_bytes())
        .await;
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert_eq!(
        (report.archived, report.newer_kept, report.skipped),
        (2, 1, 4)
    );
}

#[tokio::test]
async fn a_dry_run_reads_the_archive_and_lists_what_it_would_write() {
    let report = replay(true, "none")
        .object("ttl-remove.json", read_event("ttl-remove.json").as_bytes())
        .await;
    assert_eq!(report.status, Status::DryRun);
    assert_eq!(report.archived, 0);
    assert_eq!(
        report.would_archive.as_deref(),
        Some(
            &[
                "1000000000000000000200".to_owned(),
                "1000000000000000000300".to_owned()
            ][..]
        )
    );
    assert_eq!(report.newer_archived, Some(1), "SESSION#a1f3");
}

#[tokio::test]
async fn what_is_not_a_batch_is_unreadable() {
    let report = replay(false, "none")
        .object("notes.txt", b"PK,ExpirationTime\n")
        .await;
    assert_eq!(report.status, Status::Unreadable);
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("not JSON"),
        "{report:?}"
    );
}
