//! Planning the writes of one batch: one item per key, in requests DynamoDB accepts. Pure.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::archive::key::ItemKey;
use crate::archive::project::ArchiveItem;

/// BatchWriteItem takes at most 25 put requests.
pub const MAX_ITEMS_PER_REQUEST: usize = 25;
/// BatchWriteItem takes at most 16 MB; the margin leaves room for the request envelope.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024 - 64 * 1024;

/// The item to write for one key, and the records it stands for: they are archived, or fail,
/// together, because two puts of one key in one request reject the whole request.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteGroup {
    pub item: ArchiveItem,
    /// Older records of the same key, replaced by `item`.
    pub superseded: Vec<String>,
}

impl WriteGroup {
    pub fn key(&self) -> &ItemKey {
        &self.item.key
    }

    /// The key's attributes, as the item holds them (a GetItem's `Key`).
    pub fn key_attributes(&self) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        self.key()
            .names()
            .iter()
            .filter_map(|name| Some((name.clone(), self.item.item.get(name)?.clone())))
            .collect()
    }

    pub fn sequence_numbers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.item.sequence_number.as_str())
            .chain(self.superseded.iter().map(String::as_str))
    }

    pub fn record_count(&self) -> usize {
        1 + self.superseded.len()
    }
}

/// Keeps, for each key, the item of the record with the highest sequence number.
pub fn dedupe(items: Vec<ArchiveItem>) -> Vec<WriteGroup> {
    // Keys come from the table, not from an adversary: a fast hasher will do (SipHash, the
    // default, was a visible share of planning).
    let mut index: HashMap<ItemKey, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(items.len(), Default::default());
    let mut groups: Vec<WriteGroup> = Vec::with_capacity(items.len());
    for item in items {
        match index.get(&item.key) {
            Some(&at) => {
                let group = &mut groups[at];
                if compare_sequence_numbers(&item.sequence_number, &group.item.sequence_number)
                    == Ordering::Greater
                {
                    let older = std::mem::replace(&mut group.item, item);
                    group.superseded.push(older.sequence_number);
                } else {
                    group.superseded.push(item.sequence_number);
                }
            }
            None => {
                index.insert(item.key.clone(), groups.len());
                groups.push(WriteGroup {
                    item,
                    superseded: Vec::new(),
                });
            }
        }
    }
    groups
}

/// Sequence numbers are decimal strings of varying length: compare them as numbers.
pub fn compare_sequence_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Splits groups, in order, into requests of at most `max_items` items and `max_bytes` bytes.
/// A single item larger than `max_bytes` still gets a request of its own: DynamoDB decides.
pub fn chunk(groups: Vec<WriteGroup>, max_items: usize, max_bytes: usize) -> Vec<Vec<WriteGroup>> {
    let mut chunks = Vec::with_capacity(groups.len().div_ceil(max_items.max(1)));
    let mut current: Vec<WriteGroup> = Vec::new();
    let mut current_bytes = 0;
    for group in groups {
        let bytes = group.item.request_bytes;
        if !current.is_empty() && (current.len() >= max_items || current_bytes + bytes > max_bytes)
        {
            chunks.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += bytes;
        current.push(group);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(pk: &str, seq: &str, bytes: usize) -> ArchiveItem {
        let keys = [("PK".to_string(), AttributeValue::S(pk.into()))].into();
        ArchiveItem {
            sequence_number: seq.into(),
            version: crate::archive::version::archive_version(0, seq).unwrap(),
            key: ItemKey::of_keys(&keys).unwrap(),
            item: [
                ("PK".to_string(), AttributeValue::S(pk.into())),
                ("seq".to_string(), AttributeValue::N(seq.into())),
            ]
            .into(),
            request_bytes: bytes,
            dropped: Default::default(),
        }
    }

    #[test]
    fn distinct_keys_are_kept_in_order() {
        let groups = dedupe(vec![
            item("a", "1", 1),
            item("b", "2", 1),
            item("c", "3", 1),
        ]);
        let seqs: Vec<_> = groups
            .iter()
            .map(|g| g.item.sequence_number.as_str())
            .collect();
        assert_eq!(seqs, ["1", "2", "3"]);
        assert!(groups.iter().all(|g| g.superseded.is_empty()));
    }

    #[test]
    fn highest_sequence_number_wins_whatever_the_order() {
        let groups = dedupe(vec![
            item("a", "900", 1),
            item("b", "5", 1),
            item("a", "1000", 1),
            item("a", "0950", 1),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].item.sequence_number, "1000");
        assert_eq!(groups[0].item.item["seq"], AttributeValue::N("1000".into()));
        let mut all: Vec<_> = groups[0].sequence_numbers().collect();
        all.sort();
        assert_eq!(all, ["0950", "1000", "900"]);
        assert_eq!(groups[0].record_count(), 3);
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(compare_sequence_numbers("99", "100"), Ordering::Less);
        assert_eq!(compare_sequence_numbers("000100", "100"), Ordering::Equal);
        assert_eq!(
            compare_sequence_numbers(
                "111111111111111111111111111111111111111",
                "99999999999999999999"
            ),
            Ordering::Greater
        );
    }

    #[test]
    fn chunks_hold_at_most_25_items() {
        let groups = dedupe(
            (0..101)
                .map(|i| item(&i.to_string(), &i.to_string(), 10))
                .collect(),
        );
        let chunks = chunk(groups, MAX_ITEMS_PER_REQUEST, MAX_REQUEST_BYTES);
        let sizes: Vec<_> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [25, 25, 25, 25, 1]);
    }

    #[test]
    fn exactly_n_over_25_requests_for_n_keys() {
        for n in [1usize, 24, 25, 26, 50, 1000] {
            let groups = dedupe((0..n).map(|i| item(&i.to_string(), "1", 10)).collect());
            assert_eq!(
                chunk(groups, 25, MAX_REQUEST_BYTES).len(),
                n.div_ceil(25),
                "{n}"
            );
        }
    }

    #[test]
    fn chunks_respect_the_byte_limit() {
        let groups = dedupe((0..10).map(|i| item(&i.to_string(), "1", 400)).collect());
        let chunks = chunk(groups, 25, 1000);
        assert!(chunks
            .iter()
            .all(|c| c.iter().map(|g| g.item.request_bytes).sum::<usize>() <= 1000));
        assert_eq!(chunks.len(), 5);
        let oversized = dedupe(vec![item("big", "1", 5000), item("small", "2", 1)]);
        let chunks = chunk(oversized, 25, 1000);
        assert_eq!(chunks.len(), 2);
    }

    #[test]
    fn no_chunk_holds_a_key_twice() {
        let items = (0..200)
            .map(|i| item(&(i % 30).to_string(), &i.to_string(), 1))
            .collect();
        for c in chunk(dedupe(items), 25, MAX_REQUEST_BYTES) {
            let keys: std::collections::HashSet<_> = c.iter().map(WriteGroup::key).collect();
            assert_eq!(keys.len(), c.len());
        }
    }
}
