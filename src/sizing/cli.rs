//! `ttl-archiver-sizing` (`bash tools/sizing`): the command line, the run with the user's
//! settings, the recommended ones, and what it prints. The output format, the progress bar and
//! the exit statuses are every operator command's (`operator`).

use std::io::IsTerminal;

use clap::Parser;
use serde::Serialize;

use crate::operator::output::Lines;
use crate::operator::progress::Progress;
use crate::operator::session::{EXIT_DONE, EXIT_LEFT};
use crate::operator::settings::OutputFormat;
use crate::sizing::archive_table::{write_units, NEW_TABLE_WRITE_UNITS, TABLE_WRITE_QUOTA};
use crate::sizing::cost::{cost, Cost, Prices};
use crate::sizing::function::FunctionModel;
use crate::sizing::pipeline::{simulate, Figures, Load, Stack, ARCHIVER_ADDS_BYTES};
use crate::sizing::recommend::{recommend, Recommended, ACCOUNT_CONCURRENCY};
use crate::sizing::workload::Deletions;

const EXAMPLES: &str = "\
Examples:
  # TTL switched on for a table with a backlog: 20,000 deletions a second for 6 hours:
  bash tools/sizing --deletions-per-second 20000 --hours 6 --item-bytes 2000 --shards 40

  # A steady load, as JSON for a script:
  bash tools/sizing --deletions-per-second 100 --hours 1 --output json | jq .parked_records

  # A global archive (a conditional put per item), replicated to two other Regions:
  bash tools/sizing --deletions-per-second 5000 --hours 2 --shards 16 --global-archive \\
      --other-regions 2

What the model knows and does not (TTL's real rate, hot keys, AWS's internal scaling): the
README, \"Sizing\". Exit status: 0 when your settings park nothing, 1 when they park records (the
recommended settings are printed either way), 2 for a bad argument.";

/// Runs the archiver's pipeline in simulated time (a model: no AWS, no network) for a TTL
/// deletion rate you give, with your stack's settings, and prints what it archives, parks and
/// costs, then the settings that park nothing.
#[derive(Debug, Parser)]
#[command(name = "ttl-archiver-sizing", version, after_help = EXAMPLES)]
pub struct Cli {
    /// TTL deletions a second (AWS does not publish TTL's rate: give what you expect, or the
    /// table's expired items divided by the hours you expect TTL to take)
    #[arg(long, value_name = "N")]
    pub deletions_per_second: f64,

    /// For how long TTL deletes at that rate
    #[arg(long, value_name = "HOURS")]
    pub hours: f64,

    /// Minutes over which the rate rises from 0 (part of --hours); 0 starts at full rate
    #[arg(long, value_name = "MINUTES", default_value_t = 0.0)]
    pub ramp_minutes: f64,

    /// An item's size as DynamoDB counts it
    #[arg(long, value_name = "BYTES", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=409_600))]
    pub item_bytes: u64,

    /// The source stream's shards (about the source table's partitions)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub shards: u64,

    /// The archive table's warm write throughput (units a second): 0 for a new on-demand table,
    /// or 4,000 and more
    #[arg(long, value_name = "UNITS", default_value_t = 0.0)]
    pub warm_write_units: f64,

    /// The archive table's write quota (DynamoDB's default for an on-demand table: 40,000 units a
    /// second, raised on request)
    #[arg(long, value_name = "UNITS", default_value_t = TABLE_WRITE_QUOTA)]
    pub table_write_quota: f64,

