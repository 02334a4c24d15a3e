//! Async tasks waiting at an `.await`: what a task whose future returned `Pending` waits for,
//! when it may run again, and what happens at the step that wakes it.
//!
//! A future built from selvedge primitives does not poll shared state to find out whether it
//! can go on: its first poll registers an *interest* (the operation it waits for, say `lock`
//! on `Mutex#1`, with a readiness test and a grant) and returns `Pending`. `block_on` then
//! suspends the task at one scheduling point whose operation is that interest's, enabled
//! exactly when the interest is ready, so an awaited `lock` is one step that DPOR reasons about
//! as it does a thread's `lock`. The step performs the grant (takes the lock), and the re-poll
//! finds it done. A future from anywhere else (the `futures` crate, a hand-written one) keeps a
//! clone of the task's waker; the task then waits for a `wake` of that waker.
//!
//! Invariants:
//! - An interest is granted only at its task's wait step, only when ready, and at most once;
//!   the future that registered it claims the grant (`claim`) or gives it back (`cancel`).
//! - No user code (a foreign waker's `wake` or `drop`) runs while the execution state is
//!   borrowed: wakers are moved out first.
//! - A task waiting here is enabled exactly when `ExecState::await_ready` says so.

use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

use super::object::{ObjectKind, ObjectState};
use super::{point_decided, try_with_state, with_state, ExecState, ObjectId, Op, OpKind, TaskId};

/// Is an interest ready for its task now? Reads object state only.
pub(crate) type ReadyFn = fn(&ExecState, TaskId, &Interest) -> bool;
/// Performs an interest at its task's wait step (takes the lock, the permits).
pub(crate) type GrantFn = fn(&mut ExecState, TaskId, &Interest);

/// What one pending future of a task waits for.
pub(crate) struct Interest {
    key: u64,
    /// The operation it waits for, as the report shows it (`await lock Mutex#1`).
    pub(crate) op: Op,
    /// A primitive-defined argument (how many permits, which message).
    pub(crate) arg: u64,
    /// For a timer: the virtual time at which it is ready.
    pub(crate) deadline: Option<u64>,
    ready: ReadyFn,
    grant: GrantFn,
    /// The waker it was polled with, when that is not the task's own (a combinator such as
    /// `FuturesUnordered` wraps it and re-polls only what was woken).
    waker: Option<Waker>,
    granted: bool,
    /// Where the wait step records its grant, for a future that keeps a flag of its own
    /// (`register_settled`): the interest is then removed at that step, and the future learns
    /// of the grant without borrowing the state. The flag outlives the interest.
    settled: Option<NonNull<bool>>,
}

/// Async bookkeeping of one task.
#[derive(Default)]
pub(crate) struct AsyncSlot {
    pub(crate) interests: Vec<Interest>,
    /// The task's waker object, once a clone or wake involved it.
    pub(crate) waker: Option<ObjectId>,
    /// A spawned future (not a thread in `block_on`): `abort` cancels it.
    pub(crate) abortable: bool,
    pub(crate) abort_requested: bool,
    pub(crate) in_block_on: bool,
    /// The task woke its own waker during the poll that returned `Pending`: a yield.
    pub(crate) self_woken: bool,
    /// For a spawned future: the thread whose runtime it belongs to, as a tokio task belongs
    /// to the runtime it was spawned on. A thread's own spawns are its; a task's spawns are
    /// its owner's. A shutdown (the test body's end, `block_on_then_shutdown`) cancels only
    /// the tasks its thread owns.
    pub(crate) owner: Option<TaskId>,
    /// Futures spawned into this thread's runtime whose completion this thread has not seen
    /// through their `JoinHandle`: while any is left, its runtime may have tasks to shut down.
    /// Counted from its own history (its spawns and its joins), so deciding on a shutdown step
    /// reads nothing another task wrote that the thread has not synchronised with.
    pub(crate) unjoined_futures: u32,
    /// A future was ever spawned into this thread's runtime: only then does a shutdown mark it
    /// shut down (later spawns into it start cancelled).
    pub(crate) spawned_futures: bool,
    /// A task of this thread's runtime spawned a future into it: the thread cannot count that
    /// one itself, so its shutdown is always a step.
    pub(crate) spawned_by_its_tasks: bool,
    /// This spawned future is counted in its owner's `unjoined_futures` (its owner spawned it).
    pub(crate) counted_by_owner: bool,
    /// This thread's runtime was shut down: a future spawned into it now (by a destructor
    /// that ran at the cancellation, say) is cancelled before its first poll.
    pub(crate) shut_down: bool,
    /// Where the task's future last called `yield_now`, for the yield step's location.
    pub(crate) yield_at: Option<&'static Location<'static>>,
    /// Operations completed at once, without a step, since the task last waited (a sleep
    /// already due): the one that reaches `limits::COOP_BUDGET` is a scheduling point
    /// (`spend_coop_budget`).
    pub(crate) coop_spent: u32,
    /// Operations on other tasks' wakers since the task's last scheduling point, in order,
    /// waiting to be performed as steps of their own just before its next one (`waker_op`).
    pub(crate) deferred_waker_ops: Vec<DeferredWakerOp>,
}

