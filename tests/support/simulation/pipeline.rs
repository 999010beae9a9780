//! One seed's run of the whole pipeline: the workload's stream, through the model of the event
//! source mapping (tests/support/esm.rs) with the template's settings and filter, into the real
//! function behind the Runtime API emulator, writing to dynalite behind the fault proxy; parked
//! batches into moto's S3 as the on-failure destination writes them; then the real redrive over
//! the bucket; then the invariant.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::chance::{fraction, Chance};
use super::destination::{Destination, Discarded};
use super::faults::Faults;
use super::invariant::{check, Verdict};
use super::rules::MappingRules;
use super::workload::Workload;
use super::Archive;
use crate::support::dynalite::{admin_client, create_table, scan_all, sdk_config, Dynalite};
use crate::support::esm::{self, by_partition_key, Answer, Settings, StreamRecord};
use crate::support::items::Stamps;
use crate::support::proxy::{is_archive_write, is_batch_write, FaultProxy};
use crate::support::runtime_api::{Function, Outcome, RuntimeApi};
use crate::support::server::{moto, LocalServer};

/// The Lambda function under the pipeline.
#[derive(Debug, Clone)]
pub enum FunctionUnderTest {
    /// The release binary (a `bootstrap`).
    Binary(PathBuf),
    /// Any custom runtime, as a shell command.
    Command(String),
}

/// The function's timeout in the simulation: the template's 60 s would make every invocation
/// during an outage last a minute of real time; the deadline logic is the same at 2 s, and a
/// 6 MB batch through write faults still ends well within it.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The local servers, shared by every seed (each seed has its own table and bucket).
pub struct Servers {
    dynamodb: Dynalite,
    _moto: LocalServer,
    moto_endpoint: String,
    s3: aws_sdk_s3::Client,
    rules: MappingRules,
}

