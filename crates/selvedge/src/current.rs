//! shuttle's `current`: which task is running, and its name. A task is a model thread or an
//! async task spawned with `future::spawn`; the model's main thread is task 0.
//!
//! ```
//! use selvedge::current;
//!
//! selvedge::model(|| {
//!     let main = current::me();
//!     let t = selvedge::thread::Builder::new()
//!         .name("worker".into())
//!         .spawn(|| (current::me(), current::get_name_for_task(current::me())))
//!         .unwrap();
//!     let (worker, name) = t.join().unwrap();
//!     assert_ne!(worker, main);
//!     assert_eq!(name.as_deref(), Some("worker"));
//! });
//! ```

use crate::runtime::{try_with_state, with_state};

/// A task of the running execution, numbered in creation order (`main` is 0), as shuttle's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(usize);

impl From<TaskId> for usize {
    fn from(id: TaskId) -> usize {
        id.0
    }
}

/// The running task.
///
/// # Panics
/// Outside a model.
pub fn me() -> TaskId {
    with_state("selvedge::current::me", |s| TaskId(s.current.index()))
}

/// The running task, or `None` outside a model.
pub fn get_current_task() -> Option<TaskId> {
    try_with_state(|s| TaskId(s.current.index()))
}

/// The name `thread::Builder::name` gave task `id`, if any (`None` outside a model).
pub fn get_name_for_task(id: TaskId) -> Option<String> {
    try_with_state(|s| s.tasks.get(id.0).and_then(|t| t.name.clone())).flatten()
}
