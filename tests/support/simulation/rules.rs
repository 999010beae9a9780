//! The event source mapping's settings and filter as template.yaml deploys them, from
//! tools/mapping_rules.py: the settings with each parameter at its default, and the filter
//! evaluated by moto's implementation of AWS's event pattern rules, not a matcher of ours.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::support::esm::Settings;
use crate::support::{missing_tool, repo_path};

pub struct MappingRules {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    pub settings: Settings,
    pub parallelization_factor: usize,
    /// The function's Timeout in seconds.
    pub timeout_secs: u64,
}

impl MappingRules {
    /// `None` (skip) when the Python tools are not installed, outside CI.
    pub fn start() -> Option<Self> {
        let python = repo_path("tools/.venv/bin/python");
        if !python.exists() {
            missing_tool("moto (tools/.venv)");
            return None;
        }
        let mut child = Command::new(python)
            .arg(repo_path("tools/mapping_rules.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tools/mapping_rules.py");
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).expect("the mapping's settings");
        let first: Value = serde_json::from_str(&line).expect("the mapping's settings as JSON");
        let mapping = &first["settings"];
        let number = |name: &str| -> u64 {
            mapping[name]
                .as_u64()
                .or_else(|| mapping[name].as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_else(|| panic!("the template's {name}: {}", mapping[name]))
        };
        assert_eq!(
            mapping["FunctionResponseTypes"],
            serde_json::json!(["ReportBatchItemFailures"]),
            "the simulation models partial batch responses"
        );
        let settings = Settings {
            batch_size: number("BatchSize") as usize,
            maximum_retry_attempts: number("MaximumRetryAttempts") as u32,
            maximum_record_age_secs: number("MaximumRecordAgeInSeconds"),
            bisect_on_function_error: mapping["BisectBatchOnFunctionError"] == true,
        };
        Some(MappingRules {
            settings,
            parallelization_factor: number("ParallelizationFactor") as usize,
            timeout_secs: first["timeout"].as_u64().expect("the function's Timeout"),
            child,
            input,
            output,
        })
    }

    /// Which of `records` (stream records' JSON) the template's filter keeps.
    pub fn filter(&mut self, records: &[&str]) -> Vec<bool> {
        writeln!(self.input, "[{}]", records.join(",")).unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let kept: Vec<bool> = serde_json::from_str(&line).expect("the filter's answer");
        assert_eq!(kept.len(), records.len());
        kept
    }
}

impl Drop for MappingRules {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
