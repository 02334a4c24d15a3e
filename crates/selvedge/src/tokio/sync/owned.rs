//! tokio's owned-guard methods (`lock_owned`, `read_owned`, `acquire_owned`, ...) take
//! `self: std::sync::Arc<Self>`, as tokio's do. These give the same methods to a
//! `selvedge::sync::Arc` of the same primitive, which is not std's (it is tracked for the leak
//! check): the reference leaves the model's tracking and becomes the std `Arc` the guard holds.

use crate::sync::Arc;

use super::mutex::LockOwned;
use super::{
    AcquireOwned, Mutex, Notify, OwnedMutexGuard, OwnedNotified, OwnedRwLockReadGuard,
    OwnedRwLockWriteGuard, OwnedSemaphorePermit, ReadOwned, RwLock, Semaphore, TryAcquireError,
    TryLockError, WriteOwned,
};

impl<T: ?Sized> Arc<Mutex<T>> {
    /// [`Mutex::lock_owned`].
    #[track_caller]
    pub fn lock_owned(self) -> LockOwned<T> {
        Mutex::lock_owned(self.into_std())
    }

    /// [`Mutex::try_lock_owned`].
    #[track_caller]
    pub fn try_lock_owned(self) -> Result<OwnedMutexGuard<T>, TryLockError> {
        Mutex::try_lock_owned(self.into_std())
    }
}

impl<T: ?Sized> Arc<RwLock<T>> {
    /// [`RwLock::read_owned`].
    #[track_caller]
    pub fn read_owned(self) -> ReadOwned<T> {
        RwLock::read_owned(self.into_std())
    }

    /// [`RwLock::write_owned`].
    #[track_caller]
    pub fn write_owned(self) -> WriteOwned<T> {
        RwLock::write_owned(self.into_std())
    }

    /// [`RwLock::try_read_owned`].
    #[track_caller]
    pub fn try_read_owned(self) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        RwLock::try_read_owned(self.into_std())
    }

    /// [`RwLock::try_write_owned`].
    #[track_caller]
    pub fn try_write_owned(self) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        RwLock::try_write_owned(self.into_std())
    }
}

impl Arc<Semaphore> {
    /// [`Semaphore::acquire_owned`].
    #[track_caller]
    pub fn acquire_owned(self) -> AcquireOwned {
        Semaphore::acquire_owned(self.into_std())
    }

    /// [`Semaphore::acquire_many_owned`].
    #[track_caller]
    pub fn acquire_many_owned(self, n: u32) -> AcquireOwned {
        Semaphore::acquire_many_owned(self.into_std(), n)
    }

    /// [`Semaphore::try_acquire_owned`].
    #[track_caller]
    pub fn try_acquire_owned(self) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        Semaphore::try_acquire_owned(self.into_std())
    }

    /// [`Semaphore::try_acquire_many_owned`].
    #[track_caller]
    pub fn try_acquire_many_owned(self, n: u32) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        Semaphore::try_acquire_many_owned(self.into_std(), n)
    }
}

impl Arc<Notify> {
    /// [`Notify::notified_owned`].
    #[track_caller]
    pub fn notified_owned(self) -> OwnedNotified {
        Notify::notified_owned(self.into_std())
    }
}