    /// The template's ParallelizationFactor
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=10))]
    pub parallelization_factor: u64,

    /// The template's BatchSize
    #[arg(long, value_name = "N", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch_size: u64,

    /// The template's MaximumBatchingWindowInSeconds
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub batching_window_seconds: f64,

    /// The template's MaximumRetryAttempts
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_retry_attempts: u32,

    /// The template's MaximumRecordAgeInSeconds
    #[arg(long, value_name = "SECONDS", default_value_t = 21_600.0)]
    pub max_record_age_seconds: f64,

    /// The template's IteratorAgeAlarmSeconds: the recommended settings keep the iterator age
    /// under it (and under half the record age), so that the alarm stays quiet
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub iterator_age_alarm_seconds: f64,

    /// The template's ReservedConcurrency; 0: the account's unreserved concurrency
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reserved_concurrency: u64,

    /// The account's unreserved concurrency, when no reserved concurrency is set
    #[arg(long, value_name = "N", default_value_t = ACCOUNT_CONCURRENCY)]
    pub account_concurrency: u64,

    /// The function's memory (the template's 256)
    #[arg(long, value_name = "MB", default_value_t = 256.0)]
    pub memory_mb: f64,

    /// MAX_CONCURRENCY: write requests in flight per invocation
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub max_concurrency: u64,

    /// GLOBAL_ARCHIVE: a conditional put per item
    #[arg(long)]
    pub global_archive: bool,

    /// With --global-archive: the other Regions each write is replicated to (for the cost)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub other_regions: u64,

    /// Dollars per million write request units (Standard-IA on-demand, us-east-1)
    #[arg(long, value_name = "DOLLARS", default_value_t = Prices::default().write_units_per_million)]
    pub write_price: f64,

    /// Dollars per Lambda GB-second (arm64, us-east-1)
    #[arg(long, value_name = "DOLLARS", default_value_t = Prices::default().gb_second)]
    pub gb_second_price: f64,

    /// Seeds the writer's jitter: one seed, one run
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// text: a table; json: one JSON object
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl Cli {
    pub fn load(&self) -> Load {
        Load {
            deletions: Deletions::new(
                self.deletions_per_second,
                self.hours * 3600.0,
                self.ramp_minutes * 60.0,
            ),
            item_bytes: self.item_bytes,
        }
    }

    pub fn stack(&self) -> Stack {
        Stack {
            shards: self.shards,
            parallelization_factor: self.parallelization_factor,
            batch_size: self.batch_size,
            batching_window_seconds: self.batching_window_seconds,
            maximum_retry_attempts: self.max_retry_attempts,
            maximum_record_age_seconds: self.max_record_age_seconds,
            iterator_age_alarm_seconds: self.iterator_age_alarm_seconds,
            concurrency_limit: match self.reserved_concurrency {
                0 => self.account_concurrency,
                reserved => reserved,
            },
            warm_write_units: self.warm_write_units,
            table_write_quota: self.table_write_quota,
            function: FunctionModel {
                memory_mb: self.memory_mb,
                max_concurrency: self.max_concurrency,
                global_archive: self.global_archive,
                ..FunctionModel::default()
            },
            seed: self.seed,
        }
    }

    fn prices(&self) -> Prices {
        Prices {
            write_units_per_million: self.write_price,
            gb_second: self.gb_second_price,
            ..Prices::default()
        }
    }

    /// A bad value or combination clap cannot see, in its words. Ranges are Lambda's and
    /// DynamoDB's; a run longer than a week says nothing a week does not (the stream keeps a
    /// record a day).
    pub fn check(&self) -> Result<(), String> {
        let ranges = [
            (
                "--deletions-per-second",
                self.deletions_per_second,
                1e-3,
                1e8,
            ),
            ("--hours", self.hours, 1e-3, 168.0),
            ("--ramp-minutes", self.ramp_minutes, 0.0, self.hours * 60.0),
            (
                "--batching-window-seconds",
                self.batching_window_seconds,
                0.0,
                300.0,
            ),
            (
                "--max-record-age-seconds",
                self.max_record_age_seconds,
                60.0,
                604_800.0,
            ),
            (
                "--iterator-age-alarm-seconds",
                self.iterator_age_alarm_seconds,
                60.0,
                604_800.0,
            ),
            ("--memory-mb", self.memory_mb, 128.0, 10_240.0),
            ("--warm-write-units", self.warm_write_units, 0.0, 1e9),
            (
                "--table-write-quota",
                self.table_write_quota,
                NEW_TABLE_WRITE_UNITS,
                1e9,
            ),
            ("--write-price", self.write_price, 0.0, 1e6),
            ("--gb-second-price", self.gb_second_price, 0.0, 1e6),
        ];
        for (flag, value, low, high) in ranges {
            // NaN fails every comparison: refused here too.
            if !(value >= low && value <= high) {
                return Err(format!("{flag} must be {low} to {high}"));
            }
        }
        if self.warm_write_units > 0.0 && self.warm_write_units < NEW_TABLE_WRITE_UNITS {
            return Err("--warm-write-units must be 0 (a new table's) or 4000 and more".into());
        }
        if self.account_concurrency == 0 {
            return Err("--account-concurrency must be 1 or more".into());
        }
        let deletions = self.deletions_per_second * self.hours * 3600.0;
        if deletions > 1e12 {
            return Err("more than a trillion deletions: split the run".into());
        }
        if ((self.shards * self.parallelization_factor) as f64) > deletions {
            return Err("fewer deletions than --shards times --parallelization-factor".into());
        }
        Ok(())
    }
}

