//! selvedge finds concurrency bugs — lost updates, deadlocks, lost wakeups, broken
//! invariants — by running your test under a controlled scheduler that tries the
//! interleavings a real machine rarely shows, and explains every failure it finds.
//!
//! Write the test with `selvedge::thread` and `selvedge::sync` in place of `std::thread` and
//! `std::sync`, and hand it to an entry point. Here two threads read and then write a shared
//! counter, and selvedge finds the interleaving that loses an update:
//!
//! ```
//! use selvedge::sync::{Arc, atomic::{AtomicU64, Ordering}};
//!
//! let report = selvedge::explore(
//!     selvedge::Config { strategy: selvedge::Strategy::Random, seed: 1, ..Default::default() },
//!     || {
//!         let counter = Arc::new(AtomicU64::new(0));
//!         let handles: Vec<_> = (0..2)
//!             .map(|_| {
//!                 let counter = counter.clone();
//!                 selvedge::thread::spawn(move || {
//!                     let seen = counter.load(Ordering::SeqCst); // read ...
//!                     counter.store(seen + 1, Ordering::SeqCst); // ... then write: not atomic
//!                 })
//!             })
//!             .collect();
//!         for h in handles {
//!             h.join().unwrap();
//!         }
//!         assert_eq!(counter.load(Ordering::SeqCst), 2, "an update was lost");
//!     },
//! );
//! let failure = report.failure().expect("selvedge finds the lost update");
//! assert_eq!(failure.kind(), selvedge::FailureKind::Panic);
//! // `failure` prints the interleaving that lost the update and how to replay it:
//! println!("{failure}");
//! ```
//!
//! # Entry points
//!
//! - [`model()`]: exhaustive exploration within default bounds (like `loom::model`).
//! - [`check_dfs`], [`check_random`], [`check_pct`]: a chosen strategy (like shuttle's).
//! - [`replay`], [`replay_from_file`]: re-run exactly one recorded interleaving.
//! - [`check_random_with_seed`], [`Runner`] with [`scheduler`]: shuttle's shapes.
//! - [`model::Builder`]: loom's shape, with loom's fields and `LOOM_*` variables.
//! - [`explore`]: the programmatic form; returns a [`Report`] instead of panicking.
//! - [`orchestra::Orchestra`]: real code on real threads or a real tokio runtime, interleaved
//!   at its [`syncpoint!`]s, with the same strategies, reports and replay strings.
//!
//! The test-facing entry points panic with the full report on a failure, save the failing
//! schedule under `target/selvedge/regressions/` and replay saved schedules first on the next
//! run. They also read `SELVEDGE_REPLAY`, `SELVEDGE_SEED`, `SELVEDGE_ITERATIONS`,
//! `SELVEDGE_REQUIRE_COMPLETE` and `SELVEDGE_REGRESSIONS`.
//! [`explore`] follows its [`Config`] alone.
//!
//! # selvedge, loom or shuttle?
//!
//! Like loom, selvedge can prove a small test correct for every interleaving — with dynamic
//! partial-order reduction that runs one execution per distinct interleaving, orders of
//! magnitude fewer than loom — and its primitives mirror std. Like shuttle, it has fast
//! randomized strategies (random walk, PCT, POS) for tests too big to exhaust. Every deadlock
//! report names each lock, its holder and its waiters with file and line, and tasks are
//! coroutines on one OS thread, so an execution costs microseconds.
//!
//! Like loom, `cell::UnsafeCell` reports a data race when two tasks access it, one of them
//! writing, with nothing ordering the accesses (a lock, a join, a channel, a Release/Acquire
//! atomic pair): in whatever order they happened to run, and a `Relaxed` flag orders nothing.
//!
//! Porting from loom or shuttle means renaming the crate (`loom = { package = "selvedge", .. }`
//! in `Cargo.toml`): loom's `model::Builder`, `lazy_static!`, `Notify`, leak-checking `Arc` and
//! `alloc::Track`, and shuttle's `check_*`, `Runner`, `rand` and `current` are here. The
//! [`guide`] lists what maps to what and every deliberate difference (exact `SeqCst`, for one);
//! loom 0.7's and shuttle 0.9's own test suites run renamed in this project's CI.
//! Fences synchronise `Relaxed` accesses by the C++20 rules, as loom's do.
//!
//! # Async
//!
//! [`future::spawn`] runs a future as a task of its own, [`future::block_on`] runs one on the
//! calling task, and [`time`] gives `sleep`, `timeout` and `interval` on the model's virtual
//! clock. [`tokio`] groups them in tokio's shapes, so `use selvedge::tokio as tokio;` runs a
//! tokio test body under the model. An awaited `lock` is one scheduling point, as a thread's
//! is, so exhaustive search costs the same for async code as for threads.
//!
//! # Async code and tokio
//!
//! Futures run inside the model too: [`future::spawn`] makes a task of a future,
//! [`future::block_on`] drives one on the calling task, and [`time`] is the model's virtual
//! clock. [`tokio`] mirrors tokio's API over them — tasks, `JoinSet`, `task_local!`, the
//! `sync` primitives (`Mutex`, `RwLock`, `Semaphore`, `Notify`, `Barrier`, `OnceCell`,
//! `oneshot`, `mpsc`, `watch`, `broadcast`), `select!`, `join!`, `try_join!` — so a tokio
//! test body runs under the model after `use selvedge::tokio;`, and [`macro@test`]
//! (`#[selvedge::test]`, also `#[tokio::test]` there) turns an `async fn` into a model test.
//! An awaited operation is one scheduling point, shown as `await lock`, `await recv`,
//! `await sleep 5s (virtual)` in a report, with the virtual time of each step. I/O,
//! networking and the file system are not modelled: see [`tokio`] for what to do instead.
//!
//! # What is modelled
//!
//! Every operation on a selvedge primitive is a scheduling point. Atomics are sequentially
//! consistent whatever `Ordering` is given (weak memory is not modelled yet). Time is
//! virtual: the model's clock moves only when every task is blocked, straight to the earliest
//! deadline, so `sleep` never waits in real time, a timed wait times out only when nothing
//! else can happen first, and deadlines that fall at the same instant (or a deadline and a
//! wake-up at that instant) are explored in every order. Code between scheduling points runs atomically, so
//! state shared through anything but selvedge primitives is invisible to the scheduler.
//!
//! Tasks take turns on one OS thread, so a task that blocks on anything else — a `std` lock
//! another task holds across a scheduling point, a `std` channel, blocking I/O — or loops
//! without a scheduling point stops the whole test, and selvedge cannot unblock it. It does
//! notice: after [`Config::stall_report_after`] (10 s) without a scheduling point, it writes
//! to stderr which task is stuck, where its last scheduling point was and what to change, then
//! keeps waiting, or ends the process if [`Config::abort_on_stall`] is set.
//!
//! A panic in any thread fails the execution, even one whose `join` would handle the `Err`;
//! test poisoning with `std::panic::catch_unwind` inside the thread instead. A thread that
//! runs off the end of its stack is a `StackOverflow` failure naming it, not a crash of the
//! test process; `Config::stack_size` and `thread::Builder::stack_size` give threads more.
//!
//! Every execution starts fresh: objects made in the test body are new each time, a `static`
//! atomic starts from its initial value, and `thread_local!`, `OnceLock` and `LazyLock`
//! values are per execution — even while other executions use the same statics at the same
//! time (parallel workers, other tests). A `static` `Mutex`, `RwLock` or `UnsafeCell` holding a
//! value cannot be reset, so using it fails with advice, in every execution (`Mutex<()>` is
//! fine).
//!
//! A spin loop should call [`hint::spin_loop`] or [`thread::yield_now`]: a task that does is
//! not run again until another task made progress, so exhaustive search terminates, and a spin
//! no one can release is reported as a `Livelock` naming the spinning task.
//!
//! # Chaos scenarios and stress
//!
//! Two optional parts sit on the public API above. `chaos` (feature `chaos`) has proptest
//! strategies that generate concurrency and time scenarios as typed values — lock orders,
//! contention, cancellations, clock steps and skew — with runners that decide each scenario
//! under the model, so proptest shrinks a failure to the smallest scenario (two threads crossing
//! two locks, say). `stress` (feature `stress`) runs real code on real OS threads: a weighted mix
//! of operations, invariants counted as violations, faults with recovery times, a watchdog that
//! reports a deadlock instead of hanging, latency percentiles, and a Markdown, JSON or SVG
//! report. Stress finds out *that* something is wrong; the model shows exactly *why*
//! (`examples/pool` tells that story on a connection pool).
//!
//! # Features
//!
//! - `chaos`: `selvedge::chaos` (adds proptest).
//! - `stress`: `selvedge::stress` (adds hdrhistogram, fastrand, serde, serde_json and plotters'
//!   SVG backend).
//! - `tokio`: `orchestra::Orchestra::task_async`, orchestra tasks that are futures on a real
//!   tokio runtime.
//! - `futures` and `checkpoint` are accepted for loom compatibility and change nothing.
//! - `rand` (on by default): [`rand`], shuttle's model-controlled random numbers.
//! - `vector-clocks`: [`current::clock`], shuttle's vector clocks: happens-before is tracked
//!   from every execution's first step instead of from the first `UnsafeCell` access.

