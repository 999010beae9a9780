//! The archive adapter's reads for the redrive: the check before its first object (the table
//! exists, these credentials may put items in it), which its dry run makes as well, and a dry
//! run's look at what the archive holds for each key.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep, Instant};

use crate::archive::archived::{replayed, Replayed};
use crate::archive::batch::WriteGroup;
use crate::archive::redact;
use crate::aws::writer::{classify, ArchiveWriter, Failure};
use crate::error_chain;

/// The key value of the check's put, which its condition refuses: nothing is ever written there.
const CHECK_KEY: &str = "ttl-archiver-write-check";

/// Why a request failed, with any value DynamoDB's message quotes withheld.
fn reason(err: &(dyn std::error::Error + 'static)) -> String {
    redact::dynamodb_message(&error_chain(err))
}

impl ArchiveWriter {
    /// Checks that the archive table exists (DescribeTable) and that these credentials may put
    /// items in it: a PutItem whose condition no item can meet, so DynamoDB checks the
    /// permission and the table, then refuses it and writes nothing (it costs one write unit).
    /// Throttling, server errors and connection failures are retried until `stop_at`. The error
    /// names the table and what is missing.
    pub async fn check_table(&self, stop_at: Instant) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (message, transient) = match self.check_once().await {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            let delay = self.retry.delay(attempt);
            if !transient || attempt >= self.retry.max_attempts || Instant::now() + delay >= stop_at
            {
                return Err(match transient {
                    true => format!("{message} ({attempt} attempts)"),
                    false => message,
                });
            }
            sleep(delay).await;
        }
    }

    /// One check; the error says why, and whether trying again may help.
    async fn check_once(&self) -> Result<(), (String, bool)> {
        let table = self.table_name.as_ref();
        let region = self
            .client
            .config()
            .region()
            .map_or_else(|| "no Region".to_owned(), ToString::to_string);
        let described = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|err| match err.code() {
                Some("ResourceNotFoundException") => (
                    format!(
                        "the archive table {table} does not exist in {region} (TABLE_NAME or --table-name)"
                    ),
                    false,
                ),
                Some("AccessDeniedException") => (
                    format!(
                        "these credentials may not describe the archive table {table} (dynamodb:DescribeTable): {}",
                        reason(&err)
                    ),
                    false,
                ),
                _ => {
                    let (why, transient) = self.why(&err);
                    (
                        format!("cannot describe the archive table {table} in {region}: {why}"),
                        transient,
                    )
                }
            })?;
        let description = described
            .table()
            .ok_or_else(|| (format!("DynamoDB described no table for {table}"), false))?;
        let types: HashMap<&str, &ScalarAttributeType> = description
            .attribute_definitions()
            .iter()
            .map(|d| (d.attribute_name(), d.attribute_type()))
            .collect();
        let key: HashMap<String, AttributeValue> = description
            .key_schema()
            .iter()
            .map(|element| {
                let name = element.attribute_name();
                let value = match types.get(name) {
                    Some(ScalarAttributeType::N) => AttributeValue::N("0".into()),
                    Some(ScalarAttributeType::B) => AttributeValue::B(Blob::new(CHECK_KEY)),
                    _ => AttributeValue::S(CHECK_KEY.into()),
                };
                (name.to_owned(), value)
            })
            .collect();
        let Some(first) = description.key_schema().first() else {
            return Err((
                format!("the archive table {table} has no key schema"),
                false,
            ));
        };
        let put = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(key))
            .condition_expression("attribute_exists(#key) AND attribute_not_exists(#key)")
            .expression_attribute_names("#key", first.attribute_name())
            .send()
            .await;
        match put {
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(err) if err.code() == Some("AccessDeniedException") => Err((
                format!(
                    "these credentials may not write the archive table {table} (dynamodb:PutItem): {}",
                    reason(&err)
                ),
                false,
            )),
            Err(err) => {
                let (why, transient) = self.why(&err);
                Err((
                    format!("a test write to the archive table {table} failed: {why}"),
                    transient,
                ))
            }
            // Not DynamoDB's behaviour: the sentinel key may now hold an item of no attributes
            // but its key, which the operator should delete.
            Ok(_) => Err((
                format!(
                    "a test write to the archive table {table} was accepted though its condition cannot hold (is this DynamoDB?); delete its item of key {CHECK_KEY}"
                ),
                false,
            )),
        }
    }

    /// Why a request failed, as the writer says it (a connection names its endpoint), and
    /// whether trying again may help.
    fn why<E: ProvideErrorMetadata>(&self, err: &SdkError<E, HttpResponse>) -> (String, bool) {
        match classify(err, &self.endpoint) {
            Failure::Transient(why) => (why, true),
            Failure::Permanent(error) => (error.to_string(), false),
        }
    }

    /// What the archive holds for each group's key, judged as a replay's conditional put would
    /// be (a dry run): read strongly consistent, `max_concurrency` at a time, throttling retried
    /// until `stop_at`. In the order of `groups`.
    pub async fn replayed(&self, groups: &[WriteGroup], stop_at: Instant) -> Vec<Replayed> {
        let permits = std::sync::Arc::new(Semaphore::new(self.max_concurrency));
        let mut reads = JoinSet::new();
        for (index, group) in groups.iter().enumerate() {
            let (writer, group, permits) = (self.clone(), group.clone(), permits.clone());
            reads.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (index, writer.replayed_one(&group, stop_at).await)
            });
        }
        let mut verdicts = vec![Replayed::WouldArchive; groups.len()];
        while let Some(done) = reads.join_next().await {
            let (index, verdict) = done.expect("a read never panics");
            verdicts[index] = verdict;
        }
        verdicts
    }

    async fn replayed_one(&self, group: &WriteGroup, stop_at: Instant) -> Replayed {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = match self.read_archived(group).await {
                Ok(existing) => {
                    return replayed(
                        existing.as_ref(),
                        &group.item,
                        &self.version_attribute,
                        &self.additions,
                    )
                }
                Err(Failure::Permanent(error)) => {
                    return Replayed::Cannot(format!("reading the archive: {error}"))
                }
                Err(Failure::Transient(last)) => last,
            };
            let delay = self.retry.delay(attempt);
            if attempt >= self.retry.max_attempts || Instant::now() + delay >= stop_at {
                return Replayed::Cannot(format!(
                    "reading the archive: {attempt} attempts, the last: {last}"
                ));
            }
            sleep(delay).await;
        }
    }
}
