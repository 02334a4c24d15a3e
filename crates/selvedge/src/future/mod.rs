//! Async tasks inside the model: `block_on`, `spawn`, `yield_now`, join and abort handles, and
//! `AtomicWaker`.
//!
//! Every spawned future is a task of its own, scheduled like a thread. A future that returns
//! `Pending` blocks its task until what it waits for happens: a selvedge primitive it awaits
//! becomes ready (an awaited `lock` is one scheduling point, as a thread's is), or its waker is
//! woken. So a lost wakeup is a deadlock report naming the future's task and where it was
//! spawned. Threads and async tasks mix freely, and `block_on` works on any thread of the model.
//! Futures from the `futures` crate (`join!`, `select!`, `FuturesUnordered`, its channels) run
//! unchanged; their wakers' clones, drops and wakes are scheduling points (a wake of another
//! task's waker is taken at the waker's next scheduling point, so a channel that wakes under its
//! own `std` lock does not stall the model). Their channels and `futures::lock::Mutex` keep their
//! state in `std` atomics selvedge does not see: every interleaving of scheduling points still
//! runs under `Strategy::Dfs` and the sampling strategies, but DPOR (the default) cannot tell
//! that two steps touching the same such channel conflict, and may try only one of their orders.
//! Use [`crate::tokio`]'s channels and locks (modelled) where the order matters, or
//! `Strategy::Dfs`.
//!
//! ```
//! use selvedge::future;
//! use selvedge::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//!
//! selvedge::model(|| {
//!     let hits = Arc::new(AtomicUsize::new(0));
//!     let h = hits.clone();
//!     let task = future::spawn(async move {
//!         h.fetch_add(1, Ordering::SeqCst);
//!         7
//!     });
//!     let seven = future::block_on(async { task.await.unwrap() });
//!     assert_eq!(seven, 7);
//!     assert_eq!(hits.load(Ordering::SeqCst), 1);
//! });
//! ```
//!
//! Outside a model these functions panic with a message saying how to run the code under
//! selvedge.

mod atomic_waker;

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use atomic_waker::AtomicWaker;

use crate::runtime::awaiting::{self, Claim, Woken};
use crate::runtime::task::TaskStart;
use crate::runtime::{self, with_state, ExecState, OpKind, TaskId};

/// Runs `future` to completion on the calling task (a model thread or the test body),
/// blocking it, and only it, whenever the future waits.
///
/// A `block_on` inside a future that `block_on` or `spawn` is already running is refused with a
/// message: `.await` the inner future instead.
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let at = Location::caller();
    if !runtime::in_model() {
        runtime::outside_model("selvedge::future::block_on");
    }
    // The waker is borrowed, never dropped, so it is not a live clone.
    let waker = awaiting::enter_block_on(false).expect("a thread's block_on is not aborted");
    let _leave = LeaveBlockOn;
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        let woken = awaiting::wait(at);
        assert_eq!(woken, Woken::Poll, "a thread's block_on was aborted");
    }
}

/// Runs `future` as [`block_on`] does, then cancels every async task still running, at its
/// next `.await`, and waits until each has dropped its future: what dropping a tokio runtime
/// after `Runtime::block_on` does. A background task that loops forever (a ticker, a
/// listener) then ends with the test instead of being reported as stuck. `#[selvedge::test]`
/// runs an async test body this way.
///
/// ```
/// use std::time::Duration;
/// use selvedge::{future, time};
///
/// selvedge::model(|| {
///     future::block_on_then_shutdown(async {
///         future::spawn(async {
///             loop {
///                 time::sleep(Duration::from_secs(1)).await; // a ticker that never ends
///             }
///         });
///         time::sleep(Duration::from_millis(2500)).await;
///     });
/// });
/// ```
#[track_caller]
pub fn block_on_then_shutdown<F: Future>(future: F) -> F::Output {
    let at = Location::caller();
    let output = block_on(future);
    cancel_running_tasks(at);
    output
}

