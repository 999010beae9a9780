//! The whole pipeline, simulated (tests/support/simulation): a few fixed seeds in the test
//! command, any number with `bash tools/simulate`.
#![cfg(feature = "operator")]

mod support;

use support::runtime_api::Function;
use support::simulation::{run, Archive, Figures, FunctionUnderTest};

/// Seeds that between them show every mechanism: retries, bisects, parked and redriven batches.
const TEST_SEEDS: [u64; 2] = [20, 5];

#[test]
fn the_pipeline_loses_no_ttl_deletion_and_a_seed_reproduces_its_run() {
    let Some(binary) = Function::binary() else {
        return;
    };
    let function = FunctionUnderTest::Binary(binary);
    let Some(summary) = run(TEST_SEEDS, &function, Archive::OneRegion) else {
        return;
    };
    assert!(summary.passed(), "{}", summary.line());
    let t = &summary.totals;
    for (mechanism, count) in [
        (
            "deletions later in time at a lower sequence number",
            t.lower_sequence_later,
        ),
        ("retries", t.retries),
        ("bisects", t.bisects),
        ("parked batches", t.parked),
        ("redriven batches", t.redriven),
    ] {
        assert!(count > 0, "no {mechanism} in seeds {TEST_SEEDS:?}");
    }

    // Every decision of the mapping and of the faults again; only how many write faults fit
    // before a deadline depends on real time.
    let again = run([TEST_SEEDS[0]], &function, Archive::OneRegion).unwrap();
    let without_write_faults = |figures: &Figures| Figures {
        write_faults: 0,
        ..figures.clone()
    };
    assert_eq!(
        without_write_faults(&again.per_seed[0].1),
        without_write_faults(&summary.per_seed[0].1),
        "seed {} ran differently the second time",
        TEST_SEEDS[0]
    );
}

/// The same seeds with the function as a global table's Region runs it: a conditional put per
/// item, and the faults, the outage and the crashes on those puts.
#[test]
fn as_a_global_tables_region_the_pipeline_loses_no_ttl_deletion() {
    let Some(binary) = Function::binary() else {
        return;
    };
    let function = FunctionUnderTest::Binary(binary);
    let Some(summary) = run(TEST_SEEDS, &function, Archive::Global) else {
        return;
    };
    assert!(summary.passed(), "{}", summary.line());
    let t = &summary.totals;
    for (mechanism, count) in [
        (
            "deletions later in time at a lower sequence number",
            t.lower_sequence_later,
        ),
        ("write faults", t.write_faults as usize),
        ("retries", t.retries),
        ("parked batches", t.parked),
        ("redriven batches", t.redriven),
    ] {
        assert!(count > 0, "no {mechanism} in seeds {TEST_SEEDS:?}");
    }
}

/// `bash tools/simulate`: the seeds and the function from its environment.
#[test]
#[ignore = "run by tools/simulate"]
fn simulate() {
    let first: u64 = env_number("SIMULATE_FIRST_SEED");
    let seeds: u64 = env_number("SIMULATE_SEEDS");
    let function = match std::env::var("SIMULATE_FUNCTION") {
        Ok(command) if !command.is_empty() => FunctionUnderTest::Command(command),
        _ => FunctionUnderTest::Binary(Function::binary().expect("the release binary")),
    };
    let archive = match std::env::var("SIMULATE_GLOBAL_ARCHIVE").as_deref() {
        Ok("1") => Archive::Global,
        _ => Archive::OneRegion,
    };
    let summary = run(first..first + seeds, &function, archive).expect("the simulation's tools");
    assert!(
        summary.passed(),
        "seeds that failed: {:?}",
        summary.failed_seeds
    );
}

fn env_number(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} must be a number"))
}
