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
//! second, when both deletions are on one shard. Both parts are zero-padded decimal digits, so
//! DynamoDB's string comparison (`<` in a condition expression) is the numeric order.

use std::cmp::Ordering;

/// DynamoDB sequence numbers have 21 to 40 digits.
const SEQUENCE_DIGITS: usize = 40;
/// Epoch seconds, padded: 12 digits last until the year 33658.
const SECONDS_DIGITS: usize = 12;
/// Length of every version string: seconds, a dot, the sequence number.
pub const VERSION_LEN: usize = SECONDS_DIGITS + 1 + SEQUENCE_DIGITS;

/// The version of a record created at `created_secs` (epoch seconds) with `sequence_number`;
/// `None` when the sequence number is not 1 to 40 decimal digits.
pub fn archive_version(created_secs: i64, sequence_number: &str) -> Option<String> {
    let digits = sequence_number.trim_start_matches('0');
    let well_formed = !sequence_number.is_empty()
        && digits.len() <= SEQUENCE_DIGITS
        && sequence_number.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| {
        // Built by hand: format!'s padding writes one character at a time, and this runs for
        // every record.
        let seconds = created_secs.max(0).to_string();
        let mut version = String::with_capacity(VERSION_LEN.max(seconds.len() + 41));
        pad_to(&mut version, &seconds, SECONDS_DIGITS);
        version.push('.');
        pad_to(&mut version, digits, SEQUENCE_DIGITS);
        version
    })
}

/// Appends `digits`, left-padded with zeros to `width`.
fn pad_to(out: &mut String, digits: &str, width: usize) {
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.push_str(digits);
}

/// Orders two versions as DynamoDB's condition expression does (byte-wise).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
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
            assert_eq!(v.len(), VERSION_LEN, "{v}");
        }
        assert_eq!(
            compare_versions(&early, &later_smaller_seq),
            Ordering::Less,
            "time decides across shards"
        );
        assert_eq!(
            compare_versions(&later_smaller_seq, &same_second_next),
            Ordering::Less,
            "the sequence number decides within a second"
        );
        assert_eq!(
            later_smaller_seq,
            "001795000001.0000000000000000000100000000000000000000"
        );
    }

    #[test]
    fn sequence_numbers_compare_as_numbers_whatever_their_length() {
        let short = archive_version(5, "99").unwrap();
        let long = archive_version(5, "00100").unwrap();
        assert_eq!(compare_versions(&short, &long), Ordering::Less);
        assert_eq!(archive_version(5, "100"), Some(long));
    }

    #[test]
    fn malformed_sequence_numbers_have_no_version() {
        for bad in ["", "12a", "-5", &"1".repeat(41)] {
            assert_eq!(archive_version(1, bad), None, "{bad}");
        }
        assert!(archive_version(1, &"9".repeat(40)).is_some());
    }

    #[test]
    fn a_missing_creation_time_sorts_first() {
        let missing = archive_version(-3, "5").unwrap();
        assert!(missing.starts_with("000000000000."));
        assert_eq!(
            compare_versions(&missing, &archive_version(1, "1").unwrap()),
            Ordering::Less
        );
    }
}
