//! Configuration, read once at init from the environment.

use std::time::Duration;

/// Metric namespace used when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_METRICS_NAMESPACE: &str = "TtlArchiver";
/// Requests in flight when `MAX_CONCURRENCY` is not set.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;
/// Upper bound for `MAX_CONCURRENCY`: beyond this the SDK's connection pool, not DynamoDB, limits.
pub const MAX_MAX_CONCURRENCY: usize = 256;
/// Attribute that carries each archive item's version when `ARCHIVE_VERSION_ATTRIBUTE` is not set.
pub const DEFAULT_VERSION_ATTRIBUTE: &str = "ArchiveVersion";
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
    pub table_name: String,
    pub ttl_attribute: Option<String>,
    pub attributes: Option<Vec<String>>,
    pub archived_at_attribute: Option<String>,
    /// Receives the version of the stream record each archive item came from, so that a replay
    /// (the redrive) never puts an older version over a newer one.
    pub version_attribute: String,
    pub max_concurrency: usize,
    pub metrics_namespace: String,
    /// Time kept free before the invocation deadline to answer Lambda.
    pub deadline_margin: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required: set it to the name of the archive table")]
    Missing(&'static str),
    #[error("{variable} is invalid ({value:?}): expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
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
        if !is_valid_table_name(&table_name) {
            return Err(ConfigError::Invalid {
                variable: "TABLE_NAME",
                value: table_name,
                expected:
                    "a DynamoDB table name: 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'",
            });
        }

        let ttl_attribute = optional("TTL_ATTRIBUTE");
        let archived_at_attribute = optional("ARCHIVED_AT_ATTRIBUTE");
        let version_attribute = optional("ARCHIVE_VERSION_ATTRIBUTE")
            .unwrap_or_else(|| DEFAULT_VERSION_ATTRIBUTE.to_owned());
        for (other, expected) in [
            (
                &archived_at_attribute,
                "a name different from ARCHIVED_AT_ATTRIBUTE's (default ArchiveVersion)",
            ),
            (
                &ttl_attribute,
                "a name different from TTL_ATTRIBUTE's (default ArchiveVersion)",
            ),
        ] {
            if other.as_deref() == Some(version_attribute.as_str()) {
                return Err(ConfigError::Invalid {
                    variable: "ARCHIVE_VERSION_ATTRIBUTE",
                    value: version_attribute,
                    expected,
                });
            }
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
                        expected: "a comma-separated list of attribute names with no empty entries, e.g. CreationTime,SessionInfo",
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
                        expected: "a whole number from 1 to 256 (default 16)",
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
                expected: "a CloudWatch namespace of at most 255 characters",
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
                        expected: "milliseconds from 250 (the time needed to report and answer) to 60000 (default 500)",
                    })
                }
            },
        };

        Ok(Config {
            table_name,
            ttl_attribute,
            attributes,
            archived_at_attribute,
            version_attribute,
            max_concurrency,
            metrics_namespace,
            deadline_margin,
        })
    }
}

fn is_valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
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
