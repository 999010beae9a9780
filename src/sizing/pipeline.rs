//! The pipeline in simulated time: discrete events, no clock, no network. TTL deletes records
//! into the source's shards ([`Deletions`], spread evenly over shards and keys); Lambda's event
//! source mapping reads each shard with up to `ParallelizationFactor` concurrent batches, forms
//! batches, invokes the function within the concurrency it may use, retries and parks; the
//! function writes to the archive table ([`ArchiveTable`]) as [`FunctionModel`] says.
//!
//! The mapping's rules, each from AWS's pages as `tests/support/esm.rs` cites them:
//! - [PAR] "Lambda parameters for Amazon DynamoDB event source mappings": `BatchSize`,
//!   `MaximumBatchingWindowInSeconds` (a batch is sent when full or when its first record has
//!   waited that long), `ParallelizationFactor` 1-10 concurrent batches per shard, keeping each
//!   partition key's order.
//! - [ESM] "Processing DynamoDB stream records with Lambda": a batch is at most 6 MB; the stream
//!   keeps a record 24 hours; `IteratorAge` is the age of the batch's last record when invoked.
//! - [PBR] partial batch responses: the mapping goes on from the lowest sequence number reported
//!   failed, sending every record after it again.
//! - [ERR] after `MaximumRetryAttempts` retries, or once a record is older than
//!   `MaximumRecordAgeInSeconds`, the batch goes to the on-failure destination (parked).
//! - [CON] "Lambda function scaling": concurrent invocations are capped by the function's
//!   reserved concurrency, or the account's unreserved concurrency (1,000 by default).
//!
//! Records are counted, not carried: a lane (one of a shard's concurrent batchers) holds the
//! count it has read past, and the deletions' profile says when each of its records arrived.
//! Retries start at once (the wait is not documented) and, as in `tests/support/esm.rs`, send
//! the batch's records from the checkpoint again, no new ones. The table takes a round's items
//! in the order asked, so the records written are a prefix of the batch, and the checkpoint (the
//! lowest failed record) is the first record not written.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use serde::Serialize;

use crate::sizing::archive_table::{write_units, ArchiveTable};
use crate::sizing::function::FunctionModel;
use crate::sizing::workload::Deletions;

/// [ESM] An invocation's payload is at most 6 MB.
pub const MAX_PAYLOAD_BYTES: u64 = 6 * 1024 * 1024;
/// [ESM] The stream keeps a record this long.
pub const STREAM_RETENTION_SECONDS: f64 = 24.0 * 3600.0;
/// The archive's version attribute (B, 21 bytes, and its name): what the archiver adds to each
/// item (docs/performance.md, "Cost").
pub const ARCHIVER_ADDS_BYTES: u64 = 35;

/// The event's JSON for one record: the item twice as DynamoDB JSON (`Keys` and `OldImage`,
/// about 1.3 times its size for the type tags, the key counted once more) and about 600 bytes
/// of the record's own fields (measured on `events/ttl-remove.json`).
pub fn event_record_bytes(item_bytes: u64) -> u64 {
    item_bytes * 13 / 10 + 600
}

/// What the user runs: the deletions and the items.
#[derive(Debug, Clone)]
pub struct Load {
    pub deletions: Deletions,
    /// An item's size as DynamoDB counts it.
    pub item_bytes: u64,
}

/// The settings the stack decides.
#[derive(Debug, Clone)]
pub struct Stack {
    pub shards: u64,
    pub parallelization_factor: u64,
    pub batch_size: u64,
    pub batching_window_seconds: f64,
    pub maximum_retry_attempts: u32,
    pub maximum_record_age_seconds: f64,
    /// The iterator-age alarm's threshold (the recommendation's target, not the mapping's).
    pub iterator_age_alarm_seconds: f64,
    /// Reserved concurrency, or the account's unreserved concurrency.
    pub concurrency_limit: u64,
    /// The archive's warm write throughput; 0 for a new on-demand table.
    pub warm_write_units: f64,
    /// The archive table's write quota (units a second).
    pub table_write_quota: f64,
    pub function: FunctionModel,
    /// Seeds the writer's jitter: one seed, one run.
    pub seed: u64,
}

