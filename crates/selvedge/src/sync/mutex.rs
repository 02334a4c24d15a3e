//! `Mutex`: a model lock. Locking is a scheduling point that is enabled only while the lock
//! is free; unlocking is a scheduling point too, so every order of critical sections is
//! reachable.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::{object_id, refuse_shared_value};
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point, try_with_state, with_state, LazyObject, ObjectId, OpKind};

/// A mutual-exclusion lock, as `std::sync::Mutex`, with poisoning.
///
/// ```
/// use selvedge::sync::{Arc, Mutex};
///
/// selvedge::check_random(|| {
///     let m = Arc::new(Mutex::new(0));
///     let m2 = m.clone();
///     let t = selvedge::thread::spawn(move || *m2.lock().unwrap() += 1);
///     *m.lock().unwrap() += 1;
///     t.join().unwrap();
///     assert_eq!(*m.lock().unwrap(), 2);
/// }, 100);
/// ```
pub struct Mutex<T: ?Sized> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    /// A `Mutex<()>` may live in a static: there is no value to carry between executions.
    zero_sized: bool,
    data: UnsafeCell<T>,
}

unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// As std's: poisoning is how a panic mid-update is observed.
impl<T: ?Sized> std::panic::UnwindSafe for Mutex<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for Mutex<T> {}

/// Proof of holding a `Mutex`; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    mutex: &'a Mutex<T>,
    id: ObjectId,
    locked_at: &'static Location<'static>,
}

unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    #[track_caller]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            object: LazyObject::new(),
            created_at: Location::caller(),
            zero_sized: std::mem::size_of::<T>() == 0,
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.is_poisoned();
        let value = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    #[track_caller]
    fn id(&self) -> ObjectId {
        let registered = object_id(
            &self.object,
            ObjectKind::Mutex,
            self.created_at,
            "selvedge::sync::Mutex::lock",
            || ObjectState::Mutex {
                holder: None,
                poisoned: false,
            },
        );
        if registered.shared {
            refuse_shared_value(self.zero_sized, "Mutex", self.created_at);
        }
        registered.id
    }

    /// Acquires the lock, blocking this task until it is free.
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let id = self.id();
        point(OpKind::Lock, Some(id));
        let poisoned = acquire(id, Location::caller());
        self.guard_with(id, Location::caller(), poisoned)
    }

    /// Acquires the lock if it is free, without blocking.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let id = self.id();
        point(OpKind::TryLock, Some(id));
        let acquired = with_state("Mutex::try_lock", |s| {
            let current = s.current;
            match s.object(id) {
                ObjectState::Mutex { holder, .. } if holder.is_none() => {
                    *holder = Some((current, Location::caller()));
                    s.hb_acquire(id);
                    true
                }
                _ => false,
            }
        });
        if !acquired {
            return Err(TryLockError::WouldBlock);
        }
        self.guard(id, Location::caller())
            .map_err(TryLockError::Poisoned)
    }

    fn guard(
        &self,
        id: ObjectId,
        locked_at: &'static Location<'static>,
    ) -> LockResult<MutexGuard<'_, T>> {
        self.guard_with(id, locked_at, poisoned(id))
    }

    /// A guard for the lock just taken, `Err` when a holder panicked.
    fn guard_with(
        &self,
        id: ObjectId,
        locked_at: &'static Location<'static>,
        poisoned: bool,
    ) -> LockResult<MutexGuard<'_, T>> {
        let guard = MutexGuard {
            mutex: self,
            id,
            locked_at,
        };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Did a holder panic? (Never, outside a model: such a mutex was never locked.)
    pub fn is_poisoned(&self) -> bool {
        self.poison_flag(|flag| *flag)
    }

    pub fn clear_poison(&self) {
        self.poison_flag(|flag| std::mem::replace(flag, false));
    }

    /// Runs `f` on this execution's poison flag, if the mutex was used in this execution.
    fn poison_flag(&self, f: impl FnOnce(&mut bool) -> bool) -> bool {
        try_with_state(|s| {
            let id = self.object.lookup(s)?.id;
            match s.object(id) {
                ObjectState::Mutex { poisoned, .. } => Some(f(poisoned)),
                _ => unreachable!("object is not a mutex"),
            }
        })
        .flatten()
        .unwrap_or(false)
    }

    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let value = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

/// Was mutex `id` poisoned by a panicking holder in this execution?
fn poisoned(id: ObjectId) -> bool {
    with_state("selvedge::sync::Mutex", |s| {
        matches!(s.object(id), ObjectState::Mutex { poisoned: true, .. })
    })
}

/// Records the current task as the holder of free mutex `id`; returns whether it is poisoned.
pub(crate) fn acquire(id: ObjectId, at: &'static Location<'static>) -> bool {
    with_state("selvedge::sync::Mutex::lock", |s| {
        let current = s.current;
        let poisoned = match s.object(id) {
            ObjectState::Mutex { holder, poisoned } => {
                assert!(holder.is_none(), "a lock was granted while held");
                *holder = Some((current, at));
                *poisoned
            }
            _ => unreachable!("object is not a mutex"),
        };
        s.hb_acquire(id);
        poisoned
    })
}

/// Releases mutex `id`, held by the current task.
pub(crate) fn release(id: ObjectId) {
    with_state("selvedge::sync::Mutex unlock", |s| {
        let current = s.current;
        match s.object(id) {
            ObjectState::Mutex { holder, .. } => {
                assert_eq!(
                    holder.map(|h| h.0),
                    Some(current),
                    "a mutex was released by a task that does not hold it"
                );
                *holder = None;
            }
            _ => unreachable!("object is not a mutex"),
        }
        s.hb_release(id);
    });
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    pub(crate) fn parts(guard: Self) -> (&'a Mutex<T>, ObjectId) {
        let parts = (guard.mutex, guard.id);
        std::mem::forget(guard);
        parts
    }

    pub(crate) fn from_parts(
        mutex: &'a Mutex<T>,
        id: ObjectId,
        locked_at: &'static Location<'static>,
    ) -> LockResult<Self> {
        mutex.guard(id, locked_at)
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            with_state("selvedge::sync::Mutex unlock", |s| {
                match s.object(self.id) {
                    ObjectState::Mutex { poisoned, .. } => *poisoned = true,
                    _ => unreachable!("object is not a mutex"),
                }
            });
        }
        // Drop glue has no caller location worth showing; the lock site identifies the guard.
        crate::runtime::point_at(OpKind::Unlock, Some(self.id), self.locked_at);
        release(self.id);
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves this task holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves this task holds the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("created_at", &format_args!("{}", self.created_at))
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
