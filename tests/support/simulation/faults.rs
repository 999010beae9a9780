//! What goes wrong between the function and the archive, decided by the seed: throttles,
//! `UnprocessedItems`, 500s, stalls and hang-ups on single requests; a stretch where the archive
//! cannot be reached at all; and the function's process dying mid-invocation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::chance::fraction;
use super::workload::fnv1a;
use crate::support::proxy::Fault;

pub struct Faults {
    seed: u64,
    /// The archive cannot be reached: every write hangs up.
    pub outage: AtomicBool,
    /// The next write request is the one in flight when the function's process dies.
    pub crash_next: AtomicBool,
    crashed: UnboundedSender<()>,
    /// How often each request body has been seen, so that a retry of the same request gets its
    /// own decision.
    attempts: Mutex<HashMap<u64, u64>>,
}

impl Faults {
    pub fn new(seed: u64, crashed: UnboundedSender<()>) -> Self {
        Faults {
            seed,
            outage: AtomicBool::new(false),
            crash_next: AtomicBool::new(false),
            crashed,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The fault for one BatchWriteItem request. A function of the seed, the request and how
    /// often it was sent before, not of when it arrives: the function sends requests
    /// concurrently, and their order must not change the run.
    pub fn decide(&self, body: &str) -> Fault {
        if self.outage.load(Ordering::SeqCst) {
            return Fault::Hangup;
        }
        if self.crash_next.swap(false, Ordering::SeqCst) {
            let _ = self.crashed.send(());
            return Fault::Stall;
        }
        // Digits left out: the archive time the function stamps changes from run to run.
        let request: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_digit()).collect();
        let request = fnv1a(&request);
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(request).or_default();
            *n += 1;
            *n
        };
        match fraction(
            self.seed,
            request ^ attempt.wrapping_mul(0xA24B_AED4_963E_E407),
        ) {
            r if r < 0.08 => Fault::Unprocess(0.5),
            r if r < 0.12 => Fault::Throttle,
            r if r < 0.15 => Fault::ServerError,
            r if r < 0.17 => Fault::Hangup,
            r if r < 0.20 => Fault::Delay(Duration::from_millis(20)),
            _ => Fault::Pass,
        }
    }
}
