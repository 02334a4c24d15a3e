//! Panics inside a model: reported with the task named, and a panic raised while unwinding
//! (a panicking `Drop`) never aborts the test process.

use selvedge::sync::atomic::{AtomicBool, Ordering};
use selvedge::sync::{Arc, Mutex};
use selvedge::{explore, Config, FailureKind, Strategy};

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop panicked too");
    }
}

fn config() -> Config {
    Config {
        strategy: Strategy::Random,
        max_schedules: Some(20),
        ..Default::default()
    }
}

#[test]
fn a_panic_in_a_spawned_thread_names_the_thread() {
    let report = explore(config(), || {
        let t = selvedge::thread::Builder::new()
            .name("worker".into())
            .spawn(|| panic!("worker gave up"))
            .unwrap();
        let _ = t.join();
    });
    let failure = report.failure().expect("the panic fails the execution");
    assert_eq!(failure.kind(), FailureKind::Panic);
    assert_eq!(failure.task(), Some("worker (task 1)"));
    assert!(failure.message().contains("worker gave up"), "{failure}");
    assert!(failure.message().contains(file!()), "{failure}");
}

#[test]
fn a_panicking_drop_during_unwinding_is_reported_and_the_process_survives() {
    for _ in 0..3 {
        let report = explore(config(), || {
            let m = Arc::new(Mutex::new(0));
            let m2 = m.clone();
            let t = selvedge::thread::spawn(move || {
                let _guard = PanicsOnDrop;
                *m2.lock().unwrap() += 1;
                panic!("first panic");
            });
            *m.lock().unwrap() += 1;
            t.join().unwrap();
        });
        let failure = report.failure().expect("the double panic is a failure");
        assert_eq!(failure.kind(), FailureKind::Panic);
        let text = failure.message();
        assert!(text.contains("panicked while already unwinding"), "{text}");
        assert!(text.contains("first panic"), "{text}");
        assert!(text.contains("drop panicked too"), "{text}");
        assert_eq!(failure.task(), Some("thread-1 (task 1)"));
        // Both panics are marked in the interleaving, where they happened.
        let shown = failure.to_string();
        let marked = shown
            .lines()
            .filter(|l| l.starts_with("  x ") && l.contains(" thread-1 (task 1)  panicked "))
            .count();
        assert_eq!(marked, 2, "{shown}");
    }
    // Exploration still works afterwards in this process.
    let report = explore(config(), || {
        let t = selvedge::thread::spawn(|| 1);
        assert_eq!(t.join().unwrap(), 1);
    });
    assert!(report.failure().is_none());
}

/// Locks its mutex when dropped.
struct LocksOnDrop(Arc<Mutex<i32>>);

impl Drop for LocksOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() += 1;
    }
}

#[test]
fn a_task_that_blocks_while_unwinding_fails_with_its_panic_marked() {
    // Goal: a task cannot wait while it unwinds, so blocking then ends the execution as a
    // panic that says where it blocked, and the interleaving marks where it panicked.
    let report = explore(config(), || {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let held = m.lock().unwrap();
        let t = selvedge::thread::spawn(move || {
            let _guard = LocksOnDrop(m2);
            panic!("first panic");
        });
        let result = t.join();
        drop(held);
        result.unwrap();
    });
    let failure = report.failure().expect("blocking while unwinding fails");
    assert_eq!(failure.kind(), FailureKind::Panic, "{failure}");
    assert!(
        failure.message().contains("and then blocked in `lock` at "),
        "{failure}"
    );
    let shown = failure.to_string();
    let marked: Vec<&str> = shown.lines().filter(|l| l.starts_with("  x ")).collect();
    assert_eq!(marked.len(), 1, "{shown}");
    assert!(
        marked[0].contains(" thread-1 (task 1)  panicked ") && marked[0].contains(file!()),
        "{shown}"
    );
    assert!(shown.contains("`x` where a task panicked"), "{shown}");
}

/// Touches a cell and notifies a condvar when dropped.
struct SignalsOnDrop(selvedge::cell::UnsafeCell<i32>, selvedge::sync::Condvar);

impl Drop for SignalsOnDrop {
    fn drop(&mut self) {
        self.0.with(|_| ());
        self.1.notify_one();
    }
}

#[test]
fn steps_run_while_unwinding_are_marked_so() {
    // Goal: what drops do after a panic is told apart from the task's own steps, both for
    // steps taken at scheduling points and for recorded events (cell accesses).
    let report = explore(config(), || {
        let _signals = SignalsOnDrop(
            selvedge::cell::UnsafeCell::new(0),
            selvedge::sync::Condvar::new(),
        );
        selvedge::thread::spawn(|| ()).join().unwrap();
        panic!("first panic");
    });
    let shown = report.failure().expect("the panic").to_string();
    for needle in [
        " join  ",
        " UnsafeCell::with (while unwinding) ",
        " notify_one (while unwinding, no waiter) ",
    ] {
        assert!(shown.contains(needle), "missing {needle:?} in\n{shown}");
    }
}

#[test]
fn a_task_that_yielded_can_still_unlock_while_unwinding() {
    // Goal: a yield only keeps the task from being chosen until another task moves; the
    // drops it runs while unwinding from a panic need no choice, so they are not blocked.
    let report = explore(config(), || {
        let m = Mutex::new(0);
        let _guard = m.lock().unwrap();
        selvedge::thread::yield_now();
        panic!("first panic");
    });
    let failure = report.failure().expect("the panic");
    assert_eq!(failure.kind(), FailureKind::Panic, "{failure}");
    assert!(!failure.message().contains("blocked"), "{failure}");
    assert!(
        failure.to_string().contains(" unlock (while unwinding) "),
        "{failure}"
    );
}

