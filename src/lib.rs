//! ttl-archiver: moves DynamoDB items deleted by TTL into a Standard-IA archive table.
//!
//! The decisions (`select`, `project`, `batch`, `plan`) are pure functions; `writer` is the one adapter
//! that talks to DynamoDB; `handler` ties them together for one Lambda invocation.

pub mod archived;
pub mod batch;
pub mod config;
pub mod error;
pub mod failed_batch;
pub mod handler;
pub mod item_size;
pub mod key;
pub mod logging;
pub mod metrics;
#[cfg(feature = "operator")]
pub mod operator;
pub mod outcome;
pub mod plan;
pub mod preflight;
pub mod project;
pub mod record;
pub mod redact;
#[cfg(feature = "operator")]
pub mod redrive;
#[cfg(feature = "operator")]
pub mod restore;
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

pub use error::{error_chain, RecordError};
