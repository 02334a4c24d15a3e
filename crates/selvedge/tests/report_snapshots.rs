//! The full text of a report of every failure kind, pinned: a change to the format shows up
//! here as a diff to review. Paths are relative to the workspace and replay strings are
//! deterministic (fixed strategy, seed and one worker), so nothing needs scrubbing; panic
//! messages are written with `panic!`, not std's assertion text, which could change.

mod common;

use selvedge::cell::UnsafeCell;
use selvedge::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use selvedge::sync::{Arc, Barrier, Mutex};
use selvedge::{explore, Config, FailureKind, Strategy};

fn config() -> Config {
    Config {
        strategy: Strategy::Dpor,
        seed: 0,
        workers: Some(1),
        ..Default::default()
    }
}

fn report_with(config: Config, kind: FailureKind, f: fn()) -> String {
    let report = explore(config, f);
    let failure = report.failure().expect("a failure");
    assert_eq!(failure.kind(), kind, "{failure}");
    failure.to_string()
}

fn report_of(kind: FailureKind, f: fn()) -> String {
    report_with(config(), kind, f)
}

/// Compares a report with its snapshot, printing both in full when they differ.
#[track_caller]
fn check(actual: &str, expected: &str) {
    if actual != expected {
        eprintln!("--- expected:\n{expected}\n--- actual:\n{actual}\n---");
    }
    assert_eq!(
        actual, expected,
        "the report differs from its snapshot (both printed above)"
    );
}

fn relock() {
    let m = Mutex::new(0);
    let _first = m.lock().unwrap();
    let _second = m.lock().unwrap();
}

/// A thread panics while it holds a lock: its guard unlocks while it unwinds.
fn panic_holding_a_lock() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let t = selvedge::thread::spawn(move || {
        let mut seen = m2.lock().unwrap();
        if *seen == 0 {
            panic!("thread-1 ran before main stored 1");
        }
        *seen += 1;
    });
    *m.lock().unwrap() = 1;
    t.join().unwrap();
}

/// Main joins a thread while holding the lock that thread waits for.
fn join_while_holding() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let _guard = m.lock().unwrap();
    let t = selvedge::thread::spawn(move || {
        *m2.lock().unwrap() += 1;
    });
    t.join().unwrap();
}

/// A barrier for three tasks that only two ever reach.
fn barrier_short_of_a_task() {
    let barrier = Arc::new(Barrier::new(3));
    let b2 = barrier.clone();
    let t = selvedge::thread::spawn(move || {
        b2.wait();
    });
    barrier.wait();
    t.join().unwrap();
}

/// A thread spins on a flag nobody sets.
fn spin_without_releaser() {
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let t = selvedge::thread::spawn(move || {
        while !f2.load(Ordering::SeqCst) {
            selvedge::hint::spin_loop();
        }
    });
    t.join().unwrap();
}

/// A loop that never yields, run under a small `max_steps`.
fn long_loop() {
    let n = AtomicU64::new(0);
    for _ in 0..10 {
        n.fetch_add(1, Ordering::SeqCst);
    }
}

/// A cell shared without synchronisation, as a buggy lock-free structure would.
struct Shared(UnsafeCell<i32>);
unsafe impl Sync for Shared {}

/// Two threads write a cell with nothing ordering them.
fn unsynchronised_writes() {
    let cell = Arc::new(Shared(UnsafeCell::new(0)));
    let c2 = cell.clone();
    let t = selvedge::thread::spawn(move || c2.0.with_mut(|p| unsafe { *p += 1 }));
    cell.0.with_mut(|p| unsafe { *p += 1 });
    t.join().unwrap();
}

/// Records a schedule of one program and replays it against another.
fn replayed_against_changed_code() -> String {
    let recorded = explore(config(), common::lost_update);
    let schedule = recorded.failure().expect("the lost update").schedule();
    let replayed = Config {
        strategy: Strategy::Replay(schedule.to_string()),
        ..config()
    };
    let report = explore(replayed, || {
        let counter = Arc::new(AtomicU64::new(0));
        let c2 = counter.clone();
        let t = selvedge::thread::spawn(move || {
            c2.fetch_add(1, Ordering::SeqCst);
        });
        counter.fetch_add(1, Ordering::SeqCst);
        t.join().unwrap();
    });
    let failure = report.failure().expect("the replay diverges");
    assert_eq!(failure.kind(), FailureKind::Nondeterminism, "{failure}");
    failure.to_string()
}

