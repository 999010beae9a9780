//! The progress bar on a terminal (objects done of listed, records archived, failures so far),
//! and the output lines and log lines that must not tear it.

use std::io::{self, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;

use crate::redrive::report::Totals;

const TEMPLATE: &str = "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} objects, {msg}";

/// A bar on stderr when `show`, else nothing at all; the output and the logs go around it.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `show`: stderr is a terminal (a person is watching); scripts and logs get no bar.
    pub fn new(show: bool) -> Self {
        if !show {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(TEMPLATE)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message("listing");
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// More objects were listed.
    pub fn listed(&self, objects: usize) {
        self.bar.inc_length(objects as u64);
    }

    /// One more object is finished; `totals` already counts it.
    pub fn finished(&self, totals: &Totals) {
        self.bar.set_message(format!(
            "{} records archived, {} failed",
            totals.archived, totals.failed
        ));
        self.bar.inc(1);
    }

    /// Writes one whole line to stdout, the bar cleared meanwhile. A closed stdout (`| head`)
    /// does not stop the redrive: the objects still need archiving.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| {
            let mut stdout = io::stdout().lock();
            let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        });
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Where the logs go: stderr, with the bar cleared for each line.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter(self.bar.clone())
    }
}

#[derive(Debug, Clone)]
pub struct LogWriter(ProgressBar);

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.suspend(|| io::stderr().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.suspend(|| io::stderr().write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
