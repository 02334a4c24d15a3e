//! The table of small programs every strategy runs against, with the verdict each must reach.

mod common;

use common::{lost_update, lost_wakeup, mutex_counter, two_lock_deadlock};
use selvedge::sync::Mutex;
use selvedge::{explore, Config, FailureKind, Report, Strategy};

/// A thread locks a mutex it already holds.
fn relock() {
    let m = Mutex::new(0);
    let _first = m.lock().unwrap();
    let _second = m.lock().unwrap();
}

fn strategies() -> Vec<Strategy> {
    vec![
        Strategy::Random,
        Strategy::Pct { depth: 2 },
        Strategy::Pct { depth: 3 },
        Strategy::Pos,
        Strategy::Dfs,
        Strategy::Dpor,
    ]
}

fn run(
    strategy: Strategy,
    seed: u64,
    max_schedules: usize,
    f: impl Fn() + Send + Sync + 'static,
) -> Report {
    explore(
        Config {
            strategy,
            seed,
            max_schedules: Some(max_schedules),
            ..Default::default()
        },
        f,
    )
}

#[test]
fn every_strategy_finds_the_lost_update_within_100_schedules() {
    for strategy in strategies() {
        for seed in 0..20 {
            let report = run(strategy.clone(), seed, 100, lost_update);
            let failure = report
                .failure()
                .unwrap_or_else(|| panic!("{strategy:?} seed {seed} missed the lost update"));
            assert_eq!(failure.kind(), FailureKind::Panic);
            assert!(
                failure.message().contains("an increment was lost"),
                "{failure}"
            );
            assert!(report.schedules() <= 100);
        }
    }
}

#[test]
fn a_mutex_counter_passes_10000_random_and_10000_pct_schedules() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Pos] {
        let report = run(strategy.clone(), 3, 10_000, mutex_counter(3, 2));
        assert!(
            report.failure().is_none(),
            "{strategy:?}: {:?}",
            report.failure()
        );
        assert_eq!(report.schedules(), 10_000, "{strategy:?}");
        assert!(!report.complete(), "sampling never claims completeness");
        assert_eq!(report.coverage(), "sampled 10000 schedules");
    }
}

#[test]
fn counts_in_a_report_agree_with_their_nouns() {
    // Goal: one schedule, one preemption, one hidden operation: singular.
    let report = run(Strategy::Random, 0, 1, mutex_counter(1, 1));
    assert_eq!(report.coverage(), "sampled 1 schedule");
    // One row more than the table shows: exactly one is elided. (Two atomics in turn, so no
    // step repeats the one before: a run of repeats would be collapsed into one line.)
    let report = explore(
        Config {
            max_steps: 401,
            ..Default::default()
        },
        || {
            use selvedge::sync::atomic::{AtomicU64, Ordering::SeqCst};
            let (a, b) = (AtomicU64::new(0), AtomicU64::new(0));
            loop {
                a.fetch_add(1, SeqCst);
                b.fetch_add(1, SeqCst);
            }
        },
    );
    let text = report.failure().expect("a livelock").to_string();
    assert!(text.contains("  (1 operation not shown)"), "{text}");
}

#[test]
fn dfs_exhausts_two_threads_by_two_increments() {
    let report = run(Strategy::Dfs, 0, 1_000_000, mutex_counter(2, 2));
    assert!(report.failure().is_none(), "{:?}", report.failure());
    assert!(report.complete(), "{}", report.coverage());
    assert_eq!(report.coverage(), "complete");
    // Six orders of the four critical sections, times the points where main's joins can
    // slip in; pinned so a change in the scheduling points is noticed.
    assert_eq!(report.schedules(), 14);
}

#[test]
fn dfs_with_a_preemption_bound_says_what_it_covered() {
    let report = explore(
        Config {
            strategy: Strategy::Dfs,
            max_preemptions: Some(1),
            ..Default::default()
        },
        mutex_counter(2, 2),
    );
    assert!(report.failure().is_none());
    assert_eq!(report.coverage(), "complete up to 1 preemption");
    assert!(!report.complete());
    assert!(report.schedules() < 14);
}

#[test]
fn the_two_lock_deadlock_names_both_mutexes_and_their_lines() {
    for strategy in strategies() {
        let report = run(strategy.clone(), 1, 1_000, two_lock_deadlock);
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy:?} missed it"));
        assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
        let text = failure.to_string();
        assert!(text.contains("wait-for cycle: "), "{text}");
        for needle in [
            "Mutex#1 (created at",
            "Mutex#2 (created at",
            "held by",
            "acquired at",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // Both lock sites of the spawned thread and main appear with file:line.
        assert!(text.matches("tests/common/mod.rs:").count() >= 4, "{text}");
    }
}

#[test]
fn a_condvar_lost_wakeup_is_a_deadlock() {
    for strategy in strategies() {
        let report = run(strategy.clone(), 1, 1_000, lost_wakeup);
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy:?} missed it"));
        assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
        let text = failure.to_string();
        assert!(
            text.contains("waiting to be notified on Condvar#1"),
            "{text}"
        );
        assert!(text.contains("lost wakeup"), "{text}");
    }
}

#[test]
fn relocking_a_held_mutex_is_a_deadlock_of_one_task() {
    let report = run(Strategy::Random, 0, 10, relock);
    let failure = report.failure().expect("relock deadlocks");
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    let text = failure.to_string();
    assert!(text.contains("main (task 0) is blocked forever"), "{text}");
    assert!(text.contains("held by main (task 0) itself"), "{text}");
    assert_eq!(report.schedules(), 1);
}

