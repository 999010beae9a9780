//! A fault-injecting HTTP proxy between the SDK and a local server. Only the requests chosen
//! (BatchWriteItem by default) get faults; everything else passes through.
//!
//! Every request through it also meets two of DynamoDB's rules that dynalite does not keep:
//! - an item over 400 KB as DynamoDB counts it (UTF-8; dynalite counts strings in UTF-16 units)
//!   is refused with DynamoDB's ValidationException, the whole request with it
//!   (`dynamodb_size`, the tests' own count);
//! - a conditional PutItem refused with `ReturnValuesOnConditionCheckFailure=ALL_OLD` returns the
//!   item it found, as AWS does (dynalite leaves it out).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    Pass,
    /// Forward only part of the items; answer the rest (at least one) as UnprocessedItems.
    Unprocess(f64),
    /// 400 ProvisionedThroughputExceededException, nothing written.
    Throttle,
    /// 500 InternalServerError, nothing written.
    ServerError,
    /// 400 ValidationException, nothing written: an error retrying cannot fix.
    Reject,
    /// Wait, then forward.
    Delay(Duration),
    /// Close the connection without answering, nothing written.
    Hangup,
    /// Never answer, never forward: a request in flight when its sender dies.
    Stall,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub batch_writes: u64,
    pub unprocessed: u64,
    pub throttles: u64,
    pub server_errors: u64,
    pub rejections: u64,
    pub delays: u64,
    pub hangups: u64,
    /// Largest number of BatchWriteItem requests in flight at once.
    pub max_in_flight: u64,
    /// Write requests refused for an item over 400 KB, as DynamoDB counts it.
    pub too_large: u64,
    /// Refused conditional puts answered with the item found, as AWS answers them.
    pub refusals_with_item: u64,
    /// GetItem requests that came through (the proxy's own reads not counted).
    pub reads: u64,
}

/// Decides the fault for the n-th BatchWriteItem request (from 0), given its body.
type Plan = Arc<dyn Fn(u64, &str) -> Fault + Send + Sync>;

pub struct FaultProxy {
    pub endpoint: String,
    stats: Arc<Mutex<Stats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Which requests the plan decides for.
type Faultable = fn(&hyper::http::request::Parts) -> bool;

pub fn is_batch_write(parts: &hyper::http::request::Parts) -> bool {
    parts
        .headers
        .get("x-amz-target")
        .is_some_and(|t| t.as_bytes().ends_with(b".BatchWriteItem"))
}

/// BatchWriteItem or PutItem: every request that writes the archive.
pub fn is_archive_write(parts: &hyper::http::request::Parts) -> bool {
    is_batch_write(parts)
        || parts
            .headers
            .get("x-amz-target")
            .is_some_and(|t| t.as_bytes().ends_with(b".PutItem"))
}

struct Shared {
    upstream: String,
    /// Key attribute names by table, read once with DescribeTable.
    key_names: Mutex<std::collections::HashMap<String, Vec<String>>>,
    faultable: Faultable,
    plan: Plan,
    counter: AtomicU64,
    in_flight: AtomicU64,
    stats: Arc<Mutex<Stats>>,
}

impl FaultProxy {
    /// `plan` decides the fault for the n-th BatchWriteItem request (from 0).
    pub async fn start(
        upstream: &str,
        plan: impl Fn(u64) -> Fault + Send + Sync + 'static,
    ) -> Self {
        Self::start_inspecting(upstream, move |n, _| plan(n)).await
    }

    /// Like [`FaultProxy::start`], with the request body (JSON) to decide on.
    pub async fn start_inspecting(
        upstream: &str,
        plan: impl Fn(u64, &str) -> Fault + Send + Sync + 'static,
    ) -> Self {
        Self::start_for(upstream, is_batch_write, plan).await
    }

