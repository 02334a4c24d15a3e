//! The full text of a report of each deadlock shape and of a stack overflow, pinned: a change
//! to the format shows up here as a diff to review. Paths are relative to the workspace and replay strings are
//! deterministic, so nothing needs scrubbing. (Panic reports are pinned piecewise in
//! `replay.rs`, since their text includes std's assertion message.)

mod common;

use selvedge::sync::{Arc, Mutex};
use selvedge::{explore, Config, Strategy};

fn report_of(f: fn()) -> String {
    let report = explore(
        Config {
            strategy: Strategy::Dpor,
            workers: Some(1),
            ..Default::default()
        },
        f,
    );
    report.failure().expect("a failure").to_string()
}

fn relock() {
    let m = Mutex::new(0);
    let _first = m.lock().unwrap();
    let _second = m.lock().unwrap();
}

#[test]
fn two_lock_deadlock_report() {
    let expected = r#"selvedge found a deadlock: every unfinished task is blocked: main (task 0), thread-1 (task 1)

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `lock` at crates/selvedge/tests/common/mod.rs:61:20, waiting for Mutex#2 (created at crates/selvedge/tests/common/mod.rs:53:22)
      held by thread-1 (task 1), acquired at crates/selvedge/tests/common/mod.rs:56:21
  thread-1 (task 1) is stuck in `lock` at crates/selvedge/tests/common/mod.rs:57:21, waiting for Mutex#1 (created at crates/selvedge/tests/common/mod.rs:52:22)
      held by main (task 0), acquired at crates/selvedge/tests/common/mod.rs:60:20
  wait-for cycle: main (task 0) -> thread-1 (task 1) -> main (task 0)

interleaving (3 operations, 1 context switch, 1 preemption; `>` marks a switch, `!` an operation that never returns):
     step  task               operation             object             location
        1  main (task 0)      spawn                 thread-1 (task 1)  crates/selvedge/tests/common/mod.rs:55:13
        2  main (task 0)      lock                  Mutex#1            crates/selvedge/tests/common/mod.rs:60:20
  >     3  thread-1 (task 1)  lock                  Mutex#2            crates/selvedge/tests/common/mod.rs:56:21
  !     4  main (task 0)      lock (never returns)  Mutex#2            crates/selvedge/tests/common/mod.rs:61:20
  !     5  thread-1 (task 1)  lock (never returns)  Mutex#1            crates/selvedge/tests/common/mod.rs:57:21

found in schedule 2 with strategy Dpor (seed 0)
replay string: v1:2dc9a524:0.1
replay it:     SELVEDGE_REPLAY='v1:2dc9a524:0.1' <the command that ran this test>
          or:  selvedge::replay(test, "v1:2dc9a524:0.1")"#;
    assert_eq!(report_of(common::two_lock_deadlock), expected);
}

#[test]
fn lost_wakeup_report() {
    let expected = r#"selvedge found a deadlock: main (task 0) is blocked forever and no other task can wake it

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `Condvar::wait` at crates/selvedge/tests/common/mod.rs:78:22, waiting to be notified on Condvar#1 (created at crates/selvedge/tests/common/mod.rs:69:46)
      no task that is still running will notify it (a lost wakeup)

interleaving (9 operations, 2 context switches, 1 preemption; `>` marks a switch, `!` an operation that never returns):
     step  task               operation                          object             location
        1  main (task 0)      spawn                              thread-1 (task 1)  crates/selvedge/tests/common/mod.rs:71:20
        2  main (task 0)      lock                               Mutex#1            crates/selvedge/tests/common/mod.rs:75:26
        3  main (task 0)      unlock (guard locked at)           Mutex#1            crates/selvedge/tests/common/mod.rs:75:26
  >     4  thread-1 (task 1)  lock                               Mutex#1            crates/selvedge/tests/common/mod.rs:72:14
        5  thread-1 (task 1)  unlock (guard locked at)           Mutex#1            crates/selvedge/tests/common/mod.rs:72:14
        6  thread-1 (task 1)  notify_one (nobody waiting: lost)  Condvar#1          crates/selvedge/tests/common/mod.rs:73:13
        7  thread-1 (task 1)  exit (spawned at)                  -                  crates/selvedge/tests/common/mod.rs:71:20
  >     8  main (task 0)      lock                               Mutex#1            crates/selvedge/tests/common/mod.rs:77:29
        9  main (task 0)      wait                               Condvar#1          crates/selvedge/tests/common/mod.rs:78:22
  !    10  main (task 0)      Condvar::wait (never returns)      Condvar#1          crates/selvedge/tests/common/mod.rs:78:22

found in schedule 2 with strategy Dpor (seed 0)
replay string: v1:03cb30e8:0*2.1*3.0*2
replay it:     SELVEDGE_REPLAY='v1:03cb30e8:0*2.1*3.0*2' <the command that ran this test>
          or:  selvedge::replay(test, "v1:03cb30e8:0*2.1*3.0*2")"#;
    assert_eq!(report_of(common::lost_wakeup), expected);
}

