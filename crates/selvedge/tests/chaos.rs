//! Chaos scenarios with runners: properties over generated scenarios, each case decided by the
//! model, and proptest shrinking a failure to the smallest scenario. Every runner here is given
//! a scenario whose answer is known (a crossed lock order deadlocks, a sorted one cannot, a
//! check-then-set lock breaks mutual exclusion), so no check passes by construction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestError, TestRng, TestRunner,
};
use selvedge::chaos::*;
use selvedge::sync::atomic::{AtomicBool, Ordering};
use selvedge::{Config, FailureKind, Strategy as ModelStrategy};

/// A proptest runner with a fixed seed and no persistence: the same cases every run.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn locks_taken_in_sorted_order_never_deadlock() {
    let proved = std::sync::atomic::AtomicUsize::new(0);
    let result = runner(256).run(&deadlock_scenarios(3, 3), |scenario| {
        let verdict = scenario.in_ascending_order().check();
        prop_assert!(verdict.is_proved(), "{verdict}");
        proved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    result.unwrap();
    assert_eq!(proved.into_inner(), 256);
}

#[test]
fn arbitrary_lock_orders_can_deadlock_and_shrink_to_two_threads_and_two_locks() {
    let result = runner(256).run(&deadlock_scenarios(3, 3), |scenario| {
        let verdict = scenario.check();
        prop_assert!(verdict.passed(), "{verdict}");
        Ok(())
    });
    let Err(TestError::Fail(_, smallest)) = result else {
        panic!("expected a deadlocking scenario, got {result:?}");
    };
    assert_eq!(smallest.threads.len(), 2, "{smallest:?}");
    assert_eq!(smallest.locks(), 2, "{smallest:?}");
    assert!(
        smallest.threads.iter().all(|t| t.len() == 2),
        "{smallest:?}"
    );
    assert_eq!(
        smallest.timeout, None,
        "a timeout breaks the deadlock: {smallest:?}"
    );
    // The smallest scenario's report names the deadlock, and its replay string reproduces it.
    let report = smallest.run_model();
    let failure = report.failure().expect("the deadlock");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    assert!(failure.to_string().contains("wait-for cycle"), "{failure}");
    let replayed = smallest.run_model_with(Config {
        strategy: ModelStrategy::Replay(failure.schedule().to_string()),
        ..Default::default()
    });
    assert_eq!(
        replayed.failure().map(|f| f.kind()),
        Some(FailureKind::Deadlock)
    );
}

#[test]
fn whatever_the_seed_a_deadlock_shrinks_to_two_threads_crossing_two_locks() {
    // proptest's own `Vec` shrinking never deletes again once it shrinks elements, so a
    // three-thread cycle used to stay three threads under some seeds, and `[[0, 2], [2, 0]]`
    // stayed as it was (seed 1 here).
    for seed in 0..64u8 {
        let mut runner = TestRunner::new_with_rng(
            ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        );
        let result = runner.run(&deadlock_scenarios(3, 3), |scenario| {
            prop_assert!(scenario.check().passed());
            Ok(())
        });
        let Err(TestError::Fail(_, smallest)) = result else {
            panic!("seed {seed}: no deadlock in 256 cases: {result:?}");
        };
        let mut crossed = smallest.threads.clone();
        crossed.sort();
        assert_eq!(
            (crossed.len(), smallest.timeout),
            (2, None),
            "seed {seed}: {smallest:?}"
        );
        assert_eq!(crossed, [vec![0, 1], vec![1, 0]], "seed {seed}");
    }
}

#[test]
fn a_crossed_order_with_a_timeout_never_deadlocks() {
    let crossed = DeadlockScenario {
        threads: vec![vec![0, 1], vec![1, 0]],
        timeout: None,
    };
    assert_eq!(
        crossed.check().failure().map(|f| f.kind()),
        Some(FailureKind::Deadlock)
    );
    let patient = DeadlockScenario {
        timeout: Some(Duration::from_millis(10)),
        ..crossed
    };
    let verdict = patient.check();
    assert!(verdict.is_proved(), "{verdict}");
    assert_eq!(patient.locks(), 2);
}

#[test]
fn a_three_way_cycle_is_found() {
    let ring = DeadlockScenario {
        threads: vec![vec![0, 1], vec![1, 2], vec![2, 0]],
        timeout: None,
    };
    let verdict = ring.check();
    assert_eq!(
        verdict.failure().map(|f| f.kind()),
        Some(FailureKind::Deadlock),
        "{verdict}"
    );
    assert!(ring.in_ascending_order().check().is_proved());
}

/// A lock that checks, then sets, in two steps: two workers can both find it free.
struct CheckThenSet(Vec<AtomicBool>);

impl LockSet for CheckThenSet {
    fn with_locks(n: usize) -> Self {
        CheckThenSet((0..n).map(|_| AtomicBool::new(false)).collect())
    }
    fn acquire(&self, lock: usize) {
        while self.0[lock].load(Ordering::SeqCst) {
            selvedge::thread::yield_now();
        }
        self.0[lock].store(true, Ordering::SeqCst);
    }
    fn release(&self, lock: usize) {
        self.0[lock].store(false, Ordering::SeqCst);
    }
}

#[test]
fn contention_runs_pass_for_correct_locks() {
    let result = runner(24).run(&lock_contention(3, 4, 3), |scenario| {
        let verdict = scenario.check::<ModelLocks>();
        prop_assert!(verdict.passed(), "{verdict}");
        Ok(())
    });
    result.unwrap();
}

#[test]
fn contention_runs_fail_for_a_broken_lock_and_shrink() {
    // The broken lock: proptest finds a failing scenario and shrinks it to one lock, two
    // workers and two operations.
    let result = runner(64).run(&lock_contention(3, 4, 3), |scenario| {
        let verdict = scenario.check::<CheckThenSet>();
        prop_assert!(verdict.passed(), "{verdict}");
        Ok(())
    });
    let Err(TestError::Fail(_, smallest)) = result else {
        panic!("expected the broken lock to fail, got {result:?}");
    };
    assert_eq!(smallest.workers, 2, "{smallest:?}");
    assert_eq!(smallest.operations.len(), 2, "{smallest:?}");
    assert!(
        smallest.operations.iter().all(|op| op.locks.len() == 1),
        "{smallest:?}"
    );
    let failure = smallest.run_model::<CheckThenSet>();
    let failure = failure.failure().expect("mutual exclusion broken");
    assert!(
        failure.message().contains("held by two workers at once"),
        "{failure}"
    );
}

#[test]
fn hold_times_are_virtual() {
    // Two hours of holding one lock, over two workers, and no real hour passes.
    let op = ContendedOp {
        locks: vec![0],
        hold: Duration::from_secs(3600),
    };
    let scenario = ContentionScenario {
        locks: 1,
        workers: 2,
        operations: vec![op.clone(), op],
    };
    let started = std::time::Instant::now();
    let verdict = scenario.check::<ModelLocks>();
    assert!(verdict.passed(), "{verdict}");
    assert!(started.elapsed() < Duration::from_secs(3600));
}

/// A lock set that never blocks anyone.
struct Overlapping;

impl LockSet for Overlapping {
    fn with_locks(_: usize) -> Self {
        Overlapping
    }
    fn acquire(&self, _: usize) {}
    fn release(&self, _: usize) {}
}

#[test]
fn a_lock_set_that_never_blocks_is_caught() {
    let op = |lock| ContendedOp {
        locks: vec![lock],
        hold: Duration::from_secs(1),
    };
    let disjoint = ContentionScenario {
        locks: 2,
        workers: 2,
        operations: vec![op(0), op(1)],
    };
    assert!(
        disjoint.check::<Overlapping>().passed(),
        "disjoint locks may overlap"
    );
    let shared = ContentionScenario {
        locks: 1,
        workers: 2,
        operations: vec![op(0), op(0)],
    };
    let verdict = shared.check::<Overlapping>();
    let failure = verdict.failure().expect("two holders of lock 0 at once");
    assert!(
        failure.message().contains("held by two workers at once"),
        "{failure}"
    );
}

#[test]
fn deadlock_runs_are_deterministic() {
    let scenario = DeadlockScenario {
        threads: vec![vec![0, 1, 2], vec![2, 1], vec![1, 0]],
        timeout: None,
    };
    let config = || Config {
        strategy: ModelStrategy::Random,
        max_schedules: Some(50),
        seed: 9,
        ..Default::default()
    };
    assert_eq!(
        scenario.run_model_with(config()).digest(),
        scenario.run_model_with(config()).digest()
    );
}

#[test]
fn thread_counts_always_draw_the_extremes() {
    let mut runner = runner(1);
    let strategy = thread_counts(16);
    let drawn: Vec<usize> = (0..64)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    assert!(drawn.contains(&1) && drawn.contains(&16), "{drawn:?}");
    assert!(drawn.iter().all(|&n| (1..=16).contains(&n)));
}

#[test]
fn scenario_clocks_skew_and_step_backwards() {
    let clock = ScenarioClock::starting_at(UNIX_EPOCH + Duration::from_secs(1_000));
    let (t0, w0) = (clock.now(), clock.wall());
    assert_eq!(w0, UNIX_EPOCH + Duration::from_secs(1_000));

    clock.apply(&TimeStep::WallBack(Duration::from_secs(10)));
    assert_eq!(clock.wall(), UNIX_EPOCH + Duration::from_secs(990));
    assert_eq!(clock.now(), t0, "the monotonic clock ignores wall steps");

    clock.set_skew(&ClockSkew {
        offset_ns: 5_000_000_000,
        drift_ppm: 1_000,
    });
    clock.advance(Duration::from_secs(100));
    assert_eq!(clock.now() - t0, Duration::from_secs(100));
    // 990 + 5 (offset) + 100 s of time running 0.1% fast.
    assert_eq!(clock.wall(), UNIX_EPOCH + Duration::from_millis(1_095_100));

    clock.apply(&TimeStep::MonotonicBack(Duration::from_secs(30)));
    assert_eq!(clock.now() - t0, Duration::from_secs(70));
    assert!(
        clock.now() < t0 + Duration::from_secs(100),
        "a broken monotonic clock went back"
    );
    clock.apply(&TimeStep::MonotonicBack(Duration::from_secs(200)));
    assert!(clock.now() < t0, "even behind where it started");
    assert_eq!(clock.elapsed(), Duration::ZERO);

    clock.apply(&TimeStep::WallBack(Duration::from_secs(2_000)));
    assert!(
        clock.wall() < UNIX_EPOCH,
        "the wall clock can go before the epoch"
    );
    let real = RealTime;
    assert!(real.wall() > SystemTime::UNIX_EPOCH);
}

#[test]
fn time_advances_step_backwards_only_when_asked() {
    let mut runner = runner(1);
    let mut saw_wall_back = false;
    for _ in 0..64 {
        let steps = time_advances(10, false)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        assert!(!steps
            .iter()
            .any(|s| matches!(s, TimeStep::MonotonicBack(_))));
        saw_wall_back |= steps.iter().any(|s| matches!(s, TimeStep::WallBack(_)));
    }
    assert!(saw_wall_back);
    let with_regressions: Vec<Vec<TimeStep>> = (0..64)
        .map(|_| {
            time_advances(10, true)
                .new_tree(&mut runner)
                .unwrap()
                .current()
        })
        .collect();
    assert!(with_regressions
        .iter()
        .flatten()
        .any(|s| matches!(s, TimeStep::MonotonicBack(_))));
}

#[test]
fn boundary_cases_are_drawn() {
    let mut runner = runner(1);
    let patterns: Vec<TimeoutPattern> = (0..64)
        .map(|_| timeout_patterns().new_tree(&mut runner).unwrap().current())
        .collect();
    assert!(patterns
        .iter()
        .any(|p| p.work == p.timeout && p.times_out()));
    assert!(patterns.iter().any(|p| !p.times_out()));
    let deadlines: Vec<Deadline> = (0..64)
        .map(|_| deadlines(4).new_tree(&mut runner).unwrap().current())
        .collect();
    assert!(deadlines
        .iter()
        .any(|d| d.is_met() && d.steps_in_time() == d.steps.len()));
    assert!(deadlines.iter().any(|d| !d.is_met()));
    let pids: Vec<PidRecycling> = (0..64)
        .map(|_| pid_recycling().new_tree(&mut runner).unwrap().current())
        .collect();
    assert!(pids.iter().any(|p| p.is_recycled()));
    assert!(pids
        .iter()
        .any(|p| !p.is_recycled() && p.second_start > p.first_start));
}

/// Async code under test that takes a permit and gives it back after its work: `guarded`
/// gives it back from a destructor, so a cancelled or timed-out task gives it back too.
fn permit_subject(guarded: bool) -> AsyncSubject<selvedge::sync::atomic::AtomicUsize> {
    use selvedge::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    struct Permit(Arc<AtomicUsize>);
    impl Drop for Permit {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    AsyncSubject::new(
        || AtomicUsize::new(0),
        move |permits: Arc<AtomicUsize>, _task, runs_for| async move {
            permits.fetch_add(1, Ordering::SeqCst);
            if guarded {
                let _permit = Permit(permits);
                selvedge::time::sleep(runs_for).await;
            } else {
                selvedge::time::sleep(runs_for).await;
                permits.fetch_sub(1, Ordering::SeqCst);
            }
        },
        |permits| assert_eq!(permits.load(Ordering::SeqCst), 0, "a permit leaked"),
    )
}

#[test]
fn cancellation_patterns_find_a_leak_and_shrink_to_one_cancelled_task() {
    let leaky = permit_subject(false);
    let result = runner(64).run(&task_cancellations(4), |plans| {
        let verdict = leaky.check_cancellations(&plans);
        prop_assert!(verdict.passed(), "{verdict}");
        Ok(())
    });
    let Err(TestError::Fail(_, smallest)) = result else {
        panic!("expected the leak to be found, got {result:?}");
    };
    assert_eq!(
        smallest,
        vec![TaskPlan {
            task: 0,
            fate: TaskFate::Cancelled {
                after: Duration::ZERO
            }
        }]
    );
    let report = leaky.run_cancellations(&smallest, Config::default());
    assert!(report
        .failure()
        .expect("the leak")
        .message()
        .contains("a permit leaked"));

    let guarded = permit_subject(true);
    runner(24)
        .run(&task_cancellations(3), |plans| {
            let verdict = guarded.check_cancellations(&plans);
            prop_assert!(verdict.is_proved(), "{verdict}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn async_event_patterns_find_a_leak_when_a_timeout_drops_the_work() {
    let leaky = permit_subject(false);
    let verdict = leaky.check_events(&[
        AsyncEvent::Immediate,
        AsyncEvent::Timeout(Duration::from_millis(10)),
    ]);
    assert!(
        verdict
            .failure()
            .expect("dropped at the deadline")
            .message()
            .contains("a permit leaked"),
        "{verdict}"
    );
    // Nothing cancelled, nothing timed out: no leak, in any interleaving.
    let calm = leaky.check_events(&[
        AsyncEvent::Immediate,
        AsyncEvent::Delay(Duration::from_millis(3)),
    ]);
    assert!(calm.is_proved(), "no cancellation, no leak: {calm}");

    let guarded = permit_subject(true);
    runner(24)
        .run(&async_event_patterns(3), |events| {
            let verdict = guarded.check_events(&events);
            prop_assert!(verdict.is_proved(), "{verdict}");
            Ok(())
        })
        .unwrap();
}
