//! `Stress`, the builder: what to run, on how many threads, for how long, with which checks,
//! faults and watchdog. It only collects settings; `validate` turns bad ones into an `Error`
//! naming the setting, and `run.rs` carries a valid plan out.
//!
//! Invariant: nothing here starts a thread or reads a clock.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::error::Error;
use super::run::{self, Ctx};
use super::Outcome;

/// A stress run of real code on real OS threads: a weighted mix of named operations, invariants
/// counted as violations, faults injected on a schedule with the time to recover measured, and
/// a watchdog that reports stuck threads instead of hanging.
///
/// Every thread waits at a start barrier, then runs `iterations` operations (or runs until
/// `duration` has passed), each drawn from the mix by weight with a per-thread random stream
/// seeded from `seed`.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
/// use std::sync::{Arc, Mutex};
///
/// let total = Arc::new(Mutex::new(0u64));
/// let added = Arc::new(AtomicU64::new(0));
/// let (t, a) = (total.clone(), added.clone());
/// let (t2, a2) = (total.clone(), added.clone());
/// let outcome = selvedge::stress::Stress::new("counter")
///     .threads(4)
///     .iterations(200)
///     .op("add", 3, move |_| {
///         *t.lock().unwrap() += 1;
///         a.fetch_add(1, Relaxed);
///     })
///     .op("read", 1, |_| {})
///     // At the end: the counter saw every addition.
///     .invariant("lost_updates", move || a2.load(Relaxed) - *t2.lock().unwrap())
///     .run();
/// assert!(outcome.is_clean(), "{outcome}");
/// assert_eq!(outcome.iterations(), 800);
/// println!("{}", outcome.to_markdown());
/// ```
pub struct Stress {
    pub(crate) name: String,
    pub(crate) threads: usize,
    pub(crate) iterations: Option<u64>,
    pub(crate) duration: Option<Duration>,
    pub(crate) start_barrier: bool,
    pub(crate) ops: Vec<Operation>,
    pub(crate) invariants: Vec<Invariant>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) watchdog: Duration,
    pub(crate) shake: Shake,
    pub(crate) histograms: bool,
    pub(crate) seed: u64,
    pub(crate) progress: Progress,
}

/// What an operation returns: `()` for an operation that cannot fail, or a `Result` whose
/// `Err` counts as an error of that operation, with its message (a panic counts the same way).
pub trait OpResult {
    /// The error message, if the operation failed.
    fn error_message(self) -> Option<String>;
}

impl OpResult for () {
    fn error_message(self) -> Option<String> {
        None
    }
}

impl<T, E: fmt::Display> OpResult for Result<T, E> {
    fn error_message(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

/// What an invariant returns: a count of violations (`u64`, `usize`, `u32`), or a `bool`
/// that is `true` when the invariant holds (`false` counts one violation).
pub trait Violations {
    /// The number of violations this check saw.
    fn violations(self) -> u64;
}

impl Violations for bool {
    fn violations(self) -> u64 {
        u64::from(!self)
    }
}

impl Violations for u64 {
    fn violations(self) -> u64 {
        self
    }
}

impl Violations for usize {
    fn violations(self) -> u64 {
        self as u64
    }
}

impl Violations for u32 {
    fn violations(self) -> u64 {
        u64::from(self)
    }
}

pub(crate) type OpFn = Arc<dyn Fn(&mut Ctx) -> Option<String> + Send + Sync>;
pub(crate) type CheckFn = Arc<dyn Fn() -> u64 + Send + Sync>;

pub(crate) struct Operation {
    pub(crate) name: String,
    pub(crate) weight: u32,
    pub(crate) run: OpFn,
}

/// When an invariant is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckWhen {
    /// Once, after every thread finished: the closure returns the run's count.
    AtEnd,
    /// After every operation, by the thread that ran it, and once more at the end; every
    /// call's count is added up.
    AfterEachOp,
}

pub(crate) struct Invariant {
    pub(crate) name: String,
    pub(crate) when: CheckWhen,
    pub(crate) check: CheckFn,
}

/// When a fault is injected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Trigger {
    /// Before every `n`-th operation of the run, counted over all threads.
    Every(u64),
    /// Before each operation, with this probability.
    Random(f64),
}

pub(crate) struct Fault {
    pub(crate) name: String,
    pub(crate) trigger: Trigger,
    pub(crate) inject: OpFn,
}

