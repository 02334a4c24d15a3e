//! Same seed, same config: the same schedules, byte for byte.

use selvedge::sync::{Arc, Mutex, RwLock};
use selvedge::{explore, Config, Strategy};

fn program() {
    let m = Arc::new(Mutex::new(0));
    let l = Arc::new(RwLock::new(0));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let (m, l) = (m.clone(), l.clone());
            selvedge::thread::spawn(move || {
                *m.lock().unwrap() += i;
                if i % 2 == 0 {
                    *l.write().unwrap() += 1;
                } else {
                    let _ = *l.read().unwrap();
                }
                selvedge::thread::yield_now();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn run(strategy: Strategy, seed: u64) -> selvedge::Report {
    explore(
        Config {
            strategy,
            seed,
            max_schedules: Some(300),
            keep_schedules: true,
            ..Default::default()
        },
        program,
    )
}

#[test]
fn the_same_seed_gives_identical_schedules() {
    for strategy in [
        Strategy::Random,
        Strategy::Pct { depth: 3 },
        Strategy::Pos,
        Strategy::Dfs,
    ] {
        let first = run(strategy.clone(), 42);
        let second = run(strategy.clone(), 42);
        assert_eq!(first.schedules(), 300, "{strategy:?}");
        assert_eq!(first.explored(), second.explored(), "{strategy:?}");
        assert_eq!(first.digest(), second.digest(), "{strategy:?}");
    }
}

#[test]
fn different_seeds_give_different_schedules() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Pos] {
        let a = run(strategy.clone(), 1);
        let b = run(strategy.clone(), 2);
        assert_ne!(a.explored(), b.explored(), "{strategy:?}");
    }
}

#[test]
fn randomized_strategies_explore_many_distinct_schedules() {
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Pos] {
        let report = run(strategy.clone(), 9);
        let mut distinct = report.explored().to_vec();
        distinct.sort();
        distinct.dedup();
        assert!(
            distinct.len() > 30,
            "{strategy:?} explored only {} distinct schedules",
            distinct.len()
        );
    }
}
