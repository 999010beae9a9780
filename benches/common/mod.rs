//! Stream batches of the sizes the benchmarks use, built from events/ttl-remove.json.

// The pipeline bench has no network.
#[allow(dead_code)]
pub mod fake_dynamodb;

use serde_json::{json, Value};

/// `n` TTL deletions of distinct session items, each padded to about `record_bytes` of JSON.
pub fn session_batch(n: usize, record_bytes: usize) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/events/ttl-remove.json");
    let template: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let record = &template["Records"][0];
    let base = record.to_string().len();
    let padding = "x".repeat(record_bytes.saturating_sub(base + 40));
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let mut r = record.clone();
            let pk = json!({ "S": format!("SESSION#{i:08}") });
            r["dynamodb"]["Keys"]["PK"] = pk.clone();
            r["dynamodb"]["OldImage"]["PK"] = pk;
            r["dynamodb"]["OldImage"]["SessionInfo"]["M"]["notes"] = json!({ "S": padding });
            r["dynamodb"]["SequenceNumber"] = json!(format!("{}", 7_000_000_000_000u64 + i as u64));
            r
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// The two batches of the budgets: 1,000 session records (~0.9 MB) and a 6 MB batch.
pub fn batches() -> [(&'static str, usize, String); 2] {
    [
        ("1,000 records (0.9 MB)", 1000, session_batch(1000, 900)),
        ("5,000 records (6 MB)", 5000, session_batch(5000, 1190)),
    ]
}