/// The run with the user's settings, and the recommended one.
#[derive(Debug, Serialize)]
pub struct Report {
    pub deletions_per_second: f64,
    pub hours: f64,
    pub item_bytes: u64,
    pub write_units_per_item: u64,
    pub shards: u64,
    #[serde(flatten)]
    pub figures: Figures,
    pub cost: Cost,
    pub recommended: RecommendedReport,
}

#[derive(Debug, Serialize)]
pub struct RecommendedReport {
    #[serde(flatten)]
    pub settings: Recommended,
    pub cost: Cost,
}

/// Runs both and prints them; returns the exit status.
pub fn run(cli: &Cli) -> u8 {
    let lines = Lines::new(
        cli.output,
        Progress::new(std::io::stderr().is_terminal(), "runs"),
    );
    let progress = &lines.progress;
    let (load, stack, prices) = (cli.load(), cli.stack(), cli.prices());
    let other_regions = if cli.global_archive {
        cli.other_regions
    } else {
        0
    };
    progress.listed(1);
    let figures = simulate(&load, &stack, |at| {
        progress.say(format!("your settings, {} simulated", duration(at)))
    });
    progress.finished("your settings".into());
    let recommended = recommend(&load, &stack, |run| {
        progress.listed(1);
        if run > 1 {
            progress.finished(format!("searching for settings: run {run}"));
        }
    });
    progress.finished("done".into());
    let report = Report {
        deletions_per_second: cli.deletions_per_second,
        hours: cli.hours,
        item_bytes: cli.item_bytes,
        write_units_per_item: write_units(cli.item_bytes + ARCHIVER_ADDS_BYTES),
        shards: cli.shards,
        cost: cost(&figures, &prices, other_regions),
        recommended: RecommendedReport {
            cost: cost(&recommended.figures, &prices, other_regions),
            settings: recommended,
        },
        figures,
    };
    let status = if report.figures.parked_records + report.figures.expired_in_stream == 0 {
        EXIT_DONE
    } else {
        EXIT_LEFT
    };
    if cli.output == OutputFormat::Text {
        for line in table(cli, &report) {
            lines.print(|| line, String::new);
        }
    }
    lines.finish(&report, false, status, |seconds| {
        summary(&report, status, seconds)
    });
    status
}

fn summary(report: &Report, status: u8, seconds: f64) -> String {
    let yours = if status == EXIT_DONE {
        "your settings park nothing".to_owned()
    } else {
        format!(
            "your settings park {} records",
            thousands(report.figures.parked_records as f64)
        )
    };
    let recommended = if report.recommended.settings.keeps_up {
        "the recommended ones park none"
    } else {
        "no setting here keeps up: see the table"
    };
    format!("ttl-archiver-sizing: {yours}; {recommended} ({seconds:.1} s)")
}

