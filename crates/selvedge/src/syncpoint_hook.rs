//! What a `syncpoint!` does outside a model: nothing, unless the OS thread that reaches it
//! installed a hook. The stress harness installs one on its worker threads, to remember the
//! last syncpoint each thread passed (its watchdog report names it) and to turn syncpoints into
//! random yields and short sleeps.
//!
//! Invariant: a hook belongs to the thread that installed it, so the other threads of the
//! process (other tests, an orchestra's threads) never run it; with no hook installed a
//! syncpoint costs one more thread-local read.

use std::cell::Cell;
use std::panic::Location;

/// A hook is a plain function: it finds its own state in thread-locals of its owner.
pub(crate) type Hook = fn(&'static Location<'static>);

thread_local! {
    static HOOK: Cell<Option<Hook>> = const { Cell::new(None) };
}

/// Installs `hook` for the calling thread (or removes it, with `None`), returning the previous one.
#[cfg_attr(not(feature = "stress"), allow(dead_code))]
pub(crate) fn set(hook: Option<Hook>) -> Option<Hook> {
    HOOK.with(|h| h.replace(hook))
}

/// Called by `syncpoint!` outside a model.
#[inline]
pub(crate) fn passed(location: &'static Location<'static>) {
    if let Some(hook) = HOOK.with(Cell::get) {
        hook(location);
    }
}
