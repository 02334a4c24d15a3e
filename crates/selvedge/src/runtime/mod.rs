//! The controlled runtime: runs one execution of the user's test, task by task.
//!
//! Tasks (model threads) are stackful coroutines on one OS thread, so exactly one task runs
//! at a time. Before every visible operation a task records what it is about to do
//! (`point`) and suspends; the scheduler loop in `execution.rs` asks the strategy which
//! enabled task goes next and resumes it. Primitives reach the execution through a
//! thread-local pointer set only while an execution runs.
//!
//! Invariants:
//! - The runtime has no RNG and no clock that decides anything: given the strategy's choices
//!   an execution is a pure function of the user's code.
//! - A borrow of `ExecState` is never held across a suspension (`with_state` takes a closure).
//! - A task is chosen only when `ExecState::is_enabled` says so.

pub(crate) mod execution;
pub(crate) mod happens_before;
pub(crate) mod object;
pub(crate) mod op;
pub(crate) mod overflow_trap;
pub(crate) mod panic_hook;
pub(crate) mod task;

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use corosensei::Yielder;

use crate::report::{BlockedTask, FailureKind, RawFailure};
use object::{Object, ObjectKind, ObjectState, Ordinals};
pub(crate) use op::{ObjectId, Op, OpKind, TaskId};
use task::TaskSlot;

/// The mutable state of one execution, shared by the scheduler loop and the tasks.
pub(crate) struct ExecState {
    /// Globally unique number of this execution, so lazily registered objects (`const fn
    /// new` primitives, statics) know when they must register again.
    pub(crate) generation: u64,
    pub(crate) tasks: Vec<TaskSlot>,
    pub(crate) objects: Vec<Object>,
    ordinals: Ordinals,
    /// Every performed operation, in order; read by the report.
    pub(crate) trace: Vec<TraceEvent>,
    pub(crate) current: TaskId,
    /// Virtual nanoseconds: advanced by timeouts, never read from a real clock.
    pub(crate) clock_ns: u64,
    pub(crate) failure: Option<RawFailure>,
    /// Coroutines created by `spawn`, handed to the scheduler loop when it next runs.
    pub(crate) spawned: Vec<task::Spawned>,
    pub(crate) settings: task::TaskSettings,
    /// Set when a task had to be abandoned mid-panic: this OS thread's panic bookkeeping is
    /// no longer usable and the explorer must not run another execution on it.
    pub(crate) thread_poisoned: bool,
    /// True while a task (not the scheduler loop) is running.
    pub(crate) running_task: bool,
    /// Vector clocks for data-race detection, from the first `UnsafeCell` access on.
    pub(crate) hb: Option<happens_before::HappensBefore>,
}

/// One entry of the trace: an operation a task performed. `chosen` marks the ones that
/// followed a scheduling decision (the rest, such as spawn and exit, are shown for context).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceEvent {
    pub(crate) task: TaskId,
    pub(crate) op: Op,
    pub(crate) chosen: bool,
}

static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Generation numbers a thread takes from `NEXT_GENERATION` at a time, so parallel workers do
/// not contend for that counter's cache line on every execution.
const GENERATION_BLOCK: u64 = 1024;

