//! The AWS SDK's configuration for this process: the SDK's usual sources (environment, profile,
//! endpoint variables), with two changes that keep start-up small. Init is billed, and below
//! 1,769 MB it runs on a fraction of a vCPU.
//! - The HTTPS client (rustls with ring) is built at the first request instead of when the
//!   clients are constructed: loading and parsing the system's root certificates is most of
//!   init's CPU, and a local endpoint (http://) never needs them.
//! - Credentials in the environment (as Lambda provides them) are read from it directly. The
//!   default chain would find them there first too, but it builds its other providers (web
//!   identity, ECS, instance metadata, each with an HTTPS client) before it looks.

use std::sync::OnceLock;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};

/// The HTTPS client for the SDK: rustls with ring (see Cargo.toml).
pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// [`https_client`], built the first time a request needs a connection.
#[derive(Debug, Default)]
pub struct LazyHttpsClient(OnceLock<SharedHttpClient>);

impl HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0
            .get_or_init(https_client)
            .http_connector(settings, components)
    }
    // The default validations accept any configuration: the real client checks its own at the
    // first request, which is where a misconfiguration (none is possible here) would show.
}

/// The SDK configuration: [`LazyHttpsClient`], and the environment's credentials when it has
/// them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), else the SDK's default chain.
pub async fn load() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(LazyHttpsClient::default()));
    let present = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if present("AWS_ACCESS_KEY_ID") && present("AWS_SECRET_ACCESS_KEY") {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// Where a DynamoDB client built from the environment sends its requests, to name it when a
/// connection fails: `AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL` (as the SDK reads them),
/// else the Region's endpoint.
pub fn dynamodb_endpoint(client: &aws_sdk_dynamodb::Client) -> String {
    for name in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"] {
        if let Some(url) = std::env::var(name)
            .ok()
            .filter(|url| !url.trim().is_empty())
        {
            return url;
        }
    }
    match client.config().region() {
        Some(region) => format!("https://dynamodb.{region}.amazonaws.com"),
        None => "DynamoDB (no Region set)".to_owned(),
    }
}
