//! ttl-archiver-redrive: archives the batches that exhausted their retries, from the S3
//! on-failure destination (or from files). `--help` says how; the logic is in
//! `ttl_archiver::redrive`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use mimalloc::MiMalloc;
use ttl_archiver::redrive::bucket::FailedBatchBucket;
use ttl_archiver::redrive::cli::Cli;
use ttl_archiver::redrive::progress::Progress;
use ttl_archiver::redrive::replay::Replay;
use ttl_archiver::redrive::run::{Output, Redrive};
use ttl_archiver::writer::dynamodb_client;
use ttl_archiver::Archiver;

// glibc's malloc spent a fifth of a parallel redrive's CPU in its arenas (README, "When a batch
// fails"); mimalloc less than half of that.
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

// One thread: it archives about 13,000 records a second (README), more than an archive table
// takes from one client, and measured faster than worker threads waking each other.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = Progress::new(std::io::stderr().is_terminal());
    ttl_archiver::logging::init_command_line(progress.log_writer());
    let config = cli
        .archive
        .config(|name| std::env::var(name).ok())
        .unwrap_or_else(|err| err.exit());

    let sdk_config = ttl_archiver::sdk::load().await;
    if let Err(err) = ttl_archiver::preflight::check(&sdk_config).await {
        eprintln!("ttl-archiver-redrive: {err}");
        return ExitCode::from(2);
    }
    // A local S3 (an endpoint URL) serves buckets by path, not by host name.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let replay = Replay::new(
        Archiver::new(&config, dynamodb_client(&sdk_config)),
        cli.dry_run,
        cli.timeout(),
    );
    let redrive = Redrive::new(
        replay,
        FailedBatchBucket::new(&sdk_config, path_style),
        cli.delete,
        usize::from(cli.parallel),
    );
    let totals = redrive
        .run(&cli.sources, Output::new(cli.output, progress, cli.dry_run))
        .await;
    ExitCode::from(totals.exit_status(cli.dry_run))
}
