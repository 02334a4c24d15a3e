//! Model threads, mirroring `std::thread`: each is a task of the running execution.
//!
//! ```
//! selvedge::check_random(|| {
//!     let t = selvedge::thread::Builder::new()
//!         .name("worker".into())
//!         .spawn(|| selvedge::thread::current().name().map(str::to_owned))
//!         .unwrap();
//!     assert_eq!(t.join().unwrap().as_deref(), Some("worker"));
//! }, 10);
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use crate::runtime::object::ObjectState;
use crate::runtime::task::{spawn_task, LocalSlot, TaskStart};
use crate::runtime::{self, point, try_with_state, with_state, OpKind, TaskId};

pub use std::thread::{available_parallelism, panicking};

/// A model thread's id: its task number in the execution (`main` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(u32);

impl From<ThreadId> for usize {
    /// The task number (shuttle's conversion).
    fn from(id: ThreadId) -> usize {
        id.0 as usize
    }
}

impl ThreadId {
    /// The task number, as reports show it.
    pub fn as_u64(&self) -> u64 {
        self.0 as u64
    }
}

/// A handle to a model thread.
#[derive(Clone, Debug)]
pub struct Thread {
    id: ThreadId,
    name: Option<String>,
}

impl Thread {
    pub fn id(&self) -> ThreadId {
        self.id
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Makes the thread's token available; its next (or current) `park` returns.
    #[track_caller]
    pub fn unpark(&self) {
        let target = TaskId(self.id.0);
        let parker = with_state("Thread::unpark", |s| s.parker(target));
        point(OpKind::Unpark(target), Some(parker));
        with_state("Thread::unpark", |s| {
            *s.object(parker) = ObjectState::Parker { token: true };
            let me = s.current;
            if let Some(hb) = s.hb.as_mut() {
                hb.unpark(me, target);
            }
        });
    }
}

/// The current model thread.
#[track_caller]
pub fn current() -> Thread {
    with_state("selvedge::thread::current", |s| {
        let id = s.current;
        Thread {
            id: ThreadId(id.0),
            // As loom's: the model's main thread has no name (reports still call it `main`).
            name: s.tasks[id.index()].name.clone(),
        }
    })
}

/// A scheduling point that lets any other task run.
#[track_caller]
pub fn yield_now() {
    if !runtime::in_model() {
        return std::thread::yield_now();
    }
    point(OpKind::Yield, None);
}

/// Sleeps on virtual time: the task blocks until the model's clock reaches now + `duration`.
/// The clock moves only when every task is blocked, straight to the earliest deadline, so an
/// hour of sleeps costs no real time and every sleeper wakes in deadline order.
#[track_caller]
pub fn sleep(duration: Duration) {
    if !runtime::in_model() {
        return std::thread::sleep(duration);
    }
    let deadline = with_state("selvedge::thread::sleep", |s| {
        runtime::deadline_after(s, duration)
    });
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    runtime::point_until(
        OpKind::Sleep(nanos),
        None,
        deadline,
        std::panic::Location::caller(),
    );
}

/// Blocks until this thread's token is made available by `Thread::unpark`, then consumes it.
///
/// As std warns, it may also return without a token (a spurious wakeup): the model explores
/// that once per task per execution (`Config::spurious_wakeups`), and only while another task
/// can run, so code that parks outside a loop re-checking its condition is caught.
#[track_caller]
pub fn park() {
    let at = std::panic::Location::caller();
    let parker = with_state("selvedge::thread::park", |s| {
        let id = s.current;
        s.parker(id)
    });
    runtime::point_at(OpKind::Park, Some(parker), at);
    with_state("selvedge::thread::park", |s| {
        let id = s.current;
        if !s.park_token(id) {
            s.spend_spurious_wakeup(Some(parker), at);
            return;
        }
        *s.object(parker) = ObjectState::Parker { token: false };
        if let Some(hb) = s.hb.as_mut() {
            hb.park(id);
        }
    });
}

/// Like `park`, but also returns, without a token, once `timeout` has passed on the virtual
/// clock (which moves only when every task is blocked).
#[track_caller]
pub fn park_timeout(timeout: Duration) {
    let (deadline, parker) = with_state("selvedge::thread::park_timeout", |s| {
        let id = s.current;
        (runtime::deadline_after(s, timeout), s.parker(id))
    });
    runtime::point_until(
        OpKind::ParkTimeout,
        Some(parker),
        deadline,
        std::panic::Location::caller(),
    );
    with_state("selvedge::thread::park_timeout", |s| {
        let id = s.current;
        if s.park_token(id) {
            let parker = s.parker(id);
            *s.object(parker) = ObjectState::Parker { token: false };
            if let Some(hb) = s.hb.as_mut() {
                hb.park(id);
            }
        }
    });
}

type ResultSlot<T> = Arc<StdMutex<Option<T>>>;

/// Owned permission to join a model thread.
pub struct JoinHandle<T> {
    task: TaskId,
    result: ResultSlot<T>,
    thread: Thread,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result. A thread that panics fails the
    /// whole execution, so this returns `Ok` whenever it returns.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        point(OpKind::Join(self.task), None);
        let child = self.task;
        with_state("JoinHandle::join", |s| {
            let me = s.current;
            if let Some(hb) = s.hb.as_mut() {
                hb.join(me, child);
            }
        });
        let value = self
            .result
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("a finished task left no result");
        Ok(value)
    }

    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Has the thread finished? (Not a scheduling point.)
    pub fn is_finished(&self) -> bool {
        try_with_state(|s| s.tasks[self.task.index()].finished).unwrap_or(true)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

/// Spawns a model thread. Panics outside a model.
///
/// Unlike `std::thread::spawn`, `f` and its result need not be `Send`: every task of an
/// execution runs on the one OS thread that runs the execution, so an `Rc` may move into a
/// model thread (loom allows this too, and loom's users rely on it).
///
/// A panic in the spawned thread fails the whole execution (a `Panic` failure naming the
/// thread), even when the `join` would handle it: catch expected panics inside the thread.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match Builder::new().spawn(f) {
        Ok(handle) => handle,
        Err(e) => panic!("{e}"),
    }
}

