//! The Lambda glue: configuration read at init, one invocation handled, its outcome answered,
//! logged and counted in EMF metrics, and the runtime's end told from a failure.

pub mod config;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod outcome;
pub mod runtime_api;
