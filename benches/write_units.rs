//! What the archiver's own attributes cost in write units: a million archive items whose sizes
//! spread as real tables' do, written with no version, with the decimal-string version of the
//! earlier release, and with today's binary version (alone, and with an archived-at stamp).
//! `cargo bench --bench write_units`. Pure arithmetic on DynamoDB's size rules: no network.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use ttl_archiver::archive::item_size::{attribute_size, write_units, MAX_ITEM_BYTES};
use ttl_archiver::archive::version::archive_version;

const ITEMS: usize = 1_000_000;
/// Item sizes: log-normal, median 1 KB, σ = 1.2 (about 5% under 150 B and 5% over 7 KB), the
/// shape of session, cache and event items; fixed seed, so every run prints the same figures.
const MEDIAN_BYTES: f64 = 1024.0;
const SIGMA: f64 = 1.2;
const SEED: u64 = 20;

fn sizes() -> Vec<usize> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    (0..ITEMS)
        .map(|_| {
            // Box-Muller: a standard normal from two uniforms.
            let (u, v) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
            let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            let bytes = MEDIAN_BYTES * (SIGMA * normal).exp();
            (bytes as usize).clamp(40, MAX_ITEM_BYTES - 200)
        })
        .collect()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("write_units: run with `cargo bench --bench write_units`");
        return;
    }
    let version = archive_version(1_795_000_001, "1000000000000000000100").unwrap();
    let additions: [(&str, Vec<(&str, AttributeValue)>); 4] = [
        ("no version", vec![]),
        (
            "decimal-string version (53 characters; the earlier release)",
            vec![("ArchiveVersion", AttributeValue::S(version.legacy_text()))],
        ),
        (
            "binary version (21 bytes; this release)",
            vec![("ArchiveVersion", version.attribute_value())],
        ),
        (
            "binary version and ArchivedAt",
            vec![
                ("ArchiveVersion", version.attribute_value()),
                ("ArchivedAt", AttributeValue::N("1795000002".into())),
            ],
        ),
    ];
    let sizes = sizes();
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    println!(
        "{ITEMS} items, log-normal sizes: p5 {} B, median {} B, p95 {} B, max {} B\n",
        sorted[ITEMS / 20],
        sorted[ITEMS / 2],
        sorted[ITEMS * 19 / 20],
        sorted[ITEMS - 1]
    );
    println!(
        "| archive item | bytes added | write units per million items | extra over no version |"
    );
    println!("|---|---|---|---|");
    let mut base = 0usize;
    for (name, attributes) in &additions {
        let added: usize = attributes
            .iter()
            .map(|(attribute, value)| attribute_size(attribute, value))
            .sum();
        let units: usize = sizes.iter().map(|bytes| write_units(bytes + added)).sum();
        if attributes.is_empty() {
            base = units;
        }
        let extra = units - base;
        println!(
            "| {name} | {added} | {units} | {extra} ({:.2}%) |",
            extra as f64 * 100.0 / base as f64
        );
    }
    // The sizes are archive items without the archiver's attributes: checked against the rules.
    let probe: HashMap<String, AttributeValue> =
        HashMap::from([("PK".to_owned(), AttributeValue::S("x".repeat(100)))]);
    assert_eq!(ttl_archiver::archive::item_size::item_size(&probe), 102);
}
