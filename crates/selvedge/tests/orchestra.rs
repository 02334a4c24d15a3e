//! The orchestra on real OS threads and a real tokio runtime: shuffler's lost update,
//! orchestrate's turn counts and permutations, named syncpoints, identical tasks, stalls,
//! deadlocks, and bad input. Every test runs in well under a second except the stall ones,
//! whose timeouts are set small.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use selvedge::orchestra::{current, Orchestra};
use selvedge::{Config, ErrorKind, FailureKind, Strategy};

/// What every schedule left behind, collected by the check.
#[derive(Clone, Default)]
struct Outcomes(Arc<Mutex<Vec<String>>>);

impl Outcomes {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// shuffler's store: `get` and `set` on a shared value.
struct Db {
    value: Mutex<u32>,
}

fn get(db: &Db) -> u32 {
    *db.value.lock().unwrap()
}

fn set(db: &Db, v: u32) {
    *db.value.lock().unwrap() = v;
}

/// shuffler's `increment`, with a syncpoint before each operation.
fn increment(db: &Db) {
    selvedge::syncpoint!();
    let v = get(db);
    selvedge::syncpoint!();
    set(db, v + 1);
}

fn shuffler(identical: bool) -> (selvedge::Report, Vec<String>) {
    let outcomes = Outcomes::default();
    let seen = outcomes.clone();
    let mut orchestra = Orchestra::new()
        .setup(|| Db {
            value: Mutex::new(0),
        })
        .turns_start_at_syncpoints()
        .task(increment)
        .task(increment)
        .check(move |db| seen.push(get(db).to_string()));
    if identical {
        orchestra = orchestra.identical();
    }
    let report = orchestra.explore();
    (report, outcomes.all())
}

#[test]
fn shuffler_on_threads_explores_six_schedules_four_losing_an_update() {
    let (report, values) = shuffler(false);
    assert!(report.failure().is_none(), "{:?}", report.failure());
    assert!(report.complete());
    assert_eq!(report.schedules(), 6);
    assert_eq!(values.iter().filter(|v| *v == "1").count(), 4, "{values:?}");
    assert_eq!(values.iter().filter(|v| *v == "2").count(), 2, "{values:?}");
    assert_eq!(report.turn_counts(), &[2, 2]);
}

#[test]
fn identical_shuffler_tasks_run_mirror_images_once() {
    let (report, values) = shuffler(true);
    assert!(report.complete());
    assert_eq!(report.schedules(), 3);
    assert_eq!(values.iter().filter(|v| *v == "1").count(), 2, "{values:?}");
}

#[test]
fn three_identical_tasks_run_one_schedule_per_class_of_mirror_images() {
    // Three tasks of two turns each: 6! / (2! 2! 2!) = 90 orders, and each class of orders
    // that differ only by renaming the tasks has 3! = 6 members.
    let count = |identical: bool| {
        let mut orchestra = Orchestra::new();
        for _ in 0..3 {
            orchestra = orchestra.task(|_| {
                selvedge::syncpoint!();
            });
        }
        if identical {
            orchestra = orchestra.identical();
        }
        let report = orchestra.explore();
        assert!(report.complete(), "{:?}", report.failure());
        report.schedules()
    };
    assert_eq!(count(false), 90);
    assert_eq!(count(true), 15);
}

#[test]
fn the_lost_update_is_reported_with_its_turns_and_a_replay_string_that_reproduces_it() {
    let build = || {
        Orchestra::new()
            .setup(|| Db {
                value: Mutex::new(0),
            })
            .turns_start_at_syncpoints()
            .task(increment)
            .task(increment)
            .check(|db| assert_eq!(get(db), 2, "an update was lost"))
    };
    let report = build().explore();
    let failure = report.failure().expect("a lost update");
    assert_eq!(failure.kind(), FailureKind::Panic);
    let text = failure.to_string();
    assert!(text.contains("an update was lost"), "{text}");
    assert!(text.contains("task 0") && text.contains("task 1"), "{text}");
    assert!(text.contains("tests/orchestra.rs"), "{text}");
    assert!(text.contains("orchestra.config(Config"), "{text}");
    // 000111-style order: the first schedules run 0 then 1; the second lexicographic one
    // (0, 1, 0, 1) is the first that loses.
    assert_eq!(failure.schedule_number(), 2, "{text}");
    let replayed = build()
        .config(Config {
            strategy: Strategy::Replay(failure.schedule().to_string()),
            ..Config::default()
        })
        .explore();
    let again = replayed.failure().expect("the replay fails the same way");
    assert_eq!(again.schedule(), failure.schedule());
    assert_eq!(again.message(), failure.message());
}

/// Two tasks with two syncpoints each, every turn logged.
fn logged_orchestra(log: Arc<Mutex<Vec<usize>>>) -> Orchestra<()> {
    let task = |me: usize, log: Arc<Mutex<Vec<usize>>>| {
        move |_: &()| {
            log.lock().unwrap().push(me);
            selvedge::syncpoint!();
            log.lock().unwrap().push(me);
            selvedge::syncpoint!();
            log.lock().unwrap().push(me);
        }
    };
    Orchestra::new()
        .task(task(0, log.clone()))
        .task(task(1, log))
}

#[test]
fn two_syncpoints_each_give_counts_three_three_and_all_twenty_sequences_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sequences = Outcomes::default();
    let (seen, from) = (sequences.clone(), log.clone());
    let report = logged_orchestra(log)
        .check(move |_| {
            let turns: String = from
                .lock()
                .unwrap()
                .drain(..)
                .map(|t| t.to_string())
                .collect();
            seen.push(turns);
        })
        .explore();
    assert!(report.complete(), "{:?}", report.failure());
    assert_eq!(report.turn_counts(), &[3, 3]);
    assert_eq!(report.schedules(), 20);
    let runs = sequences.all();
    let mut expected: Vec<String> = (0u32..64)
        .filter(|m| m.count_ones() == 3)
        .map(|m| {
            (0..6)
                .rev()
                .map(|b| if m >> b & 1 == 1 { '1' } else { '0' })
                .collect()
        })
        .collect();
    expected.sort();
    assert_eq!(
        runs, expected,
        "every sequence once, in lexicographic order"
    );
    // The order is deterministic: the same again.
    let log = Arc::new(Mutex::new(Vec::new()));
    let again = logged_orchestra(log)
        .config(Config {
            keep_schedules: true,
            ..Config::default()
        })
        .explore();
    assert_eq!(again.digest(), report.digest());
}

