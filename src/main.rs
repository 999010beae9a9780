use std::sync::atomic::{AtomicU64, Ordering};

use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use mimalloc::MiMalloc;
use ttl_archiver::aws::writer::dynamodb_client;
use ttl_archiver::lambda::config::normalize_environment;
use ttl_archiver::lambda::{logging, runtime_api};
use ttl_archiver::{function_handler, Archiver, Config, StreamBatch};

// A batch allocates and frees many small maps and strings: mimalloc spends less CPU on them
// than glibc's malloc (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

fn main() -> Result<(), Error> {
    // Before the runtime starts threads: this edits the process environment.
    normalize_environment();
    // One thread: below 1,769 MB Lambda gives less than one vCPU, and waking worker threads
    // costs CPU there is not; the requests in flight still overlap their waits.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), Error> {
    logging::init(std::io::stdout);
    // The release a log belongs to, once per cold start: the crate's version, which is also the
    // template's SemanticVersion and the release's (tests/release.rs checks they agree).
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "ttl-archiver {} starting",
        env!("CARGO_PKG_VERSION")
    );

    // Exiting makes Lambda fail the init (Runtime.ExitError) with this line in the logs.
    let config = Config::from_env().unwrap_or_else(|err| {
        tracing::error!("invalid configuration: {err}");
        std::process::exit(1);
    });
    let sdk_config = ttl_archiver::aws::sdk::load().await;
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
