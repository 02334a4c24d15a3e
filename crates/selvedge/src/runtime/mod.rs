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

pub(crate) mod awaiting;
pub(crate) mod driver;
pub(crate) mod execution;
pub(crate) mod happens_before;
pub(crate) mod object;
pub(crate) mod overflow_trap;
pub(crate) mod panic_hook;
pub(crate) mod signals;
pub(crate) mod statics;
pub(crate) mod task;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use corosensei::Yielder;

use crate::trace::{BlockedTask, Evidence, FailureKind, ObjectRef, RawFailure, TaskRef, WaitsFor};
pub(crate) use crate::trace::{ObjectId, Op, OpKind, TaskId, TraceEvent};
use object::{Object, ObjectKind, ObjectState, Ordinals};
use task::TaskSlot;

/// The mutable state of one execution, shared by the scheduler loop and the tasks.
pub(crate) struct ExecState {
    /// Globally unique number of this execution, so lazily registered objects (`const fn
    /// new` primitives, statics) know when they must register again.
    pub(crate) generation: u64,
    pub(crate) tasks: Vec<TaskSlot>,
    pub(crate) objects: Vec<Object>,
    /// Emptied interest lists to give new tasks (see `SpareBuffers`).
    pub(crate) spare_interests: Vec<Vec<awaiting::Interest>>,
    /// Lazily registered objects of this execution by address, with the generation they were
    /// born in (see `LazyObject`).
    pub(crate) lazy: BTreeMap<usize, (u64, ObjectId)>,
    /// Each task's parker object (its park token), by task id, once a park or unpark involves it.
    parkers: Vec<Option<ObjectId>>,
    ordinals: Ordinals,
    /// Every performed operation, in order; read by the report.
    pub(crate) trace: Vec<TraceEvent>,
    pub(crate) current: TaskId,
    /// Virtual nanoseconds: advanced only when every task is blocked, to the earliest
    /// deadline (`advance_clock`); never read from a real clock.
    pub(crate) clock_ns: u64,
    /// Where the clock moved: `(trace length when it moved, the new time)`, for the report.
    pub(crate) clock_marks: Vec<(u32, u64)>,
    /// The last key given to an async interest (`awaiting::register`).
    pub(crate) next_interest: u64,
    pub(crate) failure: Option<RawFailure>,
    /// Coroutines created by `spawn`, handed to the scheduler loop when it next runs, oldest
    /// first (a task may spawn many before the loop runs again: taken from the front).
    pub(crate) spawned: std::collections::VecDeque<task::Spawned>,
    pub(crate) settings: task::TaskSettings,
    /// Set when a task had to be abandoned mid-panic: this OS thread's panic bookkeeping is
    /// no longer usable and the explorer must not run another execution on it.
    pub(crate) thread_poisoned: bool,
    /// True while a task (not the scheduler loop) is running.
    pub(crate) running_task: bool,
    /// `selvedge::rand` drew a number in this execution: its replay string needs the data seed.
    pub(crate) data_drawn: bool,
    /// Vector clocks for data-race detection, from the first `UnsafeCell` access on.
    pub(crate) hb: Option<happens_before::HappensBefore>,
    /// Allocations tracked for the leak check (`Arc`, `alloc::Track`, `alloc::alloc`).
    pub(crate) allocations: crate::alloc::Allocations,
    /// This execution's `lazy_static!` values.
    pub(crate) lazy_statics: crate::lazy_static::LazyValues,
}

static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

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
        let start = NEXT_GENERATION.fetch_add(crate::limits::GENERATION_BLOCK, Ordering::Relaxed);
        block.set((start + 1, start + crate::limits::GENERATION_BLOCK));
        start
    })
}

/// Takes back an execution's trace and choices (emptied) for the next execution on this OS
/// thread.
pub(crate) fn recycle_trace(mut trace: Vec<TraceEvent>, mut choices: Vec<TaskId>) {
    trace.clear();
    choices.clear();
    SPARE_BUFFERS.with(|b| {
        let mut spare = b.borrow_mut();
        spare.trace = trace;
        spare.choices = choices;
    });
}

/// The emptied choice and candidate lists of the last execution on this OS thread, so an
/// execution does not grow new ones decision by decision.
pub(crate) fn spare_decision_buffers() -> (Vec<TaskId>, Vec<crate::strategy::Candidate>) {
    SPARE_BUFFERS.with(|b| {
        let mut spare = b.borrow_mut();
        (
            std::mem::take(&mut spare.choices),
            std::mem::take(&mut spare.candidates),
        )
    })
}

/// Takes back an execution's candidate list for the next execution on this OS thread.
pub(crate) fn recycle_candidates(mut candidates: Vec<crate::strategy::Candidate>) {
    candidates.clear();
    SPARE_BUFFERS.with(|b| b.borrow_mut().candidates = candidates);
}

/// The emptied buffers of the last execution on this OS thread that leave the state (the
/// trace and choices go out with the `Execution`), and the scheduler loop's own.
#[derive(Default)]
struct SpareBuffers {
    trace: Vec<TraceEvent>,
    choices: Vec<TaskId>,
    candidates: Vec<crate::strategy::Candidate>,
    /// The emptied coroutine table of the scheduler loop (see `spare_coroutine_table`).
    coroutines: Vec<Option<task::Spawned>>,
}

