//! Shared helpers for the tests that need a real DynamoDB-compatible server or the real binary.
#![allow(dead_code)]

pub mod dynalite;
pub mod dynamodb_size;
pub mod esm;
pub mod items;
pub mod proxy;
pub mod runtime_api;
pub mod sam;
pub mod server;
#[cfg(feature = "operator")]
pub mod simulation;

use std::path::PathBuf;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn read_event(name: &str) -> String {
    std::fs::read_to_string(repo_path(&format!("events/{name}"))).expect("event file")
}

/// Under CI a missing tool fails the test; on a developer's machine it is skipped with a hint.
/// libtest reports a test that returns early as "ok", so the skip is written straight to the
/// terminal (past libtest's output capture), naming the test: `cargo test` shows it.
pub fn missing_tool(what: &str) {
    use std::io::Write;
    let hint =
        format!("{what} is not installed: run `bash tools/test` (it installs the pinned tools)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{hint}");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {hint}");
}

/// The archiver's configuration for tests: TABLE_NAME=archive plus `vars`.
pub fn config(vars: &[(&str, &str)]) -> ttl_archiver::Config {
    let mut all: std::collections::HashMap<String, String> =
        [("TABLE_NAME".to_string(), "archive".to_string())].into();
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ttl_archiver::Config::from_lookup(|name| all.get(name).cloned()).unwrap()
}
