//! The DynamoDB adapter: writes planned chunks with BatchWriteItem, concurrently, retrying what
//! can succeed later, and giving up in time to answer before the invocation deadline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout_at, Instant};

use crate::archive::archived::{self, Archived};
use crate::archive::batch::WriteGroup;
use crate::archive::key::ItemKey;
use crate::archive::project::DroppedAdditions;
use crate::archive::redact;
use crate::archive::table;

/// Why a record was not written. Messages never carry attribute values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// DynamoDB refused the request for a reason that retrying will not change. `message` is
    /// DynamoDB's own, with any value it quotes withheld (see `redact`).
    #[error("DynamoDB rejected the write ({code}{})", with_colon(.message))]
    Rejected { code: String, message: String },
    /// Transient failures went on until no retry could finish before the deadline (the
    /// invocation's, in the function; `--timeout`, in the redrive).
    #[error("gave up at the deadline; last failure: {last}")]
    DeadlineReached { last: String },
    #[error("gave up after {attempts} attempts; last failure: {last}")]
    RetriesExhausted { attempts: u32, last: String },
    #[error("the write task failed unexpectedly")]
    Internal,
}

fn with_colon(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Exponential backoff with full jitter, as AWS recommends for UnprocessedItems and throttling.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(2),
            max_attempts: 24,
        }
    }
}

impl RetryPolicy {
    pub(super) fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Every await of a write task ends by the time writing must stop; this is how much later the
/// writer stops waiting for a task regardless, and reports its records (see `MIN_DEADLINE_MARGIN`).
pub const HARD_STOP_SLACK: Duration = Duration::from_millis(50);

/// What happened to the records handed to [`ArchiveWriter::write`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Records written (superseded records included), and records whose key the archive
    /// already holds at the same or a newer version (conditional writes only).
    pub archived: usize,
    /// Of `archived`: records not written because the archive holds the same or a newer version.
    pub newer_kept: usize,
    pub failed: Vec<(String, WriteError)>,
    pub requests: u32,
    /// Requests that were sent again after a transient failure or UnprocessedItems.
    pub retries: u32,
    /// Records whose item DynamoDB refused as over 400 KB with the archiver's attributes, then
    /// took with fewer (the safety net for a size count that differs from DynamoDB's): their
    /// sequence numbers and what the item went without, once written (not when the archive held
    /// a newer version, nor when the item failed anyway).
    pub stripped: Vec<(String, DroppedAdditions)>,
    /// The items not written because the archive holds their key at the same or a newer
    /// version (conditional writes): their sequence numbers.
    pub newer_in_archive: Vec<String>,
}

impl WriteReport {
    fn merge(&mut self, other: WriteReport) {
        self.archived += other.archived;
        self.newer_kept += other.newer_kept;
        self.failed.extend(other.failed);
        self.requests += other.requests;
        self.retries += other.retries;
        self.stripped.extend(other.stripped);
        self.newer_in_archive.extend(other.newer_in_archive);
    }

    fn fail(&mut self, groups: &[WriteGroup], error: &WriteError) {
        for group in groups {
            for seq in group.sequence_numbers() {
                self.failed.push((seq.to_owned(), error.clone()));
            }
        }
    }
}

/// Builds the DynamoDB client the writer needs: the writer owns retries (they must respect the
/// invocation deadline), so the SDK's own are off.
pub fn dynamodb_client(sdk_config: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk_config)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// How items are put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// BatchWriteItem, unconditional: the live path archives each shard in order, so the last
    /// write of a key is its latest version.
    Batch,
    /// One conditional PutItem per item, written only where the archive holds no version of the
    /// key or an older one: for replays (the redrive), which come after the shard moved on.
    IfNewer,
}

#[derive(Debug, Clone)]
pub struct ArchiveWriter {
    pub(super) client: Client,
    /// Named when a connection fails.
    pub(super) endpoint: Arc<str>,
    pub(super) table_name: Arc<str>,
    pub(super) version_attribute: Arc<str>,
    /// The stamps the projection adds, by kind: an item refused as too large goes again without
    /// them, then without its version too.
    expiry_attribute: Option<Arc<str>>,
    archived_at_attribute: Option<Arc<str>>,
    /// Every attribute the projection adds (version, expiry, archived-at), for the judgement of
    /// a refused put.
    pub(super) additions: Arc<[String]>,
    mode: WriteMode,
    pub(super) max_concurrency: usize,
    pub(super) retry: RetryPolicy,
}

