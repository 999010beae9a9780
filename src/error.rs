//! Why one record cannot be archived, and how an error's causes are told. Messages never carry
//! attribute values, nor the keys of nested maps, which are often user data (e-mail addresses,
//! user ids).

use serde_path_to_error::{Path, Segment};

use crate::archive::record::Record;
/// Why one selected record cannot be archived. Messages never carry attribute values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the record has no OldImage (stream view type {stream_view_type}); the stream must use OLD_IMAGE or NEW_AND_OLD_IMAGES")]
    NoOldImage { stream_view_type: String },
    #[error("the record has no Keys")]
    NoKeys,
    #[error("key attribute {attribute} is not a string, number or binary")]
    InvalidKey { attribute: String },
    /// `path` names where decoding failed (`dynamodb.OldImage.avatar.B`): attribute names,
    /// never values.
    #[error("the record is not a valid DynamoDB stream record: {category} error at {path} (column {column})")]
    Malformed {
        category: String,
        path: String,
        column: usize,
    },
    #[error("the SequenceNumber is not 1 to 40 decimal digits")]
    InvalidSequenceNumber,
    /// The version leads with the deletion's second: without it a record cannot be ordered
    /// against the key's other deletions (stream records always carry it; a truncated or
    /// hand-edited copy may not).
    #[error("the record has no ApproximateCreationDateTime in epoch seconds (1970 to 2106), which its archive version leads with; it cannot be ordered against the key's other deletions")]
    NoCreationTime,
    #[error("the item already has an attribute {attribute}, which {variable} would replace; set {variable} to a name the items do not use")]
    AttributeCollision {
        attribute: String,
        variable: &'static str,
    },
}

impl RecordError {
    /// Describes why `raw`, a record that failed to deserialise, is malformed: where (the path
    /// of the field or attribute) and what kind of error, never serde's message, which quotes
    /// values. Decodes `raw` again to find the path; only records that failed pay for it.
    pub fn malformed(raw: &str) -> Self {
        let mut json = serde_json::Deserializer::from_str(raw);
        let err = match serde_path_to_error::deserialize::<_, Record>(&mut json) {
            Ok(_) => {
                return RecordError::Malformed {
                    category: "unknown".into(),
                    path: "an unknown place".into(),
                    column: 0,
                }
            }
            Err(err) => err,
        };
        let path = redacted_path(err.path());
        let inner = err.into_inner();
        RecordError::Malformed {
            category: format!("{:?}", inner.classify()).to_lowercase(),
            path,
            column: inner.column(),
        }
    }
}

/// `err` and its causes, outermost first, each said once ("dispatch failure: io error: ...").
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(current) = cause {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        cause = current.source();
    }
    parts.join(": ")
}

/// The path of a decoding error with the keys of nested maps withheld: a map's entries sit
/// under its `M` tag, so a key that follows an `M` is replaced by `<key>`. Top-level attribute
/// names (the table's schema) and type tags stay, so the path still says where to look:
/// `dynamodb.OldImage.prefs.M.<key>.S`.
fn redacted_path(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut after_map_tag = false;
    for segment in path.iter() {
        let part = match segment {
            Segment::Map { key } if after_map_tag => "<key>".to_owned(),
            Segment::Map { key } => key.clone(),
            Segment::Seq { index } => index.to_string(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".to_owned(),
        };
        after_map_tag = matches!(segment, Segment::Map { key } if key == "M");
        parts.push(part);
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_map_keys_are_withheld_from_a_malformed_records_path() {
        let raw = r#"{"eventName":"REMOVE","dynamodb":{"SequenceNumber":"1","Keys":{"PK":{"S":"a"}},
            "OldImage":{"prefs":{"M":{"ada@example.com":{"M":{"bob@example.com":{"S":7}}}}}}}}"#;
        let RecordError::Malformed { path, .. } = RecordError::malformed(raw) else {
            panic!("malformed");
        };
        assert_eq!(path, "dynamodb.OldImage.prefs.M.<key>.M.<key>.S");
        assert!(!path.contains("example.com"), "{path}");
    }
}
