//! DPOR explores one execution per Mazurkiewicz trace: exact counts, asserted (they are
//! deterministic), against the ideal for each program.

mod common;

use common::mutex_counter;
use selvedge::sync::atomic::{AtomicUsize, Ordering};
use selvedge::sync::Arc;
use selvedge::{explore, Config, Report, Strategy};

fn dpor(f: impl Fn() + Send + Sync + 'static) -> Report {
    let report = explore(
        Config {
            strategy: Strategy::Dpor,
            ..Default::default()
        },
        f,
    );
    assert!(report.failure().is_none(), "{:?}", report.failure());
    assert!(report.complete(), "{}", report.coverage());
    report
}

fn factorial(n: u64) -> u64 {
    (1..=n).product()
}

/// Distinct lock-acquisition orders: (T*K)! / (K!)^T.
fn ideal(threads: u64, increments: u64) -> u64 {
    factorial(threads * increments) / factorial(increments).pow(threads as u32)
}

#[test]
fn mutex_counters_explore_the_ideal_number_of_executions() {
    for (t, k) in [(2, 1), (2, 2), (2, 3), (3, 1), (3, 2), (3, 3)] {
        let report = dpor(mutex_counter(t, k));
        let ideal = ideal(t as u64, k as u64);
        println!(
            "mutex {t}x{k}: {} executions, ideal {ideal}",
            report.schedules()
        );
        assert_eq!(report.schedules(), ideal, "{t}x{k}");
        assert_eq!(report.redundant_schedules(), 0, "{t}x{k}");
        assert!(report.complete());
    }
}

fn shared_fetch_add(n: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let x = Arc::new(AtomicUsize::new(0));
        let x2 = x.clone();
        let t = selvedge::thread::spawn(move || {
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
}

#[test]
fn shared_fetch_adds_explore_the_ideal_number_of_executions() {
    for (n, ideal) in [(1, 2), (3, 20), (5, 252)] {
        let report = dpor(shared_fetch_add(n));
        println!(
            "fetch_add n={n}: {} executions, ideal {ideal}",
            report.schedules()
        );
        assert_eq!(report.schedules(), ideal, "n={n}");
        assert_eq!(report.redundant_schedules(), 0, "n={n}");
        assert!(report.complete());
    }
}

#[test]
fn disjoint_atomics_need_one_execution() {
    let report = dpor(|| {
        let a = Arc::new(AtomicUsize::new(0));
        let b = Arc::new(AtomicUsize::new(0));
        let b2 = b.clone();
        let t = selvedge::thread::spawn(move || b2.fetch_add(1, Ordering::SeqCst));
        a.fetch_add(1, Ordering::SeqCst);
        t.join().unwrap();
    });
    assert_eq!(report.schedules(), 1);
}

fn with_workers(workers: usize, f: impl Fn() + Send + Sync + 'static) -> Report {
    explore(
        Config {
            strategy: Strategy::Dpor,
            workers: Some(workers),
            keep_schedules: true,
            ..Default::default()
        },
        f,
    )
}

#[test]
fn any_number_of_workers_explores_the_same_executions_in_the_same_order() {
    for (t, k) in [(2, 2), (3, 2), (3, 3)] {
        let one = with_workers(1, mutex_counter(t, k));
        for workers in [2, 3, 8] {
            let many = with_workers(workers, mutex_counter(t, k));
            assert_eq!(
                many.schedules(),
                one.schedules(),
                "{t}x{k}, {workers} workers"
            );
            assert_eq!(
                many.explored(),
                one.explored(),
                "{t}x{k}, {workers} workers"
            );
            assert_eq!(many.digest(), one.digest());
            assert!(many.complete());
        }
    }
}

#[test]
fn any_number_of_workers_finds_the_same_first_failure() {
    let racy = || {
        let x = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let x = x.clone();
                selvedge::thread::spawn(move || {
                    let v = x.load(Ordering::SeqCst);
                    x.store(v + 1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(x.load(Ordering::SeqCst), 3, "lost update");
    };
    let one = with_workers(1, racy);
    let failure = one.failure().expect("found").clone();
    for workers in [2, 4] {
        let many = with_workers(workers, racy);
        let other = many.failure().expect("found");
        assert_eq!(other.schedule(), failure.schedule());
        assert_eq!(other.schedule_number(), failure.schedule_number());
        assert_eq!(many.schedules(), one.schedules());
        assert_eq!(many.explored(), one.explored());
    }
}

#[test]
fn syncpoints_conflict_with_everything_so_dpor_runs_every_order_of_them() {
    // Goal: a syncpoint stands for code selvedge cannot see into (real I/O, a database call),
    // so DPOR must not treat two of them as independent: every order of the tasks' syncpoints
    // is explored, as plain DFS explores them.
    let orders = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let seen = orders.clone();
    let report = dpor(move || {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handles: Vec<_> = (1..=3)
            .map(|id| {
                let log = log.clone();
                selvedge::thread::spawn(move || {
                    selvedge::syncpoint!("step");
                    log.lock().unwrap().push(id);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let order = log.lock().unwrap().clone();
        seen.lock().unwrap().insert(order);
    });
    assert!(report.complete());
    assert_eq!(
        orders.lock().unwrap().len(),
        6,
        "every order of three syncpoints"
    );
}
