//! Tasks: the per-task bookkeeping, the coroutine that runs a task's body, and the pool of
//! stacks reused across executions.
//!
//! Invariant: a task's body never lets a panic escape its coroutine: it is caught, recorded
//! as the execution's failure, and the task finishes normally (or, for a panic that Rust
//! would turn into an abort, the task is abandoned by the panic hook and never resumed).
//! A task that overflows its stack is ended by `overflow_trap`: its coroutine returns
//! `TaskEnd::StackOverflow`, and `record_overflow` abandons it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

use corosensei::stack::{DefaultStack, Stack};
use corosensei::{Coroutine, Yielder};

use super::awaiting::AsyncSlot;
use super::overflow_trap;
use super::{record_event, try_with_state, ExecState, Op, OpKind, TaskId};
use crate::trace::{Evidence, FailureKind, PanicSite};

/// How a task's coroutine ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskEnd {
    /// The body returned (or panicked, which `run_body` caught).
    Finished,
    /// The task ran into its stack's guard page; `overflow_trap` discarded its stack.
    StackOverflow,
}

pub(crate) type TaskCoroutine = Coroutine<(), (), TaskEnd, DefaultStack>;

/// Settings an execution's tasks are created with (from `Config`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskSettings {
    pub(crate) stack_bytes: usize,
    pub(crate) max_tasks: usize,
    /// `Config::seed`, which `selvedge::rand` mixes with the interleaving so far.
    pub(crate) data_seed: u64,
    /// `Config::spurious_wakeups`.
    pub(crate) spurious_wakeups: bool,
}

/// A slot of `thread_local!` storage in one task.
pub(crate) enum LocalSlot {
    Empty,
    Alive(Box<dyn Any>),
    /// Destroyed at task exit: `try_with` now errs, as std's does.
    Destroyed,
}

pub(crate) struct TaskSlot {
    pub(crate) name: Option<String>,
    pub(crate) pending: Op,
    /// Blocked outside its pending op: waiting on this condvar until notified.
    pub(crate) blocked_on: Option<super::ObjectId>,
    /// A timed wait's deadline on the virtual clock: once the clock reaches it, the pending
    /// operation proceeds whether or not what it waits for happened (see `point_until`).
    pub(crate) deadline: Option<u64>,
    /// Suspended at an `.await` (`awaiting::wait`): enabled exactly when
    /// `ExecState::await_ready` says so, whatever its pending operation.
    pub(crate) awaiting: bool,
    /// Async bookkeeping: what its futures wait for, its waker, abort.
    pub(crate) asynchronous: super::awaiting::AsyncSlot,
    pub(crate) finished: bool,
    /// Abandoned mid-panic by the panic hook; never resumed again.
    pub(crate) abandoned: bool,
    /// Yielded (`yield_now`, `spin_loop`) and not to run again until another task makes
    /// progress: re-running it first could only spin.
    pub(crate) waiting_for_progress: bool,
    /// Times this task was re-run after yielding because no other task could move.
    pub(crate) futile_yields: u32,
    /// The task already woke once without a notification (`Config::spurious_wakeups`): its
    /// waits now end only when notified, so no execution is endless.
    pub(crate) woke_spuriously: bool,
    pub(crate) yielder: *const Yielder<(), ()>,
    pub(crate) spawned_at: &'static Location<'static>,
    /// Bytes of stack the task was given, and whether `thread::Builder::stack_size` set them
    /// (otherwise `Config::stack_size` did).
    pub(crate) stack_bytes: usize,
    pub(crate) stack_set_by_builder: bool,
    /// Each panic this task raised, oldest first (set by the hook).
    pub(crate) panics: Vec<PanicRecord>,
    pub(crate) locals: Vec<LocalSlot>,
}

/// A panic as the hook saw it.
pub(crate) struct PanicRecord {
    pub(crate) message: String,
    pub(crate) location: String,
    /// How many trace events came before it: the ones after it ran while unwinding.
    pub(crate) trace_len: usize,
}

