//! Carrying out a valid `Stress` plan: start the threads behind a start gate, run the weighted
//! mix with faults and per-operation checks, wait for the threads under the watchdog's
//! deadline, run the end checks (under the same deadline), and gather the figures.
//!
//! Invariant: `run` always returns. A thread still not done after the deadline and a grace
//! period is reported and left parked (its handle is dropped, never joined); an end check that
//! does not return in time is left parked the same way. Nothing waits without a deadline.
//!
//! Invariant: what a worker shares while it runs is lock-free on the common path (relaxed
//! stores to its own cache-line-sized `Slot`); locks are taken only for errors, faults and
//! recoveries, and per-operation figures stay thread-local until the thread is done.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::builder::{CheckWhen, Fault, Invariant, Operation, Progress, Shake, Stress, Trigger};
use super::error::Error;
use super::outcome::{
    Activity, ErrorSample, FaultStats, InvariantResult, OperationStats, Outcome, Percentiles,
    Planned, StuckThread, WatchdogReport,
};
use super::panics::catching;
use super::render::thousands;
use super::shake::{self, Shaker};

/// Distinct error messages kept per run.
const MAX_ERROR_SAMPLES: usize = 20;
/// Longest wait after the deadline for threads that are slow rather than stuck.
const MAX_GRACE: Duration = Duration::from_millis(200);
/// How often the waiting thread wakes to draw progress and check the clock.
const TICK: Duration = Duration::from_millis(250);
/// A run shorter than this never draws a progress line.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);
/// Significant digits of every latency histogram.
const HISTOGRAM_DIGITS: u8 = 2;

/// What an operation or fault gets: which thread runs it, its iteration, and a random stream.
///
/// ```
/// let outcome = selvedge::stress::Stress::new("ctx")
///     .threads(3)
///     .iterations(5)
///     .op("check", 1, |ctx| {
///         assert!(ctx.thread() < 3);
///         assert!(ctx.iteration() < 5);
///         assert!(ctx.random_below(10) < 10);
///     })
///     .run();
/// assert!(outcome.is_clean());
/// ```
pub struct Ctx {
    thread: usize,
    iteration: u64,
    rng: fastrand::Rng,
}

impl Ctx {
    /// The thread's index, `0..threads`.
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// Operations this thread completed before this one.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// A random number in `0..n` from this thread's seeded stream (`n` must be above 0).
    pub fn random_below(&mut self, n: usize) -> usize {
        self.rng.usize(0..n)
    }

    /// `true` with probability `chance`, from this thread's seeded stream.
    pub fn random_chance(&mut self, chance: f64) -> bool {
        self.rng.f64() < chance
    }
}

/// What one thread is doing, for the watchdog: written only by its thread, read by the
/// waiting one. Aligned so threads never share a cache line.
#[repr(align(128))]
pub(crate) struct Slot {
    iteration: AtomicU64,
    /// `ACTIVITY_*` in the top byte, an index below.
    activity: AtomicU32,
    /// The last syncpoint passed and when (since the start). A lock, not atomics: a name and a
    /// location are read together, and a syncpoint is far from the hot path.
    last_syncpoint: Mutex<Option<PassedSyncpoint>>,
    done: AtomicBool,
}

const ACTIVITY_STARTING: u32 = 0;
const ACTIVITY_BETWEEN: u32 = 1;
const ACTIVITY_OP: u32 = 2;
const ACTIVITY_FAULT: u32 = 3;
const ACTIVITY_INVARIANT: u32 = 4;

impl Slot {
    fn new() -> Slot {
        Slot {
            iteration: AtomicU64::new(0),
            activity: AtomicU32::new(ACTIVITY_STARTING << 24),
            last_syncpoint: Mutex::new(None),
            done: AtomicBool::new(false),
        }
    }

    fn set_activity(&self, kind: u32, index: usize) {
        self.activity
            .store(kind << 24 | index as u32, Ordering::Relaxed);
    }

