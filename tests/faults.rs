//! Fault injection between the real SDK client and dynalite: whatever the server does, every
//! selected record is archived with the right content or reported in batchItemFailures.

mod support;

use std::time::Duration;

use support::config;
use support::dynalite::{admin_client, archive_client, create_table, scan_all, Dynalite};
use support::items::{
    assert_accounted, assert_superseded_share_fate, keyed_event, keys_of_schema, sessions_event,
    table_key, Expectation,
};
use support::proxy::{random_plan, Fault, FaultProxy, Stats};
use support::server::free_port;
use tokio::time::Instant;
use ttl_archiver::{Archiver, BatchOutcome, StreamBatch};

struct Run {
    outcome: BatchOutcome,
    stats: Stats,
    elapsed: Duration,
}

/// Archives `event` (session items, key `PK`) through a proxy following `plan`, then checks the
/// product's invariant.
async fn run_with_faults(
    event: &str,
    env: &[(&str, &str)],
    budget: Duration,
    plan: impl Fn(u64) -> Fault + Send + Sync + 'static,
) -> Option<Run> {
    run_with_faults_on(&[("PK", "S")], event, env, budget, move |n, _| plan(n)).await
}

/// Archives `event` into a table of key `key` through a proxy whose `plan` sees each request,
/// then checks the product's invariant.
async fn run_with_faults_on(
    key: &[(&str, &str)],
    event: &str,
    env: &[(&str, &str)],
    budget: Duration,
    plan: impl Fn(u64, &str) -> Fault + Send + Sync + 'static,
) -> Option<Run> {
    let db = Dynalite::start()?;
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "archive", key).await;
    let proxy = FaultProxy::start_inspecting(&db.endpoint, plan).await;
    let archiver = Archiver::new(&config(env), archive_client(&proxy.endpoint).await);
    let started = Instant::now();
    let outcome = archiver
        .process(StreamBatch::from_json(event).unwrap(), started + budget)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    // Let requests abandoned at the deadline land before reading the table back.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let archive = scan_all(&admin, "archive").await;
    let key_names: Vec<&str> = key.iter().map(|(name, _)| *name).collect();
    assert_accounted(
        &outcome.failed,
        &archive,
        event,
        &Expectation::default(),
        &key_names,
    );
    assert_superseded_share_fate(&outcome.failed, event);
    assert_eq!(outcome.selected, outcome.archived + outcome.failed.len());
    Some(Run {
        outcome,
        stats: proxy.stats(),
        elapsed,
    })
}

#[tokio::test]
async fn partial_unprocessed_items_are_retried_until_written() {
    let Some(run) = run_with_faults(&sessions_event(100), &[], Duration::from_secs(20), |n| {
        if n < 6 {
            Fault::Unprocess(0.4)
        } else {
            Fault::Pass
        }
    })
    .await
    else {
        return;
    };
    assert!(run.outcome.failed.is_empty(), "{:?}", run.outcome.failed);
    assert_eq!(run.outcome.archived, 100);
    assert_eq!(run.stats.unprocessed, 6);
    assert!(run.outcome.retries >= 4);
}

#[tokio::test]
async fn throttling_server_errors_and_hangups_are_retried() {
    let Some(run) = run_with_faults(
        &sessions_event(100),
        &[],
        Duration::from_secs(20),
        |n| match n {
            0 | 1 => Fault::Throttle,
            2 | 3 => Fault::ServerError,
            4 => Fault::Hangup,
            _ => Fault::Pass,
        },
    )
    .await
    else {
        return;
    };
    assert!(run.outcome.failed.is_empty(), "{:?}", run.outcome.failed);
    assert_eq!(run.outcome.archived, 100);
    assert_eq!(
        (
            run.stats.throttles,
            run.stats.server_errors,
            run.stats.hangups
        ),
        (2, 2, 1)
    );
    assert_eq!(run.outcome.retries, 5);
}

#[tokio::test]
async fn requests_go_out_concurrently_up_to_max_concurrency() {
    let slow = |_| Fault::Delay(Duration::from_millis(150));
    let Some(wide) =
        run_with_faults(&sessions_event(250), &[], Duration::from_secs(20), slow).await
    else {
        return;
    };
    assert_eq!(wide.outcome.archived, 250);
    assert_eq!(
        wide.stats.batch_writes, 10,
        "exactly ceil(250 / 25) requests"
    );
    assert!(
        wide.stats.max_in_flight >= 8,
        "in flight at once: {}",
        wide.stats.max_in_flight
    );
    assert!(
        wide.elapsed < Duration::from_millis(1000),
        "10 slow requests took {:?}",
        wide.elapsed
    );

    let Some(narrow) = run_with_faults(
        &sessions_event(250),
        &[("MAX_CONCURRENCY", "2")],
        Duration::from_secs(20),
        slow,
    )
    .await
    else {
        return;
    };
    assert_eq!(narrow.stats.max_in_flight, 2);
    assert_eq!(narrow.outcome.archived, 250);
}

