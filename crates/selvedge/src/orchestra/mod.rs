//! The orchestra: real code on real OS threads, or futures on a real tokio runtime, stopped
//! only at syncpoints, with the turns between syncpoints interleaved by the same strategies,
//! reports and replay strings as the model.
//!
//! Each task is a closure the orchestra runs afresh in every schedule. A task runs only while
//! it holds the *turn*; at each counted syncpoint its turn ends and it waits until the strategy
//! gives it the turn again. Its first turn runs the code before its first syncpoint, so a task
//! that reaches `k` counted syncpoints takes `k + 1` turns (as google's `orchestrate` counts).
//! A task given the turn that does not reach a syncpoint within the stall timeout is set aside
//! as *stalled* — blocked on something selvedge does not control, a row lock, a socket — and
//! another task gets the turn; it rejoins when it arrives. When every unfinished task is
//! stalled for the deadlock timeout, that is a `Deadlock` failure listing where each was.
//!
//! Module map: `mod.rs` is the public surface (`Orchestra`, `TaskToken`, `current`,
//! `syncpoint_with`) and the thread-local that says which task a thread acts for;
//! `stage.rs` is the state an execution's tasks and conductor share; `conductor.rs` is the
//! driver behind the engine's `Driver` seam; `threads.rs` and `tokio_tasks.rs` start tasks.
//!
//! Invariants:
//! - The conductor never picks a task: every turn is a `Strategy::choose`.
//! - Nothing waits forever: every wait of the conductor has a deadline, and every wait of a
//!   task ends when the execution ends.
//! - A task thread or future acts for exactly one task of one execution; `current()` says
//!   which, and is `None` everywhere else (model tasks, user threads, tokio tasks the code
//!   under test spawns itself).

mod conductor;
mod stage;
mod threads;
#[cfg(feature = "tokio")]
mod tokio_tasks;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{Config, Report};
use stage::{Arrival, Stage};

pub(crate) use conductor::OrchestraDrivers;

/// Default [`Orchestra::stall_timeout`]: how long a task holding the turn may go without
/// reaching a syncpoint before it is set aside as stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = crate::limits::DEFAULT_STALL_TIMEOUT;

/// Default [`Orchestra::deadlock_timeout`]: how long every unfinished task may stay stalled
/// before the schedule is a `Deadlock` failure. Longer than PostgreSQL's own deadlock check
/// (1 s by default), so a database's deadlock error is seen first.
pub const DEFAULT_DEADLOCK_TIMEOUT: Duration = crate::limits::DEFAULT_DEADLOCK_TIMEOUT;

/// A task's body, or the check: code called with the fixture.
type ThreadTask<S> = Arc<dyn Fn(&S) + Send + Sync + 'static>;

#[cfg(feature = "tokio")]
type AsyncTask<S> = Arc<
    dyn Fn(&S) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>
        + Send
        + Sync
        + 'static,
>;

/// How a task runs.
pub(crate) enum TaskBody<S> {
    Thread(ThreadTask<S>),
    #[cfg(feature = "tokio")]
    Async(AsyncTask<S>),
}

impl<S> Clone for TaskBody<S> {
    fn clone(&self) -> Self {
        match self {
            TaskBody::Thread(f) => TaskBody::Thread(f.clone()),
            #[cfg(feature = "tokio")]
            TaskBody::Async(f) => TaskBody::Async(f.clone()),
        }
    }
}

/// A task as declared: its body and where `.task(..)` was called.
pub(crate) struct TaskSpec<S> {
    pub(crate) body: TaskBody<S>,
    pub(crate) declared_at: &'static Location<'static>,
}

impl<S> Clone for TaskSpec<S> {
    fn clone(&self) -> Self {
        TaskSpec {
            body: self.body.clone(),
            declared_at: self.declared_at,
        }
    }
}

