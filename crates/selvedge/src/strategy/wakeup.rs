//! Wakeup trees (Abdulla, Aronis, Jonsson and Sagonas, "Optimal Dynamic Partial Order
//! Reduction", POPL 2014): for one decision, the ordered continuations still to explore from
//! it. Each continuation starts with the steps that reverse a race, so the execution that
//! follows it is guaranteed to reach a new Mazurkiewicz trace, where a bare backtrack task
//! might wander into one a sleep set then cuts short.
//!
//! Invariants:
//! - A tree only grows by `insert`: existing branches keep their order, and a branch's own
//!   subtree only grows below it.
//! - A sequence is not inserted when an existing branch already covers it: the branch
//!   starts with a step that can start the sequence, all the way down to a leaf (from a
//!   leaf on, the exploration is free, and backtracking covers the rest).

use super::Candidate;
use crate::trace::TaskId;

/// A race reversal as the wakeup tree sees it. Implemented by the owned `Reversal` a subtree
/// reports to its coordinator, and by a view into the analysis (`races::ReversalView`),
/// which lets a race that is covered already be checked without copying anything.
pub(crate) trait Reversible {
    /// Could a task whose next step is `next` start the sequence (a weak initial)? Yes if
    /// its first step in the sequence is preceded by nothing in it, or, when it has no step
    /// in the sequence, if `next` commutes with every step (`Candidate::commutes_with`).
    fn can_start_with(&self, next: &Candidate) -> bool;
    /// The sequence after `task` took its first step (one `can_start_with` accepted).
    fn without_first_of(&mut self, task: TaskId);
    fn steps(&self) -> Vec<Candidate>;
    fn is_empty(&self) -> bool;
    /// The task that takes the sequence's first step.
    fn first_task(&self) -> Option<TaskId>;
}

/// `notdep(e).e'` for a race `(e, e')`: the steps after `e` that do not happen after it, in
/// execution order, then `e'`. Running them from `e`'s decision reverses the race.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reversal {
    steps: Vec<Candidate>,
    /// Each step's count in its task's program order.
    locals: Vec<u32>,
    /// Each step's vector clock, `width` entries per step, from the execution the race was
    /// found in.
    clocks: Vec<u32>,
    width: usize,
}

impl Reversal {
    pub(crate) fn push(&mut self, step: Candidate, local: u32, clock: &[u32]) {
        assert!(
            self.steps.is_empty() || clock.len() == self.width,
            "every clock of a reversal has the execution's width"
        );
        self.width = clock.len();
        self.steps.push(step);
        self.locals.push(local);
        self.clocks.extend_from_slice(clock);
    }

    /// Does step `earlier` of the sequence happen before step `later`?
    pub(crate) fn happens_before(&self, earlier: usize, later: usize) -> bool {
        let task = self.steps[earlier].task.index();
        self.clocks[later * self.width + task] >= self.locals[earlier]
    }

    pub(crate) fn steps_slice(&self) -> &[Candidate] {
        &self.steps
    }
}

impl Reversible for Reversal {
    fn can_start_with(&self, next: &Candidate) -> bool {
        match self.steps.iter().position(|s| s.task == next.task) {
            Some(n) => !(0..n).any(|u| self.happens_before(u, n)),
            None => self.steps.iter().all(|s| next.commutes_with(s)),
        }
    }

    fn without_first_of(&mut self, task: TaskId) {
        if let Some(n) = self.steps.iter().position(|s| s.task == task) {
            self.steps.remove(n);
            self.locals.remove(n);
            self.clocks.drain(n * self.width..(n + 1) * self.width);
        }
    }

    fn steps(&self) -> Vec<Candidate> {
        self.steps.clone()
    }

    fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn first_task(&self) -> Option<TaskId> {
        self.steps.first().map(|s| s.task)
    }
}

/// The continuations to explore from one decision, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WakeupTree {
    pub(crate) branches: Vec<Branch>,
}

/// A first step, and what must follow it before the exploration goes free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Branch {
    pub(crate) step: Candidate,
    pub(crate) then: WakeupTree,
}

impl WakeupTree {
    pub(crate) fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    pub(crate) fn leaf(step: Candidate) -> Branch {
        Branch {
            step,
            then: WakeupTree::default(),
        }
    }

