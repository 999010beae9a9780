//! The SAM CLI as the tests run it (pinned in tools/.venv), and the Docker engine
//! `sam local invoke` needs (bash tools/docker-lambda start).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{missing_tool, repo_path};

pub const BASE_IMAGE: &str = "public.ecr.aws/lambda/provided:al2023-x86_64";

/// ELF `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;

pub fn sam_binary() -> Option<PathBuf> {
    let sam = repo_path("tools/.venv/bin/sam");
    if sam.exists() {
        Some(sam)
    } else {
        missing_tool("the SAM CLI (tools/.venv/bin/sam)");
        None
    }
}

/// The Docker bridge's gateway: where containers reach servers on this machine.
pub fn docker_gateway() -> Option<String> {
    let ready = std::process::Command::new("docker")
        .args(["image", "inspect", BASE_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let gateway = std::process::Command::new("bash")
        .arg(repo_path("tools/docker-lambda"))
        .arg("gateway")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match gateway {
        Some(gateway) if ready && !gateway.is_empty() => Some(gateway),
        _ => {
            missing_tool(&format!(
                "a Docker engine with {BASE_IMAGE} (bash tools/docker-lambda start)"
            ));
            None
        }
    }
}

/// SAM as a user runs it, with the pinned tools (cargo-lambda) on the PATH. Region and
/// credentials come from this environment, as SAM takes them from the host's. One attempt for
/// SAM's own AWS calls: with no AWS reachable, its account lookup would retry for 10 seconds.
pub fn sam(args: &[&str]) -> Command {
    let mut command = Command::new(repo_path("tools/.venv/bin/sam"));
    let path = format!(
        "{}:{}",
        repo_path("tools/.venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    command
        .args(args)
        .current_dir(repo_path(""))
        .env("PATH", path)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

pub async fn run(mut command: Command, within: Duration) -> (bool, String, String) {
    let output = tokio::time::timeout(within, command.output())
        .await
        .expect("sam did not finish in time")
        .expect("run sam");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).expect("the built bootstrap");
    assert_eq!(
        &bytes[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    u16::from_le_bytes([bytes[18], bytes[19]])
}
