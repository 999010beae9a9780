//! The function as the model runs it: how long a batch takes before its writes, how it writes
//! (requests of 25 items, or one conditional put per item for a global archive, `MAX_CONCURRENCY`
//! in flight), and how it answers throttling: the writer's own retry policy
//! ([`RetryPolicy::default`], full-jitter backoff) until its deadline, then the records not
//! written reported failed.
//!
//! The CPU figures are this project's bench (docs/performance.md, "Performance"): on a whole
//! core, about 12 ms of CPU per warm 1,000-record batch of about 1.2 KB records, and a 6 MB batch
//! of 5,000 records in about 60 ms; split here as 10 µs a record plus 2 ns a byte of the event.
//! Lambda gives a function a share of a vCPU in proportion to its memory, a whole one at
//! 1,769 MB (Lambda, "Configuring function memory"). A round trip to DynamoDB is the bench's
//! 8 ms.

use crate::aws::writer::RetryPolicy;

/// Lambda: one vCPU at this memory size.
pub const MB_PER_VCPU: f64 = 1_769.0;
/// BatchWriteItem: at most 25 put requests per call (the planner's own limit).
pub const ITEMS_PER_BATCH_WRITE: u64 = crate::archive::batch::MAX_ITEMS_PER_REQUEST as u64;

#[derive(Debug, Clone)]
pub struct FunctionModel {
    pub memory_mb: f64,
    /// The function's timeout (the template's 60 s).
    pub timeout_seconds: f64,
    /// `DEADLINE_MARGIN_MS`: time kept free before the deadline to answer.
    pub deadline_margin_seconds: f64,
    /// `MAX_CONCURRENCY`: write requests in flight.
    pub max_concurrency: u64,
    /// `GLOBAL_ARCHIVE`: one conditional put per item instead of BatchWriteItem.
    pub global_archive: bool,
    pub cpu_seconds_per_record: f64,
    pub cpu_seconds_per_byte: f64,
    /// Lambda's own time around an invocation (not billed to the function here).
    pub invoke_overhead_seconds: f64,
    pub round_trip_seconds: f64,
    pub retry: RetryPolicy,
}

impl Default for FunctionModel {
    fn default() -> Self {
        FunctionModel {
            memory_mb: 256.0,
            timeout_seconds: 60.0,
            deadline_margin_seconds: crate::lambda::config::DEFAULT_DEADLINE_MARGIN.as_secs_f64(),
            max_concurrency: crate::lambda::config::DEFAULT_MAX_CONCURRENCY as u64,
            global_archive: false,
            cpu_seconds_per_record: 10e-6,
            cpu_seconds_per_byte: 2e-9,
            invoke_overhead_seconds: 0.01,
            round_trip_seconds: 0.008,
            retry: RetryPolicy::default(),
        }
    }
}

impl FunctionModel {
    /// Decoding, selecting and projecting a batch, before its first write.
    pub fn cpu_seconds(&self, records: u64, event_bytes: u64) -> f64 {
        let share = (self.memory_mb / MB_PER_VCPU).min(1.0);
        (records as f64 * self.cpu_seconds_per_record
            + event_bytes as f64 * self.cpu_seconds_per_byte)
            / share
    }

    /// Items one round of requests in flight writes.
    pub fn items_per_round(&self) -> u64 {
        let per_request = if self.global_archive {
            1
        } else {
            ITEMS_PER_BATCH_WRITE
        };
        self.max_concurrency * per_request
    }

    /// The wait before the `attempt`-th retry, as the writer draws it: uniform under a ceiling
    /// that doubles from the base to the maximum.
    pub fn backoff(&self, attempt: u32, draw: f64) -> f64 {
        let ceiling = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.retry.max_delay);
        ceiling.as_secs_f64() * draw
    }

    /// When writing must stop, for an invocation that started at `start`.
    pub fn stop_at(&self, start: f64) -> f64 {
        start + self.timeout_seconds - self.deadline_margin_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_follows_the_memory_share_of_a_vcpu() {
        let f = FunctionModel::default();
        let whole_core = FunctionModel {
            memory_mb: 1_769.0,
            ..f.clone()
        };
        // The bench's warm 1,000-record batch: about 12 ms of a whole core.
        let t = whole_core.cpu_seconds(1_000, 1_200_000);
        assert!((0.011..0.013).contains(&t), "{t}");
        assert!((f.cpu_seconds(1_000, 1_200_000) / t - 1_769.0 / 256.0).abs() < 1e-9);
    }

    #[test]
    fn a_global_archive_puts_one_item_per_request() {
        let f = FunctionModel::default();
        assert_eq!(f.items_per_round(), 400);
        let global = FunctionModel {
            global_archive: true,
            ..f
        };
        assert_eq!(global.items_per_round(), 16);
    }
}