/// A panic: the message with its location, and the interleaving with the panic and the
/// unlock its guard ran while unwinding.
#[test]
fn panic_report() {
    check(
        &report_of(FailureKind::Panic, panic_holding_a_lock),
        r#"selvedge found a panic: thread-1 (task 1) panicked at crates/selvedge/tests/report_snapshots.rs:58:13:
    thread-1 ran before main stored 1

interleaving (4 operations, 1 context switch, 0 preemptions; `>` marks a switch, `x` where a task panicked):
     step  task               operation                 object             location
        1  main (task 0)      spawn                     thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:55:13
  >     2  thread-1 (task 1)  lock                      Mutex#1            crates/selvedge/tests/report_snapshots.rs:56:27
  x     3  thread-1 (task 1)  panicked                  -                  crates/selvedge/tests/report_snapshots.rs:58:13
        4  thread-1 (task 1)  unlock (while unwinding)  Mutex#1            crates/selvedge/tests/report_snapshots.rs:56:27 (locked here)
        5  thread-1 (task 1)  exit                      -                  crates/selvedge/tests/report_snapshots.rs:55:13 (spawned here)

found in schedule 2 with strategy Dpor (seed 0)
replay string: v1:603a88ee:1
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:603a88ee:1".into()), .. }, test)
          or:  selvedge::replay(test, "v1:603a88ee:1")"#,
    );
}

/// A deadlock of two locks taken in opposite orders: holders and the wait-for cycle.
#[test]
fn two_lock_deadlock_report() {
    check(
        &report_of(FailureKind::Deadlock, common::two_lock_deadlock),
        r#"selvedge found a deadlock: every unfinished task is blocked: main (task 0), thread-1 (task 1)

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `lock` at crates/selvedge/tests/common/mod.rs:61:20, waiting for Mutex#2 (created at crates/selvedge/tests/common/mod.rs:53:22)
      held by thread-1 (task 1), acquired at crates/selvedge/tests/common/mod.rs:56:21
  thread-1 (task 1) is stuck in `lock` at crates/selvedge/tests/common/mod.rs:57:21, waiting for Mutex#1 (created at crates/selvedge/tests/common/mod.rs:52:22)
      held by main (task 0), acquired at crates/selvedge/tests/common/mod.rs:60:20
  wait-for cycle: main (task 0) -> thread-1 (task 1) -> main (task 0)

interleaving (3 operations, 1 context switch, 1 preemption; `>` marks a switch, `!` an operation that never returns):
     step  task               operation  object             location
        1  main (task 0)      spawn      thread-1 (task 1)  crates/selvedge/tests/common/mod.rs:55:13
        2  main (task 0)      lock       Mutex#1            crates/selvedge/tests/common/mod.rs:60:20
  >     3  thread-1 (task 1)  lock       Mutex#2            crates/selvedge/tests/common/mod.rs:56:21
  !     4  main (task 0)      lock       Mutex#2            crates/selvedge/tests/common/mod.rs:61:20
  !     5  thread-1 (task 1)  lock       Mutex#1            crates/selvedge/tests/common/mod.rs:57:21

found in schedule 2 with strategy Dpor (seed 0)
replay string: v1:2dc9a524:0.1
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:2dc9a524:0.1".into()), .. }, test)
          or:  selvedge::replay(test, "v1:2dc9a524:0.1")"#,
    );
}

