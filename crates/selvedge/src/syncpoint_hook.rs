//! What a `syncpoint!` does outside a model and outside the orchestra: nothing, unless the OS
//! thread that reaches it installed a hook. The stress harness installs one on its worker
//! threads, to remember the last syncpoint each thread passed (its watchdog report names it)
//! and to turn syncpoints into random yields and short sleeps.
//!
//! Invariant: a hook belongs to the thread that installed it, so the other threads of the
//! process (other tests, an orchestra's threads) never run it. While one is installed the
//! thread counts in `syncpoint::ACTIVE`, so syncpoints leave their one-load fast path only
//! while some run (a model, an orchestra, a stress run) is live.

use std::cell::Cell;
use std::panic::Location;

use crate::syncpoint::Active;

/// A hook is a plain function: it finds its own state in thread-locals of its owner.
pub(crate) type Hook = fn(Option<&'static str>, &'static Location<'static>);

thread_local! {
    static HOOK: Cell<Option<Hook>> = const { Cell::new(None) };
}

/// A hook installed on this thread; dropping it puts back the previous one.
pub(crate) struct Installed {
    previous: Option<Hook>,
    _active: Active,
}

/// Installs `hook` for the calling thread until the returned guard is dropped.
#[cfg_attr(not(feature = "stress"), allow(dead_code))]
pub(crate) fn install(hook: Hook) -> Installed {
    Installed {
        previous: HOOK.with(|h| h.replace(Some(hook))),
        _active: Active::enter(),
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        // `try_with`: a guard dropped while thread-locals are torn down has nothing to restore.
        let _ = HOOK.try_with(|h| h.set(self.previous));
    }
}

/// Called by a syncpoint taken outside a model.
pub(crate) fn passed(name: Option<&'static str>, location: &'static Location<'static>) {
    if let Some(hook) = HOOK.try_with(Cell::get).ok().flatten() {
        hook(name, location);
    }
}
