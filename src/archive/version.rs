//! The version an archive item carries: which stream record it came from, in an order that
//! holds across shards and across time. Pure.
//!
//! The live path archives a shard's records in order, so its unconditional puts never go back in
//! time. A replay of a failed batch (the redrive) can: the shard moved on, and a later TTL
//! deletion of the same key (the item re-created and expired again) may already be archived.
//! The redrive therefore writes only when the archive holds no version or an older one.
//!
//! Sequence numbers are ordered within a shard only; a key's two deletions may sit on different
//! shards (shards roll over every few hours). So the version leads with the record's
//! `ApproximateCreationDateTime` (whole seconds), and the sequence number breaks ties within a
//! second, when both deletions are on one shard.
//!
//! The version is a binary (`B`) attribute of fixed width, big-endian, so DynamoDB's byte-wise
//! comparison of binaries (`<` in a condition expression: each byte unsigned) is the numeric
//! order. 21 bytes against the 53 characters of the decimal string it replaces: each byte an
//! archive item carries is paid for in write units (docs/performance.md, "Cost").

use std::cmp::Ordering;

/// Seconds take 4 bytes (a `u32`: until the year 2106).
const SECONDS_BYTES: usize = 4;
/// A sequence number (at most 40 digits) splits into its last 19 digits, which fit a `u64`, and
/// the digits before them (at most 21, which fit 9 bytes). Compared as a pair, high part first,
/// they order as the whole number does, because the low part is always below 10^19.
const HIGH_BYTES: usize = 9;
const LOW_DIGITS: usize = 19;
/// Length of every version, in bytes.
pub const VERSION_LEN: usize = SECONDS_BYTES + HIGH_BYTES + 8;
/// DynamoDB sequence numbers have 21 to 40 digits.
const SEQUENCE_DIGITS: usize = 40;

/// The version of one stream record, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version([u8; VERSION_LEN]);

impl Version {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value stored under the version attribute, and compared in the redrive's condition.
    pub fn attribute_value(&self) -> aws_sdk_dynamodb::types::AttributeValue {
        aws_sdk_dynamodb::types::AttributeValue::B(self.0.to_vec().into())
    }

    /// The second of the deletion this version stands for (epoch seconds).
    pub fn seconds(&self) -> u32 {
        u32::from_be_bytes(self.0[..SECONDS_BYTES].try_into().expect("4 bytes"))
    }

    /// The version an attribute holds as the archiver stores it: a binary, or an earlier
    /// release's decimal string. `None` for anything else (the item's own data).
    pub fn stored(value: &aws_sdk_dynamodb::types::AttributeValue) -> Option<Self> {
        use aws_sdk_dynamodb::types::AttributeValue;
        match value {
            AttributeValue::B(bytes) => Self::from_bytes(bytes.as_ref()),
            AttributeValue::S(text) => Self::from_legacy(text),
            _ => None,
        }
    }

    /// A version read back from the archive; `None` unless it has the version's length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Version)
    }

    /// Reads the decimal string that versions were stored as before they became binary
    /// (`SSSSSSSSSSSS.NNNN…`: 12 digits of seconds, a dot, 40 digits of sequence number), so
    /// that the redrive orders an archive written by an earlier release correctly.
    pub fn from_legacy(text: &str) -> Option<Self> {
        let (seconds, sequence) = text.split_once('.')?;
        let well_formed = seconds.len() == 12
            && sequence.len() == SEQUENCE_DIGITS
            && text
                .bytes()
                .filter(|b| *b != b'.')
                .all(|b| b.is_ascii_digit());
        if !well_formed {
            return None;
        }
        let seconds: i64 = seconds.parse().ok()?;
        archive_version(seconds, sequence)
    }

    /// Whether `stored` is below this version as the archiver's conditions ask DynamoDB
    /// (`#version < :version OR #version < :legacy`): a binary by its bytes, a string by its
    /// UTF-8 bytes against the legacy text, any other type never. Dry runs use it to say what
    /// the condition will decide.
    pub fn is_above(&self, stored: &aws_sdk_dynamodb::types::AttributeValue) -> bool {
        use aws_sdk_dynamodb::types::AttributeValue;
        match stored {
            AttributeValue::B(bytes) => bytes.as_ref() < self.as_bytes(),
            AttributeValue::S(text) => text.as_str() < self.legacy_text().as_str(),
            _ => false,
        }
    }

    /// The decimal string an earlier release stored for the same record: the redrive's
    /// condition compares it with archive items that still carry one.
    pub fn legacy_text(&self) -> String {
        let seconds = self.seconds();
        let mut high = [0u8; 16];
        high[16 - HIGH_BYTES..].copy_from_slice(&self.0[SECONDS_BYTES..SECONDS_BYTES + HIGH_BYTES]);
        let high = u128::from_be_bytes(high);
        let low = u64::from_be_bytes(self.0[SECONDS_BYTES + HIGH_BYTES..].try_into().expect("8"));
        format!("{seconds:012}.{high:021}{low:019}")
    }
}

