use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use ttl_archiver::logging;
use ttl_archiver::writer::{dynamodb_client, https_client};
use ttl_archiver::{function_handler, Archiver, Config, StreamBatch};

#[tokio::main]
async fn main() -> Result<(), Error> {
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
    run(service_fn(move |event: LambdaEvent<StreamBatch>| async move {
        function_handler(archiver, event).await
    }))
    .await
}