/// What a `syncpoint!` in the code under test does on the harness's threads: a random
/// `std::thread::yield_now`, a random short sleep, or nothing, to shake the schedule where it
/// matters. Every syncpoint is also remembered as the thread's last one for the watchdog.
///
/// ```
/// use std::time::Duration;
/// use selvedge::stress::{Shake, Stress};
///
/// // Sleep up to 200 µs at one syncpoint in five, yield at half of them.
/// let shake = Shake { yield_chance: 0.5, sleep_chance: 0.2, max_sleep: Duration::from_micros(200) };
/// let outcome = Stress::new("shaken")
///     .threads(2)
///     .iterations(50)
///     .shake(shake)
///     .op("step", 1, |_| { selvedge::syncpoint!("between halves"); })
///     .run();
/// assert!(outcome.is_clean());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shake {
    /// Chance that a syncpoint yields the thread (default 0.3).
    pub yield_chance: f64,
    /// Chance that a syncpoint sleeps for a random time up to `max_sleep` (default 0.05).
    pub sleep_chance: f64,
    /// The longest sleep (default 100 µs).
    pub max_sleep: Duration,
}

impl Shake {
    /// Syncpoints are only remembered, never yield or sleep.
    pub fn off() -> Shake {
        Shake {
            yield_chance: 0.0,
            sleep_chance: 0.0,
            max_sleep: Duration::ZERO,
        }
    }
}

impl Default for Shake {
    fn default() -> Shake {
        Shake {
            yield_chance: 0.3,
            sleep_chance: 0.05,
            max_sleep: Duration::from_micros(100),
        }
    }
}

/// Whether a progress line is drawn while the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Progress {
    /// When stderr is a terminal and the run has lasted two seconds (the default).
    #[default]
    Auto,
    /// Never.
    Never,
}

impl Stress {
    /// A run called `name` (the report's `Test` column), with defaults: 4 threads, 100
    /// iterations per thread, a start barrier, a 30 s watchdog, `Shake::default()`, latency
    /// histograms on, seed 1.
    pub fn new(name: impl Into<String>) -> Stress {
        Stress {
            name: name.into(),
            threads: 4,
            iterations: None,
            duration: None,
            start_barrier: true,
            ops: Vec::new(),
            invariants: Vec::new(),
            faults: Vec::new(),
            watchdog: Duration::from_secs(30),
            shake: Shake::default(),
            histograms: true,
            seed: 1,
            progress: Progress::Auto,
        }
    }

    /// How many OS threads run operations (default 4; at least 1).
    pub fn threads(mut self, threads: usize) -> Stress {
        self.threads = threads;
        self
    }

    /// Operations per thread (default 100, unless `duration` is set; at least 1).
    pub fn iterations(mut self, iterations: u64) -> Stress {
        self.iterations = Some(iterations);
        self
    }

    /// Run until this much time has passed instead of a number of iterations.
    pub fn duration(mut self, duration: Duration) -> Stress {
        self.duration = Some(duration);
        self
    }

    /// Whether threads wait for each other before their first operation (default `true`), so
    /// they start together rather than as they are spawned.
    pub fn start_barrier(mut self, on: bool) -> Stress {
        self.start_barrier = on;
        self
    }

    /// Adds an operation called `name`, drawn with probability `weight` / (sum of weights).
    /// It returns `()` or a `Result`; an `Err` or a panic counts as an error of this operation,
    /// with its message, and the run goes on.
    pub fn op<R, F>(mut self, name: impl Into<String>, weight: u32, op: F) -> Stress
    where
        R: OpResult,
        F: Fn(&mut Ctx) -> R + Send + Sync + 'static,
    {
        self.ops.push(Operation {
            name: name.into(),
            weight,
            run: Arc::new(move |ctx| op(ctx).error_message()),
        });
        self
    }

    /// Adds an invariant checked once at the end, after every thread finished: `check` returns
    /// the run's count of violations (a counter the code under test kept, say), or a `bool`
    /// that is `true` when the invariant holds. The count is the invariant's column.
    pub fn invariant<V, F>(mut self, name: impl Into<String>, check: F) -> Stress
    where
        V: Violations,
        F: Fn() -> V + Send + Sync + 'static,
    {
        self.invariants.push(Invariant {
            name: name.into(),
            when: CheckWhen::AtEnd,
            check: Arc::new(move || check().violations()),
        });
        self
    }

    /// Adds an invariant checked after every operation, by the thread that ran it, and once
    /// more at the end; the column adds up every check's count. Use it for a property of the
    /// current state (`pool.idle() <= CAPACITY`), not for a running total, which would be
    /// counted again at every check.
    pub fn invariant_after_each_op<V, F>(mut self, name: impl Into<String>, check: F) -> Stress
    where
        V: Violations,
        F: Fn() -> V + Send + Sync + 'static,
    {
        self.invariants.push(Invariant {
            name: name.into(),
            when: CheckWhen::AfterEachOp,
            check: Arc::new(move || check().violations()),
        });
        self
    }