    /// Takes the first branch out.
    pub(crate) fn pop_first(&mut self) -> Option<Branch> {
        (!self.branches.is_empty()).then(|| self.branches.remove(0))
    }

    /// Adds `sequence` as the last branch unless a branch already covers it (see the module
    /// docs). Returns whether the tree changed.
    pub(crate) fn insert(&mut self, mut sequence: impl Reversible) -> bool {
        let mut at = self;
        let mut at_root = true;
        loop {
            if sequence.is_empty() || (!at_root && at.branches.is_empty()) {
                return false;
            }
            match at
                .branches
                .iter()
                .position(|b| sequence.can_start_with(&b.step))
            {
                Some(i) => {
                    sequence.without_first_of(at.branches[i].step.task);
                    at = &mut at.branches[i].then;
                    at_root = false;
                }
                None => {
                    let before = at.branches.len();
                    at.branches.push(chain(sequence.steps()));
                    // Trees only grow: the new branch goes last, behind every existing one.
                    assert_eq!(at.branches.len(), before + 1, "a wakeup tree shrank");
                    return true;
                }
            }
        }
    }
}

/// The steps of a non-empty sequence as a chain of single branches.
fn chain(steps: Vec<Candidate>) -> Branch {
    let mut steps = steps.into_iter().rev();
    let last = steps.next().expect("a chain of at least one step");
    steps.fold(WakeupTree::leaf(last), |then, step| Branch {
        step,
        then: WakeupTree {
            branches: vec![then],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{ObjectId, OpKind};

    fn step(task: u32, object: u32) -> Candidate {
        Candidate {
            task: TaskId(task),
            kind: OpKind::AtomicStore,
            access: OpKind::AtomicStore.access(),
            object: Some(ObjectId(object)),
        }
    }

    /// Steps of tasks 1 and 2 on different objects, neither ordered before the other, then
    /// task 3 on object 0 after task 1's step.
    fn reversal() -> Reversal {
        let mut r = Reversal::default();
        r.push(step(1, 0), 1, &[0, 1, 0, 0]);
        r.push(step(2, 1), 1, &[0, 0, 1, 0]);
        r.push(step(3, 0), 1, &[0, 1, 0, 1]);
        r
    }

    #[test]
    fn initials_and_weak_initials_can_start_a_sequence() {
        let r = reversal();
        assert!(r.can_start_with(&step(1, 0)));
        assert!(r.can_start_with(&step(2, 1)));
        // Task 3's step waits for task 1's.
        assert!(!r.can_start_with(&step(3, 0)));
        // A task not in the sequence, on an untouched object: independent of all of it.
        assert!(r.can_start_with(&step(4, 7)));
        // ... but not on an object the sequence writes.
        assert!(!r.can_start_with(&step(4, 1)));
    }

    #[test]
    fn a_covered_sequence_is_not_inserted_and_a_new_one_goes_last() {
        let mut tree = WakeupTree::default();
        assert!(tree.insert(reversal()));
        assert_eq!(tree.branches.len(), 1);
        assert_eq!(tree.branches[0].step.task, TaskId(1));
        // The same sequence again is covered, and so is one starting with task 2 (task 2's
        // step can be moved before task 1's).
        assert!(!tree.insert(reversal()));
        let mut swapped = Reversal::default();
        swapped.push(step(2, 1), 1, &[0, 0, 1, 0]);
        swapped.push(step(1, 0), 1, &[0, 1, 0, 0]);
        swapped.push(step(3, 0), 1, &[0, 1, 0, 1]);
        assert!(!tree.insert(swapped));
        // A sequence starting with a step that conflicts with the first branch's is new.
        let mut other = Reversal::default();
        other.push(step(3, 0), 1, &[0, 0, 0, 1]);
        assert!(tree.insert(other));
        assert_eq!(tree.branches.len(), 2);
        assert_eq!(tree.branches[1].step.task, TaskId(3));
        assert!(tree.branches[1].then.is_empty());
    }

    #[test]
    fn a_leaf_covers_every_longer_sequence_through_it() {
        let mut tree = WakeupTree {
            branches: vec![WakeupTree::leaf(step(1, 0))],
        };
        assert!(!tree.insert(reversal()));
        assert_eq!(tree.branches[0].then, WakeupTree::default());
    }
}