/// The emptied coroutine table of the last execution on this OS thread.
pub(crate) fn spare_coroutine_table() -> Vec<Option<task::Spawned>> {
    SPARE_BUFFERS.with(|b| std::mem::take(&mut b.borrow_mut().coroutines))
}

/// Takes back an execution's coroutine table, every entry gone, for the next execution.
pub(crate) fn recycle_coroutine_table(mut table: Vec<Option<task::Spawned>>) {
    assert!(
        table.iter().all(Option::is_none),
        "a coroutine outlived its execution"
    );
    table.clear();
    SPARE_BUFFERS.with(|b| b.borrow_mut().coroutines = table);
}

/// Interest lists kept from one execution for the next on an OS thread: one per task an async
/// program usually has, not one per task a big one may.
const MAX_SPARE_INTEREST_LISTS: usize = 64;

thread_local! {
    static SPARE_BUFFERS: RefCell<SpareBuffers> = RefCell::new(SpareBuffers::default());
    /// This OS thread's execution state between executions: each execution resets it in
    /// place (`take_state`) and gives it back emptied (`keep_state`), instead of building
    /// and moving about 800 bytes, and its buffers, every time.
    static STATE: Cell<Option<Box<RefCell<ExecState>>>> = const { Cell::new(None) };
    pub(crate) static CURRENT: Cell<*const RefCell<ExecState>> = const { Cell::new(std::ptr::null()) };
    /// The running execution's generation (`ExecState::generation`), 0 when none runs: set and
    /// cleared with `CURRENT`, so checking that a handle belongs to this execution needs no
    /// borrow of the state.
    static CURRENT_GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Installs `state` as this OS thread's running execution (`None`: none runs).
pub(crate) fn install(state: Option<&RefCell<ExecState>>) {
    let (ptr, generation) = match state {
        Some(cell) => (cell as *const _, cell.borrow().generation),
        None => (std::ptr::null(), 0),
    };
    CURRENT.with(|c| c.set(ptr));
    CURRENT_GENERATION.with(|g| g.set(generation));
}

/// The running execution's generation, or `None` outside a model.
#[inline]
pub(crate) fn current_generation() -> Option<u64> {
    let generation = CURRENT_GENERATION.with(Cell::get);
    (generation != 0).then_some(generation)
}

/// Runs `f` on the current execution's state, or returns `None` outside a model.
#[inline(always)]
pub(crate) fn try_with_state<R>(f: impl FnOnce(&mut ExecState) -> R) -> Option<R> {
    let ptr = CURRENT.with(|c| c.get());
    if ptr.is_null() {
        return None;
    }
    overflow_trap::ensure_headroom();
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
#[inline(always)]
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
         (or `check`, `check_random`, `check_pct`, `check_dfs`, `explore`), or use the `std` type when not testing; \
         threads started with `std::thread` are not part of a model either"
    )
}

/// Events in the running execution's trace so far (0 outside a model): a way to tell whether
/// any scheduling point was passed in between.
pub(crate) fn trace_len() -> usize {
    try_with_state(|s| s.trace.len()).unwrap_or(0)
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
    point_op(Op::new(kind, object, location));
}

/// Suspends the current task at a scheduling point with `op` pending (see `point`).
pub(crate) fn point_op(op: Op) {
    point_decided(|_| op);
}

/// Like `point_op`, with the operation decided from the state in the same borrow that
/// suspends the task (an await decides what it waits for from its interests). Waker
/// operations the task deferred since its last point are steps of their own first.
pub(crate) fn point_decided(decide: impl FnOnce(&mut ExecState) -> Op) {
    let mut decide = Some(decide);
    while let Some(deferred) = point_step(&mut decide, true) {
        awaiting::perform_deferred_waker_op(deferred);
    }
}

/// A scheduling point for `op` now, ahead of any deferred waker operation (which is one).
pub(crate) fn point_now(op: Op) {
    let mut decide = Some(|_: &mut ExecState| op);
    let deferred = point_step(&mut decide, false);
    assert!(deferred.is_none(), "a deferred waker operation was taken");
}

