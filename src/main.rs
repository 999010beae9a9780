use std::sync::atomic::{AtomicU64, Ordering};

use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use ttl_archiver::config::normalize_environment;
use ttl_archiver::writer::{dynamodb_client, https_client};
use ttl_archiver::{function_handler, logging, runtime_api, Archiver, Config, StreamBatch};

fn main() -> Result<(), Error> {
    // Before the runtime starts threads: this edits the process environment.
    normalize_environment();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), Error> {
    logging::init(std::io::stdout);

    // Exiting makes Lambda fail the init (Runtime.ExitError) with this line in the logs.
    let config = Config::from_env().unwrap_or_else(|err| {
        tracing::error!("invalid configuration: {err}");
        std::process::exit(1);
    });
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    let archiver = Archiver::new(&config, dynamodb_client(&sdk_config));

    let archiver = &archiver;
    let invocations = &AtomicU64::new(0);
    let result = run(service_fn(
        move |event: LambdaEvent<StreamBatch>| async move {
            invocations.fetch_add(1, Ordering::Relaxed);
            function_handler(archiver, event).await
        },
    ))
    .await;
    runtime_api::exit_result(result, invocations.load(Ordering::Relaxed))
}