impl AsyncSlot {
    /// The oldest waker operation still to be performed, taken out.
    pub(crate) fn take_deferred_waker_op(&mut self) -> Option<DeferredWakerOp> {
        (!self.deferred_waker_ops.is_empty()).then(|| self.deferred_waker_ops.remove(0))
    }
}

/// A clone, wake or drop of another task's waker, done by code the current task runs and
/// performed at the task's next scheduling point (see `waker_op`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeferredWakerOp {
    op: Op,
    effect: fn(&mut ObjectState),
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Poll the future again.
    Poll,
    /// The task was aborted: drop the future.
    Abort,
}

const INTEREST_NONE: u64 = 0;

/// The status of an interest when its future is polled again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Performed at the wait step: the future completes (the interest is gone).
    Granted,
    /// Still waiting.
    Waiting,
}

/// What a future waits for, as `register` takes it.
pub(crate) struct Wants {
    /// The operation, as the report shows it (`lock`, `sleep`).
    pub(crate) kind: OpKind,
    pub(crate) object: Option<ObjectId>,
    /// A primitive-defined argument (how many permits, which task).
    pub(crate) arg: u64,
    /// For a timer: when it is ready.
    pub(crate) deadline: Option<u64>,
    pub(crate) ready: ReadyFn,
    pub(crate) grant: GrantFn,
}

/// Registers what the current task's future waits for; the future returns `Pending` next.
/// Not a scheduling point: nothing shared is read or written. Returns the interest's key.
pub(crate) fn register(
    cx: &Context<'_>,
    wants: Wants,
    location: &'static Location<'static>,
) -> u64 {
    register_in_execution(cx, wants, location).0
}

/// `register`, also returning the execution's generation (what `cancel` checks).
pub(crate) fn register_in_execution(
    cx: &Context<'_>,
    wants: Wants,
    location: &'static Location<'static>,
) -> (u64, u64) {
    register_if(cx, location, |_| Some(wants)).expect("an unconditional interest is registered")
}

/// `register_in_execution`, for a future that learns of its grant from `settled`: the wait
/// step that grants the interest sets the flag and removes the interest (neither `claim` nor
/// `cancel` is needed after it).
///
/// # Safety
/// `settled` stays valid until the interest is granted, claimed or cancelled.
#[inline]
pub(crate) unsafe fn register_settled(
    cx: &Context<'_>,
    wants: Wants,
    location: &'static Location<'static>,
    settled: NonNull<bool>,
) -> (u64, u64) {
    register_with(cx, location, Some(settled), |_| Some(wants))
        .expect("an unconditional interest is registered")
}

/// Registers the interest `wants` decides from the state, in the same borrow; `None` from it
/// (what the future waits for is there already) registers nothing and returns `None`.
/// Otherwise as `register_in_execution`.
pub(crate) fn register_if(
    cx: &Context<'_>,
    location: &'static Location<'static>,
    wants: impl FnOnce(&ExecState) -> Option<Wants>,
) -> Option<(u64, u64)> {
    register_with(cx, location, None, wants)
}

