//! CloudWatch Embedded Metric Format: one JSON document per batch on stdout, which CloudWatch
//! Logs turns into metrics with no API call and no extra latency. What each metric means, and
//! how Lambda's retries count, is in docs/operations.md ("Logs and metrics").

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::lambda::outcome::BatchOutcome;

/// The EMF document for one batch. Only counts and a duration: never item contents.
pub fn document(
    namespace: &str,
    function_name: &str,
    outcome: &BatchOutcome,
    timestamp_ms: u64,
) -> serde_json::Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": "Received", "Unit": "Count"},
                    {"Name": "Selected", "Unit": "Count"},
                    {"Name": "Archived", "Unit": "Count"},
                    {"Name": "Skipped", "Unit": "Count"},
                    {"Name": "ReplicatedTtlDeletions", "Unit": "Count"},
                    {"Name": "Failed", "Unit": "Count"},
                    {"Name": "Retries", "Unit": "Count"},
                    {"Name": "AdditionsDropped", "Unit": "Count"},
                    {"Name": "BatchDuration", "Unit": "Milliseconds"}
                ]
            }]
        },
        "FunctionName": function_name,
        "Received": outcome.received,
        "Selected": outcome.selected,
        "Archived": outcome.archived,
        "Skipped": outcome.skipped,
        "ReplicatedTtlDeletions": outcome.replicated,
        "Failed": outcome.failed.len(),
        "Retries": outcome.retries,
        "AdditionsDropped": outcome.additions_dropped.len(),
        "BatchDuration": outcome.duration.as_secs_f64() * 1000.0,
    })
}

/// Writes the batch's EMF document as one line on stdout.
pub fn emit(namespace: &str, function_name: &str, outcome: &BatchOutcome) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let line = document(namespace, function_name, outcome, now_ms).to_string();
    let mut stdout = std::io::stdout().lock();
    // A lost metric line must not fail the batch: the records are already accounted for.
    let _ = writeln!(stdout, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn document_declares_every_metric_it_carries() {
        let outcome = BatchOutcome {
            received: 10,
            selected: 8,
            skipped: 2,
            replicated: 1,
            archived: 6,
            newer_kept: 0,
            failed: vec![("1".into(), "x".into()), ("2".into(), "y".into())],
            additions_dropped: vec![("3".into(), Default::default())],
            requests: 3,
            retries: 1,
            duration: Duration::from_millis(12),
        };
        let doc = document("TtlArchiver", "fn", &outcome, 1_700_000_000_000);
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "TtlArchiver");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(doc["Received"], 10);
        assert_eq!(
            doc["Selected"], 8,
            "TTL deletions received, what reconciliation compares"
        );
        assert_eq!(doc["Archived"], 6);
        assert_eq!(doc["Skipped"], 2);
        assert_eq!(
            doc["ReplicatedTtlDeletions"], 1,
            "other Regions' TTL deletions, left to their archivers"
        );
        assert_eq!(doc["Failed"], 2);
        assert_eq!(doc["Retries"], 1);
        assert_eq!(doc["AdditionsDropped"], 1);
        assert_eq!(doc["BatchDuration"], 12.0);
        assert_eq!(doc["FunctionName"], "fn");
    }
}
