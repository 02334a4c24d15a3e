//! loom's `Notify`: a one-shot permit one thread waits for and another gives, with the
//! release/acquire synchronisation of a lock handoff. Built on this crate's `Mutex` and
//! `Condvar`, so a wait no one ends is a deadlock report naming the waiter.
//!
//! Invariant: `notify` stores one permit (a second before any wait is absorbed) and `wait`
//! consumes it; unlike loom's, `wait` never returns spuriously.

use super::{Condvar, Mutex};

/// A permit one thread waits for and another gives, as loom's `sync::Notify`.
///
/// ```
/// use selvedge::sync::{Arc, Notify};
///
/// selvedge::model(|| {
///     let ready = Arc::new(Notify::new());
///     let r = ready.clone();
///     let t = selvedge::thread::spawn(move || r.notify());
///     ready.wait();
///     t.join().unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct Notify {
    permit: Mutex<bool>,
    given: Condvar,
}

impl Notify {
    #[track_caller]
    pub fn new() -> Notify {
        Notify {
            permit: Mutex::new(false),
            given: Condvar::new(),
        }
    }

    /// Gives the permit, waking the waiter if there is one.
    #[track_caller]
    pub fn notify(&self) {
        *self.permit.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.given.notify_one();
    }

    /// Waits until the permit is given, and takes it.
    #[track_caller]
    pub fn wait(&self) {
        let mut permit = self.permit.lock().unwrap_or_else(|e| e.into_inner());
        while !*permit {
            permit = self.given.wait(permit).unwrap_or_else(|e| e.into_inner());
        }
        *permit = false;
    }
}

impl Default for Notify {
    #[track_caller]
    fn default() -> Notify {
        Notify::new()
    }
}