#[test]
fn a_task_whose_turn_count_changes_with_the_order_is_covered_without_a_hang_or_a_gap() {
    // Task 1 takes an extra turn when task 0 already started: its count in the first (serial)
    // schedule differs from the count in others.
    let sequences = Outcomes::default();
    let log = Arc::new(Mutex::new(String::new()));
    let (seen, from) = (sequences.clone(), log.clone());
    let (l0, l1) = (log.clone(), log.clone());
    let report = Orchestra::new()
        .setup(|| AtomicBool::new(false))
        .task(move |started| {
            started.store(true, Ordering::SeqCst);
            l0.lock().unwrap().push('0');
            selvedge::syncpoint!();
            l0.lock().unwrap().push('0');
        })
        .task(move |started| {
            l1.lock().unwrap().push('1');
            if started.load(Ordering::SeqCst) {
                selvedge::syncpoint!();
                l1.lock().unwrap().push('1');
            }
            selvedge::syncpoint!();
            l1.lock().unwrap().push('1');
        })
        .check(move |_| seen.push(std::mem::take(&mut *from.lock().unwrap())))
        .explore();
    assert!(report.complete(), "{:?}", report.failure());
    assert_eq!(
        report.turn_counts(),
        &[2, 3],
        "the serial schedule runs task 0 first"
    );
    let mut runs = sequences.all();
    // Starting with task 0: task 1 has 3 turns, 4 orders; starting with 1: 2 turns each...
    // but 1's extra turn depends on whether 0 had started when 1 looked.
    let expected = [
        "00111", "01011", "01101", "01110", // 0 first: 1 sees it, 3 turns
        "1001", "1010", "1100", // 1 first: 2 turns
    ];
    runs.sort();
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(runs, expected);
}