fn table(cli: &Cli, report: &Report) -> Vec<String> {
    let r = &report.recommended.settings;
    let (a, b) = (&report.figures, &r.figures);
    let warm = |units: f64| match units {
        0.0 => "0 (a new table: 4,000)".to_owned(),
        units => thousands(units),
    };
    let reserved = match cli.reserved_concurrency {
        0 => format!(
            "none (account: {})",
            thousands(cli.account_concurrency as f64)
        ),
        n => thousands(n as f64),
    };
    let rows: Vec<(&str, String, String)> = vec![
        (
            "ParallelizationFactor",
            cli.parallelization_factor.to_string(),
            r.parallelization_factor.to_string(),
        ),
        (
            "archive warm write units/s",
            warm(cli.warm_write_units),
            warm(r.warm_write_units_per_second as f64),
        ),
        (
            "ReservedConcurrency",
            reserved,
            thousands(r.reserved_concurrency as f64),
        ),
        (
            "archived records",
            thousands(a.archived_records as f64),
            thousands(b.archived_records as f64),
        ),
        (
            "parked records (batches)",
            format!(
                "{} ({})",
                thousands(a.parked_records as f64),
                a.parked_batches
            ),
            format!(
                "{} ({})",
                thousands(b.parked_records as f64),
                b.parked_batches
            ),
        ),
        (
            "largest iterator age (when)",
            format!(
                "{} ({})",
                duration(a.max_iterator_age_seconds),
                duration(a.max_iterator_age_at_seconds)
            ),
            format!(
                "{} ({})",
                duration(b.max_iterator_age_seconds),
                duration(b.max_iterator_age_at_seconds)
            ),
        ),
        (
            "time to drain",
            duration(a.drain_seconds),
            duration(b.drain_seconds),
        ),
        (
            "throttled writes",
            thousands(a.throttled_writes as f64),
            thousands(b.throttled_writes as f64),
        ),
        (
            "batches retried",
            thousands(a.mapping_retries as f64),
            thousands(b.mapping_retries as f64),
        ),
        (
            "write units",
            thousands(a.write_units as f64),
            thousands(b.write_units as f64),
        ),
        (
            "Lambda GB-seconds",
            thousands(a.lambda_gb_seconds),
            thousands(b.lambda_gb_seconds),
        ),
        (
            "cost (writes + Lambda)",
            format!("${:.2}", report.cost.total),
            format!("${:.2}", report.recommended.cost.total),
        ),
    ];
    let mut lines = vec![
        format!(
            "{} TTL deletions: {} a second for {} h, items of {} bytes ({} write units each \
             archived), {} shards",
            thousands(a.deletions as f64),
            thousands(cli.deletions_per_second),
            cli.hours,
            cli.item_bytes,
            report.write_units_per_item,
            cli.shards,
        ),
        format!("{:<30} {:>26} {:>26}", "", "your settings", "recommended"),
    ];
    lines.extend(
        rows.into_iter()
            .map(|(name, yours, best)| format!("{name:<30} {yours:>26} {best:>26}")),
    );
    if !r.keeps_up {
        lines.push(
            "Even ParallelizationFactor 10 and an unthrottled archive fall behind: give the \
             function more memory (a larger share of a vCPU), or check --shards."
                .into(),
        );
    }
    if r.warm_write_units_per_second as f64 > cli.table_write_quota {
        lines.push(format!(
            "{} write units a second is above the table's write quota of {}: ask for an \
             increase first (DynamoDB's service quotas).",
            thousands(r.warm_write_units_per_second as f64),
            thousands(cli.table_write_quota)
        ));
    }
    if r.reserved_concurrency > ACCOUNT_CONCURRENCY {
        lines.push(format!(
            "{} concurrent invocations is above Lambda's default account quota of 1,000: ask \
             for an increase first.",
            thousands(r.reserved_concurrency as f64)
        ));
    }
    lines
}

/// 1234567 as 1,234,567.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds to the second, as humantime writes a duration (`3m 20s`, `5h 59m 12s`), the form the
/// operator commands' `--expires-in` reads.
pub fn duration(seconds: f64) -> String {
    let whole = std::time::Duration::from_secs(seconds.max(0.0).round() as u64);
    humantime::format_duration(whole).to_string()
}
