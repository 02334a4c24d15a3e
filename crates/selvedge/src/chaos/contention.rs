//! Lock contention scenarios: operations that each need a few locks for a while, run by a pool
//! of workers; the strategy that generates them, and the runner that plays one under the model
//! against a `LockSet` — the lock implementation under test — with hold times on virtual time.
//!
//! Invariant: the runner uses only selvedge's public API; it checks mutual exclusion with its
//! own per-lock holder counts, so a broken `LockSet` fails however it is written.

use std::sync::Arc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

use super::verdict::Verdict;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};
use crate::{explore, thread, Config, Report, Strategy as ModelStrategy};

/// Executions the contention runner samples by default (PCT, depth 3).
pub const CONTENTION_SCHEDULES: usize = 500;

/// Work competing for locks: `workers` threads take `operations` from a shared queue, in order;
/// each operation takes its locks (ascending, so the scenario itself cannot deadlock), holds
/// them for `hold` and releases them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentionScenario {
    /// How many locks there are (`0..locks`).
    pub locks: usize,
    /// Worker threads taking operations from the queue.
    pub workers: usize,
    /// The queue of operations.
    pub operations: Vec<ContendedOp>,
}

/// One operation: the locks it needs and how long it holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContendedOp {
    /// Distinct locks, ascending.
    pub locks: Vec<usize>,
    /// How long the locks are held (virtual time under the model).
    pub hold: Duration,
}

/// Scenarios with 1 to `max_locks` locks, 1 to `max_operations` operations each needing 1 to 3
/// of them, held 1 µs to 500 ms, and 2 to `max_workers` workers.
///
/// Panics if `max_locks`, `max_operations` is 0 or `max_workers < 2`.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::{lock_contention, ModelLocks};
///
/// let mut runner = TestRunner::new(ProptestConfig { cases: 8, failure_persistence: None, ..Default::default() });
/// runner.run(&lock_contention(3, 4, 3), |scenario| {
///     // selvedge's own locks keep mutual exclusion and finish every operation.
///     let verdict = scenario.check::<ModelLocks>();
///     prop_assert!(verdict.passed(), "{verdict}");
///     Ok(())
/// }).unwrap();
/// ```
pub fn lock_contention(
    max_locks: usize,
    max_operations: usize,
    max_workers: usize,
) -> impl Strategy<Value = ContentionScenario> {
    assert!(
        max_locks >= 1,
        "`max_locks` is `0`: contention needs a lock"
    );
    assert!(
        max_operations >= 1,
        "`max_operations` is `0`: contention needs an operation"
    );
    assert!(
        max_workers >= 2,
        "`max_workers` is `{max_workers}`: contention needs 2 workers at least"
    );
    (1..=max_locks, 2..=max_workers).prop_flat_map(move |(locks, workers)| {
        let needs = vec(0..locks, 1..=locks.min(3)).prop_map(|mut needed| {
            needed.sort_unstable();
            needed.dedup();
            needed
        });
        let hold = (1u64..=500_000).prop_map(Duration::from_micros);
        let op = (needs, hold).prop_map(|(locks, hold)| ContendedOp { locks, hold });
        vec(op, 1..=max_operations).prop_map(move |operations| ContentionScenario {
            locks,
            workers,
            operations,
        })
    })
}

/// The lock implementation a contention scenario runs against: `locks` independent locks,
/// numbered from 0. `acquire` blocks until the calling thread holds the lock; `release` is
/// called by the holder. Under the model it must be built from selvedge primitives.
pub trait LockSet: Send + Sync + 'static {
    /// `locks` locks, all free.
    fn with_locks(locks: usize) -> Self
    where
        Self: Sized;
    /// Blocks until the caller holds lock `lock`.
    fn acquire(&self, lock: usize);
    /// Releases lock `lock`, which the caller holds.
    fn release(&self, lock: usize);
}

/// A correct `LockSet` from selvedge's `Mutex` and `Condvar`: a flag per lock, waited on.
pub struct ModelLocks {
    locks: Vec<(Mutex<bool>, Condvar)>,
}

impl LockSet for ModelLocks {
    fn with_locks(locks: usize) -> ModelLocks {
        ModelLocks {
            locks: (0..locks)
                .map(|_| (Mutex::new(false), Condvar::new()))
                .collect(),
        }
    }

    fn acquire(&self, lock: usize) {
        let (held, freed) = &self.locks[lock];
        let mut held = held.lock().expect("lock flags are never poisoned");
        while *held {
            held = freed.wait(held).expect("lock flags are never poisoned");
        }
        *held = true;
    }