    /// Injects a fault called `name` before every `every`-th operation of the run (counted
    /// over all threads), on the thread about to run it. The recovery time — from the end of
    /// the fault to the first operation started after it that succeeds — is measured.
    pub fn fault_every<R, F>(mut self, every: u64, name: impl Into<String>, fault: F) -> Stress
    where
        R: OpResult,
        F: Fn(&mut Ctx) -> R + Send + Sync + 'static,
    {
        self.faults.push(Fault {
            name: name.into(),
            trigger: Trigger::Every(every),
            inject: Arc::new(move |ctx| fault(ctx).error_message()),
        });
        self
    }

    /// Like `fault_every`, but before each operation with probability `chance` (0 < chance <= 1).
    pub fn fault_random<R, F>(mut self, chance: f64, name: impl Into<String>, fault: F) -> Stress
    where
        R: OpResult,
        F: Fn(&mut Ctx) -> R + Send + Sync + 'static,
    {
        self.faults.push(Fault {
            name: name.into(),
            trigger: Trigger::Random(chance),
            inject: Arc::new(move |ctx| fault(ctx).error_message()),
        });
        self
    }

    /// The deadline (default 30 s): threads not done this long after the start — after the
    /// planned end, for a run of a `duration` — are reported as deadlocked, each with its
    /// iteration, what it was doing and the last syncpoint it passed. `run` then returns; the
    /// stuck threads are left parked (the report says so), so the process can still exit.
    pub fn watchdog(mut self, deadline: Duration) -> Stress {
        self.watchdog = deadline;
        self
    }

    /// What syncpoints do on the harness's threads (default `Shake::default()`).
    pub fn shake(mut self, shake: Shake) -> Stress {
        self.shake = shake;
        self
    }

    /// Whether each operation's latency is recorded (default `true`). Off, the report has no
    /// percentiles and an operation costs two clock reads less.
    pub fn histograms(mut self, on: bool) -> Stress {
        self.histograms = on;
        self
    }

    /// Seeds the per-thread random streams that pick operations, random faults and shakes
    /// (default 1). Real threads still interleave as the OS schedules them.
    pub fn seed(mut self, seed: u64) -> Stress {
        self.seed = seed;
        self
    }

    /// Whether a progress line is drawn (default `Progress::Auto`).
    pub fn progress(mut self, progress: Progress) -> Stress {
        self.progress = progress;
        self
    }

    /// Runs the stress test and returns what it measured. Panics with the error's message if
    /// the run could not be carried out (a bad setting, a panicking invariant); see `try_run`.
    #[track_caller]
    pub fn run(self) -> Outcome {
        match self.try_run() {
            Ok(outcome) => outcome,
            Err(error) => panic!("{error}"),
        }
    }