mod config;
mod driver;
mod entry;
mod error;
mod explorer;
mod limits;
mod report;
mod runtime;
mod schedule;
mod strategy;
mod syncpoint;
mod syncpoint_hook;
mod trace;
mod watchdog;

pub mod alloc;
pub mod cell;
#[cfg(feature = "chaos")]
pub mod chaos;
pub mod current;
pub mod future;
pub mod guide;
pub mod hint;
pub mod lazy_static;
pub mod model;
pub mod orchestra;
#[cfg(feature = "rand")]
pub mod rand;
mod runner;
pub mod scheduler;
#[cfg(feature = "stress")]
pub mod stress;
pub mod sync;
pub mod thread;
pub mod time;
pub mod tokio;

use std::panic::Location;

/// Runs an `async fn` (or a plain `fn`) as a test under the model: `#[selvedge::test]` on
/// `async fn name() { .. }` makes a `#[test]` that explores every interleaving of its tasks
/// with [`model()`]. Also reachable as `selvedge::tokio::test`, so `#[tokio::test]` works after
/// `use selvedge::tokio;`, or with the `selvedge-tokio` crate renamed `tokio` in Cargo.toml.
///
/// ```
/// #[selvedge::test]
/// async fn two_tasks_add_up() {
///     use selvedge::tokio::sync::Mutex;
///     let total = std::sync::Arc::new(Mutex::new(0));
///     let t = total.clone();
///     let task = selvedge::tokio::spawn(async move { *t.lock().await += 1 });
///     *total.lock().await += 1;
///     task.await.unwrap();
///     assert_eq!(*total.lock().await, 2);
/// }
/// # fn main() {}
/// ```
///
/// Arguments: `crate = "path"` when selvedge is found neither under its own name (or a Cargo
/// rename) nor through `selvedge-tokio`; tokio's `flavor`, `worker_threads` and `start_paused` are accepted and change
/// nothing (every interleaving is explored, on virtual time). A body returning `Result` fails
/// on `Err`. Tasks still running when an async body completes are cancelled, as dropping a
/// tokio runtime does ([`future::block_on_then_shutdown`]).
pub use selvedge_macros::test;

