//! The release binary as a Lambda custom runtime: a Runtime API in the test hands it each event
//! file, the function writes to dynalite, and the response, table and logs are checked.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::dynalite::{admin_client, create_table, scan_all, Dynalite};
use support::items::{assert_archive_matches, expected, sessions_event, Expectation};
use support::proxy::{Fault, FaultProxy};
use support::read_event;
use support::runtime_api::{Function, Outcome, RuntimeApi};

/// Attribute values from the sample events that must never show up in the logs.
const SECRETS: &[&str] = &[
    "ada",
    "grace",
    "linus",
    "Mozilla",
    "SESSION#",
    "acme",
    "globex",
    "héllo",
    "every-type",
];

fn assert_no_item_contents(logs: &str) {
    for secret in SECRETS {
        assert!(
            !logs.contains(secret),
            "logs contain item contents ({secret}):\n{logs}"
        );
    }
}

fn expected_response(failed: &[String]) -> serde_json::Value {
    json!({ "batchItemFailures": failed.iter().map(|s| json!({"itemIdentifier": s})).collect::<Vec<_>>() })
}

/// dynalite with an empty archive table of the given key, a Runtime API, and the release binary.
struct Setup {
    binary: std::path::PathBuf,
    db: Dynalite,
    admin: aws_sdk_dynamodb::Client,
    api: RuntimeApi,
}

async fn setup(key: &[(&str, &str)]) -> Option<Setup> {
    let (binary, db) = (Function::binary()?, Dynalite::start()?);
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "archive", key).await;
    Some(Setup {
        binary,
        db,
        admin,
        api: RuntimeApi::start().await,
    })
}

impl Setup {
    /// Starts the function writing to `endpoint`, with `env` on top of TABLE_NAME.
    fn start(&self, endpoint: &str, env: &[(&str, &str)]) -> Function {
        let mut all = vec![
            ("TABLE_NAME", "archive"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ];
        all.extend_from_slice(env);
        Function::start(&self.binary, &self.api, &all)
    }

    async fn archive(&self) -> Vec<support::items::Item> {
        scan_all(&self.admin, "archive").await
    }
}

async fn archive_event(event: &str, key: &[(&str, &str)], how: Expectation, env: &[(&str, &str)]) {
    let Some(setup) = setup(key).await else {
        return;
    };
    let function = setup.start(&setup.db.endpoint, env);

    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let outcome = setup
        .api
        .invoke(&read_event(event), Duration::from_secs(10))
        .await;
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let want = expected(&read_event(event), &how);
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&want.failed)),
        "logs:\n{}",
        function.logs()
    );
    let key_names: Vec<&str> = key.iter().map(|(n, _)| *n).collect();
    let stamps = how.stamps(before, after);
    assert_archive_matches(&setup.archive().await, &want, &key_names, &stamps);

    let logs = function.logs();
    assert!(
        logs.contains("batch processed"),
        "no batch summary in the logs:\n{logs}"
    );
    assert!(
        logs.contains(r#""CloudWatchMetrics""#),
        "no EMF document in the logs:\n{logs}"
    );
    assert_no_item_contents(&logs);
}

#[tokio::test]
async fn ttl_sessions_end_to_end() {
    archive_event(
        "ttl-remove.json",
        &[("PK", "S")],
        Expectation {
            ttl_attribute: Some("ExpirationTime".into()),
            ..Default::default()
        },
        &[("TTL_ATTRIBUTE", "ExpirationTime")],
    )
    .await;
}

#[tokio::test]
async fn classic_projection_end_to_end() {
    archive_event(
        "ttl-remove.json",
        &[("PK", "S")],
        Expectation {
            ttl_attribute: Some("ExpirationTime".into()),
            attributes: Some(vec!["CreationTime".into(), "SessionInfo".into()]),
            archived_at_attribute: Some("ArchivedAt".into()),
            ..Default::default()
        },
        &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ATTRIBUTES", "CreationTime,SessionInfo"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
        ],
    )
    .await;
}

#[tokio::test]
async fn retention_end_to_end() {
    archive_event(
        "ttl-remove.json",
        &[("PK", "S")],
        Expectation {
            ttl_attribute: Some("ExpirationTime".into()),
            archive_expiry: Some(("ArchiveExpiresAt".into(), 90 * 86_400)),
            ..Default::default()
        },
        &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ARCHIVE_RETENTION_DAYS", "90"),
        ],
    )
    .await;
}

