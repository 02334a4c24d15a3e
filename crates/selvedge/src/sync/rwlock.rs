//! `RwLock`: a model reader-writer lock, writer-preferring like std's (once readers hold it
//! and a writer waits, new readers wait behind the writer).
//!
//! A thread never read-locks a lock it already holds for reading: `read` blocks (reported as
//! a deadlock of the thread with itself) and `try_read` gives `WouldBlock`. std documents
//! that `read` "might panic when called if the lock is already held by the current thread",
//! and on Linux the second read deadlocks as soon as a writer queues between the two; a test
//! rarely contains that writer, so selvedge reports the re-entrant read itself, as shuttle
//! does.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::{object_id, refuse_shared_value};
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point, try_with_state, with_state, LazyObject, ObjectId, OpKind};

/// A reader-writer lock, as `std::sync::RwLock`.
///
/// ```
/// use selvedge::sync::{Arc, RwLock};
///
/// selvedge::check_random(|| {
///     let lock = Arc::new(RwLock::new(1));
///     let l2 = lock.clone();
///     let t = selvedge::thread::spawn(move || *l2.read().unwrap());
///     *lock.write().unwrap() += 1;
///     let seen = t.join().unwrap();
///     assert!(seen == 1 || seen == 2);
/// }, 50);
/// ```
pub struct RwLock<T: ?Sized> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    zero_sized: bool,
    data: UnsafeCell<T>,
}

unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
impl<T: ?Sized> std::panic::UnwindSafe for RwLock<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for RwLock<T> {}

pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    id: ObjectId,
    locked_at: &'static Location<'static>,
}

pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    id: ObjectId,
    locked_at: &'static Location<'static>,
}

unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    #[track_caller]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
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

impl<T: ?Sized> RwLock<T> {
    #[track_caller]
    fn id(&self) -> ObjectId {
        let registered = object_id(
            &self.object,
            ObjectKind::RwLock,
            self.created_at,
            "selvedge::sync::RwLock",
            || ObjectState::RwLock {
                writer: None,
                readers: Vec::new(),
                poisoned: false,
            },
        );
        if registered.shared {
            refuse_shared_value(self.zero_sized, "RwLock", self.created_at);
        }
        registered.id
    }

    fn poison<G>(&self, guard: G) -> LockResult<G> {
        if self.is_poisoned() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Read-locks, waiting while a writer holds the lock or waits for it behind readers.
    /// Read-locking a lock this thread already holds never returns: it is reported as a
    /// deadlock (std's `read` may deadlock or panic there).
    ///
    /// ```
    /// use selvedge::sync::RwLock;
    ///
    /// let report = selvedge::explore(selvedge::Config::default(), || {
    ///     let lock = RwLock::new(0);
    ///     let first = lock.read().unwrap();
    ///     let again = lock.read().unwrap(); // a re-entrant read
    ///     assert_eq!(*first, *again);
    /// });
    /// let failure = report.failure().expect("the second read is reported");
    /// assert!(failure.to_string().contains("already holds"), "{failure}");
    /// ```
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let id = self.id();
        point(OpKind::ReadLock, Some(id));
        let granted = take(id, false, Location::caller());
        assert!(granted, "a read lock was granted while a writer holds it");
        self.poison(RwLockReadGuard {
            lock: self,
            id,
            locked_at: Location::caller(),
        })
    }

    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let id = self.id();
        point(OpKind::WriteLock, Some(id));
        let granted = take(id, true, Location::caller());
        assert!(granted, "a write lock was granted while the lock is held");
        self.poison(RwLockWriteGuard {
            lock: self,
            id,
            locked_at: Location::caller(),
        })
    }

    /// Read-locks if no writer holds the lock; `WouldBlock` otherwise, and when this thread
    /// already holds it for reading (see [`RwLock::read`]).
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let id = self.id();
        point(OpKind::TryReadLock, Some(id));
        if !take(id, false, Location::caller()) {
            return Err(TryLockError::WouldBlock);
        }
        self.poison(RwLockReadGuard {
            lock: self,
            id,
            locked_at: Location::caller(),
        })
        .map_err(TryLockError::Poisoned)
    }

    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let id = self.id();
        point(OpKind::TryWriteLock, Some(id));
        if !take(id, true, Location::caller()) {
            return Err(TryLockError::WouldBlock);
        }
        self.poison(RwLockWriteGuard {
            lock: self,
            id,
            locked_at: Location::caller(),
        })
        .map_err(TryLockError::Poisoned)
    }

    /// Did a writer panic? (Never, outside a model: such a lock was never taken.)
    pub fn is_poisoned(&self) -> bool {
        self.poison_flag(|flag| *flag)
    }

    pub fn clear_poison(&self) {
        self.poison_flag(|flag| std::mem::replace(flag, false));
    }

    /// Runs `f` on this execution's poison flag, if the lock was used in this execution.
    fn poison_flag(&self, f: impl FnOnce(&mut bool) -> bool) -> bool {
        try_with_state(|s| {
            let id = self.object.lookup(s)?.id;
            match s.object(id) {
                ObjectState::RwLock { poisoned, .. } => Some(f(poisoned)),
                _ => unreachable!("object is not an rwlock"),
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

/// Takes the lock for reading or writing if that is possible now; returns whether it did.
fn take(id: ObjectId, write: bool, at: &'static Location<'static>) -> bool {
    with_state("selvedge::sync::RwLock", |s| {
        let current = s.current;
        let ObjectState::RwLock {
            writer, readers, ..
        } = s.object(id)
        else {
            unreachable!("object is not an rwlock")
        };
        let reads_again = !write && readers.iter().any(|r| r.0 == current);
        if writer.is_some() || (write && !readers.is_empty()) || reads_again {
            return false;
        }
        if write {
            *writer = Some((current, at));
        } else {
            readers.push((current, at));
        }
        s.hb_acquire(id);
        true
    })
}

fn give_back(id: ObjectId, write: bool) {
    with_state("selvedge::sync::RwLock unlock", |s| {
        let current = s.current;
        let ObjectState::RwLock {
            writer, readers, ..
        } = s.object(id)
        else {
            unreachable!("object is not an rwlock")
        };
        if write {
            assert_eq!(
                writer.map(|w| w.0),
                Some(current),
                "write unlock by a non-holder"
            );
            *writer = None;
        } else {
            let i = readers
                .iter()
                .position(|r| r.0 == current)
                .expect("read unlock by a non-holder");
            readers.swap_remove(i);
        }
        s.hb_release(id);
    });
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        crate::runtime::point_at(OpKind::ReadUnlock, Some(self.id), self.locked_at);
        give_back(self.id, false);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            with_state("selvedge::sync::RwLock unlock", |s| {
                match s.object(self.id) {
                    ObjectState::RwLock { poisoned, .. } => *poisoned = true,
                    _ => unreachable!("object is not an rwlock"),
                }
            });
        }
        crate::runtime::point_at(OpKind::WriteUnlock, Some(self.id), self.locked_at);
        give_back(self.id, true);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves a read lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the write lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the write lock is held.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("created_at", &format_args!("{}", self.created_at))
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}
