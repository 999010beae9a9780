//! A model of Lambda's event source mapping for a DynamoDB stream, as AWS's documents describe
//! it: what it invokes the function with, and what it does with each answer. Pure and
//! deterministic: the function is a closure, the clock is simulated. Each rule names its source:
//! - [PBR] "Configuring partial batch response with DynamoDB and Lambda"
//!   (docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html)
//! - [ERR] Lambda's error handling for DynamoDB event source mappings (retries, record age,
//!   bisecting, the on-failure destination), as checked in shared/FACTS.md ("third round")
//! - [PAR] "Lambda parameters for Amazon DynamoDB event source mappings"
//!   (docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html)
//! - [FLT] "Lambda event filtering" (docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)
//! - [ESM] "Processing DynamoDB stream records with Lambda", batching and shards
//!   (docs.aws.amazon.com/lambda/latest/dg/with-ddb.html)
//!
//! Not modelled (the documents leave them open): how long Lambda waits between retries, the exact
//! instant a record's age is compared, and whether a retried batch takes in records that arrived
//! meanwhile (this model re-forms the batch from the checkpoint, as the checkpoint rule implies).

use std::collections::VecDeque;

/// One stream record as the mapping sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    /// Decimal digits, increasing within a shard.
    pub sequence_number: String,
    /// `ApproximateCreationDateTime`, simulated epoch seconds.
    pub created: u64,
    /// Its JSON size, for the 6 MB payload limit.
    pub bytes: usize,
    /// Whether the mapping's filter keeps it (decided outside: an implementation of AWS's
    /// pattern rules evaluates the template's filter).
    pub matches_filter: bool,
    /// A hash of the record's partition key: [PAR] with a ParallelizationFactor above 1, records
    /// of one partition key stay in order on one of the shard's concurrent batchers.
    pub partition: u64,
}

/// [PAR] "ParallelizationFactor: the number of batches to process concurrently from each shard",
/// keeping "in-order processing at the partition-key level": the shard's records, split by
/// partition key into `factor` sequences, each in the shard's order. How Lambda assigns keys to
/// batchers is not documented; any assignment by key keeps the documented guarantee.
pub fn by_partition_key(records: &[StreamRecord], factor: usize) -> Vec<Vec<StreamRecord>> {
    let mut lanes = vec![Vec::new(); factor.max(1)];
    for record in records {
        lanes[(record.partition % factor.max(1) as u64) as usize].push(record.clone());
    }
    lanes
}

/// The function under the mapping: what it answers, and (optionally) what it is told when a
/// batch goes to the on-failure destination, at simulated time `at`.
pub trait Function {
    fn invoke(&mut self, shard: usize, batch: &[StreamRecord]) -> Answer;
    fn parked(&mut self, _shard: usize, _batch: &[StreamRecord], _reason: &'static str, _at: u64) {}
}

/// A function that only answers.
struct Answering<F>(F);

impl<F: FnMut(usize, &[StreamRecord]) -> Answer> Function for Answering<F> {
    fn invoke(&mut self, shard: usize, batch: &[StreamRecord]) -> Answer {
        (self.0)(shard, batch)
    }
}

/// The settings of the mapping that decide its behaviour (the template's).
#[derive(Debug, Clone)]
pub struct Settings {
    pub batch_size: usize,
    /// -1 (infinite) is refused by the template; here a number.
    pub maximum_retry_attempts: u32,
    pub maximum_record_age_secs: u64,
    pub bisect_on_function_error: bool,
}

/// [ESM] An invocation payload is at most 6 MB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// What the function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A readable partial batch response: the sequence numbers reported failed (empty: all done).
    Failures(Vec<String>),
    /// [PBR] A response with an empty or null `itemIdentifier`, or a misspelled key: the whole
    /// batch failed.
    Unreadable,
    /// The invocation failed (an error, a crash, a timeout).
    FunctionError,
}

/// What the mapping did, in order, for the figures and the invariant.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Invoked {
        shard: usize,
        sequence_numbers: Vec<String>,
    },
    /// [FLT] Records that match no filter are dropped: never invoked, retried or sent to the
    /// on-failure destination.
    FilteredOut {
        shard: usize,
        sequence_number: String,
    },
    /// [ERR] After the retries or the record age ran out, the batch goes to the on-failure
    /// destination and the mapping moves on.
    Parked {
        shard: usize,
        sequence_numbers: Vec<String>,
        reason: &'static str,
        /// Simulated epoch seconds.
        at: u64,
    },
    Bisected {
        shard: usize,
    },
}

/// Counts of what the mapping did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub invocations: usize,
    pub retries: usize,
    pub bisects: usize,
    pub parked_batches: usize,
    pub filtered_out: usize,
    /// Batches closed by the 6 MB payload limit before reaching BatchSize.
    pub cut_at_6_mb: usize,
}

