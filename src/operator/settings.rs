//! The settings every operator command shares: the function's environment variables, each
//! also a flag (a flag wins over its variable, so one runbook line can say everything), and
//! the output format.

use std::ffi::OsStr;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, ValueEnum};

use crate::lambda::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The function's settings, so that what the redrive archives looks like what the function does.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Archive settings (the function's variables; a flag wins)")]
pub struct ArchiveSettings {
    /// The archive table: its name or ARN
    #[arg(long, env = "TABLE_NAME", value_name = "NAME_OR_ARN")]
    pub table_name: Option<String>,
    /// The source's TTL attribute, left out of archive items
    #[arg(long, env = "TTL_ATTRIBUTE", value_name = "NAME")]
    pub ttl_attribute: Option<String>,
    /// Attributes kept, comma-separated (the keys always are); default: the whole image
    #[arg(long, env = "ATTRIBUTES", value_name = "NAMES")]
    pub attributes: Option<String>,
    /// Adds the archive time in epoch seconds under this name
    #[arg(long, env = "ARCHIVED_AT_ATTRIBUTE", value_name = "NAME")]
    pub archived_at_attribute: Option<String>,
    /// Holds each item's version [default: ArchiveVersion]
    #[arg(long, env = "ARCHIVE_VERSION_ATTRIBUTE", value_name = "NAME")]
    pub archive_version_attribute: Option<String>,
    /// Days the archive keeps an item, 0 (forever) to 36500 [default: 0]
    #[arg(long, env = "ARCHIVE_RETENTION_DAYS", value_name = "DAYS")]
    pub archive_retention_days: Option<String>,
    /// The expiry's attribute, with a retention [default: ArchiveExpiresAt]
    #[arg(long, env = "ARCHIVE_TTL_ATTRIBUTE", value_name = "NAME")]
    pub archive_ttl_attribute: Option<String>,
    /// Writes in flight per object (redrive) or per scan segment (restore), 1 to 256
    /// [default: 16]
    #[arg(long, env = "MAX_CONCURRENCY", value_name = "N")]
    pub max_concurrency: Option<String>,
}

impl ArchiveSettings {
    /// Each setting's variable and its value (the flag's, or the variable's, as clap found it).
    fn settings(&self) -> [(&'static str, Option<&String>); 8] {
        [
            ("TABLE_NAME", self.table_name.as_ref()),
            ("TTL_ATTRIBUTE", self.ttl_attribute.as_ref()),
            ("ATTRIBUTES", self.attributes.as_ref()),
            ("ARCHIVED_AT_ATTRIBUTE", self.archived_at_attribute.as_ref()),
            (
                "ARCHIVE_VERSION_ATTRIBUTE",
                self.archive_version_attribute.as_ref(),
            ),
            (
                "ARCHIVE_RETENTION_DAYS",
                self.archive_retention_days.as_ref(),
            ),
            ("ARCHIVE_TTL_ATTRIBUTE", self.archive_ttl_attribute.as_ref()),
            ("MAX_CONCURRENCY", self.max_concurrency.as_ref()),
        ]
    }

    /// The configuration these settings make; `environment` answers for every other variable
    /// (AWS_REGION, say). An error names the flag (as command `C` declares it) and the
    /// variable, as clap reports its own.
    pub fn config<C: CommandFactory>(
        &self,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, clap::Error> {
        let settings = self.settings();
        Config::from_lookup(
            |name| match settings.iter().find(|(variable, _)| *variable == name) {
                Some((_, value)) => value.cloned(),
                None => environment(name),
            },
        )
        .map_err(|err| {
            let mut command = C::command();
            // The flag as clap declares it for the variable, so the two cannot drift apart.
            let flag = command
                .get_arguments()
                .find(|arg| arg.get_env() == Some(OsStr::new(err.variable())))
                .and_then(|arg| arg.get_long());
            let source = match flag {
                Some(flag) => format!(" (from --{flag} or {})", err.variable()),
                None => String::new(),
            };
            command.error(ErrorKind::ValueValidation, format!("{err}{source}"))
        })
    }
}
