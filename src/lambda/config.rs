//! Configuration, read once at init from the environment.

use std::borrow::Cow;
use std::time::Duration;

use crate::archive::project::Projection;
pub use crate::archive::project::{ArchiveExpiry, DEFAULT_VERSION_ATTRIBUTE};
use crate::archive::table;

/// Metric namespace used when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_METRICS_NAMESPACE: &str = "TtlArchiver";
/// Requests in flight when `MAX_CONCURRENCY` is not set.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;
/// Upper bound for `MAX_CONCURRENCY`: beyond this the SDK's connection pool, not DynamoDB, limits.
pub const MAX_MAX_CONCURRENCY: usize = 256;
/// Attribute that receives each archive item's expiry when `ARCHIVE_TTL_ATTRIBUTE` is not set.
pub const DEFAULT_ARCHIVE_TTL_ATTRIBUTE: &str = "ArchiveExpiresAt";
/// Upper bound for `ARCHIVE_RETENTION_DAYS`: a century, so that a value in seconds or
/// milliseconds is caught rather than taken for days.
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Time kept free before the deadline when `DEADLINE_MARGIN_MS` is not set.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// The least margin that still answers in time: the writer's hard stop comes up to
/// `writer::HARD_STOP_SLACK` (50 ms) after writing stops, then the failures are logged, the
/// metrics written and the response sent, on as little as a fourteenth of a vCPU.
pub const MIN_DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// Variables the template declares with an empty value, so that `sam local invoke --env-vars`
/// may set them (SAM drops variables the template does not declare). Empty means unset.
pub const DECLARED_EMPTY: &[&str] = &["AWS_ENDPOINT_URL_DYNAMODB"];

/// Prepares the process environment for the SDK and the runtime. Call it first thing in
/// `main`, before any other thread exists: changing the environment is only sound then.
/// - The [`DECLARED_EMPTY`] variables that are set but blank are removed, so that the AWS SDK
///   sees them exactly as unset (it would take an empty endpoint URL as the endpoint).
/// - `AWS_LAMBDA_MAX_CONCURRENCY=1` (set by `cargo lambda watch`) is removed: it asks for one
///   invocation at a time, which is what this runtime does, and lambda_runtime would otherwise
///   warn that its concurrent mode is not built in. Other values stay, and so does the warning.
pub fn normalize_environment() {
    for name in DECLARED_EMPTY {
        if std::env::var(name).is_ok_and(|value| value.trim().is_empty()) {
            std::env::remove_var(name);
        }
    }
    if std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").is_ok_and(|value| value.trim() == "1") {
        std::env::remove_var("AWS_LAMBDA_MAX_CONCURRENCY");
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The archive table's name or ARN, sent as given (see [`table`]).
    pub table_name: String,
    pub ttl_attribute: Option<String>,
    pub attributes: Option<Vec<String>>,
    pub archived_at_attribute: Option<String>,
    /// Receives the version of the stream record each archive item came from, so that a replay
    /// (the redrive) never puts an older version over a newer one.
    pub version_attribute: String,
    /// `None`: items are kept forever (`ARCHIVE_RETENTION_DAYS` unset or 0).
    pub archive_expiry: Option<ArchiveExpiry>,
    pub max_concurrency: usize,
    pub metrics_namespace: String,
    /// Time kept free before the invocation deadline to answer Lambda.
    pub deadline_margin: Duration,
    /// The archive is a global table that the archivers of several Regions write
    /// (`GLOBAL_ARCHIVE=true`): each put then checks that the archive holds no newer version.
    pub global_archive: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required: set it to the name of the archive table")]
    Missing(&'static str),
    #[error("{variable} is invalid ({value:?}): expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: Cow<'static, str>,
    },
}