/// Cancels every async task of the calling thread's runtime still running, each at its next
/// `.await`, as dropping a tokio runtime does: one step, so no task sees another's
/// cancellation (a sender dropped, say) before its own. A task belongs to the thread that
/// spawned it, or to its spawner's thread (see `AsyncSlot::owner`): a detached thread's own
/// `block_on` keeps its tasks. The step happens unless the caller saw every task it spawned
/// finish through its `JoinHandle` (and no task spawned into its runtime): that depends only
/// on the caller's own history and what its joins synchronised with. The step conflicts with
/// everything, so DPOR explores it against every other task's steps.
pub(crate) fn cancel_running_tasks(at: &'static Location<'static>) {
    let (me, may_have_tasks) = with_state("selvedge::future::block_on_then_shutdown", |s| {
        let me = s.current;
        let a = &mut s.tasks[me.index()].asynchronous;
        let may_have_tasks = a.unjoined_futures > 0 || a.spawned_by_its_tasks;
        if !may_have_tasks && a.spawned_futures {
            // Every task it spawned finished, as its joins saw: nothing to cancel, and only a
            // future spawned into it from now on (by a destructor) sees the shutdown. A
            // runtime that never spawned is not shut down (a later `block_on` may spawn).
            a.shut_down = true;
        }
        (me, may_have_tasks)
    });
    if !may_have_tasks {
        return;
    }
    runtime::point_at(OpKind::Shutdown, None, at);
    with_state("selvedge::future::block_on_then_shutdown", |s| {
        s.tasks[me.index()].asynchronous.shut_down = true;
        for slot in s.tasks.iter_mut() {
            let a = &mut slot.asynchronous;
            if !slot.finished && a.abortable && a.owner == Some(me) {
                a.abort_requested = true;
            }
        }
    });
}

struct LeaveBlockOn;

impl Drop for LeaveBlockOn {
    fn drop(&mut self) {
        awaiting::leave_block_on();
    }
}

type ResultSlot<T> = Arc<Output<T>>;

/// A spawned task's output: written once by the task as it ends, and taken once by a poll of
/// its `JoinHandle` after the join step, which the model grants only once the task finished,
/// in the same execution (checked), so on the same OS thread. The two never overlap, so no
/// lock guards it (a `Mutex` here cost four atomic operations per spawn).
struct Output<T>(UnsafeCell<Option<Result<T, JoinError>>>);

// SAFETY: see above: the cell is only ever touched by one thread at a time.
unsafe impl<T: Send> Sync for Output<T> {}

impl<T> Output<T> {
    fn new() -> Output<T> {
        Output(UnsafeCell::new(None))
    }

    /// The task's end: its output.
    ///
    /// # Safety
    /// Called once, by the task, before it finishes.
    unsafe fn put(&self, outcome: Result<T, JoinError>) {
        // SAFETY: the caller's promise; nobody reads before the task finished.
        unsafe { *self.0.get() = Some(outcome) };
    }

    /// The output, once the join step saw the task finish.
    ///
    /// # Safety
    /// The task finished in the running execution, on this OS thread.
    unsafe fn take(&self) -> Option<Result<T, JoinError>> {
        // SAFETY: the caller's promise; the writer is done.
        unsafe { (*self.0.get()).take() }
    }
}

/// Spawns `future` as a task of its own. Await the [`JoinHandle`] for its output; dropping the
/// handle lets the task run on unobserved (as tokio's does) until the test body returns, when
/// every task still running is cancelled at its next `.await`, as dropping a runtime does.
///
/// A panic inside the future fails the execution (a `Panic` failure naming the task), as a
/// panic in a model thread does.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let at = Location::caller();
    if !runtime::in_model() {
        runtime::outside_model("selvedge::future::spawn");
    }
    let result: ResultSlot<F::Output> = Arc::new(Output::new());
    let slot = result.clone();
    let body = move || {
        let outcome = run_spawned(future, at);
        // SAFETY: the task's last act, once.
        unsafe { slot.put(outcome) };
    };
    // A small body moves onto the task's stack; a large one is boxed here, before copies of it
    // pile up on the spawner's stack (and corosensei takes at most 1 KiB).
    let (task, generation) = if std::mem::size_of_val(&body) <= crate::limits::INLINE_BODY_BYTES {
        spawn_body(body, at)
    } else {
        let boxed: Box<dyn FnOnce()> = Box::new(body);
        spawn_body(boxed, at)
    };
    JoinHandle {
        task,
        generation,
        result,
        interest: 0,
        done: false,
        spawned_at: at,
    }
}

