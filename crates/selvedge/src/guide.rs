//! # Migrating from loom and shuttle
//!
//! selvedge runs loom's and shuttle's test suites with the crate renamed. This page says how
//! to switch, what each API becomes, and every place selvedge differs on purpose, with the
//! reason. `crates/selvedge-port` holds the proof: loom 0.7's own test files and shuttle 0.9's
//! public-API test files, renamed and run on every CI run, with each test that does not pass
//! unchanged named in `differences.txt` next to one of the reasons below.
//!
//! ## From loom
//!
//! One line in `Cargo.toml` (keep the `cfg(loom)` facade you have):
//!
//! ```toml
//! [target.'cfg(loom)'.dev-dependencies]
//! loom = { package = "selvedge", version = "0.1", features = ["futures", "checkpoint"] }
//! ```
//!
//! or `use selvedge as loom;`, or rename `loom::` to `selvedge::`. The `futures` and `checkpoint`
//! features are accepted and change nothing.
//!
//! | loom | selvedge |
//! |---|---|
//! | `loom::model(f)` | [`crate::model()`]: DPOR on every core, reading `LOOM_MAX_PREEMPTIONS`, `LOOM_MAX_BRANCHES`, `LOOM_MAX_PERMUTATIONS`, `LOOM_MAX_DURATION` |
//! | `loom::model::Builder` | [`crate::model::Builder`]: the same public fields and defaults, `LOOM_*` read as loom reads them, `check(f)` |
//! | `loom::thread`, `loom::sync`, `loom::sync::atomic`, `loom::cell`, `loom::hint` | the same paths; `thread::spawn` needs no `Send`, as loom's |
//! | `loom::sync::Arc` (`into_raw`, `from_raw`, `increment_strong_count`, ...) | [`crate::sync::Arc`], tracked for the leak check |
//! | `loom::alloc::Track`, `alloc`, `dealloc` | [`crate::alloc`] |
//! | `loom::sync::Notify` | [`crate::sync::Notify`] |
//! | `loom::cell::{UnsafeCell, Cell, ConstPtr, MutPtr}` | [`crate::cell`]; `UnsafeCell` is also `Sync` |
//! | `loom::future::{block_on, AtomicWaker}` | [`crate::future`] |
//! | `loom::lazy_static!`, `loom::thread_local!` | [`crate::lazy_static!`], [`crate::thread_local!`] |
//! | `compare_and_swap`, `unsync_load`, `with_mut` on atomics | the same |
//!
//! A failure panics with selvedge's report: the interleaving, what each blocked task waits
//! for, and a replay string. `SELVEDGE_REPLAY=<string>` replays it; failing schedules are also
//! saved under `target/selvedge/regressions/` and replayed first on the next run, which is what
//! loom's checkpoint file was for.
//!
//! ## From shuttle
//!
//! ```toml
//! [dev-dependencies]
//! shuttle = { package = "selvedge", version = "0.1", features = ["vector-clocks"] }
//! ```
//!
//! | shuttle | selvedge |
//! |---|---|
//! | `check_random(f, n)`, `check_pct(f, n, depth)`, `check_dfs(f, max)` | the same signatures |
//! | `check_random_with_seed(f, seed, n)` | [`crate::check_random_with_seed`] |
//! | `replay(f, schedule)`, `replay_from_file(f, path)` | [`crate::replay`], [`crate::replay_from_file`], with selvedge's replay strings |
//! | `Runner::new(scheduler, config).run(f)` | [`crate::Runner`] with [`crate::scheduler`]'s `RandomScheduler`, `PctScheduler`, `DfsScheduler`, `ReplayScheduler`, and [`crate::Config`] (`Config::new()`) |
//! | `future::{spawn, spawn_local, block_on, yield_now, JoinHandle, JoinError::Cancelled}` | [`crate::future`] |
//! | `rand::{thread_rng, Rng}` | [`crate::rand`] (feature `rand`, on by default), numbers controlled by the model |
//! | `current::{me, get_name_for_task, clock}` | [`crate::current`] (`clock` with feature `vector-clocks`) |
//! | `lazy_static!`, `thread_local!`, `sync::*`, `thread::*` | the same |
//!
//! ## Deliberate differences
//!
//! Each is a choice, with its reason; `differences.txt` names the upstream tests each one
//! changes.
//!
//! **Atomics are sequentially consistent, whatever the `Ordering`.** A load never reads a value
//! older than the latest store, so bugs that need weak memory (store buffering, a `Relaxed`
//! flag read before the data it publishes) are not found by reading stale values. `SeqCst` is
//! modelled exactly (loom models it as `AcqRel`, and its own `test_seq_cst` is ignored for
//! that). Orderings still matter for the race detector: a `Relaxed` flag orders nothing, so
//! reading the data it guards is reported as a data race on `cell::UnsafeCell` accesses.
//! Fences order `Relaxed` accesses for the race detector by the C++20 rules, as loom's do.
//!
//! **`thread::Builder::stack_size` is in bytes, as std's.** loom passes it to its coroutine
//! library, which reads machine words (8x more). A thread that runs out is a `StackOverflow`
//! failure naming it and the knob, never a crash.
//!
//! **A wake of another task's waker takes effect at the waker's next scheduling point**, not
//! inside `wake()`: code that wakes while holding a `std` lock (the `futures` crate's bounded
//! channel does) must not be switched away from there, or the woken task would block the one OS
//! thread on that lock. Nothing selvedge schedules happens in between, but an `Arc` dropped
//! right after the wake is dropped before the woken task can run.
//!
//! **Reference counting is not a scheduling point.** An `Arc` clone or drop does not branch (as
//! loom's does); drops carry happens-before as std's `Release` decrement and `Acquire` fence do,
//! and the allocation is tracked for the leak check. Reading a count is one (`strong_count`,
//! `weak_count`, `try_unwrap`, `into_inner`, `get_mut`, `Weak::upgrade`): it conflicts with
//! every step, so DPOR runs it before and after each step that may have changed the count. The task that runs a destructor is
//! whichever drops last in the interleaving the other operations produce.
//!
//! **A future may be polled once without a wake** (per task per execution), as loom's
//! `block_on` explores and the `Future` contract allows; a future that *needs* such a poll to
//! make progress is still reported as a lost wakeup (a deadlock naming the task).
//!
//! **An execution ends when every thread has finished** (as loom's), not when the main thread
//! returns (as shuttle's): a detached thread always runs to the end, and one left blocked is a
//! deadlock. **Async tasks still running when the test body returns are cancelled** at their
//! next `.await`, all in one step, as dropping a tokio runtime (and shuttle's end of an
//! execution) does: a background loop ends with the test. They are the body's tasks: those
//! the main thread spawned and those its tasks spawned (a detached thread's own `block_on`
//! keeps its tasks, as its own runtime would); one spawned while they are being cancelled is
//! cancelled before its first poll. A task blocked in a synchronous
//! wait is not at an `.await` and cannot be cancelled, so it is a deadlock.
//! `lazy_static!` values are dropped when the main thread returns, as loom drops them; a
//! thread that uses one after that fails, saying so.
//!
//! **A thread runs to its first scheduling point when it is spawned.** Code before that point
//! touches nothing another task can see through selvedge's primitives, so it needs no
//! decision. State shared through `std` types (a `std::sync::Mutex`, the internals of the
//! `futures` crate's channels) is invisible to the scheduler, so its order before that point is
//! spawn order. A future from [`crate::future::spawn`] is different: as in tokio and shuttle, it
//! is not polled at its spawn, and its first poll is a step of its own, so an `abort` may come
//! before it and spawned futures may start in any order.
//!
//! **DPOR orders only what selvedge sees.** Two steps conflict when they touch the same
//! selvedge object; state behind `std` types (`std` atomics, the `futures` crate's channels and
//! `futures::lock::Mutex`) is invisible, so DPOR (the default strategy) may run one order of two
//! steps that only such state connects. shuttle explores without reduction and loom sees only
//! its own types, so a test ported from shuttle that orders its tasks through the `futures`
//! crate should use selvedge's own channels and locks, or `check_dfs` / `check_random`.
//!
//! **`Condvar::wait` and `thread::park` may wake spuriously**, as std documents: the model
//! explores a wait that returns without a notification or a token, once per task per
//! execution, and only while another task can run (a wait nothing could end is still a
//! deadlock). Code that waits under `if` instead of a loop that re-checks its condition fails,
//! with the spurious wakeup marked in the report. shuttle explores this for `park` only, loom
//! for neither; `Config::spurious_wakeups: false` gives loom's behaviour back.
//! **`notify_one` may wake any thread that was waiting when it was called**, and the
//! model explores each (as shuttle's, as std allows); loom always wakes the one that waited
//! longest, and misses the bugs of code that relies on that order.
//!
//! **A thread never read-locks an `RwLock` it already holds** (as shuttle): `read` blocks and
//! is reported as the thread's deadlock with itself, `try_read` gives `WouldBlock`. std says
//! `read` "might panic" then, and on Linux the second read deadlocks whenever a writer queues
//! between the two; a test rarely has that writer, so the re-entrant read is reported itself.
//! loom grants it.
//!
//! **Replay strings are selvedge's** (`v1:<fingerprint>:<runs>[:<data seed>]`); shuttle's encoded schedules
//! are refused with an error that says what a valid one looks like.
//!
//! **`selvedge::rand` numbers are a function of a data seed and the interleaving so far.**
//! Sampling strategies (`check_random`, `check_pct`, POS) give every execution its own data
//! seed, exhaustive ones use the config's seed, and a replay string carries the seed of its
//! execution, so a replay draws the same numbers whatever the config says. Exhaustive
//! strategies do not enumerate the numbers: each interleaving gets one draw sequence.
//!
//! **A `Mutex`, `RwLock` or `UnsafeCell` holding a value made outside the test body is
//! refused** (a `static`, or one captured by the closure): its value cannot be reset between
//! executions. Create it inside the body, or use a `LazyLock`/`lazy_static!`.
//!
//! **Limits are `Config`'s**: `Config::max_tasks` (4,096 by default; `Builder::max_threads` sets
//! it, 5 as loom's), `Config::max_steps` (`Builder::max_branches`).
//!
//! **`Builder`'s `checkpoint_file`, `checkpoint_interval`, `expect_explicit_explore`,
//! `location` and `log` are accepted and have no effect** (a warning on stderr says so for the
//! first three when set): failing schedules are saved and replayed instead of checkpoints, and
//! every report has locations and the whole interleaving.
//!
//! **Not offered:** loom's `explore`, `skip_branch` and `stop_exploring` (manual pruning that
//! DPOR's reduction makes unnecessary; `selvedge::explore` is the programmatic entry point),
//! loom's `MAX_THREADS`; shuttle's `Scheduler` trait (strategies are selvedge's own),
//! `PortfolioRunner`, `check(f)` (selvedge's [`crate::check`] takes a [`crate::Config`]),
//! `BatchSemaphore`, task labels and tags, annotations, and `Config`'s `max_steps: MaxSteps`
//! and `failure_persistence` fields.