impl ConfigError {
    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            ConfigError::Missing(variable) | ConfigError::Invalid { variable, .. } => variable,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let table_name = optional("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        check_table(&table_name, optional("AWS_REGION").as_deref())?;

        let ttl_attribute = optional("TTL_ATTRIBUTE");
        let archived_at_attribute = optional("ARCHIVED_AT_ATTRIBUTE");
        let version_attribute = optional("ARCHIVE_VERSION_ATTRIBUTE")
            .unwrap_or_else(|| DEFAULT_VERSION_ATTRIBUTE.to_owned());
        let archive_expiry = archive_expiry(&lookup)?;
        // What the archiver adds to an item must land in attributes of their own. The expiry may
        // share the source's TTL attribute name: the source's value is then replaced.
        distinct(
            ("ARCHIVE_VERSION_ATTRIBUTE", &version_attribute),
            &[
                ("ARCHIVED_AT_ATTRIBUTE", archived_at_attribute.as_deref()),
                ("TTL_ATTRIBUTE", ttl_attribute.as_deref()),
            ],
        )?;
        if let Some(expiry) = &archive_expiry {
            distinct(
                ("ARCHIVE_TTL_ATTRIBUTE", &expiry.attribute),
                &[
                    ("ARCHIVE_VERSION_ATTRIBUTE", Some(&version_attribute)),
                    ("ARCHIVED_AT_ATTRIBUTE", archived_at_attribute.as_deref()),
                ],
            )?;
        }

        let attributes = match lookup("ATTRIBUTES") {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => {
                let names: Vec<String> = raw.split(',').map(|n| n.trim().to_owned()).collect();
                if names.iter().any(String::is_empty) {
                    return Err(ConfigError::Invalid {
                        variable: "ATTRIBUTES",
                        value: raw,
                        expected: "a comma-separated list of attribute names with no empty entries, e.g. CreationTime,SessionInfo".into(),
                    });
                }
                Some(names)
            }
        };

        let max_concurrency = match optional("MAX_CONCURRENCY") {
            None => DEFAULT_MAX_CONCURRENCY,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "MAX_CONCURRENCY",
                        value: raw,
                        expected: "a whole number from 1 to 256 (default 16)".into(),
                    })
                }
            },
        };

        let metrics_namespace =
            optional("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned());
        if metrics_namespace.len() > 255 {
            return Err(ConfigError::Invalid {
                variable: "METRICS_NAMESPACE",
                value: metrics_namespace,
                expected: "a CloudWatch namespace of at most 255 characters".into(),
            });
        }

        let deadline_margin = match optional("DEADLINE_MARGIN_MS") {
            None => DEFAULT_DEADLINE_MARGIN,
            Some(raw) => match raw.parse::<u64>().map(Duration::from_millis) {
                Ok(margin) if (MIN_DEADLINE_MARGIN..=Duration::from_secs(60)).contains(&margin) => {
                    margin
                }
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "DEADLINE_MARGIN_MS",
                        value: raw,
                        expected: "milliseconds from 250 (the time needed to report and answer) to 60000 (default 500)".into(),
                    })
                }
            },
        };

        let global_archive = match optional("GLOBAL_ARCHIVE").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "GLOBAL_ARCHIVE",
                    value: other.to_owned(),
                    expected: "true (the archive is a global table written from several Regions) or false (the default)".into(),
                })
            }
        };

        Ok(Config {
            table_name,
            ttl_attribute,
            attributes,
            archived_at_attribute,
            version_attribute,
            archive_expiry,
            max_concurrency,
            metrics_namespace,
            deadline_margin,
            global_archive,
        })
    }
}

impl From<&Config> for Projection {
    fn from(config: &Config) -> Self {
        Projection {
            ttl_attribute: config.ttl_attribute.clone(),
            attributes: config
                .attributes
                .as_ref()
                .map(|names| names.iter().cloned().collect()),
            archived_at_attribute: config.archived_at_attribute.clone(),
            version_attribute: config.version_attribute.clone(),
            archive_expiry: config.archive_expiry.clone(),
        }
    }
}