/// Suspends the current task at a scheduling point with the operation `decide` gives. With
/// `deferred_first`, a deferred waker operation of the task comes first: it is taken out and
/// returned instead (`decide` is left for the next try).
fn point_step(
    decide: &mut Option<impl FnOnce(&mut ExecState) -> Op>,
    deferred_first: bool,
) -> Option<awaiting::DeferredWakerOp> {
    let unwinding = std::thread::panicking();
    let step = with_state("a selvedge scheduling point", |s| {
        if deferred_first {
            let current = s.current;
            if let Some(deferred) = s.tasks[current.index()]
                .asynchronous
                .take_deferred_waker_op()
            {
                return Err(deferred);
            }
        }
        let decide = decide.take().expect("a scheduling point is decided once");
        let mut op = decide(s);
        let (kind, location) = (op.kind, op.location);
        let current = s.current;
        if matches!(
            kind,
            OpKind::CondvarWoken | OpKind::Park | OpKind::AwaitWake
        ) && s.may_wake_spuriously(current)
        {
            // A wait that may still return spuriously may do so only while another task can
            // run: whether it can depends on every other task's steps, so for DPOR it depends
            // on them all, and is tried before each one it could precede.
            op.access = crate::trace::Access::Everything;
        }
        let task = &mut s.tasks[current.index()];
        assert!(!task.finished, "a finished task reached a scheduling point");
        task.pending = op;
        let yielder = task.yielder;
        if unwinding {
            // Switching tasks now would let others run while this OS thread counts a panic
            // in progress (std would treat their panics as double panics). Operations that
            // can proceed run at once (even after a yield: no choice is made); one that
            // would block ends the execution.
            if s.can_proceed(current) {
                s.trace.push(TraceEvent {
                    task: current,
                    op: s.tasks[current.index()].pending,
                    chosen: false,
                    unwinding: true,
                });
                return Ok(None);
            }
            let name = s.task_name(current);
            let panic = s.tasks[current.index()].panics.last();
            let message = panic
                .map(|p| format!("panicked at {}:\n    {}", p.location, p.message))
                .unwrap_or_else(|| "panicked".to_string());
            let evidence =
                Evidence::Panics(panic.map(task::PanicRecord::site).into_iter().collect());
            s.fail(
                FailureKind::Panic,
                format!("{name} {message}\n  and then blocked in `{kind}` at {location} while unwinding"),
                evidence,
            );
        } else if execution::decide_on_task(s) {
            // Chosen to go on: no switch to the scheduler loop and back.
            return Ok(None);
        }
        Ok(Some(yielder))
    });
    match step {
        Err(deferred) => Some(deferred),
        Ok(yielder) => {
            if let Some(yielder) = yielder {
                suspend(yielder);
            }
            None
        }
    }
}

/// Like `point_at`, for a timed wait: the task may also proceed once the virtual clock reaches
/// `deadline_ns`, whatever its operation waits for. The caller tells which happened with
/// `deadline_passed` when it runs again.
pub(crate) fn point_until(
    kind: OpKind,
    object: Option<ObjectId>,
    deadline_ns: u64,
    location: &'static Location<'static>,
) {
    with_state("a selvedge timed wait", |s| {
        let current = s.current;
        s.tasks[current.index()].deadline = Some(deadline_ns);
    });
    point_at(kind, object, location);
    with_state("a selvedge timed wait", |s| {
        let current = s.current;
        s.tasks[current.index()].deadline = None;
    });
}

/// The virtual time `after` from now, in nanoseconds (saturating: a deadline past the end of
/// time is never reached).
pub(crate) fn deadline_after(s: &ExecState, after: std::time::Duration) -> u64 {
    let nanos = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
    s.clock_ns.saturating_add(nanos)
}

/// Marks the current task blocked on condvar `object`: not enabled, whatever its pending op, while
/// it is in the condvar's wait queue. A notify takes it out of the queue (object state); the task
/// clears `blocked_on` itself once it runs again (`unblock_current`).
pub(crate) fn block_current(s: &mut ExecState, object: ObjectId) {
    let current = s.current.index();
    s.tasks[current].blocked_on = Some(object);
}

/// The current task, woken from a condvar wait, is no longer blocked on it.
pub(crate) fn unblock_current(s: &mut ExecState) {
    let current = s.current.index();
    s.tasks[current].blocked_on = None;
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
        op: Op::new(kind, object, location),
        chosen: false,
        unwinding: std::thread::panicking(),
    });
}

/// This OS thread's execution state, reset for a new execution under `settings`.
pub(crate) fn take_state(settings: task::TaskSettings) -> Box<RefCell<ExecState>> {
    match STATE.take() {
        Some(mut kept) => {
            kept.get_mut().reset(settings);
            kept
        }
        None => Box::new(RefCell::new(ExecState::new(settings))),
    }
}

/// Takes the state back after its execution, emptied, for the next one on this OS thread.
/// Not after a stack overflow: a borrow of it may have been lost with the discarded stack.
pub(crate) fn keep_state(mut state: Box<RefCell<ExecState>>) {
    state.get_mut().clear();
    STATE.set(Some(state));
}

impl ExecState {
    pub(crate) fn new(settings: task::TaskSettings) -> ExecState {
        let trace = SPARE_BUFFERS.with(|b| std::mem::take(&mut b.borrow_mut().trace));
        ExecState {
            generation: next_generation(),
            tasks: Vec::new(),
            objects: Vec::new(),
            spare_interests: Vec::new(),
            lazy: BTreeMap::new(),
            parkers: Vec::new(),
            ordinals: Ordinals::default(),
            trace,
            current: TaskId(0),
            clock_ns: 0,
            clock_marks: Vec::new(),
            next_interest: 0,
            failure: None,
            spawned: Default::default(),
            settings,
            thread_poisoned: false,
            running_task: false,
            data_drawn: false,
            // With `vector-clocks`, causality is tracked from the first step, so
            // `current::clock` sees every edge; otherwise from the first cell access.
            hb: cfg!(feature = "vector-clocks").then(Default::default),
            allocations: Default::default(),
            lazy_statics: Default::default(),
        }
    }

