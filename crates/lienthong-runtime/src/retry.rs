//! Retrying transient failures with exponential backoff and jitter (backon).
//!
//! Only [`ErrorClass::Transient`] failures are retried; anything else returns at once so the
//! caller can dead-letter the record or stop for an operator.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use serde::{Deserialize, Serialize};

use crate::config::{Problems, Validate};
use crate::error::{Classify, ErrorClass};
use crate::metrics::KafkaMetrics;

/// `[retry]`: the backoff policy for transient failures.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// First delay.
    pub initial_delay_ms: u64,
    /// Longest delay between two attempts.
    pub max_delay_ms: u64,
    /// Growth of the delay per attempt.
    pub factor: f32,
    /// Attempts after the first; 0 retries until the failure stops being transient or the
    /// service shuts down (the right choice for a broker or database that is restarting).
    pub max_retries: usize,
    /// Randomise each delay so that many clients do not retry in lock step.
    pub jitter: bool,
}

impl RetryConfig {
    /// The backon policy for this configuration.
    pub fn backoff(&self) -> ExponentialBuilder {
        let mut b = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(self.initial_delay_ms))
            .with_max_delay(Duration::from_millis(self.max_delay_ms))
            .with_factor(self.factor);
        b = if self.max_retries == 0 {
            b.without_max_times()
        } else {
            b.with_max_times(self.max_retries)
        };
        if self.jitter { b.with_jitter() } else { b }
    }
}

impl Validate for RetryConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.initial_delay_ms == 0 {
            problems.push("initial_delay_ms", "must be positive");
        }
        if self.max_delay_ms < self.initial_delay_ms {
            problems.push("max_delay_ms", "must be at least initial_delay_ms");
        }
        if self.factor.is_nan() || self.factor < 1.0 {
            problems.push("factor", "must be at least 1.0");
        }
    }
}

/// Runs `operation` until it succeeds, fails with a non-transient error, or the policy gives up;
/// logs each retry and counts it under `name`.
pub async fn retry_transient<T, E, F, Fut>(
    policy: &RetryConfig,
    name: &str,
    metrics: Option<&KafkaMetrics>,
    operation: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Classify + Display,
{
    operation
        .retry(policy.backoff())
        .sleep(tokio::time::sleep)
        .when(|e: &E| e.class() == ErrorClass::Transient)
        .notify(|e: &E, delay: Duration| {
            tracing::warn!(operation = name, error = %e, ?delay, "transient failure, retrying");
            if let Some(m) = metrics {
                m.record_retry(name);
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Failure(ErrorClass);

    impl Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl Classify for Failure {
        fn class(&self) -> ErrorClass {
            self.0.clone()
        }
    }

    fn fast(max_retries: usize) -> RetryConfig {
        RetryConfig {
            initial_delay_ms: 1,
            max_delay_ms: 2,
            factor: 2.0,
            max_retries,
            jitter: true,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let metrics = KafkaMetrics::default();
        let result = retry_transient(&fast(0), "op", Some(&metrics), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 4 {
                Err(Failure(ErrorClass::Transient))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn dead_letter_and_operator_errors_are_not_retried() {
        for class in [
            ErrorClass::DeadLetter { kind: "decode" },
            ErrorClass::operator("fix it"),
        ] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = retry_transient(&fast(0), "op", None, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Failure(class.clone()))
            })
            .await;
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
    }

    #[tokio::test]
    async fn bounded_policy_gives_up() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_transient(&fast(3), "op", None, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure(ErrorClass::Transient))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn invalid_policy_is_reported() {
        let mut p = fast(0);
        p.initial_delay_ms = 10;
        p.max_delay_ms = 5;
        p.factor = 0.5;
        let mut problems = Problems::new();
        p.validate(&mut problems);
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["max_delay_ms", "factor"]);
    }
}