/// Inlined into its callers: the interest is then built from the caller's values directly,
/// not copied through a `Wants` in memory (whose wide reload stalled on its narrow stores).
#[inline(always)]
fn register_with(
    cx: &Context<'_>,
    location: &'static Location<'static>,
    settled: Option<NonNull<bool>>,
    wants: impl FnOnce(&ExecState) -> Option<Wants>,
) -> Option<(u64, u64)> {
    let (key, generation, foreign) = with_state("an awaited selvedge operation", |s| {
        let wants = wants(s)?;
        let task = s.current;
        let foreign = !is_own_waker(s, cx);
        s.next_interest += 1;
        let key = s.next_interest;
        assert_ne!(key, INTEREST_NONE);
        let slot = &mut s.tasks[task.index()].asynchronous;
        assert!(
            slot.interests.len() < crate::limits::MAX_INTERESTS,
            "selvedge: one task awaits more than {} things at once",
            crate::limits::MAX_INTERESTS
        );
        slot.interests.push(Interest {
            key,
            op: Op::new(wants.kind, wants.object, location).awaited(),
            arg: wants.arg,
            deadline: wants.deadline,
            ready: wants.ready,
            grant: wants.grant,
            waker: None,
            granted: false,
            settled,
        });
        Some((key, s.generation, foreign))
    })?;
    if foreign {
        // Cloning a foreign waker may run its code: outside the state's borrow.
        let waker = cx.waker().clone();
        set_waker(key, Some(waker));
    }
    Some((key, generation))
}

/// Is `cx`'s waker the running task's own (which `block_on` re-polls anyway, so keeping a clone
/// would only count as a live waker)?
fn is_own_waker(s: &ExecState, cx: &Context<'_>) -> bool {
    let own = ManuallyDrop::new(unsafe_waker(own_waker_data(s, s.current)));
    cx.waker().will_wake(&own)
}

/// Replaces the foreign waker of interest `key` of the current task, dropping the old one
/// outside the state's borrow.
fn set_waker(key: u64, waker: Option<Waker>) {
    let old = with_state("an awaited selvedge operation", |s| {
        let task = s.current;
        let slot = &mut s.tasks[task.index()].asynchronous;
        let interest = slot.interests.iter_mut().find(|i| i.key == key)?;
        std::mem::replace(&mut interest.waker, waker)
    });
    drop(old);
}

/// Refuses, with what to do, a future polled in another execution than the one it registered
/// its interest in (`generation`): its key would name some other interest there.
#[track_caller]
pub(crate) fn check_same_execution(generation: u64) {
    if super::current_generation() != Some(generation) {
        stale_poll();
    }
}

#[cold]
#[track_caller]
fn stale_poll() -> ! {
    panic!(
        "a selvedge future was polled in another execution than the one it began waiting in: \
         a future, and the channel, lock or handle it waits on, belong to the execution that \
         made them; create them inside the test body and do not keep them in statics"
    )
}

/// Polled again: was the interest granted? A granted interest is removed (its future is done
/// with it); a waiting one keeps the newest foreign waker. `generation` is the execution the
/// interest was registered in (`register_in_execution`): a poll in another is refused.
pub(crate) fn claim(key: u64, generation: u64, cx: &Context<'_>) -> Claim {
    check_same_execution(generation);
    let (claim, gone, refresh) = with_state("an awaited selvedge operation", |s| {
        let task = s.current;
        let i = find_interest(s, task, key)
            .expect("a future polled again after it gave up its interest");
        let slot = &mut s.tasks[task.index()].asynchronous;
        if slot.interests[i].granted {
            let gone = slot.interests.remove(i);
            (Claim::Granted, gone.waker, false)
        } else {
            let foreign = !is_own_waker(s, cx);
            let slot = &s.tasks[task.index()].asynchronous;
            let current = &slot.interests[i].waker;
            let refresh = match (foreign, current) {
                (false, None) => false,
                (true, Some(w)) => !w.will_wake(cx.waker()),
                _ => true,
            };
            (Claim::Waiting, None, refresh)
        }
    });
    drop(gone);
    if refresh {
        let waker = (!cx.waker().will_wake(&own_task_waker())).then(|| cx.waker().clone());
        set_waker(key, waker);
    }
    claim
}

/// The running task's own waker, borrowed.
fn own_task_waker() -> ManuallyDrop<Waker> {
    let data = with_state("a waker", |s| own_waker_data(s, s.current));
    ManuallyDrop::new(unsafe_waker(data))
}

