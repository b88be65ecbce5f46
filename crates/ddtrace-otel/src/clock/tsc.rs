//! Monotonic time from the processor's time-stamp counter, on Linux machines whose kernel
//! keeps its own clock with it.
//!
//! Every span reads the clock twice. Through the vDSO, `CLOCK_MONOTONIC` costs about 24 ns
//! on the 2-core benchmark machine, of which the counter read is 9 ns; the rest is the
//! kernel's sequence lock and conversion. Two reads were 12–18% of the application thread's
//! cost per span in the throughput profile. Here a reading is the counter converted by a
//! linear segment that this module fits against `Instant` and refits at least every second.
//!
//! When it is used: only where the kernel's current clocksource is `tsc` (read once, when the
//! first provider is built). The kernel has then checked that the counter runs at a constant
//! rate, does not stop in idle states, and is synchronized between processors. Each refit also
//! checks that the last segment still agrees with `Instant` (within 100 µs) and gives the
//! counter up for good when it does not. Elsewhere (other clocksources, other systems and
//! architectures), [`super::now_ns`] reads `Instant` as before.
//!
//! How close it stays: each segment starts at a measured `(counter, Instant)` pair, so errors do
//! not accumulate; the rate is fitted over the whole time since the first pair, so its error
//! shrinks as the process runs. The first millisecond of the process reads `Instant`.
//! Segments then double in length from 1 ms to 1 s, each one fitted over a baseline at least
//! as long as itself, so a segment's predictions differ from `Instant` by about the
//! measurement jitter of its pairs (tens of nanoseconds; a pair is taken again when its two
//! counter reads are more than about a microsecond apart), and a reading taken just after a
//! refit may be that much earlier than one taken just before it. A span's end is never before
//! its start (the span clamps it).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

/// Nanoseconds since `origin` on the monotonic clock, from the time-stamp counter; `None`
/// where the counter is not used (then the caller reads `Instant`). Every call must pass the
/// same `origin` (the clock's process-wide anchor).
///
/// It never blocks: a thread that finds the shared state locked uses its own copy of the
/// segment, or returns `None`.
pub(super) fn elapsed_ns(origin: Instant) -> Option<i64> {
    let generation = GENERATION.load(Ordering::Acquire);
    if generation == DISABLED {
        return None;
    }
    let now = read_counter();
    if generation != NOT_FITTED {
        if let Some(segment) = local_segment(generation) {
            if now >= segment.counter && now < segment.refit_at {
                return Some(segment.ns_at(now));
            }
        }
    }
    refit(origin, now)
}

/// The generation number before the first segment.
const NOT_FITTED: u64 = 0;
/// The generation number once the counter is found unusable.
const DISABLED: u64 = u64::MAX;

/// Incremented with each new segment (after it is stored).
static GENERATION: AtomicU64 = AtomicU64::new(NOT_FITTED);
static STATE: Mutex<State> = Mutex::new(State {
    checked: false,
    fit: Fit::new(),
    segment: None,
});

thread_local! {
    /// The segment this thread last read, with its generation number: the common reading
    /// takes no lock and writes no shared memory.
    static LOCAL: Cell<(u64, Segment)> = const { Cell::new((NOT_FITTED, Segment::ZERO)) };
}

struct State {
    /// Whether the clocksource was checked.
    checked: bool,
    fit: Fit,
    segment: Option<Segment>,
}

/// This thread's copy of the segment of `generation`, refreshed from the shared state when
/// it is older; else the copy it has (`None` if it has none).
fn local_segment(generation: u64) -> Option<Segment> {
    LOCAL
        .try_with(|local| {
            let (seen, segment) = local.get();
            if seen != generation {
                if let Some(fresh) = STATE.try_lock().and_then(|state| state.segment) {
                    local.set((generation, fresh));
                    return Some(fresh);
                }
            }
            (seen != NOT_FITTED).then_some(segment)
        })
        .ok()
        .flatten()
}