    fn release(&self, lock: usize) {
        let (held, freed) = &self.locks[lock];
        *held.lock().expect("lock flags are never poisoned") = false;
        freed.notify_one();
    }
}

impl ContentionScenario {
    /// Plays the scenario under the model against `L`, with `CONTENTION_SCHEDULES` PCT
    /// schedules (depth 3, seed 0), and returns the report. An execution fails if two workers
    /// hold one lock at once, if an operation is lost, or if the workers deadlock. Holding a lock is `selvedge::thread::sleep(hold)`: virtual time, which moves only when
    /// every task is blocked, so no real time passes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use selvedge::chaos::{ContendedOp, ContentionScenario, LockSet};
    /// use selvedge::sync::atomic::{AtomicBool, Ordering};
    ///
    /// // A lock that checks, then sets: two workers can both see it free.
    /// struct CheckThenSet(Vec<AtomicBool>);
    /// impl LockSet for CheckThenSet {
    ///     fn with_locks(n: usize) -> Self { CheckThenSet((0..n).map(|_| AtomicBool::new(false)).collect()) }
    ///     fn acquire(&self, lock: usize) {
    ///         while self.0[lock].load(Ordering::SeqCst) { selvedge::thread::yield_now(); }
    ///         self.0[lock].store(true, Ordering::SeqCst);
    ///     }
    ///     fn release(&self, lock: usize) { self.0[lock].store(false, Ordering::SeqCst); }
    /// }
    ///
    /// let op = ContendedOp { locks: vec![0], hold: Duration::from_millis(5) };
    /// let scenario = ContentionScenario { locks: 1, workers: 2, operations: vec![op.clone(), op] };
    /// let report = scenario.run_model::<CheckThenSet>();
    /// let failure = report.failure().expect("the model finds both workers inside");
    /// assert!(failure.message().contains("held by two workers at once"));
    /// ```
    pub fn run_model<L: LockSet>(&self) -> Report {
        self.run_model_with::<L>(Self::config())
    }

    fn config() -> Config {
        Config {
            strategy: ModelStrategy::Pct { depth: 3 },
            max_schedules: Some(CONTENTION_SCHEDULES),
            seed: 0,
            ..Default::default()
        }
    }

    /// Like `run_model`, with the strategy and budgets of `config`.
    pub fn run_model_with<L: LockSet>(&self, config: Config) -> Report {
        let scenario = Arc::new(self.clone());
        explore(config, move || {
            let scenario = Arc::clone(&scenario);
            let set = Arc::new(L::with_locks(scenario.locks));
            let next = Arc::new(AtomicUsize::new(0));
            let finished = Arc::new(AtomicUsize::new(0));
            let holders: Arc<Vec<AtomicUsize>> =
                Arc::new((0..scenario.locks).map(|_| AtomicUsize::new(0)).collect());
            let workers: Vec<_> = (0..scenario.workers)
                .map(|w| {
                    let (scenario, set, next, finished, holders) = (
                        Arc::clone(&scenario),
                        Arc::clone(&set),
                        Arc::clone(&next),
                        Arc::clone(&finished),
                        Arc::clone(&holders),
                    );
                    thread::Builder::new()
                        .name(format!("worker-{w}"))
                        .spawn(move || loop {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            let Some(op) = scenario.operations.get(i) else {
                                return;
                            };
                            for &lock in &op.locks {
                                set.acquire(lock);
                                let before = holders[lock].fetch_add(1, Ordering::SeqCst);
                                assert_eq!(before, 0, "lock {lock} held by two workers at once");
                            }
                            thread::sleep(op.hold);
                            for &lock in op.locks.iter().rev() {
                                holders[lock].fetch_sub(1, Ordering::SeqCst);
                                set.release(lock);
                            }
                            finished.fetch_add(1, Ordering::SeqCst);
                        })
                        .expect("a model thread")
                })
                .collect();
            for worker in workers {
                worker.join().expect("a worker finishes");
            }
            assert_eq!(
                finished.load(Ordering::SeqCst),
                scenario.operations.len(),
                "an operation was lost"
            );
        })
    }

    /// Runs the scenario as `run_model::<L>` does and concludes. Made for property loops, it
    /// does not minimise the failing interleaving (proptest shrinks the scenario instead):
    /// `run_model` on the shrunk scenario gives the minimised report.
    pub fn check<L: LockSet>(&self) -> Verdict {
        Verdict::from_report(&self.run_model_with::<L>(Config {
            minimise: false,
            ..Self::config()
        }))
    }
}
