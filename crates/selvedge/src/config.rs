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
    /// `Config::max_preemptions` set it runs preemption-bounded `Dfs`, deepening the bound.
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
    /// For exhaustive strategies: explore every interleaving with at most 0 preemptions, then
    /// at most 1, and so on up to this bound (iterative deepening, without DPOR's reduction).
    /// Bugs come out with the fewest preemptions, and a run stopped by a budget reports the
    /// bound it covered: "complete up to k preemptions". Default `None`.
    pub max_preemptions: Option<usize>,
    /// Stop starting new executions after this much wall time; the report says the budget
    /// was reached. It never changes which schedules are chosen. Default `None`.
    pub time_budget: Option<Duration>,
    /// Stack bytes of every task (`thread::Builder::stack_size` overrides it per task). A task
    /// that needs more is a `FailureKind::StackOverflow` failure naming it and this knob.
    /// Default 2 MiB, as std gives a spawned thread.
    pub stack_size: usize,
    /// Tasks one execution may create. Default 1,000.
    pub max_tasks: usize,
    /// Keep every explored schedule's replay string in `Report::explored`. Default `false`.
    pub keep_schedules: bool,
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
            workers: None,
            minimise: true,
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
            return bad("`Config::max_tasks` is 0, but the test body itself is a task; use at least 1 (default 1000)".into());
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
        if let Strategy::Pct { depth: 0 } = self.strategy {
            return bad("`Strategy::Pct { depth: 0 }` is not a depth; use 1 or more (a depth of d finds bugs that need d - 1 preemptions)".into());
        }
        Ok(())
    }
}
