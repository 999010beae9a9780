//! The redrive of a list of sources: objects listed page by page and archived several at once,
//! each object's result reported whole as it finishes, the totals counted in one place.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use crate::redrive::bucket::{FailedBatchBucket, MarkedDone};
use crate::redrive::cli::OutputFormat;
use crate::redrive::progress::Progress;
use crate::redrive::replay::Replay;
use crate::redrive::report::{JsonLine, ObjectReport, Status, Totals};
use crate::redrive::source::Source;

#[derive(Debug, Clone)]
pub struct Redrive {
    replay: Arc<Replay>,
    bucket: FailedBatchBucket,
    /// Delete finished objects instead of moving them under `redriven/`.
    delete: bool,
    /// Objects archived at once.
    parallel: usize,
}

impl Redrive {
    pub fn new(replay: Replay, bucket: FailedBatchBucket, delete: bool, parallel: usize) -> Self {
        Redrive {
            replay: Arc::new(replay),
            bucket,
            delete,
            parallel: parallel.max(1),
        }
    }

    /// Redrives every source and returns the totals; each object's line is printed as it ends.
    pub async fn run(&self, sources: &[Source], mut output: Output) -> Totals {
        let mut running = JoinSet::new();
        for source in sources {
            match source {
                Source::File(path) => {
                    self.wait_for_a_slot(&mut running, &mut output).await;
                    output.progress.listed(1);
                    running.spawn(self.clone().file(path.clone()));
                }
                Source::S3 { bucket, prefix } => {
                    let mut listing = self.bucket.list(bucket, prefix);
                    while let Some(page) = listing.next_page().await {
                        let keys = match page {
                            Ok(keys) => keys,
                            Err(err) => {
                                output.source_error(source, &err);
                                break;
                            }
                        };
                        output.progress.listed(keys.len());
                        for key in keys {
                            self.wait_for_a_slot(&mut running, &mut output).await;
                            running.spawn(self.clone().s3_object(bucket.clone(), key));
                        }
                    }
                }
            }
        }
        while let Some(report) = running.join_next().await {
            output.object(report.expect("an object's task never panics"));
        }
        output.finish()
    }

    async fn wait_for_a_slot(&self, running: &mut JoinSet<ObjectReport>, output: &mut Output) {
        while running.len() >= self.parallel {
            if let Some(report) = running.join_next().await {
                output.object(report.expect("an object's task never panics"));
            }
        }
    }

    async fn file(self, path: String) -> ObjectReport {
        match tokio::fs::read(&path).await {
            Ok(bytes) => self.replay.object(&path, &bytes).await,
            Err(err) => ObjectReport::absent(path, err.to_string()),
        }
    }

    async fn s3_object(self, bucket: String, key: String) -> ObjectReport {
        let name = format!("s3://{bucket}/{key}");
        let bytes = match self.bucket.read(&bucket, &key).await {
            Ok(bytes) => bytes,
            Err(err) => return ObjectReport::unreadable(name, err),
        };
        let mut report = self.replay.object(&name, &bytes).await;
        if report.status == Status::Done {
            match self.bucket.mark_done(&bucket, &key, self.delete).await {
                Ok(MarkedDone::MovedTo(target)) => report.moved_to = Some(target),
                Ok(MarkedDone::Deleted) => report.deleted = true,
                Err(err) => {
                    report.status = Status::Kept;
                    report.error = Some(err);
                }
            }
        }
        report
    }
}

/// Prints each result as one whole line (readable or JSON) and keeps the totals.
#[derive(Debug)]
pub struct Output {
    format: OutputFormat,
    progress: Progress,
    dry_run: bool,
    totals: Totals,
    started: Instant,
}

impl Output {
    pub fn new(format: OutputFormat, progress: Progress, dry_run: bool) -> Self {
        Output {
            format,
            progress,
            dry_run,
            totals: Totals::default(),
            started: Instant::now(),
        }
    }

    fn object(&mut self, report: ObjectReport) {
        self.totals.add(&report);
        self.progress.finished(&self.totals);
        self.progress.println(&match self.format {
            OutputFormat::Text => report.line(),
            OutputFormat::Json => JsonLine::Object(&report).to_line(),
        });
    }

    fn source_error(&mut self, source: &Source, error: &str) {
        self.totals.source_errors += 1;
        self.progress.println(&match self.format {
            OutputFormat::Text => format!("error: listing {source}: {error}"),
            OutputFormat::Json => JsonLine::SourceError {
                source: source.to_string(),
                error,
            }
            .to_line(),
        });
    }

    /// Prints the summary and returns the totals.
    fn finish(self) -> Totals {
        self.progress.finish();
        // Milliseconds are all a person or a script needs.
        let seconds = (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        let line = match self.format {
            OutputFormat::Text => self.totals.line(self.dry_run, seconds),
            OutputFormat::Json => JsonLine::Summary {
                totals: &self.totals,
                dry_run: self.dry_run,
                seconds,
                exit_status: self.totals.exit_status(self.dry_run),
            }
            .to_line(),
        };
        self.progress.println(&line);
        self.totals
    }
}
