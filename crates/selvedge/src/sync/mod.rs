//! Model synchronisation primitives, mirroring `std::sync`.
//!
//! Each type is a thin public face over a state machine in the runtime's object table,
//! reached by object id. Inside a model every operation is a scheduling point; outside one,
//! atomics and `Arc` behave as std's and the blocking primitives panic with a message that
//! says how to run the code under selvedge.

mod arc;
mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
mod notify;
mod once;
mod rwlock;

pub mod atomic;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use notify::Notify;
pub use once::{LazyLock, Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

pub use arc::{Arc, Weak};

use std::panic::Location;

use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{with_state, LazyObject, Registered};

/// The id of a lazily registered object in the running execution, and whether its user value
/// is shared with other executions (a `static`).
#[track_caller]
pub(crate) fn object_id(
    lazy: &LazyObject,
    kind: ObjectKind,
    created_at: &'static Location<'static>,
    what: &str,
    init: impl FnOnce() -> ObjectState,
) -> Registered {
    with_state(what, |s| lazy.get(s, kind, created_at, init))
}

/// A lock or cell whose value is shared by every execution (a `static`) would make executions
/// depend on each other; only a value with nothing in it (`Mutex<()>`) may be shared so.
#[track_caller]
pub(crate) fn refuse_shared_value(
    zero_sized: bool,
    what: &str,
    created_at: &'static Location<'static>,
) {
    if !zero_sized {
        panic!(
            "the {what} created at {created_at} holds a value shared by every execution (it is a \
             `static`, or was created outside the test body): its value is not reset between \
             executions, so each execution would start from what another left. Create it inside \
             the test body, or make the static a `selvedge::sync::LazyLock`, which is fresh in \
             every execution"
        );
    }
}
