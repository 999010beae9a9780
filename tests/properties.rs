//! Property tests of the pure parts: any DynamoDB value decodes and projects without loss, the
//! item size is DynamoDB's (as dynalite counts it), versions order as (time, sequence number),
//! and planning never puts a key twice and accounts for every record. A failure prints the
//! smallest case proptest found; proptest's seed persistence is off, so runs are independent.

mod support;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::process::Command;

use proptest::collection::{btree_map, hash_set, vec};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use support::items::{dynamo_json, normalize};
use ttl_archiver::archive::item_size::item_size;
use ttl_archiver::archive::project::Projection;
use ttl_archiver::archive::record::Record;
use ttl_archiver::archive::version::archive_version;
use ttl_archiver::{plan_batch, StreamBatch};

/// A DynamoDB number as clients send it: sign, up to 38 significant digits, a fraction, an
/// exponent.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        (
            any::<bool>(),
            "[1-9][0-9]{0,18}",
            proptest::option::of("[0-9]{1,18}"),
            proptest::option::of(-30i32..30),
        )
            .prop_map(|(negative, whole, fraction, exponent)| {
                let mut n = String::new();
                if negative {
                    n.push('-');
                }
                n.push_str(&whole);
                if let Some(fraction) = fraction {
                    n.push('.');
                    n.push_str(&fraction);
                }
                if let Some(exponent) = exponent {
                    n.push_str(&format!("E{exponent:+}"));
                }
                n
            }),
    ]
}

fn base64(bytes: Vec<u8>) -> String {
    aws_smithy_types::base64::encode(&bytes)
}

/// A scalar or set in DynamoDB JSON; `text` generates its strings.
fn leaf(text: &'static str) -> impl Strategy<Value = Value> {
    prop_oneof![
        text.prop_map(|s| json!({ "S": s })),
        number().prop_map(|n| json!({ "N": n })),
        vec(any::<u8>(), 0..24).prop_map(|b| json!({ "B": base64(b) })),
        any::<bool>().prop_map(|b| json!({ "BOOL": b })),
        Just(json!({ "NULL": true })),
        hash_set(text, 1..4).prop_map(|s| json!({ "SS": s.into_iter().collect::<Vec<_>>() })),
        hash_set(number(), 1..4).prop_map(|s| json!({ "NS": s.into_iter().collect::<Vec<_>>() })),
        hash_set(vec(any::<u8>(), 1..8), 1..4)
            .prop_map(|s| json!({ "BS": s.into_iter().map(base64).collect::<Vec<_>>() })),
    ]
}

/// Any attribute value, nested lists and maps included (map keys as users write them).
fn value(text: &'static str) -> impl Strategy<Value = Value> {
    leaf(text).prop_recursive(4, 48, 5, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(|l| json!({ "L": l })),
            btree_map("[a-zA-Z0-9@._-]{1,10}", inner, 0..5).prop_map(|m| json!({ "M": m })),
        ]
    })
}

/// An item's attributes besides its key `PK` (lower-case names: never the archiver's).
fn attributes(text: &'static str) -> impl Strategy<Value = BTreeMap<String, Value>> {
    btree_map("[a-z][a-z0-9_]{0,12}", value(text), 0..8)
}

