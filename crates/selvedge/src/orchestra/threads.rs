//! Task threads: each thread task runs on a fresh OS thread per execution, which waits for its
//! first turn before calling the task's closure. Also the panic hook that tells the report
//! where a task (or the check) panicked.
//!
//! Invariant: a task thread always reports how it ended (`Stage::finish`), whether its closure
//! returned, panicked, or was made to leave an ended execution (`Abandoned`); the report gets
//! the panic's message and location, and nothing is printed for it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;

use super::stage::{Outcome, Stage};
use super::{acting_for, Abandoned, TaskToken, ThreadTask};
use crate::syncpoint::Active;
use crate::trace::panic_message;

thread_local! {
    /// Panics on this thread are recorded for a report instead of printed.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    /// Where the latest recorded panic happened.
    static LAST_PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if RECORDING.with(Cell::get) {
                let at = info.location().map(ToString::to_string);
                LAST_PANIC_AT.with(|l| *l.borrow_mut() = at);
                return;
            }
            previous(info);
        }));
    });
}

/// Runs `f` (a `catch_unwind`) with this thread's panics recorded; a panic comes back with
/// the location the hook saw.
pub(crate) fn recording_panics<R>(
    f: impl FnOnce() -> std::thread::Result<R>,
) -> Result<R, (Box<dyn Any + Send>, Option<String>)> {
    install_hook();
    let was = RECORDING.with(|r| r.replace(true));
    LAST_PANIC_AT.with(|l| l.borrow_mut().take());
    let result = f();
    RECORDING.with(|r| r.set(was));
    result.map_err(|payload| (payload, LAST_PANIC_AT.with(|l| l.borrow_mut().take())))
}

/// How a task's code ended, from its `catch_unwind`.
pub(crate) fn outcome<R>(result: Result<R, (Box<dyn Any + Send>, Option<String>)>) -> Outcome {
    match result {
        Ok(_) => Outcome::Returned,
        Err((payload, _)) if payload.is::<Abandoned>() => Outcome::Abandoned,
        Err((payload, location)) => Outcome::Panicked {
            message: panic_message(payload.as_ref()),
            location,
        },
    }
}

/// Starts task `index` on its own thread.
pub(crate) fn spawn<S: Send + Sync + 'static>(
    stage: Arc<Stage>,
    index: usize,
    body: ThreadTask<S>,
    fixture: Arc<S>,
    stack_bytes: usize,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("selvedge-task-{index}"))
        .stack_size(stack_bytes)
        .spawn(move || {
            // Keeps syncpoints awake on this thread even if it outlives the exploration.
            let _active = Active::enter();
            let token = TaskToken {
                stage: stage.clone(),
                index,
            };
            let outcome = acting_for(&token, false, || {
                if !stage.wait_turn(index, 0) {
                    return Outcome::Abandoned;
                }
                outcome(recording_panics(|| {
                    panic::catch_unwind(AssertUnwindSafe(|| body(&fixture)))
                }))
            });
            drop(fixture);
            stage.finish(index, outcome);
        })
}
