//! `Config` and `Strategy`: everything an exploration follows, with defaults that suit a unit
//! test.

use std::time::Duration;

use crate::limits;

/// How the next task is chosen at every scheduling point.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Exhaustive with dynamic partial-order reduction (wakeup trees and sleep sets): one
    /// execution per class of equivalent interleavings instead of every interleaving. With
    /// `Config::max_preemptions` set it runs bounded partial-order reduction: one round that
    /// covers every class with an interleaving of at most that many preemptions.
    Dpor,
    /// Exhaustive depth-first search over every interleaving, no reduction.
    Dfs,
    /// Uniformly random choice at every point, seeded by `Config::seed`.
    Random,
    /// Probabilistic concurrency testing: random priorities with `depth - 1` change points.
    /// Finds bugs that need `depth - 1` preemptions with a guaranteed probability.
    Pct {
        /// The bug depth aimed for; 2 or 3 finds most bugs.
        depth: usize,
    },
    /// Partial-order sampling: random priorities redrawn for operations that race.
    Pos,
    /// Run exactly the one execution a replay string describes.
    Replay(String),
}

impl Strategy {
    pub(crate) fn is_exhaustive(&self) -> bool {
        matches!(self, Strategy::Dpor | Strategy::Dfs)
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Strategy::Dpor => "Dpor".to_string(),
            Strategy::Dfs => "Dfs".to_string(),
            Strategy::Random => "Random".to_string(),
            Strategy::Pct { depth } => format!("Pct {{ depth: {depth} }}"),
            Strategy::Pos => "Pos".to_string(),
            Strategy::Replay(_) => "Replay".to_string(),
        }
    }
}