/// Thread factory, mirroring `std::thread::Builder`.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread; reports show it.
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Stack bytes for this thread's coroutine (default `Config::stack_size`). A thread that
    /// needs more is a `FailureKind::StackOverflow` failure naming it and this knob.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the thread; as [`spawn`], `f` and its result need not be `Send`.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        // SAFETY: `f` and `T` are 'static.
        unsafe { self.spawn_unchecked(f, Location::caller()) }
    }

    /// # Safety
    /// Whatever `f` borrows must outlive the task (the scope joins it before returning).
    #[track_caller]
    unsafe fn spawn_unchecked<'a, F, T>(
        self,
        f: F,
        at: &'static Location<'static>,
    ) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'a,
        T: 'a,
    {
        let result: ResultSlot<T> = Arc::new(StdMutex::new(None));
        let slot = result.clone();
        let body: Box<dyn FnOnce() + 'a> = Box::new(move || {
            let value = f();
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        });
        // SAFETY: per this function's contract.
        let body: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(body) };
        let name = self.name.clone();
        // A refused body is dropped after the state borrow (see `check_capacity`).
        let mut body = Some(body);
        let spawned = with_state("selvedge::thread::spawn", |s| {
            crate::runtime::task::check_capacity(s)?;
            let body = body.take().expect("taken once");
            let spawned = spawn_task(
                s,
                name.clone(),
                self.stack_size,
                body,
                at,
                TaskStart::Primed,
            );
            if let Ok(child) = spawned {
                runtime::record_event(s, OpKind::Spawn(child), None, at);
            }
            spawned
        });
        let task = spawned.map_err(std::io::Error::other)?;
        Ok(JoinHandle {
            task,
            result,
            thread: Thread {
                id: ThreadId(task.0),
                name: self.name,
            },
        })
    }

    /// Spawns a scoped thread (see [`scope`]).
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // SAFETY: `scope` joins every thread it started before it returns or unwinds.
        let handle = unsafe { self.spawn_unchecked(f, Location::caller())? };
        scope
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle.task);
        Ok(ScopedJoinHandle {
            inner: handle,
            _scope: PhantomData,
        })
    }
}

/// A scope for threads that may borrow from the enclosing function, as `std::thread::scope`.
pub struct Scope<'scope, 'env: 'scope> {
    tasks: StdMutex<Vec<TaskId>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        match Builder::new().spawn_scoped(self, f) {
            Ok(handle) => handle,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Permission to join a scoped thread.
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinHandle<T>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.inner.join()
    }

    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

/// Runs `f` with a scope whose threads are all joined before `scope` returns, as
/// `std::thread::scope`: scoped threads may borrow from the enclosing stack frame.
///
/// ```
/// use selvedge::sync::atomic::{AtomicUsize, Ordering};
///
/// selvedge::model(|| {
///     let hits = AtomicUsize::new(0);
///     selvedge::thread::scope(|s| {
///         s.spawn(|| hits.fetch_add(1, Ordering::SeqCst));
///         s.spawn(|| hits.fetch_add(1, Ordering::SeqCst));
///     });
///     // Both scoped threads were joined when `scope` returned.
///     assert_eq!(hits.load(Ordering::SeqCst), 2);
/// });
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        tasks: StdMutex::new(Vec::new()),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let tasks = std::mem::take(&mut *scope.tasks.lock().unwrap_or_else(|e| e.into_inner()));
    for task in tasks {
        let finished = with_state("selvedge::thread::scope", |s| {
            s.tasks[task.index()].finished
        });
        if !finished {
            point(OpKind::Join(task), None);
        }
        with_state("selvedge::thread::scope", |s| {
            let me = s.current;
            if let Some(hb) = s.hb.as_mut() {
                hb.join(me, task);
            }
        });
    }
    match result {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    }
}