/// Which tokio runtime async tasks run on (one fresh runtime per schedule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) enum Flavor {
    CurrentThread,
    MultiThread { workers: usize },
}

/// Everything an orchestra runs, shared by every execution.
pub(crate) struct Plan<S> {
    pub(crate) setup: Arc<dyn Fn() -> S + Send + Sync + 'static>,
    pub(crate) tasks: Vec<TaskSpec<S>>,
    pub(crate) check: Option<ThreadTask<S>>,
    pub(crate) only: Option<&'static str>,
    pub(crate) identical: bool,
    pub(crate) free_start: bool,
    pub(crate) stall_timeout: Duration,
    pub(crate) deadlock_timeout: Duration,
    pub(crate) flavor: Flavor,
}

/// Real code on real threads (or a real tokio runtime), interleaved at its syncpoints.
///
/// Declare the tasks, optionally a per-schedule fixture (`setup`) they share and an invariant
/// (`check`) run after they all finish, then [`run`](Orchestra::run) it as a test (panics
/// with the report on a failure) or [`explore`](Orchestra::explore) it for a [`Report`].
/// Every distinct order of the tasks' turns is run by default (`Strategy::Dpor` or `Dfs`:
/// selvedge cannot see what real code does between syncpoints, so every turn may conflict with
/// every other); `config` selects `Random`, `Pct`, `Replay` and budgets.
///
/// Here two threads each read a counter, reach a syncpoint, then write it back: of the 6
/// orders of their turns, 4 lose an update, and selvedge reports the first it finds.
///
/// ```
/// use std::sync::Mutex;
/// use selvedge::orchestra::Orchestra;
///
/// fn increment(counter: &Mutex<u32>) {
///     let seen = *counter.lock().unwrap();
///     selvedge::syncpoint!();
///     *counter.lock().unwrap() = seen + 1;
/// }
///
/// let report = Orchestra::new()
///     .setup(|| Mutex::new(0u32))
///     .task(increment)
///     .task(increment)
///     .check(|counter| assert_eq!(*counter.lock().unwrap(), 2, "an update was lost"))
///     .explore();
/// let failure = report.failure().expect("an order that loses an update");
/// assert!(failure.to_string().contains("an update was lost"));
/// assert_eq!(report.turn_counts(), &[2, 2]);
/// ```
pub struct Orchestra<S = ()> {
    plan: Plan<S>,
    config: Config,
    /// A bad builder call, reported when the orchestra runs.
    error: Option<String>,
}

impl Default for Orchestra<()> {
    fn default() -> Self {
        Orchestra::new()
    }
}

impl Orchestra<()> {
    /// An orchestra with no tasks, no fixture, every distinct turn order (`Strategy::Dpor`),
    /// the default stall and deadlock timeouts, and async tasks on a current-thread runtime.
    pub fn new() -> Self {
        Orchestra {
            plan: Plan {
                setup: Arc::new(|| ()),
                tasks: Vec::new(),
                check: None,
                only: None,
                identical: false,
                free_start: false,
                stall_timeout: DEFAULT_STALL_TIMEOUT,
                deadlock_timeout: DEFAULT_DEADLOCK_TIMEOUT,
                flavor: Flavor::CurrentThread,
            },
            config: Config::default(),
            error: None,
        }
    }

