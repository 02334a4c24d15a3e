//! Preemption-bounded exhaustive search: selvedge's one-round bounded partial-order reduction
//! (`Strategy::Dpor` with `Config::max_preemptions`) against loom 0.7 with
//! `Builder::preemption_bound`, on mutex T×K (T threads each lock a `Mutex<u64>` and increment
//! it K times; main joins and asserts the total), for bounds 1, 2 and 3, in one run.
//!
//! Both run the same program text (`selvedge_bench::define_programs!`). Executions are counted
//! by a std atomic bumped at the start of every execution, invisible to both schedulers, and
//! checked against selvedge's own report. Execution counts are exact and repeatable; times are
//! wall-clock on a shared machine, so read their ratio, not their value.
//!
//! Run with `cargo bench -p selvedge-bench --bench bounded`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

mod loom_programs {
    selvedge_bench::define_programs!(loom);
}

fn selvedge_run(threads: usize, increments: usize, bound: usize) -> (u64, Duration) {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let start = Instant::now();
    let report = selvedge::explore(
        selvedge::Config {
            strategy: selvedge::Strategy::Dpor,
            max_preemptions: Some(bound),
            workers: Some(1),
            ..Default::default()
        },
        move || {
            EXECUTIONS.fetch_add(1, Ordering::SeqCst);
            selvedge_bench::selvedge_mutex_counter(threads, increments);
        },
    );
    let time = start.elapsed();
    assert!(
        report.failure().is_none() && report.error().is_none(),
        "{report:?}"
    );
    assert_eq!(EXECUTIONS.load(Ordering::SeqCst) as u64, report.schedules());
    (report.schedules(), time)
}

fn loom_run(threads: usize, increments: usize, bound: usize) -> (u64, Duration) {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let mut builder = loom::model::Builder::new();
    // `Builder::new` reads LOOM_* variables: set every field that matters explicitly.
    builder.max_threads = 5;
    builder.max_branches = 1_000;
    builder.max_permutations = None;
    builder.max_duration = None;
    builder.checkpoint_file = None;
    builder.log = false;
    builder.location = false;
    builder.preemption_bound = Some(bound);
    let start = Instant::now();
    builder.check(move || {
        EXECUTIONS.fetch_add(1, Ordering::SeqCst);
        loom_programs::mutex_counter(threads, increments);
    });
    (EXECUTIONS.load(Ordering::SeqCst) as u64, start.elapsed())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` asks for a listing; there is nothing to list.
        return;
    }
    println!("| program | bound | selvedge executions | loom executions | executions ratio | selvedge time | loom time | time ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    for (threads, increments) in [(2, 3), (3, 2), (3, 3)] {
        for bound in 1..=3 {
            let (s_execs, s_time) = selvedge_run(threads, increments, bound);
            let (l_execs, l_time) = loom_run(threads, increments, bound);
            println!(
                "| mutex {threads}×{increments} | {bound} | {s_execs} | {l_execs} | {:.2} | {:.1} ms | {:.1} ms | {:.2} |",
                s_execs as f64 / l_execs as f64,
                s_time.as_secs_f64() * 1e3,
                l_time.as_secs_f64() * 1e3,
                s_time.as_secs_f64() / l_time.as_secs_f64(),
            );
            assert!(
                s_execs < l_execs,
                "selvedge ran {s_execs} executions, loom {l_execs}, for mutex {threads}×{increments} with bound {bound}"
            );
        }
    }
}