impl PanicRecord {
    /// Where the panic was raised, as a report shows it.
    pub(crate) fn site(&self) -> PanicSite {
        PanicSite {
            location: self.location.clone(),
            trace_len: self.trace_len,
        }
    }
}

impl TaskSlot {
    pub(crate) fn display_name(&self, id: TaskId) -> String {
        match &self.name {
            Some(name) => format!("{name} (task {})", id.0),
            None if id.0 == 0 => "main (task 0)".to_string(),
            // Named when a report needs it, not at every async spawn (a hot path).
            None if self.asynchronous.abortable => format!("async-{} (task {})", id.0, id.0),
            None => format!("thread-{} (task {})", id.0, id.0),
        }
    }
}

/// A task's coroutine, the size its stack was asked for, and what the overflow trap needs to
/// know of that stack. `spawn` makes it; the scheduler loop adopts it and owns it until the
/// task ends.
pub(crate) struct Spawned {
    pub(crate) task: TaskId,
    pub(crate) coroutine: TaskCoroutine,
    pub(crate) stack_bytes: usize,
    pub(crate) trap: overflow_trap::Target,
    pub(crate) start: TaskStart,
}

/// When a new task's code first runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskStart {
    /// Primed by the scheduler loop as soon as it adopts the task: its code runs up to its
    /// first scheduling point, as a thread's code before it touches anything shared runs
    /// right away. That point is its first step.
    Primed,
    /// Resumed for the first time when its pending `start` step is chosen, its code then
    /// running from the beginning: a spawned future, whose first poll is a step of its own.
    /// Nothing runs at adoption, so the loop adopts it without a switch to its stack and back.
    WhenChosen,
}

/// Stacks kept across executions so spawning a task does not map memory, each with the size
/// it was asked for. A stack serves only a request for that same size: a task's stack must
/// not depend on which stacks earlier executions left behind, or whether it overflows would.
#[derive(Default)]
pub(crate) struct StackPool {
    stacks: Vec<(usize, DefaultStack)>,
}

impl StackPool {
    fn take(&mut self, bytes: usize) -> DefaultStack {
        if let Some(i) = self.stacks.iter().position(|(b, _)| *b == bytes) {
            return self.stacks.swap_remove(i).1;
        }
        DefaultStack::new(bytes).unwrap_or_else(|e| {
            panic!("selvedge could not allocate a {bytes}-byte task stack ({e}); lower `Config::stack_size`")
        })
    }

    pub(crate) fn give_back(&mut self, bytes: usize, stack: DefaultStack) {
        self.stacks.push((bytes, stack));
    }
}

thread_local! {
    /// The pool is per OS thread: an explorer's worker thread owns its stacks.
    static POOL: std::cell::RefCell<StackPool> = std::cell::RefCell::new(StackPool::default());
}

/// Ends a task that will never run again, unfinished or never started (the execution ended
/// first), keeping its stack. Dropping its coroutine would run its destructors (a future
/// holding a lock guard, say) with no model behind them, which panics inside the coroutine's
/// drop and aborts the process: its live locals, or the captures of a body that never
/// started, are leaked instead.
pub(crate) fn abandon(mut spawned: Spawned) {
    if !spawned.coroutine.done() {
        // SAFETY: never resumed again; resetting skips the drops of its live locals (or of
        // its initial closure).
        unsafe { spawned.coroutine.force_reset() };
    }
    return_stack(spawned);
}

/// Keeps a finished coroutine's stack for a later task. If the pool is busy (only possible
/// when a task's stack overflowed inside `spawn`, which left it borrowed) the stack is freed.
pub(crate) fn return_stack(done: Spawned) {
    let stack = done.coroutine.into_stack();
    let _ = POOL.try_with(|p| {
        if let Ok(mut pool) = p.try_borrow_mut() {
            pool.give_back(done.stack_bytes, stack);
        }
    });
}

