//! The PostgreSQL anomaly catalogue again, with the asynchronous client (tokio-postgres) as
//! futures on a real multi-thread tokio runtime: the same verdicts as the threaded client.
//! The tests take one anomaly of each kind of outcome (silently lost, stopped by an error,
//! deadlocked); the example (`examples/anomalies.rs`) runs the whole async catalogue.

mod catalogue;

use catalogue::postgres_async as pg_async;
use catalogue::postgres_sync::{self as pg, Increment, Pg};
use catalogue::Tally;

fn show(row: &Tally) {
    eprintln!("{}\n{}", Tally::HEADER, row.row());
}

#[test]
fn lost_update_and_its_fix_through_an_async_client() {
    let counter = Pg::new(pg::COUNTER);
    let lost = catalogue::tally("lost update", "READ COMMITTED (async)", || {
        pg_async::lost_update(&counter, "READ COMMITTED", Increment::ReadThenWrite)
    });
    show(&lost);
    assert!(lost.complete);
    assert_eq!(lost.orders, Some(50));
    assert!(lost.anomalies > 0);
    let fixed = catalogue::tally("lost update", "FOR UPDATE (async)", || {
        pg_async::lost_update(&counter, "READ COMMITTED", Increment::ForUpdate)
    });
    show(&fixed);
    assert_eq!((fixed.anomalies, fixed.with_errors), (0, 0));
}

#[test]
fn write_skew_is_prevented_by_serializable_through_an_async_client() {
    let doctors = Pg::new(pg::DOCTORS);
    let serial = catalogue::tally("write skew", "SERIALIZABLE (async)", || {
        pg_async::write_skew(&doctors, "SERIALIZABLE")
    });
    show(&serial);
    assert!(serial.complete);
    assert_eq!(serial.anomalies, 0);
    assert!(
        serial
            .first_error
            .as_deref()
            .unwrap()
            .contains("ERROR 40001"),
        "{serial:?}"
    );
}

#[test]
fn deadlock_through_an_async_client() {
    let accounts = Pg::new(pg::ACCOUNTS);
    let row = catalogue::tally("deadlock", "update_both(1, 2) vs (2, 1) (async)", || {
        pg_async::deadlock(&accounts, false)
    });
    show(&row);
    assert!(row.anomalies > 0);
    assert!(row
        .first_report
        .unwrap()
        .contains("ERROR 40P01: deadlock detected"));
}