/// What `#[selvedge::test]` expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// A test body's outcome: `()` passes, a `Result` passes on `Ok`.
    pub trait TestOutcome {
        fn check(self);
    }

    impl TestOutcome for () {
        fn check(self) {}
    }

    impl<T, E: std::fmt::Debug> TestOutcome for Result<T, E> {
        #[track_caller]
        fn check(self) {
            if let Err(e) = self {
                panic!("the test returned an error: {e:?}");
            }
        }
    }
}

pub use config::{Config, Strategy};
pub use error::{Error, ErrorKind};
pub use report::{Failure, Report};
pub use runner::Runner;
pub use syncpoint::{Syncpoint, SyncpointFuture};
pub use trace::FailureKind;

/// Explores `f` exhaustively within default bounds, and panics with the report if any
/// interleaving fails.
///
/// The search is dynamic partial-order reduction (`Strategy::Dpor`), one worker per core,
/// bounded by `Config::max_schedules`' default of 1,000,000 executions. A test whose search
/// needs more passes with a warning on stderr saying how far it got and how to raise the
/// bound; with `SELVEDGE_REQUIRE_COMPLETE=1` (or [`check`] with `Config::require_complete`)
/// an unfinished search fails the test instead. Use [`check`] for other budgets.
///
/// As loom's `model`, it reads loom's variables: `LOOM_MAX_PREEMPTIONS` bounds preemptions,
/// `LOOM_MAX_BRANCHES` the steps of one execution, `LOOM_MAX_PERMUTATIONS` the executions
/// and `LOOM_MAX_DURATION` (seconds) the wall time; [`model::Builder`] has loom's other knobs.
///
/// ```
/// use selvedge::sync::{Arc, Mutex};
///
/// selvedge::model(|| {
///     let m = Arc::new(Mutex::new(0));
///     let m2 = m.clone();
///     let t = selvedge::thread::spawn(move || *m2.lock().unwrap() += 1);
///     *m.lock().unwrap() += 1;
///     t.join().unwrap();
///     assert_eq!(*m.lock().unwrap(), 2);
/// });
/// ```
#[track_caller]
pub fn model<F>(f: F)
where
    F: Fn() + Send + Sync + 'static,
{
    let mut config = Config {
        strategy: Strategy::Dpor,
        ..Default::default()
    };
    if let Err(e) = entry::apply_loom_environment(&mut config) {
        panic!("{e}");
    }
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Explores every interleaving of `f` depth-first (no reduction), up to `max_schedules`
/// executions (default 1,000,000), and panics with the report if one fails. A search the bound
/// cuts short passes with a warning, as [`model()`] says.
#[track_caller]
pub fn check_dfs<F>(f: F, max_schedules: Option<usize>)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = Config {
        strategy: Strategy::Dfs,
        max_schedules,
        ..Default::default()
    };
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Runs `f` as `config` says, with everything the other test-facing entry points add: the
/// `SELVEDGE_*` environment, saved failing schedules replayed first, a panic with the full
/// report on a failure, and a warning (or, with `Config::require_complete`, a panic) when an
/// exhaustive search is cut short. The way to reach POS, `max_preemptions`, `stack_size`,
/// `workers` or a time budget from a test.
///
/// ```
/// use selvedge::sync::{Arc, Mutex};
///
/// selvedge::check(
///     selvedge::Config { strategy: selvedge::Strategy::Pos, max_schedules: Some(200), ..Default::default() },
///     || {
///         let m = Arc::new(Mutex::new(0));
///         let m2 = m.clone();
///         let t = selvedge::thread::spawn(move || *m2.lock().unwrap() += 1);
///         *m.lock().unwrap() += 1;
///         t.join().unwrap();
///         assert_eq!(*m.lock().unwrap(), 2);
///     },
/// );
/// ```
#[track_caller]
pub fn check<F>(config: Config, f: F)
where
    F: Fn() + Send + Sync + 'static,
{
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Runs `f` under `iterations` random schedules, and panics with the report if one fails.
#[track_caller]
pub fn check_random<F>(f: F, iterations: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = Config {
        strategy: Strategy::Random,
        max_schedules: Some(iterations),
        ..Default::default()
    };
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Runs `f` under `iterations` random schedules drawn from `seed`, and panics with the report
/// if one fails (shuttle's `check_random_with_seed`; `SELVEDGE_SEED` still overrides it).
///
/// ```
/// selvedge::check_random_with_seed(|| {
///     let t = selvedge::thread::spawn(|| 1);
///     assert_eq!(t.join().unwrap(), 1);
/// }, 42, 10);
/// ```
#[track_caller]
pub fn check_random_with_seed<F>(f: F, seed: u64, iterations: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = Config {
        strategy: Strategy::Random,
        max_schedules: Some(iterations),
        seed,
        ..Default::default()
    };
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Runs `f` under `iterations` PCT schedules aiming at bugs of depth `depth`, and panics
/// with the report if one fails.
#[track_caller]
pub fn check_pct<F>(f: F, iterations: usize, depth: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = Config {
        strategy: Strategy::Pct { depth },
        max_schedules: Some(iterations),
        ..Default::default()
    };
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Runs exactly the interleaving `schedule` describes (a replay string from a failure
/// report), and panics with the report if it fails — or with an error saying what is wrong
/// if the string is malformed or no longer matches the code.
#[track_caller]
pub fn replay<F>(f: F, schedule: &str)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = Config {
        strategy: Strategy::Replay(schedule.to_string()),
        ..Default::default()
    };
    entry::run_test(config, entry::body(f), Location::caller());
}

/// Runs exactly the interleaving whose replay string is in the file at `path` (its first line
/// that is neither empty nor a `#` comment, as in a regressions file), as [`replay`] does:
/// shuttle's `replay_from_file`.
///
/// # Panics
/// With the report if the interleaving fails, or with an error if the file cannot be read or
/// holds no replay string.
#[track_caller]
pub fn replay_from_file<F, P>(f: F, path: P)
where
    F: Fn() + Send + Sync + 'static,
    P: AsRef<std::path::Path>,
{
    match entry::read_schedule_file(path.as_ref()) {
        Ok(schedule) => replay(f, &schedule),
        Err(e) => panic!("{e}"),
    }
}

/// Explores `f` as `config` says and returns what happened. Never panics on a failure in
/// `f`, reads no environment variable and no saved schedule.
///
/// ```
/// use selvedge::sync::{Arc, Mutex};
///
/// let report = selvedge::explore(
///     selvedge::Config { strategy: selvedge::Strategy::Random, max_schedules: Some(100), ..Default::default() },
///     || {
///         let a = Arc::new(Mutex::new(()));
///         let b = Arc::new(Mutex::new(()));
///         let (a2, b2) = (a.clone(), b.clone());
///         let t = selvedge::thread::spawn(move || {
///             let _b = b2.lock().unwrap();
///             let _a = a2.lock().unwrap();
///         });
///         {
///             let _a = a.lock().unwrap();
///             let _b = b.lock().unwrap();
///         }
///         t.join().unwrap();
///     },
/// );
/// let failure = report.failure().expect("the lock-order inversion deadlocks");
/// assert_eq!(failure.kind(), selvedge::FailureKind::Deadlock);
/// ```
#[track_caller]
pub fn explore<F>(config: Config, f: F) -> Report
where
    F: Fn() + Send + Sync + 'static,
{
    entry::explore(config, entry::body(f), Location::caller())
}

/// An explicit syncpoint. Inside a model it is a scheduling point: other tasks may run here.
/// Inside the [`orchestra`] it ends the calling task's turn: the call returns when the
/// strategy gives the task the turn again. On the threads of a `selvedge::stress` run it is
/// remembered for the watchdog's report and may become a random yield or short sleep.
/// Anywhere else it does nothing, at the cost of one relaxed atomic load (`BENCHMARKS.md`
/// measures it against an empty loop).
///
/// As a statement (`syncpoint!();`) it blocks the calling thread while it waits. In async code
/// await it, `syncpoint!().await`: the task waits for its turn without holding a runtime thread.
/// A name (a `&'static str`) selects the point for [`orchestra::Orchestra::only`]; without
/// `only`, the orchestra counts the unnamed points; the model counts every point.
///
/// A syncpoint stands for code selvedge cannot see into (real I/O, a call into another
/// library), so in a model it conflicts with every operation of every other task: DPOR explores
/// every order of the tasks' syncpoints against everything else they do. Each one multiplies
/// the search; use them where another task's turn matters, not in tight loops of an
/// exhaustive test.
///
/// ```
/// selvedge::syncpoint!();
/// selvedge::syncpoint!("after-commit");
/// async fn step() {
///     selvedge::syncpoint!("before-send").await;
/// }
/// ```
#[macro_export]
macro_rules! syncpoint {
    () => {
        $crate::__syncpoint(::core::option::Option::None)
    };
    ($name:expr) => {
        $crate::__syncpoint(::core::option::Option::Some($name))
    };
}

#[doc(hidden)]
#[track_caller]
#[inline(always)]
pub fn __syncpoint(name: Option<&'static str>) -> Syncpoint {
    Syncpoint::new(name, Location::caller())
}
