//! Which stream records are TTL deletions.

use aws_lambda_events::event::dynamodb::UserIdentity;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::archive::record::Record;

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

/// Another Region's TTL deletion, arriving by replication: in a global table only the Region
/// whose TTL deleted the item sees the identity; the others see a `REMOVE` without one. A user's
/// delete looks the same, so the item must also have expired by the time it was deleted: its
/// `ttl_attribute` (epoch seconds) at or before the record's creation time. A user's delete of an
/// item that had already expired is counted too; docs/global-tables.md says so. Skipped all the
/// same: the Region that deleted it archives it.
pub fn is_replicated_ttl_deletion(record: &Record, ttl_attribute: Option<&str>) -> bool {
    if record.event_name != "REMOVE" || record.user_identity.is_some() {
        return false;
    }
    let (Some(attribute), Some(deleted_at)) =
        (ttl_attribute, record.change.approximate_creation_date_time)
    else {
        return false;
    };
    match record.change.old_image.0.get(attribute) {
        Some(AttributeValue::N(expires_at)) => expires_at
            .parse::<f64>()
            .is_ok_and(|expires_at| expires_at <= deleted_at),
        _ => false,
    }
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

    fn removed(
        identity: Option<(&str, &str)>,
        expires_at: &str,
        deleted_at: f64,
    ) -> Record<'static> {
        let mut record = record("REMOVE", identity);
        record.change.approximate_creation_date_time = Some(deleted_at);
        record
            .change
            .old_image
            .0
            .insert("expiresAt".into(), AttributeValue::N(expires_at.into()));
        record
    }

    #[test]
    fn an_expired_item_removed_without_an_identity_is_another_regions_ttl_deletion() {
        let ttl = Some("expiresAt");
        assert!(is_replicated_ttl_deletion(
            &removed(None, "1795000000", 1_795_000_000.0),
            ttl
        ));
        assert!(is_replicated_ttl_deletion(
            &removed(None, "1794000000.5", 1_795_000_000.0),
            ttl
        ));
        // Not yet expired when deleted: a user's delete.
        assert!(!is_replicated_ttl_deletion(
            &removed(None, "1795000001", 1_795_000_000.0),
            ttl
        ));
        // This Region's own TTL deletion is selected, not counted here.
        let own = removed(
            Some((TTL_IDENTITY_TYPE, TTL_PRINCIPAL)),
            "1",
            1_795_000_000.0,
        );
        assert!(is_ttl_removal(&own) && !is_replicated_ttl_deletion(&own, ttl));
        // Without a TTL attribute to read, or a number in it, it cannot be told.
        assert!(!is_replicated_ttl_deletion(
            &removed(None, "1", 1_795_000_000.0),
            None
        ));
        assert!(!is_replicated_ttl_deletion(
            &removed(None, "soon", 1_795_000_000.0),
            ttl
        ));
        let mut unknown_time = removed(None, "1", 0.0);
        unknown_time.change.approximate_creation_date_time = None;
        assert!(!is_replicated_ttl_deletion(&unknown_time, ttl));
        let mut modify = removed(None, "1", 1_795_000_000.0);
        modify.event_name = "MODIFY".into();
        assert!(!is_replicated_ttl_deletion(&modify, ttl));
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