#[test]
fn iterative_deepening_covers_bound_by_bound_and_finds_bugs_with_fewest_preemptions() {
    let bounded = |bound, max_schedules| {
        explore(
            Config {
                strategy: Strategy::Dfs,
                max_preemptions: Some(bound),
                max_schedules,
                ..Default::default()
            },
            mutex_counter(3, 2),
        )
    };
    let report = bounded(2, None);
    assert!(report.failure().is_none());
    assert_eq!(report.coverage(), "complete up to 2 preemptions");
    assert!(!report.complete());
    assert!(report.budget_note().is_none(), "{:?}", report.budget_note());

    // A budget that ends the run inside the round for bound 2 still reports bound 1.
    let rounds_0_and_1 = bounded(1, None).schedules();
    let report = bounded(2, Some(rounds_0_and_1 as usize + 3));
    assert_eq!(report.coverage(), "complete up to 1 preemption");
    assert!(report
        .budget_note()
        .unwrap()
        .contains("`Config::max_schedules`"));

    // The lost update needs one preemption: the round without preemptions passes, and the
    // deepening run finds it in the round that allows one.
    let lost = |bound| {
        explore(
            Config {
                strategy: Strategy::Dfs,
                max_preemptions: Some(bound),
                ..Default::default()
            },
            lost_update,
        )
    };
    let round_0 = lost(0);
    assert!(round_0.failure().is_none());
    assert_eq!(round_0.coverage(), "complete up to 0 preemptions");
    let failure = lost(3).failure().expect("found").clone();
    assert!(failure.schedule_number() > round_0.schedules());
    assert_eq!(
        lost(1).failure().map(|f| f.schedule_number()),
        Some(failure.schedule_number())
    );
}

#[test]
fn bounded_dpor_runs_one_round_below_loom_and_finds_the_bug_within_its_bound() {
    // Mutex 3x3 under loom 0.7 runs 66, 780 and 6,242 executions for bounds 1, 2 and 3
    // (BENCHMARKS.md measures both side by side); one BPOR round runs these, pinned.
    for (bound, pinned) in [(0, 6), (1, 42), (2, 192), (3, 552)] {
        let report = explore(
            Config {
                strategy: Strategy::Dpor,
                max_preemptions: Some(bound),
                ..Default::default()
            },
            mutex_counter(3, 3),
        );
        assert!(report.failure().is_none());
        assert_eq!(report.schedules(), pinned, "bound {bound}");
        assert_eq!(report.redundant_schedules(), 0);
    }
    // The lost update needs one preemption: bound 0 passes and says what it covered, bound 1
    // finds it.
    let lost = |bound| {
        explore(
            Config {
                strategy: Strategy::Dpor,
                max_preemptions: Some(bound),
                ..Default::default()
            },
            lost_update,
        )
    };
    let none = lost(0);
    assert!(none.failure().is_none());
    assert_eq!(none.coverage(), "complete up to 0 preemptions");
    let found = lost(1);
    assert_eq!(found.failure().expect("found").kind(), FailureKind::Panic);
}

#[test]
fn a_space_small_enough_is_complete_even_with_a_bound() {
    let report = explore(
        Config {
            strategy: Strategy::Dfs,
            max_preemptions: Some(10),
            ..Default::default()
        },
        mutex_counter(2, 1),
    );
    assert!(report.complete(), "{}", report.coverage());
}

#[test]
fn failures_are_shown_with_the_fewest_preemptions_found() {
    let find = |seed, minimise| {
        explore(
            Config {
                strategy: Strategy::Random,
                seed,
                max_schedules: Some(1_000),
                minimise,
                ..Default::default()
            },
            lost_update,
        )
        .failure()
        .expect("found")
        .clone()
    };
    let mut any_reduced = false;
    for seed in 0..20 {
        let raw = find(seed, false);
        let shown = find(seed, true);
        // The lost update needs exactly one preemption.
        assert_eq!(shown.preemptions(), 1, "seed {seed}:\n{shown}");
        assert_eq!(shown.kind(), raw.kind());
        assert_eq!(
            shown.schedule_number(),
            raw.schedule_number(),
            "where it was found"
        );
        if raw.preemptions() > 1 {
            any_reduced = true;
            let text = shown.to_string();
            assert!(
                text.contains(&format!("minimised from {}", raw.preemptions())),
                "{text}"
            );
        }
        // The minimised schedule replays to the same failure.
        let again = explore(
            Config {
                strategy: Strategy::Replay(shown.schedule().to_string()),
                ..Default::default()
            },
            lost_update,
        );
        assert_eq!(
            again.failure().map(|f| f.message().to_string()),
            Some(shown.message().to_string())
        );
    }
    assert!(
        any_reduced,
        "random schedules with extra preemptions were expected"
    );
}

#[test]
fn the_test_facing_entry_points_pass_correct_code_and_panic_with_the_report() {
    // Goal: `model` and `check_dfs`, called as a user's test calls them: silent on correct
    // code, a panic carrying the full report on a bug.
    selvedge::model(mutex_counter(2, 2));
    selvedge::check_dfs(mutex_counter(2, 2), None);
    for entry in [(|| selvedge::model(lost_update)) as fn(), || {
        selvedge::check_dfs(lost_update, None)
    }] {
        let payload = std::panic::catch_unwind(entry).expect_err("the lost update fails the test");
        let text = payload
            .downcast_ref::<String>()
            .expect("the report is the panic message");
        assert!(text.starts_with("selvedge found a panic: "), "{text}");
        assert!(text.contains("an increment was lost"), "{text}");
        assert!(text.contains("replay string: v1:"), "{text}");
    }
}
