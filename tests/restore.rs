//! `ttl-archiver-restore`, the built binary, against dynalite (and moto's DynamoDB where the
//! source table's TTL matters: dynalite always answers DISABLED).
#![cfg(feature = "operator")]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveSpecification};
use aws_sdk_dynamodb::Client;
use serde_json::Value;
use support::dynalite::{admin_client, create_table, scan_all, Dynalite};
use support::items::Item;
use support::server::{moto, LocalServer};
use ttl_archiver::archive::version::archive_version;

const FIRST_SECOND: i64 = 1_795_000_000;

struct Tables {
    endpoint: String,
    client: Client,
    _server: Server,
}

enum Server {
    Dynalite(#[allow(dead_code)] Dynalite),
    Moto(#[allow(dead_code)] LocalServer),
}

/// An archive and a source table, keyed `pk` (S); the archive holds `n` items deleted one
/// second apart from FIRST_SECOND, each with its version and archive time.
async fn tables(n: usize) -> Option<Tables> {
    let db = Dynalite::start()?;
    let client = admin_client(&db.endpoint).await;
    create_table(&client, "archive", &[("pk", "S")]).await;
    create_table(&client, "source", &[("pk", "S")]).await;
    let tables = Tables {
        endpoint: db.endpoint.clone(),
        client,
        _server: Server::Dynalite(db),
    };
    tables.archive_items(0..n).await;
    Some(tables)
}

fn archived_item(i: usize) -> Item {
    let version =
        archive_version(FIRST_SECOND + i as i64, &format!("44215845{:020}", i + 1)).unwrap();
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("USER#{i:05}"))),
        ("data".to_owned(), AttributeValue::S(format!("item {i}"))),
        ("ArchiveVersion".to_owned(), version.attribute_value()),
        (
            "ArchivedAt".to_owned(),
            AttributeValue::N((FIRST_SECOND + 60).to_string()),
        ),
    ])
}

fn key(i: usize) -> String {
    format!("pk=USER#{i:05}")
}

