//! shuttle's scheduler types, as ways to pick a selvedge [`Strategy`] for [`crate::Runner`]:
//! `RandomScheduler`, `PctScheduler`, `DfsScheduler` and `ReplayScheduler`. They decide
//! nothing themselves: selvedge's strategies do (shuttle's `Scheduler` trait, for writing
//! schedulers of one's own, has no counterpart here).
//!
//! ```
//! use selvedge::scheduler::PctScheduler;
//!
//! let runner = selvedge::Runner::new(PctScheduler::new(2, 50), selvedge::Config::new());
//! let executions = runner.run(|| {
//!     let t = selvedge::thread::spawn(|| 1);
//!     assert_eq!(t.join().unwrap(), 1);
//! });
//! assert_eq!(executions, 50);
//! ```

use crate::Strategy;

/// A strategy and its budget, as a shuttle scheduler names them.
pub trait Scheduler: sealed::Sealed {
    #[doc(hidden)]
    fn strategy(&self) -> (Strategy, Option<usize>, Option<u64>);
}

mod sealed {
    pub trait Sealed {}
}

/// Uniformly random schedules, `max_iterations` of them (`Strategy::Random`).
#[derive(Clone, Debug)]
pub struct RandomScheduler {
    max_iterations: usize,
    seed: Option<u64>,
}

impl RandomScheduler {
    pub fn new(max_iterations: usize) -> RandomScheduler {
        RandomScheduler {
            max_iterations,
            seed: None,
        }
    }

    /// With the seed given (else `Config::seed`).
    pub fn new_from_seed(seed: u64, max_iterations: usize) -> RandomScheduler {
        RandomScheduler {
            max_iterations,
            seed: Some(seed),
        }
    }
}

/// PCT schedules for bugs of depth `max_depth`, `max_iterations` of them (`Strategy::Pct`).
#[derive(Clone, Debug)]
pub struct PctScheduler {
    max_depth: usize,
    max_iterations: usize,
}

impl PctScheduler {
    pub fn new(max_depth: usize, max_iterations: usize) -> PctScheduler {
        PctScheduler {
            max_depth,
            max_iterations,
        }
    }
}

/// Every interleaving depth-first, at most `max_iterations` (`Strategy::Dfs`). shuttle's
/// `allow_random_data` is accepted and changes nothing: `selvedge::rand` numbers are a function
/// of the seed and the interleaving, never enumerated.
#[derive(Clone, Debug)]
pub struct DfsScheduler {
    max_iterations: Option<usize>,
}

impl DfsScheduler {
    pub fn new(max_iterations: Option<usize>, allow_random_data: bool) -> DfsScheduler {
        let _ = allow_random_data;
        DfsScheduler { max_iterations }
    }
}

/// Exactly one recorded interleaving (`Strategy::Replay`), from a selvedge replay string.
#[derive(Clone, Debug)]
pub struct ReplayScheduler {
    schedule: String,
}

impl ReplayScheduler {
    /// From a replay string (`v1:...`) a failure report printed.
    pub fn new_from_encoded(schedule: &str) -> ReplayScheduler {
        ReplayScheduler {
            schedule: schedule.to_string(),
        }
    }
}

impl sealed::Sealed for RandomScheduler {}
impl sealed::Sealed for PctScheduler {}
impl sealed::Sealed for DfsScheduler {}
impl sealed::Sealed for ReplayScheduler {}

impl Scheduler for RandomScheduler {
    fn strategy(&self) -> (Strategy, Option<usize>, Option<u64>) {
        (Strategy::Random, Some(self.max_iterations), self.seed)
    }
}

impl Scheduler for PctScheduler {
    fn strategy(&self) -> (Strategy, Option<usize>, Option<u64>) {
        (
            Strategy::Pct {
                depth: self.max_depth,
            },
            Some(self.max_iterations),
            None,
        )
    }
}

impl Scheduler for DfsScheduler {
    fn strategy(&self) -> (Strategy, Option<usize>, Option<u64>) {
        (Strategy::Dfs, self.max_iterations, None)
    }
}

impl Scheduler for ReplayScheduler {
    fn strategy(&self) -> (Strategy, Option<usize>, Option<u64>) {
        (Strategy::Replay(self.schedule.clone()), None, None)
    }
}
