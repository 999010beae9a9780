//! The invariant of the pipeline, checked once at the end of a run:
//!
//! > For every key deleted by TTL, the archive holds exactly the projection of its newest TTL
//! > deletion that carried an old image; the archive holds nothing else; and every TTL deletion
//! > without an old image (the one cause the function cannot archive) is kept in the
//! > failed-batch bucket, under `aws/lambda/`, for an operator.
//!
//! The expected items come from the workload alone (tests/support/items.rs, written independently
//! of the library's projection), never from what the mapping or the function did.

use std::collections::HashSet;

use super::workload::Workload;
use crate::support::items::{archive_differences, expected, Item, Stamps};

/// What broke the invariant.
#[derive(Debug, Default)]
pub struct Verdict {
    /// `(key or sequence number, what)`: a TTL deletion whose newest version is not archived.
    pub lost: Vec<(String, String)>,
    /// Anything else the archive must not hold.
    pub broken: Vec<String>,
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
    for (key, what) in archive_differences(archive, &want, &key_names, stamps) {
        if want.items.contains_key(&key) {
            verdict.lost.push((key, what));
        } else {
            verdict.broken.push(format!("{key}: {what}"));
        }
    }
    let kept: HashSet<&str> = kept.iter().map(String::as_str).collect();
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
