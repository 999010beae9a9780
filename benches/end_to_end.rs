//! The release binary as a Lambda custom runtime, invoked through a Runtime API, writing to a
//! local endpoint that answers every BatchWriteItem after a fixed delay (a model of DynamoDB's
//! round trip with no server cost). Reports init time, warm invocation time, requests, peak RSS
//! and CPU time per batch for the two benchmark batches: on a whole core, then on the CPU share
//! Lambda gives each memory size (`--lambda-mb`), with the cost per million archived items.
//!
//! `bash tools/bench`, or with a built binary in TTL_ARCHIVER_BIN:
//! `cargo bench --bench end_to_end -- --lambda-mb 128,256,512,1024,1769`.
//! `RTT_MS` sets the delay (default 8), `RUNS` the warm invocations per batch (default 20).
//! `--global-archive` runs the function as a global table's Region does (GLOBAL_ARCHIVE=true:
//! one conditional PutItem per item instead of BatchWriteItem).

mod common;
mod cpu_share;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use common::fake_dynamodb::fake_dynamodb;
use cpu_share::CpuShare;
use runtime_api::{Function, Outcome, RuntimeApi};

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn missing_tool(what: &str) {
    panic!("{what} is missing: run `cargo build --release` first");
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// CPU time of a process's live threads, from each thread's `se.sum_exec_runtime` in
/// /proc/PID/task/TID/sched (milliseconds with nanosecond digits; /proc/PID/stat counts 10 ms
/// ticks, too coarse for batches of a few milliseconds).
fn cpu_time(pid: u32) -> Duration {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(sched) = std::fs::read_to_string(task.path().join("sched")) else {
            continue;
        };
        let ms = sched
            .lines()
            .find(|l| l.starts_with("se.sum_exec_runtime"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        total += Duration::from_secs_f64(ms / 1000.0);
    }
    total
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Lambda's prices for arm64 in US East (N. Virginia), first tier, as published on
/// https://aws.amazon.com/lambda/pricing/ (read 2026-11-25).
const ARM64_PRICE_PER_GB_SECOND: f64 = 0.000_013_333_4;
const PRICE_PER_REQUEST: f64 = 0.20 / 1_000_000.0;

#[derive(Parser)]
struct Args {
    /// Memory sizes (MB) whose CPU share to run the function under, e.g. 128,256,512,1024,1769
    #[arg(long, value_delimiter = ',')]
    lambda_mb: Vec<u32>,
    /// Write as the archiver of a global table does (GLOBAL_ARCHIVE=true).
    #[arg(long)]
    global_archive: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Process start to the first poll of the Runtime API, for a fresh process.
async fn init_time(binary: &std::path::Path, endpoint: &str, share: Option<&CpuShare>) -> Duration {
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let procs = share.map(CpuShare::procs_file);
    let _function = Function::start_in(
        binary,
        &api,
        &[
            ("TABLE_NAME", "archive"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ],
        procs.as_deref(),
    );
    loop {
        if let Some(at) = api.first_poll() {
            return at - started;
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

struct Figures {
    init: Duration,
    first: Duration,
    warm: Duration,
    warm_min: Duration,
    requests: f64,
    peak_rss_kb: u64,
    cpu: Duration,
}

async fn measure(
    binary: &std::path::Path,
    json: &str,
    runs: usize,
    rtt: Duration,
    share: Option<&CpuShare>,
    global_archive: bool,
) -> Figures {
    let requests = Arc::new(AtomicU64::new(0));
    let endpoint = fake_dynamodb(rtt, requests.clone()).await;
    let api = RuntimeApi::start().await;
    let procs = share.map(CpuShare::procs_file);
    let function = Function::start_in(
        binary,
        &api,
        &[
            ("TABLE_NAME", "archive"),
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
            (
                "GLOBAL_ARCHIVE",
                if global_archive { "true" } else { "false" },
            ),
        ],
        procs.as_deref(),
    );
    let pid = function.pid().unwrap();
    while api.first_poll().is_none() {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let mut inits = Vec::new();
    for _ in 0..7 {
        inits.push(init_time(binary, &endpoint, share).await);
    }
    let init = median(inits);

    let invoke = || async {
        let t = Instant::now();
        let outcome = api.invoke(json, Duration::from_secs(60)).await;
        assert_eq!(
            outcome,
            Outcome::Response(serde_json::json!({"batchItemFailures": []})),
            "{}",
            function.logs()
        );
        t.elapsed()
    };
    let first = invoke().await;
    for _ in 0..2 {
        invoke().await;
    }
    let before_requests = requests.load(Ordering::SeqCst);
    let before_cpu = cpu_time(pid);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(invoke().await);
    }
    let cpu = (cpu_time(pid) - before_cpu) / runs as u32;
    let requests = (requests.load(Ordering::SeqCst) - before_requests) as f64 / runs as f64;
    let peak_rss_kb = proc_status_kb(pid, "VmHWM:");
    let warm_min = *times.iter().min().unwrap();
    Figures {
        init,
        first,
        warm: median(times),
        warm_min,
        requests,
        peak_rss_kb,
        cpu,
    }
}

/// Dollars per million archived items: a million over `records` invocations, each billed its
/// duration (rounded up to the millisecond) at `mb`, plus the request.
fn cost_per_million(warm: Duration, records: usize, mb: u32) -> f64 {
    let invocations = 1_000_000.0 / records as f64;
    let billed_seconds = (warm.as_secs_f64() * 1000.0).ceil() / 1000.0;
    let gb = f64::from(mb) / 1024.0;
    invocations * (billed_seconds * gb * ARM64_PRICE_PER_GB_SECOND + PRICE_PER_REQUEST)
}

/// One row of the power-tuning table: both batches under the share of `mb`.
struct ShareRow {
    mb: u32,
    vcpu: f64,
    thousand: Figures,
    six_mb: Figures,
}

fn budget(name: &str, limit: &str, measured: Option<f64>, max: f64, unit: &str) {
    match measured {
        Some(v) => println!(
            "| {name} | <= {limit} | {v:.1} {unit} | {} |",
            if v <= max { "ok" } else { "OVER" }
        ),
        None => println!("| {name} | <= {limit} | not measured | |"),
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches once as tests; measuring belongs to `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("end_to_end: run with `cargo bench --bench end_to_end`");
        return;
    }
    let args = Args::parse();
    let binary = Function::binary().unwrap();
    let rtt = Duration::from_millis(
        std::env::var("RTT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8),
    );
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let size = std::fs::metadata(&binary).unwrap().len();
    println!(
        "release binary: {} ({:.1} MB, {} bytes)",
        binary.display(),
        size as f64 / 1e6,
        size
    );
    println!(
        "fake DynamoDB round trip: {} ms; {runs} warm invocations per batch; writes: {}\n",
        rtt.as_millis(),
        if args.global_archive {
            "a conditional PutItem per item (GLOBAL_ARCHIVE=true)"
        } else {
            "BatchWriteItem"
        }
    );
    println!("Whole core:\n");
    println!("| batch | init (median of 7) | first invocation | warm (median) | warm (min) | requests | peak RSS | CPU per batch |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut whole = Vec::new();
    for (name, records, json) in common::batches() {
        let f = measure(&binary, &json, runs, rtt, None, args.global_archive).await;
        let per_request = if args.global_archive { 1 } else { 25 };
        assert_eq!(
            f.requests,
            records.div_ceil(per_request) as f64,
            "requests per batch"
        );
        println!(
            "| {name} | {} | {} | {} | {} | {} | {:.1} MB | {} |",
            ms(f.init),
            ms(f.first),
            ms(f.warm),
            ms(f.warm_min),
            f.requests,
            f.peak_rss_kb as f64 / 1024.0,
            ms(f.cpu)
        );
        whole.push(f);
    }

    let mut rows = Vec::new();
    if !args.lambda_mb.is_empty() {
        println!("\nOn Lambda's CPU share (memory / 1,769 MB of a vCPU, cgroup quota, 20 ms period); cost per million archived items at arm64 prices (US East, first tier, read 2026-11-25: $0.0000133334 per GB-s, $0.20 per million requests), from the warm 1,000-record batch:\n");
        println!("| memory | vCPU | init | 1,000 records, warm | 6 MB batch, warm | peak RSS (6 MB) | CPU per 1,000 records | cost per million items |");
        println!("|---|---|---|---|---|---|---|---|");
        let batches = common::batches();
        for &mb in &args.lambda_mb {
            let share = match CpuShare::create(mb) {
                Ok(share) => share,
                Err(why) => {
                    println!("| {mb} MB | CPU share unavailable: {why} | | | | | | |");
                    continue;
                }
            };
            let global = args.global_archive;
            let thousand = measure(&binary, &batches[0].2, runs, rtt, Some(&share), global).await;
            let six_mb = measure(
                &binary,
                &batches[1].2,
                runs.min(10),
                rtt,
                Some(&share),
                global,
            )
            .await;
            println!(
                "| {mb} MB | {:.3} | {} | {} | {} | {:.1} MB | {} | ${:.5} |",
                share.vcpu,
                ms(thousand.init),
                ms(thousand.warm),
                ms(six_mb.warm),
                six_mb.peak_rss_kb as f64 / 1024.0,
                ms(thousand.cpu),
                cost_per_million(thousand.warm, 1000, mb)
            );
            rows.push(ShareRow {
                mb,
                vcpu: share.vcpu,
                thousand,
                six_mb,
            });
        }
    }

    let at_256 = rows.iter().find(|r| r.mb == 256);
    let msf = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("\nBudgets (medians):\n");
    println!("| figure | budget | measured | |");
    println!("|---|---|---|---|");
    budget(
        "256 MB share: 1,000 records, warm",
        "60 ms",
        at_256.map(|r| msf(r.thousand.warm)),
        60.0,
        "ms",
    );
    budget(
        "256 MB share: 6 MB batch",
        "400 ms",
        at_256.map(|r| msf(r.six_mb.warm)),
        400.0,
        "ms",
    );
    budget(
        "256 MB share: init",
        "30 ms",
        at_256.map(|r| msf(r.thousand.init)),
        30.0,
        "ms",
    );
    budget(
        "whole core: CPU per warm 1,000-record batch",
        "8 ms",
        Some(msf(whole[0].cpu)),
        8.0,
        "ms",
    );
    budget(
        "whole core: 1,000 records, warm",
        "32 ms",
        Some(msf(whole[0].warm)),
        32.0,
        "ms",
    );
    budget(
        "peak RSS, 1,000 records",
        "20 MB",
        Some(whole[0].peak_rss_kb as f64 / 1024.0),
        20.0,
        "MB",
    );
    budget(
        "peak RSS, 6 MB batch",
        "64 MB",
        Some(whole[1].peak_rss_kb as f64 / 1024.0),
        64.0,
        "MB",
    );
    budget("release binary", "8 MB", Some(size as f64 / 1e6), 8.0, "MB");
    if let Some(cheapest) = rows.iter().min_by(|a, b| {
        cost_per_million(a.thousand.warm, 1000, a.mb).total_cmp(&cost_per_million(
            b.thousand.warm,
            1000,
            b.mb,
        ))
    }) {
        println!(
            "\ncheapest per archived item here: {} MB ({:.3} vCPU)",
            cheapest.mb, cheapest.vcpu
        );
    }
}
