//! Each primitive behaves as its std twin inside a model, and its misuse is found.

use std::time::Duration;

use selvedge::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering};
use selvedge::sync::mpsc;
use selvedge::sync::{Arc, Barrier, Condvar, Mutex, Once, OnceLock, RwLock};
use selvedge::{explore, Config, FailureKind, Report, Strategy};

fn dfs(f: impl Fn() + Send + Sync + 'static) -> Report {
    explore(
        Config {
            strategy: Strategy::Dfs,
            max_schedules: Some(20_000),
            ..Default::default()
        },
        f,
    )
}

fn passes_exhaustively(report: &Report) {
    assert!(report.failure().is_none(), "{:?}", report.failure());
    assert!(report.complete(), "{}", report.coverage());
}

#[test]
fn a_queued_writer_blocks_new_readers_like_std() {
    // Goal: RwLock is writer-preferring, so a reader that re-reads while a writer waits
    // deadlocks, as it can with std.
    let report = dfs(|| {
        let lock = Arc::new(RwLock::new(0));
        let l2 = lock.clone();
        let first = lock.read().unwrap();
        let writer = selvedge::thread::spawn(move || *l2.write().unwrap() += 1);
        let second = lock.read().unwrap();
        drop((first, second));
        writer.join().unwrap();
    });
    let failure = report.failure().expect("the re-read can deadlock");
    assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
    assert!(failure.to_string().contains("RwLock#1"), "{failure}");
}

#[test]
fn a_thread_that_reads_a_lock_it_already_reads_is_reported_even_with_no_writer() {
    // Goal: std does not promise a re-entrant read (it deadlocks once a writer queues between
    // the two), so selvedge reports it in every schedule, not only where a writer races.
    let report = dfs(|| {
        let lock = Arc::new(RwLock::new(0));
        let l2 = lock.clone();
        let other = selvedge::thread::spawn(move || *l2.read().unwrap());
        let first = lock.read().unwrap();
        let second = lock.read().unwrap();
        assert_eq!(*first, *second);
        drop((first, second));
        other.join().unwrap();
    });
    let failure = report.failure().expect("the re-entrant read is reported");
    assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
    let text = failure.to_string();
    assert!(
        text.contains("is blocked forever: it tried to acquire a RwLock it already holds")
            && text.contains("may deadlock or panic when the thread holds the lock already")
            && text.contains("hold one guard"),
        "{text}"
    );
}

#[test]
fn try_read_is_refused_to_a_thread_that_already_reads_and_granted_to_another() {
    let report = dfs(|| {
        let lock = Arc::new(RwLock::new(0));
        let l2 = lock.clone();
        let first = lock.read().unwrap();
        assert!(matches!(
            lock.try_read(),
            Err(std::sync::TryLockError::WouldBlock)
        ));
        let other = selvedge::thread::spawn(move || l2.try_read().is_ok());
        assert!(other.join().unwrap(), "another thread shares the read lock");
        drop(first);
        assert!(
            lock.try_read().is_ok(),
            "after the guard is dropped, a read is granted"
        );
    });
    passes_exhaustively(&report);
}

#[test]
fn rwlock_readers_share_and_writers_exclude() {
    let report = dfs(|| {
        let lock = Arc::new(RwLock::new(0));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let l = lock.clone();
                selvedge::thread::spawn(move || {
                    let v = *l.read().unwrap();
                    assert!(v == 0 || v == 10);
                })
            })
            .collect();
        {
            let mut w = lock.write().unwrap();
            *w = 5;
            *w = 10;
        }
        for r in readers {
            r.join().unwrap();
        }
        assert!(lock.try_write().is_ok());
    });
    passes_exhaustively(&report);
}

#[test]
fn try_lock_fails_while_held_and_succeeds_when_free() {
    let report = dfs(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = selvedge::thread::spawn(move || m2.try_lock().map(|mut g| *g += 1).is_ok());
        let held = m.lock().unwrap();
        drop(held);
        let got = t.join().unwrap();
        assert_eq!(*m.lock().unwrap(), if got { 1 } else { 0 });
    });
    passes_exhaustively(&report);
    assert!(report.schedules() > 1);
}

#[test]
fn condvar_handoff_with_wait_while_is_correct_in_every_interleaving() {
    let report = dfs(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let t = selvedge::thread::spawn(move || {
            *p2.0.lock().unwrap() = true;
            p2.1.notify_all();
        });
        let ready = pair.1.wait_while(pair.0.lock().unwrap(), |r| !*r).unwrap();
        assert!(*ready);
        drop(ready);
        t.join().unwrap();
    });
    passes_exhaustively(&report);
}