pub(super) enum Failure {
    Transient(String),
    Permanent(WriteError),
}

/// DynamoDB's answer to one request that did not fail.
enum Answer {
    /// Written, except what DynamoDB left unprocessed (by table, as it answered).
    Written(HashMap<String, Vec<WriteRequest>>),
    /// Nothing written: the archive holds the same or a newer version (conditional writes).
    NewerKept,
}

impl ArchiveWriter {
    pub fn new(
        client: Client,
        table_name: &str,
        version_attribute: &str,
        max_concurrency: usize,
        retry: RetryPolicy,
    ) -> Self {
        ArchiveWriter {
            endpoint: crate::aws::sdk::dynamodb_endpoint(&client).into(),
            client,
            table_name: table_name.into(),
            version_attribute: version_attribute.into(),
            expiry_attribute: None,
            archived_at_attribute: None,
            additions: Arc::from([version_attribute.to_owned()]),
            mode: WriteMode::Batch,
            max_concurrency: max_concurrency.max(1),
            retry,
        }
    }

    pub fn with_mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    /// The stamps the projection adds beside the version: the expiry's and the archived-at
    /// attribute's names, when configured.
    pub fn with_stamps(mut self, expiry: Option<&str>, archived_at: Option<&str>) -> Self {
        self.expiry_attribute = expiry.map(Arc::from);
        self.archived_at_attribute = archived_at.map(Arc::from);
        self.additions = std::iter::once(self.version_attribute.as_ref())
            .chain(expiry)
            .chain(archived_at)
            .map(str::to_owned)
            .collect();
        self
    }

    /// Writes every chunk, at most `max_concurrency` requests at a time. Returns by `stop_at`
    /// plus [`HARD_STOP_SLACK`]: whatever is not written by then is reported as failed.
    pub async fn write(&self, chunks: Vec<Vec<WriteGroup>>, stop_at: Instant) -> WriteReport {
        let chunks = match self.mode {
            WriteMode::Batch => chunks,
            WriteMode::IfNewer => chunks.into_iter().flatten().map(|g| vec![g]).collect(),
        };
        let permits = Arc::new(Semaphore::new(self.max_concurrency));
        let mut tasks = JoinSet::new();
        let mut pending: HashMap<tokio::task::Id, Vec<String>> =
            HashMap::with_capacity(chunks.len());
        for chunk in chunks {
            let sequence_numbers = chunk
                .iter()
                .flat_map(|g| g.sequence_numbers().map(str::to_owned))
                .collect();
            let writer = self.clone();
            let permits = permits.clone();
            let handle = tasks.spawn(async move {
                let permit = timeout_at(stop_at, permits.acquire_owned()).await;
                // A slot freed at the stop time is too late: building and signing a request
                // that cannot be answered would only spend the margin.
                match permit {
                    Ok(Ok(_permit)) if Instant::now() < stop_at => {
                        writer.write_chunk(chunk, stop_at).await
                    }
                    _ => {
                        let mut report = WriteReport::default();
                        let error = WriteError::DeadlineReached {
                            last: "no request slot was free".into(),
                        };
                        report.fail(&chunk, &error);
                        report
                    }
                }
            });
            pending.insert(handle.id(), sequence_numbers);
        }

        let mut report = WriteReport::default();
        // Every await in a task is bounded by `stop_at`; this net catches a task that is not
        // scheduled in time (a starved runtime), so the answer still goes out.
        let hard_stop = stop_at + HARD_STOP_SLACK;
        loop {
            match timeout_at(hard_stop, tasks.join_next_with_id()).await {
                Ok(Some(Ok((id, chunk_report)))) => {
                    pending.remove(&id);
                    report.merge(chunk_report);
                }
                Ok(Some(Err(join_error))) => {
                    let seqs = pending.remove(&join_error.id()).unwrap_or_default();
                    tracing::error!(error = %join_error, "a write task failed");
                    report
                        .failed
                        .extend(seqs.into_iter().map(|s| (s, WriteError::Internal)));
                }
                Ok(None) => break,
                Err(_) => {
                    tasks.abort_all();
                    let error = WriteError::DeadlineReached {
                        last: "request still in flight".into(),
                    };
                    for (_, seqs) in pending.drain() {
                        report
                            .failed
                            .extend(seqs.into_iter().map(|s| (s, error.clone())));
                    }
                    break;
                }
            }
        }
        report
    }

