//! The surface loom's and shuttle's users port to (issue 12), each behaviour through the public
//! API: the leak check, `model::Builder`, loom's looser bounds and extras, shuttle's entry
//! points, and the modelling fixes the upstream test suites showed were needed.

use std::collections::BTreeSet;
use std::sync::Mutex as StdMutex;

use selvedge::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use selvedge::sync::{mpsc, Arc, Once};
use selvedge::{explore, Config, FailureKind, Strategy};

fn dfs() -> Config {
    Config {
        strategy: Strategy::Dfs,
        ..Default::default()
    }
}

fn failure_kind(report: &selvedge::Report) -> Option<FailureKind> {
    report.failure().map(|f| f.kind())
}

#[test]
fn an_arc_still_alive_when_every_task_finished_is_a_leak_naming_where_it_was_created() {
    let report = explore(dfs(), || {
        let a = Arc::new(1);
        std::mem::forget(a.clone());
    });
    let failure = report.failure().expect("the forgotten clone leaks");
    assert_eq!(failure.kind(), FailureKind::Leak);
    let text = failure.to_string();
    assert!(text.contains("the `Arc` created at"), "{text}");
    assert!(text.contains("tests/porting.rs"), "{text}");
}

#[test]
fn raw_pointer_round_trips_and_dropped_tracks_do_not_leak() {
    let report = explore(dfs(), || {
        let a = Arc::new(5);
        let raw = Arc::into_raw(a.clone());
        unsafe { Arc::increment_strong_count(raw) };
        unsafe { Arc::decrement_strong_count(raw) };
        let back = unsafe { Arc::from_raw(raw) };
        assert!(Arc::ptr_eq(&a, &back));
        assert_eq!(Arc::strong_count(&a), 2);
        let t = selvedge::alloc::Track::new(vec![1]);
        assert_eq!(t.into_inner(), vec![1]);
    });
    assert_eq!(failure_kind(&report), None, "{:?}", report.failure());
    let forgotten = explore(dfs(), || std::mem::forget(selvedge::alloc::Track::new(())));
    assert_eq!(failure_kind(&forgotten), Some(FailureKind::Leak));
}

#[test]
fn an_arc_drop_orders_the_droppers_accesses_before_the_destructor() {
    // The last drop runs the destructor, which reads what the other thread wrote before it
    // dropped its clone: ordered by the `Arc`, not a race.
    struct ReadsOnDrop(selvedge::cell::UnsafeCell<usize>);
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            self.0.with(|p| unsafe { assert_eq!(*p, 1) });
        }
    }
    let report = explore(dfs(), || {
        let shared = Arc::new(ReadsOnDrop(selvedge::cell::UnsafeCell::new(0)));
        let other = shared.clone();
        let t = selvedge::thread::spawn(move || {
            other.0.with_mut(|p| unsafe { *p = 1 });
            drop(other);
        });
        selvedge::thread::yield_now();
        drop(shared);
        t.join().unwrap();
    });
    assert_eq!(failure_kind(&report), None, "{:?}", report.failure());
}

#[test]
fn builder_fields_become_the_config() {
    let mut builder = selvedge::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.max_branches = 77;
    builder.max_permutations = Some(9);
    builder.max_threads = 3;
    let config = builder.config();
    assert_eq!(config.max_preemptions, Some(2));
    assert_eq!(config.max_steps, 77);
    assert_eq!(config.max_schedules, Some(9));
    assert_eq!(config.max_tasks, 3);
    assert!(matches!(config.strategy, Strategy::Dpor));
}

#[test]
fn loom_tests_may_move_rc_into_threads_and_share_unsafe_cells() {
    let report = explore(dfs(), || {
        let shared = std::rc::Rc::new(selvedge::sync::Mutex::new(0));
        let other = shared.clone();
        let t = selvedge::thread::spawn(move || *other.lock().unwrap() += 1);
        *shared.lock().unwrap() += 1;
        t.join().unwrap();
        assert_eq!(*shared.lock().unwrap(), 2);
        assert_eq!(
            selvedge::thread::current().name(),
            None,
            "main has no name, as loom's"
        );
    });
    assert_eq!(failure_kind(&report), None, "{:?}", report.failure());
}

