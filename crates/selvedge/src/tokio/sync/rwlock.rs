//! tokio's async `RwLock` on the model's rwlock state machine: an awaited `read` or `write` is
//! the same one scheduling point a thread's is, enabled exactly when the lock can be taken; a
//! dropped guard unlocks; a lock future dropped after its grant gives the lock back.
//!
//! As tokio's (whose queue is fair), a reader does not overtake a writer that waits for
//! readers to leave: a task that read-locks again while a writer waits deadlocks, in the model
//! as in production. Among several waiting writers, or readers, the model explores every order
//! rather than tokio's FIFO one. No poisoning: as tokio's, a holder that panics leaves the lock unlocked.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::awaiting::Interest;
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, LazyObject, ObjectId, OpKind, TaskId};
use crate::sync::{object_id, refuse_shared_value};
use crate::tokio::waiting::{object_of, require_model, Wait};

use super::mutex::TryLockError;

/// An async reader-writer lock, as `tokio::sync::RwLock`.
///
/// ```
/// use selvedge::tokio::sync::RwLock;
/// use std::sync::Arc;
///
/// selvedge::model(|| {
///     selvedge::future::block_on(async {
///         let lock = Arc::new(RwLock::new(1));
///         {
///             let a = lock.read().await;
///             let b = lock.read().await; // readers share it
///             assert_eq!(*a + *b, 2);
///         }
///         *lock.write().await += 1;
///         assert_eq!(*lock.clone().read_owned().await, 2);
///     });
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    max_readers: u32,
    zero_sized: bool,
    data: UnsafeCell<T>,
}

// SAFETY: the model grants the lock to one writer or to readers at a time; guards are the only
// access path.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock::with_max_readers(value, u32::MAX >> 3)
    }

    /// As [`RwLock::new`], usable in a `static` (only for a zero-sized value: a value kept
    /// across executions would make them depend on each other).
    #[track_caller]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
            object: LazyObject::new(),
            created_at: Location::caller(),
            max_readers: u32::MAX >> 3,
            zero_sized: std::mem::size_of::<T>() == 0,
            data: UnsafeCell::new(value),
        }
    }

    /// A lock that lets at most `max_readers` readers in at once.
    #[track_caller]
    pub fn with_max_readers(value: T, max_readers: u32) -> RwLock<T> {
        assert!(
            max_readers > 0,
            "an `RwLock` needs `max_readers` above zero"
        );
        RwLock {
            object: LazyObject::new(),
            created_at: Location::caller(),
            max_readers,
            zero_sized: std::mem::size_of::<T>() == 0,
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    #[track_caller]
    fn id(&self) -> ObjectId {
        let registered = object_id(
            &self.object,
            ObjectKind::RwLock,
            self.created_at,
            "selvedge::tokio::sync::RwLock",
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

    /// Waits for shared access.
    #[track_caller]
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: self,
            waiting: LockWait::new(false, Location::caller()),
        }
    }

    /// Waits for exclusive access.
    #[track_caller]
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: self,
            waiting: LockWait::new(true, Location::caller()),
        }
    }

    /// As [`RwLock::read`], the guard owning an `Arc` of the lock.
    #[track_caller]
    pub fn read_owned(self: Arc<Self>) -> ReadOwned<T> {
        ReadOwned {
            lock: Some(self),
            waiting: LockWait::new(false, Location::caller()),
        }
    }

    /// As [`RwLock::write`], the guard owning an `Arc` of the lock.
    #[track_caller]
    pub fn write_owned(self: Arc<Self>) -> WriteOwned<T> {
        WriteOwned {
            lock: Some(self),
            waiting: LockWait::new(true, Location::caller()),
        }
    }

    /// Takes shared access if no writer holds or waits for the lock.
    #[track_caller]
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        let at = Location::caller();
        let id = try_lock(self.id(), false, self.max_readers, at)?;
        Ok(RwLockReadGuard::new(self, id, at))
    }

    /// Takes exclusive access if the lock is free.
    #[track_caller]
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        let at = Location::caller();
        let id = try_lock(self.id(), true, self.max_readers, at)?;
        Ok(RwLockWriteGuard::new(self, id, at))
    }

    /// As [`RwLock::try_read`], owning an `Arc` of the lock.
    #[track_caller]
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        let at = Location::caller();
        let id = try_lock(self.id(), false, self.max_readers, at)?;
        Ok(OwnedRwLockReadGuard {
            lock: self,
            id,
            locked_at: at,
        })
    }

    /// As [`RwLock::try_write`], owning an `Arc` of the lock.
    #[track_caller]
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        let at = Location::caller();
        let id = try_lock(self.id(), true, self.max_readers, at)?;
        Ok(OwnedRwLockWriteGuard {
            lock: self,
            id,
            locked_at: at,
        })
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock").finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

