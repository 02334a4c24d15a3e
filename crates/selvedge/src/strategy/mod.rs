//! Strategies decide which enabled task runs next. Nothing else in selvedge makes that
//! decision.
//!
//! A strategy sees task ids, the enabled set and descriptions of the pending operations,
//! never user data. It owns the only RNG of an exploration.
//!
//! Invariants:
//! - `choose` returns one of the candidates it was given, or an error describing how the
//!   execution diverged from what the strategy expected (a replay that no longer matches).
//! - Given the same seed and the same user code, the sequence of choices is identical.

mod bounded;
mod deepening;
mod dfs;
mod dpor;
mod pct;
mod pos;
mod races;
mod random;
mod replay;
pub(crate) mod rng;
mod turns;
mod wakeup;

pub(crate) use bounded::BoundedDpor;
pub(crate) use deepening::Deepening;
pub(crate) use dfs::Dfs;
pub(crate) use dpor::{Dpor, Node, RaceReport, SplitPolicy};
pub(crate) use pct::Pct;
pub(crate) use pos::Pos;
pub(crate) use random::Random;
pub(crate) use replay::Replay;
pub(crate) use turns::TurnDfs;
pub(crate) use wakeup::WakeupTree;

use crate::trace::{Access, ObjectId, OpKind, TaskId, TraceEvent};

/// An enabled task and the operation it would perform if chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) task: TaskId,
    pub(crate) kind: OpKind,
    pub(crate) object: Option<ObjectId>,
    /// How the operation touches `object`: what dependency is decided from.
    pub(crate) access: Access,
}

impl Candidate {
    /// Could performing `self` and `other` in either order give different results?
    pub(crate) fn conflicts_with(&self, other: &Candidate) -> bool {
        if self.access == Access::Everything || other.access == Access::Everything {
            return true;
        }
        // A yield parks its task until another task makes progress (a step that does not
        // only observe): whether that step comes before or after the yield decides whether it
        // releases the task.
        if (self.kind.parks_until_progress() && other.makes_progress())
            || (other.kind.parks_until_progress() && self.makes_progress())
        {
            return true;
        }
        match (self.object, other.object) {
            (Some(a), Some(b)) if a == b => {
                !(self.access.observes_only() && other.access.observes_only())
            }
            _ => false,
        }
    }
}

impl Candidate {
    /// Does it release tasks parked by a yield (see `execution::note_progress`)?
    pub(crate) fn makes_progress(&self) -> bool {
        !self.access.observes_only()
    }
}

impl Candidate {
    /// Could `self` run before `other`, in a sequence where `other` comes first, without
    /// changing either? Beyond object conflicts, spawn, park and unpark order the tasks they
    /// name.
    pub(crate) fn commutes_with(&self, other: &Candidate) -> bool {
        if self.conflicts_with(other) {
            return false;
        }
        let names = |a: &Candidate, b: &Candidate| match a.kind.names_task() {
            // An unpark orders only the target's park; spawn and join order every step.
            Some(t) if matches!(a.kind, OpKind::Unpark(_)) => {
                b.task == t && matches!(b.kind, OpKind::Park | OpKind::ParkTimeout)
            }
            Some(t) => b.task == t,
            None => false,
        };
        !names(self, other) && !names(other, self)
    }
}

/// One scheduling decision.
#[derive(Debug)]
pub(crate) struct Decision<'a> {
    /// Decisions already made in this execution.
    pub(crate) step: usize,
    /// The enabled tasks, in ascending task id; never empty.
    pub(crate) candidates: &'a [Candidate],
    /// The task chosen at the previous decision, if any.
    pub(crate) previous: Option<TaskId>,
    /// Candidates enabled only by a spurious wakeup (`Config::spurious_wakeups`), ascending.
    /// Whether such a task wakes here or stays blocked is a choice no race records, so DPOR
    /// branches on every candidate at such a decision and never puts the wakeup to sleep.
    pub(crate) spurious: &'a [TaskId],
}

impl Decision<'_> {
    /// Checks that `task`, chosen here when this schedule prefix ran before, can still run:
    /// an exhaustive search re-runs prefixes and needs the test to repeat itself.
    pub(crate) fn replaying(&self, task: TaskId) -> Result<(), Refusal> {
        if self.candidates.iter().any(|c| c.task == task) {
            return Ok(());
        }
        Err(Refusal::Diverged(format!(
            "re-running the same schedule prefix took a different path at step {}: task {} was \
             ready before and is not now. The test must be deterministic given the schedule: no \
             real randomness, wall-clock time, `std` threads or `std` locks shared across \
             executions",
            self.step + 1,
            task.0
        )))
    }

    /// The candidate that continues the previous task, if it is still enabled: choosing any
    /// other is a preemption.
    pub(crate) fn continuing(&self) -> Option<usize> {
        let previous = self.previous?;
        self.candidates.iter().position(|c| c.task == previous)
    }
}

/// How much of the schedule space an exploration covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// Every interleaving was run (exhaustive strategies only).
    Complete,
    /// Every interleaving with at most this many preemptions was run.
    CompleteUpTo(usize),
    /// A sample of the space.
    Sampled,
}

/// Why a strategy declines to pick a task.
#[derive(Clone, Debug)]
pub(crate) enum Refusal {
    /// The execution no longer matches what the strategy recorded (a replay of changed or
    /// nondeterministic code); the message says where.
    Diverged(String),
    /// Every enabled task is in the sleep set: whatever runs next repeats an execution
    /// already covered, so this one ends here.
    Redundant,
}

pub(crate) trait Strategy: Send {
    /// Prepares the next execution; `false` when the strategy has nothing left to run.
    fn next_execution(&mut self) -> bool;

    /// Picks the task to run at this decision.
    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal>;

    /// Called once per execution after it ends, with its trace and the tasks chosen in
    /// order.
    fn finish_execution(&mut self, _trace: &[TraceEvent], choices: &[TaskId]);

    /// What has been covered so far; meaningful once `next_execution` returned `false`.
    fn coverage(&self) -> Coverage;

    /// The seed of `selvedge::rand`'s numbers in the execution `next_execution` prepared, when
    /// the strategy chooses it: sampling strategies give each execution its own, a replay the
    /// recorded one. `None`: the config's seed (exhaustive strategies, which do not enumerate
    /// data).
    fn data_seed(&self) -> Option<u64> {
        None
    }
}
