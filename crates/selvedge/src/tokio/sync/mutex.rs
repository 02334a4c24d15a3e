//! tokio's async `Mutex` on the model's mutex state machine: `lock().await` waits for the
//! mutex to be free as one scheduling point (the same `lock` step a thread takes), a dropped
//! guard unlocks, and a lock future dropped after its lock was granted gives the lock back.
//! No poisoning: as tokio's, a holder that panics leaves the mutex unlocked.

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

use crate::runtime::awaiting::{self, Claim, Interest};
use crate::runtime::object::{ObjectKind, ObjectState};
use crate::runtime::{point_at, with_state, ExecState, LazyObject, ObjectId, OpKind, TaskId};
use crate::sync::{object_id, refuse_shared_value};

/// An async mutual-exclusion lock, as `tokio::sync::Mutex`.
///
/// ```
/// use selvedge::tokio::sync::Mutex;
/// use std::sync::Arc;
///
/// selvedge::model(|| {
///     selvedge::future::block_on(async {
///         let m = Arc::new(Mutex::new(1));
///         {
///             let mut guard = m.lock().await;
///             *guard += 1;
///         }
///         assert_eq!(*m.lock_owned().await, 2);
///     });
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    object: LazyObject,
    created_at: &'static Location<'static>,
    zero_sized: bool,
    data: UnsafeCell<T>,
}

// SAFETY: the model grants the lock to one task at a time; the guard is the only access path.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// `try_lock` found the mutex held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryLockError(());

impl TryLockError {
    pub(super) fn new() -> TryLockError {
        TryLockError(())
    }
}

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            object: LazyObject::new(),
            created_at: Location::caller(),
            zero_sized: std::mem::size_of::<T>() == 0,
            data: UnsafeCell::new(value),
        }
    }

    /// As [`Mutex::new`], usable in a `static` (only for a zero-sized value: a value kept
    /// across executions would make them depend on each other).
    #[track_caller]
    pub const fn const_new(value: T) -> Mutex<T> {
        Mutex {
            object: LazyObject::new(),
            created_at: Location::caller(),
            zero_sized: std::mem::size_of::<T>() == 0,
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

fn free(s: &ExecState, _: TaskId, interest: &Interest) -> bool {
    let id = interest.op.object.expect("a lock interest names its mutex");
    matches!(
        s.objects[id.index()].state,
        ObjectState::Mutex { holder: None, .. }
    )
}

fn take(s: &mut ExecState, task: TaskId, interest: &Interest) {
    let id = interest.op.object.expect("a lock interest names its mutex");
    match s.object(id) {
        ObjectState::Mutex { holder, .. } => {
            assert!(holder.is_none(), "an async lock was granted while held");
            *holder = Some((task, interest.op.location));
        }
        _ => unreachable!("object is not a mutex"),
    }
    s.hb_acquire(id);
}

/// Releases mutex `id` as a scheduling point at `locked_at`. The current task need not be the
/// one that locked it: a guard is `Send`, and a task may hand it to another (a spawned task
/// that finishes the work), as with tokio.
fn unlock(id: ObjectId, locked_at: &'static Location<'static>) {
    point_at(OpKind::Unlock, Some(id), locked_at);
    with_state("selvedge::tokio::sync::Mutex unlock", |s| {
        match s.object(id) {
            ObjectState::Mutex { holder, .. } => {
                assert!(
                    holder.is_some(),
                    "an async mutex was released while unlocked"
                );
                *holder = None;
            }
            _ => unreachable!("object is not a mutex"),
        }
        s.hb_release(id);
    });
}

impl<T: ?Sized> Mutex<T> {
    #[track_caller]
    fn id(&self) -> ObjectId {
        let registered = object_id(
            &self.object,
            ObjectKind::Mutex,
            self.created_at,
            "selvedge::tokio::sync::Mutex::lock",
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

    /// Waits for the lock.
    #[track_caller]
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            acquire: Acquire::new(Location::caller()),
        }
    }

    /// Takes the lock if it is free, without waiting.
    #[track_caller]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.try_lock_at(Location::caller())
    }

    fn try_lock_at(
        &self,
        at: &'static Location<'static>,
    ) -> Result<MutexGuard<'_, T>, TryLockError> {
        let id = self.id();
        point_at(OpKind::TryLock, Some(id), at);
        let taken = with_state("Mutex::try_lock", |s| {
            let current = s.current;
            match s.object(id) {
                ObjectState::Mutex { holder, .. } if holder.is_none() => {
                    *holder = Some((current, at));
                    s.hb_acquire(id);
                    true
                }
                _ => false,
            }
        });
        if taken {
            Ok(MutexGuard {
                mutex: self,
                id,
                locked_at: at,
            })
        } else {
            Err(TryLockError(()))
        }
    }

    /// Waits for the lock and returns a guard that owns its `Arc` (it may outlive the borrow).
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> LockOwned<T> {
        LockOwned {
            mutex: Some(self),
            acquire: Acquire::new(Location::caller()),
        }
    }

    /// Takes the lock if it is free, returning a guard that owns an `Arc` of the mutex.
    #[track_caller]
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        let at = Location::caller();
        let guard = self.try_lock_at(at)?;
        let id = guard.id;
        std::mem::forget(guard);
        Ok(OwnedMutexGuard {
            mutex: self,
            id,
            locked_at: at,
        })
    }

    /// Waits for the lock from a thread of the model (tokio's `blocking_lock`).
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        crate::future::block_on(self.lock())
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// The interest of a lock future, shared by `Lock` and `LockOwned`.
struct Acquire {
    interest: u64,
    generation: u64,
    at: &'static Location<'static>,
    id: Option<ObjectId>,
}

