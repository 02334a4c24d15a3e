//! Exhaustive exploration: selvedge's DPOR (`selvedge::explore` with `Strategy::Dpor`) against
//! loom 0.7 (`loom::model`) and shuttle 0.9 (`shuttle::check_dfs`), on the same programs, each
//! written once per tool with that tool's `Arc`, `Mutex`, atomics and `thread::spawn`:
//!
//! 1. mutex T×K: T threads each lock a `Mutex<u64>` and increment it K times; main joins and
//!    asserts the total. Ideal count (T·K)! / (K!)^T.
//! 2. fetch_add 2×n: main and one spawned thread each do n `fetch_add(1, SeqCst)` on one atomic.
//!    Ideal C(2n, n).
//! 3. disjoint atomics: main and one spawned thread each do one `fetch_add` on an atomic of
//!    their own. Ideal 1.
//! 4. lost update (a bug): two threads each load then store the value plus one; main asserts 2.
//! 5. lock-order deadlock (a bug): two threads take mutexes A and B in opposite orders.
//!
//! Every result is checked before it is printed: a correct program must pass every execution
//! (and selvedge must report a complete exploration), a buggy one must be caught. loom and
//! shuttle run with their defaults plus a per-program budget (`--budget-secs`, and shuttle's
//! iteration cap `--shuttle-iterations`); a cell stopped by a budget says "capped".
//!
//! loom aborts the whole process (a panic while panicking) when a deadlocked model unwinds
//! while holding its `Arc`s, so the loom deadlock case runs in a child process: this binary
//! re-executed with `--only loom-deadlock`.
//!
//! Run with `cargo bench -p selvedge-bench --bench exhaustive [-- --budget-secs N] [-- --quick]`.

use std::cell::Cell;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::panic;
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const DEFAULT_BUDGET_SECS: u64 = 60;
const DEFAULT_SHUTTLE_ITERATIONS: usize = 2_000_000;

/// loom 0.7.2's defaults (`DEFAULT_MAX_THREADS`, `DEFAULT_MAX_BRANCHES` and the default
/// `LOOM_CHECKPOINT_INTERVAL` in `loom/src/model.rs`), set explicitly so that `LOOM_*`
/// environment variables cannot change them.
const LOOM_MAX_THREADS: usize = 5;
const LOOM_MAX_BRANCHES: usize = 1_000;
/// loom checks `max_duration` only before every 20,000th iteration, and then returns without
/// saying why: if it stopped there, it had run exactly `20,000·k − 1` executions.
const LOOM_CHECKPOINT_INTERVAL: usize = 20_000;

/// Executions started, bumped at the start of every execution of every tool's body. A plain std
/// atomic: invisible to all three schedulers.
static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

fn count_execution() {
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// The programs
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    Mutex { threads: usize, increments: usize },
    FetchAdd { n: usize },
    Disjoint,
    LostUpdate,
    Deadlock,
}

const PROGRAMS: [Program; 12] = [
    mutex(2, 1),
    mutex(2, 2),
    mutex(2, 3),
    mutex(3, 1),
    mutex(3, 2),
    mutex(3, 3),
    Program::FetchAdd { n: 1 },
    Program::FetchAdd { n: 3 },
    Program::FetchAdd { n: 5 },
    Program::Disjoint,
    Program::LostUpdate,
    Program::Deadlock,
];

const fn mutex(threads: usize, increments: usize) -> Program {
    Program::Mutex {
        threads,
        increments,
    }
}

impl Program {
    fn name(self) -> String {
        match self {
            Program::Mutex {
                threads,
                increments,
            } => format!("mutex {threads}×{increments}"),
            Program::FetchAdd { n } => format!("fetch_add 2×{n}"),
            Program::Disjoint => "disjoint atomics".to_string(),
            Program::LostUpdate => "lost update (bug)".to_string(),
            Program::Deadlock => "lock-order deadlock (bug)".to_string(),
        }
    }

