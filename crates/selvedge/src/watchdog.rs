//! The stall watchdog: notices an execution that has reached no scheduling point for a
//! wall-clock while (`Config::stall_report_after`) and says so on stderr, or ends the process
//! (`Config::abort_on_stall`).
//!
//! Tasks take turns on one OS thread. A task that blocks on something selvedge does not
//! control (a `std` lock or channel another task would release, blocking I/O) or loops without
//! a scheduling point holds that thread forever, and the task that would release it can never
//! run. The runtime cannot prevent that, and the stuck thread cannot be unwound, but it can be
//! noticed: before it resumes a task, the scheduler loop publishes a *heartbeat* on its OS
//! thread's `Heartbeat` (which task, and the operation and location of its scheduling point),
//! and one process-wide watchdog thread polls every heartbeat a few times per second. A
//! heartbeat that does not change for `stall_report_after` is a stall: the watchdog writes
//! which task holds the thread, where its last scheduling point was and what probably
//! happened, then reports again at growing intervals, or aborts the process.
//!
//! Heartbeats are per OS thread, not per exploration: parallel workers each run executions
//! of their own, and one stuck worker must be noticed while the others keep stepping. A
//! thread's heartbeat joins the watchdog's list the first time the thread runs an execution
//! watched by it, and leaves it when the thread ends.
//!
//! Invariants:
//! - The scheduler loop only stores to its own thread's `Heartbeat`: three relaxed or release
//!   atomic stores per resumed task, no lock, no allocation, no clock.
//! - A heartbeat is armed only while `explorer::run_strategy` runs executions on its thread,
//!   and counts as running only inside an execution's scheduler loop, so the time a strategy
//!   or the parallel coordinator spends between executions is never taken for a stall.
//! - The watchdog decides nothing about an execution: it reads heartbeats and the clock, and
//!   writes to stderr. It never waits for a lock a stuck task could hold: it writes with
//!   `write(2)` on file descriptor 2 rather than through std's `Stderr` lock (a direct write
//!   also bypasses libtest's output capture, which would hide the report of a hanging test).

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::limits::{STALL_POLL_MAX, STALL_POLL_MIN, STALL_WATCHDOG_LATENESS};
use crate::trace::{Op, OpKind, TaskId};
use crate::Config;

/// The task of a heartbeat published when no execution runs on the thread.
const IDLE: u32 = u32::MAX;

/// What one OS thread's scheduler loop last did, as the watchdog reads it. Aligned so that
/// parallel workers, each storing to its own heartbeat at every step, share no cache line.
#[repr(align(128))]
pub(crate) struct Heartbeat {
    /// `resumes << 32 | task`: the task last resumed (`IDLE` between executions) and a count
    /// of resumes on this thread, so resuming the same task again is a new beat.
    beat: AtomicU64,
    /// The location of that task's last scheduling point.
    location: AtomicPtr<Location<'static>>,
    /// The name of its operation (`OpKind::name`).
    operation: AtomicPtr<&'static str>,
    /// `Config::stall_report_after` in nanoseconds while armed, 0 while not.
    report_after_ns: AtomicU64,
    /// `Config::abort_on_stall` while armed.
    abort: AtomicBool,
    /// The test being explored, for the report; written once per `Watch`.
    test_name: Mutex<Option<String>>,
}

impl Heartbeat {
    fn new() -> Heartbeat {
        Heartbeat {
            beat: AtomicU64::new(u64::from(IDLE)),
            location: AtomicPtr::new(std::ptr::null_mut()),
            operation: AtomicPtr::new(std::ptr::null_mut()),
            report_after_ns: AtomicU64::new(0),
            abort: AtomicBool::new(false),
            test_name: Mutex::new(None),
        }
    }

