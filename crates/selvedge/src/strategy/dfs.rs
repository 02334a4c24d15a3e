//! Plain depth-first search over every interleaving, optionally bounded in preemptions.
//! No reduction: this is the baseline DPOR is measured against.
//!
//! The tree is walked with an explicit stack of decision nodes; each execution replays the
//! stack's prefix and extends it with first choices, and backtracking advances the deepest
//! node that has an untried option.

use super::{Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

struct Node {
    /// The tasks this node may run, continuing the previous task first.
    options: Vec<TaskId>,
    index: usize,
}

pub(crate) struct Dfs {
    stack: Vec<Node>,
    depth: usize,
    max_preemptions: Option<usize>,
    preemptions: usize,
    max_executions: usize,
    executions: usize,
    exhausted: bool,
    /// Some option was left out because of the preemption bound.
    pruned: bool,
}

impl Dfs {
    pub(crate) fn new(max_executions: usize, max_preemptions: Option<usize>) -> Dfs {
        Dfs {
            stack: Vec::new(),
            depth: 0,
            max_preemptions,
            preemptions: 0,
            max_executions,
            executions: 0,
            exhausted: false,
            pruned: false,
        }
    }
}

impl Strategy for Dfs {
    fn next_execution(&mut self) -> bool {
        if self.exhausted || self.executions >= self.max_executions {
            return false;
        }
        self.executions += 1;
        self.depth = 0;
        self.preemptions = 0;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let continuing = decision.continuing();
        let chosen = if self.depth < self.stack.len() {
            let node = &self.stack[self.depth];
            let chosen = node.options[node.index];
            decision.replaying(chosen)?;
            chosen
        } else {
            let mut options = Vec::with_capacity(decision.candidates.len());
            if let Some(i) = continuing {
                options.push(decision.candidates[i].task);
            }
            let bound_reached = continuing.is_some()
                && self
                    .max_preemptions
                    .is_some_and(|max| self.preemptions >= max);
            if bound_reached {
                self.pruned |= decision.candidates.len() > 1;
            } else {
                for (i, c) in decision.candidates.iter().enumerate() {
                    if Some(i) != continuing {
                        options.push(c.task);
                    }
                }
            }
            let chosen = options[0];
            self.stack.push(Node { options, index: 0 });
            chosen
        };
        if continuing.is_some_and(|i| decision.candidates[i].task != chosen) {
            self.preemptions += 1;
        }
        self.depth += 1;
        Ok(chosen)
    }

    fn finish_execution(&mut self, _trace: &[TraceEvent], _choices: &[TaskId]) {
        // A failure may end an execution early; deeper nodes are stale then.
        self.stack.truncate(self.depth);
        while let Some(top) = self.stack.last_mut() {
            if top.index + 1 < top.options.len() {
                top.index += 1;
                return;
            }
            self.stack.pop();
        }
        self.exhausted = true;
    }

    fn coverage(&self) -> Coverage {
        match (self.exhausted, self.pruned, self.max_preemptions) {
            (true, false, _) => Coverage::Complete,
            (true, true, Some(k)) => Coverage::CompleteUpTo(k),
            _ => Coverage::Sampled,
        }
    }
}
