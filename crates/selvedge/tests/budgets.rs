//! Budgets: `max_schedules` holds exactly, `schedules()` counts the executions that ran, and a
//! search a budget cut short says which budget and how far it got, with one worker or many.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use selvedge::{explore, Config, Report, Strategy};

/// Explores `mutex_counter(threads, increments)` and counts how often the body really ran.
fn counted(config: Config, threads: usize, increments: usize) -> (Report, u64) {
    let runs = Arc::new(AtomicU64::new(0));
    let seen = runs.clone();
    let program = common::mutex_counter(threads, increments);
    let report = explore(config, move || {
        seen.fetch_add(1, Ordering::Relaxed);
        program();
    });
    let runs = runs.load(Ordering::Relaxed);
    (report, runs)
}

#[test]
fn max_schedules_holds_exactly_and_schedules_counts_every_run() {
    // Goal: with 1, 2 and 4 workers a cap of 500 on a 1,680-execution search runs the body at
    // most 500 times and `schedules()` says exactly how often it ran (2 workers used to report
    // 326 while the body ran 504 times).
    for workers in [1, 2, 4] {
        for _ in 0..5 {
            let (report, runs) = counted(
                Config {
                    strategy: Strategy::Dpor,
                    max_schedules: Some(500),
                    workers: Some(workers),
                    ..Default::default()
                },
                3,
                3,
            );
            assert!(report.failure().is_none());
            assert_eq!(report.schedules(), runs, "{workers} workers");
            assert_eq!(report.executions_run(), runs, "{workers} workers");
            assert!(runs <= 500, "{workers} workers ran {runs}");
            if workers == 1 {
                assert_eq!(runs, 500);
            }
            assert!(!report.complete());
            assert_eq!(
                report.budget_note(),
                Some(
                    format!(
                        "stopped after {runs} schedules: `Config::max_schedules` (500) was reached \
                         before the search was done"
                    )
                    .as_str()
                )
            );
        }
    }
}

#[test]
fn a_search_that_fits_its_budget_is_complete_with_any_workers() {
    // Goal: a budget equal to the search's size is not "reached": the search is complete.
    for workers in [1, 2] {
        let (report, runs) = counted(
            Config {
                strategy: Strategy::Dpor,
                max_schedules: Some(90),
                workers: Some(workers),
                ..Default::default()
            },
            3,
            2,
        );
        assert!(
            report.complete(),
            "{workers} workers: {:?}",
            report.budget_note()
        );
        assert_eq!(report.schedules(), 90);
        assert_eq!(report.budget_note(), None);
        assert!(runs >= 90);
    }
}

#[test]
fn a_time_budget_stops_the_search_and_says_so() {
    // Goal: `time_budget` ends a search far too big to finish, and the report names it.
    for workers in [1, 2] {
        let (report, runs) = counted(
            Config {
                strategy: Strategy::Dpor,
                time_budget: Some(Duration::from_millis(50)),
                workers: Some(workers),
                ..Default::default()
            },
            4,
            4,
        );
        assert!(report.failure().is_none());
        assert!(!report.complete());
        assert_eq!(report.schedules(), runs, "{workers} workers");
        assert_eq!(
            report.budget_note(),
            Some(
                format!(
                    "stopped after {runs} schedules: `Config::time_budget` (50ms) was reached \
                     before the search was done"
                )
                .as_str()
            )
        );
    }
}

#[test]
fn dfs_with_a_cap_runs_exactly_that_many_schedules() {
    // Goal: a sequential exhaustive search stops at the cap exactly, and says so.
    let (report, runs) = counted(
        Config {
            strategy: Strategy::Dfs,
            max_schedules: Some(10),
            ..Default::default()
        },
        3,
        2,
    );
    assert_eq!((report.schedules(), runs), (10, 10));
    assert_eq!(report.coverage(), "incomplete after 10 schedules");
    assert!(report.budget_note().is_some());
}

#[test]
fn a_budget_of_one_schedule_says_so_in_the_singular() {
    // Goal: the budget note reads as English at every count.
    let (report, runs) = counted(
        Config {
            strategy: Strategy::Dfs,
            max_schedules: Some(1),
            ..Default::default()
        },
        2,
        1,
    );
    assert_eq!(runs, 1);
    assert_eq!(
        report.budget_note(),
        Some(
            "stopped after 1 schedule: `Config::max_schedules` (1) was reached before the \
             search was done"
        )
    );
}

#[test]
fn a_search_that_finishes_as_its_time_budget_runs_out_is_complete() {
    // Goal: a time budget that expires during the last execution does not make a finished
    // search look cut short.
    let report = explore(
        Config {
            strategy: Strategy::Dpor,
            time_budget: Some(Duration::from_millis(10)),
            workers: Some(1),
            ..Default::default()
        },
        || std::thread::sleep(Duration::from_millis(50)),
    );
    assert!(report.complete(), "{:?}", report.budget_note());
    assert_eq!(report.budget_note(), None);
    assert_eq!(report.schedules(), 1);
}

#[test]
fn a_budget_as_big_as_the_search_is_never_reached_with_many_workers() {
    // Goal: with blocks of reservations held by parallel workers, a budget equal to the
    // search's size used to be "reached" after fewer executions (2,481 of 2,520) when one
    // worker was refused while others still held unused rights.
    let four_by_two = || {
        use selvedge::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let x = selvedge::sync::Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let x = x.clone();
                selvedge::thread::spawn(move || {
                    x.store(1, SeqCst);
                    x.store(2, SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    };
    let alone = explore(
        Config {
            strategy: Strategy::Dpor,
            workers: Some(1),
            ..Default::default()
        },
        four_by_two,
    );
    assert!(alone.complete());
    let size = alone.schedules();
    for workers in [4, 8] {
        for _ in 0..10 {
            let report = explore(
                Config {
                    strategy: Strategy::Dpor,
                    workers: Some(workers),
                    max_schedules: Some(size as usize),
                    ..Default::default()
                },
                four_by_two,
            );
            // Parallel workers may re-run a branch whose continuation grew meanwhile; that work
            // counts against the budget too. So a cut is allowed only once the whole budget was
            // really spent.
            match report.budget_note() {
                None => {
                    assert!(report.complete(), "{workers} workers");
                    assert_eq!(report.schedules(), size);
                }
                Some(note) => {
                    assert_eq!(report.executions_run(), size, "{workers} workers: {note}")
                }
            }
        }
    }
}
