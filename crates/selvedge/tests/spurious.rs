//! Spurious wakeups (`Config::spurious_wakeups`) under DPOR reach every outcome and verdict DFS
//! reaches. Whether a waiter wakes spuriously or stays blocked is a choice no race records (its
//! enabledness depends on another task being able to run, and on the clock), so these
//! programs, found in review, each made DPOR miss a deadlock or an outcome before DPOR
//! branched on every candidate where a spurious wakeup is possible.

use std::collections::BTreeSet;
use std::time::Duration;

use selvedge::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use selvedge::sync::{Arc, Condvar, Mutex};
use selvedge::{explore, Config, FailureKind, Strategy};

type Seen = std::sync::Mutex<BTreeSet<Vec<usize>>>;

/// Outcomes recorded over every execution, and the failure's kind, if any.
fn run(
    strategy: Strategy,
    workers: usize,
    spurious_wakeups: bool,
    body: impl Fn(&Seen) + Send + Sync + 'static,
) -> (BTreeSet<Vec<usize>>, Option<FailureKind>) {
    let seen = std::sync::Arc::new(Seen::default());
    let s2 = seen.clone();
    let report = explore(
        Config {
            strategy,
            max_schedules: Some(200_000),
            workers: Some(workers),
            spurious_wakeups,
            ..Default::default()
        },
        move || body(&s2),
    );
    assert!(report.error().is_none(), "{:?}", report.error());
    let kind = report.failure().map(|f| f.kind());
    if kind.is_none() {
        assert!(report.complete(), "{}", report.coverage());
    }
    let set = seen.lock().unwrap().clone();
    (set, kind)
}

/// DFS and DPOR (one worker and four) reach the same outcomes and the same verdict.
fn agree(name: &str, body: impl Fn(&Seen) + Send + Sync + Clone + 'static) -> Option<FailureKind> {
    agree_with(true, name, body)
}

fn agree_with(
    spurious_wakeups: bool,
    name: &str,
    body: impl Fn(&Seen) + Send + Sync + Clone + 'static,
) -> Option<FailureKind> {
    let (dfs, dfs_kind) = run(Strategy::Dfs, 1, spurious_wakeups, body.clone());
    // One worker, and several exploring subtrees in parallel (which pass sleep sets on).
    for workers in [1, 4] {
        let (dpor, dpor_kind) = run(Strategy::Dpor, workers, spurious_wakeups, body.clone());
        assert_eq!(
            dfs_kind, dpor_kind,
            "{name}: DPOR's verdict with {workers} workers differs from DFS's"
        );
        if dfs_kind.is_none() {
            assert_eq!(
                dfs, dpor,
                "{name}: DPOR's outcomes with {workers} workers differ from DFS's"
            );
        }
    }
    dfs_kind
}

/// A thread that does one unrelated step: something else that can run.
fn bystander() -> selvedge::thread::JoinHandle<()> {
    selvedge::thread::spawn(|| {
        let x = AtomicUsize::new(0);
        x.store(1, SeqCst);
    })
}

#[test]
fn a_lost_wakeup_next_to_a_running_thread_is_found_by_dpor() {
    for with_bystander in [false, true] {
        let kind = agree("lost wakeup", move |_| {
            let flag = Arc::new(AtomicBool::new(false));
            let st = Arc::new((Mutex::new(()), Condvar::new()));
            let (f2, st2) = (flag.clone(), st.clone());
            let t = selvedge::thread::spawn(move || {
                f2.store(true, SeqCst);
                let _g = st2.0.lock().unwrap();
                st2.1.notify_one();
            });
            let bg = with_bystander.then(bystander);
            // Bug: the flag is checked outside the lock, so the notify can come between.
            if !flag.load(SeqCst) {
                let g = st.0.lock().unwrap();
                drop(st.1.wait(g).unwrap());
            }
            t.join().unwrap();
            if let Some(bg) = bg {
                bg.join().unwrap();
            }
        });
        assert_eq!(
            kind,
            Some(FailureKind::Deadlock),
            "bystander: {with_bystander}"
        );
    }
}