/// Where interest `key` is in `task`'s list, after adopting it from the task that registered
/// it if that was another: a future first polled by one task and now by `task` (it was moved,
/// say through a channel) takes its interest along, so the task that polls it is the one that
/// waits. A granted interest keeps its grant (the lock is held by the task it was granted to,
/// as a thread's guard moved to another thread would be). `None`: no task has it.
fn find_interest(s: &mut ExecState, task: TaskId, key: u64) -> Option<usize> {
    let here = &s.tasks[task.index()].asynchronous.interests;
    if let Some(i) = here.iter().position(|i| i.key == key) {
        return Some(i);
    }
    for other in 0..s.tasks.len() {
        let interests = &mut s.tasks[other].asynchronous.interests;
        if let Some(i) = interests.iter().position(|i| i.key == key) {
            let interest = interests.remove(i);
            let here = &mut s.tasks[task.index()].asynchronous.interests;
            here.push(interest);
            return Some(here.len() - 1);
        }
    }
    None
}

/// The future was dropped before it claimed its interest: removes it and says whether it had
/// been granted (the caller then undoes the grant: unlocks, gives the permits back). Outside
/// the execution that registered it, it is already gone.
pub(crate) fn cancel(key: u64, generation: u64) -> bool {
    let removed = try_with_state(|s| {
        if s.generation != generation {
            return None;
        }
        // Usually the current task's; a future moved to another task and dropped there
        // takes its interest from wherever it was registered.
        let task = s.current;
        let i = find_interest(s, task, key)?;
        Some(s.tasks[task.index()].asynchronous.interests.remove(i))
    })
    .flatten();
    match removed {
        Some(interest) => {
            let granted = interest.granted;
            drop(interest);
            granted
        }
        None => false,
    }
}

impl ExecState {
    /// What `task` awaits at once, one line each, for a report: its interests not yet granted.
    pub(crate) fn awaited_branches(&self, task: TaskId) -> Vec<String> {
        let slot = &self.tasks[task.index()].asynchronous;
        let mut branches: Vec<String> = slot
            .interests
            .iter()
            .filter(|i| !i.granted)
            .map(|i| {
                let on =
                    i.op.object
                        .map(|o| format!(" on {}", self.objects[o.index()].name()))
                        .unwrap_or_default();
                let kind = match i.op.kind {
                    OpKind::Sleep(ns) => format!(
                        "sleep until {:?} (virtual)",
                        std::time::Duration::from_nanos(i.deadline.unwrap_or(ns))
                    ),
                    kind => kind.to_string(),
                };
                format!("`{kind}`{on} at {}", i.op.location)
            })
            .collect();
        if let Some(waker) = slot.waker {
            if self.waker_state(waker).1 > 0 {
                branches.push("a wake of its waker, held by another future".to_string());
            }
        }
        branches
    }

    /// May a task waiting at an `.await` run? When it was aborted, its waker was woken, its
    /// deadline passed, or one of its interests is ready.
    pub(crate) fn await_ready(&self, task: TaskId) -> bool {
        let slot = &self.tasks[task.index()];
        let a = &slot.asynchronous;
        if a.abortable && a.abort_requested {
            return true;
        }
        if a.waker.is_some_and(|w| self.waker_state(w).0) {
            return true;
        }
        if slot.deadline.is_some_and(|d| self.clock_ns >= d) {
            return true;
        }
        a.interests
            .iter()
            .any(|i| !i.granted && (i.ready)(self, task, i))
    }

    /// `(woken, live clones)` of a waker object.
    pub(crate) fn waker_state(&self, waker: ObjectId) -> (bool, u32) {
        match self.objects[waker.index()].state {
            ObjectState::Waker { woken, clones } => (woken, clones),
            _ => unreachable!("object is not a waker"),
        }
    }

    /// `task`'s waker object, registered the first time a clone or wake involves it.
    pub(crate) fn waker_object(&mut self, task: TaskId) -> ObjectId {
        if let Some(w) = self.tasks[task.index()].asynchronous.waker {
            return w;
        }
        let at = self.tasks[task.index()].spawned_at;
        let w = self.register(
            ObjectKind::Waker,
            ObjectState::Waker {
                woken: false,
                clones: 0,
            },
            at,
        );
        self.tasks[task.index()].asynchronous.waker = Some(w);
        w
    }
}

