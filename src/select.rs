//! Which stream records are TTL deletions.

use aws_lambda_events::event::dynamodb::UserIdentity;

use crate::record::Record;

const TTL_IDENTITY_TYPE: &str = "Service";
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// A TTL deletion is a `REMOVE` made by the DynamoDB service itself. User deletes carry no
/// `userIdentity`, and replicas of a global table carry none either, so each item is archived
/// once, in the Region where TTL deleted it. The comparison is case-sensitive, as AWS's is.
pub fn is_ttl_removal(record: &Record) -> bool {
    is_ttl_removal_parts(&record.event_name, record.user_identity.as_ref())
}

/// The same rule on parts, for records too malformed to deserialize whole.
pub fn is_ttl_removal_parts(event_name: &str, identity: Option<&UserIdentity>) -> bool {
    event_name == "REMOVE"
        && identity
            .is_some_and(|id| id.type_ == TTL_IDENTITY_TYPE && id.principal_id == TTL_PRINCIPAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, identity: Option<(&str, &str)>) -> Record<'static> {
        Record {
            event_name: event_name.to_owned().into(),
            user_identity: identity.map(|(type_, principal_id)| {
                let mut id = UserIdentity::default();
                id.type_ = type_.to_owned();
                id.principal_id = principal_id.to_owned();
                id
            }),
            change: Default::default(),
        }
    }

    #[test]
    fn ttl_remove_is_selected() {
        assert!(is_ttl_removal(&record(
            "REMOVE",
            Some(("Service", "dynamodb.amazonaws.com"))
        )));
    }

    #[test]
    fn user_delete_is_skipped() {
        assert!(!is_ttl_removal(&record("REMOVE", None)));
    }

    #[test]
    fn inserts_and_modifies_are_skipped_even_with_the_service_identity() {
        for name in ["INSERT", "MODIFY"] {
            assert!(!is_ttl_removal(&record(
                name,
                Some(("Service", "dynamodb.amazonaws.com"))
            )));
        }
    }

    #[test]
    fn other_principals_and_case_variants_are_skipped() {
        for (type_, principal) in [
            ("Service", "lambda.amazonaws.com"),
            ("service", "dynamodb.amazonaws.com"),
            ("Service", "DynamoDB.amazonaws.com"),
            ("User", "dynamodb.amazonaws.com"),
            ("", ""),
        ] {
            assert!(
                !is_ttl_removal(&record("REMOVE", Some((type_, principal)))),
                "{type_}/{principal}"
            );
        }
        assert!(!is_ttl_removal(&record(
            "remove",
            Some(("Service", "dynamodb.amazonaws.com"))
        )));
    }
}
