//! The circuit breaker of one endpoint.
//!
//! Closed: requests go out; `failure_threshold` failed requests in a row open it. Open: no
//! request goes out for `open_for`; senders wait (their records are not failed: a platform that
//! is down delays delivery, it does not lose records). Then half-open: one probe goes out; its
//! success closes the breaker, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, as the metric reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// What [`Breaker::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send now.
    Go,
    /// Ask again after this long.
    Wait(Duration),
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
}

/// While a probe is out, others ask again this often.
const PROBE_POLL: Duration = Duration::from_millis(50);

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            open_for,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few plain values: a panic elsewhere cannot leave it inconsistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// May a request go out at `now`?
    pub fn admit(&self, now: Instant) -> Admission {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Admission::Go,
            State::Open { until } if now < until => Admission::Wait(until - now),
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Admission::Go
            }
            State::HalfOpen { probing: true } => Admission::Wait(PROBE_POLL),
        }
    }

    /// The endpoint answered (even with a refusal of the records): it is up.
    pub fn succeeded(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// A request failed (network, 5xx, 429). Returns true when this opened the breaker.
    pub fn failed(&self, now: Instant) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed { failures } if failures + 1 < self.threshold => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::Open { .. } => false,
            _ => {
                *state = State::Open {
                    until: now + self.open_for,
                };
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_pause() {
        let breaker = Breaker::new(3, Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(!breaker.failed(t0));
        assert!(!breaker.failed(t0));
        assert_eq!(breaker.admit(t0), Admission::Go);
        assert!(breaker.failed(t0), "third failure in a row opens it");
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.admit(t0 + Duration::from_millis(500)),
            Admission::Wait(Duration::from_millis(1500))
        );
        // After the pause exactly one probe goes out.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(breaker.admit(later), Admission::Go);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(breaker.admit(later), Admission::Wait(PROBE_POLL));
        // The probe fails: open again for a full pause.
        assert!(breaker.failed(later));
        assert!(matches!(
            breaker.admit(later + Duration::from_secs(1)),
            Admission::Wait(_)
        ));
        // The next probe succeeds: closed, everyone goes.
        let again = later + Duration::from_secs(2);
        assert_eq!(breaker.admit(again), Admission::Go);
        breaker.succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.admit(again), Admission::Go);
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = Breaker::new(2, Duration::from_secs(1));
        let now = Instant::now();
        breaker.failed(now);
        breaker.succeeded();
        assert!(
            !breaker.failed(now),
            "one failure after a success stays closed"
        );
        assert!(breaker.failed(now));
    }
}
