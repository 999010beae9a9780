//! ttl-archiver-sizing: will the archive keep up with a TTL burst, and what to set. `--help`
//! says how; the model is in `ttl_archiver::sizing`.

use std::process::ExitCode;

use clap::Parser;
use ttl_archiver::operator::session::EXIT_USAGE;
use ttl_archiver::sizing::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = cli.check() {
        eprintln!("ttl-archiver-sizing: {message}");
        return ExitCode::from(EXIT_USAGE);
    }
    ExitCode::from(run(&cli))
}
