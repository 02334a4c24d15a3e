//! The anomaly catalogue: lost updates, write skew, check-then-insert duplicates and a
//! deadlock, on a throwaway PostgreSQL (through the proxy, with a threaded and an async client)
//! and on SQLite, each at the isolation levels that allow it and with the fixes that stop it.
//! Prints, per anomaly and setting, the schedules explored, the distinct orders the server let
//! run, how many showed the anomaly or an error, and the first anomaly's report.
//!
//! ```sh
//! cargo run --release -p selvedge-sql --example anomalies
//! ```

#[path = "../tests/catalogue/mod.rs"]
mod catalogue;

use catalogue::Tally;

fn main() {
    let mut rows = catalogue::postgres_sync::catalogue();
    rows.extend(catalogue::postgres_async::catalogue());
    rows.extend(catalogue::sqlite::catalogue());
    println!("{}", Tally::HEADER);
    for row in &rows {
        println!("{}", row.row());
    }
    for row in &rows {
        if let Some(report) = &row.first_report {
            println!("\n## {}: {}\n\n{report}", row.anomaly, row.setting);
        }
    }
}