    /// A proxy whose `plan` decides for the requests `faultable` picks (counted as
    /// `batch_writes` in the stats).
    pub async fn start_for(
        upstream: &str,
        faultable: Faultable,
        plan: impl Fn(u64, &str) -> Fault + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(Mutex::new(Stats::default()));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").to_owned(),
            key_names: Mutex::default(),
            faultable,
            plan: Arc::new(plan),
            counter: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            stats: stats.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            endpoint,
            stats,
            task,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap().clone()
    }
}

fn error_response(status: u16, error_type: &str) -> Response<Full<Bytes>> {
    error_with_message(status, error_type, "injected by the test proxy")
}

fn error_with_message(status: u16, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"), "message": message});
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn target(parts: &hyper::http::request::Parts) -> &str {
    parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let faultable = (shared.faultable)(&parts);
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    if target(&parts) == "GetItem" {
        shared.stats.lock().unwrap().reads += 1;
    }
    let request: Option<Value> = is_archive_write(&parts)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten();
    if let Some(request) = &request {
        let limit = super::dynamodb_size::MAX_ITEM_BYTES;
        let too_large = super::dynamodb_size::items_written(request)
            .into_iter()
            .any(|item| super::dynamodb_size::item_size(item) > limit);
        if too_large {
            shared.stats.lock().unwrap().too_large += 1;
            return Ok(error_with_message(
                400,
                "ValidationException",
                super::dynamodb_size::TOO_LARGE,
            ));
        }
    }
    let response = if faultable {
        let n = shared.counter.fetch_add(1, Ordering::SeqCst);
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = (shared.plan)(n, &String::from_utf8_lossy(&body));
        {
            let mut stats = shared.stats.lock().unwrap();
            stats.batch_writes += 1;
            stats.max_in_flight = stats.max_in_flight.max(now);
        }
        let result = apply(&shared, fault, parts.clone(), body).await;
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        result?
    } else {
        forward(&shared.upstream, parts.clone(), body).await?
    };
    match request {
        Some(request) if target(&parts) == "PutItem" => {
            with_refused_item(&shared, &parts, &request, response).await
        }
        _ => Ok(response),
    }
}

/// AWS's answer to a conditional put refused with `ReturnValuesOnConditionCheckFailure=ALL_OLD`:
/// the error carries the item found (`Item`). dynalite's leaves it out; this reads it (a
/// consistent GetItem, upstream) and adds it.
async fn with_refused_item(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    request: &Value,
    response: Response<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    if response.status() != StatusCode::BAD_REQUEST
        || request["ReturnValuesOnConditionCheckFailure"] != "ALL_OLD"
    {
        return Ok(response);
    }
    let (mut head, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let mut error: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let refused = error["__type"]
        .as_str()
        .is_some_and(|t| t.ends_with("ConditionalCheckFailedException"));
    if !refused || error.get("Item").is_some() {
        return Ok(Response::from_parts(head, Full::new(bytes)));
    }
    let table = request["TableName"].as_str().unwrap_or_default().to_owned();
    let names = key_names(shared, parts, &table).await?;
    let key: serde_json::Map<String, Value> = names
        .iter()
        .filter_map(|name| Some((name.clone(), request["Item"].get(name)?.clone())))
        .collect();
    let got = call(
        shared,
        parts,
        "GetItem",
        json!({"TableName": table, "Key": key, "ConsistentRead": true}),
    )
    .await?;
    if let Some(item) = got.get("Item") {
        error["Item"] = item.clone();
        shared.stats.lock().unwrap().refusals_with_item += 1;
    }
    // The body changed: hyper sets its length.
    head.headers.remove("content-length");
    Ok(Response::from_parts(
        head,
        Full::new(Bytes::from(error.to_string())),
    ))
}

/// The key attribute names of `table`, asked of the upstream once.
async fn key_names(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    table: &str,
) -> Result<Vec<String>, std::io::Error> {
    if let Some(names) = shared.key_names.lock().unwrap().get(table) {
        return Ok(names.clone());
    }
    let described = call(shared, parts, "DescribeTable", json!({"TableName": table})).await?;
    let names: Vec<String> = described["Table"]["KeySchema"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|element| element["AttributeName"].as_str().map(str::to_owned))
        .collect();
    shared
        .key_names
        .lock()
        .unwrap()
        .insert(table.to_owned(), names.clone());
    Ok(names)
}

/// One DynamoDB call of the proxy's own, upstream, with the headers of the request it serves
/// (local servers do not check signatures).
async fn call(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    operation: &str,
    body: Value,
) -> Result<Value, std::io::Error> {
    let mut parts = parts.clone();
    parts.headers.insert(
        "x-amz-target",
        format!("DynamoDB_20120810.{operation}").parse().unwrap(),
    );
    let response = forward(&shared.upstream, parts, Bytes::from(body.to_string())).await?;
    json_body(response).await
}

async fn json_body(response: Response<Full<Bytes>>) -> Result<Value, std::io::Error> {
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

async fn apply(
    shared: &Shared,
    fault: Fault,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let count = |f: fn(&mut Stats) -> &mut u64| *f(&mut shared.stats.lock().unwrap()) += 1;
    match fault {
        Fault::Pass => forward(&shared.upstream, parts, body).await,
        Fault::Throttle => {
            count(|s| &mut s.throttles);
            Ok(error_response(
                400,
                "ProvisionedThroughputExceededException",
            ))
        }
        Fault::ServerError => {
            count(|s| &mut s.server_errors);
            Ok(error_response(500, "InternalServerError"))
        }
        Fault::Reject => {
            count(|s| &mut s.rejections);
            Ok(error_response(400, "ValidationException"))
        }
        Fault::Hangup => {
            count(|s| &mut s.hangups);
            Err(std::io::Error::other("hang up"))
        }
        Fault::Stall => std::future::pending().await,
        Fault::Delay(delay) => {
            count(|s| &mut s.delays);
            tokio::time::sleep(delay).await;
            forward(&shared.upstream, parts, body).await
        }
        // A single put has nothing to leave unprocessed: DynamoDB throttles it instead.
        Fault::Unprocess(_) if !is_batch_write(&parts) => {
            count(|s| &mut s.throttles);
            Ok(error_response(
                400,
                "ProvisionedThroughputExceededException",
            ))
        }
        Fault::Unprocess(fraction) => {
            count(|s| &mut s.unprocessed);
            let mut request: Value =
                serde_json::from_slice(&body).map_err(std::io::Error::other)?;
            let tables = request["RequestItems"].as_object_mut().unwrap();
            let (table, writes) = tables.iter_mut().next().unwrap();
            let table = table.clone();
            let writes = writes.as_array_mut().unwrap();
            let withheld_count =
                ((writes.len() as f64 * fraction).ceil() as usize).clamp(1, writes.len());
            let withheld: Vec<Value> = writes.split_off(writes.len() - withheld_count);
            let mut answer = if writes.is_empty() {
                json!({})
            } else {
                let response =
                    forward(&shared.upstream, parts, Bytes::from(request.to_string())).await?;
                if response.status() != StatusCode::OK {
                    return Ok(response);
                }
                json_body(response).await?
            };
            answer["UnprocessedItems"] = json!({ table: withheld });
            Ok(Response::builder()
                .status(200)
                .header("content-type", "application/x-amz-json-1.0")
                .body(Full::new(Bytes::from(answer.to_string())))
                .unwrap())
        }
    }
}

async fn forward(
    upstream: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let mut request = Request::from_parts(parts, Full::new(body.clone()));
    request
        .headers_mut()
        .insert("content-length", body.len().into());
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// A deterministic pseudo-random fault plan: `p_unprocessed`, `p_throttle`, `p_error` per request.
pub fn random_plan(
    seed: u64,
    p_unprocessed: f64,
    p_throttle: f64,
    p_error: f64,
) -> impl Fn(u64) -> Fault + Send + Sync {
    move |n| {
        let mut x = seed ^ (n.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        let r = (x % 1_000_000) as f64 / 1_000_000.0;
        if r < p_unprocessed {
            Fault::Unprocess(0.3)
        } else if r < p_unprocessed + p_throttle {
            Fault::Throttle
        } else if r < p_unprocessed + p_throttle + p_error {
            Fault::ServerError
        } else {
            Fault::Pass
        }
    }
}
