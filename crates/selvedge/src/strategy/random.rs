//! Random walk: every decision picks an enabled task uniformly at random.

use super::rng::{DataSeeds, Rng};
use super::{Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

pub(crate) struct Random {
    rng: Rng,
    remaining: usize,
    data_seeds: DataSeeds,
    data_seed: u64,
}

impl Random {
    pub(crate) fn new(seed: u64, executions: usize) -> Random {
        Random {
            rng: Rng::new(seed),
            remaining: executions,
            data_seeds: DataSeeds::new(seed),
            data_seed: 0,
        }
    }
}

impl Strategy for Random {
    fn next_execution(&mut self) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        self.data_seed = self.data_seeds.next();
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let i = self.rng.below(decision.candidates.len());
        Ok(decision.candidates[i].task)
    }

    fn finish_execution(&mut self, _trace: &[TraceEvent], _choices: &[TaskId]) {}

    fn coverage(&self) -> Coverage {
        Coverage::Sampled
    }

    fn data_seed(&self) -> Option<u64> {
        Some(self.data_seed)
    }
}
