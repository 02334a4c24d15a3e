//! The scheduler loop of one execution: adopt new tasks, compute the enabled set, ask the
//! strategy, resume the chosen task, until every task finished or a failure ends the run.
//!
//! A task at a scheduling point may make that decision on its own stack (`decide_on_task`):
//! when it is chosen, it goes on without switching to the loop and back.
//!
//! Invariants:
//! - Exactly one coroutine is running at any moment, and only this loop resumes coroutines.
//! - Every decision is `Scheduler::decide`, on the loop's stack or a task's: the same
//!   candidates and the same strategy calls either way, so where it runs changes no schedule.
//! - The execution state pointer is installed for the loop's duration only, and every
//!   unfinished coroutine is reset (never unwound) when the execution ends, so a deadlocked
//!   or abandoned task cannot run user code afterwards.
//! - Before every resume of a task (after a decision, and when priming a new one), the loop
//!   publishes which task and which scheduling point on its thread's stall-watchdog
//!   `Heartbeat` (a few atomic stores, nothing more), and marks the heartbeat idle when the
//!   execution ends.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, Location};
use std::sync::Arc;

use corosensei::CoroutineResult;

use super::task::{self, return_stack, Spawned, TaskEnd, TaskSettings, TaskStart};
use super::{ExecState, OpKind, TaskId, TraceEvent, CURRENT};
use crate::strategy::{Candidate, Decision, Refusal, Strategy};
use crate::trace::{Evidence, Execution, FailureKind, Names, RawFailure};
use crate::watchdog::Heartbeat;

/// Limits one execution runs under.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExecutionLimits {
    pub(crate) max_steps: usize,
    pub(crate) tasks: TaskSettings,
}

/// The user's test body, shared by every execution.
pub(crate) type TestBody = Arc<dyn Fn() + Send + Sync + 'static>;

/// Owns the coroutines of one execution and resets the unfinished ones when dropped, on the
/// normal path and if the loop itself panics.
struct Coroutines(Vec<Option<Spawned>>);

impl Coroutines {
    /// Resets every unfinished coroutine (see `Drop`) and hands back the emptied table.
    fn take(mut self) -> Vec<Option<Spawned>> {
        self.end_all();
        std::mem::take(&mut self.0)
    }

    fn end_all(&mut self) {
        for slot in self.0.iter_mut() {
            if let Some(spawned) = slot.take() {
                task::abandon(spawned);
            }
        }
    }
}

impl Drop for Coroutines {
    fn drop(&mut self) {
        self.end_all();
    }
}

struct InstallGuard;

impl Drop for InstallGuard {
    fn drop(&mut self) {
        super::install(None);
    }
}

