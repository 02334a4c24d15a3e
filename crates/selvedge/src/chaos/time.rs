//! Time scenarios as typed values: clock steps (forwards, and backwards), clock skew, timeout
//! patterns, rate bursts, jitter, deadlines and retry backoff. `clock.rs`'s `ScenarioClock`
//! plays them for code under test.
//!
//! Invariant: every strategy draws its boundary cases on purpose (a timeout equal to the work,
//! zero jitter, a deadline met exactly) and shrinks towards the plainest case.

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

/// One change of a `ScenarioClock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeStep {
    /// Time passes: both clocks move forward (the wall clock at its skewed rate).
    Advance(Duration),
    /// The wall clock is set forward (an NTP correction, a user, a VM resumed).
    WallJump(Duration),
    /// The wall clock is set back.
    WallBack(Duration),
    /// The monotonic clock goes backwards: a platform bug (some hypervisors and old kernels
    /// have shipped one), for code that must survive it.
    MonotonicBack(Duration),
}

/// 1 to `max_steps` clock steps: time passing (1 µs to 10 s), the wall clock set forward or
/// back (1 ms to 1 h), and, only if `monotonic_regressions`, the monotonic clock going back
/// (1 µs to 1 s).
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::{time_advances, ScenarioClock, TimeSource};
///
/// // Property: an elapsed time on the monotonic clock never goes down, whatever the wall does.
/// let mut runner = TestRunner::new(ProptestConfig { cases: 32, failure_persistence: None, ..Default::default() });
/// runner.run(&time_advances(20, false), |steps| {
///     let clock = ScenarioClock::new();
///     let start = clock.now();
///     let mut last = std::time::Duration::ZERO;
///     for step in &steps {
///         clock.apply(step);
///         let elapsed = clock.now().duration_since(start);
///         prop_assert!(elapsed >= last);
///         last = elapsed;
///     }
///     Ok(())
/// }).unwrap();
/// ```
pub fn time_advances(
    max_steps: usize,
    monotonic_regressions: bool,
) -> impl Strategy<Value = Vec<TimeStep>> {
    assert!(
        max_steps >= 1,
        "`max_steps` is `0`: a scenario has a step at least"
    );
    let wall_change = 1_000u64..=3_600_000_000;
    let step = if monotonic_regressions {
        prop_oneof![
            4 => (1u64..=10_000_000).prop_map(|us| TimeStep::Advance(Duration::from_micros(us))),
            1 => wall_change.clone().prop_map(|us| TimeStep::WallJump(Duration::from_micros(us))),
            1 => wall_change.prop_map(|us| TimeStep::WallBack(Duration::from_micros(us))),
            1 => (1u64..=1_000_000).prop_map(|us| TimeStep::MonotonicBack(Duration::from_micros(us))),
        ]
        .boxed()
    } else {
        prop_oneof![
            4 => (1u64..=10_000_000).prop_map(|us| TimeStep::Advance(Duration::from_micros(us))),
            1 => wall_change.clone().prop_map(|us| TimeStep::WallJump(Duration::from_micros(us))),
            1 => wall_change.prop_map(|us| TimeStep::WallBack(Duration::from_micros(us))),
        ]
        .boxed()
    };
    vec(step, 1..=max_steps)
}

/// A wall clock that is off: `offset_ns` ahead (positive) or behind (negative) the true time,
/// and drifting by `drift_ppm` parts per million as time passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSkew {
    /// How far ahead (positive) or behind (negative), in nanoseconds.
    pub offset_ns: i64,
    /// How fast it drifts, in parts per million (positive runs fast).
    pub drift_ppm: i32,
}

/// Skews of up to ±1 h offset and ±500 ppm drift; no skew at all is drawn a fifth of the time.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use std::time::Duration;
/// use selvedge::chaos::{clock_skew, ScenarioClock, TimeSource};
///
/// // Property: a lease measured on the monotonic clock ignores wall-clock skew.
/// let mut runner = TestRunner::new(ProptestConfig { cases: 32, failure_persistence: None, ..Default::default() });
/// runner.run(&clock_skew(), |skew| {
///     let clock = ScenarioClock::new();
///     let granted = clock.now();
///     clock.set_skew(&skew);
///     clock.advance(Duration::from_secs(10));
///     prop_assert_eq!(clock.now() - granted, Duration::from_secs(10));
///     Ok(())
/// }).unwrap();
/// ```
pub fn clock_skew() -> impl Strategy<Value = ClockSkew> {
    prop_oneof![
        1 => Just(ClockSkew { offset_ns: 0, drift_ppm: 0 }),
        4 => (-3_600_000_000i64..=3_600_000_000, -500i32..=500).prop_map(|(offset_us, drift_ppm)| {
            ClockSkew { offset_ns: offset_us * 1_000, drift_ppm }
        }),
    ]
}

/// Work that may or may not finish within its timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutPattern {
    /// How long the caller waits.
    pub timeout: Duration,
    /// How long the work takes.
    pub work: Duration,
}

