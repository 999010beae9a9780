//! Comparing archive contents with what the event files say, attribute by attribute, written
//! independently of the library's projection code.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

pub type Item = HashMap<String, AttributeValue>;

/// An SDK value in DynamoDB JSON, with sets sorted so that equal sets compare equal.
pub fn dynamo_json(value: &AttributeValue) -> Value {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) }),
        AttributeValue::Ss(v) => json!({ "SS": sorted(v.clone()) }),
        AttributeValue::Ns(v) => json!({ "NS": sorted(v.clone()) }),
        AttributeValue::Bs(v) => {
            json!({ "BS": sorted(v.iter().map(|b| aws_smithy_types::base64::encode(b.as_ref())).collect()) })
        }
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(dynamo_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

pub fn item_json(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), dynamo_json(v)))
            .collect(),
    )
}

/// Event-file DynamoDB JSON with sets sorted, comparable with [`dynamo_json`].
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("SS" | "NS" | "BS", Value::Array(a)) => {
                            let mut a: Vec<String> =
                                a.iter().map(|s| s.as_str().unwrap().to_owned()).collect();
                            a.sort();
                            json!(a)
                        }
                        _ => normalize(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// What the archive should hold for an event under a projection.
#[derive(Default, Clone)]
pub struct Expectation {
    pub ttl_attribute: Option<String>,
    pub attributes: Option<Vec<String>>,
    pub archived_at_attribute: Option<String>,
    /// The version attribute's name when not the default `ArchiveVersion`.
    pub version_attribute: Option<String>,
    /// The expiry attribute's name and the retention in seconds (ARCHIVE_RETENTION_DAYS).
    pub archive_expiry: Option<(String, u64)>,
}

/// What the archiver stamps on an item with the time it archives it, and the window of time
/// the archiving ran in.
pub struct Stamps<'a> {
    pub archived_at: Option<&'a str>,
    pub expiry: Option<(&'a str, u64)>,
    pub from: u64,
    pub to: u64,
}

impl Expectation {
    pub fn stamps(&self, from: u64, to: u64) -> Stamps<'_> {
        Stamps {
            archived_at: self.archived_at_attribute.as_deref(),
            expiry: self
                .archive_expiry
                .as_ref()
                .map(|(name, secs)| (name.as_str(), *secs)),
            from,
            to,
        }
    }
}

/// The version the archive item of a record carries, base64 as in DynamoDB JSON: 21 bytes,
/// big-endian, of the creation second (4 bytes), then the sequence number split into the digits
/// before its last 19 (9 bytes) and its last 19 digits (8 bytes). Restated here, independently of
/// the library.
pub fn version_of(record: &Value) -> String {
    let change = &record["dynamodb"];
    let seconds = change["ApproximateCreationDateTime"]
        .as_f64()
        .unwrap_or(0.0) as u32;
    let seq = format!("{:0>40}", change["SequenceNumber"].as_str().unwrap());
    let (high, low) = seq.split_at(21);
    let mut bytes = seconds.to_be_bytes().to_vec();
    bytes.extend_from_slice(&high.parse::<u128>().unwrap().to_be_bytes()[7..]);
    bytes.extend_from_slice(&low.parse::<u64>().unwrap().to_be_bytes());
    assert_eq!(bytes.len(), 21);
    aws_smithy_types::base64::encode(&bytes)
}

pub struct Expected {
    /// Archive items by key (the `Keys` JSON), without the archived-at attribute.
    pub items: BTreeMap<String, Value>,
    /// Keys whose archive item has no room for some of the archiver's attributes (near
    /// 400 KB), and which it goes without.
    pub dropped: BTreeMap<String, Dropped>,
    /// The sequence number of each key's newest TTL removal with an old image.
    pub newest: BTreeMap<String, String>,
    /// Sequence numbers that must be reported failed (TTL removals without an old image, or
    /// without the creation time their version leads with).
    pub failed: Vec<String>,
    /// Every TTL removal's sequence number.
    pub selected: Vec<String>,
}

/// The archiver's attributes an item near 400 KB goes without.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub version: bool,
    pub expiry: bool,
    pub archived_at: bool,
}

