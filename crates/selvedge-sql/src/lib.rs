//! Every SQL statement a syncpoint, with no change to the code under test: selvedge's
//! orchestra interleaves real connections to real databases statement by statement, and
//! finds lost updates, write skew, duplicate inserts and deadlocks.
//!
//! - [`sqlite::watch`] hooks a `rusqlite::Connection` (the bundled SQLite, nothing to
//!   install): each statement it runs waits for its task's turn.
//! - [`postgres::Proxy`] is a wire-protocol proxy on loopback: any client (tokio-postgres,
//!   sqlx, diesel, psql, a Python program) connects through it by changing its URL, and each
//!   statement waits for its task's turn. Server errors (`40001`, `40P01`) are noted in the
//!   report.
//! - [`postgres::TempCluster`] starts a throwaway PostgreSQL (`initdb` into a temporary
//!   directory, a free loopback port) and removes it afterwards, for tests.
//!
//! # What is a turn
//!
//! Each statement is one syncpoint, taken just before the statement reaches the database:
//! `BEGIN` and `COMMIT` included, since commit order decides most anomalies. A task's turn
//! runs from one statement to its next. A statement that blocks in the database (a row lock
//! held by another transaction, SQLite's busy handler waiting for a writer) does not reach
//! the next syncpoint: the orchestra's stall detection sets the task aside, gives the turn to
//! another, and takes the blocked task back once its statement returns. So the orders that
//! run are the ones the database allows, and a report shows the order that really ran
//! ([`postgres::Proxy::take_history`] lists it, with the statements that waited).
//!
//! Two orchestra settings suit SQL tests: `turns_start_at_syncpoints()`, so connecting is not
//! a turn and each statement is exactly one, and a `stall_timeout` well above a statement's
//! time but far below the 500 ms default, since every schedule in which a statement waits for
//! a lock pays it once (the catalogue uses 150 ms). The throwaway cluster finds deadlocks after
//! 50 ms, well within the orchestra's own deadlock timeout, so the server's `40P01` is what a
//! report shows.
//!
//! # The anomaly catalogue
//!
//! `cargo run --release -p selvedge-sql --example anomalies` explores lost updates, write
//! skew, check-then-insert duplicates and a deadlock on PostgreSQL and SQLite, at each
//! isolation level, with their fixes, and prints what it found.
//!
//! # Example
//!
//! Two tasks each read a counter and write back what they read plus one, on SQLite, without a
//! transaction. selvedge finds the order that loses an update:
//!
//! ```
//! use selvedge::orchestra::Orchestra;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("counter.db");
//! let increment = {
//!     let path = path.clone();
//!     move |_: &()| {
//!         let db = rusqlite::Connection::open(&path).unwrap();
//!         selvedge_sql::sqlite::watch(&db);
//!         let v: i64 = db.query_row("SELECT v FROM counter", [], |row| row.get(0)).unwrap();
//!         db.execute("UPDATE counter SET v = ?1", [v + 1]).unwrap();
//!     }
//! };
//! let setup_path = path.clone();
//! let report = Orchestra::new()
//!     .setup(move || {
//!         let db = rusqlite::Connection::open(&setup_path).unwrap();
//!         db.execute_batch("DROP TABLE IF EXISTS counter; CREATE TABLE counter (v INTEGER);
//!                           INSERT INTO counter VALUES (0)").unwrap();
//!     })
//!     .task(increment.clone())
//!     .task(increment)
//!     .check(move |_| {
//!         let db = rusqlite::Connection::open(&path).unwrap();
//!         let v: i64 = db.query_row("SELECT v FROM counter", [], |row| row.get(0)).unwrap();
//!         assert_eq!(v, 2, "an update was lost");
//!     })
//!     .explore();
//! let failure = report.failure().expect("the lost update is found");
//! assert!(failure.to_string().contains("UPDATE counter SET v = 1"), "{failure}");
//! ```

mod error;
mod history;
mod limits;
pub mod postgres;
pub mod sqlite;
mod turns;

pub use error::{Error, ErrorKind};
pub use history::{History, Ran};
