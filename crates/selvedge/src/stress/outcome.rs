//! `Outcome`: what a stress run measured, as plain data. `render.rs`, `json.rs` and `plot.rs`
//! turn it into a table, JSON and a plot; nothing here formats.
//!
//! Invariant: every count is a real measurement or check of this run: a column is zero only
//! because nothing was counted, never because nothing looked.

use std::time::Duration;

/// What a stress run measured: how much ran, what went wrong, and how fast.
///
/// ```
/// let outcome = selvedge::stress::Stress::new("noop")
///     .threads(2)
///     .iterations(10)
///     .op("nothing", 1, |_| {})
///     .run();
/// assert_eq!(outcome.iterations(), 20);
/// assert_eq!(outcome.deadlocks(), 0);
/// assert!(outcome.is_clean());
/// let latency = outcome.operation("nothing").unwrap().latency.unwrap();
/// assert!(latency.p50 <= latency.max);
/// ```
#[derive(Clone, Debug)]
pub struct Outcome {
    pub(crate) name: String,
    pub(crate) threads: usize,
    pub(crate) planned: Planned,
    pub(crate) seed: u64,
    pub(crate) elapsed: Duration,
    pub(crate) iterations: u64,
    pub(crate) errors: u64,
    pub(crate) error_samples: Vec<ErrorSample>,
    pub(crate) invariants: Vec<InvariantResult>,
    pub(crate) operations: Vec<OperationStats>,
    pub(crate) faults: Vec<FaultStats>,
    pub(crate) watchdog: WatchdogReport,
}

/// How long a run was meant to last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planned {
    /// This many operations per thread.
    Iterations(u64),
    /// Until this much time had passed.
    Duration(Duration),
}

/// An error an operation or fault returned or panicked with, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorSample {
    /// The operation's name, or `fault <name>` for a fault.
    pub operation: String,
    /// The `Err`'s text, or the panic's message followed by its location.
    pub message: String,
    /// How many times this operation failed with this message.
    pub count: u64,
}

/// One invariant's column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantResult {
    /// The invariant's name.
    pub name: String,
    /// Violations counted, over every check.
    pub violations: u64,
    /// How many times it was checked (the end check included).
    pub checks: u64,
    /// Whether it was checked after each operation, not only at the end.
    pub after_each_op: bool,
    /// `false` when the end check could not run to completion: it did not return before the
    /// watchdog's deadline (a stuck thread may hold what it needs), and was left parked.
    pub checked_at_end: bool,
}

/// Latency percentiles, from an HDR histogram with two significant digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentiles {
    /// How many samples the percentiles are taken from.
    pub samples: u64,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// One operation's figures, from the threads that finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationStats {
    pub name: String,
    pub weight: u32,
    /// Times it ran.
    pub count: u64,
    /// Times it returned an `Err` or panicked.
    pub errors: u64,
    /// Its latency, failures included; `None` with histograms off or when it never ran.
    pub latency: Option<Percentiles>,
}

/// One fault's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultStats {
    pub name: String,
    /// Times it was injected.
    pub injected: u64,
    /// Injections followed by a successful operation started after them.
    pub recovered: u64,
    /// Time from the end of an injection to the end of the first successful operation started
    /// after it, over the recovered injections.
    pub recovery: Option<Percentiles>,
}

/// What a thread was doing when the watchdog's deadline passed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Activity {
    /// Not yet through the start barrier.
    Starting,
    /// Between two operations.
    BetweenOps,
    /// Running this operation.
    Operation(String),
    /// Injecting this fault.
    Fault(String),
    /// Checking this invariant after an operation.
    Invariant(String),
}

/// A thread that was not done at the watchdog's deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckThread {
    /// The OS thread's name.
    pub name: String,
    /// Its index, `0..threads`.
    pub thread: usize,
    /// Operations it had completed.
    pub iteration: u64,
    pub activity: Activity,
    /// The last `syncpoint!` it passed (`file:line:column`), if any.
    pub last_syncpoint: Option<String>,
    /// That syncpoint's name, if it has one (`syncpoint!("name")`).
    pub last_syncpoint_name: Option<String>,
    /// How long before the deadline it passed that syncpoint.
    pub since_syncpoint: Option<Duration>,
}

/// What the watchdog saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchdogReport {
    /// The deadline, after the start (iterations) or after the planned end (duration).
    pub deadline: Duration,
    /// Whether the deadline passed before every thread was done.
    pub fired: bool,
    /// Threads still not done after the deadline and a grace period: reported as deadlocked
    /// and left parked (not joined).
    pub stuck: Vec<StuckThread>,
    /// Threads that were not done at the deadline but stopped during the grace period: slow,
    /// not stuck; the run was cut short for them.
    pub stopped_late: usize,
    /// End checks that did not return before the deadline and were left parked.
    pub parked_checks: usize,
}

impl Outcome {
    /// The run's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many threads ran operations.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How long the run was meant to last.
    pub fn planned(&self) -> Planned {
        self.planned
    }

    /// The seed of the per-thread random streams.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Wall time from the start barrier to the last thread done (or the deadline).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Operations completed, over all threads (stuck ones included).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Threads the watchdog found stuck: the `Deadlocks` column.
    pub fn deadlocks(&self) -> usize {
        self.watchdog.stuck.len()
    }

    /// Operations and faults that returned an `Err` or panicked: the `Errors` column.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The distinct error messages, most frequent first (at most 20 kept).
    pub fn error_samples(&self) -> &[ErrorSample] {
        &self.error_samples
    }

    /// Every invariant's column, in the order they were added.
    pub fn invariants(&self) -> &[InvariantResult] {
        &self.invariants
    }

    /// The violations counted by the invariant called `name`.
    pub fn violations(&self, name: &str) -> Option<u64> {
        self.invariants
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.violations)
    }

    /// Every operation's figures, in the order they were added.
    pub fn operations(&self) -> &[OperationStats] {
        &self.operations
    }

    /// The figures of the operation called `name`.
    pub fn operation(&self, name: &str) -> Option<&OperationStats> {
        self.operations.iter().find(|o| o.name == name)
    }

    /// Every fault's figures, in the order they were added.
    pub fn faults(&self) -> &[FaultStats] {
        &self.faults
    }

    /// The figures of the fault called `name`.
    pub fn fault(&self, name: &str) -> Option<&FaultStats> {
        self.faults.iter().find(|f| f.name == name)
    }

    /// What the watchdog saw.
    pub fn watchdog(&self) -> &WatchdogReport {
        &self.watchdog
    }

    /// No deadlock, no error, no violation, and every check ran to the end.
    pub fn is_clean(&self) -> bool {
        self.deadlocks() == 0
            && self.errors == 0
            && !self.watchdog.fired
            && self
                .invariants
                .iter()
                .all(|i| i.violations == 0 && i.checked_at_end)
    }

    /// Panics with the full report unless the outcome `is_clean`.
    #[track_caller]
    pub fn assert_clean(&self) {
        assert!(
            self.is_clean(),
            "stress run `{}` is not clean:\n{self}",
            self.name
        );
    }
}
