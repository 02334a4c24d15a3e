//! A task blocked on something selvedge does not control (a `std` lock, a `std` channel, a
//! real sleep) holds the one OS thread its execution runs on. The stall watchdog must never
//! let that hang silently: it reports the stuck task and its last scheduling point on stderr,
//! then aborts the process (`Config::abort_on_stall`) or lets a slow task go on.
//!
//! A stalled case would hang whatever runs it, so each case runs in a child process (this
//! test binary again, with `STALL_CASE` naming the case), which is killed if it outlives a
//! generous deadline. The child says on stderr that it reached the case and where, so no test
//! passes because the child did nothing.

use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::panic::Location;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use selvedge::sync::atomic::{AtomicBool, Ordering};
use selvedge::sync::Arc;
use selvedge::{explore, Config, Strategy};

/// The stall threshold every case runs with.
const THRESHOLD: Duration = Duration::from_millis(200);

/// Far beyond what any case needs (well under a second each), so only a real hang reaches it.
const DEADLINE: Duration = Duration::from_secs(120);

/// Not a test of its own: the case the child process runs, chosen by `STALL_CASE`.
#[test]
fn child_program() {
    match std::env::var("STALL_CASE").as_deref() {
        Ok("std-mutex") => std_mutex_held_by_the_waiting_main_task(),
        Ok("std-channel") => std_channel_nobody_sends_on(),
        Ok("slow") => a_task_that_sleeps_for_real_once(),
        _ => {}
    }
}

#[track_caller]
fn here() -> &'static Location<'static> {
    Location::caller()
}

fn config(abort_on_stall: bool) -> Config {
    Config {
        stall_report_after: Some(THRESHOLD),
        abort_on_stall,
        ..Default::default()
    }
}

static STD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Main holds a `std` mutex while it waits in `join`; the thread it spawned takes the same
/// mutex before its first scheduling point, so the OS thread blocks for good. Parallel DPOR,
/// so the stuck execution runs on a pool worker, not the explorer's own thread.
fn std_mutex_held_by_the_waiting_main_task() {
    let config = Config {
        workers: Some(2),
        ..config(true)
    };
    let report = explore(config, || {
        let _held = STD_LOCK.lock().unwrap();
        let (t, at) = (selvedge::thread::spawn(|| drop(STD_LOCK.lock())), here());
        eprintln!("case reached: spawn at {}:{}:", at.file(), at.line());
        t.join().unwrap();
    });
    eprintln!("case finished: {report:?}");
}

/// The spawned thread stores to a selvedge atomic (a scheduling point), then waits on a
/// `std` channel whose sender main keeps while it waits in `join`.
fn std_channel_nobody_sends_on() {
    let config = Config {
        strategy: Strategy::Random,
        max_schedules: Some(10),
        ..config(true)
    };
    let report = explore(config, || {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let flag = Arc::new(AtomicBool::new(false));
        let t = selvedge::thread::spawn(move || {
            let (_, at) = (flag.store(true, Ordering::SeqCst), here());
            eprintln!("case reached: store at {}:{}:", at.file(), at.line());
            let _ = rx.recv();
        });
        t.join().unwrap();
        drop(tx);
    });
    eprintln!("case finished: {report:?}");
}

static SLEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// In the first execution only, the spawned thread sleeps for real after a scheduling point,
/// five times the threshold; the exploration then goes on and finishes.
fn a_task_that_sleeps_for_real_once() {
    let config = Config {
        strategy: Strategy::Random,
        max_schedules: Some(5),
        ..config(false)
    };
    let report = explore(config, || {
        let flag = Arc::new(AtomicBool::new(false));
        let t = selvedge::thread::spawn(move || {
            let (_, at) = (flag.store(true, Ordering::SeqCst), here());
            if !SLEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
                eprintln!("case reached: store at {}:{}:", at.file(), at.line());
                std::thread::sleep(5 * THRESHOLD);
            }
        });
        t.join().unwrap();
    });
    eprintln!(
        "case finished: {} schedules, failure: {}, error: {}",
        report.schedules(),
        report.failure().is_some(),
        report.error().is_some()
    );
    // The watchdog says the stall is over at its next poll, a quarter of the threshold later;
    // the process must still be there to say it.
    std::thread::sleep(5 * THRESHOLD);
}

