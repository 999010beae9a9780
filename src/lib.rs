//! ttl-archiver: moves DynamoDB items deleted by TTL into a Standard-IA archive table.
//!
//! The decisions (`select`, `project`, `batch`, `plan`) are pure functions; `writer` is the one adapter
//! that talks to DynamoDB; `handler` ties them together for one Lambda invocation.

pub mod batch;
pub mod config;
pub mod failed_batch;
pub mod handler;
pub mod key;
pub mod logging;
pub mod metrics;
pub mod outcome;
pub mod plan;
pub mod preflight;
pub mod project;
pub mod record;
pub mod redact;
#[cfg(feature = "redrive")]
pub mod redrive;
pub mod runtime_api;
pub mod sdk;
pub mod select;
pub mod table;
pub mod version;
pub mod writer;

pub use config::{Config, ConfigError};
pub use handler::{function_handler, Archiver};
pub use outcome::BatchOutcome;
pub use plan::{plan_batch, BatchError, BatchPlan, StreamBatch};
pub use writer::{ArchiveWriter, RetryPolicy, WriteError};

use record::Record;

/// Why one selected record cannot be archived. Messages never carry attribute values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the record has no OldImage (stream view type {stream_view_type}); the stream must use OLD_IMAGE or NEW_AND_OLD_IMAGES")]
    NoOldImage { stream_view_type: String },
    #[error("the record has no Keys")]
    NoKeys,
    #[error("key attribute {attribute} is not a string, number or binary")]
    InvalidKey { attribute: String },
    /// `path` names where decoding failed (`dynamodb.OldImage.avatar.B`): attribute names,
    /// never values.
    #[error("the record is not a valid DynamoDB stream record: {category} error at {path} (column {column})")]
    Malformed {
        category: String,
        path: String,
        column: usize,
    },
    #[error("the SequenceNumber is not 1 to 40 decimal digits")]
    InvalidSequenceNumber,
    #[error("the item already has an attribute {attribute}, which {variable} would replace; set {variable} to a name the items do not use")]
    AttributeCollision {
        attribute: String,
        variable: &'static str,
    },
}

impl RecordError {
    /// Describes why `raw`, a record that failed to deserialise, is malformed: where (the path
    /// of the field or attribute) and what kind of error, never serde's message, which quotes
    /// values. Decodes `raw` again to find the path; only records that failed pay for it.
    pub fn malformed(raw: &str) -> Self {
        let mut json = serde_json::Deserializer::from_str(raw);
        let err = match serde_path_to_error::deserialize::<_, Record>(&mut json) {
            Ok(_) => {
                return RecordError::Malformed {
                    category: "unknown".into(),
                    path: "an unknown place".into(),
                    column: 0,
                }
            }
            Err(err) => err,
        };
        let path = err.path().to_string();
        let inner = err.into_inner();
        RecordError::Malformed {
            category: format!("{:?}", inner.classify()).to_lowercase(),
            path,
            column: inner.column(),
        }
    }
}

/// `err` and its causes, outermost first, each said once ("dispatch failure: io error: ...").
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(current) = cause {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        cause = current.source();
    }
    parts.join(": ")
}
