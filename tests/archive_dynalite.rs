//! The library's handler with the real SDK client against dynalite: every event file archived and
//! read back attribute by attribute.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::dynalite::{admin_client, archive_client, create_table, scan_all, Dynalite};
use support::items::{assert_archive_matches, expected, keyed_event, Expectation};
use support::{config, read_event};
use tokio::time::Instant;
use ttl_archiver::{Archiver, BatchOutcome, StreamBatch};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Case {
    event: &'static str,
    key: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
    how: Expectation,
}

async fn archive(db: &Dynalite, case: &Case) -> (BatchOutcome, Vec<support::items::Item>) {
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "archive", case.key).await;
    let archiver = Archiver::new(&config(case.env), archive_client(&db.endpoint).await);
    let batch = StreamBatch::from_json(&read_event(case.event)).unwrap();
    let outcome = archiver
        .process(batch, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    (outcome, scan_all(&admin, "archive").await)
}

async fn check(case: Case) {
    let Some(db) = Dynalite::start() else { return };
    let before = now();
    let (outcome, archive) = archive(&db, &case).await;
    let want = expected(&read_event(case.event), &case.how);
    let failed: Vec<&str> = outcome.failed.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(failed, want.failed, "reported failures");
    assert_eq!(outcome.selected, want.selected.len());
    assert_eq!(
        outcome.archived + outcome.failed.len(),
        outcome.selected,
        "every selected record accounted for"
    );
    let key_names: Vec<&str> = case.key.iter().map(|(n, _)| *n).collect();
    assert_archive_matches(&archive, &want, &key_names, &case.how.stamps(before, now()));
}

#[tokio::test]
async fn session_batch_is_archived_without_the_ttl_attribute() {
    check(Case {
        event: "ttl-remove.json",
        key: &[("PK", "S")],
        env: &[("TTL_ATTRIBUTE", "ExpirationTime")],
        how: Expectation {
            ttl_attribute: Some("ExpirationTime".into()),
            ..Default::default()
        },
    })
    .await;
}

#[tokio::test]
async fn classic_session_projection_with_archived_at() {
    check(Case {
        event: "ttl-remove.json",
        key: &[("PK", "S")],
        env: &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ATTRIBUTES", "CreationTime,SessionInfo"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
        ],
        how: Expectation {
            ttl_attribute: Some("ExpirationTime".into()),
            attributes: Some(vec!["CreationTime".into(), "SessionInfo".into()]),
            archived_at_attribute: Some("ArchivedAt".into()),
            ..Default::default()
        },
    })
    .await;
}

#[tokio::test]
async fn retention_stamps_each_item_with_its_expiry() {
    check(Case {
        event: "ttl-remove.json",
        key: &[("PK", "S")],
        env: &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
            ("ARCHIVE_RETENTION_DAYS", "30"),
        ],
        how: Expectation {
            ttl_attribute: Some("ExpirationTime".into()),
            archived_at_attribute: Some("ArchivedAt".into()),
            archive_expiry: Some(("ArchiveExpiresAt".into(), 30 * 86_400)),
            ..Default::default()
        },
    })
    .await;
}

#[tokio::test]
async fn an_expiry_named_like_the_source_ttl_replaces_it() {
    check(Case {
        event: "composite-key.json",
        key: &[("tenant", "S"), ("ts", "N")],
        env: &[
            ("TTL_ATTRIBUTE", "expiresAt"),
            ("ARCHIVE_RETENTION_DAYS", "7"),
            ("ARCHIVE_TTL_ATTRIBUTE", "expiresAt"),
        ],
        how: Expectation {
            ttl_attribute: Some("expiresAt".into()),
            archive_expiry: Some(("expiresAt".into(), 7 * 86_400)),
            ..Default::default()
        },
    })
    .await;
}

#[tokio::test]
async fn mixed_batch_archives_only_ttl_removals() {
    check(Case {
        event: "mixed.json",
        key: &[("PK", "S")],
        env: &[],
        how: Expectation::default(),
    })
    .await;
}

#[tokio::test]
async fn composite_keys_with_latest_version_winning() {
    check(Case {
        event: "composite-key.json",
        key: &[("tenant", "S"), ("ts", "N")],
        env: &[("TTL_ATTRIBUTE", "expiresAt")],
        how: Expectation {
            ttl_attribute: Some("expiresAt".into()),
            ..Default::default()
        },
    })
    .await;
}

#[tokio::test]
async fn records_without_old_image_are_reported() {
    check(Case {
        event: "no-old-image.json",
        key: &[("PK", "S")],
        env: &[],
        how: Expectation::default(),
    })
    .await;
}

#[tokio::test]
async fn every_attribute_type_round_trips_through_dynamodb() {
    check(Case {
        event: "all-types.json",
        key: &[("id", "S")],
        env: &[("TTL_ATTRIBUTE", "ttl")],
        how: Expectation {
            ttl_attribute: Some("ttl".into()),
            ..Default::default()
        },
    })
    .await;
}

#[tokio::test]
async fn a_malformed_record_fails_alone() {
    let Some(db) = Dynalite::start() else { return };
    let case = Case {
        event: "malformed-record.json",
        key: &[("PK", "S")],
        env: &[],
        how: Expectation::default(),
    };
    let (outcome, archive) = archive(&db, &case).await;
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].0, "1000000000000000000200");
    assert_eq!(outcome.archived, 2);
    assert_eq!(archive.len(), 2);
}

/// Archives `event` into a table of key `key` with the real SDK client; the outcome.
async fn outcome_of(db: &Dynalite, event: &str, key: &[(&str, &str)]) -> BatchOutcome {
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "archive", key).await;
    let archiver = Archiver::new(&config(&[]), archive_client(&db.endpoint).await);
    archiver
        .process(
            StreamBatch::from_json(event).unwrap(),
            Instant::now() + Duration::from_secs(20),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rejected_write_keeps_dynamodbs_reason() {
    let Some(db) = Dynalite::start() else { return };
    // all-types.json's key is `id`: a table keyed on PK rejects it.
    let outcome = outcome_of(&db, &read_event("all-types.json"), &[("PK", "S")]).await;
    let (_, why) = &outcome.failed[0];
    assert!(
        why.contains("ValidationException: The provided key element does not match the schema"),
        "DynamoDB's own words: {why}"
    );
}

#[tokio::test]
async fn reasons_that_would_quote_values_withhold_them() {
    let Some(db) = Dynalite::start() else { return };
    let keys = [json!({"PK": {"S": "a"}}), json!({"PK": {"S": "b"}})];
    let event = keyed_event(&keys, |i| match i {
        0 => json!({"tags": {"SS": ["secret-member", "secret-member"]}}),
        _ => json!({"count": {"N": "12secret"}}),
    });
    let outcome = outcome_of(&db, &event, &[("PK", "S")]).await;
    assert_eq!(outcome.failed.len(), 2, "{:?}", outcome.failed);
    for (_, why) in &outcome.failed {
        assert!(!why.contains("secret"), "a value is quoted: {why}");
        assert!(why.contains("(value withheld)"), "{why}");
    }
    let reasons: Vec<&str> = outcome.failed.iter().map(|(_, why)| why.as_str()).collect();
    assert!(
        reasons.iter().any(|w| w.contains("contains duplicates")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|w| w.contains("numeric value")),
        "{reasons:?}"
    );
}
