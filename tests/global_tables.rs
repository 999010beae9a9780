//! Global tables: each Region's archiver archives the TTL deletions of its own Region, counts the
//! other Regions' (replicated, without the TTL identity) and leaves them alone, and the archive,
//! a global table written from every Region, ends with each key's newest deletion.
//!
//! Two dynalite instances stand in for two Regions' replicas of the archive, each with the release
//! binary in front of it. The test models what DynamoDB does between them: a TTL deletion in one
//! Region reaches the other's stream as a REMOVE without `userIdentity`, and a write to one
//! replica is copied to the other, the later write winning (global tables' last writer wins).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::dynalite::{admin_client, create_table, scan_all, Dynalite};
use support::items::{
    archive_differences, assert_archive_matches, expected, key_of_item, ttl_removal, Expectation,
    Item,
};
use support::read_event;
use support::runtime_api::{Function, Outcome, RuntimeApi};

const KEY: &[(&str, &str)] = &[("PK", "S")];
const TTL_ATTRIBUTE: &str = "ExpirationTime";

fn how() -> Expectation {
    Expectation {
        ttl_attribute: Some(TTL_ATTRIBUTE.into()),
        ..Default::default()
    }
}

/// One Region: its replica of the archive and its archiver.
struct Region {
    name: &'static str,
    /// Kept for its lifetime: the server stops when it is dropped.
    _db: Dynalite,
    admin: aws_sdk_dynamodb::Client,
    api: RuntimeApi,
    function: Function,
}

impl Region {
    async fn start(name: &'static str, global_archive: bool) -> Option<Self> {
        let (binary, db) = (Function::binary()?, Dynalite::start()?);
        let admin = admin_client(&db.endpoint).await;
        create_table(&admin, "archive", KEY).await;
        let api = RuntimeApi::start().await;
        let function = Function::start(
            &binary,
            &api,
            &[
                ("TABLE_NAME", "archive"),
                ("AWS_REGION", name),
                ("AWS_ENDPOINT_URL_DYNAMODB", &db.endpoint),
                ("TTL_ATTRIBUTE", TTL_ATTRIBUTE),
                (
                    "GLOBAL_ARCHIVE",
                    if global_archive { "true" } else { "false" },
                ),
            ],
        );
        Some(Region {
            name,
            _db: db,
            admin,
            api,
            function,
        })
    }

    /// Hands the archiver one batch of this Region's stream; every record must be accounted for.
    async fn archive(&self, records: &[&Value]) {
        let event = json!({ "Records": records }).to_string();
        let outcome = self.api.invoke(&event, Duration::from_secs(10)).await;
        assert_eq!(
            outcome,
            Outcome::Response(json!({ "batchItemFailures": [] })),
            "{}: {}",
            self.name,
            self.function.logs()
        );
    }

    async fn items(&self) -> Vec<Item> {
        scan_all(&self.admin, "archive").await
    }

    /// The sums of the archiver's EMF metrics so far.
    fn metrics(&self) -> Metrics {
        let mut sums = Metrics::default();
        for line in self.function.logs().lines() {
            let Ok(document) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if document.get("_aws").is_none() {
                continue;
            }
            let count = |name: &str| document[name].as_u64().unwrap_or(0);
            sums.selected += count("Selected");
            sums.archived += count("Archived");
            sums.replicated += count("ReplicatedTtlDeletions");
            sums.skipped += count("Skipped");
        }
        sums
    }
}

#[derive(Debug, Default, PartialEq)]
struct Metrics {
    selected: u64,
    archived: u64,
    replicated: u64,
    skipped: u64,
}

/// Global tables' replication of the archive, after `writer` wrote: every item of its replica
/// that the other's lacks or holds differently is copied over. The writer wrote last, so its
/// item is the one last writer wins keeps.
async fn replicate(writer: &Region, other: &Region) {
    let theirs = other.items().await;
    let names: Vec<&str> = KEY.iter().map(|(name, _)| *name).collect();
    for item in writer.items().await {
        let key = key_of_item(&item, &names);
        let same = theirs
            .iter()
            .any(|their| key_of_item(their, &names) == key && *their == item);
        if !same {
            other
                .admin
                .put_item()
                .table_name("archive")
                .set_item(Some(item))
                .send()
                .await
                .expect("replicated put");
        }
    }
}

