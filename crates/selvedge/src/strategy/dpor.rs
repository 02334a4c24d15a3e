//! Source-set DPOR with sleep sets (Abdulla, Aronis, Jonsson and Sagonas, "Optimal Dynamic
//! Partial Order Reduction", POPL 2014): explore one execution per Mazurkiewicz trace, give
//! or take the few the sleep sets cut short.
//!
//! Each execution runs to its end; then `races::analyse` computes happens-before and the
//! races of the whole execution. For each race `(i, j)`, if no task that could start the
//! reversed continuation (the initials of `notdep(i).j`) is already in the backtrack set of
//! decision `i`, one is added. The next execution replays the path up to the deepest decision
//! with an unexplored backtrack task and takes it there. A task explored at a decision goes to
//! that decision's sleep set, and sleeping tasks stay asleep down the tree until a step that
//! conflicts with their next operation runs, so no trace is explored twice from one decision.
//!
//! Invariants:
//! - The tree is walked with an explicit stack (`nodes`); no recursion.
//! - A task is chosen at a decision only if it is enabled there and not asleep.
//! - When every enabled task is asleep the execution is redundant and ends early.

use super::races::{analyse, Analysis};
use super::{Candidate, Coverage, Decision, Refusal, Strategy};
use crate::runtime::{TaskId, TraceEvent};

struct Node {
    /// The enabled tasks and their next operations, ascending by task.
    candidates: Vec<Candidate>,
    chosen: TaskId,
    /// Tasks to explore from here (the chosen one included).
    backtrack: Vec<TaskId>,
    /// Tasks whose subtrees from here are covered, with the operation they would perform.
    sleep: Vec<Candidate>,
}

impl Node {
    fn candidate(&self, task: TaskId) -> Option<Candidate> {
        self.candidates.iter().copied().find(|c| c.task == task)
    }

    fn asleep(&self, task: TaskId) -> bool {
        self.sleep.iter().any(|c| c.task == task)
    }
}

pub(crate) struct Dpor {
    nodes: Vec<Node>,
    depth: usize,
    max_executions: usize,
    executions: usize,
    exhausted: bool,
}

impl Dpor {
    pub(crate) fn new(max_executions: usize) -> Dpor {
        Dpor {
            nodes: Vec::new(),
            depth: 0,
            max_executions,
            executions: 0,
            exhausted: false,
        }
    }

    /// The sleep set a new decision inherits from its parent: the parent's sleepers whose next
    /// operation does not conflict with the step the parent took.
    fn inherited_sleep(&self) -> Vec<Candidate> {
        let Some(parent) = self.nodes.get(self.depth.wrapping_sub(1)) else {
            return Vec::new();
        };
        let Some(taken) = parent.candidate(parent.chosen) else {
            return Vec::new();
        };
        parent
            .sleep
            .iter()
            .copied()
            .filter(|q| q.task != taken.task && !q.conflicts_with(&taken))
            .collect()
    }

    fn add_backtrack_points(&mut self, analysis: &Analysis) {
        for &(i, j) in &analysis.races {
            if i >= self.nodes.len() {
                continue;
            }
            let initials = analysis.initials(i, j);
            let node = &mut self.nodes[i];
            if initials.iter().any(|t| node.backtrack.contains(t)) {
                continue;
            }
            let racer = analysis.steps[j].task;
            let runnable = |t: &TaskId| node.candidates.iter().any(|c| c.task == *t);
            let pick = if initials.contains(&racer) && runnable(&racer) {
                Some(racer)
            } else {
                initials.iter().copied().find(runnable)
            };
            match pick {
                Some(task) => node.backtrack.push(task),
                None => {
                    // No initial can run here: some ordering edge is missing from the
                    // analysis. Stay sound by trying every enabled task.
                    for c in &node.candidates {
                        if !node.backtrack.contains(&c.task) {
                            node.backtrack.push(c.task);
                        }
                    }
                }
            }
        }
    }
}

impl Strategy for Dpor {
    fn next_execution(&mut self) -> bool {
        if self.exhausted || self.executions >= self.max_executions {
            return false;
        }
        self.executions += 1;
        self.depth = 0;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        if self.depth < self.nodes.len() {
            let chosen = self.nodes[self.depth].chosen;
            if !decision.candidates.iter().any(|c| c.task == chosen) {
                return Err(Refusal::Diverged(format!(
                    "re-running the same schedule prefix took a different path at step {}: task {} \
                     was ready before and is not now. The test must be deterministic given the \
                     schedule: no real randomness, wall-clock time, `std` threads or `std` locks \
                     shared across executions",
                    self.depth + 1,
                    chosen.0
                )));
            }
            self.depth += 1;
            return Ok(chosen);
        }
        let sleep = self.inherited_sleep();
        let awake = |c: &&Candidate| !sleep.iter().any(|s| s.task == c.task);
        let continuing = decision
            .continuing()
            .map(|i| &decision.candidates[i])
            .filter(awake);
        let Some(first) = continuing.or_else(|| decision.candidates.iter().find(awake)) else {
            return Err(Refusal::Redundant);
        };
        let chosen = first.task;
        self.nodes.push(Node {
            candidates: decision.candidates.to_vec(),
            chosen,
            backtrack: vec![chosen],
            sleep,
        });
        self.depth += 1;
        Ok(chosen)
    }

    fn finish_execution(&mut self, trace: &[TraceEvent], choices: &[TaskId]) {
        // A failure or a redundant execution may end early; deeper nodes are stale then.
        self.nodes.truncate(self.depth);
        debug_assert_eq!(choices.len(), self.depth.min(choices.len()));
        let analysis = analyse(trace);
        self.add_backtrack_points(&analysis);
        while let Some(node) = self.nodes.last_mut() {
            if let Some(done) = node.candidate(node.chosen) {
                if !node.asleep(done.task) {
                    node.sleep.push(done);
                }
            }
            let next = node
                .backtrack
                .iter()
                .copied()
                .find(|t| !node.asleep(*t) && node.candidate(*t).is_some());
            if let Some(task) = next {
                node.chosen = task;
                return;
            }
            self.nodes.pop();
        }
        self.exhausted = true;
    }

    fn coverage(&self) -> Coverage {
        if self.exhausted {
            Coverage::Complete
        } else {
            Coverage::Sampled
        }
    }
}
