//! Small programs shared by the test files, each with a known verdict.

#![allow(dead_code)]

use selvedge::sync::atomic::{AtomicU64, Ordering};
use selvedge::sync::{Arc, Condvar, Mutex};

/// Two threads read a counter, then write it back plus one: an update can be lost.
pub(crate) fn lost_update() {
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
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
}

/// `threads` threads each increment a `Mutex<u64>` `increments` times: always correct.
pub(crate) fn mutex_counter(
    threads: usize,
    increments: usize,
) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let counter = counter.clone();
                selvedge::thread::spawn(move || {
                    for _ in 0..increments {
                        *counter.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), (threads * increments) as u64);
    }
}

/// Two threads take two mutexes in opposite orders.
pub(crate) fn two_lock_deadlock() {
    let a = Arc::new(Mutex::new(0));
    let b = Arc::new(Mutex::new(0));
    let (a2, b2) = (a.clone(), b.clone());
    let t = selvedge::thread::spawn(move || {
        let _b = b2.lock().unwrap();
        let _a = a2.lock().unwrap();
    });
    {
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    t.join().unwrap();
}

/// The waiter checks the flag and waits under separate lock acquisitions, so the notify can
/// fall in between and be lost.
pub(crate) fn lost_wakeup() {
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let s = state.clone();
    let notifier = selvedge::thread::spawn(move || {
        *s.0.lock().unwrap() = true;
        s.1.notify_one();
    });
    let ready = *state.0.lock().unwrap();
    if !ready {
        let guard = state.0.lock().unwrap();
        drop(state.1.wait(guard).unwrap());
    }
    notifier.join().unwrap();
}

/// Uses about `depth` KiB of stack: one 1 KiB frame per level.
#[inline(never)]
pub(crate) fn recurse(depth: usize) -> usize {
    let frame = [depth as u8; 1024];
    std::hint::black_box(&frame);
    if depth == 0 {
        return 0;
    }
    recurse(depth - 1) + usize::from(std::hint::black_box(frame[1]))
}

/// The text of a caught panic's payload (a `String` or a `&str`), empty for any other.
pub(crate) fn panic_payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
