//! Per-execution cost of an async program under selvedge's random strategy against shuttle
//! 0.9's `future::spawn` + `check_random`, on the same program: a producer task sends 3
//! values on a bounded channel of capacity 1 and drops its sender; a consumer task receives
//! until the channel closes, each receive raced against a timeout; the main task joins both
//! and asserts every message arrived. A third row runs the same program with selvedge's model
//! threads instead of tasks, to show what the async path costs over the thread path.
//!
//! Run with `cargo bench -p selvedge-bench --bench async_random [-- --schedules N]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MESSAGES: u32 = 3;
const DEFAULT_SCHEDULES: usize = 10_000;
const WARMUP_SCHEDULES: usize = 500;
const REPEATS: usize = 5;
const SEED: u64 = 1;

/// Executions of each tool's program that reached their final assertion and passed it.
static SELVEDGE_PASSED: AtomicU64 = AtomicU64::new(0);
static SHUTTLE_PASSED: AtomicU64 = AtomicU64::new(0);
static THREADS_PASSED: AtomicU64 = AtomicU64::new(0);

/// The same program with model threads instead of tasks (`sync_channel(1)` and
/// `recv_timeout`), for reference: what the async path costs over the thread path.
fn selvedge_threads_channel_timeout(messages: u32) {
    let (tx, rx) = selvedge::sync::mpsc::sync_channel::<u32>(1);
    let producer = selvedge::thread::spawn(move || {
        for i in 0..messages {
            tx.send(i).expect("the consumer is alive");
        }
    });
    let consumer = selvedge::thread::spawn(move || {
        let mut received = 0;
        while rx.recv_timeout(Duration::from_secs(1)).is_ok() {
            received += 1;
        }
        received
    });
    producer.join().expect("the producer completes");
    let received = consumer.join().expect("the consumer completes");
    assert_eq!(received, messages, "a message was lost");
}

fn run_threads(schedules: usize) -> Duration {
    THREADS_PASSED.store(0, Ordering::SeqCst);
    let config = selvedge::Config {
        strategy: selvedge::Strategy::Random,
        max_schedules: Some(schedules),
        seed: SEED,
        ..Default::default()
    };
    let start = Instant::now();
    let report = selvedge::explore(config, || {
        selvedge_threads_channel_timeout(MESSAGES);
        THREADS_PASSED.fetch_add(1, Ordering::Relaxed);
    });
    let elapsed = start.elapsed();
    assert!(
        report.failure().is_none(),
        "selvedge found a failure: {report:?}"
    );
    assert_eq!(report.schedules(), schedules as u64);
    assert_eq!(THREADS_PASSED.load(Ordering::SeqCst), schedules as u64);
    elapsed
}

/// The program against shuttle 0.9. Its channel is the `futures` crate's (shuttle 0.9 has no
/// async channel), and shuttle has no clock: `shuttle::future` offers no timer, and a
/// timeout there fires only when the test fires it by hand. So each receive races a timer
/// that never fires, which is also what the model's virtual clock gives this program.
fn shuttle_async_channel_timeout(messages: u32) {
    use futures::{SinkExt, StreamExt};
    shuttle::future::block_on(async move {
        let (mut tx, mut rx) = futures::channel::mpsc::channel::<u32>(1);
        let producer = shuttle::future::spawn(async move {
            for i in 0..messages {
                tx.send(i).await.expect("the consumer is alive");
            }
        });
        let consumer = shuttle::future::spawn(async move {
            let mut received = 0;
            loop {
                let timer = std::future::pending::<()>();
                let next = rx.next();
                futures::pin_mut!(timer);
                match futures::future::select(next, timer).await {
                    futures::future::Either::Left((Some(_), _)) => received += 1,
                    _ => break,
                }
            }
            received
        });
        producer.await.expect("the producer completes");
        let received = consumer.await.expect("the consumer completes");
        assert_eq!(received, messages, "a message was lost");
    });
}