    /// The scheduler loop is about to resume `task`, whose scheduling point is `op`.
    #[inline]
    pub(crate) fn beat(&self, task: TaskId, op: Op) {
        let location = op.location as *const Location<'static>;
        self.location.store(location.cast_mut(), Ordering::Relaxed);
        let operation = op.kind.name() as *const &'static str;
        self.operation
            .store(operation.cast_mut(), Ordering::Relaxed);
        self.publish(task.0);
    }

    /// The execution on this thread has ended.
    pub(crate) fn idle(&self) {
        self.publish(IDLE);
    }

    #[inline]
    fn publish(&self, task: u32) {
        // Only this thread writes the beat, so a load and a store make the increment.
        let resumes = (self.beat.load(Ordering::Relaxed) >> 32).wrapping_add(1);
        // Release: a watchdog that sees this beat sees the location and operation above.
        self.beat
            .store(resumes << 32 | u64::from(task), Ordering::Release);
    }
}

thread_local! {
    /// This OS thread's heartbeat, registered with the watchdog when first used.
    static HEARTBEAT: Arc<Heartbeat> = register();
}

/// Arms this thread's heartbeat for the executions of one `run_strategy`; disarms it when
/// dropped.
pub(crate) struct Watch {
    heartbeat: Arc<Heartbeat>,
}

impl Watch {
    /// Starts watching this thread's executions as `config` says; `None` when the watchdog
    /// is off.
    pub(crate) fn start(config: &Config, test_name: &Option<String>) -> Option<Watch> {
        let after = config.stall_report_after?;
        let heartbeat = HEARTBEAT.with(Arc::clone);
        {
            let mut name = lock(&heartbeat.test_name);
            if *name != *test_name {
                name.clone_from(test_name);
            }
        }
        heartbeat
            .abort
            .store(config.abort_on_stall, Ordering::Relaxed);
        let after_ns = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX).max(1);
        // SeqCst, paired with the watchdog's `PARKED`: either it sees this heartbeat armed,
        // or this thread sees it parked and wakes it.
        heartbeat.report_after_ns.store(after_ns, Ordering::SeqCst);
        if PARKED.load(Ordering::SeqCst) {
            if let Some(Some(watchdog)) = WATCHDOG.get() {
                watchdog.unpark();
            }
        }
        Some(Watch { heartbeat })
    }

    pub(crate) fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.heartbeat.idle();
        self.heartbeat.report_after_ns.store(0, Ordering::SeqCst);
    }
}

/// A heartbeat the watchdog polls, and what it saw of it.
struct Watched {
    heartbeat: Weak<Heartbeat>,
    /// The beat last seen, and when it was first seen.
    seen: u64,
    since: Instant,
    /// The stall length the next report is due at.
    next_report: Duration,
    /// The task and test of the stall reported last, until it is over.
    reported: Option<(u32, Option<String>)>,
}

/// Every live thread's heartbeat. Locked by a thread when it first runs a watched execution,
/// and by the watchdog at each poll; never by the scheduler loop.
static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());

/// Set while the watchdog sleeps until a heartbeat is armed (nothing to watch).
static PARKED: AtomicBool = AtomicBool::new(false);

/// The watchdog thread, started with the first registration (`None` if it could not start).
static WATCHDOG: OnceLock<Option<Thread>> = OnceLock::new();

fn register() -> Arc<Heartbeat> {
    let heartbeat = Arc::new(Heartbeat::new());
    {
        let mut watched = lock(&WATCHED);
        // Threads come and go (one explorer thread per exploration): drop the dead ones here
        // too, in case the watchdog sleeps.
        watched.retain(|w| w.heartbeat.strong_count() > 0);
        watched.push(Watched {
            heartbeat: Arc::downgrade(&heartbeat),
            seen: u64::from(IDLE),
            since: Instant::now(),
            next_report: Duration::ZERO,
            reported: None,
        });
    }
    WATCHDOG.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name("selvedge-watchdog".to_string())
            .spawn(watch_forever);
        match started {
            Ok(handle) => Some(handle.thread().clone()),
            Err(e) => {
                write_stderr(&format!(
                    "selvedge: warning: could not start the stall watchdog thread ({e}), so a \
                     test that hangs outside selvedge's control will not be reported; set \
                     `Config::stall_report_after` to `None` to skip starting it\n"
                ));
                None
            }
        }
    });
    heartbeat
}