/// The source table, a global table of the two Regions: one stream per Region, each numbering
/// its records itself. A's numbers run far above B's, so a later deletion in B carries a lower
/// sequence number than an earlier one in A: only the time orders them, as on AWS.
#[derive(Default)]
struct SourceTable {
    /// The last sequence number of A's stream and of B's.
    sequences: [u64; 2],
    /// Every TTL deletion, as the Region that performed it saw it.
    ttl_deletions: Vec<Value>,
}

/// A TTL deletion as both Regions' streams carry it.
struct Deletion {
    /// In the Region whose TTL deleted the item: with the TTL identity.
    local: Value,
    /// In the other Region, replicated: no identity.
    replicated: Value,
}

const A: usize = 0;
const B: usize = 1;

impl SourceTable {
    /// The TTL deletion at `at` (epoch seconds), by `region`'s TTL, of the item `key` in its
    /// `life`-th life.
    fn ttl_delete(&mut self, region: usize, key: &str, at: u64, life: u64) -> Deletion {
        let mut record = |stream: usize, identity: bool| {
            self.sequences[stream] += 1;
            let sequence = self.sequences[stream];
            let mut record = ttl_removal(
                stream * 1000 + sequence as usize,
                at,
                &format!("{}{sequence:021}", ["5", "1"][stream]),
                json!({ "PK": { "S": key } }),
                json!({
                    "PK": { "S": key },
                    "Life": { "N": life.to_string() },
                    TTL_ATTRIBUTE: { "N": (at - 60).to_string() },
                }),
            );
            if !identity {
                record.as_object_mut().unwrap().remove("userIdentity");
            }
            record
        };
        let deletion = Deletion {
            local: record(region, true),
            replicated: record(1 - region, false),
        };
        self.ttl_deletions.push(deletion.local.clone());
        deletion
    }

    /// What the archive must hold: each key's newest TTL deletion, wherever it was performed.
    fn newest(&self) -> support::items::Expected {
        let event = json!({ "Records": self.ttl_deletions }).to_string();
        expected(&event, &how())
    }
}

const T: u64 = 1_795_000_000;

/// Five keys through both Regions (A is us-east-1, B eu-west-1):
/// - K1 deleted by TTL in A, K2 in B;
/// - K3 deleted in A, re-created, deleted in B, each archived on time;
/// - K4 deleted in A, then in B, while A's archiver lags: B archives the newer deletion first;
/// - K5 the same the other way round.
///
/// Returns both Regions after the last replication, and the source table's deletions.
async fn run(global_archive: bool) -> Option<(Region, Region, SourceTable)> {
    let a = Region::start("us-east-1", global_archive).await?;
    let b = Region::start("eu-west-1", global_archive).await?;
    let mut source = SourceTable::default();

    let k1 = source.ttl_delete(A, "K1", T + 100, 1);
    let k2 = source.ttl_delete(B, "K2", T + 100, 1);
    let k3a = source.ttl_delete(A, "K3", T + 101, 1);
    a.archive(&[&k1.local, &k2.replicated, &k3a.local]).await;
    replicate(&a, &b).await;
    b.archive(&[&k2.local, &k1.replicated, &k3a.replicated])
        .await;
    replicate(&b, &a).await;
    // Deleted again in B, later, with a lower sequence number than A's first deletion.
    let k3b = source.ttl_delete(B, "K3", T + 200, 2);
    b.archive(&[&k3b.local]).await;
    replicate(&b, &a).await;
    a.archive(&[&k3b.replicated]).await;

    // A lags: its deletion of K4 is archived after B's later one (lower in sequence) has
    // replicated to A.
    let k4a = source.ttl_delete(A, "K4", T + 300, 1);
    let k4b = source.ttl_delete(B, "K4", T + 400, 2);
    b.archive(&[&k4a.replicated, &k4b.local]).await;
    replicate(&b, &a).await;
    a.archive(&[&k4a.local, &k4b.replicated]).await;
    replicate(&a, &b).await;

    // B lags.
    let k5b = source.ttl_delete(B, "K5", T + 500, 1);
    let k5a = source.ttl_delete(A, "K5", T + 600, 2);
    a.archive(&[&k5b.replicated, &k5a.local]).await;
    replicate(&a, &b).await;
    b.archive(&[&k5b.local, &k5a.replicated]).await;
    replicate(&b, &a).await;
    Some((a, b, source))
}