/// Creates the task of a spawned future, as the spawning task's runtime's.
fn spawn_body<B: FnOnce() + 'static>(body: B, at: &'static Location<'static>) -> (TaskId, u64) {
    // A refused body is dropped after the state borrow (see `check_capacity`).
    let mut body = Some(body);
    let (task, generation) =
        with_state(
            "selvedge::future::spawn",
            |s| match runtime::task::check_capacity(s).and_then(|()| {
                runtime::task::spawn_task(
                    s,
                    None,
                    None,
                    body.take().expect("taken once"),
                    at,
                    TaskStart::WhenChosen,
                )
            }) {
                Ok(child) => {
                    let me = s.current;
                    let owner = s.tasks[me.index()].asynchronous.owner.unwrap_or(me);
                    let runtime = &mut s.tasks[owner.index()].asynchronous;
                    runtime.spawned_futures = true;
                    let counted = owner == me;
                    if counted {
                        runtime.unjoined_futures += 1;
                    } else {
                        runtime.spawned_by_its_tasks = true;
                    }
                    let shut_down = s.tasks[owner.index()].asynchronous.shut_down;
                    let slot = &mut s.tasks[child.index()].asynchronous;
                    slot.abortable = true;
                    slot.owner = Some(owner);
                    slot.counted_by_owner = counted;
                    slot.abort_requested = shut_down;
                    runtime::record_event(s, OpKind::Spawn(child), None, at);
                    Ok((child, s.generation))
                }
                Err(message) => Err(message),
            },
        )
        .unwrap_or_else(|message| panic!("{message}"));
    (task, generation)
}

/// The same as [`spawn`], under shuttle's (and tokio's) name for spawning a future that is not
/// `Send`: in a model every task runs on one OS thread, so no future needs to be.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn(future)
}

/// The body of a spawned task: polls its future until it completes or the task is aborted,
/// in which case the future is dropped right there (its destructors release what it holds).
fn run_spawned<F: Future>(
    future: F,
    at: &'static Location<'static>,
) -> Result<F::Output, JoinError> {
    // A spawned future is not polled at its spawn (tokio's and shuttle's tasks are not): its
    // first poll is a step of its own, so an abort may land before it and spawned tasks may
    // start in any order. The task is created with that `start` step pending and runs from
    // here only once it is chosen (`TaskStart::WhenChosen`).
    let Some(waker) = awaiting::enter_block_on(true) else {
        drop(future);
        return Err(JoinError::Cancelled);
    };
    let _leave = LeaveBlockOn;
    // Pinned on the task's own stack: no allocation per spawn. On abort it is dropped as the
    // function returns, which is where its destructors release what it holds.
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return Ok(value);
        }
        if awaiting::wait(at) == Woken::Abort {
            return Err(JoinError::Cancelled);
        }
    }
}

/// Yields once: the task lets every other task that can run go first (as
/// `tokio::task::yield_now`). Reports place the yield where this is called.
#[track_caller]
pub fn yield_now() -> YieldNow {
    YieldNow {
        yielded: false,
        at: Location::caller(),
    }
}

/// The future of [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
    at: &'static Location<'static>,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        awaiting::note_yield_at(self.at);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Why a spawned task gave no output: it was aborted. (A panic inside a task fails the whole
/// execution instead, so a model never hands one back.) An enum, so shuttle's
/// `JoinError::Cancelled` patterns match; tokio's `is_cancelled()` works too.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// The task was aborted before it completed.
    Cancelled,
}

impl JoinError {
    /// The error of a task cancelled before it completed (the task's number is not kept).
    pub(crate) fn cancelled(_task: u32) -> JoinError {
        JoinError::Cancelled
    }

