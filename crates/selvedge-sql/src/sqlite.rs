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
//! With a [`History`], the hook also records when each statement was sent and when it finished
//! (the statement's profile event), so the orders that really ran can be counted.
//!
//! Invariants: a trigger's subprogram is part of its statement, not a turn of its own; the
//! hook takes the connection's single trace slot (a tracer set later replaces it); the hook's
//! state lives in `HOOKS`, keyed by the connection's handle, until the connection closes or is
//! unwatched, so the C callback never sees freed state.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_uint, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use rusqlite::ffi;

use crate::history::History;

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
    install(
        connection,
        Hook {
            history: None,
            sent: Mutex::new(Vec::new()),
        },
    );
}

/// [`watch`], and records each statement of an orchestra task in `history`: the turn it was
/// sent in and whether it had to wait for a lock ([`Ran::blocked`](crate::Ran::blocked)).
/// Share one history between the connections of a schedule.
///
/// ```
/// use std::sync::Arc;
/// use selvedge::orchestra::Orchestra;
/// use selvedge_sql::History;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("counter.db");
/// rusqlite::Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
/// let history = Arc::new(History::default());
/// let recorded = history.clone();
/// Orchestra::new()
///     .task(move |_| {
///         let db = rusqlite::Connection::open(&path).unwrap();
///         selvedge_sql::sqlite::watch_recording(&db, &recorded);
///         db.execute("INSERT INTO t VALUES (1)", []).unwrap();
///     })
///     .run();
/// let ran = history.take();
/// assert_eq!(ran[0].statement(), "INSERT INTO t VALUES (1)");
/// assert!(!ran[0].blocked());
/// ```
pub fn watch_recording(connection: &rusqlite::Connection, history: &Arc<History>) {
    install(
        connection,
        Hook {
            history: Some(history.clone()),
            sent: Mutex::new(Vec::new()),
        },
    );
}

/// Removes the hook [`watch`] or [`watch_recording`] installed.
pub fn unwatch(connection: &rusqlite::Connection) {
    // SAFETY: the handle is the live connection's; clearing the callback before dropping its
    // state means the callback never sees freed state.
    unsafe {
        let db = connection.handle();
        ffi::sqlite3_trace_v2(db, 0, None, std::ptr::null_mut());
        lock_hooks().remove(&(db as usize));
    }
}

/// What the callback of one watched connection needs.
struct Hook {
    history: Option<Arc<History>>,
    /// Statements sent and not yet finished: the statement's handle and its turn number.
    sent: Mutex<Vec<(usize, u64)>>,
}

/// Each watched connection's hook, by its `sqlite3` handle; boxed so its address is stable.
static HOOKS: Mutex<BTreeMap<usize, Box<Hook>>> = Mutex::new(BTreeMap::new());

fn lock_hooks() -> std::sync::MutexGuard<'static, BTreeMap<usize, Box<Hook>>> {
    HOOKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn install(connection: &rusqlite::Connection, hook: Hook) {
    let hook = Box::new(hook);
    let context = &*hook as *const Hook as *mut c_void;
    let mask = ffi::SQLITE_TRACE_STMT | ffi::SQLITE_TRACE_PROFILE | ffi::SQLITE_TRACE_CLOSE;
    // SAFETY: the handle is the live connection's. The new hook is in `HOOKS` before the
    // callback can see it, and the one it replaces is dropped only after the callback points
    // at the new one; the connection's statements run on the caller's thread, not during this.
    unsafe {
        let db = connection.handle();
        let mut hooks = lock_hooks();
        let previous = hooks.insert(db as usize, hook);
        ffi::sqlite3_trace_v2(db, mask, Some(on_trace), context);
        drop(hooks);
        drop(previous);
    }
}

/// SQLite's trace callback. Never unwinds into C: a panic (an orchestra task abandoned at its
/// syncpoint) is caught here, and the statement goes on.
unsafe extern "C" fn on_trace(
    event: c_uint,
    context: *mut c_void,
    p: *mut c_void,
    x: *mut c_void,
) -> c_int {
    let _ = catch_unwind(AssertUnwindSafe(|| match event {
        ffi::SQLITE_TRACE_STMT => {
            // SAFETY: for a statement event SQLite passes the hook's context, the statement and
            // its text, all live for the call.
            let hook = unsafe { &*(context as *const Hook) };
            let text = unsafe { CStr::from_ptr(x as *const std::ffi::c_char) }.to_string_lossy();
            // A trigger subprogram starting announces itself with an SQL comment.
            if text.starts_with("--") || !crate::turns::in_task() {
                return;
            }
            let statement = unsafe { expanded_sql(p as *mut ffi::sqlite3_stmt) }
                .unwrap_or_else(|| text.into_owned());
            let statement = statement.trim();
            crate::turns::statement_here(statement);
            if let (Some(history), Some((task, _))) = (&hook.history, crate::turns::current_task())
            {
                let granted = history.sent(task, statement);
                hook.sent
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((p as usize, granted));
            }
        }
        ffi::SQLITE_TRACE_PROFILE => {
            // SAFETY: as above; the statement finished.
            let hook = unsafe { &*(context as *const Hook) };
            if let Some(history) = &hook.history {
                let mut sent = hook.sent.lock().unwrap_or_else(|p| p.into_inner());
                let finished: Vec<u64> = sent
                    .iter()
                    .filter(|(stmt, _)| *stmt == p as usize)
                    .map(|(_, granted)| *granted)
                    .collect();
                sent.retain(|(stmt, _)| *stmt != p as usize);
                drop(sent);
                history.answered(&finished);
            }
        }
        ffi::SQLITE_TRACE_CLOSE => {
            // The connection is closing: its hook is no longer needed (and not touched after).
            lock_hooks().remove(&(p as usize));
        }
        _ => {}
    }));
    0
}

/// The statement's text with its parameters filled in, if SQLite can say.
///
/// # Safety
/// `statement` must be a live prepared statement.
unsafe fn expanded_sql(statement: *mut ffi::sqlite3_stmt) -> Option<String> {
    // SAFETY: per the contract; the returned buffer is ours to free.
    unsafe {
        let expanded = ffi::sqlite3_expanded_sql(statement);
        if expanded.is_null() {
            return None;
        }
        let text = CStr::from_ptr(expanded).to_string_lossy().into_owned();
        ffi::sqlite3_free(expanded as *mut c_void);
        Some(text)
    }
}