#[test]
fn a_cell_guard_kept_across_another_tasks_access_is_a_data_race() {
    let report = explore(dfs(), || {
        let cell = Arc::new(selvedge::cell::UnsafeCell::new(0));
        let lock = Arc::new(selvedge::sync::Mutex::new(()));
        let (c2, l2) = (cell.clone(), lock.clone());
        let t = selvedge::thread::spawn(move || {
            let _g = l2.lock().unwrap();
            c2.with_mut(|p| unsafe { *p += 1 });
        });
        let guard = {
            let _g = lock.lock().unwrap();
            cell.get_mut()
        };
        // The access began under the lock but lasts until the guard drops.
        selvedge::thread::yield_now();
        drop(guard);
        t.join().unwrap();
    });
    assert_eq!(failure_kind(&report), Some(FailureKind::DataRace));
}

#[test]
fn unsync_load_racing_with_a_store_is_a_data_race() {
    let report = explore(dfs(), || {
        let a = Arc::new(AtomicUsize::new(0));
        let b = a.clone();
        let t = selvedge::thread::spawn(move || unsafe { b.unsync_load() });
        a.store(1, SeqCst);
        t.join().unwrap();
    });
    assert_eq!(failure_kind(&report), Some(FailureKind::DataRace));
}

#[test]
fn two_spinners_waiting_for_a_third_task_do_not_livelock() {
    // Each spinner's load used to count as progress for the other, so the two released each
    // other forever and the task they wait for never ran.
    let report = explore(
        Config {
            max_steps: 1_000,
            ..dfs()
        },
        || {
            let go = Arc::new(AtomicBool::new(false));
            let spinners: Vec<_> = (0..2)
                .map(|_| {
                    let go = go.clone();
                    selvedge::thread::spawn(move || {
                        while !go.load(SeqCst) {
                            selvedge::thread::yield_now();
                        }
                    })
                })
                .collect();
            go.store(true, SeqCst);
            for s in spinners {
                s.join().unwrap();
            }
        },
    );
    assert_eq!(failure_kind(&report), None, "{:?}", report.failure());
}

#[test]
fn dropping_the_last_sender_is_a_step_try_recv_can_come_before() {
    let seen = Arc::new(StdMutex::new(BTreeSet::new()));
    let seen2 = seen.clone();
    let report = explore(dfs(), move || {
        let (tx, rx) = mpsc::channel::<u8>();
        let t = selvedge::thread::spawn(move || drop(tx));
        let outcome = format!("{:?}", rx.try_recv());
        seen2.lock().unwrap().insert(outcome);
        t.join().unwrap();
    });
    assert_eq!(failure_kind(&report), None);
    let seen = seen.lock().unwrap();
    assert!(seen.contains("Err(Empty)"), "{seen:?}");
    assert!(seen.contains("Err(Disconnected)"), "{seen:?}");
}

#[test]
fn a_receive_learns_only_what_its_own_message_published() {
    // The write comes after the first send: receiving the first message does not order it,
    // even when the second message was already sent.
    let report = explore(dfs(), || {
        let cell = Arc::new(selvedge::cell::UnsafeCell::new(0));
        let (tx, rx) = mpsc::channel();
        let c2 = cell.clone();
        let t = selvedge::thread::spawn(move || {
            tx.send(1).unwrap();
            c2.with_mut(|p| unsafe { *p = 1 });
            tx.send(2).unwrap();
        });
        rx.recv().unwrap();
        cell.with(|p| unsafe { *p });
        t.join().unwrap();
    });
    assert_eq!(failure_kind(&report), Some(FailureKind::DataRace));
}

