//! Every explicit limit and default the engine keeps, in one place.
//!
//! A limit that is reached is never silent: the failure or error it produces names the knob
//! (the `Config` field or environment variable), its value and how to raise it.

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
pub(crate) const DEFAULT_MAX_TASKS: usize = 1_000;

/// Default number of schedules for `model` and `check_dfs(f, None)` when DFS must stop
/// somewhere: a bound that keeps an exhaustive run from silently running for hours.
pub(crate) const DEFAULT_MAX_SCHEDULES: usize = 1_000_000;

/// Default for `Config::max_schedules` under randomized strategies.
pub(crate) const DEFAULT_RANDOM_SCHEDULES: usize = 1_000;

/// Rows of the interleaving table shown in a failure report before the middle is elided.
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
