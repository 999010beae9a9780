//! ttl-archiver: moves DynamoDB items deleted by TTL into a Standard-IA archive table.
//!
//! `archive` holds the pure decisions (select, project, version, plan); `aws` the one adapter
//! per AWS service the function needs (DynamoDB) and the SDK's configuration; `lambda` ties them
//! together for one invocation; `operator`, `redrive`, `restore` and `sizing` are the operator
//! commands.

pub mod archive;
pub mod aws;
pub mod error;
pub mod lambda;
#[cfg(feature = "operator")]
pub mod operator;
#[cfg(feature = "operator")]
pub mod redrive;
#[cfg(feature = "operator")]
pub mod restore;
#[cfg(feature = "operator")]
pub mod sizing;

pub use archive::plan::{plan_batch, BatchError, BatchPlan, StreamBatch};
pub use aws::writer::{ArchiveWriter, RetryPolicy, WriteError};
pub use lambda::config::{Config, ConfigError};
pub use lambda::handler::{function_handler, Archiver};
pub use lambda::outcome::BatchOutcome;

pub use error::{error_chain, RecordError};
