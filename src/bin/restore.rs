//! ttl-archiver-restore: brings archived items back into the source table. `--help` says how;
//! the logic is in `ttl_archiver::restore`.

use std::process::ExitCode;

use clap::Parser;
use ttl_archiver::operator::output::Summary;
use ttl_archiver::operator::session::{Session, EXIT_USAGE};
use ttl_archiver::restore::cli::Cli;
use ttl_archiver::restore::run::{prepare, Output};
use ttl_archiver::restore::tables::Tables;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let session = match Session::start::<Cli>("ttl-archiver-restore", "items", &cli.archive).await {
        Ok(session) => session,
        Err(status) => return status,
    };
    let config = &session.config;
    // The SDK's standard retries: a restore has no invocation deadline to keep.
    let client = aws_sdk_dynamodb::Client::new(&session.sdk_config);
    let tables = Tables::new(client, &config.table_name, &cli.source_table);
    let (restore, selection) = match prepare(&cli, config, tables).await {
        Ok(prepared) => prepared,
        Err(err) => {
            eprintln!("ttl-archiver-restore: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for warning in &restore.warnings {
        eprintln!("ttl-archiver-restore: warning: {warning}");
    }
    let output = Output::new(cli.output, session.progress, cli.dry_run);
    ExitCode::from(
        restore
            .run(selection, output)
            .await
            .exit_status(cli.dry_run),
    )
}
