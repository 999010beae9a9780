//! The restore command's logic (feature `operator`; `src/bin/restore.rs` only wires it): brings
//! archived items back into the source table, never over a live item unless told to.
//!
//! `cli` reads the command line; `selection` (pure) reads keys, time windows and durations
//! against the archive's key schema; `item` (pure) makes the item that goes back; `tables` is
//! the DynamoDB adapter (schemas, TTL, reads, conditional writes); `report` says what became of
//! each item and of the run; `run` checks everything before the first write, then drives the
//! restore, several items at once.

pub mod cli;
pub mod item;
pub mod report;
pub mod run;
pub mod selection;
pub mod tables;