/// What happened over a run. Records are counted once, where they end: archived (the mapping
/// went past them, written) or parked (sent to the on-failure destination) or expired (the
/// stream dropped them unread).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub deletions: u64,
    pub archived_records: u64,
    pub parked_records: u64,
    pub parked_batches: u64,
    /// Records the stream dropped after 24 hours, never read: lost. Only a record age above
    /// 24 hours allows it.
    pub expired_in_stream: u64,
    pub invocations: u64,
    /// Batches sent again after the function reported records it could not write.
    pub mapping_retries: u64,
    /// Item writes the archive table throttled (answered unprocessed).
    pub throttled_writes: u64,
    /// Rounds of requests the function sent again after throttling.
    pub write_retries: u64,
    /// Write units consumed, every write counted (a record written again on a retry, again).
    pub write_units: u64,
    pub max_iterator_age_seconds: f64,
    /// When the largest iterator age was seen, seconds from the first deletion.
    pub max_iterator_age_at_seconds: f64,
    /// When the last record was archived or parked, seconds from the first deletion.
    pub drain_seconds: f64,
    pub peak_concurrency: u64,
    pub lambda_gb_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A lane may form its next batch.
    Ready(usize),
    /// A waiting lane, woken for a free slot.
    Woken(usize),
    /// An invocation sends its next round of writes.
    Round(usize),
}

#[derive(Debug, Clone, Copy)]
struct Event {
    at: f64,
    order: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Earliest first (the heap is a max-heap), then in the order scheduled.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .total_cmp(&self.at)
            .then(other.order.cmp(&self.order))
    }
}

#[derive(Debug, Clone, Default)]
struct Lane {
    /// Records read past (archived, parked or expired).
    checkpoint: u64,
    /// Consecutive invocations that left records unwritten.
    attempts: u32,
    /// After a partial failure: how many records, from the checkpoint, are sent again.
    retry: Option<u64>,
    done: bool,
}

#[derive(Debug, Clone)]
struct Invocation {
    lane: usize,
    start: f64,
    records: u64,
    written: u64,
    attempt: u32,
}

struct Run<'a> {
    load: &'a Load,
    stack: &'a Stack,
    lanes: Vec<Lane>,
    /// Records each lane ever gets.
    per_lane: u64,
    lane_count: f64,
    batch_cap: u64,
    units_each: u64,
    table: ArchiveTable,
    heap: BinaryHeap<Event>,
    order: u64,
    invocations: Vec<Invocation>,
    free_invocations: Vec<usize>,
    running: u64,
    waiting: VecDeque<usize>,
    /// Lanes woken for a free slot that have not yet taken it.
    woken: u64,
    rng: fastrand::Rng,
    figures: Figures,
}

/// Runs the pipeline to its end (every record archived, parked or expired); `progress` hears
/// the simulated seconds now and then.
pub fn simulate(load: &Load, stack: &Stack, progress: impl FnMut(f64)) -> Figures {
    simulate_until(load, stack, f64::INFINITY, progress)
}

/// [`simulate`], stopped at `horizon` seconds: the figures are what happened by then (what a
/// run of the real pipeline for that long can be compared with).
pub fn simulate_until(
    load: &Load,
    stack: &Stack,
    horizon: f64,
    mut progress: impl FnMut(f64),
) -> Figures {
    let lanes = (stack.shards * stack.parallelization_factor).max(1);
    let lane_count = lanes as f64;
    let per_lane = (load.deletions.total() / lane_count).floor() as u64;
    let record_bytes = event_record_bytes(load.item_bytes);
    let mut run = Run {
        load,
        stack,
        lanes: vec![Lane::default(); lanes as usize],
        per_lane,
        lane_count,
        batch_cap: stack
            .batch_size
            .min(MAX_PAYLOAD_BYTES / record_bytes)
            .max(1),
        units_each: write_units(load.item_bytes + ARCHIVER_ADDS_BYTES),
        table: ArchiveTable::new(stack.warm_write_units, stack.table_write_quota),
        heap: BinaryHeap::new(),
        order: 0,
        invocations: Vec::new(),
        free_invocations: Vec::new(),
        running: 0,
        waiting: VecDeque::new(),
        woken: 0,
        rng: fastrand::Rng::with_seed(stack.seed),
        figures: Figures {
            deletions: per_lane * lanes,
            ..Figures::default()
        },
    };
    for lane in 0..lanes as usize {
        run.schedule(0.0, Kind::Ready(lane));
    }
    let mut reported = 0.0;
    while let Some(event) = run.heap.pop() {
        if event.at > horizon {
            break;
        }
        if event.at - reported >= 60.0 {
            reported = event.at;
            progress(event.at);
        }
        match event.kind {
            Kind::Ready(lane) => run.ready(lane, event.at),
            Kind::Woken(lane) => {
                run.woken -= 1;
                run.ready(lane, event.at)
            }
            Kind::Round(invocation) => run.round(invocation, event.at),
        }
        run.wake(event.at);
    }
    progress(run.figures.drain_seconds);
    run.figures
}

