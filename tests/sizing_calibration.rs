//! The sizing model (`ttl_archiver::sizing`, `tools/sizing`) against the real pipeline, at small
//! scale and in real time: the release binary behind the Runtime API emulator, fed a steady rate
//! of TTL deletions by a mapping that keeps the rules of `tests/support/esm.rs` (batch size and
//! window, the lowest failed sequence number as checkpoint, retries, record age), writing to
//! dynalite through the fault proxy, which throttles as DynamoDB does above a capacity in write
//! units a second (the items over it come back unprocessed; none fitting, the whole request is
//! refused). At two capacities below the deletion rate the model, given the same parameters, must
//! agree within 25% on the records archived in the run and on whether any are parked. The
//! figures are in docs/sizing.md ("Calibrated against the real pipeline").
#![cfg(feature = "operator")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::dynalite::{admin_client, create_table, Dynalite};
use support::dynamodb_size::{item_size, items_written};
use support::items::ttl_removal;
use support::proxy::{Fault, FaultProxy};
use support::runtime_api::{Function, Outcome, RuntimeApi};
use ttl_archiver::sizing::function::FunctionModel;
use ttl_archiver::sizing::pipeline::{simulate_until, Load, Stack};
use ttl_archiver::sizing::workload::Deletions;

/// The run: deletions a second, for how long, and the mapping's settings.
const RATE: f64 = 300.0;
const SECONDS: f64 = 30.0;
const BATCH_SIZE: u64 = 100;
const WINDOW_SECONDS: f64 = 0.5;
const MAX_RETRIES: u32 = 10;
const MAX_RECORD_AGE_SECONDS: f64 = 10.0;
/// The simulation's function timeout (tests/support/simulation): the deadline logic of the
/// template's 60 s, in real time a test can afford.
const TIMEOUT: Duration = Duration::from_secs(2);
const DEADLINE_MARGIN_SECONDS: f64 = 0.25;

/// What a run archived and parked by its end.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Outcomes {
    archived: u64,
    parked: u64,
}

/// DynamoDB's throttling, as a token bucket of `units_per_second` (at most a second saved up):
/// a BatchWriteItem takes the items that fit, in order; the rest come back unprocessed.
struct Capacity {
    units_per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Capacity {
    fn decide(&mut self, body: &str) -> Fault {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.units_per_second;
        self.tokens = (self.tokens + refill).min(self.units_per_second);
        self.at = now;
        let Ok(request) = serde_json::from_str::<Value>(body) else {
            return Fault::Pass;
        };
        let items = items_written(&request);
        let mut fitting = 0;
        for item in &items {
            let units = item_size(item).div_ceil(1024).max(1) as f64;
            if units > self.tokens {
                break;
            }
            self.tokens -= units;
            fitting += 1;
        }
        match (fitting, items.len()) {
            (f, n) if f == n => Fault::Pass,
            (0, _) => Fault::Throttle,
            // The proxy withholds the last ceil(n * fraction) items: exactly n - f.
            (f, n) => Fault::Unprocess(((n - f) as f64 - 0.5) / n as f64),
        }
    }
}

/// An old image of about 300 bytes as DynamoDB counts it (one write unit with what the archiver
/// adds), keyed `PK`.
fn record(i: u64, created: u64) -> Value {
    let key = json!({"PK": {"S": format!("session-{i:08}")}});
    let mut image = key.as_object().unwrap().clone();
    image.insert("ExpirationTime".into(), json!({"N": "1700000000"}));
    image.insert("SessionInfo".into(), json!({"S": "x".repeat(240)}));
    let seq = format!("{}", 4_000_000_000_000_000_000u128 + i as u128 * 10);
    ttl_removal(i as usize, created, &seq, key, Value::Object(image))
}

fn item_bytes() -> u64 {
    let image = record(0, 0)["dynamodb"]["OldImage"].clone();
    item_size(image.as_object().unwrap()) as u64
}

/// The real pipeline for [`SECONDS`] at `capacity` write units a second.
fn real_run(binary: &std::path::Path, dynalite: &Dynalite, capacity: f64) -> Outcomes {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let table = format!("calibration-{}", capacity as u64);
    rt.block_on(create_table(
        &rt.block_on(admin_client(&dynalite.endpoint)),
        &table,
        &[("PK", "S")],
    ));
    let bucket = Arc::new(Mutex::new(Capacity {
        units_per_second: capacity,
        tokens: capacity,
        at: Instant::now(),
    }));
    let proxy = rt.block_on(FaultProxy::start_inspecting(
        &dynalite.endpoint,
        move |_, body| bucket.lock().unwrap().decide(body),
    ));
    let api = rt.block_on(RuntimeApi::start());
    let margin = ((DEADLINE_MARGIN_SECONDS * 1000.0) as u64).to_string();
    let env = [
        ("TABLE_NAME", table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint.as_str()),
        ("DEADLINE_MARGIN_MS", margin.as_str()),
    ];
    let _function = {
        let _guard = rt.enter();
        Function::start(binary, &api, &env)
    };

    // The mapping, in real time: [PAR] a batch goes when it holds BatchSize records or its
    // first has waited the window; [ERR] one whose first record is older than the record age is
    // parked unsent; [PBR] after a partial failure the mapping goes on from the lowest failed
    // record, and parks the rest after MaximumRetryAttempts retries.
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = Instant::now();
    let arrival = |i: u64| i as f64 / RATE;
    let total = (RATE * SECONDS) as u64;
    let (mut checkpoint, mut attempts) = (0u64, 0u32);
    // After a partial failure, how many records from the checkpoint are sent again.
    let mut retry: Option<u64> = None;
    let mut outcomes = Outcomes {
        archived: 0,
        parked: 0,
    };
    loop {
        let now = start.elapsed().as_secs_f64();
        if now >= SECONDS {
            break;
        }
        let arrived = ((now * RATE) as u64).min(total);
        let wait_until = |t: f64| {
            let wait = (t - start.elapsed().as_secs_f64()).clamp(0.0, SECONDS);
            std::thread::sleep(Duration::from_secs_f64(wait + 0.001));
        };
        let oldest = arrival(checkpoint + 1);
        let take = match retry {
            // [PBR] A retry sends the same records again, at once.
            Some(records) => records,
            None => {
                if arrived <= checkpoint {
                    wait_until(oldest);
                    continue;
                }
                if arrived - checkpoint < BATCH_SIZE && now < oldest + WINDOW_SECONDS {
                    wait_until((oldest + WINDOW_SECONDS).min(arrival(checkpoint + BATCH_SIZE)));
                    continue;
                }
                (arrived - checkpoint).min(BATCH_SIZE)
            }
        };
        if now - oldest > MAX_RECORD_AGE_SECONDS {
            outcomes.parked += take;
            checkpoint += take;
            (attempts, retry) = (0, None);
            continue;
        }
        let records: Vec<Value> = (checkpoint..checkpoint + take)
            .map(|i| record(i, epoch + arrival(i + 1) as u64))
            .collect();
        let event = json!({ "Records": records }).to_string();
        let outcome = rt.block_on(api.invoke(&event, TIMEOUT));
        let in_time = start.elapsed().as_secs_f64() <= SECONDS;
        // [PBR] The checkpoint: the lowest failed record; a retry sends the batch from it.
        let written = match &outcome {
            Outcome::Response(response) => {
                let failed: Vec<u64> = response["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| {
                        let seq: u128 = f["itemIdentifier"].as_str()?.parse().ok()?;
                        Some(((seq - 4_000_000_000_000_000_000u128) / 10) as u64 - checkpoint)
                    })
                    .collect();
                failed.into_iter().min().unwrap_or(take)
            }
            Outcome::Error(_) => 0,
        };
        if in_time {
            outcomes.archived += written;
        }
        checkpoint += written;
        if written == take {
            (attempts, retry) = (0, None);
            continue;
        }
        attempts += 1;
        retry = Some(take - written);
        if attempts > MAX_RETRIES {
            if in_time {
                outcomes.parked += take - written;
            }
            checkpoint += take - written;
            (attempts, retry) = (0, None);
        }
    }
    outcomes
}