    pub(crate) fn passed_syncpoint(
        &self,
        name: Option<&'static str>,
        location: &'static Location<'static>,
        at: Duration,
    ) {
        *lock(&self.last_syncpoint) = Some(PassedSyncpoint { name, location, at });
    }
}

#[derive(Clone, Copy)]
struct PassedSyncpoint {
    name: Option<&'static str>,
    location: &'static Location<'static>,
    at: Duration,
}

/// Threads wait here until all have arrived, or until the run is called off (a thread failed
/// to start), so a start barrier can never hang.
struct StartGate {
    state: Mutex<(usize, bool)>,
    opened: Condvar,
}

impl StartGate {
    /// Returns `false` if the run was called off.
    fn wait(&self, parties: usize) -> bool {
        let mut state = lock(&self.state);
        state.0 += 1;
        if state.0 == parties {
            self.opened.notify_all();
        }
        while state.0 < parties && !state.1 {
            state = self
                .opened
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        !state.1
    }

    fn call_off(&self) {
        lock(&self.state).1 = true;
        self.opened.notify_all();
    }
}

/// Everything the threads share.
struct Shared {
    name: String,
    ops: Vec<Operation>,
    cumulative_weights: Vec<u32>,
    invariants: Vec<Invariant>,
    faults: Vec<Fault>,
    iterations: Option<u64>,
    histograms: bool,
    timed: bool,
    slots: Vec<Arc<Slot>>,
    gate: StartGate,
    start_barrier: bool,
    start: Mutex<Option<Instant>>,
    stop: AtomicBool,
    /// Operations started over all threads, for `fault_every`.
    tickets: AtomicU64,
    has_periodic_faults: bool,
    errors: AtomicU64,
    error_samples: Mutex<BTreeMap<(String, String), u64>>,
    violations: Vec<AtomicU64>,
    checks: Vec<AtomicU64>,
    invariant_panic: Mutex<Option<Error>>,
    injected: Vec<AtomicU64>,
    pending_count: AtomicUsize,
    /// Faults not yet followed by a success: (fault, end of the injection).
    pending: Mutex<Vec<(usize, Instant)>>,
    finished: Mutex<usize>,
    finished_changed: Condvar,
    results: Mutex<Vec<ThreadFigures>>,
}

/// A finished thread's own figures.
struct ThreadFigures {
    counts: Vec<u64>,
    errors: Vec<u64>,
    latency: Vec<Option<Histogram<u64>>>,
    recovery: Vec<Option<Histogram<u64>>>,
    recovered: Vec<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a closure is caught before any of our locks is held, so poisoning only
    // means another harness thread died mid-update of a counter: the data is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn histogram() -> Histogram<u64> {
    Histogram::new(HISTOGRAM_DIGITS).expect("2 significant digits is a valid histogram")
}

/// Records a latency; the histograms resize to fit it (`saturating_record` would clamp
/// instead, to the tiny initial range).
fn record(histogram: &mut Histogram<u64>, d: Duration) {
    let ns = nanos(d).max(1);
    if histogram.record(ns).is_err() {
        // Only a histogram grown past `usize` fails: keep the sample, clamped.
        histogram.saturating_record(ns);
    }
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

fn seed_for(seed: u64, thread: usize, stream: u64) -> u64 {
    // SplitMix64's finaliser spreads neighbouring (seed, thread) pairs apart.
    let mut z = seed
        ^ (thread as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn run(plan: Stress) -> Result<Outcome, Error> {
    let Stress {
        name,
        threads,
        iterations,
        duration,
        start_barrier,
        ops,
        invariants,
        faults,
        watchdog,
        shake,
        histograms,
        seed,
        progress,
    } = plan;
    let planned = match duration {
        Some(d) => Planned::Duration(d),
        None => Planned::Iterations(iterations.unwrap_or(100)),
    };
    let mut cumulative_weights = Vec::with_capacity(ops.len());
    let mut total = 0u32;
    for op in &ops {
        total += op.weight;
        cumulative_weights.push(total);
    }
    let shared = Arc::new(Shared {
        name,
        cumulative_weights,
        iterations: match planned {
            Planned::Iterations(n) => Some(n),
            Planned::Duration(_) => None,
        },
        histograms,
        timed: histograms || !faults.is_empty(),
        slots: (0..threads).map(|_| Arc::new(Slot::new())).collect(),
        gate: StartGate {
            state: Mutex::new((0, false)),
            opened: Condvar::new(),
        },
        start_barrier,
        start: Mutex::new(None),
        stop: AtomicBool::new(false),
        tickets: AtomicU64::new(0),
        has_periodic_faults: faults
            .iter()
            .any(|f| matches!(f.trigger, Trigger::Every(_))),
        errors: AtomicU64::new(0),
        error_samples: Mutex::new(BTreeMap::new()),
        violations: invariants.iter().map(|_| AtomicU64::new(0)).collect(),
        checks: invariants.iter().map(|_| AtomicU64::new(0)).collect(),
        invariant_panic: Mutex::new(None),
        injected: faults.iter().map(|_| AtomicU64::new(0)).collect(),
        pending_count: AtomicUsize::new(0),
        pending: Mutex::new(Vec::new()),
        finished: Mutex::new(0),
        finished_changed: Condvar::new(),
        results: Mutex::new(Vec::new()),
        ops,
        invariants,
        faults,
    });

    if !start_barrier {
        *lock(&shared.start) = Some(Instant::now());
    }
    let mut handles: Vec<JoinHandle<()>> = Vec::with_capacity(threads);
    for thread in 0..threads {
        let worker = Arc::clone(&shared);
        let thread_name = format!("stress-{thread}");
        let spawned = std::thread::Builder::new()
            .name(thread_name.clone())
            .spawn(move || work(&worker, thread, seed, shake, threads));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(cause) => {
                shared.stop.store(true, Ordering::Relaxed);
                shared.gate.call_off();
                // Threads started so far see the gate called off (or the stop flag) and end.
                for handle in handles {
                    let _ = handle.join();
                }
                return Err(Error::spawn(&thread_name, cause));
            }
        }
    }
    let wait = wait_for_threads(&shared, threads, planned, watchdog, progress);
    let elapsed = wait.elapsed;

    // Join every thread that is done; the stuck ones are left parked.
    let mut stuck_handles = 0;
    for (thread, handle) in handles.into_iter().enumerate() {
        if shared.slots[thread].done.load(Ordering::Acquire) {
            let _ = handle.join();
        } else {
            stuck_handles += 1;
            drop(handle);
        }
    }
    debug_assert_eq!(stuck_handles, wait.stuck.len());

    if let Some(error) = lock(&shared.invariant_panic).take() {
        return Err(error);
    }

    let start = lock(&shared.start).unwrap_or_else(Instant::now);
    let check_deadline = (start + elapsed).max(Instant::now()) + watchdog;
    let end_checks = end_checks(&shared, check_deadline)?;

    Ok(gather(
        &shared, threads, planned, seed, elapsed, watchdog, wait, end_checks,
    ))
}

struct Waited {
    elapsed: Duration,
    fired: bool,
    stuck: Vec<StuckThread>,
    stopped_late: usize,
}

fn wait_for_threads(
    shared: &Shared,
    threads: usize,
    planned: Planned,
    watchdog: Duration,
    progress: Progress,
) -> Waited {
    let spawned = Instant::now();
    let draw_progress = progress == Progress::Auto && std::io::stderr().is_terminal();
    let mut drew_progress = false;
    let mut finished = lock(&shared.finished);
    loop {
        if *finished == threads {
            break;
        }
        let now = Instant::now();
        // Until the gate opens, the deadline counts from when the threads were spawned.
        let start = lock(&shared.start).unwrap_or(spawned);
        let planned_end = match planned {
            Planned::Duration(d) => Some(start + d),
            Planned::Iterations(_) => None,
        };
        let deadline = planned_end.unwrap_or(start) + watchdog;
        if let Some(end) = planned_end {
            if now >= end {
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
        if now >= deadline {
            drop(finished);
            return after_deadline(shared, threads, start, watchdog, drew_progress);
        }
        if draw_progress && now.duration_since(start) >= PROGRESS_AFTER {
            // Clear the line first: the new text may be shorter than the last.
            eprint!(
                "\r\x1b[2K{}",
                progress_line(shared, threads, now.duration_since(start), planned)
            );
            drew_progress = true;
        }
        let mut wake = deadline.min(now + TICK);
        if let Some(end) = planned_end {
            if end > now {
                wake = wake.min(end);
            }
        }
        finished = shared
            .finished_changed
            .wait_timeout(finished, wake.saturating_duration_since(now))
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
    drop(finished);
    if drew_progress {
        eprint!("\r\x1b[2K");
    }
    let start = lock(&shared.start).unwrap_or(spawned);
    Waited {
        elapsed: start.elapsed(),
        fired: false,
        stuck: Vec::new(),
        stopped_late: 0,
    }
}

fn progress_line(shared: &Shared, threads: usize, elapsed: Duration, planned: Planned) -> String {
    let done: u64 = shared
        .slots
        .iter()
        .map(|s| s.iteration.load(Ordering::Relaxed))
        .sum();
    let so_far = match planned {
        Planned::Iterations(n) => format!(
            "{}/{} iterations, {:.1}s",
            thousands(done),
            thousands(n * threads as u64),
            elapsed.as_secs_f64()
        ),
        Planned::Duration(d) => format!(
            "{} iterations, {:.1}s of {:.1}s",
            thousands(done),
            elapsed.as_secs_f64(),
            d.as_secs_f64()
        ),
    };
    let violations: u64 = shared
        .violations
        .iter()
        .map(|v| v.load(Ordering::Relaxed))
        .sum();
    format!(
        "stress `{}`: {so_far}, {} errors, {} violations so far",
        shared.name,
        thousands(shared.errors.load(Ordering::Relaxed)),
        thousands(violations)
    )
}

/// The deadline passed with threads not done: tell them to stop, give the slow ones a grace
/// period to finish their operation, and report the rest as stuck.
fn after_deadline(
    shared: &Shared,
    threads: usize,
    start: Instant,
    watchdog: Duration,
    drew_progress: bool,
) -> Waited {
    let deadline_elapsed = start.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    shared.gate.call_off();
    let not_done_at_deadline = shared
        .slots
        .iter()
        .filter(|s| !s.done.load(Ordering::Acquire))
        .count();
    let grace_end = Instant::now() + (watchdog / 10).min(MAX_GRACE);
    let mut finished = lock(&shared.finished);
    while *finished < threads {
        let now = Instant::now();
        if now >= grace_end {
            break;
        }
        finished = shared
            .finished_changed
            .wait_timeout(finished, grace_end - now)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
    drop(finished);
    if drew_progress {
        eprint!("\r\x1b[2K");
    }
    let stuck: Vec<StuckThread> = shared
        .slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| !slot.done.load(Ordering::Acquire))
        .map(|(thread, slot)| describe_stuck(shared, thread, slot, deadline_elapsed))
        .collect();
    Waited {
        elapsed: deadline_elapsed,
        fired: true,
        stopped_late: not_done_at_deadline - stuck.len(),
        stuck,
    }
}

fn describe_stuck(shared: &Shared, thread: usize, slot: &Slot, at: Duration) -> StuckThread {
    let activity = slot.activity.load(Ordering::Relaxed);
    let index = (activity & 0x00FF_FFFF) as usize;
    let activity = match activity >> 24 {
        ACTIVITY_STARTING => Activity::Starting,
        ACTIVITY_OP => Activity::Operation(shared.ops[index].name.clone()),
        ACTIVITY_FAULT => Activity::Fault(shared.faults[index].name.clone()),
        ACTIVITY_INVARIANT => Activity::Invariant(shared.invariants[index].name.clone()),
        _ => Activity::BetweenOps,
    };
    let passed = *lock(&slot.last_syncpoint);
    StuckThread {
        name: format!("stress-{thread}"),
        thread,
        iteration: slot.iteration.load(Ordering::Relaxed),
        activity,
        last_syncpoint: passed.map(|p| p.location.to_string()),
        last_syncpoint_name: passed.and_then(|p| p.name).map(str::to_string),
        since_syncpoint: passed.map(|p| at.saturating_sub(p.at)),
    }
}

/// One worker thread, start to end.
fn work(shared: &Arc<Shared>, thread: usize, seed: u64, shake: Shake, threads: usize) {
    let slot = Arc::clone(&shared.slots[thread]);
    if shared.start_barrier {
        if !shared.gate.wait(threads) {
            finish(shared, &slot, None);
            return;
        }
        let mut start = lock(&shared.start);
        if start.is_none() {
            *start = Some(Instant::now());
        }
    }
    let start = lock(&shared.start).unwrap_or_else(Instant::now);
    let _shaker = shake::install(Shaker {
        slot: Arc::clone(&slot),
        rng: fastrand::Rng::with_seed(seed_for(seed, thread, 2)),
        shake,
        start,
    });
    let n_ops = shared.ops.len();
    let n_faults = shared.faults.len();
    let mut figures = ThreadFigures {
        counts: vec![0; n_ops],
        errors: vec![0; n_ops],
        latency: (0..n_ops)
            .map(|_| shared.histograms.then(histogram))
            .collect(),
        recovery: (0..n_faults).map(|_| None).collect(),
        recovered: vec![0; n_faults],
    };
    let mut picker = fastrand::Rng::with_seed(seed_for(seed, thread, 0));
    let mut ctx = Ctx {
        thread,
        iteration: 0,
        rng: fastrand::Rng::with_seed(seed_for(seed, thread, 1)),
    };
    let total_weight = *shared
        .cumulative_weights
        .last()
        .expect("validated: one op at least");
    let after_each: Vec<usize> = shared
        .invariants
        .iter()
        .enumerate()
        .filter(|(_, inv)| inv.when == CheckWhen::AfterEachOp)
        .map(|(i, _)| i)
        .collect();

    'run: loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if shared.iterations.is_some_and(|n| ctx.iteration >= n) {
            break;
        }
        if n_faults > 0 {
            let ticket = if shared.has_periodic_faults {
                shared.tickets.fetch_add(1, Ordering::Relaxed) + 1
            } else {
                0
            };
            for (i, fault) in shared.faults.iter().enumerate() {
                let due = match fault.trigger {
                    Trigger::Every(n) => ticket % n == 0,
                    Trigger::Random(chance) => picker.f64() < chance,
                };
                if due {
                    slot.set_activity(ACTIVITY_FAULT, i);
                    let failed = match catching(|| (fault.inject)(&mut ctx)) {
                        Ok(message) => message,
                        Err(panic) => Some(panic),
                    };
                    shared.injected[i].fetch_add(1, Ordering::Relaxed);
                    if let Some(message) = failed {
                        record_error(shared, format!("fault {}", fault.name), message);
                    }
                    lock(&shared.pending).push((i, Instant::now()));
                    shared.pending_count.fetch_add(1, Ordering::Release);
                }
            }
        }

        let op = if n_ops == 1 {
            0
        } else {
            let draw = picker.u32(0..total_weight);
            shared.cumulative_weights.partition_point(|&w| w <= draw)
        };
        slot.set_activity(ACTIVITY_OP, op);
        let began = shared.timed.then(Instant::now);
        let failed = match catching(|| (shared.ops[op].run)(&mut ctx)) {
            Ok(message) => message,
            Err(panic) => Some(panic),
        };
        let ended = began.map(|_| Instant::now());
        figures.counts[op] += 1;
        if let (Some(histogram), Some(began), Some(ended)) =
            (figures.latency[op].as_mut(), began, ended)
        {
            record(histogram, ended - began);
        }
        match failed {
            Some(message) => {
                figures.errors[op] += 1;
                record_error(shared, shared.ops[op].name.clone(), message);
            }
            None => {
                if shared.pending_count.load(Ordering::Acquire) > 0 {
                    if let (Some(began), Some(ended)) = (began, ended) {
                        note_recovery(shared, &mut figures, began, ended);
                    }
                }
            }
        }

        for &i in &after_each {
            slot.set_activity(ACTIVITY_INVARIANT, i);
            match catching(|| (shared.invariants[i].check)()) {
                Ok(count) => {
                    shared.checks[i].fetch_add(1, Ordering::Relaxed);
                    if count > 0 {
                        shared.violations[i].fetch_add(count, Ordering::Relaxed);
                    }
                }
                Err(panic) => {
                    let mut first = lock(&shared.invariant_panic);
                    if first.is_none() {
                        *first = Some(Error::invariant_panicked(&shared.invariants[i].name, panic));
                    }
                    shared.stop.store(true, Ordering::Relaxed);
                    break 'run;
                }
            }
        }
        ctx.iteration += 1;
        slot.iteration.store(ctx.iteration, Ordering::Relaxed);
        slot.set_activity(ACTIVITY_BETWEEN, 0);
    }
    finish(shared, &slot, Some(figures));
}

fn finish(shared: &Shared, slot: &Slot, figures: Option<ThreadFigures>) {
    if let Some(figures) = figures {
        lock(&shared.results).push(figures);
    }
    slot.done.store(true, Ordering::Release);
    *lock(&shared.finished) += 1;
    shared.finished_changed.notify_all();
}

fn record_error(shared: &Shared, operation: String, message: String) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    let mut samples = lock(&shared.error_samples);
    let key = (operation, message);
    if let Some(count) = samples.get_mut(&key) {
        *count += 1;
    } else if samples.len() < MAX_ERROR_SAMPLES {
        samples.insert(key, 1);
    }
}

/// A success that started after a fault ended is that fault's recovery.
fn note_recovery(shared: &Shared, figures: &mut ThreadFigures, began: Instant, ended: Instant) {
    let mut pending = lock(&shared.pending);
    let before = pending.len();
    pending.retain(|&(fault, injected)| {
        if injected <= began {
            figures.recovered[fault] += 1;
            record(
                figures.recovery[fault].get_or_insert_with(histogram),
                ended - injected,
            );
            false
        } else {
            true
        }
    });
    let recovered = before - pending.len();
    if recovered > 0 {
        shared.pending_count.fetch_sub(recovered, Ordering::Release);
    }
}

struct EndChecks {
    /// Per invariant: the end check's count, or `None` if it did not return in time.
    counts: Vec<Option<u64>>,
    parked: usize,
}

/// Runs every invariant once more on a thread of its own, so a check that blocks on a lock a
/// stuck thread holds cannot hang the run: past `deadline`, it is left parked.
fn end_checks(shared: &Arc<Shared>, deadline: Instant) -> Result<EndChecks, Error> {
    let n = shared.invariants.len();
    if n == 0 {
        return Ok(EndChecks {
            counts: Vec::new(),
            parked: 0,
        });
    }
    let (send, receive) = mpsc::channel();
    let checker = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("stress-end-checks".to_string())
        .spawn(move || {
            for (i, invariant) in checker.invariants.iter().enumerate() {
                let result = catching(|| (invariant.check)());
                if send.send((i, result)).is_err() {
                    return;
                }
            }
        });
    let handle = spawned.map_err(|cause| Error::spawn("stress-end-checks", cause))?;
    let mut counts = vec![None; n];
    let mut received = 0;
    while received < n {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match receive.recv_timeout(timeout) {
            Ok((i, Ok(count))) => {
                counts[i] = Some(count);
                received += 1;
            }
            Ok((i, Err(panic))) => {
                return Err(Error::invariant_panicked(&shared.invariants[i].name, panic));
            }
            Err(_) => break,
        }
    }
    if received == n {
        let _ = handle.join();
        Ok(EndChecks { counts, parked: 0 })
    } else {
        drop(handle);
        Ok(EndChecks { counts, parked: 1 })
    }
}

fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    let at = |q: f64| Duration::from_nanos(histogram.value_at_quantile(q));
    Percentiles {
        samples: histogram.len(),
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        max: Duration::from_nanos(histogram.max()),
    }
}

fn merged<'a>(
    histograms: impl Iterator<Item = &'a Option<Histogram<u64>>>,
) -> Option<Histogram<u64>> {
    let mut total: Option<Histogram<u64>> = None;
    for h in histograms.flatten() {
        match total.as_mut() {
            Some(total) => total.add(h).expect("auto-resizing histograms always add"),
            None => total = Some(h.clone()),
        }
    }
    total.filter(|h| !h.is_empty())
}

#[allow(clippy::too_many_arguments)]
fn gather(
    shared: &Shared,
    threads: usize,
    planned: Planned,
    seed: u64,
    elapsed: Duration,
    watchdog: Duration,
    waited: Waited,
    end: EndChecks,
) -> Outcome {
    let results = lock(&shared.results);
    let operations = shared
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| OperationStats {
            name: op.name.clone(),
            weight: op.weight,
            count: results.iter().map(|r| r.counts[i]).sum(),
            errors: results.iter().map(|r| r.errors[i]).sum(),
            latency: merged(results.iter().map(|r| &r.latency[i])).map(|h| percentiles(&h)),
        })
        .collect();
    let faults = shared
        .faults
        .iter()
        .enumerate()
        .map(|(i, fault)| FaultStats {
            name: fault.name.clone(),
            injected: shared.injected[i].load(Ordering::Relaxed),
            recovered: results.iter().map(|r| r.recovered[i]).sum(),
            recovery: merged(results.iter().map(|r| &r.recovery[i])).map(|h| percentiles(&h)),
        })
        .collect();
    let invariants = shared
        .invariants
        .iter()
        .enumerate()
        .map(|(i, invariant)| {
            let end_count = end.counts[i];
            InvariantResult {
                name: invariant.name.clone(),
                violations: shared.violations[i].load(Ordering::Relaxed) + end_count.unwrap_or(0),
                checks: shared.checks[i].load(Ordering::Relaxed) + u64::from(end_count.is_some()),
                after_each_op: invariant.when == CheckWhen::AfterEachOp,
                checked_at_end: end_count.is_some(),
            }
        })
        .collect();
    let mut error_samples: Vec<ErrorSample> = lock(&shared.error_samples)
        .iter()
        .map(|((operation, message), &count)| ErrorSample {
            operation: operation.clone(),
            message: message.clone(),
            count,
        })
        .collect();
    error_samples.sort_by_key(|s| std::cmp::Reverse(s.count));
    Outcome {
        name: shared.name.clone(),
        threads,
        planned,
        seed,
        elapsed,
        iterations: shared
            .slots
            .iter()
            .map(|s| s.iteration.load(Ordering::Relaxed))
            .sum(),
        errors: shared.errors.load(Ordering::Relaxed),
        error_samples,
        invariants,
        operations,
        faults,
        watchdog: WatchdogReport {
            deadline: watchdog,
            fired: waited.fired,
            stuck: waited.stuck,
            stopped_late: waited.stopped_late,
            parked_checks: end.parked,
        },
    }
}