    /// A fixture made afresh for every schedule, by `f`, before any task starts: the tasks
    /// and `check` get a reference to it. Call it before `task`, `task_async` and `check`,
    /// which take the fixture's type.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use selvedge::orchestra::Orchestra;
    ///
    /// let counts = Orchestra::new()
    ///     .setup(|| AtomicU32::new(0))
    ///     .task(|n| { n.fetch_add(1, Ordering::SeqCst); })
    ///     .task(|n| { n.fetch_add(1, Ordering::SeqCst); })
    ///     .check(|n| assert_eq!(n.load(Ordering::SeqCst), 2))
    ///     .run();
    /// assert_eq!(counts, vec![1, 1]);
    /// ```
    pub fn setup<T: Send + Sync + 'static>(
        self,
        f: impl Fn() -> T + Send + Sync + 'static,
    ) -> Orchestra<T> {
        let Orchestra {
            plan,
            config,
            mut error,
        } = self;
        if !plan.tasks.is_empty() || plan.check.is_some() {
            error.get_or_insert_with(|| {
                "`Orchestra::setup` was called after `task`, `task_async` or `check`; call it \
                 first, since they take the fixture it makes"
                    .to_string()
            });
        }
        Orchestra {
            plan: Plan {
                setup: Arc::new(f),
                tasks: Vec::new(),
                check: None,
                only: plan.only,
                identical: plan.identical,
                free_start: plan.free_start,
                stall_timeout: plan.stall_timeout,
                deadlock_timeout: plan.deadlock_timeout,
                flavor: plan.flavor,
            },
            config,
            error,
        }
    }
}

