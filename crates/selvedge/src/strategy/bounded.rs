//! Preemption-bounded partial-order reduction (BPOR, Coons, Musuvathi and McKinley, OOPSLA
//! 2013): one depth-first round that explores every Mazurkiewicz trace having an interleaving
//! with at most `bound` preemptions, and repeats far fewer interleavings than bounded DFS.
//!
//! It is persistent-set DPOR (Flanagan and Godefroid, POPL 2005) with backtrack sets, not the
//! optimal DPOR of `dpor.rs`: pruning by a bound makes otherwise independent steps dependent
//! (running a task earlier may cost a preemption that a later point would not), and wakeup
//! sequences and sleep sets both assume that cannot happen. The changes BPOR makes:
//! - a branch that would exceed the bound is never taken (and the coverage says so);
//! - a race whose later step is task `p`'s adds `p` to the backtrack set where the race's
//!   first step was chosen (as DPOR does) *and* at the start of the run of steps that first
//!   step belongs to, where switching to `p` is not a preemption. The second point is the
//!   conservative one that compensates for the dependences the bound creates: the reversal
//!   that costs one preemption too many at the race may be free at the block's start;
//! - where that task cannot run (a lock it needs has been held since before), it is also tried
//!   at the latest decision before where it could, and at that block's start: unbounded DPOR
//!   would reach that decision through one more reversal, which the bound may forbid.
//!
//! Invariants:
//! - A task is chosen only if it is enabled, and never by a choice that brings the execution's
//!   preemptions above the bound.
//! - New decisions continue the running task when it can run (no preemption), else take the
//!   lowest enabled task; so a bound of 0 runs each task until it blocks or ends.
//! - Soundness within the bound is checked against bounded DFS on generated programs
//!   (`tests/dpor_differential.rs`).

use super::races::Analysis;
use super::{Candidate, Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

struct Node {
    /// The enabled tasks here.
    enabled: Vec<Candidate>,
    /// The task that ran at the decision before (None at the first).
    previous: Option<TaskId>,
    /// Preemptions in the prefix before this decision.
    preemptions: usize,
    chosen: TaskId,
    /// Tasks to try here, found by race analysis.
    backtrack: Vec<TaskId>,
    /// Tasks tried here already.
    done: Vec<TaskId>,
}

impl Node {
    fn is_enabled(&self, task: TaskId) -> bool {
        self.enabled.iter().any(|c| c.task == task)
    }

    /// Would running `task` here preempt the task that ran before?
    fn preempts(&self, task: TaskId) -> bool {
        self.previous
            .is_some_and(|p| p != task && self.is_enabled(p))
    }

    /// Adds `task` to what must be tried here, or every enabled task when `task` cannot run
    /// here (its next step waits for something after this point).
    fn add_backtrack(&mut self, task: TaskId) {
        if self.is_enabled(task) {
            if !self.done.contains(&task) && !self.backtrack.contains(&task) {
                self.backtrack.push(task);
            }
            return;
        }
        for c in &self.enabled {
            if !self.done.contains(&c.task) && !self.backtrack.contains(&c.task) {
                self.backtrack.push(c.task);
            }
        }
    }
}

pub(crate) struct BoundedDpor {
    bound: usize,
    stack: Vec<Node>,
    depth: usize,
    preemptions: usize,
    analysis: Analysis,
    exhausted: bool,
    /// Some branch was left out because it would exceed the bound.
    pruned: bool,
}

impl BoundedDpor {
    pub(crate) fn new(bound: usize) -> BoundedDpor {
        BoundedDpor {
            bound,
            stack: Vec::new(),
            depth: 0,
            preemptions: 0,
            analysis: Analysis::default(),
            exhausted: false,
            pruned: false,
        }
    }

    /// The first decision of the run of consecutive steps by one task that contains decision
    /// `i`: switching there is not a preemption of that task.
    fn block_start(&self, i: usize) -> usize {
        let mut k = i;
        while k > 0 && self.stack[k - 1].chosen == self.stack[k].chosen {
            k -= 1;
        }
        k
    }

    /// `task` races at decision `at` but cannot run there: something before `at` blocks it
    /// (a lock held since an earlier acquisition). Tries it at the latest decision before
    /// where it could run, and at the start of that decision's run of steps. Unbounded
    /// DPOR would get there one reversal at a time; under a bound the reversal in between
    /// may cost a preemption too many, and the earlier decision may cost none.
    fn try_where_it_could_run(&mut self, task: TaskId, at: usize) {
        let Some(earlier) = (0..at).rev().find(|&k| self.stack[k].is_enabled(task)) else {
            return;
        };
        self.stack[earlier].add_backtrack(task);
        let start = self.block_start(earlier);
        if start != earlier {
            self.stack[start].add_backtrack(task);
        }
    }
}

impl Strategy for BoundedDpor {
    fn next_execution(&mut self) -> bool {
        if self.exhausted {
            return false;
        }
        self.depth = 0;
        self.preemptions = 0;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let chosen = if let Some(node) = self.stack.get(self.depth) {
            decision.replaying(node.chosen)?;
            assert_eq!(
                node.preemptions, self.preemptions,
                "a replayed prefix has the preemptions it had"
            );
            node.chosen
        } else {
            let chosen = match decision.continuing() {
                Some(i) => decision.candidates[i].task,
                None => decision.candidates[0].task,
            };
            // A spurious wakeup races with nothing: where one is possible, every enabled task
            // is a branch (within the bound), as at a decision whose race has no reversal.
            let backtrack = if decision.spurious.is_empty() {
                Vec::new()
            } else {
                decision
                    .candidates
                    .iter()
                    .map(|c| c.task)
                    .filter(|&t| t != chosen)
                    .collect()
            };
            self.stack.push(Node {
                enabled: decision.candidates.to_vec(),
                previous: decision.previous,
                preemptions: self.preemptions,
                chosen,
                backtrack,
                done: vec![chosen],
            });
            chosen
        };
        let node = &self.stack[self.depth];
        if node.preempts(chosen) {
            self.preemptions += 1;
        }
        assert!(
            self.preemptions <= self.bound,
            "a bounded search chose past its preemption bound"
        );
        self.depth += 1;
        Ok(chosen)
    }

    fn finish_execution(&mut self, trace: &[TraceEvent], choices: &[TaskId]) {
        assert!(choices.len() <= self.depth, "more choices than decisions");
        // A failure may end an execution early; deeper nodes are stale then.
        self.stack.truncate(self.depth);
        self.analysis.analyse(trace);
        let n_steps = self.analysis.steps.len().min(self.stack.len());
        for r in 0..self.analysis.races.len() {
            let (i, j) = self.analysis.races[r];
            if i >= n_steps || j >= self.analysis.steps.len() {
                continue;
            }
            let task = self.analysis.steps[j].task;
            let start = self.block_start(i);
            for at in [i, start] {
                self.stack[at].add_backtrack(task);
                if !self.stack[at].is_enabled(task) {
                    self.try_where_it_could_run(task, at);
                }
            }
        }
        while let Some(node) = self.stack.last_mut() {
            while let Some(task) = node.backtrack.pop() {
                node.done.push(task);
                if node.preempts(task) && node.preemptions + 1 > self.bound {
                    self.pruned = true;
                    continue;
                }
                node.chosen = task;
                return;
            }
            self.stack.pop();
        }
        self.exhausted = true;
    }

    fn coverage(&self) -> Coverage {
        match (self.exhausted, self.pruned) {
            (true, false) => Coverage::Complete,
            (true, true) => Coverage::CompleteUpTo(self.bound),
            _ => Coverage::Sampled,
        }
    }
}
