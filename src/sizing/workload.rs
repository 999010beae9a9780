//! The TTL deletions over time, the model's input: AWS does not publish the rate at which TTL
//! deletes expired items ("Time to Live (TTL)": typically within a few days of expiry), so the
//! user states it. A profile is piecewise linear in deletions per second: a steady rate, a ramp
//! to it, a burst of it that stops.

/// Deletions per second over time, simulated seconds from 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletions {
    /// (start, end, rate at start, rate at end), in order, contiguous from 0.
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: f64,
    end: f64,
    from: f64,
    to: f64,
    /// Deletions before `start`.
    before: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.end - self.start) * (self.from + self.to) / 2.0
    }

    /// Deletions from `start` to `t` (within the segment).
    fn count_to(&self, t: f64) -> f64 {
        let dt = t - self.start;
        let slope = (self.to - self.from) / (self.end - self.start);
        self.from * dt + slope * dt * dt / 2.0
    }

    /// The time within the segment by which `n` deletions (counted from `start`) happened.
    fn time_of(&self, n: f64) -> f64 {
        let slope = (self.to - self.from) / (self.end - self.start);
        if slope.abs() < 1e-12 {
            return self.start + n / self.from;
        }
        // from * dt + slope * dt^2 / 2 = n
        let disc = (self.from * self.from + 2.0 * slope * n).max(0.0);
        self.start + (disc.sqrt() - self.from) / slope
    }
}

impl Deletions {
    /// `per_second` for `seconds`; with `ramp_seconds` > 0, rising linearly from 0 to
    /// `per_second` first (the ramp is part of `seconds`).
    pub fn new(per_second: f64, seconds: f64, ramp_seconds: f64) -> Self {
        let ramp = ramp_seconds.clamp(0.0, seconds);
        let mut shape = Vec::new();
        if ramp > 0.0 {
            shape.push((ramp, 0.0, per_second));
        }
        if seconds > ramp {
            shape.push((seconds - ramp, per_second, per_second));
        }
        Self::from_shape(&shape)
    }

    /// Segments of (length in seconds, rate at start, rate at end).
    pub fn from_shape(shape: &[(f64, f64, f64)]) -> Self {
        let mut segments = Vec::new();
        let (mut start, mut before) = (0.0, 0.0);
        for &(length, from, to) in shape {
            if length <= 0.0 {
                continue;
            }
            let segment = Segment {
                start,
                end: start + length,
                from: from.max(0.0),
                to: to.max(0.0),
                before,
            };
            before += segment.count();
            start = segment.end;
            segments.push(segment);
        }
        Deletions { segments }
    }

    /// When the last deletion happens.
    pub fn end(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.end)
    }

    /// All the deletions.
    pub fn total(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.before + s.count())
    }

    /// The highest rate, deletions per second.
    pub fn peak(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.from.max(s.to))
            .fold(0.0, f64::max)
    }

    /// Deletions by time `t`.
    pub fn count_by(&self, t: f64) -> f64 {
        match self.segments.iter().find(|s| t < s.end) {
            None => self.total(),
            Some(s) if t <= s.start => s.before,
            Some(s) => s.before + s.count_to(t),
        }
    }

    /// When the `n`-th deletion (from 1) happens; `None` if it never does.
    pub fn time_of(&self, n: f64) -> Option<f64> {
        if n > self.total() + 1e-9 {
            return None;
        }
        let s = self
            .segments
            .iter()
            .find(|s| n <= s.before + s.count() + 1e-9)?;
        Some(s.time_of(n - s.before).clamp(s.start, s.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_counts_and_times_its_deletions() {
        let d = Deletions::new(100.0, 60.0, 0.0);
        assert_eq!(d.total(), 6000.0);
        assert_eq!(d.count_by(30.0), 3000.0);
        assert_eq!(d.time_of(150.0), Some(1.5));
        assert_eq!(d.time_of(6001.0), None);
        assert_eq!(d.count_by(1000.0), 6000.0);
    }

    #[test]
    fn a_ramp_is_the_triangle_under_it_and_time_inverts_count() {
        let d = Deletions::new(100.0, 20.0, 10.0);
        // 500 in the ramp (a triangle), then 1,000 at 100 per second.
        assert_eq!(d.total(), 1500.0);
        assert!((d.count_by(5.0) - 125.0).abs() < 1e-9);
        for n in [1.0, 125.0, 499.0, 500.0, 501.0, 1500.0] {
            let t = d.time_of(n).unwrap();
            assert!((d.count_by(t) - n).abs() < 1e-6, "{n} at {t}");
        }
        assert_eq!(d.peak(), 100.0);
    }
}