/// The keys whose item in `region`'s replica is not the projection of their newest deletion.
async fn not_newest(region: &Region, source: &SourceTable) -> BTreeMap<String, String> {
    let names: Vec<&str> = KEY.iter().map(|(name, _)| *name).collect();
    let how = how();
    archive_differences(
        &region.items().await,
        &source.newest(),
        &names,
        &how.stamps(0, u64::MAX),
    )
    .into_iter()
    .collect()
}

#[tokio::test]
async fn every_ttl_deletion_is_archived_once_in_its_region_and_the_newest_wins() {
    let Some((a, b, source)) = run(true).await else {
        return;
    };
    for region in [&a, &b] {
        assert_eq!(
            not_newest(region, &source).await,
            BTreeMap::new(),
            "{}",
            region.name
        );
        // Its own four TTL deletions, one write each (a lagging one refused, the archive holding
        // a newer version), and the other Region's four skipped and counted.
        let four_each = Metrics {
            selected: 4,
            archived: 4,
            replicated: 4,
            skipped: 4,
        };
        assert_eq!(region.metrics(), four_each, "{}", region.name);
    }
}

#[tokio::test]
async fn without_the_global_archive_setting_a_lagging_region_puts_an_older_deletion_back() {
    let Some((a, b, source)) = run(false).await else {
        return;
    };
    for region in [&a, &b] {
        let wrong: Vec<String> = not_newest(region, &source).await.into_keys().collect();
        assert_eq!(
            wrong,
            [r#"{"PK":{"S":"K4"}}"#, r#"{"PK":{"S":"K5"}}"#],
            "{}: unconditional puts let the late, older deletion win",
            region.name
        );
    }
}

#[tokio::test]
async fn a_batch_mixing_local_and_replicated_deletes_archives_only_the_local_ones() {
    let Some(region) = Region::start("us-east-1", true).await else {
        return;
    };
    let event = read_event("global-table.json");
    let records: Value = serde_json::from_str(&event).unwrap();
    let records: Vec<&Value> = records["Records"].as_array().unwrap().iter().collect();
    region.archive(&records).await;

    // SESSION#a1f3 at its first life (deleted here), SESSION#b2e4 at its second: the deletions
    // that carry the TTL identity, and nothing of the replicated ones or the user's delete.
    let want = expected(&event, &how());
    assert_eq!(want.items.len(), 2);
    let names: Vec<&str> = KEY.iter().map(|(name, _)| *name).collect();
    assert_archive_matches(
        &region.items().await,
        &want,
        &names,
        &how().stamps(0, u64::MAX),
    );
    assert_eq!(
        region.metrics(),
        Metrics {
            selected: 2,
            archived: 2,
            replicated: 2,
            skipped: 5
        },
        "the other Region's two TTL deletions are counted; the user's delete and the inserts are not"
    );
    let logs = region.function.logs();
    for secret in ["ada", "grace", "linus", "SESSION#"] {
        assert!(!logs.contains(secret), "item contents in the logs: {logs}");
    }
}

#[tokio::test]
async fn a_key_archived_without_a_version_is_reported_not_overwritten() {
    let Some(region) = Region::start("us-east-1", true).await else {
        return;
    };
    // What an item archived near 400 KB (or before versions existed) looks like: no version.
    let unversioned: Item = [
        ("PK", "K1"),
        ("Note", "archived without the archiver's attributes"),
    ]
    .into_iter()
    .map(|(name, value)| {
        (
            name.to_owned(),
            aws_sdk_dynamodb::types::AttributeValue::S(value.into()),
        )
    })
    .collect();
    region
        .admin
        .put_item()
        .table_name("archive")
        .set_item(Some(unversioned.clone()))
        .send()
        .await
        .expect("put");
    let mut source = SourceTable::default();
    let deletion = source.ttl_delete(A, "K1", T + 100, 2);
    let event = json!({ "Records": [&deletion.local] }).to_string();
    let outcome = region.api.invoke(&event, Duration::from_secs(10)).await;
    let sequence_number = deletion.local["dynamodb"]["SequenceNumber"].clone();
    assert_eq!(
        outcome,
        Outcome::Response(json!({ "batchItemFailures": [{ "itemIdentifier": sequence_number }] })),
        "which is newer cannot be told: reported, so that Lambda retries and then keeps it"
    );
    assert_eq!(region.items().await, [unversioned], "left as it was");
    assert!(
        region
            .function
            .logs()
            .contains("so which is newer cannot be told"),
        "{}",
        region.function.logs()
    );
}
