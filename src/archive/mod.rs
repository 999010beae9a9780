//! The archive's decisions, pure: what a stream record holds, which records are TTL deletions,
//! what an archive item is (projection, version, key, size), how a batch is planned into
//! requests, what an archived item proves to a replay, and what may be said of a value in a log.

pub mod archived;
pub mod batch;
pub mod failed_batch;
pub mod item_size;
pub mod key;
pub mod plan;
pub mod project;
pub mod record;
pub mod redact;
pub mod select;
pub mod table;
pub mod version;