/// Everything an exploration follows. Build it with `..Default::default()`:
///
/// ```
/// let config = selvedge::Config {
///     strategy: selvedge::Strategy::Pct { depth: 3 },
///     max_schedules: Some(500),
///     seed: 7,
///     ..Default::default()
/// };
/// let report = selvedge::explore(config, || {
///     let t = selvedge::thread::spawn(|| 1 + 1);
///     assert_eq!(t.join().unwrap(), 2);
/// });
/// assert!(report.failure().is_none());
/// assert_eq!(report.schedules(), 500);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// Default `Strategy::Dpor`. `SELVEDGE_REPLAY` replaces it with `Replay` in the test
    /// entry points (`model`, `check_*`), never in `explore`.
    pub strategy: Strategy,
    /// Executions to run at most. Default `None`: 1,000 for randomized strategies, and
    /// 1,000,000 for exhaustive ones (the report then says the space was only sampled).
    /// `SELVEDGE_ITERATIONS` overrides it for randomized strategies in the test entry points.
    pub max_schedules: Option<usize>,
    /// Seed of the randomized strategies. Default 0. `SELVEDGE_SEED` overrides it in the test
    /// entry points.
    pub seed: u64,
    /// Scheduling decisions in one execution before it is reported as `Livelock`.
    /// Default 100,000.
    pub max_steps: usize,
    /// For exhaustive strategies: explore only interleavings with at most this many
    /// preemptions (a switch away from a task that could have gone on). `Dpor` then runs one
    /// bounded round with partial-order reduction (BPOR): every class of equivalent
    /// interleavings that has a member within the bound, far fewer executions than loom's
    /// bounded search. `Dfs` deepens instead: every interleaving with at most 0 preemptions,
    /// then at most 1, and so on, so bugs come out with the fewest preemptions and a run
    /// stopped by a budget reports the bound it covered. The report says "complete up to k
    /// preemptions" (or "complete" when the bound cut nothing). Default `None`.
    pub max_preemptions: Option<usize>,
    /// Stop starting new executions after this much wall time; the report says the budget
    /// was reached. It never changes which schedules are chosen. Default `None`.
    pub time_budget: Option<Duration>,
    /// Stack bytes of every task (`thread::Builder::stack_size` overrides it per task). A task
    /// that needs more is a `FailureKind::StackOverflow` failure naming it and this knob.
    /// Default 2 MiB, as std gives a spawned thread.
    pub stack_size: usize,
    /// Tasks one execution may create. Default 4,096.
    pub max_tasks: usize,
    /// Keep every explored schedule's replay string in `Report::explored`. Default `false`.
    pub keep_schedules: bool,
    /// Explore spurious wakeups, as std documents them: a `Condvar::wait` (or `wait_timeout`
    /// before its deadline) may return without a notification, a `thread::park` without a
    /// token, and a future waiting for its waker may be polled without a wake, each at most
    /// once per task per execution and only while some other task can run (a wait nothing
    /// else could end is a deadlock, not a spurious return). It finds the classic bug of
    /// waiting under `if` instead of in a loop that re-checks the condition, which loom
    /// explores only for `block_on` and shuttle only for `park`. It costs executions on
    /// condvar-heavy tests (loom's `condvar::notify_all`: 1,766 executions instead of 22,
    /// still 8 times fewer than loom's 14,115). Default `true`; `false` gives loom's condvar
    /// and park, which wake only when notified.
    pub spurious_wakeups: bool,
    /// OS threads exploring in parallel under `Strategy::Dpor`. Default `None`: the number of
    /// cores. Any number explores the same executions in the same order and reaches the
    /// same verdict, unless a `max_schedules` or `time_budget` budget cuts the run short
    /// (then which executions ran first depends on timing). While a parallel exploration
    /// runs, an idle worker keeps polling for work, yielding its core to other threads
    /// between polls, because a sleeping thread can take longer to wake than the work it
    /// would get.
    pub workers: Option<usize>,
    /// Before showing a failure, look for the same failure (same kind, same first line) with
    /// fewer preemptions — a preemption-bounded search of at most 20,000 executions — and show
    /// that interleaving instead: it is the easier one to follow. Default `true`.
    pub minimise: bool,
    /// For the test-facing entry points (`model`, `check_dfs`, `check`): fail the test when an
    /// exhaustive search (`Dpor`, `Dfs`) is cut short by `max_schedules` or `time_budget`,
    /// instead of passing with a warning on stderr. Default `false`: a huge test stopped at its
    /// budget still passes, but never silently — the warning says how far the search got,
    /// which budget stopped it and how to raise it, and is written straight to stderr so
    /// libtest's output capture does not hide it. Set it (or `SELVEDGE_REQUIRE_COMPLETE=1`) in
    /// CI to make "every interleaving was checked" a promise. `explore` never panics: it says
    /// the same through `Report::complete` and `Report::budget_note`.
    ///
    /// ```
    /// use selvedge::sync::{Arc, Mutex};
    ///
    /// let unfinished = std::panic::catch_unwind(|| {
    ///     selvedge::check(
    ///         selvedge::Config { max_schedules: Some(3), require_complete: true, ..Default::default() },
    ///         || {
    ///             let m = Arc::new(Mutex::new(0));
    ///             let handles: Vec<_> = (0..3)
    ///                 .map(|_| {
    ///                     let m = m.clone();
    ///                     selvedge::thread::spawn(move || *m.lock().unwrap() += 1)
    ///                 })
    ///                 .collect();
    ///             for h in handles {
    ///                 h.join().unwrap();
    ///             }
    ///         },
    ///     )
    /// });
    /// assert!(unfinished.is_err(), "3 schedules cannot cover 3 threads' lock orders");
    /// ```
    pub require_complete: bool,
    /// Report an execution that reaches no scheduling point for this much wall time: a
    /// *stall*. Tasks take turns on one OS thread, so a task that blocks on something
    /// selvedge does not control (a `std` lock or channel another task would release,
    /// blocking I/O) or loops without a scheduling point stops the whole test, and the task
    /// that would release it never runs. After this long, a watchdog thread writes to stderr
    /// which task is stuck, its last scheduling point (operation and file:line) and the
    /// likely cause; then it keeps waiting and reports again at 2, 4, 8, ... times this
    /// duration, or ends the process if `abort_on_stall` is set. Code that is merely slow is
    /// reported the same way, then a line says it went on. The watchdog never changes which
    /// schedules run. Default `Some(10 s)`; `None` turns the watchdog off. No environment variable.
    pub stall_report_after: Option<Duration>,
    /// Once a stall is reported, abort the process (`std::process::abort`) instead of waiting:
    /// a task stuck outside selvedge cannot be unwound, so ending the process is the only way
    /// not to hang, and a CI job then fails at once with the report rather than at its
    /// timeout with none. Needs `stall_report_after`. Default `false`. No environment
    /// variable.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // A test that hangs fails after 30 s, with the report, instead of hanging silently.
    /// let config = selvedge::Config {
    ///     stall_report_after: Some(Duration::from_secs(30)),
    ///     abort_on_stall: true,
    ///     ..Default::default()
    /// };
    /// let report = selvedge::explore(config, || {
    ///     let t = selvedge::thread::spawn(|| ());
    ///     t.join().unwrap();
    /// });
    /// assert!(report.failure().is_none());
    /// ```
    pub abort_on_stall: bool,
}