#[test]
fn a_once_whose_closure_panicked_is_poisoned_until_forced() {
    let report = explore(dfs(), || {
        let once = Once::new();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.call_once(|| panic!("boom"))
        }));
        assert!(first.is_err());
        assert!(once.is_poisoned());
        let second =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| once.call_once(|| ())));
        assert!(second.is_err(), "a poisoned `Once` refuses `call_once`");
        once.call_once_force(|state| assert!(state.is_poisoned()));
        once.call_once(|| unreachable!("done"));
    });
    // The panics are caught inside the task, so only the deliberate ones happen.
    assert_eq!(failure_kind(&report), None, "{:?}", report.failure());
}

selvedge::lazy_static! {
    static ref WINNERS: AtomicUsize = AtomicUsize::new(0);
}

#[test]
fn any_racing_task_may_initialise_a_lazy_static() {
    selvedge::lazy_static! {
        static ref FIRST: usize = usize::from(selvedge::current::me());
    }
    let seen = Arc::new(StdMutex::new(BTreeSet::new()));
    let seen2 = seen.clone();
    let report = explore(dfs(), move || {
        let t = selvedge::thread::spawn(|| *FIRST);
        let mine = *FIRST;
        assert_eq!(t.join().unwrap(), mine);
        seen2.lock().unwrap().insert(mine);
        WINNERS.fetch_add(1, SeqCst);
        assert_eq!(WINNERS.load(SeqCst), 1, "fresh in every execution");
    });
    assert_eq!(failure_kind(&report), None, "{:?}", report.failure());
    assert_eq!(*seen.lock().unwrap(), BTreeSet::from([0, 1]));
}

#[test]
fn a_lazy_static_used_after_the_main_thread_returned_fails_with_advice() {
    selvedge::lazy_static! {
        static ref LATE: usize = 1;
    }
    let report = explore(dfs(), || {
        selvedge::thread::spawn(|| {
            selvedge::thread::yield_now();
            assert_eq!(*LATE, 1);
        });
    });
    let failure = report.failure().expect("the thread outlives the statics");
    assert!(failure
        .to_string()
        .contains("after the model's main thread returned"));
}

#[test]
fn spawning_past_max_tasks_is_a_clear_panic_even_with_a_sender_captured() {
    // The refused body holds a sender, whose drop used to run inside the state borrow.
    let report = explore(
        Config {
            max_tasks: 2,
            ..dfs()
        },
        || {
            let (tx, _rx) = mpsc::channel::<u8>();
            for _ in 0..2 {
                let tx = tx.clone();
                selvedge::thread::spawn(move || drop(tx));
            }
        },
    );
    let failure = report.failure().expect("the third task is refused");
    assert_eq!(failure.kind(), FailureKind::Panic);
    assert!(failure.to_string().contains("raise `Config::max_tasks`"));
}

#[test]
fn model_rand_numbers_follow_the_seed_and_the_interleaving() {
    use selvedge::rand::{thread_rng, Rng};
    let draws = |seed| {
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let seen2 = seen.clone();
        explore(
            Config {
                strategy: Strategy::Random,
                max_schedules: Some(5),
                seed,
                ..Default::default()
            },
            move || {
                let t = selvedge::thread::spawn(|| thread_rng().gen::<u64>());
                let mine: u64 = thread_rng().gen();
                seen2.lock().unwrap().push((mine, t.join().unwrap()));
            },
        );
        let seen = seen.lock().unwrap().clone();
        seen
    };
    assert_eq!(draws(3), draws(3), "same seed, same numbers");
    assert_ne!(draws(3), draws(4), "another seed, other numbers");
    // Each execution of a sampling strategy draws its own numbers, from its first draw on
    // (a random configuration made before the first scheduling point varies too).
    let firsts: BTreeSet<u64> = draws(3).iter().map(|&(mine, _)| mine).collect();
    assert_eq!(
        firsts.len(),
        5,
        "one first number per execution: {firsts:?}"
    );
}