/// A deadlock through `join`: main waits for a thread that waits for main's lock.
#[test]
fn join_on_a_blocked_thread_report() {
    check(
        &report_of(FailureKind::Deadlock, join_while_holding),
        r#"selvedge found a deadlock: every unfinished task is blocked: main (task 0), thread-1 (task 1)

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `join` at crates/selvedge/tests/report_snapshots.rs:74:7, waiting for thread-1 (task 1) to finish (spawned at crates/selvedge/tests/report_snapshots.rs:71:13)
  thread-1 (task 1) is stuck in `lock` at crates/selvedge/tests/report_snapshots.rs:72:13, waiting for Mutex#1 (created at crates/selvedge/tests/report_snapshots.rs:68:22)
      held by main (task 0), acquired at crates/selvedge/tests/report_snapshots.rs:70:20
  wait-for cycle: main (task 0) -> thread-1 (task 1) -> main (task 0)

interleaving (2 operations, 0 context switches, 0 preemptions; `>` marks a switch, `!` an operation that never returns):
     step  task               operation  object             location
        1  main (task 0)      lock       Mutex#1            crates/selvedge/tests/report_snapshots.rs:70:20
        2  main (task 0)      spawn      thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:71:13
  !     3  main (task 0)      join       thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:74:7
  !     4  thread-1 (task 1)  lock       Mutex#1            crates/selvedge/tests/report_snapshots.rs:72:13

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:bd9be80f:0
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:bd9be80f:0".into()), .. }, test)
          or:  selvedge::replay(test, "v1:bd9be80f:0")"#,
    );
}

/// A deadlock at a barrier that too few tasks reach.
#[test]
fn barrier_deadlock_report() {
    check(
        &report_of(FailureKind::Deadlock, barrier_short_of_a_task),
        r#"selvedge found a deadlock: every unfinished task is blocked: main (task 0), thread-1 (task 1)

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `Barrier::wait` at crates/selvedge/tests/report_snapshots.rs:84:13, waiting at Barrier#1 (created at crates/selvedge/tests/report_snapshots.rs:79:28), where 2 of its 3 tasks have arrived
  thread-1 (task 1) is stuck in `Barrier::wait` at crates/selvedge/tests/report_snapshots.rs:82:12, waiting at Barrier#1 (created at crates/selvedge/tests/report_snapshots.rs:79:28), where 2 of its 3 tasks have arrived

interleaving (3 operations, 1 context switch, 0 preemptions; `>` marks a switch, `!` an operation that never returns):
     step  task               operation      object             location
        1  main (task 0)      spawn          thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:81:13
        2  main (task 0)      Barrier::wait  Barrier#1          crates/selvedge/tests/report_snapshots.rs:84:13
  >     3  thread-1 (task 1)  Barrier::wait  Barrier#1          crates/selvedge/tests/report_snapshots.rs:82:12
  !     4  main (task 0)      Barrier::wait  Barrier#1          crates/selvedge/tests/report_snapshots.rs:84:13
  !     5  thread-1 (task 1)  Barrier::wait  Barrier#1          crates/selvedge/tests/report_snapshots.rs:82:12

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:60c67284:0.1
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:60c67284:0.1".into()), .. }, test)
          or:  selvedge::replay(test, "v1:60c67284:0.1")"#,
    );
}

/// A deadlock of a condvar waiter whose notify came first: the lost wakeup is diagnosed.
#[test]
fn lost_wakeup_report() {
    check(
        &report_of(FailureKind::Deadlock, common::lost_wakeup),
        r#"selvedge found a deadlock: main (task 0) is blocked forever and no other task can wake it

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `Condvar::wait` at crates/selvedge/tests/common/mod.rs:78:22, waiting to be notified on Condvar#1 (created at crates/selvedge/tests/common/mod.rs:69:46)
      no task that is still running will notify it (a lost wakeup)

interleaving (9 operations, 2 context switches, 1 preemption; `>` marks a switch, `!` an operation that never returns):
     step  task               operation               object             location
        1  main (task 0)      spawn                   thread-1 (task 1)  crates/selvedge/tests/common/mod.rs:71:20
        2  main (task 0)      lock                    Mutex#1            crates/selvedge/tests/common/mod.rs:75:26
        3  main (task 0)      unlock                  Mutex#1            crates/selvedge/tests/common/mod.rs:75:26 (locked here)
  >     4  thread-1 (task 1)  lock                    Mutex#1            crates/selvedge/tests/common/mod.rs:72:14
        5  thread-1 (task 1)  unlock                  Mutex#1            crates/selvedge/tests/common/mod.rs:72:14 (locked here)
        6  thread-1 (task 1)  notify_one (no waiter)  Condvar#1          crates/selvedge/tests/common/mod.rs:73:13
        7  thread-1 (task 1)  exit                    -                  crates/selvedge/tests/common/mod.rs:71:20 (spawned here)
  >     8  main (task 0)      lock                    Mutex#1            crates/selvedge/tests/common/mod.rs:77:29
        9  main (task 0)      Condvar::wait           Condvar#1          crates/selvedge/tests/common/mod.rs:78:22
  !    10  main (task 0)      Condvar::wait           Condvar#1          crates/selvedge/tests/common/mod.rs:78:22

found in schedule 6 with strategy Dpor (seed 0)
replay string: v1:6ad73462:0*2.1*3.0*2
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:6ad73462:0*2.1*3.0*2".into()), .. }, test)
          or:  selvedge::replay(test, "v1:6ad73462:0*2.1*3.0*2")"#,
    );
}

