//! The primary key of an archive item, comparable across the stream's and the SDK's value types.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::RecordError;

/// Key attribute names (sorted) and an unambiguous encoding of their values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    names: Vec<String>,
    encoded: Vec<u8>,
}

enum Part<'a> {
    S(&'a str),
    N(&'a str),
    B(&'a [u8]),
}

impl ItemKey {
    /// The key from a stream record's `Keys`; key attributes can only be S, N or B.
    pub fn of_keys(keys: &HashMap<String, AttributeValue>) -> Result<Self, RecordError> {
        Self::build(keys.iter().map(|(name, value)| {
            let part = match value {
                AttributeValue::S(s) => Part::S(s),
                AttributeValue::N(n) => Part::N(n),
                AttributeValue::B(b) => Part::B(b.as_ref()),
                _ => {
                    return Err(RecordError::InvalidKey {
                        attribute: name.clone(),
                    })
                }
            };
            Ok((name.as_str(), part))
        }))
    }

    /// The key of an item the writer sent, named by an earlier key; `None` if the item lacks it.
    pub fn of_item(&self, item: &HashMap<String, AttributeValue>) -> Option<Self> {
        Self::build(self.names.iter().map(|name| {
            let part = match item.get(name) {
                Some(AttributeValue::S(s)) => Part::S(s),
                Some(AttributeValue::N(n)) => Part::N(n),
                Some(AttributeValue::B(b)) => Part::B(b.as_ref()),
                _ => return Err(RecordError::NoKeys),
            };
            Ok((name.as_str(), part))
        }))
        .ok()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn build<'a>(
        parts: impl Iterator<Item = Result<(&'a str, Part<'a>), RecordError>>,
    ) -> Result<Self, RecordError> {
        let mut parts = parts.collect::<Result<Vec<_>, _>>()?;
        if parts.is_empty() {
            return Err(RecordError::NoKeys);
        }
        parts.sort_by(|a, b| a.0.cmp(b.0));
        let mut encoded = Vec::new();
        let mut names = Vec::with_capacity(parts.len());
        for (name, part) in parts {
            let (tag, bytes) = match part {
                Part::S(s) => (b'S', s.as_bytes()),
                Part::N(n) => (b'N', n.as_bytes()),
                Part::B(b) => (b'B', b),
            };
            // Length prefixes keep ("ab","c") and ("a","bc") apart.
            encoded.extend_from_slice(&(name.len() as u32).to_le_bytes());
            encoded.extend_from_slice(name.as_bytes());
            encoded.push(tag);
            encoded.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            encoded.extend_from_slice(bytes);
            names.push(name.to_owned());
        }
        Ok(ItemKey { names, encoded })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_keys(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn keys_and_items_holding_one_key_are_equal() {
        let key = ItemKey::of_keys(&stream_keys(&[
            ("pk", AttributeValue::S("a".into())),
            ("sk", AttributeValue::N("1".into())),
        ]))
        .unwrap();
        let item: HashMap<String, AttributeValue> = [
            ("sk".to_string(), AttributeValue::N("1".into())),
            ("pk".to_string(), AttributeValue::S("a".into())),
            ("other".to_string(), AttributeValue::Bool(true)),
        ]
        .into();
        assert_eq!(key.of_item(&item), Some(key.clone()));
        assert_eq!(key.names(), ["pk", "sk"]);
    }

    #[test]
    fn values_are_not_confused_across_attributes_or_types() {
        let ab_c = ItemKey::of_keys(&stream_keys(&[
            ("a", AttributeValue::S("ab".into())),
            ("b", AttributeValue::S("c".into())),
        ]));
        let a_bc = ItemKey::of_keys(&stream_keys(&[
            ("a", AttributeValue::S("a".into())),
            ("b", AttributeValue::S("bc".into())),
        ]));
        assert_ne!(ab_c.unwrap(), a_bc.unwrap());
        let s1 = ItemKey::of_keys(&stream_keys(&[("a", AttributeValue::S("1".into()))]));
        let n1 = ItemKey::of_keys(&stream_keys(&[("a", AttributeValue::N("1".into()))]));
        assert_ne!(s1.unwrap(), n1.unwrap());
    }

    #[test]
    fn non_scalar_key_values_are_rejected() {
        let err = ItemKey::of_keys(&stream_keys(&[("a", AttributeValue::Bool(true))])).unwrap_err();
        assert_eq!(
            err,
            RecordError::InvalidKey {
                attribute: "a".into()
            }
        );
        assert_eq!(
            ItemKey::of_keys(&HashMap::new()).unwrap_err(),
            RecordError::NoKeys
        );
    }
}
