//! Optimal DPOR with wakeup trees and sleep sets (Abdulla, Aronis, Jonsson and Sagonas,
//! "Optimal Dynamic Partial Order Reduction", POPL 2014): explore one execution per
//! Mazurkiewicz trace. On programs with locks a few executions can still be cut short by the
//! sleep sets (a lock acquisition disables the others, which the theory's optimality does
//! not cover); `Report::redundant_schedules` counts them.
//!
//! Each execution runs to its end; then `races::Analysis::analyse` computes happens-before and
//! the races of the whole execution. For each race `(i, j)`, the sequence `notdep(i).j` that
//! reverses it is inserted into decision `i`'s wakeup tree, unless a sleeping task or a branch
//! already there can start it (`wakeup.rs`). The next execution replays the path up to the
//! deepest decision with a branch left, takes the branch and follows its steps before going
//! free. A branch explored at a decision goes to that decision's sleep set, and sleeping tasks
//! stay asleep down the tree until a step that conflicts with their next operation runs, so
//! no trace is explored twice from one decision.
//!
//! For parallel exploration a `Dpor` can also explore one subtree: the choices above it are
//! fixed (`prefix`), its root starts with a given sleep set and continuation, races that
//! reach above it are handed back as `RaceReport`s. When it is about to take the next branch of a decision
//! shallower than `coordinated_below` and its `SplitPolicy` says to split (always, without
//! one), it stops there and hands its open decisions to the coordinator (`explorer::parallel`),
//! which explores their other branches as further subtrees.
//!
//! Invariants:
//! - The tree is walked with an explicit stack (`nodes`); no recursion.
//! - A task is chosen at a decision only if it is enabled there and not asleep.
//! - When every enabled task is asleep the execution is redundant and ends early.

use std::sync::Arc;

use super::races::Analysis;
use super::wakeup::{Reversal, Reversible, WakeupTree};

use super::{Candidate, Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

pub(crate) struct Node {
    /// The enabled tasks and their next operations, ascending by task.
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) chosen: TaskId,
    /// Continuations still to explore from here after `chosen`, in order.
    pub(crate) wakeup: WakeupTree,
    /// Tasks whose subtrees from here are covered, with the operation they would perform.
    pub(crate) sleep: Vec<Candidate>,
    /// Candidates enabled here only by a spurious wakeup (`Decision::spurious`).
    pub(crate) spurious: Vec<TaskId>,
    /// Spurious wakeups explored from here: covered at this decision like sleepers, but not
    /// inherited by the decisions below (see `mark_explored`).
    pub(crate) covered: Vec<Candidate>,
}

impl Node {
    pub(crate) fn candidate(&self, task: TaskId) -> Option<Candidate> {
        self.candidates.iter().copied().find(|c| c.task == task)
    }

    pub(crate) fn asleep(&self, task: TaskId) -> bool {
        self.sleep
            .iter()
            .chain(&self.covered)
            .any(|c| c.task == task)
    }

    /// Can a branch starting with `task` be explored here: enabled and not asleep? Whether
    /// it can never changes while the branches before it are explored, since those only put
    /// other tasks to sleep.
    pub(crate) fn can_take(&self, task: TaskId) -> bool {
        !self.asleep(task) && self.candidate(task).is_some()
    }

    /// Puts `task`'s branch from here to sleep: it is explored, and the branches after it
    /// treat it as covered. Not a spurious wakeup: the same step taken later, after a clock
    /// move or once the other tasks finished, is a different choice (a timeout, a deadlock)
    /// that no conflict would wake it for.
    pub(crate) fn mark_explored(&mut self, task: TaskId) {
        if self.spurious.contains(&task) {
            if let Some(done) = self.candidate(task) {
                if !self.asleep(task) {
                    self.covered.push(done);
                }
            }
            return;
        }
        if let Some(done) = self.candidate(task) {
            if !self.asleep(task) {
                self.sleep.push(done);
            }
        }
    }

