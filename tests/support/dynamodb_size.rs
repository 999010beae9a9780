//! An item's size as DynamoDB counts it, written apart from the library's
//! (`src/archive/item_size.rs`) so that a check built on it does not share the code's
//! assumptions: it reads DynamoDB JSON (`serde_json::Value`), not the SDK's types, and counts a
//! number by another method.
//!
//! The rules are AWS's, "DynamoDB item sizes and formats"
//! (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
//! - an attribute name, and a string, by its UTF-8 bytes (not its characters, not UTF-16 code
//!   units, which is how dynalite counts and why the tests put this rule in front of it);
//! - a binary by its raw bytes (base64 decoded);
//! - null and Boolean: 1 byte;
//! - a list or map: 3 bytes, plus 1 byte per element, plus its elements (a map's keys count as
//!   names);
//! - a number: "approximately 1 byte per two significant digits, plus 1 byte", leading and
//!   trailing zeros trimmed. Exactly, DynamoDB stores base-100 digits: the digits are grouped in
//!   pairs from the decimal point, and each pair that is not all zeros at either end takes a
//!   byte; one more for the exponent, and one more for a negative sign (checked against Amazon's
//!   own DynamoDB Local, ../shared/FACTS.md).
//! - sets, which the page does not describe: the sum of their members (DynamoDB Local agrees).
//!
//! The item limit is 400 KB: 409,600 bytes, names included (AWS's "Constraints").

use serde_json::{Map, Value};

pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// DynamoDB's message for an item over the limit (PutItem and BatchWriteItem).
pub const TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";

/// The size of an item in DynamoDB JSON (`{"name": {"S": "..."}, ...}`).
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of one attribute value in DynamoDB JSON (`{"S": "..."}`).
pub fn value_size(value: &Value) -> usize {
    let (kind, inner) = value
        .as_object()
        .and_then(|typed| typed.iter().next())
        .unwrap_or_else(|| panic!("not an attribute value: {value}"));
    let strings = || {
        inner
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
    };
    match kind.as_str() {
        "S" => inner.as_str().unwrap().len(),
        "N" => number_size(inner.as_str().unwrap()),
        "B" => binary_size(inner.as_str().unwrap()),
        "BOOL" | "NULL" => 1,
        "SS" => strings().map(str::len).sum(),
        "NS" => strings().map(number_size).sum(),
        "BS" => strings().map(binary_size).sum(),
        "L" => {
            let members = inner.as_array().unwrap();
            3 + members.iter().map(|m| 1 + value_size(m)).sum::<usize>()
        }
        "M" => {
            let members = inner.as_object().unwrap();
            3 + members.len() + item_size(members)
        }
        other => panic!("unknown attribute type {other}"),
    }
}

fn binary_size(base64: &str) -> usize {
    aws_smithy_types::base64::decode(base64)
        .expect("base64")
        .len()
}

/// A number's size: its digits written out in full around the decimal point, padded to whole
/// pairs on both sides, the all-zero pairs at either end dropped; a byte per pair left, a byte
/// of exponent, a byte for a minus sign.
pub fn number_size(text: &str) -> usize {
    let negative = text.starts_with('-');
    let unsigned = text.trim_start_matches(['-', '+']);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().expect("exponent")),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // Shift the decimal point by the exponent, writing the digits out in full.
    let mut digits: String = format!("{whole}{fraction}");
    let mut point = whole.len() as i64 + exponent;
    if point < 0 {
        digits = "0".repeat((-point) as usize) + &digits;
        point = 0;
    }
    if point as usize > digits.len() {
        digits.push_str(&"0".repeat(point as usize - digits.len()));
    }
    let (integer, decimals) = digits.split_at(point as usize);
    // Whole pairs on both sides of the point.
    let integer = if integer.len() % 2 == 1 {
        format!("0{integer}")
    } else {
        integer.to_owned()
    };
    let decimals = if decimals.len() % 2 == 1 {
        format!("{decimals}0")
    } else {
        decimals.to_owned()
    };
    let all = format!("{integer}{decimals}");
    let pairs: Vec<&str> = (0..all.len())
        .step_by(2)
        .map(|at| &all[at..at + 2])
        .collect();
    let first = pairs.iter().position(|pair| *pair != "00");
    let last = pairs.iter().rposition(|pair| *pair != "00");
    match (first, last) {
        (Some(first), Some(last)) => last - first + 1 + 1 + usize::from(negative),
        // Zero: the exponent byte alone.
        _ => 1,
    }
}

/// The items a write request (PutItem or BatchWriteItem, its JSON body) puts.
pub fn items_written(request: &Value) -> Vec<&Map<String, Value>> {
    if let Some(item) = request.get("Item").and_then(Value::as_object) {
        return vec![item];
    }
    request
        .get("RequestItems")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|tables| tables.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|write| write.pointer("/PutRequest/Item").and_then(Value::as_object))
        .collect()
}
