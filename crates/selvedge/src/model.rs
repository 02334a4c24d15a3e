//! loom's `model` module: `Builder` with loom's public fields, and `model` itself, so a loom
//! test suite runs under selvedge by renaming the crate.
//!
//! `Builder::new` starts from loom 0.7's defaults and reads loom's `LOOM_*` variables as loom
//! does (through `entry::loom_environment`, the one place the environment is read);
//! `Builder::check` turns the fields into a [`Config`] and runs the test as [`crate::check`]
//! does. What each field becomes is documented on the field; the ones selvedge has no use for
//! (checkpoints, location capture, logging) are accepted and said to be ignored on stderr.
//!
//! ```
//! use selvedge::sync::{Arc, Mutex};
//!
//! let mut builder = selvedge::model::Builder::new();
//! builder.preemption_bound = Some(2);
//! builder.check(|| {
//!     let m = Arc::new(Mutex::new(0));
//!     let m2 = m.clone();
//!     let t = selvedge::thread::spawn(move || *m2.lock().unwrap() += 1);
//!     *m.lock().unwrap() += 1;
//!     t.join().unwrap();
//!     assert_eq!(*m.lock().unwrap(), 2);
//! });
//! ```

use std::panic::Location;
use std::path::PathBuf;
use std::time::Duration;

use crate::{entry, Config, Strategy};

/// loom's default cap on threads, the main thread included.
const LOOM_DEFAULT_MAX_THREADS: usize = 5;
/// loom's default cap on branches (scheduling decisions) in one execution.
const LOOM_DEFAULT_MAX_BRANCHES: usize = 1_000;
/// loom's default checkpoint interval (iterations).
const LOOM_DEFAULT_CHECKPOINT_INTERVAL: usize = 20_000;

/// loom's model configuration, field for field. Build it with [`Builder::new`] (loom's
/// defaults, then the `LOOM_*` environment), change fields, and call [`Builder::check`].
///
/// ```
/// let mut builder = selvedge::model::Builder::new();
/// builder.max_branches = 10_000;
/// builder.max_permutations = Some(100);
/// builder.check(|| {
///     let t = selvedge::thread::spawn(|| 1);
///     assert_eq!(t.join().unwrap(), 1);
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Builder {
    /// Threads one execution may create, the main thread included: `Config::max_tasks`.
    /// Default 5, as loom's. Unlike loom, selvedge has no hard cap of its own below 1,000.
    pub max_threads: usize,
    /// Scheduling decisions in one execution before it fails as a `Livelock`:
    /// `Config::max_steps`. Default `LOOM_MAX_BRANCHES`, else 1,000, as loom's. loom counts
    /// branches much as selvedge counts steps (every operation on a primitive).
    pub max_branches: usize,
    /// Executions to run at most: `Config::max_schedules`. A search cut short passes with a
    /// warning on stderr (loom passes silently). Default `LOOM_MAX_PERMUTATIONS`, else none.
    pub max_permutations: Option<usize>,
    /// Wall time after which no new execution starts: `Config::time_budget`. Default
    /// `LOOM_MAX_DURATION` (seconds), else none.
    pub max_duration: Option<Duration>,
    /// Preemptions per execution: `Config::max_preemptions`. Default `LOOM_MAX_PREEMPTIONS`,
    /// else none (every interleaving, reduced by DPOR).
    pub preemption_bound: Option<usize>,
    /// Ignored, with a warning: selvedge does not checkpoint a search. A failing schedule is
    /// saved under `target/selvedge/regressions/` and replayed first on the next run, and any
    /// one can be replayed with `SELVEDGE_REPLAY`. Default `LOOM_CHECKPOINT_FILE`.
    pub checkpoint_file: Option<PathBuf>,
    /// Ignored (only meaningful with `checkpoint_file`). Default `LOOM_CHECKPOINT_INTERVAL`,
    /// else 20,000.
    pub checkpoint_interval: usize,
    /// Ignored, with a warning when set: loom waits for `explore()` before branching; selvedge
    /// explores from the first operation.
    pub expect_explicit_explore: bool,
    /// No effect: selvedge always records each operation's location (it costs nothing: it is
    /// `#[track_caller]`). Default: whether `LOOM_LOCATION` is set.
    pub location: bool,
    /// No effect: selvedge prints nothing per execution; a failure's report has the whole
    /// interleaving. Default: whether `LOOM_LOG` is set.
    pub log: bool,
}

