//! DPOR reaches what DFS reaches around yields: a yield parks its task until another task
//! makes progress, so where it falls among the other tasks' steps decides what can happen
//! next. 31 small programs (spin-waits, `try_lock` after a yield, a clock that moves while a
//! task is parked, condvar and channel timeouts, aborts of spinning tasks, attempts in one
//! task against another's), each compared unbounded and with at most 1 and 2 preemptions.
//! Before yields raced with progress steps, DPOR missed outcomes in 13 of them and a panic in
//! one (BENCHMARKS.md, "Yields in DPOR").
use selvedge::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use selvedge::sync::{Arc, Condvar, Mutex, RwLock};
use selvedge::{explore, Config, Strategy as Search};
use std::collections::BTreeSet;
use std::time::Duration;

type Seen = std::sync::Mutex<BTreeSet<Vec<usize>>>;

#[derive(Debug)]
struct Res {
    set: BTreeSet<Vec<usize>>,
    fail: Option<String>,
    complete: bool,
    schedules: u64,
}

fn run(
    strategy: Search,
    bound: Option<usize>,
    body: impl Fn(&Seen) + Send + Sync + 'static,
) -> Res {
    let seen = std::sync::Arc::new(Seen::default());
    let s2 = seen.clone();
    let report = explore(
        Config {
            strategy,
            max_schedules: Some(300_000),
            max_preemptions: bound,
            ..Default::default()
        },
        move || body(&s2),
    );
    let set = seen.lock().unwrap().clone();
    Res {
        set,
        fail: report.failure().map(|f| format!("{:?}", f.kind())),
        complete: report.complete(),
        schedules: report.schedules(),
    }
}

static MISMATCHES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn cmp(name: &str, body: impl Fn(&Seen) + Send + Sync + Clone + 'static) {
    for bound in [None, Some(1), Some(2)] {
        let dfs = run(Search::Dfs, bound, body.clone());
        let dpor = run(Search::Dpor, bound, body.clone());
        let same = if dfs.fail.is_some() || dpor.fail.is_some() {
            dfs.fail == dpor.fail
        } else {
            dfs.set == dpor.set && (bound.is_some() || (dfs.complete && dpor.complete))
        };
        let line = format!(
            "{name} bound={bound:?}: dfs={:?} fail={:?} n={} complete={} | dpor={:?} fail={:?} n={} complete={}",
            dfs.set, dfs.fail, dfs.schedules, dfs.complete, dpor.set, dpor.fail, dpor.schedules, dpor.complete
        );
        eprintln!("{} {line}", if same { "ok  " } else { "MISM" });
        if !same {
            MISMATCHES.lock().unwrap().push(line);
        }
    }
}

fn rec(seen: &Seen, v: Vec<usize>) {
    seen.lock().unwrap().insert(v);
}