/// A deadlock of a task locking a mutex it holds: a cycle of one.
#[test]
fn relock_report() {
    check(
        &report_of(FailureKind::Deadlock, relock),
        r#"selvedge found a deadlock: main (task 0) is blocked forever: it tried to acquire a Mutex it already holds (Mutex#1, taken at crates/selvedge/tests/report_snapshots.rs:47:20) and waits for itself

blocked tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `lock` at crates/selvedge/tests/report_snapshots.rs:48:21, waiting for Mutex#1 (created at crates/selvedge/tests/report_snapshots.rs:46:13)
      held by main (task 0) itself, acquired at crates/selvedge/tests/report_snapshots.rs:47:20
  wait-for cycle: main (task 0) -> main (task 0)

interleaving (1 operation, 0 context switches, 0 preemptions; `>` marks a switch, `!` an operation that never returns):
     step  task           operation  object   location
        1  main (task 0)  lock       Mutex#1  crates/selvedge/tests/report_snapshots.rs:47:20
  !     2  main (task 0)  lock       Mutex#1  crates/selvedge/tests/report_snapshots.rs:48:21

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:bd9be80f:0
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:bd9be80f:0".into()), .. }, test)
          or:  selvedge::replay(test, "v1:bd9be80f:0")"#,
    );
}

/// A livelock of a task spinning on a flag nobody sets.
#[test]
fn spin_livelock_report() {
    check(
        &report_of(FailureKind::Livelock, spin_without_releaser),
        r#"selvedge found a livelock: a task kept yielding, and no other task can make the progress it waits for: thread-1 (task 1), spinning at crates/selvedge/tests/report_snapshots.rs:93:19

unfinished tasks (who waits for what, and who holds it):
  main (task 0) is stuck in `join` at crates/selvedge/tests/report_snapshots.rs:97:7, waiting for thread-1 (task 1) to finish (spawned at crates/selvedge/tests/report_snapshots.rs:92:13)
  thread-1 (task 1) keeps spinning (next: `load` at crates/selvedge/tests/report_snapshots.rs:93:19), waiting for progress no other task can make

interleaving (131 operations, 1 context switch, 0 preemptions; `>` marks a switch):
     step  task               operation  object             location
        1  main (task 0)      spawn      thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:92:13
  >     2  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
        3  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
        4  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
        5  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
        6  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
        7  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
        8  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
        9  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       10  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       11  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       12  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       13  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       14  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       15  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       16  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       17  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       18  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       19  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       20  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       21  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       22  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       23  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       24  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       25  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       26  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       27  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       28  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       29  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       30  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       31  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       32  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       33  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       34  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       35  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       36  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       37  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       38  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       39  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       40  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       41  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       42  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       43  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       44  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       45  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       46  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       47  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       48  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       49  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       50  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       51  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       52  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       53  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       54  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       55  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       56  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       57  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       58  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       59  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       60  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       61  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       62  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       63  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       64  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       65  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       66  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       67  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       68  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       69  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       70  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       71  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       72  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       73  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       74  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       75  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       76  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       77  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       78  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       79  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       80  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       81  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       82  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       83  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       84  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       85  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       86  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       87  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       88  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       89  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       90  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       91  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       92  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       93  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       94  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       95  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       96  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       97  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
       98  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
       99  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      100  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      101  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      102  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      103  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      104  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      105  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      106  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      107  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      108  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      109  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      110  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      111  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      112  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      113  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      114  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      115  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      116  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      117  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      118  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      119  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      120  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      121  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      122  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      123  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      124  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      125  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      126  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      127  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      128  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      129  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13
      130  thread-1 (task 1)  load       AtomicBool#1       crates/selvedge/tests/report_snapshots.rs:93:19
      131  thread-1 (task 1)  spin_loop  -                  crates/selvedge/tests/report_snapshots.rs:94:13

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:91edf5ac:1*130
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:91edf5ac:1*130".into()), .. }, test)
          or:  selvedge::replay(test, "v1:91edf5ac:1*130")"#,
    );
}