/// Can `task` take the lock `id` now (`write`: exclusively)?
fn lockable(s: &ExecState, task: TaskId, id: ObjectId, write: bool, max_readers: u32) -> bool {
    let ObjectState::RwLock {
        writer, readers, ..
    } = &s.objects[id.index()].state
    else {
        unreachable!("object is not an rwlock")
    };
    if write {
        writer.is_none() && readers.is_empty()
    } else {
        // As std's: once readers hold the lock and a writer waits for it, new readers queue
        // behind the writer (a free lock goes to whoever the schedule picks).
        writer.is_none()
            && readers.len() < max_readers as usize
            && (readers.is_empty() || !s.write_waiting(id, task))
    }
}

fn take(
    s: &mut ExecState,
    task: TaskId,
    id: ObjectId,
    write: bool,
    at: &'static Location<'static>,
) {
    match s.object(id) {
        ObjectState::RwLock {
            writer, readers, ..
        } => {
            assert!(writer.is_none(), "an rwlock was granted while write-locked");
            if write {
                assert!(readers.is_empty(), "an rwlock was write-granted while read");
                *writer = Some((task, at));
            } else {
                readers.push((task, at));
            }
        }
        _ => unreachable!("object is not an rwlock"),
    }
    s.hb_acquire(id);
}

fn try_lock(
    id: ObjectId,
    write: bool,
    max_readers: u32,
    at: &'static Location<'static>,
) -> Result<ObjectId, TryLockError> {
    let kind = if write {
        OpKind::TryWriteLock
    } else {
        OpKind::TryReadLock
    };
    point_at(kind, Some(id), at);
    with_state("RwLock::try_lock", |s| {
        let task = s.current;
        if lockable(s, task, id, write, max_readers) {
            take(s, task, id, write, at);
            Ok(id)
        } else {
            Err(TryLockError::new())
        }
    })
}

/// Releases lock `id` held by the current task, at a scheduling point at `locked_at`.
fn unlock(id: ObjectId, write: bool, locked_at: &'static Location<'static>) {
    let kind = if write {
        OpKind::WriteUnlock
    } else {
        OpKind::ReadUnlock
    };
    point_at(kind, Some(id), locked_at);
    with_state("selvedge::tokio::sync::RwLock unlock", |s| {
        let current = s.current;
        match s.object(id) {
            ObjectState::RwLock {
                writer, readers, ..
            } => {
                // A guard is `Send`: the task that unlocks need not be the one that locked.
                if write {
                    assert!(
                        writer.is_some(),
                        "an rwlock was write-unlocked while not held"
                    );
                    *writer = None;
                } else {
                    assert!(
                        !readers.is_empty(),
                        "an rwlock was read-unlocked while not held"
                    );
                    // Its own entry if it has one; else the guard came from another task, and
                    // any reader's entry stands for it (the count is what the model uses).
                    let i = readers.iter().position(|h| h.0 == current).unwrap_or(0);
                    readers.swap_remove(i);
                }
            }
            _ => unreachable!("object is not an rwlock"),
        }
        s.hb_release(id);
    });
}

