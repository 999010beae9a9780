//! The sizing model and `tools/sizing` (README, "Sizing"). Each expected figure is computed here
//! from AWS's rules as stated, by hand (a write unit per KB, a new table's 4,000 units doubling
//! after 30 minutes, a backlog's age growing with the shortfall), never by calling the model;
//! then the command as a user runs it, on the cases the issue names.
#![cfg(feature = "operator")]

use std::process::Command;

use serde_json::Value;
use ttl_archiver::sizing::function::FunctionModel;
use ttl_archiver::sizing::pipeline::{simulate, simulate_until, Load, Stack};
use ttl_archiver::sizing::workload::Deletions;

fn stack(shards: u64, warm: f64, max_age: f64) -> Stack {
    Stack {
        shards,
        parallelization_factor: 1,
        batch_size: 1_000,
        batching_window_seconds: 5.0,
        maximum_retry_attempts: 10,
        maximum_record_age_seconds: max_age,
        iterator_age_alarm_seconds: 600.0,
        concurrency_limit: 1_000,
        warm_write_units: warm,
        table_write_quota: ttl_archiver::sizing::archive_table::TABLE_WRITE_QUOTA,
        function: FunctionModel::default(),
        seed: 7,
    }
}

fn load(per_second: f64, seconds: f64, item_bytes: u64) -> Load {
    Load {
        deletions: Deletions::new(per_second, seconds, 0.0),
        item_bytes,
    }
}

/// A write unit per KB of the archived item (the item and the archiver's 35-byte version),
/// rounded up: worked out by hand for the sizes used here.
const UNITS_OF_900_BYTES: u64 = 1; // 935 bytes
const UNITS_OF_2000_BYTES: u64 = 2; // 2,035 bytes

#[test]
fn a_light_load_is_archived_whole_within_its_batching_window() {
    let figures = simulate(&load(100.0, 600.0, 900), &stack(1, 0.0, 21_600.0), |_| {});
    assert_eq!(figures.deletions, 60_000);
    assert_eq!(figures.archived_records, 60_000);
    assert_eq!(figures.parked_records, 0);
    assert_eq!(figures.throttled_writes, 0);
    assert_eq!(figures.write_units, 60_000 * UNITS_OF_900_BYTES);
    // A batch waits the 5 s window for its first record, the last is fresh.
    assert!(figures.max_iterator_age_seconds < 6.0, "{figures:?}");
    assert!(figures.drain_seconds < 600.0 + 10.0, "{figures:?}");
}

#[test]
fn a_table_below_the_load_archives_at_its_capacity_and_the_backlog_ages() {
    // 10,000 deletions a second of 2-unit items (20,000 units) into 8,000 units of warm
    // throughput, for 20 minutes (less than the 30 in which on-demand doubles).
    let (rate, seconds, capacity) = (10_000.0, 1_200.0, 8_000.0);
    let figures = simulate_until(
        &load(rate, seconds, 2_000),
        &stack(20, capacity, 86_000.0),
        seconds,
        |_| {},
    );
    let expected = capacity / UNITS_OF_2000_BYTES as f64 * seconds;
    let archived = figures.archived_records as f64;
    assert!(
        (archived - expected).abs() < 0.1 * expected,
        "{archived} archived, {expected} expected"
    );
    // What is not archived waits: the oldest record's age at the end is the time it would take
    // at the rate of deletions to reach the records archived.
    let age = seconds - archived / rate;
    let seen = figures.max_iterator_age_seconds;
    assert!(
        (seen - age).abs() < 0.15 * age,
        "age {seen}, {age} expected"
    );
    assert!(figures.throttled_writes > 0);
}

#[test]
fn a_new_table_serves_4000_units_then_doubles_its_peak_after_30_minutes() {
    // 20,000 units a second asked of a new on-demand table for an hour: 4,000 a second for 30
    // minutes, then 8,000.
    let figures = simulate_until(
        &load(20_000.0, 3_600.0, 900),
        &stack(40, 0.0, 86_000.0),
        3_600.0,
        |_| {},
    );
    let expected = 4_000.0 * 1_800.0 + 8_000.0 * 1_800.0;
    let units = figures.write_units as f64;
    assert!(
        (units - expected).abs() < 0.1 * expected,
        "{units} units, {expected} expected"
    );
}