impl Acquire {
    fn new(at: &'static Location<'static>) -> Acquire {
        Acquire {
            interest: 0,
            generation: 0,
            at,
            id: None,
        }
    }

    /// Polls for the lock of the mutex `id` returns: `Ready` once this task holds it.
    fn poll(&mut self, cx: &Context<'_>, id: impl FnOnce() -> ObjectId) -> Poll<ObjectId> {
        if !crate::runtime::in_model() {
            crate::time::outside_model_poll("selvedge::tokio::sync::Mutex");
        }
        if self.interest == 0 {
            let id = id();
            self.id = Some(id);
            let wants = awaiting::Wants {
                kind: OpKind::Lock,
                object: Some(id),
                arg: 0,
                deadline: None,
                ready: free,
                grant: take,
            };
            (self.interest, self.generation) = awaiting::register_in_execution(cx, wants, self.at);
            return Poll::Pending;
        }
        match awaiting::claim(self.interest, self.generation, cx) {
            Claim::Waiting => Poll::Pending,
            Claim::Granted => {
                self.interest = 0;
                Poll::Ready(self.id.take().expect("a granted lock names its mutex"))
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.interest != 0 && awaiting::cancel(self.interest, self.generation) {
            // Granted, then dropped before it was polled again (a `select!` took another
            // branch, the task was aborted): the lock goes back.
            let id = self.id.expect("a granted lock names its mutex");
            unlock(id, self.at);
        }
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    acquire: Acquire,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let mutex = self.mutex;
        let at = self.acquire.at;
        self.acquire.poll(cx, || mutex.id()).map(|id| MutexGuard {
            mutex,
            id,
            locked_at: at,
        })
    }
}

/// The future of [`Mutex::lock_owned`].
#[must_use = "futures do nothing unless awaited"]
pub struct LockOwned<T: ?Sized> {
    mutex: Option<Arc<Mutex<T>>>,
    acquire: Acquire,
}

impl<T: ?Sized> Future for LockOwned<T> {
    type Output = OwnedMutexGuard<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedMutexGuard<T>> {
        let this = &mut *self;
        let mutex = this.mutex.as_ref().expect("polled after completion");
        let at = this.acquire.at;
        match this.acquire.poll(cx, || mutex.id()) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(id) => Poll::Ready(OwnedMutexGuard {
                mutex: this.mutex.take().expect("checked above"),
                id,
                locked_at: at,
            }),
        }
    }
}

/// Holds the lock; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    id: ObjectId,
    locked_at: &'static Location<'static>,
}

// As tokio's: shared access to a guard hands out `&T` (so `T: Sync`), and the guard stands
// for the lock (so `T: Send`), narrower than what `&Mutex<T>` alone would give.
unsafe impl<T: ?Sized + Send + Sync> Sync for MutexGuard<'_, T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the model granted this task the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the model granted this task the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        unlock(self.id, self.locked_at);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Holds the lock and an `Arc` of its mutex; unlocks when dropped.
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    id: ObjectId,
    locked_at: &'static Location<'static>,
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the model granted this task the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the model granted this task the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        unlock(self.id, self.locked_at);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// A guard for a part of the locked value (a field, an element), holding the same lock,
    /// as tokio's `MutexGuard::map`.
    ///
    /// ```
    /// use selvedge::tokio::sync::{Mutex, MutexGuard};
    ///
    /// selvedge::model(|| {
    ///     selvedge::future::block_on(async {
    ///         let pair = Mutex::new((1, String::new()));
    ///         let mut name = MutexGuard::map(pair.lock().await, |(_, name)| name);
    ///         name.push_str("selvedge");
    ///         drop(name); // unlocks
    ///         assert_eq!(pair.lock().await.1, "selvedge");
    ///     });
    /// });
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedMutexGuard<'a, U> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](MutexGuard::map), if `f` finds the part; otherwise the guard back.
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        match f(&mut *this).map(|part| part as *mut U) {
            Some(part) => {
                // The lock passes to the new guard, which unlocks it.
                let this = ManuallyDrop::new(this);
                Ok(MappedMutexGuard::holding(part, this.id, this.locked_at))
            }
            None => Err(this),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

/// A guard for a part of a locked value, made by [`MutexGuard::map`]; dropping it unlocks
/// the mutex.
pub struct MappedMutexGuard<'a, T: ?Sized> {
    data: *mut T,
    id: ObjectId,
    locked_at: &'static Location<'static>,
    _borrow: PhantomData<&'a mut T>,
}

