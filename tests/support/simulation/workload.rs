//! A seeded workload that looks like production: a table's stream over a simulated hour, on a
//! parent shard that splits into two children half way through. Keys of every type, with and
//! without a sort key, live one or more lives (inserted, modified, then deleted by TTL, by a user
//! or by another Region's replication, or left alive); some items are near 400 KB, in ASCII or
//! in two-byte UTF-8 text, some with room for only some of the archiver's attributes; some were
//! restored from the archive and carry its attributes (a binary version or an earlier release's
//! decimal string); a few TTL deletions have no old image.
//!
//! Time and sequence disagree, as they do on AWS: each child shard numbers its records from a
//! range below the parent's, so a key's later deletion on a child carries a lower sequence
//! number than its earlier one on the parent. Only the time orders them.

use serde_json::{json, Map, Value};

use super::chance::Chance;
use crate::support::items::{version_of, Expectation};

/// The table's stream ARN in every record (the redrive reads it from the payload).
pub const STREAM_ARN: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/Sessions/stream/2026-11-30T00:00:00.000";
/// The source table's TTL attribute, dropped from archive items (TTL_ATTRIBUTE).
pub const TTL_ATTRIBUTE: &str = "expires";
const FIRST_SECOND: u64 = 1_795_000_000;

/// How a record came to be, for the figures and the oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Insert,
    Modify,
    /// REMOVE with the TTL service's identity.
    TtlDelete,
    /// A TTL deletion whose record carries no old image: it can only be reported and kept.
    TtlDeleteWithoutImage,
    /// REMOVE without an identity: a user, or another Region's TTL replicated here.
    UserDelete,
    ReplicatedDelete,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub json: String,
    pub sequence_number: String,
    pub created: u64,
    pub kind: Kind,
    /// 0 is the parent shard; 1 and 2 are its children.
    pub shard: usize,
    /// FNV-1a of the partition key's JSON: which child, and which concurrent batcher.
    pub partition: u64,
    /// The item's key, as JSON.
    pub key: String,
}

pub struct Workload {
    pub seed: u64,
    /// `(name, "S"|"N"|"B")`, hash first, as `create_table` takes it.
    pub key: Vec<(&'static str, &'static str)>,
    /// Every record of the stream, in the order DynamoDB wrote them (sequence order).
    pub records: Vec<Record>,
    /// The function's settings beyond TABLE_NAME (the redrive gets the same).
    pub settings: Vec<(&'static str, String)>,
    /// The projection those settings describe, for the oracle.
    pub expectation: Expectation,
    /// Shard ids as the on-failure destination names them.
    pub shard_ids: [String; 3],
}

impl Workload {
    pub fn generate(seed: u64) -> Self {
        let mut rng = Chance::new(seed, 0);
        let key_types = ["S", "N", "B"];
        let hash = *rng.pick(&key_types);
        let range = *rng.pick(&[None, Some("S"), Some("N"), Some("B")]);
        let mut key = vec![("pk", hash)];
        key.extend(range.map(|t| ("sk", t)));

        let archived_at = rng.below(2) == 0;
        let retention = rng.below(2) == 0;
        let mut settings = vec![("TTL_ATTRIBUTE", TTL_ATTRIBUTE.to_owned())];
        let mut expectation = Expectation {
            ttl_attribute: Some(TTL_ATTRIBUTE.into()),
            ..Default::default()
        };
        if archived_at {
            settings.push(("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt".into()));
            expectation.archived_at_attribute = Some("ArchivedAt".into());
        }
        if retention {
            settings.push(("ARCHIVE_RETENTION_DAYS", "30".into()));
            expectation.archive_expiry = Some(("ArchiveExpiresAt".into(), 30 * 86_400));
        }

        let all_types = all_types_attributes();
        let key_count = 40 + rng.below(40) as usize;
        let mut lives: Vec<Vec<Step>> = (0..key_count)
            .map(|i| life(&mut rng, i, i, &key, &all_types, &expectation))
            .collect();
        // Items near DynamoDB's 400 KB limit, half of them with no room in their archive copy
        // for the archiver's attributes. In one seed in four, a burst of them under one
        // partition key where the table has a sort key (one customer's large items): more than
        // the 6 MB an invocation takes, on one shard.
        let burst = rng.below(4) == 0;
        let large = if burst { 40 } else { 4 };
        for i in key_count..key_count + large {
            // Room for none of the additions (10), the version alone (53: 35 for the version,
            // then an expiry takes 22; the archived-at stamp's 16 would fit, but they are kept
            // in order), the version and expiry (60: the archived-at stamp takes 16), or all of
            // them (400).
            let margin = [10, 53, 60, 400][i % 4];
            let partition = if burst && range.is_some() {
                key_count
            } else {
                i
            };
            let mut steps = life(&mut rng, partition, i, &key, &[], &expectation);
            let text = if (i / 4) % 2 == 0 { "x" } else { "é" };
            for step in &mut steps {
                if let Some(image) = &mut step.image {
                    pad_to_limit(image, margin, text);
                }
            }
            lives.push(steps);
        }

        // Interleave the lives, keeping each key's steps in order, over simulated seconds: a
        // key's steps a second apart at least, so that the time alone orders its deletions.
        let mut records = Vec::new();
        let mut next: Vec<usize> = vec![0; lives.len()];
        let mut last_second: Vec<u64> = vec![0; lives.len()];
        let total: usize = lives.iter().map(Vec::len).sum();
        let mut second = FIRST_SECOND;
        let mut sequence: u128 = 0;
        let split_at = total / 2;
        while records.len() < total {
            let open: Vec<usize> = (0..lives.len())
                .filter(|&k| next[k] < lives[k].len())
                .collect();
            let k = *rng.pick(&open);
            let step = &lives[k][next[k]];
            next[k] += 1;
            second = (second + rng.below(3)).max(last_second[k] + 1);
            last_second[k] = second;
            sequence += 1 + rng.below(5) as u128;
            let partition = fnv1a(step.keys[key[0].0].to_string().as_bytes());
            let shard = if records.len() < split_at {
                0
            } else {
                1 + (partition % 2) as usize
            };
            // The parent numbers from 3…, its children from 1… and 2…: below the parent's.
            let sequence_number = format!("{}{sequence:027}", [3, 1, 2][shard]);
            records.push(Record {
                json: step.record(second, &sequence_number, records.len()),
                sequence_number,
                created: second,
                kind: step.kind,
                shard,
                partition,
                key: Value::Object(step.keys.clone()).to_string(),
            });
        }
        let shard_ids = [
            "shardId-00000001795000000000-aaaaaaaa".to_owned(),
            "shardId-00000001795001800000-bbbbbbbb".to_owned(),
            "shardId-00000001795001800000-cccccccc".to_owned(),
        ];
        Workload {
            seed,
            key,
            records,
            settings,
            expectation,
            shard_ids,
        }
    }

