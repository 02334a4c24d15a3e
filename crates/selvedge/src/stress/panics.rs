//! Panics in the code under test become error messages, not crashes and not noise: while a
//! harness thread runs an operation, a fault or an invariant, a panic is caught, and the panic
//! hook keeps its location for the message instead of printing it.
//!
//! Invariant: the hook is installed once, after the model's own, chained to whatever hook was
//! there before, and is silent only on a thread inside `catching`; every other panic of the
//! process is handled as before.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_once() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Taking a hook and setting its wrapper are two steps: had the model been installing
        // its own hook at the same time (a model test beside this stress test), one of the two
        // would be lost. One tiny exploration makes sure the model's hook is in place first
        // (its installation is a `Once`, which waits for an installation under way).
        let _ = crate::explore(
            crate::Config {
                max_schedules: Some(1),
                workers: Some(1),
                ..Default::default()
            },
            || {},
        );
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while thread-locals are torn down goes to the previous hook.
            if CATCHING.try_with(Cell::get).unwrap_or(false) {
                let location = info.location().map(|l| l.to_string());
                let _ = LOCATION.try_with(|slot| *slot.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into its message (`message (at file:line:column)`).
pub(crate) fn catching<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_once();
    let outer = CATCHING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(outer));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a payload that is not a string".to_string());
        match LOCATION.with(|slot| slot.borrow_mut().take()) {
            Some(location) => format!("{message} (at {location})"),
            None => message,
        }
    })
}