/// A table name, or a table ARN in the function's Region (`region`, when known): DynamoDB
/// answers a request for a table of another Region as if the table did not exist.
fn check_table(value: &str, region: Option<&str>) -> Result<(), ConfigError> {
    let invalid = |expected: Cow<'static, str>| ConfigError::Invalid {
        variable: "TABLE_NAME",
        value: value.to_owned(),
        expected,
    };
    if !value.starts_with("arn:") {
        return match table::is_valid_name(value) {
            true => Ok(()),
            false => Err(invalid(
                "a DynamoDB table name (3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.') or a table ARN".into(),
            )),
        };
    }
    let arn = table::parse_arn(value).ok_or_else(|| {
        invalid("a table ARN: arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME".into())
    })?;
    match region {
        Some(region) if region != arn.region => Err(invalid(
            format!(
                "a table in this Region ({region}): DynamoDB reaches tables of its own Region only"
            )
            .into(),
        )),
        _ => Ok(()),
    }
}

/// `ARCHIVE_RETENTION_DAYS` and `ARCHIVE_TTL_ATTRIBUTE`.
fn archive_expiry(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ArchiveExpiry>, ConfigError> {
    let retention_days = match lookup("ARCHIVE_RETENTION_DAYS").map(|v| v.trim().to_owned()) {
        None => 0,
        Some(raw) if raw.is_empty() => 0,
        Some(raw) => match raw.parse::<u32>() {
            Ok(days) if days <= MAX_RETENTION_DAYS => days,
            _ => {
                return Err(ConfigError::Invalid {
                    variable: "ARCHIVE_RETENTION_DAYS",
                    value: raw,
                    expected: "a whole number of days from 0 (keep forever, the default) to 36500"
                        .into(),
                })
            }
        },
    };
    if retention_days == 0 {
        return Ok(None);
    }
    let attribute = match lookup("ARCHIVE_TTL_ATTRIBUTE") {
        None => DEFAULT_ARCHIVE_TTL_ATTRIBUTE.to_owned(),
        Some(name) if name.trim().is_empty() => {
            return Err(ConfigError::Invalid {
                variable: "ARCHIVE_TTL_ATTRIBUTE",
                value: name,
                expected: format!(
                    "the name of the archive table's TTL attribute (default {DEFAULT_ARCHIVE_TTL_ATTRIBUTE}): ARCHIVE_RETENTION_DAYS is {retention_days}"
                )
                .into(),
            })
        }
        Some(name) => name.trim().to_owned(),
    };
    Ok(Some(ArchiveExpiry {
        attribute,
        retention_days,
    }))
}

/// Fails when the attribute `name`, configured by `variable`, is one of `others`, naming both.
fn distinct(
    (variable, name): (&'static str, &str),
    others: &[(&'static str, Option<&str>)],
) -> Result<(), ConfigError> {
    match others.iter().find(|(_, other)| *other == Some(name)) {
        Some((other, _)) => Err(ConfigError::Invalid {
            variable,
            value: name.to_owned(),
            expected: format!("a name different from {other}'s").into(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn only_table_name_is_required() {
        let c = config(&[("TABLE_NAME", "archive")]).unwrap();
        assert_eq!(c.table_name, "archive");
        assert_eq!(c.ttl_attribute, None);
        assert_eq!(c.attributes, None);
        assert_eq!(c.archived_at_attribute, None);
        assert_eq!(c.max_concurrency, 16);
        assert_eq!(c.metrics_namespace, "TtlArchiver");
        assert_eq!(c.version_attribute, "ArchiveVersion");
        assert_eq!(c.deadline_margin, Duration::from_millis(500));
        assert_eq!(c.archive_expiry, None);
        assert!(!c.global_archive);
    }

    #[test]
    fn a_global_archive_is_said_in_so_many_words() {
        for (value, global) in [("true", true), ("false", false), (" ", false)] {
            let c = config(&[("TABLE_NAME", "archive"), ("GLOBAL_ARCHIVE", value)]).unwrap();
            assert_eq!(c.global_archive, global, "{value:?}");
        }
        for bad in ["yes", "1", "TRUE"] {
            let err = config(&[("TABLE_NAME", "archive"), ("GLOBAL_ARCHIVE", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with("GLOBAL_ARCHIVE is invalid"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn deadline_margin_has_a_floor_that_covers_reporting() {
        for bad in ["0", "50", "249", "60001", "-1", "soon"] {
            let err =
                config(&[("TABLE_NAME", "archive"), ("DEADLINE_MARGIN_MS", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with("DEADLINE_MARGIN_MS is invalid"),
                "{bad}: {err}"
            );
        }
        let c = config(&[("TABLE_NAME", "archive"), ("DEADLINE_MARGIN_MS", "250")]).unwrap();
        assert_eq!(c.deadline_margin, MIN_DEADLINE_MARGIN);
    }

    #[test]
    fn version_attribute_is_named_and_distinct() {
        let c = config(&[
            ("TABLE_NAME", "archive"),
            ("ARCHIVE_VERSION_ATTRIBUTE", "v"),
        ])
        .unwrap();
        assert_eq!(c.version_attribute, "v");
        for other in ["ARCHIVED_AT_ATTRIBUTE", "TTL_ATTRIBUTE"] {
            let err = config(&[
                ("TABLE_NAME", "archive"),
                (other, "v"),
                ("ARCHIVE_VERSION_ATTRIBUTE", "v"),
            ])
            .unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("ARCHIVE_VERSION_ATTRIBUTE is invalid") && text.contains(other),
                "{text}"
            );
        }
    }

    #[test]
    fn missing_table_name_names_the_variable() {
        let err = config(&[]).unwrap_err();
        assert!(err.to_string().contains("TABLE_NAME"), "{err}");
        let err = config(&[("TABLE_NAME", "  ")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn invalid_table_name_is_rejected() {
        let err = config(&[("TABLE_NAME", "no spaces allowed")]).unwrap_err();
        assert!(
            err.to_string().starts_with("TABLE_NAME is invalid"),
            "{err}"
        );
    }

    const ARN: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/archive";

    #[test]
    fn table_name_may_be_a_table_arn() {
        let c = config(&[("TABLE_NAME", ARN)]).unwrap();
        assert_eq!(c.table_name, ARN, "sent to DynamoDB as given");
        let c = config(&[("TABLE_NAME", ARN), ("AWS_REGION", "eu-west-1")]).unwrap();
        assert_eq!(c.table_name, ARN);
    }

    #[test]
    fn a_table_arn_is_checked_at_init() {
        for (value, expected) in [
            (
                "arn:aws:dynamodb:eu-west-1:123456789012:table/archive/stream/2024-01-01T00:00:00.000",
                "a table ARN: arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME",
            ),
            (
                "arn:aws:dynamodb:eu-west-1:1234:table/archive",
                "a table ARN: arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME",
            ),
            (
                ARN,
                "a table in this Region (us-east-1): DynamoDB reaches tables of its own Region only",
            ),
        ] {
            let err = config(&[("TABLE_NAME", value), ("AWS_REGION", "us-east-1")]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("TABLE_NAME is invalid ({value:?}): expected {expected}")
            );
        }
    }

    #[test]
    fn retention_is_off_unless_set() {
        for unset in [None, Some(""), Some("0"), Some(" 0 ")] {
            let mut vars = vec![("TABLE_NAME", "archive")];
            vars.extend(unset.map(|v| ("ARCHIVE_RETENTION_DAYS", v)));
            assert_eq!(config(&vars).unwrap().archive_expiry, None, "{unset:?}");
        }
    }

    #[test]
    fn retention_adds_an_expiry_attribute() {
        let c = config(&[("TABLE_NAME", "archive"), ("ARCHIVE_RETENTION_DAYS", "365")]).unwrap();
        let expiry = c.archive_expiry.unwrap();
        assert_eq!(expiry.attribute, "ArchiveExpiresAt");
        assert_eq!(expiry.retention_secs(), 365 * 86_400);
        let c = config(&[
            ("TABLE_NAME", "archive"),
            ("ARCHIVE_RETENTION_DAYS", "30"),
            ("ARCHIVE_TTL_ATTRIBUTE", " purgeAt "),
        ])
        .unwrap();
        assert_eq!(c.archive_expiry.unwrap().attribute, "purgeAt");
    }

    #[test]
    fn retention_must_be_whole_days_within_a_century() {
        for bad in ["-1", "1.5", "a year", "36501", "1700000000"] {
            let err =
                config(&[("TABLE_NAME", "archive"), ("ARCHIVE_RETENTION_DAYS", bad)]).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("ARCHIVE_RETENTION_DAYS is invalid"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_retention_needs_an_attribute_name() {
        let err = config(&[
            ("TABLE_NAME", "archive"),
            ("ARCHIVE_RETENTION_DAYS", "30"),
            ("ARCHIVE_TTL_ATTRIBUTE", " "),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ARCHIVE_TTL_ATTRIBUTE is invalid (\" \"): expected the name of the archive table's \
             TTL attribute (default ArchiveExpiresAt): ARCHIVE_RETENTION_DAYS is 30"
        );
        // Without a retention the attribute is not used, whatever it holds.
        config(&[("TABLE_NAME", "archive"), ("ARCHIVE_TTL_ATTRIBUTE", "")]).unwrap();
    }

    #[test]
    fn the_expiry_attribute_is_its_own() {
        for (other, default) in [
            ("ARCHIVE_VERSION_ATTRIBUTE", false),
            ("ARCHIVE_VERSION_ATTRIBUTE", true),
            ("ARCHIVED_AT_ATTRIBUTE", false),
        ] {
            let mut vars = vec![("TABLE_NAME", "archive"), ("ARCHIVE_RETENTION_DAYS", "30")];
            if default {
                vars.push(("ARCHIVE_TTL_ATTRIBUTE", "ArchiveVersion"));
            } else {
                vars.extend([("ARCHIVE_TTL_ATTRIBUTE", "x"), (other, "x")]);
            }
            let err = config(&vars).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("ARCHIVE_TTL_ATTRIBUTE is invalid")
                    && text.ends_with(&format!("a name different from {other}'s")),
                "{text}"
            );
        }
        // The source's TTL attribute name may be reused: the archive's expiry replaces it.
        let c = config(&[
            ("TABLE_NAME", "archive"),
            ("TTL_ATTRIBUTE", "expiresAt"),
            ("ARCHIVE_RETENTION_DAYS", "30"),
            ("ARCHIVE_TTL_ATTRIBUTE", "expiresAt"),
        ])
        .unwrap();
        assert_eq!(c.archive_expiry.unwrap().attribute, "expiresAt");
    }

    #[test]
    fn attributes_are_a_trimmed_comma_separated_list() {
        let c = config(&[
            ("TABLE_NAME", "archive"),
            ("ATTRIBUTES", " CreationTime, SessionInfo "),
        ])
        .unwrap();
        assert_eq!(
            c.attributes,
            Some(vec!["CreationTime".into(), "SessionInfo".into()])
        );
        let err = config(&[("TABLE_NAME", "archive"), ("ATTRIBUTES", "a,,b")]).unwrap_err();
        assert!(
            err.to_string().starts_with("ATTRIBUTES is invalid"),
            "{err}"
        );
    }

    #[test]
    fn max_concurrency_must_be_a_positive_integer() {
        for bad in ["0", "-1", "abc", "1.5", "257"] {
            let err = config(&[("TABLE_NAME", "archive"), ("MAX_CONCURRENCY", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with("MAX_CONCURRENCY is invalid"),
                "{bad}: {err}"
            );
        }
        let c = config(&[("TABLE_NAME", "archive"), ("MAX_CONCURRENCY", "4")]).unwrap();
        assert_eq!(c.max_concurrency, 4);
    }

    #[test]
    fn optional_names_are_read() {
        let c = config(&[
            ("TABLE_NAME", "archive"),
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("ARCHIVED_AT_ATTRIBUTE", "ArchivedAt"),
            ("METRICS_NAMESPACE", "Sessions/Archive"),
        ])
        .unwrap();
        assert_eq!(c.ttl_attribute.as_deref(), Some("ExpirationTime"));
        assert_eq!(c.archived_at_attribute.as_deref(), Some("ArchivedAt"));
        assert_eq!(c.metrics_namespace, "Sessions/Archive");
    }
}
