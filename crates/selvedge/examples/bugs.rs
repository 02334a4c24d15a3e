//! The main job: explore three small buggy programs and print each failure report.
//!
//! Run it with `cargo run --release --example bugs`.
//!
//! 1. A lost update: two threads read a shared counter, then write it back plus one.
//! 2. A two-lock deadlock: two threads take the same two mutexes in opposite orders.
//! 3. A condvar lost wakeup: the waiter checks the flag, the notifier sets it and notifies
//!    before the waiter waits, and the waiter then sleeps forever.

use selvedge::sync::atomic::{AtomicU64, Ordering};
use selvedge::sync::{Arc, Condvar, Mutex};
use selvedge::{explore, Config, Strategy};

fn lost_update() {
    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            selvedge::thread::spawn(move || {
                let seen = counter.load(Ordering::SeqCst);
                counter.store(seen + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
}

fn two_lock_deadlock() {
    let accounts = Arc::new(Mutex::new(100));
    let audit_log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (a, l) = (accounts.clone(), audit_log.clone());
    let auditor = selvedge::thread::spawn(move || {
        let mut log = l.lock().unwrap();
        let balance = a.lock().unwrap();
        log.push(format!("balance {balance}"));
    });
    {
        let mut balance = accounts.lock().unwrap();
        *balance -= 10;
        audit_log.lock().unwrap().push("withdrew 10".into());
    }
    auditor.join().unwrap();
}

fn lost_wakeup() {
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let s = state.clone();
    let notifier = selvedge::thread::spawn(move || {
        *s.0.lock().unwrap() = true;
        s.1.notify_one();
    });
    // Bug: the flag is checked under one lock acquisition and waited on under another,
    // so the notify can land in between and be lost.
    let ready = *state.0.lock().unwrap();
    if !ready {
        let guard = state.0.lock().unwrap();
        let _guard = state.1.wait(guard).unwrap();
    }
    notifier.join().unwrap();
}

fn main() {
    let programs: [(&str, fn()); 3] = [
        ("lost update", lost_update),
        ("two-lock deadlock", two_lock_deadlock),
        ("condvar lost wakeup", lost_wakeup),
    ];
    let mut found = 0;
    for (name, program) in programs {
        let config = Config {
            strategy: Strategy::Pct { depth: 2 },
            max_schedules: Some(1_000),
            seed: 1,
            ..Default::default()
        };
        let report = explore(config, program);
        println!("=== {name} ===");
        match report.failure() {
            Some(failure) => {
                found += 1;
                println!("{failure}\n");
            }
            None => println!("no failure found in {} schedules\n", report.schedules()),
        }
    }
    println!("selvedge found {found} of 3 bugs");
    if found != 3 {
        std::process::exit(1);
    }
}
