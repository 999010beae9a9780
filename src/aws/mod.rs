//! The AWS side: the DynamoDB adapter that writes the archive, the SDK's configuration, and the
//! checks a command line makes before its first request.

#[cfg(feature = "operator")]
pub mod archive_check;
pub mod preflight;
pub mod sdk;
pub mod writer;