#[test]
fn records_older_than_the_record_age_are_parked_and_none_is_lost() {
    let figures = simulate(
        &load(20_000.0, 1_800.0, 900),
        &stack(40, 0.0, 300.0),
        |_| {},
    );
    assert!(figures.parked_records > 0, "{figures:?}");
    assert_eq!(
        figures.archived_records + figures.parked_records + figures.expired_in_stream,
        figures.deletions,
        "every record archived, parked or expired"
    );
    assert_eq!(figures.expired_in_stream, 0, "a record age under 24 h");
    assert!(
        figures.max_iterator_age_seconds <= 300.0 + 1.0,
        "{figures:?}"
    );
}

#[test]
fn with_fewer_slots_than_batchers_every_record_is_still_accounted_for() {
    // 20 shards, 3 concurrent invocations: lanes wait for a slot; lanes that park without taking
    // one must pass it on.
    let mut few = stack(20, 0.0, 120.0);
    few.concurrency_limit = 3;
    let figures = simulate(&load(20_000.0, 600.0, 900), &few, |_| {});
    assert!(figures.peak_concurrency <= 3, "{figures:?}");
    assert!(figures.parked_records > 0, "{figures:?}");
    assert_eq!(
        figures.archived_records + figures.parked_records + figures.expired_in_stream,
        figures.deletions,
        "{figures:?}"
    );
}

#[test]
fn a_batch_stops_at_6_mb_before_its_batch_size() {
    // 5,000-byte items: an event record of about 5,000 x 1.3 + 600 = 7,100 bytes, so 6 MB
    // (6,291,456 bytes) holds 886 of them, fewer than BatchSize 1,000. 1,000 deletions a second
    // fill a batch within the 5 s window; the table is warm enough never to throttle.
    let figures = simulate(
        &load(1_000.0, 600.0, 5_000),
        &stack(1, 40_000.0, 21_600.0),
        |_| {},
    );
    assert_eq!(figures.throttled_writes, 0, "{figures:?}");
    assert_eq!(figures.archived_records, 600_000);
    assert!(
        figures.invocations >= 600_000u64.div_ceil(886),
        "{figures:?}"
    );
}

#[test]
fn a_seed_reproduces_its_run() {
    let (l, s) = (load(20_000.0, 600.0, 900), stack(10, 0.0, 120.0));
    assert_eq!(simulate(&l, &s, |_| {}), simulate(&l, &s, |_| {}));
}

/// `tools/sizing … --output json` as a script reads it, and its exit status.
fn sizing(args: &[&str]) -> (Value, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-sizing"))
        .args(args)
        .args(["--output", "json"])
        .output()
        .expect("run ttl-archiver-sizing");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    (summary, output.status.code())
}

#[test]
fn a_steady_100_a_second_parks_nothing_and_stays_under_a_minute_old() {
    let (report, status) = sizing(&["--deletions-per-second", "100", "--hours", "1"]);
    assert_eq!(report["parked_records"], 0, "{report}");
    assert_eq!(report["archived_records"], 360_000, "{report}");
    assert!(
        report["max_iterator_age_seconds"].as_f64().unwrap() < 60.0,
        "{report}"
    );
    assert!(report["write_units"].as_u64().unwrap() >= 360_000);
    assert_eq!(report["recommended"]["parallelization_factor"], 1);
    assert_eq!(report["recommended"]["warm_write_units_per_second"], 0);
    assert_eq!(status, Some(0));
}