// SAFETY: as a `&mut T`: the model granted the lock to the task that holds the guard.
unsafe impl<T: ?Sized + Send> Send for MappedMutexGuard<'_, T> {}
unsafe impl<T: ?Sized + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// A guard for a part of this part, holding the same lock.
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedMutexGuard<'a, U> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](MappedMutexGuard::map), if `f` finds the part; otherwise the guard back.
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        match f(&mut *this).map(|part| part as *mut U) {
            Some(part) => {
                let this = ManuallyDrop::new(this);
                Ok(MappedMutexGuard::holding(part, this.id, this.locked_at))
            }
            None => Err(this),
        }
    }

    /// A guard for `data`, holding the lock of mutex `id`.
    fn holding(data: *mut T, id: ObjectId, locked_at: &'static Location<'static>) -> Self {
        MappedMutexGuard {
            data,
            id,
            locked_at,
            _borrow: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the model granted this task the lock, and the part lives as long as it.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        unlock(self.id, self.locked_at);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// A guard for a part of the locked value that owns the mutex's `Arc`, as tokio's
    /// `OwnedMutexGuard::map`.
    pub fn map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> OwnedMappedMutexGuard<T, U> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](OwnedMutexGuard::map), if `f` finds the part; otherwise the guard back.
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<OwnedMappedMutexGuard<T, U>, Self> {
        match f(&mut *this).map(|part| part as *mut U) {
            Some(part) => {
                let this = ManuallyDrop::new(this);
                // SAFETY: `this` is never dropped: its `Arc` moves out exactly once.
                let mutex = unsafe { std::ptr::read(&this.mutex) };
                Ok(OwnedMappedMutexGuard::holding(
                    part,
                    mutex,
                    this.id,
                    this.locked_at,
                ))
            }
            None => Err(this),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.mutex
    }
}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    /// A guard for a part of this part, holding the same lock.
    pub fn map<V: ?Sized>(
        this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> OwnedMappedMutexGuard<T, V> {
        Self::try_map(this, |value| Some(f(value))).unwrap_or_else(|_| unreachable!())
    }

    /// As [`map`](OwnedMappedMutexGuard::map), if `f` finds the part; otherwise the guard
    /// back.
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> Option<&mut V>,
    ) -> Result<OwnedMappedMutexGuard<T, V>, Self> {
        match f(&mut *this).map(|part| part as *mut V) {
            Some(part) => {
                let this = ManuallyDrop::new(this);
                // SAFETY: `this` is never dropped: its `Arc` moves out exactly once.
                let mutex = unsafe { std::ptr::read(&this.mutex) };
                Ok(OwnedMappedMutexGuard::holding(
                    part,
                    mutex,
                    this.id,
                    this.locked_at,
                ))
            }
            None => Err(this),
        }
    }

    /// A guard for `data`, holding the lock of `mutex`.
    fn holding(
        data: *mut U,
        mutex: Arc<Mutex<T>>,
        id: ObjectId,
        locked_at: &'static Location<'static>,
    ) -> Self {
        OwnedMappedMutexGuard {
            data,
            mutex,
            id,
            locked_at,
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.mutex
    }
}

/// A guard for a part of a locked value that owns the mutex's `Arc`, made by
/// [`OwnedMutexGuard::map`]; dropping it unlocks the mutex.
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized = T> {
    data: *mut U,
    /// Keeps the locked value alive while the part is borrowed (and names the mutex).
    mutex: Arc<Mutex<T>>,
    id: ObjectId,
    locked_at: &'static Location<'static>,
}

// SAFETY: as an `OwnedMutexGuard` and a `&mut U` it hands out.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: the model granted this task the lock, and the `Arc` keeps the value alive.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as above.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedMutexGuard<T, U> {
    fn drop(&mut self) {
        unlock(self.id, self.locked_at);
    }
}

impl<T: ?Sized, U: ?Sized + fmt::Debug> fmt::Debug for OwnedMappedMutexGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}