    /// Makes this emptied state (see `clear`) a new execution's: a fresh generation, the
    /// settings, the clock at zero, and the spare trace buffer.
    fn reset(&mut self, settings: task::TaskSettings) {
        assert!(
            self.tasks.is_empty() && self.objects.is_empty() && self.spawned.is_empty(),
            "an execution state was reused before it was cleared"
        );
        self.generation = next_generation();
        self.trace = SPARE_BUFFERS.with(|b| std::mem::take(&mut b.borrow_mut().trace));
        self.current = TaskId(0);
        self.clock_ns = 0;
        self.next_interest = 0;
        self.failure = None;
        self.settings = settings;
        self.thread_poisoned = false;
        self.running_task = false;
        self.data_drawn = false;
        self.hb = cfg!(feature = "vector-clocks").then(Default::default);
    }

    /// Empties this finished execution's state, keeping its buffers for the next execution on
    /// this OS thread: what the tasks, objects and lazily registered values of this execution
    /// hold is dropped now, as the execution ends. The trace must have been taken.
    fn clear(&mut self) {
        // `execution::run` abandons coroutines never adopted; a state dropped before that
        // (an engine failure) leaks them the same way rather than run their destructors.
        while let Some(unstarted) = self.spawned.pop_front() {
            task::abandon(unstarted);
        }
        for slot in &mut self.tasks {
            let mut interests = std::mem::take(&mut slot.asynchronous.interests);
            if interests.capacity() > 0 && self.spare_interests.len() < MAX_SPARE_INTEREST_LISTS {
                interests.clear();
                self.spare_interests.push(interests);
            }
        }
        self.tasks.clear();
        self.objects.clear();
        self.lazy.clear();
        self.parkers.clear();
        self.ordinals = Ordinals::default();
        self.clock_marks.clear();
        self.failure = None;
        self.hb = None;
        self.allocations.clear();
        self.lazy_statics.clear();
    }

