//! Time for code under test that a scenario drives: `TimeSource` is what the code reads
//! (`RealTime` in production), `ScenarioClock` is a pair of clocks — monotonic and wall — that
//! a test moves by hand or with generated `TimeStep`s, skews, and steps backwards, so
//! time-dependent code is tested without sleeping.
//!
//! Invariant: a `ScenarioClock` changes only when told to; its readings never depend on real
//! time, so a property over it is as deterministic as the steps that drive it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::time::{ClockSkew, TimeStep};

/// The clocks code under test reads: take a `&dyn TimeSource` (or a generic) instead of
/// calling `Instant::now()` and `SystemTime::now()`.
pub trait TimeSource: Send + Sync {
    /// The monotonic clock (like `Instant::now()`).
    fn now(&self) -> Instant;
    /// The wall clock (like `SystemTime::now()`), which can jump, forwards or back.
    fn wall(&self) -> SystemTime;
}

/// The real clocks, for production.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealTime;

impl TimeSource for RealTime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A monotonic and a wall clock that move only when the test says: `advance` lets time pass
/// (the wall clock at its skewed rate), `apply` plays a generated `TimeStep` — including a
/// wall clock set back, or a broken monotonic clock going backwards — and `set_skew` puts the
/// wall clock ahead or behind and makes it drift. Clones share the clocks.
///
/// ```
/// use std::time::Duration;
/// use selvedge::chaos::{ScenarioClock, TimeSource, TimeStep};
///
/// // Code under test: a cache entry that expires after a TTL, measured on the monotonic clock.
/// struct Entry { stored: std::time::Instant }
/// fn expired(clock: &dyn TimeSource, entry: &Entry, ttl: Duration) -> bool {
///     clock.now().duration_since(entry.stored) >= ttl
/// }
///
/// let clock = ScenarioClock::new();
/// let entry = Entry { stored: clock.now() };
/// clock.apply(&TimeStep::WallBack(Duration::from_secs(3600))); // NTP sets the wall clock back
/// assert!(!expired(&clock, &entry, Duration::from_secs(60)));   // ... the TTL does not notice
/// clock.advance(Duration::from_secs(60));
/// assert!(expired(&clock, &entry, Duration::from_secs(60)));
/// ```
#[derive(Clone, Debug)]
pub struct ScenarioClock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    /// A real instant far enough from the platform's zero that the clock can go back from it.
    origin: Instant,
    /// Monotonic reading, in nanoseconds after `origin` (negative after a regression).
    monotonic_ns: i128,
    /// Wall reading, in nanoseconds after the Unix epoch.
    wall_ns: i128,
    /// Wall-clock drift, in parts per million of the time that passes.
    drift_ppm: i64,
}

/// Where a new `ScenarioClock`'s wall clock starts: 2024-01-01T00:00:00Z.
pub const SCENARIO_EPOCH_SECS: u64 = 1_704_067_200;

impl Default for ScenarioClock {
    fn default() -> ScenarioClock {
        ScenarioClock::new()
    }
}

impl ScenarioClock {
    /// Clocks at rest: the wall clock at 2024-01-01T00:00:00Z, no skew.
    pub fn new() -> ScenarioClock {
        ScenarioClock::starting_at(UNIX_EPOCH + Duration::from_secs(SCENARIO_EPOCH_SECS))
    }

    /// Clocks at rest, the wall clock reading `wall`.
    pub fn starting_at(wall: SystemTime) -> ScenarioClock {
        let wall_ns = match wall.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        // `Instant` cannot go below the platform's zero: start a year ahead of now, so a
        // monotonic regression of up to a year can be represented.
        let now = Instant::now();
        let origin = now
            .checked_add(Duration::from_secs(365 * 24 * 3600))
            .unwrap_or(now);
        ScenarioClock {
            state: Arc::new(Mutex::new(ClockState {
                origin,
                monotonic_ns: 0,
                wall_ns,
                drift_ppm: 0,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut ClockState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Lets `d` pass: the monotonic clock moves by `d`, the wall clock by `d` adjusted for drift.
    pub fn advance(&self, d: Duration) {
        self.with(|s| {
            let ns = d.as_nanos() as i128;
            s.monotonic_ns += ns;
            s.wall_ns += ns + ns * s.drift_ppm as i128 / 1_000_000;
        });
    }

    /// Plays one generated step.
    pub fn apply(&self, step: &TimeStep) {
        match *step {
            TimeStep::Advance(d) => self.advance(d),
            TimeStep::WallJump(d) => self.with(|s| s.wall_ns += d.as_nanos() as i128),
            TimeStep::WallBack(d) => self.with(|s| s.wall_ns -= d.as_nanos() as i128),
            TimeStep::MonotonicBack(d) => self.with(|s| s.monotonic_ns -= d.as_nanos() as i128),
        }
    }

    /// Puts the wall clock `skew.offset_ns` ahead (positive) or behind (negative) of where it
    /// reads now, and makes it drift by `skew.drift_ppm` from now on.
    pub fn set_skew(&self, skew: &ClockSkew) {
        self.with(|s| {
            s.wall_ns += skew.offset_ns as i128;
            s.drift_ppm = i64::from(skew.drift_ppm);
        });
    }

    /// Time the monotonic clock has moved since the clock was made (negative moves count
    /// against it; never below zero).
    pub fn elapsed(&self) -> Duration {
        self.with(|s| Duration::from_nanos(s.monotonic_ns.clamp(0, u64::MAX as i128) as u64))
    }
}

impl TimeSource for ScenarioClock {
    fn now(&self) -> Instant {
        self.with(|s| {
            let magnitude =
                Duration::from_nanos(s.monotonic_ns.unsigned_abs().min(u64::MAX as u128) as u64);
            if s.monotonic_ns >= 0 {
                s.origin + magnitude
            } else {
                s.origin.checked_sub(magnitude).unwrap_or(s.origin)
            }
        })
    }

    fn wall(&self) -> SystemTime {
        self.with(|s| {
            let magnitude =
                Duration::from_nanos(s.wall_ns.unsigned_abs().min(u64::MAX as u128) as u64);
            if s.wall_ns >= 0 {
                UNIX_EPOCH + magnitude
            } else {
                UNIX_EPOCH - magnitude
            }
        })
    }
}