/// Suspends the current task after its future returned `Pending`, until what it waits for
/// happens; performs the grants that step brings and wakes the foreign wakers of the granted
/// interests. `location` is where the task's future is awaited as a whole (`block_on`, spawn).
pub(crate) fn wait(location: &'static Location<'static>) -> Woken {
    point_decided(|s| {
        let task = s.current;
        let waker = s.tasks[task.index()].asynchronous.waker;
        let (woken, clones) = waker.map_or((false, 0), |w| s.waker_state(w));
        let slot = &mut s.tasks[task.index()];
        let a = &mut slot.asynchronous;
        let self_woken = std::mem::take(&mut a.self_woken);
        let yield_at = a.yield_at.take().unwrap_or(location);
        // The first interest still waiting is named by its index, and its operation read from
        // the list where it is needed: copying it out and back stalled the loads on the
        // stores (store forwarding fails on its narrow fields), a few percent of an await.
        let mut live = (0..a.interests.len()).filter(|&i| !a.interests[i].granted);
        let first = live.next();
        let more = live.next().is_some();
        slot.deadline = match (first, more) {
            (Some(i), false) => a.interests[i].deadline,
            _ => a
                .interests
                .iter()
                .filter(|i| !i.granted)
                .filter_map(|i| i.deadline)
                .min(),
        };
        slot.awaiting = true;
        match first {
            // Woke itself and waits for nothing else: a yield.
            None if self_woken => Op::new(OpKind::Yield, None, yield_at).awaited(),
            Some(i) if !more && !woken && clones == 0 => a.interests[i].op,
            None => {
                let w = s.waker_object(task);
                Op::new(OpKind::AwaitWake, Some(w), location)
            }
            // Several things awaited at once (a `select!`, a `timeout`) are placed where the
            // first of them was awaited, not where the task's future is polled.
            Some(i) => Op::new(OpKind::AwaitAny, None, a.interests[i].op.location),
        }
    });
    let (woken, wake) = with_state("an .await", |s| {
        let task = s.current;
        if s.needs_spurious_wakeup(task) {
            // Nothing woke it: the strategy chose a spurious poll (`Config::spurious_wakeups`),
            // which futures must tolerate and selvedge's own do.
            let waker = s.tasks[task.index()].asynchronous.waker;
            s.spend_spurious_wakeup(waker, location);
        }
        let slot = &mut s.tasks[task.index()];
        slot.awaiting = false;
        slot.deadline = None;
        // Back from the runtime, as a tokio task polled anew: a full budget.
        slot.asynchronous.coop_spent = 0;
        if let Some(w) = slot.asynchronous.waker {
            if let ObjectState::Waker { woken, .. } = &mut s.objects[w.index()].state {
                *woken = false;
            }
        }
        let a = &s.tasks[task.index()].asynchronous;
        if a.abortable && a.abort_requested {
            return (Woken::Abort, Vec::new());
        }
        let mut wake = Vec::new();
        let mut settled_any = false;
        let n = s.tasks[task.index()].asynchronous.interests.len();
        for i in 0..n {
            let interest = &s.tasks[task.index()].asynchronous.interests[i];
            if interest.granted || !(interest.ready)(s, task, interest) {
                continue;
            }
            let (grant, snapshot) = (interest.grant, interest.snapshot());
            grant(s, task, &snapshot);
            let interest = &mut s.tasks[task.index()].asynchronous.interests[i];
            interest.granted = true;
            settled_any |= interest.settled.is_some();
            wake.extend(interest.waker.take());
        }
        if settled_any {
            // Their futures learn of the grant from their flags: the interests go now.
            s.tasks[task.index()]
                .asynchronous
                .interests
                .retain(|interest| match interest.settled {
                    Some(flag) if interest.granted => {
                        // SAFETY: the flag outlives its interest (`register_settled`).
                        unsafe { flag.as_ptr().write(true) };
                        false
                    }
                    _ => true,
                });
        }
        (Woken::Poll, wake)
    });
    if wake.is_empty() {
        return woken;
    }
    for waker in wake {
        waker.wake();
    }
    // A combinator's waker may have come back to this task's own: it is being polled anyway.
    with_state("an .await", |s| {
        let task = s.current;
        s.tasks[task.index()].asynchronous.self_woken = false;
        if let Some(w) = s.tasks[task.index()].asynchronous.waker {
            if let ObjectState::Waker { woken, .. } = &mut s.objects[w.index()].state {
                *woken = false;
            }
        }
    });
    woken
}