#[test]
fn a_burst_far_above_a_new_table_parks_and_the_recommended_warm_throughput_parks_none() {
    // 40,000 units a second, ten times a new table's, with records kept 5 minutes.
    let burst = [
        "--deletions-per-second",
        "40000",
        "--hours",
        "0.5",
        "--item-bytes",
        "900",
        "--shards",
        "40",
        "--max-record-age-seconds",
        "300",
    ];
    let (report, status) = sizing(&burst);
    assert!(report["parked_records"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(status, Some(1), "settings that park exit 1");
    let recommended = &report["recommended"];
    assert_eq!(recommended["keeps_up"], true, "{report}");
    assert_eq!(recommended["figures"]["parked_records"], 0);
    let warm = recommended["warm_write_units_per_second"].as_u64().unwrap();
    let factor = recommended["parallelization_factor"].as_u64().unwrap();
    assert!(warm > 4_000, "{report}");

    // The same burst with the recommended settings, run again as the user would set them.
    let (warm, factor) = (warm.to_string(), factor.to_string());
    let mut again = burst.to_vec();
    again.extend([
        "--warm-write-units",
        &warm,
        "--parallelization-factor",
        &factor,
    ]);
    let (report, status) = sizing(&again);
    assert_eq!(report["parked_records"], 0, "{report}");
    assert_eq!(status, Some(0));
}

#[test]
fn a_bad_argument_exits_2_naming_it() {
    for (flag, value, said) in [
        (
            "--max-record-age-seconds",
            "30",
            "--max-record-age-seconds must be 60 to 604800",
        ),
        ("--ramp-minutes", "NaN", "--ramp-minutes must be 0 to 60"),
        (
            "--warm-write-units",
            "1000",
            "--warm-write-units must be 0 (a new table's) or 4000",
        ),
        (
            "--account-concurrency",
            "0",
            "--account-concurrency must be 1 or more",
        ),
        ("--hours", "1e9", "--hours must be 0.001 to 168"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-sizing"))
            .args(["--deletions-per-second", "100", flag, value])
            .args(if flag == "--hours" {
                vec![]
            } else {
                vec!["--hours", "1"]
            })
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{flag} {value}: {stderr}");
    }
}

/// The README's "Sizing" table is what the command prints: each row's load run again (the
/// README's own command for the billion-item day, pasted; the command the test command built in
/// place of `bash tools/sizing`, which builds the same source), each cell compared.
#[test]
fn the_readmes_sizing_table_is_what_the_command_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("\n## Sizing\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let pasted = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the command block");
    let billion: Vec<&str> = pasted
        .strip_prefix("bash tools/sizing ")
        .expect("the command as a user types it")
        .split_whitespace()
        .collect();
    let steady = [
        "--deletions-per-second",
        "1000",
        "--hours",
        "24",
        "--item-bytes",
        "900",
        "--shards",
        "4",
    ];
    let global = [
        "--deletions-per-second",
        "10000",
        "--hours",
        "6",
        "--item-bytes",
        "900",
        "--shards",
        "16",
        "--global-archive",
        "--other-regions",
        "2",
    ];
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| load"))
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let cells = |figures: &Value, cost: &Value| {
        let age = figures["max_iterator_age_seconds"].as_f64().unwrap();
        (
            ttl_archiver::sizing::cli::thousands(figures["parked_records"].as_f64().unwrap()),
            ttl_archiver::sizing::cli::duration(age),
            format!("${:.2}", cost["total"].as_f64().unwrap()),
        )
    };
    let check = |row: &[&str], (parked, age, cost): (String, String, String)| {
        assert_eq!(row[2], parked, "{row:?}");
        assert!(row[3].starts_with(&age), "{row:?}: {age}");
        assert_eq!(row[4], cost, "{row:?}");
    };
    let runs = [
        (&steady[..], 0, None),
        (&billion[..], 1, Some(2)),
        (&global[..], 3, Some(4)),
    ];
    // The three at once: the billion-item day takes a while in a debug build.
    let reports: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(args, _, _)| scope.spawn(move || sizing(args).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((_, defaults, recommended), report) in runs.into_iter().zip(reports) {
        check(&rows[defaults], cells(&report, &report["cost"]));
        let r = &report["recommended"];
        match recommended {
            None => {
                // The defaults keep up: the recommendation changes only the reservation.
                assert_eq!(r["warm_write_units_per_second"], 0);
                assert_eq!(r["parallelization_factor"], 1);
                check(&rows[defaults], cells(&r["figures"], &r["cost"]));
                let reserved = r["reserved_concurrency"].to_string();
                assert!(
                    rows[defaults][1].ends_with(&format!(
                        "recommended the same, with reserved concurrency {reserved}"
                    )),
                    "{:?}",
                    rows[defaults]
                );
            }
            Some(row) => {
                check(&rows[row], cells(&r["figures"], &r["cost"]));
                let warm = ttl_archiver::sizing::cli::thousands(
                    r["warm_write_units_per_second"].as_f64().unwrap(),
                );
                let reserved = r["reserved_concurrency"].to_string();
                assert_eq!(
                    rows[row][1],
                    format!("warm {warm} units/s, reserved concurrency {reserved}"),
                );
                assert_eq!(r["parallelization_factor"], 1, "the table leaves it out");
            }
        }
    }
}
