//! Depth-first search over turn orders for drivers whose executions cannot be relied on to
//! repeat a prefix exactly: the orchestra's real threads, where a task blocked outside
//! selvedge's control (a row lock) rejoins whenever the real world lets it.
//!
//! The tree is discovered as it is walked, so a task whose number of turns depends on the order
//! (a retry loop, code that skips a syncpoint when it finds work done) is covered exactly: every
//! order the code can take is run once. Options are tried in ascending task order, so the first
//! execution runs each task to its end in turn and the rest follow lexicographically.
//!
//! Where a re-run does not follow its prefix, the walk takes what it gets instead of failing:
//! a task seen ready for the first time at a node joins that node's options; a planned task
//! that is not ready skips to the next option that is (the skipped one could not run here this
//! time, and its subtree goes with it); if none is, the rest of the execution wanders (lowest
//! ready task, nothing recorded) and the node counts as done. Every execution advances the walk,
//! so it terminates.
//!
//! Invariant: on code that repeats itself given its turn order, this is plain exhaustive DFS:
//! one execution per distinct turn sequence, none skipped, none repeated.

use super::{Coverage, Decision, Refusal, Strategy};
use crate::trace::{TaskId, TraceEvent};

struct Node {
    /// Tasks seen ready here, in the order they are tried (ascending, later arrivals appended).
    options: Vec<TaskId>,
    /// `options[..next]` are done; `options[next]` is the branch being explored.
    next: usize,
}

pub(crate) struct TurnDfs {
    stack: Vec<Node>,
    depth: usize,
    /// The execution left the recorded tree at this depth; nothing below is recorded.
    wandering: bool,
    exhausted: bool,
}

impl TurnDfs {
    pub(crate) fn new() -> TurnDfs {
        TurnDfs {
            stack: Vec::new(),
            depth: 0,
            wandering: false,
            exhausted: false,
        }
    }
}

impl Strategy for TurnDfs {
    fn next_execution(&mut self) -> bool {
        if self.exhausted {
            return false;
        }
        self.depth = 0;
        self.wandering = false;
        true
    }

    fn choose(&mut self, decision: &Decision<'_>) -> Result<TaskId, Refusal> {
        let ready = |t: TaskId| decision.candidates.iter().any(|c| c.task == t);
        if self.wandering {
            return Ok(decision.candidates[0].task);
        }
        if self.depth == self.stack.len() {
            let options: Vec<TaskId> = decision.candidates.iter().map(|c| c.task).collect();
            let chosen = options[0];
            self.stack.push(Node { options, next: 0 });
            self.depth += 1;
            return Ok(chosen);
        }
        let node = &mut self.stack[self.depth];
        for c in decision.candidates {
            if !node.options.contains(&c.task) {
                node.options.push(c.task);
            }
        }
        let planned = node.options[node.next];
        if ready(planned) {
            self.depth += 1;
            return Ok(planned);
        }
        // The planned branch cannot run here now; its recorded subtree goes with it.
        self.stack.truncate(self.depth + 1);
        let node = &mut self.stack[self.depth];
        match (node.next + 1..node.options.len()).find(|&j| ready(node.options[j])) {
            Some(j) => {
                node.next = j;
                self.depth += 1;
                Ok(node.options[j])
            }
            None => {
                node.next = node.options.len() - 1;
                self.depth += 1;
                self.wandering = true;
                Ok(decision.candidates[0].task)
            }
        }
    }

