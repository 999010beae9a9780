//! The start of an operator command's run, and the exit statuses every command uses.

use std::io::IsTerminal;
use std::process::ExitCode;

use aws_config::SdkConfig;
use clap::CommandFactory;

use crate::lambda::config::Config;
use crate::operator::progress::Progress;
use crate::operator::settings::ArchiveSettings;

/// Everything was done (or, on a dry run, listed).
pub const EXIT_DONE: u8 = 0;
/// Something is left for another look: each item or object says what.
pub const EXIT_LEFT: u8 = 1;
/// A bad argument or setting, or no Region or credentials: nothing was done.
pub const EXIT_USAGE: u8 = 2;

/// What a run needs once its arguments are read.
pub struct Session {
    pub config: Config,
    pub progress: Progress,
    pub sdk_config: SdkConfig,
}

impl Session {
    /// Reads the archive settings (a bad one ends the command with clap's message, naming the
    /// flag of command `C` and the variable, and status 2), draws the progress bar of `unit`
    /// when stderr is a terminal, sends the logs around it, loads the AWS configuration and
    /// checks its Region and credentials. Without them it says so, naming `command`, and
    /// answers the exit status.
    pub async fn start<C: CommandFactory>(
        command: &str,
        unit: &str,
        settings: &ArchiveSettings,
    ) -> Result<Self, ExitCode> {
        let config = settings
            .config::<C>(|name| std::env::var(name).ok())
            .unwrap_or_else(|err| err.exit());
        let progress = Progress::new(std::io::stderr().is_terminal(), unit);
        crate::lambda::logging::init_command_line(progress.log_writer());
        let sdk_config = crate::aws::sdk::load().await;
        if let Err(err) = crate::aws::preflight::check(&sdk_config).await {
            eprintln!("{command}: {err}");
            return Err(ExitCode::from(EXIT_USAGE));
        }
        Ok(Session {
            config,
            progress,
            sdk_config,
        })
    }
}

/// A local S3 (an endpoint URL) serves buckets by path, not by host name.
pub fn s3_path_style() -> bool {
    std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some()
}
