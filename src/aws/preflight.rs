//! What a command-line tool checks before its first request: a Region and credentials. Without
//! them the SDK would only fail request by request, after retrying each until the deadline.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::ProvideCredentials;

/// How long the credential chain may take (it may ask instance metadata, which is slow to
/// answer where it does not exist).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreflightError {
    #[error("no AWS Region: set AWS_REGION (or a region in your AWS profile)")]
    NoRegion,
    #[error("no AWS credentials ({0}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role is available")]
    NoCredentials(String),
}

/// Checks that `sdk_config` has a Region and that its credential chain yields credentials.
pub async fn check(sdk_config: &SdkConfig) -> Result<(), PreflightError> {
    if sdk_config.region().is_none() {
        return Err(PreflightError::NoRegion);
    }
    let Some(provider) = sdk_config.credentials_provider() else {
        return Err(PreflightError::NoCredentials(
            "no credential provider".into(),
        ));
    };
    match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(PreflightError::NoCredentials(crate::error_chain(&err))),
        Err(_) => Err(PreflightError::NoCredentials(format!(
            "none found within {} s",
            CREDENTIALS_TIMEOUT.as_secs()
        ))),
    }
}
