//! The panic hook: inside a model it records a panic's message and location for the report
//! instead of printing it. Outside a model the previous hook runs unchanged.
//!
//! A panic raised while a task is already unwinding (a `Drop` that panics during a panic)
//! makes Rust abort the process. We cannot stop that abort from inside the hook: the hook
//! runs under std's hook lock, and a hook that never returns keeps that lock forever (libtest
//! then hangs taking the hook at exit). So the hook records the failure, marks the task
//! doomed and returns; std releases its lock and calls `abort()`, and our `SIGABRT` handler,
//! seeing a doomed task on this thread, switches back to the scheduler instead of letting the
//! process die. The abandoned task is never resumed, and because this OS thread's panic
//! bookkeeping is now wrong, the explorer runs nothing more on it.
//!
//! Invariant: the hook never panics and never borrows the execution state if it is already
//! borrowed (an engine assertion may be the panic being reported); the signal handler only
//! reads a thread-local pointer and switches stacks.

use std::cell::Cell;
use std::io::Write as _;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

use corosensei::Yielder;

use super::task::PanicRecord;
use super::{ExecState, CURRENT};
use crate::trace::{Evidence, FailureKind};

/// The message std gives the panic that ends unwinding through a panicking destructor.
const CLEANUP_PANIC: &str = "panic in a destructor during cleanup";

thread_local! {
    /// The yielder of a task whose panic std is about to turn into an abort.
    static DOOMED: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
}

pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !handle(info) {
                previous(info);
            }
        }));
        install_abort_handler();
    });
}

static mut PREVIOUS_ABORT_ACTION: Option<libc::sigaction> = None;

fn install_abort_handler() {
    // SAFETY: plain sigaction calls; the previous action is stored once, before any abort
    // can reach our handler.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_abort as *const () as usize;
        // SA_NODEFER: the handler never returns for a doomed task, so SIGABRT must not stay
        // blocked on this thread.
        action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGABRT, &action, &mut previous) == 0 {
            PREVIOUS_ABORT_ACTION = Some(previous);
        }
    }
}

extern "C" fn on_abort(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    let yielder = DOOMED.with(|d| d.replace(std::ptr::null()));
    if !yielder.is_null() {
        // SAFETY: set by the hook for the task running on this very stack; the task is
        // marked abandoned and is never resumed, so this frame is never returned to.
        unsafe { (*yielder).suspend(()) };
    }
    // Not ours: behave as whatever handled SIGABRT before us.
    // SAFETY: restoring the saved action and re-raising is what a chained handler does.
    unsafe {
        #[allow(static_mut_refs)]
        let handled = PREVIOUS_ABORT_ACTION
            .as_ref()
            .is_some_and(|p| super::signals::call_previous(p, signal, info, context));
        if !handled {
            libc::signal(libc::SIGABRT, libc::SIG_DFL);
            libc::raise(libc::SIGABRT);
        }
    }
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
    let message = crate::trace::panic_message(info.payload());
    let location = info
        .location()
        .map(|l| l.to_string())
        .unwrap_or_else(|| "unknown location".to_string());
    if message.contains(CLEANUP_PANIC) {
        let yielder = abandon_current(&mut state);
        DOOMED.with(|d| d.set(yielder));
        let _ = writeln!(
            std::io::stderr(),
            "selvedge: a task panicked while unwinding; the abort std announces next is \
             intercepted and reported as a failure, and the test process goes on"
        );
        return true;
    }
    let current = state.current;
    let trace_len = state.trace.len();
    let panics = &mut state.tasks[current.index()].panics;
    if panics.len() == crate::limits::MAX_PANICS_KEPT {
        // Keep the latest: the panic that fails the task is always recorded.
        panics.remove(0);
    }
    panics.push(PanicRecord {
        message,
        location,
        trace_len,
    });
    true
}

fn abandon_current(state: &mut ExecState) -> *const corosensei::Yielder<(), ()> {
    let current = state.current;
    let name = state.task_name(current);
    let mut history = String::new();
    let panics = &state.tasks[current.index()].panics;
    for panic in panics {
        history.push_str(&format!(
            "\n    panic at {}: {}",
            panic.location, panic.message
        ));
    }
    let evidence = Evidence::Panics(panics.iter().map(PanicRecord::site).collect());
    state.failure = None;
    state.fail(
        FailureKind::Panic,
        format!(
            "{name} panicked while already unwinding (a `Drop` panicked during a panic), \
             which would abort a real process; its panics, first to last:{history}"
        ),
        evidence,
    );
    let task = &mut state.tasks[current.index()];
    task.abandoned = true;
    state.thread_poisoned = true;
    state.tasks[current.index()].yielder
}
