//! Seeded randomness: every choice of a run comes from its seed, so the seed reproduces it.

/// A stream of choices: the seed and what they are for (`salt`) name it.
pub struct Chance {
    seed: u64,
    rng: fastrand::Rng,
}

impl Chance {
    pub fn new(seed: u64, salt: u64) -> Self {
        Chance {
            seed,
            rng: fastrand::Rng::with_seed(mix(seed, salt)),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.u64(0..n)
    }

    pub fn pick<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
        &choices[self.rng.usize(0..choices.len())]
    }
}

/// A number in `[0, 1)` decided by `seed` and `salt` alone, for choices that must not depend on
/// the order in which concurrent requests arrive.
pub fn fraction(seed: u64, salt: u64) -> f64 {
    (mix(seed, salt) >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64's finaliser over the pair.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let mut x = seed ^ salt.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
