//! The redrive's command line; the archive settings and the output format are every operator
//! command's (`operator::settings`).

use std::time::Duration;

use clap::Parser;

use crate::operator::settings::{ArchiveSettings, OutputFormat};
use crate::redrive::source::Source;

/// Objects archived at once unless `--parallel` says otherwise.
pub const DEFAULT_PARALLEL: u16 = 8;
/// Beyond this, requests in flight (objects times MAX_CONCURRENCY) outgrow any table's budget.
pub const MAX_PARALLEL: u16 = 64;
/// A day: longer than any batch needs, and far inside what an `Instant` can add.
pub const MAX_TIMEOUT_SECONDS: u64 = 86_400;

const EXAMPLES: &str = "\
Examples:
  # What the stack's failed batches hold, and what each record would become; nothing written:
  ttl-archiver-redrive --dry-run --table-name sessions-archive s3://my-failed-batches/aws/lambda/

  # Archive them, 16 objects at a time, each finished object moved under redriven/:
  ttl-archiver-redrive --table-name sessions-archive --ttl-attribute ExpirationTime \\
      --parallel 16 s3://my-failed-batches/aws/lambda/

  # For a script: a JSON line per object, then a summary; finished objects deleted:
  ttl-archiver-redrive --output json --delete s3://my-failed-batches/aws/lambda/ \\
      | jq -c 'select(.type == \"summary\")'

Region, credentials and endpoints come from the AWS SDK's usual sources (AWS_REGION,
AWS_PROFILE, access keys, a role; AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_S3 for local
servers). Exit status: 0 when every object is archived and done, 1 when anything is left (a
record not archived, an object unreadable or not moved, a listing refused), 2 for a bad argument
or setting, or an archive table that is missing, may not be written or cannot be reached (then
the run does nothing; a dry run still lists what is parked).";

/// Archives the DynamoDB stream batches that exhausted their retries, from the failed-batch
/// bucket (or from files), with the function's own selection, projection and writing. Objects
/// whose records are all archived are moved under redriven/ (or deleted); the others stay, with
/// the reason for each record left.
#[derive(Debug, Parser)]
#[command(name = "ttl-archiver-redrive", version, after_help = EXAMPLES)]
pub struct Cli {
    /// s3://BUCKET[/PREFIX] (every object under it, redriven/ excepted) or a file (an invocation
    /// record or a stream event; read, never moved)
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<Source>,

    /// Say what each record would become (would archive, already or newer archived, cannot
    /// archive), with its key, its deletion time and why its batch was parked, reading the
    /// archive; write nothing, move nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Delete an object once all its records are archived, instead of moving it under redriven/
    #[arg(long)]
    pub delete: bool,

    /// Each object's deadline in seconds, retries included
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECONDS))]
    pub timeout: u64,

    /// Objects archived at once, each with up to MAX_CONCURRENCY requests in flight
    #[arg(long, short = 'j', value_name = "N", default_value_t = DEFAULT_PARALLEL,
          value_parser = clap::value_parser!(u16).range(1..=MAX_PARALLEL as i64))]
    pub parallel: u16,

    /// text: a line per object, then a summary; json: a JSON object per line, then a summary
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    #[command(flatten)]
    pub archive: ArchiveSettings,
}

impl Cli {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ttl-archiver-redrive").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_flags() {
        let cli = parse(&["s3://b/aws/lambda/", "events/ttl-remove.json"]).unwrap();
        assert_eq!(cli.sources.len(), 2);
        assert_eq!((cli.dry_run, cli.delete), (false, false));
        assert_eq!(cli.timeout(), Duration::from_secs(300));
        assert_eq!(cli.parallel, DEFAULT_PARALLEL);
        assert_eq!(cli.output, OutputFormat::Text);

        let cli = parse(&[
            "--dry-run",
            "--delete",
            "--timeout",
            "60",
            "-j",
            "3",
            "--output",
            "json",
            "f",
        ])
        .unwrap();
        assert_eq!((cli.dry_run, cli.delete), (true, true));
        assert_eq!(
            (cli.timeout, cli.parallel, cli.output),
            (60, 3, OutputFormat::Json)
        );
    }

    #[test]
    fn bad_arguments_are_named_and_exit_with_2() {
        for (args, named) in [
            (&["--timeout", "86401", "f"][..], "--timeout"),
            (&["--timeout", "0", "f"][..], "--timeout"),
            (&["--parallel", "0", "f"][..], "--parallel"),
            (&["--parallel", "65", "f"][..], "--parallel"),
            (&["--output", "yaml", "f"][..], "--output"),
            (&["--frobnicate", "f"][..], "--frobnicate"),
            (&["s3:///prefix"][..], "no bucket"),
            (&[][..], "SOURCE"),
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(named), "{args:?}: {err}");
        }
    }

    #[test]
    fn help_and_version_exit_with_0() {
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.exit_code(), 0);
        let text = help.to_string();
        for shown in [
            "Examples:",
            "--parallel",
            "--table-name",
            "TABLE_NAME",
            "Exit status",
        ] {
            assert!(text.contains(shown), "{shown} missing from the help");
        }
        let version = parse(&["--version"]).unwrap_err();
        assert_eq!(version.exit_code(), 0);
        assert!(version.to_string().contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn a_flag_gives_the_setting_its_variable_would() {
        let cli = parse(&[
            "--table-name",
            "archive",
            "--archive-retention-days",
            "30",
            "f",
        ])
        .unwrap();
        let config = cli.archive.config::<Cli>(|_| None).unwrap();
        assert_eq!(config.table_name, "archive");
        assert_eq!(config.archive_expiry.unwrap().retention_days, 30);
    }

    #[test]
    fn a_bad_setting_names_its_flag_and_variable() {
        let cli = parse(&[
            "--archive-retention-days",
            "forever",
            "--table-name",
            "archive",
            "f",
        ])
        .unwrap();
        let err = cli.archive.config::<Cli>(|_| None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("ARCHIVE_RETENTION_DAYS") && text.contains("--archive-retention-days"),
            "{text}"
        );
        let err = ArchiveSettings::default()
            .config::<Cli>(|_| None)
            .unwrap_err();
        assert!(
            err.to_string().contains("--table-name or TABLE_NAME"),
            "{err}"
        );
    }

    #[test]
    fn other_variables_come_from_the_environment() {
        let settings = ArchiveSettings {
            table_name: Some("arn:aws:dynamodb:eu-west-1:123456789012:table/archive".into()),
            ..ArchiveSettings::default()
        };
        let region = |name: &str| (name == "AWS_REGION").then(|| "us-east-1".to_owned());
        let err = settings.config::<Cli>(region).unwrap_err();
        assert!(err.to_string().contains("us-east-1"), "{err}");
    }
}