#[tokio::test]
async fn mixed_batch_end_to_end() {
    archive_event("mixed.json", &[("PK", "S")], Expectation::default(), &[]).await;
}

#[tokio::test]
async fn composite_key_end_to_end() {
    archive_event(
        "composite-key.json",
        &[("tenant", "S"), ("ts", "N")],
        Expectation::default(),
        &[],
    )
    .await;
}

#[tokio::test]
async fn no_old_image_end_to_end() {
    archive_event(
        "no-old-image.json",
        &[("PK", "S")],
        Expectation::default(),
        &[],
    )
    .await;
}

#[tokio::test]
async fn all_types_end_to_end() {
    archive_event(
        "all-types.json",
        &[("id", "S")],
        Expectation::default(),
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    )
    .await;
}

#[tokio::test]
async fn malformed_record_end_to_end() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let function = setup.start(&setup.db.endpoint, &[]);
    let outcome = setup
        .api
        .invoke(
            &read_event("malformed-record.json"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&["1000000000000000000200".into()]))
    );
    assert_eq!(setup.archive().await.len(), 2);
    let logs = function.logs();
    assert!(
        logs.contains("1000000000000000000200"),
        "the failed record's sequence number is logged:\n{logs}"
    );
    assert!(
        !logs.contains("not base64"),
        "the record's content is not logged:\n{logs}"
    );
    assert_no_item_contents(&logs);
}

#[tokio::test]
async fn answers_before_a_short_deadline_when_dynamodb_hangs() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let proxy = FaultProxy::start(&setup.db.endpoint, |_| {
        Fault::Delay(Duration::from_secs(30))
    })
    .await;
    let _function = setup.start(&proxy.endpoint, &[]);
    let timeout = Duration::from_millis(2000);
    let started = std::time::Instant::now();
    let outcome = setup
        .api
        .invoke(&read_event("ttl-remove.json"), timeout)
        .await;
    assert!(
        started.elapsed() < timeout,
        "answered after {:?}",
        started.elapsed()
    );
    let want = expected(&read_event("ttl-remove.json"), &Expectation::default());
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&want.selected))
    );
}

#[tokio::test]
async fn the_smallest_margin_still_answers_before_the_deadline() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let proxy = FaultProxy::start(&setup.db.endpoint, |_| {
        Fault::Delay(Duration::from_secs(30))
    })
    .await;
    let _function = setup.start(&proxy.endpoint, &[("DEADLINE_MARGIN_MS", "250")]);
    let event = sessions_event(1000);
    let timeout = Duration::from_millis(3000);
    let started = std::time::Instant::now();
    let outcome = setup.api.invoke(&event, timeout).await;
    assert!(
        started.elapsed() < timeout,
        "answered after {:?}",
        started.elapsed()
    );
    let want = expected(&event, &Expectation::default());
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&want.selected))
    );
}

#[tokio::test]
async fn missing_configuration_fails_init_naming_the_variable() {
    let Some(binary) = Function::binary() else {
        return;
    };
    for (env, variable) in [
        (vec![], "TABLE_NAME"),
        (
            vec![("TABLE_NAME", "archive"), ("MAX_CONCURRENCY", "0")],
            "MAX_CONCURRENCY",
        ),
        (
            vec![("TABLE_NAME", "archive"), ("ATTRIBUTES", "a,,b")],
            "ATTRIBUTES",
        ),
        (
            vec![("TABLE_NAME", "archive"), ("DEADLINE_MARGIN_MS", "0")],
            "DEADLINE_MARGIN_MS",
        ),
    ] {
        let api = RuntimeApi::start().await;
        let mut function = Function::start(&binary, &api, &env);
        let code = function.exit_code(Duration::from_secs(10)).await;
        assert!(
            matches!(code, Some(c) if c != 0),
            "init must fail, exit code {code:?}"
        );
        let logs = function.logs();
        assert!(
            logs.contains(variable),
            "the error names {variable}:\n{logs}"
        );
        assert_eq!(api.polls(), 0, "no invocation is taken after a failed init");
    }
}