impl TimeoutPattern {
    /// Whether the timeout fires first: the work is not done strictly before it.
    pub fn times_out(&self) -> bool {
        self.work >= self.timeout
    }
}

/// Timeouts of 1 ms to 10 s with work that ends well before, well after, or within a
/// microsecond of the timeout (exactly at it included): the boundary is where timeout code
/// goes wrong.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::{timeout_patterns, ScenarioClock, TimeSource};
///
/// // Code under test: poll until done or the deadline passes.
/// fn finished_in_time(clock: &ScenarioClock, timeout: std::time::Duration, work: std::time::Duration) -> bool {
///     let deadline = clock.now() + timeout;
///     clock.advance(work.min(timeout));
///     work < timeout && clock.now() < deadline
/// }
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() });
/// runner.run(&timeout_patterns(), |pattern| {
///     let clock = ScenarioClock::new();
///     prop_assert_eq!(finished_in_time(&clock, pattern.timeout, pattern.work), !pattern.times_out());
///     Ok(())
/// }).unwrap();
/// ```
pub fn timeout_patterns() -> impl Strategy<Value = TimeoutPattern> {
    (1_000u64..=10_000_000).prop_flat_map(|timeout_us| {
        let timeout = Duration::from_micros(timeout_us);
        let work = prop_oneof![
            1 => Just(timeout),
            1 => Just(timeout - Duration::from_micros(1)),
            1 => Just(timeout + Duration::from_micros(1)),
            3 => (0..=2 * timeout_us).prop_map(Duration::from_micros),
        ];
        work.prop_map(move |work| TimeoutPattern { timeout, work })
    })
}

/// A burst of requests: `requests` of them spread evenly over `over`, then a pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// Requests in the burst.
    pub requests: u32,
    /// How long the burst lasts (0: all at once).
    pub over: Duration,
    /// Quiet time after it.
    pub pause_after: Duration,
}

/// 1 to `max_bursts` bursts of 1 to `max_requests` requests over 0 to 1 s, with pauses of 0 to
/// 5 s; bursts with every request at the same instant are drawn often.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use std::time::Duration;
/// use selvedge::chaos::{rate_bursts, ScenarioClock, TimeSource};
///
/// // Code under test: a limiter admitting at most 10 requests per rolling second.
/// struct Limiter { admitted: Vec<std::time::Instant> }
/// impl Limiter {
///     fn admit(&mut self, now: std::time::Instant) -> bool {
///         self.admitted.retain(|t| now.duration_since(*t) < Duration::from_secs(1));
///         let ok = self.admitted.len() < 10;
///         if ok { self.admitted.push(now); }
///         ok
///     }
/// }
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 32, failure_persistence: None, ..Default::default() });
/// runner.run(&rate_bursts(5, 40), |bursts| {
///     let clock = ScenarioClock::new();
///     let mut limiter = Limiter { admitted: Vec::new() };
///     let mut window: Vec<std::time::Instant> = Vec::new();
///     for burst in &bursts {
///         for i in 0..burst.requests {
///             if limiter.admit(clock.now()) { window.push(clock.now()); }
///             if i + 1 < burst.requests { clock.advance(burst.over / burst.requests); }
///         }
///         clock.advance(burst.pause_after);
///     }
///     // Never more than 10 admissions in any one-second window.
///     for (i, t) in window.iter().enumerate() {
///         let in_window = window[i..].iter().filter(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
///         prop_assert!(in_window <= 10);
///     }
///     Ok(())
/// }).unwrap();
/// ```
pub fn rate_bursts(max_bursts: usize, max_requests: u32) -> impl Strategy<Value = Vec<Burst>> {
    assert!(
        max_bursts >= 1,
        "`max_bursts` is `0`: a pattern has a burst at least"
    );
    assert!(
        max_requests >= 1,
        "`max_requests` is `0`: a burst has a request at least"
    );
    let over = prop_oneof![
        1 => Just(Duration::ZERO),
        2 => (1u64..=1_000_000).prop_map(Duration::from_micros),
    ];
    let burst = (
        1..=max_requests,
        over,
        (0u64..=5_000_000).prop_map(Duration::from_micros),
    )
        .prop_map(|(requests, over, pause_after)| Burst {
            requests,
            over,
            pause_after,
        });
    vec(burst, 1..=max_bursts)
}

