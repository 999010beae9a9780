//! A model of DynamoDB's round trip with no server cost: every request is answered after a
//! fixed delay, with a body that reads as an empty BatchWriteItem or PutItem result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Answers every request after `delay`, counting them in `requests`; returns the endpoint.
pub async fn fake_dynamodb(delay: Duration, requests: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let requests = requests.clone();
                    async move {
                        req.into_body()
                            .collect()
                            .await
                            .map_err(std::io::Error::other)?;
                        requests.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        Ok::<_, std::io::Error>(
                            Response::builder()
                                .status(200)
                                .header("content-type", "application/x-amz-json-1.0")
                                .body(Full::new(Bytes::from_static(b"{\"UnprocessedItems\":{}}")))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    endpoint
}
