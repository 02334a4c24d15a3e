//! The panic hook: inside a model it records a panic's message and location for the report
//! instead of printing it; a panic Rust would turn into a process abort (one raised while a
//! task is already unwinding) abandons that task instead, so the test process survives.
//!
//! Outside a model the previous hook runs unchanged.
//!
//! Invariant: the hook never panics and never borrows the execution state if it is already
//! borrowed (an engine assertion may be the panic being reported).

use std::panic::{self, PanicHookInfo};
use std::sync::Once;

use super::task::payload_text;
use super::{ExecState, CURRENT};
use crate::report::FailureKind;

/// The message std gives the panic that ends unwinding through a panicking destructor.
const CLEANUP_PANIC: &str = "panic in a destructor during cleanup";

pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !handle(info) {
                previous(info);
            }
        }));
    });
}

/// Returns whether the panic was taken care of (so the previous hook must not print it).
fn handle(info: &PanicHookInfo<'_>) -> bool {
    let ptr = CURRENT.with(|c| c.get());
    if ptr.is_null() {
        return false;
    }
    // SAFETY: see `try_with_state`.
    let cell = unsafe { &*ptr };
    let Ok(mut state) = cell.try_borrow_mut() else {
        return false;
    };
    if !state.in_task() {
        return false;
    }
    let message = payload_text(info.payload());
    let location = info
        .location()
        .map(|l| l.to_string())
        .unwrap_or_else(|| "unknown location".to_string());
    if message.contains(CLEANUP_PANIC) {
        let yielder = abandon_current(&mut state);
        drop(state);
        // Never returns: the task's stack is dropped without unwinding by the scheduler.
        // SAFETY: we run on the current task's coroutine stack, which owns this yielder.
        unsafe { (*yielder).suspend(()) };
        unreachable!("an abandoned task was resumed");
    }
    let current = state.current;
    let panics = &mut state.tasks[current.index()].panics;
    if panics.len() < 8 {
        panics.push((message, location));
    }
    true
}

fn abandon_current(state: &mut ExecState) -> *const corosensei::Yielder<(), ()> {
    let current = state.current;
    let name = state.task_name(current);
    let mut history = String::new();
    for (message, at) in &state.tasks[current.index()].panics {
        history.push_str(&format!("\n    panic at {at}: {message}"));
    }
    state.failure = None;
    state.fail(
        FailureKind::Panic,
        format!(
            "{name} panicked while already unwinding (a `Drop` panicked during a panic), \
             which would abort a real process; its panics, first to last:{history}"
        ),
    );
    let task = &mut state.tasks[current.index()];
    task.abandoned = true;
    state.thread_poisoned = true;
    state.tasks[current.index()].yielder
}
