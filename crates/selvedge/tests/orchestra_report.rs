//! The orchestra's failure reports, pinned in full: a lost update whose steps carry statement
//! texts, and a deadlock of stalled tasks (its wall-clock figures scrubbed). A change to the
//! format shows up here as a diff to review; the programs sit at the top of this file so the
//! pinned line numbers move only when they do.

use std::sync::Mutex;
use std::time::Duration;

use selvedge::orchestra::Orchestra;

struct Db {
    value: Mutex<u32>,
}

fn get(db: &Db) -> u32 {
    *db.value.lock().unwrap()
}

fn set(db: &Db, v: u32) {
    *db.value.lock().unwrap() = v;
}

fn increment(db: &Db) {
    selvedge::syncpoint!();
    let v = get(db);
    selvedge::syncpoint!();
    set(db, v + 1);
}

/// Replaces the wall-clock figures of a report (`for 145 ms`) with `N`.
fn scrub_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" for ") {
        let (head, tail) = rest.split_at(at + " for ".len());
        out.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with(" ms") {
            out.push('N');
            rest = &tail[digits..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

#[track_caller]
fn check_snapshot(actual: &str, expected: &str) {
    if actual != expected {
        eprintln!("--- expected:\n{expected}\n--- actual:\n{actual}\n---");
    }
    assert_eq!(actual, expected, "the report differs from its snapshot");
}

#[test]
fn report_snapshot_of_a_lost_update_and_of_a_deadlock() {
    let report = Orchestra::new()
        .setup(|| Db {
            value: Mutex::new(0),
        })
        .turns_start_at_syncpoints()
        .task(increment)
        .task(|db| {
            selvedge::orchestra::syncpoint_with(None, "SELECT v FROM t");
            let v = get(db);
            selvedge::syncpoint!("set");
            selvedge::orchestra::syncpoint_with(None, "UPDATE t SET v = $1");
            set(db, v + 1);
        })
        .check(|db| {
            if get(db) != 2 {
                panic!("an update was lost: {}", get(db));
            }
        })
        .explore();
    let deadlock_report = Orchestra::new()
        .setup(|| (Mutex::new(()), Mutex::new(())))
        .stall_timeout(Duration::from_millis(30))
        .deadlock_timeout(Duration::from_millis(100))
        .task(|(a, b)| {
            let _a = a.lock().unwrap();
            selvedge::syncpoint!();
            let _b = b.lock().unwrap();
        })
        .task(|(a, b)| {
            let _b = b.lock().unwrap();
            selvedge::orchestra::syncpoint_with(None, "lock a");
            let _a = a.lock().unwrap();
        })
        .explore();
    let failure = report.failure().expect("the lost update").to_string();
    check_snapshot(
        &failure,
        r#"selvedge found a panic: the check failed after every task finished: an update was lost: 1

interleaving (4 operations, 3 context switches, 2 preemptions; `>` marks a switch, `x` where a task panicked):
     step  task    operation  object               location
        1  task 0  syncpoint  -                    crates/selvedge/tests/orchestra_report.rs:24:5
  >     2  task 1  syncpoint  SELECT v FROM t      crates/selvedge/tests/orchestra_report.rs:66:13
  >     3  task 0  syncpoint  -                    crates/selvedge/tests/orchestra_report.rs:26:5
  >     4  task 1  syncpoint  UPDATE t SET v = $1  crates/selvedge/tests/orchestra_report.rs:69:13
  x     5  check   panicked   -                    crates/selvedge/tests/orchestra_report.rs:74:17

found in schedule 2 with strategy Dpor (seed 0)
replay string: v1:3b5a94c5:0.1.0.1
replay it:     orchestra.config(Config { strategy: Strategy::Replay("v1:3b5a94c5:0.1.0.1".into()), .. }).explore()"#,
    );
    let deadlock = scrub_times(&deadlock_report.failure().expect("the deadlock").to_string());
    check_snapshot(
        &deadlock,
        r#"selvedge found a deadlock: every unfinished task is stalled: task 0, task 1; none reached a syncpoint within 100ms (`Orchestra::deadlock_timeout`), so each is blocked outside selvedge's control (a lock, a socket, a database row lock), most likely by another

blocked tasks (who waits for what, and who holds it):
  task 0 has reached no syncpoint for N ms since its turn began at crates/selvedge/tests/orchestra_report.rs:84:13: blocked outside selvedge's control, or still running
  task 1 has reached no syncpoint for N ms since its turn began at crates/selvedge/tests/orchestra_report.rs:89:13 (lock a): blocked outside selvedge's control, or still running

interleaving (6 operations, 3 context switches, 2 preemptions; `>` marks a switch, `!` an operation that never returns):
     step  task    operation  object                                                 location
        1  task 0  start      -                                                      crates/selvedge/tests/orchestra_report.rs:82:10
  >     2  task 1  start      -                                                      crates/selvedge/tests/orchestra_report.rs:87:10
  >     3  task 0  syncpoint  -                                                      crates/selvedge/tests/orchestra_report.rs:84:13
        4  task 0  stalled    no syncpoint within 30ms (`Orchestra::stall_timeout`)  crates/selvedge/tests/orchestra_report.rs:84:13
  >     5  task 1  syncpoint  lock a                                                 crates/selvedge/tests/orchestra_report.rs:89:13
        6  task 1  stalled    no syncpoint within 30ms (`Orchestra::stall_timeout`)  crates/selvedge/tests/orchestra_report.rs:89:13
  !     7  task 0  stalled    -                                                      crates/selvedge/tests/orchestra_report.rs:84:13
  !     8  task 1  stalled    lock a                                                 crates/selvedge/tests/orchestra_report.rs:89:13

found in schedule 2 with strategy Dpor (seed 0)
replay string: v1:a4a6e145:0.1.0.1
replay it:     orchestra.config(Config { strategy: Strategy::Replay("v1:a4a6e145:0.1.0.1".into()), .. }).explore()"#,
    );
}
