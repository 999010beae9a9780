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
pub mod plan;
pub mod project;
pub mod runtime_api;
pub mod select;
pub mod version;
pub mod writer;

pub use config::{Config, ConfigError};
pub use handler::{function_handler, Archiver, BatchOutcome};
pub use plan::{plan_batch, BatchError, BatchPlan, StreamBatch};
pub use writer::{ArchiveWriter, RetryPolicy, WriteError};

/// Why one selected record cannot be archived. Messages never carry attribute values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the record has no OldImage (stream view type {stream_view_type}); the stream must use OLD_IMAGE or NEW_AND_OLD_IMAGES")]
    NoOldImage { stream_view_type: String },
    #[error("the record has no Keys")]
    NoKeys,
    #[error("key attribute {attribute} is not a string, number or binary")]
    InvalidKey { attribute: String },
    #[error(
        "the record is not a valid DynamoDB stream record ({category} error at column {column})"
    )]
    Malformed { category: String, column: usize },
    #[error("the SequenceNumber is not 1 to 40 decimal digits")]
    InvalidSequenceNumber,
    #[error("the item already has an attribute {attribute}, which {variable} would replace; set {variable} to a name the items do not use")]
    AttributeCollision {
        attribute: String,
        variable: &'static str,
    },
}

impl RecordError {
    /// Describes a deserialisation failure by position only: serde's messages quote values.
    pub fn malformed(err: &serde_json::Error) -> Self {
        RecordError::Malformed {
            category: format!("{:?}", err.classify()).to_lowercase(),
            column: err.column(),
        }
    }
}