#[test]
fn relock_report() {
    let expected = r#"selvedge found a deadlock: main (task 0) is blocked forever and no other task can wake it

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `lock` at crates/selvedge/tests/report_snapshots.rs:26:21, waiting for Mutex#1 (created at crates/selvedge/tests/report_snapshots.rs:24:13)
      held by main (task 0) itself, acquired at crates/selvedge/tests/report_snapshots.rs:25:20
  wait-for cycle: main (task 0) -> main (task 0)

interleaving (1 operation, 0 context switches, 0 preemptions; `>` marks a switch, `!` an operation that never returns):
     step  task           operation             object   location
        1  main (task 0)  lock                  Mutex#1  crates/selvedge/tests/report_snapshots.rs:25:20
  !     2  main (task 0)  lock (never returns)  Mutex#1  crates/selvedge/tests/report_snapshots.rs:26:21

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:bd9be80f:0
replay it:     SELVEDGE_REPLAY='v1:bd9be80f:0' <the command that ran this test>
          or:  selvedge::replay(test, "v1:bd9be80f:0")"#;
    assert_eq!(report_of(relock), expected);
}

/// Uses about `depth` KiB of stack.
#[inline(never)]
fn recurse(depth: usize) -> usize {
    let frame = [depth as u8; 1024];
    std::hint::black_box(&frame);
    if depth == 0 {
        return 0;
    }
    recurse(depth - 1) + usize::from(std::hint::black_box(frame[1]))
}

/// A thread that takes a lock, then needs 1 MiB of stack where it was given 64 KiB.
fn thread_overflows_after_a_lock() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let t = selvedge::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            *m2.lock().unwrap() += 1;
            recurse(1024)
        })
        .unwrap();
    *m.lock().unwrap() += 1;
    let _ = t.join();
}

#[test]
fn stack_overflow_report() {
    let expected = r#"selvedge found a stack overflow: thread-1 (task 1) overflowed its stack of 64 KiB (`65536` bytes, set by `selvedge::thread::Builder::stack_size`); raise it where the thread is spawned (`Config::stack_size` applies only to tasks that set none)

interleaving (5 operations, 1 context switch, 0 preemptions; `>` marks a switch):
     step  task               operation                 object             location
        1  main (task 0)      spawn                     thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:121:10
        2  main (task 0)      lock                      Mutex#1            crates/selvedge/tests/report_snapshots.rs:126:8
        3  main (task 0)      unlock (guard locked at)  Mutex#1            crates/selvedge/tests/report_snapshots.rs:126:8
  >     4  thread-1 (task 1)  lock                      Mutex#1            crates/selvedge/tests/report_snapshots.rs:122:17
        5  thread-1 (task 1)  unlock (guard locked at)  Mutex#1            crates/selvedge/tests/report_snapshots.rs:122:17

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:2fa256a5:0*2.1*2
replay it:     SELVEDGE_REPLAY='v1:2fa256a5:0*2.1*2' <the command that ran this test>
          or:  selvedge::replay(test, "v1:2fa256a5:0*2.1*2")"#;
    assert_eq!(report_of(thread_overflows_after_a_lock), expected);
}
