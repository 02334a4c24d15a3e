//! Statics: a primitive in a `static` is used by every execution, on every worker thread and by
//! every test of the process at the same time, yet each execution sees its own model state and
//! its own value, from the first operation to the last. Correct programs that use statics pass
//! whatever else runs; a static whose value cannot be per execution is refused, every time.

use selvedge::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use selvedge::sync::{Arc, Condvar, LazyLock, Mutex, OnceLock, RwLock};
use selvedge::thread;
use selvedge::{explore, Config, FailureKind, Strategy};

fn dpor(workers: usize) -> Config {
    Config {
        strategy: Strategy::Dpor,
        workers: Some(workers),
        ..Config::default()
    }
}

fn assert_passes(report: &selvedge::Report) {
    if let Some(failure) = report.failure() {
        panic!("a correct program failed:\n{failure}");
    }
    assert!(report.error().is_none(), "{:?}", report.error());
    assert!(report.complete(), "{}", report.coverage());
}

static TWO_ADDS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_static_atomic_is_never_reset_in_the_middle_of_an_execution() {
    // Goal: two tasks each add one to a static; every interleaving sees 2 at the end. (The
    // reset of a static to its initial value used to happen after the first operation's
    // scheduling point, overwriting the other task's write.)
    let report = explore(dpor(1), || {
        let t = thread::spawn(|| TWO_ADDS.fetch_add(1, SeqCst));
        TWO_ADDS.fetch_add(1, SeqCst);
        t.join().unwrap();
        assert_eq!(TWO_ADDS.load(SeqCst), 2);
    });
    assert_passes(&report);
    assert_eq!(report.schedules(), 2);
}

