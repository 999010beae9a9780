//! A DynamoDB stream record as the archiver reads it: the fields it needs, with the key and the
//! old image decoded straight into the SDK's `AttributeValue`. Pure.
//!
//! aws_lambda_events' `EventRecord` decodes every field, and its images into serde_dynamo's
//! representation, which then has to be converted (each map rebuilt and rehashed) into the
//! SDK's: measured, that was about a tenth of the CPU a batch takes (docs/performance.md). The
//! identity keeps aws_lambda_events' type.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use aws_lambda_events::event::dynamodb::UserIdentity;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// One record of a stream event.
#[derive(Debug, Deserialize)]
pub struct Record<'a> {
    #[serde(rename = "eventName", borrow)]
    pub event_name: Cow<'a, str>,
    #[serde(rename = "userIdentity", default)]
    pub user_identity: Option<UserIdentity>,
    #[serde(rename = "dynamodb")]
    pub change: Change,
}

/// The `dynamodb` object of a record.
#[derive(Debug, Default, Deserialize)]
pub struct Change {
    /// Epoch seconds (DynamoDB sends a number, sometimes with a fraction).
    #[serde(rename = "ApproximateCreationDateTime", default)]
    pub approximate_creation_date_time: Option<f64>,
    #[serde(rename = "Keys", default)]
    pub keys: Image,
    /// Empty when the stream carries no old image (or `null`).
    #[serde(rename = "OldImage", default)]
    pub old_image: Image,
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: Option<String>,
    /// As sent, e.g. `KEYS_ONLY`.
    #[serde(rename = "StreamViewType", default)]
    pub stream_view_type: Option<String>,
}

/// An item in DynamoDB JSON (`{"name": {"S": "value"}, ...}`); `null` reads as empty.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Image(pub HashMap<String, AttributeValue>);

impl<'de> Deserialize<'de> for Image {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(ImageVisitor)
    }
}

struct ImageVisitor;

impl<'de> Visitor<'de> for ImageVisitor {
    type Value = Image;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DynamoDB item (a map of attribute values) or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Image, E> {
        Ok(Image::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Image, E> {
        Ok(Image::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Image, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Image, A::Error> {
        let mut item = HashMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            item.insert(name, value.0);
        }
        Ok(Image(item))
    }
}

/// One attribute value in DynamoDB JSON: an object with exactly one type key.
struct Value(AttributeValue);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ValueVisitor)
    }
}

struct ValueVisitor;

/// DynamoDB's attribute types.
const TYPES: &[&str] = &["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"];

/// A base64 string (B, and each member of BS), decoded.
struct Binary(Blob);

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        aws_smithy_types::base64::decode(text.as_ref())
            .map(|bytes| Binary(Blob::new(bytes)))
            .map_err(|_| de::Error::custom("not valid base64"))
    }
}

/// The members of an L value.
struct List(Vec<AttributeValue>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = List;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of attribute values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<Value>()? {
                    values.push(value.0);
                }
                Ok(List(values))
            }
        }
        deserializer.deserialize_seq(ListVisitor)
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value such as {\"S\": \"text\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(kind) = map.next_key::<Cow<'de, str>>()? else {
            return Err(de::Error::custom("an attribute value has no type"));
        };
        let value = match kind.as_ref() {
            "S" => AttributeValue::S(map.next_value()?),
            // Numbers stay the decimal strings DynamoDB sent.
            "N" => AttributeValue::N(map.next_value()?),
            "B" => AttributeValue::B(map.next_value::<Binary>()?.0),
            "BOOL" => AttributeValue::Bool(map.next_value()?),
            "NULL" => AttributeValue::Null(map.next_value()?),
            "SS" => AttributeValue::Ss(map.next_value()?),
            "NS" => AttributeValue::Ns(map.next_value()?),
            "BS" => AttributeValue::Bs(
                map.next_value::<Vec<Binary>>()?
                    .into_iter()
                    .map(|b| b.0)
                    .collect(),
            ),
            "L" => AttributeValue::L(map.next_value::<List>()?.0),
            "M" => AttributeValue::M(map.next_value::<Image>()?.0),
            other => return Err(de::Error::unknown_variant(other, TYPES)),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "an attribute value has more than one type",
            ));
        }
        Ok(Value(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(json: &str) -> Result<Image, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn every_type_is_read_into_the_sdks_values() {
        let item = image(
            r#"{"s": {"S": "héllo"}, "n": {"N": "-1.50E+3"}, "b": {"B": "AAEC/w=="},
                "t": {"BOOL": true}, "z": {"NULL": true}, "ss": {"SS": ["a", "b"]},
                "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AQ==", ""]},
                "l": {"L": [{"S": "x"}, {"L": []}, {"M": {}}]},
                "m": {"M": {"inner": {"N": "99999999999999999999999999999999999999"}}}}"#,
        )
        .unwrap()
        .0;
        assert_eq!(item["s"], AttributeValue::S("héllo".into()));
        assert_eq!(item["n"], AttributeValue::N("-1.50E+3".into()));
        assert_eq!(item["b"], AttributeValue::B(Blob::new(vec![0, 1, 2, 255])));
        assert_eq!(item["t"], AttributeValue::Bool(true));
        assert_eq!(item["z"], AttributeValue::Null(true));
        assert_eq!(item["ss"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(
            item["ns"],
            AttributeValue::Ns(vec!["1".into(), "2.5".into()])
        );
        assert_eq!(
            item["bs"],
            AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(Vec::new())])
        );
        assert_eq!(
            item["l"],
            AttributeValue::L(vec![
                AttributeValue::S("x".into()),
                AttributeValue::L(vec![]),
                AttributeValue::M(HashMap::new())
            ])
        );
        assert_eq!(
            item["m"].as_m().unwrap()["inner"],
            AttributeValue::N("99999999999999999999999999999999999999".into())
        );
    }

    #[test]
    fn null_and_absent_images_are_empty() {
        assert!(image("null").unwrap().0.is_empty());
        let change: Change = serde_json::from_str(r#"{"Keys": {"PK": {"S": "a"}}}"#).unwrap();
        assert!(change.old_image.0.is_empty());
        let change: Change = serde_json::from_str(r#"{"OldImage": null}"#).unwrap();
        assert!(change.old_image.0.is_empty());
    }

    #[test]
    fn malformed_values_are_errors() {
        for bad in [
            r#"{"a": {"B": "not base64!!"}}"#,
            r#"{"a": {"X": "1"}}"#,
            r#"{"a": {}}"#,
            r#"{"a": {"S": "x", "N": "1"}}"#,
            r#"{"a": {"N": 1}}"#,
            r#"{"a": "plain"}"#,
        ] {
            assert!(image(bad).is_err(), "{bad}");
        }
    }
}
