//! The `sam local invoke` block of docs/local.md ("Run it locally"), pasted as the page has it:
//! extracted from the page, run in one shell from the repository's root, and expected to archive
//! `events/ttl-remove.json`. The test command runs it before it starts any Docker engine (its
//! first step with `--ignored`), so the block's own `tools/docker-lambda start` is what makes
//! Docker answer, as on a newcomer's machine.

mod support;

use std::process::{Command, Stdio};

use support::repo_path;

/// The first `sh` block under docs/local.md's heading for the SAM path.
fn sam_block() -> String {
    let page = std::fs::read_to_string(repo_path("docs/local.md")).unwrap();
    let section = page
        .split_once("## With the SAM CLI and Docker (`sam local invoke`)")
        .expect("the SAM section")
        .1;
    let block = section
        .split_once("```sh\n")
        .expect("a command block")
        .1
        .split_once("```")
        .unwrap()
        .0;
    block.to_owned()
}

#[test]
fn the_block_starts_docker_before_sam_needs_it_and_names_its_waits() {
    let block = sam_block();
    let at = |needle: &str| {
        block
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}:\n{block}"))
    };
    assert!(at("tools/docker-lambda start") < at("sam build"));
    assert!(at("tools/setup sam") < at("tools/docker-lambda start"));
    assert!(at("AWS_MAX_ATTEMPTS=1") < at("sam local invoke"));
    for slow in ["tools/setup sam", "tools/docker-lambda start", "sam build"] {
        let line = block.lines().find(|l| l.contains(slow)).unwrap();
        assert!(line.contains("min"), "how long it takes: {line}");
    }
}

#[test]
#[ignore = "tools/test runs it first, before any Docker engine is started (cargo test -- --ignored)"]
fn the_sam_section_pasted_in_one_shell_archives_the_sessions() {
    let engine_before = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    eprintln!("a Docker engine answered before the block: {engine_before}");
    // As pasted into an interactive shell: each line runs whatever the one before did; `kill %1`
    // (the page's next step) stops dynalite at the end.
    // Each command is echoed with the seconds since the start (bash's `set -x`), so the log
    // says how long each step took.
    let script = format!(
        "PS4='+ [${{SECONDS}}s] '\nset -x\n{}\nstatus=$?\nkill %1 2>/dev/null\nexit $status\n",
        sam_block()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo_path(""))
        .env("SAM_CLI_TELEMETRY", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run the page's block");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("{text}");
    assert!(output.status.success(), "the block failed:\n{text}");
    assert!(
        stdout.contains(r#"{"batchItemFailures": []}"#),
        "the answer docs/local.md states:\n{text}"
    );
    assert!(
        stdout.contains("3 item(s) in archive table sessions-archive"),
        "{text}"
    );
    for session in ["SESSION#a1f3", "SESSION#b2e4", "SESSION#c3d5"] {
        assert!(stdout.contains(session), "{session}:\n{text}");
    }
    assert!(
        !text.contains("no native root CA certificates"),
        "the stand-in image has CA certificates:\n{text}"
    );
}