#[test]
fn a_failure_stops_the_exploration_with_its_turn_sequence_and_replay_string() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let from = log.clone();
    let report = logged_orchestra(log)
        .check(move |_| {
            let turns: Vec<usize> = from.lock().unwrap().drain(..).collect();
            assert_ne!(turns, vec![0, 1, 1, 0, 1, 0], "the sequence under test");
        })
        .explore();
    let failure = report.failure().expect("the sequence is reached");
    // Lexicographic position of 011010 among the 20: 000111, 001011, 001101, 001110, 010011,
    // 010101, 010110, 011001 come first.
    assert_eq!(failure.schedule_number(), 9);
    assert_eq!(report.schedules(), 9, "nothing runs after the failure");
    let text = failure.to_string();
    assert!(text.contains("the sequence under test"), "{text}");
    assert!(text.contains("replay string: v1:"), "{text}");
    // The interleaving shows the turns in order: starts, then syncpoints.
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" start ") || l.contains(" syncpoint "))
        .collect();
    assert_eq!(rows.len(), 6, "{text}");
    let tasks: Vec<char> = rows
        .iter()
        .map(|r| if r.contains("task 0") { '0' } else { '1' })
        .collect();
    assert_eq!(tasks.iter().collect::<String>(), "011010", "{text}");
}

fn hither(log: &Mutex<Vec<&'static str>>) {
    log.lock().unwrap().push("hither");
    selvedge::syncpoint!(); // unnamed: free when a name is given
    selvedge::syncpoint!("hither and yon");
    selvedge::syncpoint!("another name");
    log.lock().unwrap().push("yon");
}

#[test]
fn a_named_syncpoint_between_two_calls_covers_every_permutation_with_counts_two_two() {
    let orders = Outcomes::default();
    let seen = orders.clone();
    let counts = Orchestra::new()
        .setup(|| Mutex::new(Vec::new()))
        .only("hither and yon")
        .task(hither)
        .task(hither)
        .check(move |log| seen.push(log.lock().unwrap().join(" ")))
        .run();
    assert_eq!(counts, vec![2, 2]);
    let orders = orders.all();
    assert_eq!(orders.len(), 6, "{orders:?}");
    let distinct: std::collections::BTreeSet<_> = orders.iter().collect();
    assert_eq!(
        distinct.len(),
        2,
        "two shapes: hither hither yon yon, hither yon hither yon"
    );
}

#[test]
fn an_unknown_syncpoint_name_is_an_error_naming_the_ones_reached() {
    let report = Orchestra::new()
        .setup(|| Mutex::new(Vec::new()))
        .only("hither and yonder")
        .task(hither)
        .task(hither)
        .explore();
    let error = report.error().expect("no task reaches the name");
    assert_eq!(error.kind(), ErrorKind::BadConfig);
    assert_eq!(
        error.to_string(),
        "`Orchestra::only(\"hither and yonder\")`: no task reached a syncpoint named `hither and \
         yonder` in 2 schedules (the names reached were `hither and yon`, `another name`); check \
         the name against the `syncpoint!` calls the tasks run"
    );
    let panicked = std::panic::catch_unwind(|| {
        Orchestra::new()
            .only("nowhere")
            .task(|_| {
                selvedge::syncpoint!();
            })
            .run()
    });
    let message = panicked.expect_err("run panics with the error");
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("no task reached a named syncpoint at all"),
        "{message}"
    );
}

#[test]
fn a_task_that_panics_is_a_failure_naming_the_task_and_where() {
    let report = Orchestra::new()
        .task(|_| {
            selvedge::syncpoint!();
        })
        .task(|_| {
            selvedge::syncpoint!();
            panic!("task one gives up");
        })
        .explore();
    let failure = report.failure().expect("the panic is a failure");
    assert_eq!(failure.kind(), FailureKind::Panic);
    assert_eq!(failure.task(), Some("task 1"));
    assert_eq!(failure.message(), "task one gives up");
    let text = failure.to_string();
    assert!(
        text.contains("panicked") && text.contains("tests/orchestra.rs:"),
        "{text}"
    );
}

