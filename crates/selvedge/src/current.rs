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

/// A vector clock: what a task knows of each task's progress (entry `i` for task `i`), through
/// the synchronisation the code promises: spawn, join, lock handoffs, channels, and atomics
/// with `Release`/`Acquire` orderings (or stronger). shuttle's `VectorClock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorClock(Vec<u32>);

impl VectorClock {
    /// Task `i`'s entry (0 if nothing of it is known).
    pub fn get(&self, i: usize) -> u32 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// The entries, by task.
    pub fn iter(&self) -> std::slice::Iter<'_, u32> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The running task's vector clock. With the `vector-clocks` feature, causality is tracked from
/// the first step of every execution (which costs a little on every synchronising operation);
/// without it the clock is empty, as shuttle's is without its feature of the same name.
///
/// ```
/// selvedge::model(|| {
///     let t = selvedge::thread::spawn(|| selvedge::current::clock());
///     let child = t.join().unwrap();
///     if cfg!(feature = "vector-clocks") {
///         assert!(child.get(0) > 0, "a thread knows what its parent did before spawning it");
///     } else {
///         assert!(child.is_empty());
///     }
/// });
/// ```
///
/// # Panics
/// Outside a model.
pub fn clock() -> VectorClock {
    with_state("selvedge::current::clock", |s| {
        if !cfg!(feature = "vector-clocks") {
            return VectorClock(Vec::new());
        }
        let task = s.current;
        let hb = s.hb.get_or_insert_with(Default::default);
        VectorClock(hb.clock_of(task))
    })
}
