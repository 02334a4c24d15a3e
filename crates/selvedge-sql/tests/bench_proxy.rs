//! The proxy benchmark at a tiny size, so it cannot rot: every way of running the workload
//! completes and every statement runs (the benchmark checks both).

#[path = "../benches/proxy.rs"]
mod bench;

#[test]
fn the_proxy_benchmark_runs_at_a_tiny_size() {
    let times = bench::measure(20, 1);
    assert_eq!(
        times.map(|(name, _)| name),
        [
            "direct",
            "proxy, pass-through",
            "proxy, orchestra task (each statement a turn)"
        ]
    );
}