impl Interest {
    /// A copy without the waker, for a grant function to read while the state is borrowed.
    fn snapshot(&self) -> Interest {
        Interest {
            key: self.key,
            op: self.op,
            arg: self.arg,
            deadline: self.deadline,
            ready: self.ready,
            grant: self.grant,
            waker: None,
            granted: self.granted,
            settled: None,
        }
    }
}

// --- The task's own waker -------------------------------------------------------------------

/// Bits of a generation packed beside a task index in a waker's data word.
const WAKER_TASK_BITS: u32 = 24;
const WAKER_TASK_MASK: usize = (1 << WAKER_TASK_BITS) - 1;
const _: () = assert!(
    usize::BITS == 64,
    "selvedge packs a waker's execution and task into one pointer-sized word"
);
const _: () = assert!(crate::limits::MAX_TASKS_CAP <= WAKER_TASK_MASK);

/// The data word of `task`'s waker in this execution.
fn own_waker_data(s: &ExecState, task: TaskId) -> usize {
    let generation = (s.generation as usize) & (usize::MAX >> WAKER_TASK_BITS);
    (generation << WAKER_TASK_BITS) | task.index()
}

/// `task`'s waker in this execution, owned by the caller (dropping it is a waker drop).
fn unsafe_waker(data: usize) -> Waker {
    // SAFETY: the vtable's functions accept any data word (they check it against the running
    // execution and ignore a stale one).
    unsafe { Waker::from_raw(RawWaker::new(data as *const (), &VTABLE)) }
}

static VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// The task a waker's data word names, if it belongs to the running execution.
fn target(s: &ExecState, data: *const ()) -> Option<TaskId> {
    let data = data as usize;
    let task = TaskId((data & WAKER_TASK_MASK) as u32);
    let ours = task.index() < s.tasks.len() && own_waker_data(s, task) == data;
    ours.then_some(task)
}

/// Performs a waker operation. On another task's waker, from a running task, it is a step of
/// its own, taken at the task's next scheduling point: the code that woke may hold a lock
/// selvedge does not see (`futures`' bounded channel wakes a sender under its own `std`
/// mutex), and switching tasks right there would let the woken task block the one OS thread
/// on that lock. Every scheduling point of the task comes after it, so the interleavings of
/// the operations that are scheduling points are the same; an `Arc` cloned or dropped in
/// between (not a scheduling point) is counted before it. On the task's own waker it is
/// bookkeeping, as it is from the scheduler loop or at the end of an execution; on a waker of
/// another execution it is nothing.
fn waker_op(data: *const (), kind: fn(TaskId) -> OpKind, effect: fn(&mut ObjectState)) {
    let Some((object, in_task, own)) = try_with_state(|s| {
        let task = target(s, data)?;
        let object = s.waker_object(task);
        Some((object, s.in_task(), task == s.current))
    })
    .flatten() else {
        return;
    };
    if in_task && !own {
        let op = Op::new(
            kind(TaskId((data as usize & WAKER_TASK_MASK) as u32)),
            Some(object),
            Location::caller(),
        );
        with_state("a waker", |s| {
            let current = s.current;
            s.tasks[current.index()]
                .asynchronous
                .deferred_waker_ops
                .push(DeferredWakerOp { op, effect });
        });
        return;
    }
    apply_waker_effect(object, own, effect);
}

/// Notes where the running task's future yields (`yield_now`), so its yield step is placed
/// there rather than where the task's future is polled. Nothing outside a model.
pub(crate) fn note_yield_at(at: &'static Location<'static>) {
    try_with_state(|s| {
        if s.in_task() {
            let current = s.current;
            s.tasks[current.index()].asynchronous.yield_at = Some(at);
        }
    });
}

/// The running task completes an operation without waiting (a sleep already due): spends one
/// unit of its cooperative budget. `true` when the budget is spent: the operation is then a
/// scheduling point (where tokio's `coop` makes the task give way), and the budget starts
/// again. Nothing outside a task.
pub(crate) fn spend_coop_budget() -> bool {
    try_with_state(|s| {
        if !s.in_task() {
            return false;
        }
        let current = s.current;
        let a = &mut s.tasks[current.index()].asynchronous;
        a.coop_spent += 1;
        if a.coop_spent < crate::limits::COOP_BUDGET {
            return false;
        }
        a.coop_spent = 0;
        true
    })
    .unwrap_or(false)
}

