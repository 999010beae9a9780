//! The failed-batch bucket: listing what is left, reading an object, marking one done. The
//! redrive's one S3 adapter.

use aws_config::SdkConfig;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error_chain;

/// Where finished objects go unless deleted; objects under it are never read again.
pub const DONE_PREFIX: &str = "redriven/";

/// What CopySource leaves unencoded: RFC 3986's unreserved characters and the key's slashes.
const COPY_SOURCE_KEEPS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// `bucket/key` as CopySource wants it: the key percent-encoded as UTF-8, slashes kept.
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", utf8_percent_encode(key, COPY_SOURCE_KEEPS))
}

/// What became of an object whose records are all archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkedDone {
    MovedTo(String),
    Deleted,
}

#[derive(Debug, Clone)]
pub struct FailedBatchBucket {
    s3: aws_sdk_s3::Client,
}

impl FailedBatchBucket {
    /// `path_style`: a local S3 (an endpoint URL) serves buckets by path, not by host name.
    pub fn new(sdk_config: &SdkConfig, path_style: bool) -> Self {
        FailedBatchBucket {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk_config)
                    .force_path_style(path_style)
                    .build(),
            ),
        }
    }

    /// The objects under `prefix`, page by page, those already redriven left out.
    pub fn list(&self, bucket: &str, prefix: &str) -> Listing {
        Listing {
            s3: self.s3.clone(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            continuation: None,
            finished: false,
        }
    }

    pub async fn read(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        let output = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("cannot read it: {}", error_chain(&e)))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| format!("the download was cut off: {}", error_chain(&e)))?;
        Ok(body.to_vec())
    }

    /// Moves the object under [`DONE_PREFIX`], or deletes it.
    pub async fn mark_done(
        &self,
        bucket: &str,
        key: &str,
        delete: bool,
    ) -> Result<MarkedDone, String> {
        // Copy first: if the delete then fails, the object is done twice over, never lost.
        let done = if delete {
            MarkedDone::Deleted
        } else {
            let target = format!("{DONE_PREFIX}{key}");
            self.s3
                .copy_object()
                .bucket(bucket)
                .key(&target)
                .copy_source(copy_source(bucket, key))
                .send()
                .await
                .map_err(|e| error_chain(&e))?;
            MarkedDone::MovedTo(format!("s3://{bucket}/{target}"))
        };
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        Ok(done)
    }
}

/// A listing in progress (ListObjectsV2, a thousand keys a page at most).
pub struct Listing {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    continuation: Option<String>,
    finished: bool,
}

impl Listing {
    /// The next page's keys; `None` once every page is read or after an error.
    pub async fn next_page(&mut self) -> Option<Result<Vec<String>, String>> {
        if self.finished {
            return None;
        }
        let page = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .set_continuation_token(self.continuation.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                self.finished = true;
                return Some(Err(error_chain(&err)));
            }
        };
        self.continuation = page.next_continuation_token().map(str::to_owned);
        self.finished = self.continuation.is_none();
        let keys = page
            .contents()
            .iter()
            .filter_map(|object| object.key())
            .filter(|key| !key.starts_with(DONE_PREFIX))
            .map(str::to_owned)
            .collect();
        Some(Ok(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_the_key_and_keeps_its_slashes() {
        assert_eq!(
            copy_source(
                "b",
                "aws/lambda/esm/shardId-1/2026/11/24/2026-11-24T10.00.00-a1b2"
            ),
            "b/aws/lambda/esm/shardId-1/2026/11/24/2026-11-24T10.00.00-a1b2"
        );
        assert_eq!(
            copy_source("b", "a key+with:odd=chars?&é"),
            "b/a%20key%2Bwith%3Aodd%3Dchars%3F%26%C3%A9"
        );
        assert_eq!(copy_source("b", "100%"), "b/100%25");
    }
}
