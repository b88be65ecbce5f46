//! Wall-clock nanoseconds from one monotonic reading.
//!
//! A span start costs one monotonic reading: the wall time is the process anchor plus the
//! monotonic time elapsed since it, so a span's duration is monotonic (`span-model.md` §2)
//! and start and end need no second clock read. The monotonic reading comes from the
//! processor's time-stamp counter where the kernel keeps time with it (see [`tsc`]), else
//! from `Instant`.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tsc;

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    wall_ns: i64,
    mono: Instant,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| Anchor {
        wall_ns: system_time_ns(SystemTime::now()),
        mono: Instant::now(),
    })
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_ns() -> i64 {
    let anchor = anchor();
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if let Some(elapsed) = tsc::elapsed_ns(anchor.mono) {
        return anchor.wall_ns.saturating_add(elapsed);
    }
    let elapsed = i64::try_from(anchor.mono.elapsed().as_nanos()).unwrap_or(i64::MAX);
    anchor.wall_ns.saturating_add(elapsed)
}

/// A `SystemTime` as nanoseconds since the Unix epoch (negative before it, saturating).
pub(crate) fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn anchored_clock_tracks_the_wall_clock() {
        let wall = system_time_ns(SystemTime::now());
        let ours = now_ns();
        assert!((ours - wall).abs() < 1_000_000_000, "{ours} vs {wall}");
        assert!(now_ns() >= ours);
        assert_eq!(system_time_ns(UNIX_EPOCH + Duration::from_nanos(5)), 5);
        assert_eq!(system_time_ns(UNIX_EPOCH - Duration::from_nanos(5)), -5);
    }
}
