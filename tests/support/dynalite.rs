//! DynamoDB for the tests: dynalite, clients, tables.

use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableClass,
    TableStatus,
};
use aws_sdk_dynamodb::Client;

pub use super::server::LocalServer as Dynalite;

/// A dynalite server (pinned in tools/package.json).
impl Dynalite {
    pub fn start() -> Option<Self> {
        Self::start_on("127.0.0.1")
    }

    /// A dynalite listening on `host` (an address containers can reach, say).
    pub fn start_on(host: &str) -> Option<Self> {
        Self::start_server_on(
            "dynalite",
            "tools/node_modules/.bin/dynalite",
            host,
            |port| {
                let args = ["--host", host, "--port", port, "--createTableMs", "0"];
                let more = ["--deleteTableMs", "0", "--updateTableMs", "0"];
                args.iter()
                    .chain(more.iter())
                    .map(|a| a.to_string())
                    .collect()
            },
        )
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(ttl_archiver::aws::sdk::https_client())
        .load()
        .await
}

/// A plain client (SDK retries on) for setting tables up and reading them back.
pub async fn admin_client(endpoint: &str) -> Client {
    Client::new(&sdk_config(endpoint).await)
}

/// The client the archiver uses in production, pointed at `endpoint`.
pub async fn archive_client(endpoint: &str) -> Client {
    ttl_archiver::aws::writer::dynamodb_client(&sdk_config(endpoint).await)
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