/// What a waiting lock future asks for.
struct LockRequest {
    max_readers: u32,
}

fn read_ready(s: &ExecState, task: TaskId, interest: &Interest) -> bool {
    // SAFETY: registered by `LockWait` with a `LockRequest` slot.
    let request = unsafe { crate::tokio::waiting::slot_of::<LockRequest>(interest) };
    lockable(s, task, object_of(interest), false, request.max_readers)
}

fn write_ready(s: &ExecState, task: TaskId, interest: &Interest) -> bool {
    lockable(s, task, object_of(interest), true, 0)
}

fn read_grant(s: &mut ExecState, task: TaskId, interest: &Interest) {
    take(s, task, object_of(interest), false, interest.op.location);
}

fn write_grant(s: &mut ExecState, task: TaskId, interest: &Interest) {
    take(s, task, object_of(interest), true, interest.op.location);
}

/// The wait of a lock future.
struct LockWait {
    write: bool,
    at: &'static Location<'static>,
    wait: Wait<LockRequest>,
    id: Option<ObjectId>,
}

impl LockWait {
    fn new(write: bool, at: &'static Location<'static>) -> LockWait {
        LockWait {
            write,
            at,
            wait: Wait::new(),
            id: None,
        }
    }

    fn poll(&mut self, cx: &Context<'_>, id: ObjectId, max_readers: u32) -> Poll<ObjectId> {
        require_model("selvedge::tokio::sync::RwLock");
        if self.wait.is_waiting() {
            return self.wait.poll(cx).map(|_| id);
        }
        self.id = Some(id);
        let (kind, ready, grant): (_, crate::runtime::awaiting::ReadyFn, _) = if self.write {
            (
                OpKind::WriteLock,
                write_ready,
                write_grant as crate::runtime::awaiting::GrantFn,
            )
        } else {
            (
                OpKind::ReadLock,
                read_ready,
                read_grant as crate::runtime::awaiting::GrantFn,
            )
        };
        self.wait.start(
            cx,
            kind,
            id,
            LockRequest { max_readers },
            ready,
            grant,
            self.at,
        );
        Poll::Pending
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        if self.wait.cancel().is_some() {
            // Granted, then dropped before it was polled again: the lock goes back.
            let id = self.id.expect("a granted lock names its rwlock");
            unlock(id, self.write, self.at);
        }
    }
}

/// The future of [`RwLock::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    waiting: LockWait,
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.lock;
        let at = self.waiting.at;
        let id = lock.id();
        self.waiting
            .poll(cx, id, lock.max_readers)
            .map(|id| RwLockReadGuard::new(lock, id, at))
    }
}

/// The future of [`RwLock::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    waiting: LockWait,
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.lock;
        let at = self.waiting.at;
        let id = lock.id();
        self.waiting
            .poll(cx, id, lock.max_readers)
            .map(|id| RwLockWriteGuard::new(lock, id, at))
    }
}

/// The future of [`RwLock::read_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadOwned<T: ?Sized> {
    lock: Option<Arc<RwLock<T>>>,
    waiting: LockWait,
}

impl<T: ?Sized> Future for ReadOwned<T> {
    type Output = OwnedRwLockReadGuard<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let lock = this.lock.as_ref().expect("polled after completion");
        let (id, max) = (lock.id(), lock.max_readers);
        let at = this.waiting.at;
        this.waiting
            .poll(cx, id, max)
            .map(|id| OwnedRwLockReadGuard {
                lock: this.lock.take().expect("checked above"),
                id,
                locked_at: at,
            })
    }
}

/// The future of [`RwLock::write_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct WriteOwned<T: ?Sized> {
    lock: Option<Arc<RwLock<T>>>,
    waiting: LockWait,
}

