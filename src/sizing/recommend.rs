//! The settings that park nothing: the smallest parallelization factor with which the function
//! keeps up when the archive table is not the limit, then the smallest warm write throughput (in
//! steps of 1,000 units) with which the table keeps up too, and the reserved concurrency those
//! batches need. "Keeps up": nothing parked or expired, and the largest iterator age under the
//! iterator-age alarm's threshold and half of `MaximumRecordAgeInSeconds`: nothing for the
//! on-call to answer, and time to answer should the load be larger than modelled.

use serde::Serialize;

use crate::sizing::archive_table::{write_units, NEW_TABLE_WRITE_UNITS};
use crate::sizing::pipeline::{simulate, Figures, Load, Stack, ARCHIVER_ADDS_BYTES};

/// [PAR] ParallelizationFactor's range.
pub const MAX_PARALLELIZATION_FACTOR: u64 = 10;
/// Lambda's default account concurrency ("Lambda quotas"): more needs a quota increase.
pub const ACCOUNT_CONCURRENCY: u64 = 1_000;
const WARM_STEP: f64 = 1_000.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommended {
    pub parallelization_factor: u64,
    /// 0: a new on-demand table's throughput is enough.
    pub warm_write_units_per_second: u64,
    /// Shards times the parallelization factor: every batch can run at once.
    pub reserved_concurrency: u64,
    /// False when even ParallelizationFactor 10 with an unthrottled table falls behind: more
    /// memory (a larger share of a vCPU), or fewer records per shard, is the answer then.
    pub keeps_up: bool,
    /// The run with these settings.
    pub figures: Figures,
}

/// Whether a run kept up.
pub fn keeps_up(figures: &Figures, stack: &Stack) -> bool {
    figures.parked_records == 0
        && figures.expired_in_stream == 0
        && figures.max_iterator_age_seconds
            <= stack
                .iterator_age_alarm_seconds
                .min(stack.maximum_record_age_seconds / 2.0)
}

/// Searches from `stack`'s own settings; `progress` hears each run (its number, from 1).
pub fn recommend(load: &Load, stack: &Stack, mut progress: impl FnMut(usize)) -> Recommended {
    let mut runs = 0;
    let mut run = |stack: &Stack| {
        runs += 1;
        progress(runs);
        simulate(load, stack, |_| {})
    };
    let with = |factor: u64, warm: f64| Stack {
        parallelization_factor: factor,
        concurrency_limit: stack.shards * factor,
        warm_write_units: warm,
        ..stack.clone()
    };
    // A table that never throttles: each second's peak of deletions, as units, ten times over.
    let units_each = write_units(load.item_bytes + ARCHIVER_ADDS_BYTES) as f64;
    let unlimited = (load.deletions.peak() * units_each * 10.0).max(NEW_TABLE_WRITE_UNITS);
    let start = stack
        .parallelization_factor
        .clamp(1, MAX_PARALLELIZATION_FACTOR);
    let factor = (start..=MAX_PARALLELIZATION_FACTOR)
        .find(|&factor| keeps_up(&run(&with(factor, unlimited)), stack));
    let (factor, function_keeps_up) = match factor {
        Some(factor) => (factor, true),
        None => (MAX_PARALLELIZATION_FACTOR, false),
    };
    let given = run(&with(factor, stack.warm_write_units));
    if keeps_up(&given, stack) || !function_keeps_up {
        return Recommended {
            parallelization_factor: factor,
            warm_write_units_per_second: stack.warm_write_units as u64,
            reserved_concurrency: stack.shards * factor,
            keeps_up: function_keeps_up && keeps_up(&given, stack),
            figures: given,
        };
    }
    // Between what fell behind and what cannot, in steps of 1,000 units.
    let mut low = (stack.warm_write_units.max(NEW_TABLE_WRITE_UNITS) / WARM_STEP).ceil() as u64;
    let mut high = (unlimited / WARM_STEP).ceil() as u64;
    let mut best = None;
    while low < high {
        let middle = (low + high) / 2;
        let figures = run(&with(factor, middle as f64 * WARM_STEP));
        if keeps_up(&figures, stack) {
            high = middle;
            best = Some(figures);
        } else {
            low = middle + 1;
        }
    }
    let warm = high as f64 * WARM_STEP;
    // The last run that kept up was at `high`; none did when `high` is still the upper bound.
    let figures = best.unwrap_or_else(|| run(&with(factor, warm)));
    Recommended {
        parallelization_factor: factor,
        warm_write_units_per_second: warm as u64,
        reserved_concurrency: stack.shards * factor,
        keeps_up: keeps_up(&figures, stack),
        figures,
    }
}