    /// The task was aborted before it completed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// The task panicked. Always `false` in a model: a panic fails the execution instead.
    pub fn is_panic(&self) -> bool {
        false
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("the task was cancelled"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for JoinError {}

/// An owned permission to await a spawned task's output, or to abort it.
pub struct JoinHandle<T> {
    task: TaskId,
    generation: u64,
    result: ResultSlot<T>,
    interest: u64,
    done: bool,
    /// Where its task was spawned: a misuse of the handle is reported there, since a poll
    /// through `&mut JoinHandle` has no caller location in the user's code.
    spawned_at: &'static Location<'static>,
}

impl<T> JoinHandle<T> {
    /// Cancels the task at its next `.await` (at once if it is waiting): its future is dropped,
    /// releasing what it holds, and awaiting this handle gives a cancelled [`JoinError`]. A task
    /// that already finished keeps its output. Where the abort lands is explored like any
    /// other interleaving.
    #[track_caller]
    pub fn abort(&self) {
        abort(self.task, self.generation, Location::caller());
    }

    /// Has the task finished (completed or been cancelled)?
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        is_finished(self.task, self.generation, Location::caller())
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            task: self.task,
            generation: self.generation,
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.done {
            panic!(
                "the `JoinHandle` of the task spawned at {} was polled again after it returned \
                 its task's output: a task's output can be taken once; keep the value from the \
                 first `.await` (in a `select!` loop, stop polling the handle once its branch \
                 has run)",
                self.spawned_at
            );
        }
        if self.interest == 0 {
            if runtime::current_generation().is_some_and(|g| g != self.generation) {
                panic!(
                    "the `JoinHandle` of the task spawned at {} was awaited in another execution \
                     than the one that spawned its task: a handle belongs to its execution; \
                     keep handles inside the test body, not in statics",
                    self.spawned_at
                );
            }
            same_execution(self.generation, "JoinHandle::poll");
            let task = self.task;
            self.interest = awaiting::register(
                cx,
                awaiting::Wants {
                    kind: OpKind::Join(task),
                    object: None,
                    arg: u64::from(task.0),
                    deadline: None,
                    ready: join_ready,
                    grant: join_grant,
                },
                Location::caller(),
            );
            return Poll::Pending;
        }
        match awaiting::claim(self.interest, self.generation, cx) {
            Claim::Waiting => Poll::Pending,
            Claim::Granted => {
                self.interest = 0;
                self.done = true;
                // SAFETY: granted, so the task finished, in this execution (`claim` checked).
                let value = unsafe { self.result.take() }.expect("a finished task left no output");
                Poll::Ready(value)
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if self.interest != 0 {
            awaiting::cancel(self.interest, self.generation);
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.task.0)
            .finish()
    }
}

fn join_ready(s: &ExecState, _: TaskId, interest: &awaiting::Interest) -> bool {
    s.tasks[interest.arg as usize].finished
}

/// The join step: `me` saw the task finish. If the task belongs to its runtime, one fewer
/// task may be left to shut down (a handle's join is granted once).
fn join_grant(s: &mut ExecState, me: TaskId, interest: &awaiting::Interest) {
    let task = TaskId(interest.arg as u32);
    if let Some(hb) = s.hb.as_mut() {
        hb.join(me, task);
    }
    let joined = &mut s.tasks[task.index()].asynchronous;
    if joined.owner == Some(me) && std::mem::take(&mut joined.counted_by_owner) {
        let a = &mut s.tasks[me.index()].asynchronous;
        assert!(
            a.unjoined_futures > 0,
            "a task joined more often than it was spawned"
        );
        a.unjoined_futures -= 1;
    }
}

/// Aborts a spawned task without owning its output.
#[derive(Clone)]
pub struct AbortHandle {
    task: TaskId,
    generation: u64,
}

impl AbortHandle {
    /// As [`JoinHandle::abort`].
    #[track_caller]
    pub fn abort(&self) {
        abort(self.task, self.generation, Location::caller());
    }

    /// As [`JoinHandle::is_finished`].
    #[track_caller]
    pub fn is_finished(&self) -> bool {
        is_finished(self.task, self.generation, Location::caller())
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("task", &self.task.0)
            .finish()
    }
}

fn same_execution(generation: u64, what: &str) {
    let Some(running) = runtime::current_generation() else {
        runtime::outside_model(what)
    };
    let ours = running == generation;
    assert!(
        ours,
        "`{what}` was called on a handle from another execution: a handle belongs to the \
         execution that spawned its task; keep handles inside the test body"
    );
}

fn abort(task: TaskId, generation: u64, at: &'static Location<'static>) {
    same_execution(generation, "JoinHandle::abort");
    runtime::point_at(OpKind::Abort(task), None, at);
    with_state("JoinHandle::abort", |s| {
        let target = &mut s.tasks[task.index()];
        if !target.finished {
            target.asynchronous.abort_requested = true;
        }
    });
}

fn is_finished(task: TaskId, generation: u64, at: &'static Location<'static>) -> bool {
    same_execution(generation, "JoinHandle::is_finished");
    runtime::point_at(OpKind::IsFinished(task), None, at);
    with_state("JoinHandle::is_finished", |s| {
        s.tasks[task.index()].finished
    })
}
