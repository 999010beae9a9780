//! The redrive tool end to end: failed-batch objects in a local S3 (moto server) archived into
//! dynalite by the real `ttl-archiver-redrive` binary.
#![cfg(feature = "operator")]

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};
use support::dynalite::{
    admin_client, archive_client, create_table, scan_all, sdk_config, Dynalite,
};
use support::items::sessions_event;
use support::proxy::{Fault, FaultProxy};
use support::server::{moto, LocalServer};
use support::{read_event, repo_path};
use ttl_archiver::{Archiver, StreamBatch};

const BUCKET: &str = "failed-batches";
const PREFIX: &str = "aws/lambda/4f3a1c2e-esm/shardId-00000001700000000000-abcdef01/2026/11/24/";

struct Servers {
    db: Dynalite,
    s3_endpoint: String,
    s3: aws_sdk_s3::Client,
    _moto: LocalServer,
}

async fn servers() -> Option<Servers> {
    let (db, moto) = (Dynalite::start()?, moto()?);
    create_table(&admin_client(&db.endpoint).await, "archive", &[("PK", "S")]).await;
    let config = sdk_config(&moto.endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    Some(Servers {
        db,
        s3_endpoint: moto.endpoint.clone(),
        s3,
        _moto: moto,
    })
}

/// An invocation record as the S3 on-failure destination writes it.
fn invocation_record(payload: Value) -> String {
    json!({
        "requestContext": {
            "requestId": "c1b2a3d4-0000-4000-8000-000000000001",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ttl-archiver",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 11
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-24T10:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001700000000000-abcdef01",
            "startSequenceNumber": "1000000000000000000100",
            "endSequenceNumber": "1000000000000000000300",
            "approximateArrivalOfFirstRecord": "2026-11-24T09:00:00Z",
            "approximateArrivalOfLastRecord": "2026-11-24T09:00:01Z",
            "batchSize": 3,
            "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Sessions/stream/2026-11-01T00:00:00.000"
        },
        "payload": payload
    })
    .to_string()
}

fn event_value(name: &str) -> Value {
    serde_json::from_str(&read_event(name)).unwrap()
}

async fn put(servers: &Servers, key: &str, body: String) {
    servers
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .unwrap();
}

async fn keys(servers: &Servers) -> Vec<String> {
    let listed = servers
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

fn redrive(servers: &Servers, args: &[&str]) -> (i32, String) {
    redrive_through(servers, &servers.s3_endpoint, &[], args)
}

/// Runs the redrive with its S3 requests sent to `s3_endpoint` (a fault proxy, say) and `env`
/// added to its environment.
fn redrive_through(
    servers: &Servers,
    s3_endpoint: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String) {
    let (code, stdout, _) = redrive_with_stderr(servers, s3_endpoint, env, args);
    (code, stdout)
}

fn redrive_with_stderr(
    servers: &Servers,
    s3_endpoint: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-redrive"))
        .args(args)
        .env_clear()
        .env("TABLE_NAME", "archive")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &servers.db.endpoint)
        .env("AWS_ENDPOINT_URL_S3", s3_endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("run ttl-archiver-redrive");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    eprintln!("stdout:\n{stdout}\nstderr:\n{stderr}");
    (status.code().unwrap_or(-1), stdout, stderr)
}

async fn archive_size(servers: &Servers) -> usize {
    scan_all(&admin_client(&servers.db.endpoint).await, "archive")
        .await
        .len()
}

#[tokio::test]
async fn redrives_every_shape_keeps_what_fails_and_never_processes_an_object_twice() {
    let Some(servers) = servers().await else {
        return;
    };
    let source = format!("s3://{BUCKET}/{PREFIX}");
    // Documented shape, payload embedded as an object.
    put(
        &servers,
        &format!("{PREFIX}a-object"),
        invocation_record(event_value("ttl-remove.json")),
    )
    .await;
    // The same shape with the payload as a JSON string.
    put(
        &servers,
        &format!("{PREFIX}b-string"),
        invocation_record(Value::String(sessions_event(30))),
    )
    .await;
    // A plain stream event.
    put(
        &servers,
        &format!("{PREFIX}c-plain"),
        read_event("mixed.json"),
    )
    .await;
    // Not JSON at all.
    put(
        &servers,
        &format!("{PREFIX}d-garbage"),
        "PK,ExpirationTime\nSESSION#1,1700000000\n".into(),
    )
    .await;
    // Records that cannot be archived (no old image): the object stays.
    put(
        &servers,
        &format!("{PREFIX}e-partial"),
        invocation_record(event_value("no-old-image.json")),
    )
    .await;

    let (code, out) = redrive(&servers, &[&source]);
    assert_eq!(code, 1, "something remains, so the exit status says so");
    // mixed.json (c-plain) holds deletions of two of a-object's keys: whichever object goes
    // first, the other finds some of them archived already.
    let line = |object: &str| {
        out.lines()
            .find(|l| l.contains(&format!("/{object}: ")))
            .unwrap_or_else(|| panic!("no line for {object}: {out}"))
    };
    assert!(line("a-object").contains("a-object: 3 archived"), "{out}");
    assert!(
        line("a-object").contains(" 0 skipped, 0 failed; moved to"),
        "{out}"
    );
    assert!(out.contains("b-string: 30 archived"), "{out}");
    assert!(line("c-plain").contains("c-plain: 2 archived"), "{out}");
    assert!(line("c-plain").contains(" 4 skipped, 0 failed"), "{out}");
    assert!(out.contains("d-garbage: error: not JSON"), "{out}");
    assert!(
        out.contains(
            "e-partial: 0 archived, 0 skipped, 2 failed; kept; remaining: 1000000000000000000100"
        ),
        "{out}"
    );
    assert!(out.contains("summary: 5 objects (3 done, 2 kept, 1 unreadable); 35 records archived, 4 skipped, 2 failed"), "{out}");
    // a-object and c-plain share two keys: 3 + 30 distinct sessions.
    assert_eq!(archive_size(&servers).await, 33);
    let expected_keys: Vec<String> = vec![
        format!("{PREFIX}d-garbage"),
        format!("{PREFIX}e-partial"),
        format!("redriven/{PREFIX}a-object"),
        format!("redriven/{PREFIX}b-string"),
        format!("redriven/{PREFIX}c-plain"),
    ];
    assert_eq!(keys(&servers).await, expected_keys);

    // A second run over the whole bucket sees only what is left, never what is under redriven/.
    let (code, out) = redrive(&servers, &[&format!("s3://{BUCKET}")]);
    assert_eq!(code, 1);
    assert!(
        out.contains("summary: 2 objects (0 done, 2 kept, 1 unreadable)"),
        "{out}"
    );
    assert!(!out.contains("a-object"), "{out}");
}

#[tokio::test]
async fn dry_run_writes_nothing_and_moves_nothing() {
    let Some(servers) = servers().await else {
        return;
    };
    put(
        &servers,
        &format!("{PREFIX}a-object"),
        invocation_record(event_value("mixed.json")),
    )
    .await;
    let (code, out) = redrive(&servers, &["--dry-run", &format!("s3://{BUCKET}/{PREFIX}")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "a-object: parked: RetryAttemptsExhausted after 11 invocations, 2026-11-24T10:00:00.000Z; \
             would archive 2, already archived 0, newer archived 0, skip 4, cannot archive 0\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "\n  1000000000000000000200 {\"PK\":{\"S\":\"SESSION#a1f3\"}} deleted 2026-11-18T11:06:42Z: would archive\n"
        ),
        "the key and when TTL deleted it (1795000002): {out}"
    );
    assert!(
        out.contains("summary: 1 object (0 unreadable); 2 records would be archived, 0 already archived, 0 newer archived, 4 skipped, 0 cannot be archived"),
        "{out}"
    );
    assert_eq!(archive_size(&servers).await, 0);
    assert_eq!(keys(&servers).await, [format!("{PREFIX}a-object")]);
}

#[tokio::test]
async fn delete_removes_objects_once_archived() {
    let Some(servers) = servers().await else {
        return;
    };
    put(
        &servers,
        &format!("{PREFIX}a-object"),
        invocation_record(event_value("ttl-remove.json")),
    )
    .await;
    let (code, out) = redrive(&servers, &["--delete", &format!("s3://{BUCKET}/{PREFIX}")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("; deleted"), "{out}");
    assert!(keys(&servers).await.is_empty());
    assert_eq!(archive_size(&servers).await, 3);
}

#[tokio::test]
async fn event_files_from_disk() {
    let Some(servers) = servers().await else {
        return;
    };
    let file = repo_path("events/ttl-remove.json");
    let (code, out) = redrive(&servers, &[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 archived, 0 skipped, 0 failed"), "{out}");
    assert_eq!(archive_size(&servers).await, 3);
}

/// The redrive reads the archive settings the function reads: with a retention, what it
/// archives expires like what the function archives.
#[tokio::test]
async fn a_retention_applies_to_what_the_redrive_archives() {
    let Some(servers) = servers().await else {
        return;
    };
    let file = repo_path("events/ttl-remove.json");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let before = now();
    let (code, out) = redrive_through(
        &servers,
        &servers.s3_endpoint,
        &[
            ("ARCHIVE_RETENTION_DAYS", "400"),
            ("ARCHIVE_TTL_ATTRIBUTE", "purgeAt"),
        ],
        &[file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    let archive = scan_all(&admin_client(&servers.db.endpoint).await, "archive").await;
    assert_eq!(archive.len(), 3);
    let window = before + 400 * 86_400..=now() + 400 * 86_400;
    for item in archive {
        let expires: u64 = item["purgeAt"].as_n().unwrap().parse().unwrap();
        assert!(window.contains(&expires), "{expires} outside {window:?}");
    }
}

#[tokio::test]
async fn missing_configuration_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-redrive"))
        .arg("s3://bucket")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("TABLE_NAME"));
}

/// The first session of events/ttl-remove.json, alone: `newer` as in the file, or an older TTL
/// deletion of the same key (an hour earlier, a lower sequence number, another CreationTime).
fn one_session(newer: bool) -> Value {
    let mut event = event_value("ttl-remove.json");
    let records = event["Records"].as_array_mut().unwrap();
    records.truncate(1);
    if !newer {
        let change = &mut records[0]["dynamodb"];
        change["ApproximateCreationDateTime"] = json!(1_794_996_401);
        change["SequenceNumber"] = json!("900000000000000000100");
        change["OldImage"]["CreationTime"] = json!({"N": "1600000000"});
    }
    event
}

/// Archives `event` as the function does (unconditional BatchWriteItem).
async fn archive_live(servers: &Servers, event: &Value) {
    let archiver = Archiver::new(
        &support::config(&[]),
        archive_client(&servers.db.endpoint).await,
    );
    let outcome = archiver
        .process(
            StreamBatch::from_json(&event.to_string()).unwrap(),
            tokio::time::Instant::now() + std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
}

/// The function archives one version of a session, then the redrive replays the other from the
/// bucket; returns the redrive's output line for the object and the CreationTime archived.
async fn replay_after_live(servers: &Servers, live_is_newer: bool) -> (String, String) {
    archive_live(servers, &one_session(live_is_newer)).await;
    put(
        servers,
        &format!("{PREFIX}replayed"),
        invocation_record(one_session(!live_is_newer)),
    )
    .await;
    let (code, out) = redrive(servers, &[&format!("s3://{BUCKET}/{PREFIX}")]);
    assert_eq!(code, 0, "{out}");
    let items = scan_all(&admin_client(&servers.db.endpoint).await, "archive").await;
    assert_eq!(items.len(), 1);
    (out, items[0]["CreationTime"].as_n().unwrap().clone())
}

/// The CreationTime of the newer session version (the older one has 1600000000).
const NEWER_CREATION_TIME: &str = "1794990001";

#[tokio::test]
async fn a_redrive_never_puts_an_older_version_over_a_newer_one() {
    let Some(servers) = servers().await else {
        return;
    };
    // The shard moved on: a later TTL deletion of the key is archived by the function first.
    let (out, archived) = replay_after_live(&servers, true).await;
    assert!(
        out.contains(
            "replayed: 1 archived (1 already in the archive at this or a newer version), 0 skipped, 0 failed; moved to"
        ),
        "{out}"
    );
    assert_eq!(archived, NEWER_CREATION_TIME, "the newer version stays");
}

#[tokio::test]
async fn a_redrive_replaces_an_older_version() {
    let Some(servers) = servers().await else {
        return;
    };
    let (out, archived) = replay_after_live(&servers, false).await;
    assert!(
        out.contains("replayed: 1 archived, 0 skipped, 0 failed"),
        "{out}"
    );
    assert_eq!(
        archived, NEWER_CREATION_TIME,
        "replaced by the newer version"
    );
}

/// AWS returns the item a refused conditional put found (`ALL_OLD`); dynalite does not, and the
/// proxy adds it as AWS would. The redrive then judges that item without reading it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_put_is_judged_on_the_item_aws_returns_with_it() {
    let Some(servers) = servers().await else {
        return;
    };
    archive_live(&servers, &one_session(true)).await;
    put(
        &servers,
        &format!("{PREFIX}replayed"),
        invocation_record(one_session(false)),
    )
    .await;
    let proxy = FaultProxy::start_for(
        &servers.db.endpoint,
        support::proxy::is_archive_write,
        |_, _| Fault::Pass,
    )
    .await;
    let endpoint = proxy.endpoint.clone();
    let s3 = servers.s3_endpoint.clone();
    let (code, out) = tokio::task::block_in_place(|| {
        redrive_through(
            &servers,
            &s3,
            &[("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)],
            &[&format!("s3://{BUCKET}/{PREFIX}")],
        )
    });
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 archived (1 already in the archive at this or a newer version)"),
        "{out}"
    );
    let stats = proxy.stats();
    assert_eq!(stats.refusals_with_item, 1, "{stats:?}");
    assert_eq!(
        stats.reads, 0,
        "judged on the item returned, not read again"
    );
}

/// Sets the archived session's `ArchiveVersion` to `value`, as an item written by other means.
async fn set_archived_version(servers: &Servers, value: aws_sdk_dynamodb::types::AttributeValue) {
    let key = one_session(true)["Records"][0]["dynamodb"]["Keys"]["PK"]["S"]
        .as_str()
        .unwrap()
        .to_owned();
    admin_client(&servers.db.endpoint)
        .await
        .update_item()
        .table_name("archive")
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(key))
        .update_expression("SET ArchiveVersion = :v")
        .expression_attribute_values(":v", value)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_version_the_archiver_does_not_write_fails_the_record_and_keeps_the_object() {
    let Some(servers) = servers().await else {
        return;
    };
    archive_live(&servers, &one_session(true)).await;
    // A number where the archiver writes a binary: the condition fails for that reason alone.
    set_archived_version(
        &servers,
        aws_sdk_dynamodb::types::AttributeValue::N("99999999999999".into()),
    )
    .await;
    let key = format!("{PREFIX}replayed");
    put(&servers, &key, invocation_record(one_session(false))).await;
    let (code, out) = redrive(&servers, &[&format!("s3://{BUCKET}/{PREFIX}")]);
    assert_eq!(code, 1, "a record was not archived: {out}");
    assert!(
        out.contains("0 archived, 0 skipped, 1 failed; kept"),
        "{out}"
    );
    assert!(
        out.contains("is not a version this archiver writes (a number)"),
        "{out}"
    );
    assert!(!out.contains("99999999999999"), "no value quoted: {out}");
    assert_eq!(keys(&servers).await, [key], "the object stays");
}

#[tokio::test]
async fn a_version_an_earlier_release_wrote_as_a_string_still_orders_the_replay() {
    let Some(servers) = servers().await else {
        return;
    };
    // The live (newer) deletion archived by a release that stored decimal versions.
    archive_live(&servers, &one_session(true)).await;
    let live = one_session(true);
    let change = &live["Records"][0]["dynamodb"];
    let legacy = ttl_archiver::archive::version::archive_version(
        change["ApproximateCreationDateTime"].as_i64().unwrap(),
        change["SequenceNumber"].as_str().unwrap(),
    )
    .unwrap()
    .legacy_text();
    set_archived_version(&servers, aws_sdk_dynamodb::types::AttributeValue::S(legacy)).await;
    put(
        &servers,
        &format!("{PREFIX}replayed"),
        invocation_record(one_session(false)),
    )
    .await;
    let (code, out) = redrive(&servers, &[&format!("s3://{BUCKET}/{PREFIX}")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 archived (1 already in the archive at this or a newer version)"),
        "{out}"
    );
    let items = scan_all(&admin_client(&servers.db.endpoint).await, "archive").await;
    assert_eq!(
        items[0]["CreationTime"].as_n().unwrap(),
        NEWER_CREATION_TIME
    );
}

/// A parked record without its creation time (a truncated or hand-edited object) cannot be
/// ordered: judged as second 0 it would pass for "a newer version is archived" against any
/// versioned item, and its object would be moved as done.
#[tokio::test]
async fn a_record_without_its_creation_time_is_reported_and_its_object_kept() {
    let Some(servers) = servers().await else {
        return;
    };
    archive_live(&servers, &one_session(true)).await;
    let mut timeless = one_session(false);
    timeless["Records"][0]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("ApproximateCreationDateTime");
    let key = format!("{PREFIX}timeless");
    put(&servers, &key, invocation_record(timeless)).await;
    let (code, out) = redrive(&servers, &[&format!("s3://{BUCKET}/{PREFIX}")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("0 archived, 0 skipped, 1 failed; kept; remaining: 900000000000000000100 (the record has no ApproximateCreationDateTime"),
        "{out}"
    );
    assert_eq!(keys(&servers).await, [key], "the object stays");
}

fn is_copy(parts: &hyper::http::request::Parts) -> bool {
    parts.headers.contains_key("x-amz-copy-source")
}

// Multi-threaded: the proxy runs in this runtime while the test waits for the redrive process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_cannot_be_marked_done_makes_the_exit_status_1() {
    let Some(servers) = servers().await else {
        return;
    };
    put(
        &servers,
        &format!("{PREFIX}a-object"),
        invocation_record(event_value("ttl-remove.json")),
    )
    .await;
    let proxy =
        FaultProxy::start_for(&servers.s3_endpoint, is_copy, |_, _| Fault::ServerError).await;
    let (code, out) = redrive_through(
        &servers,
        &proxy.endpoint,
        &[],
        &[&format!("s3://{BUCKET}/{PREFIX}")],
    );
    assert!(
        out.contains("archived, but could not be marked done"),
        "{out}"
    );
    assert_eq!(
        code, 1,
        "the object remains, so the exit status says so: {out}"
    );
    assert_eq!(keys(&servers).await, [format!("{PREFIX}a-object")]);
    assert_eq!(archive_size(&servers).await, 3);
}

#[test]
fn a_timeout_beyond_a_day_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-redrive"))
        .args(["--timeout", "18446744073709551615", "s3://bucket"])
        .env_clear()
        .env("TABLE_NAME", "archive")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--timeout"));
}

/// The redrive with only `env` (and TABLE_NAME), on a file; returns status, stdout, stderr, time.
fn redrive_with(
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String, std::time::Duration) {
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-redrive"))
        .args(args)
        .env_clear()
        .env("TABLE_NAME", "archive")
        .env("HOME", std::env::temp_dir())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn without_a_region_or_credentials_it_fails_at_once_saying_what_is_missing() {
    let file = repo_path("events/ttl-remove.json");
    let file = file.to_str().unwrap();
    let (code, _, err, took) = redrive_with(&[], &[file]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no AWS Region") && err.contains("AWS_REGION"),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");

    let (code, _, err, took) = redrive_with(
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        &[file],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no AWS credentials") && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    assert!(!err.contains("WARN"), "no warnings from the SDK: {err}");
}

#[test]
fn an_unreachable_dynamodb_is_named_with_its_cause_within_the_timeout() {
    let file = repo_path("events/ttl-remove.json");
    let closed = format!("http://127.0.0.1:{}", support::server::free_port());
    let (code, out, err, took) = redrive_with(
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &closed),
        ],
        &["--timeout", "2", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "stopped before the first object: {out}{err}");
    assert!(took < std::time::Duration::from_secs(6), "took {took:?}");
    assert!(
        err.contains(&format!("connection to {closed} failed: ")),
        "the endpoint tried is named: {err}"
    );
    assert!(
        err.to_lowercase().contains("connect"),
        "the cause is named: {err}"
    );
    assert!(
        !err.contains("invocation"),
        "a command line has no invocation: {err}"
    );
}

/// `n` TTL removals of sessions no other object holds (`SESSION#<tag>-...`).
fn tagged_sessions(tag: &str, n: usize) -> String {
    sessions_event(n).replace("SESSION#", &format!("SESSION#{tag}-"))
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test]
async fn many_objects_at_once_keep_each_line_whole_and_the_totals_exact() {
    let Some(servers) = servers().await else {
        return;
    };
    const GOOD: usize = 30;
    const RECORDS: usize = 40;
    for i in 0..GOOD {
        let body = invocation_record(Value::String(tagged_sessions(&format!("{i:02}"), RECORDS)));
        put(&servers, &format!("{PREFIX}good-{i:02}"), body).await;
    }
    for name in ["partial-1", "partial-2"] {
        let body = invocation_record(event_value("no-old-image.json"));
        put(&servers, &format!("{PREFIX}{name}"), body).await;
    }
    for name in ["garbage-1", "garbage-2"] {
        put(&servers, &format!("{PREFIX}{name}"), "not a batch".into()).await;
    }
    let source = format!("s3://{BUCKET}/{PREFIX}");

    // Readable lines first, in a dry run: one whole line per object, then the summary.
    let (code, out) = redrive(&servers, &["--dry-run", "--parallel", "6", &source]);
    assert_eq!(code, 1, "records that cannot be archived: {out}");
    // Each object's block is whole: its line, then its records' lines, indented.
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(lines.len(), GOOD + 5, "{out}");
    let records: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(records.len(), GOOD * RECORDS + 4, "{out}");
    let mut current = "";
    for line in out.lines() {
        match line.strip_prefix("  ") {
            None => current = line.split(": ").next().unwrap(),
            Some(record) if current.contains("/good-") => {
                let tag = &current[current.len() - 2..];
                assert!(
                    record.contains(&format!("SESSION#{tag}-")),
                    "{current}: {record}"
                );
            }
            Some(_) => assert!(current.contains("/partial-"), "{current}: {line}"),
        }
    }
    let (summary, objects) = lines.split_last().unwrap();
    assert!(
        objects
            .iter()
            .all(|line| line.starts_with(&format!("s3://{BUCKET}/{PREFIX}"))
                && (line.contains("; would archive ") || line.contains(": error: "))),
        "{out}"
    );
    assert!(
        summary.starts_with(&format!(
            "summary: {} objects (2 unreadable); {} records would be archived, 0 already archived, 0 newer archived, 0 skipped, 4 cannot be archived",
            GOOD + 4,
            GOOD * RECORDS
        )),
        "{summary}"
    );

    // Then for real, as JSON.
    let (code, out) = redrive(&servers, &["--parallel", "6", "--output", "json", &source]);
    assert_eq!(code, 1, "{out}");
    let lines = json_lines(&out);
    let (summary, objects) = lines.split_last().unwrap();
    assert_eq!(objects.len(), GOOD + 4);
    assert!(objects.iter().all(|o| o["type"] == "object"), "{out}");
    let mut names: Vec<&str> = objects
        .iter()
        .map(|o| o["object"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), GOOD + 4, "each object reported once");
    let count = |status: &str| objects.iter().filter(|o| o["status"] == status).count();
    assert_eq!(
        (count("done"), count("kept"), count("unreadable")),
        (GOOD, 2, 2)
    );
    let sum = |field: &str| -> u64 {
        objects
            .iter()
            .map(|o| {
                o[field]
                    .as_u64()
                    .unwrap_or_else(|| o[field].as_array().unwrap().len() as u64)
            })
            .sum()
    };
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["objects"], (GOOD + 4) as u64);
    assert_eq!(summary["done"], GOOD as u64);
    assert_eq!(summary["kept"], 4);
    assert_eq!(summary["unreadable"], 2);
    assert_eq!(summary["archived"], sum("archived"));
    assert_eq!(summary["archived"], (GOOD * RECORDS) as u64);
    assert_eq!(summary["failed"], sum("failed"));
    assert_eq!(summary["failed"], 4);
    assert_eq!(summary["exit_status"], 1);
    for object in objects.iter().filter(|o| o["status"] == "done") {
        let name = object["object"].as_str().unwrap();
        let key = name.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
        assert_eq!(object["moved_to"], format!("s3://{BUCKET}/redriven/{key}"));
        assert_eq!(object["failed"], json!([]));
    }
    let partial = objects
        .iter()
        .find(|o| o["object"].as_str().unwrap().ends_with("partial-1"))
        .unwrap();
    assert_eq!(partial["failed"].as_array().unwrap().len(), 2);
    assert!(partial["failed"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("OldImage"));
    let garbage = objects
        .iter()
        .find(|o| o["object"].as_str().unwrap().ends_with("garbage-1"))
        .unwrap();
    assert!(garbage["error"].as_str().unwrap().contains("not JSON"));

    assert_eq!(archive_size(&servers).await, GOOD * RECORDS);
    let left: Vec<String> = keys(&servers)
        .await
        .into_iter()
        .filter(|key| !key.starts_with("redriven/"))
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
}

#[tokio::test]
async fn a_flag_wins_over_its_variable() {
    let Some(servers) = servers().await else {
        return;
    };
    let file = repo_path("events/ttl-remove.json");
    let file = file.to_str().unwrap();
    let elsewhere = [("TABLE_NAME", "not-the-archive")];
    let (code, out, err) = redrive_with_stderr(&servers, &servers.s3_endpoint, &elsewhere, &[file]);
    assert_eq!(
        code, 2,
        "the variable alone names a table that does not exist: {out}"
    );
    assert!(
        err.contains("the archive table not-the-archive does not exist"),
        "{err}"
    );
    assert_eq!(archive_size(&servers).await, 0);

    let (code, out) = redrive_through(
        &servers,
        &servers.s3_endpoint,
        &elsewhere,
        &["--table-name", "archive", file],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 archived, 0 skipped, 0 failed"), "{out}");
    assert_eq!(archive_size(&servers).await, 3);
}

#[tokio::test]
async fn a_progress_bar_on_a_terminal_and_none_otherwise() {
    let Some(servers) = servers().await else {
        return;
    };
    let binary = env!("CARGO_BIN_EXE_ttl-archiver-redrive");
    let file = repo_path("events/ttl-remove.json");
    let env = [
        ("TABLE_NAME", "archive"),
        ("AWS_ENDPOINT_URL_DYNAMODB", servers.db.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];

    let piped = Command::new(binary)
        .arg(&file)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("objects"),
        "no bar when stderr is not a terminal: {stderr}"
    );

    // util-linux's script runs the redrive on a pseudo-terminal and copies what it shows.
    let command = format!("{binary} {}", file.display());
    let Ok(on_terminal) = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_clear()
        .envs(env)
        .env("TERM", "xterm")
        .output()
    else {
        return support::missing_tool("script (util-linux)");
    };
    let shown = String::from_utf8_lossy(&on_terminal.stdout);
    assert_eq!(on_terminal.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("1/1 objects, 3 records archived, 0 failed"),
        "{shown:?}"
    );
    assert!(shown.contains("summary: 1 object (1 done"), "{shown:?}");
}

#[test]
fn the_operations_page_shows_the_help_the_tool_prints() {
    let help = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-redrive"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    let page = std::fs::read_to_string(repo_path("docs/operations.md")).unwrap();
    let opening = "`ttl-archiver-redrive --help`:\n\n```text\n";
    let start = page.find(opening).expect("the help in docs/operations.md") + opening.len();
    let shown = &page[start..start + page[start..].find("```").unwrap()];
    assert_eq!(
        shown,
        String::from_utf8_lossy(&help.stdout),
        "paste the new --help into docs/operations.md"
    );
}

#[tokio::test]
async fn a_missing_table_stops_the_dry_run_and_the_run_before_any_object() {
    let Some(servers) = servers().await else {
        return;
    };
    put(
        &servers,
        &format!("{PREFIX}a-object"),
        invocation_record(event_value("ttl-remove.json")),
    )
    .await;
    let source = format!("s3://{BUCKET}/{PREFIX}");
    for dry_run in [true, false] {
        let mut args = vec!["--table-name", "no-such-table", source.as_str()];
        if dry_run {
            args.insert(0, "--dry-run");
        }
        let (code, out, err) = redrive_with_stderr(&servers, &servers.s3_endpoint, &[], &args);
        assert_eq!(code, 2, "dry run {dry_run}: {out}{err}");
        let named = "ttl-archiver-redrive: the archive table no-such-table does not exist in \
                     us-east-1 (TABLE_NAME or --table-name); ";
        if dry_run {
            assert!(
                err.contains(&format!("{named}the dry run lists what is parked, none of it archivable until this is fixed")),
                "{err}"
            );
            assert!(
                out.contains("would archive 0, already archived 0, newer archived 0, skip 0, cannot archive 3")
                    && out.contains("SESSION#c3d5\"}} deleted 2026-11-18T11:06:43Z: cannot archive (the archive table no-such-table does not exist"),
                "what is parked, and why none of it can be archived yet: {out}"
            );
        } else {
            assert!(
                err.contains(&format!("{named}nothing was read, written or moved")),
                "{err}"
            );
            assert!(out.is_empty(), "no object line, no summary: {out}");
        }
    }
    assert_eq!(keys(&servers).await, [format!("{PREFIX}a-object")]);
}

/// The dry run and the run on the same state, object by object: the dry run's would archive,
/// already and newer archived add up to what the run archives, the last two to what it found
/// in place, and both name the same records as failing. The objects hold no key another one
/// writes (a run takes them in turn and would see the earlier one's writes; the records are
/// archived either way, counted in the other column).
#[tokio::test]
async fn the_dry_run_says_record_by_record_what_the_run_then_does() {
    let Some(servers) = servers().await else {
        return;
    };
    // The archive holds SESSION#a1f3 at its deletion of 1795000001 (sequence number 100).
    archive_live(&servers, &one_session(true)).await;
    let objects = [
        ("b-older", one_session(false)),
        ("c-sessions", event_value("ttl-remove.json")),
        ("d-no-old-image", event_value("no-old-image.json")),
    ];
    for (name, event) in &objects {
        put(
            &servers,
            &format!("{PREFIX}{name}"),
            invocation_record(event.clone()),
        )
        .await;
    }
    let source = format!("s3://{BUCKET}/{PREFIX}");
    let before = scan_all(&admin_client(&servers.db.endpoint).await, "archive").await;

    let (code, text) = redrive(&servers, &["--dry-run", "--parallel", "1", &source]);
    assert_eq!(code, 1, "records that cannot be archived: {text}");
    assert!(
        text.contains("b-older: parked: RetryAttemptsExhausted after 11 invocations, 2026-11-24T10:00:00.000Z; would archive 0, already archived 0, newer archived 1, skip 0, cannot archive 0\n  900000000000000000100 {\"PK\":{\"S\":\"SESSION#a1f3\"}} deleted 2026-11-18T10:06:41Z: newer archived\n"),
        "{text}"
    );
    for line in [
        "  1000000000000000000100 {\"PK\":{\"S\":\"SESSION#a1f3\"}} deleted 2026-11-18T11:06:41Z: already archived",
        "  1000000000000000000200 {\"PK\":{\"S\":\"SESSION#b2e4\"}} deleted 2026-11-18T11:06:42Z: would archive",
        "  1000000000000000000300 {\"PK\":{\"S\":\"SESSION#c3d5\"}} deleted 2026-11-18T11:06:43Z: would archive",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    let (_, dry) = redrive(
        &servers,
        &["--dry-run", "--output", "json", "--parallel", "1", &source],
    );
    assert_eq!(
        scan_all(&admin_client(&servers.db.endpoint).await, "archive").await,
        before,
        "a dry run writes nothing"
    );
    let (_, run) = redrive(&servers, &["--output", "json", "--parallel", "1", &source]);

    let by_object = |out: &str| -> BTreeMap<String, Value> {
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "object")
            .map(|v| (v["object"].as_str().unwrap().to_owned(), v))
            .collect()
    };
    let (dry, run) = (by_object(&dry), by_object(&run));
    assert_eq!(dry.len(), objects.len(), "{dry:?}");
    let failing = |v: &Value| -> Vec<String> {
        v["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["sequence_number"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut compared = BTreeMap::new();
    for (object, d) in &dry {
        let r = &run[object];
        let count =
            |v: &Value, field: &str| v[field].as_u64().unwrap_or_else(|| panic!("{field}: {v}"));
        let would = d["would_archive"].as_array().unwrap().len() as u64;
        let found = count(d, "already_archived") + count(d, "newer_archived");
        assert_eq!(would + found, count(r, "archived"), "{object}: {d} / {r}");
        assert_eq!(found, count(r, "newer_kept"), "{object}: {d} / {r}");
        assert_eq!(count(d, "skipped"), count(r, "skipped"), "{object}");
        assert_eq!(failing(d), failing(r), "{object}");
        compared.insert(
            object.rsplit('/').next().unwrap().to_owned(),
            (would, found, failing(d).len()),
        );
    }
    assert_eq!(
        compared,
        BTreeMap::from([
            ("b-older".to_owned(), (0, 1, 0)),
            ("c-sessions".to_owned(), (2, 1, 0)),
            ("d-no-old-image".to_owned(), (0, 0, 2)),
        ]),
        "the state exercises every verdict"
    );
}