/// Runs one execution of `body`, asking `strategy` at every decision. `body_location` is where
/// the test body was handed to selvedge: the main task's spawn site in reports. The engine
/// failing inside the scheduler loop (an assertion: a bug in selvedge) abandons the execution
/// where it stood and says so in `Execution::internal`.
pub(crate) fn run(
    strategy: &mut dyn Strategy,
    limits: ExecutionLimits,
    body: &TestBody,
    body_location: &'static Location<'static>,
    heartbeat: Option<&Heartbeat>,
    always_named: bool,
) -> Execution {
    super::panic_hook::install();
    super::overflow_trap::install();
    super::overflow_trap::prepare_thread();
    let mut limits = limits;
    if let Some(seed) = strategy.data_seed() {
        limits.tasks.data_seed = seed;
    }
    assert!(
        CURRENT.with(|c| c.get().is_null()),
        "selvedge models cannot be nested: an entry point was called inside a running model"
    );
    let mut kept = super::take_state(limits.tasks);
    let shared: &mut RefCell<ExecState> = &mut kept;
    super::install(Some(shared));
    let _installed = InstallGuard;
    let mut coroutines = Coroutines(super::spare_coroutine_table());
    let main_body = body.clone();
    let spawned = task::spawn_task(
        &mut shared.borrow_mut(),
        None,
        None,
        move || main_body(),
        body_location,
        TaskStart::Primed,
    );
    assert!(spawned.is_ok(), "the main task could not be created");

    let (choices, candidates) = super::spare_decision_buffers();
    let scheduler = RefCell::new(Scheduler {
        strategy,
        max_steps: limits.max_steps,
        heartbeat,
        choices,
        candidates,
        spurious: Vec::new(),
        previous: None,
        n_waiting: 0,
        redundant: false,
        preemptions: 0,
        made: None,
        priming: false,
        internal: None,
        collected: false,
    });
    let _scheduler_installed = install_scheduler(&scheduler);
    // An engine assertion failing in this loop must not unwind out of the explorer: the
    // execution is abandoned where it stands and reported as an internal error.
    let scheduled = std::panic::catch_unwind(AssertUnwindSafe(|| loop {
        // A task that decided on its own stack for another task (or to stop) left the
        // decision here; otherwise the loop decides.
        let made = scheduler.borrow_mut().made.take();
        // New tasks join the table before any task is resumed. A task decides on its stack
        // only when no new task needs priming (`decide_on_task`), so after its decision this
        // primes nothing: it runs no code that could change what was decided from.
        assert!(
            made.is_none() || !needs_priming(&shared.borrow()),
            "a task decided on its stack while a new task waited to be primed"
        );
        scheduler.borrow_mut().priming = true;
        let overflowed = adopt_spawned(shared, &mut coroutines, heartbeat);
        scheduler.borrow_mut().priming = false;
        if let Some(task) = overflowed {
            end_with_overflow(shared, task);
            break;
        }
        let next = match made {
            Some(next) => next,
            None => {
                let mut state = shared.borrow_mut();
                scheduler
                    .borrow_mut()
                    .decide(&mut state, None)
                    .expect("the loop always decides")
            }
        };
        let Next::Run(chosen) = next else {
            break;
        };
        if resume(shared, &mut coroutines, chosen) {
            end_with_overflow(shared, chosen);
            break;
        }
    }));
    drop(_scheduler_installed);
    let Scheduler {
        choices,
        candidates,
        redundant,
        preemptions,
        internal: internal_on_task,
        strategy,
        ..
    } = scheduler.into_inner();
    super::recycle_candidates(candidates);
    let internal = scheduled
        .err()
        .map(|payload| crate::trace::panic_message(payload.as_ref()))
        .or(internal_on_task);
    if let Some(heartbeat) = heartbeat {
        heartbeat.idle();
    }
    super::recycle_coroutine_table(coroutines.take());
    // Tasks created but never adopted: the execution ended first (a failure, or a stack
    // overflow of the task that spawned them after it went on deciding on its own stack).
    // Taken one by one: the list keeps its buffer for the next execution.
    while let Some(unstarted) = shared.get_mut().spawned.pop_front() {
        task::abandon(unstarted);
    }
    drop(_installed);
    let state = shared.get_mut();
    if internal.is_none() && !redundant {
        crate::alloc::check_leaks(state);
    }
    if internal.is_none() {
        strategy.finish_execution(&state.trace, &choices);
    }
    let failure = state.failure.take();
    // Names cost allocations: only an execution a report is made of needs them.
    let names = if always_named || failure.is_some() || internal.is_some() {
        state.names()
    } else {
        Names::default()
    };
    let thread_ruined = state.thread_poisoned;
    let virtual_ns = state.clock_ns;
    // A replay string carries the data seed only when the execution used it.
    let data_seed = state.data_drawn.then_some(limits.tasks.data_seed);
    let clock_marks = std::mem::take(&mut state.clock_marks);
    let woke_spuriously = state.tasks.iter().any(|t| t.woke_spuriously);
    let trace = std::mem::take(&mut state.trace);
    if !thread_ruined {
        // After a stack overflow a borrow of the state may have been lost with the stack: the
        // state is dropped, and the OS thread with it.
        super::keep_state(kept);
    }
    Execution {
        trace,
        choices,
        preemptions,
        data_seed,
        virtual_ns,
        clock_marks,
        redundant,
        woke_spuriously,
        failure,
        names,
        internal,
        thread_ruined,
    }
}

/// What the scheduler loop carries out next.
#[derive(Clone, Copy, Debug)]
enum Next {
    Run(TaskId),
    /// The execution ends: every task finished, or a failure, a refusal of the strategy or
    /// an internal error was recorded.
    Stop,
}

