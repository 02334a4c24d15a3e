//! A tokio-shaped facade over selvedge's async model: write `use selvedge::tokio;` (or rename
//! the facade crate in Cargo.toml, `tokio = { package = "selvedge-tokio", .. }` among the
//! dev-dependencies, which puts this module at a crate root) and a tokio test body runs under
//! the model, its tasks scheduled by the strategy and its time
//! virtual. `#[tokio::test]` (this module's [`test`], the same as `#[selvedge::test]`) makes
//! an async test function a model test; there is no `tokio::main` and no runtime to build: the
//! model is the runtime.
//!
//! ```
//! use selvedge::tokio;
//! use std::sync::Arc;
//!
//! #[tokio::test]
//! async fn two_tasks_share_a_counter() {
//!     let total = Arc::new(tokio::sync::Mutex::new(0));
//!     let t = total.clone();
//!     let task = tokio::spawn(async move { *t.lock().await += 1 });
//!     *total.lock().await += 1;
//!     task.await.unwrap();
//!     assert_eq!(*total.lock().await, 2);
//! }
//! # fn main() {}
//! ```
//!
//! # What is covered
//!
//! - Tasks: [`spawn`], [`task`]`::{spawn, spawn_local, spawn_blocking, block_in_place,
//!   yield_now, JoinHandle, JoinError, AbortHandle, JoinSet, LocalKey}`, [`task_local!`].
//! - Time ([`time`]): `sleep`, `sleep_until`, `timeout`, `timeout_at`, `interval`,
//!   `interval_at` (with `MissedTickBehavior` and the `reset*` family), `Instant`, on the
//!   model's virtual clock (it moves only when every task is
//!   blocked; an hour of sleeps takes no real time, as with tokio's paused clock). `pause` and
//!   `resume` do nothing (the clock is always paused); `advance(d)` waits until `d` has passed.
//! - Synchronisation ([`sync`]): `Mutex` (owned and mapped guards), `RwLock` (owned guards,
//!   mapped borrowed guards, `downgrade`), `Semaphore`
//!   (`acquire`, `acquire_many`, `try_acquire*`, owned permits, `close`, `add_permits`,
//!   `forget_permits`, `available_permits`), `Notify` (`notified`, `enable`, `notify_one`,
//!   `notify_last`, `notify_waiters`, tokio's permit semantics), `Barrier`, `OnceCell`,
//!   `oneshot`, `mpsc` (bounded and unbounded, `reserve`, permits, `try_send`, `try_recv`,
//!   `recv_many`, `close`, weak senders), `watch`, `broadcast` (lagging receivers get `Lagged`).
//! - Macros: [`select!`] (tokio's syntax: `pattern = future (, if condition)? => handler`,
//!   `biased;`, `else =>`; handlers run in the enclosing function), [`join!`], [`try_join!`],
//!   [`pin!`].
//!
//! Every awaited acquisition is one scheduling point, enabled exactly when it can succeed, and
//! the step performs it; a future dropped after its grant (a `select!` that took another
//! branch, an aborted task) undoes it, so cancellation releases what a task held or was about
//! to take. Deadlock reports say what each task waits for (`await acquire` on a semaphore with
//! 0 permits free, `await recv` on a channel, ...).
//!
//! # Where the model differs from tokio
//!
//! - `Semaphore` and `Notify` serve their waiters in tokio's order (a semaphore request never
//!   overtakes an earlier one, so a task that holds permits and asks for more behind a larger
//!   request deadlocks, as in tokio). `Mutex` and `RwLock` waiters are not served in FIFO
//!   order: any waiter that can take the lock may, and the model explores each order (a
//!   superset of tokio's behaviours; a reader still does not overtake a waiting writer). Code
//!   that relies on a tokio mutex's fairness can see an order tokio would not give.
//! - `select!` polls branches in written order, with or without `biased;` (tokio picks a
//!   random start without it; that randomness is not explored). When several branches are
//!   ready at the same step, the first written wins; the order in which they *become* ready
//!   is what the model explores. A selvedge operation (a receive, a lock, a sleep) completes
//!   at its scheduling step, so in one poll a future that is ready at once without any
//!   (`std::future::ready`) wins over selvedge operations written before it.
//! - A spawned task is not polled at its spawn, as in tokio: its first poll is a step of its
//!   own, and an `abort` may come before it.
//! - A task that yields (`yield_now`) is not run again until another task makes progress, and
//!   when only such tasks are left, the virtual clock moves. tokio's paused clock moves only
//!   when no task is runnable, so a loop that yields until a timer fires ends in the model but
//!   spins forever under `tokio::time::pause`; the model also explores timers firing while a
//!   task spins, which a real clock allows.
//! - A panic in a task fails the execution (tokio would hand it to the `JoinHandle`).
//! - Cooperative budgeting: the only operation that completes without a step is a sleep
//!   already due (`sleep(Duration::ZERO)`, a late `interval` tick). Where tokio's budget
//!   makes a task give way, after 128 of those in a row, the model takes a scheduling point:
//!   other tasks may run there, and the task may also go on first. It is not a yield: a
//!   busy-wait polling with zero sleeps needs `yield_now().await` to let the others run in
//!   every schedule (as a thread's needs `spin_loop()`); without it, DPOR and DFS report it
//!   as a livelock.
//! - Only selvedge's primitives are seen. Shared state behind a `std` atomic or a
//!   `std::sync::Mutex` (which tokio's docs recommend for short critical sections) is
//!   invisible: DPOR's "complete" then covers every order of the operations selvedge sees,
//!   not of the `std` ones, and can pass a lost update between them (a `load`, an `.await`,
//!   a `store`). Use `selvedge::sync::atomic` and `selvedge::sync::Mutex` in code under test
//!   (a `cfg` alias, as with loom), or run such a test with `Strategy::Dfs`, `Random` or
//!   `Pct`, which do not rely on seeing the accesses.
//!
//! # What is not covered
//!
//! I/O, networking (`net`), the file system (`fs`), processes, signals, `runtime::Builder`,
//! `LocalSet`, `tokio::main` and tokio's `io` traits are not modelled. Code that needs them
//! either runs under selvedge's orchestra (real code on a real runtime, interleaved at
//! syncpoints), or takes the I/O behind a trait that the test implements with this module's
//! channels (a fake connection as a pair of `mpsc` channels), so the logic around it is
//! model-checked. Blocking `std` calls inside a task stall the model: use selvedge's
//! primitives.

