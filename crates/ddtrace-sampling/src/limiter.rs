//! The token-bucket rate limiter (`sampling.md` §4) and the clocks it runs on.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A monotonic time source for rate limiters.
///
/// Production code uses [`MonotonicClock`]; tests use [`ManualClock`] to get exact counts.
///
/// ```
/// use ddtrace_sampling::{Clock, MonotonicClock};
///
/// let clock = MonotonicClock::new();
/// let before = clock.now();
/// assert!(clock.now() >= before);
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since an arbitrary fixed origin; never decreases.
    fn now(&self) -> Duration;
}

/// The process's monotonic clock ([`Instant`]).
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to; clones share the same time.
///
/// ```
/// use ddtrace_sampling::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(shared.now(), Duration::from_millis(1500));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// What one [`RateLimiter::check`] decided.
///
/// ```
/// use ddtrace_sampling::{LimiterOutcome, RateLimiter};
///
/// let outcome = RateLimiter::new(0.0).check();
/// assert_eq!(outcome, LimiterOutcome { allowed: false, effective_rate: 0.0 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterOutcome {
    /// Whether the item was let through.
    pub allowed: bool,
    /// The effective rate after this check, the value of `_dd.limit_psr`.
    pub effective_rate: f64,
}

/// A token bucket that lets through at most `rate` items per second, and measures the share
/// of items it let through (the *effective rate*).
///
/// * A positive rate: the bucket holds `max(rate, 1)` tokens and starts full; each check takes
///   one token; tokens come back at `rate` per second (computed lazily at each check).
/// * `0`: every check is denied.
/// * A negative rate: every check is allowed (no limit).
///
/// Effective rate: checks are counted in 1-second windows (starting at the first check);
/// the ratio of a window is `allowed / checks` (1 for a window without checks); the effective
/// rate is the average of the current and the previous window's ratios, or the current ratio
/// during the first window.
///
/// ```
/// use ddtrace_sampling::{ManualClock, RateLimiter};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::with_clock(3.0, Arc::new(clock.clone()));
/// let outcomes: Vec<bool> = (0..5).map(|_| limiter.check().allowed).collect();
/// assert_eq!(outcomes, [true, true, true, false, false]);
/// assert_eq!(limiter.effective_rate(), 0.6); // 3 of 5 in this window
/// clock.advance(Duration::from_secs(1));
/// assert!(limiter.check().allowed);
/// ```
pub struct RateLimiter {
    rate: f64,
    capacity: f64,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last_refill: Duration,
    /// Start of the current window; `None` before the first check.
    window_start: Option<Duration>,
    allowed: u64,
    checks: u64,
    previous_ratio: Option<f64>,
}

const WINDOW: Duration = Duration::from_secs(1);

impl RateLimiter {
    /// A limiter of `rate` items per second on the process's monotonic clock.
    pub fn new(rate: f64) -> Self {
        RateLimiter::with_clock(rate, Arc::new(MonotonicClock::new()))
    }

    /// A limiter on the given clock. A NaN rate is treated as "no limit" (and logged).
    pub fn with_clock(rate: f64, clock: Arc<dyn Clock>) -> Self {
        let rate = if rate.is_nan() {
            log::warn!("rate limiter: NaN rate, no limit applied");
            -1.0
        } else {
            rate
        };
        let capacity = if rate > 0.0 { rate.max(1.0) } else { 0.0 };
        let now = clock.now();
        RateLimiter {
            rate,
            capacity,
            clock,
            state: Mutex::new(State {
                tokens: capacity,
                last_refill: now,
                window_start: None,
                allowed: 0,
                checks: 0,
                previous_ratio: None,
            }),
        }
    }

    /// The configured rate (items per second; negative = no limit).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes a token if there is one, and returns the decision with the effective rate that
    /// includes it.
    pub fn check(&self) -> LimiterOutcome {
        if self.rate < 0.0 {
            // No limit: nothing to count, the effective rate is always 1.
            return LimiterOutcome {
                allowed: true,
                effective_rate: 1.0,
            };
        }
        let now = self.clock.now();
        let mut state = self.state.lock();
        state.roll_window(now);
        let allowed = {
            let elapsed = now.saturating_sub(state.last_refill);
            state.last_refill = now;
            // rate × nanoseconds is exact for integer rates and realistic durations.
            let refill = self.rate * elapsed.as_nanos() as f64 / 1e9;
            state.tokens = (state.tokens + refill).min(self.capacity);
            if state.tokens >= 1.0 {
                state.tokens -= 1.0;
                true
            } else {
                false
            }
        };
        state.checks += 1;
        if allowed {
            state.allowed += 1;
        }
        LimiterOutcome {
            allowed,
            effective_rate: state.effective_rate(),
        }
    }

    /// Shorthand for `check().allowed`.
    pub fn is_allowed(&self) -> bool {
        self.check().allowed
    }

    /// The current effective rate, without taking a token.
    pub fn effective_rate(&self) -> f64 {
        if self.rate < 0.0 {
            return 1.0;
        }
        let now = self.clock.now();
        let mut state = self.state.lock();
        state.roll_window(now);
        state.effective_rate()
    }
}

impl State {
    fn current_ratio(&self) -> f64 {
        if self.checks == 0 {
            1.0
        } else {
            self.allowed as f64 / self.checks as f64
        }
    }