#[test]
fn a_replay_draws_the_numbers_the_failing_execution_drew_whatever_the_seed() {
    // Goal: a failure that depends on `selvedge::rand` replays from its replay string alone,
    // which carries the execution's data seed; the config's seed does not matter.
    use selvedge::rand::{thread_rng, Rng};
    let body = || {
        let n: u32 = thread_rng().gen_range(0..4);
        assert_ne!(n, 3, "drew a three");
    };
    let report = explore(
        Config {
            strategy: Strategy::Random,
            max_schedules: Some(200),
            seed: 11,
            ..Default::default()
        },
        body,
    );
    let failure = report.failure().expect("some execution draws a three");
    let schedule = failure.schedule().to_string();
    assert_eq!(
        schedule.split(':').count(),
        4,
        "the data seed is in `{schedule}`"
    );
    for seed in [0, 11, 12345] {
        let replayed = explore(
            Config {
                strategy: Strategy::Replay(schedule.clone()),
                seed,
                ..Default::default()
            },
            body,
        );
        let again = replayed.failure().expect("the replay fails the same way");
        assert!(again.message().contains("drew a three"), "{again}");
    }
    // Exhaustive strategies draw from the config's seed, 0 included, and their replay strings
    // carry it too.
    let body = || panic!("drew {}", thread_rng().gen::<u64>());
    let found = explore(
        Config {
            strategy: Strategy::Dfs,
            seed: 0,
            ..Default::default()
        },
        body,
    );
    let failure = found.failure().expect("the body always panics");
    assert!(failure.schedule().ends_with(":0"), "{}", failure.schedule());
    let replayed = explore(
        Config {
            strategy: Strategy::Replay(failure.schedule().to_string()),
            seed: 7,
            ..Default::default()
        },
        body,
    );
    assert_eq!(
        replayed.failure().expect("the replay panics").message(),
        failure.message()
    );
}

#[test]
fn shuttle_runner_and_scheduler_shapes_run_the_named_strategy() {
    use selvedge::scheduler::{DfsScheduler, PctScheduler};
    let n = selvedge::Runner::new(PctScheduler::new(2, 7), Config::new()).run(|| {
        let t = selvedge::thread::spawn(|| ());
        t.join().unwrap();
    });
    assert_eq!(n, 7);
    let n = selvedge::Runner::new(DfsScheduler::new(None, false), Config::new()).run(|| {
        let t = selvedge::thread::spawn(|| selvedge::thread::yield_now());
        selvedge::thread::yield_now();
        t.join().unwrap();
    });
    assert!(n > 1, "every interleaving: {n}");
}

#[test]
fn a_failure_that_depends_on_drawn_numbers_is_minimised_with_the_same_numbers() {
    // Goal: the minimiser searches for the same failure with fewer preemptions; it must draw the
    // numbers the failing execution drew (its data seed), or a failure that needs a particular
    // draw is never found again and stays as the sampling strategy found it.
    use selvedge::rand::{thread_rng, Rng};
    let body = || {
        let armed = thread_rng().gen_range(0..16) == 7;
        let counter = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let counter = counter.clone();
                selvedge::thread::spawn(move || {
                    for _ in 0..2 {
                        let seen = counter.load(SeqCst);
                        counter.store(seen + 1, SeqCst);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        if armed {
            assert_eq!(counter.load(SeqCst), 6, "an update was lost");
        }
    };
    let report = explore(
        Config {
            strategy: Strategy::Random,
            max_schedules: Some(5_000),
            seed: 5,
            ..Default::default()
        },
        body,
    );
    let failure = report
        .failure()
        .expect("an armed execution loses an update");
    assert!(
        failure.message().contains("an update was lost"),
        "{failure}"
    );
    assert_eq!(
        failure.preemptions(),
        1,
        "minimised to one preemption: {failure}"
    );
    let replayed = explore(
        Config {
            strategy: Strategy::Replay(failure.schedule().to_string()),
            ..Default::default()
        },
        body,
    );
    assert!(
        replayed.failure().is_some(),
        "the minimised schedule replays"
    );
}
