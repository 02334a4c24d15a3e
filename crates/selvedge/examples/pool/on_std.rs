//! The pool on std's primitives, for real OS threads (the stress half of the story).

mod sync {
    pub(crate) use std::sync::{Condvar, Mutex};
}
use std::thread;

// The same source compiles once per facade, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "pool.rs"]
pub(crate) mod pool;