/// The decision machinery of one execution: the strategy and what the decisions so far left.
/// The scheduler loop owns it, and a running task borrows it to decide at its own scheduling
/// point while it is the one to go on (`decide_on_task`): the decision is the same either way,
/// and the task is spared two stack switches.
struct Scheduler<'a> {
    strategy: &'a mut dyn Strategy,
    max_steps: usize,
    heartbeat: Option<&'a Heartbeat>,
    choices: Vec<TaskId>,
    candidates: Vec<Candidate>,
    /// Candidates enabled only by a spurious wakeup at the current decision (usually none).
    spurious: Vec<TaskId>,
    previous: Option<TaskId>,
    /// Tasks currently waiting for another task's progress after yielding.
    n_waiting: usize,
    redundant: bool,
    preemptions: usize,
    /// A decision a task made on its stack for the loop to carry out.
    made: Option<Next>,
    /// The loop is running new tasks to their first scheduling point: they do not decide.
    priming: bool,
    /// An engine assertion that failed while a task decided on its stack.
    internal: Option<String>,
    /// `candidates` and `spurious` are this state's: a task collected them and gave up.
    collected: bool,
}

thread_local! {
    /// The running execution's `RefCell<Scheduler>`, type-erased, while `run` lives.
    static SCHEDULER: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

struct SchedulerInstalled;

impl Drop for SchedulerInstalled {
    fn drop(&mut self) {
        SCHEDULER.with(|c| c.set(std::ptr::null()));
    }
}

fn install_scheduler(scheduler: &RefCell<Scheduler<'_>>) -> SchedulerInstalled {
    SCHEDULER.with(|c| c.set(scheduler as *const RefCell<Scheduler<'_>> as *const ()));
    SchedulerInstalled
}

/// Stack a task must have left to decide on its own stack: the strategy runs there (DPOR may
/// drop a deep wakeup tree). Tasks on smaller stacks always switch to the loop.
const DECISION_STACK_BYTES: usize = 256 * 1024;

/// Called by the running task at a scheduling point, with its operation pending: if the
/// strategy lets it go on, decides so here and returns `true`, and the task performs its
/// operation without suspending. Otherwise returns `false` and the task suspends; a decision
/// already made (another task, or the end) waits for the loop in `Scheduler::made`.
pub(crate) fn decide_on_task(state: &mut ExecState) -> bool {
    let ptr = SCHEDULER.with(Cell::get);
    let me = state.current;
    if ptr.is_null()
        || needs_priming(state)
        || state.failure.is_some()
        || state.thread_poisoned
        || super::overflow_trap::stack_left().is_none_or(|left| left < DECISION_STACK_BYTES)
    {
        return false;
    }
    // SAFETY: set by `run` to its scheduler for as long as it lives, and only this OS thread
    // reads it; the task runs inside the loop's `resume`, where the loop holds no borrow.
    let cell = unsafe { &*(ptr as *const RefCell<Scheduler<'_>>) };
    let Ok(mut scheduler) = cell.try_borrow_mut() else {
        return false;
    };
    if scheduler.priming || scheduler.made.is_some() {
        return false;
    }
    // An engine assertion here must not unwind through the task's own frames.
    match std::panic::catch_unwind(AssertUnwindSafe(|| scheduler.decide(state, Some(me)))) {
        Ok(None) => false,
        Ok(Some(Next::Run(task))) if task == me => true,
        Ok(Some(next)) => {
            scheduler.made = Some(next);
            false
        }
        Err(payload) => {
            scheduler.internal = Some(crate::trace::panic_message(payload.as_ref()));
            scheduler.made = Some(Next::Stop);
            false
        }
    }
}

impl Scheduler<'_> {
    /// Decides the next step. On the stack of task `on_task`, gives up (`None`) without a
    /// trace of having tried when only the loop can decide: the task cannot go on, the clock
    /// must move, or the execution must end for lack of steps.
    fn decide(&mut self, state: &mut ExecState, on_task: Option<TaskId>) -> Option<Next> {
        if state.failure.is_some() {
            return Some(Next::Stop);
        }
        // Collected by the task that gave up just before, on this very state.
        if !std::mem::take(&mut self.collected) {
            self.collect_candidates(state);
        }
        if let Some(me) = on_task {
            if !self.candidates.iter().any(|c| c.task == me) || self.choices.len() >= self.max_steps
            {
                // The task suspends at once and the loop decides next, with nothing run in
                // between (no task was spawned: `decide_on_task`), so these candidates hold.
                self.collected = true;
                return None;
            }
        }
        if self.candidates.is_empty() && advance_clock(state, &mut self.n_waiting) {
            self.collect_candidates(state);
        }
        if self.candidates.is_empty() && release_spinners(state, &mut self.n_waiting) {
            if state.failure.is_some() {
                return Some(Next::Stop);
            }
            self.collect_candidates(state);
        }
        if self.candidates.is_empty() {
            if state.tasks.iter().all(|t| t.finished) {
                return Some(Next::Stop);
            }
            let blocked = state.blocked_tasks();
            state.failure = Some(RawFailure {
                kind: FailureKind::Deadlock,
                message: deadlock_message(&blocked),
                task: None,
                blocked,
                evidence: Evidence::None,
            });
            return Some(Next::Stop);
        }
        if self.choices.len() >= self.max_steps {
            // The tasks that wait meanwhile are listed with what they wait for: often the
            // one blocked forever is the bug, and the running one only a loop that never ends.
            let blocked: Vec<_> = state
                .blocked_tasks()
                .into_iter()
                .filter(|b| !self.candidates.iter().any(|c| c.task.0 == b.task))
                .collect();
            let message = step_limit_message(state, &self.candidates, &blocked, self.max_steps);
            state.failure = Some(RawFailure {
                kind: FailureKind::Livelock,
                message,
                task: None,
                blocked,
                evidence: Evidence::None,
            });
            return Some(Next::Stop);
        }
        let decision = Decision {
            step: self.choices.len(),
            candidates: &self.candidates,
            previous: self.previous,
            spurious: &self.spurious,
        };
        let chosen = match self.strategy.choose(&decision) {
            Ok(task) => task,
            Err(Refusal::Redundant) => {
                self.redundant = true;
                return Some(Next::Stop);
            }
            Err(Refusal::Diverged(message)) => {
                state.failure = Some(RawFailure {
                    kind: FailureKind::Nondeterminism,
                    message,
                    task: None,
                    blocked: Vec::new(),
                    evidence: Evidence::None,
                });
                return Some(Next::Stop);
            }
        };
        assert!(
            self.candidates.iter().any(|c| c.task == chosen),
            "strategy chose task {} which is not enabled",
            chosen.0
        );
        self.choices.push(chosen);
        if self
            .previous
            .is_some_and(|p| p != chosen && self.candidates.iter().any(|c| c.task == p))
        {
            self.preemptions += 1;
        }
        self.previous = Some(chosen);
        state.current = chosen;
        let op = state.tasks[chosen.index()].pending;
        note_progress(state, chosen, op, &mut self.n_waiting);
        state.trace.push(TraceEvent {
            task: chosen,
            op,
            chosen: true,
            unwinding: false,
        });
        if let Some(heartbeat) = self.heartbeat {
            heartbeat.beat(chosen, op);
        }
        Some(Next::Run(chosen))
    }

    fn collect_candidates(&mut self, state: &ExecState) {
        let candidates = &mut self.candidates;
        let spurious = &mut self.spurious;
        candidates.clear();
        spurious.clear();
        for (i, slot) in state.tasks.iter().enumerate() {
            let id = TaskId(i as u32);
            if !slot.finished && state.is_enabled(id) {
                let op = slot.pending;
                candidates.push(Candidate {
                    task: id,
                    kind: op.kind,
                    object: op.object,
                    access: op.access,
                });
                // Only a park, a wait for a waker or a condvar wait can wake spuriously: the
                // cheap test first, since most candidates are none of those.
                if state.settings.spurious_wakeups
                    && (matches!(op.kind, OpKind::Park | OpKind::AwaitWake)
                        || slot.blocked_on.is_some())
                    && state.needs_spurious_wakeup(id)
                {
                    spurious.push(id);
                }
            }
        }
        // A spurious wakeup is offered only beside a task that can run for real: when nothing
        // else can move, no wakeup is guaranteed to come, and the waiters are deadlocked (or
        // wait for the clock), as shuttle's parked threads are.
        if spurious.len() == candidates.len() {
            candidates.clear();
            spurious.clear();
        }
    }
}

/// A yield parks its task until another task makes progress: a step that may change what a
/// spinner observes, which releases every parked task. A step that only observes (another
/// spinner's load, a yield) is not progress: running a spinner again after it could only
/// re-read the same state, and counting it would let two spinners release each other forever
/// while the task they wait for never runs.
fn note_progress(state: &mut ExecState, chosen: TaskId, op: super::Op, n_waiting: &mut usize) {
    let kind = op.kind;
    if kind.parks_until_progress() {
        let task = state.task(chosen);
        if !task.waiting_for_progress {
            task.waiting_for_progress = true;
            *n_waiting += 1;
        }
        return;
    }
    if *n_waiting == 0 || op.access.observes_only() {
        return;
    }
    for (i, task) in state.tasks.iter_mut().enumerate() {
        if i != chosen.index() {
            task.waiting_for_progress = false;
            task.futile_yields = 0;
        }
    }
    *n_waiting = usize::from(state.tasks[chosen.index()].waiting_for_progress);
}

/// Nothing can run: if a timed wait is pending, the virtual clock moves to its deadline. Time
/// passing is progress, so tasks that yielded may run again. Returns whether the clock moved.
fn advance_clock(state: &mut ExecState, n_waiting: &mut usize) -> bool {
    if !state.advance_clock() {
        return false;
    }
    if *n_waiting > 0 {
        for task in state.tasks.iter_mut() {
            task.waiting_for_progress = false;
            task.futile_yields = 0;
        }
        *n_waiting = 0;
    }
    true
}

/// Nothing can run but tasks that yielded: let them run again, counting the futile round;
/// a task that keeps spinning with nobody able to release it is a livelock. Returns whether
/// any task was released (or a livelock recorded).
fn release_spinners(state: &mut ExecState, n_waiting: &mut usize) -> bool {
    *n_waiting = 0;
    let mut released = false;
    let mut stuck: Vec<String> = Vec::new();
    for i in 0..state.tasks.len() {
        let task = &mut state.tasks[i];
        if task.finished || !task.waiting_for_progress {
            continue;
        }
        task.waiting_for_progress = false;
        task.futile_yields += 1;
        released = true;
        if task.futile_yields > crate::limits::MAX_FUTILE_YIELDS {
            let at = task.pending.location;
            let name = state.task_name(TaskId(i as u32));
            stuck.push(format!("{name}, spinning at {at}"));
        }
    }
    if !stuck.is_empty() {
        state.failure = Some(RawFailure {
            kind: FailureKind::Livelock,
            message: format!(
                "{} kept yielding, and no other task can make the progress it waits for: {}",
                if stuck.len() == 1 { "a task" } else { "tasks" },
                stuck.join(", ")
            ),
            task: None,
            blocked: state.blocked_tasks(),
            evidence: Evidence::None,
        });
    }
    released
}

/// Moves coroutines created by `spawn` into the table and runs each `TaskStart::Primed` one
/// up to its first scheduling point: the code before it is invisible to other tasks, so no
/// decision is needed, and the task's first real operation becomes known. A
/// `TaskStart::WhenChosen` one waits, unstarted, for its `start` step. Returns a task that
/// overflowed its stack while being primed.
#[must_use]
fn adopt_spawned(
    shared: &RefCell<ExecState>,
    coroutines: &mut Coroutines,
    heartbeat: Option<&Heartbeat>,
) -> Option<TaskId> {
    loop {
        let next = {
            let mut state = shared.borrow_mut();
            if state.spawned.is_empty() {
                return None;
            }
            state.spawned.pop_front().expect("not empty")
        };
        let task = next.task;
        let index = task.index();
        let start = next.start;
        if coroutines.0.len() <= index {
            coroutines.0.resize_with(index + 1, || None);
        }
        coroutines.0[index] = Some(next);
        if start == TaskStart::WhenChosen {
            // Its code runs when its `start` step is chosen: nothing to run now.
            continue;
        }
        let parent = shared.borrow().current;
        {
            let mut state = shared.borrow_mut();
            state.current = task;
            if let Some(heartbeat) = heartbeat {
                heartbeat.beat(task, state.tasks[index].pending);
            }
        }
        if resume(shared, coroutines, task) {
            return Some(task);
        }
        shared.borrow_mut().current = parent;
    }
}

/// Does a new task wait to be run to its first scheduling point (`TaskStart::Primed`)? Only
/// the loop primes, and priming runs code: no decision may be made on a task's stack before.
fn needs_priming(state: &ExecState) -> bool {
    // Asked at every decision on a task's stack: the list is almost always empty.
    !state.spawned.is_empty() && state.spawned.iter().any(|s| s.start == TaskStart::Primed)
}

/// Runs `task` until it suspends or ends. Returns whether it overflowed its stack; the
/// caller then ends the execution with `end_with_overflow`. Inlined by force: this is the
/// hottest call of the loop, and left out of line it costs about 3% of a schedule's
/// instructions (callgrind, `benches/random.rs`).
#[must_use]
#[inline(always)]
fn resume(shared: &RefCell<ExecState>, coroutines: &mut Coroutines, task: TaskId) -> bool {
    let slot = &mut coroutines.0[task.index()];
    let Spawned {
        coroutine, trap, ..
    } = slot.as_mut().expect("resumed a task with no coroutine");
    shared.borrow_mut().running_task = true;
    let result = {
        let _armed = super::overflow_trap::arm(trap);
        coroutine.resume(())
    };
    match result {
        CoroutineResult::Yield(()) => {}
        CoroutineResult::Return(TaskEnd::Finished) => {
            let done = slot.take().expect("coroutine vanished");
            return_stack(done);
        }
        CoroutineResult::Return(TaskEnd::StackOverflow) => {
            // The state may still be borrowed by the discarded stack: touch nothing. The
            // stack is freed, not pooled: this OS thread is discarded after the execution.
            drop(slot.take());
            return true;
        }
    }
    shared.borrow_mut().running_task = false;
    false
}

/// Ends the execution after `task` overflowed its stack (see `overflow_trap`). The discarded
/// stack may have held a borrow of the state that will never be released, so from here on the
/// loop reaches the state only through `get_mut` and `into_inner`, which ignore it.
fn end_with_overflow(shared: &mut RefCell<ExecState>, task: TaskId) {
    let state = shared.get_mut();
    state.running_task = false;
    task::record_overflow(state, task);
}

/// Why an execution that reached `Config::max_steps` is reported: who still runs, who waits,
/// how far the virtual clock went, and what usually causes it.
fn step_limit_message(
    state: &ExecState,
    running: &[Candidate],
    waiting: &[crate::trace::BlockedTask],
    max_steps: usize,
) -> String {
    let running_names = running
        .iter()
        .map(|c| state.task_name(c.task))
        .collect::<Vec<_>>()
        .join(", ");
    let waiting = waiting
        .iter()
        .map(|b| b.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut message = format!(
        "the execution did not finish within {max_steps} steps (`Config::max_steps`); still \
         running: {running_names}"
    );
    if !waiting.is_empty() {
        message += &format!("; waiting meanwhile: {waiting} (below: what for)");
    }
    if state.clock_ns > 0 {
        message += &format!(
            "; the virtual clock reached {:?}",
            std::time::Duration::from_nanos(state.clock_ns)
        );
    }
    message += ". A task that busy-waits should call `selvedge::hint::spin_loop()` or \
                `selvedge::thread::yield_now()` in its loop, an async task \
                `yield_now().await` (std's `spin_loop` is invisible to selvedge, and a sleep \
                already due does not yield; with selvedge's, the task runs again only after \
                another made progress)";
    if !waiting.is_empty() {
        message += "; a task that loops forever (on a timer, an `interval`) while the others \
                    wait may be hiding a task that is blocked for good";
    }
    message + "; if the test is just long, raise `max_steps`"
}

fn deadlock_message(blocked: &[crate::trace::BlockedTask]) -> String {
    // A task waiting for a lock it holds itself waits for itself: say so first.
    for task in blocked {
        if let crate::trace::WaitsFor::Release { object, holders } = &task.waits_for {
            if let Some(own) = holders.iter().find(|h| h.task == task.task) {
                let kind = object.name.split('#').next().unwrap_or("lock");
                if task.operation == OpKind::ReadLock && !task.awaited {
                    return format!(
                        "{} is blocked forever: it tried to acquire a {kind} it already holds \
                         ({}, taken at {}) to read it; std's `RwLock::read` may deadlock or \
                         panic when the thread holds the lock already (a second read deadlocks \
                         once a writer queues between the two), so selvedge never grants it: \
                         hold one guard and pass it down, or drop it before locking again",
                        task.name, object.name, own.at
                    );
                }
                return format!(
                    "{} is blocked forever: it tried to acquire a {kind} it already holds ({}, \
                     taken at {}) and waits for itself",
                    task.name, object.name, own.at
                );
            }
        }
    }
    let names: Vec<&str> = blocked.iter().map(|b| b.name.as_str()).collect();
    match names.len() {
        1 => format!(
            "{} is blocked forever and no other task can wake it",
            names[0]
        ),
        _ => format!("every unfinished task is blocked: {}", names.join(", ")),
    }
}