#[test]
fn a_notify_with_no_waiter_is_not_called_lost() {
    // Goal: a notify nobody waits for is harmless by itself; the interleaving says there was
    // no waiter and leaves "lost wakeup" to a waiter that then blocks forever.
    let report = dfs(|| {
        Condvar::new().notify_one();
        panic!("the end, to get a report");
    });
    let text = report.failure().expect("the final panic").to_string();
    assert!(text.contains(" notify_one (no waiter) "), "{text}");
    assert!(!text.contains("lost"), "{text}");
}

/// Waiters that arrived at a condvar, and the order they were woken in.
type Arrivals = (u32, Vec<u32>);

/// Which of two condvar waiters (1 arrived first, 2 second) a single `notify_one` wakes, over
/// every execution of `strategy`.
fn first_woken(strategy: Strategy) -> std::collections::BTreeSet<u32> {
    let outcomes = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let seen = outcomes.clone();
    let report = explore(
        Config {
            strategy,
            max_schedules: Some(20_000),
            // Each waiter waits once, under no condition: which one a notify wakes is the
            // question here, not whether a wait can return on its own.
            spurious_wakeups: false,
            ..Default::default()
        },
        move || {
            let state = Arc::new((Mutex::new(Arrivals::default()), Condvar::new()));
            let waiter = |id: u32| {
                let state = state.clone();
                selvedge::thread::spawn(move || {
                    let mut guard = state.0.lock().unwrap();
                    guard.0 += 1;
                    guard = state.1.wait(guard).unwrap();
                    guard.1.push(id);
                })
            };
            let wait_until = |done: &dyn Fn(&Arrivals) -> bool| loop {
                if done(&state.0.lock().unwrap()) {
                    break;
                }
                selvedge::thread::yield_now();
            };
            let first = waiter(1);
            wait_until(&|s| s.0 == 1);
            let second = waiter(2);
            wait_until(&|s| s.0 == 2);
            state.1.notify_one();
            wait_until(&|s| s.1.len() == 1);
            seen.lock().unwrap().insert(state.0.lock().unwrap().1[0]);
            state.1.notify_one();
            first.join().unwrap();
            second.join().unwrap();
        },
    );
    passes_exhaustively(&report);
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

#[test]
fn notify_one_may_wake_any_waiter_not_only_the_first_to_arrive() {
    // Goal: std promises no order among condvar waiters (its futex condvar wakes whichever
    // the kernel picks), so code that relies on first-come-first-served has a bug the model
    // must find: both waiters are explored as the one `notify_one` wakes, by DFS and DPOR.
    let both = std::collections::BTreeSet::from([1, 2]);
    assert_eq!(first_woken(Strategy::Dfs), both);
    assert_eq!(first_woken(Strategy::Dpor), both);
}

/// A waiter for a flag another thread sets and notifies: in a loop that re-checks the flag
/// (correct), or under `if` (the classic bug a spurious wakeup exposes).
fn flag_waiter(in_a_loop: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let setter = selvedge::thread::spawn(move || {
            *p2.0.lock().unwrap() = true;
            p2.1.notify_one();
        });
        let mut ready = pair.0.lock().unwrap();
        if in_a_loop {
            while !*ready {
                ready = pair.1.wait(ready).unwrap();
            }
        } else if !*ready {
            ready = pair.1.wait(ready).unwrap();
        }
        assert!(*ready, "the wait returned with the flag unset");
        drop(ready);
        setter.join().unwrap();
    }
}

#[test]
fn a_wait_under_if_is_caught_by_a_spurious_wakeup() {
    // Goal: std's `Condvar::wait` may return without a notification; a wait that does not
    // re-check its condition is a bug every strategy finds, and the report says why.
    for strategy in [
        Strategy::Dpor,
        Strategy::Dfs,
        Strategy::Random,
        Strategy::Pct { depth: 2 },
    ] {
        let report = explore(
            Config {
                strategy: strategy.clone(),
                ..Default::default()
            },
            flag_waiter(false),
        );
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy:?} missed it"));
        assert_eq!(failure.kind(), FailureKind::Panic, "{failure}");
        let text = failure.to_string();
        assert!(text.contains("woke spuriously"), "{text}");
        assert!(text.contains("Condvar::wait_while"), "{text}");
    }
}

#[test]
fn a_wait_in_a_loop_passes_every_interleaving_with_spurious_wakeups() {
    passes_exhaustively(&dfs(flag_waiter(true)));
    passes_exhaustively(&explore(Config::default(), flag_waiter(true)));
}

#[test]
fn without_spurious_wakeups_a_condvar_wakes_only_when_notified_as_in_loom() {
    let report = explore(
        Config {
            spurious_wakeups: false,
            ..Default::default()
        },
        flag_waiter(false),
    );
    passes_exhaustively(&report);
}

