//! A minimal Lambda Runtime API (the 2018-06-01 interface a custom runtime polls) that runs the
//! real binary as Lambda would: one invocation at a time, with a deadline, logs captured.
//! The end-to-end benchmark includes this file too and uses only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(serde_json::Value),
    Error(serde_json::Value),
}

struct Pending {
    id: String,
    payload: String,
    deadline_ms: u64,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    init_error: Option<String>,
    polls: u64,
    first_poll: Option<std::time::Instant>,
    /// Set by `shut_down`: waiting `/next` requests are dropped without an answer, as an
    /// emulator does when it stops the function's container.
    shut_down: bool,
}

pub struct RuntimeApi {
    pub address: String,
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    counter: Mutex<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn response(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(body.into()))
        .unwrap()
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let ready = Arc::new(Notify::new());
        let (s, r) = (state.clone(), ready.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (state, ready) = (s.clone(), r.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(state.clone(), ready.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            address,
            state,
            ready,
            counter: Mutex::new(0),
            task,
        }
    }

    /// Queues one invocation and waits for the function's answer.
    pub async fn invoke(&self, payload: &str, timeout: Duration) -> Outcome {
        let id = {
            let mut c = self.counter.lock().unwrap();
            *c += 1;
            format!("req-{c}")
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (reply, answer) = oneshot::channel();
        self.state.lock().unwrap().queue.push_back(Pending {
            id,
            payload: payload.to_owned(),
            deadline_ms: now + timeout.as_millis() as u64,
            reply,
        });
        self.ready.notify_one();
        tokio::time::timeout(timeout + Duration::from_secs(5), answer)
            .await
            .expect("the function did not answer")
            .expect("the runtime API dropped the invocation")
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.lock().unwrap().init_error.clone()
    }

    pub fn polls(&self) -> u64 {
        self.state.lock().unwrap().polls
    }

    /// Closes every waiting `/next` request without answering.
    pub fn shut_down(&self) {
        self.state.lock().unwrap().shut_down = true;
        self.ready.notify_waiters();
    }

    /// Answers every invocation handed out and not yet answered as Lambda does when the
    /// function's process dies mid-invocation (out of memory, a crash, a host failure).
    /// `error_type` is Lambda's, e.g. `Runtime.ExitError` or `Sandbox.Timedout`.
    pub fn fail_in_flight(&self, error_type: &str) {
        let in_flight: Vec<_> = self.state.lock().unwrap().in_flight.drain().collect();
        for (_, reply) in in_flight {
            let _ = reply.send(Outcome::Error(serde_json::json!({
                "errorType": error_type,
                "errorMessage": "the invocation ended without an answer"
            })));
        }
    }

    /// When the function first asked for an invocation: the end of its init.
    pub fn first_poll(&self) -> Option<std::time::Instant> {
        self.state.lock().unwrap().first_poll
    }
}

async fn serve(
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let parts: Vec<&str> = path
        .trim_start_matches("/2018-06-01/runtime/")
        .split('/')
        .collect();
    match (method, parts.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            {
                let mut s = state.lock().unwrap();
                s.polls += 1;
                s.first_poll.get_or_insert_with(std::time::Instant::now);
            }
            loop {
                let notified = ready.notified();
                let next = {
                    let mut s = state.lock().unwrap();
                    if s.shut_down {
                        return Err(std::io::Error::other("the runtime API is shutting down"));
                    }
                    let next = s.queue.pop_front();
                    next.map(|p| {
                        s.in_flight.insert(p.id.clone(), p.reply);
                        (p.id, p.payload, p.deadline_ms)
                    })
                };
                if let Some((id, payload, deadline_ms)) = next {
                    return Ok(Response::builder()
                        .status(200)
                        .header("lambda-runtime-aws-request-id", &id)
                        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                        .header(
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:ttl-archiver",
                        )
                        .header(
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000",
                        )
                        .body(Full::new(Bytes::from(payload)))
                        .unwrap());
                }
                notified.await;
            }
        }
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            if let Some(reply) = state.lock().unwrap().in_flight.remove(*id) {
                let _ = reply.send(if *kind == "response" {
                    Outcome::Response(value)
                } else {
                    Outcome::Error(value)
                });
            }
            Ok(response(202, r#"{"status":"OK"}"#))
        }
        (Method::POST, ["init", "error"]) => {
            state.lock().unwrap().init_error = Some(String::from_utf8_lossy(&body).into_owned());
            Ok(response(202, r#"{"status":"OK"}"#))
        }
        _ => Ok(response(404, "not found")),
    }
}

/// The release binary, started as a Lambda custom runtime against `api`.
pub struct Function {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// Started by [`Function::start_command`] as a process group's leader.
    group: bool,
}

impl Drop for Function {
    fn drop(&mut self) {
        if let (true, Some(pid)) = (self.group, self.child.id()) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Function {
    /// `None` (skip) when the release binary has not been built, outside CI.
    pub fn binary() -> Option<std::path::PathBuf> {
        let path = std::env::var("TTL_ARCHIVER_BIN")
            .map(Into::into)
            .unwrap_or_else(|_| super::repo_path("target/release/ttl-archiver"));
        if path.exists() {
            Some(path)
        } else {
            super::missing_tool("the release binary (cargo build --release)");
            None
        }
    }

    pub fn start(binary: &std::path::Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        Self::start_in(binary, api, env, None)
    }

    /// Any custom runtime, given as a shell command (with the caller's PATH), in place of the
    /// release binary.
    pub fn start_command(command: &str, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        let path = std::env::var("PATH").unwrap_or_default();
        let mut env = env.to_vec();
        env.push(("PATH", &path));
        let mut sh = Command::new("/bin/sh");
        // Its own process group, so that killing it kills whatever it started.
        sh.arg("-c").arg(format!("exec {command}")).process_group(0);
        let mut function = Self::spawn(sh, api, &env);
        function.group = true;
        function
    }

    /// Kills the process (SIGKILL), and its process group when it leads one, and waits for it.
    pub async fn kill(&mut self) {
        if let (true, Some(pid)) = (self.group, self.child.id()) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = self.child.kill().await;
    }

    /// Like [`Function::start`]; with `cgroup_procs`, the process first moves itself into that
    /// cgroup (its `cgroup.procs` file), so that it runs, init included, under its limits.
    pub fn start_in(
        binary: &std::path::Path,
        api: &RuntimeApi,
        env: &[(&str, &str)],
        cgroup_procs: Option<&std::path::Path>,
    ) -> Self {
        let command = match cgroup_procs {
            None => Command::new(binary),
            Some(procs) => {
                let mut sh = Command::new("/bin/sh");
                sh.arg("-c")
                    .arg(r#"echo $$ > "$0" && exec "$@""#)
                    .arg(procs)
                    .arg(binary);
                sh
            }
        };
        Self::spawn(command, api, env)
    }

    fn spawn(mut command: Command, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "ttl-archiver")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start the function");
        let logs = Arc::new(Mutex::new(String::new()));
        for mut pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    logs.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Function {
            child,
            logs,
            group: false,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits for the process to exit (for init failures).
    pub async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .ok()?
            .ok()?;
        // Give the log readers a moment to drain the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        status.code()
    }
}
