//! The event source mapping model (tests/support/esm.rs), rule by rule, with a scripted function.

mod support;

use support::esm::{run, Answer, Event, Settings, StreamRecord, MAX_PAYLOAD_BYTES};

fn records(n: usize) -> Vec<StreamRecord> {
    (0..n)
        .map(|i| StreamRecord {
            sequence_number: format!("{}", 1000 + i),
            created: 0,
            bytes: 1000,
            matches_filter: true,
            partition: i as u64,
        })
        .collect()
}

fn settings(batch_size: usize, retries: u32) -> Settings {
    Settings {
        batch_size,
        maximum_retry_attempts: retries,
        maximum_record_age_secs: 21_600,
        bisect_on_function_error: true,
    }
}

/// The batches the mapping invoked the function with, or (`parked`) sent to the destination.
fn batches(events: &[Event], parked: bool) -> Vec<Vec<String>> {
    events
        .iter()
        .filter_map(|e| match (e, parked) {
            (
                Event::Invoked {
                    sequence_numbers, ..
                },
                false,
            )
            | (
                Event::Parked {
                    sequence_numbers, ..
                },
                true,
            ) => Some(sequence_numbers.clone()),
            _ => None,
        })
        .collect()
}

fn invoked(events: &[Event]) -> Vec<Vec<String>> {
    batches(events, false)
}

fn parked(events: &[Event]) -> Vec<Vec<String>> {
    batches(events, true)
}

#[test]
fn batches_hold_at_most_batch_size_records_and_6_mb() {
    let (events, figures) = run(&[records(25)], &settings(10, 3), 0, 1, |_, _| {
        Answer::Failures(vec![])
    });
    let sizes: Vec<usize> = invoked(&events).iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(figures.retries, 0);
    assert_eq!(figures.cut_at_6_mb, 0);

    let mut big = records(4);
    for r in &mut big {
        r.bytes = MAX_PAYLOAD_BYTES / 3;
    }
    let (events, figures) = run(&[big], &settings(100, 3), 0, 1, |_, _| {
        Answer::Failures(vec![])
    });
    let sizes: Vec<usize> = invoked(&events).iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 1]);
    assert_eq!(figures.cut_at_6_mb, 1);
}

#[test]
fn the_lowest_reported_record_is_the_checkpoint_and_a_lasting_failure_is_parked() {
    // 1003 fails every time: the records before it are never sent again; it and those after it
    // are, until MaximumRetryAttempts + 1 invocations have carried it.
    let (events, figures) = run(&[records(6)], &settings(6, 2), 0, 1, |_, batch| {
        let failing: Vec<String> = batch
            .iter()
            .filter(|r| r.sequence_number == "1003")
            .map(|r| r.sequence_number.clone())
            .collect();
        Answer::Failures(failing)
    });
    let calls = invoked(&events);
    assert_eq!(calls.len(), 3, "MaximumRetryAttempts (2) + 1");
    assert_eq!(calls[1][0], "1003", "retried from the checkpoint");
    assert_eq!(parked(&events), [vec!["1003", "1004", "1005"]]);
    assert_eq!((figures.retries, figures.parked_batches), (2, 1));
}

#[test]
fn an_unreadable_answer_fails_the_whole_batch() {
    let mut first = true;
    let (events, _) = run(&[records(4)], &settings(4, 3), 0, 1, |_, _| {
        if std::mem::take(&mut first) {
            Answer::Unreadable
        } else {
            Answer::Failures(vec![])
        }
    });
    let calls = invoked(&events);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0], calls[1], "the same batch again, whole");
}

#[test]
fn a_function_error_bisects_without_using_up_retries() {
    // Any batch holding 1002 crashes the function: halving isolates it, and only then do the
    // retries count.
    let (events, figures) = run(&[records(8)], &settings(8, 1), 0, 1, |_, batch| {
        if batch.iter().any(|r| r.sequence_number == "1002") {
            Answer::FunctionError
        } else {
            Answer::Failures(vec![])
        }
    });
    assert_eq!(figures.bisects, 3, "8 -> 4 -> 2 -> 1");
    assert_eq!(parked(&events), [vec!["1002"]]);
    let archived: usize = invoked(&events)
        .iter()
        .filter(|b| !b.contains(&"1002".to_owned()))
        .map(Vec::len)
        .sum();
    assert_eq!(archived, 7, "every other record went through");
}

#[test]
fn filtered_records_are_never_invoked_retried_or_parked() {
    let mut shard = records(5);
    shard[1].matches_filter = false;
    shard[3].matches_filter = false;
    let (events, figures) = run(&[shard], &settings(10, 0), 0, 1, |_, _| {
        Answer::FunctionError
    });
    assert_eq!(figures.filtered_out, 2);
    for batch in invoked(&events).iter().chain(parked(&events).iter()) {
        assert!(!batch.contains(&"1001".to_owned()) && !batch.contains(&"1003".to_owned()));
    }
}

#[test]
fn records_older_than_the_maximum_age_are_parked_unsent() {
    let mut settings = settings(2, 100);
    settings.maximum_record_age_secs = 60;
    // Each invocation takes 40 simulated seconds and every answer fails the batch.
    let (events, figures) = run(&[records(2)], &settings, 0, 40, |_, _| Answer::Unreadable);
    assert_eq!(
        figures.invocations, 2,
        "at 0 s and 40 s; at 80 s the records are too old"
    );
    assert!(matches!(
        events.last(),
        Some(Event::Parked {
            reason: "record age exceeded",
            ..
        })
    ));
}

#[test]
fn a_parent_shard_is_drained_before_its_child() {
    let parent = records(3);
    let child: Vec<StreamRecord> = records(2)
        .into_iter()
        .map(|mut r| {
            r.sequence_number = format!("9{}", r.sequence_number);
            r
        })
        .collect();
    let mut order = Vec::new();
    run(&[parent, child], &settings(1, 0), 0, 1, |shard, _| {
        order.push(shard);
        Answer::Failures(vec![])
    });
    assert_eq!(order, [0, 0, 0, 1, 1]);
}

#[test]
fn with_a_parallelization_factor_each_key_stays_in_order_on_one_batcher() {
    let shard: Vec<StreamRecord> = records(40)
        .into_iter()
        .map(|mut r| {
            r.partition %= 7;
            r
        })
        .collect();
    let lanes = support::esm::by_partition_key(&shard, 3);
    assert_eq!(lanes.len(), 3);
    assert_eq!(lanes.iter().map(Vec::len).sum::<usize>(), 40);
    for key in 0..7 {
        let holding: Vec<usize> = (0..3)
            .filter(|&l| lanes[l].iter().any(|r| r.partition == key))
            .collect();
        assert_eq!(holding.len(), 1, "key {key} on one batcher");
        let order: Vec<&str> = lanes[holding[0]]
            .iter()
            .filter(|r| r.partition == key)
            .map(|r| r.sequence_number.as_str())
            .collect();
        let shard_order: Vec<&str> = shard
            .iter()
            .filter(|r| r.partition == key)
            .map(|r| r.sequence_number.as_str())
            .collect();
        assert_eq!(order, shard_order, "key {key} in the shard's order");
    }
}