/// Whether one more task fits under `Config::max_tasks` (the message to show if not). A
/// spawner checks it before handing `spawn_task` a body, so a refused body is dropped after the
/// state borrow ends: its captures' destructors may use primitives.
pub(crate) fn check_capacity(s: &ExecState) -> Result<(), String> {
    if s.tasks.len() >= s.settings.max_tasks {
        return Err(format!(
            "the test spawned more than {} tasks in one execution; raise `Config::max_tasks` if that is intended",
            s.settings.max_tasks
        ));
    }
    Ok(())
}

/// Creates task `id` running `body`, its pending operation `start`; the scheduler adopts it
/// before its next decision, and runs it to its first scheduling point then or when its
/// `start` step is chosen, as `start` says. Fails (with the message to show) when
/// `Config::max_tasks` is reached.
///
/// A small body moves onto the task's own stack with its coroutine: spawning allocates nothing
/// for it. One over `limits::INLINE_BODY_BYTES` must be boxed by the spawner first (a
/// `Box<dyn FnOnce()>` is a small body).
pub(crate) fn spawn_task<F: FnOnce() + 'static>(
    s: &mut ExecState,
    name: Option<String>,
    stack_bytes: Option<usize>,
    body: F,
    spawned_at: &'static Location<'static>,
    start: TaskStart,
) -> Result<TaskId, String> {
    assert!(
        std::mem::size_of::<F>() <= crate::limits::INLINE_BODY_BYTES,
        "selvedge internal error: a task body of {} bytes was not boxed",
        std::mem::size_of::<F>()
    );
    check_capacity(s)?;
    let id = TaskId(s.tasks.len() as u32);
    let bytes = stack_bytes
        .unwrap_or(s.settings.stack_bytes)
        .max(crate::limits::MIN_STACK_BYTES);
    let stack_set_by_builder = stack_bytes.is_some();
    s.tasks.push(TaskSlot {
        name,
        pending: Op::new(OpKind::Start, None, spawned_at),
        blocked_on: None,
        deadline: None,
        awaiting: false,
        asynchronous: AsyncSlot {
            interests: s.spare_interests.pop().unwrap_or_default(),
            ..AsyncSlot::default()
        },
        finished: false,
        abandoned: false,
        waiting_for_progress: false,
        futile_yields: 0,
        woke_spuriously: false,
        yielder: std::ptr::null(),
        spawned_at,
        stack_bytes: bytes,
        stack_set_by_builder,
        panics: Vec::new(),
        locals: Vec::new(),
    });
    let stack = POOL.with(|p| p.borrow_mut().take(bytes));
    let stack_limit = stack.limit().get();
    let coroutine = TaskCoroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        try_with_state(|s| s.tasks[id.index()].yielder = yielder as *const _);
        run_body(id, body);
        TaskEnd::Finished
    });
    let trap = overflow_trap::Target::new(&coroutine, stack_limit, bytes);
    if let Some(hb) = s.hb.as_mut() {
        hb.spawn(s.current, id);
    }
    s.spawned.push_back(Spawned {
        task: id,
        coroutine,
        stack_bytes: bytes,
        trap,
        start,
    });
    Ok(id)
}

fn run_body<F: FnOnce()>(id: TaskId, body: F) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        record_panic(id, payload.as_ref());
    }
    loop {
        // Usually nothing is left but the exit: one borrow for it.
        let exited = try_with_state(|s| {
            let task = &s.tasks[id.index()];
            let done = !task.locals.iter().any(|l| matches!(l, LocalSlot::Alive(_)))
                && task.asynchronous.deferred_waker_ops.is_empty();
            if done {
                let at = task.spawned_at;
                record_event(s, OpKind::TaskExit, None, at);
                if let Some(hb) = s.hb.as_mut() {
                    hb.exit(id);
                }
                s.tasks[id.index()].finished = true;
            }
            done
        })
        .unwrap_or(true);
        if exited {
            return;
        }
        destroy_locals(id);
        // A wake the task's last code did (a sender's drop) still happens, as its last steps.
        super::awaiting::perform_deferred_waker_ops();
    }
}