    /// The name `--only` takes (after the tool and a dash).
    fn slug(self) -> String {
        match self {
            Program::Mutex {
                threads,
                increments,
            } => format!("mutex-{threads}x{increments}"),
            Program::FetchAdd { n } => format!("fetch-add-{n}"),
            Program::Disjoint => "disjoint".to_string(),
            Program::LostUpdate => "lost-update".to_string(),
            Program::Deadlock => "deadlock".to_string(),
        }
    }

    /// One execution per Mazurkiewicz trace, for the correct programs.
    fn ideal(self) -> Option<u64> {
        match self {
            Program::Mutex {
                threads,
                increments,
            } => Some(selvedge_bench::mutex_counter_ideal(
                threads as u64,
                increments as u64,
            )),
            // C(2n, n): the interleavings of two chains of n fetch_adds on one location.
            Program::FetchAdd { n } => {
                Some((0..n as u64).fold(1, |c, i| c * (2 * n as u64 - i) / (i + 1)))
            }
            Program::Disjoint => Some(1),
            Program::LostUpdate | Program::Deadlock => None,
        }
    }

    fn bug(self) -> Option<Bug> {
        match self {
            Program::LostUpdate => Some(Bug::LostUpdate),
            Program::Deadlock => Some(Bug::Deadlock),
            _ => None,
        }
    }

