//! Replay strings reproduce a failure in exactly one execution, and bad ones get errors that
//! say what is wrong and what to do.

use selvedge::sync::atomic::{AtomicU64, Ordering};
use selvedge::sync::{Arc, Condvar, Mutex};
use selvedge::{explore, Config, ErrorKind, FailureKind, Report, Strategy};

fn lost_update() {
    let counter = Arc::new(AtomicU64::new(0));
    let c2 = counter.clone();
    let t = selvedge::thread::spawn(move || {
        let seen = c2.load(Ordering::SeqCst);
        c2.store(seen + 1, Ordering::SeqCst);
    });
    let seen = counter.load(Ordering::SeqCst);
    counter.store(seen + 1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
}

/// Same shape as `lost_update`, but with a lock around each increment: same tasks, different
/// operations.
fn locked_update() {
    let counter = Arc::new(Mutex::new(0));
    let c2 = counter.clone();
    let t = selvedge::thread::spawn(move || {
        *c2.lock().unwrap() += 1;
    });
    *counter.lock().unwrap() += 1;
    t.join().unwrap();
    assert_eq!(*counter.lock().unwrap(), 2);
}

fn deadlock() {
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let (a2, b2) = (a.clone(), b.clone());
    let t = selvedge::thread::spawn(move || {
        let _b = b2.lock().unwrap();
        let _a = a2.lock().unwrap();
    });
    {
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    t.join().unwrap();
}

fn lost_wakeup() {
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let s = state.clone();
    let t = selvedge::thread::spawn(move || {
        *s.0.lock().unwrap() = true;
        s.1.notify_one();
    });
    let ready = *state.0.lock().unwrap();
    if !ready {
        let guard = state.0.lock().unwrap();
        drop(state.1.wait(guard).unwrap());
    }
    t.join().unwrap();
}

fn replay(schedule: &str, f: impl Fn() + Send + Sync + 'static) -> Report {
    explore(
        Config {
            strategy: Strategy::Replay(schedule.to_string()),
            ..Default::default()
        },
        f,
    )
}

fn find(f: fn()) -> selvedge::Failure {
    let report = explore(
        Config {
            strategy: Strategy::Random,
            max_schedules: Some(1_000),
            seed: 5,
            ..Default::default()
        },
        f,
    );
    report.failure().expect("the bug is found").clone()
}

#[test]
fn each_failure_replays_in_exactly_one_execution() {
    for program in [lost_update as fn(), deadlock, lost_wakeup] {
        let found = find(program);
        let report = replay(found.schedule(), program);
        assert_eq!(report.schedules(), 1);
        let again = report.failure().expect("the replay fails the same way");
        assert_eq!(again.kind(), found.kind());
        assert_eq!(again.schedule(), found.schedule());
        assert_eq!(again.message(), found.message());
    }
}

#[test]
fn the_replay_entry_point_panics_with_the_same_report() {
    let found = find(deadlock);
    let schedule = found.schedule().to_string();
    let outcome = std::panic::catch_unwind(move || selvedge::replay(deadlock, &schedule));
    let payload = outcome.expect_err("replaying a deadlock fails");
    let text = payload
        .downcast_ref::<String>()
        .expect("the report is a String panic");
    assert!(text.contains("selvedge found a deadlock"), "{text}");
    assert!(text.contains(found.schedule()), "{text}");
}

#[test]
fn a_malformed_replay_string_is_an_error_not_a_failure() {
    let report = replay("v1:nonsense", lost_update);
    assert_eq!(report.schedules(), 0);
    assert!(report.failure().is_none());
    let error = report.error().expect("a malformed string is an error");
    assert_eq!(error.kind(), ErrorKind::MalformedSchedule);
    let text = error.to_string();
    assert!(text.contains("`v1:nonsense` is malformed"), "{text}");
    assert!(
        text.contains("copy the whole string from a selvedge failure report"),
        "{text}"
    );
}

#[test]
fn a_valid_string_replayed_against_different_code_is_nondeterminism() {
    let found = find(lost_update);
    let report = replay(found.schedule(), locked_update);
    let failure = report.failure().expect("replaying other code diverges");
    assert_eq!(failure.kind(), FailureKind::Nondeterminism, "{failure}");
    let text = failure.message();
    assert!(text.contains("no longer matches the code"), "{text}");
    assert!(
        text.contains("run the test without `SELVEDGE_REPLAY`"),
        "{text}"
    );
}

#[test]
fn a_schedule_for_a_shorter_program_is_nondeterminism() {
    let report = replay("v1:00000000:0", lost_update);
    let failure = report.failure().expect("the schedule is too short");
    assert_eq!(failure.kind(), FailureKind::Nondeterminism);
    assert!(
        failure.message().contains("needs more"),
        "{}",
        failure.message()
    );
}

#[test]
fn a_failure_report_is_complete() {
    // Goal: every report names the kind, the tasks, operations with file:line, and a replay
    // command line.
    let failure = find(lost_update);
    let text = failure.to_string();
    for needle in [
        "selvedge found a panic",
        "main (task 0)",
        "thread-1 (task 1)",
        "interleaving (",
        "`>` marks a switch",
        "load",
        "store",
        "AtomicU64#1",
        &format!("{}:", file!()),
        "replay string: v1:",
        "SELVEDGE_REPLAY='",
        "selvedge::replay(test, \"v1:",
        "found in schedule",
        "with strategy Random (seed 5)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
