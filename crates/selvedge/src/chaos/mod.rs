//! Chaos scenarios (feature `chaos`): proptest strategies that generate concurrency and time
//! scenarios as typed values, and runners that play a scenario under the model so a property
//! over them is checked on every interleaving — and proptest shrinks a failure to the smallest
//! scenario that still fails.
//!
//! ```
//! use proptest::prelude::*;
//! use proptest::test_runner::{TestError, TestRunner};
//! use selvedge::chaos::deadlock_scenarios;
//!
//! // "Threads taking locks in any order never deadlock" is false; proptest, with the model
//! // deciding each case, shrinks the counterexample to two threads crossing two locks.
//! let mut runner = TestRunner::new(ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() });
//! let result = runner.run(&deadlock_scenarios(3, 3), |scenario| {
//!     let verdict = scenario.check();
//!     prop_assert!(verdict.passed(), "{verdict}");
//!     Ok(())
//! });
//! let Err(TestError::Fail(_, smallest)) = result else { panic!("arbitrary lock orders can deadlock") };
//! assert_eq!(smallest.threads.len(), 2);
//! assert_eq!(smallest.locks(), 2);
//! ```
//!
//! # Scenarios
//!
//! - Concurrency: [`thread_counts`], [`race_triggers`], [`deadlock_scenarios`] (with a runner),
//!   [`lock_contention`] (with a runner), [`async_event_patterns`], [`task_cancellations`],
//!   [`pool_patterns`], [`pid_recycling`].
//! - Time: [`time_advances`] (forwards and backwards), [`clock_skew`], [`timeout_patterns`],
//!   [`rate_bursts`], [`jitter`], [`deadlines`], [`retry_backoff`].
//!
//! # Runners
//!
//! [`DeadlockScenario::run_model`] takes each thread's locks in order under the model and
//! returns the [`Report`](crate::Report): a reachable deadlock is its failure, with the
//! wait-for cycle and a replay string. [`ContentionScenario::run_model`] plays a contention
//! scenario against a [`LockSet`] (the lock implementation under test), holding locks with
//! `selvedge::thread::sleep`, which is virtual time in the model: no real waiting.
//! [`AsyncSubject`] plays [`async_event_patterns`] and [`task_cancellations`] on selvedge's async
//! executor: one spawned task per event or plan, started late, aborted or timed out as the
//! pattern says, then the subject's own check. Each runner has a `check` form returning a
//! [`Verdict`].
//!
//! # Time under test
//!
//! Code that reads time through a [`TimeSource`] (real clocks in production: [`RealTime`]) can
//! be driven by a [`ScenarioClock`]: generated [`TimeStep`]s move its monotonic and wall clocks,
//! [`ClockSkew`] puts the wall clock off and makes it drift, and nothing sleeps.

mod asynchronous;
mod clock;
mod concurrency;
mod contention;
mod deadlock;
mod reduce;
mod time;
mod verdict;

pub use asynchronous::{AsyncSubject, ASYNC_MAX_SCHEDULES};
pub use clock::{RealTime, ScenarioClock, TimeSource, SCENARIO_EPOCH_SECS};
pub use concurrency::{
    async_event_patterns, pid_recycling, pool_patterns, race_triggers, task_cancellations,
    thread_counts, AsyncEvent, DurationShape, PidRecycling, PoolPattern, RaceTriggers, TaskFate,
    TaskPlan,
};
pub use contention::{
    lock_contention, ContendedOp, ContentionScenario, LockSet, ModelLocks, CONTENTION_SCHEDULES,
};
pub use deadlock::{deadlock_scenarios, DeadlockScenario, DEADLOCK_MAX_SCHEDULES};
pub use time::{
    clock_skew, deadlines, jitter, rate_bursts, retry_backoff, time_advances, timeout_patterns,
    Burst, ClockSkew, Deadline, RetryBackoff, TimeStep, TimeoutPattern,
};
pub use verdict::Verdict;