fn watch_forever() {
    // When the last poll began, and how long the watchdog meant to sleep after it.
    let mut last_poll: Option<(Instant, Duration)> = None;
    loop {
        let now = Instant::now();
        let lost = match last_poll {
            Some((at, planned)) => now.duration_since(at).saturating_sub(planned),
            None => Duration::ZERO,
        };
        let lost = if lost > STALL_WATCHDOG_LATENESS {
            lost
        } else {
            Duration::ZERO
        };
        let poll = poll(now, lost);
        for message in &poll.messages {
            write_stderr(message);
        }
        if poll.abort {
            std::process::abort();
        }
        match poll.next {
            Some(interval) => {
                last_poll = Some((now, interval));
                std::thread::sleep(interval);
            }
            None => {
                last_poll = None;
                PARKED.store(true, Ordering::SeqCst);
                // Checked again after announcing the park: a heartbeat armed in between
                // either is seen here or sees `PARKED` and unparks this thread.
                if !any_armed() {
                    std::thread::park();
                }
                PARKED.store(false, Ordering::SeqCst);
            }
        }
    }
}

fn any_armed() -> bool {
    lock(&WATCHED).iter().any(|w| {
        w.heartbeat
            .upgrade()
            .is_some_and(|h| h.report_after_ns.load(Ordering::SeqCst) != 0)
    })
}

/// What one poll found.
struct Poll {
    /// Reports to write, each a full line (or lines) of text.
    messages: Vec<String>,
    /// A stall was reported on a heartbeat armed with `abort_on_stall`.
    abort: bool,
    /// When to poll next, or `None` when no heartbeat is armed.
    next: Option<Duration>,
}

/// Looks at every heartbeat once. `lost` is time the watchdog itself did not run, which is not
/// counted in any stall.
fn poll(now: Instant, lost: Duration) -> Poll {
    let mut found = Poll {
        messages: Vec::new(),
        abort: false,
        next: None,
    };
    let mut smallest: Option<Duration> = None;
    let mut watched = lock(&WATCHED);
    watched.retain_mut(|w| {
        let Some(heartbeat) = w.heartbeat.upgrade() else {
            // Its thread has ended, so whatever stalled it is over.
            if let Some((task, test_name)) = w.reported.take() {
                let stalled = now.saturating_duration_since(w.since);
                found
                    .messages
                    .push(went_on(test_name.as_deref(), task, stalled));
            }
            return false;
        };
        let after_ns = heartbeat.report_after_ns.load(Ordering::SeqCst);
        let beat = heartbeat.beat.load(Ordering::Acquire);
        let running = after_ns != 0 && beat as u32 != IDLE;
        let after = Duration::from_nanos(after_ns);
        if after_ns != 0 {
            smallest = Some(smallest.map_or(after, |s| s.min(after)));
        }
        if !running || beat != w.seen {
            if let Some((task, test_name)) = w.reported.take() {
                let stalled = now.saturating_duration_since(w.since);
                found
                    .messages
                    .push(went_on(test_name.as_deref(), task, stalled));
            }
            w.seen = beat;
            w.since = now;
            w.next_report = after;
            return true;
        }
        w.since = (w.since + lost).min(now);
        let stalled = now.saturating_duration_since(w.since);
        if stalled < w.next_report {
            return true;
        }
        // The location and operation belong to this beat if the beat is unchanged after
        // reading them (the release store in `publish` orders them before it).
        let location = heartbeat.location.load(Ordering::Relaxed);
        let operation = heartbeat.operation.load(Ordering::Relaxed);
        if heartbeat.beat.load(Ordering::Acquire) != beat {
            return true;
        }
        let abort = heartbeat.abort.load(Ordering::Relaxed);
        let test_name = heartbeat.test_name.try_lock().ok().and_then(|n| n.clone());
        let task = beat as u32;
        w.next_report = w.next_report.saturating_mul(2);
        let stall = Stall {
            test_name: test_name.as_deref(),
            task,
            // SAFETY: every pointer ever stored is null or made from a `&'static` reference.
            operation: unsafe { operation.as_ref() }.copied(),
            // SAFETY: as above.
            location: unsafe { location.as_ref() },
            stalled,
            report_after: after,
            next_report: (!abort).then_some(w.next_report),
            again: w.reported.is_some(),
        };
        found.messages.push(diagnosis(&stall));
        found.abort |= abort;
        w.reported = Some((task, test_name));
        true
    });
    found.next = smallest.map(|s| (s / 4).clamp(STALL_POLL_MIN, STALL_POLL_MAX));
    found
}

