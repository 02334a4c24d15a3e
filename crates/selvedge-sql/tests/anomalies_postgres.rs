//! The anomaly catalogue on a real PostgreSQL (a throwaway cluster started by the crate's test
//! support) through the proxy, with the synchronous client: each anomaly shows where the
//! isolation level allows it and not where the fix is in place, the orders that ran are the
//! ones the server's row locks allow, and failures carry the server's own errors.

mod catalogue;

use catalogue::postgres_sync::{self as pg, Increment, Pg};
use catalogue::Tally;

/// Orders in which two tasks' statements can be sent to the server when each task takes a row
/// lock at its statement `lock_at` and keeps it to its last statement (`COMMIT`): a task whose
/// lock statement finds the lock taken waits in the server, and takes no turn until the
/// holder's `COMMIT` lets it through. The count the server's blocking must reproduce.
fn feasible_orders(statements: usize, lock_at: usize) -> usize {
    let n = statements;
    // Each order is a choice of the positions of task 0's statements among 2n.
    (0u32..1 << (2 * n))
        .filter(|mask| mask.count_ones() as usize == n)
        .filter(|mask| {
            let (mut next, mut holds, mut waits) = ([0usize; 2], [false; 2], [false; 2]);
            for position in 0..2 * n {
                let task = if mask & (1 << position) != 0 { 0 } else { 1 };
                let other = 1 - task;
                if waits[task] {
                    return false;
                }
                if next[task] == lock_at {
                    if holds[other] {
                        waits[task] = true;
                    } else {
                        holds[task] = true;
                    }
                }
                if next[task] == n - 1 {
                    holds[task] = false;
                    if waits[other] {
                        (waits[other], holds[other]) = (false, true);
                    }
                }
                next[task] += 1;
            }
            true
        })
        .count()
}

fn show(row: &Tally) {
    eprintln!("{}\n{}", Tally::HEADER, row.row());
}

#[test]
fn lost_update_on_read_committed_and_only_the_orders_the_row_lock_allows() {
    let counter = Pg::new(pg::COUNTER);
    let row = catalogue::tally("lost update", "READ COMMITTED, read then write", || {
        pg::lost_update(&counter, "READ COMMITTED", Increment::ReadThenWrite)
    });
    show(&row);
    assert!(row.complete, "every turn order was explored");
    // Of the 70 orders of two tasks × (BEGIN, SELECT, UPDATE, COMMIT), the 20 where a task
    // goes on to its COMMIT while its UPDATE waits for the other's row lock cannot happen.
    assert_eq!(feasible_orders(4, 2), 50);
    assert_eq!(
        row.orders,
        Some(50),
        "the orders that ran are exactly the feasible ones"
    );
    // Only the 10 orders in which one task's SELECT comes after the other's COMMIT keep both
    // increments (its snapshot is taken there: at the extended protocol's Bind, which the
    // proxy holds until the turn, as it holds the Execute).
    assert_eq!(row.anomalies, 40);
    assert_eq!(
        row.with_errors, 0,
        "READ COMMITTED raises nothing: the update is silently lost"
    );
    let report = row.first_report.unwrap();
    assert!(
        report.contains("lost update: the counter is 1 after 2 committed increments"),
        "{report}"
    );
    assert!(
        report.contains("UPDATE counter SET v = 1 WHERE id = 1"),
        "{report}"
    );
}

#[test]
fn lost_update_fixes_show_no_anomaly() {
    let counter = Pg::new(pg::COUNTER);
    let in_place = catalogue::tally("lost update", "READ COMMITTED, SET v = v + 1", || {
        pg::lost_update(&counter, "READ COMMITTED", Increment::InPlace)
    });
    show(&in_place);
    assert_eq!((in_place.anomalies, in_place.with_errors), (0, 0));
    assert_eq!(in_place.orders, Some(feasible_orders(3, 1)));
    let for_update = catalogue::tally(
        "lost update",
        "READ COMMITTED, SELECT … FOR UPDATE",
        || pg::lost_update(&counter, "READ COMMITTED", Increment::ForUpdate),
    );
    show(&for_update);
    assert_eq!((for_update.anomalies, for_update.with_errors), (0, 0));
    assert_eq!(for_update.orders, Some(feasible_orders(4, 1)));
    let repeatable = catalogue::tally("lost update", "REPEATABLE READ, read then write", || {
        pg::lost_update(&counter, "REPEATABLE READ", Increment::ReadThenWrite)
    });
    show(&repeatable);
    assert_eq!(repeatable.anomalies, 0);
    assert!(
        repeatable.with_errors > 0,
        "the second writer gets a serialization failure instead"
    );
    assert!(
        repeatable
            .first_error
            .as_deref()
            .unwrap()
            .contains("ERROR 40001"),
        "{repeatable:?}"
    );
}

#[test]
fn write_skew_under_repeatable_read_is_prevented_by_serializable() {
    let doctors = Pg::new(pg::DOCTORS);
    let repeatable = catalogue::tally("write skew", "REPEATABLE READ", || {
        pg::write_skew(&doctors, "REPEATABLE READ")
    });
    show(&repeatable);
    assert!(repeatable.anomalies > 0);
    let report = repeatable.first_report.unwrap();
    assert!(report.contains("nobody is on call"), "{report}");
    let serializable = catalogue::tally("write skew", "SERIALIZABLE", || {
        pg::write_skew(&doctors, "SERIALIZABLE")
    });
    show(&serializable);
    assert_eq!(serializable.anomalies, 0);
    assert!(serializable.with_errors > 0);
    assert!(
        serializable
            .first_error
            .as_deref()
            .unwrap()
            .contains("ERROR 40001"),
        "{serializable:?}"
    );
}

#[test]
fn check_then_insert_duplicates_are_stopped_by_a_unique_constraint() {
    let users = Pg::new(pg::USERS);
    let loose = catalogue::tally("check-then-insert", "no constraint", || {
        pg::duplicates(&users)
    });
    show(&loose);
    assert!(loose.anomalies > 0);
    let unique_users = Pg::new(pg::USERS_UNIQUE);
    let unique = catalogue::tally("check-then-insert", "UNIQUE", || {
        pg::duplicates(&unique_users)
    });
    show(&unique);
    assert_eq!(unique.anomalies, 0);
    assert!(
        unique
            .first_error
            .as_deref()
            .unwrap()
            .contains("ERROR 23505"),
        "{unique:?}"
    );
}

#[test]
fn opposite_lock_orders_deadlock_and_the_server_error_is_in_the_report() {
    let accounts = Pg::new(pg::ACCOUNTS);
    let opposite = catalogue::tally("deadlock", "update_both(1, 2) vs (2, 1)", || {
        pg::deadlock(&accounts, false)
    });
    show(&opposite);
    assert!(opposite.anomalies > 0);
    let report = opposite.first_report.unwrap();
    assert!(
        report.contains("ERROR 40P01: deadlock detected"),
        "the proxy's note is in the interleaving: {report}"
    );
    let ordered = catalogue::tally("deadlock", "both in id order", || {
        pg::deadlock(&accounts, true)
    });
    show(&ordered);
    assert_eq!((ordered.anomalies, ordered.with_errors), (0, 0));
}
