//! A token bucket: the workload's rate limit.
//!
//! Tokens accrue continuously at the rate, up to the capacity; each change takes one. Over any
//! long stretch the changes made are the rate times the time (plus at most the capacity), and a
//! short stall of the database is caught up by the tokens that accrued meanwhile, never by more
//! than the capacity.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens per second.
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket holding one token at `now` (the first change goes at once, without a burst).
    /// `rate` must be positive; `capacity` is at least one token.
    pub fn new(rate: f64, capacity: f64, now: Instant) -> Self {
        Self {
            rate,
            capacity: capacity.max(1.0),
            tokens: 1.0,
            last: now,
        }
    }

    /// The capacity the workload uses: 50 ms worth of changes, at least one.
    pub fn for_rate(rate: f64, now: Instant) -> Self {
        Self::new(rate, rate * 0.05, now)
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = self.last.max(now);
    }

    /// Takes a token if one is there at `now`; otherwise how long until one is.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes tokens as fast as the bucket allows from `start` for `seconds`, stepping the clock
    /// by exactly the waits it asks for.
    fn drain(bucket: &mut TokenBucket, start: Instant, seconds: f64) -> u64 {
        let end = start + Duration::from_secs_f64(seconds);
        let mut now = start;
        let mut taken = 0;
        while now <= end {
            match bucket.try_take(now) {
                Ok(()) => taken += 1,
                Err(wait) => now += wait,
            }
        }
        taken
    }

    #[test]
    fn paces_exactly_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::for_rate(200.0, start);
        let taken = drain(&mut bucket, start, 10.0);
        // One at once, then 200 per second.
        assert!((2_000..=2_002).contains(&taken), "{taken}");
        let mut slow = TokenBucket::for_rate(0.5, start);
        assert_eq!(drain(&mut slow, start, 10.0), 6);
    }

    #[test]
    fn a_stall_is_caught_up_only_up_to_the_capacity() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100.0, 5.0, start);
        assert_eq!(bucket.try_take(start), Ok(()));
        assert!(bucket.try_take(start).is_err());
        // A second without taking anything: only five tokens wait.
        let later = start + Duration::from_secs(1);
        for _ in 0..5 {
            assert_eq!(bucket.try_take(later), Ok(()));
        }
        let wait = bucket.try_take(later).unwrap_err();
        assert!((wait.as_secs_f64() - 0.01).abs() < 1e-9, "{wait:?}");
        // A clock that goes backwards adds nothing.
        assert!(bucket.try_take(start).is_err());
    }
}