impl Run<'_> {
    fn schedule(&mut self, at: f64, kind: Kind) {
        self.order += 1;
        self.heap.push(Event {
            at,
            order: self.order,
            kind,
        });
    }

    /// When a lane's record `index` (from 0) arrived in the stream.
    fn arrival(&self, index: u64) -> f64 {
        self.load
            .deletions
            .time_of((index + 1) as f64 * self.lane_count)
            .unwrap_or(f64::INFINITY)
    }

    /// Records of a lane in the stream by `t`. The tolerance makes a record count as arrived at
    /// the time [`Run::arrival`] gives it, whatever the rounding of the inverse.
    fn arrived_by(&self, t: f64) -> u64 {
        let records = self.load.deletions.count_by(t) / self.lane_count;
        ((records + 1e-6).floor() as u64).min(self.per_lane)
    }

    /// [CON] Each slot free and not yet promised goes to the lane that has waited longest.
    fn wake(&mut self, t: f64) {
        while self.running + self.woken < self.stack.concurrency_limit {
            let Some(lane) = self.waiting.pop_front() else {
                return;
            };
            self.woken += 1;
            self.schedule(t, Kind::Woken(lane));
        }
    }

    fn ready(&mut self, lane: usize, t: f64) {
        let stack = self.stack;
        let checkpoint = self.lanes[lane].checkpoint;
        if checkpoint >= self.per_lane {
            if !self.lanes[lane].done {
                self.lanes[lane].done = true;
                self.figures.drain_seconds = self.figures.drain_seconds.max(t);
            }
            return;
        }
        // [ESM] The stream drops what it kept 24 hours.
        if t - self.arrival(checkpoint) > STREAM_RETENTION_SECONDS {
            let kept_from = self.arrived_by(t - STREAM_RETENTION_SECONDS);
            self.figures.expired_in_stream += kept_from - checkpoint;
            self.lanes[lane].checkpoint = kept_from;
            self.lanes[lane].attempts = 0;
            self.lanes[lane].retry = None;
            self.schedule(t, Kind::Ready(lane));
            return;
        }
        let oldest = self.arrival(checkpoint);
        let take = match self.lanes[lane].retry {
            // [PBR] A retry sends the same records again, at once.
            Some(records) => records,
            None => {
                // Arrival times and counts are each other's inverse only to a rounding: a record
                // whose arrival time has come has arrived.
                let mut arrived = self.arrived_by(t);
                if oldest <= t {
                    arrived = arrived.max(checkpoint + 1);
                }
                if arrived <= checkpoint {
                    self.schedule(oldest, Kind::Ready(lane));
                    return;
                }
                let full_at = if checkpoint + self.batch_cap <= self.per_lane {
                    self.arrival(checkpoint + self.batch_cap - 1)
                } else {
                    f64::INFINITY
                };
                if full_at <= t {
                    arrived = arrived.max(checkpoint + self.batch_cap);
                }
                let available = arrived - checkpoint;
                // [PAR] A batch goes when full, or when its first record has waited the window
                // (the last records of a lane too: the mapping cannot know none will follow).
                let window_end = oldest + stack.batching_window_seconds;
                if available < self.batch_cap && t < window_end {
                    // Both later than now: the batch is not full, the window not over.
                    self.schedule(full_at.min(window_end), Kind::Ready(lane));
                    return;
                }
                available.min(self.batch_cap)
            }
        };
        // [ERR] Records older than MaximumRecordAgeInSeconds go to the destination unsent.
        if t - oldest > stack.maximum_record_age_seconds {
            self.park(lane, take, t);
            self.schedule(t, Kind::Ready(lane));
            return;
        }
        // [CON] Within the concurrency the function may use.
        if self.running >= stack.concurrency_limit {
            self.waiting.push_back(lane);
            return;
        }
        self.running += 1;
        self.figures.peak_concurrency = self.figures.peak_concurrency.max(self.running);
        // [ESM] IteratorAge: the age of the batch's last record.
        let age = t - self.arrival(checkpoint + take - 1);
        if age > self.figures.max_iterator_age_seconds {
            self.figures.max_iterator_age_seconds = age;
            self.figures.max_iterator_age_at_seconds = t;
        }
        let invocation = Invocation {
            lane,
            start: t,
            records: take,
            written: 0,
            attempt: 0,
        };
        let id = match self.free_invocations.pop() {
            Some(id) => {
                self.invocations[id] = invocation;
                id
            }
            None => {
                self.invocations.push(invocation);
                self.invocations.len() - 1
            }
        };
        let f = &stack.function;
        let first_write = t
            + f.invoke_overhead_seconds
            + f.cpu_seconds(take, take * event_record_bytes(self.load.item_bytes));
        self.schedule(first_write, Kind::Round(id));
    }

    fn round(&mut self, id: usize, t: f64) {
        let f = &self.stack.function;
        let Invocation {
            records,
            written,
            start,
            ..
        } = self.invocations[id];
        let asked = (records - written).min(f.items_per_round());
        let taken = self.table.write(t, asked, self.units_each);
        self.figures.write_units += taken * self.units_each;
        self.figures.throttled_writes += asked - taken;
        let answered = t + f.round_trip_seconds;
        let invocation = &mut self.invocations[id];
        invocation.written += taken;
        if invocation.written == records {
            return self.finish(id, answered);
        }
        if taken == asked {
            invocation.attempt = 0;
            return self.schedule(answered, Kind::Round(id));
        }
        invocation.attempt += 1;
        let attempt = invocation.attempt;
        let delay = f.backoff(attempt, self.rng.f64());
        // The writer gives up when the retries run out or the next one could not finish in time.
        if attempt >= f.retry.max_attempts || answered + delay >= f.stop_at(start) {
            return self.finish(id, answered);
        }
        self.figures.write_retries += 1;
        self.schedule(answered + delay, Kind::Round(id));
    }

    fn finish(&mut self, id: usize, t: f64) {
        let Invocation {
            lane,
            start,
            records,
            written,
            ..
        } = self.invocations[id];
        self.free_invocations.push(id);
        let f = &self.stack.function;
        self.figures.invocations += 1;
        // Billed from the function's start, after Lambda's own time.
        let billed = t - start - f.invoke_overhead_seconds;
        self.figures.lambda_gb_seconds += billed.max(0.0) * f.memory_mb / 1024.0;
        self.running -= 1;
        // [PBR] The checkpoint: the lowest failed record, the first not written.
        self.figures.archived_records += written;
        let state = &mut self.lanes[lane];
        state.checkpoint += written;
        if written == records {
            state.attempts = 0;
            state.retry = None;
        } else {
            state.attempts += 1;
            state.retry = Some(records - written);
            if state.attempts > self.stack.maximum_retry_attempts {
                self.park(lane, records - written, t);
            } else {
                self.figures.mapping_retries += 1;
            }
        }
        self.schedule(t, Kind::Ready(lane));
    }

    fn park(&mut self, lane: usize, records: u64, t: f64) {
        self.figures.parked_records += records;
        self.figures.parked_batches += 1;
        self.lanes[lane].checkpoint += records;
        self.lanes[lane].attempts = 0;
        self.lanes[lane].retry = None;
        self.figures.drain_seconds = self.figures.drain_seconds.max(t);
    }
}
