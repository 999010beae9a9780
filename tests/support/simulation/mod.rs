//! The whole pipeline, simulated (docs/testing.md, "The pipeline simulation"): a seeded workload
//! through the event source mapping's rules into the real function, the archive behind faults,
//! the on-failure bucket and the redrive; the invariant (invariant.rs) checked at the end of
//! each seed. One seed reproduces a run; a failure prints its seed.

mod chance;
mod destination;
mod faults;
mod invariant;
mod pipeline;
mod rules;
mod workload;

pub use pipeline::{Figures, FunctionUnderTest, SeedRun};

/// The totals over the seeds run, and whether every seed kept the invariant.
#[derive(Debug, Default)]
pub struct Summary {
    pub seeds: usize,
    pub failed_seeds: Vec<u64>,
    pub totals: Figures,
    pub per_seed: Vec<(u64, Figures)>,
    pub lost: usize,
    /// Newest deletions kept in the bucket for an operator, unorderable near 400 KB.
    pub unorderable: usize,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.failed_seeds.is_empty()
    }

    /// The last line: `pipeline: N seeds, D deletions, ... lost L`.
    pub fn line(&self) -> String {
        let t = &self.totals;
        format!(
            "pipeline: {} seeds, {} deletions ({} later at a lower sequence number), {} invocations ({} cut at 6 MB), {} retries, \
             {} bisects, {} crashes, {} timeouts, {} write faults, {} batches parked, \
             {} redriven, {} kept ({} unorderable near 400 KB), lost {}",
            self.seeds,
            t.deletions,
            t.lower_sequence_later,
            t.invocations,
            t.cut_at_6_mb,
            t.retries,
            t.bisects,
            t.crashes,
            t.timeouts,
            t.write_faults,
            t.parked,
            t.redriven,
            t.kept,
            self.unorderable,
            self.lost
        )
    }
}

/// How the function archives: as in one Region, or as a global table's Region does
/// (`GLOBAL_ARCHIVE=true`: a conditional put per item, which the faults then hit too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    OneRegion,
    Global,
}

/// Runs `seeds` one after the other, printing a line per seed (and what broke), then the
/// summary line. `None` when a tool is missing (outside CI).
pub fn run(
    seeds: impl IntoIterator<Item = u64>,
    function: &FunctionUnderTest,
    archive: Archive,
) -> Option<Summary> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut servers = pipeline::Servers::start(&rt)?;
    let mut summary = Summary::default();
    for seed in seeds {
        let run = pipeline::run_seed(&rt, &mut servers, function, archive, seed);
        println!("{}", seed_line(&run, function, archive));
        if std::env::var_os("SIMULATE_VERBOSE").is_some() {
            for report in &run.kept_reports {
                println!("  kept: {report}");
            }
        }
        let f = &run.figures;
        let t = &mut summary.totals;
        t.records += f.records;
        t.deletions += f.deletions;
        t.lower_sequence_later += f.lower_sequence_later;
        t.invocations += f.invocations;
        t.cut_at_6_mb += f.cut_at_6_mb;
        t.retries += f.retries;
        t.bisects += f.bisects;
        t.crashes += f.crashes;
        t.timeouts += f.timeouts;
        t.outage_invocations += f.outage_invocations;
        t.write_faults += f.write_faults;
        t.parked += f.parked;
        t.redriven += f.redriven;
        t.kept += f.kept;
        summary.seeds += 1;
        summary.per_seed.push((seed, run.figures.clone()));
        summary.lost += run.verdict.lost.len();
        summary.unorderable += run.verdict.unorderable.len();
        if !run.verdict.holds() {
            summary.failed_seeds.push(seed);
        }
    }
    println!("{}", summary.line());
    Some(summary)
}

fn seed_line(run: &SeedRun, function: &FunctionUnderTest, archive: Archive) -> String {
    let f = &run.figures;
    let mut line = format!(
        "seed {}: {} records, {} TTL deletions ({} later than the key's last at a lower \
         sequence number); {} shards x {} batchers, BatchSize {}; \
         {} invocations ({} cut at 6 MB), {} retries, {} bisects, {} crashes, {} timeouts, \
         {} in an outage, {} write faults; \
         {} parked, {} redriven, {} kept ({} unorderable near 400 KB); lost {}",
        run.seed,
        f.records,
        f.deletions,
        f.lower_sequence_later,
        f.shards,
        f.batchers,
        f.batch_size,
        f.invocations,
        f.cut_at_6_mb,
        f.retries,
        f.bisects,
        f.crashes,
        f.timeouts,
        f.outage_invocations,
        f.write_faults,
        f.parked,
        f.redriven,
        f.kept,
        run.verdict.unorderable.len(),
        run.verdict.lost.len()
    );
    if !run.verdict.holds() {
        line.push_str(&format!("\nseed {} FAILED:", run.seed));
        for (key, what) in &run.verdict.lost {
            line.push_str(&format!("\n  lost {key}: {what}"));
        }
        for what in &run.verdict.broken {
            line.push_str(&format!("\n  broken: {what}"));
        }
        let mut with = match function {
            FunctionUnderTest::Binary(_) => String::new(),
            FunctionUnderTest::Command(command) => format!(" --function '{command}'"),
        };
        if archive == Archive::Global {
            with.push_str(" --global-archive");
        }
        line.push_str(&format!(
            "\n  reproduce: bash tools/simulate --seed {}{with}",
            run.seed
        ));
    }
    line
}
