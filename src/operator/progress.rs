//! The progress bar an operator command draws on a terminal (units done of listed, and a
//! message of the command's), and the output lines and log lines that must not tear it.

use std::io::{self, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;

/// A bar on stderr when `show`, else nothing at all; the output and the logs go around it.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `show`: stderr is a terminal (a person is watching); scripts and logs get no bar.
    /// `unit` names what is counted ("objects", "items").
    pub fn new(show: bool, unit: &str) -> Self {
        if !show {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{msg}}"
            ))
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message("listing");
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// More units were listed.
    pub fn listed(&self, units: usize) {
        self.bar.inc_length(units as u64);
    }

    /// One more unit is finished; `message` says where the run stands.
    pub fn finished(&self, message: String) {
        self.bar.set_message(message);
        self.bar.inc(1);
    }

    /// Says where the run stands, without finishing a unit.
    pub fn say(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Writes one whole line to stdout, the bar cleared meanwhile. A closed stdout (`| head`)
    /// does not stop the command: the work still needs doing.
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