impl<S: Send + Sync + 'static> Orchestra<S> {
    /// Adds a task run on its own OS thread (a fresh one in every schedule, named
    /// `selvedge-task-N`, with `Config::stack_size` bytes of stack), called with the fixture.
    /// Its syncpoints (`syncpoint!();`, `syncpoint_with`) block the thread until the task has
    /// the turn again. Only syncpoints on this thread (or taken through its [`TaskToken`])
    /// count: threads the task spawns itself run freely. A panic is a failure naming the task;
    /// a stack overflow ends the process, as on any Rust thread.
    #[track_caller]
    pub fn task(mut self, f: impl Fn(&S) + Send + Sync + 'static) -> Self {
        self.plan.tasks.push(TaskSpec {
            body: TaskBody::Thread(Arc::new(f)),
            declared_at: Location::caller(),
        });
        self
    }

    /// Adds a task that is a future on a real tokio runtime (a fresh runtime in every
    /// schedule; current-thread unless [`multi_thread`](Orchestra::multi_thread)). `f` makes
    /// the future from the fixture; clone what it needs into it. Its syncpoints are awaited,
    /// `selvedge::syncpoint!().await`, and never block a runtime thread; a blocking one in
    /// the task's own future is a panic that says so. Only the task's own future counts:
    /// tasks it spawns with `tokio::spawn` run freely (their `current()` is `None`).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use selvedge::orchestra::Orchestra;
    ///
    /// async fn increment(counter: Arc<Mutex<u32>>) {
    ///     selvedge::syncpoint!().await;
    ///     let seen = *counter.lock().unwrap();
    ///     selvedge::syncpoint!().await;
    ///     *counter.lock().unwrap() = seen + 1;
    /// }
    ///
    /// let report = Orchestra::new()
    ///     .setup(|| Arc::new(Mutex::new(0u32)))
    ///     .task_async(|c| increment(c.clone()))
    ///     .task_async(|c| increment(c.clone()))
    ///     .check(|c| assert_eq!(*c.lock().unwrap(), 2, "lost update"))
    ///     .explore();
    /// assert!(report.failure().is_some());
    /// ```
    #[cfg(feature = "tokio")]
    #[track_caller]
    pub fn task_async<Fut>(mut self, f: impl Fn(&S) -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.plan.tasks.push(TaskSpec {
            body: TaskBody::Async(Arc::new(move |s: &S| Box::pin(f(s)))),
            declared_at: Location::caller(),
        });
        self
    }

    /// Async tasks run on a multi-thread tokio runtime with `workers` worker threads, instead
    /// of a current-thread one.
    #[cfg(feature = "tokio")]
    pub fn multi_thread(mut self, workers: usize) -> Self {
        if workers == 0 {
            self.error.get_or_insert_with(|| {
                "`Orchestra::multi_thread(0)`: a runtime needs at least 1 worker thread".to_string()
            });
        }
        self.plan.flavor = Flavor::MultiThread { workers };
        self
    }

    /// An invariant checked after every task of a schedule finished, with the fixture: a
    /// panic in it is a failure of that schedule.
    pub fn check(mut self, f: impl Fn(&S) + Send + Sync + 'static) -> Self {
        self.plan.check = Some(Arc::new(f));
        self
    }

    /// Count only the syncpoints named `name` (`syncpoint!("name")`); every other one, unnamed
    /// ones included, is free. Without it, only unnamed syncpoints count. A name no task ever
    /// reaches is an error, since every turn order would then be the same.
    pub fn only(mut self, name: &'static str) -> Self {
        self.plan.only = Some(name);
        self
    }

    /// The tasks are interchangeable (the same code on the same fixture), so a schedule and
    /// its mirror image (the same turns with tasks renamed) behave alike: each is run once, the
    /// one where tasks take their first turn in declaration order.
    pub fn identical(mut self) -> Self {
        self.plan.identical = true;
        self
    }

    /// Each task runs its code before its first syncpoint at once, in declaration order,
    /// before any turn is chosen: turns start at syncpoints, as `shuffler`'s `shuffle` blocks
    /// do. Use it when that code is private set-up; by default it is the task's first turn.
    pub fn turns_start_at_syncpoints(mut self) -> Self {
        self.plan.free_start = true;
        self
    }

    /// How long a task holding the turn may go without reaching a syncpoint before it is set
    /// aside as stalled and another task gets the turn (it rejoins when it arrives). Default
    /// [`DEFAULT_STALL_TIMEOUT`] (500 ms): far above the time real code takes between
    /// syncpoints on a loaded machine, so a slow task is not mistaken for a blocked one.
    pub fn stall_timeout(mut self, d: Duration) -> Self {
        if d.is_zero() {
            self.error.get_or_insert_with(|| {
                "`Orchestra::stall_timeout` is zero, which would set every task aside at once; \
                 use a positive duration (default 500 ms)"
                    .to_string()
            });
        }
        self.plan.stall_timeout = d;
        self
    }

    /// How long every unfinished task may stay stalled, none arriving, before the schedule is
    /// a `Deadlock` failure. Default [`DEFAULT_DEADLOCK_TIMEOUT`] (2 s).
    pub fn deadlock_timeout(mut self, d: Duration) -> Self {
        if d.is_zero() {
            self.error.get_or_insert_with(|| {
                "`Orchestra::deadlock_timeout` is zero, which would call every stall a deadlock; \
                 use a positive duration (default 2 s)"
                    .to_string()
            });
        }
        self.plan.deadlock_timeout = d;
        self
    }

    /// The strategy, seed and budgets (`max_schedules`, `time_budget`, `max_steps`,
    /// `keep_schedules`, `stack_size` for task threads). `Dpor` and `Dfs` both run every
    /// distinct turn order; `workers` and `minimise` do not apply.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Runs the orchestra as a test: every schedule the strategy asks for, the `SELVEDGE_*`
    /// environment and saved failing schedules applied as [`crate::check`] does, and a panic
    /// with the full report on a failure or an error. Returns each task's turn count in the
    /// first schedule (with the default exhaustive search, the one where each task runs to its
    /// end in turn).
    ///
    /// ```
    /// use selvedge::orchestra::Orchestra;
    ///
    /// fn hither_and_yon() {
    ///     // hither ...
    ///     selvedge::syncpoint!("hither and yon");
    ///     // ... yon
    /// }
    /// let counts = Orchestra::new()
    ///     .only("hither and yon")
    ///     .task(|_| hither_and_yon())
    ///     .task(|_| hither_and_yon())
    ///     .run();
    /// assert_eq!(counts, vec![2, 2]);
    /// ```
    #[track_caller]
    pub fn run(self) -> Vec<usize> {
        let caller = Location::caller();
        if let Some(message) = &self.error {
            panic!("{message}");
        }
        let Orchestra { plan, config, .. } = self;
        let plan = Arc::new(plan);
        let counts = Arc::new(Mutex::new(Vec::new()));
        let report = crate::entry::run_test_with(config, caller, &|config, test_name, by| {
            let drivers = OrchestraDrivers::new(plan.clone(), &config);
            let report = drivers.explore(config, test_name, by);
            if counts.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
                *counts.lock().unwrap_or_else(|e| e.into_inner()) = report.turns.clone();
            }
            report
        });
        if report.turns.is_empty() {
            return counts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        }
        report.turns
    }

    /// Runs the orchestra as its `config` says and returns what happened, reading no
    /// environment variable and no saved schedule. [`Report::turn_counts`] has each task's
    /// turn count.
    pub fn explore(self) -> Report {
        let Orchestra {
            plan,
            config,
            error,
        } = self;
        if let Some(message) = error {
            let mut report = Report::empty();
            report.error = Some(crate::Error::bad_config(message));
            return report;
        }
        let drivers = OrchestraDrivers::new(Arc::new(plan), &config);
        drivers.explore(config, None, crate::explorer::ReplayBy::Config)
    }
}

