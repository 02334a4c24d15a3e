//! PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and Nagarakatte,
//! ASPLOS 2010): every task gets a random priority; the highest-priority enabled task runs;
//! at `depth - 1` change points, chosen uniformly among the expected number of steps, the
//! running task's priority drops below all initial priorities. A bug of depth `d` is found
//! with probability at least `1 / (n * k^(d-1))` per execution.
//!
//! The number of steps `k` is learned across executions: it is the longest execution seen.

use super::rng::{DataSeeds, Rng};
use super::{Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

pub(crate) struct Pct {
    rng: Rng,
    data_seeds: DataSeeds,
    data_seed: u64,
    depth: usize,
    remaining: usize,
    /// Longest execution seen so far, in decisions; `None` before the first one ended.
    observed_steps: Option<usize>,
    /// Priority per task id; higher runs first. Initial priorities are `>= depth`.
    priorities: Vec<u64>,
    /// Decision indices at which the running task's priority is lowered, ascending.
    change_points: Vec<usize>,
}

impl Pct {
    pub(crate) fn new(seed: u64, executions: usize, depth: usize) -> Pct {
        Pct {
            rng: Rng::new(seed),
            data_seeds: DataSeeds::new(seed),
            data_seed: 0,
            depth: depth.max(1),
            remaining: executions,
            observed_steps: None,
            priorities: Vec::new(),
            change_points: Vec::new(),
        }
    }

    fn priority(&mut self, task: TaskId) -> u64 {
        while self.priorities.len() <= task.index() {
            // Random initial priority above every change-point priority (which are < depth).
            let p = self.depth as u64 + (self.rng.next_u64() >> 8);
            self.priorities.push(p);
        }
        self.priorities[task.index()]
    }

    fn highest(&mut self, decision: &Decision<'_>) -> TaskId {
        let mut best = decision.candidates[0].task;
        let mut best_priority = self.priority(best);
        for c in &decision.candidates[1..] {
            let p = self.priority(c.task);
            if p > best_priority {
                best = c.task;
                best_priority = p;
            }
        }
        best
    }
}

impl Strategy for Pct {
    fn next_execution(&mut self) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        self.data_seed = self.data_seeds.next();
        self.priorities.clear();
        self.change_points.clear();
        let steps = self
            .observed_steps
            .unwrap_or(crate::limits::PCT_INITIAL_STEPS)
            .max(1);
        for _ in 1..self.depth {
            let point = self.rng.below(steps);
            self.change_points.push(point);
        }
        self.change_points.sort_unstable();
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let mut chosen = self.highest(decision);
        // Every change point at this step lowers the task about to run; the i-th change point
        // gives priority depth - 1 - i, below every initial priority.
        let mut lowered = false;
        for (i, point) in self.change_points.iter().enumerate() {
            if *point == decision.step {
                let low = (self.depth - 1 - i) as u64;
                self.priorities[chosen.index()] = low;
                lowered = true;
            }
        }
        if lowered {
            chosen = self.highest(decision);
        }
        Ok(chosen)
    }

    fn finish_execution(&mut self, _trace: &[TraceEvent], choices: &[TaskId]) {
        let longest = self.observed_steps.unwrap_or(0).max(choices.len());
        self.observed_steps = Some(longest);
    }

    fn coverage(&self) -> Coverage {
        Coverage::Sampled
    }

    fn data_seed(&self) -> Option<u64> {
        Some(self.data_seed)
    }
}
