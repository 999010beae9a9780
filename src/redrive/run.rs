//! The redrive of a list of sources: objects listed page by page and archived several at once,
//! each object's result reported whole as it finishes, the totals counted in one place.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::redrive::bucket::{FailedBatchBucket, MarkedDone};
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
                    output.lines.progress.listed(1);
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
                        output.lines.progress.listed(keys.len());
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

/// The redrive's output: a line per object, and the sources that could not be listed.
pub type Output = crate::operator::output::Output<Totals>;

impl Output {
    fn object(&mut self, report: ObjectReport) {
        self.totals.add(&report);
        self.lines.progress.finished(format!(
            "{} records archived, {} failed",
            self.totals.archived, self.totals.failed
        ));
        self.lines
            .print(|| report.line(), || JsonLine::Object(&report).to_line());
    }

    fn source_error(&mut self, source: &Source, error: &str) {
        self.totals.source_errors += 1;
        self.lines.print(
            || format!("error: listing {source}: {error}"),
            || {
                JsonLine::SourceError {
                    source: source.to_string(),
                    error,
                }
                .to_line()
            },
        );
    }
}