/// The model with the same parameters: one shard, one batcher, the capacity as the table's
/// write quota (a ceiling it never passes, as the proxy's), the
/// function on this machine's whole core with the local servers' round trip.
fn model_run(capacity: f64) -> Outcomes {
    let load = Load {
        deletions: Deletions::new(RATE, SECONDS, 0.0),
        item_bytes: item_bytes(),
    };
    let stack = Stack {
        shards: 1,
        parallelization_factor: 1,
        batch_size: BATCH_SIZE,
        batching_window_seconds: WINDOW_SECONDS,
        maximum_retry_attempts: MAX_RETRIES,
        maximum_record_age_seconds: MAX_RECORD_AGE_SECONDS,
        iterator_age_alarm_seconds: MAX_RECORD_AGE_SECONDS,
        concurrency_limit: 1,
        // The proxy's capacity is a table that never grows: its quota.
        warm_write_units: 0.0,
        table_write_quota: capacity,
        function: FunctionModel {
            memory_mb: 1_769.0,
            timeout_seconds: TIMEOUT.as_secs_f64(),
            deadline_margin_seconds: DEADLINE_MARGIN_SECONDS,
            round_trip_seconds: 0.004,
            invoke_overhead_seconds: 0.002,
            ..FunctionModel::default()
        },
        seed: 1,
    };
    let figures = simulate_until(&load, &stack, SECONDS, |_| {});
    Outcomes {
        archived: figures.archived_records,
        parked: figures.parked_records,
    }
}

#[test]
fn the_model_agrees_with_the_real_pipeline_on_throughput_and_on_parking() {
    let Some(binary) = Function::binary() else {
        return;
    };
    let Some(dynalite) = Dynalite::start() else {
        return;
    };
    assert_eq!(
        ttl_archiver::sizing::archive_table::write_units(
            item_bytes() + ttl_archiver::sizing::pipeline::ARCHIVER_ADDS_BYTES
        ),
        1,
        "the records are one write unit each, as the capacities below assume"
    );
    // Below the deletion rate (300 units a second) both: the first far enough below that the
    // oldest record passes the record age within the run, the second not.
    for (capacity, parks) in [(100.0, true), (250.0, false)] {
        let real = real_run(&binary, &dynalite, capacity);
        let model = model_run(capacity);
        let line = format!(
            "capacity {capacity} units/s for {SECONDS} s at {RATE} deletions/s: real archived {} \
             parked {}, model archived {} parked {}",
            real.archived, real.parked, model.archived, model.parked
        );
        eprintln!("{line}");
        let difference = (real.archived as f64 - model.archived as f64).abs();
        assert!(
            difference <= 0.25 * model.archived as f64,
            "throughput differs by more than 25%: {line}"
        );
        assert_eq!(real.parked > 0, model.parked > 0, "{line}");
        assert_eq!(model.parked > 0, parks, "{line}");
    }
}