impl Expected {
    /// Whether the archive item of `key` holds no version.
    pub fn without_version(&self, key: &str) -> bool {
        self.dropped.get(key).is_some_and(|d| d.version)
    }
}

/// The order of two deletions of one key, as the product documents it ("Versions"): the
/// deletion's second first (sequence numbers order within a shard only), then the sequence
/// number, as a number.
fn deletion_order(created: u64, seq: &str) -> (u64, usize, String) {
    let s = seq.trim_start_matches('0');
    (created, s.len(), s.to_owned())
}

pub fn key_of(keys: &Value) -> String {
    normalize(keys).to_string()
}

/// The key string of an archive item read back, given the key attribute names.
pub fn key_of_item(item: &Item, key_names: &[&str]) -> String {
    let keys: serde_json::Map<String, Value> = key_names
        .iter()
        .map(|k| (k.to_string(), dynamo_json(&item[*k])))
        .collect();
    Value::Object(keys).to_string()
}

/// An item restored from the archive carries the archiver's attributes: a 21-byte binary
/// version (or an earlier release's decimal string: 12 digits, a dot, 40 digits), and numeric
/// stamps. They give way to the new deletion's.
fn remove_earlier_archive_attributes(
    item: &mut serde_json::Map<String, Value>,
    version_attribute: &str,
    how: &Expectation,
) {
    let binary = item
        .get(version_attribute)
        .and_then(|v| v["B"].as_str())
        .and_then(|b| aws_smithy_types::base64::decode(b).ok())
        .is_some_and(|bytes| bytes.len() == 21);
    let legacy = item
        .get(version_attribute)
        .and_then(|v| v["S"].as_str())
        .is_some_and(|text| {
            text.len() == 53
                && text.as_bytes()[12] == b'.'
                && text
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| i == 12 || b.is_ascii_digit())
        });
    let earlier = binary || legacy;
    if !earlier {
        return;
    }
    item.remove(version_attribute);
    let stamps = [
        how.archived_at_attribute.as_deref(),
        how.archive_expiry.as_ref().map(|(name, _)| name.as_str()),
    ];
    for name in stamps.into_iter().flatten() {
        if item.get(name).is_some_and(|v| v.get("N").is_some()) {
            item.remove(name);
        }
    }
}

/// Which of the archiver's attributes go without beside `item` under DynamoDB's item limit, as
/// the product documents it ("Items near 400 KB"): kept in the order version, expiry,
/// archived-at, each while it still fits, the epoch numbers counted at their widest (ten digits:
/// 6 bytes), the sizes by the tests' own count (tests/support/dynamodb_size.rs).
fn dropped_near_the_limit(
    item: &serde_json::Map<String, Value>,
    version_attribute: &str,
    how: &Expectation,
) -> Dropped {
    use super::dynamodb_size::{item_size, MAX_ITEM_BYTES};
    const VERSION_BYTES: usize = 21;
    const EPOCH_SECONDS_AT_THEIR_WIDEST: usize = 6;
    let mut size = item_size(item);
    let mut fits = |added: usize| {
        let fit = size + added <= MAX_ITEM_BYTES;
        if fit {
            size += added;
        }
        fit
    };
    let version = fits(version_attribute.len() + VERSION_BYTES);
    let expiry = match &how.archive_expiry {
        Some((name, _)) => version && fits(name.len() + EPOCH_SECONDS_AT_THEIR_WIDEST),
        None => true,
    };
    let archived_at = match &how.archived_at_attribute {
        Some(name) => expiry && version && fits(name.len() + EPOCH_SECONDS_AT_THEIR_WIDEST),
        None => true,
    };
    Dropped {
        version: !version,
        expiry: !expiry,
        archived_at: !archived_at,
    }
}

/// A key's newest TTL deletion so far: its order, its archive item, what the item goes
/// without, its sequence number.
type Newest = ((u64, usize, String), Value, Dropped, String);

