//! Test programs shared by selvedge's benchmarks, written against selvedge's API.
//!
//! The benchmarks under `benches/` run these programs (and shuttle or loom ports of them) and
//! time the exploration; the tests below run them at a tiny size so the benchmarks cannot rot.

/// Defines the benchmark programs against one tool's API (`selvedge`, `loom` or `shuttle`:
/// their `thread`, `sync` and `sync::atomic` modules have the same shape), so every tool runs
/// exactly the same code.
#[macro_export]
macro_rules! define_programs {
    ($tool:ident) => {
        use $tool::sync::atomic::{AtomicUsize, Ordering};
        use $tool::sync::{Arc, Mutex};

        /// `threads` threads each increment a shared `Mutex<u64>` `increments` times; the main
        /// thread joins them all and asserts the total is `threads * increments`.
        pub fn mutex_counter(threads: usize, increments: usize) {
            let counter = Arc::new(Mutex::new(0u64));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let counter = counter.clone();
                    $tool::thread::spawn(move || {
                        for _ in 0..increments {
                            *counter.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            let total = *counter.lock().unwrap();
            assert_eq!(total, (threads * increments) as u64);
        }

        /// The main thread spawns one thread; each of the two does `n` `fetch_add(1, SeqCst)`
        /// on one shared `AtomicUsize`; the main thread joins and asserts the total is `2 * n`.
        pub fn shared_fetch_add(n: usize) {
            let x = Arc::new(AtomicUsize::new(0));
            let x2 = x.clone();
            let t = $tool::thread::spawn(move || {
                for _ in 0..n {
                    x2.fetch_add(1, Ordering::SeqCst);
                }
            });
            for _ in 0..n {
                x.fetch_add(1, Ordering::SeqCst);
            }
            t.join().unwrap();
            assert_eq!(x.load(Ordering::SeqCst), 2 * n);
        }

        /// The main thread and one spawned thread each do one `fetch_add` on an atomic of
        /// their own; nothing is shared, so one execution covers every interleaving.
        pub fn disjoint_atomics() {
            let a = Arc::new(AtomicUsize::new(0));
            let b = Arc::new(AtomicUsize::new(0));
            let b2 = b.clone();
            let t = $tool::thread::spawn(move || {
                b2.fetch_add(1, Ordering::SeqCst);
            });
            a.fetch_add(1, Ordering::SeqCst);
            t.join().unwrap();
            assert_eq!(a.load(Ordering::SeqCst), 1);
            assert_eq!(b.load(Ordering::SeqCst), 1);
        }

        /// A BUG: two threads each read a shared atomic and then store the value read plus
        /// one; the main thread joins both and asserts 2, which fails when both read 0.
        pub fn lost_update() {
            let x = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let x = x.clone();
                    $tool::thread::spawn(move || {
                        let v = x.load(Ordering::SeqCst);
                        x.store(v + 1, Ordering::SeqCst);
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            assert_eq!(x.load(Ordering::SeqCst), 2, "an update was lost");
        }

        /// A BUG: two threads take mutexes `a` and `b` in opposite orders, so they deadlock
        /// when each holds its first lock; the main thread joins both.
        pub fn lock_order_deadlock() {
            let a = Arc::new(Mutex::new(0u64));
            let b = Arc::new(Mutex::new(0u64));
            let (a1, b1) = (a.clone(), b.clone());
            let t1 = $tool::thread::spawn(move || {
                let mut ga = a1.lock().unwrap();
                let mut gb = b1.lock().unwrap();
                *ga += 1;
                *gb += 1;
            });
            let (a2, b2) = (a, b);
            let t2 = $tool::thread::spawn(move || {
                let mut gb = b2.lock().unwrap();
                let mut ga = a2.lock().unwrap();
                *ga += 1;
                *gb += 1;
            });
            t1.join().unwrap();
            t2.join().unwrap();
        }
    };
}

/// The programs written against selvedge's API.
pub mod programs {
    crate::define_programs!(selvedge);
}

pub use programs::{
    disjoint_atomics as selvedge_disjoint_atomics,
    lock_order_deadlock as selvedge_lock_order_deadlock, lost_update as selvedge_lost_update,
    mutex_counter as selvedge_mutex_counter, shared_fetch_add as selvedge_shared_fetch_add,
};

/// The ideal execution count of [`selvedge_mutex_counter`]: the distinct orders in which the
/// `threads * increments` critical sections can take the lock, `(T*K)! / (K!)^T`.
pub fn mutex_counter_ideal(threads: u64, increments: u64) -> u64 {
    let factorial = |n: u64| (1..=n).product::<u64>();
    factorial(threads * increments) / factorial(increments).pow(threads as u32)
}

/// The async benchmark program, on selvedge's tokio facade: a producer task sends `messages`
/// values on a bounded `mpsc` channel of capacity 1 and drops its sender; a consumer task
/// receives until the channel closes, each receive under a one-second `timeout`; the main
/// task joins both and asserts the consumer got every message. On the model's virtual clock
/// the timeout never fires (time moves only when every task is blocked), but every receive
/// waits on both the message and the timer, as in production.
pub fn selvedge_async_channel_timeout(messages: u32) {
    use selvedge::tokio::{self, sync::mpsc, time};
    selvedge::future::block_on(async move {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let producer = tokio::spawn(async move {
            for i in 0..messages {
                tx.send(i).await.expect("the consumer is alive");
            }
        });
        let consumer = tokio::spawn(async move {
            let mut received = 0;
            while let Ok(Some(_)) =
                time::timeout(std::time::Duration::from_secs(1), rx.recv()).await
            {
                received += 1;
            }
            received
        });
        producer.await.expect("the producer completes");
        let received = consumer.await.expect("the consumer completes");
        assert_eq!(received, messages, "a message was lost");
    });
}

/// Runs [`selvedge_async_channel_timeout`] under selvedge's random strategy for `schedules`
/// executions with seed `seed`, and returns the report.
pub fn explore_async_channel_timeout_random(
    messages: u32,
    schedules: usize,
    seed: u64,
) -> selvedge::Report {
    selvedge::explore(
        selvedge::Config {
            strategy: selvedge::Strategy::Random,
            max_schedules: Some(schedules),
            seed,
            ..Default::default()
        },
        move || selvedge_async_channel_timeout(messages),
    )
}

/// Explores `f` exhaustively with selvedge's DPOR and its default bounds on one worker thread
/// (loom and shuttle use one too), and returns the report.
pub fn explore_dpor<F>(f: F) -> selvedge::Report
where
    F: Fn() + Send + Sync + 'static,
{
    selvedge::explore(
        selvedge::Config {
            strategy: selvedge::Strategy::Dpor,
            workers: Some(1),
            // Counted and timed is the search up to the failure, as for loom and shuttle;
            // minimising the failure afterwards is extra work they do not do.
            minimise: false,
            ..Default::default()
        },
        f,
    )
}

/// Runs [`selvedge_mutex_counter`] under selvedge's random strategy for `schedules`
/// executions with seed `seed`, and returns the report.
pub fn explore_mutex_counter_random(
    threads: usize,
    increments: usize,
    schedules: usize,
    seed: u64,
) -> selvedge::Report {
    selvedge::explore(
        selvedge::Config {
            strategy: selvedge::Strategy::Random,
            max_schedules: Some(schedules),
            seed,
            ..Default::default()
        },
        move || selvedge_mutex_counter(threads, increments),
    )
}

/// What the stress harness adds to an empty operation, from the least to the most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HarnessLoad {
    /// No histograms, no invariants, no faults.
    Bare,
    /// Latency histograms (two clock reads and a record per operation).
    Histograms,
    /// Histograms and one invariant checked after every operation.
    HistogramsAndInvariant,
    /// Histograms, the invariant, and a fault every 1,000 operations (every operation then
    /// takes a ticket from a counter shared by all threads).
    HistogramsInvariantAndFault,
}

/// Runs `threads` x `iterations` empty operations under the stress harness with `load`, checks
/// the outcome (every operation ran, nothing failed, the invariant was checked after each),
/// and returns it.
pub fn stress_empty_ops(
    load: HarnessLoad,
    threads: usize,
    iterations: u64,
) -> selvedge::stress::Outcome {
    use selvedge::stress::{Progress, Shake, Stress};
    let mut stress = Stress::new(format!("{load:?}"))
        .threads(threads)
        .iterations(iterations)
        .shake(Shake::off())
        .progress(Progress::Never)
        .histograms(load != HarnessLoad::Bare)
        .op("empty", 1, |_| {});
    if matches!(
        load,
        HarnessLoad::HistogramsAndInvariant | HarnessLoad::HistogramsInvariantAndFault
    ) {
        stress = stress.invariant_after_each_op("holds", || true);
    }
    if load == HarnessLoad::HistogramsInvariantAndFault {
        stress = stress.fault_every(1_000, "nothing", |_| {});
    }
    let outcome = stress.run();
    let total = threads as u64 * iterations;
    assert!(outcome.is_clean(), "{outcome}");
    assert_eq!(outcome.iterations(), total, "{outcome}");
    assert_eq!(outcome.operation("empty").map(|o| o.count), Some(total));
    if let Some(invariant) = outcome.invariants().first() {
        assert_eq!(
            invariant.checks,
            total + 1,
            "checked after every operation and at the end"
        );
    }
    if let Some(fault) = outcome.faults().first() {
        assert_eq!(fault.injected, total / 1_000);
    }
    outcome
}

/// Where the orchestra's tasks run in a turn benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnTasks {
    /// Each task on its own OS thread.
    Threads,
    /// Futures on a current-thread tokio runtime.
    CurrentThread,
    /// Futures on a multi-thread tokio runtime with two workers.
    MultiThread,
}

/// The orchestra turn benchmark: `tasks` tasks each take `syncpoints` unnamed syncpoints
/// (`syncpoints + 1` turns each), explored as `config` says. Checks the report (no failure, no
/// error, each task's turn count) and that every turn ran (a std atomic counts them), and
/// returns the turns run in all.
pub fn orchestra_turns(
    tasks: usize,
    syncpoints: usize,
    where_: TurnTasks,
    config: selvedge::Config,
) -> u64 {
    use selvedge::orchestra::Orchestra;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let turns = Arc::new(AtomicU64::new(0));
    let mut orchestra = Orchestra::new().config(config);
    for _ in 0..tasks {
        let turns = turns.clone();
        orchestra = match where_ {
            TurnTasks::Threads => orchestra.task(move |_| {
                turns.fetch_add(1, Ordering::Relaxed);
                for _ in 0..syncpoints {
                    selvedge::syncpoint!();
                    turns.fetch_add(1, Ordering::Relaxed);
                }
            }),
            TurnTasks::CurrentThread | TurnTasks::MultiThread => orchestra.task_async(move |_| {
                let turns = turns.clone();
                async move {
                    turns.fetch_add(1, Ordering::Relaxed);
                    for _ in 0..syncpoints {
                        selvedge::syncpoint!().await;
                        turns.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }),
        };
    }
    if where_ == TurnTasks::MultiThread {
        orchestra = orchestra.multi_thread(2);
    }
    let report = orchestra.explore();
    assert!(report.failure().is_none(), "unexpected failure: {report:?}");
    assert!(report.error().is_none(), "could not run: {report:?}");
    assert_eq!(report.turn_counts(), vec![syncpoints + 1; tasks].as_slice());
    let ran = turns.load(Ordering::Relaxed);
    assert_eq!(
        ran,
        report.schedules() * (tasks * (syncpoints + 1)) as u64,
        "every turn of every schedule ran"
    );
    ran
}

/// One syncpoint outside any selvedge run, not inlined, so its code can be read with a
/// disassembler: one relaxed load and a branch.
#[inline(never)]
pub fn one_syncpoint_outside_a_run() {
    selvedge::syncpoint!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stress_overhead_runs_at_a_tiny_size() {
        for load in [
            HarnessLoad::Bare,
            HarnessLoad::Histograms,
            HarnessLoad::HistogramsAndInvariant,
            HarnessLoad::HistogramsInvariantAndFault,
        ] {
            stress_empty_ops(load, 2, 2_000);
        }
    }

    #[test]
    fn orchestra_turns_run_on_threads_and_both_runtimes() {
        for where_ in [
            TurnTasks::Threads,
            TurnTasks::CurrentThread,
            TurnTasks::MultiThread,
        ] {
            let exhaustive = orchestra_turns(2, 1, where_, selvedge::Config::default());
            assert_eq!(
                exhaustive,
                6 * 4,
                "{where_:?}: C(4, 2) schedules of 4 turns"
            );
            let random = selvedge::Config {
                strategy: selvedge::Strategy::Random,
                max_schedules: Some(3),
                ..Default::default()
            };
            assert_eq!(orchestra_turns(2, 5, where_, random), 3 * 12, "{where_:?}");
        }
        one_syncpoint_outside_a_run();
    }

    #[test]
    fn mutex_counter_runs_under_random() {
        let report = explore_mutex_counter_random(2, 2, 20, 1);
        assert!(report.failure().is_none(), "unexpected failure: {report:?}");
        assert_eq!(report.schedules(), 20);
    }

    fn assert_complete(report: &selvedge::Report, executions: u64) {
        assert!(report.failure().is_none(), "unexpected failure: {report:?}");
        assert!(report.complete(), "not complete: {}", report.coverage());
        assert_eq!(report.schedules(), executions);
    }

    #[test]
    fn async_channel_timeout_runs_under_random_and_dpor() {
        let report = explore_async_channel_timeout_random(3, 20, 1);
        assert!(report.failure().is_none(), "unexpected failure: {report:?}");
        assert_eq!(report.schedules(), 20);
        let report = explore_dpor(|| selvedge_async_channel_timeout(2));
        assert!(report.failure().is_none(), "unexpected failure: {report:?}");
        assert!(report.complete(), "not complete: {}", report.coverage());
    }

    #[test]
    fn mutex_counter_ideal_counts() {
        assert_eq!(mutex_counter_ideal(2, 1), 2);
        assert_eq!(mutex_counter_ideal(2, 3), 20);
        assert_eq!(mutex_counter_ideal(3, 3), 1680);
    }

    #[test]
    fn mutex_counter_runs_under_dpor() {
        assert_complete(&explore_dpor(|| selvedge_mutex_counter(2, 2)), 6);
    }

    #[test]
    fn shared_fetch_add_runs_under_dpor() {
        assert_complete(&explore_dpor(|| selvedge_shared_fetch_add(1)), 2);
    }

    #[test]
    fn disjoint_atomics_run_under_dpor() {
        assert_complete(&explore_dpor(selvedge_disjoint_atomics), 1);
    }

    #[test]
    fn dpor_finds_the_lost_update() {
        let report = explore_dpor(selvedge_lost_update);
        let failure = report.failure().expect("the lost update is found");
        assert_eq!(failure.kind(), selvedge::FailureKind::Panic);
    }

    #[test]
    fn dpor_finds_the_lock_order_deadlock() {
        let report = explore_dpor(selvedge_lock_order_deadlock);
        let failure = report.failure().expect("the deadlock is found");
        assert_eq!(failure.kind(), selvedge::FailureKind::Deadlock);
    }
}