    fn finish_execution(&mut self, _trace: &[TraceEvent], _choices: &[TaskId]) {
        // An execution that ended early (a failure, fewer turns than recorded) leaves deeper
        // nodes stale.
        self.stack.truncate(self.depth);
        while let Some(top) = self.stack.last_mut() {
            if top.next + 1 < top.options.len() {
                top.next += 1;
                return;
            }
            self.stack.pop();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::Candidate;
    use crate::trace::{Access, OpKind};

    /// Runs `TurnDfs` over a program given as "which tasks are ready after this prefix", and
    /// returns every execution's choices.
    fn walk(ready_after: impl Fn(&[TaskId]) -> Vec<u32>) -> Vec<String> {
        let mut dfs = TurnDfs::new();
        let mut runs = Vec::new();
        while dfs.next_execution() {
            let mut choices = Vec::new();
            loop {
                let ready = ready_after(&choices);
                if ready.is_empty() {
                    break;
                }
                let candidates: Vec<Candidate> = ready
                    .iter()
                    .map(|&t| Candidate {
                        task: TaskId(t),
                        kind: OpKind::Syncpoint,
                        object: None,
                        access: Access::Everything,
                    })
                    .collect();
                let decision = Decision {
                    step: choices.len(),
                    candidates: &candidates,
                    previous: choices.last().copied(),
                    spurious: &[],
                };
                choices.push(dfs.choose(&decision).expect("never refuses"));
            }
            dfs.finish_execution(&[], &choices);
            runs.push(choices.iter().map(|t| t.0.to_string()).collect());
            assert!(runs.len() < 10_000, "the walk does not terminate");
        }
        runs
    }

    /// Tasks with fixed turn counts: ready while they have turns left.
    fn fixed(counts: &'static [usize]) -> impl Fn(&[TaskId]) -> Vec<u32> {
        move |prefix| {
            (0..counts.len() as u32)
                .filter(|&t| prefix.iter().filter(|c| c.0 == t).count() < counts[t as usize])
                .collect()
        }
    }

    #[test]
    fn fixed_counts_give_every_distinct_sequence_once_in_lexicographic_order() {
        // Goal: orchestrate's semantics: counts (3, 3) give the C(6, 3) = 20 sequences, each
        // once, in lexicographic order, the serial one first.
        let runs = walk(fixed(&[3, 3]));
        assert_eq!(runs.len(), 20);
        let mut sorted = runs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, runs, "distinct and in lexicographic order");
        assert_eq!(runs[0], "000111");
        assert_eq!(runs[19], "111000");
        assert_eq!(walk(fixed(&[2, 2, 1])).len(), 30, "5! / (2! 2! 1!)");
    }

    #[test]
    fn a_count_that_depends_on_the_order_is_covered_exactly() {
        // Goal: task 1 takes an extra turn when it runs its first turn after task 0's first:
        // the tree holds both shapes, each sequence once, none skipped.
        let runs = walk(|prefix| {
            let zero = prefix.iter().filter(|c| c.0 == 0).count();
            let one_turns = prefix.iter().filter(|c| c.0 == 1).count();
            let first_one = prefix.iter().position(|c| c.0 == 1);
            let first_zero = prefix.iter().position(|c| c.0 == 0);
            let late = matches!((first_zero, first_one), (Some(z), Some(o)) if z < o);
            let one_needs = if late { 3 } else { 2 };
            let mut ready = Vec::new();
            if zero < 2 {
                ready.push(0);
            }
            if one_turns < one_needs {
                ready.push(1);
            }
            ready
        });
        let mut sorted = runs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), runs.len(), "no sequence runs twice");
        // Sequences starting with 0: task 1 has 3 turns: C(4, 2) = 10 ways to place 0's
        // second turn... counted directly:
        let starting_zero = runs.iter().filter(|r| r.starts_with('0')).count();
        let starting_one = runs.iter().filter(|r| r.starts_with('1')).count();
        assert_eq!(
            starting_zero, 4,
            "0 then 0111 in any order of one 0 among three 1s"
        );
        assert_eq!(starting_one, 3, "1 then one 1 among two 0s");
        assert!(runs
            .iter()
            .filter(|r| r.starts_with('0'))
            .all(|r| r.len() == 5));
        assert!(runs
            .iter()
            .filter(|r| r.starts_with('1'))
            .all(|r| r.len() == 4));
    }

    #[test]
    fn a_prefix_that_does_not_repeat_is_taken_as_it_comes_and_the_walk_ends() {
        // Goal: a world that changes under the walk (here: the ready set flips every
        // execution) never makes it fail or loop forever.
        use std::cell::Cell;
        let flip = Cell::new(0u32);
        let runs = walk(|prefix| {
            if prefix.is_empty() {
                flip.set(flip.get() + 1);
            }
            let odd = flip.get() % 2 == 1;
            let left = 4usize.saturating_sub(prefix.len());
            match (left, odd) {
                (0, _) => vec![],
                (_, true) => vec![0, 1],
                (_, false) => vec![1, 2],
            }
        });
        assert!(!runs.is_empty());
        assert!(runs.iter().all(|r| r.len() == 4));
    }
}