impl<T: ?Sized> Future for WriteOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let lock = this.lock.as_ref().expect("polled after completion");
        let (id, max) = (lock.id(), lock.max_readers);
        let at = this.waiting.at;
        this.waiting
            .poll(cx, id, max)
            .map(|id| OwnedRwLockWriteGuard {
                lock: this.lock.take().expect("checked above"),
                id,
                locked_at: at,
            })
    }
}

/// Turns the current task's write hold on `id` into a read hold, in one step (no writer can
/// get in between).
fn downgrade(id: ObjectId, at: &'static Location<'static>) {
    point_at(OpKind::WriteUnlock, Some(id), at);
    with_state("RwLockWriteGuard::downgrade", |s| {
        let current = s.current;
        match s.object(id) {
            ObjectState::RwLock {
                writer, readers, ..
            } => {
                assert_eq!(
                    writer.map(|h| h.0),
                    Some(current),
                    "downgrade by a non-holder"
                );
                *writer = None;
                readers.push((current, at));
            }
            _ => unreachable!("object is not an rwlock"),
        }
        s.hb_release(id);
    });
}

macro_rules! guard {
    ($name:ident, [$($lt:lifetime)?], $lock:ty, $write:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name<$($lt,)? T: ?Sized> {
            lock: $lock,
            id: ObjectId,
            locked_at: &'static Location<'static>,
        }

        impl<$($lt,)? T: ?Sized> Deref for $name<$($lt,)? T> {
            type Target = T;
            fn deref(&self) -> &T {
                // SAFETY: the model granted this task the lock.
                unsafe { &*self.lock.data.get() }
            }
        }

        impl<$($lt,)? T: ?Sized> Drop for $name<$($lt,)? T> {
            fn drop(&mut self) {
                unlock(self.id, $write, self.locked_at);
            }
        }

        impl<$($lt,)? T: ?Sized + fmt::Debug> fmt::Debug for $name<$($lt,)? T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }
    };
}

/// Shared access; unlocks when dropped. [`map`](RwLockReadGuard::map) narrows it to a part of
/// the value, holding the same lock.
pub struct RwLockReadGuard<'a, T: ?Sized> {
    data: *const T,
    id: ObjectId,
    locked_at: &'static Location<'static>,
    _borrow: PhantomData<&'a T>,
}

// SAFETY: as a `&T`: the model granted the lock, shared, to the task that holds the guard.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    fn new(lock: &'a RwLock<T>, id: ObjectId, locked_at: &'static Location<'static>) -> Self {
        Self::holding(lock.data.get(), id, locked_at)
    }

    /// A guard for `data`, holding the shared lock of `id`.
    fn holding(data: *const T, id: ObjectId, locked_at: &'static Location<'static>) -> Self {
        RwLockReadGuard {
            data,
            id,
            locked_at,
            _borrow: PhantomData,
        }
    }

    /// A guard for a part of the value (a field, an element), holding the same shared lock,
    /// as tokio's `RwLockReadGuard::map`.
    ///
    /// ```
    /// use selvedge::tokio::sync::{RwLock, RwLockReadGuard};
    ///
    /// selvedge::model(|| {
    ///     selvedge::future::block_on(async {
    ///         let pair = RwLock::new((1, "one"));
    ///         let name = RwLockReadGuard::map(pair.read().await, |(_, name)| name);
    ///         assert_eq!(*name, "one");
    ///     });
    /// });
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> RwLockReadGuard<'a, U> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](RwLockReadGuard::map), if `f` finds the part; otherwise the guard back.
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        match f(&*this).map(|part| part as *const U) {
            Some(part) => {
                // The lock passes to the new guard, which unlocks it.
                let this = ManuallyDrop::new(this);
                Ok(RwLockReadGuard::holding(part, this.id, this.locked_at))
            }
            None => Err(this),
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the model granted this task the lock, and the value outlives the borrow.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        unlock(self.id, false, self.locked_at);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access; unlocks when dropped. [`map`](RwLockWriteGuard::map) narrows it to a part
/// of the value ([`RwLockMappedWriteGuard`]), holding the same lock.
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    data: *mut T,
    id: ObjectId,
    locked_at: &'static Location<'static>,
    _borrow: PhantomData<&'a mut T>,
}

