//! Sizing: will the archive keep up with a burst of TTL deletions, and what to set so that it
//! does (`tools/sizing`, the README's "Sizing"). A model of the pipeline in simulated time, pure
//! and deterministic: the deletions over time (`workload`), the archive table's capacity
//! (`archive_table`), the function's service time and writes (`function`), the event source
//! mapping and the run (`pipeline`), the settings that park nothing (`recommend`), and what it
//! costs (`cost`). The command line is `cli`. Calibrated against the real function by
//! `tests/sizing_calibration.rs`.

pub mod archive_table;
pub mod cli;
pub mod cost;
pub mod function;
pub mod pipeline;
pub mod recommend;
pub mod workload;