/// The version of a record created at `created_secs` (epoch seconds) with `sequence_number`;
/// `None` when the sequence number is not 1 to 40 decimal digits.
pub fn archive_version(created_secs: i64, sequence_number: &str) -> Option<Version> {
    let digits = sequence_number.trim_start_matches('0');
    let well_formed = !sequence_number.is_empty()
        && digits.len() <= SEQUENCE_DIGITS
        && sequence_number.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let split = digits.len().saturating_sub(LOW_DIGITS);
    let (high, low) = digits.split_at(split);
    // Both parts are plain digits of bounded length: these parses cannot fail (an empty part
    // is zero).
    let high: u128 = if high.is_empty() {
        0
    } else {
        high.parse().ok()?
    };
    let low: u64 = if low.is_empty() { 0 } else { low.parse().ok()? };
    let seconds = u32::try_from(created_secs.max(0)).unwrap_or(u32::MAX);
    let mut bytes = [0u8; VERSION_LEN];
    bytes[..SECONDS_BYTES].copy_from_slice(&seconds.to_be_bytes());
    bytes[SECONDS_BYTES..SECONDS_BYTES + HIGH_BYTES]
        .copy_from_slice(&high.to_be_bytes()[16 - HIGH_BYTES..]);
    bytes[SECONDS_BYTES + HIGH_BYTES..].copy_from_slice(&low.to_be_bytes());
    Some(Version(bytes))
}

/// Orders two stored versions as DynamoDB's condition expression does (byte-wise, unsigned).
pub fn compare_versions(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_have_one_length_and_sort_by_time_then_sequence() {
        let early = archive_version(1_795_000_000, "99999999999999999999999").unwrap();
        let later_smaller_seq = archive_version(1_795_000_001, "100000000000000000000").unwrap();
        let same_second_next = archive_version(1_795_000_001, "100000000000000000001").unwrap();
        for v in [&early, &later_smaller_seq, &same_second_next] {
            assert_eq!(v.as_bytes().len(), VERSION_LEN);
        }
        assert_eq!(
            compare_versions(early.as_bytes(), later_smaller_seq.as_bytes()),
            Ordering::Less,
            "time decides across shards"
        );
        assert_eq!(
            compare_versions(later_smaller_seq.as_bytes(), same_second_next.as_bytes()),
            Ordering::Less,
            "the sequence number decides within a second"
        );
        assert_eq!(VERSION_LEN, 21);
    }

    #[test]
    fn sequence_numbers_compare_as_numbers_whatever_their_length() {
        let cases = [
            "99",
            "00100",
            "9999999999999999999",
            "10000000000000000000",
            "10000000000000000001",
            "99999999999999999999999999999999999999",
            "100000000000000000000000000000000000000",
            &"9".repeat(40),
        ];
        for pair in cases.windows(2) {
            let (a, b) = (
                archive_version(5, pair[0]).unwrap(),
                archive_version(5, pair[1]).unwrap(),
            );
            assert_eq!(a.cmp(&b), Ordering::Less, "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(archive_version(5, "100"), archive_version(5, "00100"));
    }

    #[test]
    fn malformed_sequence_numbers_have_no_version() {
        for bad in ["", "12a", "-5", "+5", &"1".repeat(41)] {
            assert_eq!(archive_version(1, bad), None, "{bad}");
        }
        assert!(archive_version(1, &"9".repeat(40)).is_some());
        assert!(archive_version(1, &format!("000{}", "9".repeat(40))).is_some());
    }

    #[test]
    fn a_missing_creation_time_sorts_first() {
        let missing = archive_version(-3, "5").unwrap();
        assert_eq!(&missing.as_bytes()[..4], &[0, 0, 0, 0]);
        assert!(missing < archive_version(1, "1").unwrap());
    }

    #[test]
    fn legacy_decimal_versions_read_back_as_the_same_version() {
        let version = archive_version(1_795_000_001, "100000000000000000000").unwrap();
        let text = version.legacy_text();
        assert_eq!(
            text,
            "001795000001.0000000000000000000100000000000000000000"
        );
        assert_eq!(Version::from_legacy(&text), Some(version));
        let long = archive_version(7, &"9".repeat(40)).unwrap();
        assert_eq!(Version::from_legacy(&long.legacy_text()), Some(long));
        for bad in [
            "",
            "1.2",
            "001795000001-0000000000000000000100000000000000000000",
        ] {
            assert_eq!(Version::from_legacy(bad), None, "{bad}");
        }
        assert_eq!(Version::from_bytes(version.as_bytes()), Some(version));
        assert_eq!(Version::from_bytes(&[1, 2, 3]), None);
    }
}