/// A TTL deletion of `PK = pk` with `image` as its old image.
fn ttl_record(pk: &str, seq: u64, image: &BTreeMap<String, Value>) -> Value {
    let mut old = json!(image);
    old["PK"] = json!({ "S": pk });
    json!({
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "ApproximateCreationDateTime": 1795000001,
            "Keys": {"PK": {"S": pk}},
            "OldImage": old,
            "SequenceNumber": seq.to_string(),
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_value_decodes_and_projects_without_loss(image in attributes("\\PC{0,12}")) {
        let record = ttl_record("k", 100, &image).to_string();
        let decoded: Record = serde_json::from_str(&record).unwrap();
        let item = Projection::default()
            .project("100".into(), decoded.change, 0, record.len())
            .unwrap()
            .item;
        for (name, original) in &image {
            prop_assert_eq!(&dynamo_json(&item[name]), &normalize(original), "{}", name);
        }
        prop_assert_eq!(item.len(), image.len() + 2, "the image, the key and the version");
    }

    #[test]
    fn versions_order_as_time_then_sequence_number(
        a in (0u32..4_000_000_000, "[1-9][0-9]{0,39}"),
        b in (0u32..4_000_000_000, "[1-9][0-9]{0,39}"),
    ) {
        let numeric = |s: &str| (s.len(), s.to_owned());
        let expected = a.0.cmp(&b.0).then(numeric(&a.1).cmp(&numeric(&b.1)));
        let (va, vb) = (
            archive_version(a.0.into(), &a.1).unwrap(),
            archive_version(b.0.into(), &b.1).unwrap(),
        );
        prop_assert_eq!(va.as_bytes().cmp(vb.as_bytes()), expected);
    }

    #[test]
    fn planning_puts_each_key_once_and_accounts_for_every_record(
        records in vec((0u8..4, 0usize..12), 1..150),
    ) {
        // Kind 0 and 1: a TTL deletion; 2: one without an old image; 3: a user's delete.
        let events: Vec<Value> = records
            .iter()
            .enumerate()
            .map(|(i, (kind, key))| {
                let pk = format!("key-{key}");
                let mut record = ttl_record(&pk, 1000 + i as u64, &BTreeMap::new());
                match kind {
                    2 => {
                        record["dynamodb"].as_object_mut().unwrap().remove("OldImage");
                        record["dynamodb"]["StreamViewType"] = json!("KEYS_ONLY");
                    }
                    3 => {
                        record.as_object_mut().unwrap().remove("userIdentity");
                    }
                    _ => {}
                }
                record
            })
            .collect();
        let batch = json!({ "Records": events }).to_string();
        let plan = plan_batch(&Projection::default(), StreamBatch::from_json(&batch).unwrap(), 0).unwrap();
        let ttl = records.iter().filter(|(kind, _)| *kind < 3).count();
        prop_assert_eq!(plan.received, records.len());
        prop_assert_eq!(plan.selected, ttl);
        prop_assert_eq!(plan.skipped, records.len() - ttl);
        let mut keys = HashSet::new();
        let mut planned = 0;
        for chunk in &plan.chunks {
            prop_assert!(chunk.len() <= 25);
            for group in chunk {
                prop_assert!(keys.insert(group.key().clone()), "a key twice");
                planned += group.record_count();
            }
        }
        prop_assert_eq!(planned + plan.failed.len(), plan.selected, "every record accounted for");
    }
}

/// The tests' own count of an item's size (tests/support/dynamodb_size.rs, written apart from
/// the library) against the rules of AWS's "DynamoDB item sizes and formats", each applied by
/// hand to a value that shows it.
#[test]
fn the_tests_size_count_follows_aws_rules() {
    use support::dynamodb_size::{item_size as theirs, number_size};
    let item = |value: Value| theirs(value.as_object().unwrap());
    // Names and strings by their UTF-8 bytes: "é" is 2, "✓" is 3, "😀" is 4.
    assert_eq!(item(json!({"name": {"S": "abc"}})), 4 + 3);
    assert_eq!(item(json!({"é": {"S": "✓😀"}})), 2 + 3 + 4);
    assert_eq!(item(json!({"s": {"S": "é".repeat(1000)}})), 1 + 2000);
    // A binary by its raw bytes, not its base64.
    assert_eq!(item(json!({"b": {"B": "AAEC/w=="}})), 1 + 4);
    // Null and Boolean: 1 byte.
    assert_eq!(
        item(json!({"t": {"BOOL": true}, "z": {"NULL": true}})),
        2 + 2
    );
    // A list or map: 3 bytes, 1 per element, the elements (a map's keys count as names).
    assert_eq!(item(json!({"l": {"L": []}})), 1 + 3);
    assert_eq!(item(json!({"m": {"M": {}}})), 1 + 3);
    assert_eq!(
        item(json!({"l": {"L": [{"S": "ab"}, {"NULL": true}]}})),
        1 + 3 + (1 + 2) + (1 + 1)
    );
    assert_eq!(
        item(json!({"m": {"M": {"kéy": {"S": "v"}}}})),
        1 + 3 + 1 + (4 + 1)
    );
    // Numbers: one byte per two significant digits and one more, leading and trailing zeros
    // trimmed (exactly: base-100 digits from the decimal point; a byte for a minus sign).
    for (number, size) in [
        ("0", 1),
        ("7", 2),
        ("12", 2),
        ("123", 3),
        ("1200", 2),
        ("00012", 2),
        ("12.50", 3),
        ("-1", 3),
        ("1.5E+3", 2),
        ("42E-7", 3),
        ("1800000000", 2),
        ("1795000123", 6),
        ("99999999999999999999999999999999999999", 20),
    ] {
        assert_eq!(number_size(number), size, "{number}");
    }
    // Sets: the sum of their members.
    assert_eq!(item(json!({"ss": {"SS": ["a", "bé"]}})), 2 + 1 + 3);
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Two counts written apart, one in the library and one in the tests, agree on any item,
    /// non-ASCII names and strings included.
    #[test]
    fn the_library_s_size_and_the_tests_agree(image in attributes("\\PC{0,40}")) {
        let record = ttl_record("k", 1, &image).to_string();
        let decoded: Record = serde_json::from_str(&record).unwrap();
        let mut ours = decoded.change.old_image.0;
        ours.remove("PK");
        let theirs = support::dynamodb_size::item_size(json!(image).as_object().unwrap());
        prop_assert_eq!(item_size(&ours), theirs, "{}", json!(image));
    }
}

/// The archiver's item size against dynalite's own count (db/index.js `itemSize`), which is what
/// refuses an item over 400 KB in the tests. ASCII strings only: dynalite counts a string's
/// UTF-16 units where DynamoDB counts UTF-8 bytes (the unit tests cover UTF-8).
#[test]
fn the_item_size_is_the_one_dynalite_enforces() {
    let dynalite = support::repo_path("tools/node_modules/dynalite/db/index.js");
    if !dynalite.exists() {
        support::missing_tool("dynalite (tools/node_modules)");
        return;
    }
    // A fixed seed: the same 300 items every run.
    let mut runner = TestRunner::deterministic();
    let strategy = attributes("[ -~]{0,40}");
    let items: Vec<Value> = (0..300)
        .map(|_| json!(strategy.new_tree(&mut runner).unwrap().current()))
        .collect();
    let script = format!(
        "const db = require({:?}); const items = JSON.parse(require('fs').readFileSync(0, 'utf8')); \
         console.log(JSON.stringify(items.map(item => db.itemSize(item))));",
        dynalite.to_str().unwrap()
    );
    let mut node = Command::new("node")
        .args(["-e", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    use std::io::Write;
    node.stdin
        .take()
        .unwrap()
        .write_all(json!(items).to_string().as_bytes())
        .unwrap();
    let output = node.wait_with_output().unwrap();
    let theirs: Vec<usize> = serde_json::from_slice(&output.stdout).expect("dynalite's sizes");
    for (item, theirs) in items.iter().zip(theirs) {
        let record = ttl_record("k", 1, &serde_json::from_value(item.clone()).unwrap()).to_string();
        let decoded: Record = serde_json::from_str(&record).unwrap();
        let mut image = decoded.change.old_image.0;
        image.remove("PK");
        assert_eq!(
            item_size(&image).cmp(&theirs),
            Ordering::Equal,
            "{item}: ours {}, dynalite's {theirs}",
            item_size(&image)
        );
    }
}