impl Config {
    /// The defaults, as `Config::default()` (shuttle's `Config::new`).
    pub fn new() -> Config {
        Config::default()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            strategy: Strategy::Dpor,
            max_schedules: None,
            seed: 0,
            max_steps: limits::DEFAULT_MAX_STEPS,
            max_preemptions: None,
            time_budget: None,
            stack_size: limits::DEFAULT_STACK_BYTES,
            max_tasks: limits::DEFAULT_MAX_TASKS,
            keep_schedules: false,
            spurious_wakeups: true,
            workers: None,
            minimise: true,
            require_complete: false,
            stall_report_after: Some(limits::DEFAULT_STALL_REPORT_AFTER),
            abort_on_stall: false,
        }
    }
}

impl Config {
    pub(crate) fn schedules(&self) -> usize {
        self.max_schedules
            .unwrap_or(if self.strategy.is_exhaustive() {
                limits::DEFAULT_MAX_SCHEDULES
            } else {
                limits::DEFAULT_RANDOM_SCHEDULES
            })
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let bad = |m: String| Err(crate::Error::bad_config(m));
        if self.max_steps == 0 {
            return bad("`Config::max_steps` is 0, so no execution could take a step; use at least 1 (default 100000)".into());
        }
        if self.max_tasks == 0 {
            return bad("`Config::max_tasks` is 0, but the test body itself is a task; use at least 1 (default 4096)".into());
        }
        if self.max_tasks > limits::MAX_TASKS_CAP {
            return bad(format!(
                "`Config::max_tasks` is `{}`, above the most one execution can hold ({}); lower it",
                self.max_tasks,
                limits::MAX_TASKS_CAP
            ));
        }
        if self.stack_size < limits::MIN_STACK_BYTES {
            return bad(format!(
                "`Config::stack_size` is {} bytes, below the minimum of {}; use at least that",
                self.stack_size,
                limits::MIN_STACK_BYTES
            ));
        }
        if self.max_schedules == Some(0) {
            return bad("`Config::max_schedules` is 0, so nothing would be explored and the test would pass \
                 without running; use at least 1, or `None` for the default".into());
        }
        if self.workers == Some(0) {
            return bad(
                "`Config::workers` is 0; use at least 1, or `None` for one per core".into(),
            );
        }
        if self.stall_report_after == Some(Duration::ZERO) {
            return bad("`Config::stall_report_after` is zero, which would report every task as stalled; use a positive duration (default 10 s), or `None` to turn the stall watchdog off".into());
        }
        if self.abort_on_stall && self.stall_report_after.is_none() {
            return bad("`Config::abort_on_stall` is set but `Config::stall_report_after` is `None`, so no stall would ever be noticed; set a duration (default 10 s) or leave `abort_on_stall` false".into());
        }
        if let Strategy::Pct { depth: 0 } = self.strategy {
            return bad("`Strategy::Pct { depth: 0 }` is not a depth; use 1 or more (a depth of d finds bugs that need d - 1 preemptions)".into());
        }
        Ok(())
    }
}