#[test]
fn waits_nothing_ends_are_deadlocks_under_dpor_too() {
    let condvar = agree("condvar wait, no notifier", |_| {
        let t = bystander();
        let m = Mutex::new(());
        let cv = Condvar::new();
        drop(cv.wait(m.lock().unwrap()).unwrap());
        t.join().unwrap();
    });
    assert_eq!(condvar, Some(FailureKind::Deadlock));
    let park = agree("park, no unpark", |_| {
        let t = bystander();
        selvedge::thread::park();
        t.join().unwrap();
    });
    assert_eq!(park, Some(FailureKind::Deadlock));
    let future = agree("a future pending without keeping its waker", |_| {
        let t = bystander();
        let mut first = true;
        selvedge::future::block_on(std::future::poll_fn(move |_| {
            if std::mem::take(&mut first) {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        }));
        t.join().unwrap();
    });
    assert_eq!(future, Some(FailureKind::Deadlock));
}

#[test]
fn a_timed_wait_may_return_early_or_time_out_under_dpor() {
    agree("timed wait, no notifier", |seen| {
        let w = selvedge::thread::spawn(|| {
            let m = Mutex::new(());
            let cv = Condvar::new();
            let (_g, r) = cv
                .wait_timeout(m.lock().unwrap(), Duration::from_millis(5))
                .unwrap();
            r.timed_out() as usize
        });
        let x = AtomicUsize::new(0);
        x.store(1, SeqCst);
        seen.lock().unwrap().insert(vec![w.join().unwrap()]);
    });
    agree("timed wait, the notify after the deadline", |seen| {
        let st = Arc::new((Mutex::new(()), Condvar::new()));
        let (st2, st3) = (st.clone(), st.clone());
        let w = selvedge::thread::spawn(move || {
            let (_g, r) = st2
                .1
                .wait_timeout(st2.0.lock().unwrap(), Duration::from_millis(5))
                .unwrap();
            r.timed_out() as usize
        });
        let z = selvedge::thread::spawn(move || {
            let x = AtomicUsize::new(0);
            x.store(1, SeqCst);
            selvedge::thread::sleep(Duration::from_millis(10));
            let _g = st3.0.lock().unwrap();
            st3.1.notify_one();
        });
        let a = w.join().unwrap();
        z.join().unwrap();
        seen.lock().unwrap().insert(vec![a]);
    });
    let bug = agree("not timed out taken for notified", |_| {
        let w = selvedge::thread::spawn(|| {
            let st = (Mutex::new(false), Condvar::new());
            let (g, r) =
                st.1.wait_timeout(st.0.lock().unwrap(), Duration::from_millis(5))
                    .unwrap();
            if !r.timed_out() {
                assert!(*g, "returned before the deadline without the flag");
            }
        });
        let x = AtomicUsize::new(0);
        x.store(1, SeqCst);
        w.join().unwrap();
    });
    assert_eq!(bug, Some(FailureKind::Panic));
}

#[test]
fn parks_and_unparks_from_two_threads_agree() {
    // Without spurious wakeups too: a `park_timeout` was ordered after every earlier unpark,
    // so DPOR never tried it before the one whose token it took, and missed `[1, 11]`.
    for spurious_wakeups in [true, false] {
        agree_with(
            spurious_wakeups,
            "park twice, unparks from two threads",
            park_twice,
        );
    }
}

fn park_twice(seen: &Seen) {
    {
        let x = Arc::new(AtomicUsize::new(0));
        let x2 = x.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::park();
            let a = x2.load(SeqCst);
            selvedge::thread::park_timeout(Duration::from_millis(1));
            vec![a, x2.load(SeqCst)]
        });
        let (th, x3) = (t.thread().clone(), x.clone());
        let th2 = th.clone();
        let u = selvedge::thread::spawn(move || {
            x3.fetch_add(1, SeqCst);
            th2.unpark();
        });
        x.fetch_add(10, SeqCst);
        th.unpark();
        u.join().unwrap();
        seen.lock().unwrap().insert(t.join().unwrap());
    }
}

/// Two producers and two consumers of a one-slot buffer, each waiting in a loop.
fn bounded_buffer() {
    let state = Arc::new((Mutex::new(None::<usize>), Condvar::new()));
    let mut handles = Vec::new();
    for i in 0..2 {
        let s = state.clone();
        handles.push(selvedge::thread::spawn(move || {
            let (slot, cv) = &*s;
            let mut g = slot.lock().unwrap();
            while g.is_some() {
                g = cv.wait(g).unwrap();
            }
            *g = Some(i);
            cv.notify_all();
        }));
        let s = state.clone();
        handles.push(selvedge::thread::spawn(move || {
            let (slot, cv) = &*s;
            let mut g = slot.lock().unwrap();
            while g.is_none() {
                g = cv.wait(g).unwrap();
            }
            *g = None;
            cv.notify_all();
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_search_cut_short_says_what_spurious_wakeups_cost_and_how_to_turn_them_off() {
    let cut_short = |spurious_wakeups| {
        explore(
            Config {
                max_schedules: Some(50),
                spurious_wakeups,
                ..Default::default()
            },
            bounded_buffer,
        )
    };
    let with = cut_short(true);
    assert!(with.failure().is_none(), "{:?}", with.failure());
    let note = with
        .budget_note()
        .expect("50 schedules do not finish the search");
    assert!(
        note.contains("took a spurious wakeup") && note.contains("`spurious_wakeups: false`"),
        "{note}"
    );
    let without = cut_short(false);
    let note = without
        .budget_note()
        .expect("nor do they without spurious wakeups");
    assert!(!note.contains("spurious"), "{note}");
}
