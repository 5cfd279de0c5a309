//! Fault injection: the misbehaviour of a real platform endpoint, on command.
//!
//! A [`FaultPlan`] is plain data (from the config file or `POST /_sim/faults`); a [`FaultEngine`]
//! holds one plan, the instant it was armed and the random state, and answers "what happens to
//! this request?" with an [`Admission`]. The engine takes the current instant as an argument and
//! does no I/O, so its decisions are unit-testable; the server sleeps and answers accordingly.
//!
//! Faults apply to the platform endpoints and the token endpoint, never to `/_sim/...` (except a
//! `drop` downtime window, which closes connections before any routing happens). For one platform
//! request they are evaluated in this order:
//!
//! 1. **downtime** window active: `503` with `Retry-After` = seconds until the window ends
//!    (mode `unavailable`), or the connection is closed without a response (mode `drop`);
//! 2. **latency**: `fixed_ms` plus a uniform jitter in `0..=jitter_ms` before answering (applies
//!    to every request that is not in a downtime window, faulted or not);
//! 3. **rate limit**: `429` with `Retry-After: retry_after_seconds` for the next `requests`
//!    requests and/or during the first `for_ms` milliseconds after arming;
//! 4. **error rate**: each request fails with `status` (a 5xx) with probability `fraction`,
//!    drawn from a generator seeded with `seed`, so the same seed gives the same sequence of
//!    failures for the same sequence of requests.
//!
//! The token endpoint sees only downtime and `token_delay_ms`.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

use crate::config::ConfigProblem;

/// The faults to inject. Every field is optional; the default plan injects nothing. Times in
/// windows count from the moment the plan is armed (server start for the config file, the
/// `POST /_sim/faults` request otherwise). Posting a plan replaces the previous one entirely.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<ErrorRate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downtime: Vec<Downtime>,
    /// Delay before the token endpoint answers, in milliseconds.
    #[serde(default)]
    pub token_delay_ms: u64,
}

/// Added response latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    #[serde(default)]
    pub fixed_ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
}

/// A fraction of requests answered with a server error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    /// Probability in `0.0..=1.0`.
    pub fraction: f64,
    /// Status to answer with, 500–599.
    #[serde(default = "default_error_status")]
    pub status: u16,
    /// Seed of the generator; without one the sequence differs on every run.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn default_error_status() -> u16 {
    500
}

/// `429 Too Many Requests` for a number of requests and/or a time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Value of the `Retry-After` header, in seconds.
    pub retry_after_seconds: u64,
    /// Answer the next this many platform requests with 429.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Answer every platform request with 429 for this long after arming.
    #[serde(default)]
    pub for_ms: Option<u64>,
}

/// A window during which the platform is down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Downtime {
    /// Start of the window after arming, in milliseconds.
    #[serde(default)]
    pub start_after_ms: u64,
    /// Length of the window, in milliseconds.
    pub for_ms: u64,
    #[serde(default)]
    pub mode: DowntimeMode,
}

/// How the platform is down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DowntimeMode {
    /// Platform and token requests get `503 Service Unavailable` with `Retry-After`.
    #[default]
    Unavailable,
    /// Every connection, including `/_sim/...`, is closed without a response: new connections
    /// are accepted and dropped at once, open keep-alive connections are closed on their next
    /// request. This is what a client sees when a load balancer has no healthy backend. The
    /// listening socket stays bound so the window can end without racing for the port.
    Drop,
}

impl FaultPlan {
    /// Problems with this plan; field names are relative to the plan.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: &str| {
            problems.push(ConfigProblem {
                field: field.to_owned(),
                message: message.to_owned(),
            });
        };
        if let Some(rate) = &self.error_rate {
            if !(0.0..=1.0).contains(&rate.fraction) {
                problem("error_rate.fraction", "must be between 0.0 and 1.0");
            }
            if !(500..=599).contains(&rate.status) {
                problem("error_rate.status", "must be a 5xx status (500-599)");
            }
        }
        if let Some(limit) = &self.rate_limit
            && limit.requests.is_none()
            && limit.for_ms.is_none()
        {
            problem(
                "rate_limit",
                "set requests (next N requests) and/or for_ms (a window)",
            );
        }
        for (i, window) in self.downtime.iter().enumerate() {
            if window.for_ms == 0 {
                problem(&format!("downtime[{i}].for_ms"), "must be at least 1");
            }
        }
        problems
    }
}

/// What the server does with one platform request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Wait this long before answering.
    pub delay: Duration,
    pub verdict: Verdict,
}

/// The outcome decided by the fault plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle the request normally.
    Proceed,
    /// Answer with this 5xx status.
    Fail { status: u16 },
    /// Answer 429 with this `Retry-After`.
    RateLimited { retry_after_seconds: u64 },
    /// Answer 503 with this `Retry-After`.
    Unavailable { retry_after_seconds: u64 },
}

