//! What `TABLE_NAME` may hold: a table's name, or its ARN. DynamoDB takes a table ARN wherever
//! it takes a name, and an ARN is how a table in another account is reached (through that
//! table's resource-based policy).

/// The parts of a table ARN: `arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

/// A table name as DynamoDB accepts it: 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.'.
pub fn is_valid_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Reads `reference` as a table ARN; `None` when it is not one (a stream or index ARN is not).
pub fn parse_arn(reference: &str) -> Option<TableArn<'_>> {
    let mut parts = reference.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("dynamodb"), Some(region), Some(account), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = rest.strip_prefix("table/")?;
    let valid = partition.starts_with("aws")
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && is_valid_name(name);
    valid.then_some(TableArn {
        partition,
        region,
        account,
        name,
    })
}

/// The table's name, whether `reference` is its name or its ARN.
pub fn name_of(reference: &str) -> &str {
    parse_arn(reference).map_or(reference, |arn| arn.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_arn_is_read_into_its_parts() {
        let arn =
            parse_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/Sessions.Archive-2").unwrap();
        assert_eq!(
            arn,
            TableArn {
                partition: "aws",
                region: "eu-west-1",
                account: "123456789012",
                name: "Sessions.Archive-2",
            }
        );
        let china = parse_arn("arn:aws-cn:dynamodb:cn-north-1:123456789012:table/archive").unwrap();
        assert_eq!((china.partition, china.name), ("aws-cn", "archive"));
    }

    #[test]
    fn anything_but_a_table_arn_is_not_one() {
        for other in [
            "archive",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/archive/stream/2024-01-01T00:00:00.000",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/archive/index/byUser",
            "arn:aws:dynamodb:eu-west-1:12345678901:table/archive",
            "arn:aws:dynamodb::123456789012:table/archive",
            "arn:aws:s3:eu-west-1:123456789012:table/archive",
            "arn:aws:dynamodb:eu-west-1:123456789012:archive",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/ab",
            "arn:AWS:dynamodb:eu-west-1:123456789012:table/archive",
        ] {
            assert_eq!(parse_arn(other), None, "{other}");
        }
    }

    #[test]
    fn the_name_of_a_name_or_an_arn() {
        assert_eq!(name_of("archive"), "archive");
        assert_eq!(
            name_of("arn:aws:dynamodb:eu-west-1:123456789012:table/archive"),
            "archive"
        );
    }
}