/// One stall, as reported.
struct Stall<'a> {
    test_name: Option<&'a str>,
    task: u32,
    operation: Option<&'static str>,
    location: Option<&'static Location<'static>>,
    stalled: Duration,
    report_after: Duration,
    /// The stall length of the next report, or `None` when the process is aborted now.
    next_report: Option<Duration>,
    /// Reported before: the explanation is not repeated.
    again: bool,
}

fn task_name(task: u32) -> String {
    if task == 0 {
        "main (task 0)".to_string()
    } else {
        format!("task {task}")
    }
}

fn in_test(test_name: Option<&str>) -> String {
    test_name.map_or_else(String::new, |name| format!("in test `{name}`, "))
}

fn diagnosis(stall: &Stall<'_>) -> String {
    let task = task_name(stall.task);
    let last_point = match (stall.operation, stall.location) {
        (Some(operation), _) if operation == *OpKind::Start.name() && stall.task == 0 => {
            " since the test body started".to_string()
        }
        (Some(operation), Some(location)) if operation == *OpKind::Start.name() => {
            format!(" since it started (spawned at {location})")
        }
        // Operations reported at another site say so in their name ("guard locked at").
        (Some(operation), Some(location)) if operation.ends_with(" at)") => {
            format!("; its last scheduling point was `{operation}` {location}")
        }
        (Some(operation), Some(location)) => {
            format!("; its last scheduling point was `{operation}` at {location}")
        }
        _ => String::new(),
    };
    let what_next = match stall.next_report {
        Some(next) => format!(
            "still waiting (reported again at {next:.1?}); set `Config::abort_on_stall` to end \
             the process instead, or raise `Config::stall_report_after` (now `{:.1?}`) if the \
             code is just slow",
            stall.report_after
        ),
        None => format!(
            "aborting the process, as `Config::abort_on_stall` is set (a stuck task cannot be \
             unwound); raise `Config::stall_report_after` (now `{:.1?}`) if the code is just \
             slow",
            stall.report_after
        ),
    };
    let why = if stall.again {
        ""
    } else {
        "\n  it is probably blocked on something selvedge does not control, such as a `std` lock, \
         a `std` channel or another blocking call waiting for a task that cannot run (tasks take \
         turns on one OS thread), or it loops without a scheduling point; share state between \
         tasks through `selvedge::sync` and `selvedge::thread`, and call \
         `selvedge::hint::spin_loop()` in busy loops (in async code, `.await` \
         `yield_now()`: an `.await` of something already ready is not a scheduling point)"
    };
    format!(
        "selvedge: {}{task} has run for {:.1?} without reaching a scheduling point{last_point}\
         {why}\n  {what_next}\n",
        in_test(stall.test_name),
        stall.stalled,
    )
}