#[test]
fn a_timed_wait_may_wake_spuriously_before_its_deadline_without_timing_out() {
    // Goal: a spurious return from `wait_timeout` says "not timed out", as std's does, so code
    // that takes that as "notified" is caught.
    let report = dfs(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let setter = selvedge::thread::spawn(move || {
            *p2.0.lock().unwrap() = true;
            p2.1.notify_one();
        });
        let ready = pair.0.lock().unwrap();
        if !*ready {
            let (ready, result) = pair.1.wait_timeout(ready, Duration::from_secs(1)).unwrap();
            if !result.timed_out() {
                assert!(*ready, "not timed out, yet not notified");
            }
        }
        setter.join().unwrap();
    });
    let failure = report.failure().expect("the spurious return");
    assert!(
        failure
            .message()
            .contains("not timed out, yet not notified"),
        "{failure}"
    );
}

#[test]
fn a_wait_nothing_can_end_is_a_deadlock_not_a_spurious_wakeup() {
    // Goal: spurious wakeups are offered only beside a task that can run; a waiter nobody will
    // notify is reported as blocked, with no spurious step spent at the end of the trace.
    let report = dfs(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let mut ready = pair.0.lock().unwrap();
        while !*ready {
            ready = pair.1.wait(ready).unwrap();
        }
    });
    let failure = report.failure().expect("the deadlock");
    assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
    assert!(
        !failure.to_string().contains("woke spuriously"),
        "{failure}"
    );
}

/// A thread parks until another sets a flag and unparks it: in a loop that re-checks the
/// flag (correct), or once (the bug a spurious wakeup exposes).
fn parker(in_a_loop: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let parked = selvedge::thread::spawn(move || {
            if in_a_loop {
                while !f2.load(Ordering::SeqCst) {
                    selvedge::thread::park();
                }
            } else {
                selvedge::thread::park();
            }
            assert!(
                f2.load(Ordering::SeqCst),
                "park returned with the flag unset"
            );
        });
        flag.store(true, Ordering::SeqCst);
        parked.thread().unpark();
        parked.join().unwrap();
    }
}

#[test]
fn a_park_outside_a_loop_is_caught_by_a_spurious_wakeup() {
    for strategy in [Strategy::Dpor, Strategy::Dfs, Strategy::Random] {
        let report = explore(
            Config {
                strategy: strategy.clone(),
                ..Default::default()
            },
            parker(false),
        );
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy:?} missed it"));
        let text = failure.to_string();
        assert!(text.contains("park returned with the flag unset"), "{text}");
        assert!(text.contains("woke spuriously"), "{text}");
    }
    let loom_like = explore(
        Config {
            spurious_wakeups: false,
            ..Default::default()
        },
        parker(false),
    );
    passes_exhaustively(&loom_like);
}

#[test]
fn a_park_in_a_loop_passes_every_interleaving_with_spurious_wakeups() {
    passes_exhaustively(&dfs(parker(true)));
    passes_exhaustively(&explore(Config::default(), parker(true)));
}

#[test]
fn a_park_nobody_ends_is_a_deadlock_not_a_spurious_wakeup() {
    let report = dfs(|| {
        let t = selvedge::thread::spawn(selvedge::thread::park);
        t.join().unwrap();
    });
    let failure = report.failure().expect("the deadlock");
    assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
    assert!(
        !failure.to_string().contains("woke spuriously"),
        "{failure}"
    );
}

/// Outcomes `(timed_out, flag seen)` of a timed wait for a flag that another thread sets
/// (and notifies) after sleeping `notifier_sleeps`.
fn timed_wait_outcomes(notifier_sleeps: Duration) -> std::collections::BTreeSet<(bool, bool)> {
    let outcomes = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let seen = outcomes.clone();
    let report = dfs(move || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::sleep(notifier_sleeps);
            *p2.0.lock().unwrap() = true;
            p2.1.notify_one();
        });
        let guard = pair.0.lock().unwrap();
        let (guard, result) = pair
            .1
            .wait_timeout_while(guard, Duration::from_millis(10), |r| !*r)
            .unwrap();
        seen.lock().unwrap().insert((result.timed_out(), *guard));
        drop(guard);
        t.join().unwrap();
    });
    passes_exhaustively(&report);
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

#[test]
fn a_timed_wait_explores_both_the_notify_and_the_timeout_when_they_tie() {
    // Goal: a notify and a deadline at the same virtual instant race; both orders are explored.
    let outcomes = timed_wait_outcomes(Duration::from_millis(10));
    assert!(outcomes.contains(&(true, false)), "{outcomes:?}");
    assert!(outcomes.contains(&(false, true)), "{outcomes:?}");
}

#[test]
fn a_timed_wait_times_out_only_when_nothing_else_can_run() {
    // Goal: virtual time moves only when every task is blocked, so a notifier that can run
    // before the deadline always wins, and one that sleeps past it always loses.
    let outcomes = timed_wait_outcomes(Duration::ZERO);
    assert_eq!(
        outcomes.into_iter().collect::<Vec<_>>(),
        vec![(false, true)]
    );
    let outcomes = timed_wait_outcomes(Duration::from_millis(11));
    assert_eq!(
        outcomes.into_iter().collect::<Vec<_>>(),
        vec![(true, false)]
    );
}