/// Runs the mapping over `shards`, in the order given: [ESM] a parent shard is read to its end
/// before its children, so a caller lists parents first. `now` starts at `start` and advances by
/// `step_secs` per invocation (the simulated clock). Returns every event, in order.
pub fn run(
    shards: &[Vec<StreamRecord>],
    settings: &Settings,
    start: u64,
    step_secs: u64,
    invoke: impl FnMut(usize, &[StreamRecord]) -> Answer,
) -> (Vec<Event>, Figures) {
    run_function(shards, settings, start, step_secs, &mut Answering(invoke))
}

/// [`run`], with a [`Function`] that also hears of each batch parked.
pub fn run_function(
    shards: &[Vec<StreamRecord>],
    settings: &Settings,
    start: u64,
    step_secs: u64,
    function: &mut impl Function,
) -> (Vec<Event>, Figures) {
    let mut events = Vec::new();
    let mut figures = Figures::default();
    let mut now = start;
    for (shard, records) in shards.iter().enumerate() {
        let mut pending: VecDeque<&StreamRecord> = VecDeque::new();
        for record in records {
            if record.matches_filter {
                pending.push_back(record);
            } else {
                figures.filtered_out += 1;
                events.push(Event::FilteredOut {
                    shard,
                    sequence_number: record.sequence_number.clone(),
                });
            }
        }
        // Batches waiting their turn after a bisect: [ERR] the first half is retried before
        // the second.
        let mut split: Vec<Vec<StreamRecord>> = Vec::new();
        let mut attempts = 0u32;
        while !pending.is_empty() || !split.is_empty() {
            let batch: Vec<StreamRecord> = match split.pop() {
                Some(half) => half,
                None => {
                    let batch = take_batch(&mut pending, settings.batch_size);
                    if batch.len() < settings.batch_size && !pending.is_empty() {
                        figures.cut_at_6_mb += 1;
                    }
                    batch
                }
            };
            // [ERR] Records older than MaximumRecordAgeInSeconds are not sent again.
            if batch
                .iter()
                .any(|r| now.saturating_sub(r.created) > settings.maximum_record_age_secs)
            {
                let reason = "record age exceeded";
                park(&mut events, &mut figures, shard, &batch, reason, now);
                function.parked(shard, &batch, reason, now);
                attempts = 0;
                continue;
            }
            figures.invocations += 1;
            events.push(Event::Invoked {
                shard,
                sequence_numbers: batch.iter().map(|r| r.sequence_number.clone()).collect(),
            });
            let answer = function.invoke(shard, &batch);
            now += step_secs;
            let retry_from = match answer {
                Answer::Failures(failed) if failed.is_empty() => {
                    attempts = 0;
                    continue;
                }
                // [PBR] The lowest reported sequence number is the checkpoint; every record from
                // it is sent again. One that is not in the batch cannot be a checkpoint: the whole
                // batch failed.
                Answer::Failures(failed) => lowest_in_batch(&batch, &failed).unwrap_or(0),
                Answer::Unreadable => 0,
                // [ERR] With BisectBatchOnFunctionError, a failed invocation splits the batch in
                // two, and splitting does not use up a retry.
                Answer::FunctionError if settings.bisect_on_function_error && batch.len() > 1 => {
                    let (first, second) = batch.split_at(batch.len() / 2);
                    split.push(second.to_vec());
                    split.push(first.to_vec());
                    figures.bisects += 1;
                    events.push(Event::Bisected { shard });
                    continue;
                }
                Answer::FunctionError => 0,
            };
            let remaining = batch[retry_from..].to_vec();
            attempts += 1;
            // [ERR] A record that keeps failing reaches the destination after
            // MaximumRetryAttempts + 1 invocations.
            if attempts > settings.maximum_retry_attempts {
                let reason = "retries exhausted";
                park(&mut events, &mut figures, shard, &remaining, reason, now);
                function.parked(shard, &remaining, reason, now);
                attempts = 0;
            } else {
                figures.retries += 1;
                split.push(remaining);
            }
        }
    }
    (events, figures)
}

/// [PAR] Up to BatchSize records, and [ESM] at most 6 MB of payload (a single record always fits).
fn take_batch(pending: &mut VecDeque<&StreamRecord>, batch_size: usize) -> Vec<StreamRecord> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(next) = pending.front() {
        if batch.len() == batch_size
            || (!batch.is_empty() && bytes + next.bytes > MAX_PAYLOAD_BYTES)
        {
            break;
        }
        bytes += next.bytes;
        batch.push((*pending.pop_front().unwrap()).clone());
    }
    batch
}

fn lowest_in_batch(batch: &[StreamRecord], failed: &[String]) -> Option<usize> {
    let known: Option<Vec<usize>> = failed
        .iter()
        .map(|seq| batch.iter().position(|r| &r.sequence_number == seq))
        .collect();
    known?.into_iter().min()
}

fn park(
    events: &mut Vec<Event>,
    figures: &mut Figures,
    shard: usize,
    batch: &[StreamRecord],
    reason: &'static str,
    at: u64,
) {
    figures.parked_batches += 1;
    events.push(Event::Parked {
        shard,
        sequence_numbers: batch.iter().map(|r| r.sequence_number.clone()).collect(),
        reason,
        at,
    });
}