    /// Appends to `sleep` the sleep set a child inherits after `taken` runs here: the
    /// sleepers, and `explored_too` (branches explored here before it that are not in
    /// `self.sleep` yet), whose next operation does not conflict with `taken`'s.
    pub(crate) fn sleep_after_into(
        &self,
        taken: TaskId,
        explored_too: impl IntoIterator<Item = Candidate>,
        sleep: &mut Vec<Candidate>,
    ) {
        let Some(taken) = self.candidate(taken) else {
            return;
        };
        sleep.extend(
            self.sleep
                .iter()
                .copied()
                .chain(explored_too)
                .filter(|q| q.task != taken.task && !q.conflicts_with(&taken)),
        );
    }

    /// Adds the reversal of a race whose earlier step was taken here, unless a sleeping task
    /// or a branch to explore covers it already.
    pub(crate) fn add_race(&mut self, reversal: impl Reversible) {
        if self
            .sleep
            .iter()
            .chain(&self.covered)
            .any(|q| reversal.can_start_with(q))
        {
            return;
        }
        match reversal.first_task() {
            Some(task) if self.candidate(task).is_some() => {
                self.wakeup.insert(reversal);
            }
            // The reversal cannot start here: some ordering edge is missing from the
            // analysis. Stay sound by trying every enabled task.
            _ => self.branch_on_every_candidate(),
        }
    }

    /// Makes every enabled task not asleep and not already pending a branch from here: what
    /// DFS would do at this decision.
    pub(crate) fn branch_on_every_candidate(&mut self) {
        for c in &self.candidates {
            let pending = self.wakeup.branches.iter().any(|b| b.step.task == c.task);
            if c.task != self.chosen && !self.asleep(c.task) && !pending {
                self.wakeup.branches.push(WakeupTree::leaf(*c));
            }
        }
    }
}

/// What DPOR asks of whoever runs it as part of a parallel exploration. DPOR knows nothing of
/// worker pools: it only asks, at a shallow decision with branches left, whether to stop and
/// hand them back, and before each execution whether its result still counts.
pub(crate) trait SplitPolicy: Send + Sync {
    /// Hand the open shallow decisions back now (some worker would otherwise sit idle)?
    fn split_now(&self) -> bool;
    /// Has the result of this subtree stopped counting (an earlier result ended the search)?
    fn abandoned(&self) -> bool;
}

/// A race found inside a subtree whose earlier step lies above the subtree's root.
#[derive(Clone, Debug)]
pub(crate) struct RaceReport {
    pub(crate) depth: usize,
    pub(crate) reversal: Reversal,
}

pub(crate) struct Dpor {
    /// Fixed choices above this subtree (empty for a whole exploration).
    prefix: Vec<TaskId>,
    /// The sleep set of the subtree's first decision.
    root_sleep: Vec<Candidate>,
    /// The continuation the next new decision must follow, if any: the subtree's own at
    /// first, then the rest of the wakeup branch being explored.
    pending: WakeupTree,
    /// Decisions at depths below this may be handed to the coordinator (0: never).
    coordinated_below: usize,
    /// Decisions from depth `prefix.len()` down.
    nodes: Vec<Node>,
    depth: usize,
    max_executions: usize,
    executions: usize,
    exhausted: bool,
    /// Races reaching above the subtree, for the coordinator.
    reports: Vec<RaceReport>,
    /// Per depth above the subtree, the indices of the distinct `reports` made there.
    distinct_reports: Vec<Vec<usize>>,
    scratch: Scratch,
    /// Whoever explores the other branches of shallow decisions (the parallel explorer):
    /// when to hand them back, and when this subtree's result no longer counts. Without one,
    /// a subtree always hands back its first shallow decision with branches left.
    split: Option<Arc<dyn SplitPolicy>>,
    /// The subtree stopped at a shallow decision and left the rest to the coordinator.
    handed_back: bool,
}

/// Buffers reused from execution to execution, so a steady exploration allocates next to
/// nothing: the last analysis, popped nodes, and room for race reversals. They outlive a
/// `Dpor` in a per-thread cache, so the many short subtrees of a parallel exploration reuse
/// them too.
#[derive(Default)]
struct Scratch {
    analysis: Analysis,
    spare: Vec<Node>,
    sequence: Vec<usize>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Box<Scratch>>> = const { std::cell::Cell::new(None) };
}