    /// Runs the stress test, or says why it could not: a bad setting (named by
    /// `Error::field`), an invariant that panicked, a thread the OS would not start.
    pub fn try_run(self) -> Result<Outcome, Error> {
        self.validate()?;
        run::run(self)
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() {
            return Err(Error::bad_config(
                "name",
                "the run's `name` is empty: name it after what it stresses, it is the report's \
                 `Test` column"
                    .to_string(),
            ));
        }
        if self.threads == 0 {
            return Err(Error::bad_config(
                "threads",
                "`threads` is `0`: a stress run needs at least one thread; call `.threads(n)` \
                 with n >= 1"
                    .to_string(),
            ));
        }
        if self.iterations.is_some() && self.duration.is_some() {
            return Err(Error::bad_config(
                "iterations",
                "both `iterations` and `duration` are set: a run is measured in one of them; \
                 remove one of the two calls"
                    .to_string(),
            ));
        }
        if self.iterations == Some(0) {
            return Err(Error::bad_config(
                "iterations",
                "`iterations` is `0`: every thread must run at least one operation; call \
                 `.iterations(n)` with n >= 1"
                    .to_string(),
            ));
        }
        if self.duration == Some(Duration::ZERO) {
            return Err(Error::bad_config(
                "duration",
                "`duration` is `0s`: give the run some time, e.g. `.duration(Duration::from_secs(1))`"
                    .to_string(),
            ));
        }
        if self.watchdog.is_zero() {
            return Err(Error::bad_config(
                "watchdog",
                "the `watchdog` deadline is `0s`: every thread would count as deadlocked at \
                 once; give it longer than the run needs, e.g. `.watchdog(Duration::from_secs(30))`"
                    .to_string(),
            ));
        }
        if self.ops.is_empty() {
            return Err(Error::bad_config(
                "op",
                "no operation to run: add at least one with `.op(name, weight, |ctx| ..)`"
                    .to_string(),
            ));
        }
        for (i, op) in self.ops.iter().enumerate() {
            if op.name.trim().is_empty() {
                return Err(Error::bad_config(
                    "op",
                    format!("operation {i} has an empty name: name it, the report lists operations by name"),
                ));
            }
            if op.weight == 0 {
                return Err(Error::bad_config(
                    "op",
                    format!(
                        "operation `{}` has weight `0`: a weight is at least 1; remove the \
                         operation to leave it out of the mix",
                        op.name
                    ),
                ));
            }
            if self.ops[..i].iter().any(|other| other.name == op.name) {
                return Err(Error::bad_config(
                    "op",
                    format!(
                        "two operations are called `{}`: give each its own name, the report \
                         keeps them apart by name",
                        op.name
                    ),
                ));
            }
        }
        let total_weight: u64 = self.ops.iter().map(|op| u64::from(op.weight)).sum();
        if total_weight > u64::from(u32::MAX) {
            return Err(Error::bad_config(
                "op",
                format!("the operations' weights add up to `{total_weight}`, more than `{}`: scale them down", u32::MAX),
            ));
        }
        for (i, invariant) in self.invariants.iter().enumerate() {
            if invariant.name.trim().is_empty() {
                return Err(Error::bad_config(
                    "invariant",
                    format!(
                        "invariant {i} has an empty name: name it, it is a column of the report"
                    ),
                ));
            }
            if self.invariants[..i]
                .iter()
                .any(|other| other.name == invariant.name)
                || [
                    "Test",
                    "Threads",
                    "Duration",
                    "Iterations",
                    "Deadlocks",
                    "Errors",
                ]
                .iter()
                .any(|column| column.eq_ignore_ascii_case(&invariant.name))
            {
                return Err(Error::bad_config(
                    "invariant",
                    format!(
                        "invariant name `{}` is already a column of the report: give each \
                         invariant its own name",
                        invariant.name
                    ),
                ));
            }
        }
        for (i, fault) in self.faults.iter().enumerate() {
            if fault.name.trim().is_empty() {
                return Err(Error::bad_config(
                    "fault",
                    format!(
                        "fault {i} has an empty name: name it, the report lists faults by name"
                    ),
                ));
            }
            if self.faults[..i]
                .iter()
                .any(|other| other.name == fault.name)
            {
                return Err(Error::bad_config(
                    "fault",
                    format!(
                        "two faults are called `{}`: give each its own name",
                        fault.name
                    ),
                ));
            }
            match fault.trigger {
                Trigger::Every(0) => {
                    return Err(Error::bad_config(
                        "fault",
                        format!(
                            "fault `{}` is injected every `0` iterations: use 1 for before \
                             every operation, or more",
                            fault.name
                        ),
                    ))
                }
                Trigger::Random(chance) if !(chance > 0.0 && chance <= 1.0) => {
                    return Err(Error::bad_config(
                        "fault",
                        format!(
                            "fault `{}` has chance `{chance}`: a chance is more than 0 and at \
                             most 1",
                            fault.name
                        ),
                    ))
                }
                _ => {}
            }
        }
        let shake = self.shake;
        for (knob, chance) in [
            ("yield_chance", shake.yield_chance),
            ("sleep_chance", shake.sleep_chance),
        ] {
            if !(0.0..=1.0).contains(&chance) {
                return Err(Error::bad_config(
                    "shake",
                    format!("`Shake::{knob}` is `{chance}`: a chance is between 0 and 1"),
                ));
            }
        }
        if shake.yield_chance + shake.sleep_chance > 1.0 {
            return Err(Error::bad_config(
                "shake",
                format!(
                    "`Shake::yield_chance` + `Shake::sleep_chance` is `{}`: together they are at most 1",
                    shake.yield_chance + shake.sleep_chance
                ),
            ));
        }
        if shake.sleep_chance > 0.0 && shake.max_sleep.is_zero() {
            return Err(Error::bad_config(
                "shake",
                "`Shake::sleep_chance` is above 0 but `Shake::max_sleep` is `0s`: give the sleeps \
                 a length, or set `sleep_chance` to 0"
                    .to_string(),
            ));
        }
        Ok(())
    }
}