#[test]
fn a_task_blocked_outside_selvedge_is_set_aside_and_rejoins() {
    // Task 0 holds a std mutex across its syncpoint; task 1 blocks on it when its turn comes
    // in between, is set aside as stalled, and finishes once task 0 lets go. The timeout is
    // long enough that a merely slow thread on a loaded machine is not taken for a stall,
    // which would change the tree and the count.
    let report = Orchestra::new()
        .setup(|| Mutex::new(0u32))
        .stall_timeout(Duration::from_millis(200))
        .task(|m| {
            let mut guard = m.lock().unwrap();
            selvedge::syncpoint!();
            *guard += 1;
        })
        .task(|m| {
            *m.lock().unwrap() += 1;
        })
        .check(|m| assert_eq!(*m.lock().unwrap(), 2))
        .explore();
    assert!(report.complete(), "{:?}", report.failure());
    assert_eq!(report.schedules(), 3);
}

#[test]
fn a_task_let_go_by_the_turn_that_just_ended_rejoins_in_time_for_the_next_decision() {
    // Task 1 blocks on a std mutex task 0 holds for its first two turns; task 0's second turn
    // lets it go and task 0 still has a turn left. Whether task 1 is ready at the next
    // decision must not depend on thread timing: the same schedules, run after run. (What the
    // tasks log may differ: once let go, task 1 runs alongside task 0's turn until its next
    // syncpoint, as real threads do.)
    let explore = || {
        let orders = Outcomes::default();
        let seen = orders.clone();
        let log = Arc::new(Mutex::new(String::new()));
        let (l0, l1, from) = (log.clone(), log.clone(), log);
        let report = Orchestra::new()
            .setup(|| Mutex::new(()))
            .stall_timeout(Duration::from_millis(100))
            .task(move |m| {
                let guard = m.lock().unwrap();
                l0.lock().unwrap().push('a');
                selvedge::syncpoint!();
                drop(guard);
                l0.lock().unwrap().push('b');
                selvedge::syncpoint!();
                l0.lock().unwrap().push('c');
            })
            .task(move |m| {
                let _guard = m.lock().unwrap();
                l1.lock().unwrap().push('x');
                drop(_guard);
                selvedge::syncpoint!();
                l1.lock().unwrap().push('y');
            })
            .check(move |_| seen.push(std::mem::take(&mut *from.lock().unwrap())))
            .explore();
        assert!(report.complete(), "{:?}", report.failure());
        (report.schedules(), report.digest(), orders.all())
    };
    let first = explore();
    assert!(
        first.2.iter().any(|o| o.starts_with("abx")),
        "task 1 waits for the lock and runs once it is let go: {:?}",
        first.2
    );
    for _ in 0..3 {
        let again = explore();
        assert_eq!(
            (again.0, again.1),
            (first.0, first.1),
            "{:?} then {:?}",
            first.2,
            again.2
        );
    }
}

#[test]
fn tasks_all_stalled_past_the_deadline_are_a_deadlock_listing_their_last_syncpoints() {
    let report = Orchestra::new()
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
            selvedge::syncpoint!();
            let _a = a.lock().unwrap();
        })
        .explore();
    let failure = report
        .failure()
        .expect("the lock-order inversion deadlocks");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(
        text.contains("every unfinished task is stalled: task 0, task 1"),
        "{text}"
    );
    assert!(text.contains("has reached no syncpoint for"), "{text}");
    assert!(text.contains("stalled"), "{text}");
    assert!(text.matches("tests/orchestra.rs:").count() >= 2, "{text}");
}

#[test]
fn a_task_looping_over_syncpoints_is_a_livelock_and_its_thread_leaves() {
    static LEFT: AtomicBool = AtomicBool::new(false);
    struct Leaves;
    impl Drop for Leaves {
        fn drop(&mut self) {
            LEFT.store(true, Ordering::SeqCst);
        }
    }
    let report = Orchestra::new()
        .setup(|| AtomicBool::new(false))
        .task(|done| {
            let _leaves = Leaves;
            while !done.load(Ordering::SeqCst) {
                selvedge::syncpoint!();
            }
        })
        .task(|done| done.store(true, Ordering::SeqCst))
        .config(Config {
            max_steps: 50,
            ..Config::default()
        })
        .explore();
    let failure = report
        .failure()
        .expect("the serial schedule never lets task 1 run");
    assert_eq!(failure.kind(), FailureKind::Livelock);
    assert!(
        failure.message().contains("`Config::max_steps`"),
        "{failure}"
    );
    assert!(
        LEFT.load(Ordering::SeqCst),
        "the looping task unwound from its syncpoint when the schedule ended"
    );
}