/// A livelock reported because `max_steps` ran out.
#[test]
fn max_steps_livelock_report() {
    let config = Config {
        max_steps: 6,
        ..config()
    };
    check(
        &report_with(config, FailureKind::Livelock, long_loop),
        r#"selvedge found a livelock: the execution did not finish within 6 steps (`Config::max_steps`); still running: main (task 0). A task that busy-waits should call `selvedge::hint::spin_loop()` or `selvedge::thread::yield_now()` in its loop, an async task `yield_now().await` (std's `spin_loop` is invisible to selvedge, and a sleep already due does not yield; with selvedge's, the task runs again only after another made progress); if the test is just long, raise `max_steps`

interleaving (6 operations, 0 context switches, 0 preemptions; `>` marks a switch):
     step  task           operation          object       location
        1  main (task 0)  read-modify-write  AtomicU64#1  crates/selvedge/tests/report_snapshots.rs:104:11
     ...  (steps 2-5: the same operation 4 more times)
        6  main (task 0)  read-modify-write  AtomicU64#1  crates/selvedge/tests/report_snapshots.rs:104:11

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:7b2bf705:0*6
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:7b2bf705:0*6".into()), .. }, test)
          or:  selvedge::replay(test, "v1:7b2bf705:0*6")"#,
    );
}

/// A data race: both accesses, and the cell with where it was created.
#[test]
fn data_race_report() {
    check(
        &report_of(FailureKind::DataRace, unsynchronised_writes),
        r#"selvedge found a data race: UnsafeCell#1 (created at crates/selvedge/tests/report_snapshots.rs:114:32) is written by thread-1 (task 1) at crates/selvedge/tests/report_snapshots.rs:116:50 and written by main (task 0) at crates/selvedge/tests/report_snapshots.rs:117:12, and nothing orders the two accesses: no lock, join, channel, or Release/Acquire atomic pair between them (a `Relaxed` atomic orders nothing)

interleaving (4 operations, 1 context switch, 0 preemptions; `>` marks a switch):
     step  task               operation             object             location
        1  main (task 0)      spawn                 thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:116:13
        2  main (task 0)      UnsafeCell::with_mut  UnsafeCell#1       crates/selvedge/tests/report_snapshots.rs:117:12
  >     3  thread-1 (task 1)  UnsafeCell::with_mut  UnsafeCell#1       crates/selvedge/tests/report_snapshots.rs:116:50
        4  thread-1 (task 1)  exit                  -                  crates/selvedge/tests/report_snapshots.rs:116:13 (spawned here)

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:811c9dc5:
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:811c9dc5:".into()), .. }, test)
          or:  selvedge::replay(test, "v1:811c9dc5:")"#,
    );
}

/// A replay of a schedule against code that changed since it was recorded.
#[test]
fn nondeterminism_report() {
    check(
        &replayed_against_changed_code(),
        r#"selvedge found nondeterminism: the replayed schedule no longer matches the code: at step 2 it runs task 2, but only task 0 is able to run there. The code changed since the schedule was recorded (or is not deterministic); run the test without `SELVEDGE_REPLAY` to search for the failure again

interleaving (3 operations, 1 context switch, 0 preemptions; `>` marks a switch):
     step  task               operation          object             location
        1  main (task 0)      spawn              thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:132:17
  >     2  thread-1 (task 1)  read-modify-write  AtomicU64#1        crates/selvedge/tests/report_snapshots.rs:133:16
        3  thread-1 (task 1)  exit               -                  crates/selvedge/tests/report_snapshots.rs:132:17 (spawned here)

found in schedule 1 with strategy Replay (seed 0)
(no replay string: the failure is that the code no longer follows a schedule)"#,
    );
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

interleaving (5 operations, 1 context switch, 0 preemptions; `>` marks a switch, `x` where a task overflowed its stack):
     step  task               operation             object             location
        1  main (task 0)      spawn                 thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:536:10
        2  main (task 0)      lock                  Mutex#1            crates/selvedge/tests/report_snapshots.rs:541:8
        3  main (task 0)      unlock                Mutex#1            crates/selvedge/tests/report_snapshots.rs:541:8 (locked here)
  >     4  thread-1 (task 1)  lock                  Mutex#1            crates/selvedge/tests/report_snapshots.rs:537:17
        5  thread-1 (task 1)  unlock                Mutex#1            crates/selvedge/tests/report_snapshots.rs:537:17 (locked here)
  x     6  thread-1 (task 1)  overflowed its stack  -                  after crates/selvedge/tests/report_snapshots.rs:537:17, its last scheduling point

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:2fa256a5:0*2.1*2
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:2fa256a5:0*2.1*2".into()), .. }, test)
          or:  selvedge::replay(test, "v1:2fa256a5:0*2.1*2")"#;
    check(
        &report_of(FailureKind::StackOverflow, thread_overflows_after_a_lock),
        expected,
    );
}