fn went_on(test_name: Option<&str>, task: u32, stalled: Duration) -> String {
    format!(
        "selvedge: {}{} went on after about {stalled:.1?} without a scheduling point; the \
         stall reported above is over\n",
        in_test(test_name),
        task_name(task),
    )
}

/// Writes `text` to file descriptor 2 without std's `Stderr` lock (see the module docs).
fn write_stderr(text: &str) {
    let mut bytes = text.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: writes from a live buffer of exactly `bytes.len()` bytes.
        let written = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(written) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            }
            Err(_) => return,
        }
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section here leaves its data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stall(operation: &'static str, task: u32, next_report: Option<Duration>) -> String {
        report(operation, task, next_report, false)
    }

    fn report(
        operation: &'static str,
        task: u32,
        next_report: Option<Duration>,
        again: bool,
    ) -> String {
        let at: &'static Location<'static> = Location::caller();
        diagnosis(&Stall {
            test_name: Some("suite::hangs"),
            task,
            operation: Some(operation),
            location: Some(at),
            stalled: Duration::from_millis(10_040),
            report_after: Duration::from_secs(10),
            next_report,
            again,
        })
        .replace(&at.to_string(), "tests/x.rs:12:9")
    }

    /// Pins the full text of a stall report: the first warning, a repeat, and an abort.
    #[test]
    fn a_stall_report_names_the_task_its_last_point_the_cause_and_the_knobs() {
        let warning = stall("lock", 1, Some(Duration::from_secs(20)));
        assert_eq!(
            warning,
            "selvedge: in test `suite::hangs`, task 1 has run for 10.0s without reaching a \
             scheduling point; its last scheduling point was `lock` at tests/x.rs:12:9\n  \
             it is probably blocked on something selvedge does not control, such as a `std` \
             lock, a `std` channel or another blocking call waiting for a task that cannot run \
             (tasks take turns on one OS thread), or it loops without a scheduling point; share \
             state between tasks through `selvedge::sync` and `selvedge::thread`, and call \
             `selvedge::hint::spin_loop()` in busy loops (in async code, `.await` \
             `yield_now()`: an `.await` of something already ready is not a scheduling point)\n  \
             still waiting (reported again at 20.0s); set `Config::abort_on_stall` to end the \
             process instead, or raise `Config::stall_report_after` (now `10.0s`) if the code \
             is just slow\n"
        );
        let again = report("lock", 1, Some(Duration::from_secs(40)), true);
        assert_eq!(
            again,
            "selvedge: in test `suite::hangs`, task 1 has run for 10.0s without reaching a \
             scheduling point; its last scheduling point was `lock` at tests/x.rs:12:9\n  \
             still waiting (reported again at 40.0s); set `Config::abort_on_stall` to end the \
             process instead, or raise `Config::stall_report_after` (now `10.0s`) if the code \
             is just slow\n"
        );
        let abort = stall("lock", 1, None);
        assert!(
            abort.ends_with(
                "\n  aborting the process, as `Config::abort_on_stall` is set (a stuck task \
                 cannot be unwound); raise `Config::stall_report_after` (now `10.0s`) if the \
                 code is just slow\n"
            ),
            "{abort}"
        );
    }

    #[test]
    fn a_stall_before_the_first_scheduling_point_says_where_the_task_was_spawned() {
        let spawned = stall("start", 2, None);
        assert!(
            spawned.contains(
                "task 2 has run for 10.0s without reaching a scheduling point since it started \
                 (spawned at tests/x.rs:12:9)\n"
            ),
            "{spawned}"
        );
        let main = stall("start", 0, None);
        assert!(
            main.contains(
                "main (task 0) has run for 10.0s without reaching a scheduling point since the \
                 test body started\n"
            ),
            "{main}"
        );
        let unlock = stall("unlock (guard locked at)", 1, None);
        assert!(
            unlock.contains("was `unlock (guard locked at)` tests/x.rs:12:9\n"),
            "{unlock}"
        );
    }
}