#[test]
fn barrier_releases_everyone_with_one_leader() {
    let report = dfs(|| {
        let barrier = Arc::new(Barrier::new(3));
        let after = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (b, a) = (barrier.clone(), after.clone());
                selvedge::thread::spawn(move || {
                    let leader = b.wait().is_leader();
                    a.fetch_add(1, Ordering::SeqCst);
                    leader
                })
            })
            .collect();
        let leader_here = barrier.wait().is_leader();
        let leaders = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|l| *l)
            .count()
            + leader_here as usize;
        assert_eq!(leaders, 1);
        assert_eq!(after.load(Ordering::SeqCst), 2);
    });
    passes_exhaustively(&report);
}

#[test]
fn a_barrier_short_of_tasks_deadlocks() {
    let report = dfs(|| {
        Barrier::new(2).wait();
    });
    assert_eq!(report.failure().unwrap().kind(), FailureKind::Deadlock);
}

#[test]
fn a_call_that_waited_shows_the_step_it_returns_at() {
    // Goal: a `Barrier::wait` or rendezvous `send` that had to wait takes two steps; the
    // interleaving names both after the call, and marks the second as the one it returns at.
    let report = explore(
        Config {
            strategy: Strategy::Dpor,
            workers: Some(1),
            ..Default::default()
        },
        || {
            let barrier = Arc::new(Barrier::new(2));
            let b2 = barrier.clone();
            let (tx, rx) = mpsc::sync_channel(0);
            let t = selvedge::thread::spawn(move || {
                b2.wait();
                rx.recv().unwrap()
            });
            barrier.wait();
            tx.send(1).unwrap();
            t.join().unwrap();
            panic!("the end, to get a report");
        },
    );
    let text = report.failure().expect("the final panic").to_string();
    assert!(text.contains(" Barrier::wait (returns) "), "{text}");
    assert!(text.contains(" send (returns) "), "{text}");
}

#[test]
fn channels_deliver_in_order_and_report_disconnection() {
    let report = dfs(|| {
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        let a = selvedge::thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let b = selvedge::thread::spawn(move || tx2.send(10).unwrap());
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got.len(), 3);
        let ones: Vec<_> = got.iter().filter(|v| **v < 10).collect();
        assert_eq!(ones, [&1, &2], "one sender's messages stay in order");
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    });
    passes_exhaustively(&report);
}

#[test]
fn a_rendezvous_send_returns_only_after_the_receive() {
    let report = dfs(|| {
        let (tx, rx) = mpsc::sync_channel(0);
        let received = Arc::new(AtomicBool::new(false));
        let r2 = received.clone();
        let t = selvedge::thread::spawn(move || {
            let v = rx.recv().unwrap();
            r2.store(true, Ordering::SeqCst);
            v
        });
        tx.send(5).unwrap();
        // The receiver took the message, though it may not have set the flag yet.
        drop(tx);
        assert_eq!(t.join().unwrap(), 5);
        assert!(received.load(Ordering::SeqCst));
    });
    passes_exhaustively(&report);
}

#[test]
fn a_full_bounded_channel_with_no_receiver_deadlocks() {
    let report = dfs(|| {
        let (tx, rx) = mpsc::sync_channel(1);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        drop(rx);
    });
    let failure = report.failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(
        text.contains("is stuck in `send` at ")
            && text.contains("waiting for the receiver of channel#1 (created at "),
        "{text}"
    );
}

#[test]
fn a_receive_or_park_nobody_answers_says_what_it_waits_for() {
    // Goal: a deadlock names what each task needs: a message, an unpark.
    let report = dfs(|| {
        let (_tx, rx) = mpsc::channel::<i32>();
        let t = selvedge::thread::spawn(selvedge::thread::park);
        let _ = rx.recv();
        t.join().unwrap();
    });
    let failure = report.failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
    let text = failure.to_string();
    for needle in [
        "main (task 0) is stuck in `recv` at ",
        "waiting for a message on channel#1 (created at ",
        "thread-1 (task 1) is stuck in `park` at ",
        "waiting for an `unpark`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn recv_timeout_and_send_after_the_receiver_is_gone() {
    let report = dfs(|| {
        let (tx, rx) = mpsc::channel::<u8>();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        drop(rx);
        assert!(tx.send(1).is_err());
    });
    passes_exhaustively(&report);
}

#[test]
fn once_and_once_lock_initialise_exactly_once_per_execution() {
    static CONFIG: OnceLock<usize> = OnceLock::new();
    let report = dfs(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (o2, r2) = (once.clone(), runs.clone());
        let t = selvedge::thread::spawn(move || {
            o2.call_once(|| {
                r2.fetch_add(1, Ordering::SeqCst);
            });
            *CONFIG.get_or_init(|| 1)
        });
        once.call_once(|| {
            runs.fetch_add(1, Ordering::SeqCst);
        });
        let here = *CONFIG.get_or_init(|| 2);
        assert_eq!(t.join().unwrap(), here);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(once.is_completed());
    });
    passes_exhaustively(&report);
    assert!(
        report.schedules() > 2,
        "both initialisation orders are explored"
    );
}