#[tokio::test]
async fn a_warm_function_handles_consecutive_batches() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let function = setup.start(&setup.db.endpoint, &[]);
    for event in ["ttl-remove.json", "mixed.json", "no-old-image.json"] {
        let outcome = setup
            .api
            .invoke(&read_event(event), Duration::from_secs(10))
            .await;
        let want = expected(&read_event(event), &Expectation::default());
        assert_eq!(
            outcome,
            Outcome::Response(expected_response(&want.failed)),
            "{event}"
        );
    }
    assert_eq!(setup.archive().await.len(), 3);
    assert_eq!(function.logs().matches("batch processed").count(), 3);
}

/// Values from the sample events, distinctive enough to look for in verbose logs.
const DISTINCTIVE_VALUES: &[&str] = &[
    "SESSION#",
    "Mozilla",
    "linus",
    "every-type",
    "héllo",
    "AAEC/f7/",
    "3.14159265358979",
    "99999999999999999999",
    "this is not base64",
];

#[tokio::test]
async fn no_item_contents_in_the_logs_even_at_trace() {
    for format in ["TEXT", "JSON"] {
        let Some(setup) = setup(&[("PK", "S")]).await else {
            return;
        };
        // Half of the first request comes back unprocessed, so answers carry items too.
        let proxy = FaultProxy::start(&setup.db.endpoint, |n| {
            if n == 0 {
                Fault::Unprocess(0.5)
            } else {
                Fault::Pass
            }
        })
        .await;
        let function = setup.start(
            &proxy.endpoint,
            &[
                ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
                ("AWS_LAMBDA_LOG_FORMAT", format),
            ],
        );
        // all-types.json has key `id`, not `PK`: DynamoDB rejects it, so errors are logged too.
        for event in [
            "ttl-remove.json",
            "mixed.json",
            "malformed-record.json",
            "all-types.json",
        ] {
            let outcome = setup
                .api
                .invoke(&read_event(event), Duration::from_secs(10))
                .await;
            assert!(
                matches!(outcome, Outcome::Response(_)),
                "{event}: {outcome:?}"
            );
        }
        let logs = function.logs();
        assert!(
            logs.contains("beginning attempt"),
            "{format}: the SDK's debug lines are there, so the level took effect:\n{logs}"
        );
        for value in DISTINCTIVE_VALUES {
            assert!(
                !logs.contains(value),
                "{format}: logs at TRACE contain item contents ({value}):\n{logs}"
            );
        }
    }
}

