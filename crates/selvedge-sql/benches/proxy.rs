//! Statements per second through the PostgreSQL proxy against the same workload on a direct
//! connection: one client running `UPDATE ... SET v = v + 1` in autocommit, one statement at a
//! time, on a throwaway cluster. Three ways: direct; through the proxy outside any orchestra
//! (pass-through, the proxy's forwarding cost); and through the proxy as the one task of an
//! orchestra (every statement a syncpoint: the cost of a turn on top).
//!
//! ```sh
//! cargo bench -p selvedge-sql --bench proxy            # 5,000 statements each, best of 3
//! cargo bench -p selvedge-sql --bench proxy -- 20000   # another count
//! ```

use std::time::{Duration, Instant};

use selvedge::orchestra::Orchestra;
use selvedge_sql::postgres::{Proxy, TempCluster};

/// Runs `n` increments on a fresh connection to `url`; checks the counter went up by `n`.
fn workload(url: &str, n: usize) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let before: i64 = client
        .query_one("SELECT v FROM counter", &[])
        .unwrap()
        .get(0);
    for _ in 0..n {
        client
            .batch_execute("UPDATE counter SET v = v + 1")
            .unwrap();
    }
    let after: i64 = client
        .query_one("SELECT v FROM counter", &[])
        .unwrap()
        .get(0);
    assert_eq!(after - before, n as i64, "every statement ran");
}

fn best_of(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

/// Times the workload `rounds` times each way on `n` statements and returns the best times:
/// direct, through the proxy outside any orchestra, and as an orchestra task.
pub(crate) fn measure(n: usize, rounds: usize) -> [(&'static str, Duration); 3] {
    let url = TempCluster::shared().unwrap().create_database().unwrap();
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .batch_execute("CREATE TABLE counter (v bigint NOT NULL); INSERT INTO counter VALUES (0)")
        .unwrap();
    let proxy = std::sync::Arc::new(Proxy::start(&url).unwrap());
    let direct = best_of(rounds, || workload(&url, n));
    let passthrough = best_of(rounds, || workload(&proxy.url(), n));
    let orchestrated = best_of(rounds, || {
        let proxy = proxy.clone();
        let counts = Orchestra::new()
            .config(selvedge::Config {
                max_steps: n + 100,
                ..Default::default()
            })
            .task(move |_| workload(&proxy.url(), n))
            .run();
        // Two queries and n statements, each a syncpoint: one turn more than syncpoints.
        assert_eq!(counts, vec![n + 3]);
    });
    [
        ("direct", direct),
        ("proxy, pass-through", passthrough),
        (
            "proxy, orchestra task (each statement a turn)",
            orchestrated,
        ),
    ]
}

#[allow(dead_code)] // A test includes this file for `measure` alone.
fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let rounds = 3;
    let times = measure(n, rounds);
    let direct = times[0].1;
    let per_second = |d: Duration| n as f64 / d.as_secs_f64();
    println!("{n} statements, best of {rounds} rounds, one connection, autocommit UPDATE");
    println!("| path | statements/s | µs/statement | time vs direct |");
    println!("|---|---|---|---|");
    for (name, d) in times {
        println!(
            "| {name} | {:.0} | {:.1} | {:.2}× |",
            per_second(d),
            d.as_secs_f64() * 1e6 / n as f64,
            d.as_secs_f64() / direct.as_secs_f64()
        );
    }
}
