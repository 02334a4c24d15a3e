//! Every explicit limit and default the engine keeps, in one place.
//!
//! A limit that is reached is never silent: the failure or error it produces names the knob
//! (the `Config` field or environment variable), its value and how to raise it.

use std::time::Duration;

/// Default for `Config::max_steps`: scheduling decisions in one execution before it is
/// reported as a `Livelock`.
pub(crate) const DEFAULT_MAX_STEPS: usize = 100_000;

/// Default for `Config::stack_size`: bytes of stack for every task's coroutine. As much as
/// std gives a spawned thread, so code that runs on a std thread fits in a task; pages are
/// mapped lazily, so an unused stack costs address space, not memory.
pub(crate) const DEFAULT_STACK_BYTES: usize = 2 * 1024 * 1024;

/// Smallest stack we accept; below this even the panic machinery overflows.
pub(crate) const MIN_STACK_BYTES: usize = 32 * 1024;

/// Default for `Config::max_tasks`: tasks alive or finished in one execution.
pub(crate) const DEFAULT_MAX_TASKS: usize = 4_096;

/// The most tasks `Config::max_tasks` may allow: a waker packs its task's index in 24 bits.
pub(crate) const MAX_TASKS_CAP: usize = (1 << 24) - 1;

/// The most things one async task may await at once (branches of a `select!`, futures of a
/// `join!`); more is a bug in the test, not a plan.
pub(crate) const MAX_INTERESTS: usize = 4_096;

/// Operations an async task may complete without waiting before one is a scheduling point, as
/// tokio's cooperative budget makes a task give way after this many ready polls of its
/// resources. In the model only a sleep already due completes without a step, so a loop
/// awaiting such sleeps still reaches scheduling points (instead of running forever without).
pub(crate) const COOP_BUDGET: u32 = 128;

/// Default number of schedules for `model` and `check_dfs(f, None)` when DFS must stop
/// somewhere: a bound that keeps an exhaustive run from silently running for hours.
pub(crate) const DEFAULT_MAX_SCHEDULES: usize = 1_000_000;

/// Default for `Config::max_schedules` under randomized strategies.
pub(crate) const DEFAULT_RANDOM_SCHEDULES: usize = 1_000;

/// Lines of the interleaving table shown in a failure report before the middle is elided (a
/// run of repeated steps counts as three lines).
pub(crate) const REPORT_MAX_ROWS: usize = 400;

/// Initial guess of PCT's execution length before any execution has been observed.
pub(crate) const PCT_INITIAL_STEPS: usize = 64;

/// Objects (mutexes, atomics, channels, ...) one execution may register: the object id packs
/// into 24 bits beside the execution generation.
pub(crate) const MAX_OBJECTS: usize = (1 << 24) - 1;

/// Times a task may yield with no other task able to make progress before its spin is
/// reported as a `Livelock`: a spin-wait nobody can release yields forever, while code that
/// merely yields a few times in a row stays well below this.
pub(crate) const MAX_FUTILE_YIELDS: u32 = 64;

/// Executions spent looking for the same failure with fewer preemptions before it is shown.
pub(crate) const MINIMISE_MAX_SCHEDULES: usize = 20_000;

/// Idle worker pools kept for later parallel explorations; more concurrent explorations build
/// their own and let them go.
pub(crate) const MAX_IDLE_POOLS: usize = 4;

/// Default for `Config::stall_report_after`: wall time an execution may go without reaching a
/// scheduling point before the watchdog reports the task that holds its OS thread.
pub(crate) const DEFAULT_STALL_REPORT_AFTER: Duration = Duration::from_secs(10);

/// The stall watchdog polls at a quarter of the smallest `stall_report_after` it watches, but
/// at least this often ...
pub(crate) const STALL_POLL_MAX: Duration = Duration::from_millis(250);

/// ... and at most this often, however small the threshold.
pub(crate) const STALL_POLL_MIN: Duration = Duration::from_millis(10);

/// A watchdog poll that comes this much later than planned means the watchdog thread did not
/// run either (the process was stopped in a debugger, or the machine starved it): that time
/// says nothing about the task, so it is not counted as part of a stall.
pub(crate) const STALL_WATCHDOG_LATENESS: Duration = Duration::from_secs(1);

/// Generation numbers a thread takes from the global counter at a time, so parallel workers do
/// not contend for that counter's cache line on every execution.
pub(crate) const GENERATION_BLOCK: u64 = 1024;

/// Executions a run reserves at a time while far from the `max_schedules` cap (one at a time
/// within `workers * EXECUTION_BATCH` of it, so the cap holds exactly).
pub(crate) const EXECUTION_BATCH: u64 = 32;

/// Decisions shallower than this may be split off for other parallel workers; deeper ones are
/// always explored inline. Deep enough that a busy subtree soon reaches a point where it can
/// split, shallow enough that a split-off subtree amortises the cost of handing it over.
pub(crate) const SPLIT_DEPTH: usize = 8;

/// Polls for work an idle parallel worker makes before it starts yielding its OS thread
/// between polls.
pub(crate) const SPINS_BEFORE_YIELD: u32 = 200;

/// Panics recorded per task for the report (a panicking `Drop` during unwinding adds more).
pub(crate) const MAX_PANICS_KEPT: usize = 8;

// Relations the engine relies on, checked when it is compiled.
const _: () = assert!(MIN_STACK_BYTES <= DEFAULT_STACK_BYTES);

/// The largest task body (a spawned future with what it captures) moved onto the task's own
/// stack; a larger one is boxed first. corosensei refuses to move more than 1 KiB into a new
/// coroutine, and every copy of a large future on the spawner's way there takes its stack.
pub(crate) const INLINE_BODY_BYTES: usize = 512;
const _: () = assert!(DEFAULT_RANDOM_SCHEDULES <= DEFAULT_MAX_SCHEDULES);
const _: () = assert!(EXECUTION_BATCH >= 1);
const _: () = assert!(GENERATION_BLOCK >= 1);
const _: () = assert!(MAX_FUTILE_YIELDS >= 1);

/// Default for `Orchestra::stall_timeout`: how long an orchestra task holding the turn may go
/// without reaching a syncpoint before it is set aside as stalled. Far above what real code
/// takes between syncpoints on a loaded machine (a thread wake-up, a statement on a local
/// database: well under 10 ms), so a slow task is not taken for a blocked one.
pub(crate) const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Default for `Orchestra::deadlock_timeout`: how long every unfinished orchestra task may stay
/// stalled before the schedule is a `Deadlock`. Longer than PostgreSQL's own deadlock check
/// (`deadlock_timeout`, 1 s by default), so the database's deadlock error is seen first.
pub(crate) const DEFAULT_DEADLOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest the orchestra waits after a turn for stalled tasks to rejoin before the next
/// decision (a quarter of the stall timeout when that is less).
pub(crate) const REJOIN_SETTLE_MAX: Duration = Duration::from_millis(50);

/// Characters of a syncpoint's detail (a statement's text) shown in a report's interleaving.
pub(crate) const MAX_DETAIL_CHARS: usize = 100;