impl Drop for Dpor {
    fn drop(&mut self) {
        let scratch = std::mem::take(&mut self.scratch);
        SCRATCH.with(|s| s.set(Some(Box::new(scratch))));
    }
}

impl Dpor {
    pub(crate) fn new(max_executions: usize) -> Dpor {
        Dpor::subtree(
            Vec::new(),
            Vec::new(),
            WakeupTree::default(),
            0,
            max_executions,
        )
    }

    /// Explores the subtree below `prefix`, whose first decision has `root_sleep` asleep and
    /// whose first execution follows `root_wakeup`, possibly handing decisions shallower
    /// than `coordinated_below` back to the caller.
    pub(crate) fn subtree(
        prefix: Vec<TaskId>,
        root_sleep: Vec<Candidate>,
        root_wakeup: WakeupTree,
        coordinated_below: usize,
        max_executions: usize,
    ) -> Dpor {
        let depth_of_root = prefix.len();
        Dpor {
            prefix,
            root_sleep,
            pending: root_wakeup,
            coordinated_below,
            nodes: Vec::new(),
            depth: 0,
            max_executions,
            executions: 0,
            exhausted: false,
            reports: Vec::new(),
            distinct_reports: vec![Vec::new(); depth_of_root],
            scratch: SCRATCH.with(|s| s.take()).map(|b| *b).unwrap_or_default(),
            split: None,
            handed_back: false,
        }
    }

    /// Hands shallow decisions back only when `split` says so, and stops starting executions
    /// once it says the result no longer counts.
    pub(crate) fn split_by(&mut self, split: Arc<dyn SplitPolicy>) {
        self.split = Some(split);
    }

    /// Did the subtree stop at a shallow decision, leaving its open decisions to the caller?
    pub(crate) fn handed_back(&self) -> bool {
        self.handed_back
    }

    /// The coordinated decisions of the first path, and the races reaching above the subtree.
    pub(crate) fn into_parts(mut self) -> (Vec<Node>, Vec<RaceReport>) {
        (
            std::mem::take(&mut self.nodes),
            std::mem::take(&mut self.reports),
        )
    }

    fn base(&self) -> usize {
        self.prefix.len()
    }

    /// Writes the sleep set a new decision inherits from its parent into `sleep`.
    fn inherit_sleep(&self, sleep: &mut Vec<Candidate>) {
        sleep.clear();
        match (self.depth - self.base()).checked_sub(1) {
            None => sleep.extend_from_slice(&self.root_sleep),
            Some(parent) => {
                let parent = &self.nodes[parent];
                parent.sleep_after_into(parent.chosen, [], sleep);
            }
        }
    }

    /// Drops the decisions from depth `base + len` down, keeping their buffers.
    fn truncate_nodes(&mut self, len: usize) {
        if len < self.nodes.len() {
            self.scratch.spare.extend(self.nodes.drain(len..));
        }
    }

    fn add_backtrack_points(&mut self) {
        let base = self.base();
        let Scratch {
            analysis, sequence, ..
        } = &mut self.scratch;
        for &(i, j) in &analysis.races {
            analysis.reversal_steps(i, j, sequence);
            if i < base {
                // The same race shows up in execution after execution of a subtree; the
                // coordinator would insert the copies right after the first, where they
                // change nothing (a wakeup tree only grows), so they are not reported.
                let view = analysis.view(sequence);
                let distinct = &mut self.distinct_reports[i];
                if !distinct
                    .iter()
                    .any(|&r| view.same_as(&self.reports[r].reversal))
                {
                    distinct.push(self.reports.len());
                    self.reports.push(RaceReport {
                        depth: i,
                        reversal: analysis.reversal(sequence),
                    });
                }
            } else if let Some(node) = self.nodes.get_mut(i - base) {
                node.add_race(analysis.view(sequence));
            }
        }
    }
}

