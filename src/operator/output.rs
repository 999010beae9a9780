//! How an operator command prints: each result as one whole line, readable or JSON, around the
//! progress bar; then a summary line, whose JSON form is the totals with `dry_run`, `seconds` and
//! `exit_status`.

use std::time::Instant;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{json, Value};

use crate::operator::progress::Progress;
use crate::operator::settings::OutputFormat;

#[derive(Debug)]
pub struct Lines {
    format: OutputFormat,
    pub progress: Progress,
    started: Instant,
}

/// The JSON summary line.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SummaryLine<'a, T: Serialize> {
    Summary {
        #[serde(flatten)]
        totals: &'a T,
        dry_run: bool,
        seconds: f64,
        exit_status: u8,
    },
}

impl<T: Serialize> SummaryLine<'_, T> {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a summary serialises")
    }
}

impl Lines {
    pub fn new(format: OutputFormat, progress: Progress) -> Self {
        Lines {
            format,
            progress,
            started: Instant::now(),
        }
    }

    /// Prints `text()` or `json()`, as the format says.
    pub fn print(&self, text: impl FnOnce() -> String, json: impl FnOnce() -> String) {
        self.progress.println(&match self.format {
            OutputFormat::Text => text(),
            OutputFormat::Json => json(),
        });
    }

    /// Clears the bar, then prints the summary: `text(seconds)`, or `totals` as JSON.
    pub fn finish<T: Serialize>(
        self,
        totals: &T,
        dry_run: bool,
        exit_status: u8,
        text: impl FnOnce(f64) -> String,
    ) {
        self.progress.finish();
        // Milliseconds are all a person or a script needs.
        let seconds = (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        self.print(
            || text(seconds),
            || {
                SummaryLine::Summary {
                    totals,
                    dry_run,
                    seconds,
                    exit_status,
                }
                .to_line()
            },
        );
    }
}

/// A key's attributes in DynamoDB JSON, sorted by name.
pub fn key_json(key: &HashMap<String, AttributeValue>) -> Value {
    let mut names: Vec<&String> = key.keys().collect();
    names.sort();
    let map = names
        .into_iter()
        .map(|name| {
            let value = match &key[name] {
                AttributeValue::S(s) => json!({ "S": s }),
                AttributeValue::N(n) => json!({ "N": n }),
                AttributeValue::B(b) => {
                    json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) })
                }
                _ => json!(null),
            };
            (name.clone(), value)
        })
        .collect();
    Value::Object(map)
}

/// `n` and the noun in its number: `1 item`, `2 items`.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// What a command's totals give its summary.
pub trait Summary: Serialize + Default {
    /// The readable summary line, after `seconds`.
    fn line(&self, dry_run: bool, seconds: f64) -> String;
    /// The command's exit status for these totals.
    fn exit_status(&self, dry_run: bool) -> u8;
}

/// A run's output: its lines and its totals. Each command adds the lines of its own results
/// (`impl Output<its Totals>`); the summary is the same for all.
#[derive(Debug)]
pub struct Output<T> {
    pub lines: Lines,
    pub dry_run: bool,
    pub totals: T,
}

impl<T: Summary> Output<T> {
    pub fn new(format: OutputFormat, progress: Progress, dry_run: bool) -> Self {
        Output {
            lines: Lines::new(format, progress),
            dry_run,
            totals: T::default(),
        }
    }

    /// Prints the summary and returns the totals.
    pub fn finish(self) -> T {
        let (totals, dry_run) = (self.totals, self.dry_run);
        self.lines
            .finish(&totals, dry_run, totals.exit_status(dry_run), |seconds| {
                totals.line(dry_run, seconds)
            });
        totals
    }
}
