//! shuttle's `Runner`: a scheduler type and a [`Config`], run as a test (the `SELVEDGE_*`
//! environment and saved failing schedules apply, and a failure panics with the report).

use std::panic::Location;

use crate::scheduler::Scheduler;
use crate::{entry, Config};

/// Runs a test body with a shuttle-style scheduler and a [`Config`] (see
/// [`crate::scheduler`]); the scheduler's strategy and budget replace the config's.
///
/// ```
/// use selvedge::scheduler::RandomScheduler;
///
/// let executions = selvedge::Runner::new(RandomScheduler::new(20), Default::default())
///     .run(|| selvedge::thread::yield_now());
/// assert_eq!(executions, 20);
/// ```
#[derive(Debug)]
pub struct Runner {
    config: Config,
}

impl Runner {
    pub fn new<S: Scheduler + 'static>(scheduler: S, config: Config) -> Runner {
        let (strategy, max_schedules, seed) = scheduler.strategy();
        Runner {
            config: Config {
                strategy,
                max_schedules,
                seed: seed.unwrap_or(config.seed),
                ..config
            },
        }
    }

    /// Explores `f`, panics with the report if an execution fails, and returns how many
    /// executions ran.
    #[track_caller]
    pub fn run<F>(self, f: F) -> usize
    where
        F: Fn() + Send + Sync + 'static,
    {
        let report = entry::run_test(self.config, entry::body(f), Location::caller());
        usize::try_from(report.schedules()).unwrap_or(usize::MAX)
    }
}
