//! Deadlock scenarios: per-thread lock sequences (and an optional acquisition timeout), the
//! strategy that generates and shrinks them, and the runner that takes the locks under the
//! model and says whether a deadlock is reachable.
//!
//! Invariant: the runner uses only selvedge's public API (`explore`, `sync::Mutex`,
//! `thread::Builder`, `thread::sleep` on virtual time); lock `i` is the `i`-th mutex created.

use std::sync::Arc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

use super::reduce::Reduced;
use super::verdict::Verdict;
use crate::sync::{Mutex, MutexGuard, TryLockError};
use crate::{explore, thread, Config, Report, Strategy as ModelStrategy};

/// Executions the deadlock runner allows itself before calling its search incomplete.
pub const DEADLOCK_MAX_SCHEDULES: usize = 100_000;

/// Threads taking locks in given orders: thread `t` locks `threads[t][0]`, then
/// `threads[t][1]`, ..., holding every lock until it has them all, then releases them in
/// reverse order. With a `timeout`, a thread that cannot get a lock within it (virtual time)
/// gives up: it releases what it holds and finishes without the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlockScenario {
    /// Each thread's lock sequence: distinct lock numbers, taken in this order.
    pub threads: Vec<Vec<usize>>,
    /// How long a thread waits for a lock before giving up, or `None` to wait forever.
    pub timeout: Option<Duration>,
}

/// Scenarios of 2 to `max_threads` threads, each taking 1 to `max_locks` distinct locks out of
/// `max_locks` in a random order, with a timeout half of the time. They shrink towards fewer
/// threads, shorter sequences, lower lock numbers and no timeout, one step at a time and
/// starting again after every step that keeps the failure, so a failing property ends where
/// no single simplification still fails: for a deadlock, always two threads crossing two
/// locks.
///
/// Panics if `max_threads < 2` or `max_locks == 0`.
///
/// ```
/// use proptest::prelude::*;
/// use proptest::test_runner::TestRunner;
/// use selvedge::chaos::deadlock_scenarios;
///
/// // Taking locks in ascending order never deadlocks, whatever the threads need.
/// let mut runner = TestRunner::new(ProptestConfig { cases: 16, failure_persistence: None, ..Default::default() });
/// runner.run(&deadlock_scenarios(3, 3), |scenario| {
///     let verdict = scenario.in_ascending_order().check();
///     prop_assert!(verdict.is_proved(), "{verdict}");
///     Ok(())
/// }).unwrap();
/// ```
pub fn deadlock_scenarios(
    max_threads: usize,
    max_locks: usize,
) -> impl Strategy<Value = DeadlockScenario> {
    assert!(
        max_threads >= 2,
        "`max_threads` is `{max_threads}`: a deadlock needs at least 2 threads"
    );
    assert!(
        max_locks >= 1,
        "`max_locks` is `0`: a deadlock scenario needs at least one lock"
    );
    let sequence = vec(0..max_locks, 1..=max_locks).prop_map(distinct_in_order);
    let timeout = prop_oneof![
        Just(None),
        (1u64..=1_000).prop_map(|ms| Some(Duration::from_millis(ms))),
    ];
    let drawn = (vec(sequence, 2..=max_threads), timeout)
        .prop_map(|(threads, timeout)| DeadlockScenario { threads, timeout });
    Reduced::new(drawn, DeadlockScenario::one_step_smaller)
}

/// Keeps the first occurrence of each lock: a thread never takes a lock it holds.
fn distinct_in_order(sequence: Vec<usize>) -> Vec<usize> {
    let mut seen = Vec::with_capacity(sequence.len());
    for lock in sequence {
        if !seen.contains(&lock) {
            seen.push(lock);
        }
    }
    seen
}

impl DeadlockScenario {
    /// Every scenario one step simpler than this one, most promising first: no timeout or a
    /// shorter one, a thread fewer (never below two), a lock fewer in one thread (never below
    /// one), the locks renumbered from 0 without gaps, or one lock number lowered to one the
    /// thread does not take. Lowering a number is
    /// what turns a three-thread cycle into a two-thread one, after which the third thread
    /// can go.
    fn one_step_smaller(&self) -> Vec<DeadlockScenario> {
        let mut smaller = Vec::new();
        if let Some(timeout) = self.timeout {
            smaller.push(DeadlockScenario {
                timeout: None,
                ..self.clone()
            });
            let shortest = Duration::from_millis(1);
            for shorter in [shortest, timeout / 2] {
                if shorter >= shortest && shorter < timeout {
                    smaller.push(DeadlockScenario {
                        timeout: Some(shorter),
                        ..self.clone()
                    });
                }
            }
        }
        let with_threads = |threads| DeadlockScenario {
            threads,
            timeout: self.timeout,
        };
        if self.threads.len() > 2 {
            for t in 0..self.threads.len() {
                let mut threads = self.threads.clone();
                threads.remove(t);
                smaller.push(with_threads(threads));
            }
        }
        for (t, sequence) in self.threads.iter().enumerate() {
            if sequence.len() > 1 {
                for position in 0..sequence.len() {
                    let mut threads = self.threads.clone();
                    threads[t].remove(position);
                    smaller.push(with_threads(threads));
                }
            }
        }
        // Renumbering every lock at once matters where lowering one number alone would undo
        // the cycle: `[[0, 2], [2, 0]]` becomes `[[0, 1], [1, 0]]`.
        let mut used: Vec<usize> = self.threads.iter().flatten().copied().collect();
        used.sort_unstable();
        used.dedup();
        if used.iter().enumerate().any(|(rank, &lock)| rank != lock) {
            let rank = |lock: &usize| used.binary_search(lock).expect("every lock is in `used`");
            smaller.push(with_threads(
                self.threads
                    .iter()
                    .map(|sequence| sequence.iter().map(rank).collect())
                    .collect(),
            ));
        }
        for (t, sequence) in self.threads.iter().enumerate() {
            for (position, &lock) in sequence.iter().enumerate() {
                for lower in (0..lock).filter(|l| !sequence.contains(l)) {
                    let mut threads = self.threads.clone();
                    threads[t][position] = lower;
                    smaller.push(with_threads(threads));
                }
            }
        }
        smaller
    }