/// A generation number no other execution, on any thread, has had.
fn next_generation() -> u64 {
    thread_local! {
        /// The rest of this thread's block: `(next, end)`.
        static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    BLOCK.with(|block| {
        let (next, end) = block.get();
        if next < end {
            block.set((next + 1, end));
            return next;
        }
        let start = NEXT_GENERATION.fetch_add(GENERATION_BLOCK, Ordering::Relaxed);
        block.set((start + 1, start + GENERATION_BLOCK));
        start
    })
}

/// The emptied buffers of the last execution on this OS thread (see `ExecState::recycle`).
#[derive(Default)]
struct SpareBuffers {
    tasks: Vec<TaskSlot>,
    objects: Vec<Object>,
    trace: Vec<TraceEvent>,
}

thread_local! {
    static SPARE_BUFFERS: RefCell<SpareBuffers> = RefCell::new(SpareBuffers::default());
    pub(crate) static CURRENT: Cell<*const RefCell<ExecState>> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` on the current execution's state, or returns `None` outside a model.
pub(crate) fn try_with_state<R>(f: impl FnOnce(&mut ExecState) -> R) -> Option<R> {
    let ptr = CURRENT.with(|c| c.get());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer is set by `execution::run` for exactly as long as the state lives,
    // and only this OS thread reads it.
    let cell = unsafe { &*ptr };
    let mut state = cell
        .try_borrow_mut()
        .expect("selvedge internal error: execution state borrowed re-entrantly");
    Some(f(&mut state))
}

/// Runs `f` on the current execution's state; outside a model, panics with a message naming
/// the operation and how to run it under selvedge.
#[track_caller]
pub(crate) fn with_state<R>(what: &str, f: impl FnOnce(&mut ExecState) -> R) -> R {
    match try_with_state(f) {
        Some(r) => r,
        None => outside_model(what),
    }
}

#[track_caller]
#[cold]
pub(crate) fn outside_model(what: &str) -> ! {
    panic!(
        "`{what}` was called outside a selvedge model: run this code inside `selvedge::model(|| ...)` \
         (or `check_random`, `check_pct`, `check_dfs`, `explore`), or use the `std` type when not testing; \
         threads started with `std::thread` are not part of a model either"
    )
}

pub(crate) fn in_model() -> bool {
    CURRENT.with(|c| !c.get().is_null())
}

/// Suspends the current task at a scheduling point with `op` pending; returns once the
/// strategy has chosen it. The operation is then performed by the caller.
#[track_caller]
pub(crate) fn point(kind: OpKind, object: Option<ObjectId>) {
    let location = Location::caller();
    point_at(kind, object, location);
}

pub(crate) fn point_at(
    kind: OpKind,
    object: Option<ObjectId>,
    location: &'static Location<'static>,
) {
    let unwinding = std::thread::panicking();
    let yielder = with_state("a selvedge scheduling point", |s| {
        let current = s.current;
        let task = &mut s.tasks[current.index()];
        assert!(!task.finished, "a finished task reached a scheduling point");
        task.pending = Op {
            kind,
            object,
            location,
        };
        let yielder = task.yielder;
        if unwinding {
            // Switching tasks now would let others run while this OS thread counts a panic
            // in progress (std would treat their panics as double panics). Operations that
            // can proceed run at once; one that would block ends the execution.
            if s.is_enabled(current) {
                s.trace.push(TraceEvent {
                    task: current,
                    op: s.tasks[current.index()].pending,
                    chosen: false,
                });
                return None;
            }
            let name = s.task_name(current);
            let message = s.tasks[current.index()]
                .panics
                .last()
                .map(|(m, at)| format!("panicked at {at}:\n    {m}"))
                .unwrap_or_else(|| "panicked".to_string());
            s.fail(
                FailureKind::Panic,
                format!("{name} {message}\n  and then blocked in `{kind}` at {location} while unwinding"),
            );
        }
        Some(yielder)
    });
    if let Some(yielder) = yielder {
        suspend(yielder);
    }
}

/// Marks the current task blocked on `object` (not enabled whatever its pending op) until a
/// primitive clears `blocked_on` (a condvar notify).
pub(crate) fn block_current(s: &mut ExecState, object: ObjectId) {
    let current = s.current.index();
    s.tasks[current].blocked_on = Some(object);
}

fn suspend(yielder: *const Yielder<(), ()>) {
    assert!(!yielder.is_null(), "task has no yielder");
    // SAFETY: the yielder lives on the task's coroutine stack for as long as the task runs,
    // and we are running on that stack now.
    unsafe { (*yielder).suspend(()) }
}

/// Records an operation that needs no scheduling decision (spawn, exit) in the trace.
pub(crate) fn record_event(
    s: &mut ExecState,
    kind: OpKind,
    object: Option<ObjectId>,
    location: &'static Location<'static>,
) {
    let task = s.current;
    s.trace.push(TraceEvent {
        task,
        op: Op {
            kind,
            object,
            location,
        },
        chosen: false,
    });
}

impl ExecState {
    pub(crate) fn new(settings: task::TaskSettings) -> ExecState {
        let spare = SPARE_BUFFERS.with(|b| std::mem::take(&mut *b.borrow_mut()));
        ExecState {
            generation: next_generation(),
            tasks: spare.tasks,
            objects: spare.objects,
            ordinals: Ordinals::default(),
            trace: spare.trace,
            current: TaskId(0),
            clock_ns: 0,
            failure: None,
            spawned: Vec::new(),
            settings,
            thread_poisoned: false,
            running_task: false,
            hb: None,
        }
    }

    /// Keeps this finished execution's buffers (emptied) for the next execution on this OS
    /// thread, so a steady exploration does not allocate them afresh every time.
    pub(crate) fn recycle(self) {
        let ExecState {
            mut tasks,
            mut objects,
            mut trace,
            ..
        } = self;
        tasks.clear();
        objects.clear();
        trace.clear();
        SPARE_BUFFERS.with(|b| {
            *b.borrow_mut() = SpareBuffers {
                tasks,
                objects,
                trace,
            }
        });
    }

    pub(crate) fn register(
        &mut self,
        kind: ObjectKind,
        state: ObjectState,
        created_at: &'static Location<'static>,
    ) -> ObjectId {
        assert!(
            self.objects.len() < crate::limits::MAX_OBJECTS,
            "selvedge: one execution created more than {} objects; split the test",
            crate::limits::MAX_OBJECTS
        );
        let ordinal = self.ordinals.next(kind);
        let id = ObjectId(self.objects.len() as u32);
        self.objects.push(Object {
            kind,
            ordinal,
            created_at,
            state,
        });
        id
    }

    /// The current task publishes what it did on `object` (for race detection).
    pub(crate) fn hb_release(&mut self, object: ObjectId) {
        let task = self.current;
        if let Some(hb) = self.hb.as_mut() {
            hb.release(task, object);
        }
    }

    /// The current task learns what was published on `object` (for race detection).
    pub(crate) fn hb_acquire(&mut self, object: ObjectId) {
        let task = self.current;
        if let Some(hb) = self.hb.as_mut() {
            hb.acquire(task, object);
        }
    }

    pub(crate) fn in_task(&self) -> bool {
        self.running_task
    }

    pub(crate) fn object(&mut self, id: ObjectId) -> &mut ObjectState {
        &mut self.objects[id.index()].state
    }

    pub(crate) fn task(&mut self, id: TaskId) -> &mut TaskSlot {
        &mut self.tasks[id.index()]
    }

    /// Can `task` take its next step now? Decided from its pending op and object state only.
    pub(crate) fn is_enabled(&self, task: TaskId) -> bool {
        let slot = &self.tasks[task.index()];
        if slot.finished || slot.blocked_on.is_some() || slot.abandoned || slot.waiting_for_progress
        {
            return false;
        }
        let op = slot.pending;
        let state = op.object.map(|o| &self.objects[o.index()].state);
        match (op.kind, state) {
            (OpKind::Lock, Some(ObjectState::Mutex { holder })) => holder.is_none(),
            (OpKind::WriteLock, Some(ObjectState::RwLock { writer, readers })) => {
                writer.is_none() && readers.is_empty()
            }
            (OpKind::ReadLock, Some(ObjectState::RwLock { writer, readers })) => {
                // Writer-preferring like std: once readers hold the lock and a writer waits
                // for it, new readers queue behind the writer.
                writer.is_none() && (readers.is_empty() || !self.writer_waiting(op.object, task))
            }
            (OpKind::Join(target), _) => self.tasks[target.index()].finished,
            (OpKind::Park, _) => slot.park_token,
            (OpKind::BarrierBlocked(arrived_in), Some(ObjectState::Barrier { generation, .. })) => {
                *generation != arrived_in
            }
            (OpKind::OnceEnter, Some(ObjectState::Once { running, .. })) => running.is_none(),
            (OpKind::Send, Some(ObjectState::Channel { capacity: None, .. })) => true,
            (
                OpKind::Send,
                Some(ObjectState::Channel {
                    capacity: Some(cap),
                    len,
                    receiver_alive,
                    ..
                }),
            ) => !*receiver_alive || *len < (*cap).max(1),
            (
                OpKind::SendWait(ticket),
                Some(ObjectState::Channel {
                    received,
                    receiver_alive,
                    ..
                }),
            ) => !*receiver_alive || *received > ticket,
            (OpKind::Recv, Some(ObjectState::Channel { len, senders, .. })) => {
                *len > 0 || *senders == 0
            }
            _ => true,
        }
    }

    fn writer_waiting(&self, object: Option<ObjectId>, except: TaskId) -> bool {
        self.tasks.iter().enumerate().any(|(i, t)| {
            i != except.index()
                && !t.finished
                && t.pending.kind == OpKind::WriteLock
                && t.pending.object == object
        })
    }

    /// The task names for reports: `main`, the name given to `Builder`, or `thread-N`.
    pub(crate) fn task_name(&self, task: TaskId) -> String {
        self.tasks[task.index()].display_name(task)
    }

    /// Every unfinished task with what it waits for, for a deadlock report.
    pub(crate) fn blocked_tasks(&self) -> Vec<BlockedTask> {
        let mut out = Vec::new();
        for (i, slot) in self.tasks.iter().enumerate() {
            if slot.finished {
                continue;
            }
            let task = TaskId(i as u32);
            let op = slot.pending;
            // A task blocked on a condvar waits for the notify first, the mutex second.
            let object = slot
                .blocked_on
                .or(op.object)
                .map(|o| &self.objects[o.index()]);
            let mut holders: Vec<Holder> = Vec::new();
            let mut waits_for = None;
            let mut object_name = object.map(Object::name);
            if let Some(obj) = object {
                waits_for = Some(format!("{} (created at {})", obj.name(), obj.created_at));
                match &obj.state {
                    ObjectState::Mutex { holder } => holders.extend(holder.iter().copied()),
                    ObjectState::RwLock { writer, readers } => {
                        holders.extend(writer.iter().copied());
                        if op.kind == OpKind::WriteLock {
                            holders.extend(readers.iter().copied());
                        }
                    }
                    ObjectState::Once { running, .. } => holders.extend(running.iter().copied()),
                    _ => {}
                }
            }
            if let OpKind::Join(target) = op.kind {
                object_name = Some(self.task_name(target));
                waits_for = Some(format!("{} to finish", self.task_name(target)));
                holders.push((target, self.tasks[target.index()].spawned_at));
            }
            let reason = match object.map(|o| o.kind) {
                Some(ObjectKind::Condvar) if slot.blocked_on.is_some() => {
                    "waiting to be notified".to_string()
                }
                _ => String::new(),
            };
            let operation = if slot.blocked_on.is_some() {
                "Condvar::wait".to_string()
            } else {
                op.kind.to_string()
            };
            out.push(BlockedTask {
                task: task.0,
                name: self.task_name(task),
                operation,
                location: op.location.to_string(),
                waits_for,
                object: object_name,
                reason,
                holders: holders
                    .into_iter()
                    .map(|(t, at)| (t.0, self.task_name(t), at.to_string()))
                    .collect(),
            });
        }
        out
    }

    pub(crate) fn fail(&mut self, kind: FailureKind, message: String) {
        if self.failure.is_none() {
            let task = self.current;
            self.failure = Some(RawFailure {
                kind,
                message,
                task: Some((task.0, self.task_name(task))),
                blocked: Vec::new(),
            });
        }
    }
}

pub(crate) use object::Holder;

/// An object id that registers itself lazily in whichever execution first uses it, so
/// primitives can have `const fn new` and live in statics.
#[derive(Debug)]
pub(crate) struct LazyObject {
    /// `generation << 24 | (index + 1)`, or 0 when never registered.
    packed: AtomicU64,
}

impl LazyObject {
    pub(crate) const fn new() -> LazyObject {
        LazyObject {
            packed: AtomicU64::new(0),
        }
    }

    /// This object's id in the current execution, registering it (with `init`) if this
    /// execution has not seen it yet.
    pub(crate) fn get(
        &self,
        s: &mut ExecState,
        kind: ObjectKind,
        created_at: &'static Location<'static>,
        init: impl FnOnce() -> ObjectState,
    ) -> ObjectId {
        self.get_tracking(s, kind, created_at, init).0
    }

    /// Like `get`, and also says whether the object was used by an earlier execution (it is
    /// a `static`, or outlived its execution): its user-visible value, if any, was not reset.
    pub(crate) fn get_tracking(
        &self,
        s: &mut ExecState,
        kind: ObjectKind,
        created_at: &'static Location<'static>,
        init: impl FnOnce() -> ObjectState,
    ) -> (ObjectId, bool) {
        let packed = self.packed.load(Ordering::Relaxed);
        let generation = packed >> 24;
        if packed != 0 && generation == s.generation & ((1 << 40) - 1) {
            return (ObjectId(((packed & ((1 << 24) - 1)) - 1) as u32), false);
        }
        let carried_over = packed != 0;
        let id = s.register(kind, init(), created_at);
        let fresh = ((s.generation & ((1 << 40) - 1)) << 24) | (id.0 as u64 + 1);
        self.packed.store(fresh, Ordering::Relaxed);
        (id, carried_over)
    }
}