selvedge::thread_local! {
    static VISITS: std::cell::Cell<u32> = std::cell::Cell::new(0);
}

#[test]
fn thread_locals_are_fresh_per_task_and_per_execution() {
    let report = dfs(|| {
        VISITS.with(|v| v.set(v.get() + 1));
        assert_eq!(VISITS.with(|v| v.get()), 1, "fresh in every execution");
        let t = selvedge::thread::spawn(|| VISITS.with(|v| v.get()));
        assert_eq!(t.join().unwrap(), 0, "fresh in every task");
    });
    passes_exhaustively(&report);
}

struct ReportsOnDrop(Arc<AtomicUsize>);

impl Drop for ReportsOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

selvedge::thread_local! {
    static GUARD: std::cell::RefCell<Option<ReportsOnDrop>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn thread_locals_are_destroyed_at_task_exit_using_primitives() {
    let report = dfs(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let d2 = drops.clone();
        let t = selvedge::thread::spawn(move || {
            GUARD.with(|g| *g.borrow_mut() = Some(ReportsOnDrop(d2)));
        });
        t.join().unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "destroyed before join returns"
        );
    });
    passes_exhaustively(&report);
}

#[test]
fn scoped_threads_borrow_and_are_joined() {
    let report = dfs(|| {
        let counter = AtomicI32::new(0);
        let mut local = vec![1, 2];
        selvedge::thread::scope(|s| {
            s.spawn(|| counter.fetch_add(1, Ordering::SeqCst));
            s.spawn(|| counter.fetch_add(2, Ordering::SeqCst));
        });
        local.push(counter.load(Ordering::SeqCst));
        assert_eq!(local, [1, 2, 3]);
    });
    passes_exhaustively(&report);
}

#[test]
fn park_waits_for_unpark_and_keeps_the_token() {
    let report = dfs(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let t = selvedge::thread::spawn(move || {
            while !f2.load(Ordering::SeqCst) {
                selvedge::thread::park();
            }
        });
        flag.store(true, Ordering::SeqCst);
        t.thread().unpark();
        t.join().unwrap();
    });
    passes_exhaustively(&report);
}

#[test]
fn thread_names_ids_and_builder() {
    let report = dfs(|| {
        let t = selvedge::thread::Builder::new()
            .name("io".into())
            .stack_size(64 * 1024)
            .spawn(|| {
                let me = selvedge::thread::current();
                (me.name().map(str::to_owned), me.id())
            })
            .unwrap();
        let main = selvedge::thread::current();
        // As loom's, the model's main thread has no name (reports still call it `main`).
        assert_eq!(main.name(), None);
        let (name, id) = t.join().unwrap();
        assert_eq!(name.as_deref(), Some("io"));
        assert_ne!(id, main.id());
        selvedge::thread::sleep(Duration::from_secs(3600));
    });
    passes_exhaustively(&report);
}

#[test]
fn atomics_cover_std_methods() {
    let report = dfs(|| {
        let n = AtomicUsize::new(5);
        assert_eq!(n.fetch_sub(1, Ordering::AcqRel), 5);
        assert_eq!(n.fetch_max(10, Ordering::SeqCst), 4);
        assert_eq!(
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v * 2)),
            Ok(10)
        );
        assert_eq!(
            n.compare_exchange_weak(20, 1, Ordering::SeqCst, Ordering::Relaxed),
            Ok(20)
        );
        assert_eq!(n.swap(7, Ordering::SeqCst), 1);
        let b = AtomicBool::new(false);
        assert!(!b.fetch_or(true, Ordering::SeqCst));
        let mut value = 3;
        let p = AtomicPtr::new(&mut value as *mut i32);
        assert_eq!(unsafe { *p.load(Ordering::SeqCst) }, 3);
        selvedge::sync::atomic::fence(Ordering::SeqCst);
        selvedge::hint::spin_loop();
        selvedge::syncpoint!("checked");
        assert_eq!(n.into_inner(), 7);
    });
    passes_exhaustively(&report);
}

/// A cell shared without synchronisation, as a buggy lock-free structure would.
struct Shared(selvedge::cell::UnsafeCell<i32>);
unsafe impl Sync for Shared {}

