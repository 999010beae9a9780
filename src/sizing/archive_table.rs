//! The archive table's write capacity, as AWS documents it for on-demand tables:
//! - [OD] "DynamoDB on-demand capacity mode", "Initial throughput for on-demand capacity mode"
//!   (docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html): a new
//!   on-demand table sustains up to 4,000 write request units per second; a table serves up to
//!   double its previous peak at once, and may throttle above double the previous peak within
//!   30 minutes.
//! - [WARM] "Understanding DynamoDB warm throughput" (…/developerguide/warm-throughput.html):
//!   `WarmThroughput` on create or update sets what a table serves at once.
//! - [PART] "Partitions and data distribution": a partition serves at most 1,000 write units per
//!   second. With keys spread evenly the table's capacity is its partitions' sum, so this model
//!   adds nothing for it; a hot key would throttle sooner (see the README, "Sizing").
//! - [WRU] "Read/write capacity mode": a write request unit writes an item of up to 1 KB; a
//!   larger item takes one more per KB, rounded up.
//! - [QUOTA] "Quotas in Amazon DynamoDB" (…/developerguide/ServiceQuotas.html): an on-demand
//!   table's default per-table quota, 40,000 write units a second: the doubling stops there (a
//!   warm throughput above it implies the quota was raised).
//!
//! Throttling is answered as DynamoDB answers BatchWriteItem: the items over capacity come back
//! unprocessed (all of them: ProvisionedThroughputExceededException), nothing else changes.
//! What AWS does not publish, and this model therefore assumes: capacity is metered per second
//! with at most one second of it saved up, and the previous peak is the highest second's
//! consumption (at most the capacity of that second).

/// [OD] What a new on-demand table serves at once.
pub const NEW_TABLE_WRITE_UNITS: f64 = 4_000.0;
/// [QUOTA] "Quotas in Amazon DynamoDB": an on-demand table serves at most 40,000 write request
/// units a second unless the quota is raised.
pub const TABLE_WRITE_QUOTA: f64 = 40_000.0;
/// [OD] How far back the previous peak must lie to double what the table serves.
pub const PEAK_WINDOW_SECONDS: usize = 30 * 60;

/// [WRU] The write units an item of `bytes` takes.
pub fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(1024).max(1)
}

#[derive(Debug, Clone)]
pub struct ArchiveTable {
    /// What it serves at once whatever its history: a new table's, or its warm throughput.
    floor: f64,
    /// The most it serves: the table's write quota.
    ceiling: f64,
    /// Write units consumed in each whole second, at most that second's capacity.
    consumed: Vec<f64>,
    /// The highest second among those older than the peak window.
    old_peak: f64,
    folded: usize,
    tokens: f64,
    refilled_at: f64,
}

impl ArchiveTable {
    /// `warm_write_units`: 0 for a new table (4,000), else its warm throughput (never less than
    /// a new table's); `quota`: the table's write quota, the most it serves (a warm throughput
    /// above it means it was raised).
    pub fn new(warm_write_units: f64, quota: f64) -> Self {
        ArchiveTable {
            floor: warm_write_units.max(NEW_TABLE_WRITE_UNITS),
            ceiling: quota.max(warm_write_units),
            consumed: Vec::new(),
            old_peak: 0.0,
            folded: 0,
            tokens: warm_write_units
                .max(NEW_TABLE_WRITE_UNITS)
                .min(quota.max(warm_write_units)),
            refilled_at: 0.0,
        }
    }

    /// [OD] [WARM] What the table serves per second at `t`: its floor, or double the peak that
    /// lies more than 30 minutes back.
    pub fn capacity(&mut self, t: f64) -> f64 {
        let settled = (t as usize).saturating_sub(PEAK_WINDOW_SECONDS);
        while self.folded < settled.min(self.consumed.len()) {
            self.old_peak = self.old_peak.max(self.consumed[self.folded]);
            self.folded += 1;
        }
        self.floor.max(2.0 * self.old_peak).min(self.ceiling)
    }

    /// Asks at `t` to write `items` items of `units_each`; returns how many it takes (in the
    /// order asked), the rest being throttled.
    pub fn write(&mut self, t: f64, items: u64, units_each: u64) -> u64 {
        let capacity = self.capacity(t);
        self.tokens = (self.tokens + capacity * (t - self.refilled_at).max(0.0)).min(capacity);
        self.refilled_at = self.refilled_at.max(t);
        let taken = items.min((self.tokens / units_each as f64).floor() as u64);
        let units = (taken * units_each) as f64;
        self.tokens -= units;
        let second = t as usize;
        if self.consumed.len() <= second {
            self.consumed.resize(second + 1, 0.0);
        }
        // A second saved up lets one second take up to twice the rate; the peak that scales
        // the table is the rate it served, not that burst.
        self.consumed[second] = (self.consumed[second] + units).min(capacity);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_unit_is_a_kilobyte_rounded_up() {
        assert_eq!(write_units(1), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(2035), 2);
    }

    #[test]
    fn a_new_table_takes_4000_units_a_second_and_throttles_the_rest() {
        let mut table = ArchiveTable::new(0.0, TABLE_WRITE_QUOTA);
        assert_eq!(table.write(0.0, 5_000, 1), 4_000);
        assert_eq!(table.write(0.5, 5_000, 1), 2_000);
        assert_eq!(table.write(1.5, 5_000, 1), 4_000);
    }

    #[test]
    fn the_capacity_doubles_the_peak_once_it_is_30_minutes_old() {
        let mut table = ArchiveTable::new(0.0, TABLE_WRITE_QUOTA);
        let mut served = Vec::new();
        for second in 0..2_400 {
            served.push(table.write(second as f64, 10_000, 1));
        }
        // The first 30 minutes at 4,000 a second (the first second too: a full bucket is one
        // second's worth); then double that peak.
        assert!(
            served[..1_801].iter().all(|&s| s == 4_000),
            "{:?}",
            &served[..3]
        );
        assert!(served[1_801..].iter().all(|&s| s == 8_000));
    }

    #[test]
    fn the_doubling_stops_at_the_tables_quota() {
        let mut table = ArchiveTable::new(30_000.0, TABLE_WRITE_QUOTA);
        for second in 0..1_802 {
            table.write(second as f64, 100_000, 1);
        }
        assert_eq!(table.capacity(1_802.0), 40_000.0);
    }

    #[test]
    fn warm_throughput_is_served_at_once() {
        let mut table = ArchiveTable::new(40_000.0, TABLE_WRITE_QUOTA);
        assert_eq!(table.write(0.0, 30_000, 1), 30_000);
        assert_eq!(table.write(0.0, 30_000, 2), 5_000);
    }
}
