//! Tasks: the per-task bookkeeping, the coroutine that runs a task's body, and the pool of
//! stacks reused across executions.
//!
//! Invariant: a task's body never lets a panic escape its coroutine: it is caught, recorded
//! as the execution's failure, and the task finishes normally (or, for a panic that Rust
//! would turn into an abort, the task is abandoned by the panic hook and never resumed).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};

use super::{record_event, try_with_state, ExecState, Op, OpKind, TaskId};
use crate::trace::{Evidence, FailureKind, PanicSite};

pub(crate) type TaskCoroutine = Coroutine<(), (), (), DefaultStack>;

/// Settings an execution's tasks are created with (from `Config`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskSettings {
    pub(crate) stack_bytes: usize,
    pub(crate) max_tasks: usize,
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
    pub(crate) finished: bool,
    /// Abandoned mid-panic by the panic hook; never resumed again.
    pub(crate) abandoned: bool,
    /// Yielded (`yield_now`, `spin_loop`) and not to run again until another task makes
    /// progress: re-running it first could only spin.
    pub(crate) waiting_for_progress: bool,
    /// Times this task was re-run after yielding because no other task could move.
    pub(crate) futile_yields: u32,
    pub(crate) yielder: *const Yielder<(), ()>,
    pub(crate) spawned_at: &'static Location<'static>,
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
            None => format!("thread-{} (task {})", id.0, id.0),
        }
    }
}

/// A task created by `spawn`, waiting for the scheduler loop to adopt its coroutine.
pub(crate) struct Spawned {
    pub(crate) task: TaskId,
    pub(crate) coroutine: TaskCoroutine,
}

/// Stacks kept across executions so spawning a task does not map memory. Stacks are keyed
/// by their usable size (the base-to-limit distance), since the mapping may be rounded up.
#[derive(Default)]
pub(crate) struct StackPool {
    stacks: Vec<DefaultStack>,
}

impl StackPool {
    fn take(&mut self, bytes: usize) -> DefaultStack {
        if let Some(i) = self.stacks.iter().position(|s| fits(s, bytes)) {
            return self.stacks.swap_remove(i);
        }
        DefaultStack::new(bytes).unwrap_or_else(|e| {
            panic!("selvedge could not allocate a {bytes}-byte task stack ({e}); lower `Config::stack_size`")
        })
    }

    pub(crate) fn give_back(&mut self, stack: DefaultStack) {
        self.stacks.push(stack);
    }
}

/// A pooled stack serves a request if it is at least as big, and not wastefully bigger.
fn fits(stack: &DefaultStack, bytes: usize) -> bool {
    use corosensei::stack::Stack;
    let usable = stack.base().get() - stack.limit().get();
    usable >= bytes && usable <= bytes.saturating_mul(2)
}

thread_local! {
    /// The pool is per OS thread: an explorer's worker thread owns its stacks.
    static POOL: std::cell::RefCell<StackPool> = std::cell::RefCell::new(StackPool::default());
}

pub(crate) fn return_stack(coroutine: TaskCoroutine) {
    let stack = coroutine.into_stack();
    POOL.with(|p| p.borrow_mut().give_back(stack));
}

/// Creates task `id` running `body`; the scheduler adopts and primes it before its next
/// decision. Fails (with the message to show) when `Config::max_tasks` is reached.
pub(crate) fn spawn_task(
    s: &mut ExecState,
    name: Option<String>,
    stack_bytes: Option<usize>,
    body: Box<dyn FnOnce() + 'static>,
    spawned_at: &'static Location<'static>,
) -> Result<TaskId, String> {
    if s.tasks.len() >= s.settings.max_tasks {
        return Err(format!(
            "the test spawned more than {} tasks in one execution; raise `Config::max_tasks` if that is intended",
            s.settings.max_tasks
        ));
    }
    let id = TaskId(s.tasks.len() as u32);
    let bytes = stack_bytes
        .unwrap_or(s.settings.stack_bytes)
        .max(crate::limits::MIN_STACK_BYTES);
    s.tasks.push(TaskSlot {
        name,
        pending: Op {
            kind: OpKind::Start,
            object: None,
            location: spawned_at,
        },
        blocked_on: None,
        finished: false,
        abandoned: false,
        waiting_for_progress: false,
        futile_yields: 0,
        yielder: std::ptr::null(),
        spawned_at,
        panics: Vec::new(),
        locals: Vec::new(),
    });
    let stack = POOL.with(|p| p.borrow_mut().take(bytes));
    let coroutine = TaskCoroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        try_with_state(|s| s.tasks[id.index()].yielder = yielder as *const _);
        run_body(id, body);
    });
    if let Some(hb) = s.hb.as_mut() {
        hb.spawn(s.current, id);
    }
    s.spawned.push(Spawned {
        task: id,
        coroutine,
    });
    Ok(id)
}

fn run_body(id: TaskId, body: Box<dyn FnOnce() + 'static>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        record_panic(id, payload.as_ref());
    }
    destroy_locals(id);
    try_with_state(|s| {
        let at = s.tasks[id.index()].spawned_at;
        record_event(s, OpKind::TaskExit, None, at);
        if let Some(hb) = s.hb.as_mut() {
            hb.exit(id);
        }
        s.tasks[id.index()].finished = true;
    });
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
        s.current = id;
        s.fail(
            FailureKind::Panic,
            format!(
                "{name} panicked at {}:\n    {}",
                panic.location, panic.message
            ),
            Evidence::Panics(vec![panic.site()]),
        );
    });
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
