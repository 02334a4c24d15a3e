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

mod common;

/// What must never change unnoticed: executions, their digest, and a hash of every replay
/// string (choices and operation fingerprints).
fn pinned(report: &selvedge::Report) -> (u64, u64, u64) {
    let strings = report
        .explored()
        .iter()
        .flat_map(|s| s.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    (report.schedules(), report.digest(), strings)
}

#[test]
fn schedules_are_pinned_across_versions() {
    // Goal: a change that alters which schedules any strategy explores (or how replay strings
    // read) fails here, so it is seen and made on purpose: saved regressions and published
    // replay strings depend on it. Update the table only for a deliberate change, and say so
    // in the commit.
    let programs: [(&str, fn()); 3] = [
        ("mixed", program),
        ("lost_update", common::lost_update),
        ("deadlock", common::two_lock_deadlock),
    ];
    let strategies = [
        ("Random", Strategy::Random, None),
        ("Pct2", Strategy::Pct { depth: 2 }, None),
        ("Pct3", Strategy::Pct { depth: 3 }, None),
        ("Pos", Strategy::Pos, None),
        ("Dfs", Strategy::Dfs, None),
        ("Dpor", Strategy::Dpor, None),
        ("Deepening", Strategy::Dfs, Some(2)),
        ("Bpor2", Strategy::Dpor, Some(2)),
    ];
    let mut table = String::new();
    for (name, program) in programs {
        for (label, strategy, bound) in &strategies {
            let report = explore(
                Config {
                    strategy: strategy.clone(),
                    seed: 42,
                    max_schedules: Some(200),
                    max_preemptions: *bound,
                    keep_schedules: true,
                    workers: Some(1),
                    minimise: false,
                    ..Default::default()
                },
                program,
            );
            let (n, digest, strings) = pinned(&report);
            table.push_str(&format!(
                "{name} {label} {n} {digest:016x} {strings:016x}\n"
            ));
        }
    }
    let expected = "\
mixed Random 200 8d1b26b4d8c5c95f 86802870393b0f38
mixed Pct2 200 7ae182102301e84f c25f805714549411
mixed Pct3 200 8d33c0b024f61d8b 76194e61d4b87d1d
mixed Pos 200 4ed6f27da5d291db 6455ba57993b521e
mixed Dfs 200 f4dfb00e88c67a87 bfd24fd30e0399cd
mixed Dpor 36 7d222be18bc6e4d9 932aa5fc8aff6e94
mixed Deepening 200 4efb4b75ce88b585 55c301200ed47d89
mixed Bpor2 60 2f9721e7441531d9 dd694c02301b59e9
lost_update Random 1 e3d82e56334f07ba a95b3448a6255874
lost_update Pct2 3 3d1c42bc7818d2f6 86a7e2cff7bf6eed
lost_update Pct3 4 b246e45e624a234d 1da8194498b99f0b
lost_update Pos 9 79b67c64bd9e9a3a c8dd0e8c6bb53a69
lost_update Dfs 4 b8716f7b68d9d8e5 e27082b96a312516
lost_update Dpor 2 9fbeae9ad363cd33 5ea4a06a0d4149b3
lost_update Deepening 7 a2f96dd7305be0fe 1219f13753343377
lost_update Bpor2 2 9fbeae9ad363cd33 5ea4a06a0d4149b3
deadlock Random 1 9c7b3d0be868db53 f065626f83c41469
deadlock Pct2 3 7c996e2751c2112b a2dc051b43e7a977
deadlock Pct3 3 908a3c500341ced5 223f44cf9b43ce6d
deadlock Pos 6 729f8479f02387be 8b6561d4e1052b2a
deadlock Dfs 3 490b4f20538ab395 bf3fd6026985e5b4
deadlock Dpor 2 51a67849aea7d410 425ce8c6a3fc0583
deadlock Deepening 5 6084521642098087 5d0115ca26cf3668
deadlock Bpor2 2 51a67849aea7d410 425ce8c6a3fc0583
";
    if table != expected {
        panic!("schedules changed; if that is deliberate, pin the new table:\n{table}");
    }
}