static REFUSED_TOTAL: Mutex<u32> = Mutex::new(0);

/// A static `Mutex` holding data, used by two tasks: refused, since its value would carry
/// from one execution into the next.
fn uses_a_static_mutex_with_data() {
    let t = selvedge::thread::spawn(|| *REFUSED_TOTAL.lock().unwrap() += 1);
    *REFUSED_TOTAL.lock().unwrap() += 1;
    let _ = t.join();
}

#[test]
fn refused_static_report() {
    let expected = r#"selvedge found a panic: main (task 0) panicked at crates/selvedge/tests/report_snapshots.rs:574:20:
    the Mutex created at crates/selvedge/tests/report_snapshots.rs:568:36 holds a value shared by every execution (it is a `static`, or was created outside the test body): its value is not reset between executions, so each execution would start from what another left. Create it inside the test body, or make the static a `selvedge::sync::LazyLock`, which is fresh in every execution

interleaving (3 operations, 1 context switch, 0 preemptions; `>` marks a switch, `x` where a task panicked):
     step  task               operation  object             location
        1  main (task 0)      spawn      thread-1 (task 1)  crates/selvedge/tests/report_snapshots.rs:573:13
  x     2  main (task 0)      panicked   -                  crates/selvedge/tests/report_snapshots.rs:574:20
        3  main (task 0)      exit       -                  crates/selvedge/tests/report_snapshots.rs:23:18 (spawned here)
  >     4  thread-1 (task 1)  exit       -                  crates/selvedge/tests/report_snapshots.rs:573:13 (spawned here)

found in schedule 1 with strategy Dpor (seed 0)
replay string: v1:811c9dc5:
replay it:     selvedge::explore(Config { strategy: Strategy::Replay("v1:811c9dc5:".into()), .. }, test)
          or:  selvedge::replay(test, "v1:811c9dc5:")"#;
    check(
        &report_of(FailureKind::Panic, uses_a_static_mutex_with_data),
        expected,
    );
    // The refusal happens in every execution, so its replay string reproduces it.
    let replayed = explore(
        Config {
            strategy: Strategy::Replay("v1:811c9dc5:".into()),
            ..config()
        },
        uses_a_static_mutex_with_data,
    );
    let again = replayed
        .failure()
        .expect("the replay is refused the same way");
    assert_eq!(again.kind(), FailureKind::Panic, "{again}");
}

#[test]
fn a_long_run_of_one_repeated_step_is_one_line_not_hundreds() {
    // Goal: a spin of 1,000 identical steps used to fill the table's 400 rows with copies of
    // one line; a run now shows its first and last step and a line for the rest.
    let spin = || {
        let n = AtomicU64::new(0);
        loop {
            n.fetch_add(1, Ordering::SeqCst);
        }
    };
    let config = Config {
        max_steps: 1_000,
        ..config()
    };
    let text = report_with(config, FailureKind::Livelock, spin).to_string();
    assert!(
        text.contains("(steps 2-999: the same operation 998 more times)"),
        "{text}"
    );
    assert!(text.contains("     1000  main (task 0)"), "{text}");
    assert!(!text.contains("not shown"), "{text}");
    assert!(text.lines().count() < 20, "{text}");
}
