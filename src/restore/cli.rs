//! The restore's command line; the archive settings and the output format are every operator
//! command's (`operator::settings`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};

use crate::operator::settings::{ArchiveSettings, OutputFormat};
use crate::restore::selection::parse_duration;

/// Beyond this, a scan's segments outnumber what any table serves at once.
pub const MAX_SEGMENTS: u32 = 1_000;

const EXAMPLES: &str = "\
Examples:
  # What would come back, and what is in the way; nothing written:
  ttl-archiver-restore --table-name sessions-archive --source-table sessions \\
      --deleted-between 2026-11-29T08:00:00Z 2026-11-29T09:00:00Z --expires-in 30d --dry-run

  # Bring two customers back, expiring again in 30 days:
  ttl-archiver-restore --table-name sessions-archive --source-table sessions \\
      --key PK=USER#42 --key 'PK=USER#43' --expires-in 30d

  # The whole archive, 8 scan segments, at most 500 writes a second, archived copies removed:
  ttl-archiver-restore --table-name sessions-archive --source-table sessions --all \\
      --segments 8 --max-writes-per-second 500 --no-expiry --remove-from-archive

A live item is never replaced unless --overwrite says so. Region, credentials and endpoints come
from the AWS SDK's usual sources (AWS_REGION, AWS_PROFILE, access keys, a role;
AWS_ENDPOINT_URL_DYNAMODB for a local DynamoDB). Exit status: 0 when every item asked for is in
the source table (restored, or there already), 1 when an item failed, a key is not in the
archive, a scan stopped or a window met items without a version, 2 for a bad argument or
setting (then nothing is written).";

/// Brings archived items back into the source table: by key, by the time TTL deleted them, or
/// all of them. Never replaces a live item unless told to; keeps the archiver's version (the mark
/// by which the function archives the item again) and removes the stamps named;
/// sets the TTL attribute as asked.
#[derive(Debug, Parser)]
#[command(name = "ttl-archiver-restore", version, after_help = EXAMPLES)]
#[command(group(ArgGroup::new("selection").required(true).multiple(true)
    .args(["keys", "keys_file", "deleted_between", "all"])))]
pub struct Cli {
    /// An item's key: NAME=VALUE for a string or number key (pairs joined by commas with a sort
    /// key), or DynamoDB JSON; repeatable
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,

    /// A file of keys, one per line as --key takes them (# starts a comment)
    #[arg(long, value_name = "PATH")]
    pub keys_file: Option<PathBuf>,

    /// Every item TTL deleted from FROM to TO, both included (RFC 3339, a date, or epoch
    /// seconds; a date as TO is the whole day), read from the version each archive item holds;
    /// items without one are reported
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"],
          conflicts_with_all = ["keys", "keys_file", "all"])]
    pub deleted_between: Option<Vec<String>>,

    /// Every item in the archive
    #[arg(long, conflicts_with_all = ["keys", "keys_file"])]
    pub all: bool,

    /// Parallel scan segments for --all and --deleted-between
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=MAX_SEGMENTS as i64))]
    pub segments: u32,

    /// The table to restore into: its name or ARN (its key schema must be the archive's)
    #[arg(long, value_name = "NAME_OR_ARN", required = true)]
    pub source_table: String,

    /// Replace a live item, unless it holds the same or a newer archiver version
    #[arg(long)]
    pub overwrite: bool,

    /// Restored items expire this long from now (30d, 12h): with TTL on, under its attribute;
    /// with TTL off, under --ttl-attribute's (a warning says TTL must be turned on again)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          conflicts_with = "no_expiry")]
    pub expires_in: Option<Duration>,

    /// With TTL on the source table: restored items never expire (their TTL attribute removed)
    #[arg(long)]
    pub no_expiry: bool,

    /// List what would be restored and what is in the way; write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// At most this many writes a second to the source table
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_writes_per_second: Option<u32>,

    /// Delete each archived copy once its item is restored, if it is unchanged
    #[arg(long, conflicts_with = "dry_run")]
    pub remove_from_archive: bool,

    /// text: a line per item, then a summary; json: a JSON object per line, then a summary
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    #[command(flatten)]
    pub archive: ArchiveSettings,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ttl-archiver-restore").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn selections_and_choices_parse() {
        let cli = parse(&[
            "--source-table",
            "s",
            "--key",
            "pk=a",
            "--key",
            "pk=b",
            "--no-expiry",
        ])
        .unwrap();
        assert_eq!(cli.keys, ["pk=a", "pk=b"]);
        let cli = parse(&[
            "--source-table",
            "s",
            "--deleted-between",
            "2026-11-29",
            "2026-11-30",
            "--segments",
            "8",
            "--expires-in",
            "30d",
            "--output",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.deleted_between.unwrap(), ["2026-11-29", "2026-11-30"]);
        assert_eq!(cli.segments, 8);
        assert_eq!(cli.expires_in, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(cli.output, OutputFormat::Json);
    }

    #[test]
    fn bad_arguments_are_named_and_exit_with_2() {
        for (args, named) in [
            (&["--source-table", "s"][..], "--key"),
            (&["--all"][..], "--source-table"),
            (
                &["--source-table", "s", "--all", "--key", "pk=a"][..],
                "--all",
            ),
            (
                &[
                    "--source-table",
                    "s",
                    "--all",
                    "--expires-in",
                    "1d",
                    "--no-expiry",
                ][..],
                "--no-expiry",
            ),
            (
                &["--source-table", "s", "--all", "--expires-in", "soon"][..],
                "--expires-in",
            ),
            (
                &["--source-table", "s", "--all", "--segments", "0"][..],
                "--segments",
            ),
            (
                &[
                    "--source-table",
                    "s",
                    "--all",
                    "--max-writes-per-second",
                    "0",
                ][..],
                "--max-writes-per-second",
            ),
            (
                &[
                    "--source-table",
                    "s",
                    "--all",
                    "--dry-run",
                    "--remove-from-archive",
                ][..],
                "--remove-from-archive",
            ),
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(named), "{args:?}: {err}");
        }
    }
}