impl Tables {
    async fn archive_items(&self, range: std::ops::Range<usize>) {
        let items: Vec<Item> = range.map(archived_item).collect();
        for chunk in items.chunks(25) {
            let writes = chunk
                .iter()
                .map(|item| {
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(
                            aws_sdk_dynamodb::types::PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect();
            let mut pending = Some(HashMap::from([("archive".to_owned(), writes)]));
            while let Some(request) = pending.filter(|p| !p.is_empty()) {
                let answer = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(request))
                    .send()
                    .await
                    .unwrap();
                pending = answer.unprocessed_items;
            }
        }
    }

    async fn items(&self, table: &str) -> Vec<Item> {
        let mut items = scan_all(&self.client, table).await;
        items.sort_by_key(|item| item["pk"].as_s().unwrap().clone());
        items
    }

    async fn put(&self, table: &str, item: Item) {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    /// Runs the restore with the archive `archive` and the source `source`, and `args`, as the
    /// incident recipe (docs/operations.md) does: no attribute settings.
    fn restore(&self, args: &[&str]) -> (i32, String, String) {
        self.restore_with(&[], args)
    }

    /// Runs the restore with the settings `vars` as variables.
    fn restore_with(&self, vars: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-restore"))
            .args(["--table-name", "archive", "--source-table", "source"])
            .args(args)
            .env_clear()
            .envs(vars.iter().copied())
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run ttl-archiver-restore");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        );
        eprintln!("stdout:\n{stdout}\nstderr:\n{stderr}");
        (status.code().unwrap_or(-1), stdout, stderr)
    }
}

fn summary(stdout: &str) -> Value {
    let line = stdout.lines().last().expect("a summary line");
    let summary: Value = serde_json::from_str(line).expect("a JSON summary");
    assert_eq!(summary["type"], "summary");
    summary
}

fn pks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn by_key_the_item_comes_back_marked_by_its_version_without_the_stamps_named() {
    let Some(t) = tables(5).await else { return };
    let (code, stdout, _) =
        t.restore(&["--key", &key(1), "--key", r#"{"pk": {"S": "USER#00003"}}"#]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(r#"{"pk":{"S":"USER#00001"}}: restored"#),
        "{stdout}"
    );
    assert!(stdout.contains("summary: 2 items (2 restored"), "{stdout}");
    let source = t.items("source").await;
    assert_eq!(pks(&source), ["USER#00001", "USER#00003"]);
    assert_eq!(
        source[0],
        archived_item(1),
        "without the settings, the archived item whole: the stamp stays beside the version"
    );

    let (code, _, _) = t.restore_with(
        &[("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt")],
        &["--key", &key(2)],
    );
    assert_eq!(code, 0);
    let mut want = archived_item(2);
    want.remove("ArchivedAt");
    assert_eq!(
        t.items("source").await[1],
        want,
        "the stamp named goes, the version stays, the data whole"
    );
    assert_eq!(
        t.items("archive").await.len(),
        5,
        "the archive keeps its copies"
    );
}

#[tokio::test]
async fn a_key_not_in_the_archive_is_said_and_makes_the_status_1() {
    let Some(t) = tables(2).await else { return };
    let (code, stdout, _) = t.restore(&["--key", "pk=USER#99999", "--key", &key(0)]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(r#"{"pk":{"S":"USER#99999"}}: not in the archive"#),
        "{stdout}"
    );
    assert_eq!(pks(&t.items("source").await), ["USER#00000"]);
}

#[tokio::test]
async fn a_key_file_a_deletion_window_and_the_whole_archive_in_segments() {
    let Some(t) = tables(40).await else { return };
    let file = std::env::temp_dir().join(format!("restore-keys-{}", std::process::id()));
    std::fs::write(&file, format!("# incident 42\n{}\n\n{}\n", key(2), key(4))).unwrap();
    let (code, _, _) = t.restore(&["--keys-file", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, 0);
    assert_eq!(pks(&t.items("source").await), ["USER#00002", "USER#00004"]);

    // Items 10 to 14 were deleted from FIRST_SECOND + 10 to + 14.
    let (from, to) = (
        (FIRST_SECOND + 10).to_string(),
        (FIRST_SECOND + 14).to_string(),
    );
    let (code, stdout, _) = t.restore(&["--deleted-between", &from, &to, "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(summary(&stdout)["restored"], 5);
    assert_eq!(t.items("source").await.len(), 7);

    let (code, stdout, _) = t.restore(&["--all", "--segments", "4", "--output", "json"]);
    assert_eq!(code, 0);
    let summary = summary(&stdout);
    assert_eq!(
        (summary["items"].as_u64(), summary["restored"].as_u64()),
        (Some(40), Some(33))
    );
    assert_eq!(summary["present"], 7, "what is there already is left alone");
    assert_eq!(t.items("source").await.len(), 40);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.iter().filter(|l| l["type"] == "item").count(),
        40,
        "each item once"
    );
}

/// Items of an earlier release's archive: their version is the decimal string, or they have
/// none (archived before versions, or near 400 KB).
#[tokio::test]
async fn a_deletion_window_selects_legacy_versions_and_reports_the_unversioned() {
    let Some(t) = tables(0).await else { return };
    // 2026-12-01 (1796083200) and the day after; legacy items at 08:00 and 23:59:59 of the
    // first day, one the next day, and two without a version.
    let day = 1_796_083_200i64;
    let legacy = |i: usize, second: i64| {
        let mut item = archived_item(i);
        let version = archive_version(second, &format!("{}", 900 + i)).unwrap();
        item.insert(
            "ArchiveVersion".into(),
            AttributeValue::S(version.legacy_text()),
        );
        item
    };
    t.put("archive", legacy(1, day + 8 * 3600)).await;
    t.put("archive", legacy(2, day + 86_399)).await;
    t.put("archive", legacy(3, day + 86_400)).await;
    for i in [4, 5] {
        let mut bare = archived_item(i);
        bare.remove("ArchiveVersion");
        bare.remove("ArchivedAt");
        t.put("archive", bare).await;
    }
    let mut binary = archived_item(6);
    binary.insert(
        "ArchiveVersion".into(),
        archive_version(day + 60, "7").unwrap().attribute_value(),
    );
    t.put("archive", binary).await;

    let (code, stdout, _) = t.restore(&[
        "--deleted-between",
        "2026-12-01",
        "2026-12-01",
        "--output",
        "json",
    ]);
    assert_eq!(code, 1, "items of unknown deletion time need a look");
    assert_eq!(
        pks(&t.items("source").await),
        ["USER#00001", "USER#00002", "USER#00006"],
        "the whole day, legacy and binary versions alike"
    );
    let summary = summary(&stdout);
    assert_eq!(summary["restored"], 3);
    assert_eq!(summary["unknown_deletion_time"], 2);
    let unknown: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("unknown_deletion_time"))
        .filter(|line| line.contains(r#""type":"item""#))
        .collect();
    assert_eq!(unknown.len(), 2, "{stdout}");
    assert!(
        unknown.iter().any(|line| line.contains("USER#00004")),
        "{stdout}"
    );

    // The legacy copy is removed when asked: the condition compares the string as stored.
    let (code, stdout, _) = t.restore(&["--key", &key(3), "--remove-from-archive"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("restored, removed from the archive"),
        "{stdout}"
    );
    assert!(!pks(&t.items("archive").await).contains(&"USER#00003".to_owned()));
}

#[tokio::test]
async fn a_live_item_is_never_overwritten_without_overwrite() {
    let Some(t) = tables(3).await else { return };
    let live = HashMap::from([
        ("pk".to_owned(), AttributeValue::S("USER#00001".into())),
        ("data".to_owned(), AttributeValue::S("created since".into())),
    ]);
    t.put("source", live.clone()).await;
    let (code, stdout, _) = t.restore(&["--all"]);
    assert_eq!(code, 0, "present is not a failure: a run again is harmless");
    assert!(
        stdout.contains(r#"{"pk":{"S":"USER#00001"}}: present, left alone"#),
        "{stdout}"
    );
    assert_eq!(t.items("source").await[1], live);

    // With --overwrite: a live item without a version cannot say where it came from; replaced.
    let (code, _, _) = t.restore(&["--key", &key(1), "--overwrite"]);
    assert_eq!(code, 0);
    assert_eq!(
        t.items("source").await[1]["data"],
        AttributeValue::S("item 1".into())
    );

    // A live item holding a newer archiver version is left alone even with --overwrite.
    let mut newer = live.clone();
    newer.insert(
        "ArchiveVersion".into(),
        archive_version(FIRST_SECOND + 1_000, "9")
            .unwrap()
            .attribute_value(),
    );
    t.put("source", newer.clone()).await;
    let (code, stdout, _) = t.restore(&["--key", &key(1), "--overwrite"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("present with the same or a newer version, left alone"),
        "{stdout}"
    );
    assert_eq!(t.items("source").await[1], newer);

    // An older version as an earlier release's decimal string is replaced: the condition
    // compares it as a string (a binary never compares with one).
    let mut legacy = live.clone();
    legacy.insert(
        "ArchiveVersion".into(),
        AttributeValue::S(
            archive_version(FIRST_SECOND - 1_000, "9")
                .unwrap()
                .legacy_text(),
        ),
    );
    t.put("source", legacy).await;
    let (code, stdout, _) = t.restore(&["--key", &key(1), "--overwrite"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(": restored"), "{stdout}");
    assert_eq!(
        t.items("source").await[1]["data"],
        AttributeValue::S("item 1".into())
    );
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_a_second_run_restores_nothing_new() {
    let Some(t) = tables(4).await else { return };
    t.put(
        "source",
        HashMap::from([("pk".to_owned(), AttributeValue::S("USER#00000".into()))]),
    )
    .await;
    let (code, stdout, _) = t.restore(&["--all", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(r#"{"pk":{"S":"USER#00003"}}: would restore"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"{"pk":{"S":"USER#00000"}}: present, would be left alone"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 would be restored, 1 present"),
        "{stdout}"
    );
    assert_eq!(t.items("source").await.len(), 1, "nothing written");

    let (_, first, _) = t.restore(&["--all", "--output", "json"]);
    assert_eq!(summary(&first)["restored"], 3);
    let (code, again, _) = t.restore(&["--all", "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(
        (
            summary(&again)["restored"].as_u64(),
            summary(&again)["present"].as_u64()
        ),
        (Some(0), Some(4))
    );
}

#[tokio::test]
async fn remove_from_archive_leaves_no_archived_copy_of_what_was_restored() {
    let Some(t) = tables(5).await else { return };
    t.put(
        "source",
        HashMap::from([("pk".to_owned(), AttributeValue::S("USER#00004".into()))]),
    )
    .await;
    let (code, stdout, _) = t.restore(&["--all", "--remove-from-archive", "--segments", "2"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("restored, removed from the archive"),
        "{stdout}"
    );
    assert_eq!(
        pks(&t.items("archive").await),
        ["USER#00004"],
        "only the copy of the item left alone stays"
    );
}

#[tokio::test]
async fn a_key_schema_mismatch_is_refused_before_any_write() {
    let Some(db) = Dynalite::start() else { return };
    let client = admin_client(&db.endpoint).await;
    create_table(&client, "archive", &[("pk", "S")]).await;
    create_table(&client, "source", &[("pk", "S"), ("sk", "N")]).await;
    let t = Tables {
        endpoint: db.endpoint.clone(),
        client,
        _server: Server::Dynalite(db),
    };
    t.archive_items(0..3).await;
    let (code, stdout, stderr) = t.restore(&["--all"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "the key schemas differ: the archive's is pk (S), the source table's pk (S), sk (N)"
        ),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    assert!(t.items("source").await.is_empty());
}

/// An archive and a source in moto's DynamoDB keyed `key` (S), the source with TTL on
/// `ttl_attribute` (dynalite always answers DISABLED).
async fn moto_tables(key: &str, ttl_attribute: &str) -> Option<Tables> {
    let moto = moto()?;
    let client = admin_client(&moto.endpoint).await;
    create_table(&client, "archive", &[(key, "S")]).await;
    create_table(&client, "source", &[(key, "S")]).await;
    client
        .update_time_to_live()
        .table_name("source")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(ttl_attribute)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Some(Tables {
        endpoint: moto.endpoint.clone(),
        client,
        _server: Server::Moto(moto),
    })
}

/// The archive's items keyed `pk`, the source with TTL on `expires`.
async fn tables_with_ttl() -> Option<Tables> {
    let t = moto_tables("pk", "expires").await?;
    t.archive_items(0..2).await;
    Some(t)
}

#[tokio::test]
async fn with_ttl_on_the_source_an_expiry_must_be_chosen_and_is_set_as_asked() {
    let Some(t) = tables_with_ttl().await else {
        return;
    };
    let (code, _, stderr) = t.restore(&["--all"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("TTL on (attribute expires)")
            && stderr.contains("--expires-in DURATION, or --no-expiry"),
        "{stderr}"
    );
    assert!(t.items("source").await.is_empty(), "nothing written");

    let before = now_seconds();
    let (code, _, _) = t.restore(&["--key", &key(0), "--expires-in", "30d"]);
    assert_eq!(code, 0);
    assert_expires_in_30_days(&t.items("source").await[0]["expires"], before);

    let (code, _, _) = t.restore(&["--key", &key(1), "--no-expiry"]);
    assert_eq!(code, 0);
    assert!(!t.items("source").await[1].contains_key("expires"));
}

#[tokio::test]
async fn with_ttl_off_expires_in_needs_the_attribute_named_and_warns() {
    let Some(t) = tables(2).await else { return };
    let (code, _, stderr) = t.restore(&["--all", "--expires-in", "30d"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("TTL off") && stderr.contains("--ttl-attribute NAME"),
        "{stderr}"
    );
    assert!(t.items("source").await.is_empty(), "nothing written");

    let before = now_seconds();
    let (code, _, stderr) = t.restore(&[
        "--all",
        "--ttl-attribute",
        "ExpirationTime",
        "--expires-in",
        "30d",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("ttl-archiver-restore: warning: the source table has TTL off")
            && stderr.contains("only once TTL is on again with attribute ExpirationTime"),
        "{stderr}"
    );
    let restored = t.items("source").await;
    assert_eq!(restored.len(), 2, "both items restored");
    for item in restored {
        assert_expires_in_30_days(&item["ExpirationTime"], before);
    }
    // A key attribute would take the number in place of the item's key; the version attribute
    // is refused by the settings themselves.
    for (taken, refusal) in [
        (
            "pk",
            "names pk, a key attribute or one of the archiver's own",
        ),
        (
            "ArchiveVersion",
            "expected a name different from TTL_ATTRIBUTE's",
        ),
    ] {
        let (code, _, stderr) = t.restore(&[
            "--all",
            "--ttl-attribute",
            taken,
            "--expires-in",
            "30d",
            "--overwrite",
        ]);
        assert_eq!(code, 2, "{taken}: {stderr}");
        assert!(stderr.contains(refusal), "{stderr}");
    }
    assert_eq!(t.items("source").await.len(), 2, "nothing more written");
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `value` is 30 days after `before`, give or take the run's minute.
fn assert_expires_in_30_days(value: &AttributeValue, before: u64) {
    let expires: u64 = value.as_n().unwrap().parse().unwrap();
    assert!(
        (before + 30 * 86_400..=before + 30 * 86_400 + 60).contains(&expires),
        "{expires}"
    );
}

#[tokio::test]
async fn a_ttl_attribute_other_than_the_sources_is_refused() {
    let Some(t) = tables_with_ttl().await else {
        return;
    };
    let (code, _, stderr) = t.restore(&[
        "--all",
        "--ttl-attribute",
        "ExpirationTime",
        "--expires-in",
        "30d",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("names ExpirationTime, but the source table's TTL attribute is expires"),
        "{stderr}"
    );
}

/// The dry run and the run with `--overwrite`, on the same live items, item by item: absent,
/// live without a version, live older (binary and an earlier release's string), live the same,
/// live newer, and a version of another type. DynamoDB judges the run's condition; the dry run
/// must say the same of each.
#[tokio::test]
async fn a_dry_run_with_overwrite_says_item_by_item_what_the_run_does() {
    let Some(t) = tables(7).await else { return };
    let live = |i: usize, version: Option<AttributeValue>| {
        let mut item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("USER#{i:05}"))),
            ("data".to_owned(), AttributeValue::S("live".into())),
        ]);
        if let Some(version) = version {
            item.insert("ArchiveVersion".to_owned(), version);
        }
        item
    };
    let second = |i: usize, offset: i64| FIRST_SECOND + i as i64 + offset;
    // 0: absent.
    t.put("source", live(1, None)).await;
    let older = archive_version(second(2, -1), "9").unwrap();
    t.put("source", live(2, Some(older.attribute_value())))
        .await;
    let older_legacy = archive_version(second(3, -1), "9").unwrap().legacy_text();
    t.put("source", live(3, Some(AttributeValue::S(older_legacy))))
        .await;
    t.put(
        "source",
        live(4, Some(archived_item(4)["ArchiveVersion"].clone())),
    )
    .await;
    let newer = archive_version(second(5, 1), "9").unwrap();
    t.put("source", live(5, Some(newer.attribute_value())))
        .await;
    t.put("source", live(6, Some(AttributeValue::N("1".into()))))
        .await;

    let statuses = |stdout: &str| -> BTreeMap<String, String> {
        stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "item")
            .map(|v| {
                (
                    v["key"]["pk"]["S"].as_str().unwrap().to_owned(),
                    v["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let (code, dry, _) = t.restore(&["--all", "--overwrite", "--dry-run", "--output", "json"]);
    assert_eq!(code, 0);
    let (code, text, _) = t.restore(&["--all", "--overwrite", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(
        text.contains(r#"{"pk":{"S":"USER#00001"}}: present, would be replaced (--overwrite)"#),
        "{text}"
    );
    assert!(
        text.contains("summary: 7 items (4 would be restored, 3 present and would be left alone"),
        "{text}"
    );
    assert_eq!(
        t.items("source").await.len(),
        6,
        "the dry run wrote nothing"
    );
    let (code, run, _) = t.restore(&["--all", "--overwrite", "--output", "json"]);
    assert_eq!(code, 0);
    // What each dry-run status promises the run says.
    let promised = |status: &str| match status {
        "would_restore" | "would_replace" => "restored",
        "would_leave_present" => "present",
        "would_leave_present_newer" => "present_newer",
        other => panic!("{other}"),
    };
    let (dry, run) = (statuses(&dry), statuses(&run));
    let expected: BTreeMap<String, String> = dry
        .iter()
        .map(|(k, v)| (k.clone(), promised(v).to_owned()))
        .collect();
    assert_eq!(run, expected, "dry {dry:?}");
    assert_eq!(
        dry.values().map(String::as_str).collect::<Vec<_>>(),
        [
            "would_restore",
            "would_replace",
            "would_replace",
            "would_replace",
            "would_leave_present_newer",
            "would_leave_present_newer",
            "would_leave_present_newer",
        ],
        "the state exercises each judgement"
    );
}

/// The round trip, as an operator runs it: items archived by the function with an archived-at
/// stamp and a retention, restored with the incident recipe as written (no attribute settings,
/// a deletion window, an expiry), deleted again by TTL (a REMOVE with TTL's identity carrying
/// the restored item), and archived again at the newer version with fresh stamps.
async fn round_trip(global_archive: bool) {
    use support::items::{item_json, sessions_event, ttl_removal, version_of};
    use support::runtime_api::{Function, Outcome, RuntimeApi};

    let Some(binary) = Function::binary() else {
        return;
    };
    // moto: the source needs TTL on for the recipe's --expires-in.
    let Some(t) = moto_tables("PK", "ExpirationTime").await else {
        return;
    };
    let api = RuntimeApi::start().await;
    let mut env = vec![
        ("TABLE_NAME", "archive"),
        ("AWS_ENDPOINT_URL_DYNAMODB", t.endpoint.as_str()),
        ("TTL_ATTRIBUTE", "ExpirationTime"),
        ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
        ("ARCHIVE_RETENTION_DAYS", "30"),
    ];
    if global_archive {
        env.push(("GLOBAL_ARCHIVE", "true"));
    }
    let _function = Function::start(&binary, &api, &env);
    let invoke = |event: String| {
        let api = &api;
        async move {
            let outcome = api.invoke(&event, std::time::Duration::from_secs(10)).await;
            assert_eq!(
                outcome,
                Outcome::Response(serde_json::json!({"batchItemFailures": []})),
                "global archive: {global_archive}"
            );
        }
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    // sessions_event's deletions are at 1795000001 (2026-11-18T11:06:41Z).
    invoke(sessions_event(3)).await;

    // The recipe's steps, as docs/operations.md has them, on these tables and around these
    // deletions.
    let steps = incident_recipe(["2026-11-18T11:00:00Z", "2026-11-18T12:00:00Z"]);
    assert_eq!(steps.len(), 2, "a dry run, then the restore: {steps:?}");
    for step in &steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let (code, stdout, _) = t.restore(&args);
        assert_eq!(code, 0, "{step:?}: {stdout}");
    }
    let restored = scan_all(&t.client, "source").await;
    assert_eq!(restored.len(), 3);

    // TTL deletes them again, a day later.
    let second_archiving = now();
    let records: Vec<Value> = restored
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let image = item_json(item);
            ttl_removal(
                i,
                1_795_086_400 + i as u64,
                &format!("{}", 5_000_000_000_000u64 + i as u64),
                serde_json::json!({"PK": image["PK"]}),
                image,
            )
        })
        .collect();
    let newer: HashMap<String, String> = records
        .iter()
        .map(|r| {
            (
                r["dynamodb"]["Keys"]["PK"]["S"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                version_of(r),
            )
        })
        .collect();
    invoke(serde_json::json!({ "Records": records }).to_string()).await;

    let archive = scan_all(&t.client, "archive").await;
    assert_eq!(archive.len(), 3);
    for item in &archive {
        let pk = item["PK"].as_s().unwrap();
        assert_eq!(
            item_json(item)["ArchiveVersion"]["B"].as_str().unwrap(),
            newer[pk],
            "{pk} holds the newer deletion's version"
        );
        let stamp = |name: &str| -> u64 { item[name].as_n().unwrap().parse().unwrap() };
        let archived_at = stamp("ArchivedAt");
        assert!(
            (second_archiving..=now()).contains(&archived_at),
            "{pk}: a fresh archived-at stamp, not the first archiving's"
        );
        assert_eq!(stamp("ArchiveExpiresAt"), archived_at + 30 * 86_400);
        assert!(
            !item.contains_key("ExpirationTime"),
            "the source's TTL left out"
        );
    }
}

/// The `ttl-archiver-restore` commands of the incident recipe (docs/operations.md, "Restore"), as
/// arguments after the tables (which `Tables::restore` gives), with the recipe's window replaced
/// by `window` and its output redirection left to the test.
fn incident_recipe(window: [&str; 2]) -> Vec<Vec<String>> {
    let page = std::fs::read_to_string(support::repo_path("docs/operations.md")).unwrap();
    let recipe = page
        .split("**The incident recipe.**")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the incident recipe of docs/operations.md");
    let mut commands = Vec::new();
    for command in recipe.replace("\\\n", " ").lines() {
        let Some(args) = command.trim().strip_prefix("ttl-archiver-restore ") else {
            continue;
        };
        let mut words: Vec<String> = args
            .split_whitespace()
            .take_while(|word| *word != ">")
            .map(str::to_owned)
            .collect();
        for (flag, value) in [("--table-name", 1), ("--source-table", 1)] {
            let at = words.iter().position(|w| w == flag).expect(flag);
            words.drain(at..=at + value);
        }
        let at = words
            .iter()
            .position(|w| w == "--deleted-between")
            .expect("a deletion window");
        words[at + 1] = window[0].to_owned();
        words[at + 2] = window[1].to_owned();
        commands.push(words);
    }
    commands
}

#[tokio::test]
async fn restored_items_deleted_again_by_ttl_are_archived_again_at_the_newer_version() {
    round_trip(false).await;
}

#[tokio::test]
async fn as_a_global_tables_region_restored_items_are_archived_again_too() {
    round_trip(true).await;
}

#[tokio::test]
async fn max_writes_per_second_holds_the_rate() {
    let Some(t) = tables(30).await else { return };
    let started = std::time::Instant::now();
    let (code, _, _) = t.restore(&["--all", "--max-writes-per-second", "10", "--segments", "3"]);
    assert_eq!(code, 0);
    // A burst of 10, then 20 more at 10 a second: never sooner than 2 s.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1_900),
        "30 writes at 10 a second took {:?}",
        started.elapsed()
    );
    assert_eq!(t.items("source").await.len(), 30);
}
