//! The pool's story, shared by `main.rs` (which prints it) and `tests/pool.rs` (which checks
//! it): stress finds that the racy pool is wrong, and the model shows exactly why.
//!
//! Stress: 50 threads publish through the pool and drain its events, a connection is killed
//! every 10 iterations, and three invariants are checked by the harness from outside the pool:
//! `double_releases` (checks after an operation that found a connection idle twice),
//! `shared_connections` (checkouts that got a connection another thread was still using under
//! the same lease), `none_ids` (events handed out without a connection id).
//!
//! Model: two small programs on the selvedge-backed pool, each explored exhaustively, each
//! with one kill racing one owner.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use selvedge::stress::{Outcome, Shake, Stress};

use super::on_selvedge::pool as model;
use super::on_std::pool as real;

pub(crate) const THREADS: usize = 50;
pub(crate) const ITERATIONS: u64 = 60;
pub(crate) const KILL_EVERY: u64 = 10;
pub(crate) const CAPACITY: usize = 8;

pub(crate) fn stress(variant: real::Variant) -> Outcome {
    let pool = Arc::new(real::Pool::new(variant, CAPACITY));
    // Per slot: the generation of the lease using it, plus one (0: nobody).
    let holders: Arc<Vec<AtomicU64>> = Arc::new((0..CAPACITY).map(|_| AtomicU64::new(0)).collect());
    let shared = Arc::new(AtomicU64::new(0));
    let none_ids = Arc::new(AtomicU64::new(0));
    let (p1, p2, p3, p4) = (pool.clone(), pool.clone(), pool.clone(), pool);
    let (s1, s2) = (shared.clone(), shared);
    let (n1, n2) = (none_ids.clone(), none_ids);
    let name = match variant {
        real::Variant::Correct => "pool (correct)",
        real::Variant::Racy => "pool (racy)",
    };
    Stress::new(name)
        .threads(THREADS)
        .iterations(ITERATIONS)
        .op("publish", 3, move |_| {
            let lease = p1.checkout();
            let mine = lease.generation + 1;
            if holders[lease.slot].swap(mine, Relaxed) == mine {
                s1.fetch_add(1, Relaxed); // someone holds this very lease: lent twice
            }
            p1.publish(&lease);
            selvedge::syncpoint!("publish: using the connection");
            let _ = holders[lease.slot].compare_exchange(mine, 0, Relaxed, Relaxed);
            p1.release(lease);
        })
        .op("drain", 1, move |_| {
            let missing = p2.drain().iter().filter(|e| e.connection.is_none()).count();
            n1.fetch_add(missing as u64, Relaxed);
        })
        .fault_every(KILL_EVERY, "kill connection", move |ctx| {
            p3.kill(ctx.random_below(CAPACITY))
        })
        .invariant_after_each_op("double_releases", move || p4.idle_duplicates() == 0)
        .invariant("shared_connections", move || s2.load(Relaxed))
        .invariant("none_ids", move || n2.load(Relaxed))
        .shake(Shake {
            yield_chance: 0.3,
            sleep_chance: 0.2,
            max_sleep: Duration::from_micros(50),
        })
        .watchdog(Duration::from_secs(20))
        .run()
}

/// One owner checks a connection out and gives it back while the server kills it: the pool
/// must never hold it idle twice.
pub(crate) fn released_once(variant: model::Variant) -> impl Fn() + Send + Sync + 'static {
    move || {
        let pool = Arc::new(model::Pool::new(variant, 1));
        let killer = {
            let pool = pool.clone();
            selvedge::thread::spawn(move || pool.kill(0))
        };
        let lease = pool.checkout();
        pool.release(lease);
        killer.join().unwrap();
        assert_eq!(
            pool.idle_duplicates(),
            0,
            "connection 0 is idle twice: released twice"
        );
    }
}

/// One owner publishes on a connection while the server kills it and a consumer drains: no
/// event may come out without a connection id.
pub(crate) fn events_keep_their_ids(variant: model::Variant) -> impl Fn() + Send + Sync + 'static {
    move || {
        let pool = Arc::new(model::Pool::new(variant, 1));
        let lease = pool.checkout();
        pool.publish(&lease);
        pool.release(lease);
        let killer = {
            let pool = pool.clone();
            selvedge::thread::spawn(move || pool.kill(0))
        };
        for event in pool.drain() {
            assert!(
                event.connection.is_some(),
                "an event without a connection id: {event:?}"
            );
        }
        killer.join().unwrap();
    }
}
