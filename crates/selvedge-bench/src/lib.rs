//! Test programs shared by selvedge's benchmarks, written against selvedge's API.
//!
//! The benchmarks under `benches/` run these programs (and shuttle or loom ports of them) and
//! time the exploration; the tests below run them at a tiny size so the benchmarks cannot rot.

use selvedge::sync::{Arc, Mutex};

/// `threads` threads each increment a shared `Mutex<u64>` `increments` times; the main thread
/// joins them all and asserts the total is `threads * increments`.
pub fn selvedge_mutex_counter(threads: usize, increments: usize) {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            selvedge::thread::spawn(move || {
                for _ in 0..increments {
                    *counter.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let total = *counter.lock().unwrap();
    assert_eq!(total, (threads * increments) as u64);
}

/// Runs [`selvedge_mutex_counter`] under selvedge's random strategy for `schedules`
/// executions with seed `seed`, and returns the report.
pub fn explore_mutex_counter_random(
    threads: usize,
    increments: usize,
    schedules: usize,
    seed: u64,
) -> selvedge::Report {
    selvedge::explore(
        selvedge::Config {
            strategy: selvedge::Strategy::Random,
            max_schedules: Some(schedules),
            seed,
            ..Default::default()
        },
        move || selvedge_mutex_counter(threads, increments),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutex_counter_runs_under_random() {
        let report = explore_mutex_counter_random(2, 2, 20, 1);
        assert!(report.failure().is_none(), "unexpected failure: {report:?}");
        assert_eq!(report.schedules(), 20);
    }
}
