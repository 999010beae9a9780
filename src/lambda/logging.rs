//! Logging as Lambda's log controls ask for it (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`),
//! like lambda_runtime's default subscriber, with one difference: item contents stay out of the
//! logs at every level.
//!
//! At TRACE, lambda_runtime logs each raw event it receives, and the SDK's orchestrator and
//! signer log whole requests and responses, bodies included: attribute values. At DEBUG neither
//! does. So the level asked for applies to this crate, and dependencies log at most at DEBUG.
//! `RUST_LOG` is read as a level only: a directive such as `aws_smithy_runtime=trace` would
//! reopen what this closes.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;

/// The most any dependency may log (see the module's documentation).
pub const DEPENDENCY_CEILING: LevelFilter = LevelFilter::DEBUG;

/// The targets of this crate's library and binaries, which log at the level asked for.
const OWN_TARGETS: &[&str] = &["ttl_archiver", "ttl_archiver_redrive"];

/// The level asked for: `AWS_LAMBDA_LOG_LEVEL` (Lambda's names, FATAL included), else
/// `RUST_LOG` when it is a plain level, else INFO.
pub fn requested_level(aws_lambda_log_level: Option<&str>, rust_log: Option<&str>) -> LevelFilter {
    let parse = |value: &str| {
        let value = value.trim();
        if value.eq_ignore_ascii_case("fatal") {
            return Some(LevelFilter::ERROR);
        }
        LevelFilter::from_str(value).ok()
    };
    aws_lambda_log_level
        .and_then(parse)
        .or_else(|| rust_log.and_then(parse))
        .unwrap_or(LevelFilter::INFO)
}

/// The filter for `level`: this crate at `level`, everything else at most at DEBUG.
pub fn filter(level: LevelFilter) -> EnvFilter {
    filter_with(level, level.min(DEPENDENCY_CEILING))
}

/// This crate at `level`, dependencies at `dependencies` (never above the ceiling).
fn filter_with(level: LevelFilter, dependencies: LevelFilter) -> EnvFilter {
    let mut directives = dependencies.min(DEPENDENCY_CEILING).to_string();
    for target in OWN_TARGETS {
        directives.push_str(&format!(",{target}={level}"));
    }
    EnvFilter::builder().parse_lossy(directives)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn requested() -> Option<LevelFilter> {
    let (lambda, rust) = (env("AWS_LAMBDA_LOG_LEVEL"), env("RUST_LOG"));
    (lambda.is_some() || rust.is_some())
        .then(|| requested_level(lambda.as_deref(), rust.as_deref()))
}

/// Installs the subscriber, writing to `writer`: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is
/// JSON (as Lambda sets it for `LoggingConfig.LogFormat: JSON`), plain text otherwise.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    install(writer, filter(requested().unwrap_or(LevelFilter::INFO)));
}

/// For command-line tools: like [`init`], except that unless a level is asked for, dependencies
/// log only errors (their warnings, the credential chain trying instance metadata say, are
/// noise in a terminal; the tool reports what went wrong itself).
pub fn init_command_line<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = match requested() {
        Some(level) => filter(level),
        None => filter_with(LevelFilter::INFO, LevelFilter::ERROR),
    };
    install(writer, filter);
}

fn install<W>(writer: W, filter: EnvFilter)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let subscriber = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_level_wins_then_a_plain_rust_log_then_info() {
        assert_eq!(
            requested_level(Some("TRACE"), Some("error")),
            LevelFilter::TRACE
        );
        assert_eq!(requested_level(Some("FATAL"), None), LevelFilter::ERROR);
        assert_eq!(requested_level(None, Some("debug")), LevelFilter::DEBUG);
        assert_eq!(
            requested_level(None, Some("aws_smithy_runtime=trace")),
            LevelFilter::INFO,
            "directives are not honoured"
        );
        assert_eq!(requested_level(None, None), LevelFilter::INFO);
    }

    #[test]
    fn dependencies_never_log_below_debug() {
        let trace = filter(LevelFilter::TRACE).to_string();
        assert!(trace.contains("ttl_archiver=trace"), "{trace}");
        assert!(trace.split(',').any(|d| d == "debug"), "{trace}");
        assert!(!trace.split(',').any(|d| d == "trace"), "{trace}");
        let info = filter(LevelFilter::INFO).to_string();
        assert!(info.split(',').any(|d| d == "info"), "{info}");
    }
}
