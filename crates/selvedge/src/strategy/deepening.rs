//! Preemption bounding with iterative deepening: exhaust every interleaving with at most 0
//! preemptions, then at most 1, and so on up to the bound. Most bugs need few preemptions, so
//! they are found early and with the fewest context switches; and when a budget stops the run,
//! the report can still say honestly which bound was covered completely.
//!
//! Each round is a plain preemption-bounded `Dfs` (bounding is sound for DFS; combining it
//! with DPOR's reduction is not, so DPOR does not bound).

use super::{Coverage, Decision, Dfs, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

pub(crate) struct Deepening {
    round: Dfs,
    bound: usize,
    max_bound: usize,
    remaining: usize,
    /// The largest bound whose round ran to completion.
    completed: Option<usize>,
    /// A completed round cut nothing: the whole space is covered.
    whole_space: bool,
    /// The data seed every execution draws `selvedge::rand` numbers from, when not the
    /// config's (the minimiser's: the seed of the execution it minimises).
    data_seed: Option<u64>,
}

impl Deepening {
    pub(crate) fn new(max_executions: usize, max_bound: usize) -> Deepening {
        Deepening {
            round: Dfs::new(max_executions, Some(0)),
            bound: 0,
            max_bound,
            remaining: max_executions,
            completed: None,
            whole_space: false,
            data_seed: None,
        }
    }

    /// Every execution draws `selvedge::rand` numbers from `seed`.
    pub(crate) fn with_data_seed(mut self, seed: Option<u64>) -> Deepening {
        self.data_seed = seed;
        self
    }
}

impl Strategy for Deepening {
    fn next_execution(&mut self) -> bool {
        if self.remaining == 0 || self.whole_space {
            return false;
        }
        loop {
            if self.round.next_execution() {
                self.remaining -= 1;
                return true;
            }
            match self.round.coverage() {
                Coverage::Complete => {
                    self.completed = Some(self.bound);
                    self.whole_space = true;
                    return false;
                }
                Coverage::CompleteUpTo(_) => {
                    self.completed = Some(self.bound);
                    if self.bound == self.max_bound {
                        return false;
                    }
                    self.bound += 1;
                    self.round = Dfs::new(self.remaining, Some(self.bound));
                }
                Coverage::Sampled => return false,
            }
        }
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        self.round.choose(decision)
    }

    fn finish_execution(&mut self, trace: &[TraceEvent], choices: &[TaskId]) {
        self.round.finish_execution(trace, choices);
    }

    fn data_seed(&self) -> Option<u64> {
        self.data_seed
    }

    fn coverage(&self) -> Coverage {
        if self.whole_space {
            return Coverage::Complete;
        }
        match self.completed {
            Some(bound) => Coverage::CompleteUpTo(bound),
            None => Coverage::Sampled,
        }
    }
}