impl std::ops::Deref for Shared {
    type Target = selvedge::cell::UnsafeCell<i32>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[test]
fn overlapping_unsafe_cell_accesses_are_a_data_race() {
    let report = dfs(|| {
        let cell = Arc::new(Shared(selvedge::cell::UnsafeCell::new(0)));
        let c2 = cell.clone();
        let t = selvedge::thread::spawn(move || {
            c2.with_mut(|p| {
                selvedge::thread::yield_now();
                unsafe { *p += 1 }
            })
        });
        selvedge::thread::yield_now();
        cell.with(|p| unsafe { *p });
        t.join().unwrap();
    });
    let failure = report.failure().expect("the overlap is found");
    assert_eq!(failure.kind(), FailureKind::DataRace, "{failure}");
    assert!(failure.message().contains("UnsafeCell#1"), "{failure}");
}

#[test]
fn atomics_and_arc_work_outside_a_model_like_std() {
    let n = Arc::new(AtomicUsize::new(1));
    n.fetch_add(1, Ordering::SeqCst);
    assert_eq!(n.load(Ordering::SeqCst), 2);
    selvedge::thread::yield_now();
    selvedge::syncpoint!();
    static CELL: OnceLock<u8> = OnceLock::new();
    assert_eq!(*CELL.get_or_init(|| 4), 4);
}

#[test]
fn blocking_primitives_outside_a_model_say_how_to_run_them() {
    let err = std::panic::catch_unwind(|| {
        let m = Mutex::new(0);
        let _g = m.lock();
    })
    .unwrap_err();
    let text = err.downcast_ref::<String>().unwrap();
    assert!(
        text.contains("`selvedge::sync::Mutex::lock` was called outside a selvedge model"),
        "{text}"
    );
    assert!(text.contains("selvedge::model(|| ...)"), "{text}");
    let err = std::panic::catch_unwind(|| selvedge::thread::spawn(|| ())).unwrap_err();
    let text = err.downcast_ref::<String>().unwrap();
    assert!(
        text.contains("`selvedge::thread::spawn` was called outside a selvedge model"),
        "{text}"
    );
}

#[test]
fn hundreds_of_tasks_fit_in_one_execution() {
    let report = explore(
        Config {
            strategy: Strategy::Random,
            max_schedules: Some(3),
            ..Default::default()
        },
        || {
            let n = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..300)
                .map(|_| {
                    let n = n.clone();
                    selvedge::thread::spawn(move || n.fetch_add(1, Ordering::SeqCst))
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(n.load(Ordering::SeqCst), 300);
        },
    );
    assert!(report.failure().is_none(), "{:?}", report.failure());
}

#[test]
fn too_many_tasks_is_a_clear_failure() {
    let report = explore(
        Config {
            strategy: Strategy::Random,
            max_schedules: Some(1),
            max_tasks: 3,
            ..Default::default()
        },
        || {
            let hs: Vec<_> = (0..5).map(|_| selvedge::thread::spawn(|| ())).collect();
            for h in hs {
                h.join().unwrap();
            }
        },
    );
    let failure = report.failure().expect("the task limit is hit");
    assert!(
        failure.message().contains("raise `Config::max_tasks`"),
        "{failure}"
    );
}

#[test]
fn bad_config_values_are_errors_that_name_the_field() {
    for (config, needle) in [
        (
            Config {
                max_schedules: Some(0),
                ..Default::default()
            },
            "`Config::max_schedules` is 0",
        ),
        (
            Config {
                max_steps: 0,
                ..Default::default()
            },
            "`Config::max_steps` is 0",
        ),
        (
            Config {
                stack_size: 100,
                ..Default::default()
            },
            "`Config::stack_size` is 100 bytes",
        ),
        (
            Config {
                strategy: Strategy::Pct { depth: 0 },
                ..Default::default()
            },
            "`Strategy::Pct { depth: 0 }`",
        ),
        (
            Config {
                stall_report_after: Some(std::time::Duration::ZERO),
                ..Default::default()
            },
            "`Config::stall_report_after` is zero",
        ),
        (
            Config {
                stall_report_after: None,
                abort_on_stall: true,
                ..Default::default()
            },
            "`Config::abort_on_stall` is set but `Config::stall_report_after` is `None`",
        ),
    ] {
        let report = explore(config, || {});
        let error = report.error().expect("rejected");
        assert_eq!(error.kind(), selvedge::ErrorKind::BadConfig);
        assert!(error.to_string().contains(needle), "{error}");
    }
}

static HITS: AtomicUsize = AtomicUsize::new(0);
static GATE: Mutex<()> = Mutex::new(());

#[test]
fn static_atomics_start_every_execution_afresh() {
    let report = dfs(|| {
        let t = selvedge::thread::spawn(|| {
            let _g = GATE.lock().unwrap();
            HITS.fetch_add(1, Ordering::SeqCst)
        });
        {
            let _g = GATE.lock().unwrap();
            HITS.fetch_add(1, Ordering::SeqCst);
        }
        t.join().unwrap();
        assert_eq!(HITS.load(Ordering::SeqCst), 2);
    });
    passes_exhaustively(&report);
    assert!(report.schedules() > 1);
}

const TOTAL_LINE: u32 = line!() + 1;
static TOTAL: Mutex<u32> = Mutex::new(0);

#[test]
fn a_static_mutex_with_a_value_is_refused_with_advice() {
    const LOCK_LINE: u32 = line!() + 3;
    let report = dfs(|| {
        let t = selvedge::thread::spawn(|| *TOTAL.lock().unwrap() += 1);
        *TOTAL.lock().unwrap() += 1;
        t.join().unwrap();
    });
    let failure = report
        .failure()
        .expect("the first execution refuses the static's value");
    assert_eq!(failure.schedule_number(), 1);
    assert_eq!(
        failure.message(),
        format!(
            "main (task 0) panicked at {file}:{LOCK_LINE}:16:\n    \
         the Mutex created at {file}:{TOTAL_LINE}:28 holds a value shared by \
         every execution (it is a `static`, or was created outside the test body): its value is \
         not reset between executions, so each execution would start from what another left. \
         Create it inside the test body, or make the static a `selvedge::sync::LazyLock`, which \
         is fresh in every execution",
            file = file!()
        )
    );
}

selvedge::thread_local! {
    static SEEN: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[test]
fn std_conveniences_behave_as_std() {
    let report = dfs(|| {
        // try_send: full, then room once the receiver took a message.
        let (tx, rx) = mpsc::sync_channel(1);
        tx.try_send(1).unwrap();
        assert!(matches!(tx.try_send(2), Err(mpsc::TrySendError::Full(2))));
        assert_eq!(rx.recv().unwrap(), 1);
        tx.try_send(3).unwrap();
        drop(tx);
        let rest: Vec<i32> = rx.into_iter().collect();
        assert_eq!(rest, [3]);

        // A rendezvous try_send succeeds only while a receiver waits.
        let (tx, rx) = mpsc::sync_channel::<u8>(0);
        assert!(matches!(tx.try_send(1), Err(mpsc::TrySendError::Full(1))));
        drop(rx);
        assert!(matches!(
            tx.try_send(1),
            Err(mpsc::TrySendError::Disconnected(1))
        ));

        SEEN.with_borrow_mut(|v| v.push(7));
        assert_eq!(SEEN.with_borrow(|v| v.clone()), [7]);
        assert_eq!(SEEN.take(), [7]);

        let flag = AtomicBool::new(false);
        assert!(!flag.fetch_not(Ordering::SeqCst));
        assert!(flag.load(Ordering::SeqCst));

        let lock = RwLock::from(5);
        lock.clear_poison();
        assert_eq!(*lock.read().unwrap(), 5);
        assert!(!selvedge::thread::panicking());
    });
    passes_exhaustively(&report);
}

/// A message passed through a cell, published by a flag with the given orderings.
fn publish_through_cell(store: Ordering, load: Ordering) -> impl Fn() + Send + Sync + 'static {
    move || {
        let cell = Arc::new(Shared(selvedge::cell::UnsafeCell::new(0)));
        let ready = Arc::new(AtomicBool::new(false));
        let (c2, r2) = (cell.clone(), ready.clone());
        let t = selvedge::thread::spawn(move || {
            c2.with_mut(|p| unsafe { *p = 42 });
            r2.store(true, store);
        });
        if ready.load(load) {
            assert_eq!(cell.with(|p| unsafe { *p }), 42);
        }
        t.join().unwrap();
    }
}

#[test]
fn unordered_cell_accesses_are_a_data_race_whatever_the_interleaving() {
    // Goal: the race is found even though no scheduling point sits inside either access.
    for strategy in [Strategy::Dpor, Strategy::Random, Strategy::Pct { depth: 2 }] {
        let report = explore(
            Config {
                strategy: strategy.clone(),
                max_schedules: Some(1_000),
                ..Default::default()
            },
            || {
                let cell = Arc::new(Shared(selvedge::cell::UnsafeCell::new(0)));
                let c2 = cell.clone();
                let t = selvedge::thread::spawn(move || c2.with_mut(|p| unsafe { *p += 1 }));
                cell.with_mut(|p| unsafe { *p += 1 });
                t.join().unwrap();
            },
        );
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy:?} missed the race"));
        assert_eq!(failure.kind(), FailureKind::DataRace, "{failure}");
        let text = failure.message();
        assert!(
            text.starts_with(&format!("UnsafeCell#1 (created at {}:", file!())),
            "{text}"
        );
        assert!(text.contains(") is written by "), "{text}");
        assert!(text.contains("nothing orders the two accesses"), "{text}");
        assert!(
            text.matches(file!()).count() >= 2,
            "both accesses located: {text}"
        );
    }
}

#[test]
fn cell_accesses_ordered_by_a_lock_or_join_are_not_a_race() {
    let report = dfs(|| {
        let lock = Arc::new(Mutex::new(()));
        let cell = Arc::new(Shared(selvedge::cell::UnsafeCell::new(0)));
        let (l2, c2) = (lock.clone(), cell.clone());
        let t = selvedge::thread::spawn(move || {
            let _g = l2.lock().unwrap();
            c2.with_mut(|p| unsafe { *p += 1 });
        });
        {
            let _g = lock.lock().unwrap();
            cell.with_mut(|p| unsafe { *p += 1 });
        }
        t.join().unwrap();
        assert_eq!(cell.with(|p| unsafe { *p }), 2);
    });
    passes_exhaustively(&report);
}

#[test]
fn release_acquire_publishes_a_cell_and_relaxed_does_not() {
    let report = dfs(publish_through_cell(Ordering::Release, Ordering::Acquire));
    passes_exhaustively(&report);
    let report = dfs(publish_through_cell(Ordering::Relaxed, Ordering::Relaxed));
    let failure = report.failure().expect("a relaxed flag orders nothing");
    assert_eq!(failure.kind(), FailureKind::DataRace, "{failure}");
    assert!(failure
        .message()
        .contains("a `Relaxed` atomic orders nothing"));
}

#[test]
fn a_task_passing_many_syncpoints_alone_is_not_a_livelock() {
    // Goal: a syncpoint is a scheduling point, not a spin: one task passing 100 of them, with
    // another task around or not, finishes under every strategy.
    let alone = || {
        for _ in 0..100 {
            selvedge::syncpoint!("step");
        }
    };
    passes_exhaustively(&dfs(alone));
    let with_company = || {
        let t = selvedge::thread::spawn(|| {
            for _ in 0..100 {
                selvedge::syncpoint!();
            }
        });
        for _ in 0..100 {
            selvedge::syncpoint!();
        }
        t.join().unwrap();
    };
    for strategy in [
        Strategy::Dpor,
        Strategy::Random,
        Strategy::Pct { depth: 3 },
        Strategy::Pos,
    ] {
        let report = selvedge::explore(
            selvedge::Config {
                strategy,
                max_schedules: Some(50),
                ..Default::default()
            },
            with_company,
        );
        assert!(report.failure().is_none(), "{:?}", report.failure());
    }
}

#[test]
fn a_report_says_how_much_virtual_time_passed() {
    // Goal: the model clock is real: an hour of sleeps takes no real time and the report
    // shows it.
    let started = std::time::Instant::now();
    let report = explore(Config::default(), || {
        selvedge::thread::sleep(Duration::from_secs(3600));
        panic!("after an hour");
    });
    assert!(started.elapsed() < Duration::from_secs(60));
    let text = report.failure().expect("the panic is reported").to_string();
    assert!(
        text.contains(
            "virtual time at the end: 3600s (sleeps and timeouts; none of it waited for)"
        ),
        "{text}"
    );
}

/// A writer publishes `data` behind a flag with the given fences and orderings; a reader that
/// sees the flag reads `data`. Returns whether the model reports a data race.
fn fenced_publication(
    writer_fence: Option<Ordering>,
    store: Ordering,
    load: Ordering,
    reader_fence: Option<Ordering>,
) -> bool {
    let report = dfs(move || {
        let shared = Arc::new((
            Shared(selvedge::cell::UnsafeCell::new(0)),
            AtomicUsize::new(0),
        ));
        let s2 = shared.clone();
        let t = selvedge::thread::spawn(move || {
            s2.0.with_mut(|p| unsafe { *p = 42 });
            if let Some(order) = writer_fence {
                selvedge::sync::atomic::fence(order);
            }
            s2.1.store(1, store);
        });
        if shared.1.load(load) == 1 {
            if let Some(order) = reader_fence {
                selvedge::sync::atomic::fence(order);
            }
            assert_eq!(shared.0.with(|p| unsafe { *p }), 42);
        }
        t.join().unwrap();
    });
    match report.failure() {
        None => false,
        Some(f) if f.kind() == FailureKind::DataRace => true,
        Some(f) => panic!("unexpected failure: {f}"),
    }
}

#[test]
fn fences_synchronise_relaxed_accesses_by_the_cxx20_rules() {
    use Ordering::{Acquire, Relaxed, Release, SeqCst};
    // Fence to fence, fence to acquire load, release store to fence: all synchronise.
    assert!(!fenced_publication(
        Some(Release),
        Relaxed,
        Relaxed,
        Some(Acquire)
    ));
    assert!(!fenced_publication(Some(Release), Relaxed, Acquire, None));
    assert!(!fenced_publication(None, Release, Relaxed, Some(Acquire)));
    assert!(!fenced_publication(
        Some(SeqCst),
        Relaxed,
        Relaxed,
        Some(SeqCst)
    ));
    // A fence on one side only, or on the wrong side of the access, orders nothing.
    assert!(fenced_publication(Some(Release), Relaxed, Relaxed, None));
    assert!(fenced_publication(None, Relaxed, Relaxed, Some(Acquire)));
    assert!(fenced_publication(
        Some(Acquire),
        Relaxed,
        Relaxed,
        Some(Release)
    ));
}