impl Servers {
    /// `None` (skip) when a tool is missing, outside CI.
    pub fn start(rt: &Runtime) -> Option<Self> {
        let (dynamodb, moto, rules) = (Dynalite::start()?, moto()?, MappingRules::start()?);
        let config = rt.block_on(sdk_config(&moto.endpoint));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        Some(Servers {
            dynamodb,
            moto_endpoint: moto.endpoint.clone(),
            _moto: moto,
            s3,
            rules,
        })
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub records: usize,
    pub deletions: usize,
    /// Deletions of a key later in time and lower in sequence number than its previous one.
    pub lower_sequence_later: usize,
    pub shards: usize,
    pub batchers: usize,
    pub batch_size: usize,
    pub invocations: usize,
    /// Batches the 6 MB payload limit closed before BatchSize.
    pub cut_at_6_mb: usize,
    pub retries: usize,
    pub bisects: usize,
    pub crashes: usize,
    /// Invocations the function did not answer within its timeout.
    pub timeouts: usize,
    pub outage_invocations: usize,
    pub write_faults: u64,
    pub parked: usize,
    pub redriven: usize,
    /// Parked batches still in the bucket at the end (they hold a record that cannot be
    /// archived).
    pub kept: usize,
}

pub struct SeedRun {
    pub seed: u64,
    pub figures: Figures,
    pub verdict: Verdict,
    /// Why the last redrive kept each object it kept, as it reported (JSON lines).
    pub kept_reports: Vec<Value>,
}

pub fn run_seed(
    rt: &Runtime,
    servers: &mut Servers,
    function: &FunctionUnderTest,
    archive: Archive,
    seed: u64,
) -> SeedRun {
    let started = now();
    let workload = Workload::generate(seed);
    let json: Vec<&str> = workload.records.iter().map(|r| r.json.as_str()).collect();
    let kept_by_filter = servers.rules.filter(&json);

    // The template's settings; the batch size and parallelization vary by seed so that the
    // batching rules are exercised (the template's defaults among the choices).
    let mut chance = Chance::new(seed, 1);
    let mut settings: Settings = servers.rules.settings.clone();
    settings.batch_size = *chance.pick(&[settings.batch_size, 100, 25]);
    let batchers = *chance.pick(&[servers.rules.parallelization_factor, 2, 3]);

    let table = format!("archive-{seed}");
    let admin = rt.block_on(admin_client(&servers.dynamodb.endpoint));
    rt.block_on(create_table(&admin, &table, &workload.key));
    let destination = rt.block_on(Destination::create(
        servers.s3.clone(),
        &format!("failed-batches-{seed}"),
    ));

    let (crashed_tx, crashed) = unbounded_channel();
    let faults = Arc::new(Faults::new(seed, crashed_tx));
    let proxy = {
        let faults = faults.clone();
        // A global archive is written with PutItem: the faults hit those too (the redrive's
        // as well, which writes with PutItem either way).
        let faultable = match archive {
            Archive::OneRegion => is_batch_write,
            Archive::Global => is_archive_write,
        };
        rt.block_on(FaultProxy::start_for(
            &servers.dynamodb.endpoint,
            faultable,
            move |_, body| faults.decide(body),
        ))
    };
    let mut env: Vec<(&'static str, String)> = vec![
        ("TABLE_NAME", table.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint.clone()),
        ("DEADLINE_MARGIN_MS", "250".into()),
    ];
    if archive == Archive::Global {
        env.push(("GLOBAL_ARCHIVE", "true".into()));
    }
    env.extend(workload.settings.iter().cloned());

    // Shards in the order the mapping reads them: [ESM] the parent to its end, then its
    // children; each split by partition key over the batchers.
    let mut lanes = Vec::new();
    let mut lane_shard = Vec::new();
    for shard in 0..3 {
        let records: Vec<StreamRecord> = workload
            .records
            .iter()
            .zip(&kept_by_filter)
            .filter(|(r, _)| r.shard == shard)
            .map(|(r, kept)| StreamRecord {
                sequence_number: r.sequence_number.clone(),
                created: r.created,
                bytes: r.json.len(),
                matches_filter: *kept,
                partition: r.partition,
            })
            .collect();
        for lane in by_partition_key(&records, batchers) {
            lanes.push(lane);
            lane_shard.push(shard);
        }
    }

    // The outage: in some seeds, from the first batch sent for the first time at or after a
    // chosen invocation, for as many invocations as that batch has attempts.
    let outage = Outage {
        from: if chance.below(2) == 0 {
            1 + chance.below(8) as usize
        } else {
            usize::MAX
        },
        left: 0,
        invocations: settings.maximum_retry_attempts as usize + 1,
    };

    let api = rt.block_on(RuntimeApi::start());
    let process = start_function(rt, function, &api, &env);
    let mut pipeline = Pipeline {
        rt,
        api,
        process,
        function,
        env,
        faults,
        crashed,
        destination: &destination,
        workload: &workload,
        index_of: workload
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.sequence_number.as_str(), i))
            .collect(),
        lane_shard,
        outage,
        sent: HashSet::new(),
        redrive_mid_run: chance.below(2) == 0,
        moto_endpoint: &servers.moto_endpoint,
        proxy_endpoint: proxy.endpoint.clone(),
        seed,
        invocations: 0,
        crashes: 0,
        timeouts: 0,
        outage_invocations: 0,
        parked: 0,
        waiting: 0,
        redriven: 0,
        redrive_kept: Vec::new(),
    };
    let first = workload.records.first().map_or(0, |r| r.created);
    let (events, model) = esm::run_function(&lanes, &settings, first, 1, &mut pipeline);
    if std::env::var("SIMULATE_VERBOSE").is_ok_and(|v| v == "2") {
        for event in &events {
            match event {
                esm::Event::FilteredOut { .. } => {}
                esm::Event::Invoked {
                    shard,
                    sequence_numbers,
                } => {
                    println!("  batcher {shard}: invoked with {}", sequence_numbers.len())
                }
                other => println!("  {other:?}"),
            }
        }
    }
    // The operator's redrive, once the stream is archived.
    pipeline.redrive();

    let archive = rt.block_on(scan_all(&admin, &table));
    let kept = rt.block_on(destination.kept_sequence_numbers());
    let kept_objects = rt.block_on(destination.keys("aws/lambda/")).len();
    let stamps = Stamps {
        archived_at: workload.expectation.archived_at_attribute.as_deref(),
        expiry: workload
            .expectation
            .archive_expiry
            .as_ref()
            .map(|(name, secs)| (name.as_str(), *secs)),
        from: started,
        to: now(),
    };
    let verdict = check(&workload, &archive, &kept, &stamps);
    let stats = proxy.stats();
    SeedRun {
        seed,
        figures: Figures {
            records: workload.records.len(),
            deletions: workload.ttl_deletions(),
            lower_sequence_later: workload.later_deletions_with_lower_sequence(),
            shards: 3,
            batchers,
            batch_size: settings.batch_size,
            invocations: model.invocations,
            cut_at_6_mb: model.cut_at_6_mb,
            retries: model.retries,
            bisects: model.bisects,
            crashes: pipeline.crashes,
            timeouts: pipeline.timeouts,
            outage_invocations: pipeline.outage_invocations,
            write_faults: stats.unprocessed
                + stats.throttles
                + stats.server_errors
                + stats.hangups
                + stats.delays,
            parked: model.parked_batches,
            redriven: pipeline.redriven,
            kept: kept_objects,
        },
        verdict,
        kept_reports: pipeline.redrive_kept,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn start_function(
    rt: &Runtime,
    function: &FunctionUnderTest,
    api: &RuntimeApi,
    env: &[(&'static str, String)],
) -> Function {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _inside = rt.enter();
    match function {
        FunctionUnderTest::Binary(path) => Function::start(path, api, &env),
        FunctionUnderTest::Command(command) => Function::start_command(command, api, &env),
    }
}

/// The real system under the mapping model.
struct Pipeline<'a> {
    rt: &'a Runtime,
    api: RuntimeApi,
    process: Function,
    function: &'a FunctionUnderTest,
    env: Vec<(&'static str, String)>,
    faults: Arc<Faults>,
    crashed: UnboundedReceiver<()>,
    destination: &'a Destination,
    workload: &'a Workload,
    index_of: HashMap<&'a str, usize>,
    lane_shard: Vec<usize>,
    outage: Outage,
    /// The first sequence number of every batch sent so far.
    sent: HashSet<String>,
    /// Whether the operator redrives as soon as a batch is parked and the archive is back,
    /// while the stream goes on (else only at the end).
    redrive_mid_run: bool,
    moto_endpoint: &'a str,
    proxy_endpoint: String,
    seed: u64,
    invocations: usize,
    crashes: usize,
    timeouts: usize,
    outage_invocations: usize,
    parked: usize,
    /// Objects parked since the last redrive.
    waiting: usize,
    redriven: usize,
    /// The redrive's report of each object it kept (the last redrive's count).
    redrive_kept: Vec<Value>,
}

impl esm::Function for Pipeline<'_> {
    fn invoke(&mut self, _lane: usize, batch: &[StreamRecord]) -> Answer {
        let n = self.invocations;
        self.invocations += 1;
        let first_time = self.sent.insert(batch[0].sequence_number.clone());
        let in_outage = self.outage.covers(n, first_time);
        if self.redrive_mid_run && self.waiting > 0 && !in_outage {
            self.redrive();
        }
        self.outage_invocations += in_outage as usize;
        self.faults.outage.store(in_outage, Ordering::SeqCst);
        // About one invocation in thirty loses its process at its first write.
        let crash = !in_outage && fraction(self.seed, 0xC8A5 << 32 | n as u64) < 0.035;
        self.faults.crash_next.store(crash, Ordering::SeqCst);

        let payload = format!(r#"{{"Records":[{}]}}"#, self.records_of(batch).join(","));
        let (api, process, crashed) = (&self.api, &mut self.process, &mut self.crashed);
        let (outcome, ended) = self.rt.block_on(async {
            let invocation = api.invoke(&payload, TIMEOUT);
            tokio::pin!(invocation);
            // Lambda ends the execution environment when its process dies or the invocation
            // times out; either is a function error.
            let ended = tokio::select! {
                biased;
                Some(()) = crashed.recv() => Ended::Crashed,
                outcome = &mut invocation => return (outcome, Ended::Answered),
                _ = tokio::time::sleep(TIMEOUT + Duration::from_millis(200)) => Ended::TimedOut,
            };
            process.kill().await;
            api.fail_in_flight(match ended {
                Ended::TimedOut => "Sandbox.Timedout",
                _ => "Runtime.ExitError",
            });
            (invocation.await, ended)
        });
        self.faults.crash_next.store(false, Ordering::SeqCst);
        self.faults.outage.store(false, Ordering::SeqCst);
        match ended {
            Ended::Answered => {}
            Ended::Crashed => self.crashes += 1,
            Ended::TimedOut => self.timeouts += 1,
        }
        if ended != Ended::Answered {
            // A new execution environment for the next invocation: a cold start.
            self.process = start_function(self.rt, self.function, &self.api, &self.env);
        }
        answer(outcome)
    }

    fn parked(&mut self, lane: usize, batch: &[StreamRecord], reason: &'static str, at: u64) {
        let shard = self.lane_shard[lane];
        let discarded = Discarded {
            records: self.records_of(batch),
            first_sequence_number: &batch[0].sequence_number,
            last_sequence_number: &batch[batch.len() - 1].sequence_number,
            shard_id: &self.workload.shard_ids[shard],
            condition: match reason {
                "record age exceeded" => "RecordAgeExceeded",
                _ => "RetryAttemptsExhausted",
            },
            invoke_count: 0,
            at,
            serial: self.parked,
        };
        self.rt.block_on(self.destination.put(&discarded));
        self.parked += 1;
        self.waiting += 1;
    }
}

impl Pipeline<'_> {
    fn records_of(&self, batch: &[StreamRecord]) -> Vec<&str> {
        batch
            .iter()
            .map(|r| {
                self.workload.records[self.index_of[r.sequence_number.as_str()]]
                    .json
                    .as_str()
            })
            .collect()
    }

    /// Runs the real redrive over the bucket, as docs/operations.md tells an operator to.
    fn redrive(&mut self) {
        self.redrive_kept.clear();
        let output = Command::new(env!("CARGO_BIN_EXE_ttl-archiver-redrive"))
            .args(["--output", "json"])
            .arg(format!("s3://{}/aws/lambda/", self.destination.bucket))
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.proxy_endpoint)
            .env("AWS_ENDPOINT_URL_S3", self.moto_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run ttl-archiver-redrive");
        let stdout = String::from_utf8_lossy(&output.stdout);
        for line in stdout.lines() {
            let line: Value = serde_json::from_str(line).unwrap_or_else(|_| {
                panic!(
                    "the redrive's output is not JSON lines: {line}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
            match (line["type"].as_str(), line["status"].as_str()) {
                (Some("object"), Some("done")) => self.redriven += 1,
                (Some("object"), _) => self.redrive_kept.push(line),
                _ => {}
            }
        }
        self.waiting = 0;
    }
}

/// When the archive cannot be reached: long enough for one batch to run out of retries.
struct Outage {
    from: usize,
    invocations: usize,
    left: usize,
}

impl Outage {
    /// Whether invocation `n` falls in the outage; `first_time`: its batch was never sent.
    fn covers(&mut self, n: usize, first_time: bool) -> bool {
        if self.left == 0 && n >= self.from && first_time {
            self.left = self.invocations;
            self.from = usize::MAX;
        }
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Answered,
    Crashed,
    TimedOut,
}

/// What the mapping makes of the function's answer.
fn answer(outcome: Outcome) -> Answer {
    let Outcome::Response(response) = outcome else {
        return Answer::FunctionError;
    };
    // [PBR] An empty or null response, or an empty list, is full success.
    if response.is_null() || response.as_object().is_some_and(|o| o.is_empty()) {
        return Answer::Failures(vec![]);
    }
    let Some(failures) = response["batchItemFailures"].as_array() else {
        return Answer::Unreadable;
    };
    let identifiers: Option<Vec<String>> = failures
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect();
    identifiers.map_or(Answer::Unreadable, Answer::Failures)
}