#[test]
fn dpor_reaches_what_dfs_reaches_around_yields_spins_and_timeouts() {
    // 1. spin on a flag (bounded spin), message passing
    cmp("spin flag bounded", |seen| {
        let (d, f) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (d1, f1) = (d.clone(), f.clone());
        let t = selvedge::thread::spawn(move || {
            d1.store(1, SeqCst);
            f1.store(true, SeqCst);
        });
        let mut spins = 0;
        while !f.load(SeqCst) && spins < 2 {
            selvedge::thread::yield_now();
            spins += 1;
        }
        let v = d.load(SeqCst);
        t.join().unwrap();
        rec(seen, vec![v, spins]);
    });
    // 2. thread yield then try_lock against main lock
    cmp("thread yield then try_lock", |seen| {
        let m = Arc::new(Mutex::new(0usize));
        let m1 = m.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            m1.try_lock().map(|g| *g).unwrap_or(9)
        });
        *m.lock().unwrap() += 1;
        let a = m.try_lock().map(|g| *g).unwrap_or(9);
        rec(seen, vec![t.join().unwrap(), a]);
    });
    // 3. spin_loop hint then load vs two stores
    cmp("spin_loop then loads", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let x1 = x.clone();
        let x2 = x.clone();
        let t = selvedge::thread::spawn(move || {
            let a = x1.load(SeqCst);
            selvedge::hint::spin_loop();
            let b = x1.load(SeqCst);
            vec![a, b]
        });
        let u = selvedge::thread::spawn(move || {
            x2.store(1, SeqCst);
            x2.store(2, SeqCst);
        });
        let mut v = t.join().unwrap();
        u.join().unwrap();
        v.push(x.load(SeqCst));
        rec(seen, v);
    });
    // 4. two yielders and a storer
    cmp("two yielders one storer", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let (x1, x2, x3) = (x.clone(), x.clone(), x.clone());
        let a = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            x1.load(SeqCst)
        });
        let b = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            x2.load(SeqCst)
        });
        x3.store(1, SeqCst);
        x3.store(2, SeqCst);
        rec(seen, vec![a.join().unwrap(), b.join().unwrap()]);
    });
    // 5. yield and the virtual clock with thread sleep
    cmp("yield vs thread sleep", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let x1 = x.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::sleep(Duration::from_secs(1));
            x1.store(1, SeqCst);
        });
        selvedge::thread::yield_now();
        let a = x.load(SeqCst);
        selvedge::thread::yield_now();
        let b = x.load(SeqCst);
        t.join().unwrap();
        rec(seen, vec![a, b]);
    });
    // 6. condvar wait_timeout with a yielding notifier
    cmp("condvar wait_timeout + yield", |seen| {
        let p = Arc::new((Mutex::new(false), Condvar::new()));
        let p1 = p.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            *p1.0.lock().unwrap() = true;
            p1.1.notify_one();
        });
        let g = p.0.lock().unwrap();
        let (g, to) = p.1.wait_timeout(g, Duration::from_secs(1)).unwrap();
        let v = vec![*g as usize, to.timed_out() as usize];
        drop(g);
        t.join().unwrap();
        rec(seen, v);
    });
    // 7. recv_timeout with a yielding sender
    cmp("recv_timeout + yield", |seen| {
        let (tx, rx) = selvedge::sync::mpsc::channel::<usize>();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            tx.send(1).unwrap();
            selvedge::thread::yield_now();
            tx.send(2).unwrap();
        });
        let a = rx.recv_timeout(Duration::from_secs(1)).unwrap_or(9);
        let b = rx.recv_timeout(Duration::from_secs(1)).unwrap_or(9);
        t.join().unwrap();
        rec(seen, vec![a, b]);
    });
    // 8. async yield loop, aborted
    cmp("async abort of yielding task", |seen| {
        use selvedge::future::{block_on, spawn, yield_now};
        let x = Arc::new(AtomicUsize::new(0));
        let x1 = x.clone();
        let h = spawn(async move {
            x1.fetch_add(1, SeqCst);
            yield_now().await;
            x1.fetch_add(1, SeqCst);
            yield_now().await;
            x1.fetch_add(1, SeqCst);
        });
        block_on(yield_now());
        h.abort();
        let r = block_on(h).is_ok() as usize;
        rec(seen, vec![x.load(SeqCst), r]);
    });
    // 9. async: yield vs sleep vs a store
    cmp("async yield sleep store", |seen| {
        use selvedge::future::{block_on, spawn, yield_now};
        let x = Arc::new(AtomicUsize::new(0));
        let (x1, x2) = (x.clone(), x.clone());
        let a = spawn(async move {
            yield_now().await;
            let v = x1.load(SeqCst);
            yield_now().await;
            vec![v, x1.load(SeqCst)]
        });
        let b = spawn(async move {
            selvedge::time::sleep(Duration::from_millis(5)).await;
            x2.store(1, SeqCst);
        });
        let mut v = block_on(a).unwrap();
        block_on(b).unwrap();
        v.push(x.load(SeqCst));
        rec(seen, v);
    });
    // 10. try_write/try_read/try_write in one thread vs try_read + try_write in another
    cmp("rwlock attempts", |seen| {
        let l = Arc::new(RwLock::new(0usize));
        let l1 = l.clone();
        let t = selvedge::thread::spawn(move || {
            let r = l1.try_read().map(|g| *g).unwrap_or(9);
            let w = l1.try_write().map(|mut g| {
                *g += 1;
                *g
            });
            vec![r, w.unwrap_or(9)]
        });
        let a = l.try_write().map(|mut g| {
            *g += 10;
            *g
        });
        let b = l.try_read().map(|g| *g).unwrap_or(9);
        let mut v = t.join().unwrap();
        v.push(a.unwrap_or(9));
        v.push(b);
        rec(seen, v);
    });
    // 11. try_lock twice in one thread with yield between, against lock + try_lock
    cmp("try_lock yield try_lock", |seen| {
        let m = Arc::new(Mutex::new(0usize));
        let m1 = m.clone();
        let t = selvedge::thread::spawn(move || {
            let a = m1.try_lock().map(|g| *g).unwrap_or(9);
            selvedge::thread::yield_now();
            let b = m1.try_lock().map(|g| *g).unwrap_or(9);
            vec![a, b]
        });
        {
            let mut g = m.lock().unwrap();
            *g += 1;
        }
        let mut v = t.join().unwrap();
        v.push(*m.lock().unwrap());
        rec(seen, v);
    });
    // 12. spin until flag, with a lock-holding setter (unbounded spin, may livelock?)
    cmp("spin until flag set under lock", |seen| {
        let m = Arc::new(Mutex::new(0usize));
        let f = Arc::new(AtomicBool::new(false));
        let (m1, f1) = (m.clone(), f.clone());
        let t = selvedge::thread::spawn(move || {
            while !f1.load(SeqCst) {
                selvedge::hint::spin_loop();
            }
            m1.try_lock().map(|g| *g).unwrap_or(9)
        });
        let mut g = m.lock().unwrap();
        *g = 1;
        f.store(true, SeqCst);
        drop(g);
        rec(seen, vec![t.join().unwrap()]);
    });
    // 13. two threads each yield then CAS
    cmp("yield then cas", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (1..3)
            .map(|i| {
                let x = x.clone();
                selvedge::thread::spawn(move || {
                    selvedge::thread::yield_now();
                    x.compare_exchange(0, i, SeqCst, SeqCst).is_ok() as usize
                })
            })
            .collect();
        let m = x.load(SeqCst);
        let mut v: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        v.push(m);
        rec(seen, v);
    });
    // 14. semaphore: forget_permits, try_acquire, available_permits
    cmp("semaphore attempts + yield", |seen| {
        use selvedge::future::{block_on, spawn, yield_now};
        let sem = std::sync::Arc::new(selvedge::tokio::sync::Semaphore::new(2));
        let (s1, s2) = (sem.clone(), sem.clone());
        let a = spawn(async move {
            let f = s1.forget_permits(1);
            yield_now().await;
            let p = s1.available_permits();
            vec![f, p]
        });
        let b = spawn(async move {
            let ok = s2.try_acquire().map(|p| p.forget()).is_ok() as usize;
            vec![ok, s2.available_permits()]
        });
        let mut out = block_on(a).unwrap();
        out.extend(block_on(b).unwrap());
        rec(seen, out);
    });
    // 15. read attempt then write attempt in one thread (try_read then try_write), other reads
    cmp("try_read then try_write vs try_read", |seen| {
        let l = Arc::new(RwLock::new(0usize));
        let l1 = l.clone();
        let t = selvedge::thread::spawn(move || {
            let g = l1.try_read().is_ok() as usize;
            let w = l1.try_write().is_ok() as usize;
            let g2 = l1.try_read().is_ok() as usize;
            vec![g, w, g2]
        });
        let o = l.try_write().is_ok() as usize;
        let mut v = t.join().unwrap();
        v.push(o);
        rec(seen, v);
    });
    // 16. spinner on one thread; is_finished of another (Access::Everything)
    cmp("yield vs is_finished", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let x1 = x.clone();
        let t = selvedge::thread::spawn(move || {
            x1.store(1, SeqCst);
        });
        selvedge::thread::yield_now();
        let f = t.is_finished() as usize;
        let v = x.load(SeqCst);
        t.join().unwrap();
        rec(seen, vec![f, v]);
    });
    // 17. three threads: spinner waits for A, another sets A after its own yield
    cmp("chain spin", |seen| {
        let a = Arc::new(AtomicUsize::new(0));
        let b = Arc::new(AtomicUsize::new(0));
        let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
        let t1 = selvedge::thread::spawn(move || {
            let mut n = 0;
            while a1.load(SeqCst) == 0 && n < 3 {
                selvedge::thread::yield_now();
                n += 1;
            }
            b1.load(SeqCst)
        });
        let t2 = selvedge::thread::spawn(move || {
            b2.store(1, SeqCst);
            selvedge::thread::yield_now();
            a2.store(1, SeqCst);
        });
        let r = t1.join().unwrap();
        t2.join().unwrap();
        rec(seen, vec![r]);
    });
    // 18. spin with unbounded loop and a panic when a value seen
    cmp("unbounded spin both", |seen| {
        let a = Arc::new(AtomicUsize::new(0));
        let (a1, a2) = (a.clone(), a.clone());
        let t1 = selvedge::thread::spawn(move || {
            while a1.load(SeqCst) == 0 {
                selvedge::thread::yield_now();
            }
            a1.fetch_add(10, SeqCst)
        });
        let t2 = selvedge::thread::spawn(move || {
            a2.fetch_add(1, SeqCst);
        });
        let r = t1.join().unwrap();
        t2.join().unwrap();
        rec(seen, vec![r, a.load(SeqCst)]);
    });
    // 19. async tasks: spin with future::yield_now on flag; main aborts after one yield
    cmp("async spin abort", |seen| {
        use selvedge::future::{block_on, spawn, yield_now};
        let f = Arc::new(AtomicBool::new(false));
        let n = Arc::new(AtomicUsize::new(0));
        let (f1, n1) = (f.clone(), n.clone());
        let h = spawn(async move {
            while !f1.load(SeqCst) {
                n1.fetch_add(1, SeqCst);
                yield_now().await;
            }
        });
        block_on(yield_now());
        f.store(true, SeqCst);
        h.abort();
        let r = block_on(h).is_ok() as usize;
        rec(seen, vec![n.load(SeqCst), r]);
    });
    // 20. yield in main, two try_locks from spawned threads
    cmp("main yield, two try_lockers", |seen| {
        let m = Arc::new(Mutex::new(0usize));
        let hs: Vec<_> = (1..3)
            .map(|i| {
                let m = m.clone();
                selvedge::thread::spawn(move || {
                    let g = m.try_lock();
                    let ok = g.is_ok() as usize;
                    if let Ok(mut g) = g {
                        *g = i;
                    }
                    ok
                })
            })
            .collect();
        selvedge::thread::yield_now();
        let v0 = m.try_lock().map(|g| *g).unwrap_or(9);
        let mut v: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        v.push(v0);
        rec(seen, v);
    });

    // 21. which progress step releases a yielder
    cmp("release by which store", |seen| {
        let (x, y) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (x1, y1, x2, y3) = (x.clone(), y.clone(), x.clone(), y.clone());
        let t1 = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            vec![y1.load(SeqCst), x1.load(SeqCst)]
        });
        let t2 = selvedge::thread::spawn(move || y3.store(1, SeqCst));
        let t3 = selvedge::thread::spawn(move || x2.store(1, SeqCst));
        let v = t1.join().unwrap();
        t2.join().unwrap();
        t3.join().unwrap();
        rec(seen, v);
    });
    // 22. parked task's store vs another's loads (observe-only steps do not release)
    cmp("parked store vs loads", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let (x1, x2) = (x.clone(), x.clone());
        let t2 = selvedge::thread::spawn(move || vec![x2.load(SeqCst), x2.load(SeqCst)]);
        let t1 = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            x1.store(1, SeqCst);
        });
        let v = t2.join().unwrap();
        t1.join().unwrap();
        rec(seen, v);
    });
    // 23. conditional livelock
    cmp("conditional livelock", |_seen| {
        let (x, f) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (x1, f1) = (x.clone(), f.clone());
        let t1 = selvedge::thread::spawn(move || {
            while !f1.load(SeqCst) {
                selvedge::thread::yield_now();
            }
        });
        let t2 = selvedge::thread::spawn(move || x1.store(1, SeqCst));
        if x.load(SeqCst) == 1 {
            f.store(true, SeqCst);
        }
        t2.join().unwrap();
        if !f.load(SeqCst) {
            f.store(true, SeqCst);
        }
        t1.join().unwrap();
    });
    // 24. two spinners each waiting on the other's flag after a store, with loads only between
    cmp("two spinners handshake", |seen| {
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
        let t1 = selvedge::thread::spawn(move || {
            a1.store(1, SeqCst);
            let mut n = 0;
            while b1.load(SeqCst) == 0 && n < 2 {
                selvedge::thread::yield_now();
                n += 1;
            }
            n
        });
        let t2 = selvedge::thread::spawn(move || {
            let mut n = 0;
            while a2.load(SeqCst) == 0 && n < 2 {
                selvedge::hint::spin_loop();
                n += 1;
            }
            b2.store(1, SeqCst);
            n
        });
        rec(seen, vec![t1.join().unwrap(), t2.join().unwrap()]);
    });
    // 25. yield, then a failed try_lock is not progress? try_lock attempts vs yield
    cmp("try_lock fail vs yield", |seen| {
        let m = Arc::new(Mutex::new(0usize));
        let x = Arc::new(AtomicUsize::new(0));
        let (m1, x1, x2) = (m.clone(), x.clone(), x.clone());
        let t1 = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            x1.load(SeqCst)
        });
        let t2 = selvedge::thread::spawn(move || {
            let ok = m1.try_lock().is_ok() as usize;
            x2.store(1, SeqCst);
            ok
        });
        let g = m.lock().unwrap();
        drop(g);
        rec(seen, vec![t1.join().unwrap(), t2.join().unwrap()]);
    });
    // 26. async: two tasks yield, main stores in between
    cmp("async two yielders", |seen| {
        use selvedge::future::{block_on, spawn, yield_now};
        let x = Arc::new(AtomicUsize::new(0));
        let (x1, x2) = (x.clone(), x.clone());
        let a = spawn(async move {
            yield_now().await;
            x1.load(SeqCst)
        });
        let b = spawn(async move {
            let v = x2.load(SeqCst);
            yield_now().await;
            vec![v, x2.load(SeqCst)]
        });
        x.store(1, SeqCst);
        let mut v = block_on(b).unwrap();
        v.push(block_on(a).unwrap());
        rec(seen, v);
    });
    // 27. yield vs park/unpark
    cmp("yield vs unpark", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let x1 = x.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::thread::park_timeout(Duration::from_secs(1));
            x1.load(SeqCst)
        });
        selvedge::thread::yield_now();
        x.store(1, SeqCst);
        t.thread().unpark();
        rec(seen, vec![t.join().unwrap()]);
    });
    // 28. yield where the only release is the clock (all else sleeping)
    cmp("yield released only by clock", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let (x1, x2) = (x.clone(), x.clone());
        let a = selvedge::thread::spawn(move || {
            selvedge::thread::sleep(Duration::from_millis(1));
            x1.store(1, SeqCst);
            selvedge::thread::sleep(Duration::from_millis(1));
            x1.store(2, SeqCst);
        });
        let b = selvedge::thread::spawn(move || {
            selvedge::thread::yield_now();
            let p = x2.load(SeqCst);
            selvedge::thread::yield_now();
            vec![p, x2.load(SeqCst)]
        });
        a.join().unwrap();
        rec(seen, b.join().unwrap());
    });

    // 29. livelock only in some orders
    cmp("livelock verdict", |_seen| {
        let (x, f) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (x1, f1) = (x.clone(), f.clone());
        let t1 = selvedge::thread::spawn(move || {
            while !f1.load(SeqCst) {
                selvedge::thread::yield_now();
            }
        });
        let t2 = selvedge::thread::spawn(move || x1.store(1, SeqCst));
        if x.load(SeqCst) == 1 {
            f.store(true, SeqCst);
        }
        t2.join().unwrap();
        t1.join().unwrap();
    });
    // 30. panic only when a yield is released by the lock (not the unlock)
    cmp("panic verdict via yield", |_seen| {
        let m = Arc::new(Mutex::new(0usize));
        let m1 = m.clone();
        let t = selvedge::thread::spawn(move || {
            selvedge::hint::spin_loop();
            assert!(m1.try_lock().is_ok());
        });
        drop(m.lock().unwrap());
        t.join().unwrap();
    });
    // 31. three spinners perf
    cmp("three spinners counter", |seen| {
        let x = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let x = x.clone();
                selvedge::thread::spawn(move || {
                    let mut n = 0;
                    while x.load(SeqCst) != i && n < 3 {
                        selvedge::thread::yield_now();
                        n += 1;
                    }
                    x.fetch_add(1, SeqCst);
                })
            })
            .collect();
        let mut n = 0;
        while x.load(SeqCst) < 2 && n < 3 {
            selvedge::hint::spin_loop();
            n += 1;
        }
        for h in hs {
            h.join().unwrap();
        }
        rec(seen, vec![n, x.load(SeqCst)]);
    });
    let m = MISMATCHES.lock().unwrap();
    assert!(m.is_empty(), "mismatches:\n{}", m.join("\n"));
}
