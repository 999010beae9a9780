//! An item's size as DynamoDB counts it against the 400 KB item limit and in write units. Pure.
//!
//! The rules are AWS's ("DynamoDB item sizes and formats", CapacityUnitCalculations): attribute
//! names and strings by their UTF-8 bytes, binaries by their raw bytes, null and Boolean 1 byte,
//! a list or map 3 bytes plus 1 per element, sets the sum of their elements. For numbers AWS
//! gives "about 1 byte per two significant digits, plus 1"; the exact count used here is
//! DynamoDB's base-100 encoding as the local DynamoDB (dynalite) models it, which never counts
//! less than AWS's approximation, so an item judged to fit does.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// The largest item DynamoDB stores: 400 KB, attribute names included.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// One write unit covers an item of up to 1 KB.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// The size of `item`: its attribute names and values.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| attribute_size(name, value))
        .sum()
}

/// The size one attribute adds to an item.
pub fn attribute_size(name: &str, value: &AttributeValue) -> usize {
    name.len() + value_size(value)
}

/// Write units for one put of an item of `bytes` (standard writes, no transactions).
pub fn write_units(bytes: usize) -> usize {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, value)| 1 + attribute_size(name, value))
                .sum::<usize>()
        }
        // A type this SDK does not know: count it as a string of its debug form would be a guess;
        // counting nothing could let an oversized item through, so count generously.
        _ => MAX_ITEM_BYTES,
    }
}

/// DynamoDB stores a number as base-100 digits: one byte per pair of significant decimal digits
/// (pairs aligned on the decimal point), one byte of exponent, one more for a negative sign.
pub fn number_size(number: &str) -> usize {
    let (negative, unsigned) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (
            &unsigned[..at],
            unsigned[at + 1..].parse::<i64>().unwrap_or(0),
        ),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || whole.bytes().chain(fraction.bytes());
    let Some(first) = digits().position(|d| d != b'0') else {
        return 1;
    };
    let last = digits().count() - 1 - digits().rev().position(|d| d != b'0').unwrap_or(0);
    let significant = last - first + 1;
    // The power of ten of the first significant digit.
    let magnitude = whole.len() as i64 - 1 - first as i64 + exponent;
    let unaligned = significant % 2 == 1 || magnitude.rem_euclid(2) == 1;
    1 + significant.div_ceil(2) + usize::from(!unaligned) + usize::from(negative)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_owned())
    }

    #[test]
    fn numbers_count_pairs_of_significant_digits() {
        // Values dynalite's formula gives (db/index.js, valSize).
        for (number, size) in [
            ("0", 1),
            ("0.000", 1),
            ("1", 2),
            ("12", 2),
            ("120", 3),
            ("1200", 2),
            ("123", 3),
            ("1234", 3),
            ("-1", 3),
            ("12.5", 3),
            ("1.5E+3", 2),
            ("0012", 2),
            ("1700000000", 2),
            ("1795000000", 3),
            ("99999999999999999999999999999999999999", 20),
            ("-0.000000000000000000000000000000000000001", 3),
            ("42E-7", 3),
            ("1.05", 3),
            ("100.5", 4),
        ] {
            assert_eq!(number_size(number), size, "{number}");
        }
    }

    #[test]
    fn never_less_than_aws_approximation() {
        for number in ["1", "12", "123", "1.5", "-0.001", "1234567", "42E-7"] {
            let digits = number
                .chars()
                .take_while(|c| *c != 'E')
                .filter(char::is_ascii_digit)
                .collect::<String>();
            let significant = digits.trim_matches('0').len();
            assert!(number_size(number) > significant / 2, "{number}");
        }
    }

    #[test]
    fn items_count_names_values_and_nesting() {
        let item = HashMap::from([
            ("PK".to_owned(), AttributeValue::S("ab✓".into())),
            ("n".to_owned(), n("12")),
            ("b".to_owned(), AttributeValue::B(vec![1u8, 2, 3].into())),
            ("t".to_owned(), AttributeValue::Bool(true)),
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::Null(true), n("1")]),
            ),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "k".to_owned(),
                    AttributeValue::S("v".into()),
                )])),
            ),
            (
                "ss".to_owned(),
                AttributeValue::Ss(vec!["a".into(), "bc".into()]),
            ),
        ]);
        let expected = (2 + 5) // "ab✓" is 5 UTF-8 bytes
            + (1 + 2)
            + (1 + 3)
            + (1 + 1)
            + (1 + 3 + (1 + 1) + (1 + 2))
            + (1 + 3 + (1 + 1 + 1))
            + (2 + 3);
        assert_eq!(item_size(&item), expected);
    }

    #[test]
    fn write_units_round_up_per_kilobyte() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(MAX_ITEM_BYTES), 400);
    }
}