pub mod sync;
mod waiting;

pub use crate::future::spawn;

pub mod task;

mod macros;

pub use crate::__tokio_pin as pin;
pub use crate::__tokio_select as select;
pub use crate::task_local;
pub use futures_util::{join, try_join};
pub use selvedge_macros::test;

/// Virtual time (see [`crate::time`]).
pub mod time {
    pub use crate::time::{
        interval, interval_at, sleep, sleep_until, timeout, timeout_at, Elapsed, Instant, Interval,
        MissedTickBehavior, Sleep, Timeout,
    };
    pub use std::time::Duration;

    /// tokio's `time::error`.
    pub mod error {
        pub use crate::time::Elapsed;
    }

    /// tokio's `time::pause`: does nothing, since the model's clock is always paused and
    /// advances on its own when every task is blocked (what tokio's paused clock does).
    /// Panics outside a model, as the clock's other functions do.
    ///
    /// ```
    /// use selvedge::tokio::{self, time};
    ///
    /// #[selvedge::tokio::test]
    /// async fn paused() {
    ///     time::pause();
    ///     let start = time::Instant::now();
    ///     time::advance(time::Duration::from_secs(5)).await;
    ///     assert_eq!(start.elapsed(), time::Duration::from_secs(5));
    ///     time::resume();
    /// }
    /// # fn main() {}
    /// ```
    #[track_caller]
    pub fn pause() {
        let _ = Instant::now();
    }

    /// tokio's `time::resume`: does nothing; the clock stays virtual (see [`pause`]). A
    /// timer still fires at its deadline, only without real time passing.
    #[track_caller]
    pub fn resume() {
        let _ = Instant::now();
    }

    /// tokio's `time::advance`: returns once `duration` has passed on the virtual clock. It
    /// waits as [`sleep`] does: the clock moves when every task is blocked, so tasks with work
    /// to do run first, and timers that fall due on the way fire in deadline order, each
    /// order with the other tasks explored (tokio's jumps the clock at once and fires them
    /// together).
    #[track_caller]
    pub fn advance(duration: Duration) -> Sleep {
        sleep(duration)
    }
}
