//! The restore on a large archive: ITEMS archived items in dynalite behind a proxy that answers
//! every request after RTT_MS (tests/support/proxy.rs), restored by the release
//! `ttl-archiver-restore` into an empty source table, once for each `--segments` value.
//!
//! `bash tools/bench`, or after `cargo build --release --features operator`:
//! `cargo bench --features operator --bench restore -- --items 10000 --segments 1,8`.

#[allow(dead_code)]
#[path = "../tests/support/dynamodb_size.rs"]
mod dynamodb_size;
#[allow(dead_code)]
#[path = "../tests/support/proxy.rs"]
mod proxy;
#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use clap::Parser;
use proxy::{Fault, FaultProxy};
use ttl_archiver::archive::version::archive_version;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn missing_tool(what: &str) {
    panic!("{what} is missing: run `bash tools/setup` first");
}

#[derive(Parser)]
struct Args {
    /// Items in the archive
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    /// The --segments values to run
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    segments: Vec<u32>,
    /// The local DynamoDB's answers, delayed this long
    #[arg(long, default_value_t = 8)]
    rtt_ms: u64,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

async fn create(client: &Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches once as tests; measuring belongs to `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("restore: run with `cargo bench --features operator --bench restore`");
        return;
    }
    let args = Args::parse();
    let binary = repo_path("target/release/ttl-archiver-restore");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --features operator"
    );
    let dynalite =
        server::LocalServer::start_server("dynalite", "tools/node_modules/.bin/dynalite", |port| {
            ["--port", port, "--createTableMs", "0"]
                .map(String::from)
                .to_vec()
        })
        .unwrap();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .endpoint_url(&dynalite.endpoint)
        .http_client(ttl_archiver::aws::sdk::https_client())
        .load()
        .await;
    let client = Client::new(&config);
    create(&client, "archive").await;
    for chunk in (0..args.items).collect::<Vec<_>>().chunks(25) {
        let writes: Vec<WriteRequest> = chunk
            .iter()
            .map(|i| {
                let version = archive_version(1_795_000_000 + *i as i64, &i.to_string()).unwrap();
                let item = HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(format!("USER#{i:06}"))),
                    ("data".to_owned(), AttributeValue::S("x".repeat(200))),
                    ("ArchiveVersion".to_owned(), version.attribute_value()),
                ]);
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build()
            })
            .collect();
        let mut pending = Some(HashMap::from([("archive".to_owned(), writes)]));
        while let Some(request) = pending.filter(|p| !p.is_empty()) {
            pending = client
                .batch_write_item()
                .set_request_items(Some(request))
                .send()
                .await
                .unwrap()
                .unprocessed_items;
        }
    }
    let rtt = Duration::from_millis(args.rtt_ms);
    let slow =
        FaultProxy::start_for(&dynalite.endpoint, |_| true, move |_, _| Fault::Delay(rtt)).await;
    println!(
        "restore of {} archived items, every answer after {} ms:",
        args.items, args.rtt_ms
    );
    for segments in args.segments {
        let source = format!("source-{segments}");
        create(&client, &source).await;
        let started = Instant::now();
        let status = Command::new(&binary)
            .args([
                "--table-name",
                "archive",
                "--source-table",
                &source,
                "--all",
            ])
            .args(["--segments", &segments.to_string(), "--output", "json"])
            .env("AWS_ENDPOINT_URL_DYNAMODB", &slow.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the restore");
        let took = started.elapsed();
        assert!(status.success(), "the restore failed");
        println!(
            "  --segments {segments}: {:.1} s, {:.0} items/s",
            took.as_secs_f64(),
            args.items as f64 / took.as_secs_f64()
        );
    }
}