    /// Skipped for loom and shuttle under `--quick`.
    fn heavy(self) -> bool {
        matches!(
            self,
            Program::Mutex {
                threads: 3,
                increments: 2 | 3
            }
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bug {
    LostUpdate,
    Deadlock,
}

impl Bug {
    /// Whether a loom or shuttle panic message reports this bug.
    fn matches(self, message: &str) -> bool {
        match self {
            Bug::LostUpdate => message.contains("an update was lost"),
            Bug::Deadlock => message.contains("deadlock"),
        }
    }

    fn selvedge_kind(self) -> selvedge::FailureKind {
        match self {
            Bug::LostUpdate => selvedge::FailureKind::Panic,
            Bug::Deadlock => selvedge::FailureKind::Deadlock,
        }
    }
}

/// selvedge's versions of the programs live in `selvedge_bench` (src/lib.rs).
fn selvedge_program(p: Program) {
    match p {
        Program::Mutex {
            threads,
            increments,
        } => selvedge_bench::selvedge_mutex_counter(threads, increments),
        Program::FetchAdd { n } => selvedge_bench::selvedge_shared_fetch_add(n),
        Program::Disjoint => selvedge_bench::selvedge_disjoint_atomics(),
        Program::LostUpdate => selvedge_bench::selvedge_lost_update(),
        Program::Deadlock => selvedge_bench::selvedge_lock_order_deadlock(),
    }
}

/// The programs written against loom's API.
mod loom_programs {
    selvedge_bench::define_programs!(loom);
}

fn loom_program(p: Program) {
    match p {
        Program::Mutex {
            threads,
            increments,
        } => loom_programs::mutex_counter(threads, increments),
        Program::FetchAdd { n } => loom_programs::shared_fetch_add(n),
        Program::Disjoint => loom_programs::disjoint_atomics(),
        Program::LostUpdate => loom_programs::lost_update(),
        Program::Deadlock => loom_programs::lock_order_deadlock(),
    }
}

/// The programs written against shuttle's API.
mod shuttle_programs {
    selvedge_bench::define_programs!(shuttle);
}

fn shuttle_program(p: Program) {
    match p {
        Program::Mutex {
            threads,
            increments,
        } => shuttle_programs::mutex_counter(threads, increments),
        Program::FetchAdd { n } => shuttle_programs::shared_fetch_add(n),
        Program::Disjoint => shuttle_programs::disjoint_atomics(),
        Program::LostUpdate => shuttle_programs::lost_update(),
        Program::Deadlock => shuttle_programs::lock_order_deadlock(),
    }
}

// ---------------------------------------------------------------------------------------------
// Outcomes, and catching the panics loom and shuttle report bugs with
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Outcome {
    /// Every execution was explored and passed (checked).
    Complete { execs: u64, time: Duration },
    /// A budget stopped the tool after `execs` executions, all of which passed.
    Capped {
        execs: u64,
        time: Duration,
        why: String,
    },
    /// The tool reported the expected bug in execution number `execs` (checked).
    Found { execs: u64, time: Duration },
    /// The tool found the expected bug in execution `execs` (checked), then the process died
    /// with `signal`.
    Aborted {
        execs: u64,
        time: Duration,
        signal: i32,
    },
    /// Not run (`--quick`).
    Skipped,
}

/// The first panic of a run, as the recording panic hook saw it.
#[derive(Clone, Debug)]
struct FirstPanic {
    /// Executions started when it happened: the number of the failing execution.
    execs: u64,
    elapsed: Duration,
    message: String,
}

static RUN_START: Mutex<Option<Instant>> = Mutex::new(None);
static FIRST_PANIC: Mutex<Option<FirstPanic>> = Mutex::new(None);
/// Set in a child process: print the first panic to stdout at once, since loom may abort the
/// process before the run returns.
static ANNOUNCE_FIRST_PANIC: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f` with a quiet panic hook that records the first panic (with the execution count at
/// that moment) instead of printing it, and restores the previous hook afterwards.
fn with_recording_hook<R>(f: impl FnOnce() -> R) -> (std::thread::Result<R>, Option<FirstPanic>) {
    *lock(&FIRST_PANIC) = None;
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let mut first = lock(&FIRST_PANIC);
        if first.is_some() {
            return;
        }
        let recorded = FirstPanic {
            execs: EXECUTIONS.load(Ordering::SeqCst) as u64,
            elapsed: lock(&RUN_START).map_or(Duration::ZERO, |s| s.elapsed()),
            message: payload_message(info.payload()),
        };
        if ANNOUNCE_FIRST_PANIC.load(Ordering::SeqCst) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "FIRST_PANIC {} {} {}",
                recorded.execs,
                recorded.elapsed.as_nanos(),
                recorded.message.replace('\n', " ")
            );
            let _ = out.flush();
        }
        *first = Some(recorded);
    }));
    let result = panic::catch_unwind(panic::AssertUnwindSafe(f));
    panic::set_hook(previous);
    let first = lock(&FIRST_PANIC).take();
    (result, first)
}

fn start_run() -> Instant {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let now = Instant::now();
    *lock(&RUN_START) = Some(now);
    now
}

/// Turns a loom or shuttle run into a checked outcome: for a correct program it must not have
/// panicked; for a buggy one it must have panicked with the expected bug.
fn judge(
    tool: &str,
    p: Program,
    result: std::thread::Result<Outcome>,
    first: Option<FirstPanic>,
    time: Duration,
) -> Outcome {
    match (p.bug(), result) {
        (None, Ok(outcome)) => outcome,
        (None, Err(payload)) => panic!(
            "{tool} reported a failure on the correct program {}: {}",
            p.name(),
            first.map_or_else(|| payload_message(&*payload), |f| f.message)
        ),
        (Some(_), Ok(outcome)) => {
            panic!("{tool} missed the bug in {}: {outcome:?}", p.name())
        }
        (Some(bug), Err(payload)) => {
            let first = first.unwrap_or_else(|| {
                panic!(
                    "{tool} panicked without the panic hook seeing it: {}",
                    payload_message(&*payload)
                )
            });
            assert!(
                bug.matches(&first.message),
                "{tool} failed on {} for another reason: {}",
                p.name(),
                first.message
            );
            Outcome::Found {
                execs: first.execs,
                time,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running each tool
// ---------------------------------------------------------------------------------------------

fn run_selvedge(p: Program) -> (Outcome, u64) {
    let start = start_run();
    let report = selvedge_bench::explore_dpor(move || {
        count_execution();
        selvedge_program(p);
    });
    let time = start.elapsed();
    let execs = report.schedules();
    assert!(
        report.error().is_none(),
        "selvedge could not run {}: {report:?}",
        p.name()
    );
    assert_eq!(
        EXECUTIONS.load(Ordering::SeqCst) as u64,
        execs,
        "selvedge's report and the execution counter disagree on {}",
        p.name()
    );
    let outcome = match p.bug() {
        None => {
            assert!(
                report.failure().is_none(),
                "selvedge reported a failure on the correct program {}: {report:?}",
                p.name()
            );
            assert!(
                report.complete(),
                "selvedge did not finish {}: {}",
                p.name(),
                report.coverage()
            );
            Outcome::Complete { execs, time }
        }
        Some(bug) => {
            let failure = report
                .failure()
                .unwrap_or_else(|| panic!("selvedge missed the bug in {}", p.name()));
            assert_eq!(
                failure.kind(),
                bug.selvedge_kind(),
                "selvedge found another bug in {}: {failure}",
                p.name()
            );
            assert_eq!(failure.schedule_number(), execs);
            Outcome::Found { execs, time }
        }
    };
    (outcome, report.redundant_schedules())
}

fn loom_builder(budget: Duration) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    // `Builder::new` reads LOOM_* variables: put every field back to loom's default.
    builder.max_threads = LOOM_MAX_THREADS;
    builder.max_branches = LOOM_MAX_BRANCHES;
    builder.max_permutations = None;
    builder.preemption_bound = None;
    builder.checkpoint_file = None;
    builder.checkpoint_interval = LOOM_CHECKPOINT_INTERVAL;
    builder.expect_explicit_explore = false;
    builder.location = false;
    builder.log = false;
    // The one setting that is not loom's default: the time budget.
    builder.max_duration = Some(budget);
    builder
}

fn run_loom(p: Program, budget: Duration) -> Outcome {
    let builder = loom_builder(budget);
    let start = start_run();
    let (result, first) = with_recording_hook(|| {
        builder.check(move || {
            count_execution();
            loom_program(p);
        });
        let time = start.elapsed();
        let execs = EXECUTIONS.load(Ordering::SeqCst) as u64;
        // `check` returns silently when `max_duration` stops it, which it can only do before an
        // iteration numbered a multiple of the checkpoint interval. (A run that finished by
        // itself on exactly such a count after the budget would be reported as capped: ">= N"
        // is still true of it.)
        if time >= budget
            && execs % LOOM_CHECKPOINT_INTERVAL as u64 == LOOM_CHECKPOINT_INTERVAL as u64 - 1
        {
            Outcome::Capped {
                execs,
                time,
                why: format!("max_duration {} s", budget.as_secs()),
            }
        } else {
            Outcome::Complete { execs, time }
        }
    });
    judge("loom", p, result, first, start.elapsed())
}

/// Why the budgeted DFS scheduler stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShuttleStop {
    Exhausted,
    Iterations,
    Time,
}

/// shuttle's `DfsScheduler`, exactly as `check_dfs` builds it, with the iteration cap
/// `check_dfs(f, Some(max_iterations))` applies and a wall-time budget, both checked between
/// executions, recording which of the three ended the run.
struct BudgetedDfs {
    inner: shuttle::scheduler::DfsScheduler,
    max_iterations: usize,
    started: usize,
    deadline: Instant,
    stop: Rc<Cell<Option<ShuttleStop>>>,
}

impl shuttle::scheduler::Scheduler for BudgetedDfs {
    fn new_execution(&mut self) -> Option<shuttle::scheduler::Schedule> {
        let stop = if self.started >= self.max_iterations {
            ShuttleStop::Iterations
        } else if Instant::now() >= self.deadline {
            ShuttleStop::Time
        } else {
            match self.inner.new_execution() {
                Some(schedule) => {
                    self.started += 1;
                    return Some(schedule);
                }
                None => ShuttleStop::Exhausted,
            }
        };
        // A budget may stop the run exactly when the space is used up: then it is complete.
        let stop = if stop != ShuttleStop::Exhausted && self.inner.new_execution().is_none() {
            ShuttleStop::Exhausted
        } else {
            stop
        };
        self.stop.set(Some(stop));
        None
    }

    fn next_task(
        &mut self,
        runnable_tasks: &[&shuttle::scheduler::Task],
        current_task: Option<shuttle::scheduler::TaskId>,
        is_yielding: bool,
    ) -> Option<shuttle::scheduler::TaskId> {
        self.inner
            .next_task(runnable_tasks, current_task, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

fn run_shuttle(p: Program, budget: Duration, max_iterations: usize) -> Outcome {
    let stop = Rc::new(Cell::new(None));
    let start = start_run();
    let scheduler = BudgetedDfs {
        // What `shuttle::check_dfs` uses, with the iteration cap moved into the wrapper.
        inner: shuttle::scheduler::DfsScheduler::new(None, false),
        max_iterations,
        started: 0,
        deadline: start + budget,
        stop: stop.clone(),
    };
    // `check_dfs` runs `Runner::new(scheduler, Default::default())`.
    let runner = shuttle::Runner::new(scheduler, shuttle::Config::default());
    let (result, first) = with_recording_hook(|| {
        let iterations = runner.run(move || {
            count_execution();
            shuttle_program(p);
        });
        let time = start.elapsed();
        let execs = EXECUTIONS.load(Ordering::SeqCst) as u64;
        assert_eq!(
            iterations as u64, execs,
            "shuttle's count and ours disagree"
        );
        match stop.get() {
            Some(ShuttleStop::Exhausted) => Outcome::Complete { execs, time },
            Some(ShuttleStop::Iterations) => Outcome::Capped {
                execs,
                time,
                why: format!("{} iterations", thousands(max_iterations as u64)),
            },
            Some(ShuttleStop::Time) => Outcome::Capped {
                execs,
                time,
                why: format!("{} s", budget.as_secs()),
            },
            None => panic!("shuttle's runner stopped without asking the scheduler"),
        }
    });
    judge("shuttle", p, result, first, start.elapsed())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Loom,
    Shuttle,
}

impl Tool {
    fn slug(self) -> &'static str {
        match self {
            Tool::Loom => "loom",
            Tool::Shuttle => "shuttle",
        }
    }
}

fn run_tool(tool: Tool, p: Program, args: &Args) -> Outcome {
    let budget = Duration::from_secs(args.budget_secs);
    match tool {
        Tool::Loom => run_loom(p, budget),
        Tool::Shuttle => run_shuttle(p, budget, args.shuttle_iterations),
    }
}

/// Whether this cell runs in a child process (because the tool aborts the process on it).
fn isolated(tool: Tool, p: Program) -> bool {
    tool == Tool::Loom && p == Program::Deadlock
}

/// `--only TOOL-PROGRAM`, in the child: run one cell and print its outcome on stdout.
fn run_only(spec: &str, args: &Args) {
    let (tool, p) = [Tool::Loom, Tool::Shuttle]
        .into_iter()
        .flat_map(|t| PROGRAMS.into_iter().map(move |p| (t, p)))
        .find(|&(t, p)| format!("{}-{}", t.slug(), p.slug()) == spec)
        .unwrap_or_else(|| {
            eprintln!("--only: unknown cell {spec:?}");
            std::process::exit(2);
        });
    ANNOUNCE_FIRST_PANIC.store(true, Ordering::SeqCst);
    let outcome = run_tool(tool, p, args);
    let line = match outcome {
        Outcome::Complete { execs, time } => format!("complete {execs} {}", time.as_nanos()),
        Outcome::Found { execs, time } => format!("found {execs} {}", time.as_nanos()),
        Outcome::Capped { execs, time, why } => {
            format!("capped {execs} {} {why}", time.as_nanos())
        }
        Outcome::Aborted { .. } | Outcome::Skipped => unreachable!(),
    };
    println!("OUTCOME {line}");
}

/// Runs one cell in a child process (this binary with `--only`), and reads its outcome back.
fn run_in_child(tool: Tool, p: Program, args: &Args) -> Outcome {
    let spec = format!("{}-{}", tool.slug(), p.slug());
    let exe = std::env::current_exe().expect("the path of this benchmark binary");
    let output = Command::new(exe)
        .args([
            "--only",
            &spec,
            "--budget-secs",
            &args.budget_secs.to_string(),
        ])
        .args(["--shuttle-iterations", &args.shuttle_iterations.to_string()])
        .output()
        .expect("re-executing the benchmark binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::to_string)
    };
    let nanos = |s: &str| Duration::from_nanos(s.parse().expect("a duration in ns"));
    if let Some(signal) = output.status.signal() {
        let first = field("FIRST_PANIC ").unwrap_or_else(|| {
            panic!(
                "{spec}: the child died with signal {signal} before any panic; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let mut parts = first.splitn(3, ' ');
        let execs: u64 = parts.next().unwrap().parse().unwrap();
        let time = nanos(parts.next().unwrap());
        let message = parts.next().unwrap_or("");
        let bug = p.bug().unwrap_or_else(|| {
            panic!("{spec}: the child died with signal {signal} on a correct program: {message}")
        });
        assert!(
            bug.matches(message),
            "{spec}: the child failed for another reason: {message}"
        );
        return Outcome::Aborted {
            execs,
            time,
            signal,
        };
    }
    let line = field("OUTCOME ").filter(|_| output.status.success());
    let line = line.unwrap_or_else(|| {
        panic!(
            "{spec}: the child failed ({}); stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let parts: Vec<&str> = line.splitn(4, ' ').collect();
    let execs: u64 = parts[1].parse().unwrap();
    let time = nanos(parts[2]);
    match parts[0] {
        "complete" => Outcome::Complete { execs, time },
        "found" => Outcome::Found { execs, time },
        "capped" => Outcome::Capped {
            execs,
            time,
            why: parts.get(3).unwrap_or(&"").to_string(),
        },
        other => panic!("{spec}: unknown outcome {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|group| std::str::from_utf8(group).expect("ASCII digits"))
        .collect();
    groups.join(",")
}

fn fmt_time(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        6 => "SIGABRT".to_string(),
        9 => "SIGKILL".to_string(),
        11 => "SIGSEGV".to_string(),
        n => format!("signal {n}"),
    }
}

/// (execution cell, time cell, executions for ratios and whether they are a lower bound).
fn cells(outcome: &Outcome) -> (String, String, Option<(u64, bool)>) {
    match outcome {
        Outcome::Complete { execs, time } => {
            (thousands(*execs), fmt_time(*time), Some((*execs, false)))
        }
        Outcome::Capped { execs, time, why } => (
            format!("≥ {} (capped: {why})", thousands(*execs)),
            fmt_time(*time),
            Some((*execs, true)),
        ),
        Outcome::Found { execs, time } => (
            format!("bug found at {}", thousands(*execs)),
            fmt_time(*time),
            Some((*execs, false)),
        ),
        Outcome::Aborted {
            execs,
            time,
            signal,
        } => (
            format!(
                "bug found at {}, then aborts the process ({})",
                thousands(*execs),
                signal_name(*signal)
            ),
            fmt_time(*time),
            Some((*execs, false)),
        ),
        Outcome::Skipped => ("skipped (--quick)".to_string(), "—".to_string(), None),
    }
}

fn ratio(num: Option<(u64, bool)>, den: u64) -> String {
    match num {
        Some((n, lower_bound)) => {
            let r = n as f64 / den as f64;
            if lower_bound {
                format!("≥ {r:.2}")
            } else {
                format!("{r:.2}")
            }
        }
        None => "—".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

struct Args {
    budget_secs: u64,
    shuttle_iterations: usize,
    quick: bool,
    only: Option<String>,
}

/// `--budget-secs N`, `--shuttle-iterations N`, `--quick`, `--only TOOL-PROGRAM`; every other
/// argument (cargo passes `--bench`) is ignored.
fn parse_args() -> Args {
    let mut parsed = Args {
        budget_secs: DEFAULT_BUDGET_SECS,
        shuttle_iterations: DEFAULT_SHUTTLE_ITERATIONS,
        quick: false,
        only: None,
    };
    fn positive(flag: &str, value: Option<String>) -> u64 {
        match value.as_deref().map(str::parse::<u64>) {
            Some(Ok(n)) if n > 0 => n,
            _ => {
                eprintln!("{flag} expects a positive integer, got {value:?}");
                std::process::exit(2);
            }
        }
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        match flag.as_str() {
            "--budget-secs" => {
                parsed.budget_secs = positive(&flag, inline.or_else(|| args.next()));
            }
            "--shuttle-iterations" => {
                parsed.shuttle_iterations =
                    positive(&flag, inline.or_else(|| args.next())) as usize;
            }
            "--quick" => parsed.quick = true,
            "--only" => parsed.only = inline.or_else(|| args.next()),
            _ => {}
        }
    }
    parsed
}

struct Row {
    program: Program,
    selvedge: Outcome,
    selvedge_redundant: u64,
    loom: Outcome,
    shuttle: Outcome,
}

fn main() {
    let args = parse_args();
    if let Some(spec) = &args.only {
        run_only(spec, &args);
        return;
    }
    let loom_vars: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("LOOM_"))
        .collect();
    if !loom_vars.is_empty() {
        eprintln!(
            "note: {} set; the benchmark overrides them with loom's defaults",
            loom_vars.join(", ")
        );
    }

    let mut rows = Vec::new();
    for p in PROGRAMS {
        let (selvedge, selvedge_redundant) = run_selvedge(p);
        eprintln!("{}: selvedge {}", p.name(), cells(&selvedge).0);
        let mut others = Vec::new();
        for tool in [Tool::Loom, Tool::Shuttle] {
            let outcome = if args.quick && p.heavy() {
                Outcome::Skipped
            } else if isolated(tool, p) {
                run_in_child(tool, p, &args)
            } else {
                run_tool(tool, p, &args)
            };
            let (execs, time, _) = cells(&outcome);
            eprintln!("{}: {} {execs} in {time}", p.name(), tool.slug());
            others.push(outcome);
        }
        let shuttle = others.pop().unwrap();
        let loom = others.pop().unwrap();
        rows.push(Row {
            program: p,
            selvedge,
            selvedge_redundant,
            loom,
            shuttle,
        });
    }

    println!(
        "Exhaustive exploration, executions until done (correct programs) or until the bug \
         (buggy ones). Budgets: loom max_duration {} s; shuttle {} iterations or {} s, per \
         program{}.\n",
        args.budget_secs,
        thousands(args.shuttle_iterations as u64),
        args.budget_secs,
        if args.quick {
            "; --quick: loom and shuttle skip mutex 3×2 and 3×3"
        } else {
            ""
        }
    );
    println!(
        "| program | ideal | selvedge DPOR execs | time | loom execs | time | shuttle DFS execs \
         | time | selvedge/ideal | loom/selvedge | shuttle/selvedge |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut selvedge_3x3 = None;
    for row in &rows {
        let (s_execs, s_time, s_n) = cells(&row.selvedge);
        let (l_execs, l_time, l_n) = cells(&row.loom);
        let (h_execs, h_time, h_n) = cells(&row.shuttle);
        let s = s_n.expect("selvedge always runs").0;
        let s_execs = if row.selvedge_redundant > 0 {
            format!("{s_execs} ({} redundant)", row.selvedge_redundant)
        } else {
            s_execs
        };
        let (ideal, vs_ideal) = match row.program.ideal() {
            Some(ideal) => (thousands(ideal), ratio(s_n, ideal)),
            None => ("— (bug)".to_string(), "—".to_string()),
        };
        println!(
            "| {} | {ideal} | {s_execs} | {s_time} | {l_execs} | {l_time} | {h_execs} | {h_time} \
             | {vs_ideal} | {} | {} |",
            row.program.name(),
            ratio(l_n, s),
            ratio(h_n, s),
        );
        if row.program == mutex(3, 3) {
            if let Outcome::Complete { execs, time } = &row.selvedge {
                selvedge_3x3 = Some((*execs, *time));
            }
        }
    }
    if let Some((execs, time)) = selvedge_3x3 {
        println!(
            "\nselvedge DPOR, mutex 3×3: {} executions in {} (target: under 1 s: {}).",
            thousands(execs),
            fmt_time(time),
            if time < Duration::from_secs(1) {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    workers_comparison();
    println!(
        "\nRatios are of executions (for the bugs: executions until the bug was reported); \
         \"≥\" marks a tool stopped by its budget, so the true ratio is higher. A cell counts only \
         once its verdict was checked: correct programs passed every execution (selvedge's \
         report says complete, no failure), buggy ones were caught with the expected failure."
    );
    println!(
        "\nBias: each tool runs with its default settings except the budgets. selvedge: \
         `explore` with `Strategy::Dpor` (its default; no preemption bound, at most 1,000,000 \
         executions) on one worker thread, like the others. loom 0.7: `loom::model::Builder::check` (what `loom::model` runs, without \
         its tracing subscriber), every field at loom's default with no preemption bound and \
         LOOM_* variables ignored, plus `max_duration`, which loom checks only every 20,000 \
         executions, so a capped run can overshoot its budget. shuttle 0.9: the `DfsScheduler` \
         and default `Config` of `check_dfs(f, Some({}))`, plus a wall-time check between \
         executions. loom's deadlock case runs in a child process, because loom aborts the \
         process there; its time is until the bug was reported. Every body bumps a std atomic \
         once per execution to count executions. Times are wall-clock, one run each, on a \
         shared 2-core machine: the ratios matter, not the absolute times.",
        thousands(args.shuttle_iterations as u64)
    );
}

/// DPOR on 1 and 2 worker threads: the same executions (checked by count and digest), and
/// the wall time of each, median of several alternating runs.
fn workers_comparison() {
    println!("\nParallel DPOR: `Config::workers`, 1 against 2 (median of 9 alternating runs).\n");
    println!("| program | executions | 1 worker | 2 workers | 2 / 1 |");
    println!("|---|---:|---:|---:|---:|");
    for (threads, increments) in [(3, 3), (3, 4)] {
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut seen: Option<(u64, u64)> = None;
        for _ in 0..9 {
            for (slot, workers) in [1usize, 2].into_iter().enumerate() {
                let start = Instant::now();
                let report = selvedge::explore(
                    selvedge::Config {
                        strategy: selvedge::Strategy::Dpor,
                        workers: Some(workers),
                        ..Default::default()
                    },
                    move || selvedge_bench::selvedge_mutex_counter(threads, increments),
                );
                times[slot].push(start.elapsed());
                assert!(report.complete() && report.failure().is_none());
                let answer = (report.schedules(), report.digest());
                assert_eq!(
                    *seen.get_or_insert(answer),
                    answer,
                    "workers changed the executions"
                );
            }
        }
        for t in &mut times {
            t.sort();
        }
        let (one, two) = (times[0][4], times[1][4]);
        println!(
            "| mutex {threads}×{increments} | {} | {} | {} | {:.2} |",
            thousands(seen.expect("ran").0),
            fmt_time(one),
            fmt_time(two),
            two.as_secs_f64() / one.as_secs_f64()
        );
    }
    println!("\n(target for mutex 3×3: 2 / 1 at most 0.60)");
}
