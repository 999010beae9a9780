//! A dynalite server (pinned in tools/package.json) on a free loopback port, stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableClass,
    TableStatus,
};
use aws_sdk_dynamodb::Client;

use super::{missing_tool, repo_path};

pub struct Dynalite {
    child: Child,
    pub endpoint: String,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Dynalite {
    /// Starts a server, or returns `None` (skip) when dynalite is not installed outside CI.
    pub fn start() -> Option<Self> {
        let bin = repo_path("tools/node_modules/.bin/dynalite");
        if !bin.exists() {
            missing_tool("dynalite");
            return None;
        }
        let port = free_port();
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--createTableMs",
                "0",
                "--deleteTableMs",
                "0",
                "--updateTableMs",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dynalite");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "dynalite did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Dynalite {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(ttl_archiver::writer::https_client())
        .load()
        .await
}

/// A plain client (SDK retries on) for setting tables up and reading them back.
pub async fn admin_client(endpoint: &str) -> Client {
    Client::new(&sdk_config(endpoint).await)
}

/// The client the archiver uses in production, pointed at `endpoint`.
pub async fn archive_client(endpoint: &str) -> Client {
    ttl_archiver::writer::dynamodb_client(&sdk_config(endpoint).await)
}

/// Creates a Standard-IA, on-demand table with the given key (`(name, "S"|"N"|"B")`, hash first).
pub async fn create_table(client: &Client, table: &str, key: &[(&str, &str)]) {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .table_class(TableClass::StandardInfrequentAccess);
    for (i, (name, kind)) in key.iter().enumerate() {
        let key_type = if i == 0 {
            KeyType::Hash
        } else {
            KeyType::Range
        };
        request = request
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ScalarAttributeType::from(*kind))
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(key_type)
                    .build()
                    .unwrap(),
            );
    }
    request.send().await.expect("create table");
    for _ in 0..200 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("table {table} did not become active");
}

pub async fn scan_all(client: &Client, table: &str) -> Vec<super::items::Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}
