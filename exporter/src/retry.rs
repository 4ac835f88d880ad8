//! `retry_on_failure`: exponential backoff with jitter (the OTel collector's
//! defaults), `Retry-After`/`RetryInfo` hints, attempt caps, and the loop that
//! retries one prepared request until it is sent, refused for good, out of
//! budget or cancelled.

use profcol_config::{join_path, Duration, Problem, Validate};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The keys of [`RetryConfig`].
pub const RETRY_KEYS: &[&str] = &[
    "enabled",
    "initial_interval",
    "max_interval",
    "max_elapsed_time",
    "multiplier",
    "randomization_factor",
];

/// The `retry_on_failure` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    pub enabled: bool,
    pub initial_interval: Duration,
    pub max_interval: Duration,
    /// 0 = retry forever.
    pub max_elapsed_time: Duration,
    pub multiplier: f64,
    pub randomization_factor: f64,
    #[serde(flatten, skip_serializing)]
    pub unknown: crate::config::Unknown,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
            unknown: Default::default(),
        }
    }
}

impl Validate for RetryConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.multiplier < 1.0 || !self.multiplier.is_finite() {
            problems.push(Problem::new(
                join_path(path, "multiplier"),
                "must be at least 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            problems.push(Problem::new(
                join_path(path, "randomization_factor"),
                "must be between 0 and 1",
            ));
        }
        if self.enabled && self.initial_interval.is_zero() {
            problems.push(Problem::new(
                join_path(path, "initial_interval"),
                "must be greater than 0",
            ));
        }
        if self.max_interval < self.initial_interval {
            problems.push(Problem::new(
                join_path(path, "max_interval"),
                "must not be smaller than initial_interval",
            ));
        }
        crate::config::unknown_keys(&self.unknown, path, RETRY_KEYS, problems);
    }
}

/// The runtime form of a retry policy; the Pyroscope exporter builds one from
/// its own backoff keys.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub enabled: bool,
    pub initial_interval: std::time::Duration,
    pub max_interval: std::time::Duration,
    /// Zero = no time budget.
    pub max_elapsed_time: std::time::Duration,
    pub multiplier: f64,
    pub randomization_factor: f64,
    /// Total attempts allowed; `None` = unbounded.
    pub max_attempts: Option<u32>,
}

impl From<&RetryConfig> for RetryPolicy {
    fn from(c: &RetryConfig) -> Self {
        Self {
            enabled: c.enabled,
            initial_interval: c.initial_interval.get(),
            max_interval: c.max_interval.get(),
            max_elapsed_time: c.max_elapsed_time.get(),
            multiplier: c.multiplier,
            randomization_factor: c.randomization_factor,
            max_attempts: None,
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Worth another attempt; `after` is the server's hint (`Retry-After`,
    /// `RetryInfo`), which replaces the backoff delay.
    Retryable {
        reason: String,
        after: Option<std::time::Duration>,
    },
    /// The server refused the data for good (400, 401, 403, 404, 413, 422,
    /// INVALID_ARGUMENT, …); resending cannot help.
    Permanent { reason: String },
}

impl SendError {
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            after: None,
        }
    }
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
        }
    }
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable { reason, .. } | Self::Permanent { reason } => reason,
        }
    }
}

/// Why a request was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    Permanent,
    RetriesExhausted,
    Shutdown,
}

impl GiveUp {
    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent_error",
            Self::RetriesExhausted => "retries_exhausted",
            Self::Shutdown => "shutdown",
        }
    }
}

/// The delays between attempts of one request.
#[derive(Debug)]
pub struct Backoff<'a> {
    policy: &'a RetryPolicy,
    current: std::time::Duration,
    started: Instant,
    attempts: u32,
}

