//! The anomaly catalogue on SQLite (the bundled library): a read-then-write increment loses
//! updates without a transaction; inside a deferred `BEGIN` the second writer gets
//! `SQLITE_BUSY` at once instead (whatever the busy timeout); `BEGIN IMMEDIATE` waits for
//! the lock, which the orchestra sees as a stall, and loses nothing; `SET v = v + 1` loses
//! nothing.

mod catalogue;

use catalogue::sqlite::{self as lite, Increment, Lite};
use catalogue::Tally;

fn show(row: &Tally) {
    eprintln!("{}\n{}", Tally::HEADER, row.row());
}

#[test]
fn read_then_write_without_a_transaction_loses_updates() {
    let db = Lite::new();
    let row = catalogue::tally("lost update", "no transaction", || {
        lite::lost_update(&db, Increment::Autocommit)
    });
    show(&row);
    assert!(row.complete);
    // Two tasks × (SELECT, UPDATE): 6 orders, and the 4 that interleave the reads lose one.
    assert_eq!((row.schedules, row.anomalies, row.with_errors), (6, 4, 0));
    let report = row.first_report.unwrap();
    assert!(
        report.contains("UPDATE counter SET v = 1 WHERE id = 1"),
        "parameters are filled in: {report}"
    );
}

#[test]
fn a_deferred_transaction_gets_busy_instead_of_losing_an_update() {
    let db = Lite::new();
    let row = catalogue::tally("lost update", "BEGIN", || {
        lite::lost_update(&db, Increment::Deferred)
    });
    show(&row);
    assert!(row.complete);
    assert_eq!(row.anomalies, 0);
    assert!(row.with_errors > 0);
    assert!(
        row.first_error
            .as_deref()
            .unwrap()
            .contains("database is locked"),
        "{row:?}"
    );
}

#[test]
fn begin_immediate_and_in_place_updates_lose_nothing() {
    let db = Lite::new();
    let immediate = catalogue::tally("lost update", "BEGIN IMMEDIATE", || {
        lite::lost_update(&db, Increment::Immediate)
    });
    show(&immediate);
    assert!(immediate.complete);
    assert_eq!(
        (immediate.anomalies, immediate.with_errors),
        (0, 0),
        "the second BEGIN IMMEDIATE waits"
    );
    let in_place = catalogue::tally("lost update", "SET v = v + 1", || {
        lite::lost_update(&db, Increment::InPlace)
    });
    show(&in_place);
    assert_eq!(
        (in_place.schedules, in_place.anomalies, in_place.with_errors),
        (2, 0, 0)
    );
}

#[test]
fn the_same_exploration_runs_the_same_schedules() {
    // Nothing blocks here, so the orders are the strategy's alone: byte for byte the same.
    let db = Lite::new();
    let digest = || {
        let report = lite::lost_update(&db, Increment::Autocommit)
            .turns_start_at_syncpoints()
            .explore();
        assert_eq!(report.schedules(), 6);
        report.digest()
    };
    assert_eq!(digest(), digest());
}