static SIX_ADDS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn parallel_workers_do_not_share_a_static_atomic() {
    // Goal: 3 threads × 2 `fetch_add` on a static under 1, 2 and 4 workers: always correct,
    // and the same executions whatever the number of workers.
    let body = || {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                thread::spawn(|| {
                    SIX_ADDS.fetch_add(1, SeqCst);
                    SIX_ADDS.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(SIX_ADDS.load(SeqCst), 6);
    };
    let one = explore(dpor(1), body);
    assert_passes(&one);
    for workers in [2, 4] {
        for _ in 0..5 {
            let many = explore(dpor(workers), body);
            assert_passes(&many);
            assert_eq!(many.schedules(), one.schedules());
            assert_eq!(many.digest(), one.digest());
        }
    }
}

static GATE: Mutex<()> = Mutex::new(());
static GATED: AtomicUsize = AtomicUsize::new(0);

fn gated_increments() {
    let handles: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(|| {
                let _gate = GATE.lock().unwrap();
                let seen = GATED.load(SeqCst);
                GATED.store(seen + 1, SeqCst);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let _gate = GATE.lock().unwrap();
    assert_eq!(GATED.load(SeqCst), 3, "update lost under the lock");
}

#[test]
fn a_static_mutex_guarding_a_static_counter_is_correct_with_any_workers() {
    // Goal: the documented pattern (`static GATE: Mutex<()>` plus a static counter) passes
    // under 1, 2 and 4 workers.
    for workers in [1, 2, 4] {
        for _ in 0..5 {
            assert_passes(&explore(dpor(workers), gated_increments));
        }
    }
}

static SHARED_BY_TESTS: AtomicUsize = AtomicUsize::new(0);
static SHARED_GATE: Mutex<()> = Mutex::new(());

fn uses_the_shared_statics() {
    let t = thread::spawn(|| {
        let _g = SHARED_GATE.lock().unwrap();
        SHARED_BY_TESTS.fetch_add(1, SeqCst);
    });
    {
        let _g = SHARED_GATE.lock().unwrap();
        SHARED_BY_TESTS.fetch_add(1, SeqCst);
    }
    t.join().unwrap();
    assert_eq!(SHARED_BY_TESTS.load(SeqCst), 2);
}

#[test]
fn two_tests_sharing_statics_do_not_disturb_each_other_a() {
    // Goal: libtest runs this and its twin at the same time on two threads; neither sees
    // the other's executions ("update lost", a bogus "nondeterminism").
    for _ in 0..200 {
        assert_passes(&explore(dpor(1), uses_the_shared_statics));
    }
}

#[test]
fn two_tests_sharing_statics_do_not_disturb_each_other_b() {
    // Goal: the twin of the test above.
    for _ in 0..200 {
        assert_passes(&explore(dpor(2), uses_the_shared_statics));
    }
}

#[test]
fn two_explorations_on_two_threads_at_once_agree() {
    // Goal: explorations running at the same time on two OS threads get the same answer as one
    // running alone.
    let alone = explore(dpor(1), gated_increments);
    assert_passes(&alone);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                (0..50)
                    .map(|_| explore(dpor(1), gated_increments))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for run in runs {
        for report in run.join().unwrap() {
            assert_passes(&report);
            assert_eq!(report.digest(), alone.digest());
        }
    }
}

static FLAGS: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
static SLOT: AtomicPtr<u32> = AtomicPtr::new(std::ptr::null_mut());

#[test]
fn every_kind_of_static_atomic_starts_each_execution_from_its_initial_value() {
    // Goal: bools and pointers too (their values are kept per execution as bits).
    let report = explore(dpor(2), || {
        assert!(!FLAGS[0].load(SeqCst));
        assert!(SLOT.load(SeqCst).is_null());
        let t = thread::spawn(|| FLAGS[0].store(true, SeqCst));
        FLAGS[1].fetch_or(true, SeqCst);
        SLOT.store(Box::leak(Box::new(7u32)), SeqCst);
        t.join().unwrap();
        assert!(FLAGS[0].load(SeqCst) && FLAGS[1].load(SeqCst));
        // SAFETY: stored just above, never freed.
        assert_eq!(unsafe { *SLOT.load(SeqCst) }, 7);
    });
    assert_passes(&report);
}

static POISONABLE: Mutex<()> = Mutex::new(());

#[test]
fn a_static_mutex_is_poisoned_only_in_the_execution_that_poisoned_it() {
    // Goal: poisoning is model state, so it starts clear in every execution.
    let report = explore(dpor(2), || {
        assert!(!POISONABLE.is_poisoned(), "poisoned by another execution");
        let t = thread::spawn(|| {
            let _ = std::panic::catch_unwind(|| {
                let _g = POISONABLE.lock().unwrap();
                panic!("poison it");
            });
        });
        let _ = POISONABLE.lock();
        t.join().unwrap();
        assert!(POISONABLE.is_poisoned());
        assert!(POISONABLE.lock().is_err());
    });
    assert_passes(&report);
}

static ONCE_VALUE: OnceLock<usize> = OnceLock::new();
static LAZY_TABLE: LazyLock<Vec<usize>> = LazyLock::new(|| vec![1, 2, 3]);
static INITS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_static_once_lock_is_empty_at_the_start_of_every_execution() {
    // Goal: a `static` `OnceLock` is initialised once per execution, by the winner of the race,
    // and never shows another execution's value.
    for workers in [1, 2] {
        let report = explore(dpor(workers), || {
            assert!(ONCE_VALUE.get().is_none(), "a value from another execution");
            let t = thread::spawn(|| *ONCE_VALUE.get_or_init(|| 1 + INITS.fetch_add(1, SeqCst)));
            let here = *ONCE_VALUE.get_or_init(|| 1 + INITS.fetch_add(1, SeqCst));
            assert_eq!(here, t.join().unwrap());
            assert_eq!(INITS.load(SeqCst), 1);
            assert_eq!(LAZY_TABLE.iter().sum::<usize>(), 6);
        });
        assert_passes(&report);
    }
}

#[test]
fn a_once_lock_can_be_taken_and_set_again() {
    // Goal: `take` empties the cell in this execution, so it can be set again.
    let report = explore(dpor(1), || {
        let mut cell = OnceLock::new();
        assert_eq!(cell.set(1), Ok(()));
        assert_eq!(cell.set(2), Err(2));
        assert_eq!(cell.take(), Some(1));
        assert_eq!(cell.get(), None);
        assert_eq!(cell.set(3), Ok(()));
        assert_eq!(cell.get(), Some(&3));
    });
    assert_passes(&report);
}

static READY: Mutex<()> = Mutex::new(());
static READY_CV: Condvar = Condvar::new();
static RW: RwLock<()> = RwLock::new(());
static READY_FLAG: AtomicBool = AtomicBool::new(false);

#[test]
fn static_condvars_and_rwlocks_are_per_execution() {
    // Goal: a waiter left on a static condvar, or a reader on a static rwlock, in one execution
    // is not seen by another.
    for workers in [1, 2, 4] {
        let report = explore(dpor(workers), || {
            let t = thread::spawn(|| {
                let _r = RW.read().unwrap();
                let _g = READY.lock().unwrap();
                READY_FLAG.store(true, SeqCst);
                READY_CV.notify_one();
            });
            let mut g = READY.lock().unwrap();
            while !READY_FLAG.load(SeqCst) {
                g = READY_CV.wait(g).unwrap();
            }
            drop(g);
            let _w = RW.write().unwrap();
            drop(_w);
            t.join().unwrap();
        });
        assert_passes(&report);
    }
}

static REFUSED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[test]
fn a_static_mutex_holding_data_is_refused_in_every_execution_and_the_refusal_replays() {
    // Goal: the refusal does not depend on which executions ran before, so it happens in the
    // first execution already and its replay string reproduces it.
    let body = || {
        REFUSED.lock().unwrap().push(1);
    };
    let report = explore(dpor(1), body);
    let failure = report.failure().expect("the static is refused");
    assert_eq!(failure.kind(), FailureKind::Panic);
    assert_eq!(failure.schedule_number(), 1);
    assert!(
        failure.message().contains("LazyLock"),
        "the refusal gives advice: {failure}"
    );
    let replayed = explore(
        Config {
            strategy: Strategy::Replay(failure.schedule().to_string()),
            ..Config::default()
        },
        body,
    );
    let again = replayed.failure().expect("the replay fails the same way");
    assert_eq!(again.kind(), FailureKind::Panic, "{again}");
    assert_eq!(again.message(), failure.message());
}

static NAME: LazyLock<String> =
    LazyLock::new(|| "a name long enough to be on the heap".to_string());
static KEPT: std::sync::OnceLock<&'static String> = std::sync::OnceLock::new();
static RACE: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_reference_to_a_static_lazy_value_stays_valid_after_its_execution() {
    // Goal: safe code may keep the `&'static` a static `LazyLock` hands out (here in a std
    // global) and read it in later executions: the value must still be there. (It used to be
    // freed when its execution ended.)
    let report = explore(dpor(1), || {
        let kept: &'static String = KEPT.get_or_init(|| &*NAME);
        let t = thread::spawn(|| RACE.fetch_add(1, SeqCst));
        RACE.fetch_add(1, SeqCst);
        t.join().unwrap();
        assert_eq!(kept.as_str(), "a name long enough to be on the heap");
    });
    assert_passes(&report);
    assert_eq!(report.schedules(), 2);
}

static COUNT: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(10);

fn bounded_increments() {
    let bump = || {
        COUNT
            .fetch_update(SeqCst, SeqCst, |c| {
                (c < LIMIT.load(SeqCst)).then_some(c + 1)
            })
            .unwrap();
    };
    let t = thread::spawn(bump);
    bump();
    t.join().unwrap();
    assert_eq!(COUNT.load(SeqCst), 2, "an increment was lost");
}

#[test]
fn fetch_update_whose_closure_reaches_a_scheduling_point_loses_nothing() {
    // Goal: `fetch_update` is std's compare-and-swap loop even when its closure passes a
    // scheduling point (here another atomic's load), on static atomics as on heap ones, and
    // DPOR sees the write (it used to write back a stale result).
    for strategy in [Strategy::Dfs, Strategy::Dpor] {
        for workers in [1, 2] {
            let report = explore(
                Config {
                    strategy: strategy.clone(),
                    workers: Some(workers),
                    ..Config::default()
                },
                bounded_increments,
            );
            assert_passes(&report);
        }
    }
}

#[test]
fn objects_set_before_the_model_start_every_execution_with_that_value() {
    // Goal: an atomic or a `OnceLock` made and set outside the test body is seen with that
    // value by every execution, and by a replay in a fresh run, not only by the first one to
    // use it (the others used to start from the atomic's `new` value, or an empty cell).
    let run = || {
        let cell = Arc::new(OnceLock::new());
        cell.set(5).unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        flag.store(true, SeqCst);
        explore(dpor(2), move || {
            assert_eq!(cell.get(), Some(&5), "the cell lost its value");
            assert!(flag.load(SeqCst), "the flag lost its value");
            let (c, f) = (cell.clone(), flag.clone());
            let t = thread::spawn(move || {
                assert_eq!(c.get(), Some(&5));
                f.store(false, SeqCst);
            });
            let _ = flag.load(SeqCst);
            t.join().unwrap();
            assert!(!flag.load(SeqCst));
        })
    };
    let report = run();
    assert_passes(&report);
    assert!(report.schedules() > 1);
}
