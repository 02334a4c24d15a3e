//! SQLite: every statement a watched `rusqlite::Connection` runs is a syncpoint of the
//! orchestra task that runs it, with the statement's text (parameters filled in) as the
//! syncpoint's detail in the report.
//!
//! The hook is SQLite's statement trace (`sqlite3_trace_v2`, `SQLITE_TRACE_STMT`), which
//! fires on the thread that steps the statement, as it starts and before it takes any lock.
//! So the task waits for its turn before each statement, and one that then blocks (a
//! `BEGIN IMMEDIATE` waiting in the busy handler for another writer) is one the orchestra's
//! stall detection sets aside until it can go on.
//!
//! Invariants: a trigger's subprogram is part of its statement, not a turn of its own; the
//! hook takes the connection's single trace slot (a tracer set later replaces it).

use rusqlite::trace::{TraceEvent, TraceEventCodes};

/// Makes every statement `connection` runs a syncpoint of the orchestra task running it: no
/// other change to the code under test. Use one connection per task; outside any orchestra
/// the hook costs a thread-local check per statement.
///
/// `BEGIN` and `COMMIT` are statements like any other, so each is a turn of its own: commit
/// order decides most anomalies.
///
/// ```
/// use selvedge::orchestra::Orchestra;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("shop.db");
/// let setup = rusqlite::Connection::open(&path).unwrap();
/// setup.execute_batch("CREATE TABLE counter (v INTEGER); INSERT INTO counter VALUES (0)").unwrap();
/// let counts = Orchestra::new()
///     .task(move |_| {
///         let connection = rusqlite::Connection::open(&path).unwrap();
///         selvedge_sql::sqlite::watch(&connection);
///         connection.execute("UPDATE counter SET v = v + 1", []).unwrap(); // a turn
///     })
///     .run();
/// assert_eq!(counts, vec![2]); // before the statement, and after it
/// ```
pub fn watch(connection: &rusqlite::Connection) {
    connection.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(on_statement));
}

/// Removes the hook [`watch`] installed.
pub fn unwatch(connection: &rusqlite::Connection) {
    connection.trace_v2(TraceEventCodes::empty(), None);
}

fn on_statement(event: TraceEvent<'_>) {
    let TraceEvent::Stmt(statement, text) = event else {
        return;
    };
    // A trigger subprogram starting announces itself with an SQL comment.
    if text.starts_with("--") || !crate::turns::in_task() {
        return;
    }
    let expanded = statement.expanded_sql();
    crate::turns::statement_here(expanded.as_deref().unwrap_or(text).trim());
}
