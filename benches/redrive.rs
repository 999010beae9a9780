//! The redrive tool on a large incident: OBJECTS failed-batch objects of RECORDS session records
//! each in a local S3 (moto server), archived by the release `ttl-archiver-redrive` into an
//! endpoint that answers every request after RTT_MS (common/fake_dynamodb.rs), once for each
//! `--parallel` value. The references: one object alone (the slowest a batch is here), and the
//! objects done one at a time (measured on `--serial-objects`, scaled to OBJECTS).
//!
//! `bash tools/bench`, or after `cargo build --release --features redrive`:
//! `cargo bench --features redrive --bench redrive -- --objects 500 --records 1000`.

// Each bench uses a part of these.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod server;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use clap::Parser;
use common::fake_dynamodb::fake_dynamodb;
use serde_json::Value;
use tokio::task::JoinSet;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn missing_tool(what: &str) {
    panic!("{what} is missing: run `bash tools/setup` first");
}

#[derive(Parser)]
struct Args {
    /// Failed-batch objects in the bucket
    #[arg(long, default_value_t = 500)]
    objects: usize,
    /// Records per object
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// The --parallel values to run
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32")]
    parallel: Vec<u16>,
    /// Objects for the one-at-a-time reference (scaled to --objects)
    #[arg(long, default_value_t = 20)]
    serial_objects: usize,
    /// The fake DynamoDB's round trip
    #[arg(long, default_value_t = 8)]
    rtt_ms: u64,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

struct Bench {
    binary: PathBuf,
    s3: aws_sdk_s3::Client,
    s3_endpoint: String,
    dynamodb_endpoint: String,
    body: Arc<String>,
}

impl Bench {
    /// A bucket holding `objects` copies of the batch, as the on-failure destination names them.
    async fn bucket(&self, name: &str, objects: usize) {
        self.s3.create_bucket().bucket(name).send().await.unwrap();
        let mut uploads = JoinSet::new();
        for i in 0..objects {
            if uploads.len() >= 16 {
                uploads.join_next().await.unwrap().unwrap();
            }
            let (s3, body, bucket) = (self.s3.clone(), self.body.clone(), name.to_owned());
            uploads.spawn(async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(format!(
                        "aws/lambda/esm/shardId-1/2026/11/25/2026-11-25T10.00.{i:05}-bench"
                    ))
                    .body(ByteStream::from(body.as_bytes().to_vec()))
                    .send()
                    .await
                    .unwrap();
            });
        }
        while let Some(done) = uploads.join_next().await {
            done.unwrap();
        }
    }

    /// Redrives the bucket; returns the wall time and the JSON summary.
    fn redrive(&self, bucket: &str, parallel: u16) -> (Duration, Value) {
        let started = Instant::now();
        let output = Command::new(&self.binary)
            .args(["--output", "json", "--parallel", &parallel.to_string()])
            .arg(format!("s3://{bucket}/aws/lambda/"))
            .env_clear()
            .env("TABLE_NAME", "archive")
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.dynamodb_endpoint)
            .env("AWS_ENDPOINT_URL_S3", &self.s3_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .output()
            .unwrap();
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        (took, summary)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches once as tests; measuring belongs to `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("redrive: run with `cargo bench --features redrive --bench redrive`");
        return;
    }
    let args = Args::parse();
    let binary = repo_path("target/release/ttl-archiver-redrive");
    assert!(
        binary.exists(),
        "build it first: cargo build --release --features redrive --bin ttl-archiver-redrive"
    );
    let moto = server::moto().expect("moto");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .endpoint_url(&moto.endpoint)
        .http_client(ttl_archiver::aws::sdk::https_client())
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let requests = Arc::new(AtomicU64::new(0));
    let rtt = Duration::from_millis(args.rtt_ms);
    let bench = Bench {
        binary,
        s3,
        s3_endpoint: moto.endpoint.clone(),
        dynamodb_endpoint: fake_dynamodb(rtt, requests.clone()).await,
        body: Arc::new(common::session_batch(args.records, 400)),
    };
    let (objects, records) = (args.objects, args.records);
    println!(
        "{objects} objects of {records} records ({:.2} MB each) in moto's S3; DynamoDB answers after {} ms; MAX_CONCURRENCY 16 (default)\n",
        bench.body.len() as f64 / 1e6,
        rtt.as_millis()
    );

    bench.bucket("one", 1).await;
    let (one, _) = bench.redrive("one", 1);
    bench.bucket("serial", args.serial_objects).await;
    let (serial, _) = bench.redrive("serial", 1);
    let serial = serial.mul_f64(objects as f64 / args.serial_objects as f64);
    println!("one object alone: {}", secs(one));
    println!(
        "one at a time (--parallel 1, measured on {} objects, scaled): {}\n",
        args.serial_objects,
        secs(serial)
    );
    println!("| --parallel | wall time | records/s | vs one at a time | vs one object |");
    println!("|---|---|---|---|---|");
    for parallel in args.parallel {
        let bucket = format!("parallel-{parallel}");
        bench.bucket(&bucket, objects).await;
        requests.store(0, Ordering::SeqCst);
        let (took, summary) = bench.redrive(&bucket, parallel);
        assert_eq!(summary["archived"], (objects * records) as u64, "{summary}");
        assert_eq!(summary["done"], objects as u64, "{summary}");
        assert_eq!(
            requests.load(Ordering::SeqCst),
            (objects * records) as u64,
            "one PutItem per record"
        );
        println!(
            "| {parallel} | {} | {:.0} | {:.1}x faster | {:.1}x longer |",
            secs(took),
            (objects * records) as f64 / took.as_secs_f64(),
            serial.as_secs_f64() / took.as_secs_f64(),
            took.as_secs_f64() / one.as_secs_f64()
        );
    }
}