#[test]
fn catch_unwind_inside_a_model_works_and_poisons_the_mutex() {
    let report = explore(config(), || {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _guard = m2.lock().unwrap();
            panic!("inside the lock");
        }));
        assert!(caught.is_err());
        assert!(m.is_poisoned());
        assert!(m.lock().is_err(), "a poisoned lock reports it");
    });
    assert!(report.failure().is_none(), "{:?}", report.failure());
}

#[test]
fn an_endless_execution_is_a_livelock_naming_the_spinning_task() {
    let report = explore(
        Config {
            max_steps: 500,
            ..config()
        },
        || {
            let flag = Arc::new(AtomicBool::new(false));
            let f2 = flag.clone();
            let t = selvedge::thread::Builder::new()
                .name("spinner".into())
                .spawn(move || while !f2.load(Ordering::SeqCst) {})
                .unwrap();
            t.join().unwrap();
        },
    );
    let failure = report.failure().expect("the spin never ends");
    assert_eq!(failure.kind(), FailureKind::Livelock);
    let text = failure.message();
    assert!(text.contains("500 steps (`Config::max_steps`)"), "{text}");
    assert!(text.contains("spinner (task 1)"), "{text}");
}

/// A lock built from an atomic flag and `yield_now`, as lock-free code often does.
struct SpinLock(AtomicBool);

impl SpinLock {
    fn lock(&self) {
        while self
            .0
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            selvedge::thread::yield_now();
        }
    }

    fn unlock(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[test]
fn a_spin_lock_explores_completely() {
    for strategy in [Strategy::Dpor, Strategy::Dfs] {
        let report = explore(
            Config {
                strategy: strategy.clone(),
                ..Default::default()
            },
            || {
                let lock = Arc::new(SpinLock(AtomicBool::new(false)));
                let count = Arc::new(selvedge::sync::atomic::AtomicUsize::new(0));
                let handles: Vec<_> = (0..2)
                    .map(|_| {
                        let (lock, count) = (lock.clone(), count.clone());
                        selvedge::thread::spawn(move || {
                            lock.lock();
                            let seen = count.load(Ordering::SeqCst);
                            count.store(seen + 1, Ordering::SeqCst);
                            lock.unlock();
                        })
                    })
                    .collect();
                for h in handles {
                    h.join().unwrap();
                }
                assert_eq!(count.load(Ordering::SeqCst), 2);
            },
        );
        assert!(
            report.failure().is_none(),
            "{strategy:?}: {:?}",
            report.failure()
        );
        assert!(report.complete(), "{strategy:?}: {}", report.coverage());
    }
}

#[test]
fn a_spin_nobody_can_release_is_a_livelock_naming_the_spinner() {
    let report = explore(
        Config {
            strategy: Strategy::Dpor,
            ..Default::default()
        },
        || {
            let lock = Arc::new(SpinLock(AtomicBool::new(false)));
            lock.lock();
            let l2 = lock.clone();
            let t = selvedge::thread::Builder::new()
                .name("waiter".into())
                .spawn(move || l2.lock())
                .unwrap();
            t.join().unwrap(); // main never unlocks: the waiter spins forever
        },
    );
    let failure = report.failure().expect("the spin is reported");
    assert_eq!(failure.kind(), FailureKind::Livelock, "{failure}");
    let text = failure.to_string();
    assert!(text.contains("waiter (task 1), spinning at"), "{text}");
    assert!(
        text.contains("waiter (task 1) keeps spinning (next: `compare_exchange` at"),
        "{text}"
    );
    assert!(
        text.contains("no other task can make the progress it waits for"),
        "{text}"
    );
}

#[test]
fn a_few_yields_in_a_row_are_not_a_livelock() {
    let report = explore(config(), || {
        for _ in 0..10 {
            selvedge::thread::yield_now();
        }
    });
    assert!(report.failure().is_none(), "{:?}", report.failure());
}

#[test]
fn a_panic_while_unwinding_deep_in_a_parallel_search_is_the_reported_failure() {
    // Goal: the double panic ruins one worker's thread, which halts the whole exploration; the
    // failure found there is the report's failure with any number of workers, never hidden
    // behind a budget note (it used to read "`time_budget` of 0ns reached").
    let body = || {
        let order = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..3)
            .map(|id| {
                let order = order.clone();
                selvedge::thread::spawn(move || {
                    for _ in 0..3 {
                        let mut seen = order.lock().unwrap();
                        seen.push(id);
                        if seen[..] == [1, 2, 0, 1, 2, 0, 1, 2, 0] {
                            let _guard = PanicsOnDrop;
                            drop(seen);
                            panic!("the last order");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    };
    for workers in [1, 2, 4] {
        for _ in 0..10 {
            let report = explore(
                Config {
                    strategy: Strategy::Dpor,
                    workers: Some(workers),
                    ..Default::default()
                },
                body,
            );
            assert_eq!(report.budget_note(), None, "{workers} workers");
            let failure = report
                .failure()
                .unwrap_or_else(|| panic!("{workers} workers: the failure vanished"));
            assert_eq!(failure.kind(), FailureKind::Panic);
            assert!(
                failure
                    .message()
                    .contains("panicked while already unwinding"),
                "{failure}"
            );
            assert!(report.schedules() > 1, "found late in the search");
        }
    }
}
