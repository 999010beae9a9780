//! Where failed batches are read from: a prefix of the failed-batch bucket, or a file.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Every object under `prefix` (all of the bucket when empty).
    S3 { bucket: String, prefix: String },
    /// An invocation record or a stream event on disk; read, never moved.
    File(String),
}

impl FromStr for Source {
    type Err = String;

    fn from_str(arg: &str) -> Result<Self, Self::Err> {
        match arg.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(format!("no bucket in {arg}: expected s3://BUCKET[/PREFIX]"));
                }
                Ok(Source::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                })
            }
            None if arg.is_empty() => {
                Err("an empty SOURCE: expected s3://BUCKET[/PREFIX] or a file".into())
            }
            None => Ok(Source::File(arg.to_owned())),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Source::File(path) => f.write_str(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> Source {
        Source::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn s3_sources_split_bucket_and_prefix() {
        assert_eq!("s3://b".parse(), Ok(s3("b", "")));
        assert_eq!("s3://b/".parse(), Ok(s3("b", "")));
        assert_eq!("s3://b/aws/lambda/".parse(), Ok(s3("b", "aws/lambda/")));
        assert_eq!(s3("b", "aws/lambda/").to_string(), "s3://b/aws/lambda/");
    }

    #[test]
    fn anything_else_is_a_file() {
        assert_eq!(
            "events/ttl-remove.json".parse(),
            Ok(Source::File("events/ttl-remove.json".into()))
        );
    }

    #[test]
    fn a_source_without_a_bucket_is_refused() {
        let err = "s3:///prefix".parse::<Source>().unwrap_err();
        assert!(err.contains("no bucket in s3:///prefix"), "{err}");
        assert!("".parse::<Source>().is_err());
    }
}
