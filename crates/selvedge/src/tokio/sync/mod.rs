//! Async synchronisation primitives in tokio's shapes. Each awaited acquisition is one
//! scheduling point of the model, enabled exactly when it can succeed, so DPOR treats an
//! awaited `lock` as it treats a thread's.

mod mutex;

pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
