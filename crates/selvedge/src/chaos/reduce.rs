//! Greedy shrinking for scenarios whose smallest failing form proptest's own shrinking can miss.
//!
//! proptest shrinks a `Vec` by deleting elements first, then shrinking the elements that are
//! left, and never goes back to deleting. A scenario can therefore stop at a local minimum:
//! three threads in a lock cycle, where no single thread can be removed, but lowering one lock
//! number closes a two-thread cycle after which the third thread is dead weight. [`Reduced`]
//! replaces the inner strategy's shrinking with a greedy search over every one-step
//! simplification of the current failing value, restarted after each success, so it ends only
//! where no single step keeps the failure.
//!
//! Invariant: every candidate a reduction function returns is strictly smaller than its input
//! in some well-founded measure (fewer parts, lower numbers), so the search always ends.

use std::fmt;

use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// A strategy that draws values from `inner` and shrinks them with `reduce`, which lists the
/// one-step simplifications of a value, most promising first.
pub(crate) struct Reduced<S: Strategy> {
    inner: S,
    reduce: fn(&S::Value) -> Vec<S::Value>,
}

impl<S: Strategy> Reduced<S> {
    pub(crate) fn new(inner: S, reduce: fn(&S::Value) -> Vec<S::Value>) -> Self {
        Reduced { inner, reduce }
    }
}

impl<S: Strategy> fmt::Debug for Reduced<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reduced")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: Strategy> Strategy for Reduced<S>
where
    S::Value: Clone,
{
    type Tree = Reducing<S::Value>;
    type Value = S::Value;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let drawn = self.inner.new_tree(runner)?.current();
        Ok(Reducing {
            candidates: (self.reduce)(&drawn),
            failing: drawn,
            next: 0,
            trying: None,
            reduce: self.reduce,
        })
    }
}

/// The shrinking state: the smallest value known to fail, the candidates one step below it,
/// and the candidate under test.
///
/// proptest's protocol: after `simplify` or `complicate` returns `true`, the runner tests
/// `current()`. A failure calls `simplify` (the candidate is the new smallest failing value),
/// a pass calls `complicate` (try the next candidate). When either returns `false`, `current()`
/// is the answer, so it must then be the smallest failing value.
pub(crate) struct Reducing<T> {
    failing: T,
    candidates: Vec<T>,
    next: usize,
    trying: Option<T>,
    reduce: fn(&T) -> Vec<T>,
}

impl<T> fmt::Debug for Reducing<T>
where
    T: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reducing")
            .field("failing", &self.failing)
            .field("trying", &self.trying)
            .field("candidates_left", &(self.candidates.len() - self.next))
            .finish_non_exhaustive()
    }
}

impl<T> Reducing<T>
where
    T: Clone,
{
    /// Puts the next untried candidate under test, or the smallest failing value back if there
    /// is none.
    fn try_next(&mut self) -> bool {
        match self.candidates.get(self.next) {
            Some(candidate) => {
                self.trying = Some(candidate.clone());
                self.next += 1;
                true
            }
            None => {
                self.trying = None;
                false
            }
        }
    }
}

impl<T> ValueTree for Reducing<T>
where
    T: Clone + fmt::Debug,
{
    type Value = T;

    fn current(&self) -> T {
        self.trying.as_ref().unwrap_or(&self.failing).clone()
    }

    fn simplify(&mut self) -> bool {
        // Called after `current()` failed: a candidate under test becomes the new smallest
        // failing value, and the search restarts one step below it.
        if let Some(smaller) = self.trying.take() {
            self.candidates = (self.reduce)(&smaller);
            self.failing = smaller;
            self.next = 0;
        }
        self.try_next()
    }

    fn complicate(&mut self) -> bool {
        // Called after `current()` passed: that candidate lost the failure; try its sibling.
        self.try_next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng};

    /// One step down from a vector of numbers: drop an element, or halve one, or lower it by
    /// one.
    #[expect(
        clippy::ptr_arg,
        reason = "a reduction takes `&S::Value`, here `&Vec<u8>`"
    )]
    fn steps(value: &Vec<u8>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for i in 0..value.len() {
            let mut fewer = value.clone();
            fewer.remove(i);
            out.push(fewer);
        }
        for i in 0..value.len() {
            for lower in [value[i] / 2, value[i].saturating_sub(1)] {
                if lower < value[i] {
                    let mut smaller = value.clone();
                    smaller[i] = lower;
                    out.push(smaller);
                }
            }
        }
        out
    }

    #[test]
    fn the_search_ends_where_no_single_step_keeps_the_failure() {
        // "No element reaches 10" fails; its one smallest failing vector is a single 10,
        // whatever was drawn, so every seed must end there.
        for seed in 0..32u8 {
            let strategy = Reduced::new(proptest::collection::vec(0u8..50, 1..6), steps);
            let mut runner = TestRunner::new_with_rng(
                Config {
                    failure_persistence: None,
                    ..Config::default()
                },
                TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
            );
            let result = runner.run(&strategy, |v| {
                prop_assert!(v.iter().all(|&x| x < 10));
                Ok(())
            });
            let Err(TestError::Fail(_, smallest)) = result else {
                panic!("seed {seed}: the property is false: {result:?}")
            };
            assert_eq!(smallest, vec![10], "seed {seed}");
        }
    }

    #[test]
    fn a_value_with_no_simpler_form_is_its_own_answer() {
        let mut tree = Reducing {
            failing: vec![0u8],
            candidates: Vec::new(),
            next: 0,
            trying: None,
            reduce: |_| Vec::new(),
        };
        assert!(!tree.simplify());
        assert_eq!(tree.current(), vec![0]);
        assert!(!tree.complicate());
        assert_eq!(tree.current(), vec![0]);
    }
}