/// Takes a `(counter, Instant)` pair and fits a new segment when the current one has run out
/// (or there is none yet). Returns the reading: from the new pair when this thread measured
/// one, else from a current segment, else `None`.
#[cold]
fn refit(origin: Instant, now: u64) -> Option<i64> {
    let Some(mut state) = STATE.try_lock() else {
        // Another thread is refitting: this thread's segment, up to one more period past its
        // end, is still close.
        return LOCAL
            .try_with(Cell::get)
            .ok()
            .filter(|(seen, segment)| *seen != NOT_FITTED && segment.extends_to(now))
            .map(|(_, segment)| segment.ns_at(now));
    };
    if let Some(segment) = state.segment {
        if now >= segment.counter && now < segment.refit_at {
            return Some(segment.ns_at(now)); // another thread refitted meanwhile
        }
    }
    if !state.checked {
        state.checked = true;
        if !kernel_keeps_time_with_tsc() {
            GENERATION.store(DISABLED, Ordering::Release);
            drop(state); // logging may start spans, which read this clock
            log::debug!("the kernel's clocksource is not tsc: span times read Instant");
            return None;
        }
    }
    let Some((counter, ns)) = measure(origin) else {
        // No clean pair: this reading from `Instant`, the segment as it was.
        return Some(i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX));
    };
    // The counter must still agree with `Instant` where the last segment predicts it: a
    // counter that jumped or changed its rate (a virtual machine moved to another host)
    // is given up for good.
    let drift = state
        .segment
        .filter(|segment| counter >= segment.counter)
        .map_or(0, |segment| segment.ns_at(counter).abs_diff(ns));
    let outcome = if drift > MAX_DRIFT_NS {
        Err(format!("drifted {drift} ns from Instant within a segment"))
    } else {
        state
            .fit
            .observe(counter, ns)
            .map_err(|rate| format!("ran at an implausible {rate} ns per tick"))
    };
    match outcome {
        Ok(Some(segment)) => {
            state.segment = Some(segment);
            GENERATION.fetch_add(1, Ordering::AcqRel);
        }
        Ok(None) => {}
        Err(problem) => {
            GENERATION.store(DISABLED, Ordering::Release);
            drop(state);
            log::warn!("the time-stamp counter {problem}: span times now read Instant");
        }
    }
    Some(ns)
}

/// A segment's prediction further than this from `Instant` disables the counter (a healthy
/// one is off by well under a microsecond).
const MAX_DRIFT_NS: u64 = 100_000;

/// One `(counter, nanoseconds)` pair: the counter read on both sides of `Instant` and the
/// midpoint kept. A pair whose two reads are far apart (the thread was preempted in between)
/// is taken again, up to four times; then `None` (the caller keeps its segment and tries
/// again at its next reading).
fn measure(origin: Instant) -> Option<(u64, i64)> {
    (0..4).find_map(|_| {
        let before = read_counter();
        let ns = i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let after = read_counter();
        let width = after.checked_sub(before)?;
        (width < MAX_PAIR_TICKS).then_some((before + width / 2, ns))
    })
}

/// Counter ticks between the two reads of a pair above which it is measured again (about
/// 1 µs at 4 GHz; a read of `Instant` takes a few dozen ticks).
const MAX_PAIR_TICKS: u64 = 4_000;

/// The first segment is fitted over at least this long.
const MIN_PERIOD_NS: i64 = 1_000_000;
/// Segments grow to at most this long.
const MAX_PERIOD_NS: i64 = 1_000_000_000;

/// Counter → nanoseconds on one stretch of time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// The counter at the segment's start.
    counter: u64,
    /// Nanoseconds since the origin at the segment's start.
    ns: i64,
    /// Nanoseconds per tick, times 2^32.
    scale: u64,
    /// The counter at which the segment is refitted.
    refit_at: u64,
}

impl Segment {
    const ZERO: Segment = Segment {
        counter: 0,
        ns: 0,
        scale: 0,
        refit_at: 0,
    };