/// One armed [`FaultPlan`] and its state.
#[derive(Debug)]
pub struct FaultEngine {
    plan: FaultPlan,
    armed_at: Instant,
    error_rng: StdRng,
    jitter_rng: StdRng,
    rate_limited_left: u64,
}

impl FaultEngine {
    /// Arms `plan` at `now`. The plan is assumed valid ([`FaultPlan::validate`]).
    pub fn new(plan: FaultPlan, now: Instant) -> Self {
        let seed = plan.error_rate.as_ref().and_then(|rate| rate.seed);
        let (error_rng, jitter_rng) = match seed {
            // Jitter has its own generator so that adding latency does not change which
            // requests fail.
            Some(seed) => (
                StdRng::seed_from_u64(seed),
                StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            ),
            None => (StdRng::from_os_rng(), StdRng::from_os_rng()),
        };
        let rate_limited_left = plan
            .rate_limit
            .as_ref()
            .and_then(|limit| limit.requests)
            .unwrap_or(0);
        Self {
            plan,
            armed_at: now,
            error_rng,
            jitter_rng,
            rate_limited_left,
        }
    }

    /// The armed plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The downtime window covering `now` with this mode, and how long it still lasts.
    fn downtime_left(&self, now: Instant, mode: DowntimeMode) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.armed_at);
        self.plan
            .downtime
            .iter()
            .filter(|window| window.mode == mode)
            .filter_map(|window| {
                let start = Duration::from_millis(window.start_after_ms);
                let end = start + Duration::from_millis(window.for_ms);
                (elapsed >= start && elapsed < end).then(|| end - elapsed)
            })
            .max()
    }

    /// Whether connections are being dropped at `now` (a `drop` downtime window).
    pub fn dropping_connections(&self, now: Instant) -> bool {
        self.downtime_left(now, DowntimeMode::Drop).is_some()
    }

    /// Decides the fate of one platform request arriving at `now`.
    pub fn admit(&mut self, now: Instant) -> Admission {
        let down = self
            .downtime_left(now, DowntimeMode::Unavailable)
            .or_else(|| self.downtime_left(now, DowntimeMode::Drop));
        if let Some(left) = down {
            return Admission {
                delay: Duration::ZERO,
                verdict: Verdict::Unavailable {
                    retry_after_seconds: ceil_seconds(left),
                },
            };
        }
        let delay = match &self.plan.latency {
            Some(latency) => {
                let jitter = if latency.jitter_ms == 0 {
                    0
                } else {
                    self.jitter_rng.random_range(0..=latency.jitter_ms)
                };
                Duration::from_millis(latency.fixed_ms.saturating_add(jitter))
            }
            None => Duration::ZERO,
        };
        let verdict = self.verdict_after_latency(now);
        Admission { delay, verdict }
    }

    fn verdict_after_latency(&mut self, now: Instant) -> Verdict {
        if let Some(limit) = &self.plan.rate_limit {
            let limited = if self.rate_limited_left > 0 {
                self.rate_limited_left -= 1;
                true
            } else {
                limit.for_ms.is_some_and(|window| {
                    now.saturating_duration_since(self.armed_at) < Duration::from_millis(window)
                })
            };
            if limited {
                return Verdict::RateLimited {
                    retry_after_seconds: limit.retry_after_seconds,
                };
            }
        }
        if let Some(rate) = &self.plan.error_rate {
            let draw: f64 = self.error_rng.random();
            if draw < rate.fraction {
                return Verdict::Fail {
                    status: rate.status,
                };
            }
        }
        Verdict::Proceed
    }

    /// Decides the fate of one token request arriving at `now`: only downtime and the token
    /// delay apply.
    pub fn admit_token_request(&self, now: Instant) -> Admission {
        let down = self
            .downtime_left(now, DowntimeMode::Unavailable)
            .or_else(|| self.downtime_left(now, DowntimeMode::Drop));
        match down {
            Some(left) => Admission {
                delay: Duration::ZERO,
                verdict: Verdict::Unavailable {
                    retry_after_seconds: ceil_seconds(left),
                },
            },
            None => Admission {
                delay: Duration::from_millis(self.plan.token_delay_ms),
                verdict: Verdict::Proceed,
            },
        }
    }
}