#[test]
fn a_panic_in_setup_is_a_failure_before_any_task_runs() {
    let report = Orchestra::new()
        .setup(|| -> u32 { panic!("no database") })
        .task(|_| unreachable!("no task runs without a fixture"))
        .explore();
    let failure = report.failure().expect("setup failed");
    assert!(
        failure
            .message()
            .starts_with("`Orchestra::setup` panicked at crates/selvedge/tests/orchestra.rs:"),
        "{failure}"
    );
    assert!(failure
        .message()
        .ends_with("before any task ran: no database"));
}

#[test]
fn syncpoints_outside_any_run_do_nothing_and_current_is_none() {
    selvedge::syncpoint!();
    selvedge::syncpoint!("named");
    selvedge::orchestra::syncpoint_with(None, "SELECT 1");
    assert!(current().is_none());
}

#[test]
fn a_token_takes_its_tasks_syncpoints_from_another_thread_with_details_and_notes() {
    let report = Orchestra::new()
        .setup(|| AtomicU32::new(0))
        .task(|n| {
            let me = current().expect("a task thread knows its task");
            assert_eq!(me.index(), 0);
            let proxy = std::thread::spawn(move || {
                me.syncpoint(None, "UPDATE t SET v = v + 1");
                me.note("ERROR 40001: could not serialize access");
            });
            proxy.join().unwrap();
            n.fetch_add(1, Ordering::SeqCst);
        })
        .task(|n| {
            n.fetch_add(1, Ordering::SeqCst);
        })
        .check(|n| assert_eq!(n.load(Ordering::SeqCst), 3, "fails to show the report"))
        .explore();
    let failure = report.failure().expect("the check fails");
    let text = failure.to_string();
    assert!(
        text.contains("UPDATE t SET v = v + 1 => ERROR 40001: could not serialize access"),
        "{text}"
    );
    assert_eq!(report.turn_counts(), &[2, 1]);
}

#[test]
fn a_thread_acting_for_a_task_that_ends_under_it_neither_hangs_nor_breaks_the_run() {
    // A helper thread takes its task's syncpoint while the task's own thread returns without
    // waiting for it: the task may be waiting and finished at once, as the conductor looks.
    for _ in 0..20 {
        let report = Orchestra::new()
            .task(|_| {
                let me = current().unwrap();
                std::thread::spawn(move || me.syncpoint(None, "late"));
            })
            .task(|_| {
                selvedge::syncpoint!();
            })
            .explore();
        assert!(report.error().is_none(), "{:?}", report.error());
        assert!(report.failure().is_none(), "{:?}", report.failure());
    }
}

#[test]
fn bad_builder_input_is_a_clear_error() {
    let report = Orchestra::new().explore();
    assert_eq!(
        report.error().unwrap().to_string(),
        "the orchestra has no tasks, so there is nothing to interleave; add some with \
         `Orchestra::task` or `Orchestra::task_async`"
    );
    let report = Orchestra::new()
        .stall_timeout(Duration::ZERO)
        .task(|_| ())
        .explore();
    assert!(report
        .error()
        .unwrap()
        .to_string()
        .starts_with("`Orchestra::stall_timeout` is zero"));
    let report = Orchestra::new()
        .task(|_| ())
        .config(Config {
            max_preemptions: Some(1),
            ..Config::default()
        })
        .explore();
    assert_eq!(report.error().unwrap().kind(), ErrorKind::BadConfig);
    assert!(report
        .error()
        .unwrap()
        .to_string()
        .starts_with("`Config::max_preemptions` is not supported by the orchestra"));
    let report = Orchestra::new()
        .task(|_| ())
        .config(Config {
            max_schedules: Some(0),
            ..Config::default()
        })
        .explore();
    assert!(report
        .error()
        .unwrap()
        .to_string()
        .starts_with("`Config::max_schedules` is 0"));
    let late_setup = Orchestra::new().task(|_| ()).setup(|| 1u8).explore();
    assert!(late_setup
        .error()
        .unwrap()
        .to_string()
        .starts_with("`Orchestra::setup` was called after `task`"));
}