// SAFETY: as a `&mut T`: the model granted the lock, exclusively, to the task holding it.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn new(lock: &'a RwLock<T>, id: ObjectId, locked_at: &'static Location<'static>) -> Self {
        RwLockWriteGuard {
            data: lock.data.get(),
            id,
            locked_at,
            _borrow: PhantomData,
        }
    }

    /// A guard for a part of the value, holding the same exclusive lock, as tokio's
    /// `RwLockWriteGuard::map`.
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> RwLockMappedWriteGuard<'a, U> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](RwLockWriteGuard::map), if `f` finds the part; otherwise the guard back.
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        match f(&mut *this).map(|part| part as *mut U) {
            Some(part) => {
                let this = ManuallyDrop::new(this);
                Ok(RwLockMappedWriteGuard::holding(
                    part,
                    this.id,
                    this.locked_at,
                ))
            }
            None => Err(this),
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the model granted this task the lock exclusively.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the model granted this task the lock exclusively.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        unlock(self.id, true, self.locked_at);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to a part of a value, made by [`RwLockWriteGuard::map`]; unlocks the
/// lock when dropped.
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    data: *mut T,
    id: ObjectId,
    locked_at: &'static Location<'static>,
    _borrow: PhantomData<&'a mut T>,
}

// SAFETY: as for `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockMappedWriteGuard<'_, T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockMappedWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// A guard for a part of this part, holding the same lock.
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> RwLockMappedWriteGuard<'a, U> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](RwLockMappedWriteGuard::map), if `f` finds the part; otherwise the guard
    /// back.
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        match f(&mut *this).map(|part| part as *mut U) {
            Some(part) => {
                let this = ManuallyDrop::new(this);
                Ok(RwLockMappedWriteGuard::holding(
                    part,
                    this.id,
                    this.locked_at,
                ))
            }
            None => Err(this),
        }
    }

    /// A guard for `data`, holding the exclusive lock of `id`.
    fn holding(data: *mut T, id: ObjectId, locked_at: &'static Location<'static>) -> Self {
        RwLockMappedWriteGuard {
            data,
            id,
            locked_at,
            _borrow: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockMappedWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the model granted this task the lock exclusively.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for RwLockMappedWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for RwLockMappedWriteGuard<'_, T> {
    fn drop(&mut self) {
        unlock(self.id, true, self.locked_at);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockMappedWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
guard!(
    OwnedRwLockReadGuard,
    [],
    Arc<RwLock<T>>,
    false,
    "Shared access owning an `Arc` of the lock; unlocks when dropped."
);
guard!(
    OwnedRwLockWriteGuard,
    [],
    Arc<RwLock<T>>,
    true,
    "Exclusive access owning an `Arc` of the lock; unlocks when dropped."
);

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the model granted this task the lock exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Keeps shared access, letting other readers in (no writer gets in between).
    pub fn downgrade(self) -> RwLockReadGuard<'a, T> {
        let this = ManuallyDrop::new(self);
        downgrade(this.id, this.locked_at);
        RwLockReadGuard::holding(this.data, this.id, this.locked_at)
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Keeps shared access, letting other readers in (no writer gets in between).
    pub fn downgrade(self) -> OwnedRwLockReadGuard<T> {
        let this = ManuallyDrop::new(self);
        downgrade(this.id, this.locked_at);
        // SAFETY: `this` is never dropped; its `Arc` is moved out exactly once.
        let lock = unsafe { std::ptr::read(&this.lock) };
        OwnedRwLockReadGuard {
            lock,
            id: this.id,
            locked_at: this.locked_at,
        }
    }
}