impl Strategy for Dpor {
    fn next_execution(&mut self) -> bool {
        if self.exhausted || self.handed_back || self.executions >= self.max_executions {
            return false;
        }
        if self.split.as_ref().is_some_and(|s| s.abandoned()) {
            return false;
        }
        self.executions += 1;
        self.depth = 0;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let fixed = if self.depth < self.base() {
            Some(self.prefix[self.depth])
        } else {
            self.nodes.get(self.depth - self.base()).map(|n| n.chosen)
        };
        if let Some(chosen) = fixed {
            decision.replaying(chosen)?;
            self.depth += 1;
            return Ok(chosen);
        }
        let mut node = self.scratch.spare.pop().unwrap_or_else(|| Node {
            candidates: Vec::new(),
            chosen: TaskId(0),
            wakeup: WakeupTree::default(),
            sleep: Vec::new(),
            spurious: Vec::new(),
            covered: Vec::new(),
        });
        node.covered.clear();
        node.spurious.clear();
        node.spurious.extend_from_slice(decision.spurious);
        self.inherit_sleep(&mut node.sleep);
        node.candidates.clear();
        node.candidates.extend_from_slice(decision.candidates);
        node.wakeup = std::mem::take(&mut self.pending);
        let chosen = match node.wakeup.branches.first() {
            // Follow the wakeup sequence being explored.
            Some(branch) if node.can_take(branch.step.task) => {
                let branch = node.wakeup.pop_first().expect("checked non-empty");
                self.pending = branch.then;
                branch.step.task
            }
            _ => {
                let sleep = &node.sleep;
                let awake = |c: &&Candidate| !sleep.iter().any(|s| s.task == c.task);
                let continuing = decision
                    .continuing()
                    .map(|i| &decision.candidates[i])
                    .filter(awake);
                let Some(first) = continuing.or_else(|| decision.candidates.iter().find(awake))
                else {
                    self.scratch.spare.push(node);
                    return Err(Refusal::Redundant);
                };
                first.task
            }
        };
        // The forbidden side: a task chosen here is enabled and not asleep.
        assert!(
            node.candidate(chosen).is_some(),
            "DPOR chose a task that is not enabled"
        );
        assert!(!node.asleep(chosen), "DPOR chose a sleeping task");
        node.chosen = chosen;
        if !node.spurious.is_empty() {
            // Whether a waiter wakes spuriously here or stays blocked (until a timeout, or for
            // good: a deadlock) is decided by no race, so every order is tried from here.
            node.branch_on_every_candidate();
        }
        self.nodes.push(node);
        self.depth += 1;
        assert_eq!(
            self.nodes.len() + self.base(),
            self.depth,
            "one node per decision below the prefix"
        );
        Ok(chosen)
    }

    fn finish_execution(&mut self, trace: &[TraceEvent], choices: &[TaskId]) {
        assert!(choices.len() <= self.depth, "more choices than decisions");
        // A failure or a redundant execution may end early; deeper nodes are stale then.
        self.truncate_nodes(self.depth.saturating_sub(self.base()));
        // A continuation the execution did not get to is stale.
        self.pending = WakeupTree::default();
        self.scratch.analysis.analyse(trace);
        self.add_backtrack_points();
        let base = self.base();
        while !self.nodes.is_empty() {
            let shallow = base + self.nodes.len() - 1 < self.coordinated_below;
            let node = self.nodes.last_mut().expect("checked non-empty");
            node.mark_explored(node.chosen);
            // Branches that cannot be taken here are dropped (the analysis puts none there;
            // the fallback for a missing edge may).
            while let Some(branch) = node.wakeup.branches.first() {
                if node.can_take(branch.step.task) {
                    break;
                }
                node.wakeup.pop_first();
            }
            if !node.wakeup.is_empty() {
                if shallow && self.split.as_ref().is_none_or(|s| s.split_now()) {
                    // The coordinator explores this decision's other branches, in parallel.
                    self.handed_back = true;
                    return;
                }
                let branch = node.wakeup.pop_first().expect("checked non-empty");
                node.chosen = branch.step.task;
                self.pending = branch.then;
                return;
            }
            self.truncate_nodes(self.nodes.len() - 1);
        }
        self.exhausted = true;
    }

    fn coverage(&self) -> Coverage {
        if self.exhausted || self.handed_back {
            Coverage::Complete
        } else {
            Coverage::Sampled
        }
    }
}
