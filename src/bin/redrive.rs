//! ttl-archiver-redrive: archives the batches that exhausted their retries, from the S3
//! on-failure destination (or from files), with the same selection, projection and writing as
//! the Lambda function. Configuration comes from the same environment variables.
//!
//! Usage: ttl-archiver-redrive [--dry-run] [--delete] [--timeout SECONDS] SOURCE...
//! SOURCE is s3://BUCKET[/PREFIX] or a file path.

use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;
use ttl_archiver::failed_batch::read_failed_batch;
use ttl_archiver::writer::{dynamodb_client, WriteMode};
use ttl_archiver::{Archiver, Config};

/// Where redriven objects go unless `--delete`; objects under it are never read again.
const DONE_PREFIX: &str = "redriven/";

/// A day: longer than any batch needs, and far inside what `Instant` can add.
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

const USAGE: &str = "usage: ttl-archiver-redrive [--dry-run] [--delete] [--timeout SECONDS] SOURCE...
  SOURCE       s3://BUCKET[/PREFIX] (failed-batch objects) or a file (invocation record or stream event)
  --dry-run    list what would be archived; write nothing, move nothing
  --delete     delete an object once all its records are archived (default: move it under redriven/)
  --timeout    the deadline for each object, in seconds, retries included (default 300, at most 86400)
The archive settings come from the environment, as for the function: TABLE_NAME (a name or an
ARN), TTL_ATTRIBUTE, ATTRIBUTES, ARCHIVED_AT_ATTRIBUTE, ARCHIVE_VERSION_ATTRIBUTE,
ARCHIVE_RETENTION_DAYS, ARCHIVE_TTL_ATTRIBUTE, MAX_CONCURRENCY.";

#[derive(Debug)]
enum Source {
    S3 { bucket: String, prefix: String },
    File(String),
}

struct Args {
    dry_run: bool,
    delete: bool,
    timeout: Duration,
    sources: Vec<Source>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        dry_run: false,
        delete: false,
        timeout: Duration::from_secs(300),
        sources: Vec::new(),
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dry-run" => parsed.dry_run = true,
            "--delete" => parsed.delete = true,
            "--timeout" => {
                let value = args.next().ok_or("--timeout needs a number of seconds")?;
                let seconds: u64 = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_TIMEOUT_SECONDS).contains(s))
                    .ok_or_else(|| {
                        format!("--timeout: expected seconds from 1 to {MAX_TIMEOUT_SECONDS}, got {value}")
                    })?;
                parsed.timeout = Duration::from_secs(seconds);
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => parsed.sources.push(match arg.strip_prefix("s3://") {
                Some(rest) => {
                    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                    if bucket.is_empty() {
                        return Err(format!("no bucket in {arg}"));
                    }
                    Source::S3 {
                        bucket: bucket.to_owned(),
                        prefix: prefix.to_owned(),
                    }
                }
                None => Source::File(arg),
            }),
        }
    }
    if parsed.sources.is_empty() {
        return Err("no SOURCE given".into());
    }
    Ok(parsed)
}

#[derive(Default)]
struct Totals {
    objects: usize,
    done: usize,
    kept: usize,
    archived: usize,
    skipped: usize,
    failed: usize,
    unreadable: usize,
}

/// Whether an object may be marked done (all its records archived) or must stay.
enum Disposition {
    Done,
    Kept,
}

struct Redrive {
    archiver: Archiver,
    dry_run: bool,
    timeout: Duration,
}

impl Redrive {
    /// Archives one object's batch; returns whether it may be marked done, and its progress line.
    async fn object(&self, name: &str, bytes: &[u8], totals: &mut Totals) -> (Disposition, String) {
        totals.objects += 1;
        let batch = match read_failed_batch(bytes) {
            Ok(batch) => batch,
            Err(err) => {
                totals.unreadable += 1;
                return (Disposition::Kept, format!("{name}: error: {err}; kept"));
            }
        };
        if self.dry_run {
            return match self.archiver.plan(batch) {
                Ok(plan) => {
                    let writes: Vec<&str> = plan
                        .chunks
                        .iter()
                        .flatten()
                        .flat_map(|g| g.sequence_numbers())
                        .collect();
                    totals.archived += writes.len();
                    totals.skipped += plan.skipped;
                    totals.failed += plan.failed.len();
                    let line = format!(
                        "{name}: would archive {} ({}), skip {}, cannot archive {}",
                        writes.len(),
                        writes.join(", "),
                        plan.skipped,
                        plan.failed.len()
                    );
                    (Disposition::Kept, line)
                }
                Err(err) => {
                    totals.unreadable += 1;
                    (Disposition::Kept, format!("{name}: error: {err}; kept"))
                }
            };
        }
        match self
            .archiver
            .process(batch, Instant::now() + self.timeout)
            .await
        {
            Ok(outcome) => {
                totals.archived += outcome.archived;
                totals.skipped += outcome.skipped;
                totals.failed += outcome.failed.len();
                let newer = match outcome.newer_kept {
                    0 => String::new(),
                    n => format!(" ({n} already in the archive at this or a newer version)"),
                };
                let summary = format!(
                    "{name}: {} archived{newer}, {} skipped, {} failed",
                    outcome.archived,
                    outcome.skipped,
                    outcome.failed.len()
                );
                if outcome.failed.is_empty() {
                    (Disposition::Done, summary)
                } else {
                    let remaining: Vec<String> = outcome
                        .failed
                        .iter()
                        .map(|(seq, why)| format!("{seq} ({why})"))
                        .collect();
                    let line = format!("{summary}; kept; remaining: {}", remaining.join(", "));
                    (Disposition::Kept, line)
                }
            }
            Err(err) => {
                totals.unreadable += 1;
                (Disposition::Kept, format!("{name}: error: {err}; kept"))
            }
        }
    }
}