/// The error of `LocalKey::try_with` once the value was destroyed at task exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

/// A per-task value declared with [`thread_local!`](crate::thread_local): every task of every
/// execution starts with a fresh one, destroyed when the task exits. Outside a model it is a
/// per-OS-thread value, as std's.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    index: std::sync::atomic::AtomicUsize,
}

static NEXT_LOCAL_INDEX: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

std::thread_local! {
    /// Outside a model: this OS thread's values, by `LocalKey` slot, dropped at thread exit.
    /// Boxed, so a value never moves while a reference to it is out.
    static OUTSIDE_MODEL: std::cell::RefCell<Vec<Option<Box<dyn std::any::Any>>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            index: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn slot_index(&self) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let i = self.index.load(Relaxed);
        if i != 0 {
            return i - 1;
        }
        let fresh = NEXT_LOCAL_INDEX.fetch_add(1, Relaxed);
        match self.index.compare_exchange(0, fresh, Relaxed, Relaxed) {
            Ok(_) => fresh - 1,
            Err(existing) => existing - 1,
        }
    }

    /// Outside a model: this OS thread's value, created on first use (the initialiser runs
    /// with nothing borrowed, so it may use other thread-locals).
    fn outside_model(&'static self) -> Result<*const T, AccessError> {
        let index = self.slot_index();
        let existing = OUTSIDE_MODEL
            .try_with(|slots| {
                let slots = slots.borrow();
                slots
                    .get(index)
                    .and_then(Option::as_ref)
                    .map(|v| v.downcast_ref::<T>().expect("thread-local type") as *const T)
            })
            .map_err(|_| AccessError)?;
        if let Some(ptr) = existing {
            return Ok(ptr);
        }
        let value: Box<dyn std::any::Any> = Box::new((self.init)());
        OUTSIDE_MODEL
            .try_with(|slots| {
                let mut slots = slots.borrow_mut();
                if slots.len() <= index {
                    slots.resize_with(index + 1, || None);
                }
                let slot = slots[index].get_or_insert(value);
                slot.downcast_ref::<T>().expect("thread-local type") as *const T
            })
            .map_err(|_| AccessError)
    }

    /// Runs `f` with this task's value, creating it first if needed.
    ///
    /// # Panics
    /// If the value was already destroyed (from another thread-local's destructor).
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.try_with(f).expect(
            "cannot access a thread-local value during or after its destruction at task exit",
        )
    }

    /// Like `with`, but errs once the value was destroyed at task exit.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        if !runtime::in_model() {
            let ptr = self.outside_model()?;
            // SAFETY: boxed in this OS thread's slots, dropped only when the thread exits.
            return Ok(f(unsafe { &*ptr }));
        }
        let index = self.slot_index();
        let existing = with_state("LocalKey::with", |s| {
            let id = s.current;
            let locals = &mut s.task(id).locals;
            if locals.len() <= index {
                locals.resize_with(index + 1, || LocalSlot::Empty);
            }
            match &locals[index] {
                LocalSlot::Alive(value) => Ok(Some(
                    value.downcast_ref::<T>().expect("thread-local type") as *const T,
                )),
                LocalSlot::Empty => Ok(None),
                LocalSlot::Destroyed => Err(AccessError),
            }
        })?;
        let ptr = match existing {
            Some(ptr) => ptr,
            None => {
                // Initialise outside the state borrow: `init` may use primitives.
                let value: Box<dyn std::any::Any> = Box::new((self.init)());
                with_state("LocalKey::with", |s| {
                    let id = s.current;
                    let slot = &mut s.task(id).locals[index];
                    if let LocalSlot::Empty = slot {
                        *slot = LocalSlot::Alive(value);
                    }
                    match slot {
                        LocalSlot::Alive(v) => {
                            v.downcast_ref::<T>().expect("thread-local type") as *const T
                        }
                        _ => unreachable!("slot was just filled"),
                    }
                })
            }
        };
        // SAFETY: the value is boxed in this task's slot and only removed at task exit, which
        // cannot happen while this task is running `f`.
        Ok(f(unsafe { &*ptr }))
    }
}

impl<T: 'static> LocalKey<std::cell::RefCell<T>> {
    /// Borrows this task's value.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Borrows this task's value mutably.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    pub fn set(&'static self, value: T) {
        self.with(|cell| *cell.borrow_mut() = value);
    }

    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }

    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(|cell| cell.take())
    }
}

impl<T: 'static> LocalKey<std::cell::Cell<T>> {
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(|cell| cell.get())
    }

    pub fn set(&'static self, value: T) {
        self.with(|cell| cell.set(value));
    }

    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }

    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(|cell| cell.take())
    }
}

/// Declares per-task values, as `std::thread_local!`. Outside a model the values behave as
/// std's thread-locals.
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> =
            $crate::thread::LocalKey::new(|| $init);
    };
}
