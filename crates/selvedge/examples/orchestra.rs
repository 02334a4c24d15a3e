//! Real code on real threads, interleaved at its syncpoints: explore two programs that use
//! `std::sync` directly (which the model cannot run) and print each failure report.
//!
//! Run it with `cargo run --release --example orchestra`.
//!
//! 1. A lost update: two threads each read a shared counter (a `std` mutex), reach a
//!    syncpoint, then write back what they read plus one. Of the 6 orders of their turns, 4
//!    lose an update.
//! 2. A lock-order deadlock: two threads take two `std` mutexes in opposite orders with a
//!    syncpoint between. In the order that interleaves them, each blocks on the lock the
//!    other holds: both are set aside as stalled, and once neither comes back within the
//!    deadlock timeout, that is a `Deadlock` naming where each one was.

use std::sync::Mutex;
use std::time::Duration;

use selvedge::orchestra::Orchestra;

fn increment(counter: &Mutex<u32>) {
    let seen = *counter.lock().unwrap();
    selvedge::syncpoint!();
    *counter.lock().unwrap() = seen + 1;
}

fn main() {
    let lost = Orchestra::new()
        .setup(|| Mutex::new(0u32))
        .task(increment)
        .task(increment)
        .check(|counter| {
            let total = *counter.lock().unwrap();
            assert!(
                total == 2,
                "an update was lost: the counter is {total}, not 2"
            );
        })
        .explore();
    println!("{}\n", lost.failure().expect("an order loses an update"));

    let deadlock = Orchestra::new()
        .setup(|| (Mutex::new(()), Mutex::new(())))
        .stall_timeout(Duration::from_millis(100))
        .deadlock_timeout(Duration::from_millis(500))
        .task(|(a, b)| {
            let _a = a.lock().unwrap();
            selvedge::syncpoint!();
            let _b = b.lock().unwrap();
        })
        .task(|(a, b)| {
            let _b = b.lock().unwrap();
            selvedge::syncpoint!();
            let _a = a.lock().unwrap();
        })
        .explore();
    println!("{}", deadlock.failure().expect("the orders deadlock"));
    // The two deadlocked threads are blocked on `std` mutexes forever: nothing can unwind
    // them, so they are left behind, and the process ends with `main`.
}