    /// The records as one stream event, for the oracle.
    pub fn as_event(&self) -> String {
        let records: Vec<&str> = self.records.iter().map(|r| r.json.as_str()).collect();
        format!(r#"{{"Records":[{}]}}"#, records.join(","))
    }

    pub fn ttl_deletions(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.kind, Kind::TtlDelete | Kind::TtlDeleteWithoutImage))
            .count()
    }

    /// TTL deletions of a key that come later in time than the key's previous one and carry a
    /// lower sequence number (on a child shard, after the parent's): the case a version that
    /// compared sequence numbers first would get wrong.
    pub fn later_deletions_with_lower_sequence(&self) -> usize {
        let mut previous: std::collections::HashMap<&str, &str> = Default::default();
        let mut count = 0;
        for record in self.records.iter().filter(|r| r.kind == Kind::TtlDelete) {
            let lower = |earlier: &str| {
                (
                    record.sequence_number.len(),
                    record.sequence_number.as_str(),
                ) < (earlier.len(), earlier)
            };
            if previous
                .get(record.key.as_str())
                .is_some_and(|earlier| lower(earlier))
            {
                count += 1;
            }
            previous.insert(&record.key, &record.sequence_number);
        }
        count
    }
}

/// One change to one item.
struct Step {
    kind: Kind,
    keys: Map<String, Value>,
    /// The item before the change (REMOVE, MODIFY) or after it (INSERT).
    image: Option<Map<String, Value>>,
    /// The item after a MODIFY.
    new_image: Option<Map<String, Value>>,
}