/// S3 keys as CopySource wants them: percent-encoded, slashes kept.
fn encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn redrive_bucket(
    s3: &aws_sdk_s3::Client,
    redrive: &Redrive,
    delete: bool,
    bucket: &str,
    prefix: &str,
    totals: &mut Totals,
) -> Result<(), String> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| format!("listing s3://{bucket}/{prefix}: {}", error_text(&e)))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.starts_with(DONE_PREFIX) {
                continue;
            }
            let name = format!("s3://{bucket}/{key}");
            let body = match s3.get_object().bucket(bucket).key(key).send().await {
                Ok(output) => output.body.collect().await.map(|b| b.into_bytes()),
                Err(e) => {
                    totals.objects += 1;
                    totals.unreadable += 1;
                    println!("{name}: error: cannot read it: {}; kept", error_text(&e));
                    continue;
                }
            };
            let Ok(bytes) = body else {
                totals.objects += 1;
                totals.unreadable += 1;
                println!("{name}: error: the download was cut off; kept");
                continue;
            };
            match redrive.object(&name, &bytes, totals).await {
                (Disposition::Done, line) => match mark_done(s3, delete, bucket, key).await {
                    Ok(note) => {
                        totals.done += 1;
                        println!("{line}; {note}");
                    }
                    Err(err) => {
                        totals.kept += 1;
                        println!("{line}; archived, but could not be marked done: {err}");
                    }
                },
                (Disposition::Kept, line) => {
                    totals.kept += 1;
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

async fn mark_done(
    s3: &aws_sdk_s3::Client,
    delete: bool,
    bucket: &str,
    key: &str,
) -> Result<String, String> {
    // Copy first: if the delete then fails, the object is done twice over, never lost.
    let note = if delete {
        "deleted".to_owned()
    } else {
        let target = format!("{DONE_PREFIX}{key}");
        s3.copy_object()
            .bucket(bucket)
            .key(&target)
            .copy_source(format!("{bucket}/{}", encode_key(key)))
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        format!("moved to s3://{bucket}/{target}")
    };
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    Ok(note)
}

fn error_text<E: std::error::Error + 'static>(err: &E) -> String {
    ttl_archiver::error_chain(err)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("ttl-archiver-redrive: {err}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    ttl_archiver::logging::init_command_line(std::io::stderr);
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ttl-archiver-redrive: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    let sdk_config = ttl_archiver::sdk::load().await;
    if let Err(err) = ttl_archiver::preflight::check(&sdk_config).await {
        eprintln!("ttl-archiver-redrive: {err}");
        return ExitCode::from(2);
    }
    // A local S3 (an endpoint URL) serves buckets by path, not by host name.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(path_style)
            .build(),
    );
    let redrive = Redrive {
        // The shard moved on after these batches failed: write only over older versions.
        archiver: Archiver::new(&config, dynamodb_client(&sdk_config))
            .with_write_mode(WriteMode::IfNewer),
        dry_run: args.dry_run,
        timeout: args.timeout,
    };

    let mut totals = Totals::default();
    let mut source_errors = 0;
    for source in &args.sources {
        match source {
            Source::S3 { bucket, prefix } => {
                if let Err(err) =
                    redrive_bucket(&s3, &redrive, args.delete, bucket, prefix, &mut totals).await
                {
                    println!("error: {err}");
                    source_errors += 1;
                }
            }
            Source::File(path) => match std::fs::read(path) {
                Ok(bytes) => {
                    let (disposition, line) = redrive.object(path, &bytes, &mut totals).await;
                    match disposition {
                        Disposition::Done => totals.done += 1,
                        Disposition::Kept => totals.kept += 1,
                    }
                    println!("{line}");
                }
                Err(err) => {
                    totals.objects += 1;
                    totals.unreadable += 1;
                    println!("{path}: error: {err}");
                }
            },
        }
    }

    let verb = if args.dry_run {
        "would archive"
    } else {
        "archived"
    };
    println!(
        "summary: {} objects ({} done, {} kept, {} unreadable); {} records {verb}, {} skipped, {} failed",
        totals.objects, totals.done, totals.kept, totals.unreadable, totals.archived, totals.skipped, totals.failed
    );
    // Anything left behind (records, unreadable objects, objects that could not be marked done)
    // needs another look; a dry run leaves everything by design.
    let remaining = !args.dry_run && totals.kept > 0;
    if remaining || totals.failed > 0 || totals.unreadable > 0 || source_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