    async fn write_chunk(&self, chunk: Vec<WriteGroup>, stop_at: Instant) -> WriteReport {
        let mut report = WriteReport::default();
        // A validation error rejects a whole request; halving isolates the item that caused it.
        let mut work = vec![chunk];
        while let Some(mut groups) = work.pop() {
            let mut attempt = 0u32;
            // An item sent again with fewer of the archiver's attributes, and what it went
            // without: reported as such only once it is written.
            let mut stripped = None;
            loop {
                attempt += 1;
                report.requests += 1;
                let failure = match timeout_at(stop_at, self.send(&groups)).await {
                    Err(_) => Failure::Permanent(WriteError::DeadlineReached {
                        last: "request still in flight".into(),
                    }),
                    Ok(Ok(Answer::NewerKept)) => {
                        let records = groups.iter().map(WriteGroup::record_count).sum::<usize>();
                        report.archived += records;
                        report.newer_kept += records;
                        report
                            .newer_in_archive
                            .extend(groups.iter().map(|g| g.item.sequence_number.clone()));
                        break;
                    }
                    Ok(Ok(Answer::Written(unprocessed))) => {
                        let (written, left) =
                            split_unprocessed(groups, unprocessed, &self.table_name);
                        report.archived +=
                            written.iter().map(WriteGroup::record_count).sum::<usize>();
                        if !written.is_empty() {
                            report.stripped.extend(stripped.take());
                        }
                        if left.is_empty() {
                            break;
                        }
                        groups = left;
                        Failure::Transient(format!("{} UnprocessedItems", groups.len()))
                    }
                    Ok(Err(failure)) => failure,
                };
                let last = match failure {
                    Failure::Permanent(WriteError::Rejected { code, .. })
                        if code == "ValidationException" && groups.len() > 1 =>
                    {
                        let second = groups.split_off(groups.len() / 2);
                        work.push(second);
                        work.push(groups);
                        break;
                    }
                    // The projection measured the item under 400 KB and DynamoDB counted it over
                    // (the rules leave some shapes, sets among them, undocumented): in the
                    // documented order, once without the stamps, then once without the version.
                    Failure::Permanent(WriteError::Rejected { code, message })
                        if code == "ValidationException"
                            && message.contains(ITEM_TOO_LARGE)
                            && self.strip_additions(&mut groups) =>
                    {
                        let item = &groups[0].item;
                        stripped = Some((item.sequence_number.clone(), item.dropped));
                        tracing::warn!(
                            sequence_number = %item.sequence_number,
                            "DynamoDB refused the item as over 400 KB: sent again {}",
                            item.dropped.describe()
                        );
                        continue;
                    }
                    Failure::Permanent(error) => {
                        report.fail(&groups, &error);
                        break;
                    }
                    Failure::Transient(last) => last,
                };
                if attempt >= self.retry.max_attempts {
                    report.fail(
                        &groups,
                        &WriteError::RetriesExhausted {
                            attempts: attempt,
                            last,
                        },
                    );
                    break;
                }
                let delay = self.retry.delay(attempt);
                if Instant::now() + delay >= stop_at {
                    report.fail(&groups, &WriteError::DeadlineReached { last });
                    break;
                }
                report.retries += 1;
                sleep(delay).await;
            }
        }
        report
    }

