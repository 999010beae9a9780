//! The restore's DynamoDB adapter: the two tables' key schemas and the source's TTL, reading the
//! archive (by key, or a segment of a scan), and the conditional writes that never overwrite
//! what they must not.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, TimeToLiveStatus};
use aws_sdk_dynamodb::Client;

use crate::archive::redact;
use crate::archive::version::Version;
use crate::error_chain;
use crate::restore::item::Item;
use crate::restore::selection::{DeletionWindow, Key, KeySchema};

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The condition refused it: the item was there (a put), or had changed (a delete).
    Refused,
}

#[derive(Debug, Clone)]
pub struct Tables {
    client: Client,
    archive: String,
    source: String,
}

/// Names an attribute in an expression: names may be reserved words or hold any character.
fn name(n: &str) -> (String, String) {
    (format!("#{}", n.len()), n.to_owned())
}

/// Why a request failed, with any value DynamoDB's message quotes withheld.
fn reason(err: &(dyn std::error::Error + 'static)) -> String {
    redact::dynamodb_message(&error_chain(err))
}

fn refused<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl Tables {
    pub fn new(client: Client, archive: &str, source: &str) -> Self {
        Tables {
            client,
            archive: archive.to_owned(),
            source: source.to_owned(),
        }
    }

    pub async fn archive_key_schema(&self) -> Result<KeySchema, String> {
        self.key_schema(&self.archive).await
    }

    pub async fn source_key_schema(&self) -> Result<KeySchema, String> {
        self.key_schema(&self.source).await
    }

    async fn key_schema(&self, table: &str) -> Result<KeySchema, String> {
        let described = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|err| format!("cannot describe {table}: {}", reason(&err)))?;
        let table_description = described.table().ok_or("no table description")?;
        let mut schema = Vec::new();
        let mut elements = table_description.key_schema().to_vec();
        elements.sort_by_key(|e| e.key_type() != &KeyType::Hash);
        for element in elements {
            let kind = table_description
                .attribute_definitions()
                .iter()
                .find(|d| d.attribute_name() == element.attribute_name())
                .map(|d| d.attribute_type().clone())
                .ok_or_else(|| format!("{table}: no type for {}", element.attribute_name()))?;
            schema.push((element.attribute_name().to_owned(), kind));
        }
        Ok(KeySchema(schema))
    }

    /// The source's TTL attribute, when TTL is on (or being turned on).
    pub async fn source_ttl_attribute(&self) -> Result<Option<String>, String> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&self.source)
            .send()
            .await
            .map_err(|err| format!("cannot read the TTL of {}: {}", self.source, reason(&err)))?;
        Ok(described.time_to_live_description().and_then(|d| {
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
            .then(|| d.attribute_name().map(str::to_owned))
            .flatten()
        }))
    }

    pub async fn archived(&self, key: &Key) -> Result<Option<Item>, String> {
        let got = self
            .client
            .get_item()
            .table_name(&self.archive)
            .set_key(Some(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| reason(&err))?;
        Ok(got.item)
    }

    /// The live item of this key in the source, if any (for a dry run, which judges it as the
    /// run's condition would).
    pub async fn live_item(&self, key: &Key) -> Result<Option<Item>, String> {
        let got = self
            .client
            .get_item()
            .table_name(&self.source)
            .set_key(Some(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| reason(&err))?;
        Ok(got.item)
    }

    /// One page of segment `segment` of `segments` of the archive, from `start`, with only the
    /// items whose version lies in `window` when given (binary, or an earlier release's decimal
    /// string), and those without a version, whose deletion time cannot be known: the caller
    /// reports them. Returns the items and where the next page starts.
    pub async fn scan_page(
        &self,
        segment: u32,
        segments: u32,
        window: Option<&DeletionWindow>,
        version_attribute: &str,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<(Vec<Item>, Option<HashMap<String, AttributeValue>>), String> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.archive)
            .segment(segment as i32)
            .total_segments(segments as i32)
            .set_exclusive_start_key(start);
        if let Some(window) = window {
            let (placeholder, version) = name(version_attribute);
            let (low, high) = window.version_bounds();
            let (legacy_low, legacy_high) = window.legacy_bounds();
            // Each comparison behind its type: DynamoDB finds a binary and a string unequal, but
            // an emulator may fail on comparing them.
            scan = scan
                .filter_expression(format!(
                    "(attribute_type({placeholder}, :binary) AND {placeholder} BETWEEN :low AND :high) \
                     OR (attribute_type({placeholder}, :string) AND {placeholder} BETWEEN :legacyLow AND :legacyHigh) \
                     OR attribute_not_exists({placeholder})"
                ))
                .expression_attribute_values(":binary", AttributeValue::S("B".into()))
                .expression_attribute_values(":string", AttributeValue::S("S".into()))
                .expression_attribute_names(placeholder, version)
                .expression_attribute_values(":low", AttributeValue::B(low.to_vec().into()))
                .expression_attribute_values(":high", AttributeValue::B(high.to_vec().into()))
                .expression_attribute_values(":legacyLow", AttributeValue::S(legacy_low))
                .expression_attribute_values(":legacyHigh", AttributeValue::S(legacy_high));
        }
        let page = scan.send().await.map_err(|err| reason(&err))?;
        Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
    }

    /// Puts `item` into the source where no item of its key is. With `overwrite`, also over an
    /// item without `version_attribute` (where it came from cannot be known) or with an older
    /// version than `version`.
    pub async fn put_into_source(
        &self,
        item: Item,
        key_attribute: &str,
        overwrite: Option<(&str, Option<Version>)>,
    ) -> Result<Written, String> {
        let (key_placeholder, key_name) = name(key_attribute);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.source)
            .set_item(Some(item))
            .expression_attribute_names(&key_placeholder, key_name);
        let condition = match overwrite {
            None => format!("attribute_not_exists({key_placeholder})"),
            Some((version_attribute, version)) => {
                let (placeholder, version_name) =
                    (format!("#v{}", version_attribute.len()), version_attribute);
                put = put.expression_attribute_names(&placeholder, version_name);
                match version {
                    // A live item may hold an earlier release's decimal string, which `:legacy`
                    // orders; a binary never compares with a string.
                    Some(version) => {
                        put = put
                            .expression_attribute_values(":version", version.attribute_value())
                            .expression_attribute_values(
                                ":legacy",
                                AttributeValue::S(version.legacy_text()),
                            );
                        format!(
                            "attribute_not_exists({key_placeholder}) OR attribute_not_exists({placeholder}) OR {placeholder} < :version OR {placeholder} < :legacy"
                        )
                    }
                    None => format!(
                        "attribute_not_exists({key_placeholder}) OR attribute_not_exists({placeholder})"
                    ),
                }
            }
        };
        match put.condition_expression(condition).send().await {
            Ok(_) => Ok(Written::Done),
            Err(err) if refused(&err) => Ok(Written::Refused),
            Err(err) => Err(reason(&err)),
        }
    }

    /// Deletes the archived copy of `key`, only while it still holds `stored`, the version
    /// attribute as it was read (binary, or an earlier release's string; or, archived without
    /// one, still none).
    pub async fn remove_from_archive(
        &self,
        key: Key,
        version_attribute: &str,
        stored: Option<AttributeValue>,
    ) -> Result<Written, String> {
        let (placeholder, version_name) = name(version_attribute);
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.archive)
            .set_key(Some(key))
            .expression_attribute_names(&placeholder, version_name);
        delete = match stored {
            Some(stored) => delete
                .condition_expression(format!("{placeholder} = :version"))
                .expression_attribute_values(":version", stored),
            None => delete.condition_expression(format!("attribute_not_exists({placeholder})")),
        };
        match delete.send().await {
            Ok(_) => Ok(Written::Done),
            Err(err) if refused(&err) => Ok(Written::Refused),
            Err(err) => Err(reason(&err)),
        }
    }
}