#[tokio::test]
async fn slow_answers_past_the_deadline_are_reported_before_it() {
    let budget = Duration::from_millis(800);
    let Some(run) = run_with_faults(&sessions_event(60), &[], budget, |n| {
        if n == 1 {
            Fault::Delay(Duration::from_secs(5))
        } else {
            Fault::Pass
        }
    })
    .await
    else {
        return;
    };
    assert!(
        run.elapsed < budget + Duration::from_millis(100),
        "answered after {:?}",
        run.elapsed
    );
    assert_eq!(
        run.outcome.failed.len(),
        25,
        "the slow chunk is reported: {:?}",
        run.outcome.failed
    );
    assert!(run
        .outcome
        .failed
        .iter()
        .all(|(_, why)| why.contains("deadline")));
    assert_eq!(run.outcome.archived, 35);
}

#[tokio::test]
async fn endless_throttling_ends_in_time_with_every_record_reported() {
    let budget = Duration::from_millis(1500);
    let Some(run) = run_with_faults(&sessions_event(60), &[], budget, |_| Fault::Throttle).await
    else {
        return;
    };
    // The writer's promise: every record accounted for by the stop time and its slack (a
    // request in flight at the stop time is abandoned then).
    assert!(
        run.elapsed < budget + ttl_archiver::aws::writer::HARD_STOP_SLACK,
        "answered after {:?}",
        run.elapsed
    );
    assert_eq!(run.outcome.failed.len(), 60);
    assert_eq!(run.outcome.archived, 0);
    assert!(run.outcome.retries > 3);
}

#[tokio::test]
async fn soak_2000_records_through_unprocessed_throttles_and_errors() {
    let Some(run) = run_with_faults(
        &sessions_event(2000),
        &[],
        Duration::from_secs(120),
        random_plan(0x5eed, 0.30, 0.10, 0.05),
    )
    .await
    else {
        return;
    };
    assert!(
        run.outcome.failed.is_empty(),
        "{} failed: {:?}",
        run.outcome.failed.len(),
        run.outcome.failed.first()
    );
    assert_eq!(run.outcome.archived, 2000);
    let s = &run.stats;
    assert!(
        s.unprocessed > 10 && s.throttles > 3 && s.server_errors > 1,
        "faults injected: {s:?}"
    );
    eprintln!(
        "soak: {:?} in {:?}, {} retries",
        s, run.elapsed, run.outcome.retries
    );
}

#[tokio::test]
async fn a_missing_table_fails_every_record_at_once() {
    let Some(db) = Dynalite::start() else { return };
    let archiver = Archiver::new(&config(&[]), archive_client(&db.endpoint).await);
    let started = Instant::now();
    let event = sessions_event(30);
    let outcome = archiver
        .process(
            StreamBatch::from_json(&event).unwrap(),
            started + Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not retried: {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.failed.len(), 30);
    assert!(
        outcome
            .failed
            .iter()
            .all(|(_, why)| why.contains("ResourceNotFoundException")),
        "{:?}",
        outcome.failed[0]
    );
    assert_eq!(outcome.requests, 2);
}

#[tokio::test]
async fn an_endpoint_refusing_connections_fails_every_record_before_the_deadline() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let archiver = Archiver::new(&config(&[]), archive_client(&closed).await);
    let started = Instant::now();
    let budget = Duration::from_millis(1500);
    let outcome = archiver
        .process(
            StreamBatch::from_json(&sessions_event(30)).unwrap(),
            started + budget,
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < budget,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.failed.len(), 30);
    assert!(outcome.retries > 0);
}

/// 60 records of 20 keys, each key deleted three times (interleaved), for a key schema; the
/// versions of key 7 carry a marker that makes DynamoDB reject any request holding them.
fn repeated_keys_event(schema: &str) -> String {
    let keys = keys_of_schema(schema, 20);
    let repeated: Vec<serde_json::Value> = (0..60).map(|i| keys[i % 20].clone()).collect();
    keyed_event(&repeated, |i| {
        if i % 20 == 7 {
            serde_json::json!({"marker": {"S": "poison"}})
        } else {
            serde_json::json!({})
        }
    })
}

#[tokio::test]
async fn superseded_records_fail_and_succeed_with_their_winner() {
    for schema in ["SN", "N", "B"] {
        let event = repeated_keys_event(schema);
        let Some(run) = run_with_faults_on(
            table_key(schema),
            &event,
            &[("MAX_CONCURRENCY", "1")],
            Duration::from_secs(20),
            |n, body| {
                if body.contains("poison") {
                    Fault::Reject
                } else {
                    match n % 4 {
                        0 => Fault::Throttle,
                        1 => Fault::Unprocess(0.4),
                        _ => Fault::Pass,
                    }
                }
            },
        )
        .await
        else {
            return;
        };
        let stats = &run.stats;
        assert!(
            stats.throttles > 0 && stats.unprocessed > 0 && stats.rejections > 0,
            "{schema}: every fault was injected: {stats:?}"
        );
        let failed: Vec<&str> = run.outcome.failed.iter().map(|(s, _)| s.as_str()).collect();
        let poisoned: Vec<String> = (0..3)
            .map(|round| format!("{}", 5_000_000_000_000_000_000u128 + (7 + 20 * round) * 100))
            .collect();
        assert_eq!(
            failed, poisoned,
            "{schema}: the rejected key's three records, and only they, are reported"
        );
        assert!(
            run.outcome
                .failed
                .iter()
                .all(|(_, why)| why.contains("ValidationException")),
            "{schema}: {:?}",
            run.outcome.failed
        );
        assert_eq!(run.outcome.archived, 57, "{schema}");
    }
}
