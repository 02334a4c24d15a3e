//! Async synchronisation primitives in tokio's shapes. Each awaited acquisition is one
//! scheduling point of the model, enabled exactly when it can succeed, so DPOR treats an
//! awaited `lock` as it treats a thread's.

/// Defines a channel's `SendError<T>` (the value that could not be sent comes back), one type
/// per channel kind as in tokio, from one definition. `$doc` says when the send fails.
macro_rules! send_error {
    ($doc:literal) => {
        #[doc = $doc]
        #[derive(PartialEq, Eq, Clone, Copy)]
        pub struct SendError<T>(pub T);

        impl<T> std::fmt::Debug for SendError<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("SendError").finish_non_exhaustive()
            }
        }

        impl<T> std::fmt::Display for SendError<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("channel closed")
            }
        }

        impl<T> std::error::Error for SendError<T> {}
    };
}

mod barrier;
mod mutex;
mod notify;
mod once_cell;
mod owned;
mod rwlock;
mod semaphore;

pub mod broadcast;

/// The futures of `Notify`, where tokio puts them.
pub mod futures {
    pub use super::notify::{Notified, OwnedNotified};
}
pub mod mpsc;
pub mod oneshot;
pub mod watch;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use mutex::{
    MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard, TryLockError,
};
pub use notify::{Notified, Notify, OwnedNotified};
pub use once_cell::{OnceCell, SetError};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, Read, ReadOwned, RwLock, RwLockMappedWriteGuard,
    RwLockReadGuard, RwLockWriteGuard, Write, WriteOwned,
};
pub use semaphore::{
    Acquire, AcquireError, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
    TryAcquireError,
};
