//! What a syncpoint costs outside any selvedge run, against an empty loop, and what a turn of
//! the orchestra costs on real threads and on tokio runtimes: turns per second, and the cost
//! of one hand-off (the task's thread stops at its syncpoint, the conductor asks the strategy,
//! the chosen task's thread goes on).
//!
//! Run with `cargo bench -p selvedge-bench --bench orchestra`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use selvedge_bench::{orchestra_turns, TurnTasks};

const LOOP_ITERATIONS: u64 = 200_000_000;
const REPEATS: usize = 5;
const SYNCPOINTS_PER_TASK: usize = 20_000;
const SMALL_REPEATS: usize = 50;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn empty_loop() -> Duration {
    let start = Instant::now();
    for i in 0..LOOP_ITERATIONS {
        black_box(i);
    }
    start.elapsed()
}

fn syncpoint_loop() -> Duration {
    let start = Instant::now();
    for i in 0..LOOP_ITERATIONS {
        black_box(i);
        selvedge::syncpoint!();
    }
    start.elapsed()
}

/// The floor a turn hand-off stands on: two threads passing a token back and forth through a
/// `Mutex` and two `Condvar`s (each notified after the lock is released), `rounds` round trips.
fn ping_pong(rounds: u64) -> Duration {
    use std::sync::{Arc, Condvar, Mutex};
    let shared = Arc::new((Mutex::new(0u64), Condvar::new(), Condvar::new()));
    let other = shared.clone();
    let start = Instant::now();
    let partner = std::thread::spawn(move || {
        let (m, ping, pong) = &*other;
        for i in 0..rounds {
            let mut n = m.lock().unwrap();
            while *n != 2 * i + 1 {
                n = ping.wait(n).unwrap();
            }
            *n += 1;
            drop(n);
            pong.notify_one();
        }
    });
    let (m, ping, pong) = &*shared;
    for i in 0..rounds {
        *m.lock().unwrap() = 2 * i + 1;
        ping.notify_one();
        let mut n = m.lock().unwrap();
        while *n != 2 * i + 2 {
            n = pong.wait(n).unwrap();
        }
    }
    partner.join().unwrap();
    start.elapsed()
}

fn per(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

fn main() {
    println!(
        "## syncpoint!() outside any run, {LOOP_ITERATIONS} iterations, median of {REPEATS}\n"
    );
    let mut empty = Vec::new();
    let mut with = Vec::new();
    for _ in 0..REPEATS {
        empty.push(empty_loop());
        with.push(syncpoint_loop());
    }
    let (empty, with) = (median(empty), median(with));
    println!("| loop body | total | ns per iteration |");
    println!("|---|---:|---:|");
    println!(
        "| `black_box(i)` | {empty:.1?} | {:.3} |",
        per(empty, LOOP_ITERATIONS)
    );
    println!(
        "| `black_box(i); syncpoint!();` | {with:.1?} | {:.3} |",
        per(with, LOOP_ITERATIONS)
    );
    println!(
        "\nsyncpoint cost: {:.3} ns per call ({:.2}x the empty loop)\n",
        per(with.saturating_sub(empty), LOOP_ITERATIONS),
        with.as_secs_f64() / empty.as_secs_f64()
    );

    println!(
        "## orchestra turns: 2 tasks x {SYNCPOINTS_PER_TASK} syncpoints ({} turns), one schedule, median of {REPEATS}\n",
        2 * (SYNCPOINTS_PER_TASK + 1)
    );
    let rounds = 40_002;
    let floor = median((0..REPEATS).map(|_| ping_pong(rounds)).collect());
    let floor_us = per(floor, rounds) / 1000.0;
    println!(
        "floor: a Mutex + Condvar ping-pong between two threads takes {floor_us:.2} µs per round trip ({rounds} round trips in {floor:.1?})\n"
    );
    println!("| tasks | strategy | turns | total | turns per second | µs per turn | ratio to the floor |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (where_, label) in [
        (TurnTasks::Threads, "OS threads"),
        (TurnTasks::CurrentThread, "tokio current-thread"),
        (TurnTasks::MultiThread, "tokio multi-thread (2 workers)"),
    ] {
        for (strategy, name) in [
            (selvedge::Strategy::Dfs, "Dfs (first schedule: serial)"),
            (
                selvedge::Strategy::Random,
                "Random (seed 1: switches often)",
            ),
        ] {
            let mut times = Vec::new();
            let mut turns = 0;
            for _ in 0..REPEATS {
                let config = selvedge::Config {
                    strategy: strategy.clone(),
                    max_schedules: Some(1),
                    seed: 1,
                    ..Default::default()
                };
                let start = Instant::now();
                turns = orchestra_turns(2, SYNCPOINTS_PER_TASK, where_, config);
                times.push(start.elapsed());
            }
            let t = median(times);
            let turn_us = per(t, turns) / 1000.0;
            println!(
                "| {label} | {name} | {turns} | {t:.1?} | {:.0} | {turn_us:.2} | {:.2} |",
                turns as f64 / t.as_secs_f64(),
                turn_us / floor_us
            );
        }
    }

    println!(
        "\n## whole small schedules: 2 tasks x 2 syncpoints, every order (20 schedules), median of {SMALL_REPEATS} explorations\n"
    );
    println!("| tasks | schedules | total | µs per schedule |");
    println!("|---|---:|---:|---:|");
    for (where_, label) in [
        (TurnTasks::Threads, "OS threads"),
        (TurnTasks::CurrentThread, "tokio current-thread"),
        (TurnTasks::MultiThread, "tokio multi-thread (2 workers)"),
    ] {
        let mut times = Vec::new();
        for _ in 0..SMALL_REPEATS {
            let start = Instant::now();
            let turns = orchestra_turns(2, 2, where_, selvedge::Config::default());
            times.push(start.elapsed());
            assert_eq!(turns, 20 * 6);
        }
        let t = median(times);
        println!("| {label} | 20 | {t:.1?} | {:.1} |", per(t, 20) / 1000.0);
    }
    println!(
        "\nBias: each schedule starts fresh OS threads (or a fresh runtime) for its tasks, and a \
         turn is a real hand-off through a mutex and condition variables (or a waker): these are \
         the costs a user pays. The turn figures include each schedule's start-up, spread over \
         its turns."
    );
}
