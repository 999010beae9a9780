//! DynamoDB's error messages, kept for operators with the values some of them quote withheld.
//! Pure.
//!
//! Most of DynamoDB's messages name attributes, types and limits, never values ("The provided
//! key element does not match the schema", "Type mismatch for key PK expected: S actual: N",
//! "Item size has exceeded the maximum allowed size"): those are kept whole. Three kinds quote
//! what was sent, and lose the quoted part here:
//! - set duplicates: "Input collection [a, a] contains duplicates." (the set's members);
//! - numbers: "The parameter cannot be converted to a numeric value: 12a" (dynalite's wording;
//!   DynamoDB's own, "A value provided cannot be converted into a number", quotes nothing);
//! - request validation: "1 validation error detected: Value '...' at 'requestItems...' failed
//!   to satisfy constraint: ..." (the value; the path and the constraint are kept).

/// What replaces a withheld value.
const WITHHELD: &str = "(value withheld)";

/// `message` with every value it may quote withheld.
pub fn dynamodb_message(message: &str) -> String {
    let message = duplicates(message);
    let message = numeric_value(&message);
    constraint_values(&message)
}

/// "Input collection <members> contains duplicates" → "Input collection (value withheld) ...".
fn duplicates(message: &str) -> String {
    const START: &str = "Input collection ";
    const END: &str = "contains duplicates";
    match (message.find(START), message.rfind(END)) {
        (Some(start), Some(end)) if start + START.len() <= end => {
            format!("{}{START}{WITHHELD} {}", &message[..start], &message[end..])
        }
        _ => message.to_owned(),
    }
}

/// "... cannot be converted to a numeric value: <value>" → the value withheld; a message that
/// quotes it may go on (" for key :v"), and that is withheld too, the value's end being unknown.
fn numeric_value(message: &str) -> String {
    const MARK: &str = "cannot be converted to a numeric value";
    match message.find(MARK) {
        Some(at) => format!("{}: {WITHHELD}", &message[..at + MARK.len()]),
        None => message.to_owned(),
    }
}

/// "Value <value> at '<path>' failed to satisfy constraint: <constraint>", one or more of them:
/// each value withheld, each path and constraint kept.
fn constraint_values(message: &str) -> String {
    const VALUE: &str = "Value ";
    const AT: &str = " at '";
    const FAILED: &str = "' failed to satisfy constraint";
    if !message.contains(FAILED) {
        return message.to_owned();
    }
    let Some(first) = message.find(VALUE) else {
        return message.to_owned();
    };
    let mut out = message[..first].to_owned();
    let mut rest = &message[first..];
    // Each error ends where the next "Value " begins after its constraint, or at the end.
    while let Some(failed) = rest.find(FAILED) {
        let Some(at) = rest[..failed].rfind(AT) else {
            break;
        };
        let path = &rest[at + AT.len()..failed];
        let after = &rest[failed + FAILED.len()..];
        let (constraint, next) = match after.find("; Value ") {
            Some(end) => (&after[..end], &after[end + 2..]),
            None => (after, ""),
        };
        out.push_str(&format!("{VALUE}{WITHHELD}{AT}{path}{FAILED}{constraint}"));
        if next.is_empty() {
            return out;
        }
        out.push_str("; ");
        rest = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_without_values_are_kept_whole() {
        for message in [
            "The provided key element does not match the schema",
            "One or more parameter values were invalid: Type mismatch for key PK expected: S actual: N",
            "One or more parameter values were invalid: Missing the key id in the item",
            "Item size has exceeded the maximum allowed size",
            "A value provided cannot be converted into a number",
            "Requested resource not found",
        ] {
            assert_eq!(dynamodb_message(message), message);
        }
    }

    #[test]
    fn set_members_are_withheld() {
        assert_eq!(
            dynamodb_message(
                "One or more parameter values were invalid: Input collection [secret, secret] contains duplicates."
            ),
            "One or more parameter values were invalid: Input collection (value withheld) contains duplicates."
        );
        assert_eq!(
            dynamodb_message("ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: Input collection [x, x]of type BS contains duplicates. for key :v"),
            "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: Input collection (value withheld) contains duplicates. for key :v"
        );
    }

    #[test]
    fn numbers_are_withheld() {
        assert_eq!(
            dynamodb_message("The parameter cannot be converted to a numeric value: 12secret"),
            "The parameter cannot be converted to a numeric value: (value withheld)"
        );
    }

    #[test]
    fn constraint_values_are_withheld_and_paths_kept() {
        let message = "2 validation errors detected: Value 'secret' at 'requestItems.archive.member.1.member.putRequest.item' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 65535]; Value 'also; Value secret' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3";
        let redacted = dynamodb_message(message);
        assert!(!redacted.contains("secret"), "{redacted}");
        assert_eq!(
            redacted,
            "2 validation errors detected: Value (value withheld) at 'requestItems.archive.member.1.member.putRequest.item' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 65535]; Value (value withheld) at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        );
    }
}
