//! The stress harness's own cost per operation: an empty operation run under `selvedge::stress`
//! with nothing, with latency histograms, with an invariant checked after every operation, and
//! with a fault every 1,000 operations as well — on 1 thread (the cost alone) and 2 threads
//! (this machine's cores). So users know how much of a measured latency is the harness.
//!
//! Each figure is the run's wall time (start barrier to last thread done) divided by the
//! operations per thread: nanoseconds per operation per thread. Median of 5 runs, after a
//! warm-up. Each run's outcome is checked (every operation ran, nothing failed, the invariant
//! was checked after each) before its time counts.
//!
//! Run with `cargo bench -p selvedge-bench --bench stress_overhead [-- --iterations N]`.

use selvedge_bench::{stress_empty_ops, HarnessLoad};

const DEFAULT_ITERATIONS: u64 = 1_000_000;
const REPEATS: usize = 5;

fn ns_per_op(load: HarnessLoad, threads: usize, iterations: u64) -> f64 {
    let mut runs: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let outcome = stress_empty_ops(load, threads, iterations);
            outcome.elapsed().as_nanos() as f64 / iterations as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[REPEATS / 2]
}

/// What two clock reads cost here: most of the histograms' share, and a property of the machine
/// (a virtual machine's clock can be several times slower than bare metal's).
fn clock_pair_ns() -> f64 {
    let n = 2_000_000u32;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(std::hint::black_box(std::time::Instant::now()).elapsed());
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn main() {
    let mut iterations = DEFAULT_ITERATIONS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--iterations" {
            iterations = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--iterations takes a number");
        }
    }
    stress_empty_ops(HarnessLoad::HistogramsInvariantAndFault, 2, iterations / 10);
    println!(
        "Empty operation under selvedge::stress, {iterations} operations per thread, median of {REPEATS} runs.\n"
    );
    println!("| harness load | 1 thread: ns/op | ratio to bare | 2 threads: ns/op per thread | ratio to bare |");
    println!("|---|---:|---:|---:|---:|");
    let loads = [
        (HarnessLoad::Bare, "bare (no histograms, no invariant)"),
        (HarnessLoad::Histograms, "latency histograms"),
        (
            HarnessLoad::HistogramsAndInvariant,
            "histograms + invariant after each op",
        ),
        (
            HarnessLoad::HistogramsInvariantAndFault,
            "histograms + invariant + fault every 1,000 ops",
        ),
    ];
    let mut bare = [0.0f64; 2];
    for (load, label) in loads {
        let one = ns_per_op(load, 1, iterations);
        let two = ns_per_op(load, 2, iterations);
        if load == HarnessLoad::Bare {
            bare = [one, two];
        }
        println!(
            "| {label} | {one:.1} | {:.2} | {two:.1} | {:.2} |",
            one / bare[0],
            two / bare[1]
        );
    }
    println!(
        "\nTwo `Instant::now()` reads (what a latency sample costs) take {:.1} ns on this machine.",
        clock_pair_ns()
    );
}
