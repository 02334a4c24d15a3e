//! The pool on selvedge's primitives, for the model (the "exactly why" half of the story).

mod sync {
    pub(crate) use selvedge::sync::{Condvar, Mutex};
}
use selvedge::thread;

// The same source compiles once per facade, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "pool.rs"]
pub(crate) mod pool;