impl Builder {
    /// loom's defaults, then loom's environment variables (`LOOM_MAX_PREEMPTIONS`,
    /// `LOOM_MAX_BRANCHES`, `LOOM_MAX_PERMUTATIONS`, `LOOM_MAX_DURATION`,
    /// `LOOM_CHECKPOINT_FILE`, `LOOM_CHECKPOINT_INTERVAL`, `LOOM_LOCATION`, `LOOM_LOG`).
    ///
    /// # Panics
    /// If one of those variables does not parse, with a message naming it.
    #[track_caller]
    pub fn new() -> Builder {
        let env = match entry::loom_environment() {
            Ok(env) => env,
            Err(e) => panic!("{e}"),
        };
        Builder {
            max_threads: LOOM_DEFAULT_MAX_THREADS,
            max_branches: env.max_branches.unwrap_or(LOOM_DEFAULT_MAX_BRANCHES),
            max_permutations: env.max_permutations,
            max_duration: env.max_duration,
            preemption_bound: env.max_preemptions,
            checkpoint_file: env.checkpoint_file,
            checkpoint_interval: env
                .checkpoint_interval
                .unwrap_or(LOOM_DEFAULT_CHECKPOINT_INTERVAL),
            expect_explicit_explore: false,
            location: env.location,
            log: env.log,
        }
    }

    /// Sets `checkpoint_file` (ignored; see the field).
    pub fn checkpoint_file(&mut self, file: &str) -> &mut Builder {
        self.checkpoint_file = Some(file.into());
        self
    }

    /// The [`Config`] these fields stand for (DPOR, with the budgets above).
    ///
    /// ```
    /// let mut builder = selvedge::model::Builder::new();
    /// builder.preemption_bound = Some(3);
    /// let config = builder.config();
    /// assert_eq!(config.max_preemptions, Some(3));
    /// assert_eq!(config.max_tasks, builder.max_threads);
    /// ```
    pub fn config(&self) -> Config {
        Config {
            strategy: Strategy::Dpor,
            max_schedules: self.max_permutations,
            max_steps: self.max_branches,
            max_preemptions: self.preemption_bound,
            time_budget: self.max_duration,
            max_tasks: self.max_threads,
            ..Default::default()
        }
    }

    /// Explores `f` as these fields say, and panics with the report if an interleaving fails,
    /// as [`crate::check`] does (the `SELVEDGE_*` variables and saved failing schedules apply).
    #[track_caller]
    pub fn check<F>(&self, f: F)
    where
        F: Fn() + Sync + Send + 'static,
    {
        if let Some(file) = &self.checkpoint_file {
            entry::warn_unsupported_loom_setting(
                &format!("loom's checkpoint file `{}`", file.display()),
                "selvedge saves each failing schedule under `target/selvedge/regressions/`, \
                 replays it first on the next run, and replays any report's schedule with \
                 `SELVEDGE_REPLAY`",
            );
        }
        if self.expect_explicit_explore {
            entry::warn_unsupported_loom_setting(
                "`Builder::expect_explicit_explore`",
                "selvedge explores every interleaving from the first operation",
            );
        }
        entry::run_test(self.config(), entry::body(f), Location::caller());
    }
}

impl Default for Builder {
    #[track_caller]
    fn default() -> Builder {
        Builder::new()
    }
}

/// loom's `model::model`: the same as [`crate::model()`].
#[track_caller]
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    crate::model(f)
}