struct Finished {
    status: ExitStatus,
    stderr: String,
}

impl Finished {
    /// The `file:line:` the child said it reached, after `what`.
    fn reached(&self, what: &str) -> String {
        let marker = format!("case reached: {what} at ");
        let line = self
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix(&marker))
            .unwrap_or_else(|| panic!("the child never reached the case:\n{}", self.stderr));
        line.trim().to_string()
    }
}

/// Runs `case` in a child process and waits for it to end, killing it past `DEADLINE`.
fn run_case(case: &str) -> Finished {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_program",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STALL_CASE", case)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: `setrlimit` is async-signal-safe; an aborted child leaves no core file.
    unsafe {
        command.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = reader.join().unwrap();
            panic!("case `{case}` still ran after {DEADLINE:?} and was killed:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stderr: reader.join().unwrap(),
    }
}

fn assert_aborted_with_report(finished: &Finished, first_line: &[&str]) {
    let stderr = &finished.stderr;
    assert_eq!(
        finished.status.signal(),
        Some(libc::SIGABRT),
        "the child aborted ({:?}):\n{stderr}",
        finished.status
    );
    assert!(!stderr.contains("case finished"), "{stderr}");
    for needle in first_line.iter().copied().chain([
        "it is probably blocked on something selvedge does not control, such as a `std` lock",
        "call `selvedge::hint::spin_loop()` in busy loops",
        "aborting the process, as `Config::abort_on_stall` is set",
        "raise `Config::stall_report_after` (now `200.0ms`)",
    ]) {
        assert!(stderr.contains(needle), "no `{needle}` in:\n{stderr}");
    }
}

/// Goal: a task stuck before its first scheduling point, on a `std` lock its waiting parent
/// holds, on a parallel worker, ends the process with a report naming the task, where it was
/// spawned, the likely cause and both knobs.
#[test]
fn a_std_lock_held_across_a_spawn_aborts_with_the_stuck_task_and_its_spawn_site() {
    let finished = run_case("std-mutex");
    let spawned_at = finished.reached("spawn");
    assert_aborted_with_report(
        &finished,
        &[
            "selvedge: task 1 has run for ",
            &format!(
                " without reaching a scheduling point since it started (spawned at {spawned_at}"
            ),
        ],
    );
}

/// Goal: a task stuck on a `std` channel after a scheduling point ends the process with a
/// report naming that scheduling point's operation and location.
#[test]
fn a_std_channel_recv_aborts_with_the_last_scheduling_point() {
    let finished = run_case("std-channel");
    let stored_at = finished.reached("store");
    assert_aborted_with_report(
        &finished,
        &[
            "selvedge: task 1 has run for ",
            &format!(
                " without reaching a scheduling point; its last scheduling point was `store` \
                 at {stored_at}"
            ),
        ],
    );
}

/// Goal: without `abort_on_stall`, a task that is only slow is reported (again at twice the
/// threshold), a line says when it went on, and the exploration finishes with no failure.
#[test]
fn a_slow_task_is_reported_and_the_exploration_goes_on() {
    let finished = run_case("slow");
    let stored_at = finished.reached("store");
    let stderr = &finished.stderr;
    assert!(
        finished.status.success(),
        "{:?}:\n{stderr}",
        finished.status
    );
    let report = stderr
        .find(&format!(
            "without reaching a scheduling point; its last scheduling point was `store` at {stored_at}"
        ))
        .unwrap_or_else(|| panic!("no stall report in:\n{stderr}"));
    for needle in [
        "selvedge: task 1 has run for ",
        "still waiting (reported again at 400.0ms); set `Config::abort_on_stall` to end the \
         process instead, or raise `Config::stall_report_after` (now `200.0ms`)",
        "selvedge: task 1 went on after about ",
    ] {
        assert!(stderr.contains(needle), "no `{needle}` in:\n{stderr}");
    }
    let finished_at = stderr
        .find("case finished: 5 schedules, failure: false, error: false")
        .unwrap_or_else(|| panic!("the exploration did not finish cleanly:\n{stderr}"));
    assert!(report < finished_at, "{stderr}");
    assert!(!stderr.contains("aborting"), "{stderr}");
}