#[tokio::test]
async fn a_runtime_api_that_closes_while_waiting_for_the_next_event_ends_the_process_quietly() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let mut function = setup.start(&setup.db.endpoint, &[]);
    let outcome = setup
        .api
        .invoke(&read_event("ttl-remove.json"), Duration::from_secs(10))
        .await;
    assert_eq!(outcome, Outcome::Response(expected_response(&[])));
    // What an emulator does once it has the answer: it stops the container.
    setup.api.shut_down();
    let code = function.exit_code(Duration::from_secs(10)).await;
    let logs = function.logs();
    assert_eq!(code, Some(0), "{logs}");
    assert!(!logs.contains("Error"), "{logs}");
    assert!(
        logs.contains("the Runtime API closed the connection"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_runtime_api_that_cannot_be_reached_is_still_an_error() {
    let Some(binary) = Function::binary() else {
        return;
    };
    let api = RuntimeApi::start().await;
    let closed = format!("127.0.0.1:{}", support::server::free_port());
    let mut function = Function::start(
        &binary,
        &api,
        &[
            ("TABLE_NAME", "archive"),
            ("AWS_LAMBDA_RUNTIME_API", &closed),
        ],
    );
    let code = function.exit_code(Duration::from_secs(10)).await;
    let logs = function.logs();
    assert!(matches!(code, Some(c) if c != 0), "exit {code:?}: {logs}");
    assert!(logs.contains("Error"), "{logs}");
}

/// The endpoints the SDK resolved, from its DEBUG lines ("will apply endpoint ...").
fn applied_endpoints(logs: &str) -> Vec<String> {
    logs.lines()
        .filter_map(|line| line.split_once("will apply endpoint Endpoint { url: \""))
        .map(|(_, rest)| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The template declares `AWS_ENDPOINT_URL_DYNAMODB: ""` (so that `sam local invoke --env-vars`
/// can set it): deployed, the function must resolve the endpoint as if it were not set.
#[tokio::test]
async fn an_empty_endpoint_variable_behaves_exactly_as_an_unset_one() {
    let Some(binary) = Function::binary() else {
        return;
    };
    let mut endpoints = Vec::new();
    for endpoint_variable in [None, Some(""), Some("  ")] {
        let api = RuntimeApi::start().await;
        let mut env = vec![("TABLE_NAME", "archive"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")];
        if let Some(value) = endpoint_variable {
            env.push(("AWS_ENDPOINT_URL_DYNAMODB", value));
        }
        let function = Function::start(&binary, &api, &env);
        // No AWS is reachable from the tests: the records fail once the margin is reached.
        let outcome = api
            .invoke(&read_event("ttl-remove.json"), Duration::from_millis(1500))
            .await;
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        let applied = applied_endpoints(&function.logs());
        assert!(!applied.is_empty(), "{}", function.logs());
        endpoints.push((endpoint_variable, applied[0].clone()));
    }
    for (variable, endpoint) in &endpoints {
        assert_eq!(
            endpoint, "https://dynamodb.us-east-1.amazonaws.com",
            "AWS_ENDPOINT_URL_DYNAMODB={variable:?}"
        );
    }
}

#[tokio::test]
async fn cargo_lambda_watchs_concurrency_of_one_is_taken_without_a_warning() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let function = setup.start(&setup.db.endpoint, &[("AWS_LAMBDA_MAX_CONCURRENCY", "1")]);
    let outcome = setup
        .api
        .invoke(&read_event("ttl-remove.json"), Duration::from_secs(10))
        .await;
    assert_eq!(outcome, Outcome::Response(expected_response(&[])));
    let logs = function.logs();
    assert!(!logs.contains("WARN"), "{logs}");
}

// An item's whole life: items at DynamoDB's 400 KB limit, and items restored from the archive.

/// DynamoDB's item limit, attribute names included.
const MAX_ITEM: usize = 400 * 1024;

/// A TTL deletion of session `pk` whose old image has `extra` beside its key, expiry and a
/// `Blob` string sized so that the image is `bytes` as DynamoDB counts it (ASCII only: names and
/// strings by their length; the expiry number 1794993601 takes 6 bytes, as dynalite counts it).
fn session_of_size(
    pk: &str,
    seq: &str,
    bytes: usize,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut image = json!({
        "PK": {"S": pk},
        "ExpirationTime": {"N": "1794993601"},
    });
    let mut size = "PK".len() + pk.len() + "ExpirationTime".len() + 6 + "Blob".len();
    for (name, value) in extra.as_object().unwrap() {
        size += name.len()
            + match value.as_object().unwrap().iter().next().unwrap() {
                (t, v) if t == "S" => v.as_str().unwrap().len(),
                (t, v) if t == "B" => aws_smithy_types::base64::decode(v.as_str().unwrap())
                    .unwrap()
                    .len(),
                // 1700000000: two significant digits at an odd power of ten.
                (t, v) if t == "N" && v == "1700000000" => 2,
                other => panic!("unsized {other:?}"),
            };
        image[name] = value.clone();
    }
    image["Blob"] = json!({"S": "x".repeat(bytes - size)});
    json!({
        "eventID": seq, "eventName": "REMOVE", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "ApproximateCreationDateTime": 1795000001,
            "Keys": {"PK": {"S": pk}},
            "OldImage": image,
            "SequenceNumber": seq,
            "SizeBytes": bytes,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

/// Puts `record`'s old image into a `source` table, as the live table held it: dynalite refuses
/// items over 400 KB, so this proves the image is one DynamoDB could have held.
async fn assert_fits_a_table(setup: &Setup, record: &serde_json::Value) -> bool {
    let json = record.to_string();
    let record: ttl_archiver::archive::record::Record = serde_json::from_str(&json).unwrap();
    let image = record.change.old_image.0;
    setup
        .admin
        .put_item()
        .table_name("source")
        .set_item(Some(image))
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_source_item_at_or_under_the_limit_fits_and_one_byte_more_does_not() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    create_table(&setup.admin, "source", &[("PK", "S")]).await;
    // The test's own count of an item's size is DynamoDB's: 400 KB exactly fits, one byte more
    // does not.
    for (bytes, fits) in [
        (MAX_ITEM - 10, true),
        (MAX_ITEM, true),
        (MAX_ITEM + 1, false),
    ] {
        let record = session_of_size("s", "100", bytes, json!({}));
        assert_eq!(
            assert_fits_a_table(&setup, &record).await,
            fits,
            "{bytes} bytes"
        );
    }
}

/// Archives `record` (an item at the limit) with `env`, and checks it went in whole, without the
/// archiver's attributes, and that the function said so once, by sequence number.
async fn archive_near_the_limit(record: serde_json::Value, env: &[(&str, &str)]) {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let function = setup.start(&setup.db.endpoint, env);
    let event = json!({ "Records": [&record] }).to_string();
    let outcome = setup.api.invoke(&event, Duration::from_secs(30)).await;
    let logs = function.logs();
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&[])),
        "logs:\n{logs}"
    );
    let archive = setup.archive().await;
    let [item] = archive.as_slice() else {
        panic!("one item archived: {}", archive.len());
    };
    let blob = record["dynamodb"]["OldImage"]["Blob"]["S"]
        .as_str()
        .unwrap();
    assert_eq!(item["Blob"].as_s().unwrap(), blob, "the data whole");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["Blob", "PK"],
        "no archiver attribute: they would not fit"
    );
    let seq = record["dynamodb"]["SequenceNumber"].as_str().unwrap();
    assert_eq!(
        logs.matches("archived without the archiver's attributes")
            .count(),
        1,
        "{logs}"
    );
    assert!(
        logs.contains(&format!(r#""sequence_numbers":"{seq}""#))
            || logs.contains(&format!("sequence_numbers={seq}")),
        "{logs}"
    );
    assert!(logs.contains(r#""AdditionsDropped":1"#), "{logs}");
}

#[tokio::test]
async fn a_source_item_10_bytes_under_400_kb_is_archived_with_the_default_settings() {
    // The template's defaults: the source's expiry goes; the version (35 bytes) would not fit.
    archive_near_the_limit(
        session_of_size("near", "100", MAX_ITEM - 10, json!({})),
        &[("TTL_ATTRIBUTE", "ExpirationTime")],
    )
    .await;
}

#[tokio::test]
async fn a_source_item_of_400_kb_exactly_is_archived_without_its_stamps() {
    archive_near_the_limit(
        session_of_size("exact", "200", MAX_ITEM, json!({})),
        &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
            ("ARCHIVE_RETENTION_DAYS", "30"),
        ],
    )
    .await;
}

/// A TTL deletion of session `pk` whose old image is `bytes` as DynamoDB counts it (the tests'
/// own count, tests/support/dynamodb_size.rs), its bulk non-ASCII text: "é" takes 2 bytes in
/// UTF-8 as DynamoDB counts strings, 1 unit in UTF-16 as dynalite does.
fn unicode_session_of_size(pk: &str, seq: &str, bytes: usize) -> serde_json::Value {
    let mut record = session_of_size(pk, seq, 1000, json!({}));
    let image = record["dynamodb"]["OldImage"].as_object_mut().unwrap();
    image.insert("Text".into(), json!({"S": ""}));
    let base = support::dynamodb_size::item_size(image);
    let fill = bytes - base;
    let text = "é".repeat(fill / 2) + &"x".repeat(fill % 2);
    image.insert("Text".into(), json!({"S": text}));
    assert_eq!(support::dynamodb_size::item_size(image), bytes);
    record
}

/// The function behind the proxy that keeps DynamoDB's size rule (UTF-8) in front of dynalite,
/// with an archived-at stamp and a retention: what `record` becomes, and the logs.
async fn archive_through_the_size_rule(
    record: &serde_json::Value,
) -> Option<(Outcome, Vec<support::items::Item>, String, FaultProxy)> {
    let setup = setup(&[("PK", "S")]).await?;
    let proxy = FaultProxy::start(&setup.db.endpoint, |_| Fault::Pass).await;
    let function = setup.start(
        &proxy.endpoint,
        &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
            ("ARCHIVE_RETENTION_DAYS", "30"),
        ],
    );
    let event = json!({ "Records": [record] }).to_string();
    let outcome = setup.api.invoke(&event, Duration::from_secs(30)).await;
    Some((outcome, setup.archive().await, function.logs(), proxy))
}

#[tokio::test]
async fn an_item_with_50_spare_bytes_keeps_its_version_near_the_limit() {
    // 50 bytes spare once the source's expiry is left out: the version (35) fits, the expiry
    // (22) does not, so neither does the archived-at stamp.
    let expiry = "ExpirationTime".len() + 6;
    let record = unicode_session_of_size("spare", "100", MAX_ITEM - 50 + expiry);
    let Some((outcome, archive, logs, proxy)) = archive_through_the_size_rule(&record).await else {
        return;
    };
    assert_eq!(outcome, Outcome::Response(expected_response(&[])), "{logs}");
    let [item] = archive.as_slice() else {
        panic!("one item archived: {}", archive.len());
    };
    assert!(item.contains_key("ArchiveVersion"), "the version kept");
    for dropped in ["ArchiveExpiresAt", "ArchivedAt"] {
        assert!(!item.contains_key(dropped), "{dropped} would not fit");
    }
    assert!(
        logs.contains("archived without its expiry and archived-at stamp (the version kept)"),
        "{logs}"
    );
    assert!(logs.contains(r#""AdditionsDropped":1"#), "{logs}");
    assert_eq!(proxy.stats().too_large, 0);
}

#[tokio::test]
async fn a_non_ascii_item_over_400_kb_is_reported_failed_not_archived_bare() {
    // Over the limit in UTF-8 (DynamoDB's count), under it in UTF-16 (dynalite's).
    let record = unicode_session_of_size("over", "100", MAX_ITEM + 100);
    let Some((outcome, archive, logs, proxy)) = archive_through_the_size_rule(&record).await else {
        return;
    };
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&["100".to_owned()])),
        "{logs}"
    );
    assert!(archive.is_empty());
    assert!(
        logs.contains("Item size has exceeded the maximum allowed size"),
        "{logs}"
    );
    assert!(!logs.contains("archived without"), "{logs}");
    assert!(logs.contains(r#""AdditionsDropped":0"#), "{logs}");
    assert!(logs.contains(r#""Failed":1"#), "{logs}");
    assert!(proxy.stats().too_large >= 1);
}

#[tokio::test]
async fn an_item_restored_from_the_archive_is_archived_again_with_the_new_version() {
    let Some(setup) = setup(&[("PK", "S")]).await else {
        return;
    };
    let function = setup.start(
        &setup.db.endpoint,
        &[
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
        ],
    );
    // What the archive held the first time (an earlier version and stamp), copied back into the
    // source table with the item, and deleted by TTL again.
    let earlier = support::items::version_of(&json!({"dynamodb": {
        "ApproximateCreationDateTime": 1700000000, "SequenceNumber": "5"}}));
    let records: Vec<serde_json::Value> = ["restored-1", "restored-2", "restored-3", "restored-4"]
        .iter()
        .enumerate()
        .map(|(i, pk)| {
            session_of_size(
                pk,
                &format!("{}", 1000 + i),
                2000,
                json!({"ArchiveVersion": {"B": earlier}, "ArchivedAt": {"N": "1700000000"}}),
            )
        })
        .collect();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let event = json!({ "Records": records }).to_string();
    let outcome = setup.api.invoke(&event, Duration::from_secs(10)).await;
    assert_eq!(
        outcome,
        Outcome::Response(expected_response(&[])),
        "logs:\n{}",
        function.logs()
    );
    let archive = setup.archive().await;
    assert_eq!(archive.len(), 4);
    for item in &archive {
        let archived_at: u64 = item["ArchivedAt"].as_n().unwrap().parse().unwrap();
        assert!(archived_at >= before, "the new stamp, not 1700000000");
        let version =
            aws_smithy_types::base64::encode(item["ArchiveVersion"].as_b().unwrap().as_ref());
        let pk = item["PK"].as_s().unwrap();
        let record = records
            .iter()
            .find(|r| r["dynamodb"]["Keys"]["PK"]["S"] == pk.as_str())
            .unwrap();
        assert_eq!(
            version,
            support::items::version_of(record),
            "this deletion's version"
        );
        assert_ne!(version, earlier);
    }
}
