//! Configuration, read once at init from the environment.

use std::time::Duration;

/// Metric namespace used when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_METRICS_NAMESPACE: &str = "TtlArchiver";
/// Requests in flight when `MAX_CONCURRENCY` is not set.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;
/// Upper bound for `MAX_CONCURRENCY`: beyond this the SDK's connection pool, not DynamoDB, limits.
pub const MAX_MAX_CONCURRENCY: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub ttl_attribute: Option<String>,
    pub attributes: Option<Vec<String>>,
    pub archived_at_attribute: Option<String>,
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
            None => Duration::from_millis(500),
            Some(raw) => match raw.parse::<u64>() {
                Ok(ms) if ms <= 60_000 => Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "DEADLINE_MARGIN_MS",
                        value: raw,
                        expected: "milliseconds from 0 to 60000 (default 500)",
                    })
                }
            },
        };

        Ok(Config {
            table_name,
            ttl_attribute,
            attributes,
            archived_at_attribute,
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