    /// How many distinct locks the threads take.
    pub fn locks(&self) -> usize {
        let mut all: Vec<usize> = self.threads.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        all.len()
    }

    /// The same scenario with every thread taking its locks in ascending order: the classic
    /// lock-ordering discipline.
    pub fn in_ascending_order(&self) -> DeadlockScenario {
        let mut sorted = self.clone();
        for sequence in &mut sorted.threads {
            sequence.sort_unstable();
        }
        sorted
    }

    /// Runs the scenario under the model, exhaustively (DPOR, one worker, at most
    /// `DEADLOCK_MAX_SCHEDULES` executions), and returns the report: a reachable deadlock is
    /// its failure (`FailureKind::Deadlock`), with the wait-for cycle and a replay string.
    ///
    /// ```
    /// use selvedge::chaos::DeadlockScenario;
    ///
    /// let crossed = DeadlockScenario { threads: vec![vec![0, 1], vec![1, 0]], timeout: None };
    /// let report = crossed.run_model();
    /// let failure = report.failure().expect("the crossed orders deadlock");
    /// assert_eq!(failure.kind(), selvedge::FailureKind::Deadlock);
    /// println!("{failure}"); // who holds which lock, who waits for it, and the replay string
    /// ```
    pub fn run_model(&self) -> Report {
        self.run_model_with(Self::config())
    }

    fn config() -> Config {
        Config {
            strategy: ModelStrategy::Dpor,
            max_schedules: Some(DEADLOCK_MAX_SCHEDULES),
            workers: Some(1),
            ..Default::default()
        }
    }

    /// Like `run_model`, with the strategy and budgets of `config`.
    pub fn run_model_with(&self, config: Config) -> Report {
        let threads = self.threads.clone();
        let n_locks = threads.iter().flatten().max().map_or(0, |&max| max + 1);
        let timeout = self.timeout;
        explore(config, move || {
            let locks: Arc<Vec<Mutex<()>>> =
                Arc::new((0..n_locks).map(|_| Mutex::new(())).collect());
            let handles: Vec<_> = threads
                .iter()
                .enumerate()
                .map(|(t, sequence)| {
                    let locks = Arc::clone(&locks);
                    let sequence = sequence.clone();
                    thread::Builder::new()
                        .name(format!("locker-{t}"))
                        .spawn(move || take_in_order(&locks, &sequence, timeout))
                        .expect("a model thread")
                })
                .collect();
            for handle in handles {
                handle.join().expect("a locker finishes");
            }
        })
    }

    /// Runs the scenario under the model as `run_model` does and concludes: `Verdict::Fails`
    /// with the deadlock if one is reachable, `Verdict::Proved` if every interleaving finishes.
    /// Made for property loops, it does not minimise the failing interleaving (proptest
    /// shrinks the scenario instead): `run_model` on the shrunk scenario gives the minimised
    /// report.
    pub fn check(&self) -> Verdict {
        Verdict::from_report(&self.run_model_with(Config {
            minimise: false,
            ..Self::config()
        }))
    }
}

/// One thread's part: take each lock in order, holding the earlier ones; with a timeout, give
/// up on a lock after waiting that long in virtual time, releasing what is held.
fn take_in_order(locks: &[Mutex<()>], sequence: &[usize], timeout: Option<Duration>) {
    let mut held: Vec<MutexGuard<'_, ()>> = Vec::with_capacity(sequence.len());
    for &lock in sequence {
        match timeout {
            None => held.push(locks[lock].lock().expect("no lock is poisoned")),
            Some(timeout) => match lock_within(&locks[lock], timeout) {
                Some(guard) => held.push(guard),
                None => break,
            },
        }
    }
    while let Some(guard) = held.pop() {
        drop(guard);
    }
}

/// Tries the lock four times, a quarter of `timeout` apart in virtual time.
fn lock_within(lock: &Mutex<()>, timeout: Duration) -> Option<MutexGuard<'_, ()>> {
    const ATTEMPTS: u32 = 4;
    for attempt in 0..ATTEMPTS {
        match lock.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::WouldBlock) if attempt + 1 < ATTEMPTS => {
                thread::sleep(timeout / ATTEMPTS)
            }
            Err(TryLockError::WouldBlock) => return None,
            Err(TryLockError::Poisoned(_)) => panic!("no lock is poisoned"),
        }
    }
    None
}
