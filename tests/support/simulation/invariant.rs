//! The invariant of the pipeline, checked once at the end of a run:
//!
//! > For every key deleted by TTL, the archive holds exactly the projection of its newest TTL
//! > deletion that carried an old image; the archive holds nothing else; and every TTL deletion
//! > without an old image (which the function cannot archive) is kept in the failed-batch
//! > bucket, under `aws/lambda/`, for an operator.
//! >
//! > One exception, documented (docs/how-it-works.md, "Versions"): when the archive holds the
//! > key without a version (an item near 400 KB), a replay cannot tell which is newer; the
//! > newest deletion may then stay in the bucket, reported, for an operator to decide. It is
//! > counted, not lost.
//!
//! The expected items come from the workload alone (tests/support/items.rs, written independently
//! of the library's projection), never from what the mapping or the function did.

use std::collections::HashSet;

use super::workload::Workload;
use crate::support::items::{archive_differences, expected, key_of_item, Item, Stamps};

/// What broke the invariant.
#[derive(Debug, Default)]
pub struct Verdict {
    /// `(key or sequence number, what)`: a TTL deletion whose newest version is not archived.
    pub lost: Vec<(String, String)>,
    /// Anything else the archive must not hold.
    pub broken: Vec<String>,
    /// Keys whose newest deletion waits in the bucket for an operator, because the archive
    /// holds the key without a version (near 400 KB) and no replay can order the two.
    pub unorderable: Vec<String>,
}

impl Verdict {
    pub fn holds(&self) -> bool {
        self.lost.is_empty() && self.broken.is_empty()
    }
}

pub fn check(workload: &Workload, archive: &[Item], kept: &[String], stamps: &Stamps) -> Verdict {
    let want = expected(&workload.as_event(), &workload.expectation);
    let key_names: Vec<&str> = workload.key.iter().map(|(name, _)| *name).collect();
    let mut verdict = Verdict::default();
    let kept: HashSet<&str> = kept.iter().map(String::as_str).collect();
    let unversioned: HashSet<String> = archive
        .iter()
        .filter(|item| !item.contains_key("ArchiveVersion"))
        .map(|item| key_of_item(item, &key_names))
        .collect();
    for (key, what) in archive_differences(archive, &want, &key_names, stamps) {
        if !want.items.contains_key(&key) {
            verdict.broken.push(format!("{key}: {what}"));
        } else if unversioned.contains(&key) && kept.contains(want.newest[&key].as_str()) {
            verdict.unorderable.push(key);
        } else {
            verdict.lost.push((key, what));
        }
    }
    for seq in &want.failed {
        if !kept.contains(seq.as_str()) {
            verdict.lost.push((
                format!("sequence number {seq}"),
                "a TTL deletion without an old image, not kept in the bucket".to_owned(),
            ));
        }
    }
    verdict
}