impl Step {
    fn record(&self, second: u64, sequence_number: &str, index: usize) -> String {
        let mut change = json!({
            "ApproximateCreationDateTime": second,
            "Keys": self.keys,
            "SequenceNumber": sequence_number,
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        match (self.kind, &self.image) {
            (Kind::Insert, Some(image)) => change["NewImage"] = json!(image),
            (Kind::Modify, Some(image)) => {
                change["OldImage"] = json!(image);
                change["NewImage"] = json!(self.new_image);
            }
            (Kind::TtlDeleteWithoutImage, _) => change["StreamViewType"] = json!("KEYS_ONLY"),
            (_, Some(image)) => change["OldImage"] = json!(image),
            (_, None) => {}
        }
        let name = match self.kind {
            Kind::Insert => "INSERT",
            Kind::Modify => "MODIFY",
            _ => "REMOVE",
        };
        let mut record = json!({
            "eventID": format!("{index:032x}"),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": change,
            "eventSourceARN": STREAM_ARN,
        });
        if matches!(self.kind, Kind::TtlDelete | Kind::TtlDeleteWithoutImage) {
            record["userIdentity"] =
                json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        }
        record.to_string()
    }
}

/// The steps of one key: one to three lives, each inserted, modified zero to two times, then
/// ended (TTL mostly; a user's delete, a replicated delete, or not at all).
fn life(
    rng: &mut Chance,
    partition: usize,
    i: usize,
    key: &[(&'static str, &'static str)],
    all_types: &[(String, Value)],
    expectation: &Expectation,
) -> Vec<Step> {
    let keys = key_values(rng.seed(), partition, i, key);
    let lives = 1 + [0, 0, 0, 1, 1, 2][rng.below(6) as usize];
    let mut steps = Vec::new();
    for life in 0..lives {
        let mut image = keys.clone();
        image.insert(
            "data".into(),
            json!({"S": format!("life {life} of item {i}")}),
        );
        image.insert("hits".into(), json!({"N": "0"}));
        image.insert(TTL_ATTRIBUTE.into(), json!({"N": "1795000000"}));
        if rng.below(3) == 0 {
            image.extend(all_types.iter().cloned());
        }
        if rng.below(8) == 0 {
            restored_from_archive(rng, &mut image, expectation);
        }
        steps.push(Step {
            kind: Kind::Insert,
            keys: keys.clone(),
            image: Some(image.clone()),
            new_image: None,
        });
        for hit in 1..=rng.below(3) {
            let mut new_image = image.clone();
            new_image.insert("hits".into(), json!({"N": hit.to_string()}));
            steps.push(Step {
                kind: Kind::Modify,
                keys: keys.clone(),
                image: Some(image),
                new_image: Some(new_image.clone()),
            });
            image = new_image;
        }
        let last = life + 1 == lives;
        let kind = match rng.below(100) {
            0..=84 => Kind::TtlDelete,
            85 => Kind::TtlDeleteWithoutImage,
            86..=90 => Kind::UserDelete,
            91..=95 => Kind::ReplicatedDelete,
            _ if last => continue,
            _ => Kind::TtlDelete,
        };
        steps.push(Step {
            kind,
            keys: keys.clone(),
            image: Some(image),
            new_image: None,
        });
    }
    steps
}

/// The key of item `i`; `partition` picks its partition key, so that items can share one.
fn key_values(
    seed: u64,
    partition: usize,
    i: usize,
    key: &[(&'static str, &'static str)],
) -> Map<String, Value> {
    key.iter()
        .enumerate()
        .map(|(position, (name, kind))| {
            let value = match (*kind, position) {
                ("S", 0) => json!({"S": format!("USER#{seed}-{partition}")}),
                ("S", _) => json!({"S": format!("2026-11-30T10:{:02}#ü", i % 60)}),
                ("N", 0) => json!({"N": format!("-{}.{}", partition * 7 + 1, seed % 9 + 1)}),
                ("N", _) => json!({"N": format!("{}000", i + 1)}),
                (_, 0) => {
                    json!({"B": aws_smithy_types::base64::encode([0, 255, i as u8, seed as u8])})
                }
                _ => json!({"B": aws_smithy_types::base64::encode([i as u8, 7])}),
            };
            (name.to_string(), value)
        })
        .collect()
}

/// Every DynamoDB type, from the sample event users invoke with (its key and TTL left out).
fn all_types_attributes() -> Vec<(String, Value)> {
    let event: Value = serde_json::from_str(&crate::support::read_event("all-types.json")).unwrap();
    event["Records"][0]["dynamodb"]["OldImage"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "id" | "ttl"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// An item put back from the archive: it carries the version of an earlier deletion (binary,
/// or an earlier release's decimal string) and, half the time, the stamps the archiver wrote
/// (a restore that was not given their names leaves them).
fn restored_from_archive(
    rng: &mut Chance,
    image: &mut Map<String, Value>,
    expectation: &Expectation,
) {
    let earlier = json!({"dynamodb": {
        "ApproximateCreationDateTime": FIRST_SECOND - 86_400,
        "SequenceNumber": "44215845000000000000000000007",
    }});
    let version = if rng.below(2) == 0 {
        json!({"B": version_of(&earlier)})
    } else {
        json!({"S": format!("{:012}.{:0>40}", FIRST_SECOND - 86_400, "44215845000000000000000000007")})
    };
    image.insert("ArchiveVersion".into(), version);
    if rng.below(2) == 0 {
        return;
    }
    if let Some(name) = &expectation.archived_at_attribute {
        image.insert(
            name.clone(),
            json!({"N": (FIRST_SECOND - 86_000).to_string()}),
        );
    }
    if let Some((name, _)) = &expectation.archive_expiry {
        image.insert(
            name.clone(),
            json!({"N": (FIRST_SECOND + 86_400).to_string()}),
        );
    }
}

/// Pads an image with `text` (ASCII, or two-byte UTF-8) so that its archive copy, without the
/// archiver's attributes, is `margin` bytes under DynamoDB's limit, as the tests' own count
/// measures it (tests/support/dynamodb_size.rs: UTF-8, as DynamoDB counts).
fn pad_to_limit(image: &mut Map<String, Value>, margin: usize, text: &str) {
    use crate::support::dynamodb_size::{item_size, MAX_ITEM_BYTES};
    image.insert("blob".into(), json!({"S": ""}));
    let mut projected = image.clone();
    for dropped in [
        TTL_ATTRIBUTE,
        "ArchiveVersion",
        "ArchivedAt",
        "ArchiveExpiresAt",
    ] {
        projected.remove(dropped);
    }
    let fill = MAX_ITEM_BYTES - margin - item_size(&projected);
    let padding = text.repeat(fill / text.len()) + &"x".repeat(fill % text.len());
    image.insert("blob".into(), json!({"S": padding}));
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
