//! The README's first command, `bash tools/demo [EVENT_FILE]`, on every sample event: the batch
//! response and the number of archived items are what the events table of docs/local.md ("The
//! sample events") says.

mod support;

use std::process::Command;

use serde_json::{json, Value};
use support::items::{expected, Expectation};
use support::runtime_api::Function;
use support::{read_event, repo_path};

struct Demo {
    response: Value,
    items: Vec<String>,
    output: String,
}

/// Runs the demo on `event` with the release binary the tests use (no build of its own).
fn demo(event: &str) -> Option<Demo> {
    let binary = Function::binary()?;
    if !repo_path("tools/.venv/bin/cargo-lambda").exists() {
        support::missing_tool("cargo-lambda (tools/.venv)");
        return None;
    }
    let output = Command::new("bash")
        .arg(repo_path("tools/demo"))
        .arg(repo_path(&format!("events/{event}")))
        .env("TTL_ARCHIVER_BIN", binary)
        .output()
        .expect("run tools/demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "tools/demo {event} failed:\n{text}"
    );
    let response = text
        .lines()
        .find_map(|l| l.strip_prefix("response: "))
        .unwrap_or_else(|| panic!("no response line:\n{text}"));
    let items: Vec<String> = text
        .lines()
        .skip_while(|l| !l.contains("item(s) in archive table"))
        .skip(1)
        .map(|l| l.trim().to_owned())
        .collect();
    Some(Demo {
        response: serde_json::from_str(response).unwrap(),
        items,
        output: text,
    })
}

fn response(failed: &[&str]) -> Value {
    json!({ "batchItemFailures": failed.iter().map(|s| json!({"itemIdentifier": s})).collect::<Vec<_>>() })
}

/// The demo's answer and archive for `event`, as docs/local.md's events table states them.
fn check(event: &str, failed: &[&str], archived: usize) -> Option<Demo> {
    let run = demo(event)?;
    assert_eq!(run.response, response(failed), "{}", run.output);
    assert_eq!(run.items.len(), archived, "{}", run.output);
    let want = expected(&read_event(event), &Expectation::default());
    if event != "malformed-record.json" {
        assert_eq!(
            want.items.len(),
            archived,
            "docs/local.md's events table agrees with the event file"
        );
    }
    for item in &run.items {
        assert!(item.contains("\"ArchivedAt\""), "{item}");
        assert!(
            !item.contains("ExpirationTime"),
            "the TTL attribute is left out: {item}"
        );
    }
    assert!(!run.output.contains("Error"), "{}", run.output);
    assert!(
        run.output.contains(
            "==> the function runs with TABLE_NAME=archive TTL_ATTRIBUTE=ExpirationTime ARCHIVED_AT_ATTRIBUTE=ArchivedAt"
        ),
        "the demo says its settings: {}",
        run.output
    );
    Some(run)
}

#[test]
fn demo_ttl_remove_all_archived() {
    let Some(run) = check("ttl-remove.json", &[], 3) else {
        return;
    };
    let keys: Vec<&str> = run
        .items
        .iter()
        .map(|i| {
            i.split("\"PK\": \"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        keys,
        ["SESSION#a1f3", "SESSION#b2e4", "SESSION#c3d5"],
        "sorted by key"
    );
    // The version, read back as the record's deletion time (ApproximateCreationDateTime
    // 1795000001, computed apart) and sequence number, not as a count of bytes.
    assert!(
        run.items[0].contains(
            r#""ArchiveVersion": "deleted 2026-11-18T11:06:41Z, sequence number 1000000000000000000100""#
        ),
        "{}",
        run.output
    );
}

#[test]
fn demo_mixed_two_archived_four_skipped() {
    let _ = check("mixed.json", &[], 2);
}

#[test]
fn demo_global_table_two_archived_five_skipped() {
    let Some(run) = check("global-table.json", &[], 2) else {
        return;
    };
    // This Region's deletions: SESSION#a1f3 in its first life, SESSION#b2e4 in its second.
    assert!(run.items[0].contains("\"ada\"") && run.items[0].contains("\"3\""));
    assert!(run.items[1].contains("\"grace\"") && run.items[1].contains("\"2\""));
}

#[test]
fn demo_composite_key_three_items_later_version_wins() {
    let Some(run) = check("composite-key.json", &[], 3) else {
        return;
    };
    let acme = run
        .items
        .iter()
        .find(|i| i.contains("\"acme\"") && i.contains("\"1700000000\""))
        .unwrap();
    assert!(acme.contains("\"CLOSED\""), "the later version: {acme}");
}

#[test]
fn demo_no_old_image_both_reported() {
    let _ = check(
        "no-old-image.json",
        &["1000000000000000000100", "1000000000000000000200"],
        0,
    );
}

#[test]
fn demo_all_types_archived_exactly() {
    let _ = check("all-types.json", &[], 1);
}

#[test]
fn a_missing_event_file_is_named_as_given() {
    let output = Command::new("bash")
        .arg(repo_path("tools/demo"))
        .arg("nodir/x.json")
        .output()
        .expect("run tools/demo");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "tools/demo: no event file nodir/x.json"
    );
}

#[test]
fn demo_malformed_record_two_archived_one_reported() {
    let _ = check("malformed-record.json", &["1000000000000000000200"], 2);
}