    /// Whether `now` is at most one period past the segment's end (a reading still close
    /// enough to take from it when another thread is refitting).
    fn extends_to(&self, now: u64) -> bool {
        let period = self.refit_at.saturating_sub(self.counter);
        now >= self.counter && now - self.counter <= period.saturating_mul(2)
    }

    /// Nanoseconds at counter `now` (at or after the segment's start).
    fn ns_at(&self, now: u64) -> i64 {
        let ticks = u128::from(now.wrapping_sub(self.counter));
        let ns = (ticks * u128::from(self.scale)) >> 32;
        self.ns
            .saturating_add(i64::try_from(ns).unwrap_or(i64::MAX))
    }
}

/// The fitting of segments from measured pairs: a pure computation, so that it can be tested
/// with made-up counters.
#[derive(Debug, Clone)]
struct Fit {
    /// The first pair: the rate is fitted over everything since.
    first: Option<(u64, i64)>,
    /// Length of the current segment.
    period_ns: i64,
}

impl Fit {
    const fn new() -> Self {
        Fit {
            first: None,
            period_ns: 0,
        }
    }

    /// Takes the pair `(counter, ns)`. Returns the segment starting there, or none while the
    /// baseline is shorter than [`MIN_PERIOD_NS`]; `Err(rate)` when the fitted rate is not
    /// that of a real counter (below 10 MHz or above 100 GHz) or the counter went backwards.
    fn observe(&mut self, counter: u64, ns: i64) -> Result<Option<Segment>, f64> {
        let Some((first_counter, first_ns)) = self.first else {
            self.first = Some((counter, ns));
            return Ok(None);
        };
        let baseline_ns = ns.saturating_sub(first_ns);
        if baseline_ns < MIN_PERIOD_NS {
            return Ok(None);
        }
        let Some(ticks) = counter.checked_sub(first_counter).filter(|&t| t > 0) else {
            return Err(f64::NAN);
        };
        let rate = baseline_ns as f64 / ticks as f64;
        if !(0.01..=100.0).contains(&rate) {
            return Err(rate);
        }
        // Each segment at most as long as the baseline it was fitted over.
        self.period_ns = baseline_ns.clamp(MIN_PERIOD_NS, MAX_PERIOD_NS);
        let period_ticks = (self.period_ns as f64 / rate) as u64;
        Ok(Some(Segment {
            counter,
            ns,
            scale: (rate * 4_294_967_296.0) as u64,
            refit_at: counter.saturating_add(period_ticks.max(1)),
        }))
    }
}

/// Whether the kernel's current clocksource is the time-stamp counter.
fn kernel_keeps_time_with_tsc() -> bool {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .is_ok_and(|source| source.trim() == "tsc")
}

