//! A local server process (dynalite, moto) on a free loopback port, stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{missing_tool, repo_path};

pub struct LocalServer {
    child: Child,
    pub endpoint: String,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl LocalServer {
    /// Starts `tools/<bin>` with the arguments `args(port)` gives, or returns `None` (skip) when
    /// the tool is not installed outside CI.
    pub fn start_server(name: &str, bin: &str, args: impl Fn(&str) -> Vec<String>) -> Option<Self> {
        Self::start_server_on(name, bin, "127.0.0.1", args)
    }

    /// Like [`LocalServer::start_server`], for a server that listens on `host`.
    pub fn start_server_on(
        name: &str,
        bin: &str,
        host: &str,
        args: impl Fn(&str) -> Vec<String>,
    ) -> Option<Self> {
        let bin = repo_path(bin);
        if !bin.exists() {
            missing_tool(name);
            return None;
        }
        let port = TcpListener::bind((host, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(args(&port.to_string()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let started = Instant::now();
        while TcpStream::connect((host, port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(LocalServer {
            child,
            endpoint: format!("http://{host}:{port}"),
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local S3 (moto server, pinned in tools/requirements.txt).
pub fn moto() -> Option<LocalServer> {
    LocalServer::start_server(
        "moto_server (moto[server])",
        "tools/.venv/bin/moto_server",
        |port| ["-H", "127.0.0.1", "-p", port].map(String::from).to_vec(),
    )
}
