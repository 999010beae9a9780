//! The redrive tool's logic (feature `redrive`; `src/bin/redrive.rs` only wires it): archives
//! the batches kept in the failed-batch bucket, or in files, with the function's own selection,
//! projection and writing.
//!
//! `cli` reads the command line and the settings; `source` names where batches are; `replay`
//! archives one object's batch and knows nothing of S3; `bucket` is the S3 adapter (listing,
//! reading, marking done); `report` says what became of each object and of the run; `run`
//! drives them, several objects at once. The conventions it shares with the other operator
//! commands (settings, output format, progress bar) are in `operator`.

pub mod bucket;
pub mod cli;
pub mod replay;
pub mod report;
pub mod run;
pub mod source;