    /// The names a report gives this execution's tasks and objects.
    pub(crate) fn names(&self) -> crate::trace::Names {
        crate::trace::Names {
            tasks: (0..self.tasks.len())
                .map(|i| self.task_name(TaskId(i as u32)))
                .collect(),
            objects: self.objects.iter().map(Object::name).collect(),
        }
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
            shared: false,
            key: 0,
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
    #[inline(always)]
    pub(crate) fn is_enabled(&self, task: TaskId) -> bool {
        !self.tasks[task.index()].waiting_for_progress && self.can_proceed(task)
    }

    /// Could `task`'s pending operation proceed now? Unlike `is_enabled`, this ignores a
    /// yield, which only keeps a task from being *chosen* until another task moves.
    #[inline]
    fn can_proceed(&self, task: TaskId) -> bool {
        let slot = &self.tasks[task.index()];
        if slot.finished || slot.abandoned {
            return false;
        }
        if slot.awaiting {
            return self.await_ready(task)
                || (matches!(slot.pending.kind, OpKind::AwaitWake)
                    && self.may_wake_spuriously(task));
        }
        // Only timed waits read the clock: most steps never get here with a deadline.
        let timed_out = || slot.deadline.is_some_and(|d| self.clock_ns >= d);
        // A condvar waiter with no notification to take waits, unless it may wake spuriously.
        if self.waits_for_notification(task) && !self.may_wake_spuriously(task) {
            return false;
        }
        let op = slot.pending;
        let state = op.object.map(|o| &self.objects[o.index()].state);
        match (op.kind, state) {
            (OpKind::Lock, Some(ObjectState::Mutex { holder, .. })) => holder.is_none(),
            (
                OpKind::WriteLock,
                Some(ObjectState::RwLock {
                    writer, readers, ..
                }),
            ) => writer.is_none() && readers.is_empty(),
            (
                OpKind::ReadLock,
                Some(ObjectState::RwLock {
                    writer, readers, ..
                }),
            ) => {
                // Writer-preferring like std: once readers hold the lock and a writer waits
                // for it, new readers queue behind the writer. A second read by a reader never
                // goes through: std does not promise it (see `sync::rwlock`).
                writer.is_none()
                    && !readers.iter().any(|r| r.0 == task)
                    && (readers.is_empty() || !self.writer_waiting(op.object, task))
            }
            (OpKind::Join(target), _) => self.tasks[target.index()].finished,
            // Chosen without a token, a park returns spuriously (offered only beside a task
            // that can run for real: `execution::collect_candidates`).
            (OpKind::Park, _) => self.park_token(task) || self.may_wake_spuriously(task),
            (OpKind::Sleep(_), _) => timed_out(),
            (OpKind::ParkTimeout, _) => timed_out() || self.park_token(task),
            (OpKind::RecvTimeout, Some(ObjectState::Channel { len, senders, .. })) => {
                timed_out() || *len > 0 || *senders == 0
            }
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
            // A watch send waits for the `Ref`s other tasks hold across scheduling points.
            (OpKind::Send, Some(ObjectState::Watch { borrows, .. })) => *borrows == 0,
            _ => true,
        }
    }

    /// Every task is blocked: moves the virtual clock to the earliest deadline still ahead of
    /// it, records the move in the trace, and returns whether there was one. Time passes only
    /// here, so an execution's time is a function of its choices.
    ///
    /// The move is one `ClockAdvance` event per task it lets run: each task whose deadline it
    /// reaches, and each task parked by a yield (time passing is progress). Those tasks could
    /// not have taken their next step before the move; a task blocked on something else (a
    /// lock whose holder sleeps) could have, had the others run in another order, so DPOR
    /// orders only the released tasks after the steps before the move.
    pub(crate) fn advance_clock(&mut self) -> bool {
        let clock = self.clock_ns;
        let next = self
            .tasks
            .iter()
            .filter(|t| !t.finished && !t.abandoned)
            .filter_map(|t| t.deadline)
            .filter(|&d| d > clock)
            .min();
        let Some(next) = next else {
            return false;
        };
        assert!(next > self.clock_ns, "the virtual clock only moves forward");
        self.clock_ns = next;
        self.clock_marks.push((self.trace.len() as u32, next));
        let before = self.trace.len();
        for (index, task) in self.tasks.iter().enumerate() {
            let released = task.deadline.is_some_and(|d| d <= next) || task.waiting_for_progress;
            if released && !task.finished && !task.abandoned {
                self.trace.push(TraceEvent {
                    task: TaskId(index as u32),
                    op: Op::new(OpKind::ClockAdvance, None, task.pending.location),
                    chosen: false,
                    unwinding: false,
                });
            }
        }
        assert!(
            self.trace.len() > before,
            "a clock move releases the task whose deadline it reaches"
        );
        true
    }

    /// Is `task` waiting with nothing to wake it but a spurious wakeup: parked without a token,
    /// at an `.await` for a wake of its waker that has not come (a spurious poll), or on a
    /// condvar with no notification it may take and its deadline, if any, not reached?
    /// Only a task whose pending operation is `Park` or `AwaitWake`, or that is blocked on a
    /// condvar, can need one (`collect_candidates` tests that first).
    #[inline]
    pub(crate) fn needs_spurious_wakeup(&self, task: TaskId) -> bool {
        let slot = &self.tasks[task.index()];
        if matches!(slot.pending.kind, OpKind::Park) {
            return !self.park_token(task);
        }
        if slot.awaiting {
            return matches!(slot.pending.kind, OpKind::AwaitWake) && !self.await_ready(task);
        }
        self.waits_for_notification(task)
    }

    /// Is `task` a condvar waiter with no notification it may take, its deadline (if any) not
    /// reached? (Cheapest test first: most tasks wait on no condvar.)
    #[inline]
    fn waits_for_notification(&self, task: TaskId) -> bool {
        let slot = &self.tasks[task.index()];
        slot.blocked_on.is_some()
            && slot.deadline.is_none_or(|d| self.clock_ns < d)
            && self.awaiting_notify(task).is_some()
    }

    /// The running task's wait returned with nothing to wake it: it spends its spurious wakeup,
    /// and the trace marks where (`object`: the condvar, parker or waker it waited on).
    pub(crate) fn spend_spurious_wakeup(
        &mut self,
        object: Option<ObjectId>,
        at: &'static Location<'static>,
    ) {
        let current = self.current;
        assert!(
            self.may_wake_spuriously(current),
            "a wait resumed with nothing to wake it and no spurious wakeup to spend"
        );
        self.tasks[current.index()].woke_spuriously = true;
        record_event(self, OpKind::WokeSpuriously, object, at);
    }

    /// May `task` still wake without a notification (`Config::spurious_wakeups`, once per task
    /// per execution)? Whether it does is the strategy's choice, offered only beside a task
    /// that can run for real (see `execution::collect_candidates`).
    #[inline]
    pub(crate) fn may_wake_spuriously(&self, task: TaskId) -> bool {
        self.settings.spurious_wakeups && !self.tasks[task.index()].woke_spuriously
    }

    /// The condvar `task` waits on, while no notification it may take is pending (and
    /// `notify_all` has not taken it out of the wait queue).
    pub(crate) fn awaiting_notify(&self, task: TaskId) -> Option<ObjectId> {
        let condvar = self.tasks[task.index()].blocked_on?;
        match &self.objects[condvar.index()].state {
            ObjectState::Condvar {
                waiters,
                notifications,
                ..
            } => {
                let &(_, arrival) = waiters.iter().find(|(t, _)| *t == task)?;
                let notified = notifications.iter().any(|&bound| arrival < bound);
                (!notified).then_some(condvar)
            }
            _ => unreachable!("a task blocked on an object that is not a condvar"),
        }
    }

    /// `task`'s park token: its parker object's state (see `parker`).
    pub(crate) fn park_token(&self, task: TaskId) -> bool {
        let Some(Some(parker)) = self.parkers.get(task.index()) else {
            return false;
        };
        matches!(
            self.objects[parker.index()].state,
            ObjectState::Parker { token: true }
        )
    }

    /// The object holding `task`'s park token, registered the first time a park or unpark
    /// involves the task: `unpark` wakes a task through this object, never through its slot.
    pub(crate) fn parker(&mut self, task: TaskId) -> ObjectId {
        if self.parkers.len() <= task.index() {
            self.parkers.resize(task.index() + 1, None);
        }
        if let Some(parker) = self.parkers[task.index()] {
            return parker;
        }
        let at = self.tasks[task.index()].spawned_at;
        let parker = self.register(ObjectKind::Parker, ObjectState::Parker { token: false }, at);
        self.parkers[task.index()] = Some(parker);
        parker
    }

    fn writer_waiting(&self, object: Option<ObjectId>, except: TaskId) -> bool {
        self.tasks.iter().enumerate().any(|(i, t)| {
            i != except.index()
                && !t.finished
                && t.pending.kind == OpKind::WriteLock
                && t.pending.object == object
        })
    }

    /// Does a task other than `except` wait to write-lock `object`, as a thread's pending
    /// `write` or an async task's awaited one? (Readers queue behind it once readers hold the
    /// lock, as with std's and tokio's.)
    pub(crate) fn write_waiting(&self, object: ObjectId, except: TaskId) -> bool {
        self.writer_waiting(Some(object), except)
            || self.tasks.iter().enumerate().any(|(i, t)| {
                i != except.index()
                    && !t.finished
                    && t.asynchronous
                        .interests
                        .iter()
                        .any(|w| w.op.kind == OpKind::WriteLock && w.op.object == Some(object))
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
            let (operation, waits_for) = match self.awaiting_notify(task) {
                // A condvar waiter waits for the notify first, the mutex second.
                Some(condvar) => (
                    OpKind::CondvarWait,
                    WaitsFor::Notify {
                        condvar: self.object_ref(condvar),
                    },
                ),
                // Released after spinning with nobody else able to move (a livelock).
                None if slot.futile_yields > 0 && self.is_enabled(task) => {
                    (op.kind, WaitsFor::Progress)
                }
                None => (op.kind, self.waits_for(task, op)),
            };
            out.push(BlockedTask {
                task: task.0,
                name: self.task_name(task),
                operation,
                awaited: op.awaited,
                location: op.location,
                waits_for,
            });
        }
        out
    }

    /// What a task whose pending operation is `op` needs before it can take that step.
    fn waits_for(&self, task: TaskId, op: Op) -> WaitsFor {
        let task_ref = |(task, at): Holder| TaskRef {
            task: task.0,
            name: self.task_name(task),
            at,
        };
        if let OpKind::Join(target) = op.kind {
            return WaitsFor::Finish(task_ref((target, self.tasks[target.index()].spawned_at)));
        }
        if op.kind == OpKind::Park {
            return WaitsFor::Unpark;
        }
        if op.kind == OpKind::AwaitAny {
            return WaitsFor::Any {
                branches: self.awaited_branches(task),
            };
        }
        if let (OpKind::AwaitWake, Some(waker)) = (op.kind, op.object) {
            return WaitsFor::Waker {
                waker: self.object_ref(waker),
                clones: self.waker_state(waker).1,
            };
        }
        let Some(id) = op.object else {
            return WaitsFor::Other(None);
        };
        let object = self.object_ref(id);
        match (op.kind, &self.objects[id.index()].state) {
            (OpKind::Lock, ObjectState::Mutex { holder, .. }) => WaitsFor::Release {
                object,
                holders: holder.iter().copied().map(task_ref).collect(),
            },
            // Held by a writer; or, when none holds it, queued behind a waiting writer, which
            // waits for the readers (one of them may be this very task).
            (
                OpKind::ReadLock,
                ObjectState::RwLock {
                    writer, readers, ..
                },
            ) => WaitsFor::Release {
                object,
                holders: match writer {
                    Some(w) => vec![task_ref(*w)],
                    None => readers.iter().copied().map(task_ref).collect(),
                },
            },
            (
                OpKind::WriteLock,
                ObjectState::RwLock {
                    writer, readers, ..
                },
            ) => WaitsFor::Release {
                object,
                holders: writer
                    .iter()
                    .chain(readers)
                    .copied()
                    .map(task_ref)
                    .collect(),
            },
            (OpKind::OnceEnter, ObjectState::Once { running, .. }) => WaitsFor::Release {
                object,
                holders: running.iter().copied().map(task_ref).collect(),
            },
            (OpKind::Recv, ObjectState::Channel { .. }) => WaitsFor::Message { channel: object },
            (OpKind::Send | OpKind::SendWait(_), ObjectState::Channel { .. }) => {
                WaitsFor::Receive { channel: object }
            }
            (
                OpKind::BarrierBlocked(_),
                ObjectState::Barrier {
                    n_tasks, arrived, ..
                },
            ) => WaitsFor::Barrier {
                barrier: object,
                arrived: *arrived,
                n_tasks: *n_tasks,
            },
            (OpKind::SemaphoreQueued, ObjectState::Semaphore { permits, queue, .. }) => {
                let mine = queue.iter().position(|w| w.task == task);
                let (has, asked) = mine.map_or((0, 0), |i| (queue[i].assigned, queue[i].need));
                let ahead = queue
                    .iter()
                    .take(mine.unwrap_or(0))
                    .filter(|w| !w.satisfied() && w.task != task)
                    .map(|w| task_ref((w.task, w.at)))
                    .collect();
                WaitsFor::Permits {
                    semaphore: object,
                    available: *permits,
                    has,
                    asked,
                    ahead,
                }
            }
            (OpKind::Notified, ObjectState::Notify { .. }) => WaitsFor::Notify { condvar: object },
            (OpKind::Recv, ObjectState::Oneshot { .. } | ObjectState::Mpsc { .. })
            | (OpKind::Changed, ObjectState::Watch { .. })
            | (OpKind::RecvShared, ObjectState::Broadcast { .. }) => {
                WaitsFor::Message { channel: object }
            }
            (OpKind::Send | OpKind::Reserve, ObjectState::Mpsc { .. }) => {
                WaitsFor::Receive { channel: object }
            }
            (OpKind::Send, ObjectState::Watch { .. }) => WaitsFor::Release {
                object,
                holders: Vec::new(),
            },
            (OpKind::Closed, _) => WaitsFor::Closing { channel: object },
            (OpKind::OnceCellInit, ObjectState::Once { running, .. }) => WaitsFor::Release {
                object,
                holders: running.iter().copied().map(task_ref).collect(),
            },
            (OpKind::JoinNext, ObjectState::JoinSet { .. }) => WaitsFor::Completion { set: object },
            _ => WaitsFor::Other(Some(object)),
        }
    }

    fn object_ref(&self, id: ObjectId) -> ObjectRef {
        let object = &self.objects[id.index()];
        ObjectRef {
            name: object.name(),
            created_at: object.created_at,
        }
    }

    /// Records the current task's failure, with evidence for the report to render, unless
    /// the execution already has a failure.
    pub(crate) fn fail(&mut self, kind: FailureKind, message: String, evidence: Evidence) {
        if self.failure.is_none() {
            let task = self.current;
            self.failure = Some(RawFailure {
                kind,
                message,
                task: Some((task.0, self.task_name(task))),
                blocked: Vec::new(),
                evidence,
            });
        }
    }
}

pub(crate) use object::Holder;

/// An object id that registers itself lazily in whichever execution first uses it, so
/// primitives can have `const fn new` and live in statics.
///
/// The id is per execution: each execution that uses the object registers it in its own object
/// table and remembers it in `ExecState::lazy`, keyed by the object's address, so executions
/// running at the same time on other OS threads (parallel workers, other tests) never see or
/// reset each other's model state. `hint` caches the last registration for the common case of
/// one execution at a time.
#[derive(Debug)]
pub(crate) struct LazyObject {
    /// `generation << 24 | (index + 1)` of the execution that registered it last, or 0. Only a
    /// hint: any execution may overwrite it, and a registration is trusted only when its
    /// generation is the reader's own (generations are unique).
    hint: AtomicU64,
    /// The generation of the first execution that registered the object (0: none yet). The
    /// execution that sets it owns the user value inside the primitive; every other one shares
    /// it (see `Registered::shared`).
    born: AtomicU64,
    /// What the user value was when the first execution registered the object (an atomic's
    /// bits, whether a `OnceLock` was set), for the other executions to start from; valid once
    /// `start_ready` is set, right after `born`.
    start: AtomicU64,
    start_ready: std::sync::atomic::AtomicBool,
}

/// The user value's snapshot, taken only while nobody has claimed the object (the claimer's
/// value is the one before its own execution touched it).
fn snapshot_if_unborn(born: &AtomicU64, snapshot: impl FnOnce() -> u64) -> Option<u64> {
    (born.load(Ordering::Relaxed) == 0).then(snapshot)
}

/// Bits of a generation kept in `LazyObject::hint` beside a 24-bit object index.
const HINT_GENERATION_MASK: u64 = (1 << 40) - 1;
const HINT_INDEX_MASK: u64 = (1 << 24) - 1;
const _: () = assert!(crate::limits::MAX_OBJECTS as u64 <= HINT_INDEX_MASK);

/// An object's id in the running execution, and whether its user value belongs to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Registered {
    pub(crate) id: ObjectId,
    /// The primitive is a `static`, or was used by another execution before this one: a value
    /// stored inside it (an atomic's value, a mutex's data) is not this execution's. Its model
    /// state is this execution's all the same.
    pub(crate) shared: bool,
}

impl LazyObject {
    pub(crate) const fn new() -> LazyObject {
        LazyObject {
            hint: AtomicU64::new(0),
            born: AtomicU64::new(0),
            start: AtomicU64::new(0),
            start_ready: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn key(&self) -> usize {
        self as *const LazyObject as usize
    }

    /// This object's id in the current execution, registering it (with `init`) if this
    /// execution has not seen it yet. Not a scheduling point.
    pub(crate) fn get(
        &self,
        s: &mut ExecState,
        kind: ObjectKind,
        created_at: &'static Location<'static>,
        init: impl FnOnce() -> ObjectState,
    ) -> Registered {
        self.get_starting(s, kind, created_at, || 0, |_| init())
    }

    /// Like `get`, for a primitive whose shared executions start from its user value as it was
    /// when the first execution registered it: `snapshot` reads that value (called only by the
    /// execution that claims the object), and `init` gets it for a shared object that is not
    /// a `static` (a `static` starts from its declared value in every execution).
    pub(crate) fn get_starting(
        &self,
        s: &mut ExecState,
        kind: ObjectKind,
        created_at: &'static Location<'static>,
        snapshot: impl FnOnce() -> u64,
        init: impl FnOnce(Option<u64>) -> ObjectState,
    ) -> Registered {
        if let Some(found) = self.lookup(s) {
            return found;
        }
        let key = self.key();
        let before = snapshot_if_unborn(&self.born, snapshot);
        let claimed = self
            .born
            .compare_exchange(0, s.generation, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed {
            self.start.store(before.unwrap_or(0), Ordering::Relaxed);
            self.start_ready.store(true, Ordering::Release);
        }
        let is_static = statics::is_static(key);
        let shared = !claimed || is_static;
        let start = (shared && !is_static).then(|| {
            // The claiming execution publishes the start right after its claim.
            while !self.start_ready.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            self.start.load(Ordering::Relaxed)
        });
        let id = s.register(kind, init(start), created_at);
        let object = &mut s.objects[id.index()];
        object.shared = shared;
        object.key = key;
        if shared {
            // Other executions use it too and overwrite its hint: remember it here. An object
            // born in this execution is found by scanning the table in that rare case.
            let born = self.born.load(Ordering::Relaxed);
            s.lazy.insert(key, (born, id));
        }
        self.remember(s.generation, id);
        Registered { id, shared }
    }

    /// This object's id in the current execution if it registered it already.
    #[inline]
    pub(crate) fn lookup(&self, s: &ExecState) -> Option<Registered> {
        let generation = s.generation & HINT_GENERATION_MASK;
        let hint = self.hint.load(Ordering::Relaxed);
        let id = if hint != 0 && hint >> 24 == generation {
            ObjectId(((hint & HINT_INDEX_MASK) - 1) as u32)
        } else {
            // Another execution registered it since (or never). An entry under this address
            // counts only if it is this very object: memory freed by an object of this
            // execution can hold a new one, which has not been born (or was born elsewhere).
            let born = self.born.load(Ordering::Relaxed);
            if born == 0 {
                return None;
            }
            let id = if born == s.generation {
                // Born here, and its hint overwritten by another execution that reached it.
                let key = self.key();
                let i = s.objects.iter().rposition(|o| o.key == key)?;
                ObjectId(i as u32)
            } else {
                let &(entry_born, id) = s.lazy.get(&self.key())?;
                if entry_born != born {
                    return None;
                }
                id
            };
            self.remember(s.generation, id);
            id
        };
        let object = &s.objects[id.index()];
        Some(Registered {
            id,
            shared: object.shared,
        })
    }

    fn remember(&self, generation: u64, id: ObjectId) {
        let packed = ((generation & HINT_GENERATION_MASK) << 24) | (id.0 as u64 + 1);
        self.hint.store(packed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ExecState {
        ExecState::new(task::TaskSettings {
            stack_bytes: crate::limits::DEFAULT_STACK_BYTES,
            max_tasks: 4,
            data_seed: 0,
            spurious_wakeups: true,
        })
    }

    fn plain() -> ObjectState {
        ObjectState::Plain
    }

    #[test]
    fn a_lazy_object_keeps_its_id_in_an_execution_whatever_other_executions_do() {
        // Goal: the per-execution registry, including the rare paths where another execution
        // overwrote the hint of an object born here, or of a shared one.
        let here = Location::caller();
        let mut mine = state();
        let mut other = state();
        let boxed = Box::new(LazyObject::new());
        let first = boxed.get(&mut mine, ObjectKind::Cell, here, plain);
        assert!(!first.shared, "born in this execution, on the heap");
        // Another execution running at the same time reaches the same object.
        let theirs = boxed.get(&mut other, ObjectKind::Cell, here, plain);
        assert!(theirs.shared, "not born there");
        // Its registration overwrote the hint; this execution still finds its own id.
        let again = boxed.get(&mut mine, ObjectKind::Cell, here, plain);
        assert_eq!(again.id, first.id);
        assert!(!again.shared);
        assert_eq!(mine.objects.len(), 1, "registered once");
        // And the other execution, whose hint is now overwritten, finds its own too.
        let theirs_again = boxed.get(&mut other, ObjectKind::Cell, here, plain);
        assert_eq!(theirs_again.id, theirs.id);
        assert_eq!(other.objects.len(), 1, "registered once");
        // Memory reused by a new object is a new object.
        drop(boxed);
        let reused = Box::new(LazyObject::new());
        let fresh = reused.get(&mut mine, ObjectKind::Cell, here, plain);
        assert!(!fresh.shared);
        assert_eq!(mine.objects.len(), 2);
    }
}
