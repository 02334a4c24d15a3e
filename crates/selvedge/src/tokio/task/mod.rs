//! Tasks in tokio's shapes: spawning, yielding, joining, aborting, `JoinSet` and task-local
//! values. Every spawned future is a task of the model (see [`crate::future`]).

mod join_set;
mod task_local;

pub use crate::future::{spawn, yield_now, AbortHandle, JoinError, JoinHandle};
pub use join_set::{JoinNext, JoinSet};
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};

/// Spawns `future` as a task (the model has one thread, so a local task is any task).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    spawn(future)
}

/// Runs `f` as a task of its own: inside the model a blocking closure is a task like any
/// other, and selvedge's blocking primitives (`selvedge::sync`) inside it are scheduling
/// points. (`std` blocking calls would stall the model: use selvedge's.)
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + 'static,
    R: 'static,
{
    spawn(async move { f() })
}

/// Runs `f` at once: the model has no worker threads to hand the task to.
pub fn block_in_place<F: FnOnce() -> R, R>(f: F) -> R {
    f()
}
