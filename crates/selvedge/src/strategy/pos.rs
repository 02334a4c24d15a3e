//! POS, partial-order sampling (Yuan, Yang and Gu, CAV 2018): every pending operation has a
//! random priority and the highest-priority enabled one runs. After an operation runs, the
//! pending operations that race with it (same object, not both reads) get fresh priorities,
//! as does the next operation of the task that ran. This samples partial orders far more
//! evenly than a random walk, which over-samples orders that differ only in independent
//! steps.

use super::rng::{DataSeeds, Rng};
use super::{Candidate, Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

pub(crate) struct Pos {
    rng: Rng,
    data_seeds: DataSeeds,
    data_seed: u64,
    remaining: usize,
    /// Priority per task id of its pending operation.
    priorities: Vec<u64>,
    /// What each task had pending when priorities were last drawn, to spot a new operation.
    last_seen: Vec<Option<Candidate>>,
    /// The operation performed at the previous decision.
    performed: Option<Candidate>,
}

impl Pos {
    pub(crate) fn new(seed: u64, executions: usize) -> Pos {
        Pos {
            rng: Rng::new(seed),
            data_seeds: DataSeeds::new(seed),
            data_seed: 0,
            remaining: executions,
            priorities: Vec::new(),
            last_seen: Vec::new(),
            performed: None,
        }
    }
}

impl Strategy for Pos {
    fn next_execution(&mut self) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        self.data_seed = self.data_seeds.next();
        self.priorities.clear();
        self.last_seen.clear();
        self.performed = None;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let performed = self.performed;
        for c in decision.candidates {
            let i = c.task.index();
            if self.priorities.len() <= i {
                self.priorities.resize(i + 1, 0);
                self.last_seen.resize(i + 1, None);
            }
            let is_new =
                self.last_seen[i] != Some(*c) || performed.is_some_and(|p| p.task == c.task);
            let races = performed.is_some_and(|p| p.task != c.task && p.conflicts_with(c));
            if is_new || races {
                self.priorities[i] = self.rng.next_u64();
                self.last_seen[i] = Some(*c);
            }
        }
        let best = decision
            .candidates
            .iter()
            .max_by_key(|c| (self.priorities[c.task.index()], std::cmp::Reverse(c.task)))
            .expect("a decision has candidates");
        self.performed = Some(*best);
        Ok(best.task)
    }

    fn finish_execution(&mut self, _trace: &[TraceEvent], _choices: &[TaskId]) {}

    fn coverage(&self) -> Coverage {
        Coverage::Sampled
    }

    fn data_seed(&self) -> Option<u64> {
        Some(self.data_seed)
    }
}