    /// Takes the next of the archiver's attributes out of the one item in `groups`, in the
    /// order near-limit items lose them: the stamps it still holds, else the version. False when
    /// it has none to take (it went in bare already), or `groups` holds more than one item.
    fn strip_additions(&self, groups: &mut [WriteGroup]) -> bool {
        let [group] = groups else {
            return false;
        };
        let item = &mut group.item;
        if item.dropped.version {
            return false;
        }
        let mut took_a_stamp = false;
        for (name, dropped) in [
            (&self.expiry_attribute, &mut item.dropped.expiry),
            (&self.archived_at_attribute, &mut item.dropped.archived_at),
        ] {
            if let Some(name) = name {
                if item.item.remove(name.as_ref()).is_some() {
                    *dropped = true;
                    took_a_stamp = true;
                }
            }
        }
        if !took_a_stamp {
            item.item.remove(self.version_attribute.as_ref());
            item.dropped = DroppedAdditions::ALL;
        }
        true
    }

    async fn send(&self, groups: &[WriteGroup]) -> Result<Answer, Failure> {
        match (self.mode, groups) {
            (WriteMode::Batch, _) => self.batch_write(groups).await,
            (WriteMode::IfNewer, [group]) => self.put_if_newer(group).await,
            (WriteMode::IfNewer, _) => Err(Failure::Permanent(WriteError::Internal)),
        }
    }