fn record_panic(id: TaskId, payload: &(dyn Any + Send)) {
    try_with_state(|s| {
        let trace_len = s.trace.len();
        let panic = s.tasks[id.index()]
            .panics
            .pop()
            .unwrap_or_else(|| PanicRecord {
                message: crate::trace::panic_message(payload),
                location: "unknown location".to_string(),
                trace_len,
            });
        let name = s.task_name(id);
        // A task in the middle of a poll when its runtime shut down finishes that poll (as on
        // tokio's threaded runtime); its panic then is one tokio would hand to a `JoinHandle`
        // nobody reads. Reported all the same, but with what the user sees otherwise.
        let after_shutdown = s.tasks[id.index()]
            .asynchronous
            .owner
            .is_some_and(|owner| s.tasks[owner.index()].asynchronous.shut_down);
        let note = if after_shutdown {
            "\n  it panicked after its runtime shut down (the test body had returned while the \
             task was in the middle of a poll, which cancellation does not interrupt): tokio \
             would give the panic to the task's `JoinHandle` and the test would pass, but the \
             same panic happens whenever a runtime shuts down mid-task; handle the error where \
             it panicked, or await the task before the body returns"
        } else {
            ""
        };
        s.current = id;
        s.fail(
            FailureKind::Panic,
            format!(
                "{name} panicked at {}:\n    {}{note}",
                panic.location, panic.message
            ),
            Evidence::Panics(vec![panic.site()]),
        );
    });
}

/// Records that task `id` overflowed its stack. Its coroutine is gone, so it is abandoned like
/// a task that panicked while unwinding, and this OS thread is poisoned: the stack was
/// discarded wherever the task happened to be, perhaps inside std's panic machinery (whose
/// per-thread count would stay wrong) or holding a thread-local borrow, so the explorer runs
/// nothing more on it. The first failure of an execution stays its failure.
pub(crate) fn record_overflow(s: &mut ExecState, id: TaskId) {
    let task = &mut s.tasks[id.index()];
    task.abandoned = true;
    let (bytes, set_by_builder) = (task.stack_bytes, task.stack_set_by_builder);
    let name = s.task_name(id);
    let size = describe_bytes(bytes);
    let message = if set_by_builder {
        format!(
            "{name} overflowed its stack of {size} (`{bytes}` bytes, set by \
             `selvedge::thread::Builder::stack_size`); raise it where the thread is spawned \
             (`Config::stack_size` applies only to tasks that set none)"
        )
    } else {
        format!(
            "{name} overflowed its stack of {size} (`{bytes}` bytes, set by `Config::stack_size`); \
             raise `Config::stack_size`, or give one thread more with \
             `selvedge::thread::Builder::stack_size`"
        )
    };
    s.thread_poisoned = true;
    s.current = id;
    let after = s.tasks[id.index()].pending.location;
    s.fail(
        FailureKind::StackOverflow,
        message,
        Evidence::StackOverflow { after },
    );
}

/// `65536` as `64 KiB`, `2097152` as `2 MiB`.
fn describe_bytes(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    }
}

/// Thread-locals are destroyed at task exit, inside the task, so their destructors may use
/// selvedge primitives. A destructor that panics is a failure like any other panic.
fn destroy_locals(id: TaskId) {
    loop {
        // Take one value at a time: a destructor may touch other thread-locals.
        let value = try_with_state(|s| {
            let locals = &mut s.tasks[id.index()].locals;
            let i = locals
                .iter()
                .position(|l| matches!(l, LocalSlot::Alive(_)))?;
            match std::mem::replace(&mut locals[i], LocalSlot::Destroyed) {
                LocalSlot::Alive(v) => Some(v),
                _ => None,
            }
        })
        .flatten();
        let Some(value) = value else { break };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
            record_panic(id, payload.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::describe_bytes;

    #[test]
    fn stack_sizes_are_shown_in_the_largest_whole_unit() {
        assert_eq!(describe_bytes(2 * 1024 * 1024), "2 MiB");
        assert_eq!(describe_bytes(64 * 1024), "64 KiB");
        assert_eq!(describe_bytes(1536 * 1024), "1536 KiB");
        assert_eq!(describe_bytes(100_000), "97.7 KiB");
    }
}