impl<S> fmt::Debug for Orchestra<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orchestra")
            .field("tasks", &self.plan.tasks.len())
            .field("only", &self.plan.only)
            .field("identical", &self.plan.identical)
            .field("stall_timeout", &self.plan.stall_timeout)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One task of a running schedule: what [`current`] returns on a task's own thread (or inside
/// its future), and what code acting for the task from another thread (a database proxy's
/// connection thread) holds to take the task's syncpoints.
///
/// ```
/// use selvedge::orchestra::{current, Orchestra};
///
/// assert!(current().is_none(), "outside the orchestra");
/// Orchestra::new()
///     .task(|_| assert_eq!(current().unwrap().index(), 0))
///     .task(|_| {
///         let me = current().unwrap();
///         // Another thread may take this task's syncpoints, blocking until its turn.
///         std::thread::spawn(move || me.syncpoint(None, "SELECT 1")).join().unwrap();
///     })
///     .run();
/// ```
#[derive(Clone)]
pub struct TaskToken {
    stage: Arc<Stage>,
    index: usize,
}

impl TaskToken {
    /// The task's number, from 0, in the order the tasks were declared.
    pub fn index(&self) -> usize {
        self.index
    }

    /// A syncpoint of this task, taken from any thread: the task's turn ends here, and the
    /// call blocks the calling thread until the task has the turn again. `name` selects as
    /// `syncpoint!("name")` does; `detail` (a statement's text) is shown in the report's
    /// interleaving for the turn that starts here. Must not be called from inside the task's
    /// own future (it would block a runtime thread): await `syncpoint!()` there.
    #[track_caller]
    pub fn syncpoint(&self, name: Option<&'static str>, detail: &str) {
        let detail = (!detail.is_empty()).then_some(detail);
        take(self, name, detail, Location::caller());
    }

    /// Adds a line to this task's current step in the report (`ERROR 40P01: deadlock
    /// detected`).
    pub fn note(&self, text: &str) {
        self.stage.note(self.index, text);
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken(task {})", self.index)
    }
}

thread_local! {
    /// The task this thread acts for: set for a task thread's whole life, and around each poll
    /// of an async task.
    static CURRENT: RefCell<Option<TaskToken>> = const { RefCell::new(None) };
    /// Inside a poll of an async orchestra task: a blocking syncpoint here would hold a
    /// runtime thread.
    static POLLING: Cell<bool> = const { Cell::new(false) };
}

/// The orchestra task the calling thread (or tokio task) runs, if any.
pub fn current() -> Option<TaskToken> {
    if !crate::syncpoint::any_run_active() {
        return None;
    }
    CURRENT.with(|c| c.borrow().clone())
}