    /// One BatchWriteItem.
    async fn batch_write(&self, groups: &[WriteGroup]) -> Result<Answer, Failure> {
        let requests = groups
            .iter()
            .map(|g| {
                let put = PutRequest::builder()
                    .set_item(Some(g.item.item.clone()))
                    .build()
                    .expect("item is set");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let output = self
            .client
            .batch_write_item()
            .request_items(self.table_name.as_ref(), requests)
            .send()
            .await
            .map_err(|err| classify(&err, &self.endpoint))?;
        Ok(Answer::Written(
            output.unprocessed_items.unwrap_or_default(),
        ))
    }

    /// One PutItem that replaces only an older version of the key, or none. A refused
    /// condition counts as archived only when the item the archive holds proves this version or
    /// a newer one (see `archived`).
    async fn put_if_newer(&self, group: &WriteGroup) -> Result<Answer, Failure> {
        let item = &group.item;
        let key_attribute = item.key.names().first().map_or("", String::as_str);
        let result = self
            .client
            .put_item()
            .table_name(self.table_name.as_ref())
            .set_item(Some(item.item.clone()))
            // An item archived by an earlier release holds its version as a decimal string,
            // which `:legacy` orders; a binary never compares with a string.
            .condition_expression(
                "attribute_not_exists(#key) OR #version < :version OR #version < :legacy",
            )
            .expression_attribute_names("#key", key_attribute)
            .expression_attribute_names("#version", self.version_attribute.as_ref())
            .expression_attribute_values(":version", item.version.attribute_value())
            .expression_attribute_values(":legacy", AttributeValue::S(item.version.legacy_text()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let refused = match result {
            Ok(_) => return Ok(Answer::Written(HashMap::new())),
            Err(SdkError::ServiceError(context))
                if context.err().is_conditional_check_failed_exception() =>
            {
                match context.into_err() {
                    PutItemError::ConditionalCheckFailedException(refused) => refused.item,
                    _ => None,
                }
            }
            Err(err) => return Err(classify(&err, &self.endpoint)),
        };
        // Not every DynamoDB returns the item with the refusal: then it is read.
        let existing = match refused {
            Some(existing) => Some(existing),
            None => self.read_archived(group).await?,
        };
        match archived::judge(
            existing.as_ref(),
            item,
            &self.version_attribute,
            &self.additions,
        ) {
            Archived::SameOrNewer => Ok(Answer::NewerKept),
            Archived::Older => Err(Failure::Transient(
                "the archived item changed while it was compared".into(),
            )),
            Archived::Unprovable(why) => Err(Failure::Permanent(WriteError::Rejected {
                code: "ConditionalCheckFailed".into(),
                message: why,
            })),
        }
    }

    /// The archived item of `group`'s key, read strongly consistent.
    pub(super) async fn read_archived(
        &self,
        group: &WriteGroup,
    ) -> Result<Option<HashMap<String, AttributeValue>>, Failure> {
        let key = group.key_attributes();
        let output = self
            .client
            .get_item()
            .table_name(self.table_name.as_ref())
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify(&err, &self.endpoint))?;
        Ok(output.item)
    }
}

/// Splits the groups sent into those written and those to send again. Only an answer that
/// names, under the table written, keys that were sent, each once, is trusted; from any other
/// answer it cannot be known what was written, so everything is sent again (puts are
/// idempotent) and nothing is counted as archived. The table written is `table_name` as sent,
/// and, when that is an ARN, also the name it ends with: DynamoDB answers in the form of the
/// request, but an answer filed under the bare name leaves no doubt which table it means.
fn split_unprocessed(
    groups: Vec<WriteGroup>,
    mut unprocessed: HashMap<String, Vec<WriteRequest>>,
    table_name: &str,
) -> (Vec<WriteGroup>, Vec<WriteGroup>) {
    let mut ours = unprocessed.remove(table_name).unwrap_or_default();
    let name = table::name_of(table_name);
    if name != table_name {
        ours.extend(unprocessed.remove(name).unwrap_or_default());
    }
    if unprocessed.values().any(|requests| !requests.is_empty()) {
        return (Vec::new(), groups);
    }
    if ours.is_empty() {
        return (groups, Vec::new());
    }
    let Some(template) = groups.first().map(|g| g.key().clone()) else {
        return (groups, Vec::new());
    };
    let sent: HashSet<&ItemKey> = groups.iter().map(WriteGroup::key).collect();
    let mut left_keys: HashSet<ItemKey> = HashSet::with_capacity(ours.len());
    for request in &ours {
        let key = request
            .put_request
            .as_ref()
            .and_then(|put| template.of_item(&put.item));
        let matched = key.is_some_and(|key| sent.contains(&key) && left_keys.insert(key));
        if !matched {
            return (Vec::new(), groups);
        }
    }
    groups
        .into_iter()
        .partition(|g| !left_keys.contains(g.key()))
}

/// DynamoDB's message for an item over 400 KB (PutItem and BatchWriteItem alike).
const ITEM_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";

const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ReplicatedWriteConflictException",
    "TransactionInProgressException",
    "TransactionConflictException",
];

pub(super) fn classify<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
    endpoint: &str,
) -> Failure {
    match err {
        SdkError::ServiceError(context) => {
            let error = context.err();
            let status = context.raw().status().as_u16();
            let code = error.code().unwrap_or("Unknown").to_owned();
            if status >= 500 || RETRYABLE_CODES.contains(&code.as_str()) {
                Failure::Transient(format!("{code} (HTTP {status})"))
            } else {
                let message = redact::dynamodb_message(error.message().unwrap_or_default());
                Failure::Permanent(WriteError::Rejected { code, message })
            }
        }
        SdkError::TimeoutError(_) => Failure::Transient("request timed out".into()),
        // Transport errors carry no item contents; their causes (DNS, refused, TLS,
        // credentials) are what an operator needs.
        SdkError::DispatchFailure(failure) => Failure::Transient(format!(
            "connection to {endpoint} failed: {}",
            failure
                .as_connector_error()
                .map_or_else(|| "no cause given".to_owned(), |e| crate::error_chain(e))
        )),
        SdkError::ResponseError(_) => Failure::Transient("unreadable response".into()),
        SdkError::ConstructionFailure(_) => Failure::Permanent(WriteError::Rejected {
            code: "ConstructionFailure".into(),
            message: "the request could not be built".into(),
        }),
        _ => Failure::Transient("unknown SDK error".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_is_full_jitter_under_a_ceiling_that_doubles_up_to_the_maximum() {
        let retry = RetryPolicy::default();
        for (attempt, ceiling_ms) in [(0, 25), (1, 50), (3, 200), (6, 1600), (7, 2000), (30, 2000)]
        {
            let delays: Vec<Duration> = (0..200).map(|_| retry.delay(attempt)).collect();
            let ceiling = Duration::from_millis(ceiling_ms);
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter spreads retries over the whole window: some land in each half.
            assert!(delays.iter().any(|d| *d < ceiling / 2), "attempt {attempt}");
            assert!(delays.iter().any(|d| *d > ceiling / 2), "attempt {attempt}");
        }
    }
}
