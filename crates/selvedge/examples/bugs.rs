//! The main job: explore four small buggy programs and print each failure report.
//!
//! Run it with `cargo run --release --example bugs`.
//!
//! 1. A lost update: two threads read a shared counter, then write it back plus one.
//! 2. A two-lock deadlock: two threads take the same two mutexes in opposite orders.
//! 3. A condvar lost wakeup: the waiter checks the flag, the notifier sets it and notifies
//!    before the waiter waits, and the waiter then sleeps forever.
//! 4. A wait under `if`: the consumer waits for an item once instead of in a loop, and a
//!    spurious wakeup (which std's `Condvar::wait` allows) has it pop from an empty queue.

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

fn wait_under_if() {
    let queue = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
    let q = queue.clone();
    let producer = selvedge::thread::spawn(move || {
        q.0.lock().unwrap().push(7);
        q.1.notify_one();
    });
    // Bug: `wait` may return without a notification, so one check is not enough; a `while`
    // loop (or `Condvar::wait_while`) re-checks the queue after every wakeup.
    let mut items = queue.0.lock().unwrap();
    if items.is_empty() {
        items = queue.1.wait(items).unwrap();
    }
    let item = items.pop().expect("woken with an empty queue");
    assert_eq!(item, 7);
    drop(items);
    producer.join().unwrap();
}

fn main() {
    let programs: [(&str, fn()); 4] = [
        ("lost update", lost_update),
        ("two-lock deadlock", two_lock_deadlock),
        ("condvar lost wakeup", lost_wakeup),
        ("condvar wait under if", wait_under_if),
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
    println!("selvedge found {found} of {} bugs", programs.len());
    if found != programs.len() {
        std::process::exit(1);
    }
}