    fn roll_window(&mut self, now: Duration) {
        let Some(start) = self.window_start else {
            self.window_start = Some(now);
            return;
        };
        let elapsed = now.saturating_sub(start);
        if elapsed < WINDOW {
            return;
        }
        let windows = elapsed.as_nanos() / WINDOW.as_nanos();
        // The window just before the new one is the current one only if exactly one
        // window went by; otherwise it had no checks.
        self.previous_ratio = Some(if windows == 1 {
            self.current_ratio()
        } else {
            1.0
        });
        let windows = u32::try_from(windows).unwrap_or(u32::MAX);
        self.window_start = Some(start.saturating_add(WINDOW.saturating_mul(windows)));
        self.allowed = 0;
        self.checks = 0;
    }

    fn effective_rate(&self) -> f64 {
        match self.previous_ratio {
            Some(previous) => (self.current_ratio() + previous) / 2.0,
            None => self.current_ratio(),
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rate", &self.rate)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64) -> (RateLimiter, ManualClock) {
        let clock = ManualClock::new();
        (
            RateLimiter::with_clock(rate, Arc::new(clock.clone())),
            clock,
        )
    }

    fn admitted(limiter: &RateLimiter, n: usize) -> usize {
        (0..n).filter(|_| limiter.check().allowed).count()
    }

    #[test]
    fn spec_example_limit_3_five_checks() {
        // sampling.md §4: checks 1–3 allowed, 4–5 denied; 0.75 on the 4th, 0.6 on the 5th.
        let (l, _) = limiter(3.0);
        let outcomes: Vec<LimiterOutcome> = (0..5).map(|_| l.check()).collect();
        let allowed: Vec<bool> = outcomes.iter().map(|o| o.allowed).collect();
        assert_eq!(allowed, [true, true, true, false, false]);
        let rates: Vec<f64> = outcomes.iter().map(|o| o.effective_rate).collect();
        assert_eq!(rates, [1.0, 1.0, 1.0, 0.75, 0.6]);
    }

    #[test]
    fn burst_then_steady_refill() {
        let (l, clock) = limiter(100.0);
        assert_eq!(admitted(&l, 250), 100); // the full bucket
        clock.advance(Duration::from_millis(10)); // one token back
        assert_eq!(admitted(&l, 5), 1);
        clock.advance(Duration::from_millis(500)); // 50 tokens back
        assert_eq!(admitted(&l, 80), 50);
        clock.advance(Duration::from_secs(10)); // refill caps at capacity
        assert_eq!(admitted(&l, 300), 100);
    }

    #[test]
    fn steady_rate_below_the_limit_is_never_limited() {
        let (l, clock) = limiter(10.0);
        let mut allowed = 0;
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(100)); // exactly 10 per second
            allowed += usize::from(l.check().allowed);
        }
        assert_eq!(allowed, 1000);
        assert_eq!(l.effective_rate(), 1.0);
    }

    #[test]
    fn steady_rate_above_the_limit_admits_the_limit() {
        // 20 checks per second against a limit of 5: after the initial burst of 5,
        // exactly 5 per second get through.
        let (l, clock) = limiter(5.0);
        let mut allowed = 0;
        for _ in 0..200 {
            allowed += usize::from(l.check().allowed);
            clock.advance(Duration::from_millis(50));
        }
        // 10 seconds: 5 tokens at start + 5 per second refilled for 9.95 s (49 whole tokens).
        assert_eq!(allowed, 5 + 49);
    }

    #[test]
    fn effective_rate_averages_with_the_previous_window() {
        let (l, clock) = limiter(2.0);
        assert_eq!(admitted(&l, 4), 2); // window 1: 2/4 = 0.5
        clock.advance(Duration::from_secs(1));
        let o = l.check(); // window 2: 1/1 allowed (2 tokens refilled)
        assert!(o.allowed);
        assert_eq!(o.effective_rate, (1.0 + 0.5) / 2.0);
        assert_eq!(l.check().effective_rate, (1.0 + 0.5) / 2.0); // 2/2
        assert_eq!(l.check().effective_rate, (2.0 / 3.0 + 0.5) / 2.0); // 2/3
        // Two windows later the previous window had no checks: its ratio is 1.
        clock.advance(Duration::from_secs(2));
        assert_eq!(l.effective_rate(), 1.0);
        assert_eq!(l.check().effective_rate, 1.0);
    }

    #[test]
    fn zero_denies_and_negative_allows_everything() {
        let (zero, _) = limiter(0.0);
        assert_eq!(admitted(&zero, 10), 0);
        assert_eq!(zero.effective_rate(), 0.0);
        let (unlimited, _) = limiter(-1.0);
        assert_eq!(admitted(&unlimited, 10_000), 10_000);
        assert_eq!(unlimited.effective_rate(), 1.0);
        let (nan, _) = limiter(f64::NAN);
        assert_eq!(admitted(&nan, 10), 10);
    }

    #[test]
    fn fractional_rates_hold_at_least_one_token() {
        let (l, clock) = limiter(0.5);
        assert_eq!(admitted(&l, 3), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&l, 3), 0); // half a token
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&l, 3), 1);
        assert_eq!(l.rate(), 0.5);
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let c = MonotonicClock::default();
        let a = c.now();
        assert!(c.now() >= a);
        assert!(format!("{:?}", RateLimiter::new(1.0)).contains("rate: 1.0"));
    }
}