fn run_selvedge(schedules: usize) -> Duration {
    SELVEDGE_PASSED.store(0, Ordering::SeqCst);
    let config = selvedge::Config {
        strategy: selvedge::Strategy::Random,
        max_schedules: Some(schedules),
        seed: SEED,
        ..Default::default()
    };
    let start = Instant::now();
    let report = selvedge::explore(config, || {
        selvedge_bench::selvedge_async_channel_timeout(MESSAGES);
        SELVEDGE_PASSED.fetch_add(1, Ordering::Relaxed);
    });
    let elapsed = start.elapsed();
    assert!(
        report.failure().is_none(),
        "selvedge found a failure: {report:?}"
    );
    assert!(
        report.error().is_none(),
        "selvedge could not run: {report:?}"
    );
    assert_eq!(report.schedules(), schedules as u64);
    assert_eq!(SELVEDGE_PASSED.load(Ordering::SeqCst), schedules as u64);
    elapsed
}

fn run_shuttle(schedules: usize) -> Duration {
    SHUTTLE_PASSED.store(0, Ordering::SeqCst);
    let start = Instant::now();
    shuttle::check_random(
        || {
            shuttle_async_channel_timeout(MESSAGES);
            SHUTTLE_PASSED.fetch_add(1, Ordering::Relaxed);
        },
        schedules,
    );
    let elapsed = start.elapsed();
    assert_eq!(SHUTTLE_PASSED.load(Ordering::SeqCst), schedules as u64);
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `--schedules N` overrides the default; every other argument (cargo passes `--bench`) is
/// ignored.
fn schedules_from_args() -> usize {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = if arg == "--schedules" {
            args.next()
        } else {
            arg.strip_prefix("--schedules=").map(str::to_string)
        };
        if let Some(value) = value {
            return match value.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    eprintln!("--schedules expects a positive integer, got {value:?}");
                    std::process::exit(2);
                }
            };
        }
    }
    DEFAULT_SCHEDULES
}

fn main() {
    let schedules = schedules_from_args();
    run_selvedge(WARMUP_SCHEDULES);
    run_shuttle(WARMUP_SCHEDULES);
    run_threads(WARMUP_SCHEDULES);
    let mut selvedge_samples = Vec::with_capacity(REPEATS);
    let mut shuttle_samples = Vec::with_capacity(REPEATS);
    let mut threads_samples = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        selvedge_samples.push(run_selvedge(schedules));
        shuttle_samples.push(run_shuttle(schedules));
        threads_samples.push(run_threads(schedules));
    }
    let rows = [
        ("selvedge (Strategy::Random)", median(selvedge_samples)),
        (
            "shuttle 0.9 (future::spawn + check_random)",
            median(shuttle_samples),
        ),
        (
            "for reference: selvedge, threads (sync_channel, recv_timeout)",
            median(threads_samples),
        ),
    ];
    let per_schedule = |total: Duration| total.as_secs_f64() * 1e6 / schedules as f64;
    let fastest = rows
        .iter()
        .map(|&(_, total)| per_schedule(total))
        .fold(f64::INFINITY, f64::min);
    println!(
        "Async channel + timeout: 2 tasks, {MESSAGES} messages through a channel of capacity 1, \
         each receive raced against a timeout; {schedules} schedules per run, median of \
         {REPEATS} runs after a {WARMUP_SCHEDULES}-schedule warm-up.\n"
    );
    println!("| tool | schedules | total time | µs per schedule | ratio to fastest |");
    println!("|---|---:|---:|---:|---:|");
    for &(tool, total) in &rows {
        let us = per_schedule(total);
        println!(
            "| {tool} | {schedules} | {:.1} ms | {us:.2} | {:.2} |",
            total.as_secs_f64() * 1e3,
            us / fastest
        );
    }
    let ratio = per_schedule(rows[0].1) / per_schedule(rows[1].1);
    println!("\nselvedge / shuttle time per schedule: {ratio:.2} (target <= 0.50)");
    println!(
        "\nBias: selvedge runs its tokio facade (`mpsc::channel`, `time::timeout`: a receive \
         waits on the message and on a timer of the virtual clock, both modelled); shuttle runs \
         the `futures` crate's channel and a timer that never fires (shuttle 0.9 has no clock), \
         so its timer costs nothing. selvedge records a full trace per execution and uses a \
         fixed seed ({SEED}); shuttle draws a fresh seed per run. Both bodies bump a std \
         atomic once per execution."
    );
}
