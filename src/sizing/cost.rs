//! What a run costs, at list prices a user can override (`tools/sizing --help`). The defaults
//! are US East (N. Virginia)'s since November 2024, checked on AWS's pricing pages: DynamoDB
//! on-demand write request units $0.625 a million on Standard and 25% more on Standard-IA
//! ($0.78125), replicated writes at the same price; Lambda on arm64 $0.0000133334 a GB-second
//! and $0.20 a million requests. Storage is left out: it is what the archive is for, and the
//! same whatever the settings.

use serde::Serialize;

use crate::sizing::pipeline::Figures;

#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    pub write_units_per_million: f64,
    pub gb_second: f64,
    pub requests_per_million: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            write_units_per_million: 0.78125,
            gb_second: 0.000_013_333_4,
            requests_per_million: 0.20,
        }
    }
}

/// Dollars.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cost {
    pub archive_writes: f64,
    /// A global archive's writes again in each other Region (replicated writes).
    pub replicated_writes: f64,
    pub lambda: f64,
    pub total: f64,
}

/// `other_regions`: the Regions a global archive replicates each write to (0 for a Regional one).
pub fn cost(figures: &Figures, prices: &Prices, other_regions: u64) -> Cost {
    let writes = figures.write_units as f64 * prices.write_units_per_million / 1e6;
    let replicated = writes * other_regions as f64;
    let lambda = figures.lambda_gb_seconds * prices.gb_second
        + figures.invocations as f64 * prices.requests_per_million / 1e6;
    Cost {
        archive_writes: round_cents(writes),
        replicated_writes: round_cents(replicated),
        lambda: round_cents(lambda),
        total: round_cents(writes + replicated + lambda),
    }
}

fn round_cents(dollars: f64) -> f64 {
    (dollars * 100.0).round() / 100.0
}