impl<'a> Backoff<'a> {
    pub fn new(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            current: policy.initial_interval,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Call after a failed attempt: the wait before the next one, or `None`
    /// when the policy says to stop.
    pub fn next_delay(&mut self, hint: Option<std::time::Duration>) -> Option<std::time::Duration> {
        self.attempts += 1;
        if !self.policy.enabled {
            return None;
        }
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
        {
            return None;
        }
        let delay = match hint {
            Some(h) => h,
            None => {
                let base = self.current.as_secs_f64();
                let rf = self.policy.randomization_factor;
                let jittered = if rf > 0.0 {
                    let low = base * (1.0 - rf);
                    let high = base * (1.0 + rf);
                    rand::rng().random_range(low..=high)
                } else {
                    base
                };
                let next =
                    (base * self.policy.multiplier).min(self.policy.max_interval.as_secs_f64());
                self.current = std::time::Duration::from_secs_f64(next);
                std::time::Duration::from_secs_f64(jittered.max(0.0))
            }
        };
        let budget = self.policy.max_elapsed_time;
        if !budget.is_zero() && self.started.elapsed() + delay > budget {
            return None;
        }
        Some(delay)
    }
}

/// Runs `attempt` until it succeeds or the policy gives up. `on_retry` is
/// told about every failed attempt that will be retried and the wait chosen.
/// Returns the success value, or why it gave up with the last error.
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut attempt: F,
    mut on_retry: impl FnMut(&SendError, std::time::Duration),
) -> Result<T, (GiveUp, SendError)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SendError>>,
{
    let mut backoff = Backoff::new(policy);
    loop {
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                return Err((GiveUp::Shutdown, SendError::retryable("cancelled by shutdown")));
            }
            r = attempt() => r,
        };
        let err = match outcome {
            Ok(v) => return Ok(v),
            Err(e @ SendError::Permanent { .. }) => return Err((GiveUp::Permanent, e)),
            Err(e) => e,
        };
        let hint = match &err {
            SendError::Retryable { after, .. } => *after,
            SendError::Permanent { .. } => None,
        };
        let Some(delay) = backoff.next_delay(hint) else {
            return Err((GiveUp::RetriesExhausted, err));
        };
        on_retry(&err, delay);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err((GiveUp::Shutdown, err)),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Parses a `Retry-After` header: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<std::time::Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration as StdDuration;

    fn policy(max_attempts: Option<u32>) -> RetryPolicy {
        RetryPolicy {
            enabled: true,
            initial_interval: StdDuration::from_millis(10),
            max_interval: StdDuration::from_millis(40),
            max_elapsed_time: StdDuration::ZERO,
            multiplier: 2.0,
            randomization_factor: 0.0,
            max_attempts,
        }
    }

    #[test]
    fn backoff_grows_to_the_cap_and_honours_hints() {
        let p = policy(None);
        let mut b = Backoff::new(&p);
        let ms: Vec<u128> = (0..4)
            .map(|_| b.next_delay(None).unwrap().as_millis())
            .collect();
        assert_eq!(ms, vec![10, 20, 40, 40]);
        assert_eq!(
            b.next_delay(Some(StdDuration::from_secs(3))),
            Some(StdDuration::from_secs(3))
        );
    }

    #[test]
    fn jitter_stays_within_the_factor() {
        let mut p = policy(None);
        p.randomization_factor = 0.5;
        p.initial_interval = StdDuration::from_millis(100);
        p.max_interval = StdDuration::from_millis(100);
        for _ in 0..200 {
            let d = Backoff::new(&p).next_delay(None).unwrap().as_millis();
            assert!((50..=150).contains(&d), "{d}");
        }
    }

    #[test]
    fn budgets_stop_retrying() {
        let p = policy(Some(3));
        let mut b = Backoff::new(&p);
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_some());
        assert!(
            b.next_delay(None).is_none(),
            "the third failure is the last attempt"
        );
        let mut p = policy(None);
        p.max_elapsed_time = StdDuration::from_secs(1);
        assert!(Backoff::new(&p)
            .next_delay(Some(StdDuration::from_secs(2)))
            .is_none());
        p.enabled = false;
        assert!(Backoff::new(&p).next_delay(None).is_none());
    }

    #[tokio::test]
    async fn run_retries_until_success_but_not_permanent_errors() {
        let calls = AtomicU32::new(0);
        let mut retries = 0;
        let r = run(
            &policy(None),
            &CancellationToken::new(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(SendError::retryable("503"))
                } else {
                    Ok(7)
                }
            },
            |_, _| retries += 1,
        )
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(retries, 2);
        let r: Result<(), _> = run(
            &policy(None),
            &CancellationToken::new(),
            || async { Err(SendError::permanent("400")) },
            |_, _| panic!("no retry"),
        )
        .await;
        assert_eq!(r.unwrap_err().0, GiveUp::Permanent);
    }

    #[tokio::test]
    async fn cancellation_interrupts_the_wait() {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        let started = Instant::now();
        let r: Result<(), _> = run(
            &policy(None),
            &cancel,
            || async { Err(SendError::retryable("x")) },
            |_, _| c2.cancel(),
        )
        .await;
        assert_eq!(r.unwrap_err().0, GiveUp::Shutdown);
        assert!(started.elapsed() < StdDuration::from_secs(1));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 3 "), Some(StdDuration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(StdDuration::ZERO)
        );
        let future =
            httpdate::fmt_http_date(std::time::SystemTime::now() + StdDuration::from_secs(100));
        let d = parse_retry_after(&future).unwrap();
        assert!(
            d > StdDuration::from_secs(95) && d <= StdDuration::from_secs(100),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