/// A syncpoint of the calling thread's task, as `syncpoint!` with a `detail` for the report;
/// does nothing (one relaxed load) outside any orchestra or model. Inside a model it is an
/// ordinary scheduling point.
///
/// ```
/// // What a SQL hook calls before each statement.
/// selvedge::orchestra::syncpoint_with(None, "UPDATE accounts SET balance = balance - 10");
/// ```
#[track_caller]
pub fn syncpoint_with(name: Option<&'static str>, detail: &str) {
    if crate::syncpoint::any_run_active() {
        let detail = (!detail.is_empty()).then_some(detail);
        crate::syncpoint::take_blocking(name, detail, Location::caller());
    }
}

/// A blocking syncpoint outside a model: the calling thread's task's, if it has one.
pub(crate) fn syncpoint_blocking(
    name: Option<&'static str>,
    detail: Option<&str>,
    location: &'static Location<'static>,
) {
    let token = CURRENT.with(|c| c.borrow().clone());
    if let Some(token) = token {
        take(&token, name, detail, location);
    }
}

/// What unwinds a task thread out of its closure when its execution has ended.
pub(crate) struct Abandoned;

fn take(
    token: &TaskToken,
    name: Option<&'static str>,
    detail: Option<&str>,
    location: &'static Location<'static>,
) {
    if POLLING.with(Cell::get) && runs_task(token) {
        panic!(
            "a blocking syncpoint at {location} in async task {} would hold a tokio worker \
             thread while the task waits for its turn; await it instead: \
             `selvedge::syncpoint!().await`",
            token.index
        );
    }
    let left = match token.stage.arrive(token.index, name, detail, location) {
        Arrival::Free => false,
        Arrival::Ended => true,
        Arrival::Wait(grants) => !token.stage.wait_turn(token.index, grants),
    };
    if left && runs_task(token) {
        // The execution is over: the task's own thread leaves its closure. A thread acting
        // for the task from outside (a proxy's) just goes on: nothing it does counts now.
        std::panic::resume_unwind(Box::new(Abandoned));
    }
}

/// Is the calling thread `token`'s task's own thread (or inside its future)?
fn runs_task(token: &TaskToken) -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.stage, &token.stage) && t.index == token.index)
    })
}

/// An async task waiting for its turn: `syncpoint!().await` holds one.
pub(crate) struct Waiting {
    token: TaskToken,
    grants: u64,
}

/// The async form of a syncpoint's arrival; `None` when it does not wait.
pub(crate) fn arrive_async(
    name: Option<&'static str>,
    location: &'static Location<'static>,
) -> Option<Waiting> {
    let token = CURRENT.with(|c| c.borrow().clone())?;
    match token.stage.arrive(token.index, name, None, location) {
        Arrival::Free => None,
        // Never woken: the conductor aborts the task.
        Arrival::Ended => Some(Waiting {
            token,
            grants: u64::MAX,
        }),
        Arrival::Wait(grants) => Some(Waiting { token, grants }),
    }
}

pub(crate) fn poll_turn(waiting: &Waiting, cx: &mut Context<'_>) -> Poll<()> {
    if waiting.grants == u64::MAX {
        return Poll::Pending;
    }
    match waiting
        .token
        .stage
        .poll_turn(waiting.token.index, waiting.grants, cx)
    {
        Poll::Ready(true) => Poll::Ready(()),
        // The execution ended: the task is aborted before it would run again.
        Poll::Ready(false) | Poll::Pending => Poll::Pending,
    }
}

/// Sets the calling thread's task for the duration of `f` (a poll of an async task: `polling`).
pub(crate) fn acting_for<R>(token: &TaskToken, polling: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<TaskToken>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
            POLLING.with(|p| p.set(self.1));
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(token.clone()));
    let was_polling = POLLING.with(|p| p.replace(polling));
    let _restore = Restore(previous, was_polling);
    f()
}