/// Whole seconds, rounded up and at least 1: `Retry-After: 0` would invite an immediate retry
/// into the same window.
fn ceil_seconds(duration: Duration) -> u64 {
    let millis = duration.as_millis();
    u64::try_from(millis.div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn empty_plan_proceeds_without_delay() {
        let t0 = Instant::now();
        let mut engine = FaultEngine::new(FaultPlan::default(), t0);
        for i in 0..100 {
            assert_eq!(
                engine.admit(t0 + ms(i)),
                Admission {
                    delay: Duration::ZERO,
                    verdict: Verdict::Proceed
                }
            );
        }
    }

    #[test]
    fn rate_limit_counts_requests_then_recovers() {
        let t0 = Instant::now();
        let plan = FaultPlan {
            rate_limit: Some(RateLimit {
                retry_after_seconds: 7,
                requests: Some(2),
                for_ms: None,
            }),
            ..FaultPlan::default()
        };
        let mut engine = FaultEngine::new(plan, t0);
        let limited = Verdict::RateLimited {
            retry_after_seconds: 7,
        };
        assert_eq!(engine.admit(t0).verdict, limited);
        assert_eq!(engine.admit(t0).verdict, limited);
        assert_eq!(engine.admit(t0).verdict, Verdict::Proceed);
    }

    #[test]
    fn rate_limit_window_ends() {
        let t0 = Instant::now();
        let plan = FaultPlan {
            rate_limit: Some(RateLimit {
                retry_after_seconds: 1,
                requests: None,
                for_ms: Some(500),
            }),
            ..FaultPlan::default()
        };
        let mut engine = FaultEngine::new(plan, t0);
        assert!(matches!(
            engine.admit(t0 + ms(499)).verdict,
            Verdict::RateLimited { .. }
        ));
        assert_eq!(engine.admit(t0 + ms(500)).verdict, Verdict::Proceed);
    }

    #[test]
    fn downtime_window_reports_remaining_seconds() {
        let t0 = Instant::now();
        let plan = FaultPlan {
            downtime: vec![Downtime {
                start_after_ms: 1000,
                for_ms: 2500,
                mode: DowntimeMode::Unavailable,
            }],
            ..FaultPlan::default()
        };
        let mut engine = FaultEngine::new(plan, t0);
        assert_eq!(engine.admit(t0 + ms(999)).verdict, Verdict::Proceed);
        assert_eq!(
            engine.admit(t0 + ms(1000)).verdict,
            Verdict::Unavailable {
                retry_after_seconds: 3
            }
        );
        assert_eq!(
            engine.admit(t0 + ms(3400)).verdict,
            Verdict::Unavailable {
                retry_after_seconds: 1
            }
        );
        assert_eq!(engine.admit(t0 + ms(3500)).verdict, Verdict::Proceed);
        assert!(!engine.dropping_connections(t0 + ms(1500)));
        assert!(matches!(
            engine.admit_token_request(t0 + ms(1500)).verdict,
            Verdict::Unavailable { .. }
        ));
    }

    #[test]
    fn drop_window_drops_connections() {
        let t0 = Instant::now();
        let plan = FaultPlan {
            downtime: vec![Downtime {
                start_after_ms: 0,
                for_ms: 100,
                mode: DowntimeMode::Drop,
            }],
            ..FaultPlan::default()
        };
        let engine = FaultEngine::new(plan, t0);
        assert!(engine.dropping_connections(t0 + ms(50)));
        assert!(!engine.dropping_connections(t0 + ms(100)));
    }

    #[test]
    fn validate_flags_bad_values() {
        let plan = FaultPlan {
            error_rate: Some(ErrorRate {
                fraction: 1.5,
                status: 404,
                seed: None,
            }),
            rate_limit: Some(RateLimit {
                retry_after_seconds: 1,
                requests: None,
                for_ms: None,
            }),
            downtime: vec![Downtime {
                start_after_ms: 0,
                for_ms: 0,
                mode: DowntimeMode::Drop,
            }],
            ..FaultPlan::default()
        };
        let fields: Vec<String> = plan.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "error_rate.fraction",
                "error_rate.status",
                "rate_limit",
                "downtime[0].for_ms"
            ]
        );
    }

    proptest! {
        #[test]
        fn seeded_error_rate_is_reproducible_and_near_fraction(seed in any::<u64>(), fraction in 0.0f64..=1.0) {
            let t0 = Instant::now();
            let plan = FaultPlan {
                error_rate: Some(ErrorRate { fraction, status: 503, seed: Some(seed) }),
                latency: Some(Latency { fixed_ms: 5, jitter_ms: 10 }),
                ..FaultPlan::default()
            };
            let mut a = FaultEngine::new(plan.clone(), t0);
            let mut b = FaultEngine::new(plan, t0);
            let n = 2000;
            let mut failures = 0u32;
            for _ in 0..n {
                let x = a.admit(t0);
                prop_assert_eq!(x, b.admit(t0));
                prop_assert!(x.delay >= ms(5) && x.delay <= ms(15));
                if x.verdict == (Verdict::Fail { status: 503 }) {
                    failures += 1;
                }
            }
            let observed = f64::from(failures) / f64::from(n);
            // Binomial standard deviation at n = 2000 is at most about 0.011.
            prop_assert!((observed - fraction).abs() < 0.06, "observed {observed} for {fraction}");
        }
    }
}