pub fn expected(event_json: &str, how: &Expectation) -> Expected {
    let event: Value = serde_json::from_str(event_json).unwrap();
    let mut latest: BTreeMap<String, Newest> = BTreeMap::new();
    let mut failed = Vec::new();
    let mut selected = Vec::new();
    for record in event["Records"].as_array().unwrap() {
        let ttl = record["eventName"] == "REMOVE"
            && record["userIdentity"]["type"] == "Service"
            && record["userIdentity"]["principalId"] == "dynamodb.amazonaws.com";
        if !ttl {
            continue;
        }
        let change = &record["dynamodb"];
        let seq = change["SequenceNumber"].as_str().unwrap().to_owned();
        selected.push(seq.clone());
        let created = change["ApproximateCreationDateTime"]
            .as_f64()
            .filter(|secs| *secs >= 1.0);
        let (Some(old), Some(created)) =
            (change.get("OldImage").and_then(Value::as_object), created)
        else {
            failed.push(seq);
            continue;
        };
        let keys = change["Keys"].as_object().unwrap();
        let mut item: serde_json::Map<String, Value> = old
            .iter()
            .filter(|(name, _)| match (&how.attributes, &how.ttl_attribute) {
                (Some(allowed), _) => allowed.contains(name),
                (None, Some(ttl)) => *name != ttl,
                (None, None) => true,
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        item.extend(keys.iter().map(|(k, v)| (k.clone(), v.clone())));
        let version_attribute = how.version_attribute.as_deref().unwrap_or("ArchiveVersion");
        remove_earlier_archive_attributes(&mut item, version_attribute, how);
        // A malformed image (events/malformed-record.json) is reported, never archived: nothing
        // to measure.
        let malformed = serde_json::from_value::<ttl_archiver::archive::record::Image>(
            Value::Object(item.clone()),
        )
        .is_err();
        let dropped = if malformed {
            Dropped::default()
        } else {
            dropped_near_the_limit(&item, version_attribute, how)
        };
        if !dropped.version {
            item.insert(
                version_attribute.to_owned(),
                json!({ "B": version_of(record) }),
            );
        }
        let key = key_of(&change["Keys"]);
        let order = deletion_order(created as u64, &seq);
        if latest.get(&key).is_none_or(|(o, _, _, _)| *o < order) {
            latest.insert(key, (order, normalize(&Value::Object(item)), dropped, seq));
        }
    }
    Expected {
        dropped: latest
            .iter()
            .filter(|(_, (_, _, dropped, _))| *dropped != Dropped::default())
            .map(|(k, (_, _, dropped, _))| (k.clone(), *dropped))
            .collect(),
        newest: latest
            .iter()
            .map(|(k, (_, _, _, seq))| (k.clone(), seq.clone()))
            .collect(),
        items: latest.into_iter().map(|(k, (_, v, _, _))| (k, v)).collect(),
        failed,
        selected,
    }
}

/// How an archive differs from the expected one: `(key, what)` for each item missing, extra or
/// different (the stamped attributes checked for presence and range, then ignored).
pub fn archive_differences(
    archive: &[Item],
    expected: &Expected,
    key_names: &[&str],
    stamps: &Stamps,
) -> Vec<(String, String)> {
    let mut differences = Vec::new();
    let mut seen = HashSet::new();
    for item in archive {
        let key = key_of_item(item, key_names);
        if !seen.insert(key.clone()) {
            differences.push((key, "archived twice".to_owned()));
            continue;
        }
        let Some(want) = expected.items.get(&key) else {
            differences.push((key, "archived, but never deleted by TTL".to_owned()));
            continue;
        };
        let mut actual = item.clone();
        let dropped = expected.dropped.get(&key).copied().unwrap_or_default();
        if let Err(problem) = check_stamps(&mut actual, stamps, dropped) {
            differences.push((key, problem));
            continue;
        }
        if &item_json(&actual) != want {
            let version = |item: &Value| item["ArchiveVersion"]["B"].as_str().map(str::to_owned);
            let what = match (version(&item_json(&actual)), version(want)) {
                (Some(have), Some(want)) if have != want => format!(
                    "holds the version of {}, not of the newest deletion, {}",
                    describe_version(&have),
                    describe_version(&want)
                ),
                _ => "differs from the projection of its newest deletion".to_owned(),
            };
            differences.push((key, what));
        }
    }
    for key in expected.items.keys() {
        if !seen.contains(key) {
            differences.push((key.clone(), "missing from the archive".to_owned()));
        }
    }
    differences
}

/// A version (base64, as in DynamoDB JSON) as the deletion it stands for.
fn describe_version(base64: &str) -> String {
    let Ok(bytes) = aws_smithy_types::base64::decode(base64) else {
        return format!("version {base64}");
    };
    if bytes.len() != 21 {
        return format!("version {base64}");
    }
    let seconds = u32::from_be_bytes(bytes[..4].try_into().unwrap());
    let mut high = [0u8; 16];
    high[7..].copy_from_slice(&bytes[4..13]);
    let low = u64::from_be_bytes(bytes[13..].try_into().unwrap());
    let sequence = u128::from_be_bytes(high) * 10u128.pow(19) + low as u128;
    format!("the deletion at {seconds} s, sequence number {sequence}")
}

/// Takes the stamped attributes out of `item`, checking each that is not `dropped` is there and
/// in range.
fn check_stamps(item: &mut Item, stamps: &Stamps, dropped: Dropped) -> Result<(), String> {
    let mut take = |name: &str| -> Result<u64, String> {
        item.remove(name)
            .and_then(|v| v.as_n().ok().and_then(|n| n.parse().ok()))
            .ok_or_else(|| format!("no numeric {name}"))
    };
    let archived_at = stamps
        .archived_at
        .filter(|_| !dropped.archived_at)
        .map(&mut take)
        .transpose()?;
    if let Some(at) = archived_at {
        if !(stamps.from..=stamps.to).contains(&at) {
            return Err(format!(
                "archived-at {at} outside {}..={}",
                stamps.from, stamps.to
            ));
        }
    }
    if let Some((name, retention)) = stamps.expiry.filter(|_| !dropped.expiry) {
        let expires = take(name)?;
        let window = stamps.from + retention..=stamps.to + retention;
        if !window.contains(&expires) {
            return Err(format!("{name} {expires} outside {window:?}"));
        }
        if archived_at.is_some_and(|at| expires != at + retention) {
            return Err(format!("{name} is not the archive time plus the retention"));
        }
    }
    Ok(())
}

/// Asserts the archive holds exactly the expected items (nothing else), comparing every
/// attribute; the stamped attributes are checked for presence and range, then ignored.
pub fn assert_archive_matches(
    archive: &[Item],
    expected: &Expected,
    key_names: &[&str],
    stamps: &Stamps,
) {
    let differences = archive_differences(archive, expected, key_names, stamps);
    assert!(
        differences.is_empty(),
        "the archive differs: {differences:#?}"
    );
}

/// The invariant of the product: every selected record is archived with the right content or
/// reported, and nothing outside the expectation is written.
pub fn assert_accounted(
    failed: &[(String, String)],
    archive: &[Item],
    event_json: &str,
    how: &Expectation,
    key_names: &[&str],
) {
    let want = expected(event_json, how);
    let failed: HashSet<&str> = failed.iter().map(|(s, _)| s.as_str()).collect();
    let mut archived = HashSet::new();
    for item in archive {
        let key = key_of_item(item, key_names);
        let content = want
            .items
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected item written: {key}"));
        assert_eq!(&item_json(item), content, "archive item {key} differs");
        archived.insert(key);
    }
    let event: Value = serde_json::from_str(event_json).unwrap();
    for record in event["Records"].as_array().unwrap() {
        let seq = record["dynamodb"]["SequenceNumber"].as_str().unwrap();
        if !want.selected.iter().any(|s| s == seq) {
            assert!(
                !failed.contains(seq),
                "skipped record {seq} reported as failed"
            );
            continue;
        }
        let key = key_of(&record["dynamodb"]["Keys"]);
        assert!(
            failed.contains(seq)
                || (archived.contains(&key) && !want.failed.iter().any(|s| s == seq)),
            "record {seq} ({key}) neither archived nor reported"
        );
    }
}

/// One TTL removal, as the stream of the Region whose TTL deleted the item carries it: created at
/// `created` (epoch seconds), with `keys` and `old_image` in DynamoDB JSON. `id` numbers its
/// `eventID`. Remove `userIdentity` for another Region's replicated delete.
pub fn ttl_removal(
    id: usize,
    created: u64,
    sequence_number: &str,
    keys: Value,
    old_image: Value,
) -> Value {
    json!({
        "eventID": format!("{id:032}"),
        "eventName": "REMOVE",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created,
            "Keys": keys,
            "OldImage": old_image,
            "SequenceNumber": sequence_number,
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-11-01T00:00:00.000",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    })
}

/// TTL removals of the given keys (DynamoDB JSON `Keys` objects), in order, with increasing
/// sequence numbers and creation times. Each old image holds the key, the record's sequence
/// number and `extra` (merged in).
pub fn keyed_event(keys: &[Value], extra: impl Fn(usize) -> Value) -> String {
    let records: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let seq = format!("{}", 5_000_000_000_000_000_000u128 + i as u128 * 100);
            let mut image = key.as_object().unwrap().clone();
            image.insert("seq".into(), json!({ "N": seq }));
            image.insert("ExpirationTime".into(), json!({ "N": "1700000000" }));
            if let Value::Object(more) = extra(i) {
                image.extend(more);
            }
            ttl_removal(
                i,
                1_795_000_000 + i as u64,
                &seq,
                key.clone(),
                Value::Object(image),
            )
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// `n` distinct keys of a schema: `S`+`N` composite (`tenant`, `ts`), `N` (`id`) or `B` (`id`).
pub fn keys_of_schema(schema: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| match schema {
            "SN" => json!({"tenant": {"S": format!("t{}", i % 3)}, "ts": {"N": format!("{}", 1000 + i)}}),
            "N" => json!({"id": {"N": format!("{}.5", i)}}),
            "B" => json!({"id": {"B": aws_smithy_types::base64::encode([0u8, 255, i as u8])}}),
            other => panic!("unknown schema {other}"),
        })
        .collect()
}

/// The table key of a schema from [`keys_of_schema`], as `create_table` takes it.
pub fn table_key(schema: &str) -> &'static [(&'static str, &'static str)] {
    match schema {
        "SN" => &[("tenant", "S"), ("ts", "N")],
        "N" => &[("id", "N")],
        "B" => &[("id", "B")],
        other => panic!("unknown schema {other}"),
    }
}

/// Asserts that the records of one key, the winner and those it superseded, share one fate:
/// all reported or none.
pub fn assert_superseded_share_fate(failed: &[(String, String)], event_json: &str) {
    let event: Value = serde_json::from_str(event_json).unwrap();
    let failed: HashSet<&str> = failed.iter().map(|(s, _)| s.as_str()).collect();
    let mut fates: BTreeMap<String, HashSet<bool>> = BTreeMap::new();
    for record in event["Records"].as_array().unwrap() {
        let seq = record["dynamodb"]["SequenceNumber"].as_str().unwrap();
        fates
            .entry(key_of(&record["dynamodb"]["Keys"]))
            .or_default()
            .insert(failed.contains(seq));
    }
    for (key, fate) in fates {
        assert_eq!(fate.len(), 1, "the records of {key} did not share one fate");
    }
}

/// A batch of `n` TTL removals of distinct session items, built from events/ttl-remove.json.
pub fn sessions_event(n: usize) -> String {
    let template: Value = serde_json::from_str(&super::read_event("ttl-remove.json")).unwrap();
    let record = &template["Records"][0];
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let mut r = record.clone();
            let pk = json!({ "S": format!("SESSION#{i:06}") });
            r["dynamodb"]["Keys"]["PK"] = pk.clone();
            r["dynamodb"]["OldImage"]["PK"] = pk;
            r["dynamodb"]["OldImage"]["SessionInfo"]["M"]["hits"] = json!({ "N": i.to_string() });
            r["dynamodb"]["SequenceNumber"] = json!(format!("{}", 4_000_000_000_000u64 + i as u64));
            r
        })
        .collect();
    json!({ "Records": records }).to_string()
}