/// The time-stamp counter.
#[allow(unsafe_code)]
fn read_counter() -> u64 {
    // SAFETY: `rdtsc` exists on every x86_64 processor and only reads the counter into two
    // registers: it touches no memory and has no precondition. The intrinsic is declared
    // `unsafe` like all of `core::arch`, not for a contract of its own. (A process that
    // asked the kernel to trap it with `PR_SET_TSC` would also trap its vDSO clock reads.)
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A made-up counter at `ghz` ticks per nanosecond.
    fn ticks(ghz: f64, ns: i64) -> u64 {
        1_000_000 + (ns as f64 * ghz) as u64
    }

    #[test]
    fn the_first_segment_waits_for_a_millisecond_of_baseline() {
        let mut fit = Fit::new();
        assert_eq!(fit.observe(ticks(3.0, 0), 0), Ok(None));
        assert_eq!(fit.observe(ticks(3.0, 999_999), 999_999), Ok(None));
        let segment = fit.observe(ticks(3.0, 1_000_000), 1_000_000);
        let segment = segment.expect("a plausible rate").expect("a segment");
        assert_eq!(segment.ns, 1_000_000);
        assert_eq!(fit.period_ns, MIN_PERIOD_NS);
    }

    #[test]
    fn implausible_rates_and_backward_counters_are_refused() {
        let mut fit = Fit::new();
        fit.observe(1_000, 0).expect("first pair");
        assert!(fit.observe(1_001, 10_000_000).is_err(), "10 ms in one tick");
        let mut fit = Fit::new();
        fit.observe(5_000_000, 0).expect("first pair");
        assert!(fit.observe(4_000_000, 10_000_000).is_err(), "backwards");
    }

    #[test]
    fn a_segment_lends_readings_up_to_one_period_past_its_end() {
        let segment = Segment {
            counter: 1_000,
            ns: 0,
            scale: 1 << 32,
            refit_at: 2_000,
        };
        assert!(!segment.extends_to(999));
        assert!(segment.extends_to(1_000) && segment.extends_to(3_000));
        assert!(!segment.extends_to(3_001));
        assert_eq!(segment.ns_at(2_500), 1_500);
    }

    #[test]
    fn segments_grow_to_a_second() {
        let mut fit = Fit::new();
        let mut ns = 0;
        fit.observe(ticks(2.5, ns), ns).expect("first pair");
        let mut periods = Vec::new();
        for _ in 0..20 {
            ns += fit.period_ns.max(MIN_PERIOD_NS);
            fit.observe(ticks(2.5, ns), ns).expect("plausible");
            periods.push(fit.period_ns);
        }
        assert_eq!(periods[0], MIN_PERIOD_NS);
        assert!(periods.windows(2).all(|w| w[1] >= w[0]), "{periods:?}");
        assert_eq!(*periods.last().expect("periods"), MAX_PERIOD_NS);
    }

    proptest! {
        /// With pairs measured up to 50 ns off, every segment predicts the true time within
        /// 200 ns across its whole length, at any counter frequency from 0.5 to 6 GHz.
        #[test]
        fn segments_track_the_true_clock(
            ghz in 0.5f64..6.0,
            jitter in proptest::collection::vec(-50i64..=50, 40),
            samples in proptest::collection::vec(0.0f64..1.0, 40),
        ) {
            let mut fit = Fit::new();
            let mut ns = 0;
            fit.observe(ticks(ghz, ns), ns + jitter[0]).expect("first pair");
            for (j, s) in jitter.iter().zip(&samples).skip(1) {
                // Past the minimum baseline whatever the jitter of both pairs.
                ns += fit.period_ns.max(MIN_PERIOD_NS) + 100;
                let segment = fit
                    .observe(ticks(ghz, ns), ns + j)
                    .expect("plausible")
                    .expect("a segment");
                // A point inside the segment.
                let at = ns + (fit.period_ns as f64 * s) as i64;
                let predicted = segment.ns_at(ticks(ghz, at));
                prop_assert!((predicted - at).abs() <= 200, "{predicted} vs {at}");
                prop_assert!(segment.refit_at > segment.counter);
            }
        }
    }

    /// On this machine, whichever clock it uses: readings follow `Instant` closely and never
    /// go backwards by more than the jitter of a refit.
    #[test]
    fn readings_follow_instant() {
        let origin = super::super::anchor().mono;
        let mut last = 0;
        let deadline = Instant::now() + std::time::Duration::from_millis(30);
        while Instant::now() < deadline {
            let before = i64::try_from(origin.elapsed().as_nanos()).expect("small");
            let Some(ns) = elapsed_ns(origin) else {
                return; // not a tsc machine: `now_ns` reads Instant
            };
            let after = i64::try_from(origin.elapsed().as_nanos()).expect("small");
            // Bracketed by two `Instant` readings (a preemption only widens the bracket),
            // give or take a segment's error.
            assert!(
                before - 10_000 <= ns && ns <= after + 10_000,
                "{ns} not in [{before}, {after}]"
            );
            assert!(ns >= last - 1_000, "{ns} after {last}");
            last = ns;
        }
        if kernel_keeps_time_with_tsc() {
            let generation = GENERATION.load(Ordering::Acquire);
            assert!(
                generation != NOT_FITTED && generation != DISABLED,
                "30 ms of readings fitted no segment: {generation}"
            );
        }
    }
}
