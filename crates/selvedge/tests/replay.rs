//! Replay strings reproduce a failure in exactly one execution, and bad ones get errors that
//! say what is wrong and what to do.

mod common;

use common::{lost_update, lost_wakeup, two_lock_deadlock};
use selvedge::sync::{Arc, Mutex};
use selvedge::{explore, Config, ErrorKind, FailureKind, Report, Strategy};

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
    for program in [lost_update as fn(), two_lock_deadlock, lost_wakeup] {
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
    let found = find(two_lock_deadlock);
    let schedule = found.schedule().to_string();
    let outcome = std::panic::catch_unwind(move || selvedge::replay(two_lock_deadlock, &schedule));
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
    let shown = failure.to_string();
    assert!(
        !shown.contains("replay it:"),
        "a diverged schedule is not worth replaying: {shown}"
    );
    assert!(shown.contains("no replay string"), "{shown}");
}

#[test]
fn a_schedule_for_a_shorter_program_is_nondeterminism() {
    let report = replay("v1:00000000:1", lost_update);
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
        "tests/common/mod.rs:",
        "replay string: v1:",
        "Strategy::Replay(\"v1:",
        "selvedge::replay(test, \"v1:",
        "found in schedule",
        "with strategy Random (seed 5)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn a_diverging_replay_names_its_tasks_and_objects() {
    // Goal: a replay that ran to its end but did other operations is reported with the same
    // names as any failure (they used to read "an unknown task").
    let found = find(lost_update);
    let report = replay(found.schedule(), || {
        let counter = Arc::new(selvedge::sync::atomic::AtomicU64::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                selvedge::thread::spawn(move || {
                    let seen = counter.load(selvedge::sync::atomic::Ordering::SeqCst);
                    counter.fetch_add(seen + 1, selvedge::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    let failure = report.failure().expect("the replay diverges");
    assert_eq!(failure.kind(), FailureKind::Nondeterminism, "{failure}");
    let text = failure.to_string();
    assert!(!text.contains("unknown"), "{text}");
    assert!(text.contains("thread-1 (task 1)"), "{text}");
    assert!(text.contains("AtomicU64#1"), "{text}");
}

#[test]
fn a_replay_that_fails_after_other_operations_is_not_the_recorded_failure() {
    // Goal: the fingerprint is checked even when the replay fails: a saved schedule replayed
    // on edited code must not pass a different failure off as the recorded one.
    let found = find(two_lock_deadlock);
    let runs = found.schedule().split(':').nth(2).unwrap().to_string();
    let forged = format!("v1:deadbeef:{runs}");
    let report = replay(&forged, two_lock_deadlock);
    let failure = report.failure().expect("the mismatch is reported");
    assert_eq!(failure.kind(), FailureKind::Nondeterminism, "{failure}");
    assert!(
        failure
            .message()
            .contains("performed different operations, and failed"),
        "{failure}"
    );
    // The genuine string still reproduces the deadlock.
    let genuine = replay(found.schedule(), two_lock_deadlock);
    assert_eq!(
        genuine.failure().map(|f| f.kind()),
        Some(FailureKind::Deadlock)
    );
}