/// `samples` delays of `base` ± up to `max_jitter` each (never below zero); no jitter at all,
/// and the extremes ±`max_jitter`, are drawn on purpose.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use std::time::Duration;
///
/// let (base, max) = (Duration::from_millis(100), Duration::from_millis(20));
/// let mut runner = TestRunner::new(ProptestConfig { cases: 32, failure_persistence: None, ..Default::default() });
/// runner.run(&selvedge::chaos::jitter(base, max, 10), |delays| {
///     // A heartbeat checker that allows 25 ms of lateness never flags these.
///     prop_assert!(delays.iter().all(|d| d.abs_diff(base) <= Duration::from_millis(25)));
///     Ok(())
/// }).unwrap();
/// ```
pub fn jitter(
    base: Duration,
    max_jitter: Duration,
    samples: usize,
) -> impl Strategy<Value = Vec<Duration>> {
    let max_ns = max_jitter.as_nanos().min(i64::MAX as u128) as i64;
    let offset = prop_oneof![
        1 => Just(0i64),
        1 => Just(max_ns),
        1 => Just(-max_ns),
        4 => -max_ns..=max_ns,
    ];
    vec(offset, samples..=samples).prop_map(move |offsets| {
        offsets
            .into_iter()
            .map(|ns| {
                let magnitude = Duration::from_nanos(ns.unsigned_abs());
                if ns >= 0 {
                    base + magnitude
                } else {
                    base.saturating_sub(magnitude)
                }
            })
            .collect()
    })
}

/// A deadline for a sequence of steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// Time allowed for all the steps.
    pub budget: Duration,
    /// How long each step takes, in order.
    pub steps: Vec<Duration>,
}

impl Deadline {
    /// Whether every step is done within the budget (finishing exactly at it counts).
    pub fn is_met(&self) -> bool {
        self.steps.iter().sum::<Duration>() <= self.budget
    }

    /// How many steps finish within the budget.
    pub fn steps_in_time(&self) -> usize {
        let mut spent = Duration::ZERO;
        self.steps
            .iter()
            .take_while(|step| {
                spent += **step;
                spent <= self.budget
            })
            .count()
    }
}

/// Budgets of 1 ms to 10 s for 1 to `max_steps` steps of up to 2 s; budgets equal to the total
/// (met exactly) and one microsecond short of it are drawn on purpose.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::{deadlines, ScenarioClock, TimeSource};
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() });
/// runner.run(&deadlines(6), |deadline| {
///     // Code under test: run steps while the deadline allows, on a scenario clock.
///     let clock = ScenarioClock::new();
///     let end = clock.now() + deadline.budget;
///     let mut done = 0;
///     for step in &deadline.steps {
///         if clock.now() + *step > end { break; }
///         clock.advance(*step);
///         done += 1;
///     }
///     prop_assert_eq!(done, deadline.steps_in_time());
///     prop_assert_eq!(done == deadline.steps.len(), deadline.is_met());
///     Ok(())
/// }).unwrap();
/// ```
pub fn deadlines(max_steps: usize) -> impl Strategy<Value = Deadline> {
    assert!(
        max_steps >= 1,
        "`max_steps` is `0`: a deadline covers a step at least"
    );
    vec(
        (0u64..=2_000_000).prop_map(Duration::from_micros),
        1..=max_steps,
    )
    .prop_flat_map(|steps| {
        let total: Duration = steps.iter().sum();
        let budget = prop_oneof![
            1 => Just(total.max(Duration::from_micros(1))),
            1 => Just(total.saturating_sub(Duration::from_micros(1)).max(Duration::from_micros(1))),
            3 => (1_000u64..=10_000_000).prop_map(Duration::from_micros),
        ];
        budget.prop_map(move |budget| Deadline {
            budget,
            steps: steps.clone(),
        })
    })
}

/// An exponential backoff policy for retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryBackoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Each delay is the previous one times this.
    pub multiplier: u32,
    /// No delay is longer than this.
    pub max_delay: Duration,
    /// Retries before giving up.
    pub max_attempts: u32,
}

impl RetryBackoff {
    /// The delay before retry `attempt` (0 is the first retry): `initial · multiplierᵃᵗᵗᵉᵐᵖᵗ`,
    /// capped at `max_delay`, without overflow.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = self.multiplier.checked_pow(attempt).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// Every delay, in order: `max_attempts` of them.
    pub fn delays(&self) -> Vec<Duration> {
        (0..self.max_attempts).map(|a| self.delay(a)).collect()
    }
}

/// Policies with initial delays of 1 ms to 1 s, multipliers 1 to 4, caps of 10 ms to 60 s and
/// 0 to 20 attempts.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() });
/// runner.run(&selvedge::chaos::retry_backoff(), |policy| {
///     let delays = policy.delays();
///     prop_assert_eq!(delays.len() as u32, policy.max_attempts);
///     prop_assert!(delays.windows(2).all(|w| w[0] <= w[1]), "never shrinks");
///     prop_assert!(delays.iter().all(|d| *d <= policy.max_delay), "never past the cap");
///     Ok(())
/// }).unwrap();
/// ```
pub fn retry_backoff() -> impl Strategy<Value = RetryBackoff> {
    (
        (1_000u64..=1_000_000).prop_map(Duration::from_micros),
        1u32..=4,
        (10u64..=60_000).prop_map(Duration::from_millis),
        0u32..=20,
    )
        .prop_map(
            |(initial, multiplier, max_delay, max_attempts)| RetryBackoff {
                initial,
                multiplier,
                max_delay,
                max_attempts,
            },
        )
}