/// Performs a deferred waker operation as a step of the current task (from `point_decided`,
/// before the step the task was about to take).
pub(crate) fn perform_deferred_waker_op(deferred: DeferredWakerOp) {
    // The step is the waker operation alone: a wait the task was setting up for its next step
    // (a condvar queue, a deadline) applies to that step, not to this one.
    let (blocked_on, deadline) = with_state("a waker", |s| {
        let current = s.current;
        let task = &mut s.tasks[current.index()];
        (task.blocked_on.take(), task.deadline.take())
    });
    super::point_now(deferred.op);
    with_state("a waker", |s| {
        let current = s.current;
        let task = &mut s.tasks[current.index()];
        task.blocked_on = blocked_on;
        task.deadline = deadline;
    });
    let object = deferred
        .op
        .object
        .expect("a waker operation names its waker");
    apply_waker_effect(object, false, deferred.effect);
}

/// Performs every deferred waker operation of the running task (at its end). Nothing from the
/// scheduler loop.
pub(crate) fn perform_deferred_waker_ops() {
    while let Some(deferred) = try_with_state(|s| {
        if !s.in_task() {
            return None;
        }
        let current = s.current;
        s.tasks[current.index()]
            .asynchronous
            .take_deferred_waker_op()
    })
    .flatten()
    {
        perform_deferred_waker_op(deferred);
    }
}

fn apply_waker_effect(object: ObjectId, own: bool, effect: fn(&mut ObjectState)) {
    with_state("a waker", |s| {
        let state = &mut s.objects[object.index()].state;
        let was_woken = matches!(state, ObjectState::Waker { woken: true, .. });
        effect(state);
        let wakes = !was_woken && matches!(state, ObjectState::Waker { woken: true, .. });
        if own && wakes && s.in_task() {
            // The task woke itself while being polled: if it returns `Pending`, it yields.
            s.tasks[s.current.index()].asynchronous.self_woken = true;
        }
    });
}

fn waker_clone(data: *const ()) -> RawWaker {
    waker_op(
        data,
        |_| OpKind::WakerClone,
        |state| {
            if let ObjectState::Waker { clones, .. } = state {
                *clones += 1;
            }
        },
    );
    RawWaker::new(data, &VTABLE)
}

fn waker_wake(data: *const ()) {
    waker_wake_by_ref(data);
    waker_drop(data);
}

fn waker_wake_by_ref(data: *const ()) {
    waker_op(data, OpKind::WakerWake, |state| {
        if let ObjectState::Waker { woken, .. } = state {
            *woken = true;
        }
    });
}

fn waker_drop(data: *const ()) {
    waker_op(
        data,
        |_| OpKind::WakerDrop,
        |state| {
            if let ObjectState::Waker { clones, .. } = state {
                *clones = clones.saturating_sub(1);
            }
        },
    );
}

/// Enters `block_on` on the current task and returns the waker to poll its future with; a
/// nested `block_on` is refused with what to do. For a spawned task (`spawned`), `None` if it
/// was aborted before its first poll: it then drops its future unpolled, entering nothing.
#[track_caller]
pub(crate) fn enter_block_on(spawned: bool) -> Option<ManuallyDrop<Waker>> {
    let entered = with_state("selvedge::future::block_on", |s| {
        let task = s.current;
        let a = &mut s.tasks[task.index()].asynchronous;
        if spawned && a.abort_requested {
            return None;
        }
        let nested = std::mem::replace(&mut a.in_block_on, true);
        Some((nested, own_waker_data(s, task)))
    });
    let (nested, waker) = entered?;
    if nested {
        panic!(
            "`selvedge::future::block_on` was called inside a future that is already being run \
             by `block_on` or `spawn` on this task: a nested `block_on` would stop every future of \
             the task; `.await` the inner future instead, or `selvedge::future::spawn` it"
        );
    }
    Some(ManuallyDrop::new(unsafe_waker(waker)))
}

/// Leaves `block_on` on the current task.
pub(crate) fn leave_block_on() {
    try_with_state(|s| {
        let task = s.current;
        s.tasks[task.index()].asynchronous.in_block_on = false;
    });
}
