//! ttl-archiver-redrive: archives the batches that exhausted their retries, from the S3
//! on-failure destination (or from files). `--help` says how; the logic is in
//! `ttl_archiver::redrive`.

use std::process::ExitCode;

use clap::Parser;
use mimalloc::MiMalloc;
use ttl_archiver::aws::writer::dynamodb_client;
use ttl_archiver::operator::output::Summary;
use ttl_archiver::operator::session::{s3_path_style, Session, EXIT_USAGE};
use ttl_archiver::redrive::bucket::FailedBatchBucket;
use ttl_archiver::redrive::cli::Cli;
use ttl_archiver::redrive::replay::Replay;
use ttl_archiver::redrive::run::{Output, Redrive};
use ttl_archiver::Archiver;

// glibc's malloc spent a fifth of a parallel redrive's CPU in its arenas (docs/operations.md,
// "When a batch fails"); mimalloc less than half of that.
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

// One thread: it archives about 13,000 records a second (docs/operations.md), more than an
// archive table takes from one client, and measured faster than worker threads waking each other.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let session = match Session::start::<Cli>("ttl-archiver-redrive", "objects", &cli.archive).await
    {
        Ok(session) => session,
        Err(status) => return status,
    };
    let archiver = Archiver::new(&session.config, dynamodb_client(&session.sdk_config));
    // Before any object, the dry run too: a missing table or a denied write is the usual cause
    // of a parked batch, and the redrive must not say "would archive" while it lasts. The run
    // stops; the dry run still shows what is parked, each record unarchivable for that reason.
    let check_until = tokio::time::Instant::now() + cli.timeout();
    let table_problem = archiver.check_archive_table(check_until).await.err();
    if let Some(err) = &table_problem {
        if !cli.dry_run {
            eprintln!("ttl-archiver-redrive: {err}; nothing was read, written or moved");
            return ExitCode::from(EXIT_USAGE);
        }
        eprintln!(
            "ttl-archiver-redrive: {err}; the dry run lists what is parked, none of it archivable until this is fixed"
        );
    }
    let replay =
        Replay::new(archiver, cli.dry_run, cli.timeout()).with_table_problem(table_problem.clone());
    let redrive = Redrive::new(
        replay,
        FailedBatchBucket::new(&session.sdk_config, s3_path_style()),
        cli.delete,
        usize::from(cli.parallel),
    );
    let totals = redrive
        .run(
            &cli.sources,
            Output::new(cli.output, session.progress, cli.dry_run),
        )
        .await;
    match table_problem {
        Some(_) => ExitCode::from(EXIT_USAGE),
        None => ExitCode::from(totals.exit_status(cli.dry_run)),
    }
}
