//! `AtomicWaker`: one slot for a waker that a waiting future registers and another task wakes,
//! as `futures`' and loom's. Registering and taking are scheduling points on the slot, so DPOR
//! explores a wake that comes before the registration (the classic lost wakeup) and after it.

use std::fmt;
use std::panic::Location;
use std::sync::Mutex as StdMutex;
use std::task::Waker;

use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point, LazyObject, ObjectId, OpKind};
use crate::sync::object_id;

/// A slot for one waker.
///
/// ```
/// use selvedge::future::{self, AtomicWaker};
/// use selvedge::sync::{Arc, atomic::{AtomicBool, Ordering}};
/// use std::task::Poll;
///
/// selvedge::model(|| {
///     let slot = Arc::new(AtomicWaker::new());
///     let flag = Arc::new(AtomicBool::new(false));
///     let (s2, f2) = (slot.clone(), flag.clone());
///     selvedge::thread::spawn(move || {
///         f2.store(true, Ordering::SeqCst);
///         s2.wake();
///     });
///     future::block_on(std::future::poll_fn(|cx| {
///         slot.register_by_ref(cx.waker());   // register first, then check: no lost wakeup
///         if flag.load(Ordering::SeqCst) { Poll::Ready(()) } else { Poll::Pending }
///     }));
/// });
/// ```
pub struct AtomicWaker {
    object: LazyObject,
    created_at: &'static Location<'static>,
    waker: StdMutex<Option<Waker>>,
}

impl AtomicWaker {
    /// An empty slot.
    #[track_caller]
    pub fn new() -> AtomicWaker {
        AtomicWaker {
            object: LazyObject::new(),
            created_at: Location::caller(),
            waker: StdMutex::new(None),
        }
    }

    fn id(&self) -> ObjectId {
        object_id(
            &self.object,
            ObjectKind::Atomic("AtomicWaker"),
            self.created_at,
            "selvedge::future::AtomicWaker",
            || ObjectState::Plain,
        )
        .id
    }

    /// Stores `waker`, replacing (and dropping) the one stored before.
    #[track_caller]
    pub fn register(&self, waker: Waker) {
        point(OpKind::AtomicRmw, Some(self.id()));
        let old = self.slot().replace(waker);
        drop(old);
    }

    /// Stores a clone of `waker`, unless the stored one already wakes the same task.
    #[track_caller]
    pub fn register_by_ref(&self, waker: &Waker) {
        point(OpKind::AtomicRmw, Some(self.id()));
        let same = self.slot().as_ref().is_some_and(|w| w.will_wake(waker));
        if !same {
            // Cloning may be a scheduling point: never with the slot's lock held.
            let clone = waker.clone();
            let old = self.slot().replace(clone);
            drop(old);
        }
    }

    /// Takes the stored waker out, if any.
    #[track_caller]
    pub fn take_waker(&self) -> Option<Waker> {
        point(OpKind::AtomicRmw, Some(self.id()));
        self.slot().take()
    }

    /// Takes the stored waker out and wakes it.
    #[track_caller]
    pub fn wake(&self) {
        if let Some(waker) = self.take_waker() {
            waker.wake();
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.waker.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for AtomicWaker {
    #[track_caller]
    fn default() -> AtomicWaker {
        AtomicWaker::new()
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AtomicWaker")
    }
}
