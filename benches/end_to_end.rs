//! The release binary as a Lambda custom runtime, invoked through a Runtime API, writing to a
//! local endpoint that answers every BatchWriteItem after a fixed delay (a model of DynamoDB's
//! round trip with no server cost). Reports init time, warm invocation time, requests, peak RSS
//! and CPU time per batch for the two benchmark batches.
//!
//! `cargo build --release && cargo bench --bench end_to_end` (or `bash tools/bench`).
//! `RTT_MS` sets the delay (default 8), `RUNS` the warm invocations per batch (default 20).

mod common;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use runtime_api::{Function, Outcome, RuntimeApi};
use tokio::net::TcpListener;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn missing_tool(what: &str) {
    panic!("{what} is missing: run `cargo build --release` first");
}

/// Answers every request with an empty BatchWriteItem result after `delay`.
async fn fake_dynamodb(delay: Duration, requests: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let requests = requests.clone();
                    async move {
                        req.into_body()
                            .collect()
                            .await
                            .map_err(std::io::Error::other)?;
                        requests.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        Ok::<_, std::io::Error>(
                            Response::builder()
                                .status(200)
                                .header("content-type", "application/x-amz-json-1.0")
                                .body(Full::new(Bytes::from_static(b"{\"UnprocessedItems\":{}}")))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    endpoint
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// User plus system CPU time of a process, from /proc (clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Process start to the first poll of the Runtime API, for a fresh process.
async fn init_time(binary: &std::path::Path, endpoint: &str) -> Duration {
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let _function = Function::start(
        binary,
        &api,
        &[
            ("TABLE_NAME", "archive"),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ],
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

async fn measure(binary: &std::path::Path, json: &str, runs: usize, rtt: Duration) -> Figures {
    let requests = Arc::new(AtomicU64::new(0));
    let endpoint = fake_dynamodb(rtt, requests.clone()).await;
    let api = RuntimeApi::start().await;
    let function = Function::start(
        binary,
        &api,
        &[
            ("TABLE_NAME", "archive"),
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
        ],
    );
    let pid = function.pid().unwrap();
    while api.first_poll().is_none() {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let mut inits = Vec::new();
    for _ in 0..7 {
        inits.push(init_time(binary, &endpoint).await);
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

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches once as tests; measuring belongs to `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("end_to_end: run with `cargo bench --bench end_to_end`");
        return;
    }
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
        "release binary: {:.1} MB ({} bytes)",
        size as f64 / 1e6,
        size
    );
    println!(
        "fake DynamoDB round trip: {} ms; {runs} warm invocations per batch\n",
        rtt.as_millis()
    );
    println!("| batch | init (median of 7) | first invocation | warm (median) | warm (min) | requests | peak RSS | CPU per batch |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, records, json) in common::batches() {
        let f = measure(&binary, &json, runs, rtt).await;
        assert_eq!(
            f.requests,
            records.div_ceil(25) as f64,
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
    }
}