#[test]
fn random_and_pct_strategies_drive_the_orchestra_deterministically() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 2 }] {
        let run = || {
            Orchestra::new()
                .setup(|| Db {
                    value: Mutex::new(0),
                })
                .task(increment)
                .task(increment)
                .config(Config {
                    strategy: strategy.clone(),
                    max_schedules: Some(20),
                    seed: 3,
                    ..Config::default()
                })
                .explore()
        };
        let (a, b) = (run(), run());
        assert_eq!(a.schedules(), 20);
        assert_eq!(a.digest(), b.digest(), "{strategy:?}");
    }
}

mod asynchronous {
    use super::*;

    async fn increment(db: Arc<Db>) {
        selvedge::syncpoint!().await;
        let v = get(&db);
        selvedge::syncpoint!().await;
        tokio::task::yield_now().await;
        set(&db, v + 1);
    }

    fn shuffler(multi_thread: bool, identical: bool) -> (selvedge::Report, Vec<String>) {
        let outcomes = Outcomes::default();
        let seen = outcomes.clone();
        let mut orchestra = Orchestra::new()
            .setup(|| {
                Arc::new(Db {
                    value: Mutex::new(0),
                })
            })
            .turns_start_at_syncpoints()
            .task_async(|db| increment(db.clone()))
            .task_async(|db| increment(db.clone()))
            .check(move |db| seen.push(get(db).to_string()));
        if multi_thread {
            orchestra = orchestra.multi_thread(2);
        }
        if identical {
            orchestra = orchestra.identical();
        }
        let report = orchestra.explore();
        (report, outcomes.all())
    }

    #[test]
    fn shuffler_on_a_current_thread_runtime_explores_six_schedules_four_losing() {
        let (report, values) = shuffler(false, false);
        assert!(report.complete(), "{:?}", report.failure());
        assert_eq!(report.schedules(), 6);
        assert_eq!(values.iter().filter(|v| *v == "1").count(), 4, "{values:?}");
        let (report, values) = shuffler(false, true);
        assert_eq!(report.schedules(), 3);
        assert_eq!(values.iter().filter(|v| *v == "1").count(), 2, "{values:?}");
    }

    #[test]
    fn shuffler_on_a_multi_thread_runtime_explores_six_schedules_four_losing() {
        let (report, values) = shuffler(true, false);
        assert!(report.complete(), "{:?}", report.failure());
        assert_eq!(report.schedules(), 6);
        assert_eq!(values.iter().filter(|v| *v == "1").count(), 4, "{values:?}");
        let (report, values) = shuffler(true, true);
        assert_eq!(report.schedules(), 3);
        assert_eq!(values.iter().filter(|v| *v == "1").count(), 2, "{values:?}");
    }

    #[test]
    fn a_blocking_syncpoint_in_async_code_is_a_failure_that_says_to_await_it() {
        let report = Orchestra::new()
            .task_async(|_| async {
                selvedge::syncpoint!();
            })
            .explore();
        let failure = report.failure().expect("refused");
        assert!(
            failure
                .message()
                .contains("would hold a tokio worker thread while the task waits for its turn"),
            "{failure}"
        );
    }

    #[test]
    fn an_async_task_stalled_on_a_tokio_lock_rejoins_and_threads_mix_with_futures() {
        let report = Orchestra::new()
            .setup(|| Arc::new(tokio::sync::Mutex::new(0u32)))
            .stall_timeout(Duration::from_millis(30))
            .task_async(|m| {
                let m = m.clone();
                async move {
                    let mut guard = m.lock().await;
                    selvedge::syncpoint!().await;
                    *guard += 1;
                }
            })
            .task_async(|m| {
                let m = m.clone();
                async move {
                    *m.lock().await += 1;
                }
            })
            .task(|_| {
                selvedge::syncpoint!();
            })
            .check(|m| assert_eq!(*m.try_lock().unwrap(), 2))
            .explore();
        assert!(report.complete(), "{:?}", report.failure());
    }
}
